#!/usr/bin/env bash
# No loss and no double count across SIGKILL: the daemon consumes a 4-partition topic, is killed
# with SIGKILL midway (twice), and restarts. The store commits each partition's position in the
# same transaction as the counts, and a restart starts at that position: the final count must be
# exactly the lines produced, and the group's committed offsets the end offsets. The daemon uses
# static group membership (group.instance.id), so that its restart takes its partitions back at
# once instead of after the dead member's session timeout.
LW=${1:?usage: test_kafka_kill.sh /path/to/logwarden}
N=${N:-150000}
. "$(dirname "$0")/tools/kafka_lib.sh"

kafka_topic logs 4
gen_lines "$N" "$T/lines.txt"
produce_slowly logs "$T/lines.txt" 40
cat > "$T/conf.yaml" <<EOF
inputs:
  kafka:
    brokers: "$KAFKA_BOOTSTRAP"
    topics: [logs]
    group: g1
    properties:
      - group.instance.id=kill-test-1
      - session.timeout.ms=6000
      - heartbeat.interval.ms=1000
EOF

for k in 1 2; do
  start_daemon "$T/data" "$T/daemon.log" --config "$T/conf.yaml"
  wait_stored "$T/data" $((N * k / 3)) 90
  kill -9 "$DPID"
  wait "$DPID" 2>/dev/null || true
  running=no
  kill -0 "$PRODPID" 2>/dev/null && running=yes
  echo "killed with SIGKILL at $(stored "$T/data") of $N lines stored (still producing: $running)"
  ok=$(sqlite3 "$T/data/logwarden.db" 'PRAGMA integrity_check')
  [ "$ok" = ok ] || fail "integrity_check after kill $k: $ok"
done
start_daemon "$T/data" "$T/daemon.log" --config "$T/conf.yaml"
wait "$PRODPID" || fail "producing failed"
wait_stored "$T/data" "$N" 90
# A little longer: anything counted twice would show up now.
sleep 1
kill -TERM "$DPID"
wait "$DPID" || fail "the daemon did not stop cleanly"
got=$(stored "$T/data")
[ "$got" -eq "$N" ] || fail "stored $got lines after two SIGKILLs, want exactly $N"
check_committed g1 logs
echo "PASS: $N lines stored exactly once across two SIGKILLs"
