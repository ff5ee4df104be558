/*
 * logwarden parse: reads log files (or stdin), splits each line into header and message, mines
 * templates from the messages and writes one structured event per line, optionally followed by
 * the template table. This file handles the options, builds the header parser and the miner,
 * loads and saves the miner state, and prints the summary; the pipeline is in parse_run.c and
 * the output formats in parse_out.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/parse.h"
#include "lw/lw_err.h"
#include "lw/lw_log.h"
#include "lw/lw_mem.h"

#define PARSE_OUT_BUF_BYTES (1024u * 1024u)
#define PARSE_MAX_USER_MASKS 64
#define PARSE_MAX_THREADS 256

/* The output's stdio buffer. Static rather than heap: stdout outlives this command. */
static char parse_obuf[PARSE_OUT_BUF_BYTES];

static void usage(FILE *f)
{
    fprintf(f,
        "usage: logwarden parse [options] [FILE...]\n"
        "\n"
        "Reads log lines from FILEs (\"-\" or none: standard input; gzip is read transparently),\n"
        "splits each into header fields and message, mines message templates, and writes one\n"
        "event per input line, in input order.\n"
        "\n"
        "input:\n"
        "  --format FMT          header layout in Loghub <Field> notation, e.g.\n"
        "                        '<Date> <Time> <Level> <Component>: <Content>' (default: auto,\n"
        "                        which recognises syslog, ISO 8601, JSON, logfmt, access logs...)\n"
        "  --year Y              year for timestamps that carry none (default: this year)\n"
        "  --max-line-bytes N    longer lines are truncated and flagged (default 65536)\n"
        "  --multiline auto|off  auto: lines starting with blanks, 'at ', 'Caused by:' or '...'\n"
        "                        continue the previous line (default off: one event per line)\n"
        "  --multiline-regex RE  lines matching RE continue the previous line\n"
        "  --multiline-start RE  lines NOT matching RE continue the previous line\n"
        "\n"
        "mining:\n"
        "  --mask-off KIND[,..]  switch built-in masks off: num, hex, ipv4, ipv6, uuid, mac,\n"
        "                        path, url, email, host, duration, size, id, or all\n"
        "  --mask NAME=REGEX     a user mask (PCRE2; group 1 when present), repeatable; user\n"
        "                        masks apply before the built-in ones\n"
        "  --masks-file FILE     user masks, one 'NAME REGEX' per line (tab or space between;\n"
        "                        '#' starts a comment line)\n"
        "  --sim F               similarity threshold, 0 < F <= 1 (default: the miner's)\n"
        "  --max-templates N     template cap; the least recently used is evicted (default\n"
        "                        100000)\n"
        "  --state FILE          load the miner state from FILE before (a missing file starts\n"
        "                        empty; a corrupt one is an error) and save it atomically after,\n"
        "                        so template ids stay stable across runs\n"
        "  -j, --threads N       parse threads (default 1); output order stays input order\n"
        "\n"
        "output:\n"
        "  --output jsonl|csv|none\n"
        "                        jsonl (default): one JSON object per line with line, ts (epoch\n"
        "                        ns or null), level (or null), template_id, template (its text\n"
        "                        when the line was mined), params (array of strings), and host,\n"
        "                        component, file (with several FILEs), truncated, invalid_utf8,\n"
        "                        multiline when present. Invalid UTF-8 becomes U+FFFD.\n"
        "                        csv: RFC 4180, header line,ts,level,template_id,template,params\n"
        "                        (params as a JSON array). none: no events (for speed and\n"
        "                        --templates).\n"
        "  --templates           after the events, print the template table: id, count, first\n"
        "                        seen, last seen (ISO 8601 UTC or -), template. Its form follows\n"
        "                        --output: jsonl adds lines {\"type\":\"template\",\"id\":..,\n"
        "                        \"count\":..,\"first_seen\":..,\"last_seen\":..,\"template\":..}\n"
        "                        (events have no \"type\"); csv adds an empty line and a\n"
        "                        second table with header id,count,first_seen,last_seen,\n"
        "                        template; none prints a text table\n"
        "  --top N               with --templates: only the N most frequent, by count\n"
        "                        (implies --templates)\n"
        "\n"
        "diagnostics:\n"
        "  -q, --quiet           no summary, no progress, warnings and errors only\n"
        "  --log-level LEVEL     error, warn, info (default) or debug\n"
        "  -h, --help            show this help\n"
        "\n"
        "A summary (lines, bytes, templates, time, lines/s, MB/s, truncated, invalid and header\n"
        "mismatch counts) goes to stderr at the end, and progress every second when stderr is a\n"
        "terminal. An unreadable FILE is reported and skipped; the others are still parsed and\n"
        "the exit code is then 1.\n"
        "\n"
        "exit codes: 0 ok, 1 runtime error (unreadable input, bad state file, write error),\n"
        "2 usage error.\n"
        "\n"
        "examples:\n"
        "  logwarden parse app.log\n"
        "  logwarden parse --format '<Date> <Time> <Pid> <Level> <Component>: <Content>' \\\n"
        "      --output none --templates --top 20 -j 4 HDFS.log.gz\n"
        "  zcat old.log.gz | logwarden parse --state miner.state --output csv - > events.csv\n"
        "  logwarden parse --mask 'req=req-[0-9a-f]+' --mask-off host,path app.log\n");
}

/* The options that take a value. */
static const char *const value_opts[] = {
    "--format", "--output", "--top", "--state", "--threads", "-j", "--max-line-bytes",
    "--multiline", "--multiline-regex", "--multiline-start", "--mask-off", "--mask",
    "--masks-file", "--sim", "--max-templates", "--year", "--log-level", NULL,
};
static const char *const flag_opts[] = {"--templates", "-q", "--quiet", NULL};

static int in_list(const char *const *list, const char *s)
{
    size_t i;

    for (i = 0; list[i] != NULL; i++) {
        if (strcmp(list[i], s) == 0) {
            return 1;
        }
    }
    return 0;
}

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

static int bad_value(const char *opt, const char *val, const char *why)
{
    fprintf(stderr, "logwarden parse: invalid value '%s' for %s%s%s (see --help)\n",
            val != NULL ? val : "", opt, why ? ": " : "", why ? why : "");
    return 2;
}

/* User masks: the names and patterns live in @store (owned), @v points into it. */
struct user_masks {
    struct lw_mask_user v[PARSE_MAX_USER_MASKS];
    char *store[PARSE_MAX_USER_MASKS];
    size_t n;
};

static void user_masks_fini(struct user_masks *um)
{
    size_t i;

    for (i = 0; i < um->n; i++) {
        lw_free(um->store[i]);
    }
    um->n = 0;
}

/* Adds "NAME<sep>REGEX" where @sep is the first byte of @seps found in @spec. */
static int user_mask_add(struct user_masks *um, const char *spec, const char *seps)
{
    size_t nlen = strcspn(spec, seps);
    char *copy;
    const char *pat;

    if (spec[nlen] == '\0' || nlen == 0) {
        return LW_EINVAL;
    }
    pat = spec + nlen + 1;
    while (*pat == ' ' || *pat == '\t') {
        pat++;
    }
    if (*pat == '\0') {
        return LW_EINVAL;
    }
    if (um->n == PARSE_MAX_USER_MASKS) {
        return LW_EFULL;
    }
    copy = lw_strdup(spec);
    if (copy == NULL) {
        return LW_ENOMEM;
    }
    copy[nlen] = '\0';
    um->store[um->n] = copy;
    um->v[um->n].name = copy;
    um->v[um->n].pattern = copy + (pat - spec);
    um->n++;
    return LW_OK;
}

/* Reads --masks-file; returns 0, or 1 (runtime error, message printed) or 2 (bad line). */
static int masks_file_load(struct user_masks *um, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    unsigned lineno = 0;

    if (f == NULL) {
        fprintf(stderr, "logwarden parse: cannot open masks file '%s': %s\n", path,
                strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t n = strlen(line);
        char *p = line;
        int rc;

        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            continue;
        }
        rc = user_mask_add(um, p, " \t");
        if (rc < 0) {
            fprintf(stderr, "logwarden parse: masks file '%s' line %u: %s\n", path, lineno,
                    rc == LW_EFULL ? "too many masks" : "want 'NAME REGEX'");
            fclose(f);
            return rc == LW_ENOMEM ? 1 : 2;
        }
    }
    fclose(f);
    return 0;
}

/* Parses "--mask-off num,hex" into @disabled; returns 0 or -1. */
static int mask_off_parse(const char *val, uint32_t *disabled)
{
    char word[32];
    const char *p = val;

    if (*p == '\0') {
        return -1;
    }
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        int k;

        if (n == 0 || n >= sizeof(word)) {
            return -1;
        }
        memcpy(word, p, n);
        word[n] = '\0';
        if (strcmp(word, "all") == 0) {
            *disabled |= LW_MASK_BIT(LW_MASK_N_BUILTIN) - 1u;
        }
        else {
            k = lw_mask_kind_parse(word);
            if (k < 0 || k >= LW_MASK_N_BUILTIN) {
                return -1;
            }
            *disabled |= LW_MASK_BIT(k);
        }
        p += n;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                return -1;
            }
        }
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_summary(const struct lw_parse_stats *st, size_t n_templates, double elapsed)
{
    double e = elapsed > 1e-9 ? elapsed : 1e-9;

    fprintf(stderr,
            "parse: %" PRIu64 " lines, %" PRIu64 " bytes, %zu templates, %.3f s, %.0f lines/s, "
            "%.1f MB/s, %" PRIu64 " truncated, %" PRIu64 " invalid, %" PRIu64
            " header mismatches\n",
            st->n_lines, st->n_bytes, n_templates, elapsed, (double)st->n_lines / e,
            (double)st->n_bytes / 1e6 / e, st->n_truncated, st->n_invalid, st->n_mismatch);
}

int lw_cmd_parse(int argc, char **argv)
{
    struct lw_parse_opts o;
    struct lw_parse_ctx ctx;
    struct lw_parse_stats st;
    struct lw_miner_conf mconf;
    struct user_masks um;
    const char *format = NULL;
    const char *state_path = NULL;
    const char *masks_file = NULL;
    const char *multiline_mode = NULL;
    const char *stdin_only[] = {"-"};
    const char **files = NULL;
    struct lw_header *h = NULL;
    struct lw_miner *m = NULL;
    char err[512];
    char name[40];
    const char *opt, *val, *eq;
    uint64_t v;
    long year = 0;
    int log_level = -1;
    int end_of_opts = 0;
    double t0;
    size_t n_files = 0;
    int rc = 2;
    int i, r;

    memset(&o, 0, sizeof(o));
    memset(&mconf, 0, sizeof(mconf));
    memset(&um, 0, sizeof(um));
    o.output = LW_PARSE_OUTPUT_JSONL;
    o.n_threads = 1;
    o.rconf.max_line_bytes = 65536;
    o.rconf.multiline = LW_MULTILINE_OFF;

    files = lw_calloc((size_t)argc + 1, sizeof(*files));
    if (files == NULL) {
        fprintf(stderr, "logwarden parse: out of memory\n");
        return 1;
    }
    for (i = 1; i < argc; i++) {
        opt = argv[i];
        if (end_of_opts || opt[0] != '-' || strcmp(opt, "-") == 0) {
            files[n_files++] = opt;
            continue;
        }
        if (strcmp(opt, "--") == 0) {
            end_of_opts = 1;
            continue;
        }
        if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
            usage(stdout);
            rc = 0;
            goto out;
        }
        /* "--opt value", "--opt=value", "-j N" and "-jN". */
        val = NULL;
        eq = opt[1] == '-' ? strchr(opt, '=') : NULL;
        if (eq != NULL) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - opt), opt);
            val = eq + 1;
        }
        else if (strncmp(opt, "-j", 2) == 0 && opt[2] != '\0') {
            snprintf(name, sizeof(name), "-j");
            val = opt + 2;
        }
        else {
            snprintf(name, sizeof(name), "%s", opt);
        }
        if (in_list(flag_opts, name)) {
            if (val != NULL) {
                fprintf(stderr, "logwarden parse: option '%s' takes no value (see --help)\n",
                        name);
                goto out;
            }
            if (strcmp(name, "--templates") == 0) {
                o.templates = 1;
            }
            else {
                o.quiet = 1;
            }
            continue;
        }
        if (!in_list(value_opts, name)) {
            fprintf(stderr, "logwarden parse: unknown option '%s' (see --help)\n", opt);
            goto out;
        }
        if (val == NULL) {
            if (i + 1 >= argc) {
                fprintf(stderr, "logwarden parse: option '%s' needs a value (see --help)\n",
                        name);
                goto out;
            }
            val = argv[++i];
        }
        if (strcmp(name, "--format") == 0) {
            format = val;
        }
        else if (strcmp(name, "--output") == 0) {
            if (strcmp(val, "jsonl") == 0) {
                o.output = LW_PARSE_OUTPUT_JSONL;
            }
            else if (strcmp(val, "csv") == 0) {
                o.output = LW_PARSE_OUTPUT_CSV;
            }
            else if (strcmp(val, "none") == 0) {
                o.output = LW_PARSE_OUTPUT_NONE;
            }
            else {
                rc = bad_value(name, val, "want jsonl, csv or none");
                goto out;
            }
        }
        else if (strcmp(name, "--top") == 0) {
            if (parse_u64(val, &v) < 0 || v == 0) {
                rc = bad_value(name, val, "want a count >= 1");
                goto out;
            }
            o.top = (size_t)v;
            o.templates = 1;
        }
        else if (strcmp(name, "--state") == 0) {
            if (*val == '\0') {
                rc = bad_value(name, val, "want a file name");
                goto out;
            }
            state_path = val;
        }
        else if (strcmp(name, "--threads") == 0 || strcmp(name, "-j") == 0) {
            if (parse_u64(val, &v) < 0 || v == 0 || v > PARSE_MAX_THREADS) {
                rc = bad_value(name, val, "want 1..256");
                goto out;
            }
            o.n_threads = (unsigned)v;
        }
        else if (strcmp(name, "--max-line-bytes") == 0) {
            if (parse_u64(val, &v) < 0 || v < 16 || v > (1u << 30)) {
                rc = bad_value(name, val, "want 16..1073741824");
                goto out;
            }
            o.rconf.max_line_bytes = (size_t)v;
        }
        else if (strcmp(name, "--multiline") == 0) {
            if (strcmp(val, "auto") != 0 && strcmp(val, "off") != 0) {
                rc = bad_value(name, val, "want auto or off");
                goto out;
            }
            multiline_mode = val;
        }
        else if (strcmp(name, "--multiline-regex") == 0 ||
                 strcmp(name, "--multiline-start") == 0) {
            if (*val == '\0') {
                rc = bad_value(name, val, "want a regex");
                goto out;
            }
            o.rconf.regex = val;
            o.rconf.multiline = strcmp(name, "--multiline-regex") == 0 ? LW_MULTILINE_REGEX
                                                                       : LW_MULTILINE_START;
        }
        else if (strcmp(name, "--mask-off") == 0) {
            if (mask_off_parse(val, &mconf.masks.disabled) < 0) {
                rc = bad_value(name, val, "unknown mask kind");
                goto out;
            }
        }
        else if (strcmp(name, "--mask") == 0) {
            r = user_mask_add(&um, val, "=");
            if (r < 0) {
                rc = bad_value(name, val, r == LW_EFULL ? "too many masks" : "want NAME=REGEX");
                goto out;
            }
        }
        else if (strcmp(name, "--masks-file") == 0) {
            masks_file = val;
        }
        else if (strcmp(name, "--sim") == 0) {
            char *end;
            double d;

            errno = 0;
            d = strtod(val, &end);
            if (errno != 0 || end == val || *end != '\0' || !(d > 0.0 && d <= 1.0)) {
                rc = bad_value(name, val, "want a number in (0, 1]");
                goto out;
            }
            mconf.sim_threshold = d;
        }
        else if (strcmp(name, "--max-templates") == 0) {
            if (parse_u64(val, &v) < 0 || v == 0 || v > UINT32_MAX) {
                rc = bad_value(name, val, "want a count >= 1");
                goto out;
            }
            mconf.max_templates = (size_t)v;
        }
        else if (strcmp(name, "--year") == 0) {
            if (parse_u64(val, &v) < 0 || v < 1678 || v > 2261) {
                rc = bad_value(name, val, "want a year 1678..2261");
                goto out;
            }
            year = (long)v;
        }
        else if (strcmp(name, "--log-level") == 0) {
            log_level = lw_log_level_parse(val);
            if (log_level < 0) {
                rc = bad_value(name, val, "want error, warn, info or debug");
                goto out;
            }
        }
    }
    if (multiline_mode != NULL) {
        if (o.rconf.multiline == LW_MULTILINE_REGEX || o.rconf.multiline == LW_MULTILINE_START) {
            if (strcmp(multiline_mode, "off") == 0) {
                fprintf(stderr, "logwarden parse: --multiline off contradicts "
                                "--multiline-regex/--multiline-start\n");
                goto out;
            }
        }
        else {
            o.rconf.multiline =
                strcmp(multiline_mode, "auto") == 0 ? LW_MULTILINE_AUTO : LW_MULTILINE_OFF;
        }
    }
    if (log_level >= 0) {
        lw_log_set_level((enum lw_log_level)log_level);
    }
    else if (o.quiet) {
        lw_log_set_level(LW_LOG_WARN);
    }
    if (masks_file != NULL) {
        r = masks_file_load(&um, masks_file);
        if (r != 0) {
            rc = r;
            goto out;
        }
    }
    mconf.masks.user = um.v;
    mconf.masks.n_user = um.n;
    if (n_files == 0) {
        o.files = stdin_only;
        o.n_files = 1;
    }
    else {
        o.files = files;
        o.n_files = n_files;
    }
    o.progress = !o.quiet && isatty(2);

    /* Usage errors in the format and the masks are still exit 2. */
    err[0] = '\0';
    h = lw_header_create(format, err, sizeof(err));
    if (h == NULL) {
        fprintf(stderr, "logwarden parse: bad --format: %s\n", err);
        goto out;
    }
    if (year != 0) {
        lw_header_set_ref_year(h, (int)year);
    }
    err[0] = '\0';
    m = lw_miner_create(&mconf, err, sizeof(err));
    if (m == NULL) {
        fprintf(stderr, "logwarden parse: bad mask: %s\n", err[0] ? err : "out of memory");
        goto out;
    }
    if (o.rconf.regex != NULL) {
        /* Check the multi-line regex now, not when the first file is opened. */
        r = lw_frame_buffer("", 0, &o.rconf, NULL, NULL);
        if (r == LW_EINVAL) {
            fprintf(stderr, "logwarden parse: bad multi-line regex '%s'\n", o.rconf.regex);
            goto out;
        }
    }

    rc = 1;
    if (state_path != NULL) {
        err[0] = '\0';
        r = lw_miner_load(m, state_path, err, sizeof(err));
        if (r == LW_ENOENT) {
            lw_info("parse", "state file '%s' does not exist yet; starting with no templates",
                    state_path);
        }
        else if (r < 0) {
            lw_error("parse", "cannot load state file '%s': %s", state_path,
                     err[0] ? err : lw_strerror(r));
            goto out;
        }
        else {
            lw_info("parse", "loaded %zu templates from '%s'", lw_miner_n_templates(m),
                    state_path);
        }
    }

    setvbuf(stdout, parse_obuf, _IOFBF, sizeof(parse_obuf));
    ctx.opts = &o;
    ctx.h = h;
    ctx.m = m;
    ctx.out = stdout;
    t0 = now_s();
    r = lw__parse_run(&ctx, &st);
    if (r < 0) {
        if (r != LW_EIO) {
            lw_error("parse", "stopped: %s", lw_strerror(r));
        }
        goto out_flush;
    }
    if (o.templates) {
        r = lw__parse_out_templates(&ctx);
        if (r < 0) {
            lw_error("parse", "cannot print the template table: %s", lw_strerror(r));
            goto out_flush;
        }
    }
    if (fflush(stdout) != 0) {
        lw_error("parse", "cannot write the output: %s", strerror(errno));
        goto out_flush;
    }
    if (format != NULL && strcmp(format, "auto") != 0 && st.n_lines > 0 &&
        st.n_mismatch == st.n_lines) {
        /* Likely a wrong --format: every message is then the whole line. */
        lw_warn("parse", "no line matched --format '%s'", format);
    }
    if (!o.quiet) {
        print_summary(&st, lw_miner_n_templates(m), now_s() - t0);
    }
    if (state_path != NULL) {
        err[0] = '\0';
        r = lw_miner_save(m, state_path, err, sizeof(err));
        if (r < 0) {
            lw_error("parse", "cannot save state file '%s': %s", state_path,
                     err[0] ? err : lw_strerror(r));
            goto out_flush;
        }
    }
    rc = st.had_input_error ? 1 : 0;
out_flush:
    fflush(stdout);
out:
    lw_miner_destroy(m);
    lw_header_destroy(h);
    user_masks_fini(&um);
    lw_free(files);
    return rc;
}
