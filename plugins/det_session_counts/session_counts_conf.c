/* det_session_counts's configuration section, detect.session_counts (docs/config.md). */
#include "lw/lw_conf.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "session_counts_conf.h"

const char *const session_counts_conf_keys[] = {
    "enabled", "warmup_sessions", "max_train", "support", "pca_alert", NULL,
};

int session_counts_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                             struct lw_detect_conf *conf, struct lw_conf_err *err)
{
    int rc;

    if ((rc = lw_conf_bool(c, sec, "enabled", &conf->session_counts.enabled, err)) < 0 ||
        (rc = lw_conf_uint(c, sec, "warmup_sessions", 0, UINT64_MAX,
                           &conf->session_counts.warmup_sessions, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_train", 1, UINT64_MAX,
                            &conf->session_counts.max_train, err)) < 0 ||
        (rc = lw_conf_number(c, sec, "support", 0, true, 1, "a number in (0, 1], such as 0.999",
                             &conf->session_counts.support, err)) < 0 ||
        (rc = lw_conf_bool(c, sec, "pca_alert", &conf->session_counts.pca_alert, err)) < 0) {
        return rc;
    }
    return LW_OK;
}
