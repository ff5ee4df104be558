#!/usr/bin/env bash
# bench/mixed-burst.sh: a mixed nginx/Java/JSON stream with one exception burst, backfilled
# through `logwarden run --stdin`: are lines counted late, and does the burst alert?
#
#   bench/mixed-burst.sh              # untrained store (a new user's first run), then trained
#   TRAIN=0 bench/mixed-burst.sh      # only the untrained run
#   bench/mixed-burst.sh --help
#
# bench/tools/mixgen.py writes LINES (150000) lines, seed SEED (3), from START
# (2026-12-04T07:00:00Z) at 100 events/s, with --inject-burst BURST_AT (600 s: 200 exceptions of
# a never-seen class within 20 s, each with its stack trace), one line dated 5 years ahead
# (--future-line) and timestamp-less lines (--no-ts-lines), and its --truth file. Each run
# starts `logwarden run --stdin --no-syslog --http 127.0.0.1:FREE_PORT --alert-file` in a fresh
# data directory under ${BENCH_DIR:-/tmp/lw-bench}/mixed-burst.XXXXXX (KEEP=1 keeps it), waits
# until the daemon has read every line and SETTLE_SECONDS (5) more, prints /metrics counters
# (late lines among them) and the store's window range (`logwarden status --json`), stops it,
# and lists the alerts whose event time is within [burst - 10 s, burst end + 60 s]: those that
# name the burst's exception, and the others by detector/kind. The trained run first learns from
# TRAIN_LINES (300000) lines of the same generator (seed 2, no burst, no odd lines) that end
# where the stream starts. Prints per run:
#   run=untrained lines=N late_lines=L alerts=A burst_alerts=B burst_window_alerts=W
set -euo pipefail
case ${1:-} in
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "mixed-burst.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LW=${LW_BIN:-$ROOT/build/logwarden}
MIXGEN=$ROOT/bench/tools/mixgen.py
LINES=${LINES:-150000}
SEED=${SEED:-3}
START=${START:-2026-12-04T07:00:00Z}
BURST_AT=${BURST_AT:-600}
TRAIN=${TRAIN:-1}
TRAIN_LINES=${TRAIN_LINES:-300000}
SETTLE=${SETTLE_SECONDS:-5}
BENCH_DIR=${BENCH_DIR:-/tmp/lw-bench}
[ -x "$LW" ] || { echo "mixed-burst.sh: no executable $LW" >&2; exit 1; }
mkdir -p "$BENCH_DIR"
W=$(mktemp -d "$BENCH_DIR/mixed-burst.XXXXXX")
LW_PID=
cleanup() {
    if [ -n "$LW_PID" ] && kill -0 "$LW_PID" 2>/dev/null; then
        kill -TERM "$LW_PID" 2>/dev/null || true
        wait "$LW_PID" 2>/dev/null || true
    fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$W"; else echo "kept $W"; fi
}
trap cleanup EXIT

metrics() {
    python3 - "$1" <<'PY' 2>/dev/null || true
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
for line in body.splitlines():
    f = line.split()
    if len(f) == 2 and not line.startswith("#") and "{" not in f[0]:
        print(f[0].replace("logwarden_", ""), f[1])
PY
}
metric() { metrics "$1" | awk -v n="$2" '$1 == n { print $2 }'; }

python3 "$MIXGEN" --lines "$LINES" --seed "$SEED" --start "$START" --inject-burst "$BURST_AT" \
    --future-line --no-ts-lines --truth "$W/truth.tsv" --out "$W/mixed.log"
echo "stream: $LINES lines, seed $SEED, from $START; injected:"
sed 's/^/  /' "$W/truth.tsv"

run_one() {
    local name=$1 d=$W/$name port i v
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    if [ "$name" = trained ]; then
        python3 "$MIXGEN" --lines "$TRAIN_LINES" --seed 2 --start "$(python3 -c "
import calendar, time, sys
t = calendar.timegm(time.strptime('$START'.rstrip('Z'), '%Y-%m-%dT%H:%M:%S'))
print(t - $TRAIN_LINES / 100.0)")" --out "$W/history.log"
        "$LW" train --from "$W/history.log" -d "$d" >"$d.train.log" 2>&1 ||
            { echo "train failed: $(tail -3 "$d.train.log")" >&2; exit 1; }
    fi
    "$LW" run --stdin --no-syslog --http "127.0.0.1:$port" -d "$d" --alert-file "$d.alerts.jsonl" \
        <"$W/mixed.log" >"$d.stdout" 2>"$d.log" &
    LW_PID=$!
    # Stack traces are joined into one record each, so fewer records than lines come in: wait
    # until the count of records stops moving.
    prev=-1
    for i in $(seq 600); do
        v=$(metric "$port" lines_in_total)
        [ -n "$v" ] && [ "$v" -gt 0 ] && [ "$v" = "$prev" ] && break
        prev=$v
        kill -0 "$LW_PID" 2>/dev/null || { echo "daemon exited: $(tail -3 "$d.log")" >&2; exit 1; }
        sleep 1
    done
    sleep "$SETTLE"
    echo "== $name: /metrics"
    metrics "$port" | grep -E '^(lines_in|parsed_lines|late_lines|invalid_lines|header_mismatch_lines|templates|anomalies|alerts|alerts_suppressed|alerts_limited|incidents)(_total)? ' |
        sed 's/^/  /'
    LATE=$(metric "$port" late_lines_total)
    echo "== $name: logwarden status --json"
    "$LW" status -d "$d" --json | sed 's/^/  /'
    echo
    kill -TERM "$LW_PID"
    wait "$LW_PID" || echo "daemon exited $?" >&2
    LW_PID=
    touch "$d.alerts.jsonl"
    python3 - "$d.alerts.jsonl" "$W/truth.tsv" <<'PY'
import collections, json, sys
alerts = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
burst = None
for l in open(sys.argv[2]):
    f = l.rstrip("\n").split("\t")
    if f[2] == "exception_burst":
        burst = f
print("alerts: %d" % len(alerts))
for a in alerts[:40]:
    print("  %s %-14s %-16s %s" % (a["ts"], a["detector"], a["kind"], (a["summary"] or "")[:120]))
if len(alerts) > 40:
    print("  ... %d more" % (len(alerts) - 40))
b_alerts = w_alerts = 0
if burst:
    t0 = float(burst[1])
    t1 = t0 + 20
    inwin = [a for a in alerts if t0 - 10 <= a["ts_ns"] / 1e9 <= t1 + 60]
    named = [a for a in alerts if "LedgerCorrupted" in json.dumps(a) or "StockReservation" in json.dumps(a)
             or "StockLedger" in json.dumps(a)]
    b_alerts, w_alerts = len(named), len(inwin)
    print("burst at %s: %d alert(s) name its exception (any time); %d alert(s) in [burst-10s, burst+80s]:" %
          (burst[0], len(named), len(inwin)))
    for a in named[:10]:
        print("  NAMES BURST %s %s/%s %s" % (a["ts"], a["detector"], a["kind"], (a["summary"] or "")[:140]))
    c = collections.Counter("%s/%s" % (a["detector"], a["kind"]) for a in inwin)
    for k, n in c.most_common():
        print("  in window %-28s %d" % (k, n))
open(sys.argv[1] + ".summary", "w").write("alerts=%d burst_alerts=%d burst_window_alerts=%d\n" % (len(alerts), b_alerts, w_alerts))
PY
    echo "run=$name lines=$LINES late_lines=$LATE $(cat "$d.alerts.jsonl.summary")" >>"$W/summary"
}
LATE=
for name in untrained $([ "$TRAIN" = 1 ] && echo trained); do
    run_one "$name"
done
echo
cat "$W/summary"
