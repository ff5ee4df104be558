/*
 * GET /api/v1/status: the daemon's counters as JSON (what `logwarden status` shows for a running
 * daemon). Rendered from the engine's statistics on the server thread that asks.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lw/lw_api.h"
#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int lw_api_status_render(void *opaque, char **json, size_t *len)
{
    const struct lw_api_status_src *src = opaque;
    struct lw_engine_stats es;
    size_t cap = 1024 + strlen(src->data_dir_json);
    char *buf = lw_malloc(cap);
    int n;

    if (buf == NULL) {
        return LW_ENOMEM;
    }
    lw_engine_get_stats(src->engine, &es);
    n = snprintf(buf, cap,
                 "{\"running\":true,\"pid\":%ld,\"uptime_s\":%.1f,\"data_dir\":\"%s\","
                 "\"stored_lines\":%llu,\"lines_in\":%llu,\"lines_parsed\":%llu,"
                 "\"lines_late\":%llu,\"templates\":%llu,\"queue_depth\":%llu,"
                 "\"inflight_bytes\":%llu,\"store_errors\":%llu,\"anomalies\":%llu,"
                 "\"alerts\":%llu}",
                 (long)getpid(), (double)(wall_ns() - src->started_ns) / 1e9, src->data_dir_json,
                 (unsigned long long)es.stored_total, (unsigned long long)es.lines_in,
                 (unsigned long long)es.lines_parsed, (unsigned long long)es.lines_late,
                 (unsigned long long)es.templates, (unsigned long long)es.queue_depth,
                 (unsigned long long)es.inflight_bytes, (unsigned long long)es.store_errors,
                 (unsigned long long)es.anomalies, (unsigned long long)es.alerts);
    *json = buf;
    *len = n > 0 && (size_t)n < cap ? (size_t)n : strlen(buf);
    return LW_OK;
}
