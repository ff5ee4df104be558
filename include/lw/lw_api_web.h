/*
 * The web dashboard, served by the daemon's HTTP server (src/api/api_web.c). Its files (web/ and
 * the charting library from npm) are compiled in at build time by cmake/LwWeb.cmake, so the
 * daemon needs nothing on disk and nothing outside the machine to show it. GET / is index.html;
 * everything else is under /assets/. The files hold no data, so they are public even when tokens
 * are configured; the page asks for a token when the API answers 401.
 */
#ifndef LW_API_WEB_H
#define LW_API_WEB_H

#include <stddef.h>

struct lw_http_server;

/* One compiled-in file (the generated lw_web_assets.c holds the table). */
struct lw_web_asset {
    const char *path;                /* URL path: "/" or "/assets/<name>" */
    const char *content_type;        /* "text/javascript; charset=utf-8", ... */
    const char *etag;                /* quoted hash of the content: "\"0123abcd...\"" */
    const unsigned char *data;
    size_t len;                      /* bytes of @data */
};

extern const struct lw_web_asset lw_web_assets[];
extern const size_t lw_n_web_assets; /* 0 in a build with LW_DASHBOARD=OFF */

/*
 * Registers GET / and GET /assets/ (prefix) on @srv, both LW_HTTP_ACCESS_PUBLIC. Answers carry
 * the file's Content-Type, Cache-Control: no-cache, its ETag, and 304 without a body when
 * If-None-Match names that ETag; an unknown file is 404. Returns LW_OK, or what
 * lw_http_route_add() returned. Call once, after lw_http_server_start().
 */
int lw_api_web_register(struct lw_http_server *srv);

/* The compiled-in file at URL @path, or NULL. */
const struct lw_web_asset *lw_api_web_find(const char *path);

/*
 * Whether an If-None-Match header value @inm names entity tag @etag (quoted): "*", or a
 * comma-separated list of tags, weak ones (W/"...") included. Internal; exported for the fuzzer.
 */
int lw__api_web_etag_matches(const char *inm, const char *etag);

#endif
