/*
 * The syslog listeners (see lw_syslog.h): one thread, one level-triggered epoll set, non-blocking
 * UDP and TCP sockets. Nothing here blocks except epoll_wait, so ten thousand idle connections
 * cost a struct each and never stall the others.
 *
 * TCP. A readable connection is read into the thread's one read buffer (up to READ_ROUNDS reads
 * per wake-up, for fairness), framed by the connection's framer, and the messages are copied
 * into the connection's group, which is handed to the ingest when it is full or when the socket
 * has nothing more to give. When the ingest answers LW_EAGAIN the group is kept, the unframed
 * rest of the read buffer is saved in the connection, and the connection leaves the epoll set
 * (see conn_pause): the kernel's receive buffer fills and TCP flow control stops the sender. Paused
 * connections sit on the pending list, which is retried every RETRY_MS; when the group goes
 * through, the saved bytes are framed and reading resumes.
 *
 * UDP. Datagrams are received into one batch buffer; consecutive datagrams from the same sender
 * form a group. UDP has no flow control, so a group the ingest refuses is dropped and counted.
 * So are the datagrams the kernel drops when the receive buffer is full: with SO_RXQ_OVFL set,
 * each datagram carries the socket's drop counter as it was when the datagram was queued, and
 * the difference from the last value seen is added to the drop counters. The counter is 32 bits
 * and wraps; differences are taken modulo 2^32.
 *
 * Idle connections are kept in least-recently-active order, so the idle sweep looks only at the
 * oldest ones. Connections closed while a batch of epoll events is being handled are freed after
 * the batch, since a later event of the same batch may still point at them.
 *
 * Out of file descriptors (EMFILE) on accept, the listener would stay readable and spin. libuv's
 * trick: keep one spare descriptor open on /dev/null, and when accept fails with EMFILE close
 * it, accept and close the pending connection (the sender sees a reset instead of waiting), and
 * reopen the spare.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_syslog.h"

#define COMP          "in_syslog"
#define READ_BUF      (64u * 1024u)  /* bytes asked of each read(2) */
#define READ_ROUNDS   16             /* reads per connection per wake-up */
#define ACCEPT_ROUNDS 64             /* accepts per wake-up */
#define UDP_ROUNDS    256            /* datagrams per wake-up */
#define GROUP_BYTES   (1024u * 1024u) /* a group holds about this many message bytes */
#define RETRY_MS      5              /* paused connections retry their group this often */
#define IDLE_SWEEP_MS 200
#define STOP_GRACE_MS 1000           /* how long stop keeps offering pending groups */
#define MAX_EVENTS    256
#define NAME_CAP      (INET6_ADDRSTRLEN + 8)

enum tag_kind {
    TAG_CONN = 0,
    TAG_TCP,
    TAG_UDP,
    TAG_WAKE,
};

/* Lines collected for one ingest call; message bytes are copied into @buf. */
struct group {
    struct lw_ingest_line *lines;
    size_t *off;          /* offset of each line's bytes in @buf (it may move on growth) */
    size_t n;             /* lines */
    size_t cap_lines;
    char *buf;
    size_t len;           /* bytes in @buf */
    size_t cap;           /* capacity of @buf */
    int full;             /* no room is guaranteed for another maximal message */
};

struct conn {
    enum tag_kind kind;              /* TAG_CONN; first, so that epoll data can be told apart */
    int fd;                          /* -1 once closed */
    struct lw_syslog_server *srv;
    char name[NAME_CAP];             /* the sender, "ip:port" */
    struct lw_syslog_framer fr;
    uint64_t seen_errors;            /* fr.n_framing_errors already added to the stats */
    uint64_t seen_truncated;         /* fr.n_truncated already added to the stats */
    struct group g;
    char *left;                      /* read bytes not framed yet (saved when paused) */
    size_t left_len;
    uint64_t active_ns;              /* last time bytes arrived */
    int paused;                      /* epoll events are 0 until the group goes through */
    int eof;                         /* the peer closed; close once the group is delivered */
    struct conn *prev, *next;        /* idle list, least recently active first */
    struct conn *pprev, *pnext;      /* pending list (paused connections) */
    struct conn *dead_next;          /* freed after the current event batch */
};

struct listener {
    enum tag_kind kind;
    int fd;
    int port;
};

struct lw_syslog_server {
    int evict_logged;     /* the max_connections warning was logged */
    size_t max_msg;
    size_t max_conns;
    uint64_t idle_ns;
    size_t batch_lines;
    unsigned flush_ms;
    struct lw_ingest ingest;

    struct listener tcp;
    struct listener udp;
    struct listener wake;            /* eventfd written by stop */
    int ep;
    int spare_fd;                    /* the EMFILE reserve, or -1 */
    int emfile_logged;
    pthread_t thread;
    atomic_int stopping;

    char *rbuf;                      /* READ_BUF bytes, the thread's read buffer */
    struct group ug;                 /* the UDP batch */
    struct sockaddr_storage ug_addr; /* sender of the UDP batch */
    socklen_t ug_addr_len;
    char ug_name[NAME_CAP];

    struct conn *idle_head, *idle_tail;
    struct conn *pend_head;
    struct conn *dead;
    size_t n_conns;
    int warned_ingest;

    atomic_uint_fast64_t messages;
    atomic_uint_fast64_t bytes;
    atomic_uint_fast64_t connections_open;
    atomic_uint_fast64_t connections_total;
    atomic_uint_fast64_t framing_errors;
    atomic_uint_fast64_t truncated;
    atomic_uint_fast64_t dropped_udp;
    atomic_uint_fast64_t dropped_udp_kernel;
    uint32_t kernel_drops_seen;      /* the last SO_RXQ_OVFL value read */
    uint64_t udp_rcvbuf;             /* the receive buffer granted */
    atomic_uint_fast64_t dropped;
    atomic_uint_fast64_t rejected;
    atomic_uint_fast64_t idle_closed;
    atomic_uint_fast64_t backpressure;
};

static void add(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return LW_EIO;
    }
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        return LW_EIO;
    }
    return LW_OK;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    }
    else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    }
    else {
        snprintf(out, cap, "-");
    }
}

/* ---- Groups ---------------------------------------------------------------------------- */

static void group_free(struct group *g)
{
    lw_free(g->lines);
    lw_free(g->off);
    lw_free(g->buf);
    memset(g, 0, sizeof(*g));
}

/*
 * Makes sure one more message of @max_msg bytes fits; sets @g->full when it cannot (the group is
 * at its bounds, or memory ran out). Buffers start small and double, so a quiet connection
 * holds little.
 */
static void group_reserve(struct group *g, size_t max_msg, size_t batch_lines)
{
    size_t byte_cap = GROUP_BYTES > 2 * max_msg ? GROUP_BYTES : 2 * max_msg;

    g->full = 0;
    if (g->n >= batch_lines) {
        g->full = 1;
        return;
    }
    if (g->n == g->cap_lines) {
        size_t want = g->cap_lines ? g->cap_lines * 2 : 64;
        struct lw_ingest_line *nl;
        size_t *no;

        if (want > batch_lines) {
            want = batch_lines;
        }
        nl = lw_realloc(g->lines, want * sizeof(*nl));
        if (nl == NULL) {
            g->full = 1;
            return;
        }
        g->lines = nl;
        no = lw_realloc(g->off, want * sizeof(*no));
        if (no == NULL) {
            g->full = 1;
            return;
        }
        g->off = no;
        g->cap_lines = want;
    }
    if (g->cap - g->len < max_msg) {
        size_t want = g->cap ? g->cap * 2 : 2 * max_msg;
        char *nb;

        while (want - g->len < max_msg) {
            want *= 2;
        }
        if (want > byte_cap && g->len > 0) {
            g->full = 1;
            return;
        }
        nb = lw_realloc(g->buf, want);
        if (nb == NULL) {
            g->full = 1;
            return;
        }
        g->buf = nb;
        g->cap = want;
    }
}

/* Adds a message; room was reserved by group_reserve(). */
static void group_add(struct group *g, const char *p, size_t len, uint32_t flags)
{
    struct lw_ingest_line *l = &g->lines[g->n];

    memcpy(g->buf + g->len, p, len);
    g->off[g->n] = g->len;
    l->data = NULL;
    l->len = len;
    l->flags = flags;
    l->ts_ns = INT64_MIN; /* LW_TS_UNKNOWN: the transport supplies no time */
    g->len += len;
    g->n++;
}

static void group_reset(struct group *g, size_t max_msg)
{
    g->n = 0;
    g->len = 0;
    g->full = 0;
    /* A burst may have grown the buffer; a quiet connection gives it back. */
    if (g->cap > 4 * max_msg) {
        lw_free(g->buf);
        g->buf = NULL;
        g->cap = 0;
    }
}

/* Offers @g to the ingest. Returns the ingest's answer; the caller decides what to keep. */
static int group_offer(struct lw_syslog_server *srv, struct group *g, const char *name)
{
    struct lw_ingest_source src;
    struct lw_ingest_group ig = {0};
    size_t i;

    for (i = 0; i < g->n; i++) {
        g->lines[i].data = g->buf + g->off[i];
    }
    src.input = "syslog";
    src.name = name;
    src.host = NULL;
    src.shared_shards = false;
    src.peer_address = true;
    ig.source = &src;
    ig.lines = g->lines;
    ig.n_lines = g->n;
    ig.checkpoint = NULL;
    return srv->ingest.fn(srv->ingest.opaque, &ig);
}

/* ---- TCP connections ------------------------------------------------------------------- */

static void idle_unlink(struct lw_syslog_server *srv, struct conn *c)
{
    if (c->prev) {
        c->prev->next = c->next;
    }
    else {
        srv->idle_head = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
    else {
        srv->idle_tail = c->prev;
    }
    c->prev = NULL;
    c->next = NULL;
}

static void idle_append(struct lw_syslog_server *srv, struct conn *c)
{
    c->prev = srv->idle_tail;
    c->next = NULL;
    if (srv->idle_tail) {
        srv->idle_tail->next = c;
    }
    else {
        srv->idle_head = c;
    }
    srv->idle_tail = c;
}

static void pend_unlink(struct lw_syslog_server *srv, struct conn *c)
{
    if (c->pprev) {
        c->pprev->pnext = c->pnext;
    }
    else {
        srv->pend_head = c->pnext;
    }
    if (c->pnext) {
        c->pnext->pprev = c->pprev;
    }
    c->pprev = NULL;
    c->pnext = NULL;
}

/* Resumes reading a paused connection; returns LW_EIO when epoll refuses it. */
static int conn_watch(struct lw_syslog_server *srv, struct conn *c)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = c;
    return epoll_ctl(srv->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0 ? LW_EIO : LW_OK;
}

static void conn_close(struct lw_syslog_server *srv, struct conn *c)
{
    if (c->fd < 0) {
        return;
    }
    if (c->g.n > 0) {
        add(&srv->dropped, c->g.n);
    }
    if (!c->paused) {
        epoll_ctl(srv->ep, EPOLL_CTL_DEL, c->fd, NULL);
    }
    close(c->fd);
    c->fd = -1;
    idle_unlink(srv, c);
    if (c->paused) {
        pend_unlink(srv, c);
        c->paused = 0;
    }
    lw_syslog_framer_fini(&c->fr);
    group_free(&c->g);
    lw_free(c->left);
    c->left = NULL;
    srv->n_conns--;
    atomic_fetch_sub_explicit(&srv->connections_open, 1, memory_order_relaxed);
    c->dead_next = srv->dead;
    srv->dead = c;
}

static void conn_pause(struct lw_syslog_server *srv, struct conn *c)
{
    if (c->paused) {
        return;
    }
    c->paused = 1;
    /*
     * Removed from the set rather than set to 0 events: epoll reports EPOLLERR and EPOLLHUP
     * whatever the mask, so a paused connection that the peer resets would wake the loop
     * without end. Re-added on resume; the effect on the sender is the same.
     */
    epoll_ctl(srv->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->pprev = NULL;
    c->pnext = srv->pend_head;
    if (srv->pend_head) {
        srv->pend_head->pprev = c;
    }
    srv->pend_head = c;
}

/*
 * Hands the connection's group to the ingest. Returns LW_OK (delivered, or refused with an error
 * and dropped: the connection goes on) or LW_EAGAIN (kept; the caller pauses).
 */
static int conn_flush(struct lw_syslog_server *srv, struct conn *c)
{
    int rc;

    if (c->g.n == 0) {
        return LW_OK;
    }
    rc = group_offer(srv, &c->g, c->name);
    if (rc == LW_EAGAIN) {
        add(&srv->backpressure, 1);
        return LW_EAGAIN;
    }
    if (rc < 0) {
        add(&srv->dropped, c->g.n);
        if (!srv->warned_ingest) {
            srv->warned_ingest = 1;
            lw_warn(COMP, "ingest refused %zu messages from %s: %s (counted in dropped)", c->g.n,
                    c->name, lw_strerror(rc));
        }
    }
    else {
        add(&srv->messages, c->g.n);
    }
    group_reset(&c->g, srv->max_msg);
    return LW_OK;
}

/* Publishes the framer's new errors and truncations (its counters are the thread's own). */
static void sync_counters(struct lw_syslog_server *srv, struct conn *c)
{
    if (c->fr.n_framing_errors != c->seen_errors) {
        add(&srv->framing_errors, c->fr.n_framing_errors - c->seen_errors);
        c->seen_errors = c->fr.n_framing_errors;
    }
    if (c->fr.n_truncated != c->seen_truncated) {
        add(&srv->truncated, c->fr.n_truncated - c->seen_truncated);
        c->seen_truncated = c->fr.n_truncated;
    }
}

static int on_frame(void *opaque, const char *data, size_t len, uint32_t flags)
{
    struct conn *c = opaque;

    group_add(&c->g, data, len, flags);
    return c->g.full ? 1 : 0;
}

/* The framer calls back after each message; reserve room for the next before returning. */
static int on_frame_tcp(void *opaque, const char *data, size_t len, uint32_t flags)
{
    struct conn *c = opaque;

    on_frame(opaque, data, len, flags);
    group_reserve(&c->g, c->srv->max_msg, c->srv->batch_lines);
    return c->g.full ? 1 : 0;
}

/*
 * Frames @p[0..n) into the group, handing full groups over. Returns LW_OK when everything was
 * taken, LW_EAGAIN when the ingest pushed back (the rest is saved in @c->left and @c is paused),
 * or LW_ENOMEM when the rest could not be saved (the caller closes @c).
 */
static int conn_feed(struct lw_syslog_server *srv, struct conn *c, const char *p, size_t n)
{
    ptrdiff_t r;

    while (n > 0) {
        group_reserve(&c->g, srv->max_msg, srv->batch_lines);
        if (!c->g.full) {
            r = lw_syslog_framer_feed(&c->fr, p, n, on_frame_tcp, c);
            sync_counters(srv, c);
            if (r < 0) {
                return (int)r;
            }
            p += r;
            n -= (size_t)r;
            if (!c->g.full && n > 0) {
                continue;
            }
        }
        if (conn_flush(srv, c) == LW_EAGAIN || (n > 0 && c->g.n == 0 && c->g.full)) {
            /* Pushed back (or no memory for a group: retry later, like backpressure). */
            if (n > 0) {
                if (c->left == NULL) {
                    c->left = lw_malloc(READ_BUF);
                    if (c->left == NULL) {
                        return LW_ENOMEM;
                    }
                }
                memmove(c->left, p, n);
                c->left_len = n;
            }
            conn_pause(srv, c);
            return LW_EAGAIN;
        }
    }
    return LW_OK;
}

/* The peer closed: pass on the last unterminated message, deliver, close. */
static void conn_eof(struct lw_syslog_server *srv, struct conn *c)
{
    c->eof = 1;
    if (conn_flush(srv, c) == LW_EAGAIN) {
        conn_pause(srv, c);
        return;
    }
    group_reserve(&c->g, srv->max_msg, srv->batch_lines);
    if (!c->g.full) {
        lw_syslog_framer_finish(&c->fr, on_frame, c);
        sync_counters(srv, c);
    }
    if (conn_flush(srv, c) == LW_EAGAIN) {
        conn_pause(srv, c);
        return;
    }
    conn_close(srv, c);
}

static void conn_read(struct lw_syslog_server *srv, struct conn *c)
{
    ssize_t n;
    int round;
    int rc;

    for (round = 0; round < READ_ROUNDS; round++) {
        n = read(c->fd, srv->rbuf, READ_BUF);
        if (n > 0) {
            add(&srv->bytes, (uint64_t)n);
            c->active_ns = now_ns();
            idle_unlink(srv, c);
            idle_append(srv, c);
            rc = conn_feed(srv, c, srv->rbuf, (size_t)n);
            if (rc == LW_EAGAIN) {
                return;
            }
            if (rc < 0) {
                conn_close(srv, c);
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        /* End of stream, or a reset: what was received is still delivered. */
        conn_eof(srv, c);
        return;
    }
    if (conn_flush(srv, c) == LW_EAGAIN) {
        conn_pause(srv, c);
    }
}

/* Offers a paused connection's group again; resumes it when the ingest takes it. */
static void conn_retry(struct lw_syslog_server *srv, struct conn *c)
{
    size_t n;
    int rc;

    if (conn_flush(srv, c) == LW_EAGAIN) {
        return;
    }
    pend_unlink(srv, c);
    c->paused = 0;
    if (c->left_len > 0) {
        n = c->left_len;
        c->left_len = 0;
        rc = conn_feed(srv, c, c->left, n);
        if (rc == LW_EAGAIN) {
            return;
        }
        if (rc < 0) {
            conn_close(srv, c);
            return;
        }
        if (conn_flush(srv, c) == LW_EAGAIN) {
            conn_pause(srv, c);
            return;
        }
    }
    if (c->eof) {
        conn_eof(srv, c);
        return;
    }
    c->active_ns = now_ns();
    idle_unlink(srv, c);
    idle_append(srv, c);
    if (conn_watch(srv, c) < 0) {
        conn_close(srv, c);
    }
}

static void retry_pending(struct lw_syslog_server *srv)
{
    struct conn *c = srv->pend_head;
    struct conn *next;

    while (c != NULL) {
        next = c->pnext;
        conn_retry(srv, c);
        c = next;
    }
}

static void free_dead(struct lw_syslog_server *srv)
{
    struct conn *c;

    while ((c = srv->dead) != NULL) {
        srv->dead = c->dead_next;
        lw_free(c);
    }
}

static void sweep_idle(struct lw_syslog_server *srv, uint64_t now)
{
    struct conn *c;

    while ((c = srv->idle_head) != NULL && now - c->active_ns >= srv->idle_ns) {
        if (c->paused) {
            /* Silent because we stopped reading it: not the sender's fault. */
            c->active_ns = now;
            idle_unlink(srv, c);
            idle_append(srv, c);
            continue;
        }
        add(&srv->idle_closed, 1);
        lw_debug(COMP, "closing %s: idle for %llu s", c->name,
                 (unsigned long long)(srv->idle_ns / 1000000000u));
        conn_close(srv, c);
    }
}

/*
 * At max_connections, a new sender would otherwise be shut out for as long as the idle
 * connections stay (up to idle_timeout). The least recently active connection that holds
 * nothing undelivered (not paused, no partial frame, no pending group) is closed to make room:
 * the one that has been silent longest loses, not the newcomer.
 */
static void evict_quietest(struct lw_syslog_server *srv)
{
    struct conn *c;
    int looked = 0;

    for (c = srv->idle_head; c != NULL && looked < 64; c = c->next, looked++) {
        if (!c->paused && c->fr.len == 0 && c->g.n == 0 && c->left_len == 0 && !c->eof) {
            if (!srv->evict_logged) {
                srv->evict_logged = 1;
                lw_warn(COMP, "max_connections (%zu) reached: closing the quietest connections "
                              "to accept new ones (counted in idle_closed)",
                        srv->max_conns);
            }
            add(&srv->idle_closed, 1);
            conn_close(srv, c);
            return;
        }
    }
}

/* Out of descriptors: see the file comment. */
static void accept_emfile(struct lw_syslog_server *srv)
{
    int fd;

    if (!srv->emfile_logged) {
        srv->emfile_logged = 1;
        lw_warn(COMP, "out of file descriptors: new TCP connections are closed at once "
                      "(counted in rejected_connections)");
    }
    if (srv->spare_fd < 0) {
        return;
    }
    close(srv->spare_fd);
    srv->spare_fd = -1;
    fd = accept(srv->tcp.fd, NULL, NULL);
    if (fd >= 0) {
        close(fd);
        add(&srv->connections_total, 1);
        add(&srv->rejected, 1);
    }
    srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void on_accept(struct lw_syslog_server *srv)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    struct epoll_event ev;
    struct conn *c;
    int round;
    int fd;

    for (round = 0; round < ACCEPT_ROUNDS; round++) {
        sl = sizeof(ss);
        fd = accept(srv->tcp.fd, (struct sockaddr *)&ss, &sl);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno == EMFILE || errno == ENFILE) {
                accept_emfile(srv);
                continue;
            }
            return; /* EAGAIN, or an error the next wake-up will see again */
        }
        add(&srv->connections_total, 1);
        if (srv->n_conns >= srv->max_conns) {
            evict_quietest(srv);
        }
        if (srv->n_conns >= srv->max_conns || set_nonblock(fd) < 0 ||
            (c = lw_calloc(1, sizeof(*c))) == NULL) {
            close(fd);
            add(&srv->rejected, 1);
            continue;
        }
        c->kind = TAG_CONN;
        c->fd = fd;
        c->srv = srv;
        format_addr((struct sockaddr *)&ss, c->name, sizeof(c->name));
        lw_syslog_framer_init(&c->fr, srv->max_msg, LW_SYSLOG_FRAMING_AUTO);
        c->active_ns = now_ns();
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = c;
        if (epoll_ctl(srv->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            lw_free(c);
            add(&srv->rejected, 1);
            continue;
        }
        idle_append(srv, c);
        srv->n_conns++;
        add(&srv->connections_open, 1);
    }
}

/* ---- UDP ------------------------------------------------------------------------------- */

static void udp_flush(struct lw_syslog_server *srv)
{
    int rc;

    if (srv->ug.n == 0) {
        return;
    }
    rc = group_offer(srv, &srv->ug, srv->ug_name);
    if (rc == LW_OK) {
        add(&srv->messages, srv->ug.n);
    }
    else {
        /* No flow control on UDP: the group is lost, and counted. */
        if (rc == LW_EAGAIN) {
            add(&srv->backpressure, 1);
        }
        add(&srv->dropped_udp, srv->ug.n);
    }
    srv->ug.n = 0;
    srv->ug.len = 0;
}

/* Adds the kernel drops announced by the SO_RXQ_OVFL message of @msg, if any. */
static void udp_kernel_drops(struct lw_syslog_server *srv, struct msghdr *msg)
{
    struct cmsghdr *cm;
    uint32_t total;
    uint32_t delta;

    for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SO_RXQ_OVFL &&
            cm->cmsg_len >= CMSG_LEN(sizeof(total))) {
            memcpy(&total, CMSG_DATA(cm), sizeof(total));
            delta = total - srv->kernel_drops_seen;
            if (delta > 0) {
                srv->kernel_drops_seen = total;
                add(&srv->dropped_udp_kernel, delta);
                add(&srv->dropped_udp, delta);
            }
        }
    }
}

static void on_udp(struct lw_syslog_server *srv)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(uint32_t))];
    } ctl;
    struct sockaddr_storage ss;
    struct msghdr msg;
    struct iovec iov;
    socklen_t sl;
    struct group *g = &srv->ug;
    uint32_t flags;
    ssize_t n;
    size_t len;
    int round;

    for (round = 0; round < UDP_ROUNDS; round++) {
        group_reserve(g, srv->max_msg + 1, srv->batch_lines);
        if (g->full) {
            udp_flush(srv);
            group_reserve(g, srv->max_msg + 1, srv->batch_lines);
            if (g->full) {
                return; /* no memory for a batch: leave the datagrams to the kernel */
            }
        }
        /* One byte over the bound tells a datagram that is too long. */
        iov.iov_base = g->buf + g->len;
        iov.iov_len = srv->max_msg + 1;
        memset(&msg, 0, sizeof(msg));
        msg.msg_name = &ss;
        msg.msg_namelen = sizeof(ss);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        n = recvmsg(srv->udp.fd, &msg, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        sl = msg.msg_namelen;
        udp_kernel_drops(srv, &msg);
        add(&srv->bytes, (uint64_t)n);
        if (g->n > 0 && (sl != srv->ug_addr_len || memcmp(&ss, &srv->ug_addr, sl) != 0)) {
            /* Another sender: its datagram starts the next group. */
            char *p = g->buf + g->len;

            udp_flush(srv);
            memmove(g->buf, p, (size_t)n);
        }
        if (g->n == 0) {
            memcpy(&srv->ug_addr, &ss, sl);
            srv->ug_addr_len = sl;
            format_addr((struct sockaddr *)&ss, srv->ug_name, sizeof(srv->ug_name));
        }
        len = lw_syslog_datagram(g->buf + g->len, (size_t)n, srv->max_msg, &flags);
        if (flags & LW_LINE_TRUNCATED) {
            add(&srv->truncated, 1);
        }
        if (len == 0) {
            continue;
        }
        g->off[g->n] = g->len;
        g->lines[g->n].len = len;
        g->lines[g->n].flags = flags;
        g->lines[g->n].ts_ns = INT64_MIN;
        g->lines[g->n].level = 0;
        g->len += len;
        g->n++;
    }
    udp_flush(srv);
}

/* ---- Thread ---------------------------------------------------------------------------- */

static void drain_on_stop(struct lw_syslog_server *srv)
{
    uint64_t deadline = now_ns() + (uint64_t)STOP_GRACE_MS * 1000000u;
    struct timespec ts = {0, RETRY_MS * 1000000L};

    while (srv->pend_head != NULL && now_ns() < deadline) {
        retry_pending(srv);
        free_dead(srv);
        if (srv->pend_head != NULL) {
            nanosleep(&ts, NULL);
        }
    }
    while (srv->idle_head != NULL) {
        conn_close(srv, srv->idle_head);
    }
    free_dead(srv);
}

static void *server_main(void *arg)
{
    struct lw_syslog_server *srv = arg;
    struct epoll_event evs[MAX_EVENTS];
    uint64_t last_sweep = now_ns();
    uint64_t now;
    int timeout;
    int n;
    int i;

    while (!atomic_load(&srv->stopping)) {
        timeout = srv->pend_head ? RETRY_MS : IDLE_SWEEP_MS;
        n = epoll_wait(srv->ep, evs, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            lw_error(COMP, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (i = 0; i < n; i++) {
            enum tag_kind kind = *(enum tag_kind *)evs[i].data.ptr;

            if (kind == TAG_TCP) {
                on_accept(srv);
            }
            else if (kind == TAG_UDP) {
                on_udp(srv);
            }
            else if (kind == TAG_CONN) {
                struct conn *c = evs[i].data.ptr;

                if (c->fd >= 0 && !c->paused) {
                    conn_read(srv, c);
                }
            }
        }
        if (srv->pend_head) {
            retry_pending(srv);
        }
        now = now_ns();
        if (now - last_sweep >= (uint64_t)IDLE_SWEEP_MS * 1000000u) {
            last_sweep = now;
            sweep_idle(srv, now);
        }
        free_dead(srv);
    }
    drain_on_stop(srv);
    return NULL;
}

/* ---- Setup ----------------------------------------------------------------------------- */

/* Parses "host:port", "[v6]:port" or ":port" and binds a socket of @type to it. */
static int bind_addr(const char *addr, int type, int *fd_out, int *port_out, char *err,
                     size_t err_len)
{
    char host[256];
    const char *port;
    const char *colon;
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    size_t hlen;
    int one = 1;
    int fd = -1;
    int rc;

    if (addr[0] == '[') {
        const char *rb = strchr(addr, ']');

        if (rb == NULL || rb[1] != ':') {
            snprintf(err, err_len, "bad address '%s': expected [v6addr]:port", addr);
            return LW_EINVAL;
        }
        hlen = (size_t)(rb - addr - 1);
        if (hlen >= sizeof(host)) {
            snprintf(err, err_len, "bad address '%s': host too long", addr);
            return LW_EINVAL;
        }
        memcpy(host, addr + 1, hlen);
        host[hlen] = '\0';
        port = rb + 2;
    }
    else {
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            snprintf(err, err_len, "bad address '%s': expected host:port", addr);
            return LW_EINVAL;
        }
        hlen = (size_t)(colon - addr);
        if (hlen >= sizeof(host)) {
            snprintf(err, err_len, "bad address '%s': host too long", addr);
            return LW_EINVAL;
        }
        memcpy(host, addr, hlen);
        host[hlen] = '\0';
        port = colon + 1;
    }
    if (host[0] == '\0') {
        snprintf(host, sizeof(host), "127.0.0.1");
    }
    if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 ||
        atoi(port) > 65535) {
        snprintf(err, err_len, "bad address '%s': bad port", addr);
        return LW_EINVAL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = type;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_len, "bad address '%s': %s", addr, gai_strerror(rc));
        return LW_EINVAL;
    }
    fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    if (fd < 0) {
        snprintf(err, err_len, "socket for '%s': %s", addr, strerror(errno));
        goto fail;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (set_nonblock(fd) < 0) {
        snprintf(err, err_len, "fcntl for '%s': %s", addr, strerror(errno));
        goto fail;
    }
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0) {
        snprintf(err, err_len, "cannot bind %s '%s': %s", type == SOCK_STREAM ? "tcp" : "udp",
                 addr, strerror(errno));
        goto fail;
    }
    if (type == SOCK_STREAM && listen(fd, 1024) < 0) {
        snprintf(err, err_len, "cannot listen on '%s': %s", addr, strerror(errno));
        goto fail;
    }
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET) {
            *port_out = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
        else if (ss.ss_family == AF_INET6) {
            *port_out = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    freeaddrinfo(res);
    *fd_out = fd;
    return LW_OK;
fail:
    if (fd >= 0) {
        close(fd);
    }
    freeaddrinfo(res);
    return LW_EIO;
}

/*
 * Asks for drop counts on every datagram and for a receive buffer of @bytes. SO_RCVBUFFORCE
 * goes past net.core.rmem_max but needs CAP_NET_ADMIN; SO_RCVBUF is capped silently, so the
 * granted size is read back (the kernel reports twice what it was given) and a shortfall logged.
 * Returns the granted size. Nothing here is fatal: the socket works with any buffer.
 */
static uint64_t udp_tune(int fd, size_t bytes)
{
    int want = bytes > (size_t)INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;
    int one = 1;
    int got = 0;
    socklen_t gl = sizeof(got);

    if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) < 0) {
        lw_warn(COMP, "SO_RXQ_OVFL: %s: kernel drops will not be counted", strerror(errno));
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) < 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
    }
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) < 0) {
        return 0;
    }
    if ((uint64_t)got < (uint64_t)want) {
        lw_warn(COMP, "udp receive buffer is %d bytes, not the %d asked for: raise "
                "net.core.rmem_max (or run with CAP_NET_ADMIN) to lose fewer datagrams in bursts",
                got / 2, want);
    }
    return (uint64_t)got;
}

static int ep_add(int ep, int fd, struct listener *l)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = l;
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0 ? LW_EIO : LW_OK;
}

static void server_free(struct lw_syslog_server *srv)
{
    if (srv->tcp.fd >= 0) {
        close(srv->tcp.fd);
    }
    if (srv->udp.fd >= 0) {
        close(srv->udp.fd);
    }
    if (srv->wake.fd >= 0) {
        close(srv->wake.fd);
    }
    if (srv->ep >= 0) {
        close(srv->ep);
    }
    if (srv->spare_fd >= 0) {
        close(srv->spare_fd);
    }
    group_free(&srv->ug);
    lw_free(srv->rbuf);
    lw_free(srv);
}

struct lw_syslog_server *lw_syslog_server_start(const struct lw_syslog_conf *conf,
                                                struct lw_ingest ingest, char *err,
                                                size_t err_len)
{
    struct lw_syslog_server *srv;
    int rc;

    if (err_len > 0) {
        err[0] = '\0';
    }
    if (ingest.fn == NULL || (conf->udp_addr == NULL && conf->tcp_addr == NULL)) {
        snprintf(err, err_len, "syslog: no ingest or no listener configured");
        return NULL;
    }
    if (conf->max_msg_bytes > LW_SYSLOG_MAX_MSG_LIMIT) {
        snprintf(err, err_len, "syslog: max_msg_bytes %zu is over the limit %u",
                 conf->max_msg_bytes, LW_SYSLOG_MAX_MSG_LIMIT);
        return NULL;
    }
    srv = lw_calloc(1, sizeof(*srv));
    if (srv == NULL) {
        snprintf(err, err_len, "syslog: out of memory");
        return NULL;
    }
    srv->tcp.fd = srv->udp.fd = srv->wake.fd = srv->ep = srv->spare_fd = -1;
    srv->tcp.kind = TAG_TCP;
    srv->udp.kind = TAG_UDP;
    srv->wake.kind = TAG_WAKE;
    srv->max_msg = conf->max_msg_bytes ? conf->max_msg_bytes : LW_SYSLOG_DEFAULT_MAX_MSG;
    srv->max_conns = conf->max_connections ? conf->max_connections : LW_SYSLOG_DEFAULT_MAX_CONNS;
    srv->idle_ns = (uint64_t)(conf->idle_timeout_s ? conf->idle_timeout_s
                                                   : LW_SYSLOG_DEFAULT_IDLE_S) * 1000000000u;
    srv->batch_lines = conf->batch_lines ? conf->batch_lines : LW_SYSLOG_DEFAULT_BATCH;
    srv->flush_ms = conf->flush_ms ? conf->flush_ms : LW_SYSLOG_DEFAULT_FLUSH_MS;
    srv->ingest = ingest;

    srv->rbuf = lw_malloc(READ_BUF);
    if (srv->rbuf == NULL) {
        snprintf(err, err_len, "syslog: out of memory");
        goto fail;
    }
    srv->ep = epoll_create1(EPOLL_CLOEXEC);
    srv->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (srv->ep < 0 || srv->wake.fd < 0 || ep_add(srv->ep, srv->wake.fd, &srv->wake) < 0) {
        snprintf(err, err_len, "syslog: epoll: %s", strerror(errno));
        goto fail;
    }
    if (conf->tcp_addr != NULL) {
        rc = bind_addr(conf->tcp_addr, SOCK_STREAM, &srv->tcp.fd, &srv->tcp.port, err, err_len);
        if (rc < 0) {
            goto fail;
        }
        if (ep_add(srv->ep, srv->tcp.fd, &srv->tcp) < 0) {
            snprintf(err, err_len, "syslog: epoll: %s", strerror(errno));
            goto fail;
        }
        srv->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    if (conf->udp_addr != NULL) {
        rc = bind_addr(conf->udp_addr, SOCK_DGRAM, &srv->udp.fd, &srv->udp.port, err, err_len);
        if (rc < 0) {
            goto fail;
        }
        srv->udp_rcvbuf = udp_tune(srv->udp.fd, conf->udp_rcvbuf_bytes
                                                    ? conf->udp_rcvbuf_bytes
                                                    : LW_SYSLOG_DEFAULT_UDP_RCVBUF);
        if (ep_add(srv->ep, srv->udp.fd, &srv->udp) < 0) {
            snprintf(err, err_len, "syslog: epoll: %s", strerror(errno));
            goto fail;
        }
    }
    if (pthread_create(&srv->thread, NULL, server_main, srv) != 0) {
        snprintf(err, err_len, "syslog: cannot start thread");
        goto fail;
    }
    return srv;
fail:
    server_free(srv);
    return NULL;
}

void lw_syslog_server_stop(struct lw_syslog_server *srv)
{
    uint64_t one = 1;

    if (srv == NULL) {
        return;
    }
    atomic_store(&srv->stopping, 1);
    if (write(srv->wake.fd, &one, sizeof(one)) < 0) {
        /* The thread also wakes within IDLE_SWEEP_MS on its own. */
    }
    pthread_join(srv->thread, NULL);
    server_free(srv);
}

void lw_syslog_server_stats(const struct lw_syslog_server *srv, struct lw_syslog_stats *out)
{
    struct lw_syslog_server *s = (struct lw_syslog_server *)srv;

    memset(out, 0, sizeof(*out));
    out->messages = atomic_load(&s->messages);
    out->bytes = atomic_load(&s->bytes);
    out->connections_open = atomic_load(&s->connections_open);
    out->connections_total = atomic_load(&s->connections_total);
    out->framing_errors = atomic_load(&s->framing_errors);
    out->truncated = atomic_load(&s->truncated);
    out->dropped_udp = atomic_load(&s->dropped_udp);
    out->dropped_udp_kernel = atomic_load(&s->dropped_udp_kernel);
    out->udp_rcvbuf_bytes = s->udp_rcvbuf;
    out->dropped = atomic_load(&s->dropped);
    out->rejected_connections = atomic_load(&s->rejected);
    out->idle_closed = atomic_load(&s->idle_closed);
    out->backpressure = atomic_load(&s->backpressure);
}

int lw_syslog_server_port(const struct lw_syslog_server *srv, int tcp)
{
    return tcp ? srv->tcp.port : srv->udp.port;
}
