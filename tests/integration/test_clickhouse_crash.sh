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
. "$HERE/tools/clickhouse.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/lw-ch-crash.XXXXXX")
PID=
WPID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null || true
  ch_stop
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$T"/*.log 2>/dev/null; exit 1; }
if ! ch_available; then
  echo "SKIP: clickhouse-server is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
ch_start "$T/ch" || fail "clickhouse-server did not start"
echo "clickhouse-server $(ch_query 'SELECT version()') on $CH_URL"

N=150000
# The lines, written into $T/all.log first; the writer then appends them to the tailed file in
# chunks (about 30,000 lines/s) so that the kills below land while the daemon is ingesting.
python3 - "$T/all.log" "$N" <<'PY'
import random, sys
out, n = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
with open(out, "w") as f:
    for i in range(n):
        t = 1764064800 + i // 100
        ts = f"2025-11-25T{(t // 3600) % 24:02d}:{(t // 60) % 60:02d}:{t % 60:02d}Z"
        k = r.randrange(4)
        if k == 0:
            f.write(f"{ts} INFO request {i} served in {r.randrange(900)} ms\n")
        elif k == 1:
            f.write(f"{ts} WARN cache miss for key user:{r.randrange(10**6)}\n")
        elif k == 2:
            f.write(f"{ts} INFO block blk_{r.randrange(10**12)} stored on 10.0.{r.randrange(256)}.{r.randrange(256)}\n")
        else:
            f.write(f"{ts} ERROR disk {r.randrange(8)} latency {r.randrange(10**4)} us\n")
PY
cat > "$T/writer.py" <<'PY'
import sys, time
src, dst = sys.argv[1], sys.argv[2]
lines = open(src).readlines()
with open(dst, "a") as f:
    for i in range(0, len(lines), 3000):
        f.writelines(lines[i:i + 3000])
        f.flush()
        time.sleep(0.1)
PY
: >"$T/app.log"
python3 "$T/writer.py" "$T/all.log" "$T/app.log" &
WPID=$!

conf() {  # conf DB
  cat > "$T/$1.yaml" <<YAML
store:
  backend: clickhouse
  clickhouse:
    url: $CH_URL
    database: $1
    timeout: 5s
pipeline:
  flush_interval: 100ms
YAML
}
start() {  # start DB [ENV=VALUE ...]
  local db=$1
  shift
  env "$@" "$LW" run -c "$T/$db.yaml" --data-dir "$T/data-$db" --tail "$T/app.log" --no-syslog \
    --no-http --no-detect --log-level warn >>"$T/$db.log" 2>&1 &
  PID=$!
}
num() { grep -E '^[0-9]+$' || echo 0; }
visible() { ch_query "SELECT sum(count) FROM $1.window_counts_v" 2>/dev/null | num; }
raw() { ch_query "SELECT sum(count) FROM $1.window_counts" 2>/dev/null | num; }
# Runs the daemon until all N lines are visible (or 120 s), then stops it with SIGTERM.
finish() {  # finish DB
  local db=$1 s=0 i
  start "$db"
  for i in $(seq 1 1200); do
    s=$(visible "$db")
    [ "$s" -ge "$N" ] && break
    kill -0 "$PID" 2>/dev/null || fail "$db: the daemon exited"
    sleep 0.1
  done
  sleep 0.5
  kill -TERM "$PID"
  wait "$PID" || fail "$db: the daemon did not stop cleanly"
  PID=
}

# 1. Random SIGKILLs while ingesting.
conf kills
for i in $(seq 1 "$KILLS"); do
  start kills
  sleep "$(python3 -c "import random; print(round(random.uniform(0.3, 1.0), 2))")"
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
  echo "kill $i: visible $(visible kills) of $N"
done
wait "$WPID" || fail "the writer failed"
WPID=
finish kills
s=$(visible kills)
[ "$s" = "$N" ] || fail "after $KILLS SIGKILLs the sum of counts is $s, want exactly $N"
echo "ok: $KILLS random SIGKILLs: sum of counts = $s = lines written (raw rows hold $(raw kills))"

# 2. SIGKILL between the count rows and the commit row.
conf inject
start inject LW_TEST_CH_KILL_AT_COMMIT=3
wait "$PID" 2>/dev/null || true
PID=
v=$(visible inject)
r=$(raw inject)
[ "$r" -gt "$v" ] || fail "the injected kill left no orphan rows (raw $r, visible $v)"
echo "killed before the commit row: $r counted in raw rows, $v visible"
finish inject
s=$(visible inject)
[ "$s" = "$N" ] || fail "after the injected kill the sum of counts is $s, want exactly $N"
echo "ok: SIGKILL between counts and commit row: sum of counts = $s (orphans not counted)"

# 3. A lost reply after the commit row was stored, and a failure before it.
conf lost
start lost LW_TEST_CH_LOSE_REPLY_AT_COMMIT=2 LW_TEST_CH_FAIL_AT_COMMIT=4
for i in $(seq 1 1200); do
  [ "$(visible lost)" -ge "$N" ] && break
  sleep 0.1
done
sleep 0.5
kill -TERM "$PID"; wait "$PID" || fail "lost: the daemon did not stop cleanly"
PID=
twice=$(ch_query "SELECT count() FROM (SELECT seq FROM lost.commits GROUP BY writer, seq HAVING count() > 1)")
[ "$twice" -ge 1 ] || fail "no transaction was committed twice (the lost-reply hook did not fire)"
grep -q "injected" "$T/lost.log" || fail "the injected failures were not reported"
s=$(visible lost)
[ "$s" = "$N" ] || fail "after a lost reply and a failed commit the sum is $s, want exactly $N"
lines=$(ch_query "SELECT sum(l) FROM (SELECT argMax(lines, attempt) AS l FROM lost.commits GROUP BY writer, seq)")
[ "$lines" = "$N" ] || fail "stored lines $lines, want $N"
echo "ok: lost reply + failed commit, retried: sum of counts = $s, stored lines = $lines"
echo PASS
