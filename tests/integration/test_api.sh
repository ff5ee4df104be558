#!/usr/bin/env bash
# The query API end to end: a real daemon on a real SQLite store fed by `logwarden demo` (with
# trained detectors, so that the demo's anomalies become incidents), then every route checked
# against docs/openapi.json, filters, pagination walked to the end (no duplicates, no gaps),
# bad parameters (400 naming the parameter), auth with the read and read-write tokens, and
# feedback: an incident marked false positive leaves the open list, its rule survives a
# restart and is loaded again by the alert manager, and is removable (API and CLI).
#
# The same checks run on the ClickHouse backend (test_api_clickhouse.sh): it sets
# LW_TEST_API_STORE_YAML to a file with a `store:` section, appended to the configuration here.
set -euo pipefail
LW=${1:?usage: test_api.sh /path/to/logwarden}
HERE=$(cd "$(dirname "$0")" && pwd)
SPEC="$HERE/../../docs/openapi.json"
CHECK="$HERE/tools/api_check.py"
T=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/daemon.log" ] && tail -20 "$T/daemon.log"; exit 1; }
python3 -c 'import jsonschema' 2>/dev/null || { echo "skip: python3-jsonschema missing (scripts/install-deps.sh installs it)"; exit 77; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
HP=$(free_port)
RW=rw-token-0123456789abcdef
RO=ro-token-0123456789abcdef
H="http://127.0.0.1:$HP/api/v1"
STORE_YAML=${LW_TEST_API_STORE_YAML:-}
printf 'api:\n  read_token: %s\n' "$RO" > "$T/lw.yaml"
if [ -n "$STORE_YAML" ]; then cat "$STORE_YAML" >>"$T/lw.yaml"; fi

start() {
  LOGWARDEN_HTTP_TOKEN=$RW "$LW" run -c "$T/lw.yaml" --data-dir "$T/data" --tail "$T/logs/*.log" \
    --no-syslog --http "127.0.0.1:$HP" >>"$T/daemon.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    if curl -sf -H "Authorization: Bearer $RO" "$H/status" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  fail "daemon did not come up"
}
stop() { kill -TERM "$PID"; wait "$PID" || fail "daemon exit code $?"; PID=; }

# get URL [TOKEN]: body to $T/body, status to $T/code.
get() {
  curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer ${2:-$RO}" "$1" >"$T/code"
}
code() { cat "$T/code"; }
jq_() { python3 -c "import json,sys; d=json.load(open('$T/body')); print($1)"; }
# check METHOD TEMPLATE: validates $T/body (status $T/code) against the OpenAPI document.
check() {
  python3 "$CHECK" "$SPEC" "$1" "$2" "$(code)" <"$T/body" || fail "$1 $2 does not match openapi.json"
}

# rules_loaded N: the alert manager holds N feedback rules within 10 s (it reloads them after an
# API write, at start once the inputs run, and every 5 s).
rules_loaded() {
  for _ in $(seq 1 100); do
    curl -s -H "Authorization: Bearer $RO" "http://127.0.0.1:$HP/metrics" |
      grep -qx "logwarden_feedback_rules $1" && return 0
    sleep 0.1
  done
  return 1
}

NOW=$(date +%s)
mkdir -p "$T/logs"
"$LW" demo --lines 300000 --anomalies off --seed 4242 --start $((NOW - 5400)) --out "$T/hist.txt" \
  >/dev/null
LOGWARDEN_HTTP_TOKEN=$RW "$LW" train -c "$T/lw.yaml" --data-dir "$T/data" --from "$T/hist.txt" >/dev/null 2>&1 || fail "train"
"$LW" demo --lines 80000 --seed 9 --start $((NOW - 1200)) --out "$T/logs/app.log" >/dev/null
start

# Wait until the demo's anomalies became incidents.
for _ in $(seq 1 150); do
  get "$H/incidents?from=-2h&limit=1000"
  [ "$(code)" = 200 ] && [ "$(jq_ 'len(d["items"])')" -ge 3 ] && break
  sleep 0.2
done
[ "$(jq_ 'len(d["items"])')" -ge 3 ] || fail "fewer than 3 incidents: $(cat "$T/body")"
# ... and until the tail has stored every line (the totals and the series below are separate
# reads: a commit between them would make them differ).
for _ in $(seq 1 150); do
  get "$H/overview?from=-2h"
  [ "$(code)" = 200 ] && [ "$(jq_ 'd["totals"]["lines"]')" -ge 380000 ] && break
  sleep 0.2
done

# --- auth: no token 401, read token may read but not write (403), rw token may do both
curl -s -o /dev/null -w '%{http_code}' "$H/overview" | grep -qx 401 || fail "no token was not 401"
get "$H/overview" "$RO"; [ "$(code)" = 200 ] || fail "read token GET: $(code)"
get "$H/overview" "$RW"; [ "$(code)" = 200 ] || fail "rw token GET: $(code)"
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RO" -X POST \
  -d '{"kind":"expected","detector":"volume"}' "$H/rules")
[ "$c" = 403 ] || fail "read token POST /rules: $c"
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong-token-123456" "$H/overview")
[ "$c" = 401 ] || fail "wrong token: $c"

# --- every route, checked against the OpenAPI document
get "$H/openapi.json"; [ "$(code)" = 200 ] || fail "openapi.json"
cmp -s "$T/body" "$SPEC" || fail "/openapi.json is not docs/openapi.json"
get "$H/overview?from=-2h"; check GET /api/v1/overview
[ "$(jq_ 'd["totals"]["lines"]')" -gt 0 ] || fail "overview counts no lines"
[ "$(jq_ 'sum(c for t, c in d["lines"])')" = "$(jq_ 'd["totals"]["lines"]')" ] ||
  fail "overview: the series does not sum to the total"
[ "$(jq_ 'len(d["lines"])')" -le 300 ] || fail "overview: more than 300 points by default"
get "$H/overview?from=-2h&step=1m"; check GET /api/v1/overview
[ "$(jq_ 'd["step_s"]')" = 60 ] || fail "step=1m gave $(jq_ 'd["step_s"]')"
get "$H/incidents?from=-2h"; check GET /api/v1/incidents
INC=$(jq_ 'd["items"][0]["id"]')
get "$H/incidents/$INC"; check GET /api/v1/incidents/{id}
[ "$(jq_ 'len(d["alerts"]) >= 1 and len(d["anomalies"]) >= 1')" = True ] || fail "incident detail empty"
get "$H/incidents/inc-nope"; [ "$(code)" = 404 ] || fail "unknown incident: $(code)"
get "$H/alerts?from=-2h"; check GET /api/v1/alerts
get "$H/anomalies?from=-2h"; check GET /api/v1/anomalies
AN=$(jq_ 'd["items"][0]["id"]')
get "$H/anomalies/$AN"; check GET /api/v1/anomalies/{id}
# Context: the anomalies found in the live log carry real lines of that log around them.
get "$H/anomalies?from=-2h&limit=1000"
n_ctx=0
for id in $(jq_ '" ".join(str(a["id"]) for a in d["items"][:40])'); do
  get "$H/anomalies/$id"
  [ "$(jq_ 'd["context_kind"]')" = lines ] || continue
  [ "$(jq_ 'len(d["context"]) == len(d["context_lines"]) and 0 < len(d["context"]) <= 20')" = True ] ||
    fail "anomaly $id: context $(cat "$T/body")"
  python3 -c "
import json, sys
lines = set(l.rstrip('\n') for l in open('$T/logs/app.log', errors='replace'))
d = json.load(open('$T/body'))
missing = [l for l in d['context'] if l not in lines]
sys.exit('context lines not in the log: %r' % missing[:3] if missing else 0)" ||
    fail "anomaly $id: context is not lines of the log"
  n_ctx=$((n_ctx + 1))
done
if [ -n "${LW_TEST_API_STORE_YAML:-}" ]; then
  # The ClickHouse backend keeps no context lines yet (docs/store.md): the API falls back to
  # the template's example lines there, which the checks above accept.
  echo "note: context lines are not kept by the ClickHouse backend; $n_ctx anomalies had them"
else
  [ "$n_ctx" -ge 1 ] || fail "no anomaly of the live log has context lines"
fi
get "$H/anomalies/999999999"; [ "$(code)" = 404 ] || fail "unknown anomaly: $(code)"
get "$H/templates"; check GET /api/v1/templates
TPL=$(jq_ 'd["items"][0]["id"]')
get "$H/templates/$TPL"; check GET /api/v1/templates/{id}
[ "$(jq_ 'len(d["examples"])')" -ge 1 ] || fail "template $TPL has no example lines"
get "$H/templates/999999"; [ "$(code)" = 404 ] || fail "unknown template: $(code)"
get "$H/series?template=$TPL&from=-2h"; check GET /api/v1/series
[ "$(jq_ 'sum(c for t, c in d["points"]) > 0')" = True ] || fail "series of template $TPL is empty"
get "$H/series?from=-2h&level=info"; check GET /api/v1/series
get "$H/series?from=-2h&source=logs/app.log"; check GET /api/v1/series
get "$H/sparklines?ids=$TPL,1,2&from=-2h&buckets=12"; check GET /api/v1/sparklines
[ "$(jq_ 'len(d["series"]["1"])')" -ge 12 ] || fail "sparkline buckets"
get "$H/sources?from=-2h"; check GET /api/v1/sources
[ "$(jq_ 'len(d["items"])')" -ge 1 ] || fail "no sources"
get "$H/rules"; check GET /api/v1/rules
get "$H/status"; check GET /api/v1/status

# --- filters
get "$H/anomalies?from=-2h&detector=volume&limit=1000"
[ "$(jq_ 'all(a["detector"] == "volume" for a in d["items"])')" = True ] || fail "detector filter"
get "$H/anomalies?from=-2h&min_score=0.999&limit=1000"
[ "$(jq_ 'all(a["score"] >= 0.999 for a in d["items"])')" = True ] || fail "min_score filter"
get "$H/alerts?from=-2h&severity=critical&limit=1000"
[ "$(jq_ 'all(a["severity"] == "critical" for a in d["items"])')" = True ] || fail "severity filter"
get "$H/templates?q=BLOCK&limit=1000"
[ "$(jq_ 'len(d["items"]) >= 1 and all("block" in t["text"].lower() for t in d["items"])')" = True ] ||
  fail "template search"
[ "$(jq_ 'd["total"] == len(d["items"])')" = True ] || fail "template total with q"

# --- pagination: walking small pages gives exactly the one-page list
walk() { # walk URL KEY: prints the ids of every page, one per line
  local url=$1 key=$2 cur="" n=0
  while :; do
    get "$url${cur:+&cursor=$cur}"
    [ "$(code)" = 200 ] || fail "page of $url: $(code) $(cat "$T/body")"
    python3 -c "import json; d=json.load(open('$T/body')); [print(i['$key']) for i in d['items']]"
    cur=$(jq_ 'd["next_cursor"] or ""')
    [ -n "$cur" ] || break
    n=$((n + 1)); [ "$n" -lt 2000 ] || fail "pagination does not end"
  done
}
for spec in "anomalies?from=-2h:id" "alerts?from=-2h:id" "incidents?from=-2h:id" \
            "templates?sort=count:id" "templates?sort=last_seen&order=asc:id" "templates?sort=id:id" \
            "sources?from=-2h:source"; do
  route=${spec%:*}; key=${spec##*:}
  walk "$H/$route&limit=3" "$key" >"$T/paged"
  get "$H/$route&limit=1000"
  python3 -c "import json; d=json.load(open('$T/body')); [print(i['$key']) for i in d['items']]" >"$T/whole"
  [ -s "$T/whole" ] || fail "$route: empty"
  [ "$(sort "$T/paged" | uniq -d | wc -l)" -eq 0 ] || fail "$route: duplicates across pages"
  cmp -s "$T/paged" "$T/whole" || fail "$route: pages differ from the whole list"
done

# --- bad parameters: 400 naming the parameter
bad() { # bad URL PARAM
  get "$H/$1"
  [ "$(code)" = 400 ] || fail "$1: $(code), want 400"
  [ "$(jq_ 'd["param"]')" = "$2" ] || fail "$1: param $(jq_ 'd.get("param")'), want $2"
  check GET "/api/v1/${1%%\?*}"
}
bad "anomalies?from=yesterday" from
bad "anomalies?to=2026-13-01T00:00:00Z" to
bad "anomalies?from=-1h&to=-2h" from
bad "anomalies?limit=0" limit
bad "anomalies?limit=5000" limit
bad "anomalies?cursor=zz" cursor
bad "anomalies?template=abc" template
bad "anomalies?min_score=high" min_score
bad "incidents?state=closed" state
bad "alerts?severity=bad" severity
bad "templates?sort=size" sort
bad "templates?order=up" order
bad "series?step=fast" step
bad "series?from=-7d&step=10s" step
bad "series?level=loud" level
bad "sparklines" ids
bad "sparklines?ids=1,x" ids
bad "overview?step=0s" step
get "$H/nothing"; [ "$(code)" = 404 ] || fail "unknown route: $(code)"

# --- feedback on an incident: a rule from its scope; the incident is no longer open
get "$H/incidents?from=-2h&state=open&limit=1000"
INC=$(jq_ 'd["items"][0]["id"]')
N_OPEN=$(jq_ 'len(d["items"])')
c=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $RW" -X POST \
  -d '{"kind":"false_positive","expires":"24h","note":"test"}' "$H/incidents/$INC/feedback")
echo "$c" >"$T/code"
[ "$c" = 201 ] || fail "feedback: $c $(cat "$T/body")"
check POST /api/v1/incidents/{id}/feedback
RULE=$(jq_ 'd["rule"]["id"]')
[ "$(jq_ 'd["rule"]["incident"]')" = "$INC" ] || fail "the rule does not name the incident"
get "$H/incidents?from=-2h&state=open&limit=1000"
[ "$(jq_ "'$INC' in [i['id'] for i in d['items']]")" = False ] || fail "incident still open"
[ "$(jq_ 'len(d["items"])')" -eq $((N_OPEN - 1)) ] || fail "open count did not drop by one"
get "$H/incidents/$INC"
[ "$(jq_ 'd["state"]')" = resolved ] || fail "incident state $(jq_ 'd["state"]')"
[ "$(jq_ 'd["feedback"]["rule_id"]')" = "$RULE" ] || fail "incident feedback rule id"
get "$H/rules"
[ "$(jq_ "[r['id'] for r in d['items']]")" = "[$RULE]" ] || fail "rule not listed"
rules_loaded 1 || fail "the alert manager did not load the rule"
# bad feedback bodies
c=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $RW" -X POST \
  -d '{"kind":"maybe"}' "$H/incidents/$INC/feedback")
[ "$c" = 400 ] && [ "$(jq_ 'd["param"]')" = kind ] || fail "bad kind: $c"
c=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $RW" -X POST \
  -d '{"kind":"expected","scope":"planet"}' "$H/incidents/$INC/feedback")
[ "$c" = 400 ] && [ "$(jq_ 'd["param"]')" = scope ] || fail "bad scope: $c"
c=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $RW" -X POST \
  -d 'not json' "$H/rules")
[ "$c" = 400 ] || fail "bad body: $c"
c=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $RW" -X POST \
  -d '{"kind":"expected"}' "$H/rules")
[ "$c" = 400 ] || fail "a rule without scope: $c"

# --- restart: the rule is still there and loaded by the alert manager
stop
"$LW" feedback list --data-dir "$T/data" | grep -q "^$RULE " || fail "feedback list misses the rule"
start
get "$H/rules"
[ "$(jq_ "[r['id'] for r in d['items']]")" = "[$RULE]" ] || fail "rule lost in the restart"
rules_loaded 1 || fail "rule not loaded after the restart"
get "$H/incidents?from=-2h&state=open&limit=1000"
[ "$(jq_ "'$INC' in [i['id'] for i in d['items']]")" = False ] || fail "incident open again"

# --- the CLI on the store while the daemon runs (SQLite file or, through the data directory's
# marker, the ClickHouse server): the daemon picks the change up
out=$("$LW" feedback add --data-dir "$T/data" --kind expected --detector volume --expires 1h)
CLI_RULE=$(echo "$out" | awk '{print $2}')
rules_loaded 2 || fail "the daemon did not load the CLI's rule"
"$LW" feedback list --data-dir "$T/data" | grep -q "^$CLI_RULE .*detector=volume" ||
  fail "feedback list misses the CLI's rule"
# ... and one through the API beside it
c=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $RW" -X POST \
  -d '{"kind":"expected","detector":"seq","expires":"1h"}' "$H/rules")
echo "$c" >"$T/code"
[ "$c" = 201 ] || fail "POST /rules: $c $(cat "$T/body")"
check POST /api/v1/rules
API_RULE=$(jq_ 'd["rule"]["id"]')
rules_loaded 3 || fail "the daemon did not load the API's rule"
"$LW" feedback rm "$CLI_RULE" --data-dir "$T/data" >/dev/null || fail "feedback rm"
"$LW" feedback rm "$CLI_RULE" --data-dir "$T/data" >/dev/null 2>&1 && fail "feedback rm of a removed rule"
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RW" -X DELETE \
  "$H/rules/$API_RULE")
[ "$c" = 204 ] || fail "DELETE the API's rule: $c"
rules_loaded 1 || fail "the daemon still holds removed rules"
"$LW" feedback add --data-dir "$T/data" --kind expected >/dev/null 2>&1 && fail "a rule without scope"
"$LW" feedback --help | grep -q "logwarden feedback list" || fail "feedback --help"

# --- delete through the API: the incident is open again
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RW" -X DELETE "$H/rules/$RULE")
[ "$c" = 204 ] || fail "DELETE rule: $c"
c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RW" -X DELETE "$H/rules/$RULE")
[ "$c" = 404 ] || fail "DELETE again: $c"
get "$H/incidents/$INC"
[ "$(jq_ 'd["state"]')" = open ] || fail "incident not open after the rule went"
get "$H/rules"; [ "$(jq_ 'len(d["items"])')" = 0 ] || fail "rules left"

stop
echo "PASS"
