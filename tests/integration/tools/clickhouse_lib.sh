#!/usr/bin/env bash
# Shared by the integration tests that run the daemon on a real ClickHouse server
# (test_clickhouse_*.sh, test_template_ids.sh, test_api_clickhouse.sh): a temp dir $T, a
# private server (tools/clickhouse.sh) started in $T/ch, fail, and cleanup on exit. Source it
# after setting LW; it exits 77 (skip) when clickhouse-server is not installed, and says why.
#
#   PID    the test's daemon, WPID its writer: killed (SIGKILL) at exit when set
#   fail MESSAGE     prints FAIL: MESSAGE and the last lines of the logs, exits 1; the logs are
#                    $T/*.log unless the test redefines show_logs
#   num              filters a query's answer to a number (0 when the server said no)
#   ch_visible DB    the lines DB's readers see counted (the sum of window_counts_v), or 0
#   wait_exit S MSG  reaps $PID within S seconds, or shows its stacks and fails with MSG
# Also tools/ch_lines.py (seeded lines of a few templates) and tools/feed.py (a file in steps).
CHL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$CHL_HERE/clickhouse.sh"
T=$(mktemp -d "${TMPDIR:-/tmp}/lw-$(basename "$0" .sh).XXXXXX")
PID=
WPID=
chl_cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null || true
  [ -n "$WPID" ] && kill -9 "$WPID" 2>/dev/null || true
  ch_stop
  rm -rf "$T"
}
trap chl_cleanup EXIT
# tail -n 20, not tail -20: coreutils refuses the obsolete -20 when given several files (and
# 2>/dev/null would hide the refusal: no log at all).
show_logs() { tail -n 20 "$T"/*.log 2>/dev/null; }
fail() { echo "FAIL: $*"; show_logs; exit 1; }
if ! ch_available; then
  echo "SKIP: clickhouse-server is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
# A test that needs more than ClickHouse checks it in chl_prerequisites (defined before sourcing
# this file; it exits 77 and says why), so that it skips before a server is started for nothing.
if declare -F chl_prerequisites >/dev/null; then
  chl_prerequisites
fi
ch_start "$T/ch" || fail "clickhouse-server did not start"
echo "clickhouse-server $(ch_query 'SELECT version()') on $CH_URL"

num() { grep -E '^[0-9]+$' || echo 0; }
ch_visible() { ch_query "SELECT sum(count) FROM $1.window_counts_v" 2>/dev/null | num; }

# ch_wait_visible DB WANT SECONDS: waits (polling every 0.1 s, SECONDS at most by the clock, however
# slow each query is) until DB's readers see at least WANT lines. It never fails: the caller
# asserts the figure it wants.
ch_wait_visible() {
  local end=$((SECONDS + $3))
  while [ "$SECONDS" -lt "$end" ]; do
    [ "$(ch_visible "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 0
}

# running PID: whether PID runs (an exited child that was not waited for yet does not).
running() {
  local st
  st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# show_stacks PID: every thread's stack of PID, when gdb is installed (what a hung daemon waits
# for, in the failure report).
show_stacks() {
  command -v gdb >/dev/null 2>&1 || { echo "(gdb is not installed: no stacks)"; return 0; }
  echo "--- the stacks of $1:"
  timeout 60 gdb -p "$1" -batch -ex "thread apply all bt" 2>/dev/null | grep -E '^(Thread|#)' \
    | head -n 200 || true
}

# wait_exit SECONDS MESSAGE: waits at most SECONDS for $PID to end, then reaps it: its status in
# EXIT_STATUS, PID cleared. Still running by then: its stacks are shown and the test fails with
# MESSAGE (a hang is a failure that says where, not a test killed by ctest's timeout).
wait_exit() {
  local end=$((SECONDS + $1))
  while running "$PID"; do
    if [ "$SECONDS" -ge "$end" ]; then
      show_stacks "$PID"
      fail "$2 (still running after $1 s)"
    fi
    sleep 0.1
  done
  EXIT_STATUS=0
  wait "$PID" 2>/dev/null || EXIT_STATUS=$?
  PID=
}

# stop_daemon MESSAGE: stops $PID with SIGTERM; fails with MESSAGE unless it exits with 0
# within 60 s.
stop_daemon() {
  kill -TERM "$PID" 2>/dev/null || true  # one that exited already: its status says so below
  wait_exit 60 "$1"
  [ "$EXIT_STATUS" -eq 0 ] || fail "$1 (exit status $EXIT_STATUS)"
}

# The daemons of test_clickhouse_crash.sh and test_clickhouse_fold.sh, one per NAME:
# tail_conf NAME DATABASE [WRITER_ID]: writes $T/NAME.yaml, a store in DATABASE on this server
# (5 s timeout) that commits every 100 ms.
tail_conf() {
  cat > "$T/$1.yaml" <<YAML
store:
  backend: clickhouse
  clickhouse:
    url: $CH_URL
    database: $2${3:+
    writer_id: $3}
    timeout: 5s
pipeline:
  flush_interval: 100ms
YAML
}
# tail_start NAME FILE [ENV=VALUE ...]: starts the daemon on $T/NAME.yaml and $T/data-NAME,
# tailing FILE, with no syslog, HTTP or detection and the environment given; the pid goes to
# $PID, the log to $T/NAME.log.
tail_start() {
  local name=$1 file=$2
  shift 2
  env "$@" "$LW" run -c "$T/$name.yaml" --data-dir "$T/data-$name" --tail "$file" --no-syslog \
    --no-http --no-detect --log-level warn >>"$T/$name.log" 2>&1 &
  PID=$!
}
