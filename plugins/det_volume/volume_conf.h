/* det_volume: its configuration section's keys and reader (volume_conf.c). */
#ifndef DET_VOLUME_CONF_H
#define DET_VOLUME_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_detect.h"

extern const char *const volume_conf_keys[];
int volume_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_detect_conf *conf, struct lw_conf_err *err);

#endif
