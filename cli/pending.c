/*  pending.c: subcommands that are not built yet. Each says so plainly and
    exits 2. When a subcommand lands in its own file, its block here goes. */
#include "cli.h"

#include <stdio.h>

static int s_not_yet(const char *name)
{
    fprintf(stderr, "mlops %s: not built yet\n", name);
    return 2;
}

/* --- train --- */
int cli_train(int argc, char **argv)
{
    (void)argc, (void)argv;
    return s_not_yet("train");
}
