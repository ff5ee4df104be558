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

# ch_wait_visible DB WANT SECONDS: waits (polling every 0.1 s, SECONDS at most) until DB's
# readers see at least WANT lines. It never fails: the caller asserts the figure it wants.
ch_wait_visible() {
  local i
  for i in $(seq 1 $(($3 * 10))); do
    [ "$(ch_visible "$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  return 0
}

# stop_daemon MESSAGE: stops $PID with SIGTERM; fails with MESSAGE unless it exits with 0.
stop_daemon() {
  kill -TERM "$PID"
  wait "$PID" || fail "$1"
  PID=
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
