/*
 * libFuzzer target for the ClickHouse query block's answer parser
 * (src/store/store_clickhouse_query.c): a server's TabSeparated answer, split into rows and
 * fields in place, and each field decoded from hex(x) in place. Whatever the bytes, it never
 * reads or writes outside the answer, every row gives at most the fields asked for, the rows
 * end, and a decoded field is at most half its hex text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_err.h"
#include "store/store_clickhouse_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lw__ch_buf b = {0};
    char *f[16];
    size_t pos = 0;
    size_t rows = 0;
    size_t max = size > 0 ? (size_t)(data[0] % 16) + 1 : 1;
    size_t n;
    size_t i;

    if (lw__ch_buf_put(&b, data, size) != LW_OK || lw__ch_buf_reserve(&b, 1) != LW_OK) {
        lw__ch_buf_free(&b);
        return 0;
    }
    b.p[b.len] = '\0';
    while ((n = lw__chq_next_row(&b, &pos, f, max)) > 0) {
        if (n > max || pos > b.len || ++rows > size + 1) {
            abort();
        }
        for (i = 0; i < n; i++) {
            size_t len = strlen(f[i]);
            const char *v;

            if (f[i] < b.p || f[i] + len > b.p + b.len) {
                abort();
            }
            v = lw__chq_hx(f[i]);
            if (v != NULL && strlen(v) > len / 2 + 1) {
                abort();
            }
        }
    }
    lw__ch_buf_free(&b);
    return 0;
}
