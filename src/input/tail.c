/*
 * The file tail input (see lw_tail.h for the behaviour it promises). This file holds the thread,
 * file discovery with glob(3), resume and rotation; the line reader that turns new bytes into
 * groups is further down ("Reading").
 *
 * The reader is specific to tailing rather than lw_reader_*: a tail must know the exact byte
 * offset after every line it hands out (the checkpoint), must keep an unfinished last line until
 * its LF arrives (possibly many polls later), and must cope with its file shrinking under it.
 * So every file keeps only a small carry (its unfinished line, at most max_line_bytes + 1 bytes)
 * and its read offset; one read buffer of max_line_bytes + 2 + read_bytes bytes is shared by all
 * files, because the thread reads one file at a time. A file costs an fd and its carry, which
 * keeps a thousand idle files cheap.
 *
 * Reads use pread(2) at the tail's own offset, so the fd position never matters and a truncation
 * is just "the size is now below my offset".
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_tail.h"

#define TAIL_DEFAULT_POLL_MS   250u
#define TAIL_DEFAULT_MAX_LINE  65536u
#define TAIL_MAX_LINE_LIMIT    (1024u * 1024u * 1024u)
#define TAIL_DEFAULT_READ      (1024u * 1024u)
#define TAIL_DEFAULT_BATCH     4096u
#define TAIL_DEFAULT_MAX_FILES 1024u
#define TAIL_FP_BYTES          1024u  /* bytes hashed for the fingerprint */
#define TAIL_READS_PER_POLL    16     /* reads of one file per poll before the next file's turn */
#define TAIL_RETRY_MS          5      /* pause between offers of a refused group */

/* What the reader does with bytes up to the next LF. */
enum tail_skip {
    SKIP_NONE = 0,   /* nothing: bytes are lines */
    SKIP_TRUNC,      /* the carry is a truncated line's prefix, emitted when its LF arrives */
    SKIP_SILENT,     /* drop them: the start of this line was before where we began reading */
};

struct tail_file {
    char *path;              /* the name the file was last found under */
    int fd;                  /* -1: it could not be opened (retried after lw_tail_reopen) */
    uint64_t dev;
    uint64_t ino;
    uint64_t fp;             /* XXH64 of the first 1024 bytes; 0 while the file is shorter */
    uint64_t read_off;       /* file offset of the next byte to read */
    uint64_t last_size;      /* st_size at the previous poll */
    char *carry;             /* unfinished line, or a truncated line's prefix (see @skip) */
    size_t carry_len;
    size_t carry_cap;
    enum tail_skip skip;
    uint64_t seen;           /* generation of the last glob that matched the file */
    unsigned unmatched_polls;/* polls in a row in which no pattern matched it */
    int closed;              /* done: removed from the list after this poll */
    struct tail_file *next;
};

struct lw_tail {
    /* Configuration (copied). */
    char **patterns;
    size_t n_patterns;
    bool start_at_end;
    unsigned poll_ms;
    size_t max_line;
    size_t read_bytes;
    size_t batch_lines;
    size_t max_files;
    lw_tail_resume_cb resume;
    void *resume_opaque;
    struct lw_ingest ingest;

    /* Thread control. */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int stop;
    atomic_int reopen;

    /* Thread-owned state. */
    struct tail_file *files;   /* in discovery order */
    size_t n_files;
    uint64_t gen;              /* glob generation */
    int full_warned;           /* max_files was reported */
    char *buf;                 /* shared read buffer */
    size_t buf_cap;
    struct lw_ingest_line *lines;  /* the group being built: batch_lines entries */
    size_t n_lines;
    uint64_t group_end;        /* offset after the group's last line */

    /* Counters. */
    atomic_uint_least64_t n_files_open;
    atomic_uint_least64_t n_lines_total;
    atomic_uint_least64_t n_bytes;
    atomic_uint_least64_t n_truncated;
    atomic_uint_least64_t n_rotations;
    atomic_uint_least64_t n_truncations;
    atomic_uint_least64_t n_errors;
};

static void count(atomic_uint_least64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static int stopping(struct lw_tail *t)
{
    return atomic_load_explicit(&t->stop, memory_order_acquire);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Waits @ms or until stop or reopen is asked. */
static void wait_poll(struct lw_tail *t, unsigned ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->mu);
    while (!stopping(t) && !atomic_load(&t->reopen)) {
        if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
}

/* ------------------------------------------------------------------------------------------ */
/* Files: identity, fingerprint, lifetime.                                                     */
/* ------------------------------------------------------------------------------------------ */

/* Returns the fingerprint of @fd's first 1024 bytes, or 0 when it has fewer. */
static uint64_t fingerprint(int fd)
{
    char head[TAIL_FP_BYTES];
    size_t got = 0;
    ssize_t n;

    while (got < sizeof(head)) {
        n = pread(fd, head + got, sizeof(head) - got, (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return 0;
        }
        got += (size_t)n;
    }
    return XXH64(head, sizeof(head), 0);
}

static struct tail_file *find_id(struct lw_tail *t, uint64_t dev, uint64_t ino)
{
    struct tail_file *f;

    for (f = t->files; f != NULL; f = f->next) {
        if (!f->closed && f->dev == dev && f->ino == ino) {
            return f;
        }
    }
    return NULL;
}

/* Returns 1 when @path currently names the file (@dev, @ino). */
static int path_is(const char *path, uint64_t dev, uint64_t ino)
{
    struct stat st;

    return stat(path, &st) == 0 && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

/* Appends a file to the list. Takes ownership of @fd (closed on failure). */
static struct tail_file *file_add(struct lw_tail *t, const char *path, int fd, uint64_t dev,
                                  uint64_t ino)
{
    struct tail_file *f;
    struct tail_file **pp;

    f = lw_calloc(1, sizeof(*f));
    if (f == NULL) {
        goto fail;
    }
    f->path = lw_strdup(path);
    if (f->path == NULL) {
        lw_free(f);
        goto fail;
    }
    f->fd = fd;
    f->dev = dev;
    f->ino = ino;
    f->seen = t->gen;
    for (pp = &t->files; *pp != NULL; pp = &(*pp)->next) {
    }
    *pp = f;
    t->n_files++;
    if (fd >= 0) {
        count(&t->n_files_open, 1);
    }
    return f;
fail:
    if (fd >= 0) {
        close(fd);
    }
    count(&t->n_errors, 1);
    lw_error("tail", "'%s': out of memory", path);
    return NULL;
}

static void file_close(struct lw_tail *t, struct tail_file *f)
{
    if (f->fd >= 0) {
        close(f->fd);
        f->fd = -1;
        atomic_fetch_sub_explicit(&t->n_files_open, 1, memory_order_relaxed);
    }
    f->closed = 1;
}

static void file_free(struct tail_file *f)
{
    lw_free(f->path);
    lw_free(f->carry);
    lw_free(f);
}

/* Frees the entries marked closed. */
static void files_sweep(struct lw_tail *t)
{
    struct tail_file **pp = &t->files;
    struct tail_file *f;

    while ((f = *pp) != NULL) {
        if (f->closed) {
            *pp = f->next;
            t->n_files--;
            file_free(f);
        }
        else {
            pp = &f->next;
        }
    }
}

/* Sets where reading begins. @silent: @off may be inside a line, whose rest is dropped. */
static void file_seek(struct tail_file *f, uint64_t off, int silent)
{
    f->read_off = off;
    f->carry_len = 0;
    f->skip = silent ? SKIP_SILENT : SKIP_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* Reading.                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Returns a cut point <= @max that does not split a UTF-8 sequence when possible (@data[max]
 * exists). The same rule as lw_frame's, so both inputs cut alike. */
static size_t utf8_cut(const char *data, size_t max)
{
    size_t cut = max;

    while (cut > 0 && max - cut < 3 && ((unsigned char)data[cut] & 0xC0) == 0x80) {
        cut--;
    }
    if (((unsigned char)data[cut] & 0xC0) == 0x80) {
        return max;
    }
    return cut;
}

/*
 * Offers the group built in t->lines for @f until the pipeline takes it. Returns LW_OK (taken,
 * or refused with an error other than LW_EAGAIN: dropped, counted and logged) or LW_EAGAIN when
 * the tail is stopping while the pipeline still refuses it.
 */
static int group_offer(struct lw_tail *t, struct tail_file *f)
{
    struct lw_ingest_source src = { "tail", f->path, NULL };
    struct lw_ingest_checkpoint cp;
    struct lw_ingest_group g;
    uint64_t n_trunc = 0;
    size_t i;
    int rc;

    if (t->n_lines == 0) {
        return LW_OK;
    }
    cp.path = f->path;
    cp.dev = f->dev;
    cp.ino = f->ino;
    cp.fingerprint = f->fp;
    cp.offset = t->group_end;
    g.source = &src;
    g.lines = t->lines;
    g.n_lines = t->n_lines;
    g.checkpoint = &cp;
    for (;;) {
        rc = t->ingest.fn(t->ingest.opaque, &g);
        if (rc != LW_EAGAIN) {
            break;
        }
        /* Backpressure: nothing more is read until this group is taken. */
        if (stopping(t)) {
            return LW_EAGAIN;
        }
        sleep_ms(TAIL_RETRY_MS);
    }
    if (rc == LW_OK) {
        for (i = 0; i < t->n_lines; i++) {
            n_trunc += (t->lines[i].flags & LW_LINE_TRUNCATED) != 0;
        }
        count(&t->n_lines_total, t->n_lines);
        count(&t->n_truncated, n_trunc);
    }
    else {
        count(&t->n_errors, 1);
        lw_error("tail", "'%s': pipeline refused %zu lines: %s", f->path, t->n_lines,
                 lw_strerror(rc));
    }
    t->n_lines = 0;
    return LW_OK;
}

/* Adds a line ending at file offset @end to the group, offering the group when it is full. */
static int group_add(struct lw_tail *t, struct tail_file *f, const char *data, size_t len,
                     uint32_t flags, uint64_t end)
{
    struct lw_ingest_line *l = &t->lines[t->n_lines++];

    if (!lw_utf8_valid(data, len)) {
        flags |= LW_LINE_INVALID;
    }
    l->data = data;
    l->len = len;
    l->flags = flags;
    l->ts_ns = LW_TS_UNKNOWN;
    l->level = 0;
    t->group_end = end;
    if (t->n_lines == t->batch_lines) {
        return group_offer(t, f);
    }
    return LW_OK;
}

/* Makes room for a carry of @len bytes. */
static int carry_reserve(struct tail_file *f, size_t len)
{
    char *p;
    size_t cap;

    if (len > f->carry_cap) {
        cap = f->carry_cap ? f->carry_cap : 256;
        while (cap < len) {
            cap *= 2;
        }
        p = lw_realloc(f->carry, cap);
        if (p == NULL) {
            return LW_ENOMEM;
        }
        f->carry = p;
        f->carry_cap = cap;
    }
    return LW_OK;
}

/* Keeps @len bytes as the carry; room was reserved by carry_reserve(). */
static void carry_set(struct tail_file *f, const char *data, size_t len)
{
    assert(len <= f->carry_cap || len == 0);
    if (len > 0) {
        memcpy(f->carry, data, len);
    }
    f->carry_len = len;
}

/*
 * Reads one block of @f after its carry and hands out the complete lines in it. Sets *@got to
 * the bytes read (0 at the end of the file). Returns LW_OK, LW_EIO, LW_ENOMEM, or LW_EAGAIN when
 * stopping with a group refused.
 *
 * t->buf holds [carry][new bytes]; buf[k] for k >= carry_len is at file offset base + k, and so
 * is every byte of a SKIP_NONE carry (it is the start of the unfinished line).
 */
static int file_chunk(struct lw_tail *t, struct tail_file *f, size_t *got)
{
    char *buf = t->buf;
    char *nl;
    size_t carry = f->carry_len;
    size_t have;
    size_t i = 0;
    size_t len;
    size_t rem;
    uint64_t base;
    uint32_t flags;
    ssize_t n;
    int rc;

    *got = 0;
    do {
        n = pread(f->fd, buf + carry, t->read_bytes, (off_t)f->read_off);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return LW_EIO;
    }
    if (n == 0) {
        return LW_OK;
    }
    have = carry + (size_t)n;
    /*
     * The room for the new carry is taken before any line is handed out: once a group is taken
     * the read must complete, or a retry would deliver its lines twice. On LW_ENOMEM nothing has
     * changed and the same bytes are read again at the next poll.
     */
    for (rem = 0; rem < (size_t)n && buf[have - 1 - rem] != '\n'; rem++) {
    }
    if (rem == (size_t)n) {
        rem = f->skip != SKIP_NONE ? 0 : have;  /* no LF: the carry grows or is kept */
    }
    rc = carry_reserve(f, rem >= t->max_line + 2 ? t->max_line : rem);
    if (rc < 0) {
        return rc;
    }
    if (carry > 0) {
        memcpy(buf, f->carry, carry);
    }
    count(&t->n_bytes, (uint64_t)n);
    *got = (size_t)n;
    base = f->read_off - carry;
    t->n_lines = 0;

    if (f->skip != SKIP_NONE) {
        nl = memchr(buf + carry, '\n', (size_t)n);
        if (nl == NULL) {
            f->read_off += (uint64_t)n;  /* all of it belongs to the line being skipped */
            return LW_OK;
        }
        i = (size_t)(nl - buf) + 1;
        if (f->skip == SKIP_TRUNC) {
            rc = group_add(t, f, buf, carry, LW_LINE_TRUNCATED, base + i);
            if (rc < 0) {
                return rc;
            }
        }
        f->skip = SKIP_NONE;
    }
    while (i < have && (nl = memchr(buf + i, '\n', have - i)) != NULL) {
        len = (size_t)(nl - (buf + i));
        flags = 0;
        if (len > 0 && buf[i + len - 1] == '\r') {
            len--;
        }
        if (len > t->max_line) {
            len = utf8_cut(buf + i, t->max_line);
            flags = LW_LINE_TRUNCATED;
        }
        rc = group_add(t, f, buf + i, len, flags, base + (size_t)(nl - buf) + 1);
        if (rc < 0) {
            return rc;
        }
        i = (size_t)(nl - buf) + 1;
    }
    /* The group points into t->buf: it must be out before the buffer is written again. */
    rc = group_offer(t, f);
    if (rc < 0) {
        return rc;
    }
    rem = have - i;
    if (rem >= t->max_line + 2) {
        /* No LF within max + 2 bytes: over-long whatever its ending. Keep the prefix only. */
        carry_set(f, buf + i, utf8_cut(buf + i, t->max_line));
        f->skip = SKIP_TRUNC;
    }
    else {
        carry_set(f, buf + i, rem);
    }
    f->read_off += (uint64_t)n;
    return LW_OK;
}

/*
 * Hands out the unfinished last line of a file that is closed for good: no byte can complete it
 * any more, so it is a whole line now.
 */
static int file_flush_last(struct lw_tail *t, struct tail_file *f)
{
    int rc;

    if (f->carry_len == 0 && f->skip != SKIP_TRUNC) {
        return LW_OK;
    }
    if (f->skip == SKIP_SILENT) {
        return LW_OK;
    }
    t->n_lines = 0;
    rc = group_add(t, f, f->carry, f->carry_len,
                   f->skip == SKIP_TRUNC ? LW_LINE_TRUNCATED : 0, f->read_off);
    if (rc < 0) {
        return rc;
    }
    rc = group_offer(t, f);
    f->carry_len = 0;
    f->skip = SKIP_NONE;
    return rc;
}

static void file_truncated(struct lw_tail *t, struct tail_file *f, uint64_t size)
{
    lw_warn("tail", "'%s' was truncated (size %llu, offset %llu): reading again from 0",
            f->path, (unsigned long long)size, (unsigned long long)f->read_off);
    count(&t->n_truncations, 1);
    file_seek(f, 0, 0);
    f->fp = 0;
}

/*
 * One poll of one file: checks for truncation, reads what is new, and closes the file once it
 * is no longer matched and has stopped growing. Returns 1 when it left bytes unread (another
 * turn is wanted soon), 0, or LW_EAGAIN when stopping.
 */
static int file_poll(struct lw_tail *t, struct tail_file *f)
{
    struct stat st;
    uint64_t size;
    uint64_t fp;
    size_t got;
    int matched = f->seen == t->gen;
    int reads;
    int rc;

    f->unmatched_polls = matched ? 0 : f->unmatched_polls + 1;
    if (f->fd < 0) {
        if (!matched) {
            f->closed = 1;
        }
        return 0;
    }
    if (fstat(f->fd, &st) < 0) {
        count(&t->n_errors, 1);
        lw_error("tail", "cannot stat '%s': %s", f->path, strerror(errno));
        file_close(t, f);
        return 0;
    }
    size = (uint64_t)st.st_size;
    if (size < f->read_off) {
        file_truncated(t, f, size);
    }
    else if (f->fp != 0 && size != f->last_size) {
        /* Truncated and refilled past the old offset between two polls: the head changed. */
        fp = fingerprint(f->fd);
        if (fp != f->fp) {
            file_truncated(t, f, size);
        }
    }
    if (f->fp == 0 && size >= TAIL_FP_BYTES) {
        f->fp = fingerprint(f->fd);
    }
    /*
     * Renamed away or deleted: it was read to its end at the poll that found it unmatched; once
     * it has not grown for a whole poll interval after that, the writer has moved on.
     */
    if (!matched && f->unmatched_polls >= 2 && size == f->read_off && size == f->last_size) {
        rc = file_flush_last(t, f);
        if (rc < 0) {
            return rc;
        }
        lw_info("tail", "'%s' closed after rotation or deletion at offset %llu", f->path,
                (unsigned long long)f->read_off);
        count(&t->n_rotations, 1);
        file_close(t, f);
        return 0;
    }
    f->last_size = size;
    for (reads = 0; reads < TAIL_READS_PER_POLL; reads++) {
        if (stopping(t)) {
            return 0;
        }
        rc = file_chunk(t, f, &got);
        if (rc == LW_EAGAIN) {
            return rc;
        }
        if (rc == LW_ENOMEM) {
            /* Nothing was consumed: the same bytes are tried again at the next poll. */
            count(&t->n_errors, 1);
            lw_error("tail", "'%s': out of memory, retrying", f->path);
            return 0;
        }
        if (rc < 0) {
            count(&t->n_errors, 1);
            lw_error("tail", "cannot read '%s': %s", f->path, strerror(errno));
            file_close(t, f);
            return 0;
        }
        if (got < t->read_bytes) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Discovery and resume.                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* A file found by a glob that is not followed yet. */
struct cand {
    char *path;
    int fd;                         /* -1 when it could not be opened */
    uint64_t dev;
    uint64_t ino;
    uint64_t size;
    uint64_t fp;
    int has_cp;                     /* resume() returned a checkpoint for @path */
    struct lw_ingest_checkpoint cp;
    int resolved;                   /* @start is decided */
    uint64_t start;
};

struct cands {
    struct cand *v;
    size_t n;
    size_t cap;
};

static void cands_free(struct cands *cs)
{
    size_t i;

    for (i = 0; i < cs->n; i++) {
        lw_free(cs->v[i].path);
        if (cs->v[i].fd >= 0) {
            close(cs->v[i].fd);
        }
    }
    lw_free(cs->v);
}

/* Does checkpoint @cp describe the file (@dev, @ino, @fp, @size)? */
static int cp_matches(const struct lw_ingest_checkpoint *cp, uint64_t dev, uint64_t ino,
                      uint64_t fp, uint64_t size)
{
    if (cp->dev != dev || cp->ino != ino || cp->offset > size) {
        return 0;
    }
    /* A checkpoint taken while the file was under 1 KiB can only be checked by its offset. */
    return cp->fingerprint == 0 || cp->fingerprint == fp;
}

/* Opens @path for a candidate; on failure keeps the candidate with fd -1 (logged, counted). */
static int cand_open(struct lw_tail *t, struct cands *cs, const char *path, const struct stat *sst)
{
    struct cand *c;
    struct stat st = *sst;
    int fd;

    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 16;
        struct cand *v = lw_realloc(cs->v, cap * sizeof(*v));

        if (v == NULL) {
            return LW_ENOMEM;
        }
        cs->v = v;
        cs->cap = cap;
    }
    c = &cs->v[cs->n];
    memset(c, 0, sizeof(*c));
    c->path = lw_strdup(path);
    if (c->path == NULL) {
        return LW_ENOMEM;
    }
    /* O_NONBLOCK: should the name have become a FIFO since the glob, open must not hang. */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        count(&t->n_errors, 1);
        lw_warn("tail", "cannot open '%s': %s", path, strerror(errno));
    }
    else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        /* Identity comes from the fd: the name may have moved since the glob. */
        count(&t->n_errors, 1);
        lw_warn("tail", "cannot stat '%s' or not a regular file", path);
        close(fd);
        fd = -1;
    }
    c->fd = fd;
    c->dev = (uint64_t)st.st_dev;
    c->ino = (uint64_t)st.st_ino;
    c->size = (uint64_t)st.st_size;
    c->fp = fd >= 0 ? fingerprint(fd) : 0;
    cs->n++;
    return LW_OK;
}

/*
 * The checkpoint of @c names another file, probably @c's predecessor renamed by a rotation while
 * we were not running. Looks for it in @c's directory and, when found unread to its end, follows
 * it from the checkpoint as an unmatched file: read to its end, then closed.
 */
static void resume_rotated(struct lw_tail *t, const struct cand *c)
{
    const struct lw_ingest_checkpoint *cp = &c->cp;
    const char *slash = strrchr(c->path, '/');
    char dir[4096];
    char path[4096];
    struct dirent *de;
    struct tail_file *f;
    struct stat st;
    uint64_t fp;
    DIR *d;
    int fd;

    if (find_id(t, cp->dev, cp->ino) != NULL) {
        return;
    }
    if (slash == NULL) {
        snprintf(dir, sizeof(dir), ".");
    }
    else {
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - c->path + (slash == c->path)), c->path);
    }
    d = opendir(dir);
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        if ((uint64_t)de->d_ino != cp->ino) {
            continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) {
            continue;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            continue;
        }
        fp = fingerprint(fd);
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            !cp_matches(cp, (uint64_t)st.st_dev, (uint64_t)st.st_ino, fp, (uint64_t)st.st_size) ||
            t->n_files >= t->max_files) {
            close(fd);
            continue;
        }
        f = file_add(t, path, fd, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (f != NULL) {
            f->seen = t->gen - 1;  /* unmatched: read to the end, then closed */
            f->fp = fp;
            file_seek(f, cp->offset, 0);
            f->last_size = (uint64_t)st.st_size;
            lw_info("tail", "'%s' (was '%s') resumes at offset %llu", path, c->path,
                    (unsigned long long)cp->offset);
        }
        break;
    }
    closedir(d);
}

/* Decides where each candidate starts (resume rules in lw_tail.h) and starts following it. */
static void cands_adopt(struct lw_tail *t, struct cands *cs, int initial)
{
    struct tail_file *f;
    struct cand *c;
    struct cand *o;
    size_t i;
    size_t j;
    char last;
    int silent;

    for (i = 0; i < cs->n; i++) {
        c = &cs->v[i];
        if (c->fd >= 0 && t->resume != NULL) {
            memset(&c->cp, 0, sizeof(c->cp));
            c->has_cp = t->resume(t->resume_opaque, c->path, &c->cp) == 1;
        }
        if (c->has_cp && cp_matches(&c->cp, c->dev, c->ino, c->fp, c->size)) {
            c->start = c->cp.offset;
            c->resolved = 1;
        }
    }
    /* Checkpoints that name another file: that file was rotated away under a new name. */
    for (i = 0; i < cs->n; i++) {
        c = &cs->v[i];
        if (!c->has_cp || c->resolved) {
            continue;
        }
        for (j = 0; j < cs->n; j++) {
            o = &cs->v[j];
            if (j != i && !o->resolved && o->fd >= 0 &&
                cp_matches(&c->cp, o->dev, o->ino, o->fp, o->size)) {
                o->start = c->cp.offset;
                o->resolved = 1;
                break;
            }
        }
        if (j == cs->n) {
            resume_rotated(t, c);
        }
    }
    for (i = 0; i < cs->n; i++) {
        c = &cs->v[i];
        silent = 0;
        if (!c->resolved) {
            c->start = 0;
            if (c->has_cp) {
                lw_info("tail", "'%s' is not the file of its checkpoint: reading from 0",
                        c->path);
            }
            else if (initial && t->start_at_end && c->fd >= 0) {
                c->start = c->size;
                /* Begin at a line start: the rest of a line being written is dropped. */
                silent = c->size > 0 && (pread(c->fd, &last, 1, (off_t)(c->size - 1)) != 1 ||
                                         last != '\n');
            }
        }
        f = file_add(t, c->path, c->fd, c->dev, c->ino);
        c->fd = -1;  /* owned by the file now (or closed by file_add) */
        if (f == NULL) {
            continue;
        }
        f->fp = c->fp;
        f->last_size = c->size;
        file_seek(f, c->start, silent);
    }
}

/* Globs the patterns, marks the files still matched and starts following new ones. */
static void scan(struct lw_tail *t, int initial)
{
    struct cands cs = { 0 };
    struct tail_file *f;
    struct stat st;
    glob_t g;
    size_t i;
    size_t j;
    size_t k;
    int glob_failed = 0;
    int rc;

    t->gen++;
    for (i = 0; i < t->n_patterns; i++) {
        rc = glob(t->patterns[i], 0, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            continue;
        }
        if (rc != 0) {
            /* A transient failure must not look like every file vanished. */
            glob_failed = 1;
            if (rc == GLOB_NOSPACE) {
                globfree(&g);
                continue;
            }
        }
        for (j = 0; j < g.gl_pathc; j++) {
            const char *path = g.gl_pathv[j];

            if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
                continue;
            }
            f = find_id(t, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
            if (f != NULL) {
                f->seen = t->gen;
                if (strcmp(f->path, path) != 0 && !path_is(f->path, f->dev, f->ino)) {
                    /* Renamed to a name that still matches: follow it under that name. */
                    char *p = lw_strdup(path);

                    if (p != NULL) {
                        lw_info("tail", "'%s' was renamed to '%s'", f->path, path);
                        lw_free(f->path);
                        f->path = p;
                    }
                }
                continue;
            }
            for (k = 0; k < cs.n; k++) {
                if (cs.v[k].dev == (uint64_t)st.st_dev && cs.v[k].ino == (uint64_t)st.st_ino) {
                    break;
                }
            }
            if (k < cs.n) {
                continue;  /* a second name (or pattern) for the same file */
            }
            if (t->n_files + cs.n >= t->max_files) {
                if (!t->full_warned) {
                    lw_warn("tail", "max_files (%zu) reached: '%s' and others are not followed",
                            t->max_files, path);
                    t->full_warned = 1;
                }
                continue;
            }
            if (cand_open(t, &cs, path, &st) < 0) {
                count(&t->n_errors, 1);
                lw_error("tail", "'%s': out of memory", path);
            }
        }
        globfree(&g);
    }
    if (glob_failed) {
        for (f = t->files; f != NULL; f = f->next) {
            f->seen = t->gen;
        }
    }
    if (t->n_files + cs.n < t->max_files) {
        t->full_warned = 0;
    }
    cands_adopt(t, &cs, initial);
    cands_free(&cs);
}

/* ------------------------------------------------------------------------------------------ */
/* Thread and public API.                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * Is an older file that was known by @f's name (renamed away or deleted) still being read to its
 * end? Then @f waits: its lines come after the old file's, and so do its checkpoints, so the
 * newest checkpoint stored for a path is always the current file's. Otherwise a late group of the
 * old file would replace it and a restart would read the new file again from 0.
 */
static int after_predecessor(struct lw_tail *t, const struct tail_file *f)
{
    const struct tail_file *g;

    for (g = t->files; g != NULL && g != f; g = g->next) {
        if (!g->closed && g->fd >= 0 && g->seen != t->gen && strcmp(g->path, f->path) == 0) {
            return 1;
        }
    }
    return 0;
}

static void *tail_main(void *arg)
{
    struct lw_tail *t = arg;
    struct tail_file *f;
    size_t n_unmatched;
    int initial = 1;
    int busy;
    int rc;

    while (!stopping(t)) {
        if (atomic_exchange(&t->reopen, 0)) {
            /* Files that could not be opened are forgotten, so the glob tries them again. */
            for (f = t->files; f != NULL; f = f->next) {
                if (f->fd < 0) {
                    f->closed = 1;
                }
            }
            files_sweep(t);
        }
        scan(t, initial);
        initial = 0;
        busy = 0;
        n_unmatched = 0;
        for (f = t->files; f != NULL; f = f->next) {
            n_unmatched += f->seen != t->gen;
        }
        for (f = t->files; f != NULL && !stopping(t); f = f->next) {
            if (n_unmatched > 0 && f->seen == t->gen && after_predecessor(t, f)) {
                continue;
            }
            rc = file_poll(t, f);
            if (rc < 0) {
                break;
            }
            busy |= rc;
        }
        files_sweep(t);
        if (!busy) {
            wait_poll(t, t->poll_ms);
        }
    }
    return NULL;
}

static void tail_free(struct lw_tail *t)
{
    struct tail_file *f;
    size_t i;

    while ((f = t->files) != NULL) {
        t->files = f->next;
        if (f->fd >= 0) {
            close(f->fd);
        }
        file_free(f);
    }
    for (i = 0; i < t->n_patterns; i++) {
        lw_free(t->patterns[i]);
    }
    lw_free(t->patterns);
    lw_free(t->buf);
    lw_free(t->lines);
    lw_free(t);
}

struct lw_tail *lw_tail_start(const struct lw_tail_conf *conf, struct lw_ingest ingest, char *err,
                              size_t err_len)
{
    pthread_condattr_t ca;
    struct lw_tail *t;
    size_t i;
    int rc;

    if (conf == NULL || conf->patterns == NULL || conf->n_patterns == 0 || ingest.fn == NULL) {
        snprintf(err, err_len, "tail: no patterns or no ingest function");
        return NULL;
    }
    if (conf->max_line_bytes > TAIL_MAX_LINE_LIMIT) {
        snprintf(err, err_len, "tail: max_line_bytes %zu is over the limit of %u",
                 conf->max_line_bytes, TAIL_MAX_LINE_LIMIT);
        return NULL;
    }
    t = lw_calloc(1, sizeof(*t));
    if (t == NULL) {
        goto fail_oom;
    }
    t->start_at_end = conf->start_at_end;
    t->poll_ms = conf->poll_ms ? conf->poll_ms : TAIL_DEFAULT_POLL_MS;
    t->max_line = conf->max_line_bytes ? conf->max_line_bytes : TAIL_DEFAULT_MAX_LINE;
    t->read_bytes = conf->read_bytes ? conf->read_bytes : TAIL_DEFAULT_READ;
    t->batch_lines = conf->batch_lines ? conf->batch_lines : TAIL_DEFAULT_BATCH;
    t->max_files = conf->max_files ? conf->max_files : TAIL_DEFAULT_MAX_FILES;
    t->resume = conf->resume;
    t->resume_opaque = conf->resume_opaque;
    t->ingest = ingest;
    t->patterns = lw_calloc(conf->n_patterns, sizeof(*t->patterns));
    if (t->patterns == NULL) {
        goto fail_free;
    }
    t->n_patterns = conf->n_patterns;
    for (i = 0; i < conf->n_patterns; i++) {
        if (conf->patterns[i] == NULL) {
            snprintf(err, err_len, "tail: pattern %zu is NULL", i);
            goto fail_free_quiet;
        }
        t->patterns[i] = lw_strdup(conf->patterns[i]);
        if (t->patterns[i] == NULL) {
            goto fail_free;
        }
    }
    /* Room for an unfinished line of max + 1 bytes plus one whole read. */
    t->buf_cap = t->max_line + 2 + t->read_bytes;
    t->buf = lw_malloc(t->buf_cap);
    t->lines = lw_calloc(t->batch_lines, sizeof(*t->lines));
    if (t->buf == NULL || t->lines == NULL) {
        goto fail_free;
    }
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        goto fail_free;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&t->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        goto fail_mutex;
    }
    pthread_condattr_destroy(&ca);
    rc = pthread_create(&t->thread, NULL, tail_main, t);
    if (rc != 0) {
        snprintf(err, err_len, "tail: cannot start thread: %s", strerror(rc));
        goto fail_cond;
    }
    return t;
fail_cond:
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    goto fail_free_quiet;
fail_mutex:
    pthread_mutex_destroy(&t->mu);
fail_free:
    snprintf(err, err_len, "tail: out of memory");
fail_free_quiet:
    tail_free(t);
    return NULL;
fail_oom:
    snprintf(err, err_len, "tail: out of memory");
    return NULL;
}

void lw_tail_stop(struct lw_tail *t)
{
    if (t == NULL) {
        return;
    }
    pthread_mutex_lock(&t->mu);
    atomic_store_explicit(&t->stop, 1, memory_order_release);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    tail_free(t);
}

void lw_tail_reopen(struct lw_tail *t)
{
    pthread_mutex_lock(&t->mu);
    atomic_store(&t->reopen, 1);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

void lw_tail_stats(const struct lw_tail *t, struct lw_tail_stats *out)
{
    struct lw_tail *m = (struct lw_tail *)t;  /* atomic loads do not modify */

    out->files_open = atomic_load_explicit(&m->n_files_open, memory_order_relaxed);
    out->lines = atomic_load_explicit(&m->n_lines_total, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&m->n_bytes, memory_order_relaxed);
    out->truncated = atomic_load_explicit(&m->n_truncated, memory_order_relaxed);
    out->rotations = atomic_load_explicit(&m->n_rotations, memory_order_relaxed);
    out->truncations = atomic_load_explicit(&m->n_truncations, memory_order_relaxed);
    out->errors = atomic_load_explicit(&m->n_errors, memory_order_relaxed);
}
