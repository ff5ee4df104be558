/* The counted next-event model of sessions (seq_model.h). */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "detect/seq_model.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define SEQ_MAGIC 0x4C575351u  /* "LWSQ" */
#define SEQ_VERSION 1u
#define MAX_SUCC 64            /* successors kept per history; the rest are counted as "other" */

struct succ {
    uint32_t ev;
    uint32_t count;
};

struct ctx {
    uint64_t h;                /* 0: empty slot */
    uint8_t len;
    uint32_t hist[LW_SEQ_MAX_HISTORY];
    uint32_t n_succ;
    uint64_t total;
    struct succ *succ;         /* n_succ entries, sorted by count, most frequent first */
};

struct lw_seq_model {
    size_t history;
    size_t top;
    uint64_t min_count;        /* a candidate must have been seen this often (default 1) */
    size_t max_contexts;
    struct ctx *tab;
    size_t cap;                /* power of two */
    size_t n;
    uint64_t sessions;
    uint64_t evicted;
};

static uint64_t hash_hist(const uint32_t *hist, size_t len)
{
    uint64_t h = XXH3_64bits_withSeed(hist, len * sizeof(uint32_t), len);

    return h == 0 ? 1 : h;
}

static struct ctx *find(const struct lw_seq_model *m, const uint32_t *hist, size_t len)
{
    uint64_t h = hash_hist(hist, len);
    size_t i;

    if (m->cap == 0) {
        return NULL;
    }
    for (i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        struct ctx *c = &m->tab[i];

        if (c->h == 0) {
            return NULL;
        }
        if (c->h == h && c->len == len && memcmp(c->hist, hist, len * sizeof(uint32_t)) == 0) {
            return c;
        }
    }
}

static void place(struct ctx *tab, size_t cap, const struct ctx *c)
{
    size_t i;

    for (i = c->h & (cap - 1); tab[i].h != 0; i = (i + 1) & (cap - 1)) {
    }
    tab[i] = *c;
}

static int rehash(struct lw_seq_model *m, size_t cap, uint64_t min_total)
{
    struct ctx *nt = lw_calloc(cap, sizeof(*nt));
    size_t i;

    if (nt == NULL) {
        return LW_ENOMEM;
    }
    m->n = 0;
    for (i = 0; i < m->cap; i++) {
        struct ctx *c = &m->tab[i];

        if (c->h == 0) {
            continue;
        }
        if (c->total < min_total) {
            lw_free(c->succ);
            m->evicted++;
            continue;
        }
        place(nt, cap, c);
        m->n++;
    }
    lw_free(m->tab);
    m->tab = nt;
    m->cap = cap;
    return LW_OK;
}

/*
 * At the cap, the rarest histories go: first those seen once, then twice, ... until a quarter
 * of the room is free. Common histories, the ones predictions rest on, stay.
 */
static int evict(struct lw_seq_model *m)
{
    uint64_t cut = 2;

    while (m->n > m->max_contexts * 3 / 4) {
        int rc = rehash(m, m->cap, cut);

        if (rc < 0) {
            return rc;
        }
        cut *= 2;
    }
    return LW_OK;
}

static struct ctx *get(struct lw_seq_model *m, const uint32_t *hist, size_t len)
{
    struct ctx *c = find(m, hist, len);
    struct ctx nc;

    if (c != NULL) {
        return c;
    }
    if (m->n + 1 > m->max_contexts && evict(m) < 0) {
        return NULL;
    }
    if ((m->n + 1) * 2 > m->cap && rehash(m, m->cap ? m->cap * 2 : 1024, 0) < 0) {
        return NULL;
    }
    memset(&nc, 0, sizeof(nc));
    nc.h = hash_hist(hist, len);
    nc.len = (uint8_t)len;
    memcpy(nc.hist, hist, len * sizeof(uint32_t));
    place(m->tab, m->cap, &nc);
    m->n++;
    return find(m, hist, len);
}

static int add_succ(struct ctx *c, uint32_t ev)
{
    uint32_t i;

    c->total++;
    for (i = 0; i < c->n_succ; i++) {
        if (c->succ[i].ev == ev) {
            c->succ[i].count++;
            /* Keep the order: bubble up past less frequent ones. */
            while (i > 0 && c->succ[i - 1].count < c->succ[i].count) {
                struct succ t = c->succ[i - 1];

                c->succ[i - 1] = c->succ[i];
                c->succ[i] = t;
                i--;
            }
            return LW_OK;
        }
    }
    if (c->n_succ >= MAX_SUCC) {
        return LW_OK; /* counted in total only */
    }
    if ((c->n_succ & (c->n_succ - 1)) == 0 || c->n_succ == 0) {
        size_t ncap = c->n_succ == 0 ? 2 : (size_t)c->n_succ * 2;
        struct succ *ns = lw_realloc(c->succ, ncap * sizeof(*ns));

        if (ns == NULL) {
            c->total--;
            return LW_ENOMEM;
        }
        c->succ = ns;
    }
    c->succ[c->n_succ].ev = ev;
    c->succ[c->n_succ].count = 1;
    c->n_succ++;
    return LW_OK;
}

struct lw_seq_model *lw_seq_model_create(size_t history, size_t top, size_t max_contexts)
{
    struct lw_seq_model *m = lw_calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    m->history = history == 0 ? 3 : history > LW_SEQ_MAX_HISTORY ? LW_SEQ_MAX_HISTORY : history;
    m->top = top == 0 ? 9 : top > LW_SEQ_MAX_CAND ? LW_SEQ_MAX_CAND : top;
    m->max_contexts = max_contexts < 1024 ? 1024 : max_contexts;
    m->min_count = 1;
    return m;
}

static void free_tab(struct ctx *tab, size_t cap)
{
    size_t i;

    for (i = 0; i < cap; i++) {
        if (tab[i].h != 0) {
            lw_free(tab[i].succ);
        }
    }
    lw_free(tab);
}

void lw_seq_model_destroy(struct lw_seq_model *m)
{
    if (m == NULL) {
        return;
    }
    free_tab(m->tab, m->cap);
    lw_free(m);
}

/* Symbol at framed position @p: BEGIN, the events, END. */
static uint32_t framed(const uint32_t *ev, size_t n, size_t p)
{
    return p == 0 ? LW_SEQ_BEGIN : p <= n ? ev[p - 1] : LW_SEQ_END;
}

int lw_seq_model_learn(struct lw_seq_model *m, const uint32_t *ev, size_t n, bool finished)
{
    size_t last = finished ? n + 1 : n;
    size_t p, k;
    uint32_t hist[LW_SEQ_MAX_HISTORY] = {0};

    for (p = 1; p <= last; p++) {
        uint32_t e = framed(ev, n, p);

        for (k = 1; k <= m->history && k <= p; k++) {
            struct ctx *c;
            size_t j;

            for (j = 0; j < k; j++) {
                hist[j] = framed(ev, n, p - k + j);
            }
            c = get(m, hist, k);
            if (c == NULL || add_succ(c, e) < 0) {
                return LW_ENOMEM;
            }
        }
    }
    m->sessions++;
    return LW_OK;
}

/*
 * Judges @e after the @hn symbols at @hist (oldest first). Every history length that was seen
 * votes; one that has @e among its top candidates makes it expected. The verdict describes the
 * longest history seen. The score of an unexpected event is the surprise of the history that
 * knows most about it: the one seen most often, usually the shortest.
 */
static bool judge(const struct lw_seq_model *m, const uint32_t *hist, size_t hn, uint32_t e,
                  struct lw_seq_verdict *v)
{
    size_t k;
    bool expected = false;
    bool described = false;
    double best = 0.0;

    for (k = hn < m->history ? hn : m->history; k >= 1; k--) {
        const struct ctx *c = find(m, hist + hn - k, k);
        uint64_t ce = 0;
        size_t i;
        double p;

        if (c == NULL || c->total == 0) {
            continue;
        }
        for (i = 0; i < c->n_succ; i++) {
            if (c->succ[i].ev == e) {
                ce = c->succ[i].count;
                if (i < m->top && ce >= m->min_count) {
                    expected = true;
                }
                break;
            }
        }
        if (v != NULL && !described) {
            described = true;
            v->history_len = k;
            v->context_count = c->total;
            v->n_cand = 0;
            for (i = 0; i < c->n_succ && i < m->top; i++) {
                v->cand[v->n_cand] = c->succ[i].ev;
                v->cand_count[v->n_cand] = c->succ[i].count;
                v->n_cand++;
            }
        }
        /* Rule of succession: an event seen ce times after a history seen total times. */
        p = ((double)ce + 1.0) / ((double)c->total + 2.0);
        if (1.0 - p > best) {
            best = 1.0 - p;
        }
    }
    if (v != NULL) {
        if (!described) {
            v->history_len = 0;
            v->context_count = 0;
            v->n_cand = 0;
        }
        v->expected = expected;
        v->score = expected ? 0.0 : described ? best : 1.0;
    }
    return expected;
}

/* Judges framed position @p against its real history. */
static bool judge_at(const struct lw_seq_model *m, const uint32_t *ev, size_t n, size_t p,
                     struct lw_seq_verdict *v)
{
    uint32_t hist[LW_SEQ_MAX_HISTORY] = {0};
    size_t hn = p < m->history ? p : m->history;
    size_t j;

    for (j = 0; j < hn; j++) {
        hist[j] = framed(ev, n, p - hn + j);
    }
    return judge(m, hist, hn, framed(ev, n, p), v);
}

/*
 * Judges framed position @p with @a and @b in the two places before it, in that order: the
 * history as it would be had the two events before @p come swapped.
 */
static bool judge_swapped(const struct lw_seq_model *m, const uint32_t *ev, size_t n, size_t p)
{
    uint32_t hist[LW_SEQ_MAX_HISTORY] = {0};
    size_t hn = p < m->history ? p : m->history;
    size_t j;

    for (j = 0; j < hn; j++) {
        size_t q = p - hn + j;

        q = q == p - 1 ? p - 2 : q == p - 2 ? p - 1 : q;
        hist[j] = framed(ev, n, q);
    }
    return judge(m, hist, hn, framed(ev, n, p), NULL);
}

/*
 * Whether the event at @p, unexpected where it is, is a swap of neighbours: expected one place
 * earlier, with the event it overtook expected after it. Not across the frame symbols.
 */
static bool swap_fits(const struct lw_seq_model *m, const uint32_t *ev, size_t n, size_t p)
{
    uint32_t h2[LW_SEQ_MAX_HISTORY] = {0};
    uint32_t e = framed(ev, n, p);
    uint32_t prev;
    size_t hn2, hn3, j;

    if (p < 2 || p > n) {
        return false;
    }
    prev = framed(ev, n, p - 1);
    hn2 = p - 1 < m->history ? p - 1 : m->history;
    for (j = 0; j < hn2; j++) {
        h2[j] = framed(ev, n, p - 1 - hn2 + j);
    }
    if (!judge(m, h2, hn2, e, NULL)) {
        return false;
    }
    hn3 = hn2 + 1 < m->history ? hn2 + 1 : m->history;
    memmove(h2, h2 + (hn2 + 1 - hn3), (hn3 - 1) * sizeof(uint32_t));
    h2[hn3 - 1] = e;
    return judge(m, h2, hn3, prev, NULL);
}

bool lw_seq_model_check(const struct lw_seq_model *m, const uint32_t *ev, size_t n, size_t i,
                        struct lw_seq_verdict *v)
{
    size_t p = i + 1; /* framed position */
    bool ok = judge_at(m, ev, n, p, v);

    if (!ok && swap_fits(m, ev, n, p)) {
        ok = true; /* confirmed or refuted by the next event */
    }
    /*
     * The event before was taken as a swap: this one must also fit after the swapped order
     * (concurrent writers reorder neighbours, they do not rewrite what follows).
     */
    if (ok && p >= 3 && p <= n && !judge_at(m, ev, n, p - 1, NULL) &&
        swap_fits(m, ev, n, p - 1) && !judge_swapped(m, ev, n, p)) {
        ok = false;
        if (v != NULL) {
            (void)judge_at(m, ev, n, p, v); /* describe the candidates after this history */
            v->score = 1.0;
            {
                uint32_t hist[LW_SEQ_MAX_HISTORY] = {0};
                size_t hn = p < m->history ? p : m->history;
                size_t j;
                struct lw_seq_verdict sv;

                for (j = 0; j < hn; j++) {
                    size_t q = p - hn + j;

                    q = q == p - 1 ? p - 2 : q == p - 2 ? p - 1 : q;
                    hist[j] = framed(ev, n, q);
                }
                (void)judge(m, hist, hn, framed(ev, n, p), &sv);
                v->score = sv.score;
            }
        }
    }
    if (v != NULL) {
        v->expected = ok;
        if (ok) {
            v->score = 0.0;
        }
    }
    return ok;
}

void lw_seq_model_set_min_count(struct lw_seq_model *m, uint64_t min_count)
{
    m->min_count = min_count > 0 ? min_count : 1;
}

uint64_t lw_seq_model_sessions(const struct lw_seq_model *m)
{
    return m->sessions;
}

size_t lw_seq_model_contexts(const struct lw_seq_model *m)
{
    return m->n;
}

uint64_t lw_seq_model_evicted(const struct lw_seq_model *m)
{
    return m->evicted;
}

int lw_seq_model_save(const struct lw_seq_model *m, struct lw_wbuf *b)
{
    size_t i;
    uint32_t j;

    lw_wbuf_u32(b, SEQ_MAGIC);
    lw_wbuf_u32(b, SEQ_VERSION);
    lw_wbuf_u32(b, (uint32_t)m->history);
    lw_wbuf_u64(b, m->sessions);
    lw_wbuf_u64(b, m->evicted);
    lw_wbuf_u64(b, m->n);
    for (i = 0; i < m->cap; i++) {
        const struct ctx *c = &m->tab[i];

        if (c->h == 0) {
            continue;
        }
        lw_wbuf_u32(b, c->len);
        for (j = 0; j < c->len; j++) {
            lw_wbuf_u32(b, c->hist[j]);
        }
        lw_wbuf_u64(b, c->total);
        lw_wbuf_u32(b, c->n_succ);
        for (j = 0; j < c->n_succ; j++) {
            lw_wbuf_u32(b, c->succ[j].ev);
            lw_wbuf_u32(b, c->succ[j].count);
        }
    }
    return b->err;
}

int lw_seq_model_load(struct lw_seq_model *m, const void *p, size_t n)
{
    struct lw_rbuf r = {.p = p, .len = n};
    struct lw_seq_model t;
    uint64_t cnt, i;
    int rc = LW_ECORRUPT;

    if (lw_rbuf_u32(&r) != SEQ_MAGIC || lw_rbuf_u32(&r) != SEQ_VERSION) {
        return LW_ECORRUPT;
    }
    memset(&t, 0, sizeof(t));
    t.history = lw_rbuf_u32(&r); /* checked below; the configured history is kept */
    t.top = m->top;
    t.min_count = m->min_count;
    t.max_contexts = m->max_contexts;
    t.sessions = lw_rbuf_u64(&r);
    t.evicted = lw_rbuf_u64(&r);
    cnt = lw_rbuf_u64(&r);
    if (r.err != 0 || t.history == 0 || t.history > LW_SEQ_MAX_HISTORY ||
        cnt > (r.len - r.off) / 16) {
        return LW_ECORRUPT;
    }
    for (i = 0; i < cnt; i++) {
        uint32_t hist[LW_SEQ_MAX_HISTORY];
        uint32_t len = lw_rbuf_u32(&r), j, ns;
        struct ctx *c;
        uint64_t sum = 0;

        if (r.err != 0 || len == 0 || len > LW_SEQ_MAX_HISTORY) {
            goto out;
        }
        for (j = 0; j < len; j++) {
            hist[j] = lw_rbuf_u32(&r);
        }
        if (r.err != 0 || find(&t, hist, len) != NULL) {
            goto out;
        }
        t.max_contexts = SIZE_MAX; /* a saved model is loaded whole */
        c = get(&t, hist, len);
        t.max_contexts = m->max_contexts;
        if (c == NULL) {
            rc = LW_ENOMEM;
            goto out;
        }
        c->total = lw_rbuf_u64(&r);
        ns = lw_rbuf_u32(&r);
        if (r.err != 0 || ns > MAX_SUCC || ns > (r.len - r.off) / 8) {
            goto out;
        }
        if (ns > 0) {
            c->succ = lw_malloc(((ns & (ns - 1)) == 0 ? ns : ns * 2) * sizeof(*c->succ));
            if (c->succ == NULL) {
                rc = LW_ENOMEM;
                goto out;
            }
        }
        for (j = 0; j < ns; j++) {
            c->succ[j].ev = lw_rbuf_u32(&r);
            c->succ[j].count = lw_rbuf_u32(&r);
            sum += c->succ[j].count;
            if (j > 0 && c->succ[j].count > c->succ[j - 1].count) {
                goto out_n;
            }
        }
        c->n_succ = ns;
        if (r.err != 0 || sum > c->total) {
            goto out;
        }
        continue;
    out_n:
        c->n_succ = ns;
        goto out;
    }
    if (r.off != r.len) {
        goto out;
    }
    free_tab(m->tab, m->cap);
    m->tab = t.tab;
    m->cap = t.cap;
    m->n = t.n;
    /*
     * The configured history stays: with a shorter one, the saved longer histories are unused;
     * with a longer one, the longer histories are learned from now on.
     */
    m->sessions = t.sessions;
    m->evicted = t.evicted;
    return LW_OK;
out:
    free_tab(t.tab, t.cap);
    return rc;
}
