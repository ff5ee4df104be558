/*
 * logwarden status: what a data directory holds and whether a daemon runs on it. Reads the store
 * read-only (works while the daemon writes, thanks to WAL) and probes the directory's lock.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lw/lw_err.h"
#include "lw/lw_store.h"

static const char usage_text[] =
    "usage: logwarden status [--data-dir DIR] [--json]\n"
    "\n"
    "Prints what the store in DIR holds (lines stored, templates, windows, anomalies, alerts by\n"
    "state: sent, failed, pending, and the findings held back as suppressed or limited, size)\n"
    "and whether a daemon is running on it. Works with or without a running daemon.\n"
    "\n"
    "  -d, --data-dir DIR  the daemon's data directory (default ./logwarden-data)\n"
    "      --json          one JSON object instead of text\n"
    "  -h, --help          this text\n"
    "\n"
    "example:\n"
    "  logwarden status --data-dir /var/lib/logwarden --json\n";

static void iso(int64_t ns, char *buf, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000LL);
    struct tm tm;

    if (ns == 0) {
        snprintf(buf, cap, "-");
        return;
    }
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The detectors' warm-up as the daemon last saved it (a JSON array in the store), or NULL when
 * there is none or it does not read as one. Caller json_decref()s.
 */
static json_t *warmup_note(const struct lw_store_status *st)
{
    json_t *j = st->detectors[0] != '\0' ? json_loads(st->detectors, 0, NULL) : NULL;

    if (j != NULL && !json_is_array(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

int lw_cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = "./logwarden-data";
    int json = 0;
    struct lw_store_status st;
    char err[512];
    char oldest[32];
    char newest[32];
    long pid;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'J':
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fprintf(stderr, "Run 'logwarden status --help' for the options.\n");
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "logwarden status: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    memset(&st, 0, sizeof(st));
    if (lw_store_status(dir, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "logwarden status: %s\n", err);
        return 1;
    }
    pid = lw_store_lock_holder(dir);
    iso(st.oldest_window_ns, oldest, sizeof(oldest));
    iso(st.newest_window_ns, newest, sizeof(newest));
    if (json) {
        printf("{\"data_dir\":\"");
        for (const char *p = dir; *p; p++) {
            if (*p == '"' || *p == '\\') {
                putchar('\\');
            }
            if ((unsigned char)*p >= 0x20) {
                putchar(*p);
            }
        }
        printf("\",\"running\":%s,\"pid\":%ld,\"stored_lines\":%llu,\"templates\":%llu,"
               "\"windows\":%llu,\"oldest_window\":\"%s\",\"newest_window\":\"%s\","
               "\"checkpoints\":%llu,\"anomalies\":%llu,\"alerts\":%llu,\"alerts_sent\":%llu,"
               "\"alerts_failed\":%llu,\"alerts_pending\":%llu,\"suppressed\":%llu,"
               "\"limited\":%llu,\"window_s\":%lld,"
               "\"retention_s\":%lld,\"db_bytes\":%llu,\"wal_bytes\":%llu,"
               "\"schema_version\":%d,\"detectors\":",
               pid != 0 ? "true" : "false", pid > 0 ? pid : 0,
               (unsigned long long)st.stored_lines, (unsigned long long)st.n_templates,
               (unsigned long long)st.n_windows, oldest, newest,
               (unsigned long long)st.n_checkpoints, (unsigned long long)st.n_anomalies,
               (unsigned long long)st.n_alerts, (unsigned long long)st.n_alerts_sent,
               (unsigned long long)st.n_alerts_failed, (unsigned long long)st.n_alerts_pending,
               (unsigned long long)st.n_suppressed, (unsigned long long)st.n_limited,
               (long long)st.window_s,
               (long long)st.retention_s, (unsigned long long)st.db_bytes,
               (unsigned long long)st.wal_bytes, st.schema_version);
        {
            json_t *w = warmup_note(&st);
            char *txt = w != NULL ? json_dumps(w, JSON_COMPACT) : NULL;

            printf("%s}\n", txt != NULL ? txt : "[]");
            free(txt);
            json_decref(w);
        }
        return 0;
    }
    printf("data dir      %s\n", dir);
    if (pid > 0) {
        printf("daemon        running (pid %ld)\n", pid);
    }
    else {
        printf("daemon        %s\n", pid == 0 ? "not running" : "running");
    }
    printf("stored lines  %llu\n", (unsigned long long)st.stored_lines);
    printf("templates     %llu\n", (unsigned long long)st.n_templates);
    printf("windows       %llu (%s .. %s, %llds each)\n", (unsigned long long)st.n_windows,
           oldest, newest, (long long)st.window_s);
    printf("checkpoints   %llu\n", (unsigned long long)st.n_checkpoints);
    printf("anomalies     %llu\n", (unsigned long long)st.n_anomalies);
    /*
     * Every finding has an alert row whose state says what became of it, so the held-back ones
     * are as visible as the delivered ones.
     */
    printf("alerts        %llu sent, %llu failed, %llu pending\n",
           (unsigned long long)st.n_alerts_sent, (unsigned long long)st.n_alerts_failed,
           (unsigned long long)st.n_alerts_pending);
    printf("held back     %llu suppressed (repeats within alerts.cooldown), %llu limited "
           "(over alerts.rate_per_min)\n",
           (unsigned long long)st.n_suppressed, (unsigned long long)st.n_limited);
    {
        /* What each detector still needs before it reports, as of the last model save. */
        json_t *w = warmup_note(&st);
        size_t i;

        for (i = 0; w != NULL && i < json_array_size(w); i++) {
            json_t *d = json_array_get(w, i);
            const char *name = json_string_value(json_object_get(d, "detector"));
            const char *unit = json_string_value(json_object_get(d, "unit"));
            json_int_t have = json_integer_value(json_object_get(d, "have"));
            json_int_t need = json_integer_value(json_object_get(d, "need"));

            printf("%-14s%s %s (%lld of %lld %s)\n", i == 0 ? "detectors" : "",
                   name != NULL ? name : "?",
                   json_is_true(json_object_get(d, "warming_up")) ? "warming up" : "ready",
                   (long long)have, (long long)need, unit != NULL ? unit : "");
        }
        json_decref(w);
    }
    printf("store size    %llu bytes (+%llu WAL), schema v%d, retention %llds\n",
           (unsigned long long)st.db_bytes, (unsigned long long)st.wal_bytes,
           st.schema_version, (long long)st.retention_s);
    return 0;
}
