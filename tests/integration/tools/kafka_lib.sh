#!/usr/bin/env bash
# Shared by tests/integration/test_kafka_*.sh: a temp dir, a real broker (tools/kafka.sh), the
# daemon, and cleanup on exit. Source it after setting LW; it exits 77 (skip) when this build
# has no Kafka input or the broker cannot be had, and says why.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$HERE/kafka.sh"
T=$(mktemp -d)
PIDS=()
kl_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  kafka_stop
  rm -rf "$T"
}
trap kl_cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$T"/daemon*.log; do [ -f "$f" ] && { echo "--- $f"; tail -30 "$f"; }; done
  exit 1
}
if "$LW" run --help | grep -q 'no Kafka input'; then
  echo "SKIP: this logwarden was built without librdkafka (apt-get install librdkafka-dev)"
  exit 77
fi
command -v kcat >/dev/null 2>&1 || { echo "SKIP: no kcat (apt-get install kcat)"; exit 77; }
rc=0
kafka_start "$T" || rc=$?
[ "$rc" -eq 0 ] || { [ "$rc" -eq 77 ] && exit 77; fail "the Kafka broker did not start"; }

# stored DATA_DIR: the store's total of lines counted (0 before the store exists).
stored() {
  "$LW" status --data-dir "$1" --json 2>/dev/null |
    python3 -c 'import json,sys
try: print(json.load(sys.stdin)["stored_lines"])
except ValueError: print(0)'
}

# Starts a daemon on data dir $1 with the remaining flags; its pid goes to $DPID and PIDS.
start_daemon() {
  local dir=$1 log=$2
  shift 2
  "$LW" run --data-dir "$dir" --no-syslog --no-http --no-detect --log-level info "$@" \
    >>"$log" 2>&1 &
  DPID=$!
  PIDS+=("$DPID")
}

# wait_stored DIR N SECONDS: until the store holds N lines (fails after SECONDS).
wait_stored() {
  local i
  for i in $(seq 1 $(($3 * 5))); do
    [ "$(stored "$1")" -ge "$2" ] && return 0
    sleep 0.2
  done
  fail "$1 holds $(stored "$1") lines after $3 s, want $2"
}

# Writes N text lines of a few templates to FILE (line i names request i).
gen_lines() {
  python3 - "$1" "$2" <<'PY'
import random, sys
n, out = int(sys.argv[1]), sys.argv[2]
r = random.Random(7)
with open(out, "w") as f:
    for i in range(n):
        k = i % 4
        if k == 0:
            f.write(f"2026-11-25T10:00:{i % 60:02d}Z INFO request {i} served in {r.randrange(900)} ms\n")
        elif k == 1:
            f.write(f"2026-11-25T10:00:{i % 60:02d}Z WARN cache miss for key user:{r.randrange(10**6)}\n")
        elif k == 2:
            f.write(f"2026-11-25T10:00:{i % 60:02d}Z INFO block blk_{r.randrange(10**12)} stored on 10.0.{r.randrange(256)}.{r.randrange(256)}\n")
        else:
            f.write(f"2026-11-25T10:00:{i % 60:02d}Z ERROR disk {r.randrange(8)} latency {r.randrange(10**4)} us\n")
PY
}

# produce TOPIC FILE: one record per line; keyed "hostN:" lines (kcat -K:) when KEYED=1.
produce() {
  if [ "${KEYED:-0}" = 1 ]; then
    kcat -P -b "$KAFKA_BOOTSTRAP" -t "$1" -K '|' -l "$2"
  else
    kcat -P -b "$KAFKA_BOOTSTRAP" -t "$1" -l "$2"
  fi
}

# produce_slowly TOPIC FILE CHUNKS: in CHUNKS pieces, 0.2 s apart, in the background ($PRODPID),
# so that a daemon can be killed while records still arrive.
produce_slowly() {
  local topic=$1 file=$2 chunks=$3
  split -n "l/$chunks" -d -a 3 "$file" "$T/chunk."
  (
    for c in "$T"/chunk.*; do
      kcat -P -b "$KAFKA_BOOTSTRAP" -t "$topic" -l "$c"
      sleep 0.2
    done
  ) &
  PRODPID=$!
  PIDS+=("$PRODPID")
}

# check_committed GROUP TOPIC: every partition's committed offset equals its end offset.
check_committed() {
  local out i
  for i in $(seq 1 50); do
    out=$(kafka_group_offsets "$1" "$2")
    if [ -n "$out" ] && awk '$2 != $3 { bad = 1 } END { exit bad }' <<<"$out"; then
      echo "committed offsets (partition committed end):"
      echo "$out"
      return 0
    fi
    sleep 0.2
  done
  echo "$out"
  fail "committed offsets of group $1 are not the end offsets"
}

# checkpoint DATA_DIR PATH: the offset the store holds for the Kafka partition PATH ("" if none).
checkpoint() {
  sqlite3 "$1/logwarden.db" "SELECT offset FROM checkpoints WHERE input = 'kafka' AND path = '$2'"
}
