/*
 * libFuzzer target for header and timestamp parsing. The first input byte picks automatic mode
 * or one of a few explicit formats (compiled once, on the fast path or forced through PCRE2);
 * the rest is the line. For explicit formats it checks that the fast matcher and PCRE2 split the
 * line identically. Also feeds the line to lw_ts_parse() directly. Seeds: tests/data/fuzz/header/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_header.h"

static const char *const formats[] = {
    NULL,
    "<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "\\[<Time>\\] \\[<Level>\\] <Content>",
    "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>",
    "<Date> <Day> <Time> <Component> sshd\\[<Pid>\\]: <Content>",
    "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
    "<A>: <B>: end",
    "<Content> tail",
};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

static struct lw_header *headers[N_FORMATS * 2];
static struct lw_header_state *states[N_FORMATS * 2];

static void setup(void)
{
    size_t i;

    for (i = 0; i < N_FORMATS * 2; i++) {
        headers[i] = lw_header_create(formats[i % N_FORMATS], NULL, 0);
        if (headers[i] == NULL) {
            abort();
        }
        lw_header_set_fast_path(headers[i], i < N_FORMATS);
        states[i] = lw_header_state_create(headers[i]);
        if (states[i] == NULL) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct lw_header_result r;
    size_t pick;
    char *line;
    int64_t ts;

    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0) {
        return 0;
    }
    pick = data[0] % (N_FORMATS * 2);
    /* An exact-size copy, so any read past the end is caught by ASan. */
    line = malloc(size - 1 > 0 ? size - 1 : 1);
    if (line == NULL) {
        return 0;
    }
    memcpy(line, data + 1, size - 1);
    (void)lw_header_parse(headers[pick], states[pick], line, size - 1, &r);
    /* Touch every span so ASan checks it lies in live memory. */
    if (r.msg.len > 0) {
        volatile char c = r.msg.p[r.msg.len - 1];
        (void)c;
    }
    if (r.host.len > 0) {
        volatile char c = r.host.p[r.host.len - 1];
        (void)c;
    }
    if (r.component.len > 0) {
        volatile char c = r.component.p[r.component.len - 1];
        (void)c;
    }
    for (size_t i = 0; i < r.n_fields; i++) {
        if ((const char *)r.fields[i].p < line ||
            (const char *)r.fields[i].p + r.fields[i].len > line + (size - 1)) {
            abort();
        }
    }
    /* Differential: the fast matcher must split exactly as PCRE2 does whenever it applies. */
    if (pick % N_FORMATS != 0) {
        struct lw_header_result a;
        struct lw_header_result b;
        size_t k = pick % N_FORMATS;

        (void)lw_header_parse(headers[k], states[k], line, size - 1, &a);
        (void)lw_header_parse(headers[k + N_FORMATS], states[k + N_FORMATS], line, size - 1, &b);
        if (a.matched != b.matched || a.n_fields != b.n_fields) {
            abort();
        }
        for (size_t i = 0; i < a.n_fields; i++) {
            if (a.fields[i].p != b.fields[i].p || a.fields[i].len != b.fields[i].len) {
                abort();
            }
        }
    }
    (void)lw_ts_parse(line, size - 1, 2024, &ts);
    free(line);
    return 0;
}
