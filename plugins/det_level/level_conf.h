/* det_level: its configuration section's keys and reader (level_conf.c). */
#ifndef DET_LEVEL_CONF_H
#define DET_LEVEL_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_detect.h"

extern const char *const level_conf_keys[];
int level_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_detect_conf *conf, struct lw_conf_err *err);

#endif
