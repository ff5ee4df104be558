/*
 * libFuzzer target for the detectors' saved models (the model_state blob of the store):
 * lw_detect_stage_load() with every detector on. A failed load must leave the stage working; a
 * successful one must give a stage that observes lines, ends sessions, and saves again. The
 * input's first byte picks a mode: 64..127 the raw bytes (a stage starts with 0x53), 0..63 the
 * bytes behind a valid header of per-source state (lw_detect_stage_load_merge) naming the volume
 * or level detector, 128..255 the bytes behind a valid stage header naming the session
 * detectors, so that mutations reach their own loaders.
 * Seeds: tests/data/fuzz/models/ (saved stages of a small trained stream).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lw/lw_analyze.h"
#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

static void sink(void *opaque, const struct lw_anomaly *a)
{
    (void)opaque;
    (void)a;
}

static void exercise(struct lw_detect_stage *st)
{
    static const char *const msgs[] = {"receiving blk_1 size 100", "received blk_1 size 100",
                                       "stored blk_1", "odd event blk_1 took 5000ms"};
    struct lw_wbuf b = {0};
    struct lw_param p = {12, 3};
    size_t i;

    for (i = 0; i < 4; i++) {
        struct lw_det_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.ts_ns = 1767225600000000000LL + (int64_t)i * 1000000000LL;
        ev.arrival_ns = 1;
        ev.template_id = (uint32_t)i + 1;
        ev.level = (uint8_t)(i == 3 ? 6 : 3);
        ev.source = "h";
        ev.msg = msgs[i];
        ev.msg_len = strlen(msgs[i]);
        ev.n_params = i < 2 ? 1 : 0;
        ev.params = &p;
        lw_detect_stage_observe(st, &ev);
        lw_detect_stage_tick(st, ev.ts_ns, 0);
    }
    lw_detect_stage_end_sessions(st, "timeout");
    (void)lw_detect_stage_save(st, &b);
    lw_wbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lw_detect_conf c;
    struct lw_detect_stage *st;
    char err[256];

    lw_detect_conf_defaults(&c, 10000000000LL);
    st = lw_detect_stage_create(&c, sink, NULL, NULL, err, sizeof(err));
    if (st == NULL) {
        return 0;
    }
    if (size > 0 && data[0] >= 128) {
        /* A valid header with one section for a session detector, its bytes from the input. */
        struct lw_wbuf b = {0};
        const char *name = data[0] & 1 ? "sequence" : "session_counts";

        lw_wbuf_u32(&b, 0x4C574453u);
        lw_wbuf_u32(&b, 1);
        lw_wbuf_u32(&b, 1);
        lw_wbuf_str(&b, name, strlen(name));
        lw_wbuf_str(&b, (const char *)data + 1, size - 1);
        if (b.err == 0) {
            (void)lw_detect_stage_load(st, b.p, b.len, err, sizeof(err));
        }
        lw_wbuf_free(&b);
    }
    else if (size > 0 && data[0] < 64) {
        /*
         * Per-source state of a partition (lw_detect_stage_load_merge): a valid header with one
         * section for a detector that keeps per-source state, merged into a stage that has
         * state of its own.
         */
        struct lw_wbuf b = {0};
        const char *name = data[0] & 1 ? "volume" : "level";

        exercise(st);
        lw_wbuf_u32(&b, 0x4C574450u);
        lw_wbuf_u32(&b, 1);
        lw_wbuf_u32(&b, 1);
        lw_wbuf_str(&b, name, strlen(name));
        lw_wbuf_str(&b, (const char *)data + 1, size - 1);
        if (b.err == 0) {
            (void)lw_detect_stage_load_merge(st, b.p, b.len, err, sizeof(err));
        }
        lw_wbuf_free(&b);
    }
    else {
        (void)lw_detect_stage_load(st, data, size, err, sizeof(err));
    }
    exercise(st);
    lw_detect_stage_destroy(st);
    return 0;
}
