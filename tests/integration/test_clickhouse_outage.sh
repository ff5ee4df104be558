#!/usr/bin/env bash
# ClickHouse stopped while the daemon runs: nothing is lost. A writer appends to a tailed file
# and lines also arrive on HTTP; ClickHouse is stopped for a few seconds in the middle; the
# daemon reports the failed commits ("ingest paused", naming the URL), keeps its pending counts,
# pushes back (HTTP answers 503, the tail stops reading), and once ClickHouse is back it says so
# and every line (file, and HTTP answered 202) is counted exactly once.
# Skips (77) when clickhouse-server is not installed.
set -euo pipefail
LW=${1:?usage: test_clickhouse_outage.sh /path/to/logwarden}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tools/clickhouse_lib.sh"
# The tailed file is in $T too: on failure, only the daemon's log.
show_logs() { tail -n 20 "$T/daemon.log" 2>/dev/null; }
visible() { ch_visible lwout; }

HTTP_PORT=$(ch_free_port)
cat > "$T/conf.yaml" <<YAML
store:
  backend: clickhouse
  clickhouse:
    url: $CH_URL
    database: lwout
    timeout: 2s
pipeline:
  flush_interval: 200ms
YAML
: >"$T/app.log"
"$LW" run -c "$T/conf.yaml" --data-dir "$T/data" --tail "$T/app.log" --no-syslog \
  --http "127.0.0.1:$HTTP_PORT" --no-detect >"$T/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/metrics" && break
  sleep 0.1
done

# The writer: 200 lines every 50 ms for about 8 s into the tailed file.
cat > "$T/writer.py" <<'PY'
import sys, time
path, n = sys.argv[1], 0
with open(path, "a") as f:
    for k in range(160):
        for _ in range(200):
            f.write(f"2025-11-25T10:{(n // 6000) % 60:02d}:{(n // 100) % 60:02d}Z INFO job {n} done in {n % 97} ms\n")
            n += 1
        f.flush()
        time.sleep(0.05)
open(path + ".count", "w").write(str(n))
PY
python3 "$T/writer.py" "$T/app.log" &
WPID=$!
# HTTP lines, one request of 100 lines every 100 ms; count what was acknowledged (202).
http_acked=0
codes=
post() {
  local body code
  body=$(python3 -c "import sys; print('\n'.join(f'2025-11-25T11:00:00Z WARN http batch {sys.argv[1]} line {i}' for i in range(100)))" "$1")
  code=$(curl -s -o /dev/null -w "%{http_code}" -m 2 --data-binary "$body" \
    -H "Content-Type: text/plain" "http://127.0.0.1:$HTTP_PORT/api/v1/ingest" || true)
  [ "$code" = 202 ] && http_acked=$((http_acked + 100))
  codes="$codes $code"
  return 0
}
for i in $(seq 1 15); do post "$i"; sleep 0.1; done
echo "before the outage: $(visible) visible"
ch_stop
echo "ClickHouse stopped ($(date +%T))"
codes=
for i in $(seq 16 25); do post "$i"; sleep 0.1; done
grep -q "ingest paused" "$T/daemon.log" || fail "no 'ingest paused' while ClickHouse was down"
grep -q "cannot reach ClickHouse at $CH_URL" "$T/daemon.log" || fail "the error does not name $CH_URL"
echo "HTTP answers while ClickHouse was down:$codes"
case "$codes" in *503*) ;; *) fail "no HTTP 503 while ClickHouse was down (no backpressure):$codes" ;; esac
ch_start "$T/ch" || fail "clickhouse-server did not restart"
echo "ClickHouse restarted ($(date +%T)), HTTP acknowledged $http_acked lines so far"
for i in $(seq 46 60); do post "$i"; sleep 0.1; done
wait "$WPID" || fail "the writer failed"
WPID=
want=$(( $(cat "$T/app.log.count") + http_acked ))
ch_wait_visible lwout "$want" 60
sleep 1
stop_daemon "the daemon did not stop cleanly"
grep -q "the store commits again" "$T/daemon.log" || fail "no 'commits again' after ClickHouse came back"
s=$(visible)
[ "$s" = "$want" ] || fail "sum of counts $s, want $want (file $(cat "$T/app.log.count") + HTTP acknowledged $http_acked)"
echo "ok: ClickHouse stopped and restarted mid-ingest: sum of counts = $s = file lines + acknowledged HTTP lines ($http_acked)"
echo PASS
