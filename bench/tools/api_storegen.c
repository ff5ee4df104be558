/*
 * Builds a store for bench/api-query.sh: a week (by default) of 10 s windows holding the counts
 * of LINES lines over TEMPLATES templates and SOURCES sources, ANOMALIES anomalies with their
 * alerts grouped into incidents, and example lines, all written through the store interface
 * (lw_store.h), so the schema is exactly the one the daemon creates and opens.
 *
 * The shape is meant to look like a real service fleet rather than a uniform grid: template
 * and source popularity follow Zipf laws (a few hot templates and sources, a long tail), the
 * line rate has a daily cycle, anomalies cluster on some ten thousand (detector, template, source)
 * incidents, and every template is seen at least once. Nothing is random beyond a seeded
 * xorshift, so a seed always gives the same store.
 *
 * usage: api_storegen DIR [--lines N] [--templates N] [--sources N] [--anomalies N]
 *                         [--days N] [--end EPOCH_S] [--seed N]
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"
#include "store/store_int.h"

#define NS 1000000000LL

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double rnd01(void)
{
    return (double)(rnd() >> 11) / 9007199254740992.0;
}

/* A Zipf(s) sampler over [0, n): the cumulative weights and a binary search. */
struct zipf {
    double *cdf;
    size_t n;
};

static int zipf_init(struct zipf *z, size_t n, double s)
{
    double sum = 0;
    size_t i;

    z->cdf = malloc(n * sizeof(double));
    if (z->cdf == NULL) {
        return -1;
    }
    z->n = n;
    for (i = 0; i < n; i++) {
        sum += 1.0 / pow((double)(i + 1), s);
        z->cdf[i] = sum;
    }
    for (i = 0; i < n; i++) {
        z->cdf[i] /= sum;
    }
    return 0;
}

static size_t zipf_draw(const struct zipf *z)
{
    double u = rnd01();
    size_t lo = 0, hi = z->n - 1;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (z->cdf[mid] < u) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo;
}

static const char *const words[] = {
    "request", "connection", "session", "user", "block", "replica", "lease", "cache", "job",
    "task", "worker", "queue", "shard", "index", "token", "upload", "payment", "order", "auth",
    "disk", "socket", "handshake", "checkpoint", "snapshot", "compaction", "gc", "heartbeat",
};
static const char *const verbs[] = {
    "started", "finished", "failed", "timed out", "retrying", "accepted", "rejected", "closed",
    "opened", "evicted", "committed", "rolled back", "throttled", "expired", "recovered",
};
static const char *const services[] = {
    "api", "gateway", "billing", "search", "storage", "auth", "scheduler", "ingest", "mailer",
    "frontend", "indexer", "kafka-bridge", "cron", "db-proxy",
};
static const char *const detectors[] = {
    "volume", "new_template", "sequence", "params", "level", "session_counts",
};
static const char *const kinds[] = {
    "spike", "new", "unexpected", "outlier", "error_burst", "count",
};

#define N_WORDS (sizeof(words) / sizeof(words[0]))
#define N_VERBS (sizeof(verbs) / sizeof(verbs[0]))
#define N_SVCS  (sizeof(services) / sizeof(services[0]))
#define N_DETS  (sizeof(detectors) / sizeof(detectors[0]))

static void template_text(char *buf, size_t cap, uint32_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;

    snprintf(buf, cap, "%s: %s %s %s <*> for %s <*> after <*> ms (%s-%u)",
             services[h % N_SVCS], words[(h >> 8) % N_WORDS], verbs[(h >> 16) % N_VERBS],
             words[(h >> 24) % N_WORDS], words[(h >> 32) % N_WORDS],
             words[(h >> 40) % N_WORDS], id);
}

/* One (template, source) cell of the window being written. */
struct cell {
    uint32_t tid;
    uint32_t src;
    uint64_t n;
};

static int cell_cmp(const void *a, const void *b)
{
    const struct cell *x = a, *y = b;

    if (x->tid != y->tid) {
        return x->tid < y->tid ? -1 : 1;
    }
    return x->src < y->src ? -1 : x->src > y->src;
}

static int check(struct lw_store *s, int rc, const char *what)
{
    if (rc != LW_OK) {
        fprintf(stderr, "api_storegen: %s: %s (%s)\n", what, lw_strerror(rc), lw_store_errmsg(s));
        exit(1);
    }
    return rc;
}

int main(int argc, char **argv)
{
    uint64_t lines = 10000000, n_anom = 100000;
    uint32_t n_tpl = 50000, n_src = 400, days = 7;
    int64_t end_s = (int64_t)time(NULL);
    const char *dir = NULL;
    struct lw_store_conf conf;
    struct lw_store *s;
    struct zipf zt, zs, zinc;
    char err[512], text[256], src_name[64], buf[1024], inc[64];
    struct cell *cells;
    int64_t *first_ns, *last_ns;
    uint64_t *tcount;
    int64_t start_ns, end_ns, w, n_windows, wi, written = 0;
    uint32_t i;
    int a;

    for (a = 1; a < argc; a++) {
        if (a + 1 < argc && strcmp(argv[a], "--lines") == 0) {
            lines = strtoull(argv[++a], NULL, 10);
        }
        else if (a + 1 < argc && strcmp(argv[a], "--templates") == 0) {
            n_tpl = (uint32_t)strtoul(argv[++a], NULL, 10);
        }
        else if (a + 1 < argc && strcmp(argv[a], "--sources") == 0) {
            n_src = (uint32_t)strtoul(argv[++a], NULL, 10);
        }
        else if (a + 1 < argc && strcmp(argv[a], "--anomalies") == 0) {
            n_anom = strtoull(argv[++a], NULL, 10);
        }
        else if (a + 1 < argc && strcmp(argv[a], "--days") == 0) {
            days = (uint32_t)strtoul(argv[++a], NULL, 10);
        }
        else if (a + 1 < argc && strcmp(argv[a], "--end") == 0) {
            end_s = strtoll(argv[++a], NULL, 10);
        }
        else if (a + 1 < argc && strcmp(argv[a], "--seed") == 0) {
            rng_state ^= strtoull(argv[++a], NULL, 10) * 0x9E3779B97F4A7C15ULL;
        }
        else if (argv[a][0] != '-' && dir == NULL) {
            dir = argv[a];
        }
        else {
            fprintf(stderr, "usage: api_storegen DIR [--lines N] [--templates N] [--sources N]"
                            " [--anomalies N] [--days N] [--end EPOCH_S] [--seed N]\n");
            return 2;
        }
    }
    if (dir == NULL || n_tpl == 0 || n_src == 0 || days == 0) {
        fprintf(stderr, "api_storegen: DIR, and non-zero templates, sources and days\n");
        return 2;
    }
    memset(&conf, 0, sizeof(conf));
    /* A day more than the data spans, so that the daemon's first prune keeps all of it. */
    conf.retention_s = (int64_t)(days + 1) * 86400;
    s = lw_store_open(dir, &conf, err, sizeof(err));
    if (s == NULL) {
        fprintf(stderr, "api_storegen: %s\n", err);
        return 1;
    }
    /*
     * A big page cache for this one connection: the count tables' secondary indexes take rows
     * in random order, and with SQLite's default 2 MB cache nearly every insert misses.
     */
    if (strcmp(lw_store_errmsg(s), "") == 0 && lw__store_sqlite_db(s) != NULL) {
        sqlite3_exec(lw__store_sqlite_db(s), "PRAGMA cache_size = -1048576", NULL, NULL, NULL);
    }
    w = lw_store_window_s(s) * NS;
    end_ns = lw_store_window_start(s, end_s * NS);
    start_ns = end_ns - (int64_t)days * 86400 * NS;
    n_windows = (end_ns - start_ns) / w;
    if (zipf_init(&zt, n_tpl, 1.1) < 0 || zipf_init(&zs, n_src, 0.9) < 0 ||
        zipf_init(&zinc, 20000, 1.0) < 0) {
        return 1;
    }
    cells = calloc(4096, sizeof(*cells));
    first_ns = malloc(n_tpl * sizeof(int64_t));
    last_ns = malloc(n_tpl * sizeof(int64_t));
    tcount = calloc(n_tpl, sizeof(uint64_t));
    if (cells == NULL || first_ns == NULL || last_ns == NULL || tcount == NULL) {
        return 1;
    }
    for (i = 0; i < n_tpl; i++) {
        first_ns[i] = INT64_MAX;
        last_ns[i] = INT64_MIN;
    }

    /* Windows: one transaction per simulated hour. */
    for (wi = 0; wi < n_windows; wi++) {
        int64_t ws = start_ns + wi * w;
        double phase = (double)(ws / NS % 86400) / 86400.0;
        /* A daily cycle between 0.4 and 1.6 times the mean rate. */
        double mean = (double)lines / (double)n_windows * (1.0 + 0.6 * sin(2 * M_PI * phase));
        uint64_t n = (uint64_t)(mean * (0.8 + 0.4 * rnd01()));
        uint64_t levels[8] = {0};
        size_t n_cells = 0, c, k;

        if (wi == n_windows - 1) {
            n = lines > (uint64_t)written ? lines - (uint64_t)written : 0;
        }
        if (wi % 360 == 0) {
            if (wi > 0) {
                check(s, lw_store_commit(s), "commit");
            }
            check(s, lw_store_begin(s), "begin");
        }
        for (k = 0; k < n; k++) {
            uint32_t tid = (uint32_t)zipf_draw(&zt);
            /* Hot templates come from many sources, tail templates from a few. */
            uint32_t src = tid < 200 ? (uint32_t)zipf_draw(&zs)
                                     : (tid * 7 + (uint32_t)(rnd() % 3)) % n_src;

            /* Cells are merged in rounds of 4096, so a busy window needs no more room. */
            cells[n_cells].tid = tid;
            cells[n_cells].src = src;
            cells[n_cells].n = 1;
            n_cells++;
            levels[tid % 50 == 0 ? 5 : tid % 9 == 0 ? 4 : 2]++;
            if (n_cells == 4096 || k == n - 1) {
                size_t m = 0;

                qsort(cells, n_cells, sizeof(*cells), cell_cmp);
                for (c = 0; c < n_cells; c++) {
                    if (m > 0 && cells[m - 1].tid == cells[c].tid &&
                        cells[m - 1].src == cells[c].src) {
                        cells[m - 1].n += cells[c].n;
                    }
                    else {
                        cells[m++] = cells[c];
                    }
                }
                for (c = 0; c < m; c++) {
                    uint32_t t = cells[c].tid;

                    snprintf(src_name, sizeof(src_name), "host-%03u.%s", cells[c].src,
                             services[cells[c].src % N_SVCS]);
                    check(s, lw_store_add_window_count(s, ws, t + 1, cells[c].n), "count");
                    check(s, lw_store_add_source_count(s, ws, t + 1, src_name, cells[c].n),
                          "source count");
                    tcount[t] += cells[c].n;
                    if (ws < first_ns[t]) {
                        first_ns[t] = ws;
                    }
                    if (ws > last_ns[t]) {
                        last_ns[t] = ws;
                    }
                }
                n_cells = 0;
            }
        }
        for (k = 0; k < 8; k++) {
            if (levels[k] > 0) {
                check(s, lw_store_add_level_count(s, ws, (int)k, levels[k]), "level count");
            }
        }
        written += (int64_t)n;
    }
    check(s, lw_store_add_stored_lines(s, (uint64_t)written), "stored lines");
    check(s, lw_store_commit(s), "commit");

    /* Templates (every one, also those the draw never hit) and their example lines. */
    check(s, lw_store_begin(s), "begin");
    for (i = 0; i < n_tpl; i++) {
        int e;

        if (tcount[i] == 0) {
            int64_t t = start_ns + (int64_t)(rnd() % (uint64_t)n_windows) * w;

            check(s, lw_store_add_window_count(s, t, i + 1, 1), "count");
            check(s, lw_store_add_level_count(s, t, 2, 1), "level count");
            first_ns[i] = last_ns[i] = t;
            tcount[i] = 1;
        }
        template_text(text, sizeof(text), i + 1);
        check(s, lw_store_upsert_template(s, i + 1, text, first_ns[i], last_ns[i], tcount[i]),
              "template");
        for (e = 0; e < 3; e++) {
            snprintf(buf, sizeof(buf), "2026-12-01T10:00:0%d.123Z host-%03u %s", e,
                     (i * 7) % n_src, text);
            check(s, lw_store_add_example(s, i + 1, last_ns[i], "bench", buf), "example");
        }
    }
    check(s, lw_store_commit(s), "commit");

    /* Anomalies with their alerts; incidents are (detector, template, source) triples. */
    check(s, lw_store_begin(s), "begin");
    for (written = 0; (uint64_t)written < n_anom; written++) {
        uint32_t ix = (uint32_t)zipf_draw(&zinc);
        uint64_t h = (uint64_t)(ix + 1) * 0x9E3779B97F4A7C15ULL;
        struct lw_store_anomaly an;
        struct lw_store_alert al;
        char summary[256], expl[256], samples[512];
        int64_t id = 0;
        uint32_t tid = (uint32_t)(h % n_tpl) + 1;

        memset(&an, 0, sizeof(an));
        an.ts_ns = start_ns + (int64_t)(rnd() % (uint64_t)n_windows) * w;
        an.detector = detectors[(h >> 20) % N_DETS];
        an.kind = kinds[(h >> 20) % N_DETS];
        an.score = 3.0 + rnd01() * 20.0;
        an.template_id = tid;
        snprintf(src_name, sizeof(src_name), "host-%03u.%s", (uint32_t)((h >> 30) % n_src),
                 services[((h >> 30) % n_src) % N_SVCS]);
        an.source = src_name;
        snprintf(summary, sizeof(summary), "%s: template %u on %s at %.1f times its usual rate",
                 an.detector, tid, src_name, an.score);
        an.summary = summary;
        snprintf(expl, sizeof(expl),
                 "{\"observed\":%d,\"expected\":%.1f,\"window_s\":10,\"z\":%.2f}",
                 (int)(an.score * 10), an.score, an.score);
        an.explanation_json = expl;
        template_text(text, sizeof(text), tid);
        snprintf(samples, sizeof(samples), "[\"%s\"]", text);
        an.samples_json = samples;
        check(s, lw_store_insert_anomaly(s, &an, &id), "anomaly");
        memset(&al, 0, sizeof(al));
        al.anomaly_id = id;
        snprintf(inc, sizeof(inc), "inc-%016" PRIx64, h);
        al.incident = inc;
        al.severity = an.score > 18 ? "critical" : "warning";
        /* A few alerts were muted by rules or rate limited. */
        al.state = rnd() % 20 == 0 ? "muted" : "sent";
        al.created_ns = an.ts_ns + 15 * NS;
        al.sent_ns = al.created_ns + NS / 10;
        al.sink = "webhook";
        check(s, lw_store_insert_alert(s, &al, NULL), "alert");
    }
    check(s, lw_store_commit(s), "commit");
    /*
     * What the daemon's periodic prune does over time: roll the hours up (a day per call), so
     * the store looks like one that has been running for the whole period.
     */
    for (i = 0; i < days + 2; i++) {
        check(s, lw_store_prune(s, end_ns, NULL), "prune");
    }
    lw_store_close(s);
    free(zt.cdf);
    free(zs.cdf);
    free(zinc.cdf);
    free(cells);
    free(first_ns);
    free(last_ns);
    free(tcount);
    printf("api_storegen: %s: %" PRIu64 " lines in %" PRId64 " windows, %u templates, %u sources,"
           " %" PRIu64 " anomalies\n",
           dir, lines, n_windows, n_tpl, n_src, n_anom);
    return 0;
}
