/*
 * Unit tests for the configuration of `logwarden run` (src/cli/run_conf.c) through
 * lw_run_conf_parse(): the detect: and alerts: sections with every key set away from its
 * default, the defaults they fall back to (one stdout sink, the volume window following the
 * pipeline window), the --no-detect, --threshold, --alert-file and --alert-webhook flags, and the
 * error for each kind of bad value (exit code 2 and a message naming the key, read back from
 * stderr). ASan checks that nothing leaks on the error paths, where the parser frees the
 * configuration itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/run_conf.h"
#include "lw/lw_plugin.h"

#define NS 1000000000LL

static char tmpdir[64];
static char yaml_path[128];
static char err_path[128];
static char err_text[4096];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/lw-run-conf-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(yaml_path, sizeof(yaml_path), "%s/c.yaml", tmpdir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(yaml_path);
    unlink(err_path);
    rmdir(tmpdir);
    return 0;
}

static void write_yaml(const char *text)
{
    FILE *f = fopen(yaml_path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/*
 * Parses "run" + @extra flags (NULL-ended) + "--config <yaml_path>" when @with_config; what
 * the parser writes to stderr lands in err_text.
 */
static int parse(struct lw_run_conf *rc, bool with_config, const char *const *extra)
{
    char *argv[32];
    int argc = 0;
    int saved;
    int fd;
    int r;
    ssize_t n;

    argv[argc++] = "run";
    if (with_config) {
        argv[argc++] = "--config";
        argv[argc++] = yaml_path;
    }
    while (extra != NULL && *extra != NULL && argc < 31) {
        argv[argc++] = (char *)*extra++;
    }
    argv[argc] = NULL;

    fflush(stderr);
    saved = dup(2);
    fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    r = lw_run_conf_parse(argc, argv, rc);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    fd = open(err_path, O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, err_text, sizeof(err_text) - 1);
    close(fd);
    err_text[n > 0 ? n : 0] = '\0';
    return r;
}

static void test_defaults(void **state)
{
    struct lw_run_conf rc;

    (void)state;
    assert_int_equal(parse(&rc, false, NULL), 0);
    assert_true(rc.detect_enabled);
    assert_true(rc.detect.threshold == 0.999);
    assert_int_equal(rc.detect.volume.window_ns, 10 * NS);
    assert_null(rc.detect.session.key_pattern);
    assert_int_equal(rc.detect.sequence.history, 3);
    /* No sink configured: one stdout sink, named by the alert manager. */
    assert_int_equal(rc.alerts.n_sinks, 1);
    assert_int_equal(rc.alerts.sinks[0].kind, LW_SINK_STDOUT);
    assert_null(rc.alerts.sinks[0].name);
    assert_int_equal(rc.alerts.cooldown_ns, 60 * NS);
    assert_ptr_equal(rc.alerts.data_dir, rc.data_dir);
    lw_run_conf_fini(&rc);
}

/* Every key of detect: and alerts:, each away from its default. */
static const char every_key[] =
    "pipeline:\n"
    "  window: 20s\n"
    "detect:\n"
    "  enabled: false\n"
    "  threshold: 0.95\n"
    "  new_template: {enabled: false, warmup_lines: 0, warmup: 0}\n"
    "  volume: {enabled: false, window: 5s, warmup_windows: 7, max_series: 11, per_source: no,\n"
    "           min_count: 0}\n"
    "  level: {enabled: off, warmup_windows: 8, max_sources: 12, min_count: 13}\n"
    "  session:\n"
    "    enabled: false\n"
    "    key: 'req=(\\w+)'\n"
    "    timeout: 90s\n"
    "    terminal: [12, 40, 4294967295]\n"
    "    max_open: 14\n"
    "    max_events: 15\n"
    "  sequence: {enabled: false, history: 10, top: 1, warmup_sessions: 16, max_contexts: 17}\n"
    "  session_counts: {enabled: false, warmup_sessions: 18, max_train: 19, support: 1,\n"
    "                   pca_alert: true}\n"
    "  params: {enabled: false, warmup_values: 20, max_places: 21, max_values: 22}\n"
    "alerts:\n"
    "  cooldown: 10m\n"
    "  group: 2m\n"
    "  rate_per_min: 0.5\n"
    "  burst: 3\n"
    "  critical_score: 0.9\n"
    "  max_fingerprints: 23\n"
    "  sinks:\n"
    "    - {type: stdout, name: console, queue: 24}\n"
    "    - {type: file, path: /var/log/logwarden/alerts.jsonl}\n"
    "    - type: webhook\n"
    "      url: 'http://127.0.0.1:9093/api/v2/alerts'\n"
    "      format: alertmanager\n"
    "      token: s3cret\n"
    "      spool_dir: /var/spool/lw\n"
    "      spool_max: 1MiB\n"
    "      timeout: 2s\n"
    "      backoff_min: 100ms\n"
    "      backoff_max: 30s\n"
    "      queue: 25\n"
    "      name: am\n"
    "    - {type: webhook, url: 'https://hooks.example.com/x', format: json}\n";

static void test_every_key(void **state)
{
    struct lw_run_conf rc;
    const struct lw_detect_conf *d = &rc.detect;
    const struct lw_alert_conf *a = &rc.alerts;

    (void)state;
    write_yaml(every_key);
    assert_int_equal(parse(&rc, true, NULL), 0);
    assert_false(rc.detect_enabled);
    assert_true(d->threshold == 0.95);
    assert_false(d->new_template.enabled);
    assert_int_equal(d->new_template.warmup_lines, 0);
    assert_int_equal(d->new_template.warmup_ns, 0);
    assert_false(d->volume.enabled);
    assert_int_equal(d->volume.window_ns, 5 * NS); /* its own, not the pipeline's 20 s */
    assert_int_equal(d->volume.warmup_windows, 7);
    assert_int_equal(d->volume.max_series, 11);
    assert_false(d->volume.per_source);
    assert_int_equal(d->volume.min_count, 0);
    assert_false(d->level.enabled);
    assert_int_equal(d->level.warmup_windows, 8);
    assert_int_equal(d->level.max_sources, 12);
    assert_int_equal(d->level.min_count, 13);
    assert_false(d->session.enabled);
    assert_string_equal(d->session.key_pattern, "req=(\\w+)");
    assert_int_equal(d->session.timeout_ns, 90 * NS);
    assert_int_equal(d->session.n_terminal, 3);
    assert_int_equal(d->session.terminal[0], 12);
    assert_int_equal(d->session.terminal[1], 40);
    assert_int_equal(d->session.terminal[2], UINT32_MAX);
    assert_int_equal(d->session.max_open, 14);
    assert_int_equal(d->session.max_events, 15);
    assert_false(d->sequence.enabled);
    assert_int_equal(d->sequence.history, 10);
    assert_int_equal(d->sequence.top, 1);
    assert_int_equal(d->sequence.warmup_sessions, 16);
    assert_int_equal(d->sequence.max_contexts, 17);
    assert_false(d->session_counts.enabled);
    assert_int_equal(d->session_counts.warmup_sessions, 18);
    assert_int_equal(d->session_counts.max_train, 19);
    assert_true(d->session_counts.support == 1.0);
    assert_true(d->session_counts.pca_alert);
    assert_false(d->params.enabled);
    assert_int_equal(d->params.warmup_values, 20);
    assert_int_equal(d->params.max_places, 21);
    assert_int_equal(d->params.max_values, 22);

    assert_int_equal(a->cooldown_ns, 600 * NS);
    assert_int_equal(a->group_ns, 120 * NS);
    assert_true(a->rate_per_min == 0.5);
    assert_int_equal(a->burst, 3);
    assert_true(a->critical_score == 0.9);
    assert_int_equal(a->max_fingerprints, 23);
    assert_int_equal(a->n_sinks, 4);
    assert_int_equal(a->sinks[0].kind, LW_SINK_STDOUT);
    assert_string_equal(a->sinks[0].name, "console");
    assert_int_equal(a->sinks[0].queue, 24);
    assert_int_equal(a->sinks[1].kind, LW_SINK_FILE);
    assert_null(a->sinks[1].name);
    assert_string_equal(a->sinks[1].path, "/var/log/logwarden/alerts.jsonl");
    assert_int_equal(a->sinks[1].queue, 0); /* 0: the alert manager's default */
    assert_int_equal(a->sinks[2].kind, LW_SINK_WEBHOOK);
    assert_string_equal(a->sinks[2].name, "am");
    assert_string_equal(a->sinks[2].url, "http://127.0.0.1:9093/api/v2/alerts");
    assert_int_equal(a->sinks[2].format, LW_WEBHOOK_ALERTMANAGER);
    assert_string_equal(a->sinks[2].token, "s3cret");
    assert_string_equal(a->sinks[2].spool_dir, "/var/spool/lw");
    assert_int_equal(a->sinks[2].spool_max_bytes, 1 << 20);
    assert_int_equal(a->sinks[2].timeout_ns, 2 * NS);
    assert_int_equal(a->sinks[2].backoff_min_ns, 100000000LL);
    assert_int_equal(a->sinks[2].backoff_max_ns, 30 * NS);
    assert_int_equal(a->sinks[2].queue, 25);
    assert_int_equal(a->sinks[3].kind, LW_SINK_WEBHOOK);
    assert_null(a->sinks[3].name);
    assert_int_equal(a->sinks[3].format, LW_WEBHOOK_JSON);
    assert_null(a->sinks[3].token);
    assert_null(a->sinks[3].spool_dir);
    lw_run_conf_fini(&rc);
}

/* detect.volume.window follows pipeline.window (and --window) unless it is set itself. */
static void test_volume_window(void **state)
{
    static const char *const flag_window[] = {"--window", "30s", NULL};
    struct lw_run_conf rc;

    (void)state;
    write_yaml("pipeline: {window: 20s}\n");
    assert_int_equal(parse(&rc, true, NULL), 0);
    assert_int_equal(rc.detect.volume.window_ns, 20 * NS);
    lw_run_conf_fini(&rc);

    assert_int_equal(parse(&rc, true, flag_window), 0);
    assert_int_equal(rc.detect.volume.window_ns, 30 * NS);
    lw_run_conf_fini(&rc);

    write_yaml("pipeline: {window: 20s}\ndetect: {volume: {window: 1m}}\n");
    assert_int_equal(parse(&rc, true, flag_window), 0);
    assert_int_equal(rc.window_ns, 30 * NS);
    assert_int_equal(rc.detect.volume.window_ns, 60 * NS);
    lw_run_conf_fini(&rc);
}

static void test_flags(void **state)
{
    static const char *const flags[] = {
        "--no-detect", "--threshold", "0.99", "--alert-file", "/tmp/a.jsonl",
        "--alert-webhook", "http://127.0.0.1:1/hook", "--alert-webhook", "https://h.example/x",
        NULL,
    };
    struct lw_run_conf rc;

    (void)state;
    /* The file's webhook takes the name "webhook": the flags' webhooks get the next ones. */
    write_yaml("detect: {threshold: 0.5}\n"
               "alerts: {sinks: [{type: webhook, url: 'http://127.0.0.1:2/'}]}\n");
    assert_int_equal(parse(&rc, true, flags), 0);
    assert_false(rc.detect_enabled);
    assert_true(rc.detect.threshold == 0.99); /* the flag wins over the file */
    assert_int_equal(rc.alerts.n_sinks, 4);   /* no stdout sink added */
    assert_null(rc.alerts.sinks[0].name);
    assert_int_equal(rc.alerts.sinks[1].kind, LW_SINK_FILE);
    assert_null(rc.alerts.sinks[1].name);
    assert_string_equal(rc.alerts.sinks[1].path, "/tmp/a.jsonl");
    assert_int_equal(rc.alerts.sinks[2].kind, LW_SINK_WEBHOOK);
    assert_string_equal(rc.alerts.sinks[2].name, "webhook-2");
    assert_string_equal(rc.alerts.sinks[2].url, "http://127.0.0.1:1/hook");
    assert_int_equal(rc.alerts.sinks[2].format, LW_WEBHOOK_JSON);
    assert_string_equal(rc.alerts.sinks[3].name, "webhook-3");
    lw_run_conf_fini(&rc);
}

struct bad_case {
    const char *yaml;          /* NULL: no file, @flag only */
    const char *flag[3];
    const char *want;          /* expected in stderr */
};

static const struct bad_case bad_cases[] = {
    {"detect: {threshold: 0}\n", {NULL},
     "detect.threshold: '0' is not a number in (0, 1]"},
    {"detect: {threshold: 1.01}\n", {NULL}, "detect.threshold: '1.01' is not"},
    {"detect: {threshold: high}\n", {NULL}, "detect.threshold: 'high' is not"},
    {"detect: {session_counts: {support: 2}}\n", {NULL},
     "detect.session_counts.support: '2' is not a number in (0, 1]"},
    {"detect: {sequence: {history: 0}}\n", {NULL},
     "detect.sequence.history: '0' is not a whole number from 1 to 10"},
    {"detect: {sequence: {history: 11}}\n", {NULL}, "detect.sequence.history: '11'"},
    {"detect: {sequence: {top: 17}}\n", {NULL},
     "detect.sequence.top: '17' is not a whole number from 1 to 16"},
    {"detect: {enabled: maybe}\n", {NULL}, "detect.enabled: 'maybe' is not true or false"},
    {"detect: {level: {min_count: -1}}\n", {NULL}, "detect.level.min_count: '-1' is not"},
    {"detect: {params: {max_places: 0}}\n", {NULL},
     "detect.params.max_places: '0' is not a positive whole number"},
    {"detect: {volume: {window: 10 s}}\n", {NULL}, "detect.volume.window: '10 s' is not a dur"},
    {"detect: {session: {key: 'blk_(('}}\n", {NULL},
     "detect.session.key: 'blk_((' is not a PCRE2 pattern"},
    {"detect: {session: {terminal: [1, x]}}\n", {NULL},
     "c.yaml:1: detect.session.terminal[1]: 'x' is not"},
    {"detect: {session: {terminal: [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}}\n", {NULL},
     "detect.session.terminal: 17 template ids, at most 16"},
    {"detect: {sesion: {}}\n", {NULL},
     "c.yaml:1: detect: unknown key 'sesion' (did you mean 'session'?)"},
    {"alerts: {cooldown: soon}\n", {NULL}, "alerts.cooldown: 'soon' is not a duration"},
    {"alerts: {critical_score: 1.5}\n", {NULL}, "alerts.critical_score: '1.5' is not"},
    {"alerts: {rate_per_min: -1}\n", {NULL}, "alerts.rate_per_min: '-1' is not a number, 0 or"},
    {"alerts: {sinks: [{type: email}]}\n", {NULL},
     "alerts.sinks[0].type: 'email' is not stdout, file or webhook"},
    {"alerts: {sinks: [{path: /x}]}\n", {NULL}, "alerts.sinks[0]: a sink needs a type"},
    {"alerts: {sinks: [{type: stdout}, {type: webhook}]}\n", {NULL},
     "alerts.sinks[1]: a webhook sink needs a url"},
    {"alerts: {sinks: [{type: webhook, url: 'ftp://x/'}]}\n", {NULL},
     "alerts.sinks[0].url: 'ftp://x/' is not a URL starting with http:// or https://"},
    {"alerts: {sinks: [{type: webhook, url: 'http://x/', format: xml}]}\n", {NULL},
     "alerts.sinks[0].format: 'xml' is not json or alertmanager"},
    {"alerts: {sinks: [{type: file}]}\n", {NULL}, "alerts.sinks[0]: a file sink needs a path"},
    {"alerts: {sinks: [{type: file, path: /x, url: 'http://x/'}]}\n", {NULL},
     "alerts.sinks[0]: url is for a webhook sink, not file"},
    {"alerts: {sinks: [{type: webhook, url: 'http://x/', timeout: 0}]}\n", {NULL},
     "alerts.sinks[0].timeout: '0' is not a duration"},
    {"alerts: {sinks: [{type: webhook, url: 'http://x/', backoff_min: 2m, backoff_max: 1m}]}\n",
     {NULL}, "alerts.sinks[0]: backoff_min is longer than backoff_max"},
    {"alerts: {sinks: [{type: stdout}, {type: stdout}]}\n", {NULL},
     "two sinks are named 'stdout'"},
    {"alerts:\n  sinks: [{type: stdout, name: a}, {type: stdout, name: b},\n"
     "    {type: stdout, name: c}, {type: stdout, name: d}, {type: stdout, name: e},\n"
     "    {type: stdout, name: f}, {type: stdout, name: g}, {type: stdout, name: h},\n"
     "    {type: stdout, name: i}]\n",
     {NULL}, "alerts.sinks: 9 sinks, at most 8"},
    {"alerts:\n  sinks: [{type: stdout, name: a}, {type: stdout, name: b},\n"
     "    {type: stdout, name: c}, {type: stdout, name: d}, {type: stdout, name: e},\n"
     "    {type: stdout, name: f}, {type: stdout, name: g}, {type: stdout, name: h}]\n",
     {"--alert-file", "/tmp/x", NULL}, "alerts.sinks: at most 8 sinks"},
    {"inputs: {stdin: {multiline: yes}}\n", {NULL},
     "inputs.stdin.multiline: 'yes' is not auto, off, regex or start"},
    {"inputs: {http: {multiline: start}}\n", {NULL},
     "inputs.http.multiline: start needs a pattern (inputs.http.multiline_regex)"},
    {"inputs: {stdin: {multiline: regex, multiline_regex: '(['}}\n", {NULL},
     "inputs.stdin.multiline_regex: bad multi-line regex '(['"},
    {"inputs: {stdin: {multiline_regex: '^x'}}\n", {NULL},
     "inputs.stdin.multiline_regex: a multi-line regex is only used by the modes regex and "
     "start, not auto"},
    {"inputs: {http: {max_multiline_lines: 0}}\n", {NULL},
     "inputs.http.max_multiline_lines: '0' is not a whole number from 1 to 100000"},
    {NULL, {"--multiline", "on", NULL}, "--multiline: value: 'on' is not auto, off, regex"},
    {NULL, {"--multiline", "start", NULL}, "--multiline: start needs a pattern"},
    {NULL, {"--multiline-regex", "(", NULL}, "--multiline-regex: bad multi-line regex"},
    {"inputs: {tail: {multiline: start}}\n", {NULL},
     "inputs.tail.multiline: start needs a pattern (inputs.tail.multiline_regex)"},
    {"inputs: {tail: {max_multiline_lines: 0}}\n", {NULL},
     "inputs.tail.max_multiline_lines: '0' is not a whole number from 1 to 100000"},
    {"inputs: {tail: {rotate_patterns: ['']}}\n", {NULL},
     "inputs.tail.rotate_patterns[0]: the pattern is empty"},
    {"inputs: {tail: {skip_gzip: maybe}}\n", {NULL}, "inputs.tail.skip_gzip: 'maybe'"},
    {"inputs: {tail: {rotate_wait: soon}}\n", {NULL}, "inputs.tail.rotate_wait: 'soon'"},
    {"inputs: {syslog: {udp_rcvbuf: lots}}\n", {NULL}, "inputs.syslog.udp_rcvbuf: 'lots'"},
    {"inputs: {syslog: {udp_rcvbuf: 4GiB}}\n", {NULL}, "inputs.syslog.udp_rcvbuf: '4GiB'"},
    /* Each plugin's section: the file, the line and the key path. */
    {"inputs:\n  tail:\n    paths: 3\n", {NULL},
     "c.yaml:3: inputs.tail.paths: expected a list of paths, got a number (3)"},
    {"inputs:\n  tail:\n    paths: [/x]\n    pahts: [/y]\n", {NULL},
     "c.yaml:4: inputs.tail: unknown key 'pahts' (did you mean 'paths'?)"},
    {"inputs:\n  syslog:\n    idle_timeout: 5 minutes\n", {NULL},
     "c.yaml:3: inputs.syslog.idle_timeout: '5 minutes' is not a duration"},
    {"inputs:\n  http:\n    tokn: abcdefghijkl\n", {NULL},
     "c.yaml:3: inputs.http: unknown key 'tokn' (did you mean 'token'?)"},
    {"inputs:\n  sylog: {}\n", {NULL},
     "c.yaml:2: inputs: unknown key 'sylog' (did you mean 'syslog'?)"},
    {"pipline:\n  workers: 2\n", {NULL},
     "c.yaml:1: unknown key 'pipline' (did you mean 'pipeline'?)"},
    {"detect:\n  params:\n    max_places: many\n", {NULL},
     "c.yaml:3: detect.params.max_places: 'many' is not a positive whole number"},
    {"alerts:\n  sinks:\n    - type: stdout\n    - type: file\n      path: /x\n"
     "      token: t\n", {NULL},
     "c.yaml:4: alerts.sinks[1]: token is for a webhook sink, not file"},
    {"alerts:\n  sinks:\n    - {type: webhook, url: 'http://x/', spool_dri: /s}\n", {NULL},
     "c.yaml:3: alerts.sinks[0]: unknown key 'spool_dri' (did you mean 'spool_dir'?)"},
    {"store:\n  clickhouse:\n    timeout: never\n", {NULL},
     "c.yaml:3: store.clickhouse.timeout: 'never' is not a duration"},
    {"pipeline:\n  window: [1\n", {NULL}, "c.yaml:3:1: YAML syntax error"},
    {NULL, {"--threshold", "2", NULL}, "--threshold: value: '2' is not a number in (0, 1]"},
    {NULL, {"--alert-webhook", "127.0.0.1:9093", NULL},
     "--alert-webhook: value: '127.0.0.1:9093' is not a URL starting with http://"},
};

static void test_bad_values(void **state)
{
    struct lw_run_conf rc;
    size_t failed = 0;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        int r;

        if (b->yaml != NULL) {
            write_yaml(b->yaml);
        }
        r = parse(&rc, b->yaml != NULL, b->flag);
        if (r != 2 || strstr(err_text, b->want) == NULL) {
            print_error("case %zu: exit %d, stderr '%s', want 2 and '%s'\n", i, r, err_text,
                        b->want);
            failed++;
        }
    }
    assert_int_equal(failed, 0);
}

/*
 * Multi-line joining: auto for stdin, HTTP text and train's files by default; per input in the
 * file; the flags override every input, and a mode without a pattern drops the file's pattern.
 */
static void test_multiline(void **state)
{
    static const char *const start_flags[] = {"--multiline-regex", "^\\d{4}-",
                                              "--max-multiline-lines", "50", NULL};
    static const char *const off_flag[] = {"--multiline", "off", NULL};
    struct lw_run_conf rc;
    struct lw_input_conf ic;

    (void)state;
    assert_int_equal(parse(&rc, false, NULL), 0);
    assert_int_equal(rc.stdin_ml.mode, LW_MULTILINE_AUTO);
    assert_int_equal(rc.http_ml.mode, LW_MULTILINE_AUTO);
    assert_int_equal(rc.files_ml.mode, LW_MULTILINE_AUTO);
    lw_run_conf_fini(&rc);

    write_yaml("inputs:\n"
               "  stdin: {multiline: start, multiline_regex: '^\\[', max_multiline_lines: 9}\n"
               "  http: {multiline: 'off'}\n");
    assert_int_equal(parse(&rc, true, NULL), 0);
    lw_run_conf_inputs(&rc, &ic);
    assert_int_equal(ic.in_stdin.multiline.mode, LW_MULTILINE_START);
    assert_string_equal(ic.in_stdin.multiline.regex, "^\\[");
    assert_int_equal(ic.in_stdin.multiline.max_lines, 9);
    assert_int_equal(ic.http.multiline.mode, LW_MULTILINE_OFF);
    assert_null(ic.http.multiline.regex);
    assert_int_equal(rc.files_ml.mode, LW_MULTILINE_AUTO);
    lw_run_conf_fini(&rc);

    /* A pattern alone means mode regex, except where the mode is start. */
    assert_int_equal(parse(&rc, true, start_flags), 0);
    assert_int_equal(rc.stdin_ml.mode, LW_MULTILINE_START);
    assert_string_equal(rc.stdin_ml.regex, "^\\d{4}-");
    assert_int_equal(rc.stdin_ml.max_lines, 50);
    assert_int_equal(rc.http_ml.mode, LW_MULTILINE_REGEX);
    assert_int_equal(rc.files_ml.mode, LW_MULTILINE_REGEX);
    assert_string_equal(rc.files_ml.regex, "^\\d{4}-");
    lw_run_conf_fini(&rc);

    assert_int_equal(parse(&rc, true, off_flag), 0);
    assert_int_equal(rc.stdin_ml.mode, LW_MULTILINE_OFF);
    assert_null(rc.stdin_ml.regex);
    assert_int_equal(rc.files_ml.mode, LW_MULTILINE_OFF);
    lw_run_conf_fini(&rc);
}

/*
 * The tail's and syslog's keys: joining (auto by default, per input in the file, the flags
 * override it as they override every input), rotated siblings, gzip, rotate wait, and the
 * syslog UDP receive buffer, down to the inputs' configuration sections.
 */
static void test_tail_syslog_keys(void **state)
{
    static const char *const off_flag[] = {"--multiline", "off", NULL};
    struct lw_run_conf rc;
    struct lw_input_conf ic;

    (void)state;
    assert_int_equal(parse(&rc, false, NULL), 0);
    lw_run_conf_inputs(&rc, &ic);
    assert_int_equal(ic.tail.multiline.mode, LW_MULTILINE_AUTO);
    assert_null(ic.tail.rotate_patterns);
    assert_false(ic.tail.skip_gzip);
    assert_int_equal(ic.tail.rotate_wait_ms, 0);
    assert_int_equal(ic.syslog.udp_rcvbuf_bytes, 0);
    lw_run_conf_fini(&rc);

    write_yaml("inputs:\n"
               "  tail:\n"
               "    paths: ['/var/log/*.log']\n"
               "    multiline: start\n"
               "    multiline_regex: '^\\d{4}-'\n"
               "    max_multiline_lines: 40\n"
               "    rotate_patterns: ['.[0-9]*', '.old']\n"
               "    skip_gzip: true\n"
               "    rotate_wait: 2s\n"
               "  syslog: {udp_rcvbuf: 2MiB}\n");
    assert_int_equal(parse(&rc, true, NULL), 0);
    lw_run_conf_inputs(&rc, &ic);
    assert_int_equal(ic.tail.multiline.mode, LW_MULTILINE_START);
    assert_string_equal(ic.tail.multiline.regex, "^\\d{4}-");
    assert_int_equal(ic.tail.multiline.max_lines, 40);
    assert_int_equal(ic.tail.n_rotate_patterns, 2);
    assert_string_equal(ic.tail.rotate_patterns[0], ".[0-9]*");
    assert_string_equal(ic.tail.rotate_patterns[1], ".old");
    assert_true(ic.tail.skip_gzip);
    assert_int_equal(ic.tail.rotate_wait_ms, 2000);
    assert_int_equal(ic.syslog.udp_rcvbuf_bytes, 2u << 20);
    assert_int_equal(ic.in_stdin.multiline.mode, LW_MULTILINE_AUTO);
    lw_run_conf_fini(&rc);

    /* The flags override the tail too; an empty list keeps the default suffixes. */
    write_yaml("inputs: {tail: {multiline: auto, rotate_patterns: []}}\n");
    assert_int_equal(parse(&rc, true, off_flag), 0);
    lw_run_conf_inputs(&rc, &ic);
    assert_int_equal(ic.tail.multiline.mode, LW_MULTILINE_OFF);
    assert_null(ic.tail.rotate_patterns);
    lw_run_conf_fini(&rc);
}

static bool have_input(const char *name)
{
    size_t i;

    for (i = 0; lw_input_plugins[i] != NULL; i++) {
        if (strcmp(lw_input_plugins[i]->name, name) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * inputs.kafka and inputs.http are read by their plugins (plugins/in_kafka/kafka_conf.c,
 * plugins/in_http/http_conf.c); the values land where the daemon and the flags expect them.
 */
static void test_kafka_http_keys(void **state)
{
    static const char *const flags[] = {"--kafka", "h:9092/more", "--http", "127.0.0.1:9", NULL};
    struct lw_run_conf rc;
    struct lw_input_conf ic;

    (void)state;
    write_yaml("inputs:\n"
               "  http:\n"
               "    listen: 127.0.0.1:8181\n"
               "    token: abcdefghijkl\n"
               "    max_body: 1MiB\n"
               "    max_connections: 99\n"
               "    idle_timeout: 7s\n"
               "  kafka:\n"
               "    brokers: h:9092\n"
               "    topics: [app-logs, other.topic]\n"
               "    group: g1\n"
               "    format: json\n"
               "    key_as_host: yes\n"
               "    max_poll_records: 100\n"
               "    max_buffered: 4MiB\n"
               "    offset_reset: latest\n"
               "    revoke_wait: 3s\n"
               "    properties: ['fetch.wait.max.ms=50']\n");
    if (!have_input("kafka")) {
        skip();
    }
    assert_int_equal(parse(&rc, true, NULL), 0);
    lw_run_conf_inputs(&rc, &ic);
    assert_string_equal(ic.http.addr, "127.0.0.1:8181");
    assert_string_equal(rc.http_token, "abcdefghijkl");
    assert_int_equal(rc.http_max_body, 1u << 20);
    assert_int_equal(rc.http_max_connections, 99);
    assert_int_equal(rc.http_idle_timeout_s, 7);
    assert_string_equal(ic.kafka.brokers, "h:9092");
    assert_int_equal(ic.kafka.n_topics, 2);
    assert_string_equal(ic.kafka.topics[1], "other.topic");
    assert_string_equal(ic.kafka.group, "g1");
    assert_true(ic.kafka.json);
    assert_true(ic.kafka.key_as_host);
    assert_int_equal(ic.kafka.max_poll_records, 100);
    assert_int_equal(ic.kafka.max_buffered_bytes, 4u << 20);
    assert_string_equal(ic.kafka.offset_reset, "latest");
    assert_int_equal(ic.kafka.revoke_wait_ms, 3000);
    assert_int_equal(ic.kafka.n_properties, 1);
    assert_string_equal(ic.kafka.properties[0], "fetch.wait.max.ms=50");
    lw_run_conf_fini(&rc);

    /* The flags still win: --kafka on the same brokers adds a topic, --http moves the server. */
    assert_int_equal(parse(&rc, true, flags), 0);
    assert_int_equal(rc.n_kafka_topics, 3);
    assert_string_equal(rc.kafka_topics[2], "more");
    assert_string_equal(rc.http_addr, "127.0.0.1:9");
    lw_run_conf_fini(&rc);

    write_yaml("inputs:\n  kafka:\n    brokers: h:9092\n    topics: [ok, 'bad topic']\n");
    assert_int_equal(parse(&rc, true, NULL), 2);
    assert_non_null(strstr(err_text, "c.yaml:4: inputs.kafka.topics[1]: 'bad topic' is not a "
                                     "Kafka topic name"));
    write_yaml("inputs:\n  kafka:\n    enabled: false\n    topics: 3\n");
    assert_int_equal(parse(&rc, true, NULL), 0); /* off: the other keys are not read */
    assert_int_equal(rc.n_kafka_topics, 0);
    lw_run_conf_fini(&rc);
}

/* lw_run_conf_fini() frees the strings of detect: and alerts: and leaves zeros (ASan checks). */
static void test_fini(void **state)
{
    struct lw_run_conf rc;

    (void)state;
    write_yaml("detect:\n  session: {key: 'a(\\d+)'}\nalerts: {rate_per_min: 0}\n");
    assert_int_equal(parse(&rc, true, NULL), 0);
    assert_string_equal(rc.detect.session.key_pattern, "a(\\d+)");
    assert_true(rc.alerts.rate_per_min == 0); /* 0: no rate limit */
    lw_run_conf_fini(&rc);
    assert_null(rc.detect.session.key_pattern);
    assert_int_equal(rc.alerts.n_sinks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_volume_window),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_multiline),
        cmocka_unit_test(test_tail_syslog_keys),
        cmocka_unit_test(test_kafka_http_keys),
        cmocka_unit_test(test_fini),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
