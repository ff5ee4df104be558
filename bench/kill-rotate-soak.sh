#!/usr/bin/env bash
# Kill-and-rotate soak: nothing the tail accepted may be lost across crashes and rotations.
#
# A writer appends numbered lines to logs/app.log and rotates it the way logrotate does
# (app.log.N -> app.log.N+1, app.log -> app.log.1, app.log.2 compressed to app.log.2.gz with the
# original's mtime, as gzip keeps it; nothing is deleted) every ROT_MIN..ROT_MAX seconds. The
# daemon tails logs/app.log only (rotated siblings are found by their names) and is killed with
# SIGKILL KILLS times, UP_MIN..UP_MAX seconds after each start; every downtime lasts until the
# writer has rotated at least twice. A last run reads what is left. Then the store's
# stored_lines is compared with the lines written: lost = written - stored when positive (target
# 0), duplicates = stored - written when positive (target: at most one group of 4096 lines per
# kill).
#
# usage: bench/kill-rotate-soak.sh [path/to/logwarden]
# environment: KILLS (20), ROT_MIN (0.3), ROT_MAX (3), UP_MIN (0.5), UP_MAX (3), RATE (lines
# per second, 10000), COMPRESS (1), KEEP (keep the work directory when set).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LW=${1:-$ROOT/build/logwarden}
KILLS=${KILLS:-20}
ROT_MIN=${ROT_MIN:-0.3}
ROT_MAX=${ROT_MAX:-3}
UP_MIN=${UP_MIN:-0.5}
UP_MAX=${UP_MAX:-3}
RATE=${RATE:-10000}
COMPRESS=${COMPRESS:-1}
[ -x "$LW" ] || { echo "no executable $LW" >&2; exit 1; }
T=$(mktemp -d)
PID=
WPID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "work directory kept: $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$T/daemon.log" 2>/dev/null; exit 1; }
mkdir -p "$T/logs"

cat > "$T/writer.py" <<'EOF'
import gzip, os, random, shutil, signal, sys, time
d, out, rotations = sys.argv[1], sys.argv[2], sys.argv[3]
rot_min, rot_max, rate, compress = float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]), sys.argv[7] == "1"
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
rnd = random.Random(5)
base = os.path.join(d, "app.log")
def name(k):
    p = f"{base}.{k}"
    return p + ".gz" if os.path.exists(p + ".gz") else p
def rotate(n_rot):
    k = n_rot
    while k >= 1:
        src = name(k)
        if os.path.exists(src):
            os.rename(src, f"{base}.{k + 1}" + (".gz" if src.endswith(".gz") else ""))
        k -= 1
    os.rename(base, f"{base}.1")
    two = f"{base}.2"
    if compress and os.path.exists(two):
        st = os.stat(two)
        with open(two, "rb") as fi, gzip.open(two + ".gz", "wb") as fo:
            shutil.copyfileobj(fi, fo)
        os.utime(two + ".gz", ns=(st.st_atime_ns, st.st_mtime_ns))
        os.unlink(two)
f = open(base, "a")
n = 0
n_rot = 0
next_rot = time.monotonic() + rnd.uniform(rot_min, rot_max)
per_tick = max(1, rate // 100)
while not stop:
    for _ in range(per_tick):
        f.write(f"2026-12-04T10:00:00Z INFO request seq={n} served in {rnd.randrange(900)} ms\n")
        n += 1
    f.flush()
    if time.monotonic() >= next_rot:
        f.close()
        rotate(n_rot)
        n_rot += 1
        f = open(base, "a")
        open(rotations + ".tmp", "w").write(str(n_rot))
        os.replace(rotations + ".tmp", rotations)
        next_rot = time.monotonic() + rnd.uniform(rot_min, rot_max)
    time.sleep(0.01)
f.close()
open(out, "w").write(str(n))
EOF
echo 0 > "$T/rotations"
python3 "$T/writer.py" "$T/logs" "$T/written" "$T/rotations" "$ROT_MIN" "$ROT_MAX" "$RATE" \
  "$COMPRESS" &
WPID=$!

start() {
  "$LW" run --data-dir "$T/data" --tail "$T/logs/app.log" --no-syslog --no-http \
    --no-detect --log-level "${LOG_LEVEL:-warn}" >>"$T/daemon.log" 2>&1 &
  PID=$!
}
stored_lines() {
  "$LW" status --data-dir "$T/data" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])'
}
rand() { python3 -c "import random; print(round(random.uniform($1, $2), 2))"; }

t0=$(date +%s)
for i in $(seq 1 "$KILLS"); do
  start
  sleep "$(rand "$UP_MIN" "$UP_MAX")"
  kill -9 "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
  # Down until the writer has rotated twice.
  r0=$(cat "$T/rotations")
  while [ "$(cat "$T/rotations")" -lt "$((r0 + 2))" ]; do
    kill -0 "$WPID" 2>/dev/null || fail "the writer died"
    sleep 0.05
  done
done

kill -TERM "$WPID"
wait "$WPID" || true
WPID=
written=$(cat "$T/written")
rotations=$(cat "$T/rotations")

# A last run reads what is left, then stops cleanly.
start
prev=-1
for _ in $(seq 1 400); do
  cur=$(stored_lines)
  if [ "$cur" -ge "$written" ] && [ "$cur" = "$prev" ]; then break; fi
  prev=$cur
  sleep 0.3
done
kill -TERM "$PID"
wait "$PID" || fail "the last run did not stop cleanly"
PID=
stored=$(stored_lines)
ok=$(sqlite3 "$T/data/logwarden.db" 'PRAGMA integrity_check')
[ "$ok" = "ok" ] || fail "integrity_check: $ok"
files=$(ls "$T/logs" | wc -l)
lost=$((written > stored ? written - stored : 0))
dups=$((stored > written ? stored - written : 0))
echo "kill-rotate-soak: kills $KILLS, rotations $rotations, files $files, written $written," \
  "stored $stored, lost $lost, duplicates $dups (limit $((KILLS * 4096))), $(( $(date +%s) - t0 )) s"
[ "$lost" -eq 0 ] || fail "lost $lost lines"
[ "$dups" -le "$((KILLS * 4096))" ] || fail "$dups lines counted twice"
echo "kill-rotate-soak: ok"
