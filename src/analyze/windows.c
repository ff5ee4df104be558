/*
 * The event-time window clock of the window detectors (lw_windows.h): the ring of open windows,
 * closing up to a watermark, late lines and the run's partial first window.
 */
#include <stdint.h>
#include <string.h>

#include "detect/det_util.h"
#include "lw/lw_windows.h"

/* ---- event-time windows ---- */

size_t lw__det_ring_idx(int64_t w)
{
    return (size_t)(((w % LW_DET_RING) + LW_DET_RING) % LW_DET_RING);
}

void lw__det_windows_reset(struct lw__det_windows *k, int64_t win_ns)
{
    size_t i;

    memset(k, 0, sizeof(*k));
    k->win_ns = win_ns;
    for (i = 0; i < LW_DET_RING; i++) {
        k->ring_win[i] = INT64_MIN;
    }
}

static void close_until(struct lw__det_windows *k, int64_t target, lw__det_close_fn close,
                        void *ctx, const struct lw_det_out *out)
{
    int64_t start = k->closed, w;

    if (target <= start) {
        return;
    }
    /* Windows that held no line are skipped in O(1): at most a ring's worth are visited. */
    for (w = start; w < target && w < start + LW_DET_RING; w++) {
        size_t i = lw__det_ring_idx(w);
        bool judge = k->ring_win[i] == w && k->ring_total[i] > 0 && w != k->first_win;

        close(ctx, w, i, judge, out);
        k->ring_win[i] = INT64_MIN;
        k->ring_total[i] = 0;
    }
    k->closed = target;
}

long lw__det_windows_line(struct lw__det_windows *k, int64_t ts_ns, int64_t *w,
                          lw__det_close_fn close, void *ctx, const struct lw_det_out *out)
{
    size_t i;

    *w = lw__det_window(ts_ns, k->win_ns);
    if (!k->started) {
        k->started = true;
        k->closed = *w;
        k->first_win = *w;
    }
    if (*w < k->closed) {
        k->late++;
        return -1;
    }
    if (*w >= k->closed + LW_DET_RING) {
        /* The watermark lags more than the ring holds: close the oldest windows now. */
        close_until(k, *w - LW_DET_RING + 1, close, ctx, out);
    }
    i = lw__det_ring_idx(*w);
    if (k->ring_win[i] != *w) {
        k->ring_win[i] = *w;
        k->ring_total[i] = 0;
    }
    k->ring_total[i]++;
    return (long)i;
}

void lw__det_windows_tick(struct lw__det_windows *k, int64_t watermark_ns, lw__det_close_fn close,
                          void *ctx, const struct lw_det_out *out)
{
    if (k->started) {
        /* Window w ends at (w + 1) * win <= watermark, i.e. w < floor(watermark / win). */
        close_until(k, lw__det_window(watermark_ns, k->win_ns), close, ctx, out);
    }
}
