#!/usr/bin/env bash
# Multi-line records in the file tail: a Java log with stack traces is written to a tailed file
# in pieces (traces split across writes and polls) while the daemon is killed with SIGKILL in
# the middle of traces and started again. Every event must be stored exactly once as one record
# (the checkpoint never passes a trace that is still held back), and the tail must learn the
# same templates as `train --from` on the same file. Also checks the syslog UDP metrics and
# inputs.syslog.udp_rcvbuf.
set -euo pipefail
LW=${1:?usage: test_tail_multiline.sh /path/to/logwarden}
T=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/daemon.log" ] && tail -20 "$T/daemon.log"; exit 1; }

# 150 INFO and 150 ERROR events; each error has its exception line and 2-8 frames, half of them
# a "Caused by:" part. Written as pieces: cut points inside traces, one piece per write.
python3 - "$T/java.log" "$T/pieces" <<'EOF'
import random, sys
random.seed(11)
out = []
classes = ["java.lang.IllegalStateException", "java.io.IOException",
           "com.acme.billing.PaymentDeclinedException"]
for i in range(150):
    t = f"2026-01-01 10:{i // 60:02d}:{i % 60:02d}"
    out.append(f"{t},123 INFO  [main] c.a.Svc - handled request id={i}")
    out.append(f"{t},500 ERROR [worker-{i % 7}] c.a.Svc - request failed for user u{i}")
    out.append(f"{classes[i % 3]}: state {i} invalid")
    for _ in range(random.randint(2, 8)):
        out.append(f"\tat com.acme.m{random.randint(0, 50)}.Cls{random.randint(0, 30)}."
                   f"fn{random.randint(0, 9)}(Cls.java:{random.randint(1, 900)})")
    if i % 2 == 0:
        out.append("Caused by: java.net.SocketTimeoutException: read timed out")
        out.append(f"\tat java.net.Socket.read(Socket.java:{i})")
        out.append(f"\t... {random.randint(1, 40)} more")
text = "\n".join(out) + "\n"
open(sys.argv[1], "w").write(text)
# Cut points: mostly right after an "at" frame, so that a piece ends inside a trace.
cuts, pos = [], 0
while pos < len(text):
    nxt = text.find("\tat ", pos + random.randint(200, 2500))
    if nxt < 0:
        break
    cuts.append(nxt)
    pos = nxt
with open(sys.argv[2], "w") as f:
    f.write(" ".join(map(str, cuts + [len(text)])) + "\n")
EOF

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
stored() { "$LW" status --data-dir "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])'; }
q() { sqlite3 "$1/logwarden.db" "$2"; }
HP=$(free_port)
SP=$(free_port)
printf 'inputs:\n  syslog: {udp_rcvbuf: 4KiB}\n  tail: {poll_interval: 50ms}\n' >"$T/c.yaml"
start() {
  "$LW" run -c "$T/c.yaml" --tail "$T/app.log" --syslog "127.0.0.1:$SP" --http "127.0.0.1:$HP" \
    --no-detect -d "$T/d" >>"$T/daemon.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$HP/api/v1/status" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  fail "the daemon did not start"
}
metric() { curl -sf "http://127.0.0.1:$HP/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

: >"$T/app.log"
start
# The syslog UDP metrics: the kernel drop counter, and the receive buffer as granted for 4 KiB.
[ "$(metric logwarden_syslog_udp_kernel_drops_total)" = 0 ] || fail "no udp_kernel_drops_total"
buf=$(metric logwarden_syslog_udp_rcvbuf_bytes)
[ -n "$buf" ] && [ "$buf" -gt 0 ] && [ "$buf" -lt 65536 ] || fail "udp_rcvbuf_bytes '$buf' for 4KiB"
m=$(curl -sf "http://127.0.0.1:$HP/metrics")  # not piped into grep -q: SIGPIPE and pipefail
grep -q '^# HELP logwarden_syslog_dropped_udp_total .*kernel' <<<"$m" \
  || fail "the help of logwarden_syslog_dropped_udp_total does not mention kernel drops"

# Write the file in pieces 30 ms apart (less than the 200 ms after which a quiet file's held
# record is complete, more than a poll: traces are split across polls). Four times, a piece ends
# inside a trace: 100 ms later (the trace's start is read and held) the daemon is killed with
# SIGKILL, the rest of the event is written, and the daemon starts again.
python3 - "$T/java.log" "$T/app.log" "$T/pieces" "$T/kill_at" <<'EOF2'
import sys
text = open(sys.argv[1], "rb").read()
cuts = [int(x) for x in open(sys.argv[3]).read().split()]
# Kill after the 3rd, 6th, 9th and 12th piece; each of those ends inside a trace.
kills = [cuts[i] for i in (2, 5, 8, 11) if i < len(cuts) - 1]
open(sys.argv[4], "w").write(" ".join(map(str, kills)) + "\n")
EOF2
read -r -a kill_at <"$T/kill_at"
write_to() {  # appends java.log[$1, $2) to app.log in the pieces between them, 30 ms apart
  python3 - "$T/java.log" "$T/app.log" "$T/pieces" "$1" "$2" <<'EOF2'
import sys, time
text = open(sys.argv[1], "rb").read()
a, b = int(sys.argv[4]), int(sys.argv[5])
cuts = [c for c in map(int, open(sys.argv[3]).read().split()) if a < c < b] + [b]
with open(sys.argv[2], "ab", buffering=0) as f:
    for c in cuts:
        f.write(text[a:c])
        a = c
        time.sleep(0.03)
EOF2
}
# The end of the event a kill point is in: the start of the next INFO line.
event_end() {
  python3 -c 'import sys; t=open(sys.argv[1],"rb").read(); i=t.find(b"INFO", int(sys.argv[2])); print(t.rfind(b"\n", 0, i) + 1 if i >= 0 else len(t))' "$T/java.log" "$1"
}
prev=0 kills=0
for k in "${kill_at[@]}"; do
  write_to "$prev" "$k"
  sleep 0.1
  kill -9 "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
  kills=$((kills + 1))
  prev=$(event_end "$k")
  write_to "$k" "$prev"
  start
done
write_to "$prev" "$(stat -c %s "$T/java.log")"
[ "$kills" -eq 4 ] || fail "only $kills kills"
for _ in $(seq 1 100); do
  [ "$(metric logwarden_stored_lines_total)" = 300 ] && break
  sleep 0.1
done
kill -TERM "$PID"
wait "$PID" || fail "the daemon did not exit 0"
PID=
[ "$(stored "$T/d")" -eq 300 ] || fail "stored_lines $(stored "$T/d"), want 300 (one per event)"

# The same templates as train --from, which joins the file with the reader's rules.
"$LW" train --from "$T/java.log" -d "$T/t" >"$T/train.out" 2>&1 || fail "train: $(cat "$T/train.out")"
grep -q "trained on 300 lines" "$T/train.out" || fail "train: $(head -1 "$T/train.out")"
# Live templates only: a template that generalised keeps its old row as an alias
# (template_aliases), and when that happens depends on how the restarts cut the file.
live="SELECT text FROM templates WHERE id NOT IN (SELECT from_id FROM template_aliases) ORDER BY text"
a=$(q "$T/d" "$live")
b=$(q "$T/t" "$live")
[ "$a" = "$b" ] || fail "tail and train learned different templates: tail: $a  train: $b"
q "$T/d" "SELECT text FROM templates" | grep -q "Cls.java" && fail "a stack frame was mined"
echo "PASS"
