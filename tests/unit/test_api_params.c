/*
 * Parameter parsing of the query API (src/api/api_params.c): times, durations, steps, limits,
 * ids and cursors, with the malformed inputs a client may send.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "api/api_params.h"
#include "lw/lw_err.h"

#define S 1000000000LL

static void test_duration(void **state)
{
    int64_t d = 0;

    (void)state;
    assert_int_equal(lw_api_parse_duration("10s", &d), LW_OK);
    assert_true(d == 10 * S);
    assert_int_equal(lw_api_parse_duration("15m", &d), LW_OK);
    assert_true(d == 900 * S);
    assert_int_equal(lw_api_parse_duration("1h", &d), LW_OK);
    assert_true(d == 3600 * S);
    assert_int_equal(lw_api_parse_duration("7d", &d), LW_OK);
    assert_true(d == 7 * 86400 * S);
    assert_int_equal(lw_api_parse_duration("500ms", &d), LW_OK);
    assert_true(d == S / 2);
    assert_int_equal(lw_api_parse_duration("30", &d), LW_OK);
    assert_true(d == 30 * S);
    assert_int_equal(lw_api_parse_duration("0s", &d), LW_EINVAL);
    assert_int_equal(lw_api_parse_duration("", &d), LW_EINVAL);
    assert_int_equal(lw_api_parse_duration("h", &d), LW_EINVAL);
    assert_int_equal(lw_api_parse_duration("5y", &d), LW_EINVAL);
    assert_int_equal(lw_api_parse_duration("-5m", &d), LW_EINVAL);
    assert_int_equal(lw_api_parse_duration("99999999999999999999s", &d), LW_EINVAL);
    assert_int_equal(lw_api_parse_duration("9999999999999w", &d), LW_EINVAL);
    assert_int_equal(lw_api_parse_duration(NULL, &d), LW_EINVAL);
}

static void test_time(void **state)
{
    const int64_t now = 1796400000LL * S;
    int64_t t = 0;

    (void)state;
    assert_int_equal(lw_api_parse_time("now", now, &t), LW_OK);
    assert_true(t == now);
    assert_int_equal(lw_api_parse_time("-1h", now, &t), LW_OK);
    assert_true(t == now - 3600 * S);
    assert_int_equal(lw_api_parse_time("+5m", now, &t), LW_OK);
    assert_true(t == now + 300 * S);
    assert_int_equal(lw_api_parse_time("1764842400", now, &t), LW_OK);
    assert_true(t == 1764842400LL * S);
    assert_int_equal(lw_api_parse_time("1764842400.25", now, &t), LW_OK);
    assert_true(t == 1764842400LL * S + S / 4);
    assert_int_equal(lw_api_parse_time("2025-12-04T10:00:00Z", now, &t), LW_OK);
    assert_true(t == 1764842400LL * S);
    assert_int_equal(lw_api_parse_time("2025-12-04T11:00:00.500+01:00", now, &t), LW_OK);
    assert_true(t == 1764842400LL * S + S / 2);
    assert_int_equal(lw_api_parse_time("2025-12-04 10:00:00z", now, &t), LW_OK);
    assert_true(t == 1764842400LL * S);
    /* Malformed. */
    assert_int_equal(lw_api_parse_time("", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("yesterday", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("2025-12-04T10:00:00", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("2025-13-04T10:00:00Z", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("2025-12-04T10:00:00Zjunk", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("2025-12-04T10:00:00+1:00", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("12.", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("12a", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("-1x", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time("99999999999999999999", now, &t), LW_EINVAL);
    assert_int_equal(lw_api_parse_time(NULL, now, &t), LW_EINVAL);
}

static void test_limit_id(void **state)
{
    size_t n = 0;
    int64_t id = 0;

    (void)state;
    assert_int_equal(lw_api_parse_limit(NULL, 100, 1000, &n), LW_OK);
    assert_int_equal(n, 100);
    assert_int_equal(lw_api_parse_limit("", 100, 1000, &n), LW_OK);
    assert_int_equal(n, 100);
    assert_int_equal(lw_api_parse_limit("1000", 100, 1000, &n), LW_OK);
    assert_int_equal(n, 1000);
    assert_int_equal(lw_api_parse_limit("1001", 100, 1000, &n), LW_EINVAL);
    assert_int_equal(lw_api_parse_limit("0", 100, 1000, &n), LW_EINVAL);
    assert_int_equal(lw_api_parse_limit("-3", 100, 1000, &n), LW_EINVAL);
    assert_int_equal(lw_api_parse_limit("5x", 100, 1000, &n), LW_EINVAL);
    assert_int_equal(lw_api_parse_id("42", &id), LW_OK);
    assert_true(id == 42);
    assert_int_equal(lw_api_parse_id("0", &id), LW_EINVAL);
    assert_int_equal(lw_api_parse_id("4 2", &id), LW_EINVAL);
    assert_int_equal(lw_api_parse_id("", &id), LW_EINVAL);
}

static void test_step(void **state)
{
    (void)state;
    /* An hour at most 300 points: 30 s buckets (10 s would be 360). */
    assert_true(lw_api_pick_step(0, 3600 * S, 10, 300) == 30 * S);
    /* A week: 1 h buckets (168 points). */
    assert_true(lw_api_pick_step(0, 7 * 86400 * S, 10, 300) == 3600 * S);
    /* Never below the window, always a multiple of it. */
    assert_true(lw_api_pick_step(0, 60 * S, 10, 300) == 10 * S);
    assert_true(lw_api_pick_step(0, 60 * S, 60, 300) == 60 * S);
    assert_true(lw_api_align_step(15 * S, 10) == 20 * S);
    assert_true(lw_api_align_step(1 * S, 10) == 10 * S);
    assert_true(lw_api_align_step(60 * S, 10) == 60 * S);
}

static void test_cursor(void **state)
{
    char buf[LW_API_CURSOR_MAX];
    char key[64];
    int64_t ts = 0;
    int64_t id = 0;

    (void)state;
    assert_int_equal(lw_api_cursor_encode(buf, sizeof(buf), -5, 77, "inc-ab/c d"), LW_OK);
    assert_null(strpbrk(buf, "/ &?=+%"));
    assert_int_equal(lw_api_cursor_decode(buf, &ts, &id, key, sizeof(key)), LW_OK);
    assert_true(ts == -5 && id == 77);
    assert_string_equal(key, "inc-ab/c d");
    assert_int_equal(lw_api_cursor_encode(buf, sizeof(buf), 1796400000LL * S, 3, NULL), LW_OK);
    assert_int_equal(lw_api_cursor_decode(buf, &ts, &id, key, sizeof(key)), LW_OK);
    assert_true(ts == 1796400000LL * S && id == 3);
    assert_string_equal(key, "");
    /* Too small a buffer. */
    assert_int_equal(lw_api_cursor_encode(buf, 8, 1796400000LL * S, 3, NULL), LW_EFULL);
    /* Malformed. */
    assert_int_equal(lw_api_cursor_decode("", &ts, &id, key, sizeof(key)), LW_EINVAL);
    assert_int_equal(lw_api_cursor_decode("12", &ts, &id, key, sizeof(key)), LW_EINVAL);
    assert_int_equal(lw_api_cursor_decode("1.2", &ts, &id, key, sizeof(key)), LW_EINVAL);
    assert_int_equal(lw_api_cursor_decode("1.2.6", &ts, &id, key, sizeof(key)), LW_EINVAL);
    assert_int_equal(lw_api_cursor_decode("1.2.zz", &ts, &id, key, sizeof(key)), LW_EINVAL);
    assert_int_equal(lw_api_cursor_decode("1.2.00", &ts, &id, key, sizeof(key)), LW_EINVAL);
    assert_int_equal(lw_api_cursor_decode("1.2.414243", &ts, &id, key, 3), LW_EINVAL);
    assert_int_equal(lw_api_cursor_decode("x.2.", &ts, &id, key, sizeof(key)), LW_EINVAL);
}

static void test_fmt(void **state)
{
    char buf[LW_API_TIME_LEN];

    (void)state;
    lw_api_fmt_time(1764842400LL * S + 123456789, buf);
    assert_string_equal(buf, "2025-12-04T10:00:00.123Z");
    lw_api_fmt_time(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration), cmocka_unit_test(test_time),
        cmocka_unit_test(test_limit_id), cmocka_unit_test(test_step),
        cmocka_unit_test(test_cursor),   cmocka_unit_test(test_fmt),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
