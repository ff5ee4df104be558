/*
 * logwarden run: the daemon. Takes the data directory's lock, opens the store, starts the engine
 * (lw_engine.h) and the inputs (file tail, syslog UDP/TCP, HTTP ingest with /metrics, stdin),
 * then waits for signals: SIGTERM and SIGINT drain everything and exit 0; SIGHUP re-reads the
 * configuration (log level and tail patterns take effect at once, other changes are reported as
 * needing a restart) and makes the tail look for files again.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_conf.h"
#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_http.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_store.h"
#include "lw/lw_syslog.h"
#include "lw/lw_tail.h"

struct daemon {
    struct lw_run_conf *rc;
    struct lw_store *store;
    struct lw_store *reader;     /* a read-only connection for checkpoint look-ups */
    pthread_mutex_t reader_mu;
    struct lw_engine *engine;
    struct lw_tail *tail;
    struct lw_syslog_server *syslog;
    struct lw_http_server *http;
    pthread_t stdin_thread;
    bool stdin_started;
    atomic_bool stdin_done;
    atomic_bool stopping;
    atomic_uint_fast64_t stdin_lines;
    int64_t started_ns;
};

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Offers a group until the pipeline takes it; gives up only when the daemon stops. */
static int offer(struct daemon *d, const struct lw_ingest_group *g)
{
    struct lw_ingest ing = lw_engine_ingest(d->engine);

    for (;;) {
        int rc = ing.fn(ing.opaque, g);

        if (rc != LW_EAGAIN) {
            return rc;
        }
        if (atomic_load(&d->stopping)) {
            return LW_EAGAIN;
        }
        usleep(2000);
    }
}

static void *stdin_main(void *arg)
{
    struct daemon *d = arg;
    struct lw_reader_conf rconf = {0};
    struct lw_ingest_source src = {"stdin", "-", NULL};
    struct lw_ingest_line *lines;
    char *buf;
    size_t cap_bytes = 1 << 20;
    size_t max_lines = 4096;
    size_t n = 0;
    size_t used = 0;
    char err[256];
    struct lw_reader *r;
    struct lw_line line;
    int rc;

    rconf.max_line_bytes = d->rc->max_line_bytes;
    r = lw_reader_open_fd(0, &rconf, err, sizeof(err));
    lines = lw_calloc(max_lines, sizeof(*lines));
    buf = lw_malloc(cap_bytes + rconf.max_line_bytes + 65536);
    if (r == NULL || lines == NULL || buf == NULL) {
        lw_error("stdin", "cannot read standard input: %s", r == NULL ? err : "out of memory");
        goto out;
    }
    /*
     * Lines are copied into one buffer so that a group can wait for the pipeline while the
     * reader moves on. A group is sent when full, or as soon as the reader would block is not
     * known here, so a small group is sent after every read that ends a line burst: at EOF and
     * whenever the group reached its size.
     */
    while ((rc = lw_reader_next(r, &line)) > 0 && !atomic_load(&d->stopping)) {
        struct lw_ingest_group g;

        memcpy(buf + used, line.data, line.len);
        lines[n].data = buf + used;
        lines[n].len = line.len;
        lines[n].flags = line.flags;
        lines[n].ts_ns = LW_TS_UNKNOWN;
        lines[n].level = 0;
        used += line.len;
        n++;
        atomic_fetch_add(&d->stdin_lines, 1);
        if (n < max_lines && used < cap_bytes) {
            continue;
        }
        g.source = &src;
        g.lines = lines;
        g.n_lines = n;
        g.checkpoint = NULL;
        if (offer(d, &g) < 0 && !atomic_load(&d->stopping)) {
            lw_warn("stdin", "a group of %zu lines was refused", n);
        }
        n = 0;
        used = 0;
    }
    if (n > 0) {
        struct lw_ingest_group g = {&src, lines, n, NULL};

        offer(d, &g);
    }
out:
    lw_reader_destroy(r);
    lw_free(lines);
    lw_free(buf);
    atomic_store(&d->stdin_done, true);
    return NULL;
}

static int resume_cb(void *opaque, const char *path, struct lw_ingest_checkpoint *out)
{
    struct daemon *d = opaque;
    int rc;

    if (d->reader == NULL) {
        return 0;
    }
    pthread_mutex_lock(&d->reader_mu);
    rc = lw_store_get_checkpoint(d->reader, "tail", path, out);
    pthread_mutex_unlock(&d->reader_mu);
    return rc == LW_OK ? 1 : 0;
}

/* ---- /metrics and /api/v1/status ---- */

static void prom_u(struct lw_prom *p, const char *name, const char *help, const char *type,
                   const char *labels, uint64_t v)
{
    lw_prom_append(p, name, help, type, labels, (double)v);
}

static int metrics_cb(void *opaque, char **text, size_t *len)
{
    struct daemon *d = opaque;
    struct lw_engine_stats es;
    struct lw_prom p = {0};
    static const char *const C = "counter";
    static const char *const G = "gauge";

    lw_engine_get_stats(d->engine, &es);
    prom_u(&p, "logwarden_lines_in_total", "Lines accepted from all inputs.", C, NULL,
           es.lines_in);
    prom_u(&p, "logwarden_bytes_in_total", "Bytes accepted from all inputs.", C, NULL,
           es.bytes_in);
    prom_u(&p, "logwarden_parsed_lines_total", "Lines parsed and mined.", C, NULL,
           es.lines_parsed);
    prom_u(&p, "logwarden_late_lines_total",
           "Lines older than the watermark minus the allowed lateness (still counted).", C, NULL,
           es.lines_late);
    prom_u(&p, "logwarden_truncated_lines_total", "Lines cut at the maximum line length.", C,
           NULL, es.lines_truncated);
    prom_u(&p, "logwarden_invalid_lines_total", "Lines with invalid UTF-8 or NUL bytes.", C, NULL,
           es.lines_invalid);
    prom_u(&p, "logwarden_header_mismatch_lines_total",
           "Lines whose header matched no layout (the whole line is the message).", C, NULL,
           es.header_mismatch);
    prom_u(&p, "logwarden_dropped_by_policy_lines_total",
           "Lines dropped because the configuration allows it.", C, NULL, es.dropped_by_policy);
    prom_u(&p, "logwarden_backpressure_total", "Groups refused because the pipeline was full.",
           C, NULL, es.groups_refused);
    prom_u(&p, "logwarden_stored_lines_total",
           "Lines whose window counts are durable in the store (all runs).", C, NULL,
           es.stored_total);
    prom_u(&p, "logwarden_store_commits_total", "Store transactions committed.", C, NULL,
           es.store_commits);
    prom_u(&p, "logwarden_store_errors_total", "Store transactions that failed.", C, NULL,
           es.store_errors);
    prom_u(&p, "logwarden_queue_depth",
           "Batches waiting in a stage (parse: for a worker; reorder: for an earlier batch).", G,
           "stage=\"parse\"", es.queue_depth);
    prom_u(&p, "logwarden_queue_depth",
           "Batches waiting in a stage (parse: for a worker; reorder: for an earlier batch).", G,
           "stage=\"reorder\"", es.reorder_depth);
    prom_u(&p, "logwarden_inflight_bytes", "Bytes of lines in the pipeline.", G, NULL,
           es.inflight_bytes);
    prom_u(&p, "logwarden_templates", "Templates known to the miner.", G, NULL, es.templates);
    lw_prom_histogram(&p, "logwarden_batch_latency_seconds",
                      "From a batch's arrival to its counts being durable.", NULL,
                      lw_engine_latency_bounds, es.batch_latency_buckets, 11,
                      es.batch_latency_sum);
    lw_prom_histogram(&p, "logwarden_store_write_seconds", "One store transaction.", NULL,
                      lw_engine_latency_bounds, es.store_latency_buckets, 11,
                      es.store_latency_sum);
    {
        /* Per-input samples of one metric must stay together in the exposition format. */
        static const char *const names[4] = {"tail", "syslog", "http", "stdin"};
        uint64_t lines[4] = {0};
        uint64_t bytes[4] = {0};
        bool on[4] = {d->tail != NULL, d->syslog != NULL, d->http != NULL, d->stdin_started};
        struct lw_tail_stats ts;
        struct lw_syslog_stats ss;
        struct lw_http_stats hs;
        char label[32];
        size_t i;

        memset(&ts, 0, sizeof(ts));
        memset(&ss, 0, sizeof(ss));
        memset(&hs, 0, sizeof(hs));
        if (on[0]) {
            lw_tail_stats(d->tail, &ts);
            lines[0] = ts.lines;
            bytes[0] = ts.bytes;
        }
        if (on[1]) {
            lw_syslog_server_stats(d->syslog, &ss);
            lines[1] = ss.messages;
            bytes[1] = ss.bytes;
        }
        if (on[2]) {
            lw_http_server_stats(d->http, &hs);
            lines[2] = hs.ingest_lines;
            bytes[2] = hs.ingest_bytes;
        }
        lines[3] = atomic_load(&d->stdin_lines);
        for (i = 0; i < 4; i++) {
            if (on[i]) {
                snprintf(label, sizeof(label), "input=\"%s\"", names[i]);
                prom_u(&p, "logwarden_input_lines_total", "Lines read per input.", C, label,
                       lines[i]);
            }
        }
        for (i = 0; i < 3; i++) {
            if (on[i]) {
                snprintf(label, sizeof(label), "input=\"%s\"", names[i]);
                prom_u(&p, "logwarden_input_bytes_total", "Bytes read per input.", C, label,
                       bytes[i]);
            }
        }
        if (on[0]) {
            prom_u(&p, "logwarden_tail_files_open", "Files followed.", G, NULL, ts.files_open);
            prom_u(&p, "logwarden_tail_rotations_total", "Rotated or deleted files finished.", C,
                   NULL, ts.rotations);
        }
        if (on[1]) {
            prom_u(&p, "logwarden_syslog_connections_open", "Open syslog TCP connections.", G,
                   NULL, ss.connections_open);
            prom_u(&p, "logwarden_syslog_dropped_udp_total",
                   "UDP messages refused under backpressure.", C, NULL, ss.dropped_udp);
        }
        if (on[2]) {
            prom_u(&p, "logwarden_http_503_total", "Ingest requests refused under backpressure.",
                   C, NULL, hs.responses_503);
        }
    }
    if (p.rc < 0) {
        int rc = p.rc;

        lw_prom_fini(&p);
        return rc;
    }
    *text = p.buf;
    *len = p.len;
    return LW_OK;
}

static int status_cb(void *opaque, char **json, size_t *len)
{
    struct daemon *d = opaque;
    struct lw_engine_stats es;
    char *buf = lw_malloc(1024);
    int n;

    if (buf == NULL) {
        return LW_ENOMEM;
    }
    lw_engine_get_stats(d->engine, &es);
    n = snprintf(buf, 1024,
                 "{\"running\":true,\"pid\":%ld,\"uptime_s\":%.1f,\"data_dir\":\"%s\","
                 "\"stored_lines\":%llu,\"lines_in\":%llu,\"lines_parsed\":%llu,"
                 "\"lines_late\":%llu,\"templates\":%llu,\"queue_depth\":%llu,"
                 "\"inflight_bytes\":%llu,\"store_errors\":%llu}",
                 (long)getpid(), (double)(wall_ns() - d->started_ns) / 1e9,
                 d->rc->data_dir_json, (unsigned long long)es.stored_total,
                 (unsigned long long)es.lines_in, (unsigned long long)es.lines_parsed,
                 (unsigned long long)es.lines_late, (unsigned long long)es.templates,
                 (unsigned long long)es.queue_depth, (unsigned long long)es.inflight_bytes,
                 (unsigned long long)es.store_errors);
    *json = buf;
    *len = n > 0 && n < 1024 ? (size_t)n : strlen(buf);
    return LW_OK;
}

/* ---- life cycle ---- */

static void stop_inputs(struct daemon *d)
{
    atomic_store(&d->stopping, true);
    if (d->http != NULL) {
        lw_http_server_stop(d->http);
        d->http = NULL;
    }
    if (d->syslog != NULL) {
        lw_syslog_server_stop(d->syslog);
        d->syslog = NULL;
    }
    if (d->tail != NULL) {
        lw_tail_stop(d->tail);
        d->tail = NULL;
    }
    if (d->stdin_started) {
        /* A read(2) on a terminal does not end by itself: the thread is detached then. */
        if (atomic_load(&d->stdin_done)) {
            pthread_join(d->stdin_thread, NULL);
        }
        else {
            pthread_detach(d->stdin_thread);
        }
        d->stdin_started = false;
    }
}

static int start_inputs(struct daemon *d, char *err, size_t err_len)
{
    struct lw_run_conf *rc = d->rc;
    struct lw_ingest ing = lw_engine_ingest(d->engine);

    if (rc->n_tail > 0) {
        struct lw_tail_conf tc;

        memset(&tc, 0, sizeof(tc));
        tc.patterns = (const char *const *)rc->tail;
        tc.n_patterns = rc->n_tail;
        tc.start_at_end = rc->tail_from_end;
        tc.poll_ms = rc->tail_poll_ms;
        tc.max_line_bytes = rc->max_line_bytes;
        tc.resume = resume_cb;
        tc.resume_opaque = d;
        d->tail = lw_tail_start(&tc, ing, err, err_len);
        if (d->tail == NULL) {
            return LW_EINVAL;
        }
    }
    if (rc->syslog_addr != NULL) {
        struct lw_syslog_conf sc;

        memset(&sc, 0, sizeof(sc));
        sc.udp_addr = rc->syslog_udp ? rc->syslog_addr : NULL;
        sc.tcp_addr = rc->syslog_tcp ? rc->syslog_addr : NULL;
        sc.max_msg_bytes = rc->max_line_bytes;
        sc.max_connections = rc->syslog_max_connections;
        sc.idle_timeout_s = rc->syslog_idle_timeout_s;
        d->syslog = lw_syslog_server_start(&sc, ing, err, err_len);
        if (d->syslog == NULL) {
            return LW_EINVAL;
        }
    }
    if (rc->http_addr != NULL) {
        struct lw_http_conf hc;

        memset(&hc, 0, sizeof(hc));
        hc.addr = rc->http_addr;
        hc.token = rc->http_token;
        hc.max_body_bytes = rc->http_max_body;
        hc.max_line_bytes = rc->max_line_bytes;
        hc.ingest = ing;
        hc.metrics = metrics_cb;
        hc.status = status_cb;
        hc.opaque = d;
        d->http = lw_http_server_start(&hc, err, err_len);
        if (d->http == NULL) {
            return LW_EINVAL;
        }
    }
    if (rc->use_stdin) {
        if (pthread_create(&d->stdin_thread, NULL, stdin_main, d) != 0) {
            snprintf(err, err_len, "cannot start the stdin reader: %s", strerror(errno));
            return LW_EIO;
        }
        d->stdin_started = true;
    }
    return LW_OK;
}

static bool str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * SIGHUP: reads the configuration again. The log level and the tail's patterns change at once
 * (the tail restarts and resumes every file from its checkpoint); anything else is reported as
 * needing a restart. Then the tail looks for new files.
 */
static void reload(struct daemon *d, int argc, char **argv)
{
    struct lw_run_conf nrc;
    bool tail_changed;
    size_t i;
    char err[512];

    lw_info("run", "SIGHUP: reloading the configuration");
    if (lw_run_conf_parse(argc, argv, &nrc) != 0) {
        lw_error("run", "the configuration has errors (see above): keeping the running one");
        if (d->tail != NULL) {
            lw_tail_reopen(d->tail);
        }
        return;
    }
    tail_changed = nrc.n_tail != d->rc->n_tail || nrc.tail_from_end != d->rc->tail_from_end;
    for (i = 0; i < nrc.n_tail && !tail_changed; i++) {
        tail_changed = strcmp(nrc.tail[i], d->rc->tail[i]) != 0;
    }
    if (!str_eq(nrc.syslog_addr, d->rc->syslog_addr) || !str_eq(nrc.http_addr, d->rc->http_addr) ||
        !str_eq(nrc.http_token, d->rc->http_token) || !str_eq(nrc.format, d->rc->format) ||
        !str_eq(nrc.data_dir, d->rc->data_dir) || nrc.workers != d->rc->workers ||
        nrc.window_ns != d->rc->window_ns || nrc.memory_limit != d->rc->memory_limit) {
        lw_warn("run", "SIGHUP: changes to listeners, format, data dir, workers, window or "
                       "memory limit take effect after a restart");
    }
    if (tail_changed) {
        struct lw_tail *old = d->tail;

        if (old != NULL) {
            lw_tail_stop(old);
            d->tail = NULL;
        }
        for (i = 0; i < d->rc->n_tail; i++) {
            lw_free(d->rc->tail[i]);
        }
        for (i = 0; i < nrc.n_tail; i++) {
            d->rc->tail[i] = nrc.tail[i];
            nrc.tail[i] = NULL;
        }
        d->rc->n_tail = nrc.n_tail;
        nrc.n_tail = 0;
        d->rc->tail_from_end = nrc.tail_from_end;
        if (d->rc->n_tail > 0) {
            struct lw_tail_conf tc;

            memset(&tc, 0, sizeof(tc));
            tc.patterns = (const char *const *)d->rc->tail;
            tc.n_patterns = d->rc->n_tail;
            tc.start_at_end = d->rc->tail_from_end;
            tc.poll_ms = d->rc->tail_poll_ms;
            tc.max_line_bytes = d->rc->max_line_bytes;
            tc.resume = resume_cb;
            tc.resume_opaque = d;
            d->tail = lw_tail_start(&tc, lw_engine_ingest(d->engine), err, sizeof(err));
            if (d->tail == NULL) {
                lw_error("run", "SIGHUP: the tail cannot restart: %s", err);
            }
        }
        lw_info("run", "SIGHUP: now tailing %zu pattern(s)", d->rc->n_tail);
    }
    else if (d->tail != NULL) {
        lw_tail_reopen(d->tail);
    }
    lw_run_conf_fini(&nrc);
}

int lw_cmd_run(int argc, char **argv)
{
    struct lw_run_conf rc;
    struct daemon d;
    struct lw_store_conf sc;
    struct lw_engine_conf ec;
    sigset_t set;
    char err[512];
    int lock_fd = -1;
    int exit_code = 1;
    int prc;

    prc = lw_run_conf_parse(argc, argv, &rc);
    if (prc != 0) {
        return prc == 1 ? 0 : 2;
    }
    memset(&d, 0, sizeof(d));
    d.rc = &rc;
    d.started_ns = wall_ns();
    pthread_mutex_init(&d.reader_mu, NULL);

    /* Signals are taken by sigtimedwait() below; every thread created later inherits the mask. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (lw_store_lock(rc.data_dir, &lock_fd, err, sizeof(err)) < 0) {
        lw_error("run", "%s", err);
        goto out;
    }
    memset(&sc, 0, sizeof(sc));
    sc.retention_s = rc.retention_s;
    sc.window_s = rc.window_ns / 1000000000LL;
    d.store = lw_store_open(rc.data_dir, &sc, err, sizeof(err));
    if (d.store == NULL) {
        lw_error("run", "cannot open the store in '%s': %s", rc.data_dir, err);
        goto out;
    }
    sc.read_only = 1;
    d.reader = lw_store_open(rc.data_dir, &sc, err, sizeof(err));
    if (d.reader == NULL) {
        lw_warn("run", "no read-only store connection (%s): tailed files start afresh", err);
    }
    memset(&ec, 0, sizeof(ec));
    ec.format = rc.format;
    ec.workers = rc.workers;
    ec.memory_limit_bytes = rc.memory_limit;
    ec.window_ns = rc.window_ns;
    ec.lateness_ns = rc.lateness_ns;
    ec.flush_ns = rc.flush_ns;
    ec.retention_ns = rc.retention_s * 1000000000LL;
    ec.max_templates = rc.max_templates;
    ec.store = d.store;
    d.engine = lw_engine_start(&ec, err, sizeof(err));
    if (d.engine == NULL) {
        lw_error("run", "%s", err);
        goto out;
    }
    if (start_inputs(&d, err, sizeof(err)) < 0) {
        lw_error("run", "%s", err);
        stop_inputs(&d);
        goto out_engine;
    }
    lw_info("run", "logwarden %s running: data in %s", LW_VERSION, rc.data_dir);
    if (d.http != NULL) {
        lw_info("run", "status: http://%s/api/v1/status  metrics: http://%s/metrics",
                rc.http_addr, rc.http_addr);
    }
    if (d.syslog != NULL) {
        lw_info("run", "syslog on %s (%s%s%s)", rc.syslog_addr, rc.syslog_udp ? "udp" : "",
                rc.syslog_udp && rc.syslog_tcp ? "+" : "", rc.syslog_tcp ? "tcp" : "");
    }
    for (size_t i = 0; i < rc.n_tail; i++) {
        lw_info("run", "tailing %s", rc.tail[i]);
    }

    for (;;) {
        struct timespec to = {1, 0};
        int sig = sigtimedwait(&set, NULL, &to);

        if (sig == SIGINT || sig == SIGTERM) {
            lw_info("run", "%s: draining and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        if (sig == SIGHUP) {
            reload(&d, argc, argv);
            continue;
        }
        if (rc.use_stdin && atomic_load(&d.stdin_done) && d.tail == NULL && d.syslog == NULL &&
            d.http == NULL) {
            lw_info("run", "end of standard input: stopping");
            break;
        }
    }
    stop_inputs(&d);
    exit_code = 0;
out_engine:
    if (lw_engine_stop(d.engine) < 0) {
        lw_error("run", "the last store transaction failed: counts since the last commit are "
                        "not stored");
        exit_code = 1;
    }
    else if (exit_code == 0) {
        uint64_t total = 0;

        lw_store_stored_lines(d.store, &total);
        lw_info("run", "stopped cleanly: %llu lines stored in all", (unsigned long long)total);
    }
out:
    lw_store_close(d.reader);
    lw_store_close(d.store);
    lw_store_unlock(lock_fd);
    pthread_mutex_destroy(&d.reader_mu);
    lw_run_conf_fini(&rc);
    return exit_code;
}
