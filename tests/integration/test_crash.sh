#!/usr/bin/env bash
# No loss under crashes: a writer appends to a tailed file and rotates it by rename while the
# daemon is killed with SIGKILL at random moments (20 times) and restarted each time. At the end
# the store's total must equal the lines written, give or take at most one batch counted twice
# per kill, and PRAGMA integrity_check must say "ok" after every kill.
set -euo pipefail
LW=${1:?usage: test_crash.sh /path/to/logwarden}
KILLS=${KILLS:-20}
T=$(mktemp -d)
PID=
WPID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$T/daemon.log" 2>/dev/null; exit 1; }
mkdir -p "$T/logs"

# The writer: lines of a few templates, a rotation by rename every 20,000 lines; it records the
# number of lines it wrote in $T/written when it stops (SIGTERM).
cat > "$T/writer.py" <<'EOF'
import os, random, signal, sys, time
d, out = sys.argv[1], sys.argv[2]
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
rnd = random.Random(11)
path = os.path.join(d, "app.log")
f = open(path, "a")
n = 0
gen = 1
while not stop:
    for _ in range(200):
        k = rnd.randrange(4)
        if k == 0:
            f.write(f"2026-11-25T10:00:00Z INFO request {n} served in {rnd.randrange(900)} ms\n")
        elif k == 1:
            f.write(f"2026-11-25T10:00:00Z WARN cache miss for key user:{rnd.randrange(10**6)}\n")
        elif k == 2:
            f.write(f"2026-11-25T10:00:00Z INFO block blk_{rnd.randrange(10**12)} stored on 10.0.{rnd.randrange(256)}.{rnd.randrange(256)}\n")
        else:
            f.write(f"2026-11-25T10:00:00Z ERROR disk {rnd.randrange(8)} latency {rnd.randrange(10**4)} us\n")
        n += 1
        if n % 20000 == 0:
            f.close()
            os.rename(path, os.path.join(d, f"app.log.{gen}"))
            gen += 1
            f = open(path, "a")
    f.flush()
    time.sleep(0.01)
f.close()
open(out, "w").write(str(n))
EOF
python3 "$T/writer.py" "$T/logs" "$T/written" &
WPID=$!

start() {
  "$LW" run --data-dir "$T/data" --tail "$T/logs/app.log*" --no-syslog --no-http \
    --log-level warn >>"$T/daemon.log" 2>&1 &
  PID=$!
}

for i in $(seq 1 "$KILLS"); do
  start
  sleep "$(python3 -c "import random; print(round(random.uniform(0.3, 1.5), 2))")"
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
  if [ -f "$T/data/logwarden.db" ]; then
    ok=$(sqlite3 "$T/data/logwarden.db" 'PRAGMA integrity_check' 2>&1 || true)
    [ "$ok" = "ok" ] || fail "integrity_check after kill $i: $ok"
  fi
done

kill -TERM "$WPID"
wait "$WPID" || true
WPID=
written=$(cat "$T/written")

# A last run reads everything that is left, then stops cleanly.
start
prev=-1
for _ in $(seq 1 300); do
  cur=$("$LW" status --data-dir "$T/data" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])')
  if [ "$cur" -ge "$written" ] && [ "$cur" = "$prev" ]; then break; fi
  prev=$cur
  sleep 0.3
done
kill -TERM "$PID"
wait "$PID" || fail "the last run did not stop cleanly"
PID=
stored=$("$LW" status --data-dir "$T/data" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])')
ok=$(sqlite3 "$T/data/logwarden.db" 'PRAGMA integrity_check')
[ "$ok" = "ok" ] || fail "final integrity_check: $ok"
echo "written $written, stored $stored, kills $KILLS"
[ "$stored" -ge "$written" ] || fail "lost $((written - stored)) lines"
# At most one batch (4096 lines, the tail's group size) counted twice per kill.
[ "$((stored - written))" -le "$((KILLS * 4096))" ] || fail "$((stored - written)) lines counted twice"
echo "test_crash: ok"
