#!/usr/bin/env python3
"""Append a file to another (or to stdout) in steps, so that a daemon reading it commits many
small transactions while the lines still arrive.

  feed.py SRC DST LINES SECONDS     # LINES lines at a time, SECONDS after each step; DST - is stdout

The bytes are copied as they are (no newline translation).
"""
import sys
import time


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: feed.py SRC DST LINES SECONDS (DST - is stdout)")
    src, dst, step, pause = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with open(src, "rb") as f:
        lines = f.readlines()
    out = sys.stdout.buffer if dst == "-" else open(dst, "ab")
    for i in range(0, len(lines), step):
        out.write(b"".join(lines[i:i + step]))
        out.flush()
        time.sleep(pause)
    if out is not sys.stdout.buffer:
        out.close()


if __name__ == "__main__":
    main()
