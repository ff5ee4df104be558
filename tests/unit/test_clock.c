/*
 * Unit tests for the analysis layer's event-time clock (src/analyze/clock.c): per-source clocks,
 * timestamp-less lines, outliers and confirmed jumps, the global watermark over active and idle
 * sources, and that the event times depend on the lines alone, not on when they arrive.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lw/lw_clock.h"

#define S 1000000000LL
#define NONE INT64_MIN
#define T0 (1767225600LL * S) /* 2026-01-01 */
#define NOW (1796342400LL * S) /* wall clock of the tests, 2026-12-04 */

static struct lw_clock *mk(void)
{
    struct lw_clock_conf cf;

    memset(&cf, 0, sizeof(cf));
    cf.lateness_ns = 1 * S;
    cf.idle_close_ns = 10 * S - 1;
    return lw_clock_create(&cf);
}

static void test_timestampless_lines_take_source_time(void **state)
{
    struct lw_clock *c = mk();
    enum lw_clock_how how;

    (void)state;
    assert_int_equal(lw_clock_line(c, "app.log", T0 + 5 * S, NOW, &how, NULL), T0 + 5 * S);
    assert_int_equal(how, LW_CLOCK_OWN);
    /* A continuation line in a replay of old logs: the source's time, never "now". */
    assert_int_equal(lw_clock_line(c, "app.log", NONE, NOW, &how, NULL), T0 + 5 * S);
    assert_int_equal(how, LW_CLOCK_INHERITED);
    assert_int_equal(lw_clock_newest(c), T0 + 5 * S);
    /* Another source is not affected. */
    assert_int_equal(lw_clock_line(c, "other", T0 + 2 * S, NOW, &how, NULL), T0 + 2 * S);
    /* A source that never told the time runs on arrival time. */
    assert_int_equal(lw_clock_line(c, "bare", NONE, NOW, &how, NULL), NOW);
    assert_int_equal(how, LW_CLOCK_ARRIVAL);
    lw_clock_destroy(c);
}

static void test_outlier_does_not_move_clock(void **state)
{
    struct lw_clock *c = mk();
    struct lw_clock_stats st;
    enum lw_clock_how how;
    bool late = true;
    int i;

    (void)state;
    assert_int_equal(lw_clock_line(c, "a", T0, NOW, NULL, NULL), T0);
    /* Five years ahead (but not past the wall clock's day): not believed. */
    assert_int_equal(lw_clock_line(c, "a", T0 + 5 * 365 * 86400LL * S, NOW + 5 * 365 * 86400LL * S,
                                   &how, NULL), T0);
    assert_int_equal(how, LW_CLOCK_OUTLIER);
    /* The next lines are where they were: none late. */
    (void)lw_clock_watermark(c, NOW, NULL);
    for (i = 1; i <= 100; i++) {
        assert_int_equal(lw_clock_line(c, "a", T0 + i * S, NOW, &how, &late), T0 + i * S);
        assert_int_equal(how, LW_CLOCK_OWN);
        assert_false(late);
        (void)lw_clock_watermark(c, NOW, NULL);
    }
    /* A day past the wall clock is never believed. */
    assert_int_equal(lw_clock_line(c, "a", NOW + 2 * 86400LL * S, NOW, &how, NULL), T0 + 100 * S);
    assert_int_equal(how, LW_CLOCK_OUTLIER);
    lw_clock_get_stats(c, &st);
    assert_int_equal(st.outliers, 2);
    assert_int_equal(st.late, 0);
    lw_clock_destroy(c);
}

static void test_confirmed_jump(void **state)
{
    struct lw_clock *c = mk();
    enum lw_clock_how how;
    int64_t later = T0 + 3 * 3600 * S; /* a three-hour gap in a history */

    (void)state;
    (void)lw_clock_line(c, "a", T0, NOW, NULL, NULL);
    assert_int_equal(lw_clock_line(c, "a", later, NOW, &how, NULL), T0);
    assert_int_equal(how, LW_CLOCK_OUTLIER);
    assert_int_equal(lw_clock_line(c, "a", later + S, NOW, &how, NULL), later + S);
    assert_int_equal(how, LW_CLOCK_OWN);
    assert_int_equal(lw_clock_source_time(c, "a"), later + S);
    lw_clock_destroy(c);
}

static void test_watermark_min_of_active_sources(void **state)
{
    struct lw_clock *c = mk();
    bool late;

    (void)state;
    assert_true(lw_clock_watermark(c, NOW, NULL) == INT64_MIN);
    /* Two files backfilled at different speeds: the slower one holds the watermark. */
    (void)lw_clock_line(c, "fast", T0 + 50 * S, NOW, NULL, NULL);
    (void)lw_clock_line(c, "slow", T0 + 10 * S, NOW, NULL, NULL);
    assert_int_equal(lw_clock_watermark(c, NOW, NULL), T0 + 9 * S);
    (void)lw_clock_line(c, "slow", T0 + 11 * S, NOW, NULL, &late);
    assert_false(late);
    /* But never more than max_lag (60 s) behind the newest. */
    (void)lw_clock_line(c, "fast", T0 + 500 * S, NOW, NULL, NULL);
    assert_int_equal(lw_clock_watermark(c, NOW, NULL), T0 + 439 * S);
    (void)lw_clock_line(c, "slow", T0 + 12 * S, NOW, NULL, &late);
    assert_true(late);
    /* An idle source no longer holds it back. */
    (void)lw_clock_line(c, "fast", T0 + 501 * S, NOW + 10 * S, NULL, NULL);
    assert_int_equal(lw_clock_watermark(c, NOW + 10 * S, NULL), T0 + 500 * S);
    /* Every source idle: event time goes on with the wall clock ... */
    {
        bool idle = false;

        assert_int_equal(lw_clock_watermark(c, NOW + 16 * S, &idle), T0 + 506 * S);
        assert_true(idle);
    }
    /* ... until the window of the newest line closes, no further. */
    assert_int_equal(lw_clock_watermark(c, NOW + 60 * S, NULL), T0 + 501 * S + 10 * S - 1);
    /* Never backwards. */
    (void)lw_clock_line(c, "slow", T0 + 13 * S, NOW + 61 * S, NULL, NULL);
    assert_int_equal(lw_clock_watermark(c, NOW + 61 * S, NULL), T0 + 501 * S + 10 * S - 1);
    lw_clock_destroy(c);
}

/* The same lines give the same event times whatever their arrival times. */
static void test_speed_independent(void **state)
{
    static const int64_t ts[] = {0, NONE, 1, 2, NONE, 99999, 3, NONE, 4, 8000, 8001, NONE, 5};
    struct lw_clock *a = mk();
    struct lw_clock *b = mk();
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        int64_t t = ts[i] == NONE ? NONE : T0 + ts[i] * S;
        int64_t x = lw_clock_line(a, "src", t, NOW + (int64_t)i * 60 * S, NULL, NULL);
        int64_t y = lw_clock_line(b, "src", t, NOW, NULL, NULL);

        assert_int_equal(x, y);
    }
    lw_clock_destroy(a);
    lw_clock_destroy(b);
}

/* A batch through lw_clock_lines() gets the same event times as line by line. */
static void test_batch_same_as_lines(void **state)
{
    static const int64_t ts[] = {0, NONE, 1, 99999, 3, NONE, 4, 8000, 8001, NONE, 5};
    int64_t batch[sizeof(ts) / sizeof(ts[0])];
    struct lw_clock *a = mk();
    struct lw_clock *b = mk();
    size_t i, n = sizeof(ts) / sizeof(ts[0]);

    (void)state;
    for (i = 0; i < n; i++) {
        batch[i] = ts[i] == NONE ? NONE : T0 + ts[i] * S;
    }
    assert_int_equal(lw_clock_lines(b, "src", batch, n, NOW), 0);
    for (i = 0; i < n; i++) {
        int64_t t = ts[i] == NONE ? NONE : T0 + ts[i] * S;

        assert_int_equal(lw_clock_line(a, "src", t, NOW, NULL, NULL), batch[i]);
    }
    lw_clock_destroy(a);
    lw_clock_destroy(b);
}

/*
 * A batch of several sources through lw_clock_lines_multi(), interleaved line by line, gets the
 * same event times as line by line; also when the batch names more sources than the clock keeps
 * (the look-up per line then).
 */
static void check_multi(size_t max_sources, size_t n_src)
{
    static const int64_t ts[] = {0, NONE, 1, 99999, 3, NONE, 4, 8000, 8001, NONE, 5, 7, NONE};
    enum { N = 13 * 8 };
    const char *names[16];
    char bufs[16][32];
    uint32_t src_of[N];
    int64_t batch[N];
    struct lw_clock_conf cf;
    struct lw_clock *a;
    struct lw_clock *b;
    size_t i;
    uint64_t late;

    memset(&cf, 0, sizeof(cf));
    cf.lateness_ns = 1 * S;
    cf.max_sources = max_sources;
    a = lw_clock_create(&cf);
    b = lw_clock_create(&cf);
    assert_non_null(a);
    assert_non_null(b);
    for (i = 0; i < n_src; i++) {
        snprintf(bufs[i], sizeof(bufs[i]), "h%u", (unsigned int)i);
        names[i] = bufs[i];
    }
    for (i = 0; i < N; i++) {
        int64_t t = ts[(i / n_src) % 13];

        src_of[i] = (uint32_t)(i % n_src);
        batch[i] = t == NONE ? NONE : T0 + (t + (int64_t)src_of[i]) * S;
    }
    late = lw_clock_lines_multi(b, names, n_src, src_of, batch, N, NOW);
    assert_int_equal(late, 0);
    for (i = 0; i < N; i++) {
        int64_t t = ts[(i / n_src) % 13];

        t = t == NONE ? NONE : T0 + (t + (int64_t)src_of[i]) * S;
        assert_int_equal(lw_clock_line(a, names[src_of[i]], t, NOW, NULL, NULL), batch[i]);
    }
    lw_clock_destroy(a);
    lw_clock_destroy(b);
}

static void test_multi_same_as_lines(void **state)
{
    (void)state;
    check_multi(0, 1);
    check_multi(0, 8);
    check_multi(4, 8); /* more sources than kept: evictions within the batch */
}

static void test_source_cap(void **state)
{
    struct lw_clock_conf cf;
    struct lw_clock *c;
    struct lw_clock_stats st;
    char name[32];
    int i;

    (void)state;
    memset(&cf, 0, sizeof(cf));
    cf.max_sources = 100;
    c = lw_clock_create(&cf);
    for (i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "host-%d", i);
        (void)lw_clock_line(c, name, T0 + i * S, NOW + i, NULL, NULL);
    }
    lw_clock_get_stats(c, &st);
    assert_int_equal(st.sources, 100);
    assert_int_equal(st.evicted, 900);
    assert_int_equal(lw_clock_source_time(c, "host-999"), T0 + 999 * S);
    assert_true(lw_clock_source_time(c, "host-0") == INT64_MIN);
    lw_clock_destroy(c);
}


/* With windows, a line is late only when its window has closed: 1 s time stamps among ms ones. */
static void test_late_by_window(void **state)
{
    struct lw_clock_conf cf;
    struct lw_clock *c;
    bool late = true;

    (void)state;
    memset(&cf, 0, sizeof(cf));
    cf.lateness_ns = S / 2;
    cf.window_ns = 10 * S;
    c = lw_clock_create(&cf);
    (void)lw_clock_line(c, "mix", T0 + 9 * S + 900000000LL, NOW, NULL, NULL);
    (void)lw_clock_watermark(c, NOW, NULL);
    /* 0.9 s behind the watermark's source, in a window still open: not late. */
    (void)lw_clock_line(c, "mix", T0 + 9 * S, NOW, NULL, &late);
    assert_false(late);
    (void)lw_clock_line(c, "mix", T0 + 10 * S + 600000000LL, NOW, NULL, NULL);
    (void)lw_clock_watermark(c, NOW, NULL);
    /* The watermark (10.1 s) has passed the end of [0, 10): a line for it is late. */
    (void)lw_clock_line(c, "mix", T0 + 9 * S + 990000000LL, NOW, NULL, &late);
    assert_true(late);
    lw_clock_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestampless_lines_take_source_time),
        cmocka_unit_test(test_outlier_does_not_move_clock),
        cmocka_unit_test(test_confirmed_jump),
        cmocka_unit_test(test_watermark_min_of_active_sources),
        cmocka_unit_test(test_speed_independent),
        cmocka_unit_test(test_batch_same_as_lines),
        cmocka_unit_test(test_multi_same_as_lines),
        cmocka_unit_test(test_source_cap),
        cmocka_unit_test(test_late_by_window),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
