#!/usr/bin/env python3
"""Replay log files into logwarden at a chosen speed, paced by the lines' own event times.

  replay.py --speed 0 app.log                            # backfill to stdout, as fast as possible
  replay.py --speed 1 --file /var/tmp/tailed.log a.log   # real time, appended to a tailed file
  replay.py --speed 60 --tcp 127.0.0.1:5514 a.log b.log  # 60x, newline-framed TCP syslog
  replay.py --speed 0 --tcp 127.0.0.1:5514 --framing octet --join mixed.log
  replay.py --speed 0 app.log | logwarden run --stdin --no-syslog --no-http -d D

Speed: --speed 1 sends each line when as much wall time has passed since the start as event
time has passed since the first line; --speed 60 compresses a minute into a second; --speed 0
sends everything at once (a backfill). Several files are merged by event time (each file is
assumed to be roughly in order, as a log is).

Event times are read from the common formats (UTC when the time stamp has no zone):
  ISO 8601 / RFC 3339 in the first 64 characters (2026-12-04T10:00:00.123Z, with a space instead
  of the T as logback writes it, an optional +hh:mm offset; also inside an RFC 5424 header),
  syslog "Dec  4 10:00:00" (year from --year), HDFS "081109 203615", nginx/Apache
  "[04/Dec/2026:10:00:00 +0000]", and a JSON object's "ts" (or "time", "timestamp",
  "@timestamp"; an ISO string or Unix seconds/milliseconds).
A line without a time stamp (a stack trace's "\\tat ..." lines, "Caused by: ...", "... 12 more",
banner lines) and any line starting with white space travels with the previous timestamped line:
together they form a record, sent at that line's time. Lines before the first time stamp go
with the first record.

Gaps: an event-time jump of more than --max-gap seconds (300) forwards or backwards (a line
dated years ahead, a log restarted the next day) is not waited for; pacing continues from the
new time. Small backward steps are sent at once.

Outputs (one of): standard output (default), --file PATH (appended and flushed, for `run
--tail`), --tcp HOST:PORT with --framing newline (default: one line per LF-terminated message)
or --framing octet (RFC 6587 octet counting: "LEN SP MSG"; a line that does not start with "<"
gets the syslog priority --pri, default 13, so that logwarden's framer, which wants "LEN SP <",
takes the frame). --join sends each record as one message, its lines joined by LF (only with
octet framing, where a frame may hold newlines).

At the end a summary goes to standard error: records, lines, lines without a time stamp,
first/last event time, wall seconds.
"""
import argparse
import calendar
import heapq
import json
import re
import socket
import sys
import time

MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?\s?(Z|[+-]\d\d:?\d\d)?")
SYSLOG = re.compile(r"^(?:<\d{1,3}>)?([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)")
HDFS = re.compile(r"^(\d\d)(\d\d)(\d\d) (\d\d)(\d\d)(\d\d)\b")
CLF = re.compile(r"\[(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\]")
JSON_KEYS = ("ts", "time", "timestamp", "@timestamp")


def _zone(z):
    if not z or z == "Z":
        return 0
    sign = -1 if z[0] == "-" else 1
    z = z[1:].replace(":", "")
    return sign * (int(z[:2]) * 3600 + int(z[2:]) * 60)


def parse_iso(s):
    m = ISO.search(s)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, z = m.groups()
    try:
        t = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(sec)))
    except (ValueError, OverflowError):
        return None
    return t + (float("0." + frac) if frac else 0.0) - _zone(z)


def line_time(line, year):
    """Event time of a line in Unix seconds, or None when it has no time stamp."""
    if line[:1] in (" ", "\t"):
        return None
    if line[:1] == "{":
        try:
            o = json.loads(line)
        except ValueError:
            o = None
        if isinstance(o, dict):
            for k in JSON_KEYS:
                v = o.get(k)
                if isinstance(v, str):
                    t = parse_iso(v)
                    if t is not None:
                        return t
                elif isinstance(v, (int, float)) and not isinstance(v, bool):
                    return v / 1000.0 if v > 1e11 else float(v)
            return None
    t = parse_iso(line[:64])
    if t is not None:
        return t
    m = CLF.search(line[:120])
    if m and m.group(2) in MONTHS:
        d, mon, y, h, mi, s, sign, zh, zm = m.groups()
        off = (int(zh) * 3600 + int(zm) * 60) * (-1 if sign == "-" else 1)
        return calendar.timegm((int(y), MONTHS[mon], int(d), int(h), int(mi), int(s))) - off
    m = SYSLOG.match(line)
    if m and m.group(1) in MONTHS:
        try:
            return float(calendar.timegm((year, MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)),
                                          int(m.group(4)), int(m.group(5)))))
        except ValueError:
            return None
    m = HDFS.match(line)
    if m:
        y, mo, d, h, mi, s = (int(x) for x in m.groups())
        if 1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61:
            return float(calendar.timegm((2000 + y, mo, d, h, mi, s)))
    return None


def records(path, year, stats):
    """Yields (time, lines) per record of a file: a timestamped line and its followers."""
    cur_t = None
    cur = []
    f = sys.stdin if path == "-" else open(path, encoding="utf-8", errors="surrogateescape")
    with f:
        for raw in f:
            line = raw.rstrip("\n")
            stats["lines"] += 1
            t = line_time(line, year)
            if t is None:
                stats["no_ts"] += 1
                cur.append(line)
                continue
            if cur_t is not None:
                yield cur_t, cur
                cur = []
            # Lines before the first time stamp join the first record.
            cur_t = t
            cur.append(line)
    if cur:
        yield (cur_t if cur_t is not None else 0.0), cur


def merged(paths, year, stats):
    """Records of all files in event-time order (a heap over one pending record per file)."""
    its = [records(p, year, stats) for p in paths]
    heap = []
    for i, it in enumerate(its):
        for t, lines in it:
            heapq.heappush(heap, (t, i, lines))
            break
    while heap:
        t, i, lines = heapq.heappop(heap)
        yield t, lines
        for t2, l2 in its[i]:
            heapq.heappush(heap, (t2, i, l2))
            break


class Out:
    def __init__(self, args):
        self.args = args
        self.sock = None
        self.buf = []
        self.size = 0
        if args.tcp:
            host, _, port = args.tcp.rpartition(":")
            self.sock = socket.create_connection((host or "127.0.0.1", int(port)))
            self.f = None
        elif args.file:
            self.f = open(args.file, "ab")
        else:
            self.f = sys.stdout.buffer

    def add(self, lines):
        a = self.args
        if a.tcp and a.framing == "octet":
            msgs = ["\n".join(lines)] if a.join else lines
            for m in msgs:
                if not m.startswith("<"):
                    m = "<%d>%s" % (a.pri, m)
                b = m.encode("utf-8", "surrogateescape")
                self.buf.append(b"%d " % len(b) + b)
                self.size += len(b) + 8
        else:
            b = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
            self.buf.append(b)
            self.size += len(b)
        if self.size >= 1 << 18:
            self.flush()

    def flush(self):
        if not self.buf:
            return
        data = b"".join(self.buf)
        self.buf = []
        self.size = 0
        if self.sock is not None:
            self.sock.sendall(data)
        else:
            self.f.write(data)
            self.f.flush()

    def close(self):
        self.flush()
        if self.sock is not None:
            self.sock.shutdown(socket.SHUT_WR)
            self.sock.close()
        elif self.f is not sys.stdout.buffer:
            self.f.close()


def iso(t):
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    except (OverflowError, ValueError, OSError):
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", help="log files (- for standard input)")
    ap.add_argument("--speed", type=float, default=1.0,
                    help="event seconds per wall second; 0 = as fast as possible (default 1)")
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--tcp", metavar="HOST:PORT", help="send to a TCP syslog listener")
    out.add_argument("--file", metavar="PATH", help="append to PATH (for run --tail)")
    ap.add_argument("--framing", choices=("newline", "octet"), default="newline",
                    help="TCP framing (default newline)")
    ap.add_argument("--pri", type=int, default=13, help="syslog priority added for octet framing (13)")
    ap.add_argument("--join", action="store_true",
                    help="send a record (line + its timestamp-less followers) as one octet frame")
    ap.add_argument("--year", type=int, default=time.gmtime().tm_year,
                    help="year of syslog time stamps (default: this year)")
    ap.add_argument("--max-gap", type=float, default=300.0,
                    help="event-time jumps longer than this (s) are not waited for (300)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no summary on standard error")
    args = ap.parse_args()
    if args.speed < 0:
        ap.error("--speed must be >= 0")
    if args.join and args.framing != "octet":
        ap.error("--join needs --tcp ... --framing octet")

    stats = {"lines": 0, "no_ts": 0}
    o = Out(args)
    n_rec = 0
    first = last = None
    pace_t = None              # event time the pacing has reached
    anchor_wall = anchor_ev = None
    wall0 = time.monotonic()
    try:
        for t, lines in merged(args.files, args.year, stats):
            n_rec += 1
            if first is None:
                first = t
            last = t
            if args.speed > 0:
                if pace_t is None or abs(t - pace_t) > args.max_gap:
                    # Start, or a jump not worth waiting for: pace on from here.
                    o.flush()
                    pace_t = t
                    anchor_wall, anchor_ev = time.monotonic(), t
                elif t > pace_t:
                    pace_t = t
                    delay = anchor_wall + (pace_t - anchor_ev) / args.speed - time.monotonic()
                    if delay > 0.002:
                        o.flush()
                        time.sleep(delay)
            o.add(lines)
        o.close()
    except BrokenPipeError:
        sys.stderr.write("replay: the reader went away\n")
        return 1
    except ConnectionError as e:
        sys.stderr.write("replay: %s\n" % e)
        return 1
    if not args.quiet:
        sys.stderr.write("replay: %d records, %d lines (%d without a time stamp), event time %s .. %s,"
                         " %.2f s\n" % (n_rec, stats["lines"], stats["no_ts"],
                                        iso(first) if first is not None else "-",
                                        iso(last) if last is not None else "-",
                                        time.monotonic() - wall0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
