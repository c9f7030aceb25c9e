/*  pending.c: worker kinds not built yet; each says so and exits 2. When a
    kind lands in its own file, its block here goes. */
#include "worker.h"

#include <stdio.h>

/* --- stage workers --- */
int worker_stage_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "mlops-worker: stage workers are not built yet\n");
    return 2;
}
