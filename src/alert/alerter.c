/*
 * The alert manager (lw_alert.h). lw_alerter_submit() runs on the detection thread and decides
 * without waiting on anything slow. Every decision is timed on the caller's event-time clock
 * (the @now_ns of submit, kept from stepping back), never on the wall clock: a backfill that
 * replays hours of findings in seconds is deduplicated, grouped and limited exactly as the same
 * findings were live. The wall clock only stamps an alert's created_ns (delivery latency).
 *
 *   1. fingerprint  xxh3 of detector, kind, template id, source and key. Seen within the
 *                   cool-down (measured from the fingerprint's last *alert*): "suppressed", and
 *                   the anomaly gets the incident of that alert.
 *   2. incident     the template id, the source and the key's prefix (the key up to its first
 *                   digit, without a sign) each index the incident that last used them; an
 *                   anomaly sharing any of them with one seen within group_ns joins that
 *                   incident (the most recent one when several match), otherwise it opens a
 *                   new one. Suppressed anomalies neither join nor extend an incident.
 *   3. rate limit   a token bucket over all alerts (rate_per_min, burst): "limited". A limited
 *                   anomaly does not start a cool-down, so its next occurrence may alert.
 *   4. summary      each fingerprint counts its suppressed findings since its last alert, and one
 *                   counter the limited findings since the last alert of any fingerprint; the next
 *                   alert carries both (lw_alert_msg) and resets them. A warning line, at most one
 *                   per minute of wall time, sums up what was held back (warn_flush()).
 *   5. queue        the alert is deep-copied once, reference-counted, and pushed to every sink's
 *                   bounded queue. A full queue hands it to the sink's overflow() (the webhook
 *                   writes it to its spool right away) or counts a drop.
 *
 * Each sink has a thread that pops alerts in order and delivers them (plugins/out_*). The
 * outcome of each (alert, sink) goes into a bounded, mutex-protected result ring that
 * lw_alerter_poll() drains for the store. The fingerprint and grouping maps are bounded by
 * max_fingerprints each and forget the least recently used entry first (alert_lru.c).
 */
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "alert/alert_lru.h"
#include "lw/lw_alert.h"
#include "lw/lw_err.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"

#define NS_PER_S 1000000000LL
#define NS_PER_MS 1000000LL
#define RESULTS_MAX 65536
/* A synchronous sink (stdout, file) gets this many attempts per alert before it is failed. */
#define SYNC_ATTEMPTS 5
/* Key prefixes longer than this are cut (they only feed a hash). */
#define KEY_PREFIX_MAX 64
/* At most one warning about suppressed and limited findings per this much wall time. */
#define WARN_EVERY_NS (60 * NS_PER_S)

/* One alert shared by the sink queues; freed when the last sink is done with it. */
struct alert {
    atomic_uint refs;
    struct lw_alert_msg msg;
    struct lw_anomaly an;
    char incident[64];
    /* The anomaly's strings follow in the same allocation. */
};

struct sink {
    struct lw_alerter *al;
    size_t idx;
    const struct lw_sink_plugin *plg;
    void *ctx;
    struct lw_sink_conf conf;      /* resolved copy; strings owned */
    struct lw_sink_env env;
    pthread_t thread;
    bool thread_started;
    bool sync_init;                /* mu and cv initialised */
    pthread_mutex_t mu;
    pthread_cond_t cv;             /* CLOCK_MONOTONIC */
    struct alert **q;              /* ring of conf.queue slots */
    size_t q_head;
    size_t q_len;
    bool stopping;
    bool kick;                     /* overflow() took an alert: pump() has work */
    int64_t deadline_ns;           /* monotonic; set with stopping */
    atomic_uint_fast64_t sent;
    atomic_uint_fast64_t failed;
    atomic_uint_fast64_t dropped;
};

struct lw_alerter {
    int64_t cooldown_ns;
    int64_t group_ns;
    double rate_per_ns;            /* 0: no limit */
    double burst;
    double critical_score;

    /* Submit-thread state. Times are event time unless named otherwise. */
    int64_t clock_ns;              /* the event-time clock: the highest @now_ns submitted */
    bool clock_started;
    struct lw__lru dedup;          /* fingerprint -> (last alert, incident) */
    struct lw__lru groups;         /* attribute -> (last anomaly, incident) */
    double tokens;
    int64_t bucket_ns;
    bool bucket_started;
    uint64_t next_seq;
    uint64_t incident_salt;
    uint64_t limited_since_alert;  /* limited since the last alert of any fingerprint */
    /* The warning about what was held back; monotonic wall times. */
    uint64_t warn_suppressed;      /* not yet in a warning */
    uint64_t warn_limited;
    int64_t warn_since_ns;         /* the first of those */
    int64_t warn_last_ns;          /* the last warning; INT64_MIN: none yet */

    atomic_uint_fast64_t submitted;
    atomic_uint_fast64_t alerts;
    atomic_uint_fast64_t suppressed;
    atomic_uint_fast64_t limited;
    atomic_uint_fast64_t muted;
    atomic_uint_fast64_t n_rules;
    atomic_uint_fast64_t incidents;
    atomic_uint_fast64_t n_fingerprints;
    atomic_uint_fast64_t evicted;

    struct sink sinks[LW_ALERT_MAX_SINKS];
    size_t n_sinks;

    pthread_mutex_t rules_mu;      /* guards @rules (swapped by lw_alerter_set_rules) */
    struct lw_alert_rules *rules;  /* feedback rules; NULL: none */

    pthread_mutex_t res_mu;
    struct lw_alert_result *res;   /* ring, grown by doubling up to RESULTS_MAX */
    size_t res_cap;
    size_t res_head;
    size_t res_len;
    uint64_t res_discarded;
};

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ---- configuration ---- */

void lw_alert_conf_defaults(struct lw_alert_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->cooldown_ns = 60 * NS_PER_S;
    c->group_ns = 60 * NS_PER_S;
    c->rate_per_min = 60;
    c->burst = 20;
    c->critical_score = 0.99999;
    c->max_fingerprints = 100000;
}

static void sink_conf_fini(struct lw_sink_conf *s)
{
    lw_free(s->name);
    lw_free(s->path);
    lw_free(s->url);
    lw_free(s->token);
    lw_free(s->spool_dir);
    memset(s, 0, sizeof(*s));
}

void lw_alert_conf_fini(struct lw_alert_conf *c)
{
    size_t i;

    for (i = 0; i < c->n_sinks && i < LW_ALERT_MAX_SINKS; i++) {
        sink_conf_fini(&c->sinks[i]);
    }
    c->n_sinks = 0;
}

static const char *kind_name(enum lw_sink_kind k)
{
    switch (k) {
    case LW_SINK_STDOUT:
        return "stdout";
    case LW_SINK_FILE:
        return "file";
    case LW_SINK_WEBHOOK:
        return "webhook";
    }
    return NULL;
}

static const struct lw_sink_plugin *find_plugin(enum lw_sink_kind k)
{
    size_t i;

    for (i = 0; lw_sink_plugins[i] != NULL; i++) {
        if (lw_sink_plugins[i]->kind == k && lw_sink_plugins[i]->abi == LW_SINK_ABI) {
            return lw_sink_plugins[i];
        }
    }
    return NULL;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? lw_strdup(s) : NULL;
}

/* A sink name that is safe as a file name: [A-Za-z0-9_.-]{1,64}, no leading dot. */
static bool sink_name_ok(const char *s)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (i >= 64 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && i > 0))) {
            return false;
        }
    }
    return i > 0;
}

/* Copies @in into @out with the defaults filled in; LW_OK, LW_EINVAL or LW_ENOMEM. */
static int sink_conf_resolve(const struct lw_sink_conf *in, const char *data_dir,
                             struct lw_sink_conf *out, char *err, size_t err_len)
{
    const char *kn = kind_name(in->kind);
    char buf[4096];

    memset(out, 0, sizeof(*out));
    if (kn == NULL) {
        snprintf(err, err_len, "alerts: sink of unknown type %d", (int)in->kind);
        return LW_EINVAL;
    }
    *out = *in;
    if (in->name != NULL && in->name[0] != '\0' && !sink_name_ok(in->name)) {
        /* The name becomes a folder under the data directory (the webhook's spool). */
        snprintf(err, err_len,
                 "alerts: sink name '%.64s' is not allowed: use 1 to 64 of A-Z a-z 0-9 _ . -, "
                 "not starting with a dot",
                 in->name);
        return LW_EINVAL;
    }
    out->name = lw_strdup(in->name != NULL && in->name[0] != '\0' ? in->name : kn);
    out->path = dup_or_null(in->path);
    out->url = dup_or_null(in->url);
    out->token = in->token != NULL && in->token[0] != '\0' ? lw_strdup(in->token) : NULL;
    out->spool_dir = NULL;
    if (in->spool_dir != NULL && in->spool_dir[0] != '\0') {
        out->spool_dir = lw_strdup(in->spool_dir);
    }
    else if (in->kind == LW_SINK_WEBHOOK && data_dir != NULL && out->name != NULL) {
        snprintf(buf, sizeof(buf), "%s/spool/%s", data_dir, out->name);
        out->spool_dir = lw_strdup(buf);
    }
    if (out->name == NULL || (in->path != NULL && out->path == NULL) ||
        (in->url != NULL && out->url == NULL) ||
        (in->token != NULL && in->token[0] != '\0' && out->token == NULL) ||
        (in->spool_dir != NULL && in->spool_dir[0] != '\0' && out->spool_dir == NULL)) {
        snprintf(err, err_len, "alerts: out of memory");
        return LW_ENOMEM;
    }
    if (out->format == 0) {
        out->format = LW_WEBHOOK_JSON;
    }
    if (out->spool_max_bytes == 0) {
        out->spool_max_bytes = (size_t)64 << 20;
    }
    if (out->timeout_ns <= 0) {
        out->timeout_ns = 5 * NS_PER_S;
    }
    if (out->backoff_min_ns <= 0) {
        out->backoff_min_ns = 500 * NS_PER_MS;
    }
    if (out->backoff_max_ns <= 0) {
        out->backoff_max_ns = 60 * NS_PER_S;
    }
    if (out->backoff_max_ns < out->backoff_min_ns) {
        out->backoff_max_ns = out->backoff_min_ns;
    }
    if (out->queue == 0) {
        out->queue = 10000;
    }
    if (in->kind == LW_SINK_FILE && (out->path == NULL || out->path[0] == '\0')) {
        snprintf(err, err_len, "alerts: sink %s: a file sink needs a path", out->name);
        return LW_EINVAL;
    }
    if (in->kind == LW_SINK_WEBHOOK) {
        if (out->url == NULL || out->url[0] == '\0') {
            snprintf(err, err_len, "alerts: sink %s: a webhook needs a url", out->name);
            return LW_EINVAL;
        }
        if (out->spool_dir == NULL) {
            snprintf(err, err_len, "alerts: sink %s: a webhook needs a spool_dir (or data_dir)",
                     out->name);
            return LW_EINVAL;
        }
        if (out->format != LW_WEBHOOK_JSON && out->format != LW_WEBHOOK_ALERTMANAGER) {
            snprintf(err, err_len, "alerts: sink %s: unknown webhook format", out->name);
            return LW_EINVAL;
        }
    }
    return LW_OK;
}

/* ---- results ---- */

static void push_result(struct lw_alerter *al, uint64_t seq, const char *sink, bool sent)
{
    struct lw_alert_result *r;

    pthread_mutex_lock(&al->res_mu);
    if (al->res_len == al->res_cap && al->res_cap < RESULTS_MAX) {
        /* The ring only wraps once it is at RESULTS_MAX, so before that res_head is 0. */
        size_t cap = al->res_cap ? al->res_cap * 2 : 64;
        struct lw_alert_result *nr = lw_realloc(al->res, cap * sizeof(*nr));

        assert(al->res_head == 0);
        if (nr == NULL) {
            al->res_discarded++;
            pthread_mutex_unlock(&al->res_mu);
            return;
        }
        al->res = nr;
        al->res_cap = cap;
    }
    if (al->res_len == al->res_cap) {
        /* Nobody polls: forget the oldest rather than grow without bound. */
        al->res_head = (al->res_head + 1) % al->res_cap;
        al->res_len--;
        al->res_discarded++;
    }
    r = &al->res[(al->res_head + al->res_len) % al->res_cap];
    r->alert_seq = seq;
    r->sink = sink;
    r->sent = sent;
    r->sent_ns = wall_ns();
    al->res_len++;
    pthread_mutex_unlock(&al->res_mu);
}

/* env->report of asynchronous sinks. */
static void sink_report(void *opaque, uint64_t seq, bool sent)
{
    struct sink *s = opaque;

    if (sent) {
        atomic_fetch_add(&s->sent, 1);
    }
    push_result(s->al, seq, s->conf.name, sent);
}

void lw_alerter_poll(struct lw_alerter *al,
                     void (*cb)(void *opaque, const struct lw_alert_result *r), void *opaque)
{
    struct lw_alert_result *res;
    size_t cap;
    size_t head;
    size_t len;
    size_t i;

    if (al == NULL) {
        return;
    }
    /* Take the ring out under the lock and call back without it. */
    pthread_mutex_lock(&al->res_mu);
    res = al->res;
    cap = al->res_cap;
    head = al->res_head;
    len = al->res_len;
    al->res = NULL;
    al->res_cap = 0;
    al->res_head = 0;
    al->res_len = 0;
    pthread_mutex_unlock(&al->res_mu);
    for (i = 0; i < len; i++) {
        cb(opaque, &res[(head + i) % cap]);
    }
    lw_free(res);
}

/* ---- alerts ---- */

/* A deep copy of @a with one reference per sink, or NULL. */
static struct alert *alert_new(const struct lw_anomaly *a, uint64_t seq, const char *incident,
                               const char *severity, unsigned refs, uint64_t suppressed,
                               int64_t suppressed_span_ns, uint64_t limited)
{
    struct alert *al = lw_malloc(sizeof(*al) + lw_anomaly_strings_size(a));

    if (al == NULL) {
        return NULL;
    }
    atomic_init(&al->refs, refs);
    lw_anomaly_copy(&al->an, a, (char *)(al + 1));
    snprintf(al->incident, sizeof(al->incident), "%s", incident);
    al->msg.alert_seq = seq;
    al->msg.incident = al->incident;
    al->msg.severity = severity;
    /* Wall clock on purpose: it measures delivery latency, it decides nothing. */
    al->msg.created_ns = wall_ns();
    al->msg.anomaly = &al->an;
    al->msg.suppressed_since_last = suppressed;
    al->msg.suppressed_span_ns = suppressed_span_ns;
    al->msg.limited_since_last = limited;
    return al;
}

static void alert_release(struct alert *a)
{
    if (atomic_fetch_sub(&a->refs, 1) == 1) {
        lw_free(a);
    }
}

/* ---- sink threads ---- */

/* Waits on @s->cv until @until_ns (monotonic; INT64_MAX: until signalled). Holds s->mu. */
static void wait_until(struct sink *s, int64_t until_ns)
{
    struct timespec ts;

    if (until_ns == INT64_MAX) {
        pthread_cond_wait(&s->cv, &s->mu);
        return;
    }
    ts.tv_sec = (time_t)(until_ns / NS_PER_S);
    ts.tv_nsec = (long)(until_ns % NS_PER_S);
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void deliver_one(struct sink *s, struct alert *a)
{
    int64_t backoff = s->conf.backoff_min_ns;
    int attempt;
    int rc = LW_OK;

    for (attempt = 1;; attempt++) {
        int64_t until;
        bool give_up;

        rc = s->plg->deliver(s->ctx, &a->msg);
        if (s->plg->async_results) {
            /* The sink reports the outcome itself; an error here means it could not take it. */
            if (rc != LW_OK) {
                atomic_fetch_add(&s->dropped, 1);
                push_result(s->al, a->msg.alert_seq, s->conf.name, false);
                lw_error("alert", "sink %s: alert %" PRIu64 " dropped: %s", s->conf.name,
                         a->msg.alert_seq, lw_strerror(rc));
            }
            return;
        }
        if (rc == LW_OK) {
            atomic_fetch_add(&s->sent, 1);
            push_result(s->al, a->msg.alert_seq, s->conf.name, true);
            return;
        }
        atomic_fetch_add(&s->failed, 1);
        pthread_mutex_lock(&s->mu);
        give_up = rc == LW_EDROP || attempt >= SYNC_ATTEMPTS ||
                  (s->stopping && mono_ns() >= s->deadline_ns);
        if (!give_up) {
            /* A sleep that stop() can cut short (it signals cv). */
            until = mono_ns() + backoff;
            if (s->stopping && s->deadline_ns < until) {
                until = s->deadline_ns;
            }
            wait_until(s, until);
        }
        pthread_mutex_unlock(&s->mu);
        if (give_up) {
            break;
        }
        backoff = backoff * 2 > s->conf.backoff_max_ns ? s->conf.backoff_max_ns : backoff * 2;
    }
    atomic_fetch_add(&s->dropped, 1);
    push_result(s->al, a->msg.alert_seq, s->conf.name, false);
    lw_error("alert", "sink %s: alert %" PRIu64 " failed: %s", s->conf.name, a->msg.alert_seq,
             lw_strerror(rc));
}

/*
 * The sink's loop: queued alerts first, in order; between them and when idle, the plugin's
 * pump() (webhook resends). After stop() it empties the queue, then pumps until the plugin is
 * idle or the deadline passes.
 */
static void *sink_main(void *arg)
{
    struct sink *s = arg;
    int64_t next_pump = s->plg->pump != NULL ? 0 : INT64_MAX;

    for (;;) {
        struct alert *a = NULL;
        bool do_pump = false;
        int64_t deadline;

        pthread_mutex_lock(&s->mu);
        for (;;) {
            int64_t now = mono_ns();
            int64_t until;

            if (s->kick) {
                /* The submitting thread spooled an alert the idle pump knows nothing of. */
                s->kick = false;
                if (s->plg->pump != NULL) {
                    next_pump = now;
                }
            }
            if (s->q_len > 0) {
                a = s->q[s->q_head];
                s->q_head = (s->q_head + 1) % s->conf.queue;
                s->q_len--;
                break;
            }
            if (s->stopping && (next_pump == INT64_MAX || now >= s->deadline_ns)) {
                break;
            }
            if (next_pump <= now) {
                do_pump = true;
                break;
            }
            until = next_pump;
            if (s->stopping && s->deadline_ns < until) {
                until = s->deadline_ns;
            }
            wait_until(s, until);
        }
        deadline = s->stopping ? s->deadline_ns : INT64_MAX;
        pthread_mutex_unlock(&s->mu);

        if (a != NULL) {
            deliver_one(s, a);
            alert_release(a);
            if (s->plg->pump != NULL) {
                next_pump = 0;
            }
        }
        else if (do_pump) {
            next_pump = s->plg->pump(s->ctx, mono_ns(), deadline);
        }
        else {
            break;
        }
    }
    return NULL;
}

/* ---- the warning about held-back findings ---- */

/*
 * Logs what was suppressed or limited since the last warning, when there is something and a
 * minute of wall time has passed since that warning (or at once with @force). Wall time on
 * purpose: it paces log lines for a person, it decides nothing.
 */
static void warn_flush(struct lw_alerter *al, bool force)
{
    int64_t now;
    int64_t span_s;

    if (al->warn_suppressed == 0 && al->warn_limited == 0) {
        return;
    }
    now = mono_ns();
    if (!force && al->warn_last_ns != INT64_MIN && now - al->warn_last_ns < WARN_EVERY_NS) {
        return;
    }
    span_s = (now - al->warn_since_ns + NS_PER_S - 1) / NS_PER_S;
    if (span_s < 1) {
        span_s = 1;
    }
    lw_warn("alerts",
            "%" PRIu64 " finding%s limited and %" PRIu64 " suppressed in the last %" PRId64
            " s; %s",
            al->warn_limited, al->warn_limited == 1 ? "" : "s", al->warn_suppressed, span_s,
            al->warn_limited > 0 ? "raise alerts.rate_per_min or see logwarden status"
                                 : "repeats within alerts.cooldown; see logwarden status");
    al->warn_suppressed = 0;
    al->warn_limited = 0;
    al->warn_last_ns = now;
}

/* Counts one held-back finding for the warning. */
static void warn_count(struct lw_alerter *al, bool limited)
{
    if (al->warn_suppressed == 0 && al->warn_limited == 0) {
        al->warn_since_ns = mono_ns();
    }
    if (limited) {
        al->warn_limited++;
    }
    else {
        al->warn_suppressed++;
    }
    warn_flush(al, false);
}

void lw_alerter_tick(struct lw_alerter *al)
{
    if (al != NULL) {
        warn_flush(al, false);
    }
}

/* ---- start / stop ---- */

static void sink_stop(struct sink *s, int64_t deadline_ns)
{
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        s->deadline_ns = deadline_ns;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
}

static void sink_fini(struct sink *s)
{
    if (s->thread_started) {
        pthread_join(s->thread, NULL);
        s->thread_started = false;
    }
    if (s->ctx != NULL) {
        s->plg->exit(s->ctx);
        s->ctx = NULL;
    }
    /* Left only if the thread never ran. */
    while (s->q != NULL && s->q_len > 0) {
        alert_release(s->q[s->q_head]);
        s->q_head = (s->q_head + 1) % s->conf.queue;
        s->q_len--;
    }
    lw_free(s->q);
    s->q = NULL;
    if (s->sync_init) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        s->sync_init = false;
    }
    sink_conf_fini(&s->conf);
}

static int sink_start(struct sink *s, char *err, size_t err_len)
{
    pthread_condattr_t ca;
    char perr[256];

    s->q = lw_calloc(s->conf.queue, sizeof(*s->q));
    if (s->q == NULL) {
        snprintf(err, err_len, "alerts: sink %s: out of memory", s->conf.name);
        return LW_ENOMEM;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->sync_init = true;
    s->env.report = sink_report;
    s->env.opaque = s;
    perr[0] = '\0';
    s->ctx = s->plg->init(&s->conf, &s->env, perr, sizeof(perr));
    if (s->ctx == NULL) {
        snprintf(err, err_len, "alerts: sink %s: %s", s->conf.name,
                 perr[0] != '\0' ? perr : "cannot start");
        return LW_EINVAL;
    }
    if (pthread_create(&s->thread, NULL, sink_main, s) != 0) {
        snprintf(err, err_len, "alerts: sink %s: cannot start its thread", s->conf.name);
        return LW_ENOMEM;
    }
    s->thread_started = true;
    return LW_OK;
}

struct lw_alerter *lw_alerter_start(const struct lw_alert_conf *conf, char *err, size_t err_len)
{
    struct lw_alerter *al;
    size_t i;
    size_t j;
    size_t max_fp;

    if (conf->n_sinks > LW_ALERT_MAX_SINKS) {
        snprintf(err, err_len, "alerts: at most %d sinks", LW_ALERT_MAX_SINKS);
        return NULL;
    }
    al = lw_calloc(1, sizeof(*al));
    if (al == NULL) {
        snprintf(err, err_len, "alerts: out of memory");
        return NULL;
    }
    pthread_mutex_init(&al->res_mu, NULL);
    pthread_mutex_init(&al->rules_mu, NULL);
    al->cooldown_ns = conf->cooldown_ns > 0 ? conf->cooldown_ns : 0;
    al->group_ns = conf->group_ns > 0 ? conf->group_ns : 0;
    al->rate_per_ns = conf->rate_per_min > 0 ? conf->rate_per_min / (60.0 * NS_PER_S) : 0;
    al->burst = conf->burst > 0 ? (double)conf->burst : 1;
    al->critical_score = conf->critical_score;
    al->next_seq = (uint64_t)(wall_ns() / 1000);
    al->incident_salt = (uint64_t)wall_ns() ^ (uint64_t)mono_ns();
    al->warn_last_ns = INT64_MIN;
    max_fp = conf->max_fingerprints > 0 ? conf->max_fingerprints : 100000;

    if (lw__lru_init(&al->dedup, max_fp) != LW_OK ||
        lw__lru_init(&al->groups, max_fp) != LW_OK) {
        snprintf(err, err_len, "alerts: out of memory");
        goto fail;
    }
    for (i = 0; i < conf->n_sinks; i++) {
        struct sink *s = &al->sinks[i];

        s->al = al;
        s->idx = i;
        al->n_sinks = i + 1;
        if (sink_conf_resolve(&conf->sinks[i], conf->data_dir, &s->conf, err, err_len) < 0) {
            goto fail;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(al->sinks[j].conf.name, s->conf.name) == 0) {
                snprintf(err, err_len, "alerts: two sinks are named %s", s->conf.name);
                goto fail;
            }
        }
        s->plg = find_plugin(s->conf.kind);
        if (s->plg == NULL) {
            snprintf(err, err_len, "alerts: sink %s: no %s plugin in this build", s->conf.name,
                     kind_name(s->conf.kind));
            goto fail;
        }
    }
    for (i = 0; i < al->n_sinks; i++) {
        if (sink_start(&al->sinks[i], err, err_len) < 0) {
            goto fail;
        }
    }
    return al;
fail:
    /* Threads that started stop at once; what they hold stays in their spools. */
    for (i = 0; i < al->n_sinks; i++) {
        sink_stop(&al->sinks[i], mono_ns());
    }
    for (i = 0; i < al->n_sinks; i++) {
        sink_fini(&al->sinks[i]);
    }
    lw__lru_fini(&al->groups);
    lw__lru_fini(&al->dedup);
    pthread_mutex_destroy(&al->res_mu);
    pthread_mutex_destroy(&al->rules_mu);
    lw_free(al);
    return NULL;
}

void lw_alerter_stop(struct lw_alerter *al, int64_t drain_ns)
{
    int64_t deadline;
    size_t i;

    if (al == NULL) {
        return;
    }
    warn_flush(al, true);
    deadline = mono_ns() + (drain_ns > 0 ? drain_ns : 0);
    for (i = 0; i < al->n_sinks; i++) {
        sink_stop(&al->sinks[i], deadline);
    }
    for (i = 0; i < al->n_sinks; i++) {
        sink_fini(&al->sinks[i]);
    }
    if (al->res_discarded > 0) {
        lw_warn("alert", "%" PRIu64 " delivery results were never polled", al->res_discarded);
    }
    lw__lru_fini(&al->groups);
    lw__lru_fini(&al->dedup);
    lw_free(al->res);
    pthread_mutex_destroy(&al->res_mu);
    lw_alert_rules_destroy(al->rules);
    pthread_mutex_destroy(&al->rules_mu);
    lw_free(al);
}

void lw_alerter_set_rules(struct lw_alerter *al, struct lw_alert_rules *rs)
{
    struct lw_alert_rules *old;

    pthread_mutex_lock(&al->rules_mu);
    old = al->rules;
    al->rules = rs;
    pthread_mutex_unlock(&al->rules_mu);
    atomic_store(&al->n_rules, lw_alert_rules_count(rs));
    lw_alert_rules_destroy(old);
}

/* ---- submit ---- */

static uint64_t fingerprint(const struct lw_anomaly *a)
{
    XXH3_state_t st;
    unsigned char tid[4];
    static const char zero = '\0';

    /* Field separators keep ("ab","c") and ("a","bc") apart; NULL and "" are the same. */
    XXH3_64bits_reset(&st);
    if (a->detector != NULL) {
        XXH3_64bits_update(&st, a->detector, strlen(a->detector));
    }
    XXH3_64bits_update(&st, &zero, 1);
    if (a->kind != NULL) {
        XXH3_64bits_update(&st, a->kind, strlen(a->kind));
    }
    XXH3_64bits_update(&st, &zero, 1);
    tid[0] = (unsigned char)(a->template_id);
    tid[1] = (unsigned char)(a->template_id >> 8);
    tid[2] = (unsigned char)(a->template_id >> 16);
    tid[3] = (unsigned char)(a->template_id >> 24);
    XXH3_64bits_update(&st, tid, sizeof(tid));
    if (a->source != NULL) {
        XXH3_64bits_update(&st, a->source, strlen(a->source));
    }
    XXH3_64bits_update(&st, &zero, 1);
    if (a->key != NULL) {
        XXH3_64bits_update(&st, a->key, strlen(a->key));
    }
    return XXH3_64bits_digest(&st);
}

/*
 * The grouping attributes of @a as map keys (each seeded by its kind so that template 7 and a
 * source "7" differ); returns how many it has.
 */
static size_t group_keys(const struct lw_anomaly *a, uint64_t keys[3])
{
    size_t n = 0;
    size_t plen;

    if (a->template_id != 0) {
        keys[n++] = XXH3_64bits_withSeed(&a->template_id, sizeof(a->template_id), 1);
    }
    if (a->source != NULL && a->source[0] != '\0') {
        keys[n++] = XXH3_64bits_withSeed(a->source, strlen(a->source), 2);
    }
    if (a->key != NULL) {
        /*
         * The prefix is the key up to its first digit, without a sign just before it:
         * "blk_-1608999687919862906" and "blk_7734" -> "blk_", "user 42" -> "user ".
         */
        for (plen = 0; a->key[plen] != '\0' && plen < KEY_PREFIX_MAX; plen++) {
            if (a->key[plen] >= '0' && a->key[plen] <= '9') {
                break;
            }
        }
        while (plen > 0 && (a->key[plen - 1] == '-' || a->key[plen - 1] == '+')) {
            plen--;
        }
        if (plen > 0) {
            keys[n++] = XXH3_64bits_withSeed(a->key, plen, 3);
        }
    }
    return n;
}

/* The incident @a joins (or opens); updates the grouping index. */
static uint64_t group(struct lw_alerter *al, const struct lw_anomaly *a, uint64_t fp,
                      int64_t now_ns)
{
    uint64_t keys[3];
    size_t n = group_keys(a, keys);
    uint64_t inc = 0;
    int64_t best = INT64_MIN;
    size_t i;

    for (i = 0; i < n; i++) {
        struct lw__lru_ent *e = lw__lru_get(&al->groups, keys[i]);

        if (e != NULL && now_ns - e->t_ns <= al->group_ns && e->t_ns > best) {
            best = e->t_ns;
            inc = e->val;
        }
    }
    if (inc == 0) {
        uint64_t seed[3] = {fp, (uint64_t)now_ns, al->incident_salt++};

        inc = XXH3_64bits(seed, sizeof(seed));
        if (inc == 0) {
            inc = 1;
        }
        atomic_fetch_add(&al->incidents, 1);
    }
    for (i = 0; i < n; i++) {
        /* Out of memory only loses the grouping hint. */
        (void)lw__lru_put(&al->groups, keys[i], now_ns, inc);
    }
    return inc;
}

/* Takes a token if there is one. */
static bool take_token(struct lw_alerter *al, int64_t now_ns)
{
    if (al->rate_per_ns <= 0) {
        return true;
    }
    if (!al->bucket_started) {
        al->bucket_started = true;
        al->tokens = al->burst;
        al->bucket_ns = now_ns;
    }
    /* submit() keeps the clock from stepping back; this guard only keeps the bucket sane. */
    if (now_ns > al->bucket_ns) {
        al->tokens += (double)(now_ns - al->bucket_ns) * al->rate_per_ns;
        if (al->tokens > al->burst) {
            al->tokens = al->burst;
        }
        al->bucket_ns = now_ns;
    }
    if (al->tokens < 1.0) {
        return false;
    }
    al->tokens -= 1.0;
    return true;
}

static void enqueue(struct lw_alerter *al, struct alert *a)
{
    size_t i;

    for (i = 0; i < al->n_sinks; i++) {
        struct sink *s = &al->sinks[i];
        bool queued = false;
        int rc = LW_EFULL;

        pthread_mutex_lock(&s->mu);
        if (s->q_len < s->conf.queue && !s->stopping) {
            s->q[(s->q_head + s->q_len) % s->conf.queue] = a;
            s->q_len++;
            queued = true;
            pthread_cond_signal(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
        if (queued) {
            continue;
        }
        if (s->plg->overflow != NULL) {
            rc = s->plg->overflow(s->ctx, &a->msg);
        }
        if (rc != LW_OK) {
            atomic_fetch_add(&s->dropped, 1);
            push_result(al, a->msg.alert_seq, s->conf.name, false);
        }
        else if (s->plg->async_results) {
            pthread_mutex_lock(&s->mu);
            s->kick = true;
            pthread_cond_signal(&s->cv);
            pthread_mutex_unlock(&s->mu);
        }
        else {
            atomic_fetch_add(&s->sent, 1);
            push_result(al, a->msg.alert_seq, s->conf.name, true);
        }
        alert_release(a);
    }
}

int lw_alerter_submit(struct lw_alerter *al, const struct lw_anomaly *a, int64_t now_ns,
                      struct lw_alert_decision *out)
{
    struct lw__lru_ent *e;
    uint64_t fp;
    uint64_t inc;
    struct alert *alert;
    uint64_t seq;
    uint64_t n_suppressed = 0;
    int64_t span_ns = 0;

    memset(out, 0, sizeof(*out));
    atomic_fetch_add(&al->submitted, 1);
    /*
     * The event-time clock never steps back: a finding revealed late (a session that timed out,
     * a window closed after its lines) is judged at the clock's present, so it cannot reopen a
     * cool-down or refill the bucket from the past.
     */
    if (!al->clock_started || now_ns > al->clock_ns) {
        al->clock_ns = now_ns;
        al->clock_started = true;
    }
    now_ns = al->clock_ns;
    out->severity = a->score >= al->critical_score ? "critical" : "warning";
    /*
     * Feedback first: a muted finding is stored but neither alerts, nor opens or extends an
     * incident, nor takes a token or a cool-down slot from findings that do alert. Expiry is
     * wall clock (rules are made by people, in real time).
     */
    pthread_mutex_lock(&al->rules_mu);
    out->rule_id = lw_alert_rules_match(al->rules, a, wall_ns());
    pthread_mutex_unlock(&al->rules_mu);
    if (out->rule_id != 0) {
        out->state = "muted";
        atomic_fetch_add(&al->muted, 1);
        return LW_OK;
    }
    fp = fingerprint(a);

    e = lw__lru_get(&al->dedup, fp);
    if (e != NULL && now_ns - e->t_ns < al->cooldown_ns) {
        out->state = "suppressed";
        snprintf(out->incident, sizeof(out->incident), "inc-%016" PRIx64, e->val);
        e->count++;
        atomic_fetch_add(&al->suppressed, 1);
        warn_count(al, false);
        return LW_OK;
    }
    if (e != NULL) {
        /* Read now: the entry is only valid until the next put. */
        n_suppressed = e->count;
        span_ns = now_ns - e->t_ns;
    }
    inc = group(al, a, fp, now_ns);
    snprintf(out->incident, sizeof(out->incident), "inc-%016" PRIx64, inc);
    if (!take_token(al, now_ns)) {
        out->state = "limited";
        al->limited_since_alert++;
        atomic_fetch_add(&al->limited, 1);
        warn_count(al, true);
        return LW_OK;
    }

    seq = al->next_seq;
    alert = NULL;
    if (al->n_sinks > 0) {
        /* One reference per sink plus ours while enqueue() walks the sinks. */
        alert = alert_new(a, seq, out->incident, out->severity, (unsigned)al->n_sinks + 1,
                          n_suppressed, span_ns, al->limited_since_alert);
        if (alert == NULL) {
            /* Not counted as limited: the caller sees LW_ENOMEM and may submit again. */
            out->state = "limited";
            return LW_ENOMEM;
        }
    }
    if (lw__lru_put(&al->dedup, fp, now_ns, inc) != LW_OK) {
        /* Without its cool-down entry the alert still goes out; a repeat may too. */
        lw_warn("alert", "deduplication memory: out of memory");
    }
    atomic_store(&al->n_fingerprints, al->dedup.n);
    atomic_store(&al->evicted, al->dedup.evicted);
    al->next_seq++;
    al->limited_since_alert = 0;
    out->alert = true;
    out->state = "pending";
    out->alert_seq = seq;
    atomic_fetch_add(&al->alerts, 1);
    if (alert != NULL) {
        enqueue(al, alert);
        alert_release(alert);
    }
    return LW_OK;
}

void lw_alerter_get_stats(struct lw_alerter *al, struct lw_alert_stats *out)
{
    size_t i;

    memset(out, 0, sizeof(*out));
    out->submitted = atomic_load(&al->submitted);
    out->alerts = atomic_load(&al->alerts);
    out->suppressed = atomic_load(&al->suppressed);
    out->limited = atomic_load(&al->limited);
    out->muted = atomic_load(&al->muted);
    out->rules = atomic_load(&al->n_rules);
    out->incidents = atomic_load(&al->incidents);
    out->fingerprints = atomic_load(&al->n_fingerprints);
    out->evicted = atomic_load(&al->evicted);
    out->n_sinks = al->n_sinks;
    for (i = 0; i < al->n_sinks; i++) {
        struct sink *s = &al->sinks[i];
        struct lw_sink_stats ps = {0};

        if (s->plg->stats != NULL && s->ctx != NULL) {
            s->plg->stats(s->ctx, &ps);
        }
        out->sink_names[i] = s->conf.name;
        out->sent[i] = atomic_load(&s->sent);
        out->failed[i] = atomic_load(&s->failed) + ps.failed;
        out->dropped[i] = atomic_load(&s->dropped) + ps.dropped;
        out->spooled[i] = ps.spooled;
    }
}
