/*
 * The program's own diagnostics: plain, greppable lines on stderr,
 * "2026-11-25T18:04:33Z warn  parse: line 12 truncated". Thread-safe (one write(2) per line).
 */
#ifndef LW_LOG_H
#define LW_LOG_H

enum lw_log_level {
    LW_LOG_ERROR = 0,
    LW_LOG_WARN,
    LW_LOG_INFO,
    LW_LOG_DEBUG,
};

/* Sets the most verbose level that is printed (default LW_LOG_INFO). */
void lw_log_set_level(enum lw_log_level level);
/* Parses "error", "warn", "info" or "debug"; returns the level or -1. */
int lw_log_level_parse(const char *s);
void lw_log(enum lw_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define lw_error(comp, ...) lw_log(LW_LOG_ERROR, comp, __VA_ARGS__)
#define lw_warn(comp, ...)  lw_log(LW_LOG_WARN, comp, __VA_ARGS__)
#define lw_info(comp, ...)  lw_log(LW_LOG_INFO, comp, __VA_ARGS__)
#define lw_debug(comp, ...) lw_log(LW_LOG_DEBUG, comp, __VA_ARGS__)

#endif
