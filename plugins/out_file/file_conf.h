/* out_file: its configuration section's keys and reader (file_conf.c). */
#ifndef OUT_FILE_CONF_H
#define OUT_FILE_CONF_H

#include "lw/lw_alert.h"
#include "lw/lw_conf.h"

extern const char *const file_conf_keys[];
int file_conf_read(const struct lw_conf *c, const struct lw_conf_node *entry,
                   struct lw_sink_conf *out, struct lw_conf_err *err);

#endif
