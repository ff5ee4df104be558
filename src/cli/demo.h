/*
 * Internal interface of `logwarden demo` between the command line (cmd_demo.c) and the log
 * simulator (demo_gen.c). Not part of the public headers.
 */
#ifndef LW_CLI_DEMO_H
#define LW_CLI_DEMO_H

#include <stdint.h>
#include <stdio.h>

struct lw_demo_conf {
    uint64_t seed;          /* PRNG seed; same seed, same output */
    uint64_t n_lines;       /* lines to write, exactly */
    int64_t start_s;        /* simulated start, seconds since the Unix epoch (UTC) */
    uint64_t rate;          /* lines per wall-clock second; 0: as fast as possible */
    int anomalies;          /* inject anomalies */
    uint32_t heartbeat_s;   /* heartbeat interval per host, seconds */
};

struct lw_demo;

/* Returns a simulator writing to @out (borrowed), or NULL when out of memory. */
struct lw_demo *lw__demo_create(const struct lw_demo_conf *conf, FILE *out);
/*
 * Writes the next line (and at most one line) to the output. Returns 1 when a line was written,
 * 0 when n_lines are done.
 */
int lw__demo_step(struct lw_demo *d);
/* Lines written so far. */
uint64_t lw__demo_lines(const struct lw_demo *d);
/* Writes the ground truth ("LINE\tKIND\tkey=KEY description"), sorted by line, to @f. */
void lw__demo_write_truth(struct lw_demo *d, FILE *f);
void lw__demo_destroy(struct lw_demo *d);

#endif
