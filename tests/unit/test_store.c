/*
 * Unit tests for the SQLite store (lw_store.h) on real database files in mkdtemp directories:
 * schema creation and versioning, upserts across transactions, rollback, checkpoints, the miner
 * state, stored_lines and retention, the read-only status path next to an open writer, the
 * directory lock and the integrity check. OOM cases are skipped: LW_TEST_ALLOC_FAIL_AT is read
 * once per process and SQLite allocates through its own allocator anyway.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_level.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"
#include "lw/lw_store.h"

#include "store_fixture.h"

#define NS 1000000000LL
#define T0 (1767225600LL * NS) /* 2026-01-01T00:00:00Z */

static int setup(void **state)
{
    return fixture_setup(state, "/tmp/lw-store-XXXXXX");
}

static struct lw_store *open_ok(const struct fixture *f, const struct lw_store_conf *conf)
{
    char err[256] = "";
    struct lw_store *s = lw_store_open(f->dir, conf, err, sizeof(err));

    if (s == NULL) {
        fail_msg("lw_store_open: %s", err);
    }
    return s;
}

/* Runs one SQL statement on the database file behind the API's back. */
static void raw_exec(const struct fixture *f, const char *sql)
{
    char path[256];
    sqlite3 *db = NULL;

    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_open_create_reopen(void **state)
{
    struct fixture *f = *state;
    struct lw_store_status st;
    struct lw_store *s;
    char err[256];
    uint64_t n;

    /* The data directory and its parent "data" do not exist yet: open creates them. */
    snprintf(f->dir, sizeof(f->dir), "%s/a/b", f->root);
    s = open_ok(f, NULL);
    assert_int_equal(lw_store_window_s(s), LW_STORE_DEFAULT_WINDOW_S);
    assert_int_equal(lw_store_retention_s(s), LW_STORE_DEFAULT_RETENTION_S);
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_upsert_template(s, 7, "user <*> logged in", T0, T0 + NS, 3), LW_OK);
    assert_int_equal(lw_store_add_window_count(s, T0, 7, 3), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    lw_store_close(s);

    s = open_ok(f, NULL);
    assert_int_equal(lw_store_template_count(s, &n), LW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(lw_store_get_window_count(s, T0, 7, &n), LW_OK);
    assert_int_equal(n, 3);
    assert_int_equal(lw_store_stat(s, &st), LW_OK);
    assert_int_equal(st.schema_version, LW_STORE_SCHEMA_VERSION);
    assert_int_equal(st.window_s, 10);
    assert_int_equal(st.retention_s, 7 * 86400);
    lw_store_close(s);

    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_OK);
    assert_int_equal(st.schema_version, LW_STORE_SCHEMA_VERSION);
    assert_true(st.db_bytes > 0);
}

static void test_schema_version_in_meta(void **state)
{
    struct fixture *f = *state;
    char path[256];
    sqlite3_stmt *q = NULL;
    sqlite3 *db = NULL;

    lw_store_close(open_ok(f, NULL));
    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), LW_STORE_SCHEMA_VERSION);
    sqlite3_finalize(q);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    struct lw_store_status st;
    char err[256] = "";
    char sql[128];

    lw_store_close(open_ok(f, NULL));
    snprintf(sql, sizeof(sql), "UPDATE meta SET value = %d WHERE key = 'schema_version'",
             LW_STORE_SCHEMA_VERSION + 1);
    raw_exec(f, sql);
    assert_null(lw_store_open(f->dir, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "newer than this logwarden supports"));
    assert_non_null(strstr(err, f->dir));
    err[0] = '\0';
    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_EVERSION);
    assert_non_null(strstr(err, "newer"));
}

static void test_foreign_db_refused(void **state)
{
    struct fixture *f = *state;
    char err[256] = "";

    mkdir(f->dir, 0755);
    raw_exec(f, "CREATE TABLE something_else(x)");
    assert_null(lw_store_open(f->dir, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "is not a logwarden store"));
}

static void test_upserts_add_up(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f, NULL);
    char err[256];
    struct lw_store_status st;
    uint64_t n;
    int i;

    for (i = 0; i < 3; i++) {
        assert_int_equal(lw_store_begin(s), LW_OK);
        assert_int_equal(lw_store_add_window_count(s, T0, 1, 10), LW_OK);
        assert_int_equal(lw_store_add_window_count(s, T0 + 10 * NS, 1, 1), LW_OK);
        assert_int_equal(lw_store_add_source_count(s, T0, 1, "tail:/var/log/a", 4), LW_OK);
        assert_int_equal(lw_store_add_source_count(s, T0, 1, "it's'); DROP TABLE templates;--", 1),
                         LW_OK);
        assert_int_equal(lw_store_add_level_count(s, T0, LW_LEVEL_ERROR, 2), LW_OK);
        /* Times: the first call sets them, later ones only widen; unknown changes nothing. */
        assert_int_equal(lw_store_upsert_template(s, 1, i == 0 ? "a <*>" : NULL,
                                                  i == 1 ? T0 - NS : T0,
                                                  i == 2 ? LW_TS_UNKNOWN : T0 + i * NS, 10),
                         LW_OK);
        assert_int_equal(lw_store_commit(s), LW_OK);
    }
    assert_int_equal(lw_store_get_window_count(s, T0, 1, &n), LW_OK);
    assert_int_equal(n, 30);
    assert_int_equal(lw_store_get_window_count(s, T0 + 10 * NS, 1, &n), LW_OK);
    assert_int_equal(n, 3);
    assert_int_equal(lw_store_get_window_count(s, T0, 2, &n), LW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lw_store_get_source_count(s, T0, 1, "tail:/var/log/a", &n), LW_OK);
    assert_int_equal(n, 12);
    assert_int_equal(lw_store_get_source_count(s, T0, 1, "it's'); DROP TABLE templates;--", &n),
                     LW_OK);
    assert_int_equal(n, 3);
    assert_int_equal(lw_store_get_level_count(s, T0, LW_LEVEL_ERROR, &n), LW_OK);
    assert_int_equal(n, 6);
    assert_int_equal(lw_store_template_count(s, &n), LW_OK);
    assert_int_equal(n, 1);
    lw_store_close(s);

    /* The template row, read behind the API's back. */
    {
        char path[256];
        sqlite3_stmt *q = NULL;
        sqlite3 *db = NULL;

        snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT text, first_seen_ns, last_seen_ns, count"
                                            " FROM templates WHERE id = 1",
                                            -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), "a <*>");
        assert_int_equal(sqlite3_column_int64(q, 1), T0 - NS);
        assert_int_equal(sqlite3_column_int64(q, 2), T0 + NS);
        assert_int_equal(sqlite3_column_int64(q, 3), 30);
        sqlite3_finalize(q);
        sqlite3_close(db);
    }
    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_OK);
    assert_int_equal(st.n_windows, 2);
    assert_int_equal(st.oldest_window_ns, T0);
    assert_int_equal(st.newest_window_ns, T0 + 10 * NS);
}

static void test_rollback_discards(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f, NULL);
    struct lw_ingest_checkpoint ck = {.path = "/var/log/x", .offset = 100};
    struct lw_ingest_checkpoint got;
    uint64_t n;

    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_add_window_count(s, T0, 1, 5), LW_OK);
    assert_int_equal(lw_store_add_stored_lines(s, 5), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);

    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_in_transaction(s), 1);
    assert_int_equal(lw_store_begin(s), LW_EINVAL);
    assert_int_equal(lw_store_add_window_count(s, T0, 1, 7), LW_OK);
    assert_int_equal(lw_store_add_stored_lines(s, 7), LW_OK);
    assert_int_equal(lw_store_set_checkpoint(s, &ck, "tail"), LW_OK);
    /* Readers on the writer's handle see the open transaction... */
    assert_int_equal(lw_store_get_window_count(s, T0, 1, &n), LW_OK);
    assert_int_equal(n, 12);
    assert_int_equal(lw_store_rollback(s), LW_OK);
    assert_int_equal(lw_store_in_transaction(s), 0);
    /* ...and nothing of it after the rollback. */
    assert_int_equal(lw_store_get_window_count(s, T0, 1, &n), LW_OK);
    assert_int_equal(n, 5);
    assert_int_equal(lw_store_stored_lines(s, &n), LW_OK);
    assert_int_equal(n, 5);
    assert_int_equal(lw_store_get_checkpoint(s, "tail", "/var/log/x", &got), LW_ENOENT);
    assert_int_equal(lw_store_commit(s), LW_EINVAL);
    assert_int_equal(lw_store_rollback(s), LW_OK);
    lw_store_close(s);
}

static int collect_ck(void *opaque, const struct lw_ingest_checkpoint *ck)
{
    int *n = opaque;

    if (*n == 0) {
        assert_string_equal(ck->path, "/var/log/a.log");
        assert_int_equal(ck->offset, 1);
    }
    else {
        assert_string_equal(ck->path, "/var/log/b.log");
        assert_int_equal(ck->offset, 2);
    }
    (*n)++;
    return 0;
}

static void test_checkpoint_round_trip(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f, NULL);
    struct lw_ingest_checkpoint ck = {
        .path = "/var/log/a.log",
        .dev = 2049,
        .ino = UINT64_MAX - 5,
        .fingerprint = 0xfedcba9876543210ULL, /* above INT64_MAX: stored as its bit pattern */
        .offset = 123456789012ULL,
    };
    struct lw_ingest_checkpoint got;
    const char *path_b = "/var/log/b.log";
    int n = 0;

    assert_int_equal(lw_store_get_checkpoint(s, "tail", ck.path, &got), LW_ENOENT);
    assert_int_equal(lw_store_set_checkpoint(s, &ck, "tail"), LW_OK);
    ck.offset = 1;
    assert_int_equal(lw_store_set_checkpoint(s, &ck, "tail"), LW_OK); /* replaces */
    ck.path = path_b;
    ck.offset = 2;
    assert_int_equal(lw_store_set_checkpoint(s, &ck, "tail"), LW_OK);
    ck.offset = 99;
    assert_int_equal(lw_store_set_checkpoint(s, &ck, "other"), LW_OK);
    lw_store_close(s);

    s = open_ok(f, NULL);
    assert_int_equal(lw_store_get_checkpoint(s, "tail", "/var/log/a.log", &got), LW_OK);
    assert_string_equal(got.path, "/var/log/a.log");
    assert_int_equal(got.dev, 2049);
    assert_true(got.ino == UINT64_MAX - 5);
    assert_true(got.fingerprint == 0xfedcba9876543210ULL);
    assert_int_equal(got.offset, 1);
    assert_int_equal(lw_store_foreach_checkpoint(s, "tail", collect_ck, &n), LW_OK);
    assert_int_equal(n, 2);
    assert_int_equal(lw_store_delete_checkpoint(s, "tail", path_b), LW_OK);
    assert_int_equal(lw_store_get_checkpoint(s, "tail", path_b, &got), LW_ENOENT);
    assert_int_equal(lw_store_get_checkpoint(s, "other", path_b, &got), LW_OK);
    assert_int_equal(got.offset, 99);
    lw_store_close(s);
}

static void test_miner_blob_round_trip(void **state)
{
    static const char *const lines[] = {
        "user alice logged in from 10.0.0.1",
        "user bob logged in from 10.0.0.2",
        "disk /dev/sda1 is 91% full",
        "disk /dev/sdb2 is 97% full",
    };
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f, NULL);
    struct lw_miner_scratch *sc;
    struct lw_miner *m1;
    struct lw_miner *m2;
    struct lw_match mt;
    char err[256];
    char *buf = NULL;
    char *got = NULL;
    size_t len = 0;
    size_t got_len = 0;
    size_t i;

    assert_int_equal(lw_store_load_miner(s, &got, &got_len), LW_ENOENT);
    assert_null(got);

    /* Bytes with NULs in them survive as they are. */
    assert_int_equal(lw_store_save_miner(s, "a\0b\0c", 5), LW_OK);
    assert_int_equal(lw_store_load_miner(s, &got, &got_len), LW_OK);
    assert_int_equal(got_len, 5);
    assert_memory_equal(got, "a\0b\0c", 5);
    lw_free(got);

    /* A real miner state, saved, reloaded and loaded into a fresh miner. */
    m1 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m1);
    sc = lw_miner_scratch_create(m1);
    assert_non_null(sc);
    for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        assert_int_equal(lw_miner_add(m1, sc, lines[i], strlen(lines[i]), T0, &mt), LW_OK);
    }
    lw_miner_scratch_destroy(sc);
    assert_int_equal(lw_miner_save_buf(m1, &buf, &len), LW_OK);
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_save_miner(s, buf, len), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    lw_store_close(s);

    s = open_ok(f, NULL);
    assert_int_equal(lw_store_load_miner(s, &got, &got_len), LW_OK);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, buf, len);
    m2 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m2);
    assert_int_equal(lw_miner_load_buf(m2, got, got_len, err, sizeof(err)), LW_OK);
    assert_int_equal(lw_miner_n_templates(m2), lw_miner_n_templates(m1));
    lw_miner_destroy(m2);
    lw_miner_destroy(m1);
    lw_free(got);
    lw_free(buf);

    /* An empty state is a non-NULL buffer of length 0. */
    assert_int_equal(lw_store_save_miner(s, "", 0), LW_OK);
    assert_int_equal(lw_store_load_miner(s, &got, &got_len), LW_OK);
    assert_non_null(got);
    assert_int_equal(got_len, 0);
    lw_free(got);
    lw_store_close(s);
}

static void test_stored_lines_persist_and_prune(void **state)
{
    struct fixture *f = *state;
    struct lw_store_conf conf = {.retention_s = 3600};
    struct lw_store_anomaly a = {.detector = "rate", .score = 4.5, .summary = "spike"};
    struct lw_store_alert al = {.severity = "warning", .state = "pending"};
    struct lw_store *s = open_ok(f, &conf);
    int64_t now = T0 + 10 * 3600 * NS;
    int64_t old_w = now - 2 * 3600 * NS;
    int64_t new_w = now - 600 * NS;
    uint64_t deleted = 0;
    int64_t id = 0;
    uint64_t n;

    assert_int_equal(lw_store_stored_lines(s, &n), LW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_add_window_count(s, old_w, 1, 5), LW_OK);
    assert_int_equal(lw_store_add_window_count(s, old_w, 2, 5), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, old_w, 1, "src", 5), LW_OK);
    assert_int_equal(lw_store_add_level_count(s, old_w, LW_LEVEL_INFO, 10), LW_OK);
    assert_int_equal(lw_store_add_window_count(s, new_w, 1, 7), LW_OK);
    assert_int_equal(lw_store_add_source_count(s, new_w, 1, "src", 7), LW_OK);
    assert_int_equal(lw_store_add_level_count(s, new_w, LW_LEVEL_INFO, 7), LW_OK);
    assert_int_equal(lw_store_upsert_template(s, 1, "old and new", old_w, new_w, 12), LW_OK);
    assert_int_equal(lw_store_upsert_template(s, 2, "only old", old_w, old_w, 5), LW_OK);
    a.ts_ns = old_w;
    assert_int_equal(lw_store_insert_anomaly(s, &a, &id), LW_OK);
    assert_true(id > 0);
    al.anomaly_id = id;
    al.created_ns = old_w;
    assert_int_equal(lw_store_insert_alert(s, &al, NULL), LW_OK);
    a.ts_ns = new_w;
    a.template_id = 1;
    a.explanation_json = "{\"why\":\"rate x5\"}";
    assert_int_equal(lw_store_insert_anomaly(s, &a, &id), LW_OK);
    al.anomaly_id = id;
    al.created_ns = new_w;
    assert_int_equal(lw_store_insert_alert(s, &al, &id), LW_OK);
    assert_int_equal(lw_store_set_alert_state(s, id, "sent", new_w + NS), LW_OK);
    assert_int_equal(lw_store_set_alert_state(s, id + 100, "sent", new_w + NS), LW_ENOENT);
    assert_int_equal(lw_store_add_stored_lines(s, 17), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    lw_store_close(s);

    s = open_ok(f, &conf);
    assert_int_equal(lw_store_stored_lines(s, &n), LW_OK);
    assert_int_equal(n, 17);
    assert_int_equal(lw_store_prune(s, now, &deleted), LW_OK);
    /*
     * 2 window rows, 1 source row, 1 level row, 1 anomaly, 1 alert, and the summaries of
     * schema 7: 1 source hour, 1 (emptied) anomaly bucket.
     */
    assert_int_equal(deleted, 8);
    assert_int_equal(lw_store_get_window_count(s, old_w, 1, &n), LW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lw_store_get_source_count(s, old_w, 1, "src", &n), LW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lw_store_get_level_count(s, old_w, LW_LEVEL_INFO, &n), LW_OK);
    assert_int_equal(n, 0);
    assert_int_equal(lw_store_get_window_count(s, new_w, 1, &n), LW_OK);
    assert_int_equal(n, 7);
    assert_int_equal(lw_store_get_source_count(s, new_w, 1, "src", &n), LW_OK);
    assert_int_equal(n, 7);
    assert_int_equal(lw_store_get_level_count(s, new_w, LW_LEVEL_INFO, &n), LW_OK);
    assert_int_equal(n, 7);
    assert_int_equal(lw_store_stored_lines(s, &n), LW_OK);
    assert_int_equal(n, 17);
    assert_int_equal(lw_store_template_count(s, &n), LW_OK);
    assert_int_equal(n, 2); /* templates are kept */
    /* A second prune finds nothing more; inside a caller's transaction too. */
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_prune(s, now, &deleted), LW_OK);
    assert_int_equal(deleted, 0);
    assert_int_equal(lw_store_commit(s), LW_OK);
    lw_store_close(s);
}

static void test_status_next_to_writer(void **state)
{
    struct fixture *f = *state;
    struct lw_ingest_checkpoint ck = {.path = "/var/log/syslog", .offset = 4096};
    struct lw_store *w = open_ok(f, NULL);
    struct lw_store_status st;
    char err[256] = "";
    int i;

    assert_int_equal(lw_store_begin(w), LW_OK);
    for (i = 0; i < 5; i++) {
        assert_int_equal(lw_store_upsert_template(w, (uint32_t)i + 1, "t", T0, T0, 1), LW_OK);
        assert_int_equal(lw_store_add_window_count(w, T0 + i * 10 * NS, (uint32_t)i + 1, 1),
                         LW_OK);
    }
    assert_int_equal(lw_store_set_checkpoint(w, &ck, "tail"), LW_OK);
    assert_int_equal(lw_store_add_stored_lines(w, 1000), LW_OK);
    assert_int_equal(lw_store_commit(w), LW_OK);

    /* The writer holds its write lock on an open transaction while status reads. */
    assert_int_equal(lw_store_begin(w), LW_OK);
    assert_int_equal(lw_store_add_stored_lines(w, 1), LW_OK);
    assert_int_equal(lw_store_add_window_count(w, T0 + 100 * NS, 1, 1), LW_OK);

    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_OK);
    assert_int_equal(st.stored_lines, 1000); /* the last commit, not the open transaction */
    assert_int_equal(st.n_templates, 5);
    assert_int_equal(st.n_windows, 5);
    assert_int_equal(st.oldest_window_ns, T0);
    assert_int_equal(st.newest_window_ns, T0 + 40 * NS);
    assert_int_equal(st.n_checkpoints, 1);
    assert_int_equal(st.schema_version, LW_STORE_SCHEMA_VERSION);
    assert_true(st.db_bytes > 0);
    assert_true(st.wal_bytes > 0);

    assert_int_equal(lw_store_commit(w), LW_OK);
    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_OK);
    assert_int_equal(st.stored_lines, 1001);
    assert_int_equal(st.n_windows, 6);
    lw_store_close(w);

    /* And with no writer at all. */
    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_OK);
    assert_int_equal(st.stored_lines, 1001);
}

static void test_read_only_handle(void **state)
{
    struct fixture *f = *state;
    struct lw_store_conf ro = {.read_only = 1};
    struct lw_store *s;
    char err[256] = "";
    uint64_t n;

    assert_null(lw_store_open(f->dir, &ro, err, sizeof(err)));
    assert_non_null(strstr(err, "no logwarden store in"));
    s = open_ok(f, NULL);
    assert_int_equal(lw_store_add_stored_lines(s, 3), LW_OK); /* autocommit */
    lw_store_close(s);
    s = open_ok(f, &ro);
    assert_int_equal(lw_store_stored_lines(s, &n), LW_OK);
    assert_int_equal(n, 3);
    assert_true(lw_store_add_stored_lines(s, 1) < 0);
    assert_true(strlen(lw_store_errmsg(s)) > 0);
    lw_store_close(s);
}

static void test_status_missing(void **state)
{
    struct fixture *f = *state;
    struct lw_store_status st;
    char want[256];
    char err[256] = "";

    snprintf(want, sizeof(want), "no logwarden store in %s", f->dir);
    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_ENOENT);
    assert_string_equal(err, want);
    /* An existing directory without a database: the same, and nothing is created. */
    assert_int_equal(mkdir(f->dir, 0755), 0);
    err[0] = '\0';
    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_ENOENT);
    assert_string_equal(err, want);
    snprintf(want, sizeof(want), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_not_equal(access(want, F_OK), 0);
}

static void test_lock(void **state)
{
    struct fixture *f = *state;
    char want[256];
    char err[256] = "";
    int fd1 = -1;
    int fd2 = -1;

    assert_int_equal(lw_store_lock(f->dir, &fd1, err, sizeof(err)), LW_OK);
    assert_true(fd1 >= 0);
    assert_int_equal(lw_store_lock(f->dir, &fd2, err, sizeof(err)), LW_EAGAIN);
    assert_int_equal(fd2, -1);
    snprintf(want, sizeof(want), "another logwarden is running on %s (pid %ld)", f->dir,
             (long)getpid());
    assert_string_equal(err, want);
    lw_store_unlock(fd1);
    assert_int_equal(lw_store_lock(f->dir, &fd2, err, sizeof(err)), LW_OK);
    lw_store_unlock(fd2);
    lw_store_unlock(-1);
}

static void test_integrity_check(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f, NULL);
    char result[128];
    char tiny[2];

    assert_int_equal(lw_store_add_window_count(s, T0, 1, 1), LW_OK);
    assert_int_equal(lw_store_integrity_check(s, result, sizeof(result)), LW_OK);
    assert_string_equal(result, "ok");
    assert_int_equal(lw_store_integrity_check(s, tiny, sizeof(tiny)), LW_OK);
    assert_string_equal(tiny, "o");
    lw_store_close(s);
}

/*
 * A full store (issue "nothing accepted is ever lost", full disk): with max_bytes the database
 * cannot grow, as on a full file system. A write that needs room fails with LW_EFULL and a
 * message naming the file (not "input/output error"); the failed transaction leaves nothing
 * behind, what was committed before is intact, and the same transaction commits once there is
 * room again.
 */
static int fill_txn(struct lw_store *s, int n_rows)
{
    char source[64];
    int rc = LW_OK;
    int i;

    rc = lw_store_begin(s);
    for (i = 0; i < n_rows && rc == LW_OK; i++) {
        snprintf(source, sizeof(source), "host-%06d.example.org", i);
        rc = lw_store_add_source_count(s, T0 + (int64_t)i * 10 * NS, (uint32_t)(i % 50) + 1,
                                       source, 1);
    }
    if (rc == LW_OK) {
        rc = lw_store_add_stored_lines(s, (uint64_t)n_rows);
    }
    if (rc == LW_OK) {
        rc = lw_store_commit(s);
    }
    else {
        lw_store_rollback(s);
    }
    return rc;
}

static void test_full_store(void **state)
{
    struct fixture *f = *state;
    struct lw_store_conf capped = {.max_bytes = 256 * 1024};
    struct lw_store *s = open_ok(f, &capped);
    uint64_t n = 0;
    int rc;

    assert_int_equal(fill_txn(s, 10), LW_OK);
    rc = fill_txn(s, 20000);
    assert_int_equal(rc, LW_EFULL);
    assert_non_null(strstr(lw_store_errmsg(s), "store full: "));
    assert_non_null(strstr(lw_store_errmsg(s), LW_STORE_DB_NAME));
    assert_false(lw_store_in_transaction(s));
    /* Nothing of the failed transaction, all of the one before; the handle still works. */
    assert_int_equal(lw_store_stored_lines(s, &n), LW_OK);
    assert_int_equal(n, 10);
    assert_int_equal(fill_txn(s, 5), LW_OK);
    assert_int_equal(lw_store_integrity_check(s, (char[64]){0}, 64), LW_OK);
    lw_store_close(s);

    /* Room again: the same transaction commits. */
    s = open_ok(f, NULL);
    assert_int_equal(fill_txn(s, 20000), LW_OK);
    assert_int_equal(lw_store_stored_lines(s, &n), LW_OK);
    assert_int_equal(n, 20015);
    lw_store_close(s);
}

/* The mode bits of DIR/@name (or of DIR itself for ""), -1 when it does not exist. */
static int mode_of(const struct fixture *f, const char *name)
{
    char path[256];
    struct stat sb;

    snprintf(path, sizeof(path), "%s%s%s", f->dir, name[0] ? "/" : "", name);
    return stat(path, &sb) == 0 ? (int)(sb.st_mode & 07777) : -1;
}

/*
 * The store holds log contents: a data directory logwarden creates is 0700, the database and
 * the WAL and shared-memory files next to it 0600 (whatever the umask allows more), and so is
 * the lock file.
 */
static void test_new_store_is_private(void **state)
{
    struct fixture *f = *state;
    mode_t old = umask(022);
    struct lw_store *s;
    int fd = -1;
    char err[256];

    assert_int_equal(lw_store_lock(f->dir, &fd, err, sizeof(err)), LW_OK);
    s = open_ok(f, NULL);
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_add_stored_lines(s, 1), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    assert_int_equal(mode_of(f, ""), 0700);
    assert_int_equal(mode_of(f, LW_STORE_DB_NAME), 0600);
    assert_int_equal(mode_of(f, LW_STORE_DB_NAME "-wal"), 0600);
    assert_int_equal(mode_of(f, LW_STORE_DB_NAME "-shm"), 0600);
    assert_int_equal(mode_of(f, LW_STORE_LOCK_NAME), 0600);
    assert_int_equal(mode_of(f, LW_STORE_DB_NAME ".new"), -1);
    lw_store_close(s);
    lw_store_unlock(fd);
    umask(old);
}

/*
 * A logwarden.db of 0 bytes is a store whose data is gone (truncated, replaced), not a new one:
 * it is refused with a message naming the file and what to do, never silently replaced by a
 * fresh store (history and checkpoints gone). A WAL whose database is missing is refused too.
 */
static void test_empty_db_refused(void **state)
{
    struct fixture *f = *state;
    struct lw_store_status st;
    struct lw_store *s;
    char path[256];
    char moved[300];
    char err[1024] = "";

    s = open_ok(f, NULL);
    assert_int_equal(lw_store_begin(s), LW_OK);
    assert_int_equal(lw_store_add_stored_lines(s, 42), LW_OK);
    assert_int_equal(lw_store_commit(s), LW_OK);
    lw_store_close(s);
    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(truncate(path, 0), 0);

    assert_null(lw_store_open(f->dir, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "0 bytes"));
    assert_non_null(strstr(err, "move it away"));
    /* Still 0 bytes: nothing was created over it. */
    assert_int_equal(mode_of(f, LW_STORE_DB_NAME) >= 0, 1);
    {
        struct stat sb;

        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_size, 0);
    }
    err[0] = '\0';
    assert_int_not_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_OK);
    assert_non_null(strstr(err, "0 bytes"));

    /* Moved away as the message says: a fresh store. */
    snprintf(moved, sizeof(moved), "%s.empty", path);
    assert_int_equal(rename(path, moved), 0);
    s = open_ok(f, NULL);
    lw_store_close(s);

    /* A WAL left without its database. */
    unlink(path);
    snprintf(moved, sizeof(moved), "%s-wal", path);
    {
        FILE *w = fopen(moved, "w");

        assert_non_null(w);
        fputs("not empty", w);
        fclose(w);
    }
    err[0] = '\0';
    assert_null(lw_store_open(f->dir, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "-wal is there"));
}

/*
 * A damaged page is found when the writer opens the store (PRAGMA quick_check), not later when
 * every transaction that touches it fails: the open is refused with a message naming the file,
 * the problem and what to do.
 */
static void test_damaged_page_refused(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_ok(f, NULL);
    char path[256];
    char err[1024] = "";
    unsigned char junk[16];
    struct stat sb;
    long page;
    FILE *db;
    int i;

    assert_int_equal(lw_store_begin(s), LW_OK);
    for (i = 0; i < 5000; i++) {
        assert_int_equal(lw_store_add_window_count(s, T0 + (int64_t)i * 10 * NS, 7, 1), LW_OK);
    }
    assert_int_equal(lw_store_commit(s), LW_OK);
    lw_store_close(s); /* the last close checkpoints the WAL into the database file */

    /* Scribble over the header of a page in the middle of window_counts' b-tree. */
    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size >= 20 * 4096);
    page = (long)(sb.st_size / 4096) / 2;
    memset(junk, 0x5a, sizeof(junk));
    db = fopen(path, "r+b");
    assert_non_null(db);
    assert_int_equal(fseek(db, page * 4096, SEEK_SET), 0);
    assert_int_equal(fwrite(junk, 1, sizeof(junk), db), sizeof(junk));
    fclose(db);

    assert_null(lw_store_open(f->dir, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "is damaged"));
    assert_non_null(strstr(err, "quick_check"));
    assert_non_null(strstr(err, "backup"));
}

/*
 * The detectors' models carry no checksum of their own: a bit flipped in the file used to load
 * as a model without a word. The store keeps an XXH64 beside the blob and refuses a blob that
 * does not match it (LW_ECORRUPT, a message naming it); a row saved before checksums (NULL)
 * still loads, flagged unchecked.
 */
static void test_models_checksum(void **state)
{
    struct fixture *f = *state;
    char models[300];
    struct lw_store *s;
    char *got = NULL;
    size_t len = 0;
    int checked = -1;
    size_t i;

    for (i = 0; i < sizeof(models); i++) {
        models[i] = (char)(i * 7);
    }
    s = open_ok(f, NULL);
    assert_int_equal(lw_store_save_models(s, models, sizeof(models)), LW_OK);
    assert_int_equal(lw_store_load_models(s, &got, &len, &checked), LW_OK);
    assert_int_equal(checked, 1);
    assert_int_equal(len, sizeof(models));
    assert_memory_equal(got, models, sizeof(models));
    lw_free(got);
    lw_store_close(s);

    /* One bit flipped in the file (byte 100 of the blob). */
    {
        char path[256];
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;

        models[100] ^= 0x10;
        snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
        assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(db, "UPDATE model_state SET blob = ?1", -1, &st,
                                            NULL),
                         SQLITE_OK);
        sqlite3_bind_blob(st, 1, models, sizeof(models), SQLITE_STATIC);
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    s = open_ok(f, NULL);
    got = NULL;
    assert_int_equal(lw_store_load_models(s, &got, &len, &checked), LW_ECORRUPT);
    assert_null(got);
    assert_non_null(strstr(lw_store_errmsg(s), "checksum"));
    assert_non_null(strstr(lw_store_errmsg(s), "detector models"));
    lw_store_close(s);

    /* A row from before checksums: loaded, flagged unchecked. */
    raw_exec(f, "UPDATE model_state SET checksum = NULL");
    s = open_ok(f, NULL);
    assert_int_equal(lw_store_load_models(s, &got, &len, &checked), LW_OK);
    assert_int_equal(checked, 0);
    assert_int_equal(len, sizeof(models));
    lw_free(got);
    lw_store_close(s);
}

static void test_window_start(void **state)
{
    struct fixture *f = *state;
    struct lw_store_conf conf = {.window_s = 60};
    struct lw_store *s = open_ok(f, &conf);

    assert_int_equal(lw_store_window_start(s, T0), T0);
    assert_int_equal(lw_store_window_start(s, T0 + 59 * NS + 999), T0);
    assert_int_equal(lw_store_window_start(s, T0 + 60 * NS), T0 + 60 * NS);
    assert_int_equal(lw_store_window_start(s, -1), -60 * NS);
    assert_int_equal(lw_store_window_start(s, -60 * NS), -60 * NS);
    lw_store_close(s);
    lw_store_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_create_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_version_in_meta, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_db_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upserts_add_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_discards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_miner_blob_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stored_lines_persist_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_next_to_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_handle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integrity_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_window_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_store_is_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_db_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_page_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_models_checksum, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
