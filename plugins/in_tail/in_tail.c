/* in_tail: follows files matching glob patterns (src/input/tail.c), resuming from checkpoints. */
#include <stdio.h>
#include <string.h>

#include "lw/lw_mem.h"
#include "lw/lw_metrics.h"
#include "lw/lw_plugin.h"
#include "lw/lw_tail.h"
#include "tail_conf.h"

struct in_tail {
    struct lw_input_ctx ctx;
    struct lw_tail *tail;
};

static bool in_tail_enabled(const struct lw_input_conf *conf)
{
    return conf->tail.n_patterns > 0;
}

static int in_tail_resume(void *opaque, const char *path, struct lw_ingest_checkpoint *out)
{
    struct in_tail *t = opaque;

    return t->ctx.resume != NULL ? t->ctx.resume(t->ctx.opaque, "tail", path, out) : 0;
}

static void *in_tail_start(const struct lw_input_ctx *ctx, char *err, size_t err_len)
{
    const struct lw_in_tail_conf *conf = &ctx->conf->tail;
    struct in_tail *t = lw_calloc(1, sizeof(*t));
    struct lw_tail_conf tc;

    if (t == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    t->ctx = *ctx;
    memset(&tc, 0, sizeof(tc));
    tc.patterns = conf->patterns;
    tc.n_patterns = conf->n_patterns;
    tc.start_at_end = conf->from_end;
    tc.poll_ms = conf->poll_ms;
    tc.max_line_bytes = conf->max_line_bytes;
    tc.multiline = conf->multiline;
    tc.rotate_patterns = conf->rotate_patterns;
    tc.n_rotate_patterns = conf->n_rotate_patterns;
    tc.skip_gzip = conf->skip_gzip;
    tc.rotate_wait_ms = conf->rotate_wait_ms;
    tc.resume = in_tail_resume;
    tc.resume_opaque = t;
    t->tail = lw_tail_start(&tc, ctx->ingest, err, err_len);
    if (t->tail == NULL) {
        lw_free(t);
        return NULL;
    }
    return t;
}

static void in_tail_stop(void *inst)
{
    struct in_tail *t = inst;

    lw_tail_stop(t->tail);
    lw_free(t);
}

static void in_tail_reopen(void *inst)
{
    lw_tail_reopen(((struct in_tail *)inst)->tail);
}

static void in_tail_stats(void *inst, struct lw_input_stats *out)
{
    struct lw_tail_stats ts;

    lw_tail_stats(((struct in_tail *)inst)->tail, &ts);
    out->lines = ts.lines;
    out->bytes = ts.bytes;
}

static void in_tail_metrics(void *inst, struct lw_prom *p)
{
    struct lw_tail_stats ts;

    lw_tail_stats(((struct in_tail *)inst)->tail, &ts);
    lw_prom_append(p, "logwarden_tail_files_open", "Files followed.", "gauge", NULL,
                   (double)ts.files_open);
    lw_prom_append(p, "logwarden_tail_rotations_total", "Rotated or deleted files finished.",
                   "counter", NULL, (double)ts.rotations);
    lw_prom_append(p, "logwarden_tail_truncations_total", "Files read again after a truncation.",
                   "counter", NULL, (double)ts.truncations);
}

const struct lw_input_plugin in_tail_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "tail",
    .description = "follow files matching glob patterns, with rotation and checkpoints",
    .enabled = in_tail_enabled,
    .start = in_tail_start,
    .stop = in_tail_stop,
    .reopen = in_tail_reopen,
    .stats = in_tail_stats,
    .metrics = in_tail_metrics,
    .conf_keys = tail_conf_keys,
    .conf = tail_conf_read,
};
