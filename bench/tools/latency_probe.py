#!/usr/bin/env python3
"""Append-to-stored latency of a tailing daemon.

Appends COUNT single lines to FILE, one every INTERVAL seconds, each with a marker made of letters
only (the miner masks digits, so every probe line is its own template: "lwprobe <word> <word> ...").
Meanwhile it polls the store every POLL seconds (read-only SQLite connection) and takes, for
probe i, the first poll where stored_lines >= base + i + 1 (lines are stored in order, and nothing
else is written to the file) as the moment it is durable. At the end it also checks that every
marker is in the templates table with count 1.

  latency_probe.py --file /tmp/x.log --db DIR/logwarden.db --count 20 --interval 0.5

Prints the latencies and one JSON summary line (p50, p99, max in milliseconds).
"""
import argparse
import json
import os
import random
import sqlite3
import string
import time


def stored(db):
    row = db.execute("select value from counters where name='stored_lines'").fetchone()
    return row[0] if row else 0


def pct(xs, p):
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--file", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--poll", type=float, default=0.05)
    p.add_argument("--timeout", type=float, default=60)
    a = p.parse_args()

    db = sqlite3.connect("file:%s?mode=ro" % a.db, uri=True, timeout=5, isolation_level=None)
    # Wait for the store to be quiet (the file's earlier content stored).
    last, since = -1, time.monotonic()
    while time.monotonic() - since < 1.0:
        v = stored(db)
        if v != last:
            last, since = v, time.monotonic()
        time.sleep(a.poll)
    base = last

    rnd = random.Random(os.getpid())
    markers = []
    for _ in range(a.count):
        markers.append(" ".join("".join(rnd.choice(string.ascii_lowercase) for _ in range(8))
                                for _ in range(3)))
    fd = os.open(a.file, os.O_WRONLY | os.O_APPEND)
    t_append = []
    lat = [None] * a.count
    done = 0
    t_next = time.monotonic()
    t_end = None
    while done < a.count:
        now = time.monotonic()
        if len(t_append) < a.count and now >= t_next:
            i = len(t_append)
            os.write(fd, ("lwprobe %s probe line\n" % markers[i]).encode())
            t_append.append(time.monotonic())
            t_next += a.interval
            if len(t_append) == a.count:
                t_end = time.monotonic() + a.timeout
        v = stored(db)
        seen = time.monotonic()
        while done < len(t_append) and v >= base + done + 1:
            lat[done] = seen - t_append[done]
            done += 1
        if t_end is not None and seen > t_end:
            break
        time.sleep(a.poll)
    os.close(fd)

    got = [x for x in lat if x is not None]
    found = 0
    for m in markers:
        row = db.execute("select count from templates where text like ?",
                         ("%" + m + "%",)).fetchone()
        if row and row[0] == 1:
            found += 1
    for i, x in enumerate(lat):
        print("probe %2d: %s" % (i, "lost" if x is None else "%.0f ms" % (x * 1000)))
    out = {"probes": a.count, "stored": len(got), "in_templates": found,
           "extra_stored": stored(db) - base - a.count}
    if got:
        out.update({"p50_ms": round(pct(got, 50) * 1000, 1), "p99_ms": round(pct(got, 99) * 1000, 1),
                    "max_ms": round(max(got) * 1000, 1), "min_ms": round(min(got) * 1000, 1)})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
