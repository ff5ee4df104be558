/*
 * Session counts detector: each finished session's vector of template counts, judged by mined
 * invariants and PCA (src/detect/count_model.h). Normal sessions go into a bounded training
 * sample; the model is fitted once the warm-up is reached and refitted as the sample grows
 * (each time the number of sessions seen doubles, then every 50,000 sessions). A refit runs on
 * a thread of its own over a copy of the sample (it takes from a fraction of a second for a
 * dozen templates to tens of seconds for 64 varied ones) and the detection thread adopts the
 * result when it is done; until then the previous fit judges.
 */
#include <pthread.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include <xxhash.h>

#include "detect/count_model.h"
#include "detect/det_util.h"
#include "lw/lw_detect.h"
#include "session_counts_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define REFIT_MAX_GAP 50000
#define RECUR 5            /* a reported count pattern seen this often is normal */
#define QUARANTINE_MAX 4096

struct det_counts {
    struct lw_count_model *m;
    struct lw__det_map quarantine;     /* count-vector hash -> times reported (uint64_t *) */
    uint64_t warmup;
    uint64_t next_fit;
    bool pca_alert;
    double support;
    uint64_t fits;
    /* A fit in progress on its own thread, over fit_m (a copy of the sample). */
    bool fitting;
    pthread_t fit_thread;
    struct lw_count_model *fit_m;
    atomic_bool fit_done;
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
    if (lw__det_map_init(&d->quarantine, QUARANTINE_MAX, lw_free) < 0) {
        lw_count_model_destroy(d->m);
        lw_free(d);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    d->warmup = c->session_counts.warmup_sessions ? c->session_counts.warmup_sessions : 1;
    d->next_fit = d->warmup;
    d->pca_alert = c->session_counts.pca_alert;
    d->support = c->session_counts.support;
    return d;
}

static void *fit_main(void *arg)
{
    struct det_counts *d = arg;

    (void)prctl(PR_SET_NAME, (unsigned long)"lw-fit", 0UL, 0UL, 0UL); /* for top -H, perf */
    (void)lw_count_model_fit(d->fit_m);
    atomic_store(&d->fit_done, true);
    return NULL;
}

/* Adopts a finished background fit (or waits for it with @wait). */
static void fit_collect(struct det_counts *d, bool wait)
{
    if (!d->fitting || (!wait && !atomic_load(&d->fit_done))) {
        return;
    }
    pthread_join(d->fit_thread, NULL);
    if (lw_count_model_fitted(d->fit_m)) {
        lw_count_model_take_fit(d->m, d->fit_m);
        d->fits++;
    }
    lw_count_model_destroy(d->fit_m);
    d->fit_m = NULL;
    d->fitting = false;
    lw_count_model_fit_on_load(d->m, false);
}

/* Starts a refit over a copy of the sample; fits in place when no thread can be had. */
static void fit_start(struct det_counts *d)
{
    if (d->fitting) {
        return;
    }
    d->fit_m = lw_count_model_clone(d->m);
    atomic_store(&d->fit_done, false);
    if (d->fit_m != NULL && pthread_create(&d->fit_thread, NULL, fit_main, d) == 0) {
        d->fitting = true;
        lw_count_model_fit_on_load(d->m, true);
        return;
    }
    lw_count_model_destroy(d->fit_m);
    d->fit_m = NULL;
    if (lw_count_model_fit(d->m) == LW_OK) {
        d->fits++;
    }
}

static void cnt_exit(void *ctx)
{
    struct det_counts *d = ctx;

    fit_collect(d, true);
    lw_count_model_destroy(d->m);
    lw__det_map_fini(&d->quarantine);
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

/* A hash of the session's counts (order-free): the "pattern" a quarantine counts. */
static uint64_t pattern_hash(const uint32_t *ev, size_t n)
{
    uint64_t h = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        uint64_t x = XXH3_64bits(&ev[i], sizeof(ev[i]));

        h += x * 0x9E3779B97F4A7C15ull + (x >> 17); /* a sum: the same for every order */
    }
    return h ^ (uint64_t)n;
}

/*
 * Whether a reported pattern has now come RECUR times, and in at least a share 1 - support of
 * the sessions: then it is normal (the sequence detector's quarantine rule, for counts). Reported sessions are kept out of the training
 * sample until then: a steady anomaly rate above 1 - support would otherwise break the
 * invariants at the next fit (measured: 3 % of HDFS's abnormal sessions in the sample took the
 * invariants from 42 to 3 and recall from 0.925 to 0.005).
 */
static bool recurred(struct det_counts *d, const struct lw_session *s)
{
    uint64_t h = pattern_hash(s->events, s->n_events);
    struct lw__det_entry *e = lw__det_map_get(&d->quarantine, &h, sizeof(h), true);
    uint64_t *n;

    if (e == NULL) {
        n = lw_malloc(sizeof(*n));
        if (n == NULL) {
            return false;
        }
        *n = 0;
        if (lw__det_map_put(&d->quarantine, &h, sizeof(h), n) == NULL) {
            lw_free(n);
            return false;
        }
    }
    else {
        n = e->val;
    }
    /* Normal once it is no rarer than the invariants tolerate: a share 1 - support. */
    ++*n;
    return *n >= RECUR && (double)*n >= (1.0 - d->support) * (double)lw_count_model_added(d->m);
}

static void cnt_session_end(void *ctx, const struct lw_session *s, const struct lw_det_out *out)
{
    struct det_counts *d = ctx;
    bool judged = strcmp(s->end_reason, "timeout") == 0 || strcmp(s->end_reason, "terminal") == 0;

    fit_collect(d, false);
    if (!judged || s->n_dropped > 0 || s->n_events == 0 || s->joined) {
        return; /* counts of a session without its start are not comparable */
    }
    if (lw_count_model_fitted(d->m)) {
        struct lw_count_verdict v;

        lw_count_model_score(d->m, s->events, s->n_events, d->pca_alert, &v);
        if (v.anomalous && v.score >= out->threshold && !recurred(d, s)) {
            *s->flags |= s->flag_bit;
            report(s, &v, out);
            return; /* not part of the normal sample */
        }
    }
    (void)lw_count_model_add(d->m, s->events, s->n_events);
    if (lw_count_model_added(d->m) >= d->next_fit && !d->fitting) {
        fit_start(d);
        d->next_fit = lw_count_model_added(d->m) * 2;
        if (d->next_fit > lw_count_model_added(d->m) + REFIT_MAX_GAP) {
            d->next_fit = lw_count_model_added(d->m) + REFIT_MAX_GAP;
        }
    }
}

static void cnt_tick(void *ctx, int64_t watermark_ns, int64_t now_ns,
                     const struct lw_det_out *out)
{
    (void)watermark_ns;
    (void)now_ns;
    (void)out;
    fit_collect(ctx, false);
}

static int cnt_save(void *ctx, struct lw_wbuf *b)
{
    struct det_counts *d = ctx;

    /* A model trained on history (`logwarden train`) is fitted on all of it before saving. */
    fit_collect(d, false);
    if (lw_count_model_added(d->m) >= d->warmup && !lw_count_model_fitted(d->m) && !d->fitting &&
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

    fit_collect(d, true); /* a fit of the model being replaced is of no use */
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
    /* Finished sessions; at the need the model is fitted in the background, then it is warm. */
    out->warmup_unit = "sessions";
    out->warmup_need = d->warmup;
    out->warmup_have = lw_count_model_added(d->m);
    if (out->warmup_have > out->warmup_need || !out->warming_up) {
        out->warmup_have = out->warmup_need;
    }
}

const struct lw_detector_plugin det_session_counts_plugin = {
    .abi = LW_DETECT_ABI,
    .name = "session_counts",
    .description = "finished sessions' template counts: mined invariants and PCA",
    .enabled = cnt_enabled,
    .init = cnt_init,
    .tick = cnt_tick,
    .session_end = cnt_session_end,
    .save = cnt_save,
    .load = cnt_load,
    .stats = cnt_stats,
    .exit = cnt_exit,
    .conf_keys = session_counts_conf_keys,
    .conf = session_counts_conf_read,
};
