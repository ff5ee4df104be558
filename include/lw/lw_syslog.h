/*
 * The syslog input: UDP and TCP listeners that frame what senders write into messages and hand
 * them to an lw_ingest (see lw_ingest.h) in groups, one group per connection or per run of
 * datagrams from one sender.
 *
 * Two layers. The framer (src/input/syslog_frame.c) is pure and incremental: it turns a byte
 * stream into syslog messages by RFC 6587 octet counting ("<len> <msg>") or non-transparent
 * newline framing (LF, or NUL as rsyslog may send), keeps a partial frame across calls, and
 * never holds more than max_bytes + 1 bytes. The server (src/input/syslog_server.c) runs one
 * thread with epoll over non-blocking sockets and feeds each connection's bytes to its own
 * framer; when the ingest answers LW_EAGAIN it stops polling that connection, so TCP flow control
 * pushes back on the sender. UDP cannot push back: a group the ingest refuses is dropped and
 * counted in dropped_udp, and so are the datagrams the kernel drops when the socket's receive
 * buffer is full (read from SO_RXQ_OVFL; they are counted when the next datagram is read). The
 * receive buffer is raised to udp_rcvbuf_bytes (8 MiB by default) so that a burst or a pause of
 * the pipeline costs as little as possible.
 *
 * The message handed over is the whole syslog message, header included: the pipeline's header
 * parser (lw_header in automatic mode) extracts host, time and level from it.
 */
#ifndef LW_SYSLOG_H
#define LW_SYSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "lw/lw_ingest.h"

#define LW_SYSLOG_DEFAULT_MAX_MSG   65536u  /* bytes in a message before it is truncated */
#define LW_SYSLOG_MAX_MSG_LIMIT     (16u * 1024u * 1024u) /* max_msg_bytes above this is refused */
#define LW_SYSLOG_DEFAULT_MAX_CONNS 10000u
#define LW_SYSLOG_DEFAULT_IDLE_S    300u
#define LW_SYSLOG_DEFAULT_BATCH     1024u
#define LW_SYSLOG_DEFAULT_FLUSH_MS  50u
#define LW_SYSLOG_DEFAULT_UDP_RCVBUF (8u * 1024u * 1024u) /* SO_RCVBUF asked for the UDP socket */

/* ---- Framing (RFC 6587) ---------------------------------------------------------------- */

enum lw_syslog_framing {
    LW_SYSLOG_FRAMING_AUTO = 0, /* decided by the stream's first byte: digit → octet counting */
    LW_SYSLOG_FRAMING_OCTET,    /* "<len> <msg>"; a frame starting with '<' is newline-framed */
    LW_SYSLOG_FRAMING_NEWLINE,  /* messages end at LF (a CR before it is removed) or NUL */
};

/*
 * Called for each complete message: @data (without terminator, not NUL-terminated) is borrowed
 * until the callback returns; @flags holds LW_LINE_TRUNCATED (the message was longer than
 * max_bytes and was cut; its rest is skipped, never turned into more messages) and
 * LW_LINE_INVALID (not valid UTF-8 or holds NUL bytes; passed through) from lw_frame.h. Return 0
 * to go on, a positive value to stop after this message (lw_syslog_framer_feed() then returns
 * the bytes consumed so far), or a negative LW_E* code to abort (it is returned).
 */
typedef int (*lw_syslog_frame_cb)(void *opaque, const char *data, size_t len, uint32_t flags);

/*
 * One framer per stream (TCP connection). Caller-owned storage: lw_syslog_framer_init() and
 * lw_syslog_framer_fini(). Used by one thread at a time. Fields below the counters are private.
 */
struct lw_syslog_framer {
    uint64_t n_frames;          /* messages passed to the callback */
    uint64_t n_bytes;           /* bytes consumed by feed */
    uint64_t n_framing_errors;  /* bad octet-count prefixes, and counts above max_bytes; after
                                 * each the framer resynchronises on the next line end or the
                                 * next "LEN SP <" frame start */
    uint64_t n_truncated;       /* messages cut at max_bytes (or cut short by the end of stream) */

    size_t max_bytes;           /* messages longer than this are truncated */
    int mode;                   /* enum lw_syslog_framing, AUTO until the first byte */
    int state;                  /* private state of the scanner */
    uint64_t body_len;          /* octet counting: announced length of the frame */
    uint64_t body_left;         /* octet counting: bytes of the frame not yet seen */
    size_t n_digits;            /* digits of the length prefix seen so far */
    int overflow;               /* the frame being built is over the bound */
    int tentative;              /* AUTO saw a digit first: octet counting until "LEN SP <" is
                                 * disproved (then the stream is newline-framed, no error) */
    int rs_state;               /* resync: 0 scanning, 1 in a candidate's digits, 2 after its SP */
    int rs_prev_digit;          /* resync: the previous byte was a digit (no frame starts here) */
    uint64_t rs_len;            /* resync: the candidate's length */
    size_t rs_digits;           /* resync: the candidate's digits so far */
    size_t rs_mark;             /* resync: @len where the candidate's digits began */
    char *buf;                  /* the partial frame, lw_malloc'ed lazily, at most max_bytes + 1 */
    size_t len;                 /* bytes in @buf */
    size_t cap;                 /* capacity of @buf */
};

/* Prepares @fr; @max_bytes 0 means LW_SYSLOG_DEFAULT_MAX_MSG. Does not allocate. */
void lw_syslog_framer_init(struct lw_syslog_framer *fr, size_t max_bytes,
                           enum lw_syslog_framing mode);
/* Frees the partial frame. @fr may be re-initialised afterwards. */
void lw_syslog_framer_fini(struct lw_syslog_framer *fr);

/*
 * Frames @buf[0..len) (borrowed, never written), calling @cb for each complete message; bytes of
 * an unfinished message are kept in @fr for the next call. Returns the number of bytes consumed
 * (@len unless @cb asked to stop; the caller feeds the rest again later) or a negative code
 * returned by @cb. Never fails on its own: when memory for a partial frame runs out, its bytes
 * are dropped and the message is passed on flagged LW_LINE_TRUNCATED.
 */
ptrdiff_t lw_syslog_framer_feed(struct lw_syslog_framer *fr, const char *buf, size_t len,
                                lw_syslog_frame_cb cb, void *opaque);

/*
 * End of stream: passes a final unterminated message to @cb (an incomplete octet-counted frame
 * is passed flagged LW_LINE_TRUNCATED) and resets @fr to its initial state. Returns LW_OK, or
 * the negative code from @cb.
 */
int lw_syslog_framer_finish(struct lw_syslog_framer *fr, lw_syslog_frame_cb cb, void *opaque);

/*
 * UDP: one datagram is one message. Removes trailing LF, CR and NUL bytes, truncates to
 * @max_bytes (setting LW_LINE_TRUNCATED in *@flags) and sets LW_LINE_INVALID as the framer does.
 * Returns the message length.
 */
size_t lw_syslog_datagram(const char *buf, size_t len, size_t max_bytes, uint32_t *flags);

/* ---- Server ---------------------------------------------------------------------------- */

struct lw_syslog_conf {
    const char *udp_addr;       /* "127.0.0.1:5514", "[::1]:514", ":514" (127.0.0.1); NULL: off */
    const char *tcp_addr;       /* as @udp_addr; port 0 binds an ephemeral port */
    size_t max_msg_bytes;       /* 0: LW_SYSLOG_DEFAULT_MAX_MSG */
    size_t max_connections;     /* 0: LW_SYSLOG_DEFAULT_MAX_CONNS; more are accepted and closed */
    unsigned idle_timeout_s;    /* 0: LW_SYSLOG_DEFAULT_IDLE_S; silent connections are closed */
    size_t batch_lines;         /* 0: LW_SYSLOG_DEFAULT_BATCH; lines per group at most */
    unsigned flush_ms;          /* 0: LW_SYSLOG_DEFAULT_FLUSH_MS; longest a line may wait in an
                                   open group. Groups are sent as soon as the socket has nothing
                                   more to read, so today no line waits at all */
    size_t udp_rcvbuf_bytes;    /* 0: LW_SYSLOG_DEFAULT_UDP_RCVBUF. The UDP socket's receive
                                   buffer: SO_RCVBUFFORCE when the process may (CAP_NET_ADMIN),
                                   else SO_RCVBUF, which the kernel caps at net.core.rmem_max
                                   (a warning says so; stats report what was granted) */
};

struct lw_syslog_stats {
    uint64_t messages;              /* messages accepted by the ingest */
    uint64_t bytes;                 /* bytes received (TCP stream bytes, UDP datagram bytes) */
    uint64_t connections_open;
    uint64_t connections_total;     /* TCP connections accepted (rejected ones included) */
    uint64_t framing_errors;        /* bad octet-count prefixes and counts over max_msg_bytes */
    uint64_t truncated;             /* messages over max_msg_bytes, cut */
    uint64_t dropped_udp;           /* UDP datagrams lost: refused by the ingest (LW_EAGAIN or
                                       error) plus dropped_udp_kernel */
    uint64_t dropped_udp_kernel;    /* UDP datagrams the kernel dropped on a full receive buffer
                                       (SO_RXQ_OVFL; seen when the next datagram is read) */
    uint64_t udp_rcvbuf_bytes;      /* the UDP receive buffer granted (SO_RCVBUF as read back:
                                       the kernel doubles the value for its bookkeeping) */
    uint64_t dropped;               /* TCP messages the ingest refused with an error, or left
                                       undelivered at stop */
    uint64_t rejected_connections;  /* closed at once: over max_connections, or out of fds */
    uint64_t idle_closed;           /* connections closed after idle_timeout_s of silence */
    uint64_t backpressure;          /* LW_EAGAIN answers from the ingest */
};

struct lw_syslog_server;

/*
 * Binds the configured listeners (SO_REUSEADDR, backlog 1024) and starts the server thread,
 * which calls @ingest.fn from that thread with source.input = "syslog" and source.name = the
 * sender's "ip:port". Returns NULL and writes a message into @err (capacity @err_len) when
 * an address is malformed, a bind fails, or neither listener is configured.
 */
struct lw_syslog_server *lw_syslog_server_start(const struct lw_syslog_conf *conf,
                                                struct lw_ingest ingest, char *err,
                                                size_t err_len);

/*
 * Closes the listeners, offers each pending group to the ingest once more (for at most about a
 * second when it keeps answering LW_EAGAIN; what stays undelivered is counted in dropped),
 * closes the connections, joins the thread and frees @srv. NULL does nothing. Call from any
 * thread but the server's (not from the ingest callback).
 */
void lw_syslog_server_stop(struct lw_syslog_server *srv);

/* Copies the counters into @out. Any thread. */
void lw_syslog_server_stats(const struct lw_syslog_server *srv, struct lw_syslog_stats *out);

/* Returns the bound port of the TCP (@tcp != 0) or UDP listener, or 0 when it is disabled. */
int lw_syslog_server_port(const struct lw_syslog_server *srv, int tcp);

#endif
