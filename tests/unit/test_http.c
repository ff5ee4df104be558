/*
 * Unit tests for the HTTP server (src/api/http_server.c), its body parser (src/parse/body.c) and the
 * Prometheus builder (http_prom.c), through the public API of lw_http.h. Server tests start a
 * real server on 127.0.0.1 port 0 and talk to it over plain sockets with a tiny HTTP/1.1 client
 * written here (no libcurl). Lines handed to ingest are copied into a capture under a mutex,
 * since the server calls ingest from its own threads.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_http.h"
#include "lw/lw_mem.h"
#include "lw/lw_metrics.h"

/* ---- Capture of ingested lines -------------------------------------------------------------- */

struct cap_line {
    char *data;
    size_t len;
    uint32_t flags;
    int64_t ts_ns;
    char *input;
    char *name;
    char *host;
};

struct capture {
    pthread_mutex_t mu;
    struct cap_line *lines;
    size_t n;
    size_t cap;
    size_t n_groups;
    size_t max_group;
    int refuse_after;  /* groups accepted before LW_EAGAIN forever; -1: never refuse */
    int n_calls;
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static int capture_fn(void *opaque, const struct lw_ingest_group *g)
{
    struct capture *c = opaque;
    size_t i;

    pthread_mutex_lock(&c->mu);
    c->n_calls++;
    if (c->refuse_after >= 0 && (int)c->n_groups >= c->refuse_after) {
        pthread_mutex_unlock(&c->mu);
        return LW_EAGAIN;
    }
    c->n_groups++;
    if (g->n_lines > c->max_group) {
        c->max_group = g->n_lines;
    }
    for (i = 0; i < g->n_lines; i++) {
        struct cap_line *l;

        if (c->n == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 256;
            c->lines = realloc(c->lines, c->cap * sizeof(*c->lines));
        }
        l = &c->lines[c->n++];
        l->data = malloc(g->lines[i].len + 1);
        memcpy(l->data, g->lines[i].data, g->lines[i].len);
        l->data[g->lines[i].len] = '\0';
        l->len = g->lines[i].len;
        l->flags = g->lines[i].flags;
        l->ts_ns = g->lines[i].ts_ns;
        l->input = dup_or_null(g->source->input);
        l->name = dup_or_null(g->source->name);
        l->host = dup_or_null(g->hosts != NULL && g->hosts[i] != NULL ? g->hosts[i]
                                                                     : g->source->host);
    }
    pthread_mutex_unlock(&c->mu);
    return LW_OK;
}

static void capture_init(struct capture *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->refuse_after = -1;
}

static void capture_fini(struct capture *c)
{
    size_t i;

    for (i = 0; i < c->n; i++) {
        free(c->lines[i].data);
        free(c->lines[i].input);
        free(c->lines[i].name);
        free(c->lines[i].host);
    }
    free(c->lines);
    pthread_mutex_destroy(&c->mu);
}

/* ---- A tiny HTTP/1.1 client ----------------------------------------------------------------- */

struct resp {
    int status;
    char head[4096];  /* status line and headers, NUL-terminated */
    char *body;       /* malloc'd, NUL-terminated */
    size_t body_len;
};

static int connect_port(unsigned int port)
{
    struct sockaddr_in sa;
    int fd;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Sends everything it can; a server that answered early and closed makes the rest fail. */
static void send_all(int fd, const char *buf, size_t len)
{
    ssize_t n;

    while (len > 0) {
        n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0) {
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* strcasestr() is a GNU extension; the project builds with POSIX only. */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay != '\0'; hay++) {
        if (strncasecmp(hay, needle, n) == 0) {
            return hay;
        }
    }
    return NULL;
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* Reads one response (headers, then Content-Length bytes). Returns 0, or -1 on EOF/error. */
static int read_response(int fd, struct resp *r)
{
    char buf[8192];
    size_t have = 0;
    char *end = NULL;
    const char *cl;
    size_t want;
    size_t hlen;
    ssize_t n;

    memset(r, 0, sizeof(*r));
    while (end == NULL) {
        if (have == sizeof(buf) - 1) {
            return -1;
        }
        n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        if (n <= 0) {
            return -1;
        }
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    hlen = (size_t)(end - buf) + 4;
    assert_true(hlen < sizeof(r->head));
    memcpy(r->head, buf, hlen);
    r->head[hlen] = '\0';
    assert_int_equal(sscanf(r->head, "HTTP/1.%*d %d", &r->status), 1);
    cl = find_ci(r->head, "\r\nContent-Length:");
    want = cl != NULL ? (size_t)strtoull(cl + 17, NULL, 10) : 0;
    r->body = malloc(want + 1);
    assert_non_null(r->body);
    r->body_len = have - hlen < want ? have - hlen : want;
    memcpy(r->body, buf + hlen, r->body_len);
    while (r->body_len < want) {
        n = recv(fd, r->body + r->body_len, want - r->body_len, 0);
        if (n <= 0) {
            break;
        }
        r->body_len += (size_t)n;
    }
    r->body[r->body_len] = '\0';
    return 0;
}

static void resp_fini(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

static const char *resp_header(const struct resp *r, const char *name)
{
    static char val[256];
    char pat[128];
    const char *p;
    size_t n = 0;

    snprintf(pat, sizeof(pat), "\r\n%s:", name);
    p = find_ci(r->head, pat);
    if (p == NULL) {
        return NULL;
    }
    p += strlen(pat);
    while (*p == ' ') {
        p++;
    }
    while (p[n] != '\r' && n < sizeof(val) - 1) {
        val[n] = p[n];
        n++;
    }
    val[n] = '\0';
    return val;
}

/* Writes a request with a Content-Length body (or none when @body is NULL). */
static void send_request(int fd, const char *method, const char *path, const char *headers,
                         const char *body, size_t body_len)
{
    char head[2048];
    int n;

    if (body != NULL) {
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n\r\n", method,
                     path, headers != NULL ? headers : "", body_len);
    }
    else {
        n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", method,
                     path, headers != NULL ? headers : "");
    }
    assert_true(n > 0 && (size_t)n < sizeof(head));
    send_all(fd, head, (size_t)n);
    if (body != NULL) {
        send_all(fd, body, body_len);
    }
}

/* One request on a fresh connection. */
static void request(unsigned int port, const char *method, const char *path, const char *headers,
                    const char *body, size_t body_len, struct resp *r)
{
    int fd = connect_port(port);

    send_request(fd, method, path, headers, body, body_len);
    assert_int_equal(read_response(fd, r), 0);
    close(fd);
}

/* ---- Helpers ---------------------------------------------------------------------------------- */

struct fixture {
    struct capture cap;
    struct lw_http_server *srv;
    unsigned int port;
};

static void start(struct fixture *f, struct lw_http_conf *conf)
{
    char err[256];

    conf->addr = conf->addr != NULL ? conf->addr : "127.0.0.1:0";
    conf->ingest.fn = capture_fn;
    conf->ingest.opaque = &f->cap;
    f->srv = lw_http_server_start(conf, err, sizeof(err));
    if (f->srv == NULL) {
        fail_msg("start: %s", err);
    }
    f->port = lw_http_server_port(f->srv);
    assert_true(f->port > 0);
}

static void stop(struct fixture *f)
{
    lw_http_server_stop(f->srv);
    f->srv = NULL;
}

static char *gzip_buf(const char *in, size_t len, size_t *out_len)
{
    z_stream zs;
    char *out;
    size_t cap = compressBound((uLong)len) + 64;

    out = malloc(cap);
    assert_non_null(out);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_len = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* A body of @n NDJSON lines; line i has message "line <i> \"quoted\" é" and time 2024-05-01. */
static char *ndjson_body(size_t n, size_t *len)
{
    size_t cap = n * 200 + 1;
    char *b = malloc(cap);
    size_t off = 0;
    size_t i;

    assert_non_null(b);
    for (i = 0; i < n; i++) {
        off += (size_t)snprintf(b + off, cap - off,
                                "{\"time\":\"2024-05-01T10:00:%02zu.250Z\",\"level\":\"warn\","
                                "\"host\":\"web1\",\"message\":\"line %zu \\\"quoted\\\" "
                                "\\u00e9\",\"extra\":{\"a\":[1,2]}}\n",
                                i % 60, i);
    }
    *len = off;
    return b;
}

#define NDJSON "Content-Type: application/x-ndjson\r\n"

/* ---- Body parser ------------------------------------------------------------------------------ */

static void test_body_ndjson_fields(void **state)
{
    const char *in = "{\"message\":\"a\",\"time\":1714557600}\n"
                     "{\"msg\":\"b\",\"time\":1714557600123}\r\n"
                     "{\"log\":\"c\",\"time\":1714557600123456789,\"host\":\"h1\"}\n"
                     "   \n"
                     "{\"message\":\"d\",\"time\":1714557600.5,\"level\":\"ERROR\"}\n"
                     "{\"message\":\"nul\\u0000\",\"time\":\"not a time\"}\n"
                     "not json\n"
                     "[1,2]\n"
                     "{\"message\":42}\n"
                     "{\"other\":\"x\"}\n"
                     "{\"message\":\"last\"}";
    struct lw_http_body b;

    assert_int_equal(lw_http_body_parse(in, strlen(in), LW_HTTP_BODY_NDJSON, 0, NULL, &b), LW_OK);
    assert_int_equal(b.n_lines, 6);
    assert_int_equal(b.n_rejected, 4);
    assert_int_equal(b.n_blank, 1);
    assert_int_equal(b.n_physical, b.n_lines + b.n_rejected + b.n_blank);
    assert_int_equal(b.lines[0].len, 1);
    assert_memory_equal(b.lines[0].data, "a", 1);
    assert_true(b.lines[0].ts_ns == 1714557600LL * 1000000000LL);
    assert_memory_equal(b.lines[1].data, "b", 1);
    assert_true(b.lines[1].ts_ns == 1714557600123LL * 1000000LL);
    assert_memory_equal(b.lines[2].data, "c", 1);
    assert_true(b.lines[2].ts_ns == 1714557600123456789LL);
    assert_string_equal(b.hosts[2], "h1");
    assert_null(b.hosts[0]);
    assert_true(b.lines[3].ts_ns == 1714557600500000000LL);
    assert_int_equal(b.levels[3], LW_LEVEL_ERROR);
    assert_int_equal(b.lines[4].len, 4);
    assert_true(b.lines[4].flags & LW_LINE_INVALID);
    assert_true(b.lines[4].ts_ns == LW_TS_UNKNOWN);
    assert_memory_equal(b.lines[5].data, "last", 4);
    lw_http_body_fini(&b);
}

static void test_body_ndjson_truncate(void **state)
{
    const char *in = "{\"message\":\"abcdefghij\"}\n";
    struct lw_http_body b;

    assert_int_equal(lw_http_body_parse(in, strlen(in), LW_HTTP_BODY_NDJSON, 4, NULL, &b), LW_OK);
    assert_int_equal(b.n_lines, 1);
    assert_int_equal(b.lines[0].len, 4);
    assert_true(b.lines[0].flags & LW_LINE_TRUNCATED);
    lw_http_body_fini(&b);
}

static void test_body_text(void **state)
{
    const char *in = "first\r\nsecond\n\n \nthird";
    struct lw_http_body b;

    assert_int_equal(lw_http_body_parse(in, strlen(in), LW_HTTP_BODY_TEXT, 0, NULL, &b), LW_OK);
    assert_int_equal(b.n_lines, 3);
    assert_int_equal(b.n_blank, 2);
    assert_int_equal(b.n_rejected, 0);
    assert_int_equal(b.lines[1].len, 6);
    assert_memory_equal(b.lines[1].data, "second", 6);
    assert_memory_equal(b.lines[2].data, "third", 5);
    assert_true(b.lines[2].ts_ns == LW_TS_UNKNOWN);
    lw_http_body_fini(&b);
}

static void test_body_text_multiline(void **state)
{
    const char *in = "10:00 ERROR failed\r\n"
                     "java.lang.IllegalStateException: boom\n"
                     "\tat a.B.c(B.java:1)\n"
                     "\n"
                     "10:01 INFO ok\n"
                     "  indented\n";
    const struct lw_multiline_conf ml = {LW_MULTILINE_AUTO, NULL, 0};
    const struct lw_multiline_conf bad = {LW_MULTILINE_REGEX, "([", 0};
    struct lw_http_body b;

    (void)state;
    assert_int_equal(lw_http_body_parse(in, strlen(in), LW_HTTP_BODY_TEXT, 0, &ml, &b), LW_OK);
    assert_int_equal(b.n_lines, 2);
    assert_int_equal(b.n_blank, 1);
    assert_true(b.lines[0].flags & LW_LINE_MULTI);
    assert_int_equal(b.lines[0].len, strlen("10:00 ERROR failed\njava.lang.IllegalStateException: "
                                            "boom\n\tat a.B.c(B.java:1)"));
    assert_memory_equal(b.lines[0].data, "10:00 ERROR failed\njava.lang.IllegalStateException: "
                                         "boom\n\tat a.B.c(B.java:1)", b.lines[0].len);
    assert_memory_equal(b.lines[1].data, "10:01 INFO ok\n  indented", b.lines[1].len);
    lw_http_body_fini(&b);
    /* NDJSON is one record per line whatever the setting. */
    in = "{\"message\":\"a\"}\n{\"message\":\" b\"}\n";
    assert_int_equal(lw_http_body_parse(in, strlen(in), LW_HTTP_BODY_NDJSON, 0, &ml, &b), LW_OK);
    assert_int_equal(b.n_lines, 2);
    lw_http_body_fini(&b);
    in = "x\n";
    assert_int_equal(lw_http_body_parse(in, strlen(in), LW_HTTP_BODY_TEXT, 0, &bad, &b),
                     LW_EINVAL);
    lw_http_body_fini(&b);
}

struct parts {
    size_t n_parts;
    size_t n_lines;
    size_t max_part;
    int ok;         /* every line is "line <i>" in order */
};

static int count_part(void *opaque, const struct lw_http_body *part)
{
    struct parts *p = opaque;
    char want[32];
    size_t i;

    p->n_parts++;
    p->max_part = part->n_lines > p->max_part ? part->n_lines : p->max_part;
    for (i = 0; i < part->n_lines; i++) {
        snprintf(want, sizeof(want), "line %zu", p->n_lines + i);
        if (part->lines[i].len != strlen(want) ||
            memcmp(part->lines[i].data, want, part->lines[i].len) != 0) {
            p->ok = 0;
        }
    }
    p->n_lines += part->n_lines;
    return 0;
}

/* Parts bound the parser's memory; a spent budget is LW_EFULL and everything is given back. */
static void test_body_parts(void **state)
{
    struct lw_http_budget bg;
    struct lw_http_body b;
    struct parts p;
    char *text;
    char *nd;
    size_t off = 0;
    size_t nd_off = 0;
    size_t i;
    const size_t n = 3000;

    (void)state;
    text = malloc(n * 16);
    nd = malloc(n * 40);
    assert_non_null(text);
    assert_non_null(nd);
    for (i = 0; i < n; i++) {
        off += (size_t)sprintf(text + off, "line %zu\n", i);
        nd_off += (size_t)sprintf(nd + nd_off, "{\"message\":\"line %zu\"}\n", i);
    }
    memset(&bg, 0, sizeof(bg));
    memset(&p, 0, sizeof(p));
    p.ok = 1;
    assert_int_equal(lw_http_body_parse_parts(text, off, LW_HTTP_BODY_TEXT, 0, NULL, 1024, &bg,
                                              count_part, &p, &b),
                     LW_OK);
    assert_int_equal(p.n_lines, n);
    assert_int_equal(p.n_parts, 3);
    assert_int_equal(p.max_part, 1024);
    assert_true(p.ok);
    assert_int_equal(b.n_physical, n);
    assert_true(atomic_load(&bg.used_bytes) > 0);
    assert_true(atomic_load(&bg.used_bytes) < 1024 * 64);
    lw_http_body_fini(&b);
    assert_int_equal(atomic_load(&bg.used_bytes), 0);

    memset(&p, 0, sizeof(p));
    p.ok = 1;
    assert_int_equal(lw_http_body_parse_parts(nd, nd_off, LW_HTTP_BODY_NDJSON, 0, NULL, 1000,
                                              &bg, count_part, &p, &b),
                     LW_OK);
    assert_int_equal(p.n_lines, n);
    assert_int_equal(p.n_parts, 3);
    assert_true(p.ok);
    lw_http_body_fini(&b);
    assert_int_equal(atomic_load(&bg.used_bytes), 0);

    /* A budget too small for the arrays of one part. */
    bg.limit_bytes = 4096;
    memset(&p, 0, sizeof(p));
    assert_int_equal(lw_http_body_parse_parts(text, off, LW_HTTP_BODY_TEXT, 0, NULL, 1024, &bg,
                                              count_part, &p, &b),
                     LW_EFULL);
    lw_http_body_fini(&b);
    assert_int_equal(atomic_load(&bg.used_bytes), 0);
    assert_true(atomic_load(&bg.peak_bytes) <= 512 * 1024);  /* NDJSON store: 256 KiB at most */
    free(text);
    free(nd);
}

static void test_gunzip(void **state)
{
    const char *text = "hello\nworld\n";
    char *gz;
    char *two;
    size_t gz_len;
    char *out;
    size_t out_len;
    char *big;

    gz = gzip_buf(text, strlen(text), &gz_len);
    assert_int_equal(lw_http_gunzip(gz, gz_len, 1024, &out, &out_len), LW_OK);
    assert_int_equal(out_len, strlen(text));
    assert_memory_equal(out, text, out_len);
    lw_free(out);
    /* Exactly at the limit is fine, one byte less is not. */
    assert_int_equal(lw_http_gunzip(gz, gz_len, strlen(text), &out, &out_len), LW_OK);
    lw_free(out);
    assert_int_equal(lw_http_gunzip(gz, gz_len, strlen(text) - 1, &out, &out_len), LW_ETOOBIG);
    assert_null(out);
    /* Concatenated members. */
    two = malloc(2 * gz_len);
    memcpy(two, gz, gz_len);
    memcpy(two + gz_len, gz, gz_len);
    assert_int_equal(lw_http_gunzip(two, 2 * gz_len, 1024, &out, &out_len), LW_OK);
    assert_int_equal(out_len, 2 * strlen(text));
    lw_free(out);
    /* Truncated and corrupt. */
    assert_int_equal(lw_http_gunzip(gz, gz_len - 3, 1024, &out, &out_len), LW_EINVAL);
    assert_int_equal(lw_http_gunzip("not gzip at all", 15, 1024, &out, &out_len), LW_EINVAL);
    free(two);
    free(gz);
    /* A bomb: 8 MiB of zeros against a 64 KiB limit. */
    big = calloc(1, 8u << 20);
    gz = gzip_buf(big, 8u << 20, &gz_len);
    assert_int_equal(lw_http_gunzip(gz, gz_len, 65536, &out, &out_len), LW_ETOOBIG);
    assert_int_equal(lw_http_gunzip(gz, gz_len, 16u << 20, &out, &out_len), LW_OK);
    assert_int_equal(out_len, 8u << 20);
    lw_free(out);
    free(gz);
    free(big);
}

/* ---- Prometheus builder ---------------------------------------------------------------------- */

static void test_prom(void **state)
{
    struct lw_prom p = {0};
    static const double bounds[3] = {0.1, 1, 10};
    static const uint64_t counts[4] = {1, 2, 0, 3};

    lw_prom_append(&p, "lw_lines_total", "Lines read.", "counter", "input=\"tail\"", 12);
    lw_prom_append(&p, "lw_lines_total", "Lines read.", "counter", "input=\"http\"", 3);
    lw_prom_append(&p, "lw_queue_depth", NULL, "gauge", NULL, 0.5);
    lw_prom_histogram(&p, "lw_latency_seconds", "Latency.", "stage=\"parse\"", bounds, counts, 3,
                      7.25);
    assert_int_equal(p.rc, LW_OK);
    assert_string_equal(p.buf, "# HELP lw_lines_total Lines read.\n"
                               "# TYPE lw_lines_total counter\n"
                               "lw_lines_total{input=\"tail\"} 12\n"
                               "lw_lines_total{input=\"http\"} 3\n"
                               "# TYPE lw_queue_depth gauge\n"
                               "lw_queue_depth 0.5\n"
                               "# HELP lw_latency_seconds Latency.\n"
                               "# TYPE lw_latency_seconds histogram\n"
                               "lw_latency_seconds_bucket{stage=\"parse\",le=\"0.1\"} 1\n"
                               "lw_latency_seconds_bucket{stage=\"parse\",le=\"1\"} 3\n"
                               "lw_latency_seconds_bucket{stage=\"parse\",le=\"10\"} 3\n"
                               "lw_latency_seconds_bucket{stage=\"parse\",le=\"+Inf\"} 6\n"
                               "lw_latency_seconds_sum{stage=\"parse\"} 7.25\n"
                               "lw_latency_seconds_count{stage=\"parse\"} 6\n");
    /* A bad name sticks as an error; later calls do nothing. */
    assert_int_equal(lw_prom_append(&p, "bad name", NULL, "gauge", NULL, 1), LW_EINVAL);
    assert_int_equal(lw_prom_append(&p, "ok", NULL, "gauge", NULL, 1), LW_EINVAL);
    lw_prom_fini(&p);
    assert_null(p.buf);
}

/* ---- Server ---------------------------------------------------------------------------------- */

static void test_ingest_ndjson(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct lw_http_stats st;
    struct resp r;
    char *body;
    size_t len;
    size_t i;
    char want[64];
    int64_t t0;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    start(&f, &conf);
    body = ndjson_body(1000, &len);
    request(f.port, "POST", "/api/v1/ingest", NDJSON, body, len, &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"accepted\":1000,\"rejected\":0}\n");
    assert_non_null(strstr(resp_header(&r, "Content-Type"), "application/json"));
    resp_fini(&r);
    assert_int_equal(lw_ts_from_civil(2024, 5, 1, 10, 0, 0, 250000000L, &t0), LW_OK);
    assert_int_equal(f.cap.n, 1000);
    for (i = 0; i < 1000; i++) {
        snprintf(want, sizeof(want), "line %zu \"quoted\" \xc3\xa9", i);
        assert_string_equal(f.cap.lines[i].data, want);
        assert_int_equal(f.cap.lines[i].flags, 0);
        assert_true(f.cap.lines[i].ts_ns == t0 + (int64_t)(i % 60) * 1000000000LL);
        assert_string_equal(f.cap.lines[i].input, "http");
        assert_true(strncmp(f.cap.lines[i].name, "127.0.0.1:", 10) == 0);
        assert_string_equal(f.cap.lines[i].host, "web1");
    }
    lw_http_server_stats(f.srv, &st);
    assert_int_equal(st.ingest_lines, 1000);
    assert_int_equal(st.ingest_bytes, len);
    assert_int_equal(st.responses_2xx, 1);
    free(body);
    stop(&f);
    capture_fini(&f.cap);
}

/*
 * Issue 9, case 7: lines that name different hosts, interleaved line by line, travel as one group
 * per part of 1024 lines with their hosts per line, not as one group per line.
 */
static void test_ingest_mixed_hosts(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;
    char *body;
    size_t off = 0;
    size_t i;
    char want[32];

    (void)state;
    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    start(&f, &conf);
    body = malloc(2500 * 64);
    for (i = 0; i < 2500; i++) {
        if (i % 10 == 9) {
            off += (size_t)sprintf(body + off, "{\"message\":\"m %zu\"}\n", i);
        }
        else {
            off += (size_t)sprintf(body + off, "{\"host\":\"h%zu\",\"message\":\"m %zu\"}\n",
                                   i % 7, i);
        }
    }
    request(f.port, "POST", "/api/v1/ingest", NDJSON, body, off, &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"accepted\":2500,\"rejected\":0}\n");
    resp_fini(&r);
    assert_int_equal(f.cap.n, 2500);
    assert_int_equal(f.cap.n_groups, 3);
    for (i = 0; i < 2500; i++) {
        if (i % 10 == 9) {
            assert_null(f.cap.lines[i].host);
        }
        else {
            snprintf(want, sizeof(want), "h%zu", i % 7);
            assert_string_equal(f.cap.lines[i].host, want);
        }
    }
    free(body);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_ingest_text_groups(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;
    char *body;
    size_t off = 0;
    size_t i;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    start(&f, &conf);
    body = malloc(2500 * 16);
    for (i = 0; i < 2500; i++) {
        off += (size_t)sprintf(body + off, "text %zu\r\n", i);
    }
    request(f.port, "POST", "/api/v1/ingest", "Content-Type: text/plain; charset=utf-8\r\n", body,
            off, &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"accepted\":2500,\"rejected\":0}\n");
    resp_fini(&r);
    assert_int_equal(f.cap.n, 2500);
    assert_int_equal(f.cap.n_groups, 3);
    assert_int_equal(f.cap.max_group, 1024);
    assert_string_equal(f.cap.lines[2499].data, "text 2499");
    assert_true(f.cap.lines[0].ts_ns == LW_TS_UNKNOWN);
    assert_null(f.cap.lines[0].host);
    /* Text bodies join continuation lines by default (a route added with no setting). */
    off = (size_t)sprintf(body, "boom\n  at x\nnext\n");
    request(f.port, "POST", "/api/v1/ingest", "Content-Type: text/plain\r\n", body, off, &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"accepted\":2,\"rejected\":0}\n");
    resp_fini(&r);
    assert_int_equal(f.cap.n, 2502);
    assert_string_equal(f.cap.lines[2500].data, "boom\n  at x");
    assert_int_equal(f.cap.lines[2500].flags, LW_LINE_MULTI);
    free(body);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_ingest_gzip(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;
    char *body;
    char *gz;
    size_t len;
    size_t gz_len;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    conf.max_body_bytes = 256 * 1024;
    start(&f, &conf);
    body = ndjson_body(300, &len);
    gz = gzip_buf(body, len, &gz_len);
    request(f.port, "POST", "/api/v1/ingest", NDJSON "Content-Encoding: gzip\r\n", gz, gz_len,
            &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"accepted\":300,\"rejected\":0}\n");
    resp_fini(&r);
    assert_int_equal(f.cap.n, 300);
    free(gz);
    free(body);
    /* A bomb: 4 MiB of one byte compresses to a few KiB, over the 256 KiB limit once inflated. */
    body = malloc(4u << 20);
    memset(body, 'a', 4u << 20);
    gz = gzip_buf(body, 4u << 20, &gz_len);
    assert_true(gz_len < conf.max_body_bytes);
    request(f.port, "POST", "/api/v1/ingest", "Content-Encoding: gzip\r\n", gz, gz_len, &r);
    assert_int_equal(r.status, 413);
    resp_fini(&r);
    /* Corrupt gzip is a bad request. */
    request(f.port, "POST", "/api/v1/ingest", "Content-Encoding: gzip\r\n", "garbage", 7, &r);
    assert_int_equal(r.status, 400);
    resp_fini(&r);
    assert_int_equal(f.cap.n, 300);
    free(gz);
    free(body);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_ingest_malformed(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct lw_http_stats st;
    struct resp r;
    const char *body = "{\"message\":\"one\"}\n"
                       "{\"message\":\"broken\"\n"
                       "{\"no_message\":1}\n"
                       "{\"message\":\"two\"}\n"
                       "\"just a string\"\n";

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    start(&f, &conf);
    request(f.port, "POST", "/api/v1/ingest", "Content-Type: application/json\r\n", body,
            strlen(body), &r);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"accepted\":2,\"rejected\":3}\n");
    resp_fini(&r);
    assert_int_equal(f.cap.n, 2);
    assert_string_equal(f.cap.lines[0].data, "one");
    assert_string_equal(f.cap.lines[1].data, "two");
    lw_http_server_stats(f.srv, &st);
    assert_int_equal(st.ingest_rejected_lines, 3);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_too_big(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;
    char chunk[1100];
    int fd;
    int i;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    conf.max_body_bytes = 4096;
    start(&f, &conf);
    /* By Content-Length: answered before the body is sent. */
    fd = connect_port(f.port);
    send_str(fd, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
    assert_int_equal(read_response(fd, &r), 0);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"error\""));
    resp_fini(&r);
    close(fd);
    /* Chunked: detected while streaming. */
    fd = connect_port(f.port);
    send_str(fd, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    memset(chunk, 'x', sizeof(chunk));
    memcpy(chunk, "400\r\n", 5);
    chunk[5 + 1024 - 1] = '\n';
    memcpy(chunk + 5 + 1024, "\r\n", 2);
    for (i = 0; i < 8; i++) {
        send_all(fd, chunk, 5 + 1024 + 2);
    }
    send_str(fd, "0\r\n\r\n");
    assert_int_equal(read_response(fd, &r), 0);
    assert_int_equal(r.status, 413);
    resp_fini(&r);
    close(fd);
    assert_int_equal(f.cap.n, 0);
    /* A chunked body within the limit is fine. */
    fd = connect_port(f.port);
    send_str(fd, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    send_str(fd, "6\r\nab\ncd\n\r\n3\r\nef\n\r\n0\r\n\r\n");
    assert_int_equal(read_response(fd, &r), 0);
    assert_int_equal(r.status, 202);
    assert_string_equal(r.body, "{\"accepted\":3,\"rejected\":0}\n");
    resp_fini(&r);
    close(fd);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_token(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    conf.token = "s3cret-token";
    start(&f, &conf);
    request(f.port, "GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    assert_non_null(resp_header(&r, "WWW-Authenticate"));
    resp_fini(&r);
    request(f.port, "GET", "/metrics", "Authorization: Bearer s3cret-tokeN\r\n", NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);
    request(f.port, "GET", "/metrics", "Authorization: Bearer s3cret-token2\r\n", NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);
    request(f.port, "GET", "/metrics", "Authorization: Bearer s3cret\r\n", NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);
    /* Unknown paths do not leak their existence to unauthenticated clients. */
    request(f.port, "GET", "/nope", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);
    request(f.port, "POST", "/api/v1/ingest", NULL, "x\n", 2, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);
    assert_int_equal(f.cap.n, 0);
    request(f.port, "GET", "/metrics", "Authorization: Bearer s3cret-token\r\n", NULL, 0, &r);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    request(f.port, "POST", "/api/v1/ingest", "Authorization: Bearer s3cret-token\r\n", "x\n", 2,
            &r);
    assert_int_equal(r.status, 202);
    resp_fini(&r);
    assert_int_equal(f.cap.n, 1);
    stop(&f);
    capture_fini(&f.cap);
}

/* A handler that echoes what it saw: method, path, argument a, body. */
static int echo_handler(void *opaque, const struct lw_http_req *req, struct lw_http_resp *resp)
{
    const char *a = lw_http_req_arg(req, "a");
    char *out = lw_malloc(512);

    (void)opaque;
    if (out == NULL) {
        return LW_ENOMEM;
    }
    resp->body_len = (size_t)snprintf(out, 512, "%s %s a=%s n=%zu body=%s access=%d", req->method,
                                      req->path, a != NULL ? a : "-", req->n_args,
                                      req->body != NULL ? req->body : "-", (int)req->access);
    resp->body = out;
    resp->content_type = "text/plain";
    resp->status = strcmp(req->path, "/x/teapot") == 0 ? 418 : 200;
    resp->hdr_names[0] = "Cache-Control";
    snprintf(resp->hdr_values[0], sizeof(resp->hdr_values[0]), "no-store");
    resp->n_hdrs = 1;
    return LW_OK;
}

static int static_handler(void *opaque, const struct lw_http_req *req, struct lw_http_resp *resp)
{
    (void)opaque;
    (void)req;
    resp->body = (char *)(uintptr_t) "<html>hi</html>";
    resp->body_len = 15;
    resp->body_static = 1;
    resp->content_type = "text/html";
    return LW_OK;
}

static int fail_handler(void *opaque, const struct lw_http_req *req, struct lw_http_resp *resp)
{
    (void)opaque;
    (void)req;
    resp->body = lw_malloc(8); /* freed by the server on failure too */
    return LW_EIO;
}

static void add_handler(struct lw_http_server *srv, const char *method, const char *path,
                        int prefix, enum lw_http_access access, lw_http_handler_cb h)
{
    struct lw_http_route r;

    memset(&r, 0, sizeof(r));
    r.method = method;
    r.path = path;
    r.prefix = prefix;
    r.kind = LW_HTTP_ROUTE_HANDLER;
    r.access = access;
    r.handler = h;
    assert_int_equal(lw_http_route_add(srv, &r), LW_OK);
}

static void test_handler_routes(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;
    char big[2048];

    (void)state;
    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    conf.max_api_body_bytes = 1024;
    start(&f, &conf);
    add_handler(f.srv, "*", "/x/", 1, LW_HTTP_ACCESS_READ, echo_handler);
    add_handler(f.srv, "GET", "/x/exact", 0, LW_HTTP_ACCESS_READ, static_handler);
    add_handler(f.srv, "GET", "/fail", 0, LW_HTTP_ACCESS_READ, fail_handler);
    /* Prefix match, decoded arguments, extra headers, the handler's status. */
    request(f.port, "GET", "/x/a/b?a=1%202&b&c=3", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "GET /x/a/b a=1 2 n=3 body=- access=2");
    assert_string_equal(resp_header(&r, "Cache-Control"), "no-store");
    assert_string_equal(resp_header(&r, "Content-Type"), "text/plain");
    resp_fini(&r);
    request(f.port, "GET", "/x/teapot", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 418);
    resp_fini(&r);
    /* An exact route wins over a prefix route; static bodies are not freed. */
    request(f.port, "GET", "/x/exact", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "<html>hi</html>");
    resp_fini(&r);
    request(f.port, "POST", "/x/exact", NULL, "{}", 2, &r);
    assert_int_equal(r.status, 405);
    resp_fini(&r);
    /* Bodies reach the handler NUL-terminated; too large ones get 413 before it runs. */
    request(f.port, "POST", "/x/rule", "Content-Type: application/json\r\n", "{\"k\":1}", 7,
            &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "POST /x/rule a=- n=0 body={\"k\":1} access=2");
    resp_fini(&r);
    memset(big, 'x', sizeof(big));
    request(f.port, "POST", "/x/rule", NULL, big, sizeof(big), &r);
    assert_int_equal(r.status, 413);
    resp_fini(&r);
    request(f.port, "GET", "/fail", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 500);
    resp_fini(&r);
    request(f.port, "GET", "/y", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    resp_fini(&r);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_read_token(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;
    const char *rw = "Authorization: Bearer write-token-1\r\n";
    const char *ro = "Authorization: Bearer read-token-1\r\n";

    (void)state;
    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    conf.token = "write-token-1";
    conf.read_token = "read-token-1";
    start(&f, &conf);
    add_handler(f.srv, "*", "/api/v1/x", 0, LW_HTTP_ACCESS_READ, echo_handler);
    add_handler(f.srv, "GET", "/", 1, LW_HTTP_ACCESS_PUBLIC, static_handler);
    /* Public assets need no token; data does. */
    request(f.port, "GET", "/index.html", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    request(f.port, "GET", "/api/v1/x", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);
    request(f.port, "GET", "/api/v1/x", ro, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "access=1"));
    resp_fini(&r);
    request(f.port, "GET", "/metrics", ro, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    /* The read token may not write: no ingest, no POST to the API. */
    request(f.port, "POST", "/api/v1/x", ro, "{}", 2, &r);
    assert_int_equal(r.status, 403);
    resp_fini(&r);
    request(f.port, "POST", "/api/v1/ingest", ro, "x\n", 2, &r);
    assert_int_equal(r.status, 403);
    resp_fini(&r);
    assert_int_equal(f.cap.n, 0);
    request(f.port, "POST", "/api/v1/x", rw, "{}", 2, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "access=2"));
    resp_fini(&r);
    request(f.port, "POST", "/api/v1/ingest", rw, "x\n", 2, &r);
    assert_int_equal(r.status, 202);
    resp_fini(&r);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_start_refusals(void **state)
{
    struct lw_http_conf conf;
    struct lw_http_server *srv;
    char err[256];

    memset(&conf, 0, sizeof(conf));
    conf.addr = "0.0.0.0:0";
    srv = lw_http_server_start(&conf, err, sizeof(err));
    assert_null(srv);
    assert_non_null(strstr(err, "token"));
    conf.addr = "[::]:0";
    assert_null(lw_http_server_start(&conf, err, sizeof(err)));
    assert_non_null(strstr(err, "token"));
    conf.addr = "127.0.0.1";
    assert_null(lw_http_server_start(&conf, err, sizeof(err)));
    assert_non_null(strstr(err, "address"));
    conf.addr = "300.1.1.1:80";
    assert_null(lw_http_server_start(&conf, err, sizeof(err)));
    conf.addr = "127.0.0.1:99999";
    assert_null(lw_http_server_start(&conf, err, sizeof(err)));
    /* With a token, a wildcard address is allowed. */
    conf.addr = "0.0.0.0:0";
    conf.token = "t";
    srv = lw_http_server_start(&conf, err, sizeof(err));
    assert_non_null(srv);
    assert_true(lw_http_server_port(srv) > 0);
    lw_http_server_stop(srv);
    lw_http_server_stop(NULL);
}

static void test_backpressure(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct lw_http_stats st;
    struct resp r;
    char *body;
    size_t off = 0;
    size_t i;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    conf.backpressure_ms = 50;
    start(&f, &conf);
    /* The pipeline is full from the start: nothing is accepted. */
    f.cap.refuse_after = 0;
    request(f.port, "POST", "/api/v1/ingest", NULL, "a\nb\n", 4, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(resp_header(&r, "Retry-After"), "1");
    assert_non_null(strstr(r.body, "\"accepted\":0,"));
    resp_fini(&r);
    assert_true(f.cap.n_calls > 1);
    assert_int_equal(f.cap.n, 0);
    /* Full after the first group: the answer says how many lines were taken. */
    f.cap.refuse_after = 1;
    body = malloc(1500 * 16);
    for (i = 0; i < 1500; i++) {
        off += (size_t)sprintf(body + off, "l %zu\n", i);
    }
    request(f.port, "POST", "/api/v1/ingest", NULL, body, off, &r);
    assert_int_equal(r.status, 503);
    assert_string_equal(resp_header(&r, "Retry-After"), "1");
    assert_non_null(strstr(r.body, "\"accepted\":1024,"));
    resp_fini(&r);
    assert_int_equal(f.cap.n, 1024);
    lw_http_server_stats(f.srv, &st);
    assert_int_equal(st.responses_503, 2);
    assert_int_equal(st.ingest_lines, 1024);
    free(body);
    stop(&f);
    capture_fini(&f.cap);
}

static int n_metrics_calls;
static int n_status_calls;

static int metrics_cb(void *opaque, char **text, size_t *len)
{
    const char *t = "# TYPE lw_test_total counter\nlw_test_total 7\n";

    assert_ptr_equal(opaque, &n_metrics_calls);
    n_metrics_calls++;
    *text = lw_strdup(t);
    *len = strlen(t);
    return *text != NULL ? LW_OK : LW_ENOMEM;
}

static int status_cb(void *opaque, char **json, size_t *len)
{
    const char *t = "{\"ok\":true}";

    n_status_calls++;
    *json = lw_strdup(t);
    *len = strlen(t);
    return *json != NULL ? LW_OK : LW_ENOMEM;
}

static void test_metrics_status(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    conf.metrics = metrics_cb;
    conf.status = status_cb;
    conf.opaque = &n_metrics_calls;
    start(&f, &conf);
    request(f.port, "GET", "/metrics", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(n_metrics_calls, 1);
    assert_true(strncmp(resp_header(&r, "Content-Type"), "text/plain; version=0.0.4", 25) == 0);
    assert_true(strncmp(r.body, "# TYPE lw_test_total counter\nlw_test_total 7\n", 45) == 0);
    assert_non_null(strstr(r.body, "\nlw_http_requests_total "));
    resp_fini(&r);
    request(f.port, "GET", "/api/v1/status", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(n_status_calls, 1);
    assert_string_equal(r.body, "{\"ok\":true}");
    assert_string_equal(resp_header(&r, "Content-Type"), "application/json");
    resp_fini(&r);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_errors(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    start(&f, &conf);
    request(f.port, "GET", "/nope", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "{\"error\":\"not found\"}\n");
    resp_fini(&r);
    request(f.port, "GET", "/api/v1/ingest", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    assert_non_null(resp_header(&r, "Allow"));
    resp_fini(&r);
    request(f.port, "POST", "/metrics", NULL, "x", 1, &r);
    assert_int_equal(r.status, 405);
    resp_fini(&r);
    request(f.port, "DELETE", "/api/v1/status", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 405);
    resp_fini(&r);
    request(f.port, "POST", "/api/v1/ingest", "Content-Type: image/png\r\n", "x", 1, &r);
    assert_int_equal(r.status, 415);
    resp_fini(&r);
    request(f.port, "POST", "/api/v1/ingest", "Content-Encoding: br\r\n", "x", 1, &r);
    assert_int_equal(r.status, 415);
    resp_fini(&r);
    request(f.port, "POST", "/api/v1/ingest", "Content-Encoding: gzip\r\n", "\x1f\x8b\x08", 3,
            &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "gzip"));
    resp_fini(&r);
    /* Without callbacks, status serves the server's own counters. */
    request(f.port, "GET", "/api/v1/status", NULL, NULL, 0, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"requests\":"));
    resp_fini(&r);
    assert_int_equal(f.cap.n, 0);
    stop(&f);
    capture_fini(&f.cap);
}

static void test_keepalive(void **state)
{
    struct fixture f;
    struct lw_http_conf conf;
    struct resp r;
    int fd;

    capture_init(&f.cap);
    memset(&conf, 0, sizeof(conf));
    start(&f, &conf);
    fd = connect_port(f.port);
    send_request(fd, "GET", "/api/v1/status", NULL, NULL, 0);
    assert_int_equal(read_response(fd, &r), 0);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    send_request(fd, "POST", "/api/v1/ingest", NULL, "one\n", 4);
    assert_int_equal(read_response(fd, &r), 0);
    assert_int_equal(r.status, 202);
    resp_fini(&r);
    send_request(fd, "POST", "/api/v1/ingest", NULL, "two\n", 4);
    assert_int_equal(read_response(fd, &r), 0);
    assert_int_equal(r.status, 202);
    resp_fini(&r);
    send_request(fd, "GET", "/nope", NULL, NULL, 0);
    assert_int_equal(read_response(fd, &r), 0);
    assert_int_equal(r.status, 404);
    resp_fini(&r);
    send_request(fd, "GET", "/metrics", NULL, NULL, 0);
    assert_int_equal(read_response(fd, &r), 0);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    close(fd);
    assert_int_equal(f.cap.n, 2);
    stop(&f);
    capture_fini(&f.cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_ndjson_fields),
        cmocka_unit_test(test_body_ndjson_truncate),
        cmocka_unit_test(test_body_text),
        cmocka_unit_test(test_body_text_multiline),
        cmocka_unit_test(test_body_parts),
        cmocka_unit_test(test_gunzip),
        cmocka_unit_test(test_prom),
        cmocka_unit_test(test_ingest_ndjson),
        cmocka_unit_test(test_ingest_mixed_hosts),
        cmocka_unit_test(test_ingest_text_groups),
        cmocka_unit_test(test_ingest_gzip),
        cmocka_unit_test(test_ingest_malformed),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_handler_routes),
        cmocka_unit_test(test_read_token),
        cmocka_unit_test(test_start_refusals),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_metrics_status),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_keepalive),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
