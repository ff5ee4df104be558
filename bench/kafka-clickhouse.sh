#!/usr/bin/env bash
# kafka-clickhouse.sh: Kafka -> ClickHouse lines/s for ONE instance. A real single-node Kafka
# broker and a private clickhouse-server (tests/integration/tools/) run on this machine; LINES
# generated lines (loggen.py over the seven Loghub-2k samples, keyed by one of 64 hosts) are
# produced to a PARTITIONS-partition topic first (TIMES=live, the default: the lines' timestamps
# are rewritten by tools/live_times.py into a live stream of EVENT_RATE lines per second ending
# now; TIMES=loggen keeps loggen's scattered dates, which spread every transaction over dozens
# of daily partitions, a backfill's worst case); then the Release daemon (store.backend
# clickhouse, the Kafka input) starts, and the time is taken from its group join until
# ClickHouse's sum of counts reaches LINES (checked exactly at the end). It also prints the
# sustained rate, from the first commit ClickHouse shows to the last.
# With PERF=1 the daemon runs under `perf record -g` during the ingest and the report prints
# the share of CPU per thread and the top functions, to split the cost between the input
# (librdkafka, the consumer thread), the engine (parse, mine, count) and the store (HTTP/TSV).
#
#   make build && bench/kafka-clickhouse.sh
#   LINES=200000 PERF=1 bench/kafka-clickhouse.sh
#
# With CH_LOG=1 ClickHouse logs its queries and the bench prints, per statement kind, how many
# ran during the ingest and how long they took inside ClickHouse.
#
# Environment: LINES (1000000), PARTITIONS (4), DETECT (0), FLUSH (the daemon's: 1s on
# ClickHouse), PERF (0), CH_LOG (0),
# TIMES (live), EVENT_RATE (100000),
# BENCH_DIR, LW_BIN, KEEP=1. Do not run it while the test suite runs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/integration/tools/kafka.sh"
. "$ROOT/tests/integration/tools/clickhouse.sh"

LINES=${LINES:-1000000}
PARTITIONS=${PARTITIONS:-4}
DETECT=${DETECT:-0}
FLUSH=${FLUSH:-}
PERF=${PERF:-0}
CH_LOG=${CH_LOG:-0}
TIMES=${TIMES:-live}
EVENT_RATE=${EVENT_RATE:-100000}
export CH_LOG_QUERIES=$CH_LOG
ch_available || die "clickhouse-server is not installed (scripts/install-deps.sh installs it)"
command -v kcat >/dev/null || die "kcat is needed (apt-get install kcat)"
input=$(gen_input "$LINES")
W=$(mktemp -d "$BENCH_DIR/$BENCH_NAME.XXXXXX")
case $TIMES in
live)
    python3 "$ROOT/bench/tools/live_times.py" --rate "$EVENT_RATE" "$input" "$W/input.log"
    input=$W/input.log
    keyed=$W/input.keyed
    awk '{ printf "host%02d|%s\n", NR % 64, $0 }' "$input" >"$keyed"
    ;;
loggen)
    keyed=$BENCH_DIR/loghub7-$LINES.keyed
    [ -s "$keyed" ] || awk '{ printf "host%02d|%s\n", NR % 64, $0 }' "$input" >"$keyed"
    ;;
*) die "TIMES must be live or loggen" ;;
esac
PID=
cleanup() {
    [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    kafka_stop
    ch_stop
    [ -n "${KEEP:-}" ] || rm -rf "$W"
}
trap cleanup EXIT
rc=0
kafka_start "$W/kafka" || rc=$?
[ "$rc" -eq 0 ] || die "no Kafka broker (exit $rc)"
ch_start "$W/ch" || die "clickhouse-server did not start"
kafka_topic logs "$PARTITIONS"
p0=$(now)
kcat -P -b "$KAFKA_BOOTSTRAP" -t logs -K '|' -l "$keyed"
p1=$(now)
echo "input: $LINES lines ($(($(stat -c %s "$input") / 1000000)) MB, times: $TIMES$([ "$TIMES" = live ] &&
     echo ", $EVENT_RATE lines per event-time second")) keyed by 64 hosts, produced to" \
     "$PARTITIONS partitions in $(secs "$p0" "$p1") s; clickhouse-server $(ch_query 'SELECT version()'); $(nproc) CPUs"

ch_sum() {
    local v
    v=$(ch_query "SELECT sum(count) FROM bench.window_counts_v" 2>/dev/null) || v=0
    echo "${v:-0}"
}
detect=--no-detect
[ "$DETECT" = 1 ] && detect=
cat >"$W/conf.yaml" <<EOF
store:
  backend: clickhouse
  clickhouse:
    url: $CH_URL
    database: bench
$([ -n "$FLUSH" ] && printf 'pipeline:\n  flush_interval: %s\n' "$FLUSH")
inputs:
  kafka:
    brokers: "$KAFKA_BOOTSTRAP"
    topics: [logs]
    group: bench
    key_as_host: true
${KAFKA_EXTRA:-}
EOF
t0=$(now)
if [ "$PERF" = 1 ]; then
    perf record -q -g -o "$W/perf.data" -- "$LW_BIN" run -c "$W/conf.yaml" --data-dir "$W/data" \
        --no-syslog --no-http $detect 2>"$W/daemon.log" &
else
    "$LW_BIN" run -c "$W/conf.yaml" --data-dir "$W/data" --no-syslog --no-http $detect \
        2>"$W/daemon.log" &
fi
PID=$!
while ! grep -q 'assigned logs/' "$W/daemon.log" 2>/dev/null; do
    kill -0 "$PID" 2>/dev/null || die "daemon exited: $(tail -5 "$W/daemon.log")"
    sleep 0.05
done
tj=$(now)
cpu0="$(box_busy) $(proc_cpu "$KAFKA_PID") $(proc_cpu "$CH_PID") $(proc_cpu "$PID")"
# The first commit seen: the sustained rate runs from it to the last (both are commits landing,
# so neither the start nor the last flush interval weighs on it).
tf=
sf=0
while :; do
    s=$(ch_sum)
    [ -z "$tf" ] && [ "$s" -gt 0 ] && tf=$(now) && sf=$s
    [ "$s" -ge "$LINES" ] && break
    kill -0 "$PID" 2>/dev/null || die "daemon exited: $(tail -5 "$W/daemon.log")"
    awk -v s="$tj" -v t="$(now)" 'BEGIN { exit !(t - s > 900) }' && die "timeout at $(ch_sum) lines"
    sleep 0.1
done
t1=$(now)
cpu1="$(box_busy) $(proc_cpu "$KAFKA_PID") $(proc_cpu "$CH_PID") $(proc_cpu "$PID")"
echo "kafka -> clickhouse, 1 instance: group joined after $(secs "$t0" "$tj") s; $LINES lines in" \
     "$(secs "$tj" "$t1") s after the join = $(rate "$LINES" "$tj" "$t1") lines/s" \
     "(detection $([ "$DETECT" = 1 ] && echo on || echo off))"
if [ "$sf" -lt "$LINES" ]; then
    echo "sustained: $((LINES - sf)) lines from the first commit seen to the last in" \
         "$(secs "$tf" "$t1") s = $(rate $((LINES - sf)) "$tf" "$t1") lines/s"
fi
echo "CPU seconds from the join to the last count (of $(secs "$tj" "$t1") s x $(nproc) CPUs):" \
     "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { split(a, x, " "); split(b, y, " ")
        printf "machine %.2f, broker %.2f, clickhouse-server %.2f, logwarden %.2f",
               y[1] - x[1], y[2] - x[2], y[3] - x[3], y[4] - x[4] }')"
if [ "$PERF" = 1 ]; then
    # perf passes SIGINT on to the daemon (which stops as on SIGTERM) and writes its data.
    kill -INT "$PID"
    wait "$PID" || true
else
    echo "daemon CPU seconds by thread: $(thread_cpu "$PID"); peak RSS (VmHWM)" \
         "$(($(proc_kib "$PID" VmHWM) / 1024)) MiB"
    kill -TERM "$PID"
    wait "$PID" || die "the daemon did not exit 0"
fi
PID=
got=$(ch_sum)
[ "$got" = "$LINES" ] || die "ClickHouse holds $got lines, want exactly $LINES"
if [ "$CH_LOG" = 1 ]; then
    sleep 1 # the query log is flushed every 500 ms
    echo "--- ClickHouse time per statement (query_log, whole run): kind, count, total s, max s, rows"
    ch_query "SELECT extract(query, '^(INSERT INTO [a-z_.]+|SELECT [a-zA-Z(]+[^ ]* [^ ]* [^ ]* [^ ]*|CREATE|ALTER)') AS k,
                     count(), round(sum(query_duration_ms) / 1000, 2), round(max(query_duration_ms) / 1000, 2),
                     sum(written_rows)
              FROM system.query_log WHERE type = 2 AND query NOT LIKE '%query_log%'
              GROUP BY k ORDER BY sum(query_duration_ms) DESC LIMIT 15" || true
fi
if [ "$PERF" = 1 ]; then
    echo "--- CPU by thread (perf, whole run incl. start and stop)"
    perf report -i "$W/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -12 || true
    echo "--- top functions"
    perf report -i "$W/perf.data" --no-children --sort comm,dso,sym --stdio 2>/dev/null |
        grep -E '^ +[0-9]' | head -25 || true
fi
