# Shared helpers of the test_robust_*.sh scripts (issue 3: bad input cannot take the daemon
# down or stall other inputs). Sourced, not run. The caller sets LW (the binary) before sourcing.
#
# Every script gets: a temp dir $T with logs/ and data/, two free ports $SP (syslog, UDP and TCP)
# and $HP (HTTP), start/stop of one daemon ($PID), the stored_lines count, /metrics values,
# VmHWM, and finish (SIGTERM -> exit 0, then PRAGMA integrity_check).
set -euo pipefail
: "${LW:?LW must be set before sourcing robust_lib.sh}"
TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/lw-robust.XXXXXX")
PID=
mkdir -p "$T/logs"
_robust_cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  # Background helpers of the script (idle connection holders, slow clients) end with it.
  local j
  for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  rm -rf "$T"
}
trap _robust_cleanup EXIT

fail() {
  echo "FAIL: $*"
  if [ -f "$T/daemon.log" ]; then echo "--- daemon.log (last 30 lines)"; grep -m1 -A40 "ERROR: AddressSanitizer" "$T/daemon.log" || tail -30 "$T/daemon.log"; fi
  exit 1
}
note() { echo "# $*"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
SP=$(free_port)
HP=$(free_port)
while [ "$HP" = "$SP" ]; do HP=$(free_port); done

# start [run options...]: one daemon on $T/data with syslog on $SP and HTTP on $HP.
start() {
  "$LW" run --data-dir "$T/data" --syslog "127.0.0.1:$SP" --http "127.0.0.1:$HP" "$@" \
    >>"$T/daemon.log" 2>&1 &
  PID=$!
  local i
  for i in $(seq 1 200); do
    if curl -s -o /dev/null "http://127.0.0.1:$HP/api/v1/status" 2>/dev/null; then return 0; fi
    kill -0 "$PID" 2>/dev/null || fail "daemon exited at start"
    sleep 0.1
  done
  fail "daemon did not come up"
}

alive() { kill -0 "$PID" 2>/dev/null || fail "daemon died ($*)"; }

stored() {
  "$LW" status --data-dir "$T/data" --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])'
}

# wait_stored N [seconds]: stored_lines reaches N (default 20 s).
wait_stored() {
  local want=$1 secs=${2:-20} i n
  for i in $(seq 1 $((secs * 10))); do
    n=$(stored)
    [ "$n" -ge "$want" ] && return 0
    alive "waiting for stored_lines $want"
    sleep 0.1
  done
  fail "stored_lines $(stored), want >= $want"
}

# metric NAME [LABELS]: the value of one /metrics sample (0 when absent), as an integer.
metric() {
  local auth=()
  [ -n "${TOKEN:-}" ] && auth=(-H "Authorization: Bearer $TOKEN")
  curl -s --max-time 10 "${auth[@]}" "http://127.0.0.1:$HP/metrics" |
    python3 -c '
import sys
name = sys.argv[1] + (("{" + sys.argv[2] + "}") if len(sys.argv) > 2 and sys.argv[2] else "")
v = 0
for line in sys.stdin:
    if line.startswith(name + " "):
        v = int(float(line.split()[-1]))
print(v)' "$@"
}

# wait_metric NAME LABELS MIN [seconds]
wait_metric() {
  local name=$1 labels=$2 want=$3 secs=${4:-20} i
  for i in $(seq 1 $((secs * 10))); do
    [ "$(metric "$name" "$labels")" -ge "$want" ] && return 0
    alive "waiting for $name >= $want"
    sleep 0.1
  done
  fail "$name{$labels} is $(metric "$name" "$labels"), want >= $want"
}

hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$PID/status"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$PID/status"; }

# A normal syslog message over a new TCP connection / a UDP datagram / an HTTP ingest of N lines.
syslog_tcp() { python3 "$TOOLS/robust_client.py" syslog-tcp "$SP" "$@"; }
syslog_udp() { python3 "$TOOLS/robust_client.py" syslog-udp "$SP" "$@"; }
http_ingest() { python3 "$TOOLS/robust_client.py" ingest "$HP" "$@"; }

# finish: SIGTERM exits 0 (under ASan: no leak report either), then the store is intact.
finish() {
  alive "before SIGTERM"
  kill -TERM "$PID"
  local rc=0 i
  for i in $(seq 1 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$PID" 2>/dev/null && fail "daemon still running 30 s after SIGTERM"
  wait "$PID" || rc=$?
  PID=
  [ "$rc" -eq 0 ] || fail "daemon exited $rc on SIGTERM"
  "$LW" status --data-dir "$T/data" --json | grep -q '"running":false' || fail "status says running"
  [ "$(sqlite3 "$T/data/logwarden.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
}

# settle: waits until stored_lines stops moving (unchanged for 1.5 s; at most 30 s), prints it.
settle() {
  local last=-1 same=0 i n
  for i in $(seq 1 150); do
    n=$(stored)
    if [ "$n" -eq "$last" ]; then same=$((same + 1)); else same=0; last=$n; fi
    [ "$same" -ge 7 ] && { echo "$n"; return 0; }
    sleep 0.2
  done
  fail "stored_lines still moving after 30 s"
}
