/*  stage_evaluate.c: the evaluate stage (the fan-in): every candidate and
    the production model scored on the same test rows, with the metrics of
    the run's task type (the input's `task`): preprocess's test table when
    the input names one (never the raw table), else the raw table's split
    test rows. The promotion rule
    itself lives in the broker's registry (broker/registry.h), which owns
    the metric and margin flags; this stage only measures. */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "model.h"
#include "task_name.h"
#include "train.h"

//  Scores a loaded model on the rows with the metrics of its task, which
//  must be task; 0 or an error naming what.
static int s_score_model(const model_t *model, const char *what, task_t task, const table_t *raw,
                         const size_t *rows, size_t n, metrics_t *out, mlops_err_t *err)
{
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int rc = model_task(model) == task ? stage_score(model, raw, rows, n, out, &sub)
                                       : mlops_err_set(&sub, MLOPS_EINVAL, "it predicts %s, the run is %s",
                                                       task_name(model_task(model)), task_name(task));
    if (rc)
        return mlops_err_set(err, rc, "evaluate: cannot score %s: %s", what, mlops_err_text(&sub, rc));
    return 0;
}

//  Production on the same rows; a production model that cannot score this
//  data (it does not load, other columns) is no yardstick: the challenger
//  is then judged as the first version. A production model of another
//  task type is named with its task and no metrics: the registry refuses
//  to compare across task types.
static void s_score_production(stage_data_t *d, const stage_evaluate_in_t *in, task_t task,
                               const stage_test_t *test, stage_evaluate_out_t *out)
{
    mlops_err_t prod_err;
    mlops_err_clear(&prod_err);
    model_t *model = stage_model_fetch(d, "evaluate", "production", &in->production, &prod_err);
    if (model && model_task(model) != task) {
        out->production_version = in->production_version;
        snprintf(out->production.task, sizeof out->production.task, "%s",
                 task_name(model_task(model)));
        log_warning("production v%lld predicts %s, this run %s: not compared",
                    (long long)in->production_version, out->production.task, task_name(task));
    } else if (model && s_score_model(model, "production", task, test->table, test->rows,
                                      test->n, &out->production, &prod_err) == 0) {
        out->production_version = in->production_version;
    } else {
        log_warning("production v%lld is not comparable: %s", (long long)in->production_version,
                    prod_err.msg);
    }
    model_destroy(&model);
}

//  Scores candidate i (fetched) into out->scored[i].
static int s_score_candidate(stage_data_t *d, const stage_evaluate_in_t *in, size_t i, task_t task,
                             const stage_test_t *test, stage_evaluate_out_t *out, mlops_err_t *err)
{
    stage_scored_t *s = &out->scored[i];
    snprintf(s->key, sizeof s->key, "%s", in->candidates[i].key);
    snprintf(s->family, sizeof s->family, "%s", in->candidates[i].family);
    out->n_scored = i + 1;
    model_t *model = stage_model_fetch(d, "evaluate", s->key, &in->candidates[i].artifact, err);
    int rc = model ? s_score_model(model, s->key, task, test->table, test->rows, test->n,
                                   &s->metrics, err)
                   : err->code;
    model_destroy(&model);
    return rc;
}

int stage_evaluate_run(void *arg, const uint8_t *input, size_t input_len, uint8_t **output,
                       size_t *output_len, mlops_err_t *err)
{
    stage_evaluate_in_t in;
    mlops_err_t sub;
    int rc = stage_evaluate_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "evaluate: bad input: %s", mlops_err_text(&sub, rc));
    task_t task;
    if (stage_task_parse("evaluate", in.task, &task, err))
        return err->code;
    stage_test_t test;
    rc = stage_test_fetch(arg, "evaluate", &in.table, &in.split, &in.test_table, &test, err);
    stage_evaluate_out_t out = {0};
    for (size_t i = 0; rc == 0 && i < in.n_candidates; i++)
        rc = s_score_candidate(arg, &in, i, task, &test, &out, err);
    if (rc == 0 && in.production.hash[0])
        s_score_production(arg, &in, task, &test, &out);
    if (rc == 0 && (rc = stage_evaluate_out_encode(&out, output, output_len)) != 0)
        mlops_err_set(err, rc, "evaluate: cannot encode the output");
    stage_test_clear(&test);
    return rc;
}
