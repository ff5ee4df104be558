/*
 * The query API (lw_api.h): one HANDLER route for /api/v1/ that parses the parameters
 * (api_params.c), asks the store through the query block of struct lw_store_ops on a read-only
 * connection from a small pool, and writes JSON with jansson. docs/api.md lists every route;
 * docs/openapi.json describes every response and tests/integration/test_api.sh checks the real
 * responses against it.
 *
 * Errors: a bad parameter is 400 {"error": "...", "param": "<name>"}; an unknown path or id is
 * 404 {"error": "not found"}; a store backend without the operation is 501; a store that stays
 * locked is 503 with Retry-After; anything else is 500 with the store's message.
 *
 * Pages: a list asks the store for limit + 1 rows; the extra row only says that there is more,
 * and next_cursor encodes the sort key of the last row returned (api_params.h), so the next page
 * starts exactly after it: no gaps, no duplicates, whatever is inserted meanwhile at the head.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/api_params.h"
#include "lw/lw_api.h"
#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_level.h"
#include "lw/lw_mem.h"

#define MAX_CONNS       16
#define DEFAULT_CONNS   4
#define DEFAULT_LIMIT   100
#define MAX_LIMIT       1000
#define MAX_POINTS      20000   /* a series longer than this is refused (param step) */
#define AUTO_POINTS     300
#define MAX_SPARK_IDS   200
#define MAX_SPARK_BKTS  500
#define NS_PER_S        1000000000LL
#define ALL_FROM        INT64_MIN
#define ALL_TO          INT64_MAX

struct lw_api {
    char *data_dir;
    struct lw_store_conf sc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct lw_store *conns[MAX_CONNS];  /* opened read-only on demand */
    int busy[MAX_CONNS];
    size_t n_conns;
    size_t max_conns;
    pthread_mutex_t write_mu;           /* one rule write at a time */
    void (*rules_changed)(void *opaque);
    void *opaque;
};

/* What one request works with. */
struct req_ctx {
    struct lw_api *api;
    const struct lw_http_req *req;
    struct lw_http_resp *resp;
    struct lw_store *st;                /* a pooled read-only connection, or NULL */
    int64_t now_ns;
};

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* ---- connections ---- */

/* A read-only connection for this request; NULL with *@rc when the store cannot be opened. */
static struct lw_store *conn_take(struct lw_api *api, int *rc, char *err, size_t err_len)
{
    struct lw_store_conf sc = api->sc;
    struct lw_store *s;
    size_t i;

    pthread_mutex_lock(&api->mu);
    for (;;) {
        for (i = 0; i < api->n_conns; i++) {
            if (!api->busy[i]) {
                api->busy[i] = 1;
                s = api->conns[i];
                pthread_mutex_unlock(&api->mu);
                return s;
            }
        }
        if (api->n_conns < api->max_conns) {
            break;
        }
        pthread_cond_wait(&api->cv, &api->mu);
    }
    /* Open under the lock: rare (once per slot), and it keeps the slot count exact. */
    sc.read_only = 1;
    s = lw_store_open(api->data_dir, &sc, err, err_len);
    if (s == NULL) {
        pthread_mutex_unlock(&api->mu);
        *rc = LW_EAGAIN;
        return NULL;
    }
    api->conns[api->n_conns] = s;
    api->busy[api->n_conns] = 1;
    api->n_conns++;
    pthread_mutex_unlock(&api->mu);
    return s;
}

static void conn_give(struct lw_api *api, struct lw_store *s)
{
    size_t i;

    if (s == NULL) {
        return;
    }
    pthread_mutex_lock(&api->mu);
    for (i = 0; i < api->n_conns; i++) {
        if (api->conns[i] == s) {
            api->busy[i] = 0;
        }
    }
    pthread_cond_signal(&api->cv);
    pthread_mutex_unlock(&api->mu);
}

/* ---- responses ---- */

static int reply_json(struct lw_http_resp *resp, unsigned status, json_t *j)
{
    char *text;
    size_t len;

    if (j == NULL) {
        return LW_ENOMEM;
    }
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (text == NULL) {
        return LW_ENOMEM;
    }
    len = strlen(text);
    resp->body = lw_malloc(len + 1);
    if (resp->body == NULL) {
        free(text);
        return LW_ENOMEM;
    }
    memcpy(resp->body, text, len + 1);
    free(text);
    resp->body_len = len;
    resp->status = status;
    resp->content_type = "application/json";
    return LW_OK;
}

static int reply_error(struct lw_http_resp *resp, unsigned status, const char *msg,
                       const char *param)
{
    json_t *j = json_object();

    if (j == NULL) {
        return LW_ENOMEM;
    }
    json_object_set_new(j, "error", json_string(msg));
    if (param != NULL) {
        json_object_set_new(j, "param", json_string(param));
    }
    return reply_json(resp, status, j);
}

static int bad_param(struct req_ctx *c, const char *param, const char *why)
{
    char msg[256];

    snprintf(msg, sizeof(msg), "bad parameter '%s': %s", param, why);
    return reply_error(c->resp, 400, msg, param);
}

static int not_found(struct req_ctx *c)
{
    return reply_error(c->resp, 404, "not found", NULL);
}

/* Maps a store failure onto an answer. */
static int store_error(struct req_ctx *c, int rc)
{
    char msg[600];

    if (rc == LW_ENOTSUP) {
        return reply_error(c->resp, 501, "the store backend does not support this query", NULL);
    }
    if (rc == LW_ENOENT) {
        return not_found(c);
    }
    if (rc == LW_EAGAIN) {
        lw_http_resp_add_header(c->resp, "Retry-After", "1");
        return reply_error(c->resp, 503, "the store is busy; try again", NULL);
    }
    if (rc == LW_ENOMEM) {
        return rc;
    }
    snprintf(msg, sizeof(msg), "store: %s",
             c->st != NULL ? lw_store_errmsg(c->st) : lw_strerror(rc));
    return reply_error(c->resp, 500, msg, NULL);
}

static json_t *jtime(int64_t ns)
{
    char buf[LW_API_TIME_LEN];

    if (ns == LW_TS_UNKNOWN) {
        return json_null();
    }
    lw_api_fmt_time(ns, buf);
    return json_string(buf);
}

/* A JSON string of @s, or null; invalid UTF-8 becomes a lossy copy rather than a failure. */
static json_t *jstr(const char *s)
{
    json_t *j;
    char *copy;
    size_t i;

    if (s == NULL) {
        return json_null();
    }
    j = json_string(s);
    if (j != NULL) {
        return j;
    }
    copy = strdup(s);
    if (copy == NULL) {
        return json_null();
    }
    for (i = 0; copy[i] != '\0'; i++) {
        if ((unsigned char)copy[i] >= 0x80) {
            copy[i] = '?';
        }
    }
    j = json_string(copy);
    free(copy);
    return j != NULL ? j : json_null();
}

static json_t *jtpl_id(int64_t id)
{
    return id != 0 ? json_integer(id) : json_null();
}

/* Parsed stored JSON text (explanation, samples), or @dflt when absent or unreadable. */
static json_t *jparse(const char *text, json_t *dflt)
{
    json_t *j;

    if (text == NULL) {
        return dflt;
    }
    j = json_loads(text, JSON_DECODE_ANY, NULL);
    if (j == NULL) {
        return dflt;
    }
    json_decref(dflt);
    return j;
}

/* ---- parameters ---- */

static const char *arg(struct req_ctx *c, const char *key)
{
    return lw_http_req_arg(c->req, key);
}

/*
 * from/to into @from/@to (defaults -1h and now). Returns 0, or the answer already written (a
 * 400 naming the parameter) as 1.
 */
static int parse_range(struct req_ctx *c, int64_t *from, int64_t *to)
{
    const char *v;

    *to = c->now_ns;
    *from = c->now_ns - 3600 * NS_PER_S;
    v = arg(c, "to");
    if (v != NULL && lw_api_parse_time(v, c->now_ns, to) != LW_OK) {
        bad_param(c, "to", "expected RFC 3339, epoch seconds, or a relative time like -1h");
        return 1;
    }
    v = arg(c, "from");
    if (v != NULL && lw_api_parse_time(v, c->now_ns, from) != LW_OK) {
        bad_param(c, "from", "expected RFC 3339, epoch seconds, or a relative time like -1h");
        return 1;
    }
    if (*from >= *to) {
        bad_param(c, "from", "must be before 'to'");
        return 1;
    }
    return 0;
}

/* A step (explicit or picked) for [from, to): 0 or 1 (answered). */
static int parse_step(struct req_ctx *c, int64_t from, int64_t to, int64_t *step)
{
    const char *v = arg(c, "step");
    int64_t w = lw_store_window_s(c->st);

    if (v == NULL || *v == '\0') {
        *step = lw_api_pick_step(from, to, w, AUTO_POINTS);
        return 0;
    }
    if (lw_api_parse_duration(v, step) != LW_OK) {
        bad_param(c, "step", "expected a duration like 10s, 1m, 1h");
        return 1;
    }
    *step = lw_api_align_step(*step, w);
    if ((to - from) / *step > MAX_POINTS) {
        bad_param(c, "step", "too many points for the range: use a larger step");
        return 1;
    }
    return 0;
}

/* The common list filters; which ones a route takes is in @which (letters). 0 or 1. */
static int parse_filter(struct req_ctx *c, const char *which, struct lw_store_filter *f,
                        char *key, size_t key_cap)
{
    const char *v;

    memset(f, 0, sizeof(*f));
    if (strchr(which, 'r') != NULL && parse_range(c, &f->from_ns, &f->to_ns)) {
        return 1;
    }
    if (lw_api_parse_limit(arg(c, "limit"), DEFAULT_LIMIT, MAX_LIMIT, &f->limit) != LW_OK) {
        bad_param(c, "limit", "expected an integer from 1 to 1000");
        return 1;
    }
    v = arg(c, "cursor");
    if (v != NULL && *v != '\0') {
        if (lw_api_cursor_decode(v, &f->after_ts, &f->after_id, key, key_cap) != LW_OK) {
            bad_param(c, "cursor", "not a cursor from a previous page's next_cursor");
            return 1;
        }
        f->has_after = 1;
        f->after_key = key;
    }
    v = arg(c, "severity");
    if (strchr(which, 's') != NULL && v != NULL) {
        if (strcmp(v, "warning") != 0 && strcmp(v, "critical") != 0) {
            bad_param(c, "severity", "expected warning or critical");
            return 1;
        }
        f->severity = v;
    }
    if (strchr(which, 'd') != NULL) {
        f->detector = arg(c, "detector");
    }
    if (strchr(which, 'o') != NULL) {
        f->source = arg(c, "source");
    }
    if (strchr(which, 'k') != NULL) {
        f->kind = arg(c, "kind");
    }
    v = arg(c, "template");
    if (strchr(which, 't') != NULL && v != NULL && lw_api_parse_id(v, &f->template_id) != 0) {
        bad_param(c, "template", "expected a template id (a positive integer)");
        return 1;
    }
    v = arg(c, "min_score");
    if (strchr(which, 'm') != NULL && v != NULL) {
        char *end = NULL;

        f->min_score = strtod(v, &end);
        if (end == v || *end != '\0' || f->min_score != f->min_score) {
            bad_param(c, "min_score", "expected a number");
            return 1;
        }
        f->has_min_score = 1;
    }
    return 0;
}

/* ---- list collection ---- */

/* Collects up to limit rows into @items and remembers the cursor of the last one. */
struct page {
    json_t *items;
    size_t limit;
    size_t n;
    int more;
    int64_t last_ts;
    int64_t last_id;
    char last_key[256];
    int oom;
};

/* Called before adding a row: 1 when the page is full (there is more; stop). */
static int page_full(struct page *p)
{
    if (p->n >= p->limit) {
        p->more = 1;
        return 1;
    }
    return 0;
}

static void page_add(struct page *p, json_t *o, int64_t ts, int64_t id, const char *key)
{
    if (o == NULL || json_array_append_new(p->items, o) != 0) {
        p->oom = 1;
        return;
    }
    p->n++;
    p->last_ts = ts;
    p->last_id = id;
    snprintf(p->last_key, sizeof(p->last_key), "%s", key != NULL ? key : "");
}

/*
 * Starts a page of at most f->limit rows. The store is asked for one row more, so that
 * page_full() sees whether there is a next page.
 */
static void page_open(struct page *p, struct lw_store_filter *f)
{
    memset(p, 0, sizeof(*p));
    p->items = json_array();
    p->limit = f->limit;
    f->limit++;
}

/* Replies with the page, or with the error @rc of the store's list call; takes @extra. */
static int page_reply(struct req_ctx *c, struct page *p, int rc, json_t *extra)
{
    json_t *j;
    char cur[LW_API_CURSOR_MAX];

    if (rc < 0) {
        json_decref(p->items);
        json_decref(extra);
        return store_error(c, rc);
    }
    j = extra != NULL ? extra : json_object();
    if (p->oom || j == NULL) {
        json_decref(p->items);
        json_decref(j);
        return LW_ENOMEM;
    }
    json_object_set_new(j, "items", p->items);
    if (p->more && lw_api_cursor_encode(cur, sizeof(cur), p->last_ts, p->last_id,
                                        p->last_key) == LW_OK) {
        json_object_set_new(j, "next_cursor", json_string(cur));
    }
    else {
        json_object_set_new(j, "next_cursor", json_null());
    }
    return reply_json(c->resp, 200, j);
}

/* ---- rows to JSON ---- */

static json_t *anomaly_json(const struct lw_store_anomaly_row *r, int full)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "time", jtime(r->ts_ns));
    json_object_set_new(o, "detector", jstr(r->detector));
    json_object_set_new(o, "kind", jstr(r->kind));
    json_object_set_new(o, "score", json_real(r->score));
    json_object_set_new(o, "template_id", jtpl_id(r->template_id));
    json_object_set_new(o, "template", jstr(r->template_text));
    json_object_set_new(o, "source", jstr(r->source));
    json_object_set_new(o, "key", jstr(r->key));
    json_object_set_new(o, "summary", jstr(r->summary));
    json_object_set_new(o, "explanation", jparse(r->explanation_json, json_object()));
    if (full) {
        json_object_set_new(o, "examples", jparse(r->samples_json, json_array()));
    }
    return o;
}

static json_t *alert_json(const struct lw_store_alert_row *r)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "time", jtime(r->ts_ns));
    json_object_set_new(o, "created", jtime(r->created_ns));
    json_object_set_new(o, "severity", jstr(r->severity));
    json_object_set_new(o, "state", jstr(r->state));
    json_object_set_new(o, "sink", jstr(r->sink));
    json_object_set_new(o, "incident", jstr(r->incident));
    json_object_set_new(o, "anomaly_id", json_integer(r->anomaly_id));
    json_object_set_new(o, "summary", jstr(r->summary));
    return o;
}

static json_t *incident_json(const struct lw_store_incident_row *r)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "id", jstr(r->incident));
    json_object_set_new(o, "first_seen", jtime(r->first_ns));
    json_object_set_new(o, "last_seen", jtime(r->last_ns));
    json_object_set_new(o, "severity", jstr(r->severity));
    json_object_set_new(o, "detector", jstr(r->detector));
    json_object_set_new(o, "source", jstr(r->source));
    json_object_set_new(o, "template_id", jtpl_id(r->template_id));
    json_object_set_new(o, "template", jstr(r->template_text));
    json_object_set_new(o, "summary", jstr(r->summary));
    json_object_set_new(o, "state", json_string(r->rule_id != 0 ? "resolved" : "open"));
    json_object_set_new(o, "n_alerts", json_integer((json_int_t)r->n_alerts));
    json_object_set_new(o, "n_anomalies", json_integer((json_int_t)r->n_anomalies));
    if (r->rule_id != 0) {
        json_object_set_new(o, "feedback", json_pack("{s:I,s:s?}", "rule_id",
                                                     (json_int_t)r->rule_id, "kind",
                                                     r->rule_kind));
    }
    else {
        json_object_set_new(o, "feedback", json_null());
    }
    return o;
}

static json_t *template_json(const struct lw_store_template_row *r)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "text", jstr(r->text));
    json_object_set_new(o, "count", json_integer((json_int_t)r->count));
    json_object_set_new(o, "first_seen", jtime(r->first_ns));
    json_object_set_new(o, "last_seen", jtime(r->last_ns));
    return o;
}

static json_t *rule_json(const struct lw_store_rule *r)
{
    json_t *o = json_object();

    if (o == NULL) {
        return NULL;
    }
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "kind", jstr(r->kind));
    json_object_set_new(o, "template_id", jtpl_id(r->template_id));
    json_object_set_new(o, "source", jstr(r->source));
    json_object_set_new(o, "detector", jstr(r->detector));
    json_object_set_new(o, "created", jtime(r->created_ns));
    json_object_set_new(o, "expires", r->expires_ns != 0 ? jtime(r->expires_ns) : json_null());
    json_object_set_new(o, "note", jstr(r->note));
    json_object_set_new(o, "incident", jstr(r->incident));
    json_object_set_new(o, "active",
                        json_boolean(r->expires_ns == 0 || r->expires_ns > wall_ns()));
    return o;
}

/* ---- series helpers ---- */

/* A dense series: one count per bucket from floor(from / step) * step up to @to. */
struct dense {
    int64_t start;
    int64_t step;
    size_t n;
    uint64_t *v;                  /* n counts, or n * n_keys for keyed series */
};

static int dense_init(struct dense *d, int64_t from, int64_t to, int64_t step, size_t n_keys)
{
    d->step = step;
    d->start = from / step * step;
    if (from < 0 && from % step != 0) {
        d->start -= step;
    }
    d->n = (size_t)((to - d->start + step - 1) / step);
    d->v = lw_calloc(d->n * (n_keys ? n_keys : 1) + 1, sizeof(uint64_t));
    return d->v != NULL ? LW_OK : LW_ENOMEM;
}

static void dense_put(struct dense *d, size_t row, int64_t bucket, uint64_t count)
{
    int64_t i;

    if (bucket < d->start) {
        return;
    }
    i = (bucket - d->start) / d->step;
    if (i >= 0 && (size_t)i < d->n) {
        d->v[row * d->n + (size_t)i] += count;
    }
}

static int dense_point_cb(void *opaque, int64_t key, int64_t bucket_ns, uint64_t count)
{
    (void)key;
    dense_put(opaque, 0, bucket_ns, count);
    return 0;
}

/* [[t_seconds, count], ...] of row @row. */
static json_t *dense_pairs(const struct dense *d, size_t row)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < d->n; i++) {
        json_array_append_new(a, json_pack("[I,I]",
                                           (json_int_t)((d->start + (int64_t)i * d->step) /
                                                        NS_PER_S),
                                           (json_int_t)d->v[row * d->n + i]));
    }
    return a;
}

static json_t *range_json(json_t *o, int64_t from, int64_t to, int64_t step)
{
    if (o != NULL) {
        json_object_set_new(o, "from", jtime(from));
        json_object_set_new(o, "to", jtime(to));
        json_object_set_new(o, "step_s", json_integer(step / NS_PER_S));
    }
    return o;
}

/* ---- routes ---- */

struct levels_ctx {
    struct dense d;               /* one row per level */
    struct dense *lines;          /* every level's lines summed, or NULL */
};

static int levels_cb(void *opaque, int64_t key, int64_t bucket_ns, uint64_t count)
{
    struct levels_ctx *l = opaque;

    if (l->lines != NULL) {
        dense_put(l->lines, 0, bucket_ns, count);
    }
    if (key >= 0 && key <= LW_LEVEL_FATAL) {
        dense_put(&l->d, (size_t)key, bucket_ns, count);
    }
    return 0;
}

static int route_overview(struct req_ctx *c)
{
    struct lw_store_series_q q;
    struct lw_store_totals t;
    struct dense lines = {0}, anoms = {0};
    struct levels_ctx lv = {{0}, NULL};
    json_t *o, *by_level;
    int64_t from, to, step;
    int rc;
    int lvl;

    if (parse_range(c, &from, &to) || parse_step(c, from, to, &step)) {
        return LW_OK;
    }
    memset(&q, 0, sizeof(q));
    q.from_ns = from;
    q.to_ns = to;
    q.step_ns = step;
    q.level = -1;
    rc = dense_init(&lines, from, to, step, 1);
    if (rc == LW_OK) {
        rc = dense_init(&anoms, from, to, step, 1);
    }
    if (rc == LW_OK) {
        rc = dense_init(&lv.d, from, to, step, LW_LEVEL_FATAL + 1);
    }
    /*
     * Every line has one level, so the lines series is the levels' sum: one read of the level
     * counts serves both charts (they were read twice).
     */
    lv.lines = &lines;
    if (rc == LW_OK) {
        rc = lw_store_series_anomalies(c->st, &q, dense_point_cb, &anoms);
    }
    if (rc == LW_OK) {
        rc = lw_store_series_levels(c->st, &q, levels_cb, &lv);
    }
    if (rc == LW_OK) {
        rc = lw_store_totals(c->st, from, to, &t);
    }
    if (rc != LW_OK) {
        rc = store_error(c, rc);
        goto out;
    }
    o = range_json(json_object(), from, to, step);
    by_level = json_object();
    if (o == NULL || by_level == NULL) {
        json_decref(o);
        json_decref(by_level);
        rc = LW_ENOMEM;
        goto out;
    }
    json_object_set_new(o, "lines", dense_pairs(&lines, 0));
    json_object_set_new(o, "anomalies", dense_pairs(&anoms, 0));
    for (lvl = 0; lvl <= LW_LEVEL_FATAL; lvl++) {
        size_t i;
        int any = 0;

        for (i = 0; i < lv.d.n; i++) {
            any |= lv.d.v[(size_t)lvl * lv.d.n + i] != 0;
        }
        if (any) {
            const char *name = lvl == LW_LEVEL_UNKNOWN ? "unknown" : lw_level_name(lvl);

            json_object_set_new(by_level, name, dense_pairs(&lv.d, (size_t)lvl));
        }
    }
    json_object_set_new(o, "by_level", by_level);
    json_object_set_new(o, "totals",
                        json_pack("{s:I,s:I,s:I,s:I,s:I}", "lines", (json_int_t)t.lines,
                                  "templates", (json_int_t)t.templates, "sources",
                                  (json_int_t)t.sources, "anomalies", (json_int_t)t.anomalies,
                                  "open_incidents", (json_int_t)t.open_incidents));
    json_object_set_new(o, "ingest",
                        json_pack("{s:f}", "lines_per_s",
                                  (double)t.lines / ((double)(to - from) / NS_PER_S)));
    rc = reply_json(c->resp, 200, o);
out:
    lw_free(lines.v);
    lw_free(anoms.v);
    lw_free(lv.d.v);
    return rc;
}

static int incident_page_cb(void *opaque, const struct lw_store_incident_row *r)
{
    struct page *p = opaque;

    if (page_full(p)) {
        return 1;
    }
    page_add(p, incident_json(r), r->last_ns, 0, r->incident);
    return 0;
}

static int route_incidents(struct req_ctx *c)
{
    struct lw_store_filter f;
    struct page p;
    char key[256];
    const char *state = arg(c, "state");
    int rc;

    if (parse_filter(c, "rsdot", &f, key, sizeof(key))) {
        return LW_OK;
    }
    if (state != NULL && strcmp(state, "open") != 0 && strcmp(state, "resolved") != 0 &&
        strcmp(state, "all") != 0) {
        return bad_param(c, "state", "expected open, resolved or all");
    }
    f.state = state != NULL && strcmp(state, "all") != 0 ? state : NULL;
    page_open(&p, &f);
    rc = lw_store_list_incidents(c->st, &f, incident_page_cb, &p);
    return page_reply(c, &p, rc, NULL);
}

static int array_alert_cb(void *opaque, const struct lw_store_alert_row *r)
{
    return json_array_append_new(opaque, alert_json(r)) != 0 ? LW_ENOMEM : 0;
}

struct anomalies_full {
    json_t *items;
};

static int array_anomaly_cb(void *opaque, const struct lw_store_anomaly_row *r)
{
    return json_array_append_new(opaque, anomaly_json(r, 1)) != 0 ? LW_ENOMEM : 0;
}

static int one_incident_cb(void *opaque, const struct lw_store_incident_row *r)
{
    json_t **o = opaque;

    *o = incident_json(r);
    return 1;
}

/* Reads incident @id whatever its time into *@out (LW_ENOENT when none). */
static int find_incident(struct req_ctx *c, const char *id, lw_store_incident_cb cb, void *opaque)
{
    struct lw_store_filter f;
    int rc;

    memset(&f, 0, sizeof(f));
    f.from_ns = ALL_FROM;
    f.to_ns = ALL_TO;
    f.incident = id;
    f.limit = 1;
    rc = lw_store_list_incidents(c->st, &f, cb, opaque);
    return rc;
}

static int route_incident(struct req_ctx *c, const char *id)
{
    struct lw_store_filter f;
    json_t *o = NULL;
    json_t *alerts, *anoms;
    int rc;

    rc = find_incident(c, id, one_incident_cb, &o);
    if (rc < 0) {
        return store_error(c, rc);
    }
    if (o == NULL) {
        return not_found(c);
    }
    memset(&f, 0, sizeof(f));
    f.from_ns = ALL_FROM;
    f.to_ns = ALL_TO;
    f.incident = id;
    f.limit = MAX_LIMIT;
    alerts = json_array();
    anoms = json_array();
    rc = lw_store_list_alerts(c->st, &f, array_alert_cb, alerts);
    if (rc == LW_OK) {
        rc = lw_store_list_anomalies(c->st, &f, array_anomaly_cb, anoms);
    }
    json_object_set_new(o, "alerts", alerts);
    json_object_set_new(o, "anomalies", anoms);
    if (rc != LW_OK) {
        json_decref(o);
        return store_error(c, rc);
    }
    return reply_json(c->resp, 200, o);
}

static int alert_page_cb(void *opaque, const struct lw_store_alert_row *r)
{
    struct page *p = opaque;

    if (page_full(p)) {
        return 1;
    }
    page_add(p, alert_json(r), r->ts_ns, r->id, NULL);
    return 0;
}

static int route_alerts(struct req_ctx *c)
{
    struct lw_store_filter f;
    struct page p;
    char key[256];
    int rc;

    if (parse_filter(c, "rsdot", &f, key, sizeof(key))) {
        return LW_OK;
    }
    f.state = arg(c, "state");
    page_open(&p, &f);
    rc = lw_store_list_alerts(c->st, &f, alert_page_cb, &p);
    return page_reply(c, &p, rc, NULL);
}

static int anomaly_page_cb(void *opaque, const struct lw_store_anomaly_row *r)
{
    struct page *p = opaque;

    if (page_full(p)) {
        return 1;
    }
    page_add(p, anomaly_json(r, 0), r->ts_ns, r->id, NULL);
    return 0;
}

static int route_anomalies(struct req_ctx *c)
{
    struct lw_store_filter f;
    struct page p;
    char key[256];
    int rc;

    if (parse_filter(c, "rdotkm", &f, key, sizeof(key))) {
        return LW_OK;
    }
    page_open(&p, &f);
    rc = lw_store_list_anomalies(c->st, &f, anomaly_page_cb, &p);
    return page_reply(c, &p, rc, NULL);
}

static int example_line_cb(void *opaque, const struct lw_store_example_row *r)
{
    return json_array_append_new(opaque, jstr(r->line)) != 0 ? LW_ENOMEM : 0;
}

static int example_obj_cb(void *opaque, const struct lw_store_example_row *r)
{
    json_t *o = json_pack("{s:o,s:o,s:o}", "time", jtime(r->ts_ns), "source", jstr(r->source),
                          "line", jstr(r->line));

    return json_array_append_new(opaque, o) != 0 ? LW_ENOMEM : 0;
}

static int one_anomaly_cb(void *opaque, const struct lw_store_anomaly_row *r)
{
    json_t **o = opaque;

    *o = anomaly_json(r, 1);
    if (*o != NULL) {
        json_object_set_new(*o, "_template_id", json_integer(r->template_id));
        json_object_set_new(*o, "_context", jparse(r->context_json, json_array()));
    }
    return 1;
}

static int route_anomaly(struct req_ctx *c, int64_t id)
{
    json_t *o = NULL;
    json_t *ctx, *lines, *stored;
    int64_t tid;
    size_t i;
    int rc;

    rc = lw_store_get_anomaly(c->st, id, one_anomaly_cb, &o);
    if (rc < 0 && rc != 1) {
        return store_error(c, rc);
    }
    if (o == NULL) {
        return not_found(c);
    }
    tid = json_integer_value(json_object_get(o, "_template_id"));
    json_object_del(o, "_template_id");
    stored = json_incref(json_object_get(o, "_context"));
    json_object_del(o, "_context");
    ctx = json_array();
    lines = json_array();
    /*
     * The context: the raw lines of the anomaly's source around it, kept with the anomaly when
     * it was found; for anomalies stored without them (before schema 5, or a source with no
     * lines yet), the example lines the store keeps of its template.
     */
    for (i = 0; json_is_array(stored) && i < json_array_size(stored); i++) {
        json_t *e = json_array_get(stored, i);
        json_t *line = json_object_get(e, "line");
        json_t *t = json_object_get(e, "time");

        if (!json_is_string(line) || !json_is_integer(t)) {
            continue;
        }
        json_array_append(ctx, line);
        json_array_append_new(lines, json_pack("{s:o,s:O}", "time",
                                               jtime(json_integer_value(t)), "line", line));
    }
    json_decref(stored);
    json_object_set_new(o, "context_kind", json_string(json_array_size(ctx) > 0 ? "lines"
                                                                                 : "examples"));
    json_object_set_new(o, "context_lines", lines);
    if (json_array_size(ctx) == 0 && tid != 0) {
        rc = lw_store_list_examples(c->st, tid, example_line_cb, ctx);
        if (rc < 0 && rc != LW_ENOTSUP) {
            json_decref(ctx);
            json_decref(o);
            return store_error(c, rc);
        }
    }
    json_object_set_new(o, "context", ctx);
    return reply_json(c->resp, 200, o);
}

struct tpl_page {
    struct page p;
    enum lw_store_tsort sort;
};

static int template_page_cb(void *opaque, const struct lw_store_template_row *r)
{
    struct tpl_page *t = opaque;
    int64_t key;

    if (page_full(&t->p)) {
        return 1;
    }
    switch (t->sort) {
    case LW_STORE_TSORT_COUNT:
        key = (int64_t)r->count;
        break;
    case LW_STORE_TSORT_LAST_SEEN:
        key = r->last_ns == LW_TS_UNKNOWN ? 0 : r->last_ns;
        break;
    case LW_STORE_TSORT_FIRST_SEEN:
        key = r->first_ns == LW_TS_UNKNOWN ? 0 : r->first_ns;
        break;
    default:
        key = r->id;
        break;
    }
    page_add(&t->p, template_json(r), key, r->id, NULL);
    return 0;
}

static int route_templates(struct req_ctx *c)
{
    static const char *const sorts[] = {"count", "last_seen", "first_seen", "id"};
    struct lw_store_filter f;
    struct tpl_page t;
    char key[256];
    const char *sort = arg(c, "sort");
    const char *order = arg(c, "order");
    const char *q = arg(c, "q");
    uint64_t total = 0;
    json_t *extra;
    int desc = 1;
    size_t i;
    int rc;

    memset(&t, 0, sizeof(t));
    if (parse_filter(c, "", &f, key, sizeof(key))) {
        return LW_OK;
    }
    t.sort = LW_STORE_TSORT_COUNT;
    if (sort != NULL) {
        for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]) && strcmp(sort, sorts[i]) != 0; i++) {
        }
        if (i == sizeof(sorts) / sizeof(sorts[0])) {
            return bad_param(c, "sort", "expected count, last_seen, first_seen or id");
        }
        t.sort = (enum lw_store_tsort)i;
    }
    if (order != NULL) {
        if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
            return bad_param(c, "order", "expected asc or desc");
        }
        desc = strcmp(order, "desc") == 0;
    }
    if (q != NULL && *q == '\0') {
        q = NULL;
    }
    if (q != NULL && strlen(q) > 200) {
        return bad_param(c, "q", "at most 200 bytes");
    }
    page_open(&t.p, &f);
    rc = lw_store_list_templates(c->st, q, t.sort, desc, &f, template_page_cb, &t, &total);
    extra = rc < 0 ? NULL : json_object();
    if (extra != NULL) {
        json_object_set_new(extra, "total", json_integer((json_int_t)total));
    }
    return page_reply(c, &t.p, rc, extra);
}

static int one_template_cb(void *opaque, const struct lw_store_template_row *r)
{
    json_t **o = opaque;

    *o = template_json(r);
    return 1;
}

static int route_template(struct req_ctx *c, int64_t id)
{
    struct lw_store_filter f;
    json_t *o = NULL;
    json_t *ex;
    int rc;

    memset(&f, 0, sizeof(f));
    f.template_id = id;
    f.limit = 1;
    rc = lw_store_list_templates(c->st, NULL, LW_STORE_TSORT_ID, 0, &f, one_template_cb, &o,
                                 NULL);
    if (rc < 0) {
        return store_error(c, rc);
    }
    if (o == NULL) {
        return not_found(c);
    }
    ex = json_array();
    rc = lw_store_list_examples(c->st, id, example_obj_cb, ex);
    json_object_set_new(o, "examples", ex);
    if (rc < 0 && rc != LW_ENOTSUP) {
        json_decref(o);
        return store_error(c, rc);
    }
    return reply_json(c->resp, 200, o);
}

static int route_series(struct req_ctx *c)
{
    struct lw_store_series_q q;
    struct dense pts = {0};
    json_t *o;
    json_t *an;
    const char *v;
    int64_t from, to, step;
    int rc;

    memset(&q, 0, sizeof(q));
    q.level = -1;
    if (parse_range(c, &from, &to) || parse_step(c, from, to, &step)) {
        return LW_OK;
    }
    v = arg(c, "template");
    if (v != NULL && lw_api_parse_id(v, &q.template_id) != LW_OK) {
        return bad_param(c, "template", "expected a template id (a positive integer)");
    }
    q.source = arg(c, "source");
    v = arg(c, "level");
    if (v != NULL) {
        enum lw_level l = lw_level_parse(v, strlen(v));

        if (l == LW_LEVEL_UNKNOWN) {
            return bad_param(c, "level", "expected a level name such as error or warn");
        }
        if (q.template_id != 0 || q.source != NULL) {
            return bad_param(c, "level", "cannot be combined with template or source");
        }
        q.level = (int)l;
    }
    q.from_ns = from;
    q.to_ns = to;
    q.step_ns = step;
    rc = dense_init(&pts, from, to, step, 1);
    if (rc == LW_OK) {
        rc = lw_store_series(c->st, &q, dense_point_cb, &pts);
    }
    if (rc != LW_OK) {
        lw_free(pts.v);
        return store_error(c, rc);
    }
    o = range_json(json_object(), from, to, step);
    an = json_array();
    if (o == NULL || an == NULL) {
        json_decref(o);
        json_decref(an);
        lw_free(pts.v);
        return LW_ENOMEM;
    }
    json_object_set_new(o, "points", dense_pairs(&pts, 0));
    lw_free(pts.v);
    /* The anomaly markers of the same scope (not for a level series). */
    if (q.level < 0) {
        struct lw_store_filter f;
        struct page p;

        memset(&f, 0, sizeof(f));
        f.from_ns = from;
        f.to_ns = to;
        f.source = q.source;
        f.template_id = q.template_id;
        f.limit = MAX_LIMIT;
        page_open(&p, &f);
        rc = lw_store_list_anomalies(c->st, &f, anomaly_page_cb, &p);
        if (rc < 0) {
            json_decref(p.items);
            json_decref(o);
            json_decref(an);
            return store_error(c, rc);
        }
        for (size_t i = 0; i < json_array_size(p.items); i++) {
            json_t *a = json_array_get(p.items, i);

            json_array_append_new(an, json_pack("{s:O,s:O,s:O,s:O,s:O}", "id",
                                                json_object_get(a, "id"), "time",
                                                json_object_get(a, "time"), "detector",
                                                json_object_get(a, "detector"), "score",
                                                json_object_get(a, "score"), "summary",
                                                json_object_get(a, "summary")));
        }
        json_decref(p.items);
    }
    json_object_set_new(o, "anomalies", an);
    return reply_json(c->resp, 200, o);
}

struct spark_ctx {
    struct dense d;
    const int64_t *ids;
    size_t n_ids;
};

static int spark_cb(void *opaque, int64_t key, int64_t bucket_ns, uint64_t count)
{
    struct spark_ctx *s = opaque;
    size_t i;

    for (i = 0; i < s->n_ids; i++) {
        if (s->ids[i] == key) {
            dense_put(&s->d, i, bucket_ns, count);
        }
    }
    return 0;
}

static int route_sparklines(struct req_ctx *c)
{
    struct lw_store_series_q q;
    struct spark_ctx s;
    int64_t ids[MAX_SPARK_IDS];
    size_t n_ids = 0;
    size_t buckets;
    const char *v = arg(c, "ids");
    json_t *o, *series;
    int64_t from, to;
    int rc;

    memset(&s, 0, sizeof(s));
    if (v == NULL || *v == '\0') {
        return bad_param(c, "ids", "required: template ids separated by commas");
    }
    while (*v != '\0') {
        char num[24];
        size_t len = strcspn(v, ",");

        if (n_ids == MAX_SPARK_IDS) {
            return bad_param(c, "ids", "at most 200 ids");
        }
        if (len == 0 || len >= sizeof(num)) {
            return bad_param(c, "ids", "expected template ids separated by commas");
        }
        memcpy(num, v, len);
        num[len] = '\0';
        if (lw_api_parse_id(num, &ids[n_ids]) != LW_OK) {
            return bad_param(c, "ids", "expected template ids separated by commas");
        }
        n_ids++;
        v += len;
        if (*v == ',') {
            v++;
        }
    }
    if (lw_api_parse_limit(arg(c, "buckets"), 24, MAX_SPARK_BKTS, &buckets) != LW_OK) {
        return bad_param(c, "buckets", "expected an integer from 1 to 500");
    }
    if (parse_range(c, &from, &to)) {
        return LW_OK;
    }
    memset(&q, 0, sizeof(q));
    q.from_ns = from;
    q.to_ns = to;
    q.level = -1;
    q.step_ns = lw_api_align_step((to - from) / (int64_t)buckets +
                                      ((to - from) % (int64_t)buckets != 0),
                                  lw_store_window_s(c->st));
    s.ids = ids;
    s.n_ids = n_ids;
    rc = dense_init(&s.d, from, to, q.step_ns, n_ids);
    if (rc == LW_OK) {
        rc = lw_store_sparklines(c->st, ids, n_ids, &q, spark_cb, &s);
    }
    if (rc != LW_OK) {
        lw_free(s.d.v);
        return store_error(c, rc);
    }
    o = range_json(json_object(), from, to, q.step_ns);
    series = json_object();
    for (size_t i = 0; o != NULL && series != NULL && i < n_ids; i++) {
        json_t *a = json_array();
        char k[24];

        for (size_t b = 0; a != NULL && b < s.d.n; b++) {
            json_array_append_new(a, json_integer((json_int_t)s.d.v[i * s.d.n + b]));
        }
        snprintf(k, sizeof(k), "%" PRId64, ids[i]);
        json_object_set_new(series, k, a);
    }
    lw_free(s.d.v);
    if (o == NULL || series == NULL) {
        json_decref(o);
        json_decref(series);
        return LW_ENOMEM;
    }
    json_object_set_new(o, "series", series);
    return reply_json(c->resp, 200, o);
}

static int source_page_cb(void *opaque, const struct lw_store_source_row *r)
{
    struct page *p = opaque;

    if (page_full(p)) {
        return 1;
    }
    page_add(p,
             json_pack("{s:o,s:I,s:I,s:o}", "source", jstr(r->source), "lines",
                       (json_int_t)r->lines, "templates", (json_int_t)r->templates, "last_seen",
                       jtime(r->last_ns)),
             0, 0, r->source);
    return 0;
}

static int route_sources(struct req_ctx *c)
{
    struct lw_store_filter f;
    struct page p;
    char key[256];
    int rc;

    if (parse_filter(c, "r", &f, key, sizeof(key))) {
        return LW_OK;
    }
    page_open(&p, &f);
    rc = lw_store_list_sources(c->st, &f, source_page_cb, &p);
    return page_reply(c, &p, rc, NULL);
}

static int rule_array_cb(void *opaque, const struct lw_store_rule *r)
{
    return json_array_append_new(opaque, rule_json(r)) != 0 ? LW_ENOMEM : 0;
}

static int route_rules(struct req_ctx *c)
{
    json_t *items = json_array();
    int rc;

    rc = lw_store_list_rules(c->st, rule_array_cb, items);
    if (rc < 0) {
        json_decref(items);
        return store_error(c, rc);
    }
    return reply_json(c->resp, 200, json_pack("{s:o}", "items", items));
}

/* ---- writes (feedback rules) ---- */

/*
 * Writes through a short read-write connection of its own (the writer's belongs to the store
 * thread): add @r, or delete rule @del_id when @r is NULL. Fills *@out with the new rule.
 */
static int rule_write(struct req_ctx *c, const struct lw_store_rule *r, int64_t del_id,
                      json_t **out)
{
    struct lw_api *api = c->api;
    struct lw_store_conf sc = api->sc;
    struct lw_store *w;
    char err[512];
    int64_t id = 0;
    int rc;

    sc.read_only = 0;
    sc.short_lived = 1; /* one rule row: the daemon's writer does the housekeeping */
    pthread_mutex_lock(&api->write_mu);
    w = lw_store_open(api->data_dir, &sc, err, sizeof(err));
    if (w == NULL) {
        pthread_mutex_unlock(&api->write_mu);
        rc = reply_error(c->resp, 503, err, NULL);
        return rc == LW_OK ? 1 : rc;
    }
    if (r != NULL) {
        rc = lw_store_add_rule(w, r, &id);
        if (rc == LW_OK && out != NULL) {
            rc = lw_store_get_rule(w, id, rule_array_cb, *out);
        }
    }
    else {
        rc = lw_store_delete_rule(w, del_id);
    }
    if (rc < 0) {
        struct lw_store *keep = c->st;

        c->st = w;
        rc = rc == LW_EINVAL ? reply_error(c->resp, 400, lw_store_errmsg(w), "kind")
                             : store_error(c, rc);
        c->st = keep;
        lw_store_close(w);
        pthread_mutex_unlock(&api->write_mu);
        return rc == LW_OK ? 1 : rc;
    }
    lw_store_close(w);
    pthread_mutex_unlock(&api->write_mu);
    if (api->rules_changed != NULL) {
        api->rules_changed(api->opaque);
    }
    return LW_OK;
}

/* "24h", an RFC 3339 time, or null/absent (never): 0 or 1 (answered). */
static int parse_expires(struct req_ctx *c, json_t *v, int64_t *out)
{
    int64_t d;

    *out = 0;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v)) {
        bad_param(c, "expires", "expected a duration like 24h, an RFC 3339 time, or null");
        return 1;
    }
    if (lw_api_parse_duration(json_string_value(v), &d) == LW_OK) {
        *out = c->now_ns + d;
        return 0;
    }
    if (lw_api_parse_time(json_string_value(v), c->now_ns, out) == LW_OK && *out > c->now_ns) {
        return 0;
    }
    bad_param(c, "expires", "expected a duration like 24h or a future RFC 3339 time, or null");
    return 1;
}

static int parse_body(struct req_ctx *c, json_t **out)
{
    json_error_t jerr;

    *out = NULL;
    if (c->req->body == NULL || c->req->body_len == 0) {
        bad_param(c, "body", "expected a JSON object");
        return 1;
    }
    *out = json_loadb(c->req->body, c->req->body_len, 0, &jerr);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        bad_param(c, "body", "expected a JSON object");
        return 1;
    }
    return 0;
}

/* An optional string member: 0 (set or absent) or 1 (answered). */
static int opt_str(struct req_ctx *c, json_t *body, const char *name, const char **out)
{
    json_t *v = json_object_get(body, name);

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 1024) {
        bad_param(c, name, "expected a non-empty string of at most 1024 bytes");
        return 1;
    }
    *out = json_string_value(v);
    return 0;
}

static int parse_kind(struct req_ctx *c, json_t *body, const char **kind)
{
    if (opt_str(c, body, "kind", kind)) {
        return 1;
    }
    if (*kind == NULL ||
        (strcmp(*kind, "false_positive") != 0 && strcmp(*kind, "expected") != 0)) {
        bad_param(c, "kind", "expected false_positive or expected");
        return 1;
    }
    return 0;
}

static int route_rule_add(struct req_ctx *c)
{
    struct lw_store_rule r;
    json_t *body;
    json_t *out;
    json_t *tid;
    int rc;

    if (parse_body(c, &body)) {
        return LW_OK;
    }
    memset(&r, 0, sizeof(r));
    r.created_ns = c->now_ns;
    tid = json_object_get(body, "template_id");
    if (parse_kind(c, body, &r.kind) || opt_str(c, body, "source", &r.source) ||
        opt_str(c, body, "detector", &r.detector) || opt_str(c, body, "note", &r.note) ||
        parse_expires(c, json_object_get(body, "expires"), &r.expires_ns)) {
        json_decref(body);
        return LW_OK;
    }
    if (tid != NULL && !json_is_null(tid)) {
        if (!json_is_integer(tid) || json_integer_value(tid) < 1) {
            json_decref(body);
            return bad_param(c, "template_id", "expected a template id (a positive integer)");
        }
        r.template_id = json_integer_value(tid);
    }
    if (r.template_id == 0 && r.source == NULL && r.detector == NULL) {
        json_decref(body);
        return bad_param(c, "template_id",
                         "a rule needs a scope: template_id, source or detector");
    }
    out = json_array();
    rc = rule_write(c, &r, 0, &out);
    json_decref(body);
    if (rc != LW_OK) {
        json_decref(out);
        return rc == 1 ? LW_OK : rc;
    }
    rc = reply_json(c->resp, 201, json_pack("{s:O}", "rule", json_array_get(out, 0)));
    json_decref(out);
    return rc;
}

struct inc_scope {
    int found;
    char detector[128];
    char source[512];
    int has_source;
    int64_t template_id;
};

static int scope_cb(void *opaque, const struct lw_store_incident_row *r)
{
    struct inc_scope *s = opaque;

    s->found = 1;
    snprintf(s->detector, sizeof(s->detector), "%s", r->detector ? r->detector : "");
    s->has_source = r->source != NULL;
    snprintf(s->source, sizeof(s->source), "%s", r->source ? r->source : "");
    s->template_id = r->template_id;
    return 1;
}

static int route_feedback(struct req_ctx *c, const char *id)
{
    static const struct {
        const char *name;
        int tpl, src, det;
    } scopes[] = {
        {"template", 1, 0, 0},          {"template_source", 1, 1, 0},
        {"detector_template", 1, 0, 1}, {"detector", 0, 0, 1},
        {"source", 0, 1, 0},            {"detector_source", 0, 1, 1},
    };
    struct lw_store_rule r;
    struct inc_scope sc;
    const char *scope;
    json_t *body;
    json_t *out;
    size_t i;
    int rc;

    memset(&sc, 0, sizeof(sc));
    rc = find_incident(c, id, scope_cb, &sc);
    if (rc < 0) {
        return store_error(c, rc);
    }
    if (!sc.found) {
        return not_found(c);
    }
    if (parse_body(c, &body)) {
        return LW_OK;
    }
    memset(&r, 0, sizeof(r));
    r.created_ns = c->now_ns;
    r.incident = id;
    if (parse_kind(c, body, &r.kind) || opt_str(c, body, "scope", &scope) ||
        opt_str(c, body, "note", &r.note) ||
        parse_expires(c, json_object_get(body, "expires"), &r.expires_ns)) {
        json_decref(body);
        return LW_OK;
    }
    if (scope == NULL) {
        scope = sc.template_id != 0 ? "detector_template" : "detector";
    }
    for (i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
        if (strcmp(scope, scopes[i].name) == 0) {
            break;
        }
    }
    if (i == sizeof(scopes) / sizeof(scopes[0])) {
        json_decref(body);
        return bad_param(c, "scope", "expected template, template_source, detector_template, "
                                     "detector, source or detector_source");
    }
    if ((scopes[i].tpl && sc.template_id == 0) || (scopes[i].src && !sc.has_source)) {
        json_decref(body);
        return bad_param(c, "scope", "the incident has no template or source for this scope");
    }
    r.template_id = scopes[i].tpl ? sc.template_id : 0;
    r.source = scopes[i].src ? sc.source : NULL;
    r.detector = scopes[i].det ? sc.detector : NULL;
    out = json_array();
    rc = rule_write(c, &r, 0, &out);
    json_decref(body);
    if (rc != LW_OK) {
        json_decref(out);
        return rc == 1 ? LW_OK : rc;
    }
    rc = reply_json(c->resp, 201, json_pack("{s:O}", "rule", json_array_get(out, 0)));
    json_decref(out);
    return rc;
}

static int route_rule_delete(struct req_ctx *c, int64_t id)
{
    int rc = rule_write(c, NULL, id, NULL);

    if (rc != LW_OK) {
        return rc == 1 ? LW_OK : rc;
    }
    c->resp->status = 204;
    c->resp->body = NULL;
    c->resp->body_len = 0;
    return LW_OK;
}

/* ---- dispatch ---- */

static int is(const struct lw_http_req *req, const char *method)
{
    return strcmp(req->method, method) == 0 ||
           (strcmp(method, "GET") == 0 && strcmp(req->method, "HEAD") == 0);
}

static int method_not_allowed(struct req_ctx *c, const char *allow)
{
    lw_http_resp_add_header(c->resp, "Allow", allow);
    return reply_error(c->resp, 405, "method not allowed", NULL);
}

/* Splits "name/rest" of @path: the first segment into @seg, the rest (or NULL) returned. */
static const char *segment(const char *path, char *seg, size_t cap)
{
    size_t n = strcspn(path, "/");

    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(seg, path, n);
    seg[n] = '\0';
    return path[strcspn(path, "/")] == '/' ? path + strcspn(path, "/") + 1 : NULL;
}

static int dispatch(struct req_ctx *c, const char *p)
{
    char top[32];
    char id[256];
    const char *rest;
    const char *rest2;
    int64_t num;

    rest = segment(p, top, sizeof(top));
    if (rest != NULL && *rest == '\0') {
        rest = NULL;
    }
    if (rest == NULL) {
        if (strcmp(top, "overview") == 0) {
            return is(c->req, "GET") ? route_overview(c) : method_not_allowed(c, "GET");
        }
        if (strcmp(top, "incidents") == 0) {
            return is(c->req, "GET") ? route_incidents(c) : method_not_allowed(c, "GET");
        }
        if (strcmp(top, "alerts") == 0) {
            return is(c->req, "GET") ? route_alerts(c) : method_not_allowed(c, "GET");
        }
        if (strcmp(top, "anomalies") == 0) {
            return is(c->req, "GET") ? route_anomalies(c) : method_not_allowed(c, "GET");
        }
        if (strcmp(top, "templates") == 0) {
            return is(c->req, "GET") ? route_templates(c) : method_not_allowed(c, "GET");
        }
        if (strcmp(top, "series") == 0) {
            return is(c->req, "GET") ? route_series(c) : method_not_allowed(c, "GET");
        }
        if (strcmp(top, "sparklines") == 0) {
            return is(c->req, "GET") ? route_sparklines(c) : method_not_allowed(c, "GET");
        }
        if (strcmp(top, "sources") == 0) {
            return is(c->req, "GET") ? route_sources(c) : method_not_allowed(c, "GET");
        }
        if (strcmp(top, "rules") == 0) {
            if (is(c->req, "GET")) {
                return route_rules(c);
            }
            return is(c->req, "POST") ? route_rule_add(c) : method_not_allowed(c, "GET, POST");
        }
        return not_found(c);
    }
    rest2 = segment(rest, id, sizeof(id));
    if (strlen(rest) > 250) {
        return not_found(c);
    }
    if (strcmp(top, "incidents") == 0) {
        if (rest2 == NULL) {
            return is(c->req, "GET") ? route_incident(c, id) : method_not_allowed(c, "GET");
        }
        if (strcmp(rest2, "feedback") == 0) {
            return is(c->req, "POST") ? route_feedback(c, id) : method_not_allowed(c, "POST");
        }
        return not_found(c);
    }
    if (rest2 != NULL || lw_api_parse_id(id, &num) != LW_OK) {
        return not_found(c);
    }
    if (strcmp(top, "anomalies") == 0) {
        return is(c->req, "GET") ? route_anomaly(c, num) : method_not_allowed(c, "GET");
    }
    if (strcmp(top, "templates") == 0) {
        return is(c->req, "GET") ? route_template(c, num) : method_not_allowed(c, "GET");
    }
    if (strcmp(top, "rules") == 0) {
        return is(c->req, "DELETE") ? route_rule_delete(c, num)
                                    : method_not_allowed(c, "DELETE");
    }
    return not_found(c);
}

int lw_api_handle(void *opaque, const struct lw_http_req *req, struct lw_http_resp *resp)
{
    struct lw_api *api = opaque;
    struct req_ctx c;
    static const char prefix[] = "/api/v1/";
    char err[512];
    int rc = LW_OK;

    memset(&c, 0, sizeof(c));
    c.api = api;
    c.req = req;
    c.resp = resp;
    c.now_ns = wall_ns();
    if (strncmp(req->path, prefix, sizeof(prefix) - 1) != 0) {
        return not_found(&c);
    }
    if (strcmp(req->path, "/api/v1/openapi.json") == 0) {
        if (!is(req, "GET")) {
            return method_not_allowed(&c, "GET");
        }
        resp->body = (char *)lw_api_openapi_json;
        resp->body_len = lw_api_openapi_json_len;
        resp->body_static = 1;
        resp->content_type = "application/json";
        return LW_OK;
    }
    c.st = conn_take(api, &rc, err, sizeof(err));
    if (c.st == NULL) {
        lw_http_resp_add_header(resp, "Retry-After", "1");
        return reply_error(resp, 503, err, NULL);
    }
    rc = dispatch(&c, req->path + sizeof(prefix) - 1);
    conn_give(api, c.st);
    return rc;
}

struct lw_api *lw_api_create(const struct lw_api_conf *conf, char *err, size_t err_len)
{
    struct lw_api *api = lw_calloc(1, sizeof(*api));

    if (api == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    api->data_dir = lw_strdup(conf->data_dir != NULL ? conf->data_dir : ".");
    if (api->data_dir == NULL) {
        lw_free(api);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    api->sc = conf->store;
    api->max_conns = conf->max_conns == 0 ? DEFAULT_CONNS
                     : conf->max_conns > MAX_CONNS ? MAX_CONNS
                                                   : conf->max_conns;
    api->rules_changed = conf->rules_changed;
    api->opaque = conf->opaque;
    pthread_mutex_init(&api->mu, NULL);
    pthread_mutex_init(&api->write_mu, NULL);
    pthread_cond_init(&api->cv, NULL);
    return api;
}

int lw_api_register(struct lw_api *api, struct lw_http_server *srv)
{
    struct lw_http_route r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.method = "*";
    r.path = "/api/v1/";
    r.prefix = 1;
    r.kind = LW_HTTP_ROUTE_HANDLER;
    r.access = LW_HTTP_ACCESS_READ;
    r.handler = lw_api_handle;
    r.opaque = api;
    rc = lw_http_route_add(srv, &r);
    if (rc != LW_OK) {
        return rc;
    }
    r.path = "/api/v1/openapi.json";
    r.prefix = 0;
    return lw_http_route_add(srv, &r);
}

void lw_api_destroy(struct lw_api *api)
{
    size_t i;

    if (api == NULL) {
        return;
    }
    for (i = 0; i < api->n_conns; i++) {
        lw_store_close(api->conns[i]);
    }
    pthread_cond_destroy(&api->cv);
    pthread_mutex_destroy(&api->write_mu);
    pthread_mutex_destroy(&api->mu);
    lw_free(api->data_dir);
    lw_free(api);
}
