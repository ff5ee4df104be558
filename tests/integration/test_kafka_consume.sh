#!/usr/bin/env bash
# The Kafka input against a real broker: N lines produced to a 4-partition topic are all stored,
# the consumer group's committed offsets equal the end offsets once the daemon stopped, and the
# lines of a restart are not counted again.
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

# A restart reads nothing again: the store's checkpoints and the group agree.
gen_lines 1000 "$T/more.txt"
produce logs "$T/more.txt"
start_daemon "$T/data" "$T/daemon.log" --kafka "$KAFKA_BOOTSTRAP/logs" --kafka-group g1
wait_stored "$T/data" $((N + 1000)) 60
kill -TERM "$DPID"
wait "$DPID" || fail "the daemon did not stop cleanly (2)"
got=$(stored "$T/data")
[ "$got" -eq $((N + 1000)) ] || fail "after a restart stored $got lines, want $((N + 1000))"
check_committed g1 logs
echo "PASS: $N + 1000 lines from 4 partitions stored exactly once; offsets committed"
