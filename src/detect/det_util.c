/*
 * Helpers shared by the window and parameter detectors (det_util.h): the LRU map, count tails
 * from the regularized incomplete gamma and beta functions (evaluated with their series and
 * continued fractions, the textbook way), the winsorized baseline and the JSON helpers.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_sf_gamma.h>
#include <jansson.h>
#include <pthread.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "detect/det_util.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

/* ---- map ---- */

int lw__det_map_init(struct lw__det_map *m, size_t cap, void (*free_val)(void *val))
{
    memset(m, 0, sizeof(*m));
    m->n_buckets = 64;
    m->buckets = lw_calloc(m->n_buckets, sizeof(*m->buckets));
    if (m->buckets == NULL) {
        return LW_ENOMEM;
    }
    m->cap = cap > 0 ? cap : 1;
    m->free_val = free_val;
    return LW_OK;
}

void lw__det_map_fini(struct lw__det_map *m)
{
    struct lw__det_entry *e = m->newest;

    while (e != NULL) {
        struct lw__det_entry *next = e->older;

        if (m->free_val != NULL) {
            m->free_val(e->val);
        }
        lw_free(e);
        e = next;
    }
    lw_free(m->buckets);
    memset(m, 0, sizeof(*m));
}

static void lru_unlink(struct lw__det_map *m, struct lw__det_entry *e)
{
    if (e->newer != NULL) {
        e->newer->older = e->older;
    }
    else {
        m->newest = e->older;
    }
    if (e->older != NULL) {
        e->older->newer = e->newer;
    }
    else {
        m->oldest = e->newer;
    }
    e->newer = e->older = NULL;
}

static void lru_push(struct lw__det_map *m, struct lw__det_entry *e)
{
    e->newer = NULL;
    e->older = m->newest;
    if (m->newest != NULL) {
        m->newest->newer = e;
    }
    m->newest = e;
    if (m->oldest == NULL) {
        m->oldest = e;
    }
}

struct lw__det_entry *lw__det_map_get(struct lw__det_map *m, const void *key, size_t key_len,
                                      bool touch)
{
    uint64_t h = XXH3_64bits(key, key_len);
    struct lw__det_entry *e = m->buckets[h & (m->n_buckets - 1)];

    for (; e != NULL; e = e->hnext) {
        if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
            if (touch) {
                lw__det_map_touch(m, e);
            }
            return e;
        }
    }
    return NULL;
}

void lw__det_map_touch(struct lw__det_map *m, struct lw__det_entry *e)
{
    if (m->newest != e) {
        lru_unlink(m, e);
        lru_push(m, e);
    }
}

/* Doubles the bucket array; on failure the map keeps working with longer chains. */
static void grow(struct lw__det_map *m)
{
    size_t nb = m->n_buckets * 2;
    struct lw__det_entry **b = lw_calloc(nb, sizeof(*b));
    struct lw__det_entry *e;

    if (b == NULL) {
        return;
    }
    for (e = m->newest; e != NULL; e = e->older) {
        size_t i = e->hash & (nb - 1);

        e->hnext = b[i];
        b[i] = e;
    }
    lw_free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

void lw__det_map_remove(struct lw__det_map *m, struct lw__det_entry *e)
{
    struct lw__det_entry **pp = &m->buckets[e->hash & (m->n_buckets - 1)];

    while (*pp != e) {
        pp = &(*pp)->hnext;
    }
    *pp = e->hnext;
    lru_unlink(m, e);
    if (m->free_val != NULL) {
        m->free_val(e->val);
    }
    lw_free(e);
    m->n--;
    m->removed++;
}

struct lw__det_entry *lw__det_map_put(struct lw__det_map *m, const void *key, size_t key_len,
                                      void *val)
{
    struct lw__det_entry *e;
    size_t i;

    if (key_len > UINT32_MAX) {
        return NULL;
    }
    e = lw_malloc(sizeof(*e) + key_len + 1);
    if (e == NULL) {
        return NULL;
    }
    while (m->n >= m->cap && m->oldest != NULL) {
        lw__det_map_remove(m, m->oldest);
        m->evicted++;
    }
    if (m->n >= m->n_buckets) {
        grow(m);
    }
    e->hash = XXH3_64bits(key, key_len);
    e->val = val;
    e->key_len = (uint32_t)key_len;
    memcpy(e->key, key, key_len);
    e->key[key_len] = '\0';
    i = e->hash & (m->n_buckets - 1);
    e->hnext = m->buckets[i];
    m->buckets[i] = e;
    lru_push(m, e);
    m->n++;
    return e;
}

/* ---- tails ---- */

/*
 * The regularized incomplete gamma and beta functions are GSL's. Its default error handler
 * aborts; every call here checks the status instead (an underflow is a p of 0, which is what a
 * tail that far out means), so the handler is turned off once for the process.
 */
static pthread_once_t gsl_once = PTHREAD_ONCE_INIT;

static void gsl_quiet(void)
{
    gsl_set_error_handler_off();
}

static double checked(int status, const gsl_sf_result *r, double lo, double hi)
{
    if (status == GSL_EUNDRFLW) {
        return lo;
    }
    if (status != GSL_SUCCESS || !isfinite(r->val)) {
        return hi; /* no answer: the least surprising p, so nothing is reported on it */
    }
    return fmin(hi, fmax(lo, r->val));
}

/* Regularized lower incomplete gamma P(a, x), a > 0, x >= 0. */
static double gamma_p(double a, double x)
{
    gsl_sf_result r;

    if (x <= 0) {
        return 0;
    }
    pthread_once(&gsl_once, gsl_quiet);
    return checked(gsl_sf_gamma_inc_P_e(a, x, &r), &r, 0, 1);
}

/* Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x), accurate when small. */
static double gamma_q(double a, double x)
{
    gsl_sf_result r;

    if (x <= 0) {
        return 1;
    }
    pthread_once(&gsl_once, gsl_quiet);
    return checked(gsl_sf_gamma_inc_Q_e(a, x, &r), &r, 0, 1);
}

/* Regularized incomplete beta I_x(a, b). */
static double beta_i(double a, double b, double x)
{
    gsl_sf_result r;

    if (x <= 0) {
        return 0;
    }
    if (x >= 1) {
        return 1;
    }
    pthread_once(&gsl_once, gsl_quiet);
    return checked(gsl_sf_beta_inc_e(a, b, x, &r), &r, 0, 1);
}

double lw__det_pois_sf(double k, double mu)
{
    k = ceil(k);
    if (k <= 0) {
        return 1;
    }
    if (mu <= 0) {
        return 0;
    }
    return gamma_p(k, mu);
}

double lw__det_pois_cdf(double k, double mu)
{
    k = floor(k);
    if (k < 0) {
        return 0;
    }
    if (mu <= 0) {
        return 1;
    }
    return gamma_q(k + 1, mu);
}

/* A negative binomial only when the over-dispersion is material; else a Poisson. */
static bool use_nb(double mu, double var)
{
    return mu > 0 && var > mu * 1.05;
}

double lw__det_count_sf(double k, double mu, double var)
{
    double r, p;

    if (!use_nb(mu, var)) {
        return lw__det_pois_sf(k, mu);
    }
    k = ceil(k);
    if (k <= 0) {
        return 1;
    }
    r = mu * mu / (var - mu);
    p = mu / var; /* success probability */
    return beta_i(k, r, 1 - p);
}

double lw__det_count_cdf(double k, double mu, double var)
{
    double r, p;

    if (!use_nb(mu, var)) {
        return lw__det_pois_cdf(k, mu);
    }
    k = floor(k);
    if (k < 0) {
        return 0;
    }
    r = mu * mu / (var - mu);
    p = mu / var;
    return beta_i(r, k + 1, p);
}

double lw__det_t_two_sided(double z, double nu)
{
    /* P(|T| >= t) = I_{nu / (nu + t^2)}(nu / 2, 1 / 2). */
    return beta_i(nu / 2, 0.5, nu / (nu + z * z));
}

double lw__det_score(double p)
{
    if (!(p >= 0)) {
        return 0; /* NaN: no evidence */
    }
    return p >= 1 ? 0 : 1 - p;
}

/* ---- baseline ---- */

double lw__det_base_var(const struct lw__det_base *b)
{
    return fmax(b->var, fmax(b->mean, 0.25));
}

void lw__det_warmup_series(const struct lw__det_map *m, uint64_t need,
                           const struct lw__det_base *(*base)(const void *val),
                           struct lw_det_stats *out)
{
    const struct lw__det_entry *e;
    uint64_t have = 0;

    for (e = m->newest; e != NULL && have < need; e = e->older) {
        uint64_t n = base(e->val)->n;

        have = n > have ? n : have;
    }
    out->warmup_need = need > 0 ? need : 1;
    out->warmup_have = have < out->warmup_need ? have : out->warmup_need;
    out->warmup_unit = "windows";
    out->warming_up = out->warmup_have < out->warmup_need;
}

void lw__det_base_update(struct lw__det_base *b, double x)
{
    double alpha, d;

    if (b->n >= LW_DET_BASE_CLIP_AFTER) {
        double s = sqrt(lw__det_base_var(b));
        double hi = b->mean + LW_DET_BASE_K * s;
        double lo = b->mean - LW_DET_BASE_K * s;

        x = x > hi ? hi : x < lo ? lo : x;
    }
    b->n++;
    alpha = 1.0 / (double)b->n;
    if (alpha < LW_DET_BASE_ALPHA) {
        alpha = LW_DET_BASE_ALPHA;
    }
    /* West's exponentially weighted variance: var' = (1 - a)(var + a d^2). */
    d = x - b->mean;
    b->mean += alpha * d;
    b->var = (1 - alpha) * (b->var + alpha * d * d);
}

/* ---- text ---- */

/* Length of the valid UTF-8 sequence at @s (at most @n bytes), 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len, i;
    uint32_t cp;

    if (s[0] < 0x80) {
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    }
    else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    }
    else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    }
    else {
        return 0;
    }
    if (len > n) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

char *lw__det_text(const char *s, size_t len, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    char *out;

    if (len > max) {
        len = max;
    }
    out = lw_malloc(len + 1);
    if (out == NULL) {
        return NULL;
    }
    while (i < len) {
        size_t n = utf8_len(u + i, len - i);

        if (n == 0 || (n == 1 && u[i] < 0x20)) {
            out[o++] = '?';
            i++;
            continue;
        }
        memcpy(out + o, u + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
    return out;
}

char *lw__det_samples_json(char *const *s, size_t n)
{
    json_t *a;
    char *out;
    size_t i;

    if (n == 0) {
        return NULL;
    }
    a = json_array();
    if (a == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (s[i] != NULL) {
            json_array_append_new(a, json_string(s[i]));
        }
    }
    out = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return out;
}

int64_t lw__det_window(int64_t ts_ns, int64_t win_ns)
{
    int64_t q = ts_ns / win_ns;

    if (ts_ns % win_ns != 0 && ts_ns < 0) {
        q--;
    }
    return q;
}
