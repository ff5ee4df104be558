#!/usr/bin/env bash
# run-http.sh: throughput of HTTP NDJSON ingest (POST /api/v1/ingest) into the store. The LINES-line
# file is converted once to NDJSON ({"message": LINE}, cached next to it) and posted by
# bench/tools/http_post.py in bodies of BODY_LINES lines over CONNS keep-alive connections; a 503
# is answered by waiting Retry-After and resending the lines after the accepted ones. The time is
# taken from the first request until stored_lines reaches LINES. The poster alone (into a sink
# that answers 202) is measured first. Prints lines/s, 503 count, peak RSS; checks the exit status
# and the stored count.
#
#   bench/run-http.sh                  # 10M lines, 5000-line bodies, 2 connections
#   LINES=500000 bench/run-http.sh
#
# Environment: LINES (default 10000000), BODY_LINES (5000), CONNS (2), WORKERS (-j), BENCH_DIR,
# LW_BIN, KEEP=1. Target (issue 3): >= 300,000 lines/s.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LINES=${LINES:-10000000}
BODY_LINES=${BODY_LINES:-5000}
CONNS=${CONNS:-2}
INPUT=$(gen_input "$LINES")
extra=()
[ -n "${WORKERS:-}" ] && extra+=(-j "$WORKERS")
post=(python3 "$TOOLS/http_post.py")

echo "input: $INPUT ($LINES lines); $(nproc) CPUs"
"${post[@]}" prepare --body-lines "$BODY_LINES" "$INPUT" >/dev/null

sport=$(free_port)
"${post[@]}" sink --port "$sport" &
sink_pid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$sport") 2>/dev/null && break; sleep 0.1; done
echo "poster alone (to a sink): $("${post[@]}" post --port "$sport" --conns "$CONNS" --body-lines "$BODY_LINES" "$INPUT")"
kill "$sink_pid"
wait "$sink_pid" 2>/dev/null || true

port=$(free_port)
start_daemon --http "127.0.0.1:$port" --no-syslog "${extra[@]}"
wait_http "$port"
base=$(stored_lines)
t0=$(now)
sent=$("${post[@]}" post --port "$port" --conns "$CONNS" --body-lines "$BODY_LINES" "$INPUT")
t_sent=$(now)
echo "poster: $sent"
n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lines"])' "$sent")
[ "$n" = "$LINES" ] || die "poster reports $n lines accepted, expected $LINES"
t1=$(wait_stored $((base + LINES)))
m503=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '$1 == "logwarden_http_503_total" { print $2 }')
echo "/metrics logwarden_http_503_total ${m503:-absent}"
stop_daemon
check_stored $((base + LINES))
echo "http ndjson: $LINES lines in ${BODY_LINES}-line bodies over $CONNS connections; all accepted" \
    "after $(secs "$t0" "$t_sent") s; stored after $(secs "$t0" "$t1") s =" \
    "$(rate "$LINES" "$t0" "$t1") lines/s (target 300000)"
