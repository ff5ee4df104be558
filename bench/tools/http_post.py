#!/usr/bin/env python3
"""NDJSON poster for the HTTP ingest benchmarks (POST /api/v1/ingest), and a sink to measure it alone.

The log file is converted once to NDJSON ({"message": LINE} per line) and cached next to it with an
index of body boundaries (every BODY_LINES lines), so posting costs no per-line Python work: each
connection is one thread with a raw keep-alive HTTP/1.1 socket that sends header + body slices of
the mapped file and reads the short JSON answer.

A 503 answer says how many lines of the body were taken ("accepted"); the poster waits Retry-After
seconds and resends exactly the rest, as the daemon asks.

  http_post.py post --port P --conns 2 FILE          # every line of FILE once
  http_post.py flood --port P --conns 2 --duration 60 FILE
  http_post.py sink --port P                         # answers 202 to everything (self-test)

Prints one JSON object: lines accepted (from 2xx answers, and from the "accepted" count of 503
answers, reported separately), requests, 503 answers, seconds, and for flood a per-second timeline.
"""
import argparse
import array
import json
import mmap
import os
import re
import socket
import sys
import threading
import time


def prepare(path, body_lines, hosts=0):
    """Returns (ndjson path, offsets) where offsets[i] is where body i starts; cached.

    With hosts > 0 every object also names a "host", host-0 .. host-(hosts-1) in turn line by
    line (the mixed-host case: no two neighbouring lines share a host)."""
    out = path + (".hosts%d" % hosts if hosts > 0 else "") + ".ndjson"
    idx = "%s.%d.idx" % (out, body_lines)
    if not (os.path.exists(out) and os.path.exists(idx)):
        sys.stderr.write("http_post: converting %s to NDJSON...\n" % path)
        offs = array.array("Q", [0])
        pos = 0
        n = 0
        dumps = json.JSONEncoder(ensure_ascii=True).encode
        with open(path, "rb") as f, open(out + ".part", "wb") as o:
            buf = []
            for raw in f:
                pre = b'{"host":"host-%d",' % (n % hosts) if hosts > 0 else b"{"
                s = pre + b'"message":' + dumps(raw.rstrip(b"\r\n").decode("utf-8", "replace")).encode() + b"}\n"
                buf.append(s)
                pos += len(s)
                n += 1
                if n % body_lines == 0:
                    offs.append(pos)
                    o.write(b"".join(buf))
                    buf = []
            o.write(b"".join(buf))
        if offs[-1] != pos:
            offs.append(pos)
        os.rename(out + ".part", out)
        with open(idx, "wb") as f:
            offs.tofile(f)
    offs = array.array("Q")
    with open(idx, "rb") as f:
        offs.frombytes(f.read())
    return out, offs


class Conn:
    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token
        self.s = None
        self.buf = b""

    def open(self):
        self.s = socket.create_connection((self.host, self.port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        if self.s is not None:
            self.s.close()
        self.s = None

    def post(self, body):
        """POSTs body (a memoryview); returns (status, retry_after, json answer)."""
        head = ("POST /api/v1/ingest HTTP/1.1\r\nHost: %s:%d\r\n"
                "Content-Type: application/x-ndjson\r\nContent-Length: %d\r\n%s\r\n"
                % (self.host, self.port, len(body),
                   "Authorization: Bearer %s\r\n" % self.token if self.token else "")).encode()
        for attempt in range(2):
            try:
                if self.s is None:
                    self.open()
                self.s.sendall(head)
                self.s.sendall(body)
                return self.read_answer()
            except (ConnectionError, BrokenPipeError, EOFError):
                self.close()
                if attempt:
                    raise
        raise AssertionError

    def read_answer(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdr = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdr[k.strip().lower()] = v.strip()
        clen = int(hdr.get("content-length", "0"))
        while len(rest) < clen:
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            rest += d
        body, self.buf = rest[:clen], rest[clen:]
        if hdr.get("connection", "").lower() == "close":
            self.close()
        try:
            ans = json.loads(body) if body else {}
        except ValueError:
            ans = {}
        return status, float(hdr.get("retry-after", "1") or 1), ans


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lines_2xx = 0        # lines of bodies answered 2xx (what was accepted by them)
        self.lines_503_accepted = 0  # lines a 503 answer says were taken before the refusal
        self.requests = 0
        self.n503 = 0
        self.req_s = 0.0          # total time spent waiting for answers
        self.req_max_s = 0.0
        self.other = {}

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)


def nth_line_end(view, n):
    """Offset just after the n-th newline of view (n >= 1)."""
    b = view.tobytes() if not isinstance(view, bytes) else view
    pos = -1
    for _ in range(n):
        pos = b.find(b"\n", pos + 1)
    return pos + 1


def send_body(c, view, nlines, st, stop_on_503=None):
    """Posts one body, resending the unaccepted rest after 503 + Retry-After until it is all in."""
    while nlines > 0:
        t = time.monotonic()
        status, retry, ans = c.post(view)
        d = time.monotonic() - t
        st.add(requests=1, req_s=d)
        with st.lock:
            st.req_max_s = max(st.req_max_s, d)
        if 200 <= status < 300:
            st.add(lines_2xx=int(ans.get("accepted", nlines)))
            return
        if status == 503:
            acc = int(ans.get("accepted", 0))
            st.add(n503=1, lines_503_accepted=acc)
            if acc:
                cut = nth_line_end(view, acc)
                view = view[cut:]
                nlines -= acc
            time.sleep(retry)
            continue
        with st.lock:
            st.other[status] = st.other.get(status, 0) + 1
        sys.stderr.write("http_post: unexpected answer %d %r\n" % (status, ans))
        return


def cmd_post(a):
    path, offs = prepare(a.file, a.body_lines, a.hosts)
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mm)
    nbodies = len(offs) - 1
    st = Stats()
    nxt = [0]
    lock = threading.Lock()

    def run():
        c = Conn(a.host, a.port, a.token)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= nbodies:
                break
            body = view[offs[i]:offs[i + 1]]
            n = a.body_lines if i < nbodies - 1 else bytes(body).count(b"\n")
            send_body(c, body, n, st)
        c.close()

    t0 = time.monotonic()
    th = [threading.Thread(target=run) for _ in range(a.conns)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    t1 = time.monotonic()
    print(json.dumps({"lines": st.lines_2xx + st.lines_503_accepted, "lines_2xx": st.lines_2xx,
                      "lines_503_accepted": st.lines_503_accepted, "requests": st.requests,
                      "n503": st.n503, "other": st.other,
                      "request_ms_mean": round(1000 * st.req_s / max(st.requests, 1), 1),
                      "request_ms_max": round(1000 * st.req_max_s, 1), "bodies": nbodies,
                      "seconds": round(t1 - t0, 3), "conns": a.conns}))


def cmd_flood(a):
    path, offs = prepare(a.file, a.body_lines, a.hosts)
    with open(path, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mm)
    nbodies = min(len(offs) - 1, max(1, a.max_bodies))
    # Only full bodies, so that every body has body_lines lines (the last one may be short).
    full = [i for i in range(nbodies)
            if bytes(view[offs[i]:offs[i + 1]]).count(b"\n") == a.body_lines]
    st = Stats()
    stop = threading.Event()

    def run(k):
        c = Conn(a.host, a.port, a.token)
        i = k
        while not stop.is_set():
            b = full[i % len(full)]
            send_body(c, view[offs[b]:offs[b + 1]], a.body_lines, st)
            i += a.conns
        c.close()

    th = [threading.Thread(target=run, args=(k,)) for k in range(a.conns)]
    t0 = time.monotonic()
    for t in th:
        t.start()
    timeline = []
    last = 0
    while time.monotonic() - t0 < a.duration:
        time.sleep(1.0)
        with st.lock:
            cur = st.lines_2xx + st.lines_503_accepted
        timeline.append(cur - last)
        last = cur
    stop.set()
    for t in th:
        t.join()
    t1 = time.monotonic()
    print(json.dumps({"lines": st.lines_2xx + st.lines_503_accepted, "lines_2xx": st.lines_2xx,
                      "lines_503_accepted": st.lines_503_accepted, "requests": st.requests,
                      "n503": st.n503, "other": st.other,
                      "request_ms_mean": round(1000 * st.req_s / max(st.requests, 1), 1),
                      "request_ms_max": round(1000 * st.req_max_s, 1), "seconds": round(t1 - t0, 3),
                      "conns": a.conns, "lines_per_s_timeline": timeline}))


def cmd_sink(a):
    """Reads requests and answers 202 {"accepted": lines} (enough HTTP for http_post itself)."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(64)
    clen_re = re.compile(rb"content-length:\s*(\d+)", re.I)

    def serve(c):
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                d = c.recv(1 << 20)
                if not d:
                    c.close()
                    return
                buf += d
            head, _, rest = buf.partition(b"\r\n\r\n")
            n = int(clen_re.search(head).group(1))
            parts = [rest]
            got = len(rest)
            while got < n:
                d = c.recv(1 << 20)
                if not d:
                    c.close()
                    return
                parts.append(d)
                got += len(d)
            data = b"".join(parts)
            body, buf = data[:n], data[n:]
            ans = b'{"accepted":%d,"rejected":0}\n' % body.count(b"\n")
            c.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Length: %d\r\n\r\n%s" % (len(ans), ans))

    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("post", "flood", "sink", "prepare"):
        q = sub.add_parser(name)
        q.add_argument("--host", default="127.0.0.1")
        q.add_argument("--port", type=int, required=name != "prepare")
        q.add_argument("--token", default=os.environ.get("LOGWARDEN_HTTP_TOKEN"))
        q.add_argument("--body-lines", type=int, default=5000)
        q.add_argument("--hosts", type=int, default=0,
                       help="name HOSTS hosts in turn, one per line (0: no host field)")
        if name != "sink":
            q.add_argument("--conns", type=int, default=2)
            q.add_argument("file")
        if name == "flood":
            q.add_argument("--duration", type=float, default=60)
            q.add_argument("--max-bodies", type=int, default=200)
    a = p.parse_args()
    if a.cmd == "prepare":
        path, offs = prepare(a.file, a.body_lines, a.hosts)
        print(json.dumps({"ndjson": path, "bodies": len(offs) - 1}))
        return
    {"post": cmd_post, "flood": cmd_flood, "sink": cmd_sink}[a.cmd](a)


if __name__ == "__main__":
    main()
