/*
 * Body parsing (lw_body.h) for POST /api/v1/ingest and the Kafka input's JSON values: NDJSON (one JSON object per line, jansson per line) or
 * plain text (lw_frame_buffer), and bounded gzip inflation. Pure functions over a buffer, with no
 * server state, so the fuzzer (tests/fuzz/fuzz_http_body.c) drives exactly what the server runs.
 *
 * Why a hand-written JSON scanner and not jansson: measured on this machine (-O2 Release build,
 * 200,000 lines of ~162 bytes with time, level, host, message and two ignored fields, one core,
 * machine otherwise idle), json_loadb() per line ran at 170,000-280,000 lines/s (it allocates a
 * hash table and a value per field), below the 300,000 lines/s target; this scanner runs at
 * 1,400,000-1,900,000 lines/s on the same input (230-300 MB/s) because it allocates nothing and
 * only decodes the fields it keeps. It accepts exactly the lines jansson accepts, except that raw
 * NUL bytes between tokens (which jansson skips) are rejected: the fuzzer
 * (tests/fuzz/fuzz_http_body.c) checks the two agree line by line.
 *
 * Memory: unescaped strings (message, host) go into one store sized up front from the body (an
 * unescaped JSON string is never longer than its escaped form, and each line adds at most two
 * NULs), so the store never moves and line pointers into it stay valid. Text bodies use the store
 * for joined multi-line records only (the framer's join buffer is reused for the next record); a
 * joined record is never longer than the body bytes it came from, so @len bytes always suffice.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_body.h"
#include "lw/lw_mem.h"

#define DEFAULT_MAX_LINE_BYTES 65536
#define PART_STORE_BYTES       (256 * 1024)  /* the NDJSON store of one part, at least */

int lw_http_budget_take(struct lw_http_budget *bg, size_t n)
{
    size_t used;
    size_t peak;

    if (bg == NULL || n == 0) {
        return LW_OK;
    }
    used = atomic_load(&bg->used_bytes);
    do {
        if (bg->limit_bytes != 0 && (n > bg->limit_bytes || used > bg->limit_bytes - n)) {
            return LW_EFULL;
        }
    } while (!atomic_compare_exchange_weak(&bg->used_bytes, &used, used + n));
    peak = atomic_load(&bg->peak_bytes);
    while (used + n > peak && !atomic_compare_exchange_weak(&bg->peak_bytes, &peak, used + n)) {
    }
    return LW_OK;
}

void lw_http_budget_give(struct lw_http_budget *bg, size_t n)
{
    if (bg != NULL && n != 0) {
        atomic_fetch_sub(&bg->used_bytes, n);
    }
}

/* lw_realloc of a body buffer from @old_size to @new_size bytes, the growth taken first. */
static void *charged_realloc(struct lw_http_body *b, void *p, size_t old_size, size_t new_size)
{
    void *np;

    if (new_size > old_size && lw_http_budget_take(b->budget, new_size - old_size) < 0) {
        return NULL;
    }
    np = lw_realloc(p, new_size);
    if (np == NULL) {
        if (new_size > old_size) {
            lw_http_budget_give(b->budget, new_size - old_size);
        }
        return NULL;
    }
    b->charged_bytes += new_size - old_size;
    return np;
}

/* LW_EFULL when @b's budget is what refused the last allocation, else LW_ENOMEM. */
static int alloc_error(const struct lw_http_body *b, size_t want)
{
    if (b->budget != NULL && b->budget->limit_bytes != 0 &&
        atomic_load(&b->budget->used_bytes) + want > b->budget->limit_bytes) {
        return LW_EFULL;
    }
    return LW_ENOMEM;
}

static int is_blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return 0;
        }
    }
    return 1;
}

/* Makes room for one more line in the per-line arrays. */
static int body_reserve(struct lw_http_body *b)
{
    struct lw_ingest_line *lines;
    const char **hosts;
    enum lw_level *levels;
    size_t cap;

    if (b->n_lines < b->cap) {
        return LW_OK;
    }
    cap = b->cap ? b->cap * 2 : 256;
    if (b->part_lines > 0 && cap > b->part_lines) {
        cap = b->part_lines;
    }
    lines = charged_realloc(b, b->lines, b->cap * sizeof(*lines), cap * sizeof(*lines));
    if (lines == NULL) {
        return alloc_error(b, (cap - b->cap) * sizeof(*lines));
    }
    b->lines = lines;
    hosts = charged_realloc(b, b->hosts, b->cap * sizeof(*hosts), cap * sizeof(*hosts));
    if (hosts == NULL) {
        return alloc_error(b, (cap - b->cap) * sizeof(*hosts));
    }
    b->hosts = hosts;
    levels = charged_realloc(b, b->levels, b->cap * sizeof(*levels), cap * sizeof(*levels));
    if (levels == NULL) {
        return alloc_error(b, (cap - b->cap) * sizeof(*levels));
    }
    b->levels = levels;
    b->cap = cap;
    return LW_OK;
}

/*
 * Epoch number to nanoseconds, the unit chosen by magnitude: below 1e11 seconds (up to year
 * 5138), below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
 */
static int64_t epoch_to_ns(double v)
{
    double a = fabs(v);
    double ns;

    if (!isfinite(v)) {
        return LW_TS_UNKNOWN;
    }
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
    /* 9.2e18 is the int64 limit; stay clear of it and of LW_TS_UNKNOWN (INT64_MIN). */
    if (ns >= 9.2e18 || ns <= -9.2e18) {
        return LW_TS_UNKNOWN;
    }
    return (int64_t)ns;
}

static int64_t epoch_int_to_ns(long long v)
{
    long long a = v < 0 ? -(v + 1) : v;
    int64_t mult;

    /* Integers keep full precision in every unit (a double would round nanoseconds). */
    if (a < 100000000000LL) {
        mult = 1000000000LL;
    }
    else if (a < 100000000000000LL) {
        mult = 1000000LL;
    }
    else if (a < 100000000000000000LL) {
        mult = 1000LL;
    }
    else {
        mult = 1;
    }
    /* Times past year 2262 do not fit in int64 nanoseconds; INT64_MIN is LW_TS_UNKNOWN. */
    if (a > INT64_MAX / mult - 1) {
        return LW_TS_UNKNOWN;
    }
    return (int64_t)v * mult;
}

/* ---- A strict JSON scanner for one line -------------------------------------------------------
 *
 * Accepts what jansson's json_loadb(JSON_ALLOW_NUL) accepts for an object (the fuzzer checks the
 * two agree; raw NUL bytes between tokens are the one difference, rejected here): RFC 8259 syntax, strings of valid UTF-8 without raw control bytes,
 * paired surrogates in \u escapes, integers that fit in long long, reals that do not overflow,
 * nesting up to 2048. It reads the top-level keys only and remembers where the wanted values
 * start; strings are unescaped later, straight into the body's store.
 */

#define JSON_MAX_DEPTH 2048

struct jscan {
    const char *p;
    const char *end;
};

static void skip_ws(struct jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static int hex4(const char *p, unsigned int *out)
{
    unsigned int v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned int)(c - '0');
        }
        else if (c >= 'a' && c <= 'f') {
            v |= (unsigned int)(c - 'a' + 10);
        }
        else if (c >= 'A' && c <= 'F') {
            v |= (unsigned int)(c - 'A' + 10);
        }
        else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at @p (first byte >= 0x80), or 0 when it is invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned int cp;
    size_t n;
    size_t i;

    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
        cp = p[0] & 0x1Fu;
    }
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        cp = p[0] & 0x0Fu;
    }
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        cp = p[0] & 0x07u;
    }
    else {
        return 0;
    }
    if ((size_t)(end - p) < n) {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0u) != 0x80u) {
            return 0;
        }
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return n;
}

static size_t put_utf8(char *out, unsigned int cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The byte that the JSON escape backslash-@c stands for, or -1 when it is not a short one. */
static int short_escape(char c)
{
    switch (c) {
    case '"':
    case '\\':
    case '/':
        return c;
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    default:
        return -1;
    }
}

/*
 * The end of the run of plain ASCII at @p (no control byte, no byte >= 0x80, no quote, no
 * backslash), eight bytes at a time: the byte-at-a-time loop was 5.3% of the daemon's samples on
 * bench/run-http-mixed.sh (perf, 2M lines of ~200 bytes). A word is plain when none of its bytes
 * is below 0x20, has the high bit, or equals '"' or '\\' (the classic "has a zero byte" test on
 * the word XORed with each of them).
 */
#define SWAR_ONES  0x0101010101010101ULL
#define SWAR_HIGHS 0x8080808080808080ULL

static const char *plain_run(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t w, q, b;

        memcpy(&w, p, 8);
        q = w ^ (SWAR_ONES * (uint64_t)'"');
        b = w ^ (SWAR_ONES * (uint64_t)'\\');
        /* (x - 0x01..) & ~x has a high bit set exactly when some byte of x is zero (below
         * 0x20 for w - 0x20..); w's own high bits are the bytes >= 0x80. */
        if ((((w - SWAR_ONES * 0x20) & ~w) | ((q - SWAR_ONES) & ~q) | ((b - SWAR_ONES) & ~b) | w) &
            SWAR_HIGHS) {
            break; /* a byte to look at in this word */
        }
        p += 8;
    }
    while (p < end && (unsigned char)*p >= 0x20 && (unsigned char)*p < 0x80 && *p != '"' &&
           *p != '\\') {
        p++;
    }
    return p;
}

/*
 * Scans the string whose opening quote is at s->p. When @out is not NULL, writes the unescaped
 * text there (the caller guarantees room: unescaped text is never longer than the token) up to
 * @cap bytes, and sets *@len to the full unescaped length. Returns 0, or -1 when it is invalid.
 */
static int scan_string_nul(struct jscan *s, char *out, size_t cap, size_t *len, int *nul)
{
    const char *p = s->p + 1;
    size_t n = 0;
    char tmp[4];
    size_t k;
    size_t i;

    for (;;) {
        const char *run = p;

        /* The common case: a run of plain ASCII, copied at once. */
        p = plain_run(p, s->end);
        if (out != NULL && p > run && n < cap) {
            k = (size_t)(p - run) < cap - n ? (size_t)(p - run) : cap - n;
            memcpy(out + n, run, k);
        }
        n += (size_t)(p - run);
        if (p >= s->end) {
            return -1;
        }
        if (*p == '"') {
            break;
        }
        if ((unsigned char)*p < 0x20) {
            return -1;
        }
        if ((unsigned char)*p >= 0x80) {
            k = utf8_seq((const unsigned char *)p, (const unsigned char *)s->end);
            if (k == 0) {
                return -1;
            }
            memcpy(tmp, p, k);
            p += k;
        }
        else {
            /* A backslash escape. */
            unsigned int cp;

            if (s->end - p < 2) {
                return -1;
            }
            switch (p[1]) {
            case 'u':
                if (s->end - p < 6 || hex4(p + 2, &cp) < 0) {
                    return -1;
                }
                p += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return -1;
                }
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned int lo;

                    if (s->end - p < 6 || p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) < 0 ||
                        lo < 0xDC00 || lo > 0xDFFF) {
                        return -1;
                    }
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0) {
                    *nul = 1;
                }
                k = put_utf8(tmp, cp);
                break;
            default: {
                int c = short_escape(p[1]);

                if (c < 0) {
                    return -1;
                }
                tmp[0] = (char)c;
                k = 1;
                p += 2;
                break;
            }
            }
        }
        if (out != NULL) {
            for (i = 0; i < k && n + i < cap; i++) {
                out[n + i] = tmp[i];
            }
        }
        n += k;
    }
    s->p = p + 1;
    if (len != NULL) {
        *len = n;
    }
    return 0;
}

static int scan_string(struct jscan *s, char *out, size_t cap, size_t *len)
{
    int nul = 0;

    return scan_string_nul(s, out, cap, len, &nul);
}

/* Object keys: jansson refuses keys with NUL bytes ("\u0000"), so the line is invalid. */
static int scan_key(struct jscan *s, char *out, size_t cap, size_t *len)
{
    int nul = 0;

    if (s->p >= s->end || *s->p != '"' || scan_string_nul(s, out, cap, len, &nul) < 0 || nul) {
        return -1;
    }
    return 0;
}

/*
 * Scans a number at s->p. Sets *@is_int and, when @iv/@dv are not NULL, its value. Integers
 * that overflow long long and reals that overflow double are invalid, as in jansson.
 */
static int scan_number(struct jscan *s, int *is_int, long long *iv, double *dv)
{
    const char *start = s->p;
    const char *p = s->p;
    char buf[64];
    char *big = NULL;
    char *num;
    size_t n;
    int rc = 0;

    *is_int = 1;
    if (p < s->end && *p == '-') {
        p++;
    }
    if (p >= s->end || !(*p >= '0' && *p <= '9')) {
        return -1;
    }
    if (*p == '0') {
        p++;
        if (p < s->end && *p >= '0' && *p <= '9') {
            return -1;
        }
    }
    else {
        while (p < s->end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < s->end && *p == '.') {
        *is_int = 0;
        p++;
        if (p >= s->end || !(*p >= '0' && *p <= '9')) {
            return -1;
        }
        while (p < s->end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        p++;
        if (p < s->end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= s->end || !(*p >= '0' && *p <= '9')) {
            return -1;
        }
        while (p < s->end && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    s->p = p;
    /* strtoll/strtod need a terminated copy; the line is not terminated after the number. */
    n = (size_t)(p - start);
    num = buf;
    if (n >= sizeof(buf)) {
        big = lw_malloc(n + 1);
        if (big == NULL) {
            return -1;
        }
        num = big;
    }
    memcpy(num, start, n);
    num[n] = '\0';
    errno = 0;
    if (*is_int) {
        long long v = strtoll(num, NULL, 10);

        if (errno == ERANGE) {
            rc = -1;
        }
        else if (iv != NULL) {
            *iv = v;
        }
    }
    else {
        double v = strtod(num, NULL);

        if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL)) {
            rc = -1;
        }
        else if (dv != NULL) {
            *dv = v;
        }
    }
    lw_free(big);
    return rc;
}

static int scan_literal(struct jscan *s)
{
    static const char *const lits[3] = {"true", "false", "null"};
    size_t i;
    size_t n;

    for (i = 0; i < 3; i++) {
        n = strlen(lits[i]);
        if ((size_t)(s->end - s->p) >= n && memcmp(s->p, lits[i], n) == 0) {
            s->p += n;
            return 0;
        }
    }
    return -1;
}

/* Validates any value at s->p (after white space), with an explicit stack for nesting. */
static int scan_value(struct jscan *s, int depth0)
{
    unsigned char is_obj[JSON_MAX_DEPTH / 8 + 1];
    int depth = 0;
    int is_int;

    for (;;) {
        /* A value starts here. */
        skip_ws(s);
        if (s->p >= s->end) {
            return -1;
        }
        if (*s->p == '{' || *s->p == '[') {
            int obj = *s->p == '{';

            if (depth0 + depth + 1 > JSON_MAX_DEPTH) {
                return -1;
            }
            if (obj) {
                is_obj[depth / 8] |= (unsigned char)(1u << (depth % 8));
            }
            else {
                is_obj[depth / 8] &= (unsigned char)~(1u << (depth % 8));
            }
            depth++;
            s->p++;
            skip_ws(s);
            if (s->p < s->end && *s->p == (obj ? '}' : ']')) {
                s->p++;
                depth--;
            }
            else if (obj) {
                if (scan_key(s, NULL, 0, NULL) < 0) {
                    return -1;
                }
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':') {
                    return -1;
                }
                s->p++;
                continue;
            }
            else {
                continue;
            }
        }
        else if (*s->p == '"') {
            if (scan_string(s, NULL, 0, NULL) < 0) {
                return -1;
            }
        }
        else if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9')) {
            if (scan_number(s, &is_int, NULL, NULL) < 0) {
                return -1;
            }
        }
        else if (scan_literal(s) < 0) {
            return -1;
        }
        /* After a complete value: close containers or move to the next member. */
        for (;;) {
            int obj;

            if (depth == 0) {
                return 0;
            }
            obj = (is_obj[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1;
            skip_ws(s);
            if (s->p >= s->end) {
                return -1;
            }
            if (*s->p == (obj ? '}' : ']')) {
                s->p++;
                depth--;
                continue;
            }
            if (*s->p != ',') {
                return -1;
            }
            s->p++;
            if (obj) {
                skip_ws(s);
                if (scan_key(s, NULL, 0, NULL) < 0) {
                    return -1;
                }
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':') {
                    return -1;
                }
                s->p++;
            }
            break;
        }
    }
}

enum {
    KEY_OTHER = 0,
    KEY_MESSAGE,
    KEY_MSG,
    KEY_LOG,
    KEY_TIME,
    KEY_LEVEL,
    KEY_HOST,
    KEY_N,
};

static int key_id(const char *k, size_t len)
{
    static const char *const names[KEY_N] = {"", "message", "msg", "log", "time", "level", "host"};
    int i;

    for (i = 1; i < KEY_N; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], k, len) == 0) {
            return i;
        }
    }
    return KEY_OTHER;
}

/*
 * Parses one NDJSON line (without its terminator). Duplicate keys: the last one wins, as in
 * jansson and most JSON libraries.
 */
static int parse_json_line(struct lw_http_body *b, const char *line, size_t len, size_t max_line,
                           int ref_year)
{
    struct jscan s = {line, line + len};
    const char *at[KEY_N] = {NULL};
    char key[8];
    size_t klen;
    int id;
    int is_int;
    const char *msg;
    struct lw_ingest_line *l;
    uint32_t flags = 0;
    char *data;
    size_t mlen;
    int rc;

    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{') {
        goto reject;
    }
    s.p++;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}') {
        goto reject;   /* {} has no message */
    }
    for (;;) {
        skip_ws(&s);
        if (scan_key(&s, key, sizeof(key), &klen) < 0) {
            goto reject;
        }
        id = klen <= sizeof(key) ? key_id(key, klen) : KEY_OTHER;
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':') {
            goto reject;
        }
        s.p++;
        skip_ws(&s);
        if (s.p >= s.end) {
            goto reject;
        }
        at[id] = s.p;
        if (scan_value(&s, 1) < 0) {
            goto reject;
        }
        skip_ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
            continue;
        }
        if (s.p < s.end && *s.p == '}') {
            s.p++;
            break;
        }
        goto reject;
    }
    skip_ws(&s);
    if (s.p != s.end) {
        goto reject;
    }
    msg = at[KEY_MESSAGE] != NULL ? at[KEY_MESSAGE]
          : at[KEY_MSG] != NULL   ? at[KEY_MSG]
                                  : at[KEY_LOG];
    if (msg == NULL || *msg != '"') {
        goto reject;
    }
    /* The whole line is valid: unescape the message straight into the store. */
    s.p = msg;
    if (b->store_cap - b->store_len < (size_t)(s.end - msg) + 1) {
        goto reject;   /* cannot happen: see the file comment */
    }
    data = b->store + b->store_len;
    if (scan_string(&s, data, (size_t)(s.end - msg), &mlen) < 0 || mlen == 0) {
        goto reject;
    }
    if (mlen > max_line) {
        mlen = max_line;
        flags |= LW_LINE_TRUNCATED;
    }
    data[mlen] = '\0';
    b->store_len += mlen + 1;
    if (!lw_utf8_valid(data, mlen)) {
        flags |= LW_LINE_INVALID;
    }
    rc = body_reserve(b);
    if (rc < 0) {
        return rc;
    }
    l = &b->lines[b->n_lines];
    l->data = data;
    l->len = mlen;
    l->flags = flags;
    l->ts_ns = LW_TS_UNKNOWN;
    l->level = LW_LEVEL_UNKNOWN;
    b->hosts[b->n_lines] = NULL;
    b->levels[b->n_lines] = LW_LEVEL_UNKNOWN;
    if (at[KEY_TIME] != NULL) {
        s.p = at[KEY_TIME];
        if (*s.p == '"') {
            char tbuf[64];
            size_t tlen;
            int64_t ts;

            if (scan_string(&s, tbuf, sizeof(tbuf), &tlen) == 0 && tlen <= sizeof(tbuf) &&
                lw_ts_parse(tbuf, tlen, ref_year, &ts) > 0) {
                l->ts_ns = ts;
            }
        }
        else if (*s.p == '-' || (*s.p >= '0' && *s.p <= '9')) {
            long long iv = 0;
            double dv = 0;

            if (scan_number(&s, &is_int, &iv, &dv) == 0) {
                l->ts_ns = is_int ? epoch_int_to_ns(iv) : epoch_to_ns(dv);
            }
        }
    }
    if (at[KEY_LEVEL] != NULL && *at[KEY_LEVEL] == '"') {
        char lbuf[16];
        size_t llen;

        s.p = at[KEY_LEVEL];
        if (scan_string(&s, lbuf, sizeof(lbuf), &llen) == 0 && llen <= sizeof(lbuf)) {
            b->levels[b->n_lines] = lw_level_parse(lbuf, llen);
            l->level = (int)b->levels[b->n_lines];
        }
    }
    if (at[KEY_HOST] != NULL && *at[KEY_HOST] == '"') {
        const char *prev = b->n_lines > 0 ? b->hosts[b->n_lines - 1] : NULL;
        char *h = b->store + b->store_len;
        size_t hlen;

        s.p = at[KEY_HOST];
        if (scan_string(&s, h, b->store_cap - b->store_len - 1, &hlen) == 0 && hlen > 0 &&
            hlen < b->store_cap - b->store_len && memchr(h, '\0', hlen) == NULL) {
            h[hlen] = '\0';
            /* Consecutive lines from one host share one copy (they usually come in runs). */
            if (prev != NULL && strcmp(prev, h) == 0) {
                b->hosts[b->n_lines] = prev;
            }
            else {
                b->hosts[b->n_lines] = h;
                b->store_len += hlen + 1;
            }
        }
    }
    b->n_lines++;
    return LW_OK;
reject:
    b->n_rejected++;
    return LW_OK;
}

/*
 * In parts mode, hands the lines collected so far to the callback and starts an empty part: the
 * arrays and the store are reused, the counters go on. Does nothing otherwise.
 */
static int flush_part(struct lw_http_body *b)
{
    int rc;

    if (b->part_cb == NULL) {
        return LW_OK;
    }
    if (b->n_lines > 0) {
        rc = b->part_cb(b->part_opaque, b);
        if (rc < 0) {
            return rc;
        }
    }
    b->n_lines = 0;
    b->store_len = 0;
    return LW_OK;
}

static int parse_ndjson(const char *buf, size_t len, size_t max_line, struct lw_http_body *b)
{
    const char *p = buf;
    const char *end = buf + len;
    const char *nl;
    size_t n_nl = 0;
    size_t llen;
    struct tm tm;
    time_t now;
    int ref_year;
    int rc;
    size_t longest = 0;
    size_t need;

    for (p = buf; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        longest = llen > longest ? llen : longest;
        if (nl == NULL) {
            break;
        }
        n_nl++;
    }
    p = buf;
    /* See the file comment: every string fits in the bytes it was escaped in, plus two NULs. */
    need = len + 2 * (n_nl + 1);
    if (b->part_cb != NULL) {
        /* One part at a time: at least the longest line, which must fit in an empty store. */
        size_t part = longest + 2 > PART_STORE_BYTES ? longest + 2 : PART_STORE_BYTES;

        need = need < part ? need : part;
    }
    b->store = charged_realloc(b, NULL, 0, need);
    if (b->store == NULL) {
        return alloc_error(b, need);
    }
    b->store_cap = need;
    now = time(NULL);
    ref_year = gmtime_r(&now, &tm) != NULL ? tm.tm_year + 1900 : 2026;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        b->n_physical++;
        if (is_blank(p, llen)) {
            b->n_blank++;
        }
        else {
            if ((b->part_lines > 0 && b->n_lines >= b->part_lines) ||
                b->store_cap - b->store_len < llen + 2) {
                rc = flush_part(b);
                if (rc < 0) {
                    return rc;
                }
            }
            rc = parse_json_line(b, p, llen, max_line, ref_year);
            if (rc < 0) {
                return rc;
            }
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    return flush_part(b);
}

static int on_text_line(void *opaque, const struct lw_line *line)
{
    struct lw_http_body *b = opaque;
    struct lw_ingest_line *l;
    int rc;

    b->n_physical++;
    if (is_blank(line->data, line->len)) {
        b->n_blank++;
        return 0;
    }
    if (b->part_lines > 0 && b->n_lines >= b->part_lines) {
        rc = flush_part(b);
        if (rc < 0) {
            return rc;
        }
    }
    if ((line->flags & LW_LINE_MULTI) && b->part_cb != NULL &&
        b->store_cap - b->store_len < line->len) {
        /* Parts mode grows the store as needed; earlier lines of the part point into it. */
        size_t cap = b->store_cap;

        rc = flush_part(b);
        if (rc < 0) {
            return rc;
        }
        while (cap < line->len) {
            cap = cap < 64 * 1024 ? 64 * 1024 : cap * 2;
        }
        if (cap != b->store_cap) {
            char *ns = charged_realloc(b, b->store, b->store_cap, cap);

            if (ns == NULL) {
                return alloc_error(b, cap - b->store_cap);
            }
            b->store = ns;
            b->store_cap = cap;
        }
    }
    rc = body_reserve(b);
    if (rc < 0) {
        return rc;
    }
    l = &b->lines[b->n_lines];
    l->data = line->data;
    if (line->flags & LW_LINE_MULTI) {
        /* Joined in the framer's buffer, which the next record reuses: keep a copy. */
        if (b->store == NULL) {
            b->store = charged_realloc(b, NULL, 0, b->store_cap);
            if (b->store == NULL) {
                return alloc_error(b, b->store_cap);
            }
        }
        if (b->store_len + line->len > b->store_cap) {
            return LW_ENOMEM; /* cannot happen: see the file comment */
        }
        memcpy(b->store + b->store_len, line->data, line->len);
        l->data = b->store + b->store_len;
        b->store_len += line->len;
    }
    l->len = line->len;
    l->flags = line->flags;
    l->ts_ns = LW_TS_UNKNOWN;
    l->level = LW_LEVEL_UNKNOWN;
    b->hosts[b->n_lines] = NULL;
    b->levels[b->n_lines] = LW_LEVEL_UNKNOWN;
    b->n_lines++;
    return 0;
}

static int body_parse(const char *buf, size_t len, enum lw_http_body_format fmt,
                      size_t max_line_bytes, const struct lw_multiline_conf *ml,
                      struct lw_http_body *out)
{
    struct lw_reader_conf conf;
    int rc;

    if (max_line_bytes == 0) {
        max_line_bytes = DEFAULT_MAX_LINE_BYTES;
    }
    if (len == 0) {
        return LW_OK;
    }
    if (fmt == LW_HTTP_BODY_NDJSON) {
        return parse_ndjson(buf, len, max_line_bytes, out);
    }
    memset(&conf, 0, sizeof(conf));
    conf.max_line_bytes = max_line_bytes;
    lw_reader_conf_multiline(&conf, ml);
    /* Allocated at the first joined record; in parts mode grown as records need. */
    out->store_cap = out->part_cb != NULL ? 0 : len;
    rc = lw_frame_buffer(buf, len, &conf, on_text_line, out);
    if (rc < 0) {
        return rc;
    }
    return flush_part(out);
}

int lw_http_body_parse(const char *buf, size_t len, enum lw_http_body_format fmt,
                       size_t max_line_bytes, const struct lw_multiline_conf *ml,
                       struct lw_http_body *out)
{
    memset(out, 0, sizeof(*out));
    return body_parse(buf, len, fmt, max_line_bytes, ml, out);
}

int lw_http_body_parse_parts(const char *buf, size_t len, enum lw_http_body_format fmt,
                             size_t max_line_bytes, const struct lw_multiline_conf *ml,
                             size_t part_lines, struct lw_http_budget *budget,
                             lw_http_part_cb cb, void *opaque, struct lw_http_body *out)
{
    memset(out, 0, sizeof(*out));
    out->budget = budget;
    out->part_lines = part_lines > 0 ? part_lines : 1;
    out->part_cb = cb;
    out->part_opaque = opaque;
    return body_parse(buf, len, fmt, max_line_bytes, ml, out);
}

void lw_http_body_fini(struct lw_http_body *b)
{
    if (b == NULL) {
        return;
    }
    lw_free(b->lines);
    lw_free(b->hosts);
    lw_free(b->levels);
    lw_free(b->store);
    lw_http_budget_give(b->budget, b->charged_bytes);
    memset(b, 0, sizeof(*b));
}

int lw_http_gunzip(const char *in, size_t len, size_t max_bytes, char **out, size_t *out_len)
{
    size_t charged;

    return lw_http_gunzip_budget(in, len, max_bytes, NULL, out, out_len, &charged);
}

int lw_http_gunzip_budget(const char *in, size_t len, size_t max_bytes,
                          struct lw_http_budget *budget, char **out, size_t *out_len,
                          size_t *charged)
{
    z_stream zs;
    char *buf;
    char *nbuf;
    size_t cap;
    size_t done = 0;
    int zrc;
    int rc;

    *out = NULL;
    *out_len = 0;
    *charged = 0;
    /* Start at 4x the input (typical log compression is 5-10x), then double up to the limit. */
    cap = len < (SIZE_MAX - 1) / 4 ? len * 4 : SIZE_MAX - 1;
    if (cap < 4096) {
        cap = 4096;
    }
    if (cap > max_bytes) {
        cap = max_bytes;
    }
    if (len == 0) {
        return LW_EINVAL;
    }
    /*
     * One spare byte beyond @cap: filling it proves the output is over the limit (or that the
     * buffer must grow); one more for the NUL.
     */
    if (lw_http_budget_take(budget, cap + 2) < 0) {
        return LW_EFULL;
    }
    buf = lw_malloc(cap + 2);
    if (buf == NULL) {
        lw_http_budget_give(budget, cap + 2);
        return LW_ENOMEM;
    }
    *charged = cap + 2;
    memset(&zs, 0, sizeof(zs));
    /* 15 + 32: the largest window, gzip or zlib header detected automatically. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
        lw_free(buf);
        lw_http_budget_give(budget, *charged);
        *charged = 0;
        return LW_ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = 0;
    for (;;) {
        if (zs.avail_in == 0) {
            /* zlib counts in uInt; feed large inputs in slices. */
            size_t left = len - (size_t)((const char *)zs.next_in - in);

            zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
        }
        if (done == cap + 1) {
            size_t ncap = cap > max_bytes / 2 ? max_bytes : cap * 2;

            if (cap >= max_bytes) {
                rc = LW_ETOOBIG;
                goto fail;
            }
            if (lw_http_budget_take(budget, ncap - cap) < 0) {
                rc = LW_EFULL;
                goto fail;
            }
            nbuf = lw_realloc(buf, ncap + 2);
            if (nbuf == NULL) {
                lw_http_budget_give(budget, ncap - cap);
                rc = LW_ENOMEM;
                goto fail;
            }
            *charged += ncap - cap;
            cap = ncap;
            buf = nbuf;
        }
        zs.next_out = (Bytef *)buf + done;
        zs.avail_out = (uInt)((cap + 1 - done) > UINT_MAX ? UINT_MAX : (cap + 1 - done));
        zrc = inflate(&zs, Z_NO_FLUSH);
        done = (size_t)((char *)zs.next_out - buf);
        if (zrc == Z_STREAM_END) {
            if ((const char *)zs.next_in == in + len && zs.avail_in == 0) {
                break;
            }
            /* Concatenated gzip members (what `cat a.gz b.gz` or pigz produce). */
            if (inflateReset(&zs) != Z_OK) {
                rc = LW_EINVAL;
                goto fail;
            }
            continue;
        }
        if (zrc == Z_BUF_ERROR && zs.avail_out != 0) {
            /* No progress with output room left: the input ended inside the stream. */
            rc = LW_EINVAL;
            goto fail;
        }
        if (zrc == Z_MEM_ERROR) {
            rc = LW_ENOMEM;
            goto fail;
        }
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = LW_EINVAL;
            goto fail;
        }
    }
    if (done > max_bytes) {
        rc = LW_ETOOBIG;
        goto fail;
    }
    inflateEnd(&zs);
    buf[done] = '\0';
    *out = buf;
    *out_len = done;
    return LW_OK;
fail:
    inflateEnd(&zs);
    lw_free(buf);
    lw_http_budget_give(budget, *charged);
    *charged = 0;
    return rc;
}
