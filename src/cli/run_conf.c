/*
 * Configuration of `logwarden run` (see run_conf.h): defaults, then the YAML file read with
 * libcyaml against a schema (an unknown key is an error that names it), then the flags.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cyaml/cyaml.h>

#include "cli/run_conf.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"

#define NS 1000000000LL

static const char usage_text[] =
    "usage: logwarden run [options]\n"
    "\n"
    "Runs the daemon: ingests lines from files, syslog, HTTP and stdin, mines their templates\n"
    "and keeps templates, per-window counts and input positions in an embedded store.\n"
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
    "  -f, --format FMT        header layout in <Field> notation (default: automatic)\n"
    "  -j, --workers N         parse threads (default 2)\n"
    "      --window DUR        event-time window (default 10s)\n"
    "      --memory-limit SIZE bytes of lines in flight before inputs are slowed (default 256MiB)\n"
    "      --retention DUR     how long window counts are kept (default 7d)\n"
    "      --log-level LEVEL   error, warn, info (default) or debug\n"
    "  -h, --help              this text\n"
    "\n"
    "examples:\n"
    "  logwarden run --tail '/var/log/*.log'\n"
    "  logwarden run --no-syslog --http 127.0.0.1:9000 --data-dir /var/lib/logwarden\n"
    "  journalctl -f | logwarden run --stdin --no-syslog --no-http\n"
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
};

struct y_syslog {
    char *enabled;
    char *listen;
    char *udp;
    char *tcp;
    char *max_connections;
    char *idle_timeout;
};

struct y_http {
    char *enabled;
    char *listen;
    char *token;
    char *max_body;
};

struct y_stdin {
    char *enabled;
};

struct y_inputs {
    struct y_tail *tail;
    struct y_syslog *syslog;
    struct y_http *http;
    struct y_stdin *in_stdin;
};

struct y_pipeline {
    char *workers;
    char *memory_limit;
    char *window;
    char *allowed_lateness;
    char *flush_interval;
    char *max_templates;
};

struct y_store {
    char *retention;
};

struct y_root {
    char *data_dir;
    char *log_level;
    char *format;
    char *max_line_bytes;
    struct y_inputs *inputs;
    struct y_pipeline *pipeline;
    struct y_store *store;
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
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t syslog_fields[] = {
    BOOLP("enabled", struct y_syslog, enabled),
    STR("listen", struct y_syslog, listen),
    BOOLP("udp", struct y_syslog, udp),
    BOOLP("tcp", struct y_syslog, tcp),
    STR("max_connections", struct y_syslog, max_connections),
    STR("idle_timeout", struct y_syslog, idle_timeout),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t http_fields[] = {
    BOOLP("enabled", struct y_http, enabled),
    STR("listen", struct y_http, listen),
    STR("token", struct y_http, token),
    STR("max_body", struct y_http, max_body),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t stdin_fields[] = {
    BOOLP("enabled", struct y_stdin, enabled),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t inputs_fields[] = {
    CYAML_FIELD_MAPPING_PTR("tail", OPT, struct y_inputs, tail, tail_fields),
    CYAML_FIELD_MAPPING_PTR("syslog", OPT, struct y_inputs, syslog, syslog_fields),
    CYAML_FIELD_MAPPING_PTR("http", OPT, struct y_inputs, http, http_fields),
    CYAML_FIELD_MAPPING_PTR("stdin", OPT, struct y_inputs, in_stdin, stdin_fields),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t pipeline_fields[] = {
    STR("workers", struct y_pipeline, workers),
    STR("memory_limit", struct y_pipeline, memory_limit),
    STR("window", struct y_pipeline, window),
    STR("allowed_lateness", struct y_pipeline, allowed_lateness),
    STR("flush_interval", struct y_pipeline, flush_interval),
    STR("max_templates", struct y_pipeline, max_templates),
    CYAML_FIELD_END,
};

static const cyaml_schema_field_t store_fields[] = {
    STR("retention", struct y_store, retention),
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

static int set_count(const char *where, const char *key, const char *v, size_t *out)
{
    char *end;
    unsigned long long n;

    if (v == NULL) {
        return 0;
    }
    errno = 0;
    n = strtoull(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || n == 0) {
        return bad(where, key, v, "a positive whole number");
    }
    *out = (size_t)n;
    return 0;
}

static int load_yaml(const char *path, struct lw_run_conf *rc)
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
    }
    if (y->inputs != NULL && y->inputs->in_stdin != NULL) {
        rc2 = rc2 ? rc2
                  : set_bool(path, "inputs.stdin.enabled", y->inputs->in_stdin->enabled,
                             &rc->use_stdin);
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
    rc->max_line_bytes = 65536;
    rc->workers = 2;
    rc->memory_limit = (size_t)256 << 20;
    rc->window_ns = 10 * NS;
    rc->lateness_ns = 30 * NS;
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
    OPT_WINDOW,
    OPT_MEMORY,
    OPT_RETENTION,
    OPT_LOG_LEVEL,
};

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
        {"format", required_argument, NULL, 'f'},
        {"workers", required_argument, NULL, 'j'},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"memory-limit", required_argument, NULL, OPT_MEMORY},
        {"retention", required_argument, NULL, OPT_RETENTION},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    const char *env_token = getenv("LOGWARDEN_HTTP_TOKEN");
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
            lw_run_conf_fini(rc);
            return 1;
        }
    }
    if (config != NULL) {
        rc->config_path = lw_strdup(config);
        r = load_yaml(config, rc);
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
        default:
            goto usage;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "logwarden run: unexpected argument '%s' (files go with --tail)\n",
                argv[optind]);
        goto usage;
    }
    if (rc->http_token == NULL && env_token != NULL && env_token[0] != '\0') {
        rc->http_token = lw_strdup(env_token);
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

void lw_run_conf_fini(struct lw_run_conf *rc)
{
    size_t i;

    for (i = 0; i < rc->n_tail; i++) {
        lw_free(rc->tail[i]);
    }
    rc->n_tail = 0;
    lw_free(rc->config_path);
    lw_free(rc->data_dir);
    lw_free(rc->data_dir_json);
    lw_free(rc->format);
    lw_free(rc->log_level);
    lw_free(rc->syslog_addr);
    lw_free(rc->http_addr);
    lw_free(rc->http_token);
    lw_detect_conf_fini(&rc->detect);
    lw_alert_conf_fini(&rc->alerts);
    memset(rc, 0, sizeof(*rc));
}
