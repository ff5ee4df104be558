#!/usr/bin/env bash
# The cluster (docs/cluster.md): a real Kafka broker and a real ClickHouse server; two daemons
# (separate data dirs, one consumer group, one ClickHouse database) on a 4-partition topic of N
# keyed lines (N=1000000; bench/cluster.sh runs the same on the Release build). Member a is
# killed with SIGKILL while records still arrive; b takes its partitions over (the takeover time
# is printed), claims them under a new epoch and resumes each at the checkpoint a last
# committed. Then ClickHouse's sum of counts equals N exactly (no line lost, none counted
# twice), per source (host) sums equal the produced ones, every partition's shared checkpoint
# is its end offset, and the group's committed offsets are the end offsets.
# Per-template sums across instances are test_template_ids.sh's subject; here totals and
# per-source sums are compared.
LW=${1:?usage: test_cluster.sh /path/to/logwarden}
N=${N:-1000000}
# FAULT=kill (default): SIGKILL; FAULT=stop: SIGSTOP, then SIGCONT after the takeover (a zombie
# previous owner, test_cluster_fence.sh).
FAULT=${FAULT:-kill}
DB=lwcluster
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tools/cluster_lib.sh"

kafka_topic logs 4
# Keyed by host (16 hosts): a host's lines meet in one partition, hence one instance.
python3 - "$N" "$T/lines.txt" "$T/expect.tsv" <<'PY'
import random, sys
n, out, exp = int(sys.argv[1]), sys.argv[2], sys.argv[3]
per = {}
r = random.Random(11)
with open(out, "w") as f:
    for i in range(n):
        host = f"web{(i * 7) % 16:02d}"
        per[host] = per.get(host, 0) + 1
        k = i % 4
        t = f"2026-11-25T10:{(i // 6000) % 60:02d}:{(i // 100) % 60:02d}Z"
        if k == 0:
            line = f"{t} INFO request {i} served in {r.randrange(900)} ms"
        elif k == 1:
            line = f"{t} WARN cache miss for key user:{r.randrange(10**6)}"
        elif k == 2:
            line = f"{t} INFO block blk_{r.randrange(10**12)} stored on 10.0.{r.randrange(256)}.{r.randrange(256)}"
        else:
            line = f"{t} ERROR disk {r.randrange(8)} latency {r.randrange(10**4)} us"
        f.write(f"{host}|{line}\n")
with open(exp, "w") as f:
    for h in sorted(per):
        f.write(f"{h}\t{per[h]}\n")
PY
if [ "$FAULT" = stop ]; then
  # The fence is exercised only if a holds uncommitted lines of its partitions when it is
  # frozen. a writes to the store only every 60 s (and at its claims and releases), so every
  # line it takes between its claims and the freeze is still uncommitted at the freeze; its
  # /metrics say how many it took.
  cl_conf a cluster logs "pipeline:
  flush_interval: 60s"
  cl_conf b cluster logs
  HPA=$(ch_free_port)
  start_daemon "$T/data-a" "$T/daemon-a.log" --config "$T/conf-a.yaml" --http "127.0.0.1:$HPA"
else
  for i in a b; do cl_conf "$i" cluster logs; done
  start_daemon "$T/data-a" "$T/daemon-a.log" --config "$T/conf-a.yaml"
fi
PA=$DPID
start_daemon "$T/data-b" "$T/daemon-b.log" --config "$T/conf-b.yaml"
PB=$DPID

# owned LOG: partitions of the member's latest assignment (eager: one block per rebalance).
owned() {
  awk '/rebalance: .* revoked/ { delete own } /assigned logs\// { split($0, a, "assigned "); split(a[2], b, ":"); own[b[1]] = 1 }
       END { n = 0; for (p in own) n++; print n }' "$1"
}
for i in $(seq 1 200); do
  [ "$(owned "$T/daemon-a.log")" = 2 ] && [ "$(owned "$T/daemon-b.log")" = 2 ] && break
  sleep 0.2
done
[ "$(owned "$T/daemon-a.log")" = 2 ] && [ "$(owned "$T/daemon-b.log")" = 2 ] ||
  fail "no 2/2 split: a owns $(owned "$T/daemon-a.log"), b owns $(owned "$T/daemon-b.log")"
echo "both members own 2 partitions"

t_prod=$(date +%s.%N)
# In 40 chunks, 0.2 s apart, keyed (kcat -K), in the background: a is killed while records arrive.
split -n l/40 -d -a 3 "$T/lines.txt" "$T/chunk."
(
  for c in "$T"/chunk.*; do
    kcat -P -b "$KAFKA_BOOTSTRAP" -t logs -K '|' -l "$c"
    sleep 0.2
  done
) &
PRODPID=$!
PIDS+=("$PRODPID")
# a_metric NAME: member a's metric NAME (0 when it does not answer).
a_metric() {
  local v
  v=$(curl -sf "http://127.0.0.1:$HPA/metrics" 2>/dev/null | awk -v n="$1" '$1 == n { print $2 }')
  echo "${v:-0}"
}
if [ "$FAULT" = stop ]; then
  # Frozen while it holds lines: at least 20000 taken by a, none of them committed (60 s flush).
  for i in $(seq 1 600); do
    [ "$(a_metric logwarden_lines_in_total)" -ge 20000 ] && break
    sleep 0.1
  done
  a_in=$(a_metric logwarden_lines_in_total)
  [ "$a_in" -ge 20000 ] || fail "a took $a_in lines in 60 s, want 20000 before freezing it"
else
  for i in $(seq 1 600); do
    [ "$(ch_sum)" -ge $((N / 3)) ] && break
    sleep 0.1
  done
  [ "$(ch_sum)" -ge $((N / 3)) ] || fail "ClickHouse holds $(ch_sum) lines after 60 s, want $((N / 3))"
fi
lines_before=$(wc -l < "$T/daemon-b.log")
t0=$(date +%s.%N)
if [ "$FAULT" = stop ]; then
  kill -STOP "$PA"
  wa=$(cat "$T/data-a/writer_id")
  a_committed=$(ch_query "SELECT sum(l) FROM (SELECT argMax(lines, attempt) AS l FROM $DB.commits WHERE writer = '$wa' GROUP BY seq)")
  [ "$a_committed" -lt "$a_in" ] ||
    fail "a committed ${a_committed} of the $a_in lines it took before the freeze: nothing for the fence"
  echo "froze member a with SIGSTOP holding $((a_in - a_committed))+ uncommitted lines ($(ch_sum) lines in ClickHouse)"
else
  kill -9 "$PA"
  wait "$PA" 2>/dev/null || true
  echo "killed member a with SIGKILL at $(ch_sum) lines in ClickHouse"
fi
for i in $(seq 1 600); do
  [ "$(tail -n +"$((lines_before + 1))" "$T/daemon-b.log" | owned /dev/stdin)" = 4 ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
[ "$(tail -n +"$((lines_before + 1))" "$T/daemon-b.log" | owned /dev/stdin)" = 4 ] ||
  fail "b did not take over all 4 partitions within 60 s"
echo "takeover: b owns all 4 partitions $(python3 -c "print(f'{$t1 - $t0:.1f}')") s after the SIG$([ "$FAULT" = stop ] && echo STOP || echo KILL) (session.timeout.ms=6000)"
# The partitions b took from a are claimed under a new epoch: 2, or 3 when the members' first
# assignments overlapped (b alone got all four at epoch 1, then a two of them at epoch 2).
claimed=$(tail -n +"$((lines_before + 1))" "$T/daemon-b.log" | grep -cE 'assigned logs/.*epoch [2-9]\)' || true)
[ "$claimed" -ge 2 ] || fail "b claimed $claimed partitions under a later epoch, want >= 2"
if [ "$FAULT" = stop ]; then
  # Taken over means claimed in ClickHouse: b's claim of each partition it was assigned is
  # committed with b's epoch for it (before that commit, a claim is only in b's memory and
  # nothing can fence a; docs/cluster.md, "Fencing").
  tail -n +"$((lines_before + 1))" "$T/daemon-b.log" |
    sed -nE 's/.*assigned (logs\/[0-9]+): .*epoch ([0-9]+)\)$/\1 \2/p' >"$T/claims"
  for i in $(seq 1 300); do
    n2=0
    while read -r path ep; do
      d=$(ch_query "SELECT max(dev) FROM $DB.checkpoints_v WHERE input = 'kafka' AND path = '$path'" 2>/dev/null || echo 0)
      [ "${d:-0}" -ge "$ep" ] && n2=$((n2 + 1))
    done <"$T/claims"
    [ "$n2" -ge "$(wc -l <"$T/claims")" ] && break
    sleep 0.1
  done
  echo "b's claims committed: $n2 of $(wc -l <"$T/claims") partition(s) under b's epochs in ClickHouse"
  # a wakes up as a zombie: it still holds lines of partitions b owns now, and tries to commit
  # them under epoch 1. The store must refuse (fenced), or those lines would count twice; a
  # fence check that a's stop interrupted took seconds and is made again.
  kill -CONT "$PA"
  echo "thawed member a (SIGCONT): it finds its partitions taken"
fi

wait "$PRODPID" || fail "producing failed"
for i in $(seq 1 1200); do
  [ "$(ch_sum)" -ge "$N" ] && break
  sleep 0.2
done
t_done=$(date +%s.%N)
sleep 2 # anything counted twice would show up now
kill -TERM "$PB"
wait "$PB" || fail "b did not stop cleanly"
if [ "$FAULT" = stop ]; then
  # a holds uncommitted lines of partitions b owns: its next commit (at its revocation or its
  # flush interval) is fenced, and a stops by itself (it leaves the group and exits 75, to be
  # started afresh).
  for i in $(seq 1 450); do
    kill -0 "$PA" 2>/dev/null || break
    sleep 0.2
  done
  n_fenced=$(grep -c 'this transaction is fenced' "$T/daemon-a.log" || true)
  echo "a's commits refused by the fence: $n_fenced"
  [ "$n_fenced" -ge 1 ] || fail "a was not fenced within 90 s of b's stop (it held uncommitted lines)"
  kill -0 "$PA" 2>/dev/null && fail "a was fenced but did not stop by itself within 90 s"
  a_rc=0
  wait "$PA" || a_rc=$?
  [ "$a_rc" = 75 ] || fail "a was fenced but exited with status $a_rc, want 75"
  echo "a stopped by itself with status 75 (fenced: to be started afresh)"
fi
sum=$(ch_sum)
echo "ClickHouse: sum of counts $sum of $N produced ($(python3 -c "print(f'{$N / ($t_done - $t_prod):.0f}')") lines/s end to end, 2 then 1 instance)"
[ "$sum" -eq "$N" ] || fail "sum of counts is $sum, want exactly $N ($((sum - N)) counted twice or lost)"
lines=$(ch_query "SELECT sum(l) FROM (SELECT argMax(lines, attempt) AS l FROM $DB.commits GROUP BY writer, seq)")
[ "$lines" -eq "$N" ] || fail "committed lines $lines, want $N"
# Per source: a line's source is its record's key (key_as_host), so each host's sum must be
# the number of lines produced for it.
ch_query "SELECT source, sum(count) FROM $DB.window_source_counts_v GROUP BY source ORDER BY source" \
  >"$T/got.tsv"
diff "$T/expect.tsv" "$T/got.tsv" >"$T/src.diff" || fail "per-source sums differ: $(cat "$T/src.diff")"
echo "ok: per-source (host) sums equal the produced ones ($(wc -l < "$T/got.tsv") hosts)"
echo "lines committed per instance (writer id, lines):"
ch_query "SELECT writer, sum(l) FROM (SELECT writer, argMax(lines, attempt) AS l FROM $DB.commits GROUP BY writer, seq) GROUP BY writer ORDER BY writer"
writers=$(ch_query "SELECT uniqExact(writer) FROM $DB.commits")
[ "$writers" -eq 2 ] || fail "$writers writers committed, want 2"
# The shared checkpoint of every partition is its end offset.
check_committed cluster logs
while read -r part _ end; do
  ck=$(ch_query "SELECT max(offset) FROM $DB.checkpoints_v WHERE input = 'kafka' AND path = 'logs/$part'")
  [ "$ck" = "$end" ] || fail "logs/$part: shared checkpoint $ck, end offset $end"
done < <(kafka_group_offsets cluster logs)
echo "PASS: two instances, one $([ "$FAULT" = stop ] && echo "frozen and fenced" || echo killed), ClickHouse counts = $N exactly"
