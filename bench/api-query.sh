#!/usr/bin/env bash
# bench/api-query.sh: latency of the dashboard's API queries on a big store.
#
# 1. api_storegen (bench/tools/api_storegen.c, built by CMake next to the daemon) writes a store
#    through the store interface: LINES lines' counts (default 10M) over DAYS days of 10 s
#    windows (default 7), TEMPLATES templates (50k, Zipf popularity), SOURCES sources (400),
#    ANOMALIES anomalies (100k) with one alert each, grouped into a few thousand incidents.
# 2. A real daemon (`logwarden run`, no inputs but its HTTP server) opens that store (migrating
#    it when the schema is older) and serves the API.
# 3. bench/tools/api_bench.py asks every dashboard query N times (default 200) on one keep-alive
#    connection and prints p50/p90/p99/max per query. Target: p99 < 100 ms.
#
# The store is made fresh each run (its data ends at the current time, so "-1h" has data); set
# STORE=DIR to reuse one (it is then copied, never changed). Environment: LW_BIN, GEN_BIN
# (default: next to LW_BIN, else build/api_storegen), N, LINES, TEMPLATES, SOURCES,
# ANOMALIES, DAYS, BENCH_DIR, KEEP=1 (keep the data directory). Use a Release build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/lw-bench}
LW_BIN=${LW_BIN:-$ROOT/build/logwarden}
GEN_BIN=${GEN_BIN:-$(dirname "$LW_BIN")/api_storegen}
N=${N:-200}
LINES=${LINES:-10000000}
TEMPLATES=${TEMPLATES:-50000}
SOURCES=${SOURCES:-400}
ANOMALIES=${ANOMALIES:-100000}
DAYS=${DAYS:-7}

die() { echo "api-query: $*" >&2; exit 1; }
[ -x "$LW_BIN" ] || die "no executable $LW_BIN (make build, or set LW_BIN)"
[ -x "$GEN_BIN" ] || die "no executable $GEN_BIN (make build builds it; or set GEN_BIN)"
mkdir -p "$BENCH_DIR"

D=$(mktemp -d "$BENCH_DIR/api-query.XXXXXX")
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -TERM "$PID"; wait "$PID" || true; fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$D"; else echo "kept $D" >&2; fi
}
trap cleanup EXIT

if [ -n "${STORE:-}" ]; then
  cp -r "$STORE" "$D/data"
else
  t0=$(date +%s.%N)
  "$GEN_BIN" "$D/data" --lines "$LINES" --templates "$TEMPLATES" --sources "$SOURCES" \
    --anomalies "$ANOMALIES" --days "$DAYS" --seed 1
  t1=$(date +%s.%N)
  echo "store generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s," \
    "$(du -sm "$D/data" | cut -f1) MB"
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Retention covers the generated days, so the daemon's first prune deletes nothing.
printf 'store:\n  retention: %dd\n' $((DAYS + 1)) > "$D/lw.yaml"
"$LW_BIN" run -c "$D/lw.yaml" --data-dir "$D/data" --no-syslog --http "127.0.0.1:$PORT" \
  2>"$D/daemon.log" &
PID=$!
# An older store is migrated first (a big one takes a while): wait up to 10 minutes.
for _ in $(seq 6000); do
  curl -fs -o /dev/null "http://127.0.0.1:$PORT/api/v1/status" && break
  kill -0 "$PID" 2>/dev/null || die "daemon exited: $(tail -5 "$D/daemon.log")"
  sleep 0.1
done
curl -fs -o /dev/null "http://127.0.0.1:$PORT/api/v1/status" || die "daemon does not answer"
echo "$(nproc) CPUs; $(basename "$LW_BIN") $("$LW_BIN" --version 2>/dev/null | head -1)"
python3 "$ROOT/bench/tools/api_bench.py" "http://127.0.0.1:$PORT/api/v1" "$N" "" "$@"
