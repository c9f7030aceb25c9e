/*  main.c: `mlops-worker`. Picks the kind of worker from --stage and hands
    it argv; each kind parses its own flags (and --help). */
#include "worker.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--stage") == 0 && i + 1 < argc && strcmp(argv[i + 1], "infer") == 0)
            return worker_infer_main(argc, argv);
        if (strcmp(arg, "--stage=infer") == 0)
            return worker_infer_main(argc, argv);
    }
    return worker_stage_main(argc, argv);
}
