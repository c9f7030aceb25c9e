/*  test_train.c: the training stages (train.h): prepare (split and notes),
    fit (same seed same bytes; every refusal: family, parameters, recipe,
    convergence), score, and cross-validation (every fold run; its
    refusals). */
#include "ml_fixtures.h"
#include "model.h"
#include "testing.h"
#include "train.h"

static const char *const s_fam[2] = {TRAIN_FAMILY_LOGREG, TRAIN_FAMILY_FOREST};

static void test_prepare_splits_and_notes(void)
{
    fx_trained_t s;
    int rc = fx_train(&s, 42);
    int ok = rc == 0 && s.pr.n_train == 150 && s.pr.n_test == 50 &&
             strstr(s.pr.notes, "recipe titanic") && strstr(s.pr.notes, "Survived: 1 = positive");
    fx_trained_free(&s);
    CHECK(ok);
}

static void test_same_seed_same_bytes(void)
{
    fx_trained_t a, b, c;
    CHECK_INT(fx_train(&a, 7), 0);
    CHECK_INT(fx_train(&b, 7), 0);
    CHECK_INT(fx_train(&c, 8), 0);
    int same = a.len[0] == b.len[0] && a.len[1] == b.len[1] &&
               memcmp(a.blob[0], b.blob[0], a.len[0]) == 0 &&
               memcmp(a.blob[1], b.blob[1], a.len[1]) == 0;
    int differs = a.len[1] != c.len[1] || memcmp(a.blob[1], c.blob[1], a.len[1]) != 0;
    fx_trained_free(&a);
    fx_trained_free(&b);
    fx_trained_free(&c);
    CHECK(same);
    CHECK(differs);
}

static void test_train_errors(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    mlops_err_t err;
    uint8_t *out;
    size_t out_len;
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "svm", NULL, 1, &out, &out_len, &err),
              MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown model family 'svm'");
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "forest", "{\"trees\":5}", 1, &out,
                        &out_len, &err),
              MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown parameter 'trees' for family forest");
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", "[1]", 1, &out, &out_len, &err),
              MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "not a JSON object");
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", "{\"C\":-1}", 1, &out, &out_len,
                        &err),
              MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "'C' must be a number > 0");
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len / 2, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", NULL, 1, &out, &out_len, &err),
              MLOPS_ECORRUPT);
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", "{\"max_iter\":1}", 1, &out,
                        &out_len, &err),
              MLOPS_ECONVERGE);
    prep_result_t pr;
    prep_options_t po = {"Nope", 0, 1};
    CHECK_INT(train_prepare(s.t, &po, &pr, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no target column 'Nope'");
    po.target = "Pclass";
    CHECK_INT(train_prepare(s.t, &po, &pr, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "not binary");
    fx_trained_free(&s);
}

static void test_cross_validation_runs_every_fold(void)
{
    table_t *t = fx_titanic(FX_TRAINED_ROWS);
    train_cv_t cv[2];
    const char *params[2] = {NULL, "{\"n_trees\":10}"};
    mlops_err_t err;
    prep_options_t po = {NULL, 0, 3};
    CHECK_INT(train_cv(t, &po, 4, 2, s_fam, 2, params, NULL, cv, &err), 0);
    for (int k = 0; k < 2; k++) {
        CHECK_INT(cv[k].n_folds, 8);
        CHECK(cv[k].accuracy_mean > 0.7 && cv[k].accuracy_mean <= 1);
        CHECK(cv[k].auc_std >= 0 && cv[k].auc_mean > 0.7);
    }
    CHECK_INT(train_cv(t, &po, 1, 1, s_fam, 2, params, NULL, cv, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "K in 2..");
    table_destroy(&t);
}

static void test_fit_parameter_ranges(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    mlops_err_t err;
    uint8_t *out = NULL;
    size_t out_len = 0;
    static const struct { const char *family, *params, *msg; } bad[] = {
        {"forest", "{\"n_trees\":0}", "parameter 'n_trees' must be an integer in 1.."},
        {"forest", "{\"max_bins\":1}", "parameter 'max_bins' must be an integer in 2.."},
        {"forest", "{\"n_threads\":1.5}", "parameter 'n_threads' must be an integer"},
        {"logreg", "{\"tol\":\"small\"}", "parameter 'tol' must be a number > 0"},
        {"logreg", "{\"n_trees\":5}", "unknown parameter 'n_trees' for family logreg"},
        {"logreg", "not json", "parameters are not a JSON object: not json"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                            s.pr.test_rows, s.pr.n_test, bad[i].family, bad[i].params, 1, &out,
                            &out_len, &err),
                  MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, bad[i].msg);
        CHECK(out == NULL);
    }
    //  an empty parameter text means the defaults
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", "", 1, &out, &out_len, &err),
              0);
    free(out);
    fx_trained_free(&s);
}

static void test_score_refusals(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    model_t *m = model_load(s.blob[0], s.len[0], NULL);
    CHECK(m != NULL);
    metrics_t met;
    mlops_err_t err;
    //  rows without the target column, and a row whose label is missing
    table_t *bare = fx_generic(FX_TRAINED_ROWS);
    CHECK_INT(train_score(m, bare, s.pr.test_rows, s.pr.n_test, &met, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no target column 'Survived'");
    table_destroy(&bare);
    int c = table_find(s.t, "Survived");
    CHECK(c >= 0);
    size_t row = s.pr.test_rows[0];
    s.t->cols[c].missing[row] = 1;
    CHECK_INT(train_score(m, s.t, s.pr.test_rows, s.pr.n_test, &met, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "target 'Survived' is missing");
    s.t->cols[c].missing[row] = 0;
    CHECK_INT(train_score(m, s.t, s.pr.test_rows, s.pr.n_test, &met, &err), 0);
    CHECK_INT(met.tp + met.fp + met.tn + met.fn, s.pr.n_test);
    model_destroy(&m);
    fx_trained_free(&s);
}

static void test_prepare_refuses_unsplittable_data(void)
{
    table_t *t = fx_titanic(12);
    prep_result_t pr;
    mlops_err_t err;
    //  a test fraction of 0.9 leaves a class with no training row
    prep_options_t po = {NULL, 0.9, 1};
    CHECK_INT(train_prepare(t, &po, &pr, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "each class needs rows on both sides");
    prep_result_clear(&pr); //  safe after a failure
    table_destroy(&t);
}

static void test_cv_refusals(void)
{
    table_t *t = fx_titanic(FX_TRAINED_ROWS);
    train_cv_t cv[9];
    mlops_err_t err;
    prep_options_t po = {NULL, 0, 3};
    const char *const nine[9] = {"logreg", "logreg", "logreg", "logreg", "logreg",
                                 "logreg", "logreg", "logreg", "logreg"};
    CHECK_INT(train_cv(t, &po, 3, 1, nine, 9, NULL, NULL, cv, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "1..8 families");
    CHECK_INT(train_cv(t, &po, 3, 1, s_fam, 0, NULL, NULL, cv, &err), MLOPS_EINVAL);
    CHECK_INT(train_cv(t, &po, 3, 0, s_fam, 2, NULL, NULL, cv, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "1..1000 repeats");
    const char *const svm[1] = {"svm"};
    CHECK_INT(train_cv(t, &po, 3, 1, svm, 1, NULL, NULL, cv, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown model family 'svm'");
    prep_options_t nope = {"Nope", 0, 3};
    CHECK_INT(train_cv(t, &nope, 3, 1, s_fam, 2, NULL, NULL, cv, &err), MLOPS_ENOTFOUND);
    table_destroy(&t);
}

int main(void)
{
    RUN(test_prepare_splits_and_notes);
    RUN(test_same_seed_same_bytes);
    RUN(test_train_errors);
    RUN(test_cross_validation_runs_every_fold);
    RUN(test_fit_parameter_ranges);
    RUN(test_score_refusals);
    RUN(test_prepare_refuses_unsplittable_data);
    RUN(test_cv_refusals);
    return TEST_REPORT("test_train");
}
