/*
 * Findings that outlive their emit call (lw_finding.h): one allocation holds the struct's strings,
 * for the alert manager's queues and the engine's pending transaction.
 */
#include <string.h>

#include "lw/lw_finding.h"

static size_t str_size(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

/* Copies @s to *@p and advances it; NULL stays NULL. */
static const char *str_put(char **p, const char *s)
{
    size_t n;
    char *d;

    if (s == NULL) {
        return NULL;
    }
    n = strlen(s) + 1;
    d = *p;
    memcpy(d, s, n);
    *p += n;
    return d;
}

size_t lw_anomaly_strings_size(const struct lw_anomaly *a)
{
    return str_size(a->detector) + str_size(a->kind) + str_size(a->source) + str_size(a->key) +
           str_size(a->summary) + str_size(a->explanation_json) + str_size(a->samples_json);
}

void lw_anomaly_copy(struct lw_anomaly *dst, const struct lw_anomaly *src, char *buf)
{
    *dst = *src;
    dst->detector = str_put(&buf, src->detector);
    dst->kind = str_put(&buf, src->kind);
    dst->source = str_put(&buf, src->source);
    dst->key = str_put(&buf, src->key);
    dst->summary = str_put(&buf, src->summary);
    dst->explanation_json = str_put(&buf, src->explanation_json);
    dst->samples_json = str_put(&buf, src->samples_json);
}
