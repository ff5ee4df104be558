/*
 * Configuration of `logwarden run` (see run_conf.h): defaults, then the YAML file, then the
 * flags. The file is read into a tree (lw_conf.h) that keeps each value's line; this file reads
 * the global sections (top-level keys, pipeline, store, api, alerts routing, detect's own keys
 * and the session tracker) and hands every plugin section to its plugin: inputs.<name> to the
 * input plugin of that name, detect.<name> to the detector, each alerts.sinks entry to the sink
 * its type names. Each plugin lists its keys, so an unknown key is an error naming file, line
 * and key. Last come the settings that depend on both: the volume window follows the pipeline
 * window unless detect.volume.window is set, and no alert sink at all means one stdout sink.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pcre2.h>

#include "cli/run_conf.h"
#include "lw/lw_conf.h"
#include "lw/lw_engine.h"
#include "lw/lw_err.h"
#include "lw/lw_store.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"
#include "lw/lw_plugin.h"

#define NS 1000000000LL

static const char usage_text[] =
    "usage: logwarden run [options]\n"
    "\n"
    "Runs the daemon: ingests lines from files, syslog, HTTP and stdin, mines their templates,\n"
    "detects anomalies and sends alerts (stdout, a JSONL file, webhooks), and keeps templates,\n"
    "per-window counts and input positions in an embedded store.\n"
    "With no options at all it listens for syslog on 127.0.0.1:5514 (UDP and TCP) and HTTP on\n"
    "127.0.0.1:8080, and keeps its data in ./logwarden-data.\n"
    "\n"
    "options (flags override the configuration file):\n"
    "  -c, --config FILE       YAML configuration (every key: docs/config.md)\n"
    "  -d, --data-dir DIR      where the store lives (default ./logwarden-data)\n"
    "  -t, --tail GLOB         follow files matching GLOB (repeatable)\n"
    "      --tail-from-end     files present at start are read from their end\n"
    "      --syslog ADDR:PORT  syslog listener, UDP and TCP (default 127.0.0.1:5514)\n"
    "      --no-syslog         no syslog listener\n"
    "      --http ADDR:PORT    HTTP ingest, /metrics and the API (default 127.0.0.1:8080)\n"
    "      --no-http           no HTTP server\n"
    "      --http-token TOKEN  bearer token (required when --http is not a loopback address;\n"
    "                          also read from LOGWARDEN_HTTP_TOKEN)\n"
    "      --stdin             read lines from standard input too (stops at its end when it\n"
    "                          is the only input)\n"
    "      --kafka BROKERS/TOPIC  consume TOPIC from the Kafka brokers BROKERS (host:port,...)\n"
    "                          in a consumer group (docs/kafka.md; repeat for more topics)\n"
    "      --kafka-group ID    the Kafka consumer group (default logwarden)\n"
    "      --multiline MODE    how tailed files, stdin and HTTP text bodies join continuation\n"
    "                          lines (stack traces): auto (default), off, regex or start\n"
    "      --multiline-regex RE  lines matching RE continue the previous line (mode regex,\n"
    "                          implied), or with --multiline start: lines NOT matching RE do\n"
    "      --max-multiline-lines N  physical lines joined into one record at most (default 500)\n"
    "  -f, --format FMT        header layout in <Field> notation (default: automatic)\n"
    "  -j, --workers N         parse threads (default 2)\n"
    "      --window DUR        event-time window (default 10s)\n"
    "      --memory-limit SIZE bytes of lines in flight before inputs are slowed (default 256MiB)\n"
    "      --retention DUR     how long window counts are kept (default 7d)\n"
    "      --log-level LEVEL   error, warn, info (default) or debug\n"
    "      --no-detect         no anomaly detection (lines are still mined and counted)\n"
    "      --threshold X       report anomalies scoring at least X, in (0, 1] (default 0.999)\n"
    "      --alert-file PATH   append alerts to PATH as JSON lines (repeatable)\n"
    "      --alert-webhook URL POST alerts as JSON to an http(s) URL (repeatable)\n"
    "                          (with no alert sink in the file or the flags, alerts go to\n"
    "                          stdout)\n"
    "  -h, --help              this text\n"
    "\n"
    "examples:\n"
    "  logwarden run --tail '/var/log/*.log'\n"
    "  logwarden run --no-syslog --http 127.0.0.1:9000 --data-dir /var/lib/logwarden\n"
    "  journalctl -f | logwarden run --stdin --no-syslog --no-http\n"
    "  logwarden run --no-syslog --kafka 10.0.0.5:9092/app-logs --kafka-group logwarden\n"
    "  logwarden status --data-dir ./logwarden-data --json\n";

/* ---- values (flags, and the store and global sections of the file) ---- */

static void set_str(char **dst, const char *src)
{
    if (src != NULL) {
        lw_free(*dst);
        *dst = lw_strdup(src);
    }
}

static int bad(const char *where, const char *key, const char *value, const char *want)
{
    fprintf(stderr, "logwarden run: %s: %s: '%s' is not %s\n", where, key, value, want);
    return 2;
}

#define TOKEN_MIN 8

static int http_budget(struct lw_run_conf *rc);
static bool have_kafka(void);

/* A bearer token worth the name: TOKEN_MIN or more visible ASCII characters. */
static bool token_ok(const char *t)
{
    size_t i;

    for (i = 0; t[i] != '\0'; i++) {
        if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f) {
            return false;
        }
    }
    return i >= TOKEN_MIN;
}

static int set_duration(const char *where, const char *key, const char *v, int64_t *out)
{
    int64_t d;

    if (v == NULL) {
        return 0;
    }
    d = lw_parse_duration_ns(v);
    if (d <= 0) {
        return bad(where, key, v, "a duration such as 250ms, 10s, 5m, 7d");
    }
    *out = d;
    return 0;
}

static int set_size(const char *where, const char *key, const char *v, size_t *out)
{
    int64_t d;

    if (v == NULL) {
        return 0;
    }
    d = lw_parse_size(v);
    if (d <= 0) {
        return bad(where, key, v, "a size such as 65536, 64KiB, 16MiB");
    }
    *out = (size_t)d;
    return 0;
}

/*
 * Reads a whole number in [@lo, @hi] into *@out. strtoull() alone would take "-1" for a huge
 * value, so a sign is refused first.
 */
static int set_num(const char *where, const char *key, const char *v, uint64_t lo, uint64_t hi,
                   uint64_t *out)
{
    char want[96];
    char *end;
    unsigned long long n;

    if (v == NULL) {
        return 0;
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (!isdigit((unsigned char)v[0]) || errno != 0 || *end != '\0' || n < lo || n > hi) {
        if (lo == 0 && hi == UINT64_MAX) {
            snprintf(want, sizeof(want), "a whole number (0 or more)");
        }
        else if (lo == 1 && hi >= UINT32_MAX) {
            snprintf(want, sizeof(want), "a positive whole number");
        }
        else {
            snprintf(want, sizeof(want), "a whole number from %llu to %llu",
                     (unsigned long long)lo, (unsigned long long)hi);
        }
        return bad(where, key, v, want);
    }
    *out = (uint64_t)n;
    return 0;
}

/* set_num() for size_t fields. */
static int set_sz(const char *where, const char *key, const char *v, uint64_t lo, uint64_t hi,
                  size_t *out)
{
    const uint64_t size_max = SIZE_MAX; /* a variable: no "always false" warning on LP64 */
    uint64_t n = *out;

    if (set_num(where, key, v, lo, hi > size_max ? size_max : hi, &n) != 0) {
        return 2;
    }
    *out = (size_t)n;
    return 0;
}

static int set_count(const char *where, const char *key, const char *v, size_t *out)
{
    return set_sz(where, key, v, 1, SIZE_MAX, out);
}

/* A probability in (0, 1]: thresholds, scores and supports. */
static int set_prob(const char *where, const char *key, const char *v, double *out)
{
    char *end;
    double d;

    if (v == NULL) {
        return 0;
    }
    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d > 0 && d <= 1)) {
        return bad(where, key, v, "a number in (0, 1], such as 0.999");
    }
    *out = d;
    return 0;
}

/* Reports a problem that is not one malformed value. */
__attribute__((format(printf, 2, 3))) static int bad_conf(const char *where, const char *fmt,
                                                          ...)
{
    va_list ap;

    fprintf(stderr, "logwarden run: %s: ", where);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

/* Each step returns 0 or 2 (already reported); the first error ends the section. */
#define TRY(x)                                                                                   \
    do {                                                                                         \
        if ((x) != 0) {                                                                          \
            return 2;                                                                            \
        }                                                                                        \
    } while (0)

/*
 * Refuses a pattern mode without a pattern, a pattern with a mode that uses none, and a pattern
 * that does not compile. @mode_key and @regex_key name the keys (or flags) for the message.
 */
static int check_multiline(const char *where, const char *mode_key, const char *regex_key,
                           const struct lw_run_multiline *m)
{
    struct lw_multiline_conf ml;
    char err[256];

    lw_run_conf_multiline(m, &ml);
    if ((ml.mode == LW_MULTILINE_REGEX || ml.mode == LW_MULTILINE_START) && ml.regex == NULL) {
        return bad_conf(where, "%s: %s needs a pattern (%s)", mode_key,
                        lw_multiline_mode_name(ml.mode), regex_key);
    }
    if (lw_multiline_check(&ml, err, sizeof(err)) < 0) {
        return bad_conf(where, "%s: %s", regex_key, err);
    }
    return 0;
}

static const char *sink_kind_name(enum lw_sink_kind k)
{
    return k == LW_SINK_STDOUT ? "stdout" : k == LW_SINK_FILE ? "file" : "webhook";
}

/* The name the alert manager will use: the configured one, else the kind. */
static const char *sink_name(const struct lw_sink_conf *s)
{
    return s->name != NULL ? s->name : sink_kind_name(s->kind);
}

static bool url_ok(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 && u[7] != '\0') ||
           (strncmp(u, "https://", 8) == 0 && u[8] != '\0');
}

/*
 * Appends a sink of @kind to rc->alerts and returns it, or NULL (reported) when all
 * LW_ALERT_MAX_SINKS are taken. The slot is counted at once, so lw_alert_conf_fini() frees
 * whatever is put in it, even when a later step fails.
 */
static struct lw_sink_conf *add_sink(const char *where, struct lw_run_conf *rc,
                                     enum lw_sink_kind kind)
{
    struct lw_sink_conf *s;

    if (rc->alerts.n_sinks >= LW_ALERT_MAX_SINKS) {
        bad_conf(where, "alerts.sinks: at most %d sinks", LW_ALERT_MAX_SINKS);
        return NULL;
    }
    s = &rc->alerts.sinks[rc->alerts.n_sinks++];
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    return s;
}

/* Adds a Kafka topic; @where names the key or flag in messages. */
static int add_kafka_topic(const char *where, const char *topic, struct lw_run_conf *rc)
{
    size_t i;

    /* Kafka's own rule for topic names: 1-249 of [a-zA-Z0-9._-]. */
    for (i = 0; topic[i] != '\0'; i++) {
        if (!isalnum((unsigned char)topic[i]) && strchr("._-", topic[i]) == NULL) {
            break;
        }
    }
    if (i == 0 || i > 249 || topic[i] != '\0') {
        return bad(where, "topic", topic, "a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -)");
    }
    if (rc->n_kafka_topics >= LW_RUN_MAX_KAFKA_TOPICS) {
        return bad_conf(where, "at most %d Kafka topics", LW_RUN_MAX_KAFKA_TOPICS);
    }
    rc->kafka_topics[rc->n_kafka_topics] = lw_strdup(topic);
    if (rc->kafka_topics[rc->n_kafka_topics] == NULL) {
        return bad_conf(where, "out of memory");
    }
    rc->n_kafka_topics++;
    return 0;
}

/* --kafka BROKERS/TOPIC: the topic follows the last '/' (topic names hold no '/'). */
static int kafka_flag(const char *arg, struct lw_run_conf *rc)
{
    const char *slash = strrchr(arg, '/');
    char *brokers;

    if (slash == NULL || slash == arg || slash[1] == '\0') {
        return bad("--kafka", "value", arg, "BROKERS/TOPIC, e.g. 127.0.0.1:9092/app-logs");
    }
    brokers = lw_strndup(arg, (size_t)(slash - arg));
    if (brokers == NULL) {
        return bad_conf("--kafka", "out of memory");
    }
    if (rc->kafka_brokers != NULL && strcmp(rc->kafka_brokers, brokers) != 0 &&
        rc->n_kafka_topics > 0 && !rc->kafka_flag_seen) {
        /* The flag names other brokers than the file: its topics replace the file's. */
        size_t i;

        for (i = 0; i < rc->n_kafka_topics; i++) {
            lw_free(rc->kafka_topics[i]);
        }
        rc->n_kafka_topics = 0;
    }
    else if (rc->kafka_brokers != NULL && rc->kafka_flag_seen &&
             strcmp(rc->kafka_brokers, brokers) != 0) {
        lw_free(brokers);
        return bad_conf("--kafka", "every --kafka must name the same brokers");
    }
    rc->kafka_flag_seen = true;
    lw_free(rc->kafka_brokers);
    rc->kafka_brokers = brokers;
    return add_kafka_topic("--kafka", slash + 1, rc);
}

/* Reads the first line of @file (the password), with its trailing white space cut. */
static int read_secret(const char *where, const char *key, const char *file, char **out)
{
    char buf[1024];
    FILE *f = fopen(file, "re");
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "logwarden run: %s: %s: cannot read '%s': %s\n", where, key, file,
                strerror(errno));
        return 2;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    lw_free(*out);
    *out = lw_strdup(buf);
    memset(buf, 0, sizeof(buf));
    return 0;
}

/* ---- the YAML file: a tree (lw_conf.h) whose plugin sections go to their plugins ---- */

/* Reports @err and returns 2, the exit code of a configuration error. */
static int conf_fail(const struct lw_conf_err *err)
{
    fprintf(stderr, "logwarden run: %s\n", err->msg);
    return 2;
}

/* Each step returns a negative LW_E* code with err filled; the first error ends the load. */
#define CK(x)                                                                                    \
    do {                                                                                         \
        if ((x) < 0) {                                                                           \
            return conf_fail(err);                                                               \
        }                                                                                        \
    } while (0)

/*
 * *@dst becomes a copy of @src (NULL: none). @src may be *@dst itself: a plugin's section reader
 * leaves the values it did not read as they were.
 */
static int take_str(char **dst, const char *src)
{
    char *copy;

    if (src == *dst) {
        return 0;
    }
    copy = NULL;
    if (src != NULL && (copy = lw_strdup(src)) == NULL) {
        return LW_ENOMEM;
    }
    lw_free(*dst);
    *dst = copy;
    return 0;
}

/* Replaces the owned array @dst (@n_dst entries, room for @max) with copies of @src. */
static int take_strv(char **dst, size_t *n_dst, size_t max, const char *const *src, size_t n)
{
    size_t i;

    if (src == (const char *const *)dst) {
        return 0;
    }
    for (i = 0; i < *n_dst; i++) {
        lw_free(dst[i]);
    }
    *n_dst = 0;
    for (i = 0; i < n && i < max; i++) {
        dst[i] = lw_strdup(src[i]);
        if (dst[i] == NULL) {
            return LW_ENOMEM;
        }
        *n_dst = i + 1;
    }
    return 0;
}

static int take_multiline(struct lw_run_multiline *dst, const struct lw_multiline_conf *src)
{
    dst->mode = src->mode;
    dst->max_lines = src->max_lines;
    return take_str(&dst->regex, src->regex);
}

/*
 * Takes the inputs' sections back from their plugins' readers (@ic, strings borrowed from the
 * tree) into @rc, which owns its copies and lets the flags override them.
 */
static int take_inputs(const struct lw_input_conf *ic, struct lw_run_conf *rc)
{
    int r = 0;

    r = r ? r
          : take_strv(rc->tail, &rc->n_tail, LW_RUN_MAX_TAIL, ic->tail.patterns,
                      ic->tail.n_patterns);
    rc->tail_from_end = ic->tail.from_end;
    rc->tail_poll_ms = ic->tail.poll_ms;
    r = r ? r : take_multiline(&rc->tail_ml, &ic->tail.multiline);
    if (ic->tail.rotate_patterns != NULL) {
        rc->tail_rotate_set = true;
        r = r ? r
              : take_strv(rc->tail_rotate, &rc->n_tail_rotate, LW_RUN_MAX_ROTATE,
                          ic->tail.rotate_patterns, ic->tail.n_rotate_patterns);
    }
    rc->tail_skip_gzip = ic->tail.skip_gzip;
    rc->tail_rotate_wait_ms = ic->tail.rotate_wait_ms;
    r = r ? r : take_str(&rc->syslog_addr, ic->syslog.addr);
    rc->syslog_udp = ic->syslog.udp;
    rc->syslog_tcp = ic->syslog.tcp;
    rc->syslog_max_connections = ic->syslog.max_connections;
    rc->syslog_idle_timeout_s = ic->syslog.idle_timeout_s;
    rc->syslog_udp_rcvbuf = ic->syslog.udp_rcvbuf_bytes;
    r = r ? r : take_str(&rc->http_addr, ic->http.addr);
    r = r ? r : take_multiline(&rc->http_ml, &ic->http.multiline);
    r = r ? r : take_str(&rc->http_token, ic->http.token);
    rc->http_max_body = ic->http.max_body_bytes;
    rc->http_max_buffered = ic->http.max_buffered_bytes;
    rc->http_max_connections = ic->http.max_connections;
    rc->http_max_connections_per_ip = ic->http.max_connections_per_ip;
    rc->http_idle_timeout_s = ic->http.idle_timeout_s;
    rc->use_stdin = ic->in_stdin.enabled;
    r = r ? r : take_multiline(&rc->stdin_ml, &ic->in_stdin.multiline);
    r = r ? r : take_str(&rc->kafka_brokers, ic->kafka.brokers);
    r = r ? r
          : take_strv(rc->kafka_topics, &rc->n_kafka_topics, LW_RUN_MAX_KAFKA_TOPICS,
                      ic->kafka.topics, ic->kafka.n_topics);
    r = r ? r : take_str(&rc->kafka_group, ic->kafka.group);
    r = r ? r : take_str(&rc->kafka_client_id, ic->kafka.client_id);
    rc->kafka_json = ic->kafka.json;
    rc->kafka_key_as_host = ic->kafka.key_as_host;
    rc->kafka_max_poll_records = ic->kafka.max_poll_records;
    rc->kafka_max_buffered = ic->kafka.max_buffered_bytes;
    r = r ? r : take_str(&rc->kafka_offset_reset, ic->kafka.offset_reset);
    rc->kafka_revoke_wait_ms = ic->kafka.revoke_wait_ms;
    r = r ? r
          : take_strv(rc->kafka_props, &rc->n_kafka_props, LW_RUN_MAX_KAFKA_PROPS,
                      ic->kafka.properties, ic->kafka.n_properties);
    return r;
}

/*
 * inputs: each key names an input plugin, which reads its own section (lw_plugin.h). The
 * plugins fill a struct lw_input_conf that starts from @rc's values; @rc then takes it back.
 */
static int load_inputs(const struct lw_conf *c, const struct lw_conf_node *inputs,
                       struct lw_run_conf *rc, struct lw_conf_err *err)
{
    const char *known[16];
    const struct lw_conf_node *sec;
    struct lw_input_conf ic;
    size_t n = 0;
    size_t i;
    int r;

    for (i = 0; lw_input_plugins[i] != NULL && n + 2 < sizeof(known) / sizeof(known[0]); i++) {
        known[n++] = lw_input_plugins[i]->name;
    }
    if (!have_kafka()) {
        known[n++] = "kafka"; /* refused below, with the reason */
    }
    known[n] = NULL;
    CK(lw_conf_check_keys(c, inputs, known, err));
    if (!have_kafka() && (sec = lw_conf_get(inputs, "kafka")) != NULL &&
        (lw_conf_get(sec, "brokers") != NULL || lw_conf_get(sec, "topics") != NULL)) {
        lw_conf_errf(c, sec, err, "this logwarden was built without its Kafka input (librdkafka "
                                  "was not found): install librdkafka-dev and build again");
        return conf_fail(err);
    }
    lw_run_conf_inputs(rc, &ic);
    for (i = 0; lw_input_plugins[i] != NULL; i++) {
        const struct lw_input_plugin *p = lw_input_plugins[i];
        static const char *const none[] = {NULL};

        sec = NULL;
        CK(r = lw_conf_map(c, inputs, p->name, &sec, err));
        if (r == 0) {
            continue;
        }
        CK(lw_conf_check_keys(c, sec, p->conf_keys != NULL ? p->conf_keys : none, err));
        if (p->conf != NULL) {
            CK(p->conf(c, sec, &ic, err));
        }
    }
    if (take_inputs(&ic, rc) != 0) {
        fprintf(stderr, "logwarden run: out of memory\n");
        return 2;
    }
    return 0;
}

/*
 * The session key is compiled here as well as by the detection stage, so that a bad pattern is
 * a configuration error (exit 2, naming the key) rather than a failed start.
 */
static int key_pattern(const struct lw_conf *c, const struct lw_conf_node *sec, char **out,
                       struct lw_conf_err *err)
{
    const struct lw_conf_node *n = lw_conf_get(sec, "key");
    const char *v = NULL;
    pcre2_code *re;
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE off;
    int ec;
    int r;

    r = lw_conf_str(c, sec, "key", &v, err);
    if (r <= 0) {
        return r;
    }
    if (v[0] == '\0') {
        return lw_conf_errf(c, n, err, "the pattern is empty (to stop tracking sessions, set "
                                       "detect.session.enabled: false)");
    }
    re = pcre2_compile((PCRE2_SPTR)v, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
    if (re == NULL) {
        pcre2_get_error_message(ec, msg, sizeof(msg));
        return lw_conf_errf(c, n, err, "'%s' is not a PCRE2 pattern: %s at offset %zu", v,
                            (const char *)msg, (size_t)off);
    }
    pcre2_code_free(re);
    return take_str(out, v) == 0 ? 1 : lw_conf_errf(c, n, err, "out of memory");
}

/* detect.session: the session tracker is the detection stage's, not one detector's. */
static int load_session(const struct lw_conf *c, const struct lw_conf_node *detect,
                        struct lw_detect_conf *d, struct lw_conf_err *err)
{
    static const char *const keys[] = {"enabled", "key", "timeout", "terminal", "max_open",
                                       "max_events", NULL};
    const struct lw_conf_node *sec = NULL;
    const struct lw_conf_node *list = NULL;
    const struct lw_conf_node *it;
    int r;

    if ((r = lw_conf_map(c, detect, "session", &sec, err)) <= 0) {
        return r;
    }
    if ((r = lw_conf_check_keys(c, sec, keys, err)) < 0 ||
        (r = lw_conf_bool(c, sec, "enabled", &d->session.enabled, err)) < 0 ||
        (r = key_pattern(c, sec, &d->session.key_pattern, err)) < 0 ||
        (r = lw_conf_duration(c, sec, "timeout", 1, &d->session.timeout_ns, err)) < 0 ||
        (r = lw_conf_list(c, sec, "terminal", SIZE_MAX, "a list of template ids", &list,
                          err)) < 0) {
        return r;
    }
    if (r == 1) {
        if (list->n_children > LW_DETECT_MAX_TERMINAL) {
            return lw_conf_errf(c, list, err, "%zu template ids, at most %d", list->n_children,
                                LW_DETECT_MAX_TERMINAL);
        }
        d->session.n_terminal = 0;
        for (it = list->child; it != NULL; it = it->next) {
            char *end;
            unsigned long long v;

            v = strtoull(it->value, &end, 10);
            if (!isdigit((unsigned char)it->value[0]) || *end != '\0' || v < 1 ||
                v > UINT32_MAX) {
                return lw_conf_bad(c, it, err, "a template id (a whole number from 1)");
            }
            d->session.terminal[d->session.n_terminal++] = (uint32_t)v;
        }
    }
    if ((r = lw_conf_usize(c, sec, "max_open", 1, UINT64_MAX, &d->session.max_open, err)) < 0 ||
        (r = lw_conf_usize(c, sec, "max_events", 1, UINT64_MAX, &d->session.max_events,
                           err)) < 0) {
        return r;
    }
    return 0;
}

/* detect: the stage's own keys and session; every other key is a detector plugin's section. */
static int load_detect(const struct lw_conf *c, const struct lw_conf_node *detect,
                       struct lw_run_conf *rc, bool *volume_window_set, struct lw_conf_err *err)
{
    const char *known[24];
    const struct lw_conf_node *sec;
    size_t n = 0;
    size_t i;
    int r;

    known[n++] = "enabled";
    known[n++] = "threshold";
    known[n++] = "lateness";
    known[n++] = "session";
    for (i = 0; lw_detector_plugins[i] != NULL && n + 1 < sizeof(known) / sizeof(known[0]);
         i++) {
        known[n++] = lw_detector_plugins[i]->name;
    }
    known[n] = NULL;
    CK(lw_conf_check_keys(c, detect, known, err));
    CK(lw_conf_bool(c, detect, "enabled", &rc->detect_enabled, err));
    CK(lw_conf_number(c, detect, "threshold", 0, true, 1, "a number in (0, 1], such as 0.999",
                      &rc->detect.threshold, err));
    CK(r = lw_conf_duration(c, detect, "lateness", 0, &rc->detect.lateness_ns, err));
    if (r == 1) {
        /* The old name of the one lateness (see pipeline.allowed_lateness). */
        rc->lateness_ns = rc->detect.lateness_ns;
    }
    CK(load_session(c, detect, &rc->detect, err));
    for (i = 0; lw_detector_plugins[i] != NULL; i++) {
        const struct lw_detector_plugin *p = lw_detector_plugins[i];
        static const char *const none[] = {NULL};

        sec = NULL;
        CK(r = lw_conf_map(c, detect, p->name, &sec, err));
        if (r == 0) {
            continue;
        }
        CK(lw_conf_check_keys(c, sec, p->conf_keys != NULL ? p->conf_keys : none, err));
        if (p->conf != NULL) {
            CK(p->conf(c, sec, &rc->detect, err));
        }
    }
    sec = lw_conf_get(lw_conf_get(detect, "volume"), "window");
    *volume_window_set = sec != NULL && !lw_conf_is_null(sec);
    return 0;
}

static const struct lw_sink_plugin *sink_plugin(const char *type)
{
    size_t i;

    for (i = 0; lw_sink_plugins[i] != NULL; i++) {
        if (strcmp(lw_sink_plugins[i]->name, type) == 0) {
            return lw_sink_plugins[i];
        }
    }
    return NULL;
}

static bool in_list(const char *const *keys, const char *k)
{
    for (; keys != NULL && *keys != NULL; keys++) {
        if (strcmp(*keys, k) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * The keys of a sink entry: every sink's (type, name, queue) and its kind's. A key of another
 * kind is named as such ("url is for a webhook sink, not file"): a likelier mistake than a typo.
 */
static int sink_keys(const struct lw_conf *c, const struct lw_conf_node *entry,
                     const struct lw_sink_plugin *p, struct lw_conf_err *err)
{
    static const char *const common[] = {"type", "name", "queue", NULL};
    const char *all[48];
    const struct lw_conf_node *k;
    size_t n = 0;
    size_t i;
    size_t j;

    for (k = entry->child; k != NULL; k = k->next) {
        if (in_list(common, k->key) || in_list(p->conf_keys, k->key)) {
            continue;
        }
        for (i = 0; lw_sink_plugins[i] != NULL; i++) {
            if (in_list(lw_sink_plugins[i]->conf_keys, k->key)) {
                return lw_conf_errf(c, entry, err, "%s is for a %s sink, not %s", k->key,
                                    lw_sink_plugins[i]->name, p->name);
            }
        }
    }
    /* Left: keys no sink takes; the check names the first with a near miss from all of them. */
    for (i = 0; common[i] != NULL; i++) {
        all[n++] = common[i];
    }
    for (i = 0; lw_sink_plugins[i] != NULL; i++) {
        for (j = 0; lw_sink_plugins[i]->conf_keys != NULL &&
                    lw_sink_plugins[i]->conf_keys[j] != NULL && n + 1 < 48;
             j++) {
            all[n++] = lw_sink_plugins[i]->conf_keys[j];
        }
    }
    all[n] = NULL;
    return lw_conf_check_keys(c, entry, all, err);
}

/* One entry of alerts.sinks: type picks the sink plugin, which reads its own keys. */
static int load_sink(const struct lw_conf *c, const struct lw_conf_node *entry,
                     struct lw_run_conf *rc, struct lw_conf_err *err)
{
    const struct lw_sink_plugin *p;
    struct lw_sink_conf *s;
    const char *type = NULL;
    const char *name = NULL;
    char want[96];
    size_t i;
    int r;

    if (entry->type != LW_CONF_MAP) {
        CK(lw_conf_bad(c, entry, err, "a sink (a map with a type)"));
    }
    snprintf(want, sizeof(want), "a sink type:");
    for (i = 0; lw_sink_plugins[i] != NULL; i++) {
        size_t len = strlen(want);

        snprintf(want + len, sizeof(want) - len, "%s %s", i == 0 ? "" : ",",
                 lw_sink_plugins[i]->name);
    }
    CK(r = lw_conf_str(c, entry, "type", &type, err));
    if (r == 0) {
        CK(lw_conf_errf(c, entry, err, "a sink needs a type (stdout, file or webhook)"));
    }
    p = sink_plugin(type);
    if (p == NULL) {
        CK(lw_conf_bad(c, lw_conf_get(entry, "type"), err, "stdout, file or webhook"));
    }
    CK(sink_keys(c, entry, p, err));
    CK(r = lw_conf_str(c, entry, "name", &name, err));
    if (r == 1 && name[0] == '\0') {
        CK(lw_conf_errf(c, lw_conf_get(entry, "name"), err, "empty"));
    }
    s = add_sink(lw_conf_file(c), rc, p->kind);
    if (s == NULL) {
        return 2;
    }
    s->format = LW_WEBHOOK_JSON;
    if (name != NULL && (s->name = lw_strdup(name)) == NULL) {
        CK(lw_conf_errf(c, entry, err, "out of memory"));
    }
    CK(lw_conf_usize(c, entry, "queue", 1, UINT64_MAX, &s->queue, err));
    if (p->conf != NULL) {
        CK(p->conf(c, entry, s, err));
    }
    return 0;
}

static int load_alerts(const struct lw_conf *c, const struct lw_conf_node *alerts,
                       struct lw_run_conf *rc, struct lw_conf_err *err)
{
    static const char *const keys[] = {"cooldown", "group", "rate_per_min", "burst",
                                       "critical_score", "max_fingerprints", "sinks", NULL};
    struct lw_alert_conf *a = &rc->alerts;
    const struct lw_conf_node *sinks;
    const struct lw_conf_node *it;

    CK(lw_conf_check_keys(c, alerts, keys, err));
    CK(lw_conf_duration(c, alerts, "cooldown", 1, &a->cooldown_ns, err));
    CK(lw_conf_duration(c, alerts, "group", 1, &a->group_ns, err));
    CK(lw_conf_number(c, alerts, "rate_per_min", 0, false, HUGE_VAL, "a number, 0 or more",
                      &a->rate_per_min, err));
    CK(lw_conf_usize(c, alerts, "burst", 1, UINT64_MAX, &a->burst, err));
    CK(lw_conf_number(c, alerts, "critical_score", 0, true, 1,
                      "a number in (0, 1], such as 0.99999", &a->critical_score, err));
    CK(lw_conf_usize(c, alerts, "max_fingerprints", 1, UINT64_MAX, &a->max_fingerprints, err));
    sinks = lw_conf_get(alerts, "sinks");
    if (sinks == NULL || lw_conf_is_null(sinks)) {
        return 0;
    }
    if (sinks->type != LW_CONF_SEQ) {
        CK(lw_conf_bad(c, sinks, err, "a list of sinks"));
    }
    if (sinks->n_children > LW_ALERT_MAX_SINKS) {
        CK(lw_conf_errf(c, sinks, err, "%zu sinks, at most %d", sinks->n_children,
                        LW_ALERT_MAX_SINKS));
    }
    for (it = sinks->child; it != NULL; it = it->next) {
        if (load_sink(c, it, rc, err) != 0) {
            return 2;
        }
    }
    return 0;
}

/*
 * store: read by the store (lw_store_conf_read(), src/store/store_conf.c) over @rc's values;
 * @rc takes the result back, and reads the password file the section names.
 */
static int load_store(const struct lw_conf *c, const struct lw_conf_node *store,
                      struct lw_run_conf *rc, struct lw_conf_err *err)
{
    const struct lw_store_clickhouse_conf *cc;
    struct lw_store_conf sc;
    int r = 0;

    lw_run_conf_store(rc, &sc);
    sc.clickhouse.password_file = NULL; /* set again only when this file names one */
    CK(lw_store_conf_read(c, store, &sc, err));
    cc = &sc.clickhouse;
    rc->retention_s = sc.retention_s;
    rc->examples_per_template = sc.examples_per_template;
    rc->store_backend = sc.backend;
    r = r ? r : take_str(&rc->ch_url, cc->url);
    r = r ? r : take_str(&rc->ch_database, cc->database);
    r = r ? r : take_str(&rc->ch_user, cc->user);
    r = r ? r : take_str(&rc->ch_writer_id, cc->writer_id);
    r = r ? r : take_str(&rc->ch_password, cc->password);
    if (r != 0) {
        fprintf(stderr, "logwarden run: out of memory\n");
        return 2;
    }
    rc->ch_timeout_ns = cc->timeout_ms * 1000000;
    rc->ch_batch_rows = cc->batch_rows;
    if (cc->password_file != NULL) {
        const struct lw_conf_node *n =
            lw_conf_get(lw_conf_get(store, "clickhouse"), "password_file");
        char *abs = realpath(cc->password_file, NULL);
        char where[600];

        snprintf(where, sizeof(where), "%s:%u", lw_conf_file(c), n->line);
        if (read_secret(where, "store.clickhouse.password_file", cc->password_file,
                        &rc->ch_password) != 0) {
            free(abs);
            return 2;
        }
        set_str(&rc->ch_password_file, abs != NULL ? abs : cc->password_file);
        free(abs);
    }
    return 0;
}

static int load_pipeline(const struct lw_conf *c, const struct lw_conf_node *p,
                         struct lw_run_conf *rc, struct lw_conf_err *err)
{
    static const char *const keys[] = {"workers", "memory_limit", "window", "allowed_lateness",
                                       "max_time_jump", "source_idle", "max_lag",
                                       "flush_interval", "max_templates", NULL};

    CK(lw_conf_check_keys(c, p, keys, err));
    CK(lw_conf_usize(c, p, "workers", 1, UINT64_MAX, &rc->workers, err));
    CK(lw_conf_size(c, p, "memory_limit", &rc->memory_limit, err));
    CK(lw_conf_duration(c, p, "window", 1, &rc->window_ns, err));
    CK(lw_conf_duration(c, p, "allowed_lateness", 1, &rc->lateness_ns, err));
    CK(lw_conf_duration(c, p, "max_time_jump", 1, &rc->max_jump_ns, err));
    CK(lw_conf_duration(c, p, "source_idle", 1, &rc->idle_ns, err));
    CK(lw_conf_duration(c, p, "max_lag", 1, &rc->max_lag_ns, err));
    CK(lw_conf_duration(c, p, "flush_interval", 1, &rc->flush_ns, err));
    CK(lw_conf_usize(c, p, "max_templates", 1, UINT64_MAX, &rc->max_templates, err));
    return 0;
}

/* The sections in the order the daemon has always read them (later ones may refer back). */
static int load_tree(const struct lw_conf *c, struct lw_run_conf *rc, bool *volume_window_set,
                     struct lw_conf_err *err)
{
    static const char *const keys[] = {"data_dir", "log_level", "format", "max_line_bytes",
                                       "inputs", "pipeline", "store", "detect", "alerts", "api",
                                       NULL};
    static const char *const api_keys[] = {"read_token", "dashboard", NULL};
    const struct lw_conf_node *root = lw_conf_root(c);
    const struct lw_conf_node *sec;
    const char *v;
    int r;

    if (root == NULL) {
        return 0; /* an empty file: all defaults */
    }
    CK(lw_conf_check_keys(c, root, keys, err));
    v = rc->data_dir;
    CK(lw_conf_str(c, root, "data_dir", &v, err));
    r = take_str(&rc->data_dir, v);
    v = rc->log_level;
    CK(lw_conf_str(c, root, "log_level", &v, err));
    r = r ? r : take_str(&rc->log_level, v);
    v = NULL;
    CK(lw_conf_str(c, root, "format", &v, err));
    if (v != NULL && strcmp(v, "auto") != 0) {
        r = r ? r : take_str(&rc->format, v);
    }
    if (r != 0) {
        fprintf(stderr, "logwarden run: out of memory\n");
        return 2;
    }
    CK(lw_conf_size(c, root, "max_line_bytes", &rc->max_line_bytes, err));
    sec = NULL;
    CK(r = lw_conf_map(c, root, "pipeline", &sec, err));
    if (r == 1 && load_pipeline(c, sec, rc, err) != 0) {
        return 2;
    }
    sec = NULL;
    CK(r = lw_conf_map(c, root, "api", &sec, err));
    if (r == 1) {
        CK(lw_conf_check_keys(c, sec, api_keys, err));
        v = rc->api_read_token;
        CK(lw_conf_str(c, sec, "read_token", &v, err));
        if (take_str(&rc->api_read_token, v) != 0) {
            fprintf(stderr, "logwarden run: out of memory\n");
            return 2;
        }
        CK(lw_conf_bool(c, sec, "dashboard", &rc->dashboard, err));
    }
    sec = NULL;
    CK(r = lw_conf_map(c, root, "store", &sec, err));
    if (r == 1 && load_store(c, sec, rc, err) != 0) {
        return 2;
    }
    sec = NULL;
    CK(r = lw_conf_map(c, root, "inputs", &sec, err));
    if (r == 1 && load_inputs(c, sec, rc, err) != 0) {
        return 2;
    }
    sec = NULL;
    CK(r = lw_conf_map(c, root, "detect", &sec, err));
    if (r == 1 && load_detect(c, sec, rc, volume_window_set, err) != 0) {
        return 2;
    }
    sec = NULL;
    CK(r = lw_conf_map(c, root, "alerts", &sec, err));
    if (r == 1 && load_alerts(c, sec, rc, err) != 0) {
        return 2;
    }
    return 0;
}

#undef CK

static int load_yaml(const char *path, struct lw_run_conf *rc, bool *volume_window_set)
{
    struct lw_conf_err err;
    struct lw_conf *c = NULL;
    int r;

    if (lw_conf_load_file(path, &c, &err) < 0) {
        return conf_fail(&err);
    }
    r = load_tree(c, rc, volume_window_set, &err);
    lw_conf_destroy(c);
    return r;
}

/* ---- flags ---- */

static void defaults(struct lw_run_conf *rc)
{
    memset(rc, 0, sizeof(*rc));
    rc->data_dir = lw_strdup("./logwarden-data");
    rc->syslog_addr = lw_strdup("127.0.0.1:5514");
    rc->syslog_udp = true;
    rc->syslog_tcp = true;
    rc->http_addr = lw_strdup("127.0.0.1:8080");
    rc->dashboard = true;
    rc->max_line_bytes = 65536;
    rc->stdin_ml.mode = LW_MULTILINE_AUTO;
    rc->http_ml.mode = LW_MULTILINE_AUTO;
    rc->files_ml.mode = LW_MULTILINE_AUTO;
    rc->tail_ml.mode = LW_MULTILINE_AUTO;
    rc->workers = 2;
    rc->memory_limit = (size_t)256 << 20;
    rc->window_ns = 10 * NS;
    rc->lateness_ns = 500000000LL;
    rc->max_jump_ns = 3600 * NS;
    rc->idle_ns = 5 * NS;
    rc->max_lag_ns = 60 * NS;
    rc->flush_ns = 0; /* by backend: lw_run_conf_engine() */
    rc->retention_s = 7 * 86400;
    rc->detect_enabled = true;
    lw_detect_conf_defaults(&rc->detect, rc->window_ns);
    lw_alert_conf_defaults(&rc->alerts);
}

static char *json_escape(const char *s)
{
    size_t n = strlen(s);
    char *o = lw_malloc(n * 6 + 1);
    char *p = o;

    if (o == NULL) {
        return NULL;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        }
        else if (c < 0x20) {
            p += sprintf(p, "\\u%04x", c);
        }
        else {
            *p++ = (char)c;
        }
    }
    *p = '\0';
    return o;
}

enum {
    OPT_TAIL_END = 256,
    OPT_SYSLOG,
    OPT_NO_SYSLOG,
    OPT_HTTP,
    OPT_NO_HTTP,
    OPT_HTTP_TOKEN,
    OPT_STDIN,
    OPT_KAFKA,
    OPT_KAFKA_GROUP,
    OPT_WINDOW,
    OPT_MEMORY,
    OPT_RETENTION,
    OPT_LOG_LEVEL,
    OPT_NO_DETECT,
    OPT_THRESHOLD,
    OPT_ALERT_FILE,
    OPT_ALERT_WEBHOOK,
    OPT_MULTILINE,
    OPT_MULTILINE_REGEX,
    OPT_MULTILINE_MAX,
};

/* The multi-line flags, which override every input's setting once all flags are read. */
struct ml_flags {
    bool mode_set;
    enum lw_multiline_mode mode;
    const char *regex;          /* borrowed from argv */
    size_t max_lines;           /* 0: not given */
};

static int apply_multiline_flags(const struct ml_flags *f, struct lw_run_multiline *m)
{
    if (f->mode_set) {
        m->mode = f->mode;
        if (f->regex == NULL && m->mode != LW_MULTILINE_REGEX && m->mode != LW_MULTILINE_START) {
            lw_free(m->regex); /* the file's pattern belonged to a mode the flag replaced */
            m->regex = NULL;
        }
    }
    else if (f->regex != NULL && m->mode != LW_MULTILINE_START) {
        m->mode = LW_MULTILINE_REGEX;
    }
    if (f->regex != NULL) {
        set_str(&m->regex, f->regex);
    }
    if (f->max_lines > 0) {
        m->max_lines = f->max_lines;
    }
    return m->regex == NULL && f->regex != NULL ? 2 : 0;
}

/*
 * A sink from --alert-file or --alert-webhook. It is named after its kind like a sink of the
 * file without a name, or "<kind>-2", "-3" ... when that name is taken, so that flags can add to
 * the file's sinks and be repeated. The name is stable from run to run for the same command
 * line, which matters for the webhook: its spool folder is named after it.
 */
static int add_flag_sink(const char *flag, struct lw_run_conf *rc, enum lw_sink_kind kind,
                         const char *arg)
{
    struct lw_sink_conf *s;
    char name[32];
    size_t i;
    int n;

    if (kind == LW_SINK_WEBHOOK && !url_ok(arg)) {
        return bad(flag, "value", arg, "a URL starting with http:// or https://");
    }
    if (kind == LW_SINK_FILE && arg[0] == '\0') {
        return bad(flag, "value", arg, "a file path");
    }
    snprintf(name, sizeof(name), "%s", sink_kind_name(kind));
    for (n = 2;; n++) {
        for (i = 0; i < rc->alerts.n_sinks; i++) {
            if (strcmp(sink_name(&rc->alerts.sinks[i]), name) == 0) {
                break;
            }
        }
        if (i == rc->alerts.n_sinks) {
            break;
        }
        snprintf(name, sizeof(name), "%s-%d", sink_kind_name(kind), n);
    }
    s = add_sink(flag, rc, kind);
    if (s == NULL) {
        return 2;
    }
    s->format = LW_WEBHOOK_JSON;
    if (strcmp(name, sink_kind_name(kind)) != 0) {
        s->name = lw_strdup(name);
    }
    s->path = kind == LW_SINK_FILE ? lw_strdup(arg) : NULL;
    s->url = kind == LW_SINK_WEBHOOK ? lw_strdup(arg) : NULL;
    return 0;
}

/*
 * After the file and the flags: no sink means one stdout sink, and sink names must be unique
 * (the alert manager would refuse them later, without naming the key).
 */
static int finish_alerts(struct lw_run_conf *rc)
{
    size_t i;
    size_t j;

    if (rc->alerts.n_sinks == 0 && add_sink("alerts.sinks", rc, LW_SINK_STDOUT) == NULL) {
        return 2;
    }
    for (i = 0; i < rc->alerts.n_sinks; i++) {
        for (j = 0; j < i; j++) {
            if (strcmp(sink_name(&rc->alerts.sinks[i]), sink_name(&rc->alerts.sinks[j])) == 0) {
                return bad_conf("alerts.sinks", "two sinks are named '%s' (set name: on each "
                                                "sink of the same type)",
                                sink_name(&rc->alerts.sinks[i]));
            }
        }
    }
    /* Borrowed by the alert manager for default spool folders (<data_dir>/spool/<name>). */
    rc->alerts.data_dir = rc->data_dir;
    return 0;
}

/* Whether this build has the Kafka input (librdkafka was found when it was built). */
static bool have_kafka(void)
{
    size_t i;

    for (i = 0; lw_input_plugins[i] != NULL; i++) {
        if (strcmp(lw_input_plugins[i]->name, "kafka") == 0) {
            return true;
        }
    }
    return false;
}

/* After the file and the flags: brokers and topics come together, in a build that has Kafka. */
static int check_kafka(const char *where, const struct lw_run_conf *rc)
{
    if (rc->kafka_brokers == NULL && rc->n_kafka_topics == 0) {
        return 0;
    }
    if (!have_kafka()) {
        return bad_conf(where, "this logwarden was built without its Kafka input (librdkafka "
                               "was not found): install librdkafka-dev and build again");
    }
    if (rc->kafka_brokers == NULL || rc->kafka_brokers[0] == '\0') {
        return bad_conf(where, "inputs.kafka.topics is set but inputs.kafka.brokers is not");
    }
    if (rc->n_kafka_topics == 0) {
        return bad_conf(where, "inputs.kafka.brokers is set but no topic is (inputs.kafka.topics "
                               "or --kafka BROKERS/TOPIC)");
    }
    return 0;
}

int lw_run_conf_parse(int argc, char **argv, struct lw_run_conf *rc)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"data-dir", required_argument, NULL, 'd'},
        {"tail", required_argument, NULL, 't'},
        {"tail-from-end", no_argument, NULL, OPT_TAIL_END},
        {"syslog", required_argument, NULL, OPT_SYSLOG},
        {"no-syslog", no_argument, NULL, OPT_NO_SYSLOG},
        {"http", required_argument, NULL, OPT_HTTP},
        {"no-http", no_argument, NULL, OPT_NO_HTTP},
        {"http-token", required_argument, NULL, OPT_HTTP_TOKEN},
        {"stdin", no_argument, NULL, OPT_STDIN},
        {"kafka", required_argument, NULL, OPT_KAFKA},
        {"kafka-group", required_argument, NULL, OPT_KAFKA_GROUP},
        {"format", required_argument, NULL, 'f'},
        {"workers", required_argument, NULL, 'j'},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"memory-limit", required_argument, NULL, OPT_MEMORY},
        {"retention", required_argument, NULL, OPT_RETENTION},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"no-detect", no_argument, NULL, OPT_NO_DETECT},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"alert-file", required_argument, NULL, OPT_ALERT_FILE},
        {"alert-webhook", required_argument, NULL, OPT_ALERT_WEBHOOK},
        {"multiline", required_argument, NULL, OPT_MULTILINE},
        {"multiline-regex", required_argument, NULL, OPT_MULTILINE_REGEX},
        {"max-multiline-lines", required_argument, NULL, OPT_MULTILINE_MAX},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    const char *env_token = getenv("LOGWARDEN_HTTP_TOKEN");
    struct ml_flags mlf = {0};
    bool volume_window_set = false;
    int c;
    int r;

    defaults(rc);
    /* First pass: only --config and --help, so that the file comes before the flags. */
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:d:t:f:j:h", longopts, NULL)) != -1) {
        if (c == 'c') {
            config = optarg;
        }
        else if (c == 'h') {
            fputs(usage_text, stdout);
            if (!have_kafka()) {
                fputs("\n(this build has no Kafka input: librdkafka was not found when it was "
                      "built)\n", stdout);
            }
            lw_run_conf_fini(rc);
            return 1;
        }
    }
    if (config != NULL) {
        rc->config_path = lw_strdup(config);
        r = load_yaml(config, rc, &volume_window_set);
        if (r != 0) {
            lw_run_conf_fini(rc);
            return 2;
        }
    }
    opterr = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:d:t:f:j:h", longopts, NULL)) != -1) {
        int64_t v;

        switch (c) {
        case 'c':
            break;
        case 'd':
            set_str(&rc->data_dir, optarg);
            break;
        case 't':
            if (rc->n_tail >= LW_RUN_MAX_TAIL) {
                fprintf(stderr, "logwarden run: at most %d --tail patterns\n", LW_RUN_MAX_TAIL);
                goto usage;
            }
            rc->tail[rc->n_tail++] = lw_strdup(optarg);
            break;
        case OPT_TAIL_END:
            rc->tail_from_end = true;
            break;
        case OPT_SYSLOG:
            set_str(&rc->syslog_addr, optarg);
            break;
        case OPT_NO_SYSLOG:
            lw_free(rc->syslog_addr);
            rc->syslog_addr = NULL;
            break;
        case OPT_HTTP:
            set_str(&rc->http_addr, optarg);
            break;
        case OPT_NO_HTTP:
            lw_free(rc->http_addr);
            rc->http_addr = NULL;
            break;
        case OPT_HTTP_TOKEN:
            set_str(&rc->http_token, optarg);
            break;
        case OPT_STDIN:
            rc->use_stdin = true;
            break;
        case OPT_KAFKA:
            if (kafka_flag(optarg, rc) != 0) {
                goto usage;
            }
            break;
        case OPT_KAFKA_GROUP:
            set_str(&rc->kafka_group, optarg);
            break;
        case 'f':
            lw_free(rc->format);
            rc->format = strcmp(optarg, "auto") == 0 ? NULL : lw_strdup(optarg);
            break;
        case 'j':
            if (set_count("--workers", "value", optarg, &rc->workers) != 0 || rc->workers > 64) {
                goto usage;
            }
            break;
        case OPT_WINDOW:
            if (set_duration("--window", "value", optarg, &rc->window_ns) != 0) {
                goto usage;
            }
            break;
        case OPT_MEMORY:
            if (set_size("--memory-limit", "value", optarg, &rc->memory_limit) != 0) {
                goto usage;
            }
            break;
        case OPT_RETENTION:
            v = 0;
            if (set_duration("--retention", "value", optarg, &v) != 0) {
                goto usage;
            }
            rc->retention_s = v / NS > 0 ? v / NS : 1;
            break;
        case OPT_LOG_LEVEL:
            set_str(&rc->log_level, optarg);
            break;
        case OPT_NO_DETECT:
            rc->detect_enabled = false;
            break;
        case OPT_THRESHOLD:
            if (set_prob("--threshold", "value", optarg, &rc->detect.threshold) != 0) {
                goto usage;
            }
            break;
        case OPT_ALERT_FILE:
            if (add_flag_sink("--alert-file", rc, LW_SINK_FILE, optarg) != 0) {
                goto usage;
            }
            break;
        case OPT_ALERT_WEBHOOK:
            if (add_flag_sink("--alert-webhook", rc, LW_SINK_WEBHOOK, optarg) != 0) {
                goto usage;
            }
            break;
        case OPT_MULTILINE:
            if (lw_multiline_mode_parse(optarg, &mlf.mode) < 0) {
                bad("--multiline", "value", optarg, "auto, off, regex or start");
                goto usage;
            }
            mlf.mode_set = true;
            break;
        case OPT_MULTILINE_REGEX:
            if (optarg[0] == '\0') {
                bad_conf("--multiline-regex", "the pattern is empty");
                goto usage;
            }
            mlf.regex = optarg;
            break;
        case OPT_MULTILINE_MAX:
            if (set_sz("--max-multiline-lines", "value", optarg, 1, LW_RUN_MAX_MULTILINE_LINES,
                       &mlf.max_lines) != 0) {
                goto usage;
            }
            break;
        default:
            goto usage;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "logwarden run: unexpected argument '%s' (files go with --tail)\n",
                argv[optind]);
        goto usage;
    }
    if (mlf.mode_set || mlf.regex != NULL || mlf.max_lines > 0) {
        if (apply_multiline_flags(&mlf, &rc->stdin_ml) != 0 ||
            apply_multiline_flags(&mlf, &rc->http_ml) != 0 ||
            apply_multiline_flags(&mlf, &rc->files_ml) != 0 ||
            apply_multiline_flags(&mlf, &rc->tail_ml) != 0) {
            fprintf(stderr, "logwarden run: out of memory\n");
            goto usage;
        }
        /* The flags set every input alike: one check names them. */
        if (check_multiline("flags", "--multiline", "--multiline-regex", &rc->stdin_ml) != 0 ||
            check_multiline("flags", "--multiline", "--multiline-regex", &rc->http_ml) != 0) {
            goto usage;
        }
    }
    else if (check_multiline(config != NULL ? config : "configuration",
                             "inputs.stdin.multiline", "inputs.stdin.multiline_regex",
                             &rc->stdin_ml) != 0 ||
             check_multiline(config != NULL ? config : "configuration",
                             "inputs.http.multiline", "inputs.http.multiline_regex",
                             &rc->http_ml) != 0 ||
             check_multiline(config != NULL ? config : "configuration",
                             "inputs.tail.multiline", "inputs.tail.multiline_regex",
                             &rc->tail_ml) != 0) {
        goto usage;
    }
    if (check_kafka(config != NULL ? config : "configuration", rc) != 0) {
        goto usage;
    }
    if (rc->ch_password == NULL && getenv("LOGWARDEN_CLICKHOUSE_PASSWORD") != NULL) {
        rc->ch_password = lw_strdup(getenv("LOGWARDEN_CLICKHOUSE_PASSWORD"));
    }
    if (rc->http_token == NULL && env_token != NULL && env_token[0] != '\0') {
        rc->http_token = lw_strdup(env_token);
    }
    if (rc->http_token != NULL && !token_ok(rc->http_token)) {
        /* A token of one space, or "x", guards nothing: refuse it rather than look secure. */
        fprintf(stderr, "logwarden run: the HTTP token must be at least %d characters with no "
                        "white space or control characters (generate one with: openssl rand -hex "
                        "24)\n",
                TOKEN_MIN);
        goto usage;
    }
    if (rc->api_read_token == NULL && getenv("LOGWARDEN_API_READ_TOKEN") != NULL &&
        getenv("LOGWARDEN_API_READ_TOKEN")[0] != '\0') {
        rc->api_read_token = lw_strdup(getenv("LOGWARDEN_API_READ_TOKEN"));
    }
    if (rc->api_read_token != NULL && !token_ok(rc->api_read_token)) {
        fprintf(stderr, "logwarden run: the API read token (api.read_token) must be at least %d "
                        "characters with no white space or control characters (generate one "
                        "with: openssl rand -hex 24)\n",
                TOKEN_MIN);
        goto usage;
    }
    if (rc->api_read_token != NULL &&
        (rc->http_token == NULL || strcmp(rc->api_read_token, rc->http_token) == 0)) {
        fprintf(stderr, "logwarden run: api.read_token needs a different read-write token "
                        "(inputs.http.token or LOGWARDEN_HTTP_TOKEN): without one, anybody who "
                        "can reach the port may write\n");
        goto usage;
    }
    if (rc->log_level != NULL) {
        int lvl = lw_log_level_parse(rc->log_level);

        if (lvl < 0) {
            fprintf(stderr, "logwarden run: log level '%s' is not error, warn, info or debug\n",
                    rc->log_level);
            goto usage;
        }
        lw_log_set_level((enum lw_log_level)lvl);
    }
    if (rc->window_ns < 1000000000LL || rc->window_ns % 1000000000LL != 0) {
        fprintf(stderr, "logwarden run: the window must be a whole number of seconds, at least "
                        "1s\n");
        goto usage;
    }
    if (http_budget(rc) != 0) {
        goto usage;
    }
    /* The volume detector counts in the pipeline's window unless it has its own. */
    if (!volume_window_set) {
        rc->detect.volume.window_ns = rc->window_ns;
    }
    if (finish_alerts(rc) != 0) {
        goto usage;
    }
    rc->data_dir_json = json_escape(rc->data_dir);
    if (rc->data_dir == NULL || rc->data_dir_json == NULL) {
        fprintf(stderr, "logwarden run: out of memory\n");
        lw_run_conf_fini(rc);
        return 2;
    }
    return 0;

usage:
    fprintf(stderr, "Run 'logwarden run --help' for the options.\n");
    lw_run_conf_fini(rc);
    return 2;
}

void lw_run_conf_store(const struct lw_run_conf *rc, struct lw_store_conf *sc)
{
    memset(sc, 0, sizeof(*sc));
    sc->retention_s = rc->retention_s;
    sc->window_s = rc->window_ns / NS;
    sc->examples_per_template = rc->examples_per_template;
    sc->backend = rc->store_backend;
    sc->clickhouse.url = rc->ch_url;
    sc->clickhouse.database = rc->ch_database;
    sc->clickhouse.user = rc->ch_user;
    sc->clickhouse.password = rc->ch_password;
    sc->clickhouse.password_file = rc->ch_password_file;
    sc->clickhouse.writer_id = rc->ch_writer_id;
    sc->clickhouse.timeout_ms = rc->ch_timeout_ns / 1000000;
    sc->clickhouse.batch_rows = rc->ch_batch_rows;
}

/*
 * The HTTP body budget is part of pipeline.memory_limit, not beside it, so that the daemon's peak
 * stays near memory_limit plus its base whatever clients send: 100 clients posting 16 MiB bodies
 * peaked at 335 MiB with memory_limit 256 MiB when the two budgets were added
 * (bench/http-memory.sh with retries). Unset, max_buffered is a quarter of memory_limit, between
 * max_body and 64 MiB; the pipeline keeps the rest, which must stay at least half.
 */
static int http_budget(struct lw_run_conf *rc)
{
    size_t max_body;

    if (rc->http_addr == NULL) {
        return 0;
    }
    if (rc->http_max_buffered == 0) {
        rc->http_max_buffered = rc->memory_limit / 4;
        if (rc->http_max_buffered > (size_t)64 << 20) {
            rc->http_max_buffered = (size_t)64 << 20;
        }
        if (rc->http_max_body == 0 && rc->http_max_buffered < (size_t)16 << 20) {
            /* A small memory_limit: bodies shrink with it rather than refuse to start. */
            rc->http_max_body = rc->http_max_buffered;
        }
        if (rc->http_max_body != 0 && rc->http_max_buffered < rc->http_max_body) {
            rc->http_max_buffered = rc->http_max_body;
        }
    }
    max_body = rc->http_max_body != 0 ? rc->http_max_body : (size_t)16 << 20;
    if (rc->http_max_buffered < max_body) {
        rc->http_max_buffered = max_body;
    }
    if (rc->http_max_buffered > rc->memory_limit / 2) {
        fprintf(stderr,
                "logwarden run: inputs.http.max_buffered (%zu bytes) is taken from "
                "pipeline.memory_limit (%zu bytes) and may be at most half of it: raise "
                "memory_limit or lower max_buffered (and max_body, %zu bytes)\n",
                rc->http_max_buffered, rc->memory_limit, max_body);
        return -1;
    }
    return 0;
}

void lw_run_conf_engine(const struct lw_run_conf *rc, struct lw_store *store,
                        struct lw_engine_conf *ec)
{
    memset(ec, 0, sizeof(*ec));
    ec->format = rc->format;
    ec->workers = rc->workers;
    /* Request bodies are held in the HTTP server's share (http_budget()). */
    ec->memory_limit_bytes = rc->memory_limit - (rc->http_addr != NULL ? rc->http_max_buffered : 0);
    ec->window_ns = rc->window_ns;
    ec->lateness_ns = rc->lateness_ns;
    ec->max_jump_ns = rc->max_jump_ns;
    ec->idle_ns = rc->idle_ns;
    ec->max_lag_ns = rc->max_lag_ns;
    /*
     * Unset: 200 ms on SQLite; 1 s on ClickHouse, whose every INSERT makes a part per table and
     * day (ClickHouse asks for about one INSERT per second per writer, and N instances multiply
     * it). bench/kafka-clickhouse.sh, detection on, 3M lines: ClickHouse's CPU 3.7-4.4 s at
     * 200 ms, 1.8-1.9 s at 1 s; 362-377k lines/s became 404-418k.
     */
    ec->flush_ns = rc->flush_ns > 0 ? rc->flush_ns
                   : rc->store_backend == LW_STORE_BACKEND_CLICKHOUSE ? 1000000000LL
                                                                      : 200000000LL;
    ec->retention_ns = rc->retention_s * NS;
    ec->max_templates = rc->max_templates;
    ec->store = store;
}

void lw_run_conf_fini(struct lw_run_conf *rc)
{
    size_t i;

    for (i = 0; i < rc->n_tail; i++) {
        lw_free(rc->tail[i]);
    }
    rc->n_tail = 0;
    for (i = 0; i < rc->n_tail_rotate; i++) {
        lw_free(rc->tail_rotate[i]);
    }
    rc->n_tail_rotate = 0;
    lw_free(rc->tail_ml.regex);
    lw_free(rc->config_path);
    lw_free(rc->data_dir);
    lw_free(rc->data_dir_json);
    lw_free(rc->ch_url);
    lw_free(rc->ch_database);
    lw_free(rc->ch_user);
    if (rc->ch_password != NULL) {
        memset(rc->ch_password, 0, strlen(rc->ch_password));
    }
    lw_free(rc->ch_password);
    lw_free(rc->ch_password_file);
    lw_free(rc->ch_writer_id);
    lw_free(rc->format);
    lw_free(rc->log_level);
    lw_free(rc->syslog_addr);
    lw_free(rc->http_addr);
    lw_free(rc->http_token);
    for (i = 0; i < rc->n_kafka_topics; i++) {
        lw_free(rc->kafka_topics[i]);
    }
    for (i = 0; i < rc->n_kafka_props; i++) {
        lw_free(rc->kafka_props[i]);
    }
    lw_free(rc->kafka_brokers);
    lw_free(rc->kafka_group);
    lw_free(rc->kafka_client_id);
    lw_free(rc->kafka_offset_reset);
    lw_free(rc->api_read_token);
    lw_free(rc->stdin_ml.regex);
    lw_free(rc->http_ml.regex);
    lw_free(rc->files_ml.regex);
    lw_detect_conf_fini(&rc->detect);
    lw_alert_conf_fini(&rc->alerts);
    memset(rc, 0, sizeof(*rc));
}

void lw_run_conf_inputs(const struct lw_run_conf *rc, struct lw_input_conf *ic)
{
    memset(ic, 0, sizeof(*ic));
    ic->tail.patterns = (const char *const *)rc->tail;
    ic->tail.n_patterns = rc->n_tail;
    ic->tail.from_end = rc->tail_from_end;
    ic->tail.poll_ms = rc->tail_poll_ms;
    ic->tail.max_line_bytes = rc->max_line_bytes;
    lw_run_conf_multiline(&rc->tail_ml, &ic->tail.multiline);
    if (rc->tail_rotate_set) {
        ic->tail.rotate_patterns = (const char *const *)rc->tail_rotate;
        ic->tail.n_rotate_patterns = rc->n_tail_rotate;
    }
    ic->tail.skip_gzip = rc->tail_skip_gzip;
    ic->tail.rotate_wait_ms = rc->tail_rotate_wait_ms;
    ic->syslog.addr = rc->syslog_addr;
    ic->syslog.udp = rc->syslog_udp;
    ic->syslog.tcp = rc->syslog_tcp;
    ic->syslog.max_connections = rc->syslog_max_connections;
    ic->syslog.idle_timeout_s = rc->syslog_idle_timeout_s;
    ic->syslog.max_line_bytes = rc->max_line_bytes;
    ic->syslog.udp_rcvbuf_bytes = rc->syslog_udp_rcvbuf;
    ic->http.addr = rc->http_addr;
    lw_run_conf_multiline(&rc->http_ml, &ic->http.multiline);
    ic->http.token = rc->http_token;
    ic->http.max_body_bytes = rc->http_max_body;
    ic->http.max_buffered_bytes = rc->http_max_buffered;
    ic->http.max_connections = rc->http_max_connections;
    ic->http.max_connections_per_ip = rc->http_max_connections_per_ip;
    ic->http.idle_timeout_s = rc->http_idle_timeout_s;
    ic->in_stdin.enabled = rc->use_stdin;
    ic->in_stdin.max_line_bytes = rc->max_line_bytes;
    lw_run_conf_multiline(&rc->stdin_ml, &ic->in_stdin.multiline);
    ic->kafka.brokers = rc->kafka_brokers;
    ic->kafka.topics = (const char *const *)rc->kafka_topics;
    ic->kafka.n_topics = rc->n_kafka_topics;
    ic->kafka.group = rc->kafka_group;
    ic->kafka.client_id = rc->kafka_client_id;
    ic->kafka.json = rc->kafka_json;
    ic->kafka.key_as_host = rc->kafka_key_as_host;
    ic->kafka.max_poll_records = rc->kafka_max_poll_records;
    ic->kafka.max_buffered_bytes = rc->kafka_max_buffered;
    ic->kafka.max_line_bytes = rc->max_line_bytes;
    ic->kafka.offset_reset = rc->kafka_offset_reset;
    ic->kafka.revoke_wait_ms = rc->kafka_revoke_wait_ms;
    ic->kafka.properties = (const char *const *)rc->kafka_props;
    ic->kafka.n_properties = rc->n_kafka_props;
}

void lw_run_conf_multiline(const struct lw_run_multiline *m, struct lw_multiline_conf *out)
{
    out->mode = m->mode;
    out->regex = m->regex;
    out->max_lines = m->max_lines;
}
