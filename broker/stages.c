/*  stages.c: what the broker does per stage (broker_internal.h): the
    TASK.input it builds from the store at each dispatch, and how it settles
    a task's output into the store.

    Inputs read through the batch's open transaction, so an input built
    right after a settle in the same batch (preprocess after extract,
    load_model after evaluate) sees what that settle wrote.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "dag.h"
#include "hash.h"
#include "registry.h"

/* --- stage inputs, built from the store at each dispatch ----------------- */

//  What an input borrows from, freed after the TASK is encoded.
typedef struct {
    uint8_t *table;               //  dataset bytes
    size_t table_len;
    uint8_t *prep_blob;           //  preprocess output
    size_t prep_len;
    stage_preprocess_out_t prep;  //  decoded from prep_blob
    uint8_t *blobs[STAGE_CANDIDATES_MAX]; //  train outputs
    uint8_t *production;          //  production artifact
} s_inputs_t;

static void s_inputs_clear(s_inputs_t *in)
{
    free(in->table);
    free(in->prep_blob);
    stage_preprocess_out_clear(&in->prep);
    for (size_t i = 0; i < STAGE_CANDIDATES_MAX; i++)
        free(in->blobs[i]);
    free(in->production);
    memset(in, 0, sizeof *in);
}

static bool s_is_hash(const char *s)
{
    if (strlen(s) != HASH_HEX_LEN)
        return false;
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789abcdef", *c))
            return false;
    return true;
}

//  A blob as of the open batch (its own writes included): a malloc'd copy.
static int s_blob_get(broker_t *self, const char *key, uint8_t **data, size_t *len, mlops_err_t *err)
{
    return store_blob_get(self->store, batch_current_txn(self->batch), key, data, len, err);
}

static int s_load_table(broker_t *self, const char *hash, s_inputs_t *in, mlops_err_t *err)
{
    int rc = store_dataset_get(self->store, batch_current_txn(self->batch), hash, &in->table,
                               &in->table_len, err);
    if (rc == MLOPS_ENOTFOUND)
        mlops_err_set(err, rc, "dataset %.12s is not in the store", hash);
    return rc;
}

static int s_load_prep(broker_t *self, s_inputs_t *in, mlops_err_t *err)
{
    char key[64];
    int rc = run_task_id(key, sizeof key, self->active.id, stage_name(STAGE_PREPROCESS), NULL);
    if (rc == 0)
        rc = s_load_table(self, self->active.dataset_hash, in, err);
    if (rc == 0)
        rc = s_blob_get(self, key, &in->prep_blob, &in->prep_len, err);
    if (rc == 0)
        rc = stage_preprocess_out_decode(in->prep_blob, in->prep_len, &in->prep, err);
    return rc;
}

static int s_input_extract(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                           s_inputs_t *in, mlops_err_t *err)
{
    (void)task;
    stage_extract_in_t p = {0};
    const char *source = self->active.source;
    if (strncmp(source, "dataset:", 8) == 0)
        source += 8;
    snprintf(p.source, sizeof p.source, "%s", self->active.source);
    if (s_is_hash(source)) {
        int rc = s_load_table(self, source, in, err);
        if (rc)
            return rc;
        p.table = in->table;
        p.table_len = in->table_len;
    }
    return stage_extract_in_encode(&p, out, len);
}

static int s_input_preprocess(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                              s_inputs_t *in, mlops_err_t *err)
{
    (void)task;
    int rc = s_load_table(self, self->active.dataset_hash, in, err);
    if (rc)
        return rc;
    stage_preprocess_in_t p = {.table = in->table, .table_len = in->table_len,
                               .test_fraction = self->cfg.test_fraction, .seed = self->cfg.seed};
    snprintf(p.target, sizeof p.target, "%s", self->cfg.target);
    return stage_preprocess_in_encode(&p, out, len);
}

static int s_input_train(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                         s_inputs_t *in, mlops_err_t *err)
{
    int rc = s_load_prep(self, in, err);
    if (rc)
        return rc;
    stage_train_in_t p = {.table = in->table, .table_len = in->table_len,
                          .recipe = in->prep.recipe, .recipe_len = in->prep.recipe_len,
                          .train_rows = in->prep.train_rows, .n_train = in->prep.n_train,
                          .test_rows = in->prep.test_rows, .n_test = in->prep.n_test,
                          .seed = self->cfg.seed};
    snprintf(p.family, sizeof p.family, "%s", task->family);
    return stage_train_in_encode(&p, out, len);
}

static int s_input_evaluate(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                            s_inputs_t *in, mlops_err_t *err)
{
    (void)task;
    int rc = s_load_prep(self, in, err);
    if (rc)
        return rc;
    stage_evaluate_in_t p = {.table = in->table, .table_len = in->table_len,
                             .test_rows = in->prep.test_rows, .n_test = in->prep.n_test};
    for (size_t i = 0; i < self->active.n_tasks && rc == 0; i++) {
        const run_task_t *t = &self->active.tasks[i];
        if (dag_task_stage(t) != STAGE_TRAIN || p.n_candidates == STAGE_CANDIDATES_MAX)
            continue;
        size_t k = p.n_candidates, blob_len = 0;
        stage_train_out_t train;
        rc = s_blob_get(self, t->task_id, &in->blobs[k], &blob_len, err);
        if (rc == 0)
            rc = stage_train_out_decode(in->blobs[k], blob_len, &train, err);
        if (rc)
            break;
        snprintf(p.candidates[k].key, sizeof p.candidates[k].key, "%s", t->task_id);
        snprintf(p.candidates[k].family, sizeof p.candidates[k].family, "%s", train.family);
        p.candidates[k].artifact = train.artifact;
        p.candidates[k].artifact_len = train.artifact_len;
        p.n_candidates++;
    }
    version_t prod;
    if (rc == 0 && registry_production(self->store, &prod, err) == 0) {
        rc = store_artifact_get(self->store, NULL, prod.version, &in->production, &p.production_len, err);
        p.production = in->production;
        p.production_version = (int64_t)prod.version;
    }
    return rc ? rc : stage_evaluate_in_encode(&p, out, len);
}

static int s_input_load_model(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                              s_inputs_t *in, mlops_err_t *err)
{
    (void)task;
    version_t v;
    int rc = s_load_prep(self, in, err);
    if (rc == 0)   //  registered maybe in the open batch
        rc = store_version_get(self->store, batch_current_txn(self->batch), self->active.version, &v,
                               err);
    stage_load_model_in_t p = {.version = (int64_t)self->active.version, .table = in->table,
                               .table_len = in->table_len, .test_rows = in->prep.test_rows,
                               .n_test = in->prep.n_test};
    //  the artifact is the output of the train task that made the version
    char key[96];
    size_t blob_len = 0;
    stage_train_out_t train;
    if (rc == 0)
        rc = run_task_id(key, sizeof key, self->active.id, stage_name(STAGE_TRAIN), v.family);
    if (rc == 0)
        rc = s_blob_get(self, key, &in->blobs[0], &blob_len, err);
    if (rc == 0)
        rc = stage_train_out_decode(in->blobs[0], blob_len, &train, err);
    if (rc)
        return rc;
    p.artifact = train.artifact;
    p.artifact_len = train.artifact_len;
    p.expected = v.metrics;
    snprintf(p.sha256, sizeof p.sha256, "%s", v.sha256);
    return stage_load_model_in_encode(&p, out, len);
}

/* --- settling a task: its output checked and stored ---------------------- */

static int s_store_blob(broker_t *self, store_txn_t *txn, const run_task_t *task,
                        const uint8_t *output, size_t len, mlops_err_t *err)
{
    return store_blob_put(self->store, txn, task->task_id, output, len, err);
}

static int s_settle_extract(broker_t *self, store_txn_t *txn, const run_task_t *task,
                            const uint8_t *output, size_t len, stages_settled_t *settled,
                            mlops_err_t *err)
{
    (void)task, (void)settled;
    stage_extract_out_t out;
    int rc = stage_extract_out_decode(output, len, &out, err);
    if (rc == 0 && !s_is_hash(out.dataset_hash))
        rc = mlops_err_set(err, MLOPS_EPROTO, "extract output: dataset_hash is not a sha256");
    if (rc == 0)
        rc = store_dataset_put(self->store, txn, out.dataset_hash, out.table, out.table_len, err);
    if (rc == 0)
        snprintf(self->active.dataset_hash, sizeof self->active.dataset_hash, "%s", out.dataset_hash);
    return rc;
}

static int s_settle_evaluate(broker_t *self, store_txn_t *txn, const run_task_t *task,
                             const uint8_t *output, size_t len, stages_settled_t *settled,
                             mlops_err_t *err)
{
    stage_evaluate_out_t ev;
    registry_decision_t decision;
    int rc = stage_evaluate_out_decode(output, len, &ev, err);
    if (rc == 0 && registry_decide(&self->cfg.rule, &ev, &decision) != 0)
        rc = mlops_err_set(err, MLOPS_EPROTO, "evaluate output: no candidate scored");
    if (rc)
        return rc;
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    stage_train_out_t train;
    rc = store_blob_get(self->store, txn, ev.scored[decision.best].key, &blob, &blob_len, err);
    if (rc == 0)
        rc = stage_train_out_decode(blob, blob_len, &train, err);
    version_t v;
    if (rc == 0)
        rc = registry_register(self->store, txn, &self->active, &train,
                               &ev.scored[decision.best].metrics, decision.promote, decision.reason,
                               broker_wall(), &v, err);
    if (rc == 0)
        rc = s_store_blob(self, txn, task, output, len, err);
    free(blob);
    if (rc)
        return rc;
    self->active.version = v.version;
    settled->registered = v;
    snprintf(self->active.outcome, sizeof self->active.outcome, "%s v%llu: %.200s",
             decision.promote ? "validating" : "archived", (unsigned long long)v.version,
             decision.reason);
    return 0;
}

static int s_settle_load_model(broker_t *self, store_txn_t *txn, const run_task_t *task,
                               const uint8_t *output, size_t len, stages_settled_t *settled,
                               mlops_err_t *err)
{
    (void)task;
    stage_load_model_out_t out;
    version_t v;
    int rc = stage_load_model_out_decode(output, len, &out, err);
    if (rc == 0 && out.version != (int64_t)self->active.version)
        rc = mlops_err_set(err, MLOPS_EPROTO, "load_model output: version %lld, expected %llu",
                           (long long)out.version, (unsigned long long)self->active.version);
    if (rc == 0)
        rc = store_version_get(self->store, NULL, self->active.version, &v, err);
    if (rc || v.stage != VERSION_STAGING)
        return rc;
    uint64_t previous = 0;
    rc = registry_promote(self->store, txn, v.version, "promote", v.reason, broker_wall(), &previous, err);
    if (rc)
        return rc;
    settled->promoted = true;
    self->active.promoted = true;
    snprintf(self->active.outcome, sizeof self->active.outcome, "promoted v%llu: %.200s",
             (unsigned long long)v.version, v.reason);
    return 0;
}

static int s_settle_preprocess(broker_t *self, store_txn_t *txn, const run_task_t *task,
                               const uint8_t *output, size_t len, stages_settled_t *settled,
                               mlops_err_t *err)
{
    (void)settled;
    stage_preprocess_out_t p;
    int rc = stage_preprocess_out_decode(output, len, &p, err);
    stage_preprocess_out_clear(&p);
    return rc ? rc : s_store_blob(self, txn, task, output, len, err);
}

static int s_settle_train(broker_t *self, store_txn_t *txn, const run_task_t *task,
                          const uint8_t *output, size_t len, stages_settled_t *settled,
                          mlops_err_t *err)
{
    (void)settled;
    stage_train_out_t t;
    int rc = stage_train_out_decode(output, len, &t, err);
    return rc ? rc : s_store_blob(self, txn, task, output, len, err);
}

/* --- the table ----------------------------------------------------------- */

typedef int (s_input_fn)(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                         s_inputs_t *in, mlops_err_t *err);
typedef int (s_settle_fn)(broker_t *self, store_txn_t *txn, const run_task_t *task,
                          const uint8_t *output, size_t len, stages_settled_t *settled,
                          mlops_err_t *err);

//  What the broker does per stage: build the TASK.input, settle the output.
static const struct {
    s_input_fn *build_input;
    s_settle_fn *settle;
} s_stages[STAGE_COUNT] = {
    [STAGE_EXTRACT] = {s_input_extract, s_settle_extract},
    [STAGE_PREPROCESS] = {s_input_preprocess, s_settle_preprocess},
    [STAGE_TRAIN] = {s_input_train, s_settle_train},
    [STAGE_EVALUATE] = {s_input_evaluate, s_settle_evaluate},
    [STAGE_LOAD_MODEL] = {s_input_load_model, s_settle_load_model},
};

int stages_build_input(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                       mlops_err_t *err)
{
    int stage = dag_task_stage(task);
    if (stage < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "unknown stage '%s'", task->stage);
    s_inputs_t in = {0};
    int rc = s_stages[stage].build_input(self, task, out, len, &in, err);
    if (rc && !err->msg[0])
        mlops_err_set(err, rc, "cannot build the input of %s: %s", task->task_id, mlops_strerror(rc));
    s_inputs_clear(&in);
    return rc;
}

//  A task of an unknown stage never reaches a worker (its input cannot be
//  built), so it has no output to settle: refused all the same.
int stages_settle(broker_t *self, store_txn_t *txn, const run_task_t *task,
                  const uint8_t *output, size_t len, stages_settled_t *settled, mlops_err_t *err)
{
    int stage = dag_task_stage(task);
    if (stage < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "unknown stage '%s'", task->stage);
    return s_stages[stage].settle(self, txn, task, output, len, settled, err);
}
