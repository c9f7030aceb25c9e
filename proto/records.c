/*  records.c: the durable records (runs, model versions, audit entries):
    their helpers and their field tables.

    Each record is described once, as a table of fields for the one codec of
    proto/ (fields.h), which keeps the keys on the wire equal to the struct
    field names by construction and makes every record as strict as every
    other payload: the decoder refuses a missing, repeated or unknown key, a
    wrong type, a string that does not fit its field, an enum name it does
    not know, and trailing bytes, naming the key ("run.tasks[2].stage") in
    the message. The tables are also what control_io.c uses for the lists of
    RUNS and MODELS, and stage_io.c for metrics (records_fields.h).
*/
#include "records.h"
#include "records_fields.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --- enum names --------------------------------------------------------

static const char *const s_run_states[] = {"queued", "running", "succeeded", "failed"};
static const char *const s_task_states[] = {"pending", "running", "done", "failed"};
static const char *const s_version_stages[] = {"none", "staging", "production", "archived"};
#define S_COUNT(a) (sizeof(a) / sizeof((a)[0]))

//  Enum fields are read and written as int (F_ENUM in fields.h).
_Static_assert(sizeof(run_state_t) == sizeof(int), "enum size");
_Static_assert(sizeof(task_state_t) == sizeof(int), "enum size");
_Static_assert(sizeof(version_stage_t) == sizeof(int), "enum size");

static const char *s_enum_name(const char *const *names, size_t n, int value)
{
    return value >= 0 && (size_t)value < n ? names[value] : NULL;
}

const char *run_state_name(run_state_t s)
{
    return s_enum_name(s_run_states, S_COUNT(s_run_states), (int)s);
}

const char *task_state_name(task_state_t s)
{
    return s_enum_name(s_task_states, S_COUNT(s_task_states), (int)s);
}

const char *version_stage_name(version_stage_t s)
{
    return s_enum_name(s_version_stages, S_COUNT(s_version_stages), (int)s);
}

//  --- run helpers --------------------------------------------------------

void run_clear(run_t *run)
{
    if (!run)
        return;
    free(run->tasks);
    memset(run, 0, sizeof *run);
}

int run_copy(run_t *dst, const run_t *src)
{
    assert(src && dst && src->n_tasks <= RUN_TASKS_MAX);
    run_task_t *tasks = NULL;
    if (src->n_tasks > 0) {
        tasks = malloc(src->n_tasks * sizeof *tasks);
        if (!tasks)
            return MLOPS_ENOMEM;
        memcpy(tasks, src->tasks, src->n_tasks * sizeof *tasks);
    }
    *dst = *src;
    dst->tasks = tasks;
    return 0;
}

//  Copies src into a fixed field of size bytes, truncating, always NUL-ended.
static void s_copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

int run_task_id(char *out, size_t size, uint64_t run_id, const char *stage, const char *family)
{
    int len = family && *family
                  ? snprintf(out, size, "%llu-%s-%s", (unsigned long long)run_id, stage, family)
                  : snprintf(out, size, "%llu-%s", (unsigned long long)run_id, stage);
    return len < 0 || (size_t)len >= size ? MLOPS_EINVAL : 0;
}

run_task_t *run_add_task(run_t *run, const char *stage, const char *family)
{
    if (run->n_tasks >= RUN_TASKS_MAX)
        return NULL;
    run_task_t *tasks = realloc(run->tasks, (run->n_tasks + 1) * sizeof *tasks);
    if (!tasks)
        return NULL;
    run->tasks = tasks;
    run_task_t *task = &tasks[run->n_tasks++];
    memset(task, 0, sizeof *task);
    s_copy_text(task->stage, sizeof task->stage, stage);
    s_copy_text(task->family, sizeof task->family, family);
    run_task_id(task->task_id, sizeof task->task_id, run->id, task->stage, task->family);
    return task;
}

//  --- field tables -------------------------------------------------------

static const fields_spec_t s_task_fields[] = {
    FIELD_STR(run_task_t, task_id),
    FIELD_STR(run_task_t, stage),
    FIELD_STR(run_task_t, family),
    FIELD_ENUM(run_task_t, state, s_task_states),
    FIELD_I32(run_task_t, attempts),
    FIELD_I64(run_task_t, started_ms),
    FIELD_I64(run_task_t, ended_ms),
    FIELD_I64(run_task_t, retry_at_ms),
    FIELD_STR(run_task_t, worker),
    FIELD_STR(run_task_t, error),
};

const fields_spec_t records_run_fields[] = {
    FIELD_U64(run_t, id),
    FIELD_ENUM(run_t, state, s_run_states),
    FIELD_STR(run_t, source),
    FIELD_STR(run_t, reason),
    FIELD_I32(run_t, coalesced),
    FIELD_I64(run_t, created_ms),
    FIELD_I64(run_t, started_ms),
    FIELD_I64(run_t, ended_ms),
    FIELD_STR(run_t, dataset_hash),
    FIELD_U64(run_t, version),
    FIELD_BOOL(run_t, promoted),
    FIELD_STR(run_t, outcome),
    FIELD_STR(run_t, error),
    FIELD_VEC(run_t, tasks, n_tasks, RUN_TASKS_MAX, s_task_fields),
};

const fields_spec_t records_metrics_fields[] = {
    FIELD_F64(metrics_t, accuracy),
    FIELD_F64(metrics_t, precision),
    FIELD_F64(metrics_t, recall),
    FIELD_F64(metrics_t, f1),
    FIELD_F64(metrics_t, auc),
    FIELD_F64(metrics_t, log_loss),
    FIELD_I64(metrics_t, tp),
    FIELD_I64(metrics_t, fp),
    FIELD_I64(metrics_t, tn),
    FIELD_I64(metrics_t, fn),
    FIELD_OSTR(metrics_t, task),
    FIELD_OF64(metrics_t, macro_f1),
    FIELD_OF64(metrics_t, r2),
    FIELD_OF64(metrics_t, rmse),
    FIELD_OF64(metrics_t, mae),
};

const fields_spec_t records_version_fields[] = {
    FIELD_U64(version_t, version),
    FIELD_U64(version_t, run_id),
    FIELD_STR(version_t, dataset_hash),
    FIELD_STR(version_t, family),
    FIELD_STR(version_t, params),
    FIELD_MAP(version_t, metrics, records_metrics_fields),
    FIELD_STR(version_t, sha256),
    FIELD_U64(version_t, artifact_len),
    FIELD_ENUM(version_t, stage, s_version_stages),
    FIELD_STR(version_t, reason),
    FIELD_I64(version_t, created_ms),
};

const fields_spec_t records_audit_fields[] = {
    FIELD_U64(audit_t, seq),
    FIELD_I64(audit_t, ts_ms),
    FIELD_STR(audit_t, action),
    FIELD_U64(audit_t, version),
    FIELD_U64(audit_t, previous),
    FIELD_STR(audit_t, reason),
};

static const fields_table_t s_run_table = FIELDS_TABLE("run", run_t, records_run_fields);
static const fields_table_t s_version_table = FIELDS_TABLE("version", version_t, records_version_fields);
static const fields_table_t s_audit_table = FIELDS_TABLE("audit", audit_t, records_audit_fields);

//  --- codecs -------------------------------------------------------------

int run_encode(const run_t *run, uint8_t **out, size_t *out_len)
{
    return fields_encode(&s_run_table, run, out, out_len);
}

int run_decode(const uint8_t *data, size_t len, run_t *out, mlops_err_t *err)
{
    return fields_decode(&s_run_table, data, len, out, err);
}

int version_encode(const version_t *v, uint8_t **out, size_t *out_len)
{
    return fields_encode(&s_version_table, v, out, out_len);
}

int version_decode(const uint8_t *data, size_t len, version_t *out, mlops_err_t *err)
{
    return fields_decode(&s_version_table, data, len, out, err);
}

int audit_encode(const audit_t *a, uint8_t **out, size_t *out_len)
{
    return fields_encode(&s_audit_table, a, out, out_len);
}

int audit_decode(const uint8_t *data, size_t len, audit_t *out, mlops_err_t *err)
{
    return fields_decode(&s_audit_table, data, len, out, err);
}
