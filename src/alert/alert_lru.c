/* The alert manager's bounded key map (alert_lru.h). */
#include <string.h>

#include "alert/alert_lru.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define NIL UINT32_MAX
/* Entries are addressed by uint32_t, NIL excluded. */
#define LRU_MAX_ENTRIES ((size_t)UINT32_MAX - 1)

int lw__lru_init(struct lw__lru *m, size_t max)
{
    size_t nb = 16;

    memset(m, 0, sizeof(*m));
    if (max == 0) {
        max = 1;
    }
    if (max > LRU_MAX_ENTRIES) {
        max = LRU_MAX_ENTRIES;
    }
    /* About one entry per bucket at the cap; the buckets are 4 bytes each. */
    while (nb < max && nb < ((size_t)1 << 30)) {
        nb <<= 1;
    }
    m->buckets = lw_malloc(nb * sizeof(*m->buckets));
    if (m->buckets == NULL) {
        return LW_ENOMEM;
    }
    memset(m->buckets, 0xff, nb * sizeof(*m->buckets));
    m->mask = nb - 1;
    m->max = max;
    m->oldest = NIL;
    m->newest = NIL;
    return LW_OK;
}

void lw__lru_fini(struct lw__lru *m)
{
    lw_free(m->e);
    lw_free(m->buckets);
    memset(m, 0, sizeof(*m));
}

static size_t bucket_of(const struct lw__lru *m, uint64_t key)
{
    /* Keys are already hashes (xxh3); mix anyway so that small test keys spread. */
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & m->mask;
}

struct lw__lru_ent *lw__lru_get(struct lw__lru *m, uint64_t key)
{
    uint32_t i;

    for (i = m->buckets[bucket_of(m, key)]; i != NIL; i = m->e[i].hnext) {
        if (m->e[i].key == key) {
            return &m->e[i];
        }
    }
    return NULL;
}

static void order_unlink(struct lw__lru *m, uint32_t i)
{
    struct lw__lru_ent *e = &m->e[i];

    if (e->prev != NIL) {
        m->e[e->prev].next = e->next;
    }
    else {
        m->oldest = e->next;
    }
    if (e->next != NIL) {
        m->e[e->next].prev = e->prev;
    }
    else {
        m->newest = e->prev;
    }
}

static void order_append(struct lw__lru *m, uint32_t i)
{
    m->e[i].prev = m->newest;
    m->e[i].next = NIL;
    if (m->newest != NIL) {
        m->e[m->newest].next = i;
    }
    else {
        m->oldest = i;
    }
    m->newest = i;
}

static void bucket_unlink(struct lw__lru *m, uint32_t i)
{
    uint32_t *p = &m->buckets[bucket_of(m, m->e[i].key)];

    while (*p != i) {
        p = &m->e[*p].hnext;
    }
    *p = m->e[i].hnext;
}

int lw__lru_put(struct lw__lru *m, uint64_t key, int64_t t_ns, uint64_t val)
{
    struct lw__lru_ent *e = lw__lru_get(m, key);
    uint32_t i;
    size_t b;

    if (e != NULL) {
        i = (uint32_t)(e - m->e);
        order_unlink(m, i);
    }
    else if (m->n < m->max) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? m->cap * 2 : 64;
            struct lw__lru_ent *ne;

            if (cap > m->max) {
                cap = m->max;
            }
            ne = lw_realloc(m->e, cap * sizeof(*ne));
            if (ne == NULL) {
                return LW_ENOMEM;
            }
            m->e = ne;
            m->cap = cap;
        }
        i = (uint32_t)m->n++;
        m->e[i].key = key;
        b = bucket_of(m, key);
        m->e[i].hnext = m->buckets[b];
        m->buckets[b] = i;
    }
    else {
        /* At the cap: the least recently put entry makes room. */
        i = m->oldest;
        order_unlink(m, i);
        bucket_unlink(m, i);
        m->evicted++;
        m->e[i].key = key;
        b = bucket_of(m, key);
        m->e[i].hnext = m->buckets[b];
        m->buckets[b] = i;
    }
    m->e[i].t_ns = t_ns;
    m->e[i].val = val;
    m->e[i].count = 0;
    order_append(m, i);
    return LW_OK;
}
