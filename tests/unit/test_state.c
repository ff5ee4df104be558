/*
 * Unit tests for the miner state file (lw_miner_save/load and their _buf forms): a round trip
 * keeps ids, texts, counts and first/last seen and new ids stay above the loaded ones; the file
 * is written atomically; each kind of damage gives its own code and a message and leaves the
 * miner as it was.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"

#define MAX_TPL 32

struct snap_tpl {
    uint32_t id;
    uint64_t count;
    int64_t first_ns;
    int64_t last_ns;
    char text[256];
};

struct snap {
    size_t n;
    struct snap_tpl t[MAX_TPL];
};

static int snap_cb(void *opaque, const struct lw_template_info *t)
{
    struct snap *s = opaque;

    assert_true(s->n < MAX_TPL);
    s->t[s->n].id = t->id;
    s->t[s->n].count = t->count;
    s->t[s->n].first_ns = t->first_seen_ns;
    s->t[s->n].last_ns = t->last_seen_ns;
    snprintf(s->t[s->n].text, sizeof(s->t[s->n].text), "%s", t->text);
    s->n++;
    return 0;
}

static void take_snap(struct lw_miner *m, struct snap *s)
{
    memset(s, 0, sizeof(*s));
    assert_int_equal(lw_miner_foreach(m, snap_cb, s), 0);
}

static void expect_same(const struct snap *a, const struct snap *b)
{
    size_t i;

    assert_int_equal(a->n, b->n);
    for (i = 0; i < a->n; i++) {
        assert_int_equal(a->t[i].id, b->t[i].id);
        assert_int_equal(a->t[i].count, b->t[i].count);
        assert_true(a->t[i].first_ns == b->t[i].first_ns);
        assert_true(a->t[i].last_ns == b->t[i].last_ns);
        assert_string_equal(a->t[i].text, b->t[i].text);
    }
}

/* Miners of the running test, freed by the teardown even when an assertion fails. */
static struct lw_miner *m1;
static struct lw_miner *m2;
static char *buf;
static char *copy;
static char tmpdir[64];

static int teardown(void **state)
{
    (void)state;
    lw_miner_destroy(m1);
    lw_miner_destroy(m2);
    lw_free(buf);
    free(copy);
    copy = NULL;
    m1 = NULL;
    m2 = NULL;
    buf = NULL;
    if (tmpdir[0] != '\0') {
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0) {
            print_error("cannot remove %s\n", tmpdir);
        }
        tmpdir[0] = '\0';
    }
    return 0;
}

static const char *const lines[] = {
    "Receiving block blk_1 src: /10.0.0.1:50010 dest: /10.0.0.2:50010",
    "Receiving block blk_2 src: /10.0.0.3:50010 dest: /10.0.0.4:50010",
    "job abc1 failed from 10.0.0.1 port 22",
    "job xyz2 failed from 10.0.0.2 port 2222",
    "session opened rhost=a user=x",
    "Connection closed by 10.0.0.3 [preauth]",
    "gamma queue full",
    "gamma queue full",
};
#define N_LINES (sizeof(lines) / sizeof(lines[0]))

/* A miner holding a few templates, with counts flushed. */
static struct lw_miner *make_miner(void)
{
    struct lw_miner *m = lw_miner_create(NULL, NULL, 0);
    struct lw_miner_scratch *s;
    size_t i;

    assert_non_null(m);
    s = lw_miner_scratch_create(m);
    assert_non_null(s);
    for (i = 0; i < N_LINES; i++) {
        struct lw_match mt;
        int64_t ts = i == 5 ? LW_TS_UNKNOWN : (int64_t)(1000 + 10 * (int64_t)i);

        assert_int_equal(lw_miner_add(m, s, lines[i], strlen(lines[i]), ts, &mt), LW_OK);
    }
    lw_miner_scratch_destroy(s);
    return m;
}

static uint32_t add_line(struct lw_miner *m, const char *line)
{
    struct lw_miner_scratch *s = lw_miner_scratch_create(m);
    struct lw_match mt;

    assert_non_null(s);
    assert_int_equal(lw_miner_add(m, s, line, strlen(line), 5, &mt), LW_OK);
    lw_miner_scratch_destroy(s);
    return mt.template_id;
}

static void test_roundtrip_buf(void **state)
{
    struct snap a;
    struct snap b;
    size_t len = 0;
    char err[256] = "";
    uint32_t id;
    size_t i;

    (void)state;
    m1 = make_miner();
    take_snap(m1, &a);
    assert_true(a.n >= 4);
    assert_int_equal(lw_miner_save_buf(m1, &buf, &len), LW_OK);
    assert_true(len > 32);
    assert_memory_equal(buf, "LWMINER1", 8);

    m2 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m2);
    assert_int_equal(lw_miner_load_buf(m2, buf, len, err, sizeof(err)), LW_OK);
    take_snap(m2, &b);
    expect_same(&a, &b);

    /* Known lines map to the loaded ids. */
    assert_int_equal(add_line(m2, "gamma queue full"), a.t[a.n - 1].id);
    /* A new template gets the id of its text, as in the miner that was saved. */
    id = add_line(m2, "completely new message shape here");
    for (i = 0; i < a.n; i++) {
        assert_true(id != a.t[i].id);
    }
    assert_int_equal(id, add_line(m1, "completely new message shape here"));
}

/* After a load with evictions behind it, a new template still gets the id of its text. */
static void test_ids_not_reused(void **state)
{
    struct lw_miner_conf conf;
    struct lw_miner_scratch *s;
    size_t len = 0;
    uint32_t id;
    int i;

    (void)state;
    memset(&conf, 0, sizeof(conf));
    conf.max_templates = 2;
    m1 = lw_miner_create(&conf, NULL, 0);
    assert_non_null(m1);
    s = lw_miner_scratch_create(m1);
    for (i = 0; i < 5; i++) {
        char line[64];
        struct lw_match mt;

        snprintf(line, sizeof(line), "op%c happened", 'a' + i);
        assert_int_equal(lw_miner_add(m1, s, line, strlen(line), 0, &mt), LW_OK);
    }
    lw_miner_scratch_destroy(s);
    assert_int_equal(lw_miner_save_buf(m1, &buf, &len), LW_OK);
    m2 = lw_miner_create(&conf, NULL, 0);
    assert_int_equal(lw_miner_load_buf(m2, buf, len, NULL, 0), LW_OK);
    assert_int_equal(lw_miner_n_templates(m2), 2);
    id = add_line(m2, "brand new shape");
    assert_int_equal(id, lw_template_id("brand new shape", strlen("brand new shape")));
}

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/lw-test-state-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
}

static void test_roundtrip_file(void **state)
{
    char path[128];
    char tmp[160];
    char err[512] = "";
    struct snap a;
    struct snap b;
    struct stat st;

    (void)state;
    make_tmpdir();
    snprintf(path, sizeof(path), "%s/miner.state", tmpdir);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    m1 = make_miner();
    take_snap(m1, &a);
    assert_int_equal(lw_miner_save(m1, path, err, sizeof(err)), LW_OK);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 32);
    assert_int_not_equal(stat(tmp, &st), 0);
    /* Saving again replaces the file. */
    add_line(m1, "one more template for the second save");
    take_snap(m1, &a);
    assert_int_equal(lw_miner_save(m1, path, err, sizeof(err)), LW_OK);
    assert_int_not_equal(stat(tmp, &st), 0);

    m2 = lw_miner_create(NULL, NULL, 0);
    assert_int_equal(lw_miner_load(m2, path, err, sizeof(err)), LW_OK);
    take_snap(m2, &b);
    expect_same(&a, &b);

    /* A directory that does not exist: the save fails with a message. */
    snprintf(path, sizeof(path), "%s/nodir/miner.state", tmpdir);
    err[0] = '\0';
    assert_int_equal(lw_miner_save(m1, path, err, sizeof(err)), LW_EIO);
    assert_true(strlen(err) > 0);
}

/* ---- damaged states ---- */

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void fix_checksum(char *b, size_t len)
{
    uint64_t h = XXH64(b, len - 8, 0);
    size_t i;

    for (i = 0; i < 8; i++) {
        b[len - 8 + i] = (char)(h >> (8 * i));
    }
}

/*
 * Loads @data (from memory, and through a file) into m2, which holds one template, and checks
 * the code, that a message was written and that m2 did not change.
 */
static void expect_load_fails(const char *data, size_t len, int want, const char *what)
{
    struct snap before;
    struct snap after;
    char err[512];
    char path[128];
    int rc;

    take_snap(m2, &before);
    assert_int_equal(before.n, 1);
    err[0] = '\0';
    rc = lw_miner_load_buf(m2, data, len, err, sizeof(err));
    if (rc != want) {
        print_error("%s: load_buf gave %d (%s), want %d\n", what, rc, err, want);
    }
    assert_int_equal(rc, want);
    assert_true(strlen(err) > 0);
    take_snap(m2, &after);
    expect_same(&before, &after);

    snprintf(path, sizeof(path), "%s/damaged.state", tmpdir);
    write_file(path, data, len);
    err[0] = '\0';
    rc = lw_miner_load(m2, path, err, sizeof(err));
    if (rc != want) {
        print_error("%s: load gave %d (%s), want %d\n", what, rc, err, want);
    }
    assert_int_equal(rc, want);
    assert_non_null(strstr(err, path));
    take_snap(m2, &after);
    expect_same(&before, &after);
}

static void test_damaged(void **state)
{
    size_t len = 0;
    uint32_t v;

    (void)state;
    make_tmpdir();
    m1 = make_miner();
    assert_int_equal(lw_miner_save_buf(m1, &buf, &len), LW_OK);
    m2 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m2);
    add_line(m2, "the only template of the target miner");
    copy = malloc(len + 1);
    assert_non_null(copy);

    memcpy(copy, buf, len);
    copy[0] = 'X';
    expect_load_fails(copy, len, LW_ECORRUPT, "wrong magic");

    /* Another format revision in the magic itself. */
    memcpy(copy, buf, len);
    copy[7] = '2';
    expect_load_fails(copy, len, LW_EVERSION, "magic revision");

    /* The version field, with a valid checksum so that the version check is what fails. */
    memcpy(copy, buf, len);
    v = 3;
    copy[8] = (char)v;
    fix_checksum(copy, len);
    expect_load_fails(copy, len, LW_EVERSION, "version 3");
    copy[8] = 0;
    copy[11] = 1;
    fix_checksum(copy, len);
    expect_load_fails(copy, len, LW_EVERSION, "version 2^24");

    memcpy(copy, buf, len);
    copy[len / 2] ^= 0x20;
    expect_load_fails(copy, len, LW_ECORRUPT, "flipped byte");

    memcpy(copy, buf, len);
    copy[len - 1] ^= 0x01;
    expect_load_fails(copy, len, LW_ECORRUPT, "flipped checksum byte");

    expect_load_fails(buf, len - 5, LW_ECORRUPT, "truncated by 5");
    expect_load_fails(buf, len / 2, LW_ECORRUPT, "truncated by half");
    expect_load_fails(buf, 10, LW_ECORRUPT, "truncated to 10");
    expect_load_fails(buf, 0, LW_ECORRUPT, "empty");

    /* A byte too many before a recomputed checksum: structure check. */
    memcpy(copy, buf, len - 8);
    copy[len - 8] = 0;
    fix_checksum(copy, len + 1);
    expect_load_fails(copy, len + 1, LW_ECORRUPT, "trailing byte");

    /* A token count that runs past the end, behind a valid checksum. */
    memcpy(copy, buf, len);
    copy[24 + 4 + 8 + 8 + 8 + 8] = (char)0xff;
    fix_checksum(copy, len);
    expect_load_fails(copy, len, LW_ECORRUPT, "token count");
}

static void test_missing_and_dir(void **state)
{
    char path[128];
    char err[512];
    struct snap before;
    struct snap after;

    (void)state;
    make_tmpdir();
    m2 = lw_miner_create(NULL, NULL, 0);
    add_line(m2, "the only template of the target miner");
    take_snap(m2, &before);

    snprintf(path, sizeof(path), "%s/absent.state", tmpdir);
    err[0] = '\0';
    assert_int_equal(lw_miner_load(m2, path, err, sizeof(err)), LW_ENOENT);
    assert_non_null(strstr(err, path));

    err[0] = '\0';
    assert_int_equal(lw_miner_load(m2, tmpdir, err, sizeof(err)), LW_EIO);
    assert_non_null(strstr(err, tmpdir));

    /* Saving onto a directory fails too (the rename cannot replace it). */
    err[0] = '\0';
    assert_true(lw_miner_save(m2, tmpdir, err, sizeof(err)) < 0);
    assert_true(strlen(err) > 0);

    take_snap(m2, &after);
    expect_same(&before, &after);
}

/* Offset of template record @k in a state buffer (layout in src/mine/miner.c). */
static size_t record_offset(const char *b, size_t k)
{
    size_t o = 24;
    size_t i;

    for (i = 0; i < k; i++) {
        uint32_t n_tok;
        uint32_t t;

        /* id, born, count, first, last, n_tok; little-endian host assumed (x86) */
        memcpy(&n_tok, b + o + 36, 4);
        o += 40;
        for (t = 0; t < n_tok; t++) {
            uint32_t len;
            int kind = (unsigned char)b[o];

            o += 1 + (kind == 2 ? 4 : 0);
            memcpy(&len, b + o, 4);
            o += 4 + len;
        }
    }
    return o;
}

/*
 * Two records with the same id behind a valid checksum. The validation pass of
 * lw_miner_load_buf() does not look for duplicate ids; the insert pass finds the duplicate
 * after clear_templates() has emptied the miner and returns LW_ECORRUPT, leaving the miner
 * empty instead of unchanged. Found by fuzz_state.
 */
static void test_bug_duplicate_id_empties_miner(void **state)
{
    size_t len = 0;
    size_t o1;

    (void)state;
    make_tmpdir();
    m1 = make_miner();
    assert_int_equal(lw_miner_save_buf(m1, &buf, &len), LW_OK);
    m2 = lw_miner_create(NULL, NULL, 0);
    add_line(m2, "the only template of the target miner");
    copy = malloc(len);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    o1 = record_offset(copy, 1);
    memcpy(copy + o1, copy + 24, 4);
    fix_checksum(copy, len);
    expect_load_fails(copy, len, LW_ECORRUPT, "duplicate id");
}

static const char fail_root[] = "Failed password for root from 10.0.0.1 port 22 ssh2";
static const char fail_admin[] = "Failed password for admin from 10.0.0.2 port 22 ssh2";
static const char fail_jdoe[] = "Failed password for jdoe from 10.0.0.3 port 22 ssh2";
static const char fail_mary[] = "Failed password for mary from 10.0.0.4 port 22 ssh2";
static const char fail_null[] = "Failed password for null from 10.0.0.5 port 22 ssh2";

/* Texts of the live templates are pairwise different. */
static void expect_unique_texts(struct lw_miner *m)
{
    struct snap s;
    size_t i;
    size_t j;

    take_snap(m, &s);
    for (i = 0; i < s.n; i++) {
        for (j = i + 1; j < s.n; j++) {
            if (strcmp(s.t[i].text, s.t[j].text) == 0) {
                print_error("templates %u and %u both print '%s'\n", s.t[i].id, s.t[j].id,
                            s.t[i].text);
                fail();
            }
        }
    }
}

/* After a load, a line whose template would repeat a loaded text goes to the loaded template. */
static void test_loaded_then_same_text(void **state)
{
    size_t len = 0;
    uint32_t a;
    uint32_t b;

    (void)state;
    m1 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m1);
    a = add_line(m1, fail_root);
    b = add_line(m1, "mode true false null root"); /* prints as "mode <*> <*> <*> <*>" */
    assert_int_equal(lw_miner_save_buf(m1, &buf, &len), LW_OK);
    m2 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m2);
    assert_int_equal(lw_miner_load_buf(m2, buf, len, NULL, 0), LW_OK);
    assert_int_equal(add_line(m2, fail_admin), a);
    assert_int_equal(add_line(m2, fail_jdoe), a);
    /* Nothing in common with the loaded template but the first word and the printed text. */
    assert_int_equal(add_line(m2, "mode admin null true false"), b);
    assert_int_equal(lw_miner_n_templates(m2), 2);
    expect_unique_texts(m2);
}

/* Offset of the first occurrence of @s in @b[0..len), which must hold it. */
static size_t find_bytes(const char *b, size_t len, const char *s)
{
    size_t n = strlen(s);
    size_t i;

    for (i = 0; i + n <= len; i++) {
        if (memcmp(b + i, s, n) == 0) {
            return i;
        }
    }
    fail_msg("'%s' is not in the buffer", s);
    return 0;
}

/*
 * A version 1 state that holds one text under two ids, as the miner wrote them before texts were
 * kept unique: the load merges them into the older id, the younger resolves to it, before and
 * after another save and load (the alias is saved).
 */
static void test_load_merges_same_text(void **state)
{
    struct snap s;
    size_t len = 0;
    char err[256] = "";
    uint32_t a;
    uint32_t b;
    uint32_t c;
    static const char merged[] = "Failed password for <*> from <*> port <*> ssh2";

    (void)state;
    m1 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m1);
    a = add_line(m1, fail_jdoe);
    b = add_line(m1, fail_mary); /* a sibling word: a template of its own */
    assert_int_not_equal(a, b);
    assert_int_equal(lw_miner_save_buf(m1, &buf, &len), LW_OK);
    /* "null" and "root" print as <*>: the two records now print the same text. */
    memcpy(buf + find_bytes(buf, len, "jdoe"), "null", 4);
    memcpy(buf + find_bytes(buf, len, "mary"), "root", 4);
    fix_checksum(buf, len);

    m2 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m2);
    assert_int_equal(lw_miner_load_buf(m2, buf, len, err, sizeof(err)), LW_OK);
    assert_int_equal(lw_miner_n_templates(m2), 1);
    /* The merged template has the id of its text; both old ids resolve to it. */
    c = lw_template_id(merged, strlen(merged));
    assert_int_equal(lw_miner_resolve(m2, a), c);
    assert_int_equal(lw_miner_resolve(m2, b), c);
    take_snap(m2, &s);
    assert_int_equal(s.t[0].id, c);
    assert_int_equal(s.t[0].count, 2);
    assert_string_equal(s.t[0].text, merged);
    assert_int_equal(add_line(m2, fail_null), c);
    assert_int_equal(add_line(m2, fail_root), c);
    assert_int_equal(add_line(m2, fail_admin), c);
    assert_int_equal(lw_miner_n_templates(m2), 1);

    /* Round trip into a fresh miner (m1 is done with). */
    lw_free(buf);
    buf = NULL;
    assert_int_equal(lw_miner_save_buf(m2, &buf, &len), LW_OK);
    lw_miner_destroy(m1);
    m1 = lw_miner_create(NULL, NULL, 0);
    assert_non_null(m1);
    assert_int_equal(lw_miner_load_buf(m1, buf, len, err, sizeof(err)), LW_OK);
    assert_int_equal(lw_miner_resolve(m1, a), c);
    assert_int_equal(lw_miner_resolve(m1, b), c);
    assert_int_equal(lw_miner_n_templates(m1), 1);
    assert_int_equal(add_line(m1, fail_jdoe), c);
}

/* More templates than the target's max_templates: refused, the miner unchanged. */
static void test_too_many(void **state)
{
    struct lw_miner_conf conf;
    size_t len = 0;
    char err[256] = "";

    (void)state;
    m1 = make_miner();
    assert_int_equal(lw_miner_save_buf(m1, &buf, &len), LW_OK);
    memset(&conf, 0, sizeof(conf));
    conf.max_templates = 2;
    m2 = lw_miner_create(&conf, NULL, 0);
    add_line(m2, "the only template of the target miner");
    assert_int_equal(lw_miner_load_buf(m2, buf, len, err, sizeof(err)), LW_EFULL);
    assert_true(strlen(err) > 0);
    assert_int_equal(lw_miner_n_templates(m2), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_roundtrip_buf, teardown),
        cmocka_unit_test_teardown(test_ids_not_reused, teardown),
        cmocka_unit_test_teardown(test_roundtrip_file, teardown),
        cmocka_unit_test_teardown(test_damaged, teardown),
        cmocka_unit_test_teardown(test_missing_and_dir, teardown),
        cmocka_unit_test_teardown(test_too_many, teardown),
        cmocka_unit_test_teardown(test_bug_duplicate_id_empties_miner, teardown),
        cmocka_unit_test_teardown(test_loaded_then_same_text, teardown),
        cmocka_unit_test_teardown(test_load_merges_same_text, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
