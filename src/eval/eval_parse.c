/*
 * Loghub-2.0 parsing metrics (GA, FGA, PA, FTA) and the CSV reader for its ground truth. See
 * eval_parse.h for the definitions; the comments below point at the Python they mirror.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "eval/eval_parse.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define NO_ID UINT32_MAX

/* String interning: equal texts get equal ids, so groups can be counted over arrays. */
struct intern {
    uint32_t *slots;     /* open addressing; NO_ID = empty */
    size_t mask;
    const char **strs;   /* id -> borrowed string */
    size_t n;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s != '\0') {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ull;
    }
    return h;
}

static int intern_init(struct intern *t, size_t max_strings)
{
    size_t cap = 16;
    size_t i;

    while (cap < 2 * max_strings + 2) {
        cap *= 2;
    }
    t->slots = lw_malloc(cap * sizeof(*t->slots));
    t->strs = lw_malloc((max_strings + 1) * sizeof(*t->strs));
    if (t->slots == NULL || t->strs == NULL) {
        lw_free(t->slots);
        lw_free(t->strs);
        return LW_ENOMEM;
    }
    for (i = 0; i < cap; i++) {
        t->slots[i] = NO_ID;
    }
    t->mask = cap - 1;
    t->n = 0;
    return LW_OK;
}

static void intern_fini(struct intern *t)
{
    lw_free(t->slots);
    lw_free(t->strs);
}

/* The table was sized for every string, so it never fills. */
static uint32_t intern_get(struct intern *t, const char *s)
{
    size_t i = (size_t)fnv1a(s) & t->mask;

    while (t->slots[i] != NO_ID) {
        if (strcmp(t->strs[t->slots[i]], s) == 0) {
            return t->slots[i];
        }
        i = (i + 1) & t->mask;
    }
    t->strs[t->n] = s;
    t->slots[i] = (uint32_t)t->n;
    return (uint32_t)t->n++;
}

static double f1(double p, double r)
{
    return (p != 0.0 || r != 0.0) ? 2.0 * p * r / (p + r) : 0.0;
}

int lw_eval_score(size_t n, const char *const *pred, const char *const *truth,
                  struct lw_eval_scores *out, unsigned char *line_group_ok)
{
    struct intern ids;
    uint32_t *pid = NULL;       /* per line: predicted template id */
    uint32_t *tid = NULL;       /* per line: truth template id or NO_ID */
    size_t *p_count = NULL;     /* per id: scored lines predicted with it */
    size_t *t_count = NULL;     /* per id: lines whose truth it is */
    uint32_t *t_first = NULL;   /* per truth id: predicted id of its first line */
    uint32_t *p_first = NULL;   /* per predicted id: truth id of its first line */
    unsigned char *t_mixed = NULL;  /* per truth id: lines with different predicted ids */
    unsigned char *p_mixed = NULL;  /* per predicted id: lines with different truth ids */
    size_t i;
    int rc = LW_ENOMEM;

    memset(out, 0, sizeof(*out));
    out->n_lines = n;
    if (intern_init(&ids, 2 * n) < 0) {
        return LW_ENOMEM;
    }
    pid = lw_malloc((n + 1) * sizeof(*pid));
    tid = lw_malloc((n + 1) * sizeof(*tid));
    p_count = lw_calloc(2 * n + 1, sizeof(*p_count));
    t_count = lw_calloc(2 * n + 1, sizeof(*t_count));
    t_first = lw_malloc((2 * n + 1) * sizeof(*t_first));
    p_first = lw_malloc((2 * n + 1) * sizeof(*p_first));
    t_mixed = lw_calloc(2 * n + 1, 1);
    p_mixed = lw_calloc(2 * n + 1, 1);
    if (pid == NULL || tid == NULL || p_count == NULL || t_count == NULL || t_first == NULL ||
        p_first == NULL || t_mixed == NULL || p_mixed == NULL) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        const char *p = pred[i] != NULL ? pred[i] : "";  /* parsedresult.fillna("") */
        const char *t = truth[i];

        pid[i] = intern_get(&ids, p);
        tid[i] = (t != NULL && t[0] != '\0') ? intern_get(&ids, t) : NO_ID;
        /* PA (PA_calculator.py): EventTemplate equality over all lines; NaN never equal. */
        if (tid[i] != NO_ID && tid[i] == pid[i]) {
            out->n_pa_lines++;
        }
    }
    for (i = 0; i < ids.n; i++) {
        t_first[i] = NO_ID;
        p_first[i] = NO_ID;
    }
    /* GA, FGA and FTA drop the lines without truth (evaluator.py, null_logids). */
    for (i = 0; i < n; i++) {
        if (tid[i] == NO_ID) {
            continue;
        }
        out->n_scored++;
        if (p_count[pid[i]]++ == 0) {
            out->n_pred_templates++;
        }
        if (t_count[tid[i]]++ == 0) {
            out->n_truth_templates++;
        }
        if (t_first[tid[i]] == NO_ID) {
            t_first[tid[i]] = pid[i];
        }
        else if (t_first[tid[i]] != pid[i]) {
            t_mixed[tid[i]] = 1;
        }
        if (p_first[pid[i]] == NO_ID) {
            p_first[pid[i]] = tid[i];
        }
        else if (p_first[pid[i]] != tid[i]) {
            p_mixed[pid[i]] = 1;
        }
    }
    if (out->n_scored == 0) {
        rc = LW_EINVAL;
        goto done;
    }
    for (i = 0; i < ids.n; i++) {
        /* get_accuracy(): a truth group whose lines all got one predicted template, and that
         * template has no other lines. */
        if (t_count[i] > 0 && !t_mixed[i] && p_count[t_first[i]] == t_count[i]) {
            out->n_ga_groups++;
            out->n_ga_lines += t_count[i];
        }
        /* evaluate_template_level(): corr_oracle_templates == {identified_template}. */
        if (p_count[i] > 0 && !p_mixed[i] && p_first[i] == i) {
            out->n_ta_templates++;
        }
    }
    if (line_group_ok != NULL) {
        for (i = 0; i < n; i++) {
            line_group_ok[i] = tid[i] != NO_ID && !t_mixed[tid[i]] &&
                               p_count[t_first[tid[i]]] == t_count[tid[i]];
        }
    }
    out->ga = (double)out->n_ga_lines / (double)out->n_scored;
    out->pga = (double)out->n_ga_groups / (double)out->n_pred_templates;
    out->rga = (double)out->n_ga_groups / (double)out->n_truth_templates;
    out->fga = f1(out->pga, out->rga);
    out->pa = n > 0 ? (double)out->n_pa_lines / (double)n : 0.0;
    out->pta = (double)out->n_ta_templates / (double)out->n_pred_templates;
    out->rta = (double)out->n_ta_templates / (double)out->n_truth_templates;
    out->fta = f1(out->pta, out->rta);
    rc = LW_OK;
done:
    lw_free(pid);
    lw_free(tid);
    lw_free(p_count);
    lw_free(t_count);
    lw_free(t_first);
    lw_free(p_first);
    lw_free(t_mixed);
    lw_free(p_mixed);
    intern_fini(&ids);
    return rc;
}

/* ---- CSV ---- */

struct cell_vec {
    char **v;
    size_t n;
    size_t cap;
};

static int cell_push(struct cell_vec *c, char *s)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        char **v = lw_realloc(c->v, cap * sizeof(*v));

        if (v == NULL) {
            return LW_ENOMEM;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = s;
    return LW_OK;
}

static int line_push(size_t **v, size_t *cap, size_t n, size_t line)
{
    if (n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        size_t *nv = lw_realloc(*v, ncap * sizeof(*nv));

        if (nv == NULL) {
            return LW_ENOMEM;
        }
        *v = nv;
        *cap = ncap;
    }
    (*v)[n] = line;
    return LW_OK;
}

int lw_csv_parse(const char *data, size_t len, struct lw_csv *csv, char *err, size_t err_len)
{
    struct cell_vec cells = {0};
    size_t *row_line = NULL;
    size_t row_line_cap = 0;
    size_t n_records = 0;
    size_t n_cols = 0;
    size_t fields_in_record = 0;
    size_t line = 1;           /* current line of the input */
    size_t record_line = 1;    /* line where the current record started */
    size_t i = 0;
    size_t o = 0;
    char *text;
    int rc;

    memset(csv, 0, sizeof(*csv));
    if (err_len > 0) {
        err[0] = '\0';
    }
    text = lw_malloc(len + 1);
    if (text == NULL) {
        return LW_ENOMEM;
    }
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
        i = 3;  /* a UTF-8 byte order mark */
    }
    while (i < len) {
        char *field = text + o;
        int at_end_of_record = 0;

        if (data[i] == '"') {
            size_t quote_line = line;

            i++;
            for (;;) {
                if (i >= len) {
                    snprintf(err, err_len, "line %zu: unterminated quoted field", quote_line);
                    rc = LW_EINVAL;
                    goto fail;
                }
                if (data[i] == '"') {
                    if (i + 1 < len && data[i + 1] == '"') {
                        text[o++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (data[i] == '\n') {
                    line++;
                }
                text[o++] = data[i++];
            }
            if (i < len && data[i] != ',' && data[i] != '\n' &&
                !(data[i] == '\r' && (i + 1 == len || data[i + 1] == '\n'))) {
                snprintf(err, err_len, "line %zu: unexpected '%c' after a closing quote", line,
                         data[i]);
                rc = LW_EINVAL;
                goto fail;
            }
        }
        else {
            /* Unquoted: a stray '"' inside is kept as text (pandas does the same). */
            while (i < len && data[i] != ',' && data[i] != '\n') {
                if (data[i] == '\r' && (i + 1 == len || data[i + 1] == '\n')) {
                    break;
                }
                text[o++] = data[i++];
            }
        }
        text[o++] = '\0';
        if (i < len && data[i] == '\r') {
            i++;
        }
        if (i >= len || data[i] == '\n') {
            at_end_of_record = 1;
        }
        else {
            i++;  /* the ',' */
            if (i >= len) {
                /* "a,b," at the end of the input: the record ends with an empty field. */
                rc = cell_push(&cells, field);
                if (rc < 0) {
                    goto fail;
                }
                fields_in_record++;
                field = text + o;
                text[o++] = '\0';
                at_end_of_record = 1;
            }
        }
        rc = cell_push(&cells, field);
        if (rc < 0) {
            goto fail;
        }
        fields_in_record++;
        if (at_end_of_record) {
            if (n_records == 0) {
                n_cols = fields_in_record;
            }
            else if (fields_in_record != n_cols) {
                snprintf(err, err_len, "line %zu: %zu fields, the header has %zu", record_line,
                         fields_in_record, n_cols);
                rc = LW_EINVAL;
                goto fail;
            }
            else {
                rc = line_push(&row_line, &row_line_cap, n_records - 1, record_line);
                if (rc < 0) {
                    goto fail;
                }
            }
            n_records++;
            fields_in_record = 0;
            if (i < len) {
                i++;  /* the '\n' */
                line++;
            }
            record_line = line;
            /* Skip blank lines between records (and the final newline). */
            while (i < len && (data[i] == '\n' || (data[i] == '\r' && i + 1 < len &&
                                                   data[i + 1] == '\n'))) {
                i += data[i] == '\r' ? 2 : 1;
                line++;
                record_line = line;
            }
        }
    }
    if (n_records == 0) {
        snprintf(err, err_len, "line 1: empty file, no header");
        rc = LW_EINVAL;
        goto fail;
    }
    csv->text = text;
    csv->n_cols = n_cols;
    csv->n_rows = n_records - 1;
    csv->header = cells.v;
    csv->cells = cells.v + n_cols;
    csv->row_line = row_line;
    return LW_OK;
fail:
    lw_free(row_line);
    lw_free(cells.v);
    lw_free(text);
    return rc;
}

void lw_csv_fini(struct lw_csv *csv)
{
    if (csv == NULL) {
        return;
    }
    lw_free(csv->header);  /* header and cells share one array */
    lw_free(csv->row_line);
    lw_free(csv->text);
    memset(csv, 0, sizeof(*csv));
}

long lw_csv_column(const struct lw_csv *csv, const char *name)
{
    size_t i;

    for (i = 0; i < csv->n_cols; i++) {
        if (strcmp(csv->header[i], name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

int lw_eval_read_file(const char *path, char **buf, size_t *len)
{
    FILE *f;
    char *b = NULL;
    size_t cap = 0;
    size_t n = 0;
    size_t got;
    int rc = LW_OK;

    *buf = NULL;
    *len = 0;
    f = fopen(path, "rb");
    if (f == NULL) {
        return errno == ENOENT ? LW_ENOENT : LW_EIO;
    }
    for (;;) {
        if (cap - n < 65536) {
            size_t ncap = cap ? 2 * cap : 1 << 20;
            char *nb = lw_realloc(b, ncap + 1);

            if (nb == NULL) {
                rc = LW_ENOMEM;
                break;
            }
            b = nb;
            cap = ncap;
        }
        got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = LW_EIO;
            }
            break;
        }
    }
    fclose(f);
    if (rc < 0) {
        lw_free(b);
        return rc;
    }
    if (b == NULL) {
        b = lw_malloc(1);
        if (b == NULL) {
            return LW_ENOMEM;
        }
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return LW_OK;
}
