/*
 * Unit tests for the file tail input (src/input/tail.c) through its public API, on real files in
 * a mkdtemp() directory per test. A recording ingest copies every line, its flags and source
 * name, and keeps the last checkpoint. Tests assert what arrives (exactly once, in order), never
 * how fast: each waits for the lines it expects with a generous deadline, then waits a few more
 * polls to make sure nothing extra arrives.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_ingest.h"
#include "lw/lw_tail.h"

#define POLL_MS     20
#define DEADLINE_MS 8000
#define SETTLE_MS   150   /* several polls: long enough for a duplicate to show up */

/* ------------------------------------------------------------------------------------------ */
/* Recording ingest.                                                                           */
/* ------------------------------------------------------------------------------------------ */

struct rec {
    pthread_mutex_t mu;
    size_t n;
    size_t cap;
    char **data;
    size_t *len;
    uint32_t *flags;
    char **name;
    size_t n_groups;
    int eagain_left;       /* refuse this many calls with LW_EAGAIN first */
    size_t n_eagain;
    int has_cp;
    struct lw_ingest_checkpoint cp;  /* the last one; cp.path is not kept */
    size_t max_group;      /* largest group seen */
    size_t n_bad;          /* malformed groups (checked on the test's thread) */
    const char *freeze_on; /* once a group with this line is taken, refuse all (a dead pipeline) */
    int frozen;
};

static void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
}

static void rec_fini(struct rec *r)
{
    size_t i;

    assert_int_equal(r->n_bad, 0);
    for (i = 0; i < r->n; i++) {
        free(r->data[i]);
        free(r->name[i]);
    }
    free(r->data);
    free(r->len);
    free(r->flags);
    free(r->name);
    pthread_mutex_destroy(&r->mu);
}

static int rec_ingest(void *opaque, const struct lw_ingest_group *g)
{
    struct rec *r = opaque;
    size_t i;

    pthread_mutex_lock(&r->mu);
    if (r->frozen) {
        r->n_eagain++;
        pthread_mutex_unlock(&r->mu);
        return LW_EAGAIN;
    }
    if (r->eagain_left > 0) {
        r->eagain_left--;
        r->n_eagain++;
        pthread_mutex_unlock(&r->mu);
        return LW_EAGAIN;
    }
    /* No cmocka assertions on the tail's thread: they would longjmp across threads. */
    if (g->checkpoint == NULL || strcmp(g->source->input, "tail") != 0 ||
        strcmp(g->checkpoint->path, g->source->name) != 0 || g->n_lines == 0) {
        r->n_bad++;
        pthread_mutex_unlock(&r->mu);
        return LW_EINVAL;
    }
    for (i = 0; i < g->n_lines; i++) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 64;
            r->data = realloc(r->data, r->cap * sizeof(*r->data));
            r->len = realloc(r->len, r->cap * sizeof(*r->len));
            r->flags = realloc(r->flags, r->cap * sizeof(*r->flags));
            r->name = realloc(r->name, r->cap * sizeof(*r->name));
            assert_non_null(r->data);
            assert_non_null(r->len);
            assert_non_null(r->flags);
            assert_non_null(r->name);
        }
        r->data[r->n] = malloc(g->lines[i].len + 1);
        assert_non_null(r->data[r->n]);
        memcpy(r->data[r->n], g->lines[i].data, g->lines[i].len);
        r->data[r->n][g->lines[i].len] = '\0';
        r->len[r->n] = g->lines[i].len;
        r->flags[r->n] = g->lines[i].flags;
        r->name[r->n] = strdup(g->source->name);
        assert_non_null(r->name[r->n]);
        if (r->freeze_on != NULL && strcmp(r->data[r->n], r->freeze_on) == 0) {
            r->frozen = 1;
        }
        r->n++;
    }
    r->n_groups++;
    if (g->n_lines > r->max_group) {
        r->max_group = g->n_lines;
    }
    r->cp = *g->checkpoint;
    r->cp.path = NULL;
    r->has_cp = 1;
    pthread_mutex_unlock(&r->mu);
    return LW_OK;
}

static size_t rec_count(struct rec *r)
{
    size_t n;

    pthread_mutex_lock(&r->mu);
    n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static void msleep(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Waits until @n lines arrived, then a few more polls; returns the final count. */
static size_t rec_wait(struct rec *r, size_t n)
{
    unsigned waited = 0;

    while (rec_count(r) < n && waited < DEADLINE_MS) {
        msleep(5);
        waited += 5;
    }
    msleep(SETTLE_MS);
    return rec_count(r);
}

/* Checkpoint store for resume: the last checkpoint recorded, for any path. */
struct store {
    int has;
    struct lw_ingest_checkpoint cp;
    char path[512];   /* only this path gets the checkpoint */
};

static int store_resume(void *opaque, const char *path, struct lw_ingest_checkpoint *out)
{
    struct store *s = opaque;

    if (!s->has || strcmp(path, s->path) != 0) {
        return 0;
    }
    *out = s->cp;
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Files.                                                                                      */
/* ------------------------------------------------------------------------------------------ */

struct fixture {
    char dir[256];
    char pattern[300];
    char path[300];     /* dir/x.log */
    struct rec rec;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    const char *tmp = getenv("TMPDIR");

    if (fx == NULL) {
        return -1;
    }
    snprintf(fx->dir, sizeof(fx->dir), "%s/lw_tail_XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    snprintf(fx->pattern, sizeof(fx->pattern), "%s/*.log", fx->dir);
    snprintf(fx->path, sizeof(fx->path), "%s/x.log", fx->dir);
    rec_init(&fx->rec);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    struct dirent *de;
    char p[600];
    DIR *d;

    d = opendir(fx->dir);
    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                snprintf(p, sizeof(p), "%s/%s", fx->dir, de->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(fx->dir);
    rec_fini(&fx->rec);
    free(fx);
    return 0;
}

static void write_all(int fd, const char *s, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, s, len);
        assert_true(n > 0);
        s += n;
        len -= (size_t)n;
    }
}

static void append(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

    assert_true(fd >= 0);
    write_all(fd, s, strlen(s));
    close(fd);
}

/* Appends lines "<prefix><i>" for i in [from, to) through @fd. */
static void write_lines(int fd, const char *prefix, int from, int to)
{
    char line[64];
    int i;
    int n;

    for (i = from; i < to; i++) {
        n = snprintf(line, sizeof(line), "%s%d\n", prefix, i);
        write_all(fd, line, (size_t)n);
    }
}

static void append_lines(const char *path, const char *prefix, int from, int to)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);

    assert_true(fd >= 0);
    write_lines(fd, prefix, from, to);
    close(fd);
}

static struct lw_tail *start(struct fixture *fx, struct lw_tail_conf *conf)
{
    const char *pats[1];
    struct lw_ingest ing = {.fn = rec_ingest, .opaque = &fx->rec};
    struct lw_tail_conf c;
    struct lw_tail *t;
    char err[256] = "";

    pats[0] = fx->pattern;
    c = *conf;
    if (c.patterns == NULL) {
        c.patterns = pats;
        c.n_patterns = 1;
    }
    if (c.poll_ms == 0) {
        c.poll_ms = POLL_MS;
    }
    if (c.rotate_wait_ms == 0) {
        c.rotate_wait_ms = 10 * POLL_MS;
    }
    t = lw_tail_start(&c, ing, err, sizeof(err));
    if (t == NULL) {
        fail_msg("lw_tail_start: %s", err);
    }
    return t;
}

/* Waits until the tail has @n files open. */
static void wait_open(struct lw_tail *t, uint64_t n)
{
    struct lw_tail_stats st;
    unsigned waited = 0;

    for (;;) {
        lw_tail_stats(t, &st);
        if (st.files_open == n || waited >= DEADLINE_MS) {
            break;
        }
        msleep(5);
        waited += 5;
    }
    assert_int_equal(st.files_open, n);
}

/* Asserts that the recorded lines with @prefix are exactly <prefix>0 .. <prefix>(n-1). */
static void assert_seq(struct rec *r, const char *prefix, int n)
{
    char want[64];
    size_t plen = strlen(prefix);
    size_t i;
    int next = 0;

    for (i = 0; i < r->n; i++) {
        if (strncmp(r->data[i], prefix, plen) != 0) {
            continue;
        }
        snprintf(want, sizeof(want), "%s%d", prefix, next);
        assert_string_equal(r->data[i], want);
        next++;
    }
    assert_int_equal(next, n);
}

static uint64_t file_size(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

/* ------------------------------------------------------------------------------------------ */
/* Tests.                                                                                      */
/* ------------------------------------------------------------------------------------------ */

static void test_bad_conf(void **state)
{
    struct lw_tail_conf conf = { 0 };
    struct lw_ingest ing = {.fn = rec_ingest, .opaque = NULL};
    const char *pats[1] = { "/nonexistent/*.log" };
    char err[256] = "";

    (void)state;
    assert_null(lw_tail_start(&conf, ing, err, sizeof(err)));
    assert_true(strlen(err) > 0);
    conf.patterns = pats;
    conf.n_patterns = 1;
    conf.max_line_bytes = (size_t)4 << 30;
    assert_null(lw_tail_start(&conf, ing, err, sizeof(err)));
    lw_tail_stop(NULL);
}

static void test_append_after_start(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail_stats st;
    struct lw_tail *t;
    int i;

    append_lines(fx->path, "a", 0, 3);
    conf.batch_lines = 100;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 3), 3);
    for (i = 0; i < 10; i++) {
        append_lines(fx->path, "a", 3 + i * 100, 3 + (i + 1) * 100);
        msleep(3);
    }
    assert_int_equal(rec_wait(&fx->rec, 1003), 1003);
    lw_tail_stats(t, &st);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "a", 1003);
    assert_string_equal(fx->rec.name[0], fx->path);
    assert_true(fx->rec.max_group <= 100);
    assert_int_equal(st.lines, 1003);
    assert_int_equal(st.bytes, file_size(fx->path));
    assert_int_equal(st.files_open, 1);
    assert_int_equal(fx->rec.cp.offset, file_size(fx->path));
}

static void test_start_at_end(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;

    append_lines(fx->path, "old", 0, 50);
    append(fx->path, "half of a line being written");
    conf.start_at_end = true;
    t = start(fx, &conf);
    wait_open(t, 1);
    msleep(3 * POLL_MS);
    append(fx->path, " now finished\n");
    append_lines(fx->path, "n", 0, 5);
    assert_int_equal(rec_wait(&fx->rec, 5), 5);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "n", 5);
}

static void test_new_file(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;
    char other[400];
    char ignored[400];

    conf.start_at_end = true;  /* does not apply to files that appear later */
    t = start(fx, &conf);
    msleep(3 * POLL_MS);
    snprintf(other, sizeof(other), "%s/y.log", fx->dir);
    snprintf(ignored, sizeof(ignored), "%s/y.txt", fx->dir);
    append_lines(ignored, "z", 0, 3);
    append_lines(other, "y", 0, 20);
    assert_int_equal(rec_wait(&fx->rec, 20), 20);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "y", 20);
    assert_string_equal(fx->rec.name[0], other);
}

static void test_rotate_rename(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail_stats st;
    struct lw_tail *t;
    char old[400];
    int fd_old;
    int fd_new;
    int i;

    snprintf(old, sizeof(old), "%s/x.log.1", fx->dir);
    fd_old = open(fx->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd_old >= 0);
    t = start(fx, &conf);
    wait_open(t, 1);
    for (i = 0; i < 10; i++) {
        write_lines(fd_old, "a", i * 100, (i + 1) * 100);
        msleep(5);
    }
    /* logrotate renames; the writer still appends to its old fd until it reopens. */
    assert_int_equal(rename(fx->path, old), 0);
    write_lines(fd_old, "a", 1000, 1100);
    msleep(2);
    fd_new = open(fx->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd_new >= 0);
    write_lines(fd_old, "a", 1100, 1200);
    close(fd_old);
    for (i = 0; i < 5; i++) {
        write_lines(fd_new, "b", i * 100, (i + 1) * 100);
        msleep(5);
    }
    close(fd_new);
    assert_int_equal(rec_wait(&fx->rec, 1700), 1700);
    wait_open(t, 1);
    lw_tail_stats(t, &st);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "a", 1200);
    assert_seq(&fx->rec, "b", 500);
    /* The new x.log waits for the old one to end: one ordered stream per path. */
    assert_string_equal(fx->rec.data[1199], "a1199");
    assert_string_equal(fx->rec.data[1200], "b0");
    assert_int_equal(st.rotations, 1);
    assert_int_equal(st.lines, 1700);
}

/*
 * With "*.log*" the rotated x.log.1 matches too, but it is a rotated sibling of x.log: its lines
 * keep x.log's name (one stream, one checkpoint), and it is read to its end before the new x.log,
 * including what its writer appends late (within rotate_wait_ms).
 */
static void test_rotate_within_pattern(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail_stats st;
    struct lw_tail *t;
    char old[400];
    int fd_old;
    size_t i;

    snprintf(fx->pattern, sizeof(fx->pattern), "%s/*.log*", fx->dir);
    snprintf(old, sizeof(old), "%s/x.log.1", fx->dir);
    fd_old = open(fx->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd_old >= 0);
    write_lines(fd_old, "a", 0, 100);
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 100), 100);
    assert_int_equal(rename(fx->path, old), 0);
    append_lines(fx->path, "b", 0, 50);
    msleep(3 * POLL_MS);
    write_lines(fd_old, "a", 100, 150);
    close(fd_old);
    assert_int_equal(rec_wait(&fx->rec, 200), 200);
    lw_tail_stats(t, &st);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "a", 150);
    assert_seq(&fx->rec, "b", 50);
    for (i = 0; i < fx->rec.n; i++) {
        assert_string_equal(fx->rec.name[i], fx->path);
    }
    assert_int_equal(st.files_open, 2);  /* x.log.1 waits out rotate_wait_ms */
    assert_int_equal(st.rotations, 0);
}

static void test_copytruncate(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail_stats st;
    struct lw_tail *t;
    char copy[400];
    char cmd[1000];

    snprintf(copy, sizeof(copy), "%s/x.log.1", fx->dir);
    append_lines(fx->path, "before-the-copy-", 0, 100);
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 100), 100);
    snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", fx->path, copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(truncate(fx->path, 0), 0);
    append_lines(fx->path, "c", 0, 10);
    assert_int_equal(rec_wait(&fx->rec, 110), 110);
    lw_tail_stats(t, &st);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "before-the-copy-", 100);
    assert_seq(&fx->rec, "c", 10);
    assert_int_equal(st.truncations, 1);
}

static void test_resume(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct store s = { 0 };
    struct lw_tail *t;

    append_lines(fx->path, "r", 0, 300);  /* over 1 KiB: the fingerprint is set */
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 300), 300);
    lw_tail_stop(t);
    assert_true(fx->rec.has_cp);
    assert_int_not_equal(fx->rec.cp.fingerprint, 0);
    assert_int_equal(fx->rec.cp.offset, file_size(fx->path));
    s.has = 1;
    s.cp = fx->rec.cp;
    snprintf(s.path, sizeof(s.path), "%s", fx->path);

    append_lines(fx->path, "r", 300, 320);
    conf.resume = store_resume;
    conf.resume_opaque = &s;
    conf.start_at_end = true;  /* a matching checkpoint wins over start_at_end */
    t = start(fx, &conf);
    append_lines(fx->path, "r", 320, 330);
    assert_int_equal(rec_wait(&fx->rec, 330), 330);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "r", 330);
}

static void test_resume_short_file(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct store s = { 0 };
    struct lw_tail *t;

    append_lines(fx->path, "s", 0, 3);  /* under 1 KiB: the fingerprint covers what was read */
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 3), 3);
    lw_tail_stop(t);
    assert_int_not_equal(fx->rec.cp.fingerprint, 0);
    s.has = 1;
    s.cp = fx->rec.cp;
    snprintf(s.path, sizeof(s.path), "%s", fx->path);
    append_lines(fx->path, "s", 3, 6);
    conf.resume = store_resume;
    conf.resume_opaque = &s;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 6), 6);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "s", 6);
}

static void test_resume_bad_fingerprint(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct store s = { 0 };
    struct lw_tail *t;
    struct stat st;

    append_lines(fx->path, "f", 0, 300);
    assert_int_equal(stat(fx->path, &st), 0);
    s.has = 1;
    s.cp.dev = (uint64_t)st.st_dev;
    s.cp.ino = (uint64_t)st.st_ino;
    s.cp.fingerprint = 0x1234567890abcdefull;  /* the inode was reused by another file */
    s.cp.offset = 500;
    snprintf(s.path, sizeof(s.path), "%s", fx->path);
    conf.resume = store_resume;
    conf.resume_opaque = &s;
    conf.start_at_end = true;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 300), 300);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "f", 300);
}

/* Stopped, then x.log was rotated by rename: x.log.1 finishes from the checkpoint. */
static void test_resume_after_rotation(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail_stats st;
    struct store s = { 0 };
    struct lw_tail *t;
    char old[400];

    snprintf(old, sizeof(old), "%s/x.log.1", fx->dir);
    append_lines(fx->path, "a", 0, 300);
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 300), 300);
    lw_tail_stop(t);
    s.has = 1;
    s.cp = fx->rec.cp;
    snprintf(s.path, sizeof(s.path), "%s", fx->path);

    append_lines(fx->path, "a", 300, 330);
    assert_int_equal(rename(fx->path, old), 0);
    append_lines(fx->path, "b", 0, 40);
    conf.resume = store_resume;
    conf.resume_opaque = &s;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 370), 370);
    wait_open(t, 1);  /* x.log.1 is closed after its end */
    lw_tail_stats(t, &st);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "a", 330);
    assert_seq(&fx->rec, "b", 40);
    assert_int_equal(st.rotations, 1);
}

/* The stored checkpoint for x.log after the last group the recorder took. */
static void store_take(struct fixture *fx, struct store *s)
{
    assert_true(fx->rec.has_cp);
    s->has = 1;
    s->cp = fx->rec.cp;
    snprintf(s->path, sizeof(s->path), "%s", fx->path);
}

/* Counts the recorded lines that start with @prefix. */
static int rec_prefixed(struct rec *r, const char *prefix)
{
    size_t i;
    int n = 0;

    for (i = 0; i < r->n; i++) {
        n += strncmp(r->data[i], prefix, strlen(prefix)) == 0;
    }
    return n;
}

/*
 * Stopped, x.log was rotated twice (x.log -> x.log.1 -> x.log.2, a new x.log each time): the
 * rest of x.log.2 (the checkpoint's file), all of x.log.1, then x.log, in that order.
 */
static void test_resume_two_rotations(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct store s = { 0 };
    struct lw_tail *t;
    char r1[400];
    char r2[400];

    snprintf(r1, sizeof(r1), "%s/x.log.1", fx->dir);
    snprintf(r2, sizeof(r2), "%s/x.log.2", fx->dir);
    append_lines(fx->path, "a", 0, 300);
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 300), 300);
    lw_tail_stop(t);
    store_take(fx, &s);

    append_lines(fx->path, "a", 300, 330);
    assert_int_equal(rename(fx->path, r1), 0);
    append_lines(fx->path, "b", 0, 40);
    assert_int_equal(rename(r1, r2), 0);
    assert_int_equal(rename(fx->path, r1), 0);
    append_lines(fx->path, "c", 0, 20);
    conf.resume = store_resume;
    conf.resume_opaque = &s;
    t = start(fx, &conf);
    rec_wait(&fx->rec, 390);
    wait_open(t, 1);
    lw_tail_stop(t);
    print_message("two rotations while stopped: a %d/330 b %d/40 c %d/20\n",
                  rec_prefixed(&fx->rec, "a"), rec_prefixed(&fx->rec, "b"),
                  rec_prefixed(&fx->rec, "c"));
    assert_int_equal(fx->rec.n, 390);
    assert_seq(&fx->rec, "a", 330);
    assert_seq(&fx->rec, "b", 40);
    assert_seq(&fx->rec, "c", 20);
    assert_string_equal(fx->rec.data[329], "a329");
    assert_string_equal(fx->rec.data[330], "b0");
    assert_string_equal(fx->rec.data[370], "c0");
}

/*
 * Running, with a poll interval longer than the rotations take: x.log is rotated twice between
 * two polls, so the middle file (created and renamed away in between) is never seen at x.log.
 */
static void test_rotate_twice_between_polls(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;
    char r1[400];
    char r2[400];

    snprintf(r1, sizeof(r1), "%s/x.log.1", fx->dir);
    snprintf(r2, sizeof(r2), "%s/x.log.2", fx->dir);
    append_lines(fx->path, "a", 0, 100);
    conf.poll_ms = 400;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 100), 100);
    append_lines(fx->path, "a", 100, 110);
    assert_int_equal(rename(fx->path, r1), 0);
    append_lines(fx->path, "b", 0, 40);
    assert_int_equal(rename(r1, r2), 0);
    assert_int_equal(rename(fx->path, r1), 0);
    append_lines(fx->path, "c", 0, 20);
    rec_wait(&fx->rec, 170);
    msleep(3 * 400);
    lw_tail_stop(t);
    print_message("two rotations between polls: a %d/110 b %d/40 c %d/20\n",
                  rec_prefixed(&fx->rec, "a"), rec_prefixed(&fx->rec, "b"),
                  rec_prefixed(&fx->rec, "c"));
    assert_int_equal(fx->rec.n, 170);
    assert_seq(&fx->rec, "a", 110);
    assert_seq(&fx->rec, "b", 40);
    assert_seq(&fx->rec, "c", 20);
    assert_string_equal(fx->rec.data[110], "b0");
}

/*
 * Stopped, a short x.log (under 1 KiB) was deleted and a new one written; the file system gave
 * the new file the old inode. The checkpoint must not resume the new file at the old offset.
 * The reuse is made certain by giving the checkpoint the new file's dev/ino.
 */
static void test_resume_inode_reused(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct store s = { 0 };
    struct lw_tail *t;
    struct stat st;
    uint64_t old_ino;

    append_lines(fx->path, "o", 0, 15);
    assert_int_equal(stat(fx->path, &st), 0);
    old_ino = (uint64_t)st.st_ino;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 15), 15);
    lw_tail_stop(t);
    store_take(fx, &s);

    assert_int_equal(unlink(fx->path), 0);
    append_lines(fx->path, "new line ", 0, 25);
    assert_int_equal(stat(fx->path, &st), 0);
    print_message("inode reuse: old %llu new %llu (file system %s it)\n",
                  (unsigned long long)old_ino, (unsigned long long)st.st_ino,
                  old_ino == (uint64_t)st.st_ino ? "reused" : "did not reuse");
    s.cp.dev = (uint64_t)st.st_dev;
    s.cp.ino = (uint64_t)st.st_ino;
    conf.resume = store_resume;
    conf.resume_opaque = &s;
    t = start(fx, &conf);
    rec_wait(&fx->rec, 40);
    lw_tail_stop(t);
    print_message("inode reuse: new lines %d/25\n", rec_prefixed(&fx->rec, "new line "));
    assert_seq(&fx->rec, "new line ", 25);
}

/* Stopped, x.log was rotated with a date suffix and compressed: the rest is read from the .gz. */
static void test_resume_rotated_gzip(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct store s = { 0 };
    struct lw_tail *t;
    char r1[400];
    char cmd[1000];

    snprintf(r1, sizeof(r1), "%s/x.log-20261204", fx->dir);
    append_lines(fx->path, "a", 0, 300);
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 300), 300);
    lw_tail_stop(t);
    store_take(fx, &s);

    append_lines(fx->path, "a", 300, 500);
    assert_int_equal(rename(fx->path, r1), 0);
    snprintf(cmd, sizeof(cmd), "gzip -n '%s'", r1);
    assert_int_equal(system(cmd), 0);
    append_lines(fx->path, "b", 0, 40);
    conf.resume = store_resume;
    conf.resume_opaque = &s;
    t = start(fx, &conf);
    rec_wait(&fx->rec, 540);
    wait_open(t, 1);
    lw_tail_stop(t);
    print_message("rotated and gzipped while stopped: a %d/500 b %d/40\n",
                  rec_prefixed(&fx->rec, "a"), rec_prefixed(&fx->rec, "b"));
    assert_int_equal(fx->rec.n, 540);
    assert_seq(&fx->rec, "a", 500);
    assert_seq(&fx->rec, "b", 40);
    assert_string_equal(fx->rec.data[500], "b0");
}

/*
 * Running: x.log.1 (still open, waiting out rotate_wait_ms) is shifted to x.log.2 and compressed
 * to x.log.2.gz, as logrotate's delaycompress does. The .gz is a copy of a file being read: its
 * lines must not come twice.
 */
static void test_rotate_compressed_while_open(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;
    char r1[400];
    char r2[400];
    char cmd[1000];

    snprintf(r1, sizeof(r1), "%s/x.log.1", fx->dir);
    snprintf(r2, sizeof(r2), "%s/x.log.2", fx->dir);
    append_lines(fx->path, "a", 0, 300);
    conf.rotate_wait_ms = 3000;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 300), 300);
    assert_int_equal(rename(fx->path, r1), 0);
    append_lines(fx->path, "b", 0, 10);
    assert_int_equal(rec_wait(&fx->rec, 310), 310);
    assert_int_equal(rename(r1, r2), 0);
    snprintf(cmd, sizeof(cmd), "gzip -n '%s'", r2);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rename(fx->path, r1), 0);
    append_lines(fx->path, "c", 0, 10);
    rec_wait(&fx->rec, 320);
    msleep(10 * POLL_MS);
    lw_tail_stop(t);
    print_message("compressed while open: %zu lines of 320\n", fx->rec.n);
    assert_int_equal(fx->rec.n, 320);
    assert_seq(&fx->rec, "a", 300);
    assert_seq(&fx->rec, "b", 10);
    assert_seq(&fx->rec, "c", 10);
}

static void test_crlf(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;

    append(fx->path, "one\r\ntwo\r\nin\rside\n\r\n\n");
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 5), 5);
    lw_tail_stop(t);
    assert_string_equal(fx->rec.data[0], "one");
    assert_string_equal(fx->rec.data[1], "two");
    assert_string_equal(fx->rec.data[2], "in\rside");
    assert_int_equal(fx->rec.len[3], 0);
    assert_int_equal(fx->rec.len[4], 0);
    assert_int_equal(fx->rec.flags[0], 0);
}

static void test_long_line(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail_stats st;
    struct lw_tail *t;
    size_t big = 1024 * 1024;
    char *buf = malloc(big);
    int fd;
    size_t i;

    assert_non_null(buf);
    memset(buf, 'x', big);
    conf.max_line_bytes = 1024;
    conf.read_bytes = 64 * 1024;  /* the long line spans many reads */
    t = start(fx, &conf);
    fd = open(fx->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    write_all(fd, "first\n", 6);
    for (i = 0; i < 4; i++) {
        write_all(fd, buf, big / 4);  /* across several polls */
        msleep(POLL_MS);
    }
    write_all(fd, "\nnext\n", 6);
    /* Exactly at the limit (plus CR) is not truncated. */
    write_all(fd, buf, 1024);
    write_all(fd, "\r\n", 2);
    close(fd);
    free(buf);
    assert_int_equal(rec_wait(&fx->rec, 4), 4);
    lw_tail_stats(t, &st);
    lw_tail_stop(t);
    assert_string_equal(fx->rec.data[0], "first");
    assert_int_equal(fx->rec.len[1], 1024);
    assert_int_equal(fx->rec.flags[1], LW_LINE_TRUNCATED);
    assert_string_equal(fx->rec.data[2], "next");
    assert_int_equal(fx->rec.len[3], 1024);
    assert_int_equal(fx->rec.flags[3], 0);
    assert_int_equal(st.truncated, 1);
    assert_int_equal(fx->rec.cp.offset, file_size(fx->path));
}

static void test_backpressure(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;

    fx->rec.eagain_left = 20;
    conf.batch_lines = 64;
    append_lines(fx->path, "p", 0, 500);
    t = start(fx, &conf);
    append_lines(fx->path, "p", 500, 1000);
    assert_int_equal(rec_wait(&fx->rec, 1000), 1000);
    lw_tail_stop(t);
    assert_int_equal(fx->rec.n_eagain, 20);
    assert_seq(&fx->rec, "p", 1000);
}

static void test_partial_line(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;

    append(fx->path, "whole\npart");
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 1), 1);
    append(fx->path, "ial");
    msleep(5 * POLL_MS);
    assert_int_equal(rec_count(&fx->rec), 1);
    append(fx->path, " line\n");
    assert_int_equal(rec_wait(&fx->rec, 2), 2);
    lw_tail_stop(t);
    assert_string_equal(fx->rec.data[0], "whole");
    assert_string_equal(fx->rec.data[1], "partial line");
}

static void test_binary(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;
    unsigned char buf[8192];
    uint32_t x = 12345;
    size_t i;
    size_t n_lf = 0;
    int fd;

    for (i = 0; i < sizeof(buf); i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
    buf[sizeof(buf) - 1] = '\n';
    buf[0] = '\0';
    for (i = 0; i < sizeof(buf); i++) {
        n_lf += buf[i] == '\n';
    }
    fd = open(fx->path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    write_all(fd, (const char *)buf, sizeof(buf));
    close(fd);
    conf.max_line_bytes = 100;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, n_lf), n_lf);
    lw_tail_stop(t);
    assert_true(fx->rec.flags[0] & LW_LINE_INVALID);
}

static void test_deleted(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail_stats st;
    struct lw_tail *t;

    append_lines(fx->path, "d", 0, 10);
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 10), 10);
    append(fx->path, "last line without LF");
    unlink(fx->path);
    wait_open(t, 0);
    lw_tail_stats(t, &st);
    lw_tail_stop(t);
    assert_int_equal(fx->rec.n, 11);
    assert_string_equal(fx->rec.data[10], "last line without LF");
    assert_int_equal(st.rotations, 1);
}

static void test_reopen(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;

    conf.poll_ms = 60000;  /* only the initial glob and lw_tail_reopen() look */
    append_lines(fx->path, "o", 0, 2);
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 2), 2);
    append_lines(fx->path, "o", 2, 4);
    lw_tail_reopen(t);
    assert_int_equal(rec_wait(&fx->rec, 4), 4);
    lw_tail_stop(t);
    assert_seq(&fx->rec, "o", 4);
}

struct ref {
    struct rec *rec;
    size_t i;
    size_t n_diff;
};

static int ref_cmp(void *opaque, const struct lw_line *l)
{
    struct ref *r = opaque;

    if (r->i >= r->rec->n || r->rec->len[r->i] != l->len ||
        memcmp(r->rec->data[r->i], l->data, l->len) != 0 || r->rec->flags[r->i] != l->flags) {
        r->n_diff++;
    }
    r->i++;
    return 0;
}

/*
 * Lines of every length around max_line_bytes, with and without CR, written in random pieces
 * while tiny reads split them anywhere: the tail must frame exactly as lw_frame_buffer() does.
 */
static void test_matches_framer(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_reader_conf rc = { 0 };
    struct ref ref = { 0 };
    struct lw_tail *t;
    char *text;
    size_t cap = 64 * 1024;
    size_t len = 0;
    size_t off;
    size_t piece;
    uint32_t x = 777;
    int n_lines = 0;
    int n;
    int fd;
    size_t i;

    text = malloc(cap);
    assert_non_null(text);
    while (len < cap - 200) {
        x = x * 1103515245u + 12345u;
        n = (int)((x >> 16) % 40);
        for (i = 0; i < (size_t)n; i++) {
            text[len++] = (char)('a' + (int)((x >> (i % 16)) % 26));
        }
        if ((x >> 8) % 3 == 0) {
            text[len++] = '\r';
        }
        text[len++] = '\n';
        n_lines++;
    }
    conf.max_line_bytes = 16;
    conf.read_bytes = 7;
    conf.batch_lines = 13;
    t = start(fx, &conf);
    fd = open(fx->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    for (off = 0; off < len; off += piece) {
        x = x * 1103515245u + 12345u;
        piece = 1 + (x >> 16) % 3000;
        if (piece > len - off) {
            piece = len - off;
        }
        write_all(fd, text + off, piece);
        if ((x >> 4) % 8 == 0) {
            msleep(1);
        }
    }
    close(fd);
    assert_int_equal(rec_wait(&fx->rec, (size_t)n_lines), (size_t)n_lines);
    lw_tail_stop(t);
    rc.max_line_bytes = 16;
    ref.rec = &fx->rec;
    assert_int_equal(lw_frame_buffer(text, len, &rc, ref_cmp, &ref), n_lines);
    assert_int_equal(ref.n_diff, 0);
    assert_int_equal(fx->rec.cp.offset, len);
    free(text);
}

static int count_line(void *opaque, const struct lw_line *l)
{
    (void)opaque;
    (void)l;
    return 0;
}

/* Appends one record of a Java or Python application log, chosen by @x. */
static size_t java_record(char *out, size_t cap, uint32_t x, int i)
{
    switch ((x >> 8) % 6) {
    case 0:
        return (size_t)snprintf(out, cap,
                                "2026-12-04 10:00:%02d ERROR request %d failed\n"
                                "java.lang.IllegalStateException: state %d invalid\n"
                                "\tat com.example.Svc.run(Svc.java:%d)\n"
                                "\tat com.example.Main.main(Main.java:12)\n"
                                "Caused by: java.io.IOException: disk full\n"
                                "\tat com.example.Io.write(Io.java:7)\n"
                                "\t... 3 more\n",
                                i % 60, i, i, i % 500);
    case 1:
        return (size_t)snprintf(out, cap,
                                "2026-12-04 10:00:%02d ERROR job %d crashed\n"
                                "Traceback (most recent call last):\n"
                                "  File \"job.py\", line %d, in run\n"
                                "    do()\n"
                                "ValueError: bad value %d\n",
                                i % 60, i, i % 90, i);
    case 2:
        return (size_t)snprintf(out, cap, "2026-12-04 10:00:%02d WARN slow query %d\n"
                                          "    select * from t where id = %d\n",
                                i % 60, i, i);
    default:
        return (size_t)snprintf(out, cap, "2026-12-04 10:00:%02d INFO request %d ok\n", i % 60,
                                i);
    }
}

/*
 * A Java and Python application log with stack traces, written in random pieces (one trace
 * split across several polls on purpose) while tiny reads split it anywhere: with multi-line
 * joining the tail must hand over exactly the records lw_frame_buffer() makes of the whole
 * text, and its last checkpoint is the end of the file.
 */
static void test_multiline_records(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_reader_conf rc = { 0 };
    struct ref ref = { 0 };
    struct lw_tail *t;
    char *text;
    size_t cap = 48 * 1024;
    size_t len = 0;
    size_t split = 0;
    size_t off;
    size_t piece;
    uint32_t x = 4242;
    int n_records;
    int i = 0;
    int fd;

    text = malloc(cap);
    assert_non_null(text);
    while (len < cap - 1024) {
        x = x * 1103515245u + 12345u;
        if (split == 0 && len > cap / 2 && (x >> 8) % 6 == 0) {
            split = len + 60;  /* inside this trace: after its message and exception lines */
        }
        len += java_record(text + len, cap - len, x, i++);
    }
    assert_true(split > 0);
    conf.multiline.mode = LW_MULTILINE_AUTO;
    conf.max_line_bytes = 256;  /* long traces are cut, as the reader cuts them */
    conf.read_bytes = 7;
    conf.batch_lines = 13;
    t = start(fx, &conf);
    fd = open(fx->path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    for (off = 0; off < len; off += piece) {
        x = x * 1103515245u + 12345u;
        piece = 1 + (x >> 16) % 3000;
        if (off < split && off + piece > split) {
            piece = split - off;
        }
        if (piece > len - off) {
            piece = len - off;
        }
        write_all(fd, text + off, piece);
        if (off + piece == split) {
            msleep(3 * POLL_MS);  /* the trace's first lines are read and held */
        }
    }
    close(fd);
    rc.max_line_bytes = 256;
    rc.multiline = LW_MULTILINE_AUTO;
    n_records = lw_frame_buffer(text, len, &rc, count_line, NULL);
    assert_true(n_records > 0 && n_records < i * 2);
    assert_int_equal(rec_wait(&fx->rec, (size_t)n_records), (size_t)n_records);
    lw_tail_stop(t);
    ref.rec = &fx->rec;
    assert_int_equal(lw_frame_buffer(text, len, &rc, ref_cmp, &ref), n_records);
    assert_int_equal(ref.n_diff, 0);
    assert_int_equal(fx->rec.cp.offset, len);
    free(text);
}

/*
 * A crash while a trace is being written: the checkpoint taken with the line before it stops
 * at the trace's first byte (the trace is held back, not handed over in part), so a restart
 * from that checkpoint delivers the trace whole, once, and nothing is lost.
 */
static void test_multiline_crash(void **state)
{
    struct fixture *fx = *state;
    static const char head[] = "2026-12-04 10:00:00 INFO started\n";
    static const char trace1[] = "2026-12-04 10:00:01 ERROR request 7 failed\n"
                                 "java.lang.IllegalStateException: boom\n"
                                 "\tat com.example.Svc.run(Svc.java:42)\n";
    static const char trace2[] = "\tat com.example.Main.main(Main.java:12)\n"
                                 "Caused by: java.io.IOException: disk full\n"
                                 "\t... 3 more\n"
                                 "2026-12-04 10:00:02 INFO recovered\n";
    struct lw_tail_conf conf = { 0 };
    struct store s = { 0 };
    struct lw_tail *t;
    unsigned waited = 0;

    conf.multiline.mode = LW_MULTILINE_AUTO;
    fx->rec.freeze_on = "2026-12-04 10:00:00 INFO started";
    append(fx->path, head);
    append(fx->path, trace1);
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 1), 1);
    /* The pipeline is dead from here on: the held trace is offered (quiet file) and refused. */
    while (fx->rec.n_eagain == 0 && waited < DEADLINE_MS) {
        msleep(5);
        waited += 5;
    }
    assert_true(fx->rec.n_eagain > 0);
    lw_tail_stop(t);  /* the kill: nothing after the first group was acknowledged */
    assert_int_equal(fx->rec.n, 1);
    assert_int_equal(fx->rec.cp.offset, strlen(head));

    append(fx->path, trace2);
    s.has = 1;
    s.cp = fx->rec.cp;
    snprintf(s.path, sizeof(s.path), "%s", fx->path);
    fx->rec.frozen = 0;
    fx->rec.freeze_on = NULL;
    conf.resume = store_resume;
    conf.resume_opaque = &s;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 3), 3);
    lw_tail_stop(t);
    assert_string_equal(fx->rec.data[1], "2026-12-04 10:00:01 ERROR request 7 failed\n"
                                         "java.lang.IllegalStateException: boom\n"
                                         "\tat com.example.Svc.run(Svc.java:42)\n"
                                         "\tat com.example.Main.main(Main.java:12)\n"
                                         "Caused by: java.io.IOException: disk full\n"
                                         "\t... 3 more");
    assert_int_equal(fx->rec.flags[1], LW_LINE_MULTI);
    assert_string_equal(fx->rec.data[2], "2026-12-04 10:00:02 INFO recovered");
    assert_int_equal(fx->rec.flags[2], 0);
    assert_int_equal(fx->rec.cp.offset, file_size(fx->path));
}

/*
 * A record held at the end of a rotated file is complete: it comes whole and before the new
 * file's lines, and a record never spans two files (the new file's first line starts its own).
 */
static void test_multiline_rotate(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    char old[320];
    struct lw_tail *t;
    unsigned waited = 0;

    conf.multiline.mode = LW_MULTILINE_AUTO;
    t = start(fx, &conf);
    append(fx->path, "a 1\nERROR x\n\tat a.B.c(B.java:1)\n");
    while (rec_count(&fx->rec) < 1 && waited < DEADLINE_MS) {
        msleep(2);
        waited += 2;
    }
    snprintf(old, sizeof(old), "%s.1", fx->path);
    assert_int_equal(rename(fx->path, old), 0);
    append(fx->path, "\tat z.Z.z(Z.java:9)\nb 1\n");
    assert_int_equal(rec_wait(&fx->rec, 4), 4);
    lw_tail_stop(t);
    assert_string_equal(fx->rec.data[0], "a 1");
    assert_string_equal(fx->rec.data[1], "ERROR x\n\tat a.B.c(B.java:1)");
    assert_int_equal(fx->rec.flags[1], LW_LINE_MULTI);
    assert_string_equal(fx->rec.data[2], "\tat z.Z.z(Z.java:9)");
    assert_string_equal(fx->rec.data[3], "b 1");
}

/* A bad multi-line setting is refused at start. */
static void test_multiline_bad_conf(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_ingest ing = {.fn = rec_ingest, .opaque = &fx->rec};
    const char *pats[1];
    char err[256] = "";

    pats[0] = fx->pattern;
    conf.patterns = pats;
    conf.n_patterns = 1;
    conf.multiline.mode = LW_MULTILINE_REGEX;
    conf.multiline.regex = "(";
    assert_null(lw_tail_start(&conf, ing, err, sizeof(err)));
    assert_non_null(strstr(err, "regex"));
    conf.multiline.regex = NULL;
    assert_null(lw_tail_start(&conf, ing, err, sizeof(err)));
}

static void test_stop_under_backpressure(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail *t;
    size_t waited = 0;

    fx->rec.eagain_left = 1 << 30;  /* the pipeline never takes anything */
    append_lines(fx->path, "q", 0, 10);
    t = start(fx, &conf);
    while (waited < DEADLINE_MS) {
        pthread_mutex_lock(&fx->rec.mu);
        if (fx->rec.n_eagain >= 3) {
            waited = DEADLINE_MS;
        }
        pthread_mutex_unlock(&fx->rec.mu);
        msleep(5);
        waited += 5;
    }
    lw_tail_stop(t);  /* returns although the group was never taken */
    assert_int_equal(fx->rec.n, 0);
    assert_true(fx->rec.n_eagain >= 3);
}

static void test_max_files(void **state)
{
    struct fixture *fx = *state;
    struct lw_tail_conf conf = { 0 };
    struct lw_tail_stats st;
    struct lw_tail *t;
    char p[400];
    int i;

    for (i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s/m%d.log", fx->dir, i);
        append_lines(p, "m", 0, 1);
    }
    conf.max_files = 2;
    t = start(fx, &conf);
    assert_int_equal(rec_wait(&fx->rec, 2), 2);
    lw_tail_stats(t, &st);
    lw_tail_stop(t);
    assert_int_equal(st.files_open, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_conf),
        cmocka_unit_test_setup_teardown(test_append_after_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_at_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_within_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_short_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_bad_fingerprint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_rotation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_two_rotations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_twice_between_polls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_inode_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_rotated_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_compressed_while_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_under_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matches_framer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiline_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiline_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiline_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multiline_bad_conf, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
