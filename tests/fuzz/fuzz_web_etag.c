/*
 * libFuzzer target for the dashboard's If-None-Match parser (src/api/api_web.c): any header value
 * is matched against every compiled-in file's ETag without reading past its end, and a value that
 * is exactly an ETag matches it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_api_web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    size_t i;

    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    (void)lw__api_web_etag_matches(s, "\"0123456789abcdef0123\"");
    for (i = 0; i < lw_n_web_assets; i++) {
        const char *etag = lw_web_assets[i].etag;

        if (strcmp(s, etag) == 0 && !lw__api_web_etag_matches(s, etag)) {
            abort();
        }
    }
    free(s);
    return 0;
}
