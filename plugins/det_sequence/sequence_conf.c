/* det_sequence's configuration section, detect.sequence (docs/config.md, docs/detectors.md). */
#include "lw/lw_conf.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "detect/seq_model.h"
#include "sequence_conf.h"

const char *const sequence_conf_keys[] = {
    "enabled", "history", "top", "warmup_sessions", "max_contexts", NULL,
};

int sequence_conf_read(const struct lw_conf *c, const struct lw_conf_node *sec,
                       struct lw_detect_conf *conf, struct lw_conf_err *err)
{
    int rc;

    if ((rc = lw_conf_bool(c, sec, "enabled", &conf->sequence.enabled, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "history", 1, LW_SEQ_MAX_HISTORY, &conf->sequence.history,
                            err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "top", 1, LW_SEQ_MAX_CAND, &conf->sequence.top, err)) < 0 ||
        (rc = lw_conf_uint(c, sec, "warmup_sessions", 0, UINT64_MAX,
                           &conf->sequence.warmup_sessions, err)) < 0 ||
        (rc = lw_conf_usize(c, sec, "max_contexts", 1, UINT64_MAX,
                            &conf->sequence.max_contexts, err)) < 0) {
        return rc;
    }
    return LW_OK;
}
