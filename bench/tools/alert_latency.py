#!/usr/bin/env python3
"""Alert latency under load: normal traffic, injected anomalies, and alert arrival at every sink.

Used by bench/alert-latency.sh. Four subcommands:

  alert_latency.py train-file --rate R --seconds S --out FILE
      Writes S seconds of normal traffic at R lines/s, with event times that end now (ISO 8601
      with milliseconds, so that `logwarden train` learns the same per-window counts the live
      stream will have).
  alert_latency.py receiver --stdin-fifo F --jsonl FILE --port P --out EVENTS
      Records when each alert arrives: a line of the daemon's stdout read from F, a line appended
      to the JSONL FILE (polled every 2 ms), a POST received by the webhook on 127.0.0.1:P. Writes
      one JSON object per alert and sink to EVENTS when the daemon's stdout closes.
  alert_latency.py drive --port P --metrics URL --rate R --seconds S --conns C --out INJ
      Streams normal traffic at R lines/s over C TCP connections for S seconds and injects
      anomalies on one more connection at known moments, recording each injected line's send
      time. Samples /metrics every second. Writes the injections and the sender's figures to INJ.
  alert_latency.py report --injections INJ --events EVENTS
      Matches alerts to injections and prints count, p50, p99 and max latency per kind and sink
      against the targets (1 s; the window + 1 s for volume). Exits 1 when a target is missed or
      an injection has no alert at a sink.

Normal traffic (the same generator for training and the live stream), shares of all lines:
  - 16 services "svc<name> handled <METHOD> request req-<hex> status <code> in <N.NN>ms"
    (~73%), each with its own log-normal latency (median 4-90 ms, two decimals so that the place
    is a high-cardinality numeric one): the params detector's places;
  - 16 jobs "job<name> flushed batch <n> with <k> records to partition <p>" (0.1% each): the
    volume detector's targets;
  - sshd, kernel, cron, systemd and dhclient lines (~14%);
  - HDFS-like block sessions as `logwarden demo` writes them (allocateBlock, 3 x Receiving
    block, 3 x Received block + PacketResponder terminating, 3 x addStoredBlock, sometimes a
    verification), ~10% of the lines, each block id fresh (a pool is never recycled for them).
Every template's share is multiplied by a random factor (log-normal, sigma 0.1) that changes
every second, so that per-window counts are over-dispersed as real traffic is; a perfectly
steady synthetic stream would make any hiccup of the sender look like a volume anomaly.

Each line is "<ISO 8601 time with ms>Z <LEVEL> <message>"; every chunk of lines carries the time
at which it was built, just before it is sent.

Injections (distinct templates and keys, so that the alert manager's deduplication by
fingerprint cannot hide one):
  - new_template: "zz<8 random letters> ... " a never-seen template with its own leading word;
  - sequence: a fresh block session, a normal prefix and then one event out of order or never
    seen in a session, a different (previous event, event) pair each time (see BROKEN), sent at
    once; the broken line is the injected one and the alert is matched by its block id;
  - params: one request of service i (a different service each time) taking 100x its median,
    matched by the value in the alert's explanation;
  - volume: BURST_X times the per-window baseline of job i (a different job each time) sent in
    one go, 200 ms after a window starts; its send time is the first line's.
"""
import argparse
import json
import math
import os
import random
import re
import select
import socket
import string
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
METHODS = [b"GET", b"GET", b"GET", b"POST", b"PUT", b"DELETE"]
USERS = [b"alice", b"bob", b"carol", b"deploy", b"git", b"ci", b"backup"]
BAD_USERS = [b"admin", b"test", b"oracle", b"ubuntu", b"user", b"pi"]
POOL = 4096               # bodies pre-generated per template (cycled)
SESSION_SHARE = 0.10      # share of lines that belong to block sessions
JOB_SHARE = 0.001         # share of each of the 16 job templates
SIGMA = 0.1               # per-second log-normal jitter of every template's share
SESSION_LEN = 13.3        # mean lines per normal session (13, plus a verification in 30%)


def svc_median_ms(i):
    return 4.0 * (1.23 ** i)   # 4 ms .. ~90 ms


def ip(r, net=b"10.0."):
    return net + b"%d.%d" % (r.randrange(8), 2 + r.randrange(250))


def make_templates(seed):
    """[(name, share, [bodies])]: the pooled (non-session) templates."""
    r = random.Random(seed)
    t = []

    def hexs(n):
        return b"%0*x" % (n, r.getrandbits(4 * n))

    for i, name in enumerate(NAMES):
        med = svc_median_ms(i)
        bodies = []
        for _ in range(POOL):
            k = r.random()
            code = 200 if k < 0.95 else 404 if k < 0.98 else 304
            lat = med * math.exp(r.gauss(0.0, 0.4))
            bodies.append(b"INFO svc%s handled %s request req-7%s status %d in %.2fms"
                          % (name.encode(), r.choice(METHODS), hexs(11), code, lat))
        t.append(("svc" + name, None, bodies))
    for name in NAMES:
        bodies = [b"INFO job%s flushed batch %d with %d records to partition %d"
                  % (name.encode(), r.randrange(10 ** 5, 10 ** 6), r.randrange(1000, 5000),
                     r.randrange(64))
                  for _ in range(POOL)]
        t.append(("job" + name, JOB_SHARE, bodies))
    other = [
        ("ssh_accept", 0.03, lambda: b"INFO sshd[%d]: Accepted publickey for %s from %s port %d ssh2"
         % (r.randrange(10000, 65000), r.choice(USERS), ip(r), r.randrange(32768, 60999))),
        ("ssh_failed", 0.02, lambda: b"WARN sshd[%d]: Failed password for invalid user %s from %s "
         b"port %d ssh2" % (r.randrange(10000, 65000), r.choice(BAD_USERS), ip(r, b"203.0."),
                            r.randrange(32768, 60999))),
        ("ssh_session", 0.02, lambda: b"INFO sshd[%d]: pam_unix(sshd:session): session opened for "
         b"user %s by (uid=0)" % (r.randrange(10000, 65000), r.choice(USERS))),
        ("kern_veth", 0.02, lambda: b"INFO kernel: eth0: renamed from veth%07x"
         % r.randrange(0xfffffff)),
        ("cron", 0.02, lambda: b"INFO CRON[%d]: (root) CMD (/usr/lib/sysstat/sa1 1 1)"
         % r.randrange(10000, 61000)),
        ("systemd", 0.02, lambda: b"INFO systemd[1]: Started Session %d of user %s."
         % (r.randrange(1000, 5000), r.choice(USERS))),
        ("dhcp", 0.01, lambda: b"INFO dhclient[%d]: DHCPACK of %s from 10.0.0.1"
         % (r.randrange(300, 900), ip(r))),
    ]
    for name, share, fn in other:
        t.append((name, share, [fn() for _ in range(POOL)]))
    fixed = sum(s for _, s, _ in t if s is not None)
    svc_share = (1.0 - SESSION_SHARE - fixed) / len(NAMES)
    return [(n, s if s is not None else svc_share, b) for n, s, b in t]


DN_IPS = [b"10.251.%d.%d" % (30 + i * 7, 10 + 17 * i) for i in range(6)]


# Normal block session, as demo_gen.c plans one: allocateBlock (A), 3 x Receiving block (G),
# 3 x (Received block (D), PacketResponder terminating (T)), 3 x addStoredBlock (S), and in 30%
# of sessions a verification (V).
NORMAL = "AGGGDTDTDTSSS"
# Broken sessions: a normal prefix, then one event that never follows the event before it in a
# normal session. The sequence model treats an event as expected when it ever followed its
# history of any length 1..3, and it learns every finished session, broken ones too, so each
# injection needs a (previous event, event) pair of its own. None is a swap of two neighbours
# (which the model tolerates). P, W, R, X are events never seen in a session (new templates):
# a PacketResponder exception, a write exception, a receiveBlock exception, a block deletion.
BROKEN = [
    ("A", "D"),                 # Received block before any Receiving block (demo variant 2)
    ("AGGG", "S"),              # addStoredBlock right after the Receiving blocks
    ("AGGG", "P"),              # unknown event: PacketResponder exception
    ("", "G"),                  # Receiving block without allocateBlock
    ("A", "S"),
    ("AGGGDT", "T"),            # PacketResponder terminating twice
    ("AGGGD", "A"),             # allocateBlock again
    ("AGGGDTDTDTSSS", "A"),
    ("AG", "V"),                # verification while receiving
    ("AGGG", "W"),              # unknown event: write exception (demo variant 1)
    ("AGGGD", "R"),             # unknown event: receiveBlock exception
    ("AGGGDTDTDTSSS", "X"),     # unknown event: block deleted
    ("", "T"),
    ("AGGGDTDTDTSSSV", "V"),    # verified twice
    ("AGGGDTDTDT", "V"),        # verified before stored
    ("AGGGDTDTDTS", "G"),
    ("", "S"),
    ("A", "A"),
]


def session_lines(r, blk, broken=None):
    """The lines of one block session (as demo_gen.c writes them) and the index of the broken
    line: a normal session when @broken is None (None then), else BROKEN[broken]."""
    b = b"%d" % blk
    dn = r.sample(range(6), 3)
    task = r.randrange(2000)
    size = 67108864
    ops = NORMAL + ("V" if r.random() < 0.3 else "") if broken is None else "".join(BROKEN[broken])
    out = []
    n = {}
    for op in ops:
        i = n.get(op, 0) % 3
        n[op] = n.get(op, 0) + 1
        if op == "A":
            out.append(b"INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/etl/ingest/"
                       b"_temporary/_task_202601010000_0007_m_%06d_0/part-%05d. blk_%s"
                       % (task, task, b))
        elif op == "G":
            out.append(b"INFO dfs.DataNode$DataXceiver: Receiving block blk_%s src: /%s:%d dest: "
                       b"/%s:50010" % (b, DN_IPS[dn[1]], 40000 + r.randrange(25000),
                                       DN_IPS[dn[i]]))
        elif op == "D":
            out.append(b"INFO dfs.DataNode$PacketResponder: Received block blk_%s of size %d from "
                       b"/%s" % (b, size, DN_IPS[dn[2 - i]]))
        elif op == "T":
            out.append(b"INFO dfs.DataNode$PacketResponder: PacketResponder %d for block blk_%s "
                       b"terminating" % (r.randrange(3), b))
        elif op == "S":
            out.append(b"INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap "
                       b"updated: %s:50010 is added to blk_%s size %d" % (DN_IPS[dn[i]], b, size))
        elif op == "V":
            out.append(b"INFO dfs.DataBlockScanner: Verification succeeded for blk_%s" % b)
        elif op == "P":
            out.append(b"INFO dfs.DataNode$PacketResponder: PacketResponder blk_%s 1 Exception "
                       b"java.io.EOFException" % b)
        elif op == "W":
            out.append(b"WARN dfs.DataNode$DataXceiver: %s:50010:Got exception while serving "
                       b"blk_%s to /%s: java.io.IOException: Connection reset by peer"
                       % (DN_IPS[dn[0]], b, DN_IPS[dn[1]]))
        elif op == "R":
            out.append(b"INFO dfs.DataNode$DataXceiver: Exception in receiveBlock for block "
                       b"blk_%s java.io.IOException: Broken pipe" % b)
        elif op == "X":
            out.append(b"INFO dfs.FSDataset: Deleting block blk_%s file /data/%d/dfs/current/"
                       b"subdir%d/blk_%s" % (b, 1 + r.randrange(4), r.randrange(64), b))
    return out, (None if broken is None else len(out) - 1)


def new_blk(r):
    v = r.getrandbits(63)
    return -v if r.random() < 0.5 else v


class Mix:
    """Builds chunks of normal lines in the configured mix. One per sending thread."""

    def __init__(self, templates, seed, stream):
        self.t = templates
        self.r = random.Random(seed * 1000 + stream)
        self.seed = seed
        self.pos = [self.r.randrange(POOL) for _ in templates]
        self.carry = [0.0] * len(templates)
        self.scarry = 0.0
        self.sec = None
        self.share = None

    def shares(self, sec):
        """Every template's share for this second (the same in every thread: seeded by it)."""
        if sec != self.sec:
            g = random.Random(self.seed * 7919 + sec)
            raw = [s * math.exp(g.gauss(0.0, SIGMA)) for _, s, _ in self.t]
            k = (1.0 - SESSION_SHARE) / sum(raw)
            self.share = [x * k for x in raw]
            self.sec = sec
        return self.share

    def lines(self, n, sec):
        share = self.shares(sec)
        out = []
        for i, (_, _, pool) in enumerate(self.t):
            x = self.carry[i] + n * share[i]
            k = int(x)
            self.carry[i] = x - k
            if k:
                p = self.pos[i]
                while k > 0:
                    take = min(k, POOL - p)
                    out += pool[p:p + take]
                    p = (p + take) % POOL
                    k -= take
                self.pos[i] = p
        x = self.scarry + n * SESSION_SHARE / SESSION_LEN
        k = int(x)
        self.scarry = x - k
        for _ in range(k):
            out += session_lines(self.r, new_blk(self.r))[0]
        return out


class Clock:
    """ISO 8601 UTC with milliseconds, the date part cached per second."""

    def __init__(self):
        self.sec = None
        self.head = b""

    def stamp(self, t):
        sec = int(t)
        if sec != self.sec:
            self.sec = sec
            self.head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)).encode()
        return self.head + b".%03dZ " % int((t - sec) * 1000)


def join_lines(prefix, bodies):
    """prefix + body for every body, newline-terminated, in one C-speed join."""
    if not bodies:
        return b""
    return prefix + (b"\n" + prefix).join(bodies) + b"\n"


# ------------------------------------------------------------------------------------------
# train-file
# ------------------------------------------------------------------------------------------

def cmd_train_file(a):
    templates = make_templates(a.seed)
    mix = Mix(templates, a.seed, 999)
    clock = Clock()
    t_end = time.time() if a.end is None else a.end
    t = t_end - a.seconds
    step = 0.005
    per = a.rate * step
    carry = 0.0
    n_lines = 0
    with open(a.out, "wb", buffering=8 << 20) as f:
        while t < t_end:
            x = carry + per
            n = int(x)
            carry = x - n
            bodies = mix.lines(n, int(t))
            f.write(join_lines(clock.stamp(t), bodies))
            n_lines += len(bodies)
            t += step
    print(json.dumps({"lines": n_lines, "seconds": a.seconds, "rate": a.rate,
                      "first_ts": round(t_end - a.seconds, 3), "last_ts": round(t_end, 3)}))


# ------------------------------------------------------------------------------------------
# receiver
# ------------------------------------------------------------------------------------------

HEAD_RE = re.compile(r"^(\S+) (CRITICAL|WARNING) (\S+)/(\S+) (\S+)(.*?) score=([0-9.]+): (.*)$")


def cmd_receiver(a):
    events = []
    lock = threading.Lock()
    done = threading.Event()

    def add(ev):
        with lock:
            events.append(ev)

    class Hook(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            t = time.time()
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            try:
                o = json.loads(body)
                if isinstance(o, list):   # Alertmanager format
                    o = o[0]
            except ValueError:
                o = {"raw": body.decode("utf-8", "replace")}
            add({"sink": "webhook", "t": t, "alert": o})

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Hook)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    def tail_file():
        pos = 0
        buf = b""
        while True:
            stop = done.is_set()
            try:
                size = os.stat(a.jsonl).st_size
            except FileNotFoundError:
                size = 0
            if size > pos:
                t = time.time()
                with open(a.jsonl, "rb") as f:
                    f.seek(pos)
                    data = f.read(size - pos)
                pos += len(data)
                buf += data
                *full, buf = buf.split(b"\n")
                for ln in full:
                    if ln.strip():
                        try:
                            add({"sink": "file", "t": t, "alert": json.loads(ln)})
                        except ValueError:
                            add({"sink": "file", "t": t, "alert": {"raw": ln.decode()}})
            if stop:
                return
            time.sleep(0.002)

    ft = threading.Thread(target=tail_file)
    ft.start()

    # The daemon's stdout: two lines per alert, "<time> <SEV> det/kind inc-... tpl=N src=S
    # key=K score=X: summary" then "  why: {json}". The arrival is the first line's.
    pending = None
    n_lines = 0
    with open(a.stdin_fifo, "rb", buffering=0) as f:
        buf = b""
        while True:
            data = f.read(65536)
            t = time.time()
            if not data:
                break
            buf += data
            *full, buf = buf.split(b"\n")
            for raw in full:
                n_lines += 1
                ln = raw.decode("utf-8", "replace")
                if ln.startswith("  why: ") and pending is not None:
                    try:
                        pending["alert"]["explanation"] = json.loads(ln[7:])
                    except ValueError:
                        pending["alert"]["explanation"] = {"raw": ln[7:]}
                    continue
                m = HEAD_RE.match(ln)
                if m is None:
                    continue
                fields = dict(kv.split("=", 1) for kv in m.group(6).split() if "=" in kv)
                pending = {"sink": "stdout", "t": t, "alert": {
                    "detector": m.group(3), "kind": m.group(4), "incident": m.group(5),
                    "template_id": int(fields["tpl"]) if "tpl" in fields else 0,
                    "source": fields.get("src"), "key": fields.get("key"),
                    "score": float(m.group(7)), "summary": m.group(8)}}
                add(pending)
    # The daemon is gone: give the file poller a last look, then stop.
    time.sleep(0.3)
    done.set()
    ft.join()
    srv.shutdown()
    with open(a.out, "w") as f:
        for ev in events:
            f.write(json.dumps(ev) + "\n")
    print(json.dumps({"stdout_lines": n_lines,
                      "alerts": {s: sum(1 for e in events if e["sink"] == s)
                                 for s in ("stdout", "file", "webhook")}}), file=sys.stderr)


# ------------------------------------------------------------------------------------------
# drive
# ------------------------------------------------------------------------------------------

def scrape(url, names):
    """{name: value} for the unlabelled metrics in names (None when unreachable)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    out = {}
    for ln in text.splitlines():
        if ln.startswith("#"):
            continue
        parts = ln.split()
        if len(parts) >= 2 and parts[0] in names:
            out[parts[0]] = float(parts[1])
    return out


METRICS = ["logwarden_lines_in_total", "logwarden_parsed_lines_total",
           "logwarden_backpressure_total", "logwarden_anomalies_total", "logwarden_alerts_total",
           "logwarden_alerts_suppressed_total", "logwarden_alerts_limited_total",
           "logwarden_late_lines_total"]


def letters(r, n):
    return "".join(r.choice(string.ascii_lowercase) for _ in range(n))


def plan(a, r):
    """The injection schedule: (offset s, kind, index), kinds interleaved, evenly spread over
    [warm, seconds - tail] with a little jitter."""
    kinds = ["new_template", "sequence", "params", "volume"]
    n = a.per_kind * len(kinds)
    start, end = a.warm, a.seconds - a.tail
    gap = (end - start) / n
    out = []
    for j in range(n):
        kind = kinds[j % len(kinds)]
        out.append((start + j * gap + r.uniform(0, gap * 0.3), kind, j // len(kinds)))
    return out


def cmd_drive(a):
    templates = make_templates(a.seed)
    by_name = {n: (s, b) for n, s, b in templates}
    r = random.Random(a.seed * 31 + 5)
    schedule = plan(a, r)
    win = a.window
    stop = threading.Event()
    lock = threading.Lock()
    st = {"lines": 0, "bytes": 0, "blocked_s": 0.0, "per_sec": {}}
    rate_conn = a.rate / a.conns

    socks = []
    for _ in range(a.conns + 1):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append(s)
    inj_sock = socks[-1]

    # Start on a window boundary, so that the first live window is a whole one.
    now = time.time()
    t0 = (math.floor(now / win) + 1) * win
    time.sleep(max(0.0, t0 - time.time()))
    t0 = time.time()

    def flood(k):
        s = socks[k]
        mix = Mix(templates, a.seed, k)
        clock = Clock()
        sent = 0
        blocked = 0.0
        min_chunk = max(1, int(rate_conn * 0.004))
        while not stop.is_set():
            now = time.time()
            due = int(rate_conn * (now - t0)) - sent
            if due < min_chunk:
                time.sleep(0.002)
                continue
            n = min(due, a.max_chunk)
            bodies = mix.lines(n, int(now))
            data = join_lines(clock.stamp(now), bodies)
            t1 = time.time()
            s.sendall(data)
            d = time.time() - t1
            if d > 0.005:
                blocked += d
            sent += n
            with lock:
                st["lines"] += len(bodies)
                st["bytes"] += len(data)
                sec = int(t1 - t0)
                st["per_sec"][sec] = st["per_sec"].get(sec, 0) + len(bodies)
        with lock:
            st["blocked_s"] += blocked

    injections = []

    def inject():
        clock = Clock()
        bursts = 0
        for off, kind, i in schedule:
            at = t0 + off
            if kind == "volume":
                # 200 ms into a window, so that the whole burst falls in it.
                at = math.floor(at / win) * win + 0.2
                if at < t0 + off - 0.05:
                    at += win
            while not stop.is_set():
                d = at - time.time()
                if d <= 0:
                    break
                time.sleep(min(d, 0.05))
            if stop.is_set():
                return
            rec = {"kind": kind, "index": i}
            if kind == "new_template":
                word = "zz" + letters(r, 8)
                line = ("ERROR %s storage controller %s reported %s fault on array %d"
                        % (word, letters(r, 6), letters(r, 7), r.randrange(1, 64))).encode()
                rec.update(match=word, lines=1)
                bodies = [line]
            elif kind == "sequence":
                blk = new_blk(r)
                bodies, bad = session_lines(r, blk, i % len(BROKEN))
                rec.update(match="blk_%d" % blk, variant="%s+%s" % BROKEN[i % len(BROKEN)],
                           lines=len(bodies), line=bodies[bad].decode())
            elif kind == "params":
                name = NAMES[i % len(NAMES)]
                med = svc_median_ms(i % len(NAMES))
                value = "%.2fms" % (med * 100)
                line = (b"INFO svc%s handled GET request req-7%011x status 200 in %s"
                        % (name.encode(), r.getrandbits(44), value.encode()))
                rec.update(match="svc" + name, value=value, median_ms=round(med, 2), lines=1,
                           line=line.decode())
                bodies = [line]
            else:
                name = NAMES[i % len(NAMES)]
                base = a.rate * by_name["job" + name][0] * win
                n = int(base * a.burst_x)
                pool = by_name["job" + name][1]
                bodies = [pool[j % POOL] for j in range(n)]
                rec.update(match="job" + name, lines=n, baseline_per_window=round(base),
                           window_start=math.floor(at / win) * win)
                bursts += 1
            now = time.time()
            data = join_lines(clock.stamp(now), bodies)
            rec["sent"] = time.time()
            inj_sock.sendall(data)
            rec["sent_done"] = time.time()
            injections.append(rec)

    mtl = []

    def sample_metrics():
        while not stop.wait(1.0):
            m = scrape(a.metrics, METRICS)
            if m is not None:
                m["t"] = round(time.time() - t0, 2)
                mtl.append(m)

    m0 = scrape(a.metrics, METRICS) or {}
    threads = [threading.Thread(target=flood, args=(k,)) for k in range(a.conns)]
    threads.append(threading.Thread(target=inject))
    threads.append(threading.Thread(target=sample_metrics))
    for t in threads:
        t.start()
    while time.time() - t0 < a.seconds:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    t_end = time.time()
    m1 = scrape(a.metrics, METRICS) or {}
    for s in socks:
        s.shutdown(socket.SHUT_WR)
    # Wait until the daemon has taken every line (or stopped making progress for 5 s).
    want = m0.get("logwarden_lines_in_total", 0) + st["lines"] + sum(x["lines"] for x in injections)
    last, since = -1, time.time()
    m2 = m1
    while True:
        m = scrape(a.metrics, METRICS)
        if m is None:
            break
        m2 = m
        v = m.get("logwarden_lines_in_total", 0)
        if v >= want and m.get("logwarden_parsed_lines_total", 0) >= want:
            break
        if v != last:
            last, since = v, time.time()
        elif time.time() - since > 5:
            break
        time.sleep(0.2)
    t_drained = time.time()
    for s in socks:
        s.close()
    secs = t_end - t0
    per_sec = [st["per_sec"].get(i, 0) for i in range(int(secs))]
    lines_in = [m.get("logwarden_lines_in_total", 0) for m in mtl]
    in_rate = [int(y - x) for x, y in zip(lines_in, lines_in[1:])]
    summary = {
        "target_rate": a.rate, "conns": a.conns, "seconds": round(secs, 2),
        "normal_lines": st["lines"], "injected_lines": sum(x["lines"] for x in injections),
        "sent_rate": int(st["lines"] / secs),
        "sender_blocked_s": round(st["blocked_s"], 2),
        "sent_per_s": per_sec,
        "lines_in_at_start": m0.get("logwarden_lines_in_total"),
        "lines_in_at_end_of_sending": m1.get("logwarden_lines_in_total"),
        "lines_in_after_drain": m2.get("logwarden_lines_in_total"),
        "parsed_after_drain": m2.get("logwarden_parsed_lines_total"),
        "drain_s": round(t_drained - t_end, 2),
        "daemon_in_rate": int((m1.get("logwarden_lines_in_total", 0)
                               - m0.get("logwarden_lines_in_total", 0)) / secs),
        "daemon_in_per_s": in_rate,
        "backpressure": (m1.get("logwarden_backpressure_total", 0)
                         - m0.get("logwarden_backpressure_total", 0)),
        "metrics_end": m2,
    }
    with open(a.out, "w") as f:
        json.dump({"summary": summary, "injections": injections, "t0": t0, "window": win}, f)
    print(json.dumps({k: v for k, v in summary.items() if k != "metrics_end"}))


# ------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------

def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(math.ceil(p / 100.0 * len(xs))) - 1))
    return xs[k]


def alert_text(al):
    """The template text and the key of an alert, from whatever the sink gives."""
    ex = al.get("explanation")
    if isinstance(ex, str):
        try:
            ex = json.loads(ex)
        except ValueError:
            ex = {}
    if not isinstance(ex, dict):
        ex = {}
    if "labels" in al:     # Alertmanager format
        lab, ann = al["labels"], al.get("annotations", {})
        try:
            ex = json.loads(ann.get("description", "{}"))
        except ValueError:
            ex = {}
        return (lab.get("detector"), lab.get("kind"), lab.get("key"), str(ex.get("template", "")),
                ann.get("summary", ""), ex.get("value"))
    return (al.get("detector"), al.get("kind"), al.get("key"), str(ex.get("template", "")),
            al.get("summary") or "", ex.get("value"))


def matches(inj, al):
    det, kind, key, tpl, summary, value = alert_text(al)
    m = inj["match"]
    k = inj["kind"]
    if k == "new_template":
        return det == "new_template" and (m in tpl or m in summary)
    if k == "sequence":
        return key == m
    if k == "params":
        return det == "params" and tpl.startswith(m + " ") and value == inj["value"]
    if k == "volume":
        return det == "volume" and kind == "spike" and tpl.startswith(m + " ")
    return False


def cmd_report(a):
    with open(a.injections) as f:
        d = json.load(f)
    events = []
    with open(a.events) as f:
        for ln in f:
            events.append(json.loads(ln))
    win = d["window"]
    injections = d["injections"]
    sinks = ["stdout", "file", "webhook"]
    kinds = ["new_template", "sequence", "params", "volume"]
    target = {"new_template": 1.0, "sequence": 1.0, "params": 1.0, "volume": win + 1.0}
    used = set()
    lat = {(k, s): [] for k in kinds for s in sinks}
    missing = {(k, s): [] for k in kinds for s in sinks}
    dets = {k: {} for k in kinds}
    for inj in injections:
        for s in sinks:
            best = None
            for n, ev in enumerate(events):
                if ev["sink"] != s or n in used or ev["t"] < inj["sent"] - 0.5:
                    continue
                if matches(inj, ev["alert"]) and (best is None or ev["t"] < events[best]["t"]):
                    best = n
            if best is None:
                missing[(inj["kind"], s)].append(inj["match"])
                continue
            used.add(best)
            ev = events[best]
            lat[(inj["kind"], s)].append(ev["t"] - inj["sent"])
            det = "%s/%s" % (alert_text(ev["alert"])[0], alert_text(ev["alert"])[1])
            if s == "file":
                dets[inj["kind"]][det] = dets[inj["kind"]].get(det, 0) + 1
    total = {s: sum(1 for e in events if e["sink"] == s) for s in sinks}
    n_inj = {k: sum(1 for i in injections if i["kind"] == k) for k in kinds}
    ok_all = True
    print("%-13s %-8s %6s %9s %9s %9s %9s  %s" % ("kind", "sink", "count", "p50 ms", "p99 ms",
                                                 "max ms", "target", "result"))
    for k in kinds:
        for s in sinks:
            xs = lat[(k, s)]
            miss = missing[(k, s)]
            if xs:
                p50, p99, mx = pct(xs, 50) * 1000, pct(xs, 99) * 1000, max(xs) * 1000
            else:
                p50 = p99 = mx = float("nan")
            ok = bool(xs) and not miss and p99 <= target[k] * 1000
            ok_all &= ok
            res = "OK" if ok else "MISSED"
            if miss:
                res += " (%d of %d injections without an alert)" % (len(miss), n_inj[k])
            print("%-13s %-8s %3d/%-2d %9.0f %9.0f %9.0f %8.0fs  %s"
                  % (k, s, len(xs), n_inj[k], p50, p99, mx, target[k], res))
    print("detector/kind of the matched alerts (file sink):",
          "; ".join("%s: %s" % (k, ", ".join("%s x%d" % kv for kv in sorted(dets[k].items())))
                    for k in kinds))
    matched = {s: sum(1 for n in used if events[n]["sink"] == s) for s in sinks}
    print("alerts received per sink: %s; the rest are other findings on the live stream"
          % ", ".join("%s %d (%d matched to injections)" % (s, total[s], matched[s])
                      for s in sinks))
    sys.exit(0 if ok_all else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("train-file")
    q.add_argument("--rate", type=float, required=True)
    q.add_argument("--seconds", type=float, required=True)
    q.add_argument("--end", type=float, help="last event time (epoch s; default now)")
    q.add_argument("--seed", type=int, default=7)
    q.add_argument("--out", required=True)
    q = sub.add_parser("receiver")
    q.add_argument("--stdin-fifo", required=True)
    q.add_argument("--jsonl", required=True)
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--out", required=True)
    q = sub.add_parser("drive")
    q.add_argument("--port", type=int, required=True)
    q.add_argument("--metrics", required=True)
    q.add_argument("--rate", type=float, default=200000)
    q.add_argument("--seconds", type=float, default=60)
    q.add_argument("--conns", type=int, default=4)
    q.add_argument("--window", type=float, default=2.0)
    q.add_argument("--per-kind", type=int, default=15)
    q.add_argument("--warm", type=float, default=5.0, help="no injection before this (s)")
    q.add_argument("--tail", type=float, default=6.0, help="no injection in the last S s")
    q.add_argument("--burst-x", type=float, default=10.0)
    q.add_argument("--max-chunk", type=int, default=5000)
    q.add_argument("--seed", type=int, default=7)
    q.add_argument("--out", required=True)
    q = sub.add_parser("report")
    q.add_argument("--injections", required=True)
    q.add_argument("--events", required=True)
    a = p.parse_args()
    {"train-file": cmd_train_file, "receiver": cmd_receiver, "drive": cmd_drive,
     "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
