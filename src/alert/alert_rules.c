/*
 * Feedback rules as the alert manager holds them (lw_alert.h): a small immutable set, built by
 * the daemon from the store's rules table and swapped in whole by lw_alerter_set_rules(), so
 * that the submitting thread only ever reads a set nobody changes. A finding matches a rule
 * when every field the rule sets (template, source, detector) equals the finding's and the rule
 * has not expired (wall clock). Sets are small (rules are made by hand): a linear walk.
 */
#include <stdint.h>
#include <string.h>

#include "lw/lw_alert.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define RULES_MAX 10000

struct rule {
    int64_t id;
    uint32_t template_id;          /* 0: any */
    char *source;                  /* NULL: any */
    char *detector;                /* NULL: any */
    int64_t expires_ns;            /* 0: never */
    bool expected;                 /* kind "expected" (else "false_positive") */
};

struct lw_alert_rules {
    struct rule *v;
    size_t n;
    size_t cap;
};

struct lw_alert_rules *lw_alert_rules_create(void)
{
    return lw_calloc(1, sizeof(struct lw_alert_rules));
}

void lw_alert_rules_destroy(struct lw_alert_rules *rs)
{
    size_t i;

    if (rs == NULL) {
        return;
    }
    for (i = 0; i < rs->n; i++) {
        lw_free(rs->v[i].source);
        lw_free(rs->v[i].detector);
    }
    lw_free(rs->v);
    lw_free(rs);
}

int lw_alert_rules_add(struct lw_alert_rules *rs, int64_t id, const char *kind,
                       uint32_t template_id, const char *source, const char *detector,
                       int64_t expires_ns)
{
    struct rule *r;

    if (template_id == 0 && source == NULL && detector == NULL) {
        return LW_EINVAL; /* a rule without a scope would mute everything */
    }
    if (rs->n == RULES_MAX) {
        return LW_EFULL;
    }
    if (rs->n == rs->cap) {
        size_t nc = rs->cap ? rs->cap * 2 : 16;
        struct rule *nv = lw_realloc(rs->v, nc * sizeof(*nv));

        if (nv == NULL) {
            return LW_ENOMEM;
        }
        rs->v = nv;
        rs->cap = nc;
    }
    r = &rs->v[rs->n];
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->template_id = template_id;
    r->expires_ns = expires_ns;
    r->expected = kind != NULL && strcmp(kind, "expected") == 0;
    if ((source != NULL && (r->source = lw_strdup(source)) == NULL) ||
        (detector != NULL && (r->detector = lw_strdup(detector)) == NULL)) {
        lw_free(r->source);
        return LW_ENOMEM;
    }
    rs->n++;
    return LW_OK;
}

size_t lw_alert_rules_count(const struct lw_alert_rules *rs)
{
    return rs != NULL ? rs->n : 0;
}

int64_t lw_alert_rules_match(const struct lw_alert_rules *rs, const struct lw_anomaly *a,
                             int64_t wall_now_ns)
{
    size_t i;

    if (rs == NULL) {
        return 0;
    }
    for (i = 0; i < rs->n; i++) {
        const struct rule *r = &rs->v[i];

        if (r->expires_ns != 0 && r->expires_ns <= wall_now_ns) {
            continue;
        }
        if (r->template_id != 0 && r->template_id != a->template_id) {
            continue;
        }
        if (r->source != NULL && (a->source == NULL || strcmp(r->source, a->source) != 0)) {
            continue;
        }
        if (r->detector != NULL &&
            (a->detector == NULL || strcmp(r->detector, a->detector) != 0)) {
            continue;
        }
        return r->id;
    }
    return 0;
}
