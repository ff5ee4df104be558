/* out_webhook's keys in an entry of alerts.sinks (docs/config.md, docs/alerts.md). */
#include <string.h>

#include "lw/lw_alert.h"
#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "webhook_conf.h"

const char *const webhook_conf_keys[] = {
    "url", "format", "token", "spool_dir", "spool_max", "timeout", "backoff_min", "backoff_max",
    NULL,
};

static bool url_ok(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 && u[7] != '\0') ||
           (strncmp(u, "https://", 8) == 0 && u[8] != '\0');
}

/* Copies the string at @key, if any, into *@dst (owned by the alert configuration). */
static int take(const struct lw_conf *c, const struct lw_conf_node *entry, const char *key,
                char **dst, struct lw_conf_err *err)
{
    const char *v = NULL;
    int rc = lw_conf_str(c, entry, key, &v, err);

    if (rc != 1) {
        return rc;
    }
    lw_free(*dst);
    *dst = lw_strdup(v);
    return *dst != NULL ? LW_OK : lw_conf_errf(c, entry, err, "out of memory");
}

int webhook_conf_read(const struct lw_conf *c, const struct lw_conf_node *entry,
                      struct lw_sink_conf *out, struct lw_conf_err *err)
{
    const char *v = NULL;
    int rc;

    rc = lw_conf_str(c, entry, "url", &v, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 0) {
        return lw_conf_errf(c, entry, err, "a webhook sink needs a url");
    }
    if (!url_ok(v)) {
        return lw_conf_bad(c, lw_conf_get(entry, "url"), err,
                           "a URL starting with http:// or https://");
    }
    v = NULL;
    if ((rc = lw_conf_str(c, entry, "format", &v, err)) < 0) {
        return rc;
    }
    if (rc == 1 && strcmp(v, "json") != 0 && strcmp(v, "alertmanager") != 0) {
        return lw_conf_bad(c, lw_conf_get(entry, "format"), err, "json or alertmanager");
    }
    out->format = rc == 1 && strcmp(v, "alertmanager") == 0 ? LW_WEBHOOK_ALERTMANAGER
                                                            : LW_WEBHOOK_JSON;
    if ((rc = take(c, entry, "url", &out->url, err)) < 0 ||
        (rc = take(c, entry, "token", &out->token, err)) < 0 ||
        (rc = take(c, entry, "spool_dir", &out->spool_dir, err)) < 0 ||
        (rc = lw_conf_size(c, entry, "spool_max", &out->spool_max_bytes, err)) < 0 ||
        (rc = lw_conf_duration(c, entry, "timeout", 1, &out->timeout_ns, err)) < 0 ||
        (rc = lw_conf_duration(c, entry, "backoff_min", 1, &out->backoff_min_ns, err)) < 0 ||
        (rc = lw_conf_duration(c, entry, "backoff_max", 1, &out->backoff_max_ns, err)) < 0) {
        return rc;
    }
    if (out->backoff_min_ns > 0 && out->backoff_max_ns > 0 &&
        out->backoff_min_ns > out->backoff_max_ns) {
        return lw_conf_errf(c, entry, err, "backoff_min is longer than backoff_max");
    }
    return LW_OK;
}
