/*
 * Internals of `logwarden parse` (src/cli/cmd_parse.c, parse_run.c, parse_out.c).
 *
 * cmd_parse.c parses the options into a struct lw_parse_opts, builds the header parser and the
 * miner, and calls lw__parse_run(). parse_run.c owns the pipeline: a serial loop for -j 1, and
 * for -j N a reader (the calling thread) that copies lines into chunks, N workers that parse,
 * mine and format each chunk, and in-order writing of the formatted chunks by the calling
 * thread. parse_out.c formats events (JSON lines, CSV) and the template table.
 */
#ifndef LW_CLI_PARSE_H
#define LW_CLI_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_miner.h"

enum lw_parse_output {
    LW_PARSE_OUTPUT_JSONL = 0,
    LW_PARSE_OUTPUT_CSV,
    LW_PARSE_OUTPUT_NONE,
};

struct lw_parse_opts {
    enum lw_parse_output output;
    int templates;                 /* print the template table at the end */
    size_t top;                    /* 0: every template, else the N most frequent */
    unsigned n_threads;            /* >= 1 */
    int quiet;
    int progress;                  /* stderr is a TTY and not quiet */
    struct lw_reader_conf rconf;
    const char *const *files;      /* borrowed from argv; "-" is stdin */
    size_t n_files;
};

/* A growable output buffer. Functions that append set @oom instead of failing one by one. */
struct lw_parse_obuf {
    char *p;
    size_t len;
    size_t cap;
    int oom;
};

/* Per-thread parse state: header scratch, miner scratch and a template text buffer. */
struct lw_parse_worker {
    struct lw_header_state *hst;
    struct lw_miner_scratch *ms;
    char *tbuf;                    /* template text of the current line */
    size_t tbuf_cap;
    uint64_t n_mismatch;           /* lines whose header did not match */
    uint64_t n_new;                /* templates this worker created */
};

/* Everything the workers share; read-only while the pipeline runs. */
struct lw_parse_ctx {
    const struct lw_parse_opts *opts;
    const struct lw_header *h;
    struct lw_miner *m;
    FILE *out;
};

/* Totals for the summary. */
struct lw_parse_stats {
    uint64_t n_lines;
    uint64_t n_bytes;
    uint64_t n_truncated;
    uint64_t n_invalid;
    uint64_t n_mismatch;
    int had_input_error;           /* a file could not be opened or read */
};

/*
 * Runs the whole pipeline over opts->files and writes events to ctx->out. Fills @st. Returns
 * LW_OK (input errors are logged, counted in @st and skipped) or a negative LW_E* code on an
 * error that stops the run (out of memory, write error).
 */
int lw__parse_run(const struct lw_parse_ctx *ctx, struct lw_parse_stats *st);

int lw__parse_worker_init(struct lw_parse_worker *w, const struct lw_parse_ctx *ctx);
void lw__parse_worker_fini(struct lw_parse_worker *w);

/*
 * Parses and mines one line and, unless the output is none, appends its formatted event to @ob.
 * @file_idx indexes opts->files. Returns LW_OK or LW_ENOMEM.
 */
int lw__parse_line(const struct lw_parse_ctx *ctx, struct lw_parse_worker *w, const char *data,
                   size_t len, uint32_t flags, uint64_t lineno, uint32_t file_idx,
                   struct lw_parse_obuf *ob);

/* Output buffers. */
int lw__parse_obuf_reserve(struct lw_parse_obuf *ob, size_t extra);
void lw__parse_obuf_fini(struct lw_parse_obuf *ob);
/* Appends @s[0..len) as a JSON string with quotes; invalid UTF-8 becomes U+FFFD. */
void lw__parse_json_str(struct lw_parse_obuf *ob, const char *s, size_t len);
/* Writes the CSV header row when the output is CSV; nothing otherwise. */
void lw__parse_out_header(const struct lw_parse_ctx *ctx);
/* Prints the template table (--templates, --top) to ctx->out. Returns LW_OK or LW_ENOMEM. */
int lw__parse_out_templates(const struct lw_parse_ctx *ctx);
/* Formats epoch nanoseconds as "2026-01-01T00:00:00.123Z" into @buf (>= 40 bytes). */
void lw__parse_iso8601(int64_t ts_ns, char *buf, size_t cap);

#endif
