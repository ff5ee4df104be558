/*
 * Unit tests for lw_ts_parse() and lw_ts_from_civil(): one case per timestamp style, with the
 * expected epoch values computed by hand (and cross-checked with Python's datetime in UTC).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"

#define S INT64_C(1000000000)

static int64_t ts_of(const char *s, int ref_year, size_t *consumed)
{
    int64_t ts = 0;
    size_t n = lw_ts_parse(s, strlen(s), ref_year, &ts);

    if (consumed != NULL) {
        *consumed = n;
    }
    return n > 0 ? ts : LW_TS_UNKNOWN;
}

static void test_civil(void **state)
{
    int64_t ts;

    (void)state;
    assert_int_equal(lw_ts_from_civil(1970, 1, 1, 0, 0, 0, 0, &ts), LW_OK);
    assert_true(ts == 0);
    assert_int_equal(lw_ts_from_civil(2024, 2, 29, 23, 59, 59, 0, &ts), LW_OK);
    assert_true(ts == 1709251199 * S);
    assert_int_equal(lw_ts_from_civil(1900, 1, 1, 0, 0, 0, 0, &ts), LW_OK);
    assert_true(ts == INT64_C(-2208988800) * S);
    assert_int_equal(lw_ts_from_civil(2023, 2, 29, 0, 0, 0, 0, &ts), LW_EINVAL);
    assert_int_equal(lw_ts_from_civil(2024, 13, 1, 0, 0, 0, 0, &ts), LW_EINVAL);
    assert_int_equal(lw_ts_from_civil(9999, 1, 1, 0, 0, 0, 0, &ts), LW_EINVAL);
}

static void test_iso(void **state)
{
    size_t n;

    (void)state;
    /* 2024-05-01T12:00:00.123+02:00 = 10:00:00.123 UTC = 1714557600.123 */
    assert_true(ts_of("2024-05-01T12:00:00.123+02:00", 0, &n) == 1714557600 * S + 123000000);
    assert_int_equal(n, 29);
    assert_true(ts_of("2024-05-01T12:00:00Z rest", 0, &n) == 1714564800 * S);
    assert_int_equal(n, 20);
    assert_true(ts_of("2024-05-01T12:00:00.5-0130", 0, NULL) ==
                (1714564800 + 5400) * S + 500000000);
    assert_true(ts_of("2024-05-01", 0, &n) == 1714521600 * S);
    assert_int_equal(n, 10);
}

static void test_log4j(void **state)
{
    size_t n;

    (void)state;
    assert_true(ts_of("2024-05-01 12:00:00,123 INFO", 0, &n) == 1714564800 * S + 123000000);
    assert_int_equal(n, 23);
}

static void test_bgl(void **state)
{
    size_t n;

    (void)state;
    /* 2005-06-03 15:42:50 UTC = 1117813370 */
    assert_true(ts_of("2005-06-03-15.42.50.675872", 0, &n) == 1117813370 * S + 675872000);
    assert_int_equal(n, 26);
    assert_true(ts_of("2005.06.03", 0, &n) == (1117813370 - 15 * 3600 - 42 * 60 - 50) * S);
    assert_true(ts_of("1117838570", 0, &n) == 1117838570 * S);
    assert_int_equal(n, 10);
}

static void test_epoch_units(void **state)
{
    (void)state;
    assert_true(ts_of("1077804742 1 x", 0, NULL) == 1077804742 * S);
    assert_true(ts_of("1077804742.25", 0, NULL) == 1077804742 * S + 250000000);
    assert_true(ts_of("1077804742123", 0, NULL) == 1077804742123 * INT64_C(1000000));
    assert_true(ts_of("1077804742123456", 0, NULL) == INT64_C(1077804742123456) * 1000);
    assert_true(ts_of("1077804742123456789", 0, NULL) == INT64_C(1077804742123456789));
    assert_true(ts_of("9999999999999999999", 0, NULL) == LW_TS_UNKNOWN);
    assert_true(ts_of("99999999999999", 0, NULL) == LW_TS_UNKNOWN);
}

static void test_hdfs_spark(void **state)
{
    size_t n;

    (void)state;
    assert_true(ts_of("081109 203615", 0, &n) == 1226262975 * S);
    assert_int_equal(n, 13);
    assert_true(ts_of("17/06/09 20:10:40", 0, &n) == 1497039040 * S);
    assert_int_equal(n, 17);
}

static void test_rfc3164_apache_clf(void **state)
{
    size_t n;

    (void)state;
    assert_true(ts_of("Jun 14 15:16:01 combo", 2005, &n) == 1118762161 * S);
    assert_int_equal(n, 15);
    assert_true(ts_of("Dec 10 06:55:46", 2024, NULL) == 1733813746 * S);
    assert_true(ts_of("Jun  4 00:00:00", 1970, NULL) == (31 + 28 + 31 + 30 + 31 + 3) * 86400 * S);
    assert_true(ts_of("Sun Dec 04 04:47:44 2005", 1999, &n) == 1133671664 * S);
    assert_int_equal(n, 24);
    assert_true(ts_of("Sun Dec 04 04:47:44", 1999, NULL) == LW_TS_UNKNOWN);
    assert_true(ts_of("10/Oct/2000:13:55:36 -0700", 0, &n) == 971211336 * S);
    assert_int_equal(n, 26);
}

static void test_garbage(void **state)
{
    static const char *const bad[] = {"", "x", "2024", "2024-13-01", "2024-02-30", "Jun",
                                       "Jun 14", "Jun 14 25:00", "12/", "12/Foo/2000:1",
                                       "0811 203615", "1.2.3.4", "\xff\xfe", "Mon", "20240501"};
    size_t i;
    int64_t ts;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lw_ts_parse(bad[i], strlen(bad[i]), 2024, &ts), 0);
    }
    /* Truncated inputs never read past their length. */
    {
        const char *full = "2024-05-01T12:00:00.123+02:00";
        size_t k;

        for (k = 0; k <= strlen(full); k++) {
            /* Plain malloc of exactly k bytes, so ASan sees any over-read. */
            char *copy = malloc(k > 0 ? k : 1);

            memcpy(copy, full, k);
            (void)lw_ts_parse(copy, k, 2024, &ts);
            free(copy);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil),        cmocka_unit_test(test_iso),
        cmocka_unit_test(test_log4j),        cmocka_unit_test(test_bgl),
        cmocka_unit_test(test_epoch_units),  cmocka_unit_test(test_hdfs_spark),
        cmocka_unit_test(test_rfc3164_apache_clf), cmocka_unit_test(test_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
