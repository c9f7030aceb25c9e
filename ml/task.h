/*  task.h: what a model predicts, inferred from the target column or chosen with --task. */
#ifndef MLOPS_TASK_H
#define MLOPS_TASK_H
typedef enum { TASK_BINARY = 0, TASK_MULTICLASS = 1, TASK_REGRESSION = 2 } task_type_t;
#endif
