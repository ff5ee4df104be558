/*
 * The store's schema and its migrations. migrations[i] takes a database from schema version i
 * to i + 1; a new version appends a step and never edits an old one, so every store, whatever
 * version it was created with, reaches the same schema. Each step runs in its own transaction
 * together with the update of meta.schema_version, so a crash during a migration leaves the
 * store at the previous version, ready to try again. docs/store.md explains every column.
 *
 * The SQL here is constant text run with sqlite3_exec(); nothing in it comes from data.
 */
#include <stdio.h>
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_store.h"
#include "store/store_int.h"

static const char *const migrations[] = {
    /* 0 -> 1: the first schema. */
    "CREATE TABLE meta("
    "  key TEXT PRIMARY KEY,"
    "  value"
    ");"
    "CREATE TABLE templates("
    "  id INTEGER PRIMARY KEY,"
    "  text TEXT NOT NULL,"
    "  first_seen_ns INTEGER,"
    "  last_seen_ns INTEGER,"
    "  count INTEGER NOT NULL DEFAULT 0"
    ");"
    /*
     * The window tables are WITHOUT ROWID: the primary key is the row, so an upsert touches one
     * b-tree, and retention deletes a leading range of window_start_ns.
     */
    "CREATE TABLE window_counts("
    "  window_start_ns INTEGER NOT NULL,"
    "  template_id INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (window_start_ns, template_id)"
    ") WITHOUT ROWID;"
    "CREATE TABLE window_source_counts("
    "  window_start_ns INTEGER NOT NULL,"
    "  template_id INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (window_start_ns, template_id, source)"
    ") WITHOUT ROWID;"
    "CREATE TABLE window_level_counts("
    "  window_start_ns INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (window_start_ns, level)"
    ") WITHOUT ROWID;"
    "CREATE TABLE checkpoints("
    "  input TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  dev INTEGER NOT NULL,"
    "  ino INTEGER NOT NULL,"
    "  fingerprint INTEGER NOT NULL,"
    "  offset INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (input, path)"
    ") WITHOUT ROWID;"
    "CREATE TABLE miner_state("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  blob BLOB NOT NULL,"
    "  saved_ns INTEGER NOT NULL"
    ");"
    "CREATE TABLE counters("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO counters(name, value) VALUES ('stored_lines', 0);"
    "CREATE TABLE anomalies("
    "  id INTEGER PRIMARY KEY,"
    "  ts_ns INTEGER NOT NULL,"
    "  detector TEXT NOT NULL,"
    "  score REAL NOT NULL,"
    "  template_id INTEGER,"
    "  source TEXT,"
    "  summary TEXT NOT NULL,"
    "  explanation TEXT,"
    "  samples TEXT"
    ");"
    "CREATE INDEX anomalies_ts ON anomalies(ts_ns);"
    "CREATE TABLE alerts("
    "  id INTEGER PRIMARY KEY,"
    "  anomaly_id INTEGER,"
    "  incident TEXT,"
    "  severity TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  sent_ns INTEGER NOT NULL DEFAULT 0,"
    "  sink TEXT"
    ");"
    "CREATE INDEX alerts_created ON alerts(created_ns);"
    "CREATE INDEX alerts_anomaly ON alerts(anomaly_id);",
    /* 1 -> 2: the detectors' learned models; an anomaly's kind and key (session, place). */
    "CREATE TABLE model_state("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  blob BLOB NOT NULL,"
    "  saved_ns INTEGER NOT NULL"
    ");"
    "ALTER TABLE anomalies ADD COLUMN kind TEXT;"
    "ALTER TABLE anomalies ADD COLUMN key TEXT;",
    /*
     * 2 -> 3: an XXH64 of the models blob (as a signed INTEGER), checked at load; NULL in rows
     * saved before.
     */
    "ALTER TABLE model_state ADD COLUMN checksum INTEGER;",
    /*
     * 3 -> 4: the query API. Indexes for its keyset pages and per-template series; example lines
     * per template (a bounded reservoir, pruned with the windows); feedback rules.
     */
    "CREATE INDEX window_counts_tpl ON window_counts(template_id, window_start_ns);"
    "CREATE INDEX window_source_counts_src ON window_source_counts(source, window_start_ns);"
    "CREATE INDEX templates_count ON templates(count, id);"
    "CREATE INDEX templates_last ON templates(ifnull(last_seen_ns, 0), id);"
    "CREATE INDEX templates_first ON templates(ifnull(first_seen_ns, 0), id);"
    "CREATE INDEX alerts_incident ON alerts(incident);"
    "CREATE INDEX anomalies_tpl ON anomalies(template_id, ts_ns);"
    "CREATE TABLE template_examples("
    "  template_id INTEGER NOT NULL,"
    "  slot INTEGER NOT NULL,"
    "  ts_ns INTEGER NOT NULL,"
    "  source TEXT,"
    "  line TEXT NOT NULL,"
    "  PRIMARY KEY (template_id, slot)"
    ") WITHOUT ROWID;"
    "CREATE INDEX template_examples_ts ON template_examples(ts_ns);"
    "CREATE TABLE rules("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL CHECK (kind IN ('false_positive', 'expected')),"
    "  template_id INTEGER,"
    "  source TEXT,"
    "  detector TEXT,"
    "  created_ns INTEGER NOT NULL,"
    "  expires_ns INTEGER NOT NULL DEFAULT 0,"
    "  note TEXT,"
    "  incident TEXT"
    ");"
    "CREATE INDEX rules_incident ON rules(incident);",
    /*
     * 4 -> 5: template ids follow the template's text, so a template that generalises gets a
     * new id; its old ids resolve to it through this table (one hop, kept by the engine), and
     * rows counted under them are the template's.
     */
    "CREATE TABLE template_aliases("
    "  from_id INTEGER PRIMARY KEY,"
    "  to_id INTEGER NOT NULL"
    ");"
    "CREATE INDEX template_aliases_to ON template_aliases(to_id);",
    /*
     * 5 -> 6: incidents kept up to date as alerts are written, so the incident list is a keyset
     * page of one small table instead of a GROUP BY over every alert of the range on each
     * request (seconds at 100k anomalies). Triggers maintain it, so every writer of alerts and
     * rules (the engine, the API, the feedback CLI) keeps it right without knowing about it.
     * An incident's columns come from its first alert's anomaly; its severity is the highest of
     * its alerts; rule_id is the newest feedback rule made from it. Muted alerts belong to no
     * incident. Retention deletes an incident when its last anomaly is older than the cut.
     */
    "CREATE TABLE incidents("
    "  incident TEXT PRIMARY KEY,"
    "  first_ns INTEGER NOT NULL,"
    "  last_ns INTEGER NOT NULL,"
    "  first_anomaly INTEGER NOT NULL,"
    "  sev INTEGER NOT NULL,"
    "  n_alerts INTEGER NOT NULL,"
    "  n_anomalies INTEGER NOT NULL,"
    "  detector TEXT,"
    "  source TEXT,"
    "  template_id INTEGER,"
    "  rule_id INTEGER"
    ") WITHOUT ROWID;"
    "CREATE INDEX incidents_last ON incidents(last_ns, incident);"
    "INSERT INTO incidents(incident, first_ns, last_ns, first_anomaly, sev, n_alerts,"
    "  n_anomalies, detector, source, template_id, rule_id)"
    " SELECT i.incident, i.first, i.last, i.first_id, i.sev, i.n_alerts, i.n_anom, an.detector,"
    "  an.source, an.template_id, (SELECT max(id) FROM rules r WHERE r.incident = i.incident)"
    " FROM (SELECT al.incident AS incident, min(an.ts_ns) AS first, max(an.ts_ns) AS last,"
    "       max(CASE al.severity WHEN 'critical' THEN 2 ELSE 1 END) AS sev,"
    "       count(*) AS n_alerts, count(DISTINCT an.id) AS n_anom, min(an.id) AS first_id"
    "       FROM anomalies an JOIN alerts al ON al.anomaly_id = an.id"
    "       WHERE al.incident IS NOT NULL AND al.state <> 'muted'"
    "       GROUP BY al.incident) i"
    " JOIN anomalies an ON an.id = i.first_id;"
    "CREATE TRIGGER incidents_on_alert AFTER INSERT ON alerts"
    " WHEN NEW.incident IS NOT NULL AND NEW.state <> 'muted' BEGIN"
    "  INSERT INTO incidents(incident, first_ns, last_ns, first_anomaly, sev, n_alerts,"
    "   n_anomalies, detector, source, template_id, rule_id)"
    "  SELECT NEW.incident, an.ts_ns, an.ts_ns, an.id,"
    "   CASE NEW.severity WHEN 'critical' THEN 2 ELSE 1 END, 1, 1, an.detector, an.source,"
    "   an.template_id, (SELECT max(id) FROM rules r WHERE r.incident = NEW.incident)"
    "  FROM anomalies an WHERE an.id = NEW.anomaly_id"
    "  ON CONFLICT(incident) DO UPDATE SET"
    "   first_ns = min(first_ns, excluded.first_ns),"
    "   last_ns = max(last_ns, excluded.last_ns),"
    "   sev = max(sev, excluded.sev),"
    "   n_alerts = n_alerts + 1,"
    "   n_anomalies = n_anomalies + NOT EXISTS (SELECT 1 FROM alerts o"
    "    WHERE o.anomaly_id = NEW.anomaly_id AND o.id <> NEW.id AND o.incident = NEW.incident"
    "    AND o.state <> 'muted');"
    " END;"
    "CREATE TRIGGER incidents_on_rule AFTER INSERT ON rules"
    " WHEN NEW.incident IS NOT NULL BEGIN"
    "  UPDATE incidents SET rule_id = NEW.id WHERE incident = NEW.incident;"
    " END;"
    /*
     * The raw lines around an anomaly (the engine's per-source ring at the time it was found),
     * a JSON array of {"time": ns, "line": "..."}; deleted with the anomaly by retention.
     */
    "ALTER TABLE anomalies ADD COLUMN context TEXT;"
    /*
     * Hourly rollups of the three count tables, for long ranges (a week of one template is 168
     * rows instead of 60480). The writer fills them from the windows in lw_store_prune() for
     * the hours before the newest data's hour, and re-rolls the last two rolled hours each
     * time for late lines; meta.rolled_upto_ns is the end of what is rolled (readers use the
     * rollups only before it and only for steps of whole hours).
     */
    "CREATE TABLE hour_counts("
    "  hour_ns INTEGER NOT NULL,"
    "  template_id INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (template_id, hour_ns)"
    ") WITHOUT ROWID;"
    "CREATE INDEX hour_counts_hour ON hour_counts(hour_ns);"
    "CREATE TABLE hour_level_counts("
    "  hour_ns INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (hour_ns, level)"
    ") WITHOUT ROWID;"
    "CREATE TABLE hour_source_counts("
    "  hour_ns INTEGER NOT NULL,"
    "  source TEXT NOT NULL,"
    "  template_id INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  last_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (source, hour_ns, template_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX hour_source_counts_hour ON hour_source_counts(hour_ns);"
    "CREATE TRIGGER incidents_on_rule_delete AFTER DELETE ON rules"
    " WHEN OLD.incident IS NOT NULL BEGIN"
    "  UPDATE incidents SET rule_id = (SELECT max(id) FROM rules r"
    "   WHERE r.incident = OLD.incident) WHERE incident = OLD.incident;"
    " END;",
    /*
     * 6 -> 7: summaries for the API's lists, so that they read a few small rows instead of
     * every count of the range.
     *
     * sources, source_hours and source_templates are kept by the writer as it adds source
     * counts (summed in memory and written once per transaction, lw_store_commit()): a
     * source's first and last window and its lines since it was first seen; its lines and last
     * window per hour; the first and last window of each of its templates. The sources list
     * then costs one row per source and hour instead of one per source, template and hour
     * (seconds for a day of 400 sources). Retention deletes what is older than the cut.
     *
     * templates_fts is a trigram index of the templates' text (an external-content FTS5 table
     * that triggers keep in step), for the template search: a substring of 3 characters or
     * more is looked up instead of matched against every template.
     *
     * Existing data fills them (and min5_level_counts below): source_hours and source_templates from the hourly rollups up
     * to meta.rolled_upto_ns and from the windows after it, sources from source_hours (~6 s
     * for a week of 10M lines over 400 sources and 50k templates).
     */
    "CREATE TABLE sources("
    "  source TEXT PRIMARY KEY,"
    "  first_ns INTEGER NOT NULL,"
    "  last_ns INTEGER NOT NULL,"
    "  lines INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE source_hours("
    "  source TEXT NOT NULL,"
    "  hour_ns INTEGER NOT NULL,"
    "  lines INTEGER NOT NULL,"
    "  last_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (source, hour_ns)"
    ") WITHOUT ROWID;"
    "CREATE TABLE source_templates("
    "  source TEXT NOT NULL,"
    "  template_id INTEGER NOT NULL,"
    "  first_ns INTEGER NOT NULL,"
    "  last_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (source, template_id)"
    ") WITHOUT ROWID;"
    /* No index on last_ns: each new window of a pair would move its entry (a write per cell). */
    /*
     * "+column" keeps SQLite off the secondary indexes here: walking window_source_counts_src
     * or hour_source_counts_hour reads every row through a second b-tree (minutes on a big
     * store) where a scan in primary-key order takes seconds.
     */
    "INSERT INTO source_hours(source, hour_ns, lines, last_ns)"
    " SELECT source, hour_ns, sum(count), max(last_ns) FROM hour_source_counts"
    " WHERE +hour_ns < ifnull((SELECT value FROM meta WHERE key = 'rolled_upto_ns'), 0)"
    " GROUP BY source, hour_ns;"
    "INSERT INTO source_hours(source, hour_ns, lines, last_ns)"
    " SELECT source, window_start_ns / 3600000000000 * 3600000000000, sum(count),"
    "  max(window_start_ns) FROM window_source_counts"
    " WHERE window_start_ns >= ifnull((SELECT value FROM meta WHERE key = 'rolled_upto_ns'), 0)"
    " GROUP BY +source, 2 ORDER BY 1, 2"
    " ON CONFLICT(source, hour_ns) DO UPDATE SET lines = lines + excluded.lines,"
    "  last_ns = max(last_ns, excluded.last_ns);"
    "INSERT INTO source_templates(source, template_id, first_ns, last_ns)"
    " SELECT source, template_id, min(hour_ns), max(last_ns) FROM hour_source_counts"
    " WHERE +hour_ns < ifnull((SELECT value FROM meta WHERE key = 'rolled_upto_ns'), 0)"
    " GROUP BY source, template_id;"
    "INSERT INTO source_templates(source, template_id, first_ns, last_ns)"
    " SELECT source, template_id, min(window_start_ns), max(window_start_ns)"
    " FROM window_source_counts"
    " WHERE window_start_ns >= ifnull((SELECT value FROM meta WHERE key = 'rolled_upto_ns'), 0)"
    " GROUP BY +source, template_id ORDER BY 1, 2"
    " ON CONFLICT(source, template_id) DO UPDATE SET"
    "  first_ns = min(first_ns, excluded.first_ns), last_ns = max(last_ns, excluded.last_ns);"
    /* A source's first window, from its rows: the start of its first hour at worst. */
    "INSERT INTO sources(source, first_ns, last_ns, lines)"
    " SELECT source, min(hour_ns), max(last_ns), sum(lines) FROM source_hours GROUP BY source;"
    /*
     * Lines per level in 5-minute buckets, rolled with the hourly rollups (same hours, same
     * meta.rolled_upto_ns): the overview's steps under an hour (5 min for a day, 30 min for a
     * week on the dashboard) sum 12 times fewer rows than the windows (a week: 10k, not 300k).
     */
    "CREATE TABLE min5_level_counts("
    "  bucket_ns INTEGER NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  PRIMARY KEY (bucket_ns, level)"
    ") WITHOUT ROWID;"
    "INSERT INTO min5_level_counts(bucket_ns, level, count)"
    " SELECT window_start_ns / 300000000000 * 300000000000, level, sum(count)"
    " FROM window_level_counts"
    " WHERE window_start_ns >= 0"
    "  AND window_start_ns < ifnull((SELECT value FROM meta WHERE key = 'rolled_upto_ns'), 0)"
    " GROUP BY 1, 2;"
    /*
     * Anomalies per 5 minutes, kept by triggers (so every writer and retention keep it
     * exact): the overview's anomaly chart and total of a week sum 2016 rows instead of
     * counting 100k anomalies. Open incidents are counted from a partial index that holds
     * what the count reads.
     */
    "CREATE TABLE anomaly_buckets("
    "  bucket_ns INTEGER PRIMARY KEY,"
    "  n INTEGER NOT NULL"
    ");"
    "INSERT INTO anomaly_buckets(bucket_ns, n)"
    " SELECT ts_ns / 300000000000 * 300000000000, count(*) FROM anomalies WHERE ts_ns >= 0"
    " GROUP BY 1;"
    "CREATE TRIGGER anomaly_buckets_insert AFTER INSERT ON anomalies WHEN NEW.ts_ns >= 0 BEGIN"
    "  INSERT INTO anomaly_buckets(bucket_ns, n)"
    "  VALUES (NEW.ts_ns / 300000000000 * 300000000000, 1)"
    "  ON CONFLICT(bucket_ns) DO UPDATE SET n = n + 1;"
    " END;"
    "CREATE TRIGGER anomaly_buckets_delete AFTER DELETE ON anomalies WHEN OLD.ts_ns >= 0 BEGIN"
    "  UPDATE anomaly_buckets SET n = n - 1"
    "  WHERE bucket_ns = OLD.ts_ns / 300000000000 * 300000000000;"
    " END;"
    "CREATE INDEX incidents_open ON incidents(last_ns, first_ns) WHERE rule_id IS NULL;"
    "CREATE VIRTUAL TABLE templates_fts USING fts5(text, content='templates',"
    "  content_rowid='id', tokenize='trigram');"
    "INSERT INTO templates_fts(templates_fts) VALUES ('rebuild');"
    "CREATE TRIGGER templates_fts_insert AFTER INSERT ON templates BEGIN"
    "  INSERT INTO templates_fts(rowid, text) VALUES (NEW.id, NEW.text);"
    " END;"
    /* Upserts name text in every update; only a changed text touches the index. */
    "CREATE TRIGGER templates_fts_update AFTER UPDATE OF text ON templates"
    " WHEN OLD.text IS NOT NEW.text BEGIN"
    "  INSERT INTO templates_fts(templates_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text);"
    "  INSERT INTO templates_fts(rowid, text) VALUES (NEW.id, NEW.text);"
    " END;"
    "CREATE TRIGGER templates_fts_delete AFTER DELETE ON templates BEGIN"
    "  INSERT INTO templates_fts(templates_fts, rowid, text) VALUES ('delete', OLD.id, OLD.text);"
    " END;",
};

_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == LW_STORE_SCHEMA_VERSION,
               "one migration step per schema version");

int lw__store_rc(int sqlite_rc)
{
    switch (sqlite_rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return LW_OK;
    case SQLITE_NOMEM:
        return LW_ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LW_EAGAIN;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return LW_ECORRUPT;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_MISUSE:
        return LW_EINVAL;
    case SQLITE_TOOBIG:
        return LW_ETOOBIG;
    case SQLITE_FULL:
        return LW_EFULL;
    case SQLITE_NOTFOUND:
        return LW_ENOENT;
    default:
        return LW_EIO;
    }
}

/*
 * Steps the meta row of @key: SQLITE_ROW with *@st positioned on it, SQLITE_DONE when there is
 * none, or an SQLite error. The caller finalizes *@st in every case.
 */
static int meta_row(sqlite3 *db, const char *key, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, st, NULL);

    if (rc != SQLITE_OK) {
        return rc;
    }
    sqlite3_bind_text(*st, 1, key, -1, SQLITE_STATIC);
    return sqlite3_step(*st);
}

/* Sets meta @key to @text, or to @value when @text is NULL. */
static int meta_put(sqlite3 *db, const char *key, const char *text, int64_t value)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db,
                            "INSERT INTO meta(key, value) VALUES (?1, ?2)"
                            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return lw__store_rc(rc);
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (text != NULL) {
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    }
    else {
        sqlite3_bind_int64(st, 2, value);
    }
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? LW_OK : lw__store_rc(rc);
}

int lw__store_meta_get_int(sqlite3 *db, const char *key, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = meta_row(db, key, &st);

    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = LW_OK;
    }
    else {
        rc = rc == SQLITE_DONE ? LW_ENOENT : lw__store_rc(rc);
    }
    sqlite3_finalize(st);
    return rc;
}

int lw__store_meta_set_int(sqlite3 *db, const char *key, int64_t value)
{
    return meta_put(db, key, NULL, value);
}

int lw__store_meta_get_text(sqlite3 *db, const char *key, char *buf, size_t cap)
{
    sqlite3_stmt *st = NULL;
    int rc = meta_row(db, key, &st);

    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT && cap > 0) {
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = LW_OK;
    }
    else {
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? LW_ENOENT : lw__store_rc(rc);
    }
    sqlite3_finalize(st);
    return rc;
}

int lw__store_meta_set_text(sqlite3 *db, const char *key, const char *value)
{
    return meta_put(db, key, value, 0);
}

/* Runs a query that returns one integer (a pragma, a count). */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return lw__store_rc(rc);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = LW_OK;
    }
    else {
        rc = rc == SQLITE_DONE ? LW_ENOENT : lw__store_rc(rc);
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * The schema version of @db: 0 for an empty database. A database with tables but no meta table
 * and not our application_id is someone else's file: LW_ECORRUPT.
 */
static int read_version(sqlite3 *db, const char *dir, int *version, char *err, size_t err_len)
{
    int64_t n_meta = 0;
    int64_t n_tables = 0;
    int64_t app_id = 0;
    int64_t v = 0;
    int rc;

    rc = query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
                   &n_meta);
    if (rc == LW_OK) {
        rc = query_int(db, "SELECT count(*) FROM sqlite_master", &n_tables);
    }
    if (rc == LW_OK) {
        rc = query_int(db, "PRAGMA application_id", &app_id);
    }
    if (rc != LW_OK) {
        snprintf(err, err_len, "%s/%s: cannot read the schema: %s", dir, LW_STORE_DB_NAME,
                 sqlite3_errmsg(db));
        return rc;
    }
    if ((app_id != 0 && app_id != LW__STORE_APP_ID) || (n_meta == 0 && n_tables > 0)) {
        snprintf(err, err_len, "%s/%s is not a logwarden store", dir, LW_STORE_DB_NAME);
        return LW_ECORRUPT;
    }
    if (n_meta == 0) {
        *version = 0;
        return LW_OK;
    }
    rc = lw__store_meta_get_int(db, "schema_version", &v);
    if (rc != LW_OK || v < 0 || v > 1000000) {
        snprintf(err, err_len, "%s/%s: no valid schema_version in table meta", dir,
                 LW_STORE_DB_NAME);
        return rc == LW_OK || rc == LW_ENOENT ? LW_ECORRUPT : rc;
    }
    *version = (int)v;
    return LW_OK;
}

static int apply_step(sqlite3 *db, const char *dir, int target, char *err, size_t err_len)
{
    char *msg = NULL;
    int version;
    int rc;

    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "%s/%s: cannot start the migration to schema version %d: %s", dir,
                 LW_STORE_DB_NAME, target, sqlite3_errmsg(db));
        return lw__store_rc(rc);
    }
    /* Another process may have migrated between our read and our write lock. */
    rc = read_version(db, dir, &version, err, err_len);
    if (rc != LW_OK) {
        goto fail;
    }
    if (version >= target) {
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        return LW_OK;
    }
    rc = sqlite3_exec(db, migrations[target - 1], NULL, NULL, &msg);
    if (rc == SQLITE_OK && target == 1) {
        rc = sqlite3_exec(db, "PRAGMA application_id = 1280787505", NULL, NULL, &msg);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "%s/%s: migration to schema version %d failed: %s", dir,
                 LW_STORE_DB_NAME, target, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        rc = lw__store_rc(rc);
        goto fail;
    }
    rc = lw__store_meta_set_int(db, "schema_version", target);
    if (rc != LW_OK) {
        snprintf(err, err_len, "%s/%s: cannot record schema version %d: %s", dir,
                 LW_STORE_DB_NAME, target, sqlite3_errmsg(db));
        goto fail;
    }
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "%s/%s: cannot commit schema version %d: %s", dir,
                 LW_STORE_DB_NAME, target, sqlite3_errmsg(db));
        rc = lw__store_rc(rc);
        goto fail;
    }
    return LW_OK;
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

_Static_assert(LW__STORE_APP_ID == 1280787505, "application_id literal in apply_step");

int lw__store_migrate(sqlite3 *db, const char *dir, int read_only, int *version, char *err,
                      size_t err_len)
{
    int v = 0;
    int rc;

    rc = read_version(db, dir, &v, err, err_len);
    if (rc != LW_OK) {
        return rc;
    }
    if (v > LW_STORE_SCHEMA_VERSION) {
        snprintf(err, err_len,
                 "the store in %s has schema version %d, newer than this logwarden supports"
                 " (%d): run a newer logwarden or another data directory",
                 dir, v, LW_STORE_SCHEMA_VERSION);
        return LW_EVERSION;
    }
    if (read_only) {
        if (v == 0) {
            snprintf(err, err_len, "no logwarden store in %s", dir);
            return LW_ENOENT;
        }
        if (v < LW_STORE_SCHEMA_VERSION) {
            snprintf(err, err_len,
                     "the store in %s has schema version %d, older than %d: start the daemon"
                     " once to migrate it",
                     dir, v, LW_STORE_SCHEMA_VERSION);
            return LW_EVERSION;
        }
        *version = v;
        return LW_OK;
    }
    while (v < LW_STORE_SCHEMA_VERSION) {
        rc = apply_step(db, dir, v + 1, err, err_len);
        if (rc != LW_OK) {
            return rc;
        }
        v++;
    }
    *version = v;
    return LW_OK;
}
