/*  test_stages.c: the broker's per-stage table (broker/stages.c) on a
    broker without sockets: what it refuses when building an input (an
    unknown stage, a dataset not in the store) and when settling an output
    (an unknown stage, an output that does not decode, an evaluate that
    scored nothing, a load_model that validated another version, a blob
    never uploaded, a forged dataset version, an object that is no table or
    of another size, a load_model re-score that disagrees with evaluate's
    metrics, a load_model that gave no schema verdict), each with its code
    and a message naming what is wrong; a candidate of another schema
    archived with the outcome saying why; the task type carried from --task
    to preprocess and from preprocess's output to train, and a --metric of
    another task type refused.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_fixtures.h"
#include "broker_internal.h"
#include "dag.h"
#include "stage_io.h"
#include "testing.h"

//  A detached broker whose active run 1 is planned (logreg, forest).
static broker_t *s_broker(char dir[64])
{
    broker_t *b = fx_broker(dir, "stages");
    if (!b)
        return NULL;
    b->active.id = 1;
    b->active.state = RUN_RUNNING;
    if (dag_plan(&b->active, b->cfg.families, b->cfg.n_families) != 0)
        broker_destroy(&b);
    return b;
}

static void test_stages_build_input_refusals(void)
{
    char dir[64];
    broker_t *b = s_broker(dir);
    CHECK(b != NULL);
    mlops_err_t err;
    mlops_err_clear(&err);
    uint8_t *out = NULL;
    size_t len = 0;
    run_task_t odd = {.task_id = "1-bogus", .stage = "bogus"};
    CHECK_INT(stages_build_input(b, &odd, &out, &len, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "unknown stage 'bogus'");
    CHECK(out == NULL);
    //  preprocess needs the run's dataset, which is not in the store
    snprintf(b->active.dataset_hash, sizeof b->active.dataset_hash, "%s",
             "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    mlops_err_clear(&err);
    CHECK_INT(stages_build_input(b, dag_task_find(&b->active, "1-preprocess"), &out, &len, &err),
              MLOPS_ENOTFOUND);
    CHECK_STR(err.msg, "dataset 0123456789ab is not in the store");
    //  nor is a dataset:HASH source, when extract is built
    snprintf(b->active.source, sizeof b->active.source, "dataset:%s", b->active.dataset_hash);
    mlops_err_clear(&err);
    CHECK_INT(stages_build_input(b, dag_task_find(&b->active, "1-extract"), &out, &len, &err),
              MLOPS_ENOTFOUND);
    CHECK_STR(err.msg, "dataset 0123456789ab is not in the store");
    //  extract needs nothing from the store for a synthetic source
    snprintf(b->active.source, sizeof b->active.source, "synthetic:10:1");
    mlops_err_clear(&err);
    CHECK_INT(stages_build_input(b, dag_task_find(&b->active, "1-extract"), &out, &len, &err), 0);
    stage_extract_in_t in;
    CHECK_INT(stage_extract_in_decode(out, len, &in, &err), 0);
    CHECK_STR(in.source, "synthetic:10:1");
    CHECK_STR(in.dataset.hash, "");
    free(out);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  Settles one output for the task of b's active run with this id, in a
//  batch that is aborted after: returns what the settle returned.
static int s_settle(broker_t *b, const char *task_id, const uint8_t *output, size_t len,
                    mlops_err_t *err)
{
    stages_settled_t settled = {0};
    run_task_t *task = dag_task_find(&b->active, task_id);
    run_task_t odd = {.task_id = "1-bogus", .stage = "bogus"};
    int rc = stages_settle(b, broker_txn(b), task ? task : &odd, output, len, &settled, err);
    batch_abort(b->batch);
    return rc;
}

static void test_stages_settle_refusals(void)
{
    char dir[64];
    broker_t *b = s_broker(dir);
    CHECK(b != NULL);
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-bogus", (const uint8_t *)"", 0, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "unknown stage 'bogus'");
    const char *garbage[] = {"1-preprocess", "1-train-logreg", "1-evaluate", "1-load_model", "1-extract"};
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++) {
        mlops_err_clear(&err);
        CHECK_INT(s_settle(b, garbage[i], (const uint8_t *)"\xc1", 1, &err), MLOPS_EPROTO);
        CHECK(err.msg[0] != '\0');
    }
    uint8_t *out = NULL;
    size_t len = 0;
    stage_evaluate_out_t ev = {0};
    CHECK_INT(stage_evaluate_out_encode(&ev, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-evaluate", out, len, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "evaluate output: no candidate scored");
    free(out);
    stage_load_model_out_t lm = {.version = 5};
    CHECK_INT(stage_load_model_out_encode(&lm, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-load_model", out, len, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "load_model output: version 5, expected 0");
    free(out);
    CHECK_INT(b->active.version, 0);                 //  no refusal changed the run
    CHECK(!b->active.promoted);
    CHECK_STR(b->active.dataset_hash, "");
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  An output naming blobs: each must be a stored, whole object of the size
//  it says, and an extract's table a table with rows. The dataset version
//  is the stored object's name, never a hash the worker made up.
static void test_stages_settle_refs(void)
{
    char dir[64];
    broker_t *b = s_broker(dir);
    CHECK(b != NULL);
    mlops_err_t err;
    uint8_t *out = NULL;
    size_t len = 0;
    //  a forged dataset version: a sha256 of nothing that was uploaded
    stage_extract_out_t x = {.table = {.hash = "5feceb66ffc86f38d952786c6d696c79c2dbc239dd4e91b46729d73a27fb57e9",
                                       .size = 11}};
    CHECK_INT(stage_extract_out_encode(&x, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-extract", out, len, &err), MLOPS_ENOTFOUND);
    CHECK_STR(err.msg, "extract output: table 5feceb66ffc8 was never uploaded (the data service does "
                       "not have it)");
    free(out);
    //  a stored object that is not a table, and one of another size
    CHECK_INT(store_object_put(b->store, NULL, (const uint8_t *)"not a table", 11, x.table.hash, &err), 0);
    CHECK_INT(stage_extract_out_encode(&x, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-extract", out, len, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "is not a table: table: not the head of an encoded table");
    free(out);
    x.table.size = 12;
    CHECK_INT(stage_extract_out_encode(&x, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-extract", out, len, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "has 11 bytes, the output says 12");
    free(out);
    CHECK_STR(b->active.dataset_hash, "");
    //  a train output whose artifact was never uploaded fails its attempt
    stage_train_out_t t = {.family = "logreg", .artifact = {.size = 5}};
    memset(t.artifact.hash, 'a', HASH_HEX_LEN);
    CHECK_INT(stage_train_out_encode(&t, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-train-logreg", out, len, &err), MLOPS_ENOTFOUND);
    CHECK_STR(err.msg, "train output: artifact aaaaaaaaaaaa was never uploaded (the data service "
                       "does not have it)");
    free(out);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  A staged version whose evaluate metrics were forged: load_model's
//  re-score of the artifact disagrees, so it is refused naming the metric
//  and both values; the honest figures promote it.
static void test_stages_settle_rescore(void)
{
    char dir[64];
    broker_t *b = s_broker(dir);
    CHECK(b != NULL);
    mlops_err_t err;
    mlops_err_clear(&err);
    metrics_t honest = {.accuracy = 0.8, .precision = 0.75, .recall = 0.7, .f1 = 0.72, .auc = 0.85,
                        .log_loss = 0.45, .tp = 7, .fp = 2, .tn = 8, .fn = 3};
    version_t v = {.version = 1, .run_id = 1, .family = "logreg", .stage = VERSION_STAGING,
                   .metrics = honest};
    v.metrics.auc = 0.99;                             //  what a forged evaluate said
    CHECK_INT(store_version_put(b->store, NULL, &v, &err), 0);
    b->active.version = 1;
    stage_load_model_out_t lm = {.version = 1, .n_predicted = 20, .metrics = honest};
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_INT(stage_load_model_out_encode(&lm, &out, &len), 0);
    CHECK_INT(s_settle(b, "1-load_model", out, len, &err), MLOPS_ECHECK);
    CHECK_STR(err.msg, "load_model output: auc of v1 is 0.850000000 on the test rows but evaluate "
                       "recorded 0.990000000: not promoted");
    CHECK(!b->active.promoted);
    //  a count differs too: the confusion matrix is compared like the rest
    v.metrics = honest;
    v.metrics.fn = 4;
    CHECK_INT(store_version_put(b->store, NULL, &v, &err), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-load_model", out, len, &err), MLOPS_ECHECK);
    CHECK_CONTAINS(err.msg, "load_model output: fn of v1 is 3.000000000");
    //  the recorded figures are the artifact's: promoted
    v.metrics = honest;
    CHECK_INT(store_version_put(b->store, NULL, &v, &err), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-load_model", out, len, &err), 0);
    CHECK(b->active.promoted);
    free(out);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  With v1 in production, staged v2 goes to production only when
//  load_model says its schema is the same; another schema archives it and
//  the run says why; no verdict at all is refused.
static void test_stages_settle_schema(void)
{
    char dir[64];
    broker_t *b = s_broker(dir);
    CHECK(b != NULL);
    mlops_err_t err;
    mlops_err_clear(&err);
    version_t v1 = {.version = 1, .stage = VERSION_PRODUCTION};
    version_t v2 = {.version = 2, .stage = VERSION_STAGING};
    CHECK_INT(store_version_put(b->store, NULL, &v1, &err), 0);
    CHECK_INT(store_version_put(b->store, NULL, &v2, &err), 0);
    b->active.version = 2;
    stage_load_model_out_t lm = {.version = 2};
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_INT(stage_load_model_out_encode(&lm, &out, &len), 0);
    CHECK_INT(s_settle(b, "1-load_model", out, len, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "load_model output: no schema verdict against production v1 (a load_model "
                       "worker older than the broker?)");
    free(out);
    snprintf(lm.schema, sizeof lm.schema, "fields added: Height; fields removed: Sex");
    CHECK_INT(stage_load_model_out_encode(&lm, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-load_model", out, len, &err), 0);
    CHECK(!b->active.promoted);
    CHECK_STR(b->active.outcome, "v2 not promoted: schema differs from production v1: fields "
                                 "added: Height; fields removed: Sex");
    free(out);
    snprintf(lm.schema, sizeof lm.schema, "same");
    CHECK_INT(stage_load_model_out_encode(&lm, &out, &len), 0);
    CHECK_INT(s_settle(b, "1-load_model", out, len, &err), 0);
    CHECK(b->active.promoted);
    free(out);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  The input the broker builds for task_id, decoded by decode into p.
#define S_INPUT(b, task_id, decode, p, rc)                                                   \
    do {                                                                                     \
        uint8_t *_out = NULL;                                                                \
        size_t _len = 0;                                                                     \
        mlops_err_t _err;                                                                    \
        mlops_err_clear(&_err);                                                              \
        (rc) = stages_build_input((b), dag_task_find(&(b)->active, (task_id)), &_out, &_len, \
                                  &_err);                                                    \
        if ((rc) == 0)                                                                       \
            (rc) = decode(_out, _len, (p), &_err);                                           \
        free(_out);                                                                          \
    } while (0)

static void test_stages_carry_the_task_type(void)
{
    char dir[64];
    broker_t *b = s_broker(dir);
    CHECK(b != NULL);
    mlops_err_t err;
    CHECK_INT(store_object_put(b->store, NULL, (const uint8_t *)"rows", 4, b->active.dataset_hash,
                               &err), 0);
    stage_preprocess_in_t pin;
    int rc;
    S_INPUT(b, "1-preprocess", stage_preprocess_in_decode, &pin, rc);
    CHECK_INT(rc, 0);
    CHECK_STR(pin.task, "");                         //  auto: no key, the old bytes
    snprintf(b->cfg.task, sizeof b->cfg.task, "regression");
    S_INPUT(b, "1-preprocess", stage_preprocess_in_decode, &pin, rc);
    CHECK_INT(rc, 0);
    CHECK_STR(pin.task, "regression");
    //  preprocess's decision goes on to train
    stage_preprocess_out_t prep = {.recipe = {.hash = "", .size = 0}, .task = "multiclass"};
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_INT(stage_preprocess_out_encode(&prep, &out, &len), 0);
    CHECK_INT(store_blob_put(b->store, NULL, "1-preprocess", out, len, &err), 0);
    free(out);
    stage_train_in_t tin;
    S_INPUT(b, "1-train-logreg", stage_train_in_decode, &tin, rc);
    CHECK_INT(rc, 0);
    CHECK_STR(tin.task, "multiclass");
    //  --metric auc on multiclass candidates: refused naming both
    stage_evaluate_out_t ev = {.n_scored = 1};
    snprintf(ev.scored[0].key, sizeof ev.scored[0].key, "1-train-logreg");
    snprintf(ev.scored[0].metrics.task, sizeof ev.scored[0].metrics.task, "multiclass");
    snprintf(b->cfg.rule.metric, sizeof b->cfg.rule.metric, "auc");
    CHECK_INT(stage_evaluate_out_encode(&ev, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-evaluate", out, len, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "metric 'auc' is not one of a multiclass model's (--metric)");
    free(out);
    snprintf(ev.scored[0].metrics.task, sizeof ev.scored[0].metrics.task, "ordinal");
    CHECK_INT(stage_evaluate_out_encode(&ev, &out, &len), 0);
    mlops_err_clear(&err);
    CHECK_INT(s_settle(b, "1-evaluate", out, len, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "evaluate output: unknown task type 'ordinal'");
    free(out);
    broker_destroy(&b);
    fx_rmdir(dir);
}

int main(void)
{
    RUN(test_stages_settle_schema);
    RUN(test_stages_settle_rescore);
    RUN(test_stages_settle_refs);
    RUN(test_stages_build_input_refusals);
    RUN(test_stages_settle_refusals);
    RUN(test_stages_carry_the_task_type);
    return TEST_REPORT("test_stages");
}
