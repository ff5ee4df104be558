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
int lw_cmd_feedback(int argc, char **argv);
/* `logwarden eval detect` (src/cli/cmd_eval_detect.c): argv[0] is "detect". */
int lw_cmd_eval_detect(int argc, char **argv);

/*
 * Matches "--name VALUE" and "--name=VALUE" at argv[*i] and advances *@i past a separate value.
 * Returns 1 and sets *@val, 0 when argv[*i] is another option, -1 (after a message naming
 * @cmd) when the value is missing.
 */
int lw_cli_opt_value(int argc, char **argv, int *i, const char *name, const char **val,
                     const char *cmd);

#endif
