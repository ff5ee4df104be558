/*
 * Unit tests for how the pipeline (lw_engine.h) lives with its store: a store that cannot
 * commit (a full disk) pauses ingest with LW_EAGAIN, keeps what was accepted and commits it
 * once space is back, also when that happens while the engine stops; and a store whose miner
 * state is missing while templates exist does not hand out their ids again.
 *
 * A full disk is simulated by interposing the handle's backend functions (struct lw_store_ops
 * of lw_store.h is public): commit fails with LW_EFULL while `g_full` is set, as the SQLite
 * backend does on SQLITE_FULL (tests/unit/test_store.c covers that part with a real cap). The
 * real full disk is tests/integration/test_store_full.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"
#include "lw/lw_store.h"

#include "oom_child.h"
#include "store_fixture.h"

static int setup(void **state)
{
    return fixture_setup(state, "/tmp/lw-engst-XXXXXX");
}

/* ---- a store whose commits fail while the "disk" is full ---- */

static atomic_int g_full;
static atomic_int g_failed_commits;
static const struct lw_store_ops *g_real;
static struct lw_store_ops g_faulty;

static atomic_int g_full_after;  /* set: the next commit succeeds, then the disk is full */

static int faulty_commit(struct lw_store *s)
{
    int expect = 1;

    if (atomic_load(&g_full)) {
        atomic_fetch_add(&g_failed_commits, 1);
        g_real->rollback(s);
        return LW_EFULL;
    }
    if (atomic_compare_exchange_strong(&g_full_after, &expect, 0)) {
        int rc = g_real->commit(s);

        atomic_store(&g_full, 1);
        return rc;
    }
    return g_real->commit(s);
}

static struct lw_store *open_faulty(const struct fixture *f)
{
    char err[256] = "";
    struct lw_store *s = lw_store_open(f->dir, NULL, err, sizeof(err));

    if (s == NULL) {
        fail_msg("lw_store_open: %s", err);
    }
    g_real = s->ops;
    g_faulty = *s->ops;
    g_faulty.commit = faulty_commit;
    s->ops = &g_faulty;
    atomic_store(&g_full, 0);
    atomic_store(&g_full_after, 0);
    atomic_store(&g_failed_commits, 0);
    return s;
}

static void close_faulty(struct lw_store *s)
{
    s->ops = g_real;
    lw_store_close(s);
}

/* An engine of one parse worker on @s that commits every 20 ms; NULL with @err when refused. */
static struct lw_engine *try_start_engine(struct lw_store *s, char *err, size_t err_len)
{
    struct lw_engine_conf ec;

    memset(&ec, 0, sizeof(ec));
    ec.workers = 1;
    ec.queue_batches = 4;
    ec.flush_ns = 20000000LL;
    ec.store = s;
    return lw_engine_start(&ec, err, err_len);
}

static struct lw_engine *start_engine(struct lw_store *s)
{
    char err[256] = "";
    struct lw_engine *e = try_start_engine(s, err, sizeof(err));

    if (e == NULL) {
        fail_msg("lw_engine_start: %s", err);
    }
    return e;
}

/*
 * Offers one group of @n lines "INFO <word> request <i> served", line i with word
 * @words[i % @n_words]; the lw_ingest_fn's answer.
 */
static int offer_lines(struct lw_engine *e, const char *const *words, int n_words, int n)
{
    static const struct lw_ingest_source src = {.input = "test", .name = "-"};
    struct lw_ingest in = lw_engine_ingest(e);
    struct lw_ingest_line lines[64];
    char buf[64][96];
    struct lw_ingest_group g = {.source = &src, .lines = lines, .n_lines = (size_t)n};
    int i;

    assert_true(n <= 64);
    for (i = 0; i < n; i++) {
        lines[i].len = (size_t)snprintf(buf[i], sizeof(buf[i]),
                                        "2026-01-01T00:00:%02dZ INFO %s request %d served", i % 60,
                                        words[i % n_words], i);
        lines[i].data = buf[i];
        lines[i].flags = 0;
        lines[i].ts_ns = LW_TS_UNKNOWN;
        lines[i].level = 0;
    }
    return in.fn(in.opaque, &g);
}

/* Offers one group of @n lines whose words start with @word. */
static int offer(struct lw_engine *e, const char *word, int n)
{
    return offer_lines(e, &word, 1, n);
}

static struct lw_engine_stats stats(struct lw_engine *e)
{
    struct lw_engine_stats st;

    lw_engine_get_stats(e, &st);
    return st;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Waits up to 10 s for every accepted line to be durable. */
static void wait_all_stored(struct lw_engine *e)
{
    int i;

    for (i = 0; i < 1000; i++) {
        struct lw_engine_stats st = stats(e);

        if (st.lines_stored == st.lines_in) {
            return;
        }
        sleep_ms(10);
    }
    fail_msg("lines_in %llu, lines_stored %llu after 10 s",
             (unsigned long long)stats(e).lines_in, (unsigned long long)stats(e).lines_stored);
}

static uint64_t stored_total(const struct fixture *f)
{
    struct lw_store_status st;
    char err[256] = "";

    assert_int_equal(lw_store_status(f->dir, &st, err, sizeof(err)), LW_OK);
    return st.stored_lines;
}

/*
 * While the store cannot commit, ingest answers LW_EAGAIN (it used to take up to 256 more
 * batches into memory, and the inputs kept answering 202); the lines accepted before are kept
 * and committed once the disk has room again, and ingest resumes.
 */
static void test_full_disk_backpressure(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_faulty(f);
    struct lw_engine *e = start_engine(s);
    uint64_t accepted_while_full = 0;
    int i;

    assert_int_equal(offer(e, "alpha", 50), LW_OK);
    wait_all_stored(e);

    atomic_store(&g_full, 1);
    assert_int_equal(offer(e, "beta", 50), LW_OK);
    /* The engine's own count: the store's failure reaches the engine a moment later. */
    for (i = 0; i < 500 && stats(e).store_errors == 0; i++) {
        sleep_ms(10);
    }
    assert_true(atomic_load(&g_failed_commits) > 0);
    assert_true(stats(e).store_errors > 0);
    /* Every group offered now is refused: memory holds only what was accepted. */
    for (i = 0; i < 300; i++) {
        if (offer(e, "gamma", 50) == LW_OK) {
            accepted_while_full += 50;
        }
    }
    assert_int_equal(accepted_while_full, 0);
    assert_true(stats(e).groups_refused >= 300);
    assert_int_equal(stats(e).lines_in, 100);
    assert_int_equal(stats(e).lines_stored, 50);
    /* Retried, not given up: still pending after a few retries. */
    sleep_ms(1500);
    assert_true(atomic_load(&g_failed_commits) >= 2);
    assert_int_equal(stats(e).lines_stored, 50);

    /* Space is back: the pending transaction commits and ingest resumes. */
    atomic_store(&g_full, 0);
    wait_all_stored(e);
    for (i = 0; i < 200 && offer(e, "delta", 50) == LW_EAGAIN; i++) {
        sleep_ms(10);
    }
    assert_true(i < 200);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    assert_int_equal(stored_total(f), 150);
    close_faulty(s);
}

static void *free_space_later(void *arg)
{
    (void)arg;
    sleep_ms(2500);
    atomic_store(&g_full, 0);
    return NULL;
}

/*
 * The engine stops (SIGTERM) while the disk is full: the last transaction is retried for a
 * while rather than given up after two tries, so space freed meanwhile still saves every
 * accepted line, and stop reports success.
 */
static void test_full_disk_at_stop(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_faulty(f);
    struct lw_engine *e = start_engine(s);
    pthread_t t;
    int i;

    assert_int_equal(offer(e, "alpha", 40), LW_OK);
    wait_all_stored(e);
    atomic_store(&g_full, 1);
    assert_int_equal(offer(e, "beta", 40), LW_OK);
    for (i = 0; i < 500 && atomic_load(&g_failed_commits) == 0; i++) {
        sleep_ms(10);
    }
    assert_int_equal(pthread_create(&t, NULL, free_space_later, NULL), 0);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    pthread_join(t, NULL);
    assert_int_equal(stored_total(f), 80);
    close_faulty(s);
}

/* The text of template @id in the store, "" when there is none. */
static void template_text(const struct fixture *f, uint32_t id, char *buf, size_t cap)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    buf[0] = '\0';
    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT text FROM templates WHERE id = ?1", -1, &st,
                                        NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void raw_exec(const struct fixture *f, const char *sql)
{
    char path[256];
    sqlite3 *db = NULL;

    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/*
 * The miner_state row is gone while templates exist: the miner used to start again at id 1 and
 * give a new template the id (and, in table templates, overwrite the text) of an old one. Ids
 * now continue after the highest stored one.
 */
static uint32_t text_tid(const char *text)
{
    return lw_template_id(text, strlen(text));
}

/*
 * Template ids come from the template's text: a lost miner state (a restored store, a deleted
 * row) gives the same lines the same ids again, and an id never names another text.
 */
static void test_missing_miner_state(void **state)
{
    struct fixture *f = *state;
    char text[256];
    struct lw_store *s;
    struct lw_engine *e;
    uint64_t n = 0;
    uint32_t alpha = text_tid("alpha request <*> served");
    uint32_t zeta = text_tid("zeta request <*> served");

    s = open_faulty(f);
    e = start_engine(s);
    assert_int_equal(offer(e, "alpha", 10), LW_OK);
    assert_int_equal(offer(e, "beta", 10), LW_OK);
    assert_int_equal(offer(e, "gamma", 10), LW_OK);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    close_faulty(s);
    template_text(f, alpha, text, sizeof(text));
    assert_string_equal(text, "alpha request <*> served");

    raw_exec(f, "DELETE FROM miner_state");

    s = open_faulty(f);
    e = start_engine(s);
    assert_int_equal(offer(e, "alpha", 10), LW_OK);
    assert_int_equal(offer(e, "zeta", 10), LW_OK);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    assert_int_equal(lw_store_template_count(s, &n), LW_OK);
    assert_int_equal(n, 4);
    close_faulty(s);

    template_text(f, alpha, text, sizeof(text));
    assert_string_equal(text, "alpha request <*> served");
    template_text(f, zeta, text, sizeof(text));
    assert_string_equal(text, "zeta request <*> served");
}

/* The first integer of @sql's first row, on the store's file. */
static int64_t query_int(const struct fixture *f, const char *sql)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/*
 * The store after the 40 "job" lines of four sibling words merged into template @live: the old
 * ids (at least three) are aliases of it and only of it, and it counts every line.
 */
static void assert_jobs_merged(const struct fixture *f, uint32_t live)
{
    char sql[256];

    assert_true(query_int(f, "SELECT count(*) FROM template_aliases") >= 3);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM template_aliases WHERE to_id <> %u", live);
    assert_int_equal(query_int(f, sql), 0);
    snprintf(sql, sizeof(sql), "SELECT count FROM templates WHERE id = %u", live);
    assert_int_equal(query_int(f, sql), 40);
}

/*
 * Four sibling words (not the first) make one template whose text, hence id, is new: the ids the lines had are
 * aliases of it in the store, the template list counts one template with every line, and the
 * window rows under the old and the new ids add up to the lines.
 */
static void test_aliases_in_store(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s;
    struct lw_engine *e;
    uint64_t n = 0;
    uint32_t live = text_tid("job <*> request <*> served");
    uint32_t r = 0;
    char sql[256];

    s = open_faulty(f);
    e = start_engine(s);
    assert_int_equal(offer(e, "job alpha", 10), LW_OK);
    assert_int_equal(offer(e, "job beta", 10), LW_OK);
    assert_int_equal(offer(e, "job gamma", 10), LW_OK);
    assert_int_equal(offer(e, "job delta", 10), LW_OK);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    assert_int_equal(lw_store_template_count(s, &n), LW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(lw_store_resolve_template(s, text_tid("job alpha request <*> served"), &r),
                     LW_OK);
    assert_int_equal(r, live);
    close_faulty(s);

    assert_jobs_merged(f, live);
    snprintf(sql, sizeof(sql),
             "SELECT sum(count) FROM window_counts WHERE template_id = %u OR template_id IN"
             " (SELECT from_id FROM template_aliases WHERE to_id = %u)",
             live, live);
    assert_int_equal(query_int(f, sql), 40);
}

/*
 * The aliases a transaction drained from the miner are written again when it fails: the miner
 * reports each change once, and a rolled-back one was lost (the store kept the old ids as
 * templates of their own while a reloaded miner took them as aliases already stored).
 */
static void test_aliases_after_failed_commit(void **state)
{
    struct fixture *f = *state;
    struct lw_store *s = open_faulty(f);
    struct lw_engine *e = start_engine(s);
    uint32_t live = text_tid("job <*> request <*> served");
    int i;

    assert_int_equal(offer(e, "job alpha", 10), LW_OK);
    assert_int_equal(offer(e, "job beta", 10), LW_OK);
    assert_int_equal(offer(e, "job gamma", 10), LW_OK);
    wait_all_stored(e);
    assert_int_equal(query_int(f, "SELECT count(*) FROM template_aliases"), 0);

    /* "job delta" merges the job templates; the transactions that drain the aliases fail. */
    atomic_store(&g_full, 1);
    assert_int_equal(offer(e, "job delta", 10), LW_OK);
    for (i = 0; i < 500 && stats(e).store_errors == 0; i++) {
        sleep_ms(10);
    }
    assert_true(stats(e).store_errors > 0);
    sleep_ms(1500); /* a retry or two, while still full */
    assert_true(atomic_load(&g_failed_commits) >= 2);
    assert_int_equal(stats(e).lines_stored, 30);

    atomic_store(&g_full, 0);
    wait_all_stored(e);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    close_faulty(s);

    assert_jobs_merged(f, live);
}

/* ---- the miner's state and the aliases of one transaction ---- */

static atomic_int g_hold;     /* 1: the next alias write waits; 2: it is waiting; 0: go */
static const struct lw_store_ops *g_real_alias;
static struct lw_store_ops g_holding;

static int holding_set_alias(struct lw_store *s, uint32_t from, uint32_t to)
{
    int expect = 1;

    if (atomic_compare_exchange_strong(&g_hold, &expect, 2)) {
        while (atomic_load(&g_hold) == 2) {
            sleep_ms(1);
        }
    }
    return g_real_alias->set_template_alias(s, from, to);
}

/* The committed miner state, read from the file (the engine's writer has the handle). */
static void load_blob(const struct fixture *f, char **blob, size_t *len)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;

    snprintf(path, sizeof(path), "%s/%s", f->dir, LW_STORE_DB_NAME);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT blob FROM miner_state WHERE id = 1", -1, &st,
                                        NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    *len = (size_t)sqlite3_column_bytes(st, 0);
    *blob = malloc(*len + 1);
    assert_non_null(*blob);
    memcpy(*blob, sqlite3_column_blob(st, 0), *len);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Whether table template_aliases has a row for @from. */
static bool has_alias_row(const struct fixture *f, uint32_t from)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "SELECT count(*) FROM template_aliases WHERE from_id = %u", from);
    return query_int(f, sql) > 0;
}

/*
 * A committed miner state holds only aliases the store holds too: a loaded state takes its
 * aliases as written, so one missing from the store is never written (the generalised
 * template's old id stays a live template). The parse workers mine on while the writer writes
 * a transaction: here a merge happens while the writer is between writing the aliases it
 * drained and the end of the transaction, which also saves the miner (a new template). That
 * transaction's miner state must not hold the new merge's aliases; the next commit fails (a
 * SIGKILL would do the same), and a reload of the committed state must agree with the store.
 */
static void test_saved_aliases_in_store(void **state)
{
    static const char *const first[] = {"job alpha", "job beta", "job gamma",
                                        "task alpha", "task beta", "task gamma"};
    static const char *const merge_job[] = {"job delta", "zeta"};
    static const char *const merge_task[] = {"task delta"};
    static const char *const olds[] = {"alpha", "beta", "gamma"};
    struct fixture *f = *state;
    struct lw_miner_conf mc;
    struct lw_store *s = open_faulty(f);
    struct lw_engine *e;
    struct lw_miner *m;
    uint64_t parsed;
    char *blob = NULL;
    size_t len = 0;
    char err[256] = "";
    char text[128];
    uint32_t r;
    int i;

    g_real_alias = s->ops;
    g_holding = g_faulty;
    g_holding.set_template_alias = holding_set_alias;
    s->ops = &g_holding;
    atomic_store(&g_hold, 0);
    e = start_engine(s);
    assert_int_equal(offer_lines(e, first, 6, 6), LW_OK);
    wait_all_stored(e);

    /* "job delta" merges the job lines (aliases to write), "zeta" is new (the miner is saved). */
    atomic_store(&g_hold, 1);
    assert_int_equal(offer_lines(e, merge_job, 2, 2), LW_OK);
    for (i = 0; i < 1000 && atomic_load(&g_hold) != 2; i++) {
        sleep_ms(10);
    }
    assert_int_equal(atomic_load(&g_hold), 2);
    /* The writer holds inside the transaction; the task lines merge meanwhile. */
    parsed = stats(e).lines_parsed;
    assert_int_equal(offer_lines(e, merge_task, 1, 1), LW_OK);
    for (i = 0; i < 1000 && stats(e).lines_parsed == parsed; i++) {
        sleep_ms(10);
    }
    assert_true(stats(e).lines_parsed > parsed);
    atomic_store(&g_full_after, 1);  /* what comes after this transaction is lost */
    atomic_store(&g_hold, 0);
    for (i = 0; i < 1000 && atomic_load(&g_failed_commits) == 0; i++) {
        sleep_ms(10);
    }
    assert_true(atomic_load(&g_failed_commits) > 0);

    /* What a restart would load. */
    memset(&mc, 0, sizeof(mc));
    m = lw_miner_create(&mc, err, sizeof(err));
    assert_non_null(m);
    load_blob(f, &blob, &len);
    assert_int_equal(lw_miner_load_buf(m, blob, len, err, sizeof(err)), LW_OK);
    free(blob);
    assert_true(has_alias_row(f, text_tid("job alpha request <*> served")));
    for (i = 0; i < 3; i++) {
        uint32_t id;

        snprintf(text, sizeof(text), "task %s request <*> served", olds[i]);
        id = text_tid(text);
        r = lw_miner_resolve(m, id);
        if (r != 0 && r != id) {
            assert_true(has_alias_row(f, id));
        }
    }
    lw_miner_destroy(m);

    atomic_store(&g_full, 0);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    /* The task lines did merge while the writer held (else the check above proved nothing). */
    assert_true(has_alias_row(f, text_tid("task alpha request <*> served")));
    s->ops = g_real_alias;
    close_faulty(s);
}

/* ---- allocations failing ---- */

/*
 * The child of test_oom: opens a store in @dir, starts an engine with one parse worker, offers
 * a few groups and stops, with the allocation LW_TEST_ALLOC_FAIL_AT failing. Exits 0 when the
 * engine ran, 2 when the store or the engine refused to start; prints the allocations it made
 * when @count is set. A crash, a hang (the alarm) or a leak LeakSanitizer reports is any other
 * status.
 */
static int oom_child(const char *dir, int count)
{
    char err[256] = "";
    struct lw_store *s;
    struct lw_engine *e;
    int i;

    alarm(60);
    s = lw_store_open(dir, NULL, err, sizeof(err));
    if (s == NULL) {
        return 2;
    }
    e = try_start_engine(s, err, sizeof(err));
    if (e == NULL) {
        lw_store_close(s);
        return 2;
    }
    for (i = 0; i < 4; i++) {
        (void)offer(e, i % 2 ? "alpha" : "job beta", 20); /* LW_ENOMEM may refuse one */
    }
    (void)lw_engine_stop(e);
    lw_store_close(s);
    if (count) {
        printf("%ld\n", lw_mem_counted());
    }
    return 0;
}

/* Runs the child with allocation @at failing (0: none; -1: none, counted); its exit status. */
static int run_oom_child(const struct fixture *f, long at, long *counted)
{
    char dir[256];
    int pfd[2];
    pid_t pid;
    int st = 0;

    snprintf(dir, sizeof(dir), "%s/oom-%ld", f->root, at);
    assert_int_equal(pipe(pfd), 0);
    pid = oom_spawn("test_engine_store", at < 0 ? "--oom-count" : "--oom-child", dir,
                    at < 0 ? 1000000000L : at, pfd[1]);
    assert_true(pid >= 0);
    close(pfd[1]);
    if (counted != NULL) {
        char buf[64] = "";
        ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);

        *counted = n > 0 ? strtol(buf, NULL, 10) : -1;
    }
    close(pfd[0]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    rm_tree(dir);
    return st;
}

/*
 * Each allocation of starting, feeding and stopping the engine fails in turn (a stride of them
 * when there are many: one process each): the engine refuses to start or runs and stops, and
 * never crashes, hangs or leaks. A parse worker that could not allocate its state used to leave
 * its batches to no one, and a stop waited for them for ever.
 */
static void test_oom(void **state)
{
    struct fixture *f = *state;
    long total = 0;
    long step;
    long at;
    int refused = 0;

    assert_int_equal(run_oom_child(f, -1, &total), 0);
    assert_true(total > 20);
    step = total / 400 + 1;
    for (at = 1; at <= total; at += step) {
        int st = run_oom_child(f, at, NULL);

        if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 2)) {
            fail_msg("allocation %ld of %ld failing: %s %d", at, total,
                     WIFSIGNALED(st) ? "signal" : "exit status",
                     WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        }
        refused += WEXITSTATUS(st) == 2;
    }
    assert_true(refused > 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_full_disk_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_at_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_miner_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases_in_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aliases_after_failed_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_saved_aliases_in_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
    };

    if (argc == 3 && strcmp(argv[1], "--oom-child") == 0) {
        return oom_child(argv[2], 0);
    }
    if (argc == 3 && strcmp(argv[1], "--oom-count") == 0) {
        return oom_child(argv[2], 1);
    }

    return cmocka_run_group_tests(tests, NULL, NULL);
}
