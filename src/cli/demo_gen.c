/*
 * The log simulator behind `logwarden demo`. Several made-up systems write into one stream,
 * interleaved by simulated time: an HDFS-like cluster whose block ids form per-block sessions, an
 * sshd auth log, a web/API server, a JSON-lines microservice, a kernel/syslog stream and a
 * heartbeat per host. Everything is driven by one seeded splitmix64 generator and a min-heap of
 * timed events, so the same seed always gives the same bytes.
 *
 * Each event writes at most one line, which lets the caller stop at exactly n_lines. Anomalies
 * are injected at seeded line counts (every kind at least once per 50,000 lines) and recorded
 * with the line that shows them, so a detector's findings can be scored against the truth.
 * All log text here is written for this program; none of it is copied from a real data set.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/demo.h"
#include "lw/lw_mem.h"

/* ------------------------------------------------------------------------------------------ */
/* Random numbers: splitmix64, small and good enough for a simulator.                          */
/* ------------------------------------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(rnd(s) % n);
}

static double rnd_unit(uint64_t *s)
{
    return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Exponential gap with mean @mean_ms (Poisson arrivals), at least 1 ms. */
static uint64_t rnd_gap_ms(uint64_t *s, double mean_ms)
{
    double g = -log(1.0 - rnd_unit(s)) * mean_ms;

    return g < 1.0 ? 1 : (uint64_t)g;
}

/* Log-normal-ish latency around @median_ms (sum of uniforms as the normal). */
static uint32_t rnd_latency(uint64_t *s, double median_ms)
{
    double n = rnd_unit(s) + rnd_unit(s) + rnd_unit(s) + rnd_unit(s) - 2.0;
    double v = median_ms * exp(0.6 * n);

    return v < 1.0 ? 1 : (uint32_t)v;
}

/* ------------------------------------------------------------------------------------------ */
/* The simulated world.                                                                        */
/* ------------------------------------------------------------------------------------------ */

enum host_role { ROLE_DN, ROLE_NN, ROLE_GW, ROLE_API, ROLE_SVC, ROLE_NODE };

struct host {
    const char *name;
    enum host_role role;
    char ip[16];
    uint32_t agent_pid;      /* pid of the heartbeat agent */
    uint64_t hb_seq;         /* heartbeats sent */
    uint64_t last_hb_line;   /* line number of the last heartbeat, 0 if none yet */
    uint64_t silent_until;   /* no heartbeat before this time (ms) */
    uint64_t boot_ms;        /* simulated boot time, for kernel uptimes */
};

static const char *const host_names[] = {
    "dn-01", "dn-02", "dn-03", "dn-04", "dn-05", "dn-06", "nn-01", "gw-01", "gw-02",
    "api-01", "api-02", "api-03", "orders-01", "payments-01", "node-01", "node-02", "node-03",
};
static const enum host_role host_roles[] = {
    ROLE_DN, ROLE_DN, ROLE_DN, ROLE_DN, ROLE_DN, ROLE_DN, ROLE_NN, ROLE_GW, ROLE_GW,
    ROLE_API, ROLE_API, ROLE_API, ROLE_SVC, ROLE_SVC, ROLE_NODE, ROLE_NODE, ROLE_NODE,
};
#define N_HOSTS (sizeof(host_names) / sizeof(host_names[0]))
#define N_DN    6u

/* Steps of an HDFS block session. */
enum blk_op {
    OP_ALLOC, OP_RECEIVING, OP_RECEIVED, OP_PR_TERM, OP_ADDSTORED, OP_VERIFY, OP_INVALIDATE,
    OP_DELETING, OP_EXC_WRITE, OP_EXC_PR, OP_EXC_RECV,
};

#define MAX_STEPS 24

struct blk_step {
    uint8_t op;
    uint8_t dn;              /* datanode index */
    uint8_t truth;           /* 0, or the broken-session variant to record at this step */
    uint32_t delay_ms;       /* after the previous step */
};

struct session {
    int64_t blk;             /* block id, printed as blk_%lld */
    uint32_t task;           /* map task number in the file path */
    uint32_t size;           /* block size, bytes */
    uint8_t n_steps;
    uint8_t next;            /* step to write next */
    struct blk_step steps[MAX_STEPS];
    int next_free;           /* free-list link, -1 at the end */
};

enum ev_type { EV_HB, EV_SRC, EV_BLOCK, EV_BURST };
enum src_kind { SRC_HDFS, SRC_SSH, SRC_WEB, SRC_JSON, SRC_KERN, N_SRC };

/* Mean gap between events of each source, ms: about 180 lines per simulated second in all. */
#define PREROLL_MS 120000ull         /* block sessions simulated before the first line */
static const double src_mean_ms[N_SRC] = {140.0, 220.0, 17.0, 34.0, 350.0};

struct event {
    uint64_t t_ms;
    uint64_t seq;            /* tie-break: equal times keep insertion order (determinism) */
    uint8_t type;
    uint32_t idx;
};

enum anomaly_kind {
    AN_NEW_TEMPLATE, AN_SSH_BURST, AN_SILENT_HB, AN_BROKEN_SESSION, AN_LATENCY, N_AN,
};
static const char *const anomaly_names[N_AN] = {
    "new_template", "ssh_burst", "silent_heartbeat", "broken_session", "latency_outlier",
};

struct truth {
    uint64_t line;
    uint8_t kind;
    char desc[160];
};

#define MAX_SESSIONS 2048
#define BURST_LINES  50

struct lw_demo {
    struct lw_demo_conf conf;
    FILE *out;
    uint64_t rng;
    uint64_t line_no;                /* lines written */
    uint64_t now_ms;                 /* simulated clock, ms since the epoch */
    bool prerolled;                  /* the simulation ran up to the start (preroll()) */
    uint64_t seq;

    struct event *heap;
    size_t n_heap;
    size_t heap_cap;

    struct host hosts[N_HOSTS];
    struct session sessions[MAX_SESSIONS];
    int free_session;

    /* Anomaly scheduling. */
    uint64_t next_anomaly[N_AN];     /* line count at which each kind fires next */
    int want_broken;                 /* the next block session is broken */
    int want_outlier;                /* the next API request is an outlier */
    uint32_t template_idx;           /* rotation over the never-seen templates */
    char burst_ip[16];
    uint32_t burst_left;
    uint32_t burst_pid;
    uint8_t burst_gw;

    struct truth *truth;
    size_t n_truth;
    size_t truth_cap;

    /* Time strings of the current second, rebuilt when the second changes. */
    int64_t tc_sec;
    char tc_iso[64];                 /* 2026-01-01T00:00:10 */
    char tc_sys[64];                 /* Jan  1 00:00:10 */
    char tc_hdfs[64];                /* 260101 000010 */
};

/* ------------------------------------------------------------------------------------------ */
/* Event heap.                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int ev_less(const struct event *a, const struct event *b)
{
    return a->t_ms < b->t_ms || (a->t_ms == b->t_ms && a->seq < b->seq);
}

static int push(struct lw_demo *d, uint64_t t_ms, enum ev_type type, uint32_t idx)
{
    struct event e;
    struct event *nh;
    size_t i, parent;

    if (d->n_heap == d->heap_cap) {
        d->heap_cap = d->heap_cap ? d->heap_cap * 2 : 256;
        nh = lw_realloc(d->heap, d->heap_cap * sizeof(*nh));
        if (nh == NULL) {
            return -1;
        }
        d->heap = nh;
    }
    e.t_ms = t_ms;
    e.seq = d->seq++;
    e.type = (uint8_t)type;
    e.idx = idx;
    i = d->n_heap++;
    while (i > 0) {
        parent = (i - 1) / 2;
        if (!ev_less(&e, &d->heap[parent])) {
            break;
        }
        d->heap[i] = d->heap[parent];
        i = parent;
    }
    d->heap[i] = e;
    return 0;
}

static struct event pop(struct lw_demo *d)
{
    struct event top = d->heap[0];
    struct event last = d->heap[--d->n_heap];
    size_t i = 0, child;

    while ((child = 2 * i + 1) < d->n_heap) {
        if (child + 1 < d->n_heap && ev_less(&d->heap[child + 1], &d->heap[child])) {
            child++;
        }
        if (!ev_less(&d->heap[child], &last)) {
            break;
        }
        d->heap[i] = d->heap[child];
        i = child;
    }
    if (d->n_heap > 0) {
        d->heap[i] = last;
    }
    return top;
}

/* ------------------------------------------------------------------------------------------ */
/* Output helpers.                                                                             */
/* ------------------------------------------------------------------------------------------ */

static void time_cache(struct lw_demo *d)
{
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t sec = (int64_t)(d->now_ms / 1000);
    time_t tt = (time_t)sec;
    struct tm tm;

    if (sec == d->tc_sec) {
        return;
    }
    d->tc_sec = sec;
    gmtime_r(&tt, &tm);
    snprintf(d->tc_iso, sizeof(d->tc_iso), "%04d-%02d-%02dT%02d:%02d:%02d",
             (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    snprintf(d->tc_sys, sizeof(d->tc_sys), "%s %2d %02d:%02d:%02d", mon[tm.tm_mon % 12],
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    snprintf(d->tc_hdfs, sizeof(d->tc_hdfs), "%02d%02d%02d %02d%02d%02d", tm.tm_year % 100,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static unsigned ms_part(const struct lw_demo *d)
{
    return (unsigned)(d->now_ms % 1000);
}

static void truth_add(struct lw_demo *d, enum anomaly_kind kind, uint64_t line, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void truth_add(struct lw_demo *d, enum anomaly_kind kind, uint64_t line, const char *fmt,
                      ...)
{
    struct truth *nt;
    va_list ap;

    if (d->n_truth == d->truth_cap) {
        d->truth_cap = d->truth_cap ? d->truth_cap * 2 : 32;
        nt = lw_realloc(d->truth, d->truth_cap * sizeof(*nt));
        if (nt == NULL) {
            d->truth_cap = d->n_truth;
            return; /* the truth file is best effort; the log itself is complete */
        }
        d->truth = nt;
    }
    nt = &d->truth[d->n_truth++];
    nt->line = line;
    nt->kind = (uint8_t)kind;
    va_start(ap, fmt);
    vsnprintf(nt->desc, sizeof(nt->desc), fmt, ap);
    va_end(ap);
}

/* A syslog (RFC 3164 style) line prefix: "Jan  1 00:00:10 host ". */
static void sys_prefix(struct lw_demo *d, const struct host *h)
{
    time_cache(d);
    fprintf(d->out, "%s %s ", d->tc_sys, h->name);
}

static void hdfs_prefix(struct lw_demo *d, const char *level)
{
    time_cache(d);
    fprintf(d->out, "%s %u %s ", d->tc_hdfs, 1 + rnd_below(&d->rng, 3000), level);
}

static void random_ip(struct lw_demo *d, char *ip, size_t len, int external)
{
    if (external) {
        static const char *const nets[] = {"198.51.100.", "203.0.113.", "192.0.2."};

        snprintf(ip, len, "%s%u", nets[rnd_below(&d->rng, 3)], 1 + rnd_below(&d->rng, 254));
    }
    else {
        snprintf(ip, len, "10.0.%u.%u", rnd_below(&d->rng, 8), 2 + rnd_below(&d->rng, 250));
    }
}

/* ------------------------------------------------------------------------------------------ */
/* HDFS-like block sessions.                                                                   */
/* ------------------------------------------------------------------------------------------ */

static void add_step(struct session *s, enum blk_op op, uint8_t dn, uint32_t delay_ms)
{
    if (s->n_steps < MAX_STEPS) {
        s->steps[s->n_steps].op = (uint8_t)op;
        s->steps[s->n_steps].dn = dn;
        s->steps[s->n_steps].truth = 0;
        s->steps[s->n_steps].delay_ms = delay_ms;
        s->n_steps++;
    }
}

/*
 * Plans a block's life: allocate, three replicas receiving, received + PacketResponder
 * terminating per replica, addStoredBlock per replica, then sometimes a verification and
 * sometimes a deletion much later. A broken session (variant 1..3) ends with an exception,
 * misorders received/receiving, or stops before its replicas are stored.
 */
static void plan_session(struct lw_demo *d, struct session *s, int broken)
{
    uint64_t *r = &d->rng;
    uint8_t dn[3];
    uint32_t i, j;

    dn[0] = (uint8_t)rnd_below(r, N_DN);
    dn[1] = (uint8_t)((dn[0] + 1 + rnd_below(r, N_DN - 1)) % N_DN);
    do {
        dn[2] = (uint8_t)rnd_below(r, N_DN);
    } while (dn[2] == dn[0] || dn[2] == dn[1]);
    s->n_steps = 0;
    s->next = 0;
    add_step(s, OP_ALLOC, dn[0], 0);
    if (broken == 2) {
        /* Received before the block was ever being received: out of order. */
        add_step(s, OP_RECEIVED, dn[0], 5 + rnd_below(r, 40));
        s->steps[s->n_steps - 1].truth = 2;
    }
    for (i = 0; i < 3; i++) {
        add_step(s, OP_RECEIVING, dn[i], 1 + rnd_below(r, 30));
    }
    if (broken == 1) {
        add_step(s, OP_EXC_WRITE, dn[1], 200 + rnd_below(r, 3000));
        s->steps[s->n_steps - 1].truth = 1;
        add_step(s, OP_EXC_PR, dn[0], 1 + rnd_below(r, 20));
        add_step(s, OP_EXC_RECV, dn[2], 1 + rnd_below(r, 20));
        return;
    }
    for (i = 0; i < 3; i++) {
        j = 2 - i; /* the pipeline's last datanode finishes first */
        if (!(broken == 2 && j == 0)) {
            add_step(s, OP_RECEIVED, dn[j], (i == 0 ? 300 + rnd_below(r, 2500) : 0) +
                                                   rnd_below(r, 15));
        }
        if (broken != 3) {
            add_step(s, OP_PR_TERM, dn[j], rnd_below(r, 5));
        }
    }
    if (broken == 3) {
        /* Neither PacketResponder terminating nor addStoredBlock: the session just stops. */
        s->steps[s->n_steps - 1].truth = 3;
        return;
    }
    for (i = 0; i < 3; i++) {
        add_step(s, OP_ADDSTORED, dn[i], 1 + rnd_below(r, 60));
    }
    if (broken != 0) {
        return;
    }
    if (rnd_below(r, 100) < 30) {
        add_step(s, OP_VERIFY, dn[rnd_below(r, 3)], 5000 + rnd_below(r, 55000));
    }
    if (rnd_below(r, 100) < 20) {
        uint32_t later = 10000 + rnd_below(r, 110000);

        for (i = 0; i < 3; i++) {
            add_step(s, OP_INVALIDATE, dn[i], i == 0 ? later : rnd_below(r, 3));
        }
        for (i = 0; i < 3; i++) {
            add_step(s, OP_DELETING, dn[i], 500 + rnd_below(r, 4000));
        }
    }
}

static const char *const broken_what[] = {
    "", "block session ends with a write exception", "received logged before receiving",
    "session stops before PacketResponder terminating and addStoredBlock",
};

static void write_step(struct lw_demo *d, struct session *s, const struct blk_step *st)
{
    const struct host *h = &d->hosts[st->dn];
    uint64_t *r = &d->rng;
    long long blk = (long long)s->blk;

    switch ((enum blk_op)st->op) {
    case OP_ALLOC:
        hdfs_prefix(d, "INFO");
        fprintf(d->out,
                "dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/etl/ingest/_temporary/"
                "_task_202601010000_0007_m_%06u_0/part-%05u. blk_%lld\n",
                s->task, s->task, blk);
        break;
    case OP_RECEIVING:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.DataNode$DataXceiver: Receiving block blk_%lld src: /%s:%u dest: "
                        "/%s:50010\n",
                blk, d->hosts[s->steps[1].dn].ip, 40000 + rnd_below(r, 25000), h->ip);
        break;
    case OP_RECEIVED:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.DataNode$PacketResponder: Received block blk_%lld of size %u from "
                        "/%s\n",
                blk, s->size, h->ip);
        break;
    case OP_PR_TERM:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.DataNode$PacketResponder: PacketResponder %u for block blk_%lld "
                        "terminating\n",
                rnd_below(r, 3), blk);
        break;
    case OP_ADDSTORED:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: "
                        "%s:50010 is added to blk_%lld size %u\n",
                h->ip, blk, s->size);
        break;
    case OP_VERIFY:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.DataBlockScanner: Verification succeeded for blk_%lld\n", blk);
        break;
    case OP_INVALIDATE:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.FSNamesystem: BLOCK* NameSystem.delete: blk_%lld is added to "
                        "invalidSet of %s:50010\n",
                blk, h->ip);
        break;
    case OP_DELETING:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.FSDataset: Deleting block blk_%lld file /data/%u/dfs/current/"
                        "subdir%u/blk_%lld\n",
                blk, 1 + rnd_below(r, 4), rnd_below(r, 64), blk);
        break;
    case OP_EXC_WRITE:
        hdfs_prefix(d, "WARN");
        fprintf(d->out, "dfs.DataNode$DataXceiver: %s:50010:Got exception while serving "
                        "blk_%lld to /%s: java.io.IOException: Connection reset by peer\n",
                h->ip, blk, d->hosts[s->steps[1].dn].ip);
        break;
    case OP_EXC_PR:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.DataNode$PacketResponder: PacketResponder blk_%lld 1 Exception "
                        "java.io.EOFException\n",
                blk);
        break;
    case OP_EXC_RECV:
        hdfs_prefix(d, "INFO");
        fprintf(d->out, "dfs.DataNode$DataXceiver: Exception in receiveBlock for block "
                        "blk_%lld java.io.IOException: Broken pipe\n",
                blk);
        break;
    }
    d->line_no++;
    if (st->truth != 0) {
        truth_add(d, AN_BROKEN_SESSION, d->line_no, "key=blk_%lld %s", blk,
                  broken_what[st->truth]);
    }
}

static int new_session(struct lw_demo *d)
{
    struct session *s;
    int idx = d->free_session;
    int broken = 0;

    if (idx < 0) {
        return -1; /* all slots busy: skip this block (rare; a slot frees within minutes) */
    }
    s = &d->sessions[idx];
    d->free_session = s->next_free;
    do {
        s->blk = (int64_t)rnd(&d->rng);
    } while (s->blk == INT64_MIN || s->blk == 0);
    s->task = rnd_below(&d->rng, 2000);
    s->size = rnd_below(&d->rng, 100) < 85 ? 67108864u : 1024u + rnd_below(&d->rng, 67000000);
    if (d->want_broken) {
        d->want_broken = 0;
        broken = 1 + (int)rnd_below(&d->rng, 3);
    }
    plan_session(d, s, broken);
    return idx;
}

/* Writes the session's next step and schedules the one after, or frees the slot. */
static int block_step(struct lw_demo *d, uint32_t idx)
{
    struct session *s = &d->sessions[idx];

    write_step(d, s, &s->steps[s->next]);
    s->next++;
    if (s->next < s->n_steps) {
        return push(d, d->now_ms + s->steps[s->next].delay_ms, EV_BLOCK, idx);
    }
    s->next_free = d->free_session;
    d->free_session = (int)idx;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* The other systems.                                                                          */
/* ------------------------------------------------------------------------------------------ */

static const char *const users[] = {"alice", "bob", "carol", "deploy", "git", "ci", "backup"};
static const char *const bad_users[] = {"admin", "test", "oracle", "ubuntu", "user", "pi"};

static void write_ssh(struct lw_demo *d)
{
    uint64_t *r = &d->rng;
    const struct host *h = &d->hosts[7 + rnd_below(r, 2)];
    uint32_t pid = 1000 + rnd_below(r, 64000);
    uint32_t port = 32768 + rnd_below(r, 28000);
    const char *u = users[rnd_below(r, 7)];
    char ip[16];
    uint32_t k = rnd_below(r, 100);

    random_ip(d, ip, sizeof(ip), k >= 70);
    sys_prefix(d, h);
    if (k < 30) {
        fprintf(d->out, "sshd[%u]: Accepted publickey for %s from %s port %u ssh2: "
                        "ED25519 SHA256:%08llx\n",
                pid, u, ip, port, (unsigned long long)(rnd(r) & 0xffffffffull));
    }
    else if (k < 40) {
        fprintf(d->out, "sshd[%u]: Accepted password for %s from %s port %u ssh2\n", pid, u, ip,
                port);
    }
    else if (k < 55) {
        fprintf(d->out, "sshd[%u]: pam_unix(sshd:session): session opened for user %s by "
                        "(uid=0)\n",
                pid, u);
    }
    else if (k < 70) {
        fprintf(d->out, "sshd[%u]: Received disconnect from %s port %u:11: disconnected by "
                        "user\n",
                pid, ip, port);
    }
    else if (k < 80) {
        fprintf(d->out, "sshd[%u]: Invalid user %s from %s port %u\n", pid,
                bad_users[rnd_below(r, 6)], ip, port);
    }
    else if (k < 88) {
        fprintf(d->out, "sshd[%u]: Failed password for root from %s port %u ssh2\n", pid, ip,
                port);
    }
    else if (k < 94) {
        fprintf(d->out, "sshd[%u]: Failed password for invalid user %s from %s port %u ssh2\n",
                pid, bad_users[rnd_below(r, 6)], ip, port);
    }
    else {
        fprintf(d->out, "sshd[%u]: Connection closed by authenticating user root %s port %u "
                        "[preauth]\n",
                pid, ip, port);
    }
    d->line_no++;
}

struct endpoint {
    const char *method;
    const char *prefix;      /* path before the id */
    const char *suffix;      /* path after the id; NULL: the path has no id */
    double median_ms;
};

static const struct endpoint endpoints[] = {
    {"GET", "/api/v1/orders/", "", 18.0},      {"POST", "/api/v1/orders", NULL, 45.0},
    {"GET", "/api/v1/users/", "", 12.0},       {"GET", "/api/v1/search?q=item", "", 80.0},
    {"PUT", "/api/v1/cart/", "", 30.0},        {"GET", "/healthz", NULL, 2.0},
    {"GET", "/api/v1/products/", "", 15.0},    {"DELETE", "/api/v1/cart/", "/items", 25.0},
};
#define N_ENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

static void write_web(struct lw_demo *d)
{
    uint64_t *r = &d->rng;
    const struct host *h = &d->hosts[9 + rnd_below(r, 3)];
    const struct endpoint *ep = &endpoints[rnd_below(r, N_ENDPOINTS)];
    unsigned long long req = (unsigned long long)rnd(r);
    uint32_t k = rnd_below(r, 1000);
    uint32_t status, lat;
    const char *level;
    char path[64];

    time_cache(d);
    if (k < 40) {
        fprintf(d->out, "%s.%03uZ DEBUG %s [pool] db connections active=%u idle=%u "
                        "waiting=0\n",
                d->tc_iso, ms_part(d), h->name, 2 + rnd_below(r, 20), rnd_below(r, 8));
        d->line_no++;
        return;
    }
    if (k < 50) {
        fprintf(d->out, "%s.%03uZ INFO %s [cache] evicted %u entries, hit ratio %u.%02u\n",
                d->tc_iso, ms_part(d), h->name, 10 + rnd_below(r, 500), 0, 80 + rnd_below(r, 19));
        d->line_no++;
        return;
    }
    if (ep->suffix != NULL) {
        snprintf(path, sizeof(path), "%s%u%s", ep->prefix, 1 + rnd_below(r, 99999), ep->suffix);
    }
    else {
        snprintf(path, sizeof(path), "%s", ep->prefix);
    }
    k = rnd_below(r, 1000);
    status = k < 900 ? (ep->method[0] == 'P' && ep->method[1] == 'O' ? 201 : 200)
             : k < 930 ? 304
             : k < 960 ? 404
             : k < 980 ? 400
             : k < 995 ? 401
                       : 500;
    if (status == 304 && strcmp(ep->method, "GET") != 0) {
        status = 200; /* "not modified" only answers conditional GETs */
    }
    lat = rnd_latency(r, ep->median_ms);
    if (d->want_outlier && status < 300) {
        /* 100x to 300x the endpoint's median: what a latency detector must flag. */
        d->want_outlier = 0;
        lat = (uint32_t)(ep->median_ms * (100.0 + 200.0 * rnd_unit(r)));
        fprintf(d->out, "%s.%03uZ INFO %s [req-%016llx] \"%s %s\" %u %ums %uB\n", d->tc_iso,
                ms_part(d), h->name, req, ep->method, path, status, lat, 200 + rnd_below(r, 5000));
        d->line_no++;
        truth_add(d, AN_LATENCY, d->line_no, "key=req-%016llx %s %s took %u ms (median %.0f ms)",
                  req, ep->method, path, lat, ep->median_ms);
        return;
    }
    level = status >= 500 ? "ERROR" : status >= 400 ? "WARN" : "INFO";
    fprintf(d->out, "%s.%03uZ %s %s [req-%016llx] \"%s %s\" %u %ums %uB\n", d->tc_iso, ms_part(d),
            level, h->name, req, ep->method, path, status, lat, 200 + rnd_below(r, 5000));
    d->line_no++;
}

static void write_json(struct lw_demo *d)
{
    uint64_t *r = &d->rng;
    uint32_t svc = rnd_below(r, 2);
    const struct host *h = &d->hosts[12 + svc];
    unsigned long long trace = (unsigned long long)rnd(r);
    uint32_t k = rnd_below(r, 100);

    time_cache(d);
    fprintf(d->out, "{\"ts\":\"%s.%03uZ\",", d->tc_iso, ms_part(d));
    if (svc == 0) {
        if (k < 40) {
            fprintf(d->out, "\"level\":\"info\",\"service\":\"orders\",\"host\":\"%s\","
                            "\"trace_id\":\"%016llx\",\"msg\":\"order created\",\"order_id\":%u,"
                            "\"items\":%u,\"latency_ms\":%u}\n",
                    h->name, trace, 100000 + rnd_below(r, 900000), 1 + rnd_below(r, 9),
                    rnd_latency(r, 35.0));
        }
        else if (k < 70) {
            fprintf(d->out, "\"level\":\"info\",\"service\":\"orders\",\"host\":\"%s\","
                            "\"trace_id\":\"%016llx\",\"msg\":\"inventory reserved\",\"sku\":"
                            "\"SKU-%05u\",\"qty\":%u}\n",
                    h->name, trace, rnd_below(r, 50000), 1 + rnd_below(r, 5));
        }
        else if (k < 92) {
            fprintf(d->out, "\"level\":\"debug\",\"service\":\"orders\",\"host\":\"%s\","
                            "\"trace_id\":\"%016llx\",\"msg\":\"cache miss\",\"key\":"
                            "\"customer:%u\"}\n",
                    h->name, trace, rnd_below(r, 100000));
        }
        else {
            fprintf(d->out, "\"level\":\"warn\",\"service\":\"orders\",\"host\":\"%s\","
                            "\"trace_id\":\"%016llx\",\"msg\":\"retrying upstream call\","
                            "\"upstream\":\"inventory\",\"attempt\":%u}\n",
                    h->name, trace, 1 + rnd_below(r, 3));
        }
    }
    else {
        if (k < 55) {
            fprintf(d->out, "\"level\":\"info\",\"service\":\"payments\",\"host\":\"%s\","
                            "\"trace_id\":\"%016llx\",\"msg\":\"payment authorized\","
                            "\"amount_cents\":%u,\"currency\":\"EUR\",\"latency_ms\":%u}\n",
                    h->name, trace, 100 + rnd_below(r, 50000), rnd_latency(r, 120.0));
        }
        else if (k < 90) {
            fprintf(d->out, "\"level\":\"info\",\"service\":\"payments\",\"host\":\"%s\","
                            "\"trace_id\":\"%016llx\",\"msg\":\"webhook delivered\","
                            "\"endpoint\":\"merchant-%u\",\"status\":200}\n",
                    h->name, trace, rnd_below(r, 300));
        }
        else {
            fprintf(d->out, "\"level\":\"warn\",\"service\":\"payments\",\"host\":\"%s\","
                            "\"trace_id\":\"%016llx\",\"msg\":\"card declined\",\"reason\":"
                            "\"insufficient_funds\"}\n",
                    h->name, trace);
        }
    }
    d->line_no++;
}

static void write_kern(struct lw_demo *d)
{
    uint64_t *r = &d->rng;
    const struct host *h = &d->hosts[14 + rnd_below(r, 3)];
    uint64_t up_ms = d->now_ms - h->boot_ms;
    uint32_t k = rnd_below(r, 100);

    sys_prefix(d, h);
    if (k < 20) {
        fprintf(d->out, "kernel: [%6llu.%06u] eth0: renamed from veth%07x\n",
                (unsigned long long)(up_ms / 1000), (unsigned)(up_ms % 1000) * 1000 +
                                                        rnd_below(r, 1000),
                rnd_below(r, 0xfffffff));
    }
    else if (k < 35) {
        fprintf(d->out, "kernel: [%6llu.%06u] IPv6: ADDRCONF(NETDEV_CHANGE): veth%07x: link "
                        "becomes ready\n",
                (unsigned long long)(up_ms / 1000),
                (unsigned)(up_ms % 1000) * 1000 + rnd_below(r, 1000), rnd_below(r, 0xfffffff));
    }
    else if (k < 60) {
        fprintf(d->out, "CRON[%u]: (root) CMD (/usr/lib/sysstat/sa1 1 1)\n",
                1000 + rnd_below(r, 60000));
    }
    else if (k < 80) {
        fprintf(d->out, "systemd[1]: Started Session %u of user %s.\n", 1 + rnd_below(r, 5000),
                users[rnd_below(r, 7)]);
    }
    else if (k < 90) {
        fprintf(d->out, "systemd[1]: logrotate.service: Succeeded.\n");
    }
    else {
        fprintf(d->out, "dhclient[%u]: DHCPACK of 10.0.%u.%u from 10.0.0.1\n",
                300 + rnd_below(r, 600), rnd_below(r, 8), 2 + rnd_below(r, 250));
    }
    d->line_no++;
}

static void write_heartbeat(struct lw_demo *d, struct host *h)
{
    sys_prefix(d, h);
    h->hb_seq++;
    fprintf(d->out, "lw-agent[%u]: heartbeat seq=%llu uptime=%llus load=%u.%02u\n",
            h->agent_pid, (unsigned long long)h->hb_seq,
            (unsigned long long)((d->now_ms - h->boot_ms) / 1000), rnd_below(&d->rng, 4),
            rnd_below(&d->rng, 100));
    d->line_no++;
    h->last_hb_line = d->line_no;
}

/* ------------------------------------------------------------------------------------------ */
/* Anomalies.                                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Error templates no normal line ever uses; each anomaly writes the next one in turn. */
static void write_new_template(struct lw_demo *d)
{
    uint64_t *r = &d->rng;
    const struct host *h;
    uint32_t which = d->template_idx++ % 8;

    switch (which) {
    case 0:
        hdfs_prefix(d, "ERROR");
        fprintf(d->out, "dfs.DataNode: java.io.IOException: Disk quota exceeded on volume "
                        "/data/%u\n",
                1 + rnd_below(r, 4));
        d->line_no++;
        truth_add(d, AN_NEW_TEMPLATE, d->line_no, "key=Disk quota exceeded %s",
                  "never-seen HDFS error");
        break;
    case 1:
        h = &d->hosts[9 + rnd_below(r, 3)];
        time_cache(d);
        fprintf(d->out, "%s.%03uZ ERROR %s [tls] handshake with billing.internal:443 failed: "
                        "certificate has expired\n",
                d->tc_iso, ms_part(d), h->name);
        d->line_no++;
        truth_add(d, AN_NEW_TEMPLATE, d->line_no, "key=certificate has expired %s",
                  "never-seen API error");
        break;
    case 2:
        h = &d->hosts[14 + rnd_below(r, 3)];
        sys_prefix(d, h);
        fprintf(d->out, "kernel: EXT4-fs error (device sdb%u): ext4_find_entry:%u: inode #%u: "
                        "comm rsync: reading directory lblock 0\n",
                1 + rnd_below(r, 3), 1400 + rnd_below(r, 99), 2 + rnd_below(r, 90000));
        d->line_no++;
        truth_add(d, AN_NEW_TEMPLATE, d->line_no, "key=EXT4-fs error %s",
                  "never-seen kernel error");
        break;
    case 3:
        time_cache(d);
        fprintf(d->out, "{\"ts\":\"%s.%03uZ\",\"level\":\"error\",\"service\":\"orders\","
                        "\"host\":\"orders-01\",\"msg\":\"schema migration checksum mismatch\","
                        "\"migration\":\"%04u_add_index\"}\n",
                d->tc_iso, ms_part(d), 1 + rnd_below(r, 99));
        d->line_no++;
        truth_add(d, AN_NEW_TEMPLATE, d->line_no, "key=checksum mismatch %s",
                  "never-seen service error");
        break;
    case 4:
        h = &d->hosts[7 + rnd_below(r, 2)];
        sys_prefix(d, h);
        fprintf(d->out, "sshd[%u]: fatal: mm_request_receive: read: Connection reset by peer\n",
                1000 + rnd_below(r, 64000));
        d->line_no++;
        truth_add(d, AN_NEW_TEMPLATE, d->line_no, "key=mm_request_receive %s",
                  "never-seen sshd fatal error");
        break;
    case 5:
        h = &d->hosts[14 + rnd_below(r, 3)];
        sys_prefix(d, h);
        fprintf(d->out, "kernel: nvme nvme%u: I/O %u QID %u timeout, aborting\n",
                rnd_below(r, 2), rnd_below(r, 1024), 1 + rnd_below(r, 8));
        d->line_no++;
        truth_add(d, AN_NEW_TEMPLATE, d->line_no, "key=timeout, aborting %s",
                  "never-seen NVMe timeout");
        break;
    case 6:
        hdfs_prefix(d, "FATAL");
        fprintf(d->out, "dfs.FSNamesystem: Edit log journal %u is out of sync with the "
                        "standby\n",
                rnd_below(r, 9));
        d->line_no++;
        truth_add(d, AN_NEW_TEMPLATE, d->line_no, "key=out of sync %s",
                  "never-seen namenode fatal");
        break;
    default:
        time_cache(d);
        fprintf(d->out, "{\"ts\":\"%s.%03uZ\",\"level\":\"error\",\"service\":\"payments\","
                        "\"host\":\"payments-01\",\"msg\":\"ledger balance negative\","
                        "\"account\":%u}\n",
                d->tc_iso, ms_part(d), rnd_below(r, 100000));
        d->line_no++;
        truth_add(d, AN_NEW_TEMPLATE, d->line_no, "key=ledger balance negative %s",
                  "never-seen payments error");
        break;
    }
}

static void write_burst(struct lw_demo *d)
{
    const struct host *h = &d->hosts[7 + d->burst_gw];

    sys_prefix(d, h);
    fprintf(d->out, "sshd[%u]: Failed password for %s from %s port %u ssh2\n",
            d->burst_pid + (BURST_LINES - d->burst_left), bad_users[rnd_below(&d->rng, 6)],
            d->burst_ip, 32768 + rnd_below(&d->rng, 28000));
    d->line_no++;
    if (d->burst_left == BURST_LINES) {
        truth_add(d, AN_SSH_BURST, d->line_no, "key=%s %u failed passwords within 1s on %s",
                  d->burst_ip, BURST_LINES, h->name);
    }
    d->burst_left--;
}

/* Seeded gap (in lines) to an anomaly's next occurrence: at most 30,000, so every 50,000-line
 * window holds each kind at least once. */
static uint64_t anomaly_gap(struct lw_demo *d)
{
    return 8000 + rnd_below(&d->rng, 22000);
}

/* Starts the anomalies that are due. Returns 1 when a line was written. */
static int fire_anomalies(struct lw_demo *d)
{
    uint32_t i, k;
    struct host *h;

    for (k = 0; k < N_AN; k++) {
        if (d->line_no < d->next_anomaly[k]) {
            continue;
        }
        d->next_anomaly[k] = d->line_no + anomaly_gap(d);
        switch ((enum anomaly_kind)k) {
        case AN_NEW_TEMPLATE:
            write_new_template(d);
            return 1;
        case AN_SSH_BURST:
            if (d->burst_left == 0) {
                random_ip(d, d->burst_ip, sizeof(d->burst_ip), 1);
                d->burst_left = BURST_LINES;
                d->burst_gw = (uint8_t)rnd_below(&d->rng, 2);
                d->burst_pid = 2000 + rnd_below(&d->rng, 60000);
                (void)push(d, d->now_ms + 1, EV_BURST, 0);
            }
            break;
        case AN_SILENT_HB:
            for (i = 0; i < N_HOSTS; i++) {
                h = &d->hosts[(i + rnd_below(&d->rng, N_HOSTS)) % N_HOSTS];
                if (h->last_hb_line > 0 && h->silent_until <= d->now_ms) {
                    /* Fifteen missed beats: long enough for any heartbeat detector. */
                    h->silent_until = d->now_ms + 15ull * d->conf.heartbeat_s * 1000;
                    truth_add(d, AN_SILENT_HB, h->last_hb_line,
                              "key=%s last heartbeat before %llu s of silence", h->name,
                              15ull * d->conf.heartbeat_s);
                    break;
                }
            }
            break;
        case AN_BROKEN_SESSION:
            d->want_broken = 1;
            break;
        case AN_LATENCY:
            d->want_outlier = 1;
            break;
        default:
            break;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Driver.                                                                                     */
/* ------------------------------------------------------------------------------------------ */

struct lw_demo *lw__demo_create(const struct lw_demo_conf *conf, FILE *out)
{
    struct lw_demo *d;
    struct host *h;
    uint64_t start_ms;
    uint32_t i, k;

    d = lw_calloc(1, sizeof(*d));
    if (d == NULL) {
        return NULL;
    }
    d->conf = *conf;
    if (d->conf.heartbeat_s == 0) {
        d->conf.heartbeat_s = 10;
    }
    d->out = out;
    d->rng = conf->seed;
    (void)rnd(&d->rng);
    start_ms = (uint64_t)conf->start_s * 1000;
    d->now_ms = start_ms;
    d->tc_sec = -1;
    for (i = 0; i < N_HOSTS; i++) {
        h = &d->hosts[i];
        h->name = host_names[i];
        h->role = host_roles[i];
        if (h->role == ROLE_DN || h->role == ROLE_NN) {
            /* One cluster whatever the seed: its history and its live log share addresses. */
            snprintf(h->ip, sizeof(h->ip), "10.251.%u.%u", 30 + i * 7, 10 + (i * 37 + 11) % 200);
        }
        else {
            snprintf(h->ip, sizeof(h->ip), "10.0.9.%u", 10 + i);
        }
        h->agent_pid = 300 + rnd_below(&d->rng, 3000);
        h->boot_ms = start_ms - 3600000ull * (1 + (i * 7919u + 13u) % (24u * 30u));
        /* Spread the first beats over one interval so hosts do not beat in lockstep. */
        if (push(d, start_ms + (uint64_t)i * conf->heartbeat_s * 1000 / N_HOSTS +
                        rnd_below(&d->rng, 500),
                 EV_HB, i) < 0) {
            goto fail;
        }
    }
    for (i = 0; i < MAX_SESSIONS; i++) {
        d->sessions[i].next_free = i + 1 < MAX_SESSIONS ? (int)i + 1 : -1;
    }
    d->free_session = 0;
    for (k = 0; k < N_SRC; k++) {
        uint64_t t0 = k == SRC_HDFS ? start_ms - PREROLL_MS : start_ms;

        if (push(d, t0 + rnd_gap_ms(&d->rng, src_mean_ms[k]), EV_SRC, k) < 0) {
            goto fail;
        }
    }
    for (k = 0; k < N_AN; k++) {
        d->next_anomaly[k] = conf->anomalies ? 2000 + rnd_below(&d->rng, 20000) : UINT64_MAX;
    }
    return d;
fail:
    lw__demo_destroy(d);
    return NULL;
}

/* Runs one event of the simulation (it may write lines to d->out). */
static void handle(struct lw_demo *d, struct event e)
{
    int idx;

    switch ((enum ev_type)e.type) {
    case EV_HB:
        if (d->now_ms >= d->hosts[e.idx].silent_until) {
            write_heartbeat(d, &d->hosts[e.idx]);
        }
        /* A little jitter, as real agents have. */
        (void)push(d, e.t_ms + d->conf.heartbeat_s * 1000ull - 40 + rnd_below(&d->rng, 80),
                   EV_HB, e.idx);
        break;
    case EV_BLOCK:
        (void)block_step(d, e.idx);
        break;
    case EV_BURST:
        write_burst(d);
        if (d->burst_left > 0) {
            (void)push(d, d->now_ms + 5 + rnd_below(&d->rng, 14), EV_BURST, 0);
        }
        break;
    case EV_SRC:
        switch ((enum src_kind)e.idx) {
        case SRC_HDFS:
            idx = new_session(d);
            if (idx >= 0) {
                (void)block_step(d, (uint32_t)idx);
            }
            break;
        case SRC_SSH:
            write_ssh(d);
            break;
        case SRC_WEB:
            write_web(d);
            break;
        case SRC_JSON:
            write_json(d);
            break;
        default:
            write_kern(d);
            break;
        }
        (void)push(d, d->now_ms + rnd_gap_ms(&d->rng, src_mean_ms[e.idx]), EV_SRC, e.idx);
        break;
    }
}

/*
 * The cluster was running before the log starts: block sessions are already in flight at the
 * first line (a fresh start would show no deletions or verifications for the first windows,
 * which no running system looks like). The simulation runs PREROLL_MS ahead of the start with
 * its output thrown away.
 */
static void preroll(struct lw_demo *d)
{
    FILE *out = d->out;
    FILE *null = fopen("/dev/null", "w");
    uint64_t start_ms = (uint64_t)d->conf.start_s * 1000;

    d->prerolled = true;
    if (null == NULL) {
        return;
    }
    d->out = null;
    d->now_ms = start_ms - PREROLL_MS;
    while (d->n_heap > 0 && d->heap[0].t_ms < start_ms) {
        struct event e = pop(d);

        if (e.t_ms > d->now_ms) {
            d->now_ms = e.t_ms;
        }
        handle(d, e);
    }
    fclose(null);
    d->out = out;
    d->line_no = 0;
    d->now_ms = start_ms;
}

int lw__demo_step(struct lw_demo *d)
{
    struct event e;
    uint64_t before;

    if (!d->prerolled) {
        preroll(d);
    }
    for (;;) {
        if (d->line_no >= d->conf.n_lines) {
            return 0;
        }
        if (fire_anomalies(d)) {
            return 1;
        }
        before = d->line_no;
        e = pop(d);
        if (e.t_ms > d->now_ms) {
            d->now_ms = e.t_ms;
        }
        handle(d, e);
        if (d->line_no > before) {
            return 1;
        }
    }
}

uint64_t lw__demo_lines(const struct lw_demo *d)
{
    return d->line_no;
}

static int truth_cmp(const void *a, const void *b)
{
    const struct truth *x = a;
    const struct truth *y = b;

    if (x->line != y->line) {
        return x->line < y->line ? -1 : 1;
    }
    return (int)x->kind - (int)y->kind;
}

void lw__demo_write_truth(struct lw_demo *d, FILE *f)
{
    size_t i;

    if (d->n_truth == 0) {
        return;
    }
    qsort(d->truth, d->n_truth, sizeof(*d->truth), truth_cmp);
    for (i = 0; i < d->n_truth; i++) {
        fprintf(f, "%llu\t%s\t%s\n", (unsigned long long)d->truth[i].line,
                anomaly_names[d->truth[i].kind], d->truth[i].desc);
    }
}

void lw__demo_destroy(struct lw_demo *d)
{
    if (d == NULL) {
        return;
    }
    lw_free(d->heap);
    lw_free(d->truth);
    lw_free(d);
}
