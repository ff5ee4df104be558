/*
 * Unit tests for line framing (src/parse/frame.c) through its public API: lw_frame_buffer() for
 * the framing rules, lw_reader_* over files, gzip files, pipes and the memory path. Files are
 * written into mkstemp() files under $TMPDIR and removed by each test.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_mem.h"

/* Lines captured from a reader or lw_frame_buffer(), copied so they outlive the call. */
struct captured {
    size_t n;
    size_t cap;
    char **data;
    size_t *len;
    uint32_t *flags;
    uint64_t *offset;
    uint64_t *lineno;
};

static void cap_add(struct captured *c, const struct lw_line *l)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->data = realloc(c->data, c->cap * sizeof(*c->data));
        c->len = realloc(c->len, c->cap * sizeof(*c->len));
        c->flags = realloc(c->flags, c->cap * sizeof(*c->flags));
        c->offset = realloc(c->offset, c->cap * sizeof(*c->offset));
        c->lineno = realloc(c->lineno, c->cap * sizeof(*c->lineno));
        assert_non_null(c->data);
        assert_non_null(c->len);
        assert_non_null(c->flags);
        assert_non_null(c->offset);
        assert_non_null(c->lineno);
    }
    c->data[c->n] = malloc(l->len + 1);
    assert_non_null(c->data[c->n]);
    memcpy(c->data[c->n], l->data, l->len);
    c->data[c->n][l->len] = '\0';
    c->len[c->n] = l->len;
    c->flags[c->n] = l->flags;
    c->offset[c->n] = l->offset;
    c->lineno[c->n] = l->lineno;
    c->n++;
}

static void cap_free(struct captured *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        free(c->data[i]);
    }
    free(c->data);
    free(c->len);
    free(c->flags);
    free(c->offset);
    free(c->lineno);
    memset(c, 0, sizeof(*c));
}

static int on_line(void *opaque, const struct lw_line *l)
{
    cap_add(opaque, l);
    return 0;
}

static int frame(const char *s, size_t len, const struct lw_reader_conf *conf, struct captured *c)
{
    memset(c, 0, sizeof(*c));
    return lw_frame_buffer(s, len, conf, on_line, c);
}

static void read_all(struct lw_reader *r, struct captured *c)
{
    struct lw_line l;
    int rc;

    memset(c, 0, sizeof(*c));
    while ((rc = lw_reader_next(r, &l)) == 1) {
        cap_add(c, &l);
    }
    assert_int_equal(rc, 0);
}

static char *tmp_path(void)
{
    const char *dir = getenv("TMPDIR");
    char *p = malloc(512);
    int fd;

    assert_non_null(p);
    snprintf(p, 512, "%s/lw_frame_XXXXXX", dir != NULL ? dir : "/tmp");
    fd = mkstemp(p);
    assert_true(fd >= 0);
    close(fd);
    return p;
}

static char *write_tmp(const char *data, size_t len)
{
    char *p = tmp_path();
    FILE *f = fopen(p, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return p;
}

static void remove_tmp(char *p)
{
    unlink(p);
    free(p);
}

#define S(lit) lit, sizeof(lit) - 1

/* ------------------------------------------------------------------------------------------ */

static void test_lf(void **state)
{
    struct captured c;

    (void)state;
    assert_int_equal(frame(S("a\nbb\nccc\n"), NULL, &c), 3);
    assert_string_equal(c.data[0], "a");
    assert_string_equal(c.data[1], "bb");
    assert_string_equal(c.data[2], "ccc");
    assert_int_equal(c.offset[1], 2);
    assert_int_equal(c.offset[2], 5);
    assert_int_equal(c.lineno[2], 3);
    assert_int_equal(c.flags[0], 0);
    cap_free(&c);
}

static void test_crlf(void **state)
{
    struct captured c;

    (void)state;
    assert_int_equal(frame(S("a\r\nbb\r\n\r\nx\ry\r\n"), NULL, &c), 4);
    assert_string_equal(c.data[0], "a");
    assert_string_equal(c.data[1], "bb");
    assert_string_equal(c.data[2], "");
    assert_string_equal(c.data[3], "x\ry"); /* a lone CR is data */
    assert_int_equal(c.offset[3], 9);
    cap_free(&c);
}

static void test_no_final_newline(void **state)
{
    struct captured c;

    (void)state;
    assert_int_equal(frame(S("one\ntwo"), NULL, &c), 2);
    assert_string_equal(c.data[1], "two");
    cap_free(&c);
    assert_int_equal(frame(S(""), NULL, &c), 0);
    cap_free(&c);
    assert_int_equal(frame(NULL, 0, NULL, &c), 0);
    cap_free(&c);
}

static void test_empty_lines(void **state)
{
    struct captured c;

    (void)state;
    assert_int_equal(frame(S("\n\na\n\n"), NULL, &c), 4);
    assert_string_equal(c.data[0], "");
    assert_string_equal(c.data[1], "");
    assert_string_equal(c.data[2], "a");
    assert_string_equal(c.data[3], "");
    assert_int_equal(c.lineno[3], 4);
    cap_free(&c);
}

static void test_max_line(void **state)
{
    struct lw_reader_conf conf = {.max_line_bytes = 8};
    struct captured c;

    (void)state;
    /* Exactly max (also with CRLF), one over, and a final unterminated over-long line. */
    assert_int_equal(frame(S("12345678\n12345678\r\n123456789\nok\nabcdefghijk"), &conf, &c), 5);
    assert_string_equal(c.data[0], "12345678");
    assert_int_equal(c.flags[0], 0);
    assert_string_equal(c.data[1], "12345678");
    assert_int_equal(c.flags[1], 0);
    assert_string_equal(c.data[2], "12345678");
    assert_int_equal(c.flags[2], LW_LINE_TRUNCATED);
    assert_string_equal(c.data[3], "ok");
    assert_int_equal(c.lineno[3], 4);
    assert_string_equal(c.data[4], "abcdefgh");
    assert_int_equal(c.flags[4], LW_LINE_TRUNCATED);
    cap_free(&c);
}

static void test_truncate_utf8_boundary(void **state)
{
    struct lw_reader_conf conf = {.max_line_bytes = 4};
    struct captured c;

    (void)state;
    /* "ab" + U+00E9 (2 bytes) + U+20AC (3 bytes): the cut backs off to a character boundary. */
    assert_int_equal(frame(S("ab\xc3\xa9\xe2\x82\xac\n"), &conf, &c), 1);
    assert_int_equal(c.len[0], 4);
    assert_int_equal(c.flags[0], LW_LINE_TRUNCATED);
    cap_free(&c);
    conf.max_line_bytes = 5;
    assert_int_equal(frame(S("ab\xc3\xa9\xe2\x82\xac\n"), &conf, &c), 1);
    assert_int_equal(c.len[0], 4);
    assert_int_equal(c.flags[0], LW_LINE_TRUNCATED);
    cap_free(&c);
}

static void test_huge_line_file(void **state)
{
    struct lw_reader_conf conf = {.max_line_bytes = 1024};
    size_t big = 10u * 1024 * 1024;
    struct lw_reader *r;
    struct captured c;
    char err[256];
    char *data;
    char *path;
    size_t i;

    (void)state;
    data = malloc(big + 64);
    assert_non_null(data);
    memcpy(data, "first\n", 6);
    for (i = 6; i < 6 + big; i++) {
        data[i] = (char)('a' + i % 26);
    }
    memcpy(data + 6 + big, "\nnext line\nlast", 15);
    path = write_tmp(data, 6 + big + 15);
    r = lw_reader_open(path, &conf, err, sizeof(err));
    assert_non_null(r);
    read_all(r, &c);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.data[0], "first");
    assert_int_equal(c.len[1], 1024);
    assert_int_equal(c.flags[1], LW_LINE_TRUNCATED);
    assert_memory_equal(c.data[1], data + 6, 1024);
    assert_string_equal(c.data[2], "next line");
    assert_int_equal(c.lineno[2], 3);
    assert_int_equal(c.offset[2], 6 + big + 1);
    assert_string_equal(c.data[3], "last");
    assert_int_equal(lw_reader_n_truncated(r), 1);
    assert_int_equal(lw_reader_bytes(r), 6 + big + 15);
    lw_reader_destroy(r);
    cap_free(&c);

    /* The same bytes through the memory path give the same lines. */
    assert_int_equal(frame(data, 6 + big + 15, &conf, &c), 4);
    assert_int_equal(c.len[1], 1024);
    assert_string_equal(c.data[2], "next line");
    cap_free(&c);
    free(data);
    remove_tmp(path);
}

static void test_invalid(void **state)
{
    struct captured c;

    (void)state;
    assert_int_equal(frame(S("ok\na\0b\nbad \xff\xfe\n\xc3\xa9t\xc3\xa9\n"), NULL, &c), 4);
    assert_int_equal(c.flags[0], 0);
    assert_int_equal(c.len[1], 3);
    assert_memory_equal(c.data[1], "a\0b", 3);
    assert_int_equal(c.flags[1], LW_LINE_INVALID);
    assert_int_equal(c.flags[2], LW_LINE_INVALID);
    assert_memory_equal(c.data[2], "bad \xff\xfe", 6);
    assert_int_equal(c.flags[3], 0);
    cap_free(&c);
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(lw_utf8_valid(S("")));
    assert_true(lw_utf8_valid(S("plain ascii text longer than eight bytes")));
    assert_true(lw_utf8_valid(S("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 and more ascii")));
    assert_true(lw_utf8_valid(S("\xef\xbf\xbf\xf4\x8f\xbf\xbf")));
    assert_false(lw_utf8_valid(S("abcdefgh\0abcdefgh")));
    assert_false(lw_utf8_valid(S("abcdefghijklmno\0")));
    assert_false(lw_utf8_valid(S("\xc0\xaf")));             /* overlong */
    assert_false(lw_utf8_valid(S("\xe0\x80\xaf")));         /* overlong */
    assert_false(lw_utf8_valid(S("\xed\xa0\x80")));         /* surrogate */
    assert_false(lw_utf8_valid(S("\xf4\x90\x80\x80")));     /* above U+10FFFF */
    assert_false(lw_utf8_valid(S("\xf5\x80\x80\x80")));
    assert_false(lw_utf8_valid(S("abcdefg\xc3")));          /* cut sequence */
    assert_false(lw_utf8_valid(S("\x80")));
    assert_false(lw_utf8_valid(S("abc\xe2\x82")));
}

static void write_gz(const char *path, const char *mode, const char *data, size_t len)
{
    gzFile gz = gzopen(path, mode);

    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, data, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

static void test_gzip(void **state)
{
    struct lw_reader *r;
    struct captured c;
    char err[256];
    char *path = tmp_path();
    char *big;
    size_t i, n = 0;

    (void)state;
    /* Enough lines that inflate output crosses several buffer refills. */
    big = malloc(3u * 1024 * 1024);
    assert_non_null(big);
    for (i = 0; n < 3u * 1024 * 1024 - 100; i++) {
        n += (size_t)snprintf(big + n, 100, "line %zu of the gzip test\r\n", i);
    }
    write_gz(path, "wb", big, n);
    r = lw_reader_open(path, NULL, err, sizeof(err));
    assert_non_null(r);
    read_all(r, &c);
    assert_int_equal(c.n, i);
    assert_string_equal(c.data[0], "line 0 of the gzip test");
    assert_memory_equal(c.data[i - 1], big + n - c.len[i - 1] - 2, c.len[i - 1]);
    assert_int_equal(lw_reader_bytes(r), n);
    lw_reader_destroy(r);
    cap_free(&c);
    free(big);
    remove_tmp(path);
}

static void test_gzip_concatenated(void **state)
{
    struct lw_reader *r;
    struct captured c;
    char err[256];
    char *path = tmp_path();

    (void)state;
    write_gz(path, "wb", S("one\ntwo\nthr"));
    write_gz(path, "ab", S("ee\nfour\n"));
    r = lw_reader_open(path, NULL, err, sizeof(err));
    assert_non_null(r);
    read_all(r, &c);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.data[2], "three");
    assert_string_equal(c.data[3], "four");
    assert_int_equal(c.offset[3], 14);
    lw_reader_destroy(r);
    cap_free(&c);
    remove_tmp(path);
}

static void test_gzip_truncated(void **state)
{
    struct lw_reader *r;
    struct lw_line l;
    char err[256];
    char *path = tmp_path();
    char *raw;
    FILE *f;
    long size;
    int rc;

    (void)state;
    write_gz(path, "wb", S("alpha\nbeta\ngamma\n"));
    f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    rewind(f);
    raw = malloc((size_t)size);
    assert_non_null(raw);
    assert_int_equal(fread(raw, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    remove_tmp(path);
    path = write_tmp(raw, (size_t)size - 6); /* cut into the trailer */
    r = lw_reader_open(path, NULL, err, sizeof(err));
    assert_non_null(r);
    while ((rc = lw_reader_next(r, &l)) == 1) {
    }
    assert_int_equal(rc, LW_ECORRUPT);
    assert_non_null(strstr(lw_reader_error(r), "gzip"));
    lw_reader_destroy(r);
    free(raw);
    remove_tmp(path);
}

static const char java_log[] =
    "2026-01-01 10:00:00 INFO start\n"
    "2026-01-01 10:00:01 ERROR request failed\n"
    "java.lang.IllegalStateException: boom\n"
    "\tat com.example.Foo.bar(Foo.java:10)\n"
    "\tat com.example.Main.main(Main.java:3)\n"
    "Caused by: java.io.IOException: disk\n"
    "\tat com.example.Disk.write(Disk.java:7)\n"
    "\t... 2 more\n"
    "2026-01-01 10:00:02 INFO done\n";

static void test_multiline_auto_java(void **state)
{
    struct lw_reader_conf conf = {.multiline = LW_MULTILINE_AUTO};
    struct captured c;

    (void)state;
    /*
     * The exception line a Java logger prints after its message continues that message, so the
     * record keeps the message's time and level; the frames continue it too.
     */
    assert_int_equal(frame(java_log, sizeof(java_log) - 1, &conf, &c), 3);
    assert_string_equal(c.data[0], "2026-01-01 10:00:00 INFO start");
    assert_int_equal(c.flags[0], 0);
    assert_string_equal(c.data[1], "2026-01-01 10:00:01 ERROR request failed\n"
                                   "java.lang.IllegalStateException: boom\n"
                                   "\tat com.example.Foo.bar(Foo.java:10)\n"
                                   "\tat com.example.Main.main(Main.java:3)\n"
                                   "Caused by: java.io.IOException: disk\n"
                                   "\tat com.example.Disk.write(Disk.java:7)\n"
                                   "\t... 2 more");
    assert_int_equal(c.flags[1], LW_LINE_MULTI);
    assert_int_equal(c.lineno[1], 2);
    assert_int_equal(c.offset[1], 31);
    assert_string_equal(c.data[2], "2026-01-01 10:00:02 INFO done");
    assert_int_equal(c.lineno[2], 9);
    cap_free(&c);
    /* A dotted word that names no exception starts a record of its own. */
    assert_int_equal(frame(S("a\napp.service: up\ncom.x.FooException\n"), &conf, &c), 2);
    assert_string_equal(c.data[1], "app.service: up\ncom.x.FooException");
    cap_free(&c);
}

static void test_exception_line(void **state)
{
    (void)state;
    assert_true(lw_exception_line(S("java.lang.IllegalStateException: boom")));
    assert_true(lw_exception_line(S("java.lang.IllegalStateException:")));
    assert_true(lw_exception_line(S("com.x.FooException")));
    assert_true(lw_exception_line(S("com.x.Outer$InnerError: e")));
    assert_true(lw_exception_line(S("System.InvalidOperationException: no")));
    assert_true(lw_exception_line(S("java.lang.Throwable")));
    assert_false(lw_exception_line(S("FooException: single name")));
    assert_false(lw_exception_line(S("app.service: up")));
    assert_false(lw_exception_line(S("com.x.FooException:no space")));
    assert_false(lw_exception_line(S("com.x.FooException is bad")));
    assert_false(lw_exception_line(S("com.x.")));
    assert_false(lw_exception_line(S(".x.FooException")));
    assert_false(lw_exception_line(S("com.1x.FooException")));
    assert_false(lw_exception_line(S("")));
}

static void test_multiline_conf(void **state)
{
    struct lw_multiline_conf ml = {LW_MULTILINE_AUTO, NULL, 0};
    struct lw_reader_conf rconf = {0};
    enum lw_multiline_mode m;
    char err[256];

    (void)state;
    assert_int_equal(lw_multiline_mode_parse("start", &m), LW_OK);
    assert_int_equal(m, LW_MULTILINE_START);
    assert_int_equal(lw_multiline_mode_parse("off", &m), LW_OK);
    assert_int_equal(m, LW_MULTILINE_OFF);
    assert_int_equal(lw_multiline_mode_parse("Auto", &m), LW_EINVAL);
    assert_string_equal(lw_multiline_mode_name(LW_MULTILINE_REGEX), "regex");
    assert_int_equal(lw_multiline_check(&ml, err, sizeof(err)), LW_OK);
    ml.regex = "^x";
    assert_int_equal(lw_multiline_check(&ml, err, sizeof(err)), LW_EINVAL);
    assert_non_null(strstr(err, "only used by"));
    ml.mode = LW_MULTILINE_START;
    ml.max_lines = 9;
    assert_int_equal(lw_multiline_check(&ml, err, sizeof(err)), LW_OK);
    ml.regex = "([";
    assert_int_equal(lw_multiline_check(&ml, err, sizeof(err)), LW_EINVAL);
    assert_non_null(strstr(err, "bad multi-line regex"));
    ml.regex = NULL;
    assert_int_equal(lw_multiline_check(&ml, err, sizeof(err)), LW_EINVAL);
    ml.regex = "^x";
    lw_reader_conf_multiline(&rconf, &ml);
    assert_int_equal(rconf.multiline, LW_MULTILINE_START);
    assert_string_equal(rconf.regex, "^x");
    assert_int_equal(rconf.max_multiline_lines, 9);
    lw_reader_conf_multiline(&rconf, NULL);
    assert_int_equal(rconf.multiline, LW_MULTILINE_OFF);
}

static void test_multiline_auto_python(void **state)
{
    static const char py[] = "ERROR:root:failed\n"
                             "Traceback (most recent call last):\n"
                             "  File \"x.py\", line 1, in <module>\n"
                             "    f()\n"
                             "ValueError: bad value\n"
                             "INFO:root:next\n";
    struct lw_reader_conf conf = {.multiline = LW_MULTILINE_AUTO};
    struct captured c;

    (void)state;
    assert_int_equal(frame(py, sizeof(py) - 1, &conf, &c), 2);
    assert_string_equal(c.data[0], "ERROR:root:failed\n"
                                   "Traceback (most recent call last):\n"
                                   "  File \"x.py\", line 1, in <module>\n"
                                   "    f()\n"
                                   "ValueError: bad value");
    assert_string_equal(c.data[1], "INFO:root:next");
    assert_int_equal(c.flags[1], 0);
    cap_free(&c);
}

static void test_multiline_regex(void **state)
{
    struct lw_reader_conf conf = {.multiline = LW_MULTILINE_REGEX, .regex = "^\\+"};
    struct captured c;

    (void)state;
    assert_int_equal(frame(S("+orphan\na\n+b\n+c\nd\n"), &conf, &c), 3);
    assert_string_equal(c.data[0], "+orphan");
    assert_string_equal(c.data[1], "a\n+b\n+c");
    assert_int_equal(c.flags[1], LW_LINE_MULTI);
    assert_string_equal(c.data[2], "d");
    cap_free(&c);
    conf.regex = "([";
    assert_int_equal(frame(S("x\n"), &conf, &c), LW_EINVAL);
    cap_free(&c);
}

static void test_multiline_start(void **state)
{
    struct lw_reader_conf conf = {.multiline = LW_MULTILINE_START,
                                  .regex = "^\\d{4}-\\d{2}-\\d{2} "};
    struct captured c;

    (void)state;
    assert_int_equal(frame(java_log, sizeof(java_log) - 1, &conf, &c), 3);
    assert_int_equal(c.lineno[1], 2);
    assert_non_null(strstr(c.data[1], "ERROR request failed\njava.lang.IllegalState"));
    assert_non_null(strstr(c.data[1], "\t... 2 more"));
    assert_string_equal(c.data[2], "2026-01-01 10:00:02 INFO done");
    cap_free(&c);
}

static void test_multiline_bounds(void **state)
{
    struct lw_reader_conf conf = {.multiline = LW_MULTILINE_AUTO, .max_multiline_lines = 3};
    struct captured c;

    (void)state;
    /* At most 3 physical lines per group; the fourth continuation starts a new group. */
    assert_int_equal(frame(S("a\n 1\n 2\n 3\nb\n"), &conf, &c), 3);
    assert_string_equal(c.data[0], "a\n 1\n 2");
    assert_string_equal(c.data[1], " 3");
    assert_int_equal(c.flags[1], 0);
    assert_string_equal(c.data[2], "b");
    cap_free(&c);

    /* At most max_line_bytes: the group is cut, flagged, and the rest of it dropped. */
    conf.max_multiline_lines = 0;
    conf.max_line_bytes = 10;
    assert_int_equal(frame(S("head\n aaaa\nnext\n"), &conf, &c), 2);
    assert_string_equal(c.data[0], "head\n aaaa");
    assert_int_equal(c.flags[0], LW_LINE_MULTI);
    cap_free(&c);
    assert_int_equal(frame(S("head\n aaaaa\n bbbb\n cccc\nnext\n"), &conf, &c), 2);
    assert_string_equal(c.data[0], "head\n aaaa");
    assert_int_equal(c.flags[0], LW_LINE_MULTI | LW_LINE_TRUNCATED);
    assert_string_equal(c.data[1], "next");
    assert_int_equal(c.lineno[1], 5);
    cap_free(&c);
}

/* Builds a few MiB of mixed lines that cross every buffer boundary. */
static char *make_mixed(size_t *len_out)
{
    size_t cap = 4u * 1024 * 1024, n = 0, i;
    char *s = malloc(cap + 4096);
    unsigned x = 12345;

    assert_non_null(s);
    for (i = 0; n < cap; i++) {
        x = x * 1103515245u + 12345u;
        switch ((x >> 16) % 8) {
        case 0:
            n += (size_t)sprintf(s + n, "\tat frame.%zu(File.java:%u)\n", i, x % 1000);
            break;
        case 1:
            n += (size_t)sprintf(s + n, "\r\n");
            break;
        case 2:
            memset(s + n, 'x', 2000 + x % 1500);
            n += 2000 + x % 1500;
            s[n++] = '\n';
            break;
        default:
            n += (size_t)sprintf(s + n, "2026-01-01 00:00:%02zu INFO line %zu %u\r\n", i % 60,
                                 i, x);
            break;
        }
    }
    *len_out = n;
    return s;
}

static void compare_file_and_memory(const struct lw_reader_conf *conf)
{
    struct captured a, b;
    struct lw_reader *r;
    char err[256];
    size_t len, i;
    char *s = make_mixed(&len);
    char *path = write_tmp(s, len);

    r = lw_reader_open(path, conf, err, sizeof(err));
    assert_non_null(r);
    read_all(r, &a);
    lw_reader_destroy(r);
    assert_true(frame(s, len, conf, &b) > 0);
    assert_int_equal(a.n, b.n);
    for (i = 0; i < a.n; i++) {
        assert_int_equal(a.len[i], b.len[i]);
        assert_memory_equal(a.data[i], b.data[i], a.len[i]);
        assert_int_equal(a.flags[i], b.flags[i]);
        assert_int_equal(a.offset[i], b.offset[i]);
        assert_int_equal(a.lineno[i], b.lineno[i]);
    }
    cap_free(&a);
    cap_free(&b);
    free(s);
    remove_tmp(path);
}

static void test_file_equals_memory(void **state)
{
    struct lw_reader_conf conf = {.max_line_bytes = 3000};

    (void)state;
    compare_file_and_memory(&conf);
    conf.multiline = LW_MULTILINE_AUTO;
    compare_file_and_memory(&conf);
    conf.multiline = LW_MULTILINE_START;
    conf.regex = "^2026";
    conf.max_multiline_lines = 7;
    compare_file_and_memory(&conf);
}

static void test_pipe(void **state)
{
    struct lw_reader *r;
    struct captured c;
    char err[256];
    char chunk[64];
    int fds[2];
    pid_t pid;
    int status;
    size_t i;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Small, uneven writes: lines arrive split across reads. */
        close(fds[0]);
        for (i = 0; i < 50000; i++) {
            int n = snprintf(chunk, sizeof(chunk), "pipe line %zu\n", i);
            int half = n / 3;

            if (write(fds[1], chunk, (size_t)half) != half ||
                write(fds[1], chunk + half, (size_t)(n - half)) != n - half) {
                _exit(1);
            }
        }
        _exit(0);
    }
    close(fds[1]);
    r = lw_reader_open_fd(fds[0], NULL, err, sizeof(err));
    assert_non_null(r);
    read_all(r, &c);
    assert_int_equal(c.n, 50000);
    assert_string_equal(c.data[0], "pipe line 0");
    assert_string_equal(c.data[49999], "pipe line 49999");
    lw_reader_destroy(r);
    cap_free(&c);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_stdin(void **state)
{
    struct lw_reader *r;
    struct captured c;
    char err[256];
    int fds[2];
    int saved;

    (void)state;
    /* "-" reads fd 0: point it at a pipe holding a small gzip-free input for the test. */
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "from stdin\r\nsecond", 19), 19);
    close(fds[1]);
    saved = dup(STDIN_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    close(fds[0]);
    r = lw_reader_open("-", NULL, err, sizeof(err));
    assert_non_null(r);
    read_all(r, &c);
    lw_reader_destroy(r);
    assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
    close(saved);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.data[0], "from stdin");
    assert_string_equal(c.data[1], "second");
    cap_free(&c);
}

static void test_missing_file(void **state)
{
    char err[256] = "";

    (void)state;
    assert_null(lw_reader_open("/nonexistent/x.log", NULL, err, sizeof(err)));
    assert_string_equal(err, "cannot open '/nonexistent/x.log': No such file or directory");
    assert_null(lw_reader_open("/", NULL, err, sizeof(err)));
    assert_string_equal(err, "cannot open '/': Is a directory");
}

static void test_empty_and_tiny_files(void **state)
{
    struct lw_reader *r;
    struct captured c;
    char err[256];
    char *path;

    (void)state;
    path = write_tmp("", 0);
    r = lw_reader_open(path, NULL, err, sizeof(err));
    assert_non_null(r);
    read_all(r, &c);
    assert_int_equal(c.n, 0);
    lw_reader_destroy(r);
    remove_tmp(path);
    path = write_tmp("\x1f", 1);
    r = lw_reader_open(path, NULL, err, sizeof(err));
    assert_non_null(r);
    read_all(r, &c);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.flags[0], 0);
    cap_free(&c);
    lw_reader_destroy(r);
    remove_tmp(path);
    lw_reader_destroy(NULL);
}

static int stop_at_two(void *opaque, const struct lw_line *l)
{
    int *n = opaque;

    (void)l;
    return ++*n == 2 ? LW_EFULL : 0;
}

static void test_callback_stop(void **state)
{
    int n = 0;

    (void)state;
    assert_int_equal(lw_frame_buffer(S("a\nb\nc\n"), NULL, stop_at_two, &n), LW_EFULL);
    assert_int_equal(n, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lf),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_no_final_newline),
        cmocka_unit_test(test_empty_lines),
        cmocka_unit_test(test_max_line),
        cmocka_unit_test(test_truncate_utf8_boundary),
        cmocka_unit_test(test_huge_line_file),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_gzip_concatenated),
        cmocka_unit_test(test_gzip_truncated),
        cmocka_unit_test(test_multiline_auto_java),
        cmocka_unit_test(test_exception_line),
        cmocka_unit_test(test_multiline_conf),
        cmocka_unit_test(test_multiline_auto_python),
        cmocka_unit_test(test_multiline_regex),
        cmocka_unit_test(test_multiline_start),
        cmocka_unit_test(test_multiline_bounds),
        cmocka_unit_test(test_file_equals_memory),
        cmocka_unit_test(test_pipe),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_empty_and_tiny_files),
        cmocka_unit_test(test_callback_stop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
