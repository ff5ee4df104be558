/*
 * Unit tests for the template miner (lw_miner.h): grouping, generalisation, parameters,
 * canonical template text, stable ids, eviction, the token cap, concurrent adds, foreach, and
 * first/last seen. The last test mines the Loghub-2k HDFS sample as an accuracy smoke test
 * (skipped when $LW_SHARED_DATA/loghub-2k is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lw/lw_canon.h"
#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"

struct fixture {
    struct lw_miner *m;
    struct lw_miner_scratch *s;
};

static void fx_init(struct fixture *fx, size_t max_templates, size_t max_tokens)
{
    struct lw_miner_conf conf;
    char err[256] = "";

    memset(&conf, 0, sizeof(conf));
    conf.max_templates = max_templates;
    conf.max_tokens = max_tokens;
    fx->m = lw_miner_create(&conf, err, sizeof(err));
    if (fx->m == NULL) {
        print_error("miner: %s\n", err);
    }
    assert_non_null(fx->m);
    fx->s = lw_miner_scratch_create(fx->m);
    assert_non_null(fx->s);
}

static void fx_fini(struct fixture *fx)
{
    lw_miner_scratch_destroy(fx->s);
    lw_miner_destroy(fx->m);
    fx->s = NULL;
    fx->m = NULL;
}

/*
 * The fixture of the running test. A failed assertion leaves the test early; the teardown then
 * frees what the test had not, so that LeakSanitizer only reports real leaks.
 */
static struct fixture fx;

static int teardown(void **state)
{
    (void)state;
    fx_fini(&fx);
    return 0;
}

static uint32_t add_ts(struct fixture *f, const char *msg, int64_t ts, struct lw_match *out)
{
    struct lw_match tmp;

    if (out == NULL) {
        out = &tmp;
    }
    assert_int_equal(lw_miner_add(f->m, f->s, msg, strlen(msg), ts, out), LW_OK);
    assert_true(out->template_id >= 1);
    return out->template_id;
}

static uint32_t add(struct fixture *f, const char *msg)
{
    return add_ts(f, msg, LW_TS_UNKNOWN, NULL);
}

/* The id of canonical text @text on every instance (no collision in these tests). */
static uint32_t tid(const char *text)
{
    return lw_template_id(text, strlen(text));
}

static void expect_text(struct lw_miner *m, uint32_t id, const char *want)
{
    char buf[1024];
    long n = lw_miner_template(m, id, buf, sizeof(buf));

    assert_true(n >= 0);
    if (strcmp(buf, want) != 0) {
        print_error("template %u: got '%s', want '%s'\n", id, buf, want);
    }
    assert_string_equal(buf, want);
    assert_int_equal((size_t)n, strlen(want));
}

/* Checks that parameter @i of @mt is the substring @want of @msg. */
static void expect_param(const char *msg, const struct lw_match *mt, size_t i, const char *want)
{
    assert_true(i < mt->n_params);
    assert_true((size_t)mt->params[i].off + mt->params[i].len <= strlen(msg));
    if (mt->params[i].len != strlen(want) ||
        memcmp(msg + mt->params[i].off, want, mt->params[i].len) != 0) {
        print_error("param %zu: got '%.*s', want '%s'\n", i, (int)mt->params[i].len,
                    msg + mt->params[i].off, want);
        fail();
    }
}

static void test_grouping(void **state)
{
    uint32_t a;
    uint32_t b;
    uint32_t c;

    (void)state;
    fx_init(&fx, 0, 0);
    a = add(&fx, "Failed password for root from 10.0.0.1 port 22 ssh2");
    /* Lines that differ only in masked variables. */
    assert_int_equal(add(&fx, "Failed password for root from 10.0.0.2 port 2222 ssh2"), a);
    assert_int_equal(add(&fx, "Failed password for root from 192.168.1.9 port 1 ssh2"), a);
    b = add(&fx, "Accepted password for root from 10.0.0.1 port 22 ssh2");
    assert_int_not_equal(a, b);
    c = add(&fx, "Connection closed by 10.0.0.3");
    assert_int_not_equal(c, a);
    assert_int_not_equal(c, b);
    assert_int_equal(add(&fx, "Connection closed by 10.9.9.9"), c);
    /* Same words, different token count: never the same template. */
    assert_int_not_equal(add(&fx, "Connection closed by 10.9.9.9 [preauth]"), c);
    assert_int_equal(lw_miner_n_templates(fx.m), 4);
    fx_fini(&fx);
}

static void test_generalise(void **state)
{
    struct lw_match mt;
    uint32_t id;
    uint32_t first;

    (void)state;
    fx_init(&fx, 0, 0);
    id = add_ts(&fx, "job abc1 failed from 10.0.0.1 port 22", 0, &mt);
    assert_int_equal(mt.is_new, 1);
    expect_text(fx.m, id, "job abc1 failed from <*> port <*>");
    assert_int_equal(id, tid("job abc1 failed from <*> port <*>"));
    add_ts(&fx, "job xyz2 failed from 10.0.0.2 port 2222", 0, &mt);
    /* A new text is a new id; the old one resolves to it. */
    assert_int_equal(mt.template_id, tid("job <*> failed from <*> port <*>"));
    assert_int_equal(lw_miner_resolve(fx.m, id), mt.template_id);
    assert_int_equal(mt.is_new, 0);
    expect_text(fx.m, id, "job <*> failed from <*> port <*>");
    id = mt.template_id;

    /* Partly variable tokens keep their constant prefix. */
    /*
     * Partly variable tokens keep their constant prefix. A single differing word may make a
     * sibling template first, so give the position four values and look at the result: the
     * first line's id (live or an alias) shows the generalised text.
     */
    first = add(&fx, "authentication failure; logname= uid=0 tty=ssh rhost=a user=x");
    add(&fx, "authentication failure; logname= uid=0 tty=ssh rhost=b user=x");
    add(&fx, "authentication failure; logname= uid=0 tty=ssh rhost=c user=x");
    id = add(&fx, "authentication failure; logname= uid=0 tty=ssh rhost=d user=x");
    expect_text(fx.m, id, "authentication failure; logname= uid=<*> tty=ssh rhost=<*> user=x");
    expect_text(fx.m, first, "authentication failure; logname= uid=<*> tty=ssh rhost=<*> user=x");
    fx_fini(&fx);
}

static void test_params(void **state)
{
    static const char l1[] = "job abc1 failed from 10.0.0.1 port 22";
    static const char l2[] = "job xyz2 failed from 10.0.0.2 port 2222";
    static const char l3[] = "session opened rhost=a user=x";
    static const char l4[] = "session opened rhost=b user=x";
    static const char l5[] = "session opened rhost=c user=x";
    static const char l6[] = "session opened rhost=d user=x";
    struct lw_match mt;

    (void)state;
    fx_init(&fx, 0, 0);
    /* Off by default. */
    add_ts(&fx, l1, 0, &mt);
    assert_int_equal(mt.n_params, 0);
    lw_miner_scratch_params(fx.s, 1);
    add_ts(&fx, l1, 0, &mt);
    assert_int_equal(mt.n_params, 2);
    expect_param(l1, &mt, 0, "10.0.0.1");
    expect_param(l1, &mt, 1, "22");
    add_ts(&fx, l2, 0, &mt);
    assert_int_equal(mt.n_params, 3);
    expect_param(l2, &mt, 0, "xyz2");
    expect_param(l2, &mt, 1, "10.0.0.2");
    expect_param(l2, &mt, 2, "2222");
    /* The first line again, now with the generalised template. */
    add_ts(&fx, l1, 0, &mt);
    assert_int_equal(mt.n_params, 3);
    expect_param(l1, &mt, 0, "abc1");

    /* Enough values for the position to become a variable (see test_generalise). */
    add_ts(&fx, l3, 0, &mt);
    assert_int_equal(mt.n_params, 0);
    add_ts(&fx, l4, 0, &mt);
    add_ts(&fx, l5, 0, &mt);
    add_ts(&fx, l6, 0, &mt);
    assert_int_equal(mt.n_params, 1);
    expect_param(l6, &mt, 0, "d");
    add_ts(&fx, l3, 0, &mt);
    assert_int_equal(mt.n_params, 1);
    expect_param(l3, &mt, 0, "a");

    lw_miner_scratch_params(fx.s, 0);
    add_ts(&fx, l3, 0, &mt);
    assert_int_equal(mt.n_params, 0);
    fx_fini(&fx);
}

static int check_canon_cb(void *opaque, const struct lw_template_info *t)
{
    char buf[1024];
    size_t n = lw_canon(t->text, strlen(t->text), buf, sizeof(buf));

    (void)opaque;
    if (strcmp(buf, t->text) != 0) {
        print_error("template %u '%s' is not canonical ('%s')\n", t->id, t->text, buf);
    }
    assert_int_equal(n, strlen(t->text));
    assert_string_equal(buf, t->text);
    return 0;
}

static void test_canonical(void **state)
{
    uint32_t id;

    (void)state;
    fx_init(&fx, 0, 0);
    /* "1.2" and "3" are two spans joined by ".": one variable after lw_canon. */
    id = add(&fx, "loaded version 1.2.3 ok");
    expect_text(fx.m, id, "loaded version <*> ok");
    id = add(&fx, "white   space\tcollapsed  7");
    expect_text(fx.m, id, "white space collapsed <*>");
    id = add(&fx, "flag is true for user 5");
    expect_text(fx.m, id, "flag is <*> for user <*>");
    add(&fx, "Deleting block blk_-123 file /mnt/data/current/blk_-123");
    add(&fx, "Receiving block blk_1 src: /10.0.0.1:50010 dest: /10.0.0.2:50010");
    add(&fx, "Receiving block blk_2 src: /10.0.0.3:50010 dest: /10.0.0.4:50010");
    assert_int_equal(lw_miner_foreach(fx.m, check_canon_cb, NULL), 0);
    fx_fini(&fx);
}

static void test_stable_ids(void **state)
{
    uint32_t a;
    uint32_t b;
    uint32_t c;
    int i;

    (void)state;
    fx_init(&fx, 0, 0);
    a = add(&fx, "alpha started in 5 ms");
    b = add(&fx, "beta stopped after 7 tries");
    c = add(&fx, "gamma queue full");
    assert_int_equal(a, tid("alpha started in <*> ms"));
    assert_int_equal(b, tid("beta stopped after <*> tries"));
    assert_int_equal(c, tid("gamma queue full"));
    for (i = 0; i < 100; i++) {
        char line[64];

        snprintf(line, sizeof(line), "alpha started in %d ms", i);
        assert_int_equal(add(&fx, line), a);
        snprintf(line, sizeof(line), "beta stopped after %d tries", i * 3);
        assert_int_equal(add(&fx, line), b);
        assert_int_equal(add(&fx, "gamma queue full"), c);
    }
    assert_int_equal(lw_miner_template(fx.m, tid("delta"), NULL, 0), LW_ENOENT);
    assert_int_equal(lw_miner_template(fx.m, 0, NULL, 0), LW_ENOENT);
    fx_fini(&fx);
}

/* A message whose leading word is unique to @i, so that no two of them merge. */
static void distinct_line(char *buf, size_t cap, int i)
{
    snprintf(buf, cap, "op%c%c%c happened code %d", 'a' + i % 26, 'a' + (i / 26) % 26,
             'a' + (i / 676) % 26, i);
}

static void test_eviction(void **state)
{
    char line[64];
    char buf[128];
    uint32_t ids[40];
    int i;
    int live = 0;

    (void)state;
    fx_init(&fx, 4, 0);
    for (i = 0; i < 40; i++) {
        struct lw_match mt;

        distinct_line(line, sizeof(line), i);
        ids[i] = add_ts(&fx, line, i, &mt);
        assert_int_equal(mt.is_new, 1);
        /* The id is the text's, whatever was evicted before. */
        {
            char want[64];

            snprintf(want, sizeof(want), "op%c%c%c happened code <*>", 'a' + i % 26,
                     'a' + (i / 26) % 26, 'a' + (i / 676) % 26);
            assert_int_equal(ids[i], tid(want));
        }
        assert_true(lw_miner_n_templates(fx.m) <= 4);
    }
    assert_int_equal(lw_miner_n_templates(fx.m), 4);
    assert_int_equal(lw_miner_n_evicted(fx.m), 36);
    for (i = 0; i < 40; i++) {
        long n = lw_miner_template(fx.m, ids[i], buf, sizeof(buf));

        if (n >= 0) {
            live++;
        }
        else {
            assert_int_equal(n, LW_ENOENT);
        }
    }
    assert_int_equal(live, 4);
    /* The most recent template survives. */
    assert_true(lw_miner_template(fx.m, ids[39], buf, sizeof(buf)) > 0);
    lw_miner_scratch_flush(fx.s);
    fx_fini(&fx);
}

/*
 * A template evicted while this thread's shape cache still maps a shape to it: adding that
 * shape again must give a live template (a new id), not the evicted id. lw_miner_add() takes
 * the new epoch after the slow path without clearing its cache, so the stale entry survives.
 */
static void test_bug_evicted_id_from_thread_cache(void **state)
{
    char line[64];
    char buf[128];
    int i;
    int round;

    (void)state;
    fx_init(&fx, 2, 0);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < 6; i++) {
            struct lw_match mt;
            long n;

            distinct_line(line, sizeof(line), i);
            add_ts(&fx, line, 0, &mt);
            n = lw_miner_template(fx.m, mt.template_id, buf, sizeof(buf));
            if (n < 0) {
                print_error("round %d line '%s': got evicted id %u (is_new %d)\n", round, line,
                            mt.template_id, mt.is_new);
            }
            assert_true(n >= 0);
        }
    }
    fx_fini(&fx);
}

static void test_max_tokens(void **state)
{
    static const char l1[] = "a b c q1 w";
    static const char l2[] = "a b c z2 y";
    struct lw_match mt;
    char *big;
    size_t i;
    uint32_t id;

    (void)state;
    fx_init(&fx, 0, 4);
    lw_miner_scratch_params(fx.s, 1);
    id = add_ts(&fx, l1, 0, &mt);
    expect_text(fx.m, id, "a b c q1 w");
    id = add_ts(&fx, l2, 0, &mt);
    assert_int_equal(id, tid("a b c <*>"));
    /* The rest of the message is one token, hence one variable. */
    expect_text(fx.m, id, "a b c <*>");
    assert_int_equal(mt.n_params, 1);
    expect_param(l2, &mt, 0, "z2 y");
    /* More tokens than max_tokens with the same first three: same template. */
    assert_int_equal(add(&fx, "a b c 1 2 3 4 5 6 7 8 9"), id);
    expect_text(fx.m, id, "a b c <*>");
    fx_fini(&fx);

    /* The default cap with a message of 5000 tokens. */
    fx_init(&fx, 0, 0);
    big = malloc(10001);
    assert_non_null(big);
    for (i = 0; i < 5000; i++) {
        big[2 * i] = (char)('a' + i % 26);
        big[2 * i + 1] = ' ';
    }
    big[10000] = '\0';
    lw_miner_scratch_params(fx.s, 1);
    add_ts(&fx, big, 0, &mt);
    assert_true(mt.n_params <= LW_MINER_MAX_PARAMS);
    big[0] = 'Z';
    add(&fx, big);
    free(big);
    fx_fini(&fx);
}

/* ---- concurrency ---- */

#define N_THREADS 4
#define N_LINES 20000
#define N_SHAPES 8

static const char *const shapes[N_SHAPES] = {
    "Receiving block blk_%d src: /10.0.0.%d:50010",
    "PacketResponder %d for block blk_%d terminating",
    "Verification succeeded for blk_%d in %d ms",
    "Deleting block blk_%d file /mnt/hadoop/dfs/data/current/subdir%d/blk",
    "session opened for user u%d by (uid=%d)",
    "Connection closed by 10.1.%d.%d [preauth]",
    "jk2_init() Found child %d in scoreboard slot %d",
    "workerEnv.init() ok /etc/httpd/conf/workers%d.%d.properties",
};

struct worker {
    struct lw_miner *m;
    int n_new;
    int failed;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct lw_miner_scratch *s = lw_miner_scratch_create(w->m);
    char line[256];
    int i;

    if (s == NULL) {
        w->failed = 1;
        return NULL;
    }
    for (i = 0; i < N_LINES; i++) {
        struct lw_match mt;

        /* The format strings are the constant table above. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(line, sizeof(line), shapes[i % N_SHAPES], i * 7 % 1000, i % 250);
#pragma GCC diagnostic pop
        if (lw_miner_add(w->m, s, line, strlen(line), (int64_t)i, &mt) != LW_OK) {
            w->failed = 1;
        }
        w->n_new += mt.is_new;
    }
    lw_miner_scratch_destroy(s);
    return NULL;
}

struct sum {
    uint64_t total;
    size_t n;
    uint32_t last_id;
    int ordered;
    uint64_t counts[64];
};

static int sum_cb(void *opaque, const struct lw_template_info *t)
{
    struct sum *s = opaque;

    if (t->born <= s->last_id) {
        s->ordered = 0;
    }
    s->last_id = (uint32_t)t->born;
    s->total += t->count;
    if (s->n < 64) {
        s->counts[s->n] = t->count;
    }
    s->n++;
    return 0;
}

static void test_concurrent(void **state)
{
    struct lw_miner *m;
    pthread_t th[N_THREADS];
    struct worker w[N_THREADS];
    struct sum sum;
    int n_new = 0;
    size_t i;

    (void)state;
    m = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m);
    for (i = 0; i < N_THREADS; i++) {
        w[i].m = m;
        w[i].n_new = 0;
        w[i].failed = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (i = 0; i < N_THREADS; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(w[i].failed, 0);
        n_new += w[i].n_new;
    }
    memset(&sum, 0, sizeof(sum));
    sum.ordered = 1;
    assert_int_equal(lw_miner_foreach(m, sum_cb, &sum), 0);
    assert_int_equal(sum.total, (uint64_t)N_THREADS * N_LINES);
    assert_int_equal(sum.n, N_SHAPES);
    assert_int_equal(lw_miner_n_templates(m), N_SHAPES);
    assert_int_equal(n_new, N_SHAPES);
    assert_true(sum.ordered);
    for (i = 0; i < N_SHAPES; i++) {
        assert_int_equal(sum.counts[i], (uint64_t)N_THREADS * N_LINES / N_SHAPES);
    }
    lw_miner_destroy(m);
}

/* ---- foreach and timestamps ---- */

static int stop_at_two(void *opaque, const struct lw_template_info *t)
{
    int *calls = opaque;

    (*calls)++;
    return t->born == 2 ? 42 : 0;
}

static int collect_cb(void *opaque, const struct lw_template_info *t)
{
    struct lw_template_info *v = opaque;

    /* By creation number: ids are hashes of the text. */
    v[t->born] = *t;
    v[t->born].text = NULL;
    return 0;
}

static void test_foreach_and_seen(void **state)
{
    struct lw_template_info v[8];
    struct sum sum;
    int calls = 0;

    (void)state;
    fx_init(&fx, 0, 0);
    add_ts(&fx, "alpha up 1", 300, NULL);
    add_ts(&fx, "alpha up 2", 100, NULL);
    add_ts(&fx, "alpha up 3", LW_TS_UNKNOWN, NULL);
    add_ts(&fx, "alpha up 4", 200, NULL);
    add_ts(&fx, "beta down", LW_TS_UNKNOWN, NULL);
    add_ts(&fx, "gamma left", -5, NULL);
    add_ts(&fx, "beta down", LW_TS_UNKNOWN, NULL);
    lw_miner_scratch_flush(fx.s);

    memset(v, 0, sizeof(v));
    assert_int_equal(lw_miner_foreach(fx.m, collect_cb, v), 0);
    assert_int_equal(v[1].count, 4);
    assert_int_equal(v[1].first_seen_ns, 100);
    assert_int_equal(v[1].last_seen_ns, 300);
    assert_int_equal(v[2].count, 2);
    assert_true(v[2].first_seen_ns == LW_TS_UNKNOWN);
    assert_true(v[2].last_seen_ns == LW_TS_UNKNOWN);
    assert_int_equal(v[3].count, 1);
    assert_int_equal(v[3].first_seen_ns, -5);
    assert_int_equal(v[3].last_seen_ns, -5);

    /* Later lines widen the range; the flush merges the thread's view. */
    add_ts(&fx, "alpha up 5", 50, NULL);
    add_ts(&fx, "alpha up 6", 400, NULL);
    add_ts(&fx, "beta down", 7, NULL);
    lw_miner_scratch_flush(fx.s);
    memset(v, 0, sizeof(v));
    assert_int_equal(lw_miner_foreach(fx.m, collect_cb, v), 0);
    assert_int_equal(v[1].count, 6);
    assert_int_equal(v[1].first_seen_ns, 50);
    assert_int_equal(v[1].last_seen_ns, 400);
    assert_int_equal(v[2].first_seen_ns, 7);
    assert_int_equal(v[2].last_seen_ns, 7);

    /* Id order, and a non-zero return stops the walk and is returned. */
    memset(&sum, 0, sizeof(sum));
    sum.ordered = 1;
    assert_int_equal(lw_miner_foreach(fx.m, sum_cb, &sum), 0);
    assert_true(sum.ordered);
    assert_int_equal(sum.n, 3);
    assert_int_equal(sum.total, 10);
    assert_int_equal(lw_miner_foreach(fx.m, stop_at_two, &calls), 42);
    assert_int_equal(calls, 2);
    fx_fini(&fx);
}

/* ---- one id per template text ---- */

#define MAX_TEXTS 64

struct texts {
    size_t n;
    uint32_t id[MAX_TEXTS];
    char text[MAX_TEXTS][256];
};

static int texts_cb(void *opaque, const struct lw_template_info *t)
{
    struct texts *x = opaque;

    assert_true(x->n < MAX_TEXTS);
    x->id[x->n] = t->id;
    snprintf(x->text[x->n], sizeof(x->text[x->n]), "%s", t->text);
    x->n++;
    return 0;
}

/* No two live templates of @m print the same text. */
static void expect_unique_texts(struct lw_miner *m)
{
    struct texts x;
    size_t i;
    size_t j;

    memset(&x, 0, sizeof(x));
    assert_int_equal(lw_miner_foreach(m, texts_cb, &x), 0);
    for (i = 0; i < x.n; i++) {
        for (j = i + 1; j < x.n; j++) {
            if (strcmp(x.text[i], x.text[j]) == 0) {
                print_error("templates %u and %u both print '%s'\n", x.id[i], x.id[j],
                            x.text[i]);
                fail();
            }
        }
    }
}

/*
 * A line whose template would print the text of a known template must land in that one, not
 * make a new id with the same text (a false "new template" alert and a split count). "root" and
 * "admin" are words, but variables to lw_canon: "Failed password for <*> ..." as printed covers
 * any user, and "mode true false null root" prints as "mode <*> <*> <*> <*>" like a line that
 * shares nothing with it but the first word (too little for the similarity threshold).
 */
static void test_same_text_on_create(void **state)
{
    static const char l2[] = "Failed password for admin from 10.0.0.2 port 2222 ssh2";
    static const char l3[] = "Failed password for oracle from 10.0.0.3 port 22 ssh2";
    struct lw_match mt;
    uint32_t a;
    uint32_t b;

    (void)state;
    fx_init(&fx, 0, 0);
    a = add_ts(&fx, "Failed password for root from 10.0.0.1 port 22 ssh2", 0, &mt);
    assert_int_equal(mt.is_new, 1);
    expect_text(fx.m, a, "Failed password for <*> from <*> port <*> ssh2");
    lw_miner_scratch_params(fx.s, 1);
    add_ts(&fx, l2, 0, &mt);
    assert_int_equal(mt.template_id, a);
    assert_int_equal(mt.is_new, 0);
    /* The template took the position as a variable: the user is a parameter now. */
    assert_int_equal(mt.n_params, 3);
    expect_param(l2, &mt, 0, "admin");
    /* And other users match it at once. */
    add_ts(&fx, l3, 0, &mt);
    assert_int_equal(mt.template_id, a);
    assert_int_equal(mt.is_new, 0);
    expect_param(l3, &mt, 0, "oracle");
    assert_int_equal(lw_miner_n_templates(fx.m), 1);
    expect_text(fx.m, a, "Failed password for <*> from <*> port <*> ssh2");

    b = add_ts(&fx, "mode true false null root", 0, &mt);
    assert_int_equal(mt.is_new, 1);
    expect_text(fx.m, b, "mode <*> <*> <*> <*>");
    add_ts(&fx, "mode admin null true false", 0, &mt);
    assert_int_equal(mt.template_id, b);
    assert_int_equal(mt.is_new, 0);
    assert_int_equal(mt.n_params, 4);
    expect_text(fx.m, b, "mode <*> <*> <*> <*>");
    assert_int_equal(lw_miner_n_templates(fx.m), 2);
    expect_unique_texts(fx.m);
    fx_fini(&fx);
}

/*
 * Two templates with different texts; a line generalises the older one to the younger one's
 * text. The older is merged into the younger, which holds that text's id, and its id becomes an
 * alias of it.
 */
static void test_same_text_on_generalise(void **state)
{
    struct lw_template_info v[8];
    struct lw_match mt;
    uint32_t a;
    uint32_t b;

    (void)state;
    fx_init(&fx, 0, 0);
    a = add_ts(&fx, "job x1 state root", 0, &mt);
    assert_int_equal(mt.is_new, 1);
    expect_text(fx.m, a, "job x1 state <*>");
    /* Too far from the first ("x1" and "admin" differ) for the similarity threshold. */
    b = add_ts(&fx, "job 17 state admin", 0, &mt);
    assert_int_equal(mt.is_new, 1);
    assert_int_not_equal(a, b);
    assert_int_equal(b, tid("job <*> state <*>"));
    expect_text(fx.m, b, "job <*> state <*>");
    /* "x1" becomes a variable: the first template now prints what the second does. */
    add_ts(&fx, "job y2 state root", 0, &mt);
    assert_int_equal(mt.template_id, b);
    assert_int_equal(mt.is_new, 0);
    assert_int_equal(lw_miner_n_templates(fx.m), 1);
    assert_int_equal(lw_miner_resolve(fx.m, a), b);
    expect_text(fx.m, a, "job <*> state <*>");
    expect_text(fx.m, b, "job <*> state <*>");
    /* The first template's shape is still in the thread's cache: it gives the live id. */
    add_ts(&fx, "job x1 state root", 0, &mt);
    assert_int_equal(mt.template_id, b);
    assert_int_equal(mt.is_new, 0);
    lw_miner_scratch_flush(fx.s);
    memset(v, 0, sizeof(v));
    assert_int_equal(lw_miner_foreach(fx.m, collect_cb, v), 0);
    assert_int_equal(v[2].count, 4);
    expect_unique_texts(fx.m);
    fx_fini(&fx);
}

/*
 * A template made from a "root" line prints "Failed password for <*> ...". A "user" line matches
 * that text; it must not wait in a sibling template of its own ("Failed password for user ...",
 * announced as new and merged a few lines later) just because "root" was a word.
 */
static void test_printed_variable_is_no_sibling_word(void **state)
{
    struct lw_match mt;
    uint32_t a;

    (void)state;
    fx_init(&fx, 0, 0);
    a = add_ts(&fx, "Failed password for root from 10.0.0.1 port 22 ssh2", 0, &mt);
    assert_int_equal(mt.is_new, 1);
    add_ts(&fx, "Failed password for user from 10.0.0.2 port 22 ssh2", 0, &mt);
    assert_int_equal(mt.template_id, a);
    assert_int_equal(mt.is_new, 0);
    expect_text(fx.m, a, "Failed password for <*> from <*> port <*> ssh2");
    /* A word that prints as a word still makes a sibling ("cupsd startup" / "cupsd shutdown"). */
    a = add_ts(&fx, "cupsd startup succeeded", 0, &mt);
    add_ts(&fx, "cupsd shutdown succeeded", 0, &mt);
    assert_int_not_equal(mt.template_id, a);
    assert_int_equal(mt.is_new, 1);
    assert_int_equal(lw_miner_n_templates(fx.m), 3);
    fx_fini(&fx);
}

static void test_empty_and_blank(void **state)
{
    struct lw_match mt;
    char buf[16];

    (void)state;
    fx_init(&fx, 0, 0);
    assert_int_equal(lw_miner_add(fx.m, fx.s, "", 0, 0, &mt), LW_OK);
    assert_true(mt.template_id >= 1);
    assert_int_equal(lw_miner_add(fx.m, fx.s, "   \t ", 5, 0, &mt), LW_OK);
    assert_true(lw_miner_template(fx.m, mt.template_id, buf, sizeof(buf)) >= 0);
    /* A small buffer truncates and still NUL-terminates. */
    add_ts(&fx, "a rather long template text", 0, &mt);
    assert_int_equal(lw_miner_template(fx.m, mt.template_id, buf, 5), 27);
    assert_string_equal(buf, "a ra");
    fx_fini(&fx);
}

/* ---- accuracy smoke test ---- */

static void test_hdfs_smoke(void **state)
{
    const char *dir = getenv("LW_SHARED_DATA");
    char path[4096];
    char err[256];
    char line[8192];
    struct lw_header *h;
    struct lw_header_state *hs;
    FILE *f;
    size_t n_lines = 0;
    size_t n_tpl;

    (void)state;
    if (dir == NULL) {
        print_message("LW_SHARED_DATA is not set: skipping the HDFS smoke test\n");
        skip();
    }
    snprintf(path, sizeof(path), "%s/loghub-2k/HDFS/HDFS_2k.log", dir);
    f = fopen(path, "r");
    if (f == NULL) {
        print_message("%s is absent: skipping the HDFS smoke test\n", path);
        skip();
    }
    h = lw_header_create("<Date> <Time> <Pid> <Level> <Component>: <Content>", err, sizeof(err));
    assert_non_null(h);
    hs = lw_header_state_create(h);
    assert_non_null(hs);
    fx_init(&fx, 0, 0);
    while (fgets(line, sizeof(line), f) != NULL) {
        struct lw_header_result r;
        struct lw_match mt;
        size_t len = strcspn(line, "\r\n");

        assert_int_equal(lw_header_parse(h, hs, line, len, &r), LW_OK);
        assert_int_equal(r.matched, 1);
        assert_int_equal(lw_miner_add(fx.m, fx.s, r.msg.p, r.msg.len, r.ts_ns, &mt), LW_OK);
        n_lines++;
    }
    fclose(f);
    n_tpl = lw_miner_n_templates(fx.m);
    print_message("HDFS: %zu lines, %zu templates\n", n_lines, n_tpl);
    assert_int_equal(n_lines, 2000);
    assert_in_range(n_tpl, 10, 25);
    fx_fini(&fx);
    lw_header_state_destroy(hs);
    lw_header_destroy(h);
}

/* The aliases the store is told: each old id with the live id, again when that one changes. */
static void test_drain_aliases(void **state)
{
    struct lw_miner_conf conf;
    struct lw_alias *v = NULL;
    size_t n = 0;
    uint32_t a;
    uint32_t b;
    uint32_t c;
    size_t i;
    int seen_a = 0;
    int seen_b = 0;

    (void)state;
    memset(&conf, 0, sizeof(conf));
    conf.sibling_merge = 1; /* generalise at once */
    fx.m = lw_miner_create(&conf, NULL, 0);
    assert_non_null(fx.m);
    fx.s = lw_miner_scratch_create(fx.m);
    assert_non_null(fx.s);
    a = add(&fx, "job abc1 failed from 10.0.0.1 port 22");
    assert_int_equal(lw_miner_drain_aliases(fx.m, &v, &n), LW_OK);
    assert_int_equal(n, 0);
    lw_free(v);
    b = add(&fx, "job xyz2 failed from 10.0.0.2 port 2222");
    assert_int_equal(b, tid("job <*> failed from <*> port <*>"));
    assert_int_equal(lw_miner_drain_aliases(fx.m, &v, &n), LW_OK);
    assert_int_equal(n, 1);
    assert_int_equal(v[0].from, a);
    assert_int_equal(v[0].to, b);
    lw_free(v);
    assert_int_equal(lw_miner_drain_aliases(fx.m, &v, &n), LW_OK);
    assert_int_equal(n, 0); /* nothing changed since */
    lw_free(v);
    c = add(&fx, "job xyz5 stopped from 10.0.0.2 port 1");
    assert_int_equal(c, tid("job <*> <*> from <*> port <*>"));
    assert_int_equal(lw_miner_resolve(fx.m, a), c);
    assert_int_equal(lw_miner_drain_aliases(fx.m, &v, &n), LW_OK);
    assert_int_equal(n, 2);
    for (i = 0; i < n; i++) {
        assert_int_equal(v[i].to, c); /* one hop: the old alias follows to the live id */
        seen_a += v[i].from == a;
        seen_b += v[i].from == b;
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_b, 1);
    lw_free(v);
    lw_miner_alias_resync(fx.m);
    assert_int_equal(lw_miner_drain_aliases(fx.m, &v, &n), LW_OK);
    assert_int_equal(n, 2);
    lw_free(v);
    fx_fini(&fx);
}

/* ---- ids that agree across instances ---- */

#define AGREE_LINES 600

/* Line @i of a small log whose templates generalise as lines come (words become <*>). */
static void agree_line(char *buf, size_t cap, int i)
{
    static const char *const users[] = {"alice", "bob", "carol", "dave", "erin", "frank"};
    static const char *const states[] = {"ok", "degraded", "failed", "rebuilding", "offline"};
    static const char *const jobs[] = {"backup", "rotate", "compact", "scrub", "vacuum"};

    switch (i % 5) {
    case 0:
        snprintf(buf, cap, "user %s logged in from 10.0.%d.%d", users[(i / 10) % 6], i % 7, i % 11);
        break;
    case 1:
        snprintf(buf, cap, "disk sd%c is %s", 'a' + (i / 10) % 4, states[(i / 10) % 5]);
        break;
    case 2:
        snprintf(buf, cap, "job %s finished in %d ms", jobs[(i / 10) % 5], i * 3);
        break;
    case 3:
        snprintf(buf, cap, "connection reset by peer");
        break;
    default:
        snprintf(buf, cap, "session %d closed for user %s", i, users[(i / 10) % 6]);
        break;
    }
}

struct tpl_set {
    size_t n;
    uint32_t id[64];
    char text[64][128];
};

static int set_cb(void *opaque, const struct lw_template_info *t)
{
    struct tpl_set *v = opaque;

    assert_true(v->n < 64);
    v->id[v->n] = t->id;
    snprintf(v->text[v->n], sizeof(v->text[v->n]), "%s", t->text);
    v->n++;
    return 0;
}

/* The id of @text in @v, 0 when @v has no such text. */
static uint32_t set_find(const struct tpl_set *v, const char *text)
{
    size_t i;

    for (i = 0; i < v->n; i++) {
        if (strcmp(v->text[i], text) == 0) {
            return v->id[i];
        }
    }
    return 0;
}

/*
 * Four instances mine the same log: one in order, one in reverse, and two that split it (even
 * and odd lines, as two consumers of one topic would). Whatever texts they end with, a text has
 * the same id on each of them, the id of its text, and every id a line got resolves to the
 * template that line belongs to now. Saved and loaded, an instance keeps its ids.
 */
static void test_ids_agree_across_instances(void **state)
{
    struct fixture f[4];
    struct tpl_set sets[4];
    uint32_t got[4][AGREE_LINES];
    char line[128];
    char *buf = NULL;
    size_t len = 0;
    size_t k;
    size_t j;
    int i;

    (void)state;
    for (k = 0; k < 4; k++) {
        fx_init(&f[k], 0, 0);
    }
    for (i = 0; i < AGREE_LINES; i++) {
        int r = AGREE_LINES - 1 - i;

        agree_line(line, sizeof(line), i);
        got[0][i] = add(&f[0], line);
        got[i % 2 == 0 ? 2 : 3][i] = add(&f[i % 2 == 0 ? 2 : 3], line);
        agree_line(line, sizeof(line), r);
        got[1][r] = add(&f[1], line);
    }
    for (k = 0; k < 4; k++) {
        lw_miner_scratch_flush(f[k].s);
        memset(&sets[k], 0, sizeof(sets[k]));
        assert_int_equal(lw_miner_foreach(f[k].m, set_cb, &sets[k]), 0);
        for (j = 0; j < sets[k].n; j++) {
            assert_int_equal(sets[k].id[j], tid(sets[k].text[j]));
        }
    }
    /* In order and in reverse the miner ends with the same templates here, so the same ids. */
    assert_int_equal(sets[0].n, sets[1].n);
    for (j = 0; j < sets[0].n; j++) {
        assert_int_equal(set_find(&sets[1], sets[0].text[j]), sets[0].id[j]);
    }
    /* The split instances: every text one of them has is the whole log's, with its id. */
    for (k = 2; k < 4; k++) {
        for (j = 0; j < sets[k].n; j++) {
            uint32_t id = set_find(&sets[0], sets[k].text[j]);

            if (id == 0) {
                print_error("instance %zu has '%s', the whole log not\n", k, sets[k].text[j]);
            }
            assert_int_equal(id, sets[k].id[j]);
        }
    }
    /* The ids handed out while the templates generalised resolve to the final ones. */
    j = 0;
    for (i = 0; i < AGREE_LINES; i++) {
        j += lw_miner_resolve(f[0].m, got[0][i]) != got[0][i];
    }
    assert_true(j > 0); /* some templates did change their text, hence their id */
    for (i = 0; i < AGREE_LINES; i++) {
        uint32_t a = lw_miner_resolve(f[0].m, got[0][i]);
        uint32_t b = lw_miner_resolve(f[1].m, got[1][i]);
        int part = i % 2 == 0 ? 2 : 3;

        assert_int_not_equal(a, 0);
        assert_int_equal(a, b);
        assert_int_equal(lw_miner_resolve(f[part].m, got[part][i]), a);
    }

    /* Restart: the ids and the aliases survive; new lines get the ids they had before. */
    assert_int_equal(lw_miner_save_buf(f[2].m, &buf, &len), LW_OK);
    lw_miner_scratch_destroy(f[2].s);
    lw_miner_destroy(f[2].m);
    fx_init(&f[2], 0, 0);
    assert_int_equal(lw_miner_load_buf(f[2].m, buf, len, NULL, 0), LW_OK);
    lw_free(buf);
    {
        struct tpl_set after;

        memset(&after, 0, sizeof(after));
        assert_int_equal(lw_miner_foreach(f[2].m, set_cb, &after), 0);
        assert_int_equal(after.n, sets[2].n);
        for (j = 0; j < after.n; j++) {
            assert_int_equal(after.id[j], sets[2].id[j]);
            assert_string_equal(after.text[j], sets[2].text[j]);
        }
    }
    for (i = 0; i < AGREE_LINES; i += 2) {
        assert_int_equal(lw_miner_resolve(f[2].m, got[2][i]), lw_miner_resolve(f[0].m, got[0][i]));
        agree_line(line, sizeof(line), i);
        assert_int_equal(add(&f[2], line), lw_miner_resolve(f[0].m, got[0][i]));
    }
    for (k = 0; k < 4; k++) {
        fx_fini(&f[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_grouping, teardown),
        cmocka_unit_test_teardown(test_generalise, teardown),
        cmocka_unit_test_teardown(test_params, teardown),
        cmocka_unit_test_teardown(test_canonical, teardown),
        cmocka_unit_test_teardown(test_stable_ids, teardown),
        cmocka_unit_test_teardown(test_eviction, teardown),
        cmocka_unit_test_teardown(test_max_tokens, teardown),
        cmocka_unit_test_teardown(test_concurrent, teardown),
        cmocka_unit_test_teardown(test_foreach_and_seen, teardown),
        cmocka_unit_test_teardown(test_empty_and_blank, teardown),
        cmocka_unit_test_teardown(test_same_text_on_create, teardown),
        cmocka_unit_test_teardown(test_same_text_on_generalise, teardown),
        cmocka_unit_test_teardown(test_printed_variable_is_no_sibling_word, teardown),
        cmocka_unit_test_teardown(test_hdfs_smoke, teardown),
        cmocka_unit_test(test_ids_agree_across_instances),
        cmocka_unit_test_teardown(test_drain_aliases, teardown),
        cmocka_unit_test_teardown(test_bug_evicted_id_from_thread_cache, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
