/*
 * out_webhook internals: the on-disk spool (webhook_spool.c) and the plugin (out_webhook.c).
 *
 * The spool is one folder with one file per alert, named by its alert_seq ("%020llu.json",
 * so names sort in submit order) and holding the exact HTTP body to POST. A file is written as
 * "<seq>.tmp", fsync'd, renamed and the folder fsync'd, so after a crash a file either holds a
 * whole body or is a .tmp that the next start deletes. The in-memory index (sorted by seq)
 * mirrors the folder; the spool's mutex lets the submitting thread add files (queue overflow)
 * while the sink thread sends and removes them.
 */
#ifndef LW_OUT_WEBHOOK_H
#define LW_OUT_WEBHOOK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_alert.h"

struct webhook_spool_ent {
    uint64_t seq;
    uint64_t bytes;                /* file size */
};

struct webhook_spool {
    char *dir;
    int dir_fd;
    uint64_t max_bytes;            /* the cap on the sum of file sizes */
    const struct lw_sink_env *env; /* reports alerts dropped at the cap */
    const char *name;              /* the sink's, for log lines */
    pthread_mutex_t mu;
    struct webhook_spool_ent *e;   /* sorted by seq; e[0] is the oldest */
    size_t n;
    size_t cap;
    uint64_t bytes;
    uint64_t inflight;             /* seq being sent (never dropped); 0: none */
    atomic_uint_fast64_t dropped;  /* dropped at the cap */
};

/*
 * Creates @dir (with its parents) when missing, deletes leftover .tmp files and indexes the
 * alerts left by a previous run; the oldest beyond @max_bytes are dropped (reported through
 * @env). LW_OK, or LW_EIO / LW_ENOMEM with a message in @err.
 */
int webhook_spool_open(struct webhook_spool *sp, const char *dir, uint64_t max_bytes,
                       const struct lw_sink_env *env, const char *name, char *err,
                       size_t err_len);
void webhook_spool_close(struct webhook_spool *sp);

/*
 * Writes @body durably as alert @seq, then drops the oldest alerts (except the one being sent)
 * until the spool is within its cap. LW_OK, LW_ETOOBIG (the body alone is over the cap),
 * LW_EIO or LW_ENOMEM. Any thread.
 */
int webhook_spool_put(struct webhook_spool *sp, uint64_t seq, const char *body, size_t len);

/*
 * Reads the oldest alert: its seq and body (lw_malloc'd, the caller frees) and marks it in
 * flight. LW_OK, LW_ENOENT (the spool is empty), or LW_EIO (the file is unreadable: *seq is
 * set, the caller removes it). Sink thread only.
 */
int webhook_spool_peek(struct webhook_spool *sp, uint64_t *seq, char **body, size_t *len);

/* Deletes alert @seq (sent or refused for good) and clears the in-flight mark. */
void webhook_spool_remove(struct webhook_spool *sp, uint64_t seq);

/* Clears the in-flight mark (the send failed; the alert stays first in line). */
void webhook_spool_release(struct webhook_spool *sp);

/* Alerts in the spool (gauge); any thread. */
size_t webhook_spool_count(struct webhook_spool *sp);

#endif
