/*
 * The event-time clock of the analysis layer: one clock per source (a file, a host, a stream),
 * and a global watermark derived from them. It decides the event time of every line the daemon
 * counts and detects on, so that windows, sessions and alert limits all run on the time the logs
 * tell, never on the time they happened to arrive:
 *
 *   - A line with a believable timestamp keeps it and moves its source's clock forward.
 *   - A line without one (a stack-trace continuation, a bare message) takes its source's last
 *     event time; only a source that never showed a timestamp runs on arrival time.
 *   - A timestamp more than max_jump away from its source's recent lines (a line dated years
 *     ahead, a stray old date) is not believed: the line takes the source's time and is counted
 *     as an outlier. The next line confirms a real jump (a restart after a long pause, a gap in
 *     a replayed history): when it lies near the suspect one, the clock jumps with it.
 *   - The global watermark is the oldest clock among the sources that are still sending, minus
 *     the allowed lateness (but never more than max_lag behind the newest event time): a
 *     backfill of several files at slightly different speeds is not "late". A
 *     source that has sent nothing for idle_ns of wall time no longer holds it back; when every
 *     source is idle, event time is taken to go on with the wall clock from the newest line, up
 *     to idle_close_ns past it, so that the windows holding the last lines close (and nothing
 *     more: no empty windows are made up).
 *
 * Decisions about a line depend only on the lines of its source before it, so the same input
 * gives the same event times at any replay speed. Single-threaded: the engine's aggregator owns
 * the clock.
 */
#ifndef LW_CLOCK_H
#define LW_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LW_CLOCK_DEFAULT_LATENESS_NS 500000000LL          /* 500 ms */
#define LW_CLOCK_DEFAULT_MAX_JUMP_NS (3600LL * 1000000000LL)  /* 1 h */
#define LW_CLOCK_DEFAULT_IDLE_NS (5LL * 1000000000LL)      /* 5 s of wall time */
#define LW_CLOCK_DEFAULT_MAX_LAG_NS (60LL * 1000000000LL)     /* 60 s */
#define LW_CLOCK_DEFAULT_MAX_SOURCES 65536

/* How a line's event time was decided (lw_clock_line). */
enum lw_clock_how {
    LW_CLOCK_OWN = 0,      /* its own timestamp */
    LW_CLOCK_INHERITED,    /* no timestamp: the source's last event time */
    LW_CLOCK_ARRIVAL,      /* no timestamp and the source never had one: arrival time */
    LW_CLOCK_OUTLIER,      /* a timestamp too far from the source's clock: the source's time */
};

struct lw_clock_conf {
    int64_t lateness_ns;     /* allowed lateness behind the watermark; 0: default 500 ms */
    int64_t max_jump_ns;     /* farther from the source's clock is suspect; 0: default 1 h */
    int64_t idle_ns;         /* wall time without a line: the source is idle; 0: default 5 s */
    int64_t idle_close_ns;   /* how far past the newest event time an all-idle watermark goes;
                              * the engine sets window - 1 ns; 0: none */
    int64_t max_lag_ns;      /* the watermark never trails the newest event time by more than
                              * this (plus lateness): a source that far behind is late;
                              * 0: default 60 s */
    size_t max_sources;      /* 0: default 65536; beyond it the least recent source goes */
    int64_t window_ns;       /* a line is late when its window ended before the watermark;
                              * 0: when it is behind the watermark */
};

struct lw_clock_stats {
    uint64_t sources;        /* gauge */
    uint64_t sources_idle;   /* gauge, as of the last watermark */
    uint64_t inherited;      /* lines that took their source's time */
    uint64_t arrival;        /* lines on arrival time */
    uint64_t outliers;       /* timestamps not believed */
    uint64_t jumps;          /* confirmed jumps of a source's clock */
    uint64_t late;           /* lines behind the watermark when they came */
    uint64_t evicted;        /* sources forgotten at max_sources */
};

struct lw_clock;

/* NULL on LW_ENOMEM. */
struct lw_clock *lw_clock_create(const struct lw_clock_conf *conf);
void lw_clock_destroy(struct lw_clock *c);

/*
 * Decides the event time of one line of source @source (a NUL-ended name: file path, host,
 * stream; "" is a source too). @ts_ns is the line's parsed timestamp or INT64_MIN for none;
 * @arrival_ns the wall clock when it was accepted. Returns the event time to use and sets *@how
 * (may be NULL). *@late (may be NULL) tells whether the line is late: its window (window_ns)
 * ended at or before the current watermark, so detectors that closed it miss the line.
 * Never fails: without memory for a new source the line keeps its timestamp (or arrival time).
 */
int64_t lw_clock_line(struct lw_clock *c, const char *source, int64_t ts_ns, int64_t arrival_ns,
                      enum lw_clock_how *how, bool *late);

/*
 * lw_clock_line() for @n lines of one source (a batch), in order: each @ts_ns[i] (INT64_MIN for
 * none) is replaced by the line's event time. The source is looked up once, not per line.
 * Returns how many were late.
 */
uint64_t lw_clock_lines(struct lw_clock *c, const char *source, int64_t *ts_ns, size_t n,
                        int64_t arrival_ns);

/*
 * lw_clock_lines() for @n lines of several sources (a batch whose lines name their hosts): line
 * i belongs to source @names[@src_of[i]] (@src_of[i] < @n_names). Lines are placed in order, so
 * each source sees its own lines in order and the result is the same as lw_clock_line() line by
 * line. Each source is looked up once per call, not per line. Returns how many were late.
 */
uint64_t lw_clock_lines_multi(struct lw_clock *c, const char *const *names, size_t n_names,
                              const uint32_t *src_of, int64_t *ts_ns, size_t n,
                              int64_t arrival_ns);

/*
 * The global watermark at wall time @now_ns: event time below which no more lines are
 * expected. INT64_MIN before the first line. It never goes backwards. *@all_idle (may be NULL)
 * tells that every source is idle: the windows it closes may be partial (a backfill that ended,
 * a pause), so detectors judge them for what they hold (a spike) but not for what they lack.
 */
int64_t lw_clock_watermark(struct lw_clock *c, int64_t now_ns, bool *all_idle);

/* Newest event time of any source, INT64_MIN before the first line. */
int64_t lw_clock_newest(const struct lw_clock *c);

/*
 * The event time of source @source: its last event time, or INT64_MIN when unknown. For
 * findings and alerts that want "now" in the source's terms.
 */
int64_t lw_clock_source_time(const struct lw_clock *c, const char *source);

void lw_clock_get_stats(const struct lw_clock *c, struct lw_clock_stats *out);

#endif
