/*
 * The daemon's /metrics route (lw_http.h): Prometheus text for the engine, the detection stage
 * and its detectors, the alert manager and every running input (its lines and bytes, then what
 * its own metrics() callback adds). The server appends its own counters after this text.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lw/lw_alert.h"
#include "lw/lw_analyze.h"
#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_http.h"
#include "lw/lw_mem.h"
#include "lw/lw_metrics.h"
#include "lw/lw_plugin.h"

static void prom_u(struct lw_prom *p, const char *name, const char *help, const char *type,
                   const char *labels, uint64_t v)
{
    lw_prom_append(p, name, help, type, labels, (double)v);
}

int lw_http_metrics_render(void *src, char **text, size_t *len)
{
    struct lw_http_metrics_src *d = src;
    struct lw_engine_stats es;
    struct lw_prom p = {0};
    static const char *const C = "counter";
    static const char *const G = "gauge";

    lw_engine_get_stats(d->engine, &es);
    prom_u(&p, "logwarden_lines_in_total", "Lines accepted from all inputs.", C, NULL,
           es.lines_in);
    prom_u(&p, "logwarden_bytes_in_total", "Bytes accepted from all inputs.", C, NULL,
           es.bytes_in);
    prom_u(&p, "logwarden_parsed_lines_total", "Lines parsed and mined.", C, NULL,
           es.lines_parsed);
    prom_u(&p, "logwarden_late_lines_total",
           "Lines behind the event-time watermark when they came (still counted; closed detector "
           "windows miss them).", C, NULL, es.lines_late);
    prom_u(&p, "logwarden_time_inherited_lines_total",
           "Lines without a timestamp that took their source's last event time.", C, NULL,
           es.time_inherited);
    prom_u(&p, "logwarden_time_arrival_lines_total",
           "Lines without a timestamp from a source that never had one (arrival time).", C,
           NULL, es.time_arrival);
    prom_u(&p, "logwarden_time_outlier_lines_total",
           "Lines whose timestamp was too far from their source's clock to be believed.", C,
           NULL, es.time_outliers);
    prom_u(&p, "logwarden_time_jumps_total",
           "Jumps of a source's clock confirmed by a second line.", C, NULL, es.time_jumps);
    prom_u(&p, "logwarden_sources", "Sources with an event-time clock.", G, NULL, es.sources);
    prom_u(&p, "logwarden_sources_idle",
           "Sources quiet long enough that they no longer hold the watermark back.", G, NULL,
           es.sources_idle);
    prom_u(&p, "logwarden_truncated_lines_total", "Lines cut at the maximum line length.", C,
           NULL, es.lines_truncated);
    prom_u(&p, "logwarden_invalid_lines_total", "Lines with invalid UTF-8 or NUL bytes.", C, NULL,
           es.lines_invalid);
    prom_u(&p, "logwarden_header_mismatch_lines_total",
           "Lines whose header matched no layout (the whole line is the message).", C, NULL,
           es.header_mismatch);
    prom_u(&p, "logwarden_dropped_by_policy_lines_total",
           "Lines dropped because the configuration allows it.", C, NULL, es.dropped_by_policy);
    prom_u(&p, "logwarden_backpressure_total", "Groups refused because the pipeline was full.",
           C, NULL, es.groups_refused);
    prom_u(&p, "logwarden_stored_lines_total",
           "Lines whose window counts are durable in the store (all runs).", C, NULL,
           es.stored_total);
    prom_u(&p, "logwarden_store_commits_total", "Store transactions committed.", C, NULL,
           es.store_commits);
    prom_u(&p, "logwarden_store_errors_total", "Store transactions that failed.", C, NULL,
           es.store_errors);
    prom_u(&p, "logwarden_queue_depth",
           "Batches waiting in a stage (parse: for a worker; reorder: for an earlier batch).", G,
           "stage=\"parse\"", es.queue_depth);
    prom_u(&p, "logwarden_queue_depth",
           "Batches waiting in a stage (parse: for a worker; reorder: for an earlier batch).", G,
           "stage=\"reorder\"", es.reorder_depth);
    prom_u(&p, "logwarden_inflight_bytes", "Bytes of lines in the pipeline.", G, NULL,
           es.inflight_bytes);
    prom_u(&p, "logwarden_templates", "Templates known to the miner.", G, NULL, es.templates);
    prom_u(&p, "logwarden_anomalies_total", "Findings reported by the detectors.", C, NULL,
           es.anomalies);
    prom_u(&p, "logwarden_anomalies_unstored_total",
           "Findings alerted but not stored (the store lagged past the pending cap).", C, NULL,
           es.anomalies_unstored);
    prom_u(&p, "logwarden_alerts_total", "Findings the alert manager turned into alerts.", C,
           NULL, es.alerts);
    if (d->detect) {
        struct lw_detect_stats ds;
        char label[96];
        size_t i;

        lw_engine_get_detect_stats(d->engine, &ds);
        prom_u(&p, "logwarden_sessions_open", "Sessions open in the detection stage.", G, NULL,
               ds.sessions_open);
        prom_u(&p, "logwarden_sessions_ended_total", "Sessions ended (terminal or timeout).", C,
               NULL, ds.sessions_ended);
        prom_u(&p, "logwarden_sessions_evicted_total",
               "Sessions ended early at the open-session cap.", C, NULL, ds.sessions_evicted);
        for (i = 0; i < ds.n_detectors; i++) {
            snprintf(label, sizeof(label), "detector=\"%s\"", ds.names[i]);
            prom_u(&p, "logwarden_detector_anomalies_total", "Findings per detector.", C, label,
                   ds.det[i].anomalies);
        }
        for (i = 0; i < ds.n_detectors; i++) {
            snprintf(label, sizeof(label), "detector=\"%s\"", ds.names[i]);
            prom_u(&p, "logwarden_detector_state_items",
                   "Baselines, contexts or invariants a detector keeps.", G, label,
                   ds.det[i].state_items);
        }
        for (i = 0; i < ds.n_detectors; i++) {
            snprintf(label, sizeof(label), "detector=\"%s\"", ds.names[i]);
            prom_u(&p, "logwarden_detector_evicted_total",
                   "State items a detector evicted at its cap.", C, label, ds.det[i].evicted);
        }
        for (i = 0; i < ds.n_detectors; i++) {
            snprintf(label, sizeof(label), "detector=\"%s\"", ds.names[i]);
            prom_u(&p, "logwarden_detector_warming_up", "1 while a detector is warming up.", G,
                   label, ds.det[i].warming_up ? 1 : 0);
        }
    }
    if (d->alerter != NULL) {
        struct lw_alert_stats as;
        char label[96];
        size_t i;

        lw_alerter_get_stats(d->alerter, &as);
        prom_u(&p, "logwarden_alerts_suppressed_total",
               "Findings suppressed as duplicates within the cool-down.", C, NULL,
               as.suppressed);
        prom_u(&p, "logwarden_alerts_limited_total", "Findings over the alert rate limit.", C,
               NULL, as.limited);
        prom_u(&p, "logwarden_alerts_muted_total",
               "Findings muted by a feedback rule (not alerted).", C, NULL, as.muted);
        prom_u(&p, "logwarden_feedback_rules", "Feedback rules loaded.", G, NULL,
               as.rules);
        prom_u(&p, "logwarden_incidents_total", "Incidents (groups of related alerts).", C, NULL,
               as.incidents);
        for (i = 0; i < as.n_sinks; i++) {
            snprintf(label, sizeof(label), "sink=\"%s\"", as.sink_names[i]);
            prom_u(&p, "logwarden_alerts_sent_total", "Alerts delivered per sink.", C, label,
                   as.sent[i]);
        }
        for (i = 0; i < as.n_sinks; i++) {
            snprintf(label, sizeof(label), "sink=\"%s\"", as.sink_names[i]);
            prom_u(&p, "logwarden_alert_failures_total",
                   "Delivery attempts that failed (retried).", C, label, as.failed[i]);
        }
        for (i = 0; i < as.n_sinks; i++) {
            snprintf(label, sizeof(label), "sink=\"%s\"", as.sink_names[i]);
            prom_u(&p, "logwarden_alerts_dropped_total", "Alerts lost: queue or spool full.", C,
                   label, as.dropped[i]);
        }
        for (i = 0; i < as.n_sinks; i++) {
            snprintf(label, sizeof(label), "sink=\"%s\"", as.sink_names[i]);
            prom_u(&p, "logwarden_alerts_spooled", "Alerts waiting in a sink's spool.", G,
                   label, as.spooled[i]);
        }
    }
    lw_prom_histogram(&p, "logwarden_batch_latency_seconds",
                      "From a batch's arrival to its counts being durable.", NULL,
                      lw_engine_latency_bounds, es.batch_latency_buckets, 11,
                      es.batch_latency_sum);
    lw_prom_histogram(&p, "logwarden_store_write_seconds", "One store transaction.", NULL,
                      lw_engine_latency_bounds, es.store_latency_buckets, 11,
                      es.store_latency_sum);
    {
        /* Per-input samples of one metric must stay together in the exposition format. */
        struct lw_input_stats st[LW_HTTP_MAX_INPUTS];
        char label[64];
        size_t i;

        pthread_mutex_lock(d->inputs_mu);
        for (i = 0; i < *d->n_inputs; i++) {
            memset(&st[i], 0, sizeof(st[i]));
            d->inputs[i].plugin->stats(d->inputs[i].inst, &st[i]);
        }
        for (i = 0; i < *d->n_inputs; i++) {
            snprintf(label, sizeof(label), "input=\"%s\"", d->inputs[i].plugin->name);
            prom_u(&p, "logwarden_input_lines_total", "Lines read per input.", C, label,
                   st[i].lines);
        }
        for (i = 0; i < *d->n_inputs; i++) {
            snprintf(label, sizeof(label), "input=\"%s\"", d->inputs[i].plugin->name);
            prom_u(&p, "logwarden_input_bytes_total", "Bytes read per input.", C, label,
                   st[i].bytes);
        }
        for (i = 0; i < *d->n_inputs; i++) {
            if (d->inputs[i].plugin->metrics != NULL) {
                d->inputs[i].plugin->metrics(d->inputs[i].inst, &p);
            }
        }
        pthread_mutex_unlock(d->inputs_mu);
    }
    if (p.rc < 0) {
        int rc = p.rc;

        lw_prom_fini(&p);
        return rc;
    }
    *text = p.buf;
    *len = p.len;
    return LW_OK;
}
