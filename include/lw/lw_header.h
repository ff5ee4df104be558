/*
 * Header parsing: splits a log line into its header fields (time, level, host, component, pid,
 * ...) and its free-text message, and turns the timestamp into epoch nanoseconds.
 *
 * Two modes: an explicit layout in the <Field> notation of the Loghub tools
 * ("<Date> <Time> <Level> <Component>: <Content>"; text between fields is literal, runs of spaces
 * match one or more blanks, regex syntax such as "(\[<PID>\])?" is allowed), or automatic
 * recognition of common layouts (RFC 3164 and RFC 5424 syslog, ISO 8601 / RFC 3339 prefixes,
 * JSON lines, logfmt, Apache/Nginx access and error logs, log4j/logback lines).
 *
 * A compiled struct lw_header is immutable and can be shared by threads; each thread owns its
 * own struct lw_header_state (scratch memory, regex match data).
 */
#ifndef LW_HEADER_H
#define LW_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "lw/lw_level.h"

#define LW_TS_UNKNOWN INT64_MIN   /* no timestamp could be parsed */
#define LW_HEADER_MAX_FIELDS 24

/* Well-known roles a field can play; a field named "Time", "Date", "Level", ... gets its role. */
enum lw_field_role {
    LW_FIELD_OTHER = 0,
    LW_FIELD_CONTENT,
    LW_FIELD_TIME,      /* any part of the timestamp: Date, Time, Timestamp, Month, Day, Year */
    LW_FIELD_LEVEL,
    LW_FIELD_HOST,
    LW_FIELD_COMPONENT,
    LW_FIELD_PID,
};

struct lw_span {
    const char *p;  /* borrowed: points into the line or into the state's scratch memory */
    size_t len;
};

struct lw_header_result {
    struct lw_span msg;        /* the free-text message (the whole line when no header matched) */
    int64_t ts_ns;             /* epoch nanoseconds, UTC, or LW_TS_UNKNOWN */
    enum lw_level level;
    struct lw_span host;       /* empty when absent */
    struct lw_span component;  /* empty when absent */
    int matched;               /* 1 when the layout matched; 0: the whole line is the message */
    const char *layout;        /* static name of the recognised layout: "format", "rfc5424", ... */
    size_t n_fields;
    struct lw_span fields[LW_HEADER_MAX_FIELDS];  /* by index, names from lw_header_field_name() */
};

struct lw_header;
struct lw_header_state;

/*
 * Compiles @format (<Field> notation) or, when @format is NULL or "auto", the automatic
 * recognizer. On a bad format returns NULL and writes a message that names the problem into
 * @err (capacity @err_len).
 */
struct lw_header *lw_header_create(const char *format, char *err, size_t err_len);
void lw_header_destroy(struct lw_header *h);
/* Number of named fields in an explicit format (0 in automatic mode), and their names. */
size_t lw_header_n_fields(const struct lw_header *h);
const char *lw_header_field_name(const struct lw_header *h, size_t i);

struct lw_header_state *lw_header_state_create(const struct lw_header *h);
void lw_header_state_destroy(struct lw_header_state *st);

/*
 * Parses one line. Spans in @out point into @line or into @st's scratch memory and stay valid
 * until the next call with @st. Never fails: a line that matches no layout becomes a message
 * with matched = 0. Returns LW_OK, or LW_ENOMEM.
 */
int lw_header_parse(const struct lw_header *h, struct lw_header_state *st, const char *line,
                    size_t len, struct lw_header_result *out);

/*
 * Timestamp parsing, usable on its own: recognises ISO 8601 / RFC 3339 (with fraction and zone),
 * RFC 3164 "Mmm dd hh:mm:ss" (year from @ref_year), Apache "Sun Dec 04 04:47:44 2005", epoch
 * seconds/millis, "yy/MM/dd HH:mm:ss", "yyMMdd HHmmss", "yyyy.MM.dd", "yyyy-MM-dd-HH.mm.ss.ffffff",
 * log4j "yyyy-MM-dd HH:mm:ss,SSS". Returns the number of bytes consumed (>0) and sets @ts_ns, or 0.
 */
size_t lw_ts_parse(const char *s, size_t len, int ref_year, int64_t *ts_ns);

/*
 * Converts a UTC civil date and time to epoch nanoseconds (proleptic Gregorian calendar, no
 * time zone database, no globals: safe from any thread). Returns 0 and sets @ts_ns, or
 * LW_EINVAL when a field is out of range or the result does not fit in int64 nanoseconds
 * (years 1678..2261).
 */
int lw_ts_from_civil(int year, int month, int day, int hour, int min, int sec, long nsec,
                     int64_t *ts_ns);

/*
 * Sets the year used for timestamps that carry none (RFC 3164 "Jun 14 15:16:01"). The default
 * is the current UTC year at lw_header_create(). Call before sharing @h with other threads.
 */
void lw_header_set_ref_year(struct lw_header *h, int year);

/*
 * Enables (1, the default) or disables (0) the hand-written matcher for plain explicit formats;
 * when disabled every line goes through PCRE2. For benchmarks and for tests that check both
 * paths agree. Call before sharing @h with other threads.
 */
void lw_header_set_fast_path(struct lw_header *h, int on);

/*
 * Internal to src/parse/header*.c: the automatic recognizer. Decoded text (JSON or logfmt
 * unescaping) goes into @scratch (capacity @scratch_cap bytes, truncated at the cap).
 */
void lw__header_auto_parse(const char *line, size_t len, int ref_year, char *scratch,
                           size_t scratch_cap, struct lw_header_result *out);

#endif
