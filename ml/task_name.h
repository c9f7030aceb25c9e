/*  task_name.h: names of the task types (task.h) and what follows from
    each one: the `--task` words and the promotion rule's default metric.
    Kept apart from task.h so that header stays one enum.
*/
#ifndef MLOPS_TASK_NAME_H
#define MLOPS_TASK_NAME_H

#include "task.h"

#define TASK_AUTO (-1) //  a task request: infer it from the target column

//  "binary", "multiclass", "regression"; NULL for a value outside the enum.
const char *task_name(task_t task);

//  Parses a --task word: binary, multiclass, regression or auto (TASK_AUTO).
//  Returns 0 and sets *out, or -1 for any other word (NULL included).
int task_parse(const char *word, int *out);

//  The metric the promotion rule compares by default for a task type:
//  auc (binary), accuracy (multiclass), r2 (regression). Static string.
//  The broker, which does not see ml/, keeps the same defaults in
//  broker/registry.c (registry_default_metric): change both together.
const char *task_default_metric(task_t task);

#endif
