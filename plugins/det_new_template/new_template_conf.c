/* det_new_template's configuration section, detect.new_template (docs/config.md). */
#include "lw/lw_conf.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "new_template_conf.h"

const char *const new_template_conf_keys[] = {"enabled", "warmup_lines", "warmup", NULL};

int new_template_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                           struct lw_detect_conf *conf, struct lw_conf_err *err)
{
    int rc;

    if ((rc = lw_conf_bool(c, sec, "enabled", &conf->new_template.enabled, err)) < 0 ||
        (rc = lw_conf_uint(c, sec, "warmup_lines", 0, UINT64_MAX,
                           &conf->new_template.warmup_lines, err)) < 0 ||
        (rc = lw_conf_duration(c, sec, "warmup", 0, &conf->new_template.warmup_ns, err)) < 0) {
        return rc;
    }
    return LW_OK;
}
