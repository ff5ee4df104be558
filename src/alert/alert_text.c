/*
 * Escaping and UTF-8 repair of untrusted alert text (alert_text.h): one UTF-8 decoder shared by
 * the terminal escaper (out_stdout) and the JSON renderings (alert_json.c).
 */
#include <stdint.h>
#include <string.h>

#include "alert/alert_text.h"
#include "lw/lw_mem.h"

/*
 * The length of the valid UTF-8 sequence at @p (1 to 4) with its code point in *@cp, or 0 when
 * @p does not start one. Reads no further than a NUL (continuation bytes are never 0).
 */
static size_t utf8_seq(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t n;
    size_t i;
    uint32_t v;
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    }
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
        lo = c == 0xe0 ? 0xa0 : 0x80;  /* no overlong forms */
        hi = c == 0xed ? 0x9f : 0xbf;  /* no surrogates */
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
        lo = c == 0xf0 ? 0x90 : 0x80;  /* no overlong forms */
        hi = c == 0xf4 ? 0x8f : 0xbf;  /* nothing above U+10FFFF */
    }
    else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        unsigned char b = p[i];

        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf)) {
            return 0;
        }
        v = (v << 6) | (b & 0x3f);
    }
    *cp = v;
    return n;
}

/* Code points shown as \uNNNN: they reorder or break what a terminal shows. */
static int invisible(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || cp == 0x200e ||
           cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

int lw__alert_fputs_safe(const char *s, FILE *f)
{
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run;
    uint32_t cp;
    size_t n;
    int rc = 0;

    if (s == NULL) {
        return 0;
    }
    while (*p != '\0') {
        /* Plain printable ASCII and harmless UTF-8 go out in runs. */
        run = p;
        while (*p != '\0' && (n = utf8_seq(p, &cp)) > 0 && cp >= 0x20 && cp != 0x7f &&
               !invisible(cp)) {
            p += n;
        }
        if (p > run && fwrite(run, 1, (size_t)(p - run), f) != (size_t)(p - run)) {
            return EOF;
        }
        if (*p == '\0') {
            break;
        }
        n = utf8_seq(p, &cp);
        if (n == 0) {
            rc = fprintf(f, "\\x%02x", *p);
            n = 1;
        }
        else if (cp == '\n') {
            rc = fputs("\\n", f);
        }
        else if (cp == '\r') {
            rc = fputs("\\r", f);
        }
        else if (cp == '\t') {
            rc = fputs("\\t", f);
        }
        else if (cp < 0x20 || cp == 0x7f) {
            rc = fprintf(f, "\\x%02x", (unsigned)cp);
        }
        else {
            rc = fprintf(f, "\\u%04x", (unsigned)cp);
        }
        if (rc < 0) {
            return EOF;
        }
        p += n;
    }
    return 0;
}

char *lw__alert_utf8_fix(const char *s, int *oom)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    size_t bad = 0;
    size_t len = 0;
    size_t n;
    char *out;
    char *o;

    if (oom != NULL) {
        *oom = 0;
    }
    if (s == NULL) {
        return NULL;
    }
    for (; p[len] != '\0'; len += n) {
        n = utf8_seq(p + len, &cp);
        if (n == 0) {
            bad++;
            n = 1;
        }
    }
    if (bad == 0) {
        return NULL;
    }
    /* Each bad byte (1) becomes U+FFFD (3 bytes). */
    out = lw_malloc(len + 2 * bad + 1);
    if (out == NULL) {
        if (oom != NULL) {
            *oom = 1;
        }
        return NULL;
    }
    o = out;
    while (*p != '\0') {
        n = utf8_seq(p, &cp);
        if (n == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
            continue;
        }
        memcpy(o, p, n);
        o += n;
        p += n;
    }
    *o = '\0';
    return out;
}
