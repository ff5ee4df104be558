#!/usr/bin/env bash
# JSON values (the HTTP NDJSON fields: message/msg/log, time, host, level) and key_as_host: the
# value's host names the source; without one the record key does; malformed values are skipped
# and counted, and their offsets are still committed.
LW=${1:?usage: test_kafka_json.sh /path/to/logwarden}
. "$(dirname "$0")/tools/kafka_lib.sh"

kafka_topic jlogs 2
python3 - "$T/json.txt" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        # key|value (kcat -K'|'): keys name hosts web-0..web-2; every third value names its own.
        rec = {"message": f"GET /item/{i} took {i % 97} ms", "time": 1764064800 + i // 100,
               "level": "info"}
        if i % 3 == 0:
            rec["host"] = "db-1"
        f.write(f"web-{i % 3}|{json.dumps(rec)}\n")
    for i in range(10):
        f.write(f"web-0|this is not json {i}\n")
    for i in range(5):
        f.write(f"web-1|{json.dumps({'msg': 'worker ' + str(i) + ' restarted', 'level': 'error'})}\n")
PY
KEYED=1 produce jlogs "$T/json.txt"
cat > "$T/conf.yaml" <<EOF
inputs:
  kafka:
    brokers: "$KAFKA_BOOTSTRAP"
    topics: [jlogs]
    group: gj
    format: json
    key_as_host: true
EOF
start_daemon "$T/data" "$T/daemon.log" --config "$T/conf.yaml"
wait_stored "$T/data" 3005 60
sleep 1
kill -TERM "$DPID"
wait "$DPID" || fail "the daemon did not stop cleanly"
got=$(stored "$T/data")
[ "$got" -eq 3005 ] || fail "stored $got lines, want 3005 (10 malformed values skipped)"
src=$(sqlite3 "$T/data/logwarden.db" \
  "SELECT source || '=' || sum(count) FROM window_source_counts GROUP BY source ORDER BY source" |
  tr '\n' ' ')
echo "sources: $src"
# i % 3 == 0 carries host db-1 (1000 lines); keys name the rest: web-1 1000 + 5, web-2 1000.
[ "$src" = "db-1=1000 web-1=1005 web-2=1000 " ] || fail "per-source counts: $src"
grep -q 'rejected' "$T/daemon.log" || true
check_committed gj jlogs
echo "PASS: JSON values with host fields and record keys as hosts"
