/* det_sequence's configuration section (sequence_conf.c), for the plugin's registration. */
#ifndef DET_SEQUENCE_CONF_H
#define DET_SEQUENCE_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_detect.h"

extern const char *const sequence_conf_keys[];
int sequence_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_detect_conf *conf, struct lw_conf_err *err);

#endif
