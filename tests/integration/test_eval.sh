#!/usr/bin/env bash
# Integration test of `logwarden eval parse --dataset-dir`: runs it on the Loghub-2k data sets and
# checks the shape of the JSON (all seven systems, every GA within 0..1). The accuracy thresholds
# belong to the miner's tests, not here.
# Usage: bash test_eval.sh /path/to/logwarden. Exit 0 pass, 1 fail, 77 skip (no data).
set -u

bin="${1:?usage: test_eval.sh /path/to/logwarden}"
data="${LW_SHARED_DATA:-}/loghub-2k"

if [ -z "${LW_SHARED_DATA:-}" ] || [ ! -d "$data" ]; then
    echo "skip: \$LW_SHARED_DATA/loghub-2k is absent"
    exit 77
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT

if ! "$bin" eval parse --dataset-dir "$data" --json >"$out"; then
    echo "FAIL: logwarden eval parse --dataset-dir exited with an error"
    cat "$out"
    exit 1
fi

python3 - "$out" <<'PY'
import json
import sys

with open(sys.argv[1]) as f:
    doc = json.load(f)
want = {"Apache", "BGL", "HDFS", "HPC", "Linux", "OpenSSH", "Spark"}
got = {s["system"] for s in doc["systems"]}
missing = want - got
if missing:
    sys.exit("FAIL: systems missing from the JSON: %s" % sorted(missing))
for s in doc["systems"]:
    for key in ("ga", "fga", "pa", "fta"):
        if not 0.0 <= s[key] <= 1.0:
            sys.exit("FAIL: %s %s = %r is not within 0..1" % (s["system"], key, s[key]))
    if s["lines"] <= 0:
        sys.exit("FAIL: %s has no lines" % s["system"])
if not 0.0 <= doc["average"]["ga"] <= 1.0:
    sys.exit("FAIL: average GA out of range")
print("ok: %d systems, average GA %.3f" % (len(got), doc["average"]["ga"]))
PY
