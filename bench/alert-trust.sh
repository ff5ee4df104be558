#!/usr/bin/env bash
# bench/alert-trust.sh: can a user trust the alerts of `make run`? Precision and recall of the
# alerts a user receives, live and in a backfill of the same log.
#
#   bench/alert-trust.sh                      # RUN_SECONDS=60 live, then the backfill
#   RUN_SECONDS=40 bench/alert-trust.sh -v    # -v (or VERBOSE=1): missed incidents, false alerts
#   bench/alert-trust.sh --help
#
# 1. Training, as scripts/run-demo.sh does: HISTORY_LINES (700000) lines of normal demo history
#    (--anomalies off --seed 4242) ending at the start time, `logwarden train` into a fresh data
#    directory, which is then copied twice so that both runs start from the same trained store.
# 2. Live: `logwarden demo --rate DEMO_RATE (2000) --seed SEED (1) --start NOW --truth` writes
#    RUN_SECONDS x DEMO_RATE lines into a file that `logwarden run --tail` follows, as in
#    `make run`, with `--alert-file`. When the generator is done, the script waits until the
#    daemon has read every line, SETTLE_SECONDS (5) more, reads /metrics and stops it (SIGTERM).
# 3. Backfill: the SAME complete demo file into the second copy of the trained store at full
#    speed: `run --stdin` (BACKFILL_INPUT=stdin, default) or `run --tail` of the complete file
#    (BACKFILL_INPUT=tail); again waits for every line, SETTLE_SECONDS, /metrics, SIGTERM.
# 4. Both alert files are scored by bench/tools/alert-score.py against the demo's truth (the live
#    one also with the generator's start time and rate, see there), and the two final lines
#        run=live alert_precision=X incident_recall=Y alerts=N
#        run=backfill alert_precision=X incident_recall=Y alerts=N
#    are printed last.
#
# Each daemon runs without a syslog listener (--no-syslog) and with HTTP on a free loopback port
# (for /metrics), in its own data directory under ${BENCH_DIR:-/tmp/lw-bench}/alert-trust.XXXXXX,
# so the script runs beside other daemons. KEEP=1 keeps that directory (logs, alerts, truth).
# LW_BIN selects the binary (default build/logwarden).
#
# Note on time: the demo writes ~180 lines per simulated second, so at 2000 lines/s its event
# time runs about 11x faster than the wall clock, ahead of it. The script prints the span.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}
VERBOSE=${VERBOSE:-}
for a in "$@"; do
    case $a in
    -h | --help) usage; exit 0 ;;
    -v | --verbose) VERBOSE=1 ;;
    *) echo "alert-trust.sh: unknown argument '$a' (see --help)" >&2; exit 2 ;;
    esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LW=${LW_BIN:-$ROOT/build/logwarden}
SCORE=$ROOT/bench/tools/alert-score.py
SECS=${RUN_SECONDS:-60}
RATE=${DEMO_RATE:-2000}
SEED=${SEED:-1}
HISTORY_LINES=${HISTORY_LINES:-700000}
SETTLE=${SETTLE_SECONDS:-5}
BACKFILL_INPUT=${BACKFILL_INPUT:-stdin}
BENCH_DIR=${BENCH_DIR:-/tmp/lw-bench}

die() {
    echo "alert-trust.sh: $*" >&2
    exit 1
}
[ -x "$LW" ] || die "no executable $LW (make build, or set LW_BIN)"
[ "$SECS" -gt 0 ] 2>/dev/null || die "RUN_SECONDS must be a positive number of seconds"
case $BACKFILL_INPUT in stdin | tail) ;; *) die "BACKFILL_INPUT is stdin or tail" ;; esac
mkdir -p "$BENCH_DIR"
W=$(mktemp -d "$BENCH_DIR/alert-trust.XXXXXX")
GEN_PID=
LW_PID=

cleanup() {
    [ -n "$GEN_PID" ] && kill "$GEN_PID" 2>/dev/null || true
    if [ -n "$LW_PID" ] && kill -0 "$LW_PID" 2>/dev/null; then
        kill -TERM "$LW_PID" 2>/dev/null || true
        wait "$LW_PID" 2>/dev/null || true
    fi
    if [ -z "${KEEP:-}" ]; then
        rm -rf "$W"
    else
        echo "kept $W"
    fi
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# metric PORT NAME: the value of an unlabelled metric (empty when the daemon does not answer).
metric() {
    python3 - "$1" "$2" <<'PY' 2>/dev/null || true
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
for line in body.splitlines():
    f = line.split()
    if len(f) == 2 and f[0] == sys.argv[2]:
        print(f[1])
PY
}

# wait_lines PORT N TIMEOUT: waits until logwarden_lines_in_total reaches N.
wait_lines() {
    local port=$1 want=$2 timeout=$3 i v
    for i in $(seq $((timeout * 2))); do
        v=$(metric "$port" logwarden_lines_in_total)
        [ -n "$v" ] && [ "$v" -ge "$want" ] && return 0
        kill -0 "$LW_PID" 2>/dev/null || die "daemon exited; log: $(tail -3 "$W/$RUN.log")"
        sleep 0.5
    done
    die "$RUN: the daemon read ${v:-?} of $want lines within ${timeout}s"
}

# wait_http PORT: up to 10 s for the daemon's HTTP server.
wait_http() {
    local i
    for i in $(seq 100); do
        [ -n "$(metric "$1" logwarden_lines_in_total)" ] && return 0
        kill -0 "$LW_PID" 2>/dev/null || die "daemon exited; log: $(tail -3 "$W/$RUN.log")"
        sleep 0.1
    done
    die "the daemon does not answer on port $1"
}

# finish PORT: settles, prints the daemon's counters, stops it and checks it exits 0.
finish() {
    local port=$1 m rc=0
    sleep "$SETTLE"
    printf '%s daemon:' "$RUN"
    for m in lines_in_total late_lines_total backpressure_total anomalies_total alerts_total \
        alerts_suppressed_total alerts_limited_total; do
        printf ' %s %s' "$m" "$(metric "$port" "logwarden_$m")"
    done
    echo
    kill -TERM "$LW_PID"
    wait "$LW_PID" || rc=$?
    LW_PID=
    [ "$rc" = 0 ] || die "$RUN: daemon exited $rc; log: $(tail -5 "$W/$RUN.log")"
}

N=$((SECS * RATE))
NOW=$(date +%s)
echo "alert-trust: training on $HISTORY_LINES lines of normal demo history (seed 4242)..."
"$LW" demo --lines "$HISTORY_LINES" --anomalies off --seed 4242 --start $((NOW - 3600)) \
    --out "$W/history.log"
"$LW" train --from "$W/history.log" -d "$W/trained" >"$W/train.log" 2>&1 ||
    die "train failed: $(tail -3 "$W/train.log")"
rm -f "$W/history.log"
cp -a "$W/trained" "$W/live-data"
cp -a "$W/trained" "$W/backfill-data"
mkdir -p "$W/live"

RUN=live
PORT=$(free_port)
echo "alert-trust: live: demo --rate $RATE --seed $SEED for ${SECS}s ($N lines), tailed by run" \
    "(HTTP 127.0.0.1:$PORT)"
T0=$(date +%s.%N)
"$LW" demo --rate "$RATE" --lines "$N" --seed "$SEED" --start "$NOW" --out "$W/live/demo.log" \
    --truth "$W/truth.tsv" &
GEN_PID=$!
"$LW" run --tail "$W/live/*.log" --no-syslog --http "127.0.0.1:$PORT" -d "$W/live-data" \
    --alert-file "$W/live.alerts.jsonl" >"$W/live.stdout" 2>"$W/live.log" &
LW_PID=$!
wait_http "$PORT"
t=0
while kill -0 "$GEN_PID" 2>/dev/null; do
    sleep 1
    t=$((t + 1))
    if [ $((t % 10)) = 0 ]; then
        echo "  [${t}s] lines read $(metric "$PORT" logwarden_lines_in_total)," \
            "alerts $(metric "$PORT" logwarden_alerts_total)"
    fi
done
wait "$GEN_PID" || die "the demo generator failed"
GEN_PID=
wait_lines "$PORT" "$N" 120
finish "$PORT"

RUN=backfill
PORT=$(free_port)
echo "alert-trust: backfill: the same $N lines at full speed through run --$BACKFILL_INPUT" \
    "(HTTP 127.0.0.1:$PORT)"
if [ "$BACKFILL_INPUT" = stdin ]; then
    # With HTTP on, the daemon keeps running at the end of stdin, so /metrics can be read.
    "$LW" run --stdin --no-syslog --http "127.0.0.1:$PORT" -d "$W/backfill-data" \
        --alert-file "$W/backfill.alerts.jsonl" <"$W/live/demo.log" >"$W/backfill.stdout" \
        2>"$W/backfill.log" &
else
    mkdir -p "$W/backfill"
    cp "$W/live/demo.log" "$W/backfill/demo.log"
    "$LW" run --tail "$W/backfill/demo.log" --no-syslog --http "127.0.0.1:$PORT" \
        -d "$W/backfill-data" --alert-file "$W/backfill.alerts.jsonl" >"$W/backfill.stdout" \
        2>"$W/backfill.log" &
fi
LW_PID=$!
wait_http "$PORT"
wait_lines "$PORT" "$N" 300
finish "$PORT"

touch "$W/live.alerts.jsonl" "$W/backfill.alerts.jsonl"
V=()
[ -n "$VERBOSE" ] && V=(-v)
SPAN=$(python3 "$SCORE" --json --alerts "$W/live.alerts.jsonl" --truth "$W/truth.tsv" \
    --log "$W/live/demo.log" | python3 -c 'import json,sys; print("%.0f" % json.load(sys.stdin)["log_span_s"])')
echo
echo "== live (run --tail, demo at $RATE lines/s for ${SECS}s) =="
python3 "$SCORE" "${V[@]}" --label live --alerts "$W/live.alerts.jsonl" --truth "$W/truth.tsv" \
    --log "$W/live/demo.log" --live-start "$T0" --rate "$RATE" | tee "$W/live.score"
echo
echo "== backfill (the same file through run --$BACKFILL_INPUT, full speed) =="
python3 "$SCORE" "${V[@]}" --label backfill --alerts "$W/backfill.alerts.jsonl" \
    --truth "$W/truth.tsv" --log "$W/live/demo.log" | tee "$W/backfill.score"
echo
echo "The demo log's event times span ${SPAN}s for ${SECS}s of wall clock, starting at the live" \
    "run's start."
echo "== alert trust: precision = true alerts / alerts, recall = incidents alerted / injected =="
tail -1 "$W/live.score"
tail -1 "$W/backfill.score"
