/*  stages.c: what the broker does per stage (broker_internal.h): the
    TASK.input it builds from the store at each dispatch, and how it settles
    a task's output into the store.

    Payloads name data by sha256 (PROTOCOL.md section 14): an input names
    stored objects, and an output is settled only when every object it
    names is stored whole (the data service makes an upload visible only
    once its hash is checked), so a RESULT naming a blob never uploaded
    fails its attempt. No payload bytes pass through here: the outputs kept
    (by task id) are the small payloads themselves.

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
#include "log.h"
#include "metrics.h"
#include "registry.h"
#include "table.h"

/* --- blobs named by hash (the data service's objects) -------------------- */

static bool s_is_hash(const char *s)
{
    if (strlen(s) != HASH_HEX_LEN)
        return false;
    for (const char *c = s; *c; c++)
        if (!strchr("0123456789abcdef", *c))
            return false;
    return true;
}

//  A ref to the stored object hash (what an input names). ENOTFOUND with
//  "WHAT HASH is not in the store".
static int s_ref(broker_t *self, const char *what, const char *hash, stage_ref_t *ref,
                 mlops_err_t *err)
{
    uint64_t size = 0;
    int rc = store_object_size(self->store, batch_current_txn(self->batch), hash, &size, err);
    if (rc == MLOPS_ENOTFOUND || rc == MLOPS_EINVAL)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "%s %.12s is not in the store", what, hash);
    snprintf(ref->hash, sizeof ref->hash, "%s", hash);
    ref->size = (int64_t)size;
    return rc;
}

//  A ref an output names: a stored, complete object of that size (the
//  data service made it visible only once its sha256 matched). ENOTFOUND
//  for a blob never uploaded, EPROTO for a bad name or size.
static int s_check_ref(broker_t *self, store_txn_t *txn, const char *stage, const char *what,
                       const stage_ref_t *ref, mlops_err_t *err)
{
    uint64_t size = 0;
    if (!s_is_hash(ref->hash))
        return mlops_err_set(err, MLOPS_EPROTO, "%s output: %s '%.70s' is not a sha256", stage,
                             what, ref->hash);
    int rc = store_object_size(self->store, txn, ref->hash, &size, err);
    if (rc == MLOPS_ENOTFOUND)
        return mlops_err_set(err, rc, "%s output: %s %.12s was never uploaded (the data service "
                             "does not have it)", stage, what, ref->hash);
    if (rc == 0 && size != (uint64_t)ref->size)
        return mlops_err_set(err, MLOPS_EPROTO, "%s output: %s %.12s has %llu bytes, the output "
                             "says %lld", stage, what, ref->hash, (unsigned long long)size,
                             (long long)ref->size);
    return rc;
}

//  A stage output kept by task id: the small payload naming the blobs.
static int s_blob_get(broker_t *self, const char *key, uint8_t **data, size_t *len, mlops_err_t *err)
{
    return store_blob_get(self->store, batch_current_txn(self->batch), key, data, len, err);
}

//  The run's table, and preprocess's recipe and split (its output).
static int s_load_prep(broker_t *self, stage_ref_t *table, stage_preprocess_out_t *prep,
                       mlops_err_t *err)
{
    char key[64];
    uint8_t *blob = NULL;
    size_t len = 0;
    int rc = run_task_id(key, sizeof key, self->active.id, stage_name(STAGE_PREPROCESS), NULL);
    if (rc == 0)
        rc = s_ref(self, "dataset", self->active.dataset_hash, table, err);
    if (rc == 0)
        rc = s_blob_get(self, key, &blob, &len, err);
    if (rc == 0)
        rc = stage_preprocess_out_decode(blob, len, prep, err);
    free(blob);
    return rc;
}

//  The output of a train task, decoded.
static int s_load_train(broker_t *self, store_txn_t *txn, const char *task_id,
                        stage_train_out_t *train, mlops_err_t *err)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    int rc = store_blob_get(self->store, txn, task_id, &blob, &len, err);
    if (rc == 0)
        rc = stage_train_out_decode(blob, len, train, err);
    free(blob);
    return rc;
}

//  Bytes kept in a database of their own before payloads went by
//  reference (a dataset, an artifact) become an object: a ref to it.
static int s_migrate(broker_t *self, const uint8_t *data, size_t len, stage_ref_t *ref,
                     mlops_err_t *err)
{
    int rc = store_object_put(self->store, batch_current_txn(self->batch), data, len, ref->hash, err);
    ref->size = (int64_t)len;
    return rc;
}

//  The stored table a `dataset:HASH` source names (moved into the objects
//  when an older broker stored it).
static int s_dataset_ref(broker_t *self, const char *hash, stage_ref_t *ref, mlops_err_t *err)
{
    int rc = s_ref(self, "dataset", hash, ref, err);
    uint8_t *table = NULL;
    size_t len = 0;
    if (rc != MLOPS_ENOTFOUND ||
        store_dataset_get(self->store, batch_current_txn(self->batch), hash, &table, &len, err) != 0)
        return rc == MLOPS_ENOTFOUND ? mlops_err_set(err, rc, "dataset %.12s is not in the store", hash)
                                     : rc;
    rc = s_migrate(self, table, len, ref, err);
    free(table);
    return rc;
}

//  The production version's artifact, moved into the objects when it was
//  registered by an older broker.
static int s_production_ref(broker_t *self, const version_t *prod, stage_ref_t *ref, mlops_err_t *err)
{
    int rc = s_ref(self, "artifact", prod->sha256, ref, err);
    if (rc != MLOPS_ENOTFOUND)
        return rc;
    uint8_t *artifact = NULL;
    size_t len = 0;
    mlops_err_clear(err);
    rc = store_artifact_get(self->store, NULL, prod->version, &artifact, &len, err);
    if (rc == 0)
        rc = s_migrate(self, artifact, len, ref, err);
    free(artifact);
    return rc;
}

/* --- stage inputs, built from the store at each dispatch ----------------- */

static int s_input_extract(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                           mlops_err_t *err)
{
    (void)task;
    stage_extract_in_t p = {0};
    const char *source = self->active.source;
    if (strncmp(source, "dataset:", 8) == 0)
        source += 8;
    snprintf(p.source, sizeof p.source, "%s", self->active.source);
    int rc = s_is_hash(source) ? s_dataset_ref(self, source, &p.dataset, err)
                               : broker_feedback_ref(self, source, &p.dataset, err);
    return rc ? rc : stage_extract_in_encode(&p, out, len);
}

static int s_input_preprocess(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                              mlops_err_t *err)
{
    (void)task;
    stage_preprocess_in_t p = {.test_fraction = self->cfg.test_fraction, .seed = self->cfg.seed};
    int rc = s_ref(self, "dataset", self->active.dataset_hash, &p.table, err);
    if (rc)
        return rc;
    snprintf(p.target, sizeof p.target, "%s", self->cfg.target);
    //  auto goes as "" (no key): a binary run's payloads stay the bytes an
    //  older worker reads
    snprintf(p.task, sizeof p.task, "%s", strcmp(self->cfg.task, "auto") == 0 ? "" : self->cfg.task);
    return stage_preprocess_in_encode(&p, out, len);
}

static int s_input_train(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                         mlops_err_t *err)
{
    stage_preprocess_out_t prep;
    stage_train_in_t p = {.seed = self->cfg.seed};
    int rc = s_load_prep(self, &p.table, &prep, err);
    if (rc)
        return rc;
    p.recipe = prep.recipe;
    p.split = prep.split;
    p.matrix = prep.matrix;   //  none from a preprocess before it: train reads the table
    snprintf(p.task, sizeof p.task, "%s", prep.task);
    snprintf(p.family, sizeof p.family, "%s", task->family);
    return stage_train_in_encode(&p, out, len);
}

static int s_input_evaluate(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                            mlops_err_t *err)
{
    (void)task;
    stage_preprocess_out_t prep;
    stage_evaluate_in_t p = {0};
    int rc = s_load_prep(self, &p.table, &prep, err);
    p.split = prep.split;
    p.test_table = prep.test_table;
    snprintf(p.task, sizeof p.task, "%s", rc == 0 ? prep.task : "");
    for (size_t i = 0; i < self->active.n_tasks && rc == 0; i++) {
        const run_task_t *t = &self->active.tasks[i];
        if (dag_task_stage(t) != STAGE_TRAIN || p.n_candidates == STAGE_CANDIDATES_MAX)
            continue;
        stage_candidate_t *c = &p.candidates[p.n_candidates];
        stage_train_out_t train;
        rc = s_load_train(self, batch_current_txn(self->batch), t->task_id, &train, err);
        if (rc)
            break;
        snprintf(c->key, sizeof c->key, "%s", t->task_id);
        snprintf(c->family, sizeof c->family, "%s", train.family);
        c->artifact = train.artifact;
        p.n_candidates++;
    }
    version_t prod;
    if (rc == 0 && registry_production(self->store, &prod, err) == 0) {
        rc = s_production_ref(self, &prod, &p.production, err);
        p.production_version = (int64_t)prod.version;
    }
    return rc ? rc : stage_evaluate_in_encode(&p, out, len);
}

static int s_input_load_model(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                              mlops_err_t *err)
{
    (void)task;
    version_t v;
    stage_preprocess_out_t prep;
    stage_load_model_in_t p = {.version = (int64_t)self->active.version};
    int rc = s_load_prep(self, &p.table, &prep, err);
    if (rc == 0)   //  registered maybe in the open batch
        rc = store_version_get(self->store, batch_current_txn(self->batch), self->active.version, &v,
                               err);
    if (rc == 0)
        rc = s_ref(self, "artifact", v.sha256, &p.artifact, err);
    if (rc)
        return rc;
    p.split = prep.split;
    p.test_table = prep.test_table;
    snprintf(p.task, sizeof p.task, "%s", prep.task);
    p.expected = v.metrics;
    version_t prod;   //  whose signature the candidate's is compared with
    if (registry_production(self->store, &prod, err) != 0)
        mlops_err_clear(err);
    else if (prod.version != v.version) {
        rc = s_production_ref(self, &prod, &p.production, err);
        p.production_version = (int64_t)prod.version;
    }
    return rc ? rc : stage_load_model_in_encode(&p, out, len);
}

/* --- settling a task: its output checked and stored ---------------------- */

static int s_store_blob(broker_t *self, store_txn_t *txn, const run_task_t *task,
                        const uint8_t *output, size_t len, mlops_err_t *err)
{
    return store_blob_put(self->store, txn, task->task_id, output, len, err);
}

//  The dataset version is the name the data service gave the bytes it
//  received (their sha256), and its shape is read from the stored table's
//  head: nothing of it is the worker's word.
static int s_settle_extract(broker_t *self, store_txn_t *txn, const run_task_t *task,
                            const uint8_t *output, size_t len, stages_settled_t *settled,
                            mlops_err_t *err)
{
    (void)task, (void)settled;
    stage_extract_out_t out;
    uint8_t head[TABLE_HEAD_BYTES];
    size_t rows = 0, cols = 0;
    uint64_t total = 0;
    int rc = stage_extract_out_decode(output, len, &out, err);
    if (rc == 0)
        rc = s_check_ref(self, txn, "extract", "table", &out.table, err);
    size_t n = out.table.size < (int64_t)sizeof head ? (size_t)out.table.size : sizeof head;
    if (rc == 0)
        rc = store_object_read(self->store, out.table.hash, 0, head, n, &total, err);
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (rc == 0 && table_shape(head, n, &rows, &cols, &sub) != 0)
        rc = mlops_err_set(err, MLOPS_EPROTO, "extract output: %.12s is not a table: %s",
                           out.table.hash, sub.msg);
    if (rc == 0 && rows == 0)
        rc = mlops_err_set(err, MLOPS_EPROTO, "extract output: table %.12s has no rows", out.table.hash);
    if (rc)
        return rc;
    snprintf(self->active.dataset_hash, sizeof self->active.dataset_hash, "%s", out.table.hash);
    log_info("dataset %.12s rows=%zu cols=%zu bytes=%lld", out.table.hash, rows, cols,
             (long long)out.table.size);
    return 0;
}

static int s_settle_evaluate(broker_t *self, store_txn_t *txn, const run_task_t *task,
                             const uint8_t *output, size_t len, stages_settled_t *settled,
                             mlops_err_t *err)
{
    stage_evaluate_out_t ev;
    registry_decision_t decision;
    int rc = stage_evaluate_out_decode(output, len, &ev, err);
    if (rc == 0 && ev.n_scored == 0)
        rc = mlops_err_set(err, MLOPS_EPROTO, "evaluate output: no candidate scored");
    const char *kind = rc == 0 && ev.scored[0].metrics.task[0] ? ev.scored[0].metrics.task : "binary";
    if (rc == 0 && !registry_default_metric(kind))
        rc = mlops_err_set(err, MLOPS_EPROTO, "evaluate output: unknown task type '%.40s'", kind);
    if (rc == 0 && registry_decide(&self->cfg.rule, &ev, &decision) != 0)
        rc = mlops_err_set(err, MLOPS_EINVAL, "metric '%s' is not one of a %s model's (--metric)",
                           self->cfg.rule.metric, kind);
    if (rc)
        return rc;
    stage_train_out_t train;
    rc = s_load_train(self, txn, ev.scored[decision.best].key, &train, err);
    version_t v;
    if (rc == 0)
        rc = registry_register(self->store, txn, &self->active, &train,
                               &ev.scored[decision.best].metrics, decision.promote, decision.reason,
                               broker_wall(), &v, err);
    if (rc == 0)
        rc = s_store_blob(self, txn, task, output, len, err);
    if (rc)
        return rc;
    self->active.version = v.version;
    settled->registered = v;
    snprintf(self->active.outcome, sizeof self->active.outcome, "%s v%llu: %.200s",
             decision.promote ? "validating" : "archived", (unsigned long long)v.version,
             decision.reason);
    return 0;
}

//  evaluate's metrics are a worker's word: load_model re-scored the
//  registered artifact on the same test rows, and the two must agree
//  (metrics.h) before anything is promoted. ECHECK naming the metric.
static int s_check_rescore(const version_t *v, const metrics_t *rescored, mlops_err_t *err)
{
    metrics_diff_t d;
    if (!metrics_differ(rescored, &v->metrics, &d))
        return 0;
    return mlops_err_set(err, MLOPS_ECHECK, "load_model output: %s of v%llu is %.9f on the test "
                         "rows but evaluate recorded %.9f: not promoted", d.name,
                         (unsigned long long)v->version, d.got, d.want);
}

//  A candidate whose serving contract differs from production's is never
//  promoted on its own: it is archived with REGISTRY_SCHEMA_REASON and
//  what differs, and the run succeeds saying so (*same false). An output
//  with no verdict while there is a production model is EPROTO.
static int s_check_schema(broker_t *self, store_txn_t *txn, const version_t *v,
                          const char *schema, bool *same, stages_settled_t *settled,
                          mlops_err_t *err)
{
    version_t prod;
    *same = true;
    int rc = registry_production(self->store, &prod, err);
    if (rc == MLOPS_ENOTFOUND || (rc == 0 && strcmp(schema, "same") == 0)) {
        mlops_err_clear(err);
        return 0;
    }
    if (rc == 0 && !schema[0])
        rc = mlops_err_set(err, MLOPS_EPROTO, "load_model output: no schema verdict against "
                           "production v%llu (a load_model worker older than the broker?)",
                           (unsigned long long)prod.version);
    if (rc)
        return rc;
    char reason[RECORD_TEXT_MAX];
    snprintf(reason, sizeof reason, REGISTRY_SCHEMA_REASON " v%llu: %.190s",
             (unsigned long long)prod.version, schema);
    rc = registry_archive(self->store, txn, v->version, reason, err);
    if (rc == 0)
        rc = store_version_get(self->store, txn, v->version, &settled->registered, err);
    *same = false;
    snprintf(self->active.outcome, sizeof self->active.outcome, "v%llu %.200s",
             (unsigned long long)v->version, reason);
    return rc;
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
    if (rc == 0)
        rc = s_check_rescore(&v, &out.metrics, err);
    if (rc || v.stage != VERSION_STAGING)
        return rc;
    bool same = true;
    rc = s_check_schema(self, txn, &v, out.schema, &same, settled, err);
    if (rc || !same)
        return rc;
    if (broker_rollout_via(self, txn, &v, &rc, err))   //  --promote-via canary (rollout_watch.c)
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
    if (rc == 0)
        rc = s_check_ref(self, txn, "preprocess", "recipe", &p.recipe, err);
    if (rc == 0)
        rc = s_check_ref(self, txn, "preprocess", "split", &p.split, err);
    if (rc == 0 && p.matrix.hash[0])   //  optional: a preprocess before them names none
        rc = s_check_ref(self, txn, "preprocess", "matrix", &p.matrix, err);
    if (rc == 0 && p.test_table.hash[0])
        rc = s_check_ref(self, txn, "preprocess", "test_table", &p.test_table, err);
    return rc ? rc : s_store_blob(self, txn, task, output, len, err);
}

static int s_settle_train(broker_t *self, store_txn_t *txn, const run_task_t *task,
                          const uint8_t *output, size_t len, stages_settled_t *settled,
                          mlops_err_t *err)
{
    (void)settled;
    stage_train_out_t t;
    int rc = stage_train_out_decode(output, len, &t, err);
    if (rc == 0)
        rc = s_check_ref(self, txn, "train", "artifact", &t.artifact, err);
    return rc ? rc : s_store_blob(self, txn, task, output, len, err);
}

/* --- the table ----------------------------------------------------------- */

typedef int (s_input_fn)(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                         mlops_err_t *err);
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
    int rc = s_stages[stage].build_input(self, task, out, len, err);
    if (rc && !err->msg[0])
        mlops_err_set(err, rc, "cannot build the input of %s: %s", task->task_id, mlops_strerror(rc));
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
