#!/usr/bin/env bash
# dashboard-render.sh: how long the dashboard's overview takes to render in Chromium on a big
# store: from navigation to both overview charts drawn (the performance mark lw:overview-drawn
# that web/app.js sets), over the last 7 days of a store holding a week of 10 s windows with
# LINES lines' counts, TEMPLATES templates and ANOMALIES anomalies (bench/tools/dash_bigstore.py
# fills a store made by `logwarden train`). Each run uses a fresh browser context (nothing
# cached). Also times the overview's API calls alone with curl. Target (issue 10): < 1 s.
#
#   bench/dashboard-render.sh                      # 10M lines, 50k templates, 100k anomalies
#   LINES=1000000 TEMPLATES=5000 ANOMALIES=10000 bench/dashboard-render.sh   # quick
#
# Environment: LINES, TEMPLATES, ANOMALIES, RUNS (default 7), RANGE (default -7d), BENCH_DIR
# (default /tmp/lw-bench; the store is cached there by size), LW_BIN (default build/logwarden),
# CHROMIUM (default /usr/bin/chromium). Needs node and npm (playwright-core is installed under
# BENCH_DIR).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LW_BIN=${LW_BIN:-$ROOT/build/logwarden}
BENCH_DIR=${BENCH_DIR:-/tmp/lw-bench}
LINES=${LINES:-10000000}
TEMPLATES=${TEMPLATES:-50000}
ANOMALIES=${ANOMALIES:-100000}
RUNS=${RUNS:-7}
RANGE=${RANGE:--7d}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
die() {
    echo "dashboard-render: $*" >&2
    exit 1
}
[ -x "$LW_BIN" ] || die "no executable $LW_BIN (make build, or set LW_BIN)"
[ -x "$CHROMIUM" ] || die "no Chromium at $CHROMIUM (apt-get install chromium)"
command -v node >/dev/null && command -v npm >/dev/null || die "node and npm are needed"
mkdir -p "$BENCH_DIR"

DRV="$BENCH_DIR/dashboard-driver"
mkdir -p "$DRV"
if ! cmp -s "$ROOT/tests/dashboard/package-lock.json" "$DRV/package-lock.json" ||
    [ ! -d "$DRV/node_modules/playwright-core" ]; then
    cp "$ROOT/tests/dashboard/package.json" "$ROOT/tests/dashboard/package-lock.json" "$DRV/"
    (cd "$DRV" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
cp "$ROOT/tests/dashboard/dashboard.mjs" "$DRV/"

# The store, made once per size (its windows end at the time it was made: remade after a day).
STORE="$BENCH_DIR/dash-store-$LINES-$TEMPLATES-$ANOMALIES"
if [ ! -f "$STORE/logwarden.db" ] || [ -n "$(find "$STORE/logwarden.db" -mmin +1440)" ]; then
    rm -rf "$STORE" "$STORE.tmp"
    "$LW_BIN" demo --lines 2000 --seed 1 --out "$BENCH_DIR/dash-seed.log"
    "$LW_BIN" train --from "$BENCH_DIR/dash-seed.log" --data-dir "$STORE.tmp" >/dev/null
    python3 "$ROOT/bench/tools/dash_bigstore.py" "$STORE.tmp/logwarden.db" --lines "$LINES" \
        --templates "$TEMPLATES" --anomalies "$ANOMALIES"
    mv "$STORE.tmp" "$STORE"
fi
WORK="$BENCH_DIR/dash-run"
rm -rf "$WORK"
cp -r "$STORE" "$WORK"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
printf 'alerts:\n  sinks:\n    - {type: file, path: %s/alerts.jsonl}\n' "$WORK" >"$WORK/conf.yaml"
"$LW_BIN" run -c "$WORK/conf.yaml" --data-dir "$WORK" --no-syslog --http "127.0.0.1:$PORT" \
    >"$WORK/run.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
URL="http://127.0.0.1:$PORT/"
for _ in $(seq 1 100); do
    curl -s -o /dev/null "${URL}api/v1/status" && break
    sleep 0.2
done
kill -0 $PID 2>/dev/null || die "the daemon did not start: $(tail -5 "$WORK/run.log")"

echo "store: $LINES lines' counts, $TEMPLATES templates, $ANOMALIES anomalies over 7 days; range $RANGE"
# The overview's two API calls alone (the page picks a step of 30m for 7 days: <= 500 points).
for q in "overview?from=$RANGE&to=now&step=30m" "incidents?from=$RANGE&to=now&state=open&limit=10"; do
    best=
    for _ in 1 2 3 4 5; do
        t=$(curl -s -o /dev/null -w '%{time_total}' "${URL}api/v1/$q")
        best=$(python3 -c "import sys; a=[float(x) for x in sys.argv[1:] if x]; print(min(a))" $t $best)
    done
    echo "GET /api/v1/$q: best of 5 $(python3 -c "print(round($best*1000, 1))") ms"
done
(cd "$DRV" && CHROMIUM="$CHROMIUM" LW_RANGE="$RANGE" node dashboard.mjs bench "$URL" "$RUNS")
