/*  records.h: the durable records (runs, model versions, audit entries) and
    their msgpack codec. The same bytes go into LMDB and into REPLY data, so a
    Python client reads a run exactly as the broker stored it.

    Records use fixed-size text fields so a record is one flat struct that is
    cheap to copy and never half-owned; longer text is truncated on encode
    (and decode refuses strings longer than the field). A run's tasks are the
    one variable part and are owned by the run (run_clear frees them).
*/
#ifndef MLOPS_RECORDS_H
#define MLOPS_RECORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

#define RECORD_NAME_MAX 32      //  stage, family, state names
#define RECORD_TEXT_MAX 256     //  source, reason, params
#define RECORD_ERROR_MAX 512    //  error messages
#define RUN_TASKS_MAX 64        //  tasks in one run (decode limit)

typedef enum {
    RUN_QUEUED = 0,     //  triggered, waiting for the active run to end
    RUN_RUNNING = 1,    //  stages are being worked
    RUN_SUCCEEDED = 2,  //  load_model done (a version may or may not be promoted)
    RUN_FAILED = 3,     //  a task ran out of attempts; error says why
} run_state_t;

typedef enum {
    TASK_PENDING = 0,   //  waiting for its inputs or a worker
    TASK_RUNNING = 1,   //  dispatched to a worker
    TASK_DONE = 2,      //  result stored
    TASK_FAILED = 3,    //  out of attempts
} task_state_t;

typedef struct {
    char task_id[48];                 //  "<run>-<stage>[-<family>]"
    char stage[RECORD_NAME_MAX];      //  extract, preprocess, train, ...
    char family[RECORD_NAME_MAX];     //  model family for train tasks, else ""
    task_state_t state;               //  see task_state_t
    int32_t attempts;                 //  dispatches so far
    int64_t started_ms;               //  wall clock of the last dispatch, 0 = never
    int64_t ended_ms;                 //  wall clock of settling, 0 = not settled
    int64_t retry_at_ms;              //  not before this time (backoff), 0 = now
    char worker[64];                  //  "host:pid" of the last worker
    char error[RECORD_ERROR_MAX];     //  last error, "" if none
} run_task_t;

typedef struct {
    uint64_t id;                       //  run id, from 1, never reused
    run_state_t state;                 //  see run_state_t
    char source[RECORD_TEXT_MAX];      //  extract source spec
    char reason[RECORD_TEXT_MAX];      //  why it was triggered
    int32_t coalesced;                 //  triggers folded into this run beyond the first
    int64_t created_ms;                //  trigger time (wall clock, ms)
    int64_t started_ms;                //  first dispatch, 0 = not yet
    int64_t ended_ms;                  //  settle time, 0 = not yet
    char dataset_hash[HASH_HEX_LEN + 1]; //  from extract, "" until then
    uint64_t version;                  //  version registered by this run, 0 = none
    bool promoted;                     //  that version went to production
    char outcome[RECORD_TEXT_MAX];     //  e.g. "promoted v3" / "archived: auc 0.86 < 0.87"
    char error[RECORD_ERROR_MAX];      //  failing stage's error when FAILED
    size_t n_tasks;                    //  tasks in use
    run_task_t *tasks;                 //  owned, n_tasks entries
} run_t;

typedef enum {
    VERSION_NONE = 0,
    VERSION_STAGING = 1,
    VERSION_PRODUCTION = 2,
    VERSION_ARCHIVED = 3,
} version_stage_t;

//  The test metrics of one model. task says which fields hold values:
//  "" = binary (all but the four below; the bytes of every record written
//  before task types), "multiclass" (accuracy, macro_f1, log_loss),
//  "regression" (r2, rmse, mae). The task fields are optional on the wire,
//  written only when not zero.
typedef struct {
    double accuracy, precision, recall, f1, auc, log_loss;  //  on the test split
    int64_t tp, fp, tn, fn;                                  //  confusion matrix
    char task[RECORD_NAME_MAX];                              //  "" (binary), multiclass, regression
    double macro_f1;                                         //  multiclass
    double r2, rmse, mae;                                    //  regression
} metrics_t;

typedef struct {
    uint64_t version;                    //  registry number, from 1
    uint64_t run_id;                     //  run that produced it
    char dataset_hash[HASH_HEX_LEN + 1]; //  data it was trained on
    char family[RECORD_NAME_MAX];        //  "logreg", "forest"
    char params[RECORD_TEXT_MAX];        //  parameters as compact JSON
    metrics_t metrics;                   //  test metrics
    char sha256[HASH_HEX_LEN + 1];       //  of the artifact bytes
    uint64_t artifact_len;               //  bytes
    version_stage_t stage;               //  see version_stage_t
    char reason[RECORD_TEXT_MAX];        //  why it has this stage
    int64_t created_ms;                  //  registration time
} version_t;

typedef struct {
    uint64_t seq;                        //  audit sequence number
    int64_t ts_ms;                       //  wall clock
    char action[RECORD_NAME_MAX];        //  promote, rollback, archive
    uint64_t version;                    //  the version acted on
    uint64_t previous;                   //  production version before, 0 = none
    char reason[RECORD_TEXT_MAX];        //  given by the user or the evaluator
} audit_t;

//  Names for the enums ("running", "production"); NULL for invalid values.
const char *run_state_name(run_state_t s);
const char *task_state_name(task_state_t s);
const char *version_stage_name(version_stage_t s);

//  Frees the run's tasks and zeroes it. Safe on a zeroed run.
void run_clear(run_t *run);

//  Deep copy (tasks included). Returns 0 or MLOPS_ENOMEM.
int run_copy(run_t *dst, const run_t *src);

//  Writes the id of a run's task, "<run id>-<stage>[-<family>]" (family NULL
//  or "" for a stage that does not fan out), into out (size bytes, NUL
//  included): the one place that spells a task id, which is also the key of
//  the task's output in the broker's store. Returns 0, or MLOPS_EINVAL when
//  it does not fit (out then holds it cut short).
int run_task_id(char *out, size_t size, uint64_t run_id, const char *stage, const char *family);

//  Appends a zeroed task (TASK_PENDING) with stage, family (NULL = "") and
//  task_id from run_task_id (cut short if too long), returning it, or NULL at
//  RUN_TASKS_MAX / out of memory. The pointer lives until the next add.
run_task_t *run_add_task(run_t *run, const char *stage, const char *family);

//  Codecs (the encoding is PROTOCOL.md section 11: maps keyed by the field
//  names, enums as lower-case names; proto/fields.h is the engine). Encode
//  into a malloc'd buffer (caller frees; 0, MLOPS_ENOMEM, or MLOPS_EINVAL for
//  a run with more than RUN_TASKS_MAX tasks). Decode strictly into *out (zeroed first): 0,
//  MLOPS_ETOOBIG for more than RUN_TASKS_MAX tasks, MLOPS_EPROTO for anything
//  else (missing, repeated or unknown key, wrong type, int out of range,
//  string too long or with a NUL, unknown enum name, truncation, trailing
//  bytes), with err naming the key path ("run.tasks[2].state: ..."). A
//  decoded run owns its tasks: run_clear it (a failed decode leaves none).
int run_encode(const run_t *run, uint8_t **out, size_t *out_len);
int run_decode(const uint8_t *data, size_t len, run_t *out, mlops_err_t *err);
int version_encode(const version_t *v, uint8_t **out, size_t *out_len);
int version_decode(const uint8_t *data, size_t len, version_t *out, mlops_err_t *err);
int audit_encode(const audit_t *a, uint8_t **out, size_t *out_len);
int audit_decode(const uint8_t *data, size_t len, audit_t *out, mlops_err_t *err);

#endif
