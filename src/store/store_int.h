/*
 * Internals shared by the files of src/store/ (not part of the public API in lw/lw_store.h):
 * the SQLite backend's functions (store_sqlite.c), the schema and its migrations
 * (store_schema.c) and the directory helper (store_lock.c).
 */
#ifndef LW_STORE_INT_H
#define LW_STORE_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "lw/lw_store.h"

/* The SQLite backend (store_sqlite.c), reached only through the interface (store.c). */
extern const struct lw_store_ops lw__store_sqlite_ops;
/* The ClickHouse backend (store_clickhouse.c), chosen by conf.backend. */
extern const struct lw_store_ops lw__store_clickhouse_ops;
/* The ClickHouse store named by DIR's marker file, read-only (+ feedback rules with @rules). */
struct lw_store *lw__ch_open_marker(const char *dir, int rules, char *err, size_t err_len);

/* PRAGMA application_id of a logwarden store: "LWD1". Marks the file as ours. */
#define LW__STORE_APP_ID 0x4C574431

/*
 * Brings the schema of @db to LW_STORE_SCHEMA_VERSION, one transaction per step. With
 * @read_only it only checks the version. Returns LW_OK, LW_EVERSION (newer store, or older one
 * opened read-only), LW_ECORRUPT (not a logwarden database) or LW_EIO, with a message in @err
 * that names @dir. Stores the version found (after migration) in *@version.
 */
int lw__store_migrate(sqlite3 *db, const char *dir, int read_only, int *version, char *err,
                      size_t err_len);

/* Reads meta @key as an integer into *@out; LW_ENOENT when absent. */
int lw__store_meta_get_int(sqlite3 *db, const char *key, int64_t *out);
/* Sets meta @key to the integer @value (outside or inside a transaction). */
int lw__store_meta_set_int(sqlite3 *db, const char *key, int64_t value);
/* The text of meta @key into @buf (NUL-ended, cut to @cap); LW_ENOENT when absent. */
int lw__store_meta_get_text(sqlite3 *db, const char *key, char *buf, size_t cap);
int lw__store_meta_set_text(sqlite3 *db, const char *key, const char *value);

/* Maps a SQLite result code onto an LW_E* code. */
int lw__store_rc(int sqlite_rc);

/*
 * mkdir -p @dir: the directories it creates get mode 0755, @dir itself 0700 (modes of existing
 * ones are left alone). LW_OK, or LW_EIO with a message in @err.
 */
int lw__store_mkdirs(const char *dir, char *err, size_t err_len);

/* ---- The SQLite backend's handle as store_query.c reaches it ---- */
sqlite3 *lw__store_sqlite_db(struct lw_store *s);
/*
 * The statement of @sql cached in @slot of @s (0 .. LW__STORE_QSLOTS - 1, one constant SQL text
 * per slot), prepared on first use; NULL with *@rc set on failure. Reset it after use.
 */
#define LW__STORE_QSLOTS 64
sqlite3_stmt *lw__store_sqlite_stmt(struct lw_store *s, int slot, const char *sql, int *rc);
/* Records SQLite's message for @what on @s and returns the LW_E* code of @rc. */
int lw__store_sqlite_fail(struct lw_store *s, int rc, const char *what);
void lw__store_sqlite_msg(struct lw_store *s, const char *msg);
int lw__store_sqlite_examples(const struct lw_store *s);

/* The query API block of the SQLite backend (store_query.c); contracts in lw_store.h. */
int lw__sq_series(struct lw_store *s, const struct lw_store_series_q *q, lw_store_point_cb cb,
                  void *opaque);
int lw__sq_series_levels(struct lw_store *s, const struct lw_store_series_q *q,
                         lw_store_point_cb cb, void *opaque);
int lw__sq_series_anomalies(struct lw_store *s, const struct lw_store_series_q *q,
                            lw_store_point_cb cb, void *opaque);
int lw__sq_sparklines(struct lw_store *s, const int64_t *ids, size_t n_ids,
                      const struct lw_store_series_q *q, lw_store_point_cb cb, void *opaque);
int lw__sq_totals(struct lw_store *s, int64_t from_ns, int64_t to_ns, struct lw_store_totals *out);
int lw__sq_list_anomalies(struct lw_store *s, const struct lw_store_filter *f,
                          lw_store_anomaly_cb cb, void *opaque);
int lw__sq_get_anomaly(struct lw_store *s, int64_t id, lw_store_anomaly_cb cb, void *opaque);
int lw__sq_list_alerts(struct lw_store *s, const struct lw_store_filter *f, lw_store_alert_cb cb,
                       void *opaque);
int lw__sq_list_incidents(struct lw_store *s, const struct lw_store_filter *f,
                          lw_store_incident_cb cb, void *opaque);
int lw__sq_list_templates(struct lw_store *s, const char *q, enum lw_store_tsort sort, int desc,
                          const struct lw_store_filter *f, lw_store_template_cb cb, void *opaque,
                          uint64_t *total);
int lw__sq_list_sources(struct lw_store *s, const struct lw_store_filter *f, lw_store_source_cb cb,
                        void *opaque);
int lw__sq_list_examples(struct lw_store *s, int64_t template_id, lw_store_example_cb cb,
                         void *opaque);
int lw__sq_add_example(struct lw_store *s, uint32_t template_id, int64_t ts_ns,
                       const char *source, const char *line);
int lw__sq_list_rules(struct lw_store *s, lw_store_rule_cb cb, void *opaque);
int lw__sq_get_rule(struct lw_store *s, int64_t id, lw_store_rule_cb cb, void *opaque);
int lw__sq_add_rule(struct lw_store *s, const struct lw_store_rule *r, int64_t *id_out);
int lw__sq_delete_rule(struct lw_store *s, int64_t id);

#endif
