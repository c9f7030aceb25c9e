/*  test_stage_evaluate.c: the evaluate stage handler
    (workers/stage_evaluate.c), run in-process: candidates and production
    scored on the same rows with the metrics of the run's task type, a
    production model that cannot be scored left out, one of another task
    type named but not scored, and each refusal. */
#include "stage_fixtures.h"
#include "testing.h"

//  Evaluates the artifact as candidate and, when given, production.
static int s_evaluate(const sf_chain_t *c, const stage_ref_t *artifact, const stage_ref_t *production,
                      stage_evaluate_out_t *out, mlops_err_t *err)
{
    stage_evaluate_in_t in = {.table = c->x.table, .split = c->p.split, .n_candidates = 1,
                              .production_version = production ? 4 : 0,
                              .test_table = c->p.test_table};
    snprintf(in.task, sizeof in.task, "%s", c->p.task);
    if (production)
        in.production = *production;
    snprintf(in.candidates[0].key, sizeof in.candidates[0].key, "9-train-logreg");
    snprintf(in.candidates[0].family, sizeof in.candidates[0].family, "logreg");
    in.candidates[0].artifact = *artifact;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;
    SF_RUN(rc, stage_evaluate_run, stage_evaluate_in_encode, &in, &buf, &len, err);
    mlops_err_t sub;
    if (rc == 0)
        rc = stage_evaluate_out_decode(buf, len, out, &sub);
    free(buf);
    return rc;
}

static void test_scores_candidates_and_production(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    stage_evaluate_out_t out;
    mlops_err_t err;
    int rc = s_evaluate(&c, &c.t.artifact, &c.t.artifact, &out, &err);
    double train_auc = c.t.metrics.auc;
    //  a production artifact that does not load is no yardstick: left out
    stage_evaluate_out_t no_prod;
    stage_ref_t junk;
    CHECK_INT(sf_put("junk", 4, &junk), 0);
    int rc2 = s_evaluate(&c, &c.t.artifact, &junk, &no_prod, &err);
    sf_chain_clear(&c);
    CHECK_INT(rc, 0);
    CHECK_INT(out.n_scored, 1);
    CHECK_STR(out.scored[0].key, "9-train-logreg");
    CHECK_NEAR(out.scored[0].metrics.auc, train_auc, 1e-12);   //  the same test rows
    CHECK_INT(out.production_version, 4);
    CHECK_NEAR(out.production.auc, train_auc, 1e-12);
    CHECK_INT(rc2, 0);
    CHECK_INT(no_prod.production_version, 0);
}

//  Candidate and production of the task on the same rows: its metrics.
static void s_check_task(const char *target, const char *task, const char *family)
{
    sf_chain_t c;
    CHECK_INT(sf_chain_task(&c, target, task, family), 0);
    stage_evaluate_out_t out;
    mlops_err_t err;
    int rc = s_evaluate(&c, &c.t.artifact, &c.t.artifact, &out, &err);
    metrics_t trained = c.t.metrics;
    sf_chain_clear(&c);
    CHECK_INT(rc, 0);
    CHECK_INT(out.n_scored, 1);
    CHECK_STR(out.scored[0].metrics.task, task);
    CHECK_STR(out.production.task, task);
    CHECK_INT(out.production_version, 4);
    if (strcmp(task, "multiclass") == 0) {
        CHECK_NEAR(out.scored[0].metrics.accuracy, trained.accuracy, 1e-12);
        CHECK_NEAR(out.scored[0].metrics.macro_f1, trained.macro_f1, 1e-12);
        CHECK_NEAR(out.production.log_loss, trained.log_loss, 1e-12);
    } else {
        CHECK_NEAR(out.scored[0].metrics.r2, trained.r2, 1e-12);
        CHECK_NEAR(out.scored[0].metrics.rmse, trained.rmse, 1e-12);
        CHECK_NEAR(out.production.mae, trained.mae, 1e-12);
    }
}

static void test_multiclass_and_regression(void)
{
    s_check_task("Pclass", "multiclass", "forest");
    s_check_task("Age", "regression", "gbdt");
}

//  Production predicts another task type: named (its task, its version)
//  with no metrics, for the registry to refuse comparing; a candidate of
//  another task than the run's is an error.
static void test_other_task_types(void)
{
    sf_chain_t bin, reg;
    CHECK_INT(sf_chain(&bin, true), 0);
    CHECK_INT(sf_chain_task(&reg, "Age", "regression", "logreg"), 0);
    stage_evaluate_out_t out;
    mlops_err_t err;
    int rc = s_evaluate(&reg, &reg.t.artifact, &bin.t.artifact, &out, &err);
    int rc2 = s_evaluate(&reg, &bin.t.artifact, NULL, &(stage_evaluate_out_t){0}, &err);
    sf_chain_clear(&bin);
    sf_chain_clear(&reg);
    CHECK_INT(rc, 0);
    CHECK_STR(out.scored[0].metrics.task, "regression");
    CHECK_INT(out.production_version, 4);
    CHECK_STR(out.production.task, "binary");
    CHECK(out.production.auc == 0 && out.production.r2 == 0);
    CHECK_INT(rc2, MLOPS_EINVAL);
    CHECK_STR(err.msg, "evaluate: cannot score 9-train-logreg: it predicts binary, the run is regression");
}

//  preprocess's test table and the raw table's split test rows: the same
//  metrics, to the bit (an input without test_table is an older broker's).
static void test_test_table_scores_the_split_rows(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    stage_evaluate_out_t with, without;
    mlops_err_t err;
    int rc = s_evaluate(&c, &c.t.artifact, &c.t.artifact, &with, &err);
    sf_chain_t old = c;
    memset(&old.p.test_table, 0, sizeof old.p.test_table);
    int rc2 = s_evaluate(&old, &c.t.artifact, &c.t.artifact, &without, &err);
    stage_ref_t junk;   //  a test table that is no table
    CHECK_INT(sf_put("junk", 4, &junk), 0);
    old.p.test_table = junk;
    int rc3 = s_evaluate(&old, &c.t.artifact, NULL, &(stage_evaluate_out_t){0}, &err);
    bool named = c.p.test_table.hash[0] != 0;
    sf_chain_clear(&c);
    CHECK(named);
    CHECK_INT(rc, 0);
    CHECK_INT(rc2, 0);
    CHECK(memcmp(&with.scored[0].metrics, &without.scored[0].metrics, sizeof(metrics_t)) == 0);
    CHECK(memcmp(&with.production, &without.production, sizeof(metrics_t)) == 0);
    CHECK_INT(rc3, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "evaluate: the test_table does not decode: ");
}

static void test_refusals_name_the_problem(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    stage_evaluate_out_t out;
    mlops_err_t err;
    stage_ref_t junk;
    CHECK_INT(sf_put("junk", 4, &junk), 0);
    int rc = s_evaluate(&c, &junk, NULL, &out, &err);
    sf_chain_clear(&c);
    CHECK_INT(rc, MLOPS_EFOREIGN);
    CHECK_CONTAINS(err.msg, "evaluate: 9-train-logreg does not load: ");

    CHECK_INT(sf_run_bytes(stage_evaluate_run, "\x82\xa1v\x02\xa5split\x91\xff", 12, &err),
              MLOPS_EPROTO);
    CHECK_STR(err.msg, "evaluate: bad input: split: expected map, got array");
}

int main(void)
{
    if (sf_up("stage-evaluate") != 0)
        return 1;
    RUN(test_scores_candidates_and_production);
    RUN(test_multiclass_and_regression);
    RUN(test_other_task_types);
    RUN(test_test_table_scores_the_split_rows);
    RUN(test_refusals_name_the_problem);
    sf_down();
    return TEST_REPORT("test_stage_evaluate");
}
