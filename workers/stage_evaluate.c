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

//  Scores the artifact ref names (fetched) on the rows; 0 or an error.
static int s_score(stage_data_t *d, const char *what, const stage_ref_t *ref, const table_t *raw,
                   const size_t *rows, size_t n, metrics_t *out, mlops_err_t *err)
{
    model_t *model = stage_model_fetch(d, "evaluate", what, ref, err);
    if (!model)
        return err->code;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int rc = train_score(model, raw, rows, n, out, &sub);
    model_destroy(&model);
    if (rc)
        return mlops_err_set(err, rc, "evaluate: cannot score %s: %s", what, mlops_err_text(&sub, rc));
    return 0;
}

//  Production on the same rows; a production model that cannot score this
//  data (other columns) is no yardstick: the challenger is then judged as
//  the first version.
static void s_score_production(stage_data_t *d, const stage_evaluate_in_t *in, const table_t *raw,
                               const stage_split_t *split, stage_evaluate_out_t *out)
{
    mlops_err_t prod_err;
    mlops_err_clear(&prod_err);
    if (s_score(d, "production", &in->production, raw, split->test_rows, split->n_test,
                &out->production, &prod_err) == 0)
        out->production_version = in->production_version;
    else
        log_warning("production v%lld is not comparable: %s", (long long)in->production_version,
                    prod_err.msg);
}

int stage_evaluate_run(void *arg, const uint8_t *input, size_t input_len, uint8_t **output,
                       size_t *output_len, mlops_err_t *err)
{
    stage_evaluate_in_t in;
    mlops_err_t sub;
    int rc = stage_evaluate_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "evaluate: bad input: %s", mlops_err_text(&sub, rc));
    stage_split_t split = {0};
    table_t *raw = stage_table_fetch(arg, "evaluate", &in.table, err);
    rc = raw ? stage_split_fetch(arg, "evaluate", &in.split, raw->n_rows, &split, err) : err->code;
    stage_evaluate_out_t out = {0};
    for (size_t i = 0; rc == 0 && i < in.n_candidates; i++) {
        stage_scored_t *s = &out.scored[i];
        snprintf(s->key, sizeof s->key, "%s", in.candidates[i].key);
        snprintf(s->family, sizeof s->family, "%s", in.candidates[i].family);
        rc = s_score(arg, s->key, &in.candidates[i].artifact, raw, split.test_rows, split.n_test,
                     &s->metrics, err);
        out.n_scored = i + 1;
    }
    if (rc == 0 && in.production.hash[0])
        s_score_production(arg, &in, raw, &split, &out);
    if (rc == 0 && (rc = stage_evaluate_out_encode(&out, output, output_len)) != 0)
        mlops_err_set(err, rc, "evaluate: cannot encode the output");
    table_destroy(&raw);
    stage_split_clear(&split);
    return rc;
}
