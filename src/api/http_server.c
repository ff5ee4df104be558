/*
 * The daemon's HTTP server on libmicrohttpd (MHD): an internal epoll thread pool, a connection
 * limit and an idle timeout (slowloris), bearer-token authentication, and a small route table
 * (lw_http_route_add) that starts with three routes: POST /api/v1/ingest (body parsed by
 * http_body.c, lines handed to struct lw_ingest in groups; an input registers where they go),
 * GET /metrics and GET /api/v1/status (rendered by callbacks the daemon registers).
 *
 * MHD calls the access handler several times per request: once with the headers, once per chunk
 * of body, and once more with no data when the body is complete. Responses are queued on the
 * last call (queueing on the first call loses keep-alive, see ENVIRONMENT.md), except errors of a
 * request that carries a body (401, 404, 405, 413 by Content-Length, 415): those are answered as
 * soon as they are known so that the body is never read; MHD then closes the connection.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_http.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_metrics.h"
#include "lw/lw_plugin.h"

#define DEFAULT_ADDR          "127.0.0.1:8080"
#define DEFAULT_MAX_BODY      ((size_t)16 * 1024 * 1024)
#define DEFAULT_MAX_BUFFERED  ((size_t)64 * 1024 * 1024)
#define DEFAULT_MAX_CONN      1024u
#define DEFAULT_MAX_CONN_IP   64u
#define REFUSED_LOG_EVERY_NS  (10LL * 1000000000LL)  /* "connection refused" warnings */
#define MHD_LOG_EVERY_NS      (10LL * 1000000000LL)  /* other warnings of the HTTP library */
#define DEFAULT_TIMEOUT_S     30u
#define DEFAULT_THREADS       2u
#define DEFAULT_BACKPRESSURE  1000u
#define GROUP_LINES           1024   /* lines per lw_ingest_group */

#define HTTP_TOO_LARGE        413u   /* PAYLOAD_TOO_LARGE or CONTENT_TOO_LARGE by MHD version */

#define CT_JSON "application/json"
#define CT_PROM "text/plain; version=0.0.4; charset=utf-8"

#define DEFAULT_MAX_API_BODY  ((size_t)1024 * 1024)
#define MAX_ROUTES            64
#define MAX_ROUTE_PATH        64

enum route {
    ROUTE_NONE = 0,
    ROUTE_INGEST,
    ROUTE_METRICS,
    ROUTE_STATUS,
    ROUTE_HANDLER,
};

/* A route as the table keeps it (strings copied). */
struct route_ent {
    char method[8];                  /* "GET" (answers HEAD too), "POST", ... or "*" */
    char path[MAX_ROUTE_PATH];
    size_t path_len;
    int prefix;                      /* @path is a prefix */
    enum lw_http_access access;      /* what GET and HEAD need (other methods: WRITE) */
    enum lw_http_route_kind kind;
    lw_http_handler_cb handler;      /* LW_HTTP_ROUTE_HANDLER */
    struct lw_ingest ingest;         /* LW_HTTP_ROUTE_INGEST; fn NULL answers 503 */
    struct lw_multiline_conf multiline;  /* LW_HTTP_ROUTE_INGEST text bodies; regex borrowed */
    lw_http_render_cb render;        /* LW_HTTP_ROUTE_PROM and LW_HTTP_ROUTE_JSON; may be NULL */
    void *opaque;                    /* passed to render */
};

struct lw_http_server {
    struct MHD_Daemon *d;
    pthread_mutex_t routes_mu;       /* the table: requests copy their route out under it */
    struct route_ent routes[MAX_ROUTES];
    size_t n_routes;
    struct lw_http_conf conf;  /* copy; addr and token point at the fields below */
    char *addr;
    char *auth;                /* "Bearer <token>", or NULL when no token is required */
    size_t auth_len;
    char *read_auth;           /* "Bearer <read token>", or NULL */
    size_t read_auth_len;
    unsigned int port;
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t ingest_requests;
    atomic_uint_fast64_t ingest_lines;
    atomic_uint_fast64_t ingest_rejected;
    atomic_uint_fast64_t ingest_bytes;
    atomic_uint_fast64_t r2xx;
    atomic_uint_fast64_t r4xx;
    atomic_uint_fast64_t r5xx;
    atomic_uint_fast64_t r503;
    atomic_uint_fast64_t budget_refused;
    atomic_uint_fast64_t conns_open;
    atomic_uint_fast64_t conns_refused;
    struct lw_log_limit refused_log;  /* a client opening connections without end must not */
    struct lw_log_limit mhd_log;      /* flood the log: one line per interval, with a count */
    struct lw_http_budget budget;    /* every request's body bytes (lw_http.h) */
};

/* Per-request state, from the first call of the access handler to the completion callback. */
struct http_req {
    enum route route;
    struct route_ent rt;             /* the route's copy, taken when the headers arrive */
    unsigned int status;             /* an error decided before the body is complete, or 0 */
    const char *msg;                 /* its message (static) */
    int answered;                    /* an error was queued while the body was arriving */
    enum lw_http_body_format fmt;
    int gzip;                        /* Content-Encoding: gzip */
    char *body;                      /* the body as received, lw_malloc'd */
    size_t len;
    size_t cap;
    size_t charged;                  /* bytes of @body taken from the server's budget */
    enum lw_http_access access;      /* what the caller's token allows */
};

#define MSG_BUDGET "too many request bodies in memory, retry later"


/* ---- Responses --------------------------------------------------------------------------- */

static void count_status(struct lw_http_server *srv, unsigned int status)
{
    atomic_fetch_add(&srv->requests, 1);
    if (status >= 200 && status < 300) {
        atomic_fetch_add(&srv->r2xx, 1);
    }
    else if (status >= 400 && status < 500) {
        atomic_fetch_add(&srv->r4xx, 1);
    }
    else if (status >= 500) {
        atomic_fetch_add(&srv->r5xx, 1);
        if (status == 503) {
            atomic_fetch_add(&srv->r503, 1);
        }
    }
}

static enum MHD_Result respond(struct lw_http_server *srv, struct MHD_Connection *conn,
                               unsigned int status, const char *ctype, const char *body,
                               size_t len, const char *hname, const char *hvalue)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    if (ctype != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    }
    if (hname != NULL) {
        MHD_add_response_header(resp, hname, hvalue);
    }
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) {
        count_status(srv, status);
    }
    return ret;
}

/* {"error":"<msg>"}; messages are static strings without characters JSON must escape. */
static enum MHD_Result respond_error(struct lw_http_server *srv, struct MHD_Connection *conn,
                                     unsigned int status, const char *msg)
{
    char body[256];
    int n;

    n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", msg);
    if (n < 0 || (size_t)n >= sizeof(body)) {
        n = 0;
    }
    if (status == MHD_HTTP_UNAUTHORIZED) {
        return respond(srv, conn, status, CT_JSON, body, (size_t)n,
                       MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    }
    if (status == MHD_HTTP_BAD_REQUEST) {
        /* A request refused this way may leave bytes on the connection that are no request. */
        return respond(srv, conn, status, CT_JSON, body, (size_t)n, MHD_HTTP_HEADER_CONNECTION,
                       "close");
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        return respond(srv, conn, status, CT_JSON, body, (size_t)n, MHD_HTTP_HEADER_ALLOW,
                       "POST");
    }
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        return respond(srv, conn, status, CT_JSON, body, (size_t)n, MHD_HTTP_HEADER_RETRY_AFTER,
                       "1");
    }
    return respond(srv, conn, status, CT_JSON, body, (size_t)n, NULL, NULL);
}

/* ---- Request classification ---------------------------------------------------------------- */

/* Compares in time that depends only on the expected length, not on where the bytes differ. */
static int secret_eq(const char *want, size_t want_len, const char *given)
{
    size_t glen = strlen(given);
    size_t i;
    unsigned char diff;

    diff = glen != want_len;
    for (i = 0; i < want_len; i++) {
        diff |= (unsigned char)want[i] ^ (unsigned char)(i < glen ? given[i] : 0);
    }
    return diff == 0;
}

/* What the Authorization header @given allows (enum lw_http_access). */
static enum lw_http_access caller_access(const struct lw_http_server *srv, const char *given)
{
    int rw;
    int ro;

    if (srv->auth == NULL) {
        return LW_HTTP_ACCESS_WRITE;  /* loopback without tokens: the machine's users */
    }
    if (given == NULL) {
        return LW_HTTP_ACCESS_PUBLIC;
    }
    /* Both are compared, so that the time taken does not tell which one matched. */
    rw = secret_eq(srv->auth, srv->auth_len, given);
    ro = srv->read_auth != NULL && secret_eq(srv->read_auth, srv->read_auth_len, given);
    return rw ? LW_HTTP_ACCESS_WRITE : ro ? LW_HTTP_ACCESS_READ : LW_HTTP_ACCESS_PUBLIC;
}

/* Content-Type without parameters ("application/json; charset=utf-8"), case-insensitive. */
static int ctype_is(const char *ct, const char *want)
{
    size_t n = strlen(want);

    return strncasecmp(ct, want, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * Copies the route of @path into *@out: the exact route, else the longest prefix route; 0 when
 * there is none.
 */
static int find_route(struct lw_http_server *srv, const char *path, struct route_ent *out)
{
    const struct route_ent *best = NULL;
    size_t i;

    pthread_mutex_lock(&srv->routes_mu);
    for (i = 0; i < srv->n_routes; i++) {
        const struct route_ent *r = &srv->routes[i];

        if (!r->prefix && strcmp(r->path, path) == 0) {
            best = r;
            break;
        }
        if (r->prefix && strncmp(r->path, path, r->path_len) == 0 &&
            (best == NULL || r->path_len > best->path_len)) {
            best = r;
        }
    }
    if (best != NULL) {
        *out = *best;
    }
    pthread_mutex_unlock(&srv->routes_mu);
    return best != NULL;
}

/*
 * Request smuggling: a body whose length two parties could read differently. libmicrohttpd
 * 0.9.75 lets through Content-Length together with Transfer-Encoding (it reads the body as
 * chunked), several Content-Length headers (it takes one of them), header names with a space
 * before the colon (kept as "Transfer-Encoding " and ignored), and codings other than chunked
 * (it then waits for the connection to close). A proxy in front may well read such a request
 * the other way, and what one of them takes for the body the other takes for the next request.
 * RFC 9112 section 6.3 says a server must refuse such messages and close the connection.
 */
struct framing {
    unsigned int n_cl;   /* Content-Length headers */
    unsigned int n_te;   /* Transfer-Encoding headers */
    int te_chunked;      /* every Transfer-Encoding is exactly "chunked" */
    int cl_digits;       /* every Content-Length is digits only */
    int bad_name;        /* a header name that is not an RFC 9110 token */
};

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static enum MHD_Result framing_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      size_t key_size, const char *value, size_t value_size)
{
    struct framing *f = cls;
    size_t i;

    (void)kind;
    if (key_size == 0) {
        f->bad_name = 1;
    }
    for (i = 0; i < key_size; i++) {
        if (!is_tchar((unsigned char)key[i])) {
            f->bad_name = 1;
        }
    }
    if (key_size == 14 && strncasecmp(key, "Content-Length", 14) == 0) {
        f->n_cl++;
        if (value == NULL || value_size == 0) {
            f->cl_digits = 0;
        }
        for (i = 0; value != NULL && i < value_size; i++) {
            if (value[i] < '0' || value[i] > '9') {
                f->cl_digits = 0;
            }
        }
    }
    else if (key_size == 17 && strncasecmp(key, "Transfer-Encoding", 17) == 0) {
        f->n_te++;
        if (value == NULL || value_size != 7 || strncasecmp(value, "chunked", 7) != 0) {
            f->te_chunked = 0;
        }
    }
    return MHD_YES;
}

/* The reason a request's framing is refused (400), or NULL when it is unambiguous. */
static const char *framing_error(struct MHD_Connection *conn, const char *version)
{
    struct framing f = {0, 0, 1, 1, 0};

    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, framing_header, &f);
    if (f.bad_name) {
        return "malformed header name";
    }
    if (f.n_cl > 0 && f.n_te > 0) {
        return "both Content-Length and Transfer-Encoding";
    }
    if (f.n_cl > 1) {
        return "several Content-Length headers";
    }
    if (!f.cl_digits) {
        return "malformed Content-Length";
    }
    if (f.n_te > 1 || !f.te_chunked) {
        return "Transfer-Encoding must be chunked, once";
    }
    if (f.n_te > 0 && strcmp(version, MHD_HTTP_VERSION_1_1) != 0) {
        return "Transfer-Encoding needs HTTP/1.1";
    }
    return NULL;
}

static void classify(struct lw_http_server *srv, struct MHD_Connection *conn, const char *url,
                     const char *method, struct http_req *req)
{
    const char *ct;
    const char *ce;
    const char *cl;
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                 strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    enum lw_http_access need;

    req->access = caller_access(srv, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                                 MHD_HTTP_HEADER_AUTHORIZATION));
    if (!find_route(srv, url, &req->rt)) {
        /* Without a token a caller learns nothing, not even which paths exist. */
        req->status = req->access == LW_HTTP_ACCESS_PUBLIC ? MHD_HTTP_UNAUTHORIZED
                                                           : MHD_HTTP_NOT_FOUND;
        req->msg = req->status == MHD_HTTP_NOT_FOUND ? "not found"
                                                     : "missing or wrong bearer token";
        return;
    }
    req->route = req->rt.kind == LW_HTTP_ROUTE_INGEST    ? ROUTE_INGEST
                 : req->rt.kind == LW_HTTP_ROUTE_PROM    ? ROUTE_METRICS
                 : req->rt.kind == LW_HTTP_ROUTE_HANDLER ? ROUTE_HANDLER
                                                         : ROUTE_STATUS;
    if (req->route == ROUTE_HANDLER) {
        if (strcmp(req->rt.method, "*") != 0 && strcmp(req->rt.method, method) != 0 &&
            !(strcmp(req->rt.method, MHD_HTTP_METHOD_GET) == 0 && is_get)) {
            req->status = MHD_HTTP_METHOD_NOT_ALLOWED;
            req->msg = "method not allowed";
            return;
        }
        need = is_get ? req->rt.access : LW_HTTP_ACCESS_WRITE;
    }
    else {
        if ((strcmp(req->rt.method, MHD_HTTP_METHOD_POST) == 0 && !is_post) ||
            (strcmp(req->rt.method, MHD_HTTP_METHOD_POST) != 0 && !is_get)) {
            req->status = MHD_HTTP_METHOD_NOT_ALLOWED;
            req->msg = "method not allowed";
            return;
        }
        need = req->route == ROUTE_INGEST ? LW_HTTP_ACCESS_WRITE : LW_HTTP_ACCESS_READ;
    }
    if (req->access < need) {
        req->status = req->access == LW_HTTP_ACCESS_PUBLIC ? MHD_HTTP_UNAUTHORIZED
                                                           : MHD_HTTP_FORBIDDEN;
        req->msg = req->status == MHD_HTTP_FORBIDDEN ? "this token may only read"
                                                     : "missing or wrong bearer token";
        return;
    }
    if (req->route == ROUTE_HANDLER) {
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > srv->conf.max_api_body_bytes) {
            req->status = HTTP_TOO_LARGE;
            req->msg = "request body too large";
        }
        return;
    }
    if (req->route != ROUTE_INGEST) {
        return;
    }
    ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (ct == NULL || ctype_is(ct, "text/plain")) {
        req->fmt = LW_HTTP_BODY_TEXT;
    }
    else if (ctype_is(ct, "application/x-ndjson") || ctype_is(ct, "application/json") ||
             ctype_is(ct, "application/jsonlines") || ctype_is(ct, "application/x-jsonlines")) {
        req->fmt = LW_HTTP_BODY_NDJSON;
    }
    else {
        req->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
        req->msg = "Content-Type must be application/x-ndjson, application/json or text/plain";
        return;
    }
    ce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
    if (ce != NULL && strcasecmp(ce, "gzip") == 0) {
        req->gzip = 1;
    }
    else if (ce != NULL && strcasecmp(ce, "identity") != 0) {
        req->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
        req->msg = "Content-Encoding must be gzip or identity";
        return;
    }
    cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        char *end;
        unsigned long long n;

        errno = 0;
        n = strtoull(cl, &end, 10);
        if (errno != 0 || n > srv->conf.max_body_bytes) {
            req->status = HTTP_TOO_LARGE;
            req->msg = "request body too large";
            return;
        }
        /*
         * Reserve up front so that the body is copied once; the whole body is taken from the
         * budget now, so that a request that cannot be held is refused before it is read.
         */
        if (n > 0) {
            if (lw_http_budget_take(&srv->budget, (size_t)n) < 0) {
                atomic_fetch_add(&srv->budget_refused, 1);
                req->status = MHD_HTTP_SERVICE_UNAVAILABLE;
                req->msg = MSG_BUDGET;
                return;
            }
            req->body = lw_malloc((size_t)n);
            if (req->body == NULL) {
                lw_http_budget_give(&srv->budget, (size_t)n);
                return;
            }
            req->cap = (size_t)n;
            req->charged = (size_t)n;
        }
    }
}

static int has_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);

    return (cl != NULL && strcmp(cl, "0") != 0) || te != NULL;
}

static int body_append(struct lw_http_server *srv, struct http_req *req, const char *data,
                       size_t n, size_t max)
{
    char *nbuf;
    size_t cap;

    if (n > max - req->len) {
        return LW_ETOOBIG;
    }
    if (req->cap - req->len < n) {
        cap = req->cap ? req->cap : 64 * 1024;
        while (cap - req->len < n) {
            cap = cap > max / 2 ? max : cap * 2;
        }
        /* A chunked body (no Content-Length) is taken from the budget as it grows. */
        if (cap > req->charged && lw_http_budget_take(&srv->budget, cap - req->charged) < 0) {
            return LW_EFULL;
        }
        nbuf = lw_realloc(req->body, cap);
        if (nbuf == NULL) {
            if (cap > req->charged) {
                lw_http_budget_give(&srv->budget, cap - req->charged);
            }
            return LW_ENOMEM;
        }
        if (cap > req->charged) {
            req->charged = cap;
        }
        req->body = nbuf;
        req->cap = cap;
    }
    memcpy(req->body + req->len, data, n);
    req->len += n;
    return LW_OK;
}

/* ---- Routes ---------------------------------------------------------------------------- */

static void sleep_ms(unsigned int ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/*
 * Offers one group, retrying LW_EAGAIN for up to backpressure_ms with a short sleep: the
 * pipeline drains in milliseconds when it is merely busy, and a 503 makes the client wait.
 */
static int offer(struct lw_http_server *srv, const struct lw_ingest *ingest,
                 const struct lw_ingest_group *g)
{
    unsigned int waited = 0;
    unsigned int step = 5;
    int rc;

    for (;;) {
        rc = ingest->fn(ingest->opaque, g);
        if (rc != LW_EAGAIN || waited >= srv->conf.backpressure_ms) {
            return rc;
        }
        sleep_ms(step);
        waited += step;
        step = step < 50 ? step * 2 : 50;
    }
}

static void client_name(struct MHD_Connection *conn, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci;
    char ip[INET6_ADDRSTRLEN];
    const struct sockaddr *sa;

    snprintf(out, cap, "-");
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL) {
        return;
    }
    sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

        if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)) != NULL) {
            snprintf(out, cap, "%s:%u", ip, (unsigned int)ntohs(in->sin_port));
        }
    }
    else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

        if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)) != NULL) {
            snprintf(out, cap, "[%s]:%u", ip, (unsigned int)ntohs(in6->sin6_port));
        }
    }
}

static enum MHD_Result ingest_counts(struct lw_http_server *srv, struct MHD_Connection *conn,
                                     unsigned int status, size_t accepted, size_t rejected,
                                     const char *error)
{
    char body[256];
    int n;

    if (error != NULL) {
        n = snprintf(body, sizeof(body), "{\"accepted\":%zu,\"rejected\":%zu,\"error\":\"%s\"}\n",
                     accepted, rejected, error);
    }
    else {
        n = snprintf(body, sizeof(body), "{\"accepted\":%zu,\"rejected\":%zu}\n", accepted,
                     rejected);
    }
    if (n < 0 || (size_t)n >= sizeof(body)) {
        n = 0;
    }
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) {
        return respond(srv, conn, status, CT_JSON, body, (size_t)n, MHD_HTTP_HEADER_RETRY_AFTER,
                       "1");
    }
    return respond(srv, conn, status, CT_JSON, body, (size_t)n, NULL, NULL);
}

/* What handle_ingest's parts callback needs, and what it found. */
struct ingest_run {
    struct lw_http_server *srv;
    const struct lw_ingest *ingest;
    struct lw_ingest_source *src;
    size_t accepted;     /* lines taken */
    int rc;              /* LW_OK, or why the pipeline refused a group */
};

/*
 * Offers one part of the body (up to GROUP_LINES lines) as one group. Lines that name a "host"
 * travel with it in the group's per-line hosts, so a body that interleaves many hosts is still
 * one batch per part for the pipeline, not one per run of same-host lines. A refused group
 * stops the parse: nothing after it is accepted.
 */
static int ingest_part(void *opaque, const struct lw_http_body *part)
{
    struct ingest_run *run = opaque;
    struct lw_ingest_group g;
    size_t i;
    int rc;

    if (run->ingest->fn == NULL) {
        run->rc = LW_EAGAIN;
        return LW_EAGAIN;
    }
    if (part->n_lines == 0) {
        return LW_OK;
    }
    memset(&g, 0, sizeof(g));
    run->src->host = NULL;
    for (i = 0; i < part->n_lines; i++) {
        if (part->hosts[i] != NULL) {
            g.hosts = part->hosts; /* some line names a host */
            break;
        }
    }
    g.source = run->src;
    g.lines = part->lines;
    g.n_lines = part->n_lines;
    rc = offer(run->srv, run->ingest, &g);
    if (rc < 0) {
        run->rc = rc;
        return rc;
    }
    run->accepted += part->n_lines;
    return LW_OK;
}

/*
 * Parses the body in parts of GROUP_LINES lines and offers each part as it is parsed, so that
 * the parser's memory does not grow with the number of lines (lw_http_body_parse_parts). A gzip
 * body is inflated whole first (at most max_body) and the body as received is freed before
 * parsing. Every buffer is taken from the server's budget; a spent budget answers 503 with the
 * lines taken so far. When a group is refused the rest is not accepted either: the answer is
 * 503 with the number of lines taken before, so that a client can resend exactly the rest. A
 * text body's record of several joined physical lines (inputs.http.multiline) counts as one
 * line there.
 */
static enum MHD_Result handle_ingest(struct lw_http_server *srv, struct MHD_Connection *conn,
                                     struct http_req *req)
{
    struct lw_http_body b;
    struct lw_ingest_source src;
    struct ingest_run run;
    char name[INET6_ADDRSTRLEN + 16];
    const char *data = req->body;
    size_t len = req->len;
    char *plain = NULL;
    size_t plain_len = 0;
    size_t plain_charged = 0;
    enum MHD_Result ret;
    int rc;

    atomic_fetch_add(&srv->ingest_requests, 1);
    atomic_fetch_add(&srv->ingest_bytes, req->len);
    if (req->gzip) {
        rc = lw_http_gunzip_budget(req->body, req->len, srv->conf.max_body_bytes, &srv->budget,
                                   &plain, &plain_len, &plain_charged);
        if (rc == LW_ETOOBIG) {
            return respond_error(srv, conn, HTTP_TOO_LARGE,
                                 "decompressed body too large");
        }
        if (rc == LW_EFULL) {
            atomic_fetch_add(&srv->budget_refused, 1);
            return respond_error(srv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, MSG_BUDGET);
        }
        if (rc == LW_ENOMEM) {
            return respond_error(srv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        }
        if (rc < 0) {
            return respond_error(srv, conn, MHD_HTTP_BAD_REQUEST, "corrupt gzip body");
        }
        /* The compressed form is no longer needed: give its bytes to other requests. */
        lw_free(req->body);
        req->body = NULL;
        lw_http_budget_give(&srv->budget, req->charged);
        req->charged = 0;
        req->len = 0;
        req->cap = 0;
        data = plain;
        len = plain_len;
    }
    client_name(conn, name, sizeof(name));
    src.input = "http";
    src.name = name;
    src.host = NULL;
    src.shared_shards = false;
    src.peer_address = true;
    memset(&run, 0, sizeof(run));
    run.srv = srv;
    run.ingest = &req->rt.ingest;
    run.src = &src;
    rc = lw_http_body_parse_parts(data != NULL ? data : "", len, req->fmt,
                                  srv->conf.max_line_bytes, &req->rt.multiline, GROUP_LINES,
                                  &srv->budget, ingest_part, &run, &b);
    atomic_fetch_add(&srv->ingest_rejected, b.n_rejected);
    atomic_fetch_add(&srv->ingest_lines, run.accepted);
    if (rc == LW_OK) {
        ret = ingest_counts(srv, conn, MHD_HTTP_ACCEPTED, run.accepted, b.n_rejected, NULL);
    }
    else if (run.rc == LW_EAGAIN && req->rt.ingest.fn == NULL) {
        ret = ingest_counts(srv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, 0, b.n_rejected,
                            "no pipeline");
    }
    else if (run.rc == LW_EAGAIN) {
        ret = ingest_counts(srv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, run.accepted, b.n_rejected,
                            "pipeline full, retry the lines after the accepted ones");
    }
    else if (run.rc < 0) {
        lw_warn("http", "ingest from %s: the lines after the first %zu dropped: %s", name,
                run.accepted, lw_strerror(run.rc));
        ret = ingest_counts(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, run.accepted,
                            b.n_rejected, "pipeline error");
    }
    else if (rc == LW_EINVAL) {
        /* Only a multi-line regex the configuration check let through could do this. */
        ret = respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "bad multi-line regex");
    }
    else if (rc == LW_EFULL) {
        atomic_fetch_add(&srv->budget_refused, 1);
        ret = ingest_counts(srv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, run.accepted, b.n_rejected,
                            MSG_BUDGET ", the lines after the accepted ones");
    }
    else {
        ret = ingest_counts(srv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, run.accepted, b.n_rejected,
                            "out of memory, retry the lines after the accepted ones");
    }
    lw_http_body_fini(&b);
    lw_free(plain);
    lw_http_budget_give(&srv->budget, plain_charged);
    return ret;
}

/* The server's own counters, appended to the daemon's metrics. */
static void own_metrics(struct lw_http_server *srv, struct lw_prom *p)
{
    struct lw_http_stats st;

    lw_http_server_stats(srv, &st);
    lw_prom_append(p, "lw_http_requests_total", "HTTP requests answered.", "counter", NULL,
                   (double)st.requests);
    lw_prom_append(p, "lw_http_responses_total", "HTTP responses by status class.", "counter",
                   "code=\"2xx\"", (double)st.responses_2xx);
    lw_prom_append(p, "lw_http_responses_total", NULL, "counter", "code=\"4xx\"",
                   (double)st.responses_4xx);
    lw_prom_append(p, "lw_http_responses_total", NULL, "counter", "code=\"5xx\"",
                   (double)st.responses_5xx);
    lw_prom_append(p, "lw_http_backpressure_total",
                   "Ingest requests refused with 503 because the pipeline was full.", "counter",
                   NULL, (double)st.responses_503);
    lw_prom_append(p, "lw_http_ingest_lines_total", "Lines taken from HTTP ingest.", "counter",
                   NULL, (double)st.ingest_lines);
    lw_prom_append(p, "lw_http_ingest_rejected_lines_total",
                   "Malformed HTTP ingest lines skipped.", "counter", NULL,
                   (double)st.ingest_rejected_lines);
    lw_prom_append(p, "lw_http_ingest_bytes_total", "HTTP ingest body bytes as received.",
                   "counter", NULL, (double)st.ingest_bytes);
    lw_prom_append(p, "lw_http_budget_refused_total",
                   "Requests refused with 503 because max_buffered was taken by other bodies.",
                   "counter", NULL, (double)st.budget_refused);
    lw_prom_append(p, "lw_http_buffered_bytes",
                   "Request body bytes held in memory now (bodies, decompressed, parse buffers).",
                   "gauge", NULL, (double)st.buffered_bytes);
    lw_prom_append(p, "lw_http_buffered_peak_bytes",
                   "The most request body bytes held in memory at once since start.", "gauge",
                   NULL, (double)st.buffered_peak_bytes);
    lw_prom_append(p, "lw_http_connections_open", "HTTP connections open now.", "gauge", NULL,
                   (double)st.connections_open);
    lw_prom_append(p, "lw_http_connections_refused_total",
                   "HTTP connections closed on accept: over inputs.http.max_connections or "
                   "max_connections_per_ip.",
                   "counter", NULL, (double)st.connections_refused);
}

static enum MHD_Result handle_metrics(struct lw_http_server *srv, struct MHD_Connection *conn,
                                      const struct route_ent *rt)
{
    struct lw_prom p = {0};
    char *text = NULL;
    size_t len = 0;
    enum MHD_Result ret;
    int rc;

    if (rt->render != NULL) {
        rc = rt->render(rt->opaque, &text, &len);
        if (rc < 0) {
            lw_free(text);
            return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "metrics failed");
        }
    }
    own_metrics(srv, &p);
    if (p.rc < 0) {
        lw_free(text);
        lw_prom_fini(&p);
        return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    if (len > 0) {
        /* The daemon's text comes first; make sure it ends its last line. */
        char *all = lw_malloc(len + 1 + p.len);

        if (all == NULL) {
            lw_free(text);
            lw_prom_fini(&p);
            return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        }
        memcpy(all, text, len);
        if (text[len - 1] != '\n') {
            all[len++] = '\n';
        }
        memcpy(all + len, p.buf, p.len);
        ret = respond(srv, conn, MHD_HTTP_OK, CT_PROM, all, len + p.len, NULL, NULL);
        lw_free(all);
    }
    else {
        ret = respond(srv, conn, MHD_HTTP_OK, CT_PROM, p.buf, p.len, NULL, NULL);
    }
    lw_free(text);
    lw_prom_fini(&p);
    return ret;
}

static enum MHD_Result handle_status(struct lw_http_server *srv, struct MHD_Connection *conn,
                                     const struct route_ent *rt)
{
    struct lw_http_stats st;
    char *json = NULL;
    size_t len = 0;
    char own[512];
    enum MHD_Result ret;
    int n;
    int rc;

    if (rt->render != NULL) {
        rc = rt->render(rt->opaque, &json, &len);
        if (rc < 0) {
            lw_free(json);
            return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "status failed");
        }
        ret = respond(srv, conn, MHD_HTTP_OK, CT_JSON, json != NULL ? json : "", len, NULL, NULL);
        lw_free(json);
        return ret;
    }
    lw_http_server_stats(srv, &st);
    n = snprintf(own, sizeof(own),
                 "{\"http\":{\"requests\":%llu,\"ingest_lines\":%llu,"
                 "\"ingest_rejected_lines\":%llu,\"ingest_bytes\":%llu}}\n",
                 (unsigned long long)st.requests, (unsigned long long)st.ingest_lines,
                 (unsigned long long)st.ingest_rejected_lines,
                 (unsigned long long)st.ingest_bytes);
    if (n < 0 || (size_t)n >= sizeof(own)) {
        n = 0;
    }
    return respond(srv, conn, MHD_HTTP_OK, CT_JSON, own, (size_t)n, NULL, NULL);
}

/* ---- Handler routes (query API, dashboard) ------------------------------------------------ */

struct args_ctx {
    struct lw_http_req *req;
    int overflow;
};

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    struct args_ctx *a = cls;

    (void)kind;
    if (a->req->n_args >= LW_HTTP_MAX_ARGS) {
        a->overflow = 1;
        return MHD_NO;
    }
    a->req->arg_keys[a->req->n_args] = key;
    a->req->arg_vals[a->req->n_args] = value != NULL ? value : "";
    a->req->n_args++;
    return MHD_YES;
}

const char *lw_http_req_arg(const struct lw_http_req *req, const char *key)
{
    size_t i;

    for (i = 0; i < req->n_args; i++) {
        if (strcmp(req->arg_keys[i], key) == 0) {
            return req->arg_vals[i];
        }
    }
    return NULL;
}

int lw_http_resp_add_header(struct lw_http_resp *resp, const char *name, const char *value)
{
    if (resp->n_hdrs >= LW_HTTP_MAX_HEADERS) {
        return LW_EFULL;
    }
    resp->hdr_names[resp->n_hdrs] = name;
    snprintf(resp->hdr_values[resp->n_hdrs], sizeof(resp->hdr_values[0]), "%s", value);
    resp->n_hdrs++;
    return LW_OK;
}

const char *lw_http_req_header(const struct lw_http_req *req, const char *name)
{
    return req->conn != NULL
               ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name)
               : NULL;
}

static enum MHD_Result handle_handler(struct lw_http_server *srv, struct MHD_Connection *conn,
                                      const char *url, const char *method, struct http_req *req)
{
    struct lw_http_req hr;
    struct lw_http_resp resp;
    struct args_ctx ac;
    struct MHD_Response *mr;
    enum MHD_Result ret;
    unsigned int status;
    size_t i;
    int rc;

    memset(&hr, 0, sizeof(hr));
    memset(&resp, 0, sizeof(resp));
    hr.method = method;
    hr.path = url;
    hr.access = req->access;
    hr.conn = conn;
    ac.req = &hr;
    ac.overflow = 0;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_arg, &ac);
    if (ac.overflow) {
        return respond_error(srv, conn, MHD_HTTP_BAD_REQUEST, "too many query arguments");
    }
    if (req->len > 0) {
        /* NUL-terminate for the handler's parsers; the budget was taken for req->cap. */
        if (body_append(srv, req, "", 1, srv->conf.max_api_body_bytes + 1) < 0) {
            return respond_error(srv, conn, MHD_HTTP_SERVICE_UNAVAILABLE, MSG_BUDGET);
        }
        hr.body = req->body;
        hr.body_len = req->len - 1;
    }
    rc = req->rt.handler != NULL ? req->rt.handler(req->rt.opaque, &hr, &resp) : LW_EINVAL;
    if (rc < 0) {
        if (!resp.body_static) {
            lw_free(resp.body);
        }
        return respond_error(srv, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
    }
    status = resp.status != 0 ? resp.status : MHD_HTTP_OK;
    mr = MHD_create_response_from_buffer(resp.body_len, resp.body != NULL ? resp.body : (void *)"",
                                         resp.body_static || resp.body == NULL
                                             ? MHD_RESPMEM_PERSISTENT
                                             : MHD_RESPMEM_MUST_COPY);
    if (!resp.body_static) {
        lw_free(resp.body);
    }
    if (mr == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp.content_type != NULL ? resp.content_type : CT_JSON);
    for (i = 0; i < resp.n_hdrs && i < LW_HTTP_MAX_HEADERS; i++) {
        if (resp.hdr_names[i] != NULL) {
            resp.hdr_values[i][sizeof(resp.hdr_values[i]) - 1] = '\0';
            MHD_add_response_header(mr, resp.hdr_names[i], resp.hdr_values[i]);
        }
    }
    ret = MHD_queue_response(conn, status, mr);
    MHD_destroy_response(mr);
    if (ret == MHD_YES) {
        count_status(srv, status);
    }
    return ret;
}

/* ---- MHD callbacks ------------------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct lw_http_server *srv = cls;
    struct http_req *req = *con_cls;
    int rc;

    if (req == NULL) {
        req = lw_calloc(1, sizeof(*req));
        if (req == NULL) {
            return MHD_NO;
        }
        *con_cls = req;
        req->msg = framing_error(conn, version);
        if (req->msg != NULL) {
            /* Answer before reading any body, and close: the rest of the stream is unframed. */
            req->status = MHD_HTTP_BAD_REQUEST;
            req->answered = 1;
            return respond_error(srv, conn, req->status, req->msg);
        }
        classify(srv, conn, url, method, req);
        if (req->status != 0 && has_body(conn)) {
            return respond_error(srv, conn, req->status, req->msg);
        }
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        if (req->status == 0 && (req->route == ROUTE_INGEST || req->route == ROUTE_HANDLER)) {
            rc = body_append(srv, req, upload_data, *upload_data_size,
                             req->route == ROUTE_HANDLER ? srv->conf.max_api_body_bytes
                                                         : srv->conf.max_body_bytes);
            if (rc == LW_ETOOBIG) {
                req->status = HTTP_TOO_LARGE;
                req->msg = "request body too large";
            }
            else if (rc == LW_EFULL) {
                atomic_fetch_add(&srv->budget_refused, 1);
                req->status = MHD_HTTP_SERVICE_UNAVAILABLE;
                req->msg = MSG_BUDGET;
            }
            else if (rc < 0) {
                req->status = MHD_HTTP_SERVICE_UNAVAILABLE;
                req->msg = "out of memory";
            }
        }
        *upload_data_size = 0;
        if (req->status != 0 && !req->answered) {
            /*
             * Answer at once and stop reading (MHD closes the connection after the response).
             * Should MHD refuse a response in the middle of a body, the rest of the body is
             * discarded unread into memory and the error is sent at its end.
             */
            if (respond_error(srv, conn, req->status, req->msg) == MHD_YES) {
                req->answered = 1;  /* ignore whatever else arrives */
            }
        }
        return MHD_YES;
    }
    if (req->answered) {
        return MHD_YES;
    }
    if (req->status != 0) {
        return respond_error(srv, conn, req->status, req->msg);
    }
    switch (req->route) {
    case ROUTE_INGEST:
        return handle_ingest(srv, conn, req);
    case ROUTE_METRICS:
        return handle_metrics(srv, conn, &req->rt);
    case ROUTE_STATUS:
        return handle_status(srv, conn, &req->rt);
    case ROUTE_HANDLER:
        return handle_handler(srv, conn, url, method, req);
    default:
        return respond_error(srv, conn, MHD_HTTP_NOT_FOUND, "not found");
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct lw_http_server *srv = cls;
    struct http_req *req = *con_cls;

    if (req != NULL) {
        lw_free(req->body);
        lw_http_budget_give(&srv->budget, req->charged);
        lw_free(req);
        *con_cls = NULL;
    }
}

/*
 * The HTTP library's messages. Most are about one client (a refused connection, a malformed
 * request, a reset), so a client can provoke them at will: they are rate-limited, each line
 * saying how many were held back. A connection refused at a limit is also counted (MHD has no
 * callback for it, only this message; it says the same for both limits).
 */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                              va_list ap)
{
    struct lw_http_server *srv = cls;
    char msg[512];
    size_t n;
    uint64_t held = 0;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && msg[n - 1] == '\n') {
        msg[--n] = '\0';
    }
    if (strstr(msg, "connection limit") != NULL) {
        atomic_fetch_add(&srv->conns_refused, 1);
        if (lw_log_limit_pass(&srv->refused_log, &held)) {
            lw_warn("http",
                    "connection refused: over inputs.http.max_connections (%u) or "
                    "max_connections_per_ip (%u); %llu more refused since the last such line "
                    "(lw_http_connections_refused_total counts them all)",
                    srv->conf.max_connections, srv->conf.max_connections_per_ip,
                    (unsigned long long)held);
        }
        return;
    }
    if (lw_log_limit_pass(&srv->mhd_log, &held)) {
        if (held > 0) {
            lw_warn("http", "%s (%llu other messages of the HTTP library held back)", msg,
                    (unsigned long long)held);
        }
        else {
            lw_warn("http", "%s", msg);
        }
    }
}

/* Open connections, for /metrics (a gauge). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct lw_http_server *srv = cls;

    (void)conn;
    (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add(&srv->conns_open, 1);
    }
    else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        atomic_fetch_sub(&srv->conns_open, 1);
    }
}

/* ---- Start and stop ---------------------------------------------------------------------- */

/*
 * Parses "ip:port", "[ipv6]:port" or "localhost:port" into @ss. Returns 1 when the address is a
 * loopback address, 0 when it is not, -1 when it is malformed.
 */
static int parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *sslen)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon;
    const char *h;
    size_t hlen;
    char *end;
    unsigned long port;

    memset(ss, 0, sizeof(*ss));
    if (addr[0] == '[') {
        h = addr + 1;
        colon = strchr(addr, ']');
        if (colon == NULL || colon[1] != ':') {
            return -1;
        }
        hlen = (size_t)(colon - h);
        colon++;
    }
    else {
        h = addr;
        colon = strrchr(addr, ':');
        if (colon == NULL) {
            return -1;
        }
        hlen = (size_t)(colon - h);
    }
    if (hlen == 0 || hlen >= sizeof(host)) {
        return -1;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port > 65535) {
        return -1;
    }
    if (strcmp(host, "localhost") == 0) {
        snprintf(host, sizeof(host), "127.0.0.1");
    }
    if (addr[0] != '[') {
        struct sockaddr_in *in = (struct sockaddr_in *)(void *)ss;

        if (inet_pton(AF_INET, host, &in->sin_addr) != 1) {
            return -1;
        }
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        *sslen = sizeof(*in);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;

        if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
            return -1;
        }
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *sslen = sizeof(*in6);
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
}

/* Adds or replaces (same path) a route; the caller holds no lock. */
static int route_put(struct lw_http_server *srv, const struct lw_http_route *r)
{
    struct route_ent e;
    size_t i;
    int rc = LW_OK;

    if (r->method == NULL || r->path == NULL || strlen(r->method) >= sizeof(e.method) ||
        strlen(r->path) >= sizeof(e.path)) {
        return LW_EINVAL;
    }
    memset(&e, 0, sizeof(e));
    memcpy(e.method, r->method, strlen(r->method) + 1);
    memcpy(e.path, r->path, strlen(r->path) + 1);
    e.path_len = strlen(r->path);
    e.prefix = r->prefix;
    e.access = r->access;
    e.handler = r->handler;
    e.kind = r->kind;
    e.ingest = r->ingest;
    e.multiline.mode = LW_MULTILINE_AUTO;
    if (r->multiline != NULL) {
        e.multiline = *r->multiline;
    }
    e.render = r->render;
    e.opaque = r->opaque;
    pthread_mutex_lock(&srv->routes_mu);
    for (i = 0; i < srv->n_routes; i++) {
        if (strcmp(srv->routes[i].path, e.path) == 0 && srv->routes[i].prefix == e.prefix) {
            break;
        }
    }
    if (i < srv->n_routes) {
        srv->routes[i] = e;
    }
    else if (srv->n_routes < MAX_ROUTES) {
        srv->routes[srv->n_routes++] = e;
    }
    else {
        rc = LW_EFULL;
    }
    pthread_mutex_unlock(&srv->routes_mu);
    return rc;
}

int lw_http_route_add(struct lw_http_server *srv, const struct lw_http_route *r)
{
    return route_put(srv, r);
}

/* The ingest contract of lw_plugin.h, for the HTTP input. */
static int routes_add_ingest(void *server, const char *path, struct lw_ingest ingest,
                             const struct lw_multiline_conf *text_multiline)
{
    struct lw_http_route r;

    memset(&r, 0, sizeof(r));
    r.method = MHD_HTTP_METHOD_POST;
    r.path = path;
    r.kind = LW_HTTP_ROUTE_INGEST;
    r.ingest = ingest;
    r.multiline = text_multiline;
    return route_put(server, &r);
}

static void routes_stats(void *server, struct lw_ingest_route_stats *out)
{
    struct lw_http_stats st;

    lw_http_server_stats(server, &st);
    memset(out, 0, sizeof(*out));
    out->lines = st.ingest_lines;
    out->bytes = st.ingest_bytes;
    out->rejected_lines = st.ingest_rejected_lines;
    out->refused_503 = st.responses_503;
}

void lw_http_server_routes(struct lw_http_server *srv, struct lw_ingest_routes *out)
{
    memset(out, 0, sizeof(*out));
    out->server = srv;
    out->add_ingest = routes_add_ingest;
    out->stats = routes_stats;
}

/* The routes every server starts with, from @conf. */
static int builtin_routes(struct lw_http_server *srv, const struct lw_http_conf *conf)
{
    struct lw_http_route r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.method = MHD_HTTP_METHOD_POST;
    r.path = "/api/v1/ingest";
    r.kind = LW_HTTP_ROUTE_INGEST;
    r.ingest = conf->ingest;
    rc = route_put(srv, &r);
    memset(&r, 0, sizeof(r));
    r.method = MHD_HTTP_METHOD_GET;
    r.path = "/metrics";
    r.kind = LW_HTTP_ROUTE_PROM;
    r.render = conf->metrics;
    r.opaque = conf->opaque;
    rc = rc < 0 ? rc : route_put(srv, &r);
    r.path = "/api/v1/status";
    r.kind = LW_HTTP_ROUTE_JSON;
    r.render = conf->status;
    return rc < 0 ? rc : route_put(srv, &r);
}

struct lw_http_server *lw_http_server_start(const struct lw_http_conf *conf, char *err,
                                            size_t err_len)
{
    struct lw_http_server *srv;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    const union MHD_DaemonInfo *di;
    unsigned int flags;
    int loopback;

    srv = lw_calloc(1, sizeof(*srv));
    if (srv == NULL) {
        snprintf(err, err_len, "http: out of memory");
        return NULL;
    }
    srv->conf = *conf;
    pthread_mutex_init(&srv->routes_mu, NULL);
    if (builtin_routes(srv, conf) < 0) {
        snprintf(err, err_len, "http: cannot set up the routes");
        goto fail_free;
    }
    srv->addr = lw_strdup(conf->addr != NULL ? conf->addr : DEFAULT_ADDR);
    if (srv->addr == NULL) {
        snprintf(err, err_len, "http: out of memory");
        goto fail_free;
    }
    srv->conf.addr = srv->addr;
    srv->conf.token = NULL;
    if (srv->conf.max_body_bytes == 0) {
        srv->conf.max_body_bytes = DEFAULT_MAX_BODY;
    }
    if (srv->conf.max_buffered_bytes == 0) {
        srv->conf.max_buffered_bytes = DEFAULT_MAX_BUFFERED;
    }
    if (srv->conf.max_buffered_bytes < srv->conf.max_body_bytes) {
        snprintf(err, err_len,
                 "http: max_buffered (%zu bytes) is smaller than max_body (%zu bytes): a "
                 "body of max_body could never be taken",
                 srv->conf.max_buffered_bytes, srv->conf.max_body_bytes);
        goto fail_free;
    }
    srv->budget.limit_bytes = srv->conf.max_buffered_bytes;
    if (srv->conf.max_connections == 0) {
        srv->conf.max_connections = DEFAULT_MAX_CONN;
    }
    if (srv->conf.max_connections_per_ip == 0) {
        srv->conf.max_connections_per_ip = DEFAULT_MAX_CONN_IP;
    }
    srv->refused_log.every_ns = REFUSED_LOG_EVERY_NS;
    srv->mhd_log.every_ns = MHD_LOG_EVERY_NS;
    if (srv->conf.timeout_s == 0) {
        srv->conf.timeout_s = DEFAULT_TIMEOUT_S;
    }
    if (srv->conf.n_threads == 0) {
        srv->conf.n_threads = DEFAULT_THREADS;
    }
    if (srv->conf.backpressure_ms == 0) {
        srv->conf.backpressure_ms = DEFAULT_BACKPRESSURE;
    }
    if (srv->conf.max_api_body_bytes == 0) {
        srv->conf.max_api_body_bytes = DEFAULT_MAX_API_BODY;
    }
    srv->conf.read_token = NULL;
    loopback = parse_addr(srv->addr, &ss, &sslen);
    if (loopback < 0) {
        snprintf(err, err_len, "http: bad listen address '%s' (want ip:port or [ipv6]:port)",
                 srv->addr);
        goto fail_free;
    }
    if (conf->token != NULL && conf->token[0] != '\0') {
        size_t tlen = strlen(conf->token);

        srv->auth_len = 7 + tlen;
        srv->auth = lw_malloc(srv->auth_len + 1);
        if (srv->auth == NULL) {
            snprintf(err, err_len, "http: out of memory");
            goto fail_free;
        }
        memcpy(srv->auth, "Bearer ", 7);
        memcpy(srv->auth + 7, conf->token, tlen + 1);
        if (conf->read_token != NULL && conf->read_token[0] != '\0') {
            tlen = strlen(conf->read_token);
            srv->read_auth_len = 7 + tlen;
            srv->read_auth = lw_malloc(srv->read_auth_len + 1);
            if (srv->read_auth == NULL) {
                snprintf(err, err_len, "http: out of memory");
                goto fail_free;
            }
            memcpy(srv->read_auth, "Bearer ", 7);
            memcpy(srv->read_auth + 7, conf->read_token, tlen + 1);
        }
    }
    else if (conf->read_token != NULL && conf->read_token[0] != '\0') {
        snprintf(err, err_len,
                 "http: a read token needs a read-write token too (set the token as well)");
        goto fail_free;
    }
    else if (!loopback) {
        snprintf(err, err_len,
                 "http: refusing to listen on non-loopback address '%s' without a token "
                 "(set a bearer token, or listen on 127.0.0.1)",
                 srv->addr);
        goto fail_free;
    }
    flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    srv->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, srv->conf.n_threads, MHD_OPTION_CONNECTION_LIMIT,
        srv->conf.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        srv->conf.max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, srv->conf.timeout_s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (srv->d == NULL) {
        snprintf(err, err_len, "http: cannot listen on %s: %s", srv->addr,
                 errno != 0 ? strerror(errno) : "libmicrohttpd refused to start");
        goto fail_free;
    }
    di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di != NULL ? di->port : 0;
    (void)sslen;
    return srv;
fail_free:
    lw_free(srv->read_auth);
    lw_free(srv->auth);
    lw_free(srv->addr);
    pthread_mutex_destroy(&srv->routes_mu);
    lw_free(srv);
    return NULL;
}

unsigned int lw_http_server_port(const struct lw_http_server *srv)
{
    return srv != NULL ? srv->port : 0;
}

void lw_http_server_stats(const struct lw_http_server *srv, struct lw_http_stats *out)
{
    struct lw_http_server *s = (struct lw_http_server *)(uintptr_t)srv;

    memset(out, 0, sizeof(*out));
    if (s == NULL) {
        return;
    }
    out->requests = atomic_load(&s->requests);
    out->ingest_requests = atomic_load(&s->ingest_requests);
    out->ingest_lines = atomic_load(&s->ingest_lines);
    out->ingest_rejected_lines = atomic_load(&s->ingest_rejected);
    out->ingest_bytes = atomic_load(&s->ingest_bytes);
    out->responses_2xx = atomic_load(&s->r2xx);
    out->responses_4xx = atomic_load(&s->r4xx);
    out->responses_5xx = atomic_load(&s->r5xx);
    out->responses_503 = atomic_load(&s->r503);
    out->budget_refused = atomic_load(&s->budget_refused);
    out->buffered_bytes = atomic_load(&s->budget.used_bytes);
    out->buffered_peak_bytes = atomic_load(&s->budget.peak_bytes);
    out->connections_open = atomic_load(&s->conns_open);
    out->connections_refused = atomic_load(&s->conns_refused);
}

void lw_http_server_stop(struct lw_http_server *srv)
{
    if (srv == NULL) {
        return;
    }
    MHD_stop_daemon(srv->d);
    /* Tokens are secrets: do not leave them in freed memory. */
    if (srv->auth != NULL) {
        volatile char *v = srv->auth;
        size_t i;

        for (i = 0; i < srv->auth_len; i++) {
            v[i] = 0;
        }
    }
    if (srv->read_auth != NULL) {
        volatile char *v = srv->read_auth;
        size_t i;

        for (i = 0; i < srv->read_auth_len; i++) {
            v[i] = 0;
        }
    }
    lw_free(srv->read_auth);
    lw_free(srv->auth);
    lw_free(srv->addr);
    pthread_mutex_destroy(&srv->routes_mu);
    lw_free(srv);
}
