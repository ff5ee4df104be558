/* in_tail's configuration section, inputs.tail (docs/config.md). */
#include <limits.h>
#include <string.h>

#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_plugin.h"
#include "tail_conf.h"

#define MAX_PATTERNS 64
#define MAX_ROTATE 16

const char *const tail_conf_keys[] = {
    "paths", "start_at", "poll_interval", "multiline", "multiline_regex",
    "max_multiline_lines", "rotate_patterns", "skip_gzip", "rotate_wait", NULL,
};

int tail_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_input_conf *conf, struct lw_conf_err *err)
{
    struct lw_in_tail_conf *t = &conf->tail;
    const char *const *list = NULL;
    const char *s = NULL;
    int64_t d = 0;
    size_t n = 0;
    int rc;

    rc = lw_conf_strlist(c, sec, "paths", MAX_PATTERNS, "a list of paths", &list, &n, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        t->patterns = list;
        t->n_patterns = n;
    }
    rc = lw_conf_str(c, sec, "start_at", &s, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        if (strcmp(s, "end") != 0 && strcmp(s, "beginning") != 0) {
            return lw_conf_bad(c, lw_conf_get(sec, "start_at"), err, "'beginning' or 'end'");
        }
        t->from_end = strcmp(s, "end") == 0;
    }
    rc = lw_conf_duration(c, sec, "poll_interval", 1, &d, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        t->poll_ms = (unsigned)(d / 1000000 > UINT_MAX ? UINT_MAX : d / 1000000);
    }
    rc = lw_input_conf_multiline(c, sec, &t->multiline, err);
    if (rc < 0) {
        return rc;
    }
    /* The list replaces the defaults; an empty one ([]) keeps them (docs/config.md). */
    rc = lw_conf_strlist(c, sec, "rotate_patterns", MAX_ROTATE, "a list of patterns", &list, &n,
                         err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1 && n > 0) {
        const struct lw_conf_node *it = lw_conf_get(sec, "rotate_patterns")->child;

        for (; it != NULL; it = it->next) {
            if (it->value[0] == '\0') {
                return lw_conf_errf(c, it, err, "the pattern is empty");
            }
        }
        t->rotate_patterns = list;
        t->n_rotate_patterns = n;
    }
    rc = lw_conf_bool(c, sec, "skip_gzip", &t->skip_gzip, err);
    if (rc < 0) {
        return rc;
    }
    rc = lw_conf_duration(c, sec, "rotate_wait", 1, &d, err);
    if (rc < 0) {
        return rc;
    }
    if (rc == 1) {
        if (d < 1000000 || d / 1000000 > UINT_MAX) {
            return lw_conf_bad(c, lw_conf_get(sec, "rotate_wait"), err,
                               "a duration from 1ms to 49d");
        }
        t->rotate_wait_ms = (unsigned)(d / 1000000);
    }
    return LW_OK;
}
