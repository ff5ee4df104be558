/*
 * The daemon's HTTP server (libmicrohttpd), started by the daemon: POST /api/v1/ingest turns
 * request bodies into groups of lines for the pipeline (struct lw_ingest of lw_ingest.h, which the
 * HTTP input registers), GET /metrics serves Prometheus text and GET /api/v1/status serves JSON,
 * both rendered by callbacks the daemon registers in the server's route table.
 *
 * The body parser (lw_http_body_*, lw_body.h) lives in the parse layer; two parts live here:
 *   - the server (lw_http_server_*): start, stop, bound port, counters, and its route table
 *     (lw_http_route_add).
 *   - the daemon's /metrics text (lw_http_metrics_render, src/api/http_metrics.c).
 * The Prometheus text-format builder (lw_prom_*) that renders /metrics is a core module
 * (lw_metrics.h).
 */
#ifndef LW_HTTP_H
#define LW_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_body.h"
#include "lw/lw_frame.h"
#include "lw/lw_ingest.h"
#include "lw/lw_level.h"

/* ---- Server ---------------------------------------------------------------------------- */

/*
 * Renders the /metrics text (Prometheus text format 0.0.4) or the /api/v1/status JSON. Sets
 * *text (allocated with lw_malloc; the server frees it with lw_free) and *len, and returns LW_OK,
 * or a negative LW_E* code (the server answers 500). Called from server threads, possibly from
 * several at once.
 */
typedef int (*lw_http_render_cb)(void *opaque, char **text, size_t *len);
typedef lw_http_render_cb lw_http_metrics_cb;
typedef lw_http_render_cb lw_http_status_cb;

struct lw_http_conf {
    const char *addr;              /* "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:8080"; NULL: default */
    const char *token;             /* read-write bearer token; required unless addr is a
                                    * loopback address */
    const char *read_token;        /* read-only bearer token (GET of READ routes); optional,
                                    * needs @token */
    size_t max_api_body_bytes;     /* HANDLER request bodies (JSON of the API); 0: 1 MiB */
    size_t max_body_bytes;         /* 0: 16 MiB; applies to the body as sent and as decompressed */
    size_t max_buffered_bytes;     /* all requests' bodies at once (lw_http_budget); 0: 64 MiB;
                                    * at least max_body_bytes */
    size_t max_line_bytes;         /* 0: 65536; longer lines are truncated and flagged */
    unsigned int max_connections;  /* open connections at once, 0: 1024; more are closed */
    unsigned int max_connections_per_ip;  /* open connections from one client address, 0: 64;
                                           * more are closed (one host cannot take all) */
    unsigned int timeout_s;        /* a connection silent this long is closed (idle keep-alive,
                                    * headers or body that stopped coming), 0: 30 s */
    unsigned int n_threads;        /* thread pool size, 0: 2 */
    unsigned int backpressure_ms;  /* how long ingest may say LW_EAGAIN before 503; 0: 1000 */
    struct lw_ingest ingest;       /* where ingested lines go; fn NULL: ingest answers 503 */
    lw_http_metrics_cb metrics;    /* GET /metrics; NULL: only the server's own counters */
    lw_http_status_cb status;      /* GET /api/v1/status; NULL: the server's own counters */
    void *opaque;                  /* passed to metrics and status */
};

/* Counters since start; each is read atomically (the set is not one snapshot). */
struct lw_http_stats {
    uint64_t requests;               /* requests answered */
    uint64_t ingest_requests;        /* POST /api/v1/ingest requests */
    uint64_t ingest_lines;           /* lines taken by ingest.fn */
    uint64_t ingest_rejected_lines;  /* malformed lines skipped */
    uint64_t ingest_bytes;           /* request body bytes as received (before gunzip) */
    uint64_t responses_2xx;
    uint64_t responses_4xx;
    uint64_t responses_5xx;
    uint64_t responses_503;          /* backpressure refusals (also counted in responses_5xx) */
    uint64_t budget_refused;         /* 503s because the body budget was spent (also in 503) */
    uint64_t buffered_bytes;         /* body bytes held now (lw_http_budget) */
    uint64_t buffered_peak_bytes;    /* the most ever held at once */
    uint64_t connections_open;       /* gauge: connections open now */
    uint64_t connections_refused;    /* closed on accept: over max_connections or
                                      * max_connections_per_ip */
};

struct lw_http_server;

/*
 * Starts listening on conf->addr with an internal epoll thread pool. Strings in @conf are copied.
 * Refuses (returns NULL, message in @err of capacity @err_len) to listen on a non-loopback
 * address without a token, on a malformed address, or when the bind fails. When a token is set
 * every request must carry "Authorization: Bearer <token>" (compared in constant time) or gets
 * 401. Callbacks are only called between start and stop. Call from any one thread.
 */
struct lw_http_server *lw_http_server_start(const struct lw_http_conf *conf, char *err,
                                            size_t err_len);
/* The port actually bound (useful with port 0), or 0 when @srv is NULL. */
unsigned int lw_http_server_port(const struct lw_http_server *srv);
void lw_http_server_stats(const struct lw_http_server *srv, struct lw_http_stats *out);
/* ---- Routes ---------------------------------------------------------------------------- */

enum lw_http_route_kind {
    LW_HTTP_ROUTE_INGEST = 1,  /* POST: a body of lines (NDJSON or text) for @ingest */
    LW_HTTP_ROUTE_PROM,        /* GET: @render's Prometheus text, then the server's counters */
    LW_HTTP_ROUTE_JSON,        /* GET: @render's JSON (NULL: the server's counters) */
    LW_HTTP_ROUTE_HANDLER,     /* any method: @handler answers (query API, dashboard assets) */
};

/*
 * What a caller may do. Without tokens (loopback only) every caller may do everything. With
 * tokens, "Authorization: Bearer <token>" grants LW_HTTP_ACCESS_WRITE and the read token
 * LW_HTTP_ACCESS_READ; a route asks for one level: PUBLIC routes need no token (the dashboard's
 * static files, which hold no data), READ routes either token, WRITE routes the read-write token
 * (401 without a valid token, 403 with the read token). A HANDLER route asks for its @access on
 * GET and HEAD and for WRITE on every other method.
 */
enum lw_http_access {
    LW_HTTP_ACCESS_PUBLIC = 0,
    LW_HTTP_ACCESS_READ,
    LW_HTTP_ACCESS_WRITE,
};

#define LW_HTTP_MAX_ARGS     32   /* query-string arguments a handler sees; more: 400 */
#define LW_HTTP_MAX_HEADERS  4    /* extra response headers a handler may set */

/*
 * A request as a HANDLER route sees it; everything is borrowed until the handler returns.
 * Query-string arguments are decoded (percent and '+'); an argument given without '=' has the
 * value "". The body is there for methods other than GET and HEAD, at most
 * lw_http_conf.max_api_body_bytes (larger: 413 before the handler runs), NUL-terminated.
 */
struct lw_http_req {
    const char *method;                        /* "GET", "HEAD", "POST", "DELETE", ... */
    const char *path;                          /* without the query string */
    const char *arg_keys[LW_HTTP_MAX_ARGS];
    const char *arg_vals[LW_HTTP_MAX_ARGS];
    size_t n_args;
    const char *body;                          /* NULL when there is none */
    size_t body_len;
    enum lw_http_access access;                /* what the caller's token allows */
    void *conn;                                /* the server's; for lw_http_req_header() */
};

/* The value of query argument @key (the first when repeated), or NULL. */
const char *lw_http_req_arg(const struct lw_http_req *req, const char *key);
/* The value of request header @name (case-insensitive), or NULL. */
const char *lw_http_req_header(const struct lw_http_req *req, const char *name);

/*
 * A handler's answer. The server zeroes it before the call. @body is taken over by the server
 * (lw_free) unless @body_static is set, in which case it must stay valid for the server's life
 * (compiled-in assets). @content_type and header names are static strings; header values are
 * copied. A HEAD request gets the headers and no body.
 */
struct lw_http_resp {
    unsigned int status;                       /* 0: 200 */
    const char *content_type;                  /* NULL: application/json */
    char *body;
    size_t body_len;
    int body_static;
    const char *hdr_names[LW_HTTP_MAX_HEADERS];
    char hdr_values[LW_HTTP_MAX_HEADERS][128];
    size_t n_hdrs;
};

/*
 * Adds response header @name (a static string) with @value (copied, cut at 127 bytes). Returns
 * LW_OK, or LW_EFULL when @resp holds LW_HTTP_MAX_HEADERS already (the header is not added).
 */
int lw_http_resp_add_header(struct lw_http_resp *resp, const char *name, const char *value);

/*
 * Answers @req in @resp. Returns LW_OK (whatever the status in @resp), or a negative LW_E* code
 * (the server answers 500 and frees a body set before). Called from server threads, possibly
 * several at once for one route.
 */
typedef int (*lw_http_handler_cb)(void *opaque, const struct lw_http_req *req,
                                  struct lw_http_resp *resp);

struct lw_http_route {
    const char *method;        /* "POST" for ingest, "GET" (which answers HEAD too) for PROM and
                                * JSON, "*" or one method for HANDLER */
    const char *path;          /* the exact path, "/api/v1/ingest"; with @prefix every path that
                                * starts with it ("/api/v1/templates/") */
    int prefix;                /* match by prefix (the longest prefix route wins; an exact
                                * route wins over any prefix route) */
    enum lw_http_route_kind kind;
    enum lw_http_access access; /* what a caller needs (see enum lw_http_access); INGEST routes
                                 * always need WRITE, PROM and JSON at least READ */
    struct lw_ingest ingest;   /* INGEST: where lines go; fn NULL answers 503 ("no pipeline") */
    const struct lw_multiline_conf *multiline;  /* INGEST text bodies: copied, its regex
                                                 * borrowed; NULL: LW_MULTILINE_AUTO */
    lw_http_render_cb render;  /* PROM and JSON */
    lw_http_handler_cb handler; /* HANDLER */
    void *opaque;              /* passed to render and handler */
};

/*
 * Adds route @r, or replaces the route of the same path. Every server starts with
 * POST /api/v1/ingest, GET /metrics and GET /api/v1/status, made from its lw_http_conf. Strings
 * in @r are copied; what @r points to must stay valid while the route is in place. A request
 * uses the route as it was when its headers arrived. Returns LW_OK, LW_EINVAL (a method or path
 * too long) or LW_EFULL (64 routes). Thread-safe.
 */
int lw_http_route_add(struct lw_http_server *srv, const struct lw_http_route *r);

/*
 * Fills @out (lw_plugin.h) so that an input can register ingest routes on @srv and read their
 * counters without knowing the server. @srv must outlive every use of @out.
 */
struct lw_ingest_routes;
void lw_http_server_routes(struct lw_http_server *srv, struct lw_ingest_routes *out);

/*
 * Stops listening, waits for in-flight requests (including any waiting on backpressure) and frees
 * @srv. NULL does nothing. No callback runs after it returns.
 */
void lw_http_server_stop(struct lw_http_server *srv);

/* ---- The daemon's /metrics (src/api/http_metrics.c) ------------------------------------ */

#define LW_HTTP_MAX_INPUTS 16

struct lw_engine;
struct lw_alerter;
struct lw_input_plugin;

/* A running input as the daemon lists it. */
struct lw_http_input {
    const struct lw_input_plugin *plugin;
    void *inst;
};

/* What the daemon's metrics are read from; everything is borrowed while the route is in place. */
struct lw_http_metrics_src {
    struct lw_engine *engine;
    struct lw_alerter *alerter;               /* NULL when detection is off */
    bool detect;                              /* detection on: the stage's and detectors' metrics */
    pthread_mutex_t *inputs_mu;               /* guards inputs[] and *n_inputs */
    const struct lw_http_input *inputs;       /* at most LW_HTTP_MAX_INPUTS */
    const size_t *n_inputs;
};

/*
 * Renders the daemon's /metrics text (engine, detection, alerts, inputs) from @src (a struct
 * lw_http_metrics_src); an lw_http_render_cb for a LW_HTTP_ROUTE_PROM route. Server threads.
 */
int lw_http_metrics_render(void *src, char **text, size_t *len);

#endif
