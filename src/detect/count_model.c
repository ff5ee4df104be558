/* Session count vectors: invariants and PCA (count_model.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "detect/count_model.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define CM_MAGIC 0x4C57434Du  /* "LWCM" */
#define CM_VERSION 1u
#define KEY_SUPPORT 0.8       /* share of the sessions holding one term that must obey */
#define MIN_REL 0.01          /* an invariant must concern at least 1 % of the sessions */
#define PCA_VARIANCE 0.99
#define PCA_Z 3.090232306167813 /* standard normal quantile at 1 - 0.001 */
#define MAX_COUNT 65535

struct lw_count_model {
    size_t max_train;
    double support;
    /* Vocabulary: template id per column. */
    uint32_t col_tid[LW_COUNT_MAX_DIM];
    size_t dim;
    bool vocab_full;
    /* Training sample: max_train rows of dim counts (LW_COUNT_MAX_DIM wide). */
    uint16_t *rows;
    size_t n_rows;
    uint64_t added;
    uint64_t rng;
    bool fit_on_load;          /* saved as fitted: a fit of it is under way elsewhere */
    /* Fitted. */
    bool fitted;
    uint64_t fit_rows;
    struct lw_invariant *inv;
    size_t n_inv;
    size_t pca_dim;            /* columns at fit time */
    size_t pca_k;
    double *pca_mean;          /* pca_dim */
    double *pca_basis;         /* pca_dim x pca_k, column-major by component */
    double pca_q;
};

static int col_of(const struct lw_count_model *m, uint32_t tid)
{
    size_t i;

    for (i = 0; i < m->dim; i++) {
        if (m->col_tid[i] == tid) {
            return (int)i;
        }
    }
    return -1;
}

struct lw_count_model *lw_count_model_create(size_t max_train, double support)
{
    struct lw_count_model *m = lw_calloc(1, sizeof(*m));

    if (m == NULL) {
        return NULL;
    }
    m->max_train = max_train < 16 ? 16 : max_train;
    m->support = support > 0 && support <= 1 ? support : 0.998;
    m->rng = 0x9E3779B97F4A7C15ull;
    m->rows = lw_calloc(m->max_train, LW_COUNT_MAX_DIM * sizeof(uint16_t));
    if (m->rows == NULL) {
        lw_free(m);
        return NULL;
    }
    return m;
}

static void free_fit(struct lw_count_model *m)
{
    lw_free(m->inv);
    lw_free(m->pca_mean);
    lw_free(m->pca_basis);
    m->inv = NULL;
    m->pca_mean = NULL;
    m->pca_basis = NULL;
    m->n_inv = 0;
    m->pca_k = 0;
    m->pca_dim = 0;
    m->fitted = false;
}

void lw_count_model_destroy(struct lw_count_model *m)
{
    if (m == NULL) {
        return;
    }
    free_fit(m);
    lw_free(m->rows);
    lw_free(m);
}

static uint64_t next_rand(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int lw_count_model_add(struct lw_count_model *m, const uint32_t *ev, size_t n)
{
    uint16_t row[LW_COUNT_MAX_DIM];
    size_t i, slot;

    /* The reservoir decides first: only a row that is kept may take vocabulary columns. */
    m->added++;
    if (m->n_rows < m->max_train) {
        slot = m->n_rows;
    }
    else {
        slot = next_rand(&m->rng) % m->added; /* reservoir sampling */
        if (slot >= m->max_train) {
            return LW_OK;
        }
    }
    memset(row, 0, sizeof(row));
    for (i = 0; i < n; i++) {
        int c = col_of(m, ev[i]);

        if (c < 0) {
            if (m->dim >= LW_COUNT_MAX_DIM) {
                m->vocab_full = true;
                continue;
            }
            c = (int)m->dim;
            m->col_tid[m->dim++] = ev[i];
        }
        if (row[c] < MAX_COUNT) {
            row[c]++;
        }
    }
    if (slot == m->n_rows) {
        m->n_rows++;
    }
    memcpy(m->rows + slot * LW_COUNT_MAX_DIM, row, sizeof(row));
    return LW_OK;
}

/* ---- invariant mining ---- */

struct proj {
    uint16_t c[LW_COUNT_MAX_TERMS];
    uint32_t n;
};

static int gcd(int a, int b)
{
    a = abs(a);
    b = abs(b);
    while (b != 0) {
        int t = a % b;

        a = b;
        b = t;
    }
    return a;
}

/* Distinct projections of the rows onto @cols (rows with all zero left out); returns count. */
static size_t project(const struct lw_count_model *m, const size_t *cols, size_t k,
                      struct proj *out, size_t cap)
{
    size_t n = 0, r, i, j;

    for (r = 0; r < m->n_rows; r++) {
        const uint16_t *row = m->rows + r * LW_COUNT_MAX_DIM;
        struct proj p;
        bool any = false;

        memset(&p, 0, sizeof(p));
        for (i = 0; i < k; i++) {
            p.c[i] = row[cols[i]];
            any |= p.c[i] != 0;
        }
        if (!any) {
            continue;
        }
        for (j = 0; j < n; j++) {
            if (memcmp(out[j].c, p.c, sizeof(p.c)) == 0) {
                out[j].n++;
                break;
            }
        }
        if (j == n) {
            if (n == cap) {
                return SIZE_MAX; /* too varied to be an invariant's support */
            }
            p.n = 1;
            out[n++] = p;
        }
    }
    return n;
}

static void try_coefs(struct lw_count_model *m, const size_t *cols, size_t k,
                      const struct proj *pr, size_t np, uint64_t rel, const int *coef)
{
    uint64_t hold = 0, key_n[LW_COUNT_MAX_TERMS] = {0}, key_hold[LW_COUNT_MAX_TERMS] = {0};
    size_t i, t;
    struct lw_invariant *iv;

    for (i = 0; i < np; i++) {
        int64_t s = 0;

        for (t = 0; t < k; t++) {
            s += (int64_t)coef[t] * pr[i].c[t];
        }
        if (s == 0) {
            hold += pr[i].n;
        }
        for (t = 0; t < k; t++) {
            if (pr[i].c[t] != 0) {
                key_n[t] += pr[i].n;
                key_hold[t] += s == 0 ? pr[i].n : 0;
            }
        }
    }
    if ((double)hold < m->support * (double)rel) {
        return;
    }
    for (t = 0; t < k; t++) {
        if ((double)key_hold[t] < KEY_SUPPORT * (double)key_n[t]) {
            return;
        }
    }
    if (m->n_inv >= LW_COUNT_MAX_INVARIANTS) {
        return;
    }
    iv = &m->inv[m->n_inv++];
    memset(iv, 0, sizeof(*iv));
    iv->n = (uint8_t)k;
    for (t = 0; t < k; t++) {
        iv->tid[t] = m->col_tid[cols[t]];
        iv->coef[t] = (int8_t)coef[t];
    }
    iv->violations = (uint32_t)(rel - hold);
    iv->support = (uint32_t)rel;
}

static int mine(struct lw_count_model *m)
{
    /* Projections onto two or three templates take few distinct values in normal data. */
    const size_t cap = 4096;
    struct proj *pr = lw_malloc(cap * sizeof(*pr));
    size_t a, b, c;

    if (pr == NULL) {
        return LW_ENOMEM;
    }
    m->inv = lw_calloc(LW_COUNT_MAX_INVARIANTS, sizeof(*m->inv));
    if (m->inv == NULL) {
        lw_free(pr);
        return LW_ENOMEM;
    }
    for (a = 0; a < m->dim; a++) {
        for (b = a + 1; b < m->dim; b++) {
            size_t cols[2] = {a, b};
            size_t np = project(m, cols, 2, pr, cap);
            uint64_t rel = 0;
            size_t i;
            int x, y;

            if (np == SIZE_MAX) {
                continue;
            }
            for (i = 0; i < np; i++) {
                rel += pr[i].n;
            }
            if ((double)rel < MIN_REL * (double)m->n_rows || rel == 0) {
                continue;
            }
            for (x = 1; x <= 3; x++) {
                for (y = -3; y <= 3; y++) {
                    int coef[2] = {x, y};

                    if (y != 0 && gcd(x, y) == 1) {
                        try_coefs(m, cols, 2, pr, np, rel, coef);
                    }
                }
            }
            for (c = b + 1; c < m->dim; c++) {
                size_t cols3[3] = {a, b, c};
                size_t np3 = project(m, cols3, 3, pr, cap);
                uint64_t rel3 = 0;
                int z;

                if (np3 == SIZE_MAX) {
                    continue;
                }
                for (i = 0; i < np3; i++) {
                    rel3 += pr[i].n;
                }
                if ((double)rel3 < MIN_REL * (double)m->n_rows || rel3 == 0) {
                    continue;
                }
                for (x = 1; x <= 3; x++) {
                    for (y = -3; y <= 3; y++) {
                        for (z = -3; z <= 3; z++) {
                            int coef[3] = {x, y, z};

                            if (y != 0 && z != 0 && gcd(gcd(x, y), z) == 1) {
                                try_coefs(m, cols3, 3, pr, np3, rel3, coef);
                            }
                        }
                    }
                }
            }
        }
    }
    lw_free(pr);
    return LW_OK;
}

/* ---- PCA ---- */

static int fit_pca(struct lw_count_model *m)
{
    size_t d = m->dim, n = m->n_rows, i, j, r, k;
    double *cov, *w, total = 0, acc = 0, phi1 = 0, phi2 = 0, phi3 = 0, h0;

    if (d < 2 || n < 2) {
        return LW_OK;
    }
    m->pca_mean = lw_calloc(d, sizeof(double));
    cov = lw_calloc(d * d, sizeof(double));
    w = lw_calloc(d, sizeof(double));
    if (m->pca_mean == NULL || cov == NULL || w == NULL) {
        lw_free(cov);
        lw_free(w);
        return LW_ENOMEM;
    }
    for (r = 0; r < n; r++) {
        for (i = 0; i < d; i++) {
            m->pca_mean[i] += m->rows[r * LW_COUNT_MAX_DIM + i];
        }
    }
    for (i = 0; i < d; i++) {
        m->pca_mean[i] /= (double)n;
    }
    for (r = 0; r < n; r++) {
        const uint16_t *row = m->rows + r * LW_COUNT_MAX_DIM;

        for (i = 0; i < d; i++) {
            double yi = row[i] - m->pca_mean[i];

            if (yi == 0) {
                continue;
            }
            for (j = i; j < d; j++) {
                cov[i * d + j] += yi * (row[j] - m->pca_mean[j]);
            }
        }
    }
    for (i = 0; i < d; i++) {
        for (j = i; j < d; j++) {
            cov[i * d + j] /= (double)n;
            cov[j * d + i] = cov[i * d + j];
        }
    }
    /* Eigenvalues ascending in w, eigenvectors in the rows of cov (row-major: column j). */
    if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)d, cov, (lapack_int)d, w) != 0) {
        lw_free(cov);
        lw_free(w);
        return LW_OK; /* no PCA: the invariants still judge */
    }
    for (i = 0; i < d; i++) {
        total += w[i] > 0 ? w[i] : 0;
    }
    for (k = 0; k < d && total > 0; k++) {
        acc += w[d - 1 - k] > 0 ? w[d - 1 - k] : 0;
        if (acc / total >= PCA_VARIANCE) {
            k++;
            break;
        }
    }
    m->pca_k = k;
    m->pca_basis = lw_calloc(d * (k ? k : 1), sizeof(double));
    if (m->pca_basis == NULL) {
        lw_free(cov);
        lw_free(w);
        return LW_ENOMEM;
    }
    for (j = 0; j < k; j++) {
        for (i = 0; i < d; i++) {
            m->pca_basis[j * d + i] = cov[i * d + (d - 1 - j)];
        }
    }
    for (j = k; j < d; j++) {
        double l = w[d - 1 - j];

        if (l > 1e-12) {
            phi1 += l;
            phi2 += l * l;
            phi3 += l * l * l;
        }
    }
    if (phi1 > 0 && phi2 > 0) {
        h0 = 1.0 - 2.0 * phi1 * phi3 / (3.0 * phi2 * phi2);
        if (h0 <= 0.01) {
            h0 = 0.01;
        }
        m->pca_q = phi1 * pow(PCA_Z * sqrt(2.0 * phi2 * h0 * h0) / phi1 + 1.0 +
                                  phi2 * h0 * (h0 - 1.0) / (phi1 * phi1),
                              1.0 / h0);
    }
    else {
        m->pca_q = 1e-9; /* the normal space is everything seen: any residual is new */
    }
    m->pca_dim = d;
    lw_free(cov);
    lw_free(w);
    return LW_OK;
}

int lw_count_model_fit(struct lw_count_model *m)
{
    int rc;

    free_fit(m);
    if (m->n_rows == 0) {
        return LW_EINVAL;
    }
    rc = mine(m);
    if (rc == LW_OK) {
        rc = fit_pca(m);
    }
    if (rc < 0) {
        free_fit(m);
        return rc;
    }
    m->fit_rows = m->n_rows;
    m->fitted = true;
    return LW_OK;
}

struct lw_count_model *lw_count_model_clone(const struct lw_count_model *m)
{
    struct lw_count_model *c = lw_calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->max_train = m->max_train;
    c->support = m->support;
    memcpy(c->col_tid, m->col_tid, sizeof(c->col_tid));
    c->dim = m->dim;
    c->vocab_full = m->vocab_full;
    c->n_rows = m->n_rows;
    c->added = m->added;
    c->rng = m->rng;
    c->rows = lw_malloc((m->n_rows ? m->n_rows : 1) * LW_COUNT_MAX_DIM * sizeof(uint16_t));
    if (c->rows == NULL) {
        lw_free(c);
        return NULL;
    }
    memcpy(c->rows, m->rows, m->n_rows * LW_COUNT_MAX_DIM * sizeof(uint16_t));
    return c;
}

void lw_count_model_take_fit(struct lw_count_model *dst, struct lw_count_model *src)
{
    free_fit(dst);
    dst->inv = src->inv;
    dst->n_inv = src->n_inv;
    dst->pca_dim = src->pca_dim;
    dst->pca_k = src->pca_k;
    dst->pca_mean = src->pca_mean;
    dst->pca_basis = src->pca_basis;
    dst->pca_q = src->pca_q;
    dst->fit_rows = src->fit_rows;
    dst->fitted = src->fitted;
    src->inv = NULL;
    src->pca_mean = NULL;
    src->pca_basis = NULL;
    src->n_inv = 0;
    src->pca_dim = 0;
    src->pca_k = 0;
    src->fitted = false;
}

void lw_count_model_fit_on_load(struct lw_count_model *m, bool on)
{
    m->fit_on_load = on;
}

bool lw_count_model_fitted(const struct lw_count_model *m)
{
    return m->fitted;
}

uint64_t lw_count_model_added(const struct lw_count_model *m)
{
    return m->added;
}

size_t lw_count_model_n_invariants(const struct lw_count_model *m)
{
    return m->n_inv;
}

const struct lw_invariant *lw_count_model_invariant(const struct lw_count_model *m, size_t i)
{
    return i < m->n_inv ? &m->inv[i] : NULL;
}

static double spe_of(const struct lw_count_model *m, const double *x)
{
    double y[LW_COUNT_MAX_DIM], spe = 0;
    size_t i, j, d = m->pca_dim;

    for (i = 0; i < d; i++) {
        y[i] = x[i] - m->pca_mean[i];
    }
    for (j = 0; j < m->pca_k; j++) {
        const double *u = m->pca_basis + j * d;
        double dot = 0;

        for (i = 0; i < d; i++) {
            dot += u[i] * (x[i] - m->pca_mean[i]);
        }
        for (i = 0; i < d; i++) {
            y[i] -= dot * u[i];
        }
    }
    for (i = 0; i < d; i++) {
        spe += y[i] * y[i];
    }
    return spe;
}

void lw_count_model_score(const struct lw_count_model *m, const uint32_t *ev, size_t n,
                          bool pca_alert, struct lw_count_verdict *v)
{
    double x[LW_COUNT_MAX_DIM];
    uint32_t uniq[64];
    uint32_t ucnt[64];
    size_t nu = 0, i, j;
    double p_min = 1.0;

    memset(v, 0, sizeof(*v));
    memset(x, 0, sizeof(x));
    if (!m->fitted) {
        return;
    }
    for (i = 0; i < n; i++) {
        int c = col_of(m, ev[i]);

        if (c < 0 || (size_t)c >= m->pca_dim) {
            if (c < 0 && !m->vocab_full && v->unseen_tid == 0) {
                v->unseen_tid = ev[i];
            }
        }
        if (c >= 0 && (size_t)c < LW_COUNT_MAX_DIM) {
            x[c] += 1;
        }
        for (j = 0; j < nu && uniq[j] != ev[i]; j++) {
        }
        if (j == nu && nu < 64) {
            uniq[nu] = ev[i];
            ucnt[nu++] = 0;
        }
        if (j < nu) {
            ucnt[j]++;
        }
    }
    if (v->unseen_tid != 0) {
        p_min = 1.0 / ((double)m->fit_rows + 2.0);
    }
    for (i = 0; i < m->n_inv; i++) {
        const struct lw_invariant *iv = &m->inv[i];
        int64_t s = 0;
        size_t t;

        for (t = 0; t < iv->n; t++) {
            int c = col_of(m, iv->tid[t]);

            s += (int64_t)iv->coef[t] * (c >= 0 ? (int64_t)x[c] : 0);
        }
        if (s != 0) {
            double p = ((double)iv->violations + 1.0) / ((double)iv->support + 2.0);

            if (v->n_broken < 4) {
                v->broken[v->n_broken] = *iv;
                v->lhs[v->n_broken] = s;
            }
            v->n_broken++;
            if (p < p_min) {
                p_min = p;
            }
        }
    }
    if (m->pca_dim > 0) {
        v->spe = spe_of(m, x);
        v->q = m->pca_q;
        v->pca_anomalous = v->spe > v->q;
        if (pca_alert && v->pca_anomalous && 0.001 < p_min) {
            p_min = 0.001;
        }
    }
    v->anomalous = v->unseen_tid != 0 || v->n_broken > 0 || (pca_alert && v->pca_anomalous);
    v->score = v->anomalous ? 1.0 - p_min : 0.0;
}

/* ---- save / load ---- */

int lw_count_model_save(const struct lw_count_model *m, struct lw_wbuf *b)
{
    size_t i, t;

    lw_wbuf_u32(b, CM_MAGIC);
    lw_wbuf_u32(b, CM_VERSION);
    lw_wbuf_u32(b, (uint32_t)m->dim);
    lw_wbuf_u32(b, m->vocab_full ? 1 : 0);
    for (i = 0; i < m->dim; i++) {
        lw_wbuf_u32(b, m->col_tid[i]);
    }
    lw_wbuf_u64(b, m->added);
    lw_wbuf_u64(b, m->n_rows);
    lw_wbuf_put(b, m->rows, m->n_rows * LW_COUNT_MAX_DIM * sizeof(uint16_t));
    /* The fitted model is refitted from the sample at load: only whether it was fitted. */
    lw_wbuf_u32(b, m->fitted || m->fit_on_load ? 1 : 0);
    (void)t;
    return b->err;
}

int lw_count_model_load(struct lw_count_model *m, const void *p, size_t n)
{
    struct lw_rbuf r = {.p = p, .len = n};
    uint32_t dim, full, fitted, tids[LW_COUNT_MAX_DIM];
    uint64_t added, rows;
    size_t i, bytes;
    uint16_t *nr;
    struct lw_count_model t;
    int rc;

    if (lw_rbuf_u32(&r) != CM_MAGIC || lw_rbuf_u32(&r) != CM_VERSION) {
        return LW_ECORRUPT;
    }
    dim = lw_rbuf_u32(&r);
    full = lw_rbuf_u32(&r);
    if (r.err != 0 || dim > LW_COUNT_MAX_DIM || full > 1) {
        return LW_ECORRUPT;
    }
    for (i = 0; i < dim; i++) {
        tids[i] = lw_rbuf_u32(&r);
    }
    added = lw_rbuf_u64(&r);
    rows = lw_rbuf_u64(&r);
    if (r.err != 0 || rows > added || rows > (r.len - r.off) / (LW_COUNT_MAX_DIM * 2)) {
        return LW_ECORRUPT;
    }
    bytes = (size_t)rows * LW_COUNT_MAX_DIM * sizeof(uint16_t);
    nr = lw_calloc(m->max_train, LW_COUNT_MAX_DIM * sizeof(uint16_t));
    if (nr == NULL) {
        return LW_ENOMEM;
    }
    /* A sample saved with a larger max_train keeps its first max_train rows. */
    memcpy(nr, r.p + r.off,
           (rows > m->max_train ? m->max_train : (size_t)rows) * LW_COUNT_MAX_DIM *
               sizeof(uint16_t));
    r.off += bytes;
    fitted = lw_rbuf_u32(&r);
    if (r.err != 0 || fitted > 1 || r.off != r.len) {
        lw_free(nr);
        return LW_ECORRUPT;
    }
    t = *m;
    t.rows = nr;
    t.n_rows = rows > m->max_train ? m->max_train : (size_t)rows;
    t.added = added;
    t.dim = dim;
    t.vocab_full = full != 0;
    memcpy(t.col_tid, tids, sizeof(tids));
    t.inv = NULL;
    t.pca_mean = NULL;
    t.pca_basis = NULL;
    t.fitted = false;
    if (fitted && rows > 0) {
        rc = lw_count_model_fit(&t);
        if (rc < 0) {
            lw_free(nr);
            free_fit(&t);
            return rc;
        }
    }
    free_fit(m);
    lw_free(m->rows);
    *m = t;
    return LW_OK;
}
