/*  stages.h: the five stage handlers of the DAG. Each is an agent_handler_fn:
    it decodes its TASK input (proto/stage_io.h), does the stage's work with
    the ML library (train.h, model.h) and encodes its RESULT output. They keep
    no state between tasks, so any number of workers on any host give the same
    answers. Errors name the stage's problem (a missing file, a CSV line, a
    missing target column, a metric that does not match) for the run record.
*/
#ifndef MLOPS_STAGES_H
#define MLOPS_STAGES_H

#include "agent.h"
#include "stage_io.h"
#include "table.h"

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

//  Decodes the raw table of a stage's input; NULL with err prefixed by the
//  stage name when it does not decode.
table_t *stage_table_decode(const char *stage, const uint8_t *bytes, size_t len,
                                 mlops_err_t *err);

#endif
