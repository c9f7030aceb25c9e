/*  dag.h: the DAG of one run and its state machine, over a run_t.

    A run is planned whole when it starts: extract, preprocess, one train task
    per model family, evaluate, load_model, all pending. A task becomes ready
    when every task of the earlier stages is done (so train fans out from
    preprocess and evaluate fans in from every train). These functions only
    change the run in memory; the broker commits the run to the store after
    each change and before it announces it.

    Pure and deterministic (the clock is an argument), so the whole state
    machine is unit-tested without sockets or a store.
*/
#ifndef MLOPS_DAG_H
#define MLOPS_DAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "records.h"
#include "stage_io.h"

#define DAG_FAMILIES_MAX STAGE_CANDIDATES_MAX

typedef struct {
    int32_t max_attempts;        //  dispatches per task before the run fails (>= 1)
    int64_t backoff_msec;        //  wait before the first retry; doubles each retry
    int64_t backoff_max_msec;    //  never wait longer than this
} dag_policy_t;

typedef enum {
    DAG_RETRY = 0,               //  the task goes back to pending, after its backoff
    DAG_RUN_FAILED = 1,          //  out of attempts: task and run failed
} dag_outcome_t;

//  Plans the tasks of a fresh run (one train task per family, in order).
//  Returns 0, MLOPS_EINVAL (no family, too many, a task id too long) or
//  MLOPS_ENOMEM.
int dag_plan(run_t *run, const char *const *families, size_t n_families);

//  Stage of a task, or -1 when its stage name is unknown.
int dag_task_stage(const run_task_t *task);

//  The task with this id, or NULL.
run_task_t *dag_task_find(run_t *run, const char *task_id);

//  True when the task is pending, its earlier stages are all done and its
//  backoff (retry_at_ms) has passed at now_ms.
bool dag_task_ready(const run_t *run, const run_task_t *task, int64_t now_ms);

//  The earliest retry_at_ms among pending tasks whose inputs are done and
//  which wait for a backoff, or 0 when none waits.
int64_t dag_next_retry_ms(const run_t *run);

//  A task handed to a worker: running, one more attempt, started now.
void dag_task_start(run_t *run, run_task_t *task, const char *worker, int64_t now_ms);

//  A task's result stored: done. When every task is done the run succeeds
//  (the caller fills the outcome). Returns true when the run just succeeded.
bool dag_task_done(run_t *run, run_task_t *task, int64_t now_ms);

//  A task's attempt failed with error (a RESULT ok=false, a lost worker, a
//  timeout). Retries with exponential backoff while attempts remain, else
//  fails the task and the run, keeping error in both.
dag_outcome_t dag_task_fail(run_t *run, run_task_t *task, const char *error,
                            const dag_policy_t *policy, int64_t now_ms);

//  Backoff before the retry that follows `attempts` dispatches.
int64_t dag_backoff_msec(const dag_policy_t *policy, int32_t attempts);

//  After a broker restart: tasks that were running go back to pending (their
//  worker is unknown now) and that interrupted dispatch is not counted.
//  Returns the number of tasks put back.
size_t dag_resume(run_t *run, int64_t now_ms);

//  True when every task of the stage is done.
bool dag_stage_done(const run_t *run, stage_t stage);

#endif
