#!/usr/bin/env bash
# run-kafka.sh: throughput of `logwarden run --kafka` into the SQLite store. A real single-node
# Kafka broker (tests/integration/tools/kafka.sh) gets LINES generated lines (the seven Loghub-2k
# systems mixed) on a 4-partition topic first; then the daemon starts and the time is taken from
# its start until stored_lines reaches LINES (the group join is included and printed apart).
# Prints lines/s and peak RSS, and checks that the daemon exits 0 on SIGTERM and stored exactly
# LINES lines.
#
#   bench/run-kafka.sh                  # 1M lines
#   LINES=200000 bench/run-kafka.sh     # quick run
#
# Environment: LINES (default 1000000), PARTITIONS (default 4), WORKERS (-j), ARGS (more flags,
# e.g. ARGS=--no-detect), BENCH_DIR, LW_BIN, KEEP=1. Alerts go to $BENCH_DIR/run-kafka.alerts. Do not run it while the test suite runs: the broker, the producer and the daemon share
# the machine.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/integration/tools/kafka.sh"

LINES=${LINES:-1000000}
PARTITIONS=${PARTITIONS:-4}
INPUT=$(gen_input "$LINES")
extra=()
[ -n "${WORKERS:-}" ] && extra+=(-j "$WORKERS")
# shellcheck disable=SC2206
[ -n "${ARGS:-}" ] && extra+=($ARGS)
extra+=(--alert-file "$BENCH_DIR/run-kafka.alerts")
KDIR=$(mktemp -d "$BENCH_DIR/kafka.XXXXXX")
bench_cleanup() {
    cleanup_daemon
    kafka_stop
    rm -rf "$KDIR"
}
rc=0
kafka_start "$KDIR" || rc=$?
[ "$rc" -eq 0 ] || die "no Kafka broker (exit $rc)"
trap bench_cleanup EXIT
kafka_topic logs "$PARTITIONS"
p0=$(now)
kcat -P -b "$KAFKA_BOOTSTRAP" -t logs -l "$INPUT"
p1=$(now)
echo "input: $INPUT ($LINES lines, $(($(stat -c %s "$INPUT") / 1000000)) MB) produced to" \
     "$PARTITIONS partitions in $(secs "$p0" "$p1") s by kcat; $(nproc) CPUs"

t0=$(now)
start_daemon --kafka "$KAFKA_BOOTSTRAP/logs" --kafka-group bench --no-syslog --no-http "${extra[@]}"
trap bench_cleanup EXIT
while ! grep -q 'assigned logs/' "$LW_DIR.log" 2>/dev/null; do sleep 0.05; done
tj=$(now)
t1=$(wait_stored "$LINES" 600 0.2)
stop_daemon
check_stored "$LINES"
echo "kafka: group joined after $(secs "$t0" "$tj") s; $LINES lines in $(secs "$t0" "$t1") s =" \
     "$(rate "$LINES" "$t0" "$t1") lines/s from the daemon's start," \
     "$(rate "$LINES" "$tj" "$t1") lines/s after the join"
