#!/usr/bin/env bash
# Template ids that agree across instances, with a real ClickHouse server (Debian's
# clickhouse-server, started here under a temp dir): two instances (writer ids a and b) each mine
# half of one log (even and odd lines, as two consumers of one topic would) into one ClickHouse
# database, and one instance mines the whole log into SQLite. The templates generalise as lines
# come, so their ids change and old ids become aliases. With the aliases applied, ClickHouse's
# counts per (window, template) from the two instances equal SQLite's from the single one, the
# template texts agree, and some aliases were needed to get there.
# Skips (77) when clickhouse-server is not installed.
set -euo pipefail
LW=${1:?usage: test_template_ids.sh /path/to/logwarden}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/tools/clickhouse_lib.sh"

# Templates whose second word varies slowly (rows under the early ids are stored before the
# template generalises): each becomes "<*>" once four values were seen, so every
# instance ends with the same texts when it saw enough of each (both halves see all values).
N=40000
python3 - "$T/all.log" "$T/even.log" "$T/odd.log" "$N" <<'PY'
import sys
out_all, out_even, out_odd, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
jobs = ["backup", "rotate", "compact", "scrub", "vacuum"]
states = ["ok", "degraded", "failed", "rebuilding", "offline"]
users = ["alice", "bob", "carol", "dave", "erin", "frank"]
with open(out_all, "w") as fa, open(out_even, "w") as fe, open(out_odd, "w") as fo:
    for i in range(n):
        t = 1764064800 + i // 40
        ts = f"2025-11-25T{(t // 3600) % 24:02d}:{(t // 60) % 60:02d}:{t % 60:02d}Z"
        k, v = (i // 2) % 4, i // 4000
        if k == 0:
            msg = f"INFO job {jobs[v % 5]} finished in {i * 3} ms"
        elif k == 1:
            msg = f"WARN disk sd{'abcd'[(i // 8) % 4]} is {states[v % 5]}"
        elif k == 2:
            msg = f"INFO session {i} closed for user {users[v % 6]}"
        else:
            msg = "ERROR connection reset by peer"
        line = f"{ts} web{i % 3} app: {msg}\n"
        fa.write(line)
        (fe if i % 2 == 0 else fo).write(line)
PY

# Feeds a file in steps, so that the daemon commits (every flush_interval) while the templates
# are still young: rows under ids that later become aliases.
slowcat() { python3 "$HERE/tools/feed.py" "$1" - 1000 0.1; }

for w in a b; do
  cat > "$T/ch-$w.yaml" <<YAML
pipeline:
  flush_interval: 50ms
store:
  backend: clickhouse
  clickhouse:
    url: $CH_URL
    database: lwids
    writer_id: inst-$w
    timeout: 5s
    batch_rows: 100
YAML
done
printf 'pipeline:\n  flush_interval: 50ms\n' >"$T/sq.yaml"
slowcat "$T/even.log" | "$LW" run -c "$T/ch-a.yaml" --data-dir "$T/a" --stdin --no-syslog \
  --no-http --no-detect >"$T/run-a.log" 2>&1 || fail "instance a failed"
slowcat "$T/odd.log" | "$LW" run -c "$T/ch-b.yaml" --data-dir "$T/b" --stdin --no-syslog \
  --no-http --no-detect >"$T/run-b.log" 2>&1 || fail "instance b failed"
slowcat "$T/all.log" | "$LW" run -c "$T/sq.yaml" --data-dir "$T/sq" --stdin --no-syslog \
  --no-http --no-detect >"$T/run-sq.log" 2>&1 || fail "the SQLite instance failed"

sum=$(ch_query "SELECT sum(count) FROM lwids.window_counts_v")
[ "$sum" = "$N" ] || fail "sum of window counts in ClickHouse is $sum, want $N"
n_alias=$(ch_query "SELECT count() FROM lwids.template_aliases_v WHERE to_id != 0")
[ "$n_alias" -gt 0 ] || fail "no template aliases in ClickHouse: the templates did not generalise"
raw=$(ch_query "SELECT uniqExact(template_id) FROM lwids.window_counts_v")
old=$(ch_query "SELECT uniqExact(template_id) FROM lwids.window_counts_v WHERE template_id IN
                (SELECT from_id FROM lwids.template_aliases_v WHERE to_id != 0)")
[ "$old" -gt 0 ] || fail "no counts under ids that became aliases: the test shows nothing"

# Counts per (window, template), the aliases applied (an old id counts for its live one).
ch_query "SELECT toUInt32(window_start) AS w, if(live_id = 0, template_id, live_id) AS t,
          sum(count)
          FROM lwids.window_counts_v
          ANY LEFT JOIN (SELECT from_id AS template_id, any(to_id) AS live_id
                         FROM lwids.template_aliases_v WHERE to_id != 0 GROUP BY from_id)
          USING template_id
          GROUP BY w, t ORDER BY w, t" >"$T/ch-w.tsv"
sqlite3 -separator $'\t' "$T/sq/logwarden.db" \
  "SELECT w.window_start_ns / 1000000000 AS ws, coalesce(a.to_id, w.template_id) AS t,
          sum(w.count)
   FROM window_counts w LEFT JOIN template_aliases a ON a.from_id = w.template_id
   GROUP BY ws, t ORDER BY ws, t" >"$T/sq-w.tsv"
cmp -s "$T/sq-w.tsv" "$T/ch-w.tsv" ||
  { diff "$T/sq-w.tsv" "$T/ch-w.tsv" | head; fail "counts per window and template differ"; }
live=$(cut -f2 "$T/ch-w.tsv" | sort -u | wc -l)
echo "ok: 2 instances in ClickHouse = 1 instance in SQLite on $(wc -l <"$T/ch-w.tsv") rows:" \
     "$raw ids counted ($old of them aliases now), $n_alias alias rows, $live live templates"

# The live templates have the same texts on both sides.
ch_query "SELECT id, argMaxIf(text, seq, has_text = 1) FROM lwids.templates_v
          WHERE id NOT IN (SELECT from_id FROM lwids.template_aliases_v WHERE to_id != 0)
          GROUP BY id ORDER BY id" >"$T/ch-t.tsv"
sqlite3 -separator $'\t' "$T/sq/logwarden.db" \
  "SELECT id, text FROM templates WHERE id NOT IN (SELECT from_id FROM template_aliases)
   ORDER BY id" >"$T/sq-t.tsv"
cmp -s "$T/sq-t.tsv" "$T/ch-t.tsv" ||
  { diff "$T/sq-t.tsv" "$T/ch-t.tsv" | head; fail "live template texts differ"; }
cat "$T/sq-t.tsv"
echo "ok: $(wc -l <"$T/sq-t.tsv") live templates with the same id and text on both sides"
