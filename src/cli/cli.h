/*
 * Subcommands of the logwarden program. Each takes argc/argv with argv[0] set to the subcommand
 * name, handles --help itself, and returns the process exit code (0 ok, 1 failure, 2 usage).
 */
#ifndef LW_CLI_H
#define LW_CLI_H

int lw_cmd_parse(int argc, char **argv);
int lw_cmd_eval(int argc, char **argv);
int lw_cmd_demo(int argc, char **argv);
int lw_cmd_run(int argc, char **argv);
int lw_cmd_status(int argc, char **argv);
int lw_cmd_train(int argc, char **argv);

#endif
