#!/usr/bin/env bash
# `make run`: the daemon with its defaults (syslog on 127.0.0.1:5514, HTTP on 127.0.0.1:8080,
# data in ./logwarden-data), fed by the project's demo log generator through a tailed file.
# First it trains the detectors on an hour of normal demo history (`logwarden train`, a few
# seconds), so that the anomalies the generator injects show up as alerts on this terminal
# (the daemon's stdout sink) within seconds of the start, each with its explanation.
# Runs RUN_SECONDS seconds (default 120; 0 = until Ctrl-C), printing the store's status every
# 10 s, then stops the daemon cleanly (SIGTERM), prints the final status and scores the alerts
# the daemon sent against the generator's own record of what it injected
# (bench/tools/alert-score.py: alert precision and incident recall).
set -euo pipefail
cd "$(dirname "$0")/.."
LW=${LW:-build/logwarden}
SECS=${RUN_SECONDS:-120}
RATE=${DEMO_RATE:-2000}
mkdir -p build/demo
rm -f build/demo/demo.log build/demo/alerts.jsonl build/demo/truth.tsv
NOW=$(date +%s)
echo "make run: training the detectors on an hour of normal demo history..."
"$LW" demo --lines 700000 --anomalies off --seed 4242 --start $((NOW - 3600)) \
  --out build/demo/history.txt
"$LW" train --from build/demo/history.txt
rm -f build/demo/history.txt
T0=$(date +%s.%N)
"$LW" demo --rate "$RATE" --lines 1000000000 --seed "$NOW" --start "$NOW" --out build/demo/demo.log \
  --truth build/demo/truth.tsv &
GEN=$!
# Alerts go to this terminal (stdout) and to a JSONL file that is scored at the end.
printf 'alerts:\n  sinks:\n    - {type: stdout}\n    - {type: file, path: build/demo/alerts.jsonl}\n' \
  >build/demo/logwarden.yaml
"$LW" run --tail 'build/demo/*.log' -c build/demo/logwarden.yaml &
DAEMON=$!
stop() {
  kill "$GEN" 2>/dev/null || true
  wait "$GEN" 2>/dev/null || true  # the generator writes its truth file when it stops
  kill -TERM "$DAEMON" 2>/dev/null || true
  wait "$DAEMON" 2>/dev/null || true
  echo
  "$LW" status
  if [ -s build/demo/truth.tsv ] && [ -f build/demo/alerts.jsonl ]; then
    echo
    echo "The alerts above against what the generator injected (build/demo/truth.tsv):"
    python3 bench/tools/alert-score.py --alerts build/demo/alerts.jsonl --truth build/demo/truth.tsv \
      --log build/demo/demo.log --live-start "$T0" --rate "$RATE" || true
  fi
}
trap 'stop; exit 0' INT TERM
sleep 1
if ! kill -0 "$DAEMON" 2>/dev/null; then
  kill "$GEN" 2>/dev/null || true
  echo "make run: the daemon did not start (ports 5514/8080 busy? see above)" >&2
  exit 1
fi
cat <<MSG

  logwarden is running with its defaults, fed by the demo generator ($RATE lines/s).
  The generator injects anomalies every few seconds (new error templates, ssh bursts, silent
  heartbeats, broken block sessions, latency outliers): they appear below as alerts, each
  with a "why:" line — what the model expected and what it saw.
    dashboard: http://127.0.0.1:8080/   (the query API: docs/api.md)
    status:   $LW status            (or: curl -s http://127.0.0.1:8080/api/v1/status)
    metrics:  curl -s http://127.0.0.1:8080/metrics
    send:     logger -n 127.0.0.1 -P 5514 --tcp "hello from syslog"
              curl -s -XPOST --data-binary 'hello over http' -H 'Content-Type: text/plain' \\
                   http://127.0.0.1:8080/api/v1/ingest
    store:    sqlite3 logwarden-data/logwarden.db 'select id, count, text from templates order by count desc limit 10'
  $( [ "$SECS" = 0 ] && echo "Ctrl-C stops it." || echo "It stops by itself after $SECS s (RUN_SECONDS=0 runs until Ctrl-C)." )

MSG
t=0
while [ "$SECS" = 0 ] || [ "$t" -lt "$SECS" ]; do
  sleep 10
  t=$((t + 10))
  "$LW" status --json | python3 -c 'import json,sys; s=json.load(sys.stdin); print("  [%4ss] stored lines %s, templates %s, windows %s" % (sys.argv[1], s["stored_lines"], s["templates"], s["windows"]))' "$t" || true
done
stop
