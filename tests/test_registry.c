/*  test_registry.c: the model registry (broker/registry.c): the promotion
    rule (pure), and registration, promotion, rollback and archiving on a
    real store in a temporary directory, with what each refuses (an unknown
    metric, no candidate, a version not there or already in production,
    nothing to roll back to); the metrics and default metric of each task
    type, and no comparison across task types.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_fixtures.h"
#include "registry.h"
#include "store.h"
#include "testing.h"

static stage_evaluate_out_t s_eval(double auc_a, double auc_b, int64_t prod_version, double prod_auc)
{
    stage_evaluate_out_t ev = {0};
    snprintf(ev.scored[0].key, sizeof ev.scored[0].key, "1-train-logreg");
    snprintf(ev.scored[0].family, sizeof ev.scored[0].family, "logreg");
    ev.scored[0].metrics.auc = auc_a;
    ev.scored[0].metrics.log_loss = 0.4;
    snprintf(ev.scored[1].key, sizeof ev.scored[1].key, "1-train-forest");
    snprintf(ev.scored[1].family, sizeof ev.scored[1].family, "forest");
    ev.scored[1].metrics.auc = auc_b;
    ev.scored[1].metrics.log_loss = 0.6;
    ev.n_scored = 2;
    ev.production_version = prod_version;
    ev.production.auc = prod_auc;
    ev.production.log_loss = 0.5;
    return ev;
}

static void test_registry_rule(void)
{
    registry_rule_t rule = {.metric = "auc", .margin = 0};
    registry_decision_t d;
    stage_evaluate_out_t ev = s_eval(0.88, 0.83, 0, 0);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 0);
    CHECK(d.promote);
    CHECK_CONTAINS(d.reason, "first version");
    ev = s_eval(0.80, 0.86, 3, 0.85);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 1);
    CHECK(d.promote);
    CHECK_CONTAINS(d.reason, "beats production v3");
    ev = s_eval(0.85, 0.80, 3, 0.85);                //  a tie does not beat
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK(!d.promote);
    CHECK_CONTAINS(d.reason, "does not beat production v3");
    rule.margin = 0.02;
    ev = s_eval(0.86, 0.80, 3, 0.85);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK(!d.promote);                               //  +0.01 is not over the margin
    CHECK_CONTAINS(d.reason, "margin 0.02");
    snprintf(rule.metric, sizeof rule.metric, "log_loss");   //  lower is better
    rule.margin = 0;
    ev = s_eval(0.5, 0.5, 3, 0.5);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 0);
    CHECK(d.promote);                                //  0.4 < production's 0.5
    snprintf(rule.metric, sizeof rule.metric, "speed");
    CHECK_INT(registry_decide(&rule, &ev, &d), MLOPS_EINVAL);
    ev.n_scored = 0;
    snprintf(rule.metric, sizeof rule.metric, "auc");
    CHECK_INT(registry_decide(&rule, &ev, &d), MLOPS_EINVAL);
    double v;
    CHECK_INT(registry_metric(&ev.production, "nope", &v), MLOPS_EINVAL);
}

//  Two candidates of a task type ("multiclass", "regression") whose
//  metric values are a and b, and production (version 0 = none) of
//  prod_task with value p: the metric is accuracy for multiclass, rmse for
//  regression; the other metrics are filled so a default shows which one.
static stage_evaluate_out_t s_eval_task(const char *task, double a, double b, int64_t prod_version,
                                        const char *prod_task, double p)
{
    stage_evaluate_out_t ev = s_eval(0, 0, prod_version, 0);
    metrics_t *m[3] = {&ev.scored[0].metrics, &ev.scored[1].metrics, &ev.production};
    double value[3] = {a, b, p};
    for (int i = 0; i < 3; i++) {
        snprintf(m[i]->task, sizeof m[i]->task, "%s", i == 2 ? prod_task : task);
        if (strcmp(task, "multiclass") == 0)
            m[i]->accuracy = value[i], m[i]->macro_f1 = 1 - value[i];
        else
            m[i]->rmse = value[i], m[i]->r2 = value[i], m[i]->mae = 1;
    }
    return ev;
}

static void test_registry_metrics_per_task(void)
{
    metrics_t mc = {.task = "multiclass", .accuracy = 0.7, .macro_f1 = 0.6, .log_loss = 0.8,
                    .auc = 0.9};
    metrics_t rg = {.task = "regression", .r2 = 0.5, .rmse = 12.5, .mae = 9.25};
    double v = 0;
    CHECK_INT(registry_metric(&mc, "macro_f1", &v), 0);
    CHECK_NEAR(v, 0.6, 0);
    CHECK_INT(registry_metric(&mc, "log_loss", &v), 0);
    CHECK_NEAR(v, 0.8, 0);
    CHECK_INT(registry_metric(&mc, "auc", &v), MLOPS_EINVAL);   //  not a multiclass metric
    CHECK_INT(registry_metric(&rg, "rmse", &v), 0);
    CHECK_NEAR(v, 12.5, 0);
    CHECK_INT(registry_metric(&rg, "mae", &v), 0);
    CHECK_NEAR(v, 9.25, 0);
    CHECK_INT(registry_metric(&rg, "accuracy", &v), MLOPS_EINVAL);
    CHECK(registry_lower_is_better("rmse") && registry_lower_is_better("mae"));
    CHECK(!registry_lower_is_better("r2") && !registry_lower_is_better("macro_f1"));
    CHECK(registry_metric_known("r2") && registry_metric_known("macro_f1"));
    CHECK(!registry_metric_known("speed"));
    CHECK_STR(registry_default_metric(""), "auc");
    CHECK_STR(registry_default_metric("binary"), "auc");
    CHECK_STR(registry_default_metric("multiclass"), "accuracy");
    CHECK_STR(registry_default_metric("regression"), "r2");
    CHECK(registry_default_metric("ordinal") == NULL);
}

static void test_registry_default_metric_follows_task(void)
{
    registry_rule_t rule = {.metric = ""};
    registry_decision_t d;
    stage_evaluate_out_t ev = s_eval(0.80, 0.86, 3, 0.85);   //  binary: auc
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 1);
    CHECK_CONTAINS(d.reason, "forest auc 0.8600 beats production v3");
    ev = s_eval_task("multiclass", 0.7, 0.6, 3, "multiclass", 0.65);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 0);
    CHECK(d.promote);
    CHECK_CONTAINS(d.reason, "logreg accuracy 0.7000 beats production v3 0.6500");
    ev = s_eval_task("regression", 0.4, 0.6, 0, "", 0);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 1);                            //  higher r2
    CHECK_STR(d.reason, "first version: forest r2 0.6000, no production model");
    snprintf(rule.metric, sizeof rule.metric, "rmse");   //  --metric: lower is better
    ev = s_eval_task("regression", 0.4, 0.6, 3, "regression", 0.5);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 0);
    CHECK(d.promote);
    CHECK_CONTAINS(d.reason, "logreg rmse 0.4000 beats production v3 0.5000");
    snprintf(rule.metric, sizeof rule.metric, "auc");    //  not of the candidates' task
    CHECK_INT(registry_decide(&rule, &ev, &d), MLOPS_EINVAL);
}

static void test_registry_no_comparison_across_tasks(void)
{
    registry_rule_t rule = {.metric = ""};
    registry_decision_t d;
    stage_evaluate_out_t ev = s_eval_task("regression", 0.9, 0.8, 3, "binary", 0);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK(!d.promote);
    CHECK_STR(d.reason, "task changed: logreg regression, production v3 binary; metrics of "
                        "different task types are not compared, promote by hand");
    ev = s_eval_task("multiclass", 0.9, 0.8, 3, "", 0);    //  "" is binary too
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK(!d.promote);
    CHECK_CONTAINS(d.reason, "task changed: logreg multiclass, production v3 binary");
    ev = s_eval(0.9, 0.8, 3, 0);
    snprintf(ev.production.task, sizeof ev.production.task, "multiclass");
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK(!d.promote);
    CHECK_CONTAINS(d.reason, "task changed: logreg binary, production v3 multiclass");
}

static uint64_t s_register(store_t *store, uint64_t run_id, bool promote, const char *artifact)
{
    run_t run = {.id = run_id};
    stage_train_out_t cand = {.artifact = {.size = (int64_t)strlen(artifact)}};
    mlops_err_t err;
    if (store_object_put(store, NULL, (const uint8_t *)artifact, strlen(artifact),
                         cand.artifact.hash, &err) != 0)   //  as the data service stores it
        return 0;
    snprintf(cand.family, sizeof cand.family, "logreg");
    metrics_t m = {.auc = 0.9};
    version_t v;
    store_txn_t *txn = store_begin(store, &err);
    if (!txn || registry_register(store, txn, &run, &cand, &m, promote, "test", 1, &v, &err) ||
        store_commit(&txn, &err))
        return 0;
    return v.version;
}

static int s_promote(store_t *store, uint64_t version, uint64_t *previous, mlops_err_t *err)
{
    store_txn_t *txn = store_begin(store, err);
    int rc = registry_promote(store, txn, version, "promote", "because", 5, previous, err);
    if (rc) {
        store_abort(&txn);
        return rc;
    }
    return store_commit(&txn, err);
}

static void test_registry_store_promote_rollback(void)
{
    char dir[] = "/tmp/mlops-test-registry-XXXXXX";
    CHECK(mkdtemp(dir));
    mlops_err_t err;
    mlops_err_clear(&err);
    store_t *store = store_open(dir, NULL, &err);
    CHECK(store);
    version_t prod;
    CHECK_INT(registry_production(store, &prod, &err), MLOPS_ENOTFOUND);
    uint64_t v1 = s_register(store, 1, true, "artifact-1");
    uint64_t v2 = s_register(store, 2, true, "artifact-2");
    uint64_t v3 = s_register(store, 3, false, "artifact-3");
    CHECK_INT(v1, 1);
    CHECK_INT(v3, 3);
    version_t v;
    CHECK_INT(store_version_get(store, NULL, v3, &v, &err), 0);
    CHECK_INT(v.stage, VERSION_ARCHIVED);
    CHECK_INT(v.artifact_len, 10);
    uint8_t *artifact = NULL;   //  the version's artifact is the object it names
    size_t len = 0;
    CHECK_INT(store_artifact_get(store, NULL, v3, &artifact, &len, &err), 0);
    CHECK_INT(len, 10);
    CHECK(artifact && memcmp(artifact, "artifact-3", 10) == 0);
    free(artifact);
    CHECK_INT(store_artifact_get(store, NULL, 77, &artifact, &len, &err), MLOPS_ENOTFOUND);
    CHECK_STR(err.msg, "no artifact for version 77");
    uint64_t previous = 99;
    CHECK_INT(s_promote(store, v1, &previous, &err), 0);
    CHECK_INT(previous, 0);
    CHECK_INT(s_promote(store, v2, &previous, &err), 0);
    CHECK_INT(previous, v1);
    CHECK_INT(s_promote(store, v2, &previous, &err), MLOPS_ESTATE);
    CHECK_CONTAINS(err.msg, "already in production");
    CHECK_INT(s_promote(store, 42, &previous, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no version 42");
    CHECK_INT(store_version_get(store, NULL, v1, &v, &err), 0);
    CHECK_INT(v.stage, VERSION_ARCHIVED);
    CHECK_CONTAINS(v.reason, "replaced by v2");
    //  rollback restores v1, a second one finds nothing before v1
    uint64_t restored = 0;
    store_txn_t *txn = store_begin(store, &err);
    CHECK_INT(registry_rollback(store, txn, "bad model", 6, &restored, &previous, &err), 0);
    CHECK_INT(store_commit(&txn, &err), 0);
    CHECK_INT(restored, v1);
    CHECK_INT(previous, v2);
    CHECK_INT(registry_production(store, &prod, &err), 0);
    CHECK_INT(prod.version, v1);
    txn = store_begin(store, &err);
    CHECK_INT(registry_rollback(store, txn, "again", 7, &restored, &previous, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "nothing to roll back to");
    store_abort(&txn);
    audit_t *log = NULL;
    size_t n = 0;
    CHECK_INT(store_audit_list(store, &log, &n, &err), 0);
    CHECK_INT(n, 3);
    CHECK_STR(log[2].action, "rollback");
    CHECK_STR(log[2].reason, "bad model");
    CHECK_INT(log[2].version, v1);
    CHECK_INT(log[2].previous, v2);
    free(log);
    store_destroy(&store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
}

//  Rollback with nothing in production and archiving a version that does
//  not exist are refused, naming what is missing; nothing is written.
static void test_registry_refusals_on_an_empty_store(void)
{
    char dir[64];
    CHECK_INT(fx_tmpdir(dir, "registry"), 0);
    mlops_err_t err;
    mlops_err_clear(&err);
    store_t *store = store_open(dir, NULL, &err);
    CHECK(store);
    store_txn_t *txn = store_begin(store, &err);
    CHECK(txn);
    uint64_t version = 0, previous = 0;
    CHECK_INT(registry_rollback(store, txn, "why", 1, &version, &previous, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no production version to roll back");
    CHECK_INT(registry_archive(store, txn, 5, "failed", &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no version 5");
    CHECK_INT(store_commit(&txn, &err), 0);          //  the refusals spoiled nothing
    version_t *versions = NULL;
    size_t n = 9;
    CHECK_INT(store_version_list(store, &versions, &n, &err), 0);
    CHECK_INT(n, 0);
    free(versions);
    //  an archived version keeps its reason; archiving twice is harmless
    uint64_t v1 = s_register(store, 1, true, "artifact-1");
    CHECK_INT(v1, 1);
    txn = store_begin(store, &err);
    CHECK_INT(registry_archive(store, txn, v1, "run failed: boom", &err), 0);
    CHECK_INT(registry_archive(store, txn, v1, "run failed: boom", &err), 0);
    CHECK_INT(store_commit(&txn, &err), 0);
    version_t v;
    CHECK_INT(store_version_get(store, NULL, v1, &v, &err), 0);
    CHECK_INT(v.stage, VERSION_ARCHIVED);
    CHECK_STR(v.reason, "run failed: boom");
    CHECK(registry_lower_is_better("log_loss"));
    CHECK(!registry_lower_is_better("auc"));
    CHECK(!registry_lower_is_better(NULL));
    store_destroy(&store);
    fx_rmdir(dir);
}

int main(void)
{
    RUN(test_registry_rule);
    RUN(test_registry_metrics_per_task);
    RUN(test_registry_default_metric_follows_task);
    RUN(test_registry_no_comparison_across_tasks);
    RUN(test_registry_store_promote_rollback);
    RUN(test_registry_refusals_on_an_empty_store);
    return TEST_REPORT("test_registry");
}
