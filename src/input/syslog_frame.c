/*
 * RFC 6587 framing for the syslog input (see lw_syslog.h): a small incremental scanner, one per
 * TCP connection, plus the one-datagram-one-message rule for UDP.
 *
 * The framing is chosen from the stream's first byte, as rsyslog does: a digit means octet
 * counting ("<len> <msg>"), anything else non-transparent framing (the message ends at LF or
 * NUL). In octet-counting mode each frame start is checked again: a frame that starts with '<'
 * is taken as newline-framed (senders that mix both exist), and a malformed length prefix
 * (leading zero, more than 10 digits, no space after the digits, any other byte) or a length
 * above max_bytes is a framing error. It is counted and the scanner resynchronises as RFC 6587
 * (3.4.1) suggests, by looking for the next frame: the bytes that follow form a fallback message
 * that ends at the next line end (LF or NUL) or just before the next "LEN SP <" whose LEN is a
 * length this framer takes (1..max_bytes, not glued to a digit before it). So a count such as
 * 9999999999 costs one message, not every frame after it on the connection. The bytes read so
 * far are not lost: a malformed prefix starts the fallback message; an over-long count is
 * dropped and the message starts after it. A legitimate frame longer than max_bytes is handled
 * the same way: one truncated message, then the next frame (unless its body happens to contain
 * "LEN SP <" text, where the resync takes it as a frame start).
 *
 * Messages that lie wholly inside the caller's buffer are passed without a copy. Otherwise the
 * bytes are collected in @fr->buf, which never grows beyond max_bytes + 1 (the extra byte lets
 * a message of exactly max_bytes be followed by CR LF without being taken as truncated). Bytes
 * past the bound are scanned for the frame end and dropped, so a gigabyte line costs the same
 * memory as a short one, and it yields one truncated message, never a run of fake ones.
 */
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_mem.h"
#include "lw/lw_syslog.h"

enum {
    ST_START = 0, /* between frames */
    ST_LEN,       /* reading the decimal length prefix */
    ST_LEN_SP,    /* AUTO, tentative: "LEN SP" seen; a '<' next confirms octet counting */
    ST_BODY,      /* reading body_left more bytes of an octet-counted frame */
    ST_LINE,      /* reading a newline-framed message up to LF or NUL */
    ST_RESYNC,    /* after a framing error: a message up to LF, NUL or the next frame start */
};

#define LEN_DIGITS_MAX 10u /* "4294967295" is the longest prefix taken */

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

void lw_syslog_framer_init(struct lw_syslog_framer *fr, size_t max_bytes,
                           enum lw_syslog_framing mode)
{
    memset(fr, 0, sizeof(*fr));
    fr->max_bytes = max_bytes ? max_bytes : LW_SYSLOG_DEFAULT_MAX_MSG;
    fr->mode = mode;
    fr->state = ST_START;
}

void lw_syslog_framer_fini(struct lw_syslog_framer *fr)
{
    lw_free(fr->buf);
    fr->buf = NULL;
    fr->len = 0;
    fr->cap = 0;
}

/*
 * Appends up to the bound; bytes past it set @fr->overflow and are dropped. When memory runs out
 * the bytes are dropped the same way: the message arrives short and flagged, and the stream
 * position is never lost (a failing feed would have to replay messages already passed on).
 */
static void store(struct lw_syslog_framer *fr, const char *p, size_t n)
{
    size_t limit = fr->max_bytes + 1;
    size_t take = n;
    size_t want;
    char *nb;

    if (fr->len + take > limit) {
        take = limit - fr->len;
        fr->overflow = 1;
    }
    if (take == 0) {
        return;
    }
    if (fr->len + take > fr->cap) {
        /* Grow geometrically, from 256 bytes, capped at the bound: idle streams cost nothing. */
        want = fr->cap ? fr->cap : 256;
        while (want < fr->len + take) {
            want *= 2;
        }
        if (want > limit) {
            want = limit;
        }
        nb = lw_realloc(fr->buf, want);
        if (nb == NULL) {
            fr->overflow = 1;
            return;
        }
        fr->buf = nb;
        fr->cap = want;
    }
    memcpy(fr->buf + fr->len, p, take);
    fr->len += take;
}

/*
 * Passes one message to @cb after the common trimming: trailing CR (newline framing) or any
 * trailing LF/CR/NUL (octet counting, whose senders often count a final newline), then the
 * max_bytes cut. Empty messages are skipped. Returns @cb's answer, or 0.
 */
static int emit(struct lw_syslog_framer *fr, const char *p, size_t len, int overflow, int octet,
                lw_syslog_frame_cb cb, void *opaque)
{
    uint32_t flags = 0;

    /*
     * Both paths must agree, whether the frame was passed in place or collected: collected
     * frames hold their first max_bytes + 1 bytes, so a frame longer than that is cut before
     * any trimming, and a shorter one is trimmed first (a message of max_bytes followed by CR LF
     * is whole).
     */
    if (len > fr->max_bytes + 1) {
        overflow = 1;
    }
    if (overflow) {
        len = len > fr->max_bytes ? fr->max_bytes : len;
    }
    else if (octet) {
        while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r' || p[len - 1] == '\0')) {
            len--;
        }
    }
    else if (len > 0 && p[len - 1] == '\r') {
        len--;
    }
    if (len > fr->max_bytes) {
        len = fr->max_bytes;
        overflow = 1;
    }
    if (len == 0) {
        return 0;
    }
    if (overflow) {
        flags |= LW_LINE_TRUNCATED;
        fr->n_truncated++;
    }
    if (!lw_utf8_valid(p, len)) {
        flags |= LW_LINE_INVALID;
    }
    fr->n_frames++;
    return cb(opaque, p, len, flags);
}

static void reset_frame(struct lw_syslog_framer *fr)
{
    fr->len = 0;
    fr->overflow = 0;
    fr->n_digits = 0;
    fr->body_len = 0;
    fr->body_left = 0;
}

/*
 * A bad length prefix: count it and collect what follows as a fallback message until the next
 * line end or frame start. @fr->buf keeps what was read of the prefix.
 */
static void fall_back(struct lw_syslog_framer *fr)
{
    fr->n_framing_errors++;
    fr->state = ST_RESYNC;
    fr->rs_state = 0;
    fr->rs_prev_digit = fr->n_digits > 0;
}

/* A well-formed count above max_bytes: an error too, but the count itself is dropped. */
static void count_over_limit(struct lw_syslog_framer *fr)
{
    fr->len = 0;
    fr->overflow = 0;
    fr->n_digits = 0;
    fr->tentative = 0;
    fall_back(fr);
}

/*
 * One byte of a fallback message. Returns 1 when it was consumed, 0 when a frame start was
 * confirmed at @c ('<'): the message before the candidate is passed to @cb (*@rc gets its
 * answer) and the state is now ST_BODY with @c not consumed.
 */
static int resync_byte(struct lw_syslog_framer *fr, const char *p, lw_syslog_frame_cb cb,
                       void *opaque, int *rc)
{
    unsigned char c = (unsigned char)*p;

    switch (fr->rs_state) {
    case 1:
        if (is_digit(c) && fr->rs_digits < LEN_DIGITS_MAX) {
            fr->rs_len = fr->rs_len * 10 + (uint64_t)(c - '0');
            fr->rs_digits++;
        }
        else {
            fr->rs_state = c == ' ' ? 2 : 0;
        }
        break;
    case 2:
        if (c == '<' && fr->rs_len <= fr->max_bytes) {
            /* The candidate's digits and space are not part of the message before it. */
            fr->len = fr->rs_mark;
            *rc = emit(fr, fr->buf, fr->len, fr->overflow, 0, cb, opaque);
            reset_frame(fr);
            fr->body_len = fr->rs_len;
            fr->body_left = fr->rs_len;
            fr->rs_state = 0;
            fr->state = ST_BODY;
            return 0;
        }
        fr->rs_state = 0;
        break;
    default:
        break;
    }
    if (fr->rs_state == 0 && c >= '1' && c <= '9' && !fr->rs_prev_digit) {
        fr->rs_state = 1;
        fr->rs_len = (uint64_t)(c - '0');
        fr->rs_digits = 1;
        fr->rs_mark = fr->len;
    }
    fr->rs_prev_digit = is_digit(c);
    store(fr, p, 1);
    return 1;
}

ptrdiff_t lw_syslog_framer_feed(struct lw_syslog_framer *fr, const char *buf, size_t len,
                                lw_syslog_frame_cb cb, void *opaque)
{
    size_t i = 0;
    int rc = 0;

    while (i < len && rc == 0) {
        unsigned char c = (unsigned char)buf[i];

        switch (fr->state) {
        case ST_START:
            if (c == '\n' || c == '\r' || c == '\0') {
                /* Stray terminators between frames (a counted frame followed by LF) carry nothing. */
                i++;
                break;
            }
            if (fr->mode == LW_SYSLOG_FRAMING_AUTO) {
                /*
                 * A digit first suggests octet counting, but raw log lines often start with a
                 * date: it is confirmed only by "LEN SP <" (a syslog message starts with <PRI>).
                 */
                fr->mode = is_digit(c) ? LW_SYSLOG_FRAMING_OCTET : LW_SYSLOG_FRAMING_NEWLINE;
                fr->tentative = is_digit(c);
            }
            reset_frame(fr);
            if (fr->mode == LW_SYSLOG_FRAMING_OCTET && is_digit(c)) {
                fr->state = ST_LEN;
            }
            else if (fr->mode == LW_SYSLOG_FRAMING_OCTET && c != '<') {
                fall_back(fr);
            }
            else {
                fr->state = ST_LINE;
            }
            break;

        case ST_LEN:
            if (is_digit(c) && !(fr->n_digits == 0 && c == '0') &&
                fr->n_digits < LEN_DIGITS_MAX) {
                /* Kept in @buf so that a fallback message still starts with them. */
                store(fr, buf + i, 1);
                fr->body_len = fr->body_len * 10 + (uint64_t)(c - '0');
                fr->n_digits++;
                i++;
            }
            else if (c == ' ' && fr->n_digits > 0 && fr->tentative) {
                store(fr, buf + i, 1);
                fr->state = ST_LEN_SP;
                i++;
            }
            else if (c == ' ' && fr->n_digits > 0 && fr->body_len > fr->max_bytes) {
                count_over_limit(fr);
                i++;
            }
            else if (c == ' ' && fr->n_digits > 0) {
                fr->state = ST_BODY;
                fr->body_left = fr->body_len;
                fr->len = 0;
                fr->overflow = 0;
                i++;
            }
            else if (fr->tentative) {
                /* Not a length prefix: the stream is newline-framed after all. */
                fr->mode = LW_SYSLOG_FRAMING_NEWLINE;
                fr->tentative = 0;
                fr->state = ST_LINE;
            }
            else {
                fall_back(fr);
            }
            break;

        case ST_LEN_SP:
            fr->tentative = 0;
            if (c == '<' && fr->body_len > fr->max_bytes) {
                count_over_limit(fr);  /* octet counting after all, with a bad count */
            }
            else if (c == '<') {
                fr->state = ST_BODY;
                fr->body_left = fr->body_len;
                fr->len = 0;
                fr->overflow = 0;
            }
            else {
                fr->mode = LW_SYSLOG_FRAMING_NEWLINE;
                fr->state = ST_LINE; /* "081109 203615 ...": the digits and space stay */
            }
            break;

        case ST_BODY: {
            size_t avail = len - i;
            size_t k = fr->body_left < avail ? (size_t)fr->body_left : avail;

            if (fr->len == 0 && !fr->overflow && k == fr->body_left) {
                /* The whole frame is in @buf: no copy. */
                i += k;
                fr->state = ST_START;
                rc = emit(fr, buf + i - k, k, 0, 1, cb, opaque);
                reset_frame(fr);
                break;
            }
            store(fr, buf + i, k);
            i += k;
            fr->body_left -= k;
            if (fr->body_left == 0) {
                fr->state = ST_START;
                rc = emit(fr, fr->buf, fr->len, fr->overflow, 1, cb, opaque);
                reset_frame(fr);
            }
            break;
        }

        case ST_LINE: {
            const char *p = buf + i;
            size_t avail = len - i;
            const char *lf = memchr(p, '\n', avail);
            size_t scan = lf ? (size_t)(lf - p) : avail;
            const char *nul = memchr(p, '\0', scan);
            const char *end = nul ? nul : lf;

            if (end == NULL) {
                store(fr, p, avail);
                i = len;
                break;
            }
            scan = (size_t)(end - p);
            i += scan + 1;
            fr->state = ST_START;
            if (fr->len == 0 && !fr->overflow) {
                rc = emit(fr, p, scan, 0, 0, cb, opaque);
            }
            else {
                store(fr, p, scan);
                rc = emit(fr, fr->buf, fr->len, fr->overflow, 0, cb, opaque);
            }
            reset_frame(fr);
            break;
        }

        case ST_RESYNC: {
            int ended = 0;

            /* Byte by byte: this only runs after a framing error, until the next frame. */
            while (i < len && !ended) {
                c = (unsigned char)buf[i];
                if (c == '\n' || c == '\0') {
                    i++;
                    fr->state = ST_START;
                    rc = emit(fr, fr->buf, fr->len, fr->overflow, 0, cb, opaque);
                    reset_frame(fr);
                    ended = 1;
                }
                else if (resync_byte(fr, buf + i, cb, opaque, &rc)) {
                    i++;
                }
                else {
                    ended = 1;
                }
            }
            break;
        }

        default:
            fr->state = ST_START;
            break;
        }
    }
    fr->n_bytes += i;
    if (rc < 0) {
        return rc;
    }
    return (ptrdiff_t)i;
}

int lw_syslog_framer_finish(struct lw_syslog_framer *fr, lw_syslog_frame_cb cb, void *opaque)
{
    int rc = 0;

    switch (fr->state) {
    case ST_LEN:
    case ST_LEN_SP:
        /* Digits and nothing else: not a frame; pass them on as text. */
        if (!fr->tentative && fr->state == ST_LEN) {
            fr->n_framing_errors++;
        }
        rc = emit(fr, fr->buf, fr->len, fr->overflow, 0, cb, opaque);
        break;
    case ST_BODY:
        /* The stream ended inside a counted frame: what arrived is passed on, flagged. */
        rc = emit(fr, fr->buf, fr->len, 1, 1, cb, opaque);
        break;
    case ST_LINE:
    case ST_RESYNC:
        rc = emit(fr, fr->buf, fr->len, fr->overflow, 0, cb, opaque);
        break;
    default:
        break;
    }
    reset_frame(fr);
    fr->state = ST_START;
    fr->mode = LW_SYSLOG_FRAMING_AUTO;
    fr->tentative = 0;
    return rc < 0 ? rc : LW_OK;
}

size_t lw_syslog_datagram(const char *buf, size_t len, size_t max_bytes, uint32_t *flags)
{
    *flags = 0;
    if (max_bytes == 0) {
        max_bytes = LW_SYSLOG_DEFAULT_MAX_MSG;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == '\0')) {
        len--;
    }
    if (len > max_bytes) {
        len = max_bytes;
        *flags |= LW_LINE_TRUNCATED;
    }
    if (len > 0 && !lw_utf8_valid(buf, len)) {
        *flags |= LW_LINE_INVALID;
    }
    return len;
}
