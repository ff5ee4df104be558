/*
 * Unit tests for the configuration tree (src/core/lw_conf.c, lw_conf.h): the shipped example
 * loads through `logwarden run`'s parser to the values it documents; each kind of error (wrong
 * type, unknown key, bad duration, bad size, bad word, syntax error, duplicate key, alias, a
 * second document, the depth, node, map and size limits) gives a message with the file, the
 * line and the key path; typed getters read what they should and leave the output alone
 * otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/run_conf.h"
#include "lw/lw_conf.h"
#include "lw/lw_err.h"
#include "lw/lw_mem.h"
#include "lw/lw_plugin.h"

#include "oom_child.h"

#define NS 1000000000LL

static struct lw_conf *load_ok(const char *text)
{
    struct lw_conf_err err;
    struct lw_conf *c = NULL;
    int rc = lw_conf_load_buf("f.yaml", text, strlen(text), &c, &err);

    if (rc != LW_OK) {
        fail_msg("load: %d: %s", rc, err.msg);
    }
    return c;
}

/* Loads @text, expecting a load error whose message contains @want. */
static void load_bad(const char *text, size_t len, const char *want)
{
    struct lw_conf_err err;
    struct lw_conf *c = NULL;
    int rc = lw_conf_load_buf("f.yaml", text, len, &c, &err);

    if (rc >= 0 || c != NULL || strstr(err.msg, want) == NULL) {
        fail_msg("load of '%.60s': rc %d, '%s', want '%s'", text, rc, err.msg, want);
    }
}

static void expect_msg(const struct lw_conf_err *err, const char *want)
{
    if (strcmp(err->msg, want) != 0) {
        fail_msg("message '%s', want '%s'", err->msg, want);
    }
}

/*
 * examples/logwarden.yaml, as shipped, through the daemon's parser: a sample of values from
 * every kind of section (global, pipeline, store, each input, detectors, alerts).
 */
static void test_example_file(void **state)
{
    const char *data = getenv("LW_TEST_DATA");
    char path[1024];
    char *argv[6];
    struct lw_run_conf rc;

    (void)state;
    assert_non_null(data);
    snprintf(path, sizeof(path), "%s/../../examples/logwarden.yaml", data);
    argv[0] = "run";
    argv[1] = "--config";
    argv[2] = path;
    argv[3] = NULL;
    assert_int_equal(lw_run_conf_parse(3, argv, &rc), 0);
    assert_string_equal(rc.data_dir, "./logwarden-data");
    assert_null(rc.format);
    assert_int_equal(rc.max_line_bytes, 65536);
    assert_int_equal(rc.workers, 2);
    assert_int_equal(rc.memory_limit, (size_t)256 << 20);
    assert_int_equal(rc.window_ns, 10 * NS);
    assert_int_equal(rc.lateness_ns, 30 * NS);
    assert_int_equal(rc.flush_ns, 200000000LL);
    assert_int_equal(rc.max_templates, 100000);
    assert_int_equal(rc.retention_s, 7 * 86400);
    assert_int_equal(rc.n_tail, 1);
    assert_string_equal(rc.tail[0], "/var/log/app/*.log");
    assert_false(rc.tail_from_end);
    assert_int_equal(rc.tail_poll_ms, 250);
    assert_string_equal(rc.syslog_addr, "127.0.0.1:5514");
    assert_true(rc.syslog_udp && rc.syslog_tcp);
    assert_int_equal(rc.syslog_max_connections, 10000);
    assert_int_equal(rc.syslog_idle_timeout_s, 300);
    assert_string_equal(rc.http_addr, "127.0.0.1:8080");
    assert_int_equal(rc.http_max_body, (size_t)16 << 20);
    assert_false(rc.use_stdin);
    assert_true(rc.detect_enabled);
    assert_true(rc.detect.threshold > 0.9989 && rc.detect.threshold < 0.9991);
    assert_int_equal(rc.detect.new_template.warmup_lines, 20000);
    assert_int_equal(rc.detect.new_template.warmup_ns, 60 * NS);
    assert_int_equal(rc.detect.volume.warmup_windows, 30);
    assert_int_equal(rc.detect.volume.window_ns, 10 * NS); /* follows the pipeline window */
    assert_string_equal(rc.detect.session.key_pattern, "blk_-?\\d+");
    assert_int_equal(rc.detect.session.n_terminal, 0);
    assert_int_equal(rc.detect.session.max_events, 512);
    assert_int_equal(rc.detect.sequence.history, 3);
    assert_int_equal(rc.detect.sequence.top, 16);
    assert_true(rc.detect.session_counts.support > 0.9979 &&
                rc.detect.session_counts.support < 0.9981);
    assert_false(rc.detect.session_counts.pca_alert);
    assert_int_equal(rc.detect.params.max_values, 32);
    assert_int_equal(rc.alerts.cooldown_ns, 300 * NS);
    assert_int_equal(rc.alerts.burst, 20);
    assert_int_equal(rc.alerts.n_sinks, 1);
    assert_int_equal(rc.alerts.sinks[0].kind, LW_SINK_STDOUT);
    lw_run_conf_fini(&rc);
}

/* The tree: maps, lists and scalars with their lines, columns and paths. */
static void test_tree(void **state)
{
    static const char text[] = "# a comment\n"
                               "inputs:\n"
                               "  tail:\n"
                               "    paths:\n"
                               "      - /a\n"
                               "      - '/b c'\n"
                               "alerts: {sinks: [{type: stdout}, {type: file, path: x}]}\n"
                               "empty:\n";
    struct lw_conf *c = load_ok(text);
    const struct lw_conf_node *root = lw_conf_root(c);
    const struct lw_conf_node *paths;
    const struct lw_conf_node *sink;

    (void)state;
    assert_int_equal(root->type, LW_CONF_MAP);
    assert_int_equal(root->n_children, 3);
    paths = lw_conf_get(lw_conf_get(lw_conf_get(root, "inputs"), "tail"), "paths");
    assert_non_null(paths);
    assert_int_equal(paths->type, LW_CONF_SEQ);
    assert_int_equal(paths->line, 4);
    assert_string_equal(paths->path, "inputs.tail.paths");
    assert_int_equal(paths->n_children, 2);
    assert_string_equal(paths->child->value, "/a");
    assert_true(paths->child->plain);
    assert_int_equal(paths->child->line, 5);
    assert_string_equal(paths->child->next->value, "/b c");
    assert_false(paths->child->next->plain);
    assert_string_equal(paths->child->next->path, "inputs.tail.paths[1]");
    sink = lw_conf_get(root, "alerts")->child->child->next;
    assert_string_equal(sink->path, "alerts.sinks[1]");
    assert_int_equal(sink->line, 7);
    assert_string_equal(lw_conf_get(sink, "path")->path, "alerts.sinks[1].path");
    assert_true(lw_conf_is_null(lw_conf_get(root, "empty")));
    assert_null(lw_conf_get(root, "nope"));
    assert_null(lw_conf_get(paths, "x")); /* not a map */
    lw_conf_destroy(c);

    /* A file of comments only has no root. */
    c = load_ok("# nothing here\n");
    assert_null(lw_conf_root(c));
    lw_conf_destroy(c);
    lw_conf_destroy(NULL);
}

/* Each getter: absent (0, output unchanged), read (1), and its error with file:line: path. */
static void test_getters(void **state)
{
    static const char text[] = "s:\n"
                               "  name: web\n"
                               "  on: yes\n"
                               "  off: OFF\n"
                               "  maybe: perhaps\n"
                               "  n: 42\n"
                               "  neg: -1\n"
                               "  big: 70000\n"
                               "  d: 250ms\n"
                               "  d0: 0\n"
                               "  soon: soon\n"
                               "  size: 64KiB\n"
                               "  lots: lots\n"
                               "  p: 0.5\n"
                               "  list: [a, b]\n"
                               "  nested: [a, [b]]\n"
                               "  map: {k: v}\n";
    struct lw_conf *c = load_ok(text);
    const struct lw_conf_node *s = lw_conf_get(lw_conf_root(c), "s");
    const struct lw_conf_node *node = NULL;
    const char *const *v = NULL;
    struct lw_conf_err err;
    const char *str = "unchanged";
    bool b = false;
    uint64_t u = 7;
    int64_t d = 7;
    size_t z = 7;
    size_t n = 0;
    double x = 0;

    (void)state;
    assert_int_equal(lw_conf_str(c, s, "absent", &str, &err), 0);
    assert_string_equal(str, "unchanged");
    assert_int_equal(lw_conf_str(c, s, "name", &str, &err), 1);
    assert_string_equal(str, "web");
    assert_int_equal(lw_conf_str(c, s, "list", &str, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:15: s.list: expected a single value, got a list");

    assert_int_equal(lw_conf_bool(c, s, "on", &b, &err), 1);
    assert_true(b);
    assert_int_equal(lw_conf_bool(c, s, "off", &b, &err), 1);
    assert_false(b);
    assert_int_equal(lw_conf_bool(c, s, "maybe", &b, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:5: s.maybe: 'perhaps' is not true or false");

    assert_int_equal(lw_conf_uint(c, s, "n", 1, 100, &u, &err), 1);
    assert_int_equal(u, 42);
    assert_int_equal(lw_conf_uint(c, s, "neg", 0, UINT64_MAX, &u, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:7: s.neg: '-1' is not a whole number (0 or more)");
    assert_int_equal(lw_conf_usize(c, s, "big", 1, 65536, &z, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:8: s.big: '70000' is not a whole number from 1 to 65536");
    assert_int_equal(u, 42);
    assert_int_equal(z, 7);

    assert_int_equal(lw_conf_duration(c, s, "d", 1, &d, &err), 1);
    assert_int_equal(d, 250000000LL);
    assert_int_equal(lw_conf_duration(c, s, "d0", 0, &d, &err), 1);
    assert_int_equal(d, 0);
    assert_int_equal(lw_conf_duration(c, s, "d0", 1, &d, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:10: s.d0: '0' is not a duration such as 250ms, 10s, 5m, 7d");
    assert_int_equal(lw_conf_duration(c, s, "soon", 1, &d, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:11: s.soon: 'soon' is not a duration such as 250ms, 10s, 5m, 7d");

    assert_int_equal(lw_conf_size(c, s, "size", &z, &err), 1);
    assert_int_equal(z, 65536);
    assert_int_equal(lw_conf_size(c, s, "lots", &z, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:13: s.lots: 'lots' is not a size such as 65536, 64KiB, 16MiB");

    assert_int_equal(lw_conf_number(c, s, "p", 0, true, 1, "a number in (0, 1]", &x, &err), 1);
    assert_true(x == 0.5);
    assert_int_equal(lw_conf_number(c, s, "n", 0, true, 1, "a number in (0, 1]", &x, &err),
                     LW_EINVAL);
    expect_msg(&err, "f.yaml:6: s.n: '42' is not a number in (0, 1]");

    assert_int_equal(lw_conf_strlist(c, s, "list", 4, "a list of names", &v, &n, &err), 1);
    assert_int_equal(n, 2);
    assert_string_equal(v[0], "a");
    assert_string_equal(v[1], "b");
    assert_null(v[2]);
    assert_int_equal(lw_conf_strlist(c, s, "list", 1, "a list of names", &v, &n, &err),
                     LW_EINVAL);
    expect_msg(&err, "f.yaml:15: s.list: 2 entries, at most 1");
    assert_int_equal(lw_conf_strlist(c, s, "nested", 4, "a list of names", &v, &n, &err),
                     LW_EINVAL);
    expect_msg(&err, "f.yaml:16: s.nested[1]: expected a list of names, got a list in it");
    assert_int_equal(lw_conf_list(c, s, "n", 4, "a list of paths", &node, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:6: s.n: expected a list of paths, got a number (42)");
    assert_int_equal(lw_conf_list(c, s, "on", 4, "a list of paths", &node, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:3: s.on: expected a list of paths, got a boolean (yes)");
    assert_int_equal(lw_conf_list(c, s, "name", 4, "a list of paths", &node, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:2: s.name: expected a list of paths, got a string ('web')");

    assert_int_equal(lw_conf_map(c, s, "map", &node, &err), 1);
    assert_string_equal(node->path, "s.map");
    assert_int_equal(lw_conf_map(c, s, "list", &node, &err), LW_EINVAL);
    expect_msg(&err, "f.yaml:15: s.list: expected a section of keys (key: value), got a list");
    lw_conf_destroy(c);
}

static void test_unknown_keys(void **state)
{
    static const char *const known[] = {"paths", "start_at", "poll_interval", NULL};
    static const char text[] = "inputs:\n"
                               "  tail:\n"
                               "    start_at: end\n"
                               "    pahts: [/x]\n"
                               "  other:\n"
                               "    zzz: 1\n";
    struct lw_conf *c = load_ok(text);
    const struct lw_conf_node *inputs = lw_conf_get(lw_conf_root(c), "inputs");
    struct lw_conf_err err;

    (void)state;
    assert_int_equal(lw_conf_check_keys(c, lw_conf_get(inputs, "tail"), known, &err),
                     LW_EINVAL);
    expect_msg(&err, "f.yaml:4: inputs.tail: unknown key 'pahts' (did you mean 'paths'?)");
    assert_int_equal(lw_conf_check_keys(c, lw_conf_get(inputs, "other"), known, &err),
                     LW_EINVAL);
    expect_msg(&err, "f.yaml:6: inputs.other: unknown key 'zzz'");
    assert_int_equal(lw_conf_check_keys(c, lw_conf_get(inputs, "absent"), known, &err), LW_OK);
    lw_conf_destroy(c);
}

/* Errors of the file itself, with line (and column for syntax errors). */
static void test_load_errors(void **state)
{
    char *big;
    size_t i;

    (void)state;
    load_bad("pipeline:\n  window: [1\n", 22, "f.yaml:3:1: YAML syntax error: did not find "
                                              "expected ',' or ']'");
    load_bad("a: b\n c: d\n", 11, "f.yaml:2:");
    load_bad("a: 1\nb: 2\na: 3\n", 15, "f.yaml:3:1: key 'a' appears twice (first on line 1)");
    load_bad("a: &x 1\nb: *x\n", 13, "f.yaml:2:4: b: aliases (*name) are not supported");
    load_bad("a: 1\n---\nb: 2\n", 14, "a second YAML document");
    load_bad("? [a]\n: 1\n", 10, "f.yaml:1:3: a key must be a plain word");
    load_bad("a: \"x\\0y\"\n", 10, "a value holds a NUL character");

    /* Depth: 40 nested lists. */
    big = lw_malloc(LW_CONF_MAX_FILE_BYTES + 2);
    assert_non_null(big);
    memset(big, '[', 40);
    memset(big + 40, ']', 40);
    load_bad(big, 80, "nested too deeply");
    /* Nodes: a list of more than LW_CONF_MAX_NODES items. */
    big[0] = '[';
    for (i = 0; i < LW_CONF_MAX_NODES + 1; i++) {
        big[1 + 2 * i] = '1';
        big[2 + 2 * i] = ',';
    }
    big[2 * i] = ']';
    load_bad(big, 2 * i + 1, "too many values in one file");
    /* Keys of one map. */
    {
        size_t len = 0;

        for (i = 0; i < LW_CONF_MAX_MAP_KEYS + 1; i++) {
            len += (size_t)snprintf(big + len, 32, "k%zu: 1\n", i);
        }
        load_bad(big, len, "f.yaml:1025:1: more than 1024 keys in one map");
    }
    /* Size. */
    memset(big, ' ', LW_CONF_MAX_FILE_BYTES + 1);
    load_bad(big, LW_CONF_MAX_FILE_BYTES + 1, "a configuration file may have at most 4 MiB");
    lw_free(big);
}

static void test_load_file(void **state)
{
    char path[] = "/tmp/lw-conf-XXXXXX";
    struct lw_conf_err err;
    struct lw_conf *c = NULL;
    int fd;

    (void)state;
    assert_int_equal(lw_conf_load_file("/nonexistent/x.yaml", &c, &err), LW_ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/x.yaml: cannot open"));
    assert_true(lw_conf_load_file("/tmp", &c, &err) < 0);
    assert_non_null(strstr(err.msg, "is a directory"));
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x:\n  - 1\n  - oops: [\n", 21), 21);
    close(fd);
    assert_int_equal(lw_conf_load_file(path, &c, &err), LW_EINVAL);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "YAML syntax error"));
    unlink(path);

    /* A pipe, as with --config <(generate-config): read to its end, then parsed. */
    {
        char dev[64];
        int p[2];

        assert_int_equal(pipe(p), 0);
        assert_int_equal(write(p[1], "pipeline:\n  workers: 3\n", 23), 23);
        close(p[1]);
        snprintf(dev, sizeof(dev), "/dev/fd/%d", p[0]);
        assert_int_equal(lw_conf_load_file(dev, &c, &err), LW_OK);
        assert_string_equal(
            lw_conf_get(lw_conf_get(lw_conf_root(c), "pipeline"), "workers")->value, "3");
        lw_conf_destroy(c);
        close(p[0]);
    }
}

/*
 * The child of test_oom: loads the example through the daemon's parser with the nth allocation
 * failing (LW_TEST_ALLOC_FAIL_AT, read once per process, hence one process per n). Exits 0 when
 * it loaded, 2 when it refused cleanly; a crash, or a leak that LeakSanitizer reports at exit,
 * is any other status. The parent goes on until 10 loads in a row show n is past the end.
 */
static int oom_child(const char *example)
{
    char *argv[] = {"run", "--config", (char *)example, NULL};
    struct lw_run_conf rc;
    int r = lw_run_conf_parse(3, argv, &rc);

    if (r == 0) {
        lw_run_conf_fini(&rc);
    }
    return r;
}

/* Every allocation of loading the example fails in turn: each refusal is clean (sqlite fault). */
static void test_oom(void **state)
{
    const char *data = getenv("LW_TEST_DATA");
    char example[1024];
    int loaded_in_a_row = 0;
    int refused = 0;
    int n;

    (void)state;
    assert_non_null(data);
    snprintf(example, sizeof(example), "%s/../../examples/logwarden.yaml", data);
    for (n = 1; n < 5000; n++) {
        pid_t pid = oom_spawn("test_conf", "--oom-child", example, n, -1);
        int st = 0;

        assert_true(pid >= 0);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != 2)) {
            fail_msg("allocation %d failing: status 0x%x", n, st);
        }
        if (WEXITSTATUS(st) == 2) {
            refused++;
            loaded_in_a_row = 0;
        }
        else if (++loaded_in_a_row == 10) {
            break; /* far past the last allocation (a few failures are absorbed: a default
                    * string the file then replaces) */
        }
    }
    assert_true(n < 5000);
    assert_true(refused >= 5);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_file), cmocka_unit_test(test_tree),
        cmocka_unit_test(test_getters),      cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_load_errors),  cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_oom),
    };

    if (argc == 3 && strcmp(argv[1], "--oom-child") == 0) {
        return oom_child(argv[2]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
