/*  train.h: the training side of the ML library, at the grain of the DAG's
    stages, so a stage worker is a thin adapter and `mlops train` runs the
    same calls in one process.

        preprocess:  train_prepare   raw table -> fitted recipe + split
        train:       train_fit       recipe + train rows + family -> artifact
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
#include "model.h"
#include "records.h"
#include "table.h"

#define TRAIN_FAMILY_LOGREG "logreg"
#define TRAIN_FAMILY_FOREST "forest"

typedef struct {
    const char *target;      //  label column; NULL = "Survived"
    double test_fraction;    //  held-out share, 0 = 0.2
    uint64_t seed;           //  split seed (42 in the reference)
} prep_options_t;

typedef struct {
    uint8_t *recipe;         //  fitted preprocessing, msgpack, owned
    size_t recipe_len;
    size_t *train_rows;      //  row indexes into the raw table, owned
    size_t n_train;
    size_t *test_rows;       //  held-out rows, owned
    size_t n_test;
    char notes[512];         //  what the recipe decided ("dropped PassengerId: id-like")
} prep_result_t;

//  Fits the preprocessing on a stratified train split of raw. Picks the
//  Titanic recipe when the Titanic columns are present, else the generic one.
//  Returns 0, or with err: MLOPS_ENOTFOUND (no target column), MLOPS_EINVAL
//  (target not binary, too few rows of a class), MLOPS_ENOMEM.
int train_prepare(const table_t *raw, const prep_options_t *opts, prep_result_t *out,
                  mlops_err_t *err);

//  Frees what train_prepare filled; safe on a zeroed struct.
void prep_result_clear(prep_result_t *r);

//  Trains one family on the train rows and writes an artifact (caller frees)
//  that embeds the recipe, the signature and the metrics on the test rows.
//  params_json may be NULL or "" for defaults, else e.g. {"n_trees":100}.
//  Returns 0, or with err: MLOPS_EINVAL (unknown family or parameter),
//  MLOPS_ECONVERGE, MLOPS_ECORRUPT (bad recipe), MLOPS_ENOMEM.
int train_fit(const table_t *raw, const uint8_t *recipe, size_t recipe_len,
              const size_t *train_rows, size_t n_train,
              const size_t *test_rows, size_t n_test,
              const char *family, const char *params_json, uint64_t seed,
              uint8_t **artifact, size_t *artifact_len, mlops_err_t *err);

//  Metrics of model on the given rows of raw (which must hold the target).
int train_score(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                metrics_t *out, mlops_err_t *err);

#endif
