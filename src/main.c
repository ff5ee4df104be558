/*
 * logwarden: entry point and subcommand dispatch. Each subcommand lives in src/cli/cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"run", lw_cmd_run, "run the daemon: ingest files, syslog, HTTP, stdin; detect; alert; store"},
    {"status", lw_cmd_status, "show what a data directory holds and whether a daemon runs"},
    {"parse", lw_cmd_parse, "parse logs into structured events and mine their templates"},
    {"train", lw_cmd_train, "build every detector model from history files and save it"},
    {"eval", lw_cmd_eval, "measure accuracy against ground truth (eval parse, eval detect)"},
    {"feedback", lw_cmd_feedback, "list, add and remove the feedback rules that mute alerts"},
    {"demo", lw_cmd_demo, "write a realistic demo log (several systems, seeded, with anomalies)"},
};

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: logwarden <command> [options]\n\n"
               "logwarden finds what is abnormal in your logs, fast.\n\ncommands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    }
    fprintf(f, "\nRun 'logwarden <command> --help' for the options of a command.\n"
               "  --version  print the version\n");
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("logwarden %s\n", LW_VERSION);
        return 0;
    }
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0) {
            return commands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "logwarden: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
