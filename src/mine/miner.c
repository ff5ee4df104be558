/*
 * Online template miner (see lw_miner.h).
 *
 * A message is masked (lw_mask.h), split on white space into tokens, and turned into its
 * "shape": the tokens with masked spans replaced by <*>, joined by single spaces. Most lines of a
 * log have a shape seen before, so the hot path is one hash of the shape and one lookup in a
 * per-thread cache (no lock, no shared cache line); only a new shape takes the miner's lock.
 *
 * A new shape is compared with the templates of the same token count (a Drain-style
 * similarity: the weighted share of the template's constant tokens that the line repeats; words
 * weigh more than tokens with digits or symbols, and a differing leading word is never merged).
 * The best template at or above the threshold is generalised (differing tokens become <*>),
 * otherwise a new template is created. Templates only ever gain wildcards, so a shape that
 * matched a template keeps matching it, which is what makes the caches safe.
 *
 * One id per template text. Two templates can differ in their tokens and still print the same
 * canonical text (lw_canon turns "root" and "admin", digit runs and paths into <*>), and a
 * generalised template can come to print the text of another. So the miner keeps an index from
 * canonical text to template, consulted only where a template is created or its text changes:
 * a line that would create a template whose text is known goes to the template that has it, and
 * a template whose new text another one has is merged with it, the younger into the older; the
 * younger id becomes an alias of the older one, as for merged siblings (lw_miner_resolve()).
 *
 * Counts are kept per thread and folded into the templates every LW_FLUSH_LINES lines or when
 * the per-thread table fills, under the write lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lw/lw_canon.h"
#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"

#define DEFAULT_SIM 0.6
#define DEFAULT_SIBLINGS 4
#define DEFAULT_MAX_TEMPLATES 100000
#define DEFAULT_MAX_TOKENS 256
#define MAX_MASKS 512
#define TCACHE_SIZE 16384        /* per-thread shape cache entries (direct-mapped) */
#define GCACHE_SIZE (1u << 16)   /* shared shape cache entries (direct-mapped) */
#define STATS_SIZE 1024          /* per-thread count table (open addressing) */
#define LW_FLUSH_LINES 65536
#define EVICT_SAMPLES 16
#define STATE_MAGIC "LWMINER1"
#define STATE_VERSION 2u         /* 2: ids derived from the text; 1 (sequential ids) still loads */
#define ALIAS_JOURNAL 65536      /* alias changes kept for lw_miner_drain_aliases() */
#define ALIAS_MAX_HOPS 1024      /* a chain of aliases longer than this resolves to nothing */

enum tok_class {
    TOK_WORD = 0,  /* letters, possibly with punctuation around them */
    TOK_OTHER,     /* digits or symbols inside */
    TOK_MASKED,    /* holds a masked span */
};

struct tok {
    uint64_t h;      /* hash of the masked form */
    char *s;         /* masked form; "<*>" when wild */
    uint32_t len;
    uint8_t wild;    /* the whole token is a variable */
    uint8_t cls;     /* enum tok_class */
    uint16_t pre;    /* a partly variable token: s[0..pre) <*> s[len-suf..len) */
    uint16_t suf;
    uint8_t part;    /* 1 when pre/suf describe the token */
    uint8_t wordy;   /* its literal text (masks aside) has letters and no digits */
};

struct tpl {
    uint32_t id;
    uint32_t n_tok;
    struct tok *tok;
    char *text;          /* canonical text */
    size_t text_len;
    uint64_t text_h;     /* hash of text, the key in the text index */
    uint64_t count;
    int64_t first_ns;
    int64_t last_ns;
    uint64_t last_seq;   /* miner sequence at the last match, for eviction */
    uint64_t born;       /* creation order (ids are hashes and say nothing about age) */
    size_t live_idx;     /* index in miner->live */
    struct tpl *id_next; /* chain in the id map */
    struct tpl *text_next; /* chain in the text index */
};

/*
 * A template id that was merged into another one, or whose template's text changed (so its id
 * did), keeps resolving to it: @to may itself be an alias (a chain, followed on lookup).
 */
struct alias {
    uint32_t from;
    uint32_t to;
    uint32_t sent_to;   /* the live id lw_miner_drain_aliases() last reported, 0: none */
    struct alias *next;
};

struct tpl_vec {
    struct tpl **v;
    size_t n;
    size_t cap;
};

struct gcache_ent {
    uint64_t h;
    uint32_t id;
    uint32_t n_tok;
};

struct lw_miner {
    pthread_rwlock_t lock;
    double sim;
    size_t sibling_merge;
    size_t max_templates;
    size_t max_tokens;
    struct lw_masker *masker;
    struct tpl **id_map;        /* buckets, chained by id_next */
    struct alias **alias_map;   /* ids of templates merged into others, same bucket count */
    struct tpl **text_map;      /* canonical text -> live template, same bucket count */
    size_t n_alias;
    size_t max_aliases;
    struct lw_alias *journal;   /* aliases removed since the last drain (to == 0) */
    size_t n_journal;
    bool alias_dirty;           /* an alias was added or retargeted since the last drain */
    uint64_t n_born;
    size_t id_map_mask;
    struct tpl **live;          /* every live template, for eviction sampling and foreach */
    size_t n_live;
    struct tpl_vec *by_len;     /* [0..max_tokens] */
    struct gcache_ent *gcache;
    uint32_t next_id;
    uint64_t seq;
    uint64_t n_evicted;
    uint64_t rng;
    atomic_uint_fast64_t epoch; /* bumped by every eviction and load; clears thread caches */
};

struct tcache_ent {
    uint64_t h;   /* fast_key() of the message */
    uint32_t id;
    uint32_t ep;  /* the low 32 bits of the epoch it was made at (tcache_epoch()) */
};

struct stat_ent {
    uint32_t id;     /* 0: free */
    uint32_t pad;
    uint64_t count;
    int64_t first_ns;
    int64_t last_ns;
};

struct lw_miner_scratch {
    struct lw_miner *m;
    struct lw_mask_state *mst;
    struct lw_mask_span spans[MAX_MASKS];
    char *sb;                 /* shape buffer */
    size_t sb_cap;
    uint32_t *tok_off;        /* per token: offset in message, length, offset in sb, length */
    uint32_t *tok_len;
    uint32_t *sh_off;
    uint32_t *sh_len;
    uint8_t *tok_cls;
    uint8_t *tok_wordy;
    uint64_t *tok_h;
    uint16_t *tok_first_span; /* first mask span index inside the token */
    uint16_t *tok_n_span;
    struct tcache_ent tcache[TCACHE_SIZE];
    uint64_t epoch;
    struct stat_ent stats[STATS_SIZE];
    size_t n_stats;
    size_t since_flush;
    int want_params;
    char *text;               /* template text captured with the params */
    size_t text_len;
    size_t text_cap;
};

static const char WILD[] = "<*>";


/* ---- helpers ---- */

static inline bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void tpl_free(struct tpl *t)
{
    uint32_t i;

    if (t == NULL) {
        return;
    }
    if (t->tok != NULL) {
        for (i = 0; i < t->n_tok; i++) {
            lw_free(t->tok[i].s);
        }
    }
    lw_free(t->tok);
    lw_free(t->text);
    lw_free(t);
}

static struct tpl *id_lookup_live(const struct lw_miner *m, uint32_t id)
{
    struct tpl *t = m->id_map[id & m->id_map_mask];

    while (t != NULL && t->id != id) {
        t = t->id_next;
    }
    return t;
}

static struct alias *alias_find(const struct lw_miner *m, uint32_t id)
{
    struct alias *a = m->alias_map[id & m->id_map_mask];

    while (a != NULL && a->from != id) {
        a = a->next;
    }
    return a;
}

static uint32_t alias_target(const struct lw_miner *m, uint32_t id)
{
    const struct alias *a = alias_find(m, id);

    return a != NULL ? a->to : 0;
}

/*
 * Finds a live template by id, following the aliases of merged and re-texted templates. A
 * template that generalised k times has a chain of k aliases behind it; chains are not
 * shortened on lookup (lookups run under the read lock), and are rare off the slow path.
 */
static struct tpl *id_lookup(const struct lw_miner *m, uint32_t id)
{
    struct tpl *t = id_lookup_live(m, id);
    size_t hops = 0;

    while (t == NULL && m->n_alias > 0 && hops++ < ALIAS_MAX_HOPS &&
           (id = alias_target(m, id)) != 0) {
        t = id_lookup_live(m, id);
    }
    return t;
}

/*
 * Notes that alias @from is gone, for the store. When more than ALIAS_JOURNAL go between two
 * drains the oldest notes are lost: the store then keeps a few stale aliases (of ids that no
 * longer resolve, or that a template took back).
 */
static void journal_add(struct lw_miner *m, uint32_t from)
{
    if (m->n_journal == ALIAS_JOURNAL) {
        memmove(m->journal, m->journal + 1, (ALIAS_JOURNAL - 1) * sizeof(*m->journal));
        m->n_journal--;
    }
    m->journal[m->n_journal].from = from;
    m->journal[m->n_journal].to = 0;
    m->n_journal++;
}

/* Frees every alias of one bucket (the table is full: a few old ids stop resolving). */
static void alias_drop_bucket(struct lw_miner *m, size_t b)
{
    struct alias *a = m->alias_map[b];

    while (a != NULL) {
        struct alias *n = a->next;

        if (a->sent_to != 0) {
            journal_add(m, a->from);
        }
        lw_free(a);
        m->n_alias--;
        a = n;
    }
    m->alias_map[b] = NULL;
}

static int alias_add(struct lw_miner *m, uint32_t from, uint32_t to)
{
    struct alias *a = lw_malloc(sizeof(*a));
    size_t b;

    if (a == NULL) {
        return LW_ENOMEM;
    }
    while (m->n_alias >= m->max_aliases && m->n_alias > 0) {
        alias_drop_bucket(m, rng_next(&m->rng) & m->id_map_mask);
    }
    /* No scan for aliases that pointed at @from: they reach @to through this one (a chain). */
    a->from = from;
    a->to = to;
    a->sent_to = 0;
    b = from & m->id_map_mask;
    a->next = m->alias_map[b];
    m->alias_map[b] = a;
    m->n_alias++;
    m->alias_dirty = true;
    return LW_OK;
}

/*
 * Id @id is taken again by a live template (its text came back, or a hash collision): it stops
 * being an alias. The aliases that led through it are pointed at its old target, so they keep
 * reaching the template they reached before. A full scan, but this is rare.
 */
static void alias_release(struct lw_miner *m, uint32_t id)
{
    struct alias **pp = &m->alias_map[id & m->id_map_mask];
    struct alias *a;
    uint32_t to;
    size_t b;

    while (*pp != NULL && (*pp)->from != id) {
        pp = &(*pp)->next;
    }
    if (*pp == NULL) {
        return;
    }
    a = *pp;
    to = a->to;
    *pp = a->next;
    if (a->sent_to != 0) {
        journal_add(m, id);
    }
    lw_free(a);
    m->n_alias--;
    for (b = 0; b <= m->id_map_mask && m->n_alias > 0; b++) {
        struct alias *x;

        for (x = m->alias_map[b]; x != NULL; x = x->next) {
            if (x->to == id) {
                x->to = to;
            }
        }
    }
}

/*
 * Template ids come from the canonical text, so that every instance that mines a template of
 * that text gives it the same id without talking to the others: the XXH3-64 of the text (seed
 * 0) folded to 32 bits. When that id is held by a live template of another text (a hash
 * collision: about n^2 / 2^33 pairs among n templates), the next seed is tried, and so on; the
 * first free one wins. 0 is never an id. Instances agree on an id unless they saw two colliding
 * texts in a different order (docs/parse.md, "Template ids").
 */
static uint32_t text_id(const char *text, size_t len, uint64_t seed)
{
    uint64_t h = XXH3_64bits_withSeed(text, len, seed);

    return (uint32_t)(h ^ (h >> 32));
}

uint32_t lw_template_id(const char *text, size_t len)
{
    uint64_t seed;
    uint32_t id = 0;

    for (seed = 0; id == 0; seed++) {
        id = text_id(text, len, seed);
    }
    return id;
}

static uint32_t id_for_text(const struct lw_miner *m, const struct tpl *t)
{
    uint64_t seed;

    for (seed = 0;; seed++) {
        uint32_t id = text_id(t->text, t->text_len, seed);
        const struct tpl *o;

        if (id == 0) {
            continue;
        }
        o = id_lookup_live(m, id);
        if (o == NULL || o == t) {
            return id;
        }
    }
}

static void alias_clear(struct lw_miner *m)
{
    size_t b;

    if (m->alias_map == NULL) {
        return;
    }
    for (b = 0; b <= m->id_map_mask; b++) {
        struct alias *a = m->alias_map[b];

        while (a != NULL) {
            struct alias *n = a->next;

            lw_free(a);
            a = n;
        }
        m->alias_map[b] = NULL;
    }
    m->n_alias = 0;
}

/* Gives @t (not in the id map) the id of its text, releasing that id if it was an alias. */
static void tpl_set_id(struct lw_miner *m, struct tpl *t)
{
    t->id = id_for_text(m, t);
    alias_release(m, t->id);
}

static void id_insert(struct lw_miner *m, struct tpl *t)
{
    size_t b = t->id & m->id_map_mask;

    t->id_next = m->id_map[b];
    m->id_map[b] = t;
}

static void id_remove(struct lw_miner *m, struct tpl *t)
{
    struct tpl **pp = &m->id_map[t->id & m->id_map_mask];

    while (*pp != NULL && *pp != t) {
        pp = &(*pp)->id_next;
    }
    if (*pp == t) {
        *pp = t->id_next;
    }
}

/*
 * The text index: live templates by canonical text. It is only read and written where a
 * template is created or its text changes (the slow path, under the write lock, and load), never
 * per line. Between a template's new text and the tpl_dedup() that follows it, two live
 * templates may share a text, so a chain can hold equal texts.
 */
static void text_insert(struct lw_miner *m, struct tpl *t)
{
    size_t b = t->text_h & m->id_map_mask;

    t->text_next = m->text_map[b];
    m->text_map[b] = t;
}

static void text_remove(struct lw_miner *m, struct tpl *t)
{
    struct tpl **pp = &m->text_map[t->text_h & m->id_map_mask];

    while (*pp != NULL && *pp != t) {
        pp = &(*pp)->text_next;
    }
    if (*pp == t) {
        *pp = t->text_next;
    }
}

/* The live template other than @self whose canonical text is that of @t, or NULL. */
static struct tpl *text_find(const struct lw_miner *m, const struct tpl *t, const struct tpl *self)
{
    struct tpl *x = m->text_map[t->text_h & m->id_map_mask];

    for (; x != NULL; x = x->text_next) {
        if (x != self && x->text_h == t->text_h && x->text_len == t->text_len &&
            memcmp(x->text, t->text, t->text_len) == 0) {
            return x;
        }
    }
    return NULL;
}

static int vec_push(struct tpl_vec *v, struct tpl *t)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        struct tpl **nv = lw_realloc(v->v, cap * sizeof(*nv));

        if (nv == NULL) {
            return LW_ENOMEM;
        }
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = t;
    return LW_OK;
}

static void vec_remove(struct tpl_vec *v, struct tpl *t)
{
    size_t i;

    for (i = 0; i < v->n; i++) {
        if (v->v[i] == t) {
            /* Keep the order: earlier templates win ties, which keeps results stable. */
            memmove(&v->v[i], &v->v[i + 1], (v->n - i - 1) * sizeof(*v->v));
            v->n--;
            return;
        }
    }
}

/* Rebuilds the canonical text of @t from its tokens. */
static int tpl_render(struct tpl *t)
{
    size_t raw_len = 0;
    size_t cap;
    char *raw;
    char *canon;
    size_t n;
    uint32_t i;
    char *p;

    for (i = 0; i < t->n_tok; i++) {
        raw_len += (t->tok[i].wild ? 3 : t->tok[i].len + 3) + 1;
    }
    raw = lw_malloc(raw_len + 1);
    if (raw == NULL) {
        return LW_ENOMEM;
    }
    p = raw;
    for (i = 0; i < t->n_tok; i++) {
        if (i > 0) {
            *p++ = ' ';
        }
        if (t->tok[i].wild) {
            memcpy(p, WILD, 3);
            p += 3;
        }
        else if (t->tok[i].part) {
            const struct tok *tk = &t->tok[i];

            memcpy(p, tk->s, tk->pre);
            p += tk->pre;
            memcpy(p, WILD, 3);
            p += 3;
            memcpy(p, tk->s + tk->len - tk->suf, tk->suf);
            p += tk->suf;
        }
        else {
            memcpy(p, t->tok[i].s, t->tok[i].len);
            p += t->tok[i].len;
        }
    }
    *p = '\0';
    cap = (size_t)(p - raw) + 16;
    canon = lw_malloc(cap);
    if (canon == NULL) {
        lw_free(raw);
        return LW_ENOMEM;
    }
    n = lw_canon(raw, (size_t)(p - raw), canon, cap);
    if (n >= cap) {
        /* Canonical forms only shrink; keep the raw form if that ever fails to hold. */
        lw_free(canon);
        canon = raw;
        n = (size_t)(p - raw);
        raw = NULL;
    }
    lw_free(raw);
    lw_free(t->text);
    t->text = canon;
    t->text_len = n;
    t->text_h = XXH3_64bits(canon, n);
    return LW_OK;
}

/*
 * Re-renders live template @t and files it under its new text in the index. A new text means a
 * new id (the id is the text's): the old id becomes an alias of the new one, and the epoch moves
 * so that the thread caches stop handing out the old one. When another live template already
 * has the new text, @t keeps its id for now: tpl_dedup() merges it into that one, whose id is
 * the text's.
 */
static int tpl_retext(struct lw_miner *m, struct tpl *t)
{
    uint64_t old_h = t->text_h;
    size_t old_len = t->text_len;
    uint32_t old_id = t->id;
    int rc;

    text_remove(m, t);
    rc = tpl_render(t); /* on failure the old text stays, and so does its key */
    text_insert(m, t);
    if (rc < 0 || (t->text_h == old_h && t->text_len == old_len) || text_find(m, t, t) != NULL) {
        return rc;
    }
    id_remove(m, t);
    tpl_set_id(m, t);
    id_insert(m, t);
    if (t->id != old_id) {
        rc = alias_add(m, old_id, t->id);
        atomic_fetch_add(&m->epoch, 1);
    }
    return rc;
}

/* ---- life cycle ---- */

struct lw_miner *lw_miner_create(const struct lw_miner_conf *conf, char *err, size_t err_len)
{
    struct lw_miner *m;
    size_t buckets = 1024;
    struct lw_miner_conf def;

    if (conf == NULL) {
        memset(&def, 0, sizeof(def));
        conf = &def;
    }
    if (conf->sim_threshold < 0 || conf->sim_threshold > 1) {
        snprintf(err, err_len, "similarity threshold must be between 0 and 1");
        return NULL;
    }
    m = lw_calloc(1, sizeof(*m));
    if (m == NULL) {
        goto fail_nomem;
    }
    if (pthread_rwlock_init(&m->lock, NULL) != 0) {
        lw_free(m);
        goto fail_nomem;
    }
    m->sim = conf->sim_threshold > 0 ? conf->sim_threshold : DEFAULT_SIM;
    m->sibling_merge = conf->sibling_merge ? conf->sibling_merge : DEFAULT_SIBLINGS;
    m->max_templates = conf->max_templates ? conf->max_templates : DEFAULT_MAX_TEMPLATES;
    m->max_tokens = conf->max_tokens ? conf->max_tokens : DEFAULT_MAX_TOKENS;
    if (m->max_tokens > 4096) {
        m->max_tokens = 4096;
    }
    while (buckets < m->max_templates * 2 && buckets < (1u << 22)) {
        buckets <<= 1;
    }
    m->id_map = lw_calloc(buckets, sizeof(*m->id_map));
    m->alias_map = lw_calloc(buckets, sizeof(*m->alias_map));
    m->text_map = lw_calloc(buckets, sizeof(*m->text_map));
    m->id_map_mask = buckets - 1;
    m->live = lw_calloc(m->max_templates, sizeof(*m->live));
    m->by_len = lw_calloc(m->max_tokens + 1, sizeof(*m->by_len));
    m->gcache = lw_calloc(GCACHE_SIZE, sizeof(*m->gcache));
    m->next_id = 1;
    m->max_aliases = 4 * m->max_templates;
    m->journal = lw_malloc(ALIAS_JOURNAL * sizeof(*m->journal));
    m->rng = 0x243f6a8885a308d3ull;
    if (m->journal == NULL || m->id_map == NULL || m->alias_map == NULL || m->text_map == NULL || m->live == NULL ||
        m->by_len == NULL || m->gcache == NULL) {
        lw_miner_destroy(m);
        goto fail_nomem;
    }
    m->masker = lw_masker_create(&conf->masks, err, err_len);
    if (m->masker == NULL) {
        lw_miner_destroy(m);
        return NULL;
    }
    return m;

fail_nomem:
    snprintf(err, err_len, "out of memory");
    return NULL;
}

void lw_miner_destroy(struct lw_miner *m)
{
    size_t i;

    if (m == NULL) {
        return;
    }
    if (m->live != NULL) {
        for (i = 0; i < m->n_live; i++) {
            tpl_free(m->live[i]);
        }
    }
    if (m->by_len != NULL) {
        for (i = 0; i <= m->max_tokens; i++) {
            lw_free(m->by_len[i].v);
        }
    }
    lw_free(m->by_len);
    lw_free(m->live);
    alias_clear(m);
    lw_free(m->alias_map);
    lw_free(m->journal);
    lw_free(m->text_map);
    lw_free(m->id_map);
    lw_free(m->gcache);
    lw_masker_destroy(m->masker);
    pthread_rwlock_destroy(&m->lock);
    lw_free(m);
}

struct lw_miner_scratch *lw_miner_scratch_create(struct lw_miner *m)
{
    struct lw_miner_scratch *s = lw_calloc(1, sizeof(*s));
    size_t n = m->max_tokens + 1;

    if (s == NULL) {
        return NULL;
    }
    s->m = m;
    s->mst = lw_mask_state_create(m->masker);
    s->tok_off = lw_malloc(n * sizeof(uint32_t));
    s->tok_len = lw_malloc(n * sizeof(uint32_t));
    s->sh_off = lw_malloc(n * sizeof(uint32_t));
    s->sh_len = lw_malloc(n * sizeof(uint32_t));
    s->tok_cls = lw_malloc(n);
    s->tok_wordy = lw_malloc(n);
    s->tok_h = lw_malloc(n * sizeof(uint64_t));
    s->tok_first_span = lw_malloc(n * sizeof(uint16_t));
    s->tok_n_span = lw_malloc(n * sizeof(uint16_t));
    s->sb_cap = 4096;
    s->sb = lw_malloc(s->sb_cap);
    s->epoch = atomic_load(&m->epoch);
    if (s->mst == NULL || s->tok_off == NULL || s->tok_len == NULL || s->sh_off == NULL ||
        s->sh_len == NULL || s->tok_cls == NULL || s->tok_wordy == NULL || s->tok_h == NULL ||
        s->tok_first_span == NULL || s->tok_n_span == NULL || s->sb == NULL) {
        lw_miner_scratch_destroy(s);
        return NULL;
    }
    return s;
}

void lw_miner_scratch_params(struct lw_miner_scratch *s, int on)
{
    s->want_params = on;
}

/* Folds the thread's counts into the templates. Caller holds the write lock. */
static void stats_flush_locked(struct lw_miner_scratch *s)
{
    struct lw_miner *m = s->m;
    size_t i;

    for (i = 0; i < STATS_SIZE && s->n_stats > 0; i++) {
        struct stat_ent *e = &s->stats[i];
        struct tpl *t;

        if (e->id == 0) {
            continue;
        }
        t = id_lookup(m, e->id);
        if (t != NULL) {
            t->count += e->count;
            if (e->first_ns != LW_TS_UNKNOWN &&
                (t->first_ns == LW_TS_UNKNOWN || e->first_ns < t->first_ns)) {
                t->first_ns = e->first_ns;
            }
            if (e->last_ns != LW_TS_UNKNOWN &&
                (t->last_ns == LW_TS_UNKNOWN || e->last_ns > t->last_ns)) {
                t->last_ns = e->last_ns;
            }
            t->last_seq = m->seq;
        }
        e->id = 0;
        s->n_stats--;
    }
    s->n_stats = 0;
    s->since_flush = 0;
    m->seq++;
}

void lw_miner_scratch_flush(struct lw_miner_scratch *s)
{
    if (s == NULL || s->n_stats == 0) {
        return;
    }
    pthread_rwlock_wrlock(&s->m->lock);
    stats_flush_locked(s);
    pthread_rwlock_unlock(&s->m->lock);
}

void lw_miner_scratch_destroy(struct lw_miner_scratch *s)
{
    if (s == NULL) {
        return;
    }
    if (s->m != NULL && s->n_stats > 0) {
        lw_miner_scratch_flush(s);
    }
    lw_mask_state_destroy(s->mst);
    lw_free(s->tok_off);
    lw_free(s->tok_len);
    lw_free(s->sh_off);
    lw_free(s->sh_len);
    lw_free(s->tok_cls);
    lw_free(s->tok_wordy);
    lw_free(s->tok_h);
    lw_free(s->tok_first_span);
    lw_free(s->tok_n_span);
    lw_free(s->sb);
    lw_free(s->text);
    lw_free(s);
}

const char *lw_miner_scratch_text(const struct lw_miner_scratch *s, size_t *len)
{
    if (s->text == NULL || s->text_cap == 0) {
        return NULL;
    }
    *len = s->text_len;
    return s->text;
}

/* Counts one line for template @id in the thread's table. */
static void stats_add(struct lw_miner_scratch *s, uint32_t id, int64_t ts)
{
    size_t i = (id * 0x9e3779b1u) & (STATS_SIZE - 1);
    size_t probes;

    for (probes = 0; probes < 8; probes++) {
        struct stat_ent *e = &s->stats[i];

        if (e->id == id) {
            e->count++;
            if (ts != LW_TS_UNKNOWN) {
                if (e->first_ns == LW_TS_UNKNOWN || ts < e->first_ns) {
                    e->first_ns = ts;
                }
                if (e->last_ns == LW_TS_UNKNOWN || ts > e->last_ns) {
                    e->last_ns = ts;
                }
            }
            break;
        }
        if (e->id == 0) {
            e->id = id;
            e->count = 1;
            e->first_ns = ts;
            e->last_ns = ts;
            s->n_stats++;
            break;
        }
        i = (i + 1) & (STATS_SIZE - 1);
    }
    if (probes == 8 || ++s->since_flush >= LW_FLUSH_LINES) {
        lw_miner_scratch_flush(s);
        if (probes == 8) {
            stats_add(s, id, ts);
        }
    }
}

/* ---- shaping ---- */

static int sb_reserve(struct lw_miner_scratch *s, size_t need)
{
    if (need > s->sb_cap) {
        size_t cap = s->sb_cap;
        char *nb;

        while (cap < need) {
            cap *= 2;
        }
        nb = lw_realloc(s->sb, cap);
        if (nb == NULL) {
            return LW_ENOMEM;
        }
        s->sb = nb;
        s->sb_cap = cap;
    }
    return LW_OK;
}

/*
 * Splits @msg into tokens at white space (offsets, lengths, the masked spans in each; a span is
 * skipped whole, and one starting behind the position, overlapping the one before, is never
 * consumed inside its token). The message's tokens past max_tokens stay in the last one. All that
 * extract_params() needs for a line whose template came from the cache; shape() writes the shape
 * from them. Between span starts it only looks for white space. With detection on, shape() on every
 * cached line was 262M of the daemon's 2,713M instructions for 200k lines (callgrind); this
 * costs about half of that.
 */
static long tokens(struct lw_miner_scratch *s, const char *msg, size_t len, size_t n_spans)
{
    const struct lw_mask_span *sp = s->spans;
    size_t max_tok = s->m->max_tokens;
    size_t i = 0;
    size_t k = 0; /* next span */
    size_t n_tok = 0;

    while (i < len) {
        size_t start;
        bool last;

        while (i < len && is_space((unsigned char)msg[i])) {
            i++;
        }
        if (i >= len) {
            break;
        }
        last = n_tok + 1 == max_tok;
        start = i;
        s->tok_first_span[n_tok] = (uint16_t)k;
        for (;;) {
            /* shape() consumes span k when it reaches its start; a span starting behind i
             * (overlapping the one before) is never consumed inside this token. */
            size_t next = k < n_spans && sp[k].off >= i ? sp[k].off : len;

            if (last) {
                i = next;
            }
            else {
                while (i < next && !is_space((unsigned char)msg[i])) {
                    i++;
                }
            }
            if (i < next || i >= len || (!last && is_space((unsigned char)msg[i]))) {
                break;
            }
            i += sp[k].len;
            k++;
            if (i >= len) {
                break;
            }
        }
        while (k < n_spans && sp[k].off < i) {
            k++;
        }
        s->tok_n_span[n_tok] = (uint16_t)(k - s->tok_first_span[n_tok]);
        s->tok_off[n_tok] = (uint32_t)start;
        s->tok_len[n_tok] = (uint32_t)(i - start);
        n_tok++;
        if (last) {
            break;
        }
    }
    return (long)n_tok;
}

/*
 * Splits @msg into tokens (tokens()) and writes the shape into s->sb: each token with its masked
 * spans replaced by <*>, joined by single spaces. Returns the number of tokens, or a negative
 * LW_ENOMEM. The last token of a message with more than max_tokens tokens keeps the rest of the
 * message, its trailing white space trimmed.
 */
static long shape(struct lw_miner_scratch *s, const char *msg, size_t len, size_t n_spans,
                  size_t *sb_len)
{
    const struct lw_mask_span *sp = s->spans;
    size_t o = 0;
    size_t t;
    long n_tok;

    /* Masked spans shrink or grow to 3 bytes; one separator per token. */
    if (sb_reserve(s, len + 3 * n_spans + 2) < 0) {
        return LW_ENOMEM;
    }
    n_tok = tokens(s, msg, len, n_spans);
    for (t = 0; t < (size_t)n_tok; t++) {
        size_t i = s->tok_off[t];
        size_t end = i + s->tok_len[t];
        size_t k = s->tok_first_span[t];
        size_t k_end = k + s->tok_n_span[t];

        if (t > 0) {
            s->sb[o++] = ' ';
        }
        s->sh_off[t] = (uint32_t)o;
        while (i < end) {
            if (k < k_end && sp[k].off == i) {
                memcpy(s->sb + o, WILD, 3);
                o += 3;
                i += sp[k].len;
                k++;
                continue;
            }
            s->sb[o++] = msg[i++];
        }
        s->sh_len[t] = (uint32_t)(o - s->sh_off[t]);
    }
    if (n_tok > 0 && (size_t)n_tok == s->m->max_tokens) {
        /* Trailing white space of the rest stays inside the last token's bytes. */
        while (s->sh_len[n_tok - 1] > 0 && is_space((unsigned char)s->sb[o - 1])) {
            o--;
            s->sh_len[n_tok - 1]--;
        }
    }
    *sb_len = o;
    return n_tok;
}

static uint8_t classify(const char *p, size_t len)
{
    size_t i;
    bool alpha = false;

    for (i = 0; i + 3 <= len; i++) {
        if (p[i] == '<' && p[i + 1] == '*' && p[i + 2] == '>') {
            return TOK_MASKED;
        }
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            alpha = true;
        }
        else if (c >= '0' && c <= '9') {
            return TOK_OTHER;
        }
        else if (c != ':' && c != ',' && c != '.' && c != ';' && c != '(' && c != ')' &&
                 c != '[' && c != ']' && c != '\'' && c != '"' && c != '!' && c != '?' &&
                 c != '-' && c != '_') {
            return TOK_OTHER;
        }
    }
    return alpha ? TOK_WORD : TOK_OTHER;
}

/*
 * Whether a token reads as words: letters and punctuation, no digits, masked spans aside
 * ("failures;", "(uid=<*>)", "user=guest"). Two different wordy tokens at the same place are a
 * sign of two different messages rather than of a variable.
 */
static uint8_t wordy(const char *p, size_t len)
{
    size_t i;
    bool alpha = false;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];

        if (c == '<' && i + 2 < len && p[i + 1] == '*' && p[i + 2] == '>') {
            i += 2;
            continue;
        }
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') {
            alpha = true;
        }
        else if (c >= '0' && c <= '9') {
            return 0;
        }
    }
    return alpha;
}

/*
 * Whether a template token reads as a word in the template's printed form. A token that lw_canon
 * prints as <*> ("root", "admin", "true", a path) does not: the template already shows a
 * variable there, so a line with another word at that place belongs to it. Were the token a
 * word, that line would wait in a sibling template of its own ("Failed password for user ..."
 * next to "Failed password for <*> ...", which it matches as printed), announced as a new
 * template and merged a few lines later. Called where template tokens are made, not per line.
 */
static uint8_t tpl_tok_wordy(const char *p, size_t len)
{
    char c[8];

    return wordy(p, len) && !(lw_canon(p, len, c, sizeof(c)) == 3 && memcmp(c, WILD, 3) == 0);
}

/* Whether two tokens hold the same letters in the same order, masks and punctuation aside. */
static bool same_letters(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0;
    size_t j = 0;

    for (;;) {
        while (i < alen && !(((unsigned char)a[i] | 0x20) >= 'a' &&
                             ((unsigned char)a[i] | 0x20) <= 'z')) {
            i++;
        }
        while (j < blen && !(((unsigned char)b[j] | 0x20) >= 'a' &&
                             ((unsigned char)b[j] | 0x20) <= 'z')) {
            j++;
        }
        if (i == alen || j == blen) {
            return i == alen && j == blen;
        }
        if (a[i] != b[j]) {
            return false;
        }
        i++;
        j++;
    }
}

static double weight(uint8_t cls)
{
    return cls == TOK_OTHER ? 0.5 : 1.0;
}

/* ---- matching ---- */

static inline bool tok_matches(const struct tok *tk, const struct lw_miner_scratch *s, size_t i)
{
    const char *p = s->sb + s->sh_off[i];
    size_t len = s->sh_len[i];

    if (tk->part) {
        return len >= (size_t)tk->pre + tk->suf && memcmp(p, tk->s, tk->pre) == 0 &&
               memcmp(p + len - tk->suf, tk->s + tk->len - tk->suf, tk->suf) == 0;
    }
    return tk->h == s->tok_h[i] && tk->len == len && memcmp(tk->s, p, len) == 0;
}

static inline bool is_delim(unsigned char c)
{
    return c != '<' && c != '*' && c != '>' && !((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
           !(c >= '0' && c <= '9') && c < 0x80;
}

/*
 * Generalises template token @tk so that it also covers @p[0..len): keeps the longest common
 * prefix that ends on a delimiter and the longest common suffix that starts on one
 * ("rhost=a" and "rhost=b" give "rhost=<*>", "(x)" and "(y)" give "(<*>)"); with neither,
 * the token becomes a plain <*>.
 */
static void tok_generalize(struct tok *tk, const char *p, size_t len)
{
    size_t tpre = tk->part ? tk->pre : tk->len;
    size_t tsuf = tk->part ? tk->suf : tk->len;
    size_t pre = 0;
    size_t suf = 0;
    size_t max;

    while (pre < tpre && pre < len && tk->s[pre] == p[pre]) {
        pre++;
    }
    while (pre > 0 && !is_delim((unsigned char)tk->s[pre - 1])) {
        pre--;
    }
    max = len - pre;
    if (tk->len - pre < max) {
        max = tk->len - pre;
    }
    while (suf < tsuf && suf < max && tk->s[tk->len - 1 - suf] == p[len - 1 - suf]) {
        suf++;
    }
    while (suf > 0 && !is_delim((unsigned char)tk->s[tk->len - suf])) {
        suf--;
    }
    if (pre == 0 && suf == 0) {
        tk->wild = 1;
        tk->part = 0;
        return;
    }
    tk->part = 1;
    tk->wordy = 0;
    tk->pre = (uint16_t)(pre < UINT16_MAX ? pre : 0);
    tk->suf = (uint16_t)(suf < UINT16_MAX ? suf : 0);
    tk->cls = TOK_MASKED;
}

/*
 * Similarity of the line (tokens in @s) with template @t of the same length, or -1 when they
 * must not merge. Also returns the number of equal constant tokens in *n_eq.
 */
static double similarity(const struct lw_miner_scratch *s, const struct tpl *t, size_t *n_eq)
{
    double num = 0;
    double den = 0;
    uint32_t i;
    size_t eq = 0;
    int word_diff = 0;

    for (i = 0; i < t->n_tok; i++) {
        const struct tok *tk = &t->tok[i];
        double w;

        if (tk->wild) {
            continue;
        }
        w = weight(tk->cls);
        den += w;
        if (tok_matches(tk, s, i)) {
            num += w;
            eq++;
        }
        else if (tk->wordy && s->tok_wordy[i] && !tk->part &&
                 !same_letters(tk->s, tk->len, s->sb + s->sh_off[i], s->sh_len[i])) {
            /*
             * Two different words. A different leading word, or two differing words, make a
             * different message ("Failed password ..." is not "Failed none ...").
             */
            if ((i == 0 && tk->cls == TOK_WORD && s->tok_cls[i] == TOK_WORD) ||
                ++word_diff >= 2) {
                return -1;
            }
        }
    }
    *n_eq = eq;
    if (den == 0) {
        return 1.0;
    }
    return num / den;
}

static struct tpl *tpl_new(struct lw_miner *m, const struct lw_miner_scratch *s, size_t n_tok)
{
    struct tpl *t = lw_calloc(1, sizeof(*t));
    size_t i;

    if (t == NULL) {
        return NULL;
    }
    t->tok = lw_calloc(n_tok ? n_tok : 1, sizeof(*t->tok));
    if (t->tok == NULL) {
        lw_free(t);
        return NULL;
    }
    t->n_tok = (uint32_t)n_tok;
    for (i = 0; i < n_tok; i++) {
        struct tok *tk = &t->tok[i];
        const char *p = s->sb + s->sh_off[i];

        tk->len = s->sh_len[i];
        tk->s = lw_strndup(p, tk->len);
        if (tk->s == NULL) {
            tpl_free(t);
            return NULL;
        }
        tk->h = s->tok_h[i];
        tk->cls = s->tok_cls[i];
        tk->wordy = s->tok_wordy[i] ? tpl_tok_wordy(p, tk->len) : 0;
        tk->wild = tk->len == 3 && memcmp(p, WILD, 3) == 0;
    }
    t->first_ns = LW_TS_UNKNOWN;
    t->last_ns = LW_TS_UNKNOWN;
    t->last_seq = m->seq;
    if (tpl_render(t) < 0) {
        tpl_free(t);
        return NULL;
    }
    return t;
}

/* Removes @t from every index (it is not freed). */
static void tpl_unlink(struct lw_miner *m, struct tpl *t)
{
    id_remove(m, t);
    text_remove(m, t);
    vec_remove(&m->by_len[t->n_tok], t);
    m->live[t->live_idx] = m->live[m->n_live - 1];
    m->live[t->live_idx]->live_idx = t->live_idx;
    m->n_live--;
    atomic_fetch_add(&m->epoch, 1);
}

/* Whether two template tokens describe the same thing. */
static bool tok_same(const struct tok *a, const struct tok *b)
{
    if (a->wild || b->wild) {
        return a->wild == b->wild;
    }
    if (a->part != b->part) {
        return false;
    }
    if (a->part) {
        return a->pre == b->pre && a->suf == b->suf && memcmp(a->s, b->s, a->pre) == 0 &&
               memcmp(a->s + a->len - a->suf, b->s + b->len - b->suf, a->suf) == 0;
    }
    return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
}

/* Whether template token @a covers everything template token @b does. */
static bool tok_covers(const struct tok *a, const struct tok *b)
{
    if (a->wild) {
        return true;
    }
    if (a->part && !b->wild) {
        size_t bpre = b->part ? b->pre : b->len;
        size_t bsuf = b->part ? b->suf : b->len;

        return bpre >= a->pre && bsuf >= a->suf && memcmp(a->s, b->s, a->pre) == 0 &&
               memcmp(a->s + a->len - a->suf, b->s + b->len - a->suf, a->suf) == 0;
    }
    return tok_same(a, b);
}

/*
 * Generalises @keep so that it covers every line @o covers (templates of one token count; with
 * different counts nothing changes). Returns whether a token changed; the text is not rendered.
 */
static bool tpl_cover(struct tpl *keep, const struct tpl *o)
{
    bool changed = false;
    uint32_t k;

    if (keep->n_tok != o->n_tok) {
        return false;
    }
    for (k = 0; k < keep->n_tok; k++) {
        struct tok *tk = &keep->tok[k];
        const struct tok *ok = &o->tok[k];

        if (tok_covers(tk, ok)) {
            continue;
        }
        if (!ok->wild) {
            /* @ok's literal is one of the values it covers; its pattern may be wider. */
            tok_generalize(tk, ok->s, ok->len);
        }
        if (ok->wild || !tok_covers(tk, ok)) {
            tk->wild = 1;
            tk->part = 0;
        }
        changed = true;
    }
    return changed;
}

/*
 * Merges live template @drop into live template @keep: @drop's id becomes an alias of @keep,
 * its counts and times are folded in, @keep is generalised to cover it (its text is not
 * rendered), and @drop is unlinked (which bumps the epoch, clearing the thread caches) and freed.
 * Returns LW_OK, or LW_ENOMEM with nothing changed.
 */
static int tpl_merge(struct lw_miner *m, struct tpl *keep, struct tpl *drop)
{
    int rc = alias_add(m, drop->id, keep->id);

    if (rc < 0) {
        return rc;
    }
    keep->count += drop->count;
    if (drop->first_ns != LW_TS_UNKNOWN &&
        (keep->first_ns == LW_TS_UNKNOWN || drop->first_ns < keep->first_ns)) {
        keep->first_ns = drop->first_ns;
    }
    if (drop->last_ns > keep->last_ns) {
        keep->last_ns = drop->last_ns;
    }
    if (drop->last_seq > keep->last_seq) {
        keep->last_seq = drop->last_seq;
    }
    (void)tpl_cover(keep, drop);
    tpl_unlink(m, drop);
    tpl_free(drop);
    return LW_OK;
}

/*
 * One id per template text. Called after the text of live template *@tp changed: while another
 * live template has the same canonical text, *@tp is merged into it (that one holds the text's
 * id; tpl_retext() left *@tp its old one), and its text may change in turn. *@tp becomes the
 * survivor. Returns LW_OK or LW_ENOMEM (the templates stay consistent, possibly with a
 * duplicate text).
 */
static int tpl_dedup(struct lw_miner *m, struct tpl **tp)
{
    struct tpl *t = *tp;
    struct tpl *o;
    int rc = LW_OK;

    while (rc == LW_OK && (o = text_find(m, t, t)) != NULL) {
        struct tpl *keep = o;

        rc = tpl_merge(m, keep, t);
        if (rc == LW_OK) {
            rc = tpl_retext(m, keep);
        }
        t = keep;
    }
    *tp = t;
    return rc;
}

/*
 * Sibling templates: a line that differs from its best template in exactly one word
 * ("cupsd startup succeeded" after "cupsd shutdown succeeded") most often is another message
 * of a small closed set, and less often a variable (a user name). The miner keeps such lines in
 * templates of their own until the position has shown @sibling_merge different words; then the
 * siblings are merged into the oldest one, and the others' ids become aliases of it.
 * Returns 1 and sets *id when the line was placed (merged), 0 when it needs a template of its
 * own, or a negative LW_E* code.
 */
static int place_sibling(struct lw_miner *m, const struct lw_miner_scratch *s, struct tpl *best,
                         size_t p, uint32_t *id)
{
    struct tpl *sib[64] = {NULL};
    struct tpl_vec *v = &m->by_len[best->n_tok];
    struct tpl *target;
    size_t n_sib = 0;
    size_t i;
    size_t k;

    for (i = 0; i < v->n && n_sib < 64; i++) {
        struct tpl *t = v->v[i];
        bool same = !t->tok[p].wild && !t->tok[p].part && t->tok[p].wordy;

        /* Words must agree everywhere else; variable-looking tokens may differ. */
        for (k = 0; k < t->n_tok && same; k++) {
            if (k != p && !tok_covers(&t->tok[k], &best->tok[k]) &&
                !tok_covers(&best->tok[k], &t->tok[k]) &&
                ((t->tok[k].wordy && !t->tok[k].wild && !t->tok[k].part) ||
                 (best->tok[k].wordy && !best->tok[k].wild && !best->tok[k].part))) {
                same = false;
            }
        }
        if (same) {
            sib[n_sib++] = t;
        }
    }
    if (n_sib == 0 || n_sib + 1 < m->sibling_merge) {
        return 0;
    }
    target = sib[0];
    for (i = 1; i < n_sib; i++) {
        if (sib[i]->born < target->born) {
            target = sib[i];
        }
    }
    for (i = 0; i < n_sib; i++) {
        int rc;

        if (sib[i] == target) {
            continue;
        }
        rc = tpl_merge(m, target, sib[i]);
        if (rc < 0) {
            (void)tpl_retext(m, target); /* keep text and tokens in step */
            return rc;
        }
    }
    /* The line itself may differ from the merged template in variable-looking tokens. */
    for (k = 0; k < target->n_tok; k++) {
        struct tok *tk = &target->tok[k];

        if (!tk->wild && !tok_matches(tk, s, k)) {
            tok_generalize(tk, s->sb + s->sh_off[k], s->sh_len[k]);
        }
    }
    if (tpl_retext(m, target) < 0 || tpl_dedup(m, &target) < 0) {
        return LW_ENOMEM;
    }
    *id = target->id;
    return 1;
}

/* Evicts the least recently matched of a few sampled templates (Redis' approximated LRU). */
static void evict_one(struct lw_miner *m)
{
    struct tpl *victim = NULL;
    size_t k;

    for (k = 0; k < EVICT_SAMPLES && m->n_live > 0; k++) {
        struct tpl *t = m->live[rng_next(&m->rng) % m->n_live];

        if (victim == NULL || t->last_seq < victim->last_seq) {
            victim = t;
        }
    }
    if (victim == NULL) {
        return;
    }
    tpl_unlink(m, victim);
    m->n_evicted++;
    tpl_free(victim);
}

/*
 * Files template @t (its text rendered). A @fresh one gets the id of its text and the next
 * creation number; a loaded one keeps those it was saved with.
 */
static int tpl_insert(struct lw_miner *m, struct tpl *t, bool fresh)
{
    if (m->n_live >= m->max_templates) {
        evict_one(m);
    }
    if (vec_push(&m->by_len[t->n_tok], t) < 0) {
        return LW_ENOMEM;
    }
    /* After the eviction: a fresh instance, with no such template, would not probe past it. */
    if (fresh) {
        tpl_set_id(m, t);
        t->born = ++m->n_born;
    }
    else if (t->born > m->n_born) {
        m->n_born = t->born;
    }
    t->live_idx = m->n_live;
    m->live[m->n_live++] = t;
    id_insert(m, t);
    text_insert(m, t);
    return LW_OK;
}

/* Slow path: the shape is not in the thread's cache. Takes the write lock. */
static void token_features(struct lw_miner_scratch *s, size_t n_tok)
{
    size_t i;

    for (i = 0; i < n_tok; i++) {
        const char *p = s->sb + s->sh_off[i];

        s->tok_h[i] = XXH3_64bits(p, s->sh_len[i]);
        s->tok_cls[i] = classify(p, s->sh_len[i]);
        s->tok_wordy[i] = wordy(p, s->sh_len[i]);
    }
}

/*
 * The read-only half of the slow path: a shape new to this thread that an existing template
 * already covers (the usual case once a log is warm) needs no change, so several threads can
 * look it up at once under the read lock. Returns the template id, or 0.
 */
static uint32_t match_covered(struct lw_miner *m, struct lw_miner_scratch *s, size_t n_tok,
                              uint64_t h)
{
    const struct gcache_ent *g = &m->gcache[h & (GCACHE_SIZE - 1)];
    const struct tpl_vec *cands = &m->by_len[n_tok];
    const struct tpl *best = NULL;
    size_t best_eq = 0;
    size_t i;

    /* The entry may name a template merged since: give the live one, never the alias. */
    if (g->h == h && g->n_tok == n_tok && g->id != 0 && (best = id_lookup(m, g->id)) != NULL) {
        return best->id;
    }
    token_features(s, n_tok);
    for (i = 0; i < cands->n; i++) {
        const struct tpl *t = cands->v[i];
        size_t eq = 0;
        size_t k;

        for (k = 0; k < n_tok; k++) {
            if (t->tok[k].wild) {
                continue;
            }
            if (!tok_matches(&t->tok[k], s, k)) {
                break;
            }
            eq++;
        }
        if (k == n_tok && (best == NULL || eq > best_eq)) {
            best = t;
            best_eq = eq;
        }
    }
    return best != NULL ? best->id : 0;
}

static int match_slow(struct lw_miner *m, struct lw_miner_scratch *s, size_t n_tok, uint64_t h,
                      uint32_t *id, int *is_new)
{
    struct gcache_ent *g = &m->gcache[h & (GCACHE_SIZE - 1)];
    struct tpl *best = NULL;
    double best_sim = -1;
    size_t best_eq = 0;
    struct tpl_vec *cands;
    size_t i;
    int rc = LW_OK;

    *is_new = 0;
    if (g->h == h && g->n_tok == n_tok && g->id != 0 && (best = id_lookup(m, g->id)) != NULL) {
        *id = best->id;
        return LW_OK;
    }
    for (i = 0; i < n_tok; i++) {
        const char *p = s->sb + s->sh_off[i];

        s->tok_h[i] = XXH3_64bits(p, s->sh_len[i]);
        s->tok_cls[i] = classify(p, s->sh_len[i]);
        s->tok_wordy[i] = wordy(p, s->sh_len[i]);
    }
    cands = &m->by_len[n_tok];
    for (i = 0; i < cands->n; i++) {
        size_t eq = 0;
        double sim = similarity(s, cands->v[i], &eq);

        if (sim > best_sim || (sim == best_sim && eq > best_eq)) {
            best = cands->v[i];
            best_sim = sim;
            best_eq = eq;
        }
    }
    if (best != NULL && best_sim >= m->sim && m->sibling_merge > 1) {
        size_t n_diff = 0;
        size_t n_wdiff = 0;
        size_t p = 0;

        for (i = 0; i < n_tok; i++) {
            const struct tok *tk = &best->tok[i];

            if (tk->wild || tok_matches(tk, s, i)) {
                continue;
            }
            n_diff++;
            if (!tk->part && tk->wordy && s->tok_wordy[i] &&
                !same_letters(tk->s, tk->len, s->sb + s->sh_off[i], s->sh_len[i])) {
                n_wdiff++;
                p = i;
            }
        }
        if (n_wdiff == 1) {
            rc = place_sibling(m, s, best, p, id);
            if (rc < 0) {
                return rc;
            }
            if (rc == 0) {
                best = NULL; /* a template of its own */
            }
            else {
                goto cache;
            }
        }
    }
    if (best != NULL && best_sim >= m->sim) {
        bool changed = false;

        for (i = 0; i < n_tok; i++) {
            struct tok *tk = &best->tok[i];

            if (tk->wild) {
                continue;
            }
            if (!tok_matches(tk, s, i)) {
                tok_generalize(tk, s->sb + s->sh_off[i], s->sh_len[i]);
                changed = true;
            }
        }
        if (changed) {
            rc = tpl_retext(m, best);
            if (rc == LW_OK) {
                rc = tpl_dedup(m, &best);
            }
        }
        *id = best->id;
    }
    else {
        struct tpl *t = tpl_new(m, s, n_tok);
        struct tpl *same;

        if (t == NULL) {
            return LW_ENOMEM;
        }
        same = text_find(m, t, NULL);
        if (same != NULL) {
            /*
             * The line would make a template whose canonical text is already known (the words
             * that differ are variables to lw_canon: "root" and "admin", digits, paths): it
             * belongs to that template, which is widened to cover it so that its shape matches
             * from now on. A second id would print as the same template.
             */
            bool widened = tpl_cover(same, t);

            tpl_free(t);
            if (widened) {
                rc = tpl_retext(m, same);
                if (rc == LW_OK) {
                    rc = tpl_dedup(m, &same);
                }
            }
            *id = same->id;
            goto cache;
        }
        rc = tpl_insert(m, t, true);
        if (rc < 0) {
            tpl_free(t);
            return rc;
        }
        *id = t->id;
        *is_new = 1;
    }
cache:
    g->h = h;
    g->id = *id;
    g->n_tok = (uint32_t)n_tok;
    return rc < 0 ? rc : LW_OK;
}

/* Parameters: masked spans, and whole tokens at the template's wildcard positions. */
static void extract_params(struct lw_miner *m, struct lw_miner_scratch *s, size_t n_tok,
                           uint32_t id, struct lw_match *out)
{
    struct tpl *t;
    size_t i;
    size_t n = 0;

    pthread_rwlock_rdlock(&m->lock);
    t = id_lookup(m, id);
    s->text_len = 0;
    if (t != NULL) {
        /* The text as the params see it: another thread may generalise the template later. */
        if (t->text_len + 1 > s->text_cap) {
            char *nb = lw_realloc(s->text, t->text_len + 1);

            if (nb != NULL) {
                s->text = nb;
                s->text_cap = t->text_len + 1;
            }
        }
        if (t->text_len + 1 <= s->text_cap) {
            memcpy(s->text, t->text, t->text_len + 1);
            s->text_len = t->text_len;
        }
    }
    for (i = 0; i < n_tok && n < LW_MINER_MAX_PARAMS; i++) {
        if (t != NULL && i < t->n_tok && t->tok[i].wild) {
            out->params[n].off = s->tok_off[i];
            out->params[n].len = s->tok_len[i];
            n++;
        }
        else if (t != NULL && i < t->n_tok && t->tok[i].part && s->tok_n_span[i] == 0 &&
                 s->tok_len[i] >= (uint32_t)t->tok[i].pre + t->tok[i].suf) {
            out->params[n].off = s->tok_off[i] + t->tok[i].pre;
            out->params[n].len = s->tok_len[i] - t->tok[i].pre - t->tok[i].suf;
            n++;
        }
        else {
            size_t k;

            for (k = 0; k < s->tok_n_span[i] && n < LW_MINER_MAX_PARAMS; k++) {
                const struct lw_mask_span *sp = &s->spans[s->tok_first_span[i] + k];

                out->params[n].off = sp->off;
                out->params[n].len = sp->len;
                n++;
            }
        }
    }
    pthread_rwlock_unlock(&m->lock);
    out->n_params = n;
}

/*
 * The cache key of a message: its bytes with the masked spans replaced by <*>, as they are
 * (white space not normalised, so "a  b" and "a b" are two keys of one template). Built with a
 * few memcpy() calls: tokenising every line cost about 40% of the miner's time on HDFS.
 */
static int fast_key(struct lw_miner_scratch *s, const char *msg, size_t len, size_t n_spans,
                    uint64_t *h)
{
    size_t i = 0;
    size_t o = 0;
    size_t k;

    if (sb_reserve(s, len + 3 * n_spans + 1) < 0) {
        return LW_ENOMEM;
    }
    for (k = 0; k < n_spans; k++) {
        const struct lw_mask_span *sp = &s->spans[k];

        memcpy(s->sb + o, msg + i, sp->off - i);
        o += sp->off - i;
        memcpy(s->sb + o, WILD, 3);
        o += 3;
        i = sp->off + sp->len;
    }
    memcpy(s->sb + o, msg + i, len - i);
    o += len - i;
    *h = XXH3_64bits(s->sb, o);
    return LW_OK;
}

/*
 * Moves the thread's cache to @epoch. Its entries carry the low 32 bits of the epoch they were
 * made at, so a new epoch makes them stale without a write: clearing the 256 KiB at each of the
 * 191 epochs of 200k lines was 50M of 2,615M instructions (callgrind). Only when the high bits
 * move could an old tag come back, and the cache is cleared then.
 */
static void tcache_epoch(struct lw_miner_scratch *s, uint64_t epoch)
{
    if (epoch != s->epoch && (epoch >> 32) != (s->epoch >> 32)) {
        memset(s->tcache, 0, sizeof(s->tcache));
    }
    s->epoch = epoch;
}

int lw_miner_add(struct lw_miner *m, struct lw_miner_scratch *s, const char *msg, size_t len,
                 int64_t ts_ns, struct lw_match *out)
{
    size_t n_spans;
    size_t sb_len = 0;
    long n_tok = -1;
    uint64_t key;
    uint64_t h;
    struct tcache_ent *c;
    uint64_t epoch;
    int rc;

    if (len > UINT32_MAX / 2) {
        len = UINT32_MAX / 2;
    }
    n_spans = lw_mask_apply(m->masker, s->mst, msg, len, s->spans, MAX_MASKS);
    rc = fast_key(s, msg, len, n_spans, &key);
    if (rc < 0) {
        return rc;
    }
    tcache_epoch(s, atomic_load_explicit(&m->epoch, memory_order_acquire));
    c = &s->tcache[key & (TCACHE_SIZE - 1)];
    out->is_new = 0;
    if (c->h == key && c->id != 0 && c->ep == (uint32_t)s->epoch) {
        out->template_id = c->id;
    }
    else {
        n_tok = shape(s, msg, len, n_spans, &sb_len);
        if (n_tok < 0) {
            return (int)n_tok;
        }
        h = XXH3_64bits_withSeed(s->sb, sb_len, (uint64_t)n_tok);
        /*
         * The epoch is read under the lock that found the id: evictions take the write lock,
         * so an id cached with that epoch is live at that epoch, and a later eviction changes it.
         */
        pthread_rwlock_rdlock(&m->lock);
        out->template_id = match_covered(m, s, (size_t)n_tok, h);
        epoch = atomic_load_explicit(&m->epoch, memory_order_acquire);
        pthread_rwlock_unlock(&m->lock);
        rc = LW_OK;
        if (out->template_id == 0) {
            pthread_rwlock_wrlock(&m->lock);
            rc = match_slow(m, s, (size_t)n_tok, h, &out->template_id, &out->is_new);
            if (s->n_stats > 0 && rc == LW_OK) {
                stats_flush_locked(s);
            }
            epoch = atomic_load_explicit(&m->epoch, memory_order_acquire);
            pthread_rwlock_unlock(&m->lock);
        }
        if (rc < 0) {
            return rc;
        }
        /* An eviction or merge during the slow path makes older entries stale. */
        tcache_epoch(s, epoch);
        c->h = key;
        c->id = out->template_id;
        c->ep = (uint32_t)s->epoch;
    }
    stats_add(s, out->template_id, ts_ns);
    out->n_params = 0;
    if (s->want_params) {
        if (n_tok < 0) {
            n_tok = tokens(s, msg, len, n_spans);
        }
        extract_params(m, s, (size_t)n_tok, out->template_id, out);
    }
    return LW_OK;
}

/* ---- queries ---- */

uint64_t lw_miner_epoch(struct lw_miner *m)
{
    return atomic_load_explicit(&m->epoch, memory_order_acquire);
}

uint32_t lw_miner_resolve(struct lw_miner *m, uint32_t id)
{
    struct tpl *t;
    uint32_t r;

    pthread_rwlock_rdlock(&m->lock);
    t = id_lookup(m, id);
    r = t != NULL ? t->id : 0;
    pthread_rwlock_unlock(&m->lock);
    return r;
}

long lw_miner_template(struct lw_miner *m, uint32_t id, char *buf, size_t cap)
{
    struct tpl *t;
    long n;

    pthread_rwlock_rdlock(&m->lock);
    t = id_lookup(m, id);
    if (t == NULL) {
        pthread_rwlock_unlock(&m->lock);
        return LW_ENOENT;
    }
    n = (long)t->text_len;
    if (cap > 0) {
        size_t c = t->text_len < cap - 1 ? t->text_len : cap - 1;

        memcpy(buf, t->text, c);
        buf[c] = '\0';
    }
    pthread_rwlock_unlock(&m->lock);
    return n;
}

static int cmp_tpl_born(const void *a, const void *b)
{
    const struct tpl *x = *(const struct tpl *const *)a;
    const struct tpl *y = *(const struct tpl *const *)b;

    return x->born < y->born ? -1 : x->born > y->born;
}

int lw_miner_foreach(struct lw_miner *m, lw_template_cb cb, void *opaque)
{
    struct tpl **v;
    size_t i;
    size_t n;
    int rc = 0;

    pthread_rwlock_rdlock(&m->lock);
    n = m->n_live;
    v = lw_malloc((n ? n : 1) * sizeof(*v));
    if (v == NULL) {
        pthread_rwlock_unlock(&m->lock);
        return LW_ENOMEM;
    }
    memcpy(v, m->live, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_tpl_born);
    for (i = 0; i < n && rc == 0; i++) {
        struct lw_template_info info = {
            v[i]->id, v[i]->count, v[i]->first_ns, v[i]->last_ns, v[i]->text, v[i]->born,
        };

        rc = cb(opaque, &info);
    }
    pthread_rwlock_unlock(&m->lock);
    lw_free(v);
    return rc;
}

/* ---- the nearest template (share of common words) ---- */

/* Words of a template as hashes, sorted, without the <*> places; returns how many. */
#define NEAR_WORDS 64

static size_t word_set(const char *t, uint64_t *w)
{
    size_t n = 0, i, j;

    while (*t != '\0' && n < NEAR_WORDS) {
        const char *e;

        while (*t == ' ') {
            t++;
        }
        for (e = t; *e != '\0' && *e != ' '; e++) {
        }
        if (e > t && !(e - t == 3 && memcmp(t, "<*>", 3) == 0)) {
            uint64_t h = 1469598103934665603ull;

            for (j = 0; j < (size_t)(e - t); j++) {
                h = (h ^ (unsigned char)t[j]) * 1099511628211ull;
            }
            w[n++] = h;
        }
        t = e;
    }
    for (i = 1; i < n; i++) { /* insertion sort: a few dozen words */
        uint64_t x = w[i];

        for (j = i; j > 0 && w[j - 1] > x; j--) {
            w[j] = w[j - 1];
        }
        w[j] = x;
    }
    return n;
}

static double jaccard(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    size_t i = 0, j = 0, both = 0;

    while (i < na && j < nb) {
        if (a[i] == b[j]) {
            both++;
            i++;
            j++;
        }
        else if (a[i] < b[j]) {
            i++;
        }
        else {
            j++;
        }
    }
    return na + nb - both > 0 ? (double)both / (double)(na + nb - both) : 0;
}

struct near_walk {
    uint32_t self;
    uint64_t words[NEAR_WORDS];
    size_t n;
    uint32_t best;
    double sim;
    uint64_t lines;
    uint64_t self_born;
};

static int near_cb(void *opaque, const struct lw_template_info *t)
{
    struct near_walk *w = opaque;
    uint64_t other[NEAR_WORDS];
    size_t n;
    double sim;

    /* Only templates made before this one: parse workers run ahead of the detectors. */
    if (t->born >= w->self_born) {
        return 0;
    }
    n = word_set(t->text, other);
    sim = jaccard(w->words, w->n, other, n);
    if (sim > w->sim || (sim == w->sim && w->best != 0 && t->count > w->lines)) {
        w->best = t->id;
        w->sim = sim;
        w->lines = t->count;
    }
    return 0;
}

uint32_t lw_miner_nearest(struct lw_miner *m, uint32_t id, double *similarity, uint64_t *lines)
{
    struct near_walk w;
    char text[4096];

    memset(&w, 0, sizeof(w));
    if (lw_miner_template(m, id, text, sizeof(text)) < 0) {
        return 0;
    }
    w.self = id;
    pthread_rwlock_rdlock(&m->lock);
    {
        const struct tpl *t = id_lookup(m, id);

        w.self_born = t != NULL ? t->born : 0;
    }
    pthread_rwlock_unlock(&m->lock);
    w.n = word_set(text, w.words);
    (void)lw_miner_foreach(m, near_cb, &w);
    *similarity = w.sim;
    *lines = w.lines;
    return w.best;
}

size_t lw_miner_n_templates(struct lw_miner *m)
{
    size_t n;

    pthread_rwlock_rdlock(&m->lock);
    n = m->n_live;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

bool lw_miner_continue_ids(struct lw_miner *m, uint32_t max_id)
{
    /* Ids come from the text: an id the store holds names the same text here. */
    (void)m;
    (void)max_id;
    return false;
}

int lw_miner_drain_aliases(struct lw_miner *m, struct lw_alias **out, size_t *n)
{
    struct lw_alias *v;
    size_t i;
    size_t k = 0;

    *out = NULL;
    *n = 0;
    pthread_rwlock_wrlock(&m->lock);
    if (!m->alias_dirty && m->n_journal == 0) {
        pthread_rwlock_unlock(&m->lock);
        return LW_OK;
    }
    v = lw_malloc((m->n_alias + m->n_journal + 1) * sizeof(*v));
    if (v == NULL) {
        pthread_rwlock_unlock(&m->lock);
        return LW_ENOMEM;
    }
    /*
     * Every alias whose live template is not the one last reported: new ones, and those behind
     * a template whose id changed since (a chain). So the store holds one hop, old id -> live
     * id, and needs no chain of its own (ClickHouse could not update rows to follow one).
     */
    for (i = 0; m->alias_dirty && i <= m->id_map_mask && m->n_alias > 0; i++) {
        struct alias *a;

        for (a = m->alias_map[i]; a != NULL; a = a->next) {
            const struct tpl *t = id_lookup(m, a->to);
            uint32_t live = t != NULL ? t->id : 0;

            if (live != a->sent_to) {
                v[k].from = a->from;
                v[k].to = live;
                k++;
                a->sent_to = live;
            }
        }
    }
    memcpy(v + k, m->journal, m->n_journal * sizeof(*v));
    k += m->n_journal;
    m->n_journal = 0;
    m->alias_dirty = false;
    *out = v;
    *n = k;
    pthread_rwlock_unlock(&m->lock);
    return LW_OK;
}

/* Marks every alias unreported: the next drain gives the whole table. Lock held. */
static void alias_unsend_all(struct lw_miner *m)
{
    size_t i;

    for (i = 0; i <= m->id_map_mask && m->n_alias > 0; i++) {
        struct alias *a;

        for (a = m->alias_map[i]; a != NULL; a = a->next) {
            a->sent_to = 0;
        }
    }
    m->alias_dirty = true;
}

void lw_miner_alias_resync(struct lw_miner *m)
{
    pthread_rwlock_wrlock(&m->lock);
    alias_unsend_all(m);
    pthread_rwlock_unlock(&m->lock);
}

uint64_t lw_miner_n_evicted(struct lw_miner *m)
{
    uint64_t n;

    pthread_rwlock_rdlock(&m->lock);
    n = m->n_evicted;
    pthread_rwlock_unlock(&m->lock);
    return n;
}

/* ---- state file ----
 *
 * Layout (little-endian):
 *   "LWMINER1" | u32 version | u32 next_id (unused since 2) | u64 n_templates
 *   per template: u32 id | [u64 born, since 2] | u64 count | i64 first_ns | i64 last_ns | u32 n_tok
 *                 per token: u8 kind (0 literal, 1 variable, 2 partly variable)
 *                            [u16 pre | u16 suf when kind 2] | u32 len | len bytes
 *   u64 n_aliases | per alias: u32 from | u32 to   (ids of merged or re-texted templates,
 *                                                  each to the live template it resolves to)
 *   u64 XXH64 of everything before it
 */

struct wbuf {
    char *p;
    size_t n;
    size_t cap;
    int err;
};

static void wb_put(struct wbuf *b, const void *d, size_t len)
{
    if (b->err) {
        return;
    }
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *np;

        while (cap < b->n + len) {
            cap *= 2;
        }
        np = lw_realloc(b->p, cap);
        if (np == NULL) {
            b->err = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, d, len);
    b->n += len;
}

static void wb_u8(struct wbuf *b, uint8_t v)
{
    wb_put(b, &v, 1);
}

static void wb_u32(struct wbuf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};

    wb_put(b, x, 4);
}

static void wb_u64(struct wbuf *b, uint64_t v)
{
    wb_u32(b, (uint32_t)v);
    wb_u32(b, (uint32_t)(v >> 32));
}

int lw_miner_save_buf(struct lw_miner *m, char **buf, size_t *len)
{
    struct wbuf b = {0};
    size_t i;
    uint32_t k;

    pthread_rwlock_rdlock(&m->lock);
    wb_put(&b, STATE_MAGIC, 8);
    wb_u32(&b, STATE_VERSION);
    wb_u32(&b, m->next_id);
    wb_u64(&b, m->n_live);
    for (i = 0; i < m->n_live; i++) {
        const struct tpl *t = m->live[i];

        wb_u32(&b, t->id);
        wb_u64(&b, t->born);
        wb_u64(&b, t->count);
        wb_u64(&b, (uint64_t)t->first_ns);
        wb_u64(&b, (uint64_t)t->last_ns);
        wb_u32(&b, t->n_tok);
        for (k = 0; k < t->n_tok; k++) {
            wb_u8(&b, t->tok[k].wild ? 1 : t->tok[k].part ? 2 : 0);
            if (t->tok[k].part && !t->tok[k].wild) {
                unsigned char x[4] = {(unsigned char)t->tok[k].pre,
                                      (unsigned char)(t->tok[k].pre >> 8),
                                      (unsigned char)t->tok[k].suf,
                                      (unsigned char)(t->tok[k].suf >> 8)};

                wb_put(&b, x, 4);
            }
            wb_u32(&b, t->tok[k].len);
            wb_put(&b, t->tok[k].s, t->tok[k].len);
        }
    }
    {
        /* Aliases of evicted templates lead nowhere: they are not saved. */
        size_t count_at = b.n;
        uint64_t n_saved = 0;

        wb_u64(&b, 0);
        for (i = 0; i <= m->id_map_mask && m->n_alias > 0; i++) {
            const struct alias *a;

            for (a = m->alias_map[i]; a != NULL; a = a->next) {
                const struct tpl *t = id_lookup(m, a->to);

                if (t != NULL && n_saved < m->max_aliases) {
                    wb_u32(&b, a->from);
                    wb_u32(&b, t->id);
                    n_saved++;
                }
            }
        }
        if (!b.err) {
            unsigned char x[8];
            int bi;

            for (bi = 0; bi < 8; bi++) {
                x[bi] = (unsigned char)(n_saved >> (8 * bi));
            }
            memcpy(b.p + count_at, x, 8);
        }
    }
    pthread_rwlock_unlock(&m->lock);
    if (!b.err) {
        wb_u64(&b, XXH64(b.p, b.n, 0));
    }
    if (b.err) {
        lw_free(b.p);
        return LW_ENOMEM;
    }
    *buf = b.p;
    *len = b.n;
    return LW_OK;
}

struct rbuf {
    const unsigned char *p;
    size_t n;
    size_t o;
};

static int rb_get(struct rbuf *r, void *d, size_t len)
{
    if (len > r->n - r->o) {
        return -1;
    }
    memcpy(d, r->p + r->o, len);
    r->o += len;
    return 0;
}

static int rb_u32(struct rbuf *r, uint32_t *v)
{
    unsigned char x[4];

    if (rb_get(r, x, 4) < 0) {
        return -1;
    }
    *v = (uint32_t)x[0] | (uint32_t)x[1] << 8 | (uint32_t)x[2] << 16 | (uint32_t)x[3] << 24;
    return 0;
}

static int rb_u64(struct rbuf *r, uint64_t *v)
{
    uint32_t lo;
    uint32_t hi;

    if (rb_u32(r, &lo) < 0 || rb_u32(r, &hi) < 0) {
        return -1;
    }
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

/* Parses the templates of a state buffer into @m, a fresh miner of lw_miner_load_buf(). */
static int parse_state(struct lw_miner *m, struct rbuf *r, uint32_t version, uint64_t n_tpl,
                       size_t max_tokens, char *err, size_t err_len)
{
    uint64_t i;

    for (i = 0; i < n_tpl; i++) {
        uint32_t id;
        uint64_t born = 0;
        uint64_t count;
        uint64_t first;
        uint64_t last;
        uint32_t n_tok;
        uint32_t k;
        struct tpl *t;

        if (rb_u32(r, &id) < 0 || (version >= 2 && rb_u64(r, &born) < 0) ||
            rb_u64(r, &count) < 0 || rb_u64(r, &first) < 0 ||
            rb_u64(r, &last) < 0 || rb_u32(r, &n_tok) < 0) {
            snprintf(err, err_len, "truncated template record %llu", (unsigned long long)i);
            return LW_ECORRUPT;
        }
        if (id == 0 || n_tok > max_tokens) { /* an empty message has 0 tokens */
            snprintf(err, err_len, "template record %llu: id %u with %u tokens is out of range",
                     (unsigned long long)i, id, n_tok);
            return LW_ECORRUPT;
        }
        if (id_lookup(m, id) != NULL) {
            snprintf(err, err_len, "template id %u appears twice", id);
            return LW_ECORRUPT;
        }
        t = lw_calloc(1, sizeof(*t));
        if (t == NULL || (t->tok = lw_calloc(n_tok, sizeof(*t->tok))) == NULL) {
            lw_free(t);
            return LW_ENOMEM;
        }
        t->id = id;
        t->born = version >= 2 ? born : id; /* sequential ids were in creation order */
        t->n_tok = n_tok;
        t->count = count;
        t->first_ns = (int64_t)first;
        t->last_ns = (int64_t)last;
        for (k = 0; k < n_tok; k++) {
            uint8_t wild;
            unsigned char ps[4] = {0};
            uint32_t pre = 0;
            uint32_t suf = 0;
            uint32_t len;

            if (rb_get(r, &wild, 1) < 0 || wild > 2 || (wild == 2 && rb_get(r, ps, 4) < 0) ||
                rb_u32(r, &len) < 0 || len > r->n - r->o || len > (1u << 20) ||
                (pre = ps[0] | (uint32_t)ps[1] << 8) + (suf = ps[2] | (uint32_t)ps[3] << 8) >
                    len) {
                snprintf(err, err_len, "template %u: bad token %u", id, k);
                tpl_free(t);
                return LW_ECORRUPT;
            }
            {
                struct tok *tk = &t->tok[k];

                tk->s = lw_strndup((const char *)r->p + r->o, len);
                if (tk->s == NULL) {
                    tpl_free(t);
                    return LW_ENOMEM;
                }
                tk->len = len;
                tk->wild = wild == 1;
                tk->part = wild == 2;
                tk->pre = (uint16_t)pre;
                tk->suf = (uint16_t)suf;
                tk->h = XXH3_64bits(tk->s, len);
                tk->cls = tk->part ? TOK_MASKED : classify(tk->s, len);
                tk->wordy = tk->part ? 0 : tpl_tok_wordy(tk->s, len);
            }
            r->o += len;
        }
        {
            int rc = tpl_render(t);

            if (rc == LW_OK && m->n_live >= m->max_templates) {
                rc = LW_EFULL;
                snprintf(err, err_len, "the state holds more than max_templates (%zu) templates",
                         m->max_templates);
            }
            if (rc == LW_OK) {
                rc = tpl_insert(m, t, false);
            }
            if (rc < 0) {
                tpl_free(t);
                return rc;
            }
        }
    }
    return LW_OK;
}

/* Aliases: u64 count, then (u32 from, u32 to) pairs; each target must be a loaded template. */
static int parse_aliases(struct lw_miner *m, struct rbuf *r, char *err, size_t err_len)
{
    uint64_t n;
    uint64_t i;

    if (rb_u64(r, &n) < 0) {
        snprintf(err, err_len, "truncated alias table");
        return LW_ECORRUPT;
    }
    if (n > m->max_aliases || n > (r->n - r->o) / 8) {
        snprintf(err, err_len, "alias table of %llu entries is out of range",
                 (unsigned long long)n);
        return LW_ECORRUPT;
    }
    for (i = 0; i < n; i++) {
        uint32_t from;
        uint32_t to;
        int rc;

        if (rb_u32(r, &from) < 0 || rb_u32(r, &to) < 0) {
            snprintf(err, err_len, "truncated alias table");
            return LW_ECORRUPT;
        }
        if (from == 0 || id_lookup_live(m, to) == NULL || id_lookup_live(m, from) != NULL ||
            alias_target(m, from) != 0) {
            snprintf(err, err_len, "alias %u -> %u does not fit the templates", from, to);
            return LW_ECORRUPT;
        }
        rc = alias_add(m, from, to);
        if (rc < 0) {
            return rc;
        }
        m->alias_map[from & m->id_map_mask]->sent_to = to; /* saved with the store's rows */
    }
    return LW_OK;
}

/*
 * A state saved before template texts were kept unique (or before a change to lw_canon's
 * rules) may hold one canonical text under several ids: merge them as tpl_dedup() would have,
 * the younger into the older, which stays the id every one of them resolves to. Merges reorder
 * m->live, so passes repeat until one changes nothing; each merge removes a template, so that
 * ends.
 */
static int dedup_all(struct lw_miner *m)
{
    bool again = true;

    while (again) {
        size_t i;

        again = false;
        for (i = 0; i < m->n_live; i++) {
            struct tpl *t = m->live[i];
            size_t n_live = m->n_live;
            int rc = tpl_dedup(m, &t);

            if (rc < 0) {
                return rc;
            }
            again |= m->n_live != n_live;
        }
    }
    return LW_OK;
}

/* Whether @t's id is one its text can have (the first probes; a collider may be gone since). */
static bool id_fits(const struct tpl *t)
{
    uint64_t seed;

    for (seed = 0; seed < 8; seed++) {
        if (text_id(t->text, t->text_len, seed) == t->id) {
            return true;
        }
    }
    return false;
}

/*
 * After a load: a template whose id is not its text's (a version 1 state numbered templates in
 * order of creation; a merge in dedup_all() or a change to lw_canon's rules changed a text) gets
 * the id of its text, and its old id becomes an alias of the new one, so that the store's rows
 * under the old ids (and old ids in detector state) keep resolving. In creation order, so that a
 * collision is settled as it would have been.
 */
static int rekey_all(struct lw_miner *m)
{
    struct tpl **v;
    size_t i;
    int rc = LW_OK;

    v = lw_malloc((m->n_live ? m->n_live : 1) * sizeof(*v));
    if (v == NULL) {
        return LW_ENOMEM;
    }
    memcpy(v, m->live, m->n_live * sizeof(*v));
    qsort(v, m->n_live, sizeof(*v), cmp_tpl_born);
    for (i = 0; i < m->n_live && rc == LW_OK; i++) {
        uint32_t old_id = v[i]->id;

        if (id_fits(v[i])) {
            continue;
        }
        id_remove(m, v[i]);
        tpl_set_id(m, v[i]);
        id_insert(m, v[i]);
        if (v[i]->id != old_id) {
            rc = alias_add(m, old_id, v[i]->id);
        }
    }
    lw_free(v);
    return rc;
}

/* Exchanges the template tables of two miners with the same limits. */
static void swap_tables(struct lw_miner *a, struct lw_miner *b)
{
#define LW_SWAP(f)          \
    do {                    \
        __typeof__(a->f) t_ = a->f; \
        a->f = b->f;        \
        b->f = t_;          \
    } while (0)
    LW_SWAP(id_map);
    LW_SWAP(alias_map);
    LW_SWAP(text_map);
    LW_SWAP(n_alias);
    LW_SWAP(live);
    LW_SWAP(n_live);
    LW_SWAP(by_len);
    LW_SWAP(next_id);
    LW_SWAP(n_born);
#undef LW_SWAP
}

int lw_miner_load_buf(struct lw_miner *m, const char *buf, size_t len, char *err, size_t err_len)
{
    struct rbuf r = {(const unsigned char *)buf, len, 0};
    uint32_t version;
    uint32_t next_id;
    uint64_t n_tpl;
    uint64_t sum;
    struct lw_miner_conf conf;
    struct lw_miner *tmp;
    int rc;
    char dummy[8];

    if (err == NULL) {
        err = dummy;
        err_len = sizeof(dummy);
    }
    if (len < 8 + 4 + 4 + 8 + 8 || memcmp(buf, STATE_MAGIC, 7) != 0) {
        snprintf(err, err_len, "not a logwarden miner state file (bad magic)");
        return LW_ECORRUPT;
    }
    if (memcmp(buf, STATE_MAGIC, 8) != 0) {
        snprintf(err, err_len, "miner state of an unsupported format revision '%c'", buf[7]);
        return LW_EVERSION;
    }
    memcpy(&sum, buf + len - 8, 8);
    {
        struct rbuf rs = {(const unsigned char *)buf + len - 8, 8, 0};

        (void)rb_u64(&rs, &sum);
    }
    if (XXH64(buf, len - 8, 0) != sum) {
        snprintf(err, err_len, "checksum mismatch: the state file is corrupt or truncated");
        return LW_ECORRUPT;
    }
    r.o = 8;
    (void)rb_u32(&r, &version);
    (void)rb_u32(&r, &next_id);
    (void)rb_u64(&r, &n_tpl);
    if (version != STATE_VERSION && version != 1) {
        snprintf(err, err_len, "miner state version %u is not supported (expected %u)", version,
                 STATE_VERSION);
        return LW_EVERSION;
    }
    r.n = len - 8;
    if (n_tpl > m->max_templates) {
        snprintf(err, err_len, "the state holds %llu templates, more than max_templates (%zu)",
                 (unsigned long long)n_tpl, m->max_templates);
        return LW_EFULL;
    }
    /* Load into a fresh miner and swap the tables in only when everything checked out. */
    memset(&conf, 0, sizeof(conf));
    conf.max_templates = m->max_templates;
    conf.max_tokens = m->max_tokens;
    tmp = lw_miner_create(&conf, err, err_len);
    if (tmp == NULL) {
        return LW_ENOMEM;
    }
    rc = parse_state(tmp, &r, version, n_tpl, m->max_tokens, err, err_len);
    if (rc == LW_OK) {
        rc = parse_aliases(tmp, &r, err, err_len);
    }
    if (rc == LW_OK && r.o != r.n) {
        snprintf(err, err_len, "%zu unexpected bytes after the last record", r.n - r.o);
        rc = LW_ECORRUPT;
    }
    if (rc == LW_OK) {
        size_t i;

        tmp->next_id = next_id;
        for (i = 0; i < tmp->n_live; i++) {
            if (tmp->live[i]->id >= tmp->next_id) {
                tmp->next_id = tmp->live[i]->id + 1;
            }
        }
        rc = dedup_all(tmp);
        if (rc == LW_OK) {
            rc = rekey_all(tmp);
        }
        if (rc < 0) {
            snprintf(err, err_len, "out of memory");
        }
    }
    if (rc == LW_OK) {
        pthread_rwlock_wrlock(&m->lock);
        swap_tables(m, tmp);
        /* Aliases made by the load itself (merges, renumbering) are reported by the next
         * drain; a version 1 state came from a store without aliases: report them all. */
        m->n_journal = 0;
        m->alias_dirty = true;
        if (version == 1) {
            alias_unsend_all(m);
        }
        memset(m->gcache, 0, GCACHE_SIZE * sizeof(*m->gcache));
        atomic_fetch_add(&m->epoch, 1);
        pthread_rwlock_unlock(&m->lock);
    }
    lw_miner_destroy(tmp);
    return rc;
}

int lw_miner_save(struct lw_miner *m, const char *path, char *err, size_t err_len)
{
    char *buf = NULL;
    size_t len = 0;
    char tmp[PATH_MAX];
    char dir[PATH_MAX];
    char *slash;
    size_t off = 0;
    int fd;
    int rc;

    rc = lw_miner_save_buf(m, &buf, &len);
    if (rc < 0) {
        snprintf(err, err_len, "cannot serialise the miner: %s", lw_strerror(rc));
        return rc;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        lw_free(buf);
        snprintf(err, err_len, "state path too long");
        return LW_EINVAL;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, err_len, "cannot create '%s': %s", tmp, strerror(errno));
        lw_free(buf);
        return LW_EIO;
    }
    while (off < len) {
        ssize_t w = write(fd, buf + off, len - off);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            snprintf(err, err_len, "cannot write '%s': %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            lw_free(buf);
            return LW_EIO;
        }
        off += (size_t)w;
    }
    lw_free(buf);
    if (fsync(fd) < 0 || close(fd) < 0) {
        snprintf(err, err_len, "cannot sync '%s': %s", tmp, strerror(errno));
        unlink(tmp);
        return LW_EIO;
    }
    if (rename(tmp, path) < 0) {
        snprintf(err, err_len, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        unlink(tmp);
        return LW_EIO;
    }
    /* Make the rename itself durable. */
    snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    }
    else if (slash == dir) {
        dir[1] = '\0';
    }
    else {
        *slash = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    return LW_OK;
}

int lw_miner_load(struct lw_miner *m, const char *path, char *err, size_t err_len)
{
    struct stat st;
    char *buf;
    size_t off = 0;
    int fd;
    int rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "cannot open '%s': %s", path, strerror(errno));
        return errno == ENOENT ? LW_ENOENT : LW_EIO;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "'%s' is not a regular file", path);
        close(fd);
        return LW_EIO;
    }
    if (st.st_size > (off_t)1 << 31) {
        snprintf(err, err_len, "'%s' is too large for a miner state (%lld bytes)", path,
                 (long long)st.st_size);
        close(fd);
        return LW_ECORRUPT;
    }
    buf = lw_malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        snprintf(err, err_len, "out of memory");
        return LW_ENOMEM;
    }
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);

        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        off += (size_t)r;
    }
    close(fd);
    rc = lw_miner_load_buf(m, buf, off, err, err_len);
    if (rc < 0) {
        char msg[512];

        snprintf(msg, sizeof(msg), "%s", err);
        snprintf(err, err_len, "'%s': %s", path, msg);
    }
    lw_free(buf);
    return rc;
}
