/*
 * `logwarden train --from FILE...`: builds every model from history. The files go through the
 * daemon's own pipeline (header, miner, detection stage) with the detectors learning and
 * reporting nothing; at the end the open sessions count as finished, and the miner state and
 * the detectors' models are saved in the store, where `logwarden run` loads them at start.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_conf.h"
#include "lw/lw_analyze.h"
#include "lw/lw_detect.h"
#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"

#define GROUP_LINES 4096
#define GROUP_BYTES ((size_t)1 << 20)
#define MAX_FROM 256

static void usage(FILE *f)
{
    fprintf(f,
            "usage: logwarden train --from FILE [--from FILE ...] [options]\n"
            "\n"
            "Builds every model from history: mines the templates and teaches every detector\n"
            "(new templates, volume and level baselines, session sequences and counts, parameter\n"
            "ranges) on the files, in order, as if they were normal traffic. The models are\n"
            "saved in the store with the miner's state; `logwarden run` on the same data\n"
            "directory loads them and reports from its first line. Training twice adds to what\n"
            "was learned.\n"
            "\n"
            "options:\n"
            "      --from FILE       a log file to learn from (repeatable; - for standard input)\n"
            "  -c, --config FILE     the daemon's YAML configuration (format, data_dir, detect:)\n"
            "  -d, --data-dir DIR    the store to train (default ./logwarden-data)\n"
            "  -f, --format FMT      header layout in <Field> notation (default: automatic)\n"
            "  -j, --workers N       parse threads (default 2)\n"
            "      --multiline MODE  how continuation lines (stack traces, tracebacks) join the\n"
            "                        line before them: auto (default), off, regex or start\n"
            "      --multiline-regex RE  the pattern of modes regex (lines matching RE continue;\n"
            "                        implied by RE alone) and start (lines NOT matching RE do)\n"
            "      --max-multiline-lines N  physical lines per record at most (default 500)\n"
            "  -h, --help            this text\n"
            "\n"
            "example:\n"
            "  logwarden train --from /var/log/app.log.1 --from /var/log/app.log.2 -d /var/lib/lw\n"
            "  logwarden run --tail '/var/log/app.log' -d /var/lib/lw\n");
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Offers a group until the pipeline takes it (LW_EAGAIN is backpressure). */
static int offer(struct lw_ingest *in, const struct lw_ingest_group *g)
{
    for (;;) {
        int rc = in->fn(in->opaque, g);

        if (rc != LW_EAGAIN) {
            return rc;
        }
        usleep(1000);
    }
}

static int feed(struct lw_ingest *in, const char *path, size_t max_line,
                const struct lw_multiline_conf *ml, uint64_t *n_lines, uint64_t *n_bytes,
                bool progress, double t0)
{
    struct lw_reader_conf rconf = {0};
    struct lw_ingest_source src = {"train", path, NULL};
    struct lw_ingest_line *lines = lw_calloc(GROUP_LINES, sizeof(*lines));
    char *buf = lw_malloc(GROUP_BYTES + max_line + 8);
    struct lw_reader *r = NULL;
    struct lw_line line;
    char err[256];
    size_t n = 0, used = 0;
    int rc = 0, more;
    double last = mono_s();

    rconf.max_line_bytes = max_line;
    lw_reader_conf_multiline(&rconf, ml);
    if (lines == NULL || buf == NULL) {
        fprintf(stderr, "logwarden train: out of memory\n");
        rc = -1;
        goto out;
    }
    r = strcmp(path, "-") == 0 ? lw_reader_open_fd(0, &rconf, err, sizeof(err))
                               : lw_reader_open(path, &rconf, err, sizeof(err));
    if (r == NULL) {
        fprintf(stderr, "logwarden train: %s: %s\n", path, err);
        rc = -1;
        goto out;
    }
    do {
        more = lw_reader_next(r, &line);
        if (more > 0) {
            memcpy(buf + used, line.data, line.len);
            lines[n].data = buf + used;
            lines[n].len = line.len;
            lines[n].flags = line.flags;
            lines[n].ts_ns = LW_TS_UNKNOWN;
            used += line.len;
            n++;
            *n_bytes += line.len + 1;
        }
        if (n > 0 && (more <= 0 || n == GROUP_LINES || used >= GROUP_BYTES)) {
            struct lw_ingest_group g = {&src, lines, n, NULL};

            if (offer(in, &g) < 0) {
                fprintf(stderr, "logwarden train: the pipeline refused lines of %s\n", path);
                rc = -1;
                goto out;
            }
            *n_lines += n;
            n = 0;
            used = 0;
            if (progress && mono_s() - last >= 1.0) {
                last = mono_s();
                fprintf(stderr, "\r%llu lines (%.0f lines/s)  ", (unsigned long long)*n_lines,
                        (double)*n_lines / (last - t0));
            }
        }
    } while (more > 0);
    if (more < 0) {
        fprintf(stderr, "logwarden train: reading %s failed\n", path);
        rc = -1;
    }
out:
    lw_reader_destroy(r);
    lw_free(lines);
    lw_free(buf);
    return rc;
}

int lw_cmd_train(int argc, char **argv)
{
    const char *from[MAX_FROM];
    size_t n_from = 0, i;
    char **rargv;
    int rargc = 0, prc, lock_fd = -1, exit_code = 1;
    struct lw_run_conf rc;
    struct lw_store_conf sc;
    struct lw_engine_conf ec;
    struct lw_store *store = NULL;
    struct lw_engine *engine = NULL;
    struct lw_ingest in;
    struct lw_multiline_conf ml;
    struct lw_detect_stats ds;
    struct lw_engine_stats es;
    char err[512];
    uint64_t n_lines = 0, n_bytes = 0;
    bool progress = isatty(fileno(stderr)) != 0;
    double t0;

    rargv = lw_calloc((size_t)argc + 4, sizeof(*rargv));
    if (rargv == NULL) {
        fprintf(stderr, "logwarden train: out of memory\n");
        return 1;
    }
    rargv[rargc++] = (char *)"train";
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            usage(stdout);
            lw_free(rargv);
            return 0;
        }
        if (strcmp(argv[k], "--from") == 0 || strncmp(argv[k], "--from=", 7) == 0) {
            const char *v = argv[k][6] == '=' ? argv[k] + 7 : k + 1 < argc ? argv[++k] : NULL;

            if (v == NULL || *v == '\0') {
                fprintf(stderr, "logwarden train: --from needs a file\n");
                lw_free(rargv);
                return 2;
            }
            if (n_from == MAX_FROM) {
                fprintf(stderr, "logwarden train: at most %d --from files\n", MAX_FROM);
                lw_free(rargv);
                return 2;
            }
            from[n_from++] = v;
            continue;
        }
        if (strcmp(argv[k], "--tail") == 0 || strcmp(argv[k], "-t") == 0 ||
            strcmp(argv[k], "--stdin") == 0 || strcmp(argv[k], "--syslog") == 0 ||
            strcmp(argv[k], "--http") == 0) {
            fprintf(stderr, "logwarden train: %s is an option of 'run'; train reads --from "
                            "files\n", argv[k]);
            lw_free(rargv);
            return 2;
        }
        rargv[rargc++] = argv[k];
    }
    if (n_from == 0) {
        fprintf(stderr, "logwarden train: give at least one --from FILE\n\n");
        usage(stderr);
        lw_free(rargv);
        return 2;
    }
    rargv[rargc++] = (char *)"--no-syslog";
    rargv[rargc++] = (char *)"--no-http";
    prc = lw_run_conf_parse(rargc, rargv, &rc);
    lw_free(rargv);
    if (prc != 0) {
        return prc == 1 ? 0 : 2;
    }
    if (lw_store_lock(rc.data_dir, &lock_fd, err, sizeof(err)) < 0) {
        fprintf(stderr, "logwarden train: %s\n", err);
        goto out;
    }
    lw_run_conf_store(&rc, &sc);
    store = lw_store_open(rc.data_dir, &sc, err, sizeof(err));
    if (store == NULL) {
        fprintf(stderr, "logwarden train: cannot open the store in '%s': %s\n", rc.data_dir, err);
        goto out;
    }
    lw_run_conf_engine(&rc, store, &ec);
    ec.detect = &rc.detect;
    ec.learn_only = true;
    engine = lw_engine_start(&ec, err, sizeof(err));
    if (engine == NULL) {
        fprintf(stderr, "logwarden train: %s\n", err);
        goto out;
    }
    in = lw_engine_ingest(engine);
    lw_run_conf_multiline(&rc.files_ml, &ml);
    t0 = mono_s();
    for (i = 0; i < n_from; i++) {
        if (feed(&in, from[i], rc.max_line_bytes, &ml, &n_lines, &n_bytes, progress, t0) < 0) {
            break;
        }
    }
    if (progress) {
        fprintf(stderr, "\r%80s\r", "");
    }
    if (lw_engine_stop_stats(engine, &es, &ds) < 0) {
        fprintf(stderr, "logwarden train: the last store transaction failed: models not saved\n");
        engine = NULL;
        goto out;
    }
    engine = NULL;
    if (i < n_from) {
        fprintf(stderr, "logwarden train: stopped at %s; what was read before is saved\n",
                from[i]);
        goto out;
    }
    printf("trained on %llu lines (%.1f MB) in %.1f s: %llu templates, %llu sessions\n",
           (unsigned long long)n_lines, (double)n_bytes / 1e6, mono_s() - t0,
           (unsigned long long)es.templates,
           (unsigned long long)(ds.sessions_ended + ds.sessions_open));
    for (i = 0; i < ds.n_detectors; i++) {
        printf("  %-16s %llu items learned%s\n", ds.names[i],
               (unsigned long long)ds.det[i].state_items,
               ds.det[i].warming_up ? " (still warming up: more history helps)" : "");
    }
    printf("models saved in %s; `logwarden run -d %s` loads them\n", rc.data_dir, rc.data_dir);
    exit_code = 0;
out:
    if (engine != NULL) {
        lw_engine_stop(engine);
    }
    lw_store_close(store);
    lw_store_unlock(lock_fd);
    lw_run_conf_fini(&rc);
    return exit_code;
}
