#!/usr/bin/env bash
# Folding on ClickHouse (docs/store.md, "Folding"): a writer deletes its rows that no reader
# sees, records "everything through seq W is committed" in commit_folds, then deletes its
# commit rows <= W and merges its template deltas. With a real server:
#  1. writer fold-b ingests and never folds (its rows are the control); writer fold-a ingests
#     with a SIGKILL before a commit row and a lost commit reply, so that it has rows no reader
#     sees (an uncommitted attempt, a superseded committed attempt);
#  2. fold-a starts again six times with the fold age at 0 (LW_TEST_CH_FOLD_AGE_S) and is
#     killed at each step of the fold in turn (LW_TEST_CH_KILL_AT_FOLD=1..7): after every kill
#     the views show exactly the same rows, templates and stored lines as before;
#  3. a clean run ingests more and a last start folds it: fold-a's commit rows are a few, its
#     template rows one per template, the sums are those of all lines written, and fold-b's
#     commit rows and raw rows are untouched.
# Skips (77) when clickhouse-server is not installed.
set -euo pipefail
LW=${1:?usage: test_clickhouse_fold.sh /path/to/logwarden}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tools/clickhouse_lib.sh"
DB=lwfold

lines() {  # lines FILE N SEED
  python3 "$HERE/tools/ch_lines.py" "$1" "$2" --seed "$3" --per-second 50 --hosts 3 \
    --kinds request,cache,disk,gc
}
# Appends FILE to DST in chunks, so that the daemon commits many small transactions.
feed() {  # feed FILE DST
  python3 "$HERE/tools/feed.py" "$1" "$2" 400 0.15 &
  WPID=$!
}
start() {  # start WRITER [ENV=VALUE ...]
  local w=$1
  shift
  tail_start "$w" "$T/$w.in" "$@"
}
visible() { ch_visible "$DB"; }
# Runs WRITER until WANT lines are visible, then stops it with SIGTERM.
run_until() {  # run_until WRITER WANT [ENV=VALUE ...]
  local w=$1 want=$2 end=$((SECONDS + 120))
  shift 2
  start "$w" "$@"
  while [ "$SECONDS" -lt "$end" ]; do
    [ "$(visible)" -ge "$want" ] && break
    running "$PID" || { PID=; return 1; }
    sleep 0.1
  done
  sleep 0.5
  stop_daemon "$w: the daemon did not stop cleanly"
}
# Waits until the server has run every mutation of the database.
settle() {
  local i
  for i in $(seq 1 300); do
    [ "$(ch_query "SELECT count() FROM system.mutations WHERE database = '$DB' AND is_done = 0")" = 0 ] && return 0
    sleep 0.1
  done
  fail "mutations still running after 30 s"
}
# What readers see: every view's visible rows (the tables read as "latest row per key" by
# their latest row per key, since the compaction at start may drop superseded rows), the
# templates as readers aggregate them, and the stored lines.
state() {
  local v
  for v in window_counts window_source_counts window_level_counts anomalies alerts \
           alert_states template_aliases template_examples; do
    echo "$v $(ch_query "SELECT count(), sum(cityHash64(writer, seq, attempt)) FROM $DB.${v}_v")"
  done
  echo "checkpoints $(ch_query "SELECT groupArray(k) FROM (SELECT (writer, input, path,
    argMax(offset, (seq, ord)), argMax(deleted, (seq, ord))) AS k FROM $DB.checkpoints_v
    GROUP BY writer, input, path ORDER BY writer, input, path)")"
  echo "blobs $(ch_query "SELECT groupArray(k) FROM (SELECT (writer, kind,
    cityHash64(argMax(data, (seq, ord)))) AS k FROM $DB.blobs_v GROUP BY writer, kind
    ORDER BY writer, kind)")"
  echo "notes $(ch_query "SELECT groupArray(k) FROM (SELECT (writer, key,
    argMax(text, (seq, ord))) AS k FROM $DB.notes_v GROUP BY writer, key ORDER BY writer, key)")"
  echo "templates $(ch_query "SELECT groupArray(k) FROM (SELECT (id, sum(count_delta),
    cityHash64(argMaxIf(text, (seq, ord), has_text = 1)),
    minIf(first_ns, first_ns != -9223372036854775808),
    maxIf(last_ns, last_ns != -9223372036854775808)) AS k FROM $DB.templates_v
    GROUP BY id ORDER BY id)")"
  "$LW" status --data-dir "$T/data-fold-a" | grep "stored lines"
}
# Rows of fold-a no reader sees: an attempt that is not the highest committed one of its seq,
# or a seq without commit row, below fold-a's next seq (and above what it folded).
hidden_a() {
  ch_query "SELECT count() FROM $DB.window_counts WHERE writer = 'fold-a'
    AND seq > (SELECT max(upto) FROM $DB.commit_folds WHERE writer = 'fold-a' AND kind = 'commits')
    AND seq <= (SELECT max(seq) FROM $DB.commits WHERE writer = 'fold-a')
    AND (seq, attempt) NOT IN (SELECT seq, max(attempt) FROM $DB.commits WHERE writer = 'fold-a' GROUP BY seq)"
}

# 1. fold-b: a control writer that never folds (the default fold age is 10 minutes).
NB=3000
NA=6000
NA2=2000
lines "$T/b.all" "$NB" 1
lines "$T/a.all" "$NA" 2
lines "$T/a2.all" "$NA2" 3
tail_conf fold-b "$DB" fold-b
tail_conf fold-a "$DB" fold-a
: >"$T/fold-b.in"
feed "$T/b.all" "$T/fold-b.in"
run_until fold-b "$NB" || fail "fold-b: the daemon exited"
wait "$WPID"; WPID=
B_COMMITS=$(ch_query "SELECT count(), sum(cityHash64(seq, attempt)) FROM $DB.commits WHERE writer = 'fold-b'")
B_ROWS=$(ch_query "SELECT count(), sum(count) FROM $DB.window_counts WHERE writer = 'fold-b'")
echo "fold-b: $NB lines, commit rows (count, hash): $B_COMMITS"

# fold-a: killed before its 4th commit row, then a lost reply at the 2nd commit of the next run.
: >"$T/fold-a.in"
feed "$T/a.all" "$T/fold-a.in"
start fold-a LW_TEST_CH_KILL_AT_COMMIT=4
wait_exit 120 "fold-a was not killed before its 4th commit row"
[ "$EXIT_STATUS" -eq 137 ] || fail "fold-a ended with status $EXIT_STATUS, not the injected SIGKILL"
run_until fold-a $((NB + NA)) LW_TEST_CH_LOSE_REPLY_AT_COMMIT=2 || fail "fold-a: the daemon exited"
wait "$WPID"; WPID=
[ "$(visible)" = $((NB + NA)) ] || fail "before folding the sum of counts is $(visible), want $((NB + NA))"
twice=$(ch_query "SELECT count() FROM (SELECT seq FROM $DB.commits WHERE writer = 'fold-a' GROUP BY seq HAVING count() > 1)")
h=$(hidden_a)
[ "$twice" -ge 1 ] || fail "no seq of fold-a was committed twice (the lost-reply hook did not fire)"
[ "$h" -ge 1 ] || fail "fold-a has no rows that no reader sees (the kill hook did not fire)"
A_COMMITS0=$(ch_query "SELECT count() FROM $DB.commits WHERE writer = 'fold-a'")
A_TPL0=$(ch_query "SELECT count() FROM $DB.templates WHERE writer = 'fold-a'")
state >"$T/state0"
grep -q "stored lines  $((NB + NA))" "$T/state0" || fail "stored lines before folding: $(tail -1 "$T/state0")"
echo "fold-a: $NA lines, $A_COMMITS0 commit rows ($twice seq committed twice), $h hidden" \
     "count rows, $A_TPL0 template rows"

# 2. A SIGKILL at each step of the fold (at start: the fold runs before any ingest).
for k in 1 2 3 4 5 6 7; do
  start fold-a LW_TEST_CH_FOLD_AGE_S=0 LW_TEST_CH_KILL_AT_FOLD=$k
  for _ in $(seq 1 300); do
    running "$PID" || break
    sleep 0.1
  done
  if running "$PID"; then
    kill -TERM "$PID"; wait "$PID" 2>/dev/null || true
    PID=
    [ "$k" = 7 ] || fail "not killed at step $k of the fold"
  else
    wait "$PID" 2>/dev/null || true
    PID=
  fi
  settle
  state >"$T/state$k"
  if ! cmp -s "$T/state0" "$T/state$k"; then
    diff "$T/state0" "$T/state$k" | head -20
    fail "a kill at step $k of the fold changed what readers see"
  fi
  echo "ok: killed at fold step $k: views, templates and stored lines unchanged" \
       "(fold-a: $(ch_query "SELECT count() FROM $DB.commits WHERE writer = 'fold-a'") commit rows," \
       "$(ch_query "SELECT count() FROM $DB.templates WHERE writer = 'fold-a'") template rows," \
       "$(hidden_a) hidden count rows)"
done
[ "$(hidden_a)" = 0 ] || fail "rows no reader saw are left after the fold"
folded=$(ch_query "SELECT max(upto) FROM $DB.commit_folds WHERE writer = 'fold-a' AND kind = 'commits'")
[ "$folded" -ge 3 ] || fail "fold-a folded through seq $folded only"

# 3. More lines, a clean run, and a start that folds them.
feed "$T/a2.all" "$T/fold-a.in"
run_until fold-a $((NB + NA + NA2)) LW_TEST_CH_FOLD_AGE_S=0 || fail "fold-a: the daemon exited"
wait "$WPID"; WPID=
min_seq=$(ch_query "SELECT min(seq) FROM $DB.commits WHERE writer = 'fold-a'")
[ "$min_seq" -gt "$folded" ] || fail "fold-a committed seq $min_seq again after folding through $folded"
run_until fold-a $((NB + NA + NA2)) LW_TEST_CH_FOLD_AGE_S=0 || fail "fold-a: the daemon exited"
settle
sum=$(visible)
[ "$sum" = $((NB + NA + NA2)) ] || fail "after folding the sum of counts is $sum, want $((NB + NA + NA2))"
"$LW" status --data-dir "$T/data-fold-a" >"$T/status.txt"
grep -q "stored lines  $((NB + NA + NA2))" "$T/status.txt" || fail "status: $(cat "$T/status.txt")"
a_commits=$(ch_query "SELECT count() FROM $DB.commits WHERE writer = 'fold-a'")
[ "$a_commits" -le 3 ] || fail "fold-a still has $a_commits commit rows after folding"
a_tpl=$(ch_query "SELECT count() FROM $DB.templates WHERE writer = 'fold-a'")
a_ids=$(ch_query "SELECT uniqExact(id) FROM $DB.templates WHERE writer = 'fold-a'")
[ "$a_tpl" -le $((a_ids + 10)) ] || fail "fold-a has $a_tpl template rows for $a_ids templates"
sq=$(ch_query "SELECT id, sum(count_delta) FROM $DB.templates_v GROUP BY id ORDER BY id" | md5sum)
sw=$(ch_query "SELECT template_id, sum(count) FROM $DB.window_counts_v GROUP BY template_id ORDER BY template_id" | md5sum)
[ "$sq" = "$sw" ] || fail "template counts differ from the window counts per template after folding"
[ "$(ch_query "SELECT count(), sum(cityHash64(seq, attempt)) FROM $DB.commits WHERE writer = 'fold-b'")" = "$B_COMMITS" ] ||
  fail "fold-b's commit rows changed"
[ "$(ch_query "SELECT count(), sum(count) FROM $DB.window_counts WHERE writer = 'fold-b'")" = "$B_ROWS" ] ||
  fail "fold-b's count rows changed"
echo "ok: after folding: sum of counts $sum, stored lines $((NB + NA + NA2)); fold-a's commit rows" \
     "$A_COMMITS0 -> $a_commits, template rows $A_TPL0 -> $a_tpl ($a_ids templates); fold-b untouched"
echo PASS
