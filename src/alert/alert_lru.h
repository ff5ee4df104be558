/*
 * A bounded map from 64-bit keys to (time, value), oldest-updated first out: the alert manager's
 * deduplication memory (fingerprint -> last alert, incident) and its grouping index (template,
 * source or key prefix -> last anomaly, incident). Chained hashing over an entry array that
 * grows by doubling up to the cap; at the cap the least recently put entry is reused and
 * counted as evicted. Not thread-safe (the submitting thread owns it).
 */
#ifndef LW_ALERT_LRU_H
#define LW_ALERT_LRU_H

#include <stddef.h>
#include <stdint.h>

struct lw__lru_ent {
    uint64_t key;
    int64_t t_ns;                  /* when it was last put */
    uint64_t val;
    uint64_t count;                /* the owner's counter; zeroed by each put */
    uint32_t hnext;                /* bucket chain */
    uint32_t prev;                 /* put order: prev is older */
    uint32_t next;
};

struct lw__lru {
    struct lw__lru_ent *e;
    uint32_t *buckets;
    size_t n;                      /* entries in use */
    size_t cap;                    /* entries allocated */
    size_t max;                    /* the cap */
    size_t mask;                   /* buckets - 1 */
    uint32_t oldest;
    uint32_t newest;
    uint64_t evicted;
};

/* LW_OK or LW_ENOMEM; @max >= 1. */
int lw__lru_init(struct lw__lru *m, size_t max);
void lw__lru_fini(struct lw__lru *m);
/* The entry of @key, or NULL; valid until the next put. */
struct lw__lru_ent *lw__lru_get(struct lw__lru *m, uint64_t key);
/*
 * Inserts or updates @key (with count 0) and makes it the newest; LW_OK or LW_ENOMEM (the map is
 * unchanged).
 */
int lw__lru_put(struct lw__lru *m, uint64_t key, int64_t t_ns, uint64_t val);

#endif
