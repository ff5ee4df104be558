#!/usr/bin/env bash
# Issue 9, case 9: idle HTTP connections cannot stop ingest nor flood the log. A client at another
# address (127.0.0.2) opens 300 TCP connections and sends nothing. Checked: the per-address limit
# (inputs.http.max_connections_per_ip, 20 here) refuses what is over it, the refusals are counted
# in /metrics and logged on few lines (rate-limited, with a count), a well-behaved client at
# 127.0.0.1 ingests from fresh connections meanwhile and its lines are stored, and the idle
# connections that were let in are closed by inputs.http.idle_timeout (3 s here).
set -euo pipefail
LW=${1:?usage: test_http_idle_conns.sh /path/to/logwarden}
. "$(dirname "$0")/tools/robust_lib.sh"
python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
  { echo "SKIP: cannot bind 127.0.0.2 (the loopback network is not 127.0.0.0/8 here)"; exit 77; }
printf 'inputs:\n  http:\n    max_connections_per_ip: 20\n    idle_timeout: 3s\n' > "$T/conf.yaml"
start --no-syslog --config "$T/conf.yaml"

# 300 idle connections from 127.0.0.2; prints how many the server closed once the last is
# closed, or after 60 s.
cat > "$T/idle.py" <<'EOF_PY'
import socket, sys, time, select
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for i in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        continue
    socks.append(s)
print("opened %d" % len(socks), file=sys.stderr, flush=True)
t0 = time.monotonic()
open_ = set(socks)
while open_ and time.monotonic() - t0 < 60:
    r, _, _ = select.select(list(open_), [], [], 1)
    for s in r:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            open_.discard(s)
print("closed %d of %d; still open %d" % (len(socks) - len(open_), len(socks), len(open_)))
EOF_PY
python3 "$T/idle.py" "$HP" 300 > "$T/idle.out" 2> "$T/idle.err" &
holder=$!
for _ in $(seq 1 100); do grep -q opened "$T/idle.err" 2>/dev/null && break; sleep 0.1; done
grep -q opened "$T/idle.err" || fail "the idle client did not open its connections"
note "idle client: $(cat "$T/idle.err")"

# Meanwhile a well-behaved client ingests from fresh connections.
for i in 1 2 3 4 5; do
  timeout 20 python3 "$TOOLS/robust_client.py" ingest "$HP" 40 >/dev/null ||
    fail "HTTP ingest $i from 127.0.0.1 failed while 300 idle connections were held"
done
wait_stored 200 30
refused=$(metric lw_http_connections_refused_total)
note "refused connections: $refused"
[ "$refused" -ge 250 ] ||
  fail "lw_http_connections_refused_total is $refused, want >= 250 (280 over the limit of 20)"

# The admitted idle connections are closed by the idle timeout (3 s; the holder gives up at 60 s).
wait "$holder" || true
note "idle client: $(cat "$T/idle.out")"
grep -q "still open 0" "$T/idle.out" ||
  fail "idle connections not closed by idle_timeout: $(cat "$T/idle.out")"
open_now=$(metric lw_http_connections_open)
[ "$open_now" -le 1 ] || fail "lw_http_connections_open is $open_now after the idle client left"

# The log names the refusals on few lines, with a count of those held back.
warns=$(grep -c "warn" "$T/daemon.log" || true)
note "warning lines in the log: $warns"
if [ "$warns" -gt 10 ]; then
  grep warn "$T/daemon.log" | head -20
  fail "$warns warning lines for one idle client"
fi
grep -q "connection refused: over inputs.http.max_connections" "$T/daemon.log" ||
  fail "no warning names the refused connections"
finish
echo "test_http_idle_conns: ok"
