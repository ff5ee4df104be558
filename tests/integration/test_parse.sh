#!/usr/bin/env bash
# Integration test of `logwarden parse`: JSON lines validity and order, -j 2 against -j 1,
# --state round trip and corrupt state, truncation, invalid UTF-8, gzip, stdin, CSV, the
# template table (--templates, --top), user masks, unreadable files, --help and option errors.
# Usage: bash test_parse.sh /path/to/logwarden. Exit 0 pass, 1 fail, 77 skip.
set -u

LW=${1:-}
if [ -z "$LW" ] || [ ! -x "$LW" ]; then
    echo "skip: no logwarden binary given" >&2
    exit 77
fi
if ! command -v python3 > /dev/null; then
    echo "skip: python3 is needed to check JSON and CSV" >&2
    exit 77
fi
HERE=$(cd "$(dirname "$0")" && pwd)
DATA=${LW_TEST_DATA:-$HERE/../data}/parse
[ -d "$DATA" ] || DATA=$HERE/../data/parse
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lw_parse.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
FMT='<Date> <Time> <Pid> <Level> <Component>: <Content>'

# Checks that every line of $1 is a JSON object and that events have lines 1..N in order
# (template rows, "type":"template", may follow the events). Prints the number of events.
check_jsonl() {
    python3 - "$1" <<'EOF'
import json, sys
n = 0
tpl = 0
with open(sys.argv[1], encoding="utf-8") as f:
    for raw in f:
        o = json.loads(raw)
        if o.get("type") == "template":
            tpl += 1
            continue
        if tpl:
            sys.exit("event after the template table")
        n += 1
        if o["line"] != n:
            sys.exit("line %d has line number %r" % (n, o["line"]))
        for k in ("ts", "level", "template_id", "template", "params"):
            if k not in o:
                sys.exit("line %d lacks %s" % (n, k))
        if not isinstance(o["params"], list) or not all(isinstance(p, str) for p in o["params"]):
            sys.exit("line %d: params is not a list of strings" % n)
print(n)
EOF
}

# Compares two JSON-lines outputs by line number, per-line template text and template set.
same_events() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
def load(p):
    ev, tp = [], set()
    for raw in open(p, encoding="utf-8"):
        o = json.loads(raw)
        if o.get("type") == "template":
            tp.add(o["template"])
        else:
            # Params are not compared: with -j N another thread may generalise the template
            # between the miner's parameter extraction and the template text lookup.
            ev.append((o["line"], o["template"]))
    return ev, tp
e1, t1 = load(sys.argv[1])
e2, t2 = load(sys.argv[2])
if t1 != t2:
    sys.exit("template sets differ: %s" % sorted(t1 ^ t2)[:5])
for a, b in zip(e1, e2):
    if a != b:
        sys.exit("line %d: %r vs %r" % (a[0], a[1:], b[1:]))
if len(e1) != len(e2):
    sys.exit("event counts differ")
EOF
}

# --help exits 0 and names every option.
help=$("$LW" parse --help) || fail "--help failed"
for opt in --format --output --templates --top --state --threads --max-line-bytes --multiline \
           --multiline-regex --multiline-start --mask-off --mask --masks-file --sim \
           --max-templates --year --quiet --log-level example; do
    printf '%s' "$help" | grep -q -- "$opt" || fail "--help does not mention $opt"
done

# Bad options exit 2 and name the option.
check_bad() {
    local want=$1
    shift
    err=$("$LW" parse "$@" < /dev/null 2>&1 > /dev/null)
    rc=$?
    [ "$rc" -eq 2 ] || fail "'$*' exited $rc, want 2"
    printf '%s' "$err" | grep -q -- "$want" || fail "'$*' message does not name $want: $err"
}
check_bad --bogus --bogus
check_bad --output --output xml
check_bad -j -j 0
check_bad --threads --threads abc
check_bad --sim --sim 2
check_bad --mask-off --mask-off num,nosuchkind
check_bad --mask --mask noequals
check_bad --top --top 0
check_bad --format --format
check_bad --year --year 99
check_bad --log-level --log-level loud
check_bad --templates --templates=yes

# A demo log: valid JSON per line, in input order, right line numbers; stdin gives the same.
"$LW" demo --lines 20000 --seed 3 --out "$TMP/demo.log" || fail "demo failed"
"$LW" parse -q "$TMP/demo.log" > "$TMP/j1.jsonl" || fail "parse -j 1 failed"
n=$(check_jsonl "$TMP/j1.jsonl") || fail "-j 1 output is not valid JSON lines in order"
[ "$n" -eq 20000 ] || fail "-j 1 wrote $n events, want 20000"
"$LW" parse -q < "$TMP/demo.log" > "$TMP/stdin.jsonl" || fail "parse from stdin failed"
cmp -s "$TMP/j1.jsonl" "$TMP/stdin.jsonl" || fail "stdin output differs from file output"
"$LW" parse -q - < "$TMP/demo.log" | cmp -s "$TMP/j1.jsonl" - || fail "'-' differs from file"

# -j 2 (and -j 3): same per-line template text and the same template set as -j 1.
for j in 2 3; do
    "$LW" parse -q -j "$j" --templates "$TMP/demo.log" > "$TMP/jn.jsonl" ||
        fail "parse -j $j failed"
    "$LW" parse -q --templates "$TMP/demo.log" > "$TMP/j1t.jsonl" || fail "parse failed"
    n=$(check_jsonl "$TMP/jn.jsonl") || fail "-j $j output is not valid JSON lines in order"
    [ "$n" -eq 20000 ] || fail "-j $j wrote $n events"
    same_events "$TMP/j1t.jsonl" "$TMP/jn.jsonl" || fail "-j $j differs from -j 1"
done

# The same through the CSV writer, and the CSV parses with python's csv module.
"$LW" parse -q --output csv "$TMP/demo.log" > "$TMP/out.csv" || fail "--output csv failed"
python3 - "$TMP/out.csv" "$TMP/j1.jsonl" <<'EOF' || fail "CSV output is wrong"
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
if rows[0] != ["line", "ts", "level", "template_id", "template", "params"]:
    sys.exit("header row %r" % rows[0])
js = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
if len(rows) - 1 != len(js):
    sys.exit("%d rows for %d events" % (len(rows) - 1, len(js)))
for r, o in zip(rows[1:], js):
    if int(r[0]) != o["line"] or r[4] != o["template"] or json.loads(r[5]) != o["params"]:
        sys.exit("row %r does not match event %r" % (r, o))
    if (r[1] == "") != (o["ts"] is None) or (r[2] == "") != (o["level"] is None):
        sys.exit("row %r: ts/level do not match %r" % (r, o))
EOF

# An explicit format on a small fixture: fields, params, the template table and --top.
"$LW" parse -q --format "$FMT" --templates "$DATA/store_small.log" > "$TMP/s.jsonl" ||
    fail "parse --format failed"
n=$(check_jsonl "$TMP/s.jsonl") || fail "store_small output is invalid"
[ "$n" -eq 40 ] || fail "store_small: $n events"
python3 - "$TMP/s.jsonl" <<'EOF' || fail "store_small events or templates are wrong"
import json, sys
ev, tp = [], []
for raw in open(sys.argv[1], encoding="utf-8"):
    o = json.loads(raw)
    (tp if o.get("type") == "template" else ev).append(o)
if len(tp) != 4:
    sys.exit("want 4 templates, got %d" % len(tp))
if sum(t["count"] for t in tp) != 40:
    sys.exit("template counts do not add up to 40")
for t in tp:
    if not t["first_seen"].startswith("2026-01-01T10:00:") or not t["last_seen"].endswith("Z"):
        sys.exit("first/last seen %r" % t)
e = ev[0]
if e["component"] != "store.Writer" or e["level"] != "info" or e["ts"] != 1767261600000000000:
    sys.exit("first event %r" % e)
if "4679192365072849617" not in "".join(e["params"]) or len(e["params"]) < 2:
    sys.exit("block id not among params %r" % e["params"])
if any(o["level"] != "warn" for o in ev if "fetch failed" in o["template"]):
    sys.exit("warn level lost")
EOF
"$LW" parse -q --format "$FMT" --output none --top 2 "$DATA/store_small.log" > "$TMP/top.txt" ||
    fail "--top failed"
[ "$(wc -l < "$TMP/top.txt")" -eq 3 ] || fail "--top 2 text table: $(cat "$TMP/top.txt")"
head -1 "$TMP/top.txt" | grep -q 'count' || fail "--top 2: no heading row"
sed -n 2p "$TMP/top.txt" | grep -q ' 12 .*fetch failed' || fail "--top 2: most frequent first"
sed -n 3p "$TMP/top.txt" | grep -q ' 10 ' || fail "--top 2: second row"
"$LW" parse -q --format "$FMT" --output csv --top 1 "$DATA/store_small.log" > "$TMP/top.csv" ||
    fail "--output csv --top failed"
python3 - "$TMP/top.csv" <<'EOF' || fail "CSV template table"
import csv, sys
text = open(sys.argv[1], encoding="utf-8", newline="").read()
events, table = text.split("\r\n\r\n")
rows = list(csv.reader(table.splitlines()))
if rows[0] != ["id", "count", "first_seen", "last_seen", "template"] or len(rows) != 2:
    sys.exit("table %r" % rows)
if rows[1][1] != "12":
    sys.exit("top row %r" % rows[1])
EOF

# Odd bytes: quotes, backslashes, control characters, invalid UTF-8 and NUL stay valid JSON.
{
    cat "$DATA/odd.log"
    printf 'bad bytes \xff\xfe and \xc3 end\n'
    printf 'ctrl \x01\x02\x1b[31m red\n'
    printf 'nul \x00 inside\n'
    printf 'no newline at the end'
} > "$TMP/odd.log"
"$LW" parse -q "$TMP/odd.log" > "$TMP/odd.jsonl" || fail "parse of odd bytes failed"
n=$(check_jsonl "$TMP/odd.jsonl") || fail "odd bytes gave invalid JSON"
[ "$n" -eq 9 ] || fail "odd bytes: $n events, want 9"
sed -n 6p "$TMP/odd.jsonl" | grep -q '"invalid_utf8":true' || fail "invalid UTF-8 not flagged"
sed -n 8p "$TMP/odd.jsonl" | grep -q '"invalid_utf8":true' || fail "NUL not flagged"
"$LW" parse -q -j 2 "$TMP/odd.log" | cmp -s "$TMP/odd.jsonl" - || fail "-j 2 odd bytes differ"

# User masks from the command line and from a masks file.
"$LW" parse -q --masks-file "$DATA/masks.txt" "$DATA/odd.log" > "$TMP/m.jsonl" ||
    fail "--masks-file failed"
sed -n 3p "$TMP/m.jsonl" | grep -q '"params":\["alice","req-abcdef01"\]' ||
    fail "masks file not applied: $(sed -n 3p "$TMP/m.jsonl")"
"$LW" parse -q --mask 'reqid=req-[0-9a-f]{4,}' "$DATA/odd.log" | sed -n 3p |
    grep -q '"req-abcdef01"' || fail "--mask not applied"
"$LW" parse -q --mask 'bad=(' "$DATA/odd.log" > /dev/null 2>&1
[ $? -eq 2 ] || fail "a bad --mask regex should exit 2"
"$LW" parse -q --masks-file "$TMP/nonexistent" "$DATA/odd.log" > /dev/null 2>&1
[ $? -eq 1 ] || fail "a missing masks file should exit 1"

# A long line is truncated and flagged, and the next line is still line 3.
{
    echo "2026-01-01T00:00:00Z INFO app: short one"
    printf '2026-01-01T00:00:01Z INFO app: long %s\n' "$(head -c 5000 /dev/zero | tr '\0' x)"
    echo "2026-01-01T00:00:02Z INFO app: short two"
} > "$TMP/long.log"
"$LW" parse --max-line-bytes 1000 "$TMP/long.log" > "$TMP/long.jsonl" 2> "$TMP/long.err" ||
    fail "parse of a long line failed"
n=$(check_jsonl "$TMP/long.jsonl") || fail "long line output is invalid"
[ "$n" -eq 3 ] || fail "long line: $n events, want 3"
sed -n 2p "$TMP/long.jsonl" | grep -q '"truncated":true' || fail "long line not flagged"
sed -n 1p "$TMP/long.jsonl" | grep -q '"truncated"' && fail "short line flagged"
grep -q '1 truncated' "$TMP/long.err" || fail "summary does not count the truncated line"

# gzip input is read transparently.
if command -v gzip > /dev/null; then
    gzip -c "$TMP/demo.log" > "$TMP/demo.log.gz"
    "$LW" parse -q "$TMP/demo.log.gz" | cmp -s "$TMP/j1.jsonl" - || fail "gzip output differs"
    "$LW" parse -q -j 2 < "$TMP/demo.log.gz" > "$TMP/gz2.jsonl" || fail "gzip -j 2 failed"
    same_events "$TMP/j1.jsonl" "$TMP/gz2.jsonl" || fail "gzip on stdin with -j 2 differs"
fi

# --state: a missing file starts empty (info message), the second run keeps the ids.
head -n 10000 "$TMP/demo.log" > "$TMP/part1.log"
tail -n 10000 "$TMP/demo.log" > "$TMP/part2.log"
"$LW" parse --state "$TMP/st" --output none --templates "$TMP/part1.log" > "$TMP/st1.txt" \
    2> "$TMP/st1.err" || fail "first --state run failed: $(cat "$TMP/st1.err")"
grep -q "$TMP/st" "$TMP/st1.err" || fail "no message about the missing state file"
[ -s "$TMP/st" ] || fail "state file not written"
"$LW" parse -q --state "$TMP/st" "$TMP/part1.log" > "$TMP/st2.jsonl" || fail "second run failed"
"$LW" parse -q --state "$TMP/st" -j 2 "$TMP/part1.log" > "$TMP/st3.jsonl" || fail "third run failed"
"$LW" parse -q --state "$TMP/st" --templates --output none "$TMP/part2.log" > "$TMP/st4.txt" ||
    fail "fourth run failed"
python3 - "$TMP/st1.txt" "$TMP/st2.jsonl" "$TMP/st3.jsonl" <<'EOF' || fail "ids not stable"
import json, sys
# The first run's table: id -> template. A run that loaded the state matches every line to a
# template the first run left, with the same id and text (nothing new: the lines are the same).
table = {}
for raw in list(open(sys.argv[1], encoding="utf-8"))[1:]:
    f = raw.split(None, 4)
    table[int(f[0])] = f[4].rstrip("\n")
runs = []
for p in sys.argv[2:]:
    ids = []
    for raw in open(p, encoding="utf-8"):
        o = json.loads(raw)
        if o["template_id"] not in table:
            sys.exit("%s line %d: id %d not in the saved table" % (p, o["line"], o["template_id"]))
        if table[o["template_id"]] != o["template"]:
            sys.exit("%s line %d: %r vs saved %r" % (p, o["line"], o["template"],
                                                    table[o["template_id"]]))
        ids.append(o["template_id"])
    runs.append(ids)
if runs[0] != runs[1]:
    sys.exit("-j 1 and -j 2 runs from the same state differ")
if len(set(runs[0])) < 10:
    sys.exit("too few templates used")
EOF
# Counts accumulate across runs: 4 runs, every template's count adds up to 40000 lines.
total=$(awk 'NR > 1 { s += $2 } END { print s }' "$TMP/st4.txt")
[ "$total" -eq 40000 ] || fail "counts across --state runs add up to $total, want 40000"

# A corrupt or foreign state file is an error naming the file, never a silent fresh start.
cp "$TMP/st" "$TMP/bad"
printf 'garbage' | dd of="$TMP/bad" bs=1 seek=40 conv=notrunc 2> /dev/null
err=$("$LW" parse --state "$TMP/bad" --output none "$TMP/part1.log" 2>&1 > /dev/null)
rc=$?
[ "$rc" -eq 1 ] || fail "corrupt state exited $rc, want 1"
printf '%s' "$err" | grep -q "$TMP/bad" || fail "corrupt state message does not name it: $err"
echo "not a state file at all" > "$TMP/foreign"
err=$("$LW" parse --state "$TMP/foreign" --output none "$TMP/part1.log" 2>&1 > /dev/null)
rc=$?
[ "$rc" -eq 1 ] || fail "foreign state exited $rc, want 1"
printf '%s' "$err" | grep -q "$TMP/foreign" || fail "foreign state message: $err"
[ "$(cat "$TMP/foreign")" = "not a state file at all" ] || fail "foreign state file overwritten"

# An unreadable file is reported by name, the others are still parsed, and the exit is 1.
err=$("$LW" parse -q "$TMP/nope.log" "$DATA/odd.log" 2>&1 > "$TMP/two.jsonl")
rc=$?
[ "$rc" -eq 1 ] || fail "missing input exited $rc, want 1"
printf '%s' "$err" | grep -q "nope.log" || fail "missing input message: $err"
[ "$(wc -l < "$TMP/two.jsonl")" -eq 5 ] || fail "the readable file was not parsed"
# With several files each event names its file and line numbers restart.
"$LW" parse -q "$DATA/odd.log" "$DATA/odd.log" > "$TMP/two.jsonl" || fail "two files failed"
sed -n 6p "$TMP/two.jsonl" | grep -q '^{"line":1,.*"file":' || fail "second file's first line"

# Multi-line grouping joins continuation lines into one event.
{
    printf '2026-01-01T00:00:00Z ERROR app: boom\n  at a.b(C.java:1)\n  at d.e(F.java:2)\n'
    printf '2026-01-01T00:00:01Z INFO app: ok\n'
} > "$TMP/ml.log"
[ "$("$LW" parse -q --multiline auto "$TMP/ml.log" | wc -l)" -eq 2 ] || fail "--multiline auto"
[ "$("$LW" parse -q "$TMP/ml.log" | wc -l)" -eq 4 ] || fail "multi-line should be off by default"
[ "$("$LW" parse -q --multiline-start '^2026-' "$TMP/ml.log" | wc -l)" -eq 2 ] ||
    fail "--multiline-start"

# --output none prints nothing but the summary; -q silences the summary.
[ -z "$("$LW" parse -q --output none "$TMP/demo.log")" ] || fail "--output none wrote events"
err=$("$LW" parse --output none "$TMP/demo.log" 2>&1 > /dev/null)
printf '%s' "$err" | grep -q '20000 lines' || fail "summary: $err"
printf '%s' "$err" | grep -q 'lines/s' || fail "summary lacks lines/s: $err"

echo "ok"
exit 0
