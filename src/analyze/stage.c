/*
 * The detection stage: hands each line to every enabled detector, tracks sessions by key and
 * tells the session detectors when a session grows or ends, and keeps the template-text cache
 * that explanations use. Runs on one thread (the engine's aggregator), so nothing here locks.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "lw/lw_analyze.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"

#define STAGE_MAGIC 0x4C574453u /* "LWDS" */
#define STAGE_VERSION 1u
#define SOURCES_MAGIC 0x4C574450u /* "LWDP": per-source state of some sources */
#define MAX_DETECTORS 16
#define SAMPLE_BYTES 512
#define MAX_KEY_BYTES 256
#define TEXT_CACHE_MAX 200000
#define DEFAULT_KEY_PATTERN "blk_-?\\d+"

struct sess {
    char *key;
    uint64_t h;
    uint32_t *ev;
    size_t n;
    size_t cap;
    uint64_t dropped;
    int64_t first_ns;
    int64_t last_ns;
    int64_t last_arrival_ns;
    char *source;
    char *samples[LW_SESSION_SAMPLES];  /* the first line, then the latest ones in turn */
    uint16_t sample_cap[LW_SESSION_SAMPLES];  /* bytes each holds (reused when a line fits) */
    size_t n_samples;
    size_t next_sample;
    uint32_t flags;
    bool joined;                        /* began before the stream did: its start is missing */
    struct sess *older;                 /* activity list: head is the least recently active */
    struct sess *newer;
};

struct text_ent {
    uint32_t id;
    uint32_t len;                    /* strlen(text), kept: every line asks for it */
    char *text;
};

struct det {
    const struct lw_detector_plugin *p;
    void *ctx;
    uint32_t bit;
    uint64_t reported;
};

struct lw_detect_stage {
    struct lw_detect_conf conf;
    struct det det[MAX_DETECTORS];
    size_t n_det;
    bool any_session_det;
    bool learn_only;
    void (*emit)(void *opaque, const struct lw_anomaly *a);
    lw_template_lookup lookup;
    lw_template_resolver resolver;
    lw_template_epoch_fn epoch;
    uint64_t epoch_calls;            /* without @epoch: a new number at every call */
    lw_template_nearest_fn nearest;
    void *opaque;
    struct lw_det_out out;
    /* Sessions. */
    int64_t join_grace_ns;           /* sessions first seen this soon after the stream's start */
    int64_t stream_start_ns;         /* event time of the first keyed line, INT64_MIN before */
    uint64_t sessions_joined;
    pcre2_code *re;
    pcre2_match_data *md;
    bool jit;                        /* re is JIT-compiled: pcre2_jit_match() */
    struct sess **tab;                  /* open addressing, linear probing */
    size_t cap;
    size_t n_open;
    struct sess *oldest;
    struct sess *newest;
    /* Template texts. */
    struct text_ent *texts;
    size_t text_cap;
    size_t n_texts;
    bool text_clear_due;             /* the cache is full: emptied before the next line */
    char *spill[32];                 /* texts handed out while the cache is full (a ring) */
    size_t spill_next;
    char *text_buf;
    size_t text_buf_cap;
    /* Stats. */
    uint64_t lines;
    uint64_t anomalies;
    uint64_t sessions_ended;
    uint64_t sessions_evicted;
    uint64_t sessions_unkeyed;
};

/* ---- reporting ---- */

static void stage_emit(void *opaque, const struct lw_anomaly *a)
{
    struct lw_detect_stage *st = opaque;
    size_t i;

    if (st->learn_only || a->score < st->conf.threshold) {
        return;
    }
    for (i = 0; i < st->n_det; i++) {
        if (strcmp(st->det[i].p->name, a->detector) == 0) {
            st->det[i].reported++;
        }
    }
    st->anomalies++;
    st->emit(st->opaque, a);
}

/* ---- template texts ---- */

static struct text_ent *text_slot(struct lw_detect_stage *st, uint32_t id)
{
    size_t i;

    for (i = (size_t)XXH3_64bits(&id, sizeof(id)) & (st->text_cap - 1);;
         i = (i + 1) & (st->text_cap - 1)) {
        if (st->texts[i].id == id || st->texts[i].id == 0) {
            return &st->texts[i];
        }
    }
}

static int text_grow(struct lw_detect_stage *st)
{
    size_t ncap = st->text_cap ? st->text_cap * 2 : 1024, i;
    struct text_ent *old = st->texts;
    size_t ocap = st->text_cap;

    st->texts = lw_calloc(ncap, sizeof(*st->texts));
    if (st->texts == NULL) {
        st->texts = old;
        return LW_ENOMEM;
    }
    st->text_cap = ncap;
    for (i = 0; i < ocap; i++) {
        if (old[i].id != 0) {
            *text_slot(st, old[i].id) = old[i];
        }
    }
    lw_free(old);
    return LW_OK;
}

static void text_clear(struct lw_detect_stage *st)
{
    size_t i;

    for (i = 0; i < st->text_cap; i++) {
        lw_free(st->texts[i].text);
    }
    memset(st->texts, 0, st->text_cap * sizeof(*st->texts));
    st->n_texts = 0;
}

/* Asks the miner for the text of @id into the cache; @refresh replaces a cached one. */
static const char *text_get(struct lw_detect_stage *st, uint32_t id, bool refresh, size_t *len)
{
    struct text_ent *e;
    long n;

    if (id == 0 || st->lookup == NULL) {
        return NULL;
    }
    if (st->text_cap == 0 && text_grow(st) < 0) {
        return NULL;
    }
    e = text_slot(st, id);
    if (e->id == id && e->text != NULL && !refresh) {
        *len = e->len;
        return e->text;
    }
    if (st->text_buf == NULL) {
        st->text_buf_cap = 4096;
        st->text_buf = lw_malloc(st->text_buf_cap);
        if (st->text_buf == NULL) {
            return NULL;
        }
    }
    n = st->lookup(st->opaque, id, st->text_buf, st->text_buf_cap);
    if (n < 0) {
        return NULL;
    }
    if ((size_t)n >= st->text_buf_cap) {
        char *nb = lw_malloc((size_t)n + 1);

        if (nb == NULL) {
            return NULL;
        }
        lw_free(st->text_buf);
        st->text_buf = nb;
        st->text_buf_cap = (size_t)n + 1;
        n = st->lookup(st->opaque, id, st->text_buf, st->text_buf_cap);
        if (n < 0 || (size_t)n >= st->text_buf_cap) {
            return NULL;
        }
    }
    if (e->id != id && st->n_texts + 1 > TEXT_CACHE_MAX) {
        /*
         * Full. A detector may still hold texts it was given during this line, so nothing is
         * freed now: this text goes to a small ring, and the cache starts again before the
         * next line (texts are re-fetched).
         */
        size_t k = st->spill_next++ % (sizeof(st->spill) / sizeof(st->spill[0]));

        st->text_clear_due = true;
        lw_free(st->spill[k]);
        st->spill[k] = lw_strdup(st->text_buf);
        *len = st->spill[k] != NULL ? strlen(st->spill[k]) : 0;
        return st->spill[k];
    }
    if (e->id != id) {
        if ((st->n_texts + 1) * 2 > st->text_cap) {
            if (text_grow(st) < 0) {
                return NULL;
            }
        }
        e = text_slot(st, id);
        e->id = id;
        st->n_texts++;
    }
    lw_free(e->text);
    e->text = lw_strdup(st->text_buf);
    /* The C string's length, not n: a template of binary lines may hold a NUL. */
    e->len = e->text != NULL ? (uint32_t)strlen(e->text) : 0;
    *len = e->len;
    return e->text;
}

static const char *out_template_text(void *opaque, uint32_t id)
{
    size_t len;

    return text_get(opaque, id, false, &len);
}

static uint32_t out_template_resolve(void *opaque, uint32_t id)
{
    struct lw_detect_stage *st = opaque;

    return st->resolver != NULL ? st->resolver(st->opaque, id) : id;
}

static uint64_t out_template_epoch(void *opaque)
{
    struct lw_detect_stage *st = opaque;

    if (st->resolver == NULL) {
        return 0; /* ids are live: resolutions never change */
    }
    return st->epoch != NULL ? st->epoch(st->opaque) : ++st->epoch_calls;
}

void lw_detect_stage_set_resolver(struct lw_detect_stage *st, lw_template_resolver fn,
                                  lw_template_epoch_fn epoch)
{
    st->resolver = fn;
    st->epoch = epoch;
}

static uint32_t out_template_nearest(void *opaque, uint32_t id, double *similarity,
                                     uint64_t *lines)
{
    struct lw_detect_stage *st = opaque;

    *similarity = 0;
    *lines = 0;
    return st->nearest != NULL ? st->nearest(st->opaque, id, similarity, lines) : 0;
}

void lw_detect_stage_set_nearest(struct lw_detect_stage *st, lw_template_nearest_fn fn)
{
    st->nearest = fn;
}

/* ---- sessions ---- */

static struct sess **sess_slot(struct lw_detect_stage *st, const char *key, size_t len,
                               uint64_t h)
{
    size_t i;

    for (i = h & (st->cap - 1);; i = (i + 1) & (st->cap - 1)) {
        struct sess *s = st->tab[i];

        if (s == NULL ||
            (s->h == h && strlen(s->key) == len && memcmp(s->key, key, len) == 0)) {
            return &st->tab[i];
        }
    }
}

static int sess_grow(struct lw_detect_stage *st)
{
    size_t ncap = st->cap ? st->cap * 2 : 1024, i;
    struct sess **old = st->tab;
    size_t ocap = st->cap;

    st->tab = lw_calloc(ncap, sizeof(*st->tab));
    if (st->tab == NULL) {
        st->tab = old;
        return LW_ENOMEM;
    }
    st->cap = ncap;
    for (i = 0; i < ocap; i++) {
        if (old[i] != NULL) {
            *sess_slot(st, old[i]->key, strlen(old[i]->key), old[i]->h) = old[i];
        }
    }
    lw_free(old);
    return LW_OK;
}

/* Removes @s from the table (backward-shift deletion keeps probing sequences intact). */
static void sess_unlink(struct lw_detect_stage *st, struct sess *s)
{
    size_t i = (size_t)(sess_slot(st, s->key, strlen(s->key), s->h) - st->tab);
    size_t j = i;

    for (;;) {
        size_t k;

        st->tab[i] = NULL;
        for (;;) {
            j = (j + 1) & (st->cap - 1);
            if (st->tab[j] == NULL) {
                goto listed;
            }
            k = st->tab[j]->h & (st->cap - 1);
            /* Move tab[j] to i unless its home k lies cyclically in (i, j]. */
            if (i <= j ? (i < k && k <= j) : (i < k || k <= j)) {
                continue;
            }
            break;
        }
        st->tab[i] = st->tab[j];
        i = j;
    }
listed:
    if (s->older != NULL) {
        s->older->newer = s->newer;
    }
    else {
        st->oldest = s->newer;
    }
    if (s->newer != NULL) {
        s->newer->older = s->older;
    }
    else {
        st->newest = s->older;
    }
    s->older = s->newer = NULL;
    st->n_open--;
}

static void sess_free(struct sess *s)
{
    size_t i;

    for (i = 0; i < LW_SESSION_SAMPLES; i++) {
        lw_free(s->samples[i]);
    }
    lw_free(s->key);
    lw_free(s->ev);
    lw_free(s->source);
    lw_free(s);
}

static void sess_view(const struct sess *s, struct lw_session *v)
{
    memset(v, 0, sizeof(*v));
    v->key = s->key;
    v->events = s->ev;
    v->n_events = s->n;
    v->n_dropped = s->dropped;
    v->first_ns = s->first_ns;
    v->last_ns = s->last_ns;
    v->last_arrival_ns = s->last_arrival_ns;
    v->source = s->source;
    v->samples = (const char *const *)s->samples;
    v->n_samples = s->n_samples;
}

static void sess_end(struct lw_detect_stage *st, struct sess *s, const char *reason)
{
    struct lw_session v;
    size_t i;

    sess_unlink(st, s);
    sess_view(s, &v);
    v.end_reason = reason;
    v.flags = &s->flags;
    v.joined = s->joined;
    for (i = 0; i < st->n_det; i++) {
        if (st->det[i].p->session_end != NULL) {
            v.flag_bit = st->det[i].bit;
            st->det[i].p->session_end(st->det[i].ctx, &v, &st->out);
        }
    }
    if (strcmp(reason, "evicted") == 0) {
        st->sessions_evicted++;
    }
    else {
        st->sessions_ended++;
    }
    sess_free(s);
}

static char *copy_line(const char *p, size_t n)
{
    char *s;

    if (n > SAMPLE_BYTES) {
        n = SAMPLE_BYTES;
    }
    s = lw_malloc(n + 1);
    if (s != NULL) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static bool is_terminal(const struct lw_detect_stage *st, uint32_t tid)
{
    size_t i;

    for (i = 0; i < st->conf.session.n_terminal; i++) {
        if (st->conf.session.terminal[i] == tid) {
            return true;
        }
    }
    return false;
}

static void sess_observe(struct lw_detect_stage *st, const struct lw_det_event *ev)
{
    PCRE2_SIZE *ov;
    const char *key;
    size_t klen, i;
    uint64_t h;
    struct sess **slot;
    struct sess *s;
    struct lw_session v;
    int rc;

    if (ev->template_id == 0) {
        return;
    }
    /* The JIT's own entry skips pcre2_match()'s checks: 23M of its 78M instructions on 200k
     * lines (callgrind). */
    rc = st->jit ? pcre2_jit_match(st->re, (PCRE2_SPTR)ev->msg, ev->msg_len, 0, 0, st->md, NULL)
                 : pcre2_match(st->re, (PCRE2_SPTR)ev->msg, ev->msg_len, 0, 0, st->md, NULL);
    if (rc < 0) {
        st->sessions_unkeyed++;
        return;
    }
    ov = pcre2_get_ovector_pointer(st->md);
    i = rc > 1 && ov[2] != PCRE2_UNSET ? 1 : 0; /* the first group when there is one */
    key = ev->msg + ov[2 * i];
    klen = ov[2 * i + 1] - ov[2 * i];
    if (klen == 0 || klen > MAX_KEY_BYTES) {
        st->sessions_unkeyed++;
        return;
    }
    if ((st->n_open + 1) * 2 > st->cap && sess_grow(st) < 0) {
        return;
    }
    h = XXH3_64bits(key, klen);
    slot = sess_slot(st, key, klen, h);
    s = *slot;
    if (s != NULL && ev->ts_ns - s->last_ns > st->conf.session.timeout_ns) {
        /*
         * Idle past the timeout in event time: it ended before this line, whether or not a tick
         * saw the watermark pass (that depends on the replay speed; this does not).
         */
        sess_end(st, s, "timeout");
        slot = sess_slot(st, key, klen, h);
        s = *slot;
    }
    if (s == NULL) {
        if (st->n_open >= st->conf.session.max_open && st->oldest != NULL) {
            sess_end(st, st->oldest, "evicted");
            slot = sess_slot(st, key, klen, h);
        }
        s = lw_calloc(1, sizeof(*s));
        if (s == NULL || (s->key = copy_line(key, klen)) == NULL) {
            lw_free(s);
            return;
        }
        s->h = h;
        s->first_ns = ev->ts_ns;
        if (st->stream_start_ns == INT64_MIN) {
            st->stream_start_ns = ev->ts_ns;
        }
        /*
         * A session first seen within the grace after the stream began may have been open
         * before it (a daemon started on a running system): its missing start is no anomaly.
         * The detectors judge only what they can of it (lw_session.joined) and learn nothing.
         */
        s->joined = st->join_grace_ns > 0 && ev->ts_ns - st->stream_start_ns < st->join_grace_ns;
        st->sessions_joined += s->joined ? 1 : 0;
        s->source = lw_strdup(ev->source != NULL && ev->source[0] != '\0'   ? ev->source
                              : ev->origin != NULL ? ev->origin
                                                   : "");
        *slot = s;
        st->n_open++;
    }
    else {
        /* Move to the newest end of the activity list. */
        if (s->newer != NULL) {
            if (s->older != NULL) {
                s->older->newer = s->newer;
            }
            else {
                st->oldest = s->newer;
            }
            s->newer->older = s->older;
            s->newer = NULL;
            s->older = NULL;
        }
        else {
            goto listed;
        }
    }
    s->older = st->newest;
    s->newer = NULL;
    if (st->newest != NULL) {
        st->newest->newer = s;
    }
    st->newest = s;
    if (st->oldest == NULL) {
        st->oldest = s;
    }
listed:
    if (s->n < st->conf.session.max_events) {
        if (s->n == s->cap) {
            size_t nc = s->cap ? s->cap * 2 : 16;
            uint32_t *ne;

            if (nc > st->conf.session.max_events) {
                nc = st->conf.session.max_events;
            }
            ne = lw_realloc(s->ev, nc * sizeof(*ne));
            if (ne == NULL) {
                s->dropped++;
                goto sampled;
            }
            s->ev = ne;
            s->cap = nc;
        }
        s->ev[s->n++] = ev->template_id;
    }
    else {
        s->dropped++;
    }
sampled:
    if (ev->ts_ns > s->last_ns) {
        s->last_ns = ev->ts_ns;
    }
    s->last_arrival_ns = ev->arrival_ns;
    {
        size_t at = s->n_samples < LW_SESSION_SAMPLES ? s->n_samples++
                                                      : 1 + s->next_sample++ %
                                                                (LW_SESSION_SAMPLES - 1);
        size_t n = ev->msg_len < SAMPLE_BYTES ? ev->msg_len : SAMPLE_BYTES;

        /* The slot's buffer is reused when the line fits: a malloc and a free per event was
         * most of this thread's allocations (perf probe on malloc, bench/run-http-mixed.sh). */
        if (s->samples[at] != NULL && n < s->sample_cap[at]) {
            memcpy(s->samples[at], ev->msg, n);
            s->samples[at][n] = '\0';
        }
        else {
            lw_free(s->samples[at]);
            s->samples[at] = copy_line(ev->msg, ev->msg_len);
            s->sample_cap[at] = s->samples[at] != NULL ? (uint16_t)(n + 1) : 0;
            if (s->samples[at] == NULL) {
                s->samples[at] = lw_strdup("");
            }
        }
    }
    sess_view(s, &v);
    v.flags = &s->flags;
    v.joined = s->joined;
    for (i = 0; i < st->n_det; i++) {
        if (st->det[i].p->session_event != NULL) {
            v.flag_bit = st->det[i].bit;
            st->det[i].p->session_event(st->det[i].ctx, &v, ev, &st->out);
        }
    }
    if (is_terminal(st, ev->template_id)) {
        sess_end(st, s, "terminal");
    }
}

/* ---- life cycle ---- */

struct lw_detect_stage *lw_detect_stage_create(const struct lw_detect_conf *conf,
                                               void (*emit)(void *opaque,
                                                            const struct lw_anomaly *a),
                                               lw_template_lookup lookup, void *opaque,
                                               char *err, size_t err_len)
{
    struct lw_detect_stage *st = lw_calloc(1, sizeof(*st));
    size_t i;

    if (st == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    st->conf = *conf;
    st->stream_start_ns = INT64_MIN;
    st->conf.session.key_pattern = NULL; /* borrowed below, never freed here */
    if (st->conf.session.max_open == 0) {
        st->conf.session.max_open = 100000;
    }
    if (st->conf.session.max_events == 0) {
        st->conf.session.max_events = 512;
    }
    st->emit = emit;
    st->lookup = lookup;
    st->opaque = opaque;
    st->out.emit = stage_emit;
    st->out.opaque = st;
    st->out.threshold = conf->threshold;
    st->out.template_text = out_template_text;
    st->out.template_resolve = out_template_resolve;
    st->out.template_epoch = out_template_epoch;
    st->out.template_nearest = out_template_nearest;
    for (i = 0; lw_detector_plugins[i] != NULL; i++) {
        const struct lw_detector_plugin *p = lw_detector_plugins[i];
        struct det *d;
        char derr[256] = "";

        if (p->abi != LW_DETECT_ABI) {
            snprintf(err, err_len, "detector %s: plugin ABI %u, expected %u", p->name, p->abi,
                     LW_DETECT_ABI);
            goto fail;
        }
        if (p->enabled != NULL && !p->enabled(conf)) {
            continue;
        }
        if (st->n_det >= MAX_DETECTORS) {
            snprintf(err, err_len, "more than %d detectors", MAX_DETECTORS);
            goto fail;
        }
        d = &st->det[st->n_det];
        d->p = p;
        d->bit = 1u << i;
        d->ctx = p->init(conf, derr, sizeof(derr));
        if (d->ctx == NULL) {
            snprintf(err, err_len, "detector %s: %s", p->name, derr[0] ? derr : "cannot start");
            goto fail;
        }
        st->n_det++;
        if (p->session_event != NULL || p->session_end != NULL) {
            st->any_session_det = true;
        }
    }
    if (st->any_session_det && conf->session.enabled) {
        const char *pat = conf->session.key_pattern ? conf->session.key_pattern
                                                    : DEFAULT_KEY_PATTERN;
        int ec;
        PCRE2_SIZE eo;
        uint32_t opts = 0;

        st->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, 0, &ec, &eo,
                               NULL);
        if (st->re == NULL) {
            PCRE2_UCHAR msg[256];

            pcre2_get_error_message(ec, msg, sizeof(msg));
            snprintf(err, err_len, "detect.session.key: pattern '%s' at offset %zu: %s", pat,
                     (size_t)eo, (const char *)msg);
            goto fail;
        }
        /*
         * The JIT's own entry does not check that the subject is valid UTF-8: with a pattern in
         * UTF mode ("(*UTF)...") a line that is not would give offsets outside it. Such a
         * pattern goes through pcre2_match(), which refuses the line (it is left unkeyed).
         */
        st->jit = pcre2_jit_compile(st->re, PCRE2_JIT_COMPLETE) == 0 && /* or the interpreter */
                  pcre2_pattern_info(st->re, PCRE2_INFO_ALLOPTIONS, &opts) == 0 &&
                  (opts & PCRE2_UTF) == 0;
        st->md = pcre2_match_data_create_from_pattern(st->re, NULL);
        if (st->md == NULL || sess_grow(st) < 0) {
            snprintf(err, err_len, "out of memory");
            goto fail;
        }
    }
    return st;
fail:
    lw_detect_stage_destroy(st);
    return NULL;
}

void lw_detect_stage_destroy(struct lw_detect_stage *st)
{
    size_t i;

    if (st == NULL) {
        return;
    }
    while (st->oldest != NULL) {
        struct sess *s = st->oldest;

        sess_unlink(st, s);
        sess_free(s);
    }
    for (i = 0; i < st->n_det; i++) {
        st->det[i].p->exit(st->det[i].ctx);
    }
    lw_free(st->tab);
    if (st->texts != NULL) {
        text_clear(st);
    }
    lw_free(st->texts);
    lw_free(st->text_buf);
    for (i = 0; i < sizeof(st->spill) / sizeof(st->spill[0]); i++) {
        lw_free(st->spill[i]);
    }
    pcre2_match_data_free(st->md);
    pcre2_code_free(st->re);
    lw_free(st);
}

void lw_detect_stage_learn_only(struct lw_detect_stage *st, bool on)
{
    st->learn_only = on;
    st->out.training = on;
    /* Above 1 no score qualifies: detectors then keep no "reported" state while training. */
    st->out.threshold = on ? 2.0 : st->conf.threshold;
}

void lw_detect_stage_observe(struct lw_detect_stage *st, const struct lw_det_event *ev)
{
    struct lw_det_event e = *ev;
    size_t i;

    st->lines++;
    if (st->text_clear_due) {
        text_clear(st);
        st->text_clear_due = false;
    }
    if (e.tpl == NULL && st->lookup != NULL && e.template_id != 0) {
        size_t len = 0;
        const char *t = text_get(st, e.template_id, e.new_template, &len);

        if (t != NULL) {
            e.tpl = t;
            e.tpl_len = len;
        }
    }
    for (i = 0; i < st->n_det; i++) {
        if (st->det[i].p->observe != NULL) {
            st->det[i].p->observe(st->det[i].ctx, &e, &st->out);
        }
    }
    if (st->re != NULL) {
        sess_observe(st, &e);
    }
}

void lw_detect_stage_tick(struct lw_detect_stage *st, int64_t watermark_ns, int64_t now_ns)
{
    size_t i;

    for (i = 0; i < st->n_det; i++) {
        if (st->det[i].p->tick != NULL) {
            st->det[i].p->tick(st->det[i].ctx, watermark_ns, now_ns, &st->out);
        }
    }
    /* Sessions idle for the timeout, in event time, end. */
    while (st->oldest != NULL && watermark_ns != INT64_MIN &&
           st->oldest->last_ns < watermark_ns - st->conf.session.timeout_ns) {
        sess_end(st, st->oldest, "timeout");
    }
}

void lw_detect_stage_set_join_grace(struct lw_detect_stage *st, int64_t grace_ns)
{
    st->join_grace_ns = grace_ns;
}

void lw_detect_stage_flush(struct lw_detect_stage *st, int64_t watermark_ns)
{
    st->out.partial = true;
    lw_detect_stage_tick(st, watermark_ns, 0);
    st->out.partial = false;
}

void lw_detect_stage_end_sessions(struct lw_detect_stage *st, const char *reason)
{
    while (st->oldest != NULL) {
        sess_end(st, st->oldest, reason);
    }
}

/*
 * The two saved forms share one layout: magic, version, a count, then (name, bytes) per detector.
 * The whole stage (every detector, save()) or the state of some sources (the detectors with
 * save_sources() and load_merge(), docs/cluster.md).
 */
static bool saves_sources(const struct lw_detector_plugin *pl)
{
    return pl->save_sources != NULL && pl->load_merge != NULL;
}

static int save_sections(struct lw_detect_stage *st, struct lw_wbuf *b, bool sources,
                         bool (*want)(void *opaque, const char *source), void *opaque, bool drop)
{
    uint32_t n = 0;
    size_t i;

    for (i = 0; i < st->n_det; i++) {
        n += !sources || saves_sources(st->det[i].p);
    }
    lw_wbuf_u32(b, sources ? SOURCES_MAGIC : STAGE_MAGIC);
    lw_wbuf_u32(b, STAGE_VERSION);
    lw_wbuf_u32(b, n);
    for (i = 0; i < st->n_det; i++) {
        const struct lw_detector_plugin *pl = st->det[i].p;
        struct lw_wbuf sec = {0};
        int rc = LW_OK;

        if (sources && !saves_sources(pl)) {
            continue;
        }
        lw_wbuf_str(b, pl->name, strlen(pl->name));
        if (sources) {
            rc = pl->save_sources(st->det[i].ctx, &sec, want, opaque, drop);
        }
        else if (pl->save != NULL) {
            rc = pl->save(st->det[i].ctx, &sec);
        }
        if (rc < 0 || sec.err != 0) {
            lw_wbuf_free(&sec);
            return rc < 0 ? rc : sec.err;
        }
        lw_wbuf_str(b, (const char *)sec.p, sec.len);
        lw_wbuf_free(&sec);
    }
    return b->err;
}

/* Hands each section to its detector (load(), or load_merge() for @sources); unknown ones skip. */
static int load_sections(struct lw_detect_stage *st, const void *p, size_t n, bool sources,
                         char *err, size_t err_len)
{
    const char *what = sources ? "saved per-source state" : "saved detector models";
    struct lw_rbuf r = {.p = p, .len = n};
    uint32_t cnt, k;
    int rc = LW_OK;

    if (lw_rbuf_u32(&r) != (sources ? SOURCES_MAGIC : STAGE_MAGIC) ||
        lw_rbuf_u32(&r) != STAGE_VERSION) {
        snprintf(err, err_len, "%s: %s", what,
                 sources ? "not of this version" : "not a model file of this version");
        return LW_ECORRUPT;
    }
    cnt = lw_rbuf_u32(&r);
    for (k = 0; k < cnt && r.err == 0; k++) {
        const char *name, *blob;
        size_t nl = lw_rbuf_str(&r, &name);
        size_t bl = lw_rbuf_str(&r, &blob);
        size_t i;

        if (r.err != 0) {
            break;
        }
        /* A detector that is off now, or unknown, skips its section. */
        for (i = 0; i < st->n_det; i++) {
            const struct lw_detector_plugin *pl = st->det[i].p;
            int (*load)(void *, const void *, size_t, char *, size_t) =
                sources ? pl->load_merge : pl->load;
            char derr[200] = "";
            int lrc;

            if (strlen(pl->name) != nl || memcmp(pl->name, name, nl) != 0 || load == NULL) {
                continue;
            }
            lrc = load(st->det[i].ctx, blob, bl, derr, sizeof(derr));
            if (lrc < 0) {
                snprintf(err, err_len, "detector %s: %s not loaded: %s", pl->name,
                         sources ? "saved per-source state" : "saved model",
                         derr[0] ? derr : lw_strerror(lrc));
                rc = lrc;
            }
        }
    }
    if (r.err != 0) {
        snprintf(err, err_len, "%s: truncated or corrupt", what);
        return LW_ECORRUPT;
    }
    return rc;
}

int lw_detect_stage_save(struct lw_detect_stage *st, struct lw_wbuf *b)
{
    return save_sections(st, b, false, NULL, NULL, false);
}

int lw_detect_stage_load(struct lw_detect_stage *st, const void *p, size_t n, char *err,
                         size_t err_len)
{
    return load_sections(st, p, n, false, err, err_len);
}

int lw_detect_stage_save_sources(struct lw_detect_stage *st, struct lw_wbuf *b,
                                 bool (*want)(void *opaque, const char *source), void *opaque,
                                 bool drop)
{
    return save_sections(st, b, true, want, opaque, drop);
}

int lw_detect_stage_load_merge(struct lw_detect_stage *st, const void *p, size_t n, char *err,
                               size_t err_len)
{
    return load_sections(st, p, n, true, err, err_len);
}

void lw_detect_stage_get_stats(struct lw_detect_stage *st, struct lw_detect_stats *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    out->lines = st->lines;
    out->anomalies = st->anomalies;
    out->sessions_open = st->n_open;
    out->sessions_ended = st->sessions_ended;
    out->sessions_evicted = st->sessions_evicted;
    out->sessions_unkeyed = st->sessions_unkeyed;
    out->n_detectors = st->n_det;
    for (i = 0; i < st->n_det; i++) {
        out->names[i] = st->det[i].p->name;
        if (st->det[i].p->stats != NULL) {
            st->det[i].p->stats(st->det[i].ctx, &out->det[i]);
        }
        out->det[i].anomalies = st->det[i].reported;
    }
}
