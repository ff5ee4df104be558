/*
 * Automatic header recognition (format NULL or "auto", see lw_header.h). The first byte picks
 * the candidates, so a line costs one or two cheap checks:
 *
 *   '{'       JSON lines (jansson)
 *   '<'       syslog with <PRI>: RFC 5424 ("<PRI>1 ..."), else RFC 3164, else just the PRI
 *   '['       "[timestamp] ..." (Apache/generic error logs)
 *   digit     timestamp prefix (ISO 8601, log4j/logback, nginx error, HDFS-like), else access log
 *   letter    RFC 3164 without PRI ("Jun 14 15:16:01 host tag[pid]: msg"), logfmt, access log
 *
 * Spans point into the line, except decoded JSON and quoted logfmt text, which is copied into the
 * caller's scratch buffer (bounded: a long message is cut, never overflows). Every reader checks
 * its position against @len; no function here reads past the line or relies on a NUL.
 */
#include <jansson.h>
#include <string.h>

#include "lw/lw_header.h"

#define NAME_CAP 255 /* scratch bytes reserved for each of host and component */

struct scr {
    char *p;
    size_t len;
    size_t cap;
};

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Copies up to @max bytes of @s into scratch; returns the span (possibly cut). */
static struct lw_span scr_put(struct scr *sc, const char *s, size_t n, size_t max)
{
    struct lw_span out;
    size_t room = sc->cap - sc->len;

    if (n > max) {
        n = max;
    }
    if (n > room) {
        n = room;
    }
    memcpy(sc->p + sc->len, s, n);
    out.p = sc->p + sc->len;
    out.len = n;
    sc->len += n;
    return out;
}

static size_t skip_blanks(const char *s, size_t len, size_t p)
{
    while (p < len && is_blank((unsigned char)s[p])) {
        p++;
    }
    return p;
}

static size_t token_end(const char *s, size_t len, size_t p)
{
    while (p < len && s[p] != ' ' && s[p] != '\t') {
        p++;
    }
    return p;
}

static struct lw_span span(const char *s, size_t a, size_t b)
{
    struct lw_span sp;

    sp.p = s + a;
    sp.len = b - a;
    return sp;
}

static void set_msg(struct lw_header_result *out, const char *line, size_t a, size_t len)
{
    out->msg = span(line, a, len);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static json_t *json_get_any(json_t *obj, const char *const *keys)
{
    json_t *v;

    for (; *keys != NULL; keys++) {
        v = json_object_get(obj, *keys);
        if (v != NULL && !json_is_null(v)) {
            return v;
        }
    }
    return NULL;
}

/* Epoch number of unknown unit: seconds, milli-, micro- or nanoseconds by magnitude. */
static int64_t epoch_by_magnitude(double v)
{
    double a = v < 0 ? -v : v;
    double ns;

    if (a < 1e11) {
        ns = v * 1e9;
    }
    else if (a < 1e14) {
        ns = v * 1e6;
    }
    else if (a < 1e17) {
        ns = v * 1e3;
    }
    else {
        ns = v;
    }
    if (!(ns > -9.2e18 && ns < 9.2e18)) {
        return LW_TS_UNKNOWN;
    }
    return (int64_t)ns;
}

/* The same for an integer, exactly (a double cannot hold epoch nanoseconds). */
static int64_t epoch_int_by_magnitude(json_int_t v)
{
    int64_t a = v < 0 ? -(int64_t)(v + 1) : (int64_t)v;
    int64_t mult;

    if (a < INT64_C(100000000000)) {
        mult = 1000000000;
    }
    else if (a < INT64_C(100000000000000)) {
        mult = 1000000;
    }
    else if (a < INT64_C(100000000000000000)) {
        mult = 1000;
    }
    else {
        mult = 1;
    }
    if (a > INT64_MAX / mult - 1) {
        return LW_TS_UNKNOWN;
    }
    return (int64_t)v * mult;
}

static int parse_json(const char *line, size_t len, int ref_year, struct scr *sc,
                      struct lw_header_result *out)
{
    static const char *const msg_keys[] = {"message", "msg", "log", "MESSAGE", "@message", NULL};
    static const char *const level_keys[] = {"level", "severity", "lvl", "log.level", "LEVEL",
                                             "PRIORITY", NULL};
    static const char *const time_keys[] = {"time", "timestamp", "@timestamp", "ts", "t", NULL};
    /* Where the line comes from: its host, else the service that wrote it. */
    static const char *const host_keys[] = {"host", "hostname", "_HOSTNAME", "service",
                                            "service.name", "service_name", NULL};
    static const char *const comp_keys[] = {"logger", "logger_name", "component", "module",
                                            "SYSLOG_IDENTIFIER", NULL};
    json_error_t jerr;
    json_t *root;
    json_t *v;

    root = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
    if (root == NULL) {
        return 0;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return 0;
    }
    v = json_get_any(root, msg_keys);
    if (json_is_string(v)) {
        out->msg = scr_put(sc, json_string_value(v), json_string_length(v),
                           sc->cap - 2 * NAME_CAP);
    }
    v = json_get_any(root, level_keys);
    if (v == NULL) {
        json_t *log = json_object_get(root, "log");

        if (json_is_object(log)) {
            v = json_object_get(log, "level"); /* ECS nested {"log":{"level":...}} */
        }
    }
    if (json_is_string(v)) {
        out->level = lw_level_parse(json_string_value(v), json_string_length(v));
    }
    else if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);

        if (n >= 0 && n <= 7) {
            out->level = lw_level_from_syslog((int)n);
        }
        else if (n >= 10 && n <= 60) {
            /* bunyan/pino: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal. */
            static const enum lw_level bunyan[] = {LW_LEVEL_TRACE, LW_LEVEL_DEBUG, LW_LEVEL_INFO,
                                                   LW_LEVEL_WARN,  LW_LEVEL_ERROR, LW_LEVEL_FATAL};

            out->level = bunyan[n / 10 - 1];
        }
    }
    v = json_get_any(root, time_keys);
    if (json_is_string(v)) {
        int64_t ts;

        if (lw_ts_parse(json_string_value(v), json_string_length(v), ref_year, &ts) > 0) {
            out->ts_ns = ts;
        }
    }
    else if (json_is_integer(v)) {
        out->ts_ns = epoch_int_by_magnitude(json_integer_value(v));
    }
    else if (json_is_real(v)) {
        out->ts_ns = epoch_by_magnitude(json_real_value(v));
    }
    v = json_get_any(root, host_keys);
    if (json_is_string(v)) {
        out->host = scr_put(sc, json_string_value(v), json_string_length(v), NAME_CAP);
    }
    v = json_get_any(root, comp_keys);
    if (json_is_string(v)) {
        out->component = scr_put(sc, json_string_value(v), json_string_length(v), NAME_CAP);
    }
    json_decref(root);
    out->matched = 1;
    out->layout = "json";
    return 1;
}

/* ---- common tail after a timestamp --------------------------------------------------------- */

/* Level word inside "[error]" or "[core:error]" at @p; returns the position after ']' or 0. */
static size_t bracket_level(const char *s, size_t len, size_t p, enum lw_level *lvl)
{
    size_t q = p + 1;
    size_t w;

    if (p >= len || s[p] != '[') {
        return 0;
    }
    while (q < len && q < p + 32 && s[q] != ']') {
        q++;
    }
    if (q >= len || s[q] != ']') {
        return 0;
    }
    w = q;
    while (w > p + 1 && s[w - 1] != ':') {
        w--;
    }
    *lvl = lw_level_parse(s + w, q - w);
    return *lvl == LW_LEVEL_UNKNOWN ? 0 : q + 1;
}

/* A bare level word: at least two letters ("I" alone is too likely to be English). */
static size_t word_level(const char *s, size_t len, size_t p, enum lw_level *lvl)
{
    size_t e = token_end(s, len, p);
    size_t w = e;

    if (w > p && s[w - 1] == ':') {
        w--; /* "ERROR: ..." */
    }
    if (w - p < 2) {
        return 0;
    }
    *lvl = lw_level_parse(s + p, w - p);
    return *lvl == LW_LEVEL_UNKNOWN ? 0 : e;
}

/*
 * What follows a timestamp: "[pid]"-like and level tokens, a log4j thread "[main]" and logger
 * "com.x.Y - ". Conservative: anything not recognised stays in the message. Returns 1 when a
 * log4j/logback logger was found.
 */
static int ts_tail(const char *s, size_t len, size_t p, struct lw_header_result *out)
{
    enum lw_level lvl = LW_LEVEL_UNKNOWN;
    size_t q;
    size_t e;
    int log4j = 0;

    p = skip_blanks(s, len, p);
    /* A numeric pid before the level (HDFS "081109 203615 148 INFO ..."). */
    e = token_end(s, len, p);
    if (e > p && e - p <= 10 && e < len) {
        size_t i = p;

        while (i < e && is_digit((unsigned char)s[i])) {
            i++;
        }
        if (i == e && (word_level(s, len, e + 1, &lvl) || bracket_level(s, len, e + 1, &lvl))) {
            p = e + 1;
        }
    }
    if ((q = bracket_level(s, len, p, &lvl)) != 0 || (q = word_level(s, len, p, &lvl)) != 0) {
        out->level = lvl;
        p = skip_blanks(s, len, q);
        /* nginx "123#0: " and Apache 2.4 "[pid 123]" / "[pid 123:tid 456]". */
        e = token_end(s, len, p);
        if (e > p + 1 && s[e - 1] == ':' && memchr(s + p, '#', e - p) != NULL &&
            is_digit((unsigned char)s[p])) {
            p = skip_blanks(s, len, e);
        }
        else if (len - p > 5 && memcmp(s + p, "[pid ", 5) == 0) {
            q = p;
            while (q < len && q < p + 48 && s[q] != ']') {
                q++;
            }
            if (q < len && s[q] == ']') {
                p = skip_blanks(s, len, q + 1);
            }
        }
        /* log4j "[thread] logger - msg" / logback "logger - msg". */
        q = p;
        if (q < len && s[q] == '[') {
            while (q < len && q < p + 128 && s[q] != ']') {
                q++;
            }
            q = (q < len && s[q] == ']') ? skip_blanks(s, len, q + 1) : p;
        }
        e = token_end(s, len, q);
        if (e > q && len - e >= 3 && memcmp(s + e, " - ", 3) == 0) {
            out->component = span(s, q, e);
            p = e + 3;
            log4j = 1;
        }
        else if (e > q + 2 && s[e - 1] == ':' && memchr(s + q, '.', e - q) != NULL) {
            /* A dotted class name as in HDFS/Spark: "INFO dfs.DataNode$PacketResponder: msg". */
            out->component = span(s, q, e - 1);
            p = skip_blanks(s, len, e);
        }
    }
    else if (p < len && s[p] == '[') {
        /* logback "HH:mm:ss.SSS [thread] LEVEL logger - msg" with the thread before the level. */
        q = p;
        while (q < len && q < p + 128 && s[q] != ']') {
            q++;
        }
        if (q < len && s[q] == ']') {
            q = skip_blanks(s, len, q + 1);
            if ((e = word_level(s, len, q, &lvl)) != 0) {
                size_t c = skip_blanks(s, len, e);
                size_t ce = token_end(s, len, c);

                out->level = lvl;
                p = c;
                if (ce > c && len - ce >= 3 && memcmp(s + ce, " - ", 3) == 0) {
                    out->component = span(s, c, ce);
                    p = ce + 3;
                    log4j = 1;
                }
            }
        }
    }
    set_msg(out, s, p, len);
    return log4j;
}

/* ---- syslog -------------------------------------------------------------------------------- */

/* "<PRI>" at 0: returns the position after '>' and sets @pri, or 0. */
static size_t syslog_pri(const char *s, size_t len, int *pri)
{
    size_t p = 1;
    int v = 0;

    while (p < len && p < 4 && is_digit((unsigned char)s[p])) {
        v = v * 10 + (s[p] - '0');
        p++;
    }
    if (p == 1 || p >= len || s[p] != '>' || v > 191) {
        return 0;
    }
    *pri = v;
    return p + 1;
}

static int parse_5424(const char *s, size_t len, size_t p, int ref_year,
                      struct lw_header_result *out)
{
    size_t tok[5][2];
    size_t i;
    int64_t ts;

    /* VERSION "1" SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG] */
    if (len - p < 2 || s[p] != '1' || s[p + 1] != ' ') {
        return 0;
    }
    p += 2;
    for (i = 0; i < 5; i++) {
        size_t e = p;

        while (e < len && s[e] != ' ') {
            e++;
        }
        if (e == p || e >= len) {
            return 0;
        }
        tok[i][0] = p;
        tok[i][1] = e;
        p = e + 1;
    }
    if (p >= len) {
        return 0;
    }
    if (s[p] == '-') {
        p++;
    }
    else if (s[p] == '[') {
        while (p < len && s[p] == '[') {
            int quoted = 0;

            p++;
            while (p < len) {
                if (quoted && s[p] == '\\') {
                    p += 2;
                    continue;
                }
                if (s[p] == '"') {
                    quoted = !quoted;
                }
                else if (s[p] == ']' && !quoted) {
                    break;
                }
                p++;
            }
            if (p >= len) {
                return 0;
            }
            p++; /* past ']' */
        }
    }
    else {
        return 0;
    }
    if (p < len && s[p] == ' ') {
        p++;
    }
    if (len - p >= 3 && memcmp(s + p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3; /* UTF-8 BOM announced by RFC 5424 */
    }
    if (!(tok[0][1] - tok[0][0] == 1 && s[tok[0][0]] == '-') &&
        lw_ts_parse(s + tok[0][0], tok[0][1] - tok[0][0], ref_year, &ts) > 0) {
        out->ts_ns = ts;
    }
    if (!(tok[1][1] - tok[1][0] == 1 && s[tok[1][0]] == '-')) {
        out->host = span(s, tok[1][0], tok[1][1]);
    }
    if (!(tok[2][1] - tok[2][0] == 1 && s[tok[2][0]] == '-')) {
        out->component = span(s, tok[2][0], tok[2][1]);
    }
    set_msg(out, s, p, len);
    out->matched = 1;
    out->layout = "rfc5424";
    return 1;
}

/*
 * RFC 3164 body at @p: "Mmm dd hh:mm:ss host tag[pid]: msg". Also accepts an ISO timestamp
 * (rsyslog's RFC 3339 template) and a missing host ("Oct 11 22:14:15 su: ...").
 */
static int parse_3164(const char *s, size_t len, size_t p, int ref_year,
                      struct lw_header_result *out)
{
    int64_t ts;
    size_t n;
    size_t h;
    size_t he;
    size_t t;
    size_t te;

    n = lw_ts_parse(s + p, len - p, ref_year, &ts);
    if (n == 0 || p + n >= len || s[p + n] != ' ') {
        return 0;
    }
    h = skip_blanks(s, len, p + n);
    he = token_end(s, len, h);
    if (he == h) {
        return 0;
    }
    out->ts_ns = ts;
    t = h;
    if (!(s[he - 1] == ':' || memchr(s + h, '[', he - h) != NULL)) {
        out->host = span(s, h, he);
        t = skip_blanks(s, len, he);
    }
    /* Tag: up to '[', ':' or a blank, at most 64 bytes. */
    te = t;
    while (te < len && te < t + 64 && s[te] != '[' && s[te] != ':' && !is_blank((unsigned char)s[te])) {
        te++;
    }
    if (te > t && te < len && s[te] == '[') {
        size_t pe = te + 1;

        while (pe < len && pe < te + 24 && s[pe] != ']') {
            pe++;
        }
        if (pe < len && s[pe] == ']' && pe + 1 < len && s[pe + 1] == ':') {
            out->component = span(s, t, te);
            set_msg(out, s, skip_blanks(s, len, pe + 2), len);
        }
        else {
            set_msg(out, s, t, len);
        }
    }
    else if (te > t && te < len && s[te] == ':') {
        out->component = span(s, t, te);
        set_msg(out, s, skip_blanks(s, len, te + 1), len);
    }
    else {
        set_msg(out, s, t, len);
    }
    out->matched = 1;
    out->layout = "rfc3164";
    return 1;
}

static int parse_syslog(const char *s, size_t len, int ref_year, struct lw_header_result *out)
{
    int pri;
    size_t p = syslog_pri(s, len, &pri);

    if (p == 0) {
        return 0;
    }
    out->level = lw_level_from_syslog(pri & 7);
    if (parse_5424(s, len, p, ref_year, out) || parse_3164(s, len, p, ref_year, out)) {
        return 1;
    }
    set_msg(out, s, p, len);
    out->matched = 1;
    out->layout = "syslog";
    return 1;
}

/* ---- bracketed timestamps, timestamp prefixes, access logs ---------------------------------- */

static int parse_bracket(const char *s, size_t len, int ref_year, struct lw_header_result *out)
{
    size_t q = 1;
    int64_t ts;
    size_t n;

    while (q < len && q < 64 && s[q] != ']') {
        q++;
    }
    if (q >= len || s[q] != ']') {
        return 0;
    }
    n = lw_ts_parse(s + 1, q - 1, ref_year, &ts);
    if (n == 0) {
        return 0;
    }
    out->ts_ns = ts;
    ts_tail(s, len, q + 1, out);
    out->matched = 1;
    out->layout = is_alpha((unsigned char)s[1]) ? "apache_error" : "bracket";
    return 1;
}

static int parse_ts_prefix(const char *s, size_t len, int ref_year, struct lw_header_result *out)
{
    int64_t ts;
    size_t n = lw_ts_parse(s, len, ref_year, &ts);
    int log4j;

    /* A timestamp that runs into more text ("2024-05-01x") is not a prefix. */
    if (n == 0 || (n < len && !is_blank((unsigned char)s[n]))) {
        return 0;
    }
    out->ts_ns = ts;
    log4j = ts_tail(s, len, n, out);
    out->matched = 1;
    if (log4j) {
        out->layout = "log4j";
    }
    else if (n > 4 && s[4] == '/') {
        out->layout = "nginx_error";
    }
    else if (n > 4 && s[4] == '-') {
        out->layout = "iso8601";
    }
    else {
        out->layout = "timestamp";
    }
    return 1;
}

/* Common/combined log format: "host ident user [10/Oct/2000:13:55:36 -0700] "GET / ..." ...". */
static int parse_access(const char *s, size_t len, int ref_year, struct lw_header_result *out)
{
    size_t p = 0;
    size_t q;
    int i;
    int64_t ts;

    for (i = 0; i < 3; i++) {
        size_t e = token_end(s, len, p);

        if (e == p || e >= len || s[e] != ' ' || e - p > 256) {
            return 0;
        }
        p = e + 1;
    }
    if (p >= len || s[p] != '[') {
        return 0;
    }
    q = p + 1;
    while (q < len && q < p + 40 && s[q] != ']') {
        q++;
    }
    if (q >= len || s[q] != ']' || q - p < 3 || s[p + 3] != '/') {
        return 0;
    }
    if (lw_ts_parse(s + p + 1, q - p - 1, ref_year, &ts) == 0) {
        return 0;
    }
    out->ts_ns = ts;
    set_msg(out, s, skip_blanks(s, len, q + 1), len);
    out->matched = 1;
    out->layout = "access";
    return 1;
}

/* ---- logfmt -------------------------------------------------------------------------------- */

static int key_char(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-' || c == '@';
}

static int key_is(const char *k, size_t klen, const char *name)
{
    size_t n = strlen(name);

    return klen == n && memcmp(k, name, n) == 0;
}

static int parse_logfmt(const char *s, size_t len, int ref_year, struct scr *sc,
                        struct lw_header_result *out)
{
    size_t p = 0;
    int n_pairs = 0;
    int have_msg = 0;
    struct lw_span msg = {s, 0};
    size_t msg_raw_a = 0;
    size_t msg_raw_b = 0;
    int msg_quoted = 0;
    struct lw_span lvl = {s, 0};
    struct lw_span tm = {s, 0};
    struct lw_span host = {s, 0};
    struct lw_span comp = {s, 0};

    while (p < len) {
        size_t k = p;
        size_t ke;
        size_t va;
        size_t vb;
        int quoted = 0;

        while (p < len && key_char((unsigned char)s[p])) {
            p++;
        }
        ke = p;
        if (ke == k || p >= len || s[p] != '=') {
            break;
        }
        p++;
        if (p < len && s[p] == '"') {
            quoted = 1;
            va = ++p;
            while (p < len && s[p] != '"') {
                p += (s[p] == '\\') ? 2 : 1;
            }
            if (p >= len) {
                return 0; /* unterminated quote */
            }
            vb = p++;
        }
        else {
            va = p;
            p = token_end(s, len, p);
            vb = p;
        }
        n_pairs++;
        if (key_is(s + k, ke - k, "msg") || key_is(s + k, ke - k, "message")) {
            have_msg = 1;
            msg_raw_a = va;
            msg_raw_b = vb;
            msg_quoted = quoted;
        }
        else if (key_is(s + k, ke - k, "level") || key_is(s + k, ke - k, "lvl") ||
                 key_is(s + k, ke - k, "severity")) {
            lvl = span(s, va, vb);
        }
        else if (key_is(s + k, ke - k, "time") || key_is(s + k, ke - k, "ts") ||
                 key_is(s + k, ke - k, "t") || key_is(s + k, ke - k, "timestamp")) {
            tm = span(s, va, vb);
        }
        else if (key_is(s + k, ke - k, "host") || key_is(s + k, ke - k, "hostname")) {
            host = span(s, va, vb);
        }
        else if (key_is(s + k, ke - k, "logger") || key_is(s + k, ke - k, "component") ||
                 key_is(s + k, ke - k, "module")) {
            comp = span(s, va, vb);
        }
        p = skip_blanks(s, len, p);
    }
    if (n_pairs < 2 || !have_msg) {
        return 0;
    }
    if (msg_quoted && memchr(s + msg_raw_a, '\\', msg_raw_b - msg_raw_a) != NULL) {
        /* Unescape \" \\ \n \t into scratch; bounded by the scratch cap. */
        size_t cap = sc->cap - 2 * NAME_CAP;
        size_t i;

        msg.p = sc->p + sc->len;
        for (i = msg_raw_a; i < msg_raw_b && sc->len < cap; i++) {
            char c = s[i];

            if (c == '\\' && i + 1 < msg_raw_b) {
                c = s[++i];
                c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
            }
            sc->p[sc->len++] = c;
        }
        msg.len = (size_t)(sc->p + sc->len - msg.p);
    }
    else {
        msg = span(s, msg_raw_a, msg_raw_b);
    }
    out->msg = msg;
    if (lvl.len > 0) {
        out->level = lw_level_parse(lvl.p, lvl.len);
    }
    if (tm.len > 0) {
        int64_t ts;

        if (lw_ts_parse(tm.p, tm.len, ref_year, &ts) > 0) {
            out->ts_ns = ts;
        }
    }
    out->host = host;
    out->component = comp;
    out->matched = 1;
    out->layout = "logfmt";
    return 1;
}

void lw__header_auto_parse(const char *line, size_t len, int ref_year, char *scratch,
                           size_t scratch_cap, struct lw_header_result *out)
{
    struct scr sc = {scratch, 0, scratch_cap};
    unsigned char c;

    if (len == 0) {
        return;
    }
    c = (unsigned char)line[0];
    if (c == '{') {
        (void)parse_json(line, len, ref_year, &sc, out);
    }
    else if (c == '<') {
        (void)parse_syslog(line, len, ref_year, out);
    }
    else if (c == '[') {
        (void)parse_bracket(line, len, ref_year, out);
    }
    else if (is_digit(c)) {
        if (!parse_ts_prefix(line, len, ref_year, out)) {
            (void)parse_access(line, len, ref_year, out);
        }
    }
    else if (is_alpha(c)) {
        if (!parse_3164(line, len, 0, ref_year, out) &&
            !parse_logfmt(line, len, ref_year, &sc, out)) {
            (void)parse_access(line, len, ref_year, out);
        }
    }
    else if (c == ':') {
        (void)parse_access(line, len, ref_year, out);
    }
}
