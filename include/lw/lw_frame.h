/*
 * Line framing for files and streams: LF and CRLF endings, a maximum line length (a longer line
 * is truncated and flagged, its rest skipped, never split into fake lines), gzip read
 * transparently, and optional multi-line grouping (continuation lines join the line they follow).
 *
 * A reader is used by one thread at a time. Lines returned by lw_reader_next() are borrowed: they
 * stay valid until the next call to lw_reader_next() or lw_reader_destroy().
 */
#ifndef LW_FRAME_H
#define LW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define LW_LINE_TRUNCATED 0x1u /* the line was longer than max_line_bytes */
#define LW_LINE_INVALID   0x2u /* the line holds invalid UTF-8 or NUL bytes (passed through) */
#define LW_LINE_MULTI     0x4u /* the line is several physical lines joined by multi-line rules */

enum lw_multiline_mode {
    LW_MULTILINE_OFF = 0,
    LW_MULTILINE_AUTO,  /* lines starting with white space, "at ", "Caused by:", "...", a Java
                         * exception line ("pkg.FooException: msg") and Python tracebacks
                         * continue */
    LW_MULTILINE_REGEX, /* lines matching @continue_regex continue the previous line */
    LW_MULTILINE_START, /* lines NOT matching @start_regex continue the previous line */
};

struct lw_reader_conf {
    size_t max_line_bytes;          /* 0: default 65536 */
    enum lw_multiline_mode multiline;
    const char *regex;              /* PCRE2 pattern for LW_MULTILINE_REGEX / _START */
    size_t max_multiline_lines;     /* 0: default 500 physical lines joined at most */
};

/*
 * How an input joins continuation lines, as its configuration states it (inputs.<name>.multiline,
 * multiline_regex, max_multiline_lines in docs/config.md). Every input that frames text uses the
 * same struct; lw_reader_conf_multiline() copies it into a reader's configuration.
 */
struct lw_multiline_conf {
    enum lw_multiline_mode mode;
    const char *regex;              /* PCRE2 pattern for _REGEX and _START; borrowed */
    size_t max_lines;               /* physical lines joined at most; 0: default 500 */
};

struct lw_line {
    const char *data;  /* the line without its terminator; not NUL-terminated */
    size_t len;        /* bytes in @data (at most max_line_bytes) */
    uint32_t flags;    /* LW_LINE_* */
    uint64_t offset;   /* byte offset of the line's start in the (decompressed) stream */
    uint64_t lineno;   /* 1-based physical line number of the line's first line */
};

struct lw_reader;

/*
 * Opens @path ("-" is stdin) for reading; gzip is detected by its magic bytes. Returns NULL and
 * writes a message into @err (capacity @err_len) on failure.
 */
struct lw_reader *lw_reader_open(const char *path, const struct lw_reader_conf *conf, char *err,
                                 size_t err_len);
/* Reads from a caller-owned fd (not closed by destroy). */
struct lw_reader *lw_reader_open_fd(int fd, const struct lw_reader_conf *conf, char *err,
                                    size_t err_len);
/*
 * Returns 1 and fills @line when a line is available, 0 at the end of input, or a negative LW_E*
 * code on a read error (the reader can not be used after that).
 */
int lw_reader_next(struct lw_reader *r, struct lw_line *line);
/* Counters: bytes read (decompressed), truncated lines, invalid lines. */
uint64_t lw_reader_bytes(const struct lw_reader *r);
uint64_t lw_reader_n_truncated(const struct lw_reader *r);
uint64_t lw_reader_n_invalid(const struct lw_reader *r);
/*
 * Returns a message for the error lw_reader_next() last returned ("cannot read 'x': ...", "'x':
 * corrupt gzip data: ..."), or "" when there was none. Owned by @r.
 */
const char *lw_reader_error(const struct lw_reader *r);
void lw_reader_destroy(struct lw_reader *r);

/*
 * Frames lines out of an in-memory buffer (used by the fuzzer and tests, and by inputs that
 * receive whole buffers). Calls @cb for each line; a final line without a terminator is returned
 * too. @buf is borrowed and never written; line data points into it (or into a join buffer that
 * lives until @cb returns). A negative return from @cb stops framing and is returned. Returns the
 * number of lines (capped at INT_MAX) or a negative LW_E* code (LW_EINVAL for a bad regex).
 */
typedef int (*lw_line_cb)(void *opaque, const struct lw_line *line);
int lw_frame_buffer(const char *buf, size_t len, const struct lw_reader_conf *conf, lw_line_cb cb,
                    void *opaque);

/* Sets the multi-line fields of @rconf from @ml (NULL: no joining). */
void lw_reader_conf_multiline(struct lw_reader_conf *rconf, const struct lw_multiline_conf *ml);

/*
 * Reads a mode name ("auto", "off", "regex", "start") into *@out. Returns LW_OK or LW_EINVAL.
 */
int lw_multiline_mode_parse(const char *name, enum lw_multiline_mode *out);
/* The name of @mode ("auto", "off", "regex", "start"). */
const char *lw_multiline_mode_name(enum lw_multiline_mode mode);

/*
 * Checks @ml as a reader would at open: a pattern for the regex modes that compiles, none for the
 * others. Returns LW_OK, or LW_EINVAL (LW_ENOMEM) with a message in @err (capacity @err_len).
 * Thread-safe.
 */
int lw_multiline_check(const struct lw_multiline_conf *ml, char *err, size_t err_len);

/*
 * The joining rules alone, for inputs that frame lines themselves and must know where every
 * record starts (the file tail keeps byte offsets for its checkpoints). They are the reader's
 * own rules, so a file joined by the tail and the same file joined by a reader give the same
 * records. A record starts with lw_multiline_first() on its first physical line, which returns
 * the record's state; lw_multiline_continues() says whether the next physical line continues
 * the record and updates that state (a Python traceback waits for its exception line). The
 * caller stops a record at lw_multiline_max_lines() physical lines itself, as a reader does.
 * One thread at a time (the regex's match data is shared).
 */
struct lw_multiline;

/*
 * Compiles @ml. Returns NULL for LW_MULTILINE_OFF (or @ml NULL) with @err set to "", and NULL
 * with a message in @err (capacity @err_len) when @ml is wrong (as lw_multiline_check() says)
 * or memory runs out. @ml->regex is copied (compiled).
 */
struct lw_multiline *lw_multiline_create(const struct lw_multiline_conf *ml, char *err,
                                         size_t err_len);
/* @m may be NULL. */
void lw_multiline_destroy(struct lw_multiline *m);
/* The state of a record whose first physical line is @s[0..len). */
unsigned lw_multiline_first(struct lw_multiline *m, const char *s, size_t len);
/* Returns 1 when @s[0..len) continues the record in *@state (and updates it), else 0. */
int lw_multiline_continues(struct lw_multiline *m, unsigned *state, const char *s, size_t len);
/* Physical lines a record holds at most (max_lines, or the default 500). */
size_t lw_multiline_max_lines(const struct lw_multiline *m);

/*
 * Returns 1 when @s[0..len) is a Java (or .NET, Kotlin) exception line: a qualified class name
 * whose simple name ends in "Exception", "Error" or "Throwable", alone or followed by ':' and
 * a message ("java.lang.IllegalStateException: boom", "com.x.Outer$FooException"), else 0.
 * LW_MULTILINE_AUTO joins such a line to the line before it, and the engine mines it together
 * with the first line of a record. Thread-safe.
 */
int lw_exception_line(const char *s, size_t len);

/* Returns 1 when @s[0..len) is valid UTF-8 without NUL bytes, else 0. */
int lw_utf8_valid(const char *s, size_t len);

#endif
