#!/usr/bin/env bash
# run-clickhouse.sh: lines/s into ClickHouse. A private clickhouse-server (Debian's 18.16,
# tests/integration/tools/clickhouse.sh: its own config and data under BENCH_DIR, 127.0.0.1, free
# ports) is started; the Release daemon reads LINES generated lines (loggen.py over the seven
# Loghub-2k samples) from stdin with store.backend clickhouse and stops at the end of its input.
# The figure is LINES / wall time of the whole run (start, ingest, last commit, exit), after
# checking that ClickHouse's sum of counts equals LINES. The same input into SQLite is timed
# next for comparison. Detection is off unless DETECT=1 (this measures the store path).
#
#   make build && bench/run-clickhouse.sh
#   LINES=2000000 DETECT=1 bench/run-clickhouse.sh
#
# Environment: LINES (1000000), DETECT (0), RUNS (3, the best is reported), FLUSH (200ms,
# pipeline.flush_interval), BENCH_DIR, LW_BIN, KEEP=1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/integration/tools/clickhouse.sh"

LINES=${LINES:-1000000}
DETECT=${DETECT:-0}
RUNS=${RUNS:-3}
FLUSH=${FLUSH:-200ms}
ch_available || die "clickhouse-server is not installed (scripts/install-deps.sh installs it)"
input=$(gen_input "$LINES")
CHD=$(mktemp -d "$BENCH_DIR/$BENCH_NAME-ch.XXXXXX")
cleanup() {
    ch_stop
    [ -n "${KEEP:-}" ] || rm -rf "$CHD" "$BENCH_DIR/$BENCH_NAME"-run.*
}
trap cleanup EXIT
ch_start "$CHD" || die "clickhouse-server did not start"
detect=--no-detect
[ "$DETECT" = 1 ] && detect=

run_once() {  # run_once BACKEND N -> prints seconds
    local backend=$1 n=$2 dir conf t0 t1
    dir=$(mktemp -d "$BENCH_DIR/$BENCH_NAME-run.XXXXXX")
    conf=$dir.yaml
    if [ "$backend" = clickhouse ]; then
        printf 'store:\n  backend: clickhouse\n  clickhouse:\n    url: %s\n    database: bench%s\npipeline:\n  flush_interval: %s\n' \
            "$CH_URL" "$n" "$FLUSH" >"$conf"
    else
        printf 'pipeline:\n  flush_interval: %s\n' "$FLUSH" >"$conf"
    fi
    t0=$(now)
    "$LW_BIN" run -c "$conf" --data-dir "$dir/data" --stdin --no-syslog --no-http $detect \
        --log-level warn <"$input" 2>"$dir.log" || die "the daemon failed ($backend): $(tail -3 "$dir.log")"
    t1=$(now)
    if [ "$backend" = clickhouse ]; then
        got=$(ch_query "SELECT sum(count) FROM bench$n.window_counts_v")
    else
        got=$(sqlite3 "$dir/data/logwarden.db" "SELECT sum(count) FROM window_counts")
    fi
    [ "$got" = "$LINES" ] || die "$backend run $n stored $got lines, want $LINES"
    python3 -c "print(f'{$t1 - $t0:.3f}')"
}

echo "clickhouse-server $(ch_query 'SELECT version()'), $LINES lines from $(basename "$input"), detection $([ "$DETECT" = 1 ] && echo on || echo off), $(nproc) CPUs"
for backend in clickhouse sqlite; do
    best=
    for i in $(seq 1 "$RUNS"); do
        s=$(run_once "$backend" "$i")
        rate=$(python3 -c "print(round($LINES / $s))")
        echo "  $backend run $i: $s s, $rate lines/s"
        if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $s < $best else 1)"; then
            best=$s
        fi
    done
    echo "$backend: best $best s for $LINES lines = $(python3 -c "print(round($LINES / $best))") lines/s"
done
