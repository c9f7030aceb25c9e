/*  test_matrix.c: the feature matrix blob (ml/matrix.c) and the fit on it
    (train_matrix, train_fit_matrix in ml/train.c): an artifact fitted on
    the matrix is the artifact fitted on the raw table, byte for byte, for
    every family and task type; every decode refusal (wrong magic, another
    version, a truncated header, dimensions out of range, a length other
    than the header implies); and a matrix that does not fit its recipe. */
#include "testing.h"

#include <stdlib.h>
#include <string.h>

#include "matrix.h"
#include "synth.h"
#include "train.h"

static table_t *s_raw;   //  synthetic:400:3, made once

//  The preprocess of s_raw for target and task, and its matrix blob.
static int s_prepare(const char *target, const char *task, prep_result_t *prep, uint8_t **blob,
                     size_t *len)
{
    mlops_err_t err;
    prep_options_t opts = {.target = target, .seed = 1, .task = task};
    int rc = train_prepare(s_raw, &opts, prep, &err);
    return rc ? rc : train_matrix(s_raw, prep, blob, len, &err);
}

//  family fitted on the table and on the matrix: the same bytes.
static void s_check_same_artifact(const char *target, const char *task, const char *family)
{
    prep_result_t prep;
    uint8_t *blob = NULL, *a = NULL, *b = NULL;
    size_t len = 0, a_len = 0, b_len = 0;
    mlops_err_t err;
    matrix_t m;
    CHECK_INT(s_prepare(target, task, &prep, &blob, &len), 0);
    CHECK_INT(matrix_decode(blob, len, &m, &err), 0);
    CHECK_INT(m.n_train, prep.n_train);
    CHECK_INT(m.n_test, prep.n_test);
    CHECK_INT(train_fit(s_raw, prep.recipe, prep.recipe_len, prep.train_rows, prep.n_train,
                        prep.test_rows, prep.n_test, family, NULL, 7, &a, &a_len, &err), 0);
    CHECK_INT(train_fit_matrix(&m, prep.recipe, prep.recipe_len, family, NULL, 7, &b, &b_len,
                               &err), 0);
    CHECK_INT(a_len, b_len);
    CHECK(a && b && a_len == b_len && memcmp(a, b, a_len) == 0);
    free(a), free(b), free(blob);
    prep_result_clear(&prep);
}

static void test_same_artifact_every_family_and_task(void)
{
    static const char *const families[] = {"logreg", "forest", "gbdt"};
    for (size_t i = 0; i < 3; i++) {
        s_check_same_artifact("Survived", "binary", families[i]);
        s_check_same_artifact("Pclass", "multiclass", families[i]);
        s_check_same_artifact("Fare", "regression", families[i]);
    }
}

static void test_shape_of_a_binary_matrix(void)
{
    prep_result_t prep;
    uint8_t *blob = NULL;
    size_t len = 0;
    mlops_err_t err;
    matrix_t m;
    CHECK_INT(s_prepare("Survived", "binary", &prep, &blob, &len), 0);
    CHECK_INT(matrix_decode(blob, len, &m, &err), 0);
    CHECK_INT(m.task, TASK_BINARY);
    CHECK_INT(m.n_features, 16);   //  the Titanic recipe
    CHECK(m.y_train && m.y_test && !m.v_train && !m.v_test);
    CHECK(m.X_train == (double *)(void *)(blob + MATRIX_HEAD_BYTES));   //  used in place
    CHECK(m.profile_len > 0);
    CHECK_INT(len, MATRIX_HEAD_BYTES + (m.n_train + m.n_test) * (16 * 8 + 1) + m.profile_len);
    free(blob);
    prep_result_clear(&prep);
}

/* --- decode refusals ------------------------------------------------------- */

//  A small valid blob: binary, 2 features, 3 + 1 rows, a 5-byte "profile".
static uint8_t *s_small(size_t *len)
{
    matrix_t m = {.task = TASK_BINARY, .n_features = 2, .n_train = 3, .n_test = 1,
                  .profile_len = 5};
    uint8_t *blob = NULL;
    mlops_err_t err;
    if (matrix_alloc(&m, &blob, len, &err) != 0)
        abort();   //  the tests below would read nothing
    return blob;
}

static void s_put(uint8_t *p, uint64_t v, size_t width)
{
    for (size_t i = 0; i < width; i++, v >>= 8)
        p[i] = (uint8_t)v;
}

//  Decodes len bytes of blob, with the header word at off set to v (width
//  bytes; width 0 = unchanged): the code, and err's text containing want.
static void s_refused(size_t off, size_t width, uint64_t v, size_t len_delta, int code,
                      const char *want)
{
    size_t len = 0;
    uint8_t *blob = s_small(&len);
    uint8_t *copy = malloc(len + 8);   //  room for a longer blob
    memcpy(copy, blob, len);
    memset(copy + len, 0, 8);
    if (width)
        s_put(copy + off, v, width);
    mlops_err_t err;
    matrix_t m;
    mlops_err_clear(&err);
    CHECK_INT(matrix_decode(copy, len + len_delta, &m, &err), code);
    CHECK_CONTAINS(err.msg, want);
    CHECK(m.X_train == NULL);   //  nothing half-decoded
    free(copy), free(blob);
}

static void test_decode_refusals(void)
{
    size_t len = 0;
    uint8_t *blob = s_small(&len);
    mlops_err_t err;
    matrix_t m;
    CHECK_INT(matrix_decode(blob, len, &m, &err), 0);
    CHECK_INT(len, MATRIX_HEAD_BYTES + 4 * 2 * 8 + 4 + 5);
    CHECK_INT(matrix_decode(blob, 3, &m, &err), MLOPS_EFOREIGN);   //  too short for the magic
    free(blob);
    s_refused(0, 4, 0x31465845, 0, MLOPS_EFOREIGN, "no MXF1 magic");   //  "EXF1"
    s_refused(4, 4, 2, 0, MLOPS_EVERSION, "version 2; this peer reads 1");
    s_refused(0, 0, 0, (size_t)-101, MLOPS_EPROTO, "truncated header");
    s_refused(40, 8, 1, 0, MLOPS_EPROTO, "reserved header word");
    s_refused(8, 4, 3, 0, MLOPS_EPROTO, "unknown task 3");
    s_refused(12, 4, 0, 0, MLOPS_EPROTO, "0 features");
    s_refused(12, 4, 5000, 0, MLOPS_EPROTO, "5000 features");
    s_refused(16, 8, 0, 0, MLOPS_EPROTO, "0 train and 1 test rows");
    s_refused(16, 8, (uint64_t)1 << 62, 0, MLOPS_EPROTO, "train and 1 test rows");
    s_refused(24, 8, 100000000, 0, MLOPS_EPROTO, "3 train and 100000000 test rows");
    s_refused(32, 8, (uint64_t)1 << 40, 0, MLOPS_EPROTO, "a profile of");
    s_refused(0, 0, 0, (size_t)-1, MLOPS_ECORRUPT, "120 bytes, its header says 121");   //  body cut
    s_refused(0, 0, 0, 1, MLOPS_ECORRUPT, "122 bytes, its header says 121");           //  extra byte
    s_refused(16, 8, 4, 0, MLOPS_ECORRUPT, "121 bytes, its header says 138");   //  dims: one more row
}

static void test_alloc_refuses_bad_shapes(void)
{
    matrix_t m = {.task = TASK_BINARY, .n_features = 0, .n_train = 3};
    uint8_t *blob = NULL;
    size_t len = 0;
    mlops_err_t err;
    CHECK_INT(matrix_alloc(&m, &blob, &len, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "0 features");
    CHECK(blob == NULL);
}

/* --- a matrix that does not fit its recipe ----------------------------------- */

static void test_fit_refuses_a_foreign_matrix(void)
{
    prep_result_t prep;
    uint8_t *blob = NULL, *art = NULL;
    size_t len = 0, art_len = 0;
    mlops_err_t err;
    matrix_t m;
    CHECK_INT(s_prepare("Survived", "binary", &prep, &blob, &len), 0);
    CHECK_INT(matrix_decode(blob, len, &m, &err), 0);
    m.y_train[1] = 2;   //  no such class
    CHECK_INT(train_fit_matrix(&m, prep.recipe, prep.recipe_len, "logreg", NULL, 7, &art, &art_len,
                               &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "row 1 has class 2 of 2");
    m.y_train[1] = 0;
    m.n_features = 15;   //  not the recipe's width
    CHECK_INT(train_fit_matrix(&m, prep.recipe, prep.recipe_len, "logreg", NULL, 7, &art, &art_len,
                               &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "the matrix holds 15 binary features, the recipe makes 16 binary ones");
    m.n_features = 16;
    m.profile_len -= 1;   //  a cut profile
    CHECK(train_fit_matrix(&m, prep.recipe, prep.recipe_len, "logreg", NULL, 7, &art, &art_len,
                           &err) == MLOPS_EPROTO);
    CHECK(art == NULL);
    free(blob);
    prep_result_clear(&prep);
}

int main(void)
{
    mlops_err_t err;
    if (!(s_raw = synth_generate(400, 3, &err)))
        return 1;
    RUN(test_same_artifact_every_family_and_task);
    RUN(test_shape_of_a_binary_matrix);
    RUN(test_decode_refusals);
    RUN(test_alloc_refuses_bad_shapes);
    RUN(test_fit_refuses_a_foreign_matrix);
    table_destroy(&s_raw);
    return TEST_REPORT("test_matrix");
}
