/*
 * Context lines for anomalies (ctx_ring.h): per source, a ring of the last LW_CTX_LINES lines.
 *
 * Sources are found through an open-addressing table of XXH3 hashes (2 * LW_CTX_SOURCES slots,
 * so probes stay short); a hash match is confirmed with the name. When every ring is taken, the
 * ring fed least recently goes to the new source: the table is then rebuilt, which happens only
 * on that rare path, never per line.
 *
 * Lines are stored cut on a UTF-8 character boundary. When they are turned into JSON, a line
 * whose bytes are not valid UTF-8 has every byte outside printable ASCII replaced by '?', so
 * that jansson accepts it (it refuses invalid UTF-8) and a hostile line cannot break the
 * document; that check is made per anomaly, not per line fed.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "engine/ctx_ring.h"
#include "lw/lw_frame.h"
#include "lw/lw_mem.h"

#define SLOTS (2 * LW_CTX_SOURCES)

struct ctx_line {
    int64_t ts_ns;
    uint16_t len;
    char text[LW_CTX_LINE_MAX];
};

struct ctx_src {
    char *name;                   /* owned; NULL while the ring is free */
    uint64_t h;
    uint64_t fed;                 /* the ring's value of r->tick when last fed (LRU) */
    unsigned head;                /* next slot to write */
    unsigned n;                   /* lines held, at most LW_CTX_LINES */
    struct ctx_line *lines;       /* owned, LW_CTX_LINES entries */
};

struct lw_ctx_ring {
    struct ctx_src src[LW_CTX_SOURCES];
    int16_t slot[SLOTS];          /* index into src, or -1 */
    size_t n_src;
    uint64_t tick;
    int last;                     /* the source of the previous line, -1 when none */
};

static void rebuild(struct lw_ctx_ring *r)
{
    size_t i;

    for (i = 0; i < SLOTS; i++) {
        r->slot[i] = -1;
    }
    for (i = 0; i < r->n_src; i++) {
        size_t k = (size_t)(r->src[i].h % SLOTS);

        while (r->slot[k] >= 0) {
            k = (k + 1) % SLOTS;
        }
        r->slot[k] = (int16_t)i;
    }
}

struct lw_ctx_ring *lw_ctx_ring_create(void)
{
    struct lw_ctx_ring *r = lw_calloc(1, sizeof(*r));

    if (r == NULL) {
        return NULL;
    }
    r->last = -1;
    rebuild(r);
    return r;
}

void lw_ctx_ring_destroy(struct lw_ctx_ring *r)
{
    size_t i;

    if (r == NULL) {
        return;
    }
    for (i = 0; i < r->n_src; i++) {
        lw_free(r->src[i].name);
        lw_free(r->src[i].lines);
    }
    lw_free(r);
}

/* The ring of @name, or -1. */
static int find(const struct lw_ctx_ring *r, const char *name, uint64_t h)
{
    size_t k = (size_t)(h % SLOTS);

    while (r->slot[k] >= 0) {
        const struct ctx_src *s = &r->src[r->slot[k]];

        if (s->h == h && strcmp(s->name, name) == 0) {
            return r->slot[k];
        }
        k = (k + 1) % SLOTS;
    }
    return -1;
}

/* A ring for a new source @name: a free one, or the least recently fed. -1 on LW_ENOMEM. */
static int take(struct lw_ctx_ring *r, const char *name, uint64_t h)
{
    char *copy = lw_strdup(name);
    struct ctx_src *s;
    size_t i, pick = 0;

    if (copy == NULL) {
        return -1;
    }
    if (r->n_src < LW_CTX_SOURCES) {
        s = &r->src[r->n_src];
        s->lines = lw_malloc(LW_CTX_LINES * sizeof(*s->lines));
        if (s->lines == NULL) {
            lw_free(copy);
            return -1;
        }
        pick = r->n_src++;
    }
    else {
        for (i = 1; i < r->n_src; i++) {
            if (r->src[i].fed < r->src[pick].fed) {
                pick = i;
            }
        }
        s = &r->src[pick];
        lw_free(s->name);
    }
    s->name = copy;
    s->h = h;
    s->head = 0;
    s->n = 0;
    rebuild(r);
    return (int)pick;
}

void lw_ctx_ring_add(struct lw_ctx_ring *r, const char *source, int64_t ts_ns, const char *line,
                     size_t len)
{
    struct ctx_src *s;
    struct ctx_line *l;
    int k;

    if (r == NULL || line == NULL) {
        return;
    }
    if (source == NULL) {
        source = "";
    }
    /* Most batches come from one source: skip the hash for a run of its lines. */
    k = r->last;
    if (k < 0 || strcmp(r->src[k].name, source) != 0) {
        uint64_t h = XXH3_64bits(source, strlen(source));

        k = find(r, source, h);
        if (k < 0) {
            k = take(r, source, h);
            if (k < 0) {
                return;
            }
        }
        r->last = k;
    }
    s = &r->src[k];
    s->fed = ++r->tick;
    l = &s->lines[s->head];
    s->head = (s->head + 1) % LW_CTX_LINES;
    if (s->n < LW_CTX_LINES) {
        s->n++;
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }
    if (len > LW_CTX_LINE_MAX) {
        len = LW_CTX_LINE_MAX;
        /* Do not end inside a UTF-8 sequence. */
        while (len > 0 && ((unsigned char)line[len] & 0xC0) == 0x80) {
            len--;
        }
    }
    memcpy(l->text, line, len);
    l->len = (uint16_t)len;
    l->ts_ns = ts_ns;
}

/*
 * @l's text made safe for jansson into @out (LW_CTX_LINE_MAX bytes): as is when it is valid
 * UTF-8, else every byte outside printable ASCII replaced by '?'. Done here, for the few lines
 * of an anomaly, rather than for every line fed.
 */
static const char *clean_text(const struct ctx_line *l, char *out)
{
    size_t i;

    if (lw_utf8_valid(l->text, l->len)) {
        return l->text;
    }
    for (i = 0; i < l->len; i++) {
        unsigned char c = (unsigned char)l->text[i];

        out[i] = c >= 0x80 || c == 0 ? '?' : (char)c;
    }
    return out;
}

char *lw_ctx_ring_json(const struct lw_ctx_ring *r, const char *source)
{
    const struct ctx_src *s;
    const struct ctx_line *order[LW_CTX_LINES];
    json_t *arr;
    char *out, *copy;
    unsigned i, j, n;
    int k;

    if (r == NULL) {
        return NULL;
    }
    if (source == NULL) {
        source = "";
    }
    k = find(r, source, XXH3_64bits(source, strlen(source)));
    if (k < 0 || r->src[k].n == 0) {
        return NULL;
    }
    s = &r->src[k];
    /* Oldest first, then a stable insertion sort by event time (lines may come late). */
    n = s->n;
    for (i = 0; i < n; i++) {
        order[i] = &s->lines[(s->head + LW_CTX_LINES - n + i) % LW_CTX_LINES];
    }
    for (i = 1; i < n; i++) {
        const struct ctx_line *x = order[i];

        for (j = i; j > 0 && order[j - 1]->ts_ns > x->ts_ns; j--) {
            order[j] = order[j - 1];
        }
        order[j] = x;
    }
    arr = json_array();
    if (arr == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        char buf[LW_CTX_LINE_MAX];
        json_t *o = json_pack("{s:I,s:s%}", "time", (json_int_t)order[i]->ts_ns, "line",
                              clean_text(order[i], buf), (size_t)order[i]->len);

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (out == NULL) {
        return NULL;
    }
    /* jansson allocates with malloc; the caller frees with lw_free. */
    copy = lw_strdup(out);
    free(out);
    return copy;
}
