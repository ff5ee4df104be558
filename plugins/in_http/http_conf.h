/* in_http: its configuration section's keys and reader (http_conf.c). */
#ifndef IN_HTTP_CONF_H
#define IN_HTTP_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_plugin.h"

extern const char *const http_conf_keys[];
int http_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                 struct lw_input_conf *conf, struct lw_conf_err *err);

#endif
