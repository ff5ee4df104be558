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

#endif
