/* logwarden eval: placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli/cli.h"

int lw_cmd_eval(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "logwarden eval: not implemented yet\n");
    return 1;
}
