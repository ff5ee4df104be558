/* in_syslog: its configuration section's keys and reader (syslog_conf.c). */
#ifndef IN_SYSLOG_CONF_H
#define IN_SYSLOG_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_plugin.h"

extern const char *const syslog_conf_keys[];
int syslog_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                 struct lw_input_conf *conf, struct lw_conf_err *err);

#endif
