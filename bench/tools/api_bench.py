#!/usr/bin/env python3
"""Latency of the dashboard's API queries against a running daemon (bench/api-query.sh).

One keep-alive HTTP/1.1 connection (http.client), requests one after another, so a figure is
the server's latency for one query plus loopback, not queueing behind other requests. Every
query runs N times (after 3 warm-up requests); the table gives p50/p90/p99/max in ms.

usage: api_bench.py BASE_URL [N] [TOKEN]     e.g. http://127.0.0.1:8080/api/v1 200
"""
import http.client
import json
import random
import sys
import time
import urllib.parse


def main():
    base = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    token = sys.argv[3] if len(sys.argv) > 3 else None
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    headers = {"Authorization": "Bearer " + token} if token else {}

    def get(path):
        conn.request("GET", u.path + path, headers=headers)
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit("GET %s: %d %s" % (path, r.status, body[:200]))
        return body

    top = json.loads(get("/templates?sort=count&order=desc&limit=50"))["items"]
    ids = ",".join(str(t["id"]) for t in top)
    anomalies = json.loads(get("/anomalies?from=-7d&limit=1000"))["items"]
    if not top or not anomalies:
        raise SystemExit("the store has no templates or anomalies")
    anomaly_ids = [a["id"] for a in anomalies]
    words = ["timed out", "payment", "replica", "handshake", "gc", "shard 1", "zzz-nothing"]
    rnd = random.Random(1)
    queries = [
        ("overview 1h", lambda: "/overview?from=-1h"),
        ("overview 24h", lambda: "/overview?from=-24h"),
        ("overview 7d", lambda: "/overview?from=-7d"),
        ("incidents open 24h", lambda: "/incidents?from=-24h&state=open&limit=50"),
        ("incidents all 7d", lambda: "/incidents?from=-7d&state=all&limit=50"),
        ("templates by count", lambda: "/templates?sort=count&order=desc&limit=50"),
        ("templates by last_seen", lambda: "/templates?sort=last_seen&order=desc&limit=50"),
        ("templates ?q=", lambda: "/templates?q=%s&limit=50"
         % urllib.parse.quote(rnd.choice(words))),
        ("series tpl 24h", lambda: "/series?template=%d&from=-24h" % rnd.choice(top)["id"]),
        ("series tpl 7d", lambda: "/series?template=%d&from=-7d" % rnd.choice(top)["id"]),
        ("series all 7d", lambda: "/series?from=-7d"),
        ("sparklines 50 24h", lambda: "/sparklines?ids=%s&from=-24h&buckets=24" % ids),
        ("sources 24h", lambda: "/sources?from=-24h&limit=100"),
        ("anomaly detail", lambda: "/anomalies/%d" % rnd.choice(anomaly_ids)),
    ]
    only = set(a for a in sys.argv[4:]) if len(sys.argv) > 4 else None
    print("%-24s %6s %9s %9s %9s %9s %9s" % ("query", "n", "p50 ms", "p90 ms", "p99 ms", "max ms",
                                             "bytes"))
    worst = 0.0
    for name, path in queries:
        if only and name not in only:
            continue
        for _ in range(3):
            get(path())
        lat = []
        size = 0
        for _ in range(n):
            p = path()
            t0 = time.perf_counter()
            size = len(get(p))
            lat.append((time.perf_counter() - t0) * 1000.0)
        lat.sort()

        def q(f):
            return lat[min(len(lat) - 1, int(f * len(lat)))]
        worst = max(worst, q(0.99))
        print("%-24s %6d %9.1f %9.1f %9.1f %9.1f %9d" % (name, n, q(0.5), q(0.9), q(0.99),
                                                         lat[-1], size), flush=True)
    print("worst p99: %.1f ms" % worst)


if __name__ == "__main__":
    main()
