/*  stage_preprocess.c: the preprocess stage: fits the recipe on a
    stratified train split (train_prepare) and hands the split on. */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>

#include "train.h"

int stage_preprocess_run(const uint8_t *input, size_t input_len, uint8_t **output,
                         size_t *output_len, mlops_err_t *err)
{
    stage_preprocess_in_t in;
    mlops_err_t sub;
    int rc = stage_preprocess_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "preprocess: bad input: %s", mlops_err_text(&sub, rc));
    table_t *raw = stage_table_decode("preprocess", in.table, in.table_len, err);
    if (!raw)
        return err->code;
    prep_options_t opts = {.target = in.target[0] ? in.target : NULL,
                           .test_fraction = in.test_fraction, .seed = in.seed};
    prep_result_t prep = {0};
    mlops_err_clear(&sub);
    rc = train_prepare(raw, &opts, &prep, &sub);
    table_destroy(&raw);
    if (rc)
        return mlops_err_set(err, rc, "preprocess: %s", mlops_err_text(&sub, rc));
    stage_preprocess_out_t out = {.recipe = prep.recipe, .recipe_len = prep.recipe_len,
                                  .train_rows = prep.train_rows, .n_train = prep.n_train,
                                  .test_rows = prep.test_rows, .n_test = prep.n_test};
    snprintf(out.notes, sizeof out.notes, "%s", prep.notes);
    rc = stage_preprocess_out_encode(&out, output, output_len);
    prep_result_clear(&prep);
    return rc ? mlops_err_set(err, rc, "preprocess: cannot encode the output") : 0;
}
