/* logwarden parse: placeholder until the subcommand lands. */
#include <stdio.h>

#include "cli/cli.h"

int lw_cmd_parse(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "logwarden parse: not implemented yet\n");
    return 1;
}
