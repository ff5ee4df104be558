#!/usr/bin/env bash
# Two daemons (two data dirs, separate SQLite stores) in one consumer group on a 4-partition
# topic: both get partitions (2/2); one is killed with SIGKILL while records still arrive; the
# survivor takes its partitions over (the takeover time is printed). No line is lost: the
# survivor starts each taken partition at or before the killed one's stored position, the sum of
# both stores is >= N, and the group's committed offsets reach the end offsets. With separate
# stores, lines the killed daemon stored but had not committed to Kafka yet are counted twice
# (printed); a shared store (ClickHouse) makes that exact.
LW=${1:?usage: test_kafka_group.sh /path/to/logwarden}
N=${N:-120000}
. "$(dirname "$0")/tools/kafka_lib.sh"

kafka_topic logs 4
gen_lines "$N" "$T/lines.txt"
for i in a b; do
  cat > "$T/conf-$i.yaml" <<EOF
inputs:
  kafka:
    brokers: "$KAFKA_BOOTSTRAP"
    topics: [logs]
    group: g2
    client_id: member-$i
    properties:
      - session.timeout.ms=6000
      - heartbeat.interval.ms=1000
EOF
done
start_daemon "$T/data-a" "$T/daemon-a.log" --config "$T/conf-a.yaml"
PA=$DPID
start_daemon "$T/data-b" "$T/daemon-b.log" --config "$T/conf-b.yaml"
PB=$DPID

# owned LOG: partitions of the member's latest assignment (eager: one block per rebalance).
owned() {
  awk '/rebalance: .* revoked/ { delete own } /assigned logs\// { split($0, a, "assigned "); split(a[2], b, ":"); own[b[1]] = 1 }
       END { n = 0; for (p in own) n++; print n }' "$1"
}
for i in $(seq 1 150); do
  [ "$(owned "$T/daemon-a.log")" = 2 ] && [ "$(owned "$T/daemon-b.log")" = 2 ] && break
  sleep 0.2
done
[ "$(owned "$T/daemon-a.log")" = 2 ] && [ "$(owned "$T/daemon-b.log")" = 2 ] ||
  fail "no 2/2 split: a owns $(owned "$T/daemon-a.log"), b owns $(owned "$T/daemon-b.log")"
echo "both members own 2 partitions"

produce_slowly logs "$T/lines.txt" 40
for i in $(seq 1 300); do
  [ $(( $(stored "$T/data-a") + $(stored "$T/data-b") )) -ge $((N / 3)) ] && break
  sleep 0.1
done
lines_before=$(wc -l < "$T/daemon-b.log")
t0=$(date +%s.%N)
kill -9 "$PA"
wait "$PA" 2>/dev/null || true
a_stored=$(stored "$T/data-a")
echo "killed member a with SIGKILL: it had stored $a_stored lines"
# The takeover: b's log shows an assignment of all 4 partitions after the kill.
for i in $(seq 1 600); do
  if [ "$(tail -n +"$((lines_before + 1))" "$T/daemon-b.log" | owned /dev/stdin)" = 4 ]; then
    break
  fi
  sleep 0.1
done
t1=$(date +%s.%N)
[ "$(tail -n +"$((lines_before + 1))" "$T/daemon-b.log" | owned /dev/stdin)" = 4 ] ||
  fail "b did not take over all 4 partitions within 60 s"
echo "takeover: b owns all 4 partitions $(python3 -c "print(f'{$t1 - $t0:.1f}')") s after the SIGKILL (session.timeout.ms=6000)"

wait "$PRODPID" || fail "producing failed"
for i in $(seq 1 450); do
  [ $(( a_stored + $(stored "$T/data-b") )) -ge "$N" ] && break
  sleep 0.2
done
sleep 1
kill -TERM "$PB"
wait "$PB" || fail "b did not stop cleanly"
b_stored=$(stored "$T/data-b")
sum=$((a_stored + b_stored))
echo "stored: a $a_stored + b $b_stored = $sum of $N produced (counted twice: $((sum - N)))"
[ "$sum" -ge "$N" ] || fail "lines lost: $sum < $N"
# No gap: where b started each partition it took from a is at or before a's stored position.
# A partition b already held before the kill was not taken from a (a may have held it a moment
# at start, before the group's first rebalance, and stored a checkpoint of it then).
b_before=$(head -n "$lines_before" "$T/daemon-b.log")
for p in 0 1 2 3; do
  ck=$(checkpoint "$T/data-a" "logs/$p")
  [ -n "$ck" ] || continue
  last_before=$(printf '%s\n' "$b_before" | grep -E "assigned logs/$p:|revoked" | tail -1 || true)
  case "$last_before" in *"assigned logs/$p:"*) continue ;; esac
  start=$(grep "assigned logs/$p:" "$T/daemon-b.log" | tail -1 | sed -n 's/.*starting at offset \([0-9]*\).*/\1/p')
  [ -n "$start" ] || start=0
  [ "$start" -le "$ck" ] || fail "logs/$p: b started at $start, after a's stored position $ck (a gap)"
done
check_committed g2 logs
echo "PASS: two members, one killed, no line lost"
