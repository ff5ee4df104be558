/*
 * Next-event model of sessions, in the manner of DeepLog (Du et al., CCS 2017) but counted, not
 * trained: for every history of 1..h events seen in normal sessions it keeps how often each event
 * came next. An event is expected when it is among the top g candidates after its history of
 * some length 1..h (the longest histories are the most specific; shorter ones cover histories
 * never seen whole, which is what an LSTM's generalisation buys DeepLog). A session is framed by
 * a begin and an end symbol, so "ended here" is a prediction like any other: a session that stops
 * where no normal session ever stopped is unfinished.
 *
 * Interleaving tolerance: concurrent threads log one session's events in slightly different
 * orders. An event that is unexpected, but would be expected had it come one place earlier (and
 * the event it overtook is expected after it), is taken as a swap of two neighbours — provided
 * the event after them also fits the swapped order.
 */
#ifndef LW_SEQ_MODEL_H
#define LW_SEQ_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_detect.h"

#define LW_SEQ_BEGIN 0xFFFFFFFEu  /* symbol before the first event */
#define LW_SEQ_END   0xFFFFFFFFu  /* symbol after the last event */
#define LW_SEQ_MAX_HISTORY 10
#define LW_SEQ_MAX_CAND 16

struct lw_seq_model;

struct lw_seq_verdict {
    bool expected;
    double score;                      /* 1 - p of the event after its history */
    size_t history_len;                /* history used for the candidates below */
    uint64_t context_count;            /* how often that history was seen */
    size_t n_cand;
    uint32_t cand[LW_SEQ_MAX_CAND];    /* expected events, most frequent first */
    uint64_t cand_count[LW_SEQ_MAX_CAND];
};

struct lw_seq_model *lw_seq_model_create(size_t history, size_t top, size_t max_contexts);
/* A candidate must have followed its history at least @min_count times (default 1). */
void lw_seq_model_set_min_count(struct lw_seq_model *m, uint64_t min_count);
void lw_seq_model_destroy(struct lw_seq_model *m);

/*
 * Learns a session: its @n events, framed by the begin symbol and, when @finished, the end
 * symbol. LW_OK or LW_ENOMEM.
 */
int lw_seq_model_learn(struct lw_seq_model *m, const uint32_t *ev, size_t n, bool finished);

/*
 * Judges event @i of @ev (i == n means the end symbol after ev[0..n-1]). Fills @v. Returns
 * whether it is expected. An event taken as a swap with the one before is confirmed by the
 * next: judge every event in turn.
 */
bool lw_seq_model_check(const struct lw_seq_model *m, const uint32_t *ev, size_t n, size_t i,
                        struct lw_seq_verdict *v);

uint64_t lw_seq_model_sessions(const struct lw_seq_model *m);  /* learned so far */
size_t lw_seq_model_contexts(const struct lw_seq_model *m);
uint64_t lw_seq_model_evicted(const struct lw_seq_model *m);

int lw_seq_model_save(const struct lw_seq_model *m, struct lw_wbuf *b);
/* Replaces @m's content; LW_ECORRUPT leaves it unchanged. */
int lw_seq_model_load(struct lw_seq_model *m, const void *p, size_t n);

#endif
