/*
 * in_kafka: one member of a Kafka consumer group (librdkafka). Records of the assigned
 * partitions become lines; each group handed to the pipeline holds records of one partition and
 * carries the checkpoint "topic/partition" = the offset after its last record, which the store
 * commits in the same transaction as the counts of those lines (docs/kafka.md).
 *
 * Durability and offsets. The store is the authority on what is done: the input learns which
 * offsets are durable by reading the stored checkpoint back through the daemon's resume hook (a
 * read-only store connection, the same look-up the file tail makes at start), at most every
 * COMMIT_EVERY_NS, and commits to Kafka (asynchronously, explicit offsets) only offsets that it
 * has read back. No Kafka offset is ever ahead of the store; the store's checkpoint may be ahead
 * of Kafka (a crash between the two), so on assignment the input starts at the larger of the
 * two. Auto-commit and the automatic offset store are off.
 *
 * Backpressure: when the pipeline answers LW_EAGAIN the assigned partitions are paused (librdkafka
 * stops fetching and drops what it prefetched, and fetches again from the first record not
 * returned yet on resume); the records already polled stay here and are offered again until
 * taken. Nothing is dropped.
 *
 * Rebalance: on revocation, records of revoked partitions that were not handed over are dropped
 * here (the next owner reads them again), what was handed is waited for until the store has it
 * (bounded by revoke_wait), those offsets are committed synchronously, and only then is the
 * assignment given up. On assignment each partition starts at max(stored checkpoint, committed
 * offset), or at auto.offset.reset when neither exists.
 *
 * Threads: one consumer thread does everything (polling serves the rebalance and commit
 * callbacks on it); the daemon's threads only read counters and, under @mu, the partition table.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_body.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_metrics.h"
#include "lw/lw_plugin.h"
#include "kafka_conf.h"

#define DEF_POLL_RECORDS 2048
#define DEF_BUFFERED ((size_t)32 << 20)
#define DEF_REVOKE_WAIT_MS 10000u
#define DEF_MAX_LINE ((size_t)65536)
#define COMMIT_EVERY_NS 250000000LL     /* how often durable offsets are read back and committed */
#define BACKOFF_US 10000                /* between offers while the pipeline is full */
#define POLL_MS 100                     /* the first poll of a round waits this long */
#define PATH_LEN 272                    /* "topic/partition": topic <= 249 bytes */
#define HOST_MAX 255                    /* longer keys are cut when they name the host */
#define ERR_LOG_EVERY_NS (10LL * 1000000000LL)

struct kafka_part {
    char *topic;
    int32_t partition;
    char path[PATH_LEN];    /* the checkpoint's path and the source's name */
    int64_t handed;         /* offset after the last record handed over, -1: none */
    int64_t skip_to;        /* offset after records that gave no line, past @handed; -1: none */
    int64_t durable;        /* the store's checkpoint as last read, -1: none */
    int64_t committed;      /* the offset last committed to Kafka, -1: none */
    int64_t high;           /* the partition's high watermark as last seen, -1: unknown */
    uint64_t epoch;         /* this owner's number since the partition's first (the fence) */
};

/*
 * The group being built: lines of consecutive records of one partition. Each line's host (the
 * record key, or a JSON value's host) travels in the group's per-line hosts, so records of
 * interleaved hosts make one group, not one group per run of a host.
 */
struct kafka_group {
    struct lw_ingest_line *lines;
    size_t *line_off;       /* JSON: where each line's bytes are in @buf */
    size_t *host_off;       /* where each line's host is in @hbuf; SIZE_MAX: none */
    const char **hosts;     /* per line, built from @host_off when the group is final */
    char *hbuf;             /* the hosts, NUL-ended; a run of one host is stored once */
    size_t hbuf_len;
    size_t hbuf_cap;
    size_t last_host;       /* offset of the last host stored, SIZE_MAX: none */
    bool any_host;
    size_t n_lines;
    size_t cap_lines;
    char *buf;              /* JSON: the lines' unescaped bytes */
    size_t buf_len;
    size_t buf_cap;
    size_t n_records;       /* records consumed from the held ones */
    int64_t end;            /* offset after the last record consumed */
};

struct in_kafka {
    struct lw_input_ctx ctx;
    struct lw_in_kafka_conf conf;   /* strings borrowed from the daemon */
    rd_kafka_t *rk;
    bool cooperative;               /* incremental rebalancing (cooperative-sticky) */
    pthread_t thread;
    bool thread_started;
    atomic_bool stopping;

    pthread_mutex_t mu;             /* @parts, for the metrics reader */
    struct kafka_part *parts;
    size_t n_parts;
    size_t cap_parts;

    /* Records polled and not yet handed over, in poll order (consumer thread only). */
    rd_kafka_message_t **msgs;
    size_t n_msgs;
    size_t pos;
    size_t cap_msgs;
    struct kafka_group g;
    bool paused;
    int64_t last_commit_ns;
    int64_t last_err_log_ns;
    bool commit_failed;             /* an async commit failed: commit every partition again */

    atomic_uint_least64_t records;
    atomic_uint_least64_t bytes;
    atomic_uint_least64_t lines;
    atomic_uint_least64_t rejected;     /* JSON values that were no object with a message */
    atomic_uint_least64_t truncated;
    atomic_uint_least64_t commits;
    atomic_uint_least64_t commit_failures;
    atomic_uint_least64_t rebalances;
    atomic_uint_least64_t pauses;
    atomic_uint_least64_t dropped_revoked;  /* held records of revoked partitions (read again) */
    atomic_uint_least64_t revoke_timeouts;
    atomic_uint_least64_t claim_timeouts;
    atomic_uint_least64_t ingest_errors;
    atomic_int_least64_t lag;
    atomic_bool is_paused;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- partitions ---- */

static struct kafka_part *part_find(struct in_kafka *k, const char *topic, int32_t partition)
{
    size_t i;

    for (i = 0; i < k->n_parts; i++) {
        if (k->parts[i].partition == partition && strcmp(k->parts[i].topic, topic) == 0) {
            return &k->parts[i];
        }
    }
    return NULL;
}

/* Adds (topic, partition) to the table, or returns it when present. NULL when out of memory. */
static struct kafka_part *part_add(struct in_kafka *k, const char *topic, int32_t partition)
{
    struct kafka_part *p = part_find(k, topic, partition);

    if (p != NULL) {
        return p;
    }
    if (k->n_parts == k->cap_parts) {
        size_t cap = k->cap_parts ? k->cap_parts * 2 : 16;
        struct kafka_part *nv = lw_realloc(k->parts, cap * sizeof(*nv));

        if (nv == NULL) {
            return NULL;
        }
        k->parts = nv;
        k->cap_parts = cap;
    }
    p = &k->parts[k->n_parts];
    memset(p, 0, sizeof(*p));
    p->topic = lw_strdup(topic);
    if (p->topic == NULL) {
        return NULL;
    }
    p->partition = partition;
    snprintf(p->path, sizeof(p->path), "%s/%d", topic, (int)partition);
    p->handed = p->skip_to = p->durable = p->committed = p->high = -1;
    k->n_parts++;
    return p;
}

static void part_remove(struct in_kafka *k, struct kafka_part *p)
{
    size_t i = (size_t)(p - k->parts);

    lw_free(p->topic);
    memmove(&k->parts[i], &k->parts[i + 1], (k->n_parts - i - 1) * sizeof(*p));
    k->n_parts--;
}

/*
 * The offset that may be committed for @p: what the store has, and past records that gave no
 * line once everything handed before them is durable.
 */
static int64_t part_target(const struct kafka_part *p)
{
    if (p->durable >= p->handed && p->skip_to > p->durable) {
        return p->skip_to;
    }
    return p->durable;
}

/*
 * Reads the store's checkpoint of @p back into p->durable; *@epoch (when not NULL) gets the
 * largest owner epoch stored for the partition (0: none). The checkpoint carries the epoch in
 * its dev field, unused by Kafka positions.
 */
static void part_read(struct in_kafka *k, struct kafka_part *p, uint64_t *epoch)
{
    struct lw_ingest_checkpoint ck;

    memset(&ck, 0, sizeof(ck));
    if (epoch != NULL) {
        *epoch = 0;
    }
    if (k->ctx.resume != NULL && k->ctx.resume(k->ctx.opaque, "kafka", p->path, &ck) == 1) {
        if ((int64_t)ck.offset > p->durable) {
            p->durable = (int64_t)ck.offset;
        }
        if (epoch != NULL) {
            *epoch = ck.dev;
        }
    }
}

/*
 * How far the store has this instance's lines of @p: from the pipeline's memory of its own
 * commits when it has one (the fence makes only this owner's commits count for @p from its
 * claim on), else from the store.
 */
static void part_read_durable(struct in_kafka *k, struct kafka_part *p)
{
    struct lw_ingest_checkpoint ck;

    if (k->ctx.durable != NULL && k->ctx.durable(k->ctx.opaque, "kafka", p->path, &ck) == 1 &&
        ck.dev == p->epoch) {
        if ((int64_t)ck.offset > p->durable) {
            p->durable = (int64_t)ck.offset;
        }
        return;
    }
    part_read(k, p, NULL);
}

/*
 * Commits the durable offsets of every partition (of @only when not NULL) that moved since the
 * last commit; @sync waits for the broker's answer. Returns the number of offsets committed.
 */
static size_t commit_durable(struct in_kafka *k, const rd_kafka_topic_partition_list_t *only,
                             bool sync)
{
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;
    size_t i;
    size_t n = 0;
    int64_t lag = 0;

    list = rd_kafka_topic_partition_list_new((int)k->n_parts + 1);
    if (list == NULL) {
        return 0;
    }
    for (i = 0; i < k->n_parts; i++) {
        struct kafka_part *p = &k->parts[i];
        int64_t target;
        int64_t lo = 0;
        int64_t hi = 0;

        if (only != NULL && rd_kafka_topic_partition_list_find(only, p->topic,
                                                               p->partition) == NULL) {
            continue;
        }
        if (p->handed > p->durable || p->skip_to > p->durable || k->commit_failed) {
            part_read_durable(k, p);
        }
        target = part_target(p);
        if (target >= 0 && (target > p->committed || k->commit_failed)) {
            rd_kafka_topic_partition_list_add(list, p->topic, p->partition)->offset = target;
            p->committed = target;
            n++;
        }
        if (rd_kafka_get_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi >= 0) {
            p->high = hi;
            lag += p->handed >= 0 && hi > p->handed ? hi - p->handed : 0;
        }
    }
    atomic_store(&k->lag, lag);
    k->commit_failed = false;
    if (n > 0) {
        err = rd_kafka_commit(k->rk, list, sync ? 0 : 1);
        if (sync) {
            if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                atomic_fetch_add(&k->commit_failures, 1);
                lw_warn("kafka", "committing offsets failed: %s (the store's checkpoints keep "
                                 "the position; the next owner may read some records again)",
                        rd_kafka_err2str(err));
            }
            else {
                atomic_fetch_add(&k->commits, 1);
            }
        }
        else if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            atomic_fetch_add(&k->commit_failures, 1);
            k->commit_failed = true;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return n;
}

/* The async commit's answer (served by the poll, on the consumer thread). */
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct in_kafka *k = opaque;

    (void)rk;
    (void)offsets;
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        return; /* nothing to commit */
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&k->commit_failures, 1);
        k->commit_failed = true; /* retried with every partition at the next round */
        lw_warn("kafka", "committing offsets failed: %s (retried)", rd_kafka_err2str(err));
        return;
    }
    atomic_fetch_add(&k->commits, 1);
}

/* ---- held records ---- */

/* Drops the held records of the partitions in @revoked (all when NULL); they are read again. */
static void held_drop(struct in_kafka *k, const rd_kafka_topic_partition_list_t *revoked)
{
    size_t i;
    size_t w = 0;

    for (i = k->pos; i < k->n_msgs; i++) {
        rd_kafka_message_t *m = k->msgs[i];

        if (revoked == NULL ||
            rd_kafka_topic_partition_list_find(revoked, rd_kafka_topic_name(m->rkt),
                                               m->partition) != NULL) {
            rd_kafka_message_destroy(m);
            atomic_fetch_add(&k->dropped_revoked, 1);
        }
        else {
            k->msgs[w++] = m;
        }
    }
    k->n_msgs = w;
    k->pos = 0;
}

static int held_push(struct in_kafka *k, rd_kafka_message_t *m)
{
    if (k->pos > 0 && k->pos == k->n_msgs) {
        k->n_msgs = k->pos = 0;
    }
    if (k->n_msgs == k->cap_msgs) {
        size_t cap = k->cap_msgs ? k->cap_msgs * 2 : 256;
        rd_kafka_message_t **nv = lw_realloc(k->msgs, cap * sizeof(*nv));

        if (nv == NULL) {
            return LW_ENOMEM;
        }
        k->msgs = nv;
        k->cap_msgs = cap;
    }
    k->msgs[k->n_msgs++] = m;
    return LW_OK;
}

/* ---- rebalance ---- */

/*
 * Waits until the store has what was handed from the partitions in @list, at most until
 * @deadline (monotonic ns; revoke_wait from the start of the revocation).
 */
static void wait_durable(struct in_kafka *k, const rd_kafka_topic_partition_list_t *list,
                         int64_t deadline)
{
    unsigned wait_ms = k->conf.revoke_wait_ms ? k->conf.revoke_wait_ms : DEF_REVOKE_WAIT_MS;
    int i;

    for (;;) {
        bool all = true;

        for (i = 0; i < list->cnt; i++) {
            struct kafka_part *p = part_find(k, list->elems[i].topic, list->elems[i].partition);

            if (p != NULL && p->handed > p->durable) {
                part_read_durable(k, p);
                all = all && p->durable >= p->handed;
            }
        }
        if (all) {
            return;
        }
        if (mono_ns() >= deadline) {
            atomic_fetch_add(&k->revoke_timeouts, 1);
            lw_warn("kafka", "rebalance: records handed over are not stored after %u ms; "
                             "committing what is (the next owner reads the rest again)",
                    wait_ms);
            return;
        }
        usleep(20000);
    }
}

/*
 * Hands the pipeline a claim or a release of @p (@flags: LW_INGEST_CLAIM or _RELEASE), a
 * checkpoint at @offset under @p's epoch without lines, retrying while the pipeline is full
 * until @deadline (or, with @give_up_at_stop, until the input stops).
 */
static int hand_mark(struct in_kafka *k, struct kafka_part *p, uint32_t flags, uint64_t offset,
                     int64_t deadline, bool give_up_at_stop)
{
    struct lw_ingest_source src;
    struct lw_ingest_checkpoint ck;
    struct lw_ingest_group grp;
    int rc;

    memset(&src, 0, sizeof(src));
    src.input = "kafka";
    src.name = p->path;
    src.shared_shards = true; /* partitions: the group's members hand them around */
    memset(&ck, 0, sizeof(ck));
    ck.path = p->path;
    ck.offset = offset;
    ck.dev = p->epoch;
    memset(&grp, 0, sizeof(grp));
    grp.source = &src;
    grp.checkpoint = &ck;
    grp.flags = flags;
    while ((rc = k->ctx.ingest.fn(k->ctx.ingest.opaque, &grp)) == LW_EAGAIN &&
           mono_ns() < deadline && !(give_up_at_stop && atomic_load(&k->stopping))) {
        usleep(BACKOFF_US);
    }
    return rc;
}

/*
 * Tells the pipeline, after the last line handed from each revoked partition, that the
 * partition is given up (docs/cluster.md, "Model state follows partitions"): it saves the
 * state learned from the partition's hosts for the next owner and forgets it. Waits (until
 * @deadline, shared with the lines' wait) until that is done, so that the next owner, assigned
 * only once this revocation returns, loads it.
 */
static void release(struct in_kafka *k, const rd_kafka_topic_partition_list_t *list,
                    int64_t deadline)
{
    unsigned wait_ms = k->conf.revoke_wait_ms ? k->conf.revoke_wait_ms : DEF_REVOKE_WAIT_MS;
    bool *sent;
    int i;

    if (k->ctx.ingest.released == NULL || list->cnt == 0) {
        return;
    }
    sent = lw_calloc((size_t)list->cnt, sizeof(*sent));
    if (sent == NULL) {
        return;
    }
    for (i = 0; i < list->cnt; i++) {
        struct kafka_part *p = part_find(k, list->elems[i].topic, list->elems[i].partition);

        if (p == NULL || p->epoch == 0) {
            continue;
        }
        /* A release names the partition only: it stores no position. */
        sent[i] = hand_mark(k, p, LW_INGEST_RELEASE, 0, deadline, false) == LW_OK;
    }
    for (i = 0; i < list->cnt; i++) {
        struct kafka_part *p = part_find(k, list->elems[i].topic, list->elems[i].partition);

        while (sent[i] && p != NULL &&
               !k->ctx.ingest.released(k->ctx.ingest.opaque, p->path, p->epoch)) {
            if (mono_ns() >= deadline) {
                lw_warn("kafka", "%s: the model state is not saved after %u ms; its next owner "
                                 "may start from an older state",
                        p->path, wait_ms);
                lw_free(sent);
                return;
            }
            usleep(10000);
        }
    }
    lw_free(sent);
}

static void on_revoke(struct in_kafka *k, rd_kafka_topic_partition_list_t *list)
{
    unsigned wait_ms = k->conf.revoke_wait_ms ? k->conf.revoke_wait_ms : DEF_REVOKE_WAIT_MS;
    int64_t deadline = mono_ns() + (int64_t)wait_ms * 1000000LL;
    int i;

    held_drop(k, list);
    k->g.n_records = 0;
    /* One revoke_wait for the whole revocation: a stalled store is not waited for twice. */
    release(k, list, deadline);
    wait_durable(k, list, deadline);
    commit_durable(k, list, true);
    pthread_mutex_lock(&k->mu);
    for (i = 0; i < list->cnt; i++) {
        struct kafka_part *p = part_find(k, list->elems[i].topic, list->elems[i].partition);

        if (p != NULL) {
            part_remove(k, p);
        }
    }
    pthread_mutex_unlock(&k->mu);
    if (k->cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(k->rk, list);

        if (e != NULL) {
            lw_warn("kafka", "rebalance: unassign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    else {
        rd_kafka_assign(k->rk, NULL);
        k->paused = false;
        atomic_store(&k->is_paused, false);
    }
}

enum { CLAIM_NONE, CLAIM_NO_POS, CLAIM_AT }; /* claim_all(): the state of one claim */

/*
 * Claims the partitions of @list for this instance before reading them (docs/cluster.md,
 * "Fencing"): for each, takes the epoch after the largest stored one and hands the pipeline a
 * checkpoint without lines under it; then waits (bounded by revoke_wait) until the store has
 * them all, and only then reads the positions to start from. From a claim on, the store refuses
 * every commit of an earlier owner of the partition, so a late commit of the previous owner is
 * either visible before the position is read (and read past) or never visible at all. The
 * claims of one assignment travel together: a takeover of N partitions waits for one store
 * round, not N.
 */
static void claim_all(struct in_kafka *k, const rd_kafka_topic_partition_list_t *list)
{
    unsigned wait_ms = k->conf.revoke_wait_ms ? k->conf.revoke_wait_ms : DEF_REVOKE_WAIT_MS;
    int64_t deadline = mono_ns() + (int64_t)wait_ms * 1000000LL;
    /* Per element of @list: CLAIM_NONE, or the claim was handed over (with a position or not). */
    unsigned char *st;
    int pending = 0;
    int i;

    st = lw_calloc((size_t)list->cnt + 1, 1);
    if (st == NULL) {
        lw_warn("kafka", "%s", "out of memory: reading the assigned partitions unfenced");
        return;
    }
    for (i = 0; i < list->cnt; i++) {
        struct kafka_part *p = part_find(k, list->elems[i].topic, list->elems[i].partition);
        uint64_t stored = 0;
        int64_t at;
        int rc;

        if (p == NULL) {
            continue;
        }
        part_read(k, p, &stored);
        p->epoch = stored + 1;
        at = p->durable > p->committed ? p->durable : p->committed;
        /* The pipeline loads the partition's model state at the claim. */
        rc = hand_mark(k, p, LW_INGEST_CLAIM, at > 0 ? (uint64_t)at : 0, deadline, true);
        if (rc != LW_OK && atomic_load(&k->stopping)) {
            break; /* the daemon stops: nothing is read, so nothing is read unfenced */
        }
        if (rc != LW_OK) {
            lw_warn("kafka", "%s: cannot claim the partition (%s): reading it unfenced", p->path,
                    lw_strerror(rc));
            continue;
        }
        st[i] = at >= 0 ? CLAIM_AT : CLAIM_NO_POS;
        pending++;
    }
    while (pending > 0) {
        for (i = 0; i < list->cnt; i++) {
            struct kafka_part *p = part_find(k, list->elems[i].topic, list->elems[i].partition);
            uint64_t stored = 0;

            if (st[i] == CLAIM_NONE || p == NULL) {
                continue;
            }
            part_read(k, p, &stored);
            if (stored >= p->epoch) {
                /*
                 * p->durable was read after the claim became visible. A claim at 0 is no
                 * position.
                 */
                if (st[i] == CLAIM_NO_POS && p->durable == 0) {
                    p->durable = -1;
                }
                st[i] = CLAIM_NONE;
                pending--;
            }
        }
        if (pending == 0) {
            break;
        }
        if (atomic_load(&k->stopping)) {
            /*
             * Not a store that failed: the daemon stops and reads none of these partitions, so
             * no previous owner needs fencing from here. One line, not a warning each.
             */
            lw_info("kafka", "stopping: %d partition claim(s) not waited for (the partitions "
                             "are not read)",
                    pending);
            break;
        }
        if (mono_ns() >= deadline) {
            for (i = 0; i < list->cnt; i++) {
                struct kafka_part *p = part_find(k, list->elems[i].topic, list->elems[i].partition);

                if (st[i] != CLAIM_NONE && p != NULL) {
                    atomic_fetch_add(&k->claim_timeouts, 1);
                    lw_warn("kafka", "%s: the claim (epoch %llu) is not stored after %u ms: "
                                     "reading the partition before the previous owner is fenced",
                            p->path, (unsigned long long)p->epoch, wait_ms);
                }
            }
            break;
        }
        usleep(20000);
    }
    lw_free(st);
}

static void on_assign(struct in_kafka *k, rd_kafka_topic_partition_list_t *list)
{
    rd_kafka_topic_partition_list_t *committed = rd_kafka_topic_partition_list_copy(list);
    rd_kafka_resp_err_t err;
    int i;

    err = rd_kafka_committed(k->rk, committed, 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lw_warn("kafka", "rebalance: cannot read the committed offsets (%s): starting from the "
                         "store's checkpoints or %s",
                rd_kafka_err2str(err), k->conf.offset_reset ? k->conf.offset_reset : "earliest");
    }
    pthread_mutex_lock(&k->mu);
    for (i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *e = &list->elems[i];
        struct kafka_part *p = part_add(k, e->topic, e->partition);
        int64_t c = err == RD_KAFKA_RESP_ERR_NO_ERROR ? committed->elems[i].offset : -1;

        if (p == NULL) {
            lw_error("kafka", "out of memory: partition %s/%d starts at the committed offset",
                     e->topic, (int)e->partition);
            continue;
        }
        p->committed = c >= 0 ? c : -1;
    }
    /* Only this thread changes the table: its entries stay valid while the metrics reader runs. */
    pthread_mutex_unlock(&k->mu);
    claim_all(k, list);
    pthread_mutex_lock(&k->mu);
    for (i = 0; i < list->cnt; i++) {
        rd_kafka_topic_partition_t *e = &list->elems[i];
        struct kafka_part *p = part_find(k, e->topic, e->partition);
        int64_t start;

        if (p == NULL) {
            continue;
        }
        /*
         * The larger of the two: a shared store may be ahead of Kafka (a crash between the store's
         * commit and Kafka's), and Kafka ahead of a store of this instance alone (another member
         * consumed the partition meanwhile).
         */
        start = p->durable > p->committed ? p->durable : p->committed;
        e->offset = start >= 0 ? start : RD_KAFKA_OFFSET_INVALID;
        p->handed = start;
        p->skip_to = -1;
        lw_info("kafka", "assigned %s: starting at %s%lld (store %lld, committed %lld, epoch %llu)",
                p->path, start >= 0 ? "offset " : "auto.offset.reset, ", (long long)start,
                (long long)p->durable, (long long)p->committed, (unsigned long long)p->epoch);
    }
    pthread_mutex_unlock(&k->mu);
    rd_kafka_topic_partition_list_destroy(committed);
    if (k->cooperative) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(k->rk, list);

        if (e != NULL) {
            lw_error("kafka", "rebalance: assign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    }
    else {
        err = rd_kafka_assign(k->rk, list);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            lw_error("kafka", "rebalance: assign: %s", rd_kafka_err2str(err));
        }
        k->paused = false;
        atomic_store(&k->is_paused, false);
    }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
    struct in_kafka *k = opaque;

    (void)rk;
    atomic_fetch_add(&k->rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(k, list);
    }
    else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        lw_info("kafka", "rebalance: %d partition(s) revoked", list->cnt);
        on_revoke(k, list);
    }
    else {
        lw_error("kafka", "rebalance failed: %s", rd_kafka_err2str(err));
        held_drop(k, NULL);
        k->g.n_records = 0;
        rd_kafka_assign(k->rk, NULL);
    }
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= 3) {
        lw_error("kafka", "librdkafka %s: %s", fac, buf);
    }
    else if (level <= 5) {
        lw_warn("kafka", "librdkafka %s: %s", fac, buf);
    }
    else {
        lw_debug("kafka", "librdkafka %s: %s", fac, buf);
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct in_kafka *k = opaque;
    int64_t now = mono_ns();

    (void)rk;
    if (rd_kafka_fatal_error(k->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lw_error("kafka", "fatal: %s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
        return;
    }
    /* Brokers that are down are reported again and again: once per ERR_LOG_EVERY_NS is enough. */
    if (now - k->last_err_log_ns >= ERR_LOG_EVERY_NS) {
        k->last_err_log_ns = now;
        lw_warn("kafka", "%s (librdkafka retries by itself)", reason);
    }
}

/* ---- records to lines ---- */

/* The capacity @cap (0: none yet, start at @first) doubled until @need fits. */
static size_t grow_cap(size_t cap, size_t first, size_t need)
{
    cap = cap ? cap : first;
    while (cap < need) {
        cap *= 2;
    }
    return cap;
}

/* Grows the byte buffer *@buf of capacity *@cap to hold @need bytes. Returns LW_OK or LW_ENOMEM. */
static int bytes_reserve(char **buf, size_t *cap, size_t need, size_t first)
{
    size_t n;
    char *nb;

    if (need <= *cap) {
        return LW_OK;
    }
    n = grow_cap(*cap, first, need);
    nb = lw_realloc(*buf, n);
    if (nb == NULL) {
        return LW_ENOMEM;
    }
    *buf = nb;
    *cap = n;
    return LW_OK;
}

/* Makes room in @g for @n_lines more lines and @n_bytes more copied bytes: LW_OK or LW_ENOMEM. */
static int group_reserve(struct kafka_group *g, size_t n_lines, size_t n_bytes)
{
    if (g->n_lines + n_lines > g->cap_lines) {
        size_t cap = grow_cap(g->cap_lines, 256, g->n_lines + n_lines);
        struct lw_ingest_line *nl;
        const char **nh;
        size_t *no;

        nl = lw_realloc(g->lines, cap * sizeof(*nl));
        if (nl == NULL) {
            return LW_ENOMEM;
        }
        g->lines = nl;
        no = lw_realloc(g->line_off, cap * sizeof(*no));
        if (no == NULL) {
            return LW_ENOMEM;
        }
        g->line_off = no;
        no = lw_realloc(g->host_off, cap * sizeof(*no));
        if (no == NULL) {
            return LW_ENOMEM;
        }
        g->host_off = no;
        nh = lw_realloc(g->hosts, cap * sizeof(*nh));
        if (nh == NULL) {
            return LW_ENOMEM;
        }
        g->hosts = nh;
        g->cap_lines = cap;
    }
    return bytes_reserve(&g->buf, &g->buf_cap, g->buf_len + n_bytes, 65536);
}

/* The record's key as a host name in @out (cut at HOST_MAX), or false when it has none. */
static bool key_host(const rd_kafka_message_t *m, char *out)
{
    size_t n = m->key_len < HOST_MAX ? m->key_len : HOST_MAX;

    if (m->key == NULL || m->key_len == 0) {
        return false;
    }
    memcpy(out, m->key, n);
    out[n] = '\0';
    return memchr(out, '\0', n) == NULL;
}

/*
 * Records the host of the line about to be added (g->n_lines): stored once per run of one host.
 * Returns LW_OK or LW_ENOMEM.
 */
static int group_host(struct kafka_group *g, bool has, const char *host)
{
    size_t n;

    if (!has) {
        g->host_off[g->n_lines] = SIZE_MAX;
        return LW_OK;
    }
    if (g->last_host != SIZE_MAX && strcmp(g->hbuf + g->last_host, host) == 0) {
        g->host_off[g->n_lines] = g->last_host;
        return LW_OK;
    }
    n = strlen(host) + 1;
    if (bytes_reserve(&g->hbuf, &g->hbuf_cap, g->hbuf_len + n, 4096) < 0) {
        return LW_ENOMEM;
    }
    memcpy(g->hbuf + g->hbuf_len, host, n);
    g->last_host = g->hbuf_len;
    g->host_off[g->n_lines] = g->hbuf_len;
    g->hbuf_len += n;
    g->any_host = true;
    return LW_OK;
}

/* Adds a text record to @g. Returns 0 when taken (with or without a line), or LW_ENOMEM. */
static int add_text(struct in_kafka *k, struct kafka_group *g, const rd_kafka_message_t *m)
{
    size_t max = k->conf.max_line_bytes ? k->conf.max_line_bytes : DEF_MAX_LINE;
    const char *s = m->payload;
    size_t len = m->payload != NULL ? m->len : 0;
    char host[HOST_MAX + 1] = "";
    bool has = k->conf.key_as_host && key_host(m, host);
    struct lw_ingest_line *l;

    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r')) {
        len--;
    }
    if (len == 0) {
        return 0; /* an empty record (or a tombstone) is no line */
    }
    if (group_reserve(g, 1, 0) < 0 || group_host(g, has, host) < 0) {
        return LW_ENOMEM;
    }
    l = &g->lines[g->n_lines];
    memset(l, 0, sizeof(*l));
    l->ts_ns = LW_TS_UNKNOWN;
    if (len > max) {
        len = max;
        l->flags |= LW_LINE_TRUNCATED;
        atomic_fetch_add(&k->truncated, 1);
    }
    if (memchr(s, '\n', len) != NULL) {
        l->flags |= LW_LINE_MULTI; /* one record, several physical lines (a stack trace) */
    }
    if (!lw_utf8_valid(s, len)) {
        l->flags |= LW_LINE_INVALID;
    }
    l->data = s;
    l->len = len;
    g->line_off[g->n_lines] = SIZE_MAX; /* points into the record itself */
    g->n_lines++;
    return 0;
}

/* As add_text() for a JSON value (the HTTP input's NDJSON record, lw_body.h). */
static int add_json(struct in_kafka *k, struct kafka_group *g, const rd_kafka_message_t *m)
{
    size_t max = k->conf.max_line_bytes ? k->conf.max_line_bytes : DEF_MAX_LINE;
    struct lw_http_body body;
    char host[HOST_MAX + 1] = "";
    bool has = false;
    size_t i;
    int rc;

    if (m->payload == NULL || m->len == 0) {
        return 0;
    }
    rc = lw_http_body_parse(m->payload, m->len, LW_HTTP_BODY_NDJSON, max, NULL, &body);
    if (rc < 0) {
        lw_http_body_fini(&body);
        return rc;
    }
    if (body.n_rejected > 0) {
        atomic_fetch_add(&k->rejected, body.n_rejected);
    }
    if (body.n_lines == 0) {
        lw_http_body_fini(&body);
        return 0;
    }
    /* The value's host field first, else the key: one host per record. */
    if (body.hosts[0] != NULL && body.hosts[0][0] != '\0') {
        snprintf(host, sizeof(host), "%s", body.hosts[0]);
        has = true;
    }
    else if (k->conf.key_as_host) {
        has = key_host(m, host);
    }
    for (i = 0; i < body.n_lines; i++) {
        const struct lw_ingest_line *src = &body.lines[i];
        struct lw_ingest_line *l;

        if (group_reserve(g, 1, src->len) < 0 || group_host(g, has, host) < 0) {
            lw_http_body_fini(&body);
            return LW_ENOMEM;
        }
        l = &g->lines[g->n_lines];
        *l = *src;
        if (l->flags & LW_LINE_TRUNCATED) {
            atomic_fetch_add(&k->truncated, 1);
        }
        memcpy(g->buf + g->buf_len, src->data, src->len);
        g->line_off[g->n_lines] = g->buf_len;
        g->buf_len += src->len;
        g->n_lines++;
    }
    lw_http_body_fini(&body);
    return 0;
}

/*
 * Builds the next group from the held records at k->pos: consecutive records of one partition,
 * at most max_poll_records (hosts vary per line). Records of partitions no longer assigned are dropped.
 * Returns the group's partition, or NULL when there is nothing (or memory ran out: retried).
 */
static struct kafka_part *group_build(struct in_kafka *k)
{
    struct kafka_group *g = &k->g;
    size_t max = k->conf.max_poll_records ? k->conf.max_poll_records : DEF_POLL_RECORDS;
    struct kafka_part *p = NULL;
    size_t i;

    g->n_lines = g->buf_len = g->n_records = g->hbuf_len = 0;
    g->last_host = SIZE_MAX;
    g->any_host = false;
    g->end = -1;
    while (k->pos < k->n_msgs && p == NULL) {
        rd_kafka_message_t *m = k->msgs[k->pos];

        p = part_find(k, rd_kafka_topic_name(m->rkt), m->partition);
        if (p == NULL) {
            /* From a partition revoked meanwhile: its next owner reads it. */
            rd_kafka_message_destroy(m);
            k->pos++;
        }
    }
    if (p == NULL) {
        return NULL;
    }
    for (i = k->pos; i < k->n_msgs && g->n_records < max; i++) {
        rd_kafka_message_t *m = k->msgs[i];
        int rc;

        if (m->partition != p->partition || strcmp(rd_kafka_topic_name(m->rkt), p->topic) != 0) {
            break;
        }
        rc = k->conf.json ? add_json(k, g, m) : add_text(k, g, m);
        if (rc < 0) {
            if (g->n_records == 0) {
                return NULL; /* out of memory: retried after a pause */
            }
            break;
        }
        g->n_records++;
        g->end = m->offset + 1;
    }
    /* JSON lines point into the group's buffer, which is final only now. */
    for (i = 0; i < g->n_lines; i++) {
        if (g->line_off[i] != SIZE_MAX) {
            g->lines[i].data = g->buf + g->line_off[i];
        }
        if (g->any_host) {
            g->hosts[i] = g->host_off[i] != SIZE_MAX ? g->hbuf + g->host_off[i] : NULL;
        }
    }
    return p;
}

/* Pauses (or resumes) every assigned partition. */
static void pause_all(struct in_kafka *k, bool pause)
{
    rd_kafka_topic_partition_list_t *a = NULL;

    if (k->paused == pause) {
        return;
    }
    if (rd_kafka_assignment(k->rk, &a) != RD_KAFKA_RESP_ERR_NO_ERROR || a == NULL) {
        return;
    }
    if (pause) {
        rd_kafka_pause_partitions(k->rk, a);
        atomic_fetch_add(&k->pauses, 1);
    }
    else {
        rd_kafka_resume_partitions(k->rk, a);
    }
    rd_kafka_topic_partition_list_destroy(a);
    k->paused = pause;
    atomic_store(&k->is_paused, pause);
}

/*
 * Hands the held records over, group by group. Returns LW_OK when all were taken, LW_EAGAIN
 * when the pipeline is full (the rest stays held).
 */
static int hand_over(struct in_kafka *k)
{
    while (k->pos < k->n_msgs) {
        struct kafka_part *p = group_build(k);
        struct lw_ingest_source src;
        struct lw_ingest_checkpoint ck;
        struct lw_ingest_group grp;
        size_t i;
        size_t bytes = 0;
        int rc;

        if (p == NULL) {
            if (k->pos < k->n_msgs) {
                return LW_EAGAIN; /* out of memory: like a full pipeline */
            }
            break;
        }
        if (k->g.n_lines > 0) {
            memset(&src, 0, sizeof(src));
            src.input = "kafka";
            src.name = p->path;
            src.host = NULL;
            src.shared_shards = true;
            memset(&ck, 0, sizeof(ck));
            ck.path = p->path;
            ck.offset = (uint64_t)k->g.end;
            ck.dev = p->epoch;
            memset(&grp, 0, sizeof(grp));
            grp.source = &src;
            grp.lines = k->g.lines;
            grp.n_lines = k->g.n_lines;
            grp.hosts = k->g.any_host ? k->g.hosts : NULL;
            grp.checkpoint = &ck;
            rc = k->ctx.ingest.fn(k->ctx.ingest.opaque, &grp);
            if (rc == LW_EAGAIN) {
                return LW_EAGAIN;
            }
            if (rc < 0) {
                atomic_fetch_add(&k->ingest_errors, 1);
                lw_error("kafka", "%s: %zu lines refused by the pipeline: %s", p->path,
                         k->g.n_lines, lw_strerror(rc));
                p->skip_to = k->g.end;
            }
            else {
                p->handed = k->g.end;
                atomic_fetch_add(&k->lines, k->g.n_lines);
            }
        }
        else {
            p->skip_to = k->g.end; /* records that gave no line */
        }
        for (i = 0; i < k->g.n_records; i++) {
            bytes += k->msgs[k->pos + i]->len;
            rd_kafka_message_destroy(k->msgs[k->pos + i]);
        }
        k->pos += k->g.n_records;
        k->g.n_records = 0;
        atomic_fetch_add(&k->bytes, bytes);
    }
    k->n_msgs = k->pos = 0;
    return LW_OK;
}

/* Polls up to max_poll_records records into the held ones; the first poll waits @wait_ms. */
static void poll_records(struct in_kafka *k, int wait_ms)
{
    size_t max = k->conf.max_poll_records ? k->conf.max_poll_records : DEF_POLL_RECORDS;
    size_t n;

    for (n = 0; n < max && !atomic_load(&k->stopping); n++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, n == 0 ? wait_ms : 0);

        if (m == NULL) {
            break;
        }
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                on_error(k->rk, m->err, rd_kafka_message_errstr(m), k);
            }
            rd_kafka_message_destroy(m);
            continue;
        }
        atomic_fetch_add(&k->records, 1);
        if (held_push(k, m) < 0) {
            /*
             * Cannot hold it: seek back to it so that it is fetched again, rather than lose it.
             * The rest of this round is not polled.
             */
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);

            rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)
                ->offset = m->offset;
            rd_kafka_seek_partitions(k->rk, l, 1000);
            rd_kafka_topic_partition_list_destroy(l);
            rd_kafka_message_destroy(m);
            atomic_fetch_sub(&k->records, 1);
            break;
        }
    }
}

static void *kafka_main(void *arg)
{
    struct in_kafka *k = arg;
    rd_kafka_resp_err_t err;

    while (!atomic_load(&k->stopping)) {
        int64_t now;

        if (k->pos >= k->n_msgs) {
            k->n_msgs = k->pos = 0;
            pause_all(k, false);
            poll_records(k, POLL_MS);
        }
        else {
            /* Held records wait for room: keep serving the group (rebalances) meanwhile. */
            poll_records(k, 0);
        }
        if (hand_over(k) == LW_EAGAIN) {
            pause_all(k, true);
            usleep(BACKOFF_US);
        }
        now = mono_ns();
        if (now - k->last_commit_ns >= COMMIT_EVERY_NS) {
            k->last_commit_ns = now;
            commit_durable(k, NULL, false);
        }
    }
    /*
     * Leaving the group revokes the assignment through on_rebalance(): what was handed over is
     * waited for and committed there. Records still held were never handed over: dropped here,
     * read again by the next owner.
     */
    held_drop(k, NULL);
    err = rd_kafka_consumer_close(k->rk);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        lw_warn("kafka", "leaving the consumer group: %s", rd_kafka_err2str(err));
    }
    return NULL;
}

/* ---- plugin ---- */

static bool in_kafka_enabled(const struct lw_input_conf *conf)
{
    return conf->kafka.brokers != NULL && conf->kafka.n_topics > 0;
}

static int conf_set(rd_kafka_conf_t *c, const char *name, const char *value, char *err,
                    size_t err_len)
{
    char rerr[256];

    if (rd_kafka_conf_set(c, name, value, rerr, sizeof(rerr)) != RD_KAFKA_CONF_OK) {
        snprintf(err, err_len, "setting %s=%s: %s", name, value, rerr);
        return LW_EINVAL;
    }
    return LW_OK;
}

/* The librdkafka configuration: ours, then the user's properties (which may not undo ours). */
static rd_kafka_conf_t *make_conf(struct in_kafka *k, char *err, size_t err_len)
{
    const struct lw_in_kafka_conf *kc = &k->conf;
    size_t buffered = kc->max_buffered_bytes ? kc->max_buffered_bytes : DEF_BUFFERED;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char num[32];
    size_t i;

    if (c == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    snprintf(num, sizeof(num), "%zu", buffered / 1024 > 0 ? buffered / 1024 : 1);
    if (conf_set(c, "bootstrap.servers", kc->brokers, err, err_len) < 0 ||
        conf_set(c, "group.id", kc->group ? kc->group : "logwarden", err, err_len) < 0 ||
        conf_set(c, "client.id", kc->client_id ? kc->client_id : "logwarden", err, err_len) < 0 ||
        conf_set(c, "enable.auto.commit", "false", err, err_len) < 0 ||
        conf_set(c, "enable.auto.offset.store", "false", err, err_len) < 0 ||
        conf_set(c, "enable.partition.eof", "false", err, err_len) < 0 ||
        conf_set(c, "auto.offset.reset", kc->offset_reset ? kc->offset_reset : "earliest", err,
                 err_len) < 0 ||
        conf_set(c, "queued.max.messages.kbytes", num, err, err_len) < 0 ||
        /*
         * Only the bytes bound the prefetch. librdkafka stops fetching a partition that holds
         * queued.min.messages (default 100000) and looks again only a second later (before
         * 2.2, whose fetch.queue.backoff.ms sets that pause): at 150k records/s per partition
         * the input stood idle for part of every second. bench/kafka-clickhouse.sh, 3M lines,
         * 4 partitions: 518-556k lines/s with the default; with this, 728-945k as a property and
         * 529k-1.08M once built in (five runs; the byte bound can still pause it, kafka.md).
         */
        conf_set(c, "queued.min.messages", "10000000", err, err_len) < 0) {
        goto fail;
    }
    /* librdkafka >= 2.2: a full prefetch queue is looked at again after 100 ms, not 1 s. */
    if (rd_kafka_version() >= 0x020200ff) {
        (void)rd_kafka_conf_set(c, "fetch.queue.backoff.ms", "100", NULL, 0);
    }
    for (i = 0; i < kc->n_properties; i++) {
        const char *eq = strchr(kc->properties[i], '=');
        char name[128];
        size_t n;

        if (eq == NULL || (n = (size_t)(eq - kc->properties[i])) == 0 || n >= sizeof(name)) {
            snprintf(err, err_len, "property '%s' is not name=value", kc->properties[i]);
            goto fail;
        }
        memcpy(name, kc->properties[i], n);
        name[n] = '\0';
        if (strcmp(name, "enable.auto.commit") == 0 ||
            strcmp(name, "enable.auto.offset.store") == 0 || strcmp(name, "group.id") == 0 ||
            strcmp(name, "bootstrap.servers") == 0) {
            snprintf(err, err_len, "property %s cannot be set here (offsets are committed only "
                                   "once the store has the lines; brokers and group have keys "
                                   "of their own)",
                     name);
            goto fail;
        }
        if (conf_set(c, name, eq + 1, err, err_len) < 0) {
            goto fail;
        }
    }
    rd_kafka_conf_set_opaque(c, k);
    rd_kafka_conf_set_rebalance_cb(c, on_rebalance);
    rd_kafka_conf_set_offset_commit_cb(c, on_commit);
    rd_kafka_conf_set_error_cb(c, on_error);
    rd_kafka_conf_set_log_cb(c, on_log);
    return c;
fail:
    rd_kafka_conf_destroy(c);
    return NULL;
}

static void in_kafka_free(struct in_kafka *k)
{
    size_t i;

    for (i = 0; i < k->n_parts; i++) {
        lw_free(k->parts[i].topic);
    }
    lw_free(k->parts);
    lw_free(k->msgs);
    lw_free(k->g.lines);
    lw_free(k->g.line_off);
    lw_free(k->g.host_off);
    lw_free(k->g.hosts);
    lw_free(k->g.hbuf);
    lw_free(k->g.buf);
    pthread_mutex_destroy(&k->mu);
    lw_free(k);
}

static void *in_kafka_start(const struct lw_input_ctx *ctx, char *err, size_t err_len)
{
    struct in_kafka *k = lw_calloc(1, sizeof(*k));
    rd_kafka_topic_partition_list_t *topics = NULL;
    rd_kafka_conf_t *c;
    rd_kafka_resp_err_t rerr;
    char kerr[512];
    size_t i;

    if (k == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    k->ctx = *ctx;
    k->conf = ctx->conf->kafka;
    pthread_mutex_init(&k->mu, NULL);
    if (ctx->resume == NULL) {
        snprintf(err, err_len, "the daemon gives no checkpoint look-up: offsets could never be "
                               "committed");
        goto fail;
    }
    c = make_conf(k, err, err_len);
    if (c == NULL) {
        goto fail;
    }
    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, kerr, sizeof(kerr));
    if (k->rk == NULL) {
        rd_kafka_conf_destroy(c);
        snprintf(err, err_len, "%s", kerr);
        goto fail;
    }
    k->cooperative = strcmp(rd_kafka_rebalance_protocol(k->rk), "COOPERATIVE") == 0;
    rd_kafka_poll_set_consumer(k->rk);
    topics = rd_kafka_topic_partition_list_new((int)k->conf.n_topics);
    for (i = 0; i < k->conf.n_topics; i++) {
        rd_kafka_topic_partition_list_add(topics, k->conf.topics[i], RD_KAFKA_PARTITION_UA);
    }
    rerr = rd_kafka_subscribe(k->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, err_len, "subscribing: %s", rd_kafka_err2str(rerr));
        goto fail_rk;
    }
    if (pthread_create(&k->thread, NULL, kafka_main, k) != 0) {
        snprintf(err, err_len, "cannot start the consumer thread");
        goto fail_rk;
    }
    k->thread_started = true;
    lw_info("kafka", "consuming %zu topic(s) from %s as group %s (librdkafka %s)",
            k->conf.n_topics, k->conf.brokers, k->conf.group ? k->conf.group : "logwarden",
            rd_kafka_version_str());
    return k;
fail_rk:
    rd_kafka_consumer_close(k->rk);
    rd_kafka_destroy(k->rk);
fail:
    in_kafka_free(k);
    return NULL;
}

static void in_kafka_stop(void *inst)
{
    struct in_kafka *k = inst;

    if (k == NULL) {
        return;
    }
    atomic_store(&k->stopping, true);
    if (k->thread_started) {
        pthread_join(k->thread, NULL);
    }
    rd_kafka_destroy(k->rk);
    lw_info("kafka",
            "stopped: %llu records, %llu offset commits, paused %llu times (pipeline full)",
            (unsigned long long)atomic_load(&k->records),
            (unsigned long long)atomic_load(&k->commits),
            (unsigned long long)atomic_load(&k->pauses));
    in_kafka_free(k);
}

static void in_kafka_stats(void *inst, struct lw_input_stats *out)
{
    struct in_kafka *k = inst;

    out->lines = atomic_load(&k->lines);
    out->bytes = atomic_load(&k->bytes);
}

static void in_kafka_metrics(void *inst, struct lw_prom *p)
{
    struct in_kafka *k = inst;
    size_t n_parts;

    pthread_mutex_lock(&k->mu);
    n_parts = k->n_parts;
    pthread_mutex_unlock(&k->mu);
    lw_prom_append(p, "logwarden_kafka_records_total", "Records polled from Kafka.", "counter",
                   NULL, (double)atomic_load(&k->records));
    lw_prom_append(p, "logwarden_kafka_bytes_total", "Record value bytes handed over.",
                   "counter", NULL, (double)atomic_load(&k->bytes));
    lw_prom_append(p, "logwarden_kafka_rejected_total",
                   "JSON values skipped: not an object with a message.", "counter", NULL,
                   (double)atomic_load(&k->rejected));
    lw_prom_append(p, "logwarden_kafka_truncated_total",
                   "Records longer than max_line_bytes, truncated and flagged.", "counter", NULL,
                   (double)atomic_load(&k->truncated));
    lw_prom_append(p, "logwarden_kafka_commits_total",
                   "Offset commits (only offsets the store has made durable).", "counter", NULL,
                   (double)atomic_load(&k->commits));
    lw_prom_append(p, "logwarden_kafka_commit_failures_total", "Offset commits that failed.",
                   "counter", NULL, (double)atomic_load(&k->commit_failures));
    lw_prom_append(p, "logwarden_kafka_rebalances_total", "Assignments and revocations.",
                   "counter", NULL, (double)atomic_load(&k->rebalances));
    lw_prom_append(p, "logwarden_kafka_revoke_timeouts_total",
                   "Revocations that gave up waiting for the store (revoke_wait).", "counter",
                   NULL, (double)atomic_load(&k->revoke_timeouts));
    lw_prom_append(p, "logwarden_kafka_claim_timeouts_total",
                   "Assignments that started before the partition's claim was stored.",
                   "counter", NULL, (double)atomic_load(&k->claim_timeouts));
    lw_prom_append(p, "logwarden_kafka_dropped_revoked_total",
                   "Polled records of revoked partitions, left to their next owner.", "counter",
                   NULL, (double)atomic_load(&k->dropped_revoked));
    lw_prom_append(p, "logwarden_kafka_pauses_total",
                   "Times the partitions were paused because the pipeline was full.", "counter",
                   NULL, (double)atomic_load(&k->pauses));
    lw_prom_append(p, "logwarden_kafka_paused", "1 while the partitions are paused.", "gauge",
                   NULL, atomic_load(&k->is_paused) ? 1.0 : 0.0);
    lw_prom_append(p, "logwarden_kafka_partitions_assigned", "Partitions assigned now.", "gauge",
                   NULL, (double)n_parts);
    lw_prom_append(p, "logwarden_kafka_lag_records",
                   "Records behind the high watermarks of the assigned partitions (as last seen).",
                   "gauge", NULL, (double)atomic_load(&k->lag));
}

const struct lw_input_plugin in_kafka_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "kafka",
    .description = "a Kafka consumer group member (librdkafka); offsets follow the store",
    .enabled = in_kafka_enabled,
    .start = in_kafka_start,
    .stop = in_kafka_stop,
    .stats = in_kafka_stats,
    .metrics = in_kafka_metrics,
    .conf_keys = kafka_conf_keys,
    .conf = kafka_conf_read,
};
