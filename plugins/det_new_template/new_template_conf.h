/* det_new_template: its configuration section's keys and reader (new_template_conf.c). */
#ifndef DET_NEW_TEMPLATE_CONF_H
#define DET_NEW_TEMPLATE_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_detect.h"

extern const char *const new_template_conf_keys[];
int new_template_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_detect_conf *conf, struct lw_conf_err *err);

#endif
