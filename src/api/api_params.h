/*
 * Parameter parsing for the query API (src/api/api_query.c): times (RFC 3339, epoch seconds,
 * relative durations), steps, limits and keyset cursors, and the RFC 3339 rendering of times.
 * Pure functions, no allocation, any thread; unit-tested in tests/unit/test_api_params.c.
 */
#ifndef LW_API_PARAMS_H
#define LW_API_PARAMS_H

#include <stddef.h>
#include <stdint.h>

/*
 * A duration: digits and a unit, "500ms", "10s", "15m", "1h", "7d", "2w", or bare digits
 * (seconds). Sets *@out_ns (> 0) and returns LW_OK, or LW_EINVAL (zero, negative, no digits,
 * unknown unit, overflow).
 */
int lw_api_parse_duration(const char *s, int64_t *out_ns);

/*
 * A point in time: "now"; a relative time "-1h", "-15m", "-7d" (before @now_ns; "+5m" after);
 * epoch seconds "1764842400" or "1764842400.25"; RFC 3339 "2026-12-04T10:00:00Z",
 * "2026-12-04T10:00:00.123+01:00" ('t', 'z' and a space for 'T' are accepted too). Sets
 * *@out_ns; LW_EINVAL for anything else or a time out of the int64 ns range.
 */
int lw_api_parse_time(const char *s, int64_t now_ns, int64_t *out_ns);

/* A limit in 1..@max ("0", negative, junk: LW_EINVAL); NULL or "" gives @def. */
int lw_api_parse_limit(const char *s, size_t def, size_t max, size_t *out);

/* A positive decimal id (1 .. INT64_MAX); LW_EINVAL otherwise. */
int lw_api_parse_id(const char *s, int64_t *out);

/*
 * The bucket of a series over [from, to): a step of at least @window_s seconds and a multiple
 * of it, chosen among 10s, 30s, 1m, 5m, 10m, 30m, 1h, 3h, 6h, 12h, 1d, 7d so that the range has
 * at most @max_points buckets. Returns the step in ns.
 */
int64_t lw_api_pick_step(int64_t from_ns, int64_t to_ns, int64_t window_s, size_t max_points);

/*
 * Rounds @step_ns up to a multiple of the window (@window_s seconds, at least one window).
 */
int64_t lw_api_align_step(int64_t step_ns, int64_t window_s);

/*
 * Keyset cursors. A cursor is "<ts>.<id>.<hex of key>" (the key may be empty): opaque to
 * clients, safe in a query string without escaping. encode returns LW_OK or LW_EFULL (@cap too
 * small); decode fills @key (NUL-ended, @key_cap bytes) and returns LW_EINVAL for a malformed
 * cursor.
 */
#define LW_API_CURSOR_MAX 600
int lw_api_cursor_encode(char *buf, size_t cap, int64_t ts, int64_t id, const char *key);
int lw_api_cursor_decode(const char *s, int64_t *ts, int64_t *id, char *key, size_t key_cap);

/* "2026-12-04T10:00:00.000Z" (UTC, milliseconds, floor) into @buf (at least 32 bytes). */
#define LW_API_TIME_LEN 32
void lw_api_fmt_time(int64_t ns, char *buf);

#endif
