/*  stage_preprocess.c: the preprocess stage: decides the task type (the
    input's `task`; "" = auto, from the target column, which gives binary
    for every target a broker from before task types could train), fits the recipe on a stratified
    train split (train_prepare; regression drops the rows without a target
    and says how many) and uploads both, the split as a stage_split_t blob;
    then encodes once what the later stages read, so none of them fetches
    the raw table: the feature matrix train fits on (ml/matrix.h) and the
    raw table of the test rows that evaluate and load_model score through
    each model's serving path. The matrix is made last: the raw table is
    freed as soon as it is made. */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "train.h"

//  The raw table's test rows, uploaded as a table; the ref goes into out.
static int s_upload_test_table(stage_data_t *d, const table_t *raw, const prep_result_t *prep,
                               stage_preprocess_out_t *out, mlops_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    table_t *test = table_take(raw, prep->test_rows, prep->n_test);
    int rc = test ? table_encode(test, &bytes, &len) : MLOPS_ENOMEM;
    table_destroy(&test);
    if (rc)
        return mlops_err_set(err, rc, "preprocess: cannot encode the test table");
    rc = stage_upload(d, "preprocess", "test_table", bytes, len, &out->test_table, err);
    free(bytes);
    return rc;
}

//  The matrix of prep's split of *raw, made and uploaded; *raw is freed as
//  soon as the matrix is made, so the two big things overlap only there.
static int s_upload_matrix(stage_data_t *d, table_t **raw, const prep_result_t *prep,
                           stage_preprocess_out_t *out, mlops_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int rc = train_matrix(*raw, prep, &bytes, &len, &sub);
    table_destroy(raw);
    if (rc)
        return mlops_err_set(err, rc, "preprocess: cannot encode the matrix: %s",
                             mlops_err_text(&sub, rc));
    rc = stage_upload(d, "preprocess", "matrix", bytes, len, &out->matrix, err);
    free(bytes);
    return rc;
}

//  Uploads the recipe and the split; their refs go into out.
static int s_upload(stage_data_t *d, const prep_result_t *prep, stage_preprocess_out_t *out,
                    mlops_err_t *err)
{
    stage_split_t split = {.train_rows = prep->train_rows, .n_train = prep->n_train,
                           .test_rows = prep->test_rows, .n_test = prep->n_test};
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = stage_split_encode(&split, &bytes, &len);
    if (rc)
        return mlops_err_set(err, rc, "preprocess: cannot encode the split");
    rc = stage_upload(d, "preprocess", "split", bytes, len, &out->split, err);
    free(bytes);
    return rc ? rc : stage_upload(d, "preprocess", "recipe", prep->recipe, prep->recipe_len,
                                  &out->recipe, err);
}

int stage_preprocess_run(void *arg, const uint8_t *input, size_t input_len, uint8_t **output,
                         size_t *output_len, mlops_err_t *err)
{
    stage_preprocess_in_t in;
    mlops_err_t sub;
    int rc = stage_preprocess_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "preprocess: bad input: %s", mlops_err_text(&sub, rc));
    table_t *raw = stage_table_fetch(arg, "preprocess", &in.table, err);
    if (!raw)
        return err->code;
    prep_options_t opts = {.target = in.target[0] ? in.target : NULL,
                           .test_fraction = in.test_fraction, .seed = in.seed,
                           .task = in.task[0] ? in.task : "auto"};
    prep_result_t prep = {0};
    mlops_err_clear(&sub);
    rc = train_prepare(raw, &opts, &prep, &sub);
    if (rc) {
        table_destroy(&raw);
        return mlops_err_set(err, rc, "preprocess: %s", mlops_err_text(&sub, rc));
    }
    stage_preprocess_out_t out = {0};
    snprintf(out.notes, sizeof out.notes, "%s", prep.notes);
    snprintf(out.task, sizeof out.task, "%s", stage_task_word(prep.task));
    log_info("task %s: %zu train rows, %zu test rows, %zu rows without a target left out",
             out.task[0] ? out.task : "binary", prep.n_train, prep.n_test, prep.n_unlabelled);
    rc = s_upload(arg, &prep, &out, err);
    if (rc == 0)
        rc = s_upload_test_table(arg, raw, &prep, &out, err);
    if (rc == 0)
        rc = s_upload_matrix(arg, &raw, &prep, &out, err);
    table_destroy(&raw);
    if (rc == 0 && (rc = stage_preprocess_out_encode(&out, output, output_len)) != 0)
        mlops_err_set(err, rc, "preprocess: cannot encode the output");
    prep_result_clear(&prep);
    return rc;
}
