/*
 * libFuzzer target for line framing (src/parse/frame.c). The first input byte picks the
 * configuration (maximum line length, multi-line mode, group bound); the rest is framed with
 * lw_frame_buffer() and every line is checked against the framing invariants.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_frame.h"

struct check {
    const char *buf;       /* the framed input */
    size_t len;            /* bytes in @buf */
    size_t max;            /* effective max_line_bytes */
    int multi;             /* multi-line mode is on */
    uint64_t last_lineno;  /* lineno of the previous line */
    uint64_t last_offset;  /* offset of the previous line */
    size_t n;              /* lines seen */
};

static int on_line(void *opaque, const struct lw_line *l)
{
    struct check *c = opaque;

    if (l->len > c->max) {
        abort();
    }
    if (l->len > 0 && l->data == NULL) {
        abort();
    }
    if (l->lineno <= c->last_lineno || (c->n > 0 && l->offset <= c->last_offset)) {
        abort();
    }
    if (l->offset >= c->len) {
        abort();
    }
    if (lw_utf8_valid(l->data, l->len) != !(l->flags & LW_LINE_INVALID)) {
        abort();
    }
    if (!c->multi) {
        /* Single lines are never copied: they point at their own offset in the input. */
        if (l->data != c->buf + l->offset || (l->flags & LW_LINE_MULTI) ||
            memchr(l->data, '\n', l->len) != NULL) {
            abort();
        }
    }
    else if (!(l->flags & LW_LINE_MULTI) && memchr(l->data, '\n', l->len) != NULL) {
        abort();
    }
    c->last_lineno = l->lineno;
    c->last_offset = l->offset;
    c->n++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[4] = {1, 7, 64, 0};
    static const enum lw_multiline_mode modes[4] = {LW_MULTILINE_OFF, LW_MULTILINE_AUTO,
                                                    LW_MULTILINE_REGEX, LW_MULTILINE_START};
    static const char *const regexes[4] = {NULL, NULL, "^[ \\t+]", "^\\d"};
    struct lw_reader_conf conf;
    struct check c;
    int rc;

    if (size < 1) {
        return 0;
    }
    memset(&conf, 0, sizeof(conf));
    conf.max_line_bytes = maxes[data[0] & 3];
    conf.multiline = modes[(data[0] >> 2) & 3];
    conf.regex = regexes[(data[0] >> 2) & 3];
    conf.max_multiline_lines = (data[0] & 0x10) ? 2 : 0;
    memset(&c, 0, sizeof(c));
    c.buf = (const char *)data + 1;
    c.len = size - 1;
    c.max = conf.max_line_bytes ? conf.max_line_bytes : 65536;
    c.multi = conf.multiline != LW_MULTILINE_OFF;
    rc = lw_frame_buffer(c.buf, c.len, &conf, on_line, &c);
    if (rc < 0 || (size_t)rc != c.n) {
        abort();
    }
    if (c.len > 0 && c.n == 0) {
        abort();
    }
    return 0;
}
