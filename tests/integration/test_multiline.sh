#!/usr/bin/env bash
# Multi-line records in `run` and `train`: a Java log whose errors carry stack traces and a
# Python log with tracebacks, read from stdin, posted as HTTP text and NDJSON, and trained on with
# `train --from`. With the default (auto) each stack trace joins the line it belongs to, so a
# record is one log event, mined by its first line (and a Java exception line right after it)
# rather than by its whole stack; --multiline off and the YAML keys change that per input.
set -euo pipefail
LW=${1:?usage: test_multiline.sh /path/to/logwarden}
T=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; [ -f "$T/daemon.log" ] && tail -20 "$T/daemon.log"; exit 1; }

# 200 INFO lines and 200 ERROR lines, each error followed by its exception line and a stack of
# 2-8 distinct frames (half of them with a "Caused by:" part): 400 events in 1867 lines.
python3 - "$T/java.log" "$T/py.log" <<'EOF'
import random, sys
random.seed(7)
out = []
classes = ["java.lang.IllegalStateException", "java.io.IOException",
           "com.acme.billing.PaymentDeclinedException"]
for i in range(200):
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
open(sys.argv[1], "w").write("\n".join(out) + "\n")
py = []
for i in range(100):
    t = f"2026-01-01 11:00:{i % 60:02d}"
    py.append(f"{t} ERROR app: job {i} failed")
    py.append("Traceback (most recent call last):")
    for k in range(random.randint(1, 5)):
        py.append(f'  File "/srv/app/m{random.randint(0, 40)}.py", line {random.randint(1, 500)}, in f{k}')
        py.append(f"    step{random.randint(0, 20)}()")
    py.append(f"ValueError: bad value {i}")
    py.append(f"{t} INFO app: job {i} retried")
open(sys.argv[2], "w").write("\n".join(py) + "\n")
EOF
[ "$(wc -l <"$T/java.log")" -eq 1867 ] || fail "java.log has $(wc -l <"$T/java.log") lines"

stored() { "$LW" status --data-dir "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["stored_lines"])'; }
q() { sqlite3 "$1/logwarden.db" "$2"; }

# --- stdin: auto by default, one record per event
"$LW" run --stdin --no-syslog --no-http --no-detect -d "$T/d1" <"$T/java.log" >>"$T/daemon.log" 2>&1 \
  || fail "stdin run"
[ "$(stored "$T/d1")" -eq 400 ] || fail "stdin auto: stored_lines $(stored "$T/d1"), want 400"

# --- what the miner sees: the first line and the exception line, never the frames. 200 errors
# with different stacks make one template per exception class, not one per stack.
n=$(q "$T/d1" "SELECT count(*) FROM templates")
[ "$n" -le 6 ] || fail "java: $n templates, want a handful: $(q "$T/d1" "SELECT text FROM templates LIMIT 10")"
for c in java.lang.IllegalStateException java.io.IOException com.acme.billing.PaymentDeclinedException; do
  k=$(q "$T/d1" "SELECT sum(count) FROM templates WHERE text LIKE 'request failed for user <*> $c: %'")
  [ -n "$k" ] && [ "$k" -ge 66 ] || fail "no template names $c: $(q "$T/d1" "SELECT text FROM templates")"
done
q "$T/d1" "SELECT text FROM templates" | grep -q "Cls.java" && fail "a stack frame was mined"

# --- --multiline off: every physical line is a record again
"$LW" run --stdin --no-syslog --no-http --no-detect --multiline off -d "$T/d2" <"$T/java.log" \
  >>"$T/daemon.log" 2>&1 || fail "stdin run --multiline off"
[ "$(stored "$T/d2")" -eq 1867 ] || fail "--multiline off: stored_lines $(stored "$T/d2"), want 1867"

# --- the YAML keys: start mode with a pattern (a record starts at a date)
printf 'inputs:\n  stdin: {multiline: start, multiline_regex: "^\\\\d{4}-", max_multiline_lines: 4}\n' \
  >"$T/start.yaml"
"$LW" run --stdin --no-syslog --no-http --no-detect -c "$T/start.yaml" -d "$T/d3" <"$T/java.log" \
  >>"$T/daemon.log" 2>&1 || fail "stdin run with multiline: start"
# At most 4 physical lines per record: a long trace is split, so more than 400 records.
n=$(stored "$T/d3")
[ "$n" -gt 400 ] && [ "$n" -lt 1867 ] || fail "start + max_multiline_lines 4: stored_lines $n"

# --- a bad pattern is a configuration error naming the key
printf 'inputs:\n  http: {multiline: regex, multiline_regex: "(["}\n' >"$T/bad.yaml"
if "$LW" run --stdin --no-syslog --no-http -c "$T/bad.yaml" -d "$T/d4" </dev/null >"$T/bad.out" 2>&1; then
  fail "a bad multiline_regex was accepted"
fi
grep -q "inputs.http.multiline_regex" "$T/bad.out" || fail "no key named: $(cat "$T/bad.out")"

# --- Python tracebacks
"$LW" run --stdin --no-syslog --no-http --no-detect -d "$T/d5" <"$T/py.log" >>"$T/daemon.log" 2>&1 \
  || fail "stdin run (python)"
[ "$(stored "$T/d5")" -eq 200 ] || fail "python: stored_lines $(stored "$T/d5"), want 200"
n=$(q "$T/d5" "SELECT count(*) FROM templates")
[ "$n" -le 3 ] || fail "python: $n templates: $(q "$T/d5" "SELECT text FROM templates LIMIT 10")"

# --- HTTP: text bodies join, NDJSON bodies are one record per line
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
HP=$(free_port)
"$LW" run --no-syslog --http "127.0.0.1:$HP" --no-detect -d "$T/d6" >>"$T/daemon.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$HP/api/v1/status" >/dev/null 2>&1 && break
  sleep 0.1
done
r=$(curl -sf -H 'Content-Type: text/plain' --data-binary @"$T/java.log" "http://127.0.0.1:$HP/api/v1/ingest") \
  || fail "text ingest"
[ "$r" = '{"accepted":400,"rejected":0}' ] || fail "text body: $r"
r=$(printf '{"message":"a"}\n{"message":"  b"}\n{"message":"java.lang.IllegalStateException: x"}\n' |
  curl -sf -H 'Content-Type: application/x-ndjson' --data-binary @- "http://127.0.0.1:$HP/api/v1/ingest") \
  || fail "ndjson ingest"
[ "$r" = '{"accepted":3,"rejected":0}' ] || fail "ndjson body: $r"
kill -TERM "$PID"
wait "$PID" || fail "the daemon did not exit 0"
PID=
[ "$(stored "$T/d6")" -eq 403 ] || fail "http: stored_lines $(stored "$T/d6"), want 403"

# --- train --from: auto by default, --multiline off on request
"$LW" train --from "$T/java.log" -d "$T/d7" >"$T/train.out" 2>&1 || fail "train: $(cat "$T/train.out")"
grep -q "trained on 400 lines" "$T/train.out" || fail "train auto: $(head -1 "$T/train.out")"
"$LW" train --from "$T/java.log" --multiline off -d "$T/d8" >"$T/train.out" 2>&1 || fail "train off"
grep -q "trained on 1867 lines" "$T/train.out" || fail "train off: $(head -1 "$T/train.out")"

echo "PASS"
