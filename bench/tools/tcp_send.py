#!/usr/bin/env python3
"""Newline-framed TCP sender for the syslog benchmarks, and a sink to measure it alone.

The file is mapped once and cut into line-aligned chunks (CHUNK bytes, line count precomputed);
each connection is one thread doing socket.sendall() on memoryview slices, which releases the
GIL, so Python costs nothing per line and the sender runs at memory-copy speed.

  tcp_send.py send --port P --conns 4 FILE            # send FILE once, split over 4 connections
  tcp_send.py flood --port P --conns 3 --duration 60 FILE
                                                      # resend the chunks in a loop until the
                                                      # duration is over; a chunk is always
                                                      # finished, so the line count is exact
  tcp_send.py sink --port P                           # accept and discard (generator self-test)

Prints one JSON object on stdout: lines, bytes, seconds, and for flood a per-second timeline of
lines sent (so throttling shows as the rate dropping) and the time spent blocked in sendall.
"""
import argparse
import json
import mmap
import socket
import sys
import threading
import time

CHUNK = 256 * 1024


def chunks_of(mm, start, end):
    """Line-aligned (offset, length, lines) chunks of mm[start:end]; end is after a newline."""
    out = []
    pos = start
    while pos < end:
        stop = min(pos + CHUNK, end)
        if stop < end:
            nl = mm.rfind(b"\n", pos, stop)
            if nl < 0:
                nl = mm.find(b"\n", stop, end)
            stop = nl + 1
        out.append((pos, stop - pos, mm.count(b"\n", pos, stop)))
        pos = stop
    return out


def first_nondigit(mm, start, end):
    """[(offset, length)] slices of mm[start:end] that make the same lines, with the first line
    that does not begin with a digit moved to the front.

    The daemon picks a connection's framing from its first byte, as rsyslog does: a digit means
    RFC 6587 octet counting, and many Loghub lines (HDFS, BGL) begin with digits. Real syslog
    senders start with "<PRI>"; these are plain lines, so one of them goes first instead."""
    pos = start
    while pos < end and mm[pos:pos + 1].isdigit():
        nl = mm.find(b"\n", pos, end)
        pos = end if nl < 0 else nl + 1
    if pos == start or pos >= end:
        return [(start, end - start)]
    nl = mm.find(b"\n", pos, end)
    stop = end if nl < 0 else nl + 1
    return [(pos, stop - pos), (start, pos - start), (stop, end - stop)]


def count_lines(mm, start, end):
    """Newlines in mm[start:end] (mmap has no count(): counted in 16 MiB copies)."""
    n = 0
    for pos in range(start, end, 16 << 20):
        n += mm[pos:min(pos + (16 << 20), end)].count(b"\n")
    return n


def split(mm, n):
    """n line-aligned [start, end) parts of the whole map."""
    size = len(mm)
    bounds = [0]
    for i in range(1, n):
        at = mm.find(b"\n", size * i // n)
        bounds.append(size if at < 0 else at + 1)
    bounds.append(size)
    return [(bounds[i], bounds[i + 1]) for i in range(n) if bounds[i + 1] > bounds[i]]


def connect(host, port):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    return s


def cmd_send(a):
    with open(a.file, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if len(mm) and mm[len(mm) - 1:] != b"\n":
        sys.exit("tcp_send: the file must end with a newline")
    parts = split(mm, a.conns)
    view = memoryview(mm)
    counts = [count_lines(mm, s, e) for s, e in parts]

    def run(k, start, end):
        s = connect(a.host, a.port)
        for off, ln in first_nondigit(mm, start, end):
            pos, end2 = off, off + ln
            while pos < end2:
                stop = min(pos + 1024 * 1024, end2)
                s.sendall(view[pos:stop])
                pos = stop
        s.shutdown(socket.SHUT_WR)
        s.close()

    t0 = time.monotonic()
    th = [threading.Thread(target=run, args=(k, s, e)) for k, (s, e) in enumerate(parts)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    t1 = time.monotonic()
    print(json.dumps({"lines": sum(counts), "bytes": len(mm), "seconds": round(t1 - t0, 3),
                      "conns": len(parts)}))


def cmd_flood(a):
    with open(a.file, "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    # The first MAX_BYTES of the file, loaded once; every connection cycles through it.
    end = min(len(mm), a.max_bytes)
    nl = mm.rfind(b"\n", 0, end)
    data = mm[: nl + 1]
    pieces = first_nondigit(data, 0, len(data))
    data = b"".join(data[o:o + n] for o, n in pieces)
    chunks = chunks_of(data, 0, len(data))
    view = memoryview(data)
    stop = threading.Event()
    lock = threading.Lock()
    sent = {"lines": 0, "bytes": 0, "blocked_s": 0.0}
    slow = 0.05  # a sendall taking longer than this counts as blocked

    def run(k):
        s = connect(a.host, a.port)
        # Every connection starts on the first chunk, whose first byte is not a digit (see split).
        i = 0
        lines = nbytes = 0
        blocked = 0.0
        while not stop.is_set():
            off, ln, n = chunks[i]
            t = time.monotonic()
            s.sendall(view[off:off + ln])
            d = time.monotonic() - t
            if d > slow:
                blocked += d
            lines += n
            nbytes += ln
            i = (i + 1) % len(chunks)
            if lines >= 200000:
                with lock:
                    sent["lines"] += lines
                    sent["bytes"] += nbytes
                    sent["blocked_s"] += blocked
                lines = nbytes = 0
                blocked = 0.0
        s.shutdown(socket.SHUT_WR)
        s.close()
        with lock:
            sent["lines"] += lines
            sent["bytes"] += nbytes
            sent["blocked_s"] += blocked

    th = [threading.Thread(target=run, args=(k,)) for k in range(a.conns)]
    t0 = time.monotonic()
    for t in th:
        t.start()
    timeline = []
    last = 0
    while time.monotonic() - t0 < a.duration:
        time.sleep(1.0)
        with lock:
            cur = sent["lines"]
        timeline.append(cur - last)
        last = cur
    stop.set()
    for t in th:
        t.join()
    t1 = time.monotonic()
    print(json.dumps({"lines": sent["lines"], "bytes": sent["bytes"],
                      "seconds": round(t1 - t0, 3), "conns": a.conns,
                      "blocked_s": round(sent["blocked_s"], 2),
                      "lines_per_s_timeline": timeline}))


def cmd_sink(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(64)

    def drain(c):
        buf = bytearray(1024 * 1024)
        while c.recv_into(buf):
            pass
        c.close()

    while True:
        c, _ = ls.accept()
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("send", "flood", "sink"):
        q = sub.add_parser(name)
        q.add_argument("--host", default="127.0.0.1")
        q.add_argument("--port", type=int, required=True)
        if name != "sink":
            q.add_argument("--conns", type=int, default=4)
            q.add_argument("file")
        if name == "flood":
            q.add_argument("--duration", type=float, default=60)
            q.add_argument("--max-bytes", type=int, default=64 * 1024 * 1024)
    a = p.parse_args()
    {"send": cmd_send, "flood": cmd_flood, "sink": cmd_sink}[a.cmd](a)


if __name__ == "__main__":
    main()
