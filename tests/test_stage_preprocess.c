/*  test_stage_preprocess.c: the preprocess stage handler
    (workers/stage_preprocess.c), run in-process on an extracted synthetic
    table: the split (an uploaded blob) covers every row once, and each
    refusal names its problem. */
#include "stage_fixtures.h"
#include "testing.h"

static void test_split_covers_every_row_once(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    CHECK_INT(c.split.n_train + c.split.n_test, 300);
    CHECK(c.split.n_test > 0 && c.split.n_train > c.split.n_test);
    CHECK(c.p.recipe.size > 0);
    uint8_t seen[300] = {0};
    for (size_t i = 0; i < c.split.n_train && c.split.train_rows[i] < 300; i++)
        seen[c.split.train_rows[i]]++;
    for (size_t i = 0; i < c.split.n_test && c.split.test_rows[i] < 300; i++)
        seen[c.split.test_rows[i]]++;
    size_t once = 0;
    for (size_t i = 0; i < 300; i++)
        once += seen[i] == 1;
    sf_chain_clear(&c);
    CHECK_INT(once, 300);
}

static void test_refusals_name_the_problem(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    mlops_err_t err;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc;
    stage_preprocess_in_t in = {.table = c.x.table, .target = "Nope"};
    SF_RUN(rc, stage_preprocess_run, stage_preprocess_in_encode, &in, &out, &len, &err);
    free(out);
    sf_chain_clear(&c);
    CHECK_INT(rc, MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "preprocess: ");
    CHECK_CONTAINS(err.msg, "Nope");

    in = (stage_preprocess_in_t){0};
    CHECK_INT(sf_put("\x80", 1, &in.table), 0);
    SF_RUN(rc, stage_preprocess_run, stage_preprocess_in_encode, &in, &out, &len, &err);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "preprocess: the table does not decode: ");

    CHECK_INT(sf_run_bytes(stage_preprocess_run, "\x82\xa1v\x02\xa5table\xc0", 11, &err),
              MLOPS_EPROTO);
    CHECK_STR(err.msg, "preprocess: bad input: table: expected map, got nil");
}

int main(void)
{
    if (sf_up("stage-preprocess") != 0)
        return 1;
    RUN(test_split_covers_every_row_once);
    RUN(test_refusals_name_the_problem);
    sf_down();
    return TEST_REPORT("test_stage_preprocess");
}
