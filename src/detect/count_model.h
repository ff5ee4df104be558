/*
 * Session count vectors: how many times each template occurs in a finished session, judged two
 * ways against normal history.
 *
 * Invariants (Lou et al., USENIX ATC 2010): linear relations between counts that hold in
 * (nearly) every normal session — "every block that is allocated is received three times":
 * c(received) = 3 c(allocated). Relations of two and three templates with small integer
 * coefficients (|a| <= 3) are searched exhaustively; one is kept when it holds in a share
 * @support of the sessions that contain any of its templates, and in most (80 %) of the sessions
 * that contain each one of them (so a rare template is only in a relation it takes part in).
 * A session that breaks an invariant, or holds a template never seen in a normal session, is
 * anomalous.
 *
 * PCA (Xu et al., SOSP 2009): the normal space is spanned by the principal components that
 * explain 99 % of the variance of the count vectors; the squared prediction error (SPE) of a
 * session, its distance to that space, is compared with the Q-statistic (Jackson and Mudholkar,
 * 1979) at alpha = 0.001. The eigen-decomposition is LAPACK's (dsyev).
 */
#ifndef LW_COUNT_MODEL_H
#define LW_COUNT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_detect.h"

#define LW_COUNT_MAX_DIM 64        /* templates in the count vector; later ones are "other" */
#define LW_COUNT_MAX_TERMS 3
#define LW_COUNT_MAX_INVARIANTS 4096

struct lw_count_model;

struct lw_invariant {
    uint8_t n;                              /* terms */
    uint32_t tid[LW_COUNT_MAX_TERMS];       /* template ids */
    int8_t coef[LW_COUNT_MAX_TERMS];
    uint32_t violations;                    /* training sessions that break it */
    uint32_t support;                       /* training sessions it was judged on */
};

struct lw_count_verdict {
    bool anomalous;                /* unseen template or invariant broken (or PCA, if asked) */
    double score;                  /* 1 - p */
    uint32_t unseen_tid;           /* a template no normal session had, or 0 */
    size_t n_broken;               /* invariants broken */
    struct lw_invariant broken[4]; /* the first few, with this session's sums in @lhs */
    int64_t lhs[4];
    double spe;                    /* PCA: squared prediction error */
    double q;                      /* PCA: threshold; 0 when PCA is not fitted */
    bool pca_anomalous;
};

struct lw_count_model *lw_count_model_create(size_t max_train, double support);
void lw_count_model_destroy(struct lw_count_model *m);

/* Adds a normal session to the training sample (a reservoir of max_train sessions). */
int lw_count_model_add(struct lw_count_model *m, const uint32_t *ev, size_t n);
/* Mines the invariants and fits PCA on the sample. LW_OK, LW_ENOMEM or LW_EINVAL (no data). */
int lw_count_model_fit(struct lw_count_model *m);
bool lw_count_model_fitted(const struct lw_count_model *m);
/*
 * A copy of @m's sample and vocabulary (no fit), for fitting on another thread; NULL on
 * LW_ENOMEM. Columns are only ever appended, so a fit of the copy applies to @m later.
 */
struct lw_count_model *lw_count_model_clone(const struct lw_count_model *m);
/* Saves @m as one to fit when loaded even before its own fit exists (a fit is under way). */
void lw_count_model_fit_on_load(struct lw_count_model *m, bool on);
/* Moves @src's fit (invariants, PCA) into @dst, replacing @dst's. */
void lw_count_model_take_fit(struct lw_count_model *dst, struct lw_count_model *src);
uint64_t lw_count_model_added(const struct lw_count_model *m);   /* sessions added so far */
size_t lw_count_model_n_invariants(const struct lw_count_model *m);
const struct lw_invariant *lw_count_model_invariant(const struct lw_count_model *m, size_t i);

/* Judges a session; @pca_alert makes the PCA verdict count too. */
void lw_count_model_score(const struct lw_count_model *m, const uint32_t *ev, size_t n,
                          bool pca_alert, struct lw_count_verdict *v);

int lw_count_model_save(const struct lw_count_model *m, struct lw_wbuf *b);
int lw_count_model_load(struct lw_count_model *m, const void *p, size_t n);

#endif
