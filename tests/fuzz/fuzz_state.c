/*
 * libFuzzer target for the miner state loader: lw_miner_load_buf() on the raw input, into a
 * miner that already holds a template, then on the input with its last 8 bytes replaced by a
 * valid checksum (XXH64, seed 0, little-endian), so that mutations reach the structure checks
 * behind the checksum. A failed load must leave the miner alone; a successful one must give a
 * miner that saves, reloads to the same texts, and keeps mining.
 * Seeds (valid state buffers): tests/data/fuzz/state/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"

struct texts {
    size_t n;
    uint64_t sum;
};

static int sum_cb(void *opaque, const struct lw_template_info *t)
{
    struct texts *x = opaque;
    size_t i;

    x->n++;
    x->sum = x->sum * 31 + t->id;
    for (i = 0; t->text[i] != '\0'; i++) {
        x->sum = x->sum * 131 + (unsigned char)t->text[i];
    }
    return 0;
}

static void load_one(const uint8_t *data, size_t size)
{
    static const char probe[] = "probe template 42";
    struct lw_miner_conf conf;
    struct lw_miner *m;
    struct lw_miner *m2;
    struct lw_miner_scratch *s;
    struct lw_match mt;
    struct texts before = {0, 0};
    struct texts after = {0, 0};
    char err[256];
    char *buf = NULL;
    size_t len = 0;
    char *copy;
    int rc;

    memset(&conf, 0, sizeof(conf));
    conf.max_templates = 64;
    conf.max_tokens = 32;
    m = lw_miner_create(&conf, NULL, 0);
    if (m == NULL) {
        abort();
    }
    s = lw_miner_scratch_create(m);
    if (s == NULL || lw_miner_add(m, s, probe, strlen(probe), 1, &mt) != LW_OK) {
        abort();
    }
    lw_miner_scratch_flush(s);
    lw_miner_foreach(m, sum_cb, &before);
    copy = malloc(size ? size : 1);
    if (copy == NULL) {
        abort();
    }
    memcpy(copy, data, size);
    err[0] = '\0';
    rc = lw_miner_load_buf(m, copy, size, err, sizeof(err));
    free(copy);
    if (rc != LW_OK) {
        if (err[0] == '\0' || rc >= 0) {
            abort();
        }
        lw_miner_foreach(m, sum_cb, &after);
        if (after.n != before.n || after.sum != before.sum) {
            abort();
        }
    }
    else {
        char tbuf[512];

        lw_miner_foreach(m, sum_cb, &after);
        if (after.n != lw_miner_n_templates(m)) {
            abort();
        }
        if (lw_miner_save_buf(m, &buf, &len) != LW_OK) {
            abort();
        }
        m2 = lw_miner_create(&conf, NULL, 0);
        if (m2 == NULL || lw_miner_load_buf(m2, buf, len, err, sizeof(err)) != LW_OK) {
            abort();
        }
        before.n = 0;
        before.sum = 0;
        lw_miner_foreach(m2, sum_cb, &before);
        if (after.n != before.n || after.sum != before.sum) {
            abort();
        }
        lw_miner_destroy(m2);
        lw_free(buf);
        /* The loaded miner keeps working, and a new template gets a fresh id. */
        if (lw_miner_add(m, s, probe, strlen(probe), 2, &mt) != LW_OK ||
            lw_miner_template(m, mt.template_id, tbuf, sizeof(tbuf)) < 0) {
            abort();
        }
    }
    lw_miner_scratch_destroy(s);
    lw_miner_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *fixed;
    uint64_t h;
    size_t i;

    load_one(data, size);
    if (size < 8) {
        return 0;
    }
    fixed = malloc(size);
    if (fixed == NULL) {
        abort();
    }
    memcpy(fixed, data, size);
    h = XXH64(fixed, size - 8, 0);
    for (i = 0; i < 8; i++) {
        fixed[size - 8 + i] = (uint8_t)(h >> (8 * i));
    }
    load_one(fixed, size);
    free(fixed);
    return 0;
}
