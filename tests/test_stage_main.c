/*  test_stage_main.c: the helpers every stage handler shares
    (workers/stage_main.c): the handler of each stage, the row check and
    the table decode, with the messages they give. */
#include "stage_fixtures.h"
#include "testing.h"

static void test_handler_of_each_stage(void)
{
    CHECK(stage_handler(STAGE_EXTRACT) == stage_extract_run);
    CHECK(stage_handler(STAGE_PREPROCESS) == stage_preprocess_run);
    CHECK(stage_handler(STAGE_TRAIN) == stage_train_run);
    CHECK(stage_handler(STAGE_EVALUATE) == stage_evaluate_run);
    CHECK(stage_handler(STAGE_LOAD_MODEL) == stage_load_model_run);
    CHECK(stage_handler(STAGE_COUNT) == NULL);
    CHECK(stage_handler((stage_t)-1) == NULL);
}

static void test_check_rows(void)
{
    size_t rows[] = {0, 4, 5};
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(stage_check_rows("test_rows", rows, 2, 5, &err), 0);
    CHECK_INT(stage_check_rows("test_rows", NULL, 0, 0, &err), 0);
    CHECK_INT(stage_check_rows("train_rows", rows, 3, 5, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "train_rows[2]: row 5 is past the table's 5 rows");
}

static void test_table_decode(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    mlops_err_t err;
    mlops_err_clear(&err);
    table_t *t = stage_table_decode("train", c.x.table, c.x.table_len, &err);
    size_t n_rows = t ? t->n_rows : 0;
    table_destroy(&t);
    t = stage_table_decode("train", c.x.table, c.x.table_len - 1, &err);
    sf_chain_clear(&c);
    CHECK_INT(n_rows, 300);
    CHECK(t == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "train: the table does not decode: ");
}

int main(void)
{
    RUN(test_handler_of_each_stage);
    RUN(test_check_rows);
    RUN(test_table_decode);
    return TEST_REPORT("test_stage_main");
}
