#!/usr/bin/env bash
# examples/logwarden.yaml is a valid configuration: the daemon starts with it (plus flags that
# move its data, tail, syslog and HTTP into a temp dir and free ports), counts a line appended to
# a tailed file, and stops with exit 0 on SIGTERM.
# usage: bash test_config_example.sh /path/to/logwarden   (exit 0 pass, 1 fail)
set -euo pipefail
LW=${1:?usage: test_config_example.sh /path/to/logwarden}
CONF="$(dirname "$0")/../../examples/logwarden.yaml"
T=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/daemon.log" ] && tail -20 "$T/daemon.log"; exit 1; }

[ -f "$CONF" ] || fail "no example configuration at $CONF"
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
SP=$(free_port)
HP=$(free_port)
[ "$SP" != "$HP" ] || HP=$(free_port)

stored() {
  "$LW" status --data-dir "$T/data" --json 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])' 2>/dev/null || echo 0
}

: > "$T/app.log"
"$LW" run --config "$CONF" --data-dir "$T/data" --tail "$T/app.log" \
  --syslog "127.0.0.1:$SP" --http "127.0.0.1:$HP" >"$T/daemon.log" 2>&1 &
PID=$!

up=0
for _ in $(seq 1 100); do
  kill -0 "$PID" 2>/dev/null || fail "the daemon exited at start"
  if curl -sf "http://127.0.0.1:$HP/api/v1/status" >"$T/status.json" 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
[ "$up" = 1 ] || fail "GET /api/v1/status did not answer"
grep -q '"running":true' "$T/status.json" || fail "unexpected status: $(cat "$T/status.json")"

echo "2026-11-25T10:00:00Z INFO config example test line 1" >> "$T/app.log"
n=0
for _ in $(seq 1 100); do
  n=$(stored)
  [ "$n" -ge 1 ] && break
  sleep 0.1
done
[ "$n" -ge 1 ] || fail "the appended line was not counted (stored_lines $n)"

kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[ "$rc" = 0 ] || fail "exit code $rc after SIGTERM"
[ "$(stored)" = 1 ] || fail "stored_lines $(stored) after stop, want 1"
echo "PASS"
