/*  dag.c: see dag.h. */
#include "dag.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

int dag_plan(run_t *run, const char *const *families, size_t n_families)
{
    assert(run);
    if (n_families == 0 || n_families > DAG_FAMILIES_MAX)
        return MLOPS_EINVAL;
    for (int s = 0; s < STAGE_COUNT; s++) {
        size_t n = s == STAGE_TRAIN ? n_families : 1;
        for (size_t i = 0; i < n; i++) {
            const char *family = s == STAGE_TRAIN ? families[i] : "";
            if (strlen(family) >= RECORD_NAME_MAX)
                return MLOPS_EINVAL;
            run_task_t *task = run_add_task(run, stage_name((stage_t)s), family);
            if (!task)
                return MLOPS_ENOMEM;
            //  its id is the key of its output: it must not be cut short
            if (run_task_id(task->task_id, sizeof task->task_id, run->id, task->stage, family))
                return MLOPS_EINVAL;
        }
    }
    return 0;
}

int dag_task_stage(const run_task_t *task)
{
    return stage_from_name(task->stage);
}

run_task_t *dag_task_find(run_t *run, const char *task_id)
{
    for (size_t i = 0; run && task_id && i < run->n_tasks; i++)
        if (strcmp(run->tasks[i].task_id, task_id) == 0)
            return &run->tasks[i];
    return NULL;
}

bool dag_stage_done(const run_t *run, stage_t stage)
{
    for (size_t i = 0; i < run->n_tasks; i++)
        if (dag_task_stage(&run->tasks[i]) == (int)stage && run->tasks[i].state != TASK_DONE)
            return false;
    return true;
}

static bool s_inputs_done(const run_t *run, const run_task_t *task)
{
    int stage = dag_task_stage(task);
    for (int s = 0; s < stage; s++)
        if (!dag_stage_done(run, (stage_t)s))
            return false;
    return stage >= 0;
}

bool dag_task_ready(const run_t *run, const run_task_t *task, int64_t now_ms)
{
    return run->state == RUN_RUNNING && task->state == TASK_PENDING &&
           task->retry_at_ms <= now_ms && s_inputs_done(run, task);
}

int64_t dag_next_retry_ms(const run_t *run)
{
    int64_t next = 0;
    for (size_t i = 0; i < run->n_tasks; i++) {
        const run_task_t *t = &run->tasks[i];
        if (t->state == TASK_PENDING && t->retry_at_ms > 0 && s_inputs_done(run, t) &&
            (next == 0 || t->retry_at_ms < next))
            next = t->retry_at_ms;
    }
    return next;
}

void dag_task_start(run_t *run, run_task_t *task, const char *worker, int64_t now_ms)
{
    assert(task->state == TASK_PENDING);
    task->state = TASK_RUNNING;
    task->attempts++;
    task->started_ms = now_ms;
    task->ended_ms = 0;
    task->retry_at_ms = 0;
    snprintf(task->worker, sizeof task->worker, "%s", worker ? worker : "");
    if (run->started_ms == 0)
        run->started_ms = now_ms;
}

bool dag_task_done(run_t *run, run_task_t *task, int64_t now_ms)
{
    assert(task->state == TASK_RUNNING);
    task->state = TASK_DONE;
    task->ended_ms = now_ms;
    for (size_t i = 0; i < run->n_tasks; i++)
        if (run->tasks[i].state != TASK_DONE)
            return false;
    run->state = RUN_SUCCEEDED;
    run->ended_ms = now_ms;
    return true;
}

int64_t dag_backoff_msec(const dag_policy_t *policy, int32_t attempts)
{
    int64_t wait = policy->backoff_msec;
    for (int32_t i = 1; i < attempts && wait < policy->backoff_max_msec; i++)
        wait *= 2;
    return wait < policy->backoff_max_msec ? wait : policy->backoff_max_msec;
}

dag_outcome_t dag_task_fail(run_t *run, run_task_t *task, const char *error,
                            const dag_policy_t *policy, int64_t now_ms)
{
    assert(task->state == TASK_RUNNING || task->state == TASK_PENDING);
    snprintf(task->error, sizeof task->error, "%s", error ? error : "failed");
    if (task->attempts < policy->max_attempts) {
        task->state = TASK_PENDING;
        task->ended_ms = now_ms;
        task->retry_at_ms = now_ms + dag_backoff_msec(policy, task->attempts);
        return DAG_RETRY;
    }
    task->state = TASK_FAILED;
    task->ended_ms = now_ms;
    run->state = RUN_FAILED;
    run->ended_ms = now_ms;
    snprintf(run->error, sizeof run->error, "%s failed after %d attempt%s: %.400s", task->task_id,
             task->attempts, task->attempts == 1 ? "" : "s", task->error);
    return DAG_RUN_FAILED;
}

size_t dag_resume(run_t *run, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < run->n_tasks; i++) {
        run_task_t *t = &run->tasks[i];
        if (t->state != TASK_RUNNING)
            continue;
        t->state = TASK_PENDING;
        if (t->attempts > 0)
            t->attempts--;
        t->retry_at_ms = 0;
        t->ended_ms = now_ms;
        snprintf(t->error, sizeof t->error, "interrupted by a broker restart (worker %s)",
                 t->worker);
        n++;
    }
    return n;
}
