/*
 * logwarden demo: writes a realistic, seeded demo log of several systems with injected anomalies
 * (the simulator lives in demo_gen.c). This file parses the options, owns the output and truth
 * files, and paces the output when --rate asks for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/demo.h"

#define DEMO_OUT_BUF_BYTES (1024u * 1024u)

/* The output's stdio buffer. Static rather than heap: stdout outlives this command. */
static char demo_obuf[DEMO_OUT_BUF_BYTES];

static void usage(FILE *f)
{
    fprintf(f,
            "usage: logwarden demo [options]\n"
            "\n"
            "Writes a realistic demo log: an HDFS-like cluster with per-block sessions, an sshd\n"
            "auth log, a web/API server, a JSON-lines microservice, a kernel/syslog stream and a\n"
            "heartbeat per host, interleaved by time. Output is deterministic for a given seed.\n"
            "\n"
            "options:\n"
            "  --lines N          lines to write, exactly (default 100000)\n"
            "  --seed N           random seed (default 1)\n"
            "  --out FILE         write the log to FILE (default: standard output)\n"
            "  --start EPOCH_S    simulated start time, Unix seconds (default 1767225600,\n"
            "                     2026-01-01T00:00:00Z)\n"
            "  --rate N           lines per wall-clock second, 0 = as fast as possible (default 0)\n"
            "  --heartbeat S      heartbeat interval per host, seconds (default 10)\n"
            "  --anomalies on|off inject anomalies (default on): never-seen error templates,\n"
            "                     ssh failed-password bursts, silent heartbeats, broken block\n"
            "                     sessions, latency outliers; each at least once per 50000 lines\n"
            "  --truth FILE       write one line per injected anomaly: LINE<TAB>KIND<TAB>key=KEY\n"
            "                     description (LINE is the 1-based line that shows it)\n"
            "  -h, --help         show this help\n");
}

/* Parses a decimal unsigned integer; returns 0 or -1. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (s == NULL || *s == '\0' || *s == '-' || *s == '+') {
        return -1;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0') {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static int bad_value(const char *opt, const char *val)
{
    fprintf(stderr, "logwarden demo: invalid value '%s' for %s (see --help)\n",
            val != NULL ? val : "", opt);
    return 2;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts;

    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static volatile sig_atomic_t demo_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    demo_stop = 1;
}

int lw_cmd_demo(int argc, char **argv)
{
    struct lw_demo_conf conf;
    const char *out_path = NULL;
    const char *truth_path = NULL;
    struct lw_demo *d = NULL;
    FILE *out = stdout;
    FILE *tf = NULL;
    const char *opt;
    const char *val;
    const char *eq;
    char name[32];
    uint64_t v, chunk;
    double t0 = 0.0, ahead;
    int rc = 1;
    int i;

    memset(&conf, 0, sizeof(conf));
    conf.seed = 1;
    conf.n_lines = 100000;
    conf.start_s = 1767225600; /* 2026-01-01T00:00:00Z */
    conf.anomalies = 1;
    conf.heartbeat_s = 10;

    for (i = 1; i < argc; i++) {
        opt = argv[i];
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(opt, "--", 2) != 0) {
            fprintf(stderr, "logwarden demo: unexpected argument '%s' (see --help)\n", opt);
            return 2;
        }
        /* Both "--opt value" and "--opt=value". */
        eq = strchr(opt, '=');
        if (eq != NULL) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - opt), opt);
            val = eq + 1;
        }
        else {
            snprintf(name, sizeof(name), "%s", opt);
            val = NULL;
        }
        if (strcmp(name, "--lines") != 0 && strcmp(name, "--seed") != 0 &&
            strcmp(name, "--out") != 0 && strcmp(name, "--start") != 0 &&
            strcmp(name, "--rate") != 0 && strcmp(name, "--heartbeat") != 0 &&
            strcmp(name, "--anomalies") != 0 && strcmp(name, "--truth") != 0) {
            fprintf(stderr, "logwarden demo: unknown option '%s' (see --help)\n", opt);
            return 2;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "logwarden demo: option '%s' needs a value (see --help)\n",
                        name);
                return 2;
            }
            val = argv[++i];
        }
        if (strcmp(name, "--lines") == 0) {
            if (parse_u64(val, &conf.n_lines) < 0) {
                return bad_value(name, val);
            }
        }
        else if (strcmp(name, "--seed") == 0) {
            if (parse_u64(val, &conf.seed) < 0) {
                return bad_value(name, val);
            }
        }
        else if (strcmp(name, "--start") == 0) {
            /* Up to year 9999, and not before 1971 so host boot times stay positive. */
            if (parse_i64(val, &conf.start_s) < 0 || conf.start_s < 31536000 ||
                conf.start_s > 253402300799LL) {
                return bad_value(name, val);
            }
        }
        else if (strcmp(name, "--rate") == 0) {
            if (parse_u64(val, &conf.rate) < 0) {
                return bad_value(name, val);
            }
        }
        else if (strcmp(name, "--heartbeat") == 0) {
            if (parse_u64(val, &v) < 0 || v == 0 || v > 86400) {
                return bad_value(name, val);
            }
            conf.heartbeat_s = (uint32_t)v;
        }
        else if (strcmp(name, "--anomalies") == 0) {
            if (strcmp(val, "on") == 0) {
                conf.anomalies = 1;
            }
            else if (strcmp(val, "off") == 0) {
                conf.anomalies = 0;
            }
            else {
                return bad_value(name, val);
            }
        }
        else if (strcmp(name, "--out") == 0) {
            out_path = val;
        }
        else {
            truth_path = val;
        }
    }

    if (out_path != NULL && strcmp(out_path, "-") != 0) {
        out = fopen(out_path, "w");
        if (out == NULL) {
            fprintf(stderr, "logwarden demo: cannot open '%s': %s\n", out_path,
                    strerror(errno));
            return 1;
        }
    }
    else {
        out_path = "<stdout>";
    }
    if (truth_path != NULL) {
        tf = fopen(truth_path, "w");
        if (tf == NULL) {
            fprintf(stderr, "logwarden demo: cannot open '%s': %s\n", truth_path,
                    strerror(errno));
            goto done;
        }
    }
    /* A big stdio buffer: a million lines should take a couple of seconds at most. */
    setvbuf(out, demo_obuf, _IOFBF, sizeof(demo_obuf));
    d = lw__demo_create(&conf, out);
    if (d == NULL) {
        fprintf(stderr, "logwarden demo: out of memory\n");
        goto done;
    }
    /* Paced output checks the clock and flushes every 1/50 s worth of lines. */
    chunk = conf.rate / 50 + 1;
    if (conf.rate > 0) {
        t0 = now_s();
    }
    /* SIGTERM or Ctrl-C ends the output where it is, and the truth so far is still written. */
    signal(SIGTERM, on_stop_signal);
    signal(SIGINT, on_stop_signal);
    while (!demo_stop && lw__demo_step(d) == 1) {
        if (conf.rate > 0 && lw__demo_lines(d) % chunk == 0) {
            fflush(out);
            ahead = t0 + (double)lw__demo_lines(d) / (double)conf.rate - now_s();
            if (ahead > 0) {
                sleep_s(ahead);
            }
        }
        if (ferror(out)) {
            break;
        }
    }
    if (fflush(out) != 0 || ferror(out)) {
        fprintf(stderr, "logwarden demo: cannot write '%s': %s\n", out_path, strerror(errno));
        goto done;
    }
    if (tf != NULL) {
        lw__demo_write_truth(d, tf);
        if (fflush(tf) != 0 || ferror(tf)) {
            fprintf(stderr, "logwarden demo: cannot write '%s': %s\n", truth_path,
                    strerror(errno));
            goto done;
        }
    }
    rc = 0;
done:
    lw__demo_destroy(d);
    if (tf != NULL && fclose(tf) != 0 && rc == 0) {
        fprintf(stderr, "logwarden demo: cannot write '%s': %s\n", truth_path, strerror(errno));
        rc = 1;
    }
    if (out != stdout && fclose(out) != 0 && rc == 0) {
        fprintf(stderr, "logwarden demo: cannot write '%s': %s\n", out_path, strerror(errno));
        rc = 1;
    }
    return rc;
}
