/*
 * The SQLite backend of the store (lw/lw_store.h): connection set-up, the statement cache, the
 * writer's upserts, the readers and retention. It is reached only through the interface: its
 * functions are static and exported as lw__store_sqlite_ops, which store.c dispatches to. The
 * schema lives in store_schema.c, the directory lock in store_lock.c.
 *
 * Every statement is a constant in stmt_sql[] prepared once (SQLITE_PREPARE_PERSISTENT) on first
 * use and kept in the handle; values are bound, never printed into SQL.
 *
 * Unsigned 64-bit values (counts, dev, ino, fingerprint) are stored in SQLite's signed INTEGER
 * by reinterpreting the bits, and read back the same way, so they round-trip exactly.
 *
 * Throughput, measured with a throwaway program (-O2, SQLite 3.40.1, ext4 on a virtual disk,
 * 2 vCPU; each transaction also sets one checkpoint and adds to stored_lines):
 *   500 window_counts upserts per transaction:      342,000 upserts/s, 1.46 ms per commit
 *   500 mixed upserts (window, source, level, tmpl): 305,000 upserts/s, 1.64 ms per commit
 *   5000 window_counts upserts per transaction:     359,000 upserts/s, 13.9 ms per commit
 *   the same 500 with sync_full (fsync per commit): 164,000 upserts/s, 3.0 ms per commit
 *   1 upsert per transaction:                        12,000 commits/s
 * Worst commits took 25-35 ms (the automatic WAL checkpoint, which fsyncs), 100 ms with
 * sync_full. The pipeline needs a few thousand upserts/s in ~5 commits/s: 1-2% of one core.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"
#include "store/store_int.h"

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_ADD_WINDOW,
    ST_ADD_SOURCE,
    ST_ADD_LEVEL,
    ST_UPSERT_TEMPLATE,
    ST_SET_CHECKPOINT,
    ST_DEL_CHECKPOINT,
    ST_ADD_STORED,
    ST_SAVE_MINER,
    ST_SAVE_MODELS,
    ST_INSERT_ANOMALY,
    ST_INSERT_ALERT,
    ST_SET_ALERT,
    ST_PRUNE_WINDOW,
    ST_PRUNE_SOURCE,
    ST_PRUNE_LEVEL,
    ST_PRUNE_ANOMALY,
    ST_PRUNE_ALERT,
    ST_PRUNE_EXAMPLE,
    ST_PRUNE_INCIDENT,
    ST_PRUNE_HOUR,
    ST_PRUNE_HOUR_LEVEL,
    ST_PRUNE_HOUR_SOURCE,
    ST_ROLL_HOUR,
    ST_ROLL_HOUR_LEVEL,
    ST_ROLL_HOUR_SOURCE,
    ST_ROLL_MIN5_LEVEL,
    ST_PRUNE_MIN5_LEVEL,
    ST_PRUNE_ANOM_BUCKETS,
    ST_WINDOW_SPAN,
    ST_GET_CHECKPOINT,
    ST_FOREACH_CHECKPOINT,
    ST_LOAD_MINER,
    ST_LOAD_MODELS,
    ST_STORED_LINES,
    ST_TEMPLATE_COUNT,
    ST_MAX_TEMPLATE_ID,
    ST_GET_WINDOW,
    ST_GET_SOURCE,
    ST_GET_LEVEL,
    ST_N_WINDOWS,
    ST_WINDOW_RANGE,
    ST_N_CHECKPOINTS,
    ST_N_ANOMALIES,
    ST_N_ALERTS,
    ST_ALERT_STATES,
    ST_BEGIN_READ,
    ST_ALIAS_SET,
    ST_ALIAS_FOLLOW,
    ST_ALIAS_UNSET,
    ST_ALIAS_GET,
    ST_ALIAS_FOLD,
    ST_SRC_UP,
    ST_SRC_HOUR_UP,
    ST_SRC_TPL_UP,
    ST_PRUNE_SRC,
    ST_PRUNE_SRC_HOUR,
    ST_PRUNE_SRC_TPL,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_ADD_WINDOW] = "INSERT INTO window_counts(window_start_ns, template_id, count)"
                      " VALUES (?1, ?2, ?3)"
                      " ON CONFLICT(window_start_ns, template_id)"
                      " DO UPDATE SET count = count + excluded.count",
    [ST_ADD_SOURCE] = "INSERT INTO window_source_counts"
                      "(window_start_ns, template_id, source, count)"
                      " VALUES (?1, ?2, ?3, ?4)"
                      " ON CONFLICT(window_start_ns, template_id, source)"
                      " DO UPDATE SET count = count + excluded.count",
    [ST_ADD_LEVEL] = "INSERT INTO window_level_counts(window_start_ns, level, count)"
                     " VALUES (?1, ?2, ?3)"
                     " ON CONFLICT(window_start_ns, level)"
                     " DO UPDATE SET count = count + excluded.count",
    /* ?2 NULL keeps the text; NULL times (unknown) leave the stored ones alone. */
    [ST_UPSERT_TEMPLATE] =
        "INSERT INTO templates(id, text, first_seen_ns, last_seen_ns, count)"
        " VALUES (?1, coalesce(?2, ''), ?3, ?4, ?5)"
        " ON CONFLICT(id) DO UPDATE SET"
        " text = CASE WHEN ?2 IS NULL THEN text ELSE excluded.text END,"
        " first_seen_ns = min(coalesce(first_seen_ns, excluded.first_seen_ns),"
        "                     coalesce(excluded.first_seen_ns, first_seen_ns)),"
        " last_seen_ns = max(coalesce(last_seen_ns, excluded.last_seen_ns),"
        "                    coalesce(excluded.last_seen_ns, last_seen_ns)),"
        " count = count + excluded.count",
    [ST_SET_CHECKPOINT] = "INSERT OR REPLACE INTO checkpoints"
                          "(input, path, dev, ino, fingerprint, offset, updated_ns)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_DEL_CHECKPOINT] = "DELETE FROM checkpoints WHERE input = ?1 AND path = ?2",
    [ST_ADD_STORED] = "INSERT INTO counters(name, value) VALUES ('stored_lines', ?1)"
                      " ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
    [ST_SAVE_MINER] = "INSERT OR REPLACE INTO miner_state(id, blob, saved_ns) VALUES (1, ?1, ?2)",
    [ST_SAVE_MODELS] = "INSERT OR REPLACE INTO model_state(id, blob, saved_ns, checksum)"
                       " VALUES (1, ?1, ?2, ?3)",
    [ST_INSERT_ANOMALY] = "INSERT INTO anomalies(ts_ns, detector, score, template_id, source,"
                          " summary, explanation, samples, kind, key, context)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [ST_INSERT_ALERT] = "INSERT INTO alerts(anomaly_id, incident, severity, state, created_ns,"
                        " sent_ns, sink) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_SET_ALERT] = "UPDATE alerts SET state = ?2, sent_ns = ?3 WHERE id = ?1",
    [ST_PRUNE_WINDOW] = "DELETE FROM window_counts WHERE window_start_ns < ?1",
    [ST_PRUNE_SOURCE] = "DELETE FROM window_source_counts WHERE window_start_ns < ?1",
    [ST_PRUNE_LEVEL] = "DELETE FROM window_level_counts WHERE window_start_ns < ?1",
    [ST_PRUNE_ANOMALY] = "DELETE FROM anomalies WHERE ts_ns < ?1",
    [ST_PRUNE_ALERT] = "DELETE FROM alerts WHERE created_ns < ?1",
    [ST_PRUNE_EXAMPLE] = "DELETE FROM template_examples WHERE ts_ns < ?1",
    [ST_PRUNE_INCIDENT] = "DELETE FROM incidents WHERE last_ns < ?1",
    [ST_PRUNE_HOUR] = "DELETE FROM hour_counts WHERE hour_ns < ?1",
    [ST_PRUNE_HOUR_LEVEL] = "DELETE FROM hour_level_counts WHERE hour_ns < ?1",
    [ST_PRUNE_HOUR_SOURCE] = "DELETE FROM hour_source_counts WHERE hour_ns < ?1",
    /* Hourly rollups of [?1, ?2) from the windows (?3: an hour in ns); see roll_hours(). */
    [ST_ROLL_HOUR] = "INSERT OR REPLACE INTO hour_counts(hour_ns, template_id, count)"
                     " SELECT window_start_ns / ?3 * ?3, template_id, sum(count)"
                     " FROM window_counts WHERE window_start_ns >= ?1 AND window_start_ns < ?2"
                     " GROUP BY 1, 2",
    [ST_ROLL_HOUR_LEVEL] = "INSERT OR REPLACE INTO hour_level_counts(hour_ns, level, count)"
                           " SELECT window_start_ns / ?3 * ?3, level, sum(count)"
                           " FROM window_level_counts"
                           " WHERE window_start_ns >= ?1 AND window_start_ns < ?2"
                           " GROUP BY 1, 2",
    [ST_ROLL_HOUR_SOURCE] = "INSERT OR REPLACE INTO hour_source_counts(hour_ns, source,"
                            " template_id, count, last_ns)"
                            " SELECT window_start_ns / ?3 * ?3, source, template_id, sum(count),"
                            " max(window_start_ns) FROM window_source_counts"
                            " WHERE window_start_ns >= ?1 AND window_start_ns < ?2"
                            " GROUP BY 1, 2, 3",
    [ST_ROLL_MIN5_LEVEL] = "INSERT OR REPLACE INTO min5_level_counts(bucket_ns, level, count)"
                           " SELECT window_start_ns / 300000000000 * 300000000000, level,"
                           " sum(count) FROM window_level_counts"
                           " WHERE window_start_ns >= ?1 AND window_start_ns < ?2"
                           " GROUP BY 1, 2",
    [ST_PRUNE_MIN5_LEVEL] = "DELETE FROM min5_level_counts WHERE bucket_ns < ?1",
    /* Its anomalies are gone (the trigger counted them out): empty buckets go. */
    [ST_PRUNE_ANOM_BUCKETS] = "DELETE FROM anomaly_buckets WHERE n <= 0 AND bucket_ns < ?1",
    [ST_WINDOW_SPAN] = "SELECT min(window_start_ns), max(window_start_ns)"
                       " FROM window_level_counts",
    [ST_GET_CHECKPOINT] = "SELECT dev, ino, fingerprint, offset FROM checkpoints"
                          " WHERE input = ?1 AND path = ?2",
    [ST_FOREACH_CHECKPOINT] = "SELECT path, dev, ino, fingerprint, offset FROM checkpoints"
                              " WHERE input = ?1 ORDER BY path",
    [ST_LOAD_MINER] = "SELECT blob FROM miner_state WHERE id = 1",
    [ST_LOAD_MODELS] = "SELECT blob, checksum FROM model_state WHERE id = 1",
    [ST_STORED_LINES] = "SELECT value FROM counters WHERE name = 'stored_lines'",
    [ST_TEMPLATE_COUNT] = "SELECT count(*) FROM templates"
                          " WHERE id NOT IN (SELECT from_id FROM template_aliases)",
    [ST_MAX_TEMPLATE_ID] = "SELECT max(id) FROM templates",
    [ST_GET_WINDOW] = "SELECT count FROM window_counts WHERE window_start_ns = ?1"
                      " AND template_id = ?2",
    [ST_GET_SOURCE] = "SELECT count FROM window_source_counts WHERE window_start_ns = ?1"
                      " AND template_id = ?2 AND source = ?3",
    [ST_GET_LEVEL] = "SELECT count FROM window_level_counts WHERE window_start_ns = ?1"
                     " AND level = ?2",
    /*
     * Distinct window starts by hopping from one to the next through the primary key (a
     * hand-made skip-scan): one seek per window instead of a scan of every row.
     */
    [ST_N_WINDOWS] = "WITH RECURSIVE w(t) AS ("
                     " SELECT min(window_start_ns) FROM window_counts"
                     " UNION ALL"
                     " SELECT (SELECT min(window_start_ns) FROM window_counts"
                     "         WHERE window_start_ns > w.t) FROM w WHERE w.t IS NOT NULL)"
                     " SELECT count(t) FROM w",
    [ST_WINDOW_RANGE] = "SELECT (SELECT min(window_start_ns) FROM window_counts),"
                        " (SELECT max(window_start_ns) FROM window_counts)",
    [ST_N_CHECKPOINTS] = "SELECT count(*) FROM checkpoints",
    [ST_N_ANOMALIES] = "SELECT count(*) FROM anomalies",
    [ST_N_ALERTS] = "SELECT count(*) FROM alerts",
    [ST_ALERT_STATES] = "SELECT state, count(*) FROM alerts GROUP BY state",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_ALIAS_SET] = "INSERT INTO template_aliases(from_id, to_id) VALUES (?1, ?2)"
                     " ON CONFLICT(from_id) DO UPDATE SET to_id = excluded.to_id",
    [ST_ALIAS_FOLLOW] = "UPDATE template_aliases SET to_id = ?2 WHERE to_id = ?1",
    [ST_ALIAS_UNSET] = "DELETE FROM template_aliases WHERE from_id = ?1",
    [ST_ALIAS_GET] = "SELECT to_id FROM template_aliases WHERE from_id = ?1",
    /* The old id's lines and times count for the live template (its row stays, hidden). */
    [ST_ALIAS_FOLD] =
        "INSERT INTO templates(id, text, first_seen_ns, last_seen_ns, count)"
        " SELECT ?2, text, first_seen_ns, last_seen_ns, count FROM templates WHERE id = ?1"
        " ON CONFLICT(id) DO UPDATE SET"
        " first_seen_ns = min(coalesce(first_seen_ns, excluded.first_seen_ns),"
        "                     coalesce(excluded.first_seen_ns, first_seen_ns)),"
        " last_seen_ns = max(coalesce(last_seen_ns, excluded.last_seen_ns),"
        "                    coalesce(excluded.last_seen_ns, last_seen_ns)),"
        " count = count + excluded.count",
    /* The source summaries (schema 7), from the sums of one transaction (struct acc). */
    [ST_SRC_UP] = "INSERT INTO sources(source, first_ns, last_ns, lines) VALUES (?1, ?2, ?3, ?4)"
                  " ON CONFLICT(source) DO UPDATE SET first_ns = min(first_ns, excluded.first_ns),"
                  " last_ns = max(last_ns, excluded.last_ns), lines = lines + excluded.lines",
    [ST_SRC_HOUR_UP] = "INSERT INTO source_hours(source, hour_ns, lines, last_ns)"
                       " VALUES (?1, ?2, ?4, ?3)"
                       " ON CONFLICT(source, hour_ns) DO UPDATE SET"
                       " lines = lines + excluded.lines, last_ns = max(last_ns, excluded.last_ns)",
    [ST_SRC_TPL_UP] = "INSERT INTO source_templates(source, template_id, first_ns, last_ns)"
                      " VALUES (?1, ?2, ?5, ?3)"
                      " ON CONFLICT(source, template_id) DO UPDATE SET"
                      " first_ns = min(first_ns, excluded.first_ns),"
                      " last_ns = max(last_ns, excluded.last_ns)",
    [ST_PRUNE_SRC] = "DELETE FROM sources WHERE last_ns < ?1",
    [ST_PRUNE_SRC_HOUR] = "DELETE FROM source_hours WHERE hour_ns < ?1",
    [ST_PRUNE_SRC_TPL] = "DELETE FROM source_templates WHERE last_ns < ?1",
};

/*
 * The source summaries of schema 7 (sources, source_hours, source_templates) are sums of what
 * add_source_count() adds. Writing them row by row would double the writer's upserts; instead
 * one transaction's additions are summed here per source, per (source, hour) and per (source,
 * template) and written at commit: a few rows per source per transaction. A (source, template)
 * whose first and last windows the table already holds is not written again (the entries stay
 * after a commit as a cache of what is stored), so a steady stream writes it once per window
 * rather than once per transaction. A rollback forgets everything (the cache may be wrong).
 * Bounded: when the table is 3/4 full the sums are written and the table emptied.
 */
/*
 * 65536: at 8192 the table filled with 50 hosts' (source, template) pairs every transaction and
 * was emptied, so every pair was written again: bench/run-http-mixed.sh wrote 102k
 * source_templates rows per million lines, and the store thread's CPU went 2.7 -> 2.1 s per 2M
 * lines with the larger table.
 */
#define ACC_CAP 65536 /* entries, a power of 2: ~5 MiB and the source names */

enum acc_kind { ACC_SOURCE, ACC_HOUR, ACC_TEMPLATE };

struct acc {
    char *source;                /* owned; NULL: a free slot */
    uint64_t hash;
    int64_t key;                 /* ACC_HOUR: the hour; ACC_TEMPLATE: the template id */
    int kind;
    int dirty;                   /* first/last/lines below are to be written */
    int stored;                  /* ACC_TEMPLATE: stored_first/last are what the table holds */
    int64_t first_ns;
    int64_t last_ns;
    uint64_t lines;
    int64_t stored_first;
    int64_t stored_last;
};

struct sqlite_store {
    struct lw_store base;            /* the interface (lw_store.h); must come first */
    sqlite3 *db;
    char *dir;                       /* owned copy of the data directory */
    char *path;                      /* owned: DIR/logwarden.db */
    int64_t retention_s;
    int64_t window_s;
    int read_only;
    int schema_version;
    uint64_t max_bytes;              /* conf.max_bytes: 0, or the cap behind max_page_count */
    int examples_per_template;       /* conf.examples_per_template after its default */
    sqlite3_stmt *st[ST_COUNT];      /* prepared on first use */
    sqlite3_stmt *qst[LW__STORE_QSLOTS]; /* store_query.c's statements, prepared on first use */
    struct acc *acc;                 /* ACC_CAP entries, allocated on first use */
    size_t n_acc;
    uint32_t *dirty;                 /* indexes of the entries made dirty since the last flush:
                                      * a flush visits them, not the whole 65536-entry table */
    size_t n_dirty;
    char errmsg[512];
};

static void acc_reset(struct sqlite_store *s);

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Whether @rc says there is no space left. SQLite answers SQLITE_FULL for a short write or
 * max_page_count, but a write(2), ftruncate(2) or fallocate(2) that fails with ENOSPC on some
 * paths (the WAL index, a truncate) comes back as an SQLITE_IOERR_* code: the errno decides.
 */
static int no_space(struct sqlite_store *s, int rc)
{
    int e;

    if ((rc & 0xff) == SQLITE_FULL) {
        return 1;
    }
    if ((rc & 0xff) != SQLITE_IOERR) {
        return 0;
    }
    e = sqlite3_system_errno(s->db);
    return e == ENOSPC || e == EDQUOT;
}

/*
 * The message of a full store: which file, and how much room is left, so that the operator
 * knows where to free space (the daemon logs it with what it does about it).
 */
static void full_msg(struct sqlite_store *s)
{
    unsigned long long free_bytes = 0;
    struct statvfs vfs;

    if (statvfs(s->dir, &vfs) == 0) {
        free_bytes = (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize;
    }
    /*
     * SQLite clears the errno of a short write, so the cap and a full disk look alike: with a
     * cap set and room on the disk, it is the cap.
     */
    if (s->max_bytes > 0 && free_bytes >= ((unsigned long long)1 << 20)) {
        snprintf(s->errmsg, sizeof(s->errmsg), "store full: %s reached its cap of %llu bytes",
                 s->path, (unsigned long long)s->max_bytes);
        return;
    }
    snprintf(s->errmsg, sizeof(s->errmsg), "disk full: %s: %llu bytes free", s->path, free_bytes);
}

/* Records SQLite's message for @what and returns the LW_E* code for @rc. */
static int fail(struct sqlite_store *s, int rc, const char *what)
{
    if (no_space(s, rc)) {
        full_msg(s);
        return LW_EFULL;
    }
    snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s", what, sqlite3_errmsg(s->db));
    rc = lw__store_rc(rc);
    return rc == LW_OK ? LW_EIO : rc;
}

/* The cached statement @id, reset and with no bindings; NULL on failure (message in s). */
static sqlite3_stmt *stmt(struct sqlite_store *s, enum stmt_id id, int *rc)
{
    int src;

    if (s->st[id] == NULL) {
        src = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->st[id],
                                 NULL);
        if (src != SQLITE_OK) {
            *rc = fail(s, src, "prepare");
            s->st[id] = NULL;
            return NULL;
        }
    }
    return s->st[id];
}

/* Resets @st after use so that it holds no lock and no borrowed pointer. */
static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Steps a statement that returns no row. */
static int exec_stmt(struct sqlite_store *s, sqlite3_stmt *st, const char *what)
{
    int rc;

    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        rc = fail(s, rc, what);
        done(st);
        return rc;
    }
    done(st);
    return LW_OK;
}

/* Runs a bind-less statement that returns one integer (0 when it returns NULL or no row). */
static int query_u64(struct sqlite_store *s, enum stmt_id id, uint64_t *out, const char *what)
{
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, id, &rc);
    if (st == NULL) {
        return rc;
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
        rc = fail(s, rc, what);
    }
    done(st);
    return rc;
}

static int set_pragmas(struct sqlite_store *s, const struct lw_store_conf *conf, char *err,
                       size_t err_len)
{
    sqlite3_stmt *st = NULL;
    int wal = 0;
    int rc;

    sqlite3_busy_timeout(s->db, conf && conf->busy_timeout_ms > 0 ? conf->busy_timeout_ms : 5000);
    if (s->read_only) {
        return LW_OK;
    }
    /* journal_mode answers with the mode in force; a file system without shared memory says no. */
    rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        wal = sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    }
    sqlite3_finalize(st);
    if (!wal) {
        snprintf(err, err_len, "%s: cannot switch to WAL mode: %s", s->path,
                 sqlite3_errmsg(s->db));
        return LW_EIO;
    }
    rc = sqlite3_exec(s->db,
                      conf && conf->sync_full ? "PRAGMA synchronous = FULL"
                                              : "PRAGMA synchronous = NORMAL",
                      NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(s->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
    }
    /*
     * A 64 MiB page cache for the writer (SQLite's default is 2 MiB): the count tables' b-trees
     * outgrow 2 MiB within minutes and every upsert then re-reads its pages through pread.
     * bench/run-http-mixed.sh, 2M lines over 50 hosts: 166,674 -> 248,512 lines/s.
     */
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(s->db, "PRAGMA cache_size = -65536", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK && s->max_bytes > 0) {
        char sql[96];
        int64_t page_size = 0;

        rc = sqlite3_prepare_v2(s->db, "PRAGMA page_size", -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
            page_size = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        if (page_size <= 0) {
            page_size = 4096;
        }
        /* Constant text with one number of ours in it: nothing comes from data. */
        snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %llu",
                 (unsigned long long)(s->max_bytes / (uint64_t)page_size));
        rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "%s: %s", s->path, sqlite3_errmsg(s->db));
        return lw__store_rc(rc);
    }
    return LW_OK;
}

/*
 * Records window_s and retention_s in meta, for `status` and for a later reader. Rows written
 * with an earlier window length stay valid (each is keyed by its own start); a query that adds
 * windows up must not assume one length across such a change.
 */
static int record_conf(struct sqlite_store *s, char *err, size_t err_len)
{
    int rc;

    rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        if (lw__store_meta_set_int(s->db, "window_s", s->window_s) == LW_OK &&
            lw__store_meta_set_int(s->db, "retention_s", s->retention_s) == LW_OK) {
            rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
        }
        else {
            rc = sqlite3_errcode(s->db);
        }
    }
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "%s: cannot record the configuration: %s", s->path,
                 sqlite3_errmsg(s->db));
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        rc = lw__store_rc(rc);
        return rc == LW_OK ? LW_EIO : rc;
    }
    return LW_OK;
}

/* The size of @path + @suffix, or -1 when it does not exist (or cannot be looked at). */
static long long size_of(const char *path, const char *suffix)
{
    char buf[4096];
    struct stat sb;

    if ((size_t)snprintf(buf, sizeof(buf), "%s%s", path, suffix) >= sizeof(buf) ||
        stat(buf, &sb) != 0) {
        return -1;
    }
    return (long long)sb.st_size;
}

/*
 * Creates a new store at @s->path, or says why not. The database is built under a temporary name
 * (mode 0600, so its -wal and -shm, which SQLite creates with the database's mode, are private
 * too), its schema committed, and only then renamed into place (and the directory fsynced). So a
 * logwarden.db that exists has always been initialised, and an empty one can only be a damaged
 * store, never a new one (open_store() refuses it). A left-over temporary file is from a start
 * that did not finish, and is replaced.
 */
static int create_store(struct sqlite_store *s, char *err, size_t err_len)
{
    char tmp[4096];
    char aux[4200];
    sqlite3 *db = NULL;
    int version = 0;
    int fd;
    int rc;

    /*
     * A WAL without its database holds commits that would be replayed into the new file: that
     * is someone's history, not ours to overwrite.
     */
    if (size_of(s->path, "-wal") > 0) {
        snprintf(err, err_len,
                 "%s is missing but its WAL %s-wal is there: logwarden will not start a fresh"
                 " store over it. Restore %s from a backup, or move %s-wal away to start afresh",
                 s->path, s->path, s->path, s->path);
        return LW_ECORRUPT;
    }
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", s->path) >= sizeof(tmp)) {
        snprintf(err, err_len, "data directory path too long");
        return LW_EINVAL;
    }
    unlink(tmp);
    snprintf(aux, sizeof(aux), "%s-journal", tmp);
    unlink(aux);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "cannot create %s: %s", tmp, strerror(errno));
        return errno == ENOSPC || errno == EDQUOT ? LW_EFULL : LW_EIO;
    }
    close(fd);
    rc = sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot open %s: %s", tmp,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        rc = lw__store_rc(rc) == LW_OK ? LW_EIO : lw__store_rc(rc);
        goto fail;
    }
    /* Rollback-journal mode here (synchronous=FULL by default): every step is on disk. */
    rc = lw__store_migrate(db, s->dir, 0, &version, err, err_len);
    if (rc != LW_OK) {
        goto fail;
    }
    if (sqlite3_close(db) != SQLITE_OK) {
        snprintf(err, err_len, "cannot close %s", tmp);
        db = NULL;
        rc = LW_EIO;
        goto fail;
    }
    db = NULL;
    if (rename(tmp, s->path) != 0) {
        snprintf(err, err_len, "cannot rename %s to %s: %s", tmp, s->path, strerror(errno));
        rc = LW_EIO;
        goto fail;
    }
    fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    return LW_OK;
fail:
    sqlite3_close(db);
    unlink(tmp);
    return rc;
}

/* The message for a logwarden.db of 0 bytes (see create_store()). */
static void empty_msg(const struct sqlite_store *s, char *err, size_t err_len)
{
    snprintf(err, err_len,
             "%s is empty (0 bytes): the store's history and checkpoints are gone (a truncated"
             " or replaced file?). logwarden will not start a fresh store over it: restore it"
             " from a backup, or move it away (mv %s %s.empty, with its -wal and -shm files if"
             " any) to start afresh",
             s->path, s->path, s->path);
}

/*
 * PRAGMA quick_check on the writer's open: a damaged page is otherwise found only when a write
 * touches it, and from then on every transaction fails. quick_check reads every page once (it
 * skips the index-content comparison of integrity_check), about a second per GiB. Returns LW_OK,
 * or LW_ECORRUPT with the first problems and what to do in @err.
 */
static int check_pages(struct sqlite_store *s, char *err, size_t err_len)
{
    char found[512] = "";
    sqlite3_stmt *st = NULL;
    size_t used = 0;
    const char *row;
    int n_rows = 0;
    int rc;

    rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(5)", -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        row = (const char *)sqlite3_column_text(st, 0);
        n_rows++;
        if (row != NULL && used < sizeof(found)) {
            used += (size_t)snprintf(found + used, sizeof(found) - used, "%s%s",
                                     used > 0 ? "; " : "", row);
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE && n_rows == 1 && strcmp(found, "ok") == 0) {
        return LW_OK;
    }
    if (rc != SQLITE_DONE && lw__store_rc(rc) != LW_ECORRUPT) {
        snprintf(err, err_len, "%s: cannot check the database: %s", s->path,
                 sqlite3_errmsg(s->db));
        return lw__store_rc(rc) == LW_OK ? LW_EIO : lw__store_rc(rc);
    }
    snprintf(err, err_len,
             "%s is damaged (PRAGMA quick_check: %s): logwarden will not write to it. Restore it"
             " from a backup; or save what can be read (sqlite3 %s .recover | sqlite3"
             " recovered.db) and move it away (with its -wal and -shm files) to start afresh",
             s->path, rc == SQLITE_DONE ? found : sqlite3_errmsg(s->db), s->path);
    return LW_ECORRUPT;
}

/* sqlite_open(), also giving the LW_E* code of a failure in *@rc_out. */
static struct sqlite_store *open_store(const char *dir, const struct lw_store_conf *conf,
                                       int *rc_out, char *err, size_t err_len)
{
    struct sqlite_store *s;
    struct stat sb;
    size_t dir_len;
    int flags;
    int rc;

    *rc_out = LW_EINVAL;
    if (dir == NULL || dir[0] == '\0') {
        snprintf(err, err_len, "no data directory given");
        return NULL;
    }
    *rc_out = LW_ENOMEM;
    s = lw_calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->base.ops = &lw__store_sqlite_ops;
    s->read_only = conf ? conf->read_only : 0;
    s->retention_s = conf && conf->retention_s > 0 ? conf->retention_s
                                                   : LW_STORE_DEFAULT_RETENTION_S;
    s->window_s = conf && conf->window_s > 0 ? conf->window_s : LW_STORE_DEFAULT_WINDOW_S;
    s->examples_per_template = conf && conf->examples_per_template > 0
                                   ? conf->examples_per_template
                                   : LW_STORE_DEFAULT_EXAMPLES;
    s->max_bytes = conf ? conf->max_bytes : 0;
    dir_len = strlen(dir);
    s->dir = lw_strdup(dir);
    s->path = lw_malloc(dir_len + sizeof("/" LW_STORE_DB_NAME));
    if (s->dir == NULL || s->path == NULL) {
        snprintf(err, err_len, "out of memory");
        goto fail_free;
    }
    memcpy(s->path, dir, dir_len);
    memcpy(s->path + dir_len, "/" LW_STORE_DB_NAME, sizeof("/" LW_STORE_DB_NAME));

    if (s->read_only) {
        if (stat(s->path, &sb) != 0) {
            snprintf(err, err_len, "no logwarden store in %s", dir);
            *rc_out = LW_ENOENT;
            goto fail_free;
        }
        flags = SQLITE_OPEN_READONLY;
    }
    else {
        *rc_out = lw__store_mkdirs(dir, err, err_len);
        if (*rc_out != LW_OK) {
            goto fail_free;
        }
        if (stat(s->path, &sb) != 0) {
            if (errno != ENOENT) {
                snprintf(err, err_len, "cannot look at %s: %s", s->path, strerror(errno));
                *rc_out = LW_EIO;
                goto fail_free;
            }
            *rc_out = create_store(s, err, err_len);
            if (*rc_out != LW_OK) {
                goto fail_free;
            }
            sb.st_size = 1;
        }
        flags = SQLITE_OPEN_READWRITE;
    }
    if (sb.st_size == 0) {
        empty_msg(s, err, err_len);
        *rc_out = LW_ECORRUPT;
        goto fail_free;
    }
    /* NOMUTEX: a handle is used by one thread at a time, so SQLite's own mutex is not needed. */
    rc = sqlite3_open_v2(s->path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, err_len, "cannot open %s: %s", s->path,
                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        *rc_out = lw__store_rc(rc) == LW_OK ? LW_EIO : lw__store_rc(rc);
        goto fail_close;
    }
    sqlite3_extended_result_codes(s->db, 1);
    *rc_out = set_pragmas(s, conf, err, err_len);
    if (*rc_out == LW_ECORRUPT) {
        /* Too damaged for the journal mode switch: say it the way check_pages() does. */
        check_pages(s, err, err_len);
        goto fail_close;
    }
    if (*rc_out != LW_OK) {
        goto fail_close;
    }
    if (!s->read_only) {
        *rc_out = check_pages(s, err, err_len);
        if (*rc_out != LW_OK) {
            goto fail_close;
        }
    }
    *rc_out = lw__store_migrate(s->db, dir, s->read_only, &s->schema_version, err, err_len);
    if (*rc_out != LW_OK) {
        goto fail_close;
    }
    if (!s->read_only) {
        *rc_out = record_conf(s, err, err_len);
        if (*rc_out != LW_OK) {
            goto fail_close;
        }
    }
    *rc_out = LW_OK;
    return s;
fail_close:
    sqlite3_close_v2(s->db);
fail_free:
    lw_free(s->path);
    lw_free(s->dir);
    lw_free(s);
    return NULL;
}

static struct lw_store *sqlite_open(const char *dir, const struct lw_store_conf *conf, char *err,
                                    size_t err_len)
{
    struct sqlite_store *s;
    int rc;

    s = open_store(dir, conf, &rc, err, err_len);
    return s != NULL ? &s->base : NULL;
}

static void sqlite_close(struct lw_store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    size_t i;

    if (s == NULL) {
        return;
    }
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    for (i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(s->st[i]);
    }
    for (i = 0; i < LW__STORE_QSLOTS; i++) {
        sqlite3_finalize(s->qst[i]);
    }
    acc_reset(s);
    lw_free(s->acc);
    lw_free(s->dirty);
    sqlite3_close_v2(s->db);
    lw_free(s->path);
    lw_free(s->dir);
    lw_free(s);
}

static const char *sqlite_errmsg(const struct lw_store *base)
{
    const struct sqlite_store *s = (const struct sqlite_store *)base;

    return s->errmsg;
}

static int64_t sqlite_window_s(const struct lw_store *base)
{
    const struct sqlite_store *s = (const struct sqlite_store *)base;

    return s->window_s;
}

static int64_t sqlite_retention_s(const struct lw_store *base)
{
    const struct sqlite_store *s = (const struct sqlite_store *)base;

    return s->retention_s;
}

static int64_t sqlite_window_start(const struct lw_store *base, int64_t ts_ns)
{
    const struct sqlite_store *s = (const struct sqlite_store *)base;
    int64_t w = s->window_s * 1000000000;
    int64_t r = ts_ns % w;

    /* C's % truncates toward zero; a time before 1970 still belongs to the window below it. */
    return r < 0 ? ts_ns - r - w : ts_ns - r;
}

/* ---- Transactions ---- */

static int sqlite_in_transaction(const struct lw_store *base)
{
    const struct sqlite_store *s = (const struct sqlite_store *)base;

    return !sqlite3_get_autocommit(s->db);
}

/* ---- Source summaries (struct acc) ---- */

static void acc_reset(struct sqlite_store *s)
{
    size_t i;

    if (s->acc == NULL) {
        return;
    }
    for (i = 0; i < ACC_CAP; i++) {
        lw_free(s->acc[i].source);
    }
    memset(s->acc, 0, ACC_CAP * sizeof(*s->acc));
    s->n_acc = 0;
    s->n_dirty = 0;
}

/* Writes the dirty entries (inside the caller's transaction) and marks them clean. */
static int acc_flush(struct sqlite_store *s)
{
    static const enum stmt_id ids[] = {
        [ACC_SOURCE] = ST_SRC_UP, [ACC_HOUR] = ST_SRC_HOUR_UP, [ACC_TEMPLATE] = ST_SRC_TPL_UP,
    };
    sqlite3_stmt *st;
    size_t i;
    int rc = LW_OK;

    for (i = 0; s->acc != NULL && i < s->n_dirty; i++) {
        struct acc *a = &s->acc[s->dirty[i]];

        if (a->source == NULL || !a->dirty) {
            continue; /* written by a flush that failed further on */
        }
        st = stmt(s, ids[a->kind], &rc);
        if (st == NULL) {
            break;
        }
        sqlite3_bind_text(st, 1, a->source, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, a->kind == ACC_SOURCE ? a->first_ns : a->key);
        sqlite3_bind_int64(st, 3, a->last_ns);
        if (a->kind != ACC_TEMPLATE) {
            sqlite3_bind_int64(st, 4, (int64_t)a->lines);
        }
        else {
            sqlite3_bind_int64(st, 5, a->first_ns);
        }
        rc = exec_stmt(s, st, "source summary");
        if (rc != LW_OK) {
            break;
        }
        if (a->kind == ACC_TEMPLATE) {
            a->stored_first = a->stored && a->stored_first < a->first_ns ? a->stored_first
                                                                          : a->first_ns;
            a->stored_last = a->stored && a->stored_last > a->last_ns ? a->stored_last
                                                                       : a->last_ns;
            a->stored = 1;
        }
        a->dirty = 0;
        a->lines = 0;
    }
    if (rc != LW_OK) {
        /* Keep the entries still to write, once each (they were listed when made dirty). */
        size_t k = 0;

        for (i = 0; i < s->n_dirty; i++) {
            if (s->acc[s->dirty[i]].dirty) {
                s->dirty[k++] = s->dirty[i];
            }
        }
        s->n_dirty = k;
        return rc;
    }
    s->n_dirty = 0;
    return LW_OK;
}

/* Adds @count lines of (@source, @template_id) in the window at @ws to the sums. */
static int acc_add(struct sqlite_store *s, const char *source, uint32_t template_id, int64_t ws,
                   uint64_t count)
{
    int64_t hour = ws >= 0 ? ws / (3600LL * 1000000000LL) * (3600LL * 1000000000LL) : ws;
    const int64_t keys[] = {[ACC_SOURCE] = 0, [ACC_HOUR] = hour, [ACC_TEMPLATE] = template_id};
    size_t len = strlen(source);
    int kind;
    int rc;

    if (s->acc == NULL) {
        s->acc = lw_calloc(ACC_CAP, sizeof(*s->acc));
        s->dirty = lw_malloc(ACC_CAP * sizeof(*s->dirty));
        if (s->acc == NULL || s->dirty == NULL) {
            lw_free(s->acc);
            lw_free(s->dirty);
            s->acc = NULL;
            s->dirty = NULL;
            return LW_ENOMEM;
        }
    }
    if (s->n_acc + 3 > ACC_CAP / 4 * 3) {
        rc = acc_flush(s);
        if (rc != LW_OK) {
            return rc;
        }
        acc_reset(s);
    }
    for (kind = ACC_SOURCE; kind <= ACC_TEMPLATE; kind++) {
        uint64_t h = XXH3_64bits_withSeed(source, len, (uint64_t)keys[kind] * 4 + (uint64_t)kind);
        size_t i = (size_t)h & (ACC_CAP - 1);
        struct acc *a;

        for (;;) {
            a = &s->acc[i];
            if (a->source == NULL ||
                (a->hash == h && a->kind == kind && a->key == keys[kind] &&
                 strcmp(a->source, source) == 0)) {
                break;
            }
            i = (i + 1) & (ACC_CAP - 1);
        }
        if (a->source == NULL) {
            a->source = lw_malloc(len + 1);
            if (a->source == NULL) {
                return LW_ENOMEM;
            }
            memcpy(a->source, source, len + 1);
            a->hash = h;
            a->kind = kind;
            a->key = keys[kind];
            s->n_acc++;
        }
        if (kind == ACC_TEMPLATE && !a->dirty && a->stored && ws >= a->stored_first &&
            ws <= a->stored_last) {
            continue; /* the table holds it already */
        }
        if (!a->dirty) {
            a->first_ns = ws;
            a->last_ns = ws;
            s->dirty[s->n_dirty++] = (uint32_t)i; /* at most once per entry: ACC_CAP */
        }
        a->first_ns = ws < a->first_ns ? ws : a->first_ns;
        a->last_ns = ws > a->last_ns ? ws : a->last_ns;
        a->lines += count;
        a->dirty = 1;
    }
    return LW_OK;
}

static int sqlite_begin(struct lw_store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (sqlite_in_transaction(&s->base)) {
        snprintf(s->errmsg, sizeof(s->errmsg), "begin: a transaction is already open");
        return LW_EINVAL;
    }
    st = stmt(s, ST_BEGIN, &rc);
    return st ? exec_stmt(s, st, "begin") : rc;
}

static int sqlite_commit(struct lw_store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (!sqlite_in_transaction(&s->base)) {
        snprintf(s->errmsg, sizeof(s->errmsg), "commit: no transaction is open");
        return LW_EINVAL;
    }
    rc = acc_flush(s);
    if (rc == LW_OK) {
        st = stmt(s, ST_COMMIT, &rc);
        if (st != NULL) {
            rc = exec_stmt(s, st, "commit");
        }
    }
    /* A COMMIT that fails (SQLITE_BUSY, disk full) leaves the transaction open: end it. */
    if (rc != LW_OK && sqlite_in_transaction(&s->base)) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    }
    if (rc != LW_OK) {
        acc_reset(s);
    }
    return rc;
}

static int sqlite_rollback(struct lw_store *base)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    acc_reset(s);
    if (!sqlite_in_transaction(&s->base)) {
        return LW_OK;
    }
    st = stmt(s, ST_ROLLBACK, &rc);
    return st ? exec_stmt(s, st, "rollback") : rc;
}

/* ---- Writes ---- */

static int sqlite_add_window_count(struct lw_store *base, int64_t window_start_ns,
                                   uint32_t template_id, uint64_t count)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, ST_ADD_WINDOW, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, window_start_ns);
    sqlite3_bind_int64(st, 2, template_id);
    sqlite3_bind_int64(st, 3, (int64_t)count);
    return exec_stmt(s, st, "add window count");
}

/* Runs alias statement @id with @a (and @b when it takes two). */
static int alias_exec(struct sqlite_store *s, enum stmt_id id, uint32_t a, uint32_t b)
{
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, id, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) > 1) {
        sqlite3_bind_int64(st, 2, b);
    }
    return exec_stmt(s, st, "template alias");
}

static int sqlite_resolve_template(struct lw_store *base, uint32_t id, uint32_t *out);

/*
 * One hop is kept: @from -> @to, the aliases that led to @from now lead to @to, and @to (live
 * again, or still) is no alias itself. The first time @from becomes an alias its template row's
 * count and times are folded into @to's (so the template list, which hides aliases, shows the
 * template's whole history); setting the same alias again changes nothing, so a resent alias
 * table is not counted twice.
 */
static int sqlite_set_template_alias(struct lw_store *base, uint32_t from, uint32_t to)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    uint32_t cur = from;
    int rc;

    if (to == 0 || to == from) {
        return alias_exec(s, ST_ALIAS_UNSET, from, 0);
    }
    rc = sqlite_resolve_template(base, from, &cur);
    if (rc < 0 || cur == to) {
        return rc;
    }
    rc = alias_exec(s, ST_ALIAS_UNSET, to, 0);
    if (rc == LW_OK) {
        rc = alias_exec(s, ST_ALIAS_FOLLOW, from, to);
    }
    if (rc == LW_OK && cur == from) {
        rc = alias_exec(s, ST_ALIAS_FOLD, from, to);
    }
    if (rc == LW_OK) {
        rc = alias_exec(s, ST_ALIAS_SET, from, to);
    }
    return rc;
}

static int sqlite_resolve_template(struct lw_store *base, uint32_t id, uint32_t *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    *out = id;
    st = stmt(s, ST_ALIAS_GET, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = (uint32_t)sqlite3_column_int64(st, 0);
        rc = LW_OK;
    }
    else if (rc == SQLITE_DONE) {
        rc = LW_OK;
    }
    else {
        rc = fail(s, rc, "resolve template");
    }
    done(st);
    return rc;
}

static int sqlite_add_source_count(struct lw_store *base, int64_t window_start_ns,
                                   uint32_t template_id, const char *source, uint64_t count)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (source == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "add source count: no source");
        return LW_EINVAL;
    }
    st = stmt(s, ST_ADD_SOURCE, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, window_start_ns);
    sqlite3_bind_int64(st, 2, template_id);
    sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)count);
    rc = exec_stmt(s, st, "add source count");
    if (rc == LW_OK) {
        rc = acc_add(s, source, template_id, window_start_ns, count);
    }
    /* Outside a transaction every statement commits by itself: so do the sums. */
    if (rc == LW_OK && !sqlite_in_transaction(&s->base)) {
        rc = acc_flush(s);
    }
    return rc;
}

static int sqlite_add_level_count(struct lw_store *base, int64_t window_start_ns, int level,
                                  uint64_t count)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, ST_ADD_LEVEL, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, window_start_ns);
    sqlite3_bind_int(st, 2, level);
    sqlite3_bind_int64(st, 3, (int64_t)count);
    return exec_stmt(s, st, "add level count");
}

/* Binds a time, or NULL for LW_TS_UNKNOWN. */
static void bind_ts(sqlite3_stmt *st, int i, int64_t ts_ns)
{
    if (ts_ns == LW_TS_UNKNOWN) {
        sqlite3_bind_null(st, i);
    }
    else {
        sqlite3_bind_int64(st, i, ts_ns);
    }
}

static int sqlite_upsert_template(struct lw_store *base, uint32_t id, const char *text,
                                  int64_t first_ns, int64_t last_ns, uint64_t count_delta)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, ST_UPSERT_TEMPLATE, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    if (text != NULL) {
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    }
    bind_ts(st, 3, first_ns);
    bind_ts(st, 4, last_ns);
    sqlite3_bind_int64(st, 5, (int64_t)count_delta);
    return exec_stmt(s, st, "upsert template");
}

static int sqlite_set_checkpoint(struct lw_store *base, const struct lw_ingest_checkpoint *ck,
                                 const char *input)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (ck == NULL || ck->path == NULL || input == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "set checkpoint: no input or path");
        return LW_EINVAL;
    }
    st = stmt(s, ST_SET_CHECKPOINT, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_text(st, 1, input, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ck->path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)ck->dev);
    sqlite3_bind_int64(st, 4, (int64_t)ck->ino);
    sqlite3_bind_int64(st, 5, (int64_t)ck->fingerprint);
    sqlite3_bind_int64(st, 6, (int64_t)ck->offset);
    sqlite3_bind_int64(st, 7, now_ns());
    return exec_stmt(s, st, "set checkpoint");
}

static int sqlite_delete_checkpoint(struct lw_store *base, const char *input, const char *path)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (input == NULL || path == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "delete checkpoint: no input or path");
        return LW_EINVAL;
    }
    st = stmt(s, ST_DEL_CHECKPOINT, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_text(st, 1, input, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    return exec_stmt(s, st, "delete checkpoint");
}

static int sqlite_add_stored_lines(struct lw_store *base, uint64_t n)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, ST_ADD_STORED, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, (int64_t)n);
    return exec_stmt(s, st, "add stored_lines");
}

static int save_blob(struct sqlite_store *s, int which, const char *what, const void *blob,
                     size_t len)
{
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (blob == NULL && len > 0) {
        snprintf(s->errmsg, sizeof(s->errmsg), "save %s: no state", what);
        return LW_EINVAL;
    }
    if (len > INT_MAX) {
        snprintf(s->errmsg, sizeof(s->errmsg), "save %s: state of %zu bytes too big", what,
                 len);
        return LW_ETOOBIG;
    }
    st = stmt(s, which, &rc);
    if (st == NULL) {
        return rc;
    }
    /* A zero-length blob must still be a blob, not NULL (the column is NOT NULL). */
    if (len == 0) {
        sqlite3_bind_zeroblob(st, 1, 0);
    }
    else {
        sqlite3_bind_blob(st, 1, blob, (int)len, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 2, now_ns());
    if (which == ST_SAVE_MODELS) {
        sqlite3_bind_int64(st, 3, (int64_t)XXH64(blob, len, 0));
    }
    return exec_stmt(s, st, what);
}

static int sqlite_save_miner(struct lw_store *base, const void *blob, size_t len)
{
    struct sqlite_store *s = (struct sqlite_store *)base;

    return save_blob(s, ST_SAVE_MINER, "miner state", blob, len);
}

/* Notes live in meta as "note.<key>". */
static int sqlite_set_note(struct lw_store *base, const char *key, const char *text)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    char k[128];
    int rc;

    snprintf(k, sizeof(k), "note.%s", key);
    rc = lw__store_meta_set_text(s->db, k, text);
    if (rc == LW_EFULL) {
        full_msg(s);
    }
    else if (rc != LW_OK) {
        snprintf(s->errmsg, sizeof(s->errmsg), "note %s: %s", key, sqlite3_errmsg(s->db));
    }
    return rc;
}

static int sqlite_save_models(struct lw_store *base, const void *blob, size_t len)
{
    struct sqlite_store *s = (struct sqlite_store *)base;

    return save_blob(s, ST_SAVE_MODELS, "detector models", blob, len);
}

/* Binds text or NULL. */
static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v != NULL) {
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    }
    else {
        sqlite3_bind_null(st, i);
    }
}

static int sqlite_insert_anomaly(struct lw_store *base, const struct lw_store_anomaly *a,
                                 int64_t *id_out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (a == NULL || a->detector == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "insert anomaly: no detector");
        return LW_EINVAL;
    }
    st = stmt(s, ST_INSERT_ANOMALY, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, a->ts_ns);
    sqlite3_bind_text(st, 2, a->detector, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, a->score);
    if (a->template_id != 0) {
        sqlite3_bind_int64(st, 4, a->template_id);
    }
    bind_text_or_null(st, 5, a->source);
    sqlite3_bind_text(st, 6, a->summary ? a->summary : "", -1, SQLITE_STATIC);
    bind_text_or_null(st, 7, a->explanation_json);
    bind_text_or_null(st, 8, a->samples_json);
    bind_text_or_null(st, 9, a->kind);
    bind_text_or_null(st, 10, a->key);
    bind_text_or_null(st, 11, a->context_json);
    rc = exec_stmt(s, st, "insert anomaly");
    if (rc == LW_OK && id_out != NULL) {
        *id_out = sqlite3_last_insert_rowid(s->db);
    }
    return rc;
}

static int sqlite_insert_alert(struct lw_store *base, const struct lw_store_alert *a,
                               int64_t *id_out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (a == NULL || a->severity == NULL || a->state == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "insert alert: no severity or state");
        return LW_EINVAL;
    }
    st = stmt(s, ST_INSERT_ALERT, &rc);
    if (st == NULL) {
        return rc;
    }
    if (a->anomaly_id != 0) {
        sqlite3_bind_int64(st, 1, a->anomaly_id);
    }
    bind_text_or_null(st, 2, a->incident);
    sqlite3_bind_text(st, 3, a->severity, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, a->state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, a->created_ns);
    sqlite3_bind_int64(st, 6, a->sent_ns);
    bind_text_or_null(st, 7, a->sink);
    rc = exec_stmt(s, st, "insert alert");
    if (rc == LW_OK && id_out != NULL) {
        *id_out = sqlite3_last_insert_rowid(s->db);
    }
    return rc;
}

static int sqlite_set_alert_state(struct lw_store *base, int64_t id, const char *state,
                                  int64_t sent_ns)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (state == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "set alert state: no state");
        return LW_EINVAL;
    }
    st = stmt(s, ST_SET_ALERT, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, sent_ns);
    rc = exec_stmt(s, st, "set alert state");
    if (rc == LW_OK && sqlite3_changes(s->db) == 0) {
        snprintf(s->errmsg, sizeof(s->errmsg), "set alert state: no alert %lld", (long long)id);
        return LW_ENOENT;
    }
    return rc;
}

#define HOUR_NS          (3600LL * 1000000000LL)
#define ROLL_MAX_HOURS   24  /* new hours rolled per call: a big backlog is caught up in steps */
#define ROLL_LATE_HOURS  2   /* rolled hours rolled again, for lines that come late */

/*
 * Fills the hourly rollups (schema 5) for the whole hours before the newest window's hour:
 * from meta.rolled_upto_ns (less ROLL_LATE_HOURS, re-rolled for late lines) on, at most
 * ROLL_MAX_HOURS new hours per call, so that one call holds the write lock briefly even on a
 * store that was never rolled. Lines that come more than ROLL_LATE_HOURS late for a rolled
 * hour are in the windows but not in the rollups. Inside the caller's transaction.
 */
static int roll_hours(struct sqlite_store *s)
{
    static const enum stmt_id rolls[] = {ST_ROLL_HOUR, ST_ROLL_HOUR_LEVEL, ST_ROLL_HOUR_SOURCE,
                                         ST_ROLL_MIN5_LEVEL};
    sqlite3_stmt *st;
    int64_t upto = 0, oldest, newest, from, to;
    size_t i;
    int rc = LW_OK;

    st = stmt(s, ST_WINDOW_SPAN, &rc);
    if (st == NULL) {
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW || sqlite3_column_type(st, 0) == SQLITE_NULL) {
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? LW_OK : fail(s, rc, "roll hours");
        sqlite3_reset(st);
        return rc;
    }
    oldest = sqlite3_column_int64(st, 0);
    newest = sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    if (newest < 0) {
        return LW_OK; /* rollups are for times after 1970 only (bind_split() agrees) */
    }
    rc = lw__store_meta_get_int(s->db, "rolled_upto_ns", &upto);
    if (rc != LW_OK && rc != LW_ENOENT) {
        return rc;
    }
    from = oldest > 0 ? oldest / HOUR_NS * HOUR_NS : 0;
    if (rc == LW_OK && upto - ROLL_LATE_HOURS * HOUR_NS > from) {
        from = upto - ROLL_LATE_HOURS * HOUR_NS;
    }
    to = newest / HOUR_NS * HOUR_NS;
    if (to > (upto > from ? upto : from) + ROLL_MAX_HOURS * HOUR_NS) {
        to = (upto > from ? upto : from) + ROLL_MAX_HOURS * HOUR_NS;
    }
    if (to <= from) {
        return LW_OK;
    }
    for (i = 0; i < sizeof(rolls) / sizeof(rolls[0]); i++) {
        st = stmt(s, rolls[i], &rc);
        if (st == NULL) {
            return rc;
        }
        sqlite3_bind_int64(st, 1, from);
        sqlite3_bind_int64(st, 2, to);
        sqlite3_bind_int64(st, 3, HOUR_NS);
        rc = exec_stmt(s, st, "roll hours");
        if (rc != LW_OK) {
            return rc;
        }
    }
    return to > upto ? lw__store_meta_set_int(s->db, "rolled_upto_ns", to) : LW_OK;
}

static int sqlite_prune(struct lw_store *base, int64_t now_ns_arg, uint64_t *n_deleted)
{
    struct sqlite_store *s = (struct sqlite_store *)base;

    static const enum stmt_id prunes[] = {
        ST_PRUNE_WINDOW, ST_PRUNE_SOURCE, ST_PRUNE_LEVEL, ST_PRUNE_ANOMALY, ST_PRUNE_ALERT,
        ST_PRUNE_EXAMPLE, ST_PRUNE_INCIDENT, ST_PRUNE_HOUR, ST_PRUNE_HOUR_LEVEL,
        ST_PRUNE_HOUR_SOURCE, ST_PRUNE_SRC, ST_PRUNE_SRC_HOUR, ST_PRUNE_SRC_TPL,
        ST_PRUNE_MIN5_LEVEL, ST_PRUNE_ANOM_BUCKETS,
    };
    sqlite3_stmt *st;
    uint64_t total = 0;
    int64_t cutoff;
    int own_txn = 0;
    size_t i;
    int rc = LW_OK;

    if (n_deleted != NULL) {
        *n_deleted = 0;
    }
    cutoff = now_ns_arg - s->retention_s * 1000000000;
    if (!sqlite_in_transaction(&s->base)) {
        rc = sqlite_begin(&s->base);
        if (rc != LW_OK) {
            return rc;
        }
        own_txn = 1;
    }
    /* The summed source counts go in before the cut, and the cache of stored rows goes. */
    rc = acc_flush(s);
    acc_reset(s);
    if (rc != LW_OK) {
        goto fail;
    }
    for (i = 0; i < sizeof(prunes) / sizeof(prunes[0]); i++) {
        st = stmt(s, prunes[i], &rc);
        if (st == NULL) {
            goto fail;
        }
        sqlite3_bind_int64(st, 1, cutoff);
        rc = exec_stmt(s, st, "prune");
        if (rc != LW_OK) {
            goto fail;
        }
        total += (uint64_t)sqlite3_changes64(s->db);
    }
    rc = roll_hours(s);
    if (rc != LW_OK) {
        goto fail;
    }
    if (own_txn) {
        rc = sqlite_commit(&s->base);
        if (rc != LW_OK) {
            return rc;
        }
    }
    if (n_deleted != NULL) {
        *n_deleted = total;
    }
    return LW_OK;
fail:
    if (own_txn) {
        sqlite_rollback(&s->base);
    }
    return rc;
}

/* ---- Reads ---- */

static int sqlite_get_checkpoint(struct lw_store *base, const char *input, const char *path,
                                 struct lw_ingest_checkpoint *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (input == NULL || path == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "get checkpoint: no input or path");
        return LW_EINVAL;
    }
    st = stmt(s, ST_GET_CHECKPOINT, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_text(st, 1, input, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->path = path;
        out->dev = (uint64_t)sqlite3_column_int64(st, 0);
        out->ino = (uint64_t)sqlite3_column_int64(st, 1);
        out->fingerprint = (uint64_t)sqlite3_column_int64(st, 2);
        out->offset = (uint64_t)sqlite3_column_int64(st, 3);
        rc = LW_OK;
    }
    else if (rc == SQLITE_DONE) {
        rc = LW_ENOENT;
    }
    else {
        rc = fail(s, rc, "get checkpoint");
    }
    done(st);
    return rc;
}

static int sqlite_foreach_checkpoint(struct lw_store *base, const char *input,
                                     lw_store_checkpoint_cb cb, void *opaque)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    struct lw_ingest_checkpoint ck;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (input == NULL || cb == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "foreach checkpoint: no input or callback");
        return LW_EINVAL;
    }
    st = stmt(s, ST_FOREACH_CHECKPOINT, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_text(st, 1, input, -1, SQLITE_STATIC);
    for (;;) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            rc = rc == SQLITE_DONE ? LW_OK : fail(s, rc, "foreach checkpoint");
            break;
        }
        ck.path = (const char *)sqlite3_column_text(st, 0);
        ck.dev = (uint64_t)sqlite3_column_int64(st, 1);
        ck.ino = (uint64_t)sqlite3_column_int64(st, 2);
        ck.fingerprint = (uint64_t)sqlite3_column_int64(st, 3);
        ck.offset = (uint64_t)sqlite3_column_int64(st, 4);
        if (ck.path == NULL) {
            rc = fail(s, SQLITE_NOMEM, "foreach checkpoint");
            break;
        }
        rc = cb(opaque, &ck);
        if (rc != 0) {
            break;
        }
    }
    done(st);
    return rc;
}

/*
 * Loads the blob of @which; with @checked non-NULL the statement's second column is its XXH64
 * (NULL in rows saved before checksums: *@checked 0), and a blob that does not match it is
 * LW_ECORRUPT.
 */
static int load_blob(struct sqlite_store *s, int which, const char *what, char **blob, size_t *len,
                     int *checked)
{
    sqlite3_stmt *st;
    const void *data;
    int n;
    int rc = LW_OK;

    *blob = NULL;
    *len = 0;
    st = stmt(s, which, &rc);
    if (st == NULL) {
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        done(st);
        return LW_ENOENT;
    }
    if (rc != SQLITE_ROW) {
        rc = fail(s, rc, what);
        done(st);
        return rc;
    }
    data = sqlite3_column_blob(st, 0);
    n = sqlite3_column_bytes(st, 0);
    /* One byte more so that an empty state is still a non-NULL buffer. */
    *blob = lw_malloc((size_t)n + 1);
    if (*blob == NULL) {
        done(st);
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: out of memory", what);
        return LW_ENOMEM;
    }
    if (n > 0) {
        memcpy(*blob, data, (size_t)n);
    }
    *len = (size_t)n;
    if (checked != NULL) {
        *checked = sqlite3_column_type(st, 1) != SQLITE_NULL;
        if (*checked) {
            uint64_t want = (uint64_t)sqlite3_column_int64(st, 1);
            uint64_t got = XXH64(*blob, (size_t)n, 0);

            if (want != got) {
                snprintf(s->errmsg, sizeof(s->errmsg),
                         "%s: %s: %d bytes that fail their checksum (saved %016llx, computed"
                         " %016llx): damaged in the file",
                         what, s->path, n, (unsigned long long)want, (unsigned long long)got);
                lw_free(*blob);
                *blob = NULL;
                *len = 0;
                done(st);
                return LW_ECORRUPT;
            }
        }
    }
    done(st);
    return LW_OK;
}

static int sqlite_load_miner(struct lw_store *base, char **blob, size_t *len)
{
    struct sqlite_store *s = (struct sqlite_store *)base;

    return load_blob(s, ST_LOAD_MINER, "load miner state", blob, len, NULL);
}

static int sqlite_load_models(struct lw_store *base, char **blob, size_t *len, int *checked)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int ignored;

    return load_blob(s, ST_LOAD_MODELS, "load detector models", blob, len,
                     checked != NULL ? checked : &ignored);
}

static int sqlite_stored_lines(struct lw_store *base, uint64_t *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;

    return query_u64(s, ST_STORED_LINES, out, "read stored_lines");
}

static int sqlite_template_count(struct lw_store *base, uint64_t *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;

    return query_u64(s, ST_TEMPLATE_COUNT, out, "count templates");
}

static int sqlite_max_template_id(struct lw_store *base, uint32_t *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    uint64_t v = 0;
    int rc;

    rc = query_u64(s, ST_MAX_TEMPLATE_ID, &v, "max template id");
    *out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return rc;
}

/* Steps @st (bound by the caller) for one count; 0 when there is no row. */
static int read_count(struct sqlite_store *s, sqlite3_stmt *st, uint64_t *out, const char *what)
{
    int rc;

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
        rc = fail(s, rc, what);
    }
    done(st);
    return rc;
}

static int sqlite_get_window_count(struct lw_store *base, int64_t window_start_ns,
                                   uint32_t template_id, uint64_t *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, ST_GET_WINDOW, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, window_start_ns);
    sqlite3_bind_int64(st, 2, template_id);
    return read_count(s, st, out, "get window count");
}

static int sqlite_get_source_count(struct lw_store *base, int64_t window_start_ns,
                                   uint32_t template_id, const char *source, uint64_t *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    if (source == NULL) {
        snprintf(s->errmsg, sizeof(s->errmsg), "get source count: no source");
        return LW_EINVAL;
    }
    st = stmt(s, ST_GET_SOURCE, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, window_start_ns);
    sqlite3_bind_int64(st, 2, template_id);
    sqlite3_bind_text(st, 3, source, -1, SQLITE_STATIC);
    return read_count(s, st, out, "get source count");
}

static int sqlite_get_level_count(struct lw_store *base, int64_t window_start_ns, int level,
                                  uint64_t *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, ST_GET_LEVEL, &rc);
    if (st == NULL) {
        return rc;
    }
    sqlite3_bind_int64(st, 1, window_start_ns);
    sqlite3_bind_int(st, 2, level);
    return read_count(s, st, out, "get level count");
}

static uint64_t file_size(const char *path, const char *suffix)
{
    char buf[4096];
    struct stat sb;

    if ((size_t)snprintf(buf, sizeof(buf), "%s%s", path, suffix) >= sizeof(buf)) {
        return 0;
    }
    return stat(buf, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* The alert rows by state: what went out and what the alert manager held back. */
static int alert_states(struct sqlite_store *s, struct lw_store_status *out)
{
    sqlite3_stmt *st;
    int rc = LW_OK;

    st = stmt(s, ST_ALERT_STATES, &rc);
    if (st == NULL) {
        return rc;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *state = (const char *)sqlite3_column_text(st, 0);
        uint64_t n = (uint64_t)sqlite3_column_int64(st, 1);

        if (state == NULL) {
            continue;
        }
        if (strcmp(state, "sent") == 0) {
            out->n_alerts_sent += n;
        }
        else if (strcmp(state, "failed") == 0) {
            out->n_alerts_failed += n;
        }
        else if (strcmp(state, "pending") == 0) {
            out->n_alerts_pending += n;
        }
        else if (strcmp(state, "suppressed") == 0) {
            out->n_suppressed += n;
        }
        else if (strcmp(state, "limited") == 0) {
            out->n_limited += n;
        }
    }
    rc = rc == SQLITE_DONE ? LW_OK : fail(s, rc, "count alerts by state");
    done(st);
    return rc;
}

static int stat_queries(struct sqlite_store *s, struct lw_store_status *out)
{
    sqlite3_stmt *st;
    int64_t v;
    int rc;

    rc = sqlite_stored_lines(&s->base, &out->stored_lines);
    if (rc == LW_OK) {
        rc = sqlite_template_count(&s->base, &out->n_templates);
    }
    if (rc == LW_OK) {
        rc = query_u64(s, ST_N_WINDOWS, &out->n_windows, "count windows");
    }
    if (rc == LW_OK) {
        rc = query_u64(s, ST_N_CHECKPOINTS, &out->n_checkpoints, "count checkpoints");
    }
    if (rc == LW_OK) {
        rc = query_u64(s, ST_N_ANOMALIES, &out->n_anomalies, "count anomalies");
    }
    if (rc == LW_OK) {
        rc = query_u64(s, ST_N_ALERTS, &out->n_alerts, "count alerts");
    }
    if (rc == LW_OK) {
        rc = alert_states(s, out);
    }
    if (rc != LW_OK) {
        return rc;
    }
    st = stmt(s, ST_WINDOW_RANGE, &rc);
    if (st == NULL) {
        return rc;
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->oldest_window_ns = sqlite3_column_int64(st, 0);
        out->newest_window_ns = sqlite3_column_int64(st, 1);
        rc = LW_OK;
    }
    else {
        rc = fail(s, rc, "window range");
    }
    done(st);
    if (rc != LW_OK) {
        return rc;
    }
    if (lw__store_meta_get_int(s->db, "window_s", &v) == LW_OK) {
        out->window_s = v;
    }
    if (lw__store_meta_get_int(s->db, "retention_s", &v) == LW_OK) {
        out->retention_s = v;
    }
    if (lw__store_meta_get_text(s->db, "note.detectors", out->detectors, sizeof(out->detectors)) !=
        LW_OK) {
        out->detectors[0] = '\0';
    }
    return LW_OK;
}

static int sqlite_stat(struct lw_store *base, struct lw_store_status *out)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st;
    int own_txn = 0;
    int rc = LW_OK;

    memset(out, 0, sizeof(*out));
    out->schema_version = s->schema_version;
    /* One read transaction, so that every number comes from the same commit. */
    if (!sqlite_in_transaction(&s->base)) {
        st = stmt(s, ST_BEGIN_READ, &rc);
        if (st == NULL) {
            return rc;
        }
        rc = exec_stmt(s, st, "begin read");
        if (rc != LW_OK) {
            return rc;
        }
        own_txn = 1;
    }
    rc = stat_queries(s, out);
    if (own_txn) {
        sqlite_rollback(&s->base);
    }
    out->db_bytes = file_size(s->path, "");
    out->wal_bytes = file_size(s->path, "-wal");
    return rc;
}

static int sqlite_status(const char *dir, struct lw_store_status *out, char *err, size_t err_len)
{
    struct lw_store_conf conf = {.read_only = 1};
    struct sqlite_store *s;
    struct stat sb;
    int rc;

    memset(out, 0, sizeof(*out));
    if (dir == NULL || stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, err_len, "no logwarden store in %s", dir ? dir : "(null)");
        return LW_ENOENT;
    }
    s = open_store(dir, &conf, &rc, err, err_len);
    if (s == NULL) {
        return rc;
    }
    rc = sqlite_stat(&s->base, out);
    if (rc != LW_OK) {
        snprintf(err, err_len, "%s: %s", dir, sqlite_errmsg(&s->base));
    }
    sqlite_close(&s->base);
    return rc;
}

static int sqlite_integrity_check(struct lw_store *base, char *result, size_t cap)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    sqlite3_stmt *st = NULL;
    size_t used = 0;
    const char *row;
    size_t n;
    int rc;

    if (cap > 0) {
        result[0] = '\0';
    }
    rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL);
    if (rc != SQLITE_OK) {
        return fail(s, rc, "integrity check");
    }
    /* Rows are "ok" alone, or one problem each: join them with newlines, truncating. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row = (const char *)sqlite3_column_text(st, 0);
        if (row == NULL || cap == 0) {
            continue;
        }
        n = strlen(row);
        if (used > 0 && used + 1 < cap) {
            result[used++] = '\n';
        }
        if (used + n >= cap) {
            n = cap - 1 - used;
        }
        memcpy(result + used, row, n);
        used += n;
        result[used] = '\0';
    }
    if (rc != SQLITE_DONE) {
        rc = fail(s, rc, "integrity check");
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_finalize(st);
    return LW_OK;
}

/* For the query functions of store_query.c. */
sqlite3 *lw__store_sqlite_db(struct lw_store *base)
{
    return ((struct sqlite_store *)base)->db;
}

sqlite3_stmt *lw__store_sqlite_stmt(struct lw_store *base, int slot, const char *sql, int *rc)
{
    struct sqlite_store *s = (struct sqlite_store *)base;
    int src;

    if (slot < 0 || slot >= LW__STORE_QSLOTS) {
        *rc = LW_EINVAL;
        return NULL;
    }
    if (s->qst[slot] == NULL) {
        src = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->qst[slot], NULL);
        if (src != SQLITE_OK) {
            *rc = fail(s, src, "prepare");
            s->qst[slot] = NULL;
            return NULL;
        }
    }
    return s->qst[slot];
}

int lw__store_sqlite_fail(struct lw_store *base, int rc, const char *what)
{
    return fail((struct sqlite_store *)base, rc, what);
}

void lw__store_sqlite_msg(struct lw_store *base, const char *msg)
{
    struct sqlite_store *s = (struct sqlite_store *)base;

    snprintf(s->errmsg, sizeof(s->errmsg), "%s", msg);
}

int lw__store_sqlite_examples(const struct lw_store *base)
{
    return ((const struct sqlite_store *)base)->examples_per_template;
}

/* The SQLite backend as the store interface sees it (lw_store.h); only store.c names it. */
const struct lw_store_ops lw__store_sqlite_ops = {
    .name = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .errmsg = sqlite_errmsg,
    .window_s = sqlite_window_s,
    .retention_s = sqlite_retention_s,
    .window_start = sqlite_window_start,
    .begin = sqlite_begin,
    .commit = sqlite_commit,
    .rollback = sqlite_rollback,
    .in_transaction = sqlite_in_transaction,
    .add_window_count = sqlite_add_window_count,
    .add_source_count = sqlite_add_source_count,
    .add_level_count = sqlite_add_level_count,
    .upsert_template = sqlite_upsert_template,
    .set_checkpoint = sqlite_set_checkpoint,
    .delete_checkpoint = sqlite_delete_checkpoint,
    .add_stored_lines = sqlite_add_stored_lines,
    .save_miner = sqlite_save_miner,
    .save_models = sqlite_save_models,
    .set_note = sqlite_set_note,
    .insert_anomaly = sqlite_insert_anomaly,
    .insert_alert = sqlite_insert_alert,
    .set_alert_state = sqlite_set_alert_state,
    .prune = sqlite_prune,
    .get_checkpoint = sqlite_get_checkpoint,
    .foreach_checkpoint = sqlite_foreach_checkpoint,
    .load_miner = sqlite_load_miner,
    .load_models = sqlite_load_models,
    .stored_lines = sqlite_stored_lines,
    .template_count = sqlite_template_count,
    .max_template_id = sqlite_max_template_id,
    .set_template_alias = sqlite_set_template_alias,
    .resolve_template = sqlite_resolve_template,
    .get_window_count = sqlite_get_window_count,
    .get_source_count = sqlite_get_source_count,
    .get_level_count = sqlite_get_level_count,
    .stat = sqlite_stat,
    .status = sqlite_status,
    .integrity_check = sqlite_integrity_check,
    /* Query API block: store_query.c. */
    .series = lw__sq_series,
    .series_levels = lw__sq_series_levels,
    .series_anomalies = lw__sq_series_anomalies,
    .sparklines = lw__sq_sparklines,
    .totals = lw__sq_totals,
    .list_anomalies = lw__sq_list_anomalies,
    .get_anomaly = lw__sq_get_anomaly,
    .list_alerts = lw__sq_list_alerts,
    .list_incidents = lw__sq_list_incidents,
    .list_templates = lw__sq_list_templates,
    .list_sources = lw__sq_list_sources,
    .list_examples = lw__sq_list_examples,
    .add_example = lw__sq_add_example,
    .list_rules = lw__sq_list_rules,
    .get_rule = lw__sq_get_rule,
    .add_rule = lw__sq_add_rule,
    .delete_rule = lw__sq_delete_rule,
};
