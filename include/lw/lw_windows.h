/*
 * The event-time window clock of the window detectors (plugins/det_volume, det_level): a ring of
 * open windows, closing them as the watermark passes, counting lines whose window is already
 * closed (late lines), and leaving out the run's partial first window. Part of the analysis layer
 * (src/analyze/windows.c); detectors use it through this header only. Single-threaded, like the
 * detectors that use it, and does not log.
 */
#ifndef LW_WINDOWS_H
#define LW_WINDOWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lw/lw_detect.h"

/* ---- event-time windows of the window detectors (volume, level) ---- */

#define LW_DET_RING 8                  /* open windows (watermark lag / window) */

struct lw__det_windows {
    int64_t win_ns;
    bool started;                      /* a line was seen since init or load */
    int64_t closed;                    /* windows before this index are closed */
    int64_t first_win;                 /* the run's first window: it is partial (the run began
                                        * inside it), so it is neither judged nor learned */
    int64_t ring_win[LW_DET_RING];     /* the window each slot counts, or INT64_MIN */
    uint64_t ring_total[LW_DET_RING];  /* lines of every series in it */
    uint64_t late;                     /* lines for windows already closed */
};

/*
 * Closes window @w (ring slot @i) of a detector: every series is judged and learns when @judge
 * (the window held lines and is not the run's first), and its slot is cleared in any case.
 */
typedef void (*lw__det_close_fn)(void *ctx, int64_t w, size_t i, bool judge,
                                 const struct lw_det_out *out);

size_t lw__det_ring_idx(int64_t w);
/* Starts afresh (at init, and after a load: open windows are not saved). */
void lw__det_windows_reset(struct lw__det_windows *k, int64_t win_ns);
/*
 * Places a line of event time @ts_ns: its window in *@w and its ring slot as the result, or -1
 * for a line whose window is closed (counted as late). When the line is more than the ring
 * ahead of the closed windows, the oldest are closed first.
 */
long lw__det_windows_line(struct lw__det_windows *k, int64_t ts_ns, int64_t *w,
                          lw__det_close_fn close, void *ctx, const struct lw_det_out *out);
/* Closes every window that ends at or before @watermark_ns. */
void lw__det_windows_tick(struct lw__det_windows *k, int64_t watermark_ns, lw__det_close_fn close,
                          void *ctx, const struct lw_det_out *out);

#endif
