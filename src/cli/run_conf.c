/*
 * Configuration of `logwarden run` (see run_conf.h): defaults, then the YAML file read with
 * libcyaml against a schema (an unknown key is an error that names it), then the flags. Every
 * value is read as a string and checked here, so that a bad one is reported with its key.
 * Last come the settings that depend on both: the volume window follows the pipeline window
 * unless detect.volume.window is set, and no alert sink at all means one stdout sink.
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

#include <cyaml/cyaml.h>
#include <pcre2.h>

#include "cli/run_conf.h"
#include "lw/lw_engine.h"
#include "lw/lw_store.h"
#include "detect/seq_model.h"
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

int64_t lw_parse_duration_ns(const char *s)
{
    char *end;
    double v;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || v < 0) {
        return -1;
    }
    if (*end == '\0' || strcmp(end, "s") == 0) {
        return (int64_t)(v * NS);
    }
    if (strcmp(end, "ms") == 0) {
        return (int64_t)(v * 1e6);
    }
    if (strcmp(end, "us") == 0) {
        return (int64_t)(v * 1e3);
    }
    if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0) {
        return (int64_t)(v * 60 * NS);
    }
    if (strcmp(end, "h") == 0) {
        return (int64_t)(v * 3600 * NS);
    }
    if (strcmp(end, "d") == 0) {
        return (int64_t)(v * 86400 * NS);
    }
    return -1;
}

int64_t lw_parse_size(const char *s)
{
    static const struct {
        const char *u;
        double m;
    } units[] = {
        {"", 1}, {"B", 1}, {"K", 1024}, {"KB", 1000}, {"KiB", 1024}, {"M", 1048576},
        {"MB", 1e6}, {"MiB", 1048576}, {"G", 1073741824}, {"GB", 1e9}, {"GiB", 1073741824},
    };
    char *end;
    double v;
    size_t i;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || v < 0) {
        return -1;
    }
    while (*end == ' ') {
        end++;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(end, units[i].u) == 0) {
            return (int64_t)(v * units[i].m);
        }
    }
    return -1;
}

/* ---- the YAML file ---- */

struct y_tail {
    char **paths;
    unsigned paths_count;
    char *start_at;
    char *poll_interval;
    char *multiline;
    char *multiline_regex;
    char *max_multiline_lines;
    char **rotate_patterns;
    unsigned rotate_patterns_count;
    char *skip_gzip;
    char *rotate_wait;
};

struct y_syslog {
    char *enabled;
    char *listen;
    char *udp;
    char *tcp;
    char *max_connections;
    char *idle_timeout;
    char *udp_rcvbuf;
};

struct y_http {
    char *enabled;
    char *listen;
    char *token;
    char *max_body;
    char *max_buffered;
    char *multiline;
    char *multiline_regex;
    char *max_multiline_lines;
    char *max_connections;
    char *max_connections_per_ip;
    char *idle_timeout;
};

struct y_stdin {
    char *enabled;
    char *multiline;
    char *multiline_regex;
    char *max_multiline_lines;
};

/* inputs.kafka (docs/kafka.md). */
struct y_kafka {
    char *enabled;
    char *brokers;
    char **topics;
    unsigned topics_count;
    char *group;
    char *client_id;
    char *format;
    char *key_as_host;
    char *max_poll_records;
    char *max_buffered;
    char *offset_reset;
    char *revoke_wait;
    char **properties;
    unsigned properties_count;
};

struct y_inputs {
    struct y_tail *tail;
    struct y_syslog *syslog;
    struct y_http *http;
    struct y_stdin *in_stdin;
    struct y_kafka *kafka;
};

struct y_pipeline {
    char *workers;
    char *memory_limit;
    char *window;
    char *allowed_lateness;
    char *max_time_jump;
    char *source_idle;
    char *max_lag;
    char *flush_interval;
    char *max_templates;
};

struct y_clickhouse {
    char *url;
    char *database;
    char *user;
    char *password;
    char *password_file;
    char *writer_id;
    char *timeout;
    char *batch_rows;
};

struct y_store {
    char *retention;
    char *examples_per_template;
    char *backend;
    struct y_clickhouse *clickhouse;
};

/* api: the query API's settings (lw_api.h). */
struct y_api {
    char *read_token;
    char *dashboard;
};

/* detect: (lw_detect.h struct lw_detect_conf; every key in docs/config.md). */
struct y_new_template {
    char *enabled;
    char *warmup_lines;
    char *warmup;
};

struct y_volume {
    char *enabled;
    char *window;
    char *warmup_windows;
    char *max_series;
    char *per_source;
    char *min_count;
    char *min_ratio;
};

struct y_level {
    char *enabled;
    char *warmup_windows;
    char *max_sources;
    char *min_count;
};

struct y_session {
    char *enabled;
    char *key;
    char *timeout;
    char **terminal;
    unsigned terminal_count;
    char *max_open;
    char *max_events;
};

struct y_sequence {
    char *enabled;
    char *history;
    char *top;
    char *warmup_sessions;
    char *max_contexts;
};

struct y_session_counts {
    char *enabled;
    char *warmup_sessions;
    char *max_train;
    char *support;
    char *pca_alert;
};

struct y_params {
    char *enabled;
    char *warmup_values;
    char *max_places;
    char *max_values;
};

struct y_detect {
    char *enabled;
    char *threshold;
    char *lateness;
    struct y_new_template *new_template;
    struct y_volume *volume;
    struct y_level *level;
    struct y_session *session;
    struct y_sequence *sequence;
    struct y_session_counts *session_counts;
    struct y_params *params;
};

/* alerts: (lw_alert.h struct lw_alert_conf and struct lw_sink_conf). */
struct y_sink {
    char *type;
    char *name;
    char *path;
    char *url;
    char *format;
    char *token;
    char *spool_dir;
    char *spool_max;
    char *timeout;
    char *backoff_min;
    char *backoff_max;
    char *queue;
};

struct y_alerts {
    char *cooldown;
    char *group;
    char *rate_per_min;
    char *burst;
    char *critical_score;
    char *max_fingerprints;
    struct y_sink *sinks;
    unsigned sinks_count;
};

struct y_root {
    char *data_dir;
    char *log_level;
    char *format;
    char *max_line_bytes;
    struct y_inputs *inputs;
    struct y_pipeline *pipeline;
    struct y_store *store;
    struct y_detect *detect;
    struct y_alerts *alerts;
    struct y_api *api;
};

#define OPT (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER)
#define STR(key, st, field) CYAML_FIELD_STRING_PTR(key, OPT, st, field, 0, CYAML_UNLIMITED)
/* Booleans are read as strings and checked here: libcyaml takes any unknown word for true. */
#define BOOLP(key, st, field) STR(key, st, field)

static const cyaml_schema_value_t str_entry = {
    CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

static const cyaml_schema_field_t tail_fields[] = {
    CYAML_FIELD_SEQUENCE("paths", OPT, struct y_tail, paths, &str_entry, 0, LW_RUN_MAX_TAIL),
    STR("start_at", struct y_tail, start_at),
    STR("poll_interval", struct y_tail, poll_interval),
    STR("multiline", struct y_tail, multiline),
    STR("multiline_regex", struct y_tail, multiline_regex),
    STR("max_multiline_lines", struct y_tail, max_multiline_lines),
    CYAML_FIELD_SEQUENCE("rotate_patterns", OPT, struct y_tail, rotate_patterns, &str_entry, 0,
                         LW_RUN_MAX_ROTATE),
    BOOLP("skip_gzip", struct y_tail, skip_gzip),
    STR("rotate_wait", struct y_tail, rotate_wait),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t syslog_fields[] = {
    BOOLP("enabled", struct y_syslog, enabled),
    STR("listen", struct y_syslog, listen),
    BOOLP("udp", struct y_syslog, udp),
    BOOLP("tcp", struct y_syslog, tcp),
    STR("max_connections", struct y_syslog, max_connections),
    STR("idle_timeout", struct y_syslog, idle_timeout),
    STR("udp_rcvbuf", struct y_syslog, udp_rcvbuf),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t http_fields[] = {
    BOOLP("enabled", struct y_http, enabled),
    STR("listen", struct y_http, listen),
    STR("token", struct y_http, token),
    STR("max_body", struct y_http, max_body),
    STR("max_buffered", struct y_http, max_buffered),
    STR("multiline", struct y_http, multiline),
    STR("multiline_regex", struct y_http, multiline_regex),
    STR("max_multiline_lines", struct y_http, max_multiline_lines),
    STR("max_connections", struct y_http, max_connections),
    STR("max_connections_per_ip", struct y_http, max_connections_per_ip),
    STR("idle_timeout", struct y_http, idle_timeout),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t stdin_fields[] = {
    BOOLP("enabled", struct y_stdin, enabled),
    STR("multiline", struct y_stdin, multiline),
    STR("multiline_regex", struct y_stdin, multiline_regex),
    STR("max_multiline_lines", struct y_stdin, max_multiline_lines),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t kafka_fields[] = {
    BOOLP("enabled", struct y_kafka, enabled),
    STR("brokers", struct y_kafka, brokers),
    CYAML_FIELD_SEQUENCE("topics", OPT, struct y_kafka, topics, &str_entry, 0, CYAML_UNLIMITED),
    STR("group", struct y_kafka, group),
    STR("client_id", struct y_kafka, client_id),
    STR("format", struct y_kafka, format),
    BOOLP("key_as_host", struct y_kafka, key_as_host),
    STR("max_poll_records", struct y_kafka, max_poll_records),
    STR("max_buffered", struct y_kafka, max_buffered),
    STR("offset_reset", struct y_kafka, offset_reset),
    STR("revoke_wait", struct y_kafka, revoke_wait),
    CYAML_FIELD_SEQUENCE("properties", OPT, struct y_kafka, properties, &str_entry, 0,
                         CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t inputs_fields[] = {
    CYAML_FIELD_MAPPING_PTR("tail", OPT, struct y_inputs, tail, tail_fields),
    CYAML_FIELD_MAPPING_PTR("syslog", OPT, struct y_inputs, syslog, syslog_fields),
    CYAML_FIELD_MAPPING_PTR("http", OPT, struct y_inputs, http, http_fields),
    CYAML_FIELD_MAPPING_PTR("stdin", OPT, struct y_inputs, in_stdin, stdin_fields),
    CYAML_FIELD_MAPPING_PTR("kafka", OPT, struct y_inputs, kafka, kafka_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t pipeline_fields[] = {
    STR("workers", struct y_pipeline, workers),
    STR("memory_limit", struct y_pipeline, memory_limit),
    STR("window", struct y_pipeline, window),
    STR("allowed_lateness", struct y_pipeline, allowed_lateness),
    STR("max_time_jump", struct y_pipeline, max_time_jump),
    STR("source_idle", struct y_pipeline, source_idle),
    STR("max_lag", struct y_pipeline, max_lag),
    STR("flush_interval", struct y_pipeline, flush_interval),
    STR("max_templates", struct y_pipeline, max_templates),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t clickhouse_fields[] = {
    STR("url", struct y_clickhouse, url),
    STR("database", struct y_clickhouse, database),
    STR("user", struct y_clickhouse, user),
    STR("password", struct y_clickhouse, password),
    STR("password_file", struct y_clickhouse, password_file),
    STR("writer_id", struct y_clickhouse, writer_id),
    STR("timeout", struct y_clickhouse, timeout),
    STR("batch_rows", struct y_clickhouse, batch_rows),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t store_fields[] = {
    STR("retention", struct y_store, retention),
    STR("examples_per_template", struct y_store, examples_per_template),
    STR("backend", struct y_store, backend),
    CYAML_FIELD_MAPPING_PTR("clickhouse", OPT, struct y_store, clickhouse, clickhouse_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t api_fields[] = {
    STR("read_token", struct y_api, read_token),
    BOOLP("dashboard", struct y_api, dashboard),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t new_template_fields[] = {
    BOOLP("enabled", struct y_new_template, enabled),
    STR("warmup_lines", struct y_new_template, warmup_lines),
    STR("warmup", struct y_new_template, warmup),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t volume_fields[] = {
    BOOLP("enabled", struct y_volume, enabled),
    STR("window", struct y_volume, window),
    STR("warmup_windows", struct y_volume, warmup_windows),
    STR("max_series", struct y_volume, max_series),
    BOOLP("per_source", struct y_volume, per_source),
    STR("min_count", struct y_volume, min_count),
    STR("min_ratio", struct y_volume, min_ratio),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t level_fields[] = {
    BOOLP("enabled", struct y_level, enabled),
    STR("warmup_windows", struct y_level, warmup_windows),
    STR("max_sources", struct y_level, max_sources),
    STR("min_count", struct y_level, min_count),
    CYAML_FIELD_END,
};

/*
 * Lists are read without a length limit and counted in load_detect()/load_alerts(): libcyaml's
 * own "too many entries" error does not name the key.
 */
static const cyaml_schema_field_t session_fields[] = {
    BOOLP("enabled", struct y_session, enabled),
    STR("key", struct y_session, key),
    STR("timeout", struct y_session, timeout),
    CYAML_FIELD_SEQUENCE("terminal", OPT, struct y_session, terminal, &str_entry, 0,
                         CYAML_UNLIMITED),
    STR("max_open", struct y_session, max_open),
    STR("max_events", struct y_session, max_events),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sequence_fields[] = {
    BOOLP("enabled", struct y_sequence, enabled),
    STR("history", struct y_sequence, history),
    STR("top", struct y_sequence, top),
    STR("warmup_sessions", struct y_sequence, warmup_sessions),
    STR("max_contexts", struct y_sequence, max_contexts),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t session_counts_fields[] = {
    BOOLP("enabled", struct y_session_counts, enabled),
    STR("warmup_sessions", struct y_session_counts, warmup_sessions),
    STR("max_train", struct y_session_counts, max_train),
    STR("support", struct y_session_counts, support),
    BOOLP("pca_alert", struct y_session_counts, pca_alert),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t params_fields[] = {
    BOOLP("enabled", struct y_params, enabled),
    STR("warmup_values", struct y_params, warmup_values),
    STR("max_places", struct y_params, max_places),
    STR("max_values", struct y_params, max_values),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t detect_fields[] = {
    BOOLP("enabled", struct y_detect, enabled),
    STR("threshold", struct y_detect, threshold),
    STR("lateness", struct y_detect, lateness),
    CYAML_FIELD_MAPPING_PTR("new_template", OPT, struct y_detect, new_template,
                            new_template_fields),
    CYAML_FIELD_MAPPING_PTR("volume", OPT, struct y_detect, volume, volume_fields),
    CYAML_FIELD_MAPPING_PTR("level", OPT, struct y_detect, level, level_fields),
    CYAML_FIELD_MAPPING_PTR("session", OPT, struct y_detect, session, session_fields),
    CYAML_FIELD_MAPPING_PTR("sequence", OPT, struct y_detect, sequence, sequence_fields),
    CYAML_FIELD_MAPPING_PTR("session_counts", OPT, struct y_detect, session_counts,
                            session_counts_fields),
    CYAML_FIELD_MAPPING_PTR("params", OPT, struct y_detect, params, params_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t sink_fields[] = {
    STR("type", struct y_sink, type),
    STR("name", struct y_sink, name),
    STR("path", struct y_sink, path),
    STR("url", struct y_sink, url),
    STR("format", struct y_sink, format),
    STR("token", struct y_sink, token),
    STR("spool_dir", struct y_sink, spool_dir),
    STR("spool_max", struct y_sink, spool_max),
    STR("timeout", struct y_sink, timeout),
    STR("backoff_min", struct y_sink, backoff_min),
    STR("backoff_max", struct y_sink, backoff_max),
    STR("queue", struct y_sink, queue),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t sink_entry = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct y_sink, sink_fields),
};

static const cyaml_schema_field_t alerts_fields[] = {
    STR("cooldown", struct y_alerts, cooldown),
    STR("group", struct y_alerts, group),
    STR("rate_per_min", struct y_alerts, rate_per_min),
    STR("burst", struct y_alerts, burst),
    STR("critical_score", struct y_alerts, critical_score),
    STR("max_fingerprints", struct y_alerts, max_fingerprints),
    CYAML_FIELD_SEQUENCE("sinks", OPT, struct y_alerts, sinks, &sink_entry, 0, CYAML_UNLIMITED),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t root_fields[] = {
    STR("data_dir", struct y_root, data_dir),
    STR("log_level", struct y_root, log_level),
    STR("format", struct y_root, format),
    STR("max_line_bytes", struct y_root, max_line_bytes),
    CYAML_FIELD_MAPPING_PTR("inputs", OPT, struct y_root, inputs, inputs_fields),
    CYAML_FIELD_MAPPING_PTR("pipeline", OPT, struct y_root, pipeline, pipeline_fields),
    CYAML_FIELD_MAPPING_PTR("store", OPT, struct y_root, store, store_fields),
    CYAML_FIELD_MAPPING_PTR("detect", OPT, struct y_root, detect, detect_fields),
    CYAML_FIELD_MAPPING_PTR("alerts", OPT, struct y_root, alerts, alerts_fields),
    CYAML_FIELD_MAPPING_PTR("api", OPT, struct y_root, api, api_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_value_t root_schema = {
    CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct y_root, root_fields),
};

/* libcyaml reports problems through its log function: keep the first error line. */
static char yaml_msg[512];

__attribute__((format(printf, 3, 0))) static void yaml_log(cyaml_log_t level, void *ctx,
                                                            const char *fmt, va_list args)
{
    char line[512];
    size_t n;

    (void)ctx;
    if (level < CYAML_LOG_ERROR || yaml_msg[0] != '\0') {
        return;
    }
    vsnprintf(line, sizeof(line), fmt, args);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ')) {
        line[--n] = '\0';
    }
    snprintf(yaml_msg, sizeof(yaml_msg), "%s", line);
}

static void *yaml_mem(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (size == 0) {
        lw_free(ptr);
        return NULL;
    }
    return lw_realloc(ptr, size);
}

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

/* Returns 0 and sets *@out for true/false/yes/no/on/off (any case); reports otherwise. */
static int set_bool(const char *where, const char *key, const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    size_t i;

    if (v == NULL) {
        return 0;
    }
    for (i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return bad(where, key, v, "true or false");
}

#define TOKEN_MIN 8

static int http_budget(struct lw_run_conf *rc);

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

/* A finite number >= 0 (a rate; 0 turns the limit off). */
static int set_rate(const char *where, const char *key, const char *v, double *out)
{
    char *end;
    double d;

    if (v == NULL) {
        return 0;
    }
    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !isfinite(d) || d < 0) {
        return bad(where, key, v, "a number, 0 or more");
    }
    *out = d;
    return 0;
}

/* Like set_duration(), but 0 is allowed (a warm-up of no time). */
static int set_duration0(const char *where, const char *key, const char *v, int64_t *out)
{
    int64_t d;

    if (v == NULL) {
        return 0;
    }
    d = lw_parse_duration_ns(v);
    if (d < 0) {
        return bad(where, key, v, "a duration such as 0, 250ms, 10s, 5m, 7d");
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
 * The session key is compiled here as well as by the detection stage, so that a bad pattern is
 * a configuration error (exit 2, naming the key) rather than a failed start.
 */
static int set_key_pattern(const char *where, const char *v, char **out)
{
    pcre2_code *re;
    PCRE2_UCHAR msg[256];
    PCRE2_SIZE off;
    int ec;

    if (v == NULL) {
        return 0;
    }
    if (v[0] == '\0') {
        return bad_conf(where, "detect.session.key: the pattern is empty (to stop tracking "
                               "sessions, set detect.session.enabled: false)");
    }
    re = pcre2_compile((PCRE2_SPTR)v, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
    if (re == NULL) {
        pcre2_get_error_message(ec, msg, sizeof(msg));
        return bad_conf(where, "detect.session.key: '%s' is not a PCRE2 pattern: %s at offset %zu",
                        v, (const char *)msg, (size_t)off);
    }
    pcre2_code_free(re);
    set_str(out, v);
    return *out != NULL ? 0 : bad_conf(where, "out of memory");
}

/*
 * One input's multi-line keys; @input is "inputs.stdin" or "inputs.http". The combination is
 * checked once the flags are in (check_multiline()), since a flag may complete it.
 */
static int load_multiline(const char *path, const char *input, const char *mode,
                          const char *regex, const char *max_lines, struct lw_run_multiline *m)
{
    char key[64];

    if (mode != NULL) {
        snprintf(key, sizeof(key), "%s.multiline", input);
        if (lw_multiline_mode_parse(mode, &m->mode) < 0) {
            return bad(path, key, mode, "auto, off, regex or start");
        }
    }
    if (regex != NULL) {
        if (regex[0] == '\0') {
            return bad_conf(path, "%s.multiline_regex: the pattern is empty", input);
        }
        set_str(&m->regex, regex);
    }
    snprintf(key, sizeof(key), "%s.max_multiline_lines", input);
    return set_sz(path, key, max_lines, 1, LW_RUN_MAX_MULTILINE_LINES, &m->max_lines);
}

/*
 * inputs.tail.rotate_patterns: fnmatch(3) patterns of the suffix a rotation adds ("x.log" +
 * ".1"); they replace the defaults. libcyaml reads an empty list as no key at all, so `[]`
 * keeps the defaults.
 */
static int load_rotate(const char *path, const struct y_tail *t, struct lw_run_conf *rc)
{
    unsigned i;

    if (t->rotate_patterns_count == 0) {
        return 0;
    }
    for (i = 0; i < rc->n_tail_rotate; i++) {
        lw_free(rc->tail_rotate[i]);
    }
    rc->n_tail_rotate = 0;
    rc->tail_rotate_set = true;
    for (i = 0; i < t->rotate_patterns_count; i++) {
        if (t->rotate_patterns[i] == NULL || t->rotate_patterns[i][0] == '\0') {
            return bad_conf(path, "inputs.tail.rotate_patterns[%u]: the pattern is empty", i);
        }
        rc->tail_rotate[rc->n_tail_rotate] = lw_strdup(t->rotate_patterns[i]);
        if (rc->tail_rotate[rc->n_tail_rotate] == NULL) {
            return bad_conf(path, "out of memory");
        }
        rc->n_tail_rotate++;
    }
    return 0;
}

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

static int load_detect(const char *path, const struct y_detect *y, struct lw_run_conf *rc,
                       bool *volume_window_set)
{
    struct lw_detect_conf *d = &rc->detect;
    uint64_t n;
    unsigned i;

    TRY(set_bool(path, "detect.enabled", y->enabled, &rc->detect_enabled));
    TRY(set_prob(path, "detect.threshold", y->threshold, &d->threshold));
    TRY(set_duration0(path, "detect.lateness", y->lateness, &d->lateness_ns));
    if (y->lateness != NULL) {
        /* The old name of the one lateness (pipeline.allowed_lateness wins when both are set). */
        rc->lateness_ns = d->lateness_ns;
    }
    if (y->new_template != NULL) {
        const struct y_new_template *t = y->new_template;

        TRY(set_bool(path, "detect.new_template.enabled", t->enabled, &d->new_template.enabled));
        TRY(set_num(path, "detect.new_template.warmup_lines", t->warmup_lines, 0, UINT64_MAX,
                    &d->new_template.warmup_lines));
        TRY(set_duration0(path, "detect.new_template.warmup", t->warmup,
                          &d->new_template.warmup_ns));
    }
    if (y->volume != NULL) {
        const struct y_volume *v = y->volume;

        TRY(set_bool(path, "detect.volume.enabled", v->enabled, &d->volume.enabled));
        TRY(set_duration(path, "detect.volume.window", v->window, &d->volume.window_ns));
        *volume_window_set = v->window != NULL;
        TRY(set_sz(path, "detect.volume.warmup_windows", v->warmup_windows, 0, UINT64_MAX,
                   &d->volume.warmup_windows));
        TRY(set_count(path, "detect.volume.max_series", v->max_series, &d->volume.max_series));
        TRY(set_bool(path, "detect.volume.per_source", v->per_source, &d->volume.per_source));
        TRY(set_num(path, "detect.volume.min_count", v->min_count, 0, UINT64_MAX,
                    &d->volume.min_count));
        TRY(set_rate(path, "detect.volume.min_ratio", v->min_ratio, &d->volume.min_ratio));
    }
    if (y->level != NULL) {
        const struct y_level *l = y->level;

        TRY(set_bool(path, "detect.level.enabled", l->enabled, &d->level.enabled));
        TRY(set_sz(path, "detect.level.warmup_windows", l->warmup_windows, 0, UINT64_MAX,
                   &d->level.warmup_windows));
        TRY(set_count(path, "detect.level.max_sources", l->max_sources, &d->level.max_sources));
        TRY(set_num(path, "detect.level.min_count", l->min_count, 0, UINT64_MAX,
                    &d->level.min_count));
    }
    if (y->session != NULL) {
        const struct y_session *s = y->session;

        TRY(set_bool(path, "detect.session.enabled", s->enabled, &d->session.enabled));
        TRY(set_key_pattern(path, s->key, &d->session.key_pattern));
        TRY(set_duration(path, "detect.session.timeout", s->timeout, &d->session.timeout_ns));
        if (s->terminal != NULL) {
            if (s->terminal_count > LW_DETECT_MAX_TERMINAL) {
                return bad_conf(path, "detect.session.terminal: %u template ids, at most %d",
                                s->terminal_count, LW_DETECT_MAX_TERMINAL);
            }
            for (i = 0; i < s->terminal_count; i++) {
                TRY(set_num(path, "detect.session.terminal", s->terminal[i], 1, UINT32_MAX, &n));
                d->session.terminal[i] = (uint32_t)n;
            }
            d->session.n_terminal = s->terminal_count;
        }
        TRY(set_count(path, "detect.session.max_open", s->max_open, &d->session.max_open));
        TRY(set_count(path, "detect.session.max_events", s->max_events,
                      &d->session.max_events));
    }
    if (y->sequence != NULL) {
        const struct y_sequence *q = y->sequence;

        TRY(set_bool(path, "detect.sequence.enabled", q->enabled, &d->sequence.enabled));
        TRY(set_sz(path, "detect.sequence.history", q->history, 1, LW_SEQ_MAX_HISTORY,
                   &d->sequence.history));
        TRY(set_sz(path, "detect.sequence.top", q->top, 1, LW_SEQ_MAX_CAND, &d->sequence.top));
        TRY(set_num(path, "detect.sequence.warmup_sessions", q->warmup_sessions, 0, UINT64_MAX,
                    &d->sequence.warmup_sessions));
        TRY(set_count(path, "detect.sequence.max_contexts", q->max_contexts,
                      &d->sequence.max_contexts));
    }
    if (y->session_counts != NULL) {
        const struct y_session_counts *c = y->session_counts;

        TRY(set_bool(path, "detect.session_counts.enabled", c->enabled,
                     &d->session_counts.enabled));
        TRY(set_num(path, "detect.session_counts.warmup_sessions", c->warmup_sessions, 0,
                    UINT64_MAX, &d->session_counts.warmup_sessions));
        TRY(set_count(path, "detect.session_counts.max_train", c->max_train,
                      &d->session_counts.max_train));
        TRY(set_prob(path, "detect.session_counts.support", c->support,
                     &d->session_counts.support));
        TRY(set_bool(path, "detect.session_counts.pca_alert", c->pca_alert,
                     &d->session_counts.pca_alert));
    }
    if (y->params != NULL) {
        const struct y_params *p = y->params;

        TRY(set_bool(path, "detect.params.enabled", p->enabled, &d->params.enabled));
        TRY(set_num(path, "detect.params.warmup_values", p->warmup_values, 0, UINT64_MAX,
                    &d->params.warmup_values));
        TRY(set_count(path, "detect.params.max_places", p->max_places, &d->params.max_places));
        TRY(set_count(path, "detect.params.max_values", p->max_values, &d->params.max_values));
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

/* One entry of alerts.sinks; @key is "alerts.sinks[i]" for the messages. */
static int load_sink(const char *path, const char *key, const struct y_sink *y,
                     struct lw_run_conf *rc)
{
    struct lw_sink_conf *s;
    enum lw_sink_kind kind;
    char k[96];

#define K(field) (snprintf(k, sizeof(k), "%s.%s", key, field), k)
    if (y->type == NULL) {
        return bad_conf(path, "%s: a sink needs a type (stdout, file or webhook)", key);
    }
    if (strcmp(y->type, "stdout") == 0) {
        kind = LW_SINK_STDOUT;
    }
    else if (strcmp(y->type, "file") == 0) {
        kind = LW_SINK_FILE;
    }
    else if (strcmp(y->type, "webhook") == 0) {
        kind = LW_SINK_WEBHOOK;
    }
    else {
        return bad(path, K("type"), y->type, "stdout, file or webhook");
    }
    /* A key that the sink's type does not use is a mistake, as an unknown key is. */
    if (kind != LW_SINK_FILE && y->path != NULL) {
        return bad_conf(path, "%s: path is for a file sink, not %s", key, y->type);
    }
    if (kind != LW_SINK_WEBHOOK) {
        const char *only = y->url           ? "url"
                           : y->format      ? "format"
                           : y->token       ? "token"
                           : y->spool_dir   ? "spool_dir"
                           : y->spool_max   ? "spool_max"
                           : y->timeout     ? "timeout"
                           : y->backoff_min ? "backoff_min"
                           : y->backoff_max ? "backoff_max"
                                            : NULL;

        if (only != NULL) {
            return bad_conf(path, "%s: %s is for a webhook sink, not %s", key, only, y->type);
        }
    }
    if (kind == LW_SINK_FILE && (y->path == NULL || y->path[0] == '\0')) {
        return bad_conf(path, "%s: a file sink needs a path", key);
    }
    if (kind == LW_SINK_WEBHOOK) {
        if (y->url == NULL) {
            return bad_conf(path, "%s: a webhook sink needs a url", key);
        }
        if (!url_ok(y->url)) {
            return bad(path, K("url"), y->url, "a URL starting with http:// or https://");
        }
        if (y->format != NULL && strcmp(y->format, "json") != 0 &&
            strcmp(y->format, "alertmanager") != 0) {
            return bad(path, K("format"), y->format, "json or alertmanager");
        }
    }
    if (y->name != NULL && y->name[0] == '\0') {
        return bad_conf(path, "%s.name: empty", key);
    }
    s = add_sink(path, rc, kind);
    if (s == NULL) {
        return 2;
    }
    s->format = LW_WEBHOOK_JSON;
    if (y->format != NULL && strcmp(y->format, "alertmanager") == 0) {
        s->format = LW_WEBHOOK_ALERTMANAGER;
    }
    set_str(&s->name, y->name);
    set_str(&s->path, y->path);
    set_str(&s->url, y->url);
    set_str(&s->token, y->token);
    set_str(&s->spool_dir, y->spool_dir);
    TRY(set_size(path, K("spool_max"), y->spool_max, &s->spool_max_bytes));
    TRY(set_duration(path, K("timeout"), y->timeout, &s->timeout_ns));
    TRY(set_duration(path, K("backoff_min"), y->backoff_min, &s->backoff_min_ns));
    TRY(set_duration(path, K("backoff_max"), y->backoff_max, &s->backoff_max_ns));
    TRY(set_count(path, K("queue"), y->queue, &s->queue));
#undef K
    if (s->backoff_min_ns > 0 && s->backoff_max_ns > 0 && s->backoff_min_ns > s->backoff_max_ns) {
        return bad_conf(path, "%s: backoff_min is longer than backoff_max", key);
    }
    return 0;
}

static int load_alerts(const char *path, const struct y_alerts *y, struct lw_run_conf *rc)
{
    struct lw_alert_conf *a = &rc->alerts;
    char key[32];
    unsigned i;

    TRY(set_duration(path, "alerts.cooldown", y->cooldown, &a->cooldown_ns));
    TRY(set_duration(path, "alerts.group", y->group, &a->group_ns));
    TRY(set_rate(path, "alerts.rate_per_min", y->rate_per_min, &a->rate_per_min));
    TRY(set_count(path, "alerts.burst", y->burst, &a->burst));
    TRY(set_prob(path, "alerts.critical_score", y->critical_score, &a->critical_score));
    TRY(set_count(path, "alerts.max_fingerprints", y->max_fingerprints, &a->max_fingerprints));
    if (y->sinks_count > LW_ALERT_MAX_SINKS) {
        return bad_conf(path, "alerts.sinks: %u sinks, at most %d", y->sinks_count,
                        LW_ALERT_MAX_SINKS);
    }
    for (i = 0; i < y->sinks_count; i++) {
        snprintf(key, sizeof(key), "alerts.sinks[%u]", i);
        TRY(load_sink(path, key, &y->sinks[i], rc));
    }
    return 0;
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

/* inputs.kafka: the section replaces the flags' defaults; flags given later add to it. */
static int load_kafka(const char *path, const struct y_kafka *k, struct lw_run_conf *rc)
{
    bool en = true;
    int64_t d = 0;
    unsigned i;
    int rc2 = 0;

    rc2 = rc2 ? rc2 : set_bool(path, "inputs.kafka.enabled", k->enabled, &en);
    if (rc2 != 0 || !en) {
        return rc2;
    }
    set_str(&rc->kafka_brokers, k->brokers);
    for (i = 0; i < k->topics_count && rc2 == 0; i++) {
        rc2 = add_kafka_topic(path, k->topics[i], rc);
    }
    set_str(&rc->kafka_group, k->group);
    set_str(&rc->kafka_client_id, k->client_id);
    if (rc2 == 0 && k->format != NULL) {
        if (strcmp(k->format, "json") == 0) {
            rc->kafka_json = true;
        }
        else if (strcmp(k->format, "text") == 0) {
            rc->kafka_json = false;
        }
        else {
            rc2 = bad(path, "inputs.kafka.format", k->format, "'text' or 'json'");
        }
    }
    rc2 = rc2 ? rc2
              : set_bool(path, "inputs.kafka.key_as_host", k->key_as_host,
                         &rc->kafka_key_as_host);
    rc2 = rc2 ? rc2
              : set_sz(path, "inputs.kafka.max_poll_records", k->max_poll_records, 1, 100000,
                       &rc->kafka_max_poll_records);
    rc2 = rc2 ? rc2
              : set_size(path, "inputs.kafka.max_buffered", k->max_buffered,
                         &rc->kafka_max_buffered);
    if (rc2 == 0 && k->max_buffered != NULL &&
        (rc->kafka_max_buffered < 1024 || rc->kafka_max_buffered > ((size_t)2 << 30))) {
        rc2 = bad(path, "inputs.kafka.max_buffered", k->max_buffered, "a size from 1KiB to 2GiB");
    }
    if (rc2 == 0 && k->offset_reset != NULL) {
        if (strcmp(k->offset_reset, "earliest") != 0 && strcmp(k->offset_reset, "latest") != 0) {
            rc2 = bad(path, "inputs.kafka.offset_reset", k->offset_reset,
                      "'earliest' or 'latest'");
        }
        else {
            set_str(&rc->kafka_offset_reset, k->offset_reset);
        }
    }
    rc2 = rc2 ? rc2 : set_duration(path, "inputs.kafka.revoke_wait", k->revoke_wait, &d);
    if (rc2 == 0 && d > 0) {
        if (d < 1000000 || d / 1000000 > 3600000) {
            rc2 = bad(path, "inputs.kafka.revoke_wait", k->revoke_wait,
                      "a duration from 1ms to 1h");
        }
        else {
            rc->kafka_revoke_wait_ms = (unsigned)(d / 1000000);
        }
    }
    for (i = 0; i < k->properties_count && rc2 == 0; i++) {
        const char *eq = strchr(k->properties[i], '=');

        if (eq == NULL || eq == k->properties[i]) {
            rc2 = bad(path, "inputs.kafka.properties", k->properties[i],
                      "a librdkafka setting as name=value");
        }
        else if (rc->n_kafka_props >= LW_RUN_MAX_KAFKA_PROPS) {
            rc2 = bad_conf(path, "inputs.kafka.properties: at most %d entries",
                           LW_RUN_MAX_KAFKA_PROPS);
        }
        else if ((rc->kafka_props[rc->n_kafka_props] = lw_strdup(k->properties[i])) == NULL) {
            rc2 = bad_conf(path, "out of memory");
        }
        else {
            rc->n_kafka_props++;
        }
    }
    return rc2;
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

/* store: backend and store.clickhouse.* */
static int load_store(const char *path, const struct y_store *y, struct lw_run_conf *rc)
{
    const struct y_clickhouse *c = y->clickhouse;

    if (y->backend != NULL) {
        if (strcmp(y->backend, "sqlite") == 0) {
            rc->store_backend = LW_STORE_BACKEND_SQLITE;
        }
        else if (strcmp(y->backend, "clickhouse") == 0) {
            rc->store_backend = LW_STORE_BACKEND_CLICKHOUSE;
        }
        else {
            return bad(path, "store.backend", y->backend, "'sqlite' or 'clickhouse'");
        }
    }
    if (c == NULL) {
        return 0;
    }
    if (c->url != NULL && strncmp(c->url, "http://", 7) != 0 &&
        strncmp(c->url, "https://", 8) != 0) {
        return bad(path, "store.clickhouse.url", c->url,
                   "an http:// or https:// URL (ClickHouse's HTTP port, usually 8123)");
    }
    set_str(&rc->ch_url, c->url);
    set_str(&rc->ch_database, c->database);
    set_str(&rc->ch_user, c->user);
    set_str(&rc->ch_password, c->password);
    set_str(&rc->ch_writer_id, c->writer_id);
    if (c->password != NULL && c->password_file != NULL) {
        fprintf(stderr, "logwarden run: %s: store.clickhouse: give password or password_file,"
                        " not both\n",
                path);
        return 2;
    }
    if (c->password_file != NULL) {
        char *abs = realpath(c->password_file, NULL);

        if (read_secret(path, "store.clickhouse.password_file", c->password_file,
                        &rc->ch_password) != 0) {
            free(abs);
            return 2;
        }
        set_str(&rc->ch_password_file, abs != NULL ? abs : c->password_file);
        free(abs);
    }
    TRY(set_duration(path, "store.clickhouse.timeout", c->timeout, &rc->ch_timeout_ns));
    TRY(set_sz(path, "store.clickhouse.batch_rows", c->batch_rows, 1, 100000000,
               &rc->ch_batch_rows));
    return 0;
}

static int load_yaml(const char *path, struct lw_run_conf *rc, bool *volume_window_set)
{
    static const cyaml_config_t cfg = {
        .log_fn = yaml_log,
        .mem_fn = yaml_mem,
        .log_level = CYAML_LOG_ERROR,
        .flags = CYAML_CFG_DEFAULT,
    };
    struct y_root *y = NULL;
    cyaml_err_t err;
    int64_t d;
    int rc2 = 0;

    yaml_msg[0] = '\0';
    err = cyaml_load_file(path, &cfg, &root_schema, (cyaml_data_t **)&y, NULL);
    if (err != CYAML_OK) {
        fprintf(stderr, "logwarden run: %s: %s%s%s\n", path, cyaml_strerror(err),
                yaml_msg[0] ? ": " : "", yaml_msg);
        return 2;
    }
    if (y == NULL) {
        return 0; /* an empty file: all defaults */
    }
    set_str(&rc->data_dir, y->data_dir);
    set_str(&rc->log_level, y->log_level);
    if (y->format != NULL && strcmp(y->format, "auto") != 0) {
        set_str(&rc->format, y->format);
    }
    rc2 = rc2 ? rc2 : set_size(path, "max_line_bytes", y->max_line_bytes, &rc->max_line_bytes);
    if (y->pipeline != NULL) {
        struct y_pipeline *p = y->pipeline;

        rc2 = rc2 ? rc2 : set_count(path, "pipeline.workers", p->workers, &rc->workers);
        rc2 = rc2 ? rc2
                  : set_size(path, "pipeline.memory_limit", p->memory_limit, &rc->memory_limit);
        rc2 = rc2 ? rc2 : set_duration(path, "pipeline.window", p->window, &rc->window_ns);
        rc2 = rc2 ? rc2
                  : set_duration(path, "pipeline.allowed_lateness", p->allowed_lateness,
                                 &rc->lateness_ns);
        rc2 = rc2 ? rc2
                  : set_duration(path, "pipeline.max_time_jump", p->max_time_jump,
                                 &rc->max_jump_ns);
        rc2 = rc2 ? rc2
                  : set_duration(path, "pipeline.source_idle", p->source_idle, &rc->idle_ns);
        rc2 = rc2 ? rc2 : set_duration(path, "pipeline.max_lag", p->max_lag, &rc->max_lag_ns);
        rc2 = rc2 ? rc2
                  : set_duration(path, "pipeline.flush_interval", p->flush_interval,
                                 &rc->flush_ns);
        rc2 = rc2 ? rc2
                  : set_count(path, "pipeline.max_templates", p->max_templates,
                              &rc->max_templates);
    }
    if (y->store != NULL && y->store->retention != NULL) {
        d = 0;
        rc2 = rc2 ? rc2 : set_duration(path, "store.retention", y->store->retention, &d);
        if (d > 0) {
            rc->retention_s = d / NS;
        }
    }
    if (y->store != NULL && y->store->examples_per_template != NULL) {
        size_t n = 0;

        rc2 = rc2 ? rc2
                  : set_size(path, "store.examples_per_template", y->store->examples_per_template,
                             &n);
        if (rc2 == 0 && (n < 1 || n > 100)) {
            fprintf(stderr, "%s: store.examples_per_template must be from 1 to 100\n", path);
            rc2 = -1;
        }
        rc->examples_per_template = (int)n;
    }
    if (y->api != NULL) {
        set_str(&rc->api_read_token, y->api->read_token);
    }
    if (rc2 == 0 && y->store != NULL) {
        rc2 = load_store(path, y->store, rc);
    }
    if (y->inputs != NULL && y->inputs->tail != NULL) {
        struct y_tail *t = y->inputs->tail;
        unsigned i;

        for (i = 0; i < t->paths_count && rc->n_tail < LW_RUN_MAX_TAIL; i++) {
            rc->tail[rc->n_tail++] = lw_strdup(t->paths[i]);
        }
        if (t->start_at != NULL) {
            if (strcmp(t->start_at, "end") == 0) {
                rc->tail_from_end = true;
            }
            else if (strcmp(t->start_at, "beginning") == 0) {
                rc->tail_from_end = false;
            }
            else {
                rc2 = rc2 ? rc2
                          : bad(path, "inputs.tail.start_at", t->start_at,
                                "'beginning' or 'end'");
            }
        }
        d = 0;
        rc2 = rc2 ? rc2 : set_duration(path, "inputs.tail.poll_interval", t->poll_interval, &d);
        if (d > 0) {
            rc->tail_poll_ms = (unsigned)(d / 1000000);
        }
        rc2 = rc2 ? rc2
                  : load_multiline(path, "inputs.tail", t->multiline, t->multiline_regex,
                                   t->max_multiline_lines, &rc->tail_ml);
        rc2 = rc2 ? rc2 : load_rotate(path, t, rc);
        rc2 = rc2 ? rc2 : set_bool(path, "inputs.tail.skip_gzip", t->skip_gzip,
                                   &rc->tail_skip_gzip);
        d = 0;
        rc2 = rc2 ? rc2 : set_duration(path, "inputs.tail.rotate_wait", t->rotate_wait, &d);
        if (d > 0) {
            if (d < 1000000 || d / 1000000 > UINT_MAX) {
                rc2 = bad(path, "inputs.tail.rotate_wait", t->rotate_wait,
                          "a duration from 1ms to 49d");
            }
            else {
                rc->tail_rotate_wait_ms = (unsigned)(d / 1000000);
            }
        }
    }
    if (y->inputs != NULL && y->inputs->syslog != NULL) {
        struct y_syslog *s = y->inputs->syslog;

        bool en = true;

        rc2 = rc2 ? rc2 : set_bool(path, "inputs.syslog.enabled", s->enabled, &en);
        rc2 = rc2 ? rc2 : set_bool(path, "inputs.syslog.udp", s->udp, &rc->syslog_udp);
        rc2 = rc2 ? rc2 : set_bool(path, "inputs.syslog.tcp", s->tcp, &rc->syslog_tcp);
        if (!en) {
            lw_free(rc->syslog_addr);
            rc->syslog_addr = NULL;
        }
        else {
            set_str(&rc->syslog_addr, s->listen);
        }
        rc2 = rc2 ? rc2
                  : set_count(path, "inputs.syslog.max_connections", s->max_connections,
                              &rc->syslog_max_connections);
        d = 0;
        rc2 = rc2 ? rc2 : set_duration(path, "inputs.syslog.idle_timeout", s->idle_timeout, &d);
        if (d > 0) {
            rc->syslog_idle_timeout_s = (unsigned)(d / NS);
        }
        rc2 = rc2 ? rc2
                  : set_size(path, "inputs.syslog.udp_rcvbuf", s->udp_rcvbuf,
                             &rc->syslog_udp_rcvbuf);
        if (rc2 == 0 && rc->syslog_udp_rcvbuf > (size_t)INT_MAX) {
            rc2 = bad(path, "inputs.syslog.udp_rcvbuf", s->udp_rcvbuf, "a size up to 2GiB");
        }
    }
    if (y->inputs != NULL && y->inputs->http != NULL) {
        struct y_http *h = y->inputs->http;

        bool en = true;

        rc2 = rc2 ? rc2 : set_bool(path, "inputs.http.enabled", h->enabled, &en);
        if (!en) {
            lw_free(rc->http_addr);
            rc->http_addr = NULL;
        }
        else {
            set_str(&rc->http_addr, h->listen);
        }
        set_str(&rc->http_token, h->token);
        rc2 = rc2 ? rc2 : set_size(path, "inputs.http.max_body", h->max_body, &rc->http_max_body);
        rc2 = rc2 ? rc2
                  : set_size(path, "inputs.http.max_buffered", h->max_buffered,
                             &rc->http_max_buffered);
        rc2 = rc2 ? rc2
                  : set_sz(path, "inputs.http.max_connections", h->max_connections, 1, 65536,
                           &rc->http_max_connections);
        rc2 = rc2 ? rc2
                  : set_sz(path, "inputs.http.max_connections_per_ip",
                           h->max_connections_per_ip, 1, 65536,
                           &rc->http_max_connections_per_ip);
        d = 0;
        rc2 = rc2 ? rc2 : set_duration(path, "inputs.http.idle_timeout", h->idle_timeout, &d);
        if (rc2 == 0 && h->idle_timeout != NULL && (d < NS || d > 3600 * NS)) {
            rc2 = bad(path, "inputs.http.idle_timeout", h->idle_timeout,
                      "a duration from 1s to 1h");
        }
        if (rc2 == 0 && d > 0) {
            rc->http_idle_timeout_s = (unsigned)(d / NS);
        }
        rc2 = rc2 ? rc2
                  : load_multiline(path, "inputs.http", h->multiline, h->multiline_regex,
                                   h->max_multiline_lines, &rc->http_ml);
    }
    if (y->inputs != NULL && y->inputs->in_stdin != NULL) {
        struct y_stdin *s = y->inputs->in_stdin;

        rc2 = rc2 ? rc2 : set_bool(path, "inputs.stdin.enabled", s->enabled, &rc->use_stdin);
        rc2 = rc2 ? rc2
                  : load_multiline(path, "inputs.stdin", s->multiline, s->multiline_regex,
                                   s->max_multiline_lines, &rc->stdin_ml);
    }
    if (rc2 == 0 && y->inputs != NULL && y->inputs->kafka != NULL) {
        rc2 = load_kafka(path, y->inputs->kafka, rc);
    }
    if (rc2 == 0 && y->detect != NULL) {
        rc2 = load_detect(path, y->detect, rc, volume_window_set);
    }
    if (rc2 == 0 && y->alerts != NULL) {
        rc2 = load_alerts(path, y->alerts, rc);
    }
    if (rc2 == 0 && y->api != NULL) {
        rc2 = set_bool(path, "api.dashboard", y->api->dashboard, &rc->dashboard);
    }
    cyaml_free(&cfg, &root_schema, y, 0);
    return rc2;
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
    rc->flush_ns = 200000000LL;
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
    ec->flush_ns = rc->flush_ns;
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
