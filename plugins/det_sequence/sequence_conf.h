/* det_sequence: its configuration section's keys and reader (sequence_conf.c). */
#ifndef DET_SEQUENCE_CONF_H
#define DET_SEQUENCE_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_detect.h"

extern const char *const sequence_conf_keys[];
int sequence_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_detect_conf *conf, struct lw_conf_err *err);

#endif
