#!/usr/bin/env bash
# Model state follows partitions (docs/cluster.md): a real Kafka broker and a real ClickHouse.
# Member a alone in the group learns the per-host volume baselines of 4 hosts (keyed records, a
# 2-partition topic, 40 windows of event time, warm-up 10 windows), then stops (SIGTERM): on
# revocation it saves each partition's host state in ClickHouse. Member b (its own data dir and
# writer id, never saw those hosts) joins, claims both partitions under epoch 2 and loads that
# state. Then host web01 bursts to 20 times its rate in one window: b reports a per-source
# volume spike for web01. Without the state, b's series for web01 (and for the template) would
# be 2 windows old, in warm-up, and b would report nothing. Then b is killed with SIGKILL after
# its periodic save, and member c loads that state (epoch 2) when it claims the partitions.
LW=${1:?usage: test_cluster_model_state.sh /path/to/logwarden}
DB=lwmodelstate
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tools/cluster_lib.sh"
kafka_topic logs 2

# history.txt: windows 0..39; burst.txt: windows 40..42, web01 bursts in window 41.
python3 - "$T/history.txt" "$T/burst.txt" <<'PY'
import random, sys, datetime
r = random.Random(5)
t0 = datetime.datetime(2026, 11, 25, 10, 0, 0, tzinfo=datetime.timezone.utc)
hosts = [f"web{i:02d}" for i in range(4)]
def window(f, w, burst_host=None):
    lines = []
    for h in hosts:
        n = 400 if h == burst_host else r.randint(17, 23)
        for k in range(n):
            ms = int(10000 * k / n)
            lines.append((ms, h))
    lines.sort()
    for ms, h in lines:
        t = t0 + datetime.timedelta(seconds=10 * w, milliseconds=ms)
        f.write(f"{h}|{t.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z INFO request "
                f"{r.randrange(10**6)} served in {r.randrange(900)} ms\n")
    return len(lines)
with open(sys.argv[1], "w") as f:
    n = sum(window(f, w) for w in range(40))
with open(sys.argv[2], "w") as f:
    m = sum(window(f, w, "web01" if w == 41 else None) for w in range(40, 43))
print(n, m, file=open(sys.argv[1] + ".n", "w"))
PY
read -r N_HIST N_BURST < "$T/history.txt.n"

for i in a b c; do
  cl_conf "$i" modelstate logs "detect:
  volume:
    warmup_windows: 10"
done
vol_findings() {
  ch_query "SELECT count() FROM $DB.anomalies_v WHERE detector = 'volume' $1" 2>/dev/null || echo 0
}

run_member a
PA=$DPID
for i in $(seq 1 150); do
  [ "$(grep -c 'assigned logs/' "$T/daemon-a.log" || true)" -ge 2 ] && break
  sleep 0.2
done
[ "$(grep -c 'assigned logs/' "$T/daemon-a.log" || true)" -ge 2 ] || fail "a was not assigned both partitions"
kcat -P -b "$KAFKA_BOOTSTRAP" -t logs -K '|' -l "$T/history.txt"
wait_sum "$N_HIST"
echo "a counted the history: $N_HIST lines of 4 hosts over 40 windows"
sleep 7 # the sources go idle: the last window closes (partial, not learned)
kill -TERM "$PA"
wait "$PA" || fail "a did not stop cleanly"
saved=$(grep -o 'released: the state of [0-9]* source' "$T/daemon-a.log" | awk '{s += $5} END {print s + 0}')
[ "$saved" -eq 4 ] || fail "a saved the state of $saved sources on revocation, want 4"
echo "a stopped: on revocation it saved the state of $saved sources (hosts) by partition"
[ "$(vol_findings '')" -eq 0 ] || fail "a reported volume findings on normal history"

run_member b
PB=$DPID
for i in $(seq 1 150); do
  [ "$(grep -c 'assigned logs/.*epoch 2)' "$T/daemon-b.log" || true)" -ge 2 ] && break
  sleep 0.2
done
[ "$(grep -c 'assigned logs/.*epoch 2)' "$T/daemon-b.log" || true)" -ge 2 ] ||
  fail "b did not claim both partitions under epoch 2"
for i in $(seq 1 50); do
  loaded=$(grep -o 'loaded the state of [0-9]* source' "$T/daemon-b.log" | awk '{s += $5} END {print s + 0}')
  [ "$loaded" -ge 4 ] && break
  sleep 0.2
done
[ "$loaded" -eq 4 ] || fail "b loaded the state of $loaded sources on assignment, want 4"
echo "b claimed both partitions (epoch 2) and loaded the state of $loaded sources"
kcat -P -b "$KAFKA_BOOTSTRAP" -t logs -K '|' -l "$T/burst.txt"
wait_sum $((N_HIST + N_BURST))
for i in $(seq 1 100); do
  [ "$(vol_findings "AND source = 'web01' AND kind = 'spike'")" -ge 1 ] && break
  sleep 0.2
done
spikes=$(vol_findings "AND source = 'web01' AND kind = 'spike'")
others=$(vol_findings "AND (source IS NULL OR source != 'web01')")
ch_query "SELECT detector, kind, source, summary FROM $DB.anomalies_v" | head -5
[ "$spikes" -ge 1 ] || fail "b reported no volume spike for web01 (its learned baseline did not follow the partition)"
[ "$others" -eq 0 ] || fail "b reported $others volume findings about other series, want 0 (the template series is b's own, in warm-up)"
echo "ok: b reported the spike of web01 with the baseline a had learned"

# A crash saves nothing at the end: the survivor loads the owner's last periodic save (every
# 60 s with the models). Wait for b's, kill b, and let c take over.
shard_writers() {
  ch_query "SELECT uniqExact(writer) FROM $DB.blobs_v WHERE kind LIKE 'shard:kafka:%'" 2>/dev/null || echo 0
}
for i in $(seq 1 450); do
  [ "$(shard_writers)" -ge 2 ] && break
  sleep 0.2
done
[ "$(shard_writers)" -ge 2 ] || fail "b saved no partition state within 90 s (periodic save)"
kill -9 "$PB"
wait "$PB" 2>/dev/null || true
echo "killed b with SIGKILL after its periodic save"
run_member c
PC=$DPID
for i in $(seq 1 300); do
  [ "$(grep -c 'assigned logs/.*epoch 3)' "$T/daemon-c.log" || true)" -ge 2 ] && break
  sleep 0.2
done
[ "$(grep -c 'assigned logs/.*epoch 3)' "$T/daemon-c.log" || true)" -ge 2 ] ||
  fail "c did not claim both partitions under epoch 3"
for i in $(seq 1 50); do
  loaded=$(grep 'saved by its owner of epoch 2' "$T/daemon-c.log" | grep -o 'loaded the state of [0-9]* source' | awk '{s += $5} END {print s + 0}')
  [ "$loaded" -ge 4 ] && break
  sleep 0.2
done
[ "$loaded" -eq 4 ] || fail "c loaded the state of $loaded sources saved by b (epoch 2), want 4"
echo "c claimed both partitions (epoch 3) and loaded the state of $loaded sources from b's periodic save"
kill -TERM "$PC"
wait "$PC" || fail "c did not stop cleanly"
echo "PASS: the per-host state followed the partitions: a -> b on a clean stop, b -> c on SIGKILL"
