/*  task.h: what a model predicts, decided by the target column.

    - TASK_BINARY: two classes coded 0 and 1; a model answers P(class 1).
    - TASK_MULTICLASS: classes coded 0 .. K-1 (2 <= K <= TASK_MAX_CLASSES);
      a model answers K probabilities that sum to 1.
    - TASK_REGRESSION: a finite real target; a model answers a real value.

    The codes are stable (they may be stored), so new tasks go at the end.
*/
#ifndef MLOPS_TASK_H
#define MLOPS_TASK_H

#define TASK_MAX_CLASSES 100 //  a target with more distinct labels is refused

typedef enum {
    TASK_BINARY = 0,     //  labels 0 / 1
    TASK_MULTICLASS = 1, //  labels 0 .. K-1
    TASK_REGRESSION = 2, //  finite real target
} task_t;

#endif
