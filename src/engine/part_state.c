/*
 * Model state that follows partitions (part_state.h). The saved state of a shard is one blob:
 *
 *   u32 magic "LWPS", u32 version, u64 owner epoch, u64 saved at (wall ns),
 *   u32 n, n x str source        the shard's sources, so that a claim knows them before
 *                                their first line (a quiet host is still the shard's)
 *   str stage blob               lw_detect_stage_save_sources() of those sources
 *
 * The store keeps each writer's latest blob per shard; a claim takes the one with the largest
 * (epoch, saved at): the last owner's last word. Epochs grow with every owner (the fence of
 * docs/cluster.md), so an old owner that saved late never wins over a newer one.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/part_state.h"
#include "lw/lw_analyze.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "lw/lw_ingest.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"

#define PS_MAGIC 0x4C575053u           /* "LWPS" */
#define PS_VERSION 1u
#define MAX_SHARDS 4096                /* shards remembered; more are not followed */
#define MAX_SOURCES 65536              /* sources mapped to shards (the engine's cap too) */
#define SOURCE_MAX 256                 /* bytes of a source name (the detectors' key cap) */
#define N_BUCKETS 16384                /* source hash buckets (a power of two) */
#define RELEASED_RING 64               /* releases remembered for the inputs that wait */
#define SHARD_NAME_MAX 300             /* "topic/partition": a topic is <= 249 bytes */
/*
 * The stored key of a shard's state is KEY_PREFIX "topic/partition": persisted (a new owner finds
 * the state the previous one saved, across versions), so it keeps the name of the one input that
 * has shared shards today. A second such input would need its own prefix.
 */
#define KEY_PREFIX "kafka:"
#define KNOWN_MAX ((size_t)1 << 20)    /* shared template ids read at most */
#define KNOWN_FRESH_NS 5000000000LL    /* the claims of one assignment read it once */

struct shard {
    char *name;                        /* "topic/partition" */
    uint64_t epoch;                    /* the owner epoch of the last claim */
    bool owned;
};

struct src_ent {
    struct src_ent *next;
    uint64_t h;
    uint32_t shard;                    /* index into shards */
    char name[];
};

struct released {
    char name[SHARD_NAME_MAX];
    uint64_t epoch;
    bool used;
};

struct lw__part_state {
    struct lw_store *store;
    pthread_mutex_t *store_mu;         /* held around every use of store (lw_engine's writer) */
    struct lw_detect_stage *stage;
    int64_t save_every_ns;
    int64_t last_save_ns;
    bool off;                          /* the store keeps no shard state */
    struct shard *shards;
    size_t n_shards;
    size_t cap_shards;
    struct src_ent **tab;              /* N_BUCKETS chains */
    size_t n_src;
    bool warned_full;
    /* The last note: a run of lines of one source in one shard costs two comparisons. */
    uint32_t last_shard;
    char last_src[SOURCE_MAX + 1];
    bool has_last;

    /*
     * The shared vocabulary: ids of the templates any instance committed, sorted, as read at the
     * last claim or periodic save. A line that creates a template here whose id is in it did not
     * bring a template new to the cluster (its partition may just have moved here).
     */
    uint32_t *known;
    size_t n_known;
    int64_t known_at_ns;               /* monotonic time of the last read, 0: never */
    bool known_off;                    /* the store keeps no shared vocabulary */

    pthread_mutex_t mu;                /* @rel, read by the input's thread */
    struct released rel[RELEASED_RING];
    size_t rel_next;
};

struct want_ctx {
    struct lw__part_state *ps;
    uint32_t shard;
};

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static uint64_t hash_str(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    }
    return h;
}

struct lw__part_state *lw__part_state_create(struct lw_store *store, pthread_mutex_t *store_mu,
                                             struct lw_detect_stage *stage,
                                             int64_t save_every_ns)
{
    struct lw__part_state *ps = lw_calloc(1, sizeof(*ps));

    if (ps == NULL) {
        return NULL;
    }
    ps->tab = lw_calloc(N_BUCKETS, sizeof(*ps->tab));
    if (ps->tab == NULL) {
        lw_free(ps);
        return NULL;
    }
    ps->store = store;
    ps->store_mu = store_mu;
    ps->stage = stage;
    ps->save_every_ns = save_every_ns;
    pthread_mutex_init(&ps->mu, NULL);
    return ps;
}

void lw__part_state_destroy(struct lw__part_state *ps)
{
    size_t i;

    if (ps == NULL) {
        return;
    }
    for (i = 0; i < N_BUCKETS; i++) {
        struct src_ent *e = ps->tab[i];

        while (e != NULL) {
            struct src_ent *next = e->next;

            lw_free(e);
            e = next;
        }
    }
    lw_free(ps->tab);
    lw_free(ps->known);
    for (i = 0; i < ps->n_shards; i++) {
        lw_free(ps->shards[i].name);
    }
    lw_free(ps->shards);
    pthread_mutex_destroy(&ps->mu);
    lw_free(ps);
}

/* The index of shard @name, added when missing; -1 past MAX_SHARDS or out of memory. */
static long shard_index(struct lw__part_state *ps, const char *name)
{
    size_t i;

    for (i = 0; i < ps->n_shards; i++) {
        if (strcmp(ps->shards[i].name, name) == 0) {
            return (long)i;
        }
    }
    if (ps->n_shards >= MAX_SHARDS || strlen(name) >= SHARD_NAME_MAX) {
        return -1;
    }
    if (ps->n_shards == ps->cap_shards) {
        size_t cap = ps->cap_shards ? ps->cap_shards * 2 : 16;
        struct shard *nv = lw_realloc(ps->shards, cap * sizeof(*nv));

        if (nv == NULL) {
            return -1;
        }
        ps->shards = nv;
        ps->cap_shards = cap;
    }
    memset(&ps->shards[ps->n_shards], 0, sizeof(ps->shards[0]));
    ps->shards[ps->n_shards].name = lw_strdup(name);
    if (ps->shards[ps->n_shards].name == NULL) {
        return -1;
    }
    ps->shards[ps->n_shards].owned = true; /* lines of it arrive: it is this instance's */
    return (long)ps->n_shards++;
}

static struct src_ent *src_find(struct lw__part_state *ps, const char *name, size_t len,
                                uint64_t h)
{
    struct src_ent *e;

    for (e = ps->tab[h & (N_BUCKETS - 1)]; e != NULL; e = e->next) {
        if (e->h == h && strncmp(e->name, name, len) == 0 && e->name[len] == '\0') {
            return e;
        }
    }
    return NULL;
}

/* Maps @name (@len bytes) to shard @idx, adding it when there is room. */
static void src_set(struct lw__part_state *ps, const char *name, size_t len, uint32_t idx)
{
    uint64_t h = hash_str(name, len);
    struct src_ent *e = src_find(ps, name, len, h);

    if (e != NULL) {
        e->shard = idx; /* a host whose records moved to another partition */
        return;
    }
    if (ps->n_src >= MAX_SOURCES) {
        if (!ps->warned_full) {
            ps->warned_full = true;
            lw_warn("engine", "model state: more than %d sources in the assigned partitions; "
                              "the state of further ones stays on this instance",
                    MAX_SOURCES);
        }
        return;
    }
    e = lw_malloc(sizeof(*e) + len + 1);
    if (e == NULL) {
        return; /* its state stays here: the next owner warms up for it */
    }
    e->h = h;
    e->shard = idx;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->next = ps->tab[h & (N_BUCKETS - 1)];
    ps->tab[h & (N_BUCKETS - 1)] = e;
    ps->n_src++;
}

void lw__part_state_note(struct lw__part_state *ps, const char *shard, const char *source)
{
    size_t len;
    long idx;

    if (ps == NULL || ps->off || ps->stage == NULL || source == NULL || source[0] == '\0') {
        return;
    }
    if (ps->has_last && strcmp(ps->shards[ps->last_shard].name, shard) == 0 &&
        strcmp(ps->last_src, source) == 0) {
        return;
    }
    idx = shard_index(ps, shard);
    if (idx < 0) {
        return;
    }
    len = strnlen(source, SOURCE_MAX);
    src_set(ps, source, len, (uint32_t)idx);
    memcpy(ps->last_src, source, len);
    ps->last_src[len] = '\0';
    ps->last_shard = (uint32_t)idx;
    ps->has_last = true;
}

static bool want_source(void *opaque, const char *source)
{
    struct want_ctx *w = opaque;
    size_t len = strnlen(source, SOURCE_MAX);
    struct src_ent *e = src_find(w->ps, source, len, hash_str(source, len));

    return e != NULL && e->shard == w->shard;
}

static uint32_t shard_sources(const struct lw__part_state *ps, uint32_t idx)
{
    uint32_t n = 0;
    size_t i;

    for (i = 0; i < N_BUCKETS; i++) {
        const struct src_ent *e;

        for (e = ps->tab[i]; e != NULL; e = e->next) {
            n += e->shard == idx;
        }
    }
    return n;
}

/* The saved state of shard @idx (format above); with @drop its sources are forgotten. */
static int shard_blob(struct lw__part_state *ps, uint32_t idx, bool drop, struct lw_wbuf *b,
                      uint32_t *n_out)
{
    struct want_ctx w = {ps, idx};
    struct lw_wbuf sec = {0};
    uint32_t n = shard_sources(ps, idx);
    size_t i;
    int rc;

    lw_wbuf_u32(b, PS_MAGIC);
    lw_wbuf_u32(b, PS_VERSION);
    lw_wbuf_u64(b, ps->shards[idx].epoch);
    lw_wbuf_u64(b, (uint64_t)wall_ns());
    lw_wbuf_u32(b, n);
    for (i = 0; i < N_BUCKETS; i++) {
        const struct src_ent *e;

        for (e = ps->tab[i]; e != NULL; e = e->next) {
            if (e->shard == idx) {
                lw_wbuf_str(b, e->name, strlen(e->name));
            }
        }
    }
    rc = lw_detect_stage_save_sources(ps->stage, &sec, want_source, &w, drop);
    if (rc == LW_OK && sec.err == 0) {
        lw_wbuf_str(b, (const char *)sec.p, sec.len);
    }
    rc = rc < 0 ? rc : sec.err;
    lw_wbuf_free(&sec);
    *n_out = n;
    return rc < 0 ? rc : b->err;
}

/* Forgets which sources shard @idx had (after a release). */
static void forget_sources(struct lw__part_state *ps, uint32_t idx)
{
    size_t i;

    for (i = 0; i < N_BUCKETS; i++) {
        struct src_ent **pp = &ps->tab[i];

        while (*pp != NULL) {
            struct src_ent *e = *pp;

            if (e->shard == idx) {
                *pp = e->next;
                lw_free(e);
                ps->n_src--;
            }
            else {
                pp = &e->next;
            }
        }
    }
    ps->has_last = false;
}

/* The store's answer to a first save or load: a store that keeps no shard state turns us off. */
static bool store_says_off(struct lw__part_state *ps, int rc)
{
    if (rc != LW_ENOTSUP) {
        return false;
    }
    ps->off = true;
    lw_info("engine", "model state: this store keeps no per-partition state (SQLite: one "
                      "instance per database); the detectors' state stays with the instance");
    return true;
}

/*
 * Saves the shards in @idx (n of them) in one transaction; with @drop their sources' state is
 * forgotten (whether or not the save worked: a moved host must not be judged silent here).
 */
static void save_shards(struct lw__part_state *ps, const uint32_t *idx, size_t n, bool drop)
{
    struct lw_store *s = ps->store;
    size_t i;
    int rc;

    pthread_mutex_lock(ps->store_mu); /* the store writer thread's transactions use it too */
    rc = lw_store_begin(s);
    for (i = 0; i < n && rc == LW_OK; i++) {
        struct lw_wbuf b = {0};
        char key[sizeof(KEY_PREFIX) + SHARD_NAME_MAX];
        uint32_t n_src = 0;

        if (shard_sources(ps, idx[i]) == 0) {
            continue; /* nothing learned: an older owner's state stays the newest */
        }
        snprintf(key, sizeof(key), KEY_PREFIX "%s", ps->shards[idx[i]].name);
        rc = shard_blob(ps, idx[i], drop, &b, &n_src);
        if (rc == LW_OK) {
            rc = lw_store_save_shard_state(s, key, b.p, b.len);
        }
        lw_wbuf_free(&b);
        if (rc == LW_OK && drop) {
            lw_info("engine", "model state: partition %s released: the state of %u source(s) "
                              "saved for its next owner",
                    ps->shards[idx[i]].name, n_src);
        }
    }
    if (rc == LW_OK) {
        rc = lw_store_commit(s);
    }
    if (rc < 0) {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s", rc == LW_ENOMEM ? "out of memory" : lw_store_errmsg(s));
        lw_store_rollback(s);
        pthread_mutex_unlock(ps->store_mu);
        if (!store_says_off(ps, rc)) {
            lw_warn("engine", "model state: saving the state of %zu partition(s) failed: %s "
                              "(their next owner starts from an older state or warms up)",
                    n, msg);
        }
        return;
    }
    pthread_mutex_unlock(ps->store_mu);
}

struct best {
    unsigned char *blob;               /* owned copy of the newest blob, or NULL */
    size_t len;
    uint64_t epoch;
    uint64_t saved_ns;
};

static int pick_newest(void *opaque, const void *blob, size_t len)
{
    struct best *b = opaque;
    struct lw_rbuf r = {.p = blob, .len = len};
    uint64_t epoch, saved;
    unsigned char *copy;

    if (lw_rbuf_u32(&r) != PS_MAGIC || lw_rbuf_u32(&r) != PS_VERSION) {
        return 0; /* another version's: skipped */
    }
    epoch = lw_rbuf_u64(&r);
    saved = lw_rbuf_u64(&r);
    if (r.err != 0 ||
        (b->blob != NULL && (epoch < b->epoch || (epoch == b->epoch && saved <= b->saved_ns)))) {
        return 0;
    }
    copy = lw_malloc(len > 0 ? len : 1);
    if (copy == NULL) {
        return LW_ENOMEM;
    }
    memcpy(copy, blob, len);
    lw_free(b->blob);
    b->blob = copy;
    b->len = len;
    b->epoch = epoch;
    b->saved_ns = saved;
    return 0;
}

/* A claim: merges the newest saved state of shard @idx into the detectors. */
static void load_shard(struct lw__part_state *ps, uint32_t idx)
{
    char key[sizeof(KEY_PREFIX) + SHARD_NAME_MAX];
    char err[256] = "";
    struct best best = {0};
    struct lw_rbuf r;
    const char *stage_blob;
    size_t stage_len;
    uint32_t n, i;
    int rc;

    snprintf(key, sizeof(key), KEY_PREFIX "%s", ps->shards[idx].name);
    pthread_mutex_lock(ps->store_mu);
    rc = lw_store_foreach_shard_state(ps->store, key, pick_newest, &best);
    if (rc < 0) {
        snprintf(err, sizeof(err), "%s",
                 rc == LW_ENOMEM ? "out of memory" : lw_store_errmsg(ps->store));
    }
    pthread_mutex_unlock(ps->store_mu);
    if (rc < 0) {
        if (!store_says_off(ps, rc)) {
            lw_warn("engine", "model state: reading the saved state of partition %s failed: "
                              "%s; its sources warm up again",
                    ps->shards[idx].name, err);
        }
        lw_free(best.blob);
        return;
    }
    if (best.blob == NULL) {
        lw_info("engine", "model state: partition %s has no saved state (its sources are new)",
                ps->shards[idx].name);
        return;
    }
    r = (struct lw_rbuf){.p = best.blob, .len = best.len, .off = 24};
    n = lw_rbuf_u32(&r);
    if (n > MAX_SOURCES) {
        r.err = LW_ECORRUPT;
    }
    for (i = 0; i < n && r.err == 0; i++) {
        const char *name;
        size_t len = lw_rbuf_str(&r, &name);

        if (r.err == 0 && len > 0 && len <= SOURCE_MAX && memchr(name, '\0', len) == NULL) {
            src_set(ps, name, len, idx);
        }
    }
    stage_len = lw_rbuf_str(&r, &stage_blob);
    if (r.err != 0 || r.off != r.len) {
        lw_warn("engine", "model state: the saved state of partition %s is corrupt; its "
                          "sources warm up again",
                ps->shards[idx].name);
        lw_free(best.blob);
        return;
    }
    rc = lw_detect_stage_load_merge(ps->stage, stage_blob, stage_len, err, sizeof(err));
    if (rc < 0) {
        lw_warn("engine", "model state: partition %s: %s; those sources warm up again",
                ps->shards[idx].name, err);
    }
    else {
        lw_info("engine", "model state: partition %s claimed (epoch %llu): loaded the state of "
                          "%u source(s) saved by its owner of epoch %llu",
                ps->shards[idx].name, (unsigned long long)ps->shards[idx].epoch, n,
                (unsigned long long)best.epoch);
    }
    lw_free(best.blob);
}

static void ack_release(struct lw__part_state *ps, const char *shard, uint64_t epoch)
{
    struct released *r;

    pthread_mutex_lock(&ps->mu);
    r = &ps->rel[ps->rel_next];
    ps->rel_next = (ps->rel_next + 1) % RELEASED_RING;
    snprintf(r->name, sizeof(r->name), "%s", shard);
    r->epoch = epoch;
    r->used = true;
    pthread_mutex_unlock(&ps->mu);
}

struct id_list {
    uint32_t *v;
    size_t n;
    size_t cap;
};

static int known_add(void *opaque, uint32_t id)
{
    struct id_list *l = opaque;

    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        uint32_t *k = lw_realloc(l->v, cap * sizeof(*k));

        if (k == NULL) {
            return LW_ENOMEM;
        }
        l->v = k;
        l->cap = cap;
    }
    l->v[l->n++] = id;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

static int64_t mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Reads the shared vocabulary again (at a claim, unless read within KNOWN_FRESH_NS, and with
 * every periodic save). On failure the previous one stays.
 */
static void known_refresh(struct lw__part_state *ps, int64_t now_ns, bool claim)
{
    struct id_list l = {0};
    int rc;

    if (ps->known_off || (claim && ps->known_at_ns != 0 &&
                          now_ns - ps->known_at_ns < KNOWN_FRESH_NS)) {
        return;
    }
    pthread_mutex_lock(ps->store_mu);
    rc = lw_store_foreach_shared_template(ps->store, KNOWN_MAX, known_add, &l);
    if (rc < 0 && rc != LW_ENOTSUP) {
        lw_warn("engine", "reading the templates other instances know failed: %s; lines that "
                          "create one of them here may be reported as new templates",
                rc == LW_ENOMEM ? "out of memory" : lw_store_errmsg(ps->store));
    }
    pthread_mutex_unlock(ps->store_mu);
    if (rc < 0) {
        ps->known_off = rc == LW_ENOTSUP;
        lw_free(l.v);
        return;
    }
    if (l.n > 1) {
        qsort(l.v, l.n, sizeof(*l.v), cmp_u32);
    }
    lw_free(ps->known);
    ps->known = l.v;
    ps->n_known = l.n;
    ps->known_at_ns = now_ns;
}

bool lw__part_state_shared_template(const struct lw__part_state *ps, uint32_t id)
{
    size_t lo = 0;
    size_t hi;

    if (ps == NULL) {
        return false;
    }
    hi = ps->n_known;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ps->known[mid] < id) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return lo < ps->n_known && ps->known[lo] == id;
}

void lw__part_state_mark(struct lw__part_state *ps, uint32_t flags, const char *shard,
                         uint64_t epoch)
{
    long idx;

    if (ps == NULL || shard == NULL) {
        return;
    }
    if (ps->off || ps->stage == NULL) {
        if (flags & LW_INGEST_RELEASE) {
            ack_release(ps, shard, epoch);
        }
        return;
    }
    idx = shard_index(ps, shard);
    if (flags & LW_INGEST_CLAIM) {
        known_refresh(ps, mono_now(), true);
        if (idx >= 0) {
            ps->shards[idx].epoch = epoch;
            ps->shards[idx].owned = true;
            load_shard(ps, (uint32_t)idx);
        }
    }
    if (flags & LW_INGEST_RELEASE) {
        if (idx >= 0) {
            uint32_t i = (uint32_t)idx;

            save_shards(ps, &i, 1, true);
            forget_sources(ps, i);
            ps->shards[idx].owned = false;
        }
        ack_release(ps, shard, epoch);
    }
}

void lw__part_state_save_all(struct lw__part_state *ps)
{
    uint32_t *idx;
    size_t n = 0;
    size_t i;

    if (ps == NULL || ps->off || ps->stage == NULL || ps->n_shards == 0) {
        return;
    }
    idx = lw_malloc(ps->n_shards * sizeof(*idx));
    if (idx == NULL) {
        return;
    }
    for (i = 0; i < ps->n_shards; i++) {
        if (ps->shards[i].owned) {
            idx[n++] = (uint32_t)i;
        }
    }
    if (n > 0) {
        save_shards(ps, idx, n, false);
    }
    lw_free(idx);
}

void lw__part_state_tick(struct lw__part_state *ps, int64_t now_ns)
{
    if (ps == NULL || ps->off || ps->stage == NULL) {
        return;
    }
    if (ps->last_save_ns == 0) {
        ps->last_save_ns = now_ns;
        return;
    }
    if (now_ns - ps->last_save_ns >= ps->save_every_ns) {
        ps->last_save_ns = now_ns;
        lw__part_state_save_all(ps);
        if (ps->n_shards > 0) {
            known_refresh(ps, now_ns, false);
        }
    }
}

int lw__part_state_released(struct lw__part_state *ps, const char *shard, uint64_t epoch)
{
    size_t i;
    int found = 0;

    if (ps == NULL) {
        return 1;
    }
    pthread_mutex_lock(&ps->mu);
    for (i = 0; i < RELEASED_RING && !found; i++) {
        found = ps->rel[i].used && ps->rel[i].epoch == epoch &&
                strcmp(ps->rel[i].name, shard) == 0;
    }
    pthread_mutex_unlock(&ps->mu);
    return found;
}
