#!/usr/bin/env bash
# run-http-mixed.sh: throughput of HTTP NDJSON ingest when the lines of one request name many
# hosts, interleaved line by line ({"host":"host-K","message":LINE} with K = line % HOSTS), so that
# no two neighbouring lines share a host. Such a body is one batch per part for the pipeline, each
# line counted under its own host. Same method as run-http.sh: bench/tools/http_post.py posts
# BODY_LINES-line bodies over CONNS keep-alive connections (a 503 waits Retry-After and resends the
# rest); the time runs from the first request until stored_lines reaches LINES. While the bodies go
# in, /metrics is fetched every 0.5 s and its slowest answer is printed (it must keep answering).
# Checks the exit status, the stored count and the number of sources counted.
#
#   bench/run-http-mixed.sh                  # 5M lines, 50 hosts, 5000-line bodies, 2 connections
#   LINES=500000 HOSTS=200 bench/run-http-mixed.sh
#
# Environment: LINES (default 5000000), HOSTS (50), BODY_LINES (5000), CONNS (2), WORKERS (-j),
# BENCH_DIR, LW_BIN, KEEP=1. Target (issue 9, case 7): >= 400,000 lines/s.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LINES=${LINES:-5000000}
HOSTS=${HOSTS:-50}
BODY_LINES=${BODY_LINES:-5000}
CONNS=${CONNS:-2}
INPUT=$(gen_input "$LINES")
extra=()
[ -n "${WORKERS:-}" ] && extra+=(-j "$WORKERS")
post=(python3 "$TOOLS/http_post.py")

echo "input: $INPUT ($LINES lines, $HOSTS hosts in turn); $(nproc) CPUs"
"${post[@]}" prepare --body-lines "$BODY_LINES" --hosts "$HOSTS" "$INPUT" >/dev/null

port=$(free_port)
start_daemon --http "127.0.0.1:$port" --no-syslog "${extra[@]}"
wait_http "$port"
base=$(stored_lines)

# /metrics while the bodies go in: the slowest answer (curl's time_total), or "failed".
probe_out=$(mktemp "$BENCH_DIR/metrics-probe.XXXXXX")
(
    worst=0
    while :; do
        t=$(curl -s -o /dev/null -m 10 -w '%{time_total}' "http://127.0.0.1:$port/metrics") || t=failed
        if [ "$t" = failed ]; then
            echo failed > "$probe_out"
            exit 0
        fi
        worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
        echo "$worst" > "$probe_out"
        sleep 0.5
    done
) &
probe_pid=$!

t0=$(now)
sent=$("${post[@]}" post --port "$port" --conns "$CONNS" --body-lines "$BODY_LINES" \
       --hosts "$HOSTS" "$INPUT")
t_sent=$(now)
echo "poster: $sent"
n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lines"])' "$sent")
[ "$n" = "$LINES" ] || die "poster reports $n lines accepted, expected $LINES"
t1=$(wait_stored $((base + LINES)))
kill "$probe_pid" 2>/dev/null || true
wait "$probe_pid" 2>/dev/null || true
echo "/metrics while ingesting: slowest answer $(cat "$probe_out") s"
rm -f "$probe_out"
stop_daemon
check_stored $((base + LINES))
srcs=$(sqlite3 "file:$LW_DIR/logwarden.db?mode=ro" \
       "select count(distinct source) from window_source_counts" 2>/dev/null || echo "?")
echo "sources counted: $srcs (want $HOSTS)"
echo "http ndjson, $HOSTS hosts interleaved: $LINES lines in ${BODY_LINES}-line bodies over $CONNS" \
    "connections; all accepted after $(secs "$t0" "$t_sent") s; stored after $(secs "$t0" "$t1") s" \
    "= $(rate "$LINES" "$t0" "$t1") lines/s (target 400000)"
