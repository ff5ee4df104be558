#!/usr/bin/env bash
# alert-latency.sh: latency from sending an anomalous line to its alert arriving at each sink,
# while the daemon ingests RATE lines/s of normal traffic over TCP syslog.
#
#  1. bench/tools/alert_latency.py writes TRAIN seconds of normal traffic at RATE lines/s (event
#     times ending now, ISO 8601 with ms), and `logwarden train` learns a fresh store from it.
#  2. The daemon runs on that store with three sinks: stdout (read through a FIFO), a JSONL file
#     (polled every 2 ms) and a JSON webhook to a Python receiver on 127.0.0.1, all three
#     timestamping each alert as it arrives.
#  3. CONNS TCP connections stream RATE lines/s of the same traffic for DURATION seconds, with
#     event times = send times; one more connection injects PER_KIND anomalies of each kind
#     (new template, broken block session, parameter outlier, volume spike) at known moments.
#  4. Per kind and sink: count, p50, p99, max of (alert arrival - injected line's send time)
#     against the targets: p99 <= 1 s (new_template, sequence, params), <= WINDOW + 1 s (volume).
#     Exits 1 when a target is missed or an injection got no alert at a sink.
#
#   bench/alert-latency.sh
#   RATE=100000 DURATION=30 bench/alert-latency.sh
#
# Environment: RATE (200000), DURATION (60; SECONDS from the environment works too), CONNS (4),
# WINDOW (2s: pipeline.window, also the volume detector's), TRAIN (30 s of training traffic),
# PER_KIND (15), BURST_X (10: a volume burst is this many times the template's per-window
# baseline), BENCH_DIR, LW_BIN, KEEP=1.
set -euo pipefail
# SECONDS is bash's own elapsed-time counter; read a value given in the environment at once.
DURATION=${DURATION:-$(printenv SECONDS || echo 60)}
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || die "curl is needed"

RATE=${RATE:-200000}
CONNS=${CONNS:-4}
WINDOW=${WINDOW:-2s}
TRAIN=${TRAIN:-30}
PER_KIND=${PER_KIND:-15}
BURST_X=${BURST_X:-10}
[ "$PER_KIND" -ge 1 ] && [ "$PER_KIND" -le 16 ] ||
    die "PER_KIND must be 1..16 (16 services, 16 jobs; distinct templates and session breaks)"
win_s=$(python3 -c 'import re,sys; m=re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", sys.argv[1]) or sys.exit("WINDOW: use 500ms, 2s, 1m"); print(float(m.group(1))*{"ms":0.001,"s":1,"m":60,None:1}[m.group(2)])' "$WINDOW")

LW_DIR=$(mktemp -d "$BENCH_DIR/$BENCH_NAME.XXXXXX")
RECV_PID=
cleanup() {
    [ -n "$RECV_PID" ] && kill "$RECV_PID" 2>/dev/null
    cleanup_daemon
}
trap cleanup EXIT

sport=$(free_port)
hport=$(free_port)
wport=$(free_port)
cfg=$LW_DIR.yaml
# The alert manager is set so that it hides nothing: the injected anomalies have distinct
# fingerprints (templates and keys) anyway, the cool-down is 1 s instead of 5 min and the
# rate limit is off (rate_per_min 0), so every finding becomes an alert.
cat >"$cfg" <<EOF
pipeline:
  window: $WINDOW
detect:
  new_template:
    warmup: 10s            # the store is trained on $TRAIN s of traffic, not on the default 60 s
  volume:
    warmup_windows: 10
    per_source: false      # training reads a file (source: its path), the run syslog (source:
                           # 127.0.0.1): per-source series of the training would all go silent
  session:
    timeout: 5s            # block sessions end 5 s after their last line
alerts:
  cooldown: 1s
  rate_per_min: 0
  sinks:
    - type: stdout
    - type: file
      path: $LW_DIR.alerts.jsonl
    - type: webhook
      url: http://127.0.0.1:$wport/alerts
      format: json
EOF

echo "$(nproc) CPUs; $LW_BIN; rate $RATE lines/s over $CONNS TCP connections for ${DURATION}s;" \
    "window $WINDOW; $PER_KIND injections per kind"
echo "alert manager for the bench: cooldown 1s (default 5m), rate_per_min 0 = no rate limit" \
    "(default 60/min, burst 20); injections use distinct templates and keys, so deduplication" \
    "cannot hide one"

# 1. Training: TRAIN seconds of the same traffic, ending now.
python3 "$TOOLS/alert_latency.py" train-file --rate "$RATE" --seconds "$TRAIN" \
    --out "$LW_DIR.train.log" >"$LW_DIR.trainfile.json"
echo "training traffic: $(cat "$LW_DIR.trainfile.json")"
t0=$(now)
"$LW_BIN" train -c "$cfg" -d "$LW_DIR" --from "$LW_DIR.train.log" | sed 's/^/  /'
echo "trained in $(secs "$t0" "$(now)") s"
rm -f "$LW_DIR.train.log"

# 2. Receiver (stdout FIFO, JSONL file, webhook), then the daemon writing into the FIFO.
mkfifo "$LW_DIR.stdout"
python3 "$TOOLS/alert_latency.py" receiver --stdin-fifo "$LW_DIR.stdout" \
    --jsonl "$LW_DIR.alerts.jsonl" --port "$wport" --out "$LW_DIR.events" 2>"$LW_DIR.recv.log" &
RECV_PID=$!
"$LW_BIN" run -c "$cfg" -d "$LW_DIR" --syslog "127.0.0.1:$sport" --http "127.0.0.1:$hport" \
    >"$LW_DIR.stdout" 2>"$LW_DIR.log" &
LW_PID=$!
wait_http "$hport"
wait_tcp "$sport"
warming=$(curl -fs "http://127.0.0.1:$hport/metrics" | awk '/^logwarden_detector_warming_up/ && $2 != 0 { print $1 }')
[ -z "$warming" ] || echo "warning: detectors still warming up at start: $warming"

# 3. + 4. Normal traffic and injections; the daemon's CPU time (utime + stime) around it.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$LW_PID/stat"; }
c0=$(cpu_ticks)
d0=$(now)
python3 "$TOOLS/alert_latency.py" drive --port "$sport" --metrics "http://127.0.0.1:$hport/metrics" \
    --rate "$RATE" --seconds "$DURATION" --conns "$CONNS" --window "$win_s" \
    --per-kind "$PER_KIND" --burst-x "$BURST_X" --warm "$(python3 -c "print(max(5.0, 3 * $win_s + 1))")" \
    --out "$LW_DIR.inj" >"$LW_DIR.drive.json"
c1=$(cpu_ticks)
d1=$(now)
curl -fs "http://127.0.0.1:$hport/metrics" >"$LW_DIR.metrics" || true
sleep 1   # alerts of the last injections (all at least 6 s before the end) are out by now
stop_daemon
wait "$RECV_PID" || true
RECV_PID=
echo "receiver: $(tail -1 "$LW_DIR.recv.log")"

python3 - "$LW_DIR.drive.json" "$LW_DIR.metrics" "$((c1 - c0))" "$(getconf CLK_TCK)" "$d0" "$d1" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
cpu_s = int(sys.argv[3]) / int(sys.argv[4])
wall_s = float(sys.argv[6]) - float(sys.argv[5])
m = {}
for ln in open(sys.argv[2]):
    if not ln.startswith("#") and len(ln.split()) == 2:
        m[ln.split()[0]] = ln.split()[1]
print("sender: target %d lines/s, sent %d normal lines in %.1f s = %d lines/s (+%d injected); "
      "blocked in send %.1f s of %.0f conn-s" % (s["target_rate"], s["normal_lines"], s["seconds"],
      s["sent_rate"], s["injected_lines"], s["sender_blocked_s"], s["seconds"] * s["conns"]))
print("sent per second:", " ".join(str(x) for x in s["sent_per_s"]))
print("daemon: logwarden_lines_in_total +%d while sending = %d lines/s; %d at the end of sending, "
      "%d after %.1f s of drain (%d sent in all); logwarden_backpressure_total +%d"
      % (s["lines_in_at_end_of_sending"] - s["lines_in_at_start"], s["daemon_in_rate"],
         s["lines_in_at_end_of_sending"], s["lines_in_after_drain"], s["drain_s"],
         s["lines_in_at_start"] + s["normal_lines"] + s["injected_lines"], s["backpressure"]))
print("daemon lines_in per second:", " ".join(str(x) for x in s["daemon_in_per_s"]))
print("daemon CPU while streaming: %.1f s over %.1f s = %.2f cores" % (cpu_s, wall_s, cpu_s / wall_s))
keys = ["logwarden_parsed_lines_total", "logwarden_late_lines_total", "logwarden_anomalies_total",
        "logwarden_alerts_total", "logwarden_alerts_suppressed_total",
        "logwarden_alerts_limited_total"]
print("metrics after the run:", ", ".join("%s %s" % (k[10:], m.get(k, "?")) for k in keys))
PY

rc=0
python3 "$TOOLS/alert_latency.py" report --injections "$LW_DIR.inj" --events "$LW_DIR.events" || rc=$?
if [ "$rc" -eq 0 ]; then
    echo "alert latency: every target met"
else
    echo "alert latency: target MISSED (see the table)"
fi
exit "$rc"
