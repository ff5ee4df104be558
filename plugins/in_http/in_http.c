/* in_http: HTTP ingest (POST /api/v1/ingest) with /metrics and /api/v1/status (src/api/). */
#include <string.h>

#include "lw/lw_http.h"
#include "lw/lw_metrics.h"
#include "lw/lw_plugin.h"

static bool in_http_enabled(const struct lw_input_conf *conf)
{
    return conf->http.addr != NULL;
}

static void *in_http_start(const struct lw_input_ctx *ctx, char *err, size_t err_len)
{
    const struct lw_in_http_conf *conf = &ctx->conf->http;
    struct lw_http_conf hc;

    memset(&hc, 0, sizeof(hc));
    hc.addr = conf->addr;
    hc.token = conf->token;
    hc.max_body_bytes = conf->max_body_bytes;
    hc.max_line_bytes = conf->max_line_bytes;
    hc.ingest = ctx->ingest;
    hc.metrics = ctx->metrics;
    hc.status = ctx->status;
    hc.opaque = ctx->opaque;
    return lw_http_server_start(&hc, err, err_len);
}

static void in_http_stop(void *inst)
{
    lw_http_server_stop(inst);
}

static void in_http_stats(void *inst, struct lw_input_stats *out)
{
    struct lw_http_stats hs;

    lw_http_server_stats(inst, &hs);
    out->lines = hs.ingest_lines;
    out->bytes = hs.ingest_bytes;
}

static void in_http_metrics(void *inst, struct lw_prom *p)
{
    struct lw_http_stats hs;

    lw_http_server_stats(inst, &hs);
    lw_prom_append(p, "logwarden_http_503_total", "Ingest requests refused under backpressure.",
                   "counter", NULL, (double)hs.responses_503);
    lw_prom_append(p, "logwarden_http_rejected_lines_total", "Malformed ingest lines skipped.",
                   "counter", NULL, (double)hs.ingest_rejected_lines);
}

const struct lw_input_plugin in_http_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "http",
    .description = "HTTP ingest of NDJSON or text, plus /metrics and /api/v1/status",
    .enabled = in_http_enabled,
    .start = in_http_start,
    .stop = in_http_stop,
    .stats = in_http_stats,
    .metrics = in_http_metrics,
};
