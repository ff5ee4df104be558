/*
 * Configuration keys that several inputs share (lw_plugin.h): the multi-line joining of tail,
 * stdin and HTTP text bodies. Each input's own keys are read by the input (plugins/in_<name>/).
 */
#include <stddef.h>

#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_plugin.h"

int lw_input_conf_multiline(const struct lw_conf *c, const struct lw_conf_node *section,
                            struct lw_multiline_conf *m, struct lw_conf_err *err)
{
    const char *mode = NULL;
    const char *regex = NULL;
    int rc;

    rc = lw_conf_str(c, section, "multiline", &mode, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1 && lw_multiline_mode_parse(mode, &m->mode) < 0) {
        return lw_conf_bad(c, lw_conf_get(section, "multiline"), err,
                           "auto, off, regex or start");
    }
    rc = lw_conf_str(c, section, "multiline_regex", &regex, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        if (regex[0] == '\0') {
            return lw_conf_errf(c, lw_conf_get(section, "multiline_regex"), err,
                                "the pattern is empty");
        }
        m->regex = regex;
    }
    rc = lw_conf_usize(c, section, "max_multiline_lines", 1, LW_INPUT_MAX_MULTILINE_LINES,
                       &m->max_lines, err);
    return rc < 0 ? rc : LW_OK;
}
