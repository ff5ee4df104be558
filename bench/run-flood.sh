#!/usr/bin/env bash
# run-flood.sh: overload under a memory cap. The daemon runs with --memory-limit MEMORY_LIMIT
# (64MiB) while TCP_CONNS syslog TCP senders and HTTP_CONNS NDJSON posters send as fast as they
# can for DURATION seconds (each generator alone is many times faster than the daemon: measured
# first against a discarding sink). The daemon's VmRSS is sampled every second.
#
# It shows that the inputs were throttled rather than the memory growing: the TCP senders' per-
# second rate and the time they spent blocked in send(); the HTTP 503 answers (counted by the
# poster and by /metrics logwarden_http_503_total). And that nothing accepted was lost: after the
# senders stop and stored_lines stops changing, stored_lines must equal every line the TCP senders
# wrote plus every line the HTTP answers said was accepted (2xx bodies, plus the "accepted" part of
# 503 answers, which the poster then does not resend).
#
#   bench/run-flood.sh                 # 60 s
#   DURATION=15 bench/run-flood.sh
#
# With the daemon merely busy, HTTP is throttled by slower answers, not 503: the server holds a
# refused group for up to 1 s before answering 503, and a pipeline that drains at ~1.5M lines/s
# frees room well within that. STALL=S (with STALL_AT, default DURATION/3) makes the 503 path
# happen: another process holds the SQLite write lock (BEGIN IMMEDIATE) for S seconds, so commits
# wait, the pipeline stays full and the posters get 503 + Retry-After and resend the rest.
#
# Environment: DURATION (60), MEMORY_LIMIT (64MiB), TCP_CONNS (3), HTTP_CONNS (2), WORKERS (-j),
# STALL (0), STALL_AT, BENCH_DIR, LW_BIN, KEEP=1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DURATION=${DURATION:-60}
MEMORY_LIMIT=${MEMORY_LIMIT:-64MiB}
TCP_CONNS=${TCP_CONNS:-3}
HTTP_CONNS=${HTTP_CONNS:-2}
INPUT=$(gen_input 300000)
extra=()
[ -n "${WORKERS:-}" ] && extra+=(-j "$WORKERS")
json_get() {
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}
python3 "$TOOLS/http_post.py" prepare "$INPUT" >/dev/null

# The generators alone, 2 s each, into discarding sinks.
s1=$(free_port)
python3 "$TOOLS/tcp_send.py" sink --port "$s1" &
p1=$!
s2=$(free_port)
python3 "$TOOLS/http_post.py" sink --port "$s2" &
p2=$!
sleep 0.5
alone_tcp=$(python3 "$TOOLS/tcp_send.py" flood --port "$s1" --conns "$TCP_CONNS" --duration 2 "$INPUT")
alone_http=$(python3 "$TOOLS/http_post.py" flood --port "$s2" --conns "$HTTP_CONNS" --duration 2 "$INPUT")
kill "$p1" "$p2"
wait "$p1" "$p2" 2>/dev/null || true
echo "tcp senders alone (sink):  $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%d lines/s" % (d["lines"]/d["seconds"]))' "$alone_tcp")"
echo "http posters alone (sink): $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%d lines/s" % (d["lines"]/d["seconds"]))' "$alone_http")"

sport=$(free_port)
hport=$(free_port)
start_daemon --syslog "127.0.0.1:$sport" --http "127.0.0.1:$hport" --memory-limit "$MEMORY_LIMIT" \
    "${extra[@]}"
wait_http "$hport"
wait_tcp "$sport"
sleep 0.5
base=$(stored_lines)
echo "daemon --memory-limit $MEMORY_LIMIT; flooding for ${DURATION}s with $TCP_CONNS TCP senders + $HTTP_CONNS HTTP posters"

rss_log=$LW_DIR.rss
(
    while kill -0 "$LW_PID" 2>/dev/null; do
        echo "$(date +%s) $(proc_kib "$LW_PID" VmRSS)"
        sleep 1
    done
) >"$rss_log" &
rss_pid=$!

t0=$(now)
python3 "$TOOLS/tcp_send.py" flood --port "$sport" --conns "$TCP_CONNS" --duration "$DURATION" \
    "$INPUT" >"$LW_DIR.tcp" &
tcp_pid=$!
python3 "$TOOLS/http_post.py" flood --port "$hport" --conns "$HTTP_CONNS" --duration "$DURATION" \
    "$INPUT" >"$LW_DIR.http" &
http_pid=$!
if [ "${STALL:-0}" != 0 ]; then
    sleep "${STALL_AT:-$((${DURATION%.*} / 3))}"
    echo "stalling the store: write lock held for ${STALL}s"
    python3 -c 'import sqlite3,sys,time
db = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
db.execute("BEGIN IMMEDIATE"); time.sleep(float(sys.argv[2])); db.execute("ROLLBACK")' \
        "$LW_DIR/logwarden.db" "$STALL"
fi
wait "$tcp_pid" || die "tcp senders failed"
wait "$http_pid" || die "http posters failed"
t_stop=$(now)
final=$(wait_quiet 3)
t_quiet=$(now)
m503=$(curl -fs "http://127.0.0.1:$hport/metrics" | awk '$1 == "logwarden_http_503_total" { print $2 }')
metrics=$(curl -fs "http://127.0.0.1:$hport/metrics" | grep -E '^(logwarden_input_lines_total|logwarden_stored_lines_total|logwarden_backpressure_total|logwarden_inflight_bytes|lw_http_backpressure_total|lw_http_responses_total)' || true)
kill "$rss_pid" 2>/dev/null || true
max_rss=$(awk '$2 > m { m = $2 } END { print m + 0 }' "$rss_log")
stop_daemon

tcp=$(cat "$LW_DIR.tcp")
http=$(cat "$LW_DIR.http")
tcp_lines=$(json_get "$tcp" lines)
http_lines=$(json_get "$http" lines)
echo "tcp senders:  $tcp"
echo "http posters: $http"
echo "/metrics after the flood:"
echo "$metrics" | sed 's/^/  /'
echo "  logwarden_http_503_total ${m503:-absent}"
echo "VmRSS every second (MiB): $(awk '{ printf "%d ", $2 / 1024 }' "$rss_log")"
want=$((base + tcp_lines + http_lines))
echo "flood: ${DURATION}s; tcp $tcp_lines lines ($(rate "$tcp_lines" "$t0" "$t_stop") lines/s," \
    "blocked $(json_get "$tcp" blocked_s) s of $((TCP_CONNS * ${DURATION%.*})) conn-s); http $http_lines lines accepted" \
    "($(json_get "$http" n503) x 503 seen by the posters, ${m503:-?} in /metrics);" \
    "drained $(secs "$t_stop" "$t_quiet") s after the senders stopped"
echo "memory: --memory-limit $MEMORY_LIMIT, max VmRSS $((max_rss / 1024)) MiB (sampled every 1 s), VmHWM $((LW_HWM_KIB / 1024)) MiB"
[ "$final" = "$want" ] || die "stored_lines $final != $want (tcp $tcp_lines + http $http_lines + $base before)"
check_stored "$want"
