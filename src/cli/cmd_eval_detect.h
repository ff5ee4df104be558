#ifndef LW_CMD_EVAL_DETECT_H
#define LW_CMD_EVAL_DETECT_H

/* `logwarden eval detect`: argv[0] is "detect". Returns the exit code. */
int lw_cmd_eval_detect(int argc, char **argv);

#endif
