/*
 * Prometheus text exposition format 0.0.4, written into a growing buffer (struct lw_prom of
 * lw_metrics.h). There is no Prometheus C client in Debian and the format is small: "# HELP",
 * "# TYPE" once per family, then "name{labels} value" lines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_metrics.h"

static int prom_reserve(struct lw_prom *p, size_t n)
{
    char *nbuf;
    size_t cap;

    if (p->cap - p->len > n) {
        return LW_OK;
    }
    cap = p->cap ? p->cap : 1024;
    while (cap - p->len <= n) {
        cap *= 2;
    }
    nbuf = lw_realloc(p->buf, cap);
    if (nbuf == NULL) {
        p->rc = LW_ENOMEM;
        return LW_ENOMEM;
    }
    p->buf = nbuf;
    p->cap = cap;
    return LW_OK;
}

static void prom_put(struct lw_prom *p, const char *s, size_t n)
{
    if (p->rc < 0 || prom_reserve(p, n) < 0) {
        return;
    }
    memcpy(p->buf + p->len, s, n);
    p->len += n;
    p->buf[p->len] = '\0';
}

static void prom_str(struct lw_prom *p, const char *s)
{
    prom_put(p, s, strlen(s));
}

/* The shortest of %.15g and %.17g that reads back as @v ("0.1", not "0.10000000000000001"). */
static int fmt_double(char *tmp, size_t cap, double v)
{
    int n = snprintf(tmp, cap, "%.15g", v);

    if (strtod(tmp, NULL) != v) {
        n = snprintf(tmp, cap, "%.17g", v);
    }
    return n;
}

/* Prometheus spells special values "+Inf", "-Inf" and "NaN"; %.17g keeps doubles exact. */
static void prom_num(struct lw_prom *p, double v)
{
    char tmp[40];
    int n;

    if (isnan(v)) {
        prom_str(p, "NaN");
        return;
    }
    if (isinf(v)) {
        prom_str(p, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == (double)(long long)v && fabs(v) < 9e15) {
        n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
    }
    else {
        n = fmt_double(tmp, sizeof(tmp), v);
    }
    prom_put(p, tmp, (size_t)n);
}

static int valid_name(const char *s)
{
    size_t i;

    if (s == NULL || s[0] == '\0' || (s[0] >= '0' && s[0] <= '9')) {
        return 0;
    }
    for (i = 0; s[i] != '\0'; i++) {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == ':')) {
            return 0;
        }
    }
    return 1;
}

/* Whether "# TYPE @name " was written already: the buffer itself is the set of families. */
static int family_seen(const struct lw_prom *p, const char *name)
{
    const char *s;
    size_t nlen = strlen(name);

    if (p->buf == NULL) {
        return 0;
    }
    for (s = p->buf; (s = strstr(s, "# TYPE ")) != NULL; s += 7) {
        if ((s == p->buf || s[-1] == '\n') && strncmp(s + 7, name, nlen) == 0 &&
            s[7 + nlen] == ' ') {
            return 1;
        }
    }
    return 0;
}

static void prom_family(struct lw_prom *p, const char *name, const char *help, const char *type)
{
    const char *c;

    if (family_seen(p, name)) {
        return;
    }
    if (help != NULL) {
        prom_str(p, "# HELP ");
        prom_str(p, name);
        prom_str(p, " ");
        /* HELP text escapes only backslash and newline. */
        for (c = help; *c != '\0'; c++) {
            if (*c == '\\') {
                prom_str(p, "\\\\");
            }
            else if (*c == '\n') {
                prom_str(p, "\\n");
            }
            else {
                prom_put(p, c, 1);
            }
        }
        prom_str(p, "\n");
    }
    prom_str(p, "# TYPE ");
    prom_str(p, name);
    prom_str(p, " ");
    prom_str(p, type != NULL ? type : "untyped");
    prom_str(p, "\n");
}

/* Writes "name[suffix]{labels[,extra]} value\n". */
static void prom_sample(struct lw_prom *p, const char *name, const char *suffix,
                        const char *labels, const char *extra, double value)
{
    int has_labels = labels != NULL && labels[0] != '\0';

    prom_str(p, name);
    if (suffix != NULL) {
        prom_str(p, suffix);
    }
    if (has_labels || extra != NULL) {
        prom_str(p, "{");
        if (has_labels) {
            prom_str(p, labels);
        }
        if (extra != NULL) {
            if (has_labels) {
                prom_str(p, ",");
            }
            prom_str(p, extra);
        }
        prom_str(p, "}");
    }
    prom_str(p, " ");
    prom_num(p, value);
    prom_str(p, "\n");
}

int lw_prom_append(struct lw_prom *p, const char *name, const char *help, const char *type,
                   const char *labels, double value)
{
    if (p->rc < 0) {
        return p->rc;
    }
    if (!valid_name(name)) {
        p->rc = LW_EINVAL;
        return p->rc;
    }
    prom_family(p, name, help, type);
    prom_sample(p, name, NULL, labels, NULL, value);
    return p->rc;
}

int lw_prom_histogram(struct lw_prom *p, const char *name, const char *help, const char *labels,
                      const double *bounds, const uint64_t *counts, size_t n_bounds, double sum)
{
    char le[64];
    uint64_t cum = 0;
    size_t i;

    if (p->rc < 0) {
        return p->rc;
    }
    if (!valid_name(name)) {
        p->rc = LW_EINVAL;
        return p->rc;
    }
    prom_family(p, name, help, "histogram");
    for (i = 0; i <= n_bounds; i++) {
        cum += counts[i];
        if (i < n_bounds) {
            char num[40];

            fmt_double(num, sizeof(num), bounds[i]);
            snprintf(le, sizeof(le), "le=\"%s\"", num);
        }
        else {
            snprintf(le, sizeof(le), "le=\"+Inf\"");
        }
        prom_sample(p, name, "_bucket", labels, le, (double)cum);
    }
    prom_sample(p, name, "_sum", labels, NULL, sum);
    prom_sample(p, name, "_count", labels, NULL, (double)cum);
    return p->rc;
}

void lw_prom_fini(struct lw_prom *p)
{
    lw_free(p->buf);
    memset(p, 0, sizeof(*p));
}
