#!/usr/bin/env bash
# logwarden run end to end: a real daemon on 127.0.0.1 with a real SQLite store in a temp dir.
# File tail, syslog over TCP and UDP, HTTP NDJSON ingest, /metrics, status with and without the
# daemon, SIGTERM drains and exits 0, a second daemon on the same dir is refused, a config file
# with an unknown key is an error that names the key, and a restart resumes the tail.
set -euo pipefail
LW=${1:?usage: test_run.sh /path/to/logwarden}
T=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/daemon.log" ] && tail -20 "$T/daemon.log"; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
SP=$(free_port)
HP=$(free_port)

start() {
  "$LW" run --data-dir "$T/data" --tail "$T/logs/*.log" --syslog "127.0.0.1:$SP" \
    --http "127.0.0.1:$HP" "$@" >>"$T/daemon.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$HP/api/v1/status" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  fail "daemon did not come up"
}

stored() { "$LW" status --data-dir "$T/data" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])'; }

wait_stored() {
  local want=$1
  for _ in $(seq 1 100); do
    [ "$(stored)" -ge "$want" ] && return 0
    sleep 0.1
  done
  fail "stored_lines $(stored), want $want"
}

mkdir -p "$T/logs"
"$LW" demo --lines 3000 --seed 5 > "$T/logs/app.log"

# --- a config file with an unknown key is refused and the key is named
printf 'data_dir: %s\npipline:\n  workers: 2\n' "$T/data" > "$T/bad.yaml"
if "$LW" run --config "$T/bad.yaml" --no-syslog --no-http >"$T/bad.out" 2>&1; then
  fail "a config with an unknown key was accepted"
fi
grep -q "pipline" "$T/bad.out" || fail "the error does not name the unknown key: $(cat "$T/bad.out")"

# --- status before any daemon ran: a clear error
if "$LW" status --data-dir "$T/nothing" >"$T/st.out" 2>&1; then fail "status on an empty dir succeeded"; fi

start
wait_stored 3000

# --- a second daemon on the same data dir is refused
if "$LW" run --data-dir "$T/data" --no-syslog --no-http >"$T/second.out" 2>&1; then
  fail "a second daemon started on the same data dir"
fi
grep -q "another logwarden is running" "$T/second.out" || fail "no clear message: $(cat "$T/second.out")"

# --- appended lines are counted
"$LW" demo --lines 500 --seed 6 >> "$T/logs/app.log"
wait_stored 3500

# --- syslog over TCP (newline and octet counting) and UDP
python3 - "$SP" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
msgs = [f"<34>1 2026-11-25T10:00:{i % 60:02d}Z host1 app 42 ID47 - request {i} done in {i % 97} ms"
        for i in range(200)]
s.sendall("".join(m + "\n" for m in msgs[:100]).encode())
s.close()
# Framing is chosen per connection by its first byte: octet counting on a connection of its own.
s = socket.create_connection(("127.0.0.1", port))
s.sendall("".join(f"{len(m.encode())} {m}" for m in msgs[100:]).encode())
s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):
    u.sendto(f"<13>Nov 25 10:00:{i:02d} host2 sshd[7]: Accepted password for u{i} from 10.0.0.{i} port 22 ssh2".encode(),
             ("127.0.0.1", port))
    time.sleep(0.002)
EOF
wait_stored 3750

# --- HTTP NDJSON ingest
python3 - "$HP" <<'EOF'
import json, sys, urllib.request
port = int(sys.argv[1])
body = "".join(json.dumps({"message": f"user {i} logged in", "level": "info", "host": "web1",
                           "time": "2026-11-25T10:00:00Z"}) + "\n" for i in range(100))
req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/ingest", data=body.encode(),
                             headers={"Content-Type": "application/x-ndjson"}, method="POST")
with urllib.request.urlopen(req) as r:
    out = json.load(r)
assert out.get("accepted") == 100, out
EOF
wait_stored 3850

# --- /metrics has the contract's counter
# (captured first: with pipefail, grep -q leaving early would fail curl with SIGPIPE)
metrics=$(curl -sf "http://127.0.0.1:$HP/metrics") || fail "GET /metrics"
grep -q '^logwarden_stored_lines_total ' <<<"$metrics" || fail "no logwarden_stored_lines_total"

# --- SIGTERM drains and exits 0
kill -TERM "$PID"
wait "$PID" || fail "daemon exited non-zero on SIGTERM"
PID=
[ "$(stored)" -eq 3850 ] || fail "after stop stored_lines $(stored), want 3850"
st=$("$LW" status --data-dir "$T/data" --json)
grep -q '"running":false' <<<"$st" || fail "status says running: $st"
sqlite3 "$T/data/logwarden.db" 'PRAGMA integrity_check' | grep -qx ok || fail "integrity_check"

# --- restart: the tail resumes where it stopped (no line counted twice)
"$LW" demo --lines 100 --seed 7 >> "$T/logs/app.log"
start
wait_stored 3950
sleep 1
[ "$(stored)" -eq 3950 ] || fail "after restart stored_lines $(stored), want 3950"
kill -TERM "$PID"; wait "$PID" || fail "second stop"
PID=
# --- SIGHUP re-reads the configuration: a tail pattern added to the file takes effect
mkdir -p "$T/more"
echo "2026-11-25T10:00:00Z INFO reload check line" > "$T/more/m.log"
printf 'inputs:\n  tail:\n    paths: ["%s/logs/*.log"]\n' "$T" > "$T/c.yaml"
"$LW" run --config "$T/c.yaml" --data-dir "$T/data" --no-syslog --no-http >>"$T/daemon.log" 2>&1 &
PID=$!
sleep 1
printf 'inputs:\n  tail:\n    paths: ["%s/logs/*.log", "%s/more/*.log"]\n' "$T" "$T" > "$T/c.yaml"
kill -HUP "$PID"
wait_stored 3951
kill -TERM "$PID"; wait "$PID" || fail "stop after SIGHUP"
PID=

# --- stdin as the only input: the daemon stops at its end
printf 'a\nb\nc\n' | "$LW" run --stdin --no-syslog --no-http --data-dir "$T/data" >>"$T/daemon.log" 2>&1 \
  || fail "stdin run"
[ "$(stored)" -eq 3954 ] || fail "after stdin stored_lines $(stored), want 3954"
echo "test_run: ok"
