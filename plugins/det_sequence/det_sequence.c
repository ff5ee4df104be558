/*
 * Session sequence detector: a next-event model of sessions (src/detect/seq_model.h), learned
 * online from the sessions that end normally (timeout or terminal template), and loaded from
 * `logwarden train`. Reported sessions go to a second, quarantine model instead: a path they show
 * is reported again until it has come RECUR times and in at least a share 1 - threshold of the
 * sessions — then it counts as normal. A new behaviour (a deploy, a new client) thus stops
 * alerting by itself, while a rare failure that keeps recurring rarely stays reported, and one
 * odd session does not teach the model that its oddity is normal. After its
 * warm-up it judges every event as it arrives (an unexpected event is reported within the
 * batch that carries it) and every session's end: a session that stops where no normal session
 * stopped (on its timeout) is unfinished. Each finding names the session's events and the
 * events the model expected instead.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "detect/seq_model.h"
#include "lw/lw_detect.h"
#include "sequence_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define SHOW_EVENTS 20   /* events of the session shown in an explanation (the latest) */
#define RECUR 5          /* a reported path seen this often in reported sessions ... */

struct det_sequence {
    struct lw_seq_model *m;
    struct lw_seq_model *q;    /* quarantine: the paths of reported sessions */
    uint64_t warmup;
    size_t history;            /* h */
    double rate;               /* 1 - threshold: the share of sessions that makes a path normal */
    uint64_t learned_skipped;  /* sessions not learned: evicted or cut short */
};

static bool seq_enabled(const struct lw_detect_conf *c)
{
    return c->sequence.enabled && c->session.enabled;
}

static void *seq_init(const struct lw_detect_conf *c, char *err, size_t err_len)
{
    struct det_sequence *d = lw_calloc(1, sizeof(*d));

    if (d == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    d->m = lw_seq_model_create(c->sequence.history, c->sequence.top, c->sequence.max_contexts);
    d->q = lw_seq_model_create(c->sequence.history, c->sequence.top,
                               c->sequence.max_contexts / 10);
    if (d->m == NULL || d->q == NULL) {
        lw_seq_model_destroy(d->m);
        lw_seq_model_destroy(d->q);
        lw_free(d);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    lw_seq_model_set_min_count(d->q, RECUR);
    d->rate = 1.0 - c->threshold;
    d->warmup = c->sequence.warmup_sessions;
    d->history = c->sequence.history;
    return d;
}

static void seq_exit(void *ctx)
{
    struct det_sequence *d = ctx;

    lw_seq_model_destroy(d->m);
    lw_seq_model_destroy(d->q);
    lw_free(d);
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? lw_strdup(s) : NULL;
}

static json_t *event_json(const struct lw_det_out *out, uint32_t id)
{
    const char *t;

    if (id == LW_SEQ_END) {
        return json_pack("{s:s}", "event", "(session end)");
    }
    if (id == LW_SEQ_BEGIN) {
        return json_pack("{s:s}", "event", "(session start)");
    }
    t = out->template_text != NULL ? out->template_text(out->opaque, id) : NULL;
    return t != NULL ? json_pack("{s:I, s:s}", "template_id", (json_int_t)id, "template", t)
                     : json_pack("{s:I}", "template_id", (json_int_t)id);
}

static void report(struct det_sequence *d, const struct lw_session *s, size_t i,
                   const struct lw_seq_verdict *v, int64_t ts, int64_t arrival,
                   const struct lw_det_out *out)
{
    bool at_end = i == s->n_events;
    uint32_t got = at_end ? LW_SEQ_END : s->events[i];
    json_t *ex = json_object(), *seen = json_array(), *cand = json_array(), *samples;
    size_t k, from = i > SHOW_EVENTS ? i - SHOW_EVENTS : 0;
    char summary[512];
    char *ex_text = NULL, *samples_text = NULL;
    struct lw_anomaly a;
    /* A copy: the texts of the candidates are asked for below. */
    char *t = at_end || out->template_text == NULL
                  ? NULL
                  : dup_or_null(out->template_text(out->opaque, got));

    (void)d;
    for (k = from; k < i; k++) {
        json_array_append_new(seen, json_integer(s->events[k]));
    }
    for (k = 0; k < v->n_cand; k++) {
        json_t *c = event_json(out, v->cand[k]);

        if (c != NULL) {
            json_object_set_new(c, "count", json_integer((json_int_t)v->cand_count[k]));
            json_array_append_new(cand, c);
        }
    }
    json_object_set_new(ex, "session", json_string(s->key));
    json_object_set_new(ex, "observed", event_json(out, got));
    json_object_set_new(ex, "position", json_integer((json_int_t)i));
    json_object_set_new(ex, "events", seen);
    json_object_set_new(ex, "events_shown_from", json_integer((json_int_t)from));
    json_object_set_new(ex, "expected", cand);
    json_object_set_new(ex, "history_length", json_integer((json_int_t)v->history_len));
    json_object_set_new(ex, "history_seen", json_integer((json_int_t)v->context_count));
    if (at_end) {
        json_object_set_new(ex, "end_reason", json_string(s->end_reason ? s->end_reason : ""));
    }
    ex_text = json_dumps(ex, JSON_COMPACT);
    json_decref(ex);
    samples = json_array();
    for (k = 0; k < s->n_samples; k++) {
        json_array_append_new(samples, json_string(s->samples[k]));
    }
    samples_text = json_dumps(samples, JSON_COMPACT);
    json_decref(samples);
    if (at_end) {
        snprintf(summary, sizeof(summary),
                 "session %s ended (%s) after %zu events where normal sessions never end; "
                 "expected next: %zu candidates, e.g. template %u",
                 s->key, s->end_reason ? s->end_reason : "?", s->n_events, v->n_cand,
                 v->n_cand > 0 ? v->cand[0] : 0);
    }
    else {
        snprintf(summary, sizeof(summary),
                 "session %s: unexpected event #%zu template %u%s%s%s after a history seen "
                 "%llu times; expected one of %zu candidates (top: template %u)",
                 s->key, i + 1, got, t ? " \"" : "", t ? t : "", t ? "\"" : "",
                 (unsigned long long)v->context_count, v->n_cand,
                 v->n_cand > 0 ? v->cand[0] : 0);
    }
    memset(&a, 0, sizeof(a));
    a.detector = "sequence";
    a.kind = at_end ? "unfinished" : "unexpected";
    a.score = v->score;
    a.ts_ns = ts;
    a.arrival_ns = arrival;
    a.template_id = at_end ? 0 : got;
    a.source = s->source;
    a.key = s->key;
    a.summary = summary;
    a.explanation_json = ex_text;
    a.samples_json = samples_text;
    out->emit(out->opaque, &a);
    free(ex_text);
    free(samples_text);
    lw_free(t);
}

static bool ready(const struct det_sequence *d)
{
    return lw_seq_model_sessions(d->m) >= d->warmup;
}

static void seq_session_event(void *ctx, const struct lw_session *s,
                              const struct lw_det_event *ev, const struct lw_det_out *out)
{
    struct det_sequence *d = ctx;
    struct lw_seq_verdict v;
    size_t i;

    if (!ready(d) || (*s->flags & s->flag_bit) || s->n_dropped > 0 || s->n_events == 0) {
        return;
    }
    i = s->n_events - 1;
    if (s->joined && i < d->history) {
        return; /* its history before this event is missing, not a begin */
    }
    if (!lw_seq_model_check(d->m, s->events, s->n_events, i, &v) && v.score >= out->threshold &&
        !lw_seq_model_check(d->q, s->events, s->n_events, i, NULL)) {
        *s->flags |= s->flag_bit; /* one report per session */
        report(d, s, i, &v, ev->ts_ns, ev->arrival_ns, out);
    }
}

static void seq_session_end(void *ctx, const struct lw_session *s, const struct lw_det_out *out)
{
    struct det_sequence *d = ctx;
    struct lw_seq_verdict v;
    bool judged = strcmp(s->end_reason, "timeout") == 0 || strcmp(s->end_reason, "terminal") == 0;

    if (!judged || s->n_dropped > 0 || s->n_events == 0 ||
        (s->joined && s->n_events < d->history)) {
        d->learned_skipped++;
        return; /* an evicted or cut session says nothing about where sessions end */
    }
    if (ready(d) && !(*s->flags & s->flag_bit)) {
        if (!lw_seq_model_check(d->m, s->events, s->n_events, s->n_events, &v) &&
            v.score >= out->threshold &&
            !lw_seq_model_check(d->q, s->events, s->n_events, s->n_events, NULL)) {
            *s->flags |= s->flag_bit;
            report(d, s, s->n_events, &v, s->last_ns, 0, out);
        }
    }
    if (s->joined) {
        d->learned_skipped++;
        return; /* a path without its start is not one to learn */
    }
    /* A path is normal in the quarantine from RECUR times and a share `rate` of the sessions. */
    {
        double need = d->rate * (double)lw_seq_model_sessions(d->m);

        lw_seq_model_set_min_count(d->q, need > RECUR ? (uint64_t)need : RECUR);
    }
    /* Reported sessions teach the quarantine model only (see the top of the file). */
    (void)lw_seq_model_learn((*s->flags & s->flag_bit) ? d->q : d->m, s->events, s->n_events,
                             true);
}

/* Two sections: the model, then the quarantine model, each as a length and its bytes. */
static int seq_save(void *ctx, struct lw_wbuf *b)
{
    struct det_sequence *d = ctx;
    struct lw_wbuf a = {0}, c = {0};
    int rc = lw_seq_model_save(d->m, &a);

    if (rc == LW_OK) {
        rc = lw_seq_model_save(d->q, &c);
    }
    if (rc == LW_OK) {
        lw_wbuf_str(b, (const char *)a.p, a.len);
        lw_wbuf_str(b, (const char *)c.p, c.len);
        rc = b->err;
    }
    lw_wbuf_free(&a);
    lw_wbuf_free(&c);
    return rc;
}

static int seq_load(void *ctx, const void *p, size_t n, char *err, size_t err_len)
{
    struct det_sequence *d = ctx;
    struct lw_rbuf r = {.p = p, .len = n};
    const char *a, *c;
    size_t an = lw_rbuf_str(&r, &a);
    size_t cn = lw_rbuf_str(&r, &c);
    struct lw_seq_model *nq;
    int rc;

    if (r.err != 0 || r.off != r.len) {
        snprintf(err, err_len, "sequence model: truncated or corrupt");
        return LW_ECORRUPT;
    }
    /* Both or neither: the quarantine is loaded into a spare first. */
    nq = lw_seq_model_create(1, 16, 1024);
    if (nq == NULL) {
        return LW_ENOMEM;
    }
    rc = lw_seq_model_load(nq, c, cn);
    if (rc == LW_OK) {
        rc = lw_seq_model_load(d->m, a, an);
    }
    if (rc == LW_OK) {
        rc = lw_seq_model_load(d->q, c, cn);
    }
    lw_seq_model_destroy(nq);
    if (rc < 0) {
        snprintf(err, err_len, "sequence model: %s", lw_strerror(rc));
    }
    return rc;
}

static void seq_stats(void *ctx, struct lw_det_stats *out)
{
    struct det_sequence *d = ctx;

    out->state_items = lw_seq_model_contexts(d->m);
    out->evicted = lw_seq_model_evicted(d->m);
    out->warming_up = !ready(d);
    out->warmup_unit = "sessions";
    out->warmup_need = d->warmup;
    out->warmup_have = lw_seq_model_sessions(d->m);
    if (out->warmup_have > out->warmup_need) {
        out->warmup_have = out->warmup_need;
    }
}

const struct lw_detector_plugin det_sequence_plugin = {
    .abi = LW_DETECT_ABI,
    .name = "sequence",
    .description = "sessions' next-event model (DeepLog-like, counted): unexpected events and "
                   "unfinished sessions",
    .enabled = seq_enabled,
    .init = seq_init,
    .session_event = seq_session_event,
    .session_end = seq_session_end,
    .save = seq_save,
    .load = seq_load,
    .stats = seq_stats,
    .exit = seq_exit,
    .conf_keys = sequence_conf_keys,
    .conf = sequence_conf_read,
};
