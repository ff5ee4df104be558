#!/usr/bin/env python3
"""Score the detectors' findings on a `logwarden demo` log against its --truth file.

  logwarden demo --lines 300000 --anomalies off --seed 7 --out normal.log
  logwarden demo --lines 300000 --truth truth.tsv --out demo.log
  logwarden train --from normal.log -d D
  logwarden run --stdin --no-syslog --no-http -d D < demo.log
  bench/tools/demo-score.py --db D/logwarden.db --truth truth.tsv --log demo.log

truth.tsv has one line per injected anomaly: LINE<TAB>KIND<TAB>key=KEY description, LINE being
the 1-based line of the log that shows it. The key is the first word after "key=", except for
new_template, whose key is the error text before " never-seen". The event time of a truth is the
time stamp of its line in the log (ISO 8601, JSON "ts", HDFS yymmdd hhmmss or syslog; UTC).

A finding (a row of the anomalies table) matches a truth when its event time is inside the
kind's window around the truth's time and either
  - the key appears in the finding's key, source, summary, samples or explanation, or
  - the finding is of a kind that shows this anomaly (see RELATED) and, where the truth names a
    host, the finding has no source or that host's.
broken_session is matched by its block id only (sessions are everywhere), at any time.

Prints found/missed per kind, the findings that match no truth by detector/kind (false
positives, or side effects the rules above do not know), and with -v the missed truths and the
unmatched findings.
"""
import argparse
import calendar
import collections
import json
import re
import sqlite3
import sys

# kind -> (seconds before, seconds after) the truth's time in which a finding may show it
WINDOW = {
    "new_template": (5, 30),
    "ssh_burst": (15, 90),
    "silent_heartbeat": (0, 240),
    "broken_session": (None, None),
    "latency_outlier": (5, 30),
}
# kind -> (detector, finding kind) pairs that show that kind of anomaly without naming its key
RELATED = {
    "ssh_burst": {("volume", "spike"), ("level", "level_surge")},
    "silent_heartbeat": {("volume", "silence"), ("volume", "drop")},
    "latency_outlier": set(),
    "new_template": set(),
    "broken_session": set(),
}
MONTHS = {m: i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)}
ISO = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?")
HDFS = re.compile(r"^(\d\d)(\d\d)(\d\d) (\d\d)(\d\d)(\d\d) ")
SYSLOG = re.compile(r"^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)")


def line_time(line, year):
    """Event time of a demo line in seconds (UTC), or None."""
    m = ISO.search(line[:80])
    if m:
        y, mo, d, h, mi, s, frac = m.groups()
        t = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s)))
        return t + (float("0." + frac) if frac else 0.0)
    m = HDFS.match(line)
    if m:
        y, mo, d, h, mi, s = (int(x) for x in m.groups())
        return float(calendar.timegm((2000 + y, mo, d, h, mi, s)))
    m = SYSLOG.match(line)
    if m and m.group(1) in MONTHS:
        mo, d, h, mi, s = MONTHS[m.group(1)], int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5))
        return float(calendar.timegm((year, mo, d, h, mi, s)))
    return None


def parse_truth(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            parts = raw.rstrip("\n").split("\t")
            if len(parts) < 3 or not parts[2].startswith("key="):
                continue
            desc = parts[2][4:]
            kind = parts[1]
            if kind == "new_template" and " never-seen" in desc:
                key = desc.split(" never-seen")[0]
            else:
                key = desc.split(" ")[0]
            host = None
            m = re.search(r" on (\S+)$", desc)
            if kind == "ssh_burst" and m:
                host = m.group(1)
            if kind == "silent_heartbeat":
                host = key
            out.append({"line": int(parts[0]), "kind": kind, "key": key, "host": host,
                        "desc": desc})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="the run's logwarden.db")
    ap.add_argument("--truth", required=True, help="truth.tsv written by logwarden demo --truth")
    ap.add_argument("--log", required=True, help="the demo log (for the truths' event times)")
    ap.add_argument("--year", type=int, default=2026, help="year of syslog time stamps (2026)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list missed truths and unmatched findings")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()

    truths = parse_truth(args.truth)
    want = {t["line"] for t in truths}
    with open(args.log, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f, 1):
            if i in want:
                for t in truths:
                    if t["line"] == i:
                        t["ts"] = line_time(line, args.year)
                want.discard(i)
                if not want:
                    break
    db = sqlite3.connect("file:%s?mode=ro" % args.db, uri=True)
    rows = db.execute("select id, ts_ns, detector, coalesce(kind, ''), coalesce(key, ''), "
                      "coalesce(source, ''), summary, coalesce(samples, ''), "
                      "coalesce(explanation, '') from anomalies order by ts_ns").fetchall()
    findings = [{"id": r[0], "ts": r[1] / 1e9, "detector": r[2], "kind": r[3], "key": r[4],
                 "source": r[5], "summary": r[6],
                 "text": "\n".join((r[4], r[5], r[6], r[7], r[8]))} for r in rows]

    matched = set()
    for t in truths:
        t["found_by"] = []
        before, after = WINDOW.get(t["kind"], (30, 300))
        for fd in findings:
            if before is not None:
                if t.get("ts") is None or not (t["ts"] - before <= fd["ts"] <= t["ts"] + after):
                    continue
            hit = t["key"] in fd["text"]
            if not hit and (fd["detector"], fd["kind"]) in RELATED.get(t["kind"], ()):
                hit = t["host"] is None or fd["source"] in ("", t["host"])
            if hit:
                t["found_by"].append(fd)
                matched.add(fd["id"])

    kinds = sorted({t["kind"] for t in truths})
    result = {"kinds": {}, "findings": len(findings), "unmatched": {}}
    print("%-18s %6s %6s %6s" % ("truth kind", "total", "found", "missed"))
    tot = fnd = 0
    for k in kinds:
        ts = [t for t in truths if t["kind"] == k]
        f = sum(1 for t in ts if t["found_by"])
        tot += len(ts)
        fnd += f
        result["kinds"][k] = {"total": len(ts), "found": f, "missed": len(ts) - f}
        print("%-18s %6d %6d %6d" % (k, len(ts), f, len(ts) - f))
    print("%-18s %6d %6d %6d" % ("all", tot, fnd, tot - fnd))
    un = collections.Counter((fd["detector"], fd["kind"]) for fd in findings if fd["id"] not in matched)
    n_un = sum(un.values())
    print("findings %d, matching a truth %d, matching no truth %d" % (len(findings), len(findings) - n_un, n_un))
    for (d, k), n in un.most_common():
        result["unmatched"]["%s/%s" % (d, k)] = n
        print("  unmatched %-28s %d" % (d + "/" + k, n))
    if args.verbose:
        for t in truths:
            if not t["found_by"]:
                print("MISSED line %d %s %s" % (t["line"], t["kind"], t["desc"]))
        for fd in findings:
            if fd["id"] not in matched:
                print("UNMATCHED %s/%s ts=%.0f %s" % (fd["detector"], fd["kind"], fd["ts"], fd["summary"][:200]))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
