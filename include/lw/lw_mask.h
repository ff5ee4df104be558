/*
 * Masking: finds the variable parts of a log message (numbers, hex, IPv4/IPv6 with port, UUIDs,
 * MAC addresses, paths, URLs, e-mail addresses, host names, durations, sizes, and user PCRE2
 * masks) before template mining. Masked spans become "<*>" in the template and are reported as
 * parameters.
 *
 * A struct lw_masker is immutable after creation and shared by threads; the per-thread regex
 * match data lives in struct lw_mask_state.
 */
#ifndef LW_MASK_H
#define LW_MASK_H

#include <stddef.h>
#include <stdint.h>

enum lw_mask_kind {
    LW_MASK_NUM = 0, /* integers and decimals, signed, with optional unit suffix handled below */
    LW_MASK_HEX,     /* 0x1f, runs of hex digits of 8 or more holding a digit and a letter */
    LW_MASK_IPV4,    /* 10.0.0.1, 10.0.0.1:8080 */
    LW_MASK_IPV6,    /* fe80::1, [::1]:443 */
    LW_MASK_UUID,
    LW_MASK_MAC,
    LW_MASK_PATH,    /* /var/log/x.log, C:\dir\x */
    LW_MASK_URL,     /* scheme://... */
    LW_MASK_EMAIL,
    LW_MASK_HOST,    /* dotted host names with at least three labels: a.b.example.com */
    LW_MASK_DURATION,/* 12ms, 1.5s, 3h */
    LW_MASK_SIZE,    /* 12KB, 3.4 MiB written together: 3.4MiB */
    LW_MASK_ID,      /* tokens that mix letters and long digit runs: blk_123456, job_2017_01 */
    LW_MASK_DATE,    /* dates written with names: "Sat Jul  9 22:53:19 2005", "Jul 9" */
    LW_MASK_N_BUILTIN,
};

/* Bit for kind K in lw_mask_conf.disabled. */
#define LW_MASK_BIT(k) (1u << (k))

struct lw_mask_user {
    const char *name;     /* shown in errors and in typed output */
    const char *pattern;  /* PCRE2; the whole match (or group 1 when present) is masked */
};

struct lw_mask_conf {
    uint32_t disabled;                 /* LW_MASK_BIT() of built-in masks switched off */
    const struct lw_mask_user *user;   /* user masks, applied before the built-in ones */
    size_t n_user;
};

struct lw_mask_span {
    uint32_t off;   /* byte offset in the message */
    uint32_t len;
    uint16_t kind;  /* enum lw_mask_kind, or LW_MASK_N_BUILTIN + i for user mask i */
};

struct lw_masker;
struct lw_mask_state;

/* Returns NULL and writes a message into @err on a bad user pattern. */
struct lw_masker *lw_masker_create(const struct lw_mask_conf *conf, char *err, size_t err_len);
void lw_masker_destroy(struct lw_masker *m);
struct lw_mask_state *lw_mask_state_create(const struct lw_masker *m);
void lw_mask_state_destroy(struct lw_mask_state *st);

/*
 * Finds the masked spans of @msg, in order and not overlapping, and writes at most @cap of them
 * to @out. Returns the number found (capped at @cap). Thread-safe with one @st per thread.
 */
size_t lw_mask_apply(const struct lw_masker *m, struct lw_mask_state *st, const char *msg,
                     size_t len, struct lw_mask_span *out, size_t cap);

/* Name of a built-in kind ("num", "hex", "ipv4", ...) and the kind for a name, or -1. */
const char *lw_mask_kind_name(int kind);
int lw_mask_kind_parse(const char *name);

#endif
