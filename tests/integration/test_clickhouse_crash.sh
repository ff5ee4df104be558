#!/usr/bin/env bash
# Effectively-once counts on ClickHouse under at-least-once delivery, with a real server:
#  1. the daemon tails a file of N lines and is killed with SIGKILL at random moments, several
#     times, then runs to the end: ClickHouse's sum of counts must equal N exactly;
#  2. a SIGKILL injected at the worst moment (LW_TEST_CH_KILL_AT_COMMIT: after the count rows
#     went in and before the commit row): the orphan rows are in the table but not counted, and
#     after a restart the sum is exactly N;
#  3. a commit whose reply is lost after the commit row was stored (LW_TEST_CH_LOSE_REPLY_AT_COMMIT)
#     and one that fails before it (LW_TEST_CH_FAIL_AT_COMMIT): the engine retries, the sum is
#     exactly N (the retry replaces the first attempt, it does not add to it).
# Skips (77) when clickhouse-server is not installed.
set -euo pipefail
LW=${1:?usage: test_clickhouse_crash.sh /path/to/logwarden}
KILLS=${KILLS:-6}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tools/clickhouse_lib.sh"

N=150000
# The lines, written into $T/all.log first; the writer then appends them to the tailed file in
# chunks (about 30,000 lines/s) so that the kills below land while the daemon is ingesting.
python3 "$HERE/tools/ch_lines.py" "$T/all.log" "$N" --seed 7 --per-second 100 \
  --kinds request,cache,block,disk
: >"$T/app.log"
python3 "$HERE/tools/feed.py" "$T/all.log" "$T/app.log" 3000 0.1 &
WPID=$!

raw() { ch_query "SELECT sum(count) FROM $1.window_counts" 2>/dev/null | num; }
# Runs the daemon until all N lines are visible (or 120 s), then stops it with SIGTERM.
finish() {  # finish DB [FILE]
  local db=$1 s=0 end=$((SECONDS + 120))
  tail_start "$db" "${2:-$T/app.log}"
  while [ "$SECONDS" -lt "$end" ]; do
    s=$(ch_visible "$db")
    [ "$s" -ge "$N" ] && break
    running "$PID" || fail "$db: the daemon exited"
    sleep 0.1
  done
  sleep 0.5
  stop_daemon "$db: the daemon did not stop cleanly"
}

# 1. Random SIGKILLs while ingesting.
tail_conf kills kills
for i in $(seq 1 "$KILLS"); do
  tail_start kills "$T/app.log"
  sleep "$(python3 -c "import random; print(round(random.uniform(0.3, 1.0), 2))")"
  kill -9 "$PID" 2>/dev/null || true
  wait_exit 60 "a SIGKILL did not end the daemon"
  echo "kill $i: visible $(ch_visible kills) of $N"
done
wait "$WPID" || fail "the writer failed"
WPID=
finish kills
s=$(ch_visible kills)
[ "$s" = "$N" ] || fail "after $KILLS SIGKILLs the sum of counts is $s, want exactly $N"
echo "ok: $KILLS random SIGKILLs: sum of counts = $s = lines written (raw rows hold $(raw kills))"

# 2. SIGKILL between the count rows and the commit row. The file grows while the daemon reads
# it, so that there is a third commit to kill at however slow the machine is (a file read whole
# may fit in two).
tail_conf inject inject
: >"$T/inject.in"
python3 "$HERE/tools/feed.py" "$T/all.log" "$T/inject.in" 3000 0.1 &
WPID=$!
tail_start inject "$T/inject.in" LW_TEST_CH_KILL_AT_COMMIT=3
wait_exit 120 "the daemon was not killed at its third commit"
[ "$EXIT_STATUS" -eq 137 ] \
  || fail "the daemon ended with status $EXIT_STATUS, not the injected SIGKILL"
wait "$WPID" || fail "the writer failed"
WPID=
v=$(ch_visible inject)
r=$(raw inject)
[ "$r" -gt "$v" ] || fail "the injected kill left no orphan rows (raw $r, visible $v)"
echo "killed before the commit row: $r counted in raw rows, $v visible"
finish inject "$T/inject.in"
s=$(ch_visible inject)
[ "$s" = "$N" ] || fail "after the injected kill the sum of counts is $s, want exactly $N"
echo "ok: SIGKILL between counts and commit row: sum of counts = $s (orphans not counted)"

# 3. A lost reply after the commit row was stored, and a failure before it.
tail_conf lost lost
: >"$T/lost.in"
python3 "$HERE/tools/feed.py" "$T/all.log" "$T/lost.in" 3000 0.1 &
WPID=$!
tail_start lost "$T/lost.in" LW_TEST_CH_LOSE_REPLY_AT_COMMIT=2 LW_TEST_CH_FAIL_AT_COMMIT=4
wait "$WPID" || fail "the writer failed"
WPID=
ch_wait_visible lost "$N" 120
sleep 0.5
stop_daemon "lost: the daemon did not stop cleanly"
twice=$(ch_query "SELECT count() FROM (SELECT seq FROM lost.commits GROUP BY writer, seq HAVING count() > 1)")
[ "$twice" -ge 1 ] || fail "no transaction was committed twice (the lost-reply hook did not fire)"
grep -q "injected loss of the commit row's reply" "$T/lost.log" \
  || fail "the lost reply was not reported"
grep -q "injected failure before the commit row" "$T/lost.log" \
  || fail "the failure before the commit row was not reported (the hook did not fire)"
s=$(ch_visible lost)
[ "$s" = "$N" ] || fail "after a lost reply and a failed commit the sum is $s, want exactly $N"
lines=$(ch_query "SELECT sum(l) FROM (SELECT argMax(lines, attempt) AS l FROM lost.commits GROUP BY writer, seq)")
[ "$lines" = "$N" ] || fail "stored lines $lines, want $N"
echo "ok: lost reply + failed commit, retried: sum of counts = $s, stored lines = $lines"
echo PASS
