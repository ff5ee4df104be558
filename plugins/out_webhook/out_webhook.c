/*
 * out_webhook: alerts POSTed over HTTP(S) with libcurl, as one generic JSON object each
 * (format json) or as a Prometheus Alertmanager v2 body (format alertmanager: POST to
 * http://host:9093/api/v2/alerts, a JSON array of one alert).
 *
 * deliver() (and overflow(), when the alert manager's queue is full) only renders the body and
 * writes it to the spool (webhook_spool.c); pump() sends the spool oldest first, one request
 * at a time, so the receiver sees alerts in seq order (except that an alert spooled by
 * overflow() can overtake the few still in the manager's queue). 2xx deletes the file and
 * reports the alert sent. 408, 429, 5xx and transport errors (refused, timed out) are retried
 * after a backoff that doubles from backoff_min to backoff_max, with the same alert at the head
 * of the line; any other status is a permanent refusal: the alert is deleted, counted as dropped
 * and reported as not sent. Alerts a stop leaves in the spool are resent by the next start.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "alert/alert_json.h"
#include "lw/lw_alert.h"
#include "webhook_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "webhook.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S 1000000000LL
/* Spool files sent per pump() call before the queue gets a look again. */
#define PUMP_BATCH 16

struct out_webhook {
    const struct lw_sink_conf *conf;
    const struct lw_sink_env *env;
    struct webhook_spool spool;
    CURL *curl;
    struct curl_slist *headers;
    int64_t backoff_ns;            /* current backoff; 0 while the receiver answers */
    int64_t next_attempt_ns;       /* monotonic */
    atomic_uint_fast64_t failed;   /* attempts that will be retried */
    atomic_uint_fast64_t refused;  /* alerts refused for good */
    char errbuf[CURL_ERROR_SIZE];
    char url_shown[256];           /* the URL for logs: no user:password@, no ?query or #part */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static size_t discard_body(char *p, size_t size, size_t n, void *opaque)
{
    (void)p;
    (void)opaque;
    return size * n;
}

static void webhook_exit(void *ctx)
{
    struct out_webhook *w = ctx;

    if (w == NULL) {
        return;
    }
    if (w->curl != NULL) {
        curl_easy_cleanup(w->curl);
    }
    curl_slist_free_all(w->headers);
    webhook_spool_close(&w->spool);
    lw_free(w);
}

/* Appends @h to the header list; false when out of memory. */
static bool add_header(struct out_webhook *w, const char *h)
{
    struct curl_slist *l = curl_slist_append(w->headers, h);

    if (l == NULL) {
        return false;
    }
    w->headers = l;
    return true;
}


/*
 * @url as it may be logged: a webhook URL may hold secrets, in its user:password@ part or its
 * query ("?token=..."), and the log is read by more people than the configuration. Returns @buf.
 */
static const char *url_for_log(const char *url, char *buf, size_t cap)
{
    const char *p = strstr(url, "://");
    const char *host = p != NULL ? p + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = memchr(host, '@', (size_t)(end - host));
    size_t keep = strcspn(url, "?#");

    if (at != NULL) {
        snprintf(buf, cap, "%.*s***@%.*s%s", (int)(host - url), url,
                 (int)(keep - (size_t)(at + 1 - url)), at + 1, url[keep] != '\0' ? "?***" : "");
    }
    else {
        snprintf(buf, cap, "%.*s%s", (int)keep, url, url[keep] != '\0' ? "?***" : "");
    }
    return buf;
}
static void *webhook_init(const struct lw_sink_conf *conf, const struct lw_sink_env *env,
                          char *err, size_t err_len)
{
    struct out_webhook *w;
    char auth[1024];
    bool ok;

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, err_len, "libcurl: %s", curl_easy_strerror(curl_init_rc));
        return NULL;
    }
    if (strncmp(conf->url, "http://", 7) != 0 && strncmp(conf->url, "https://", 8) != 0) {
        char shown[256];

        snprintf(err, err_len, "url %s: only http:// and https:// are supported",
                 url_for_log(conf->url, shown, sizeof(shown)));
        return NULL;
    }
    if (conf->token != NULL && strlen(conf->token) > sizeof(auth) - 32) {
        snprintf(err, err_len, "token too long");
        return NULL;
    }
    w = lw_calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    (void)url_for_log(conf->url, w->url_shown, sizeof(w->url_shown));
    w->conf = conf;
    w->env = env;
    if (webhook_spool_open(&w->spool, conf->spool_dir, conf->spool_max_bytes, env, conf->name,
                           err, err_len) < 0) {
        lw_free(w);
        return NULL;
    }
    w->curl = curl_easy_init();
    /* "Expect:" turns off 100-continue, a round trip that many small receivers never answer. */
    ok = w->curl != NULL && add_header(w, "Content-Type: application/json") &&
         add_header(w, "Expect:");
    if (ok && conf->token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", conf->token);
        ok = add_header(w, auth);
        memset(auth, 0, sizeof(auth));
    }
    if (!ok) {
        snprintf(err, err_len, "libcurl: out of memory");
        webhook_exit(w);
        return NULL;
    }
    curl_easy_setopt(w->curl, CURLOPT_URL, conf->url);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w->curl, CURLOPT_USERAGENT, "logwarden/" LW_VERSION);
    curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(w->curl, CURLOPT_ERRORBUFFER, w->errbuf);
    curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    return w;
}

/* Renders @m in the configured format and spools it. */
static int webhook_deliver(void *ctx, const struct lw_alert_msg *m)
{
    struct out_webhook *w = ctx;
    size_t len = 0;
    char *body;
    int rc;

    if (w->conf->format == LW_WEBHOOK_ALERTMANAGER) {
        body = lw__alert_am_json(m, &len);
    }
    else {
        body = lw__alert_json(m, &len);
    }
    if (body == NULL) {
        return LW_ENOMEM;
    }
    rc = webhook_spool_put(&w->spool, m->alert_seq, body, len);
    lw_free(body);
    if (rc < 0) {
        lw_error("alert", "sink %s: cannot spool alert %" PRIu64 " in %s: %s", w->conf->name,
                 m->alert_seq, w->conf->spool_dir, lw_strerror(rc));
    }
    return rc;
}

enum post_outcome { POST_SENT, POST_RETRY, POST_REFUSED };

/* One POST; @timeout_ns bounds the whole request. */
static enum post_outcome post(struct out_webhook *w, const char *body, size_t len,
                              int64_t timeout_ns, long *status)
{
    long ms = (long)(timeout_ns / NS_PER_MS);
    CURLcode cc;

    if (ms < 1) {
        ms = 1;
    }
    w->errbuf[0] = '\0';
    *status = 0;
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, ms);
    curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, ms);
    cc = curl_easy_perform(w->curl);
    if (cc != CURLE_OK) {
        if (w->errbuf[0] == '\0') {
            snprintf(w->errbuf, sizeof(w->errbuf), "%s", curl_easy_strerror(cc));
        }
        return POST_RETRY;
    }
    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, status);
    if (*status >= 200 && *status < 300) {
        return POST_SENT;
    }
    if (*status == 408 || *status == 429 || *status >= 500) {
        snprintf(w->errbuf, sizeof(w->errbuf), "HTTP %ld", *status);
        return POST_RETRY;
    }
    /* Other 4xx, and 1xx/3xx (a URL that redirects): resending the same body cannot help. */
    return POST_REFUSED;
}

static int64_t webhook_pump(void *ctx, int64_t now_ns, int64_t deadline_ns)
{
    struct out_webhook *w = ctx;
    int i;

    for (i = 0; i < PUMP_BATCH; i++) {
        enum post_outcome out;
        uint64_t seq = 0;
        char *body = NULL;
        size_t len = 0;
        int64_t timeout;
        long status;
        int rc;

        if (now_ns < w->next_attempt_ns) {
            return w->next_attempt_ns;
        }
        if (now_ns >= deadline_ns) {
            return now_ns;
        }
        rc = webhook_spool_peek(&w->spool, &seq, &body, &len);
        if (rc == LW_ENOENT) {
            return INT64_MAX;
        }
        if (rc == LW_ENOMEM) {
            return now_ns + w->conf->backoff_min_ns;
        }
        if (rc < 0) {
            lw_error("alert", "sink %s: spooled alert %" PRIu64 " unreadable, dropped",
                     w->conf->name, seq);
            atomic_fetch_add(&w->refused, 1);
            w->env->report(w->env->opaque, seq, false);
            webhook_spool_remove(&w->spool, seq);
            continue;
        }
        timeout = w->conf->timeout_ns;
        if (deadline_ns != INT64_MAX && deadline_ns - now_ns < timeout) {
            timeout = deadline_ns - now_ns;
        }
        out = post(w, body, len, timeout, &status);
        lw_free(body);
        if (out == POST_RETRY) {
            webhook_spool_release(&w->spool);
            atomic_fetch_add(&w->failed, 1);
            if (w->backoff_ns == 0) {
                /* Once per outage: the backoff says how often it is retried. */
                lw_warn("alert", "sink %s: %s: %s; alerts are kept in %s and retried",
                        w->conf->name, w->url_shown, w->errbuf, w->conf->spool_dir);
                w->backoff_ns = w->conf->backoff_min_ns;
            }
            else {
                w->backoff_ns *= 2;
                if (w->backoff_ns > w->conf->backoff_max_ns) {
                    w->backoff_ns = w->conf->backoff_max_ns;
                }
            }
            w->next_attempt_ns = mono_ns() + w->backoff_ns;
            return w->next_attempt_ns;
        }
        if (out == POST_REFUSED) {
            atomic_fetch_add(&w->refused, 1);
            lw_error("alert", "sink %s: %s refused alert %" PRIu64 " with HTTP %ld; dropped",
                     w->conf->name, w->url_shown, seq, status);
        }
        else if (w->backoff_ns != 0) {
            lw_info("alert", "sink %s: %s answers again", w->conf->name, w->url_shown);
        }
        w->backoff_ns = 0;
        /* Reported before the file goes, so an empty spool means every result is out. */
        w->env->report(w->env->opaque, seq, out == POST_SENT);
        webhook_spool_remove(&w->spool, seq);
        now_ns = mono_ns();
    }
    return now_ns;
}

static void webhook_stats(void *ctx, struct lw_sink_stats *out)
{
    struct out_webhook *w = ctx;

    out->failed = atomic_load(&w->failed);
    out->dropped = atomic_load(&w->refused) + atomic_load(&w->spool.dropped);
    out->spooled = webhook_spool_count(&w->spool);
}

const struct lw_sink_plugin out_webhook_plugin = {
    .abi = LW_SINK_ABI,
    .name = "webhook",
    .kind = LW_SINK_WEBHOOK,
    .async_results = true,
    .init = webhook_init,
    .deliver = webhook_deliver,
    .pump = webhook_pump,
    .overflow = webhook_deliver,
    .stats = webhook_stats,
    .exit = webhook_exit,
    .conf_keys = webhook_conf_keys,
    .conf = webhook_conf_read,
};
