/*  stages.h: the five stage handlers of the DAG. Each is an agent_handler_fn:
    it decodes its TASK input (proto/stage_io.h), fetches the blobs it names
    from the data service (through the worker's blob cache), does the
    stage's work with the ML library (train.h, model.h), uploads what it
    made and encodes its RESULT output, which names the uploads by hash: a
    RESULT is sent only once every blob it names is stored. They keep no
    state between tasks, so any number of workers on any host give the same
    answers. Errors name the stage's problem (a missing file, a CSV line, a
    missing target column, a metric that does not match, a blob the data
    service does not have) for the run record.
*/
#ifndef MLOPS_STAGES_H
#define MLOPS_STAGES_H

#include "agent.h"
#include "blob_cache.h"
#include "data_client.h"
#include "model.h"
#include "score.h"
#include "stage_io.h"
#include "table.h"
#include "task.h"

//  What the handlers reach the data through: their agent_config_t.handler_arg.
typedef struct {
    data_client_t *client;       //  the data service (used on the job thread only)
    blob_cache_t *cache;         //  fetched blobs kept on disk, NULL = none
} stage_data_t;

//  extract: CSV path on this host, synthetic[:rows[:seed]], or the stored
//  table the broker sent for dataset:HASH -> table + its hash. A path is
//  read only under the data roots (stage_extract_configure).
agent_handler_fn stage_extract_run;

#define STAGE_EXTRACT_ROOTS_MAX 16                    //  --data-root given at most this often
#define STAGE_EXTRACT_MAX_BYTES ((size_t)1 << 30)     //  --max-source-bytes default: 1 GiB

//  Where extract may read: files that resolve under one of roots (each an
//  existing directory, resolved here), at most max_bytes each (0 = the
//  default). With no roots only synthetic and stored datasets are read.
//  Call before any task. Returns 0 or MLOPS_EINVAL (not a directory, too
//  many) / MLOPS_ENOMEM with err.
int stage_extract_configure(const char *const *roots, size_t n_roots, size_t max_bytes,
                            mlops_err_t *err);

//  Forgets the roots (no file may be read).
void stage_extract_configure_clear(void);
//  preprocess: raw table -> fitted recipe + stratified split.
agent_handler_fn stage_preprocess_run;
//  train: one family on the train rows -> artifact + test metrics.
agent_handler_fn stage_train_run;
//  evaluate: every candidate and production scored on the same test rows.
agent_handler_fn stage_evaluate_run;
//  load_model: the registered artifact loads, predicts the test rows and
//  reproduces its recorded metrics.
agent_handler_fn stage_load_model_run;

//  The handler of a stage, or NULL for an invalid stage.
agent_handler_fn *stage_handler(stage_t stage);

//  Checks that every row index is below n_rows. Returns 0 or MLOPS_EPROTO
//  with err naming the field and the index.
int stage_check_rows(const char *field, const size_t *rows, size_t n, size_t n_rows,
                     mlops_err_t *err);

//  The task type a payload's `task` names: "" is binary (a payload from
//  before task types), else binary, multiclass or regression. Returns 0
//  or MLOPS_EPROTO with err ("STAGE: unknown task type 'x'").
int stage_task_parse(const char *stage, const char *word, task_t *out, mlops_err_t *err);

//  The `task` a payload carries for a task type: "" for binary (the
//  bytes of a binary run stay what they were), else its name. Static.
const char *stage_task_word(task_t task);

//  A model's metrics as the registry stores them (metrics_t, records.h):
//  binary as before, multiclass and regression with their task's fields.
void stage_metrics_of(const score_t *s, metrics_t *out);

//  The model's metrics for its task on the given rows of raw (train_score
//  for binary, train_evaluate for the others). 0 or the codes of those.
int stage_score(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                metrics_t *out, mlops_err_t *err);

//  The blob ref names, from the cache or the data service, checked against
//  its size (its hash the client and the cache check): a malloc'd copy the
//  caller frees. Logs `fetched` with where it came from. Returns 0 or the
//  code of blob_cache_fetch / MLOPS_ECORRUPT (a size other than ref's),
//  with err prefixed by the stage and what the blob is.
int stage_fetch(stage_data_t *d, const char *stage, const char *what, const stage_ref_t *ref,
                uint8_t **data, size_t *len, mlops_err_t *err);

//  stage_fetch for a big blob read in place (the feature matrix): mapped
//  read-only from the blob cache's file when the cache holds it or keeps
//  it once fetched, so its pages are page cache the kernel can reclaim,
//  not the worker's anonymous memory; else (no cache, a blob over its
//  limit) a malloc'd copy. *mapped says which; stage_blob_release frees
//  either. Returns as stage_fetch.
int stage_fetch_mapped(stage_data_t *d, const char *stage, const char *what,
                       const stage_ref_t *ref, uint8_t **data, size_t *len, bool *mapped,
                       mlops_err_t *err);

//  Frees what stage_fetch_mapped gave; ignores NULL.
void stage_blob_release(uint8_t *data, size_t len, bool mapped);

//  Uploads len bytes and names them in *ref (sha256 and size). Returns 0
//  or the code of data_client_put with err prefixed by the stage.
int stage_upload(stage_data_t *d, const char *stage, const char *what, const uint8_t *bytes,
                 size_t len, stage_ref_t *ref, mlops_err_t *err);

//  The raw table ref names, fetched and decoded; NULL with err prefixed by
//  the stage name when it cannot be fetched or does not decode.
table_t *stage_table_fetch(stage_data_t *d, const char *stage, const stage_ref_t *ref,
                           mlops_err_t *err);

//  The model artifact ref names, fetched and loaded; NULL with err
//  ("STAGE: WHAT does not load: ...") when it cannot be fetched or loaded.
model_t *stage_model_fetch(stage_data_t *d, const char *stage, const char *what,
                           const stage_ref_t *ref, mlops_err_t *err);

//  The split ref names, fetched and decoded, every row checked below
//  n_rows. 0 or an error with err; split owns its rows on success
//  (stage_split_clear).
int stage_split_fetch(stage_data_t *d, const char *stage, const stage_ref_t *ref, size_t n_rows,
                      stage_split_t *split, mlops_err_t *err);

//  The test rows evaluate and load_model score: the table holding them and
//  their indexes into it. With preprocess's test table, that table and
//  each of its rows in order (the raw table is never fetched); without one
//  (a preprocess from before it), the raw table and the split's test rows.
typedef struct {
    table_t *table;                  //  owned
    size_t *rows;                    //  owned: n row indexes into table
    size_t n;
} stage_test_t;

//  Fetches the test rows (see stage_test_t) named by test_table, else by
//  table and split. 0 or the codes of stage_table_fetch /
//  stage_split_fetch / MLOPS_ENOMEM with err; out owns its parts either
//  way (stage_test_clear).
int stage_test_fetch(stage_data_t *d, const char *stage, const stage_ref_t *table,
                     const stage_ref_t *split, const stage_ref_t *test_table, stage_test_t *out,
                     mlops_err_t *err);

//  Frees what stage_test_fetch filled; safe on a zeroed struct.
void stage_test_clear(stage_test_t *t);

#endif
