/*
 * The analysis layer (src/analyze/): the detection stage drives every enabled detector (plugins
 * of lw_detect.h) one line at a time in ingest order, tracks sessions by key and tells the session
 * detectors when a session grows or ends. It runs on one thread (the engine's aggregator), so
 * nothing here locks. The event-time window clock that window detectors share is in lw_windows.h.
 */
#ifndef LW_ANALYZE_H
#define LW_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_detect.h"

/* ---- the detection stage (src/analyze/stage.c) ---- */

struct lw_detect_stage;

/* Looks up the text of template @id into @buf; returns its length or -1 (lw_miner_template). */
typedef long (*lw_template_lookup)(void *opaque, uint32_t id, char *buf, size_t cap);
/* The live template behind @id (lw_miner_resolve). */
typedef uint32_t (*lw_template_resolver)(void *opaque, uint32_t id);
/* A number that changes whenever the resolver may answer differently (lw_miner_epoch). */
typedef uint64_t (*lw_template_epoch_fn)(void *opaque);
/*
 * Sets how the stage resolves merged template ids for its detectors (default: ids are live), and
 * how it learns that resolutions may have changed (NULL: at any time).
 */
void lw_detect_stage_set_resolver(struct lw_detect_stage *st, lw_template_resolver fn,
                                  lw_template_epoch_fn epoch);
/* The nearest known template (lw_det_out.template_nearest). */
typedef uint32_t (*lw_template_nearest_fn)(void *opaque, uint32_t id, double *similarity,
                                           uint64_t *lines);
void lw_detect_stage_set_nearest(struct lw_detect_stage *st, lw_template_nearest_fn fn);

/*
 * Creates every enabled detector. @emit receives each finding that reaches the threshold;
 * @lookup (may be NULL) names templates in explanations. NULL with a message in @err.
 */
struct lw_detect_stage *lw_detect_stage_create(const struct lw_detect_conf *conf,
                                               void (*emit)(void *opaque,
                                                            const struct lw_anomaly *a),
                                               lw_template_lookup lookup, void *opaque,
                                               char *err, size_t err_len);
void lw_detect_stage_destroy(struct lw_detect_stage *st);
/* Training: the detectors learn, nothing is reported. */
void lw_detect_stage_learn_only(struct lw_detect_stage *st, bool on);
/* One line; ev->tpl may be NULL (the stage fills it from its cache). */
void lw_detect_stage_observe(struct lw_detect_stage *st, const struct lw_det_event *ev);
void lw_detect_stage_tick(struct lw_detect_stage *st, int64_t watermark_ns, int64_t now_ns);
/*
 * A tick whose closed windows may be partial (lw_det_out.partial): every source is quiet, or the
 * daemon stops. Windows up to @watermark_ns close and are judged only for what they hold.
 */
void lw_detect_stage_flush(struct lw_detect_stage *st, int64_t watermark_ns);
/*
 * Sessions first seen within @grace_ns of event time after the stream's first keyed line are
 * taken to have begun before it (the daemon joined a running system): they are tracked but not
 * judged or learned. 0 (the default, as in `eval detect`) judges every session.
 */
void lw_detect_stage_set_join_grace(struct lw_detect_stage *st, int64_t grace_ns);
/*
 * Ends every open session with @reason ("timeout" judges and learns them, as `train` does at the
 * end of its history; "shutdown" does neither). Open sessions are not saved across restarts.
 */
void lw_detect_stage_end_sessions(struct lw_detect_stage *st, const char *reason);
/* Every detector's model, one section each. */
int lw_detect_stage_save(struct lw_detect_stage *st, struct lw_wbuf *b);
/* Loads what save() wrote; sections of detectors that are off or unknown are skipped. */
int lw_detect_stage_load(struct lw_detect_stage *st, const void *p, size_t n, char *err,
                         size_t err_len);

/*
 * The per-source state of the sources @want accepts, from every detector that keeps some (their
 * save_sources op), in lw_detect_stage_load_merge()'s format; with @drop it is forgotten.
 * Returns LW_OK or LW_ENOMEM. Detectors without per-source state write nothing.
 */
int lw_detect_stage_save_sources(struct lw_detect_stage *st, struct lw_wbuf *b,
                                 bool (*want)(void *opaque, const char *source), void *opaque,
                                 bool drop);
/* Merges what lw_detect_stage_save_sources() wrote into the running detectors. */
int lw_detect_stage_load_merge(struct lw_detect_stage *st, const void *p, size_t n, char *err,
                               size_t err_len);

struct lw_detect_stats {
    uint64_t lines;                /* lines observed */
    uint64_t anomalies;            /* findings reported */
    uint64_t sessions_open;        /* gauge */
    uint64_t sessions_ended;
    uint64_t sessions_evicted;     /* at max_open */
    uint64_t sessions_unkeyed;     /* lines without a session key */
    size_t n_detectors;
    const char *names[16];
    struct lw_det_stats det[16];
};
void lw_detect_stage_get_stats(struct lw_detect_stage *st, struct lw_detect_stats *out);

/*
 * ---- The detectors' warm-up in the log ----
 *
 * A detector reports nothing while it warms up. Whoever snapshots the detection stage's stats
 * (the engine, lw_detect_stage_get_stats()) passes each snapshot here; it logs at info level,
 * once per detector:
 *   "detect: volume: warming up, 3/30 windows; it reports nothing before that"
 *     for a detector warming up at the first snapshot, or when it first is later;
 *   "detect: volume: warm-up over (30/30 windows); it reports from now on"
 *     when it leaves its warm-up (not for a detector already warm at the first snapshot,
 *     e.g. from a loaded model).
 * @w starts zeroed ({0}) and is owned by the caller; one thread at a time per @w. Detectors past
 * LW_DETECT_WARMUP_MAX are ignored. @st's detectors must keep their order between calls (one
 * stage).
 */
#define LW_DETECT_WARMUP_MAX 32
struct lw_detect_warmup {
    bool started;                  /* the first snapshot was seen */
    uint32_t announced;            /* bit i: detector i's warming up was logged */
    uint32_t done;                 /* bit i: detector i is warm (and was logged if it warmed) */
};
void lw_detect_warmup_update(struct lw_detect_warmup *w, const struct lw_detect_stats *st);

#endif
