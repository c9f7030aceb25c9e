/*  stage_evaluate.c: the evaluate stage (the fan-in): every candidate and
    the production model scored on the same test rows. The promotion rule
    itself lives in the broker's registry (broker/registry.h), which owns
    the metric and margin flags; this stage only measures. */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "model.h"
#include "train.h"

static int s_score(const char *what, const uint8_t *artifact, size_t len, const table_t *raw,
                   const size_t *rows, size_t n, metrics_t *out, mlops_err_t *err)
{
    mlops_err_t sub;
    mlops_err_clear(&sub);
    model_t *model = model_load(artifact, len, &sub);
    if (!model)
        return mlops_err_set(err, sub.code ? sub.code : MLOPS_ECORRUPT,
                             "evaluate: %s does not load: %s", what, mlops_err_text(&sub, sub.code));
    int rc = train_score(model, raw, rows, n, out, &sub);
    model_destroy(&model);
    if (rc)
        return mlops_err_set(err, rc, "evaluate: cannot score %s: %s", what, mlops_err_text(&sub, rc));
    return 0;
}

int stage_evaluate_run(const uint8_t *input, size_t input_len, uint8_t **output,
                       size_t *output_len, mlops_err_t *err)
{
    stage_evaluate_in_t in;
    mlops_err_t sub;
    int rc = stage_evaluate_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "evaluate: bad input: %s", mlops_err_text(&sub, rc));
    table_t *raw = stage_table_decode("evaluate", in.table, in.table_len, err);
    rc = raw ? stage_check_rows("test_rows", in.test_rows, in.n_test, raw->n_rows, err) : err->code;
    stage_evaluate_out_t out = {0};
    for (size_t i = 0; rc == 0 && i < in.n_candidates; i++) {
        stage_scored_t *s = &out.scored[i];
        snprintf(s->key, sizeof s->key, "%s", in.candidates[i].key);
        snprintf(s->family, sizeof s->family, "%s", in.candidates[i].family);
        rc = s_score(s->key, in.candidates[i].artifact, in.candidates[i].artifact_len, raw,
                     in.test_rows, in.n_test, &s->metrics, err);
        out.n_scored = i + 1;
    }
    if (rc == 0 && in.production) {
        //  a production model that cannot score this data (other columns) is
        //  no yardstick: the challenger is then judged as the first version
        mlops_err_t prod_err;
        mlops_err_clear(&prod_err);
        if (s_score("production", in.production, in.production_len, raw, in.test_rows, in.n_test,
                    &out.production, &prod_err) == 0)
            out.production_version = in.production_version;
        else
            log_warning("production v%lld is not comparable: %s", (long long)in.production_version,
                        prod_err.msg);
    }
    if (rc == 0)
        rc = stage_evaluate_out_encode(&out, output, output_len);
    table_destroy(&raw);
    stage_evaluate_in_clear(&in);
    return rc && !err->msg[0] ? mlops_err_set(err, rc, "evaluate: cannot encode the output") : rc;
}
