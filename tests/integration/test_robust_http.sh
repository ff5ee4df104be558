#!/usr/bin/env bash
# Issue 3, malformed HTTP: every bad request gets a 4xx answer whose body carries a message, and
# the daemon keeps serving. A garbage request line (400), an unknown path (404, JSON message), a
# wrong method (405), NDJSON with bad lines (202 with the rejected count; the API answers 202
# Accepted, not 200), a Content-Length over the 16 MiB limit (413), a corrupt gzip body (400),
# and a missing or wrong token with --http-token (401). Then SIGTERM exits 0 and the store is
# intact.
set -euo pipefail
LW=${1:?usage: test_robust_http.sh /path/to/logwarden}
. "$(dirname "$0")/tools/robust_lib.sh"

TOKEN=s3cret-robust
start --http-token "$TOKEN"

python3 - "$HP" "$TOKEN" <<'EOF'
import gzip, json, socket, sys, time
port, token = int(sys.argv[1]), sys.argv[2]
AUTH = f"Authorization: Bearer {token}\r\n"
failures = []
T0 = time.monotonic()

def raw(data, timeout=10):
    """Sends @data on a new connection, returns (status, headers, body) of the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        status = None
    return status, lines[1:], body

def req(method, path, body=b"", headers="", auth=True):
    h = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    if auth:
        h += AUTH
    h += headers
    if body or method == "POST":
        h += f"Content-Length: {len(body)}\r\n"
    return raw(h.encode() + b"\r\n" + body)

def check(name, got, want_status, want_in_body=None, json_error=True):
    status, headers, body = got
    text = body.decode(errors="replace").strip()
    ok = (status in want_status if isinstance(want_status, tuple) else status == want_status) \
        and text != ""
    if ok and json_error:
        try:
            ok = bool(json.loads(text).get("error"))
        except ValueError:
            ok = False
    if ok and want_in_body is not None:
        ok = want_in_body in text
    print(f"# {name}: {status} {text[:100]!r} ({time.monotonic() - T0:.1f} s)")
    if not ok:
        failures.append(f"{name}: got {status} {text[:200]!r}, want {want_status}"
                        + (f" with {want_in_body!r}" if want_in_body else "")
                        + (" and a JSON error message" if json_error else " and a message"))

def healthy(name):
    status, _, body = req("GET", "/api/v1/status")
    if status != 200 or b'"running":true' not in body:
        failures.append(f"after {name}: /api/v1/status answered {status} {body[:100]!r}")

ND = "Content-Type: application/x-ndjson\r\n"
good = b"".join(json.dumps({"message": f"user {i} logged in", "host": "web1",
                            "time": "2026-11-25T10:00:00Z"}).encode() + b"\n" for i in range(10))

# Request lines that look like HTTP but are not: MHD's own 400 (an HTML message).
check("garbage request line", raw(b"\xff\xfeGARBAGE\x01\x02 x y\r\n\r\n"), 400, json_error=False)
healthy("garbage request line")
check("unknown method, too many fields", raw(b"FOO BAR BAZ QUX\r\n\r\n"), 400, json_error=False)
check("binary fields", raw(b"\x80\x81 /\x82\x83 HTTP/1.1\r\n\r\n"), (400, 401, 404, 405),
      json_error=False)
healthy("binary fields")
check("malformed header", raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"),
      400, json_error=False)
check("no version", raw(b"GET /metrics\r\n\r\n"), 400, json_error=False)
check("HTTP/9.9", raw(b"GET /metrics HTTP/9.9\r\n\r\n"), 505, json_error=False)
healthy("malformed header")
# A one-word request line is not HTTP at all: MHD closes without an answer. Accepted here (there
# is no request to answer), but it must not hang: closed within the 10 s read timeout.
for junk in (b"GARBAGE\r\n\r\n", b"GET\r\n\r\n"):
    t0 = time.monotonic()
    st, _, body = raw(junk)
    if st is not None and (st < 400 or not body.strip()):
        failures.append(f"{junk!r}: {st} {body!r}")
    if time.monotonic() - t0 > 5:
        failures.append(f"{junk!r}: the connection was held {time.monotonic() - t0:.0f} s")
    print(f"# one-word request line {junk!r}: {st if st else 'closed, no answer'}")
healthy("one-word request line")
# (A request line with a NUL byte, or binary junk without a space before its first LF, gets no
# answer and is held until the 30 s connection timeout, like a slow client:
# test_robust_slowloris.sh covers those.)

check("unknown path", req("GET", "/nope"), 404, "not found")
check("unknown path with body", req("POST", "/nope", good, ND), 404, "not found")
check("GET on ingest", req("GET", "/api/v1/ingest"), 405, "method not allowed")
check("DELETE on metrics", req("DELETE", "/metrics"), 405, "method not allowed")
check("POST on status", req("POST", "/api/v1/status", b"x", ND), 405, "method not allowed")
check("bad content type", req("POST", "/api/v1/ingest", good, "Content-Type: image/png\r\n"),
      415, "Content-Type")
check("bad content encoding", req("POST", "/api/v1/ingest", good, ND + "Content-Encoding: br\r\n"),
      415, "Content-Encoding")
healthy("4xx answers")

# Bad JSON lines: the good ones are taken, the bad ones counted as rejected.
bad = (b'{"message":"ok one"}\n{not json\n[1,2,3]\n"just a string"\n{"message": 42}\n'
       b'{"message":"ok two"}\n\xff\xfe{"message":"x"}\n{"message":"unterminated\n')
st, _, body = req("POST", "/api/v1/ingest", bad, ND)
print(f"# bad NDJSON lines: {st} {body!r}")
try:
    out = json.loads(body)
except ValueError:
    out = {}
if st not in (200, 202) or out.get("accepted", 0) < 2 or out.get("rejected", 0) < 3:
    failures.append(f"bad NDJSON: {st} {body!r}, want 2xx with accepted >= 2 and rejected >= 3")
if out.get("accepted", 0) + out.get("rejected", 0) != 8:
    failures.append(f"bad NDJSON: accepted + rejected = {out}, want 8 lines in all")

# Content-Length over the limit (16 MiB) without sending the body: 413 at once.
st = raw(("POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n" + AUTH + ND +
          "Content-Length: 17000000\r\n\r\n").encode() + b"x" * 1000)
check("Content-Length over the limit", st, 413, "too large")
# (A Content-Length over 2^64: MHD 0.9.75 answers 413 with a broken response,
# see test_robust_bug_http_clen.sh.)
# A chunked body that grows past the limit: 413 with a message. (The daemon cannot answer in the
# middle of a body with MHD: it discards the rest unread and answers at the end of the body.)
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(("POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n" + AUTH + ND +
           "Transfer-Encoding: chunked\r\n\r\n").encode())
chunk = b"%x\r\n" % (1 << 20) + b"a" * (1 << 20) + b"\r\n"
answer = b""
try:
    for _ in range(20):
        s.sendall(chunk)
    s.sendall(b"0\r\n\r\n")
    while b"}" not in answer:  # the end of the JSON body (the connection may stay open)
        c = s.recv(4096)
        if not c:
            break
        answer += c
except OSError as e:
    answer += repr(e).encode()
s.close()
print(f"# chunked body over the limit: {answer[:60]!r}")
if not answer.startswith(b"HTTP/1.1 413") or b"too large" not in answer:
    failures.append(f"chunked body over the limit: {answer[:200]!r}, want 413 with a message")
healthy("413")

# Corrupt gzip: 400 with a message. A gzip bomb: 413 (decompressed body too large).
check("corrupt gzip", req("POST", "/api/v1/ingest", b"\x1f\x8b\x08\x00garbage-not-deflate" * 10,
                          ND + "Content-Encoding: gzip\r\n"), 400, "gzip")
check("not gzip at all", req("POST", "/api/v1/ingest", good, ND + "Content-Encoding: gzip\r\n"),
      400, "gzip")
trunc = gzip.compress(good)[:-12]
check("truncated gzip", req("POST", "/api/v1/ingest", trunc, ND + "Content-Encoding: gzip\r\n"),
      400, "gzip")
bomb = gzip.compress(b"\n" * (64 << 20), 9)
check("gzip bomb", req("POST", "/api/v1/ingest", bomb, ND + "Content-Encoding: gzip\r\n"),
      413, "too large")
healthy("gzip")

# Tokens.
check("missing token", req("GET", "/metrics", auth=False), 401, "token")
check("wrong token", req("GET", "/metrics", headers="Authorization: Bearer nope\r\n", auth=False),
      401, "token")
check("token prefix", req("GET", "/metrics", auth=False,
                          headers=f"Authorization: Bearer {token[:-1]}\r\n"), 401, "token")
check("basic auth", req("GET", "/metrics", headers="Authorization: Basic Zm9vOmJhcg==\r\n",
                        auth=False), 401, "token")
check("ingest without token", req("POST", "/api/v1/ingest", good, ND, auth=False), 401, "token")
healthy("401")

# Still serving: a good ingest is accepted fast.
t0 = time.monotonic()
st, _, body = req("POST", "/api/v1/ingest", good, ND)
if st != 202 or json.loads(body).get("accepted") != 10 or time.monotonic() - t0 > 5:
    failures.append(f"good ingest at the end: {st} {body!r} in {time.monotonic() - t0:.1f} s")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
EOF
[ $? -eq 0 ] || fail "malformed HTTP requests (see above)"
alive "after malformed HTTP"
# 2 good lines of the bad NDJSON body + 10 at the end; the 401/404/405/413/415 bodies stored nothing.
wait_stored 12
sleep 0.5
[ "$(stored)" -eq 12 ] || fail "stored_lines $(stored), want exactly 12"
[ "$(metric lw_http_ingest_rejected_lines_total)" -ge 3 ] || fail "rejected lines not in metrics"
finish
echo "test_robust_http: ok"
