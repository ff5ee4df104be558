/* Plain stderr logging (see lw_log.h). Each line is formatted into a buffer and written at once. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lw/lw_log.h"

static enum lw_log_level max_level = LW_LOG_INFO;
static const char *const names[] = {"error", "warn ", "info ", "debug"};

void lw_log_set_level(enum lw_log_level level)
{
    max_level = level;
}

int lw_log_level_parse(const char *s)
{
    if (strcmp(s, "error") == 0) {
        return LW_LOG_ERROR;
    }
    if (strcmp(s, "warn") == 0 || strcmp(s, "warning") == 0) {
        return LW_LOG_WARN;
    }
    if (strcmp(s, "info") == 0) {
        return LW_LOG_INFO;
    }
    if (strcmp(s, "debug") == 0) {
        return LW_LOG_DEBUG;
    }
    return -1;
}

void lw_log(enum lw_log_level level, const char *component, const char *fmt, ...)
{
    char buf[2048];
    struct tm tm;
    time_t now;
    va_list ap;
    int n;
    int m;

    if (level > max_level) {
        return;
    }
    now = time(NULL);
    gmtime_r(&now, &tm);
    n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ %s %s: ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, names[level],
                 component);
    va_start(ap, fmt);
    m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) {
        m = 0;
    }
    n += m;
    if ((size_t)n > sizeof(buf) - 2) {
        n = (int)sizeof(buf) - 2;
    }
    buf[n++] = '\n';
    (void)!write(STDERR_FILENO, buf, (size_t)n);
}

int lw_log_limit_pass(struct lw_log_limit *l, uint64_t *suppressed)
{
    struct timespec ts;
    int64_t now;
    int64_t next;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
    next = atomic_load(&l->next_ns);
    /* One thread wins the interval; the others count themselves as held back. */
    if (now < next || !atomic_compare_exchange_strong(&l->next_ns, &next, now + l->every_ns)) {
        atomic_fetch_add(&l->suppressed, 1);
        return 0;
    }
    if (suppressed != NULL) {
        *suppressed = atomic_exchange(&l->suppressed, 0);
    }
    else {
        atomic_store(&l->suppressed, 0);
    }
    return 1;
}
