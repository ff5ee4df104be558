/*
 * The query API (src/api/api_query.c): JSON routes under /api/v1/ for the dashboard and for
 * scripts (docs/api.md, docs/openapi.json), served by the daemon's HTTP server (lw_http.h).
 *
 * The API reads the store through its own read-only connections (a small pool, never the
 * writer's), so a slow query never holds up ingest. Feedback rules are written through a short
 * read-write connection of their own; after each change the API calls conf.rules_changed so that
 * the daemon reloads the alert manager's rules.
 *
 * Also here: the daemon's /api/v1/status JSON (src/api/api_status.c).
 */
#ifndef LW_API_H
#define LW_API_H

#include <stddef.h>
#include <stdint.h>

#include "lw/lw_http.h"
#include "lw/lw_store.h"

struct lw_api;

struct lw_api_conf {
    const char *data_dir;             /* the store's directory (copied) */
    struct lw_store_conf store;       /* how to open it (read_only is set by the API) */
    unsigned int max_conns;           /* read-only connections at most; 0: 4 */
    /*
     * Called (from a server thread) after a rule was added or deleted through the API; NULL:
     * nobody is told. Must be thread-safe.
     */
    void (*rules_changed)(void *opaque);
    void *opaque;
};

/*
 * Creates the API. Opens no connection yet (the first request does: the store may not exist
 * when the daemon starts). Returns NULL with a message in @err when out of memory.
 */
struct lw_api *lw_api_create(const struct lw_api_conf *conf, char *err, size_t err_len);
/*
 * Registers the API's routes on @srv: a HANDLER route for the prefix /api/v1/ (read access for
 * GET, the read-write token for POST and DELETE; the exact routes /api/v1/status and
 * /api/v1/ingest keep theirs) and the exact route /api/v1/openapi.json. LW_OK or an LW_E* code.
 * @api must outlive the server's use of the routes (stop the server before lw_api_destroy()).
 */
int lw_api_register(struct lw_api *api, struct lw_http_server *srv);
/* Answers one request (what the route calls); exposed for tests. Thread-safe. */
int lw_api_handle(void *api, const struct lw_http_req *req, struct lw_http_resp *resp);
/* Closes the connections and frees @api. NULL does nothing. */
void lw_api_destroy(struct lw_api *api);

/* The OpenAPI 3.0 document compiled into the binary (docs/openapi.json), and its length. */
extern const char lw_api_openapi_json[];
extern const size_t lw_api_openapi_json_len;

/* ---- /api/v1/status ---- */

struct lw_engine;

/* What the status is read from; borrowed while the route is in place. */
struct lw_api_status_src {
    struct lw_engine *engine;
    const char *data_dir_json;        /* the data directory as a JSON string body (escaped) */
    int64_t started_ns;               /* wall clock of the daemon's start */
};

/* Renders the daemon's status JSON from @src (a struct lw_api_status_src); lw_http_render_cb. */
int lw_api_status_render(void *src, char **json, size_t *len);

#endif
