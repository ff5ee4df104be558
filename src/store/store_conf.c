/*
 * The store's configuration section, store: (docs/config.md): which backend, how long counts are
 * kept, example lines per template, and the ClickHouse backend's store.clickhouse keys. Values
 * are checked here, where the backends' rules live, so that a bad one is reported with its file,
 * line and key before anything is opened.
 */
#include <string.h>

#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_store.h"

#define NS 1000000000LL

static const char *const store_keys[] = {
    "retention", "examples_per_template", "backend", "clickhouse", NULL,
};

static const char *const clickhouse_keys[] = {
    "url", "database", "user", "password", "password_file", "writer_id", "timeout", "batch_rows",
    NULL,
};

static int read_clickhouse(const struct lw_conf *c, const struct lw_conf_node *ch,
                           struct lw_store_clickhouse_conf *cc, struct lw_conf_err *err)
{
    const char *url = NULL;
    int64_t d = 0;
    int rc;

    if ((rc = lw_conf_check_keys(c, ch, clickhouse_keys, err)) < 0 ||
        (rc = lw_conf_str(c, ch, "url", &url, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
            return lw_conf_bad(c, lw_conf_get(ch, "url"), err,
                               "an http:// or https:// URL (ClickHouse's HTTP port, usually "
                               "8123)");
        }
        cc->url = url;
    }
    if ((rc = lw_conf_str(c, ch, "database", &cc->database, err)) < 0 ||
        (rc = lw_conf_str(c, ch, "user", &cc->user, err)) < 0 ||
        (rc = lw_conf_str(c, ch, "writer_id", &cc->writer_id, err)) < 0 ||
        (rc = lw_conf_str(c, ch, "password", &cc->password, err)) < 0 ||
        (rc = lw_conf_str(c, ch, "password_file", &cc->password_file, err)) < 0) {
        return rc;
    }
    if (lw_conf_get(ch, "password") != NULL && lw_conf_get(ch, "password_file") != NULL) {
        return lw_conf_errf(c, ch, err, "give password or password_file, not both");
    }
    if ((rc = lw_conf_duration(c, ch, "timeout", 1, &d, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        cc->timeout_ms = d / 1000000;
    }
    rc = lw_conf_usize(c, ch, "batch_rows", 1, 100000000, &cc->batch_rows, err);
    return rc < 0 ? rc : LW_OK;
}

int lw_store_conf_read(const struct lw_conf *c, const struct lw_conf_node *store,
                       struct lw_store_conf *sc, struct lw_conf_err *err)
{
    const struct lw_conf_node *ch = NULL;
    const char *backend = NULL;
    uint64_t n = 0;
    int64_t d = 0;
    int rc;

    if ((rc = lw_conf_check_keys(c, store, store_keys, err)) < 0 ||
        (rc = lw_conf_duration(c, store, "retention", 1, &d, err)) < 0) {
        return rc;
    }
    if (rc == 1 && d / NS > 0) {
        sc->retention_s = d / NS; /* under a second: the window rows need whole seconds */
    }
    if ((rc = lw_conf_uint(c, store, "examples_per_template", 1, 100, &n, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        sc->examples_per_template = (int)n;
    }
    if ((rc = lw_conf_str(c, store, "backend", &backend, err)) < 0) {
        return rc;
    }
    if (rc == 1) {
        if (strcmp(backend, "sqlite") == 0) {
            sc->backend = LW_STORE_BACKEND_SQLITE;
        }
        else if (strcmp(backend, "clickhouse") == 0) {
            sc->backend = LW_STORE_BACKEND_CLICKHOUSE;
        }
        else {
            return lw_conf_bad(c, lw_conf_get(store, "backend"), err,
                               "'sqlite' or 'clickhouse'");
        }
    }
    if ((rc = lw_conf_map(c, store, "clickhouse", &ch, err)) <= 0) {
        return rc;
    }
    return read_clickhouse(c, ch, &sc->clickhouse, err);
}
