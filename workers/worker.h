/*  worker.h: the two kinds of worker process behind `mlops-worker`.
    Each takes the whole argv of mlops-worker and returns the exit code. */
#ifndef MLOPS_WORKER_H
#define MLOPS_WORKER_H

//  --stage extract|preprocess|train|evaluate|load_model: connects to the broker.
int worker_stage_main(int argc, char **argv);

//  --stage infer: connects to the gateway, fetches models from the broker.
int worker_infer_main(int argc, char **argv);

#endif
