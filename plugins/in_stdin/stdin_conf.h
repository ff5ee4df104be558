/* in_stdin: its configuration section's keys and reader (stdin_conf.c). */
#ifndef IN_STDIN_CONF_H
#define IN_STDIN_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_plugin.h"

extern const char *const stdin_conf_keys[];
int stdin_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                 struct lw_input_conf *conf, struct lw_conf_err *err);

#endif
