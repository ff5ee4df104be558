#!/usr/bin/env bash
# HTTP request bodies cannot exhaust the daemon's memory: every buffered body byte, every
# decompressed byte and the parser's per-line arrays are taken from one budget
# (inputs.http.max_buffered, 32 MiB here). (a) A gzip bomb over max_body gets 413; one just under
# it (8 KB of gzip, 4 million one-byte lines) is taken in bounded pieces, so that it costs
# megabytes, not the ~220 MB of line arrays a whole-body parse did. (b) 24 concurrent clients
# with 8 MiB bodies: beyond the budget they get 503 with Retry-After at once (the body is not
# read), the others 202, and peak RSS stays bounded. Loopback only; ~200 MB sent in all.
set -euo pipefail
LW=${1:?usage: test_robust_http_memory.sh /path/to/logwarden}
. "$(dirname "$0")/tools/robust_lib.sh"

HWM_LIMIT_KB=$((260 * 1024))
# Under AddressSanitizer freed memory is kept in a quarantine (256 MB by default), which would
# hide what the daemon itself holds; a small one keeps VmHWM meaningful.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
start --memory-limit 64MiB --config <(printf 'inputs:\n  http:\n    max_buffered: 32MiB\n')
hwm0=$(hwm_kb)
note "VmHWM at start: $((hwm0 / 1024)) MB"

python3 - "$HP" "$PID" <<'EOF_PY'
import gzip, socket, sys, threading, time, zlib
port = int(sys.argv[1])
failures = []

def hwm_mb():
    with open(f"/proc/{sys.argv[2]}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1

def post(body, headers=b"", timeout=120):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    head = (b"POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: text/plain\r\n" + headers +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    buf = b""
    try:
        s.sendall(head)
        view = memoryview(body)
        for off in range(0, len(body), 1 << 20):
            s.sendall(view[off:off + (1 << 20)])
    except (BrokenPipeError, ConnectionResetError):
        pass  # answered early and closed: read the answer
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return buf

def status(buf):
    try:
        return int(buf.split(b"\r\n", 1)[0].split()[1])
    except (IndexError, ValueError):
        return None

def bomb(n_bytes):
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"x\n" * (1 << 19)
    out = []
    left = n_bytes
    while left > 0:
        out.append(c.compress(chunk[:min(left, len(chunk))]))
        left -= min(left, len(chunk))
    out.append(c.flush())
    return b"".join(out)

big = bomb(64 << 20)
r = post(big, b"Content-Encoding: gzip\r\n")
print(f"# gzip bomb, {len(big)} bytes -> 64 MiB: {status(r)}")
if status(r) != 413:
    failures.append(f"64 MiB gzip bomb: got {r[:200]!r}, want 413")

small = bomb(8_000_000)
t0 = time.monotonic()
r = post(small, b"Content-Encoding: gzip\r\n")
print(f"# gzip bomb, {len(small)} bytes -> 8,000,000 bytes of 'x\\n': {status(r)} "
      f"in {time.monotonic() - t0:.1f} s, VmHWM {hwm_mb()} MB")
if status(r) not in (202, 503):
    failures.append(f"8 MB gzip bomb: got {r[:200]!r}, want 202 (or 503 partial)")

# Concurrent big bodies.
body = (b"concurrent body line padding padding padding padding padding\n" * 140000)[:8 << 20]
results = []
lock = threading.Lock()
def client():
    r = post(body)
    retry = b"retry-after: 1" in r.lower()
    with lock:
        results.append((status(r), retry))
ts = [threading.Thread(target=client) for _ in range(24)]
t0 = time.monotonic()
for t in ts:
    t.start()
for t in ts:
    t.join()
codes = {}
for st, _ in results:
    codes[st] = codes.get(st, 0) + 1
print(f"# 24 concurrent 8 MiB bodies in {time.monotonic() - t0:.1f} s: {codes}, "
      f"VmHWM {hwm_mb()} MB")
if codes.get(503, 0) == 0:
    failures.append(f"concurrent bodies: no 503 beyond the budget: {codes}")
if codes.get(202, 0) == 0:
    failures.append(f"concurrent bodies: none accepted: {codes}")
if set(codes) - {202, 503}:
    failures.append(f"concurrent bodies: unexpected answers: {codes}")
if not all(retry for st, retry in results if st == 503):
    failures.append("a 503 without Retry-After")
if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
EOF_PY
alive "after the big bodies"
hwm=$(hwm_kb)
note "VmHWM after: $((hwm / 1024)) MB (limit $((HWM_LIMIT_KB / 1024)) MB)"
[ "$hwm" -lt "$HWM_LIMIT_KB" ] || fail "VmHWM $((hwm / 1024)) MB over $((HWM_LIMIT_KB / 1024)) MB"
http_ingest 3
finish
