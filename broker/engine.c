/*  engine.c: the broker's run engine (broker_internal.h).

    One run is active at a time, kept in memory as a copy of what the store
    holds; one more may be queued, and triggers fold into it. A run is
    planned whole at start (dag.h); the pump queues its ready tasks and hands
    them to idle workers, building each TASK.input from the store
    (stages.c). A RESULT settles its task (stages.c again) in a batch of its
    own, so a bad output aborts only that. A promoting load_model then waits
    for the inference workers (fleet.h) before the run succeeds.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "dag.h"
#include "duration.h"
#include "log.h"
#include "registry.h"

static void s_run_ended(broker_t *self);

//  True when the store's fault is what made a write return rc (a fault
//  left from an earlier write, of the data service say, is not this one).
static bool s_refused(broker_t *self, int rc, mlops_err_t *cause)
{
    return rc && store_fault(self->store, cause) == rc;
}

/* --- resume and reload --------------------------------------------------- */

//  Makes memory agree with the store again after a batch was lost: the
//  running run as stored; a task it says is running but that no worker holds
//  goes back to pending; a worker whose task is not running is idle.
void engine_reload(broker_t *self)
{
    run_clear(&self->active);
    self->queued_id = 0;
    mlops_err_t err;
    run_t *runs = NULL;
    size_t n = 0;
    if (store_run_list(self->store, 0, &runs, &n, &err) != 0) {
        log_error("cannot reload runs: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (runs[i].state == RUN_QUEUED)
            self->queued_id = runs[i].id;
        else if (runs[i].state == RUN_RUNNING && self->active.id == 0 &&
                 run_copy(&self->active, &runs[i]) != 0)
            log_error("out of memory reloading run %llu", (unsigned long long)runs[i].id);
    }
    store_runs_free(&runs, n);
    for (size_t i = 0; i < dispatch_worker_count(self->dispatch); i++) {
        dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        run_task_t *t = w->task_id[0] ? dag_task_find(&self->active, w->task_id) : NULL;
        if (w->task_id[0] && (!t || t->state != TASK_RUNNING))
            dispatch_worker_release(w, zclock_mono());
    }
    for (size_t i = 0; i < self->active.n_tasks; i++) {
        run_task_t *t = &self->active.tasks[i];
        bool held = false;
        for (size_t k = 0; k < dispatch_worker_count(self->dispatch); k++)
            held |= strcmp(dispatch_worker_at(self->dispatch, k)->task_id, t->task_id) == 0;
        if (t->state == TASK_RUNNING && !held) {
            t->state = TASK_PENDING;
            t->attempts = t->attempts > 0 ? t->attempts - 1 : 0;
        }
        dispatch_queue_remove(self->dispatch, t->task_id);
    }
    log_warning("state reloaded from the store: active run %llu, queued run %llu",
                (unsigned long long)self->active.id, (unsigned long long)self->queued_id);
}

//  Picks up the store's unfinished runs: the running one resumes (its
//  in-flight tasks go back to pending), the oldest queued one waits.
int engine_resume(broker_t *self, mlops_err_t *err)
{
    run_t *runs = NULL;
    size_t n = 0;
    int rc = store_run_list(self->store, 0, &runs, &n, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++) {   //  newest first
        if (runs[i].state == RUN_QUEUED)
            self->queued_id = runs[i].id;
        else if (runs[i].state == RUN_RUNNING && self->active.id == 0)
            rc = run_copy(&self->active, &runs[i]);
    }
    store_runs_free(&runs, n);
    if (rc)
        return mlops_err_set(err, rc, "out of memory resuming runs");
    if (self->active.id) {
        size_t back = dag_resume(&self->active, broker_wall());
        rc = broker_put_run(self, &self->active);
        if (rc == 0)
            rc = broker_flush(self);
        if (rc)
            return mlops_err_set(err, rc, "cannot store the resumed run");
        self->resumed_mono = zclock_mono();
        log_info("resumed run=%llu tasks_requeued=%zu", (unsigned long long)self->active.id, back);
    }
    return 0;
}

/* --- the run engine ------------------------------------------------------ */

//  Makes run (queued, no tasks yet) the active one: plans its tasks and
//  writes it in the batch. Takes what run owns.
static void s_start_run(broker_t *self, run_t *run)
{
    run->state = RUN_RUNNING;
    run->started_ms = broker_wall();
    int rc = dag_plan(run, self->cfg.families, self->cfg.n_families);
    if (rc || broker_put_run(self, run) != 0) {
        log_error("cannot start run %llu", (unsigned long long)run->id);
        run_clear(run);
        return;
    }
    self->active = *run;
    memset(run, 0, sizeof *run);
    runlogs_prune(self, self->active.id);
    char source[128], reason[128];
    log_info("run started run=%llu source=%s reason=%s", (unsigned long long)self->active.id,
             broker_clean(self->active.source, source, sizeof source),
             broker_clean(self->active.reason, reason, sizeof reason));
    broker_publish_run(self, &self->active);
}

//  Starts the queued run (stored by an earlier batch) when no run is active.
static void s_start_queued(broker_t *self)
{
    if (self->active.id || !self->queued_id)
        return;
    mlops_err_t err;
    mlops_err_clear(&err);
    run_t run = {0};
    int rc = store_run_get(self->store, NULL, self->queued_id, &run, &err);
    self->queued_id = 0;
    if (rc || run.state != RUN_QUEUED) {
        if (rc)
            log_error("cannot load queued run: %s", mlops_err_text(&err, rc));
        run_clear(&run);
        return;
    }
    s_start_run(self, &run);
}

//  A trigger folded into the queued run keeps its reason: "a; b" (a reason
//  already there is not repeated; one that does not fit ends the text "...").
static void s_reason_append(run_t *run, const char *reason)
{
    size_t have = strlen(run->reason), add = strlen(reason);
    if (strstr(run->reason, reason) || strstr(run->reason, "..."))
        return;
    if (have + 2 + add < sizeof run->reason)
        snprintf(run->reason + have, sizeof run->reason - have, "; %s", reason);
    else if (have + 5 < sizeof run->reason)
        snprintf(run->reason + have, sizeof run->reason - have, "; ...");
}

//  RETRAIN: a new run (started at once when none is active, else queued),
//  or folded into the queued one. Returns 0 or an error with err.
int engine_trigger(broker_t *self, const char *source, const char *reason,
                   control_retrain_t *answer, mlops_err_t *err)
{
    run_t run = {0};
    //  start from an empty batch, so a failure here can abort just this
    int rc = broker_flush(self);
    if (rc == 0 && self->queued_id) {
        rc = store_run_get(self->store, NULL, self->queued_id, &run, err);
        run.coalesced++;
        s_reason_append(&run, *reason ? reason : "manual");
        if (rc == 0)
            rc = broker_put_run(self, &run);
        answer->coalesced = true;
    } else if (rc == 0) {
        store_txn_t *txn = broker_txn(self);
        rc = txn ? store_run_next_id(self->store, txn, &run.id, err) : MLOPS_ESTORE;
        run.state = RUN_QUEUED;
        run.created_ms = broker_wall();
        snprintf(run.source, sizeof run.source, "%s", *source ? source : self->cfg.default_source);
        snprintf(run.reason, sizeof run.reason, "%s", *reason ? reason : "manual");
        if (rc == 0)
            rc = broker_put_run(self, &run);
    }
    mlops_err_t cause;
    if (s_refused(self, rc, &cause)) {
        outage_enter(&self->outage, &cause, zclock_mono());
        *err = cause;   //  says what to do
    }
    if (rc) {
        batch_abort(self->batch);   //  only this: the batch was empty
        run_clear(&run);
        return err->msg[0] ? rc : mlops_err_set(err, rc, "store: %s", mlops_strerror(rc));
    }
    answer->run_id = (int64_t)run.id;
    char shown[128];
    log_info("trigger run=%llu coalesced=%d reason=%s", (unsigned long long)run.id,
             answer->coalesced, broker_clean(*reason ? reason : "manual", shown, sizeof shown));
    if (!answer->coalesced)
        broker_publish_run(self, &run);
    if (!answer->coalesced && !self->active.id)
        s_start_run(self, &run);   //  from memory: the store has it only in the batch
    else if (!answer->coalesced)
        self->queued_id = run.id;
    run_clear(&run);
    snprintf(answer->state, sizeof answer->state, "%s",
             self->active.id == (uint64_t)answer->run_id ? "running" : "queued");
    return 0;
}

//  A task's attempt failed: retry under policy or fail the run.
static void s_task_failed(broker_t *self, run_task_t *task, const char *error,
                          const dag_policy_t *policy)
{
    dispatch_queue_remove(self->dispatch, task->task_id);
    dag_outcome_t outcome = dag_task_fail(&self->active, task, error, policy, broker_wall());
    char shown[256];   //  the error may come from a peer: sanitised for the log
    log_warning("task failed task=%s attempt=%d error=%s%s", task->task_id, task->attempts,
                log_sanitize(error, strlen(error), shown, sizeof shown),
                outcome == DAG_RETRY ? " (will retry)" : "");
    int stage = dag_task_stage(task);
    if (self->exporter && stage >= 0)
        exporter_task_failed(self->exporter, (stage_t)stage, outcome == DAG_RETRY);
    store_txn_t *txn = broker_txn(self);
    if (txn && outcome == DAG_RUN_FAILED && self->active.version) {
        mlops_err_t err;
        char reason[RECORD_TEXT_MAX];
        snprintf(reason, sizeof reason, "run failed: %.200s", error);
        registry_archive(self->store, txn, self->active.version, reason, &err);
    }
    if (broker_put_run(self, &self->active) != 0)
        return;
    char message[RECORD_ERROR_MAX + 64];
    snprintf(message, sizeof message, "attempt %d failed: %s", task->attempts, error);
    broker_publish_task(self, task, message);
    if (outcome == DAG_RUN_FAILED)
        s_run_ended(self);
}

void engine_task_failed(broker_t *self, run_task_t *task, const char *error)
{
    s_task_failed(self, task, error, &self->cfg.policy);
}

/* --- a store that refuses writes (outage.h) ------------------------------ */

//  The task an outage stops: task_id when given, else the first running,
//  else the first pending task of the active run.
static run_task_t *s_stopped_task(broker_t *self, const char *task_id)
{
    run_task_t *t = task_id ? dag_task_find(&self->active, task_id) : NULL;
    for (size_t i = 0; !t && i < self->active.n_tasks; i++)
        if (self->active.tasks[i].state == TASK_RUNNING)
            t = &self->active.tasks[i];
    for (size_t i = 0; !t && i < self->active.n_tasks; i++)
        if (self->active.tasks[i].state == TASK_PENDING)
            t = &self->active.tasks[i];
    return t && (t->state == TASK_RUNNING || t->state == TASK_PENDING) ? t : NULL;
}

//  Fails the run the outage stopped with its cause, in a transaction of its
//  own: no retry (no attempt would find the store better). The commit is
//  the outage's probe: if the store takes it the outage is over, else the
//  hold grows and this is tried again after it.
static void s_outage_fail_run(broker_t *self, const char *task_id)
{
    run_task_t *task = self->outage.fail_run == self->active.id ? s_stopped_task(self, task_id) : NULL;
    if (!task) {
        self->outage.fail_run = 0;   //  the run ended otherwise
        return;
    }
    char cause[MLOPS_ERRMSG_MAX];
    snprintf(cause, sizeof cause, "%s", self->outage.cause.msg);
    static const dag_policy_t no_retry = {0};
    if (task->attempts == 0 && task->started_ms)
        task->attempts = 1;   //  ran on a worker; the reload uncounted it (engine_reload)
    s_task_failed(self, task, cause, &no_retry);
    mlops_err_t err;
    mlops_err_clear(&err);
    int rc = batch_commit(self->batch, &err);
    if (rc == 0) {
        outage_end(&self->outage);   //  the run's own line says it failed, and why
        return;
    }
    engine_reload(self);
    mlops_err_t refused;
    outage_enter(&self->outage, store_fault(self->store, &refused) ? &refused : &err, zclock_mono());
}

void engine_store_refused(broker_t *self, int rc, const mlops_err_t *err)
{
    mlops_err_t cause;
    if (!store_fault(self->store, &cause)) {
        log_error("store commit failed, changes dropped: %s", mlops_err_text(err, rc));
        return;
    }
    outage_enter(&self->outage, &cause, zclock_mono());
    if (self->active.id)
        self->outage.fail_run = self->active.id;
    s_outage_fail_run(self, NULL);
}

//  The active run reached succeeded or failed: announce, start the next.
static void s_run_ended(broker_t *self)
{
    char shown[256];
    log_info("run %s run=%llu %s", run_state_name(self->active.state),
             (unsigned long long)self->active.id,
             broker_clean(self->active.state == RUN_FAILED ? self->active.error : self->active.outcome,
                          shown, sizeof shown));
    broker_publish_run(self, &self->active);
    if (self->exporter) {
        const run_t *r = &self->active;
        int64_t began = r->started_ms ? r->started_ms : r->created_ms;
        exporter_run_ended(self->exporter, r->state == RUN_SUCCEEDED, r->promoted,
                           r->ended_ms > began ? (double)(r->ended_ms - began) / 1000 : 0);
    }
    for (size_t i = 0; i < self->active.n_tasks; i++)
        dispatch_queue_remove(self->dispatch, self->active.tasks[i].task_id);
    retention_apply(self, self->active.id, self->active.version);
    run_clear(&self->active);
    s_start_queued(self);
}

//  The events of a settled task: the task, a registered version, a promotion.
static void s_announce_settled(broker_t *self, const run_task_t *task,
                               const stages_settled_t *settled)
{
    const version_t *v = &settled->registered;
    broker_publish_task(self, task, NULL);
    if (v->version)
        broker_publish(self, "model", self->active.id, "", version_stage_name(v->stage), v->version,
                       v->reason);
    if (settled->promoted)
        broker_publish(self, "model", self->active.id, "", "production", self->active.version,
                       self->active.outcome);
}

/* --- the load_model wait (fleet.h) --------------------------------------- */

//  The active run's load_model task, or NULL.
run_task_t *engine_load_model_task(broker_t *self)
{
    for (size_t i = 0; i < self->active.n_tasks; i++)
        if (dag_task_stage(&self->active.tasks[i]) == STAGE_LOAD_MODEL)
            return &self->active.tasks[i];
    return NULL;
}

//  Marks task done in the active run and stores the run; *finished tells
//  whether that ended the run. False when the store refused (the batch is
//  aborted and the caller announces nothing).
static bool s_commit_done(broker_t *self, run_task_t *task, bool *finished)
{
    *finished = dag_task_done(&self->active, task, broker_wall());
    if (broker_put_run(self, &self->active) != 0) {
        broker_abort_batch(self);
        return false;
    }
    int stage = dag_task_stage(task);
    if (self->exporter && stage >= 0)
        exporter_task_done(self->exporter, (stage_t)stage, (double)(task->ended_ms - task->started_ms) / 1000);
    return true;
}

//  A validated load_model whose version is in production waits for the
//  inference workers instead of settling: the task stays running (no
//  worker holds it) and the run stays running. Returns false when there is
//  nothing to wait for (no promotion, --load-wait 0): settle as before.
static bool s_load_wait_begin(broker_t *self, run_task_t *task, bool promoted)
{
    if (!self->active.promoted || self->cfg.load_wait_msec <= 0)
        return false;
    fleet_wait_begin(self->fleet, (int64_t)self->active.version, zclock_mono(), self->cfg.load_wait_msec);
    self->load_wait_began_mono = zclock_mono();
    if (broker_put_run(self, &self->active) != 0) {
        fleet_wait_end(self->fleet);
        broker_abort_batch(self);
        return true;
    }
    size_t n = fleet_count(self->fleet);
    log_info("load wait run=%llu version=%llu inference_workers=%zu wait_ms=%lld",
             (unsigned long long)self->active.id, (unsigned long long)self->active.version, n,
             (long long)self->cfg.load_wait_msec);
    if (promoted)
        broker_publish(self, "model", self->active.id, "", "production", self->active.version,
                       self->active.outcome);
    engine_load_wait_check(self);   //  no worker at all: over at once, nothing to announce
    if (fleet_wait_version(self->fleet)) {
        char detail[160], wait[32];
        snprintf(detail, sizeof detail, "v%llu validated; waiting up to %s for %zu inference worker%s to serve it",
                 (unsigned long long)self->active.version,
                 duration_format(self->cfg.load_wait_msec, wait, sizeof wait), n, n == 1 ? "" : "s");
        broker_publish_task(self, task, detail);
    }
    return true;
}

//  The wait is over: load_model is done, the outcome says how it went.
static void s_load_wait_end(broker_t *self, run_task_t *task, const char *verdict_name,
                            fleet_verdict_t verdict, const char *note)
{
    fleet_wait_end(self->fleet);
    if (self->exporter)
        exporter_load_wait(self->exporter, verdict_name,
                           (double)(zclock_mono() - self->load_wait_began_mono) / 1000);
    if (verdict == FLEET_TIMED_OUT)
        log_warning("load wait run=%llu over: %s", (unsigned long long)self->active.id, note);
    else
        log_info("load wait run=%llu over: %s", (unsigned long long)self->active.id, note);
    char outcome[RECORD_TEXT_MAX];
    size_t keep = strlen(self->active.outcome), room = sizeof outcome - strlen(note) - 3;
    snprintf(outcome, sizeof outcome, "%.*s; %s", (int)(keep < room ? keep : room), self->active.outcome, note);
    snprintf(self->active.outcome, sizeof self->active.outcome, "%s", outcome);
    bool finished;
    if (!s_commit_done(self, task, &finished))
        return;
    broker_publish_task(self, task, note);
    if (finished)
        s_run_ended(self);
}

//  Ends the wait when every live inference worker serves the version, when
//  there is none, or at the deadline. A broker that has just resumed a run
//  has not heard from the workers yet: "none" counts only after one
//  liveness period of default report intervals.
void engine_load_wait_check(broker_t *self)
{
    if (!fleet_wait_version(self->fleet))
        return;
    run_task_t *task = engine_load_model_task(self);
    if (!task || task->state != TASK_RUNNING || self->active.version != (uint64_t)fleet_wait_version(self->fleet)) {
        fleet_wait_end(self->fleet);   //  the run ended or was reloaded: nothing to settle here
        return;
    }
    char note[FLEET_NOTE_MAX];
    int64_t now = zclock_mono(), grace = (int64_t)self->cfg.liveness * HEARTBEAT_IVL_MSEC;
    if (grace > self->cfg.load_wait_msec)
        grace = self->cfg.load_wait_msec;
    fleet_verdict_t verdict = fleet_wait_check(self->fleet, now, note, sizeof note);
    if (verdict == FLEET_WAITING || (verdict == FLEET_NONE && self->resumed_mono && now - self->resumed_mono < grace))
        return;
    static const char *const names[] = {[FLEET_NONE] = "none", [FLEET_ALL_SERVE] = "all_serve",
                                        [FLEET_TIMED_OUT] = "timed_out"};
    s_load_wait_end(self, task, names[verdict], verdict, note);
}

//  A manual promote or rollback put another version in production while a
//  run waited for its own: the inference workers now go to that one, so
//  waiting on would only time out; the run's load_model ends, saying why.
void engine_load_wait_superseded(broker_t *self, uint64_t production, const char *how)
{
    int64_t waited = fleet_wait_version(self->fleet);
    run_task_t *task = waited ? engine_load_model_task(self) : NULL;
    if (!task || task->state != TASK_RUNNING || (uint64_t)waited == production
        || self->active.version != (uint64_t)waited)
        return;
    char note[FLEET_NOTE_MAX];
    snprintf(note, sizeof note, "a manual %s put v%llu in production while the inference workers took v%lld",
             how, (unsigned long long)production, (long long)waited);
    s_load_wait_end(self, task, "superseded", FLEET_ALL_SERVE, note);   //  an operator's choice: logged as info
}

//  A RESULT ok=true for a task in hand: store its output, settle it, move on.
void engine_task_succeeded(broker_t *self, run_task_t *task, const uint8_t *output, size_t len)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    char task_id[sizeof task->task_id];
    snprintf(task_id, sizeof task_id, "%s", task->task_id);
    //  settle in a batch of its own, so a bad output aborts only this
    if (broker_flush(self) != 0 || !(task = dag_task_find(&self->active, task_id)) ||
        task->state != TASK_RUNNING)
        return;
    store_txn_t *txn = broker_txn(self);
    run_t before;
    if (!txn || run_copy(&before, &self->active) != 0) {
        batch_abort(self->batch);
        return;
    }
    stages_settled_t settled = {0};
    int rc = stages_settle(self, txn, task, output, len, &settled, &err);
    mlops_err_t cause;
    if (s_refused(self, rc, &cause)) {
        //  the output is fine, the store is not: fail the run once, no retry
        batch_abort(self->batch);
        run_clear(&self->active);
        self->active = before;
        outage_enter(&self->outage, &cause, zclock_mono());
        self->outage.fail_run = self->active.id;
        s_outage_fail_run(self, task_id);
        return;
    }
    if (rc) {
        batch_abort(self->batch);
        run_clear(&self->active);
        self->active = before;
        task = dag_task_find(&self->active, task_id);
        char message[RECORD_ERROR_MAX];
        snprintf(message, sizeof message, "bad %s output: %s", task->stage, mlops_err_text(&err, rc));
        engine_task_failed(self, task, message);
        return;
    }
    run_clear(&before);
    if (dag_task_stage(task) == STAGE_LOAD_MODEL && s_load_wait_begin(self, task, settled.promoted))
        return;
    bool finished;
    if (!s_commit_done(self, task, &finished))
        return;
    s_announce_settled(self, task, &settled);
    if (finished)
        s_run_ended(self);
}

//  Hands task to worker: commit the dispatch, announce it, send the TASK.
//  Returns -1 when the store refused the dispatch (dispatch no more), else 0.
static int s_dispatch(broker_t *self, run_task_t *task, dispatch_worker_t *w)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    uint8_t *input = NULL;
    size_t input_len = 0;
    broker_heartbeat_now(self);
    int64_t t0 = zclock_usecs();
    int rc = stages_build_input(self, task, &input, &input_len, &err);
    int64_t build_usec = zclock_usecs() - t0;
    if (rc) {
        //  the task cannot even be described: fail this attempt, keep the worker
        dag_task_start(&self->active, task, "broker", broker_wall());
        engine_task_failed(self, task, mlops_err_text(&err, rc));
        return 0;
    }
    char who[96];
    snprintf(who, sizeof who, "%.63s", w->name);
    dag_task_start(&self->active, task, who, broker_wall());
    if (broker_put_run(self, &self->active) != 0) {
        task->state = TASK_PENDING;   //  nothing was written: as if never dispatched
        task->attempts--;
        free(input);
        return -1;
    }
    dispatch_worker_assign(w, task->task_id, zclock_mono());
    if (self->exporter)
        exporter_task_dispatched(self->exporter, w->stage);
    broker_publish_task(self, task, who);
    proto_msg_t msg = {.cmd = PROTO_TASK};
    msg.task.task_id = task->task_id;
    msg.task.run_id = (int64_t)self->active.id;
    msg.task.stage = task->stage;
    msg.task.attempt = task->attempts;
    msg.task.input = input;
    msg.task.input_len = input_len;
    broker_send_worker(self, w, &msg);
    free(input);
    log_info("dispatch task=%s attempt=%d worker=%s bytes=%zu build_us=%lld", task->task_id,
             task->attempts, who, input_len, (long long)build_usec);
    return 0;
}

//  Queues the ready tasks and hands out what idle workers can take.
void engine_pump(broker_t *self)
{
    if (outage_holding(&self->outage, zclock_mono()))
        return;
    if (self->outage.fail_run) {
        s_outage_fail_run(self, NULL);   //  the probe after the hold
        return;
    }
    s_start_queued(self);
    if (!self->active.id)
        return;
    int64_t now = broker_wall();
    for (size_t i = 0; i < self->active.n_tasks; i++) {
        run_task_t *t = &self->active.tasks[i];
        int stage = dag_task_stage(t);
        if (stage >= 0 && dag_task_ready(&self->active, t, now))
            dispatch_queue_push(self->dispatch, (stage_t)stage, t->task_id);
    }
    for (int s = 0; s < STAGE_COUNT && self->active.id; s++) {
        dispatch_worker_t *w;
        char task_id[48];
        while (self->active.id && (w = dispatch_idle_lru(self->dispatch, (stage_t)s)) &&
               dispatch_queue_pop(self->dispatch, (stage_t)s, task_id)) {
            run_task_t *t = dag_task_find(&self->active, task_id);
            if (t && t->state == TASK_PENDING && s_dispatch(self, t, w) != 0)
                return;   //  the batch failed: its commit says why
        }
    }
}
