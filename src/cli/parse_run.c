/*
 * The `logwarden parse` pipeline.
 *
 * -j 1 is a plain loop: lines come from lw_reader borrowed (no copy), are parsed, mined and
 * formatted into one output buffer that is written whenever it passes 1 MiB.
 *
 * -j N (N > 1): the calling thread reads lines and copies them into chunks (up to
 * PARSE_CHUNK_LINES lines or PARSE_CHUNK_BYTES bytes). Chunks live in a ring of 4*N slots and
 * carry a sequence number; slot s % K holds chunk s. Workers take published chunks in sequence
 * order, parse, mine and format every line into the chunk's own output buffer, and mark it done.
 * Before the reader refills slot s % K it waits for chunk s - K to be done and writes it; as
 * chunks are written strictly in sequence order, output order is input order. Memory is bounded
 * by the ring: at most K chunks exist.
 *
 * Warm-up: the miner is online, so which line creates or generalises a template depends on the
 * order lines reach it. While templates are still being discovered (the first chunk, and every
 * chunk after one that created a template) the reader waits for the previous chunk before
 * publishing the next, so those chunks are mined in input order as with -j 1. On a stream whose
 * templates are known this costs nothing; it makes -j N give the same templates and per-line
 * template text as -j 1 in the common case (a template born in two chunks at once can still
 * differ, and ids may then be numbered differently). A stream that keeps making templates (high
 * cardinality the masks miss) would stay serial, so warm-up ends after PARSE_WARM_MAX_CHUNKS
 * chunks whatever happens.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/parse.h"
#include "lw/lw_err.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"

#define PARSE_CHUNK_LINES 4096
#define PARSE_CHUNK_BYTES (1024u * 1024u)
#define PARSE_FLUSH_BYTES (1024u * 1024u)
#define PARSE_WARM_MAX_CHUNKS 64 /* warm-up never lasts longer than this many chunks */

struct chunk_line {
    uint32_t off;      /* in chunk->buf */
    uint32_t len;
    uint32_t flags;    /* LW_LINE_* */
    uint32_t file_idx;
    uint64_t lineno;
};

struct chunk {
    uint64_t seq;
    char *buf;         /* line bytes */
    size_t len;
    size_t cap;
    struct chunk_line *lines;
    size_t n_lines;
    struct lw_parse_obuf out;
    uint64_t n_mismatch;
    uint64_t n_new;    /* templates created while mining this chunk */
    int rc;
    int done;          /* guarded by pipe->mu */
};

struct pipe {
    const struct lw_parse_ctx *ctx;
    pthread_mutex_t mu;
    pthread_cond_t work;  /* a chunk was published, or the end */
    pthread_cond_t done;  /* a chunk was finished */
    struct chunk *ring;
    size_t k;             /* ring slots */
    uint64_t n_published; /* chunks 0..n_published-1 are published */
    uint64_t n_taken;     /* chunks 0..n_taken-1 were taken by workers */
    int eof;
    struct lw_parse_worker *workers;
    pthread_t *tids;
};

struct progress {
    int on;
    double t0;
    double next;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_tick(struct progress *p, const struct lw_parse_stats *st, uint64_t bytes)
{
    double t;

    if (!p->on) {
        return;
    }
    t = now_s();
    if (t < p->next) {
        return;
    }
    p->next = t + 1.0;
    fprintf(stderr, "\r%llu lines, %.1f MB, %.0f lines/s   ", (unsigned long long)st->n_lines,
            (double)bytes / 1e6, (double)st->n_lines / (t - p->t0 > 0 ? t - p->t0 : 1));
}

static void progress_end(struct progress *p)
{
    if (p->on && p->next > p->t0 + 1.0) {
        fprintf(stderr, "\r%60s\r", "");
    }
}

static int write_out(const struct lw_parse_ctx *ctx, struct lw_parse_obuf *ob)
{
    if (ob->len > 0 && fwrite(ob->p, 1, ob->len, ctx->out) != ob->len) {
        lw_error("parse", "cannot write the output: %s", strerror(errno));
        return LW_EIO;
    }
    ob->len = 0;
    return LW_OK;
}

static void reader_done(struct lw_reader *r, struct lw_parse_stats *st)
{
    st->n_bytes += lw_reader_bytes(r);
    st->n_truncated += lw_reader_n_truncated(r);
    st->n_invalid += lw_reader_n_invalid(r);
    lw_reader_destroy(r);
}

static struct lw_reader *open_input(const struct lw_parse_ctx *ctx, size_t i,
                                    struct lw_parse_stats *st)
{
    const char *path = ctx->opts->files[i];
    struct lw_reader *r;
    char err[512];

    err[0] = '\0';
    r = lw_reader_open(path, &ctx->opts->rconf, err, sizeof(err));
    if (r == NULL) {
        lw_error("parse", "%s", err[0] ? err : "cannot open input");
        st->had_input_error = 1;
    }
    return r;
}

/* ---- -j 1 ---- */

static int run_serial(const struct lw_parse_ctx *ctx, struct lw_parse_stats *st)
{
    struct lw_parse_worker w;
    struct lw_parse_obuf ob;
    struct progress pr;
    struct lw_line line;
    size_t i;
    int rc;

    memset(&ob, 0, sizeof(ob));
    rc = lw__parse_worker_init(&w, ctx);
    if (rc < 0) {
        return rc;
    }
    pr.on = ctx->opts->progress;
    pr.t0 = now_s();
    pr.next = pr.t0 + 1.0;
    for (i = 0; i < ctx->opts->n_files && rc == LW_OK; i++) {
        struct lw_reader *r = open_input(ctx, i, st);
        int nr;

        if (r == NULL) {
            continue;
        }
        while ((nr = lw_reader_next(r, &line)) > 0) {
            rc = lw__parse_line(ctx, &w, line.data, line.len, line.flags, line.lineno,
                                (uint32_t)i, &ob);
            if (rc < 0) {
                break;
            }
            st->n_lines++;
            if (ob.len >= PARSE_FLUSH_BYTES) {
                rc = write_out(ctx, &ob);
                if (rc < 0) {
                    break;
                }
            }
            if ((st->n_lines & 0xffff) == 0) {
                progress_tick(&pr, st, st->n_bytes + lw_reader_bytes(r));
            }
        }
        if (nr < 0) {
            lw_error("parse", "%s", lw_reader_error(r));
            st->had_input_error = 1;
        }
        reader_done(r, st);
    }
    if (rc == LW_OK) {
        rc = write_out(ctx, &ob);
    }
    progress_end(&pr);
    st->n_mismatch += w.n_mismatch;
    lw__parse_worker_fini(&w);
    lw__parse_obuf_fini(&ob);
    return rc;
}

/* ---- -j N ---- */

static void process_chunk(const struct lw_parse_ctx *ctx, struct lw_parse_worker *w,
                          struct chunk *c)
{
    uint64_t mis0 = w->n_mismatch;
    uint64_t new0 = w->n_new;
    size_t i;

    c->out.len = 0;
    c->rc = LW_OK;
    for (i = 0; i < c->n_lines; i++) {
        const struct chunk_line *l = &c->lines[i];

        c->rc = lw__parse_line(ctx, w, c->buf + l->off, l->len, l->flags, l->lineno,
                               l->file_idx, &c->out);
        if (c->rc < 0) {
            break;
        }
    }
    c->n_mismatch = w->n_mismatch - mis0;
    c->n_new = w->n_new - new0;
}

struct worker_arg {
    struct pipe *p;
    struct lw_parse_worker *w;
};

static void *worker_loop(void *arg)
{
    struct worker_arg *a = arg;
    struct pipe *p = a->p;
    struct chunk *c;

    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->n_taken == p->n_published && !p->eof) {
            pthread_cond_wait(&p->work, &p->mu);
        }
        if (p->n_taken == p->n_published) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        c = &p->ring[p->n_taken % p->k];
        p->n_taken++;
        pthread_mutex_unlock(&p->mu);

        process_chunk(p->ctx, a->w, c);

        pthread_mutex_lock(&p->mu);
        c->done = 1;
        pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
    return NULL;
}

static void wait_done(struct pipe *p, struct chunk *c)
{
    pthread_mutex_lock(&p->mu);
    while (!c->done) {
        pthread_cond_wait(&p->done, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Waits for chunk @c (published) and writes it. */
static int drain_chunk(struct pipe *p, struct chunk *c, struct lw_parse_stats *st)
{
    wait_done(p, c);
    st->n_mismatch += c->n_mismatch;
    if (c->rc < 0) {
        return c->rc;
    }
    return write_out(p->ctx, &c->out);
}

/* Copies @line into @c; grows the chunk buffer when one line is larger than a chunk. */
static int chunk_push(struct chunk *c, const struct lw_line *line, uint32_t file_idx)
{
    struct chunk_line *l;

    if (c->cap - c->len < line->len) {
        size_t cap = c->cap ? c->cap : PARSE_CHUNK_BYTES;
        char *nb;

        while (cap - c->len < line->len) {
            cap *= 2;
        }
        nb = lw_realloc(c->buf, cap);
        if (nb == NULL) {
            return LW_ENOMEM;
        }
        c->buf = nb;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, line->data, line->len);
    l = &c->lines[c->n_lines++];
    l->off = (uint32_t)c->len;
    l->len = (uint32_t)line->len;
    l->flags = line->flags;
    l->file_idx = file_idx;
    l->lineno = line->lineno;
    c->len += line->len;
    return LW_OK;
}

static int chunk_full(const struct chunk *c)
{
    return c->n_lines >= PARSE_CHUNK_LINES || c->len >= PARSE_CHUNK_BYTES;
}

static int run_parallel(const struct lw_parse_ctx *ctx, struct lw_parse_stats *st)
{
    unsigned n = ctx->opts->n_threads;
    struct pipe p;
    struct worker_arg *args = NULL;
    struct progress pr;
    struct lw_reader *r = NULL;
    struct lw_line line;
    struct chunk *c = NULL;
    size_t file_i = 0;
    uint64_t s, first;
    unsigned n_started = 0;
    unsigned i;
    int warm = 1;
    int rc = LW_OK;
    int nr;

    memset(&p, 0, sizeof(p));
    p.ctx = ctx;
    p.k = 4 * (size_t)n;
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.work, NULL);
    pthread_cond_init(&p.done, NULL);
    p.ring = lw_calloc(p.k, sizeof(*p.ring));
    p.workers = lw_calloc(n, sizeof(*p.workers));
    p.tids = lw_calloc(n, sizeof(*p.tids));
    args = lw_calloc(n, sizeof(*args));
    if (p.ring == NULL || p.workers == NULL || p.tids == NULL || args == NULL) {
        rc = LW_ENOMEM;
        goto out;
    }
    for (s = 0; s < p.k; s++) {
        p.ring[s].lines = lw_malloc(PARSE_CHUNK_LINES * sizeof(*p.ring[s].lines));
        if (p.ring[s].lines == NULL) {
            rc = LW_ENOMEM;
            goto out;
        }
    }
    /* Worker state is made here, before any thread runs (the miner scratch is per thread). */
    for (i = 0; i < n; i++) {
        rc = lw__parse_worker_init(&p.workers[i], ctx);
        if (rc < 0) {
            goto out;
        }
        args[i].p = &p;
        args[i].w = &p.workers[i];
    }
    for (i = 0; i < n; i++) {
        if (pthread_create(&p.tids[i], NULL, worker_loop, &args[i]) != 0) {
            lw_error("parse", "cannot start a parse thread");
            rc = LW_ENOMEM;
            goto stop;
        }
        n_started++;
    }

    pr.on = ctx->opts->progress;
    pr.t0 = now_s();
    pr.next = pr.t0 + 1.0;
    s = 0;
    for (;;) {
        /* Get the next input line, opening files as needed. */
        nr = 0;
        while (r != NULL || file_i < ctx->opts->n_files) {
            if (r == NULL) {
                r = open_input(ctx, file_i, st);
                if (r == NULL) {
                    file_i++;
                    continue;
                }
            }
            nr = lw_reader_next(r, &line);
            if (nr > 0) {
                break;
            }
            if (nr < 0) {
                lw_error("parse", "%s", lw_reader_error(r));
                st->had_input_error = 1;
            }
            reader_done(r, st);
            r = NULL;
            file_i++;
            nr = 0;
        }
        /* Take a slot for chunk s: wait for and write chunk s - K that held it. */
        if (c == NULL && nr > 0) {
            c = &p.ring[s % p.k];
            if (s >= p.k) {
                rc = drain_chunk(&p, c, st);
                if (rc < 0) {
                    break;
                }
            }
            c->seq = s;
            c->len = 0;
            c->n_lines = 0;
            c->done = 0;
        }
        if (nr > 0) {
            rc = chunk_push(c, &line, (uint32_t)(file_i));
            if (rc < 0) {
                break;
            }
            st->n_lines++;
        }
        if (c != NULL && (nr == 0 || chunk_full(c))) {
            if (warm && s > 0) {
                struct chunk *prev = &p.ring[(s - 1) % p.k];

                wait_done(&p, prev);
                warm = prev->n_new > 0 && s < PARSE_WARM_MAX_CHUNKS;
            }
            pthread_mutex_lock(&p.mu);
            p.n_published = s + 1;
            pthread_cond_signal(&p.work);
            pthread_mutex_unlock(&p.mu);
            if (warm && s == 0) {
                /* The first chunk is always mined alone. */
                wait_done(&p, c);
                warm = c->n_new > 0;
            }
            c = NULL;
            s++;
            progress_tick(&pr, st, st->n_bytes + (r != NULL ? lw_reader_bytes(r) : 0));
        }
        if (nr == 0) {
            break;
        }
    }
    if (r != NULL) {
        reader_done(r, st);
    }
    /* Write the chunks still in flight, in order (after an error, just wait for them). */
    first = s > p.k ? s - p.k : 0;
    if (rc < 0 && c != NULL && s >= p.k) {
        /* The slot taken for chunk s was already drained. */
        first++;
    }
    for (; first < s; first++) {
        int rc2;

        if (rc < 0) {
            wait_done(&p, &p.ring[first % p.k]);
            continue;
        }
        rc2 = drain_chunk(&p, &p.ring[first % p.k], st);
        if (rc2 < 0) {
            rc = rc2;
        }
    }
    progress_end(&pr);
stop:
    pthread_mutex_lock(&p.mu);
    p.eof = 1;
    pthread_cond_broadcast(&p.work);
    pthread_mutex_unlock(&p.mu);
    for (i = 0; i < n_started; i++) {
        pthread_join(p.tids[i], NULL);
    }
out:
    if (p.workers != NULL) {
        for (i = 0; i < n; i++) {
            lw__parse_worker_fini(&p.workers[i]);
        }
    }
    if (p.ring != NULL) {
        for (s = 0; s < p.k; s++) {
            lw_free(p.ring[s].buf);
            lw_free(p.ring[s].lines);
            lw__parse_obuf_fini(&p.ring[s].out);
        }
    }
    lw_free(p.ring);
    lw_free(p.workers);
    lw_free(p.tids);
    lw_free(args);
    pthread_cond_destroy(&p.done);
    pthread_cond_destroy(&p.work);
    pthread_mutex_destroy(&p.mu);
    return rc;
}

int lw__parse_run(const struct lw_parse_ctx *ctx, struct lw_parse_stats *st)
{
    memset(st, 0, sizeof(*st));
    lw__parse_out_header(ctx);
    if (ctx->opts->n_threads <= 1) {
        return run_serial(ctx, st);
    }
    return run_parallel(ctx, st);
}
