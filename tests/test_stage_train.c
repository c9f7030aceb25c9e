/*  test_stage_train.c: the train stage handler (workers/stage_train.c), run
    in-process on a preprocessed synthetic table: the artifact, its sha256
    and metrics (logreg, and a gbdt), and each refusal (rows past the table, an unknown family,
    a payload that is not one). */
#include "stage_fixtures.h"
#include "testing.h"

#include "hash.h"

static void test_trains_one_family(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    char sha[HASH_HEX_LEN + 1];
    hash_sha256_hex(c.t.artifact, c.t.artifact_len, sha);
    int same_sha = strcmp(sha, c.t.sha256) == 0;
    double auc = c.t.metrics.auc;
    int family_ok = strcmp(c.t.family, "logreg") == 0 && strcmp(c.t.params, "{}") == 0;
    sf_chain_clear(&c);
    CHECK(same_sha);
    CHECK(family_ok);
    CHECK(auc > 0.5 && auc <= 1);
}

//  Trains with in changed by the caller; returns the code.
static int s_train(const sf_chain_t *c, stage_train_in_t *in, mlops_err_t *err)
{
    in->table = c->x.table, in->table_len = c->x.table_len;
    in->recipe = c->p.recipe, in->recipe_len = c->p.recipe_len;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc;
    SF_RUN(rc, stage_train_run, stage_train_in_encode, in, &out, &len, err);
    free(out);
    return rc;
}

//  The gbdt family trains through the stage, its parameters recorded.
static void test_trains_a_gbdt(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    stage_train_in_t in = {.table = c.x.table, .table_len = c.x.table_len,
                           .recipe = c.p.recipe, .recipe_len = c.p.recipe_len,
                           .train_rows = c.p.train_rows, .n_train = c.p.n_train,
                           .test_rows = c.p.test_rows, .n_test = c.p.n_test,
                           .family = "gbdt", .params = "{\"max_iter\":10}", .seed = 2};
    uint8_t *out = NULL;
    size_t len = 0;
    mlops_err_t err;
    int rc;
    SF_RUN(rc, stage_train_run, stage_train_in_encode, &in, &out, &len, &err);
    stage_train_out_t t = {0};
    if (rc == 0)
        rc = stage_train_out_decode(out, len, &t, &err);
    int ok = rc == 0 && strcmp(t.family, "gbdt") == 0 &&
             strcmp(t.params, "{\"max_iter\":10}") == 0 && t.metrics.auc > 0.5;
    free(out);
    sf_chain_clear(&c);
    CHECK_INT(rc, 0);
    CHECK(ok);
}

static void test_refusals_name_the_problem(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    mlops_err_t err;
    size_t past[] = {0, 300};
    stage_train_in_t in = {.train_rows = past, .n_train = 2, .test_rows = c.p.test_rows,
                           .n_test = c.p.n_test, .family = "logreg"};
    int past_rc = s_train(&c, &in, &err);
    mlops_err_t past_err = err;
    in = (stage_train_in_t){.train_rows = c.p.train_rows, .n_train = c.p.n_train,
                            .test_rows = c.p.test_rows, .n_test = c.p.n_test, .family = "boosting"};
    int family_rc = s_train(&c, &in, &err);
    sf_chain_clear(&c);
    CHECK_INT(past_rc, MLOPS_EPROTO);
    CHECK_STR(past_err.msg, "train_rows[1]: row 300 is past the table's 300 rows");
    CHECK_INT(family_rc, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "train boosting: ");

    CHECK_INT(sf_run_bytes(stage_train_run, "\x80", 1, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "train: bad input: table: missing");
}

int main(void)
{
    RUN(test_trains_one_family);
    RUN(test_trains_a_gbdt);
    RUN(test_refusals_name_the_problem);
    return TEST_REPORT("test_stage_train");
}
