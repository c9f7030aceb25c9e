/*  runlogs.c: the task logs a run keeps (broker_internal.h). A stage
    worker sends the lines it logged while running a task with its
    heartbeats and its RESULT (HEARTBEAT.log, RESULT.log); each piece is
    appended, in the message's batch, to that attempt's entry in the store
    (store_log_*: one control_log_t per attempt), made safe again (the
    worker is not trusted to have done it) and kept to its last
    PROTO_LOG_MAX_BYTES. LOGS reads them back in the run's task order.
    The logs of the run RUNLOGS_RUNS_KEPT before a starting one are
    deleted then, so the store keeps the logs of the newest runs only.
*/
#include "broker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "dag.h"
#include "log.h"

//  out: old's text (may be NULL) with text appended, made safe, and the
//  oldest whole lines dropped past PROTO_LOG_MAX_BYTES (a cut inside a
//  UTF-8 sequence leaves '?' bytes, never invalid text).
static int s_grown(const control_log_t *old, const char *text, size_t add, control_log_t *out)
{
    size_t keep = old ? strlen(old->text) : 0, total = keep + add;
    char *t = malloc(total + 1);
    if (!t)
        return MLOPS_ENOMEM;
    memcpy(t, old ? old->text : "", keep);
    memcpy(t + keep, text, add);
    proto_log_sanitize(t + keep, add);
    size_t cut = 0;
    while (total - cut > PROTO_LOG_MAX_BYTES) {
        char *nl = memchr(t + cut, '\n', total - cut);
        cut = nl && (size_t)(nl - t) + 1 < total ? (size_t)(nl - t) + 1 : total - PROTO_LOG_MAX_BYTES;
    }
    memcpy(out->text, t + cut, total - cut);
    out->text[total - cut] = '\0';
    proto_log_sanitize(out->text, total - cut);
    out->bytes_dropped = (old ? old->bytes_dropped : 0) + (int64_t)cut;
    free(t);
    return 0;
}

void runlogs_append(broker_t *self, const run_task_t *task, const char *worker, const char *text)
{
    size_t add = strlen(text);
    if (!add || task->attempts < 1)
        return;
    store_txn_t *txn = broker_txn(self);
    if (!txn)
        return;
    mlops_err_t err;
    mlops_err_clear(&err);
    uint8_t *stored = NULL, *bytes = NULL;
    size_t len = 0;
    control_log_t *old = malloc(sizeof *old), *now = calloc(1, sizeof *now);   //  16 KiB each
    int rc = old && now ? store_log_get(self->store, txn, task->task_id, task->attempts, &stored, &len, &err)
                        : MLOPS_ENOMEM;
    bool have = rc == 0 && control_log_decode(stored, len, old, &err) == 0;
    if (rc == 0 || rc == MLOPS_ENOTFOUND)
        rc = s_grown(have ? old : NULL, text, add, now);
    if (rc == 0) {
        now->attempt = task->attempts;
        snprintf(now->task_id, sizeof now->task_id, "%s", task->task_id);
        snprintf(now->worker, sizeof now->worker, "%s", worker);
        rc = control_log_encode(now, &bytes, &len);
    }
    if (rc == 0)
        rc = store_log_put(self->store, txn, task->task_id, task->attempts, bytes, len, &err);
    if (rc)   //  a log is worth less than the message that carried it: the batch goes on
        log_warning("log of task=%s attempt=%d not kept: %s", task->task_id, task->attempts,
                    mlops_err_text(&err, rc));
    free(bytes);
    free(stored);
    free(old);
    free(now);
}

void runlogs_prune(broker_t *self, uint64_t started_run)
{
    if (started_run <= RUNLOGS_RUNS_KEPT)
        return;
    store_txn_t *txn = broker_txn(self);
    mlops_err_t err;
    mlops_err_clear(&err);
    size_t gone = 0;
    int rc = txn ? store_log_delete_run(self->store, txn, started_run - RUNLOGS_RUNS_KEPT, &gone, &err)
                 : MLOPS_ESTORE;
    if (rc)
        log_warning("logs of run %llu not deleted: %s",
                    (unsigned long long)(started_run - RUNLOGS_RUNS_KEPT), mlops_err_text(&err, rc));
    else if (gone)
        log_debug("logs deleted run=%llu entries=%zu",
                  (unsigned long long)(started_run - RUNLOGS_RUNS_KEPT), gone);
}

//  Adds the stored attempts of task to logs (room for them was made).
static int s_collect(broker_t *self, const run_task_t *task, control_logs_t *logs, mlops_err_t *err)
{
    for (int a = 1; a <= task->attempts; a++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        int rc = store_log_get(self->store, NULL, task->task_id, a, &bytes, &len, err);
        if (rc == MLOPS_ENOTFOUND)
            continue;   //  that attempt logged nothing that arrived
        if (rc == 0 && control_log_decode(bytes, len, &logs->logs[logs->n_logs], err) != 0)
            rc = MLOPS_ECORRUPT;
        free(bytes);
        if (rc)
            return rc;
        logs->n_logs++;
    }
    return 0;
}

int runlogs_answer(broker_t *self, int64_t run_id, const char *task_id, uint8_t **out, size_t *len,
                   mlops_err_t *err)
{
    run_t run;
    int rc = store_run_get(self->store, NULL, (uint64_t)run_id, &run, err);
    if (rc == MLOPS_ENOTFOUND)
        return mlops_err_set(err, rc, "LOGS: no run %lld", (long long)run_id);
    if (rc)
        return rc;
    size_t room = 0, matched = 0;
    for (size_t i = 0; i < run.n_tasks; i++)
        if (!*task_id || strcmp(run.tasks[i].task_id, task_id) == 0)
            room += run.tasks[i].attempts > 0 ? (size_t)run.tasks[i].attempts : 0;
    if (room > CONTROL_LOGS_MAX)
        room = CONTROL_LOGS_MAX;
    control_logs_t logs = {.logs = calloc(room ? room : 1, sizeof *logs.logs)};
    rc = logs.logs ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "LOGS: out of memory");
    for (size_t i = 0; rc == 0 && i < run.n_tasks; i++) {
        if (*task_id && strcmp(run.tasks[i].task_id, task_id) != 0)
            continue;
        matched++;
        if (logs.n_logs + (size_t)run.tasks[i].attempts <= room)
            rc = s_collect(self, &run.tasks[i], &logs, err);
    }
    if (rc == 0 && *task_id && !matched)
        rc = mlops_err_set(err, MLOPS_ENOTFOUND, "LOGS: run %lld has no task '%.60s'", (long long)run_id,
                           task_id);
    if (rc == 0)
        rc = control_logs_encode(&logs, out, len);
    free(logs.logs);
    run_clear(&run);
    return rc;
}
