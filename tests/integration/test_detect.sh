#!/usr/bin/env bash
# Detection end to end, with a real SQLite store in a temp dir: `logwarden train` on normal demo
# history, then `logwarden run` on a demo stream with injected anomalies and two sinks (stdout and
# a JSONL file). Asserts that the injected broken block sessions and never-seen templates are
# found (the truth file of `logwarden demo` names them), that every alert reached both sinks with
# an explanation, that the models survive a restart (a second run reports from its first line),
# and that `eval detect` prints the documented JSON keys (on ../shared/data when present).
set -euo pipefail
LW=${1:?usage: test_detect.sh /path/to/logwarden}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; [ -f "$T/run.err" ] && tail -20 "$T/run.err"; exit 1; }

"$LW" demo --lines 200000 --anomalies off --seed 11 --out "$T/history.log"
"$LW" demo --lines 120000 --seed 12 --start 1767232800 --truth "$T/truth.tsv" --out "$T/live.log"

"$LW" train --from "$T/history.log" -d "$T/data" >"$T/train.out" 2>&1 || fail "train: $(cat "$T/train.out")"
grep -q "models saved" "$T/train.out" || fail "train said: $(cat "$T/train.out")"
# status tells what each detector's warm-up still needs (here: nothing, after the history)
"$LW" status -d "$T/data" >"$T/status.out" || fail "status failed"
grep -q "volume ready (30 of 30 windows)" "$T/status.out" || fail "status: $(cat "$T/status.out")"
"$LW" status -d "$T/data" --json | python3 -c '
import json, sys
d = {x["detector"]: x for x in json.load(sys.stdin)["detectors"]}
assert not d["volume"]["warming_up"] and d["volume"]["need"] == 30, d
' || fail "status --json: no detectors warm-up"

printf 'alerts:\n  sinks:\n    - {type: stdout}\n    - {type: file, path: %s}\n' \
  "$T/alerts.jsonl" >"$T/lw.yaml"
"$LW" run --stdin --no-syslog --no-http -d "$T/data" -c "$T/lw.yaml" \
  <"$T/live.log" >"$T/run.out" 2>"$T/run.err" || fail "run failed"

q() { sqlite3 "$T/data/logwarden.db" "$1"; }

# --- broken sessions: every injected one is found by a session detector, by its block id
broken=$(awk -F'\t' '$2 == "broken_session" {sub(/^key=/, "", $3); split($3, a, " "); print a[1]}' "$T/truth.tsv")
[ -n "$broken" ] || fail "the demo injected no broken session"
for k in $broken; do
  n=$(q "SELECT count(*) FROM anomalies WHERE key = '$k' AND detector IN ('sequence', 'session_counts')")
  [ "$n" -ge 1 ] || fail "broken session $k not found"
done

# --- never-seen templates: found by the new-template detector
n_new=$(awk -F'\t' '$2 == "new_template"' "$T/truth.tsv" | wc -l)
found_new=$(q "SELECT count(*) FROM anomalies WHERE detector = 'new_template'")
[ "$found_new" -ge "$n_new" ] || fail "new templates: $found_new found, $n_new injected"

# --- every alert sent reached both sinks, with its explanation
sent=$(q "SELECT count(*) FROM alerts WHERE state IN ('pending', 'sent')")
[ "$sent" -ge 1 ] || fail "no alert was sent"
lines=$(wc -l <"$T/alerts.jsonl")
[ "$lines" -eq "$sent" ] || fail "JSONL sink has $lines alerts, the store says $sent were sent"
python3 - "$T/alerts.jsonl" <<'EOF' || fail "a JSONL alert lacks its fields"
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    assert isinstance(a.get("explanation"), dict), a
    assert a.get("severity") in ("warning", "critical"), a
    assert a.get("summary") or a.get("anomaly", {}).get("summary"), a
EOF
grep -q "why:" "$T/run.out" || fail "the stdout sink printed no explanation"
n_stdout=$(grep -c "why:" "$T/run.out")
[ "$n_stdout" -eq "$sent" ] || fail "stdout sink printed $n_stdout alerts, $sent were sent"

# --- the models were saved and are loaded by the next run
q "SELECT length(blob) FROM model_state" | grep -qE '^[0-9]+$' || fail "no model saved"
grep -q "detector models loaded" "$T/run.err" || fail "the run did not load the trained models"

# --- eval detect: the documented JSON keys (the figures themselves: docs/sessions.md)
if [ -d "${LW_SHARED_DATA:-}/hdfs-sessions" ]; then
  "$LW" eval detect --dataset-dir "$LW_SHARED_DATA/hdfs-sessions" --json >"$T/eval.json"
  python3 - "$T/eval.json" <<'EOF' || fail "eval detect JSON: $(cat "$T/eval.json")"
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("precision", "recall", "f1", "fpr", "f1_projected"):
    assert 0.0 <= r[k] <= 1.0, k
# Loose floors: a regression in the session detectors shows here; targets are in the bench notes.
assert r["recall"] >= 0.95 and r["f1_projected"] >= 0.9, r
EOF
else
  echo "note: ${LW_SHARED_DATA:-../shared/data}/hdfs-sessions absent: eval detect not checked"
fi
echo "ok: detection end to end"
