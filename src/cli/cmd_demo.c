/* logwarden demo: placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli/cli.h"

int lw_cmd_demo(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "logwarden demo: not implemented yet\n");
    return 1;
}
