/*
 * logwarden run: the daemon. Takes the data directory's lock, opens the store, starts the engine
 * (lw_engine.h) and the inputs (file tail, syslog UDP/TCP, HTTP ingest with /metrics, stdin),
 * then waits for signals: SIGTERM and SIGINT drain everything and exit 0; SIGHUP re-reads the
 * configuration (log level and tail patterns take effect at once, other changes are reported as
 * needing a restart) and makes the tail look for files again.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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
#include "lw/lw_alert.h"
#include "lw/lw_api.h"
#include "lw/lw_analyze.h"
#include "lw/lw_api_web.h"
#include "lw/lw_detect.h"
#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_frame.h"
#include "lw/lw_header.h"
#include "lw/lw_http.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_plugin.h"
#include "lw/lw_store.h"

#define MAX_INPUTS LW_HTTP_MAX_INPUTS

struct daemon {
    struct lw_run_conf *rc;
    struct lw_input_conf in_conf;  /* the inputs' sections of rc (lw_run_conf_inputs) */
    struct lw_store *store;
    struct lw_store *reader;     /* a read-only connection for checkpoint look-ups */
    pthread_mutex_t reader_mu;
    struct lw_engine *engine;
    struct lw_alerter *alerter;  /* NULL when detection is off */
    struct lw_http_server *http; /* NULL when the daemon serves no HTTP */
    struct lw_ingest_routes routes;         /* the server's ingest routes, for the HTTP input */
    struct lw_http_metrics_src metrics;     /* what /metrics reads */
    struct lw_api_status_src status;        /* what /api/v1/status reads */
    struct lw_api *api;          /* the query API (/api/v1/...), NULL without HTTP */
    pthread_mutex_t inputs_mu;   /* the input list: /metrics walks it from the HTTP thread */
    struct lw_http_input inputs[MAX_INPUTS];
    size_t n_inputs;
    int64_t started_ns;
};

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int resume_cb(void *opaque, const char *input, const char *path,
                     struct lw_ingest_checkpoint *out)
{
    struct daemon *d = opaque;
    int rc;

    if (d->reader == NULL) {
        return 0;
    }
    pthread_mutex_lock(&d->reader_mu);
    rc = lw_store_get_checkpoint(d->reader, input, path, out);
    pthread_mutex_unlock(&d->reader_mu);
    return rc == LW_OK ? 1 : 0;
}

static int durable_cb(void *opaque, const char *input, const char *path,
                      struct lw_ingest_checkpoint *out)
{
    struct daemon *d = opaque;

    return lw_engine_durable(d->engine, input, path, out);
}

/* ---- life cycle ---- */

static struct lw_input_ctx input_ctx(struct daemon *d)
{
    struct lw_input_ctx ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.ingest = lw_engine_ingest(d->engine);
    ctx.conf = &d->in_conf;
    ctx.resume = resume_cb;
    ctx.durable = durable_cb;
    ctx.routes = d->http != NULL ? &d->routes : NULL;
    ctx.opaque = d;
    return ctx;
}

/* Stops the inputs, newest first (the HTTP input, which was started first, goes last). */
static void stop_inputs(struct daemon *d)
{
    for (;;) {
        struct lw_http_input in;

        /* Out of the list under the lock, stopped outside it (/metrics walks the list). */
        pthread_mutex_lock(&d->inputs_mu);
        if (d->n_inputs == 0) {
            pthread_mutex_unlock(&d->inputs_mu);
            break;
        }
        in = d->inputs[--d->n_inputs];
        pthread_mutex_unlock(&d->inputs_mu);
        in.plugin->stop(in.inst);
    }
}

/* ---- feedback rules: the alert manager's copy follows the store's table ---- */

static int rule_cb(void *opaque, const struct lw_store_rule *r)
{
    struct lw_alert_rules *rs = opaque;

    return lw_alert_rules_add(rs, r->id, r->kind, (uint32_t)r->template_id, r->source,
                              r->detector, r->expires_ns) < 0 ? 1 : 0;
}

/*
 * Loads the rules from the store into the alert manager. Called at start, by the API after it
 * changed a rule (a server thread), and every few seconds by the main loop (rules added with
 * `logwarden feedback` on the store directly, expiry). Uses the reader connection.
 */
static void reload_rules(struct daemon *d)
{
    struct lw_alert_rules *rs;
    int rc;

    if (d->alerter == NULL || d->reader == NULL) {
        return;
    }
    rs = lw_alert_rules_create();
    if (rs == NULL) {
        return;
    }
    /*
     * Read and install under one lock: the main loop's periodic reload and the API's reload
     * after a write may overlap, and the set read last must be the one installed last (else a
     * reload that read before the write could replace the fresher set for a while).
     */
    pthread_mutex_lock(&d->reader_mu);
    rc = lw_store_list_rules(d->reader, rule_cb, rs);
    if (rc != LW_OK) {
        pthread_mutex_unlock(&d->reader_mu);
        if (rc != LW_ENOTSUP) {
            lw_warn("run", "cannot read the feedback rules: %s", lw_strerror(rc));
        }
        lw_alert_rules_destroy(rs);
        return;
    }
    lw_alerter_set_rules(d->alerter, rs); /* takes @rs */
    pthread_mutex_unlock(&d->reader_mu);
}

static void rules_changed(void *opaque)
{
    reload_rules(opaque);
}

/*
 * The HTTP server, when the configuration asks for it (the HTTP input then registers its ingest
 * route): /metrics and /api/v1/status answer from now on, while the inputs start.
 */
static int start_http(struct daemon *d, char *err, size_t err_len)
{
    struct lw_api_conf ac;
    struct lw_http_conf hc;
    struct lw_http_route r;
    char herr[448];

    if (d->rc->http_addr == NULL) {
        return LW_OK;
    }
    memset(&hc, 0, sizeof(hc));
    hc.addr = d->rc->http_addr;
    hc.token = d->rc->http_token;
    hc.max_body_bytes = d->rc->http_max_body;
    hc.max_buffered_bytes = d->rc->http_max_buffered;
    hc.max_connections = (unsigned int)d->rc->http_max_connections;
    hc.max_connections_per_ip = (unsigned int)d->rc->http_max_connections_per_ip;
    hc.timeout_s = d->rc->http_idle_timeout_s;
    hc.max_line_bytes = d->rc->max_line_bytes;
    hc.read_token = d->rc->api_read_token;
    d->status.engine = d->engine;
    d->status.data_dir_json = d->rc->data_dir_json;
    d->status.started_ns = d->started_ns;
    hc.status = lw_api_status_render;
    hc.opaque = &d->status;
    d->http = lw_http_server_start(&hc, herr, sizeof(herr));
    if (d->http == NULL) {
        snprintf(err, err_len, "http: %s", herr);
        return LW_EINVAL;
    }
    d->metrics.engine = d->engine;
    d->metrics.alerter = d->alerter;
    d->metrics.detect = d->rc->detect_enabled;
    d->metrics.inputs_mu = &d->inputs_mu;
    d->metrics.inputs = d->inputs;
    d->metrics.n_inputs = &d->n_inputs;
    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.path = "/metrics";
    r.kind = LW_HTTP_ROUTE_PROM;
    r.render = lw_http_metrics_render;
    r.opaque = &d->metrics;
    if (lw_http_route_add(d->http, &r) < 0) {
        snprintf(err, err_len, "http: cannot add the /metrics route");
        return LW_EINVAL;
    }
    if (d->rc->dashboard && lw_api_web_register(d->http) < 0) {
        snprintf(err, err_len, "http: cannot add the dashboard's routes");
        return LW_EINVAL;
    }
    lw_http_server_routes(d->http, &d->routes);
    memset(&ac, 0, sizeof(ac));
    ac.data_dir = d->rc->data_dir;
    lw_run_conf_store(d->rc, &ac.store);
    ac.rules_changed = rules_changed;
    ac.opaque = d;
    d->api = lw_api_create(&ac, herr, sizeof(herr));
    if (d->api == NULL || lw_api_register(d->api, d->http) < 0) {
        snprintf(err, err_len, "http: cannot add the query API routes");
        return LW_EINVAL;
    }
    return LW_OK;
}

static int start_input(struct daemon *d, const struct lw_input_plugin *pl, char *err,
                       size_t err_len)
{
    struct lw_input_ctx ctx = input_ctx(d);
    char perr[448];
    void *inst;

    if (pl->abi != LW_PLUGIN_ABI) {
        snprintf(err, err_len, "input plugin %s: ABI %u, expected %u", pl->name, pl->abi,
                 LW_PLUGIN_ABI);
        return LW_EINVAL;
    }
    if (d->n_inputs >= MAX_INPUTS) {
        snprintf(err, err_len, "too many inputs");
        return LW_EFULL;
    }
    inst = pl->start(&ctx, perr, sizeof(perr));
    if (inst == NULL) {
        snprintf(err, err_len, "%s: %s", pl->name, perr);
        return LW_EINVAL;
    }
    pthread_mutex_lock(&d->inputs_mu);
    d->inputs[d->n_inputs].plugin = pl;
    d->inputs[d->n_inputs].inst = inst;
    d->n_inputs++;
    pthread_mutex_unlock(&d->inputs_mu);
    return LW_OK;
}

static int start_inputs(struct daemon *d, char *err, size_t err_len)
{
    size_t i;

    lw_run_conf_inputs(d->rc, &d->in_conf);
    /* HTTP first, so that /metrics and the status answer while the others start. */
    for (i = 0; lw_input_plugins[i] != NULL; i++) {
        const struct lw_input_plugin *pl = lw_input_plugins[i];

        if (strcmp(pl->name, "http") == 0 && pl->enabled(&d->in_conf) &&
            start_input(d, pl, err, err_len) < 0) {
            return LW_EINVAL;
        }
    }
    for (i = 0; lw_input_plugins[i] != NULL; i++) {
        const struct lw_input_plugin *pl = lw_input_plugins[i];

        if (strcmp(pl->name, "http") != 0 && pl->enabled(&d->in_conf) &&
            start_input(d, pl, err, err_len) < 0) {
            return LW_EINVAL;
        }
    }
    return LW_OK;
}

/* Whether every input is finite and has ended (stdin alone, at its end). */
static bool inputs_done(const struct daemon *d)
{
    size_t i;

    if (d->n_inputs == 0) {
        return false;
    }
    for (i = 0; i < d->n_inputs; i++) {
        if (d->inputs[i].plugin->done == NULL || !d->inputs[i].plugin->done(d->inputs[i].inst)) {
            return false;
        }
    }
    return true;
}

static struct lw_http_input *find_input(struct daemon *d, const char *name)
{
    size_t i;

    for (i = 0; i < d->n_inputs; i++) {
        if (strcmp(d->inputs[i].plugin->name, name) == 0) {
            return &d->inputs[i];
        }
    }
    return NULL;
}

static void reopen_inputs(struct daemon *d)
{
    size_t i;

    for (i = 0; i < d->n_inputs; i++) {
        if (d->inputs[i].plugin->reopen != NULL) {
            d->inputs[i].plugin->reopen(d->inputs[i].inst);
        }
    }
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
/* Whether the tail's settings other than its patterns and start_at differ. */
static bool tail_settings_differ(const struct lw_run_conf *a, const struct lw_run_conf *b)
{
    size_t i;

    if (a->tail_ml.mode != b->tail_ml.mode || a->tail_ml.max_lines != b->tail_ml.max_lines ||
        !str_eq(a->tail_ml.regex, b->tail_ml.regex) || a->tail_poll_ms != b->tail_poll_ms ||
        a->tail_skip_gzip != b->tail_skip_gzip ||
        a->tail_rotate_wait_ms != b->tail_rotate_wait_ms ||
        a->tail_rotate_set != b->tail_rotate_set || a->n_tail_rotate != b->n_tail_rotate) {
        return true;
    }
    for (i = 0; i < a->n_tail_rotate; i++) {
        if (strcmp(a->tail_rotate[i], b->tail_rotate[i]) != 0) {
            return true;
        }
    }
    return false;
}

static void reload(struct daemon *d, int argc, char **argv)
{
    struct lw_run_conf nrc;
    bool tail_changed;
    size_t i;
    char err[512];

    lw_info("run", "SIGHUP: reloading the configuration");
    if (lw_run_conf_parse(argc, argv, &nrc) != 0) {
        lw_error("run", "the configuration has errors (see above): keeping the running one");
        reopen_inputs(d);
        return;
    }
    tail_changed = nrc.n_tail != d->rc->n_tail || nrc.tail_from_end != d->rc->tail_from_end;
    for (i = 0; i < nrc.n_tail && !tail_changed; i++) {
        tail_changed = strcmp(nrc.tail[i], d->rc->tail[i]) != 0;
    }
    if (!str_eq(nrc.syslog_addr, d->rc->syslog_addr) || !str_eq(nrc.http_addr, d->rc->http_addr) ||
        !str_eq(nrc.http_token, d->rc->http_token) || !str_eq(nrc.format, d->rc->format) ||
        !str_eq(nrc.data_dir, d->rc->data_dir) || nrc.workers != d->rc->workers ||
        nrc.window_ns != d->rc->window_ns || nrc.memory_limit != d->rc->memory_limit ||
        nrc.syslog_udp_rcvbuf != d->rc->syslog_udp_rcvbuf) {
        lw_warn("run", "SIGHUP: changes to listeners, format, data dir, workers, window or "
                       "memory limit take effect after a restart");
    }
    if (tail_settings_differ(&nrc, d->rc)) {
        lw_warn("run", "SIGHUP: changes to the tail's settings other than paths and start_at "
                       "(multi-line joining, poll interval, rotation) take effect after a "
                       "restart");
    }
    if (tail_changed) {
        struct lw_http_input *in = find_input(d, "tail");
        size_t k;

        if (in != NULL) {
            /* Take the tail out of the list, keeping the others in start order. */
            struct lw_http_input old = *in;

            pthread_mutex_lock(&d->inputs_mu);
            k = (size_t)(in - d->inputs);
            memmove(&d->inputs[k], &d->inputs[k + 1], (d->n_inputs - k - 1) * sizeof(*in));
            d->n_inputs--;
            pthread_mutex_unlock(&d->inputs_mu);
            old.plugin->stop(old.inst);
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
        lw_run_conf_inputs(d->rc, &d->in_conf);
        for (k = 0; lw_input_plugins[k] != NULL; k++) {
            if (strcmp(lw_input_plugins[k]->name, "tail") == 0 &&
                lw_input_plugins[k]->enabled(&d->in_conf) &&
                start_input(d, lw_input_plugins[k], err, sizeof(err)) < 0) {
                lw_error("run", "SIGHUP: the tail cannot restart: %s", err);
            }
        }
        lw_info("run", "SIGHUP: now tailing %zu pattern(s)", d->rc->n_tail);
    }
    else {
        reopen_inputs(d);
    }
    lw_run_conf_fini(&nrc);
}

/*
 * glibc malloc settings for a daemon whose big blocks (batches of lines, request bodies) are
 * allocated in one thread and freed in another. By default glibc raises its mmap threshold to
 * the size of every large block freed, so later batches come from the heaps, where freed ones
 * stay as fragments: under 100 clients retrying 16 MiB bodies the peak RSS was 382 MiB against
 * 297 MiB with a fixed threshold (bench/http-memory.sh, memory_limit 256 MiB). A fixed threshold
 * gives large blocks back to the system when freed; fewer arenas keep fewer partly used heaps.
 * It is 4 MiB, with the heaps trimmed above 32 MiB free: at 128 KiB every request body and batch
 * (~1 MiB, ~240 KiB) was a fresh mapping, page-faulted in and unmapped again: 98k page faults
 * per million lines on bench/run-http-mixed.sh against 51k now (perf stat), MHD thread CPU
 * 0.61 -> 0.47 s; `RETRIES=5 bench/http-memory.sh` peaks at 128-129 MiB.
 * An operator's own MALLOC_* or GLIBC_TUNABLES settings are left alone.
 */
static void tune_malloc(void)
{
#ifdef __GLIBC__
    if (getenv("GLIBC_TUNABLES") != NULL || getenv("MALLOC_ARENA_MAX") != NULL ||
        getenv("MALLOC_MMAP_THRESHOLD_") != NULL) {
        return;
    }
    (void)mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    (void)mallopt(M_TRIM_THRESHOLD, 32 * 1024 * 1024);
    (void)mallopt(M_ARENA_MAX, 2);
#endif
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
    int fenced = 0;
    int erc;
    int prc;

    prc = lw_run_conf_parse(argc, argv, &rc);
    if (prc != 0) {
        return prc == 1 ? 0 : 2;
    }
    tune_malloc();
    memset(&d, 0, sizeof(d));
    d.rc = &rc;
    d.started_ns = wall_ns();
    pthread_mutex_init(&d.reader_mu, NULL);
    pthread_mutex_init(&d.inputs_mu, NULL);

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
    lw_run_conf_store(&rc, &sc);
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
    lw_run_conf_engine(&rc, d.store, &ec);
    if (rc.detect_enabled) {
        rc.alerts.data_dir = rc.data_dir;
        d.alerter = lw_alerter_start(&rc.alerts, err, sizeof(err));
        if (d.alerter == NULL) {
            lw_error("run", "alerts: %s", err);
            goto out;
        }
        ec.detect = &rc.detect;
        ec.alerter = d.alerter;
        /* Before the first line: a finding muted by a stored rule is never sent, not even one
         * the backlog of a tailed file raises in the first second. */
        reload_rules(&d);
    }
    d.engine = lw_engine_start(&ec, err, sizeof(err));
    if (d.engine == NULL) {
        lw_error("run", "%s", err);
        goto out;
    }
    if (start_http(&d, err, sizeof(err)) < 0 || start_inputs(&d, err, sizeof(err)) < 0) {
        lw_error("run", "%s", err);
        stop_inputs(&d);
        goto out_engine;
    }
    lw_info("run", "logwarden %s running: data in %s", LW_VERSION, rc.data_dir);
    if (find_input(&d, "http") != NULL) {
        lw_info("run", "status: http://%s/api/v1/status  metrics: http://%s/metrics",
                rc.http_addr, rc.http_addr);
        lw_info("run", "query API: http://%s/api/v1/overview (docs/api.md)", rc.http_addr);
    }
    if (find_input(&d, "syslog") != NULL) {
        lw_info("run", "syslog on %s (%s%s%s)", rc.syslog_addr, rc.syslog_udp ? "udp" : "",
                rc.syslog_udp && rc.syslog_tcp ? "+" : "", rc.syslog_tcp ? "tcp" : "");
    }
    for (size_t i = 0; i < rc.n_tail; i++) {
        lw_info("run", "tailing %s", rc.tail[i]);
    }

    for (unsigned tick = 1;; tick++) {
        struct timespec to = {1, 0};
        int sig = sigtimedwait(&set, NULL, &to);

        if (tick % 5 == 0) {
            reload_rules(&d);
        }
        if (sig == SIGINT || sig == SIGTERM) {
            lw_info("run", "%s: draining and stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        if (sig == SIGHUP) {
            reload(&d, argc, argv);
            continue;
        }
        if (inputs_done(&d)) {
            lw_info("run", "end of input: stopping");
            break;
        }
        if (lw_engine_fenced(d.engine)) {
            fenced = 1;
            break;
        }
    }
    stop_inputs(&d);
    exit_code = 0;
out_engine:
    /* After the inputs and before the engine: waits for in-flight ingest requests. */
    lw_http_server_stop(d.http);
    lw_api_destroy(d.api);
    /* The fence may also show first in the last transactions, at a stop for another reason. */
    erc = lw_engine_stop(d.engine);
    if (fenced || (erc == LW_EFENCED && exit_code == 0)) {
        /*
         * Another instance took over a partition whose lines this one still held: what it holds
         * can never commit. It leaves the group (stop_inputs) and exits EX_TEMPFAIL, so that a
         * supervisor starts it afresh and it rejoins with nothing stale.
         */
        lw_error("run", "fenced by another instance (see above): stopped; start logwarden again "
                        "(exit status 75, which a supervisor such as systemd's "
                        "Restart=on-failure restarts)");
        exit_code = 75;
    }
    else if (erc < 0) {
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
    if (d.alerter != NULL) {
        /* The engine has handed over every finding; give the sinks a few seconds. */
        lw_alerter_stop(d.alerter, 5000000000LL);
    }
    lw_store_close(d.reader);
    lw_store_close(d.store);
    lw_store_unlock(lock_fd);
    pthread_mutex_destroy(&d.reader_mu);
    pthread_mutex_destroy(&d.inputs_mu);
    lw_run_conf_fini(&rc);
    return exit_code;
}
