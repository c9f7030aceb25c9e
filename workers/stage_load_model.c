/*  stage_load_model.c: the load_model stage: before a version is announced
    its artifact must be intact (fetched by its registered sha256), load, predict every test row
    (preprocess's test table, or the raw table's split test rows) through the serving path with a
    probability in [0, 1], and reproduce the metrics evaluate recorded; and
    its serving contract is compared with production's (signature_diff), so
    the broker never promotes a schema change on its own. */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"
#include "model.h"
#include "signature.h"
#include "train.h"

//  Recomputed metrics against evaluate's (metrics.h: every metric, one
//  tolerance); the broker compares them again before it promotes.
static int s_compare(const metrics_t *got, const metrics_t *want, mlops_err_t *err)
{
    metrics_diff_t d;
    if (!metrics_differ(got, want, &d))
        return 0;
    return mlops_err_set(err, MLOPS_ECHECK,
                         "load_model: %s is %.9f on the test rows but evaluate recorded %.9f",
                         d.name, d.got, d.want);
}

static int s_predict_all(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                         mlops_err_t *err)
{
    double *proba = malloc((n ? n : 1) * sizeof *proba);
    if (!proba)
        return mlops_err_set(err, MLOPS_ENOMEM, "load_model: out of memory");
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int rc = model_predict_table(model, raw, rows, n, proba, &sub);
    if (rc)
        mlops_err_set(err, rc, "load_model: cannot predict the test rows: %s", mlops_err_text(&sub, rc));
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!(proba[i] >= 0 && proba[i] <= 1))
            rc = mlops_err_set(err, MLOPS_ECHECK, "load_model: probability %g for test row %zu",
                               proba[i], rows[i]);
    free(proba);
    return rc;
}

//  The candidate's signature against production's, into out->schema:
//  "same" or what differs ("" when the task names no production).
static int s_schema(void *arg, const model_t *model, const stage_load_model_in_t *in,
                    stage_load_model_out_t *out, mlops_err_t *err)
{
    if (!in->production.hash[0])
        return 0;
    char what[48];
    snprintf(what, sizeof what, "artifact of production v%lld", (long long)in->production_version);
    model_t *prod = stage_model_fetch(arg, "load_model", what, &in->production, err);
    if (!prod)
        return err->code;
    if (signature_diff(model_recipe(model), model_recipe(prod), out->schema, sizeof out->schema) == 0)
        snprintf(out->schema, sizeof out->schema, "same");
    model_destroy(&prod);
    return 0;
}

int stage_load_model_run(void *arg, const uint8_t *input, size_t input_len, uint8_t **output,
                         size_t *output_len, mlops_err_t *err)
{
    stage_load_model_in_t in;
    mlops_err_t sub;
    int rc = stage_load_model_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "load_model: bad input: %s", mlops_err_text(&sub, rc));
    stage_test_t test = {0};
    char what[48];   //  fetched by its registered sha256: its bytes hash to it, or the fetch fails
    snprintf(what, sizeof what, "artifact of v%lld", (long long)in.version);
    model_t *model = stage_model_fetch(arg, "load_model", what, &in.artifact, err);
    rc = model ? stage_test_fetch(arg, "load_model", &in.table, &in.split, &in.test_table, &test, err)
               : err->code;
    stage_load_model_out_t out = {.version = in.version, .n_predicted = (int64_t)test.n};
    if (rc == 0 && model_task(model) == TASK_BINARY)   //  a regression value is no probability
        rc = s_predict_all(model, test.table, test.rows, test.n, err);
    if (rc == 0 && (rc = stage_score(model, test.table, test.rows, test.n, &out.metrics, &sub)) != 0)
        mlops_err_set(err, rc, "load_model: cannot score: %s", mlops_err_text(&sub, rc));
    if (rc == 0)
        rc = s_compare(&out.metrics, &in.expected, err);
    if (rc == 0)
        rc = s_schema(arg, model, &in, &out, err);
    if (rc == 0 && (rc = stage_load_model_out_encode(&out, output, output_len)) != 0)
        mlops_err_set(err, rc, "load_model: cannot encode the output");
    model_destroy(&model);
    stage_test_clear(&test);
    return rc;
}
