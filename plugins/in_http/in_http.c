/*
 * in_http: HTTP ingest (POST /api/v1/ingest). The daemon owns the HTTP server (src/api/); this
 * input registers its ingest route there, through the routes of lw_plugin.h, and takes it back
 * when it stops. Text bodies join continuation lines as inputs.http.multiline says (default
 * auto); NDJSON bodies are one record per line.
 */
#include <stdio.h>
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_metrics.h"
#include "lw/lw_plugin.h"
#include "http_conf.h"

#define IN_HTTP_PATH "/api/v1/ingest"

struct in_http {
    struct lw_ingest_routes routes;
    struct lw_multiline_conf multiline;  /* text bodies; the route copies it, borrows its regex */
};

static bool in_http_enabled(const struct lw_input_conf *conf)
{
    return conf->http.addr != NULL;
}

static void *in_http_start(const struct lw_input_ctx *ctx, char *err, size_t err_len)
{
    struct in_http *h;
    int rc;

    if (ctx->routes == NULL) {
        snprintf(err, err_len, "the daemon serves no HTTP");
        return NULL;
    }
    h = lw_calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    h->routes = *ctx->routes;
    h->multiline = ctx->conf->http.multiline;
    rc = h->routes.add_ingest(h->routes.server, IN_HTTP_PATH, ctx->ingest, &h->multiline);
    if (rc < 0) {
        snprintf(err, err_len, "cannot register %s: %s", IN_HTTP_PATH, lw_strerror(rc));
        lw_free(h);
        return NULL;
    }
    return h;
}

static void in_http_stop(void *inst)
{
    struct in_http *h = inst;
    struct lw_ingest none;

    /* Requests from now on get 503; the daemon stops the server before the pipeline. */
    memset(&none, 0, sizeof(none));
    (void)h->routes.add_ingest(h->routes.server, IN_HTTP_PATH, none, NULL);
    lw_free(h);
}

static void in_http_stats(void *inst, struct lw_input_stats *out)
{
    struct in_http *h = inst;
    struct lw_ingest_route_stats rs;

    h->routes.stats(h->routes.server, &rs);
    out->lines = rs.lines;
    out->bytes = rs.bytes;
}

static void in_http_metrics(void *inst, struct lw_prom *p)
{
    struct in_http *h = inst;
    struct lw_ingest_route_stats rs;

    h->routes.stats(h->routes.server, &rs);
    lw_prom_append(p, "logwarden_http_503_total", "Ingest requests refused under backpressure.",
                   "counter", NULL, (double)rs.refused_503);
    lw_prom_append(p, "logwarden_http_rejected_lines_total", "Malformed ingest lines skipped.",
                   "counter", NULL, (double)rs.rejected_lines);
}

const struct lw_input_plugin in_http_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "http",
    .description = "HTTP ingest of NDJSON or text (routes on the daemon's HTTP server)",
    .enabled = in_http_enabled,
    .start = in_http_start,
    .stop = in_http_stop,
    .stats = in_http_stats,
    .metrics = in_http_metrics,
    .conf_keys = http_conf_keys,
    .conf = http_conf_read,
};
