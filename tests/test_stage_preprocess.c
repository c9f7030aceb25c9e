/*  test_stage_preprocess.c: the preprocess stage handler
    (workers/stage_preprocess.c), run in-process on an extracted synthetic
    table: the split (an uploaded blob) covers every row once, the matrix
    and the test table are that split's rows, the task
    type it decides (multiclass Pclass, regression Age with its rows
    without a target counted), and each refusal names its problem. */
#include "stage_fixtures.h"
#include "testing.h"

#include "matrix.h"

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

//  The matrix and the test table are uploaded: the split's rows, encoded.
static void test_matrix_and_test_table(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    uint8_t *bytes = NULL, *tbytes = NULL;
    size_t len = 0, tlen = 0;
    matrix_t m = {0};
    mlops_err_t err;
    int rc = sf_get(&c.p.matrix, &bytes, &len);
    int mrc = rc ? rc : matrix_decode(bytes, len, &m, &err);
    int trc = sf_get(&c.p.test_table, &tbytes, &tlen);
    table_t *test = trc == 0 ? table_decode(tbytes, tlen, &err) : NULL;
    size_t n_train = c.split.n_train, n_test = c.split.n_test;
    sf_chain_clear(&c);
    CHECK_INT(mrc, 0);
    CHECK_INT(m.n_train, n_train);
    CHECK_INT(m.n_test, n_test);
    CHECK_INT(m.n_features, 16);
    CHECK(test != NULL);
    CHECK_INT(test ? test->n_rows : 0, n_test);
    table_destroy(&test);
    free(bytes);
    free(tbytes);
}

static void test_binary_says_no_task(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    char task[RECORD_NAME_MAX];
    snprintf(task, sizeof task, "%s", c.p.task);
    sf_chain_clear(&c);
    CHECK_STR(task, "");   //  the bytes of a binary run are those before task types
}

static void test_multiclass_decided_from_target(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain_task(&c, "Pclass", "auto", NULL), 0);
    CHECK_STR(c.p.task, "multiclass");
    CHECK_CONTAINS(c.p.notes, "multiclass, 3 classes");
    CHECK_INT(c.split.n_train + c.split.n_test, 300);
    CHECK(c.split.n_test > 0 && c.split.n_train > c.split.n_test);
    sf_chain_clear(&c);
}

static void test_regression_counts_rows_without_target(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain_task(&c, "Age", "regression", NULL), 0);
    size_t kept = c.split.n_train + c.split.n_test;
    char want[64];
    snprintf(want, sizeof want, "; %zu rows without a target left out", 300 - kept);
    CHECK_STR(c.p.task, "regression");
    CHECK(kept > 0 && kept < 300);   //  the synthetic Age has missing cells
    CHECK_CONTAINS(c.p.notes, want);
    sf_chain_clear(&c);
}

static void test_task_refusals_name_the_problem(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    mlops_err_t err;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc, rc2;
    stage_preprocess_in_t in = {.table = c.x.table, .target = "Sex", .task = "regression"};
    SF_RUN(rc, stage_preprocess_run, stage_preprocess_in_encode, &in, &out, &len, &err);
    free(out);
    mlops_err_t strings_err = err;
    in = (stage_preprocess_in_t){.table = c.x.table, .task = "ordinal"};
    SF_RUN(rc2, stage_preprocess_run, stage_preprocess_in_encode, &in, &out, &len, &err);
    free(out);
    sf_chain_clear(&c);
    CHECK_INT(rc, MLOPS_EINVAL);
    CHECK_CONTAINS(strings_err.msg, "preprocess: --task regression needs a numeric target; 'Sex' "
                                    "holds strings");
    CHECK_INT(rc2, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "ordinal");
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
    RUN(test_matrix_and_test_table);
    RUN(test_binary_says_no_task);
    RUN(test_multiclass_decided_from_target);
    RUN(test_regression_counts_rows_without_target);
    RUN(test_task_refusals_name_the_problem);
    RUN(test_refusals_name_the_problem);
    sf_down();
    return TEST_REPORT("test_stage_preprocess");
}
