/*
 * Parameter parsing for the query API (api_params.h). Everything here reads untrusted query
 * strings: each parser checks every character, bounds every number before it multiplies, and
 * returns LW_EINVAL rather than guessing, so that the API can answer 400 naming the parameter.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/api_params.h"
#include "lw/lw_err.h"
#include "lw/lw_header.h"

#define NS_PER_S 1000000000LL

/* Reads decimal digits at *@p into *@out (no sign); LW_EINVAL when none or on overflow. */
static int read_digits(const char **p, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;

    if (!isdigit((unsigned char)*s)) {
        return LW_EINVAL;
    }
    while (isdigit((unsigned char)*s)) {
        int d = *s - '0';

        if (v > (INT64_MAX - d) / 10) {
            return LW_EINVAL;
        }
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return LW_OK;
}

int lw_api_parse_duration(const char *s, int64_t *out_ns)
{
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {
        {"ms", 1000000LL},        {"s", NS_PER_S},           {"m", 60 * NS_PER_S},
        {"h", 3600 * NS_PER_S},   {"d", 86400 * NS_PER_S},   {"w", 7 * 86400 * NS_PER_S},
        {"", NS_PER_S},
    };
    const char *p = s;
    int64_t v;
    size_t i;

    if (s == NULL || read_digits(&p, &v) != LW_OK || v <= 0) {
        return LW_EINVAL;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].ns) {
                return LW_EINVAL;
            }
            *out_ns = v * units[i].ns;
            return LW_OK;
        }
    }
    return LW_EINVAL;
}

/* Exactly @n digits at *@p. */
static int fixed_digits(const char **p, int n, int *out)
{
    int v = 0;
    int i;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) {
            return LW_EINVAL;
        }
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return LW_OK;
}

/*
 * A fraction of a second at *@p: nothing, or '.' and at least one digit (digits past the
 * ninth are read and dropped). Adds the nanoseconds to *@ns.
 */
static int read_fraction(const char **p, int64_t *ns)
{
    int64_t scale = NS_PER_S / 10;
    const char *s = *p;

    if (*s != '.') {
        return LW_OK;
    }
    s++;
    if (!isdigit((unsigned char)*s)) {
        return LW_EINVAL;
    }
    while (isdigit((unsigned char)*s)) {
        *ns += (*s - '0') * scale;
        scale /= 10;
        s++;
    }
    *p = s;
    return LW_OK;
}

static int parse_rfc3339(const char *s, int64_t *out_ns)
{
    const char *p = s;
    int y, mo, d, h, mi, sec;
    int64_t nsec = 0;
    int64_t ts;
    int64_t off_s = 0;

    if (fixed_digits(&p, 4, &y) || *p++ != '-' || fixed_digits(&p, 2, &mo) || *p++ != '-' ||
        fixed_digits(&p, 2, &d)) {
        return LW_EINVAL;
    }
    if (*p != 'T' && *p != 't' && *p != ' ') {
        return LW_EINVAL;
    }
    p++;
    if (fixed_digits(&p, 2, &h) || *p++ != ':' || fixed_digits(&p, 2, &mi) || *p++ != ':' ||
        fixed_digits(&p, 2, &sec)) {
        return LW_EINVAL;
    }
    if (read_fraction(&p, &nsec) != LW_OK) {
        return LW_EINVAL;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    }
    else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;

        p++;
        if (fixed_digits(&p, 2, &oh) || *p++ != ':' || fixed_digits(&p, 2, &om) || oh > 23 ||
            om > 59) {
            return LW_EINVAL;
        }
        off_s = sign * (oh * 3600 + om * 60);
    }
    else {
        return LW_EINVAL;
    }
    if (*p != '\0' || sec > 60) {
        return LW_EINVAL;
    }
    if (sec == 60) {
        sec = 59; /* a leap second is read as the second before it */
    }
    if (lw_ts_from_civil(y, mo, d, h, mi, sec, (long)nsec, &ts) != 0) {
        return LW_EINVAL;
    }
    if ((off_s > 0 && ts < INT64_MIN + off_s * NS_PER_S) ||
        (off_s < 0 && ts > INT64_MAX + off_s * NS_PER_S)) {
        return LW_EINVAL;
    }
    *out_ns = ts - off_s * NS_PER_S;
    return LW_OK;
}

int lw_api_parse_time(const char *s, int64_t now_ns, int64_t *out_ns)
{
    const char *p;
    int64_t v;
    int64_t d;

    if (s == NULL || *s == '\0') {
        return LW_EINVAL;
    }
    if (strcmp(s, "now") == 0) {
        *out_ns = now_ns;
        return LW_OK;
    }
    if (s[0] == '-' || s[0] == '+') {
        if (lw_api_parse_duration(s + 1, &d) != LW_OK) {
            return LW_EINVAL;
        }
        if (s[0] == '-' ? now_ns < INT64_MIN + d : now_ns > INT64_MAX - d) {
            return LW_EINVAL;
        }
        *out_ns = s[0] == '-' ? now_ns - d : now_ns + d;
        return LW_OK;
    }
    if (strlen(s) >= 10 && s[4] == '-') {
        return parse_rfc3339(s, out_ns);
    }
    /* Epoch seconds, with an optional fraction. */
    p = s;
    if (read_digits(&p, &v) != LW_OK || v > INT64_MAX / NS_PER_S - 1) {
        return LW_EINVAL;
    }
    v *= NS_PER_S;
    if (read_fraction(&p, &v) != LW_OK || *p != '\0') {
        return LW_EINVAL;
    }
    *out_ns = v;
    return LW_OK;
}

int lw_api_parse_limit(const char *s, size_t def, size_t max, size_t *out)
{
    const char *p = s;
    int64_t v;

    if (s == NULL || *s == '\0') {
        *out = def;
        return LW_OK;
    }
    if (read_digits(&p, &v) != LW_OK || *p != '\0' || v < 1 || (uint64_t)v > max) {
        return LW_EINVAL;
    }
    *out = (size_t)v;
    return LW_OK;
}

int lw_api_parse_id(const char *s, int64_t *out)
{
    const char *p = s;
    int64_t v;

    if (s == NULL || read_digits(&p, &v) != LW_OK || *p != '\0' || v < 1) {
        return LW_EINVAL;
    }
    *out = v;
    return LW_OK;
}

int64_t lw_api_align_step(int64_t step_ns, int64_t window_s)
{
    int64_t w = (window_s > 0 ? window_s : 10) * NS_PER_S;

    if (step_ns <= w) {
        return w;
    }
    if (step_ns > INT64_MAX - w) {
        return step_ns / w * w;
    }
    return (step_ns + w - 1) / w * w;
}

int64_t lw_api_pick_step(int64_t from_ns, int64_t to_ns, int64_t window_s, size_t max_points)
{
    static const int64_t steps_s[] = {10,    30,    60,    300,    600,   1800,
                                      3600,  10800, 21600, 43200,  86400, 604800};
    int64_t span = to_ns > from_ns ? to_ns - from_ns : 0;
    int64_t step = 0;
    size_t i;

    if (max_points == 0) {
        max_points = 1;
    }
    for (i = 0; i < sizeof(steps_s) / sizeof(steps_s[0]); i++) {
        step = steps_s[i] * NS_PER_S;
        if (span / step + (span % step != 0) <= (int64_t)max_points) {
            break;
        }
    }
    if (i == sizeof(steps_s) / sizeof(steps_s[0])) {
        step = span / (int64_t)max_points + 1;
    }
    return lw_api_align_step(step, window_s);
}

int lw_api_cursor_encode(char *buf, size_t cap, int64_t ts, int64_t id, const char *key)
{
    static const char hex[] = "0123456789abcdef";
    int n = snprintf(buf, cap, "%lld.%lld.", (long long)ts, (long long)id);
    size_t o;

    if (n < 0 || (size_t)n >= cap) {
        return LW_EFULL;
    }
    o = (size_t)n;
    for (; key != NULL && *key != '\0'; key++) {
        if (o + 3 > cap) {
            return LW_EFULL;
        }
        buf[o++] = hex[(unsigned char)*key >> 4];
        buf[o++] = hex[(unsigned char)*key & 15];
    }
    buf[o] = '\0';
    return LW_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* A signed decimal at *@p, ended by '.'. */
static int read_signed(const char **p, int64_t *out)
{
    int neg = **p == '-';
    int64_t v;

    if (neg) {
        (*p)++;
    }
    if (read_digits(p, &v) != LW_OK || **p != '.') {
        return LW_EINVAL;
    }
    (*p)++;
    *out = neg ? -v : v;
    return LW_OK;
}

int lw_api_cursor_decode(const char *s, int64_t *ts, int64_t *id, char *key, size_t key_cap)
{
    const char *p = s;
    size_t o = 0;

    if (s == NULL || key_cap == 0 || read_signed(&p, ts) != LW_OK ||
        read_signed(&p, id) != LW_OK) {
        return LW_EINVAL;
    }
    while (*p != '\0') {
        int hi = hexval(p[0]);
        int lo = hi < 0 ? -1 : hexval(p[1]);

        if (lo < 0 || o + 1 >= key_cap || (hi == 0 && lo == 0)) {
            return LW_EINVAL;
        }
        key[o++] = (char)(hi << 4 | lo);
        p += 2;
    }
    key[o] = '\0';
    return LW_OK;
}

void lw_api_fmt_time(int64_t ns, char *buf)
{
    int64_t secs = ns / NS_PER_S;
    int64_t rem = ns % NS_PER_S;
    char tmp[96];
    struct tm tm;
    time_t t;

    if (rem < 0) {
        rem += NS_PER_S;
        secs--;
    }
    t = (time_t)secs;
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(buf, LW_API_TIME_LEN, "1970-01-01T00:00:00.000Z");
        return;
    }
    /* Through a roomy buffer: the compiler cannot see that the fields have their widths. */
    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000000));
    tmp[LW_API_TIME_LEN - 1] = '\0';
    memcpy(buf, tmp, strlen(tmp) + 1);
}
