/*  stage_train.c: the train stage: one model family per task (the broker
    fans train out, one task per family, so families train in parallel on
    as many train workers as there are), for the task type preprocess
    decided (the recipe's, checked against the input's `task`), on the
    feature matrix preprocess encoded once (ml/matrix.h), or on the raw
    table and split when the input names no matrix. The artifact is
    uploaded; the output names it by its sha256. */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>

#include "artifact.h"
#include "model.h"
#include "task_name.h"
#include "train.h"

//  train_fit on the fetched raw table and split (a preprocess from before
//  the matrix named none).
static int s_fit_table(stage_data_t *d, const stage_train_in_t *in, const uint8_t *recipe,
                       size_t recipe_len, uint8_t **artifact, size_t *len, mlops_err_t *err)
{
    stage_split_t split = {0};
    table_t *raw = stage_table_fetch(d, "train", &in->table, err);
    int rc = raw ? stage_split_fetch(d, "train", &in->split, raw->n_rows, &split, err) : err->code;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (rc == 0 && (rc = train_fit(raw, recipe, recipe_len, split.train_rows, split.n_train,
                                   split.test_rows, split.n_test, in->family, in->params, in->seed,
                                   artifact, len, &sub)) != 0)
        mlops_err_set(err, rc, "train %s: %s", in->family, mlops_err_text(&sub, rc));
    table_destroy(&raw);
    stage_split_clear(&split);
    return rc;
}

//  train_fit_matrix on preprocess's fetched matrix, used in place (mapped
//  from the blob cache when there is one: training never writes to it).
static int s_fit_matrix(stage_data_t *d, const stage_train_in_t *in, const uint8_t *recipe,
                        size_t recipe_len, uint8_t **artifact, size_t *len, mlops_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t n = 0;
    bool mapped = false;
    matrix_t m;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int rc = stage_fetch_mapped(d, "train", "matrix", &in->matrix, &bytes, &n, &mapped, err);
    if (rc == 0 && (rc = matrix_decode(bytes, n, &m, &sub)) != 0)
        mlops_err_set(err, rc, "train: the matrix does not decode: %s", mlops_err_text(&sub, rc));
    if (rc == 0 && (rc = train_fit_matrix(&m, recipe, recipe_len, in->family, in->params, in->seed,
                                          artifact, len, &sub)) != 0)
        mlops_err_set(err, rc, "train %s: %s", in->family, mlops_err_text(&sub, rc));
    stage_blob_release(bytes, n, mapped);
    return rc;
}

//  The model of family trained on preprocess's matrix (or the raw table
//  and split) and recipe: its artifact (malloc'd) and metrics. 0 or an
//  error with err.
static int s_fit(stage_data_t *d, const stage_train_in_t *in, uint8_t **artifact, size_t *len,
                 metrics_t *metrics, mlops_err_t *err)
{
    uint8_t *recipe = NULL;
    size_t recipe_len = 0;
    task_t task;
    if (stage_task_parse("train", in->task, &task, err))
        return err->code;
    int rc = stage_fetch(d, "train", "recipe", &in->recipe, &recipe, &recipe_len, err);
    if (rc == 0)
        rc = (in->matrix.hash[0] ? s_fit_matrix : s_fit_table)(d, in, recipe, recipe_len, artifact,
                                                               len, err);
    free(recipe);
    mlops_err_t sub;
    mlops_err_clear(&sub);
    model_t *model = rc == 0 ? model_load(*artifact, *len, &sub) : NULL;
    if (rc == 0 && !model)
        rc = mlops_err_set(err, MLOPS_ECORRUPT, "train %s: the new artifact does not load: %s",
                           in->family, mlops_err_text(&sub, sub.code));
    if (model && model_task(model) != task)
        rc = mlops_err_set(err, MLOPS_EPROTO, "train %s: the recipe's task is %s, the input says %s",
                           in->family, task_name(model_task(model)), task_name(task));
    if (rc == 0)
        stage_metrics_of(model_score(model), metrics);
    model_destroy(&model);
    return rc;
}

//  The parameters the new artifact holds (defaults filled in), for the
//  version record: what the model was trained with, not what was asked.
static int s_params_of(const uint8_t *artifact, size_t len, char *out, size_t size, mlops_err_t *err)
{
    artifact_t a;
    mlops_err_t sub;
    int rc = artifact_decode(artifact, len, &a, &sub);
    if (rc)
        return mlops_err_set(err, rc, "train: the new artifact does not decode: %s", mlops_err_text(&sub, rc));
    snprintf(out, size, "%s", a.params);
    artifact_clear(&a);
    return 0;
}

int stage_train_run(void *arg, const uint8_t *input, size_t input_len, uint8_t **output,
                    size_t *output_len, mlops_err_t *err)
{
    stage_train_in_t in;
    mlops_err_t sub;
    int rc = stage_train_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "train: bad input: %s", mlops_err_text(&sub, rc));
    uint8_t *artifact = NULL;
    size_t artifact_len = 0;
    stage_train_out_t out = {0};
    rc = s_fit(arg, &in, &artifact, &artifact_len, &out.metrics, err);
    if (rc == 0)
        rc = s_params_of(artifact, artifact_len, out.params, sizeof out.params, err);
    if (rc == 0)
        rc = stage_upload(arg, "train", "artifact", artifact, artifact_len, &out.artifact, err);
    free(artifact);
    snprintf(out.family, sizeof out.family, "%s", in.family);
    if (rc == 0 && (rc = stage_train_out_encode(&out, output, output_len)) != 0)
        mlops_err_set(err, rc, "train: cannot encode the output");
    return rc;
}
