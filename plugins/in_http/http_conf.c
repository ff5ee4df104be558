/*
 * in_http's configuration section, inputs.http (docs/config.md): the input's own keys and those
 * of the daemon's HTTP server it registers its routes on (listen address, token, limits).
 */
#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_plugin.h"
#include "http_conf.h"

#define NS 1000000000LL

const char *const http_conf_keys[] = {
    "enabled", "listen", "token", "max_body", "max_buffered", "multiline", "multiline_regex",
    "max_multiline_lines", "max_connections", "max_connections_per_ip", "idle_timeout", NULL,
};

int http_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_input_conf *conf, struct lw_conf_err *err)
{
    struct lw_in_http_conf *h = &conf->http;
    const char *listen = NULL;
    bool en = true;
    int64_t d = 0;
    int rc;

    if ((rc = lw_conf_bool(c, sec, "enabled", &en, err)) < 0 ||
        (rc = lw_conf_str(c, sec, "listen", &listen, err)) < 0) {
        return rc;
    }
    if (!en) {
        h->addr = NULL;
    }
    else if (listen != NULL) {
        h->addr = listen;
    }
    if ((rc = lw_conf_str(c, sec, "token", &h->token, err)) < 0 ||
        (rc = lw_conf_size(c, sec, "max_body", &h->max_body_bytes, err)) < 0 ||
        (rc = lw_conf_size(c, sec, "max_buffered", &h->max_buffered_bytes, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_connections", 1, 65536, &h->max_connections, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_connections_per_ip", 1, 65536,
                            &h->max_connections_per_ip, err)) < 0 ||
        (rc = lw_conf_duration(c, sec, "idle_timeout", 1, &d, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        if (d < NS || d > 3600 * NS) {
            return lw_conf_bad(c, lw_conf_get(sec, "idle_timeout"), err,
                               "a duration from 1s to 1h");
        }
        h->idle_timeout_s = (unsigned)(d / NS);
    }
    return lw_input_conf_multiline(c, sec, &h->multiline, err);
}
