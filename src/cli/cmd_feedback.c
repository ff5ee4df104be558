/*
 * logwarden feedback: list, add and remove the feedback rules that mute alerts (lw_alert.h,
 * docs/api.md "Feedback"). Works on the store of a data directory directly, whether or not a
 * daemon runs on it: SQLite lets this short write through beside the daemon's writer; on
 * ClickHouse (the data directory's marker names the server) a rule is one row of its own. A
 * running daemon reloads its rules from the store every few seconds. (Through HTTP, the same is
 * POST/DELETE /api/v1/rules.)
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api_params.h"
#include "cli/cli.h"
#include "lw/lw_err.h"
#include "lw/lw_store.h"

static const char usage_text[] =
    "usage: logwarden feedback list [--data-dir DIR] [--json]\n"
    "       logwarden feedback add --kind false_positive|expected [--template ID] [--source S]\n"
    "                              [--detector NAME] [--expires 24h|RFC3339] [--note TEXT]\n"
    "                              [--data-dir DIR]\n"
    "       logwarden feedback rm ID [--data-dir DIR]\n"
    "\n"
    "Feedback rules mute alerts: a finding whose template, source and detector match every\n"
    "field a rule sets is stored but not alerted (state \"muted\"). A rule needs at least one of\n"
    "--template, --source and --detector. A running daemon picks changes up within 5 s.\n"
    "\n"
    "  -d, --data-dir DIR   the data directory (default ./logwarden-data)\n"
    "      --json           list: one JSON object per line\n"
    "  -h, --help           this text\n";

static int64_t wall_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int print_rule(void *opaque, const struct lw_store_rule *r)
{
    int json = *(int *)opaque;
    char created[LW_API_TIME_LEN];
    char expires[LW_API_TIME_LEN];

    lw_api_fmt_time(r->created_ns, created);
    if (r->expires_ns != 0) {
        lw_api_fmt_time(r->expires_ns, expires);
    }
    else {
        snprintf(expires, sizeof(expires), "never");
    }
    if (json) {
        /* Rule strings come from the API or this command; print them as JSON safely. */
        printf("{\"id\":%lld,\"kind\":\"%s\",\"template_id\":%lld,\"created\":\"%s\","
               "\"expires\":\"%s\",\"expired\":%s}\n",
               (long long)r->id, r->kind, (long long)r->template_id, created, expires,
               r->expires_ns != 0 && r->expires_ns <= wall_ns() ? "true" : "false");
        return 0;
    }
    printf("%-5lld %-14s template=%-6lld source=%-16s detector=%-14s expires=%s%s%s%s\n",
           (long long)r->id, r->kind, (long long)r->template_id, r->source ? r->source : "*",
           r->detector ? r->detector : "*", expires,
           r->expires_ns != 0 && r->expires_ns <= wall_ns() ? " (expired)" : "",
           r->note ? "  note: " : "", r->note ? r->note : "");
    return 0;
}

static struct lw_store *open_store(const char *dir, int read_only)
{
    struct lw_store *s;
    char err[512];

    s = lw_store_open_dir(dir, !read_only, err, sizeof(err));
    if (s == NULL) {
        fprintf(stderr, "logwarden feedback: %s\n", err);
    }
    return s;
}

int lw_cmd_feedback(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'}, {"kind", required_argument, NULL, 'k'},
        {"template", required_argument, NULL, 't'}, {"source", required_argument, NULL, 's'},
        {"detector", required_argument, NULL, 'D'}, {"expires", required_argument, NULL, 'e'},
        {"note", required_argument, NULL, 'n'},     {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *dir = "./logwarden-data";
    const char *expires = NULL;
    struct lw_store_rule r;
    struct lw_store *s;
    const char *verb;
    int json = 0;
    int64_t id;
    int rc;
    int c;

    memset(&r, 0, sizeof(r));
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'k':
            r.kind = optarg;
            break;
        case 't':
            if (lw_api_parse_id(optarg, &r.template_id) != LW_OK) {
                fprintf(stderr, "logwarden feedback: --template wants a template id\n");
                return 2;
            }
            break;
        case 's':
            r.source = optarg;
            break;
        case 'D':
            r.detector = optarg;
            break;
        case 'e':
            expires = optarg;
            break;
        case 'n':
            r.note = optarg;
            break;
        case 'J':
            json = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fprintf(stderr, "Run 'logwarden feedback --help' for the options.\n");
            return 2;
        }
    }
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    verb = argv[optind++];
    if (strcmp(verb, "list") == 0) {
        s = open_store(dir, 1);
        if (s == NULL) {
            return 1;
        }
        rc = lw_store_list_rules(s, print_rule, &json);
        if (rc < 0) {
            fprintf(stderr, "logwarden feedback: %s\n", lw_store_errmsg(s));
        }
        lw_store_close(s);
        return rc < 0 ? 1 : 0;
    }
    if (strcmp(verb, "add") == 0) {
        int64_t now = wall_ns();
        int64_t d;

        if (r.kind == NULL ||
            (strcmp(r.kind, "false_positive") != 0 && strcmp(r.kind, "expected") != 0)) {
            fprintf(stderr, "logwarden feedback: --kind must be false_positive or expected\n");
            return 2;
        }
        if (r.template_id == 0 && r.source == NULL && r.detector == NULL) {
            fprintf(stderr, "logwarden feedback: a rule needs --template, --source or "
                            "--detector (it would mute everything otherwise)\n");
            return 2;
        }
        if (expires != NULL) {
            if (lw_api_parse_duration(expires, &d) == LW_OK) {
                r.expires_ns = now + d;
            }
            else if (lw_api_parse_time(expires, now, &r.expires_ns) != LW_OK ||
                     r.expires_ns <= now) {
                fprintf(stderr, "logwarden feedback: --expires wants a duration like 24h or a "
                                "future RFC 3339 time\n");
                return 2;
            }
        }
        r.created_ns = now;
        s = open_store(dir, 0);
        if (s == NULL) {
            return 1;
        }
        rc = lw_store_add_rule(s, &r, &id);
        if (rc < 0) {
            fprintf(stderr, "logwarden feedback: %s\n", lw_store_errmsg(s));
        }
        else {
            printf("rule %lld added\n", (long long)id);
        }
        lw_store_close(s);
        return rc < 0 ? 1 : 0;
    }
    if (strcmp(verb, "rm") == 0) {
        if (optind >= argc || lw_api_parse_id(argv[optind], &id) != LW_OK) {
            fprintf(stderr, "logwarden feedback rm: give the rule id (see feedback list)\n");
            return 2;
        }
        s = open_store(dir, 0);
        if (s == NULL) {
            return 1;
        }
        rc = lw_store_delete_rule(s, id);
        if (rc == LW_ENOENT) {
            fprintf(stderr, "logwarden feedback rm: no rule %lld\n", (long long)id);
        }
        else if (rc < 0) {
            fprintf(stderr, "logwarden feedback: %s\n", lw_store_errmsg(s));
        }
        else {
            printf("rule %lld removed\n", (long long)id);
        }
        lw_store_close(s);
        return rc < 0 ? 1 : 0;
    }
    fprintf(stderr, "logwarden feedback: unknown action '%s' (list, add, rm)\n", verb);
    return 2;
}
