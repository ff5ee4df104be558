#!/usr/bin/env bash
# The Kafka input against a real broker: N lines produced to a 4-partition topic are all stored,
# the consumer group's committed offsets equal the end offsets once the daemon stopped, and the
# lines of a restart (under backpressure) are neither lost nor counted again.
LW=${1:?usage: test_kafka_consume.sh /path/to/logwarden}
N=${N:-100000}
. "$(dirname "$0")/tools/kafka_lib.sh"

kafka_topic logs 4
gen_lines "$N" "$T/lines.txt"
produce logs "$T/lines.txt"

start_daemon "$T/data" "$T/daemon.log" --kafka "$KAFKA_BOOTSTRAP/logs" --kafka-group g1
wait_stored "$T/data" "$N" 90
kill -TERM "$DPID"
wait "$DPID" || fail "the daemon did not stop cleanly"
got=$(stored "$T/data")
[ "$got" -eq "$N" ] || fail "stored $got lines, want $N"
check_committed g1 logs
grep -q 'assigned logs/' "$T/daemon.log" || fail "no assignment logged"

# A restart reads nothing again: the store's checkpoints and the group agree. This run has a
# tiny memory limit, so the pipeline refuses groups and the input must pause and offer them again
# (backpressure) without losing or repeating any.
gen_lines 20000 "$T/more.txt"
produce logs "$T/more.txt"
HP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$LW" run --data-dir "$T/data" --no-syslog --no-detect --http "127.0.0.1:$HP" \
  --memory-limit 64KiB --kafka "$KAFKA_BOOTSTRAP/logs" --kafka-group g1 >>"$T/daemon.log" 2>&1 &
DPID=$!
PIDS+=("$DPID")
wait_stored "$T/data" $((N + 20000)) 90
metrics=$(curl -sf "http://127.0.0.1:$HP/metrics") || fail "no /metrics"
pauses=$(awk '$1 == "logwarden_kafka_pauses_total" { print $2 }' <<<"$metrics")
echo "backpressure: the partitions were paused $pauses time(s)"
[ "${pauses:-0}" -gt 0 ] || fail "the input never paused under a 64KiB memory limit"
grep -q '^logwarden_kafka_commits_total [1-9]' <<<"$metrics" || fail "no commits in /metrics"
kill -TERM "$DPID"
wait "$DPID" || fail "the daemon did not stop cleanly (2)"
got=$(stored "$T/data")
[ "$got" -eq $((N + 20000)) ] || fail "after a restart stored $got lines, want $((N + 20000))"
check_committed g1 logs
echo "PASS: $N + 20000 lines from 4 partitions stored exactly once; offsets committed"
