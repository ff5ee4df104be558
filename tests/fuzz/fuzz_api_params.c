/*
 * libFuzzer target for the query API's parameter parsers (src/api/api_params.c): every byte
 * string a client may put in a query string goes through the time, duration, limit, id and
 * cursor parsers; a cursor that decodes must encode back to the same text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_params.h"
#include "lw/lw_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    char key[256];
    char back[LW_API_CURSOR_MAX];
    char tbuf[LW_API_TIME_LEN];
    int64_t v;
    int64_t ts;
    int64_t id;
    size_t n;

    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    if (lw_api_parse_time(s, 1796400000000000000LL, &v) == LW_OK) {
        lw_api_fmt_time(v, tbuf);
    }
    if (lw_api_parse_duration(s, &v) == LW_OK) {
        (void)lw_api_align_step(v, 10);
        (void)lw_api_pick_step(0, v, 10, 300);
    }
    (void)lw_api_parse_limit(s, 100, 1000, &n);
    (void)lw_api_parse_id(s, &v);
    if (lw_api_cursor_decode(s, &ts, &id, key, sizeof(key)) == LW_OK &&
        lw_api_cursor_encode(back, sizeof(back), ts, id, key) == LW_OK && strcmp(back, s) != 0 &&
        s[0] != '0' && s[0] != '-') {
        /* Leading zeros and "-0" decode to the same numbers but print differently. */
        if (strstr(s, ".0") == NULL && strstr(s, ".-0") == NULL) {
            abort();
        }
    }
    free(s);
    return 0;
}
