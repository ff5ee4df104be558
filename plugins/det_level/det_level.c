/*
 * det_level: per source, counts the lines at level warn or above (and, for the explanation,
 * error or above) in event-time windows of detect.volume.window_ns, and reports a window whose
 * warn+ count surges far above what the source usually produces (kind "level_surge").
 *
 * The expectation is the larger of two: the source's baseline of warn+ lines per window (the
 * winsorized exponentially weighted mean and variance of det_util.h) and its long-run share of
 * warn+ lines times this window's line count. The second keeps a traffic surge whose lines are
 * mostly info from reading as a level surge (the volume detector reports that one); a surge
 * here means the mix turned to warnings. The score is 1 - p with p the negative-binomial (or
 * Poisson) upper tail; at least detect.level.min_count warn+ lines are needed.
 *
 * Windows close when the watermark passes them, as in det_volume; a window in which no source had
 * any line is skipped. A source reports once per episode (until a window scores below the
 * threshold again). Sources are capped by detect.level.max_sources, the least recently seen
 * evicted and counted. The source "" (lines without a source) is a source like the others.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "detect/det_util.h"
#include "lw/lw_detect.h"
#include "level_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_level.h"
#include "lw/lw_mem.h"
#include "lw/lw_windows.h"

#define LVL_VERSION 1u
#define LVL_RING LW_DET_RING
#define LVL_SAMPLES 3
#define LVL_SAMPLE_MAX 256
#define LVL_SOURCE_MAX 256
#define LVL_SHARE_MAX 1e6              /* share counts are halved past this many lines */

struct lvl_slot {
    int64_t win;                       /* window index counted, or INT64_MIN */
    uint64_t lines;
    uint64_t warn;                     /* level >= warn */
    uint64_t error;                    /* level >= error */
    uint32_t n_samples;
    char *samples[LVL_SAMPLES];        /* warn+ lines */
};

struct lvl_series {
    char *source;
    struct lvl_slot ring[LVL_RING];
    struct lw__det_base base;          /* warn+ lines per window */
    double share_lines;                /* decayed line count */
    double share_warn;                 /* decayed warn+ count */
    bool alarm;                        /* reporting an episode */
    int64_t first_win;
};

struct lvl_ctx {
    struct lw__det_windows win;        /* event-time windows (lw_windows.h) */
    uint64_t warmup_windows;
    size_t max_sources;
    uint64_t min_count;
    struct lw__det_map map;            /* source -> struct lvl_series */
    uint64_t anomalies;
};

static void slot_clear(struct lvl_slot *s)
{
    uint32_t i;

    for (i = 0; i < s->n_samples; i++) {
        lw_free(s->samples[i]);
        s->samples[i] = NULL;
    }
    memset(s, 0, sizeof(*s));
    s->win = INT64_MIN;
}

static void series_free(void *val)
{
    struct lvl_series *s = val;
    size_t i;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < LVL_RING; i++) {
        slot_clear(&s->ring[i]);
    }
    lw_free(s->source);
    lw_free(s);
}

static struct lvl_series *series_new(const char *source, size_t len)
{
    struct lvl_series *s = lw_calloc(1, sizeof(*s));
    size_t i;

    if (s == NULL) {
        return NULL;
    }
    for (i = 0; i < LVL_RING; i++) {
        s->ring[i].win = INT64_MIN;
    }
    s->source = lw_strndup(source, len);
    if (s->source == NULL) {
        lw_free(s);
        return NULL;
    }
    return s;
}

static bool lvl_enabled(const struct lw_detect_conf *conf)
{
    return conf->level.enabled;
}

static void *lvl_init(const struct lw_detect_conf *conf, char *err, size_t err_len)
{
    struct lvl_ctx *c;

    if (conf->volume.window_ns <= 0) {
        snprintf(err, err_len, "level: window must be positive");
        return NULL;
    }
    c = lw_calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, err_len, "level: out of memory");
        return NULL;
    }
    lw__det_windows_reset(&c->win, conf->volume.window_ns);
    c->warmup_windows = conf->level.warmup_windows;
    c->max_sources = conf->level.max_sources > 0 ? conf->level.max_sources : 1;
    c->min_count = conf->level.min_count;
    if (lw__det_map_init(&c->map, c->max_sources, series_free) < 0) {
        lw_free(c);
        snprintf(err, err_len, "level: out of memory");
        return NULL;
    }
    return c;
}

static void lvl_exit(void *ctx)
{
    struct lvl_ctx *c = ctx;

    if (c == NULL) {
        return;
    }
    lw__det_map_fini(&c->map);
    lw_free(c);
}

static void report(struct lvl_ctx *c, struct lvl_series *s, const struct lvl_slot *slot,
                   double mean, double var, double share, double p, const struct lw_det_out *out)
{
    char summary[640], *expl = NULL, *samples = NULL;
    double win_s = (double)c->win.win_ns / 1e9;
    struct lw_anomaly a;
    json_t *j;

    snprintf(summary, sizeof(summary),
             "source \"%.200s\": %llu warn+ lines (%llu error+) of %llu in %.0f s window, "
             "expected %.1f ± %.1f warn+ (p=%.2g)",
             s->source, (unsigned long long)slot->warn, (unsigned long long)slot->error,
             (unsigned long long)slot->lines, win_s, mean, sqrt(var), p);
    j = json_pack("{s:s, s:f, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:I, s:I, s:f}", "source",
                  s->source, "window_s", win_s, "observed_warn", (json_int_t)slot->warn,
                  "observed_error", (json_int_t)slot->error, "lines", (json_int_t)slot->lines,
                  "expected_warn", mean, "stddev", sqrt(var), "baseline_warn", s->base.mean,
                  "expected_warn_share", share, "windows_learned", (json_int_t)s->base.n,
                  "min_count", (json_int_t)c->min_count, "p", p);
    if (j != NULL) {
        expl = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
    }
    samples = lw__det_samples_json(slot->samples, slot->n_samples);
    memset(&a, 0, sizeof(a));
    a.detector = "level";
    a.kind = "level_surge";
    a.score = lw__det_score(p);
    a.ts_ns = slot->win * c->win.win_ns;
    a.arrival_ns = 0;
    a.source = s->source;
    a.summary = summary;
    a.explanation_json = expl != NULL ? expl : "{}";
    a.samples_json = samples;
    c->anomalies++;
    out->emit(out->opaque, &a);
    free(expl);
    free(samples);
}

static void evaluate(struct lvl_ctx *c, struct lvl_series *s, const struct lvl_slot *slot,
                     const struct lw_det_out *out)
{
    double share, mean, var, p;

    if (s->base.n < c->warmup_windows || s->base.n == 0) {
        return;
    }
    share = (s->share_warn + 0.5) / (s->share_lines + 1.0);
    mean = fmax(s->base.mean, share * (double)slot->lines);
    var = fmax(lw__det_base_var(&s->base), mean);
    if (slot->warn < c->min_count || (double)slot->warn <= mean) {
        s->alarm = false;
        return;
    }
    p = lw__det_count_sf((double)slot->warn, mean, var);
    if (lw__det_score(p) < out->threshold) {
        s->alarm = false;
        return;
    }
    if (!s->alarm) {
        s->alarm = true;
        report(c, s, slot, mean, var, share, p, out);
    }
}

/* lw__det_close_fn: judges and teaches every source's series on window @w, clears its slot. */
static void close_window(void *ctx, int64_t w, size_t i, bool judge, const struct lw_det_out *out)
{
    struct lvl_ctx *c = ctx;
    struct lw__det_entry *e;
    struct lvl_slot empty;

    memset(&empty, 0, sizeof(empty));
    empty.win = w;
    for (e = c->map.newest; e != NULL; e = e->older) {
        struct lvl_series *s = e->val;
        struct lvl_slot *slot = s->ring[i].win == w ? &s->ring[i] : &empty;

        if (judge && w >= s->first_win) {
            evaluate(c, s, slot, out);
        }
        if (judge && w >= s->first_win && !out->partial) {
            lw__det_base_update(&s->base, (double)slot->warn);
            s->share_lines += (double)slot->lines;
            s->share_warn += (double)slot->warn;
            if (s->share_lines > LVL_SHARE_MAX) {
                s->share_lines /= 2;
                s->share_warn /= 2;
            }
        }
        if (slot != &empty) {
            slot_clear(slot);
        }
    }
}

static void lvl_observe(void *ctx, const struct lw_det_event *ev, const struct lw_det_out *out)
{
    struct lvl_ctx *c = ctx;
    int64_t w;
    const char *src = ev->source != NULL ? ev->source : "";
    size_t len = strnlen(src, LVL_SOURCE_MAX);
    struct lw__det_entry *e;
    struct lvl_series *s;
    struct lvl_slot *slot;
    size_t i;
    long i_slot;

    i_slot = lw__det_windows_line(&c->win, ev->ts_ns, &w, close_window, c, out);
    if (i_slot < 0) {
        return;
    }
    i = (size_t)i_slot;
    e = lw__det_map_get(&c->map, src, len, true);
    if (e != NULL) {
        s = e->val;
    }
    else {
        s = series_new(src, len);
        if (s == NULL) {
            return;
        }
        s->first_win = w;
        if (lw__det_map_put(&c->map, src, len, s) == NULL) {
            series_free(s);
            return;
        }
    }
    slot = &s->ring[i];
    if (slot->win != w) {
        slot_clear(slot);
        slot->win = w;
    }
    slot->lines++;
    if (ev->level >= LW_LEVEL_WARN) {
        slot->warn++;
        if (ev->level >= LW_LEVEL_ERROR) {
            slot->error++;
        }
        if (slot->n_samples < LVL_SAMPLES && ev->msg != NULL) {
            slot->samples[slot->n_samples] = lw__det_text(ev->msg, ev->msg_len, LVL_SAMPLE_MAX);
            if (slot->samples[slot->n_samples] != NULL) {
                slot->n_samples++;
            }
        }
    }
}

static void lvl_tick(void *ctx, int64_t watermark_ns, int64_t now_ns, const struct lw_det_out *out)
{
    struct lvl_ctx *c = ctx;

    lw__det_windows_tick(&c->win, watermark_ns, close_window, c, out);
}

/* The model, or with @want only the sources it accepts (never ""). */
static int save_series(struct lvl_ctx *c, struct lw_wbuf *b,
                       bool (*want)(void *opaque, const char *source), void *opaque)
{
    struct lw__det_entry *e;
    uint64_t n = 0;

    for (e = c->map.oldest; e != NULL && want != NULL; e = e->newer) {
        const struct lvl_series *s = e->val;

        n += s->source[0] != '\0' && want(opaque, s->source);
    }
    lw_wbuf_u32(b, LVL_VERSION);
    lw_wbuf_u64(b, (uint64_t)c->win.win_ns);
    lw_wbuf_u64(b, want != NULL ? n : c->map.n);
    for (e = c->map.oldest; e != NULL; e = e->newer) {
        const struct lvl_series *s = e->val;

        if (want != NULL && (s->source[0] == '\0' || !want(opaque, s->source))) {
            continue;
        }
        lw_wbuf_str(b, s->source, strlen(s->source));
        lw_wbuf_f64(b, s->base.mean);
        lw_wbuf_f64(b, s->base.var);
        lw_wbuf_u64(b, s->base.n);
        lw_wbuf_f64(b, s->share_lines);
        lw_wbuf_f64(b, s->share_warn);
    }
    return b->err;
}

static int lvl_save(void *ctx, struct lw_wbuf *b)
{
    return save_series(ctx, b, NULL, NULL);
}

static int lvl_save_sources(void *ctx, struct lw_wbuf *b,
                            bool (*want)(void *opaque, const char *source), void *opaque,
                            bool drop)
{
    struct lvl_ctx *c = ctx;
    struct lw__det_entry *e, *next;
    int rc = save_series(c, b, want, opaque);

    if (rc != LW_OK || !drop) {
        return rc;
    }
    for (e = c->map.oldest; e != NULL; e = next) {
        const struct lvl_series *s = e->val;

        next = e->newer;
        if (s->source[0] != '\0' && want(opaque, s->source)) {
            lw__det_map_remove(&c->map, e);
        }
    }
    return LW_OK;
}

static bool ok_num(double v)
{
    return isfinite(v) && v >= 0 && v < 1e15;
}

/* Reads saved sources into @m (set up here; finied on failure). */
static int parse_model(struct lvl_ctx *c, const void *p, size_t n, struct lw__det_map *m,
                       char *err, size_t err_len)
{
    struct lw_rbuf r = {.p = p, .len = n};
    uint32_t version;
    uint64_t win_ns, n_series, i;
    const char *why = NULL;

    version = lw_rbuf_u32(&r);
    win_ns = lw_rbuf_u64(&r);
    n_series = lw_rbuf_u64(&r);
    if (r.err != 0 || version != LVL_VERSION) {
        snprintf(err, err_len, "level: saved model is truncated or has version %u, expected %u",
                 version, LVL_VERSION);
        return LW_ECORRUPT;
    }
    if ((int64_t)win_ns != c->win.win_ns) {
        snprintf(err, err_len,
                 "level: saved model has %.3g s windows, configured %.3g s; not loaded",
                 (double)win_ns / 1e9, (double)c->win.win_ns / 1e9);
        return LW_EINVAL;
    }
    if (n_series > (r.len - r.off) / 44) {
        snprintf(err, err_len, "level: saved model claims %llu sources in %zu bytes",
                 (unsigned long long)n_series, r.len - r.off);
        return LW_ECORRUPT;
    }
    if (lw__det_map_init(m, c->max_sources, series_free) < 0) {
        snprintf(err, err_len, "level: out of memory");
        return LW_ENOMEM;
    }
    for (i = 0; i < n_series && why == NULL; i++) {
        const char *src;
        size_t len = lw_rbuf_str(&r, &src);
        struct lvl_series *s;

        if (r.err != 0 || len > LVL_SOURCE_MAX || memchr(src, '\0', len) != NULL) {
            why = "bad source";
            break;
        }
        if (lw__det_map_get(m, src, len, false) != NULL) {
            why = "duplicate source";
            break;
        }
        s = series_new(src, len);
        if (s == NULL) {
            why = "memory";
            break;
        }
        s->base.mean = lw_rbuf_f64(&r);
        s->base.var = lw_rbuf_f64(&r);
        s->base.n = lw_rbuf_u64(&r);
        s->share_lines = lw_rbuf_f64(&r);
        s->share_warn = lw_rbuf_f64(&r);
        if (r.err != 0 || !ok_num(s->base.mean) || !ok_num(s->base.var) ||
            !ok_num(s->share_lines) || !ok_num(s->share_warn) ||
            s->share_warn > s->share_lines) {
            series_free(s);
            why = "bad values";
            break;
        }
        if (lw__det_map_put(m, src, len, s) == NULL) {
            series_free(s);
            why = "memory";
        }
    }
    if (why == NULL && r.off != r.len) {
        why = "trailing bytes";
    }
    if (why != NULL) {
        int rc = strcmp(why, "memory") == 0 ? LW_ENOMEM : LW_ECORRUPT;

        snprintf(err, err_len, "level: saved model is corrupt (%s at source %llu)", why,
                 (unsigned long long)i);
        lw__det_map_fini(m);
        return rc;
    }
    return LW_OK;
}

static int lvl_load(void *ctx, const void *p, size_t n, char *err, size_t err_len)
{
    struct lvl_ctx *c = ctx;
    struct lw__det_map m;
    int rc = parse_model(c, p, n, &m, err, err_len);

    if (rc != LW_OK) {
        return rc;
    }
    lw__det_map_fini(&c->map);
    c->map = m;
    lw__det_windows_reset(&c->win, c->win.win_ns); /* open windows were not saved */
    return LW_OK;
}

/* Adds a shard's saved sources (lvl_save_sources) to the model, replacing the same sources. */
static int lvl_load_merge(void *ctx, const void *p, size_t n, char *err, size_t err_len)
{
    struct lvl_ctx *c = ctx;
    struct lw__det_map m;
    struct lw__det_entry *e;
    int rc = parse_model(c, p, n, &m, err, err_len);

    if (rc != LW_OK) {
        return rc;
    }
    for (e = m.oldest; e != NULL; e = e->newer) {
        struct lw__det_entry *old = lw__det_map_get(&c->map, e->key, e->key_len, false);

        if (old != NULL) {
            lw__det_map_remove(&c->map, old);
        }
        if (lw__det_map_put(&c->map, e->key, e->key_len, e->val) == NULL) {
            snprintf(err, err_len, "level: out of memory merging saved sources");
            rc = LW_ENOMEM;
            break;
        }
        e->val = NULL; /* now the model's */
    }
    lw__det_map_fini(&m);
    return rc;
}

static const struct lw__det_base *lvl_base(const void *val)
{
    return &((const struct lvl_series *)val)->base;
}

static void lvl_stats(void *ctx, struct lw_det_stats *out)
{
    struct lvl_ctx *c = ctx;

    memset(out, 0, sizeof(*out));
    out->anomalies = c->anomalies;
    out->state_items = c->map.n;
    out->evicted = c->map.evicted;
    lw__det_warmup_series(&c->map, c->warmup_windows, lvl_base, out);
}

const struct lw_detector_plugin det_level_plugin = {
    .abi = LW_DETECT_ABI,
    .name = "level",
    .description = "per-source surge of warn and error lines per window",
    .enabled = lvl_enabled,
    .init = lvl_init,
    .observe = lvl_observe,
    .tick = lvl_tick,
    .save = lvl_save,
    .load = lvl_load,
    .stats = lvl_stats,
    .exit = lvl_exit,
    .save_sources = lvl_save_sources,
    .load_merge = lvl_load_merge,
    .conf_keys = level_conf_keys,
    .conf = level_conf_read,
};
