/*
 * The web dashboard's files, served from the table that cmake/LwWeb.cmake compiles in
 * (lw_web_assets.c, generated from web/ and the charting library's dist files). Two handler
 * routes: GET / (index.html) and GET /assets/ (every other file). Both are public: the files hold
 * no data, and the page must load before it can ask for a token; every API call it makes then
 * carries the token.
 *
 * Caching: the file names carry no content hash, so a cached copy must never be used without
 * asking (an upgraded daemon would otherwise pair a new index.html with an old app.js):
 * Cache-Control: no-cache plus an ETag, so a reload costs a 304 per file on loopback.
 */
#include <stdio.h>
#include <string.h>

#include "lw/lw_api_web.h"
#include "lw/lw_err.h"
#include "lw/lw_http.h"

/*
 * The page loads nothing from elsewhere (no CDN, no external font), so the browser may refuse
 * anything that is not ours. uPlot sets element styles from script, hence 'unsafe-inline' for
 * styles only; scripts stay 'self'.
 */
#define CSP "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " \
            "frame-ancestors 'none'"

static const char not_found[] = "not found\n";
static const char not_built[] =
    "this logwarden was built without the dashboard (LW_DASHBOARD=OFF); the API is at /api/v1/\n";

const struct lw_web_asset *lw_api_web_find(const char *path)
{
    size_t i;

    for (i = 0; i < lw_n_web_assets; i++) {
        if (strcmp(lw_web_assets[i].path, path) == 0) {
            return &lw_web_assets[i];
        }
    }
    return NULL;
}

/*
 * Whether If-None-Match @inm names @etag: "*", or a comma-separated list of entity tags, weak
 * ones (W/"...") included, since If-None-Match uses the weak comparison (RFC 9110 13.1.2).
 */
int lw__api_web_etag_matches(const char *inm, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = inm;

    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (*p == '\0') {
            return 0;
        }
        if (*p == '*') {
            return 1;
        }
        if (p[0] == 'W' && p[1] == '/') {
            p += 2;
        }
        if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' ||
                                            p[elen] == ' ' || p[elen] == '\t')) {
            return 1;
        }
        while (*p != '\0' && *p != ',') {
            p++;
        }
    }
}

static int web_handler(void *opaque, const struct lw_http_req *req, struct lw_http_resp *resp)
{
    const struct lw_web_asset *a;
    const char *inm;

    (void)opaque;
    lw_http_resp_add_header(resp, "X-Content-Type-Options", "nosniff");
    a = lw_api_web_find(req->path);
    if (a == NULL) {
        resp->status = 404;
        resp->content_type = "text/plain; charset=utf-8";
        resp->body = (char *)(lw_n_web_assets == 0 ? not_built : not_found);
        resp->body_len = strlen(resp->body);
        resp->body_static = 1;
        return LW_OK;
    }
    lw_http_resp_add_header(resp, "Cache-Control", "no-cache");
    lw_http_resp_add_header(resp, "ETag", a->etag);
    inm = lw_http_req_header(req, "If-None-Match");
    if (inm != NULL && lw__api_web_etag_matches(inm, a->etag)) {
        resp->status = 304;
        resp->content_type = a->content_type;
        return LW_OK;
    }
    if (strcmp(a->content_type, "text/html; charset=utf-8") == 0) {
        lw_http_resp_add_header(resp, "Content-Security-Policy", CSP);
    }
    resp->content_type = a->content_type;
    /* The table is const and lives as long as the program; the server only reads it. */
    resp->body = (char *)a->data;
    resp->body_len = a->len;
    resp->body_static = 1;
    return LW_OK;
}

int lw_api_web_register(struct lw_http_server *srv)
{
    struct lw_http_route r;
    int rc;

    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.kind = LW_HTTP_ROUTE_HANDLER;
    r.access = LW_HTTP_ACCESS_PUBLIC;
    r.handler = web_handler;
    r.path = "/";
    rc = lw_http_route_add(srv, &r);
    if (rc < 0) {
        return rc;
    }
    r.path = "/assets/";
    r.prefix = 1;
    return lw_http_route_add(srv, &r);
}
