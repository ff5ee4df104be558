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
 * last PARAM_RING values and, from them, the median and MAD, in log space when the values are
 * positive and more symmetric there (skewed durations and sizes), else linear, and the
 * PARAM_EXT smallest and largest values ever seen. Units are converted to seconds or bytes
 * first, so "950ms" and "1.2s" compare; only numbers of the place's usual dimension count. A
 * value well outside the range of everything seen (outside_range()) is reported as
 * "param_outlier" with a rank p: (values at least as extreme + 1) / (values + 1). The median/MAD
 * z alone misfired on logs: its scale collapses when most values are one value (block sizes),
 * and evenly spread values have a long tail in log space. After a finding a place is quiet for
 * PARAM_QUIET_NS, and a reported outlier does not widen the range.
 *
 * A place is (template id, number of <*>, position): positions shift while the miner widens a
 * template.
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
#include "params_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define PARAM_VERSION 2u              /* 2: the extremes ever seen */
#define PARAM_RING 64                  /* recent numeric values kept per place */
#define PARAM_RESTAT 8                 /* recompute median/MAD after this many new values ... */
#define PARAM_RESTAT_SLOW 64           /* ... and this many once the place has its statistics:
                                        * two sorts of the ring per restat were 15% of the
                                        * daemon's time at every 8 values (perf, 2M demo lines) */
#define PARAM_VALUE_MAX 128            /* bytes of a value's text kept for explanations */
#define PARAM_TEXT_MAX 512
#define PARAM_NUMERIC_SHARE 0.95
#define PARAM_T_DOF 5.0               /* tail of the robust z: Student t, 5 degrees of freedom */
#define PARAM_EXT 3                   /* extremes kept per side: the range is the 3rd most extreme */
#define PARAM_LOG_MARGIN 0.69314718056 /* log space: beyond the range by a factor of 2 */
#define PARAM_LIN_MARGIN 0.5          /* linear space: by half the range's width */
#define PARAM_QUIET_NS 60000000000LL  /* after a finding, a place is quiet for 60 s of event time */

/* What a number measures: its unit's dimension. A place compares only like with like. */
enum param_dim { DIM_PLAIN, DIM_TIME, DIM_SIZE, DIM_PCT, N_DIM };

struct pv {
    uint64_t hash;                     /* XXH3 of the whole value */
    uint64_t count;
    char *text;                        /* at most PARAM_VALUE_MAX bytes, sanitized */
};

struct place {
    uint32_t template_id;
    uint32_t pos;                      /* <*> position, 0-based */
    uint32_t arity;                    /* the template's number of <*> when the place was made */
    uint64_t n;                        /* values seen */
    uint64_t n_num;                    /* of which numeric */
    uint64_t n_nonpos;                 /* numeric values <= 0 */
    uint64_t n_dim[N_DIM];             /* numbers seen per dimension (of any place kind) */
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
    /* The PARAM_EXT smallest and largest numeric values ever learned (raw), most extreme first:
     * the range an outlier must leave, robust to PARAM_EXT - 1 strays in the history. */
    double ext_lo[PARAM_EXT];
    double ext_hi[PARAM_EXT];
    uint32_t n_ext;                    /* valid entries of each (min(n_num, PARAM_EXT)) */
    /* The bounds outside_range() tests, made from the extremes and the space when they change
     * (log() and exp() on every value were 2% of the daemon's instructions). */
    bool margins_ok;
    double margin_lo, margin_hi;
    bool reported;                     /* a finding at last_report_ns (not saved) */
    int64_t last_report_ns;
};

/*
 * The places of one template, found without hashing their keys: a line's parameters are looked
 * up together, and the map's look-ups were 92M of the 487M instructions the detector spent on
 * 200k lines (callgrind). Entries are the map's (touched as a look-up would), valid while the
 * map has removed nothing since @removed.
 */
#define PCACHE_SIZE 1024u              /* templates, direct-mapped */
#define PCACHE_POS 8u                  /* places kept per template: its first parameters */

struct pcache {
    uint32_t template_id;
    uint32_t arity;
    uint64_t removed;                  /* map.removed when the entries were taken */
    struct lw__det_entry *e[PCACHE_POS];
};

struct params_ctx {
    uint64_t warmup_values;
    size_t max_places;
    size_t max_values;
    struct lw__det_map map;            /* (template id, pos) -> struct place */
    uint64_t anomalies;
    uint64_t ticks;
    uint64_t merged;                   /* places folded into their template's live sibling */
    /* merge_siblings() walks every place only when a template may have been merged since its
     * last walk (template_epoch) or when places were made since: the walk resolved ~2,900
     * places at each of 141 findings in sight per 200k lines, 3% of the daemon's instructions. */
    bool walked;                       /* every place resolved to itself at walked_epoch */
    uint64_t walked_epoch;
    struct pcache pcache[PCACHE_SIZE];
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

static inline bool is_digit(char c)
{
    return (unsigned char)(c - '0') < 10;
}

struct unit {
    const char *name;
    size_t len;
    double factor;
    uint8_t dim;                       /* enum param_dim */
};

/* Time to seconds, sizes to bytes; "m" is minutes (the common case in logs). */
#define T DIM_TIME
#define Z DIM_SIZE
#define U(name, factor, dim) {name, sizeof(name) - 1, factor, dim}
static const struct unit units[] = {
    U("ns", 1e-9, T), U("us", 1e-6, T), U("\xc2\xb5s", 1e-6, T), U("ms", 1e-3, T), U("s", 1, T),
    U("sec", 1, T), U("secs", 1, T), U("m", 60, T), U("min", 60, T), U("mins", 60, T),
    U("h", 3600, T), U("b", 1, Z), U("B", 1, Z), U("k", 1e3, Z), U("K", 1e3, Z), U("kb", 1e3, Z),
    U("KB", 1e3, Z), U("kB", 1e3, Z), U("KiB", 1024.0, Z), U("M", 1e6, Z), U("MB", 1e6, Z),
    U("mb", 1e6, Z), U("MiB", 1048576.0, Z), U("G", 1e9, Z), U("GB", 1e9, Z), U("gb", 1e9, Z),
    U("GiB", 1073741824.0, Z), U("TB", 1e12, Z), U("TiB", 1099511627776.0, Z),
    U("%", 1, DIM_PCT), U("x", 1, DIM_PLAIN), {NULL, 0, 0, 0},
};
#undef U
#undef T
#undef Z

/*
 * Parses a number with an optional unit; false when the text is something else (including
 * integers of ten or more digits, which are ids or timestamps rather than measurements).
 */
static bool parse_number(const char *s, size_t len, double *out, uint8_t *dim)
{
    char buf[64];
    size_t i = 0, digits = 0, int_digits = 0;
    bool frac = false, frac_exp = false;
    const struct unit *u;
    double v;

    if (len == 0 || len >= sizeof(buf)) {
        return false;
    }
    if (s[i] == '-' || s[i] == '+') {
        i++;
    }
    while (i < len && is_digit(s[i])) {
        i++;
        digits++;
        int_digits++;
    }
    if (i < len && s[i] == '.') {
        frac = true;
        i++;
        while (i < len && is_digit(s[i])) {
            i++;
            digits++;
        }
    }
    if (digits == 0) {
        return false;
    }
    if (i + 1 < len && (s[i] == 'e' || s[i] == 'E') &&
        (is_digit(s[i + 1]) ||
         ((s[i + 1] == '-' || s[i + 1] == '+') && i + 2 < len &&
          is_digit(s[i + 2])))) {
        frac = true;
        frac_exp = true;
        i += 2;
        while (i < len && is_digit(s[i])) {
            i++;
        }
    }
    if (!frac && int_digits >= 10) {
        return false;
    }
    if (!frac_exp && digits <= 15) {
        /*
         * Plain decimals: exact below 2^53 for the integer part, and within an ulp or two for
         * the fraction, which is plenty for ranges. strtod() cost ~500 instructions a value
         * (callgrind); this loop ~30.
         */
        size_t k = (s[0] == '-' || s[0] == '+') ? 1 : 0;
        double ip = 0, fp = 0, scale = 1;

        for (; k < i && s[k] != '.'; k++) {
            ip = ip * 10 + (s[k] - '0');
        }
        for (k++; k < i; k++) {
            fp = fp * 10 + (s[k] - '0');
            scale *= 10;
        }
        v = ip + fp / scale;
        if (s[0] == '-') {
            v = -v;
        }
    }
    else {
        memcpy(buf, s, i);
        buf[i] = '\0';
        v = strtod(buf, NULL);
    }
    *dim = DIM_PLAIN;
    if (i < len) {
        size_t ul = len - i;

        for (u = units; u->name != NULL; u++) {
            if (u->len == ul && memcmp(u->name, s + i, ul) == 0) {
                break;
            }
        }
        if (u->name == NULL) {
            return false;
        }
        v *= u->factor;
        *dim = u->dim;
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

/*
 * Sorts @n (<= PARAM_RING) doubles: an insertion sort, inline. qsort() with a comparison
 * callback was 4% of the aggregator's samples (perf, bench/run-http-mixed.sh): restat() sorts
 * twice per 64 new values of every numeric place.
 */
static void sort_doubles(double *v, uint32_t n)
{
    uint32_t i, j;

    for (i = 1; i < n; i++) {
        double x = v[i];

        for (j = i; j > 0 && v[j - 1] > x; j--) {
            v[j] = v[j - 1];
        }
        v[j] = x;
    }
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
    memcpy(raw, pl->ring, n * sizeof(double));
    sort_doubles(raw, n);
    /*
     * Log space only for positive values that are more symmetric there (Bowley's quartile
     * skewness over the 10th and 90th percentiles): skewed latencies and sizes are, values
     * spread evenly over a range (ports, counters, sizes below a cap) are not, and their log has
     * a long lower tail in which records keep coming.
     */
    pl->margins_ok = false; /* the space may change */
    pl->log_space = false;
    if (pl->n_nonpos == 0) {
        double a = raw[(n - 1) / 10], m = raw[(n - 1) / 2], b = raw[(n - 1) - (n - 1) / 10];

        if (b > a && a > 0) {
            double sk_lin = (b + a - 2 * m) / (b - a);
            double sk_log = (log(b) + log(a) - 2 * log(m)) / (log(b) - log(a));

            pl->log_space = fabs(sk_log) < fabs(sk_lin);
        }
    }
    pl->lo = raw[0];
    pl->hi = raw[n - 1];
    pl->q05 = raw[(n - 1) / 20];
    pl->q95 = raw[(n - 1) - (n - 1) / 20];
    for (i = 0; i < n; i++) {
        t[i] = xform(pl, raw[i]);
    }
    pl->med = (n % 2) ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
    /*
     * t is sorted (xform is monotone), so the distances to the median grow from the median
     * outwards on both sides: merging the two runs gives them in order without a sort.
     */
    {
        uint32_t lo = 0, hi = 0, k;
        int64_t l;

        while (lo < n && t[lo] < pl->med) {
            lo++;
        }
        l = (int64_t)lo - 1;
        hi = lo;
        for (k = 0; k < n; k++) {
            double dl = l >= 0 ? pl->med - t[l] : INFINITY;
            double dh = hi < n ? t[hi] - pl->med : INFINITY;

            if (dl <= dh) {
                raw[k] = dl;
                l--;
            }
            else {
                raw[k] = dh;
                hi++;
            }
        }
    }
    pl->mad = (n % 2) ? raw[n / 2] : (raw[n / 2 - 1] + raw[n / 2]) / 2;
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
static void report(struct params_ctx *c, struct place *pl, const struct lw_det_event *ev,
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
    a.source = ev->source != NULL && ev->source[0] != '\0'   ? ev->source
               : ev->origin != NULL && ev->origin[0] != '\0' ? ev->origin
                                                              : NULL;
    a.key = key;
    a.summary = summary;
    a.explanation_json = expl != NULL ? expl : "{}";
    a.samples_json = samples;
    c->anomalies++;
    pl->reported = true;
    pl->last_report_ns = ev->ts_ns;
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

static void check_new_value(struct params_ctx *c, struct place *pl,
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

/* The bounds beyond which a value is outside the range (outside_range()), for a place with
 * PARAM_EXT extremes (and positive ones in log space). */
static void make_margins(struct place *pl)
{
    double lo = pl->ext_lo[PARAM_EXT - 1], hi = pl->ext_hi[PARAM_EXT - 1], gap_lo, gap_hi;

    /* The spread of the kept extremes measures how far the tail reaches (a long tail has
     * its records far apart): the margin is at least twice that spread. */
    if (pl->log_space) {
        gap_lo = 2 * (log(lo) - log(pl->ext_lo[0]));
        gap_hi = 2 * (log(pl->ext_hi[0]) - log(hi));
        pl->margin_hi = hi * exp(fmax(PARAM_LOG_MARGIN, gap_hi));
        pl->margin_lo = lo / exp(fmax(PARAM_LOG_MARGIN, gap_lo));
    }
    else {
        double w = fmax(hi - lo, fmax(1e-3 * fmax(fabs(lo), fabs(hi)), 1e-9));

        gap_lo = 2 * (lo - pl->ext_lo[0]);
        gap_hi = 2 * (pl->ext_hi[0] - hi);
        pl->margin_hi = hi + fmax(PARAM_LIN_MARGIN * w, gap_hi);
        pl->margin_lo = lo - fmax(PARAM_LIN_MARGIN * w, gap_lo);
    }
    pl->margins_ok = true;
}

/*
 * The range test: is @x beyond the place's PARAM_EXT-th most extreme value ever seen, by a factor
 * of 2 in log space or by half the range's width in linear space? Sets *@beyond to how many of
 * the kept extremes @x passes at least (for the rank p). A place whose values are spread evenly
 * (ports, sizes drawn from a wide range) has a wide range and stays quiet; a place whose values
 * pile up on one value (a block size) has a floor of what was seen below it, not a collapsed
 * MAD scale.
 */
static bool outside_range(struct place *pl, double x, uint32_t *beyond)
{
    double margin_lo, margin_hi;
    uint32_t i, k = 0;

    if (pl->n_ext < PARAM_EXT) {
        return false;
    }
    if (pl->log_space && (x <= 0 || pl->ext_lo[PARAM_EXT - 1] <= 0 || pl->ext_lo[0] <= 0)) {
        return false;
    }
    if (!pl->margins_ok) {
        make_margins(pl);
    }
    margin_lo = pl->margin_lo;
    margin_hi = pl->margin_hi;
    if (x > margin_hi) {
        for (i = 0; i < PARAM_EXT; i++) {
            k += pl->ext_hi[i] >= x ? 1 : 0;
        }
    }
    else if (x < margin_lo) {
        for (i = 0; i < PARAM_EXT; i++) {
            k += pl->ext_lo[i] <= x ? 1 : 0;
        }
    }
    else {
        return false;
    }
    *beyond = k;
    return true;
}

/* Reports @x when it is an outlier; true when it did. */
static bool check_outlier(struct params_ctx *c, struct place *pl,
                          const struct lw_det_event *ev, const char *vs, size_t vlen, double x,
                          const struct lw_det_out *out)
{
    double z, p;
    uint32_t passed_by = 0;
    json_t *j;
    char what[300];
    char *value;

    if (!pl->stats_ok || (pl->log_space && x <= 0)) {
        return false;
    }
    /*
     * Only a value well outside the range of what the place has shown is an outlier. Its p is
     * a rank: (values seen at least as extreme + 1) / (values + 1), the chance that the next of
     * n exchangeable values is at least this extreme, so a short history cannot call its first
     * record an outlier (a place needs about a thousand values). The margin makes it
     * conservative. The robust z against the recent median is reported for the reader: a
     * z-score alone misfires on places whose values pile up on one value (the MAD collapses)
     * or spread evenly over decades (log-space tails), both common in logs.
     */
    if (!outside_range(pl, x, &passed_by)) {
        return false;
    }
    z = (xform(pl, x) - pl->med) / scale_of(pl);
    p = ((double)passed_by + 1.0) / ((double)pl->n_num + 1.0);
    if (lw__det_score(p) < out->threshold) {
        return false;
    }
    value = lw__det_text(vs, vlen, PARAM_VALUE_MAX); /* made only for a finding */
    if (value == NULL) {
        return false;
    }
    j = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s, s:f}", "observed", x, "median",
                  pl->log_space ? exp(pl->med) : pl->med, "usual_low", pl->q05, "usual_high",
                  pl->q95, "recent_min", pl->lo, "recent_max", pl->hi, "seen_low",
                  pl->ext_lo[PARAM_EXT - 1], "seen_high", pl->ext_hi[PARAM_EXT - 1], "space",
                  pl->log_space ? "log" : "linear", "robust_z", z);
    snprintf(what, sizeof(what),
             "value %.100s far %s its usual range %.4g..%.4g and beyond all seen %.4g..%.4g "
             "(median %.4g, robust z %.1f)",
             value, z > 0 ? "above" : "below", pl->q05, pl->q95, pl->ext_lo[PARAM_EXT - 1],
             pl->ext_hi[PARAM_EXT - 1], pl->log_space ? exp(pl->med) : pl->med, z);
    report(c, pl, ev, "param_outlier", p, value, j, what, out);
    lw_free(value);
    return true;
}

/* Keeps the PARAM_EXT smallest and largest values (insertion into two tiny sorted arrays). */
static void learn_extremes(struct place *pl, double x)
{
    uint32_t n = pl->n_ext, i;

    if (n < PARAM_EXT) {
        pl->margins_ok = false;
        pl->ext_lo[n] = x;
        pl->ext_hi[n] = x;
        pl->n_ext = ++n;
        for (i = n - 1; i > 0 && pl->ext_lo[i] < pl->ext_lo[i - 1]; i--) {
            double t = pl->ext_lo[i];

            pl->ext_lo[i] = pl->ext_lo[i - 1];
            pl->ext_lo[i - 1] = t;
        }
        for (i = n - 1; i > 0 && pl->ext_hi[i] > pl->ext_hi[i - 1]; i--) {
            double t = pl->ext_hi[i];

            pl->ext_hi[i] = pl->ext_hi[i - 1];
            pl->ext_hi[i - 1] = t;
        }
        return;
    }
    if (x < pl->ext_lo[PARAM_EXT - 1]) {
        pl->margins_ok = false;
        for (i = PARAM_EXT - 1; i > 0 && x < pl->ext_lo[i - 1]; i--) {
            pl->ext_lo[i] = pl->ext_lo[i - 1];
        }
        pl->ext_lo[i] = x;
    }
    if (x > pl->ext_hi[PARAM_EXT - 1]) {
        pl->margins_ok = false;
        for (i = PARAM_EXT - 1; i > 0 && x > pl->ext_hi[i - 1]; i--) {
            pl->ext_hi[i] = pl->ext_hi[i - 1];
        }
        pl->ext_hi[i] = x;
    }
}

/* ---- learning ---- */

/*
 * A parameter's value: its bytes in the line, and their text (cleaned, bounded) made only when
 * needed, for a finding or a new value to remember. Making it for every value of a
 * low-cardinality place was a malloc and a free per parameter per line (perf,
 * bench/run-http-mixed.sh: _int_malloc 2.1% of the aggregator's samples).
 */
struct val {
    const char *s;
    size_t len;
    char *text;
};

static const char *val_text(struct val *v)
{
    if (v->text == NULL) {
        v->text = lw__det_text(v->s, v->len, PARAM_VALUE_MAX);
    }
    return v->text;
}

static void learn(struct params_ctx *c, struct place *pl, uint64_t h, struct val *value,
                  bool numeric, double x, bool outlier)
{
    struct pv *v;

    pl->n++;
    if (numeric) {
        pl->n_num++;
        pl->n_nonpos += x <= 0 ? 1 : 0;
        if (!outlier) {
            learn_extremes(pl, x); /* a reported outlier does not widen the range */
        }
        pl->ring[pl->ring_pos] = x;
        pl->ring_pos = (pl->ring_pos + 1) % PARAM_RING;
        if (pl->ring_n < PARAM_RING) {
            pl->ring_n++;
        }
        if (++pl->since_stats >= (pl->stats_ok ? PARAM_RESTAT_SLOW : PARAM_RESTAT) ||
            !pl->stats_ok) {
            restat(pl);
            if (pl->stats_ok) {
                /* A lasting shift (5% of the recent values) widens the range: after a few
                 * findings the new level is normal. */
                learn_extremes(pl, pl->q05);
                learn_extremes(pl, pl->q95);
            }
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
    v->text = val_text(value) != NULL ? lw_strdup(value->text) : NULL;
    if (v->text == NULL) {
        return;
    }
    v->hash = h;
    v->count = 1;
    pl->n_vals++;
}

/*
 * A place is (template id, number of parameters, position): while the miner is still widening a
 * template ("api-01 ..." becomes "api-<*> ..."), the positions of the values shift, and the sizes
 * that used to be 5th must not teach the durations that are 5th now.
 */
static struct lw__det_entry *place_entry(struct params_ctx *c, uint32_t template_id,
                                         uint32_t arity, uint32_t pos)
{
    uint32_t key[3] = {template_id, arity, pos};
    struct lw__det_entry *e = lw__det_map_get(&c->map, key, sizeof(key), true);
    struct place *pl;

    if (e != NULL) {
        return e;
    }
    pl = lw_calloc(1, sizeof(*pl));
    if (pl == NULL) {
        return NULL;
    }
    pl->template_id = template_id;
    pl->pos = pos;
    pl->arity = arity;
    c->walked = false; /* an event may name a template merged before the last walk */
    if (c->max_values == 0) {
        pl->high_card = true;
    }
    e = lw__det_map_put(&c->map, key, sizeof(key), pl);
    if (e == NULL) {
        lw_free(pl);
    }
    return e;
}

static struct place *place_get(struct params_ctx *c, uint32_t template_id, uint32_t arity,
                               uint32_t pos)
{
    struct lw__det_entry *e = place_entry(c, template_id, arity, pos);

    return e != NULL ? e->val : NULL;
}

/* place_get() through the cache of the template's places (struct pcache). */
static struct place *place_find(struct params_ctx *c, uint32_t template_id, uint32_t arity,
                                uint32_t pos)
{
    struct pcache *pc = &c->pcache[(template_id * 2654435761u ^ arity) & (PCACHE_SIZE - 1)];
    struct lw__det_entry *e;

    if (pc->template_id != template_id || pc->arity != arity || pc->removed != c->map.removed) {
        memset(pc->e, 0, sizeof(pc->e));
        pc->template_id = template_id;
        pc->arity = arity;
        pc->removed = c->map.removed;
    }
    if (pos < PCACHE_POS && pc->e[pos] != NULL) {
        lw__det_map_touch(&c->map, pc->e[pos]);
        return pc->e[pos]->val;
    }
    e = place_entry(c, template_id, arity, pos);
    if (e == NULL) {
        return NULL;
    }
    if (pc->removed != c->map.removed) { /* making it evicted another place */
        memset(pc->e, 0, sizeof(pc->e));
        pc->removed = c->map.removed;
    }
    if (pos < PCACHE_POS) {
        pc->e[pos] = e;
    }
    return e->val;
}

/* Forgets the numbers learned so far (their dimension was not the place's after all). */
static void numeric_reset(struct place *pl)
{
    pl->n -= pl->n_num;
    pl->n_num = 0;
    pl->n_nonpos = 0;
    pl->ring_n = 0;
    pl->ring_pos = 0;
    pl->since_stats = 0;
    pl->stats_ok = false;
    pl->n_ext = 0;
    pl->margins_ok = false;
}

/* The dimension of most of the place's numbers. */
static uint8_t place_dim(const struct place *pl)
{
    uint8_t d, best = DIM_PLAIN;

    for (d = 1; d < N_DIM; d++) {
        if (pl->n_dim[d] > pl->n_dim[best]) {
            best = d;
        }
    }
    return best;
}

/* After a finding a place is quiet for PARAM_QUIET_NS of event time (either way, as lines may
 * come out of order): one incident is one finding, not one per line. */
static bool quiet(const struct place *pl, int64_t ts_ns)
{
    int64_t d;

    if (!pl->reported) {
        return false;
    }
    d = ts_ns > pl->last_report_ns ? ts_ns - pl->last_report_ns : pl->last_report_ns - ts_ns;
    return d < PARAM_QUIET_NS;
}

static bool merge_siblings(struct params_ctx *c, const struct lw_det_out *out);

static void params_observe(void *ctx, const struct lw_det_event *ev, const struct lw_det_out *out)
{
    struct params_ctx *c = ctx;
    size_t i;

    if (ev->template_id == 0 || ev->msg == NULL) {
        return;
    }
    for (i = 0; i < ev->n_params; i++) {
        const struct lw_param *prm = &ev->params[i];
        struct val value = {ev->msg + prm->off, prm->len, NULL};
        struct place *pl;
        uint64_t h = 0;
        double x = 0;
        bool numeric;
        uint8_t dim = DIM_PLAIN;
        uint32_t beyond;
        bool outlier, reported;

        if ((size_t)prm->off + prm->len > ev->msg_len) {
            continue;
        }
        pl = place_find(c, ev->template_id, (uint32_t)ev->n_params, (uint32_t)i);
        if (pl == NULL) {
            continue;
        }
        if (!pl->high_card) { /* only the value sets of low-cardinality places use it */
            h = XXH3_64bits(value.s, value.len);
        }
        numeric = parse_number(value.s, value.len, &x, &dim);
        if (numeric) {
            /* Only numbers of the place's usual dimension count as its numbers: a size that
             * the miner put where durations usually are is not a huge duration. */
            uint8_t before = place_dim(pl);

            pl->n_dim[dim]++;
            if (place_dim(pl) != before) {
                numeric_reset(pl);
            }
            numeric = dim == place_dim(pl);
        }
        reported = false;
        if (pl->n >= c->warmup_values && !quiet(pl, ev->ts_ns) &&
            ((!pl->high_card && find_value(pl, h) == NULL) ||
             (pl->high_card && numeric && outside_range(pl, x, &beyond))) &&
            merge_siblings(c, out)) {
            /*
             * A finding is in sight: what the miner's merged siblings taught first (the tick
             * folds them in too, but when depends on the replay speed; the verdict must not).
             */
            uint32_t live = out->template_resolve(out->opaque, ev->template_id);

            pl = live != 0 ? place_get(c, live, (uint32_t)ev->n_params, (uint32_t)i) : NULL;
            if (pl == NULL || (!pl->high_card && val_text(&value) == NULL)) {
                lw_free(value.text);
                continue;
            }
            h = XXH3_64bits(value.s, value.len);
        }
        if (pl->n >= c->warmup_values && !quiet(pl, ev->ts_ns)) {
            if (!pl->high_card) {
                if (find_value(pl, h) == NULL && val_text(&value) != NULL) {
                    check_new_value(c, pl, ev, value.text, out);
                }
            }
            else if (numeric && (double)pl->n_num >= PARAM_NUMERIC_SHARE * (double)pl->n) {
                reported = check_outlier(c, pl, ev, value.s, value.len, x, out);
            }
        }
        /* A reported outlier, or one outside the range during the episode's quiet time, does
         * not widen the range (the next incident must still stand out); other values do. */
        outlier = reported ||
                  (numeric && pl->n >= c->warmup_values && quiet(pl, ev->ts_ns) &&
                   outside_range(pl, x, &beyond));
        learn(c, pl, h, &value, numeric, x, outlier);
        lw_free(value.text);
    }
}

/* Folds what place @src learned into @dst (the same place of the template it merged into). */
static void place_merge(struct params_ctx *c, struct place *dst, const struct place *src)
{
    uint32_t i;

    dst->n += src->n;
    dst->n_num += src->n_num;
    dst->n_nonpos += src->n_nonpos;
    for (i = 0; i < N_DIM; i++) {
        dst->n_dim[i] += src->n_dim[i];
    }
    /*
     * The source's values enter the destination's extremes once each: all of them while it has
     * at most PARAM_EXT (its lists hold every value), else its extremes from both ends. That
     * keeps n_ext == min(n_num, PARAM_EXT), which the loader checks.
     */
    if (src->n_num <= PARAM_EXT) {
        for (i = 0; i < src->n_ext; i++) {
            learn_extremes(dst, src->ext_lo[i]);
        }
    }
    else {
        for (i = 0; i < src->n_ext; i++) {
            learn_extremes(dst, src->ext_lo[i]);
            learn_extremes(dst, src->ext_hi[i]);
        }
    }
    if (src->high_card && !dst->high_card) {
        place_free_vals(dst);
        dst->high_card = true;
    }
    for (i = 0; !dst->high_card && i < src->n_vals; i++) {
        struct pv *v = find_value(dst, src->vals[i].hash);

        if (v != NULL) {
            v->count += src->vals[i].count;
            continue;
        }
        if (dst->n_vals >= c->max_values) {
            place_free_vals(dst);
            dst->high_card = true;
            break;
        }
        if (dst->vals == NULL) {
            dst->vals = lw_calloc(c->max_values > 0 ? c->max_values : 1, sizeof(*dst->vals));
            if (dst->vals == NULL) {
                break;
            }
        }
        dst->vals[dst->n_vals].text = lw_strdup(src->vals[i].text);
        if (dst->vals[dst->n_vals].text == NULL) {
            break;
        }
        dst->vals[dst->n_vals].hash = src->vals[i].hash;
        dst->vals[dst->n_vals].count = src->vals[i].count;
        dst->n_vals++;
    }
}

/*
 * Values are judged on their line; the tick only tidies: now and then, the places of templates
 * the miner merged into a sibling (whose lines now come under the sibling's id) are folded into
 * the sibling's places, so that the values they taught are not "new" there. Places of evicted
 * templates age out of the LRU by themselves.
 */
/*
 * Folds the places of templates the miner merged into a sibling into the live template's
 * places. Returns whether anything was folded.
 */
static bool merge_siblings(struct params_ctx *c, const struct lw_det_out *out)
{
    struct lw__det_entry *e;
    uint32_t todo[32][4];
    size_t n = 0, k;
    bool any = false;
    uint64_t epoch = 0;

    if (out->template_resolve == NULL) {
        return false;
    }
    if (out->template_epoch != NULL) {
        epoch = out->template_epoch(out->opaque); /* before the walk: a merge during it counts */
        if (c->walked && epoch == c->walked_epoch) {
            return false;
        }
    }
    do {
        n = 0;
        for (e = c->map.newest; e != NULL && n < 32; e = e->older) {
            const struct place *pl = e->val;
            uint32_t to = out->template_resolve(out->opaque, pl->template_id);

            if (to != 0 && to != pl->template_id) {
                todo[n][0] = pl->template_id;
                todo[n][1] = pl->arity;
                todo[n][2] = pl->pos;
                todo[n][3] = to;
                n++;
            }
        }
        for (k = 0; k < n; k++) {
            /* The destination first: making it may evict, and the source is looked up after. */
            struct place *dst = place_get(c, todo[k][3], todo[k][1], todo[k][2]);
            struct lw__det_entry *se = lw__det_map_get(&c->map, todo[k],
                                                       sizeof(todo[k][0]) * 3, false);

            if (se == NULL) {
                continue;
            }
            if (dst != NULL && se->val != dst) {
                place_merge(c, dst, se->val);
            }
            lw__det_map_remove(&c->map, se);
            c->merged++;
            any = true;
        }
    } while (n == 32);
    /* Places made from now on may carry ids older than this walk: place_get() clears it. */
    c->walked = out->template_epoch != NULL;
    c->walked_epoch = epoch;
    return any;
}

static void params_tick(void *ctx, int64_t watermark_ns, int64_t now_ns,
                        const struct lw_det_out *out)
{
    struct params_ctx *c = ctx;

    (void)watermark_ns;
    (void)now_ns;
    if (c->ticks++ % 64 == 0) {
        (void)merge_siblings(c, out);
    }
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
        lw_wbuf_u32(b, pl->arity);
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
        for (i = 0; i < N_DIM; i++) {
            lw_wbuf_u64(b, pl->n_dim[i]);
        }
        lw_wbuf_u32(b, pl->n_ext);
        for (i = 0; i < pl->n_ext; i++) {
            lw_wbuf_f64(b, pl->ext_lo[i]);
            lw_wbuf_f64(b, pl->ext_hi[i]);
        }
    }
    return b->err;
}

/* Reads one place; NULL with @why ("memory" on ENOMEM). */
/* Reads one place of a model of @version (1 had no extremes: they are rebuilt from the ring). */
static struct place *load_place(struct params_ctx *c, struct lw_rbuf *r, uint32_t version,
                                const char **why)
{
    struct place *pl = lw_calloc(1, sizeof(*pl));
    uint32_t high, i, n_vals;

    if (pl == NULL) {
        *why = "memory";
        return NULL;
    }
    pl->template_id = lw_rbuf_u32(r);
    pl->pos = lw_rbuf_u32(r);
    pl->arity = version >= 2 ? lw_rbuf_u32(r) : 0; /* a version 1 place is never matched again */
    pl->n = lw_rbuf_u64(r);
    pl->n_num = lw_rbuf_u64(r);
    pl->n_nonpos = lw_rbuf_u64(r);
    high = lw_rbuf_u32(r);
    n_vals = lw_rbuf_u32(r);
    if (r->err != 0 || pl->template_id == 0 || high > 1 || pl->n_num > pl->n ||
        pl->n_nonpos > pl->n_num || n_vals > 65536 || (high && n_vals > 0)) {
        *why = "bad place header";
        goto fail;
    }
    /* Saved with a larger detect.params.max_values: the place is high-cardinality now. */
    pl->high_card = high != 0 || c->max_values == 0 || n_vals > c->max_values;
    if (n_vals > c->max_values) {
        for (i = 0; i < n_vals && r->err == 0; i++) {
            const char *t;

            (void)lw_rbuf_u64(r);
            (void)lw_rbuf_u64(r);
            (void)lw_rbuf_str(r, &t);
        }
        if (r->err != 0) {
            *why = "bad value";
            goto fail;
        }
    }
    else if (n_vals > 0) {
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
    if (version >= 2) {
        for (i = 0; i < N_DIM; i++) {
            pl->n_dim[i] = lw_rbuf_u64(r);
        }
        pl->n_ext = lw_rbuf_u32(r);
        if (r->err != 0 || pl->n_ext > PARAM_EXT || pl->n_ext > pl->n_num ||
            (pl->n_ext < PARAM_EXT && pl->n_ext != pl->n_num)) {
            *why = "bad extremes";
            goto fail;
        }
        for (i = 0; i < pl->n_ext; i++) {
            pl->ext_lo[i] = lw_rbuf_f64(r);
            pl->ext_hi[i] = lw_rbuf_f64(r);
            if (!isfinite(pl->ext_lo[i]) || !isfinite(pl->ext_hi[i]) ||
                (i > 0 && (pl->ext_lo[i] < pl->ext_lo[i - 1] ||
                           pl->ext_hi[i] > pl->ext_hi[i - 1]))) {
                *why = "bad extremes";
                goto fail;
            }
        }
    }
    else {
        for (i = 0; i < pl->ring_n; i++) {
            learn_extremes(pl, pl->ring[i]);
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
    if (r.err != 0 || version < 1 || version > PARAM_VERSION) {
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
        struct place *pl = load_place(c, &r, version, &why);
        uint32_t key[3];

        if (pl == NULL) {
            break;
        }
        key[0] = pl->template_id;
        key[1] = pl->arity;
        key[2] = pl->pos;
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
    c->walked = false;
    memset(c->pcache, 0, sizeof(c->pcache)); /* the new map counts its removals from 0 */
    return LW_OK;
}

static void params_stats(void *ctx, struct lw_det_stats *out)
{
    struct params_ctx *c = ctx;
    struct lw__det_entry *e;
    uint64_t have = 0;

    memset(out, 0, sizeof(*out));
    out->anomalies = c->anomalies;
    out->state_items = c->map.n;
    out->evicted = c->map.evicted;
    /* The place furthest along, the walk stopping at the first warm one. */
    for (e = c->map.newest; e != NULL && have < c->warmup_values; e = e->older) {
        uint64_t n = ((struct place *)e->val)->n;

        have = n > have ? n : have;
    }
    out->warmup_need = c->warmup_values > 0 ? c->warmup_values : 1;
    out->warmup_have = have < out->warmup_need ? have : out->warmup_need;
    out->warmup_unit = "values";
    out->warming_up = out->warmup_have < out->warmup_need;
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
    .conf_keys = params_conf_keys,
    .conf = params_conf_read,
};
