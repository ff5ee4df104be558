/*
 * The pipeline of the daemon (DESIGN.md "What flows"):
 *
 *   inputs --lw_ingest--> batch queue --> parse workers --> aggregator --> store writer
 *
 * Inputs hand groups of lines to lw_engine_ingest() (the lw_ingest_fn of lw_ingest.h). Each
 * group is copied into one batch (one allocation for the bytes, one for the line index), so an
 * input never waits on parsing. Batches wait in a bounded queue; when the queue or the memory
 * budget is full the engine answers LW_EAGAIN and the input stops reading (backpressure).
 * Parse workers parse headers and mine templates with one shared miner. The aggregator takes
 * batches back in ingest order, counts lines per event-time window (per template, per template
 * and source, per level), and every flush interval writes the counts, the templates, the input
 * checkpoints and the stored-lines total in ONE store transaction: a line's checkpoint never
 * becomes durable before its counts (at-least-once, nothing lost on a crash).
 */
#ifndef LW_ENGINE_H
#define LW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_ingest.h"

struct lw_store;
struct lw_detect_conf;
struct lw_alerter;
struct lw_detect_stats;

struct lw_engine_conf {
    const char *format;          /* header layout, NULL or "auto" for automatic recognition */
    size_t workers;              /* parse threads; 0: default 2 */
    size_t queue_batches;        /* batches waiting for parsing; 0: default 64 */
    size_t memory_limit_bytes;   /* bytes of lines in flight; 0: default 256 MiB */
    int64_t window_ns;           /* event-time window; 0: default 10 s */
    int64_t lateness_ns;         /* allowed lateness behind the watermark, for counting and
                                  * detection alike; 0: default 500 ms */
    int64_t max_jump_ns;         /* a timestamp farther than this from its source's clock is
                                  * not believed until a second line confirms it; 0: 1 h */
    int64_t idle_ns;             /* wall time without a line before a source stops holding the
                                  * watermark back; 0: 5 s */
    int64_t max_lag_ns;          /* the watermark trails the newest event time by at most this;
                                  * 0: 60 s */
    int64_t flush_ns;            /* store transaction interval; 0: default 200 ms */
    int64_t miner_save_ns;       /* periodic miner snapshot; 0: default 60 s */
    int64_t retention_ns;        /* window rows older than this are pruned; 0: default 7 days */
    size_t max_templates;        /* miner cap; 0: miner default */
    struct lw_store *store;      /* borrowed; the engine is its only writer */
    const struct lw_detect_conf *detect;  /* NULL: no anomaly detection */
    struct lw_alerter *alerter;  /* borrowed, may be NULL: anomalies are only stored */
    bool learn_only;             /* `logwarden train`: detectors learn, report nothing; open
                                  * sessions end as finished when the engine stops */
};

/* Counters, all cumulative since start (gauges say so). */
struct lw_engine_stats {
    uint64_t lines_in;           /* lines accepted from inputs */
    uint64_t bytes_in;
    uint64_t groups_refused;     /* LW_EAGAIN answers (backpressure events) */
    uint64_t lines_parsed;
    uint64_t lines_late;         /* behind the watermark minus the allowed lateness */
    uint64_t lines_truncated;
    uint64_t lines_invalid;
    uint64_t header_mismatch;
    uint64_t lines_stored;       /* lines whose counts are durable (this run) */
    uint64_t stored_total;       /* persisted total, all runs */
    uint64_t dropped_by_policy;  /* lines dropped because a user allowed it (none yet) */
    uint64_t store_commits;
    uint64_t store_errors;
    uint64_t queue_depth;        /* gauge: batches waiting for a worker */
    uint64_t reorder_depth;      /* gauge: parsed batches waiting for an earlier one */
    uint64_t inflight_bytes;     /* gauge */
    uint64_t templates;          /* gauge */
    int64_t watermark_ns;        /* gauge: the event-time watermark (lw_clock.h) */
    /* The event-time clock (lw_clock.h): how lines got their event time. */
    uint64_t time_inherited;     /* no timestamp: their source's last event time */
    uint64_t time_arrival;       /* no timestamp, and their source never had one */
    uint64_t time_outliers;      /* a timestamp too far from their source's clock */
    uint64_t time_jumps;         /* confirmed jumps of a source's clock */
    uint64_t sources;            /* gauge: sources with a clock */
    uint64_t sources_idle;       /* gauge: of which quiet (not holding the watermark) */
    /* Latency histograms (seconds): ingest to durable, and one store transaction. */
    uint64_t batch_latency_buckets[12];
    double batch_latency_sum;
    uint64_t batch_latency_count;
    uint64_t store_latency_buckets[12];
    double store_latency_sum;
    uint64_t store_latency_count;
    /* Detection. */
    uint64_t anomalies;          /* findings reported by the detectors */
    uint64_t anomalies_unstored; /* over the pending cap while the store lagged (still alerted) */
    uint64_t alerts;             /* findings the alert manager turned into alerts */
};

/* Upper bounds (seconds) of the histogram buckets above; the last one is +Inf. */
extern const double lw_engine_latency_bounds[12];

struct lw_engine;

/*
 * Creates the engine and starts its threads. Loads the miner state from the store (template ids
 * continue). Returns NULL with a message in @err.
 */
struct lw_engine *lw_engine_start(const struct lw_engine_conf *conf, char *err, size_t err_len);

/* The lw_ingest to give inputs. */
struct lw_ingest lw_engine_ingest(struct lw_engine *e);

/*
 * Stops accepting, drains every queued batch, writes the last transaction and the miner state,
 * joins the threads and frees the engine. Inputs must be stopped before. Returns LW_OK or the
 * last store error.
 */
int lw_engine_stop(struct lw_engine *e);
/*
 * 1 when the store refused the last transaction because another instance took over one of its
 * Kafka partitions (LW_EFENCED): it can never commit, and the daemon should stop so that it is
 * started afresh (docs/cluster.md, "Fencing"). Any thread.
 */
int lw_engine_fenced(struct lw_engine *e);
/*
 * The checkpoint of (@input, @path) in the last transaction this engine committed that had one:
 * 1 and *@out filled (its path NULL), 0 when it committed none (ask the store). Kept only for
 * inputs whose sources are shared_shards (lw_ingest.h; the Kafka input asks several times a
 * second): for other inputs always 0. Any thread.
 */
int lw_engine_durable(struct lw_engine *e, const char *input, const char *path,
                      struct lw_ingest_checkpoint *out);
/* lw_engine_stop() that also fills the final figures (either may be NULL). */
int lw_engine_stop_stats(struct lw_engine *e, struct lw_engine_stats *es,
                         struct lw_detect_stats *ds);

void lw_engine_get_stats(struct lw_engine *e, struct lw_engine_stats *out);
/* The detectors' figures (a snapshot taken by the aggregator at most 1 s ago). */
void lw_engine_get_detect_stats(struct lw_engine *e, struct lw_detect_stats *out);

#endif
