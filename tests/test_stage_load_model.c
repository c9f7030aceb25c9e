/*  test_stage_load_model.c: the load_model stage handler
    (workers/stage_load_model.c), run in-process: a trained artifact passes
    its end-to-end check; a changed byte, a wrong recorded metric, rows past
    the table and a payload that is not one are each refused by name. */
#include "stage_fixtures.h"
#include "testing.h"

//  Checks the chain's artifact (as given) against sha256 and expected.
static int s_load(const sf_chain_t *c, const uint8_t *artifact, const metrics_t *expected,
                  size_t *rows, size_t n_rows, stage_load_model_out_t *out, mlops_err_t *err)
{
    stage_load_model_in_t in = {.version = 6, .artifact = artifact, .artifact_len = c->t.artifact_len,
                                .expected = *expected, .table = c->x.table,
                                .table_len = c->x.table_len, .test_rows = rows, .n_test = n_rows};
    snprintf(in.sha256, sizeof in.sha256, "%s", c->t.sha256);
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

static void test_artifact_reproduces_its_metrics(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    stage_load_model_out_t out;
    mlops_err_t err;
    int rc = s_load(&c, c.t.artifact, &c.t.metrics, c.p.test_rows, c.p.n_test, &out, &err);
    size_t n_test = c.p.n_test;
    sf_chain_clear(&c);
    CHECK_INT(rc, 0);
    CHECK_INT(out.version, 6);
    CHECK_INT(out.n_predicted, n_test);
}

static void test_refusals_name_the_problem(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    stage_load_model_out_t out;
    mlops_err_t err, sha_err, metric_err;
    uint8_t *changed = malloc(c.t.artifact_len);
    CHECK(changed != NULL);
    memcpy(changed, c.t.artifact, c.t.artifact_len);
    changed[c.t.artifact_len / 2] ^= 0x01;
    int sha_rc = s_load(&c, changed, &c.t.metrics, c.p.test_rows, c.p.n_test, &out, &sha_err);
    free(changed);
    metrics_t wrong = c.t.metrics;
    wrong.accuracy += 0.01;
    int metric_rc = s_load(&c, c.t.artifact, &wrong, c.p.test_rows, c.p.n_test, &out, &metric_err);
    size_t past[] = {299, 300};
    int rows_rc = s_load(&c, c.t.artifact, &c.t.metrics, past, 2, &out, &err);
    sf_chain_clear(&c);
    CHECK_INT(sha_rc, MLOPS_ECORRUPT);
    CHECK_CONTAINS(sha_err.msg, "load_model: artifact of v6 has sha256 ");
    CHECK_INT(metric_rc, MLOPS_ECHECK);
    CHECK_CONTAINS(metric_err.msg, "load_model: accuracy is ");
    CHECK_CONTAINS(metric_err.msg, " on the test rows but ");
    CHECK_INT(rows_rc, MLOPS_EPROTO);
    CHECK_STR(err.msg, "test_rows[1]: row 300 is past the table's 300 rows");

    CHECK_INT(sf_run_bytes(stage_load_model_run, "\x81\xa7version\xa1" "6", 11, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "load_model: bad input: version: expected integer, got string");
}

int main(void)
{
    RUN(test_artifact_reproduces_its_metrics);
    RUN(test_refusals_name_the_problem);
    return TEST_REPORT("test_stage_load_model");
}
