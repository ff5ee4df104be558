#!/usr/bin/env bash
# The ClickHouse backend with a real server (Debian's clickhouse-server, started here with its
# own config under a temp dir): the daemon with store.backend clickhouse ingests N lines from
# stdin and ClickHouse's sum of counts equals N; a second run tails a file and is restarted, and
# the restart reads nothing twice (its checkpoint came back from ClickHouse); `logwarden status`
# reads the store through the data directory's marker; and the same lines through SQLite give
# the same counts per window and template, per source and per level (the two backends agree).
# Skips (77) when clickhouse-server is not installed.
set -euo pipefail
LW=${1:?usage: test_clickhouse_ingest.sh /path/to/logwarden}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tools/clickhouse_lib.sh"

cat > "$T/ch.yaml" <<YAML
store:
  backend: clickhouse
  clickhouse:
    url: $CH_URL
    database: lwtest
    timeout: 5s
    batch_rows: 50
YAML

# (1) stdin: N lines of several templates, sources and levels over many windows.
N=20000
python3 "$HERE/tools/ch_lines.py" "$T/in.log" "$N" --seed 5 --per-second 40 --hosts 4 \
  --kinds request,cache,disk,tab,gc
"$LW" run -c "$T/ch.yaml" --data-dir "$T/d1" --stdin --no-syslog --no-http --no-detect \
  <"$T/in.log" >"$T/run1.log" 2>&1 || fail "the daemon failed on stdin"
sum=$(ch_query "SELECT sum(count) FROM lwtest.window_counts_v")
[ "$sum" = "$N" ] || fail "sum of window counts in ClickHouse is $sum, want $N"
lines=$(ch_query "SELECT sum(lines) FROM lwtest.commits")
[ "$lines" = "$N" ] || fail "stored lines in ClickHouse is $lines, want $N"
echo "ok: stdin: sum of counts in ClickHouse = $sum"

# status through the marker in the data directory.
"$LW" status --data-dir "$T/d1" >"$T/status.txt" 2>&1 || fail "status: $(cat "$T/status.txt")"
grep -q "stored lines  $N" "$T/status.txt" || fail "status: $(cat "$T/status.txt")"
"$LW" status --data-dir "$T/d1" --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["stored_lines"] == int(sys.argv[1]), j
assert j["templates"] >= 5 and j["windows"] >= 40, j
assert j["schema_version"] == 3, j
' "$N" || fail "status --json"
echo "ok: logwarden status reads the ClickHouse store"

# (2) the same lines through SQLite: the same counts per (window, template), source and level.
"$LW" run --data-dir "$T/sq" --stdin --no-syslog --no-http --no-detect \
  <"$T/in.log" >"$T/run-sqlite.log" 2>&1 || fail "the daemon failed on SQLite"
sqlite3 -separator $'\t' "$T/sq/logwarden.db" \
  "SELECT window_start_ns / 1000000000, template_id, count FROM window_counts ORDER BY 1, 2" \
  >"$T/sq-w.tsv"
ch_query "SELECT toUInt32(window_start) AS w, template_id AS t, sum(count)
          FROM lwtest.window_counts_v GROUP BY w, t ORDER BY w, t" >"$T/ch-w.tsv"
cmp -s "$T/sq-w.tsv" "$T/ch-w.tsv" || { diff "$T/sq-w.tsv" "$T/ch-w.tsv" | head; fail "window counts differ"; }
sqlite3 -separator $'\t' "$T/sq/logwarden.db" \
  "SELECT window_start_ns / 1000000000 AS w, template_id, hex(source) AS s, count FROM window_source_counts ORDER BY w, template_id, s" \
  >"$T/sq-s.tsv"
ch_query "SELECT toUInt32(window_start) AS w, template_id AS t, hex(source) AS s, sum(count)
          FROM lwtest.window_source_counts_v GROUP BY w, t, s ORDER BY w, t, s" >"$T/ch-s.tsv"
cmp -s "$T/sq-s.tsv" "$T/ch-s.tsv" || { diff "$T/sq-s.tsv" "$T/ch-s.tsv" | head; fail "source counts differ"; }
sqlite3 -separator $'\t' "$T/sq/logwarden.db" \
  "SELECT window_start_ns / 1000000000, level, count FROM window_level_counts ORDER BY 1, 2" \
  >"$T/sq-l.tsv"
ch_query "SELECT toUInt32(window_start) AS w, level AS l, sum(count)
          FROM lwtest.window_level_counts_v GROUP BY w, l ORDER BY w, l" >"$T/ch-l.tsv"
cmp -s "$T/sq-l.tsv" "$T/ch-l.tsv" || { diff "$T/sq-l.tsv" "$T/ch-l.tsv" | head; fail "level counts differ"; }
sqlite3 -separator $'\t' "$T/sq/logwarden.db" "SELECT id, hex(text), count FROM templates ORDER BY id" \
  >"$T/sq-t.tsv"
ch_query "SELECT id, hex(argMaxIf(text, seq, has_text = 1)), sum(count_delta) FROM lwtest.templates_v
          GROUP BY id ORDER BY id" >"$T/ch-t.tsv"
cmp -s "$T/sq-t.tsv" "$T/ch-t.tsv" || { diff "$T/sq-t.tsv" "$T/ch-t.tsv" | head; fail "templates differ"; }
echo "ok: SQLite and ClickHouse agree on $(wc -l <"$T/sq-w.tsv") window rows," \
     "$(wc -l <"$T/sq-s.tsv") source rows, $(wc -l <"$T/sq-l.tsv") level rows and" \
     "$(wc -l <"$T/sq-t.tsv") templates"

# (3) a tailed file, a clean restart: the checkpoint comes back from ClickHouse.
sed -i 's/database: lwtest/database: lwtail\n    writer_id: tail-a/' "$T/ch.yaml"
head -n 8000 "$T/in.log" >"$T/tail.log"
"$LW" run -c "$T/ch.yaml" --data-dir "$T/d2" --tail "$T/tail.log" --no-syslog --no-http \
  --no-detect >"$T/run2.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
  s=$(ch_query "SELECT sum(count) FROM lwtail.window_counts_v" 2>/dev/null || echo 0)
  [ "$s" = 8000 ] && break
  sleep 0.1
done
stop_daemon "the tailing daemon did not stop cleanly"
sed -n 8001,10000p "$T/in.log" >>"$T/tail.log"
"$LW" run -c "$T/ch.yaml" --data-dir "$T/d2" --tail "$T/tail.log" --no-syslog --no-http \
  --no-detect >"$T/run3.log" 2>&1 &
PID=$!
ch_wait_visible lwtail 10000 30
sleep 1
stop_daemon "the restarted daemon did not stop cleanly"
sum=$(ch_query "SELECT sum(count) FROM lwtail.window_counts_v")
[ "$sum" = 10000 ] || fail "after a restart the sum of counts is $sum, want 10000"
w=$(ch_query "SELECT groupUniqArray(writer) FROM lwtail.commits")
[ "$w" = "['tail-a']" ] || fail "rows written by $w, want the configured writer_id tail-a"
"$LW" status --data-dir "$T/d2" >"$T/status2.txt" 2>&1 || fail "status: $(cat "$T/status2.txt")"
grep -q "stored lines  10000" "$T/status2.txt" || fail "status: $(cat "$T/status2.txt")"
grep -q "checkpoints   1" "$T/status2.txt" || fail "status: $(cat "$T/status2.txt")"
echo "ok: tail + restart: sum of counts = $sum (nothing read twice), writer tail-a, status agrees"

# (3b) compaction: the tables read as "latest committed row per key" (blobs, checkpoints, notes)
# lose this writer's superseded rows when it starts again, in the background (a mutation).
superseded() { # TABLE KEYS [MAXSEQ]: keys of writer tail-a with more than one committed row
  ch_query "SELECT count() FROM (SELECT $2, count() AS n FROM lwtail.$1_v WHERE writer = 'tail-a'
            AND seq < ${3:-18446744073709551615} GROUP BY $2 HAVING n > 1)"
}
pre_b=$(superseded blobs kind); pre_c=$(superseded checkpoints "input, path")
[ "$pre_b" -ge 1 ] && [ "$pre_c" -ge 1 ] ||
  fail "nothing to compact after two runs (blobs $pre_b, checkpoints $pre_c keys with old rows)"
S4=$(ch_query "SELECT max(seq) + 1 FROM lwtail.commits WHERE writer = 'tail-a'")
rows0=$(ch_query "SELECT count() FROM lwtail.blobs WHERE writer = 'tail-a'")
M0=$(ch_query "SELECT count() FROM system.mutations WHERE database = 'lwtail'")
"$LW" run -c "$T/ch.yaml" --data-dir "$T/d2" --tail "$T/tail.log" --no-syslog --no-http \
  --no-detect >"$T/run4.log" 2>&1 &
PID=$!
for _ in $(seq 1 300); do
  m=$(ch_query "SELECT countIf(is_done = 1), countIf(is_done = 0) FROM system.mutations WHERE database = 'lwtail'" 2>/dev/null || echo "0	1")
  [ "$(echo "$m" | cut -f1)" -gt "$M0" ] && [ "$(echo "$m" | cut -f2)" = 0 ] && break
  sleep 0.1
done
[ "$(echo "$m" | cut -f1)" -gt "$M0" ] && [ "$(echo "$m" | cut -f2)" = 0 ] ||
  fail "no new finished compaction (mutations before: $M0; done, running now: $m)"
post_b=$(superseded blobs kind "$S4"); post_c=$(superseded checkpoints "input, path" "$S4")
rows1=$(ch_query "SELECT count() FROM lwtail.blobs WHERE writer = 'tail-a' AND seq < $S4")
stop_daemon "the third run did not stop cleanly"
[ "$post_b" = 0 ] && [ "$post_c" = 0 ] ||
  fail "superseded rows left after the compaction: blobs $post_b, checkpoints $post_c keys"
sum=$(ch_query "SELECT sum(count) FROM lwtail.window_counts_v")
[ "$sum" = 10000 ] || fail "after the compaction the sum of counts is $sum, want 10000"
"$LW" status --data-dir "$T/d2" >"$T/status3.txt" 2>&1 || fail "status: $(cat "$T/status3.txt")"
grep -q "checkpoints   1" "$T/status3.txt" || fail "status after compaction: $(cat "$T/status3.txt")"
echo "ok: compaction at start: blob rows of earlier runs $rows0 -> $rows1, no superseded row left;" \
     "counts and checkpoints unchanged"

# (4) a server that is not there: a clear error that names the URL, exit code 1.
cat > "$T/down.yaml" <<YAML
store:
  backend: clickhouse
  clickhouse:
    url: http://127.0.0.1:$(ch_free_port)
    timeout: 2s
YAML
if "$LW" run -c "$T/down.yaml" --data-dir "$T/d3" --stdin --no-syslog --no-http </dev/null \
  >"$T/down.log" 2>&1; then
  fail "the daemon started without its ClickHouse"
fi
grep -q "cannot reach ClickHouse at http://127.0.0.1" "$T/down.log" || fail "no clear error: $(cat "$T/down.log")"
echo "ok: ClickHouse down at start: $(grep -o 'cannot reach ClickHouse at [^:]*:[^:]*' "$T/down.log" | head -1)"
echo PASS
