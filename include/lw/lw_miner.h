/*
 * Online template miner. One pass, streaming, bounded work per line: a message is masked,
 * tokenised and matched against the known templates; an unmatched message creates a template,
 * a near match generalises one (differing tokens become <*>). Templates are kept in canonical
 * form (lw_canon.h), one id per template text: a line whose template would print the text of a
 * known one goes to that one, and when generalising makes two templates print the same text, one
 * is merged into the other and its id becomes an alias (lw_miner_resolve()).
 *
 * A template's id is derived from its canonical text (a 32-bit hash, with a deterministic probe on
 * collision), so instances that mine separate streams give a template of the same text the same
 * id. When a template's text changes (it generalises), its id changes with it and the old id
 * becomes an alias of the new one: ids handed out earlier keep resolving, also across save/load,
 * and lw_miner_drain_aliases() tells the store. docs/parse.md, "Template ids", has the details.
 *
 * The miner is shared by the parse threads: lw_miner_add() may be called concurrently; a line
 * whose shape the calling thread has seen before takes no lock at all (per-thread cache), any
 * other line takes the write lock. The number of templates is capped; when the cap
 * is reached the least recently matched template is evicted and its id is never reused.
 */
#ifndef LW_MINER_H
#define LW_MINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_mask.h"

#define LW_MINER_MAX_PARAMS 64

struct lw_miner_conf {
    double sim_threshold;        /* 0: default 0.6; weighted share of constant tokens that agree */
    size_t sibling_merge;        /* 0: default 4; distinct words at one place before it becomes
                                  * a variable (1: generalise at once, as Drain does) */
    size_t max_templates;        /* 0: default 100000 */
    size_t max_tokens;           /* 0: default 256 tokens per message, the rest is one token */
    struct lw_mask_conf masks;
};

struct lw_param {
    uint32_t off;  /* byte offset in the message */
    uint32_t len;
};

struct lw_match {
    uint32_t template_id;  /* >= 1 */
    int is_new;            /* 1 when this message created the template; 0 when it went to an
                            * existing one, also one whose text its own would have repeated */
    size_t n_params;
    struct lw_param params[LW_MINER_MAX_PARAMS];
};

/* An alias change: id @from now resolves to live template @to; @to == 0: @from is no alias. */
struct lw_alias {
    uint32_t from;
    uint32_t to;
};

struct lw_miner;
struct lw_miner_scratch;  /* per-thread working memory */

struct lw_miner *lw_miner_create(const struct lw_miner_conf *conf, char *err, size_t err_len);
void lw_miner_destroy(struct lw_miner *m);
struct lw_miner_scratch *lw_miner_scratch_create(struct lw_miner *m);
void lw_miner_scratch_destroy(struct lw_miner_scratch *s);

/*
 * The id every instance gives a template whose canonical text is @text (@len bytes) unless it
 * collided with another text there (then a later probe, see docs/parse.md): never 0. Pure.
 */
uint32_t lw_template_id(const char *text, size_t len);

/* Turns parameter extraction on (off by default; it costs a read lock per line). */
void lw_miner_scratch_params(struct lw_miner_scratch *s, int on);
/*
 * Folds the thread's pending counts into the templates. Call before reading counts
 * (lw_miner_foreach) from another thread's point of view; destroy flushes too.
 */
void lw_miner_scratch_flush(struct lw_miner_scratch *s);

/*
 * Mines one message. @ts_ns is the line's time (for first/last seen; LW_TS_UNKNOWN allowed).
 * Fills @out. Returns LW_OK or LW_ENOMEM. Thread-safe with one @s per thread.
 */
int lw_miner_add(struct lw_miner *m, struct lw_miner_scratch *s, const char *msg, size_t len,
                 int64_t ts_ns, struct lw_match *out);

/*
 * With parameter extraction on: the text of the line's template as it was when the params were
 * taken (consistent with them even while other threads generalise it), or NULL when it could
 * not be captured. Valid until the next lw_miner_add() with @s.
 */
const char *lw_miner_scratch_text(const struct lw_miner_scratch *s, size_t *len);

/*
 * Copies the current canonical text of template @id into @buf (capacity @cap, NUL-terminated).
 * Returns its length, or a negative LW_ENOENT when @id does not exist (evicted or never made).
 */
long lw_miner_template(struct lw_miner *m, uint32_t id, char *buf, size_t cap);
/*
 * The live template behind @id: @id itself, the template a merged one became (its alias: a
 * sibling merge, or two templates that came to print the same text), or 0 when it was evicted or
 * never existed. Ids that lw_miner_add() returned before a merge keep resolving after it, also
 * across save/load. Thread-safe (a read lock).
 */
uint32_t lw_miner_resolve(struct lw_miner *m, uint32_t id);
/*
 * A number that changes whenever an id may come to resolve to another template or to none (a
 * merge, an eviction, a load): a caller that found its ids resolving to themselves at one value
 * need not resolve them again while it stays. (An alias handed back to the template whose text
 * it names does not change it: that id then resolves to itself.) Lock-free.
 */
uint64_t lw_miner_epoch(struct lw_miner *m);

struct lw_template_info {
    uint32_t id;
    uint64_t count;
    int64_t first_seen_ns;
    int64_t last_seen_ns;
    const char *text;  /* borrowed; valid during the callback only */
    uint64_t born;     /* creation order, 1 for the first template */
};
typedef int (*lw_template_cb)(void *opaque, const struct lw_template_info *t);
/* Calls @cb for every live template in creation order; stops when @cb returns non-zero. */
int lw_miner_foreach(struct lw_miner *m, lw_template_cb cb, void *opaque);
/*
 * The known template most like template @id (share of common words, Jaccard, the <*> places left
 * out), among those made before it (parse workers run ahead of the detectors): its id, with the
 * similarity in [0, 1] in *@similarity and the lines it has counted in *@lines. 0 when there is
 * none (both outputs then 0) or @id is unknown (outputs untouched). It walks every template
 * (lw_miner_foreach), so it is for rare findings only. Thread-safe (a read lock).
 */
uint32_t lw_miner_nearest(struct lw_miner *m, uint32_t id, double *similarity, uint64_t *lines);
size_t lw_miner_n_templates(struct lw_miner *m);
/*
 * Kept for callers of the sequential ids: ids now come from the template text, so an id a store
 * holds names the same text here and nothing needs to move. Returns false.
 */
bool lw_miner_continue_ids(struct lw_miner *m, uint32_t max_id);
/*
 * The alias changes since the last call, for the store: each alias whose live template changed
 * (new aliases, and old ones behind a template whose id changed since), with @to the live id it
 * resolves to now, then the aliases removed (@to 0: leads nowhere, or the id is live again). An
 * array the caller frees with lw_free() in *@out (NULL when empty), its length in *@n. LW_OK or
 * LW_ENOMEM (nothing taken). Any thread.
 */
int lw_miner_drain_aliases(struct lw_miner *m, struct lw_alias **out, size_t *n);
/* The next lw_miner_drain_aliases() gives the whole table (the last list was not stored). */
void lw_miner_alias_resync(struct lw_miner *m);
uint64_t lw_miner_n_evicted(struct lw_miner *m);

/*
 * State file: versioned, checksummed, written atomically (temp file, fsync, rename, fsync of the
 * directory). Load replaces nothing on failure: it returns LW_ENOENT (no file), LW_EVERSION,
 * LW_ECORRUPT (bad magic, checksum or structure) or LW_EIO, with a message in @err.
 */
int lw_miner_save(struct lw_miner *m, const char *path, char *err, size_t err_len);
int lw_miner_load(struct lw_miner *m, const char *path, char *err, size_t err_len);
/* The same on memory buffers (for the fuzzer); save returns a buffer the caller frees. */
int lw_miner_save_buf(struct lw_miner *m, char **buf, size_t *len);
int lw_miner_load_buf(struct lw_miner *m, const char *buf, size_t len, char *err, size_t err_len);

#endif
