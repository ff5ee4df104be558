/*
 * libFuzzer target for the HTTP ingest body parser (src/parse/body.c). The first input byte
 * picks the mode: bit 0 NDJSON or plain text, bit 1 the gzip path (the rest is inflated with a
 * 1 MiB limit first, as the server does for Content-Encoding: gzip), bit 2 a tiny maximum line
 * length. Invariants: no crash, the counts add up (accepted + rejected + blank = physical lines),
 * every line is in bounds and flagged truthfully, and text-mode lines point into the input. In
 * NDJSON mode the hand-written scanner must agree with jansson (json_loadb per line), the
 * reference it replaced for speed: same lines accepted, same messages.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_body.h"
#include "lw/lw_mem.h"

#define FUZZ_MAX_INFLATE ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int blank(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') {
            return 0;
        }
    }
    return 1;
}

/* Replays the NDJSON lines through jansson and compares with what the scanner accepted. */
static void check_jansson(const char *buf, size_t len, size_t max_line,
                          const struct lw_http_body *b)
{
    const char *p = buf;
    const char *end = buf + len;
    const char *nl;
    size_t llen;
    size_t k = 0;
    json_error_t jerr;
    json_t *root;
    json_t *msg;

    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        llen = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        if (!blank(p, llen)) {
            /*
             * jansson skips raw NUL bytes between tokens ("{...1.5e9\0}" loads); the scanner,
             * like RFC 8259, rejects them. That is the one known difference.
             */
            root = memchr(p, '\0', llen) == NULL ? json_loadb(p, llen, JSON_ALLOW_NUL, &jerr)
                                                   : NULL;
            msg = NULL;
            if (json_is_object(root)) {
                msg = json_object_get(root, "message");
                if (msg == NULL) {
                    msg = json_object_get(root, "msg");
                }
                if (msg == NULL) {
                    msg = json_object_get(root, "log");
                }
            }
            if (json_is_string(msg) && json_string_length(msg) > 0) {
                size_t mlen = json_string_length(msg);

                if (mlen > max_line) {
                    mlen = max_line;
                }
                if (k >= b->n_lines || b->lines[k].len != mlen ||
                    memcmp(b->lines[k].data, json_string_value(msg), mlen) != 0) {
                    abort();
                }
                k++;
            }
            json_decref(root);
        }
        if (nl == NULL) {
            break;
        }
        p = nl + 1;
    }
    if (k != b->n_lines) {
        abort();
    }
}

/*
 * Text bodies with the default joining of the HTTP input: every record is kept (joined ones in
 * the body's store), within the line limit, and no more records than without joining.
 */
static void check_joined(const char *buf, size_t len, size_t max_line)
{
    static const struct lw_multiline_conf ml = {LW_MULTILINE_AUTO, NULL, 0};
    struct lw_http_body b;
    size_t i;

    if (lw_http_body_parse(buf, len, LW_HTTP_BODY_TEXT, max_line, &ml, &b) != LW_OK) {
        abort();
    }
    if (b.n_lines + b.n_rejected + b.n_blank != b.n_physical || b.n_rejected != 0) {
        abort();
    }
    for (i = 0; i < b.n_lines; i++) {
        const struct lw_ingest_line *l = &b.lines[i];
        int in_buf = l->data >= buf && l->data + l->len <= buf + len;
        int in_store = b.store != NULL && l->data >= b.store &&
                       l->data + l->len <= b.store + b.store_len;

        if (l->len == 0 || l->len > max_line || !(in_buf || in_store) ||
            (in_store != !!(l->flags & LW_LINE_MULTI))) {
            abort();
        }
    }
    lw_http_body_fini(&b);
}

static void check(const char *buf, size_t len, enum lw_http_body_format fmt, size_t max_line)
{
    struct lw_http_body b;
    size_t n_nl = 0;
    size_t i;
    int rc;

    rc = lw_http_body_parse(buf, len, fmt, max_line, NULL, &b);
    if (rc != LW_OK) {
        abort();
    }
    if (b.n_lines + b.n_rejected + b.n_blank != b.n_physical) {
        abort();
    }
    for (i = 0; i < len; i++) {
        n_nl += buf[i] == '\n';
    }
    /* Physical lines: one per terminator, plus a final unterminated one. */
    if (b.n_physical != n_nl + (len > 0 && buf[len - 1] != '\n')) {
        abort();
    }
    if (fmt == LW_HTTP_BODY_TEXT && b.n_rejected != 0) {
        abort();
    }
    if (fmt == LW_HTTP_BODY_NDJSON) {
        check_jansson(buf, len, max_line, &b);
    }
    for (i = 0; i < b.n_lines; i++) {
        const struct lw_ingest_line *l = &b.lines[i];

        if (l->len == 0 || l->len > max_line || l->data == NULL) {
            abort();
        }
        if (lw_utf8_valid(l->data, l->len) != !(l->flags & LW_LINE_INVALID)) {
            abort();
        }
        if (fmt == LW_HTTP_BODY_TEXT) {
            if (l->data < buf || l->data + l->len > buf + len || l->ts_ns != LW_TS_UNKNOWN) {
                abort();
            }
        }
        else if (l->data < b.store || l->data + l->len > b.store + b.store_len) {
            abort();
        }
        if (b.hosts[i] != NULL && strlen(b.hosts[i]) == 0) {
            abort();
        }
    }
    lw_http_body_fini(&b);
    if (fmt == LW_HTTP_BODY_TEXT) {
        check_joined(buf, len, max_line);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum lw_http_body_format fmt;
    const char *buf;
    size_t len;
    size_t max_line;
    char *plain = NULL;
    size_t plain_len = 0;
    int rc;

    if (size < 1) {
        return 0;
    }
    fmt = (data[0] & 1) ? LW_HTTP_BODY_TEXT : LW_HTTP_BODY_NDJSON;
    max_line = (data[0] & 4) ? 8 : 65536;
    buf = (const char *)data + 1;
    len = size - 1;
    if (data[0] & 2) {
        rc = lw_http_gunzip(buf, len, FUZZ_MAX_INFLATE, &plain, &plain_len);
        if (rc == LW_OK) {
            if (plain_len > FUZZ_MAX_INFLATE || plain == NULL || plain[plain_len] != '\0') {
                abort();
            }
            check(plain, plain_len, fmt, max_line);
        }
        else if (plain != NULL || (rc != LW_EINVAL && rc != LW_ETOOBIG && rc != LW_ENOMEM)) {
            abort();
        }
        lw_free(plain);
        return 0;
    }
    check(buf, len, fmt, max_line);
    return 0;
}
