#!/usr/bin/env bash
# Issue 9, case 7: NDJSON requests whose lines name many different hosts, interleaved line by line.
# Such a body travels as one batch per part (the lines carry their hosts), not one batch per run
# of same-host lines. Checked on the real store: every line is stored and counted under its own
# host in window_source_counts (lines without a "host" under the client's address), the total is
# exact, and /metrics keeps answering while the bodies go in.
set -euo pipefail
LW=${1:?usage: test_http_mixed_hosts.sh /path/to/logwarden}
. "$(dirname "$0")/tools/robust_lib.sh"
command -v sqlite3 >/dev/null || { echo "SKIP: the sqlite3 command-line shell is not installed"; exit 77; }
start --no-syslog

# HOSTS hosts in turn; every SKIP-th line names no host (counted under the client, 127.0.0.1).
HOSTS=37 LINES=60000 BODIES=6 SKIP=10
python3 - "$HP" "$HOSTS" "$LINES" "$BODIES" "$SKIP" > "$T/post.out" <<'EOF_PY' &
import http.client, json, sys
port, hosts, lines, bodies, skip = (int(a) for a in sys.argv[1:6])
per = lines // bodies
n = 0
accepted = 0
for b in range(bodies):
    out = []
    for i in range(per):
        msg = "request %d served in %d ms by worker %d" % (n, n % 97, n % 5)
        if n % skip == skip - 1:
            out.append(json.dumps({"message": msg}))
        else:
            out.append(json.dumps({"host": "host-%02d" % (n % hosts), "message": msg}))
        n += 1
    body = ("\n".join(out) + "\n").encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", "/api/v1/ingest", body, {"Content-Type": "application/x-ndjson"})
    r = c.getresponse()
    answer = json.loads(r.read())
    if r.status != 202:
        print("status %d: %s" % (r.status, answer))
        sys.exit(1)
    accepted += answer["accepted"]
    c.close()
print(accepted)
EOF_PY
poster=$!

# /metrics answers while the bodies go in (each probe gets 10 s, far more than it needs).
probes=0
while kill -0 "$poster" 2>/dev/null; do
  curl -sf --max-time 10 -o /dev/null "http://127.0.0.1:$HP/metrics" || fail "/metrics did not answer during mixed-host ingest"
  probes=$((probes + 1))
  sleep 0.2
done
wait "$poster" || fail "poster failed: $(cat "$T/post.out")"
[ "$(cat "$T/post.out")" = "$LINES" ] || fail "accepted $(cat "$T/post.out"), want $LINES"
note "$LINES lines accepted; /metrics answered $probes times meanwhile"
wait_stored "$LINES" 60
curl -sf --max-time 10 -o /dev/null "http://127.0.0.1:$HP/metrics" || fail "/metrics after ingest"
finish

DB="$T/data/logwarden.db"
[ "$(stored)" = "$LINES" ] || fail "stored_lines $(stored), want $LINES"
# What each source must have: expected counts computed the way the poster named hosts.
python3 - "$HOSTS" "$LINES" "$SKIP" > "$T/want.txt" <<'EOF_PY'
import sys
hosts, lines, skip = (int(a) for a in sys.argv[1:4])
c = {}
for n in range(lines):
    k = "127.0.0.1" if n % skip == skip - 1 else "host-%02d" % (n % hosts)
    c[k] = c.get(k, 0) + 1
for k in sorted(c):
    print("%s|%d" % (k, c[k]))
EOF_PY
sqlite3 "$DB" "select source, sum(count) from window_source_counts group by source order by source" \
  > "$T/got.txt"
if ! diff -u "$T/want.txt" "$T/got.txt" > "$T/diff.txt"; then
  cat "$T/diff.txt" | head -20
  fail "per-source counts differ from what was posted"
fi
total=$(sqlite3 "$DB" "select sum(count) from window_counts")
[ "$total" = "$LINES" ] || fail "window_counts sum $total, want $LINES"
note "per-source counts right for $(wc -l < "$T/got.txt") sources"
echo "test_http_mixed_hosts: ok"
