/*
 * The ClickHouse schema of the store (docs/store.md, "ClickHouse"): created when missing, with
 * CREATE ... IF NOT EXISTS so that N instances may start at once against one database. It uses
 * nothing ClickHouse 18.16 lacks (no DateTime64, TTL, CODEC, LowCardinality, skipping indexes).
 *
 * Every table a transaction writes carries (writer, seq, attempt): the writing instance, the
 * number of its transaction and the attempt at committing it. A transaction becomes visible
 * when its row in `commits`, written last, exists; for each (writer, seq) only the highest
 * attempt with such a row counts. The *_v views apply that rule, so every read goes through
 * them and sees whole transactions only, each once. A writer's folded past (commit_folds) is
 * visible by a second rule: every row of it with seq <= its fold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_err.h"
#include "store/store_clickhouse_int.h"

/* "%1$s" is the database in every statement. */
static const char *const tables[] = {
    /* Commit markers: the last INSERT of a transaction. Not pruned; folded (commit_folds). */
    "CREATE TABLE IF NOT EXISTS %1$s.commits (writer String, seq UInt64, attempt UInt64,"
    " lines UInt64, committed DateTime) ENGINE = MergeTree ORDER BY (writer, seq, attempt)",
    /* Counts, ordered for the dashboard's range queries per template / source / level. */
    "CREATE TABLE IF NOT EXISTS %1$s.window_counts (window_start DateTime,"
    " template_id UInt32, count UInt64, writer String, seq UInt64, attempt UInt64)"
    " ENGINE = MergeTree PARTITION BY toYYYYMMDD(window_start)"
    " ORDER BY (template_id, window_start)",
    "CREATE TABLE IF NOT EXISTS %1$s.window_source_counts (window_start DateTime,"
    " template_id UInt32, source String, count UInt64, writer String, seq UInt64,"
    " attempt UInt64) ENGINE = MergeTree PARTITION BY toYYYYMMDD(window_start)"
    " ORDER BY (source, template_id, window_start)",
    "CREATE TABLE IF NOT EXISTS %1$s.window_level_counts (window_start DateTime,"
    " level UInt8, count UInt64, writer String, seq UInt64, attempt UInt64)"
    " ENGINE = MergeTree PARTITION BY toYYYYMMDD(window_start) ORDER BY (level, window_start)",
    /* Template deltas: text, first and last seen, count added by one transaction. */
    "CREATE TABLE IF NOT EXISTS %1$s.templates (id UInt32, has_text UInt8, text String,"
    " first_ns Int64, last_ns Int64, count_delta UInt64, writer String, seq UInt64,"
    " attempt UInt64, ord UInt64) ENGINE = MergeTree ORDER BY (id, writer, seq)",
    /* Input positions of each writer; the latest visible row per (writer, input, path). */
    "CREATE TABLE IF NOT EXISTS %1$s.checkpoints (writer String, input String, path String,"
    " dev UInt64, ino UInt64, fingerprint UInt64, offset UInt64, deleted UInt8,"
    " seq UInt64, attempt UInt64, ord UInt64) ENGINE = MergeTree"
    " ORDER BY (writer, input, path, seq)",
    /* Miner state and detector models of each writer (kind 'miner' or 'models'). */
    "CREATE TABLE IF NOT EXISTS %1$s.blobs (writer String, kind String, data String,"
    " checksum UInt64, has_checksum UInt8, seq UInt64, attempt UInt64, ord UInt64)"
    " ENGINE = MergeTree ORDER BY (writer, kind, seq)",
    "CREATE TABLE IF NOT EXISTS %1$s.notes (writer String, key String, text String,"
    " seq UInt64, attempt UInt64, ord UInt64) ENGINE = MergeTree ORDER BY (writer, key, seq)",
    "CREATE TABLE IF NOT EXISTS %1$s.anomalies (id Int64, ts DateTime, ts_ns Int64,"
    " detector String, score Float64, template_id UInt32, source Nullable(String),"
    " summary String, explanation_json Nullable(String), samples_json Nullable(String),"
    " kind Nullable(String), key Nullable(String), writer String, seq UInt64, attempt UInt64)"
    " ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts) ORDER BY (ts, detector)",
    "CREATE TABLE IF NOT EXISTS %1$s.alerts (id Int64, anomaly_id Int64, incident String,"
    " severity String, state String, created DateTime, created_ns Int64, sent_ns Int64,"
    " sink Nullable(String), writer String, seq UInt64, attempt UInt64)"
    " ENGINE = MergeTree PARTITION BY toYYYYMMDD(created) ORDER BY (created, id)",
    /* Later states of an alert (sent, failed); the latest visible one wins over alerts.state. */
    "CREATE TABLE IF NOT EXISTS %1$s.alert_states (id Int64, state String, sent_ns Int64,"
    " at DateTime, writer String, seq UInt64, attempt UInt64, ord UInt64) ENGINE = MergeTree"
    " PARTITION BY toYYYYMMDD(at) ORDER BY (id, seq)",
    /*
     * Schema 2: example lines per template (transactional like the counts, pruned by day with
     * them) and feedback rules. A rule is written by one INSERT of one row (atomic on its own,
     * so outside the commit protocol: rules come from the API and the CLI, not from a writer's
     * transaction); its removal is a second row with deleted = 1 (a tombstone: immediate, no
     * mutation), and a rule is live while no row of its id says deleted.
     */
    "CREATE TABLE IF NOT EXISTS %1$s.template_examples (template_id UInt32, ts DateTime,"
    " ts_ns Int64, source Nullable(String), line String, writer String, seq UInt64,"
    " attempt UInt64, ord UInt64) ENGINE = MergeTree PARTITION BY toYYYYMMDD(ts)"
    " ORDER BY (template_id, ts_ns)",
    "CREATE TABLE IF NOT EXISTS %1$s.rules (id Int64, kind String, template_id UInt32,"
    " source String, detector String, created_ns Int64, expires_ns Int64, note String,"
    " incident String, nulls UInt8, deleted UInt8, at_ns Int64, writer String)"
    " ENGINE = MergeTree ORDER BY (id, at_ns)",
    /* Settings recorded at open (schema_version, window_s, retention_s), outside transactions. */
    "CREATE TABLE IF NOT EXISTS %1$s.meta (writer String, key String, value String,"
    " at_ns Int64) ENGINE = MergeTree ORDER BY (key, writer, at_ns)",
    /*
     * Added with text-derived template ids (schema version unchanged: IF NOT EXISTS creates it
     * in older databases at the next open, and older binaries ignore it): old id -> live id,
     * per writer; to_id 0 withdraws an alias. Small (one row per template text change).
     */
    "CREATE TABLE IF NOT EXISTS %1$s.template_aliases (from_id UInt32, to_id UInt32,"
    " writer String, seq UInt64, attempt UInt64) ENGINE = MergeTree ORDER BY (to_id, from_id)",
    /*
     * Schema 3: folds, the compaction of `commits` (store_clickhouse.c, "Folding"). A row
     * (writer, 'commits', upto, 0, lines) says: every row of that writer with seq <= upto is
     * committed (the losers were deleted first), and its transactions through upto counted
     * `lines` lines in all (cumulative, so that a duplicate or late row never adds twice); its
     * commit rows <= upto may go. A row (writer, 'templates', upto, attempt, 0) says: that
     * writer's template deltas through upto are the merged rows (seq upto, that attempt).
     * The latest row (by upto, then attempt) of each (writer, kind) is the one that counts.
     */
    "CREATE TABLE IF NOT EXISTS %1$s.commit_folds (writer String, kind String, upto UInt64,"
    " attempt UInt64, lines UInt64, at DateTime) ENGINE = MergeTree"
    " ORDER BY (kind, writer, upto)",
};

/*
 * The visibility rule of the *_v views: a row is visible when its (writer, seq, attempt) is the
 * highest committed attempt of that (writer, seq) in `commits`, or when its writer has folded
 * its past through a seq >= the row's (every row left there is committed). The fold list is a
 * scalar subquery (one small array per query, one row per writer), so that the view stays a
 * filter of the table: no join, no column added, a row counted at most once. "commit_folds" in
 * a view's text is how schema_create() recognizes a view of schema 3.
 */
#define VISIBLE                                                                                \
    "((writer, seq, attempt) IN (SELECT writer, seq, max(attempt) FROM %1$s.commits"          \
    " GROUP BY writer, seq) OR arrayExists(f -> f.1 = writer AND seq <= f.2,"                  \
    " (SELECT groupArray((writer, u)) FROM (SELECT writer, max(upto) AS u"                     \
    " FROM %1$s.commit_folds WHERE kind = 'commits' GROUP BY writer))))"

/* Merged template rows carry this bit in ord; a writer's deltas are never that many. */
#define MERGED_ORD "9223372036854775808"

static const char *const view_tmpl =
    "CREATE VIEW IF NOT EXISTS %1$s.%2$s_v AS SELECT * FROM %1$s.%2$s WHERE " VISIBLE;

/*
 * templates: a writer's deltas through its latest templates fold T are replaced by merged rows
 * (ord with the MERGED_ORD bit, seq T, the fold's attempt): deltas count when above T, merged
 * rows when they are those of the latest fold; merged rows of an unfinished fold never count.
 */
static const char *const templates_view =
    "CREATE VIEW IF NOT EXISTS %1$s.templates_v AS SELECT * FROM %1$s.templates WHERE"
    " (ord < " MERGED_ORD " AND " VISIBLE " AND NOT arrayExists(g -> g.1 = writer AND"
    " seq <= g.2, (SELECT groupArray((writer, u)) FROM (SELECT writer, max(upto) AS u"
    " FROM %1$s.commit_folds WHERE kind = 'templates' GROUP BY writer))))"
    " OR (ord >= " MERGED_ORD " AND (writer, seq, attempt) IN (SELECT writer,"
    " argMax(upto, (upto, attempt)), argMax(attempt, (upto, attempt)) FROM %1$s.commit_folds"
    " WHERE kind = 'templates' GROUP BY writer))";

static const char *const views[] = {
    "window_counts", "window_source_counts", "window_level_counts", "templates", "checkpoints",
    "blobs", "notes", "anomalies", "alerts", "alert_states", "template_aliases",
    "template_examples",
};

/* Expands "%1$s" to @db and "%2$s" to @name in @tmpl and runs the statement. */
static int run(struct lw__ch_conn *c, const char *tmpl, const char *db, const char *name,
               char *err, size_t err_len)
{
    struct lw__ch_buf q = {0};
    const char *p = tmpl;
    int rc = LW_OK;

    /* Both arguments are validated identifiers or constants of this file. */
    while (*p != '\0' && rc == LW_OK) {
        if (strncmp(p, "%1$s", 4) == 0 || strncmp(p, "%2$s", 4) == 0) {
            rc = lw__ch_buf_puts(&q, p[1] == '1' ? db : (name != NULL ? name : ""));
            p += 4;
        }
        else {
            rc = lw__ch_buf_put(&q, p, 1);
            p++;
        }
    }
    if (rc != LW_OK) {
        snprintf(err, err_len, "out of memory");
    }
    else {
        rc = lw__ch_exec(c, q.p, NULL, 0, NULL, err, err_len);
    }
    lw__ch_buf_free(&q);
    return rc;
}

/*
 * Drops the *_v views made before schema 3 (without the fold rule), so that the loop after it
 * creates them anew. ClickHouse 18.16 has no CREATE OR REPLACE VIEW: between the DROP and the
 * CREATE a reader of another instance may find no view and fail once (its next query works).
 * Instances that start at once may both drop and create: CREATE ... IF NOT EXISTS and DROP ...
 * IF EXISTS make any interleaving end with views of schema 3.
 */
static int drop_old_views(struct lw__ch_conn *c, const char *db, char *err, size_t err_len)
{
    struct lw__ch_buf out = {0};
    char q[512];
    size_t i;
    int rc;

    snprintf(q, sizeof(q),
             "SELECT name FROM system.tables WHERE database = '%s' AND engine = 'View'"
             " AND position(create_table_query, 'commit_folds') = 0",
             db);
    rc = lw__ch_exec(c, q, NULL, 0, &out, err, err_len);
    for (i = 0; i < sizeof(views) / sizeof(views[0]) && rc == LW_OK && out.p != NULL; i++) {
        char name[64];
        const char *hit;
        size_t n;

        /* Only our own view names reach the DROP, matched as whole lines of the answer. */
        n = (size_t)snprintf(name, sizeof(name), "%s_v\n", views[i]);
        hit = strstr(out.p, name);
        if (hit != NULL && (hit == out.p || hit[-1] == '\n') && n < sizeof(name)) {
            name[n - 1] = '\0';
            rc = run(c, "DROP TABLE IF EXISTS %1$s.%2$s", db, name, err, err_len);
        }
    }
    lw__ch_buf_free(&out);
    return rc;
}

int lw__ch_schema_check(struct lw__ch_conn *c, const char *db, int *version, char *err,
                        size_t err_len)
{
    struct lw__ch_buf out = {0};
    char q[512];
    int rc;

    *version = 0;
    snprintf(q, sizeof(q), "EXISTS TABLE %s.commits", db);
    rc = lw__ch_exec(c, q, NULL, 0, &out, err, err_len);
    if (rc == LW_OK && (out.p == NULL || atoi(out.p) != 1)) {
        snprintf(err, err_len, "no logwarden store in ClickHouse database '%s' at %s", db,
                 c->url);
        rc = LW_ENOENT;
    }
    if (rc == LW_OK) {
        snprintf(q, sizeof(q),
                 "SELECT toInt64OrZero(argMax(value, at_ns)) FROM %s.meta"
                 " WHERE key = 'schema_version'",
                 db);
        rc = lw__ch_exec(c, q, NULL, 0, &out, err, err_len);
    }
    if (rc == LW_OK) {
        *version = out.p != NULL ? atoi(out.p) : 0;
        if (*version > LW__CH_SCHEMA_VERSION) {
            snprintf(err, err_len,
                     "the logwarden store in ClickHouse database '%s' has schema version %d,"
                     " newer than this logwarden (%d): upgrade logwarden",
                     db, *version, LW__CH_SCHEMA_VERSION);
            rc = LW_EVERSION;
        }
    }
    lw__ch_buf_free(&out);
    return rc;
}

int lw__ch_schema_create(struct lw__ch_conn *c, const char *db, const char *writer, char *err,
                         size_t err_len)
{
    struct lw__ch_buf body = {0};
    int version = 0;
    size_t i;
    int rc;

    rc = run(c, "CREATE DATABASE IF NOT EXISTS %1$s", db, NULL, err, err_len);
    for (i = 0; i < sizeof(tables) / sizeof(tables[0]) && rc == LW_OK; i++) {
        rc = run(c, tables[i], db, NULL, err, err_len);
    }
    rc = rc ? rc : drop_old_views(c, db, err, err_len);
    for (i = 0; i < sizeof(views) / sizeof(views[0]) && rc == LW_OK; i++) {
        rc = run(c, strcmp(views[i], "templates") == 0 ? templates_view : view_tmpl, db, views[i],
                 err, err_len);
    }
    if (rc == LW_OK) {
        rc = lw__ch_schema_check(c, db, &version, err, err_len);
    }
    if (rc == LW_OK && version < LW__CH_SCHEMA_VERSION) {
        /*
         * 1 -> 2 added template_examples (and its view) and rules: the CREATE ... IF NOT
         * EXISTS above made them, so a migration here is only the record of the version.
         * 2 -> 3 added commit_folds and the fold rule of the views: drop_old_views() replaced
         * the views of version 2 above.
         */
        rc = lw__ch_buf_tsv(&body, writer, strlen(writer));
        rc = rc ? rc : lw__ch_buf_printf(&body, "\tschema_version\t%d\t0\n", LW__CH_SCHEMA_VERSION);
        rc = rc ? rc : lw__ch_insert(c, db, "meta", &body, err, err_len);
    }
    lw__ch_buf_free(&body);
    return rc;
}
