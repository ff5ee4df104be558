/*
 * Unit tests for the webhook sink (plugins/out_webhook/) through the alert manager's API, against
 * a real HTTP receiver on 127.0.0.1: a thread with plain sockets that answers each request with
 * the status the test sets (200, 503, 400, 429) and records bodies and headers. The receiver is
 * taken down (its listening socket closed: connections are refused) and brought back on the same
 * port to check that no alert is lost across an outage, across a restart of the alerter (a new
 * one on the same spool folder resends what the stopped one left), and when the sink's queue
 * overflows. Also: permanent refusals, the spool's size cap, and the Alertmanager v2 body.
 * Waits poll for a state with a generous bound; nothing asserts on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "lw/lw_alert.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"

#define NS 1000000000LL
#define MS 1000000LL
#define T0 (1767225600LL * NS) /* 2026-01-01T00:00:00Z */
#define MAX_BODIES 256
#define WAIT_STEPS 10000           /* x 1 ms: the bound on every wait */

/* ---- the receiver ---- */

struct receiver {
    int port;
    int lfd;                       /* -1 while down */
    pthread_t thread;
    atomic_int status;             /* the answer to every request */
    pthread_mutex_t mu;
    char *bodies[MAX_BODIES];
    size_t n_bodies;
    char auth[256];                /* the last Authorization header */
    char path[256];                /* the last request path */
};

/* Reads one request on @fd: its path, Authorization header and body. false on a bad request. */
static bool read_request(struct receiver *r, int fd, char **body)
{
    char buf[65536];
    size_t got = 0;
    char *end = NULL;
    char *p;
    size_t hdr_len;
    size_t clen = 0;

    while (end == NULL) {
        ssize_t n;

        if (got == sizeof(buf) - 1) {
            return false;
        }
        n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) {
            return false;
        }
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    hdr_len = (size_t)(end - buf) + 4;
    pthread_mutex_lock(&r->mu);
    if (sscanf(buf, "POST %255s", r->path) != 1) {
        r->path[0] = '\0';
    }
    r->auth[0] = '\0';
    for (p = strstr(buf, "\r\n"); p != NULL && p < end; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, "Content-Length:", 15) == 0) {
            clen = strtoul(p + 17, NULL, 10);
        }
        else if (strncasecmp(p + 2, "Authorization: ", 15) == 0) {
            size_t n = strcspn(p + 17, "\r");

            snprintf(r->auth, sizeof(r->auth), "%.*s", (int)n, p + 17);
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (clen > sizeof(buf) - 1 - hdr_len) {
        return false;
    }
    while (got < hdr_len + clen) {
        ssize_t n = read(fd, buf + got, hdr_len + clen - got);

        if (n <= 0) {
            return false;
        }
        got += (size_t)n;
    }
    *body = malloc(clen + 1);
    if (*body == NULL) {
        return false;
    }
    memcpy(*body, buf + hdr_len, clen);
    (*body)[clen] = '\0';
    return true;
}

static void *receiver_main(void *arg)
{
    struct receiver *r = arg;

    for (;;) {
        struct timeval tv = {5, 0};
        char reply[128];
        char *body = NULL;
        int status;
        int fd;

        fd = accept(r->lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return NULL; /* shut down */
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (read_request(r, fd, &body)) {
            status = atomic_load(&r->status);
            /* Record only what the receiver accepts, as a real one would. */
            if (status >= 200 && status < 300) {
                pthread_mutex_lock(&r->mu);
                if (r->n_bodies < MAX_BODIES) {
                    r->bodies[r->n_bodies++] = body;
                    body = NULL;
                }
                pthread_mutex_unlock(&r->mu);
            }
            snprintf(reply, sizeof(reply),
                     "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
            (void)!write(fd, reply, strlen(reply));
        }
        free(body);
        close(fd);
    }
}

/* Listens on r->port (0: any free port, then remembered) and starts the accept thread. */
static void receiver_up(struct receiver *r)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int one = 1;

    r->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(r->lfd >= 0);
    setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t)r->port);
    assert_int_equal(bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(r->lfd, 64), 0);
    assert_int_equal(getsockname(r->lfd, (struct sockaddr *)&sa, &sl), 0);
    r->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&r->thread, NULL, receiver_main, r), 0);
}

/* Closes the listening socket: from now on connections are refused. */
static void receiver_down(struct receiver *r)
{
    shutdown(r->lfd, SHUT_RDWR);
    pthread_join(r->thread, NULL);
    close(r->lfd);
    r->lfd = -1;
}

static void receiver_init(struct receiver *r, int status)
{
    memset(r, 0, sizeof(*r));
    r->lfd = -1;
    atomic_init(&r->status, status);
    pthread_mutex_init(&r->mu, NULL);
}

static void receiver_fini(struct receiver *r)
{
    size_t i;

    if (r->lfd >= 0) {
        receiver_down(r);
    }
    for (i = 0; i < r->n_bodies; i++) {
        free(r->bodies[i]);
    }
    pthread_mutex_destroy(&r->mu);
}

static size_t received(struct receiver *r)
{
    size_t n;

    pthread_mutex_lock(&r->mu);
    n = r->n_bodies;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Whether alert @seq arrived (json format bodies). */
static bool arrived(struct receiver *r, uint64_t seq)
{
    bool found = false;
    size_t i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n_bodies && !found; i++) {
        json_t *o = json_loads(r->bodies[i], 0, NULL);

        found = o != NULL && (uint64_t)json_integer_value(json_object_get(o, "alert_seq")) == seq;
        json_decref(o);
    }
    pthread_mutex_unlock(&r->mu);
    return found;
}

/* The alert_seq values received, in order, into @out (at most @max); returns how many. */
static size_t received_seqs(struct receiver *r, uint64_t *out, size_t max)
{
    size_t i;
    size_t n = 0;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n_bodies && n < max; i++) {
        json_t *o = json_loads(r->bodies[i], 0, NULL);

        out[n++] = o != NULL ? (uint64_t)json_integer_value(json_object_get(o, "alert_seq")) : 0;
        json_decref(o);
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* ---- fixture ---- */

struct fixture {
    char dir[64];                  /* mkdtemp */
    char spool[128];
    struct receiver rx;
    struct lw_alert_conf conf;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "/tmp/lw-webhook-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->spool, sizeof(f->spool), "%s/spool/hook", f->dir);
    receiver_init(&f->rx, 200);
    lw_alert_conf_defaults(&f->conf);
    f->conf.rate_per_min = 0;
    f->conf.data_dir = f->dir;
    *state = f;
    return 0;
}

static int count_spool(const char *dir, uint64_t *bytes);

static int teardown(void **state)
{
    struct fixture *f = *state;
    char path[512];
    struct dirent *e;
    DIR *d;

    receiver_fini(&f->rx);
    lw_alert_conf_fini(&f->conf);
    d = opendir(f->spool);
    if (d != NULL) {
        while ((e = readdir(d)) != NULL) {
            snprintf(path, sizeof(path), "%s/%s", f->spool, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(f->spool);
    snprintf(path, sizeof(path), "%s/spool", f->dir);
    rmdir(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* One webhook sink named "hook" to the receiver (spool: <data_dir>/spool/hook by default). */
static void add_webhook(struct fixture *f, const char *path, enum lw_webhook_format fmt)
{
    char url[128];
    struct lw_sink_conf *s = &f->conf.sinks[f->conf.n_sinks++];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->rx.port, path);
    s->kind = LW_SINK_WEBHOOK;
    s->name = lw_strdup("hook");
    s->url = lw_strdup(url);
    s->format = fmt;
    s->timeout_ns = 2 * NS;
    s->backoff_min_ns = 5 * MS;
    s->backoff_max_ns = 40 * MS;
}

static struct lw_alerter *start(struct fixture *f)
{
    char err[256] = "";
    struct lw_alerter *al = lw_alerter_start(&f->conf, err, sizeof(err));

    if (al == NULL) {
        fail_msg("lw_alerter_start: %s", err);
    }
    return al;
}

/* Submits an alert with a fingerprint of its own (template @i); returns its seq. */
static uint64_t submit(struct lw_alerter *al, uint32_t i)
{
    struct lw_alert_decision d;
    struct lw_anomaly a;
    char src[32];

    memset(&a, 0, sizeof(a));
    snprintf(src, sizeof(src), "web%u", (unsigned)i);
    a.detector = "volume";
    a.kind = "spike";
    a.score = 0.999995;
    a.ts_ns = T0;
    a.template_id = i;
    a.source = src;
    a.summary = "480 lines in 10 s, expected 12";
    a.explanation_json = "{\"expected\": 12, \"observed\": 480}";
    a.samples_json = "[\"a line\"]";
    assert_int_equal(lw_alerter_submit(al, &a, T0 + (int64_t)i * NS, &d), LW_OK);
    assert_true(d.alert);
    return d.alert_seq;
}

static int count_spool(const char *dir, uint64_t *bytes)
{
    char path[512];
    struct dirent *e;
    struct stat sb;
    int n = 0;
    DIR *d = opendir(dir);

    if (bytes != NULL) {
        *bytes = 0;
    }
    if (d == NULL) {
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        n++;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (bytes != NULL && stat(path, &sb) == 0) {
            *bytes += (uint64_t)sb.st_size;
        }
    }
    closedir(d);
    return n;
}

static struct lw_alert_stats stats(struct lw_alerter *al)
{
    struct lw_alert_stats st;

    lw_alerter_get_stats(al, &st);
    return st;
}

/* Polls @cond (an expression over @al / @f) every 1 ms, at most WAIT_STEPS times. */
#define WAIT_FOR(cond)                                                                  \
    do {                                                                                \
        int w_;                                                                         \
        for (w_ = 0; w_ < WAIT_STEPS && !(cond); w_++) {                                \
            usleep(1000);                                                               \
        }                                                                               \
        if (!(cond)) {                                                                  \
            fail_msg("timed out waiting for %s", #cond);                                \
        }                                                                               \
    } while (0)

struct results {
    uint64_t sent[64];
    size_t n_sent;
    uint64_t failed[64];
    size_t n_failed;
};

static void on_result(void *opaque, const struct lw_alert_result *r)
{
    struct results *res = opaque;

    assert_string_equal(r->sink, "hook");
    if (r->sent && res->n_sent < 64) {
        res->sent[res->n_sent++] = r->alert_seq;
    }
    else if (!r->sent && res->n_failed < 64) {
        res->failed[res->n_failed++] = r->alert_seq;
    }
}

static bool has(const uint64_t *v, size_t n, uint64_t x)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (v[i] == x) {
            return true;
        }
    }
    return false;
}

/* ---- tests ---- */

static void test_outage_no_loss(void **state)
{
    struct fixture *f = *state;
    struct lw_alerter *al;
    struct results res = {0};
    uint64_t seqs[32];
    uint64_t got[MAX_BODIES];
    size_t n_got;
    size_t i;
    uint32_t k;

    receiver_up(&f->rx);
    add_webhook(f, "/hook", LW_WEBHOOK_JSON);
    /* A tiny queue: during the outage most alerts take the overflow path into the spool. */
    f->conf.sinks[0].queue = 2;
    al = start(f);

    for (k = 0; k < 3; k++) {
        seqs[k] = submit(al, k + 1);
    }
    WAIT_FOR(received(&f->rx) == 3);

    receiver_down(&f->rx);
    for (k = 3; k < 23; k++) {
        seqs[k] = submit(al, k + 1);
    }
    /* Everything submitted during the outage is on disk, nothing dropped, attempts failing. */
    WAIT_FOR(stats(al).spooled[0] == 20 && stats(al).failed[0] >= 2);
    assert_int_equal(count_spool(f->spool, NULL), 20);
    assert_int_equal(stats(al).dropped[0], 0);
    assert_int_equal(received(&f->rx), 3);

    receiver_up(&f->rx);
    WAIT_FOR(stats(al).spooled[0] == 0);
    for (k = 0; k < 23; k++) {
        assert_true(arrived(&f->rx, seqs[k]));
    }
    /* In submit order, each once: the head of the line is retried, never skipped. */
    n_got = received_seqs(&f->rx, got, MAX_BODIES);
    assert_int_equal(n_got, 23);
    for (i = 1; i < n_got; i++) {
        assert_true(got[i] > got[i - 1]);
    }
    assert_int_equal(count_spool(f->spool, NULL), 0);

    lw_alerter_poll(al, on_result, &res);
    assert_int_equal(res.n_sent, 23);
    assert_int_equal(res.n_failed, 0);
    for (k = 0; k < 23; k++) {
        assert_true(has(res.sent, res.n_sent, seqs[k]));
    }
    assert_int_equal(stats(al).sent[0], 23);
    lw_alerter_stop(al, NS);
}

static void test_restart_resends_spool(void **state)
{
    struct fixture *f = *state;
    struct lw_alerter *al;
    struct results res = {0};
    uint64_t seqs[3];
    uint32_t k;

    atomic_store(&f->rx.status, 503);
    receiver_up(&f->rx);
    add_webhook(f, "/hook", LW_WEBHOOK_JSON);
    al = start(f);
    for (k = 0; k < 3; k++) {
        seqs[k] = submit(al, k + 1);
    }
    WAIT_FOR(stats(al).spooled[0] == 3 && stats(al).failed[0] >= 1);
    /* The receiver still says 503: a short drain gives up and leaves the spool as it is. */
    lw_alerter_stop(al, 20 * MS);
    assert_int_equal(count_spool(f->spool, NULL), 3);
    assert_int_equal(received(&f->rx), 0);

    /* A new alerter (a daemon restart) on the same spool sends what the old one left. */
    atomic_store(&f->rx.status, 200);
    al = start(f);
    WAIT_FOR(stats(al).spooled[0] == 0);
    for (k = 0; k < 3; k++) {
        assert_true(arrived(&f->rx, seqs[k]));
    }
    assert_int_equal(count_spool(f->spool, NULL), 0);
    lw_alerter_poll(al, on_result, &res);
    assert_int_equal(res.n_sent, 3);
    for (k = 0; k < 3; k++) {
        assert_true(has(res.sent, res.n_sent, seqs[k]));
    }
    /* New alerts get higher seqs than the previous run's. */
    assert_true(submit(al, 10) > seqs[2]);
    WAIT_FOR(received(&f->rx) == 4);
    lw_alerter_stop(al, NS);
}

static void test_permanent_and_retryable(void **state)
{
    struct fixture *f = *state;
    struct lw_alerter *al;
    struct results res = {0};
    uint64_t s1;
    uint64_t s2;

    atomic_store(&f->rx.status, 400);
    receiver_up(&f->rx);
    add_webhook(f, "/hook", LW_WEBHOOK_JSON);
    al = start(f);

    /* 400: refused for good, dropped and reported, not retried. */
    s1 = submit(al, 1);
    WAIT_FOR(stats(al).dropped[0] == 1 && stats(al).spooled[0] == 0);
    lw_alerter_poll(al, on_result, &res);
    assert_int_equal(res.n_failed, 1);
    assert_int_equal(res.failed[0], s1);
    assert_int_equal(res.n_sent, 0);
    assert_int_equal(stats(al).failed[0], 0);

    /* 429: retried until the receiver takes it. */
    atomic_store(&f->rx.status, 429);
    s2 = submit(al, 2);
    WAIT_FOR(stats(al).failed[0] >= 2);
    assert_int_equal(stats(al).spooled[0], 1);
    atomic_store(&f->rx.status, 200);
    WAIT_FOR(stats(al).spooled[0] == 0);
    assert_true(arrived(&f->rx, s2));
    assert_false(arrived(&f->rx, s1));
    lw_alerter_poll(al, on_result, &res);
    assert_int_equal(res.n_sent, 1);
    assert_int_equal(res.sent[0], s2);
    assert_int_equal(stats(al).dropped[0], 1);
    lw_alerter_stop(al, NS);
}

static void test_spool_cap(void **state)
{
    struct fixture *f = *state;
    struct lw_alerter *al;
    struct results res = {0};
    struct lw_alert_stats st;
    uint64_t bytes;
    uint32_t k;

    /* Take a free port and leave it closed: every attempt is refused. */
    receiver_up(&f->rx);
    receiver_down(&f->rx);
    add_webhook(f, "/hook", LW_WEBHOOK_JSON);
    /* A body is about 500 bytes: room for 3. */
    f->conf.sinks[0].spool_max_bytes = 1700;
    al = start(f);
    for (k = 0; k < 10; k++) {
        submit(al, k + 1);
    }
    WAIT_FOR(stats(al).spooled[0] + stats(al).dropped[0] == 10);
    st = stats(al);
    assert_true(st.dropped[0] >= 6);
    assert_true(st.spooled[0] >= 2 && st.spooled[0] <= 4);
    assert_int_equal(count_spool(f->spool, &bytes), (int)st.spooled[0]);
    /* One over at most: the alert in flight is never the one dropped. */
    assert_true(bytes <= 1700 + 600);
    lw_alerter_poll(al, on_result, &res);
    assert_int_equal(res.n_failed, st.dropped[0]);
    assert_int_equal(res.n_sent, 0);
    lw_alerter_stop(al, 0);
    /* What stays in the spool is the newest. */
    assert_int_equal(count_spool(f->spool, NULL), (int)st.spooled[0]);
}

static void test_alertmanager_body(void **state)
{
    struct fixture *f = *state;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_anomaly a;
    json_t *arr;
    json_t *al0;
    json_t *labels;
    json_t *ann;
    char body[8192];
    char auth[256];
    char path[256];

    receiver_up(&f->rx);
    add_webhook(f, "/api/v2/alerts", LW_WEBHOOK_ALERTMANAGER);
    f->conf.sinks[0].token = lw_strdup("s3cret");
    al = start(f);

    memset(&a, 0, sizeof(a));
    a.detector = "volume";
    a.kind = "spike";
    a.score = 0.999995;
    a.ts_ns = T0;
    a.template_id = 7;
    a.source = "web1";
    a.summary = "480 lines in 10 s, expected 12";
    a.explanation_json = "{\"expected\": 12, \"observed\": 480}";
    assert_int_equal(lw_alerter_submit(al, &a, T0 + 5 * NS, &d), LW_OK);
    WAIT_FOR(received(&f->rx) == 1);
    lw_alerter_stop(al, NS);

    pthread_mutex_lock(&f->rx.mu);
    snprintf(body, sizeof(body), "%s", f->rx.bodies[0]);
    snprintf(auth, sizeof(auth), "%s", f->rx.auth);
    snprintf(path, sizeof(path), "%s", f->rx.path);
    pthread_mutex_unlock(&f->rx.mu);
    assert_string_equal(path, "/api/v2/alerts");
    assert_string_equal(auth, "Bearer s3cret");

    arr = json_loads(body, 0, NULL);
    assert_non_null(arr);
    assert_true(json_is_array(arr));
    assert_int_equal(json_array_size(arr), 1);
    al0 = json_array_get(arr, 0);
    labels = json_object_get(al0, "labels");
    ann = json_object_get(al0, "annotations");
    assert_true(json_is_object(labels));
    assert_true(json_is_object(ann));
    assert_string_equal(json_string_value(json_object_get(labels, "alertname")),
                        "LogwardenAnomaly");
    assert_string_equal(json_string_value(json_object_get(labels, "detector")), "volume");
    assert_string_equal(json_string_value(json_object_get(labels, "kind")), "spike");
    assert_string_equal(json_string_value(json_object_get(labels, "severity")), "critical");
    assert_string_equal(json_string_value(json_object_get(labels, "template_id")), "7");
    assert_string_equal(json_string_value(json_object_get(labels, "source")), "web1");
    assert_string_equal(json_string_value(json_object_get(labels, "incident")), d.incident);
    /* Label values are strings, and absent ones are left out (Alertmanager drops empties). */
    assert_null(json_object_get(labels, "key"));
    assert_string_equal(json_string_value(json_object_get(ann, "summary")), a.summary);
    assert_string_equal(json_string_value(json_object_get(ann, "description")),
                        "{\"expected\":12,\"observed\":480}");
    /* startsAt is the finding's event time; the wall-clock time of the alert is "created". */
    assert_string_equal(json_string_value(json_object_get(al0, "startsAt")),
                        "2026-01-01T00:00:00.000Z");
    assert_non_null(json_string_value(json_object_get(ann, "created")));
    json_decref(arr);
}

/* Bytes that are not UTF-8 in a finding still make a valid body, with nothing left out. */
static void test_alertmanager_any_bytes(void **state)
{
    struct fixture *f = *state;
    struct lw_alerter *al;
    struct lw_alert_decision d;
    struct lw_anomaly a;
    json_t *arr;
    json_t *labels;
    json_t *ann;
    char body[8192];

    receiver_up(&f->rx);
    add_webhook(f, "/api/v2/alerts", LW_WEBHOOK_ALERTMANAGER);
    al = start(f);

    memset(&a, 0, sizeof(a));
    a.detector = "volume";
    a.kind = "spike";
    a.score = 0.9995;
    a.ts_ns = T0;
    a.source = "web\xff\n1";
    a.key = "\x1b[31mblk";
    a.summary = "bad \xc0\xaf bytes";
    a.explanation_json = "not json \xfe";
    assert_int_equal(lw_alerter_submit(al, &a, T0, &d), LW_OK);
    WAIT_FOR(received(&f->rx) == 1);
    lw_alerter_stop(al, NS);

    pthread_mutex_lock(&f->rx.mu);
    snprintf(body, sizeof(body), "%s", f->rx.bodies[0]);
    pthread_mutex_unlock(&f->rx.mu);
    arr = json_loads(body, 0, NULL);
    assert_non_null(arr);
    labels = json_object_get(json_array_get(arr, 0), "labels");
    ann = json_object_get(json_array_get(arr, 0), "annotations");
    assert_string_equal(json_string_value(json_object_get(labels, "source")),
                        "web\xef\xbf\xbd\n1");
    assert_string_equal(json_string_value(json_object_get(labels, "key")), "\x1b[31mblk");
    assert_string_equal(json_string_value(json_object_get(ann, "summary")),
                        "bad \xef\xbf\xbd\xef\xbf\xbd bytes");
    assert_string_equal(json_string_value(json_object_get(ann, "description")),
                        "not json \xef\xbf\xbd");
    json_decref(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outage_no_loss, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_resends_spool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_permanent_and_retryable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alertmanager_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alertmanager_any_bytes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
