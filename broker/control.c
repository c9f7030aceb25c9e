/*  control.c: the broker's control socket (broker_internal.h): one
    function per command, each filling a reply; broker_control_handle
    decodes the request and encodes the REPLY around them. A command that
    changes something (RETRAIN, PROMOTE, ROLLBACK) starts from an empty
    batch, so a refusal aborts only its own change. CANARY and PROMOTE's
    rollouts are rollout_watch.c's.
*/
#include "broker.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "dag.h"
#include "duration.h"
#include "log.h"
#include "registry.h"
#include "source.h"

#define RUNS_DEFAULT 20

/* --- the control socket -------------------------------------------------- */

typedef struct {
    bool ok;                      //  carried out
    mlops_err_t err;              //  why not
    uint8_t *data;                //  encoded answer, owned
    size_t data_len;
} s_reply_t;

static void s_reply_fail(s_reply_t *r, int rc, const char *what)
{
    r->ok = false;
    if (!r->err.msg[0])
        mlops_err_set(&r->err, rc, "%s: %s", what, mlops_strerror(rc));
}

static void s_reply_data(s_reply_t *r, int rc, const char *what)
{
    if (rc)
        s_reply_fail(r, rc, what);
    else
        r->ok = true;
}

//  A change while the store refuses writes (outage.h) is not tried: it is
//  answered with the cause, whose code the REPLY gives as `unavailable`.
//  True when it was refused so.
static bool s_held(broker_t *self, const char *what, s_reply_t *r)
{
    const outage_t *o = &self->outage;
    if (!outage_holding(o, zclock_mono()))
        return false;
    mlops_err_set(&r->err, o->cause.code, "%s: store unavailable, retry in %lld ms: %s", what,
                  (long long)(o->until_mono - zclock_mono()), o->cause.msg);
    r->ok = false;
    return true;
}

//  Commits the change a command made before it is answered, so the answer
//  never waits on (or is lost with) what the change sets going. 0, or the
//  error with r failed: the store's fault when it refused the write.
static int s_commit(broker_t *self, const char *what, s_reply_t *r)
{
    int rc = broker_flush(self);
    if (rc == 0)
        return 0;
    mlops_err_t cause;
    if (store_fault(self->store, &cause))
        mlops_err_set(&r->err, cause.code, "%s: store unavailable: %s", what, cause.msg);
    else
        mlops_err_set(&r->err, rc, "%s: the change was not stored: %s", what, mlops_strerror(rc));
    s_reply_fail(r, r->err.code, what);
    return r->err.code;
}

//  --trigger-min-interval: a RETRAIN for a source accepted less than the
//  interval ago is refused, EAGAIN (`unavailable`: retry later), naming the
//  limit. True when it was refused.
static bool s_too_soon(broker_t *self, const char *source, s_reply_t *r)
{
    int64_t limit = self->cfg.trigger_min_interval_msec;
    int64_t wait = limit ? throttle_wait(&self->triggers, source, zclock_mono(), limit) : 0;
    if (!wait)
        return false;
    char shown[64], text[32];
    mlops_err_set(&r->err, EAGAIN, "RETRAIN: source %s was triggered less than %s ago "
                  "(--trigger-min-interval): retry in %lld ms", broker_clean(source, shown, sizeof shown),
                  duration_format(limit, text, sizeof text), (long long)wait);
    r->ok = false;
    return true;
}

//  A source that breaks the grammar (proto/source.h) is refused before
//  any run starts, `invalid` naming the rule, not failed as a run later.
//  True when it was refused.
static bool s_bad_source(const char *source, s_reply_t *r)
{
    source_t parsed;
    mlops_err_t why;
    if (source_parse(source, &parsed, &why) == 0)
        return false;
    char shown[64];
    log_warning("control: RETRAIN refused: %s source=%s", why.msg, broker_clean(source, shown, sizeof shown));
    mlops_err_set(&r->err, why.code, "RETRAIN: %s", why.msg);
    r->ok = false;
    return true;
}

static void s_cmd_retrain(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    control_retrain_t answer = {0};
    const char *source = *msg->retrain.source ? msg->retrain.source : self->cfg.default_source;
    if (s_bad_source(source, r) || s_held(self, "RETRAIN", r) || s_too_soon(self, source, r))
        return;
    int rc = engine_trigger(self, msg->retrain.source, msg->retrain.reason, &answer, &r->err);
    if (rc == 0)
        rc = s_commit(self, "RETRAIN", r);
    if (rc == 0 && self->cfg.trigger_min_interval_msec)
        throttle_note(&self->triggers, source, zclock_mono());
    if (rc == 0)
        rc = control_retrain_encode(&answer, &r->data, &r->data_len);
    s_reply_data(r, rc, "RETRAIN");
    engine_pump(self);
}

//  Inference workers by host, then name, for a readable status.
static int s_infer_order_fn(const void *a, const void *b)
{
    const control_infer_t *x = a, *y = b;
    int h = strcmp(x->host, y->host);
    return h ? h : strcmp(x->name, y->name);
}

//  Workers in DAG order, then by host and name, for a readable status.
static int s_worker_order_fn(const void *a, const void *b)
{
    const control_worker_t *x = a, *y = b;
    int sx = stage_from_name(x->stage), sy = stage_from_name(y->stage);
    if (sx != sy)
        return sx - sy;
    int h = strcmp(x->host, y->host);
    return h ? h : strcmp(x->name, y->name);
}

//  Says which task of the active run is ready but has no worker of its
//  stage to go to (it would wait for ever, silently); "" when none.
static void s_waiting(broker_t *self, char *out, size_t size)
{
    out[0] = '\0';
    int64_t now = broker_wall();
    int64_t version = fleet_wait_version(self->fleet);
    run_task_t *load = version ? engine_load_model_task(self) : NULL;
    if (load) {
        size_t serving = 0, n = fleet_count(self->fleet);
        for (size_t i = 0; i < n; i++)
            serving += fleet_at(self->fleet, i)->version == version;
        snprintf(out, size, "%s waits: %zu of %zu inference workers serve v%lld", load->task_id, serving,
                 n, (long long)version);
        return;
    }
    for (size_t i = 0; i < self->active.n_tasks; i++) {
        const run_task_t *t = &self->active.tasks[i];
        int stage = dag_task_stage(t);
        if (stage < 0 || !(dispatch_queue_contains(self->dispatch, t->task_id) ||
                           dag_task_ready(&self->active, t, now)))
            continue;
        if (dispatch_stage_workers(self->dispatch, (stage_t)stage) == 0) {
            snprintf(out, size, "%s waits: no %s worker is connected", t->task_id, t->stage);
            return;
        }
    }
}

static void s_cmd_status(broker_t *self, s_reply_t *r)
{
    control_status_t st = {.active_run = (int64_t)self->active.id,
                           .queued = (int64_t)self->queued_id,
                           .next_schedule_ms = self->next_schedule_ms};
    version_t prod;
    mlops_err_t err;
    if (registry_production(self->store, &prod, &err) == 0)
        st.production_version = (int64_t)prod.version;
    size_t n = dispatch_worker_count(self->dispatch);
    st.workers = calloc(n ? n : 1, sizeof *st.workers);
    if (!st.workers) {
        s_reply_fail(r, MLOPS_ENOMEM, "STATUS");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const dispatch_worker_t *w = dispatch_worker_at(self->dispatch, i);
        control_worker_t *cw = &st.workers[i];
        snprintf(cw->stage, sizeof cw->stage, "%s", stage_name(w->stage));
        snprintf(cw->host, sizeof cw->host, "%s", w->host);
        cw->pid = w->pid;
        snprintf(cw->state, sizeof cw->state, "%s", w->busy ? "busy" : "idle");
        snprintf(cw->task_id, sizeof cw->task_id, "%s", w->task_id);
        snprintf(cw->name, sizeof cw->name, "%s", w->name);
        cw->last_seen_ms = w->last_seen_ms;
        progress_table_text(self->progress, w->task_id, cw->progress, sizeof cw->progress);
    }
    st.n_workers = n;
    qsort(st.workers, n, sizeof *st.workers, s_worker_order_fn);
    s_waiting(self, st.waiting, sizeof st.waiting);
    size_t n_infer = fleet_count(self->fleet);
    st.serving = calloc(n_infer ? n_infer : 1, sizeof *st.serving);
    if (!st.serving) {
        free(st.workers);
        s_reply_fail(r, MLOPS_ENOMEM, "STATUS");
        return;
    }
    for (size_t i = 0; i < n_infer; i++) {
        const fleet_worker_t *w = fleet_at(self->fleet, i);
        snprintf(st.serving[i].host, sizeof st.serving[i].host, "%s", w->host);
        snprintf(st.serving[i].name, sizeof st.serving[i].name, "%s", w->name);
        st.serving[i].pid = w->pid;
        st.serving[i].model_version = w->version;
        st.serving[i].last_seen_ms = w->last_seen_ms;
    }
    st.n_serving = n_infer;
    qsort(st.serving, n_infer, sizeof *st.serving, s_infer_order_fn);
    s_reply_data(r, control_status_encode(&st, &r->data, &r->data_len), "STATUS");
    free(st.workers);
    free(st.serving);
}

//  SERVING: an inference worker says which version it serves. The answer
//  carries the production version, so a worker that missed a `model` event
//  (it joined late, the events socket dropped it) still catches up.
static void s_cmd_serving(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    char host[64], name[PROTO_NAME_MAX + 1], who[224];
    log_sanitize(msg->serving.host, strlen(msg->serving.host), host, sizeof host);
    int rc = broker_peer_name(msg->serving.name, host, msg->serving.pid, name, sizeof name, &r->err);
    if (rc == 0 && *msg->serving.name   //  an MLOPS/1 worker is host:pid, as before
        && broker_name_taken(self, name, host, msg->serving.pid, NULL, 0, who, sizeof who))
        rc = mlops_err_set(&r->err, MLOPS_ESTATE, "SERVING: the name '%s' is taken by %s", name, who);
    const fleet_worker_t *old = rc ? NULL : fleet_find(self->fleet, name);
    int64_t before = old ? old->version : -1;
    if (rc == 0)
        rc = fleet_report(self->fleet, name, host, msg->serving.pid, msg->serving.model_version,
                          msg->serving.interval_ms, zclock_mono(), broker_wall(), &r->err);
    if (rc) {
        char why[256];
        log_warning("control: refused a report: %s", broker_clean(r->err.msg, why, sizeof why));
        s_reply_fail(r, rc, "SERVING");
        return;
    }
    broker_drift_report(self, msg->serving.profile_version, msg->serving.profile,
                        msg->serving.profile_len);
    if (before != msg->serving.model_version)
        log_info("inference worker %s name=%s host=%s pid=%lld version=%lld",
                 before < 0 ? "joined" : "serves", name, host, (long long)msg->serving.pid,
                 (long long)msg->serving.model_version);
    control_serving_t answer = {0};
    version_t prod;
    mlops_err_t err;
    if (registry_production(self->store, &prod, &err) == 0)
        answer.production_version = (int64_t)prod.version;
    s_reply_data(r, control_serving_encode(&answer, &r->data, &r->data_len), "SERVING");
    engine_load_wait_check(self);
}

static void s_cmd_runs(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    control_runs_t runs = {0};
    size_t limit = msg->runs.limit > 0 ? (size_t)msg->runs.limit : RUNS_DEFAULT;
    int rc = store_run_list(self->store, limit, &runs.runs, &runs.n_runs, &r->err);
    if (rc == 0)
        rc = control_runs_encode(&runs, &r->data, &r->data_len);
    store_runs_free(&runs.runs, runs.n_runs);
    s_reply_data(r, rc, "RUNS");
}

static void s_cmd_models(broker_t *self, s_reply_t *r)
{
    control_models_t models = {0};
    int rc = store_version_list(self->store, &models.versions, &models.n_versions, &r->err);
    for (size_t i = 0; rc == 0 && i < models.n_versions; i++)
        if (models.versions[i].stage == VERSION_PRODUCTION)
            models.production = (int64_t)models.versions[i].version;
    if (rc == 0)
        rc = control_models_encode(&models, &r->data, &r->data_len);
    free(models.versions);
    s_reply_data(r, rc, "MODELS");
}

//  AUDIT: the registry's audit log, oldest first; the newest
//  CONTROL_LIST_MAX when it holds more.
static void s_cmd_audit(broker_t *self, s_reply_t *r)
{
    control_audit_t log = {0};
    int rc = store_audit_list(self->store, &log.audit, &log.n_audit, &r->err);
    if (rc == 0 && log.n_audit > CONTROL_LIST_MAX) {
        size_t skip = log.n_audit - CONTROL_LIST_MAX;
        memmove(log.audit, log.audit + skip, CONTROL_LIST_MAX * sizeof *log.audit);
        log.n_audit = CONTROL_LIST_MAX;
    }
    if (rc == 0)
        rc = control_audit_encode(&log, &r->data, &r->data_len);
    free(log.audit);
    s_reply_data(r, rc, "AUDIT");
}

//  PROMOTE or ROLLBACK in txn into *answer, ending an active rollout first
//  (a plain PROMOTE) or instead (ROLLBACK: production does not change,
//  answer->rollout names what ended).
static int s_change(broker_t *self, store_txn_t *txn, const proto_msg_t *msg, const char *reason,
                    control_promote_t *answer, mlops_err_t *err)
{
    uint64_t version = 0, previous = 0;
    int rc;
    if (msg->cmd == PROTO_PROMOTE) {
        version = (uint64_t)msg->promote.version;
        rc = broker_rollout_superseded(self, txn, version, err);
        rc = rc ? rc : registry_promote_manual(self->store, txn, version, msg->promote.schema_change,
                                               reason, broker_wall(), &previous, err);
    } else {
        char why[RECORD_TEXT_MAX];
        rollout_state_t ended;
        snprintf(why, sizeof why, "ended by ROLLBACK: %.200s", *reason ? reason : "manual");
        rc = broker_rollout_stop(self, txn, why, &ended, err);
        if (rc == 0 && ended.rollout != ROLLOUT_NONE) {
            *answer = (control_promote_t){.version = ended.production, .previous = ended.version};
            snprintf(answer->rollout, sizeof answer->rollout, "%s", rollout_kind_name(ended.rollout));
            return 0;
        }
        rc = rc ? rc : registry_rollback(self->store, txn, reason, broker_wall(), &version, &previous, err);
    }
    *answer = (control_promote_t){.version = (int64_t)version, .previous = (int64_t)previous};
    return rc;
}

//  FEEDBACK: rows are stored in a batch of their own and committed before
//  the answer says so (the gateway drops what the answer counts as
//  stored); a refusal aborts only them. Without rows, the counts.
static void s_cmd_feedback(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    bool writes = msg->feedback.rows_len > 0;
    if (writes && s_held(self, "FEEDBACK", r))
        return;
    int rc = writes && broker_flush(self) != 0 ? MLOPS_ESTORE : 0;
    if (rc == 0)
        rc = broker_feedback_answer(self, msg, &r->data, &r->data_len, &r->err);
    if (rc == 0 && (!writes || s_commit(self, "FEEDBACK", r) == 0)) {
        r->ok = true;
        return;
    }
    if (rc && writes)
        batch_abort(self->batch);   //  only these rows: the batch was empty
    free(r->data);
    r->data = NULL;
    r->data_len = 0;
    s_reply_fail(r, rc ? rc : r->err.code, "FEEDBACK");
}

//  PROMOTE with a rollout key: the rollout starts, production stays.
static void s_cmd_rollout(broker_t *self, const proto_msg_t *msg, store_txn_t *txn, s_reply_t *r)
{
    control_promote_t answer = {0};
    int rc = broker_rollout_start(self, txn, msg, &answer, &r->err);
    if (rc) {
        batch_abort(self->batch);   //  only this: the batch was empty
        s_reply_fail(r, rc, "PROMOTE");
        return;
    }
    if (s_commit(self, "PROMOTE", r) == 0)
        s_reply_data(r, control_promote_encode(&answer, &r->data, &r->data_len), "PROMOTE");
}

//  PROMOTE and ROLLBACK: one transaction, then the "model" event (none
//  when a ROLLBACK ended a rollout: production stays).
static void s_cmd_production(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    control_promote_t answer = {0};
    if (s_held(self, proto_cmd_name(msg->cmd), r))
        return;
    int rc = broker_flush(self);   //  an empty batch: a refusal aborts only this
    store_txn_t *txn = rc ? NULL : broker_txn(self);
    rc = txn ? 0 : MLOPS_ESTORE;
    if (rc == 0 && msg->cmd == PROTO_PROMOTE && rollout_requested(msg)) {
        s_cmd_rollout(self, msg, txn, r);
        return;
    }
    const char *reason = msg->cmd == PROTO_PROMOTE ? msg->promote.reason : msg->rollback.reason;
    if (rc == 0)
        rc = s_change(self, txn, msg, reason, &answer, &r->err);
    if (rc)
        batch_abort(self->batch);   //  only this: the batch was empty
    const char *what = proto_cmd_name(msg->cmd);
    if (rc) {
        s_reply_fail(r, rc, what);
        return;
    }
    bool ended = answer.rollout[0] != '\0';
    char message[RECORD_TEXT_MAX + 32];
    snprintf(message, sizeof message, "%s: %s", msg->cmd == PROTO_PROMOTE ? "promote" : "rollback",
             *reason ? reason : "manual");
    if (!ended)
        broker_publish(self, "model", 0, "", "production", (uint64_t)answer.version, message);
    if (s_commit(self, what, r))
        return;
    char shown[128];
    log_info("%s version=%lld previous=%lld reason=%s%s", what, (long long)answer.version,
             (long long)answer.previous, broker_clean(*reason ? reason : "manual", shown, sizeof shown),
             ended ? " (ended the rollout)" : "");
    if (!ended)
        engine_load_wait_superseded(self, (uint64_t)answer.version,
                                    msg->cmd == PROTO_PROMOTE ? "promote" : "rollback");
    s_reply_data(r, control_promote_encode(&answer, &r->data, &r->data_len), what);
}

//  GET_MODEL by_hash: the artifact's name and size, the bytes to be fetched
//  from the data service (a claim check), when it holds them as an object.
//  0 with the answer encoded, or MLOPS_ENOTFOUND (a version registered by an
//  older broker, its bytes kept apart: answered inline), or another error.
static int s_model_ref(broker_t *self, const version_t *v, s_reply_t *r)
{
    control_model_ref_t answer = {.version = (int64_t)v->version};
    uint64_t size = 0;
    mlops_err_t err;
    int rc = store_object_size(self->store, NULL, v->sha256, &size, &err);
    if (rc == MLOPS_ENOTFOUND || rc == MLOPS_EINVAL)
        return MLOPS_ENOTFOUND;
    if (rc)
        return mlops_err_set(&r->err, rc, "GET_MODEL: %s", err.msg);
    snprintf(answer.sha256, sizeof answer.sha256, "%s", v->sha256);
    snprintf(answer.family, sizeof answer.family, "%s", v->family);
    answer.size = (int64_t)size;
    return control_model_ref_encode(&answer, &r->data, &r->data_len);
}

static void s_cmd_get_model(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    version_t v;
    int rc;
    if (msg->get_model.version > 0)
        rc = store_version_get(self->store, NULL, (uint64_t)msg->get_model.version, &v, &r->err);
    else if ((rc = registry_production(self->store, &v, &r->err)) == MLOPS_ENOTFOUND)
        rc = mlops_err_set(&r->err, MLOPS_ENOMODEL, "no version is in production yet");
    int ref = rc == 0 && msg->get_model.by_hash ? s_model_ref(self, &v, r) : MLOPS_ENOTFOUND;
    if (ref != MLOPS_ENOTFOUND) {
        s_reply_data(r, ref, "GET_MODEL");
        return;
    }
    uint8_t *artifact = NULL;
    control_model_t answer = {0};
    if (rc == 0)
        rc = store_artifact_get(self->store, NULL, v.version, &artifact, &answer.artifact_len, &r->err);
    if (rc == 0) {
        answer.version = (int64_t)v.version;
        answer.artifact = artifact;
        snprintf(answer.sha256, sizeof answer.sha256, "%s", v.sha256);
        snprintf(answer.family, sizeof answer.family, "%s", v.family);
        rc = control_model_encode(&answer, &r->data, &r->data_len);
    }
    free(artifact);
    s_reply_data(r, rc, "GET_MODEL");
}

//  LOGS: the kept log lines of a run's tasks (runlogs.c).
static void s_cmd_logs(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    s_reply_data(r, runlogs_answer(self, msg->logs.run_id, msg->logs.task_id, &r->data, &r->data_len, &r->err),
                 "LOGS");
}

static void s_control_dispatch(broker_t *self, const proto_msg_t *msg, s_reply_t *r)
{
    switch (msg->cmd) {
    case PROTO_RETRAIN: s_cmd_retrain(self, msg, r); break;
    case PROTO_STATUS: s_cmd_status(self, r); break;
    case PROTO_RUNS: s_cmd_runs(self, msg, r); break;
    case PROTO_MODELS: s_cmd_models(self, r); break;
    case PROTO_PROMOTE:
    case PROTO_ROLLBACK: s_cmd_production(self, msg, r); break;
    case PROTO_GET_MODEL: s_cmd_get_model(self, msg, r); break;
    case PROTO_SERVING: s_cmd_serving(self, msg, r); break;
    case PROTO_LOGS: s_cmd_logs(self, msg, r); break;
    case PROTO_AUDIT: s_cmd_audit(self, r); break;
    case PROTO_DRIFT: s_reply_data(r, broker_drift_answer(self, &r->data, &r->data_len, &r->err), "DRIFT"); break;
    case PROTO_FEEDBACK: s_cmd_feedback(self, msg, r); break;
    case PROTO_CANARY:
        s_reply_data(r, broker_rollout_answer(self, msg, &r->data, &r->data_len, &r->err), "CANARY");
        break;
    default:
        mlops_err_set(&r->err, MLOPS_ECOMMAND, "%s is not a control command", proto_cmd_name(msg->cmd));
        r->ok = false;
    }
}

//  Roles (common/curve.h): which keys may send each command. Changing the
//  registry or starting runs is admin's (and the gateway's, which relays
//  /api with its own token check); reading is read's; models go to the
//  inference workers; SERVING comes only from them. A CANARY with a
//  gateway's report decides promotions: admin's and the gateway's.
static bool s_allowed(broker_t *self, zframe_t *frame, const proto_msg_t *msg, mlops_err_t *err)
{
    proto_cmd_t cmd = msg->cmd;
    static const char *const change[] = {"admin", "gateway", NULL};
    static const char *const read[] = {"read", "admin", "gateway", NULL};
    static const char *const model[] = {"infer", "read", "admin", "gateway", NULL};
    static const char *const serving[] = {"infer", NULL};
    const char *const *roles = cmd == PROTO_RETRAIN || cmd == PROTO_PROMOTE || cmd == PROTO_ROLLBACK
                               || (cmd == PROTO_FEEDBACK && msg->feedback.rows_len > 0)
                               || broker_rollout_reporting(msg)
                                   ? change
                               : cmd == PROTO_GET_MODEL ? model
                               : cmd == PROTO_SERVING   ? serving
                                                        : read;
    for (size_t i = 0; roles[i]; i++)
        if (curve_peer_has_role(self->curve, frame, roles[i]))
            return true;
    log_warning("control: %s refused: the key has no role that may send it", proto_cmd_name(cmd));
    mlops_err_set(err, MLOPS_EINVAL, "%s is not allowed for this key: it needs the role %s "
                  "(README, Security)", proto_cmd_name(cmd), roles[0]);
    return false;
}

zmsg_t *broker_control_handle(broker_t *self, zmsg_t **in)
{
    assert(self && in && *in);
    size_t frames = zmsg_size(*in);
    zframe_t *id = zmsg_pop(*in);
    zframe_t *delim = frames == 3 ? zmsg_pop(*in) : NULL;
    zframe_t *payload = zmsg_pop(*in);
    s_reply_t r = {0};
    if (frames < 2 || frames > 3 || (delim && zframe_size(delim) != 0)) {
        mlops_err_set(&r.err, MLOPS_EPROTO,
                      "malformed envelope: %zu frames (expected [payload] or [\"\", payload])",
                      frames ? frames - 1 : 0);
    } else {
        proto_msg_t *msg = proto_msg_decode(zframe_data(payload), zframe_size(payload), &r.err);
        if (msg && !s_allowed(self, payload, msg, &r.err))
            r.ok = false;
        else if (msg)
            s_control_dispatch(self, msg, &r);
        else {
            char sample[SAMPLE_BYTES * 2];
            char why[256];
            log_warning("control: refused a request: %s sample=%s",
                        broker_clean(mlops_err_text(&r.err, r.err.code), why, sizeof why),
                        broker_sample(zframe_data(payload), zframe_size(payload), sample, sizeof sample));
        }
        proto_msg_destroy(&msg);
    }
    zmsg_t *out = NULL;
    zframe_t *frame = NULL;
    if (id) {
        proto_msg_t reply = {.cmd = PROTO_REPLY};
        reply.reply.ok = r.ok;
        reply.reply.error = r.ok ? "" : mlops_err_text(&r.err, r.err.code);
        reply.reply.code = r.ok ? "" : proto_reply_code(r.err.code);
        reply.reply.data = r.ok ? r.data : NULL;
        reply.reply.data_len = r.ok ? r.data_len : 0;
        frame = broker_frame_of(&reply);
    }
    if (frame) {
        out = zmsg_new();
        zmsg_addmem(out, zframe_data(id), zframe_size(id));
        if (delim)
            zmsg_addmem(out, "", 0);
        zmsg_append(out, &frame);
    }
    free(r.data);
    zframe_destroy(&id);
    zframe_destroy(&delim);
    zframe_destroy(&payload);
    zmsg_destroy(in);
    return out;
}
