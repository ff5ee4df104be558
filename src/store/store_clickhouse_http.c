/*
 * The ClickHouse backend's HTTP side: one libcurl easy handle per store handle (kept alive
 * between requests), the text buffers the rows are written into, and the escaping of values.
 * ClickHouse's HTTP interface takes a statement as the POST body, or an INSERT in the URL's
 * query parameter with its rows as the body; it answers 200 with the result, or another status
 * with the error text in the body. Nothing here logs: errors go to the caller's buffer.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "store/store_clickhouse_int.h"

/* ---- buffers ---- */

int lw__ch_buf_reserve(struct lw__ch_buf *b, size_t more)
{
    size_t want;
    size_t cap;
    char *p;

    if (more > SIZE_MAX / 2 - b->len) {
        return LW_ENOMEM;
    }
    want = b->len + more + 1;
    if (want <= b->cap) {
        return LW_OK;
    }
    cap = b->cap != 0 ? b->cap : 4096;
    while (cap < want) {
        cap *= 2;
    }
    p = lw_realloc(b->p, cap);
    if (p == NULL) {
        return LW_ENOMEM;
    }
    b->p = p;
    b->cap = cap;
    b->p[b->len] = '\0';
    return LW_OK;
}

int lw__ch_buf_put(struct lw__ch_buf *b, const void *p, size_t n)
{
    if (lw__ch_buf_reserve(b, n) != LW_OK) {
        return LW_ENOMEM;
    }
    if (n > 0) {
        memcpy(b->p + b->len, p, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return LW_OK;
}

int lw__ch_buf_puts(struct lw__ch_buf *b, const char *s)
{
    return lw__ch_buf_put(b, s, strlen(s));
}

int lw__ch_buf_vprintf(struct lw__ch_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0 || lw__ch_buf_reserve(b, (size_t)n) != LW_OK) {
        return LW_ENOMEM;
    }
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return LW_OK;
}

int lw__ch_buf_printf(struct lw__ch_buf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = lw__ch_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int lw__ch_buf_tsv(struct lw__ch_buf *b, const char *p, size_t n)
{
    size_t i;
    char *o;

    /* At most two bytes per byte. */
    if (n > SIZE_MAX / 4 || lw__ch_buf_reserve(b, 2 * n) != LW_OK) {
        return LW_ENOMEM;
    }
    o = b->p + b->len;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];

        switch (ch) {
        case '\\':
            *o++ = '\\';
            *o++ = '\\';
            break;
        case '\t':
            *o++ = '\\';
            *o++ = 't';
            break;
        case '\n':
            *o++ = '\\';
            *o++ = 'n';
            break;
        case '\r':
            *o++ = '\\';
            *o++ = 'r';
            break;
        case '\0':
            *o++ = '\\';
            *o++ = '0';
            break;
        default:
            *o++ = (char)ch;
            break;
        }
    }
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
    return LW_OK;
}

int lw__ch_buf_unhex(struct lw__ch_buf *b, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i;
    char *o;

    if (n > SIZE_MAX / 4 || lw__ch_buf_reserve(b, 2 * n + 10) != LW_OK) {
        return LW_ENOMEM;
    }
    o = b->p + b->len;
    memcpy(o, "unhex('", 7);
    o += 7;
    for (i = 0; i < n; i++) {
        *o++ = hex[(unsigned char)p[i] >> 4];
        *o++ = hex[(unsigned char)p[i] & 15];
    }
    *o++ = '\'';
    *o++ = ')';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
    return LW_OK;
}

void lw__ch_buf_reset(struct lw__ch_buf *b)
{
    b->len = 0;
    b->rows = 0;
    if (b->p != NULL) {
        b->p[0] = '\0';
    }
}

void lw__ch_buf_free(struct lw__ch_buf *b)
{
    lw_free(b->p);
    memset(b, 0, sizeof(*b));
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

int lw__ch_unhex(const char *hex, size_t n, char **out, size_t *len)
{
    char *p;
    size_t i;

    if (n % 2 != 0) {
        return LW_EINVAL;
    }
    p = lw_malloc(n / 2 + 1);
    if (p == NULL) {
        return LW_ENOMEM;
    }
    for (i = 0; i < n; i += 2) {
        int hi = hexval(hex[i]);
        int lo = hexval(hex[i + 1]);

        if (hi < 0 || lo < 0) {
            lw_free(p);
            return LW_EINVAL;
        }
        p[i / 2] = (char)(hi << 4 | lo);
    }
    p[n / 2] = '\0';
    *out = p;
    *len = n / 2;
    return LW_OK;
}

/* ---- the connection ---- */

/* curl_global_init() is not thread-safe; the webhook sink may run it too, which is harmless. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int lw__ch_conn_init(struct lw__ch_conn *c, const char *url, const char *user,
                     const char *password, long timeout_ms, char *err, size_t err_len)
{
    size_t n;

    memset(c, 0, sizeof(*c));
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, err_len, "libcurl cannot start: %s", curl_easy_strerror(curl_init_rc));
        return LW_EIO;
    }
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
        snprintf(err, err_len, "store.clickhouse.url '%s' is not an http:// or https:// URL",
                 url);
        return LW_EINVAL;
    }
    c->url = lw_strdup(url);
    c->user = user != NULL && *user != '\0' ? lw_strdup(user) : NULL;
    c->password = password != NULL ? lw_strdup(password) : NULL;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    c->curl = curl_easy_init();
    /*
     * No "Expect: 100-continue" on big inserts: libcurl then waits up to a second for a
     * "100 Continue" that ClickHouse does not send, so each large INSERT took a second more;
     * bench/kafka-clickhouse.sh committed one transaction every ~5 s instead of every 200 ms.
     */
    c->headers = curl_slist_append(NULL, "Expect:");
    if (c->url == NULL || (user != NULL && *user != '\0' && c->user == NULL) ||
        (password != NULL && c->password == NULL) || c->curl == NULL || c->headers == NULL) {
        lw__ch_conn_fini(c);
        snprintf(err, err_len, "out of memory");
        return LW_ENOMEM;
    }
    n = strlen(c->url);
    while (n > 0 && c->url[n - 1] == '/') {
        c->url[--n] = '\0';
    }
    return LW_OK;
}

void lw__ch_conn_fini(struct lw__ch_conn *c)
{
    if (c->curl != NULL) {
        curl_easy_cleanup(c->curl);
    }
    curl_slist_free_all(c->headers);
    lw_free(c->url);
    lw_free(c->user);
    if (c->password != NULL) {
        memset(c->password, 0, strlen(c->password));
    }
    lw_free(c->password);
    memset(c, 0, sizeof(*c));
}

struct sink {
    struct lw__ch_buf *b;
    int overflow;
    int nomem;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *opaque)
{
    struct sink *s = opaque;
    size_t n = size * nmemb;

    if (s->b->len + n > LW__CH_MAX_RESPONSE_BYTES) {
        s->overflow = 1;
        return 0; /* makes curl fail with CURLE_WRITE_ERROR */
    }
    if (lw__ch_buf_put(s->b, p, n) != LW_OK) {
        s->nomem = 1;
        return 0;
    }
    return n;
}

/* The first line of the server's error text, cut short: enough to say what went wrong. */
static void server_error(const struct lw__ch_buf *b, long status, const char *url, char *err,
                         size_t err_len)
{
    size_t n = 0;

    while (b->p != NULL && n < b->len && n < 400 && b->p[n] != '\n') {
        n++;
    }
    snprintf(err, err_len, "ClickHouse at %s answered HTTP %ld: %.*s", url, status, (int)n,
             b->p != NULL ? b->p : "");
}

int lw__ch_exec(struct lw__ch_conn *c, const char *query, const char *body, size_t body_len,
                struct lw__ch_buf *out, char *err, size_t err_len)
{
    CURL *h = c->curl;
    struct lw__ch_buf scratch = {0};
    struct sink s;
    char *target = NULL;
    char *esc = NULL;
    CURLcode cc;
    long status = 0;
    size_t n;
    int rc = LW_OK;

    s.b = out != NULL ? out : &scratch;
    s.overflow = 0;
    s.nomem = 0;
    lw__ch_buf_reset(s.b);
    curl_easy_reset(h);
    /* With a body to insert, the query travels in the URL; else it is the body. */
    if (body != NULL) {
        esc = curl_easy_escape(h, query, 0);
        if (esc == NULL) {
            rc = LW_ENOMEM;
            snprintf(err, err_len, "out of memory");
            goto out;
        }
    }
    n = strlen(c->url) + (esc != NULL ? strlen(esc) : 0) + 16;
    target = lw_malloc(n);
    if (target == NULL) {
        rc = LW_ENOMEM;
        snprintf(err, err_len, "out of memory");
        goto out;
    }
    snprintf(target, n, "%s/%s%s", c->url, esc != NULL ? "?query=" : "", esc != NULL ? esc : "");
    curl_easy_setopt(h, CURLOPT_URL, target);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body != NULL ? body : query);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)(body != NULL ? body_len : strlen(query)));
    if (c->user != NULL) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password != NULL ? c->password : "");
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, (struct curl_slist *)c->headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 5000 ? c->timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    /* Never follow a redirect elsewhere with the credentials. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    cc = curl_easy_perform(h);
    if (s.nomem) {
        rc = LW_ENOMEM;
        snprintf(err, err_len, "out of memory reading the answer of ClickHouse at %s", c->url);
        goto out;
    }
    if (s.overflow) {
        rc = LW_EIO;
        snprintf(err, err_len,
                 "ClickHouse at %s: the answer is over %zu bytes, more than logwarden reads;"
                 " ask for a shorter time range or fewer rows (limit)",
                 c->url, LW__CH_MAX_RESPONSE_BYTES);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = LW_EIO;
        snprintf(err, err_len, "cannot reach ClickHouse at %s: %s", c->url,
                 curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        rc = LW_EIO;
        server_error(s.b, status, c->url, err, err_len);
        goto out;
    }
out:
    if (esc != NULL) {
        curl_free(esc);
    }
    lw_free(target);
    lw__ch_buf_free(&scratch);
    return rc;
}

int lw__ch_insert(struct lw__ch_conn *c, const char *db, const char *table,
                  const struct lw__ch_buf *rows, char *err, size_t err_len)
{
    char q[256];

    snprintf(q, sizeof(q), "INSERT INTO %s.%s FORMAT TabSeparated", db, table);
    return lw__ch_exec(c, q, rows->p, rows->len, NULL, err, err_len);
}
