/*
 * Context lines for anomalies: a bounded ring of the most recent raw lines of each source, so
 * that a stored anomaly carries the real lines around it (GET /api/v1/anomalies/{id},
 * "context"). Internal to the engine; one thread (the aggregator) uses a ring.
 *
 * Bounds: LW_CTX_LINES lines per source, each cut to LW_CTX_LINE_MAX bytes, at most
 * LW_CTX_SOURCES sources (the least recently fed source's ring is reused for a new one), so the
 * whole thing never holds more than about LW_CTX_SOURCES * LW_CTX_LINES * LW_CTX_LINE_MAX
 * bytes (2.5 MiB), allocated per source on first use.
 */
#ifndef LW_ENGINE_CTX_RING_H
#define LW_ENGINE_CTX_RING_H

#include <stddef.h>
#include <stdint.h>

#define LW_CTX_LINES    20
#define LW_CTX_LINE_MAX 512
#define LW_CTX_SOURCES  256

struct lw_ctx_ring;

/* NULL on LW_ENOMEM. */
struct lw_ctx_ring *lw_ctx_ring_create(void);
/* Frees @r and its lines; NULL does nothing. */
void lw_ctx_ring_destroy(struct lw_ctx_ring *r);
/*
 * Remembers line @line (@len bytes, borrowed; cut to LW_CTX_LINE_MAX) of @source (NUL-ended,
 * borrowed; "" for lines of no particular source) with event time @ts_ns. Best effort: a
 * failed allocation only loses this line.
 */
void lw_ctx_ring_add(struct lw_ctx_ring *r, const char *source, int64_t ts_ns, const char *line,
                     size_t len);
/*
 * The remembered lines of @source (NULL is "") as a JSON array of {"time": ns, "line": "..."}
 * in event-time order, newly allocated with lw_malloc (the caller lw_frees it); NULL when the
 * source has no lines or memory is short. In a line that is not valid UTF-8, every byte
 * outside printable ASCII becomes '?'.
 */
char *lw_ctx_ring_json(const struct lw_ctx_ring *r, const char *source);

#endif
