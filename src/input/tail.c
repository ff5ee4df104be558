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
 * Multi-line joining sits between the framing and the group (phys_line()): physical lines feed
 * the file's held record, and only a complete record enters the group, so the group's
 * checkpoint (the end of its last record) can never pass the start of the record held back.
 * A held record points into the read buffer while its chunk is framed and is copied into its
 * file's own buffer before the next read; a completed multi-line record is copied once more,
 * into the group's join buffer (one per tail, fixed size). An idle file's record buffer is
 * freed when its record goes out.
 *
 * Reads use pread(2) at the tail's own offset, so the fd position never matters and a truncation
 * is just "the size is now below my offset". Compressed rotated files are the exception: zlib
 * reads them forward from the fd, and offsets are in decompressed bytes.
 *
 * Streams. The glob only says which paths exist; each matched path is mapped to its stream (the
 * path itself, or the path it is a rotated sibling of), and each stream is looked at once per
 * poll with one stat(2) of its path. The directory is listed only when that path changes (or the
 * stream is new), so an idle stream costs no more than an idle file did.
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>
#include <zlib.h>

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
#define TAIL_STREAM_KEEP_POLLS 240    /* polls an empty, unmatched stream is remembered */
#define TAIL_DEFAULT_ROTATE_WAIT_MS 5000u
#define TAIL_ML_IDLE_MS        200u   /* a held record is complete once its file is this quiet */
#define TAIL_JOIN_BYTES        (1024u * 1024u)  /* joined text per group, besides one record */

/* What the reader does with bytes up to the next LF. */
enum tail_skip {
    SKIP_NONE = 0,   /* nothing: bytes are lines */
    SKIP_TRUNC,      /* the carry is a truncated line's prefix, emitted when its LF arrives */
    SKIP_SILENT,     /* drop them: the start of this line was before where we began reading */
};

struct tail_stream;

/*
 * The record a file holds back while multi-line joining is on: its last complete physical
 * lines, which the next line may still continue. It is handed over when a line that does not
 * continue it arrives, when its file has been quiet for TAIL_ML_IDLE_MS, when the file is done
 * (rotated away or deleted and read to its end, or truncated), or at stop. Until then no
 * checkpoint passes @start, so a crash reads it again.
 */
struct tail_rec {
    int held;                /* a record is held */
    const char *data;        /* its text: in t->buf while a chunk is framed, or in @buf */
    size_t len;
    uint32_t flags;          /* LW_LINE_* */
    size_t n_phys;           /* physical lines in it */
    int full;                /* max_line_bytes reached: further continuation lines are dropped */
    int own;                 /* @data is @buf */
    unsigned state;          /* lw_multiline_continues() state */
    uint64_t end;            /* file offset after its last physical line */
    char *buf;               /* owned copy (at most max_line_bytes) */
    size_t cap;
};

struct tail_file {
    const char *path;        /* its stream's path: the source name and checkpoint key */
    char *name;              /* where the file was found (for messages) */
    struct tail_stream *st;  /* the stream it belongs to */
    int fd;                  /* -1 once closed */
    gzFile gz;               /* a compressed rotated file: read through zlib (owns @fd) */
    uint64_t gz_pos;         /* decompressed offset of the next gzread */
    int gz_end;              /* gzread found the end: 1 clean, 2 cut short (being written?) */
    char *head;              /* gz only: the first decompressed bytes (up to TAIL_FP_BYTES) */
    size_t head_len;
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
    unsigned unmatched_polls;/* polls in a row in which it was not at its stream's path */
    uint64_t grew_ms;        /* monotonic time its size last changed (or it was opened) */
    uint64_t data_ms;        /* monotonic time bytes were last read from it */
    struct tail_rec rec;     /* the record held back (multi-line joining only) */
    int closed;              /* done: removed from the list after this poll */
    struct tail_file *next;
};

/* A position a stream's files were read up to: a checkpoint, or a file read to its end. */
struct tail_pos {
    uint64_t dev;
    uint64_t ino;
    uint64_t fp;             /* fp_of() the first min(offset, TAIL_FP_BYTES) bytes */
    uint64_t offset;
    int used;                /* matched a file at the last listing */
};

/*
 * A stream: one path that a pattern matches (say /var/log/app.log) together with its rotated
 * siblings (app.log.1, app.log-20261204.gz). Its files are read one at a time, oldest first, and
 * all carry the stream's path as source name and checkpoint key, so the one checkpoint stored for
 * the path says how far the whole stream was read.
 */
struct tail_stream {
    char *path;
    struct tail_file *live;  /* the file found at @path at the last poll, or NULL */
    size_t n_files;          /* files of the list that belong to it */
    int fresh;               /* not examined yet: resume decides where it starts */
    int base_known;          /* @base_* describe what @path named at the last poll */
    int base_exists;
    uint64_t base_dev;
    uint64_t base_ino;
    uint64_t seen;           /* generation of the last glob that matched it or a sibling */
    unsigned unseen_polls;
    struct tail_pos *done;   /* siblings read to their end (or older than where resume began) */
    size_t n_done;
    struct tail_stream *next;
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
    char **rotate;             /* suffix patterns of rotated siblings */
    size_t n_rotate;
    bool skip_gzip;
    unsigned rotate_wait_ms;
    struct lw_multiline *ml;   /* joining rules; NULL: every line is a record */
    size_t ml_max_lines;
    struct timespec started;   /* CLOCK_REALTIME at start, against file mtimes */
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
    struct tail_file *files;   /* in discovery order: per stream, the order of reading */
    size_t n_files;
    struct tail_stream *streams;
    uint64_t gen;              /* glob generation */
    int full_warned;           /* max_files was reported */
    char *buf;                 /* shared read buffer */
    size_t buf_cap;
    struct lw_ingest_line *lines;  /* the group being built: batch_lines entries */
    size_t n_lines;
    uint64_t group_end;        /* offset after the group's last line */
    char *join;                /* joined records of the group being built (fixed size) */
    size_t join_len;
    size_t join_cap;

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

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
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

/*
 * The fingerprint of a checkpoint or a finished file: XXH64 of the file's first
 * min(offset, 1 KiB) bytes, never 0 (0 marks a checkpoint written before short files had one).
 * For offsets of 1 KiB and more it equals fingerprint(), as older checkpoints stored it.
 */
static uint64_t fp_of(const char *p, size_t n)
{
    uint64_t h = XXH64(p, n, 0);

    return h != 0 ? h : 1;
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

/* Appends a file of @st to the list. Takes ownership of @fd (closed on failure). */
static struct tail_file *file_add(struct lw_tail *t, struct tail_stream *st, const char *name,
                                  int fd, uint64_t dev, uint64_t ino)
{
    struct tail_file *f;
    struct tail_file **pp;

    f = lw_calloc(1, sizeof(*f));
    if (f == NULL) {
        goto fail;
    }
    f->name = lw_strdup(name);
    if (f->name == NULL) {
        lw_free(f);
        goto fail;
    }
    f->path = st->path;
    f->st = st;
    st->n_files++;
    f->fd = fd;
    f->dev = dev;
    f->ino = ino;
    f->seen = t->gen;
    f->grew_ms = now_ms();
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
    lw_error("tail", "'%s': out of memory", name);
    return NULL;
}

/* Closes the descriptor (through zlib for a compressed file, whose gzFile owns it). */
static void fd_release(struct tail_file *f)
{
    if (f->gz != NULL) {
        gzclose(f->gz);
        f->gz = NULL;
    }
    else if (f->fd >= 0) {
        close(f->fd);
    }
    f->fd = -1;
}

static void file_close(struct lw_tail *t, struct tail_file *f)
{
    if (f->fd >= 0) {
        fd_release(f);
        atomic_fetch_sub_explicit(&t->n_files_open, 1, memory_order_relaxed);
    }
    if (f->st->live == f) {
        f->st->live = NULL;
    }
    f->closed = 1;
}

static void file_free(struct tail_file *f)
{
    fd_release(f);
    if (f->st->live == f) {
        f->st->live = NULL;
    }
    f->st->n_files--;
    lw_free(f->name);
    lw_free(f->head);
    lw_free(f->carry);
    lw_free(f->rec.buf);
    lw_free(f);
}

/*
 * Reads up to @n bytes at offset @off of @f's content (decompressed for a .gz file, which is
 * read forward; zlib emulates a seek by reading). Returns the bytes read, 0 at the end, or -1.
 */
static ssize_t file_read(struct tail_file *f, char *buf, size_t n, uint64_t off)
{
    ssize_t r;
    int err = Z_OK;

    if (f->gz == NULL) {
        do {
            r = pread(f->fd, buf, n, (off_t)off);
        } while (r < 0 && errno == EINTR);
        return r;
    }
    if (off != f->gz_pos) {
        if (gzseek(f->gz, (z_off_t)off, SEEK_SET) != (z_off_t)off) {
            return -1;
        }
        f->gz_pos = off;
    }
    r = gzread(f->gz, buf, n > (size_t)INT_MAX ? (unsigned)INT_MAX : (unsigned)n);
    if (r < 0) {
        gzerror(f->gz, &err);
        if (err != Z_BUF_ERROR) {
            return -1;
        }
        /* The file ends inside the stream: gzip may still be writing it. Try again later. */
        gzclearerr(f->gz);
        f->gz_end = 2;
        return 0;
    }
    f->gz_pos += (uint64_t)r;
    if (r == 0) {
        f->gz_end = 1;
    }
    return r;
}

/* Returns the fingerprint of @f's first min(@off, 1 KiB) bytes, or 0 when they can't be read. */
static uint64_t file_fp_at(struct tail_file *f, uint64_t off)
{
    char head[TAIL_FP_BYTES];
    size_t n = off < TAIL_FP_BYTES ? (size_t)off : TAIL_FP_BYTES;
    size_t got = 0;
    ssize_t r;

    if (n == TAIL_FP_BYTES && f->fp != 0) {
        return f->fp;
    }
    if (f->gz != NULL) {
        return n <= f->head_len ? fp_of(f->head, n) : 0;
    }
    while (got < n) {
        r = pread(f->fd, head + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return 0;
        }
        got += (size_t)r;
    }
    return fp_of(head, n);
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
    f->rec.held = 0;
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
    struct lw_ingest_source src = {.input = "tail", .name = f->path};
    struct lw_ingest_checkpoint cp;
    struct lw_ingest_group g = {0};
    uint64_t n_trunc = 0;
    size_t i;
    int rc;

    if (t->n_lines == 0) {
        return LW_OK;
    }
    cp.path = f->path;
    cp.dev = f->dev;
    cp.ino = f->ino;
    cp.fingerprint = file_fp_at(f, t->group_end);
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
    t->join_len = 0;
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

/* ------------------------------------------------------------------------------------------ */
/* Multi-line records.                                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Makes room for a held record of @len bytes. */
static int rec_reserve(struct tail_rec *r, size_t len)
{
    char *p;
    size_t cap;

    if (len > r->cap) {
        cap = r->cap ? r->cap : 256;
        while (cap < len) {
            cap *= 2;
        }
        p = lw_realloc(r->buf, cap);
        if (p == NULL) {
            return LW_ENOMEM;
        }
        if (r->own) {
            r->data = p;
        }
        r->buf = p;
        r->cap = cap;
    }
    return LW_OK;
}

/* Copies the held record into its own buffer, before the bytes it points into are reused. */
static int rec_own(struct tail_rec *r)
{
    if (!r->held || r->own) {
        return LW_OK;
    }
    if (rec_reserve(r, r->len) < 0) {
        return LW_ENOMEM;
    }
    if (r->len > 0) {
        memcpy(r->buf, r->data, r->len);
    }
    r->data = r->buf;
    r->own = 1;
    return LW_OK;
}

/* Starts a record with a physical line ending at file offset @end; @data is borrowed. */
static void rec_begin(struct lw_tail *t, struct tail_rec *r, const char *data, size_t len,
                      uint32_t flags, uint64_t end)
{
    r->held = 1;
    r->own = 0;
    r->data = data;
    r->len = len;
    r->flags = flags;
    r->n_phys = 1;
    r->full = 0;
    r->end = end;
    r->state = lw_multiline_first(t->ml, data, len);
}

/*
 * Appends "\n" and a continuation line to the held record, cut at max_line_bytes as the reader
 * cuts a group (lw_frame.c group_append()), so that both give the same records.
 */
static int rec_join(struct lw_tail *t, struct tail_rec *r, const char *data, size_t len,
                    uint32_t flags)
{
    size_t room = t->max_line - r->len;
    size_t n = 1 + len;
    uint32_t add = LW_LINE_MULTI | (flags & LW_LINE_TRUNCATED);
    int full = 0;

    if (n > room) {
        full = 1;
        add |= LW_LINE_TRUNCATED;
        n = room;
        if (n > 1) {
            n = 1 + utf8_cut(data, n - 1);
        }
    }
    if (rec_own(r) < 0 || rec_reserve(r, r->len + n) < 0) {
        return LW_ENOMEM;
    }
    if (n > 0) {
        r->buf[r->len] = '\n';
        memcpy(r->buf + r->len + 1, data, n - 1);
        r->len += n;
    }
    r->flags |= add;
    r->full = full;
    return LW_OK;
}

/*
 * Adds the held record to the group. A record in its own buffer is copied into t->join first
 * (the file's buffer takes the next record at once); when that is full, the group goes out.
 */
static int rec_emit(struct lw_tail *t, struct tail_file *f)
{
    struct tail_rec *r = &f->rec;
    const char *data = r->len > 0 ? r->data : "";
    int rc;

    if (r->own && r->len > 0) {
        if (t->join_len + r->len > t->join_cap) {
            rc = group_offer(t, f);
            if (rc < 0) {
                return rc;
            }
        }
        memcpy(t->join + t->join_len, r->data, r->len);
        data = t->join + t->join_len;
        t->join_len += r->len;
    }
    r->held = 0;
    return group_add(t, f, data, r->len, r->flags, r->end);
}

/*
 * A physical line ending at file offset @end. Without joining it is a record; with joining it
 * continues the held record or completes it (the held one goes into the group, this one is
 * held). @data is borrowed until the group is offered or the record is owned.
 */
static int phys_line(struct lw_tail *t, struct tail_file *f, const char *data, size_t len,
                     uint32_t flags, uint64_t end)
{
    struct tail_rec *r = &f->rec;
    unsigned state;
    int rc;

    if (t->ml == NULL) {
        return group_add(t, f, data, len, flags, end);
    }
    if (r->held) {
        state = r->state;
        if (r->n_phys < t->ml_max_lines && lw_multiline_continues(t->ml, &state, data, len)) {
            rc = r->full ? LW_OK : rec_join(t, r, data, len, flags);
            if (rc == LW_OK) {
                r->state = state;
                r->n_phys++;
                r->end = end;
                return LW_OK;
            }
            /* Out of memory: the record goes as it is, and this line starts the next one. */
            count(&t->n_errors, 1);
            lw_error("tail", "'%s': out of memory joining a record", f->name);
        }
        rc = rec_emit(t, f);
        if (rc < 0) {
            return rc;
        }
    }
    rec_begin(t, r, data, len, flags, end);
    return LW_OK;
}

/*
 * Hands over the held record on its own: its file has been quiet, is done, or the tail stops.
 * Its buffer is freed, so that an idle file costs no more than it did without joining.
 */
static int rec_flush(struct lw_tail *t, struct tail_file *f)
{
    int rc;

    if (!f->rec.held) {
        return LW_OK;
    }
    t->n_lines = 0;
    t->join_len = 0;
    rc = rec_emit(t, f);
    if (rc == LW_OK) {
        rc = group_offer(t, f);
    }
    if (!f->rec.held) {
        lw_free(f->rec.buf);
        f->rec.buf = NULL;
        f->rec.cap = 0;
        f->rec.own = 0;
    }
    return rc;
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
    n = file_read(f, buf + carry, t->read_bytes, f->read_off);
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
    f->data_ms = now_ms();
    base = f->read_off - carry;
    t->n_lines = 0;
    t->join_len = 0;

    if (f->skip != SKIP_NONE) {
        nl = memchr(buf + carry, '\n', (size_t)n);
        if (nl == NULL) {
            f->read_off += (uint64_t)n;  /* all of it belongs to the line being skipped */
            return LW_OK;
        }
        i = (size_t)(nl - buf) + 1;
        if (f->skip == SKIP_TRUNC) {
            rc = phys_line(t, f, buf, carry, LW_LINE_TRUNCATED, base + i);
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
        rc = phys_line(t, f, buf + i, len, flags, base + (size_t)(nl - buf) + 1);
        if (rc < 0) {
            return rc;
        }
        i = (size_t)(nl - buf) + 1;
    }
    /*
     * The group and the held record point into t->buf: both must be out of it before the buffer
     * is written again. A record that can not be copied is handed over as it is (a trace may be
     * split, nothing is lost).
     */
    if (rec_own(&f->rec) < 0) {
        count(&t->n_errors, 1);
        lw_error("tail", "'%s': out of memory holding a record", f->name);
        rc = rec_emit(t, f);
        if (rc < 0) {
            return rc;
        }
    }
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

    if ((f->carry_len == 0 && f->skip != SKIP_TRUNC) || f->skip == SKIP_SILENT) {
        return rec_flush(t, f);  /* a record held at the end of a finished file is complete */
    }
    t->n_lines = 0;
    t->join_len = 0;
    rc = phys_line(t, f, f->carry_len > 0 ? f->carry : "", f->carry_len,
                   f->skip == SKIP_TRUNC ? LW_LINE_TRUNCATED : 0, f->read_off);
    if (rc == LW_OK && f->rec.held) {
        rc = rec_emit(t, f);  /* it points into the carry: out now */
    }
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
            f->name, (unsigned long long)size, (unsigned long long)f->read_off);
    count(&t->n_truncations, 1);
    /* The record held back was the old content's last: nothing can continue it now. */
    (void)rec_flush(t, f);
    file_seek(f, 0, 0);
    f->fp = 0;
}

/* Remembers that @f's stream was read to the end of @f (so a later listing skips it). */
static void stream_done_add(struct tail_stream *st, uint64_t dev, uint64_t ino, uint64_t fp,
                            uint64_t offset)
{
    struct tail_pos *v;
    size_t i;

    for (i = 0; i < st->n_done; i++) {
        if (st->done[i].dev == dev && st->done[i].ino == ino) {
            st->done[i].fp = fp;
            st->done[i].offset = offset;
            return;
        }
    }
    v = lw_realloc(st->done, (st->n_done + 1) * sizeof(*v));
    if (v == NULL) {
        return;  /* at worst the file is read again at the next rotation: duplicates, no loss */
    }
    st->done = v;
    v[st->n_done].dev = dev;
    v[st->n_done].ino = ino;
    v[st->n_done].fp = fp;
    v[st->n_done].offset = offset;
    v[st->n_done].used = 1;
    st->n_done++;
}

/* A file that is no longer at its stream's path was read to its end: delivers its last line. */
static int file_finish(struct lw_tail *t, struct tail_file *f)
{
    int rc;

    rc = file_flush_last(t, f);
    if (rc < 0) {
        return rc;
    }
    lw_info("tail", "'%s' (%s) closed after rotation or deletion at offset %llu", f->name,
            f->path, (unsigned long long)f->read_off);
    stream_done_add(f->st, f->dev, f->ino, file_fp_at(f, f->read_off), f->read_off);
    count(&t->n_rotations, 1);
    file_close(t, f);
    return 0;
}

/* Reads what is new in @f, up to TAIL_READS_PER_POLL blocks. Returns as file_poll() does. */
static int file_read_some(struct lw_tail *t, struct tail_file *f)
{
    size_t got;
    int reads;
    int rc;

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
            lw_error("tail", "'%s': out of memory, retrying", f->name);
            return 0;
        }
        if (rc < 0) {
            count(&t->n_errors, 1);
            lw_error("tail", "cannot read '%s'%s", f->name,
                     f->gz != NULL ? ": corrupt gzip data" : "");
            file_close(t, f);
            return 0;
        }
        if (got < t->read_bytes) {
            /* Read to the end: a record held back is complete once the file stays quiet. */
            if (f->rec.held && now_ms() - f->data_ms >= TAIL_ML_IDLE_MS) {
                return rec_flush(t, f);
            }
            return 0;
        }
    }
    return 1;
}

/*
 * A compressed rotated file: read to the end of its gzip stream, then closed once its
 * compressed size has not changed for a whole poll. A stream that ends early (gzip still writing
 * it) is retried at each poll; if it stays cut short, what could be read was read.
 */
static int gz_poll(struct lw_tail *t, struct tail_file *f, int matched, uint64_t size)
{
    if (size != f->last_size || f->unmatched_polls == 1) {
        f->grew_ms = now_ms();
    }
    if (!matched && f->gz_end != 0 && f->unmatched_polls >= 2 && size == f->last_size &&
        now_ms() - f->grew_ms >= t->rotate_wait_ms) {
        if (f->gz_end == 2) {
            count(&t->n_errors, 1);
            lw_warn("tail", "'%s' ends inside its gzip stream: read up to offset %llu", f->name,
                    (unsigned long long)f->read_off);
        }
        return file_finish(t, f);
    }
    f->last_size = size;
    f->gz_end = 0;
    return file_read_some(t, f);
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
    int matched = f->seen == t->gen;

    f->unmatched_polls = matched ? 0 : f->unmatched_polls + 1;
    if (f->fd < 0) {
        if (!matched) {
            f->closed = 1;
        }
        return 0;
    }
    if (fstat(f->fd, &st) < 0) {
        count(&t->n_errors, 1);
        lw_error("tail", "cannot stat '%s': %s", f->name, strerror(errno));
        file_close(t, f);
        return 0;
    }
    size = (uint64_t)st.st_size;
    if (f->gz != NULL) {
        return gz_poll(t, f, matched, size);
    }
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
     * it has not grown for rotate_wait_ms after that, the writer has moved on (a writer that
     * reopens its file after a signal may go on appending to the old one for a moment).
     */
    if (size != f->last_size || f->unmatched_polls == 1) {
        f->grew_ms = now_ms();  /* it changed, or it just left its path: the wait starts */
    }
    if (!matched && f->unmatched_polls >= 2 && size == f->read_off && size == f->last_size &&
        now_ms() - f->grew_ms >= t->rotate_wait_ms) {
        return file_finish(t, f);
    }
    f->last_size = size;
    return file_read_some(t, f);
}

/* ------------------------------------------------------------------------------------------ */
/* Discovery, rotated siblings and resume.                                                     */
/* ------------------------------------------------------------------------------------------ */

/* A file that may hold lines of a stream: a rotated sibling, or the file at the stream's path. */
struct sib {
    char *name;
    int fd;                       /* -1 once handed over or closed */
    int gz;
    uint64_t dev;
    uint64_t ino;
    uint64_t size;                /* st_size; for gzip the trailer's size mod 2^32 */
    struct timespec mtime;
    long num;                     /* N of a ".N" suffix, or -1 */
    char head[TAIL_FP_BYTES];     /* its first bytes (decompressed) */
    size_t head_len;
};

struct sibs {
    struct sib *v;
    size_t n;
};

static void sibs_free(struct sibs *ss)
{
    size_t i;

    for (i = 0; i < ss->n; i++) {
        if (ss->v[i].fd >= 0) {
            close(ss->v[i].fd);
        }
        lw_free(ss->v[i].name);
    }
    lw_free(ss->v);
    ss->v = NULL;
    ss->n = 0;
}

/* Reads up to 1 KiB from the start of @s (decompressing a gzip file) into s->head. */
static void sib_read_head(struct sib *s)
{
    unsigned char tail[4];
    ssize_t r;
    gzFile gz;
    int dfd;
    int n;

    s->head_len = 0;
    if (!s->gz) {
        while (s->head_len < sizeof(s->head)) {
            r = pread(s->fd, s->head + s->head_len, sizeof(s->head) - s->head_len,
                      (off_t)s->head_len);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                break;
            }
            s->head_len += (size_t)r;
        }
        return;
    }
    /* The gzip trailer ends with the uncompressed size mod 2^32 (RFC 1952, ISIZE). */
    if (s->size >= 18 && pread(s->fd, tail, 4, (off_t)(s->size - 4)) == 4) {
        s->size = (uint64_t)tail[0] | (uint64_t)tail[1] << 8 | (uint64_t)tail[2] << 16 |
                  (uint64_t)tail[3] << 24;
    }
    else {
        s->size = UINT64_MAX;  /* no trailer yet: never "ends at" any offset */
    }
    dfd = dup(s->fd);
    if (dfd < 0) {
        return;
    }
    gz = gzdopen(dfd, "rb");
    if (gz == NULL) {
        close(dfd);
        return;
    }
    n = gzread(gz, s->head, (unsigned)sizeof(s->head));
    s->head_len = n > 0 ? (size_t)n : 0;
    gzclose(gz);
}

/* Opens and identifies @path. Returns LW_OK, or a negative code (the entry is then skipped). */
static int sib_probe(struct sib *s, const char *path, int gz)
{
    struct stat st;
    const char *dot;

    memset(s, 0, sizeof(*s));
    s->fd = -1;
    /* O_NONBLOCK: should the name have become a FIFO since it was listed, open must not hang. */
    s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (s->fd < 0) {
        return LW_EIO;
    }
    if (fstat(s->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(s->fd);
        s->fd = -1;
        return LW_EIO;
    }
    s->name = lw_strdup(path);
    if (s->name == NULL) {
        close(s->fd);
        s->fd = -1;
        return LW_ENOMEM;
    }
    s->gz = gz;
    s->dev = (uint64_t)st.st_dev;
    s->ino = (uint64_t)st.st_ino;
    s->size = (uint64_t)st.st_size;
    s->mtime = st.st_mtim;
    s->num = -1;
    dot = strrchr(path, '.');
    if (gz && dot != NULL) {
        /* "x.log.3.gz": the number is before the ".gz". */
        const char *q = dot;

        while (q > path && q[-1] != '.') {
            q--;
        }
        dot = q > path ? q - 1 : NULL;
    }
    if (dot != NULL && dot[1] >= '0' && dot[1] <= '9') {
        s->num = strtol(dot + 1, NULL, 10);
    }
    sib_read_head(s);
    return LW_OK;
}

/*
 * Does position @p (a checkpoint, or a file read to its end) lie in @s's content? Then @s is the
 * file @p was taken in, or a copy of it (a compressed one, or one copied by copytruncate), and @s
 * can be read from p->offset on. The content decides: the fingerprint of @s's first
 * min(offset, 1 KiB) bytes must be the position's. Only the same inode may match on fewer than
 * 1 KiB (short heads are too alike to tell copies apart), except for a compressed file, which is
 * a copy by nature. Positions of checkpoints written before short files had a fingerprint
 * (fingerprint 0) are matched by inode and size alone, as they used to be.
 */
static int sib_at(const struct sib *s, uint64_t dev, uint64_t ino, uint64_t fp, uint64_t offset)
{
    size_t n = offset < TAIL_FP_BYTES ? (size_t)offset : TAIL_FP_BYTES;
    int same = s->dev == dev && s->ino == ino;

    if (!s->gz && offset > s->size) {
        return 0;
    }
    if (offset == 0 || fp == 0) {
        return same;
    }
    if (n > s->head_len || fp_of(s->head, n) != fp) {
        return 0;
    }
    return same || n == TAIL_FP_BYTES || s->gz;
}

/* Has @s nothing after @offset? (For gzip, as far as its trailer tells.) */
static int sib_ends_at(const struct sib *s, uint64_t offset)
{
    return s->gz ? (s->size & 0xffffffffu) == (offset & 0xffffffffu) : s->size == offset;
}

/* The position "@s read to its end". */
static void sib_done(struct tail_stream *st, const struct sib *s)
{
    uint64_t end = s->size;
    size_t n = end < TAIL_FP_BYTES ? (size_t)end : TAIL_FP_BYTES;

    if (n > s->head_len) {
        n = s->head_len;
    }
    stream_done_add(st, s->dev, s->ino, end > 0 ? fp_of(s->head, n) : 0, end);
}

/* Oldest first: by modification time, then a higher ".N" first, then by name. */
static int sib_cmp(const void *a, const void *b)
{
    const struct sib *x = a;
    const struct sib *y = b;

    if (x->mtime.tv_sec != y->mtime.tv_sec) {
        return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
    }
    if (x->mtime.tv_nsec != y->mtime.tv_nsec) {
        return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
    }
    if (x->num != y->num) {
        return x->num > y->num ? -1 : 1;
    }
    return strcmp(x->name, y->name);
}

/* Is @suffix (what follows a stream's name) the suffix of a rotated sibling? Sets *@gz. */
static int rotated_suffix(const struct lw_tail *t, const char *suffix, int *gz)
{
    char buf[256];
    size_t len = strlen(suffix);
    size_t i;

    *gz = 0;
    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }
    memcpy(buf, suffix, len + 1);
    if (len > 3 && strcmp(buf + len - 3, ".gz") == 0) {
        if (t->skip_gzip) {
            return 0;
        }
        buf[len - 3] = '\0';
        *gz = 1;
    }
    for (i = 0; i < t->n_rotate; i++) {
        if (fnmatch(t->rotate[i], buf, 0) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Splits @path into its directory (into @dir) and returns its last component. */
static const char *split_dir(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        snprintf(dir, cap, ".");
        return path;
    }
    snprintf(dir, cap, "%.*s", (int)(slash - path + (slash == path)), path);
    return slash + 1;
}

/*
 * Lists the rotated siblings of @path (not @path itself), oldest first, opened. A plain file
 * and its ".gz" are the same content (gzip is still writing the second): the plain one is kept.
 */
static void sibs_list(struct lw_tail *t, const char *path, struct sibs *out)
{
    char dir[4096];
    char full[4096];
    const char *base = split_dir(path, dir, sizeof(dir));
    size_t blen = strlen(base);
    struct dirent *de;
    struct sib *v;
    size_t cap = 0;
    size_t i;
    size_t j;
    DIR *d;
    int gz;

    out->v = NULL;
    out->n = 0;
    d = opendir(dir);
    if (d == NULL) {
        return;
    }
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, base, blen) != 0 || !rotated_suffix(t, de->d_name + blen, &gz)) {
            continue;
        }
        if (snprintf(full, sizeof(full), "%s/%s", dir, de->d_name) >= (int)sizeof(full)) {
            continue;
        }
        if (out->n == cap) {
            cap = cap ? cap * 2 : 8;
            v = lw_realloc(out->v, cap * sizeof(*v));
            if (v == NULL) {
                break;
            }
            out->v = v;
        }
        if (sib_probe(&out->v[out->n], full, gz) == LW_OK) {
            out->n++;
        }
    }
    closedir(d);
    for (i = 0; i < out->n; i++) {
        if (!out->v[i].gz) {
            continue;
        }
        for (j = 0; j < out->n; j++) {
            size_t l = strlen(out->v[j].name);

            if (!out->v[j].gz && strncmp(out->v[i].name, out->v[j].name, l) == 0 &&
                strcmp(out->v[i].name + l, ".gz") == 0) {
                close(out->v[i].fd);
                lw_free(out->v[i].name);
                out->v[i] = out->v[--out->n];
                i--;
                break;
            }
        }
    }
    if (out->n > 1) {
        qsort(out->v, out->n, sizeof(*out->v), sib_cmp);
    }
}

/*
 * Starts reading @s as a file of @st at @start; @live: it is the file at the stream's path.
 * Takes @s->fd. Files are appended to the list, which is the order they are read in.
 */
static void sib_adopt(struct lw_tail *t, struct tail_stream *st, struct sib *s, uint64_t start,
                      int live, int silent)
{
    struct tail_file *f;
    int fd = s->fd;

    if (t->n_files >= t->max_files) {
        if (!t->full_warned) {
            lw_warn("tail", "max_files (%zu) reached: '%s' and others are not followed",
                    t->max_files, s->name);
            t->full_warned = 1;
        }
        return;
    }
    s->fd = -1;
    f = file_add(t, st, s->name, fd, s->dev, s->ino);
    if (f == NULL) {
        return;
    }
    if (s->gz) {
        f->head = lw_malloc(TAIL_FP_BYTES);
        /* Reading the head through a dup() moved the shared file offset: zlib reads from it. */
        f->gz = f->head != NULL && lseek(fd, 0, SEEK_SET) == 0 ? gzdopen(fd, "rb") : NULL;
        if (f->gz == NULL) {
            count(&t->n_errors, 1);
            lw_error("tail", "'%s': cannot read it with zlib", s->name);
            file_close(t, f);
            return;
        }
        memcpy(f->head, s->head, s->head_len);
        f->head_len = s->head_len;
        f->fp = s->head_len == TAIL_FP_BYTES ? fp_of(s->head, TAIL_FP_BYTES) : 0;
    }
    else {
        f->fp = s->head_len == TAIL_FP_BYTES ? XXH64(s->head, TAIL_FP_BYTES, 0) : 0;
        f->last_size = s->size;
    }
    file_seek(f, start, silent);
    f->seen = live ? t->gen : t->gen - 1;  /* a sibling is read to its end, then closed */
    if (live) {
        st->live = f;
    }
    if (!live || start > 0) {
        lw_info("tail", "'%s' (%s) read from offset %llu", s->name, st->path,
                (unsigned long long)start);
    }
}

/*
 * Is @s one of the files being read, or a copy of one (gzip compressing a rotated file that is
 * still open here writes its content under a new inode)? The copy is then known: the open file
 * delivers that content, and once finished its position covers the copy too.
 */
static int sib_open(struct lw_tail *t, const struct sib *s)
{
    struct tail_file *f;

    if (find_id(t, s->dev, s->ino) != NULL) {
        return 1;
    }
    for (f = t->files; f != NULL; f = f->next) {
        if (!f->closed && f->fd >= 0 && f->read_off > 0 &&
            sib_at(s, f->dev, f->ino, file_fp_at(f, f->read_off), f->read_off)) {
            return 1;
        }
    }
    return 0;
}

/*
 * Rotation while running: @st's path no longer leads to the file being read. Every sibling that
 * is neither being read nor known to be finished was written since the last look (created and
 * renamed away between two polls, say): it is read, oldest first, from where a finished file it
 * copies ended, or from 0; then the new file at the path (@base, NULL when there is none).
 */
static void stream_rotated(struct lw_tail *t, struct tail_stream *st, struct sib *base)
{
    struct sibs ss;
    struct tail_pos *p;
    size_t i;
    size_t k;
    int found;

    sibs_list(t, st->path, &ss);
    for (k = 0; k < st->n_done; k++) {
        st->done[k].used = 0;
    }
    for (i = 0; i < ss.n; i++) {
        if (sib_open(t, &ss.v[i])) {
            continue;
        }
        found = 0;
        for (k = 0; k < st->n_done && !found; k++) {
            p = &st->done[k];
            if (sib_at(&ss.v[i], p->dev, p->ino, p->fp, p->offset)) {
                found = 1;
                p->used = 1;
                if (!sib_ends_at(&ss.v[i], p->offset)) {
                    sib_adopt(t, st, &ss.v[i], p->offset, 0, 0);  /* it grew after we closed it */
                }
            }
        }
        if (!found) {
            sib_adopt(t, st, &ss.v[i], 0, 0, 0);
        }
    }
    /* Finished files no longer in the directory will not be seen again. */
    for (k = 0; k < st->n_done;) {
        if (!st->done[k].used) {
            st->done[k] = st->done[--st->n_done];
        }
        else {
            k++;
        }
    }
    if (base != NULL && !sib_open(t, base)) {
        sib_adopt(t, st, base, 0, 1, 0);
    }
    sibs_free(&ss);
}

/*
 * First look at a stream (at start, or when its path first matches): where does reading begin?
 * The files are its rotated siblings, oldest first, then the file at its path (@base, or NULL).
 *  - With a checkpoint: the file the checkpoint lies in goes on from its offset, the files after
 *    it are read from 0, the ones before are finished. When no file holds the checkpoint (it was
 *    deleted, or was compressed with skip_gzip), every file is read from 0: lines may come twice,
 *    none is lost.
 *  - Without one: siblings are read from 0 unless start_at_end is set (then only those modified
 *    since the tail started are), and the file at the path from 0, or from its end when
 *    start_at_end is set and it was there at start.
 */
static void stream_discover(struct lw_tail *t, struct tail_stream *st, struct sib *base,
                            int initial)
{
    struct lw_ingest_checkpoint cp;
    struct sibs ss;
    struct sib *s;
    size_t n;
    size_t m;
    size_t i;
    int has_cp = 0;
    int silent = 0;
    char last;

    sibs_list(t, st->path, &ss);
    n = ss.n + (base != NULL);
    if (t->resume != NULL) {
        memset(&cp, 0, sizeof(cp));
        has_cp = t->resume(t->resume_opaque, st->path, &cp) == 1;
    }
    if (has_cp) {
        for (m = 0; m < n; m++) {
            s = m < ss.n ? &ss.v[m] : base;
            if (sib_at(s, cp.dev, cp.ino, cp.fingerprint, cp.offset)) {
                break;
            }
        }
        if (m == n) {
            if (n > 0) {
                lw_warn("tail", "'%s': no file holds its checkpoint (offset %llu): reading %zu "
                        "file(s) from 0", st->path, (unsigned long long)cp.offset, n);
            }
            m = 0;
            cp.offset = 0;
        }
        for (i = 0; i < n; i++) {
            s = i < ss.n ? &ss.v[i] : base;
            if (i < m || (i == m && s != base && sib_ends_at(s, cp.offset))) {
                sib_done(st, s);
            }
            else {
                sib_adopt(t, st, s, i == m ? cp.offset : 0, s == base, 0);
            }
        }
        sibs_free(&ss);
        return;
    }
    for (i = 0; i < ss.n; i++) {
        s = &ss.v[i];
        if (!t->start_at_end || s->mtime.tv_sec > t->started.tv_sec ||
            (s->mtime.tv_sec == t->started.tv_sec && s->mtime.tv_nsec >= t->started.tv_nsec)) {
            sib_adopt(t, st, s, 0, 0, 0);
        }
        else {
            sib_done(st, s);
        }
    }
    if (base != NULL) {
        if (initial && t->start_at_end && !base->gz) {
            /* Begin at a line start: the rest of a line being written is dropped. */
            silent = base->size > 0 &&
                     (pread(base->fd, &last, 1, (off_t)(base->size - 1)) != 1 || last != '\n');
            sib_adopt(t, st, base, base->size, 1, silent);
        }
        else {
            sib_adopt(t, st, base, 0, 1, 0);
        }
    }
    sibs_free(&ss);
}

/* One poll of a stream: is its file still at its path, and if not, what is new? */
static void stream_check(struct lw_tail *t, struct tail_stream *st, int initial)
{
    struct tail_file *f;
    struct sib base;
    struct stat sb;
    int exists;
    int have_base = 0;

    exists = stat(st->path, &sb) == 0 && S_ISREG(sb.st_mode);
    if (!st->fresh && exists && st->live != NULL && !st->live->closed &&
        st->live->dev == (uint64_t)sb.st_dev && st->live->ino == (uint64_t)sb.st_ino) {
        st->live->seen = t->gen;
        return;
    }
    if (!st->fresh && exists && (f = find_id(t, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino))) {
        /* A followed file was renamed to this path (from another stream's, say): it goes on. */
        if (f->st != st) {
            lw_info("tail", "'%s' was renamed to '%s'", f->name, st->path);
            if (f->st->live == f) {
                f->st->live = NULL;
            }
            f->st->n_files--;
            f->st = st;
            f->path = st->path;
            st->n_files++;
        }
        f->seen = t->gen;
        st->live = f;
        st->base_known = 0;
        return;
    }
    if (!st->fresh && st->base_known && exists == st->base_exists &&
        (!exists || (st->base_dev == (uint64_t)sb.st_dev && st->base_ino == (uint64_t)sb.st_ino))) {
        return;  /* nothing changed at the path since the last look */
    }
    st->base_known = 1;
    st->base_exists = exists;
    st->base_dev = exists ? (uint64_t)sb.st_dev : 0;
    st->base_ino = exists ? (uint64_t)sb.st_ino : 0;
    if (exists && sib_probe(&base, st->path, 0) == LW_OK) {
        have_base = 1;
    }
    else if (exists) {
        count(&t->n_errors, 1);
        lw_warn("tail", "cannot open '%s': %s", st->path, strerror(errno));
        st->base_known = 0;  /* tried again at the next poll */
    }
    if (st->live != NULL && (!have_base || st->live->dev != base.dev ||
                             st->live->ino != base.ino)) {
        st->live = NULL;
    }
    if (st->fresh) {
        st->fresh = 0;
        stream_discover(t, st, have_base ? &base : NULL, initial);
    }
    else {
        stream_rotated(t, st, have_base ? &base : NULL);
    }
    if (have_base) {
        if (base.fd >= 0) {
            close(base.fd);
        }
        lw_free(base.name);
    }
}

/*
 * The stream a matched path belongs to: the path itself, or, when it is a rotated sibling
 * (its name is a stream's name plus a rotation suffix) of a path a pattern matches, that path.
 * Writes it into @out.
 */
static void stream_of(const struct lw_tail *t, const char *path, char *out, size_t cap)
{
    size_t len = strlen(path);
    const char *slash = strrchr(path, '/');
    size_t start = slash != NULL ? (size_t)(slash - path) + 2 : 1;
    size_t i;
    size_t k;
    int gz;

    for (i = len; i-- > start;) {
        if (!rotated_suffix(t, path + i, &gz) || i >= cap) {
            continue;
        }
        memcpy(out, path, i);
        out[i] = '\0';
        for (k = 0; k < t->n_patterns; k++) {
            if (fnmatch(t->patterns[k], out, FNM_PATHNAME | FNM_PERIOD) == 0) {
                return;
            }
        }
    }
    snprintf(out, cap, "%s", path);
}

/* Finds or creates the stream of @path. */
static struct tail_stream *stream_get(struct lw_tail *t, const char *path)
{
    struct tail_stream *st;
    struct tail_stream **pp;

    for (pp = &t->streams; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->path, path) == 0) {
            return *pp;
        }
    }
    st = lw_calloc(1, sizeof(*st));
    if (st == NULL) {
        return NULL;
    }
    st->path = lw_strdup(path);
    if (st->path == NULL) {
        lw_free(st);
        return NULL;
    }
    st->fresh = 1;
    *pp = st;
    return st;
}

static void stream_free(struct tail_stream *st)
{
    lw_free(st->path);
    lw_free(st->done);
    lw_free(st);
}

/* Forgets streams that have had no file and no match for a while. */
static void streams_sweep(struct lw_tail *t)
{
    struct tail_stream **pp = &t->streams;
    struct tail_stream *st;

    while ((st = *pp) != NULL) {
        st->unseen_polls = st->seen == t->gen ? 0 : st->unseen_polls + 1;
        if (st->n_files == 0 && st->unseen_polls > TAIL_STREAM_KEEP_POLLS) {
            *pp = st->next;
            stream_free(st);
        }
        else {
            pp = &st->next;
        }
    }
}

/* Globs the patterns, then looks at every stream: new ones, rotations, the files at the paths. */
static void scan(struct lw_tail *t, int initial)
{
    struct tail_stream *st;
    char spath[4096];
    glob_t g;
    size_t i;
    size_t j;
    int rc;

    t->gen++;
    for (i = 0; i < t->n_patterns; i++) {
        rc = glob(t->patterns[i], 0, NULL, &g);
        if (rc == GLOB_NOMATCH) {
            continue;
        }
        if (rc == GLOB_NOSPACE) {
            globfree(&g);
            continue;
        }
        for (j = 0; j < g.gl_pathc; j++) {
            stream_of(t, g.gl_pathv[j], spath, sizeof(spath));
            st = stream_get(t, spath);
            if (st == NULL) {
                count(&t->n_errors, 1);
                lw_error("tail", "'%s': out of memory", spath);
                continue;
            }
            st->seen = t->gen;
        }
        globfree(&g);
    }
    if (t->n_files < t->max_files) {
        t->full_warned = 0;
    }
    for (st = t->streams; st != NULL; st = st->next) {
        stream_check(t, st, initial);
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Thread and public API.                                                                      */
/* ------------------------------------------------------------------------------------------ */

/*
 * Is an older file of @f's stream (renamed away, deleted, or a rotated sibling found unread)
 * still being read to its end? Then @f waits: its lines come after the old file's, and so do its
 * checkpoints, so the newest checkpoint stored for a path is always the one that says how far
 * the stream was read. Otherwise a late group of the old file would replace it and a restart
 * would read the new file again from 0, or skip what is left of the old one.
 */
static int after_predecessor(struct lw_tail *t, const struct tail_file *f)
{
    const struct tail_file *g;

    for (g = t->files; g != NULL && g != f; g = g->next) {
        if (g->closed || g->fd < 0 || g->st != f->st) {
            continue;
        }
        /*
         * It blocks until it has been read to its end and has stayed there for a poll. While it
         * waits out rotate_wait_ms in case its writer appends late, the next file goes on.
         */
        if (g->unmatched_polls < 2 || g->rec.held ||
            (g->gz != NULL ? g->gz_end == 0 : g->read_off < g->last_size)) {
            return 1;
        }
    }
    return 0;
}

static void *tail_main(void *arg)
{
    struct lw_tail *t = arg;
    struct tail_stream *st;
    struct tail_file *f;
    int initial = 1;
    int busy;
    int rc;

    while (!stopping(t)) {
        if (atomic_exchange(&t->reopen, 0)) {
            /* Every path is looked at again, so files that could not be opened are retried. */
            for (st = t->streams; st != NULL; st = st->next) {
                st->base_known = 0;
            }
        }
        scan(t, initial);
        initial = 0;
        busy = 0;
        for (f = t->files; f != NULL && !stopping(t); f = f->next) {
            if (after_predecessor(t, f)) {
                continue;
            }
            rc = file_poll(t, f);
            if (rc < 0) {
                break;
            }
            busy |= rc;
        }
        files_sweep(t);
        streams_sweep(t);
        if (!busy) {
            wait_poll(t, t->poll_ms);
        }
    }
    /*
     * Stopping: a record held back is complete as far as this run can tell. It is offered once;
     * refused, its checkpoint is never passed on and the next start reads it again.
     */
    for (f = t->files; f != NULL; f = f->next) {
        if (f->fd >= 0 && f->rec.held) {
            (void)rec_flush(t, f);
        }
    }
    return NULL;
}

static void tail_free(struct lw_tail *t)
{
    struct tail_stream *st;
    struct tail_file *f;
    size_t i;

    while ((f = t->files) != NULL) {
        t->files = f->next;
        file_free(f);
    }
    while ((st = t->streams) != NULL) {
        t->streams = st->next;
        stream_free(st);
    }
    for (i = 0; i < t->n_patterns; i++) {
        lw_free(t->patterns[i]);
    }
    lw_free(t->patterns);
    for (i = 0; i < t->n_rotate; i++) {
        lw_free(t->rotate[i]);
    }
    lw_free(t->rotate);
    lw_multiline_destroy(t->ml);
    lw_free(t->join);
    lw_free(t->buf);
    lw_free(t->lines);
    lw_free(t);
}

struct lw_tail *lw_tail_start(const struct lw_tail_conf *conf, struct lw_ingest ingest, char *err,
                              size_t err_len)
{
    static const char *const default_rotate[] = LW_TAIL_DEFAULT_ROTATE;
    const char *const *rotate;
    pthread_condattr_t ca;
    struct lw_tail *t;
    size_t n_rotate;
    size_t i;
    char merr[256];
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
    rotate = conf->rotate_patterns != NULL ? conf->rotate_patterns : default_rotate;
    n_rotate = conf->rotate_patterns != NULL ? conf->n_rotate_patterns
                                             : sizeof(default_rotate) / sizeof(*default_rotate);
    t->rotate = lw_calloc(n_rotate ? n_rotate : 1, sizeof(*t->rotate));
    if (t->rotate == NULL) {
        goto fail_free;
    }
    t->n_rotate = n_rotate;
    for (i = 0; i < n_rotate; i++) {
        if (rotate[i] == NULL || rotate[i][0] == '\0') {
            snprintf(err, err_len, "tail: rotate pattern %zu is empty", i);
            goto fail_free_quiet;
        }
        t->rotate[i] = lw_strdup(rotate[i]);
        if (t->rotate[i] == NULL) {
            goto fail_free;
        }
    }
    t->ml = lw_multiline_create(&conf->multiline, merr, sizeof(merr));
    if (t->ml == NULL && merr[0] != '\0') {
        snprintf(err, err_len, "tail: %s", merr);
        goto fail_free_quiet;
    }
    if (t->ml != NULL) {
        t->ml_max_lines = lw_multiline_max_lines(t->ml);
        t->join_cap = TAIL_JOIN_BYTES + t->max_line;
        t->join = lw_malloc(t->join_cap);
        if (t->join == NULL) {
            goto fail_free;
        }
    }
    t->skip_gzip = conf->skip_gzip;
    t->rotate_wait_ms = conf->rotate_wait_ms ? conf->rotate_wait_ms : TAIL_DEFAULT_ROTATE_WAIT_MS;
    clock_gettime(CLOCK_REALTIME, &t->started);
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
