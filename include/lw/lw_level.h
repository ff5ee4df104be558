/*
 * Normalised severity levels. Every header parser maps what it finds ("WARNING", "warn", "W",
 * syslog severity 4, "err", "FATAL", ...) onto these.
 */
#ifndef LW_LEVEL_H
#define LW_LEVEL_H

#include <stddef.h>

enum lw_level {
    LW_LEVEL_UNKNOWN = 0,
    LW_LEVEL_TRACE,
    LW_LEVEL_DEBUG,
    LW_LEVEL_INFO,
    LW_LEVEL_NOTICE,
    LW_LEVEL_WARN,
    LW_LEVEL_ERROR,
    LW_LEVEL_FATAL,
};

/* Maps a level word (any case) to a level; LW_LEVEL_UNKNOWN when it is not one. */
enum lw_level lw_level_parse(const char *s, size_t len);
/* Maps a syslog severity 0..7 to a level. */
enum lw_level lw_level_from_syslog(int severity);
/* Returns "trace", "debug", "info", "notice", "warn", "error", "fatal" or "" (unknown). */
const char *lw_level_name(enum lw_level level);

#endif
