/* Shared pieces of the detectors: configuration defaults and the save/load byte buffers. */
#include <string.h>

#include "lw/lw_detect.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define NS_PER_S 1000000000LL

void lw_detect_conf_defaults(struct lw_detect_conf *c, int64_t window_ns)
{
    memset(c, 0, sizeof(*c));
    c->threshold = 0.999;
    c->lateness_ns = 500000000LL;
    c->new_template.enabled = true;
    c->new_template.warmup_lines = 20000;
    c->new_template.warmup_ns = 60 * NS_PER_S;
    c->volume.enabled = true;
    c->volume.window_ns = window_ns > 0 ? window_ns : 10 * NS_PER_S;
    c->volume.warmup_windows = 30;
    c->volume.max_series = 50000;
    c->volume.per_source = true;
    c->volume.min_count = 10;
    c->volume.min_ratio = 2.5;
    c->level.enabled = true;
    c->level.warmup_windows = 30;
    c->level.max_sources = 10000;
    c->level.min_count = 10;
    c->session.enabled = true;
    c->session.key_pattern = NULL; /* NULL: the default pattern below */
    c->session.timeout_ns = 60 * NS_PER_S;
    c->session.max_open = 100000;
    c->session.max_events = 512;
    c->sequence.enabled = true;
    c->sequence.history = 3;
    c->sequence.top = 16;
    c->sequence.warmup_sessions = 200;
    c->sequence.max_contexts = 200000;
    c->session_counts.enabled = true;
    c->session_counts.warmup_sessions = 500;
    c->session_counts.max_train = 20000;
    c->session_counts.support = 0.998;
    c->session_counts.pca_alert = false;
    c->params.enabled = true;
    c->params.warmup_values = 200;
    c->params.max_places = 20000;
    c->params.max_values = 32;
}

void lw_detect_conf_fini(struct lw_detect_conf *c)
{
    lw_free(c->session.key_pattern);
    c->session.key_pattern = NULL;
}

/* ---- byte buffers ---- */

void lw_wbuf_put(struct lw_wbuf *b, const void *p, size_t n)
{
    if (b->err != 0 || n == 0) {
        return;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        unsigned char *np;

        while (cap < b->len + n) {
            cap *= 2;
        }
        np = lw_realloc(b->p, cap);
        if (np == NULL) {
            b->err = LW_ENOMEM;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Little-endian on the wire, whatever the host. */
void lw_wbuf_u32(struct lw_wbuf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};

    lw_wbuf_put(b, x, 4);
}

void lw_wbuf_u64(struct lw_wbuf *b, uint64_t v)
{
    lw_wbuf_u32(b, (uint32_t)v);
    lw_wbuf_u32(b, (uint32_t)(v >> 32));
}

void lw_wbuf_f64(struct lw_wbuf *b, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    lw_wbuf_u64(b, u);
}

void lw_wbuf_str(struct lw_wbuf *b, const char *s, size_t n)
{
    lw_wbuf_u32(b, (uint32_t)n);
    lw_wbuf_put(b, s, n);
}

void lw_wbuf_free(struct lw_wbuf *b)
{
    lw_free(b->p);
    memset(b, 0, sizeof(*b));
}

static const unsigned char *take(struct lw_rbuf *r, size_t n)
{
    const unsigned char *p;

    if (r->err != 0 || n > r->len - r->off) {
        r->err = LW_ECORRUPT;
        return NULL;
    }
    p = r->p + r->off;
    r->off += n;
    return p;
}

uint32_t lw_rbuf_u32(struct lw_rbuf *r)
{
    const unsigned char *p = take(r, 4);

    if (p == NULL) {
        return 0;
    }
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t lw_rbuf_u64(struct lw_rbuf *r)
{
    uint64_t lo = lw_rbuf_u32(r);

    return lo | (uint64_t)lw_rbuf_u32(r) << 32;
}

double lw_rbuf_f64(struct lw_rbuf *r)
{
    uint64_t u = lw_rbuf_u64(r);
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

size_t lw_rbuf_str(struct lw_rbuf *r, const char **s)
{
    uint32_t n = lw_rbuf_u32(r);
    const unsigned char *p = take(r, n);

    *s = (const char *)p;
    return p == NULL ? 0 : n;
}
