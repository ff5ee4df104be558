#!/usr/bin/env bash
# A mixed stream through `logwarden run --stdin`: nginx access lines, a Java application log with
# multi-line stack traces (timestamp-less "\tat ..." / "Caused by:" lines) and JSON lines, from
# bench/tools/mixgen.py with a fixed seed, interleaved in event-time order, with an injected burst
# of 200 exceptions of a never-seen class (each with its stack trace) within 20 s and some
# timestamp-less lines (JVM warnings, banner lines). Real daemon, real SQLite store in a temp dir,
# HTTP (/metrics) on a free 127.0.0.1 port, alerts to a JSONL file.
#
# Asserts:
#   1. in-order stream: every timestamp is in order within its source, and the timestamp-less
#      lines take their source's time, so no line is late (logwarden_late_lines_total = 0); and
#      the burst alerts: an alert whose event time lies in the burst (from the start of its first
#      10 s window to one window after its last exception) that names the burst's exception or
#      is a volume/level spike.
#   2. the same stream with one nginx line dated 5 years ahead (--future-line; every other line is
#      identical): that timestamp is not believed, so still no line is late, and the burst still
#      alerts.
#
# Why train first: an untrained daemon sees every template for the first time and its volume and
# level baselines warm up on the stream itself, so an alert in the burst would prove little (and
# a silent one could just be warming up). The store is trained on 10 minutes of the same
# generator's normal output (another seed, no burst, no odd lines) that ends where the stream
# starts; the burst's exception class then is the one thing the models have never seen.
set -euo pipefail
LW=${1:?usage: test_mixed_stream.sh /path/to/logwarden}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MIXGEN=$HERE/../../bench/tools/mixgen.py
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }
command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }
[ -f "$MIXGEN" ] || { echo "skip: bench/tools/mixgen.py not found"; exit 77; }

T=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$T"/*.err; do [ -f "$f" ] && { echo "--- $(basename "$f") (last lines)"; tail -15 "$f"; }; done
  exit 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
metric() { # PORT NAME: an unlabelled counter from /metrics
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}
status_field() { # DATA_DIR FIELD
  "$LW" status -d "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

START=1796364000              # 2026-12-04T06:00:00Z
LINES=60000                   # 100 events/s: ~10 min of event time
BURST_AT=300                  # the burst starts 5 min in
TRAIN_LINES=60000

python3 "$MIXGEN" --lines "$TRAIN_LINES" --seed 2 --start $((START - TRAIN_LINES / 100)) --out "$T/history.log"
python3 "$MIXGEN" --lines "$LINES" --seed 3 --start "$START" --inject-burst "$BURST_AT" --no-ts-lines \
  --truth "$T/truth.tsv" --out "$T/inorder.log"
python3 "$MIXGEN" --lines "$LINES" --seed 3 --start "$START" --inject-burst "$BURST_AT" --no-ts-lines \
  --future-line --truth "$T/truth-future.tsv" --out "$T/future.log"
grep -q exception_burst "$T/truth.tsv" || fail "no burst injected: $(cat "$T/truth.tsv")"
grep -q future_line "$T/truth-future.tsv" || fail "no future line injected: $(cat "$T/truth-future.tsv")"
[ "$(diff "$T/inorder.log" "$T/future.log" | grep -c '^[<>]')" -eq 2 ] ||
  fail "the two streams differ in more than the future line"

"$LW" train --from "$T/history.log" -d "$T/trained" >"$T/train.out" 2>&1 || fail "train: $(cat "$T/train.out")"
grep -q "models saved" "$T/train.out" || fail "train said: $(cat "$T/train.out")"

BASE=$(status_field "$T/trained" stored_lines)

run_stream() { # NAME LOG: sets LATE
  local name=$1 log=$2 d=$T/data-$1 port i n prev=-1 same=0
  cp -r "$T/trained" "$d"
  port=$(free_port)
  "$LW" run --stdin --no-syslog --http "127.0.0.1:$port" -d "$d" --alert-file "$T/$name.alerts.jsonl" \
    <"$log" >"$T/$name.out" 2>"$T/$name.err" &
  PID=$!
  # Every record read (stack traces are joined into one record each, so there are fewer records
  # than physical lines) and stored: both counts equal and unchanged for a second.
  for i in $(seq 1 1200); do
    kill -0 "$PID" 2>/dev/null || fail "$name: the daemon exited"
    local lin
    lin=$(metric "$port" logwarden_lines_in_total || true)
    n=$(metric "$port" logwarden_stored_lines_total || true)
    if [ -n "$n" ] && [ -n "$lin" ] && [ "$lin" -gt 0 ] && [ "$((n - BASE))" = "$lin" ] &&
      [ "$n" = "$prev" ]; then
      same=$((same + 1))
      [ "$same" -ge 10 ] && break
    else
      same=0
    fi
    prev=$n
    sleep 0.1
  done
  [ "$same" -ge 10 ] || fail "$name: lines in $(metric "$port" logwarden_lines_in_total), stored $n: not done"
  LATE=$(metric "$port" logwarden_late_lines_total)
  echo "$name: lines_in=$(metric "$port" logwarden_lines_in_total) stored=$n late_lines=$LATE" \
    "anomalies=$(metric "$port" logwarden_anomalies_total) alerts=$(metric "$port" logwarden_alerts_total)"
  kill -TERM "$PID"
  wait "$PID" || fail "$name: the daemon exited $? on SIGTERM"
  PID=
  touch "$T/$name.alerts.jsonl"
}

# The burst alerts: prints the alerts in the burst, fails when none names it or spikes.
check_burst() { # NAME TRUTH
  python3 - "$T/$1.alerts.jsonl" "$2" <<'EOF'
import json, re, sys
alerts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
burst = [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if "\texception_burst\t" in l][0]
t0 = float(burst[1])
m = re.search(r"x (\S+) .* to (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)", burst[5])
cls = m.group(1)
import calendar, time
t1 = calendar.timegm(time.strptime(m.group(2), "%Y-%m-%dT%H:%M:%S")) + 1
lo, hi = (int(t0) // 10) * 10, t1 + 10       # the burst's windows, and one more
short = cls.rsplit(".", 1)[-1]
inside = [a for a in alerts if lo <= a["ts_ns"] / 1e9 < hi]
good = [a for a in inside
        if short in json.dumps(a) or
        (a.get("detector") in ("volume", "level") and a.get("kind") == "spike")]
print("  burst of %s, %s .. %s: %d alert(s) in all, %d in the burst, %d name it or spike:"
      % (short, time.strftime("%H:%M:%S", time.gmtime(lo)), time.strftime("%H:%M:%S", time.gmtime(hi)),
         len(alerts), len(inside), len(good)))
for a in inside:
    print("    %s %s %s/%s %s" % ("*" if a in good else " ", a.get("ts"), a.get("detector"), a.get("kind"),
                                (a.get("summary") or "")[:110]))
if not good:
    print("  all alerts:")
    for a in alerts[:40]:
        print("      %s %s/%s %s" % (a.get("ts"), a.get("detector"), a.get("kind"), (a.get("summary") or "")[:110]))
    sys.exit(1)
EOF
}

# Both streams are run before failing, so that a failure report shows everything.
LATE=
ERRS=()
run_stream inorder "$T/inorder.log"
check_burst inorder "$T/truth.tsv" || ERRS+=("in-order stream: the burst did not alert")
[ "$LATE" = 0 ] || ERRS+=("in-order stream: $LATE late lines, want 0")

run_stream future "$T/future.log"
check_burst future "$T/truth-future.tsv" || ERRS+=("stream with a future line: the burst did not alert")
[ "$LATE" = 0 ] || ERRS+=("stream with a future line: $LATE late lines, want 0")
if [ ${#ERRS[@]} -gt 0 ]; then
  fail "$(printf '%s; ' "${ERRS[@]}")"
fi
echo "ok: the burst alerts, 0 late lines (in order, and with one line dated 5 years ahead)"
