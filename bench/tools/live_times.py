#!/usr/bin/env python3
"""Rewrites the timestamps of a loggen.py stream so that it reads like a live one.

loggen.py replaces every digit run with fresh digits, the header's date and time too: its
streams jump between years and days (Apache years such as 0456, HPC epochs anywhere from 1970
to 2286). That is the worst case for a store partitioned by day, and not what a fleet sends
live. This tool gives line i the time END - SPAN + i * SPAN / N (N lines, SPAN = N / RATE
seconds, END = now), written in the line's own header format, for the seven Loghub-2k formats;
a line of another shape is copied as it is.

  live_times.py --rate 100000 IN OUT     # a fleet emitting 100k lines/s, replayed at once
"""
import argparse
import datetime as dt
import re
import sys
import time

# One regex per Loghub-2k header format (../shared/data/loghub-2k/formats.tsv), each matched
# from the start of the line; the groups around the time fields are kept.
APACHE = re.compile(r'^\[\w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4}\]')
BGL = re.compile(r'^(\S+) \d+ \d{4}\.\d\d\.\d\d (\S+) \d{4}-\d\d-\d\d-\d\d\.\d\d\.\d\d\.\d{6} ')
HDFS = re.compile(r'^\d{6} \d{6} ')
HPC = re.compile(r'^(\d+ \S+ \S+ \S+) \d{10} ')
SYSLOG = re.compile(r'^\w{3} [ \d]\d \d\d:\d\d:\d\d ')
SPARK = re.compile(r'^\d\d/\d\d/\d\d \d\d:\d\d:\d\d ')
MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()
DAYS = 'Mon Tue Wed Thu Fri Sat Sun'.split()


def stamp(line, t):
    u = dt.datetime.fromtimestamp(t, dt.timezone.utc)
    m = APACHE.match(line)
    if m:
        return '[%s %s %02d %s %d]' % (DAYS[u.weekday()], MONTHS[u.month - 1], u.day,
                                       u.strftime('%H:%M:%S'), u.year) + line[m.end():]
    m = BGL.match(line)
    if m:
        return '%s %d %s %s %s ' % (m.group(1), int(t), u.strftime('%Y.%m.%d'), m.group(2),
                                    u.strftime('%Y-%m-%d-%H.%M.%S.%f')) + line[m.end():]
    m = HDFS.match(line)
    if m:
        return u.strftime('%y%m%d %H%M%S ') + line[m.end():]
    m = HPC.match(line)
    if m:
        return '%s %d ' % (m.group(1), int(t)) + line[m.end():]
    m = SYSLOG.match(line)
    if m:
        return '%s %2d %s ' % (MONTHS[u.month - 1], u.day, u.strftime('%H:%M:%S')) + line[m.end():]
    m = SPARK.match(line)
    if m:
        return u.strftime('%y/%m/%d %H:%M:%S ') + line[m.end():]
    return line


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rate', type=float, default=100000,
                    help='lines per second of event time (default 100000)')
    ap.add_argument('--end', type=float, default=None,
                    help='Unix time of the last line (default: now)')
    ap.add_argument('input')
    ap.add_argument('output')
    a = ap.parse_args()
    if a.rate <= 0:
        sys.exit('live_times.py: --rate must be positive')
    with open(a.input, encoding='utf-8', errors='surrogateescape') as f:
        lines = f.readlines()
    n = len(lines)
    end = a.end if a.end is not None else time.time()
    start = end - n / a.rate
    with open(a.output, 'w', encoding='utf-8', errors='surrogateescape') as out:
        for i, line in enumerate(lines):
            out.write(stamp(line, start + i / a.rate))


if __name__ == '__main__':
    main()
