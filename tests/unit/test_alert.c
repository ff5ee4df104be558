/*
 * Unit tests for the alert manager (lw_alert.h) through its public API: deduplication within
 * the cool-down and again after it, grouping into incidents by template, source and key prefix,
 * the token-bucket rate limit, severity, the bounded fingerprint memory, configuration errors,
 * and the file and stdout sinks' output (JSONL parsed back with jansson). Times are the
 * submit() clock argument, never the real clock, so nothing here depends on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "lw/lw_alert.h"
#include "lw/lw_analyze.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"

#define NS 1000000000LL
#define T0 (1767225600LL * NS) /* 2026-01-01T00:00:00Z */

static struct lw_anomaly anomaly(const char *detector, const char *kind, uint32_t tpl,
                                 const char *source, const char *key, double score)
{
    struct lw_anomaly a;

    memset(&a, 0, sizeof(a));
    a.detector = detector;
    a.kind = kind;
    a.score = score;
    a.ts_ns = T0;
    a.arrival_ns = T0 + 1;
    a.template_id = tpl;
    a.source = source;
    a.key = key;
    a.summary = "480 lines in 10 s, expected 12";
    a.explanation_json = "{ \"expected\": 12, \"observed\": 480 }";
    a.samples_json = "[\"line one\", \"line two\"]";
    return a;
}

/* An alerter without sinks and without a rate limit unless the test sets one. */
static struct lw_alerter *start_plain(struct lw_alert_conf *c)
{
    char err[256] = "";
    struct lw_alerter *al = lw_alerter_start(c, err, sizeof(err));

    if (al == NULL) {
        fail_msg("lw_alerter_start: %s", err);
    }
    return al;
}

static int64_t wall_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/*
 * Five hours of findings, one every 10 s of event time, submitted as fast as the loop goes
 * (@pace_us 0) or with a pause every 100 submissions: a backfill or a live run. Even steps
 * repeat one fingerprint (deduplicated by the 5-minute cool-down of an alerter without a rate
 * limit); odd steps bring a new fingerprint each to a second alerter limited to 2 a minute
 * (burst 2). @states gets each decision.
 */
#define REPLAY_N 1800
static void replay(unsigned pace_us, char states[REPLAY_N])
{
    struct lw_alert_conf c;
    struct lw_alerter *dedup;
    struct lw_alerter *limit;
    struct lw_alert_decision d;
    char src[32];
    int i;

    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.rate_per_min = 0;
    dedup = start_plain(&c);
    c.rate_per_min = 2;
    c.burst = 2;
    limit = start_plain(&c);
    for (i = 0; i < REPLAY_N; i++) {
        struct lw_anomaly a;
        int64_t t = T0 + (int64_t)i * 10 * NS;

        if (i % 2 == 0) {
            a = anomaly("volume", "spike", 7, "web1", NULL, 0.9995);
            a.ts_ns = t;
            assert_int_equal(lw_alerter_submit(dedup, &a, t, &d), LW_OK);
        }
        else {
            snprintf(src, sizeof(src), "host%d", i);
            a = anomaly("params", "unseen", 1000 + (uint32_t)i, src, NULL, 0.9995);
            a.ts_ns = t;
            assert_int_equal(lw_alerter_submit(limit, &a, t, &d), LW_OK);
        }
        states[i] = d.state[0]; /* 'p'ending, 's'uppressed, 'l'imited */
        if (pace_us > 0 && i % 100 == 0) {
            usleep(pace_us);
        }
    }
    lw_alerter_stop(limit, 0);
    lw_alerter_stop(dedup, 0);
    lw_alert_conf_fini(&c);
}

static void test_event_time_replay(void **state)
{
    char fast[REPLAY_N];
    char paced[REPLAY_N];
    int alerts_rep = 0;
    int alerts_new = 0;
    int i;

    (void)state;
    replay(0, fast);
    replay(2000, paced);
    assert_memory_equal(fast, paced, REPLAY_N);
    for (i = 0; i < REPLAY_N; i++) {
        if (i % 2 == 0) {
            /* The repeating finding alerts once per 5 min of event time: at 0, 300 s, 600 s ... */
            assert_int_equal(fast[i], (i * 10) % 300 == 0 ? 'p' : 's');
            alerts_rep += fast[i] == 'p';
        }
        else {
            assert_true(fast[i] == 'p' || fast[i] == 'l');
            alerts_new += fast[i] == 'p';
        }
    }
    /* 5 h / 5 min cool-downs, although the replay took a fraction of a second. */
    assert_int_equal(alerts_rep, 60);
    /* 2 alerts per event-time minute over 5 h (one token every 30 s, findings every 20 s). */
    assert_true(alerts_new >= 2 * 300 - 3 && alerts_new <= 2 * 300 + 3);
}

/* A finding submitted with an older event time is judged at the clock's present. */
static void test_event_clock_never_steps_back(void **state)
{
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_anomaly a = anomaly("volume", "spike", 1, "web1", NULL, 0.9995);
    struct lw_anomaly late = anomaly("sequence", "unexpected", 2, "web2", "blk_1", 0.9995);

    (void)state;
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.rate_per_min = 0;
    al = start_plain(&c);
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 700 * NS, &d), LW_OK);
    assert_true(d.alert);
    /* Revealed late (its session timed out): its cool-down starts now, not 700 s ago. */
    assert_int_equal(lw_alerter_submit(al, &late, T0, &d), LW_OK);
    assert_true(d.alert);
    assert_int_equal(lw_alerter_submit(al, &late, T0 + 800 * NS, &d), LW_OK);
    assert_string_equal(d.state, "suppressed");
    assert_int_equal(lw_alerter_submit(al, &late, T0 + 1000 * NS, &d), LW_OK);
    assert_string_equal(d.state, "pending");
    lw_alerter_stop(al, 0);
    lw_alert_conf_fini(&c);
}

static void test_dedup_cooldown(void **state)
{
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d1;
    struct lw_alert_decision d;
    struct lw_alert_stats st;
    struct lw_anomaly a = anomaly("volume", "spike", 7, "web1", NULL, 0.9995);

    (void)state;
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.rate_per_min = 0;
    al = start_plain(&c);

    assert_int_equal(lw_alerter_submit(al, &a, T0, &d1), LW_OK);
    assert_true(d1.alert);
    assert_string_equal(d1.state, "pending");
    assert_true(d1.alert_seq > 0);
    assert_memory_equal(d1.incident, "inc-", 4);

    /* Same fingerprint inside the 5 min cool-down: suppressed, same incident, no seq. */
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 60 * NS, &d), LW_OK);
    assert_false(d.alert);
    assert_string_equal(d.state, "suppressed");
    assert_int_equal(d.alert_seq, 0);
    assert_string_equal(d.incident, d1.incident);
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 299 * NS, &d), LW_OK);
    assert_string_equal(d.state, "suppressed");

    /* A different key is a different fingerprint. */
    a.key = "blk_1";
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 299 * NS, &d), LW_OK);
    assert_string_equal(d.state, "pending");
    a.key = NULL;

    /* The cool-down runs from the last alert, not from the suppressed repeats. */
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 300 * NS, &d), LW_OK);
    assert_true(d.alert);
    assert_string_equal(d.state, "pending");
    assert_true(d.alert_seq > d1.alert_seq);

    lw_alerter_get_stats(al, &st);
    assert_int_equal(st.submitted, 5);
    assert_int_equal(st.alerts, 3);
    assert_int_equal(st.suppressed, 2);
    assert_int_equal(st.limited, 0);
    assert_int_equal(st.n_sinks, 0);
    lw_alerter_stop(al, 0);
    lw_alert_conf_fini(&c);
}

static void test_grouping(void **state)
{
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d1;
    struct lw_alert_decision d;
    struct lw_alert_stats st;
    struct lw_anomaly a1 = anomaly("volume", "spike", 7, "web1", NULL, 0.9995);
    struct lw_anomaly a2 = anomaly("level", "errors", 7, "web2", NULL, 0.9995);
    struct lw_anomaly a3 = anomaly("new_template", "new", 9, "web2", NULL, 0.9995);
    struct lw_anomaly a4 = anomaly("volume", "drop", 11, "db1", NULL, 0.9995);
    struct lw_anomaly s1 = anomaly("sequence", "unexpected", 0, NULL, "blk_-160899", 0.9995);
    struct lw_anomaly s2 = anomaly("session_counts", "invariant", 0, NULL, "blk_7734", 0.9995);
    struct lw_anomaly late = anomaly("params", "unseen", 11, NULL, NULL, 0.9995);

    (void)state;
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.rate_per_min = 0;
    al = start_plain(&c);

    assert_int_equal(lw_alerter_submit(al, &a1, T0, &d1), LW_OK);
    /* Shares the template with a1. */
    assert_int_equal(lw_alerter_submit(al, &a2, T0 + 10 * NS, &d), LW_OK);
    assert_true(d.alert);
    assert_string_equal(d.incident, d1.incident);
    /* Shares only the source with a2: joins through it (chained). */
    assert_int_equal(lw_alerter_submit(al, &a3, T0 + 20 * NS, &d), LW_OK);
    assert_string_equal(d.incident, d1.incident);
    /* Nothing in common: a new incident. */
    assert_int_equal(lw_alerter_submit(al, &a4, T0 + 25 * NS, &d), LW_OK);
    assert_string_not_equal(d.incident, d1.incident);

    /* Session anomalies of "blk_" keys group by the key prefix. */
    assert_int_equal(lw_alerter_submit(al, &s1, T0 + 30 * NS, &d1), LW_OK);
    assert_int_equal(lw_alerter_submit(al, &s2, T0 + 31 * NS, &d), LW_OK);
    assert_string_equal(d.incident, d1.incident);

    /* Template 11 again, but after group_ns (60 s) since a4: a new incident. */
    assert_int_equal(lw_alerter_submit(al, &a4, T0 + 25 * NS, &d1), LW_OK);
    assert_string_equal(d1.state, "suppressed");
    assert_int_equal(lw_alerter_submit(al, &late, T0 + 86 * NS, &d), LW_OK);
    assert_true(d.alert);
    assert_string_not_equal(d.incident, d1.incident);

    lw_alerter_get_stats(al, &st);
    assert_int_equal(st.incidents, 4);
    lw_alerter_stop(al, 0);
    lw_alert_conf_fini(&c);
}

static void test_rate_limit(void **state)
{
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_alert_stats st;
    char src[32];
    int i;
    int pending = 0;
    int limited = 0;

    (void)state;
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.rate_per_min = 1;
    c.burst = 3;
    al = start_plain(&c);

    for (i = 0; i < 5; i++) {
        struct lw_anomaly a;

        snprintf(src, sizeof(src), "host%d", i);
        a = anomaly("volume", "spike", 100 + (uint32_t)i, src, NULL, 0.9995);
        assert_int_equal(lw_alerter_submit(al, &a, T0, &d), LW_OK);
        pending += strcmp(d.state, "pending") == 0;
        limited += strcmp(d.state, "limited") == 0;
        assert_true(d.alert == (strcmp(d.state, "pending") == 0));
    }
    assert_int_equal(pending, 3);
    assert_int_equal(limited, 2);

    /* A limited anomaly left no cool-down: the same one alerts once a token is back. */
    {
        struct lw_anomaly a = anomaly("volume", "spike", 104, "host4", NULL, 0.9995);

        assert_int_equal(lw_alerter_submit(al, &a, T0 + 30 * NS, &d), LW_OK);
        assert_string_equal(d.state, "limited");
        assert_int_equal(lw_alerter_submit(al, &a, T0 + 61 * NS, &d), LW_OK);
        assert_string_equal(d.state, "pending");
        a.template_id = 105;
        assert_int_equal(lw_alerter_submit(al, &a, T0 + 62 * NS, &d), LW_OK);
        assert_string_equal(d.state, "limited");
    }
    lw_alerter_get_stats(al, &st);
    assert_int_equal(st.alerts, 4);
    assert_int_equal(st.limited, 4);
    lw_alerter_stop(al, 0);
    lw_alert_conf_fini(&c);
}

static void test_severity(void **state)
{
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_anomaly a = anomaly("volume", "spike", 1, NULL, NULL, 0.999995);
    struct lw_anomaly b = anomaly("volume", "drop", 2, NULL, NULL, 0.9991);
    struct lw_anomaly e = anomaly("volume", "silence", 3, NULL, NULL, 0.99999);

    (void)state;
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    al = start_plain(&c);
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d), LW_OK);
    assert_string_equal(d.severity, "critical");
    assert_int_equal(lw_alerter_submit(al, &b, T0, &d), LW_OK);
    assert_string_equal(d.severity, "warning");
    /* The threshold itself is critical (score >= critical_score). */
    assert_int_equal(lw_alerter_submit(al, &e, T0, &d), LW_OK);
    assert_string_equal(d.severity, "critical");
    /* Suppressed anomalies still carry a severity. */
    assert_int_equal(lw_alerter_submit(al, &b, T0 + NS, &d), LW_OK);
    assert_string_equal(d.state, "suppressed");
    assert_string_equal(d.severity, "warning");
    lw_alerter_stop(al, 0);
    lw_alert_conf_fini(&c);
}

static void test_fingerprint_eviction(void **state)
{
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_alert_stats st;
    struct lw_anomaly a = anomaly("volume", "spike", 1, NULL, NULL, 0.9995);
    struct lw_anomaly b = anomaly("volume", "spike", 2, NULL, NULL, 0.9995);
    struct lw_anomaly e = anomaly("volume", "spike", 3, NULL, NULL, 0.9995);

    (void)state;
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.rate_per_min = 0;
    c.max_fingerprints = 2;
    al = start_plain(&c);
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d), LW_OK);
    assert_int_equal(lw_alerter_submit(al, &b, T0 + 1, &d), LW_OK);
    assert_int_equal(lw_alerter_submit(al, &b, T0 + 2, &d), LW_OK);
    assert_string_equal(d.state, "suppressed");
    /* The third fingerprint evicts the oldest (a); a then alerts again within its cool-down. */
    assert_int_equal(lw_alerter_submit(al, &e, T0 + 3, &d), LW_OK);
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 4, &d), LW_OK);
    assert_string_equal(d.state, "pending");
    assert_int_equal(lw_alerter_submit(al, &e, T0 + 5, &d), LW_OK);
    assert_string_equal(d.state, "suppressed");
    lw_alerter_get_stats(al, &st);
    assert_int_equal(st.fingerprints, 2);
    assert_int_equal(st.evicted, 2);
    lw_alerter_stop(al, 0);
    lw_alert_conf_fini(&c);
}

static void test_conf_errors(void **state)
{
    struct lw_alert_conf c;
    char err[256];

    (void)state;
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.n_sinks = 1;
    c.sinks[0].kind = LW_SINK_WEBHOOK;
    err[0] = '\0';
    assert_null(lw_alerter_start(&c, err, sizeof(err)));
    assert_non_null(strstr(err, "url"));

    c.sinks[0].kind = LW_SINK_FILE;
    assert_null(lw_alerter_start(&c, err, sizeof(err)));
    assert_non_null(strstr(err, "path"));

    c.sinks[0].path = lw_strdup("/nonexistent-dir-lw/alerts.jsonl");
    assert_null(lw_alerter_start(&c, err, sizeof(err)));
    assert_non_null(strstr(err, "nonexistent-dir-lw"));

    c.n_sinks = 2;
    c.sinks[1].kind = LW_SINK_STDOUT;
    c.sinks[1].name = lw_strdup("file");
    assert_null(lw_alerter_start(&c, err, sizeof(err)));
    assert_non_null(strstr(err, "two sinks"));
    lw_alert_conf_fini(&c);
}

struct results {
    int sent;
    int failed;
    uint64_t seqs[16];
};

static void on_result(void *opaque, const struct lw_alert_result *r)
{
    struct results *res = opaque;

    if (r->sent) {
        if (res->sent < 16) {
            res->seqs[res->sent] = r->alert_seq;
        }
        res->sent++;
    }
    else {
        res->failed++;
    }
    assert_true(r->sent_ns > 0);
}

static void test_file_sink(void **state)
{
    char dir[64] = "/tmp/lw-alert-XXXXXX";
    char path[128];
    char err[256] = "";
    char line[8192];
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d[2];
    struct lw_alert_stats st;
    struct results res = {0};
    struct lw_anomaly a = anomaly("volume", "spike", 7, "web1", NULL, 0.999995);
    struct lw_anomaly b = anomaly("sequence", "unexpected", 0, NULL, "blk_42", 0.9995);
    FILE *f;
    int n = 0;
    int64_t t_before;
    int64_t t_after;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/alerts.jsonl", dir);
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.n_sinks = 1;
    c.sinks[0].kind = LW_SINK_FILE;
    c.sinks[0].path = lw_strdup(path);
    b.samples_json = NULL;
    b.explanation_json = "not json";
    al = lw_alerter_start(&c, err, sizeof(err));
    assert_non_null(al);
    t_before = wall_now_ns();
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d[0]), LW_OK);
    assert_int_equal(lw_alerter_submit(al, &b, T0 + NS, &d[1]), LW_OK);
    t_after = wall_now_ns();
    lw_alerter_get_stats(al, &st);
    assert_int_equal(st.n_sinks, 1);
    assert_string_equal(st.sink_names[0], "file");
    lw_alerter_stop(al, 5 * NS);

    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        json_t *ex;
        json_t *sm;

        assert_non_null(o);
        assert_true(json_is_object(o));
        assert_int_equal(json_integer_value(json_object_get(o, "alert_seq")), d[n].alert_seq);
        assert_string_equal(json_string_value(json_object_get(o, "incident")), d[n].incident);
        assert_string_equal(json_string_value(json_object_get(o, "severity")), d[n].severity);
        assert_non_null(json_string_value(json_object_get(o, "created")));
        ex = json_object_get(o, "explanation");
        sm = json_object_get(o, "samples");
        /* created is the wall clock of the submission, ts the finding's event time. */
        assert_true(json_integer_value(json_object_get(o, "created_ns")) >= t_before);
        assert_true(json_integer_value(json_object_get(o, "created_ns")) <= t_after);
        if (n == 0) {
            assert_string_equal(json_string_value(json_object_get(o, "ts")),
                                "2026-01-01T00:00:00.000Z");
            assert_string_equal(json_string_value(json_object_get(o, "detector")), "volume");
            assert_string_equal(json_string_value(json_object_get(o, "kind")), "spike");
            assert_string_equal(json_string_value(json_object_get(o, "source")), "web1");
            assert_true(json_is_null(json_object_get(o, "key")));
            assert_int_equal(json_integer_value(json_object_get(o, "template_id")), 7);
            assert_string_equal(json_string_value(json_object_get(o, "severity")), "critical");
            assert_string_equal(json_string_value(json_object_get(o, "summary")), a.summary);
            assert_true(json_is_object(ex));
            assert_int_equal(json_integer_value(json_object_get(ex, "observed")), 480);
            assert_true(json_is_array(sm));
            assert_int_equal(json_array_size(sm), 2);
            assert_string_equal(json_string_value(json_array_get(sm, 0)), "line one");
        }
        else {
            assert_string_equal(json_string_value(json_object_get(o, "key")), "blk_42");
            /* An explanation that is not JSON is kept as text; no samples is null. */
            assert_string_equal(json_string_value(ex), "not json");
            assert_true(json_is_null(sm));
        }
        json_decref(o);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 2);
    /* stop() freed the results; what was polled before is all there is. */
    unlink(path);
    rmdir(dir);
    lw_alert_conf_fini(&c);
    (void)res;
}

static void test_file_sink_results(void **state)
{
    char dir[64] = "/tmp/lw-alert-XXXXXX";
    char path[128];
    char err[256] = "";
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_alert_stats st;
    struct results res = {0};
    struct lw_anomaly a = anomaly("volume", "spike", 7, "web1", NULL, 0.9995);
    int i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/alerts.jsonl", dir);
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.n_sinks = 1;
    c.sinks[0].kind = LW_SINK_FILE;
    c.sinks[0].name = lw_strdup("audit");
    c.sinks[0].path = lw_strdup(path);
    al = lw_alerter_start(&c, err, sizeof(err));
    assert_non_null(al);
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d), LW_OK);
    /* Delivery is asynchronous: poll until the result is in (bounded by ctest's timeout). */
    for (i = 0; i < 20000 && res.sent == 0; i++) {
        lw_alerter_poll(al, on_result, &res);
        usleep(1000);
    }
    assert_int_equal(res.sent, 1);
    assert_int_equal(res.failed, 0);
    assert_int_equal(res.seqs[0], d.alert_seq);
    lw_alerter_get_stats(al, &st);
    assert_string_equal(st.sink_names[0], "audit");
    assert_int_equal(st.sent[0], 1);
    assert_int_equal(st.dropped[0], 0);
    lw_alerter_stop(al, NS);
    unlink(path);
    rmdir(dir);
    lw_alert_conf_fini(&c);
}

static void test_stdout_sink(void **state)
{
    char path[64] = "/tmp/lw-alert-out-XXXXXX";
    char err[256] = "";
    char buf[4096];
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_anomaly a = anomaly("volume", "spike", 7, "web1", NULL, 0.999995);
    int fd;
    int saved;
    ssize_t n;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);

    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.n_sinks = 1;
    c.sinks[0].kind = LW_SINK_STDOUT;
    al = lw_alerter_start(&c, err, sizeof(err));
    assert_non_null(al);
    /* Revealed 5 s after it happened: the line leads with when it happened. */
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 5 * NS, &d), LW_OK);
    lw_alerter_stop(al, NS);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);

    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "2026-01-01T00:00:00.000Z CRITICAL volume/spike inc-"));
    assert_non_null(strstr(buf, " tpl=7 src=web1 "));
    assert_non_null(strstr(buf, ": 480 lines in 10 s, expected 12\n"));
    assert_non_null(strstr(buf, "\n  why: {\"expected\":12,\"observed\":480}\n"));
    lw_alert_conf_fini(&c);
}

/* A finding whose every text field holds what a hostile log line could put there. */
static struct lw_anomaly hostile(void)
{
    struct lw_anomaly a = anomaly("volume", "spike", 7,
                                  "web1\n2026-01-01T00:00:00.000Z CRITICAL forged",
                                  "\x1b[31mblk_1\xff", 0.999995);

    a.summary = "480\nlines\r\t\x7f\xe2\x80\xa8\xe2\x80\xae ok \xc3\xa9\\n";
    a.explanation_json = "not json\n\x1b]0;title\x07";
    return a;
}

static void test_stdout_escapes(void **state)
{
    char path[64] = "/tmp/lw-alert-out-XXXXXX";
    char err[256] = "";
    char buf[8192];
    char want[2048];
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d[2];
    struct lw_anomaly a = hostile();
    int fd;
    int saved;
    ssize_t n;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);

    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.n_sinks = 1;
    c.sinks[0].kind = LW_SINK_STDOUT;
    al = lw_alerter_start(&c, err, sizeof(err));
    assert_non_null(al);
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d[0]), LW_OK);
    a.key = "k2";
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d[1]), LW_OK);
    lw_alerter_stop(al, NS);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);

    n = pread(fd, buf, sizeof(buf) - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    buf[n] = '\0';
    /* Exactly two lines per alert, every control character and bad byte spelled out. */
    snprintf(want, sizeof(want),
             "2026-01-01T00:00:00.000Z CRITICAL volume/spike %s tpl=7 "
             "src=web1\\n2026-01-01T00:00:00.000Z CRITICAL forged key=\\x1b[31mblk_1\\xff "
             "score=0.999995: 480\\nlines\\r\\t\\x7f\\u2028\\u202e ok \xc3\xa9\\n\n"
             "  why: not json\\n\\x1b]0;title\\x07\n"
             "2026-01-01T00:00:00.000Z CRITICAL volume/spike %s tpl=7 "
             "src=web1\\n2026-01-01T00:00:00.000Z CRITICAL forged key=k2 "
             "score=0.999995: 480\\nlines\\r\\t\\x7f\\u2028\\u202e ok \xc3\xa9\\n\n"
             "  why: not json\\n\\x1b]0;title\\x07\n",
             d[0].incident, d[1].incident);
    assert_string_equal(buf, want);
    lw_alert_conf_fini(&c);
}

/* The JSONL file stays one valid JSON object per line whatever bytes a finding holds. */
static void test_file_sink_any_bytes(void **state)
{
    char dir[64] = "/tmp/lw-alert-XXXXXX";
    char path[128];
    char err[256] = "";
    char line[8192];
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_anomaly a = hostile();
    FILE *f;
    int n = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/alerts.jsonl", dir);
    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.n_sinks = 1;
    c.sinks[0].kind = LW_SINK_FILE;
    c.sinks[0].path = lw_strdup(path);
    a.samples_json = "not json either \xc0\xaf";
    al = lw_alerter_start(&c, err, sizeof(err));
    assert_non_null(al);
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d), LW_OK);
    lw_alerter_stop(al, 5 * NS);

    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);

        if (o == NULL) {
            fail_msg("line %d is not JSON: %s", n + 1, je.text);
        }
        assert_string_equal(json_string_value(json_object_get(o, "source")),
                            "web1\n2026-01-01T00:00:00.000Z CRITICAL forged");
        /* Bytes that are not UTF-8 become U+FFFD; control characters survive as JSON escapes. */
        assert_string_equal(json_string_value(json_object_get(o, "key")),
                            "\x1b[31mblk_1\xef\xbf\xbd");
        assert_string_equal(json_string_value(json_object_get(o, "summary")), a.summary);
        assert_string_equal(json_string_value(json_object_get(o, "explanation")),
                            a.explanation_json);
        assert_string_equal(json_string_value(json_object_get(o, "samples")),
                            "not json either \xef\xbf\xbd\xef\xbf\xbd");
        json_decref(o);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 1);
    unlink(path);
    rmdir(dir);
    lw_alert_conf_fini(&c);
}

/* Reads what @fd (a temporary file) holds into @buf and closes it. */
static void slurp(int fd, const char *path, char *buf, size_t cap)
{
    ssize_t n = pread(fd, buf, cap - 1, 0);

    close(fd);
    unlink(path);
    buf[n > 0 ? n : 0] = '\0';
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (hay = strstr(hay, needle); hay != NULL; hay = strstr(hay + 1, needle)) {
        n++;
    }
    return n;
}

/*
 * The next alert of a fingerprint says how many like it were suppressed since its previous
 * alert, and every alert how many findings were limited since the previous one; a warning line
 * (at most one a minute) sums up what was held back.
 */
static void test_held_back(void **state)
{
    char dir[64] = "/tmp/lw-alert-XXXXXX";
    char path[128];
    char out_path[64] = "/tmp/lw-alert-out-XXXXXX";
    char err_path[64] = "/tmp/lw-alert-err-XXXXXX";
    char err[256] = "";
    char out[8192];
    char log[8192];
    char line[8192];
    struct lw_alert_conf c;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_alert_stats st;
    struct lw_anomaly a = anomaly("volume", "spike", 7, "web1", NULL, 0.9995);
    int out_fd;
    int err_fd;
    int saved_out;
    int saved_err;
    uint64_t sup[3];
    uint64_t lim[3];
    FILE *f;
    int n = 0;
    int i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/alerts.jsonl", dir);
    out_fd = mkstemp(out_path);
    err_fd = mkstemp(err_path);
    assert_true(out_fd >= 0 && err_fd >= 0);
    fflush(stdout);
    saved_out = dup(STDOUT_FILENO);
    saved_err = dup(STDERR_FILENO);
    assert_true(dup2(out_fd, STDOUT_FILENO) >= 0 && dup2(err_fd, STDERR_FILENO) >= 0);

    lw_alert_conf_defaults(&c);
    c.cooldown_ns = 300 * NS; /* the cases below are written for a 5 min cool-down */
    c.rate_per_min = 1;
    c.burst = 1;
    c.n_sinks = 2;
    c.sinks[0].kind = LW_SINK_FILE;
    c.sinks[0].path = lw_strdup(path);
    c.sinks[1].kind = LW_SINK_STDOUT;
    al = lw_alerter_start(&c, err, sizeof(err));
    assert_non_null(al);
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d), LW_OK);
    assert_true(d.alert);
    for (i = 1; i <= 12; i++) {
        assert_int_equal(lw_alerter_submit(al, &a, T0 + i * 10 * NS, &d), LW_OK);
        assert_string_equal(d.state, "suppressed");
    }
    for (i = 0; i < 3; i++) {
        struct lw_anomaly b = anomaly("params", "unseen", 100 + (uint32_t)i, "db1", NULL, 0.9995);

        assert_int_equal(lw_alerter_submit(al, &b, T0 + (130 + i) * NS, &d), LW_OK);
        assert_string_equal(d.state, i == 0 ? "pending" : "limited");
    }
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 300 * NS, &d), LW_OK);
    assert_true(d.alert);
    lw_alerter_get_stats(al, &st);
    assert_int_equal(st.suppressed, 12);
    assert_int_equal(st.limited, 2);
    lw_alerter_stop(al, 5 * NS);
    fflush(stdout);
    assert_true(dup2(saved_out, STDOUT_FILENO) >= 0 && dup2(saved_err, STDERR_FILENO) >= 0);
    close(saved_out);
    close(saved_err);
    slurp(out_fd, out_path, out, sizeof(out));
    slurp(err_fd, err_path, log, sizeof(log));

    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL && n < 3) {
        json_t *o = json_loads(line, 0, NULL);

        assert_non_null(o);
        sup[n] = (uint64_t)json_integer_value(json_object_get(o, "suppressed_since_last"));
        lim[n] = (uint64_t)json_integer_value(json_object_get(o, "limited_since_last"));
        assert_non_null(json_object_get(o, "suppressed_since_last"));
        json_decref(o);
        n++;
    }
    fclose(f);
    unlink(path);
    rmdir(dir);
    assert_int_equal(n, 3);
    assert_int_equal(sup[0], 0);
    assert_int_equal(lim[0], 0);
    assert_int_equal(sup[1], 0);
    assert_int_equal(lim[1], 0);
    assert_int_equal(sup[2], 12);
    assert_int_equal(lim[2], 2);

    /* The stdout sink appends it to the alert's first line; nothing when nothing was held. */
    assert_int_equal(count_of(out, " more like this"), 1);
    assert_non_null(strstr(out, ": 480 lines in 10 s, expected 12 (12 more like this suppressed in "
                                "the last 5 min; 2 findings limited since the previous alert)\n"));

    /* The first held-back finding is logged at once, the rest (within the minute) at stop. */
    assert_int_equal(count_of(log, " alerts: "), 2);
    assert_non_null(strstr(log, " alerts: 0 findings limited and 1 suppressed in the last 1 s; "
                                "repeats within alerts.cooldown; see logwarden status\n"));
    assert_non_null(strstr(log, " alerts: 2 findings limited and 11 suppressed in the last "));
    assert_non_null(strstr(log, " s; raise alerts.rate_per_min or see logwarden status\n"));
    lw_alert_conf_fini(&c);
}

/*
 * `logwarden status` counts the findings held back from the store: every decision has an alert
 * row, and its state says suppressed or limited.
 */
static void test_status_counts_held_back(void **state)
{
    static const char *const states[] = {"pending", "sent", "sent", "failed", "suppressed",
                                         "suppressed", "suppressed", "limited", "limited"};
    char dir[64] = "/tmp/lw-alert-st-XXXXXX";
    char err[256] = "";
    char cmd[256];
    struct lw_store *s;
    struct lw_store_status st;
    struct lw_store_anomaly sa;
    struct lw_store_alert row;
    size_t i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    s = lw_store_open(dir, NULL, err, sizeof(err));
    assert_non_null(s);
    assert_int_equal(lw_store_begin(s), LW_OK);
    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        int64_t id = 0;

        memset(&sa, 0, sizeof(sa));
        sa.ts_ns = T0;
        sa.detector = "volume";
        sa.summary = "s";
        assert_int_equal(lw_store_insert_anomaly(s, &sa, &id), LW_OK);
        memset(&row, 0, sizeof(row));
        row.anomaly_id = id;
        row.incident = "inc-1";
        row.severity = "warning";
        row.state = states[i];
        row.created_ns = wall_now_ns();
        assert_int_equal(lw_store_insert_alert(s, &row, NULL), LW_OK);
    }
    assert_int_equal(lw_store_commit(s), LW_OK);
    lw_store_close(s);

    assert_int_equal(lw_store_status(dir, &st, err, sizeof(err)), LW_OK);
    assert_int_equal(st.n_anomalies, 9);
    assert_int_equal(st.n_alerts, 9);
    assert_int_equal(st.n_alerts_pending, 1);
    assert_int_equal(st.n_alerts_sent, 2);
    assert_int_equal(st.n_alerts_failed, 1);
    assert_int_equal(st.n_suppressed, 3);
    assert_int_equal(st.n_limited, 2);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* The warm-up lines: one when a detector is first seen warming up, one when it is over. */
static void test_warmup_log(void **state)
{
    char err_path[64] = "/tmp/lw-alert-err-XXXXXX";
    char log[4096];
    struct lw_detect_warmup w = {0};
    struct lw_detect_stats st;
    int err_fd;
    int saved_err;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.n_detectors = 2;
    st.names[0] = "volume";
    st.names[1] = "new_template";
    st.det[0].warming_up = true;
    st.det[0].warmup_have = 3;
    st.det[0].warmup_need = 30;
    st.det[0].warmup_unit = "windows";
    st.det[1].warmup_have = 20000;
    st.det[1].warmup_need = 20000;
    st.det[1].warmup_unit = "lines";

    err_fd = mkstemp(err_path);
    assert_true(err_fd >= 0);
    saved_err = dup(STDERR_FILENO);
    assert_true(dup2(err_fd, STDERR_FILENO) >= 0);
    lw_detect_warmup_update(&w, &st);  /* volume warming; new_template warm (a loaded model) */
    st.det[0].warmup_have = 12;
    lw_detect_warmup_update(&w, &st);  /* nothing new */
    st.det[0].warming_up = false;
    st.det[0].warmup_have = 30;
    lw_detect_warmup_update(&w, &st);  /* volume's warm-up is over */
    st.det[0].warming_up = true;      /* a dip (its best series evicted): no more lines */
    st.det[0].warmup_have = 29;
    lw_detect_warmup_update(&w, &st);
    assert_true(dup2(saved_err, STDERR_FILENO) >= 0);
    close(saved_err);
    slurp(err_fd, err_path, log, sizeof(log));

    assert_int_equal(count_of(log, "\n"), 2);
    assert_non_null(strstr(log, " detect: volume: warming up, 3/30 windows; it reports nothing "
                                "before that\n"));
    assert_non_null(strstr(log, " detect: volume: warm-up over (30/30 windows); it reports from "
                                "now on\n"));
    assert_null(strstr(log, "new_template"));
}

static void on_finding(void *opaque, const struct lw_anomaly *a)
{
    (void)opaque;
    (void)a;
}

/* Each detector's stats say what its warm-up needs, in its own unit. */
static void test_detector_warmup_stats(void **state)
{
    struct lw_detect_conf dc;
    struct lw_detect_stage *sg;
    struct lw_detect_stats st;
    char err[256] = "";
    size_t i;
    int k;
    int seen = 0;

    (void)state;
    lw_detect_conf_defaults(&dc, 10 * NS);
    sg = lw_detect_stage_create(&dc, on_finding, NULL, NULL, err, sizeof(err));
    if (sg == NULL) {
        fail_msg("lw_detect_stage_create: %s", err);
    }
    /* 100 lines of one template, one a second: 10 windows, the first partial. */
    for (k = 0; k < 100; k++) {
        struct lw_det_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.ts_ns = T0 + 5 * NS + (int64_t)k * NS;
        ev.arrival_ns = ev.ts_ns;
        ev.template_id = 1;
        ev.level = 0;
        ev.source = "web1";
        ev.msg = "hello";
        ev.msg_len = 5;
        lw_detect_stage_observe(sg, &ev);
        lw_detect_stage_tick(sg, ev.ts_ns, ev.ts_ns);
    }
    lw_detect_stage_get_stats(sg, &st);
    for (i = 0; i < st.n_detectors; i++) {
        const struct lw_det_stats *d = &st.det[i];

        assert_non_null(d->warmup_unit);
        assert_true(d->warmup_need > 0);
        assert_true(d->warmup_have <= d->warmup_need);
        assert_true(d->warming_up);
        if (strcmp(st.names[i], "volume") == 0) {
            assert_string_equal(d->warmup_unit, "windows");
            assert_int_equal(d->warmup_need, 30);
            assert_true(d->warmup_have >= 7 && d->warmup_have <= 9);
            seen++;
        }
        else if (strcmp(st.names[i], "new_template") == 0) {
            assert_string_equal(d->warmup_unit, "lines");
            assert_int_equal(d->warmup_have, 100);
            assert_int_equal(d->warmup_need, 20000);
            seen++;
        }
    }
    assert_int_equal(seen, 2);
    lw_detect_stage_destroy(sg);
    lw_detect_conf_fini(&dc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_time_replay),
        cmocka_unit_test(test_event_clock_never_steps_back),
        cmocka_unit_test(test_dedup_cooldown),
        cmocka_unit_test(test_grouping),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_severity),
        cmocka_unit_test(test_fingerprint_eviction),
        cmocka_unit_test(test_conf_errors),
        cmocka_unit_test(test_file_sink),
        cmocka_unit_test(test_file_sink_results),
        cmocka_unit_test(test_stdout_sink),
        cmocka_unit_test(test_stdout_escapes),
        cmocka_unit_test(test_file_sink_any_bytes),
        cmocka_unit_test(test_held_back),
        cmocka_unit_test(test_status_counts_held_back),
        cmocka_unit_test(test_warmup_log),
        cmocka_unit_test(test_detector_warmup_stats),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
