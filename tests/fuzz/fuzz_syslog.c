/*
 * libFuzzer target for the syslog framer (src/input/syslog_frame.c). The first input byte picks
 * the maximum message size (small, so truncation is reached) and the forced framing mode; the
 * next bytes choose slice sizes, and the rest of the input is fed in those slices, as reads from
 * a socket would arrive. Every message is checked against the framing invariants and parsed by
 * the automatic header recognizer, as the pipeline would. The same input is also framed in one
 * call, and both runs must agree on the number of messages and bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_syslog.h"

#define N_SLICE_BYTES 8

struct check {
    size_t max;               /* the framer's max_bytes */
    size_t n;                 /* messages seen */
    size_t total;             /* message bytes seen */
    int stop_every;           /* ask the framer to stop after every nth message (0: never) */
    struct lw_header *h;
    struct lw_header_state *st;
};

static int on_frame(void *opaque, const char *data, size_t len, uint32_t flags)
{
    struct check *c = opaque;
    struct lw_header_result res;

    if (len == 0 || len > c->max || data == NULL) {
        abort();
    }
    if ((flags & ~(LW_LINE_TRUNCATED | LW_LINE_INVALID)) != 0) {
        abort();
    }
    if (lw_utf8_valid(data, len) != !(flags & LW_LINE_INVALID)) {
        abort();
    }
    if (c->h != NULL && lw_header_parse(c->h, c->st, data, len, &res) == LW_OK) {
        if (res.msg.len > 0 && res.msg.p == NULL) {
            abort();
        }
    }
    c->n++;
    c->total += len;
    return (c->stop_every > 0 && c->n % (size_t)c->stop_every == 0) ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[4] = {1, 8, 64, 300};
    static const enum lw_syslog_framing modes[4] = {LW_SYSLOG_FRAMING_AUTO,
                                                    LW_SYSLOG_FRAMING_AUTO,
                                                    LW_SYSLOG_FRAMING_OCTET,
                                                    LW_SYSLOG_FRAMING_NEWLINE};
    static struct lw_header *h;
    static struct lw_header_state *st;
    struct lw_syslog_framer fr;
    struct lw_syslog_framer whole;
    struct check c;
    struct check cw;
    const char *p;
    size_t len;
    size_t k = 0;
    ptrdiff_t r;

    if (size < 1 + N_SLICE_BYTES) {
        return 0;
    }
    if (h == NULL) {
        char err[256];

        h = lw_header_create(NULL, err, sizeof(err));
        st = h ? lw_header_state_create(h) : NULL;
        if (st == NULL) {
            abort();
        }
    }
    memset(&c, 0, sizeof(c));
    c.max = maxes[data[0] & 3];
    c.stop_every = (data[0] & 0x10) ? 2 : 0;
    c.h = h;
    c.st = st;
    cw = c;
    cw.stop_every = 0;
    cw.h = NULL;
    p = (const char *)data + 1 + N_SLICE_BYTES;
    len = size - 1 - N_SLICE_BYTES;

    lw_syslog_framer_init(&fr, c.max, modes[(data[0] >> 2) & 3]);
    while (len > 0) {
        size_t slice = (size_t)data[1 + (k++ % N_SLICE_BYTES)] + 1;

        if (slice > len) {
            slice = len;
        }
        r = lw_syslog_framer_feed(&fr, p, slice, on_frame, &c);
        if (r < 0 || (size_t)r > slice) {
            abort();
        }
        if (r == 0 && slice > 0 && c.stop_every == 0) {
            abort();
        }
        /* A stop leaves the rest for the next call, as the server does. */
        p += r;
        len -= (size_t)r;
    }
    if (lw_syslog_framer_finish(&fr, on_frame, &c) != LW_OK) {
        abort();
    }
    if (fr.n_bytes != size - 1 - N_SLICE_BYTES || fr.n_frames != c.n ||
        c.total > fr.n_bytes || fr.n_truncated > c.n) {
        abort();
    }
    lw_syslog_framer_fini(&fr);

    /* One call over the whole input must give the same messages. */
    lw_syslog_framer_init(&whole, cw.max, modes[(data[0] >> 2) & 3]);
    r = lw_syslog_framer_feed(&whole, (const char *)data + 1 + N_SLICE_BYTES,
                              size - 1 - N_SLICE_BYTES, on_frame, &cw);
    if (r != (ptrdiff_t)(size - 1 - N_SLICE_BYTES)) {
        abort();
    }
    lw_syslog_framer_finish(&whole, on_frame, &cw);
    if (cw.n != c.n || cw.total != c.total ||
        whole.n_framing_errors != fr.n_framing_errors) {
        abort();
    }
    lw_syslog_framer_fini(&whole);
    return 0;
}
