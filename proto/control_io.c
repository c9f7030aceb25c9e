/*  control_io.c: see control_io.h. Every answer is a field table of
    fields.h; RUNS and MODELS carry the records' own tables (records.c), so
    a client reads a run exactly as the store keeps it: the bytes of each
    record in the list are the bytes run_encode / version_encode write. */
#include "control_io.h"

#include <string.h>

#include "fields.h"
#include "records_fields.h"

//  A str key added to an answer after its first version: an older
//  broker's answer, without it, still decodes (as "").
#define FIELD_OSTR(T, f) {#f, F_STR, offsetof(T, f), 0, FIELD_SIZE_(T, f), 0, NULL, 0, NULL, true}

static const fields_spec_t s_retrain[] = {
    FIELD_I64(control_retrain_t, run_id),
    FIELD_BOOL(control_retrain_t, coalesced),
    FIELD_STR(control_retrain_t, state),
};
static const fields_spec_t s_worker[] = {
    FIELD_STR(control_worker_t, stage),
    FIELD_STR(control_worker_t, host),
    FIELD_I64(control_worker_t, pid),
    FIELD_STR(control_worker_t, state),
    FIELD_STR(control_worker_t, task_id),
    FIELD_I64(control_worker_t, last_seen_ms),
    FIELD_OSTR(control_worker_t, name),
    FIELD_OSTR(control_worker_t, progress),
};
static const fields_spec_t s_infer[] = {
    FIELD_STR(control_infer_t, host),
    FIELD_I64(control_infer_t, pid),
    FIELD_I64(control_infer_t, model_version),
    FIELD_I64(control_infer_t, last_seen_ms),
    FIELD_OSTR(control_infer_t, name),
};
static const fields_spec_t s_status[] = {
    FIELD_I64(control_status_t, active_run),
    FIELD_I64(control_status_t, queued),
    FIELD_I64(control_status_t, next_schedule_ms),
    FIELD_I64(control_status_t, production_version),
    FIELD_VEC(control_status_t, workers, n_workers, CONTROL_WORKERS_MAX, s_worker),
    FIELD_STR(control_status_t, waiting),
    //  `serving` came after MLOPS/1's first STATUS: optional, so this decoder
    //  still reads an older broker's answer
    FIELD_OVEC(control_status_t, serving, n_serving, CONTROL_WORKERS_MAX, s_infer),
};
static const fields_spec_t s_promote[] = {
    FIELD_I64(control_promote_t, version),
    FIELD_I64(control_promote_t, previous),
    FIELD_OSTR(control_promote_t, rollout),
};
static const fields_spec_t s_model[] = {
    FIELD_I64(control_model_t, version),
    FIELD_STR(control_model_t, sha256),
    FIELD_STR(control_model_t, family),
    FIELD_BIN(control_model_t, artifact, artifact_len),
};
static const fields_spec_t s_model_ref[] = {
    FIELD_I64(control_model_ref_t, version),
    FIELD_STR(control_model_ref_t, sha256),
    FIELD_STR(control_model_ref_t, family),
    FIELD_NAT(control_model_ref_t, size),
};
static const fields_spec_t s_runs[] = {
    FIELD_VEC(control_runs_t, runs, n_runs, CONTROL_LIST_MAX, records_run_fields),
};
static const fields_spec_t s_models[] = {
    FIELD_NAT(control_models_t, production),
    FIELD_VEC(control_models_t, versions, n_versions, CONTROL_LIST_MAX, records_version_fields),
};
static const fields_spec_t s_audit[] = {
    FIELD_VEC(control_audit_t, audit, n_audit, CONTROL_LIST_MAX, records_audit_fields),
};
static const fields_spec_t s_serving[] = {
    FIELD_I64(control_serving_t, production_version),
};

static const fields_spec_t s_log[] = {
    FIELD_STR(control_log_t, task_id),
    FIELD_NAT(control_log_t, attempt),
    FIELD_STR(control_log_t, worker),
    FIELD_NAT(control_log_t, bytes_dropped),
    FIELD_STR(control_log_t, text),
};
static const fields_spec_t s_logs[] = {
    FIELD_VEC(control_logs_t, logs, n_logs, CONTROL_LOGS_MAX, s_log),
};

FIELDS_CODEC(control, retrain, control_retrain_t, s_retrain)
FIELDS_CODEC(control, status, control_status_t, s_status)
FIELDS_CLEAR(control, status, control_status_t)
FIELDS_CODEC(control, runs, control_runs_t, s_runs)
FIELDS_CLEAR(control, runs, control_runs_t)
FIELDS_CODEC(control, models, control_models_t, s_models)
FIELDS_CLEAR(control, models, control_models_t)
FIELDS_CODEC(control, audit, control_audit_t, s_audit)
FIELDS_CLEAR(control, audit, control_audit_t)
FIELDS_CODEC(control, promote, control_promote_t, s_promote)
FIELDS_CODEC(control, model, control_model_t, s_model)
FIELDS_CODEC(control, model_ref, control_model_ref_t, s_model_ref)
FIELDS_CODEC(control, serving, control_serving_t, s_serving)
FIELDS_CODEC(control, log, control_log_t, s_log)
FIELDS_CODEC(control, logs, control_logs_t, s_logs)
FIELDS_CLEAR(control, logs, control_logs_t)
