/* det_level's configuration section, detect.level (docs/config.md, docs/detectors.md). */
#include "lw/lw_conf.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "level_conf.h"

const char *const level_conf_keys[] = {
    "enabled", "warmup_windows", "max_sources", "min_count", NULL,
};

int level_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                    struct lw_detect_conf *conf, struct lw_conf_err *err)
{
    int rc;

    if ((rc = lw_conf_bool(c, sec, "enabled", &conf->level.enabled, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "warmup_windows", 0, UINT64_MAX,
                            &conf->level.warmup_windows, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_sources", 1, UINT64_MAX, &conf->level.max_sources,
                            err)) < 0 ||
        (rc = lw_conf_uint(c, sec, "min_count", 0, UINT64_MAX, &conf->level.min_count,
                           err)) < 0) {
        return rc;
    }
    return LW_OK;
}
