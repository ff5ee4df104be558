/*
 * det_new_template: reports a line that created a template the miner had never seen, once the
 * warm-up (detect.new_template.warmup_lines lines and warmup_ns of event time since the first
 * line) is over. Before that the vocabulary is still being learned and everything is new.
 *
 * The score says how surprising a new template is given how often they have been appearing:
 * p is the recent share of lines that created a template, an exponentially decayed count over
 * the last NT_HALF_LIFE_LINES lines with a half-line prior, p = (new + 0.5) / (lines + 1). When
 * the vocabulary is settled (a few new templates per tens of thousands of lines) a new one
 * scores above 0.999; when new templates keep coming (a chatty, unstable stream) they score
 * lower and stay below the threshold. A burst of new templates reports its first few lines and
 * then quiets down as the rate estimate rises.
 *
 * The model (counts and decayed rates) is saved and loaded, so a restart does not warm up again.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "detect/det_util.h"
#include "lw/lw_detect.h"
#include "new_template_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define NT_VERSION 2u                    /* 2: the long-run rate */
#define NT_HALF_LIFE_LINES 5000.0
#define NT_LONG_HALF_LIFE_LINES 50000.0  /* the long-run rate's memory */
#define NT_BUCKETS 60                    /* one-minute buckets: "new in the last hour" */
#define NT_MINUTE_NS 60000000000LL
#define NT_TEXT_MAX 512                  /* bytes of template text and sample kept */

struct nt_bucket {
    int64_t minute;                      /* event-time minute this bucket counts, or -1 */
    uint64_t lines;
    uint64_t n_new;
};

struct nt_model {
    uint64_t n_lines;                    /* lines seen */
    int64_t first_ns;                    /* event time of the first line */
    int64_t max_ns;                      /* latest event time seen */
    bool seen_first;
    bool warm;                           /* warm-up over */
    uint64_t n_templates;                /* templates created (lines with new_template) */
    double ew_new;                       /* decayed count of new-template lines */
    double ew_lines;                     /* decayed count of lines */
    double lr_new;                       /* the same over NT_LONG_HALF_LIFE_LINES */
    double lr_lines;
    struct nt_bucket buckets[NT_BUCKETS];
};

struct nt_ctx {
    uint64_t warmup_lines;
    int64_t warmup_ns;
    double decay;                        /* per-line factor: 2^(-1/half-life) */
    double lr_decay;                     /* the same for the long-run rate */
    uint64_t anomalies;
    struct nt_model m;
};

static bool nt_enabled(const struct lw_detect_conf *conf)
{
    return conf->new_template.enabled;
}

static void model_reset(struct nt_model *m)
{
    size_t i;

    memset(m, 0, sizeof(*m));
    for (i = 0; i < NT_BUCKETS; i++) {
        m->buckets[i].minute = -1;
    }
}

static void *nt_init(const struct lw_detect_conf *conf, char *err, size_t err_len)
{
    struct nt_ctx *c = lw_calloc(1, sizeof(*c));

    if (c == NULL) {
        snprintf(err, err_len, "new_template: out of memory");
        return NULL;
    }
    c->warmup_lines = conf->new_template.warmup_lines;
    c->warmup_ns = conf->new_template.warmup_ns;
    c->decay = pow(2.0, -1.0 / NT_HALF_LIFE_LINES);
    c->lr_decay = pow(2.0, -1.0 / NT_LONG_HALF_LIFE_LINES);
    model_reset(&c->m);
    return c;
}

static void nt_exit(void *ctx)
{
    lw_free(ctx);
}

static int64_t minute_of(int64_t ts_ns)
{
    return lw__det_window(ts_ns, NT_MINUTE_NS);
}

/* New templates and lines in the hour of event time up to @now_min. */
static void last_hour(const struct nt_model *m, int64_t now_min, uint64_t *n_new, uint64_t *lines)
{
    size_t i;

    *n_new = 0;
    *lines = 0;
    for (i = 0; i < NT_BUCKETS; i++) {
        const struct nt_bucket *b = &m->buckets[i];

        if (b->minute >= 0 && b->minute > now_min - NT_BUCKETS && b->minute <= now_min) {
            *n_new += b->n_new;
            *lines += b->lines;
        }
    }
}

static void report(struct nt_ctx *c, const struct lw_det_event *ev, double p, double score,
                   const struct lw_det_out *out)
{
    struct lw_anomaly a;
    uint64_t hour_new, hour_lines;
    char *tpl, *msg, *expl = NULL, *samples = NULL;
    char summary[1024];
    char near_part[256] = "";
    char *near_text = NULL;
    uint32_t near_id = 0;
    double near_sim = 0;
    uint64_t near_lines = 0;
    json_t *j;

    tpl = lw__det_text(ev->tpl != NULL ? ev->tpl : "", ev->tpl != NULL ? ev->tpl_len : 0,
                       NT_TEXT_MAX);
    msg = lw__det_text(ev->msg != NULL ? ev->msg : "", ev->msg != NULL ? ev->msg_len : 0,
                       NT_TEXT_MAX);
    if (tpl == NULL || msg == NULL) {
        goto out; /* out of memory: the finding is lost, the model is not */
    }
    last_hour(&c->m, minute_of(ev->ts_ns), &hour_new, &hour_lines);
    /*
     * Its neighbourhood: the known template most like it (share of common words) and how
     * common that one is. A new text far from everything known is rarer than a variant of a
     * frequent template.
     */
    if (out->template_nearest != NULL) {
        near_id = out->template_nearest(out->opaque, ev->template_id, &near_sim, &near_lines);
        if (near_id != 0 && out->template_text != NULL) {
            const char *nt = out->template_text(out->opaque, near_id);

            near_text = lw__det_text(nt != NULL ? nt : "", nt != NULL ? strlen(nt) : 0,
                                     NT_TEXT_MAX);
        }
    }
    if (near_id != 0) {
        snprintf(near_part, sizeof(near_part),
                 "; closest known: template %u \"%.120s\" (%.0f%% of words in common, %llu "
                 "lines)",
                 near_id, near_text != NULL ? near_text : "", near_sim * 100.0,
                 (unsigned long long)near_lines);
    }
    snprintf(summary, sizeof(summary),
             "new template %u \"%.200s\": %llu templates known, %llu new in the last hour "
             "(%llu lines), recent new-template rate %.2g per line (p=%.2g)%s",
             ev->template_id, tpl, (unsigned long long)c->m.n_templates,
             (unsigned long long)hour_new, (unsigned long long)hour_lines, p, p, near_part);
    j = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f, s:I, s:f}", "template", tpl, "known_templates",
                  (json_int_t)c->m.n_templates, "new_last_hour", (json_int_t)hour_new,
                  "lines_last_hour", (json_int_t)hour_lines, "expected_new_per_line", p,
                  "expected_new_per_10k_lines", p * 10000.0, "observed_new", (json_int_t)1,
                  "p", p);
    if (j != NULL && near_id != 0) {
        json_object_set_new(j, "closest_known",
                            json_pack("{s:I, s:s, s:f, s:I}", "template_id", (json_int_t)near_id,
                                      "template", near_text != NULL ? near_text : "",
                                      "similarity", near_sim, "lines", (json_int_t)near_lines));
    }
    if (j != NULL) {
        expl = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(j);
    }
    samples = lw__det_samples_json(&msg, 1);
    memset(&a, 0, sizeof(a));
    a.detector = "new_template";
    a.kind = "new_template";
    a.score = score;
    a.ts_ns = ev->ts_ns;
    a.arrival_ns = ev->arrival_ns;
    a.template_id = ev->template_id;
    a.source = ev->source != NULL && ev->source[0] != '\0'   ? ev->source
               : ev->origin != NULL && ev->origin[0] != '\0' ? ev->origin
                                                              : NULL;
    a.summary = summary;
    a.explanation_json = expl != NULL ? expl : "{}";
    a.samples_json = samples;
    c->anomalies++;
    out->emit(out->opaque, &a);
out:
    free(expl);
    free(samples);
    lw_free(tpl);
    lw_free(msg);
    lw_free(near_text);
}

static void nt_observe(void *ctx, const struct lw_det_event *ev, const struct lw_det_out *out)
{
    struct nt_ctx *c = ctx;
    struct nt_model *m = &c->m;
    int64_t minute = minute_of(ev->ts_ns);
    struct nt_bucket *b = &m->buckets[((minute % NT_BUCKETS) + NT_BUCKETS) % NT_BUCKETS];
    bool is_new = ev->new_template && ev->template_id != 0;
    int64_t span;
    /*
     * The rate before this line (the line must not explain itself): the larger of the recent
     * and the long-run rate. A stream that has kept making new templates at about one in a
     * thousand lines is not settled, even when the short memory (a handful of new templates in
     * it) happens to dip below that for a while; a settled stream has both rates low.
     */
    double p = fmax((m->ew_new + 0.5) / (m->ew_lines + 1.0),
                    m->lr_lines > 0 ? m->lr_new / m->lr_lines : 0.0);

    if (!m->seen_first) {
        m->seen_first = true;
        m->first_ns = m->max_ns = ev->ts_ns;
    }
    if (ev->ts_ns > m->max_ns) {
        m->max_ns = ev->ts_ns;
    }
    if (is_new && m->warm) {
        double score = lw__det_score(p);

        if (score >= out->threshold) {
            report(c, ev, p, score, out);
        }
    }
    m->n_lines++;
    if (is_new) {
        m->n_templates++;
    }
    m->ew_new = m->ew_new * c->decay + (is_new ? 1.0 : 0.0);
    m->ew_lines = m->ew_lines * c->decay + 1.0;
    m->lr_new = m->lr_new * c->lr_decay + (is_new ? 1.0 : 0.0);
    m->lr_lines = m->lr_lines * c->lr_decay + 1.0;
    if (b->minute != minute) {
        if (b->minute > minute) {
            b = NULL; /* a line more than an hour late: not counted per minute */
        }
        else {
            b->minute = minute;
            b->lines = 0;
            b->n_new = 0;
        }
    }
    if (b != NULL) {
        b->lines++;
        b->n_new += is_new ? 1 : 0;
    }
    /* Saturating: a loaded state may hold times far apart (fuzz_models found the overflow). */
    if (!m->warm && m->n_lines >= c->warmup_lines &&
        (__builtin_sub_overflow(m->max_ns, m->first_ns, &span) ? m->max_ns > 0 : span >= c->warmup_ns)) {
        m->warm = true;
    }
}

static void nt_tick(void *ctx, int64_t watermark_ns, int64_t now_ns, const struct lw_det_out *out)
{
    /* Nothing is windowed: a new template is reported on its line. */
}

static int nt_save(void *ctx, struct lw_wbuf *b)
{
    const struct nt_model *m = &((struct nt_ctx *)ctx)->m;
    size_t i;

    lw_wbuf_u32(b, NT_VERSION);
    lw_wbuf_u64(b, m->n_lines);
    lw_wbuf_u64(b, (uint64_t)m->first_ns);
    lw_wbuf_u64(b, (uint64_t)m->max_ns);
    lw_wbuf_u32(b, (m->seen_first ? 1u : 0u) | (m->warm ? 2u : 0u));
    lw_wbuf_u64(b, m->n_templates);
    lw_wbuf_f64(b, m->ew_new);
    lw_wbuf_f64(b, m->ew_lines);
    lw_wbuf_f64(b, m->lr_new);
    lw_wbuf_f64(b, m->lr_lines);
    lw_wbuf_u32(b, NT_BUCKETS);
    for (i = 0; i < NT_BUCKETS; i++) {
        lw_wbuf_u64(b, (uint64_t)m->buckets[i].minute);
        lw_wbuf_u64(b, m->buckets[i].lines);
        lw_wbuf_u64(b, m->buckets[i].n_new);
    }
    return b->err;
}

static int nt_load(void *ctx, const void *p, size_t n, char *err, size_t err_len)
{
    struct nt_ctx *c = ctx;
    struct lw_rbuf r = {.p = p, .len = n};
    struct nt_model m;
    uint32_t version, flags, n_buckets;
    size_t i;

    model_reset(&m);
    version = lw_rbuf_u32(&r);
    if (r.err == 0 && (version < 1 || version > NT_VERSION)) {
        snprintf(err, err_len, "new_template: saved model version %u, expected %u", version,
                 NT_VERSION);
        return LW_ECORRUPT;
    }
    m.n_lines = lw_rbuf_u64(&r);
    m.first_ns = (int64_t)lw_rbuf_u64(&r);
    m.max_ns = (int64_t)lw_rbuf_u64(&r);
    flags = lw_rbuf_u32(&r);
    m.seen_first = (flags & 1u) != 0;
    m.warm = (flags & 2u) != 0;
    m.n_templates = lw_rbuf_u64(&r);
    m.ew_new = lw_rbuf_f64(&r);
    m.ew_lines = lw_rbuf_f64(&r);
    if (version >= 2) {
        m.lr_new = lw_rbuf_f64(&r);
        m.lr_lines = lw_rbuf_f64(&r);
    }
    else {
        m.lr_new = m.ew_new; /* version 1 had the recent rate only */
        m.lr_lines = m.ew_lines;
    }
    n_buckets = lw_rbuf_u32(&r);
    if (r.err == 0 && n_buckets != NT_BUCKETS) {
        snprintf(err, err_len, "new_template: saved model has %u buckets, expected %u", n_buckets,
                 NT_BUCKETS);
        return LW_ECORRUPT;
    }
    for (i = 0; i < NT_BUCKETS && r.err == 0; i++) {
        m.buckets[i].minute = (int64_t)lw_rbuf_u64(&r);
        m.buckets[i].lines = lw_rbuf_u64(&r);
        m.buckets[i].n_new = lw_rbuf_u64(&r);
    }
    if (r.err != 0 || r.off != r.len) {
        snprintf(err, err_len, "new_template: saved model is truncated or has trailing bytes");
        return LW_ECORRUPT;
    }
    if ((flags & ~3u) != 0 || !isfinite(m.ew_new) || !isfinite(m.ew_lines) || m.ew_new < 0 ||
        m.ew_lines < m.ew_new || !isfinite(m.lr_new) || !isfinite(m.lr_lines) ||
        m.lr_new < 0 || m.lr_lines < m.lr_new || m.n_templates > m.n_lines || m.max_ns < m.first_ns) {
        snprintf(err, err_len, "new_template: saved model has inconsistent values");
        return LW_ECORRUPT;
    }
    c->m = m;
    return LW_OK;
}

static void nt_stats(void *ctx, struct lw_det_stats *out)
{
    struct nt_ctx *c = ctx;

    memset(out, 0, sizeof(*out));
    out->anomalies = c->anomalies;
    out->state_items = c->m.n_templates;
    out->warming_up = !c->m.warm;
    /* Lines first; once there are enough, the event time they must span. */
    out->warmup_unit = "lines";
    out->warmup_need = c->warmup_lines;
    out->warmup_have = c->m.n_lines < c->warmup_lines ? c->m.n_lines : c->warmup_lines;
    if (c->m.warm) {
        out->warmup_have = out->warmup_need;
    }
    else if (c->m.n_lines >= c->warmup_lines) {
        int64_t span = c->m.n_lines > 0 ? c->m.max_ns - c->m.first_ns : 0;

        out->warmup_unit = "seconds";
        out->warmup_need = (uint64_t)((c->warmup_ns + 999999999) / 1000000000);
        out->warmup_have = span > 0 ? (uint64_t)(span / 1000000000) : 0;
        if (out->warmup_have >= out->warmup_need && out->warmup_need > 0) {
            out->warmup_have = out->warmup_need - 1; /* warm at the next line */
        }
    }
}

const struct lw_detector_plugin det_new_template_plugin = {
    .abi = LW_DETECT_ABI,
    .name = "new_template",
    .description = "a line created a template never seen after the warm-up",
    .enabled = nt_enabled,
    .init = nt_init,
    .observe = nt_observe,
    .tick = nt_tick,
    .save = nt_save,
    .load = nt_load,
    .stats = nt_stats,
    .exit = nt_exit,
    .conf_keys = new_template_conf_keys,
    .conf = new_template_conf_read,
};
