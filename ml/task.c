/*  task.c: names of the task types (see task_name.h). */
#include "task_name.h"

#include <stddef.h>
#include <string.h>

static const char *const s_names[] = {"binary", "multiclass", "regression"};
static const char *const s_metrics[] = {"auc", "accuracy", "r2"};

const char *task_name(task_t task)
{
    return (unsigned)task < 3 ? s_names[task] : NULL;
}

int task_parse(const char *word, int *out)
{
    if (!word)
        return -1;
    if (strcmp(word, "auto") == 0) {
        *out = TASK_AUTO;
        return 0;
    }
    for (int t = 0; t < 3; t++)
        if (strcmp(word, s_names[t]) == 0) {
            *out = t;
            return 0;
        }
    return -1;
}

const char *task_default_metric(task_t task)
{
    return (unsigned)task < 3 ? s_metrics[task] : NULL;
}
