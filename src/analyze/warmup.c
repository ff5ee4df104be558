/*
 * Log lines about the detectors' warm-up (lw_analyze.h, lw_detect_warmup_update()). A detector
 * reports nothing while it warms up, so an operator must be able to tell "quiet because all is
 * well" from "quiet because it cannot report yet": one line per detector when the daemon first
 * sees it warming up (what it still needs), and one when its warm-up ends. Whoever snapshots the
 * detection stage's stats (the engine) calls it.
 */
#include <inttypes.h>
#include <string.h>

#include "lw/lw_analyze.h"
#include "lw/lw_log.h"

void lw_detect_warmup_update(struct lw_detect_warmup *w, const struct lw_detect_stats *st)
{
    size_t n = st->n_detectors < LW_DETECT_WARMUP_MAX ? st->n_detectors : LW_DETECT_WARMUP_MAX;
    size_t i;

    for (i = 0; i < n; i++) {
        const struct lw_det_stats *d = &st->det[i];
        const char *name = st->names[i] != NULL ? st->names[i] : "?";
        const char *unit = d->warmup_unit != NULL ? d->warmup_unit : "units";
        uint32_t bit = (uint32_t)1 << i;

        if ((w->done & bit) != 0) {
            /* Logged once: a detector whose progress dips later (a series evicted) stays quiet. */
            continue;
        }
        if (!d->warming_up) {
            if (w->started) {
                lw_info("detect", "%s: warm-up over (%" PRIu64 "/%" PRIu64 " %s); it reports "
                        "from now on", name, d->warmup_have, d->warmup_need, unit);
            }
            w->done |= bit;
        }
        else if ((w->announced & bit) == 0) {
            lw_info("detect", "%s: warming up, %" PRIu64 "/%" PRIu64 " %s; it reports nothing "
                    "before that", name, d->warmup_have, d->warmup_need, unit);
            w->announced |= bit;
        }
    }
    w->started = true;
}
