/*  train.h: the training side of the ML library, at the grain of the DAG's
    stages, so a stage worker is a thin adapter and `mlops train` runs the
    same calls in one process.

        preprocess:  train_prepare   raw table -> fitted recipe + split
        train:       train_fit       recipe + train rows + family -> artifact
                     (or train_matrix once at preprocess, train_fit_matrix per
                     family: the same artifact without the raw table)
        evaluate:    model_load + train_score on the test rows (model.h)
        load_model:  model_load + train_score, compared with model_metrics

    The recipe is an opaque msgpack blob (the fitted preprocessing); the
    artifact embeds it, so the model applies exactly what training fitted.
*/
#ifndef MLOPS_TRAIN_H
#define MLOPS_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "matrix.h"
#include "model.h"
#include "records.h"
#include "score.h"
#include "table.h"
#include "task.h"

#define TRAIN_FAMILY_LOGREG "logreg"
#define TRAIN_FAMILY_FOREST "forest"
#define TRAIN_FAMILY_GBDT "gbdt"

typedef struct {
    const char *target;      //  label column; NULL = FEEDBACK_IO_TARGET_DEFAULT (Survived)
    double test_fraction;    //  held-out share, 0 = 0.2
    uint64_t seed;           //  split seed (42 in the reference)
    const char *task;        //  binary, multiclass, regression or auto (inferred, see
                             //  prep.h); NULL = binary, what the pipeline's stages
                             //  handle until they carry a task type
} prep_options_t;

typedef struct {
    uint8_t *recipe;         //  fitted preprocessing, msgpack, owned
    size_t recipe_len;
    size_t *train_rows;      //  row indexes into the raw table, owned
    size_t n_train;
    size_t *test_rows;       //  held-out rows, owned
    size_t n_test;
    char notes[512];         //  what the recipe decided ("dropped PassengerId: id-like")
    task_t task;        //  what the recipe's models predict
    size_t n_unlabelled;     //  rows left out: their target is missing
} prep_result_t;

//  Fits the preprocessing on a stratified train split of raw. Picks the
//  Titanic recipe when the Titanic columns are present, else the generic one.
//  Rows without a target are left out (counted in n_unlabelled and the
//  notes). Binary splits are split_train_test's (a class of one row is an
//  error); multiclass and regression splits split_train_test_classes' (a
//  class of one row stays in training, noted). Returns 0, or with err:
//  MLOPS_ENOTFOUND (no target column), MLOPS_EINVAL (an unknown task, the
//  target errors of prep_target_fit, too few rows of a class), MLOPS_ENOMEM.
int train_prepare(const table_t *raw, const prep_options_t *opts, prep_result_t *out,
                  mlops_err_t *err);

//  Frees what train_prepare filled; safe on a zeroed struct.
void prep_result_clear(prep_result_t *r);

//  Trains one family on the train rows and writes an artifact (caller frees)
//  that embeds the recipe, the signature and the metrics on the test rows.
//  family is logreg, forest or gbdt (all three take the recipe's imputed
//  features). params_json may be NULL or "" for defaults, else e.g.
//  {"n_trees":100} (forest) or {"max_iter":200,"learning_rate":0.05} (gbdt:
//  gbdt_params_t's names; early_stopping true, false or "auto").
//  Returns 0, or with err: MLOPS_EINVAL (unknown family or parameter),
//  MLOPS_ECONVERGE, MLOPS_ECORRUPT (bad recipe), MLOPS_ENOMEM.
int train_fit(const table_t *raw, const uint8_t *recipe, size_t recipe_len,
              const size_t *train_rows, size_t n_train,
              const size_t *test_rows, size_t n_test,
              const char *family, const char *params_json, uint64_t seed,
              uint8_t **artifact, size_t *artifact_len, mlops_err_t *err);

//  The feature matrix of prep's split of raw (ml/matrix.h): the features
//  and targets train_fit computes from raw for prep's recipe, and the
//  training rows' profile, in a new blob (*blob, caller frees). Returns 0,
//  or with err: MLOPS_ECORRUPT (prep's recipe does not decode), the codes
//  of prep_labels / prep_values, MLOPS_EINVAL, MLOPS_ENOMEM.
int train_matrix(const table_t *raw, const prep_result_t *prep, uint8_t **blob, size_t *len,
                 mlops_err_t *err);

//  train_fit on a decoded matrix instead of the raw table: for the matrix
//  train_matrix made from the same table, recipe and split, the same
//  artifact, byte for byte. Returns train_fit's codes, or with err:
//  MLOPS_EPROTO (the matrix's task or width is not the recipe's, a class
//  index out of range, a profile of another shape: ECORRUPT) and the codes
//  of profile_decode.
int train_fit_matrix(const matrix_t *m, const uint8_t *recipe, size_t recipe_len,
                     const char *family, const char *params_json, uint64_t seed,
                     uint8_t **artifact, size_t *artifact_len, mlops_err_t *err);

//  Metrics of a binary model on the given rows of raw (which must hold the
//  target). Returns 0, or with err: MLOPS_ENOTFOUND (no target column),
//  MLOPS_EINVAL (a missing or unknown label, a model of another task: use
//  train_evaluate), MLOPS_ENOMEM.
int train_score(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                metrics_t *out, mlops_err_t *err);

//  The same for a model of any task, into out (score_clear it). Same codes.
int train_evaluate(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                   score_t *out, mlops_err_t *err);

//  Repeated stratified K-fold cross-validation, in process (no artifacts):
//  for each of repeats shufflings (seed, seed + 1, ...) and each fold, the
//  recipe is refitted on the other folds, each family trained on them and
//  scored on the fold. Rows whose target is missing are left out.
#define TRAIN_CV_METRICS 4 //  metrics reported per task type

typedef struct {
    const char *family;     //  as given
    size_t n_folds;         //  k * repeats scored folds
    double accuracy_mean, accuracy_std; //  BINARY: over folds (population std, as np.std)
    double auc_mean, auc_std;           //  BINARY: ROC AUC
    double f1_mean, f1_std;             //  BINARY: F1
    double log_loss_mean, log_loss_std; //  BINARY: log loss
    task_t task;       //  the metrics below are this task's
    size_t n_metrics;       //  BINARY: accuracy, auc, f1, log_loss; MULTICLASS: accuracy,
                            //  macro_f1, log_loss; REGRESSION: r2, rmse, mae
    const char *metric[TRAIN_CV_METRICS]; //  their names (static)
    double mean[TRAIN_CV_METRICS], std[TRAIN_CV_METRICS]; //  over folds
} train_cv_t;

//  Runs the CV for n_families (1..8) families; params_json is NULL or holds
//  one JSON text (or NULL) per family, as in train_fit. out has n_families
//  entries. progress, when not NULL, is called after each fold with (done,
//  total). The task is opts->task's, as in train_prepare; binary folds are
//  split_kfold's (every class needs k rows), the others split_kfold_classes'
//  (a class with fewer rows than k lands in some folds only; a model then
//  gives it probability 0 in the folds whose training rows lack it).
//  Returns 0, or the codes of train_prepare and train_fit.
int train_cv(const table_t *raw, const prep_options_t *opts, int k, int repeats,
             const char *const *families, size_t n_families, const char *const *params_json,
             void (*progress)(size_t done, size_t total), train_cv_t *out, mlops_err_t *err);

#endif
