#!/usr/bin/env bash
# run-syslog.sh: throughput of syslog over TCP (newline-framed) into the store. The daemon is
# started and ready first; then bench/tools/tcp_send.py sends the LINES-line file split over CONNS
# connections, and the time is taken from the first byte sent until stored_lines reaches LINES.
# The sender alone (into a discarding sink) is measured first, to show it is not the limit.
# Prints lines/s and peak RSS, and checks the exit status and the stored count.
#
#   bench/run-syslog.sh                # 10M lines, 4 connections
#   LINES=500000 CONNS=2 bench/run-syslog.sh
#
# Environment: LINES (default 10000000), CONNS (default 4), WORKERS (-j), BENCH_DIR, LW_BIN, KEEP=1.
# Target (issue 3): >= 500,000 lines/s.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LINES=${LINES:-10000000}
CONNS=${CONNS:-4}
INPUT=$(gen_input "$LINES")
extra=()
[ -n "${WORKERS:-}" ] && extra+=(-j "$WORKERS")

echo "input: $INPUT ($LINES lines, $(($(stat -c %s "$INPUT") / 1000000)) MB); $(nproc) CPUs"

# The generator alone, into a sink that discards.
sport=$(free_port)
python3 "$TOOLS/tcp_send.py" sink --port "$sport" &
sink_pid=$!
wait_tcp_plain() { for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_tcp_plain "$sport" || die "sink did not start"
echo "sender alone (to a sink): $(python3 "$TOOLS/tcp_send.py" send --port "$sport" --conns "$CONNS" "$INPUT")"
kill "$sink_pid"
wait "$sink_pid" 2>/dev/null || true

port=$(free_port)
start_daemon --syslog "127.0.0.1:$port" --no-http "${extra[@]}"
wait_tcp "$port"
sleep 0.5
base=$(stored_lines)
t0=$(now)
sent=$(python3 "$TOOLS/tcp_send.py" send --port "$port" --conns "$CONNS" "$INPUT")
t_sent=$(now)
echo "sender: $sent"
n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["lines"])' "$sent")
[ "$n" = "$LINES" ] || die "sender reports $n lines, expected $LINES"
t1=$(wait_stored $((base + LINES)))
stop_daemon
check_stored $((base + LINES))
echo "syslog tcp: $LINES lines over $CONNS connections; all written after $(secs "$t0" "$t_sent") s;" \
    "stored after $(secs "$t0" "$t1") s = $(rate "$LINES" "$t0" "$t1") lines/s (target 500000)"
