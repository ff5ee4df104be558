#!/usr/bin/env python3
"""Write N seeded random log lines of a few templates to a file, for the ClickHouse tests.

  ch_lines.py OUT N --seed S --per-second P [--hosts H] --kinds request,cache,disk,gc

Line i has the event time 2025-11-25 (from 1764064800 s) + i // P seconds; with --hosts H it
reads "TS webX app: MESSAGE" (X drawn below H), without it "TS MESSAGE". Each line's message is
one of --kinds, drawn uniformly in the order given; the kinds are:

  request  INFO request I served in D ms       cache  WARN cache miss for key user:K
  disk     ERROR disk N latency L us           gc     DEBUG gc pause D ms
  block    INFO block blk_B stored on 10.0.X.Y
  tab      INFO tab<TAB>here and back\\slash 'quote' "dq" I  (characters that need escaping)

The random draws (host, kind, then the message's numbers, in that order) are what a test's
expected figures were taken from, so the same arguments always give the same bytes: change the
order of a draw and every test that compares against a fixed figure changes with it.
"""
import argparse
import random

KINDS = {
    "request": lambda r, i: f"INFO request {i} served in {r.randrange(900)} ms",
    "cache": lambda r, i: f"WARN cache miss for key user:{r.randrange(10**6)}",
    "disk": lambda r, i: f"ERROR disk {r.randrange(8)} latency {r.randrange(10**4)} us",
    "gc": lambda r, i: f"DEBUG gc pause {r.randrange(100)} ms",
    "block": lambda r, i: (f"INFO block blk_{r.randrange(10**12)} stored on "
                           f"10.0.{r.randrange(256)}.{r.randrange(256)}"),
    "tab": lambda r, i: f"INFO tab\there and back\\slash 'quote' \"dq\" {i}",
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("n", type=int)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--per-second", type=int, required=True, help="lines per second of event time")
    ap.add_argument("--hosts", type=int, default=0, help="prefix 'webX app:' with X below HOSTS")
    ap.add_argument("--kinds", required=True, help="comma-separated: " + ",".join(KINDS))
    a = ap.parse_args()
    unknown = [k for k in a.kinds.split(",") if k not in KINDS]
    if unknown:
        ap.error(f"unknown kind {unknown[0]!r}; the kinds are {','.join(KINDS)}")
    kinds = [KINDS[k] for k in a.kinds.split(",")]
    r = random.Random(a.seed)
    with open(a.out, "w") as f:
        for i in range(a.n):
            t = 1764064800 + i // a.per_second
            ts = f"2025-11-25T{(t // 3600) % 24:02d}:{(t // 60) % 60:02d}:{t % 60:02d}Z"
            prefix = f"{ts} web{r.randrange(a.hosts)} app:" if a.hosts else ts
            msg = kinds[r.randrange(len(kinds))](r, i)
            f.write(f"{prefix} {msg}\n")


if __name__ == "__main__":
    main()
