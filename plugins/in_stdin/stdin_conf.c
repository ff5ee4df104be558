/* in_stdin's configuration section, inputs.stdin (docs/config.md). */
#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_plugin.h"
#include "stdin_conf.h"

const char *const stdin_conf_keys[] = {
    "enabled", "multiline", "multiline_regex", "max_multiline_lines", NULL,
};

int stdin_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                    struct lw_input_conf *conf, struct lw_conf_err *err)
{
    int rc = lw_conf_bool(c, sec, "enabled", &conf->in_stdin.enabled, err);

    return rc < 0 ? rc : lw_input_conf_multiline(c, sec, &conf->in_stdin.multiline, err);
}
