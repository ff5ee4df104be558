/* det_params's configuration section, detect.params (docs/config.md, docs/detectors.md). */
#include "lw/lw_conf.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "params_conf.h"

const char *const params_conf_keys[] = {
    "enabled", "warmup_values", "max_places", "max_values", NULL,
};

int params_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                     struct lw_detect_conf *conf, struct lw_conf_err *err)
{
    int rc;

    if ((rc = lw_conf_bool(c, sec, "enabled", &conf->params.enabled, err)) < 0 ||
        (rc = lw_conf_uint(c, sec, "warmup_values", 0, UINT64_MAX,
                           &conf->params.warmup_values, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_places", 1, UINT64_MAX, &conf->params.max_places,
                            err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_values", 1, UINT64_MAX, &conf->params.max_values,
                            err)) < 0) {
        return rc;
    }
    return LW_OK;
}
