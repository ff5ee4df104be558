/*
 * The event-time clock (clock.h): a table of sources, each with its clock, and the global
 * watermark over them.
 *
 * Sources live in an array indexed by an open-addressing hash of their name (XXH3). The table
 * is small next to the lines it serves (one entry per file, host or stream), so the watermark
 * is computed by a walk over it; the engine asks for it once per batch and every 100 ms.
 */
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "lw/lw_clock.h"
#include "lw/lw_mem.h"

#define NS_PER_S 1000000000LL
#define FUTURE_NS (86400LL * NS_PER_S) /* a first timestamp this far past the wall clock is bad */

struct src {
    char *name;              /* NULL: free slot */
    uint64_t h;
    int64_t clock_ns;        /* last event time; INT64_MIN before the first line */
    int64_t last_arrival_ns; /* wall clock of its last line */
    int64_t suspect_ns;      /* a timestamp not believed yet, or INT64_MIN */
    bool has_ts;             /* showed a timestamp once */
};

struct lw_clock {
    struct lw_clock_conf conf;
    struct src *v;           /* open addressing; cap a power of two, at most half full */
    size_t cap;
    size_t n;
    int64_t newest_ns;
    int64_t wm_ns;           /* last watermark given (never goes back) */
    struct lw_clock_stats st;
    struct src **scratch;    /* lw_clock_lines_multi(): a batch's sources, found once */
    size_t cap_scratch;
};

static int64_t def(int64_t v, int64_t d)
{
    return v > 0 ? v : d;
}

struct lw_clock *lw_clock_create(const struct lw_clock_conf *conf)
{
    struct lw_clock *c = lw_calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    if (conf != NULL) {
        c->conf = *conf;
    }
    c->conf.lateness_ns = def(c->conf.lateness_ns, LW_CLOCK_DEFAULT_LATENESS_NS);
    c->conf.max_jump_ns = def(c->conf.max_jump_ns, LW_CLOCK_DEFAULT_MAX_JUMP_NS);
    c->conf.idle_ns = def(c->conf.idle_ns, LW_CLOCK_DEFAULT_IDLE_NS);
    c->conf.max_lag_ns = def(c->conf.max_lag_ns, LW_CLOCK_DEFAULT_MAX_LAG_NS);
    if (c->conf.idle_close_ns < 0) {
        c->conf.idle_close_ns = 0;
    }
    if (c->conf.max_sources == 0) {
        c->conf.max_sources = LW_CLOCK_DEFAULT_MAX_SOURCES;
    }
    c->cap = 64;
    c->v = lw_calloc(c->cap, sizeof(*c->v));
    if (c->v == NULL) {
        lw_free(c);
        return NULL;
    }
    c->newest_ns = INT64_MIN;
    c->wm_ns = INT64_MIN;
    return c;
}

void lw_clock_destroy(struct lw_clock *c)
{
    size_t i;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < c->cap; i++) {
        lw_free(c->v[i].name);
    }
    lw_free(c->v);
    lw_free(c->scratch);
    lw_free(c);
}

static struct src *find(const struct lw_clock *c, const char *name, uint64_t h)
{
    size_t i = (size_t)h & (c->cap - 1);

    while (c->v[i].name != NULL) {
        if (c->v[i].h == h && strcmp(c->v[i].name, name) == 0) {
            return &c->v[i];
        }
        i = (i + 1) & (c->cap - 1);
    }
    return NULL;
}

static void place(struct src *v, size_t cap, const struct src *s)
{
    size_t i = (size_t)s->h & (cap - 1);

    while (v[i].name != NULL) {
        i = (i + 1) & (cap - 1);
    }
    v[i] = *s;
}

/* Rebuilds the table at @cap without @skip (may be NULL). LW_ENOMEM leaves it as it was. */
static int rehash(struct lw_clock *c, size_t cap, const struct src *skip)
{
    struct src *v = lw_calloc(cap, sizeof(*v));
    size_t i;

    if (v == NULL) {
        return -1;
    }
    for (i = 0; i < c->cap; i++) {
        if (c->v[i].name != NULL && &c->v[i] != skip) {
            place(v, cap, &c->v[i]);
        }
    }
    lw_free(c->v);
    c->v = v;
    c->cap = cap;
    return 0;
}

/* Forgets the source that sent least recently (at max_sources). */
static void evict_one(struct lw_clock *c)
{
    struct src *old = NULL;
    char *name;
    size_t i;

    for (i = 0; i < c->cap; i++) {
        if (c->v[i].name != NULL &&
            (old == NULL || c->v[i].last_arrival_ns < old->last_arrival_ns)) {
            old = &c->v[i];
        }
    }
    if (old == NULL) {
        return;
    }
    name = old->name;
    if (rehash(c, c->cap, old) < 0) {
        return;
    }
    lw_free(name);
    c->n--;
    c->st.evicted++;
}

static struct src *get(struct lw_clock *c, const char *name)
{
    uint64_t h = XXH3_64bits(name, strlen(name));
    struct src *s = find(c, name, h);
    struct src n;

    if (s != NULL) {
        return s;
    }
    if (c->n >= c->conf.max_sources) {
        evict_one(c);
    }
    if ((c->n + 1) * 2 > c->cap && rehash(c, c->cap * 2, NULL) < 0) {
        return NULL;
    }
    memset(&n, 0, sizeof(n));
    n.name = lw_strdup(name);
    if (n.name == NULL) {
        return NULL;
    }
    n.h = h;
    n.clock_ns = INT64_MIN;
    n.suspect_ns = INT64_MIN;
    place(c->v, c->cap, &n);
    c->n++;
    return find(c, name, h);
}

/* Window index of @t (floor division, also for negative times). */
static int64_t win_of(int64_t t, int64_t w)
{
    return t >= 0 ? t / w : -((-t + w - 1) / w);
}

static int64_t dist(int64_t a, int64_t b)
{
    return a > b ? a - b : b - a;
}

/* One line of source @s (NULL: no memory for the source). */
static int64_t line_at(struct lw_clock *c, struct src *s, int64_t ts_ns, int64_t arrival_ns,
                       enum lw_clock_how *how, bool *late)
{
    enum lw_clock_how h = LW_CLOCK_OWN;
    int64_t t;
    bool bad = ts_ns != INT64_MIN && (ts_ns < 0 || ts_ns > arrival_ns + FUTURE_NS);

    if (s == NULL) {
        /* No memory for the source: the line keeps what it has. */
        t = ts_ns != INT64_MIN && !bad ? ts_ns : arrival_ns;
        h = ts_ns != INT64_MIN && !bad ? LW_CLOCK_OWN : LW_CLOCK_ARRIVAL;
        goto done;
    }
    s->last_arrival_ns = arrival_ns;
    if (ts_ns == INT64_MIN || (bad && s->clock_ns == INT64_MIN)) {
        if (s->has_ts && s->clock_ns != INT64_MIN) {
            t = s->clock_ns;
            h = ts_ns == INT64_MIN ? LW_CLOCK_INHERITED : LW_CLOCK_OUTLIER;
        }
        else {
            /* A source that never told the time runs on arrival time. */
            t = arrival_ns;
            h = ts_ns == INT64_MIN ? LW_CLOCK_ARRIVAL : LW_CLOCK_OUTLIER;
            if (s->clock_ns == INT64_MIN || t > s->clock_ns) {
                s->clock_ns = t;
            }
        }
        goto done;
    }
    if (bad) {
        t = s->clock_ns;
        h = LW_CLOCK_OUTLIER;
        goto done;
    }
    if (!s->has_ts) {
        /* The first timestamp of a source sets its clock (even behind arrival-time lines). */
        s->has_ts = true;
        s->clock_ns = ts_ns;
        t = ts_ns;
        goto done;
    }
    if (dist(ts_ns, s->clock_ns) > c->conf.max_jump_ns) {
        if (s->suspect_ns != INT64_MIN && dist(ts_ns, s->suspect_ns) <= c->conf.max_jump_ns) {
            /* Two lines agree: a real jump (a restart after a pause, a gap in a history). */
            s->clock_ns = ts_ns;
            s->suspect_ns = INT64_MIN;
            c->st.jumps++;
            t = ts_ns;
            goto done;
        }
        s->suspect_ns = ts_ns;
        t = s->clock_ns;
        h = LW_CLOCK_OUTLIER;
        goto done;
    }
    s->suspect_ns = INT64_MIN;
    if (ts_ns > s->clock_ns) {
        s->clock_ns = ts_ns;
    }
    t = ts_ns;
done:
    if (h == LW_CLOCK_INHERITED) {
        c->st.inherited++;
    }
    else if (h == LW_CLOCK_ARRIVAL) {
        c->st.arrival++;
    }
    else if (h == LW_CLOCK_OUTLIER) {
        c->st.outliers++;
    }
    if (t > c->newest_ns) {
        c->newest_ns = t;
    }
    if (c->wm_ns != INT64_MIN &&
        (c->conf.window_ns > 0 ? win_of(t, c->conf.window_ns) < win_of(c->wm_ns, c->conf.window_ns)
                               : t < c->wm_ns)) {
        c->st.late++;
        if (late != NULL) {
            *late = true;
        }
    }
    else if (late != NULL) {
        *late = false;
    }
    if (how != NULL) {
        *how = h;
    }
    return t;
}

int64_t lw_clock_line(struct lw_clock *c, const char *source, int64_t ts_ns, int64_t arrival_ns,
                      enum lw_clock_how *how, bool *late)
{
    return line_at(c, get(c, source != NULL ? source : ""), ts_ns, arrival_ns, how, late);
}

uint64_t lw_clock_lines(struct lw_clock *c, const char *source, int64_t *ts_ns, size_t n,
                        int64_t arrival_ns)
{
    /* The source is looked up once: it cannot move while its own lines are placed. */
    struct src *s = get(c, source != NULL ? source : "");
    uint64_t late = 0;
    bool is_late;
    size_t i;

    for (i = 0; i < n; i++) {
        ts_ns[i] = line_at(c, s, ts_ns[i], arrival_ns, NULL, &is_late);
        late += is_late ? 1 : 0;
    }
    return late;
}

uint64_t lw_clock_lines_multi(struct lw_clock *c, const char *const *names, size_t n_names,
                              const uint32_t *src_of, int64_t *ts_ns, size_t n,
                              int64_t arrival_ns)
{
    uint64_t late = 0;
    bool is_late;
    bool stable = true;
    size_t i;

    if (n_names > c->cap_scratch) {
        struct src **v = lw_realloc(c->scratch, n_names * sizeof(*v));

        if (v != NULL) {
            c->scratch = v;
            c->cap_scratch = n_names;
        }
    }
    if (n_names > c->cap_scratch) {
        stable = false; /* no room for the look-ups: one per line, still correct */
    }
    else {
        /*
         * Every source is made first (a new one is marked as just heard from, so that making
         * the next does not evict it), then all are found again: entries move only when a
         * source is added, so the pointers found after the last addition stay valid while the
         * lines are placed. A source evicted by a later one of the same batch (more sources
         * than max_sources) is not found again; then the slow path looks up per line.
         */
        for (i = 0; i < n_names; i++) {
            struct src *s = get(c, names[i] != NULL ? names[i] : "");

            if (s != NULL) {
                s->last_arrival_ns = arrival_ns;
            }
        }
        for (i = 0; i < n_names && stable; i++) {
            const char *nm = names[i] != NULL ? names[i] : "";

            c->scratch[i] = find(c, nm, XXH3_64bits(nm, strlen(nm)));
            stable = c->scratch[i] != NULL;
        }
    }
    for (i = 0; i < n; i++) {
        struct src *s;

        if (stable) {
            s = c->scratch[src_of[i]];
        }
        else {
            s = get(c, names[src_of[i]] != NULL ? names[src_of[i]] : "");
        }
        ts_ns[i] = line_at(c, s, ts_ns[i], arrival_ns, NULL, &is_late);
        late += is_late ? 1 : 0;
    }
    return late;
}

int64_t lw_clock_watermark(struct lw_clock *c, int64_t now_ns, bool *all_idle)
{
    int64_t lo = INT64_MAX, wm, last = INT64_MIN;
    uint64_t idle = 0;
    size_t i;

    if (c->newest_ns == INT64_MIN) {
        return INT64_MIN;
    }
    for (i = 0; i < c->cap; i++) {
        const struct src *s = &c->v[i];

        if (s->name == NULL || s->clock_ns == INT64_MIN) {
            continue;
        }
        if (s->last_arrival_ns > last) {
            last = s->last_arrival_ns;
        }
        if (now_ns - s->last_arrival_ns >= c->conf.idle_ns) {
            idle++;
            continue;
        }
        if (s->clock_ns < lo) {
            lo = s->clock_ns;
        }
    }
    c->st.sources_idle = idle;
    if (all_idle != NULL) {
        *all_idle = lo == INT64_MAX;
    }
    if (lo == INT64_MAX) {
        /*
         * Every source is quiet: event time is taken to go on with the wall clock since the
         * last line came (as it does for live sources), up to idle_close past the newest line,
         * so the windows that hold the last lines close and no empty window is made up.
         */
        int64_t quiet = last != INT64_MIN && now_ns > last ? now_ns - last : 0;

        if (quiet > c->conf.idle_close_ns + c->conf.lateness_ns) {
            quiet = c->conf.idle_close_ns + c->conf.lateness_ns;
        }
        wm = c->newest_ns + quiet - c->conf.lateness_ns;
    }
    else {
        if (lo < c->newest_ns - c->conf.max_lag_ns) {
            lo = c->newest_ns - c->conf.max_lag_ns; /* a source far behind does not hold us */
        }
        wm = lo - c->conf.lateness_ns;
    }
    if (c->wm_ns == INT64_MIN || wm > c->wm_ns) {
        c->wm_ns = wm;
    }
    return c->wm_ns;
}

int64_t lw_clock_newest(const struct lw_clock *c)
{
    return c->newest_ns;
}

int64_t lw_clock_source_time(const struct lw_clock *c, const char *source)
{
    const char *n = source != NULL ? source : "";
    const struct src *s = find(c, n, XXH3_64bits(n, strlen(n)));

    return s != NULL ? s->clock_ns : INT64_MIN;
}

void lw_clock_get_stats(const struct lw_clock *c, struct lw_clock_stats *out)
{
    *out = c->st;
    out->sources = c->n;
}
