/*
 * The store interface (struct lw_store_ops at the end, dispatched by src/store/store.c). Two
 * backends implement it: ClickHouse over HTTP (conf.backend, src/store/store_clickhouse.c; its
 * tables, transactions and guarantees are in docs/store.md, "ClickHouse"), and the default
 * described below: one SQLite database, DIR/logwarden.db, that holds what the daemon must
 * not lose across restarts: templates, per-window counts (per template, per template and
 * source, per level), input checkpoints, the miner state, the total of lines ever counted
 * (stored_lines), anomalies and alerts. docs/store.md describes every table and column.
 *
 * Threads. A struct lw_store is one SQLite connection and must be used by one thread at a time.
 * The daemon has exactly one writer (the store thread); readers (HTTP API, `logwarden status`)
 * open their own handle, usually read-only (conf.read_only), and see a consistent snapshot of
 * the last commit while the writer goes on (WAL mode).
 *
 * SQL. Every statement is a constant string prepared once and cached in the handle; values are
 * always bound as parameters. No SQL text is ever assembled from data.
 *
 * Durability. The database runs in WAL mode with synchronous=NORMAL (FULL with conf.sync_full):
 * a commit has been written to DIR/logwarden.db-wal with write(2) when lw_store_commit() returns,
 * so it survives a crash or SIGKILL of the process. Only a power loss or kernel crash can lose
 * the transactions committed since the last WAL checkpoint (the WAL is fsynced at checkpoints);
 * the database then opens at an earlier commit, never half of one. Because a group's counts, its
 * input checkpoint and the stored_lines increment are committed in one transaction, a lost
 * commit loses all three together and the input re-reads those lines: at-least-once holds, and
 * at most the one batch being committed at the moment of a crash is counted twice.
 *
 * Time. All times are nanoseconds since the Unix epoch (int64_t). Window rows are keyed by the
 * window's start, computed by the caller (lw_store_window_start() helps).
 */
#ifndef LW_STORE_H
#define LW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lw/lw_conf.h"
#include "lw/lw_ingest.h"

/* Schema version this build creates and understands; older stores are migrated on open. */
#define LW_STORE_SCHEMA_VERSION 7
/* The database file inside the data directory, and the lock file of lw_store_lock(). */
#define LW_STORE_DB_NAME   "logwarden.db"
#define LW_STORE_LOCK_NAME "lock"

#define LW_STORE_DEFAULT_RETENTION_S (7 * 86400)
#define LW_STORE_DEFAULT_WINDOW_S    10
#define LW_STORE_DEFAULT_EXAMPLES    5

struct lw_store;

/* Which backend lw_store_open() uses (store.backend in the configuration). */
enum lw_store_backend {
    LW_STORE_BACKEND_SQLITE = 0,      /* DIR/logwarden.db (the default) */
    LW_STORE_BACKEND_CLICKHOUSE = 1,  /* a ClickHouse server over HTTP; DIR keeps the lock */
};

/* The file in the data directory that names the ClickHouse store used with it (for status). */
#define LW_STORE_CH_MARKER_NAME "store-clickhouse.conf"

/*
 * The ClickHouse backend's settings (store.clickhouse.* in docs/config.md). Strings are
 * borrowed for lw_store_open(); NULL or zero takes the default.
 */
struct lw_store_clickhouse_conf {
    const char *url;            /* NULL: http://127.0.0.1:8123 */
    const char *database;       /* NULL: "logwarden"; letters, digits and '_' only */
    const char *user;           /* NULL: ClickHouse's default user */
    const char *password;       /* NULL: none */
    const char *password_file;  /* where the password came from; recorded for `status` */
    const char *writer_id;      /* NULL: generated once and kept in DIR/writer_id; letters,
                                 * digits, '.', '_', ':' and '-', at most 64 */
    int64_t timeout_ms;         /* 0: 10000; one HTTP request at most */
    size_t batch_rows;          /* 0: 100000; rows of one table sent in one INSERT at most */
};

/* Zeroed fields take their defaults. */
struct lw_store_conf {
    int64_t retention_s;      /* 0: 7 days; window rows and anomalies older than this are pruned */
    int64_t window_s;         /* 0: 10 s; length of a count window, recorded in meta */
    int busy_timeout_ms;      /* 0: 5000; how long a statement waits for another connection */
    int read_only;            /* 1: open with SQLITE_OPEN_READONLY, never create or migrate */
    int sync_full;            /* 1: synchronous=FULL (fsync every commit; survives power loss) */
    int examples_per_template; /* 0: 5; example lines kept per template (lw_store_add_example) */
    uint64_t max_bytes;       /* 0: no cap; else the database file may not grow past this (rounded
                               * down to whole pages): a write that needs more fails with
                               * LW_EFULL exactly as on a full disk (PRAGMA max_page_count) */
    int backend;              /* enum lw_store_backend; 0: SQLite */
    int short_lived;          /* 1: a handle for one short job (a rule, a status): no
                               * housekeeping at open (ClickHouse's compaction) */
    struct lw_store_clickhouse_conf clickhouse;  /* with LW_STORE_BACKEND_CLICKHOUSE */
};

/*
 * Reads the section store: of the configuration file (a map of @c, lw_conf.h; docs/config.md)
 * into @sc over the values already there: backend, retention, examples_per_template and
 * store.clickhouse.*. Strings borrow from @c; clickhouse.password_file is the file's name, which
 * the caller reads (the password it holds is the caller's to keep and wipe). An unknown key is
 * an error. LW_OK, or a negative LW_E* code with @err filled ("FILE:LINE: store.x: ...").
 */
int lw_store_conf_read(const struct lw_conf *c, const struct lw_conf_node *store,
                       struct lw_store_conf *sc, struct lw_conf_err *err);

/*
 * Opens (and creates when missing, with its parents) the data directory @dir and the database
 * DIR/logwarden.db in it, sets WAL mode and the pragmas above, and creates or migrates the
 * schema: each migration step runs in its own transaction that also records the new
 * schema_version in table meta. A store written by a newer logwarden (schema_version above
 * LW_STORE_SCHEMA_VERSION) is refused. With conf->read_only the database must exist and is
 * neither created nor migrated (an older schema is refused too). @conf may be NULL (defaults).
 *
 * Returns a handle to close with lw_store_close(), or NULL with a message in @err (which says
 * "no logwarden store in DIR" when a read-only open finds no database, "... schema version N,
 * newer than ..." for a newer store). Call lw_store_lock() first in the daemon: the store does
 * not itself keep a second writer process out (SQLite would only serialize the two).
 */
struct lw_store *lw_store_open(const char *dir, const struct lw_store_conf *conf, char *err,
                               size_t err_len);
/*
 * Opens the store that the daemon of data directory @dir writes, for a command beside it
 * (`logwarden feedback`): the ClickHouse store named by DIR's LW_STORE_CH_MARKER_NAME (as
 * lw_store_status() finds it), read-only except, with @rules_writable, the feedback rules (single
 * rows outside any transaction); else DIR/logwarden.db, read-only unless @rules_writable (SQLite
 * lets such a short write through beside the daemon's writer). NULL with a message in @err.
 */
struct lw_store *lw_store_open_dir(const char *dir, int rules_writable, char *err,
                                   size_t err_len);
/*
 * Closes @s, rolling back an open transaction. lw_store_close(NULL) does nothing. Returns
 * nothing: a close cannot fail once every statement is finalized, which the handle ensures.
 */
void lw_store_close(struct lw_store *s);

/*
 * The last error message on @s (SQLite's, with the statement's purpose), "" when none. Valid
 * until the next call on @s. Functions below return negative LW_E* codes and leave the detail
 * here; they do not log.
 */
const char *lw_store_errmsg(const struct lw_store *s);

/* The window length (seconds) and retention (seconds) of @s after defaults. */
int64_t lw_store_window_s(const struct lw_store *s);
int64_t lw_store_retention_s(const struct lw_store *s);
/*
 * The start of the window that holds @ts_ns: ts_ns rounded down to a multiple of window_s
 * (floor, also for times before 1970).
 */
int64_t lw_store_window_start(const struct lw_store *s, int64_t ts_ns);

/*
 * ---- Writer API: one thread. ----
 *
 * Every write function may be called inside lw_store_begin() .. lw_store_commit() (the normal
 * case: one transaction per pipeline group) or alone, when it commits on its own. They return
 * LW_OK, LW_EINVAL (bad argument), LW_ENOMEM, LW_EAGAIN (the database stayed locked by another
 * connection for busy_timeout_ms), LW_ECORRUPT, LW_EFULL (no space: the file system is full
 * (ENOSPC, EDQUOT) or the database reached conf.max_bytes) or LW_EIO (other I/O errors, a
 * read-only handle).
 * After a failed write inside a transaction, call lw_store_rollback(): the transaction may hold
 * part of the group.
 *
 * A full disk. On LW_EFULL lw_store_errmsg() reads "disk full: DIR/logwarden.db: N bytes free"
 * (N for an unprivileged process, statvfs f_bavail), or "store full: DIR/logwarden.db reached
 * its cap of N bytes" for conf.max_bytes. Nothing of the failed transaction is stored and
 * nothing committed before is harmed: offer the same transaction again once space is back (it
 * then commits; nothing else needs to be done to the handle).
 */

/*
 * Starts a write transaction (BEGIN IMMEDIATE: the write lock is taken now, so a later
 * statement never fails on a lock upgrade). LW_EINVAL when one is already open.
 */
int lw_store_begin(struct lw_store *s);
/*
 * Commits the open transaction; when it returns LW_OK everything written since begin is durable
 * as described at the top of this file. On failure the transaction is rolled back (nothing of
 * it is stored) and the caller offers the same data again. LW_EINVAL when none is open.
 */
int lw_store_commit(struct lw_store *s);
/* Discards the open transaction. LW_OK also when none is open. */
int lw_store_rollback(struct lw_store *s);
/* 1 when a transaction is open on @s. */
int lw_store_in_transaction(const struct lw_store *s);

/* Adds @count to window_counts(window_start_ns, template_id) (creates the row at 0 first). */
int lw_store_add_window_count(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                              uint64_t count);
/* Adds @count to window_source_counts; @source (borrowed, any bytes but NUL) names the source. */
int lw_store_add_source_count(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                              const char *source, uint64_t count);
/* Adds @count to window_level_counts; @level is an enum lw_level (lw_level.h) value. */
int lw_store_add_level_count(struct lw_store *s, int64_t window_start_ns, int level,
                             uint64_t count);

/*
 * Creates or updates template @id: its text becomes @text (borrowed; NULL keeps the stored text,
 * or '' for a new row), first_seen is the lower and last_seen the higher of stored and given
 * (LW_TS_UNKNOWN, INT64_MIN, means "not known" and changes nothing), and @count_delta is added.
 */
int lw_store_upsert_template(struct lw_store *s, uint32_t id, const char *text, int64_t first_ns,
                             int64_t last_ns, uint64_t count_delta);

/*
 * Records where input @input (e.g. "tail") stands in file @ck->path: replaces the row
 * (input, path) with dev, ino, fingerprint and offset. @ck and its path are borrowed.
 */
int lw_store_set_checkpoint(struct lw_store *s, const struct lw_ingest_checkpoint *ck,
                            const char *input);
/* Deletes the checkpoint (input, path), for a file that is gone. LW_OK when there was none. */
int lw_store_delete_checkpoint(struct lw_store *s, const char *input, const char *path);

/* Adds @n to the counter stored_lines. Nothing ever lowers it (not even lw_store_prune()). */
int lw_store_add_stored_lines(struct lw_store *s, uint64_t n);

/*
 * Replaces the saved miner state with @len bytes at @blob (borrowed; lw_miner_save_buf output).
 * Template ids in window rows must exist in the saved state, or a restarted miner could hand the
 * same id to another template: save the miner in the same transaction as the first counts of a
 * group that created templates (or before it).
 */
int lw_store_save_miner(struct lw_store *s, const void *blob, size_t len);
/*
 * Replaces the saved detector models (lw_detect_stage_save output), like the miner state, with
 * an XXH64 of @blob beside it (the models carry no checksum of their own).
 */
int lw_store_save_models(struct lw_store *s, const void *blob, size_t len);
/*
 * Shard state (docs/cluster.md, "Model state follows partitions"): the model state learned from
 * one shard of the input (@key "kafka:topic/partition"), saved in the current transaction (or
 * one of its own) so that the shard's next owner, on any instance, can load it. Each writer's
 * latest row per key is kept. @blob is borrowed. LW_ENOTSUP when the backend keeps none (SQLite:
 * one instance per database, whose whole model is saved with lw_store_save_models()).
 */
int lw_store_save_shard_state(struct lw_store *s, const char *key, const void *blob, size_t len);
/*
 * Calls @cb with every writer's latest committed shard state for @key, in no particular order
 * (the blob is borrowed for the call; the caller picks the newest by what the blob says). Stops
 * when @cb returns non-zero and returns that value; LW_OK after the last (or when there is none),
 * LW_ENOTSUP as above, or a negative LW_E* code.
 */
typedef int (*lw_store_blob_cb)(void *opaque, const void *blob, size_t len);
int lw_store_foreach_shard_state(struct lw_store *s, const char *key, lw_store_blob_cb cb,
                                 void *opaque);
/*
 * Calls @cb with the id of every template that any writer has committed to the store, in no
 * particular order (a cluster's shared vocabulary: template ids derive from the template text,
 * so an id known here is the same template on every instance). At most @max ids; stops when @cb
 * returns non-zero and returns that value. LW_ENOTSUP when the backend is one instance's own
 * (SQLite), or a negative LW_E* code.
 */
typedef int (*lw_store_id_cb)(void *opaque, uint32_t id);
int lw_store_foreach_shared_template(struct lw_store *s, size_t max, lw_store_id_cb cb,
                                     void *opaque);
/*
 * Leaves a short text for `logwarden status` under @key (replacing the last one): the
 * detectors' warm-up ("detectors"). Borrowed; at most LW_STORE_NOTE_MAX - 1 bytes are read back.
 */
int lw_store_set_note(struct lw_store *s, const char *key, const char *text);
#define LW_STORE_NOTE_MAX 2048

/* An anomaly as a detector reports it; every pointer is borrowed for the call. */
struct lw_store_anomaly {
    int64_t ts_ns;                 /* event time of the anomaly (start of its window) */
    const char *detector;          /* detector name, "rate" */
    double score;                  /* detector-specific, higher is more anomalous */
    uint32_t template_id;          /* 0 when not about one template */
    const char *source;            /* NULL when not about one source */
    const char *summary;           /* one line for humans */
    const char *explanation_json;  /* JSON text or NULL; stored as given, not validated */
    const char *samples_json;      /* JSON array of sample lines or NULL */
    const char *kind;              /* finer kind ("spike", "unexpected", ...) or NULL */
    const char *key;               /* session key or parameter place, or NULL */
    const char *context_json;      /* JSON array of {"time": ns, "line": "..."}: raw lines of
                                    * its source around it (bounded by the caller), or NULL */
};
/* Inserts @a; its new row id goes to *@id_out (may be NULL). */
int lw_store_insert_anomaly(struct lw_store *s, const struct lw_store_anomaly *a,
                            int64_t *id_out);

/* An alert raised for an anomaly; pointers borrowed for the call. */
struct lw_store_alert {
    int64_t anomaly_id;    /* row id from lw_store_insert_anomaly() */
    const char *incident;  /* grouping key of the alert manager */
    const char *severity;  /* "info", "warning", "critical" */
    const char *state;     /* "pending", "sent", "failed", "suppressed" */
    int64_t created_ns;
    int64_t sent_ns;       /* 0 while not sent */
    const char *sink;      /* sink name or NULL */
};
/* Inserts @a; its new row id goes to *@id_out (may be NULL). */
int lw_store_insert_alert(struct lw_store *s, const struct lw_store_alert *a, int64_t *id_out);
/* Sets state and sent_ns of alert @id. LW_ENOENT when there is no such alert. */
int lw_store_set_alert_state(struct lw_store *s, int64_t id, const char *state, int64_t sent_ns);

/*
 * Retention: deletes window rows whose window_start_ns is older than @now_ns - retention, the
 * anomalies older than that, and alerts created before it. Templates are kept (one small row per
 * template ever seen; old anomalies and the miner state still refer to them). stored_lines is
 * never lowered. Runs in its own transaction unless one is open. The number of rows deleted goes
 * to *@n_deleted (may be NULL). Space is reused by later inserts, the file does not shrink.
 * Call it often (every minute or so) so that each call deletes little and holds the write lock
 * briefly. Windows are judged by their start: the window that straddles the cut is deleted.
 */
int lw_store_prune(struct lw_store *s, int64_t now_ns, uint64_t *n_deleted);

/*
 * ---- Readers: any handle, including read-only ones. ----
 * Inside a transaction they see its uncommitted writes.
 */

/*
 * Looks up the checkpoint (input, path). On LW_OK fills @out: dev, ino, fingerprint, offset,
 * and out->path = @path (the caller's pointer, so nothing is allocated). LW_ENOENT when none.
 */
int lw_store_get_checkpoint(struct lw_store *s, const char *input, const char *path,
                            struct lw_ingest_checkpoint *out);
/*
 * Calls @cb for every checkpoint of @input in path order (for a tail that follows a glob);
 * ck->path is borrowed for the callback only. Stops when @cb returns non-zero and returns
 * that value; LW_OK after the last one, or a negative LW_E* code.
 */
typedef int (*lw_store_checkpoint_cb)(void *opaque, const struct lw_ingest_checkpoint *ck);
int lw_store_foreach_checkpoint(struct lw_store *s, const char *input, lw_store_checkpoint_cb cb,
                                void *opaque);

/*
 * Loads the saved miner state into a buffer from lw_malloc() that the caller frees with
 * lw_free() (*@blob, *@len). LW_ENOENT when none was saved.
 */
int lw_store_load_miner(struct lw_store *s, char **blob, size_t *len);
/*
 * The saved detector models, as lw_store_load_miner(); LW_ENOENT when none was saved. The blob
 * is checked against the XXH64 saved beside it: LW_ECORRUPT (nothing returned, the message
 * says so) when they differ. A row saved before checksums existed (schema 2) has none: LW_OK,
 * with *@checked 0 (1 when the checksum matched; @checked may be NULL).
 */
int lw_store_load_models(struct lw_store *s, char **blob, size_t *len, int *checked);

int lw_store_stored_lines(struct lw_store *s, uint64_t *out);
int lw_store_template_count(struct lw_store *s, uint64_t *out);
/*
 * The highest template id in table templates, 0 when it is empty. (Template ids come from the
 * template's text now, so the engine has nothing to continue after; kept for tools.)
 */
int lw_store_max_template_id(struct lw_store *s, uint32_t *out);
/*
 * Template aliases (table template_aliases): a template's id follows its text, so when the text
 * changes (or two templates merge) the old id becomes an alias of the live one, and rows counted
 * under the old id belong to it. @from now resolves to @to (aliases that resolved to @from follow
 * it to @to: one hop is kept); @to == 0 removes @from's alias. Idempotent: the same alias set
 * twice changes nothing. Inside a transaction. LW_ENOTSUP when the backend keeps no aliases.
 */
int lw_store_set_template_alias(struct lw_store *s, uint32_t from, uint32_t to);
/* The id @id resolves to (itself when it is no alias) into *@out. */
int lw_store_resolve_template(struct lw_store *s, uint32_t id, uint32_t *out);
/* The count of one window row; 0 (and LW_OK) when there is no such row. */
int lw_store_get_window_count(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                              uint64_t *out);
int lw_store_get_source_count(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                              const char *source, uint64_t *out);
int lw_store_get_level_count(struct lw_store *s, int64_t window_start_ns, int level,
                             uint64_t *out);

/* What `logwarden status` prints about the store. */
struct lw_store_status {
    int schema_version;
    uint64_t stored_lines;     /* lines ever counted */
    uint64_t n_templates;
    uint64_t n_windows;        /* distinct window starts in window_counts */
    int64_t oldest_window_ns;  /* start of the oldest window, 0 when there is none */
    int64_t newest_window_ns;  /* start of the newest window, 0 when there is none */
    uint64_t n_checkpoints;
    uint64_t n_anomalies;
    uint64_t n_alerts;         /* rows of table alerts: one per decision, held back included */
    uint64_t n_alerts_sent;    /* alert rows by state: delivered ... */
    uint64_t n_alerts_failed;  /* ... given up on by a sink ... */
    uint64_t n_alerts_pending; /* ... not yet reported by every sink ... */
    uint64_t n_suppressed;     /* ... repeats within the cool-down (not sent) ... */
    uint64_t n_limited;        /* ... over the rate limit (not sent) */
    int64_t window_s;          /* as recorded in meta when the store was last opened to write */
    int64_t retention_s;       /* idem */
    char detectors[LW_STORE_NOTE_MAX];  /* the note "detectors" (JSON array), "" when none */
    uint64_t db_bytes;         /* size of logwarden.db */
    uint64_t wal_bytes;        /* size of logwarden.db-wal, 0 when absent */
};

/*
 * Fills @out from one read snapshot of @s (writer or reader handle). Cost: a seek per window
 * plus a count of templates, a few milliseconds on a week of windows.
 */
int lw_store_stat(struct lw_store *s, struct lw_store_status *out);
/*
 * For `logwarden status`: opens DIR/logwarden.db read-only, fills @out, closes (or, when DIR
 * holds LW_STORE_CH_MARKER_NAME, written by a daemon using ClickHouse, the ClickHouse store it
 * names, with the password from its password_file or LOGWARDEN_CLICKHOUSE_PASSWORD). Works whether
 * or not a daemon is writing (WAL readers do not block the writer). Returns LW_ENOENT with
 * "no logwarden store in DIR" in @err when there is no database, LW_EVERSION for a newer schema,
 * other LW_E* codes with a message. Any thread.
 */
int lw_store_status(const char *dir, struct lw_store_status *out, char *err, size_t err_len);

/* Runs PRAGMA integrity_check; copies "ok" or the problems found (truncated) into @result. */
int lw_store_integrity_check(struct lw_store *s, char *result, size_t cap);

/*
 * ---- Query API: reads for the HTTP API (src/api/), plus the writes it and the engine need
 * for example lines and feedback rules. ----
 *
 * A backend may leave any of these NULL in its lw_store_ops: the lw_store_* function then
 * returns LW_ENOTSUP (and the API answers 501). Row callbacks receive rows whose strings are
 * borrowed until the callback returns; a callback returns 0 to go on or non-zero to stop (that
 * value is returned). All times are event times in ns since the epoch; ranges are [from, to).
 * Any thread with its own handle (the API uses read-only handles).
 */

/* Filters and keyset position of a list; zero or NULL fields do not filter. */
struct lw_store_filter {
    int64_t from_ns;              /* inclusive */
    int64_t to_ns;                /* exclusive */
    const char *severity;         /* "warning", "critical" */
    const char *detector;
    const char *source;
    const char *kind;             /* anomalies: the finer kind */
    const char *state;            /* incidents: "open", "resolved" (NULL: all); alerts: a state */
    const char *incident;         /* one incident's rows */
    int64_t template_id;          /* 0: any */
    int has_min_score;
    double min_score;
    size_t limit;                 /* rows at most (the API asks one more to see if there are) */
    int has_after;                /* continue after the row (after_ts, after_id, after_key) in
                                   * the list's order (newest first; sources by name) */
    int64_t after_ts;
    int64_t after_id;
    const char *after_key;        /* incidents: incident id; sources: source name */
};

struct lw_store_anomaly_row {
    int64_t id;
    int64_t ts_ns;
    const char *detector;
    const char *kind;             /* NULL when none */
    double score;
    int64_t template_id;          /* 0 when none */
    const char *template_text;    /* NULL when none */
    const char *source;           /* NULL when none */
    const char *key;              /* NULL when none */
    const char *summary;
    const char *explanation_json; /* NULL when none */
    const char *samples_json;     /* NULL when none */
    const char *context_json;     /* lw_store_anomaly.context_json; NULL when none */
};

struct lw_store_alert_row {
    int64_t id;
    int64_t ts_ns;                /* event time of its anomaly */
    int64_t created_ns;           /* wall clock of the decision */
    int64_t sent_ns;
    int64_t anomaly_id;
    const char *severity;
    const char *state;            /* "pending", "sent", "failed", "suppressed", "limited", "muted" */
    const char *sink;             /* NULL when none */
    const char *incident;
    const char *summary;          /* the anomaly's */
};

/* An incident: the alerts sharing one incident key (muted alerts belong to none). */
struct lw_store_incident_row {
    const char *incident;
    int64_t first_ns;             /* first and last anomaly's event time */
    int64_t last_ns;
    const char *severity;         /* the highest of its alerts */
    const char *detector;         /* of its first anomaly */
    const char *source;           /* idem, NULL when none */
    int64_t template_id;          /* idem, 0 when none */
    const char *template_text;
    const char *summary;
    uint64_t n_alerts;
    uint64_t n_anomalies;
    int64_t rule_id;              /* the feedback rule made from it, 0 when none */
    const char *rule_kind;        /* NULL when none */
};

struct lw_store_template_row {
    int64_t id;
    const char *text;
    uint64_t count;
    int64_t first_ns;             /* LW_TS_UNKNOWN (INT64_MIN) when not known */
    int64_t last_ns;
};

struct lw_store_source_row {
    const char *source;
    uint64_t lines;               /* in the range */
    uint64_t templates;           /* distinct templates in the range */
    int64_t last_ns;              /* start of its newest window in the range */
};

struct lw_store_example_row {
    int64_t ts_ns;
    const char *source;           /* NULL when none */
    const char *line;
};

/* A feedback rule: findings matching every set field are muted (lw_alert.h). */
struct lw_store_rule {
    int64_t id;                   /* set by lw_store_add_rule() */
    const char *kind;             /* "false_positive" or "expected" */
    int64_t template_id;          /* 0: any */
    const char *source;           /* NULL: any */
    const char *detector;         /* NULL: any */
    int64_t created_ns;           /* wall clock */
    int64_t expires_ns;           /* wall clock; 0: never */
    const char *note;             /* NULL when none */
    const char *incident;         /* the incident it was made from, NULL when none */
};

struct lw_store_totals {
    uint64_t lines;               /* counted in the range */
    uint64_t templates;           /* templates seen in the range */
    uint64_t sources;             /* sources seen in the range */
    uint64_t anomalies;           /* in the range */
    uint64_t open_incidents;      /* incidents in the range without a feedback rule */
};

enum lw_store_tsort {
    LW_STORE_TSORT_COUNT = 0,
    LW_STORE_TSORT_LAST_SEEN,
    LW_STORE_TSORT_FIRST_SEEN,
    LW_STORE_TSORT_ID,
};

/* A time series of line counts: buckets of @step_ns summed from the windows. */
struct lw_store_series_q {
    int64_t from_ns;
    int64_t to_ns;
    int64_t step_ns;              /* a multiple of the window length */
    int64_t template_id;          /* 0: any */
    const char *source;           /* NULL: any */
    int level;                    /* -1: any; else an enum lw_level (not with template/source) */
};

/*
 * One point of a series: @key is the template id (sparklines), the level (levels) or 0, and
 * @bucket_ns the bucket's start (a multiple of step). Only non-empty buckets are reported, in
 * time order.
 */
typedef int (*lw_store_point_cb)(void *opaque, int64_t key, int64_t bucket_ns, uint64_t count);
typedef int (*lw_store_anomaly_cb)(void *opaque, const struct lw_store_anomaly_row *r);
typedef int (*lw_store_alert_cb)(void *opaque, const struct lw_store_alert_row *r);
typedef int (*lw_store_incident_cb)(void *opaque, const struct lw_store_incident_row *r);
typedef int (*lw_store_template_cb)(void *opaque, const struct lw_store_template_row *r);
typedef int (*lw_store_source_cb)(void *opaque, const struct lw_store_source_row *r);
typedef int (*lw_store_example_cb)(void *opaque, const struct lw_store_example_row *r);
typedef int (*lw_store_rule_cb)(void *opaque, const struct lw_store_rule *r);

/* Lines per bucket: all, one template, one source (and template), or one level. */
int lw_store_series(struct lw_store *s, const struct lw_store_series_q *q, lw_store_point_cb cb,
                    void *opaque);
/* Lines per bucket and level (key = level). */
int lw_store_series_levels(struct lw_store *s, const struct lw_store_series_q *q,
                           lw_store_point_cb cb, void *opaque);
/* Anomalies per bucket, filtered by q->template_id and q->source. */
int lw_store_series_anomalies(struct lw_store *s, const struct lw_store_series_q *q,
                              lw_store_point_cb cb, void *opaque);
/* Lines per bucket for each of @ids (@n_ids at most 1000; key = template id). */
int lw_store_sparklines(struct lw_store *s, const int64_t *ids, size_t n_ids,
                        const struct lw_store_series_q *q, lw_store_point_cb cb, void *opaque);
int lw_store_totals(struct lw_store *s, int64_t from_ns, int64_t to_ns,
                    struct lw_store_totals *out);
/* Anomalies newest first (ts, id), filtered by range, detector, source, template, kind,
 * min_score, incident. */
int lw_store_list_anomalies(struct lw_store *s, const struct lw_store_filter *f,
                            lw_store_anomaly_cb cb, void *opaque);
/* One anomaly; LW_ENOENT when there is none. */
int lw_store_get_anomaly(struct lw_store *s, int64_t id, lw_store_anomaly_cb cb, void *opaque);
/* Alerts newest first (event time of the anomaly, id), filtered by range, severity, detector,
 * source, template, state, incident. */
int lw_store_list_alerts(struct lw_store *s, const struct lw_store_filter *f, lw_store_alert_cb cb,
                         void *opaque);
/* Incidents by their last anomaly, newest first (last, incident id); filters as alerts, plus
 * state "open"/"resolved" (resolved: a feedback rule was made from it). */
int lw_store_list_incidents(struct lw_store *s, const struct lw_store_filter *f,
                            lw_store_incident_cb cb, void *opaque);
/*
 * Templates sorted by @sort (@desc: largest first; ties by id in the same direction), with
 * @q (NULL: all) a case-insensitive substring of the text. Keyset: f->after_ts is the sort key
 * of the last row seen (its count, time or id) and f->after_id its id; f->template_id picks one.
 * *@total (may be NULL) gets the number of templates that match @q.
 */
int lw_store_list_templates(struct lw_store *s, const char *q, enum lw_store_tsort sort, int desc,
                            const struct lw_store_filter *f, lw_store_template_cb cb,
                            void *opaque, uint64_t *total);
/* Sources seen in the range, by name (keyset f->after_key). */
int lw_store_list_sources(struct lw_store *s, const struct lw_store_filter *f,
                          lw_store_source_cb cb, void *opaque);
/* The example lines kept for @template_id, oldest first. */
int lw_store_list_examples(struct lw_store *s, int64_t template_id, lw_store_example_cb cb,
                           void *opaque);
/*
 * Writer: offers one raw line of @template_id as an example. The first examples_per_template
 * lines of a template are kept; after that each new line replaces the newest slot, so a
 * template keeps its first lines and its latest one. Pruned with the windows (by ts_ns).
 */
int lw_store_add_example(struct lw_store *s, uint32_t template_id, int64_t ts_ns,
                         const char *source, const char *line);
/* Feedback rules, any handle for reading; add and delete need a writable handle. */
int lw_store_list_rules(struct lw_store *s, lw_store_rule_cb cb, void *opaque);
int lw_store_get_rule(struct lw_store *s, int64_t id, lw_store_rule_cb cb, void *opaque);
/* Inserts @r (id ignored); the new id goes to *@id_out. LW_EINVAL for a rule with no scope. */
int lw_store_add_rule(struct lw_store *s, const struct lw_store_rule *r, int64_t *id_out);
/* LW_ENOENT when there is no rule @id. */
int lw_store_delete_rule(struct lw_store *s, int64_t id);

/*
 * ---- One daemon per data directory. ----
 *
 * Takes an exclusive flock(2) on DIR/lock (creating @dir and the file when missing) and writes
 * this process's pid into it. On LW_OK *@fd_out holds the lock until lw_store_unlock() or exit
 * (the kernel drops it even after SIGKILL, so no stale lock survives a crash). When another
 * process (or another lock call in this one) holds it, returns LW_EAGAIN with "another logwarden
 * is running on DIR (pid N)" in @err; LW_EIO for other failures. The file is never deleted:
 * deleting it would let two processes lock two different files.
 */
int lw_store_lock(const char *dir, int *fd_out, char *err, size_t err_len);
/* Releases the lock and closes @fd. A negative @fd does nothing. */
void lw_store_unlock(int fd);
/*
 * Whether a daemon holds DIR's lock, without taking it or writing the file (for `status`: a
 * check that took the lock made a daemon starting at that moment fail). 0: none (or no lock
 * file), the holder's pid, or -1 when one runs whose pid cannot be read.
 */
long lw_store_lock_holder(const char *dir);

/*
 * ---- The interface a backend implements. ----
 *
 * A backend (src/store/store_sqlite.c) fills a const struct lw_store_ops and embeds a struct
 * lw_store as the first member of its handle. Callers never use these directly: the lw_store_*
 * functions above (src/store/store.c) dispatch through @ops, so the engine, the CLI and the API
 * see the store only through this header. Each member has the contract of the lw_store_*
 * function of the same name; open and status pick no backend themselves (store.c does).
 */
struct lw_store_ops {
    const char *name;  /* "sqlite" */
    struct lw_store *(*open)(const char *dir, const struct lw_store_conf *conf, char *err,
                             size_t err_len);
    void (*close)(struct lw_store *s);
    const char *(*errmsg)(const struct lw_store *s);
    int64_t (*window_s)(const struct lw_store *s);
    int64_t (*retention_s)(const struct lw_store *s);
    int64_t (*window_start)(const struct lw_store *s, int64_t ts_ns);
    int (*begin)(struct lw_store *s);
    int (*commit)(struct lw_store *s);
    int (*rollback)(struct lw_store *s);
    int (*in_transaction)(const struct lw_store *s);
    int (*add_window_count)(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                            uint64_t count);
    int (*add_source_count)(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                            const char *source, uint64_t count);
    int (*add_level_count)(struct lw_store *s, int64_t window_start_ns, int level, uint64_t count);
    int (*upsert_template)(struct lw_store *s, uint32_t id, const char *text, int64_t first_ns,
                           int64_t last_ns, uint64_t count_delta);
    int (*set_checkpoint)(struct lw_store *s, const struct lw_ingest_checkpoint *ck,
                          const char *input);
    int (*delete_checkpoint)(struct lw_store *s, const char *input, const char *path);
    int (*add_stored_lines)(struct lw_store *s, uint64_t n);
    int (*save_miner)(struct lw_store *s, const void *blob, size_t len);
    int (*save_models)(struct lw_store *s, const void *blob, size_t len);
    int (*set_note)(struct lw_store *s, const char *key, const char *text);
    int (*insert_anomaly)(struct lw_store *s, const struct lw_store_anomaly *a, int64_t *id_out);
    int (*insert_alert)(struct lw_store *s, const struct lw_store_alert *a, int64_t *id_out);
    int (*set_alert_state)(struct lw_store *s, int64_t id, const char *state, int64_t sent_ns);
    int (*prune)(struct lw_store *s, int64_t now_ns, uint64_t *n_deleted);
    int (*get_checkpoint)(struct lw_store *s, const char *input, const char *path,
                          struct lw_ingest_checkpoint *out);
    int (*foreach_checkpoint)(struct lw_store *s, const char *input, lw_store_checkpoint_cb cb,
                              void *opaque);
    int (*load_miner)(struct lw_store *s, char **blob, size_t *len);
    int (*load_models)(struct lw_store *s, char **blob, size_t *len, int *checked);
    int (*save_shard_state)(struct lw_store *s, const char *key, const void *blob,
                            size_t len);  /* may be NULL: LW_ENOTSUP */
    int (*foreach_shard_state)(struct lw_store *s, const char *key, lw_store_blob_cb cb,
                               void *opaque);  /* may be NULL: LW_ENOTSUP */
    int (*foreach_shared_template)(struct lw_store *s, size_t max, lw_store_id_cb cb,
                                   void *opaque);  /* may be NULL: LW_ENOTSUP */
    int (*stored_lines)(struct lw_store *s, uint64_t *out);
    int (*template_count)(struct lw_store *s, uint64_t *out);
    int (*max_template_id)(struct lw_store *s, uint32_t *out);
    int (*set_template_alias)(struct lw_store *s, uint32_t from, uint32_t to); /* may be NULL */
    int (*resolve_template)(struct lw_store *s, uint32_t id, uint32_t *out);  /* may be NULL */
    int (*get_window_count)(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                            uint64_t *out);
    int (*get_source_count)(struct lw_store *s, int64_t window_start_ns, uint32_t template_id,
                            const char *source, uint64_t *out);
    int (*get_level_count)(struct lw_store *s, int64_t window_start_ns, int level, uint64_t *out);
    int (*stat)(struct lw_store *s, struct lw_store_status *out);
    int (*status)(const char *dir, struct lw_store_status *out, char *err, size_t err_len);
    int (*integrity_check)(struct lw_store *s, char *result, size_t cap);
    /* ---- Query API block (may be NULL: LW_ENOTSUP) ---- */
    int (*series)(struct lw_store *s, const struct lw_store_series_q *q, lw_store_point_cb cb,
                  void *opaque);
    int (*series_levels)(struct lw_store *s, const struct lw_store_series_q *q,
                         lw_store_point_cb cb, void *opaque);
    int (*series_anomalies)(struct lw_store *s, const struct lw_store_series_q *q,
                            lw_store_point_cb cb, void *opaque);
    int (*sparklines)(struct lw_store *s, const int64_t *ids, size_t n_ids,
                      const struct lw_store_series_q *q, lw_store_point_cb cb, void *opaque);
    int (*totals)(struct lw_store *s, int64_t from_ns, int64_t to_ns, struct lw_store_totals *out);
    int (*list_anomalies)(struct lw_store *s, const struct lw_store_filter *f,
                          lw_store_anomaly_cb cb, void *opaque);
    int (*get_anomaly)(struct lw_store *s, int64_t id, lw_store_anomaly_cb cb, void *opaque);
    int (*list_alerts)(struct lw_store *s, const struct lw_store_filter *f, lw_store_alert_cb cb,
                       void *opaque);
    int (*list_incidents)(struct lw_store *s, const struct lw_store_filter *f,
                          lw_store_incident_cb cb, void *opaque);
    int (*list_templates)(struct lw_store *s, const char *q, enum lw_store_tsort sort, int desc,
                          const struct lw_store_filter *f, lw_store_template_cb cb, void *opaque,
                          uint64_t *total);
    int (*list_sources)(struct lw_store *s, const struct lw_store_filter *f, lw_store_source_cb cb,
                        void *opaque);
    int (*list_examples)(struct lw_store *s, int64_t template_id, lw_store_example_cb cb,
                         void *opaque);
    int (*add_example)(struct lw_store *s, uint32_t template_id, int64_t ts_ns,
                       const char *source, const char *line);
    int (*list_rules)(struct lw_store *s, lw_store_rule_cb cb, void *opaque);
    int (*get_rule)(struct lw_store *s, int64_t id, lw_store_rule_cb cb, void *opaque);
    int (*add_rule)(struct lw_store *s, const struct lw_store_rule *r, int64_t *id_out);
    int (*delete_rule)(struct lw_store *s, int64_t id);
    /* ---- end of the query API block ---- */
};

struct lw_store {
    const struct lw_store_ops *ops;  /* the backend's functions */
};

#endif
