/*  test_stage_load_model.c: the load_model stage handler
    (workers/stage_load_model.c), run in-process: a trained artifact passes
    its end-to-end check; an artifact of another size than registered, a
    wrong recorded metric, rows past the table and a payload that is not
    one are each refused by name. (A changed byte cannot reach the stage:
    the data client and the cache check every blob against its sha256,
    tests/test_data.c and test_blob_cache.c.) */
#include "stage_fixtures.h"
#include "testing.h"

//  Checks the artifact ref names against expected on the split (on the
//  test table instead when test_table is not NULL).
static int s_load_on(const sf_chain_t *c, const stage_ref_t *artifact, const metrics_t *expected,
                     const stage_ref_t *split, const stage_ref_t *test_table,
                     stage_load_model_out_t *out, mlops_err_t *err)
{
    stage_load_model_in_t in = {.version = 6, .artifact = *artifact, .expected = *expected,
                                .table = c->x.table, .split = *split};
    if (test_table)
        in.test_table = *test_table;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;
    SF_RUN(rc, stage_load_model_run, stage_load_model_in_encode, &in, &buf, &len, err);
    mlops_err_t sub;
    if (rc == 0)
        rc = stage_load_model_out_decode(buf, len, out, &sub);
    free(buf);
    return rc;
}

static int s_load(const sf_chain_t *c, const stage_ref_t *artifact, const metrics_t *expected,
                  const stage_ref_t *split, stage_load_model_out_t *out, mlops_err_t *err)
{
    return s_load_on(c, artifact, expected, split, NULL, out, err);
}

static void test_artifact_reproduces_its_metrics(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    stage_load_model_out_t out, on_test;
    mlops_err_t err, test_err;
    int rc = s_load(&c, &c.t.artifact, &c.t.metrics, &c.p.split, &out, &err);
    int test_rc = s_load_on(&c, &c.t.artifact, &c.t.metrics, &c.p.split, &c.p.test_table,
                            &on_test, &test_err);
    stage_ref_t junk;   //  a test table that is no table
    CHECK_INT(sf_put("junk", 4, &junk), 0);
    int junk_rc = s_load_on(&c, &c.t.artifact, &c.t.metrics, &c.p.split, &junk,
                            &(stage_load_model_out_t){0}, &err);
    size_t n_test = c.split.n_test;
    sf_chain_clear(&c);
    CHECK_INT(rc, 0);
    CHECK_INT(out.version, 6);
    CHECK_INT(out.n_predicted, n_test);
    CHECK_INT(test_rc, 0);   //  preprocess's test table: the same rows, the same metrics
    CHECK_INT(on_test.n_predicted, n_test);
    CHECK(memcmp(&on_test.metrics, &out.metrics, sizeof(metrics_t)) == 0);
    CHECK_INT(junk_rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "load_model: the test_table does not decode: ");
}

static void test_refusals_name_the_problem(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    stage_load_model_out_t out;
    mlops_err_t err, size_err, metric_err;
    stage_ref_t resized = c.t.artifact;   //  registered with another size
    resized.size--;
    int size_rc = s_load(&c, &resized, &c.t.metrics, &c.p.split, &out, &size_err);
    metrics_t wrong = c.t.metrics;
    wrong.accuracy += 0.01;
    int metric_rc = s_load(&c, &c.t.artifact, &wrong, &c.p.split, &out, &metric_err);
    size_t past[] = {299, 300};
    stage_ref_t bad_split;
    CHECK_INT(sf_put_split(past, 0, past, 2, &bad_split), 0);
    int rows_rc = s_load(&c, &c.t.artifact, &c.t.metrics, &bad_split, &out, &err);
    sf_chain_clear(&c);
    CHECK_INT(size_rc, MLOPS_ECORRUPT);
    CHECK_CONTAINS(size_err.msg, "load_model: the artifact ");
    CHECK_CONTAINS(size_err.msg, " bytes, the task says ");
    CHECK_INT(metric_rc, MLOPS_ECHECK);
    CHECK_CONTAINS(metric_err.msg, "load_model: accuracy is ");
    CHECK_CONTAINS(metric_err.msg, " on the test rows but ");
    CHECK_INT(rows_rc, MLOPS_EPROTO);
    CHECK_STR(err.msg, "test_rows[1]: row 300 is past the table's 300 rows");

    CHECK_INT(sf_run_bytes(stage_load_model_run, "\x82\xa1v\x02\xa7version\xa1" "6", 14, &err),
              MLOPS_EPROTO);
    CHECK_STR(err.msg, "load_model: bad input: version: expected integer, got string");
}

int main(void)
{
    if (sf_up("stage-load-model") != 0)
        return 1;
    RUN(test_artifact_reproduces_its_metrics);
    RUN(test_refusals_name_the_problem);
    sf_down();
    return TEST_REPORT("test_stage_load_model");
}
