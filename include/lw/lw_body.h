/*
 * Request bodies of lines, as pure functions on a buffer (src/parse/body.c): NDJSON (one JSON
 * object per line) or plain text, optionally gzip-compressed, with a memory budget that every
 * buffer is taken from. The daemon's HTTP server parses ingest bodies with them, the Kafka input
 * parses JSON record values with them, and the fuzzer (tests/fuzz/fuzz_http_body.c) drives them
 * directly. They know nothing of HTTP connections: parsing is below every input.
 */
#ifndef LW_BODY_H
#define LW_BODY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_frame.h"
#include "lw/lw_ingest.h"
#include "lw/lw_level.h"

/* ---- Memory budget --------------------------------------------------------------------- */

/*
 * Bytes that request bodies may hold at once, shared by every request of one server: bodies as
 * received, their decompressed form and the parser's buffers are taken from it before they are
 * allocated, and given back when freed. A request that finds the budget spent is answered 503
 * with Retry-After instead of growing the daemon. Thread-safe (lock-free).
 */
struct lw_http_budget {
    atomic_size_t used_bytes;   /* taken now */
    atomic_size_t peak_bytes;   /* the most ever taken at once */
    size_t limit_bytes;         /* 0: no limit */
};

/* Takes @n bytes from @bg (NULL: no budget). Returns LW_OK, or LW_EFULL and takes nothing. */
int lw_http_budget_take(struct lw_http_budget *bg, size_t n);
/* Gives back @n bytes taken before. NULL does nothing. */
void lw_http_budget_give(struct lw_http_budget *bg, size_t n);

/* ---- Body parsing ---------------------------------------------------------------------- */

enum lw_http_body_format {
    LW_HTTP_BODY_NDJSON = 0, /* application/x-ndjson, application/json: one object per line */
    LW_HTTP_BODY_TEXT,       /* text/plain: each line is a log line */
};

/*
 * A parsed body. Arrays have n_lines entries and belong to the body. lines[i].data points into
 * the buffer given to lw_http_body_parse() (text mode) or into memory owned by the body (NDJSON
 * mode, where strings are unescaped), so the body must outlive neither.
 */
struct lw_http_body {
    struct lw_ingest_line *lines;  /* the accepted lines, in body order */
    const char **hosts;            /* per line: NUL-terminated "host" field, or NULL */
    enum lw_level *levels;         /* per line: "level" field, LW_LEVEL_UNKNOWN when absent */
    size_t n_lines;                /* accepted lines */
    size_t n_rejected;             /* malformed lines (bad JSON, not an object, no message) */
    size_t n_blank;                /* empty or all-blank lines, skipped and not counted */
    size_t n_physical;             /* lines (records) seen: n_lines + n_rejected + n_blank */
    char *store;                   /* unescaped strings (NDJSON), owned */
    size_t store_len;
    size_t store_cap;
    size_t cap;                    /* capacity of the arrays */
    /* Set by lw_http_body_parse_parts() only. */
    struct lw_http_budget *budget; /* what the arrays and the store are taken from, or NULL */
    size_t charged_bytes;          /* taken from @budget, given back by lw_http_body_fini() */
    size_t part_lines;             /* lines per part; 0: the whole body in one */
    int (*part_cb)(void *opaque, const struct lw_http_body *part);
    void *part_opaque;
};

/*
 * Called by lw_http_body_parse_parts() with each part of up to @part_lines lines: @part->lines
 * (and hosts, levels) hold that part only, valid until the callback returns; the counters
 * (n_rejected, n_blank, n_physical) count everything parsed so far. Returns 0 to go on, or a
 * negative LW_E* code that stops parsing and is returned.
 */
typedef int (*lw_http_part_cb)(void *opaque, const struct lw_http_body *part);

/*
 * Parses @buf[0..len) in @fmt into @out (which it initialises; call lw_http_body_fini() after,
 * whatever the result). @buf is borrowed and must outlive @out in text mode. Lines longer than
 * @max_line_bytes (0: 65536) are truncated and flagged LW_LINE_TRUNCATED; lines with invalid
 * UTF-8 or NUL bytes are passed on and flagged LW_LINE_INVALID.
 *
 * In text mode @ml (NULL: none) joins continuation lines into one record of several physical
 * lines separated by '\n', flagged LW_LINE_MULTI (a joined record is copied into the body's
 * store); each record is one entry of @lines and counts once in n_physical. NDJSON ignores @ml:
 * each line is one record. A bad @ml regex returns LW_EINVAL.
 *
 * NDJSON objects carry the line in "message" (or "msg", or "log"), an optional "time" (an RFC 3339
 * string or anything lw_ts_parse() reads, or an epoch number whose magnitude picks s, ms, us or
 * ns), "level" and "host"; other fields are ignored. A line that is not a JSON object with a
 * non-empty string message is counted in n_rejected and skipped; an unreadable time only leaves
 * ts_ns at LW_TS_UNKNOWN. Host names are split into groups by the server (source.host); levels
 * are parsed but lw_ingest_line has no field for them yet. Returns LW_OK or LW_ENOMEM.
 * Thread-safe (no shared state).
 */
int lw_http_body_parse(const char *buf, size_t len, enum lw_http_body_format fmt,
                       size_t max_line_bytes, const struct lw_multiline_conf *ml,
                       struct lw_http_body *out);
void lw_http_body_fini(struct lw_http_body *b);

/*
 * Like lw_http_body_parse(), but hands the lines to @cb in parts of at most @part_lines lines
 * (> 0) and reuses its arrays and its string store for the next part, so that memory depends on
 * the part size and the longest line, not on the number of lines in the body (one 16 MiB body of
 * one-byte lines would otherwise cost 8 million line entries, ~450 MB). Every allocation is taken
 * from @budget first (NULL: none); LW_EFULL when it is spent. Returns LW_OK, LW_EFULL, LW_ENOMEM,
 * LW_EINVAL (bad @ml regex) or what @cb returned. Call lw_http_body_fini(@out) after, whatever
 * the result: it gives the budget back. A text record joined from several lines is never split
 * between parts.
 */
int lw_http_body_parse_parts(const char *buf, size_t len, enum lw_http_body_format fmt,
                             size_t max_line_bytes, const struct lw_multiline_conf *ml,
                             size_t part_lines, struct lw_http_budget *budget,
                             lw_http_part_cb cb, void *opaque, struct lw_http_body *out);

/*
 * Inflates a gzip (or zlib) body, concatenated gzip members included. On success sets *@out
 * (allocated with lw_malloc, caller frees with lw_free; NUL-terminated for convenience) and
 * *@out_len and returns LW_OK. Returns LW_ETOOBIG as soon as the output would exceed @max_bytes
 * (a gzip bomb costs at most @max_bytes of memory), LW_EINVAL on corrupt or truncated data,
 * LW_ENOMEM. On failure *@out is NULL.
 */
int lw_http_gunzip(const char *in, size_t len, size_t max_bytes, char **out, size_t *out_len);
/*
 * lw_http_gunzip() whose output buffer is taken from @budget (NULL: none) as it grows: returns
 * LW_EFULL when the budget is spent. On success *@charged is what was taken (the caller gives it
 * back after freeing *@out); on failure nothing stays taken and *@charged is 0.
 */
int lw_http_gunzip_budget(const char *in, size_t len, size_t max_bytes,
                          struct lw_http_budget *budget, char **out, size_t *out_len,
                          size_t *charged);

#endif
