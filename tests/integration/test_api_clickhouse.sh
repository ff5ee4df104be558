#!/usr/bin/env bash
# The query API on the ClickHouse backend: the SAME route checks as test_api.sh (every route
# against docs/openapi.json, filters, pagination walked to the end, bad parameters, auth,
# feedback that resolves an incident, survives a restart and is removable), run against a daemon
# whose store is a private ClickHouse server (Debian's clickhouse-server, started here under a
# temp dir); the `logwarden feedback` CLI finds the server through the data directory. Then, on
# the same database: only
# committed rows are read (rows of a transaction without its commit row do not count) and a
# deleted rule stays deleted (its tombstone). Skips (77) when clickhouse-server or
# python3-jsonschema is not installed.
set -euo pipefail
LW=${1:?usage: test_api_clickhouse.sh /path/to/logwarden}
HERE=$(cd "$(dirname "$0")" && pwd)
chl_prerequisites() {
  python3 -c 'import jsonschema' 2>/dev/null || { echo "skip: python3-jsonschema missing (scripts/install-deps.sh installs it)"; exit 77; }
}
. "$HERE/tools/clickhouse_lib.sh"

cat > "$T/store.yaml" <<YAML
store:
  backend: clickhouse
  clickhouse:
    url: $CH_URL
    database: lwapi
    timeout: 10s
YAML

# (1) every check of test_api.sh, on ClickHouse.
LW_TEST_API_STORE_YAML="$T/store.yaml" bash "$HERE/test_api.sh" "$LW" || fail "test_api.sh on ClickHouse"
echo "ok: test_api.sh passes on the ClickHouse backend"

# (2) the API reads committed rows only: rows of a transaction with no commit row (a writer
# that died before its commit row) are in the tables but not in any answer.
HP=$(ch_free_port)
H="http://127.0.0.1:$HP/api/v1"
"$LW" run -c "$T/store.yaml" --data-dir "$T/data" --no-syslog --http "127.0.0.1:$HP" \
  --no-detect >"$T/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -sf "$H/status" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$H/status" >/dev/null || fail "daemon did not come up"
NOW=$(date +%s)
W=$(( (NOW - 600) / 10 * 10 ))
ch_query "INSERT INTO lwapi.window_counts VALUES ($W, 4000000001, 777, 'ghost', 1, 1)"
ch_query "INSERT INTO lwapi.templates VALUES (4000000001, 1, 'ghost template <*>', ${W}000000000, ${W}000000000, 777, 'ghost', 1, 1, 0)"
ch_query "INSERT INTO lwapi.anomalies VALUES (4000000002, $W, ${W}000000000, 'volume', 1, 4000000001, 'ghost-src', 'ghost', NULL, NULL, NULL, NULL, 'ghost', 1, 1)"
ch_query "INSERT INTO lwapi.rules VALUES (4000000003, 'expected', 0, 'ghost-src', '', 0, 0, '', '', 14, 0, 1, 'ghost')"
ch_query "INSERT INTO lwapi.rules VALUES (4000000003, '', 0, '', '', 0, 0, '', '', 15, 1, 2, 'ghost')"
curl -s "$H/templates?q=ghost" >"$T/body"
python3 -c "import json; d=json.load(open('$T/body')); assert d['total'] == 0 and d['items'] == [], d" ||
  fail "an uncommitted template is visible: $(cat "$T/body")"
c=$(curl -s -o "$T/body" -w '%{http_code}' "$H/templates/4000000001")
[ "$c" = 404 ] || fail "an uncommitted template is visible: $c $(cat "$T/body")"
curl -s "$H/anomalies?from=-1h&source=ghost-src" >"$T/body"
python3 -c "import json; d=json.load(open('$T/body')); assert d['items'] == [], d" ||
  fail "an uncommitted anomaly is visible: $(cat "$T/body")"
curl -s "$H/series?template=4000000001&from=-1h" >"$T/body"
python3 -c "import json; d=json.load(open('$T/body')); assert sum(c for t, c in d['points']) == 0, d" ||
  fail "uncommitted counts are visible: $(cat "$T/body")"
curl -s "$H/rules" >"$T/body"
python3 -c "import json; d=json.load(open('$T/body')); assert 4000000003 not in [r['id'] for r in d['items']], d" ||
  fail "a rule with a tombstone is listed: $(cat "$T/body")"
# ... and once the commit row is there, the same rows count (once).
ch_query "INSERT INTO lwapi.commits VALUES ('ghost', 1, 1, 0, now())"
curl -s "$H/series?template=4000000001&from=-1h" >"$T/body"
python3 -c "import json; d=json.load(open('$T/body')); assert sum(c for t, c in d['points']) == 777, d" ||
  fail "committed counts: $(cat "$T/body")"
curl -s "$H/anomalies?from=-1h&source=ghost-src" >"$T/body"
python3 -c "
import json; d=json.load(open('$T/body'))
assert [a['id'] for a in d['items']] == [4000000002], d
assert d['items'][0]['template'] == 'ghost template <*>', d" || fail "committed anomaly: $(cat "$T/body")"
c=$(curl -s -o "$T/body" -w '%{http_code}' "$H/templates/4000000001")
[ "$c" = 200 ] || fail "the committed template: $c $(cat "$T/body")"
echo "ok: only committed rows are read; a tombstoned rule stays deleted"

# (3) values that are not plain: quotes, backslashes and tabs in a search text and a source
# are data, never query text.
for q in "x'%20OR%201=1%20--" "a%5C%27b" "%09tab" "%E2%82%AC"; do
  c=$(curl -s -o "$T/body" -w '%{http_code}' "$H/templates?q=$q")
  [ "$c" = 200 ] || fail "templates?q=$q: $c $(cat "$T/body")"
  c=$(curl -s -o "$T/body" -w '%{http_code}' "$H/anomalies?from=-1h&source=$q&detector=$q")
  [ "$c" = 200 ] || fail "anomalies?source=$q: $c $(cat "$T/body")"
  python3 -c "import json; d=json.load(open('$T/body')); assert d['items'] == [], d" ||
    fail "source=$q matched: $(cat "$T/body")"
done
echo "ok: hostile search texts and sources are plain values"
kill -TERM "$PID"; wait "$PID" || fail "daemon exit code $?"; PID=
echo "PASS"
