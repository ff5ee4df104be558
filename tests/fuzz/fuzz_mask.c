/*
 * libFuzzer target for the masks (lw_mask.h). The input is one message. It is masked with the
 * built-in masks (all on, and with every kind switched off in turn by the first input byte) and
 * with a user PCRE2 mask compiled once, and the spans are checked: ordered, not overlapping,
 * not empty, inside the message, of a known kind, capped. Seeds: tests/data/fuzz/mask/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_mask.h"

#define CAP 64

static struct lw_masker *plain;
static struct lw_masker *user;
static struct lw_masker *off[LW_MASK_N_BUILTIN];
static struct lw_mask_state *plain_st;
static struct lw_mask_state *user_st;
static struct lw_mask_state *off_st[LW_MASK_N_BUILTIN];

static const struct lw_mask_user user_masks[] = {
    {"kv", "(?:user|uid)=(\\w+)"},
    {"ticket", "T-[A-Z]{2,4}"},
    {"spacey", "req \\d+ of \\d+"},
    {"empty_ok", "x*"},
};

static void setup(void)
{
    struct lw_mask_conf conf;
    int k;

    plain = lw_masker_create(NULL, NULL, 0);
    memset(&conf, 0, sizeof(conf));
    conf.user = user_masks;
    conf.n_user = sizeof(user_masks) / sizeof(user_masks[0]);
    user = lw_masker_create(&conf, NULL, 0);
    if (plain == NULL || user == NULL) {
        abort();
    }
    plain_st = lw_mask_state_create(plain);
    user_st = lw_mask_state_create(user);
    if (plain_st == NULL || user_st == NULL) {
        abort();
    }
    for (k = 0; k < LW_MASK_N_BUILTIN; k++) {
        memset(&conf, 0, sizeof(conf));
        conf.disabled = LW_MASK_BIT(k);
        off[k] = lw_masker_create(&conf, NULL, 0);
        off_st[k] = off[k] ? lw_mask_state_create(off[k]) : NULL;
        if (off_st[k] == NULL) {
            abort();
        }
    }
}

static void check(const struct lw_masker *m, struct lw_mask_state *st, const char *msg,
                  size_t len, size_t cap, size_t n_kinds, int disabled_kind)
{
    struct lw_mask_span sp[CAP];
    size_t n;
    size_t i;

    n = lw_mask_apply(m, st, msg, len, sp, cap);
    if (n > cap) {
        abort();
    }
    for (i = 0; i < n; i++) {
        if (sp[i].len == 0 || (size_t)sp[i].off + sp[i].len > len || sp[i].kind >= n_kinds ||
            (int)sp[i].kind == disabled_kind) {
            abort();
        }
        if (i > 0 && sp[i - 1].off + sp[i - 1].len > sp[i].off) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char *msg;
    int k;

    if (!ready) {
        setup();
        ready = 1;
    }
    /* An exact-size copy so that ASan sees any read past the end. */
    msg = malloc(size ? size : 1);
    if (msg == NULL) {
        return 0;
    }
    memcpy(msg, data, size);
    check(plain, plain_st, msg, size, CAP, LW_MASK_N_BUILTIN, -1);
    check(plain, plain_st, msg, size, 3, LW_MASK_N_BUILTIN, -1);
    check(user, user_st, msg, size, CAP, LW_MASK_N_BUILTIN + 4, -1);
    check(user, user_st, msg, size, 2, LW_MASK_N_BUILTIN + 4, -1);
    k = size > 0 ? data[0] % LW_MASK_N_BUILTIN : 0;
    check(off[k], off_st[k], msg, size, CAP, LW_MASK_N_BUILTIN, k);
    free(msg);
    return 0;
}
