/* in_syslog's configuration section, inputs.syslog (docs/config.md). */
#include <limits.h>

#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_plugin.h"
#include "syslog_conf.h"

#define NS 1000000000LL

const char *const syslog_conf_keys[] = {
    "enabled", "listen", "udp", "tcp", "max_connections", "idle_timeout", "udp_rcvbuf", NULL,
};

int syslog_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                     struct lw_input_conf *conf, struct lw_conf_err *err)
{
    struct lw_in_syslog_conf *s = &conf->syslog;
    const char *listen = NULL;
    bool en = true;
    int64_t d = 0;
    int rc;

    if ((rc = lw_conf_bool(c, sec, "enabled", &en, err)) < 0 ||
        (rc = lw_conf_bool(c, sec, "udp", &s->udp, err)) < 0 ||
        (rc = lw_conf_bool(c, sec, "tcp", &s->tcp, err)) < 0 ||
        (rc = lw_conf_str(c, sec, "listen", &listen, err)) < 0) {
        return rc;
    }
    /* enabled: false turns the listener off; listen is then ignored. */
    if (!en) {
        s->addr = NULL;
    }
    else if (listen != NULL) {
        s->addr = listen;
    }
    if ((rc = lw_conf_usize(c, sec, "max_connections", 1, SIZE_MAX, &s->max_connections,
                            err)) < 0 ||
        (rc = lw_conf_duration(c, sec, "idle_timeout", 1, &d, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        s->idle_timeout_s = (unsigned)(d / NS > UINT_MAX ? UINT_MAX : d / NS);
    }
    rc = lw_conf_size(c, sec, "udp_rcvbuf", &s->udp_rcvbuf_bytes, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1 && s->udp_rcvbuf_bytes > (size_t)INT_MAX) {
        return lw_conf_bad(c, lw_conf_get(sec, "udp_rcvbuf"), err, "a size up to 2GiB");
    }
    return LW_OK;
}
