/*  stage_train.c: the train stage: one model family per task (the broker
    fans train out, one task per family, so families train in parallel on
    as many train workers as there are). */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>

#include "model.h"
#include "train.h"

int stage_train_run(const uint8_t *input, size_t input_len, uint8_t **output, size_t *output_len,
                    mlops_err_t *err)
{
    stage_train_in_t in;
    mlops_err_t sub;
    int rc = stage_train_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "train: bad input: %s", mlops_err_text(&sub, rc));
    table_t *raw = stage_table_decode("train", in.table, in.table_len, err);
    if (!raw || stage_check_rows("train_rows", in.train_rows, in.n_train, raw->n_rows, err) ||
        stage_check_rows("test_rows", in.test_rows, in.n_test, raw->n_rows, err)) {
        table_destroy(&raw);
        stage_train_in_clear(&in);
        return err->code;
    }
    uint8_t *artifact = NULL;
    size_t artifact_len = 0;
    mlops_err_clear(&sub);
    rc = train_fit(raw, in.recipe, in.recipe_len, in.train_rows, in.n_train, in.test_rows,
                   in.n_test, in.family, in.params, in.seed, &artifact, &artifact_len, &sub);
    table_destroy(&raw);
    if (rc) {
        stage_train_in_clear(&in);
        return mlops_err_set(err, rc, "train %s: %s", in.family, mlops_err_text(&sub, rc));
    }
    model_t *model = model_load(artifact, artifact_len, &sub);
    if (!model) {
        free(artifact);
        stage_train_in_clear(&in);
        return mlops_err_set(err, MLOPS_ECORRUPT, "train %s: the new artifact does not load: %s",
                             in.family, mlops_err_text(&sub, sub.code));
    }
    stage_train_out_t out = {.artifact = artifact, .artifact_len = artifact_len,
                             .metrics = *model_metrics(model)};
    snprintf(out.family, sizeof out.family, "%s", in.family);
    snprintf(out.params, sizeof out.params, "%s", in.params[0] ? in.params : "{}");
    hash_sha256_hex(artifact, artifact_len, out.sha256);
    rc = stage_train_out_encode(&out, output, output_len);
    model_destroy(&model);
    free(artifact);
    stage_train_in_clear(&in);
    return rc ? mlops_err_set(err, rc, "train: cannot encode the output") : 0;
}
