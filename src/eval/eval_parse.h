/*
 * Parsing accuracy as the Loghub-2.0 evaluation (Jiang et al., ISSTA 2024; logpai/loghub-2.0,
 * benchmark/evaluation/utils/ and benchmark/logparser/utils/evaluator.py) defines it, plus the
 * small CSV reader that loads its *_structured.csv ground truth. `logwarden eval parse`
 * (src/cli/cmd_eval.c) runs the header parser and the miner over a log and scores them here.
 *
 * Scoring is a set of pure functions over per-line arrays so that it can be unit-tested without
 * a parser. Both sides are grouped by template TEXT, as the Python evaluator does (it groups
 * df['EventTemplate'] of the ground truth and of the parser output, never EventId): two miner
 * ids whose final templates read the same count as one predicted group.
 *
 *   GA   a line is correct when the predicted group of its truth group is unique and holds
 *        exactly the lines of that truth group; GA = correct lines / lines.
 *   FGA  F1 of PGA = correct groups / predicted groups and RGA = correct groups / truth groups.
 *   PA   a line is correct when its predicted template equals its truth template.
 *   FTA  a predicted template is correct when all its lines share one truth template and that
 *        template's text equals the predicted text; F1 of PTA = correct / predicted templates
 *        and RTA = correct / truth templates.
 * Lines whose truth template is missing (an empty cell, NaN for pandas) are left out of GA,
 * FGA and FTA; PA counts them as wrong but keeps them in its denominator, as the Python does.
 */
#ifndef LW_EVAL_PARSE_H
#define LW_EVAL_PARSE_H

#include <stddef.h>

struct lw_eval_scores {
    double ga;                  /* grouping accuracy, 0..1 */
    double fga;                 /* F1 grouping accuracy */
    double pga;                 /* precision of grouping */
    double rga;                 /* recall of grouping */
    double pa;                  /* parsing accuracy */
    double fta;                 /* F1 template accuracy */
    double pta;                 /* precision of template accuracy */
    double rta;                 /* recall of template accuracy */
    size_t n_lines;             /* all lines */
    size_t n_scored;            /* lines with a truth template (GA, FGA, FTA) */
    size_t n_pred_templates;    /* distinct predicted templates over the scored lines */
    size_t n_truth_templates;   /* distinct truth templates */
    size_t n_ga_lines;          /* lines counted correct by GA */
    size_t n_pa_lines;          /* lines counted correct by PA */
    size_t n_ga_groups;         /* truth groups grouped correctly */
    size_t n_ta_templates;      /* predicted templates counted correct by FTA */
};

/*
 * Scores @n lines: @pred[i] is the predicted template of line i (already canonical, see
 * lw_canon.h; NULL counts as ""), @truth[i] its ground-truth template (NULL or "" = missing).
 * When @line_group_ok is not NULL it receives, per line, 1 when GA counts the line correct.
 * Strings are borrowed. Returns LW_OK, LW_EINVAL when no line has a truth template, or
 * LW_ENOMEM. Thread-safe (no shared state).
 */
int lw_eval_score(size_t n, const char *const *pred, const char *const *truth,
                  struct lw_eval_scores *out, unsigned char *line_group_ok);

/* An RFC 4180 table: every cell a NUL-terminated string; the header row is kept apart. */
struct lw_csv {
    size_t n_cols;
    size_t n_rows;        /* data rows, the header excluded */
    char **header;        /* n_cols names */
    char **cells;         /* n_rows * n_cols, row-major */
    size_t *row_line;     /* 1-based line of the file where each data row starts */
    char *text;           /* owns the decoded text all cells point into */
};

/*
 * Parses @data (@len bytes): fields separated by ',', records by LF or CRLF, fields in double
 * quotes may hold commas, line breaks and doubled quotes. The first record is the header. A
 * record with a different number of fields than the header, an unterminated quote or text
 * after a closing quote fails with LW_EINVAL and a message with the line number in @err.
 * Returns LW_OK, LW_EINVAL or LW_ENOMEM. @csv is left empty on failure; free it with
 * lw_csv_fini() on success.
 */
int lw_csv_parse(const char *data, size_t len, struct lw_csv *csv, char *err, size_t err_len);
void lw_csv_fini(struct lw_csv *csv);
/* Column index of header @name, or -1. */
long lw_csv_column(const struct lw_csv *csv, const char *name);
static inline const char *lw_csv_cell(const struct lw_csv *csv, size_t row, size_t col)
{
    return csv->cells[row * csv->n_cols + col];
}

/*
 * Reads the whole file @path into a new NUL-terminated buffer (*@buf, caller frees with lw_free)
 * of *@len bytes. Returns LW_OK, LW_ENOENT (no such file), LW_EIO or LW_ENOMEM.
 */
int lw_eval_read_file(const char *path, char **buf, size_t *len);

#endif
