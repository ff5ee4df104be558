/* in_syslog: syslog over UDP and TCP (src/input/syslog_*.c). */
#include <string.h>

#include "lw/lw_metrics.h"
#include "lw/lw_plugin.h"
#include "lw/lw_syslog.h"
#include "syslog_conf.h"

static bool in_syslog_enabled(const struct lw_input_conf *conf)
{
    return conf->syslog.addr != NULL;
}

static void *in_syslog_start(const struct lw_input_ctx *ctx, char *err, size_t err_len)
{
    const struct lw_in_syslog_conf *conf = &ctx->conf->syslog;
    struct lw_syslog_conf sc;

    memset(&sc, 0, sizeof(sc));
    sc.udp_addr = conf->udp ? conf->addr : NULL;
    sc.tcp_addr = conf->tcp ? conf->addr : NULL;
    sc.max_msg_bytes = conf->max_line_bytes;
    sc.max_connections = conf->max_connections;
    sc.idle_timeout_s = conf->idle_timeout_s;
    sc.udp_rcvbuf_bytes = conf->udp_rcvbuf_bytes;
    return lw_syslog_server_start(&sc, ctx->ingest, err, err_len);
}

static void in_syslog_stop(void *inst)
{
    lw_syslog_server_stop(inst);
}

static void in_syslog_stats(void *inst, struct lw_input_stats *out)
{
    struct lw_syslog_stats ss;

    lw_syslog_server_stats(inst, &ss);
    out->lines = ss.messages;
    out->bytes = ss.bytes;
}

static void in_syslog_metrics(void *inst, struct lw_prom *p)
{
    struct lw_syslog_stats ss;

    lw_syslog_server_stats(inst, &ss);
    lw_prom_append(p, "logwarden_syslog_connections_open", "Open syslog TCP connections.",
                   "gauge", NULL, (double)ss.connections_open);
    lw_prom_append(p, "logwarden_syslog_framing_errors_total", "Bad octet-count prefixes.",
                   "counter", NULL, (double)ss.framing_errors);
    lw_prom_append(p, "logwarden_syslog_dropped_udp_total",
                   "UDP messages lost: refused under backpressure or dropped by the kernel on a "
                   "full receive buffer.", "counter", NULL, (double)ss.dropped_udp);
    lw_prom_append(p, "logwarden_syslog_udp_kernel_drops_total",
                   "UDP messages the kernel dropped on a full receive buffer (also counted in "
                   "logwarden_syslog_dropped_udp_total).", "counter", NULL,
                   (double)ss.dropped_udp_kernel);
    lw_prom_append(p, "logwarden_syslog_udp_rcvbuf_bytes",
                   "The UDP socket's receive buffer as the kernel granted it.", "gauge", NULL,
                   (double)ss.udp_rcvbuf_bytes);
    lw_prom_append(p, "logwarden_syslog_idle_closed_total",
                   "Connections closed for silence or to make room at max_connections.",
                   "counter", NULL, (double)ss.idle_closed);
}

const struct lw_input_plugin in_syslog_plugin = {
    .abi = LW_PLUGIN_ABI,
    .name = "syslog",
    .description = "syslog over UDP and TCP (RFC 3164, RFC 5424, RFC 6587 framing)",
    .enabled = in_syslog_enabled,
    .start = in_syslog_start,
    .stop = in_syslog_stop,
    .stats = in_syslog_stats,
    .metrics = in_syslog_metrics,
    .conf_keys = syslog_conf_keys,
    .conf = syslog_conf_read,
};
