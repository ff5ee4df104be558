#!/usr/bin/env python3
"""Score the ALERTS a user receives from a `logwarden demo` stream against the demo's --truth file.

  logwarden demo --lines 300000 --anomalies off --seed 7 --out normal.log
  logwarden demo --lines 300000 --truth truth.tsv --out demo.log
  logwarden train --from normal.log -d D
  logwarden run --stdin --no-syslog --no-http -d D --alert-file alerts.jsonl < demo.log
  bench/tools/alert-score.py --alerts alerts.jsonl --truth truth.tsv --log demo.log [-v] [--json]

demo-score.py scores the detectors' findings (the anomalies table). This tool scores what reaches
the user: the alert sink's JSON lines (`logwarden run --alert-file F`, one object per alert with
detector, kind, ts_ns, arrival_ns, source, key, summary, explanation, samples), or with --db the
store's alerts table (one row per alert and sink; rows that were "suppressed" or "limited" were
never sent and are skipped) joined to its anomalies.

Truths, their keys and event times, and the kinds that show an anomaly without naming its key
(RELATED) come from demo-score.py, so both tools read the truth file the same way. The generator
writes one truth line per injection (src/cli/demo_gen.c: a burst of 50 failed passwords, a
silence of 15 beats, a broken session are each one line); truths of the same kind and key less
than --group seconds apart are still folded into one incident, so that a generator that records
an incident on several lines is not counted several times.

An alert matches a truth when
  - it names the truth's key (in its key, source, summary, samples or explanation) and the key
    identifies the injection (an IP, a request id, a block id, an error text): at any time, but
    each such alert goes to the nearest truth in time with that key (error texts repeat after
    eight injections). The time is not required because detectors take a line dated more than
    1 s ahead of the wall clock at its arrival time (the demo at --rate 2000 runs ~11x faster
    than the wall clock), so an alert on the very injected line can carry a time far from the
    line's own;
  - or, for silent_heartbeat (whose key is a host name, present everywhere) and for the RELATED
    kinds, its time is inside the kind's window around the truth's time (demo-score.py WINDOW)
    and the host matches as in demo-score.py. An alert has one or two times: its own event
    time (ts_ns) and, with --live-start T0 --rate R (a live run of a generator started at wall
    time T0 writing R lines/s), the event time of the line the generator was writing when the
    alert's batch arrived (arrival_ns). Either may fall in the window.

Output: alerts, true alerts, false alerts by detector/kind (-v: a few examples each), alert
precision = true alerts / alerts, incident recall = incidents with >= 1 matching alert / all
incidents, recall per kind, and a last line
    alert_precision=X incident_recall=Y alerts=N
(X is "nan" when there are no alerts). --json prints one JSON object instead.
"""
import argparse
import bisect
import collections
import importlib.util
import json
import os
import sqlite3
import sys

# demo-score.py's name is not an identifier, so it is loaded from its path.
_spec = importlib.util.spec_from_file_location(
    "demo_score", os.path.join(os.path.dirname(os.path.abspath(__file__)), "demo-score.py"))
demo_score = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(demo_score)

# Kinds whose key identifies the injection itself; silent_heartbeat's key is a host name.
UNIQUE_KEY = {"new_template", "ssh_burst", "broken_session", "latency_outlier"}


def load_alerts_jsonl(path):
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, raw in enumerate(f, 1):
            raw = raw.strip()
            if not raw:
                continue
            try:
                a = json.loads(raw)
            except ValueError:
                print("alert-score: %s:%d: not JSON, skipped" % (path, n), file=sys.stderr)
                continue
            parts = []
            for k in ("key", "source", "summary"):
                parts.append(a.get(k) or "")
            for k in ("samples", "explanation"):
                v = a.get(k)
                parts.append(v if isinstance(v, str) else json.dumps(v))
            out.append({"id": n, "ts": (a.get("ts_ns") or 0) / 1e9,
                        "arrival": (a.get("arrival_ns") or a.get("created_ns") or 0) / 1e9,
                        "detector": a.get("detector") or "", "kind": a.get("kind") or "",
                        "source": a.get("source") or "", "summary": a.get("summary") or "",
                        "text": "\n".join(parts)})
    return out


def load_alerts_db(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    rows = db.execute(
        "select a.id, a.ts_ns, a.detector, coalesce(a.kind, ''), coalesce(a.key, ''), "
        "coalesce(a.source, ''), a.summary, coalesce(a.samples, ''), "
        "coalesce(a.explanation, ''), min(al.created_ns) from anomalies a "
        "join alerts al on al.anomaly_id = a.id "
        "where al.state not in ('suppressed', 'limited') group by a.id order by a.ts_ns").fetchall()
    return [{"id": r[0], "ts": r[1] / 1e9, "arrival": r[9] / 1e9, "detector": r[2], "kind": r[3],
             "source": r[5], "summary": r[6], "text": "\n".join((r[4], r[5], r[6], r[7], r[8]))}
            for r in rows]


def log_times(path, year):
    """Event time of every line (None carried forward from the previous line), in order."""
    times = []
    last = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            t = demo_score.line_time(line, year)
            if t is not None:
                last = t
            times.append(last)
    return times


def group_incidents(truths, gap_s):
    """Folds truths of one kind and key less than gap_s apart into incidents."""
    incidents = []
    last = {}
    for t in sorted(truths, key=lambda x: (x.get("ts") or 0, x["line"])):
        k = (t["kind"], t["key"])
        inc = last.get(k)
        # A template is new once: the generator injecting the same never-seen text again later
        # is no new incident for a template miner (the first one already made it known).
        again = inc is not None and t["kind"] == "new_template"
        if again or inc is not None and t.get("ts") is not None and inc["ts_end"] is not None and \
                t["ts"] - inc["ts_end"] < gap_s:
            inc["truths"].append(t)
            inc["ts_end"] = t["ts"]
        else:
            inc = {"kind": t["kind"], "key": t["key"], "truths": [t], "ts": t.get("ts"),
                   "ts_end": t.get("ts"), "line": t["line"], "desc": t["desc"], "alerts": []}
            incidents.append(inc)
            last[k] = inc
    return incidents


def alert_times(al, live, times):
    out = [al["ts"]]
    if live is not None and times:
        t0, rate = live
        idx = int((al["arrival"] - t0) * rate)
        idx = min(max(idx, 0), len(times) - 1)
        if times[idx] is not None:
            out.append(times[idx])
    return out


def score(alerts, incidents, live, times):
    for al in alerts:
        al["matches"] = []
        cands = alert_times(al, live, times)
        # Key matches: the nearest incident in time among those whose key the alert names.
        keyed = [inc for inc in incidents if inc["kind"] in UNIQUE_KEY and inc["key"] in al["text"]]
        if keyed:
            def dist(inc):
                if inc["ts"] is None:
                    return 0.0
                return min(abs(c - inc["ts"]) for c in cands)
            best = min(dist(inc) for inc in keyed)
            al["matches"].extend(inc for inc in keyed if dist(inc) == best)
        for inc in incidents:
            if inc in al["matches"] or inc["ts"] is None:
                continue
            before, after = demo_score.WINDOW.get(inc["kind"], (30, 300))
            if before is None:
                continue
            if not any(inc["ts"] - before <= c <= inc["ts_end"] + after for c in cands):
                continue
            host = inc["truths"][0]["host"]
            hit = inc["kind"] == "silent_heartbeat" and inc["key"] in al["text"]
            if not hit and (al["detector"], al["kind"]) in demo_score.RELATED.get(inc["kind"], ()):
                hit = host is None or al["source"] in ("", host)
            if hit:
                al["matches"].append(inc)
        for inc in al["matches"]:
            inc["alerts"].append(al)


def fmt(x):
    return "nan" if x is None else "%.3f" % x


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--alerts", help="the JSONL alert file (logwarden run --alert-file)")
    src.add_argument("--db", help="a logwarden.db: its alerts table joined to anomalies")
    ap.add_argument("--truth", required=True, help="truth.tsv written by logwarden demo --truth")
    ap.add_argument("--log", required=True, help="the demo log (for the truths' event times)")
    ap.add_argument("--year", type=int, default=2026, help="year of syslog time stamps (2026)")
    ap.add_argument("--group", type=float, default=60.0,
                    help="truths of one kind and key closer than this (s) are one incident (60)")
    ap.add_argument("--live-start", type=float, metavar="T0",
                    help="wall time (Unix s) at which a live generator started writing the log")
    ap.add_argument("--rate", type=float, help="its lines per wall-clock second (with --live-start)")
    ap.add_argument("--label", default="", help="printed as run=LABEL at the start of the last line")
    ap.add_argument("--silence-tail", type=float, default=40.0,
                    help="silent_heartbeat truths this close (s) to the log's end cannot be seen "
                         "yet and are not scored (40: the 10 s beat plus two 10 s windows and "
                         "a margin)")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="list missed incidents and examples of false alerts")
    ap.add_argument("--examples", type=int, default=3,
                    help="false alerts shown per detector/kind with -v (3)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = ap.parse_args()
    if (args.live_start is None) != (args.rate is None):
        ap.error("--live-start and --rate go together")

    truths = demo_score.parse_truth(args.truth)
    times = log_times(args.log, args.year)
    for t in truths:
        t["ts"] = times[t["line"] - 1] if 0 < t["line"] <= len(times) else None
    incidents = group_incidents(truths, args.group)
    # A silence can only be seen once the stream has gone on without the host's beats for a few
    # windows: one that starts within --silence-tail seconds of the log's end is not scored.
    end_ts = next((t for t in reversed(times) if t is not None), None)
    unobservable = [i for i in incidents if i["kind"] == "silent_heartbeat" and
                    i["ts"] is not None and end_ts is not None and
                    end_ts - i["ts"] < args.silence_tail]
    incidents = [i for i in incidents if i not in unobservable]
    alerts = load_alerts_jsonl(args.alerts) if args.alerts else load_alerts_db(args.db)
    live = (args.live_start, args.rate) if args.live_start is not None else None
    score(alerts, incidents, live, times)

    n_true = sum(1 for a in alerts if a["matches"])
    false = [a for a in alerts if not a["matches"]]
    by_kind = collections.Counter((a["detector"], a["kind"]) for a in false)
    precision = n_true / len(alerts) if alerts else None
    found = sum(1 for i in incidents if i["alerts"])
    recall = found / len(incidents) if incidents else None
    kinds = {}
    for k in sorted({i["kind"] for i in incidents}):
        ii = [i for i in incidents if i["kind"] == k]
        f = sum(1 for i in ii if i["alerts"])
        kinds[k] = {"incidents": len(ii), "alerted": f, "missed": len(ii) - f,
                    "recall": f / len(ii)}
    end = next((t for t in reversed(times) if t is not None), None)
    result = {"alerts": len(alerts), "true_alerts": n_true, "false_alerts": len(false),
              "alert_precision": precision, "incidents": len(incidents),
              "truth_lines": len(truths), "incidents_alerted": found,
              "incident_recall": recall, "kinds": kinds,
              "false_by_detector_kind": {"%s/%s" % k: n for k, n in by_kind.most_common()},
              "not_scored": len(unobservable), "log_lines": len(times), "log_span_s": (end - times[0]) if end and times[0] else None}
    if args.json:
        if args.verbose:
            result["missed"] = [{"line": i["line"], "kind": i["kind"], "desc": i["desc"]}
                                for i in incidents if not i["alerts"]]
        print(json.dumps(result))
        return 0

    print("incidents: %d injected (%d truth lines), %d with an alert" %
          (len(incidents), len(truths), found))
    for i in unobservable:
        print("not scored: line %d %s %s (%.0f s before the log ends)" %
              (i["line"], i["kind"], i["desc"], end_ts - i["ts"]))
    print("%-18s %9s %8s %7s %7s" % ("truth kind", "incidents", "alerted", "missed", "recall"))
    for k, v in kinds.items():
        print("%-18s %9d %8d %7d %7.3f" % (k, v["incidents"], v["alerted"], v["missed"], v["recall"]))
    print("%-18s %9d %8d %7d %7s" % ("all", len(incidents), found, len(incidents) - found,
                                     fmt(recall)))
    print("alerts %d: true %d, false %d" % (len(alerts), n_true, len(false)))
    for (d, k), n in by_kind.most_common():
        print("  false %-30s %d" % (d + "/" + k, n))
        if args.verbose:
            for a in [a for a in false if (a["detector"], a["kind"]) == (d, k)][:args.examples]:
                print("      ts=%.3f source=%s %s" % (a["ts"], a["source"] or "-", a["summary"][:160]))
    if args.verbose:
        for i in incidents:
            if not i["alerts"]:
                print("MISSED line %d %s %s" % (i["line"], i["kind"], i["desc"]))
    print("%salert_precision=%s incident_recall=%s alerts=%d" %
          ("run=%s " % args.label if args.label else "", fmt(precision), fmt(recall), len(alerts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
