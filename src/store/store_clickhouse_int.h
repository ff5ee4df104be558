/*
 * Internals of the ClickHouse backend (store_clickhouse*.c), not part of lw/lw_store.h: the
 * HTTP connection (store_clickhouse_http.c), the growable text buffers the rows are written
 * into, and the schema (store_clickhouse_schema.c). docs/store.md describes the tables.
 */
#ifndef LW_STORE_CLICKHOUSE_INT_H
#define LW_STORE_CLICKHOUSE_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_store.h"

/* The version of the ClickHouse schema this build creates (meta key schema_version). */
#define LW__CH_SCHEMA_VERSION 3
/* Bytes of one answer read at most: a saved miner state, hex-encoded, fits many times over. */
#define LW__CH_MAX_RESPONSE_BYTES ((size_t)512 << 20)

/* A growable byte buffer from lw_malloc(); {0} is an empty one. */
struct lw__ch_buf {
    char *p;       /* NUL-terminated when len > 0 or after lw__ch_buf_reserve() */
    size_t len;    /* bytes used, excluding the NUL */
    size_t cap;    /* bytes allocated */
    size_t rows;   /* rows written (the callers count them) */
};

int lw__ch_buf_reserve(struct lw__ch_buf *b, size_t more);
int lw__ch_buf_put(struct lw__ch_buf *b, const void *p, size_t n);
int lw__ch_buf_puts(struct lw__ch_buf *b, const char *s);
int lw__ch_buf_vprintf(struct lw__ch_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
int lw__ch_buf_printf(struct lw__ch_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * Appends @n bytes at @p escaped for ClickHouse's TabSeparated format (backslash, tab, newline,
 * carriage return, NUL): the value can hold any bytes and never ends its field early.
 */
int lw__ch_buf_tsv(struct lw__ch_buf *b, const char *p, size_t n);
/*
 * Appends unhex('…') with @n bytes at @p in upper-case hex: the one way a string from outside
 * enters a query text. The literal holds only [0-9A-F], so no value can change the query.
 */
int lw__ch_buf_unhex(struct lw__ch_buf *b, const char *p, size_t n);
void lw__ch_buf_reset(struct lw__ch_buf *b);
void lw__ch_buf_free(struct lw__ch_buf *b);

/*
 * Decodes the hex text at @hex (@n characters) into a buffer from lw_malloc() (NUL-terminated,
 * *@len excludes the NUL). LW_EINVAL when it is not hex.
 */
int lw__ch_unhex(const char *hex, size_t n, char **out, size_t *len);

/* One HTTP connection to a ClickHouse server (a libcurl easy handle, kept alive). */
struct lw__ch_conn {
    void *curl;          /* CURL * */
    char *url;           /* base URL without a trailing '/', owned */
    char *user;          /* owned, NULL: ClickHouse's "default" */
    char *password;      /* owned, NULL: none */
    long timeout_ms;     /* per request */
    void *headers;       /* struct curl_slist *: "Expect:" (see lw__ch_conn_init) */
};

/*
 * Sets up @c for @url (copied). LW_ENOMEM, or LW_EINVAL with a message in @err when @url is not
 * http:// or https://. Does not connect.
 */
int lw__ch_conn_init(struct lw__ch_conn *c, const char *url, const char *user,
                     const char *password, long timeout_ms, char *err, size_t err_len);
void lw__ch_conn_fini(struct lw__ch_conn *c);

/*
 * Runs one statement. @query is the statement text (built from constants, integers, validated
 * identifiers and lw__ch_buf_unhex() literals only). With @body (its @body_len bytes are the
 * rows of an INSERT ... FORMAT TabSeparated) the query travels in the URL and the rows in the
 * POST body; without, the query is the body. The answer goes to @out (reset first; may be NULL).
 * Returns LW_OK; LW_EIO when the server cannot be reached, times out or answers with an error,
 * with "ClickHouse at URL: ..." (the server's own message when it gave one) in @err; LW_ENOMEM.
 */
int lw__ch_exec(struct lw__ch_conn *c, const char *query, const char *body, size_t body_len,
                struct lw__ch_buf *out, char *err, size_t err_len);
/* INSERTs the TabSeparated rows in @rows into @db.@table (identifiers only): lw__ch_exec(). */
int lw__ch_insert(struct lw__ch_conn *c, const char *db, const char *table,
                  const struct lw__ch_buf *rows, char *err, size_t err_len);

/*
 * Creates database @db and every table and view of the schema when missing (CREATE ... IF NOT
 * EXISTS), then records schema_version. @db is a validated identifier. LW_EVERSION when the
 * database holds a newer schema.
 */
int lw__ch_schema_create(struct lw__ch_conn *c, const char *db, const char *writer,
                         char *err, size_t err_len);
/* LW_OK when @db holds a logwarden schema this build reads, LW_ENOENT when it holds none. */
int lw__ch_schema_check(struct lw__ch_conn *c, const char *db, int *version, char *err,
                        size_t err_len);

/*
 * ---- The query block (store_clickhouse_query.c) ----
 *
 * What the query block needs of a handle that store_clickhouse.c owns: the connection, the
 * database, where messages go, and a slot for the block's own state (freed by lw__chq_free()
 * when the handle closes).
 */
struct lw__ch_view {
    struct lw__ch_conn *conn;
    const char *db;          /* a validated identifier */
    const char *writer;      /* this handle's writer id */
    char *err;               /* the handle's message buffer (lw_store_errmsg) */
    size_t err_len;
    int read_only;
    int examples;            /* examples_per_template after defaults */
    void **qstate;           /* the query block's state, NULL until it makes one */
};
void lw__ch_store_view(struct lw_store *s, struct lw__ch_view *v);
/*
 * Appends one template_examples row to the handle's transaction (or to one of its own when none
 * is open), like every other transactional row: visible once the commit row is written.
 */
int lw__ch_store_example_row(struct lw_store *s, uint32_t template_id, int64_t ts_ns,
                             const char *source, const char *line);
void lw__chq_free(void *qstate);
/*
 * The answer parser of the query block (exposed for tests/fuzz/fuzz_clickhouse_answer.c): the
 * next TabSeparated row of @ans at *@pos, split on tabs in place into at most @max fields of @f
 * (extra fields ignored); returns the number of fields, 0 after the last row. Then
 * lw__chq_hx() decodes one hex(x) field in place: NULL for \N, "" when it is not hex.
 */
size_t lw__chq_next_row(struct lw__ch_buf *ans, size_t *pos, char **f, size_t max);
const char *lw__chq_hx(char *f);

int lw__chq_series(struct lw_store *s, const struct lw_store_series_q *q, lw_store_point_cb cb,
                   void *opaque);
int lw__chq_series_levels(struct lw_store *s, const struct lw_store_series_q *q,
                          lw_store_point_cb cb, void *opaque);
int lw__chq_series_anomalies(struct lw_store *s, const struct lw_store_series_q *q,
                             lw_store_point_cb cb, void *opaque);
int lw__chq_sparklines(struct lw_store *s, const int64_t *ids, size_t n_ids,
                       const struct lw_store_series_q *q, lw_store_point_cb cb, void *opaque);
int lw__chq_totals(struct lw_store *s, int64_t from_ns, int64_t to_ns,
                   struct lw_store_totals *out);
int lw__chq_list_anomalies(struct lw_store *s, const struct lw_store_filter *f,
                           lw_store_anomaly_cb cb, void *opaque);
int lw__chq_get_anomaly(struct lw_store *s, int64_t id, lw_store_anomaly_cb cb, void *opaque);
int lw__chq_list_alerts(struct lw_store *s, const struct lw_store_filter *f,
                        lw_store_alert_cb cb, void *opaque);
int lw__chq_list_incidents(struct lw_store *s, const struct lw_store_filter *f,
                           lw_store_incident_cb cb, void *opaque);
int lw__chq_list_templates(struct lw_store *s, const char *q, enum lw_store_tsort sort, int desc,
                           const struct lw_store_filter *f, lw_store_template_cb cb,
                           void *opaque, uint64_t *total);
int lw__chq_list_sources(struct lw_store *s, const struct lw_store_filter *f,
                         lw_store_source_cb cb, void *opaque);
int lw__chq_list_examples(struct lw_store *s, int64_t template_id, lw_store_example_cb cb,
                          void *opaque);
int lw__chq_add_example(struct lw_store *s, uint32_t template_id, int64_t ts_ns,
                        const char *source, const char *line);
int lw__chq_list_rules(struct lw_store *s, lw_store_rule_cb cb, void *opaque);
int lw__chq_get_rule(struct lw_store *s, int64_t id, lw_store_rule_cb cb, void *opaque);
int lw__chq_add_rule(struct lw_store *s, const struct lw_store_rule *r, int64_t *id_out);
int lw__chq_delete_rule(struct lw_store *s, int64_t id);

#endif
