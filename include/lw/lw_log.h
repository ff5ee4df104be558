/*
 * The program's own diagnostics: plain, greppable lines on stderr,
 * "2026-11-25T18:04:33Z warn  parse: line 12 truncated". Thread-safe (one write(2) per line).
 */
#ifndef LW_LOG_H
#define LW_LOG_H

#include <stdint.h>

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

/*
 * A rate limit for a warning that a client can provoke at will (a refused connection, a bad
 * datagram): at most one line per interval, and that line says how many were held back since
 * the one before. Zero-initialise, then set every_ns. Thread-safe (lock-free).
 */
struct lw_log_limit {
    int64_t every_ns;                  /* at most one line per this much (monotonic) time */
    _Atomic int64_t next_ns;           /* when the next line may be printed */
    _Atomic uint64_t suppressed;       /* held back since the last line printed */
};

/*
 * Whether a line may be printed now. When it may, returns 1 and sets *@suppressed (may be NULL)
 * to the lines held back since the last one printed (and resets that count); else returns 0 and
 * counts this one as held back.
 */
int lw_log_limit_pass(struct lw_log_limit *l, uint64_t *suppressed);

#define lw_error(comp, ...) lw_log(LW_LOG_ERROR, comp, __VA_ARGS__)
#define lw_warn(comp, ...)  lw_log(LW_LOG_WARN, comp, __VA_ARGS__)
#define lw_info(comp, ...)  lw_log(LW_LOG_INFO, comp, __VA_ARGS__)
#define lw_debug(comp, ...) lw_log(LW_LOG_DEBUG, comp, __VA_ARGS__)

#endif
