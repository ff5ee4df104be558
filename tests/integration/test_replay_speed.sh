#!/usr/bin/env bash
# Replay speed does not change what is found: the same small multi-source stream replayed in real
# time (1x), at 60x and as a backfill (as fast as possible) gives the same findings.
#
# A store is trained once on normal demo history (`logwarden train`); each speed then runs
# `logwarden run --tail` on a fresh copy of that trained data dir, with a real SQLite store, HTTP
# on a free 127.0.0.1 port and a JSONL alert file. The live stream is ~80 s of event time of
# `logwarden demo` with injected anomalies (a seed whose first 16000 lines hold all five kinds:
# never-seen error template, ssh failed-password burst, silent heartbeat, broken block session,
# latency outlier), in one file whose lines come from many hosts (gateways, API servers, data
# nodes, services: the sources the detectors count by). tools/replay.py appends it to the tailed
# file, paced by the lines' own event times. The tailed file has the same path in every run, so
# the findings' sources compare as they are.
#
# One file, not one per host: several files that already hold a backlog are read one after
# another by the tail, so in a backfill the lines of the files read later fall behind the others
# and count as late (docs/daemon.md, "Known limits"); at 1x and 60x they do not.
#
# When the daemon has stored every line, it is stopped with SIGTERM (which closes the last
# windows). The findings are compared as sets of (detector, kind, template text, source, 10 s
# window of the finding's event time) from the anomalies table; template ids are resolved to
# their text because ids born during a run may be numbered differently. The three sets must be
# equal, and hold at least 4 findings (the injected new error template, ssh burst, latency
# outlier and broken session each give one). Takes about two minutes (the 1x replay).
set -euo pipefail
LW=${1:?usage: test_replay_speed.sh /path/to/logwarden}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPLAY=$HERE/tools/replay.py
command -v sqlite3 >/dev/null || { echo "skip: sqlite3 not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skip: python3 not installed"; exit 77; }

T=$(mktemp -d)
PID=
RPIDS=()
cleanup() {
  local p
  for p in "${RPIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$T"/run-*.err; do [ -f "$f" ] && { echo "--- $(basename "$f") (last lines)"; tail -15 "$f"; }; done
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
status_field() { # DATA_DIR FIELD
  "$LW" status -d "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}
metric() { # PORT NAME: an unlabelled counter from /metrics
  curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

LIVE_START=1767232800         # 2026-01-01T02:00:00Z (syslog lines carry no year: keep it in one year)
HIST_LINES=200000             # ~1000 s of event time (the volume and level baselines warm up), ending
                              # just before the live stream
LIVE_LINES=16000              # ~80 s of event time
"$LW" demo --lines "$HIST_LINES" --anomalies off --seed 21 --start $((LIVE_START - 1000)) --out "$T/history.log"
"$LW" demo --lines "$LIVE_LINES" --seed 24 --start "$LIVE_START" --truth "$T/truth.tsv" --out "$T/live.log"
echo "injected:"; cut -f2,3 "$T/truth.tsv" | sed 's/^/  /'

mkdir -p "$T/stream"
cp "$T/live.log" "$T/stream/all.log"

# The history is learned under the very paths the live files will be tailed from: the volume and
# level baselines are per source, and must be warm for the live sources.
mkdir -p "$T/in"
cp "$T/history.log" "$T/in/all.log"
"$LW" train --from "$T/in/all.log" -d "$T/trained" >"$T/train.out" 2>&1 || fail "train: $(cat "$T/train.out")"
grep -q "models saved" "$T/train.out" || fail "train said: $(cat "$T/train.out")"
BASE=$(status_field "$T/trained" stored_lines)

run_speed() { # SPEED NAME
  local speed=$1 name=$2 d=$T/run-$2 port p i n want
  rm -rf "$T/in"
  mkdir -p "$T/in"
  # The tailed files exist (empty) before the daemon starts: it knows every source from its
  # first poll, whatever the order in which the replays happen to start.
  for f in "$T"/stream/*.log; do : >"$T/in/$(basename "$f")"; done
  cp -r "$T/trained" "$d"
  port=$(free_port)
  "$LW" run -d "$d" --tail "$T/in/*.log" --no-syslog --http "127.0.0.1:$port" \
    --alert-file "$T/run-$name.alerts.jsonl" >"$T/run-$name.out" 2>"$T/run-$name.err" &
  PID=$!
  for i in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/api/v1/status" >/dev/null 2>&1 && break
    kill -0 "$PID" 2>/dev/null || fail "$name: the daemon exited at start"
    sleep 0.1
  done
  RPIDS=()
  for f in "$T"/stream/*.log; do
    python3 "$REPLAY" -q --speed "$speed" --file "$T/in/$(basename "$f")" "$f" &
    RPIDS+=($!)
  done
  for p in "${RPIDS[@]}"; do wait "$p" || fail "$name: replay failed"; done
  RPIDS=()
  want=$((BASE + LIVE_LINES))
  for i in $(seq 1 600); do
    n=$(status_field "$d" stored_lines)
    [ "$n" -ge "$want" ] && break
    kill -0 "$PID" 2>/dev/null || fail "$name: the daemon exited"
    sleep 0.1
  done
  [ "$n" -ge "$want" ] || fail "$name: stored_lines $n, want $want"
  echo "$name: late_lines=$(metric "$port" logwarden_late_lines_total)" \
    "anomalies=$(metric "$port" logwarden_anomalies_total)"
  kill -TERM "$PID"
  wait "$PID" || fail "$name: the daemon exited $? on SIGTERM"
  PID=
  # (detector, kind, template text, source, 10 s window)
  sqlite3 -separator ' | ' "$d/logwarden.db" "
    SELECT a.detector, coalesce(a.kind, ''), coalesce(t.text, '#' || a.template_id, ''),
           coalesce(a.source, ''), a.ts_ns / 10000000000 * 10
    FROM anomalies a LEFT JOIN templates t ON t.id = a.template_id" |
    sed "s|$T/|T/|g" | LC_ALL=C sort -u >"$T/findings-$name.txt"
  echo "$name: $(wc -l <"$T/findings-$name.txt") findings"
}

SPEEDS=${REPLAY_SPEEDS:-0 60 1}   # REPLAY_SPEEDS="0 60" skips the slow 1x run when debugging
for s in $SPEEDS; do
  case $s in 0) run_speed 0 backfill ;; *) run_speed "$s" "x$s" ;; esac
done

n=$(wc -l <"$T/findings-backfill.txt")
ok=1
NAMES=$(for s in $SPEEDS; do case $s in 0) echo backfill ;; *) echo "x$s" ;; esac; done)
for name in $NAMES; do
  if ! cmp -s "$T/findings-backfill.txt" "$T/findings-$name.txt"; then
    ok=0
    echo "findings differ between backfill (<) and $name (>):"
    diff "$T/findings-backfill.txt" "$T/findings-$name.txt" || true
  fi
done
if [ "$ok" = 0 ] || [ "$n" -lt 4 ]; then
  for name in $NAMES; do
    echo "--- findings at $name (detector | kind | template | source | window start, s):"
    cat "$T/findings-$name.txt"
  done
  [ "$ok" = 1 ] || fail "the findings depend on the replay speed"
  fail "only $n findings: the stream proves nothing"
fi
echo "ok: $n findings, the same at 1x, 60x and as a backfill"
