/*
 * Unit tests for header parsing (lw_header.h) and levels (lw_level.h): each Loghub format on a
 * real line of its system, the fast matcher against PCRE2 on every line of the Loghub 2k sets
 * (when /work/shared/data/loghub-2k or $LW_LOGHUB_DIR is there), each automatic layout, level
 * words, non-matching lines and binary garbage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lw/lw_err.h"
#include "lw/lw_header.h"
#include "lw/lw_level.h"

#define S INT64_C(1000000000)

static void assert_span(struct lw_span sp, const char *want)
{
    size_t n = strlen(want);

    if (sp.len != n || memcmp(sp.p, want, n) != 0) {
        fail_msg("span \"%.*s\" != \"%s\"", (int)sp.len, sp.p, want);
    }
}

struct fixture {
    struct lw_header *h;
    struct lw_header_state *st;
    struct lw_header_result r;
};

static void fx_open(struct fixture *fx, const char *format)
{
    char err[256];

    fx->h = lw_header_create(format, err, sizeof(err));
    if (fx->h == NULL) {
        fail_msg("lw_header_create(%s): %s", format, err);
    }
    lw_header_set_ref_year(fx->h, 2024);
    fx->st = lw_header_state_create(fx->h);
    assert_non_null(fx->st);
}

static void fx_parse(struct fixture *fx, const char *line)
{
    assert_int_equal(lw_header_parse(fx->h, fx->st, line, strlen(line), &fx->r), LW_OK);
}

static void fx_close(struct fixture *fx)
{
    lw_header_state_destroy(fx->st);
    lw_header_destroy(fx->h);
}

/* Parses @line with the fast path on and off and checks both give the same split. */
static void parse_both(struct fixture *fx, const char *line)
{
    struct lw_header_result fast;
    size_t i;

    lw_header_set_fast_path(fx->h, 1);
    fx_parse(fx, line);
    fast = fx->r;
    lw_header_set_fast_path(fx->h, 0);
    fx_parse(fx, line);
    lw_header_set_fast_path(fx->h, 1);
    assert_int_equal(fast.matched, fx->r.matched);
    assert_int_equal(fast.n_fields, fx->r.n_fields);
    for (i = 0; i < fast.n_fields; i++) {
        assert_true(fast.fields[i].p == fx->r.fields[i].p);
        assert_int_equal(fast.fields[i].len, fx->r.fields[i].len);
    }
    assert_true(fast.ts_ns == fx->r.ts_ns);
}

static void test_hdfs(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, "<Date> <Time> <Pid> <Level> <Component>: <Content>");
    assert_int_equal(lw_header_n_fields(fx.h), 6);
    assert_string_equal(lw_header_field_name(fx.h, 3), "Level");
    parse_both(&fx, "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for "
                    "block blk_38865049064139660 terminating");
    assert_int_equal(fx.r.matched, 1);
    assert_string_equal(fx.r.layout, "format");
    assert_span(fx.r.msg, "PacketResponder 1 for block blk_38865049064139660 terminating");
    assert_span(fx.r.fields[2], "148");
    assert_span(fx.r.component, "dfs.DataNode$PacketResponder");
    assert_int_equal(fx.r.level, LW_LEVEL_INFO);
    assert_true(fx.r.ts_ns == 1226262975 * S);
    fx_close(&fx);
}

static void test_bgl(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> "
                 "<Level> <Content>");
    parse_both(&fx, "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 "
                    "R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected");
    assert_int_equal(fx.r.matched, 1);
    assert_span(fx.r.msg, "instruction cache parity error corrected");
    assert_span(fx.r.host, "R02-M1-N0-C:J12-U11");
    assert_span(fx.r.component, "KERNEL");
    assert_span(fx.r.fields[0], "-");
    assert_span(fx.r.fields[6], "RAS");
    assert_int_equal(fx.r.level, LW_LEVEL_INFO);
    assert_true(fx.r.ts_ns == 1117838570 * S);
    fx_close(&fx);
}

static void test_apache(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, "\\[<Time>\\] \\[<Level>\\] <Content>");
    parse_both(&fx, "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6");
    assert_int_equal(fx.r.matched, 1);
    assert_span(fx.r.fields[0], "Sun Dec 04 04:47:44 2005");
    assert_span(fx.r.msg, "mod_jk child workerEnv in error state 6");
    assert_int_equal(fx.r.level, LW_LEVEL_ERROR);
    assert_true(fx.r.ts_ns == 1133671664 * S);
    parse_both(&fx, "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok "
                    "/etc/httpd/conf/workers2.properties");
    assert_int_equal(fx.r.level, LW_LEVEL_NOTICE);
    fx_close(&fx);
}

static void test_linux(void **state)
{
    struct fixture fx;

    (void)state;
    /* Regex syntax "(...)?" in the literal text: PCRE2 only. */
    fx_open(&fx, "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>");
    lw_header_set_ref_year(fx.h, 2005);
    parse_both(&fx, "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; "
                    "logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4 ");
    assert_int_equal(fx.r.matched, 1);
    assert_span(fx.r.fields[3], "combo");
    assert_span(fx.r.component, "sshd(pam_unix)");
    assert_span(fx.r.fields[5], "19939");
    assert_span(fx.r.msg, "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= "
                          "rhost=218.188.2.4 ");
    assert_int_equal(fx.r.level, LW_LEVEL_UNKNOWN); /* "Level" is really the host here */
    assert_true(fx.r.ts_ns == 1118762161 * S);
    /* Without the optional pid. */
    parse_both(&fx, "Jun 15 04:06:18 combo su(pam_unix)[21416]: session opened for user cyrus");
    parse_both(&fx, "Jun 19 04:08:57 combo kernel: Linux version 2.6.5-1.358");
    assert_int_equal(fx.r.matched, 1);
    assert_span(fx.r.component, "kernel");
    assert_int_equal(fx.r.fields[5].len, 0);
    assert_span(fx.r.msg, "Linux version 2.6.5-1.358");
    fx_close(&fx);
}

static void test_openssh(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, "<Date> <Day> <Time> <Component> sshd\\[<Pid>\\]: <Content>");
    parse_both(&fx, "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from "
                    "173.234.31.186");
    assert_int_equal(fx.r.matched, 1);
    assert_span(fx.r.component, "LabSZ");
    assert_span(fx.r.fields[4], "24200");
    assert_span(fx.r.msg, "Invalid user webmaster from 173.234.31.186");
    assert_true(fx.r.ts_ns == 1733813746 * S); /* reference year 2024 */
    fx_close(&fx);
}

static void test_spark(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, "<Date> <Time> <Level> <Component>: <Content>");
    parse_both(&fx, "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered "
                    "signal handlers for [TERM, HUP, INT]");
    assert_int_equal(fx.r.matched, 1);
    assert_span(fx.r.component, "executor.CoarseGrainedExecutorBackend");
    assert_span(fx.r.msg, "Registered signal handlers for [TERM, HUP, INT]");
    assert_int_equal(fx.r.level, LW_LEVEL_INFO);
    assert_true(fx.r.ts_ns == 1497039040 * S);
    fx_close(&fx);
}

static void test_hpc(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>");
    parse_both(&fx, "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component "
                    "State Change: Component \\042alt0\\042 is in the unavailable state "
                    "(HWID=1973)");
    assert_int_equal(fx.r.matched, 1);
    assert_span(fx.r.host, "node-246");
    assert_span(fx.r.component, "unix.hw");
    assert_span(fx.r.fields[3], "state_change.unavailable");
    assert_span(fx.r.msg, "Component State Change: Component \\042alt0\\042 is in the "
                          "unavailable state (HWID=1973)");
    assert_true(fx.r.ts_ns == 1077804742 * S);
    fx_close(&fx);
}

static void test_format_nomatch(void **state)
{
    struct fixture fx;
    const char *line = "this line has no header at all";

    (void)state;
    fx_open(&fx, "<Date> <Time> <Pid> <Level> <Component>: <Content>");
    parse_both(&fx, line);
    assert_int_equal(fx.r.matched, 0);
    assert_true(fx.r.msg.p == line);
    assert_int_equal(fx.r.msg.len, strlen(line));
    assert_true(fx.r.ts_ns == LW_TS_UNKNOWN);
    parse_both(&fx, "");
    assert_int_equal(fx.r.matched, 0);
    /* Fast path fails on the first candidate, PCRE2 finds the later one: both agree. */
    fx_close(&fx);
    fx_open(&fx, "<A>: <B>: end");
    parse_both(&fx, "x: y: z: end");
    assert_int_equal(fx.r.matched, 1);
    assert_span(fx.r.fields[0], "x");
    assert_span(fx.r.fields[1], "y: z");
    fx_close(&fx);
}

static void test_bad_format(void **state)
{
    char err[128];

    (void)state;
    assert_null(lw_header_create("no fields here", err, sizeof(err)));
    assert_true(strlen(err) > 0);
    assert_null(lw_header_create("<A> (unbalanced", err, sizeof(err)));
    assert_non_null(strstr(err, "bad format"));
}

/* Every line of the Loghub 2k sets: fast and PCRE2 agree, and every line matches. */
static void test_loghub_all_lines(void **state)
{
    static const char *const sets[][2] = {
        {"HDFS", "<Date> <Time> <Pid> <Level> <Component>: <Content>"},
        {"BGL", "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> "
                "<Level> <Content>"},
        {"Apache", "\\[<Time>\\] \\[<Level>\\] <Content>"},
        {"OpenSSH", "<Date> <Day> <Time> <Component> sshd\\[<Pid>\\]: <Content>"},
        {"Spark", "<Date> <Time> <Level> <Component>: <Content>"},
        {"HPC", "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>"},
        {"Linux", "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>"},
    };
    const char *dir = getenv("LW_LOGHUB_DIR");
    size_t i;

    (void)state;
    if (dir == NULL) {
        dir = "/work/shared/data/loghub-2k";
    }
    for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
        char path[512];
        char line[8192];
        struct fixture fx;
        FILE *f;
        size_t n_lines = 0;
        size_t n_matched = 0;

        snprintf(path, sizeof(path), "%s/%s/%s_2k.log", dir, sets[i][0], sets[i][0]);
        f = fopen(path, "r");
        if (f == NULL) {
            continue; /* data not available here: the per-format tests still run */
        }
        fx_open(&fx, sets[i][1]);
        while (fgets(line, sizeof(line), f) != NULL) {
            size_t len = strlen(line);

            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
                line[--len] = '\0';
            }
            parse_both(&fx, line);
            n_lines++;
            n_matched += (size_t)fx.r.matched;
            if (fx.r.matched) {
                assert_true(fx.r.ts_ns != LW_TS_UNKNOWN);
            }
        }
        fclose(f);
        fx_close(&fx);
        assert_int_equal(n_lines, 2000);
        if (n_matched != n_lines) {
            fail_msg("%s: %zu of %zu lines matched", sets[i][0], n_matched, n_lines);
        }
    }
}

static void test_auto_json(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, NULL);
    fx_parse(&fx, "{\"time\":\"2024-05-01T12:00:00Z\",\"level\":\"warn\",\"msg\":\"disk \\\"sda\\\""
                  " almost full\\n\",\"host\":\"web1\",\"logger\":\"disk\"}");
    assert_int_equal(fx.r.matched, 1);
    assert_string_equal(fx.r.layout, "json");
    assert_span(fx.r.msg, "disk \"sda\" almost full\n");
    assert_int_equal(fx.r.level, LW_LEVEL_WARN);
    assert_true(fx.r.ts_ns == 1714564800 * S);
    assert_span(fx.r.host, "web1");
    assert_span(fx.r.component, "disk");
    fx_parse(&fx, "{\"ts\":1714564800123,\"level\":30,\"message\":\"ok\"}");
    assert_true(fx.r.ts_ns == 1714564800123 * INT64_C(1000000));
    assert_int_equal(fx.r.level, LW_LEVEL_INFO);
    assert_span(fx.r.msg, "ok");
    fx_parse(&fx, "{\"@timestamp\":1714564800.5,\"log.level\":\"ERROR\",\"@message\":\"x\"}");
    assert_true(fx.r.ts_ns == 1714564800 * S + 500000000);
    assert_int_equal(fx.r.level, LW_LEVEL_ERROR);
    fx_parse(&fx, "{\"broken\": ");
    assert_int_equal(fx.r.matched, 0);
    assert_string_equal(fx.r.layout, "none");
    fx_close(&fx);
}

static void test_auto_json_huge(void **state)
{
    struct fixture fx;
    size_t n = 200 * 1024;
    char *line = malloc(n + 32);
    size_t i;

    (void)state;
    assert_non_null(line);
    memcpy(line, "{\"msg\":\"", 8);
    for (i = 8; i < n; i++) {
        line[i] = 'a';
    }
    memcpy(line + n, "\"}", 2);
    fx_open(&fx, NULL);
    assert_int_equal(lw_header_parse(fx.h, fx.st, line, n + 2, &fx.r), LW_OK);
    assert_int_equal(fx.r.matched, 1);
    assert_true(fx.r.msg.len >= 64 * 1024 && fx.r.msg.len < 66 * 1024);
    assert_int_equal(fx.r.msg.p[fx.r.msg.len - 1], 'a');
    fx_close(&fx);
    free(line);
}

static void test_auto_syslog(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, "auto");
    fx_parse(&fx, "<34>1 2024-05-01T12:00:00.003Z mymachine.example.com su - ID47 "
                  "[exampleSDID@32473 iut=\"3\" eventSource=\"Appl\\]ication\"] 'su root' failed");
    assert_string_equal(fx.r.layout, "rfc5424");
    assert_span(fx.r.msg, "'su root' failed");
    assert_span(fx.r.host, "mymachine.example.com");
    assert_span(fx.r.component, "su");
    assert_int_equal(fx.r.level, LW_LEVEL_FATAL); /* 34 & 7 = 2, crit */
    assert_true(fx.r.ts_ns == 1714564800 * S + 3000000);
    fx_parse(&fx, "<165>1 2024-05-01T12:00:00Z - - - - - hello");
    assert_string_equal(fx.r.layout, "rfc5424");
    assert_span(fx.r.msg, "hello");
    assert_int_equal(fx.r.host.len, 0);
    assert_int_equal(fx.r.level, LW_LEVEL_NOTICE);

    fx_parse(&fx, "<13>Oct 11 22:14:15 mymachine sshd[42]: Accepted password");
    assert_string_equal(fx.r.layout, "rfc3164");
    assert_span(fx.r.host, "mymachine");
    assert_span(fx.r.component, "sshd");
    assert_span(fx.r.msg, "Accepted password");
    assert_int_equal(fx.r.level, LW_LEVEL_NOTICE);
    fx_parse(&fx, "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown");
    assert_string_equal(fx.r.layout, "rfc3164");
    assert_span(fx.r.host, "combo");
    assert_span(fx.r.component, "sshd(pam_unix)");
    assert_span(fx.r.msg, "check pass; user unknown");
    assert_true(fx.r.ts_ns == (1718378161) * S); /* 2024-06-14 15:16:01 */
    fx_parse(&fx, "<13>just a message");
    assert_string_equal(fx.r.layout, "syslog");
    assert_span(fx.r.msg, "just a message");
    fx_close(&fx);
}

static void test_auto_iso_log4j(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, NULL);
    fx_parse(&fx, "2024-05-01T12:00:00Z WARN disk almost full");
    assert_string_equal(fx.r.layout, "iso8601");
    assert_int_equal(fx.r.level, LW_LEVEL_WARN);
    assert_span(fx.r.msg, "disk almost full");
    assert_true(fx.r.ts_ns == 1714564800 * S);
    fx_parse(&fx, "2024-05-01 12:00:00,123 INFO [main] com.x.Y - started in 3 ms");
    assert_string_equal(fx.r.layout, "log4j");
    assert_int_equal(fx.r.level, LW_LEVEL_INFO);
    assert_span(fx.r.component, "com.x.Y");
    assert_span(fx.r.msg, "started in 3 ms");
    assert_true(fx.r.ts_ns == 1714564800 * S + 123000000);
    fx_parse(&fx, "2024-05-01 12:00:00.123 [http-nio-1] ERROR o.a.Foo - boom");
    assert_string_equal(fx.r.layout, "log4j");
    assert_int_equal(fx.r.level, LW_LEVEL_ERROR);
    assert_span(fx.r.component, "o.a.Foo");
    assert_span(fx.r.msg, "boom");
    fx_parse(&fx, "081109 203615 148 INFO dfs.DataNode: x");
    assert_int_equal(fx.r.level, LW_LEVEL_INFO);
    assert_span(fx.r.component, "dfs.DataNode");
    assert_span(fx.r.msg, "x");
    assert_true(fx.r.ts_ns == 1226262975 * S);
    fx_close(&fx);
}

static void test_auto_web(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, NULL);
    fx_parse(&fx, "127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif "
                  "HTTP/1.0\" 200 2326");
    assert_string_equal(fx.r.layout, "access");
    assert_span(fx.r.msg, "\"GET /apache_pb.gif HTTP/1.0\" 200 2326");
    assert_true(fx.r.ts_ns == 971211336 * S);
    fx_parse(&fx, "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6");
    assert_string_equal(fx.r.layout, "apache_error");
    assert_int_equal(fx.r.level, LW_LEVEL_ERROR);
    assert_span(fx.r.msg, "mod_jk child workerEnv in error state 6");
    assert_true(fx.r.ts_ns == 1133671664 * S);
    fx_parse(&fx, "[Wed Oct 11 14:32:52.123 2000] [core:error] [pid 35708:tid 4328] "
                  "File does not exist");
    assert_int_equal(fx.r.level, LW_LEVEL_ERROR);
    assert_span(fx.r.msg, "File does not exist");
    fx_parse(&fx, "2024/05/01 12:00:00 [error] 123#0: *1 open() failed");
    assert_string_equal(fx.r.layout, "nginx_error");
    assert_int_equal(fx.r.level, LW_LEVEL_ERROR);
    assert_span(fx.r.msg, "*1 open() failed");
    assert_true(fx.r.ts_ns == 1714564800 * S);
    fx_close(&fx);
}

static void test_auto_logfmt_none(void **state)
{
    struct fixture fx;

    (void)state;
    fx_open(&fx, NULL);
    fx_parse(&fx, "time=2024-05-01T12:00:00Z level=error msg=\"conn \\\"db\\\" lost\" "
                  "host=web1 retries=3");
    assert_string_equal(fx.r.layout, "logfmt");
    assert_span(fx.r.msg, "conn \"db\" lost");
    assert_int_equal(fx.r.level, LW_LEVEL_ERROR);
    assert_span(fx.r.host, "web1");
    assert_true(fx.r.ts_ns == 1714564800 * S);
    fx_parse(&fx, "level=info msg=plain");
    assert_span(fx.r.msg, "plain");
    fx_parse(&fx, "a=1 b=2"); /* no msg key */
    assert_int_equal(fx.r.matched, 0);
    fx_parse(&fx, "Hello world, nothing to see");
    assert_int_equal(fx.r.matched, 0);
    assert_string_equal(fx.r.layout, "none");
    assert_span(fx.r.msg, "Hello world, nothing to see");
    fx_close(&fx);
}

static void test_levels(void **state)
{
    static const struct {
        const char *w;
        enum lw_level l;
    } cases[] = {
        {"INFO", LW_LEVEL_INFO},     {"info", LW_LEVEL_INFO},       {"I", LW_LEVEL_INFO},
        {"WARN", LW_LEVEL_WARN},     {"Warning", LW_LEVEL_WARN},    {"W", LW_LEVEL_WARN},
        {"ERROR", LW_LEVEL_ERROR},   {"err", LW_LEVEL_ERROR},       {"E", LW_LEVEL_ERROR},
        {"FATAL", LW_LEVEL_FATAL},   {"CRIT", LW_LEVEL_FATAL},      {"critical", LW_LEVEL_FATAL},
        {"EMERG", LW_LEVEL_FATAL},   {"alert", LW_LEVEL_FATAL},     {"SEVERE", LW_LEVEL_ERROR},
        {"DEBUG", LW_LEVEL_DEBUG},   {"TRACE", LW_LEVEL_TRACE},     {"NOTICE", LW_LEVEL_NOTICE},
        {"notice", LW_LEVEL_NOTICE}, {"combo", LW_LEVEL_UNKNOWN},   {"", LW_LEVEL_UNKNOWN},
        {"INFO1", LW_LEVEL_UNKNOWN}, {"informational", LW_LEVEL_INFO},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(lw_level_parse(cases[i].w, strlen(cases[i].w)), cases[i].l);
    }
    assert_int_equal(lw_level_parse("a very long word indeed", 23), LW_LEVEL_UNKNOWN);
    assert_int_equal(lw_level_from_syslog(0), LW_LEVEL_FATAL);
    assert_int_equal(lw_level_from_syslog(3), LW_LEVEL_ERROR);
    assert_int_equal(lw_level_from_syslog(4), LW_LEVEL_WARN);
    assert_int_equal(lw_level_from_syslog(5), LW_LEVEL_NOTICE);
    assert_int_equal(lw_level_from_syslog(6), LW_LEVEL_INFO);
    assert_int_equal(lw_level_from_syslog(7), LW_LEVEL_DEBUG);
    assert_int_equal(lw_level_from_syslog(8), LW_LEVEL_UNKNOWN);
    assert_string_equal(lw_level_name(LW_LEVEL_WARN), "warn");
    assert_string_equal(lw_level_name(LW_LEVEL_UNKNOWN), "");
}

/* Spans always lie inside the line or the scratch; checked for arbitrary bytes. */
static void check_spans(const struct lw_header_result *r, const char *line, size_t len)
{
    const struct lw_span *sp[3] = {&r->msg, &r->host, &r->component};
    size_t i;

    for (i = 0; i < 3; i++) {
        int in_line = sp[i]->p >= line && sp[i]->p + sp[i]->len <= line + len;

        if (!in_line && sp[i]->len > 0) {
            /* Must be scratch then: at least it must be readable; ASan checks that. */
            volatile char c = sp[i]->p[sp[i]->len - 1];

            (void)c;
        }
    }
    for (i = 0; i < r->n_fields; i++) {
        assert_true(r->fields[i].p >= line && r->fields[i].p + r->fields[i].len <= line + len);
    }
}

static void test_garbage(void **state)
{
    static const char *const formats[] = {
        NULL, "<Date> <Time> <Pid> <Level> <Component>: <Content>",
        "\\[<Time>\\] \\[<Level>\\] <Content>",
        "<Month> <Date> <Time> <Level> <Component>(\\[<PID>\\])?: <Content>"};
    static const char *const prefixes[] = {"", "{", "<13>", "<13>1 ", "[", "2024-05-01 ",
                                           "Jun 14 10:00:00 ", "a=1 msg=", "1.2.3.4 - - [",
                                           "081109 203615 "};
    size_t f;
    unsigned seed = 12345;

    (void)state;
    for (f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        struct fixture fx;
        int iter;

        fx_open(&fx, formats[f]);
        for (iter = 0; iter < 3000; iter++) {
            size_t plen;
            size_t len = (size_t)(iter % 97);
            const char *pre = prefixes[(size_t)iter % (sizeof(prefixes) / sizeof(prefixes[0]))];
            char *line;
            size_t i;

            plen = strlen(pre);
            line = malloc(plen + len + 1);
            assert_non_null(line);
            memcpy(line, pre, plen);
            for (i = 0; i < len; i++) {
                seed = seed * 1103515245u + 12345u;
                if (iter & 1) {
                    line[plen + i] = (char)((seed >> 16) & 0xff);
                }
                else {
                    line[plen + i] = " :[]-=\"{}0aZ\\\0"[(seed >> 16) % 15];
                }
            }
            assert_int_equal(lw_header_parse(fx.h, fx.st, line, plen + len, &fx.r), LW_OK);
            check_spans(&fx.r, line, plen + len);
            free(line);
        }
        fx_close(&fx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hdfs),
        cmocka_unit_test(test_bgl),
        cmocka_unit_test(test_apache),
        cmocka_unit_test(test_linux),
        cmocka_unit_test(test_openssh),
        cmocka_unit_test(test_spark),
        cmocka_unit_test(test_hpc),
        cmocka_unit_test(test_format_nomatch),
        cmocka_unit_test(test_bad_format),
        cmocka_unit_test(test_loghub_all_lines),
        cmocka_unit_test(test_auto_json),
        cmocka_unit_test(test_auto_json_huge),
        cmocka_unit_test(test_auto_syslog),
        cmocka_unit_test(test_auto_iso_log4j),
        cmocka_unit_test(test_auto_web),
        cmocka_unit_test(test_auto_logfmt_none),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_garbage),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
