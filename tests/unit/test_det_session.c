/*
 * Unit tests for the session detectors: the next-event model (seq_model.h), the count model
 * (count_model.h: invariants and PCA), and the detection stage driving det_sequence and
 * det_session_counts on small constructed streams — the anomaly is found, the normal stream
 * stays quiet — plus save/load round trips and corrupt model files, and the window and line
 * detectors' handling of templates the miner merged into a sibling. The last test runs the
 * HDFS sessions split (skipped when $LW_SHARED_DATA/hdfs-sessions is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "detect/count_model.h"
#include "detect/seq_model.h"
#include "lw/lw_analyze.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define NS 1000000000LL

/* A normal "block" session: allocate, 3 receives, 3 received, 3 stored (ids 1..4). */
static size_t normal_session(uint32_t *ev, unsigned variant)
{
    size_t n = 0, i;

    ev[n++] = 1;
    for (i = 0; i < 3; i++) {
        ev[n++] = 2;
    }
    for (i = 0; i < 3; i++) {
        ev[n++] = 3;
    }
    for (i = 0; i < 3; i++) {
        ev[n++] = 4;
    }
    if (variant % 5 == 0) {
        /* Some blocks are deleted afterwards. */
        ev[n++] = 5;
        ev[n++] = 5;
        ev[n++] = 5;
    }
    if (variant % 7 == 3) {
        /* Concurrent writers: a receive logged after the first received. */
        uint32_t t = ev[3];

        ev[3] = ev[4];
        ev[4] = t;
    }
    return n;
}

static void test_seq_model_normal_and_anomalies(void **state)
{
    struct lw_seq_model *m = lw_seq_model_create(3, 16, 10000);
    uint32_t ev[32];
    struct lw_seq_verdict v;
    size_t n, i;
    unsigned k;

    (void)state;
    assert_non_null(m);
    for (k = 0; k < 3000; k++) {
        n = normal_session(ev, k);
        assert_int_equal(lw_seq_model_learn(m, ev, n, true), LW_OK);
    }
    assert_int_equal(lw_seq_model_sessions(m), 3000);
    /* Every event of every normal variant is expected, and so are their ends. */
    for (k = 0; k < 35; k++) {
        n = normal_session(ev, k);
        for (i = 0; i <= n; i++) {
            assert_true(lw_seq_model_check(m, ev, n, i, &v));
        }
    }
    /* An unknown event in the middle. */
    n = normal_session(ev, 1);
    ev[6] = 9;
    assert_false(lw_seq_model_check(m, ev, n, 6, &v));
    assert_true(v.score >= 0.999);
    assert_true(v.n_cand >= 1);
    assert_int_equal(v.cand[0], 3); /* "received" was expected */
    /* A session cut short: it ends where no normal session ended. */
    n = normal_session(ev, 1);
    assert_false(lw_seq_model_check(m, ev, 5, 5, &v));
    assert_true(v.score >= 0.999);
    /* Stored before received: a reordering that is not a swap of neighbours. */
    n = normal_session(ev, 1);
    ev[4] = 4;
    ev[10] = 3;
    assert_false(lw_seq_model_check(m, ev, n, 4, &v));
    lw_seq_model_destroy(m);
}

static void test_seq_model_save_load(void **state)
{
    struct lw_seq_model *m = lw_seq_model_create(3, 16, 10000);
    struct lw_seq_model *m2 = lw_seq_model_create(3, 16, 10000);
    struct lw_wbuf b = {0};
    struct lw_seq_verdict v1, v2;
    uint32_t ev[32];
    size_t n, i;
    unsigned k;

    (void)state;
    for (k = 0; k < 500; k++) {
        n = normal_session(ev, k);
        assert_int_equal(lw_seq_model_learn(m, ev, n, true), LW_OK);
    }
    assert_int_equal(lw_seq_model_save(m, &b), LW_OK);
    assert_int_equal(lw_seq_model_load(m2, b.p, b.len), LW_OK);
    assert_int_equal(lw_seq_model_sessions(m2), 500);
    assert_int_equal(lw_seq_model_contexts(m2), lw_seq_model_contexts(m));
    n = normal_session(ev, 2);
    ev[5] = 7;
    for (i = 0; i <= n; i++) {
        bool a = lw_seq_model_check(m, ev, n, i, &v1);
        bool c = lw_seq_model_check(m2, ev, n, i, &v2);

        assert_int_equal(a, c);
        assert_true(v1.score == v2.score);
    }
    /* Truncated and flipped bytes are refused and leave the model as it was. */
    for (i = 0; i < b.len; i += 7) {
        unsigned char *copy = lw_malloc(b.len);

        memcpy(copy, b.p, b.len);
        copy[i] ^= 0x5a;
        (void)lw_seq_model_load(m2, copy, b.len); /* may be accepted when only a count moved */
        lw_free(copy);
        assert_int_not_equal(lw_seq_model_load(m2, b.p, i), LW_OK);
    }
    assert_int_equal(lw_seq_model_load(m2, b.p, b.len), LW_OK);
    lw_wbuf_free(&b);
    lw_seq_model_destroy(m);
    lw_seq_model_destroy(m2);
}

static void test_seq_model_cap_evicts(void **state)
{
    struct lw_seq_model *m = lw_seq_model_create(3, 16, 1024);
    uint32_t ev[8];
    unsigned k;

    (void)state;
    /* Every session new: contexts grow past the cap and the rarest are evicted. */
    for (k = 0; k < 5000; k++) {
        ev[0] = k;
        ev[1] = k + 1;
        ev[2] = k * 7 + 3;
        assert_int_equal(lw_seq_model_learn(m, ev, 3, true), LW_OK);
    }
    assert_true(lw_seq_model_contexts(m) <= 1024);
    assert_true(lw_seq_model_evicted(m) > 0);
    lw_seq_model_destroy(m);
}

static void test_count_model_invariants(void **state)
{
    struct lw_count_model *m = lw_count_model_create(5000, 0.998);
    struct lw_count_verdict v;
    uint32_t ev[32];
    size_t n;
    unsigned k;

    (void)state;
    for (k = 0; k < 2000; k++) {
        n = normal_session(ev, k);
        assert_int_equal(lw_count_model_add(m, ev, n), LW_OK);
    }
    assert_int_equal(lw_count_model_fit(m), LW_OK);
    assert_true(lw_count_model_fitted(m));
    assert_true(lw_count_model_n_invariants(m) > 0);
    /* Normal sessions break nothing. */
    for (k = 0; k < 40; k++) {
        n = normal_session(ev, k);
        lw_count_model_score(m, ev, n, false, &v);
        assert_false(v.anomalous);
    }
    /* A block received twice but stored three times breaks c(received) = c(stored). */
    n = normal_session(ev, 1);
    ev[5] = 1000; /* drop one "received"... */
    n = 0;
    ev[n++] = 1;
    ev[n++] = 2;
    ev[n++] = 2;
    ev[n++] = 2;
    ev[n++] = 3;
    ev[n++] = 3;
    ev[n++] = 4;
    ev[n++] = 4;
    ev[n++] = 4;
    lw_count_model_score(m, ev, n, false, &v);
    assert_true(v.anomalous);
    assert_true(v.n_broken > 0);
    assert_int_equal(v.unseen_tid, 0);
    assert_true(v.score >= 0.999);
    /* A template no normal session had. */
    n = normal_session(ev, 1);
    ev[n++] = 77;
    lw_count_model_score(m, ev, n, false, &v);
    assert_true(v.anomalous);
    assert_int_equal(v.unseen_tid, 77);
    lw_count_model_destroy(m);
}

static void test_count_model_save_load(void **state)
{
    struct lw_count_model *m = lw_count_model_create(5000, 0.998);
    struct lw_count_model *m2 = lw_count_model_create(5000, 0.998);
    struct lw_wbuf b = {0};
    struct lw_count_verdict v1, v2;
    uint32_t ev[32];
    size_t n, i;
    unsigned k;

    (void)state;
    for (k = 0; k < 1000; k++) {
        n = normal_session(ev, k);
        assert_int_equal(lw_count_model_add(m, ev, n), LW_OK);
    }
    assert_int_equal(lw_count_model_fit(m), LW_OK);
    assert_int_equal(lw_count_model_save(m, &b), LW_OK);
    assert_int_equal(lw_count_model_load(m2, b.p, b.len), LW_OK);
    assert_true(lw_count_model_fitted(m2));
    assert_int_equal(lw_count_model_n_invariants(m2), lw_count_model_n_invariants(m));
    n = normal_session(ev, 3);
    ev[2] = 3;
    lw_count_model_score(m, ev, n, false, &v1);
    lw_count_model_score(m2, ev, n, false, &v2);
    assert_int_equal(v1.anomalous, v2.anomalous);
    assert_int_equal(v1.n_broken, v2.n_broken);
    for (i = 0; i + 1 < b.len; i += 997) {
        assert_int_not_equal(lw_count_model_load(m2, b.p, i), LW_OK);
    }
    lw_wbuf_free(&b);
    lw_count_model_destroy(m);
    lw_count_model_destroy(m2);
}

/* ---- the stage with the session detectors ---- */

struct found {
    char detector[32];
    char kind[32];
    char key[64];
    double score;
    int64_t arrival;
    bool has_expl;
};

struct sink {
    struct found f[256];
    size_t n;
};

static void record(void *opaque, const struct lw_anomaly *a)
{
    struct sink *s = opaque;

    if (s->n < 256) {
        struct found *f = &s->f[s->n++];

        snprintf(f->detector, sizeof(f->detector), "%s", a->detector);
        snprintf(f->kind, sizeof(f->kind), "%s", a->kind ? a->kind : "");
        snprintf(f->key, sizeof(f->key), "%s", a->key ? a->key : "");
        f->score = a->score;
        f->arrival = a->arrival_ns;
        f->has_expl = a->explanation_json != NULL && a->explanation_json[0] == '{';
    }
}

static const char *const texts[] = {"", "allocate", "receiving", "received", "stored",
                                    "delete", "", "", "", "exception"};

static void feed_session(struct lw_detect_stage *st, int id, const uint32_t *ev, size_t n,
                         int64_t *t)
{
    char msg[64];
    size_t i;

    for (i = 0; i < n; i++) {
        struct lw_det_event e;

        snprintf(msg, sizeof(msg), "%s blk_%d", texts[ev[i]], id);
        memset(&e, 0, sizeof(e));
        e.ts_ns = *t;
        e.arrival_ns = 1000 + *t;
        e.template_id = ev[i];
        e.level = 3;
        e.source = "dn-1";
        e.msg = msg;
        e.msg_len = strlen(msg);
        lw_detect_stage_observe(st, &e);
        *t += NS / 100;
        lw_detect_stage_tick(st, *t - NS / 2, *t);
    }
}

static struct lw_detect_stage *session_stage(struct sink *sk)
{
    struct lw_detect_conf c;
    struct lw_detect_stage *st;
    char err[256] = "";

    lw_detect_conf_defaults(&c, 10 * NS);
    c.new_template.enabled = false;
    c.volume.enabled = false;
    c.level.enabled = false;
    c.params.enabled = false;
    c.session.timeout_ns = 5 * NS;
    c.sequence.warmup_sessions = 100;
    c.session_counts.warmup_sessions = 100;
    st = lw_detect_stage_create(&c, record, NULL, sk, err, sizeof(err));
    if (st == NULL) {
        print_error("stage: %s\n", err);
    }
    return st;
}

static void test_stage_sessions(void **state)
{
    struct sink *sk = lw_calloc(1, sizeof(*sk));
    struct lw_detect_stage *st = session_stage(sk);
    struct lw_detect_stats ds;
    uint32_t ev[32];
    int64_t t = 1767225600LL * NS;
    size_t n, i;
    int id;
    bool seq_unexpected = false, seq_unfinished = false, counts = false;

    (void)state;
    assert_non_null(st);
    /*
     * Normal sessions, one after the other, each ending on the timeout. 2,100 of them: the
     * count model refits at 1,600, and an invariant that held in all of them scores
     * 1 - 1/1602 > 0.999.
     */
    for (id = 0; id < 2100; id++) {
        n = normal_session(ev, (unsigned)id);
        feed_session(st, id, ev, n, &t);
        t += NS;
    }
    lw_detect_stage_tick(st, t + 100 * NS, t);
    assert_int_equal(sk->n, 0); /* the normal stream stays quiet */
    lw_detect_stage_get_stats(st, &ds);
    assert_true(ds.sessions_ended >= 2000);
    assert_int_equal(ds.sessions_open, 0);

    /* An exception inside a session: reported as it arrives, by the sequence detector. */
    n = normal_session(ev, 1);
    ev[7] = 9;
    feed_session(st, 5001, ev, n, &t);
    for (i = 0; i < sk->n; i++) {
        if (strcmp(sk->f[i].detector, "sequence") == 0 &&
            strcmp(sk->f[i].kind, "unexpected") == 0) {
            seq_unexpected = true;
            assert_string_equal(sk->f[i].key, "blk_5001");
            assert_true(sk->f[i].arrival > 0);
            assert_true(sk->f[i].has_expl);
        }
    }
    assert_true(seq_unexpected);
    /* A session that stops after its receives: unfinished at its timeout. */
    n = normal_session(ev, 1);
    feed_session(st, 5002, ev, 4, &t);
    t += 20 * NS;
    lw_detect_stage_tick(st, t, t);
    for (i = 0; i < sk->n; i++) {
        if (strcmp(sk->f[i].key, "blk_5002") != 0) {
            continue;
        }
        seq_unfinished |= strcmp(sk->f[i].kind, "unfinished") == 0;
        counts |= strcmp(sk->f[i].detector, "session_counts") == 0;
    }
    assert_true(seq_unfinished);
    assert_true(counts);
    lw_detect_stage_destroy(st);
    lw_free(sk);
}

/*
 * A key pattern in UTF mode ((*UTF) in the pattern) does not key a line that is not valid UTF-8:
 * pcre2_match() checks the subject, pcre2_jit_match() would not (its result is undefined).
 */
static void test_stage_key_utf_invalid(void **state)
{
    struct sink *sk = lw_calloc(1, sizeof(*sk));
    struct lw_detect_conf c;
    struct lw_detect_stage *st;
    struct lw_detect_stats ds;
    struct lw_det_event e;
    char err[256] = "";
    static const char bad[] = "allocate blk_\xff\xfe" "7";
    static const char good[] = "allocate blk_\xc3\xa9" "7";
    int i;

    (void)state;
    lw_detect_conf_defaults(&c, 10 * NS);
    c.new_template.enabled = false;
    c.volume.enabled = false;
    c.level.enabled = false;
    c.params.enabled = false;
    c.session.key_pattern = (char *)"(*UTF)blk_\\S+";
    st = lw_detect_stage_create(&c, record, NULL, sk, err, sizeof(err));
    assert_non_null(st);
    memset(&e, 0, sizeof(e));
    e.ts_ns = 1767225600LL * NS;
    e.arrival_ns = e.ts_ns;
    e.template_id = 1;
    e.level = 3;
    e.source = "dn-1";
    /* The invalid line is left unkeyed; the valid one opens a session. */
    for (i = 0; i < 2; i++) {
        e.msg = i == 0 ? bad : good;
        e.msg_len = (i == 0 ? sizeof(bad) : sizeof(good)) - 1;
        lw_detect_stage_observe(st, &e);
        lw_detect_stage_get_stats(st, &ds);
        assert_int_equal(ds.sessions_unkeyed, 1);
        assert_int_equal(ds.sessions_open, (uint64_t)i);
    }
    lw_detect_stage_destroy(st);
    lw_free(sk);
}

static void test_stage_save_load(void **state)
{
    struct sink *sk = lw_calloc(1, sizeof(*sk));
    struct lw_detect_stage *st = session_stage(sk);
    struct lw_detect_stage *st2 = session_stage(sk);
    struct lw_wbuf b = {0};
    uint32_t ev[32];
    int64_t t = 1767225600LL * NS;
    char err[256];
    size_t n, i;
    int id;

    (void)state;
    for (id = 0; id < 300; id++) {
        n = normal_session(ev, (unsigned)id);
        feed_session(st, id, ev, n, &t);
        t += NS;
    }
    lw_detect_stage_tick(st, t + 100 * NS, t);
    assert_int_equal(lw_detect_stage_save(st, &b), LW_OK);
    assert_int_equal(lw_detect_stage_load(st2, b.p, b.len, err, sizeof(err)), LW_OK);
    /* The loaded stage knows the sessions at once: an exception is reported. */
    sk->n = 0;
    n = normal_session(ev, 1);
    ev[7] = 9;
    feed_session(st2, 9001, ev, n, &t);
    assert_true(sk->n >= 1);
    /* Corrupt files: refused with a message, never a crash. */
    for (i = 0; i < b.len; i += 13) {
        err[0] = '\0';
        if (lw_detect_stage_load(st2, b.p, i, err, sizeof(err)) != LW_OK) {
            assert_true(err[0] != '\0');
        }
    }
    lw_wbuf_free(&b);
    lw_detect_stage_destroy(st);
    lw_detect_stage_destroy(st2);
    lw_free(sk);
}


/* ---- merged sibling templates (the miner's aliases) in the window and line detectors ---- */

extern const struct lw_detector_plugin det_volume_plugin;
extern const struct lw_detector_plugin det_params_plugin;

static int merged_now;

static uint32_t resolve_7_to_5(void *opaque, uint32_t id)
{
    (void)opaque;
    return merged_now && id == 7 ? 5 : id;
}

/* Templates 5 and 7 log 100 lines a window each; 7 merges into 5 mid-window: no drop, no
 * silence, no spike. */
static void test_volume_merge_quiet(void **state)
{
    struct lw_detect_conf c;
    struct sink *sk = lw_calloc(1, sizeof(*sk));
    struct lw_det_out out = {
        .emit = record, .opaque = sk, .threshold = 0.999, .template_resolve = resolve_7_to_5};
    struct lw_det_event ev;
    char err[256];
    void *ctx;
    int w, k;

    (void)state;
    lw_detect_conf_defaults(&c, 10 * NS);
    c.volume.per_source = false;
    ctx = det_volume_plugin.init(&c, err, sizeof(err));
    assert_non_null(ctx);
    merged_now = 0;
    memset(&ev, 0, sizeof(ev));
    ev.msg = "x";
    ev.msg_len = 1;
    ev.source = "";
    for (w = 0; w < 60; w++) {
        for (k = 0; k < 100; k++) {
            int64_t ts = w * 10 * NS + k * (NS / 10);

            if (w == 45 && k == 50) {
                merged_now = 1;
            }
            ev.ts_ns = ts;
            ev.template_id = 5;
            det_volume_plugin.observe(ctx, &ev, &out);
            ev.template_id = merged_now ? 5 : 7;
            det_volume_plugin.observe(ctx, &ev, &out);
            det_volume_plugin.tick(ctx, ts - NS / 2, 0, &out);
        }
    }
    for (k = 0; k < (int)sk->n; k++) {
        print_message("unexpected: %s %s\n", sk->f[k].detector, sk->f[k].kind);
    }
    assert_int_equal(sk->n, 0);
    det_volume_plugin.exit(ctx);
    merged_now = 0;
    lw_free(sk);
}

/* A place of a merged template folds into the live one; the model still saves and loads. */
static void test_params_merge_roundtrip(void **state)
{
    struct lw_detect_conf c;
    struct sink *sk = lw_calloc(1, sizeof(*sk));
    struct lw_det_out out = {
        .emit = record, .opaque = sk, .threshold = 0.999, .template_resolve = resolve_7_to_5};
    const char *msg = "took 42 ms";
    struct lw_param prm = {5, 2};
    struct lw_det_event ev;
    struct lw_wbuf b = {0};
    char err[256] = "";
    void *ctx, *ctx2;
    int i;

    (void)state;
    lw_detect_conf_defaults(&c, 10 * NS);
    ctx = det_params_plugin.init(&c, err, sizeof(err));
    ctx2 = det_params_plugin.init(&c, err, sizeof(err));
    assert_non_null(ctx);
    assert_non_null(ctx2);
    memset(&ev, 0, sizeof(ev));
    ev.ts_ns = NS;
    ev.msg = msg;
    ev.msg_len = strlen(msg);
    ev.n_params = 1;
    ev.params = &prm;
    ev.source = "";
    for (i = 0; i < 5; i++) { /* 1, then 2, 3, 4, 5 values in the merged place */
        merged_now = 0;
        ev.template_id = 7;
        det_params_plugin.observe(ctx, &ev, &out);
        ev.template_id = 5;
        det_params_plugin.observe(ctx, &ev, &out);
        merged_now = 1;
        det_params_plugin.tick(ctx, 0, 0, &out); /* every 64th tick folds */
        for (int t = 0; t < 63; t++) {
            det_params_plugin.tick(ctx, 0, 0, &out);
        }
        lw_wbuf_free(&b);
        assert_int_equal(det_params_plugin.save(ctx, &b), LW_OK);
        assert_int_equal(det_params_plugin.load(ctx2, b.p, b.len, err, sizeof(err)), LW_OK);
    }
    lw_wbuf_free(&b);
    det_params_plugin.exit(ctx);
    det_params_plugin.exit(ctx2);
    merged_now = 0;
    lw_free(sk);
}

/* ---- the HDFS split, as `logwarden eval detect` scores it (one fold) ---- */

static size_t read_sessions(const char *path, uint32_t **ev, size_t **off, size_t max)
{
    FILE *f = fopen(path, "r");
    char line[8192];
    size_t n = 0, used = 0, cap = 1 << 20;

    if (f == NULL) {
        return 0;
    }
    *ev = lw_malloc(cap * sizeof(uint32_t));
    *off = lw_malloc((max + 1) * sizeof(size_t));
    while (n < max && fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *end;

        (*off)[n] = used;
        for (;;) {
            unsigned long v = strtoul(p, &end, 10);

            if (end == p || used >= cap) {
                break;
            }
            (*ev)[used++] = (uint32_t)v + 1;
            p = end;
        }
        n++;
    }
    (*off)[n] = used;
    fclose(f);
    return n;
}

static void test_hdfs_split(void **state)
{
    const char *dir = getenv("LW_SHARED_DATA");
    char pn[1024], pa[1024];
    uint32_t *ne = NULL, *ae = NULL;
    size_t *no = NULL, *ao = NULL, nn, na, i, fp = 0, tp = 0;
    struct lw_seq_model *m;
    struct lw_count_model *cm;

    (void)state;
    if (dir == NULL) {
        skip();
    }
    snprintf(pn, sizeof(pn), "%s/hdfs-sessions/hdfs_train", dir);
    snprintf(pa, sizeof(pa), "%s/hdfs-sessions/hdfs_test_abnormal", dir);
    nn = read_sessions(pn, &ne, &no, 5000);
    na = read_sessions(pa, &ae, &ao, 10000);
    if (nn == 0 || na == 0) {
        lw_free(ne);
        lw_free(no);
        lw_free(ae);
        lw_free(ao);
        print_message("hdfs-sessions not found under %s: skipped\n", dir);
        skip();
    }
    m = lw_seq_model_create(3, 16, 200000);
    cm = lw_count_model_create(20000, 0.998);
    /* Train on 4 of every 5 normal sessions, score the fifth and every abnormal one. */
    for (i = 0; i < nn; i++) {
        if (i % 5 != 0) {
            lw_seq_model_learn(m, ne + no[i], no[i + 1] - no[i], true);
            lw_count_model_add(cm, ne + no[i], no[i + 1] - no[i]);
        }
    }
    assert_int_equal(lw_count_model_fit(cm), LW_OK);
    for (i = 0; i < nn + na; i++) {
        bool normal = i < nn;
        const uint32_t *ev = normal ? ne + no[i] : ae + ao[i - nn];
        size_t n = normal ? no[i + 1] - no[i] : ao[i - nn + 1] - ao[i - nn];
        struct lw_seq_verdict v;
        struct lw_count_verdict cv;
        bool bad = false;
        size_t k;

        if (normal && i % 5 != 0) {
            continue;
        }
        for (k = 0; k <= n && !bad; k++) {
            bad = !lw_seq_model_check(m, ev, n, k, &v) && v.score >= 0.999;
        }
        lw_count_model_score(cm, ev, n, false, &cv);
        bad |= cv.anomalous && cv.score >= 0.999;
        fp += normal && bad;
        tp += !normal && bad;
    }
    print_message("hdfs fold: %zu of %zu normal flagged, %zu of %zu abnormal found\n", fp,
                  (nn + 4) / 5, tp, na);
    /* Loose bounds: the figures themselves come from `logwarden eval detect`. */
    assert_true(tp >= na * 95 / 100);
    assert_true(fp <= (nn / 5) / 100);
    lw_seq_model_destroy(m);
    lw_count_model_destroy(cm);
    lw_free(ne);
    lw_free(no);
    lw_free(ae);
    lw_free(ao);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seq_model_normal_and_anomalies),
        cmocka_unit_test(test_seq_model_save_load),
        cmocka_unit_test(test_seq_model_cap_evicts),
        cmocka_unit_test(test_count_model_invariants),
        cmocka_unit_test(test_count_model_save_load),
        cmocka_unit_test(test_stage_sessions),
        cmocka_unit_test(test_stage_save_load),
        cmocka_unit_test(test_stage_key_utf_invalid),
        cmocka_unit_test(test_volume_merge_quiet),
        cmocka_unit_test(test_params_merge_roundtrip),
        cmocka_unit_test(test_hdfs_split),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
