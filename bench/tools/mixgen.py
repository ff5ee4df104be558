#!/usr/bin/env python3
"""Seeded generator of a realistic MIXED log stream: nginx, a Java application, JSON lines.

  mixgen.py --lines 200000 --seed 1 --out mixed.log
  mixgen.py --lines 200000 --seed 1 --inject-burst 600 --truth truth.tsv --out mixed.log
  mixgen.py --lines 200000 --split DIR              # DIR/nginx.log DIR/app.log DIR/service.jsonl
  mixgen.py --lines 50000 --future-line --no-ts-lines --out odd.log

Three sources, interleaved in event-time order (UTC; a line's time never goes back within its
source, and the combined stream is sorted by event time):
  - nginx access log, combined format:
      10.1.2.3 - - [04/Dec/2026:10:00:00 +0000] "GET /api/cart/123 HTTP/1.1" 200 512 "-" "curl/8.5.0"
  - a Java application log, logback style, with multi-line stack traces for the (rare, known)
    exceptions it throws in normal operation:
      2026-12-04 10:00:00.123 INFO  [http-nio-8080-exec-3] com.shop.order.OrderService - ...
      java.net.SocketTimeoutException: Read timed out
      \tat com.shop.payment.PaymentClient.charge(PaymentClient.java:88)
      Caused by: ...
      \t... 12 more
  - JSON lines of a few microservices:
      {"ts":"2026-12-04T10:00:00.123Z","level":"info","host":"cart-02","service":"cart","msg":"..."}

Options:
  --lines N            physical lines to write (stack-trace lines count), default 100000
  --seed N             random seed (default 1); the same seed gives the same output
  --start T            event time of the first line: Unix seconds or ISO 8601 (UTC), default
                       2026-12-04T10:00:00Z
  --eps N              events per simulated second over the three sources (default 100)
  --inject-burst S     at S seconds after --start, an exception burst: --burst-count (200) Java
                       exceptions of a kind never seen otherwise, within --burst-seconds (20),
                       each with its stack trace; repeatable
  --future-line        one nginx line dated 5 years ahead, in the middle of the stream
  --no-ts-lines        sprinkle timestamp-less lines (~0.5% of events: JVM warnings and banner
                       lines printed to the app's log without a header)
  --truth FILE         what was injected, one line each: EVENT_TIME_ISO<TAB>EPOCH_S<TAB>KIND<TAB>
                       SOURCE<TAB>LINE<TAB>description; KIND is exception_burst (first exception
                       of the burst; LINE its first line; the description gives the count, the
                       class and the last exception's time) or future_line. LINE is 1-based in
                       the combined stream (--out) or in the source's own file with --split only.
  --out FILE           the combined stream (default standard output unless --split is given)
  --split DIR          also (or instead) write DIR/nginx.log, DIR/app.log, DIR/service.jsonl
"""
import argparse
import calendar
import heapq
import json
import os
import random
import sys
import time

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
SOURCES = ("nginx", "app", "json")
SHARE = {"nginx": 0.6, "app": 0.25, "json": 0.15}
SPLIT_NAMES = {"nginx": "nginx.log", "app": "app.log", "json": "service.jsonl"}

PATHS = [("GET", "/", 0.08), ("GET", "/api/products/{n}", 0.25), ("GET", "/api/cart/{n}", 0.15),
         ("POST", "/api/cart/{n}/items", 0.08), ("POST", "/api/orders", 0.05),
         ("GET", "/api/orders/{n}", 0.07), ("GET", "/static/app.{hex}.js", 0.12),
         ("GET", "/static/style.{hex}.css", 0.08), ("GET", "/healthz", 0.1),
         ("POST", "/api/login", 0.02)]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
          "like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
          "curl/8.5.0", "kube-probe/1.31", "python-requests/2.32.3"]
REFERERS = ["-", "-", "-", "https://shop.example.com/", "https://shop.example.com/cart"]

# (level, thread kind, logger, message template)
APP_MSGS = [
    ("INFO", "exec", "com.shop.order.OrderService", "Order {n} placed for customer {c} total {amt} EUR"),
    ("INFO", "exec", "com.shop.cart.CartController", "Cart {n} updated: {k} items"),
    ("DEBUG", "exec", "com.shop.catalog.ProductRepository", "Loaded product {n} in {ms} ms"),
    ("INFO", "exec", "com.shop.auth.LoginService", "User {c} logged in from {ip}"),
    ("WARN", "exec", "com.shop.auth.LoginService", "Failed login for user {c} from {ip}"),
    ("INFO", "sched", "com.shop.jobs.InventorySync", "Inventory sync finished: {k} SKUs in {ms} ms"),
    ("INFO", "pool", "com.zaxxer.hikari.pool.HikariPool", "HikariPool-1 - Pool stats (total={k}, active={a}, idle={i}, waiting=0)"),
    ("WARN", "exec", "com.shop.payment.PaymentClient", "Payment provider slow: {ms} ms for order {n}"),
    ("INFO", "kafka", "com.shop.events.OrderEventPublisher", "Published OrderCreated for order {n} to partition {a}"),
]
# Known exceptions of normal operation: (logger, log message, exception, frames, cause).
KNOWN_EXC = [
    ("com.shop.payment.PaymentClient", "Payment call failed for order {n}, will retry",
     "java.net.SocketTimeoutException: Read timed out",
     ["java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:288)",
      "java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)",
      "org.apache.http.impl.io.SessionInputBufferImpl.fillBuffer(SessionInputBufferImpl.java:153)",
      "com.shop.payment.PaymentClient.charge(PaymentClient.java:88)",
      "com.shop.order.OrderService.placeOrder(OrderService.java:142)",
      "com.shop.order.OrderController.create(OrderController.java:57)"],
     None),
    ("com.shop.cart.CartController", "Request failed: GET /api/cart/{n}",
     "java.lang.NullPointerException: Cannot invoke \"com.shop.cart.Cart.getItems()\" because \"cart\" is null",
     ["com.shop.cart.CartService.total(CartService.java:61)",
      "com.shop.cart.CartController.get(CartController.java:39)",
      "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)"],
     None),
    ("com.shop.catalog.ProductRepository", "Query failed for product {n}",
     "org.springframework.dao.QueryTimeoutException: PreparedStatementCallback; SQL [select * from product where id = ?]",
     ["org.springframework.jdbc.core.JdbcTemplate.execute(JdbcTemplate.java:1541)",
      "com.shop.catalog.ProductRepository.find(ProductRepository.java:44)",
      "com.shop.catalog.ProductService.get(ProductService.java:30)"],
     ("org.postgresql.util.PSQLException: ERROR: canceling statement due to statement timeout",
      ["org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2713)",
       "org.postgresql.jdbc.PgPreparedStatement.executeQuery(PgPreparedStatement.java:134)"])),
]
# The burst: an exception class and message that never occur otherwise.
BURST_EXC = ("com.shop.inventory.StockReservationService", "Reservation failed for order {n}",
             "com.shop.inventory.LedgerCorruptedException: stock ledger checksum mismatch for sku {sku}",
             ["com.shop.inventory.StockLedger.verify(StockLedger.java:211)",
              "com.shop.inventory.StockLedger.reserve(StockLedger.java:140)",
              "com.shop.inventory.StockReservationService.reserve(StockReservationService.java:77)",
              "com.shop.order.OrderService.placeOrder(OrderService.java:151)",
              "com.shop.order.OrderController.create(OrderController.java:57)",
              "jdk.internal.reflect.GeneratedMethodAccessor212.invoke(Unknown Source)",
              "org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)"],
             ("java.sql.SQLDataException: ERROR: invalid input syntax for type numeric: \"NaN\"",
              ["org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2713)",
               "org.postgresql.jdbc.PgStatement.executeInternal(PgStatement.java:517)",
               "com.shop.inventory.StockLedger.readBalance(StockLedger.java:198)"]))
JSON_MSGS = [
    ("info", "cart", "cart updated", {"items": "{k}"}),
    ("info", "search", "query served", {"q_ms": "{ms}", "hits": "{k}"}),
    ("info", "notifier", "email queued", {"template": "order_confirmation"}),
    ("debug", "search", "cache hit", {"key": "q:{hex}"}),
    ("warn", "notifier", "smtp slow", {"ms": "{ms}"}),
    ("info", "recommend", "model scored", {"candidates": "{k}", "ms": "{ms}"}),
    ("error", "notifier", "smtp send failed, retrying", {"attempt": "{a}"}),
]
JSON_HOSTS = {"cart": 3, "search": 2, "notifier": 2, "recommend": 2}
NO_TS_LINES = [
    "WARNING: An illegal reflective access operation has occurred",
    "WARNING: Please consider reporting this to the maintainers of org.springframework.cglib.core.ReflectUtils",
    "OpenJDK 64-Bit Server VM warning: Sharing is only supported for boot loader classes because bootstrap classpath has been appended",
    "  .   ____          _            __ _ _",
    "[GC (Allocation Failure)  {k}K->{a}K(1048576K), 0.0{ms} secs]",
]


def parse_start(s):
    try:
        return float(s)
    except ValueError:
        pass
    s = s.rstrip("Z").replace("T", " ")
    frac = 0.0
    if "." in s:
        s, f = s.split(".", 1)
        frac = float("0." + f)
    return calendar.timegm(time.strptime(s, "%Y-%m-%d %H:%M:%S")) + frac


def iso(t, sep="T", z="Z"):
    s = int(t)
    ms = int(round((t - s) * 1000))
    if ms == 1000:
        s, ms = s + 1, 0
    return time.strftime("%Y-%m-%d" + sep + "%H:%M:%S", time.gmtime(s)) + ".%03d" % ms + z


class Gen:
    def __init__(self, args):
        self.r = random.Random(args.seed)
        self.args = args
        self.ips = ["%d.%d.%d.%d" % (self.r.choice([10, 172, 81, 93, 185]), self.r.randrange(256),
                                     self.r.randrange(256), 1 + self.r.randrange(254))
                    for _ in range(400)]
        self.n_exec = 0

    def fill(self, s):
        r = self.r
        return (s.replace("{n}", str(r.randrange(100000, 999999)))
                .replace("{c}", "u%05d" % r.randrange(20000))
                .replace("{amt}", "%.2f" % (r.lognormvariate(3.5, 0.8)))
                .replace("{k}", str(r.randrange(1, 60)))
                .replace("{ms}", str(int(r.lognormvariate(3.0, 0.7))))
                .replace("{ip}", r.choice(self.ips))
                .replace("{a}", str(r.randrange(0, 10)))
                .replace("{i}", str(r.randrange(0, 10)))
                .replace("{hex}", "%08x" % r.getrandbits(32))
                .replace("{sku}", "SKU-%06d" % r.randrange(1000000)))

    def nginx(self, t):
        r = self.r
        method, path = None, None
        x = r.random()
        for m, p, w in PATHS:
            x -= w
            if x <= 0:
                method, path = m, p
                break
        if method is None:
            method, path = PATHS[0][0], PATHS[0][1]
        path = self.fill(path)
        k = r.random()
        status = 200 if k < 0.9 else 304 if k < 0.93 else 404 if k < 0.97 else 401 if k < 0.99 else 500
        if path.startswith("/static") and status == 200 and r.random() < 0.5:
            status = 304
        size = 0 if status == 304 else int(r.lognormvariate(7, 1.2))
        tm = time.gmtime(int(t))
        stamp = "%02d/%s/%04d:%02d:%02d:%02d +0000" % (tm.tm_mday, MONTHS[tm.tm_mon - 1],
                                                        tm.tm_year, tm.tm_hour, tm.tm_min, tm.tm_sec)
        return ['%s - - [%s] "%s %s HTTP/1.1" %d %d "%s" "%s"' % (
            r.choice(self.ips), stamp, method, path, status, size, r.choice(REFERERS),
            r.choice(AGENTS))]

    def thread(self, kind):
        r = self.r
        if kind == "exec":
            return "http-nio-8080-exec-%d" % r.randrange(1, 41)
        if kind == "sched":
            return "scheduling-1"
        if kind == "pool":
            return "HikariPool-1 housekeeper"
        return "kafka-producer-network-thread | producer-1"

    def app_header(self, t, level, thread, logger, msg):
        return "%s %-5s [%s] %s - %s" % (iso(t, " ", ""), level, thread, logger, msg)

    def exception(self, t, exc):
        r = self.r
        logger, msg, head, frames, cause = exc
        lines = [self.app_header(t, "ERROR", self.thread("exec"), logger, self.fill(msg)),
                 self.fill(head)]
        lines += ["\tat " + f for f in frames]
        common = r.randrange(8, 40)
        lines += ["\tat org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:%d)" % (138 + r.randrange(3)),
                  "\tat org.apache.tomcat.util.threads.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:659)",
                  "\tat java.base/java.lang.Thread.run(Thread.java:1583)"]
        if cause is not None:
            chead, cframes = cause
            lines.append("Caused by: " + self.fill(chead))
            lines += ["\tat " + f for f in cframes]
            lines.append("\t... %d more" % common)
        return lines

    def app(self, t):
        r = self.r
        if r.random() < 0.004:
            return self.exception(t, r.choice(KNOWN_EXC))
        level, tk, logger, msg = r.choice(APP_MSGS)
        return [self.app_header(t, level, self.thread(tk), logger, self.fill(msg))]

    def json(self, t):
        r = self.r
        level, svc, msg, extra = r.choice(JSON_MSGS)
        o = {"ts": iso(t), "level": level, "host": "%s-%02d" % (svc, 1 + r.randrange(JSON_HOSTS[svc])),
             "service": svc, "msg": msg}
        for k, v in extra.items():
            v = self.fill(v)
            o[k] = int(v) if v.isdigit() else v
        return [json.dumps(o, separators=(",", ":"))]

    def no_ts(self):
        return [self.fill(self.r.choice(NO_TS_LINES))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", default="2026-12-04T10:00:00Z")
    ap.add_argument("--eps", type=float, default=100.0)
    ap.add_argument("--inject-burst", type=float, action="append", default=[], metavar="S")
    ap.add_argument("--burst-count", type=int, default=200)
    ap.add_argument("--burst-seconds", type=float, default=20.0)
    ap.add_argument("--future-line", action="store_true")
    ap.add_argument("--no-ts-lines", action="store_true")
    ap.add_argument("--truth")
    ap.add_argument("--out")
    ap.add_argument("--split", metavar="DIR")
    args = ap.parse_args()
    if args.lines < 1 or args.eps <= 0:
        ap.error("--lines and --eps must be positive")
    start = parse_start(args.start)
    g = Gen(args)
    r = g.r

    outs = {}
    if args.split:
        os.makedirs(args.split, exist_ok=True)
        for s in SOURCES:
            outs[s] = open(os.path.join(args.split, SPLIT_NAMES[s]), "w", encoding="utf-8")
    combined = None
    if args.out and args.out != "-":
        combined = open(args.out, "w", encoding="utf-8")
    elif not args.split or args.out == "-":
        combined = sys.stdout
    line_no = {"all": 0, "nginx": 0, "app": 0, "json": 0}
    truth = []

    # Event queue: (time, seq, source, kind); the seq keeps equal times in insertion order.
    heap = []
    seq = 0
    for s in SOURCES:
        heapq.heappush(heap, (start + r.expovariate(args.eps * SHARE[s]), seq, s, "normal"))
        seq += 1
    bursts = []
    for at in sorted(args.inject_burst):
        times = sorted(start + at + r.uniform(0, args.burst_seconds) for _ in range(args.burst_count))
        times[0] = start + at
        bursts.append({"at": start + at, "n": 0, "last": None, "first_line": None})
        for t in times:
            heapq.heappush(heap, (t, seq, "app", "burst:%d" % (len(bursts) - 1)))
            seq += 1
    future_at = args.lines // 2 if args.future_line else None

    def emit(src, t, lines):
        for ln in lines:
            if line_no["all"] >= args.lines:
                return  # exactly --lines lines, even when that cuts a stack trace
            line_no["all"] += 1
            line_no[src] += 1
            if combined is not None:
                combined.write(ln + "\n")
            if src in outs:
                outs[src].write(ln + "\n")

    def where(src):
        return line_no["all"] + 1 if combined is not None else line_no[src] + 1

    while line_no["all"] < args.lines and heap:
        t, _, src, kind = heapq.heappop(heap)
        if kind == "normal":
            heapq.heappush(heap, (t + r.expovariate(args.eps * SHARE[src]), seq, src, "normal"))
            seq += 1
            if future_at is not None and line_no["all"] >= future_at and src == "nginx":
                ft = t + 5 * 365.25 * 86400
                truth.append((ft, "future_line", src, where(src), "one nginx line dated %s, 5 years ahead of %s" % (iso(ft), iso(t))))
                emit(src, ft, g.nginx(ft))
                future_at = None
                continue
            if args.no_ts_lines and src == "app" and r.random() < 0.005 * (1 / SHARE["app"]):
                emit(src, t, g.no_ts())
                continue
            emit(src, t, getattr(g, src)(t))
        else:
            b = bursts[int(kind.split(":")[1])]
            if b["first_line"] is None:
                b["first_line"] = where("app")
                b["first_t"] = t
            b["n"] += 1
            b["last"] = t
            emit("app", t, g.exception(t, BURST_EXC))
    for b in bursts:
        if b["n"] > 0:
            truth.append((b["first_t"], "exception_burst", "app", b["first_line"],
                          "%d x %s (never seen otherwise) from %s to %s" % (
                              b["n"], BURST_EXC[2].split(":")[0], iso(b["first_t"]), iso(b["last"]))))
        else:
            print("mixgen: the burst at +%.0fs is past the end of the stream (%d lines)" %
                  (b["at"] - start, args.lines), file=sys.stderr)
    if combined is not None and combined is not sys.stdout:
        combined.close()
    for f in outs.values():
        f.close()
    if args.truth:
        with open(args.truth, "w", encoding="utf-8") as f:
            for t, kind, src, ln, desc in sorted(truth):
                f.write("%s\t%.3f\t%s\t%s\t%d\t%s\n" % (iso(t), t, kind, src, ln, desc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
