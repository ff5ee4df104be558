/*
 * Internals of the ClickHouse backend (store_clickhouse*.c), not part of lw/lw_store.h: the
 * HTTP connection (store_clickhouse_http.c), the growable text buffers the rows are written
 * into, and the schema (store_clickhouse_schema.c). docs/store.md describes the tables.
 */
#ifndef LW_STORE_CLICKHOUSE_INT_H
#define LW_STORE_CLICKHOUSE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "lw/lw_store.h"

/* The version of the ClickHouse schema this build creates (meta key schema_version). */
#define LW__CH_SCHEMA_VERSION 1
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

#endif
