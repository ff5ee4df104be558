#!/usr/bin/env bash
# The shared vocabulary (docs/cluster.md, "Model state follows partitions"): a real Kafka broker
# and a real ClickHouse. Member a reads the history of topic `logs` (five templates) and stops.
# Member b, which never saw those templates and reports new templates without any warm-up of
# lines, joins, claims `logs` and first settles on its own topic `own` (three templates of its
# own, 6000 lines). Then `logs` brings lines of a's five templates and one template nobody has
# seen: b must report the new one, and none of a's five (they are known to the cluster, read from
# ClickHouse at the claim). Without the shared vocabulary the first of a's templates b meets is
# reported (b's stream is settled, so a first template scores above the threshold).
LW=${1:?usage: test_cluster_vocabulary.sh /path/to/logwarden}
DB=lwvocab
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tools/cluster_lib.sh"
kafka_topic logs 1
kafka_topic own 1

python3 - "$T" <<'PY'
import random, sys, datetime
d = sys.argv[1]
r = random.Random(3)
t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)
A = ["alpha job {} finished in {} ms", "bravo queue {} holds {} items",
     "charlie cache {} evicted {} keys", "delta disk {} at {} percent",
     "echo session {} closed after {} s"]
U = ["uniform worker {} polled {} tasks", "victor shard {} moved {} rows",
     "whiskey batch {} wrote {} bytes"]
NEW = "zulu reactor {} lost {} rods"
def line(f, host, tpl, i):
    global t
    t += datetime.timedelta(milliseconds=50)
    f.write(f"{host}|{t.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z INFO "
            + tpl.format(r.randrange(10**6), r.randrange(1000)) + "\n")
with open(f"{d}/history.txt", "w") as f:
    for i in range(1000):
        line(f, "web01", A[i % 5], i)
with open(f"{d}/own.txt", "w") as f:
    for i in range(6000):
        line(f, "app01", U[i % 3], i)
with open(f"{d}/later.txt", "w") as f:
    for i in range(50):
        line(f, "web01", A[i % 5], i)
    line(f, "web01", NEW, 0)
PY

nt="detect:
  new_template:
    warmup_lines: 1000
    warmup: 0s"
cl_conf a vocab logs "$nt"
cl_conf b vocab "logs, own" "$nt"

run_member a
PA=$DPID
for i in $(seq 1 150); do
  grep -q 'assigned logs/0' "$T/daemon-a.log" && break
  sleep 0.2
done
grep -q 'assigned logs/0' "$T/daemon-a.log" || fail "a was not assigned logs/0"
kcat -P -b "$KAFKA_BOOTSTRAP" -t logs -K '|' -l "$T/history.txt"
wait_sum 1000
kill -TERM "$PA"
wait "$PA" || fail "a did not stop cleanly"
known=$(ch_query "SELECT count() FROM $DB.templates_v WHERE writer IN (SELECT DISTINCT writer FROM $DB.commits)")
echo "a counted the history (1000 lines, $known template rows in ClickHouse) and stopped"

run_member b
PB=$DPID
for i in $(seq 1 150); do
  [ "$(grep -c 'assigned \(logs\|own\)/0' "$T/daemon-b.log" || true)" -ge 2 ] && break
  sleep 0.2
done
[ "$(grep -c 'assigned \(logs\|own\)/0' "$T/daemon-b.log" || true)" -ge 2 ] ||
  fail "b was not assigned logs/0 and own/0"
kcat -P -b "$KAFKA_BOOTSTRAP" -t own -K '|' -l "$T/own.txt"
wait_sum 7000
echo "b settled on its own topic (6000 lines, 3 templates)"
kcat -P -b "$KAFKA_BOOTSTRAP" -t logs -K '|' -l "$T/later.txt"
wait_sum 7051
for i in $(seq 1 100); do
  [ "$(ch_query "SELECT count() FROM $DB.anomalies_v WHERE detector = 'new_template'")" -ge 1 ] && break
  sleep 0.2
done
ch_query "SELECT summary FROM $DB.anomalies_v WHERE detector = 'new_template'" >"$T/new.txt"
echo "b's new-template findings:"
cat "$T/new.txt"
grep -q 'zulu reactor' "$T/new.txt" || fail "b did not report the template nobody had seen"
if grep -Eq 'alpha job|bravo queue|charlie cache|delta disk|echo session' "$T/new.txt"; then
  fail "b reported a template that a had mined and committed (the shared vocabulary was not used)"
fi
kill -TERM "$PB"
wait "$PB" || fail "b did not stop cleanly"
echo "PASS: a template known to the cluster is not new to the instance that takes its partition over"
