#!/usr/bin/env bash
# http-memory.sh: peak RSS of the daemon while CLIENTS clients (100) post BODY_MIB (16 MiB) text
# bodies at once over loopback. Every body byte is taken from inputs.http.max_buffered (64 MiB by
# default): what does not fit is answered 503 with Retry-After before its body is read, and the
# bench's clients then retry (up to RETRIES times, waiting Retry-After). Prints the answers, the
# lines stored, and VmHWM; the target is VmHWM <= memory_limit + 64 MiB (the pipeline may hold
# memory_limit of lines, request bodies at most max_buffered).
#
#   bench/http-memory.sh                          # 100 clients x 16 MiB, memory_limit 256MiB
#   CLIENTS=20 BODY_MIB=8 MEMORY_LIMIT=64MiB bench/http-memory.sh
#
# Environment: CLIENTS (100), BODY_MIB (16), RETRIES (0: no retry), MEMORY_LIMIT (256MiB),
# MAX_BUFFERED (the daemon's default), BENCH_DIR, LW_BIN, KEEP=1. Only 127.0.0.1 is contacted.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

CLIENTS=${CLIENTS:-100}
BODY_MIB=${BODY_MIB:-16}
RETRIES=${RETRIES:-0}
MEMORY_LIMIT=${MEMORY_LIMIT:-256MiB}
mkdir -p "$BENCH_DIR"
port=$(free_port)
conf=$(mktemp "$BENCH_DIR/http-memory.XXXXXX.yaml")
printf 'inputs:\n  http:\n    max_body: %dMiB\n' "$BODY_MIB" > "$conf"
[ -n "${MAX_BUFFERED:-}" ] && printf '    max_buffered: %s\n' "$MAX_BUFFERED" >> "$conf"
start_daemon --no-syslog --http "127.0.0.1:$port" --memory-limit "$MEMORY_LIMIT" --config "$conf"
wait_http "$port"
hwm0=$(proc_kib "$LW_PID" VmHWM)
echo "$CLIENTS clients x $BODY_MIB MiB; memory_limit $MEMORY_LIMIT; VmHWM at start $((hwm0 / 1024)) MiB"

python3 - "$port" "$CLIENTS" "$BODY_MIB" "$RETRIES" <<'EOF_PY'
import socket, sys, threading, time
port, clients, mib, retries = (int(a) for a in sys.argv[1:5])
line = b"2026-12-04T10:00:00Z web1 app[42]: request 123456 served in 12 ms from cache shard 7\n"
body = (line * ((mib << 20) // len(line) + 1))[: mib << 20]
body = body[: body.rfind(b"\n") + 1]

def post():
    s = socket.create_connection(("127.0.0.1", port), timeout=300)
    head = (b"POST /api/v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body))
    buf = b""
    try:
        s.sendall(head)
        s.sendall(body)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    try:
        return int(buf.split(b"\r\n", 1)[0].split()[1])
    except (IndexError, ValueError):
        return None

codes = {}
lock = threading.Lock()
def client():
    for attempt in range(retries + 1):
        st = post()
        with lock:
            codes[st] = codes.get(st, 0) + 1
        if st != 503:
            return
        time.sleep(1)
t0 = time.monotonic()
ts = [threading.Thread(target=client) for _ in range(clients)]
for t in ts:
    t.start()
for t in ts:
    t.join()
print(f"answers in {time.monotonic() - t0:.1f} s: " +
      ", ".join(f"{k}: {v}" for k, v in sorted(codes.items(), key=lambda kv: str(kv[0]))))
EOF_PY
sleep 2
buffered_peak=$(curl -s "http://127.0.0.1:$port/metrics" | awk '$1 == "lw_http_buffered_peak_bytes" { printf "%d", $2 / 1048576 }')
echo "request bodies held at once, at most: ${buffered_peak} MiB"
stop_daemon
limit_mib=$(( $(numfmt --from=iec "$(echo "$MEMORY_LIMIT" | sed "s/i\?B$//")") / 1048576 + 64 ))
echo "stored lines: $(stored_lines)"
echo "peak RSS $((LW_HWM_KIB / 1024)) MiB; target <= memory_limit + 64 MiB = $limit_mib MiB:" \
     "$([ $((LW_HWM_KIB / 1024)) -le "$limit_mib" ] && echo met || echo MISSED)"
rm -f "$conf"
