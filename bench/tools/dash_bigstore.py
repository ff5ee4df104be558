#!/usr/bin/env python3
"""Fills a logwarden store (made by `logwarden train`, so the schema is the daemon's own) with a
week of 10 s windows up to now: LINES lines' counts spread over TEMPLATES templates (a few hundred
busy ones carry most lines, as in real logs), 40 sources and 5 levels, ANOMALIES anomalies with an
alert each, grouped into incidents. For bench/dashboard-render.sh: the dashboard's queries over a
store of the size the issue names (10M lines' counts, 100k anomalies, 50k templates).

usage: dash_bigstore.py DB [--lines 10000000] [--templates 50000] [--anomalies 100000] [--seed 1]
"""
import argparse
import json
import random
import sqlite3
import time

NS = 1_000_000_000
WINDOW_S = 10
DAYS = 7
LEVELS = [(3, 0.80), (5, 0.12), (6, 0.06), (2, 0.02)]  # info, warn, error, debug (lw_level.h)
WORDS = ["connection", "request", "block", "session", "user", "disk", "cache", "worker", "queue",
         "token", "lease", "replica", "shard", "job", "socket", "heartbeat", "lock", "commit"]
VERBS = ["opened", "closed", "failed", "retried", "served", "evicted", "scheduled", "expired",
         "acquired", "released", "timed out", "rejected"]


HOUR_NS = 3600 * NS


def summaries(db, now_ns):
    """What a daemon that has run for the week keeps besides the windows: the hourly rollups
    (rolled by its periodic prune up to the current hour) and the source summaries (kept by its
    writer), made with the same sums as the store's own SQL (store_sqlite.c, store_schema.c)."""
    upto = now_ns // HOUR_NS * HOUR_NS
    db.execute("INSERT INTO hour_counts(hour_ns, template_id, count) SELECT window_start_ns / ?1"
               " * ?1, template_id, sum(count) FROM window_counts WHERE window_start_ns < ?2"
               " GROUP BY 1, 2", (HOUR_NS, upto))
    db.execute("INSERT INTO hour_level_counts(hour_ns, level, count) SELECT window_start_ns / ?1"
               " * ?1, level, sum(count) FROM window_level_counts WHERE window_start_ns < ?2"
               " GROUP BY 1, 2", (HOUR_NS, upto))
    db.execute("INSERT INTO hour_source_counts(hour_ns, source, template_id, count, last_ns)"
               " SELECT window_start_ns / ?1 * ?1, source, template_id, sum(count),"
               " max(window_start_ns) FROM window_source_counts WHERE window_start_ns < ?2"
               " GROUP BY 1, 2, 3", (HOUR_NS, upto))
    db.execute("INSERT INTO min5_level_counts(bucket_ns, level, count) SELECT window_start_ns"
               " / ?1 * ?1, level, sum(count) FROM window_level_counts WHERE window_start_ns < ?2"
               " GROUP BY 1, 2", (300 * NS, upto))
    db.execute("INSERT INTO meta(key, value) VALUES ('rolled_upto_ns', ?1)"
               " ON CONFLICT(key) DO UPDATE SET value = excluded.value", (upto,))
    db.execute("INSERT INTO source_hours(source, hour_ns, lines, last_ns) SELECT source,"
               " window_start_ns / ?1 * ?1, sum(count), max(window_start_ns)"
               " FROM window_source_counts GROUP BY 1, 2", (HOUR_NS,))
    db.execute("INSERT INTO source_templates(source, template_id, first_ns, last_ns)"
               " SELECT source, template_id, min(window_start_ns), max(window_start_ns)"
               " FROM window_source_counts GROUP BY 1, 2")
    db.execute("INSERT INTO sources(source, first_ns, last_ns, lines) SELECT source,"
               " min(window_start_ns), max(window_start_ns), sum(count)"
               " FROM window_source_counts GROUP BY 1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("db")
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--templates", type=int, default=50_000)
    ap.add_argument("--anomalies", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    t0 = time.time()
    db = sqlite3.connect(a.db)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    for t in ("window_counts", "window_source_counts", "window_level_counts", "anomalies",
              "alerts", "templates", "template_examples", "rules", "hour_counts",
              "hour_level_counts", "hour_source_counts", "sources", "source_hours",
              "source_templates", "min5_level_counts"):
        db.execute(f"DELETE FROM {t}")

    now_s = int(time.time()) // WINDOW_S * WINDOW_S
    n_win = DAYS * 86400 // WINDOW_S
    start_s = now_s - n_win * WINDOW_S
    busy = min(300, a.templates)
    sources = [f"host-{i:02d}" for i in range(40)]
    per_win = a.lines / n_win
    counts = [0] * (a.templates + 1)
    first = [0] * (a.templates + 1)
    last = [0] * (a.templates + 1)

    wc, sc, lc = [], [], []

    def flush():
        db.executemany("INSERT INTO window_counts VALUES (?,?,?)", wc)
        db.executemany("INSERT INTO window_source_counts VALUES (?,?,?,?)", sc)
        db.executemany("INSERT INTO window_level_counts VALUES (?,?,?)", lc)
        wc.clear()
        sc.clear()
        lc.clear()

    total = 0
    for w in range(n_win):
        ws = start_s + w * WINDOW_S
        wns = ws * NS
        # A daily rhythm, so that the charts have a shape.
        day = 0.6 + 0.4 * abs(((ws % 86400) / 43200.0) - 1.0)
        n = int(per_win * day * 1.25 + rnd.random())
        picks = {}
        for _ in range(12):
            tid = int(rnd.paretovariate(1.2)) % busy + 1
            picks[tid] = picks.get(tid, 0) + max(1, n // 12)
        if rnd.random() < 0.15:  # now and then one of the long tail
            tid = rnd.randint(busy + 1, a.templates) if a.templates > busy else 1
            picks[tid] = picks.get(tid, 0) + 1
        wsum = 0
        for tid, c in picks.items():
            wc.append((wns, tid, c))
            sc.append((wns, tid, sources[(tid * 7 + w) % len(sources)], c))
            counts[tid] += c
            first[tid] = first[tid] or wns
            last[tid] = wns
            wsum += c
        total += wsum
        left = wsum
        for lvl, share in LEVELS[:-1]:
            c = int(wsum * share)
            lc.append((wns, lvl, c))
            left -= c
        lc.append((wns, LEVELS[-1][0], left))
        if len(wc) >= 200_000:
            flush()
    flush()

    rows = []
    for tid in range(1, a.templates + 1):
        text = (f"{rnd.choice(WORDS)} <*> {rnd.choice(VERBS)} on {rnd.choice(WORDS)}-{tid} "
                f"after <*> ms (code <*>)")
        fs = first[tid] or (start_s + rnd.randint(0, n_win - 1) * WINDOW_S) * NS
        rows.append((tid, text, fs, last[tid] or fs, counts[tid]))
    db.executemany("INSERT INTO templates(id, text, first_seen_ns, last_seen_ns, count) "
                   "VALUES (?,?,?,?,?)", rows)

    dets = ["volume", "new_template", "params", "level", "sequence"]
    an, al = [], []
    incident = None
    for i in range(1, a.anomalies + 1):
        ts = (start_s + int((i - 0.5) * n_win * WINDOW_S / a.anomalies)) * NS
        tid = int(rnd.paretovariate(1.0)) % a.templates + 1
        det = dets[i % len(dets)]
        if incident is None or rnd.random() < 0.3:
            incident = f"inc-{rnd.getrandbits(64):016x}"
        expl = json.dumps({"expected": round(rnd.uniform(1, 50), 2),
                           "observed": round(rnd.uniform(60, 900), 2), "window_s": WINDOW_S})
        an.append((i, ts, det, 0.999 + rnd.random() / 1000, tid, sources[tid % len(sources)],
                   f"template {tid}: {det} anomaly {i}", expl, det, None))
        al.append((i, i, incident, "critical" if i % 5 == 0 else "warning", "sent", ts, ts, "stdout"))
    db.executemany("INSERT INTO anomalies(id, ts_ns, detector, score, template_id, source, summary, "
                   "explanation, kind, key) VALUES (?,?,?,?,?,?,?,?,?,?)", an)
    db.executemany("INSERT INTO alerts(id, anomaly_id, incident, severity, state, created_ns, "
                   "sent_ns, sink) VALUES (?,?,?,?,?,?,?,?)", al)
    db.execute("UPDATE counters SET value = ? WHERE name = 'stored_lines'", (total,))
    summaries(db, now_s * NS)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    print(f"dash_bigstore: {total} lines' counts in {n_win} windows of {WINDOW_S} s, "
          f"{a.templates} templates, {a.anomalies} anomalies in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
