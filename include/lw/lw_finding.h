/*
 * A finding (struct lw_anomaly): what a detector reports and what the alert manager, the sinks
 * and the store take in. It is a core type so that the layers that consume findings need not
 * know the detectors that produce them. A finding handed to a callback is borrowed for that
 * call; lw_anomaly_copy() makes one that outlives it, in one allocation.
 */
#ifndef LW_FINDING_H
#define LW_FINDING_H

#include <stddef.h>
#include <stdint.h>

/* A finding. Strings are NUL-ended and borrowed for the emit call. */
struct lw_anomaly {
    const char *detector;          /* plugin name: "new_template", "volume", "sequence", ... */
    const char *kind;              /* finer kind: "spike", "drop", "silence", "unexpected", ... */
    double score;                  /* 1 - p, in [0, 1] */
    int64_t ts_ns;                 /* event time: of the line, or the window's start */
    int64_t arrival_ns;            /* wall-clock arrival of the line that revealed it, or 0 */
    uint32_t template_id;          /* 0 when not about one template */
    const char *source;            /* NULL when not about one source */
    const char *key;               /* session key, parameter place, ...; NULL when none */
    const char *summary;           /* one line for humans, with the numbers */
    const char *explanation_json;  /* JSON object: expected versus observed */
    const char *samples_json;      /* JSON array of sample lines, or NULL */
};

/* Bytes that lw_anomaly_copy() needs for @a's strings. */
size_t lw_anomaly_strings_size(const struct lw_anomaly *a);
/*
 * @dst becomes @src with every string copied into @buf (lw_anomaly_strings_size(src) bytes):
 * one allocation holds a finding that must outlive the emit call (the alert manager's queues,
 * the engine's pending transaction).
 */
void lw_anomaly_copy(struct lw_anomaly *dst, const struct lw_anomaly *src, char *buf);

#endif
