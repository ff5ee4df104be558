/* det_session_counts: its configuration section's keys and reader (session_counts_conf.c). */
#ifndef DET_SESSION_COUNTS_CONF_H
#define DET_SESSION_COUNTS_CONF_H

#include "lw/lw_conf.h"
#include "lw/lw_detect.h"

extern const char *const session_counts_conf_keys[];
int session_counts_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                   struct lw_detect_conf *conf, struct lw_conf_err *err);

#endif
