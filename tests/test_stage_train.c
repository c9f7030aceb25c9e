/*  test_stage_train.c: the train stage handler (workers/stage_train.c), run
    in-process on a preprocessed synthetic table: the artifact uploaded
    under its sha256, its metrics, and each refusal (rows past the table,
    an unknown family, a split never uploaded, a payload that is not one). */
#include "stage_fixtures.h"
#include "testing.h"


static void test_trains_one_family(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    uint8_t *artifact = NULL;
    size_t len = 0;
    CHECK_INT(sf_get(&c.t.artifact, &artifact, &len), 0);   //  uploaded under its sha256
    CHECK_INT(len, c.t.artifact.size);
    free(artifact);
    double auc = c.t.metrics.auc;
    int family_ok = strcmp(c.t.family, "logreg") == 0 && strcmp(c.t.params, "{}") == 0;
    sf_chain_clear(&c);
    CHECK(family_ok);
    CHECK(auc > 0.5 && auc <= 1);
}

//  Trains with in changed by the caller; returns the code.
static int s_train(const sf_chain_t *c, stage_train_in_t *in, mlops_err_t *err)
{
    in->table = c->x.table;
    in->recipe = c->p.recipe;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc;
    SF_RUN(rc, stage_train_run, stage_train_in_encode, in, &out, &len, err);
    free(out);
    return rc;
}

static void test_refusals_name_the_problem(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    mlops_err_t err;
    size_t past[] = {0, 300};
    stage_train_in_t in = {.family = "logreg"};
    CHECK_INT(sf_put_split(past, 2, c.split.test_rows, c.split.n_test, &in.split), 0);
    int past_rc = s_train(&c, &in, &err);
    mlops_err_t past_err = err;
    in = (stage_train_in_t){.split = c.p.split, .family = "boosting"};
    int family_rc = s_train(&c, &in, &err);
    mlops_err_t family_err = err;
    in = (stage_train_in_t){.split = c.p.split, .family = "logreg"};
    in.split.hash[0] = in.split.hash[0] == 'a' ? 'b' : 'a';   //  a split never uploaded
    int missing_rc = s_train(&c, &in, &err);
    sf_chain_clear(&c);
    CHECK_INT(past_rc, MLOPS_EPROTO);
    CHECK_STR(past_err.msg, "train_rows[1]: row 300 is past the table's 300 rows");
    CHECK_INT(family_rc, MLOPS_EINVAL);
    CHECK_CONTAINS(family_err.msg, "train boosting: ");
    CHECK_INT(missing_rc, MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "train: cannot fetch the split: blob ");

    CHECK_INT(sf_run_bytes(stage_train_run, "\x81\xa1v\x02", 4, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "train: bad input: table: missing");
}

int main(void)
{
    if (sf_up("stage-train") != 0)
        return 1;
    RUN(test_trains_one_family);
    RUN(test_refusals_name_the_problem);
    sf_down();
    return TEST_REPORT("test_stage_train");
}
