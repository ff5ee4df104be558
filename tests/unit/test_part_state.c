/*
 * Unit tests for the model state that follows Kafka partitions (src/engine/part_state.c, through
 * the pipeline of lw_engine.h): a claim group loads the newest state saved for the partition, a
 * release group saves the state of the partition's hosts and is acknowledged through
 * lw_ingest.released, and a store that keeps no shard state (SQLite) still acknowledges
 * releases. The shard state ops of the SQLite handle are interposed with an in-memory table
 * that plays several writers (ClickHouse keeps each writer's latest row per key); the real
 * thing is tests/integration/test_cluster_model_state.sh. Which inputs' checkpoints name shards is
 * the capability their sources declare (lw_ingest_source.shared_shards), never their name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "lw/lw_detect.h"
#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_ingest.h"
#include "lw/lw_store.h"

#include "store_fixture.h"

#define NS 1000000000LL

static int setup(void **state)
{
    return fixture_setup(state, "/tmp/lw-parts-XXXXXX");
}

/* ---- shard state kept in memory, each writer's latest row per key ---- */

struct row {
    int writer;
    char key[64];
    unsigned char *blob;
    size_t len;
};

static struct row g_rows[8];
static size_t g_n_rows;
static int g_writer;
static int g_loads;
static const struct lw_store_ops *g_real;
static struct lw_store_ops g_ops;

static int mem_save(struct lw_store *s, const char *key, const void *blob, size_t len)
{
    size_t i;

    (void)s;
    for (i = 0; i < g_n_rows; i++) {
        if (g_rows[i].writer == g_writer && strcmp(g_rows[i].key, key) == 0) {
            break;
        }
    }
    if (i == g_n_rows) {
        assert_true(g_n_rows < 8);
        g_n_rows++;
        g_rows[i].writer = g_writer;
        snprintf(g_rows[i].key, sizeof(g_rows[i].key), "%s", key);
    }
    free(g_rows[i].blob);
    g_rows[i].blob = malloc(len);
    assert_non_null(g_rows[i].blob);
    memcpy(g_rows[i].blob, blob, len);
    g_rows[i].len = len;
    return LW_OK;
}

static int mem_foreach(struct lw_store *s, const char *key, lw_store_blob_cb cb, void *opaque)
{
    size_t i;
    int rc = LW_OK;

    (void)s;
    g_loads++;
    for (i = 0; i < g_n_rows && rc == LW_OK; i++) {
        if (strcmp(g_rows[i].key, key) == 0) {
            rc = cb(opaque, g_rows[i].blob, g_rows[i].len);
        }
    }
    return rc;
}

static void rows_clear(void)
{
    size_t i;

    for (i = 0; i < g_n_rows; i++) {
        free(g_rows[i].blob);
    }
    memset(g_rows, 0, sizeof(g_rows));
    g_n_rows = 0;
    g_loads = 0;
}

static int teardown_rows(void **state)
{
    rows_clear();
    return teardown(state);
}

static struct lw_store *open_store(const struct fixture *f, bool shard_ops)
{
    char err[256] = "";
    struct lw_store *s = lw_store_open(f->dir, NULL, err, sizeof(err));

    if (s == NULL) {
        fail_msg("lw_store_open: %s", err);
    }
    if (shard_ops) {
        g_real = s->ops;
        g_ops = *s->ops;
        g_ops.save_shard_state = mem_save;
        g_ops.foreach_shard_state = mem_foreach;
        s->ops = &g_ops;
    }
    return s;
}

static void close_store(struct lw_store *s, bool shard_ops)
{
    if (shard_ops) {
        s->ops = g_real;
    }
    lw_store_close(s);
}

static struct lw_engine *start_engine(struct lw_store *s, struct lw_detect_conf *dc)
{
    struct lw_engine_conf ec;
    char err[256] = "";
    struct lw_engine *e;

    lw_detect_conf_defaults(dc, 10 * NS);
    memset(&ec, 0, sizeof(ec));
    ec.workers = 1;
    ec.flush_ns = 20000000LL;
    ec.store = s;
    ec.detect = dc;
    e = lw_engine_start(&ec, err, sizeof(err));
    if (e == NULL) {
        fail_msg("lw_engine_start: %s", err);
    }
    return e;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Offers a group of partition "t/0" until it is taken. */
static void offer(struct lw_engine *e, struct lw_ingest_group *g)
{
    struct lw_ingest in = lw_engine_ingest(e);
    int i, rc = LW_EAGAIN;

    for (i = 0; i < 1000 && rc == LW_EAGAIN; i++) {
        rc = in.fn(in.opaque, g);
        if (rc == LW_EAGAIN) {
            sleep_ms(10);
        }
    }
    assert_int_equal(rc, LW_OK);
}

static const struct lw_ingest_source g_src = {.input = "kafka", .name = "t/0",
                                             .shared_shards = true};

static void mark(struct lw_engine *e, uint32_t flags, uint64_t epoch, uint64_t offset)
{
    struct lw_ingest_checkpoint ck = {.path = "t/0", .dev = epoch, .offset = offset};
    struct lw_ingest_group g = {.source = &g_src, .checkpoint = &ck, .flags = flags};

    offer(e, &g);
}

/* 20 lines of hosts h1 and h2 (the records' keys), then their checkpoint at @offset. */
static void lines(struct lw_engine *e, uint64_t epoch, uint64_t offset)
{
    struct lw_ingest_checkpoint ck = {.path = "t/0", .dev = epoch, .offset = offset};
    struct lw_ingest_line l[20];
    const char *hosts[20];
    char buf[20][96];
    struct lw_ingest_group g = {.source = &g_src, .lines = l, .n_lines = 20, .hosts = hosts,
                                .checkpoint = &ck};
    int i;

    for (i = 0; i < 20; i++) {
        memset(&l[i], 0, sizeof(l[i]));
        l[i].len = (size_t)snprintf(buf[i], sizeof(buf[i]),
                                    "2026-01-01T00:00:%02dZ INFO request %d served", i, i);
        l[i].data = buf[i];
        l[i].ts_ns = LW_TS_UNKNOWN;
        hosts[i] = i % 2 ? "h2" : "h1";
    }
    offer(e, &g);
}

static void wait_released(struct lw_engine *e, uint64_t epoch)
{
    struct lw_ingest in = lw_engine_ingest(e);
    int i;

    assert_non_null(in.released);
    for (i = 0; i < 1000; i++) {
        if (in.released(in.opaque, "t/0", epoch) == 1) {
            return;
        }
        sleep_ms(10);
    }
    fail_msg("the release of t/0 (epoch %llu) was not acknowledged in 10 s",
             (unsigned long long)epoch);
}

/* The epoch and the sources of a saved shard state (its format: part_state.c). */
static void parse_row(const struct row *r, uint64_t *epoch, char names[4][16], uint32_t *n)
{
    struct lw_rbuf rb = {.p = r->blob, .len = r->len};
    uint32_t i;

    assert_int_equal(lw_rbuf_u32(&rb), 0x4C575053u);
    assert_int_equal(lw_rbuf_u32(&rb), 1);
    *epoch = lw_rbuf_u64(&rb);
    (void)lw_rbuf_u64(&rb);
    *n = lw_rbuf_u32(&rb);
    assert_true(*n <= 4);
    for (i = 0; i < *n; i++) {
        const char *s;
        size_t len = lw_rbuf_str(&rb, &s);

        assert_true(len < 16);
        memcpy(names[i], s, len);
        names[i][len] = '\0';
    }
    assert_int_equal(rb.err, 0);
}

static bool has(char names[4][16], uint32_t n, const char *name)
{
    uint32_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Writer 1 claims t/0, counts lines of h1 and h2, releases it: the state of both hosts is saved
 * under "kafka:t/0" with epoch 1. Writer 2 claims it under epoch 2 and loads that state, and its
 * own release saves both hosts again although it never saw a line of them: the claim told it
 * which hosts the partition has.
 */
static void test_release_and_claim(void **state)
{
    struct fixture *f = *state;
    struct lw_detect_conf dc;
    struct lw_store *s = open_store(f, true);
    struct lw_engine *e;
    char names[4][16];
    uint64_t epoch;
    uint32_t n;

    g_writer = 1;
    e = start_engine(s, &dc);
    mark(e, LW_INGEST_CLAIM, 1, 0);
    lines(e, 1, 20);
    mark(e, LW_INGEST_RELEASE, 1, 20);
    wait_released(e, 1);
    assert_int_equal(g_loads, 1); /* the claim looked for saved state: there was none */
    assert_int_equal(g_n_rows, 1);
    assert_string_equal(g_rows[0].key, "kafka:t/0");
    parse_row(&g_rows[0], &epoch, names, &n);
    assert_int_equal(epoch, 1);
    assert_int_equal(n, 2);
    assert_true(has(names, n, "h1") && has(names, n, "h2"));
    assert_int_equal(lw_engine_stop(e), LW_OK);
    lw_detect_conf_fini(&dc);

    g_writer = 2;
    e = start_engine(s, &dc);
    mark(e, LW_INGEST_CLAIM, 2, 20);
    mark(e, LW_INGEST_RELEASE, 2, 20);
    wait_released(e, 2);
    assert_int_equal(g_loads, 2);
    assert_int_equal(g_n_rows, 2);
    assert_int_equal(g_rows[1].writer, 2);
    parse_row(&g_rows[1], &epoch, names, &n);
    assert_int_equal(epoch, 2);
    assert_int_equal(n, 2);
    assert_true(has(names, n, "h1") && has(names, n, "h2"));
    assert_int_equal(lw_engine_stop(e), LW_OK);
    lw_detect_conf_fini(&dc);
    close_store(s, true);
}

/* SQLite keeps no shard state: releases are acknowledged all the same, nothing breaks. */
static void test_store_without_shard_state(void **state)
{
    struct fixture *f = *state;
    struct lw_detect_conf dc;
    struct lw_store *s = open_store(f, false);
    struct lw_engine *e = start_engine(s, &dc);

    mark(e, LW_INGEST_CLAIM, 1, 0);
    lines(e, 1, 20);
    mark(e, LW_INGEST_RELEASE, 1, 20);
    wait_released(e, 1);
    mark(e, LW_INGEST_CLAIM, 2, 20);
    lines(e, 2, 40);
    mark(e, LW_INGEST_RELEASE, 2, 40);
    wait_released(e, 2);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    lw_detect_conf_fini(&dc);
    close_store(s, false);
}

/* Offers a group without lines: only the checkpoint of @path at @offset, from @src. */
static void checkpoint_only(struct lw_engine *e, const struct lw_ingest_source *src,
                            const char *path, uint64_t offset)
{
    struct lw_ingest_checkpoint ck = {.path = path, .dev = 1, .offset = offset};
    struct lw_ingest_group g = {.source = src, .checkpoint = &ck};

    offer(e, &g);
}

/*
 * The engine remembers durable checkpoints for the inputs whose sources declare shared shards,
 * whatever they are named, and for no other, even one named "kafka": the capability decides,
 * not the name. Both checkpoints are stored all the same.
 */
static void test_durable_follows_capability(void **state)
{
    static const struct lw_ingest_source bus = {.input = "bus", .name = "p/0",
                                                .shared_shards = true};
    static const struct lw_ingest_source plain = {.input = "kafka", .name = "p/1"};
    struct fixture *f = *state;
    struct lw_detect_conf dc;
    struct lw_store *s = open_store(f, false);
    struct lw_engine *e = start_engine(s, &dc);
    struct lw_ingest_checkpoint out;
    int i;
    int found = 0;

    checkpoint_only(e, &plain, "p/1", 200);
    checkpoint_only(e, &bus, "p/0", 100);
    for (i = 0; i < 1000 && !found; i++) {
        found = lw_engine_durable(e, "bus", "p/0", &out);
        if (!found) {
            sleep_ms(10);
        }
    }
    assert_int_equal(found, 1);
    assert_int_equal(out.offset, 100);
    assert_int_equal(out.dev, 1);
    assert_null(out.path);
    /* Committed in order: p/1's transaction is durable too, but not kept for its input. */
    assert_int_equal(lw_engine_durable(e, "kafka", "p/1", &out), 0);
    assert_int_equal(lw_engine_durable(e, "other", "p/0", &out), 0);
    assert_int_equal(lw_engine_stop(e), LW_OK);
    assert_int_equal(lw_store_get_checkpoint(s, "kafka", "p/1", &out), LW_OK);
    assert_int_equal(out.offset, 200);
    assert_int_equal(lw_store_get_checkpoint(s, "bus", "p/0", &out), LW_OK);
    assert_int_equal(out.offset, 100);
    lw_detect_conf_fini(&dc);
    close_store(s, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_release_and_claim, setup, teardown_rows),
        cmocka_unit_test_setup_teardown(test_store_without_shard_state, setup, teardown_rows),
        cmocka_unit_test_setup_teardown(test_durable_follows_capability, setup, teardown_rows),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
