/* in_tail: its configuration section's keys and reader (tail_conf.c). */
#ifndef IN_TAIL_CONF_H
#define IN_TAIL_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_plugin.h"

extern const char *const tail_conf_keys[];
int tail_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_input_conf *conf, struct lw_conf_err *err);

#endif
