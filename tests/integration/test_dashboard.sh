#!/usr/bin/env bash
# The web dashboard in headless Chromium, on a real daemon and a real SQLite store fed by the demo
# generator (as `make run` does: train on an hour of normal history, then live lines with
# injected anomalies, which become incidents). tests/dashboard/dashboard.mjs then checks, through
# the page: no console errors, the demo's incidents listed, charts with data, the template
# explorer, and that "False positive" takes an incident off the open list and that
# GET /api/v1/rules lists the rule. A second daemon on the same store, with tokens, checks that
# the page asks for the token and works once it is entered.
# A screenshot of the overview is kept in <build dir>/artifacts/dashboard.png (CI artifact).
# Usage: bash test_dashboard.sh /path/to/logwarden. Exit 0 pass, 1 fail, 77 skip.
set -u

LW=${1:-}
if [ -z "$LW" ] || [ ! -x "$LW" ]; then
    echo "skip: no logwarden binary given" >&2
    exit 77
fi
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
    echo "skip: no Chromium at $CHROMIUM (bash scripts/install-deps.sh installs Debian's chromium)" >&2
    exit 77
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "skip: node or npm missing (bash scripts/install-deps.sh installs npm)" >&2
    exit 77
fi
BUILD=$(cd "$(dirname "$LW")" && pwd)
ART="$BUILD/artifacts"
mkdir -p "$ART"

# The driver and its one dependency (playwright-core, which uses the Chromium above and
# downloads no browser), installed once per build directory and again when the lock changes.
DRV="$BUILD/dashboard-test"
mkdir -p "$DRV"
if ! cmp -s "$SRC/tests/dashboard/package-lock.json" "$DRV/package-lock.json" ||
    [ ! -d "$DRV/node_modules/playwright-core" ]; then
    cp "$SRC/tests/dashboard/package.json" "$SRC/tests/dashboard/package-lock.json" "$DRV/"
    if ! (cd "$DRV" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error); then
        rm -f "$DRV/package-lock.json"
        echo "skip: npm ci of tests/dashboard (playwright-core) failed: is the npm registry reachable?" >&2
        exit 77
    fi
fi
cp "$SRC/tests/dashboard/dashboard.mjs" "$DRV/"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/lw_dash.XXXXXX") || exit 1
GEN=
DAEMON=
cleanup() {
    [ -n "$GEN" ] && kill "$GEN" 2>/dev/null && wait "$GEN" 2>/dev/null
    [ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
fail() {
    echo "FAIL: $*" >&2
    for f in "$TMP"/run*.log; do
        [ -f "$f" ] && { echo "--- $f (last lines)" >&2; tail -20 "$f" >&2; }
    done
    exit 1
}
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_http() { # $1 port, $2 daemon pid
    for _ in $(seq 1 100); do
        kill -0 "$2" 2>/dev/null || return 1
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.2
    done
    return 1
}

# Train on normal history, so that the live anomalies stand out.
NOW=$(date +%s)
"$LW" demo --lines 200000 --anomalies off --seed 4242 --start $((NOW - 3600)) \
    --out "$TMP/history.txt" || fail "demo history"
"$LW" train --from "$TMP/history.txt" --data-dir "$TMP/data" >"$TMP/train.log" 2>&1 ||
    fail "train: $(tail -3 "$TMP/train.log")"
rm -f "$TMP/history.txt"

# Live: the generator appends to a file the daemon tails.
"$LW" demo --rate 2000 --lines 1000000000 --seed "$NOW" --start "$NOW" --out "$TMP/demo.log" &
GEN=$!
printf 'alerts:\n  sinks:\n    - {type: file, path: %s}\napi:\n  dashboard: true\n' \
    "$TMP/alerts.jsonl" >"$TMP/conf.yaml"
PORT=$(free_port)
"$LW" run -c "$TMP/conf.yaml" --data-dir "$TMP/data" --tail "$TMP/demo.log" --no-syslog \
    --http "127.0.0.1:$PORT" >"$TMP/run1.log" 2>&1 &
DAEMON=$!
wait_http "$PORT" "$DAEMON" || fail "the daemon did not answer on port $PORT"
URL="http://127.0.0.1:$PORT/"

# Wait for the demo's incidents (the generator injects anomalies every few seconds).
n_open=0
for _ in $(seq 1 90); do
    n_open=$(curl -s "${URL}api/v1/incidents?state=open&limit=1000" |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' 2>/dev/null || echo 0)
    [ "$n_open" -ge 2 ] && break
    sleep 1
done
[ "$n_open" -ge 2 ] || fail "the demo made $n_open open incidents in 90 s"
echo "the daemon holds $n_open open incidents"

(cd "$DRV" && CHROMIUM="$CHROMIUM" node dashboard.mjs test "$URL" "$ART/dashboard.png") ||
    fail "the dashboard in Chromium (above)"
echo "screenshot of the overview: $ART/dashboard.png"

# The same store behind tokens: the files load, the API asks, the page takes the token.
kill "$GEN" 2>/dev/null
wait "$GEN" 2>/dev/null
GEN=
kill -TERM "$DAEMON"
wait "$DAEMON" 2>/dev/null
DAEMON=
TOKEN=dashboard-test-token-$$
"$LW" run -c "$TMP/conf.yaml" --data-dir "$TMP/data" --no-syslog --http "127.0.0.1:$PORT" \
    --http-token "$TOKEN" >"$TMP/run2.log" 2>&1 &
DAEMON=$!
wait_http "$PORT" "$DAEMON" || fail "the daemon with a token did not answer on port $PORT"
code=$(curl -s -o /dev/null -w '%{http_code}' "${URL}api/v1/incidents")
[ "$code" = 401 ] || fail "the API without the token answered $code, want 401"
code=$(curl -s -o /dev/null -w '%{http_code}' "${URL}assets/app.js")
[ "$code" = 200 ] || fail "the dashboard's files with tokens set answered $code, want 200"
(cd "$DRV" && CHROMIUM="$CHROMIUM" node dashboard.mjs token "$URL" "$TOKEN") ||
    fail "the dashboard with a token (above)"

# api.dashboard: false leaves the API and takes the page away.
kill -TERM "$DAEMON"
wait "$DAEMON" 2>/dev/null
DAEMON=
printf 'api:\n  dashboard: false\n' >"$TMP/off.yaml"
"$LW" run -c "$TMP/off.yaml" --data-dir "$TMP/data" --no-syslog --http "127.0.0.1:$PORT" \
    >"$TMP/run3.log" 2>&1 &
DAEMON=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "${URL}api/v1/status" && break
    sleep 0.2
done
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL")
[ "$code" = 404 ] || fail "GET / with api.dashboard: false answered $code, want 404"
code=$(curl -s -o /dev/null -w '%{http_code}' "${URL}api/v1/status")
[ "$code" = 200 ] || fail "the API with api.dashboard: false answered $code, want 200"

echo "ok"
exit 0
