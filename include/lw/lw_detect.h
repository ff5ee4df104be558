/*
 * Anomaly detection (DESIGN.md "analysis"): detectors are plugins behind one interface, driven by
 * the detection stage (src/analyze/stage.c, lw_analyze.h) on the aggregator's thread, one line at a time in
 * ingest order, so a detector's state is single-threaded and needs no lock.
 *
 *   observe()        every parsed line (template id, event time, level, source, parameters)
 *   tick()           the watermark moved or time passed: close windows, end idle sessions
 *   session_event()  a line that belongs to a session (the stage tracks sessions by key)
 *   session_end()    a session ended (terminal template, timeout, eviction, shutdown)
 *   save() / load()  the learned model, saved with the miner's state and reloaded on restart
 *
 * Every detector learns online: after its warm-up it reports while it keeps learning. A finding
 * is a struct lw_anomaly handed to out->emit(); everything in it is borrowed for that call (the
 * stage copies what it keeps). Scores are on one scale for every detector: 1 - p, where p is the
 * detector's estimate of how likely a normal stream shows something at least this unusual, so a
 * single threshold (detect.threshold, default 0.999) means the same for all of them.
 */
#ifndef LW_DETECT_H
#define LW_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_conf.h"
#include "lw/lw_finding.h"
#include "lw/lw_miner.h"

#define LW_DETECT_ABI 1u

/* One parsed line as detectors see it; every pointer is borrowed for the call. */
struct lw_det_event {
    int64_t ts_ns;                  /* event time */
    int64_t arrival_ns;             /* wall clock when the input accepted the line */
    uint32_t template_id;           /* >= 1; 0 when the miner could not take the line */
    bool new_template;              /* this line created its template */
    uint8_t level;                  /* enum lw_level (lw_level.h), 0 when unknown */
    const char *source;             /* counting key (host or sender), "" when none; NUL-ended */
    const char *origin;             /* where the line came from: file path, sender, "-"; for
                                     * findings to name when there is no source; may be NULL */
    const char *msg;                /* the message without its header; not NUL-ended */
    size_t msg_len;
    const char *tpl;                /* template text at the time of the line, or NULL */
    size_t tpl_len;
    size_t n_params;                /* parameters at the template's <*> places, in order */
    const struct lw_param *params;  /* offsets into msg */
};

struct lw_det_out {
    void (*emit)(void *opaque, const struct lw_anomaly *a);
    void *opaque;
    double threshold;              /* report only scores >= this (detect.threshold) */
    /* The text of template @id (borrowed until the next call), or NULL when unknown. */
    const char *(*template_text)(void *opaque, uint32_t id);
    /*
     * The live template behind @id: @id, the template it was merged into, or 0 when evicted;
     * @id itself when the stage has no miner to ask. A detector keyed by template ids drops (or
     * merges) state whose id no longer resolves to itself: its lines now count elsewhere.
     */
    uint32_t (*template_resolve)(void *opaque, uint32_t id);
    /*
     * A number that changes whenever template_resolve() may answer differently for some id (a
     * merge or an eviction in the miner): a detector that resolved all its ids at one value need
     * not walk them again until it changes.
     */
    uint64_t (*template_epoch)(void *opaque);
    /*
     * The known template most like template @id (share of common words, Jaccard), other than
     * itself: its id, with the similarity in [0, 1] and the lines it has counted. 0 when there
     * is none or the stage has no miner to ask. It walks every template: for rare findings only.
     */
    uint32_t (*template_nearest)(void *opaque, uint32_t id, double *similarity, uint64_t *lines);
    /*
     * Set during tick() when the windows it closes may be partial (every source went quiet, or
     * the daemon stops): a window detector judges them for what they hold (a spike) but not for
     * what they lack (a drop, a silence), and does not learn from them.
     */
    bool partial;
    /*
     * The stream is normal history (`logwarden train`): nothing is reported, and what would
     * have been reported is learned as normal like the rest.
     */
    bool training;
};

/* A session as the stage tracks it (borrowed for the call). */
struct lw_session {
    const char *key;               /* the value the session key pattern matched */
    const uint32_t *events;        /* template ids in arrival order, at most max_events */
    size_t n_events;
    uint64_t n_dropped;            /* events past max_events (counted, not kept) */
    int64_t first_ns;              /* event time of the first and last line */
    int64_t last_ns;
    int64_t last_arrival_ns;
    const char *source;            /* source of the first line */
    const char *const *samples;    /* up to LW_SESSION_SAMPLES lines: the first and the latest */
    size_t n_samples;
    const char *end_reason;        /* session_end: "terminal", "timeout", "evicted", "shutdown" */
    uint32_t *flags;               /* a word per session for detectors: bit (1 << detector's
                                    * index in lw_detector_plugins), e.g. "already reported" */
    uint32_t flag_bit;             /* the calling detector's bit */
    bool joined;                   /* open before the stream began (the daemon joined a running
                                    * system): its first events are missing, so its start is no
                                    * evidence and its path is not to be learned */
};

#define LW_SESSION_SAMPLES 3

/* A growable byte buffer for save(); lw_wbuf_* report LW_ENOMEM through b->err. */
struct lw_wbuf {
    unsigned char *p;
    size_t len;
    size_t cap;
    int err;
};
void lw_wbuf_put(struct lw_wbuf *b, const void *p, size_t n);
void lw_wbuf_u32(struct lw_wbuf *b, uint32_t v);
void lw_wbuf_u64(struct lw_wbuf *b, uint64_t v);
void lw_wbuf_f64(struct lw_wbuf *b, double v);
void lw_wbuf_str(struct lw_wbuf *b, const char *s, size_t n);  /* u32 length + bytes */
void lw_wbuf_free(struct lw_wbuf *b);

/* A reader over saved bytes; any overrun sets r->err = LW_ECORRUPT and reads zeros. */
struct lw_rbuf {
    const unsigned char *p;
    size_t len;
    size_t off;
    int err;
};
uint32_t lw_rbuf_u32(struct lw_rbuf *r);
uint64_t lw_rbuf_u64(struct lw_rbuf *r);
double lw_rbuf_f64(struct lw_rbuf *r);
/* Points *s at the bytes (not NUL-ended) and returns their length; 0 on error. */
size_t lw_rbuf_str(struct lw_rbuf *r, const char **s);

struct lw_det_stats {
    uint64_t anomalies;            /* findings reported */
    uint64_t state_items;          /* gauge: baselines, open sessions, vocabulary entries */
    uint64_t evicted;              /* state items evicted at their cap */
    bool warming_up;               /* gauge: reports nothing yet */
    /*
     * Warm-up progress: the detector has warmup_have of the warmup_need units it needs before
     * it reports (warmup_have >= warmup_need once warm; for a windowed detector, the series
     * furthest along). warmup_unit is a static string: "windows", "lines", "seconds" (of event
     * time), "sessions" or "values"; NULL when the detector has no warm-up. warming_up may stay
     * true a little after have reaches need while a model is fitted (session_counts).
     */
    uint64_t warmup_have;
    uint64_t warmup_need;
    const char *warmup_unit;
};

struct lw_detect_conf;

struct lw_detector_plugin {
    uint32_t abi;                  /* == LW_DETECT_ABI */
    const char *name;              /* "volume" for plugins/det_volume/ */
    const char *description;
    /* Whether the configuration turns this detector on. */
    bool (*enabled)(const struct lw_detect_conf *conf);
    /* Creates the detector's state; NULL with a message in @err. */
    void *(*init)(const struct lw_detect_conf *conf, char *err, size_t err_len);
    void (*observe)(void *ctx, const struct lw_det_event *ev, const struct lw_det_out *out);
    /* @watermark_ns: event time below which no more lines are expected; @now_ns wall clock. */
    void (*tick)(void *ctx, int64_t watermark_ns, int64_t now_ns, const struct lw_det_out *out);
    void (*session_event)(void *ctx, const struct lw_session *s, const struct lw_det_event *ev,
                          const struct lw_det_out *out);   /* optional */
    void (*session_end)(void *ctx, const struct lw_session *s,
                        const struct lw_det_out *out);     /* optional */
    int (*save)(void *ctx, struct lw_wbuf *b);             /* LW_OK or LW_ENOMEM */
    /* Replaces the model with saved bytes; LW_ECORRUPT with a message leaves it unchanged. */
    int (*load)(void *ctx, const void *p, size_t n, char *err, size_t err_len);
    void (*stats)(void *ctx, struct lw_det_stats *out);
    void (*exit)(void *ctx);
    /*
     * Optional, for detectors that keep state per source (docs/cluster.md, "Model state follows
     * partitions"); NULL in the others. save_sources() saves, in load_merge()'s format, the
     * state of the sources for which @want(@opaque, source) is true (never the source ""); with
     * @drop it then forgets it, so that a source that moved to another instance is not judged
     * silent here. LW_OK or LW_ENOMEM (nothing dropped then).
     */
    int (*save_sources)(void *ctx, struct lw_wbuf *b,
                        bool (*want)(void *opaque, const char *source), void *opaque, bool drop);
    /*
     * Adds saved per-source state to the model, replacing what it holds of those sources and
     * keeping the rest. LW_ECORRUPT / LW_EINVAL with a message leave the model unchanged.
     */
    int (*load_merge)(void *ctx, const void *p, size_t n, char *err, size_t err_len);
    /*
     * The detector's configuration section, detect.<name> (optional). conf_keys lists its keys,
     * NULL-terminated (the daemon refuses any other, naming it); conf() reads @section, a map of
     * @c, into the detector's own part of @conf over the defaults already there. LW_OK, or a
     * negative LW_E* code with @err filled (lw_conf_errf()).
     */
    const char *const *conf_keys;
    int (*conf)(const struct lw_conf *c, const struct lw_conf_node *section,
                struct lw_detect_conf *conf, struct lw_conf_err *err);
};

/* The registered detector plugins, NULL-terminated (generated by CMake: lw_plugins.c). */
extern const struct lw_detector_plugin *const lw_detector_plugins[];

/* ---- configuration (YAML `detect:`; docs/config.md) ---- */

#define LW_DETECT_MAX_TERMINAL 16

struct lw_detect_conf {
    double threshold;              /* report scores >= this; default 0.999 */
    int64_t lateness_ns;           /* detectors' watermark: newest event time minus this;
                                    * default 500 ms (lines later than that are counted in the
                                    * store but missed by closed windows) */
    struct {
        bool enabled;
        uint64_t warmup_lines;     /* lines before new templates are reported; default 20000 */
        int64_t warmup_ns;         /* and event time; default 60 s */
    } new_template;
    struct {
        bool enabled;
        int64_t window_ns;         /* default: the engine's window (10 s) */
        size_t warmup_windows;     /* windows of history before reporting; default 30 */
        size_t max_series;         /* template and template+source baselines; default 50000 */
        bool per_source;           /* also template+source series; default true */
        uint64_t min_count;        /* spikes need at least this many lines; default 10 */
        double min_ratio;          /* and this many times the expectation (drops: a fraction
                                    * 1 / min_ratio of it, or less); default 2.5 */
    } volume;
    struct {
        bool enabled;
        size_t warmup_windows;     /* default 30 */
        size_t max_sources;        /* default 10000 */
        uint64_t min_count;        /* default 10 */
    } level;
    struct {
        bool enabled;              /* session tracking; on when the key pattern is set */
        char *key_pattern;         /* PCRE2; default "blk_-?\d+" */
        int64_t timeout_ns;        /* event time without a line; default 60 s */
        uint32_t terminal[LW_DETECT_MAX_TERMINAL]; /* template ids that end a session */
        size_t n_terminal;
        size_t max_open;           /* open sessions; default 100000, the oldest evicted */
        size_t max_events;         /* events kept per session; default 512 */
    } session;
    struct {
        bool enabled;
        size_t history;            /* h: events of history; default 3 */
        size_t top;                /* g: candidates; default 16 */
        uint64_t warmup_sessions;  /* finished sessions before reporting; default 200 */
        size_t max_contexts;       /* model size cap; default 200000 */
    } sequence;
    struct {
        bool enabled;
        uint64_t warmup_sessions;  /* default 500 */
        size_t max_train;          /* sessions kept for (re)training; default 20000 */
        double support;            /* share of sessions an invariant must hold in; 0.998 */
        bool pca_alert;            /* PCA's Q-statistic alerts too (off: scored only) */
    } session_counts;
    struct {
        bool enabled;
        uint64_t warmup_values;    /* values per place before reporting; default 200 */
        size_t max_places;         /* template parameter places tracked; default 20000 */
        size_t max_values;         /* distinct values kept per low-cardinality place; 32 */
    } params;
};

/* Fills @c with the defaults above (the engine's window as volume.window_ns). */
void lw_detect_conf_defaults(struct lw_detect_conf *c, int64_t window_ns);
void lw_detect_conf_fini(struct lw_detect_conf *c);

#endif
