/*
 * Unit tests for the dashboard's files (src/api/api_web.c): the compiled-in table, and GET / and
 * /assets/ on a real server on 127.0.0.1 port 0 (libcurl as the client): Content-Type, ETag,
 * Cache-Control, 304 on If-None-Match, 404 for unknown files, HEAD, and that the files are public
 * while the API behind them keeps asking for the token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "lw/lw_api_web.h"
#include "lw/lw_err.h"
#include "lw/lw_http.h"

#define TOKEN "dashboard-test-token"

struct resp {
    long status;
    char *body;
    size_t len;
    char headers[4096];
    size_t hlen;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    char *nb = realloc(r->body, r->len + size * n + 1);

    assert_non_null(nb);
    r->body = nb;
    memcpy(r->body + r->len, p, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = size * n;

    if (r->hlen + k < sizeof(r->headers)) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = '\0';
    }
    return k;
}

/* The value of response header @name (copied into @out), or NULL. */
static const char *header(const struct resp *r, const char *name, char *out, size_t cap)
{
    const char *p = r->headers;
    size_t nl = strlen(name);

    while (*p != '\0') {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol != NULL ? (size_t)(eol - p) : strlen(p);

        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            size_t vl;

            while (*v == ' ') {
                v++;
            }
            vl = ll - (size_t)(v - p);
            if (vl >= cap) {
                vl = cap - 1;
            }
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        if (eol == NULL) {
            break;
        }
        p = eol + 2;
    }
    return NULL;
}

static void request(unsigned int port, const char *method, const char *path, const char *hdr,
                    struct resp *r)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL;
    char url[256];

    assert_non_null(c);
    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    if (hdr != NULL) {
        hl = curl_slist_append(hl, hdr);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    }
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

static void resp_fini(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

static struct lw_http_server *start(const char *token, unsigned int *port)
{
    struct lw_http_conf conf;
    struct lw_http_server *srv;
    char err[256];

    memset(&conf, 0, sizeof(conf));
    conf.addr = "127.0.0.1:0";
    conf.token = token;
    srv = lw_http_server_start(&conf, err, sizeof(err));
    if (srv == NULL) {
        fail_msg("start: %s", err);
    }
    assert_int_equal(lw_api_web_register(srv), LW_OK);
    *port = lw_http_server_port(srv);
    return srv;
}

static void test_table(void **state)
{
    static const char *const want[] = {"/", "/assets/app.js", "/assets/app.css",
                                       "/assets/uPlot.iife.min.js", "/assets/uPlot.min.css",
                                       "/assets/uPlot.LICENSE.txt"};
    const struct lw_web_asset *a;
    size_t i;

    (void)state;
    if (lw_n_web_assets == 0) {
        skip(); /* built with LW_DASHBOARD=OFF */
    }
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        a = lw_api_web_find(want[i]);
        if (a == NULL) {
            fail_msg("%s is not compiled in", want[i]);
        }
        assert_true(a->len > 0);
        assert_true(strlen(a->etag) > 2);
        assert_int_equal(a->etag[0], '"');
        assert_int_equal(a->etag[strlen(a->etag) - 1], '"');
    }
    a = lw_api_web_find("/");
    assert_string_equal(a->content_type, "text/html; charset=utf-8");
    assert_non_null(strstr((const char *)a->data, "/assets/app.js"));
    assert_string_equal(lw_api_web_find("/assets/app.js")->content_type,
                        "text/javascript; charset=utf-8");
    assert_string_equal(lw_api_web_find("/assets/app.css")->content_type,
                        "text/css; charset=utf-8");
    /* Different content, different ETag. */
    assert_string_not_equal(lw_api_web_find("/")->etag, lw_api_web_find("/assets/app.js")->etag);
    assert_null(lw_api_web_find("/index.html"));
    assert_null(lw_api_web_find("/assets/"));
    assert_null(lw_api_web_find("/assets/../index.html"));
}

static void test_serve(void **state)
{
    struct lw_http_server *srv;
    const struct lw_web_asset *idx;
    const struct lw_web_asset *js;
    unsigned int port;
    struct resp r;
    char v[256];
    char inm[320];

    (void)state;
    if (lw_n_web_assets == 0) {
        skip();
    }
    idx = lw_api_web_find("/");
    js = lw_api_web_find("/assets/app.js");
    /* With a token: the files are public, the data is not. */
    srv = start(TOKEN, &port);

    request(port, "GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, idx->len);
    assert_memory_equal(r.body, idx->data, idx->len);
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)), "text/html; charset=utf-8");
    assert_string_equal(header(&r, "ETag", v, sizeof(v)), idx->etag);
    assert_string_equal(header(&r, "Cache-Control", v, sizeof(v)), "no-cache");
    assert_non_null(header(&r, "Content-Security-Policy", v, sizeof(v)));
    assert_non_null(strstr(v, "default-src 'self'"));
    assert_string_equal(header(&r, "X-Content-Type-Options", v, sizeof(v)), "nosniff");
    resp_fini(&r);

    request(port, "GET", "/assets/app.js", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, js->len);
    assert_memory_equal(r.body, js->data, js->len);
    assert_string_equal(header(&r, "Content-Type", v, sizeof(v)),
                        "text/javascript; charset=utf-8");
    resp_fini(&r);

    /* Revalidation: the same ETag (strong, weak, in a list, or *) is 304 with no body. */
    snprintf(inm, sizeof(inm), "If-None-Match: %s", js->etag);
    request(port, "GET", "/assets/app.js", inm, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(r.len, 0);
    assert_string_equal(header(&r, "ETag", v, sizeof(v)), js->etag);
    resp_fini(&r);
    snprintf(inm, sizeof(inm), "If-None-Match: \"old\", W/%s", js->etag);
    request(port, "GET", "/assets/app.js", inm, &r);
    assert_int_equal(r.status, 304);
    resp_fini(&r);
    request(port, "GET", "/assets/app.js", "If-None-Match: *", &r);
    assert_int_equal(r.status, 304);
    resp_fini(&r);
    /* Another file's ETag, or a prefix of ours, is no match. */
    snprintf(inm, sizeof(inm), "If-None-Match: %s", idx->etag);
    request(port, "GET", "/assets/app.js", inm, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, js->len);
    resp_fini(&r);
    snprintf(inm, sizeof(inm), "If-None-Match: %.*s", (int)strlen(js->etag) - 2, js->etag);
    request(port, "GET", "/assets/app.js", inm, &r);
    assert_int_equal(r.status, 200);
    resp_fini(&r);

    /* HEAD: headers, no body. */
    request(port, "HEAD", "/assets/uPlot.iife.min.js", NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_non_null(header(&r, "ETag", v, sizeof(v)));
    resp_fini(&r);

    /* Unknown files are 404, with or without a token; the API still needs the token. */
    request(port, "GET", "/assets/nope.js", NULL, &r);
    assert_int_equal(r.status, 404);
    resp_fini(&r);
    request(port, "GET", "/assets/", NULL, &r);
    assert_int_equal(r.status, 404);
    resp_fini(&r);
    request(port, "GET", "/assets/../index.html", NULL, &r);
    assert_true(r.status == 404 || r.status == 401);
    resp_fini(&r);
    request(port, "GET", "/api/v1/status", NULL, &r);
    assert_int_equal(r.status, 401);
    resp_fini(&r);
    request(port, "GET", "/api/v1/status", "Authorization: Bearer " TOKEN, &r);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    /* The files are only read. */
    request(port, "POST", "/", NULL, &r);
    assert_int_equal(r.status, 405);
    resp_fini(&r);
    lw_http_server_stop(srv);

    /* Without tokens (loopback): other methods are refused. */
    srv = start(NULL, &port);
    request(port, "DELETE", "/assets/app.js", NULL, &r);
    assert_int_equal(r.status, 405);
    resp_fini(&r);
    request(port, "GET", "/", NULL, &r);
    assert_int_equal(r.status, 200);
    resp_fini(&r);
    lw_http_server_stop(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_serve),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
