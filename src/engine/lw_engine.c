/*
 * The daemon's pipeline (see lw_engine.h): batch queue, parse workers, in-order aggregator and
 * store writer.
 *
 * Threads (named for top -H and perf): N parse workers (lw-parse), one aggregator
 * (lw-aggregate: clock, counts, detectors, alerts) and one store writer (lw-store: each
 * transaction, while the aggregator counts the next). Inputs run in their own threads and only
 * copy a group into a batch and queue it. Memory is bounded by the number of queued batches and by the
 * bytes in flight (both refuse with LW_EAGAIN, which the inputs turn into backpressure).
 *
 * Ordering: every batch gets a sequence number when it is queued. Workers finish in any order;
 * the aggregator takes them back strictly in sequence, so checkpoints of one file only ever move
 * forward and a checkpoint is written together with the counts of every line before it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "lw/lw_clock.h"
#include "lw/lw_alert.h"
#include "lw/lw_analyze.h"
#include "lw/lw_detect.h"
#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"
#include "lw/lw_store.h"
#include "engine/ctx_ring.h"
#include "engine/part_state.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#define DEF_WORKERS 2
#define DEF_QUEUE 64
#define DEF_MEMORY ((size_t)256 << 20)
#define DEF_WINDOW_NS 10000000000LL
#define DEF_LATENESS_NS LW_CLOCK_DEFAULT_LATENESS_NS
#define DEF_FLUSH_NS 200000000LL
#define DEF_MINER_SAVE_NS 60000000000LL
#define DEF_RETENTION_NS (7LL * 86400 * 1000000000LL)
#define MAX_SOURCES 65536
#define PRUNE_EVERY_NS (600LL * 1000000000LL)
#define MAX_PENDING_ANOMALIES 10000   /* findings waiting for the store transaction */
#define DETECT_TICK_NS 100000000LL     /* detectors' clock when no batch comes */
#define ALERT_MAP 4096                 /* alert_seq -> alerts row, for delivery results */
#define STORE_RETRY_NS 1000000000LL    /* retry of a store that cannot commit (disk full) */
#define STORE_LOG_EVERY_NS (60LL * 1000000000LL)  /* repeat of "disk full" and the like */
#define STOP_RETRY_NS (30LL * 1000000000LL)  /* at stop, how long a full store is waited for */

const double lw_engine_latency_bounds[12] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,   1.0,  2.5,   5.0,  1e300};

struct batch {
    struct batch *next;
    uint64_t seq;
    size_t mem;              /* bytes accounted against the memory budget */
    int64_t ingest_ns;
    const char *input;       /* points into the batch's own allocation */
    const char *source;      /* the counting key: host, or sender without its port; with
                              * src_of, the first line's */
    /*
     * A batch of several sources (a group with per-line hosts): line i's source is
     * srcs[src_of[i]]. NULL src_of: every line's is @source. gid is the aggregator's source id
     * of each srcs entry, filled when the batch is counted.
     */
    uint32_t *src_of;
    const char **srcs;
    uint32_t *gid;
    size_t n_srcs;
    bool has_ck;
    bool shared;             /* the source's shared_shards: ck names a shard a group shares */
    bool peer;               /* the source's peer_address: a line without a host is the peer's */
    struct lw_ingest_checkpoint ck;  /* ck.path points into the allocation */
    uint32_t gflags;         /* LW_INGEST_CLAIM / _RELEASE of the group (ck names the shard) */
    size_t n;
    const char *bytes;
    uint32_t *off;
    uint32_t *len;
    uint32_t *flags;
    int64_t *ts_in;
    uint8_t *level_in;       /* a level the transport supplied, 0 when none */
    int64_t arrival_ns;      /* wall clock at ingest (anomalies' latency is measured from it) */
    /* Filled by the parse worker when detection is on (separate allocations). */
    struct line_det *det;
    struct lw_param *params;
    size_t n_params;
    size_t det_mem;          /* bytes of det and params (capacity), charged after the parse */
    bool clocked;            /* the event-time clock has set ts[] (aggregator) */
    /* Filled by the parse worker. */
    uint32_t *tid;
    int64_t *ts;
    uint8_t *level;
};

/* Where a line's message and parameters are, for the detectors. */
struct line_det {
    uint32_t msg_off;
    uint32_t msg_len;
    uint32_t p_start;
    uint32_t host_off;       /* the header's host field, when it is a span of the line */
    uint16_t host_len;
    uint16_t p_n;
    uint8_t new_tpl;
};

/* A finding waiting for the store transaction (owned copies). */
struct pend_anom {
    struct lw_anomaly a;         /* its strings live in @strs */
    char *strs;
    char *context;               /* owned JSON (lw_ctx_ring_json), NULL when none */
    bool has_alert;
    struct lw_alert_decision d;
    int64_t created_ns;
};
struct agg_ent {
    int64_t win;
    uint32_t tid;     /* template id, or level for LW_AGG_LEVEL */
    uint32_t src;     /* source id + 1 for LW_AGG_SOURCE, else 0 */
    uint32_t kind;
    uint32_t used;
    uint64_t count;
};

enum { LW_AGG_TEMPLATE = 1, LW_AGG_SOURCE = 2, LW_AGG_LEVEL = 3 };

struct agg {
    struct agg_ent *v;
    size_t cap;      /* power of two */
    size_t n;
};

struct tpl_delta {
    uint32_t tid;
    uint32_t used;
    uint64_t count;
    int64_t first_ns;
    int64_t last_ns;
    char *example;           /* owned: the group's first line of the template (store examples) */
    int64_t example_ns;
    uint32_t example_src;
};

struct tpl_agg {
    struct tpl_delta *v;
    size_t cap;
    size_t n;
};

struct ck_ent {
    char *input;
    char *path;
    bool shared;             /* a shard's (lw_ingest_source.shared_shards): kept as durable */
    struct lw_ingest_checkpoint ck;
};

struct delivery {
    uint64_t seq;
    int64_t sent_ns;
    bool sent;
};

/* One transaction's worth of pending writes (see lw_engine.cur). */
struct pending {
    struct agg agg;
    struct tpl_agg tpls;
    struct ck_ent *cks;
    size_t n_cks;
    size_t cap_cks;
    struct pend_anom *pend;
    size_t n_pend;
    size_t cap_pend;
    struct delivery *results;    /* ALERT_MAP entries: polled delivery results */
    size_t n_results;
    uint64_t pending_lines;
    uint64_t pending_batches;
    int64_t oldest_pending_ingest_ns;
    /* Set when handed over: the models and miner are saved in this transaction. */
    bool save_miner;
    bool new_tpl;
    struct lw_wbuf models;       /* the detectors' state, serialised by the aggregator */
    bool has_models;
    char note[LW_STORE_NOTE_MAX];
    size_t n_sources;            /* source names below this index are set (and immutable) */
};

struct durable_ent {
    char *input;
    char *path;                         /* a shard's (a Kafka partition: "topic/partition") */
    struct lw_ingest_checkpoint ck;     /* its path NULL */
};

#define DURABLE_MAX 65536

/*
 * A parse worker: its states are made before the thread starts, so that a worker short of
 * memory fails lw_engine_start() rather than leave its queue to no one (a stop then waited for
 * batches nobody would parse).
 */
struct worker {
    struct lw_engine *e;
    pthread_t thread;
    struct lw_header_state *hst;
    struct lw_miner_scratch *ms;
};

struct lw_engine {
    struct lw_engine_conf conf;
    struct lw_store *store;
    struct lw_header *header;
    struct lw_miner *miner;

    pthread_mutex_t mu;
    pthread_cond_t work_cv;      /* a batch was queued, or stopping */
    pthread_cond_t done_cv;      /* a batch was parsed, or a worker left */
    struct batch *q_head;        /* waiting for a worker */
    struct batch *q_tail;
    size_t q_len;
    struct batch *parsed;        /* parsed, sorted by seq */
    size_t parsed_len;
    uint64_t next_seq;           /* given to the next queued batch */
    size_t inflight_bytes;
    bool stopping;               /* no new batches */
    size_t workers_alive;

    struct worker *workers;      /* conf.workers of them, n_workers started */
    size_t n_workers;
    pthread_t agg_thread;
    bool agg_started;

    /* Aggregator state (aggregator thread only). */
    uint64_t want_seq;
    /*
     * What the next transaction writes: the aggregator fills *cur; a flush hands it to the
     * store writer thread by swapping cur and job (under wmu), so that counting goes on while
     * SQLite writes (the writes were ~45% of the aggregator's time, perf on
     * bench/run-http-mixed.sh).
     */
    struct pending *cur;
    struct pending *job;         /* the writer's, while job_ready */
    struct pending pends[2];
    struct lw_clock *clock;      /* event time of every line, the watermark (lw_clock.h) */
    struct lw_clock_stats clock_stats;  /* a copy for readers, under hist_mu */
    int64_t last_agg_arrival_ns; /* arrival (wall) of the last batch counted */
    size_t agg_batch_bytes;      /* bytes of the batch being counted (still in inflight) */
    atomic_bool new_templates;   /* a worker created a template since the last miner save */
    int64_t last_miner_save_ns;
    int64_t last_prune_ns;
    char **sources;              /* source id -> name */
    size_t n_sources;
    struct {
        uint64_t h;
        uint32_t id;
    } *src_map;                  /* open addressing, 2 * MAX_SOURCES slots */
    atomic_int last_rc;          /* the last transaction's result (writer thread) */

    /* The store writer thread (writer_main) and its hand-over of e->job. */
    pthread_t writer_thread;
    bool writer_started;
    pthread_mutex_t wmu;
    pthread_cond_t wcv;          /* a job was handed over, written, or stopping */
    pthread_mutex_t store_mu;    /* held by whoever uses e->store: a transaction of the writer,
                                  * or the partition state's (part_state.c, aggregator thread) */
    bool job_ready;              /* e->job holds a transaction to write (under wmu) */
    bool wstop;
    /*
     * Set while the store cannot commit (a full disk, a locked or damaged database): new groups
     * are refused with LW_EAGAIN (backpressure) so that what is held in memory stays what was
     * accepted before, and the pending transaction is retried until it commits.
     */
    atomic_bool store_blocked;
    int64_t blocked_since_ns;    /* mono time of the first failure of the current episode */
    int64_t last_block_log_ns;   /* when the failure was last logged (rate limit) */

    /* Detection (aggregator thread only, except the stats snapshot under hist_mu). */
    struct lw_detect_stage *stage;
    struct lw__part_state *parts;  /* model state that follows Kafka partitions (part_state.h) */
    struct lw_ctx_ring *ctx_ring;  /* recent lines per source, stored with each anomaly */
    struct lw_alerter *alerter;
    bool want_params;
    int64_t last_tick_ns;
    int64_t last_snap_ns;
    int64_t alert_clock_ns;      /* event-time "now" of the alert manager (never goes back) */
    struct {
        uint64_t seq;
        int64_t row;
    } alert_rows[ALERT_MAP];       /* store writer thread only */
    struct lw_detect_stats det_stats;
    struct lw_detect_warmup warmup;  /* what was logged of the detectors' warm-up */
    atomic_uint_fast64_t anomalies;
    atomic_uint_fast64_t anomalies_unstored;
    atomic_uint_fast64_t alerts;

    /* Counters. */
    atomic_uint_fast64_t lines_in;
    atomic_uint_fast64_t bytes_in;
    atomic_uint_fast64_t groups_refused;
    atomic_uint_fast64_t lines_parsed;
    atomic_uint_fast64_t lines_late;
    atomic_uint_fast64_t lines_truncated;
    atomic_uint_fast64_t lines_invalid;
    atomic_uint_fast64_t header_mismatch;
    atomic_uint_fast64_t lines_stored;
    atomic_uint_fast64_t stored_total;
    atomic_uint_fast64_t store_commits;
    atomic_uint_fast64_t store_errors;
    atomic_int_fast64_t watermark_ns;
    pthread_mutex_t hist_mu;
    /*
     * The shards' checkpoints of the last committed transactions (of inputs whose sources are
     * shared_shards), per (input, shard): what such an input asks for (lw_engine_durable()) to
     * learn how far the store has its lines, without a store query (the Kafka input on
     * ClickHouse asked 16 times a second). At most DURABLE_MAX.
     */
    pthread_mutex_t dur_mu;
    struct durable_ent *dur;
    size_t n_dur;
    size_t cap_dur;
    /*
     * The alias changes drained from the miner since the last commit (job_write()'s thread):
     * the miner reports each change once, so those of a transaction that was rolled back are
     * written again, before the newer ones, by the next. Empty after each commit.
     */
    struct lw_alias *aliases_unsent;
    size_t n_aliases_unsent;
    uint64_t batch_hist[12];
    double batch_hist_sum;
    uint64_t batch_hist_n;
    uint64_t store_hist[12];
    double store_hist_sum;
    uint64_t store_hist_n;
};

static void batch_free(struct batch *b)
{
    if (b != NULL) {
        lw_free(b->det);
        lw_free(b->params);
        lw_free(b);
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void hist_add(uint64_t *buckets, double *sum, uint64_t *n, double v)
{
    size_t i;

    for (i = 0; i < 12; i++) {
        if (v <= lw_engine_latency_bounds[i]) {
            buckets[i]++;
            break;
        }
    }
    *sum += v;
    (*n)++;
}

/* ---- ingest ---- */

/*
 * The counting key of a group: the host the protocol named, else the sender; a network
 * sender's port is dropped so that one host's connections count as one source.
 */
static size_t source_key(const struct lw_ingest_source *src, const char **p)
{
    const char *s = src->host != NULL && src->host[0] != '\0' ? src->host : src->name;
    size_t len;

    if (s == NULL) {
        s = "-";
    }
    len = strlen(s);
    if (src->host == NULL && src->peer_address) {
        const char *colon = strrchr(s, ':');

        if (colon != NULL && colon > s) {
            len = (size_t)(colon - s);
            if (s[0] == '[' && len > 2 && s[len - 1] == ']') {
                s++;
                len -= 2;
            }
        }
    }
    *p = s;
    return len;
}

/* The distinct sources of a group with per-line hosts (engine_ingest). */
struct src_set {
    uint32_t *src_of;        /* per line */
    const char **name;       /* per distinct source: borrowed from the group */
    size_t *len;
    uint64_t *h;
    uint32_t *slot;          /* open addressing over the distinct sources, index + 1 */
    size_t cap_slot;         /* a power of two, at least twice the lines */
    size_t n;
    size_t bytes;            /* their lengths with a NUL each */
};

static void src_set_fini(struct src_set *ss)
{
    lw_free(ss->src_of);
    lw_free(ss->name);
    lw_free(ss->len);
    lw_free(ss->h);
    lw_free(ss->slot);
}

/*
 * Finds the distinct sources of @g's lines: a line's host when it names one, else the group's
 * key @def. A run of lines with the same host (the usual case) costs one comparison per line;
 * a change of host one hash. Returns LW_OK or LW_ENOMEM (@ss is then to be finied all the same).
 */
static int src_set_build(struct src_set *ss, const struct lw_ingest_group *g, const char *def,
                         size_t def_len)
{
    size_t n = g->n_lines;
    size_t i;
    const char *prev = NULL;
    uint32_t prev_id = 0;

    memset(ss, 0, sizeof(*ss));
    for (ss->cap_slot = 16; ss->cap_slot < 2 * n + 2; ss->cap_slot *= 2) {
    }
    ss->src_of = lw_malloc(n * sizeof(*ss->src_of));
    ss->name = lw_malloc((n + 1) * sizeof(*ss->name));
    ss->len = lw_malloc((n + 1) * sizeof(*ss->len));
    ss->h = lw_malloc((n + 1) * sizeof(*ss->h));
    ss->slot = lw_calloc(ss->cap_slot, sizeof(*ss->slot));
    if (ss->src_of == NULL || ss->name == NULL || ss->len == NULL || ss->h == NULL ||
        ss->slot == NULL) {
        return LW_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        const char *s = g->hosts[i] != NULL && g->hosts[i][0] != '\0' ? g->hosts[i] : NULL;
        const char *key = s != NULL ? s : def;
        size_t len;
        uint64_t h;
        size_t k;

        if (i > 0 && (s == prev || (s != NULL && prev != NULL && strcmp(s, prev) == 0))) {
            ss->src_of[i] = prev_id;
            prev = s;
            continue;
        }
        prev = s;
        len = s != NULL ? strlen(s) : def_len;
        h = XXH3_64bits(key, len);
        k = (size_t)h & (ss->cap_slot - 1);
        while (ss->slot[k] != 0) {
            uint32_t id = ss->slot[k] - 1;

            if (ss->h[id] == h && ss->len[id] == len && memcmp(ss->name[id], key, len) == 0) {
                break;
            }
            k = (k + 1) & (ss->cap_slot - 1);
        }
        if (ss->slot[k] == 0) {
            ss->name[ss->n] = key;
            ss->len[ss->n] = len;
            ss->h[ss->n] = h;
            ss->bytes += len + 1;
            ss->slot[k] = (uint32_t)++ss->n;
        }
        prev_id = ss->slot[k] - 1;
        ss->src_of[i] = prev_id;
    }
    return LW_OK;
}

static int engine_ingest(void *opaque, const struct lw_ingest_group *g)
{
    struct lw_engine *e = opaque;
    const char *input = g->source && g->source->input ? g->source->input : "input";
    const char *src;
    size_t src_len;
    size_t input_len = strlen(input);
    size_t path_len = g->checkpoint && g->checkpoint->path ? strlen(g->checkpoint->path) : 0;
    size_t n = g->n_lines;
    size_t bytes = 0;
    size_t size;
    size_t i;
    struct batch *b;
    struct src_set ss;
    bool multi = false;
    char *p;

    /*
     * A group without lines matters only for its checkpoint: the Kafka input claims a partition
     * this way (a checkpoint under its new epoch, committed in order with the lines around it).
     */
    if (n == 0 && (g->checkpoint == NULL || g->checkpoint->path == NULL)) {
        return LW_OK;
    }
    memset(&ss, 0, sizeof(ss));
    src_len = source_key(g->source ? g->source
                                   : &(struct lw_ingest_source){.input = input, .name = "-"},
                         &src);
    for (i = 0; i < n; i++) {
        bytes += g->lines[i].len;
    }
    if (bytes > UINT32_MAX / 2) {
        return LW_ETOOBIG;
    }
    if (g->hosts != NULL) {
        if (src_set_build(&ss, g, src, src_len) < 0) {
            src_set_fini(&ss);
            return LW_EAGAIN; /* an allocation failure is pressure: the input retries */
        }
        multi = ss.n > 1;
        if (!multi) {
            /* One source after all: the batch is an ordinary one of that source. */
            src = ss.name[0];
            src_len = ss.len[0];
        }
    }
    size = sizeof(*b) + n * (4 * sizeof(uint32_t) + 2 * sizeof(int64_t) + 2) + bytes +
           input_len + src_len + path_len + 3 + 16;
    if (multi) {
        size += n * sizeof(uint32_t) + ss.n * (sizeof(uint32_t) + sizeof(char *)) + ss.bytes;
    }
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pthread_mutex_unlock(&e->mu);
        src_set_fini(&ss);
        return LW_EAGAIN;
    }
    if (e->q_len >= e->conf.queue_batches || atomic_load(&e->store_blocked) ||
        (e->inflight_bytes > 0 && e->inflight_bytes + size > e->conf.memory_limit_bytes)) {
        pthread_mutex_unlock(&e->mu);
        atomic_fetch_add(&e->groups_refused, 1);
        src_set_fini(&ss);
        return LW_EAGAIN;
    }
    e->inflight_bytes += size;
    pthread_mutex_unlock(&e->mu);

    b = lw_malloc(size);
    if (b == NULL) {
        pthread_mutex_lock(&e->mu);
        e->inflight_bytes -= size;
        pthread_mutex_unlock(&e->mu);
        src_set_fini(&ss);
        return LW_EAGAIN; /* retried by the input: an allocation failure is pressure too */
    }
    memset(b, 0, sizeof(*b));
    b->mem = size;
    b->n = n;
    b->ingest_ns = mono_ns();
    b->arrival_ns = now_ns();
    /* Arrays first (aligned), bytes and strings last. */
    p = (char *)(b + 1);
    b->ts_in = (int64_t *)p;
    p += n * sizeof(int64_t);
    b->ts = (int64_t *)p;
    p += n * sizeof(int64_t);
    if (multi) {
        b->srcs = (const char **)(void *)p;
        p += ss.n * sizeof(char *);
        b->src_of = (uint32_t *)(void *)p;
        p += n * sizeof(uint32_t);
        b->gid = (uint32_t *)(void *)p;
        p += ss.n * sizeof(uint32_t);
        b->n_srcs = ss.n;
        memcpy(b->src_of, ss.src_of, n * sizeof(uint32_t));
    }
    b->off = (uint32_t *)p;
    p += n * sizeof(uint32_t);
    b->len = (uint32_t *)p;
    p += n * sizeof(uint32_t);
    b->flags = (uint32_t *)p;
    p += n * sizeof(uint32_t);
    b->tid = (uint32_t *)p;
    p += n * sizeof(uint32_t);
    b->level = (uint8_t *)p;
    p += n;
    b->level_in = (uint8_t *)p;
    p += n;
    b->bytes = p;
    bytes = 0;
    for (i = 0; i < n; i++) {
        memcpy(p + bytes, g->lines[i].data, g->lines[i].len);
        b->off[i] = (uint32_t)bytes;
        b->len[i] = (uint32_t)g->lines[i].len;
        b->flags[i] = g->lines[i].flags;
        b->ts_in[i] = g->lines[i].ts_ns;
        b->level_in[i] = (uint8_t)(g->lines[i].level >= 0 && g->lines[i].level < 256
                                       ? g->lines[i].level
                                       : 0);
        bytes += g->lines[i].len;
    }
    p += bytes;
    memcpy(p, input, input_len + 1);
    b->input = p;
    p += input_len + 1;
    memcpy(p, src, src_len);
    p[src_len] = '\0';
    b->source = p;
    p += src_len + 1;
    if (multi) {
        for (i = 0; i < ss.n; i++) {
            memcpy(p, ss.name[i], ss.len[i]);
            p[ss.len[i]] = '\0';
            b->srcs[i] = p;
            p += ss.len[i] + 1;
        }
        b->source = b->srcs[b->src_of[0]];
    }
    src_set_fini(&ss);
    b->gflags = g->flags;
    b->shared = g->source != NULL && g->source->shared_shards;
    b->peer = g->source != NULL && g->source->peer_address;
    if (g->checkpoint != NULL) {
        b->has_ck = (g->flags & LW_INGEST_RELEASE) == 0; /* a release only names its shard */
        b->ck = *g->checkpoint;
        memcpy(p, g->checkpoint->path ? g->checkpoint->path : "", path_len + 1);
        b->ck.path = p;
    }
    atomic_fetch_add(&e->lines_in, n);
    atomic_fetch_add(&e->bytes_in, bytes);

    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        /* Stopped while the batch was being copied: nothing may be queued any more. */
        e->inflight_bytes -= size;
        pthread_mutex_unlock(&e->mu);
        atomic_fetch_sub(&e->lines_in, n);
        atomic_fetch_sub(&e->bytes_in, bytes);
        lw_free(b);
        return LW_EAGAIN;
    }
    b->seq = e->next_seq++;
    if (e->q_tail != NULL) {
        e->q_tail->next = b;
    }
    else {
        e->q_head = b;
    }
    e->q_tail = b;
    e->q_len++;
    pthread_cond_signal(&e->work_cv);
    pthread_mutex_unlock(&e->mu);
    return LW_OK;
}

static int engine_released(void *opaque, const char *path, uint64_t epoch)
{
    return lw__part_state_released(((struct lw_engine *)opaque)->parts, path, epoch);
}

struct lw_ingest lw_engine_ingest(struct lw_engine *e)
{
    struct lw_ingest ing = {.fn = engine_ingest, .opaque = e, .released = engine_released};

    return ing;
}

/* ---- parse workers ---- */

/* The first place of @needle in @hay, or NULL (memmem is not C11). */
static const char *find_bytes(const char *hay, size_t hay_len, const char *needle, size_t n)
{
    const char *p = hay;
    const char *end = hay + hay_len;

    if (n == 0 || n > hay_len) {
        return NULL;
    }
    while ((p = memchr(p, needle[0], (size_t)(end - p) - n + 1)) != NULL) {
        if (memcmp(p, needle, n) == 0) {
            return p;
        }
        if (++p > end - n) {
            break;
        }
    }
    return NULL;
}

/*
 * How much of a message the miner sees: all of a one-line message; of a message of several lines
 * (a joined record with its stack trace, a JSON message with newlines) the first line, plus the
 * second when it names an exception ("java.lang.IllegalStateException: boom"), so that the
 * exception class is part of the template. The frames below are left out: every distinct stack
 * would otherwise become a template of its own. A Python traceback's final "ValueError: x" line
 * is not mined, since it is not next to the first line and the miner takes one span: the result
 * is always a prefix of @msg, so parameter offsets stay offsets into the message.
 */
static size_t mined_len(const char *msg, size_t len)
{
    const char *nl = memchr(msg, '\n', len);
    const char *second;
    const char *end;

    if (nl == NULL) {
        return len;
    }
    second = nl + 1;
    end = memchr(second, '\n', (size_t)(msg + len - second));
    if (end == NULL) {
        end = msg + len;
    }
    if (lw_exception_line(second, (size_t)(end - second))) {
        return (size_t)(end - msg);
    }
    return (size_t)(nl - msg);
}

static void parse_batch(struct lw_engine *e, struct lw_header_state *hst,
                        struct lw_miner_scratch *ms, struct batch *b)
{
    int64_t fallback = now_ns();
    uint64_t mismatch = 0;
    uint64_t trunc = 0;
    uint64_t invalid = 0;
    size_t i;
    size_t pcap = 0;

    if (e->stage != NULL) {
        /* Without room for these the lines still count; the detectors then skip the batch. */
        b->det = lw_malloc(b->n * sizeof(*b->det));
        b->det_mem = b->det != NULL ? b->n * sizeof(*b->det) : 0;
    }
    for (i = 0; i < b->n; i++) {
        struct lw_header_result res;
        struct lw_match mt;
        const char *line = b->bytes + b->off[i];
        size_t first_len = b->len[i];
        size_t msg_len;
        size_t mine_len;
        bool inside;

        if (b->flags[i] & LW_LINE_MULTI) {
            /* A joined record: its header is on its first physical line. */
            const char *nl = memchr(line, '\n', b->len[i]);

            first_len = nl != NULL ? (size_t)(nl - line) : b->len[i];
        }
        if (lw_header_parse(e->header, hst, line, first_len, &res) < 0) {
            res.msg.p = line;
            res.msg.len = first_len;
            res.ts_ns = LW_TS_UNKNOWN;
            res.level = LW_LEVEL_UNKNOWN;
            res.matched = 0;
        }
        /*
         * The message is a span of the line, except when the header decoded it (a JSON "msg"
         * with escapes): then the whole line stands for it in what the detectors get, and its
         * parameters, whose offsets are into the decoded text, are not passed on. A message
         * that ends the first line of a joined record runs on to the record's end: the rest
         * (the stack trace) is kept for samples and explanations, and mined_len() decides
         * what the miner sees.
         */
        inside = res.msg.p >= line && res.msg.p + res.msg.len <= line + first_len;
        msg_len = res.msg.len;
        if (inside && first_len < b->len[i] && res.msg.p + res.msg.len == line + first_len) {
            msg_len = (size_t)(line + b->len[i] - res.msg.p);
        }
        mine_len = msg_len;
        if (msg_len != res.msg.len || !inside) {
            mine_len = mined_len(res.msg.p, msg_len);
        }
        mismatch += res.matched ? 0 : 1;
        trunc += (b->flags[i] & LW_LINE_TRUNCATED) ? 1 : 0;
        invalid += (b->flags[i] & LW_LINE_INVALID) ? 1 : 0;
        if (res.ts_ns == LW_TS_UNKNOWN) {
            res.ts_ns = b->ts_in[i];
        }
        /*
         * The line's own time, or none: the aggregator's event-time clock decides what a line
         * without a believable one gets (its source's time, never the arrival time of a
         * replayed line). The miner's first/last-seen only needs an approximation.
         */
        if (lw_miner_add(e->miner, ms, res.msg.p, mine_len,
                         res.ts_ns != LW_TS_UNKNOWN && res.ts_ns >= 0 ? res.ts_ns : fallback,
                         &mt) < 0) {
            mt.template_id = 0; /* counted under template 0: out of memory in the miner */
            mt.is_new = 0;
            mt.n_params = 0;
        }
        if (mt.is_new) {
            atomic_store(&e->new_templates, true);
        }
        b->tid[i] = mt.template_id;
        if (b->det != NULL) {
            struct line_det *d = &b->det[i];

            d->msg_off = inside ? (uint32_t)(res.msg.p - line) : 0;
            d->msg_len = inside ? (uint32_t)msg_len : b->len[i];
            d->new_tpl = mt.is_new ? 1 : 0;
            d->host_off = 0;
            d->host_len = 0;
            if (res.matched && res.host.len > 0 && res.host.len < 256) {
                const char *h = res.host.p;

                if (h < line || h + res.host.len > line + b->len[i]) {
                    /*
                     * A decoded field (a JSON "host"): its bytes stand in the line as they are
                     * unless they were escaped; an escaped host is not used.
                     */
                    h = find_bytes(line, b->len[i], res.host.p, res.host.len);
                }
                if (h != NULL) {
                    d->host_off = (uint32_t)(h - line);
                    d->host_len = (uint16_t)res.host.len;
                }
            }
            d->p_start = (uint32_t)b->n_params;
            d->p_n = 0;
            if (inside && e->want_params && mt.template_id != 0 && mt.n_params > 0) {
                if (b->n_params + mt.n_params > pcap) {
                    size_t nc = pcap ? pcap * 2 : 1024;
                    struct lw_param *np;

                    while (nc < b->n_params + mt.n_params) {
                        nc *= 2;
                    }
                    np = lw_realloc(b->params, nc * sizeof(*np));
                    if (np != NULL) {
                        b->params = np;
                        pcap = nc;
                    }
                }
                if (b->n_params + mt.n_params <= pcap) {
                    memcpy(b->params + b->n_params, mt.params,
                           mt.n_params * sizeof(struct lw_param));
                    b->n_params += mt.n_params;
                    d->p_n = (uint16_t)mt.n_params;
                }
            }
        }
        b->ts[i] = res.ts_ns;
        b->level[i] = (uint8_t)(res.level != LW_LEVEL_UNKNOWN ? res.level : b->level_in[i]);
    }
    b->det_mem += pcap * sizeof(struct lw_param);
    atomic_fetch_add(&e->lines_parsed, b->n);
    atomic_fetch_add(&e->header_mismatch, mismatch);
    atomic_fetch_add(&e->lines_truncated, trunc);
    atomic_fetch_add(&e->lines_invalid, invalid);
}

/* Names the calling thread (Linux: prctl needs no _GNU_SOURCE); best effort. */
static void thread_name(const char *name)
{
    (void)prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct lw_engine *e = w->e;
    struct lw_header_state *hst = w->hst;
    struct lw_miner_scratch *ms = w->ms;

    thread_name("lw-parse");
    for (;;) {
        struct batch *b;
        struct batch **pp;

        pthread_mutex_lock(&e->mu);
        while (e->q_head == NULL && !e->stopping) {
            pthread_cond_wait(&e->work_cv, &e->mu);
        }
        if (e->q_head == NULL) {
            /*
             * Stopping and drained. The thread's pending template counts go into the miner
             * before the aggregator's last save.
             */
            pthread_mutex_unlock(&e->mu);
            lw_miner_scratch_flush(ms);
            pthread_mutex_lock(&e->mu);
            e->workers_alive--;
            pthread_cond_broadcast(&e->done_cv);
            pthread_mutex_unlock(&e->mu);
            break;
        }
        b = e->q_head;
        e->q_head = b->next;
        if (e->q_head == NULL) {
            e->q_tail = NULL;
        }
        e->q_len--;
        pthread_mutex_unlock(&e->mu);

        parse_batch(e, hst, ms, b);

        pthread_mutex_lock(&e->mu);
        /*
         * What the parse added for the detectors (line positions, parameters: often more than
         * half the batch's own size) is held until the batch is counted: it is charged to the
         * memory budget too, so that new groups wait for it to be freed.
         */
        e->inflight_bytes += b->det_mem;
        b->mem += b->det_mem;
        pp = &e->parsed;
        while (*pp != NULL && (*pp)->seq < b->seq) {
            pp = &(*pp)->next;
        }
        b->next = *pp;
        *pp = b;
        e->parsed_len++;
        pthread_cond_broadcast(&e->done_cv);
        pthread_mutex_unlock(&e->mu);
    }
    return NULL;
}

/* ---- aggregation ---- */

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int agg_grow_to(struct agg *a, size_t cap);

static int agg_grow(struct agg *a)
{
    return agg_grow_to(a, a->cap ? a->cap * 2 : 1024);
}

static int agg_grow_to(struct agg *a, size_t cap)
{
    struct agg_ent *nv = lw_calloc(cap, sizeof(*nv));
    size_t i;

    if (nv == NULL) {
        return LW_ENOMEM;
    }
    for (i = 0; i < a->cap; i++) {
        if (a->v[i].used) {
            struct agg_ent *o = &a->v[i];
            size_t k = mix((uint64_t)o->win ^ ((uint64_t)o->tid << 20) ^
                           ((uint64_t)o->src << 40) ^ o->kind) & (cap - 1);

            while (nv[k].used) {
                k = (k + 1) & (cap - 1);
            }
            nv[k] = *o;
        }
    }
    lw_free(a->v);
    a->v = nv;
    a->cap = cap;
    return LW_OK;
}

static int agg_add(struct agg *a, uint32_t kind, int64_t win, uint32_t tid, uint32_t src,
                   uint64_t count)
{
    size_t k;

    if ((a->n + 1) * 2 > a->cap && agg_grow(a) < 0) {
        return LW_ENOMEM;
    }
    k = mix((uint64_t)win ^ ((uint64_t)tid << 20) ^ ((uint64_t)src << 40) ^ kind) & (a->cap - 1);
    while (a->v[k].used) {
        struct agg_ent *o = &a->v[k];

        if (o->win == win && o->tid == tid && o->src == src && o->kind == kind) {
            o->count += count;
            return LW_OK;
        }
        k = (k + 1) & (a->cap - 1);
    }
    a->v[k].used = 1;
    a->v[k].win = win;
    a->v[k].tid = tid;
    a->v[k].src = src;
    a->v[k].kind = kind;
    a->v[k].count = count;
    a->n++;
    return LW_OK;
}

static int tpl_grow_to(struct tpl_agg *t, size_t cap)
{
    struct tpl_delta *nv = lw_calloc(cap, sizeof(*nv));
    size_t i;
    size_t k;

    if (nv == NULL) {
        return LW_ENOMEM;
    }
    for (i = 0; i < t->cap; i++) {
        if (t->v[i].used) {
            k = mix(t->v[i].tid) & (cap - 1);
            while (nv[k].used) {
                k = (k + 1) & (cap - 1);
            }
            nv[k] = t->v[i];
        }
    }
    lw_free(t->v);
    t->v = nv;
    t->cap = cap;
    return LW_OK;
}

/*
 * Counts a line of @tid at @ts. The first line of @tid in this group (@line, @len bytes,
 * borrowed; from source @src) is kept as an example line for the store, best effort.
 */
static int tpl_add(struct tpl_agg *t, uint32_t tid, int64_t ts, const char *line, uint32_t len,
                   uint32_t src)
{
    struct tpl_delta *d;
    size_t k;

    if ((t->n + 1) * 2 > t->cap && tpl_grow_to(t, t->cap ? t->cap * 2 : 256) < 0) {
        return LW_ENOMEM;
    }
    k = mix(tid) & (t->cap - 1);
    while (t->v[k].used && t->v[k].tid != tid) {
        k = (k + 1) & (t->cap - 1);
    }
    d = &t->v[k];
    if (!d->used) {
        d->used = 1;
        d->tid = tid;
        d->first_ns = ts;
        d->last_ns = ts;
        t->n++;
    }
    d->count++;
    if (ts < d->first_ns) {
        d->first_ns = ts;
    }
    if (ts > d->last_ns) {
        d->last_ns = ts;
    }
    if (d->example == NULL) {
        d->example = lw_strndup(line, len < 2048 ? len : 2048);
        d->example_ns = ts;
        d->example_src = src;
    }
    return LW_OK;
}

/* Interns a source name; returns its id, or MAX_SOURCES ("other") past the cap. */
static uint32_t source_id(struct lw_engine *e, const char *name)
{
    size_t len = strlen(name);
    uint64_t h = mix(len);
    size_t slots = 2 * MAX_SOURCES;
    size_t k;
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
    }
    h |= 1;
    k = h & (slots - 1);
    while (e->src_map[k].h != 0) {
        if (e->src_map[k].h == h && strcmp(e->sources[e->src_map[k].id], name) == 0) {
            return e->src_map[k].id;
        }
        k = (k + 1) & (slots - 1);
    }
    if (e->n_sources >= MAX_SOURCES) {
        return MAX_SOURCES;
    }
    e->sources[e->n_sources] = lw_strdup(name);
    if (e->sources[e->n_sources] == NULL) {
        return MAX_SOURCES;
    }
    e->src_map[k].h = h;
    e->src_map[k].id = (uint32_t)e->n_sources;
    return (uint32_t)e->n_sources++;
}

static int remember_checkpoint(struct lw_engine *e, const struct batch *b)
{
    size_t i;

    for (i = 0; i < e->cur->n_cks; i++) {
        if (strcmp(e->cur->cks[i].input, b->input) == 0 && strcmp(e->cur->cks[i].path, b->ck.path) == 0) {
            e->cur->cks[i].ck = b->ck;
            e->cur->cks[i].ck.path = e->cur->cks[i].path;
            return LW_OK;
        }
    }
    if (e->cur->n_cks == e->cur->cap_cks) {
        size_t cap = e->cur->cap_cks ? e->cur->cap_cks * 2 : 16;
        struct ck_ent *nv = lw_realloc(e->cur->cks, cap * sizeof(*nv));

        if (nv == NULL) {
            return LW_ENOMEM;
        }
        e->cur->cks = nv;
        e->cur->cap_cks = cap;
    }
    e->cur->cks[e->cur->n_cks].input = lw_strdup(b->input);
    e->cur->cks[e->cur->n_cks].path = lw_strdup(b->ck.path);
    if (e->cur->cks[e->cur->n_cks].input == NULL || e->cur->cks[e->cur->n_cks].path == NULL) {
        lw_free(e->cur->cks[e->cur->n_cks].input);
        lw_free(e->cur->cks[e->cur->n_cks].path);
        return LW_ENOMEM;
    }
    e->cur->cks[e->cur->n_cks].shared = b->shared;
    e->cur->cks[e->cur->n_cks].ck = b->ck;
    e->cur->cks[e->cur->n_cks].ck.path = e->cur->cks[e->cur->n_cks].path;
    e->cur->n_cks++;
    return LW_OK;
}

static void counts_failed(struct lw_engine *e)
{
    (void)e;
    lw_error("engine", "counting failed after room was reserved: counts may be off");
}

/*
 * The wall time against which the clock judges sources idle: "now" once the aggregator has
 * caught up with everything the inputs handed over, else the arrival time of the last batch it
 * counted. A source whose lines still wait in the queue (a busy machine, a burst) has not gone
 * quiet, however long ago they arrived.
 */
static int64_t clock_now(struct lw_engine *e, int64_t now)
{
    bool behind;

    pthread_mutex_lock(&e->mu);
    behind = e->inflight_bytes > e->agg_batch_bytes;
    pthread_mutex_unlock(&e->mu);
    return behind && e->last_agg_arrival_ns != 0 && e->last_agg_arrival_ns < now
               ? e->last_agg_arrival_ns
               : now;
}

/*
 * The clock's watermark at wall time @now (a walk over the sources: once per batch or tick),
 * published for /metrics. *@idle as lw_clock_watermark().
 */
static int64_t engine_watermark(struct lw_engine *e, int64_t now, bool *idle)
{
    int64_t wm = lw_clock_watermark(e->clock, clock_now(e, now), idle);

    atomic_store(&e->watermark_ns, wm == INT64_MIN ? 0 : wm);
    return wm;
}

/* Counts a parsed batch into the pending transaction. Returns LW_OK or LW_ENOMEM. */
static int aggregate(struct lw_engine *e, struct batch *b)
{
    int64_t w = e->conf.window_ns;
    uint32_t src;
    uint64_t late = 0;
    size_t i;
    size_t need;
    size_t cap;
    int rc = LW_OK;

    /*
     * All or nothing: room for the worst case (three new keys and one template per line) is
     * made before anything is counted, so an allocation failure never leaves half a batch
     * counted (it would be counted again on the retry).
     */
    need = (e->cur->agg.n + 3 * b->n) * 2;
    for (cap = e->cur->agg.cap ? e->cur->agg.cap : 1024; cap < need; cap *= 2) {
    }
    if (cap > e->cur->agg.cap && agg_grow_to(&e->cur->agg, cap) < 0) {
        return LW_ENOMEM;
    }
    need = (e->cur->tpls.n + b->n) * 2;
    for (cap = e->cur->tpls.cap ? e->cur->tpls.cap : 256; cap < need; cap *= 2) {
    }
    if (cap > e->cur->tpls.cap && tpl_grow_to(&e->cur->tpls, cap) < 0) {
        return LW_ENOMEM;
    }
    if (b->has_ck && remember_checkpoint(e, b) < 0) {
        return LW_ENOMEM;
    }
    src = source_id(e, b->source);
    for (i = 0; i < b->n_srcs; i++) {
        b->gid[i] = source_id(e, b->srcs[i]) + 1;
    }
    if (!b->clocked) {
        /*
         * Once per batch (a retry after LW_ENOMEM must not run the clock twice): every line's
         * event time from its source's clock. Late lines are counted all the same: they are
         * never dropped, only missed by detector windows that already closed.
         */
        if (b->src_of != NULL) {
            late = lw_clock_lines_multi(e->clock, b->srcs, b->n_srcs, b->src_of, b->ts, b->n,
                                        b->arrival_ns);
        }
        else {
            late = lw_clock_lines(e->clock, b->source, b->ts, b->n, b->arrival_ns);
        }
        b->clocked = true;
        e->last_agg_arrival_ns = b->arrival_ns;
        e->agg_batch_bytes = b->mem;
        atomic_fetch_add(&e->lines_late, late);
        pthread_mutex_lock(&e->hist_mu);
        lw_clock_get_stats(e->clock, &e->clock_stats);
        pthread_mutex_unlock(&e->hist_mu);
    }
    for (i = 0; i < b->n && rc == LW_OK; i++) {
        int64_t ts = b->ts[i];
        int64_t win = ts >= 0 ? ts - ts % w : ts - ((ts % w) + w) % w;

        /* The line's own source: a batch of an NDJSON body may mix hosts. */
        uint32_t line_gid = b->src_of != NULL ? b->gid[b->src_of[i]] : src + 1;

        rc = agg_add(&e->cur->agg, LW_AGG_TEMPLATE, win, b->tid[i], 0, 1);
        if (rc == LW_OK) {
            rc = agg_add(&e->cur->agg, LW_AGG_SOURCE, win, b->tid[i], line_gid, 1);
        }
        if (rc == LW_OK) {
            rc = agg_add(&e->cur->agg, LW_AGG_LEVEL, win, b->level[i], 0, 1);
        }
        if (rc == LW_OK && b->tid[i] != 0) {
            rc = tpl_add(&e->cur->tpls, b->tid[i], ts, b->bytes + b->off[i], b->len[i],
                         line_gid - 1);
        }
    }
    if (rc < 0) {
        counts_failed(e); /* cannot happen: room was made above */
        return rc;
    }
    if (e->stage == NULL) {
        /* With detection, detect_tick() right after this batch moves the watermark. */
        (void)engine_watermark(e, now_ns(), NULL);
    }
    if (e->cur->pending_batches == 0) {
        e->cur->oldest_pending_ingest_ns = b->ingest_ns;
    }
    e->cur->pending_lines += b->n;
    e->cur->pending_batches++;
    return LW_OK;
}

/* ---- detection ---- */

/*
 * What each detector's warm-up still needs, for `logwarden status` (a note in the store, saved
 * with the models): [{"detector":"volume","warming_up":true,"have":12,"need":30,
 * "unit":"windows"}, ...]. Detector names and units are the plugins' own constant strings.
 */
static void save_warmup_note(struct lw_engine *e, char *buf, size_t cap)
{
    struct lw_detect_stats st;
    size_t i, n = 0;
    int w;

    lw_detect_stage_get_stats(e->stage, &st);
    buf[n++] = '[';
    for (i = 0; i < st.n_detectors; i++) {
        const struct lw_det_stats *d = &st.det[i];

        w = snprintf(buf + n, cap - n,
                     "%s{\"detector\":\"%s\",\"warming_up\":%s,\"have\":%llu,\"need\":%llu,"
                     "\"unit\":\"%s\"}",
                     i > 0 ? "," : "", st.names[i], d->warming_up ? "true" : "false",
                     (unsigned long long)d->warmup_have, (unsigned long long)d->warmup_need,
                     d->warmup_unit != NULL ? d->warmup_unit : "");
        if (w < 0 || (size_t)w >= cap - n - 1) {
            break; /* the note is cut at whole entries */
        }
        n += (size_t)w;
    }
    buf[n++] = ']';
    buf[n] = '\0';
}

static long tpl_lookup(void *opaque, uint32_t id, char *buf, size_t cap)
{
    struct lw_engine *e = opaque;

    return lw_miner_template(e->miner, id, buf, cap);
}

static uint32_t tpl_resolve(void *opaque, uint32_t id)
{
    struct lw_engine *e = opaque;

    return lw_miner_resolve(e->miner, id);
}

static uint64_t tpl_epoch(void *opaque)
{
    struct lw_engine *e = opaque;

    return lw_miner_epoch(e->miner);
}

static uint32_t tpl_nearest(void *opaque, uint32_t id, double *similarity, uint64_t *lines)
{
    struct lw_engine *e = opaque;

    return lw_miner_nearest(e->miner, id, similarity, lines);
}

/*
 * A detector's finding: straight to the alert manager (alerts must not wait for the store), and
 * into the pending transaction with the alert manager's decision.
 */
static void on_anomaly(void *opaque, const struct lw_anomaly *a)
{
    struct lw_engine *e = opaque;
    struct pend_anom *p;
    struct lw_alert_decision d;
    bool has_alert = false;
    int64_t now = now_ns();

    atomic_fetch_add(&e->anomalies, 1);
    memset(&d, 0, sizeof(d));
    /*
     * The alert manager's cool-down, grouping and limits run on event time, as the findings do:
     * a backfill is deduplicated and limited as the same events would be live.
     */
    if (a->ts_ns > e->alert_clock_ns) {
        e->alert_clock_ns = a->ts_ns;
    }
    if (e->alerter != NULL &&
        lw_alerter_submit(e->alerter, a, e->alert_clock_ns, &d) == LW_OK) {
        has_alert = true;
        if (d.alert) {
            atomic_fetch_add(&e->alerts, 1);
        }
    }
    if (e->cur->n_pend >= MAX_PENDING_ANOMALIES) {
        atomic_fetch_add(&e->anomalies_unstored, 1);
        return;
    }
    if (e->cur->n_pend == e->cur->cap_pend) {
        size_t nc = e->cur->cap_pend ? e->cur->cap_pend * 2 : 64;
        struct pend_anom *np = lw_realloc(e->cur->pend, nc * sizeof(*np));

        if (np == NULL) {
            atomic_fetch_add(&e->anomalies_unstored, 1);
            return;
        }
        e->cur->pend = np;
        e->cur->cap_pend = nc;
    }
    p = &e->cur->pend[e->cur->n_pend];
    memset(p, 0, sizeof(*p));
    p->strs = lw_malloc(lw_anomaly_strings_size(a) + 1);
    if (p->strs == NULL) {
        atomic_fetch_add(&e->anomalies_unstored, 1);
        return;
    }
    lw_anomaly_copy(&p->a, a, p->strs);
    /* Best effort: without memory the anomaly is stored without its context lines. */
    p->context = lw_ctx_ring_json(e->ctx_ring, a->source);
    p->has_alert = has_alert;
    p->d = d;
    p->created_ns = now;
    e->cur->n_pend++;
}


/* The detectors' figures for /metrics and `train`, copied under hist_mu. */
static void detect_snapshot(struct lw_engine *e)
{
    struct lw_detect_stats st;

    lw_detect_stage_get_stats(e->stage, &st);
    pthread_mutex_lock(&e->hist_mu);
    e->det_stats = st;
    pthread_mutex_unlock(&e->hist_mu);
    e->last_snap_ns = mono_ns();
    if (!e->conf.learn_only) {
        lw_detect_warmup_update(&e->warmup, &st); /* a log line when a warm-up starts or ends */
    }
    if (e->alerter != NULL) {
        lw_alerter_tick(e->alerter); /* the held-back summary, at most once a minute */
    }
}

/*
 * Moves the detectors to the event-time watermark. When every source is idle the windows it
 * closes may be partial (a paused stream, a backfill that ended): they are judged for what they
 * hold, not for what they lack.
 */
static void detect_tick(struct lw_engine *e)
{
    bool idle = false;
    int64_t now = now_ns();
    int64_t wm = engine_watermark(e, now, &idle);

    if (idle) {
        lw_detect_stage_flush(e->stage, wm);
    }
    else {
        lw_detect_stage_tick(e->stage, wm, now);
    }
    e->last_tick_ns = mono_ns();
    if (e->last_tick_ns - e->last_snap_ns >= DETECT_TICK_NS) {
        detect_snapshot(e); /* not per batch: a scrape reads it at most every few seconds */
    }
}

/*
 * Hands a counted batch's lines to the detectors, in ingest order. A line's source, for the
 * detectors, is the host its header names; without one, the sender for network inputs (syslog,
 * HTTP), the record's key for Kafka (when it names a host), and none for files and stdin: a
 * file's path says nothing about where its lines come from, and would differ between
 * `train --from app.log.1` and `run --tail app.log`. The line's
 * origin (the file, the sender) is passed as well: findings about one line name it when the
 * line names no host.
 */
static void detect_batch(struct lw_engine *e, const struct batch *b)
{
    size_t i;
    bool sharded;
    char host[256];

    if (e->stage == NULL) {
        return;
    }
    sharded = b->has_ck && b->shared; /* one shard's lines (a Kafka partition's) */
    /* Event times come from the clock (aggregate()): a line dated years ahead is not believed. */
    if (b->det != NULL) {
        for (i = 0; i < b->n; i++) {
            const struct line_det *d = &b->det[i];
            const char *line_src = b->src_of != NULL ? b->srcs[b->src_of[i]] : b->source;
            struct lw_det_event ev;

            memset(&ev, 0, sizeof(ev));
            ev.ts_ns = b->ts[i];
            ev.arrival_ns = b->arrival_ns;
            ev.template_id = b->tid[i];
            /* A template another instance mined first is not new to the cluster. */
            ev.new_template = d->new_tpl != 0 &&
                              !(sharded && lw__part_state_shared_template(e->parts, b->tid[i]));
            ev.level = b->level[i];
            if (d->host_len > 0) {
                memcpy(host, b->bytes + b->off[i] + d->host_off, d->host_len);
                host[d->host_len] = '\0';
                ev.source = host;
            }
            else {
                /* A Kafka record's key names its host (key_as_host), unless it names none. */
                ev.source = b->peer || (sharded && strcmp(line_src, b->ck.path) != 0) ? line_src
                                                                                    : "";
            }
            ev.origin = strcmp(line_src, "-") != 0 ? line_src : NULL;
            ev.msg = b->bytes + b->off[i] + d->msg_off;
            ev.msg_len = d->msg_len;
            ev.n_params = d->p_n;
            ev.params = d->p_n > 0 ? b->params + d->p_start : NULL;
            /*
             * Before observe: a finding about this very line has it in its context. Keyed as
             * the detectors name a finding's source: the host, else the input's origin.
             */
            lw_ctx_ring_add(e->ctx_ring,
                            ev.source[0] != '\0' || ev.origin == NULL ? ev.source : ev.origin,
                            ev.ts_ns, b->bytes + b->off[i], b->len[i]);
            lw_detect_stage_observe(e->stage, &ev);
            if (sharded) {
                lw__part_state_note(e->parts, b->ck.path, ev.source);
            }
        }
    }
    detect_tick(e);
}

static void pend_clear(struct pending *p)
{
    size_t i;

    for (i = 0; i < p->n_pend; i++) {
        lw_free(p->pend[i].strs);
        lw_free(p->pend[i].context);
    }
    p->n_pend = 0;
}

/* Keeps a delivery result for the next transaction (the oldest go when the buffer is full). */
static void on_delivery(void *opaque, const struct lw_alert_result *r)
{
    struct lw_engine *e = opaque;

    if (e->cur->n_results == ALERT_MAP) {
        memmove(e->cur->results, e->cur->results + 1, (ALERT_MAP - 1) * sizeof(e->cur->results[0]));
        e->cur->n_results--;
    }
    e->cur->results[e->cur->n_results].seq = r->alert_seq;
    e->cur->results[e->cur->n_results].sent = r->sent;
    e->cur->results[e->cur->n_results].sent_ns = r->sent_ns;
    e->cur->n_results++;
}

/*
 * The id a template has now: ids follow the template's text, and the parse workers counted these
 * lines under the id of the moment. Written under the live id, the rows of one template add up
 * across instances; earlier rows stay under the old ids, which the aliases map (store_aliases()).
 * An evicted template keeps the id it had.
 */
static uint32_t live_tid(struct lw_engine *e, uint32_t tid)
{
    uint32_t live = tid != 0 ? lw_miner_resolve(e->miner, tid) : 0;

    return live != 0 ? live : tid;
}

/* Inside the flush transaction: the pending anomalies, their alerts, delivery results. */
static int store_anomalies(struct lw_engine *e, const struct pending *pd)
{
    size_t i;
    int rc = LW_OK;

    for (i = 0; i < pd->n_pend && rc == LW_OK; i++) {
        struct pend_anom *p = &pd->pend[i];
        struct lw_store_anomaly sa;
        int64_t id = 0;

        memset(&sa, 0, sizeof(sa));
        sa.ts_ns = p->a.ts_ns;
        sa.detector = p->a.detector != NULL ? p->a.detector : "?";
        sa.score = p->a.score;
        sa.template_id = live_tid(e, p->a.template_id);
        sa.source = p->a.source;
        sa.summary = p->a.summary;
        sa.explanation_json = p->a.explanation_json;
        sa.samples_json = p->a.samples_json;
        sa.kind = p->a.kind;
        sa.key = p->a.key;
        sa.context_json = p->context;
        rc = lw_store_insert_anomaly(e->store, &sa, &id);
        if (rc == LW_OK && p->has_alert) {
            struct lw_store_alert al;
            int64_t aid = 0;

            memset(&al, 0, sizeof(al));
            al.anomaly_id = id;
            al.incident = p->d.incident;
            al.severity = p->d.severity ? p->d.severity : "warning";
            al.state = p->d.state ? p->d.state : "pending";
            al.created_ns = p->created_ns;
            rc = lw_store_insert_alert(e->store, &al, &aid);
            if (rc == LW_OK && p->d.alert_seq != 0) {
                size_t k = (size_t)(p->d.alert_seq % ALERT_MAP);

                e->alert_rows[k].seq = p->d.alert_seq;
                e->alert_rows[k].row = aid;
            }
        }
    }
    /* Applied in every transaction until one commits (pending_clear() empties the list). */
    for (i = 0; i < pd->n_results && rc == LW_OK; i++) {
        size_t k = (size_t)(pd->results[i].seq % ALERT_MAP);

        if (e->alert_rows[k].seq != pd->results[i].seq || e->alert_rows[k].row == 0) {
            continue; /* its row is older than the map remembers */
        }
        rc = lw_store_set_alert_state(e->store, e->alert_rows[k].row,
                                      pd->results[i].sent ? "sent" : "failed",
                                      pd->results[i].sent ? pd->results[i].sent_ns : 0);
        if (rc == LW_ENOENT) {
            rc = LW_OK;
        }
    }
    return rc;
}

static void ck_clear(struct pending *p)
{
    size_t i;

    for (i = 0; i < p->n_cks; i++) {
        lw_free(p->cks[i].input);
        lw_free(p->cks[i].path);
    }
    p->n_cks = 0;
}

/* Empties @p for reuse (its maps keep their capacity). */
static void pending_clear(struct pending *p)
{
    if (p->agg.v != NULL) {
        memset(p->agg.v, 0, p->agg.cap * sizeof(*p->agg.v));
    }
    p->agg.n = 0;
    if (p->tpls.v != NULL) {
        for (size_t i = 0; i < p->tpls.cap; i++) {
            lw_free(p->tpls.v[i].example);
        }
        memset(p->tpls.v, 0, p->tpls.cap * sizeof(*p->tpls.v));
    }
    p->tpls.n = 0;
    ck_clear(p);
    pend_clear(p);
    p->n_results = 0;
    p->pending_lines = 0;
    p->pending_batches = 0;
    p->save_miner = false;
    p->new_tpl = false;
    lw_wbuf_free(&p->models);
    p->has_models = false;
    p->note[0] = '\0';
}

static void pending_free(struct pending *p)
{
    pending_clear(p);
    lw_free(p->cks);
    lw_free(p->pend);
    lw_free(p->agg.v);
    lw_free(p->tpls.v);
    lw_free(p->results);
}

/*
 * A transaction failed (it was rolled back; its counts stay pending): pause ingest and say why,
 * once when it starts and then at most every STORE_LOG_EVERY_NS, naming the file and what the
 * operator can do. The store's message is taken before anything else runs on the handle.
 */
static void store_failed(struct lw_engine *e, const struct pending *p, int rc, const char *msg)
{
    int64_t now = mono_ns();
    unsigned long long pending = (unsigned long long)p->pending_lines;

    if (!atomic_load(&e->store_blocked)) {
        atomic_store(&e->store_blocked, true);
        e->blocked_since_ns = now;
        e->last_block_log_ns = 0;
    }
    if (e->last_block_log_ns != 0 && now - e->last_block_log_ns < STORE_LOG_EVERY_NS) {
        return;
    }
    e->last_block_log_ns = now;
    if (rc == LW_EFULL) {
        /* "disk full: DIR/logwarden.db: N bytes free" (or the store's own cap). */
        lw_error("engine", "%s; ingest paused until space is freed (%llu accepted lines pending,"
                           " retried every %lld s)",
                 msg, pending, STORE_RETRY_NS / 1000000000LL);
    }
    else if (rc == LW_EFENCED) {
        lw_error("engine", "%s; this instance stops so that it starts afresh (%llu lines pending,"
                           " read again by their partitions' owners)",
                 msg, pending);
    }
    else if (rc == LW_ECORRUPT) {
        lw_error("engine", "the store is damaged: %s; ingest paused (%llu accepted lines pending);"
                           " stop logwarden and see the damaged-store section of docs/daemon.md",
                 msg, pending);
    }
    else {
        lw_error("engine", "store transaction failed: %s (%s); ingest paused, %llu accepted lines"
                           " pending and retried",
                 msg, lw_strerror(rc), pending);
    }
}

/* After a commit: the alias changes drained so far are in the store. */
static void aliases_sent(struct lw_engine *e)
{
    lw_free(e->aliases_unsent);
    e->aliases_unsent = NULL;
    e->n_aliases_unsent = 0;
}

/*
 * Inside the flush transaction: the alias changes since the last commit, those of transactions
 * that failed first. They stay in e->aliases_unsent until a commit (aliases_sent()).
 */
static int store_aliases(struct lw_engine *e, struct lw_store *s)
{
    struct lw_alias *v = NULL;
    size_t n = 0;
    size_t i;
    int rc;

    rc = lw_miner_drain_aliases(e->miner, &v, &n);
    if (rc < 0) {
        return rc;
    }
    if (n > 0) {
        struct lw_alias *all = lw_realloc(e->aliases_unsent,
                                          (e->n_aliases_unsent + n) * sizeof(*all));

        if (all == NULL) {
            lw_free(v);
            /* The drained ones are lost: the whole table next time (not the removals). */
            lw_miner_alias_resync(e->miner);
            return LW_ENOMEM;
        }
        memcpy(all + e->n_aliases_unsent, v, n * sizeof(*v));
        e->aliases_unsent = all;
        e->n_aliases_unsent += n;
    }
    lw_free(v); /* may be an empty array */
    for (i = 0; i < e->n_aliases_unsent && rc == LW_OK; i++) {
        rc = lw_store_set_template_alias(s, e->aliases_unsent[i].from, e->aliases_unsent[i].to);
    }
    if (rc == LW_ENOTSUP) {
        aliases_sent(e); /* a backend without aliases */
        return LW_OK;
    }
    return rc;
}

static int agg_cmp(const void *x, const void *y)
{
    const struct agg_ent *a = x, *b = y;

    if (a->kind != b->kind) {
        return a->kind < b->kind ? -1 : 1;
    }
    if (a->win != b->win) {
        return a->win < b->win ? -1 : 1;
    }
    if (a->tid != b->tid) {
        return a->tid < b->tid ? -1 : 1;
    }
    return a->src < b->src ? -1 : a->src > b->src;
}

/*
 * Packs the used entries of @a at its front, in the order of the tables' keys (kind, window,
 * template, source), so that consecutive upserts land on the same b-tree pages: in hash order
 * each one touched another leaf. @a is no longer a hash map afterwards, only a list of a->n
 * entries; pending_clear() makes it an empty map again. Idempotent (a failed transaction is
 * written again from the same list).
 */
static void agg_sort(struct agg *a)
{
    size_t i, n = 0;

    for (i = 0; i < a->cap; i++) {
        if (a->v[i].used) {
            if (i != n) {
                a->v[n] = a->v[i];
                memset(&a->v[i], 0, sizeof(a->v[i]));
            }
            n++;
        }
    }
    if (n > 1) {
        qsort(a->v, n, sizeof(a->v[0]), agg_cmp);
    }
    a->n = n;
}

/*
 * The name of source @id for the writer: names below p->n_sources were set before @p was handed
 * over and never change, so they are read without a lock.
 */
static const char *job_source(const struct lw_engine *e, const struct pending *p, uint32_t id)
{
    return id < p->n_sources ? e->sources[id] : "(other)";
}

static void durable_note(struct lw_engine *e, const struct pending *p);

/*
 * Writes @p in one transaction (store writer thread; at stop, the aggregator once the writer has
 * ended). On failure @p is kept whole for the retry: nothing of it was committed.
 */
static int job_write(struct lw_engine *e, struct pending *p)
{
    struct lw_store *s = e->store;
    int64_t t0 = mono_ns();
    int64_t now = now_ns();
    char msg[512];
    char small[1024];
    char *blob = NULL;
    size_t blob_len = 0;
    char *text = small;
    size_t text_cap = sizeof(small);
    int rc;
    size_t i;

    agg_sort(&p->agg);
    rc = lw_store_begin(s);
    for (i = 0; i < p->agg.n && rc == LW_OK; i++) {
        const struct agg_ent *a = &p->agg.v[i];

        switch (a->kind) {
        case LW_AGG_TEMPLATE:
            rc = lw_store_add_window_count(s, a->win, live_tid(e, a->tid), a->count);
            break;
        case LW_AGG_SOURCE:
            rc = lw_store_add_source_count(s, a->win, live_tid(e, a->tid),
                                           job_source(e, p, a->src - 1), a->count);
            break;
        default:
            rc = lw_store_add_level_count(s, a->win, (int)a->tid, a->count);
            break;
        }
    }
    for (i = 0; i < p->tpls.cap && rc == LW_OK; i++) {
        const struct tpl_delta *d = &p->tpls.v[i];
        uint32_t tid;
        long n;

        if (!d->used) {
            continue;
        }
        tid = live_tid(e, d->tid);
        n = lw_miner_template(e->miner, d->tid, text, text_cap);
        if (n >= (long)text_cap) {
            char *nb = lw_malloc((size_t)n + 1);

            if (nb == NULL) {
                rc = LW_ENOMEM;
                break;
            }
            if (text != small) {
                lw_free(text);
            }
            text = nb;
            text_cap = (size_t)n + 1;
            n = lw_miner_template(e->miner, d->tid, text, text_cap);
        }
        if (n < 0) {
            continue; /* evicted meanwhile: its counts stay in the window rows */
        }
        rc = lw_store_upsert_template(s, tid, text, d->first_ns, d->last_ns, d->count);
        if (rc == LW_OK && d->example != NULL) {
            rc = lw_store_add_example(s, tid, d->example_ns, job_source(e, p, d->example_src),
                                      d->example);
            rc = rc == LW_ENOTSUP ? LW_OK : rc;
        }
    }
    if (text != small) {
        lw_free(text);
    }
    for (i = 0; i < p->n_cks && rc == LW_OK; i++) {
        rc = lw_store_set_checkpoint(s, &p->cks[i].ck, p->cks[i].input);
    }
    if (rc == LW_OK && p->pending_lines > 0) {
        rc = lw_store_add_stored_lines(s, p->pending_lines);
    }
    /*
     * The miner's state before its aliases: a loaded state takes its aliases as stored, so each
     * one in it must be in this transaction or an earlier one. The parse workers mine on
     * meanwhile; an alias made between a drain and a later save would be in the state and never
     * in the store (a generalised template's old id left live, seen after a SIGKILL).
     */
    if (rc == LW_OK && p->save_miner) {
        rc = lw_miner_save_buf(e->miner, &blob, &blob_len);
    }
    if (rc == LW_OK) {
        rc = store_aliases(e, s);
    }
    if (rc == LW_OK) {
        rc = store_anomalies(e, p);
    }
    if (rc == LW_OK && p->save_miner) {
        rc = lw_store_save_miner(s, blob, blob_len);
        if (rc == LW_OK && p->has_models) {
            rc = lw_store_save_models(s, p->models.p, p->models.len);
            if (rc == LW_OK && p->note[0] != '\0') {
                rc = lw_store_set_note(s, "detectors", p->note);
            }
        }
    }
    if (rc == LW_OK) {
        rc = lw_store_commit(s);
    }
    lw_free(blob);
    if (rc < 0) {
        /* The store's message, before a rollback can replace it. */
        snprintf(msg, sizeof(msg), "%s", rc == LW_ENOMEM ? "out of memory" : lw_store_errmsg(s));
        lw_store_rollback(s);
        atomic_store(&e->last_rc, rc);
        store_failed(e, p, rc, msg);
        /* Counted once ingest is refused (store_failed()): a reader of the count sees it. */
        atomic_fetch_add(&e->store_errors, 1);
        return rc;
    }
    atomic_store(&e->last_rc, LW_OK);
    aliases_sent(e);
    if (atomic_load(&e->store_blocked)) {
        lw_info("engine", "the store commits again after %.1f s: %llu pending lines stored;"
                          " ingest resumed",
                (double)(mono_ns() - e->blocked_since_ns) / 1e9,
                (unsigned long long)p->pending_lines);
        atomic_store(&e->store_blocked, false);
    }
    {
        int64_t t1 = mono_ns();
        uint64_t total = 0;

        pthread_mutex_lock(&e->hist_mu);
        hist_add(e->store_hist, &e->store_hist_sum, &e->store_hist_n, (double)(t1 - t0) / 1e9);
        if (p->pending_batches > 0) {
            hist_add(e->batch_hist, &e->batch_hist_sum, &e->batch_hist_n,
                     (double)(t1 - p->oldest_pending_ingest_ns) / 1e9);
        }
        pthread_mutex_unlock(&e->hist_mu);
        atomic_fetch_add(&e->lines_stored, p->pending_lines);
        atomic_fetch_add(&e->store_commits, 1);
        durable_note(e, p);
        if (lw_store_stored_lines(s, &total) == LW_OK) {
            atomic_store(&e->stored_total, total);
        }
    }
    pending_clear(p);
    if (now - e->last_prune_ns >= PRUNE_EVERY_NS) {
        uint64_t n = 0;
        int prc = lw_store_prune(s, now, &n);

        if (n > 0) {
            lw_info("engine", "retention: removed %llu old rows", (unsigned long long)n);
        }
        if (prc < 0) {
            /* Not a failed transaction: the lines are stored; only old rows stay longer. */
            lw_warn("engine", "retention: removing old rows failed: %s; retried in %lld s",
                    prc == LW_ENOMEM ? "out of memory" : lw_store_errmsg(s),
                    PRUNE_EVERY_NS / 1000000000LL);
        }
        e->last_prune_ns = now;
    }
    return LW_OK;
}

/* After a commit: the checkpoints @p carried are durable now (lw_engine_durable()). */
static void durable_note(struct lw_engine *e, const struct pending *p)
{
    size_t i;

    pthread_mutex_lock(&e->dur_mu);
    for (i = 0; i < p->n_cks; i++) {
        const struct ck_ent *c = &p->cks[i];
        struct durable_ent *d = NULL;
        size_t j;

        /*
         * Only inputs of shared shards ask (a Kafka input's partitions are few; a tail input
         * over thousands of files would make this search cost per commit what it saves).
         */
        if (!c->shared) {
            continue;
        }
        for (j = 0; j < e->n_dur && d == NULL; j++) {
            d = strcmp(e->dur[j].path, c->path) == 0 && strcmp(e->dur[j].input, c->input) == 0
                    ? &e->dur[j]
                    : NULL;
        }
        if (d == NULL) {
            if (e->n_dur == e->cap_dur) {
                size_t cap = e->cap_dur ? e->cap_dur * 2 : 16;
                struct durable_ent *nv;

                if (cap > DURABLE_MAX) {
                    continue; /* full: the input asks the store for the rest */
                }
                nv = lw_realloc(e->dur, cap * sizeof(*nv));
                if (nv == NULL) {
                    continue;
                }
                e->dur = nv;
                e->cap_dur = cap;
            }
            d = &e->dur[e->n_dur];
            d->input = lw_strdup(c->input);
            d->path = lw_strdup(c->path);
            if (d->input == NULL || d->path == NULL) {
                lw_free(d->input);
                lw_free(d->path);
                continue;
            }
            e->n_dur++;
        }
        d->ck = c->ck;
        d->ck.path = NULL;
    }
    pthread_mutex_unlock(&e->dur_mu);
}

int lw_engine_durable(struct lw_engine *e, const char *input, const char *path,
                      struct lw_ingest_checkpoint *out)
{
    int found = 0;
    size_t i;

    if (e == NULL || input == NULL || path == NULL) {
        return 0;
    }
    /* Only shared shards are recorded (durable_note()): any other input finds none. */
    pthread_mutex_lock(&e->dur_mu);
    for (i = 0; i < e->n_dur && !found; i++) {
        if (strcmp(e->dur[i].path, path) == 0 && strcmp(e->dur[i].input, input) == 0) {
            *out = e->dur[i].ck;
            found = 1;
        }
    }
    pthread_mutex_unlock(&e->dur_mu);
    return found;
}

/* job_write() under store_mu (part_state.c uses the store from the aggregator thread). */
static int locked_write(struct lw_engine *e, struct pending *p)
{
    int rc;

    pthread_mutex_lock(&e->store_mu);
    rc = job_write(e, p);
    pthread_mutex_unlock(&e->store_mu);
    return rc;
}

/*
 * The store writer thread: writes each handed-over transaction, and retries one that failed
 * (a full disk, a locked database) every STORE_RETRY_NS until it commits or the engine stops
 * (final_flush() then takes what is left).
 */
static void *writer_main(void *arg)
{
    struct lw_engine *e = arg;

    thread_name("lw-store");
    pthread_mutex_lock(&e->wmu);
    for (;;) {
        int rc;

        while (!e->job_ready && !e->wstop) {
            pthread_cond_wait(&e->wcv, &e->wmu);
        }
        if (!e->job_ready) {
            break; /* stopping, nothing to write */
        }
        pthread_mutex_unlock(&e->wmu);
        rc = locked_write(e, e->job);
        pthread_mutex_lock(&e->wmu);
        pthread_cond_broadcast(&e->wcv); /* a waiting flush_submit() sees the outcome */
        if (rc == LW_OK) {
            e->job_ready = false;
            continue;
        }
        if (e->wstop) {
            break; /* final_flush() retries it */
        }
        {
            struct timespec until;
            int64_t rt = now_ns() + STORE_RETRY_NS;

            until.tv_sec = rt / 1000000000LL;
            until.tv_nsec = rt % 1000000000LL;
            pthread_cond_timedwait(&e->wcv, &e->wmu, &until);
        }
        if (e->wstop) {
            break;
        }
    }
    pthread_mutex_unlock(&e->wmu);
    return NULL;
}

/*
 * Prepares e->cur for writing: the decision to save the miner and the models, and the models'
 * state, which only this thread may read. Aggregator thread.
 */
static int pending_seal(struct lw_engine *e, bool force_miner)
{
    struct pending *p = e->cur;
    int64_t t0 = mono_ns();
    int rc = LW_OK;
    bool cadence = force_miner || t0 - e->last_miner_save_ns >= e->conf.miner_save_ns;

    /*
     * The miner goes with every transaction whose counts name a new template (their ids must be
     * in its state); the detectors' models only every miner_save_ns and at stop: they were
     * saved with each new template too, 3.5 MB per transaction on bench/run-http-mixed.sh.
     */
    p->new_tpl = atomic_exchange(&e->new_templates, false);
    p->save_miner = cadence || p->new_tpl;
    p->n_sources = e->n_sources;
    if (cadence) {
        e->last_miner_save_ns = t0;
        if (e->stage != NULL) {
            lw_wbuf_free(&p->models);
            rc = lw_detect_stage_save(e->stage, &p->models);
            p->has_models = rc == LW_OK;
            if (rc == LW_OK) {
                save_warmup_note(e, p->note, sizeof(p->note));
            }
        }
    }
    return rc;
}

/*
 * Hands what is pending to the store writer (one transaction at a time): LW_OK when handed over
 * or nothing to write, LW_EAGAIN when the writer still has the previous one (counting goes on;
 * the next flush tries again). With @wait, waits for the writer first (while the store commits;
 * a failing store gives LW_EAGAIN at once). Aggregator thread.
 */
static int flush_submit(struct lw_engine *e, bool force_miner, bool wait)
{
    struct pending *t;
    int rc;

    if (e->alerter != NULL) {
        lw_alerter_poll(e->alerter, on_delivery, e);
    }
    if (e->cur->pending_batches == 0 && e->cur->n_pend == 0 && e->cur->n_results == 0 &&
        !force_miner) {
        return LW_OK; /* the new-template flag stays set for the flush that has counts */
    }
    pthread_mutex_lock(&e->wmu);
    while (wait && e->job_ready && atomic_load(&e->last_rc) == LW_OK) {
        pthread_cond_wait(&e->wcv, &e->wmu);
    }
    if (e->job_ready) {
        pthread_mutex_unlock(&e->wmu);
        return LW_EAGAIN;
    }
    pthread_mutex_unlock(&e->wmu);
    rc = pending_seal(e, force_miner);
    if (rc < 0) {
        return rc;
    }
    pthread_mutex_lock(&e->wmu);
    t = e->job;
    e->job = e->cur;
    e->cur = t;
    e->job_ready = true;
    pthread_cond_broadcast(&e->wcv);
    pthread_mutex_unlock(&e->wmu);
    return LW_OK;
}

/*
 * While the store fails, pending counts are kept for the retry; past a bound the aggregator
 * stops taking batches, so that they stay in flight and backpressure reaches the inputs instead
 * of the maps growing without limit.
 */
static bool store_stuck(const struct lw_engine *e)
{
    return atomic_load(&e->last_rc) < 0 && e->cur->pending_batches >= 256;
}

/*
 * Writes @p at stop, the writer thread having ended. What it holds was accepted (HTTP answered
 * 202, syslog was read), so a store that cannot commit now (a full disk, a locked database) is
 * given until @t0 + STOP_RETRY_NS to come back before those lines are given up; a damaged one is
 * not waited for.
 */
static int final_write(struct lw_engine *e, struct pending *p, int64_t t0)
{
    int rc = locked_write(e, p);

    if (rc == LW_EFENCED) {
        lw_error("engine", "stopping: the last transaction (%llu lines) is fenced: the lines of"
                           " the partitions another instance took are counted there; lines of"
                           " other inputs in it are not stored",
                 (unsigned long long)p->pending_lines);
        return rc;
    }
    if (rc < 0 && rc != LW_ECORRUPT) {
        lw_warn("engine", "stopping: the store cannot commit the last %llu accepted lines;"
                          " retrying for up to %lld s (free space now if the disk is full)",
                (unsigned long long)p->pending_lines, STOP_RETRY_NS / 1000000000LL);
    }
    while (rc < 0 && rc != LW_ECORRUPT && mono_ns() - t0 < STOP_RETRY_NS) {
        usleep((useconds_t)(STORE_RETRY_NS / 1000));
        rc = locked_write(e, p);
    }
    if (rc < 0) {
        lw_error("engine", "%llu accepted lines are not stored: lines from files are read again"
                           " at the next start (their checkpoints were not committed), lines"
                           " from syslog, HTTP and stdin are lost",
                 (unsigned long long)p->pending_lines);
    }
    return rc;
}

/* The last transactions, at stop: the writer's unfinished one first, then the rest. */
static void final_flush(struct lw_engine *e)
{
    int64_t t0 = mono_ns();
    int rc = LW_OK;

    if (e->writer_started) {
        pthread_mutex_lock(&e->wmu);
        e->wstop = true;
        pthread_cond_broadcast(&e->wcv);
        pthread_mutex_unlock(&e->wmu);
        pthread_join(e->writer_thread, NULL);
        e->writer_started = false;
    }
    if (e->job_ready) {
        rc = final_write(e, e->job, t0);
        e->job_ready = rc < 0;
    }
    if (e->alerter != NULL) {
        lw_alerter_poll(e->alerter, on_delivery, e);
    }
    if (rc == LW_OK && pending_seal(e, true) == LW_OK) {
        final_write(e, e->cur, t0);
    }
    else if (e->cur->pending_lines > 0) {
        lw_error("engine", "%llu more accepted lines are not stored",
                 (unsigned long long)e->cur->pending_lines);
    }
}

static void *agg_main(void *arg)
{
    struct lw_engine *e = arg;
    int64_t last_flush = mono_ns();

    thread_name("lw-aggregate");

    for (;;) {
        struct batch *b = NULL;
        bool done = false;
        struct timespec until;
        /* A store that cannot commit is retried once a second, not at every flush interval. */
        int64_t deadline = last_flush + (atomic_load(&e->store_blocked) &&
                                                 e->conf.flush_ns < STORE_RETRY_NS
                                             ? STORE_RETRY_NS
                                             : e->conf.flush_ns);
        int64_t rt;

        pthread_mutex_lock(&e->mu);
        for (;;) {
            if (e->parsed != NULL && e->parsed->seq == e->want_seq &&
                (!store_stuck(e) || e->stopping)) {
                b = e->parsed;
                e->parsed = b->next;
                e->parsed_len--;
                break;
            }
            if (e->stopping && e->workers_alive == 0 && e->q_head == NULL) {
                done = e->parsed == NULL || e->parsed->seq != e->want_seq;
                break;
            }
            if (mono_ns() >= deadline) {
                break;
            }
            rt = now_ns() + (deadline - mono_ns());
            until.tv_sec = rt / 1000000000LL;
            until.tv_nsec = rt % 1000000000LL;
            pthread_cond_timedwait(&e->done_cv, &e->mu, &until);
        }
        pthread_mutex_unlock(&e->mu);

        if (b != NULL) {
            int rc = aggregate(e, b);

            for (int tries = 0; rc == LW_ENOMEM; tries++) {
                if (tries >= 50 || (e->cur->pending_batches == 0 && tries >= 3)) {
                    lw_error("engine", "out of memory: a batch of %zu lines could not be "
                                       "counted and is dropped",
                             b->n);
                    break;
                }
                /*
                 * Out of memory: write what is pending (which empties the maps) and count the
                 * batch again; nothing of it was counted. A failed write keeps the pending
                 * counts and is retried after a pause.
                 */
                if (e->cur->pending_batches > 0 && flush_submit(e, false, true) == LW_OK) {
                    last_flush = mono_ns();
                }
                else {
                    usleep(100000);
                }
                rc = aggregate(e, b);
            }
            if (rc == LW_OK) {
                detect_batch(e, b);
            }
            if (b->gflags != 0) {
                lw__part_state_mark(e->parts, b->gflags, b->ck.path, b->ck.dev);
                /* An input waits for a claim or a release to be stored: it goes out now. */
                deadline = mono_ns();
            }
            e->want_seq++;
            pthread_mutex_lock(&e->mu);
            e->inflight_bytes -= b->mem;
            pthread_mutex_unlock(&e->mu);
            e->agg_batch_bytes = 0;
            batch_free(b);
        }
        if (done) {
            break;
        }
        if (e->stage != NULL && b == NULL && mono_ns() - e->last_tick_ns >= DETECT_TICK_NS) {
            detect_tick(e);
        }
        lw__part_state_tick(e->parts, mono_ns());
        if (mono_ns() >= deadline) {
            int frc = flush_submit(e, false, false);

            last_flush = mono_ns(); /* on failure retried at the next interval, counts kept */
            if (frc == LW_EAGAIN && !atomic_load(&e->store_blocked)) {
                /* The writer is still busy with the last one: try again soon. */
                last_flush -= e->conf.flush_ns - e->conf.flush_ns / 20;
            }
        }
    }
    if (e->stage != NULL && e->conf.learn_only) {
        /* Training: the history is over, its open sessions are finished ones. */
        lw_detect_stage_end_sessions(e->stage, "timeout");
    }
    if (e->stage != NULL && lw_clock_newest(e->clock) != INT64_MIN) {
        /*
         * The input is over (or the daemon stops): the windows that hold the last lines close,
         * judged for what they hold. Open sessions stay open (they are not judged unfinished).
         */
        lw_detect_stage_flush(e->stage, lw_clock_newest(e->clock) + e->conf.window_ns - 1);
    }
    if (e->stage != NULL) {
        detect_snapshot(e); /* the final figures (lw_engine_stop_stats) */
    }
    final_flush(e);
    lw__part_state_save_all(e->parts);
    return NULL;
}

/* ---- life cycle ---- */

static void engine_free(struct lw_engine *e)
{
    size_t i;

    if (e == NULL) {
        return;
    }
    while (e->q_head != NULL) {
        struct batch *b = e->q_head;

        e->q_head = b->next;
        batch_free(b);
    }
    while (e->parsed != NULL) {
        struct batch *b = e->parsed;

        e->parsed = b->next;
        batch_free(b);
    }
    pending_free(&e->pends[0]);
    pending_free(&e->pends[1]);
    lw__part_state_destroy(e->parts);
    lw_detect_stage_destroy(e->stage);
    lw_ctx_ring_destroy(e->ctx_ring);
    for (i = 0; i < e->n_sources; i++) {
        lw_free(e->sources[i]);
    }
    lw_free(e->sources);
    lw_free(e->src_map);
    for (i = 0; e->workers != NULL && i < e->conf.workers; i++) {
        lw_miner_scratch_destroy(e->workers[i].ms);
        lw_header_state_destroy(e->workers[i].hst);
    }
    lw_free(e->workers);
    lw_miner_destroy(e->miner);
    lw_clock_destroy(e->clock);
    lw_header_destroy(e->header);
    pthread_mutex_destroy(&e->hist_mu);
    for (i = 0; i < e->n_dur; i++) {
        lw_free(e->dur[i].input);
        lw_free(e->dur[i].path);
    }
    lw_free(e->dur);
    lw_free(e->aliases_unsent);
    pthread_mutex_destroy(&e->dur_mu);
    pthread_cond_destroy(&e->wcv);
    pthread_mutex_destroy(&e->wmu);
    pthread_mutex_destroy(&e->store_mu);
    pthread_cond_destroy(&e->done_cv);
    pthread_cond_destroy(&e->work_cv);
    pthread_mutex_destroy(&e->mu);
    lw_free(e);
}

struct lw_engine *lw_engine_start(const struct lw_engine_conf *conf, char *err, size_t err_len)
{
    struct lw_engine *e;
    struct lw_miner_conf mc;
    char *blob = NULL;
    size_t blob_len = 0;
    uint64_t total = 0;
    size_t i;
    int rc;

    if (conf == NULL || conf->store == NULL) {
        snprintf(err, err_len, "engine: no store");
        return NULL;
    }
    e = lw_calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    e->conf = *conf;
    e->store = conf->store;
    if (e->conf.workers == 0) {
        e->conf.workers = DEF_WORKERS;
    }
    if (e->conf.queue_batches == 0) {
        e->conf.queue_batches = DEF_QUEUE;
    }
    if (e->conf.memory_limit_bytes == 0) {
        e->conf.memory_limit_bytes = DEF_MEMORY;
    }
    if (e->conf.window_ns <= 0) {
        e->conf.window_ns = DEF_WINDOW_NS;
    }
    if (e->conf.lateness_ns <= 0) {
        e->conf.lateness_ns = DEF_LATENESS_NS;
    }
    if (e->conf.flush_ns <= 0) {
        e->conf.flush_ns = DEF_FLUSH_NS;
    }
    if (e->conf.miner_save_ns <= 0) {
        e->conf.miner_save_ns = DEF_MINER_SAVE_NS;
    }
    if (e->conf.retention_ns <= 0) {
        e->conf.retention_ns = DEF_RETENTION_NS;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->hist_mu, NULL);
    pthread_mutex_init(&e->dur_mu, NULL);
    pthread_cond_init(&e->work_cv, NULL);
    pthread_cond_init(&e->done_cv, NULL);
    pthread_mutex_init(&e->wmu, NULL);
    pthread_cond_init(&e->wcv, NULL);
    pthread_mutex_init(&e->store_mu, NULL);
    e->cur = &e->pends[0];
    e->job = &e->pends[1];
    e->pends[0].results = lw_calloc(ALERT_MAP, sizeof(struct delivery));
    e->pends[1].results = lw_calloc(ALERT_MAP, sizeof(struct delivery));
    if (e->pends[0].results == NULL || e->pends[1].results == NULL) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    e->alert_clock_ns = INT64_MIN;
    {
        struct lw_clock_conf cc;

        memset(&cc, 0, sizeof(cc));
        cc.lateness_ns = e->conf.lateness_ns;
        cc.max_jump_ns = e->conf.max_jump_ns;
        cc.idle_ns = e->conf.idle_ns;
        cc.max_lag_ns = e->conf.max_lag_ns;
        cc.idle_close_ns = e->conf.window_ns - 1;
        cc.window_ns = e->conf.window_ns;
        if (conf->detect != NULL && conf->detect->volume.window_ns - 1 > cc.idle_close_ns) {
            cc.idle_close_ns = conf->detect->volume.window_ns - 1;
        }
        e->clock = lw_clock_create(&cc);
        if (e->clock == NULL) {
            snprintf(err, err_len, "out of memory");
            goto fail;
        }
    }
    e->last_miner_save_ns = mono_ns();
    e->last_prune_ns = now_ns();
    e->sources = lw_calloc(MAX_SOURCES, sizeof(*e->sources));
    e->src_map = lw_calloc(2 * MAX_SOURCES, sizeof(*e->src_map));
    if (e->sources == NULL || e->src_map == NULL) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    e->header = lw_header_create(conf->format, err, err_len);
    if (e->header == NULL) {
        goto fail;
    }
    memset(&mc, 0, sizeof(mc));
    mc.max_templates = conf->max_templates;
    e->miner = lw_miner_create(&mc, err, err_len);
    if (e->miner == NULL) {
        goto fail;
    }
    rc = lw_store_load_miner(e->store, &blob, &blob_len);
    if (rc == LW_OK && blob != NULL) {
        char lerr[256];

        rc = lw_miner_load_buf(e->miner, blob, blob_len, lerr, sizeof(lerr));
        lw_free(blob);
        blob = NULL;
        if (rc < 0) {
            snprintf(err, err_len, "the miner state in the store cannot be loaded: %s", lerr);
            goto fail;
        }
        lw_info("engine", "miner state loaded: %zu templates", lw_miner_n_templates(e->miner));
    }
    else if (rc != LW_ENOENT && rc != LW_OK) {
        /* Starting with an empty miner here would hand out the stored templates' ids again. */
        snprintf(err, err_len, "the miner state in the store cannot be read: %s",
                 lw_store_errmsg(e->store));
        goto fail;
    }
    {
        uint32_t max_id = 0;
        bool moved = false;
        int mrc = lw_store_max_template_id(e->store, &max_id);

        if (mrc < 0) {
            snprintf(err, err_len, "the store's templates cannot be read: %s",
                     lw_store_errmsg(e->store));
            goto fail;
        }
        /*
         * Template ids must never be handed out twice: window rows, anomalies and the
         * templates table keep the old meaning of an id. A missing or older miner state (a lost
         * or restored miner_state row) would start again at a lower id.
         */
        moved = max_id > 0 && lw_miner_continue_ids(e->miner, max_id);
        if (moved) {
            atomic_store(&e->new_templates, true); /* saved with the first counts */
            lw_warn("engine", "the store holds templates up to id %u but %s: new templates are"
                              " numbered from %u on so that no id is reused (lines of the earlier"
                              " templates get new ids; their history stays under the old ones)",
                    max_id, rc == LW_ENOENT ? "no miner state" : "an older miner state",
                    max_id + 1);
        }
    }
    if (lw_store_stored_lines(e->store, &total) == LW_OK) {
        atomic_store(&e->stored_total, total);
    }
    if (conf->detect != NULL) {
        e->stage = lw_detect_stage_create(conf->detect, on_anomaly, tpl_lookup, e, err, err_len);
        if (e->stage == NULL) {
            goto fail;
        }
        /* Best effort too: with no ring, anomalies are stored without context lines. */
        e->ctx_ring = lw_ctx_ring_create();
        e->alerter = conf->alerter;
        e->want_params = conf->detect->params.enabled;
        lw_detect_stage_learn_only(e->stage, conf->learn_only);
        lw_detect_stage_set_resolver(e->stage, tpl_resolve, tpl_epoch);
        if (!conf->learn_only) {
            lw_detect_stage_set_join_grace(e->stage, conf->detect->session.timeout_ns);
        }
        lw_detect_stage_set_nearest(e->stage, tpl_nearest);
        {
            int checked = 0;

            rc = lw_store_load_models(e->store, &blob, &blob_len, &checked);
            if (rc == LW_OK && !checked) {
                lw_warn("engine", "the detector models in the store were saved without a"
                                  " checksum (by an older logwarden): loaded unchecked; the next"
                                  " save adds one");
            }
            else if (rc < 0 && rc != LW_ENOENT) {
                /* A bit flip must not become a model: learn again from the logs. */
                lw_warn("engine", "%s; the detectors start learning afresh",
                        lw_store_errmsg(e->store));
            }
        }
        if (rc == LW_OK && blob != NULL) {
            char lerr[256] = "";

            rc = lw_detect_stage_load(e->stage, blob, blob_len, lerr, sizeof(lerr));
            lw_free(blob);
            blob = NULL;
            if (rc < 0) {
                /* Models are learned again; the data that taught them is still in the logs. */
                lw_warn("engine", "%s: those detectors start learning afresh", lerr);
            }
            else {
                lw_info("engine", "detector models loaded");
            }
        }
        e->last_tick_ns = mono_ns();
    }
    e->parts = lw__part_state_create(e->store, &e->store_mu, e->stage, e->conf.miner_save_ns);
    if (e->parts == NULL) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    e->workers = lw_calloc(e->conf.workers, sizeof(*e->workers));
    if (e->workers == NULL) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    for (i = 0; i < e->conf.workers; i++) {
        struct worker *w = &e->workers[i];

        w->e = e;
        w->hst = lw_header_state_create(e->header);
        w->ms = lw_miner_scratch_create(e->miner);
        if (w->hst == NULL || w->ms == NULL) {
            snprintf(err, err_len,
                     "out of memory for the state of %zu parse workers: free memory, or set"
                     " fewer (pipeline.workers, -j)",
                     e->conf.workers);
            goto fail;
        }
        if (e->want_params) {
            lw_miner_scratch_params(w->ms, 1);
        }
    }
    for (i = 0; i < e->conf.workers; i++) {
        pthread_mutex_lock(&e->mu);
        e->workers_alive++;
        pthread_mutex_unlock(&e->mu);
        if (pthread_create(&e->workers[i].thread, NULL, worker_main, &e->workers[i]) != 0) {
            pthread_mutex_lock(&e->mu);
            e->workers_alive--;
            pthread_mutex_unlock(&e->mu);
            snprintf(err, err_len, "cannot start a parse thread: %s", strerror(errno));
            goto fail_threads;
        }
        e->n_workers++;
    }
    if (pthread_create(&e->writer_thread, NULL, writer_main, e) != 0) {
        snprintf(err, err_len, "cannot start the store writer thread: %s", strerror(errno));
        goto fail_threads;
    }
    e->writer_started = true;
    if (pthread_create(&e->agg_thread, NULL, agg_main, e) != 0) {
        snprintf(err, err_len, "cannot start the aggregator thread: %s", strerror(errno));
        goto fail_threads;
    }
    e->agg_started = true;
    return e;

fail_threads:
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_broadcast(&e->work_cv);
    pthread_mutex_unlock(&e->mu);
    for (i = 0; i < e->n_workers; i++) {
        pthread_join(e->workers[i].thread, NULL);
    }
    if (e->writer_started) {
        pthread_mutex_lock(&e->wmu);
        e->wstop = true;
        pthread_cond_broadcast(&e->wcv);
        pthread_mutex_unlock(&e->wmu);
        pthread_join(e->writer_thread, NULL);
    }
fail:
    engine_free(e);
    return NULL;
}

int lw_engine_fenced(struct lw_engine *e)
{
    return e != NULL && atomic_load(&e->last_rc) == LW_EFENCED;
}

int lw_engine_stop(struct lw_engine *e)
{
    return lw_engine_stop_stats(e, NULL, NULL);
}

int lw_engine_stop_stats(struct lw_engine *e, struct lw_engine_stats *es,
                         struct lw_detect_stats *ds)
{
    size_t i;
    int rc;

    if (e == NULL) {
        return LW_OK;
    }
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_broadcast(&e->work_cv);
    pthread_cond_broadcast(&e->done_cv);
    pthread_mutex_unlock(&e->mu);
    for (i = 0; i < e->n_workers; i++) {
        pthread_join(e->workers[i].thread, NULL);
    }
    if (e->agg_started) {
        pthread_join(e->agg_thread, NULL);
    }
    rc = atomic_load(&e->last_rc);
    if (es != NULL) {
        lw_engine_get_stats(e, es);
    }
    if (ds != NULL) {
        lw_engine_get_detect_stats(e, ds);
    }
    engine_free(e);
    return rc;
}

void lw_engine_get_detect_stats(struct lw_engine *e, struct lw_detect_stats *out)
{
    pthread_mutex_lock(&e->hist_mu);
    *out = e->det_stats;
    pthread_mutex_unlock(&e->hist_mu);
}

void lw_engine_get_stats(struct lw_engine *e, struct lw_engine_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->lines_in = atomic_load(&e->lines_in);
    out->bytes_in = atomic_load(&e->bytes_in);
    out->groups_refused = atomic_load(&e->groups_refused);
    out->lines_parsed = atomic_load(&e->lines_parsed);
    out->lines_late = atomic_load(&e->lines_late);
    pthread_mutex_lock(&e->hist_mu);
    out->time_inherited = e->clock_stats.inherited;
    out->time_arrival = e->clock_stats.arrival;
    out->time_outliers = e->clock_stats.outliers;
    out->time_jumps = e->clock_stats.jumps;
    out->sources = e->clock_stats.sources;
    out->sources_idle = e->clock_stats.sources_idle;
    pthread_mutex_unlock(&e->hist_mu);
    out->lines_truncated = atomic_load(&e->lines_truncated);
    out->lines_invalid = atomic_load(&e->lines_invalid);
    out->header_mismatch = atomic_load(&e->header_mismatch);
    out->lines_stored = atomic_load(&e->lines_stored);
    out->stored_total = atomic_load(&e->stored_total);
    out->store_commits = atomic_load(&e->store_commits);
    out->store_errors = atomic_load(&e->store_errors);
    out->watermark_ns = atomic_load(&e->watermark_ns);
    out->templates = lw_miner_n_templates(e->miner);
    out->anomalies = atomic_load(&e->anomalies);
    out->anomalies_unstored = atomic_load(&e->anomalies_unstored);
    out->alerts = atomic_load(&e->alerts);
    pthread_mutex_lock(&e->mu);
    out->queue_depth = e->q_len;
    out->reorder_depth = e->parsed_len;
    out->inflight_bytes = e->inflight_bytes;
    pthread_mutex_unlock(&e->mu);
    pthread_mutex_lock(&e->hist_mu);
    memcpy(out->batch_latency_buckets, e->batch_hist, sizeof(e->batch_hist));
    out->batch_latency_sum = e->batch_hist_sum;
    out->batch_latency_count = e->batch_hist_n;
    memcpy(out->store_latency_buckets, e->store_hist, sizeof(e->store_hist));
    out->store_latency_sum = e->store_hist_sum;
    out->store_latency_count = e->store_hist_n;
    pthread_mutex_unlock(&e->hist_mu);
}
