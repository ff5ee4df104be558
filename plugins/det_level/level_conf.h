/* det_level's configuration section (level_conf.c), for the plugin's registration. */
#ifndef DET_LEVEL_CONF_H
#define DET_LEVEL_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_detect.h"

extern const char *const level_conf_keys[];
int level_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_detect_conf *conf, struct lw_conf_err *err);

#endif
