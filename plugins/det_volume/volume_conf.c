/* det_volume's configuration section, detect.volume (docs/config.md, docs/detectors.md). */
#include <math.h>

#include "lw/lw_conf.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "volume_conf.h"

const char *const volume_conf_keys[] = {
    "enabled", "window", "warmup_windows", "max_series", "per_source", "min_count", "min_ratio",
    NULL,
};

int volume_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                     struct lw_detect_conf *conf, struct lw_conf_err *err)
{
    int rc;

    if ((rc = lw_conf_bool(c, sec, "enabled", &conf->volume.enabled, err)) < 0 ||
        (rc = lw_conf_duration(c, sec, "window", 1, &conf->volume.window_ns, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "warmup_windows", 0, UINT64_MAX,
                            &conf->volume.warmup_windows, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_series", 1, UINT64_MAX, &conf->volume.max_series,
                            err)) < 0 ||
        (rc = lw_conf_bool(c, sec, "per_source", &conf->volume.per_source, err)) < 0 ||
        (rc = lw_conf_uint(c, sec, "min_count", 0, UINT64_MAX, &conf->volume.min_count,
                           err)) < 0 ||
        (rc = lw_conf_number(c, sec, "min_ratio", 0, false, HUGE_VAL, "a number, 0 or more",
                             &conf->volume.min_ratio, err)) < 0) {
        return rc;
    }
    return LW_OK;
}
