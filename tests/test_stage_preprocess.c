/*  test_stage_preprocess.c: the preprocess stage handler
    (workers/stage_preprocess.c), run in-process on an extracted synthetic
    table: the split covers every row once, and each refusal names its
    problem. */
#include "stage_fixtures.h"
#include "testing.h"

static void test_split_covers_every_row_once(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    CHECK_INT(c.p.n_train + c.p.n_test, 300);
    CHECK(c.p.n_test > 0 && c.p.n_train > c.p.n_test);
    CHECK(c.p.recipe_len > 0);
    uint8_t seen[300] = {0};
    for (size_t i = 0; i < c.p.n_train; i++)
        seen[c.p.train_rows[i]]++;
    for (size_t i = 0; i < c.p.n_test; i++)
        seen[c.p.test_rows[i]]++;
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
    stage_preprocess_in_t in = {.table = c.x.table, .table_len = c.x.table_len, .target = "Nope"};
    SF_RUN(rc, stage_preprocess_run, stage_preprocess_in_encode, &in, &out, &len, &err);
    free(out);
    sf_chain_clear(&c);
    CHECK_INT(rc, MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "preprocess: ");
    CHECK_CONTAINS(err.msg, "Nope");

    in = (stage_preprocess_in_t){.table = (const uint8_t *)"\x80", .table_len = 1};
    SF_RUN(rc, stage_preprocess_run, stage_preprocess_in_encode, &in, &out, &len, &err);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "preprocess: the table does not decode: ");

    CHECK_INT(sf_run_bytes(stage_preprocess_run, "\x81\xa5table\xc0", 8, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "preprocess: bad input: table: expected bin, got nil");
}

int main(void)
{
    RUN(test_split_covers_every_row_once);
    RUN(test_refusals_name_the_problem);
    return TEST_REPORT("test_stage_preprocess");
}
