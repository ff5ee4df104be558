/*
 * Session counts detector: each finished session's vector of template counts, judged by mined
 * invariants and PCA (src/detect/count_model.h). Normal sessions go into a bounded training
 * sample; the model is fitted once the warm-up is reached and refitted as the sample grows
 * (each time the number of sessions seen doubles, then every 50,000 sessions), so a fit — a
 * fraction of a second for tens of templates — stays rare.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "detect/count_model.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define REFIT_MAX_GAP 50000

struct det_counts {
    struct lw_count_model *m;
    uint64_t warmup;
    uint64_t next_fit;
    bool pca_alert;
    uint64_t fits;
};

static bool cnt_enabled(const struct lw_detect_conf *c)
{
    return c->session_counts.enabled && c->session.enabled;
}

static void *cnt_init(const struct lw_detect_conf *c, char *err, size_t err_len)
{
    struct det_counts *d = lw_calloc(1, sizeof(*d));

    if (d == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    d->m = lw_count_model_create(c->session_counts.max_train, c->session_counts.support);
    if (d->m == NULL) {
        lw_free(d);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    d->warmup = c->session_counts.warmup_sessions ? c->session_counts.warmup_sessions : 1;
    d->next_fit = d->warmup;
    d->pca_alert = c->session_counts.pca_alert;
    return d;
}

static void cnt_exit(void *ctx)
{
    struct det_counts *d = ctx;

    lw_count_model_destroy(d->m);
    lw_free(d);
}

static json_t *tpl_json(const struct lw_det_out *out, uint32_t id)
{
    const char *t = out->template_text != NULL ? out->template_text(out->opaque, id) : NULL;

    return t != NULL ? json_pack("{s:I, s:s}", "template_id", (json_int_t)id, "template", t)
                     : json_pack("{s:I}", "template_id", (json_int_t)id);
}

static void report(const struct lw_session *s, const struct lw_count_verdict *v,
                   const struct lw_det_out *out)
{
    json_t *ex = json_object(), *broken = json_array(), *samples = json_array();
    char summary[512], *ex_text, *samples_text;
    struct lw_anomaly a;
    size_t k;
    const char *kind = v->unseen_tid ? "unseen_event" : v->n_broken ? "invariant" : "pca";

    for (k = 0; k < v->n_broken && k < 4; k++) {
        const struct lw_invariant *iv = &v->broken[k];
        json_t *terms = json_array();
        size_t t;

        for (t = 0; t < iv->n; t++) {
            json_t *tj = tpl_json(out, iv->tid[t]);

            if (tj != NULL) {
                json_object_set_new(tj, "coef", json_integer(iv->coef[t]));
                json_array_append_new(terms, tj);
            }
        }
        json_array_append_new(broken,
                              json_pack("{s:o, s:I, s:I, s:I}", "terms", terms, "observed_sum",
                                        (json_int_t)v->lhs[k], "held_in_sessions",
                                        (json_int_t)(iv->support - iv->violations),
                                        "of_sessions", (json_int_t)iv->support));
    }
    json_object_set_new(ex, "session", json_string(s->key));
    json_object_set_new(ex, "events", json_integer((json_int_t)s->n_events));
    json_object_set_new(ex, "invariants_broken", json_integer((json_int_t)v->n_broken));
    json_object_set_new(ex, "broken", broken);
    json_object_set_new(ex, "expected", json_string("every invariant sums to 0"));
    if (v->unseen_tid) {
        json_object_set_new(ex, "unseen_event", tpl_json(out, v->unseen_tid));
    }
    json_object_set_new(ex, "pca_spe", json_real(v->spe));
    json_object_set_new(ex, "pca_threshold", json_real(v->q));
    ex_text = json_dumps(ex, JSON_COMPACT);
    json_decref(ex);
    for (k = 0; k < s->n_samples; k++) {
        json_array_append_new(samples, json_string(s->samples[k]));
    }
    samples_text = json_dumps(samples, JSON_COMPACT);
    json_decref(samples);
    if (v->unseen_tid) {
        snprintf(summary, sizeof(summary),
                 "session %s (%zu events) holds template %u, never seen in a normal session", s->key,
                 s->n_events, v->unseen_tid);
    }
    else if (v->n_broken > 0) {
        const struct lw_invariant *iv = &v->broken[0];

        snprintf(summary, sizeof(summary),
                 "session %s (%zu events) breaks %zu count invariant(s), e.g. %d*c(%u) %+d*c(%u)"
                 "%s = %lld, expected 0 (held in %u of %u normal sessions)",
                 s->key, s->n_events, v->n_broken, iv->coef[0], iv->tid[0], iv->coef[1],
                 iv->tid[1], iv->n > 2 ? " + ..." : "", (long long)v->lhs[0],
                 iv->support - iv->violations, iv->support);
    }
    else {
        snprintf(summary, sizeof(summary),
                 "session %s (%zu events): template counts far from the normal space (PCA SPE "
                 "%.2f > Q %.2f)",
                 s->key, s->n_events, v->spe, v->q);
    }
    memset(&a, 0, sizeof(a));
    a.detector = "session_counts";
    a.kind = kind;
    a.score = v->score;
    a.ts_ns = s->last_ns;
    a.arrival_ns = s->last_arrival_ns;
    a.template_id = v->unseen_tid;
    a.source = s->source;
    a.key = s->key;
    a.summary = summary;
    a.explanation_json = ex_text;
    a.samples_json = samples_text;
    out->emit(out->opaque, &a);
    free(ex_text);
    free(samples_text);
}

static void cnt_session_end(void *ctx, const struct lw_session *s, const struct lw_det_out *out)
{
    struct det_counts *d = ctx;
    bool judged = strcmp(s->end_reason, "timeout") == 0 || strcmp(s->end_reason, "terminal") == 0;
    bool anomalous = false;

    if (!judged || s->n_dropped > 0 || s->n_events == 0) {
        return;
    }
    if (lw_count_model_fitted(d->m)) {
        struct lw_count_verdict v;

        lw_count_model_score(d->m, s->events, s->n_events, d->pca_alert, &v);
        if (v.anomalous && v.score >= out->threshold) {
            anomalous = true;
            *s->flags |= s->flag_bit;
            report(s, &v, out);
        }
    }
    /*
     * Reported sessions join the sample too (invariants need only hold in a share @support of
     * it): what keeps coming stops being reported, as with the sequence model.
     */
    (void)anomalous;
    (void)lw_count_model_add(d->m, s->events, s->n_events);
    if (lw_count_model_added(d->m) >= d->next_fit) {
        if (lw_count_model_fit(d->m) == LW_OK) {
            d->fits++;
        }
        d->next_fit = lw_count_model_added(d->m) * 2;
        if (d->next_fit > lw_count_model_added(d->m) + REFIT_MAX_GAP) {
            d->next_fit = lw_count_model_added(d->m) + REFIT_MAX_GAP;
        }
    }
}

static int cnt_save(void *ctx, struct lw_wbuf *b)
{
    struct det_counts *d = ctx;

    /* A model trained on history (`logwarden train`) is fitted on all of it before saving. */
    if (lw_count_model_added(d->m) >= d->warmup && !lw_count_model_fitted(d->m) &&
        lw_count_model_fit(d->m) == LW_OK) {
        d->fits++;
    }

    lw_wbuf_u64(b, d->next_fit);
    return lw_count_model_save(d->m, b);
}

static int cnt_load(void *ctx, const void *p, size_t n, char *err, size_t err_len)
{
    struct det_counts *d = ctx;
    struct lw_rbuf r = {.p = p, .len = n};
    uint64_t next = lw_rbuf_u64(&r);
    int rc;

    if (r.err != 0) {
        snprintf(err, err_len, "session counts model: truncated");
        return LW_ECORRUPT;
    }
    rc = lw_count_model_load(d->m, (const unsigned char *)p + 8, n - 8);
    if (rc < 0) {
        snprintf(err, err_len, "session counts model: %s", lw_strerror(rc));
        return rc;
    }
    d->next_fit = next;
    return LW_OK;
}

static void cnt_stats(void *ctx, struct lw_det_stats *out)
{
    struct det_counts *d = ctx;

    out->state_items = lw_count_model_n_invariants(d->m);
    out->warming_up = !lw_count_model_fitted(d->m);
}

const struct lw_detector_plugin det_session_counts_plugin = {
    .abi = LW_DETECT_ABI,
    .name = "session_counts",
    .description = "finished sessions' template counts: mined invariants and PCA",
    .enabled = cnt_enabled,
    .init = cnt_init,
    .session_end = cnt_session_end,
    .save = cnt_save,
    .load = cnt_load,
    .stats = cnt_stats,
    .exit = cnt_exit,
};
