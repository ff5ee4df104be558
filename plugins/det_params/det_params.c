/*
 * det_params: learns the values at each parameter place (template id, <*> position) and reports
 * values unlike the place's history, on the line that carries them.
 *
 * Low-cardinality places (at most detect.params.max_values distinct values, such as a status
 * word or a small code) keep their value set with counts. After detect.params.warmup_values
 * values a value never seen is reported as "param_new_value". Its p is a Good-Turing estimate of
 * the chance that the next value is a new one: (values seen exactly once + 1) / (values + 2).
 * A place that has always shown the same three values over thousands of lines reports a fourth;
 * a place where new values keep trickling in does not. The new value joins the set, so it is
 * reported once. A place that overflows max_values is high-cardinality from then on.
 *
 * High-cardinality places whose values are numbers (at least 95% of them; integers, decimals,
 * exponents, optionally with a unit such as 12ms, 1.5s, 300KB, 80%) are numeric: they keep the
 * last PARAM_RING values and, from them, the median and MAD, in log space when the place has
 * only ever shown positive values (durations and sizes are skewed; ratios matter), else linear.
 * Units are converted to seconds or bytes first, so "950ms" and "1.2s" compare. A value outside
 * the recent range whose robust z = (x - median) / (1.4826 MAD) has a Student-t (5 degrees of
 * freedom) two-sided tail p under the threshold is reported as "param_outlier". The heavy tail
 * is deliberate: latencies are not normal, and an outlier has to be far out (|z| > 6.9 at the
 * default threshold 0.999; about a 2x change on a tight latency, whose log-space scale is
 * floored at 0.05).
 *
 * High-cardinality places that are not numeric (request ids, block ids, addresses), and integers
 * of ten or more digits (ids, timestamps), are not checked at all.
 *
 * Places are capped by detect.params.max_places; the least recently seen are evicted and counted.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "detect/det_util.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define PARAM_VERSION 1u
#define PARAM_RING 64                  /* recent numeric values kept per place */
#define PARAM_RESTAT 8                 /* recompute median/MAD after this many new values */
#define PARAM_VALUE_MAX 128            /* bytes of a value's text kept for explanations */
#define PARAM_TEXT_MAX 512
#define PARAM_NUMERIC_SHARE 0.95
#define PARAM_T_DOF 5.0               /* tail of the robust z: Student t, 5 degrees of freedom */

struct pv {
    uint64_t hash;                     /* XXH3 of the whole value */
    uint64_t count;
    char *text;                        /* at most PARAM_VALUE_MAX bytes, sanitized */
};

struct place {
    uint32_t template_id;
    uint32_t pos;                      /* <*> position, 0-based */
    uint64_t n;                        /* values seen */
    uint64_t n_num;                    /* of which numeric */
    uint64_t n_nonpos;                 /* numeric values <= 0 */
    bool high_card;                    /* the value set overflowed */
    uint32_t n_vals;
    struct pv *vals;                   /* max_values entries while !high_card, else NULL */
    double ring[PARAM_RING];           /* recent numeric values (seconds / bytes) */
    uint32_t ring_n;
    uint32_t ring_pos;
    uint32_t since_stats;
    bool stats_ok;                     /* the fields below are valid */
    bool log_space;
    double med, mad;                   /* of the transformed values */
    double lo, hi;                     /* range of the ring (raw) */
    double q05, q95;                   /* (raw) */
};

struct params_ctx {
    uint64_t warmup_values;
    size_t max_places;
    size_t max_values;
    struct lw__det_map map;            /* (template id, pos) -> struct place */
    uint64_t anomalies;
};

static void place_free_vals(struct place *pl)
{
    uint32_t i;

    for (i = 0; i < pl->n_vals; i++) {
        lw_free(pl->vals[i].text);
    }
    lw_free(pl->vals);
    pl->vals = NULL;
    pl->n_vals = 0;
}

static void place_free(void *val)
{
    struct place *pl = val;

    if (pl == NULL) {
        return;
    }
    place_free_vals(pl);
    lw_free(pl);
}

static bool params_enabled(const struct lw_detect_conf *conf)
{
    return conf->params.enabled;
}

static void *params_init(const struct lw_detect_conf *conf, char *err, size_t err_len)
{
    struct params_ctx *c = lw_calloc(1, sizeof(*c));

    if (c == NULL) {
        snprintf(err, err_len, "params: out of memory");
        return NULL;
    }
    c->warmup_values = conf->params.warmup_values;
    c->max_places = conf->params.max_places > 0 ? conf->params.max_places : 1;
    c->max_values = conf->params.max_values;
    if (lw__det_map_init(&c->map, c->max_places, place_free) < 0) {
        lw_free(c);
        snprintf(err, err_len, "params: out of memory");
        return NULL;
    }
    return c;
}

static void params_exit(void *ctx)
{
    struct params_ctx *c = ctx;

    if (c == NULL) {
        return;
    }
    lw__det_map_fini(&c->map);
    lw_free(c);
}

/* ---- numbers ---- */

struct unit {
    const char *name;
    double factor;
};

/* Time to seconds, sizes to bytes; "m" is minutes (the common case in logs). */
static const struct unit units[] = {
    {"ns", 1e-9}, {"us", 1e-6}, {"\xc2\xb5s", 1e-6}, {"ms", 1e-3}, {"s", 1}, {"sec", 1},
    {"secs", 1}, {"m", 60}, {"min", 60}, {"mins", 60}, {"h", 3600}, {"b", 1}, {"B", 1},
    {"k", 1e3}, {"K", 1e3}, {"kb", 1e3}, {"KB", 1e3}, {"kB", 1e3}, {"KiB", 1024.0},
    {"M", 1e6}, {"MB", 1e6}, {"mb", 1e6}, {"MiB", 1048576.0}, {"G", 1e9}, {"GB", 1e9},
    {"gb", 1e9}, {"GiB", 1073741824.0}, {"TB", 1e12}, {"TiB", 1099511627776.0}, {"%", 1},
    {"x", 1}, {NULL, 0},
};

/*
 * Parses a number with an optional unit; false when the text is something else (including
 * integers of ten or more digits, which are ids or timestamps rather than measurements).
 */
static bool parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    size_t i = 0, digits = 0, int_digits = 0;
    bool frac = false;
    const struct unit *u;
    double v;

    if (len == 0 || len >= sizeof(buf)) {
        return false;
    }
    if (s[i] == '-' || s[i] == '+') {
        i++;
    }
    while (i < len && isdigit((unsigned char)s[i])) {
        i++;
        digits++;
        int_digits++;
    }
    if (i < len && s[i] == '.') {
        frac = true;
        i++;
        while (i < len && isdigit((unsigned char)s[i])) {
            i++;
            digits++;
        }
    }
    if (digits == 0) {
        return false;
    }
    if (i + 1 < len && (s[i] == 'e' || s[i] == 'E') &&
        (isdigit((unsigned char)s[i + 1]) ||
         ((s[i + 1] == '-' || s[i + 1] == '+') && i + 2 < len &&
          isdigit((unsigned char)s[i + 2])))) {
        frac = true;
        i += 2;
        while (i < len && isdigit((unsigned char)s[i])) {
            i++;
        }
    }
    if (!frac && int_digits >= 10) {
        return false;
    }
    memcpy(buf, s, i);
    buf[i] = '\0';
    v = strtod(buf, NULL);
    if (i < len) {
        size_t ul = len - i;

        for (u = units; u->name != NULL; u++) {
            if (strlen(u->name) == ul && memcmp(u->name, s + i, ul) == 0) {
                break;
            }
        }
        if (u->name == NULL) {
            return false;
        }
        v *= u->factor;
    }
    if (!isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

static double xform(const struct place *pl, double x)
{
    return pl->log_space ? log(x) : x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y ? 1 : 0;
}

static void restat(struct place *pl)
{
    double t[PARAM_RING], raw[PARAM_RING];
    uint32_t n = pl->ring_n, i;

    pl->since_stats = 0;
    if (n < 8) {
        pl->stats_ok = false;
        return;
    }
    pl->log_space = pl->n_nonpos == 0;
    memcpy(raw, pl->ring, n * sizeof(double));
    qsort(raw, n, sizeof(double), cmp_double);
    pl->lo = raw[0];
    pl->hi = raw[n - 1];
    pl->q05 = raw[(n - 1) / 20];
    pl->q95 = raw[(n - 1) - (n - 1) / 20];
    for (i = 0; i < n; i++) {
        t[i] = xform(pl, raw[i]);
    }
    pl->med = (n % 2) ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    for (i = 0; i < n; i++) {
        t[i] = fabs(t[i] - pl->med);
    }
    qsort(t, n, sizeof(double), cmp_double);
    pl->mad = (n % 2) ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    pl->stats_ok = true;
}

/* The robust scale, floored so that a place with one dominant value is not infinitely rigid. */
static double scale_of(const struct place *pl)
{
    double floor_ = pl->log_space ? 0.05 : 1e-3 * fmax(fabs(pl->med), 1.0);

    return fmax(1.4826 * pl->mad, floor_);
}

/* ---- reporting ---- */

/* Reports a finding on @ev's line; takes ownership of @j (the kind-specific explanation). */
static void report(struct params_ctx *c, const struct place *pl, const struct lw_det_event *ev,
                   const char *kind, double p, const char *value, json_t *j, const char *what,
                   const struct lw_det_out *out)
{
    char *tpl, *msg, *expl = NULL, *samples = NULL;
    char summary[900], key[32];
    struct lw_anomaly a;

    tpl = lw__det_text(ev->tpl != NULL ? ev->tpl : "", ev->tpl != NULL ? ev->tpl_len : 0,
                       PARAM_TEXT_MAX);
    msg = lw__det_text(ev->msg, ev->msg_len, PARAM_TEXT_MAX);
    if (tpl != NULL && j != NULL) {
        json_object_set_new(j, "template", json_string(tpl));
        json_object_set_new(j, "position", json_integer(pl->pos));
        json_object_set_new(j, "value", json_string(value));
        json_object_set_new(j, "values_seen", json_integer((json_int_t)pl->n));
        json_object_set_new(j, "p", json_real(p));
        expl = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(j);
    if (msg != NULL) {
        samples = lw__det_samples_json(&msg, 1);
    }
    snprintf(summary, sizeof(summary), "template %u \"%.200s\" parameter %u: %s (p=%.2g)",
             pl->template_id, tpl != NULL ? tpl : "", pl->pos, what, p);
    snprintf(key, sizeof(key), "%u:%u", pl->template_id, pl->pos);
    memset(&a, 0, sizeof(a));
    a.detector = "params";
    a.kind = kind;
    a.score = lw__det_score(p);
    a.ts_ns = ev->ts_ns;
    a.arrival_ns = ev->arrival_ns;
    a.template_id = pl->template_id;
    a.source = ev->source != NULL && ev->source[0] != '\0' ? ev->source : NULL;
    a.key = key;
    a.summary = summary;
    a.explanation_json = expl != NULL ? expl : "{}";
    a.samples_json = samples;
    c->anomalies++;
    out->emit(out->opaque, &a);
    free(expl);
    free(samples);
    lw_free(tpl);
    lw_free(msg);
}

static struct pv *find_value(const struct place *pl, uint64_t h)
{
    uint32_t i;

    for (i = 0; i < pl->n_vals; i++) {
        if (pl->vals[i].hash == h) {
            return &pl->vals[i];
        }
    }
    return NULL;
}

static void check_new_value(struct params_ctx *c, const struct place *pl,
                            const struct lw_det_event *ev, const char *value,
                            const struct lw_det_out *out)
{
    uint64_t singles = 0;
    uint32_t i;
    double p;
    json_t *j, *known;
    char what[300];

    for (i = 0; i < pl->n_vals; i++) {
        singles += pl->vals[i].count == 1 ? 1 : 0;
    }
    p = ((double)singles + 1.0) / ((double)pl->n + 2.0);
    if (lw__det_score(p) < out->threshold) {
        return;
    }
    known = json_array();
    for (i = 0; i < pl->n_vals && i < 10 && known != NULL; i++) {
        json_array_append_new(known, json_string(pl->vals[i].text));
    }
    j = json_pack("{s:o?, s:I, s:I, s:f}", "known_values", known, "distinct_values",
                  (json_int_t)pl->n_vals, "values_seen_once", (json_int_t)singles,
                  "expected_new_value_rate", p);
    snprintf(what, sizeof(what), "new value \"%.100s\" after %llu values of %u kinds", value,
             (unsigned long long)pl->n, pl->n_vals);
    report(c, pl, ev, "param_new_value", p, value, j, what, out);
}

static void check_outlier(struct params_ctx *c, const struct place *pl,
                          const struct lw_det_event *ev, const char *value, double x,
                          const struct lw_det_out *out)
{
    double z, p;
    json_t *j;
    char what[300];

    if (!pl->stats_ok || (pl->log_space && x <= 0)) {
        return;
    }
    z = (xform(pl, x) - pl->med) / scale_of(pl);
    p = lw__det_t_two_sided(z, PARAM_T_DOF);
    if (lw__det_score(p) < out->threshold) {
        return;
    }
    j = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:f}", "observed", x, "median",
                  pl->log_space ? exp(pl->med) : pl->med, "usual_low", pl->q05, "usual_high",
                  pl->q95, "recent_min", pl->lo, "recent_max", pl->hi, "space",
                  pl->log_space ? "log" : "linear", "robust_z", z);
    snprintf(what, sizeof(what),
             "value %.100s far %s its usual range %.4g..%.4g (median %.4g, robust z %.1f)", value,
             z > 0 ? "above" : "below", pl->q05, pl->q95, pl->log_space ? exp(pl->med) : pl->med,
             z);
    report(c, pl, ev, "param_outlier", p, value, j, what, out);
}

/* ---- learning ---- */

static void learn(struct params_ctx *c, struct place *pl, uint64_t h, const char *value,
                  bool numeric, double x)
{
    struct pv *v;

    pl->n++;
    if (numeric) {
        pl->n_num++;
        pl->n_nonpos += x <= 0 ? 1 : 0;
        pl->ring[pl->ring_pos] = x;
        pl->ring_pos = (pl->ring_pos + 1) % PARAM_RING;
        if (pl->ring_n < PARAM_RING) {
            pl->ring_n++;
        }
        if (++pl->since_stats >= PARAM_RESTAT || !pl->stats_ok) {
            restat(pl);
        }
    }
    if (pl->high_card) {
        return;
    }
    v = find_value(pl, h);
    if (v != NULL) {
        v->count++;
        return;
    }
    if (pl->n_vals >= c->max_values) {
        place_free_vals(pl);
        pl->high_card = true;
        return;
    }
    if (pl->vals == NULL) {
        pl->vals = lw_calloc(c->max_values > 0 ? c->max_values : 1, sizeof(*pl->vals));
        if (pl->vals == NULL) {
            return; /* the value is not remembered; it may be reported as new again */
        }
    }
    v = &pl->vals[pl->n_vals];
    v->text = lw_strdup(value);
    if (v->text == NULL) {
        return;
    }
    v->hash = h;
    v->count = 1;
    pl->n_vals++;
}

static struct place *place_get(struct params_ctx *c, uint32_t template_id, uint32_t pos)
{
    uint32_t key[2] = {template_id, pos};
    struct lw__det_entry *e = lw__det_map_get(&c->map, key, sizeof(key), true);
    struct place *pl;

    if (e != NULL) {
        return e->val;
    }
    pl = lw_calloc(1, sizeof(*pl));
    if (pl == NULL) {
        return NULL;
    }
    pl->template_id = template_id;
    pl->pos = pos;
    if (c->max_values == 0) {
        pl->high_card = true;
    }
    if (lw__det_map_put(&c->map, key, sizeof(key), pl) == NULL) {
        lw_free(pl);
        return NULL;
    }
    return pl;
}

static void params_observe(void *ctx, const struct lw_det_event *ev, const struct lw_det_out *out)
{
    struct params_ctx *c = ctx;
    size_t i;

    if (ev->template_id == 0 || ev->msg == NULL) {
        return;
    }
    for (i = 0; i < ev->n_params; i++) {
        const struct lw_param *prm = &ev->params[i];
        const char *vs = ev->msg + prm->off;
        struct place *pl;
        char *value;
        uint64_t h;
        double x = 0;
        bool numeric;

        if ((size_t)prm->off + prm->len > ev->msg_len) {
            continue;
        }
        pl = place_get(c, ev->template_id, (uint32_t)i);
        if (pl == NULL) {
            continue;
        }
        value = lw__det_text(vs, prm->len, PARAM_VALUE_MAX);
        if (value == NULL) {
            continue;
        }
        h = XXH3_64bits(vs, prm->len);
        numeric = parse_number(vs, prm->len, &x);
        if (pl->n >= c->warmup_values) {
            if (!pl->high_card) {
                if (find_value(pl, h) == NULL) {
                    check_new_value(c, pl, ev, value, out);
                }
            }
            else if (numeric && (double)pl->n_num >= PARAM_NUMERIC_SHARE * (double)pl->n) {
                check_outlier(c, pl, ev, value, x, out);
            }
        }
        learn(c, pl, h, value, numeric, x);
        lw_free(value);
    }
}

static void params_tick(void *ctx, int64_t watermark_ns, int64_t now_ns,
                        const struct lw_det_out *out)
{
    /* Nothing is windowed: values are judged on their line. */
}

/* ---- save / load ---- */

static int params_save(void *ctx, struct lw_wbuf *b)
{
    struct params_ctx *c = ctx;
    struct lw__det_entry *e;
    uint32_t i;

    lw_wbuf_u32(b, PARAM_VERSION);
    lw_wbuf_u64(b, c->map.n);
    for (e = c->map.oldest; e != NULL; e = e->newer) {
        const struct place *pl = e->val;

        lw_wbuf_u32(b, pl->template_id);
        lw_wbuf_u32(b, pl->pos);
        lw_wbuf_u64(b, pl->n);
        lw_wbuf_u64(b, pl->n_num);
        lw_wbuf_u64(b, pl->n_nonpos);
        lw_wbuf_u32(b, pl->high_card ? 1u : 0u);
        lw_wbuf_u32(b, pl->n_vals);
        for (i = 0; i < pl->n_vals; i++) {
            lw_wbuf_u64(b, pl->vals[i].hash);
            lw_wbuf_u64(b, pl->vals[i].count);
            lw_wbuf_str(b, pl->vals[i].text, strlen(pl->vals[i].text));
        }
        lw_wbuf_u32(b, pl->ring_n);
        lw_wbuf_u32(b, pl->ring_pos);
        for (i = 0; i < pl->ring_n; i++) {
            lw_wbuf_f64(b, pl->ring[i]);
        }
    }
    return b->err;
}

/* Reads one place; NULL with @why ("memory" on ENOMEM). */
static struct place *load_place(struct params_ctx *c, struct lw_rbuf *r, const char **why)
{
    struct place *pl = lw_calloc(1, sizeof(*pl));
    uint32_t high, i, n_vals;

    if (pl == NULL) {
        *why = "memory";
        return NULL;
    }
    pl->template_id = lw_rbuf_u32(r);
    pl->pos = lw_rbuf_u32(r);
    pl->n = lw_rbuf_u64(r);
    pl->n_num = lw_rbuf_u64(r);
    pl->n_nonpos = lw_rbuf_u64(r);
    high = lw_rbuf_u32(r);
    n_vals = lw_rbuf_u32(r);
    if (r->err != 0 || pl->template_id == 0 || high > 1 || pl->n_num > pl->n ||
        pl->n_nonpos > pl->n_num || n_vals > c->max_values || (high && n_vals > 0)) {
        *why = "bad place header";
        goto fail;
    }
    pl->high_card = high != 0 || c->max_values == 0;
    if (n_vals > 0) {
        pl->vals = lw_calloc(c->max_values, sizeof(*pl->vals));
        if (pl->vals == NULL) {
            *why = "memory";
            goto fail;
        }
        for (i = 0; i < n_vals; i++) {
            const char *t;
            size_t len;

            pl->vals[i].hash = lw_rbuf_u64(r);
            pl->vals[i].count = lw_rbuf_u64(r);
            len = lw_rbuf_str(r, &t);
            if (r->err != 0 || len > PARAM_VALUE_MAX * 4 || pl->vals[i].count == 0) {
                *why = "bad value";
                goto fail;
            }
            pl->vals[i].text = lw__det_text(t, len, PARAM_VALUE_MAX * 4);
            if (pl->vals[i].text == NULL) {
                *why = "memory";
                goto fail;
            }
            pl->n_vals++;
        }
    }
    pl->ring_n = lw_rbuf_u32(r);
    pl->ring_pos = lw_rbuf_u32(r);
    if (r->err != 0 || pl->ring_n > PARAM_RING || pl->ring_pos >= PARAM_RING ||
        pl->ring_n > pl->n_num) {
        *why = "bad ring";
        goto fail;
    }
    for (i = 0; i < pl->ring_n; i++) {
        pl->ring[i] = lw_rbuf_f64(r);
        if (!isfinite(pl->ring[i]) || (pl->n_nonpos == 0 && pl->ring[i] <= 0)) {
            *why = "bad ring value";
            goto fail;
        }
    }
    if (r->err != 0) {
        *why = "truncated";
        goto fail;
    }
    restat(pl);
    return pl;
fail:
    place_free(pl);
    return NULL;
}

static int params_load(void *ctx, const void *p, size_t n, char *err, size_t err_len)
{
    struct params_ctx *c = ctx;
    struct lw_rbuf r = {.p = p, .len = n};
    struct lw__det_map m;
    uint32_t version;
    uint64_t n_places, i;
    const char *why = NULL;

    version = lw_rbuf_u32(&r);
    n_places = lw_rbuf_u64(&r);
    if (r.err != 0 || version != PARAM_VERSION) {
        snprintf(err, err_len, "params: saved model is truncated or has version %u, expected %u",
                 version, PARAM_VERSION);
        return LW_ECORRUPT;
    }
    if (n_places > (r.len - r.off) / 44) {
        snprintf(err, err_len, "params: saved model claims %llu places in %zu bytes",
                 (unsigned long long)n_places, r.len - r.off);
        return LW_ECORRUPT;
    }
    if (lw__det_map_init(&m, c->max_places, place_free) < 0) {
        snprintf(err, err_len, "params: out of memory");
        return LW_ENOMEM;
    }
    for (i = 0; i < n_places; i++) {
        struct place *pl = load_place(c, &r, &why);
        uint32_t key[2];

        if (pl == NULL) {
            break;
        }
        key[0] = pl->template_id;
        key[1] = pl->pos;
        if (lw__det_map_get(&m, key, sizeof(key), false) != NULL) {
            place_free(pl);
            why = "duplicate place";
            break;
        }
        if (lw__det_map_put(&m, key, sizeof(key), pl) == NULL) {
            place_free(pl);
            why = "memory";
            break;
        }
    }
    if (why == NULL && r.off != r.len) {
        why = "trailing bytes";
    }
    if (why != NULL) {
        int rc = strcmp(why, "memory") == 0 ? LW_ENOMEM : LW_ECORRUPT;

        snprintf(err, err_len, "params: saved model is corrupt (%s at place %llu)", why,
                 (unsigned long long)i);
        lw__det_map_fini(&m);
        return rc;
    }
    lw__det_map_fini(&c->map);
    c->map = m;
    return LW_OK;
}

static void params_stats(void *ctx, struct lw_det_stats *out)
{
    struct params_ctx *c = ctx;
    struct lw__det_entry *e = c->map.newest;

    memset(out, 0, sizeof(*out));
    out->anomalies = c->anomalies;
    out->state_items = c->map.n;
    out->evicted = c->map.evicted;
    out->warming_up = e == NULL || ((struct place *)e->val)->n < c->warmup_values;
}

const struct lw_detector_plugin det_params_plugin = {
    .abi = LW_DETECT_ABI,
    .name = "params",
    .description = "parameter values: numeric outliers and new values at low-cardinality places",
    .enabled = params_enabled,
    .init = params_init,
    .observe = params_observe,
    .tick = params_tick,
    .save = params_save,
    .load = params_load,
    .stats = params_stats,
    .exit = params_exit,
};
