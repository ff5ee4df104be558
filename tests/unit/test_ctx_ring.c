/*
 * Unit tests for the engine's context-line ring (src/engine/ctx_ring.h): lines per source in
 * event-time order, the per-source bound, long and invalid UTF-8 lines made safe for JSON, the
 * source bound (least recently fed ring reused) and an unknown source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "engine/ctx_ring.h"
#include "lw/lw_mem.h"

static json_t *lines_of(struct lw_ctx_ring *r, const char *source)
{
    char *s = lw_ctx_ring_json(r, source);
    json_t *j;

    if (s == NULL) {
        return NULL;
    }
    j = json_loads(s, 0, NULL);
    lw_free(s);
    assert_non_null(j);
    assert_true(json_is_array(j));
    return j;
}

static const char *line_at(json_t *j, size_t i)
{
    return json_string_value(json_object_get(json_array_get(j, i), "line"));
}

static void test_order_and_bound(void **state)
{
    struct lw_ctx_ring *r = lw_ctx_ring_create();
    char buf[32];
    json_t *j;
    int i;

    (void)state;
    assert_non_null(r);
    for (i = 0; i < 50; i++) {
        snprintf(buf, sizeof(buf), "line %d\n", i);
        /* Times go backwards once in a while: the JSON is sorted by time anyway. */
        lw_ctx_ring_add(r, "a", (int64_t)(i % 10 == 5 ? i - 3 : i) * 1000, buf, strlen(buf));
        lw_ctx_ring_add(r, "b", i, "other", 5);
    }
    j = lines_of(r, "a");
    assert_int_equal(json_array_size(j), LW_CTX_LINES);
    assert_string_equal(line_at(j, LW_CTX_LINES - 1), "line 49");
    for (i = 1; i < LW_CTX_LINES; i++) {
        assert_true(json_integer_value(json_object_get(json_array_get(j, i - 1), "time")) <=
                    json_integer_value(json_object_get(json_array_get(j, i), "time")));
    }
    json_decref(j);
    j = lines_of(r, "b");
    assert_string_equal(line_at(j, 0), "other");
    json_decref(j);
    assert_null(lw_ctx_ring_json(r, "nobody"));
    /* NULL is the "" source. */
    lw_ctx_ring_add(r, NULL, 1, "x", 1);
    j = lines_of(r, "");
    assert_int_equal(json_array_size(j), 1);
    json_decref(j);
    lw_ctx_ring_destroy(r);
}

static void test_hostile_lines(void **state)
{
    struct lw_ctx_ring *r = lw_ctx_ring_create();
    char big[4000];
    const char bad[] = "caf\xc3 \xff\xfe \"q\" \x01";
    json_t *j;

    (void)state;
    memset(big, 'x', sizeof(big));
    /* A two-byte character straddles the cut: it must not be split. */
    big[LW_CTX_LINE_MAX - 1] = (char)0xc3;
    big[LW_CTX_LINE_MAX] = (char)0xa9;
    lw_ctx_ring_add(r, "s", 1, big, sizeof(big));
    lw_ctx_ring_add(r, "s", 2, bad, sizeof(bad) - 1);
    j = lines_of(r, "s");
    assert_int_equal(json_array_size(j), 2);
    assert_int_equal(strlen(line_at(j, 0)), LW_CTX_LINE_MAX - 1);
    assert_string_equal(line_at(j, 1), "caf? ?? \"q\" \x01");
    json_decref(j);
    lw_ctx_ring_destroy(r);
}

static void test_many_sources(void **state)
{
    struct lw_ctx_ring *r = lw_ctx_ring_create();
    char name[32];
    json_t *j;
    int i;

    (void)state;
    lw_ctx_ring_add(r, "keep", 0, "k", 1);
    for (i = 0; i < 3 * LW_CTX_SOURCES; i++) {
        snprintf(name, sizeof(name), "src-%d", i);
        lw_ctx_ring_add(r, name, i, name, strlen(name));
        if (i % 16 == 0) {
            lw_ctx_ring_add(r, "keep", i, "k", 1); /* fed often: never the oldest */
        }
    }
    j = lines_of(r, "keep");
    assert_non_null(j);
    json_decref(j);
    snprintf(name, sizeof(name), "src-%d", 3 * LW_CTX_SOURCES - 1);
    j = lines_of(r, name);
    assert_non_null(j);
    assert_string_equal(line_at(j, 0), name);
    json_decref(j);
    assert_null(lw_ctx_ring_json(r, "src-0"));
    lw_ctx_ring_destroy(r);
    lw_ctx_ring_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_bound),
        cmocka_unit_test(test_hostile_lines),
        cmocka_unit_test(test_many_sources),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
