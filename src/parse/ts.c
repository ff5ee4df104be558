/*
 * Timestamp parsing (see lw_header.h): recognises the common log timestamp styles by their shape
 * and turns them into epoch nanoseconds UTC. The date math is done here (days_from_civil, after
 * Howard Hinnant's public-domain algorithm) instead of with mktime()/timegm(): those consult the
 * time zone globals, take a lock in glibc and cost far more than the parse itself. A timestamp
 * without a zone is taken as UTC.
 *
 * Every reader checks the length before touching a byte; nothing here reads past @len.
 */
#include <stdint.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"

#define NS_PER_S INT64_C(1000000000)

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Days since 1970-01-01 of a proleptic Gregorian date; valid for any int32 year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era;
    int64_t yoe;
    int64_t doy;
    int64_t doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int year, int month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) {
        return 29;
    }
    return dim[month - 1];
}

int lw_ts_from_civil(int year, int month, int day, int hour, int min, int sec, long nsec,
                     int64_t *ts_ns)
{
    int64_t secs;

    /* int64 nanoseconds span 1677-09-21 .. 2262-04-11; keep to whole years inside that. */
    if (year < 1678 || year > 2261 || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour < 0 || hour > 24 || min < 0 || min > 59 ||
        sec < 0 || sec > 60 || nsec < 0 || nsec >= NS_PER_S) {
        return LW_EINVAL;
    }
    secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    *ts_ns = secs * NS_PER_S + nsec;
    return LW_OK;
}

/* Month from a three-letter English abbreviation (any case): 1..12, or 0. */
static int month3(const char *s, size_t len)
{
    static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    char a;
    char b;
    char c;
    int i;

    if (len < 3) {
        return 0;
    }
    a = (char)(s[0] | 0x20);
    b = (char)(s[1] | 0x20);
    c = (char)(s[2] | 0x20);
    for (i = 0; i < 12; i++) {
        if (names[i * 3] == a && names[i * 3 + 1] == b && names[i * 3 + 2] == c) {
            return i + 1;
        }
    }
    return 0;
}

static int weekday3(const char *s, size_t len)
{
    static const char names[] = "montuewedthufrisatsun";
    char a;
    char b;
    char c;
    int i;

    if (len < 3) {
        return 0;
    }
    a = (char)(s[0] | 0x20);
    b = (char)(s[1] | 0x20);
    c = (char)(s[2] | 0x20);
    for (i = 0; i < 7; i++) {
        if (names[i * 3] == a && names[i * 3 + 1] == b && names[i * 3 + 2] == c) {
            return 1;
        }
    }
    return 0;
}

/* Reads exactly @n digits at @*pos; returns the value or -1. */
static int digits(const char *s, size_t len, size_t *pos, int n)
{
    int v = 0;
    int i;

    if (*pos + (size_t)n > len) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[*pos + (size_t)i];

        if (!is_digit(c)) {
            return -1;
        }
        v = v * 10 + (c - '0');
    }
    *pos += (size_t)n;
    return v;
}

/* Reads 1 or 2 digits. */
static int digits12(const char *s, size_t len, size_t *pos)
{
    int v;

    if (*pos >= len || !is_digit((unsigned char)s[*pos])) {
        return -1;
    }
    v = s[(*pos)++] - '0';
    if (*pos < len && is_digit((unsigned char)s[*pos])) {
        v = v * 10 + (s[(*pos)++] - '0');
    }
    return v;
}

/* Optional fraction after '.' or ',' (at @*pos): returns nanoseconds, advances past digits. */
static long fraction(const char *s, size_t len, size_t *pos)
{
    long ns = 0;
    long scale = 100000000;
    size_t p = *pos;

    if (p + 1 >= len || (s[p] != '.' && s[p] != ',') || !is_digit((unsigned char)s[p + 1])) {
        return 0;
    }
    p++;
    while (p < len && is_digit((unsigned char)s[p])) {
        ns += (s[p] - '0') * scale;
        scale /= 10;
        p++;
    }
    *pos = p;
    return ns;
}

/* "hh:mm:ss" (or with '.' separators when @sep is '.'), plus an optional fraction. */
static int clock_time(const char *s, size_t len, size_t *pos, char sep, int *h, int *m, int *sec,
                      long *ns)
{
    size_t p = *pos;

    *h = digits(s, len, &p, 2);
    if (*h < 0 || p >= len || s[p] != sep) {
        return -1;
    }
    p++;
    *m = digits(s, len, &p, 2);
    if (*m < 0 || p >= len || s[p] != sep) {
        return -1;
    }
    p++;
    *sec = digits(s, len, &p, 2);
    if (*sec < 0) {
        return -1;
    }
    *ns = fraction(s, len, &p);
    *pos = p;
    return 0;
}

/* Optional zone: "Z", "+hh:mm", "+hhmm", "+hh" (also after one space: "... -0700"). */
static int64_t zone_offset_s(const char *s, size_t len, size_t *pos)
{
    size_t p = *pos;
    int sign;
    int hh;
    int mm = 0;

    if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        *pos = p + 1;
        return 0;
    }
    if (p < len && s[p] == ' ' && p + 1 < len && (s[p + 1] == '+' || s[p + 1] == '-')) {
        p++;
    }
    if (p >= len || (s[p] != '+' && s[p] != '-')) {
        return 0;
    }
    sign = s[p] == '-' ? -1 : 1;
    p++;
    hh = digits(s, len, &p, 2);
    if (hh < 0 || hh > 23) {
        return 0;
    }
    if (p < len && s[p] == ':') {
        size_t q = p + 1;

        mm = digits(s, len, &q, 2);
        if (mm < 0) {
            return 0;
        }
        p = q;
    }
    else if (p + 1 < len && is_digit((unsigned char)s[p]) && is_digit((unsigned char)s[p + 1])) {
        mm = digits(s, len, &p, 2);
    }
    if (mm > 59) {
        return 0;
    }
    *pos = p;
    return sign * (hh * 3600 + mm * 60);
}

static size_t finish(int y, int mo, int d, int h, int mi, int sec, long ns, int64_t off_s,
                     size_t consumed, int64_t *ts_ns)
{
    int64_t t;

    if (lw_ts_from_civil(y, mo, d, h, mi, sec, ns, &t) < 0) {
        return 0;
    }
    t -= off_s * NS_PER_S;
    *ts_ns = t;
    return consumed;
}

/*
 * Date part already read; reads an optional time (after 'T', ' ' or @date_time_sep) and zone.
 * @dot_time allows "hh.mm.ss" (BGL, DB2 style) when the separator is '-'.
 */
static size_t date_then_time(const char *s, size_t len, size_t p, int y, int mo, int d,
                             int64_t *ts_ns)
{
    int h = 0;
    int mi = 0;
    int sec = 0;
    long ns = 0;
    int64_t off = 0;
    size_t q;

    if (p + 1 < len && (s[p] == 'T' || s[p] == 't' || s[p] == ' ' || s[p] == '-' || s[p] == '_') &&
        is_digit((unsigned char)s[p + 1])) {
        q = p + 1;
        if (clock_time(s, len, &q, ':', &h, &mi, &sec, &ns) == 0 ||
            (s[p] == '-' && (q = p + 1, clock_time(s, len, &q, '.', &h, &mi, &sec, &ns) == 0))) {
            p = q;
            off = zone_offset_s(s, len, &p);
        }
        else {
            h = 0;
            mi = 0;
            sec = 0;
            ns = 0;
        }
    }
    else if (p < len && (s[p] == 'Z' || s[p] == 'z')) {
        p++;
    }
    return finish(y, mo, d, h, mi, sec, ns, off, p, ts_ns);
}

/* "Mmm dd hh:mm:ss[.frac][ yyyy]" at @p (after an optional weekday). */
static size_t month_form(const char *s, size_t len, size_t p, int ref_year, int need_year,
                         int64_t *ts_ns)
{
    int mo;
    int d;
    int h;
    int mi;
    int sec;
    long ns;
    int y = ref_year;
    size_t q;

    mo = month3(s + p, len - p);
    if (mo == 0 || p + 3 >= len || s[p + 3] != ' ') {
        return 0;
    }
    p += 4;
    if (p < len && s[p] == ' ') {
        p++; /* "Jun  4": space-padded day */
    }
    d = digits12(s, len, &p);
    if (d < 0 || p >= len || s[p] != ' ') {
        return 0;
    }
    p++;
    if (clock_time(s, len, &p, ':', &h, &mi, &sec, &ns) < 0) {
        return 0;
    }
    q = p;
    if (q < len && s[q] == ' ') {
        int yy;

        q++;
        yy = digits(s, len, &q, 4);
        if (yy >= 0 && (q >= len || !is_digit((unsigned char)s[q]))) {
            y = yy;
            p = q;
            need_year = 0;
        }
    }
    if (need_year) {
        return 0;
    }
    return finish(y, mo, d, h, mi, sec, ns, 0, p, ts_ns);
}

size_t lw_ts_parse(const char *s, size_t len, int ref_year, int64_t *ts_ns)
{
    size_t n = 0;
    size_t p;
    int y;
    int mo;
    int d;

    if (s == NULL || len == 0 || ts_ns == NULL) {
        return 0;
    }
    if (is_alpha((unsigned char)s[0])) {
        if (month3(s, len) != 0) {
            return month_form(s, len, 0, ref_year, 0, ts_ns);
        }
        if (weekday3(s, len) && len > 4 && s[3] == ' ') {
            /* ctime / Apache error log: "Sun Dec 04 04:47:44 2005". */
            return month_form(s, len, 4, ref_year, 1, ts_ns);
        }
        return 0;
    }
    while (n < len && n < 21 && is_digit((unsigned char)s[n])) {
        n++;
    }
    if (n == 0) {
        return 0;
    }
    p = 0;
    if (n == 4 && n + 1 < len && (s[4] == '-' || s[4] == '/' || s[4] == '.')) {
        char sep = s[4];

        y = digits(s, len, &p, 4);
        p++;
        mo = digits(s, len, &p, 2);
        if (mo < 0 || p >= len || s[p] != sep) {
            return 0;
        }
        p++;
        d = digits(s, len, &p, 2);
        if (d < 0 || (p < len && is_digit((unsigned char)s[p]))) {
            return 0;
        }
        if (sep == '.' && p < len && s[p] == '-') {
            return finish(y, mo, d, 0, 0, 0, 0, 0, p, ts_ns);
        }
        return date_then_time(s, len, p, y, mo, d, ts_ns);
    }
    if (n == 2 && len > 3 && s[2] == '/') {
        if (is_digit((unsigned char)s[3])) {
            /* "yy/MM/dd HH:mm:ss" (Spark, log4j "%d{yy/MM/dd HH:mm:ss}"). */
            y = digits(s, len, &p, 2);
            p++;
            mo = digits(s, len, &p, 2);
            if (mo < 0 || p >= len || s[p] != '/') {
                return 0;
            }
            p++;
            d = digits(s, len, &p, 2);
            if (d < 0 || (p < len && is_digit((unsigned char)s[p]))) {
                return 0;
            }
            y += y < 70 ? 2000 : 1900;
            return date_then_time(s, len, p, y, mo, d, ts_ns);
        }
        if (is_alpha((unsigned char)s[3])) {
            /* Common Log Format: "10/Oct/2000:13:55:36 -0700". */
            int h;
            int mi;
            int sec;
            long ns;
            int64_t off;

            d = digits(s, len, &p, 2);
            p++;
            mo = month3(s + p, len - p);
            p += 3;
            if (mo == 0 || p >= len || s[p] != '/') {
                return 0;
            }
            p++;
            y = digits(s, len, &p, 4);
            if (y < 0 || p >= len || s[p] != ':') {
                return 0;
            }
            p++;
            if (clock_time(s, len, &p, ':', &h, &mi, &sec, &ns) < 0) {
                return 0;
            }
            off = zone_offset_s(s, len, &p);
            return finish(y, mo, d, h, mi, sec, ns, off, p, ts_ns);
        }
        return 0;
    }
    if (n == 6 && len >= 13 && s[6] == ' ') {
        /* HDFS "yyMMdd HHmmss". */
        int h;
        int mi;
        int sec;

        y = digits(s, len, &p, 2);
        mo = digits(s, len, &p, 2);
        d = digits(s, len, &p, 2);
        p++;
        h = digits(s, len, &p, 2);
        mi = digits(s, len, &p, 2);
        sec = digits(s, len, &p, 2);
        if (h < 0 || mi < 0 || sec < 0 || (p < len && is_digit((unsigned char)s[p]))) {
            return 0;
        }
        y += y < 70 ? 2000 : 1900;
        return finish(y, mo, d, h, mi, sec, 0, 0, p, ts_ns);
    }
    if (n >= 9 && n <= 19 && (n == len || !(s[n] == '-' || s[n] == ':' || s[n] == '/'))) {
        /* Epoch seconds, milli-, micro- or nanoseconds, told apart by magnitude. */
        uint64_t v = 0;
        uint64_t mult;
        long ns = 0;
        size_t i;

        for (i = 0; i < n; i++) {
            v = v * 10 + (uint64_t)(s[i] - '0');
        }
        p = n;
        if (n <= 11) {
            mult = (uint64_t)NS_PER_S;
            ns = fraction(s, len, &p);
        }
        else if (n <= 14) {
            mult = 1000000;
        }
        else if (n <= 17) {
            mult = 1000;
        }
        else {
            mult = 1;
        }
        if (v > ((uint64_t)INT64_MAX - (uint64_t)ns) / mult) {
            return 0;
        }
        *ts_ns = (int64_t)(v * mult) + ns;
        return p;
    }
    return 0;
}
