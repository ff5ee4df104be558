/*
 * `logwarden train --from FILE...`: builds every model from history. The files, merged by event
 * time, go through the daemon's own pipeline (header, miner, detection stage) with the
 * detectors learning and reporting nothing; at the end the open sessions count as finished, and
 * the miner state and the detectors' models are saved in the store, where `logwarden run` loads
 * them at start.
 */
#include <errno.h>
#include <stdint.h>
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
            "ranges) on the files, merged by the time of their lines (each file in time order),\n"
            "as if they were normal traffic. The models are\n"
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

/*
 * The files of --from, merged by event time. Each file is assumed to be in time order; the
 * merge always takes the file whose next record is oldest, so that every file's lines arrive as
 * they happened and none is "late" for the event-time windows (read one after another, every
 * file after the first would be hours behind the pipeline's clock). A record's time comes from
 * the engine's own header parser (lw_header, lw_ts_parse) on its first line; a record without
 * one keeps the time of the record before it in its file, so it stays with that record.
 *
 * A file is opened only when the merge reaches the time of its first record (read once at
 * start), so rotated files that follow one another cost one reader at a time, not one each.
 * Groups hold the lines of one file (the source travels with the group); to keep them large
 * when files interleave closely, the file being read goes on while its records are at most
 * half the allowed lateness ahead of the other files' next records, which no source's clock
 * counts as late.
 */
struct train_file {
    const char *path;
    struct lw_reader *r;    /* open while the file takes part in the merge */
    struct lw_line head;    /* its next record, borrowed from @r */
    int64_t key;            /* @head's event time, or the last one before it; INT64_MIN: none */
    int64_t first_key;      /* the first record's, from the look at start */
    bool done;              /* read to its end (or never opened: empty) */
};

struct train_merge {
    struct lw_ingest *in;
    struct lw_reader_conf rconf;
    struct lw_header *header;
    struct lw_header_state *hst;
    struct train_file *files;
    size_t n_files;
    size_t *order;          /* files by first_key: opened in this order */
    size_t next_open;       /* the next file of @order to open */
    int64_t slack_ns;
    /* The group being filled: lines of one file. */
    struct lw_ingest_line *lines;
    char *buf;
    size_t n;
    size_t used;
    size_t group_file;
    uint64_t n_lines;
    uint64_t n_bytes;
    bool progress;
    double t0;
    double last;
};

/* The event time of @l's first physical line, or LW_TS_UNKNOWN. */
static int64_t record_ts(struct train_merge *m, const struct lw_line *l)
{
    struct lw_header_result res;
    const char *nl = (l->flags & LW_LINE_MULTI) ? memchr(l->data, '\n', l->len) : NULL;
    size_t len = nl != NULL ? (size_t)(nl - l->data) : l->len;

    if (lw_header_parse(m->header, m->hst, l->data, len, &res) < 0) {
        return LW_TS_UNKNOWN;
    }
    return res.ts_ns;
}

/* Reads @f's next record into its head: 1, 0 at its end (closed), or -1 (reported). */
static int file_next(struct train_merge *m, struct train_file *f)
{
    int64_t ts;
    int rc = lw_reader_next(f->r, &f->head);

    if (rc < 0) {
        fprintf(stderr, "logwarden train: reading %s failed: %s\n", f->path,
                lw_reader_error(f->r));
        return -1;
    }
    if (rc == 0) {
        lw_reader_destroy(f->r);
        f->r = NULL;
        f->done = true;
        return 0;
    }
    if (m->n_files > 1) {
        ts = record_ts(m, &f->head);
        if (ts != LW_TS_UNKNOWN) {
            f->key = ts;
        }
    }
    return 1;
}

static int file_open(struct train_merge *m, struct train_file *f)
{
    char err[256];

    f->r = strcmp(f->path, "-") == 0 ? lw_reader_open_fd(0, &m->rconf, err, sizeof(err))
                                     : lw_reader_open(f->path, &m->rconf, err, sizeof(err));
    if (f->r == NULL) {
        fprintf(stderr, "logwarden train: %s: %s\n", f->path, err);
        return -1;
    }
    f->key = INT64_MIN;
    return file_next(m, f);
}

/* Hands the group to the pipeline. */
static int flush_group(struct train_merge *m)
{
    struct train_file *f = &m->files[m->group_file];
    struct lw_ingest_source src = {.input = "train", .name = f->path};
    struct lw_ingest_group g = {.source = &src, .lines = m->lines, .n_lines = m->n};

    if (m->n == 0) {
        return 0;
    }
    if (offer(m->in, &g) < 0) {
        fprintf(stderr, "logwarden train: the pipeline refused lines of %s\n", f->path);
        return -1;
    }
    m->n_lines += m->n;
    m->n = 0;
    m->used = 0;
    if (m->progress && mono_s() - m->last >= 1.0) {
        m->last = mono_s();
        fprintf(stderr, "\r%llu lines (%.0f lines/s)  ", (unsigned long long)m->n_lines,
                (double)m->n_lines / (m->last - m->t0));
    }
    return 0;
}

/* Copies @i's head into the group (flushing first when the file changes or it is full). */
static int take(struct train_merge *m, size_t i)
{
    const struct lw_line *l = &m->files[i].head;

    if (m->n > 0 && (m->group_file != i || m->n == GROUP_LINES || m->used >= GROUP_BYTES) &&
        flush_group(m) < 0) {
        return -1;
    }
    m->group_file = i;
    memcpy(m->buf + m->used, l->data, l->len);
    m->lines[m->n].data = m->buf + m->used;
    m->lines[m->n].len = l->len;
    m->lines[m->n].flags = l->flags;
    m->lines[m->n].ts_ns = LW_TS_UNKNOWN;
    m->lines[m->n].level = 0;
    m->used += l->len;
    m->n++;
    m->n_bytes += l->len + 1;
    return 0;
}

/* Reads each file's first record for its time, then closes it (stdin stays open). */
static int look_ahead(struct train_merge *m)
{
    size_t i;
    size_t j;

    for (i = 0; i < m->n_files; i++) {
        struct train_file *f = &m->files[i];
        int rc = file_open(m, f);

        if (rc < 0) {
            return -1;
        }
        f->first_key = f->key;
        if (rc > 0 && strcmp(f->path, "-") != 0) {
            lw_reader_destroy(f->r);
            f->r = NULL;
        }
        m->order[i] = i;
    }
    /* Insertion sort by first_key, stable: files with equal times keep the command's order. */
    for (i = 1; i < m->n_files; i++) {
        size_t k = m->order[i];

        for (j = i; j > 0 && m->files[m->order[j - 1]].first_key > m->files[k].first_key; j--) {
            m->order[j] = m->order[j - 1];
        }
        m->order[j] = k;
    }
    return 0;
}

/*
 * Feeds every file to the pipeline in event-time order. Returns 0, or -1 (reported) with what
 * was read before handed over.
 */
static int merge_feed(struct train_merge *m)
{
    for (;;) {
        size_t i;
        size_t best = SIZE_MAX;
        int64_t bound = INT64_MAX;

        /* Open the files whose first record is due (the earliest first when none is open). */
        for (i = 0; i < m->n_files; i++) {
            const struct train_file *f = &m->files[i];

            if (f->r != NULL && (best == SIZE_MAX || f->key < m->files[best].key)) {
                best = i;
            }
        }
        while (m->next_open < m->n_files) {
            struct train_file *f = &m->files[m->order[m->next_open]];

            if (best != SIZE_MAX && f->first_key > m->files[best].key) {
                break;
            }
            m->next_open++;
            if (f->r == NULL && !f->done && file_open(m, f) < 0) {
                return -1;
            }
            if (f->r != NULL &&
                (best == SIZE_MAX || f->key < m->files[best].key ||
                 (f->key == m->files[best].key && (size_t)(f - m->files) < best))) {
                best = (size_t)(f - m->files);
            }
        }
        if (best == SIZE_MAX) {
            break;
        }
        /* The oldest next record of the other files, and of the files not open yet. */
        for (i = 0; i < m->n_files; i++) {
            if (i != best && m->files[i].r != NULL && m->files[i].key < bound) {
                bound = m->files[i].key;
            }
        }
        if (m->next_open < m->n_files &&
            m->files[m->order[m->next_open]].first_key < bound) {
            bound = m->files[m->order[m->next_open]].first_key;
        }
        if (bound != INT64_MAX) {
            bound = bound > INT64_MAX - m->slack_ns ? INT64_MAX : bound + m->slack_ns;
        }
        /* A run of @best's records up to the bound (at least one). */
        do {
            int rc;

            if (take(m, best) < 0) {
                return -1;
            }
            rc = file_next(m, &m->files[best]);
            if (rc < 0) {
                return -1;
            }
            if (rc == 0) {
                break;
            }
        } while (m->files[best].key <= bound);
    }
    return flush_group(m);
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
    struct train_merge m;
    bool merged;
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
    memset(&m, 0, sizeof(m));
    m.in = &in;
    m.rconf.max_line_bytes = rc.max_line_bytes;
    lw_reader_conf_multiline(&m.rconf, &ml);
    m.n_files = n_from;
    m.slack_ns = rc.lateness_ns / 2;
    m.progress = progress;
    m.t0 = mono_s();
    m.last = m.t0;
    m.header = lw_header_create(rc.format, err, sizeof(err));
    m.hst = m.header != NULL ? lw_header_state_create(m.header) : NULL;
    m.files = lw_calloc(n_from, sizeof(*m.files));
    m.order = lw_calloc(n_from, sizeof(*m.order));
    m.lines = lw_calloc(GROUP_LINES, sizeof(*m.lines));
    m.buf = lw_malloc(GROUP_BYTES + rc.max_line_bytes + 8);
    t0 = m.t0;
    merged = false;
    if (m.header == NULL || m.hst == NULL || m.files == NULL || m.order == NULL ||
        m.lines == NULL || m.buf == NULL) {
        fprintf(stderr, "logwarden train: %s\n", m.header == NULL ? err : "out of memory");
    }
    else {
        for (i = 0; i < n_from; i++) {
            m.files[i].path = from[i];
        }
        merged = look_ahead(&m) == 0 && merge_feed(&m) == 0;
        if (!merged) {
            (void)flush_group(&m); /* what was read before the failure is trained on */
        }
    }
    n_lines = m.n_lines;
    n_bytes = m.n_bytes;
    if (m.files != NULL) {
        for (i = 0; i < n_from; i++) {
            lw_reader_destroy(m.files[i].r);
        }
    }
    lw_free(m.files);
    lw_free(m.order);
    lw_free(m.lines);
    lw_free(m.buf);
    lw_header_state_destroy(m.hst);
    lw_header_destroy(m.header);
    if (progress) {
        fprintf(stderr, "\r%80s\r", "");
    }
    if (lw_engine_stop_stats(engine, &es, &ds) < 0) {
        fprintf(stderr, "logwarden train: the last store transaction failed: models not saved\n");
        engine = NULL;
        goto out;
    }
    engine = NULL;
    if (!merged) {
        fprintf(stderr, "logwarden train: stopped; what was read before is saved\n");
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
