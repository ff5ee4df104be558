/*
 * Unit tests for lw_canon(): each expected string was produced by running the Loghub-2.0
 * correct_single_template() (benchmark/evaluation/utils/common.py) under Python 3.11 on the
 * input. The last test checks that every ground-truth template of the Loghub-2k data sets is
 * already canonical (skipped when $LW_SHARED_DATA/loghub-2k is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lw/lw_canon.h"
#include "lw/lw_mem.h"

struct canon_case {
    const char *in;
    const char *want;
};

static const struct canon_case cases[] = {
    /* DS + PS: the address tokens are paths, ":" splits them from the port. */
    {"  Receiving   block  blk_123 src: /10.0.0.1:50010 dest: /10.0.0.2:50010 ",
     "Receiving block blk_123 src: <*>:<*> dest: <*>:<*>"},
    {"Deleting block blk_<*> file /mnt/hadoop/dfs/data/current/subdir1/blk_<*>",
     "Deleting block <*> file <*>"},
    /* US and DG inside brackets and after "=". */
    {"session opened for user root by (uid=0)", "session opened for user <*> by (uid=<*>)"},
    /* BL and US ignore case. */
    {"flag is TRUE and value NULL, Admin false", "flag is <*> and value <*>, <*> <*>"},
    {"connect to 10.251.43.21:50010 took 12 ms", "connect to <*>:<*> took <*> ms"},
    /* DV and CV. */
    {"value=<*>.<*>.<*> and <*><*><*>", "value=<*> and <*>"},
    /* Loghub-2.0 has no ":", "/", "@" merging. */
    {"id <*>:<*> and <*>/<*> and <*>@<*>", "id <*>:<*> and <*>/<*> and <*>@<*>"},
    /* PS needs no "//" and no trailing "/". */
    {"path //double/slash and /trailing/ and /a/b", "path //double/slash and /trailing/ and <*>"},
    /* WV: a word glued to <*> becomes <*>, unless it holds a "/". */
    {"user<*>name and abc<*> and x/<*>", "<*> and <*> and x/<*>"},
    {"tab\there\nnewline\r\n  end", "tab here newline end"},
    {"#<*># and '<*>' and \"<*>\"", "#<*># and '<*>' and \"<*>\""},
    /* Unicode digits (Arabic-Indic three, four) count for DG as in Python's \d. */
    {"123abc 0x1f 42 -17 +5 3.14 \xd9\xa3\xd9\xa4", "123abc 0x1f <*> -<*> +<*> <*> <*>"},
    /* Unicode white space (no-break space, em space, ideographic space) for DS. */
    {"\xc2\xa0nbsp\xe2\x80\x83" "em space\xe3\x80\x80ideographic ", "nbsp em space ideographic"},
    {"", ""},
    {"   ", ""},
    {"a.true.b root-admin@null#x", "a.<*>.b <*>-<*>@<*>#x"},
    {"<*>.<*>.a <*>..<*>", "<*>.a <*>..<*>"},
};

static void test_cases(void **state)
{
    char out[256];
    size_t i;
    size_t n;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = lw_canon(cases[i].in, strlen(cases[i].in), out, sizeof(out));
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}

static void test_idempotent(void **state)
{
    char once[256];
    char twice[256];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lw_canon(cases[i].in, strlen(cases[i].in), once, sizeof(once));
        lw_canon(once, strlen(once), twice, sizeof(twice));
        assert_string_equal(once, twice);
    }
}

static void test_truncation(void **state)
{
    const char *in = "connect to 10.251.43.21:50010 took 12 ms";
    char out[8];
    size_t n;

    (void)state;
    n = lw_canon(in, strlen(in), out, sizeof(out));
    assert_int_equal(n, strlen("connect to <*>:<*> took <*> ms"));
    assert_string_equal(out, "connect");
    /* cap 0: nothing written, length still reported (like snprintf). */
    n = lw_canon(in, strlen(in), NULL, 0);
    assert_int_equal(n, strlen("connect to <*>:<*> took <*> ms"));
}

static void test_long_template(void **state)
{
    /* 3000 one-digit tokens: 6000 bytes in, more than the stack buffers, and the rewrite
     * first grows every "1" to "<*>" before DV merges them into one. */
    size_t n_tok = 3000;
    size_t len = 2 * n_tok - 1;
    char *in = lw_malloc(len + 1);
    char out[64];
    size_t i;
    size_t n;

    (void)state;
    assert_non_null(in);
    for (i = 0; i < n_tok; i++) {
        in[2 * i] = '1';
        if (i + 1 < n_tok) {
            in[2 * i + 1] = '.';
        }
    }
    in[len] = '\0';
    n = lw_canon(in, len, out, sizeof(out));
    assert_string_equal(out, "<*>");
    assert_int_equal(n, 3);
    /* Long and not shrinking: "a " repeated. */
    for (i = 0; i < len; i++) {
        in[i] = (i % 2 == 0) ? 'a' : ' ';
    }
    n = lw_canon(in, len, out, sizeof(out));
    assert_int_equal(n, len);
    lw_free(in);
}

/*
 * Reads one RFC 4180 record from @f into @fields (each a NUL-terminated copy in @buf). Returns
 * the number of fields, 0 at end of file. Enough for the *_templates.csv files.
 */
static size_t read_record(FILE *f, char *buf, size_t cap, char **fields, size_t max_fields)
{
    size_t n_fields = 0;
    size_t o = 0;
    int in_quotes = 0;
    int c;

    c = fgetc(f);
    if (c == EOF) {
        return 0;
    }
    fields[n_fields++] = buf;
    for (; c != EOF; c = fgetc(f)) {
        if (in_quotes) {
            if (c == '"') {
                int next = fgetc(f);

                if (next == '"') {
                    buf[o++] = '"';
                }
                else {
                    in_quotes = 0;
                    ungetc(next, f);
                }
            }
            else {
                buf[o++] = (char)c;
            }
        }
        else if (c == '"') {
            in_quotes = 1;
        }
        else if (c == ',') {
            buf[o++] = '\0';
            if (n_fields < max_fields) {
                fields[n_fields++] = buf + o;
            }
        }
        else if (c == '\n') {
            break;
        }
        else if (c != '\r') {
            buf[o++] = (char)c;
        }
        assert_true(o + 1 < cap);
    }
    buf[o] = '\0';
    return n_fields;
}

static const char *const systems[] = {"Apache", "BGL", "HDFS", "HPC", "Linux", "OpenSSH", "Spark"};

static void test_truth_templates_are_canonical(void **state)
{
    const char *base = getenv("LW_SHARED_DATA");
    char path[1024];
    char buf[8192];
    char out[8192];
    char *fields[8];
    size_t i;
    size_t n;
    size_t col;
    size_t n_checked = 0;
    size_t n_files = 0;
    FILE *f;

    (void)state;
    if (base == NULL) {
        skip();
    }
    for (i = 0; i < sizeof(systems) / sizeof(systems[0]); i++) {
        snprintf(path, sizeof(path), "%s/loghub-2k/%s/%s_2k.log_templates.csv", base, systems[i],
                 systems[i]);
        f = fopen(path, "r");
        if (f == NULL) {
            continue;
        }
        n_files++;
        n = read_record(f, buf, sizeof(buf), fields, 8);
        for (col = 0; col < n; col++) {
            if (strcmp(fields[col], "EventTemplate") == 0) {
                break;
            }
        }
        assert_true(col < n);
        while ((n = read_record(f, buf, sizeof(buf), fields, 8)) > 0) {
            if (col >= n) {
                continue;
            }
            lw_canon(fields[col], strlen(fields[col]), out, sizeof(out));
            if (strcmp(out, fields[col]) != 0) {
                print_error("%s: '%s' -> '%s'\n", systems[i], fields[col], out);
            }
            assert_string_equal(out, fields[col]);
            n_checked++;
        }
        fclose(f);
    }
    if (n_files == 0) {
        skip();
    }
    assert_true(n_checked > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_long_template),
        cmocka_unit_test(test_truth_templates_are_canonical),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
