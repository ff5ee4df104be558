#!/usr/bin/env bash
# A full disk loses nothing accepted. The data directory is a tmpfs of 32 MiB; the daemon takes
# HTTP lines (every one a new template, so the store grows fast) until a filler file has taken
# the rest of the space. Then: the log names the full disk ("disk full: DIR/logwarden.db: N bytes
# free; ingest paused until space is freed", not "input/output error", and not at every retry),
# HTTP answers 503 instead of 202 (nothing more is taken into memory), and once the filler is
# removed every acknowledged line is stored, new lines are taken again, and SIGTERM exits 0.
# Needs root for the mount (CI runs as root); skips (77) otherwise.
set -euo pipefail
LW=${1:?usage: test_store_full.sh /path/to/logwarden}
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: mounting a small tmpfs needs root"
  exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/lw-full.XXXXXX")
PID=
MNT="$T/data"
mkdir -p "$MNT"
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -9 "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
  fi
  umount "$MNT" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
if ! mount -t tmpfs -o size=32m,mode=0700 tmpfs "$MNT" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs on $MNT"
  exit 77
fi
fail() {
  echo "FAIL: $*"
  echo "--- daemon.log (last 30 lines)"
  tail -30 "$T/daemon.log" 2>/dev/null || true
  exit 1
}

HP=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
"$LW" run --data-dir "$MNT" --no-syslog --http "127.0.0.1:$HP" --no-detect \
  >>"$T/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 200); do
  curl -s -o /dev/null "http://127.0.0.1:$HP/api/v1/status" 2>/dev/null && break
  kill -0 "$PID" 2>/dev/null || fail "daemon exited at start"
  sleep 0.1
done

# post.py MODE SECONDS: POSTs NDJSON groups of 200 lines (2000 templates, a new host per request,
# so that the store grows by a few hundred rows a request while the miner stays fast); adds the
# accepted lines of every answer (202 or 503 carry "accepted") to $T/acked. MODE "until503"
# stops at the first 503 and fails if none comes in SECONDS; "for" posts for SECONDS and prints
# how many answers were 503.
cat >"$T/post.py" <<'EOF'
import http.client, json, os, random, string, sys, time
port, mode, secs, acked_path = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), sys.argv[4]
rnd = random.Random(os.getpid())
vocab = ["".join(random.Random(i).choice(string.ascii_lowercase) for _ in range(8))
         for i in range(2000)]
acked = int(open(acked_path).read()) if os.path.exists(acked_path) else 0
n503 = 0
t_end = time.monotonic() + secs
while time.monotonic() < t_end:
    host = f"host-{os.getpid()}-{rnd.randrange(10**9)}"
    body = "\n".join(json.dumps({"message": f"{rnd.choice(vocab)} request served in"
                                            f" {rnd.randrange(1000)} ms", "host": host})
                     for _ in range(200))
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("POST", "/api/v1/ingest", body.encode(), {"Content-Type": "application/x-ndjson"})
    r = c.getresponse()
    answer = json.loads(r.read() or b"{}")
    c.close()
    acked += int(answer.get("accepted", 0))
    open(acked_path, "w").write(str(acked))
    if r.status == 503:
        n503 += 1
        if mode == "until503":
            print(n503)
            sys.exit(0)
    elif r.status != 202:
        print(f"unexpected HTTP {r.status}: {answer}", file=sys.stderr)
        sys.exit(1)
if mode == "until503":
    print("no 503 while the disk was full", file=sys.stderr)
    sys.exit(1)
print(n503)
EOF
ACKED="$T/acked"
stored() {
  "$LW" status --data-dir "$MNT" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])'
}
wait_stored() {
  local want=$1 n=0
  for _ in $(seq 1 600); do
    n=$(stored)
    [ "$n" -ge "$want" ] && return 0
    kill -0 "$PID" 2>/dev/null || fail "daemon died waiting for stored_lines $want"
    sleep 0.1
  done
  fail "stored_lines $n, want $want"
}

# 1. A healthy start.
python3 "$T/post.py" "$HP" for 1 "$ACKED" >/dev/null || fail "posting on a healthy disk"
wait_stored "$(cat "$ACKED")"

# 2. The disk fills up: the daemon must say so and stop taking lines.
# Large blocks first, then pages, so that not even a page is left.
dd if=/dev/zero of="$MNT/filler" bs=1M 2>/dev/null || true
dd if=/dev/zero bs=4k 2>/dev/null >>"$MNT/filler" || true
python3 "$T/post.py" "$HP" until503 120 "$ACKED" >/dev/null || fail "HTTP kept answering 202"
kill -0 "$PID" 2>/dev/null || fail "daemon died on the full disk"
grep -q "disk full: $MNT/logwarden.db: [0-9]* bytes free; ingest paused until space is freed" \
  "$T/daemon.log" || fail "no clear disk-full line in the log"
grep -qi "input/output error" "$T/daemon.log" && fail "a full disk logged as an I/O error"
# While the disk stays full, every request is refused: nothing more is held in memory.
acked_full=$(cat "$ACKED")
n503=$(python3 "$T/post.py" "$HP" for 4 "$ACKED") || fail "posting on a full disk"
[ "$n503" -ge 2 ] || fail "only $n503 answers were 503 on a full disk"
[ "$(cat "$ACKED")" = "$acked_full" ] || fail "lines taken into memory on a full disk"
nlog=$(grep -c "disk full: " "$T/daemon.log" || true)
[ "$nlog" -le 2 ] || fail "the disk-full line was logged $nlog times in a few seconds"
echo "# full: $acked_full lines acknowledged, $n503 answers 503, stored $(stored)"

# 3. Space is freed: every acknowledged line ends up stored, ingest resumes.
rm -f "$MNT/filler"
wait_stored "$acked_full"
grep -q "the store commits again" "$T/daemon.log" || fail "recovery not logged"
python3 "$T/post.py" "$HP" for 1 "$ACKED" >/dev/null || fail "posting after space came back"
acked=$(cat "$ACKED")
[ "$acked" -gt "$acked_full" ] || fail "no line taken after space came back"
wait_stored "$acked"

# 4. SIGTERM exits 0 with everything acknowledged stored.
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[ "$rc" -eq 0 ] || fail "daemon exited $rc on SIGTERM"
final=$(stored)
[ "$final" -eq "$acked" ] || fail "acknowledged $acked lines, stored $final"
[ "$(sqlite3 "$MNT/logwarden.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
echo "acknowledged $acked, stored $final"
echo "test_store_full: ok"
