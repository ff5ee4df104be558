/*
 * logwarden eval: accuracy against ground truth. `eval parse` runs the header parser
 * (lw_header.h) and the template miner (lw_miner.h) over a log with Loghub ground truth and
 * scores the result with the Loghub-2.0 metrics (src/eval/eval_parse.h).
 *
 * As in the offline evaluation of Drain, every line gets the FINAL template of the id it was
 * mined into (read after the last line), not the template as it stood when the line arrived.
 * Predicted templates go through lw_canon() before scoring, as the Loghub-2.0 guidelines ask
 * (the miner keeps them canonical already, so this only guards against drift). Log line i is
 * matched with CSV row i.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "eval/eval_parse.h"
#include "lw/lw_canon.h"
#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"

#define MAX_SYSTEMS 256

struct run_result {
    char system[64];
    struct lw_eval_scores s;
    double ms;                  /* header parsing + mining, wall clock */
    size_t n_content_diff;      /* lines whose message differs from the truth Content */
};

struct opts {
    const char *log;
    const char *format;
    const char *truth;
    const char *state;
    const char *dataset_dir;
    const char *dump;
    int json;
};

static void usage_eval(FILE *f)
{
    fprintf(f,
            "usage: logwarden eval <what> [options]\n\n"
            "Measure accuracy against ground truth.\n\n"
            "what:\n"
            "  parse    template mining accuracy (GA, FGA, PA, FTA of Loghub-2.0)\n"
            "  detect   session anomaly detection (precision, recall, F1; HDFS sessions)\n\n"
            "Run 'logwarden eval parse --help' or 'logwarden eval detect --help' for options.\n"
            "examples:\n"
            "  logwarden eval parse --dataset-dir ../shared/data/loghub-2k\n"
            "  logwarden eval detect --dataset-dir ../shared/data/hdfs-sessions\n");
}

static void usage_parse(FILE *f)
{
    fprintf(f,
            "usage: logwarden eval parse --log FILE --format FMT --truth FILE [options]\n"
            "       logwarden eval parse --dataset-dir DIR [options]\n\n"
            "Mine the templates of a log and score them against Loghub ground truth with the\n"
            "Loghub-2.0 metrics: GA and FGA (grouping), PA (parsing), FTA (template level).\n\n"
            "options:\n"
            "  --log FILE          the log to mine (line i is matched with CSV row i)\n"
            "  --format FMT        its header layout in <Field> notation, or 'auto'\n"
            "  --truth FILE        the ground truth, a *_structured.csv with the columns\n"
            "                      EventTemplate (needed) and Content (checked when present)\n"
            "  --state FILE        start the miner from a saved state (with --log only)\n"
            "  --dataset-dir DIR   evaluate every system of DIR/formats.tsv (tab-separated:\n"
            "                      dataset, log_format; header row) from DIR/X/X_2k.log and\n"
            "                      DIR/X/X_2k.log_structured.csv; missing ones are skipped\n"
            "  --json              print one JSON object instead of the table\n"
            "  --dump FILE         write per line: line, group correct (1/0), predicted\n"
            "                      template, truth template (tab-separated)\n"
            "  -h, --help          this help\n\n"
            "examples:\n"
            "  logwarden eval parse --log HDFS_2k.log \\\n"
            "      --format '<Date> <Time> <Pid> <Level> <Component>: <Content>' \\\n"
            "      --truth HDFS_2k.log_structured.csv --dump hdfs.tsv\n"
            "  logwarden eval parse --dataset-dir ../shared/data/loghub-2k --json\n");
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Id -> canonical final template, so each template is fetched and canonicalised once. */
struct tpl_map {
    uint32_t *keys;     /* 0 = empty (template ids are >= 1) */
    char **vals;
    size_t mask;
};

static int tpl_map_init(struct tpl_map *m, size_t n)
{
    size_t cap = 16;

    while (cap < 2 * n + 2) {
        cap *= 2;
    }
    m->keys = lw_calloc(cap, sizeof(*m->keys));
    m->vals = lw_calloc(cap, sizeof(*m->vals));
    m->mask = cap - 1;
    if (m->keys == NULL || m->vals == NULL) {
        lw_free(m->keys);
        lw_free(m->vals);
        return LW_ENOMEM;
    }
    return LW_OK;
}

static void tpl_map_fini(struct tpl_map *m)
{
    size_t i;

    for (i = 0; i <= m->mask; i++) {
        lw_free(m->vals[i]);
    }
    lw_free(m->keys);
    lw_free(m->vals);
}

/* Returns the canonical final text of template @id (owned by @m), or NULL on ENOMEM. */
static const char *tpl_map_get(struct tpl_map *m, struct lw_miner *miner, uint32_t id)
{
    size_t i = (id * 2654435761u) & m->mask;
    char small[4096];
    char *raw = small;
    long len;
    size_t clen;
    char *canon;

    while (m->keys[i] != 0) {
        if (m->keys[i] == id) {
            return m->vals[i];
        }
        i = (i + 1) & m->mask;
    }
    len = lw_miner_template(miner, id, small, sizeof(small));
    if (len < 0) {
        len = 0;    /* evicted: scored as the empty template */
        small[0] = '\0';
    }
    else if ((size_t)len >= sizeof(small)) {
        raw = lw_malloc((size_t)len + 1);
        if (raw == NULL) {
            return NULL;
        }
        lw_miner_template(miner, id, raw, (size_t)len + 1);
    }
    clen = lw_canon(raw, (size_t)len, NULL, 0);
    canon = lw_malloc(clen + 1);
    if (canon != NULL) {
        lw_canon(raw, (size_t)len, canon, clen + 1);
    }
    if (raw != small) {
        lw_free(raw);
    }
    if (canon == NULL) {
        return NULL;
    }
    m->keys[i] = id;
    m->vals[i] = canon;
    return canon;
}

static int is_blank(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * Splits @buf in place into lines at LF; the last empty piece is not a line. Each line is
 * stripped of white space at both ends, as the Loghub loader does (regex.search(line.strip())),
 * so that the message matches the ground truth Content.
 */
static char **split_lines(char *buf, size_t len, size_t *n_lines)
{
    size_t cap = 1024;
    size_t n = 0;
    char **v = lw_malloc(cap * sizeof(*v));
    char *p = buf;
    char *end = buf + len;

    if (v == NULL) {
        return NULL;
    }
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl != NULL ? nl : end;
        char *next = e + 1;

        *e = '\0';
        while (e > p && is_blank(e[-1])) {
            *--e = '\0';
        }
        while (is_blank(*p)) {
            p++;
        }
        if (n == cap) {
            char **nv = lw_realloc(v, 2 * cap * sizeof(*v));

            if (nv == NULL) {
                lw_free(v);
                return NULL;
            }
            v = nv;
            cap *= 2;
        }
        v[n++] = p;
        p = next;
    }
    *n_lines = n;
    return v;
}

/* Writes @s to @f with tabs and line breaks escaped, so each dump row stays one line. */
static void dump_field(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\t') {
            fputs("\\t", f);
        }
        else if (*s == '\n') {
            fputs("\\n", f);
        }
        else if (*s == '\r') {
            fputs("\\r", f);
        }
        else if (*s == '\\') {
            fputs("\\\\", f);
        }
        else {
            fputc(*s, f);
        }
    }
}

/*
 * Evaluates one system. Prints its own errors (naming the file). Returns 0, or 1 on failure.
 */
static int run_one(const char *system, const char *log_path, const char *format,
                   const char *truth_path, const char *state_path, FILE *dump,
                   struct run_result *res)
{
    struct lw_csv csv = {0};
    char *truth_buf = NULL;
    char *log_buf = NULL;
    char **lines = NULL;
    size_t truth_len;
    size_t log_len;
    size_t n_lines = 0;
    size_t i;
    long col_tpl;
    long col_content;
    char err[256];
    struct lw_header *h = NULL;
    struct lw_header_state *hs = NULL;
    struct lw_miner *m = NULL;
    struct lw_miner_scratch *ms = NULL;
    struct lw_miner_conf conf;
    struct lw_header_result hr;
    struct lw_match match;
    struct tpl_map map = {0};
    uint32_t *ids = NULL;
    const char **pred = NULL;
    const char **truth = NULL;
    unsigned char *ok = NULL;
    size_t first_diff = 0;
    double t0;
    int rc;
    int ret = 1;

    memset(res, 0, sizeof(*res));
    snprintf(res->system, sizeof(res->system), "%s", system);
    rc = lw_eval_read_file(truth_path, &truth_buf, &truth_len);
    if (rc < 0) {
        fprintf(stderr, "logwarden eval: %s: %s\n", truth_path,
                rc == LW_ENOENT ? "no such file" : lw_strerror(rc));
        goto done;
    }
    rc = lw_csv_parse(truth_buf, truth_len, &csv, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "logwarden eval: %s: %s\n", truth_path,
                rc == LW_EINVAL ? err : lw_strerror(rc));
        goto done;
    }
    col_tpl = lw_csv_column(&csv, "EventTemplate");
    col_content = lw_csv_column(&csv, "Content");
    if (col_tpl < 0) {
        fprintf(stderr, "logwarden eval: %s: no EventTemplate column in the header\n",
                truth_path);
        goto done;
    }
    rc = lw_eval_read_file(log_path, &log_buf, &log_len);
    if (rc < 0) {
        fprintf(stderr, "logwarden eval: %s: %s\n", log_path,
                rc == LW_ENOENT ? "no such file" : lw_strerror(rc));
        goto done;
    }
    lines = split_lines(log_buf, log_len, &n_lines);
    if (lines == NULL) {
        fprintf(stderr, "logwarden eval: %s: out of memory\n", log_path);
        goto done;
    }
    if (n_lines != csv.n_rows) {
        fprintf(stderr,
                "logwarden eval: %s has %zu lines but %s has %zu rows; line i of the log must "
                "be row i of the ground truth\n",
                log_path, n_lines, truth_path, csv.n_rows);
        goto done;
    }
    h = lw_header_create(format, err, sizeof(err));
    if (h == NULL) {
        fprintf(stderr, "logwarden eval: %s: bad --format: %s\n", system, err);
        goto done;
    }
    hs = lw_header_state_create(h);
    memset(&conf, 0, sizeof(conf));
    m = lw_miner_create(&conf, err, sizeof(err));
    if (hs == NULL || m == NULL) {
        fprintf(stderr, "logwarden eval: %s: cannot create the parser: %s\n", system,
                m == NULL ? err : "out of memory");
        goto done;
    }
    if (state_path != NULL) {
        rc = lw_miner_load(m, state_path, err, sizeof(err));
        if (rc < 0) {
            fprintf(stderr, "logwarden eval: %s: %s\n", state_path, err);
            goto done;
        }
    }
    ms = lw_miner_scratch_create(m);
    ids = lw_calloc(n_lines + 1, sizeof(*ids));
    pred = lw_calloc(n_lines + 1, sizeof(*pred));
    truth = lw_calloc(n_lines + 1, sizeof(*truth));
    ok = lw_calloc(n_lines + 1, 1);
    if (ms == NULL || ids == NULL || pred == NULL || truth == NULL || ok == NULL ||
        tpl_map_init(&map, n_lines) < 0) {
        fprintf(stderr, "logwarden eval: %s: out of memory\n", system);
        goto done;
    }

    t0 = now_ms();
    for (i = 0; i < n_lines; i++) {
        rc = lw_header_parse(h, hs, lines[i], strlen(lines[i]), &hr);
        if (rc < 0) {
            fprintf(stderr, "logwarden eval: %s:%zu: %s\n", log_path, i + 1, lw_strerror(rc));
            goto done;
        }
        if (col_content >= 0) {
            const char *c = lw_csv_cell(&csv, i, (size_t)col_content);

            if (strlen(c) != hr.msg.len || memcmp(c, hr.msg.p, hr.msg.len) != 0) {
                if (res->n_content_diff++ == 0) {
                    first_diff = i + 1;
                }
            }
        }
        rc = lw_miner_add(m, ms, hr.msg.p, hr.msg.len, hr.ts_ns, &match);
        if (rc < 0) {
            fprintf(stderr, "logwarden eval: %s:%zu: %s\n", log_path, i + 1, lw_strerror(rc));
            goto done;
        }
        ids[i] = match.template_id;
    }
    res->ms = now_ms() - t0;
    if (res->n_content_diff > 0) {
        fprintf(stderr,
                "logwarden eval: %s: warning: the message of %zu lines differs from the truth "
                "Content (first at line %zu); check --format\n",
                system, res->n_content_diff, first_diff);
    }

    for (i = 0; i < n_lines; i++) {
        pred[i] = tpl_map_get(&map, m, ids[i]);
        if (pred[i] == NULL) {
            fprintf(stderr, "logwarden eval: %s: out of memory\n", system);
            goto done;
        }
        truth[i] = lw_csv_cell(&csv, i, (size_t)col_tpl);
    }
    rc = lw_eval_score(n_lines, pred, truth, &res->s, ok);
    if (rc < 0) {
        fprintf(stderr, "logwarden eval: %s: %s\n", truth_path,
                rc == LW_EINVAL ? "no line has a truth template" : lw_strerror(rc));
        goto done;
    }
    if (dump != NULL) {
        for (i = 0; i < n_lines; i++) {
            fprintf(dump, "%zu\t%d\t", i + 1, ok[i]);
            dump_field(dump, pred[i]);
            fputc('\t', dump);
            dump_field(dump, truth[i]);
            fputc('\n', dump);
        }
    }
    ret = 0;
done:
    lw_free(ids);
    lw_free(pred);
    lw_free(truth);
    lw_free(ok);
    if (map.keys != NULL) {
        tpl_map_fini(&map);
    }
    lw_miner_scratch_destroy(ms);
    lw_miner_destroy(m);
    lw_header_state_destroy(hs);
    lw_header_destroy(h);
    lw_free(lines);
    lw_free(log_buf);
    lw_csv_fini(&csv);
    lw_free(truth_buf);
    return ret;
}

static void print_header(void)
{
    printf("%-12s %7s %7s %7s %7s %7s %11s %9s\n", "system", "lines", "GA", "FGA", "PA", "FTA",
           "templates", "ms");
}

static void print_row(const struct run_result *r)
{
    char tpl[32];

    snprintf(tpl, sizeof(tpl), "%zu/%zu", r->s.n_pred_templates, r->s.n_truth_templates);
    printf("%-12s %7zu %7.3f %7.3f %7.3f %7.3f %11s %9.1f\n", r->system, r->s.n_lines, r->s.ga,
           r->s.fga, r->s.pa, r->s.fta, tpl, r->ms);
}

static json_t *result_json(const struct run_result *r)
{
    return json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:f}",
                     "system", r->system, "lines", (json_int_t)r->s.n_lines, "ga", r->s.ga,
                     "fga", r->s.fga, "pa", r->s.pa, "fta", r->s.fta, "pga", r->s.pga, "rga",
                     r->s.rga, "pta", r->s.pta, "rta", r->s.rta, "templates_predicted",
                     (json_int_t)r->s.n_pred_templates, "templates_truth",
                     (json_int_t)r->s.n_truth_templates, "ms", r->ms);
}

/* Prints the results (table or JSON) with an average row over @n results. */
static int report(const struct run_result *res, size_t n, json_t *skipped, int json)
{
    struct run_result avg;
    size_t i;

    memset(&avg, 0, sizeof(avg));
    snprintf(avg.system, sizeof(avg.system), "average");
    for (i = 0; i < n; i++) {
        avg.s.n_lines += res[i].s.n_lines;
        avg.s.ga += res[i].s.ga / (double)n;
        avg.s.fga += res[i].s.fga / (double)n;
        avg.s.pa += res[i].s.pa / (double)n;
        avg.s.fta += res[i].s.fta / (double)n;
        avg.s.pga += res[i].s.pga / (double)n;
        avg.s.rga += res[i].s.rga / (double)n;
        avg.s.pta += res[i].s.pta / (double)n;
        avg.s.rta += res[i].s.rta / (double)n;
        avg.s.n_pred_templates += res[i].s.n_pred_templates;
        avg.s.n_truth_templates += res[i].s.n_truth_templates;
        avg.ms += res[i].ms;
    }
    if (json) {
        json_t *root = json_object();
        json_t *systems = json_array();
        json_t *a;
        char *text;

        if (root == NULL || systems == NULL) {
            json_decref(root);
            json_decref(systems);
            return 1;
        }
        for (i = 0; i < n; i++) {
            json_array_append_new(systems, result_json(&res[i]));
        }
        json_object_set_new(root, "systems", systems);
        if (n > 0) {
            /* Averages of the metrics; lines, templates and ms are totals. */
            a = result_json(&avg);
            json_object_del(a, "system");
            json_object_set_new(root, "average", a);
        }
        json_object_set(root, "skipped", skipped);
        text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        json_decref(root);
        if (text == NULL) {
            return 1;
        }
        printf("%s\n", text);
        free(text);
        return 0;
    }
    print_header();
    for (i = 0; i < n; i++) {
        print_row(&res[i]);
    }
    if (n > 1) {
        print_row(&avg);
    }
    return 0;
}

static int file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

static int run_dataset_dir(const struct opts *o, FILE *dump)
{
    char path[4096];
    char log_path[4096];
    char truth_path[4096];
    char *buf = NULL;
    size_t len;
    char **rows = NULL;
    size_t n_rows = 0;
    size_t i;
    struct run_result *res = NULL;
    size_t n_res = 0;
    json_t *skipped = json_array();
    int failed = 0;
    int rc;

    snprintf(path, sizeof(path), "%s/formats.tsv", o->dataset_dir);
    rc = lw_eval_read_file(path, &buf, &len);
    if (rc < 0) {
        fprintf(stderr, "logwarden eval: %s: %s\n", path,
                rc == LW_ENOENT ? "no such file" : lw_strerror(rc));
        json_decref(skipped);
        return 1;
    }
    rows = split_lines(buf, len, &n_rows);
    res = lw_calloc(n_rows + 1, sizeof(*res));
    if (rows == NULL || res == NULL || skipped == NULL) {
        fprintf(stderr, "logwarden eval: out of memory\n");
        failed = 1;
        goto done;
    }
    /* Row 0 is the header (dataset, log_format). */
    for (i = 1; i < n_rows && n_res < MAX_SYSTEMS; i++) {
        char *name = rows[i];
        char *tab = strchr(name, '\t');
        const char *fmt;

        if (name[0] == '\0' || name[0] == '#') {
            continue;
        }
        if (tab == NULL) {
            fprintf(stderr, "logwarden eval: %s:%zu: expected 'dataset<TAB>log_format'\n", path,
                    i + 1);
            failed = 1;
            continue;
        }
        *tab = '\0';
        fmt = tab + 1;
        snprintf(log_path, sizeof(log_path), "%s/%s/%s_2k.log", o->dataset_dir, name, name);
        snprintf(truth_path, sizeof(truth_path), "%s/%s/%s_2k.log_structured.csv",
                 o->dataset_dir, name, name);
        if (!file_exists(log_path) || !file_exists(truth_path)) {
            const char *missing = file_exists(log_path) ? truth_path : log_path;

            fprintf(stderr, "logwarden eval: %s: skipped, missing %s\n", name, missing);
            json_array_append_new(skipped, json_pack("{s:s, s:s}", "system", name, "missing",
                                                     missing));
            continue;
        }
        if (dump != NULL) {
            fprintf(dump, "# %s\n", name);
        }
        if (run_one(name, log_path, fmt, truth_path, NULL, dump, &res[n_res]) != 0) {
            failed = 1;
            continue;
        }
        n_res++;
    }
    if (n_res == 0) {
        fprintf(stderr, "logwarden eval: %s: no dataset could be evaluated\n", o->dataset_dir);
        failed = 1;
    }
    if (report(res, n_res, skipped, o->json) != 0) {
        failed = 1;
    }
done:
    json_decref(skipped);
    lw_free(res);
    lw_free(rows);
    lw_free(buf);
    return failed;
}

int lw_cli_opt_value(int argc, char **argv, int *i, const char *name, const char **val,
                     const char *cmd)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0) {
        return 0;
    }
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0') {
        return 0;
    }
    if (*i + 1 >= argc) {
        fprintf(stderr, "logwarden %s: %s needs a value\n", cmd, name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

static int opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
    return lw_cli_opt_value(argc, argv, i, name, val, "eval parse");
}

static int cmd_eval_parse(int argc, char **argv)
{
    static const char *const names[] = {"--log", "--format", "--truth", "--state",
                                        "--dataset-dir", "--dump"};
    struct opts o;
    const char **slots[6];
    struct run_result res;
    FILE *dump = NULL;
    json_t *skipped;
    int i;
    int ret;

    memset(&o, 0, sizeof(o));
    slots[0] = &o.log;
    slots[1] = &o.format;
    slots[2] = &o.truth;
    slots[3] = &o.state;
    slots[4] = &o.dataset_dir;
    slots[5] = &o.dump;
    for (i = 1; i < argc; i++) {
        size_t k;
        int matched = 0;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage_parse(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0) {
            o.json = 1;
            continue;
        }
        for (k = 0; k < sizeof(names) / sizeof(names[0]) && !matched; k++) {
            int r = opt_value(argc, argv, &i, names[k], slots[k]);

            if (r < 0) {
                return 2;
            }
            matched = r;
        }
        if (!matched) {
            fprintf(stderr, "logwarden eval parse: unknown option '%s'\n\n", argv[i]);
            usage_parse(stderr);
            return 2;
        }
    }
    if (o.dataset_dir != NULL) {
        if (o.log != NULL || o.truth != NULL || o.format != NULL || o.state != NULL) {
            fprintf(stderr, "logwarden eval parse: --dataset-dir takes none of --log, "
                            "--format, --truth, --state\n");
            return 2;
        }
    }
    else if (o.log == NULL || o.truth == NULL) {
        fprintf(stderr, "logwarden eval parse: give --log and --truth (and --format), or "
                        "--dataset-dir\n\n");
        usage_parse(stderr);
        return 2;
    }
    if (o.dump != NULL) {
        dump = fopen(o.dump, "w");
        if (dump == NULL) {
            fprintf(stderr, "logwarden eval: %s: %s\n", o.dump, strerror(errno));
            return 1;
        }
        fprintf(dump, "line\tgroup_ok\tpredicted\ttruth\n");
    }
    if (o.dataset_dir != NULL) {
        ret = run_dataset_dir(&o, dump);
    }
    else {
        const char *base = strrchr(o.log, '/');

        base = base != NULL ? base + 1 : o.log;
        ret = run_one(base, o.log, o.format != NULL ? o.format : "auto", o.truth, o.state,
                      dump, &res);
        if (ret == 0) {
            skipped = json_array();
            ret = report(&res, 1, skipped, o.json);
            json_decref(skipped);
        }
    }
    if (dump != NULL && fclose(dump) != 0) {
        fprintf(stderr, "logwarden eval: %s: %s\n", o.dump, strerror(errno));
        ret = 1;
    }
    return ret;
}

int lw_cmd_eval(int argc, char **argv)
{
    if (argc < 2) {
        usage_eval(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage_eval(stdout);
        return 0;
    }
    if (strcmp(argv[1], "parse") == 0) {
        return cmd_eval_parse(argc - 1, argv + 1);
    }
    if (strcmp(argv[1], "detect") == 0) {
        return lw_cmd_eval_detect(argc - 1, argv + 1);
    }
    fprintf(stderr, "logwarden eval: unknown evaluation '%s'\n\n", argv[1]);
    usage_eval(stderr);
    return 2;
}
