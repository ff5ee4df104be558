/*
 * Severity words and syslog severities mapped onto enum lw_level (see lw_level.h). Every header
 * parser calls lw_level_parse() once per line, so the lookup lower-cases at most 8 bytes into a
 * stack buffer and compares against a short table; there is no allocation and no locale use.
 */
#include <string.h>

#include "lw/lw_level.h"

struct level_word {
    const char *word; /* lower case */
    size_t len;       /* strlen(word) */
    enum lw_level level;
};

#define W(s, l) {s, sizeof(s) - 1, l}

static const struct level_word words[] = {
    W("info", LW_LEVEL_INFO),       W("i", LW_LEVEL_INFO),          W("information", LW_LEVEL_INFO),
    W("informational", LW_LEVEL_INFO),
    W("warn", LW_LEVEL_WARN),       W("warning", LW_LEVEL_WARN),    W("w", LW_LEVEL_WARN),
    W("error", LW_LEVEL_ERROR),     W("err", LW_LEVEL_ERROR),       W("e", LW_LEVEL_ERROR),
    W("fatal", LW_LEVEL_FATAL),     W("crit", LW_LEVEL_FATAL),
    W("critical", LW_LEVEL_FATAL),  W("emerg", LW_LEVEL_FATAL),     W("emergency", LW_LEVEL_FATAL),
    W("alert", LW_LEVEL_FATAL),     W("panic", LW_LEVEL_FATAL),     W("severe", LW_LEVEL_ERROR),
    W("failure", LW_LEVEL_ERROR),
    W("debug", LW_LEVEL_DEBUG),     W("d", LW_LEVEL_DEBUG),         W("dbg", LW_LEVEL_DEBUG),
    W("fine", LW_LEVEL_DEBUG),      W("finer", LW_LEVEL_TRACE),     W("finest", LW_LEVEL_TRACE),
    W("trace", LW_LEVEL_TRACE),     W("verbose", LW_LEVEL_TRACE),   W("v", LW_LEVEL_TRACE),
    W("notice", LW_LEVEL_NOTICE),
};

enum lw_level lw_level_parse(const char *s, size_t len)
{
    char low[16];
    size_t i;

    if (s == NULL || len == 0 || len >= sizeof(low)) {
        return LW_LEVEL_UNKNOWN;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c + ('a' - 'A'));
        }
        else if (c < 'a' || c > 'z') {
            return LW_LEVEL_UNKNOWN;
        }
        low[i] = (char)c;
    }
    low[len] = '\0';
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        /* First byte and length before the compare: most lines reject in one branch. */
        if (words[i].len == len && words[i].word[0] == low[0] &&
            memcmp(words[i].word, low, len) == 0) {
            return words[i].level;
        }
    }
    return LW_LEVEL_UNKNOWN;
}

enum lw_level lw_level_from_syslog(int severity)
{
    switch (severity) {
    case 0: /* emerg */
    case 1: /* alert */
    case 2: /* crit */
        return LW_LEVEL_FATAL;
    case 3:
        return LW_LEVEL_ERROR;
    case 4:
        return LW_LEVEL_WARN;
    case 5:
        return LW_LEVEL_NOTICE;
    case 6:
        return LW_LEVEL_INFO;
    case 7:
        return LW_LEVEL_DEBUG;
    default:
        return LW_LEVEL_UNKNOWN;
    }
}

const char *lw_level_name(enum lw_level level)
{
    switch (level) {
    case LW_LEVEL_TRACE:
        return "trace";
    case LW_LEVEL_DEBUG:
        return "debug";
    case LW_LEVEL_INFO:
        return "info";
    case LW_LEVEL_NOTICE:
        return "notice";
    case LW_LEVEL_WARN:
        return "warn";
    case LW_LEVEL_ERROR:
        return "error";
    case LW_LEVEL_FATAL:
        return "fatal";
    default:
        return "";
    }
}
