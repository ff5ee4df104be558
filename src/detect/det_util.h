/*
 * Helpers shared by the window and parameter detectors (plugins/det_new_template, det_volume,
 * det_level, det_params): a keyed map with a least-recently-used order and a cap, count tails
 * (Poisson and negative binomial) for 1 - p scores, a robust online baseline of window counts,
 * and JSON helpers for explanations and samples. Everything here is single-threaded, like the
 * detectors that use it (they run on the detection stage's thread), and does not log.
 */
#ifndef LW_DET_UTIL_H
#define LW_DET_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_detect.h"

/* ---- keyed map with LRU order ---- */

/* An entry: the key bytes are copied into the entry and NUL-ended; @val is the caller's. */
struct lw__det_entry {
    struct lw__det_entry *hnext;   /* hash chain */
    struct lw__det_entry *newer;   /* LRU list: towards the most recently used */
    struct lw__det_entry *older;
    uint64_t hash;
    void *val;                     /* owned by the map once put: freed with free_val */
    uint32_t key_len;
    char key[];
};

struct lw__det_map {
    struct lw__det_entry **buckets;
    size_t n_buckets;              /* a power of two */
    size_t n;                      /* entries */
    size_t cap;                    /* at most this many entries; the least recently used go */
    struct lw__det_entry *newest;
    struct lw__det_entry *oldest;
    void (*free_val)(void *val);
    uint64_t evicted;              /* entries dropped at the cap */
    /* Entries removed so far, evicted or not: an entry pointer kept outside the map is valid
     * while this stays the same. */
    uint64_t removed;
};

/* Sets up an empty map holding at most @cap entries (>= 1). LW_OK or LW_ENOMEM. */
int lw__det_map_init(struct lw__det_map *m, size_t cap, void (*free_val)(void *val));
/* Frees every entry and its value. */
void lw__det_map_fini(struct lw__det_map *m);
/* Returns the entry for the key or NULL; @touch moves it to the most recently used end. */
struct lw__det_entry *lw__det_map_get(struct lw__det_map *m, const void *key, size_t key_len,
                                      bool touch);
/*
 * Adds a key that is not in the map with @val (the map takes ownership). At the cap the least
 * recently used entry is evicted first (counted in m->evicted). Returns the entry, or NULL on
 * LW_ENOMEM, in which case @val is still the caller's.
 */
struct lw__det_entry *lw__det_map_put(struct lw__det_map *m, const void *key, size_t key_len,
                                      void *val);
/* Removes @e and frees its value. */
void lw__det_map_remove(struct lw__det_map *m, struct lw__det_entry *e);
/* Moves @e to the most recently used end, as lw__det_map_get() with @touch does. */
void lw__det_map_touch(struct lw__det_map *m, struct lw__det_entry *e);

/* ---- tails: the p of a score 1 - p ---- */

/* P(X >= k) for X ~ Poisson(mu); 1 when k <= 0. */
double lw__det_pois_sf(double k, double mu);
/* P(X <= k) for X ~ Poisson(mu); 0 when k < 0. */
double lw__det_pois_cdf(double k, double mu);
/*
 * The same with a negative binomial of mean @mu and variance @var (a Poisson when var <= mu), so
 * that over-dispersed (bursty) series need a larger excursion to score.
 */
double lw__det_count_sf(double k, double mu, double var);
double lw__det_count_cdf(double k, double mu, double var);
/* Two-sided tail P(|T| >= |z|) of a Student t with @nu degrees of freedom (heavy-tailed). */
double lw__det_t_two_sided(double z, double nu);
/* 1 - p clamped to [0, 1]. */
double lw__det_score(double p);

/* ---- robust online baseline of one count per window ---- */

/*
 * An exponentially weighted mean and variance of a window count. For the first windows it is the
 * plain running mean; then each window weighs LW_DET_BASE_ALPHA. Once LW_DET_BASE_CLIP_AFTER
 * windows are in, an update is winsorized at mean +- LW_DET_BASE_K * scale, so that one spike (or
 * one outage) moves the baseline by at most a few scales instead of poisoning it; a lasting
 * change of level is still learned, a few scales per window.
 */
#define LW_DET_BASE_ALPHA 0.02
#define LW_DET_BASE_K 3.0
#define LW_DET_BASE_CLIP_AFTER 8

struct lw__det_base {
    double mean;                   /* lines per window */
    double var;                    /* lines^2 */
    uint64_t n;                    /* windows learned */
};

void lw__det_base_update(struct lw__det_base *b, double x);
/* The variance used to score: at least the mean (Poisson), so that a flat series is not rigid. */
double lw__det_base_var(const struct lw__det_base *b);

/*
 * The warm-up of a window detector whose series each learn a baseline (volume, level): warm once
 * some series has @need windows (it can report), the progress being the series furthest along.
 * @base gives a series' baseline from its map value. The walk starts at the most recently used
 * series and stops at the first warm one, so once warm it costs a few steps; a full walk only
 * while nothing is warm yet. Fills out->warmup_* and out->warming_up.
 */
void lw__det_warmup_series(const struct lw__det_map *m, uint64_t need,
                           const struct lw__det_base *(*base)(const void *val),
                           struct lw_det_stats *out);

/* ---- text and JSON ---- */

/*
 * Copies at most @max bytes of @s into a new NUL-ended string, replacing bytes that are not
 * valid UTF-8 (and control characters) with '?', so that json_string() accepts it. Caller frees
 * with lw_free(); NULL on LW_ENOMEM.
 */
char *lw__det_text(const char *s, size_t len, size_t max);
/*
 * Returns a JSON array (json_dumps, compact) of the @n strings, or NULL when n == 0 or on
 * failure. Caller frees with free() (jansson's allocator).
 */
char *lw__det_samples_json(char *const *s, size_t n);

/* Window index of @ts_ns for windows of @win_ns (floor division, also for negative times). */
int64_t lw__det_window(int64_t ts_ns, int64_t win_ns);

#endif
