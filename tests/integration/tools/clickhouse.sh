#!/usr/bin/env bash
# Starts and stops a private ClickHouse server for the integration tests: Debian's
# /usr/sbin/clickhouse-server with its own config, listening on 127.0.0.1 only, on free ports,
# with its data, tmp and logs under a directory the caller owns (usually the test's mktemp -d).
#
#   . tests/integration/tools/clickhouse.sh
#   ch_start "$T/ch" || exit 77       # sets CH_URL (http://127.0.0.1:PORT), CH_PID, CH_DIR
#   ch_query "SELECT 1"               # runs one query over HTTP, prints the TSV answer
#   ch_stop                           # SIGTERM, then SIGKILL after 10 s; safe to call twice
#   ch_restart                        # ch_stop then ch_start on the same directory and port
#
# ch_start returns 1 with a reason on stderr when the server is not installed (the caller
# skips with 77) or does not answer within 30 s (the caller fails).

CH_SERVER=${CH_SERVER:-/usr/sbin/clickhouse-server}
CH_PID=
CH_URL=
CH_DIR=
CH_HTTP_PORT=
CH_TCP_PORT=

ch_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

ch_available() {
  [ -x "$CH_SERVER" ] && command -v curl >/dev/null 2>&1
}

# Writes the config into $CH_DIR (keeps the ports chosen before, for ch_restart).
ch_write_config() {
  mkdir -p "$CH_DIR/data" "$CH_DIR/tmp" "$CH_DIR/log" "$CH_DIR/user_files" "$CH_DIR/format_schemas"
  cat > "$CH_DIR/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$CH_DIR/log/server.log</log>
        <errorlog>$CH_DIR/log/server.err.log</errorlog>
        <size>10M</size>
        <count>1</count>
    </logger>
    <http_port>$CH_HTTP_PORT</http_port>
    <tcp_port>$CH_TCP_PORT</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <max_connections>256</max_connections>
    <keep_alive_timeout>10</keep_alive_timeout>
    <max_concurrent_queries>50</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>$CH_DIR/data/</path>
    <tmp_path>$CH_DIR/tmp/</tmp_path>
    <user_files_path>$CH_DIR/user_files/</user_files_path>
    <format_schema_path>$CH_DIR/format_schemas/</format_schema_path>
    <users_config>$CH_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <flush_interval_milliseconds>500</flush_interval_milliseconds>
    </query_log>
</yandex>
XML
  cat > "$CH_DIR/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <load_balancing>random</load_balancing>
            <log_queries>${CH_LOG_QUERIES:-0}</log_queries>
        </default>
        <readonly><readonly>1</readonly></readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
XML
}

ch_query() {
  curl -sS --fail-with-body -m 60 "$CH_URL/" --data-binary "$1"
}

ch_start() {
  local dir=${1:?ch_start DIR} i
  if ! ch_available; then
    echo "clickhouse.sh: $CH_SERVER (Debian package clickhouse-server) or curl is not installed;" \
         "scripts/install-deps.sh installs them" >&2
    return 1
  fi
  CH_DIR=$dir
  if [ -z "$CH_HTTP_PORT" ]; then
    CH_HTTP_PORT=$(ch_free_port)
    CH_TCP_PORT=$(ch_free_port)
  fi
  ch_write_config
  CH_URL="http://127.0.0.1:$CH_HTTP_PORT"
  "$CH_SERVER" --config-file="$CH_DIR/config.xml" >>"$CH_DIR/log/stdout.log" 2>&1 &
  CH_PID=$!
  for i in $(seq 1 300); do
    if curl -s -m 1 "$CH_URL/ping" 2>/dev/null | grep -q Ok; then
      return 0
    fi
    if ! kill -0 "$CH_PID" 2>/dev/null; then
      echo "clickhouse.sh: the server exited at start; its log:" >&2
      tail -20 "$CH_DIR/log/server.err.log" "$CH_DIR/log/stdout.log" >&2 2>/dev/null
      CH_PID=
      return 1
    fi
    sleep 0.1
  done
  echo "clickhouse.sh: no answer on $CH_URL/ping after 30 s" >&2
  return 1
}

ch_stop() {
  local i
  [ -n "$CH_PID" ] || return 0
  kill -TERM "$CH_PID" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$CH_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$CH_PID" 2>/dev/null || true
  wait "$CH_PID" 2>/dev/null || true
  CH_PID=
}

ch_restart() {
  ch_stop
  ch_start "$CH_DIR"
}
