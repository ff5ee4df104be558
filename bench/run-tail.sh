#!/usr/bin/env bash
# run-tail.sh: throughput of `logwarden run --tail FILE` into the store: the daemon starts on a
# complete file of LINES generated lines (the seven Loghub-2k systems mixed) and the time is taken
# from its start until stored_lines reaches LINES. Prints lines/s and peak RSS, and checks that
# the daemon exits 0 on SIGTERM and stored exactly LINES lines.
#
#   bench/run-tail.sh                  # 10M lines (file cached under /tmp/lw-bench)
#   LINES=500000 bench/run-tail.sh     # quick run
#
# Environment: LINES (default 10000000), WORKERS (-j, default: the daemon's), BENCH_DIR, LW_BIN,
# KEEP=1 (keep the data directory). Target (issue 3): >= 1,000,000 lines/s.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

LINES=${LINES:-10000000}
INPUT=$(gen_input "$LINES")
extra=()
[ -n "${WORKERS:-}" ] && extra+=(-j "$WORKERS")

echo "input: $INPUT ($LINES lines, $(($(stat -c %s "$INPUT") / 1000000)) MB); $(nproc) CPUs"
t0=$(now)
start_daemon --tail "$INPUT" --no-syslog --no-http "${extra[@]}"
t1=$(wait_stored "$LINES")
stop_daemon
check_stored "$LINES"
echo "tail: $LINES lines in $(secs "$t0" "$t1") s = $(rate "$LINES" "$t0" "$t1") lines/s (target 1000000)"
