/*
 * det_volume: counts lines per template (and per template and source when
 * detect.volume.per_source) in event-time windows of detect.volume.window_ns, learns a baseline
 * of each series' count per window, and reports windows that are far off it:
 *
 *   spike    many more lines than expected (and at least detect.volume.min_count);
 *   drop     far fewer lines than expected, for a series whose mean is at least min_count;
 *   silence  no line at all from a series that is present in nearly every window (a heartbeat).
 *
 * A window closes when the watermark passes its end. Every series in the map is then scored,
 * with zero for series that had no line. A window in which no series had any line is skipped
 * entirely: it neither teaches nor reports, so a stalled input or a gap in the stream does not
 * turn into a storm of silences or drag every baseline to zero.
 *
 * The baseline (det_util.h) is an exponentially weighted mean and variance, winsorized at three
 * scales so that an incident does not become the new normal in one window. Scores are 1 - p with
 * p a negative-binomial tail (Poisson when the series is not over-dispersed) of the learned mean
 * and variance. Silence uses the series' own history as well: p = (share of empty windows)^run,
 * with a half-window prior, so a heartbeat seen in 200 windows in a row reports after two empty
 * windows, and the smaller of that and the count model's P(0) is taken.
 *
 * Seasonality: once a series has an hour of history and at least one line per window, it also
 * keeps hour-of-day (24) and hour-of-week (168) profiles: a mean and variance per slot. Each
 * window measures the squared error of the flat baseline against each profile's. After two days
 * the hour-of-day profile is used when its error is under 0.8 of the flat one; after two weeks
 * the hour-of-week profile likewise when it also beats the daily one. Busy afternoons then do
 * not read as spikes and quiet nights not as drops. Hours are UTC.
 *
 * A series reports once per episode: after a finding it stays quiet until a window of that series
 * scores below the threshold again. The series map is capped by detect.volume.max_series; the
 * least recently seen series are evicted and counted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "detect/det_util.h"
#include "lw/lw_detect.h"
#include "volume_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_windows.h"

#define VOL_VERSION 2u                 /* 2: the count memory (1 still loads, without it) */
#define VOL_RING LW_DET_RING           /* open windows per series (watermark lag / window) */
#define VOL_SAMPLES 3
#define VOL_SAMPLE_MAX 256             /* bytes kept of a sample line */
#define VOL_TEXT_MAX 512               /* bytes kept of a template's text */
#define VOL_SOURCE_MAX 256             /* bytes of a source name that key a series */
#define VOL_REGULAR 0.9                /* presence share that makes a series regular */
#define VOL_PRES_MAX 2000.0            /* presence counts are halved past this (long memory) */
#define VOL_MEM_BINS 128               /* count / expected, four bins an octave, 2^-16..2^16 */
#define VOL_MEM_TOTAL_MAX 60000u       /* counts are halved past this: about a week of windows */
#define VOL_MEM_MIN 3                  /* occurrences that make a count "seen before" */
#define HOUR_NS 3600000000000LL
#define DAY_NS (24 * HOUR_NS)

enum vol_alarm { ALARM_NONE, ALARM_SPIKE, ALARM_DROP, ALARM_SILENCE };

struct vol_slot {
    int64_t win;                       /* window index counted, or INT64_MIN */
    uint64_t count;
    uint32_t n_samples;
    char *samples[VOL_SAMPLES];        /* template series only */
};

struct vol_sslot {
    float mean;                        /* lines per window in this hour slot */
    float var;
    uint32_t n;                        /* windows learned */
};

struct vol_season {
    int64_t start_win;                 /* first window learned */
    double err_flat_d, err_hod;        /* EW squared errors where the daily slot is known */
    double err_flat_w, err_how;        /* and where the weekly slot is known */
    struct vol_sslot hod[24];
    struct vol_sslot how[168];
};

/*
 * The count memory: how many past windows were about each multiple of what the series expected
 * then ((count + 1) / (expected + 1), a log-binned histogram, each bin a quarter octave wide,
 * slowly forgotten). What a series has done several times in its normal history (an hourly
 * batch five times its usual rate, lulls at half of it) is not reported again, whatever the
 * mean and variance say; what it has never done still is. Ratios rather than counts, so that a
 * night at daytime volume is still news to a series whose days are busy. Only windows past the
 * warm-up are remembered (before, the expectation means little), and windows that were
 * reported are not: an anomaly does not become normal by recurring.
 */
struct vol_mem {
    uint32_t total;                    /* windows remembered */
    uint16_t bin[VOL_MEM_BINS];
};

struct vol_series {
    uint32_t template_id;
    char *source;                      /* NULL for the template series */
    char *tpl;                         /* template text (template series only) */
    struct vol_slot ring[VOL_RING];
    struct lw__det_base base;
    double pres_n;                     /* windows learned, decayed */
    double pres_zero;                  /* of which empty */
    uint32_t silent_run;               /* empty windows in a row */
    uint8_t alarm;                     /* enum vol_alarm: the episode being reported */
    int64_t first_win;                 /* first window with a line */
    struct vol_season *season;         /* NULL until the series qualifies */
    struct vol_mem *mem;               /* NULL until the series learns its first window */
    bool reported;                     /* the window being closed was reported */
};

struct vol_ctx {
    struct lw__det_windows win;        /* event-time windows (lw_windows.h) */
    int64_t wph;                       /* windows per hour, >= 1 */
    uint64_t warmup_windows;
    size_t max_series;
    bool per_source;
    uint64_t min_count;
    double min_ratio;                  /* effect size: spikes >= ratio * expected, drops <= 1/ratio */
    struct lw__det_map map;            /* key: template id (+ source) -> struct vol_series */
    uint64_t anomalies;
    uint64_t merged;                   /* series dropped: their template merged or evicted */
};

static void slot_clear(struct vol_slot *s)
{
    uint32_t i;

    for (i = 0; i < s->n_samples; i++) {
        lw_free(s->samples[i]);
        s->samples[i] = NULL;
    }
    s->n_samples = 0;
    s->count = 0;
    s->win = INT64_MIN;
}

static void series_free(void *val)
{
    struct vol_series *s = val;
    size_t i;

    if (s == NULL) {
        return;
    }
    for (i = 0; i < VOL_RING; i++) {
        slot_clear(&s->ring[i]);
    }
    lw_free(s->source);
    lw_free(s->tpl);
    lw_free(s->season);
    lw_free(s->mem);
    lw_free(s);
}

static struct vol_series *series_new(uint32_t template_id, const char *source)
{
    struct vol_series *s = lw_calloc(1, sizeof(*s));
    size_t i;

    if (s == NULL) {
        return NULL;
    }
    s->template_id = template_id;
    for (i = 0; i < VOL_RING; i++) {
        s->ring[i].win = INT64_MIN;
    }
    if (source != NULL) {
        s->source = lw_strndup(source, strnlen(source, VOL_SOURCE_MAX));
        if (s->source == NULL) {
            lw_free(s);
            return NULL;
        }
    }
    return s;
}

/* Key: 4 bytes of template id, 'T' (template series) or 'S' and the source. */
static size_t make_key(char *buf, size_t cap, uint32_t template_id, const char *source)
{
    size_t n = 5, sl;

    memcpy(buf, &template_id, 4);
    buf[4] = source == NULL ? 'T' : 'S';
    if (source != NULL) {
        sl = strlen(source);
        if (sl > cap - n) {
            sl = cap - n;
        }
        memcpy(buf + n, source, sl);
        n += sl;
    }
    return n;
}

static bool vol_enabled(const struct lw_detect_conf *conf)
{
    return conf->volume.enabled;
}

static void *vol_init(const struct lw_detect_conf *conf, char *err, size_t err_len)
{
    struct vol_ctx *c;

    if (conf->volume.window_ns <= 0) {
        snprintf(err, err_len, "volume: window must be positive");
        return NULL;
    }
    c = lw_calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, err_len, "volume: out of memory");
        return NULL;
    }
    lw__det_windows_reset(&c->win, conf->volume.window_ns);
    c->wph = HOUR_NS / c->win.win_ns > 0 ? HOUR_NS / c->win.win_ns : 1;
    c->warmup_windows = conf->volume.warmup_windows;
    c->max_series = conf->volume.max_series >= 2 ? conf->volume.max_series : 2;
    c->per_source = conf->volume.per_source;
    c->min_count = conf->volume.min_count;
    c->min_ratio = conf->volume.min_ratio > 1 ? conf->volume.min_ratio : 1;
    if (lw__det_map_init(&c->map, c->max_series, series_free) < 0) {
        lw_free(c);
        snprintf(err, err_len, "volume: out of memory");
        return NULL;
    }
    return c;
}

static void vol_exit(void *ctx)
{
    struct vol_ctx *c = ctx;

    if (c == NULL) {
        return;
    }
    lw__det_map_fini(&c->map);
    lw_free(c);
}

/* ---- seasonal profiles ---- */

static void hour_slots(const struct vol_ctx *c, int64_t w, size_t *hod, size_t *how)
{
    int64_t hour = lw__det_window(w * c->win.win_ns, HOUR_NS);

    *hod = (size_t)(((hour % 24) + 24) % 24);
    /* The epoch fell on a Thursday 00:00 UTC; +72 h puts Monday 00:00 at slot 0. */
    *how = (size_t)((((hour + 72) % 168) + 168) % 168);
}

static void sslot_update(struct vol_sslot *s, double x, double min_alpha)
{
    double alpha, d;

    if (s->n >= LW_DET_BASE_CLIP_AFTER) {
        double sc = sqrt(fmax(s->var, fmax(s->mean, 0.25)));

        x = fmin(x, s->mean + LW_DET_BASE_K * sc);
        x = fmax(x, s->mean - LW_DET_BASE_K * sc);
    }
    s->n++;
    alpha = fmax(1.0 / s->n, min_alpha);
    d = x - s->mean;
    s->mean = (float)(s->mean + alpha * d);
    s->var = (float)((1 - alpha) * (s->var + alpha * d * d));
}

static void ew(double *acc, double v)
{
    *acc += 0.001 * (v - *acc);
}

static void season_learn(struct vol_ctx *c, struct vol_series *s, int64_t w, double x)
{
    struct vol_season *se = s->season;
    size_t hod, how;
    double ef;

    if (se == NULL) {
        if (s->base.mean < 1.0 || (w - s->first_win) * c->win.win_ns < HOUR_NS) {
            return;
        }
        se = lw_calloc(1, sizeof(*se));
        if (se == NULL) {
            return; /* no profile; the flat baseline still works */
        }
        se->start_win = w;
        s->season = se;
    }
    hour_slots(c, w, &hod, &how);
    ef = (x - s->base.mean) * (x - s->base.mean);
    if (se->hod[hod].n > 0) {
        ew(&se->err_flat_d, ef);
        ew(&se->err_hod, (x - se->hod[hod].mean) * (x - se->hod[hod].mean));
    }
    if (se->how[how].n > 0) {
        ew(&se->err_flat_w, ef);
        ew(&se->err_how, (x - se->how[how].mean) * (x - se->how[how].mean));
    }
    /* A daily slot remembers about three days, a weekly one about two weeks. */
    sslot_update(&se->hod[hod], x, 1.0 / (3.0 * (double)c->wph));
    sslot_update(&se->how[how], x, 1.0 / (2.0 * (double)c->wph));
}

/* The expectation for window @w: flat, or a profile that explains the series better. */
static const char *expect(const struct vol_ctx *c, const struct vol_series *s, int64_t w,
                          double *mean, double *var)
{
    const struct vol_season *se = s->season;
    size_t hod, how;
    int64_t age_ns;
    bool use_d = false, use_w = false;

    *mean = s->base.mean;
    *var = lw__det_base_var(&s->base);
    if (se == NULL) {
        return "flat";
    }
    hour_slots(c, w, &hod, &how);
    age_ns = (w - se->start_win) * c->win.win_ns;
    use_d = age_ns >= 2 * DAY_NS && se->err_hod < 0.8 * se->err_flat_d &&
            se->hod[hod].n >= (uint32_t)c->wph;
    use_w = age_ns >= 14 * DAY_NS && se->err_how < 0.8 * se->err_flat_w &&
            (!use_d || se->err_how < se->err_hod) && se->how[how].n >= (uint32_t)c->wph;
    if (use_w) {
        *mean = se->how[how].mean;
        *var = fmax(se->how[how].var, fmax(*mean, 0.25));
        return "hour_of_week";
    }
    if (use_d) {
        *mean = se->hod[hod].mean;
        *var = fmax(se->hod[hod].var, fmax(*mean, 0.25));
        return "hour_of_day";
    }
    return "flat";
}

/* ---- the count memory ---- */

static size_t mem_bin(uint64_t count, double expected)
{
    double b = (double)VOL_MEM_BINS / 2 +
               floor(4.0 * log2(((double)count + 1.0) / (fmax(expected, 0) + 1.0)));

    return b < 0 ? 0 : b >= VOL_MEM_BINS ? VOL_MEM_BINS - 1 : (size_t)b;
}

static void mem_learn(struct vol_series *s, uint64_t count, double expected)
{
    size_t i;

    if (s->mem == NULL) {
        s->mem = lw_calloc(1, sizeof(*s->mem));
        if (s->mem == NULL) {
            return; /* no memory of counts; the baseline still works */
        }
    }
    if (s->mem->total >= VOL_MEM_TOTAL_MAX) {
        s->mem->total = 0;
        for (i = 0; i < VOL_MEM_BINS; i++) {
            s->mem->bin[i] /= 2;
            s->mem->total += s->mem->bin[i];
        }
    }
    s->mem->bin[mem_bin(count, expected)]++;
    s->mem->total++;
}

/*
 * The share of remembered windows at about @count / @expected or more (@above) or less: "about"
 * is the same quarter-octave bin. 0 when fewer than VOL_MEM_MIN such windows are remembered.
 */
static double mem_share(const struct vol_series *s, uint64_t count, double expected, bool above)
{
    size_t b = mem_bin(count, expected), i;
    uint64_t n = 0;

    if (s->mem == NULL || s->mem->total == 0) {
        return 0;
    }
    for (i = above ? b : 0; i < (above ? VOL_MEM_BINS : b + 1); i++) {
        n += s->mem->bin[i];
    }
    return n >= VOL_MEM_MIN ? (double)n / s->mem->total : 0;
}

/* ---- reporting ---- */

static void report(struct vol_ctx *c, struct vol_series *s, int64_t w, uint64_t count,
                   const char *kind, double p, double mean, double var, const char *model,
                   const struct lw_det_out *out)
{
    char key[5];
    struct lw__det_entry *te;
    const struct vol_series *t = s;
    const struct vol_slot *slot;
    char summary[768], what[160], *expl = NULL, *samples = NULL;
    const char *tpl;
    double win_s = (double)c->win.win_ns / 1e9, sd = sqrt(var);
    double presence = s->pres_n > 0 ? 1.0 - s->pres_zero / s->pres_n : 0;
    struct lw_anomaly a;
    int64_t ts = w * c->win.win_ns;
    json_t *j;

    if (s->source != NULL) {
        te = lw__det_map_get(&c->map, key, make_key(key, sizeof(key), s->template_id, NULL),
                             false);
        t = te != NULL ? te->val : NULL;
    }
    tpl = t != NULL && t->tpl != NULL ? t->tpl : "";
    if (strcmp(kind, "silence") == 0) {
        ts = (w - (int64_t)s->silent_run) * c->win.win_ns;
        snprintf(what, sizeof(what),
                 "no lines for %.0f s (%u windows), present in %.1f%% of windows",
                 win_s * (s->silent_run + 1), s->silent_run + 1, presence * 100);
    }
    else {
        snprintf(what, sizeof(what), "%llu lines in %.0f s window", (unsigned long long)count,
                 win_s);
    }
    snprintf(summary, sizeof(summary),
             "template %u%s%.200s%s%s%.100s%s: %s, expected %.1f ± %.1f (p=%.2g)",
             s->template_id, tpl[0] != '\0' ? " \"" : "", tpl, tpl[0] != '\0' ? "\"" : "",
             s->source != NULL ? " from \"" : "",
             s->source != NULL ? s->source : "", s->source != NULL ? "\"" : "", what, mean, sd, p);
    j = json_pack("{s:s, s:s, s:s?, s:f, s:I, s:f, s:f, s:s, s:I, s:f, s:I, s:I, s:f}", "template",
                  tpl, "series", s->source != NULL ? "template+source" : "template", "source",
                  s->source, "window_s", win_s, "observed", (json_int_t)count, "expected", mean,
                  "stddev", sd, "baseline", model, "windows_learned", (json_int_t)s->base.n,
                  "presence", presence, "empty_windows_in_a_row",
                  (json_int_t)(count == 0 ? s->silent_run + 1 : 0), "min_count",
                  (json_int_t)c->min_count, "p", p);
    if (j != NULL) {
        expl = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
    }
    if (t != NULL && count > 0) {
        slot = &t->ring[lw__det_ring_idx(w)];
        if (slot->win == w) {
            samples = lw__det_samples_json(slot->samples, slot->n_samples);
        }
    }
    memset(&a, 0, sizeof(a));
    a.detector = "volume";
    a.kind = kind;
    a.score = lw__det_score(p);
    a.ts_ns = ts;
    a.arrival_ns = 0;
    a.template_id = s->template_id;
    a.source = s->source;
    a.summary = summary;
    a.explanation_json = expl != NULL ? expl : "{}";
    a.samples_json = samples;
    c->anomalies++;
    out->emit(out->opaque, &a);
    free(expl);
    free(samples);
}

/* Scores one series for closed window @w; reports once per episode. */
static void evaluate(struct vol_ctx *c, struct vol_series *s, int64_t w, uint64_t count,
                     const struct lw_det_out *out)
{
    double mean, var, p = 1;
    const char *model, *kind = NULL;
    uint8_t alarm = ALARM_NONE;
    bool spike;

    if (s->base.n < c->warmup_windows || s->base.n == 0 || out->training) {
        return; /* history to train on is normal: nothing to judge */
    }
    model = expect(c, s, w, &mean, &var);
    /*
     * An effect worth a person's time: a spike holds at least min_ratio times the expectation
     * and min_count lines more than it, a drop at most 1 / min_ratio of it. Below that, the
     * tail of a busy series (retries that come in clusters) would alert on its own noise.
     */
    spike = count > mean && count >= c->min_count &&
            (double)count >= fmax(c->min_ratio * mean, mean + (double)c->min_count);
    if (out->partial && !spike) {
        return; /* a partial window says nothing of what it lacks */
    }
    if (spike) {
        p = fmax(lw__det_count_sf((double)count, mean, var), mem_share(s, count, mean, true));
        kind = "spike";
        alarm = ALARM_SPIKE;
    }
    else if (count == 0 && s->pres_n > 0 && 1.0 - s->pres_zero / s->pres_n >= VOL_REGULAR) {
        double p0 = (s->pres_zero + 0.5) / (s->pres_n + 1.0);

        p = fmin(pow(p0, (double)(s->silent_run + 1)), lw__det_count_cdf(0, mean, var));
        kind = "silence";
        alarm = ALARM_SILENCE;
    }
    else if ((double)count < mean && mean >= (double)c->min_count &&
             (double)count * c->min_ratio <= mean) {
        p = fmax(lw__det_count_cdf((double)count, mean, var), mem_share(s, count, mean, false));
        kind = "drop";
        alarm = ALARM_DROP;
    }
    if (kind == NULL || lw__det_score(p) < out->threshold) {
        /* A silence episode lasts until the series has lines again. */
        if (!(s->alarm == ALARM_SILENCE && count == 0)) {
            s->alarm = ALARM_NONE;
        }
        return;
    }
    s->reported = true; /* anomalous: not remembered as normal, reported or not */
    if (s->alarm == alarm) {
        return;
    }
    s->alarm = alarm;
    report(c, s, w, count, kind, p, mean, var, model, out);
}

static void learn(struct vol_ctx *c, struct vol_series *s, int64_t w, uint64_t count)
{
    s->pres_n += 1;
    if (count == 0) {
        s->pres_zero += 1;
        s->silent_run++;
    }
    else {
        s->silent_run = 0;
    }
    if (s->pres_n > VOL_PRES_MAX) {
        s->pres_n /= 2;
        s->pres_zero /= 2;
    }
    if (!s->reported && s->base.n >= c->warmup_windows && s->base.n > 0) {
        double mean, var;

        (void)expect(c, s, w, &mean, &var);
        mem_learn(s, count, mean);
    }
    s->reported = false;
    season_learn(c, s, w, (double)count);
    lw__det_base_update(&s->base, (double)count);
}

static struct vol_series *series_get(struct vol_ctx *c, uint32_t template_id, const char *source,
                                     int64_t w);

/* lw__det_close_fn: judges and teaches every series on window @w, clears its slot. */
static void close_window(void *ctx, int64_t w, size_t i, bool any, const struct lw_det_out *out)
{
    struct vol_ctx *c = ctx;
    struct lw__det_entry *e;

    if (any && out->template_resolve != NULL) {
        /*
         * A series whose template was merged into another (the miner's siblings) gets no more
         * lines: they count under the live template now. It goes, without a word, rather than
         * report a silence that is only a renaming, and its baseline joins the live template's
         * (the live series now counts both). A series of an evicted template just goes.
         */
        struct merge_mv {
            uint32_t to;
            char *source;
            struct lw__det_base base;
            int64_t win[VOL_RING];
            uint64_t count[VOL_RING];
        } *mv = NULL;
        size_t n_mv = 0, cap_mv = 0, k, j;
        struct lw__det_entry *older;

        for (e = c->map.newest; e != NULL; e = older) {
            struct vol_series *s = e->val;
            uint32_t to;

            older = e->older;
            to = out->template_resolve(out->opaque, s->template_id);
            if (to == s->template_id) {
                continue;
            }
            if (to != 0) {
                if (n_mv == cap_mv) {
                    size_t nc = cap_mv ? cap_mv * 2 : 16;
                    struct merge_mv *nm = lw_realloc(mv, nc * sizeof(*nm));

                    if (nm == NULL) {
                        continue; /* kept for the next window: it is skipped when judged */
                    }
                    mv = nm;
                    cap_mv = nc;
                }
                mv[n_mv].to = to;
                mv[n_mv].source = s->source != NULL ? lw_strdup(s->source) : NULL;
                if (s->source != NULL && mv[n_mv].source == NULL) {
                    continue;
                }
                mv[n_mv].base = s->base;
                for (j = 0; j < VOL_RING; j++) {
                    mv[n_mv].win[j] = s->ring[j].win;
                    mv[n_mv].count[j] = s->ring[j].count;
                }
                n_mv++;
            }
            lw__det_map_remove(&c->map, e);
            c->merged++;
        }
        /*
         * After the walk (series_get() may evict, which must not happen under the walk): the
         * baseline joins the live series' baseline, and the lines already counted in open
         * windows join its counts, so the window of the merge is judged on all its lines.
         */
        for (k = 0; k < n_mv; k++) {
            struct vol_series *t = series_get(c, mv[k].to, mv[k].source, w);

            if (t != NULL) {
                t->base.mean += mv[k].base.mean;
                t->base.var += mv[k].base.var;
                if (t->base.n < mv[k].base.n) {
                    t->base.n = mv[k].base.n;
                }
                for (j = 0; j < VOL_RING; j++) {
                    if (mv[k].win[j] == INT64_MIN || mv[k].count[j] == 0) {
                        continue;
                    }
                    if (t->ring[j].win != mv[k].win[j]) {
                        if (t->ring[j].win > mv[k].win[j] && t->ring[j].win != INT64_MIN) {
                            continue; /* the live series has moved on: an older window */
                        }
                        slot_clear(&t->ring[j]);
                        t->ring[j].win = mv[k].win[j];
                    }
                    t->ring[j].count += mv[k].count[j];
                }
                if (t->first_win > w) {
                    t->first_win = w;
                }
            }
            lw_free(mv[k].source);
        }
        lw_free(mv);
    }
    if (any) {
        /* Score every series first: per-source findings borrow the template's samples. */
        for (e = c->map.newest; e != NULL; e = e->older) {
            struct vol_series *s = e->val;
            uint64_t n = s->ring[i].win == w ? s->ring[i].count : 0;

            if (w >= s->first_win) {
                evaluate(c, s, w, n, out);
            }
        }
    }
    for (e = c->map.newest; e != NULL; e = e->older) {
        struct vol_series *s = e->val;
        uint64_t n = s->ring[i].win == w ? s->ring[i].count : 0;

        if (any && w >= s->first_win && !out->partial) {
            learn(c, s, w, n);
        }
        if (s->ring[i].win == w) {
            slot_clear(&s->ring[i]);
        }
    }
}

static struct vol_series *series_get(struct vol_ctx *c, uint32_t template_id, const char *source,
                                     int64_t w)
{
    char key[5 + VOL_SOURCE_MAX];
    size_t n = make_key(key, sizeof(key), template_id, source);
    struct lw__det_entry *e = lw__det_map_get(&c->map, key, n, true);
    struct vol_series *s;

    if (e != NULL) {
        return e->val;
    }
    s = series_new(template_id, source);
    if (s == NULL) {
        return NULL;
    }
    s->first_win = w;
    if (lw__det_map_put(&c->map, key, n, s) == NULL) {
        series_free(s);
        return NULL;
    }
    return s;
}

static void count_line(struct vol_series *s, int64_t w, const struct lw_det_event *ev,
                       bool keep_sample)
{
    struct vol_slot *slot = &s->ring[lw__det_ring_idx(w)];

    if (slot->win != w) {
        slot_clear(slot);
        slot->win = w;
    }
    slot->count++;
    if (keep_sample && slot->n_samples < VOL_SAMPLES && ev->msg != NULL) {
        slot->samples[slot->n_samples] = lw__det_text(ev->msg, ev->msg_len, VOL_SAMPLE_MAX);
        if (slot->samples[slot->n_samples] != NULL) {
            slot->n_samples++;
        }
    }
}

static void vol_observe(void *ctx, const struct lw_det_event *ev, const struct lw_det_out *out)
{
    struct vol_ctx *c = ctx;
    int64_t w;
    struct vol_series *t, *s;

    if (ev->template_id == 0 ||
        lw__det_windows_line(&c->win, ev->ts_ns, &w, close_window, c, out) < 0) {
        return;
    }
    t = series_get(c, ev->template_id, NULL, w);
    if (t == NULL) {
        return;
    }
    count_line(t, w, ev, true);
    if (ev->tpl != NULL && (t->tpl == NULL || strlen(t->tpl) != ev->tpl_len ||
                            memcmp(t->tpl, ev->tpl, ev->tpl_len) != 0)) {
        char *txt = lw__det_text(ev->tpl, ev->tpl_len, VOL_TEXT_MAX);

        if (txt != NULL) {
            lw_free(t->tpl);
            t->tpl = txt;
        }
    }
    if (c->per_source && ev->source != NULL && ev->source[0] != '\0') {
        s = series_get(c, ev->template_id, ev->source, w);
        if (s != NULL) {
            count_line(s, w, ev, false);
        }
    }
}

static void vol_tick(void *ctx, int64_t watermark_ns, int64_t now_ns, const struct lw_det_out *out)
{
    struct vol_ctx *c = ctx;

    (void)now_ns;
    lw__det_windows_tick(&c->win, watermark_ns, close_window, c, out);
}

/* ---- save / load ---- */

static void save_sslot(struct lw_wbuf *b, const struct vol_sslot *s)
{
    lw_wbuf_f64(b, s->mean);
    lw_wbuf_f64(b, s->var);
    lw_wbuf_u32(b, s->n);
}

/*
 * The model, or with @want only the per-source series of the sources it accepts (the template
 * series are every instance's own: docs/cluster.md).
 */
static int save_series(struct vol_ctx *c, struct lw_wbuf *b,
                       bool (*want)(void *opaque, const char *source), void *opaque)
{
    struct lw__det_entry *e;
    uint64_t n = 0;
    size_t i;

    for (e = c->map.oldest; e != NULL && want != NULL; e = e->newer) {
        const struct vol_series *s = e->val;

        n += s->source != NULL && s->source[0] != '\0' && want(opaque, s->source);
    }
    lw_wbuf_u32(b, VOL_VERSION);
    lw_wbuf_u64(b, (uint64_t)c->win.win_ns);
    lw_wbuf_u64(b, want != NULL ? n : c->map.n);
    /* Oldest first, so that loading rebuilds the same recency order. */
    for (e = c->map.oldest; e != NULL; e = e->newer) {
        const struct vol_series *s = e->val;

        if (want != NULL &&
            (s->source == NULL || s->source[0] == '\0' || !want(opaque, s->source))) {
            continue;
        }
        lw_wbuf_u32(b, s->template_id);
        lw_wbuf_u32(b, s->source != NULL ? 1u : 0u);
        lw_wbuf_str(b, s->source != NULL ? s->source : "",
                    s->source != NULL ? strlen(s->source) : 0);
        lw_wbuf_str(b, s->tpl != NULL ? s->tpl : "", s->tpl != NULL ? strlen(s->tpl) : 0);
        lw_wbuf_f64(b, s->base.mean);
        lw_wbuf_f64(b, s->base.var);
        lw_wbuf_u64(b, s->base.n);
        lw_wbuf_f64(b, s->pres_n);
        lw_wbuf_f64(b, s->pres_zero);
        lw_wbuf_u64(b, (uint64_t)s->first_win);
        lw_wbuf_u32(b, s->season != NULL ? 1u : 0u);
        if (s->season != NULL) {
            const struct vol_season *se = s->season;

            lw_wbuf_u64(b, (uint64_t)se->start_win);
            lw_wbuf_f64(b, se->err_flat_d);
            lw_wbuf_f64(b, se->err_hod);
            lw_wbuf_f64(b, se->err_flat_w);
            lw_wbuf_f64(b, se->err_how);
            for (i = 0; i < 24; i++) {
                save_sslot(b, &se->hod[i]);
            }
            for (i = 0; i < 168; i++) {
                save_sslot(b, &se->how[i]);
            }
        }
        lw_wbuf_u32(b, s->mem != NULL ? 1u : 0u);
        if (s->mem != NULL) {
            lw_wbuf_u32(b, s->mem->total);
            for (i = 0; i < VOL_MEM_BINS; i++) {
                lw_wbuf_u32(b, s->mem->bin[i]);
            }
        }
    }
    return b->err;
}

static int vol_save(void *ctx, struct lw_wbuf *b)
{
    return save_series(ctx, b, NULL, NULL);
}

static int vol_save_sources(void *ctx, struct lw_wbuf *b,
                            bool (*want)(void *opaque, const char *source), void *opaque,
                            bool drop)
{
    struct vol_ctx *c = ctx;
    struct lw__det_entry *e, *next;
    int rc = save_series(c, b, want, opaque);

    if (rc != LW_OK || !drop) {
        return rc;
    }
    /*
     * Forgotten with their open windows: the lines counted there are the next owner's to judge
     * no more (a window that straddles the move is judged by neither, rather than by both).
     */
    for (e = c->map.oldest; e != NULL; e = next) {
        const struct vol_series *s = e->val;

        next = e->newer;
        if (s->source != NULL && s->source[0] != '\0' && want(opaque, s->source)) {
            lw__det_map_remove(&c->map, e);
        }
    }
    return LW_OK;
}

static bool ok_num(double v)
{
    return isfinite(v) && v >= 0 && v < 1e15;
}

static bool load_sslot(struct lw_rbuf *r, struct vol_sslot *s)
{
    double mean = lw_rbuf_f64(r), var = lw_rbuf_f64(r);

    s->n = lw_rbuf_u32(r);
    s->mean = (float)mean;
    s->var = (float)var;
    return r->err == 0 && ok_num(mean) && ok_num(var);
}

/* Reads one series; NULL with @why set when the bytes are bad (or on ENOMEM: @why "memory"). */
static struct vol_series *load_series(struct lw_rbuf *r, uint32_t version, const char **why)
{
    struct vol_series *s;
    const char *src, *tpl;
    size_t src_len, tpl_len, i;
    uint32_t tid = lw_rbuf_u32(r), has_src = lw_rbuf_u32(r), has_season;

    src_len = lw_rbuf_str(r, &src);
    tpl_len = lw_rbuf_str(r, &tpl);
    if (r->err != 0 || has_src > 1 || tid == 0 || memchr(src, '\0', src_len) != NULL ||
        src_len > VOL_SOURCE_MAX || tpl_len > VOL_TEXT_MAX) {
        *why = "bad series header";
        return NULL;
    }
    s = lw_calloc(1, sizeof(*s));
    if (s == NULL) {
        *why = "memory";
        return NULL;
    }
    for (i = 0; i < VOL_RING; i++) {
        s->ring[i].win = INT64_MIN;
    }
    s->template_id = tid;
    if (has_src) {
        s->source = lw_strndup(src, src_len);
    }
    if (tpl_len > 0) {
        s->tpl = lw__det_text(tpl, tpl_len, VOL_TEXT_MAX);
    }
    if ((has_src && s->source == NULL) || (tpl_len > 0 && s->tpl == NULL)) {
        series_free(s);
        *why = "memory";
        return NULL;
    }
    s->base.mean = lw_rbuf_f64(r);
    s->base.var = lw_rbuf_f64(r);
    s->base.n = lw_rbuf_u64(r);
    s->pres_n = lw_rbuf_f64(r);
    s->pres_zero = lw_rbuf_f64(r);
    s->first_win = (int64_t)lw_rbuf_u64(r);
    has_season = lw_rbuf_u32(r);
    if (r->err != 0 || has_season > 1 || !ok_num(s->base.mean) || !ok_num(s->base.var) ||
        !ok_num(s->pres_n) || !ok_num(s->pres_zero) || s->pres_zero > s->pres_n) {
        series_free(s);
        *why = "bad series values";
        return NULL;
    }
    if (has_season) {
        struct vol_season *se = lw_calloc(1, sizeof(*se));
        bool ok = true;

        if (se == NULL) {
            series_free(s);
            *why = "memory";
            return NULL;
        }
        s->season = se;
        se->start_win = (int64_t)lw_rbuf_u64(r);
        se->err_flat_d = lw_rbuf_f64(r);
        se->err_hod = lw_rbuf_f64(r);
        se->err_flat_w = lw_rbuf_f64(r);
        se->err_how = lw_rbuf_f64(r);
        ok = ok_num(se->err_flat_d) && ok_num(se->err_hod) && ok_num(se->err_flat_w) &&
             ok_num(se->err_how);
        for (i = 0; i < 24 && ok; i++) {
            ok = load_sslot(r, &se->hod[i]);
        }
        for (i = 0; i < 168 && ok; i++) {
            ok = load_sslot(r, &se->how[i]);
        }
        if (!ok || r->err != 0) {
            series_free(s);
            *why = "bad seasonal profile";
            return NULL;
        }
    }
    if (version >= 2) {
        uint32_t has_mem = lw_rbuf_u32(r), sum = 0, v;

        if (has_mem > 1) {
            series_free(s);
            *why = "bad count memory";
            return NULL;
        }
        if (has_mem) {
            s->mem = lw_calloc(1, sizeof(*s->mem));
            if (s->mem == NULL) {
                series_free(s);
                *why = "memory";
                return NULL;
            }
            s->mem->total = lw_rbuf_u32(r);
            for (i = 0; i < VOL_MEM_BINS; i++) {
                v = lw_rbuf_u32(r);
                if (v > UINT16_MAX) {
                    r->err = LW_ECORRUPT;
                    break;
                }
                s->mem->bin[i] = (uint16_t)v;
                sum += v;
            }
            if (r->err != 0 || sum != s->mem->total || sum > 2 * VOL_MEM_TOTAL_MAX) {
                series_free(s);
                *why = "bad count memory";
                return NULL;
            }
        }
    }
    return s;
}

/* Reads saved series into @m (set up here; finied on failure). */
static int parse_model(struct vol_ctx *c, const void *p, size_t n, struct lw__det_map *m,
                       char *err, size_t err_len)
{
    struct lw_rbuf r = {.p = p, .len = n};
    uint32_t version;
    uint64_t win_ns, n_series, i;
    const char *why = NULL;
    int rc = LW_ECORRUPT;

    version = lw_rbuf_u32(&r);
    win_ns = lw_rbuf_u64(&r);
    n_series = lw_rbuf_u64(&r);
    if (r.err != 0) {
        snprintf(err, err_len, "volume: saved model is truncated");
        return LW_ECORRUPT;
    }
    if (version != 1 && version != VOL_VERSION) {
        snprintf(err, err_len, "volume: saved model version %u, expected %u", version,
                 VOL_VERSION);
        return LW_ECORRUPT;
    }
    if ((int64_t)win_ns != c->win.win_ns) {
        snprintf(err, err_len,
                 "volume: saved model has %.3g s windows, configured %.3g s; not loaded",
                 (double)win_ns / 1e9, (double)c->win.win_ns / 1e9);
        return LW_EINVAL;
    }
    if (n_series > (r.len - r.off) / 16) {
        snprintf(err, err_len, "volume: saved model claims %llu series in %zu bytes",
                 (unsigned long long)n_series, r.len - r.off);
        return LW_ECORRUPT;
    }
    if (lw__det_map_init(m, c->max_series, series_free) < 0) {
        snprintf(err, err_len, "volume: out of memory");
        return LW_ENOMEM;
    }
    for (i = 0; i < n_series; i++) {
        struct vol_series *s = load_series(&r, version, &why);
        char key[5 + VOL_SOURCE_MAX];
        size_t kn;

        if (s == NULL) {
            break;
        }
        kn = make_key(key, sizeof(key), s->template_id, s->source);
        if (lw__det_map_get(m, key, kn, false) != NULL) {
            series_free(s);
            why = "duplicate series";
            break;
        }
        if (lw__det_map_put(m, key, kn, s) == NULL) {
            series_free(s);
            why = "memory";
            break;
        }
    }
    if (why == NULL && r.off != r.len) {
        why = "trailing bytes";
    }
    if (why != NULL) {
        if (strcmp(why, "memory") == 0) {
            snprintf(err, err_len, "volume: out of memory loading the model");
            rc = LW_ENOMEM;
        }
        else {
            snprintf(err, err_len, "volume: saved model is corrupt (%s at series %llu)", why,
                     (unsigned long long)i);
        }
        lw__det_map_fini(m);
        return rc;
    }
    m->evicted = 0;
    return LW_OK;
}

static int vol_load(void *ctx, const void *p, size_t n, char *err, size_t err_len)
{
    struct vol_ctx *c = ctx;
    struct lw__det_map m;
    int rc = parse_model(c, p, n, &m, err, err_len);

    if (rc != LW_OK) {
        return rc;
    }
    lw__det_map_fini(&c->map);
    c->map = m;
    /* Open windows were not saved: counting starts afresh with the next line. */
    lw__det_windows_reset(&c->win, c->win.win_ns);
    return LW_OK;
}

/*
 * Adds saved series (a shard's sources, vol_save_sources) to the running model: a series of
 * the same key is replaced. Their rings start empty; windows already closed here are not
 * reopened for them, so they join at the next window like a new series does.
 */
static int vol_load_merge(void *ctx, const void *p, size_t n, char *err, size_t err_len)
{
    struct vol_ctx *c = ctx;
    struct lw__det_map m;
    struct lw__det_entry *e;
    int rc = parse_model(c, p, n, &m, err, err_len);

    if (rc != LW_OK) {
        return rc;
    }
    for (e = m.oldest; e != NULL && rc == LW_OK; e = e->newer) {
        struct lw__det_entry *old = lw__det_map_get(&c->map, e->key, e->key_len, false);

        if (old != NULL) {
            lw__det_map_remove(&c->map, old);
        }
        if (lw__det_map_put(&c->map, e->key, e->key_len, e->val) == NULL) {
            snprintf(err, err_len, "volume: out of memory merging saved series");
            rc = LW_ENOMEM;
            break;
        }
        e->val = NULL; /* now the model's */
    }
    lw__det_map_fini(&m);
    return rc;
}

static const struct lw__det_base *vol_base(const void *val)
{
    return &((const struct vol_series *)val)->base;
}

static void vol_stats(void *ctx, struct lw_det_stats *out)
{
    struct vol_ctx *c = ctx;

    memset(out, 0, sizeof(*out));
    out->anomalies = c->anomalies;
    out->state_items = c->map.n;
    out->evicted = c->map.evicted + c->merged;
    lw__det_warmup_series(&c->map, c->warmup_windows, vol_base, out);
}

const struct lw_detector_plugin det_volume_plugin = {
    .abi = LW_DETECT_ABI,
    .name = "volume",
    .description = "per-template (and per-source) line counts per window: spikes, drops, silence",
    .enabled = vol_enabled,
    .init = vol_init,
    .observe = vol_observe,
    .tick = vol_tick,
    .save = vol_save,
    .load = vol_load,
    .stats = vol_stats,
    .exit = vol_exit,
    .save_sources = vol_save_sources,
    .load_merge = vol_load_merge,
    .conf_keys = volume_conf_keys,
    .conf = volume_conf_read,
};
