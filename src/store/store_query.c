/*
 * The SQLite backend's query API block (lw_store.h "Query API"): series of counts summed from
 * the 10 s windows into coarser buckets, keyset pages of anomalies, alerts, incidents,
 * templates and sources, example lines per template, and feedback rules.
 *
 * SQL. Every statement is a constant string, cached in the handle (lw__store_sqlite_stmt) by
 * its slot, and every value is bound. A filter that is not given is bound as NULL (or 0) and
 * the statement says "?N IS NULL OR column = ?N", so one statement serves every combination of
 * filters; a sort order chooses among constant statements. Pages continue after the last row
 * seen with a row-value comparison on the sort key and the id ("(ts_ns, id) < (?, ?)"), which
 * SQLite answers from the index in O(log n + page) whatever the page number (no OFFSET).
 *
 * Buckets: a window's bucket is window_start_ns / step * step (integer division), so a step
 * that is a multiple of the window length sums whole windows.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"
#include "store/store_int.h"

enum qslot {
    Q_SERIES_ALL = 0,
    Q_SERIES_TPL,
    Q_SERIES_SRC,
    Q_SERIES_LEVEL,
    Q_SERIES_LEVELS,
    Q_SERIES_LEVELS_MIN5,
    Q_SERIES_ANOM,
    Q_SERIES_ANOM_ALL,
    Q_SPARK,
    Q_TOT_LINES,
    Q_TOT_TPLS,
    Q_TOT_SRCS,
    Q_TOT_ANOM,
    Q_TOT_OPEN,
    Q_ANOMALIES,
    Q_ANOMALY,
    Q_ALERTS,
    Q_INCIDENTS,
    Q_TPL_BASE,                   /* 16 slots: fts * 8 + sort * 2 + desc */
    Q_TPL_TOTAL = Q_TPL_BASE + 16,
    Q_TPL_TOTAL_FTS,
    Q_SRC_PAGE,
    Q_SRC_HOURS,
    Q_SRC_TPLS,
    Q_SRC_EDGES,
    Q_SRC_WIN,
    Q_EXAMPLES,
    Q_EX_COUNT,
    Q_EX_PUT,
    Q_RULES,
    Q_RULE,
    Q_RULE_ADD,
    Q_RULE_DEL,
    Q_ANOMALIES_TPL,
    Q_COUNT
};

_Static_assert(Q_COUNT <= LW__STORE_QSLOTS, "enough statement slots");

/* A template and the ids that became it (template_aliases: its earlier texts, merged ones). */
#define TPL_IDS(p) "(SELECT " p " UNION ALL SELECT from_id FROM template_aliases WHERE to_id = " p ")"

/*
 * Hours. A range is read in three parts: windows in [from, ?7), the hourly rollups in [?7, ?8)
 * and windows in [?8, to), where ?7 and ?8 (split_hours()) are whole hours inside the range and
 * before meta.rolled_upto_ns; when rollups cannot serve (a step that is not whole hours, or
 * nothing rolled yet) ?7 = ?8 = from and the windows answer alone. A week of one template is
 * then 168 rollup rows and a few hundred window rows instead of 60480 window rows.
 */
#define SPLIT(wsel, wtab, wcond, hsel, htab, hcond)                                         \
    "SELECT " wsel " FROM " wtab " WHERE " wcond                                          \
    " AND window_start_ns >= ?1 AND window_start_ns < ?7"                                  \
    " UNION ALL SELECT " wsel " FROM " wtab " WHERE " wcond                               \
    " AND window_start_ns >= ?8 AND window_start_ns < ?2"                                  \
    " UNION ALL SELECT " hsel " FROM " htab " WHERE " hcond                               \
    " AND hour_ns >= ?7 AND hour_ns < ?8"
#define BUCKETS(inner) \
    "SELECT (t / ?3) * ?3 AS b, sum(c) FROM (" inner ") GROUP BY b ORDER BY b"

static const char *const series_sql[] = {
    /*
     * Every line is counted once per window in window_level_counts too, which has a handful of
     * rows per window instead of one per active template: the same sums from far fewer rows.
     */
    [Q_SERIES_ALL] = BUCKETS(SPLIT("window_start_ns AS t, count AS c", "window_level_counts",
                                   "1", "hour_ns, count", "hour_level_counts", "1")),
    [Q_SERIES_TPL] = BUCKETS(SPLIT("window_start_ns AS t, count AS c", "window_counts",
                                   "template_id IN " TPL_IDS("?4"), "hour_ns, count",
                                   "hour_counts", "template_id IN " TPL_IDS("?4"))),
    [Q_SERIES_SRC] = BUCKETS(SPLIT("window_start_ns AS t, count AS c", "window_source_counts",
                                   "source = ?5 AND (?4 = 0 OR template_id = ?4)",
                                   "hour_ns, count", "hour_source_counts",
                                   "source = ?5 AND (?4 = 0 OR template_id = ?4)")),
    [Q_SERIES_LEVEL] = BUCKETS(SPLIT("window_start_ns AS t, count AS c", "window_level_counts",
                                     "level = ?6", "hour_ns, count", "hour_level_counts",
                                     "level = ?6")),
};

/*
 * A search (?1, a LIKE pattern) is answered from the trigram index templates_fts (schema 7)
 * when the text has 3 characters or more: ?6 is the text as one FTS5 phrase, which finds the
 * candidates, and the LIKE keeps exactly the rows it kept before (the index folds more case
 * than LIKE does). Shorter text has no trigram and scans the templates, as before.
 */
#define TPL_FTS " AND id IN (SELECT rowid FROM templates_fts WHERE templates_fts MATCH ?6)"
#define TPL_SELECT(fts) "SELECT id, text, count, first_seen_ns, last_seen_ns FROM templates" \
                   " WHERE (?1 IS NULL OR text LIKE ?1 ESCAPE '\\')" fts                 \
                   " AND (?2 = 0 OR id = ?2)"                                          \
                   " AND (?2 <> 0 OR id NOT IN (SELECT from_id FROM template_aliases))" \
                   " AND (?3 IS NULL OR "
#define TPL_PAGE(fts, expr, cmp, dir) \
    TPL_SELECT(fts) "(" expr ", id) " cmp " (?3, ?4)) ORDER BY " expr " " dir ", id " dir " LIMIT ?5"
#define TPL_SORTS(fts)                                      \
    TPL_PAGE(fts, "count", ">", "ASC"),                     \
    TPL_PAGE(fts, "count", "<", "DESC"),                    \
    TPL_PAGE(fts, "ifnull(last_seen_ns, 0)", ">", "ASC"),   \
    TPL_PAGE(fts, "ifnull(last_seen_ns, 0)", "<", "DESC"),  \
    TPL_PAGE(fts, "ifnull(first_seen_ns, 0)", ">", "ASC"),  \
    TPL_PAGE(fts, "ifnull(first_seen_ns, 0)", "<", "DESC"), \
    TPL_PAGE(fts, "id", ">", "ASC"),                        \
    TPL_PAGE(fts, "id", "<", "DESC")

/* By enum lw_store_tsort * 2 + desc; then the same with the trigram index. */
static const char *const tpl_sql[16] = {TPL_SORTS(""), TPL_SORTS(TPL_FTS)};

#define TPL_TOTAL(fts)                                                   \
    "SELECT count(*) FROM templates"                                     \
    " WHERE (?1 IS NULL OR text LIKE ?1 ESCAPE '\\')" fts              \
    " AND id NOT IN (SELECT from_id FROM template_aliases)"

#define ANOMALY_COLS                                                                           \
    "SELECT an.id, an.ts_ns, an.detector, an.kind, an.score, ifnull(an.template_id, 0),"      \
    " t.text, an.source, an.key, an.summary, an.explanation, an.samples, an.context"           \
    " FROM anomalies an LEFT JOIN templates t ON t.id = an.template_id"

#define ANOMALIES_SQL(tpl)                                                                     \
    ANOMALY_COLS                                                                               \
    " WHERE an.ts_ns >= ?1 AND an.ts_ns < ?2"                                                  \
    " AND (?3 IS NULL OR an.detector = ?3) AND (?4 IS NULL OR an.source = ?4)"                 \
    " AND " tpl " AND (?6 IS NULL OR an.kind = ?6)"                                            \
    " AND (?7 IS NULL OR an.score >= ?7)"                                                      \
    " AND (?8 IS NULL OR an.id IN (SELECT anomaly_id FROM alerts WHERE incident = ?8))"        \
    " AND (?9 IS NULL OR (an.ts_ns, an.id) < (?9, ?10))"                                       \
    " ORDER BY an.ts_ns DESC, an.id DESC LIMIT ?11"

static const char anomalies_sql[] = ANOMALIES_SQL("(?5 = 0 OR an.template_id = ?5)");
/*
 * One template's anomalies (a series' markers): "template_id = ?5" without the OR lets SQLite
 * walk anomalies_tpl instead of every anomaly of the range (100k in a week).
 */
static const char anomalies_tpl_sql[] = ANOMALIES_SQL("an.template_id = ?5");

static const char anomaly_sql[] = ANOMALY_COLS " WHERE an.id = ?1";

static const char alerts_sql[] =
    "SELECT al.id, an.ts_ns, al.created_ns, al.sent_ns, ifnull(al.anomaly_id, 0), al.severity,"
    " al.state, al.sink, al.incident, an.summary"
    " FROM anomalies an JOIN alerts al ON al.anomaly_id = an.id"
    " WHERE an.ts_ns >= ?1 AND an.ts_ns < ?2"
    " AND (?3 IS NULL OR al.severity = ?3) AND (?4 IS NULL OR an.detector = ?4)"
    " AND (?5 IS NULL OR an.source = ?5) AND (?6 = 0 OR an.template_id = ?6)"
    " AND (?7 IS NULL OR al.state = ?7) AND (?8 IS NULL OR al.incident = ?8)"
    " AND (?9 IS NULL OR (an.ts_ns, al.id) < (?9, ?10))"
    " ORDER BY an.ts_ns DESC, al.id DESC LIMIT ?11";

/*
 * Incidents come from the incidents table (schema step 5) that triggers keep up to date as
 * alerts and rules are written: an incident is listed when its span [first, last] meets the
 * range, with its whole counts (not only those of the range), so a page costs O(log n + page)
 * from the incidents_last index whatever the number of alerts. Its detector, source and
 * template are those of its first anomaly; it is resolved when a feedback rule names it.
 */
static const char incidents_sql[] =
    "SELECT i.incident, i.first_ns, i.last_ns, i.sev, i.detector, i.source,"
    " ifnull(i.template_id, 0), t.text, an.summary, i.n_alerts, i.n_anomalies,"
    " ifnull(i.rule_id, 0), r.kind"
    " FROM incidents i"
    " LEFT JOIN anomalies an ON an.id = i.first_anomaly"
    " LEFT JOIN templates t ON t.id = i.template_id"
    " LEFT JOIN rules r ON r.id = i.rule_id"
    " WHERE i.last_ns >= ?1 AND i.first_ns < ?2"
    " AND (?3 IS NULL OR i.detector = ?3) AND (?4 IS NULL OR i.source = ?4)"
    " AND (?5 = 0 OR i.template_id = ?5) AND (?6 IS NULL OR i.incident = ?6)"
    " AND (?7 = 0 OR i.sev = ?7)"
    " AND (?8 = 0 OR (?8 = 1 AND i.rule_id IS NULL) OR (?8 = 2 AND i.rule_id IS NOT NULL))"
    " AND (?9 IS NULL OR (i.last_ns, i.incident) < (?9, ?10))"
    " ORDER BY i.last_ns DESC, i.incident DESC LIMIT ?11";

#define RULE_COLS                                                                              \
    "SELECT id, kind, ifnull(template_id, 0), source, detector, created_ns, expires_ns, note," \
    " incident FROM rules"

static const char *const other_sql[Q_COUNT] = {
    [Q_SERIES_LEVELS] = "SELECT l, (t / ?3) * ?3 AS b, sum(c) FROM ("
                        SPLIT("level AS l, window_start_ns AS t, count AS c",
                              "window_level_counts", "1", "level, hour_ns, count",
                              "hour_level_counts", "1")
                        ") GROUP BY l, b ORDER BY l, b",
    /* The same from the 5-minute rollups (schema 7) for steps of whole 5 minutes. */
    [Q_SERIES_LEVELS_MIN5] = "SELECT l, (t / ?3) * ?3 AS b, sum(c) FROM ("
                             "SELECT level AS l, window_start_ns AS t, count AS c"
                             " FROM window_level_counts"
                             " WHERE window_start_ns >= ?1 AND window_start_ns < ?7"
                             " UNION ALL SELECT level, window_start_ns, count"
                             " FROM window_level_counts"
                             " WHERE window_start_ns >= ?8 AND window_start_ns < ?2"
                             " UNION ALL SELECT level, bucket_ns, count FROM min5_level_counts"
                             " WHERE bucket_ns >= ?7 AND bucket_ns < ?8"
                             ") GROUP BY l, b ORDER BY l, b",
    /*
     * Without a template or source: the 5-minute anomaly_buckets (schema 7, kept by triggers)
     * for the whole 5 minutes of the range when the step is whole 5 minutes, and the
     * anomalies_ts index alone for the rest ([?1, ?7) and [?8, ?2); bind_min5()), in time
     * order: lw__sq_series_anomalies() sums the buckets as the rows go by (a GROUP BY sorted
     * them all first). A week is 2016 bucket rows, not 100k anomalies.
     */
    [Q_SERIES_ANOM_ALL] = "SELECT ts_ns, 1 FROM anomalies WHERE ts_ns >= ?1 AND ts_ns < ?7"
                          " UNION ALL SELECT bucket_ns, n FROM anomaly_buckets"
                          " WHERE bucket_ns >= ?7 AND bucket_ns < ?8"
                          " UNION ALL SELECT ts_ns, 1 FROM anomalies"
                          " WHERE ts_ns >= ?8 AND ts_ns < ?2",
    [Q_SERIES_ANOM] = "SELECT (ts_ns / ?3) * ?3 AS b, count(*) FROM anomalies"
                      " WHERE ts_ns >= ?1 AND ts_ns < ?2"
                      " AND (?4 = 0 OR template_id = ?4) AND (?5 IS NULL OR source = ?5)"
                      " GROUP BY b ORDER BY b",
    [Q_SPARK] = BUCKETS(SPLIT("window_start_ns AS t, count AS c", "window_counts",
                              "template_id IN " TPL_IDS("?4"), "hour_ns, count",
                              "hour_counts", "template_id IN " TPL_IDS("?4"))),
    [Q_TOT_LINES] = "SELECT ifnull(sum(c), 0) FROM ("
                    SPLIT("count AS c", "window_level_counts", "1", "count",
                          "hour_level_counts", "1") ")",
    /*
     * Templates whose [first_seen, last_seen] meets the range: exact for a range that reaches
     * the newest data (the dashboard's "-1h" to now), an upper bound for a range in the past (a
     * template seen before and after it but not within it is counted). Since first <= last,
     * "last >= from AND first < to" is "last >= from" less "first >= to", and each of those is
     * a count over one index alone (templates_last, templates_first), a few ms for 50k
     * templates where a walk that read every matching row's first_seen took ~80 ms. Aliased
     * ids (few) are taken off the same way (CROSS JOIN: from the aliases, not every template).
     */
    [Q_TOT_TPLS] = "SELECT (SELECT count(*) FROM templates WHERE ifnull(last_seen_ns, 0) >= ?1)"
                   " - (SELECT count(*) FROM templates WHERE ifnull(first_seen_ns, 0) >= ?2)"
                   " - (SELECT count(*) FROM template_aliases a CROSS JOIN templates t"
                   "    ON t.id = a.from_id WHERE ifnull(t.last_seen_ns, 0) >= ?1"
                   "    AND ifnull(t.first_seen_ns, 0) < ?2)",
    /*
     * Sources are few and their rows many: hop from one source to the next through the
     * window_source_counts_src index (a hand-made skip-scan) and probe each for a row in the
     * range, two seeks per source instead of a scan of every row of the range.
     */
    [Q_TOT_SRCS] = "WITH RECURSIVE s(src) AS ("
                   " SELECT min(source) FROM window_source_counts"
                   " UNION ALL"
                   " SELECT (SELECT min(source) FROM window_source_counts WHERE source > s.src)"
                   " FROM s WHERE s.src IS NOT NULL)"
                   " SELECT count(*) FROM s WHERE s.src IS NOT NULL AND EXISTS (SELECT 1"
                   " FROM window_source_counts w WHERE w.source = s.src"
                   " AND w.window_start_ns >= ?1 AND w.window_start_ns < ?2)",
    /* As Q_SERIES_ANOM_ALL: the buckets and the index for the partial 5 minutes. */
    [Q_TOT_ANOM] = "SELECT (SELECT count(*) FROM anomalies WHERE ts_ns >= ?1 AND ts_ns < ?7)"
                   " + (SELECT ifnull(sum(n), 0) FROM anomaly_buckets"
                   "    WHERE bucket_ns >= ?7 AND bucket_ns < ?8)"
                   " + (SELECT count(*) FROM anomalies WHERE ts_ns >= ?8 AND ts_ns < ?2)",
    [Q_TOT_OPEN] = "SELECT count(*) FROM incidents"
                   " WHERE last_ns >= ?1 AND first_ns < ?2 AND rule_id IS NULL",
    [Q_TPL_TOTAL] = TPL_TOTAL(""),
    [Q_TPL_TOTAL_FTS] = TPL_TOTAL(TPL_FTS),
    /* Sources (schema 7 summaries): see lw__sq_list_sources(). */
    [Q_SRC_PAGE] = "SELECT source FROM sources WHERE (?3 IS NULL OR source > ?3)"
                   " AND last_ns >= ?1 AND first_ns < ?2 ORDER BY source",
    [Q_SRC_HOURS] = "SELECT hour_ns, lines, last_ns FROM source_hours"
                    " WHERE source = ?1 AND hour_ns >= ?2 AND hour_ns <= ?3",
    [Q_SRC_TPLS] = "SELECT count(*) FROM source_templates"
                   " WHERE source = ?1 AND last_ns >= ?2 AND first_ns < ?3",
    [Q_SRC_EDGES] = "SELECT source, count, window_start_ns FROM window_source_counts"
                    " WHERE window_start_ns >= ?1 AND window_start_ns < ?2",
    [Q_SRC_WIN] = "SELECT ifnull(sum(count), 0), max(window_start_ns) FROM window_source_counts"
                  " WHERE source = ?1 AND window_start_ns >= ?2 AND window_start_ns < ?3",
    [Q_EXAMPLES] = "SELECT ts_ns, source, line FROM template_examples WHERE template_id = ?1"
                   " ORDER BY slot",
    [Q_EX_COUNT] = "SELECT count(*) FROM template_examples WHERE template_id = ?1",
    [Q_EX_PUT] = "INSERT OR REPLACE INTO template_examples(template_id, slot, ts_ns, source,"
                 " line) VALUES (?1, ?2, ?3, ?4, ?5)",
    [Q_RULES] = RULE_COLS " ORDER BY id",
    [Q_RULE] = RULE_COLS " WHERE id = ?1",
    [Q_RULE_ADD] = "INSERT INTO rules(kind, template_id, source, detector, created_ns,"
                   " expires_ns, note, incident) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_RULE_DEL] = "DELETE FROM rules WHERE id = ?1",
};

static sqlite3_stmt *get(struct lw_store *s, int slot, const char *sql, int *rc)
{
    return lw__store_sqlite_stmt(s, slot, sql, rc);
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v != NULL) {
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    }
    else {
        sqlite3_bind_null(st, i);
    }
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int64_t col_ts(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? LW_TS_UNKNOWN
                                                     : sqlite3_column_int64(st, i);
}

/*
 * Steps @st to the end, calling @row for each row; @row returns what the caller's callback
 * returned (non-zero stops). Resets @st in every case.
 */
static int each_row(struct lw_store *s, sqlite3_stmt *st, const char *what,
                    int (*row)(sqlite3_stmt *st, void *ctx), void *ctx)
{
    int rc;

    for (;;) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int r = row(st, ctx);

            if (r != 0) {
                done(st);
                return r;
            }
            continue;
        }
        if (rc == SQLITE_DONE) {
            done(st);
            return LW_OK;
        }
        rc = lw__store_sqlite_fail(s, rc, what);
        done(st);
        return rc;
    }
}

/* ---- series ---- */

struct point_ctx {
    lw_store_point_cb cb;
    void *opaque;
    int64_t key;
    int has_key_col;              /* column 0 is the key, then bucket and count */
};

static int point_row(sqlite3_stmt *st, void *p)
{
    struct point_ctx *c = p;
    int o = c->has_key_col ? 1 : 0;
    int64_t key = c->has_key_col ? sqlite3_column_int64(st, 0) : c->key;

    return c->cb(c->opaque, key, sqlite3_column_int64(st, o),
                 (uint64_t)sqlite3_column_int64(st, o + 1));
}

static int check_series(struct lw_store *s, const struct lw_store_series_q *q)
{
    if (q == NULL || q->step_ns <= 0 || q->to_ns < q->from_ns) {
        lw__store_sqlite_msg(s, "series: bad range or step");
        return LW_EINVAL;
    }
    return LW_OK;
}

#define HOUR_NS (3600LL * 1000000000LL)
#define MIN5_NS (300LL * 1000000000LL)

/*
 * Binds ?7 and ?8 of a SPLIT statement: the whole hours of [@from, @to) that the rollups hold
 * (before meta.rolled_upto_ns), or @from twice when they cannot serve: a step that is not whole
 * hours (@step 0: no buckets), a range before 1970, or nothing rolled yet.
 */
static void bind_split_by(struct lw_store *s, sqlite3_stmt *st, int64_t from, int64_t to,
                          int64_t step, int64_t gran)
{
    int64_t rolled = 0;
    int64_t h1 = from;
    int64_t h2 = from;

    if (sqlite3_bind_parameter_count(st) < 8) {
        return;
    }
    if ((step == 0 || step % gran == 0) && from >= 0 && to > from &&
        lw__store_meta_get_int(lw__store_sqlite_db(s), "rolled_upto_ns", &rolled) == LW_OK) {
        int64_t a = (from + gran - 1) / gran * gran;
        int64_t b = to / gran * gran;

        if (b > rolled) {
            b = rolled;
        }
        if (a < b) {
            h1 = a;
            h2 = b;
        }
    }
    sqlite3_bind_int64(st, 7, h1);
    sqlite3_bind_int64(st, 8, h2);
}

static void bind_split(struct lw_store *s, sqlite3_stmt *st, int64_t from, int64_t to,
                       int64_t step)
{
    bind_split_by(s, st, from, to, step, HOUR_NS);
}

/*
 * Binds ?7 and ?8 to the whole 5 minutes of [@from, @to) when @step is whole 5 minutes (or 0:
 * a total), for anomaly_buckets, which are exact at any time (no rolling): else @from twice.
 */
static void bind_min5(sqlite3_stmt *st, int64_t from, int64_t to, int64_t step)
{
    int64_t a = from, b = from;

    if ((step == 0 || step % MIN5_NS == 0) && from >= 0 && to > from) {
        int64_t x = (from + MIN5_NS - 1) / MIN5_NS * MIN5_NS;
        int64_t y = to / MIN5_NS * MIN5_NS;

        if (x < y) {
            a = x;
            b = y;
        }
    }
    sqlite3_bind_int64(st, 7, a);
    sqlite3_bind_int64(st, 8, b);
}

static void bind_series(struct lw_store *s, sqlite3_stmt *st, const struct lw_store_series_q *q)
{
    sqlite3_bind_int64(st, 1, q->from_ns);
    sqlite3_bind_int64(st, 2, q->to_ns);
    sqlite3_bind_int64(st, 3, q->step_ns);
    bind_split(s, st, q->from_ns, q->to_ns, q->step_ns);
}

/* Checks @q and returns the statement of @slot with its range and step bound, or NULL. */
static sqlite3_stmt *series_stmt(struct lw_store *s, const struct lw_store_series_q *q, int slot,
                                 int *rc)
{
    sqlite3_stmt *st;

    *rc = check_series(s, q);
    if (*rc != LW_OK) {
        return NULL;
    }
    st = get(s, slot, other_sql[slot], rc);
    if (st != NULL) {
        bind_series(s, st, q);
    }
    return st;
}

int lw__sq_series(struct lw_store *s, const struct lw_store_series_q *q, lw_store_point_cb cb,
                  void *opaque)
{
    struct point_ctx c = {cb, opaque, 0, 0};
    sqlite3_stmt *st;
    int slot;
    int rc = check_series(s, q);

    if (rc != LW_OK) {
        return rc;
    }
    if (q->level >= 0) {
        if (q->template_id != 0 || q->source != NULL) {
            lw__store_sqlite_msg(s, "series: a level goes with no template or source");
            return LW_EINVAL;
        }
        slot = Q_SERIES_LEVEL;
    }
    else if (q->source != NULL) {
        slot = Q_SERIES_SRC;
    }
    else if (q->template_id != 0) {
        slot = Q_SERIES_TPL;
    }
    else {
        slot = Q_SERIES_ALL;
    }
    st = get(s, slot, series_sql[slot], &rc);
    if (st == NULL) {
        return rc;
    }
    bind_series(s, st, q);
    if (slot == Q_SERIES_TPL || slot == Q_SERIES_SRC) {
        sqlite3_bind_int64(st, 4, q->template_id);
    }
    if (slot == Q_SERIES_SRC) {
        sqlite3_bind_text(st, 5, q->source, -1, SQLITE_STATIC);
    }
    if (slot == Q_SERIES_LEVEL) {
        sqlite3_bind_int(st, 6, q->level);
    }
    return each_row(s, st, "series", point_row, &c);
}

int lw__sq_series_levels(struct lw_store *s, const struct lw_store_series_q *q,
                         lw_store_point_cb cb, void *opaque)
{
    struct point_ctx c = {cb, opaque, 0, 1};
    int min5 = q != NULL && q->step_ns > 0 && q->step_ns % HOUR_NS != 0 &&
               q->step_ns % MIN5_NS == 0;
    int rc;
    sqlite3_stmt *st = series_stmt(s, q, min5 ? Q_SERIES_LEVELS_MIN5 : Q_SERIES_LEVELS, &rc);

    if (st == NULL) {
        return rc;
    }
    if (min5) {
        bind_split_by(s, st, q->from_ns, q->to_ns, q->step_ns, MIN5_NS);
    }
    return each_row(s, st, "series by level", point_row, &c);
}

/*
 * Sums the rows of @st (a time and a count, times ascending) per bucket of @step (t / step *
 * step, as the SQL does: ascending times give non-decreasing buckets) and calls @cb once per
 * bucket with a count (an empty 5-minute bucket, n = 0, makes none).
 */
static int bucket_rows(struct lw_store *s, sqlite3_stmt *st, int64_t step, lw_store_point_cb cb,
                       void *opaque)
{
    int64_t cur = 0;
    uint64_t n = 0;
    int rc;

    for (;;) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            int64_t b = sqlite3_column_int64(st, 0) / step * step;
            int64_t k = sqlite3_column_int64(st, 1);

            if (n > 0 && b != cur) {
                rc = cb(opaque, 0, cur, n);
                if (rc != 0) {
                    done(st);
                    return rc;
                }
                n = 0;
            }
            cur = b;
            n += k > 0 ? (uint64_t)k : 0;
            continue;
        }
        rc = rc == SQLITE_DONE ? LW_OK : lw__store_sqlite_fail(s, rc, "anomaly series");
        done(st);
        if (rc == LW_OK && n > 0) {
            rc = cb(opaque, 0, cur, n);
        }
        return rc;
    }
}

int lw__sq_series_anomalies(struct lw_store *s, const struct lw_store_series_q *q,
                            lw_store_point_cb cb, void *opaque)
{
    struct point_ctx c = {cb, opaque, 0, 0};
    int rc;
    int all = q != NULL && q->template_id == 0 && q->source == NULL;
    sqlite3_stmt *st = series_stmt(s, q, all ? Q_SERIES_ANOM_ALL : Q_SERIES_ANOM, &rc);

    if (st == NULL) {
        return rc;
    }
    if (all) {
        bind_min5(st, q->from_ns, q->to_ns, q->step_ns);
        return bucket_rows(s, st, q->step_ns, cb, opaque);
    }
    sqlite3_bind_int64(st, 4, q->template_id);
    bind_opt_text(st, 5, q->source);
    return each_row(s, st, "anomaly series", point_row, &c);
}

int lw__sq_sparklines(struct lw_store *s, const int64_t *ids, size_t n_ids,
                      const struct lw_store_series_q *q, lw_store_point_cb cb, void *opaque)
{
    struct point_ctx c = {cb, opaque, 0, 0};
    sqlite3_stmt *st;
    size_t i;
    int rc = check_series(s, q);

    if (rc != LW_OK) {
        return rc;
    }
    if (n_ids > 1000) {
        lw__store_sqlite_msg(s, "sparklines: more than 1000 ids");
        return LW_EINVAL;
    }
    st = get(s, Q_SPARK, other_sql[Q_SPARK], &rc);
    if (st == NULL) {
        return rc;
    }
    /* One indexed range per id (window_counts_tpl) rather than one scan of every template. */
    for (i = 0; i < n_ids; i++) {
        bind_series(s, st, q);
        sqlite3_bind_int64(st, 4, ids[i]);
        c.key = ids[i];
        rc = each_row(s, st, "sparklines", point_row, &c);
        if (rc != LW_OK) {
            return rc;
        }
    }
    return LW_OK;
}

static int one_u64(struct lw_store *s, int slot, int64_t from_ns, int64_t to_ns, uint64_t *out)
{
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = get(s, slot, other_sql[slot], &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, from_ns);
    sqlite3_bind_int64(st, 2, to_ns);
    if (slot == Q_TOT_ANOM) {
        bind_min5(st, from_ns, to_ns, 0);
    }
    else {
        bind_split(s, st, from_ns, to_ns, 0);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = (uint64_t)sqlite3_column_int64(st, 0);
        rc = LW_OK;
    }
    else if (rc == SQLITE_DONE) {
        *out = 0;
        rc = LW_OK;
    }
    else {
        rc = lw__store_sqlite_fail(s, rc, "totals");
    }
    done(st);
    return rc;
}

int lw__sq_totals(struct lw_store *s, int64_t from_ns, int64_t to_ns, struct lw_store_totals *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    rc = one_u64(s, Q_TOT_LINES, from_ns, to_ns, &out->lines);
    if (rc == LW_OK) {
        rc = one_u64(s, Q_TOT_TPLS, from_ns, to_ns, &out->templates);
    }
    if (rc == LW_OK) {
        rc = one_u64(s, Q_TOT_SRCS, from_ns, to_ns, &out->sources);
    }
    if (rc == LW_OK) {
        rc = one_u64(s, Q_TOT_ANOM, from_ns, to_ns, &out->anomalies);
    }
    if (rc == LW_OK) {
        rc = one_u64(s, Q_TOT_OPEN, from_ns, to_ns, &out->open_incidents);
    }
    return rc;
}

/* ---- lists ---- */

static int64_t page_limit(const struct lw_store_filter *f)
{
    return f->limit == 0 || f->limit > 100000 ? 100000 : (int64_t)f->limit;
}

static void bind_after(sqlite3_stmt *st, int i, const struct lw_store_filter *f)
{
    if (f->has_after) {
        sqlite3_bind_int64(st, i, f->after_ts);
        sqlite3_bind_int64(st, i + 1, f->after_id);
    }
}

struct anomaly_ctx {
    lw_store_anomaly_cb cb;
    void *opaque;
    int n;
};

static int anomaly_row(sqlite3_stmt *st, void *p)
{
    struct anomaly_ctx *c = p;
    struct lw_store_anomaly_row r;

    r.id = sqlite3_column_int64(st, 0);
    r.ts_ns = sqlite3_column_int64(st, 1);
    r.detector = col_text(st, 2);
    r.kind = col_text(st, 3);
    r.score = sqlite3_column_double(st, 4);
    r.template_id = sqlite3_column_int64(st, 5);
    r.template_text = col_text(st, 6);
    r.source = col_text(st, 7);
    r.key = col_text(st, 8);
    r.summary = col_text(st, 9);
    r.explanation_json = col_text(st, 10);
    r.samples_json = col_text(st, 11);
    r.context_json = col_text(st, 12);
    c->n++;
    return c->cb(c->opaque, &r);
}

int lw__sq_list_anomalies(struct lw_store *s, const struct lw_store_filter *f,
                          lw_store_anomaly_cb cb, void *opaque)
{
    struct anomaly_ctx c = {cb, opaque, 0};
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = f->template_id != 0 ? get(s, Q_ANOMALIES_TPL, anomalies_tpl_sql, &rc)
                             : get(s, Q_ANOMALIES, anomalies_sql, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, f->from_ns);
    sqlite3_bind_int64(st, 2, f->to_ns);
    bind_opt_text(st, 3, f->detector);
    bind_opt_text(st, 4, f->source);
    sqlite3_bind_int64(st, 5, f->template_id);
    bind_opt_text(st, 6, f->kind);
    if (f->has_min_score) {
        sqlite3_bind_double(st, 7, f->min_score);
    }
    bind_opt_text(st, 8, f->incident);
    bind_after(st, 9, f);
    sqlite3_bind_int64(st, 11, page_limit(f));
    return each_row(s, st, "anomalies", anomaly_row, &c);
}

int lw__sq_get_anomaly(struct lw_store *s, int64_t id, lw_store_anomaly_cb cb, void *opaque)
{
    struct anomaly_ctx c = {cb, opaque, 0};
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = get(s, Q_ANOMALY, anomaly_sql, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = each_row(s, st, "anomaly", anomaly_row, &c);
    return rc == LW_OK && c.n == 0 ? LW_ENOENT : rc;
}

struct alert_ctx {
    lw_store_alert_cb cb;
    void *opaque;
};

static int alert_row(sqlite3_stmt *st, void *p)
{
    struct alert_ctx *c = p;
    struct lw_store_alert_row r;

    r.id = sqlite3_column_int64(st, 0);
    r.ts_ns = sqlite3_column_int64(st, 1);
    r.created_ns = sqlite3_column_int64(st, 2);
    r.sent_ns = sqlite3_column_int64(st, 3);
    r.anomaly_id = sqlite3_column_int64(st, 4);
    r.severity = col_text(st, 5);
    r.state = col_text(st, 6);
    r.sink = col_text(st, 7);
    r.incident = col_text(st, 8);
    r.summary = col_text(st, 9);
    return c->cb(c->opaque, &r);
}

int lw__sq_list_alerts(struct lw_store *s, const struct lw_store_filter *f, lw_store_alert_cb cb,
                       void *opaque)
{
    struct alert_ctx c = {cb, opaque};
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = get(s, Q_ALERTS, alerts_sql, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, f->from_ns);
    sqlite3_bind_int64(st, 2, f->to_ns);
    bind_opt_text(st, 3, f->severity);
    bind_opt_text(st, 4, f->detector);
    bind_opt_text(st, 5, f->source);
    sqlite3_bind_int64(st, 6, f->template_id);
    bind_opt_text(st, 7, f->state);
    bind_opt_text(st, 8, f->incident);
    bind_after(st, 9, f);
    sqlite3_bind_int64(st, 11, page_limit(f));
    return each_row(s, st, "alerts", alert_row, &c);
}

struct incident_ctx {
    lw_store_incident_cb cb;
    void *opaque;
};

static int incident_row(sqlite3_stmt *st, void *p)
{
    struct incident_ctx *c = p;
    struct lw_store_incident_row r;

    r.incident = col_text(st, 0);
    r.first_ns = sqlite3_column_int64(st, 1);
    r.last_ns = sqlite3_column_int64(st, 2);
    r.severity = sqlite3_column_int(st, 3) >= 2 ? "critical" : "warning";
    r.detector = col_text(st, 4);
    r.source = col_text(st, 5);
    r.template_id = sqlite3_column_int64(st, 6);
    r.template_text = col_text(st, 7);
    r.summary = col_text(st, 8);
    r.n_alerts = (uint64_t)sqlite3_column_int64(st, 9);
    r.n_anomalies = (uint64_t)sqlite3_column_int64(st, 10);
    r.rule_id = sqlite3_column_int64(st, 11);
    r.rule_kind = col_text(st, 12);
    return c->cb(c->opaque, &r);
}

int lw__sq_list_incidents(struct lw_store *s, const struct lw_store_filter *f,
                          lw_store_incident_cb cb, void *opaque)
{
    struct incident_ctx c = {cb, opaque};
    sqlite3_stmt *st;
    int sev = 0;
    int state = 0;
    int rc = LW_OK;

    if (f->severity != NULL) {
        sev = strcmp(f->severity, "critical") == 0 ? 2 : strcmp(f->severity, "warning") == 0 ? 1
                                                                                            : -1;
    }
    if (f->state != NULL) {
        state = strcmp(f->state, "open") == 0 ? 1 : strcmp(f->state, "resolved") == 0 ? 2 : 0;
    }
    st = get(s, Q_INCIDENTS, incidents_sql, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, f->from_ns);
    sqlite3_bind_int64(st, 2, f->to_ns);
    bind_opt_text(st, 3, f->detector);
    bind_opt_text(st, 4, f->source);
    sqlite3_bind_int64(st, 5, f->template_id);
    bind_opt_text(st, 6, f->incident);
    sqlite3_bind_int(st, 7, sev);
    sqlite3_bind_int(st, 8, state);
    if (f->has_after) {
        sqlite3_bind_int64(st, 9, f->after_ts);
        sqlite3_bind_text(st, 10, f->after_key != NULL ? f->after_key : "", -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 11, page_limit(f));
    return each_row(s, st, "incidents", incident_row, &c);
}

struct template_ctx {
    lw_store_template_cb cb;
    void *opaque;
};

static int template_row(sqlite3_stmt *st, void *p)
{
    struct template_ctx *c = p;
    struct lw_store_template_row r;

    r.id = sqlite3_column_int64(st, 0);
    r.text = col_text(st, 1);
    r.count = (uint64_t)sqlite3_column_int64(st, 2);
    r.first_ns = col_ts(st, 3);
    r.last_ns = col_ts(st, 4);
    return c->cb(c->opaque, &r);
}

/*
 * @q as a LIKE pattern "%q%" with '\', '%' and '_' escaped (bound, never SQL text), in @buf;
 * NULL when @q is NULL or longer than the buffer allows (LW_EINVAL). LIKE folds ASCII case as
 * lower() does, and matches without building a lowered copy of every template's text.
 */
static const char *like_pattern(const char *q, char *buf, size_t cap)
{
    size_t n = 0;

    if (q == NULL || cap < 3) {
        return NULL;
    }
    buf[n++] = '%';
    for (; *q != '\0'; q++) {
        if (n + 3 >= cap) {
            return NULL;
        }
        if (*q == '\\' || *q == '%' || *q == '_') {
            buf[n++] = '\\';
        }
        buf[n++] = *q;
    }
    buf[n++] = '%';
    buf[n] = '\0';
    return buf;
}

/*
 * @q as one FTS5 phrase ("q" with '"' doubled) in @buf when it has 3 characters or more (a
 * trigram to look up), else NULL: such text is searched without the index.
 */
static const char *fts_phrase(const char *q, char *buf, size_t cap)
{
    size_t n = 0;
    size_t chars = 0;

    if (q == NULL || cap < 3) {
        return NULL;
    }
    buf[n++] = '"';
    for (; *q != '\0'; q++) {
        if (n + 3 >= cap) {
            return NULL;
        }
        if (*q == '"') {
            buf[n++] = '"';
        }
        chars += ((unsigned char)*q & 0xc0) != 0x80; /* UTF-8 continuation bytes are no char */
        buf[n++] = *q;
    }
    buf[n++] = '"';
    buf[n] = '\0';
    return chars >= 3 ? buf : NULL;
}

int lw__sq_list_templates(struct lw_store *s, const char *q, enum lw_store_tsort sort, int desc,
                          const struct lw_store_filter *f, lw_store_template_cb cb, void *opaque,
                          uint64_t *total)
{
    char pat[2 * 1024 + 3];
    char phrase[2 * 1024 + 3];
    const char *fts = NULL;
    struct template_ctx c = {cb, opaque};
    sqlite3_stmt *st;
    int slot;
    int rc = LW_OK;

    if ((int)sort < 0 || sort > LW_STORE_TSORT_ID) {
        lw__store_sqlite_msg(s, "templates: bad sort");
        return LW_EINVAL;
    }
    if (q != NULL) {
        fts = fts_phrase(q, phrase, sizeof(phrase));
        q = like_pattern(q, pat, sizeof(pat));
        if (q == NULL) {
            lw__store_sqlite_msg(s, "templates: search text too long");
            return LW_EINVAL;
        }
    }
    if (total != NULL) {
        slot = fts != NULL ? Q_TPL_TOTAL_FTS : Q_TPL_TOTAL;
        st = get(s, slot, other_sql[slot], &rc);
        if (st == NULL) {
            return rc;
        }
        bind_opt_text(st, 1, q);
        if (fts != NULL) {
            sqlite3_bind_text(st, 6, fts, -1, SQLITE_STATIC);
        }
        rc = sqlite3_step(st);
        *total = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? LW_OK : lw__store_sqlite_fail(s, rc,
                                                                                   "templates");
        done(st);
        if (rc != LW_OK) {
            return rc;
        }
    }
    slot = (fts != NULL ? 8 : 0) + (int)sort * 2 + (desc ? 1 : 0);
    st = get(s, Q_TPL_BASE + slot, tpl_sql[slot], &rc);
    if (st == NULL) {
        return rc;
    }
    bind_opt_text(st, 1, q);
    sqlite3_bind_int64(st, 2, f->template_id);
    bind_after(st, 3, f);
    sqlite3_bind_int64(st, 5, page_limit(f));
    if (fts != NULL) {
        sqlite3_bind_text(st, 6, fts, -1, SQLITE_STATIC);
    }
    return each_row(s, st, "templates", template_row, &c);
}

/*
 * Lines and newest window per source of a stretch of windows (Q_SRC_EDGES), summed in C as the
 * rows go by in primary-key order: a GROUP BY on the source sorted every row first (~50 ms
 * for an hour of 400 sources' windows). An open-addressing table of source names.
 */
struct src_edge {
    char *source;                 /* owned; NULL: a free slot */
    uint64_t lines;
    int64_t last_ns;
};

struct src_edges {
    struct src_edge *v;
    size_t n, cap;                /* cap: 0 or a power of 2 */
};

static uint64_t name_hash(const char *p)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    }
    return h;
}

static struct src_edge *src_edge_slot(const struct src_edges *e, const char *source)
{
    size_t i;

    if (e->cap == 0) {
        return NULL;
    }
    i = (size_t)name_hash(source) & (e->cap - 1);
    while (e->v[i].source != NULL && strcmp(e->v[i].source, source) != 0) {
        i = (i + 1) & (e->cap - 1);
    }
    return &e->v[i];
}

static int src_edge_grow(struct src_edges *e)
{
    struct src_edges g = {NULL, 0, e->cap ? e->cap * 2 : 256};
    size_t i;

    g.v = lw_calloc(g.cap, sizeof(*g.v));
    if (g.v == NULL) {
        return LW_ENOMEM;
    }
    for (i = 0; i < e->cap; i++) {
        if (e->v[i].source != NULL) {
            *src_edge_slot(&g, e->v[i].source) = e->v[i];
            g.n++;
        }
    }
    lw_free(e->v);
    *e = g;
    return LW_OK;
}

static int src_edge_row(sqlite3_stmt *st, void *p)
{
    struct src_edges *e = p;
    const char *name = col_text(st, 0);
    int64_t t = sqlite3_column_int64(st, 2);
    struct src_edge *x;

    if (name == NULL) {
        return 0;
    }
    if ((e->n + 1) * 2 > e->cap && src_edge_grow(e) != LW_OK) {
        return LW_ENOMEM;
    }
    x = src_edge_slot(e, name);
    if (x->source == NULL) {
        size_t len = strlen(name);

        x->source = lw_malloc(len + 1);
        if (x->source == NULL) {
            return LW_ENOMEM;
        }
        memcpy(x->source, name, len + 1);
        x->lines = 0;
        x->last_ns = t;
        e->n++;
    }
    x->lines += (uint64_t)sqlite3_column_int64(st, 1);
    x->last_ns = t > x->last_ns ? t : x->last_ns;
    return 0;
}

static const struct src_edge *src_edge_find(const struct src_edges *e, const char *source)
{
    const struct src_edge *x = src_edge_slot(e, source);

    return x != NULL && x->source != NULL ? x : NULL;
}

static void src_edges_free(struct src_edges *e)
{
    size_t i;

    for (i = 0; i < e->cap; i++) {
        lw_free(e->v[i].source);
    }
    lw_free(e->v);
}

/* Steps @st (one row of two integers) into @a and @b (INT64_MIN for NULL); resets @st. */
static int two_i64(struct lw_store *s, sqlite3_stmt *st, int64_t *a, int64_t *b)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *a = sqlite3_column_int64(st, 0);
        if (b != NULL) {
            *b = sqlite3_column_type(st, 1) == SQLITE_NULL ? INT64_MIN
                                                           : sqlite3_column_int64(st, 1);
        }
        rc = LW_OK;
    }
    else {
        rc = rc == SQLITE_DONE ? LW_OK : lw__store_sqlite_fail(s, rc, "sources");
    }
    done(st);
    return rc;
}

/* How a source list reads [from, to) (lw__sq_list_sources()). */
struct src_plan {
    int64_t from, to;
    int64_t h_lo, h_hi;           /* source_hours rows of hours h_lo ..= h_hi; none if h_lo > h_hi */
    int64_t h0;                   /* the hour holding from, when its row is read (minus) */
    int64_t h2;                   /* the hour holding to, when it is only partly in the range */
    int minus;                    /* the edge scan is [h0, from), taken off h0's row */
};

/* One source's lines and newest window in the range; @e is the edge scan. */
static int src_lines(struct lw_store *s, const struct src_plan *p, const struct src_edges *e,
                     const char *source, int64_t *lines, int64_t *last)
{
    const struct src_edge *edge = src_edge_find(e, source);
    sqlite3_stmt *st;
    int64_t n = 0, t = INT64_MIN;
    int rc = LW_OK;

    if (p->h_lo <= p->h_hi) {
        st = get(s, Q_SRC_HOURS, other_sql[Q_SRC_HOURS], &rc);
        if (st == NULL) {
            return rc;
        }
        sqlite3_bind_text(st, 1, source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->h_lo);
        sqlite3_bind_int64(st, 3, p->h_hi);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t h = sqlite3_column_int64(st, 0);
            int64_t hl = sqlite3_column_int64(st, 1);
            int64_t ht = sqlite3_column_int64(st, 2);

            if (p->minus && h == p->h0) {
                n += hl;          /* less the edge below */
                if (ht >= p->from) {
                    t = ht > t ? ht : t;
                }
            }
            else if (h == p->h2 && ht >= p->to) {
                /* Lines at or after 'to' in its last hour (clocks ahead): ask its windows. */
                sqlite3_stmt *w = get(s, Q_SRC_WIN, other_sql[Q_SRC_WIN], &rc);
                int64_t wl = 0, wt = INT64_MIN;

                if (w == NULL) {
                    break;
                }
                sqlite3_bind_text(w, 1, source, -1, SQLITE_STATIC);
                sqlite3_bind_int64(w, 2, h);
                sqlite3_bind_int64(w, 3, p->to);
                rc = two_i64(s, w, &wl, &wt);
                if (rc != LW_OK) {
                    break;
                }
                rc = SQLITE_ROW;
                n += wl;
                t = wt > t ? wt : t;
            }
            else {
                n += hl;
                t = ht > t ? ht : t;
            }
        }
        rc = rc == SQLITE_DONE ? LW_OK : rc < 0 ? rc : lw__store_sqlite_fail(s, rc, "sources");
        done(st);
        if (rc != LW_OK) {
            return rc;
        }
    }
    if (edge != NULL && p->minus) {
        n -= (int64_t)edge->lines;
        n = n < 0 ? 0 : n;
    }
    else if (edge != NULL) {
        n += (int64_t)edge->lines;
        t = edge->last_ns > t ? edge->last_ns : t;
    }
    *lines = n;
    *last = t;
    return LW_OK;
}

/*
 * A source's lines and newest window in [from, to) come from its source_hours rows: the whole
 * hours inside the range; the hour holding 'to' whole when its newest window is before 'to'
 * (always so for a range that ends now); and the hour holding 'from' either as its windows of
 * [from, next hour) or as its row less its windows of [hour, from), whichever stretch of
 * windows is shorter (at most half an hour of windows, read once for every source). Its
 * templates are the rows of source_templates whose [first, last] meets the range (exact for a
 * range that reaches the newest data, as the templates total is). A candidate seen before and
 * after the range but not within it has no lines there and is skipped. Some 3 small seeks per
 * source listed, where the whole range's rows of every source and template were summed.
 */
int lw__sq_list_sources(struct lw_store *s, const struct lw_store_filter *f, lw_store_source_cb cb,
                        void *opaque)
{
    struct src_edges e = {0};
    struct src_plan p;
    sqlite3_stmt *page, *tpls, *st;
    int64_t limit = page_limit(f), n = 0;
    int64_t e_from, e_to;
    int rc = LW_OK;

    memset(&p, 0, sizeof(p));
    p.from = f->from_ns;
    p.to = f->to_ns;
    p.h_lo = 1;
    p.h_hi = 0;
    p.h0 = p.h2 = INT64_MIN;
    e_from = p.from;
    e_to = p.to;              /* without whole hours (before 1970, within one hour): windows */
    if (p.from >= 0 && p.to > p.from && p.from / HOUR_NS != (p.to - 1) / HOUR_NS) {
        int64_t h0 = p.from / HOUR_NS * HOUR_NS;
        int64_t h1 = p.from == h0 ? h0 : h0 + HOUR_NS;

        p.h_lo = h1;
        p.h_hi = (p.to - 1) / HOUR_NS * HOUR_NS;
        if (p.h_hi + HOUR_NS > p.to) {
            p.h2 = p.h_hi;
        }
        if (p.from == h0) {
            e_from = e_to = 0;
        }
        else if (p.from - h0 < h1 - p.from) {
            p.minus = 1;
            p.h0 = h0;
            p.h_lo = h0;
            e_from = h0;
            e_to = p.from;
        }
        else {
            e_from = p.from;
            e_to = h1;
        }
    }
    if (e_to > e_from) {
        st = get(s, Q_SRC_EDGES, other_sql[Q_SRC_EDGES], &rc);
        if (st == NULL) {
            return rc;
        }
        sqlite3_bind_int64(st, 1, e_from);
        sqlite3_bind_int64(st, 2, e_to);
        rc = each_row(s, st, "sources", src_edge_row, &e);
        if (rc != LW_OK) {
            goto out;
        }
    }
    page = get(s, Q_SRC_PAGE, other_sql[Q_SRC_PAGE], &rc);
    tpls = page != NULL ? get(s, Q_SRC_TPLS, other_sql[Q_SRC_TPLS], &rc) : NULL;
    if (tpls == NULL) {
        goto out;
    }
    sqlite3_bind_int64(page, 1, p.from);
    sqlite3_bind_int64(page, 2, p.to);
    bind_opt_text(page, 3, f->has_after ? f->after_key : NULL);
    while (n < limit) {
        struct lw_store_source_row r;
        int64_t lines = 0, last = INT64_MIN, ntpl = 0;

        rc = sqlite3_step(page);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? LW_OK : lw__store_sqlite_fail(s, rc, "sources");
            break;
        }
        r.source = col_text(page, 0);
        if (r.source == NULL) {
            continue;
        }
        rc = src_lines(s, &p, &e, r.source, &lines, &last);
        if (rc != LW_OK) {
            break;
        }
        if (lines <= 0) {
            continue; /* seen before and after the range, not within it */
        }
        sqlite3_bind_text(tpls, 1, r.source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(tpls, 2, p.from);
        sqlite3_bind_int64(tpls, 3, p.to);
        rc = two_i64(s, tpls, &ntpl, NULL);
        if (rc != LW_OK) {
            break;
        }
        r.lines = (uint64_t)lines;
        r.templates = (uint64_t)ntpl;
        r.last_ns = last;
        n++;
        rc = cb(opaque, &r);
        if (rc != 0) {
            break;
        }
    }
    done(page);
out:
    src_edges_free(&e);
    return rc;
}

/* ---- examples ---- */

struct example_ctx {
    lw_store_example_cb cb;
    void *opaque;
};

static int example_row(sqlite3_stmt *st, void *p)
{
    struct example_ctx *c = p;
    struct lw_store_example_row r;

    r.ts_ns = sqlite3_column_int64(st, 0);
    r.source = col_text(st, 1);
    r.line = col_text(st, 2);
    return c->cb(c->opaque, &r);
}

int lw__sq_list_examples(struct lw_store *s, int64_t template_id, lw_store_example_cb cb,
                         void *opaque)
{
    struct example_ctx c = {cb, opaque};
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = get(s, Q_EXAMPLES, other_sql[Q_EXAMPLES], &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, template_id);
    return each_row(s, st, "examples", example_row, &c);
}

int lw__sq_add_example(struct lw_store *s, uint32_t template_id, int64_t ts_ns,
                       const char *source, const char *line)
{
    int k = lw__store_sqlite_examples(s);
    sqlite3_stmt *st;
    int64_t n = 0;
    int rc = LW_OK;

    if (line == NULL) {
        return LW_EINVAL;
    }
    st = get(s, Q_EX_COUNT, other_sql[Q_EX_COUNT], &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, template_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        rc = LW_OK;
    }
    else {
        rc = lw__store_sqlite_fail(s, rc, "count examples");
    }
    done(st);
    if (rc != LW_OK) {
        return rc;
    }
    st = get(s, Q_EX_PUT, other_sql[Q_EX_PUT], &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, template_id);
    /* The first k - 1 slots keep the first lines; the last slot follows the newest line. */
    sqlite3_bind_int64(st, 2, n < k ? n : k - 1);
    sqlite3_bind_int64(st, 3, ts_ns);
    bind_opt_text(st, 4, source);
    sqlite3_bind_text(st, 5, line, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? LW_OK : lw__store_sqlite_fail(s, rc, "add example");
    done(st);
    return rc;
}

/* ---- rules ---- */

struct rule_ctx {
    lw_store_rule_cb cb;
    void *opaque;
    int n;
};

static int rule_row(sqlite3_stmt *st, void *p)
{
    struct rule_ctx *c = p;
    struct lw_store_rule r;

    r.id = sqlite3_column_int64(st, 0);
    r.kind = col_text(st, 1);
    r.template_id = sqlite3_column_int64(st, 2);
    r.source = col_text(st, 3);
    r.detector = col_text(st, 4);
    r.created_ns = sqlite3_column_int64(st, 5);
    r.expires_ns = sqlite3_column_int64(st, 6);
    r.note = col_text(st, 7);
    r.incident = col_text(st, 8);
    c->n++;
    return c->cb(c->opaque, &r);
}

int lw__sq_list_rules(struct lw_store *s, lw_store_rule_cb cb, void *opaque)
{
    struct rule_ctx c = {cb, opaque, 0};
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = get(s, Q_RULES, other_sql[Q_RULES], &rc);
    if (st == NULL) {
        return rc;
    }
    return each_row(s, st, "rules", rule_row, &c);
}

int lw__sq_get_rule(struct lw_store *s, int64_t id, lw_store_rule_cb cb, void *opaque)
{
    struct rule_ctx c = {cb, opaque, 0};
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = get(s, Q_RULE, other_sql[Q_RULE], &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = each_row(s, st, "rule", rule_row, &c);
    return rc == LW_OK && c.n == 0 ? LW_ENOENT : rc;
}

int lw__sq_add_rule(struct lw_store *s, const struct lw_store_rule *r, int64_t *id_out)
{
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (r == NULL || r->kind == NULL ||
        (strcmp(r->kind, "false_positive") != 0 && strcmp(r->kind, "expected") != 0)) {
        lw__store_sqlite_msg(s, "add rule: kind must be false_positive or expected");
        return LW_EINVAL;
    }
    if (r->template_id == 0 && r->source == NULL && r->detector == NULL) {
        lw__store_sqlite_msg(s, "add rule: a rule needs a template, a source or a detector");
        return LW_EINVAL;
    }
    st = get(s, Q_RULE_ADD, other_sql[Q_RULE_ADD], &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_text(st, 1, r->kind, -1, SQLITE_STATIC);
    if (r->template_id != 0) {
        sqlite3_bind_int64(st, 2, r->template_id);
    }
    bind_opt_text(st, 3, r->source);
    bind_opt_text(st, 4, r->detector);
    sqlite3_bind_int64(st, 5, r->created_ns);
    sqlite3_bind_int64(st, 6, r->expires_ns);
    bind_opt_text(st, 7, r->note);
    bind_opt_text(st, 8, r->incident);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? LW_OK : lw__store_sqlite_fail(s, rc, "add rule");
    done(st);
    if (rc == LW_OK && id_out != NULL) {
        *id_out = sqlite3_last_insert_rowid(lw__store_sqlite_db(s));
    }
    return rc;
}

int lw__sq_delete_rule(struct lw_store *s, int64_t id)
{
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = get(s, Q_RULE_DEL, other_sql[Q_RULE_DEL], &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    rc = rc == SQLITE_DONE ? LW_OK : lw__store_sqlite_fail(s, rc, "delete rule");
    done(st);
    if (rc == LW_OK && sqlite3_changes(lw__store_sqlite_db(s)) == 0) {
        return LW_ENOENT;
    }
    return rc;
}
