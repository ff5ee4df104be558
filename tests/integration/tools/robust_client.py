#!/usr/bin/env python3
"""Socket clients for the test_robust_*.sh scripts (all on 127.0.0.1).

  syslog-tcp PORT [N] [TAG]     N (1) RFC 5424 messages over one new TCP connection
  syslog-udp PORT [N] [TAG]     N (1) datagrams
  ingest PORT [N] [TOKEN]       POST N (1) NDJSON lines; fails unless all are accepted in 10 s
  big-syslog PORT BYTES [HOLD [READYFILE]]
                                one TCP "line" of BYTES 'a's streamed without a newline; then
                                creates READYFILE, waits HOLD s, and sends a newline and a normal
                                message; prints what the send did
  slow-http PORT SECONDS        sends an HTTP request's headers one byte a second; prints
                                "closed after S s" when the server closes, "open" at the end
  silent-tcp PORT SECONDS       connects and sends nothing; prints as slow-http
  idle-conns PORT N READYFILE   opens N TCP connections (non-blocking connects, one process),
                                writes READYFILE when all are established, then holds them until
                                stdin closes or SIGTERM; prints how many the server closed
Exit status 0 on success, 1 with a message on failure.
"""
import errno
import json
import os
import select
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

HOST = "127.0.0.1"


def msg(i, tag):
    return (f"<34>1 2026-11-25T10:00:{i % 60:02d}Z robusthost {tag} 42 ID47 - "
            f"request {i} done in {i % 97} ms")


def syslog_tcp(port, n=1, tag="robust"):
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall("".join(msg(i, tag) + "\n" for i in range(n)).encode())
    s.shutdown(socket.SHUT_WR)
    # The server closes once it has read everything; a reset also ends the wait.
    try:
        while s.recv(4096):
            pass
    except (socket.timeout, OSError):
        pass
    s.close()


def syslog_udp(port, n=1, tag="robust"):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        u.sendto(msg(i, tag).encode(), (HOST, port))
        time.sleep(0.002)
    u.close()


def ingest(port, n=1, token=None):
    body = "".join(json.dumps({"message": f"user {i} logged in", "level": "info",
                               "host": "web1", "time": "2026-11-25T10:00:00Z"}) + "\n"
                   for i in range(n))
    headers = {"Content-Type": "application/x-ndjson"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(f"http://{HOST}:{port}/api/v1/ingest", data=body.encode(),
                                 headers=headers, method="POST")
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            out = json.load(r)
            status = r.status
    except Exception as e:  # noqa: BLE001 - any failure is the test's failure
        sys.exit(f"ingest failed after {time.monotonic() - t0:.1f} s: {e!r}")
    if out.get("accepted") != n:
        sys.exit(f"ingest: status {status}, answer {out}, want accepted {n}")
    print(f"ingest {n} lines: {status} in {time.monotonic() - t0:.2f} s")


def big_syslog(port, nbytes, hold=0.0, ready=None):
    s = socket.create_connection((HOST, port), timeout=60)
    chunk = b"a" * (1 << 20)
    sent = 0
    t0 = time.monotonic()
    try:
        while sent < nbytes:
            k = min(len(chunk), nbytes - sent)
            s.sendall(chunk[:k])
            sent += k
        print(f"big-syslog: {sent} bytes without a newline in {time.monotonic() - t0:.1f} s",
              flush=True)
        if ready:
            open(ready, "w").close()
        time.sleep(hold)  # the line stays unfinished while other clients are served
        s.sendall(b"\n" + msg(0, "afterbig").encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
        print(f"big-syslog: sent {sent} bytes in {time.monotonic() - t0:.1f} s, closed cleanly")
    except OSError as e:
        # The server may refuse the connection midway; that is allowed, dying is not.
        print(f"big-syslog: connection ended after {sent} bytes: {e!r}")
    s.close()


def wait_closed(s, seconds, trickle=None):
    """Waits up to @seconds for the peer to close @s, sending one byte of @trickle a second."""
    t0 = time.monotonic()
    i = 0
    while time.monotonic() - t0 < seconds:
        r, _, _ = select.select([s], [], [], 1.0)
        if r:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data or data.startswith(b"HTTP/"):
                first = data.split(b"\r\n")[0].decode(errors="replace") if data else ""
                print(f"closed after {time.monotonic() - t0:.0f} s"
                      + (f" ({first})" if first else ""))
                return
        if trickle is not None and i < len(trickle):
            try:
                s.send(trickle[i:i + 1])
            except OSError:
                print(f"closed after {time.monotonic() - t0:.0f} s (send failed)")
                return
            i += 1
    print("open")


def slow_http(port, seconds):
    s = socket.create_connection((HOST, port), timeout=10)
    req = (f"POST /api/v1/ingest HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/x-ndjson"
           f"\r\nX-Padding: {'p' * 200}\r\nContent-Length: 20\r\n\r\n").encode()
    wait_closed(s, seconds, trickle=req)
    s.close()


def silent_tcp(port, seconds):
    s = socket.create_connection((HOST, port), timeout=10)
    wait_closed(s, seconds)
    s.close()


def idle_conns(port, n, ready):
    socks = []
    pending = {}
    ep = select.epoll()
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex((HOST, port))
        if err not in (0, errno.EINPROGRESS):
            sys.exit(f"idle-conns: connect #{len(socks)} failed: {os.strerror(err)}")
        socks.append(s)
        if err == errno.EINPROGRESS:
            pending[s.fileno()] = s
            ep.register(s.fileno(), select.EPOLLOUT)
        # Keep the listen backlog from overflowing: let the server accept as we go.
        if len(pending) > 512:
            for fd, _ in ep.poll(5):
                ep.unregister(fd)
                pending.pop(fd)
    deadline = time.monotonic() + 60
    while pending and time.monotonic() < deadline:
        for fd, _ in ep.poll(1):
            ep.unregister(fd)
            pending.pop(fd)
    if pending:
        sys.exit(f"idle-conns: {len(pending)} of {n} connects did not complete")
    bad = [s for s in socks if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0]
    if bad:
        sys.exit(f"idle-conns: {len(bad)} of {n} connects failed")
    with open(ready + ".tmp", "w") as f:
        f.write(f"{n}\n")
    os.rename(ready + ".tmp", ready)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while not stop:
        r, _, _ = select.select([sys.stdin], [], [], 0.5)
        if r and not sys.stdin.buffer.read1(4096):
            break
    # How many did the server close meanwhile (EOF or reset pending)?
    closed = 0
    for s in socks:
        try:
            if s.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    for s in socks:
        s.close()
    print(f"idle-conns: {n} held, {closed} closed by the server")


def main(argv):
    cmd, port = argv[1], int(argv[2])
    rest = argv[3:]
    if cmd == "syslog-tcp":
        syslog_tcp(port, int(rest[0]) if rest else 1, rest[1] if len(rest) > 1 else "robust")
    elif cmd == "syslog-udp":
        syslog_udp(port, int(rest[0]) if rest else 1, rest[1] if len(rest) > 1 else "robust")
    elif cmd == "ingest":
        ingest(port, int(rest[0]) if rest else 1, rest[1] if len(rest) > 1 else None)
    elif cmd == "big-syslog":
        big_syslog(port, int(rest[0]), float(rest[1]) if len(rest) > 1 else 0.0,
                   rest[2] if len(rest) > 2 else None)
    elif cmd == "slow-http":
        slow_http(port, float(rest[0]))
    elif cmd == "silent-tcp":
        silent_tcp(port, float(rest[0]))
    elif cmd == "idle-conns":
        idle_conns(port, int(rest[0]), rest[1])
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
