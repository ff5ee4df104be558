/*
 * `logwarden eval detect`: the session detectors' accuracy on labelled sessions.
 *
 * Input files hold one session per line: its events as integers (template ids), space
 * separated — the DeepLog split of HDFS (../shared/data/hdfs-sessions). The models are trained
 * on normal sessions only. Two modes:
 *
 *   --dataset-dir DIR   k-fold cross-validation over DIR/hdfs_train (normal): each fold trains
 *                       on the other folds and scores its own normal sessions (false positives)
 *                       and every session of DIR/hdfs_test_abnormal (true positives).
 *   --train A --normal B --abnormal C
 *                       trains on A once and scores B and C, for a separate test set.
 *
 * Precision depends on the share of abnormal sessions, so it is also projected to the ratio of
 * the DeepLog test set (553,366 normal : 16,838 abnormal) from the measured recall and
 * false-positive rate.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "detect/count_model.h"
#include "detect/seq_model.h"
#include "eval/eval_parse.h"
#include "lw/lw_header.h"
#include "lw/lw_analyze.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define PROJ_NORMAL 553366.0
#define PROJ_ABNORMAL 16838.0
#define MAX_SESSION_EVENTS 100000
#define MAX_FILE_BYTES (1024LL * 1024 * 1024)

struct session {
    uint32_t *ev;
    size_t n;
};

struct sessions {
    struct session *v;
    size_t n;
    size_t cap;
    uint64_t skipped;      /* lines with a bad token */
    uint64_t truncated;    /* sessions cut at MAX_SESSION_EVENTS */
};

enum { D_SEQ, D_INV, D_PCA, D_ALL, N_D };
static const char *const d_names[N_D] = {"sequence", "invariants", "pca", "combined"};

struct tally {
    uint64_t fp, tn, tp, fn;
};

struct eopts {
    const char *bgl;
    const char *format;
    double train_fraction;
    long long warmup_lines;
    const char *dataset_dir;
    const char *train;
    const char *normal;
    const char *abnormal;
    size_t folds;
    uint64_t seed;
    bool json;
    struct lw_detect_conf dc;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: logwarden eval detect --dataset-dir DIR [options]\n"
            "       logwarden eval detect --train FILE --normal FILE --abnormal FILE [options]\n"
            "       logwarden eval detect --bgl FILE [--format FMT] [options]\n"
            "\n"
            "Scores the session detectors (sequence, session counts: invariants and PCA) on\n"
            "labelled sessions: one session per line, its events as integers separated by spaces\n"
            "(the DeepLog split of HDFS). Models are trained on normal sessions only.\n"
            "\n"
            "  --dataset-dir DIR   cross-validation over DIR/hdfs_train (normal), abnormal sessions\n"
            "                      from DIR/hdfs_test_abnormal\n"
            "  --train FILE        normal sessions to train on (with --normal and --abnormal)\n"
            "  --normal FILE       normal sessions to score\n"
            "  --abnormal FILE     abnormal sessions to score\n"
            "  --bgl FILE          line-level precision and recall of the daemon's detectors on a\n"
            "                      labelled raw log whose first column is '-' for a normal line\n"
            "                      (BGL); the format defaults to BGL's\n"
            "  --format FMT        header layout for --bgl\n"
            "  --train-fraction F  --bgl: learn on the first F of the lines, score the rest\n"
            "                      (default 0.5; 0 = learn online from the first line)\n"
            "  --warmup-lines N    --bgl: new-template warm-up in lines (default: the detect.\n"
            "                      new_template default; the event-time warm-up is left out)\n"
            "  --folds N           cross-validation folds (default 5)\n"
            "  --seed N            shuffle seed for the folds (default 1)\n"
            "  --history N         sequence: events of history (default 3)\n"
            "  --top N             sequence: candidates (default 9)\n"
            "  --support X         invariants: share of sessions they must hold in (default 0.998)\n"
            "  --threshold X       report scores >= X (default 0.999, as detect.threshold)\n"
            "  --pca-alert         let PCA's verdict count in the combined figure\n"
            "  --json              one JSON object on stdout\n"
            "  -h, --help          this help\n"
            "\n"
            "Precision is also projected to the DeepLog test ratio (553,366 normal : 16,838\n"
            "abnormal) from the measured recall and false-positive rate: precision_projected,\n"
            "f1_projected.\n");
}

static void sessions_free(struct sessions *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        lw_free(s->v[i].ev);
    }
    lw_free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Reads a sessions file. Returns LW_OK, or an error with a message on stderr. */
static int sessions_read(const char *path, struct sessions *out)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    uint32_t *buf = NULL;
    size_t bcap = 0;
    long long total = 0;

    memset(out, 0, sizeof(*out));
    if (f == NULL) {
        fprintf(stderr, "logwarden eval detect: cannot open '%s': %s\n", path, strerror(errno));
        return LW_EIO;
    }
    while ((len = getline(&line, &lcap, f)) >= 0) {
        char *p = line, *end;
        size_t n = 0;
        bool bad = false;

        total += len;
        if (total > MAX_FILE_BYTES) {
            fprintf(stderr, "logwarden eval detect: '%s' is over 1 GiB\n", path);
            goto fail;
        }
        for (;;) {
            unsigned long v;

            while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
                p++;
            }
            if (*p == '\0') {
                break;
            }
            errno = 0;
            v = strtoul(p, &end, 10);
            if (end == p || errno != 0 || v >= 0xFFFFFFF0ul ||
                (*end != '\0' && *end != ' ' && *end != '\t' && *end != '\r' && *end != '\n')) {
                bad = true;
                break;
            }
            p = end;
            if (n >= MAX_SESSION_EVENTS) {
                out->truncated++;
                break;
            }
            if (n == bcap) {
                size_t nc = bcap ? bcap * 2 : 64;
                uint32_t *nb = lw_realloc(buf, nc * sizeof(*nb));

                if (nb == NULL) {
                    goto oom;
                }
                buf = nb;
                bcap = nc;
            }
            buf[n++] = (uint32_t)v + 1; /* template ids start at 1 */
        }
        if (bad) {
            out->skipped++;
            continue;
        }
        if (n == 0) {
            continue;
        }
        if (out->n == out->cap) {
            size_t nc = out->cap ? out->cap * 2 : 1024;
            struct session *nv = lw_realloc(out->v, nc * sizeof(*nv));

            if (nv == NULL) {
                goto oom;
            }
            out->v = nv;
            out->cap = nc;
        }
        out->v[out->n].ev = lw_malloc(n * sizeof(uint32_t));
        if (out->v[out->n].ev == NULL) {
            goto oom;
        }
        memcpy(out->v[out->n].ev, buf, n * sizeof(uint32_t));
        out->v[out->n].n = n;
        out->n++;
    }
    if (ferror(f)) {
        fprintf(stderr, "logwarden eval detect: reading '%s': %s\n", path, strerror(errno));
        goto fail;
    }
    free(line);
    lw_free(buf);
    fclose(f);
    if (out->skipped > 0) {
        fprintf(stderr, "logwarden eval detect: '%s': %llu lines skipped (not integers)\n", path,
                (unsigned long long)out->skipped);
    }
    return LW_OK;
oom:
    fprintf(stderr, "logwarden eval detect: out of memory reading '%s'\n", path);
fail:
    free(line);
    lw_free(buf);
    fclose(f);
    sessions_free(out);
    return LW_EIO;
}

struct models {
    struct lw_seq_model *seq;
    struct lw_count_model *cnt;
};

static int train(struct models *m, const struct eopts *o, const struct session *const *s,
                 size_t n)
{
    size_t i;

    m->seq = lw_seq_model_create(o->dc.sequence.history, o->dc.sequence.top,
                                 o->dc.sequence.max_contexts);
    m->cnt = lw_count_model_create(n > o->dc.session_counts.max_train ? n
                                                                       : o->dc.session_counts.max_train,
                                   o->dc.session_counts.support);
    if (m->seq == NULL || m->cnt == NULL) {
        return LW_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        int rc = lw_seq_model_learn(m->seq, s[i]->ev, s[i]->n, true);

        if (rc == LW_OK) {
            rc = lw_count_model_add(m->cnt, s[i]->ev, s[i]->n);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return lw_count_model_fit(m->cnt);
}

static void models_free(struct models *m)
{
    lw_seq_model_destroy(m->seq);
    lw_count_model_destroy(m->cnt);
    memset(m, 0, sizeof(*m));
}

/* Verdicts of each detector for one session. */
static void judge(const struct models *m, const struct eopts *o, const struct session *s,
                  uint32_t *scratch, bool out[N_D])
{
    struct lw_seq_verdict sv;
    struct lw_count_verdict cv;
    size_t i;

    out[D_SEQ] = false;
    memcpy(scratch, s->ev, s->n * sizeof(uint32_t));
    for (i = 0; i <= s->n; i++) {
        if (!lw_seq_model_check(m->seq, scratch, s->n, i, &sv) && sv.score >= o->dc.threshold) {
            out[D_SEQ] = true;
            break;
        }
    }
    lw_count_model_score(m->cnt, s->ev, s->n, false, &cv);
    out[D_INV] = cv.anomalous && cv.score >= o->dc.threshold;
    out[D_PCA] = cv.pca_anomalous;
    out[D_ALL] = out[D_SEQ] || out[D_INV] || (o->dc.session_counts.pca_alert && out[D_PCA]);
}

static void score_set(const struct models *m, const struct eopts *o, const struct session *s,
                      size_t n, bool abnormal, struct tally t[N_D])
{
    size_t i, d;
    uint32_t *scratch = lw_malloc(MAX_SESSION_EVENTS * sizeof(uint32_t));

    if (scratch == NULL) {
        fprintf(stderr, "logwarden eval detect: out of memory\n");
        exit(1);
    }
    for (i = 0; i < n; i++) {
        bool v[N_D];

        judge(m, o, &s[i], scratch, v);
        for (d = 0; d < N_D; d++) {
            if (abnormal) {
                t[d].tp += v[d];
                t[d].fn += !v[d];
            }
            else {
                t[d].fp += v[d];
                t[d].tn += !v[d];
            }
        }
    }
    lw_free(scratch);
}

struct figures {
    double precision, recall, f1, fpr, precision_projected, f1_projected;
};

static double f1_of(double p, double r)
{
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

static struct figures figures_of(const struct tally *t)
{
    struct figures f;
    double pos = (double)(t->tp + t->fn), neg = (double)(t->fp + t->tn);

    f.recall = pos > 0 ? (double)t->tp / pos : 0;
    f.fpr = neg > 0 ? (double)t->fp / neg : 0;
    f.precision = t->tp + t->fp > 0 ? (double)t->tp / (double)(t->tp + t->fp) : 0;
    f.f1 = f1_of(f.precision, f.recall);
    f.precision_projected = f.recall * PROJ_ABNORMAL + f.fpr * PROJ_NORMAL > 0
                                ? f.recall * PROJ_ABNORMAL /
                                      (f.recall * PROJ_ABNORMAL + f.fpr * PROJ_NORMAL)
                                : 0;
    f.f1_projected = f1_of(f.precision_projected, f.recall);
    return f;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int report(const struct eopts *o, const struct tally t[N_D], const char *mode,
                  size_t n_train, size_t n_normal, size_t n_abnormal)
{
    struct figures f[N_D];
    size_t d;

    for (d = 0; d < N_D; d++) {
        f[d] = figures_of(&t[d]);
    }
    if (o->json) {
        json_t *root = json_pack("{s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I,"
                                 " s:I, s:I}",
                                 "mode", mode, "train_sessions", (json_int_t)n_train,
                                 "normal_sessions", (json_int_t)n_normal, "abnormal_sessions",
                                 (json_int_t)n_abnormal, "precision", f[D_ALL].precision,
                                 "recall", f[D_ALL].recall, "f1", f[D_ALL].f1, "fpr",
                                 f[D_ALL].fpr, "precision_projected",
                                 f[D_ALL].precision_projected, "f1_projected",
                                 f[D_ALL].f1_projected, "tp", (json_int_t)t[D_ALL].tp, "fp",
                                 (json_int_t)t[D_ALL].fp, "fn", (json_int_t)t[D_ALL].fn, "tn",
                                 (json_int_t)t[D_ALL].tn);
        json_t *det = json_object();
        char *text;

        if (root == NULL || det == NULL) {
            json_decref(root);
            json_decref(det);
            return 1;
        }
        for (d = 0; d < N_D; d++) {
            json_object_set_new(
                det, d_names[d],
                json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I}", "precision",
                          f[d].precision, "recall", f[d].recall, "f1", f[d].f1, "fpr", f[d].fpr,
                          "precision_projected", f[d].precision_projected, "f1_projected",
                          f[d].f1_projected, "fp", (json_int_t)t[d].fp, "tp",
                          (json_int_t)t[d].tp));
        }
        json_object_set_new(root, "detectors", det);
        text = json_dumps(root, JSON_INDENT(2));
        json_decref(root);
        if (text == NULL) {
            return 1;
        }
        printf("%s\n", text);
        free(text);
        return 0;
    }
    printf("%s: %zu training, %zu normal and %zu abnormal sessions scored\n", mode, n_train,
           n_normal, n_abnormal);
    printf("%-12s %9s %7s %7s %9s %9s %9s %6s %6s\n", "detector", "precision", "recall", "f1",
           "fpr", "prec@1:33", "f1@1:33", "fp", "tp");
    for (d = 0; d < N_D; d++) {
        printf("%-12s %9.4f %7.4f %7.4f %9.5f %9.4f %9.4f %6llu %6llu\n", d_names[d],
               f[d].precision, f[d].recall, f[d].f1, f[d].fpr, f[d].precision_projected,
               f[d].f1_projected, (unsigned long long)t[d].fp, (unsigned long long)t[d].tp);
    }
    printf("combined = sequence or invariants%s; @1:33 = projected to 553,366 normal : 16,838 "
           "abnormal\n",
           o->dc.session_counts.pca_alert ? " or pca" : "");
    return 0;
}

static int run_cv(const struct eopts *o)
{
    char pn[4096], pa[4096];
    struct sessions norm, ab;
    struct tally t[N_D];
    const struct session **tr = NULL;
    struct session *te = NULL;
    size_t *idx = NULL;
    size_t i, f;
    uint64_t rng = o->seed;
    int rc = 1;

    snprintf(pn, sizeof(pn), "%s/hdfs_train", o->dataset_dir);
    snprintf(pa, sizeof(pa), "%s/hdfs_test_abnormal", o->dataset_dir);
    if (sessions_read(pn, &norm) < 0) {
        return 1;
    }
    if (sessions_read(pa, &ab) < 0) {
        sessions_free(&norm);
        return 1;
    }
    if (norm.n < o->folds) {
        fprintf(stderr, "logwarden eval detect: %zu normal sessions, fewer than %zu folds\n",
                norm.n, o->folds);
        goto out;
    }
    memset(t, 0, sizeof(t));
    idx = lw_malloc(norm.n * sizeof(*idx));
    tr = lw_malloc(norm.n * sizeof(*tr));
    te = lw_malloc(norm.n * sizeof(*te));
    if (idx == NULL || tr == NULL || te == NULL) {
        fprintf(stderr, "logwarden eval detect: out of memory\n");
        goto out;
    }
    for (i = 0; i < norm.n; i++) {
        idx[i] = i;
    }
    for (i = norm.n - 1; i > 0; i--) { /* Fisher-Yates */
        size_t j = (size_t)(splitmix(&rng) % (i + 1));
        size_t x = idx[i];

        idx[i] = idx[j];
        idx[j] = x;
    }
    for (f = 0; f < o->folds; f++) {
        struct models m = {0};
        size_t ntr = 0, nte = 0;

        for (i = 0; i < norm.n; i++) {
            if (i % o->folds == f) {
                te[nte++] = norm.v[idx[i]];
            }
            else {
                tr[ntr++] = &norm.v[idx[i]];
            }
        }
        if (train(&m, o, tr, ntr) < 0) {
            fprintf(stderr, "logwarden eval detect: out of memory while training\n");
            models_free(&m);
            goto out;
        }
        score_set(&m, o, te, nte, false, t);
        score_set(&m, o, ab.v, ab.n, true, t);
        if (!o->json && isatty(fileno(stderr))) {
            fprintf(stderr, "\rfold %zu/%zu done", f + 1, o->folds);
        }
        models_free(&m);
    }
    if (!o->json && isatty(fileno(stderr))) {
        fprintf(stderr, "\n");
    }
    {
        char mode[64];

        snprintf(mode, sizeof(mode), "%zu-fold cross-validation", o->folds);
        rc = report(o, t, mode, norm.n - norm.n / o->folds, norm.n, ab.n);
    }
out:
    lw_free(idx);
    lw_free(tr);
    lw_free(te);
    sessions_free(&norm);
    sessions_free(&ab);
    return rc;
}

static int run_split(const struct eopts *o)
{
    struct sessions tr_s, norm, ab;
    struct tally t[N_D];
    const struct session **tr = NULL;
    struct models m = {0};
    size_t i;
    int rc = 1;

    memset(&norm, 0, sizeof(norm));
    memset(&ab, 0, sizeof(ab));
    if (sessions_read(o->train, &tr_s) < 0) {
        return 1;
    }
    if (sessions_read(o->normal, &norm) < 0 || sessions_read(o->abnormal, &ab) < 0) {
        goto out;
    }
    tr = lw_malloc((tr_s.n ? tr_s.n : 1) * sizeof(*tr));
    if (tr == NULL) {
        goto out;
    }
    for (i = 0; i < tr_s.n; i++) {
        tr[i] = &tr_s.v[i];
    }
    if (tr_s.n == 0 || train(&m, o, tr, tr_s.n) < 0) {
        fprintf(stderr, "logwarden eval detect: no training sessions in '%s' (or out of "
                        "memory)\n",
                o->train);
        goto out;
    }
    memset(t, 0, sizeof(t));
    score_set(&m, o, norm.v, norm.n, false, t);
    score_set(&m, o, ab.v, ab.n, true, t);
    rc = report(o, t, "train/test split", tr_s.n, norm.n, ab.n);
out:
    models_free(&m);
    lw_free(tr);
    sessions_free(&tr_s);
    sessions_free(&norm);
    sessions_free(&ab);
    return rc;
}


/* ---- line-level evaluation on a labelled raw log (BGL) ---- */

#define BGL_FORMAT "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> " \
                   "<Level> <Content>"

struct bgl_line {
    int64_t ts;
    uint32_t tid;
    uint32_t src;          /* index into the source names, +1; 0 when none */
    bool truth;            /* labelled abnormal */
    bool flagged;
};

struct bgl_find {
    char detector[32];
    int64_t ts;
    uint32_t tid;
    char source[128];
    bool window;           /* about a window of lines rather than the current one */
};

struct bgl_ctx {
    struct bgl_line *lines;
    size_t cur;
    struct bgl_find *finds;
    size_t n_finds;
    size_t cap_finds;
    struct lw_miner *miner;
    uint64_t per_det[16];
    const char *det_names[16];
    size_t n_det_names;
};

static long bgl_lookup(void *opaque, uint32_t id, char *buf, size_t cap)
{
    struct bgl_ctx *c = opaque;

    return lw_miner_template(c->miner, id, buf, cap);
}

static void bgl_emit(void *opaque, const struct lw_anomaly *a)
{
    struct bgl_ctx *c = opaque;
    struct bgl_find *f;
    size_t i;

    for (i = 0; i < c->n_det_names && strcmp(c->det_names[i], a->detector) != 0; i++) {
    }
    if (i == c->n_det_names && i < 16) {
        c->det_names[c->n_det_names++] = a->detector; /* plugin names are static strings */
    }
    if (i < 16) {
        c->per_det[i]++;
    }
    if (c->n_finds == c->cap_finds) {
        size_t nc = c->cap_finds ? c->cap_finds * 2 : 256;
        struct bgl_find *nf = lw_realloc(c->finds, nc * sizeof(*nf));

        if (nf == NULL) {
            return;
        }
        c->finds = nf;
        c->cap_finds = nc;
    }
    f = &c->finds[c->n_finds++];
    memset(f, 0, sizeof(*f));
    snprintf(f->detector, sizeof(f->detector), "%s", a->detector);
    f->ts = a->ts_ns;
    f->tid = a->template_id;
    snprintf(f->source, sizeof(f->source), "%s", a->source ? a->source : "");
    /* Window findings carry no line arrival; the others are about the line being observed. */
    f->window = a->arrival_ns == 0;
    if (!f->window) {
        c->lines[c->cur].flagged = true;
    }
}

static int run_bgl(struct eopts *o)
{
    char *buf = NULL, *p, *end;
    size_t len = 0, n = 0, cap = 0, i, n_train, n_src = 0;
    struct bgl_ctx c;
    struct lw_header *h = NULL;
    struct lw_header_state *hs = NULL;
    struct lw_miner_conf mc;
    struct lw_miner_scratch *ms = NULL;
    struct lw_detect_stage *st = NULL;
    char err[256];
    char **srcs = NULL;
    uint64_t tp = 0, fp = 0, fn = 0, tn = 0;
    int rc = 1;
    int64_t window;

    memset(&c, 0, sizeof(c));
    if (lw_eval_read_file(o->bgl, &buf, &len) < 0) {
        fprintf(stderr, "logwarden eval detect: cannot read '%s'\n", o->bgl);
        return 1;
    }
    h = lw_header_create(o->format ? o->format : BGL_FORMAT, err, sizeof(err));
    if (h == NULL) {
        fprintf(stderr, "logwarden eval detect: --format: %s\n", err);
        goto out;
    }
    hs = lw_header_state_create(h);
    memset(&mc, 0, sizeof(mc));
    c.miner = lw_miner_create(&mc, err, sizeof(err));
    if (hs == NULL || c.miner == NULL || (ms = lw_miner_scratch_create(c.miner)) == NULL) {
        fprintf(stderr, "logwarden eval detect: out of memory\n");
        goto out;
    }
    lw_miner_scratch_params(ms, 1);
    if (o->warmup_lines >= 0) {
        o->dc.new_template.warmup_lines = (uint64_t)o->warmup_lines;
        o->dc.new_template.warmup_ns = 1;
    }
    window = o->dc.volume.window_ns;
    st = lw_detect_stage_create(&o->dc, bgl_emit, bgl_lookup, &c, err, sizeof(err));
    if (st == NULL) {
        fprintf(stderr, "logwarden eval detect: %s\n", err);
        goto out;
    }
    /* Count lines first: the split point depends on it. */
    for (p = buf; p < buf + len; p = end + 1) {
        end = memchr(p, '\n', (size_t)(buf + len - p));
        if (end == NULL) {
            end = buf + len;
        }
        if (end > p) {
            cap++;
        }
    }
    c.lines = lw_calloc(cap ? cap : 1, sizeof(*c.lines));
    srcs = lw_calloc(cap ? cap : 1, sizeof(*srcs));
    if (c.lines == NULL || srcs == NULL) {
        fprintf(stderr, "logwarden eval detect: out of memory\n");
        goto out;
    }
    n_train = (size_t)((double)cap * o->train_fraction);
    lw_detect_stage_learn_only(st, n_train > 0);
    for (p = buf; p < buf + len && n < cap; p = end + 1) {
        struct lw_header_result res;
        struct lw_match mt;
        struct lw_det_event ev;
        char source[128] = "";
        size_t l;
        bool inside;

        end = memchr(p, '\n', (size_t)(buf + len - p));
        if (end == NULL) {
            end = buf + len;
        }
        l = (size_t)(end - p);
        if (l > 0 && p[l - 1] == '\r') {
            l--;
        }
        if (l == 0) {
            continue;
        }
        if (n == n_train) {
            lw_detect_stage_learn_only(st, false);
        }
        c.lines[n].truth = !(p[0] == '-' && (l == 1 || p[1] == ' '));
        if (lw_header_parse(h, hs, p, l, &res) < 0 || !res.matched) {
            res.msg.p = p;
            res.msg.len = l;
            res.ts_ns = LW_TS_UNKNOWN;
            res.level = LW_LEVEL_UNKNOWN;
            res.host.len = 0;
        }
        if (res.ts_ns == LW_TS_UNKNOWN) {
            res.ts_ns = n > 0 ? c.lines[n - 1].ts : 0;
        }
        if (res.host.len > 0) {
            snprintf(source, sizeof(source), "%.*s", (int)res.host.len, res.host.p);
        }
        if (lw_miner_add(c.miner, ms, res.msg.p, res.msg.len, res.ts_ns, &mt) < 0) {
            mt.template_id = 0;
            mt.n_params = 0;
            mt.is_new = 0;
        }
        c.lines[n].ts = res.ts_ns;
        c.lines[n].tid = mt.template_id;
        for (i = 0; i < n_src && strcmp(srcs[i], source) != 0; i++) {
        }
        if (i == n_src) {
            srcs[n_src++] = lw_strdup(source);
        }
        c.lines[n].src = (uint32_t)i + 1;
        inside = res.msg.p >= p && res.msg.p + res.msg.len <= p + l;
        memset(&ev, 0, sizeof(ev));
        ev.ts_ns = res.ts_ns;
        ev.arrival_ns = 1; /* a per-line finding is about this line */
        ev.template_id = mt.template_id;
        ev.new_template = mt.is_new != 0;
        ev.level = (uint8_t)res.level;
        ev.source = source;
        ev.msg = res.msg.p;
        ev.msg_len = res.msg.len;
        ev.n_params = inside ? mt.n_params : 0;
        ev.params = inside ? mt.params : NULL;
        c.cur = n;
        lw_detect_stage_observe(st, &ev);
        lw_detect_stage_tick(st, res.ts_ns - o->dc.lateness_ns, res.ts_ns);
        n++;
    }
    lw_detect_stage_tick(st, INT64_MAX / 2, 0);
    /* Window findings flag the lines of their template (and source) in their window. */
    for (i = 0; i < c.n_finds; i++) {
        const struct bgl_find *f = &c.finds[i];
        size_t k;

        if (!f->window) {
            continue;
        }
        for (k = n_train; k < n; k++) {
            struct bgl_line *ln = &c.lines[k];

            if (ln->ts < f->ts || ln->ts >= f->ts + window) {
                continue;
            }
            if (f->tid != 0 && ln->tid != f->tid) {
                continue;
            }
            if (f->source[0] != '\0' && strcmp(srcs[ln->src - 1], f->source) != 0) {
                continue;
            }
            ln->flagged = true;
        }
    }
    for (i = n_train; i < n; i++) {
        tp += c.lines[i].truth && c.lines[i].flagged;
        fp += !c.lines[i].truth && c.lines[i].flagged;
        fn += c.lines[i].truth && !c.lines[i].flagged;
        tn += !c.lines[i].truth && !c.lines[i].flagged;
    }
    {
        double prec = tp + fp ? (double)tp / (double)(tp + fp) : 0;
        double rec = tp + fn ? (double)tp / (double)(tp + fn) : 0;

        if (o->json) {
            json_t *root = json_pack("{s:s, s:I, s:I, s:f, s:f, s:f, s:I, s:I, s:I, s:I}",
                                     "mode", "bgl-lines", "lines_learned", (json_int_t)n_train,
                                     "lines_scored", (json_int_t)(n - n_train), "precision",
                                     prec, "recall", rec, "f1", f1_of(prec, rec), "tp",
                                     (json_int_t)tp, "fp", (json_int_t)fp, "fn", (json_int_t)fn,
                                     "tn", (json_int_t)tn);
            json_t *det = json_object();
            char *text;

            for (i = 0; i < c.n_det_names; i++) {
                json_object_set_new(det, c.det_names[i], json_integer((json_int_t)c.per_det[i]));
            }
            json_object_set_new(root, "findings", det);
            text = json_dumps(root, JSON_INDENT(2));
            printf("%s\n", text ? text : "{}");
            free(text);
            json_decref(root);
        }
        else {
            printf("%s: %zu lines learned, %zu scored (%llu labelled abnormal)\n", o->bgl,
                   n_train, n - n_train, (unsigned long long)(tp + fn));
            printf("line-level precision %.4f, recall %.4f, F1 %.4f (tp %llu, fp %llu, fn %llu)\n",
                   prec, rec, f1_of(prec, rec), (unsigned long long)tp,
                   (unsigned long long)fp, (unsigned long long)fn);
            printf("findings per detector:");
            for (i = 0; i < c.n_det_names; i++) {
                printf(" %s %llu", c.det_names[i], (unsigned long long)c.per_det[i]);
            }
            printf("\n");
        }
    }
    rc = 0;
out:
    lw_detect_stage_destroy(st);
    lw_miner_scratch_destroy(ms);
    lw_miner_destroy(c.miner);
    lw_header_state_destroy(hs);
    lw_header_destroy(h);
    for (i = 0; srcs != NULL && i < n_src; i++) {
        lw_free(srcs[i]);
    }
    lw_free(srcs);
    lw_free(c.lines);
    lw_free(c.finds);
    lw_free(buf);
    return rc;
}

static int opt_val(int argc, char **argv, int *i, const char *name, const char **val)
{
    return lw_cli_opt_value(argc, argv, i, name, val, "eval detect");
}

static int parse_num(const char *name, const char *v, double lo, double hi, double *out)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || x < lo || x > hi) {
        fprintf(stderr, "logwarden eval detect: %s '%s': expected a number from %g to %g\n",
                name, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int lw_cmd_eval_detect(int argc, char **argv)
{
    struct eopts o;
    int i, rc;

    memset(&o, 0, sizeof(o));
    lw_detect_conf_defaults(&o.dc, 0);
    o.folds = 5;
    o.seed = 1;
    o.train_fraction = 0.5;
    o.warmup_lines = -1;
    for (i = 1; i < argc; i++) {
        const char *v = NULL;
        double x;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            o.json = true;
            continue;
        }
        if (strcmp(argv[i], "--pca-alert") == 0) {
            o.dc.session_counts.pca_alert = true;
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--dataset-dir", &o.dataset_dir)) != 0 ||
            (rc = opt_val(argc, argv, &i, "--train", &o.train)) != 0 ||
            (rc = opt_val(argc, argv, &i, "--normal", &o.normal)) != 0 ||
            (rc = opt_val(argc, argv, &i, "--abnormal", &o.abnormal)) != 0 ||
            (rc = opt_val(argc, argv, &i, "--bgl", &o.bgl)) != 0 ||
            (rc = opt_val(argc, argv, &i, "--format", &o.format)) != 0) {
            if (rc < 0) {
                return 2;
            }
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--train-fraction", &v)) != 0) {
            if (rc < 0 || parse_num("--train-fraction", v, 0, 0.99, &x) < 0) {
                return 2;
            }
            o.train_fraction = x;
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--warmup-lines", &v)) != 0) {
            if (rc < 0 || parse_num("--warmup-lines", v, 0, 1e15, &x) < 0) {
                return 2;
            }
            o.warmup_lines = (long long)x;
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--folds", &v)) != 0) {
            if (rc < 0 || parse_num("--folds", v, 2, 100, &x) < 0) {
                return 2;
            }
            o.folds = (size_t)x;
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--seed", &v)) != 0) {
            if (rc < 0 || parse_num("--seed", v, 0, 1e18, &x) < 0) {
                return 2;
            }
            o.seed = (uint64_t)x;
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--history", &v)) != 0) {
            if (rc < 0 || parse_num("--history", v, 1, LW_SEQ_MAX_HISTORY, &x) < 0) {
                return 2;
            }
            o.dc.sequence.history = (size_t)x;
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--top", &v)) != 0) {
            if (rc < 0 || parse_num("--top", v, 1, LW_SEQ_MAX_CAND, &x) < 0) {
                return 2;
            }
            o.dc.sequence.top = (size_t)x;
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--support", &v)) != 0) {
            if (rc < 0 || parse_num("--support", v, 0.5, 1, &x) < 0) {
                return 2;
            }
            o.dc.session_counts.support = x;
            continue;
        }
        if ((rc = opt_val(argc, argv, &i, "--threshold", &v)) != 0) {
            if (rc < 0 || parse_num("--threshold", v, 0, 1, &x) < 0) {
                return 2;
            }
            o.dc.threshold = x;
            continue;
        }
        fprintf(stderr, "logwarden eval detect: unknown option '%s'\n\n", argv[i]);
        usage(stderr);
        return 2;
    }
    if (o.dataset_dir != NULL && (o.train || o.normal || o.abnormal)) {
        fprintf(stderr, "logwarden eval detect: use either --dataset-dir or --train/--normal/"
                        "--abnormal\n");
        return 2;
    }
    if (o.bgl != NULL) {
        return run_bgl(&o);
    }
    if (o.dataset_dir != NULL) {
        return run_cv(&o);
    }
    if (o.train != NULL && o.normal != NULL && o.abnormal != NULL) {
        return run_split(&o);
    }
    fprintf(stderr, "logwarden eval detect: give --dataset-dir DIR, or --train, --normal and "
                    "--abnormal\n\n");
    usage(stderr);
    return 2;
}
