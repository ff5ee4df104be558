/*
 * in_stdin: lines from standard input. A reader thread frames them (lw_frame.h) into groups and
 * offers each to the pipeline until it is taken; it ends at the end of input. Continuation lines
 * (a stack trace, a Python traceback) are joined to the line they follow as
 * inputs.stdin.multiline says (default auto), so a record may hold several physical lines;
 * joining needs the line after a record, so the last record waits for it or the end of input.
 * Stopped while a read blocks (a terminal, a silent pipe), the lines of its unfinished group are
 * not counted: only a full group or the end of input hands lines over.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_plugin.h"
#include "stdin_conf.h"

#define GROUP_LINES 4096
#define GROUP_BYTES ((size_t)1 << 20)

struct in_stdin {
    struct lw_ingest ingest;
    size_t max_line_bytes;
    struct lw_multiline_conf multiline;   /* regex borrowed from the daemon's configuration */
    pthread_t thread;
    atomic_bool stopping;
    atomic_bool done;
    atomic_uint_fast64_t lines;
    atomic_uint_fast64_t bytes;
};

static bool in_stdin_enabled(const struct lw_input_conf *conf)
{
    return conf->in_stdin.enabled;
}

/* Offers a group until the pipeline takes it; gives up only when stopping. */
static int offer(struct in_stdin *in, const struct lw_ingest_group *g)
{
    for (;;) {
        int rc;

        /* Once stopped, the pipeline may be gone: never call it again. */
        if (atomic_load(&in->stopping)) {
            return LW_EAGAIN;
        }
        rc = in->ingest.fn(in->ingest.opaque, g);
        if (rc != LW_EAGAIN) {
            return rc;
        }
        usleep(2000);
    }
}

static void *in_stdin_main(void *arg)
{
    struct in_stdin *in = arg;
    struct lw_reader_conf rconf = {0};
    struct lw_ingest_source src = {.input = "stdin", .name = "-"};
    struct lw_ingest_line *lines;
    char *buf;
    size_t n = 0;
    size_t used = 0;
    char err[256];
    struct lw_reader *r;
    struct lw_line line;

    rconf.max_line_bytes = in->max_line_bytes;
    lw_reader_conf_multiline(&rconf, &in->multiline);
    r = lw_reader_open_fd(0, &rconf, err, sizeof(err));
    lines = lw_calloc(GROUP_LINES, sizeof(*lines));
    /* Lines are copied, so that a group can wait for the pipeline while the reader moves on. */
    buf = lw_malloc(GROUP_BYTES + (in->max_line_bytes ? in->max_line_bytes : 65536) + 8);
    if (r == NULL || lines == NULL || buf == NULL) {
        lw_error("stdin", "cannot read standard input: %s", r == NULL ? err : "out of memory");
        goto out;
    }
    while (!atomic_load(&in->stopping) && lw_reader_next(r, &line) > 0) {
        memcpy(buf + used, line.data, line.len);
        lines[n].data = buf + used;
        lines[n].len = line.len;
        lines[n].flags = line.flags;
        lines[n].ts_ns = LW_TS_UNKNOWN;
        lines[n].level = 0;
        used += line.len;
        n++;
        atomic_fetch_add(&in->bytes, line.len + 1);
        if (n < GROUP_LINES && used < GROUP_BYTES) {
            continue;
        }
        {
            struct lw_ingest_group g = {.source = &src, .lines = lines, .n_lines = n};

            if (offer(in, &g) == LW_OK) {
                atomic_fetch_add(&in->lines, n);
            }
        }
        n = 0;
        used = 0;
    }
    if (n > 0) {
        struct lw_ingest_group g = {.source = &src, .lines = lines, .n_lines = n};

        if (offer(in, &g) == LW_OK) {
            atomic_fetch_add(&in->lines, n);
        }
    }
out:
    lw_reader_destroy(r);
    lw_free(lines);
    lw_free(buf);
    atomic_store(&in->done, true);
    return NULL;
}

static void *in_stdin_start(const struct lw_input_ctx *ctx, char *err, size_t err_len)
{
    struct in_stdin *in = lw_calloc(1, sizeof(*in));

    if (in == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    in->ingest = ctx->ingest;
    in->max_line_bytes = ctx->conf->in_stdin.max_line_bytes;
    in->multiline = ctx->conf->in_stdin.multiline;
    if (pthread_create(&in->thread, NULL, in_stdin_main, in) != 0) {
        snprintf(err, err_len, "cannot start the stdin reader");
        lw_free(in);
        return NULL;
    }
    return in;
}

static void in_stdin_stop(void *inst)
{
    struct in_stdin *in = inst;

    atomic_store(&in->stopping, true);
    /* A reader between two reads notices within the wait and leaves without calling ingest. */
    for (int i = 0; i < 100 && !atomic_load(&in->done); i++) {
        usleep(10000);
    }
    if (atomic_load(&in->done)) {
        pthread_join(in->thread, NULL);
        lw_free(in);
    }
    else {
        /* A read(2) on a terminal does not end by itself: the thread is left to the exit. */
        pthread_detach(in->thread);
    }
}

static bool in_stdin_done(void *inst)
{
    return atomic_load(&((struct in_stdin *)inst)->done);
}

static void in_stdin_stats(void *inst, struct lw_input_stats *out)
{
    struct in_stdin *in = inst;

    out->lines = atomic_load(&in->lines);
    out->bytes = atomic_load(&in->bytes);
}

const struct lw_input_plugin in_stdin_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "stdin",
    .description = "lines from standard input",
    .enabled = in_stdin_enabled,
    .start = in_stdin_start,
    .stop = in_stdin_stop,
    .done = in_stdin_done,
    .stats = in_stdin_stats,
    .conf_keys = stdin_conf_keys,
    .conf = stdin_conf_read,
};
