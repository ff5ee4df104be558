#!/usr/bin/env bash
# Issue 3, 10,000 idle TCP connections to the syslog port (opened by one python process with
# non-blocking connects). While they are open, a syslog message over a new TCP connection, UDP
# messages and an HTTP ingest are counted within a few seconds; then they are closed and the
# daemon is fine (status works, connections_open returns to 0, SIGTERM exits 0).
# Needs about 10,100 descriptors in the daemon and in the client: the script raises ulimit -n to
# 30000, or to the hard limit, and skips (77) when that is under 10,500.
# The syslog listener's max_connections is set to 10100 (the default, 10000, would leave no room
# for the new connection: see the report of test_robust_bug_conns_limit.sh).
set -euo pipefail
LW=${1:?usage: test_robust_conns.sh /path/to/logwarden}
N=${ROBUST_CONNS:-10000}
ulimit -n 30000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 500)) ]; then
  echo "SKIP: ulimit -n is $(ulimit -n) (hard $(ulimit -Hn)); $((N + 500)) descriptors are needed"
  exit 77
fi
. "$(dirname "$0")/tools/robust_lib.sh"
note "ulimit -n $(ulimit -n), $N idle connections"
cat > "$T/conf.yaml" <<EOF
inputs:
  syslog:
    max_connections: ${ROBUST_MAX_CONNS:-$((N + 100))}
EOF
start --config "$T/conf.yaml"
mkfifo "$T/hold"
python3 "$TOOLS/robust_client.py" idle-conns "$SP" "$N" "$T/ready" < "$T/hold" > "$T/idle.out" 2>&1 &
IDLE=$!
exec 9>"$T/hold"   # the holder keeps its connections until this closes
for _ in $(seq 1 900); do
  [ -f "$T/ready" ] && break
  kill -0 "$IDLE" 2>/dev/null || fail "idle-conns: $(cat "$T/idle.out")"
  sleep 0.1
done
[ -f "$T/ready" ] || fail "the $N connections were not open after 90 s"
alive "with $N idle connections"
for _ in $(seq 1 100); do
  [ "$(metric logwarden_syslog_connections_open)" -ge "$N" ] && break; sleep 0.1
done
open=$(metric logwarden_syslog_connections_open)
note "syslog_connections_open: $open, VmRSS $(( $(rss_kb) / 1024 )) MB"
[ "$open" -ge "$N" ] || fail "syslog_connections_open $open, want $N"
t0=$(date +%s%N)
timeout 5 python3 "$TOOLS/robust_client.py" syslog-tcp "$SP" 10 newconn || fail "syslog TCP over a new connection stalled"
timeout 5 python3 "$TOOLS/robust_client.py" syslog-udp "$SP" 10 udp || fail "syslog UDP stalled"
timeout 5 python3 "$TOOLS/robust_client.py" ingest "$HP" 10 >/dev/null || fail "HTTP ingest stalled"
wait_stored 30 5
note "30 lines counted in $(( ($(date +%s%N) - t0) / 1000000 )) ms with $N idle connections open"
st=$("$LW" status --data-dir "$T/data" --json)
grep -q '"running":true' <<<"$st" || fail "status with $N connections: $st"
exec 9>&-
wait "$IDLE" || fail "idle-conns: $(cat "$T/idle.out")"
cat "$T/idle.out"
grep -q " 0 closed by the server" "$T/idle.out" || fail "the server closed idle connections early: $(cat "$T/idle.out")"
for _ in $(seq 1 100); do
  [ "$(metric logwarden_syslog_connections_open)" -eq 0 ] && break; sleep 0.1
done
[ "$(metric logwarden_syslog_connections_open)" -eq 0 ] ||
  fail "connections_open $(metric logwarden_syslog_connections_open) after the client closed all"
syslog_tcp 5 after
http_ingest 5 >/dev/null
wait_stored 40
"$LW" status --data-dir "$T/data" --json >/dev/null || fail "status after"
finish
echo "test_robust_conns: ok"
