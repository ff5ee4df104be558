/*
 * The ClickHouse backend's query API block (lw_store.h "Query API"): the same answers, in the
 * same shape and order, as the SQLite block (store_query.c), read from the ClickHouse schema
 * (store_clickhouse_schema.c, docs/store.md "ClickHouse").
 *
 * Visibility. Every read of transactional rows goes through the *_v views, which keep only the
 * committed attempt of each (writer, seq): a transaction that has not written its commit row,
 * or whose attempt was replaced by a retry, is never counted. Rules are the exception: each is
 * one INSERT of one row (atomic by itself), and its removal a second row (a tombstone).
 *
 * Values from outside. Numbers (ids, times, limits, scores) are formatted by printf from C
 * integers and doubles, never copied from text; every string (a source, a detector, a search
 * text, a cursor's key) enters the query text only as unhex('<upper-case hex>')
 * (lw__ch_buf_unhex), which holds nothing but [0-9A-F]. Answers come back as TabSeparated with
 * every string column hex-encoded (hex(x), \N for NULL), so no value in an answer can split a
 * field or a row either; they are decoded in place.
 *
 * ClickHouse 18.16: no window functions, no param_ parameters, one JOIN per SELECT level (hence
 * the nested subqueries), ANY/ALL ... JOIN ... USING. Keyset pages compare tuples
 * ("(ts_ns, id) < (A, B)"), as store_query.c does with row values.
 *
 * Series buckets are intDiv(window_start_ns, step) * step like SQLite's integer division, and
 * times are compared in the unit the column holds: windows start at whole seconds (DateTime),
 * so "window_start_ns >= from_ns" becomes "seconds >= ceil(from_ns / 1e9)".
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"
#include "store/store_clickhouse_int.h"

#define NS 1000000000LL
/* Rows of one list at most, as store_query.c. */
#define MAX_PAGE 100000
/* After a template's first examples_per_template lines, its newest line is refreshed at most
 * this often: one row per template per group would grow the table with every commit. */
#define EX_REFRESH_S 300
/* Templates whose examples this handle tracks; the table starts over when full. */
#define EX_SLOTS_MAX ((size_t)1 << 18)

/* A template's examples sent by this handle (open addressing by template id). */
struct ex_slot {
    uint32_t tid;                 /* 0: free */
    uint32_t n_sent;
    int64_t last_s;               /* wall clock of the last one sent */
};

/* The query block's state in a handle (lw__ch_view.qstate). */
struct chq {
    struct lw__ch_buf q;          /* the query being built */
    struct lw__ch_buf out;        /* the last answer */
    struct ex_slot *ex;
    size_t ex_cap;                /* a power of two, or 0 */
    size_t ex_used;
    int64_t last_rule_id;
};

/* One call's handle, view and state. */
struct ctx {
    struct lw__ch_view v;
    struct chq *c;
};

void lw__chq_free(void *qstate)
{
    struct chq *c = qstate;

    if (c == NULL) {
        return;
    }
    lw__ch_buf_free(&c->q);
    lw__ch_buf_free(&c->out);
    lw_free(c->ex);
    lw_free(c);
}

static int msg(struct ctx *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Leaves a message for lw_store_errmsg() and returns @rc. */
static int msg(struct ctx *x, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(x->v.err, x->v.err_len, fmt, ap);
    va_end(ap);
    return rc;
}

static int ctx_init(struct lw_store *s, struct ctx *x)
{
    lw__ch_store_view(s, &x->v);
    if (*x->v.qstate == NULL) {
        *x->v.qstate = lw_calloc(1, sizeof(struct chq));
        if (*x->v.qstate == NULL) {
            return msg(x, LW_ENOMEM, "%s", "out of memory");
        }
    }
    x->c = *x->v.qstate;
    lw__ch_buf_reset(&x->c->q);
    return LW_OK;
}

/* Appends @text with every "{db}" replaced by the database (a validated identifier). */
static int qadd(struct ctx *x, const char *text)
{
    const char *p = text;
    const char *hit;
    int rc = LW_OK;

    while (rc == LW_OK && (hit = strstr(p, "{db}")) != NULL) {
        rc = lw__ch_buf_put(&x->c->q, p, (size_t)(hit - p));
        rc = rc ? rc : lw__ch_buf_puts(&x->c->q, x->v.db);
        p = hit + 4;
    }
    return rc ? rc : lw__ch_buf_puts(&x->c->q, p);
}

/* Appends numbers (formats of constants and integers only: never a string from outside). */
static int qnum(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int qnum(struct ctx *x, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return LW_EINVAL;
    }
    return lw__ch_buf_put(&x->c->q, tmp, (size_t)n);
}

/* Appends "@pre unhex('…')" for the string @v. */
static int qstr(struct ctx *x, const char *pre, const char *v)
{
    int rc = lw__ch_buf_puts(&x->c->q, pre);

    return rc ? rc : lw__ch_buf_unhex(&x->c->q, v, strlen(v));
}

/* A double as a ClickHouse literal (inf and -inf included; NaN never reaches here). */
static int qdouble(struct ctx *x, double d)
{
    if (isinf(d)) {
        return lw__ch_buf_puts(&x->c->q, d > 0 ? "inf" : "-inf");
    }
    return qnum(x, "%.17g", d);
}

/*
 * Runs the query built in x->c->q. On LW_OK *@ans owns the answer (the caller frees it with
 * lw__ch_buf_free()), so that callbacks may use the handle while the rows are read.
 */
static int run(struct ctx *x, int build_rc, struct lw__ch_buf *ans)
{
    int rc;

    memset(ans, 0, sizeof(*ans));
    if (build_rc != LW_OK) {
        return msg(x, build_rc == LW_ENOMEM ? LW_ENOMEM : LW_EINVAL, "%s",
                   build_rc == LW_ENOMEM ? "out of memory" : "cannot build the query");
    }
    rc = lw__ch_exec(x->v.conn, x->c->q.p, NULL, 0, &x->c->out, x->v.err, x->v.err_len);
    if (rc != LW_OK) {
        return rc;
    }
    *ans = x->c->out;
    memset(&x->c->out, 0, sizeof(x->c->out));
    return LW_OK;
}

size_t lw__chq_next_row(struct lw__ch_buf *ans, size_t *pos, char **f, size_t max)
{
    char *p;
    size_t n = 0;

    if (ans->p == NULL || *pos >= ans->len) {
        return 0;
    }
    p = ans->p + *pos;
    while (n < max) {
        f[n++] = p;
        while (*p != '\0' && *p != '\t' && *p != '\n') {
            p++;
        }
        if (*p != '\t') {
            break;
        }
        *p++ = '\0';
    }
    while (*p != '\0' && *p != '\n') {
        p++; /* more fields than asked for: ignored */
    }
    /* Past the row's end ('\n', or a NUL that a server never sends: the next row then). */
    if (p < ans->p + ans->len) {
        *p++ = '\0';
    }
    *pos = (size_t)(p - ans->p);
    return n;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

const char *lw__chq_hx(char *f)
{
    size_t i;
    size_t n = strlen(f);

    if (strcmp(f, "\\N") == 0) {
        return NULL;
    }
    for (i = 0; i + 1 < n; i += 2) {
        int hi = hexval(f[i]);
        int lo = hexval(f[i + 1]);

        if (hi < 0 || lo < 0) {
            f[0] = '\0';
            return f;
        }
        f[i / 2] = (char)(hi * 16 + lo);
    }
    f[n / 2] = '\0';
    return f;
}

static int64_t i64(const char *f)
{
    return strtoll(f, NULL, 10);
}

static uint64_t u64(const char *f)
{
    return strtoull(f, NULL, 10);
}

/* The first whole second at or after @ns: "start_ns >= ns" for starts on whole seconds. */
static long long ceil_s(int64_t ns)
{
    return (long long)(ns / NS + (ns % NS > 0 ? 1 : 0));
}

static long long page_limit(const struct lw_store_filter *f)
{
    return f->limit == 0 || f->limit > MAX_PAGE ? MAX_PAGE : (long long)f->limit;
}

/* The visible text of each template, for LEFT JOIN ... USING template_id (has_t = 1). */
#define TEXTS                                                                                  \
    "(SELECT id AS template_id, argMaxIf(text, (seq, ord), has_text = 1) AS text, 1 AS has_t"  \
    " FROM {db}.templates_v GROUP BY id)"

/* Visible alerts with their latest state (and sent time) from alert_states. */
#define ALERTS                                                                                 \
    "(SELECT id, anomaly_id, incident, severity, if(st2 != '', st2, state) AS state,"          \
    " created_ns, if(st2 != '', sent2, sent_ns) AS sent_ns, sink FROM"                         \
    " (SELECT id, anomaly_id, incident, severity, state, created_ns, sent_ns, sink"            \
    " FROM {db}.alerts_v) ANY LEFT JOIN (SELECT id, argMax(state, (seq, ord)) AS st2,"         \
    " argMax(sent_ns, (seq, ord)) AS sent2 FROM {db}.alert_states_v GROUP BY id) USING id)"

/* Live rules (no tombstone), one row each; r_nulls: 1 source, 2 detector, 4 note, 8 incident. */
#define RULES_HEAD                                                                             \
    "(SELECT id, anyIf(kind, deleted = 0) AS r_kind, anyIf(template_id, deleted = 0) AS r_tid," \
    " anyIf(source, deleted = 0) AS r_source, anyIf(detector, deleted = 0) AS r_detector,"     \
    " anyIf(created_ns, deleted = 0) AS r_created, anyIf(expires_ns, deleted = 0) AS r_expires," \
    " anyIf(note, deleted = 0) AS r_note, anyIf(incident, deleted = 0) AS r_incident,"         \
    " anyIf(nulls, deleted = 0) AS r_nulls FROM {db}.rules"
#define RULES_TAIL " GROUP BY id HAVING max(deleted) = 0 AND countIf(deleted = 0) > 0)"
#define RULES RULES_HEAD RULES_TAIL

/* ---- series ---- */

static int check_series(struct ctx *x, const struct lw_store_series_q *q)
{
    if (q == NULL || q->step_ns <= 0 || q->to_ns < q->from_ns) {
        return msg(x, LW_EINVAL, "%s", "series: bad range or step");
    }
    return LW_OK;
}

/*
 * Runs the query built in x->c->q (see run()) and hands its rows "[key\t]bucket\tcount" to
 * @cb, with key 0 when the rows carry none.
 */
static int run_points(struct ctx *x, int build_rc, int has_key, lw_store_point_cb cb,
                      void *opaque)
{
    struct lw__ch_buf ans;
    char *f[3];
    size_t pos = 0;
    size_t want = has_key ? 3 : 2;
    int o = has_key ? 1 : 0;
    int rc = run(x, build_rc, &ans);

    while (rc == LW_OK && lw__chq_next_row(&ans, &pos, f, want) == want) {
        rc = cb(opaque, has_key ? i64(f[0]) : 0, i64(f[o]), u64(f[o + 1]));
    }
    lw__ch_buf_free(&ans);
    return rc;
}

/* " intDiv(toInt64(window_start) * 1e9, step) * step AS b" and the window range. */
static int q_windows(struct ctx *x, const char *select_key, const char *view,
                     const struct lw_store_series_q *q)
{
    int rc = qnum(x, "SELECT %s intDiv(toInt64(window_start) * 1000000000, %lld) * %lld AS b,"
                     " sum(count) FROM ",
                  select_key, (long long)q->step_ns, (long long)q->step_ns);

    rc = rc ? rc : qadd(x, view);
    return rc ? rc
              : qnum(x, " WHERE toInt64(window_start) >= %lld AND toInt64(window_start) < %lld",
                     ceil_s(q->from_ns), ceil_s(q->to_ns));
}

int lw__chq_series(struct lw_store *s, const struct lw_store_series_q *q, lw_store_point_cb cb,
                   void *opaque)
{
    struct ctx x;
    int rc = ctx_init(s, &x);

    rc = rc ? rc : check_series(&x, q);
    if (rc != LW_OK) {
        return rc;
    }
    if (q->level >= 0) {
        if (q->template_id != 0 || q->source != NULL) {
            return msg(&x, LW_EINVAL, "%s", "series: a level goes with no template or source");
        }
        rc = q_windows(&x, "", "{db}.window_level_counts_v", q);
        rc = rc ? rc : qnum(&x, " AND level = %d", q->level);
    }
    else if (q->source != NULL) {
        rc = q_windows(&x, "", "{db}.window_source_counts_v", q);
        rc = rc ? rc : qstr(&x, " AND source = ", q->source);
    }
    else {
        rc = q_windows(&x, "", "{db}.window_counts_v", q);
    }
    /* A level series has none (checked above). */
    if (rc == LW_OK && q->template_id != 0) {
        rc = qnum(&x, " AND template_id = %lld", (long long)q->template_id);
    }
    rc = rc ? rc : qadd(&x, " GROUP BY b ORDER BY b");
    return run_points(&x, rc, 0, cb, opaque);
}

int lw__chq_series_levels(struct lw_store *s, const struct lw_store_series_q *q,
                          lw_store_point_cb cb, void *opaque)
{
    struct ctx x;
    int rc = ctx_init(s, &x);

    rc = rc ? rc : check_series(&x, q);
    if (rc != LW_OK) {
        return rc;
    }
    rc = q_windows(&x, "level,", "{db}.window_level_counts_v", q);
    rc = rc ? rc : qadd(&x, " GROUP BY level, b ORDER BY level, b");
    return run_points(&x, rc, 1, cb, opaque);
}

int lw__chq_series_anomalies(struct lw_store *s, const struct lw_store_series_q *q,
                             lw_store_point_cb cb, void *opaque)
{
    struct ctx x;
    int rc = ctx_init(s, &x);

    rc = rc ? rc : check_series(&x, q);
    if (rc != LW_OK) {
        return rc;
    }
    rc = qnum(&x, "SELECT intDiv(ts_ns, %lld) * %lld AS b, count() FROM ", (long long)q->step_ns,
              (long long)q->step_ns);
    rc = rc ? rc : qadd(&x, "{db}.anomalies_v");
    rc = rc ? rc : qnum(&x, " WHERE ts_ns >= %lld AND ts_ns < %lld", (long long)q->from_ns,
                        (long long)q->to_ns);
    if (rc == LW_OK && q->template_id != 0) {
        rc = qnum(&x, " AND template_id = %lld", (long long)q->template_id);
    }
    if (rc == LW_OK && q->source != NULL) {
        rc = qstr(&x, " AND source = ", q->source);
    }
    rc = rc ? rc : qadd(&x, " GROUP BY b ORDER BY b");
    return run_points(&x, rc, 0, cb, opaque);
}

int lw__chq_sparklines(struct lw_store *s, const int64_t *ids, size_t n_ids,
                       const struct lw_store_series_q *q, lw_store_point_cb cb, void *opaque)
{
    struct ctx x;
    size_t i;
    size_t pass;
    int rc = ctx_init(s, &x);

    rc = rc ? rc : check_series(&x, q);
    if (rc != LW_OK) {
        return rc;
    }
    if (n_ids > 1000) {
        return msg(&x, LW_EINVAL, "%s", "sparklines: more than 1000 ids");
    }
    if (n_ids == 0) {
        return LW_OK;
    }
    /* One query for every id; rows come in the order of @ids (as SQLite's loop gives them). */
    rc = q_windows(&x, "template_id,", "{db}.window_counts_v", q);
    for (pass = 0; pass < 2 && rc == LW_OK; pass++) {
        rc = qadd(&x, pass == 0 ? " AND template_id IN (" : " GROUP BY template_id, b"
                                                             " ORDER BY indexOf([");
        for (i = 0; i < n_ids && rc == LW_OK; i++) {
            rc = qnum(&x, "%s%lld", i > 0 ? ", " : "", (long long)ids[i]);
        }
        rc = rc ? rc : qadd(&x, pass == 0 ? ")" : "], template_id), b");
    }
    return run_points(&x, rc, 1, cb, opaque);
}

/* ---- totals ---- */

int lw__chq_totals(struct lw_store *s, int64_t from_ns, int64_t to_ns, struct lw_store_totals *out)
{
    struct lw__ch_buf ans;
    struct ctx x;
    char *f[5];
    size_t pos = 0;
    long long lo = ceil_s(from_ns);
    long long hi = ceil_s(to_ns);
    int rc = ctx_init(s, &x);

    memset(out, 0, sizeof(*out));
    if (rc != LW_OK) {
        return rc;
    }
    rc = qnum(&x, "SELECT (SELECT sum(count) FROM %s.window_counts_v WHERE"
                  " toInt64(window_start) >= %lld AND toInt64(window_start) < %lld),",
              x.v.db, lo, hi);
    rc = rc ? rc
            : qnum(&x, " (SELECT uniqExact(template_id) FROM %s.window_counts_v WHERE"
                       " toInt64(window_start) >= %lld AND toInt64(window_start) < %lld),",
                   x.v.db, lo, hi);
    rc = rc ? rc
            : qnum(&x, " (SELECT uniqExact(source) FROM %s.window_source_counts_v WHERE"
                       " toInt64(window_start) >= %lld AND toInt64(window_start) < %lld),",
                   x.v.db, lo, hi);
    rc = rc ? rc
            : qnum(&x, " (SELECT count() FROM %s.anomalies_v WHERE ts_ns >= %lld AND"
                       " ts_ns < %lld),",
                   x.v.db, (long long)from_ns, (long long)to_ns);
    /* Open incidents: those of the range (muted alerts belong to none) no live rule names. */
    rc = rc ? rc : qadd(&x, " (SELECT count() FROM (SELECT incident FROM " ALERTS);
    rc = rc ? rc
            : qnum(&x, " ALL INNER JOIN (SELECT id AS anomaly_id FROM %s.anomalies_v WHERE"
                       " ts_ns >= %lld AND ts_ns < %lld) USING anomaly_id",
                   x.v.db, (long long)from_ns, (long long)to_ns);
    rc = rc ? rc
            : qadd(&x, " WHERE incident != '' AND state != 'muted' GROUP BY incident)"
                       " WHERE incident NOT IN (SELECT r_incident FROM " RULES
                       " WHERE bitAnd(r_nulls, 8) = 0))");
    rc = run(&x, rc, &ans);
    if (rc == LW_OK && lw__chq_next_row(&ans, &pos, f, 5) == 5) {
        out->lines = u64(f[0]);
        out->templates = u64(f[1]);
        out->sources = u64(f[2]);
        out->anomalies = u64(f[3]);
        out->open_incidents = u64(f[4]);
    }
    lw__ch_buf_free(&ans);
    return rc;
}

/* ---- anomalies ---- */

static int anomaly_rows(struct lw__ch_buf *ans, lw_store_anomaly_cb cb, void *opaque, int *n)
{
    char *f[13];
    size_t pos = 0;
    int rc = LW_OK;

    while (rc == LW_OK && lw__chq_next_row(ans, &pos, f, 13) == 13) {
        struct lw_store_anomaly_row r;

        memset(&r, 0, sizeof(r)); /* fields this backend does not keep (context_json) are NULL */
        r.id = i64(f[0]);
        r.ts_ns = i64(f[1]);
        r.detector = lw__chq_hx(f[2]);
        r.kind = lw__chq_hx(f[3]);
        r.score = strtod(f[4], NULL);
        r.template_id = i64(f[5]);
        r.template_text = f[6][0] == '1' ? lw__chq_hx(f[7]) : NULL;
        r.source = lw__chq_hx(f[8]);
        r.key = lw__chq_hx(f[9]);
        r.summary = lw__chq_hx(f[10]);
        r.explanation_json = lw__chq_hx(f[11]);
        r.samples_json = lw__chq_hx(f[12]);
        if (r.detector == NULL) {
            r.detector = "";
        }
        if (r.summary == NULL) {
            r.summary = "";
        }
        (*n)++;
        rc = cb(opaque, &r);
    }
    return rc;
}

#define ANOMALY_OUT                                                                            \
    "SELECT id, ts_ns, hex(detector), hex(kind), score, template_id, has_t, hex(text),"        \
    " hex(source), hex(key), hex(summary), hex(explanation_json), hex(samples_json) FROM"      \
    " (SELECT id, ts_ns, detector, kind, score, template_id, source, key, summary,"            \
    " explanation_json, samples_json FROM {db}.anomalies_v WHERE "

int lw__chq_list_anomalies(struct lw_store *s, const struct lw_store_filter *f,
                           lw_store_anomaly_cb cb, void *opaque)
{
    struct lw__ch_buf ans;
    struct ctx x;
    int n = 0;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    rc = qadd(&x, ANOMALY_OUT);
    rc = rc ? rc : qnum(&x, "ts_ns >= %lld AND ts_ns < %lld", (long long)f->from_ns,
                        (long long)f->to_ns);
    if (rc == LW_OK && f->detector != NULL) {
        rc = qstr(&x, " AND detector = ", f->detector);
    }
    if (rc == LW_OK && f->source != NULL) {
        rc = qstr(&x, " AND source = ", f->source);
    }
    if (rc == LW_OK && f->template_id != 0) {
        rc = qnum(&x, " AND template_id = %lld", (long long)f->template_id);
    }
    if (rc == LW_OK && f->kind != NULL) {
        rc = qstr(&x, " AND kind = ", f->kind);
    }
    if (rc == LW_OK && f->has_min_score) {
        rc = qadd(&x, " AND score >= ");
        rc = rc ? rc : qdouble(&x, f->min_score);
    }
    if (rc == LW_OK && f->incident != NULL) {
        rc = qadd(&x, " AND id IN (SELECT anomaly_id FROM {db}.alerts_v WHERE incident = ");
        rc = rc ? rc : lw__ch_buf_unhex(&x.c->q, f->incident, strlen(f->incident));
        rc = rc ? rc : qadd(&x, ")");
    }
    if (rc == LW_OK && f->has_after) {
        rc = qnum(&x, " AND (ts_ns, id) < (%lld, %lld)", (long long)f->after_ts,
                  (long long)f->after_id);
    }
    rc = rc ? rc : qnum(&x, " ORDER BY ts_ns DESC, id DESC LIMIT %lld)", page_limit(f));
    rc = rc ? rc : qadd(&x, " ANY LEFT JOIN " TEXTS " USING template_id"
                            " ORDER BY ts_ns DESC, id DESC");
    rc = run(&x, rc, &ans);
    if (rc == LW_OK) {
        rc = anomaly_rows(&ans, cb, opaque, &n);
    }
    lw__ch_buf_free(&ans);
    return rc;
}

int lw__chq_get_anomaly(struct lw_store *s, int64_t id, lw_store_anomaly_cb cb, void *opaque)
{
    struct lw__ch_buf ans;
    struct ctx x;
    int n = 0;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    rc = qadd(&x, ANOMALY_OUT);
    rc = rc ? rc : qnum(&x, "id = %lld LIMIT 1)", (long long)id);
    rc = rc ? rc : qadd(&x, " ANY LEFT JOIN " TEXTS " USING template_id");
    rc = run(&x, rc, &ans);
    if (rc == LW_OK) {
        rc = anomaly_rows(&ans, cb, opaque, &n);
    }
    lw__ch_buf_free(&ans);
    return rc == LW_OK && n == 0 ? LW_ENOENT : rc;
}

/* ---- alerts ---- */

/* The anomalies an alert or incident list joins: "(SELECT id AS anomaly_id, @cols ...)". */
static int q_joined_anomalies(struct ctx *x, const char *cols, const struct lw_store_filter *f)
{
    int rc = qadd(x, " ALL INNER JOIN (SELECT id AS anomaly_id, ");

    rc = rc ? rc : qadd(x, cols);
    rc = rc ? rc : qnum(x, " FROM %s.anomalies_v WHERE ts_ns >= %lld AND ts_ns < %lld", x->v.db,
                        (long long)f->from_ns, (long long)f->to_ns);
    if (rc == LW_OK && f->detector != NULL) {
        rc = qstr(x, " AND detector = ", f->detector);
    }
    if (rc == LW_OK && f->source != NULL) {
        rc = qstr(x, " AND source = ", f->source);
    }
    if (rc == LW_OK && f->template_id != 0) {
        rc = qnum(x, " AND template_id = %lld", (long long)f->template_id);
    }
    return rc ? rc : qadd(x, ") USING anomaly_id");
}

int lw__chq_list_alerts(struct lw_store *s, const struct lw_store_filter *f,
                        lw_store_alert_cb cb, void *opaque)
{
    struct lw__ch_buf ans;
    struct ctx x;
    char *fl[10];
    size_t pos = 0;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    rc = qadd(&x, "SELECT id, ts_ns, created_ns, sent_ns, anomaly_id, hex(severity), hex(state),"
                  " hex(sink), hex(incident), hex(summary) FROM " ALERTS);
    rc = rc ? rc : q_joined_anomalies(&x, "ts_ns, summary", f);
    rc = rc ? rc : qadd(&x, " WHERE 1");
    if (rc == LW_OK && f->severity != NULL) {
        rc = qstr(&x, " AND severity = ", f->severity);
    }
    if (rc == LW_OK && f->state != NULL) {
        rc = qstr(&x, " AND state = ", f->state);
    }
    if (rc == LW_OK && f->incident != NULL) {
        rc = qstr(&x, " AND incident = ", f->incident);
    }
    if (rc == LW_OK && f->has_after) {
        rc = qnum(&x, " AND (ts_ns, id) < (%lld, %lld)", (long long)f->after_ts,
                  (long long)f->after_id);
    }
    rc = rc ? rc : qnum(&x, " ORDER BY ts_ns DESC, id DESC LIMIT %lld", page_limit(f));
    rc = run(&x, rc, &ans);
    while (rc == LW_OK && lw__chq_next_row(&ans, &pos, fl, 10) == 10) {
        struct lw_store_alert_row r;

        memset(&r, 0, sizeof(r));
        r.id = i64(fl[0]);
        r.ts_ns = i64(fl[1]);
        r.created_ns = i64(fl[2]);
        r.sent_ns = i64(fl[3]);
        r.anomaly_id = i64(fl[4]);
        r.severity = lw__chq_hx(fl[5]);
        r.state = lw__chq_hx(fl[6]);
        r.sink = lw__chq_hx(fl[7]);
        r.incident = lw__chq_hx(fl[8]);
        r.summary = lw__chq_hx(fl[9]);
        /* The table keeps "no incident" as '' (a String column); SQLite as NULL. */
        if (r.incident != NULL && r.incident[0] == '\0') {
            r.incident = NULL;
        }
        rc = cb(opaque, &r);
    }
    lw__ch_buf_free(&ans);
    return rc;
}

/* ---- incidents ---- */

/*
 * As store_query.c: an incident's columns come from its first anomaly (the smallest id), its
 * severity is the highest of its alerts, and it is resolved when a live rule names it.
 */
int lw__chq_list_incidents(struct lw_store *s, const struct lw_store_filter *f,
                           lw_store_incident_cb cb, void *opaque)
{
    struct lw__ch_buf ans;
    struct ctx x;
    char *fl[14];
    size_t pos = 0;
    int sev = 0;
    int state = 0;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    if (f->severity != NULL) {
        sev = strcmp(f->severity, "critical") == 0 ? 2 : strcmp(f->severity, "warning") == 0 ? 1
                                                                                            : -1;
    }
    if (f->state != NULL) {
        state = strcmp(f->state, "open") == 0 ? 1 : strcmp(f->state, "resolved") == 0 ? 2 : 0;
    }
    rc = qadd(&x,
              "SELECT hex(incident), i_first, i_last, i_sev, hex(detector), hex(source),"
              " template_id, has_t, hex(text), hex(summary), n_alerts, n_anom, rule_id,"
              " hex(rule_kind) FROM"
              " (SELECT incident, i_first, i_last, i_sev, n_alerts, n_anom, detector, source,"
              " template_id, summary, has_t, text FROM"
              " (SELECT incident, i_first, i_last, i_sev, n_alerts, n_anom, detector, source,"
              " template_id, summary FROM"
              " (SELECT incident, min(ts_ns) AS i_first, max(ts_ns) AS i_last,"
              " max(if(severity = 'critical', 2, 1)) AS i_sev, count() AS n_alerts,"
              " uniqExact(anomaly_id) AS n_anom, min(anomaly_id) AS first_id FROM " ALERTS);
    rc = rc ? rc : q_joined_anomalies(&x, "ts_ns", f);
    rc = rc ? rc : qadd(&x, " WHERE incident != '' AND state != 'muted'");
    if (rc == LW_OK && f->incident != NULL) {
        rc = qstr(&x, " AND incident = ", f->incident);
    }
    rc = rc ? rc
            : qadd(&x, " GROUP BY incident) ANY LEFT JOIN (SELECT id AS first_id, detector,"
                       " source, template_id, summary FROM {db}.anomalies_v) USING first_id)"
                       " ANY LEFT JOIN " TEXTS " USING template_id)"
                       " ANY LEFT JOIN (SELECT r_incident AS incident, max(id) AS rule_id,"
                       " argMax(r_kind, id) AS rule_kind FROM " RULES
                       " WHERE bitAnd(r_nulls, 8) = 0 GROUP BY r_incident) USING incident"
                       " WHERE 1");
    if (rc == LW_OK && sev != 0) {
        rc = qnum(&x, " AND i_sev = %d", sev);
    }
    if (rc == LW_OK && state != 0) {
        rc = qadd(&x, state == 1 ? " AND rule_id = 0" : " AND rule_id != 0");
    }
    if (rc == LW_OK && f->has_after) {
        rc = qnum(&x, " AND (i_last, incident) < (%lld, ", (long long)f->after_ts);
        rc = rc ? rc
                : lw__ch_buf_unhex(&x.c->q, f->after_key != NULL ? f->after_key : "",
                                   f->after_key != NULL ? strlen(f->after_key) : 0);
        rc = rc ? rc : qadd(&x, ")");
    }
    rc = rc ? rc : qnum(&x, " ORDER BY i_last DESC, incident DESC LIMIT %lld", page_limit(f));
    rc = run(&x, rc, &ans);
    while (rc == LW_OK && lw__chq_next_row(&ans, &pos, fl, 14) == 14) {
        struct lw_store_incident_row r;

        memset(&r, 0, sizeof(r));
        r.incident = lw__chq_hx(fl[0]);
        r.first_ns = i64(fl[1]);
        r.last_ns = i64(fl[2]);
        r.severity = i64(fl[3]) >= 2 ? "critical" : "warning";
        r.detector = lw__chq_hx(fl[4]);
        r.source = lw__chq_hx(fl[5]);
        r.template_id = i64(fl[6]);
        r.template_text = fl[7][0] == '1' ? lw__chq_hx(fl[8]) : NULL;
        r.summary = lw__chq_hx(fl[9]);
        r.n_alerts = u64(fl[10]);
        r.n_anomalies = u64(fl[11]);
        r.rule_id = i64(fl[12]);
        r.rule_kind = r.rule_id != 0 ? lw__chq_hx(fl[13]) : NULL;
        rc = cb(opaque, &r);
    }
    lw__ch_buf_free(&ans);
    return rc;
}

/* ---- templates ---- */

#define TPL_MIN "-9223372036854775808"
#define TPL_AGG                                                                                \
    "(SELECT id, argMaxIf(text, (seq, ord), has_text = 1) AS t_text,"                         \
    " sum(count_delta) AS t_count, minIf(first_ns, first_ns != " TPL_MIN ") AS t_first,"       \
    " countIf(first_ns != " TPL_MIN ") AS t_nf, maxIf(last_ns, last_ns != " TPL_MIN ")"        \
    " AS t_last, countIf(last_ns != " TPL_MIN ") AS t_nl FROM {db}.templates_v"

/* The sort key by enum lw_store_tsort; unknown times sort as 0, as SQLite's ifnull(…, 0). */
static const char *const tpl_key[] = {
    "t_count",
    "if(t_nl > 0, t_last, 0)",
    "if(t_nf > 0, t_first, 0)",
    "id",
};

static int q_tpl_from(struct ctx *x, const char *q, int64_t id)
{
    int rc = qadd(x, TPL_AGG);

    if (rc == LW_OK && id != 0) {
        rc = qnum(x, " WHERE id = %lld", (long long)id);
    }
    rc = rc ? rc : qadd(x, " GROUP BY id) WHERE 1");
    if (rc == LW_OK && q != NULL) {
        /* lower() is ASCII-only in both backends: the same matches as SQLite's instr(lower). */
        rc = qstr(x, " AND position(lower(t_text), lower(", q);
        rc = rc ? rc : qadd(x, ")) > 0");
    }
    return rc;
}

int lw__chq_list_templates(struct lw_store *s, const char *q, enum lw_store_tsort sort, int desc,
                           const struct lw_store_filter *f, lw_store_template_cb cb,
                           void *opaque, uint64_t *total)
{
    struct lw__ch_buf ans;
    struct ctx x;
    char *fl[7];
    size_t pos = 0;
    const char *key;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    if ((int)sort < 0 || sort > LW_STORE_TSORT_ID) {
        return msg(&x, LW_EINVAL, "%s", "templates: bad sort");
    }
    key = tpl_key[sort];
    if (total != NULL) {
        rc = qadd(&x, "SELECT count() FROM ");
        rc = rc ? rc : q_tpl_from(&x, q, 0);
        rc = run(&x, rc, &ans);
        *total = rc == LW_OK && lw__chq_next_row(&ans, &pos, fl, 1) == 1 ? u64(fl[0]) : 0;
        lw__ch_buf_free(&ans);
        if (rc != LW_OK) {
            return rc;
        }
        lw__ch_buf_reset(&x.c->q);
        pos = 0;
    }
    rc = qadd(&x, "SELECT id, hex(t_text), t_count, t_first, t_nf, t_last, t_nl FROM ");
    rc = rc ? rc : q_tpl_from(&x, q, f->template_id);
    if (rc == LW_OK && f->has_after) {
        rc = qnum(&x, " AND (%s, id) %s (%lld, %lld)", key, desc ? "<" : ">",
                  (long long)f->after_ts, (long long)f->after_id);
    }
    rc = rc ? rc
            : qnum(&x, " ORDER BY %s %s, id %s LIMIT %lld", key, desc ? "DESC" : "ASC",
                   desc ? "DESC" : "ASC", page_limit(f));
    rc = run(&x, rc, &ans);
    while (rc == LW_OK && lw__chq_next_row(&ans, &pos, fl, 7) == 7) {
        struct lw_store_template_row r;

        memset(&r, 0, sizeof(r));
        r.id = i64(fl[0]);
        r.text = lw__chq_hx(fl[1]);
        r.count = u64(fl[2]);
        r.first_ns = u64(fl[4]) > 0 ? i64(fl[3]) : LW_TS_UNKNOWN;
        r.last_ns = u64(fl[6]) > 0 ? i64(fl[5]) : LW_TS_UNKNOWN;
        if (r.text == NULL) {
            r.text = "";
        }
        rc = cb(opaque, &r);
    }
    lw__ch_buf_free(&ans);
    return rc;
}

/* ---- sources ---- */

int lw__chq_list_sources(struct lw_store *s, const struct lw_store_filter *f,
                         lw_store_source_cb cb, void *opaque)
{
    struct lw__ch_buf ans;
    struct ctx x;
    char *fl[4];
    size_t pos = 0;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    rc = qnum(&x, "SELECT hex(source), sum(count), uniqExact(template_id),"
                  " toInt64(max(window_start)) FROM %s.window_source_counts_v WHERE"
                  " toInt64(window_start) >= %lld AND toInt64(window_start) < %lld",
              x.v.db, ceil_s(f->from_ns), ceil_s(f->to_ns));
    if (rc == LW_OK && f->has_after && f->after_key != NULL) {
        rc = qstr(&x, " AND source > ", f->after_key);
    }
    rc = rc ? rc : qnum(&x, " GROUP BY source ORDER BY source LIMIT %lld", page_limit(f));
    rc = run(&x, rc, &ans);
    while (rc == LW_OK && lw__chq_next_row(&ans, &pos, fl, 4) == 4) {
        struct lw_store_source_row r;

        memset(&r, 0, sizeof(r));
        r.source = lw__chq_hx(fl[0]);
        r.lines = u64(fl[1]);
        r.templates = u64(fl[2]);
        r.last_ns = i64(fl[3]) * NS;
        if (r.source == NULL) {
            r.source = "";
        }
        rc = cb(opaque, &r);
    }
    lw__ch_buf_free(&ans);
    return rc;
}

/* ---- example lines ---- */

static int q_examples(struct ctx *x, int64_t template_id, int newest, int limit)
{
    int rc = qnum(x,
                  "SELECT ts_ns, hex(source), hex(line) FROM %s.template_examples_v"
                  " WHERE template_id = %lld ORDER BY ts_ns %s, writer %s, seq %s, ord %s"
                  " LIMIT %d",
                  x->v.db, (long long)template_id, newest ? "DESC" : "ASC",
                  newest ? "DESC" : "ASC", newest ? "DESC" : "ASC", newest ? "DESC" : "ASC",
                  limit);

    return rc;
}

/*
 * What SQLite keeps (the first examples_per_template - 1 lines and the newest one), read from
 * the rows every writer sent: the k - 1 oldest, then the newest.
 */
int lw__chq_list_examples(struct lw_store *s, int64_t template_id, lw_store_example_cb cb,
                          void *opaque)
{
    struct lw__ch_buf ans;
    struct lw__ch_buf last;
    struct ctx x;
    char *f[3 * 64];
    char *nf[3];
    size_t pos = 0;
    size_t n = 0;
    size_t i;
    int k;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    k = x.v.examples < 1 ? 1 : x.v.examples > 64 ? 64 : x.v.examples;
    memset(&last, 0, sizeof(last));
    rc = run(&x, q_examples(&x, template_id, 0, k), &ans);
    while (rc == LW_OK && n < (size_t)k && lw__chq_next_row(&ans, &pos, &f[n * 3], 3) == 3) {
        n++;
    }
    if (rc == LW_OK && n == (size_t)k) {
        lw__ch_buf_reset(&x.c->q);
        rc = run(&x, q_examples(&x, template_id, 1, 1), &last);
        pos = 0;
        if (rc == LW_OK && lw__chq_next_row(&last, &pos, nf, 3) == 3) {
            memcpy(&f[(n - 1) * 3], nf, sizeof(nf));
        }
    }
    for (i = 0; i < n && rc == LW_OK; i++) {
        struct lw_store_example_row r;

        memset(&r, 0, sizeof(r));
        r.ts_ns = i64(f[i * 3]);
        r.source = lw__chq_hx(f[i * 3 + 1]);
        r.line = lw__chq_hx(f[i * 3 + 2]);
        if (r.line == NULL) {
            r.line = "";
        }
        rc = cb(opaque, &r);
    }
    lw__ch_buf_free(&ans);
    lw__ch_buf_free(&last);
    return rc;
}

static uint32_t tid_hash(uint32_t tid)
{
    return tid * 2654435761u;
}

/* The slot of @tid in the handle's table (made or grown on demand); NULL on ENOMEM. */
static struct ex_slot *ex_slot(struct chq *c, uint32_t tid)
{
    size_t i;

    if (c->ex_cap == 0 || (c->ex_used + 1) * 4 > c->ex_cap * 3) {
        size_t cap = c->ex_cap == 0 ? 1024 : c->ex_cap * 2;
        struct ex_slot *nv;
        size_t j;

        if (cap > EX_SLOTS_MAX) {
            /* Full: start over (templates then send their first lines once more). */
            memset(c->ex, 0, c->ex_cap * sizeof(*c->ex));
            c->ex_used = 0;
            cap = c->ex_cap;
        }
        else {
            nv = lw_calloc(cap, sizeof(*nv));
            if (nv == NULL) {
                return NULL;
            }
            for (j = 0; j < c->ex_cap; j++) {
                if (c->ex[j].tid != 0) {
                    for (i = tid_hash(c->ex[j].tid) & (cap - 1); nv[i].tid != 0;
                         i = (i + 1) & (cap - 1)) {
                    }
                    nv[i] = c->ex[j];
                }
            }
            lw_free(c->ex);
            c->ex = nv;
            c->ex_cap = cap;
        }
    }
    for (i = tid_hash(tid) & (c->ex_cap - 1); c->ex[i].tid != 0 && c->ex[i].tid != tid;
         i = (i + 1) & (c->ex_cap - 1)) {
    }
    if (c->ex[i].tid == 0) {
        c->ex[i].tid = tid;
        c->ex_used++;
    }
    return &c->ex[i];
}

/*
 * The engine offers a template's first line of each group. The first examples_per_template of
 * them go to the store; after that one every EX_REFRESH_S seconds (the "newest" slot), so that
 * the table grows with time, not with the number of commits. Template id 0 (none) is skipped.
 */
int lw__chq_add_example(struct lw_store *s, uint32_t template_id, int64_t ts_ns,
                        const char *source, const char *line)
{
    struct ex_slot *e;
    struct timespec now;
    struct ctx x;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    if (line == NULL) {
        return msg(&x, LW_EINVAL, "%s", "no example line");
    }
    if (template_id == 0) {
        return LW_OK;
    }
    e = ex_slot(x.c, template_id);
    if (e == NULL) {
        return msg(&x, LW_ENOMEM, "%s", "out of memory");
    }
    clock_gettime(CLOCK_REALTIME, &now);
    if (e->n_sent >= (uint32_t)x.v.examples && now.tv_sec - e->last_s < EX_REFRESH_S) {
        return LW_OK;
    }
    rc = lw__ch_store_example_row(s, template_id, ts_ns, source, line);
    if (rc == LW_OK) {
        e->n_sent++;
        e->last_s = now.tv_sec;
    }
    return rc;
}

/* ---- feedback rules ---- */

static int rule_rows(struct lw__ch_buf *ans, lw_store_rule_cb cb, void *opaque, int *n)
{
    char *f[10];
    size_t pos = 0;
    int rc = LW_OK;

    while (rc == LW_OK && lw__chq_next_row(ans, &pos, f, 10) == 10) {
        struct lw_store_rule r;
        unsigned nulls = (unsigned)u64(f[9]);

        r.id = i64(f[0]);
        r.kind = lw__chq_hx(f[1]);
        r.template_id = i64(f[2]);
        r.source = (nulls & 1) ? NULL : lw__chq_hx(f[3]);
        r.detector = (nulls & 2) ? NULL : lw__chq_hx(f[4]);
        r.created_ns = i64(f[5]);
        r.expires_ns = i64(f[6]);
        r.note = (nulls & 4) ? NULL : lw__chq_hx(f[7]);
        r.incident = (nulls & 8) ? NULL : lw__chq_hx(f[8]);
        if (r.kind == NULL) {
            r.kind = "";
        }
        (*n)++;
        rc = cb(opaque, &r);
    }
    return rc;
}

/* Live rules (all, or @id when non-zero) by id. */
static int rules_query(struct ctx *x, int64_t id, struct lw__ch_buf *ans)
{
    int rc = qadd(x, "SELECT id, hex(r_kind), r_tid, hex(r_source), hex(r_detector), r_created,"
                     " r_expires, hex(r_note), hex(r_incident), r_nulls FROM " RULES_HEAD);

    if (rc == LW_OK && id != 0) {
        rc = qnum(x, " WHERE id = %lld", (long long)id);
    }
    rc = rc ? rc : qadd(x, RULES_TAIL " ORDER BY id");
    return run(x, rc, ans);
}

int lw__chq_list_rules(struct lw_store *s, lw_store_rule_cb cb, void *opaque)
{
    struct lw__ch_buf ans;
    struct ctx x;
    int n = 0;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    rc = rules_query(&x, 0, &ans);
    if (rc == LW_OK) {
        rc = rule_rows(&ans, cb, opaque, &n);
    }
    lw__ch_buf_free(&ans);
    return rc;
}

int lw__chq_get_rule(struct lw_store *s, int64_t id, lw_store_rule_cb cb, void *opaque)
{
    struct lw__ch_buf ans;
    struct ctx x;
    int n = 0;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    if (id == 0) {
        return LW_ENOENT;
    }
    rc = rules_query(&x, id, &ans);
    if (rc == LW_OK) {
        rc = rule_rows(&ans, cb, opaque, &n);
    }
    lw__ch_buf_free(&ans);
    return rc == LW_OK && n == 0 ? LW_ENOENT : rc;
}

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/*
 * A rule id: milliseconds since 2020 above 10 random bits. Rules are made by people, a few a
 * day, so that is unique in practice across instances, and it stays below 2^53: a browser's
 * JSON numbers hold it exactly (the dashboard deletes rules by id).
 */
static int64_t new_rule_id(struct chq *c)
{
    const int64_t epoch_ms = 1577836800000LL;
    uint16_t r = 0;
    int64_t id;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
        r = (uint16_t)wall_ns();
    }
    id = ((wall_ns() / 1000000 - epoch_ms) << 10) | (int64_t)(r & 0x3FF);
    if (id <= c->last_rule_id) {
        id = c->last_rule_id + 1;
    }
    c->last_rule_id = id;
    return id;
}

/* A TabSeparated string field and its tab; NULL is '' (the nulls column tells them apart). */
static int tsv_field(struct lw__ch_buf *b, const char *v)
{
    int rc = v != NULL ? lw__ch_buf_tsv(b, v, strlen(v)) : LW_OK;

    return rc ? rc : lw__ch_buf_put(b, "\t", 1);
}

/* One row into table rules: a rule (@deleted 0) or a tombstone for @r->id (@deleted 1). */
static int rule_insert(struct ctx *x, const struct lw_store_rule *r, int deleted, int64_t at_ns)
{
    struct lw__ch_buf b = {0};
    unsigned nulls = (r->source == NULL ? 1u : 0u) | (r->detector == NULL ? 2u : 0u) |
                     (r->note == NULL ? 4u : 0u) | (r->incident == NULL ? 8u : 0u);
    int rc;

    rc = lw__ch_buf_printf(&b, "%lld\t", (long long)r->id);
    rc = rc ? rc : tsv_field(&b, r->kind);
    rc = rc ? rc : lw__ch_buf_printf(&b, "%lld\t", (long long)r->template_id);
    rc = rc ? rc : tsv_field(&b, r->source);
    rc = rc ? rc : tsv_field(&b, r->detector);
    rc = rc ? rc
            : lw__ch_buf_printf(&b, "%lld\t%lld\t", (long long)r->created_ns,
                                (long long)r->expires_ns);
    rc = rc ? rc : tsv_field(&b, r->note);
    rc = rc ? rc : tsv_field(&b, r->incident);
    rc = rc ? rc : lw__ch_buf_printf(&b, "%u\t%d\t%lld\t", nulls, deleted, (long long)at_ns);
    rc = rc ? rc : lw__ch_buf_tsv(&b, x->v.writer, strlen(x->v.writer));
    rc = rc ? rc : lw__ch_buf_put(&b, "\n", 1);
    if (rc != LW_OK) {
        lw__ch_buf_free(&b);
        return msg(x, rc, "%s", "out of memory");
    }
    rc = lw__ch_insert(x->v.conn, x->v.db, "rules", &b, x->v.err, x->v.err_len);
    lw__ch_buf_free(&b);
    return rc;
}

int lw__chq_add_rule(struct lw_store *s, const struct lw_store_rule *r, int64_t *id_out)
{
    struct lw_store_rule row;
    struct ctx x;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    if (r == NULL || r->kind == NULL ||
        (strcmp(r->kind, "false_positive") != 0 && strcmp(r->kind, "expected") != 0)) {
        return msg(&x, LW_EINVAL, "%s", "add rule: kind must be false_positive or expected");
    }
    if (r->template_id == 0 && r->source == NULL && r->detector == NULL) {
        return msg(&x, LW_EINVAL, "%s",
                   "add rule: a rule needs a template, a source or a detector");
    }
    if (r->template_id < 0 || r->template_id > (int64_t)UINT32_MAX) {
        return msg(&x, LW_EINVAL, "add rule: no template %lld", (long long)r->template_id);
    }
    if (x.v.read_only) {
        return msg(&x, LW_EIO, "%s", "the store handle is read-only");
    }
    row = *r;
    row.id = new_rule_id(x.c);
    rc = rule_insert(&x, &row, 0, wall_ns());
    if (rc == LW_OK && id_out != NULL) {
        *id_out = row.id;
    }
    return rc;
}

static int count_cb(void *opaque, const struct lw_store_rule *r)
{
    (void)r;
    (*(int *)opaque)++;
    return 0;
}

int lw__chq_delete_rule(struct lw_store *s, int64_t id)
{
    struct lw_store_rule tomb;
    struct ctx x;
    int n = 0;
    int rc = ctx_init(s, &x);

    if (rc != LW_OK) {
        return rc;
    }
    if (x.v.read_only) {
        return msg(&x, LW_EIO, "%s", "the store handle is read-only");
    }
    rc = lw__chq_get_rule(s, id, count_cb, &n);
    if (rc != LW_OK) {
        return rc;
    }
    memset(&tomb, 0, sizeof(tomb));
    tomb.id = id;
    tomb.kind = "";
    /* A tombstone: immediate and final (no ALTER DELETE mutation to wait for). */
    return rule_insert(&x, &tomb, 1, wall_ns());
}
