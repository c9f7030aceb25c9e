/*  pending.c: worker kinds not built yet; each says so and exits 2. When a
    kind lands in its own file, its block here goes. */
#include "worker.h"

#include <stdio.h>

/* --- infer workers --- */
int worker_infer_main(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "mlops-worker: infer workers are not built yet\n");
    return 2;
}
