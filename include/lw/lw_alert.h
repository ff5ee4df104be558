/*
 * The alert manager: anomalies in, alerts out (DESIGN.md "outputs").
 *
 *   lw_alerter_submit()  on the detection thread: decides at once, without blocking, whether an
 *                        anomaly becomes an alert (deduplication within a cool-down, grouping of
 *                        related anomalies into one incident, severity, a global rate limit) and
 *                        queues the alert for the sinks. The decision goes back to the caller,
 *                        which stores the anomaly and the alert row.
 *   sink threads         one per sink (stdout, JSONL file, webhook): each takes alerts from its
 *                        own bounded queue and delivers them. The webhook retries with backoff and
 *                        keeps undelivered alerts in an on-disk spool (one file per alert, fsync'd)
 *                        while the receiver is down, so no alert is lost across outages or
 *                        restarts; the spool has a size cap and counts what it had to drop.
 *   lw_alerter_poll()    delivery results (sent / failed per alert and sink) for the store.
 */
#ifndef LW_ALERT_H
#define LW_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_conf.h"
#include "lw/lw_finding.h"

#define LW_ALERT_MAX_SINKS 8
#define LW_SINK_ABI 1u            /* struct lw_sink_plugin.abi */

enum lw_sink_kind { LW_SINK_STDOUT = 1, LW_SINK_FILE, LW_SINK_WEBHOOK };
enum lw_webhook_format { LW_WEBHOOK_JSON = 1, LW_WEBHOOK_ALERTMANAGER };

struct lw_sink_conf {
    enum lw_sink_kind kind;
    char *name;                    /* unique; default the kind ("stdout", "file", "webhook") */
    char *path;                    /* file: JSONL path (appended) */
    char *url;                     /* webhook: http(s) URL */
    enum lw_webhook_format format; /* webhook: generic JSON (default) or Alertmanager v2 */
    char *token;                   /* webhook: "Authorization: Bearer" value, or NULL */
    char *spool_dir;               /* webhook: default <data_dir>/spool/<name> */
    size_t spool_max_bytes;        /* default 64 MiB; the oldest alerts beyond it are dropped */
    int64_t timeout_ns;            /* webhook request timeout; default 5 s */
    int64_t backoff_min_ns;        /* default 500 ms, doubled per failure ... */
    int64_t backoff_max_ns;        /* ... up to 60 s */
    size_t queue;                  /* alerts waiting for this sink; default 10000 */
};

/* The durations and the rate are measured in event time (see lw_alerter_submit()). */
struct lw_alert_conf {
    int64_t cooldown_ns;           /* same fingerprint again within it: suppressed; 60 s */
    int64_t group_ns;              /* related anomalies within it join one incident; 60 s */
    double rate_per_min;           /* alerts per event-time minute, all incidents; default 60 */
    size_t burst;                  /* token bucket size; default 20 */
    double critical_score;         /* score >= this: "critical", else "warning"; 0.99999 */
    size_t max_fingerprints;       /* dedup memory; default 100000, the oldest evicted */
    struct lw_sink_conf sinks[LW_ALERT_MAX_SINKS];
    size_t n_sinks;
    const char *data_dir;          /* for default spool folders (borrowed) */
};

/* What lw_alerter_submit() decided. */
struct lw_alert_decision {
    bool alert;                    /* queued for the sinks */
    const char *state;             /* "pending" (queued), "suppressed" (dedup), "limited" (rate),
                                    * "muted" (a feedback rule matched: no alert, no incident) */
    int64_t rule_id;               /* "muted": the rule that matched */
    const char *severity;          /* "warning" or "critical" */
    char incident[64];             /* incident id: related anomalies share it */
    uint64_t alert_seq;            /* identifies the alert in lw_alerter_poll() results; 0 if none */
};

struct lw_alert_result {
    uint64_t alert_seq;
    const char *sink;              /* sink name */
    bool sent;                     /* false: dropped (spool full or sink failed for good) */
    int64_t sent_ns;
};

struct lw_alert_stats {
    uint64_t submitted;
    uint64_t alerts;               /* became alerts */
    uint64_t suppressed;           /* dedup within the cool-down */
    uint64_t limited;              /* over the rate limit */
    uint64_t muted;                /* matched a feedback rule */
    uint64_t rules;                /* gauge: feedback rules loaded */
    uint64_t incidents;            /* incidents opened */
    uint64_t fingerprints;         /* gauge: fingerprints remembered for deduplication */
    uint64_t evicted;              /* fingerprints forgotten at max_fingerprints */
    uint64_t sent[LW_ALERT_MAX_SINKS];
    uint64_t failed[LW_ALERT_MAX_SINKS];      /* delivery attempts that failed (retried) */
    uint64_t dropped[LW_ALERT_MAX_SINKS];     /* lost: queue or spool full, refused for good */
    uint64_t spooled[LW_ALERT_MAX_SINKS];     /* gauge: alerts in the spool */
    const char *sink_names[LW_ALERT_MAX_SINKS];
    size_t n_sinks;
};

/* One alert as a sink receives it; borrowed for the deliver call. */
struct lw_alert_msg {
    uint64_t alert_seq;
    const char *incident;
    const char *severity;
    int64_t created_ns;            /* wall clock of lw_alerter_submit() (for latency only) */
    const struct lw_anomaly *anomaly;
    /*
     * What was held back before this alert (sinks print it, e.g. "12 more like this suppressed
     * in the last 5 min"): findings of this alert's fingerprint suppressed since its previous
     * alert, the event time from that alert to this one (0 when there was none remembered),
     * and findings of any fingerprint limited since the previous alert of any fingerprint.
     */
    uint64_t suppressed_since_last;
    int64_t suppressed_span_ns;
    uint64_t limited_since_last;
};

/* What the alert manager gives a sink at init; borrowed for the sink's lifetime. */
struct lw_sink_env {
    /*
     * For sinks with async_results: reports the final outcome of one alert (sent, or dropped for
     * good). Thread-safe; may be called from deliver(), pump() or overflow().
     */
    void (*report)(void *opaque, uint64_t alert_seq, bool sent);
    void *opaque;
};

/* A sink's own counters (for lw_alert_stats); read from any thread. */
struct lw_sink_stats {
    uint64_t failed;               /* delivery attempts that failed and will be retried */
    uint64_t dropped;              /* alerts lost for good (spool full, permanent refusal) */
    uint64_t spooled;              /* gauge: alerts waiting in the sink's spool */
};

/*
 * Alert sinks are plugins (plugins/out_<name>/, registered by lw_add_plugin(out_<name>)). The
 * alert manager runs each configured sink on its own thread and calls deliver() for one alert
 * at a time, in submit order.
 *
 * Synchronous sinks (stdout, file): deliver() returns LW_OK once the alert is out; on an error
 * the manager retries a few times with backoff and then reports the alert as failed.
 * Asynchronous sinks (webhook, async_results = true): deliver() only takes the alert over (the
 * webhook writes it to its spool) and the outcome comes later through env->report; pump() does
 * the sending between deliveries and when the queue is idle.
 */
struct lw_sink_plugin {
    uint32_t abi;                  /* == LW_SINK_ABI */
    const char *name;              /* "webhook" for plugins/out_webhook/ */
    enum lw_sink_kind kind;
    bool async_results;            /* outcomes come through env->report, not deliver()'s code */
    /*
     * Creates the sink on the manager's thread; NULL with a message in @err. @conf (defaults
     * filled in) and @env are borrowed until exit().
     */
    void *(*init)(const struct lw_sink_conf *conf, const struct lw_sink_env *env, char *err,
                  size_t err_len);
    /* On the sink's thread. LW_OK or an LW_E* code (see above). */
    int (*deliver)(void *ctx, const struct lw_alert_msg *m);
    /*
     * Optional, on the sink's thread: background work (resending the spool). @now_ns and
     * @deadline_ns are CLOCK_MONOTONIC; no single step may run past @deadline_ns by much.
     * Returns when it wants to be called again (monotonic ns): <= now for "at once", INT64_MAX
     * for "nothing to do until the next alert".
     */
    int64_t (*pump)(void *ctx, int64_t now_ns, int64_t deadline_ns);
    /*
     * Optional, on the submitting thread: the sink's queue is full; keep @m some other way
     * (the webhook writes it straight to its spool). LW_OK, or an error and the alert is dropped.
     */
    int (*overflow)(void *ctx, const struct lw_alert_msg *m);
    void (*stats)(void *ctx, struct lw_sink_stats *out);   /* optional; any thread */
    void (*exit)(void *ctx);
    /*
     * The sink's keys in its entry of alerts.sinks (where type: is the sink's name). conf_keys
     * lists the keys only this kind takes, NULL-terminated; type, name and queue are every
     * sink's and read by the daemon. conf() (optional) reads @entry, a map of @c, into @out,
     * whose kind and defaults are set; strings it stores are lw_strdup'd (lw_alert_conf_fini()
     * frees them). LW_OK, or a negative LW_E* code with @err filled (lw_conf_errf()).
     */
    const char *const *conf_keys;
    int (*conf)(const struct lw_conf *c, const struct lw_conf_node *entry,
                struct lw_sink_conf *out, struct lw_conf_err *err);
};

/* The registered sink plugins, NULL-terminated (generated by CMake: lw_plugins.c). */
extern const struct lw_sink_plugin *const lw_sink_plugins[];

struct lw_alerter;

/*
 * Fills @c with the defaults above and no sinks. The strings of c->sinks[] are owned by @c
 * (lw_malloc'd, e.g. lw_strdup) and freed by lw_alert_conf_fini(); data_dir is borrowed.
 */
void lw_alert_conf_defaults(struct lw_alert_conf *c);
void lw_alert_conf_fini(struct lw_alert_conf *c);

/*
 * Starts the sink threads (and resends what a webhook spool holds). @conf is copied: it may be
 * freed after the call. Zero fields of a sink take their defaults (name: the kind; spool_dir:
 * <data_dir>/spool/<name>; ...). Returns NULL with a message in @err when the configuration is
 * invalid (a file sink without a path, a webhook without a URL, two sinks of one name) or a sink
 * cannot start (the spool folder cannot be created, the file cannot be opened).
 *
 * alert_seq values start at the start time in microseconds, so they stay unique across restarts
 * and a webhook that resends a previous run's spool reports those alerts with their old seq.
 */
struct lw_alerter *lw_alerter_start(const struct lw_alert_conf *conf, char *err, size_t err_len);

/*
 * Decides on @a (borrowed; the alerter deep-copies what it queues) and queues an alert when it
 * is one. Never blocks on a sink: a full sink queue spools (webhook) or counts a drop and
 * reports the alert as not sent.
 *
 * @now_ns is the EVENT-TIME clock (epoch ns), not the wall clock: the caller passes a monotonic
 * event-time "now", such as the highest event time of the findings so far (the detection
 * watermark). It alone times the cool-down, the grouping and the rate limit, so findings replayed
 * at any speed (a backfill of 5 hours in seconds) get the decisions they got live: at 60x one
 * 5-minute cool-down covers 5 minutes of events, not 5 hours. A @now_ns below an earlier one is
 * taken as the earlier one (the clock never steps back), so the caller must keep it from running
 * ahead of real time (a line stamped in the future would otherwise hold it there). The alerter
 * reads the wall clock itself for lw_alert_msg.created_ns only.
 *
 * One thread at a time (the detection thread); LW_OK or LW_ENOMEM (then the decision is
 * "limited"-like: no alert). @out->state and ->severity are static strings.
 */
int lw_alerter_submit(struct lw_alerter *al, const struct lw_anomaly *a, int64_t now_ns,
                      struct lw_alert_decision *out);

/*
 * Calls @cb for each delivery result since the last poll, in the order they happened, on the
 * calling thread (not under a lock: @cb may call lw_alerter_get_stats). r->sink is valid until
 * lw_alerter_stop(). At most 65536 results wait; older ones are discarded beyond that.
 */
void lw_alerter_poll(struct lw_alerter *al,
                     void (*cb)(void *opaque, const struct lw_alert_result *r), void *opaque);

/*
 * Call every second or so on the submitting thread (the engine's tick): logs the warning about
 * findings suppressed or limited when one is due. The warning is at most one line per minute
 * of wall time ("alerts: 59 findings limited and 12 suppressed in the last 60 s; ..."); the
 * first after a quiet minute is logged by submit() at once, the rest when the minute is over,
 * by this or the next submit(), and what is left by lw_alerter_stop(). Without ticks only the
 * timing of those later lines suffers. lw_alerter_tick(NULL) does nothing.
 */
void lw_alerter_tick(struct lw_alerter *al);

/*
 * ---- Feedback rules ----
 *
 * A finding that matches an active rule is "muted": lw_alerter_submit() decides state "muted",
 * queues nothing, opens or joins no incident, and counts it (lw_alert_stats.muted). Both kinds
 * mute the same way; "false_positive" says the detector was wrong, "expected" that the event
 * was real but needs no alert (docs/api.md). Rules come from the store (the daemon loads them);
 * the alert manager holds an immutable set and swaps it whole.
 */
struct lw_alert_rules;

/* An empty set (NULL when out of memory). Destroy it unless lw_alerter_set_rules() took it. */
struct lw_alert_rules *lw_alert_rules_create(void);
void lw_alert_rules_destroy(struct lw_alert_rules *rs);
/*
 * Adds a rule: fields that are 0 or NULL match anything, but one of @template_id, @source and
 * @detector must be set (LW_EINVAL). @expires_ns is wall clock, 0 for never. Strings copied.
 * LW_OK, LW_EINVAL, LW_EFULL (10000 rules) or LW_ENOMEM.
 */
int lw_alert_rules_add(struct lw_alert_rules *rs, int64_t id, const char *kind,
                       uint32_t template_id, const char *source, const char *detector,
                       int64_t expires_ns);
size_t lw_alert_rules_count(const struct lw_alert_rules *rs);
/* The id of the first active rule that matches @a at @wall_now_ns, or 0. */
int64_t lw_alert_rules_match(const struct lw_alert_rules *rs, const struct lw_anomaly *a,
                             int64_t wall_now_ns);
/*
 * Replaces the alerter's rules with @rs (taken over, freed by the alerter; NULL: no rules).
 * Thread-safe: any thread, while submit() runs on another.
 */
void lw_alerter_set_rules(struct lw_alerter *al, struct lw_alert_rules *rs);

/* A snapshot of the counters; any thread. sink_names are valid until lw_alerter_stop(). */
void lw_alerter_get_stats(struct lw_alerter *al, struct lw_alert_stats *out);

/*
 * Delivers what is queued (waiting at most @drain_ns for a webhook; what is left stays in its
 * spool for the next start), joins the threads and frees everything. Results not yet polled are
 * discarded. lw_alerter_stop(NULL, ...) does nothing.
 */
void lw_alerter_stop(struct lw_alerter *al, int64_t drain_ns);

#endif
