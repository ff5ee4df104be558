/*
 * Metrics text: a builder of the Prometheus text exposition format (0.0.4) for whoever renders
 * /metrics: the daemon, the HTTP server's own counters, and the inputs' metrics() callbacks
 * (lw_plugin.h). A core module, so that the inputs need nothing of the HTTP API to report.
 */
#ifndef LW_METRICS_H
#define LW_METRICS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A growing buffer of Prometheus text (format 0.0.4). The "# HELP" and "# TYPE" lines of a
 * metric family are written the first time its name is appended; samples of one family should be
 * appended together (Prometheus requires a family's samples to be contiguous). Initialise with
 * {0}; the first error sticks in @rc and later calls do nothing, so callers check once at the end.
 */
struct lw_prom {
    char *buf;   /* NUL-terminated text, lw_malloc'd; take it or call lw_prom_fini() */
    size_t len;  /* bytes in @buf without the NUL */
    size_t cap;
    int rc;      /* LW_OK or the first error (LW_ENOMEM, LW_EINVAL) */
};

/*
 * Appends one sample "name{labels} value". @labels is the inside of the braces, already escaped
 * ('job="x",code="200"'), or NULL/"" for none. @help may be NULL. @type is "counter", "gauge",
 * "untyped", ... Returns p->rc.
 */
int lw_prom_append(struct lw_prom *p, const char *name, const char *help, const char *type,
                   const char *labels, double value);
/*
 * Appends a histogram: @n_bounds upper bounds in increasing order and @counts with n_bounds + 1
 * per-bucket (not cumulative) counts, the last one for +Inf; writes cumulative name_bucket{le=..}
 * samples, name_sum and name_count. Returns p->rc.
 */
int lw_prom_histogram(struct lw_prom *p, const char *name, const char *help, const char *labels,
                      const double *bounds, const uint64_t *counts, size_t n_bounds, double sum);
/* Frees the buffer and resets @p to {0}. */
void lw_prom_fini(struct lw_prom *p);

#endif
