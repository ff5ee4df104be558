/*
 * libFuzzer target for the template miner. The input is split into lines that are mined by a
 * small miner (max_templates 8, max_tokens 16, parameters on), so that eviction, the token cap
 * and generalisation are all reached. Each match is checked (parameters inside the line, a
 * template lookup that succeeds or says LW_ENOENT), then the miner is saved with
 * lw_miner_save_buf() and loaded into a second miner, which must hold the same ids, counts and
 * texts. Seeds: tests/data/fuzz/miner/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_miner.h"

struct digest {
    size_t n;
    uint64_t h;
    uint64_t last_born;
};

static int digest_cb(void *opaque, const struct lw_template_info *t)
{
    struct digest *d = opaque;
    size_t i;

    if (t->born <= d->last_born || t->id == 0) {
        abort(); /* foreach walks in creation order; 0 is never an id */
    }
    d->last_born = t->born;
    d->n++;
    d->h = d->h * 31 + t->id;
    d->h = d->h * 31 + t->count;
    for (i = 0; t->text[i] != '\0'; i++) {
        d->h = d->h * 131 + (unsigned char)t->text[i];
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lw_miner_conf conf;
    struct lw_miner *m;
    struct lw_miner *m2;
    struct lw_miner_scratch *s;
    struct digest d1 = {0, 0, 0};
    struct digest d2 = {0, 0, 0};
    char tbuf[256];
    char err[256];
    char *buf = NULL;
    size_t len = 0;
    size_t i = 0;
    uint64_t lines = 0;

    memset(&conf, 0, sizeof(conf));
    conf.max_templates = 8;
    conf.max_tokens = 16;
    m = lw_miner_create(&conf, NULL, 0);
    if (m == NULL) {
        abort();
    }
    s = lw_miner_scratch_create(m);
    if (s == NULL) {
        abort();
    }
    lw_miner_scratch_params(s, 1);
    while (i < size) {
        const uint8_t *nl = memchr(data + i, '\n', size - i);
        size_t end = nl ? (size_t)(nl - data) : size;
        size_t n = end - i;
        char *line = malloc(n ? n : 1);
        struct lw_match mt;
        size_t k;
        long tl;

        if (line == NULL) {
            abort();
        }
        memcpy(line, data + i, n);
        if (lw_miner_add(m, s, line, n, (int64_t)lines, &mt) != LW_OK) {
            abort();
        }
        if (mt.template_id == 0 || mt.n_params > LW_MINER_MAX_PARAMS) {
            abort();
        }
        for (k = 0; k < mt.n_params; k++) {
            if ((size_t)mt.params[k].off + mt.params[k].len > n) {
                abort();
            }
            if (k > 0 && mt.params[k - 1].off + mt.params[k - 1].len > mt.params[k].off) {
                abort();
            }
        }
        tl = lw_miner_template(m, mt.template_id, tbuf, sizeof(tbuf));
        if (tl < 0 && tl != LW_ENOENT) {
            abort();
        }
        if (lw_miner_n_templates(m) > conf.max_templates) {
            abort();
        }
        free(line);
        lines++;
        i = end + 1;
    }
    lw_miner_scratch_destroy(s);
    lw_miner_foreach(m, digest_cb, &d1);
    if (d1.n != lw_miner_n_templates(m)) {
        abort();
    }
    if (lw_miner_save_buf(m, &buf, &len) != LW_OK) {
        abort();
    }
    m2 = lw_miner_create(&conf, NULL, 0);
    if (m2 == NULL) {
        abort();
    }
    err[0] = '\0';
    if (lw_miner_load_buf(m2, buf, len, err, sizeof(err)) != LW_OK) {
        abort();
    }
    lw_miner_foreach(m2, digest_cb, &d2);
    if (d1.n != d2.n || d1.h != d2.h) {
        abort();
    }
    lw_free(buf);
    lw_miner_destroy(m2);
    lw_miner_destroy(m);
    return 0;
}
