/*  test_stage_main.c: the helpers every stage handler shares
    (workers/stage_main.c, workers/stage_data.c): the handler of each
    stage, the row check, a table and a split fetched by ref, with the
    messages they give. */
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

//  A table by ref: fetched and decoded; a blob that is no table, one the
//  service does not have and one of another size than the ref says, each
//  refused with its own code.
static void test_table_fetch(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    mlops_err_t err;
    mlops_err_clear(&err);
    table_t *t = stage_table_fetch(&sf_data, "train", &c.x.table, &err);
    CHECK(t != NULL);
    CHECK_INT(t ? t->n_rows : 0, 300);
    table_destroy(&t);
    stage_ref_t junk;
    CHECK_INT(sf_put("\x80", 1, &junk), 0);
    CHECK(stage_table_fetch(&sf_data, "train", &junk, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "train: the table does not decode: ");
    stage_ref_t missing = {.size = 3};
    snprintf(missing.hash, sizeof missing.hash, "%064d", 7);
    CHECK(stage_table_fetch(&sf_data, "train", &missing, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "train: cannot fetch the table: blob 000000000000");
    stage_ref_t wrong = c.x.table;
    wrong.size++;
    CHECK(stage_table_fetch(&sf_data, "train", &wrong, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "the task says");
    sf_chain_clear(&c);
}

//  A split by ref: its rows are checked against the table's.
static void test_split_fetch(void)
{
    size_t train[] = {0, 1}, test[] = {9};
    stage_split_t split = {.train_rows = train, .n_train = 2, .test_rows = test, .n_test = 1}, back;
    uint8_t *bytes = NULL;
    size_t len = 0;
    stage_ref_t ref;
    CHECK_INT(stage_split_encode(&split, &bytes, &len), 0);
    CHECK_INT(sf_put(bytes, len, &ref), 0);
    free(bytes);
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(stage_split_fetch(&sf_data, "evaluate", &ref, 10, &back, &err), 0);
    CHECK_INT(back.n_train, 2);
    CHECK_INT(back.test_rows[0], 9);
    stage_split_clear(&back);
    CHECK_INT(stage_split_fetch(&sf_data, "evaluate", &ref, 9, &back, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "test_rows[0]: row 9 is past the table's 9 rows");
    CHECK(back.test_rows == NULL);
}

int main(void)
{
    if (sf_up("stage-main") != 0)
        return 1;
    RUN(test_handler_of_each_stage);
    RUN(test_check_rows);
    RUN(test_table_fetch);
    RUN(test_split_fetch);
    sf_down();
    return TEST_REPORT("test_stage_main");
}
