#!/usr/bin/env bash
# Shared by tests/integration/test_cluster*.sh: a real ClickHouse server (tools/clickhouse.sh)
# and a real Kafka broker (tools/kafka_lib.sh: $T, fail, PIDS, start_daemon, cleanup on exit),
# both started here, and the members' configuration and helpers. Source it after setting LW and
# DB (the ClickHouse database); it exits 77 (skip) when ClickHouse or the broker cannot be had.
CL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$CL_HERE/clickhouse.sh"
if ! ch_available; then
  echo "SKIP: clickhouse-server is not installed (scripts/install-deps.sh installs it)"
  exit 77
fi
. "$CL_HERE/kafka_lib.sh"
cl_cleanup() {
  kl_cleanup
  ch_stop
}
trap cl_cleanup EXIT
ch_start "$T/ch" || fail "clickhouse-server did not start"
echo "broker: Apache Kafka at $KAFKA_BOOTSTRAP; clickhouse-server $(ch_query 'SELECT version()')"

# cl_conf MEMBER GROUP TOPICS [EXTRA]: writes $T/conf-MEMBER.yaml: the ClickHouse store ($DB),
# the Kafka input in GROUP on TOPICS (a YAML list's items, "logs, own"), keyed by host, with a
# 6 s session timeout, and EXTRA (more top-level YAML) at the end.
cl_conf() {
  cat > "$T/conf-$1.yaml" <<YAML
store:
  backend: clickhouse
  clickhouse:
    url: $CH_URL
    database: $DB
    timeout: 10s
inputs:
  kafka:
    brokers: "$KAFKA_BOOTSTRAP"
    topics: [$3]
    group: $2
    client_id: member-$1
    key_as_host: true
    properties:
      - session.timeout.ms=6000
      - heartbeat.interval.ms=1000
${4:-}
YAML
}

# run_member MEMBER: starts a member on $T/conf-MEMBER.yaml WITH detection (start_daemon of
# kafka_lib.sh turns it off); its pid goes to $DPID and PIDS, its log to $T/daemon-MEMBER.log.
run_member() {
  "$LW" run --data-dir "$T/data-$1" --no-syslog --no-http --log-level info \
    --config "$T/conf-$1.yaml" >>"$T/daemon-$1.log" 2>&1 &
  DPID=$!
  PIDS+=("$DPID")
}

# ch_sum: lines counted in ClickHouse by every writer (committed transactions only).
ch_sum() {
  local v
  v=$(ch_query "SELECT sum(count) FROM $DB.window_counts_v" 2>/dev/null) || v=0
  echo "${v:-0}"
}

# wait_sum N: waits up to 60 s until ClickHouse counts at least N lines, else fails.
wait_sum() {
  local i
  for i in $(seq 1 300); do
    [ "$(ch_sum)" -ge "$1" ] && return 0
    sleep 0.2
  done
  fail "ClickHouse holds $(ch_sum) lines after 60 s, want $1"
}
