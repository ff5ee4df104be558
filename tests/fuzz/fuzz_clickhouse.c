/*
 * libFuzzer target for the ClickHouse backend's value encoding (src/store/store_clickhouse_http.c),
 * the one place where data from outside (log lines' sources, template texts, file paths, notes)
 * meets ClickHouse's text formats:
 *  - lw__ch_buf_tsv(): the escaped field never holds a raw tab, newline, carriage return or NUL
 *    (it cannot end its field or row early) and unescapes back to the input;
 *  - lw__ch_buf_unhex(): the query literal holds only unhex(' [0-9A-F]* ') and decodes back;
 *  - lw__ch_unhex() on arbitrary bytes (a server's answer) never crashes and refuses non-hex.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "store/store_clickhouse_int.h"

/* ClickHouse's TabSeparated unescaping of the escapes lw__ch_buf_tsv() writes. */
static size_t unescape(const char *p, size_t n, char *out)
{
    size_t i;
    size_t o = 0;

    for (i = 0; i < n; i++) {
        if (p[i] != '\\') {
            out[o++] = p[i];
            continue;
        }
        if (++i >= n) {
            abort(); /* a lone backslash at the end */
        }
        switch (p[i]) {
        case '\\':
            out[o++] = '\\';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case '0':
            out[o++] = '\0';
            break;
        default:
            abort();
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lw__ch_buf b = {0};
    char *back = NULL;
    size_t n = 0;
    size_t i;

    if (lw__ch_buf_tsv(&b, (const char *)data, size) == LW_OK) {
        char *u = malloc(b.len + 1);

        for (i = 0; i < b.len; i++) {
            if (b.p[i] == '\t' || b.p[i] == '\n' || b.p[i] == '\r' || b.p[i] == '\0') {
                abort();
            }
        }
        if (u == NULL) {
            abort();
        }
        if (unescape(b.p != NULL ? b.p : "", b.len, u) != size ||
            (size > 0 && memcmp(u, data, size) != 0)) {
            abort();
        }
        free(u);
    }
    lw__ch_buf_reset(&b);
    if (lw__ch_buf_unhex(&b, (const char *)data, size) == LW_OK) {
        if (b.len != 2 * size + 9 || memcmp(b.p, "unhex('", 7) != 0 ||
            memcmp(b.p + b.len - 2, "')", 2) != 0) {
            abort();
        }
        for (i = 7; i < b.len - 2; i++) {
            if (!((b.p[i] >= '0' && b.p[i] <= '9') || (b.p[i] >= 'A' && b.p[i] <= 'F'))) {
                abort();
            }
        }
        if (lw__ch_unhex(b.p + 7, 2 * size, &back, &n) != LW_OK || n != size ||
            (size > 0 && memcmp(back, data, size) != 0)) {
            abort();
        }
        lw_free(back);
        back = NULL;
    }
    lw__ch_buf_free(&b);
    if (lw__ch_unhex((const char *)data, size, &back, &n) == LW_OK) {
        for (i = 0; i < size; i++) {
            if (strchr("0123456789abcdefABCDEF", data[i]) == NULL || data[i] == '\0') {
                abort();
            }
        }
        lw_free(back);
    }
    return 0;
}
