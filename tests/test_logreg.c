/*  test_logreg.c: logistic regression against coefficients computed once
    in Python on the data built by s_data (below), plus every error path.
    Two references: scikit-learn 1.2.1's LogisticRegression(C, tol=1e-12,
    max_iter=10000), whose lbfgs stops within ~5e-6 of the optimum, and the
    exact optimum of the same objective from scipy's BFGS (gtol 1e-12),
    which Newton must hit to 1e-7.

        X = [[((i*7)%11)/3 - 1.5, ((i*5)%13)/4 - 1, (i%4)*0.5] for i in range(24)]
        y = [x0 + 0.5 x1 - 0.3 x2 + ((i*3)%5 - 2)*0.4 > 0]
*/
#include "logreg.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>

#define N 24
#define P 3

static void s_data(double *X, uint8_t *y)
{
    for (int i = 0; i < N; i++) {
        X[i * P] = ((i * 7) % 11) / 3.0 - 1.5;
        X[i * P + 1] = ((i * 5) % 13) / 4.0 - 1.0;
        X[i * P + 2] = (i % 4) * 0.5;
        y[i] = X[i * P] + 0.5 * X[i * P + 1] - 0.3 * X[i * P + 2] + ((i * 3) % 5 - 2) * 0.4 > 0;
    }
}

static void test_matches_sklearn_c1(void)
{
    double X[N * P];
    uint8_t y[N];
    s_data(X, y);
    mlops_err_t err;
    logreg_t *m = logreg_fit(X, y, N, P, NULL, &err);
    CHECK(m != NULL);
    //  sklearn
    CHECK_NEAR(m->coef[0], 1.9903099417187622, 1e-5);
    CHECK_NEAR(m->coef[1], 0.2834797956718094, 1e-5);
    CHECK_NEAR(m->coef[2], -0.6237324925019243, 1e-5);
    CHECK_NEAR(m->intercept, -0.35092016713645746, 1e-5);
    //  exact optimum
    CHECK_NEAR(m->coef[0], 1.9903141070618662, 1e-7);
    CHECK_NEAR(m->coef[1], 0.28348179995448997, 1e-7);
    CHECK_NEAR(m->coef[2], -0.6237372963754778, 1e-7);
    CHECK_NEAR(m->intercept, -0.350922353496739, 1e-7);
    CHECK_NEAR(logreg_predict_one(m, X), 0.02608724281770082, 1e-8);
    CHECK_NEAR(logreg_predict_one(m, X + P), 0.7439639905805981, 1e-8);
    CHECK(m->n_iter > 0 && m->n_iter < 20);
    logreg_destroy(&m);
    CHECK(m == NULL);
}

static void test_matches_sklearn_c01(void)
{
    double X[N * P];
    uint8_t y[N];
    s_data(X, y);
    logreg_params_t pr = {.C = 0.1};
    logreg_t *m = logreg_fit(X, y, N, P, &pr, NULL);
    CHECK(m != NULL);
    CHECK_NEAR(m->coef[0], 0.6522889327532141, 1e-6); //  sklearn
    CHECK_NEAR(m->coef[1], 0.10919459786513278, 1e-6);
    CHECK_NEAR(m->coef[2], -0.08552407425427616, 1e-6);
    CHECK_NEAR(m->intercept, -0.26828941737976375, 1e-6);
    CHECK_NEAR(m->coef[0], 0.652288900287731, 1e-7); //  exact optimum
    CHECK_NEAR(m->coef[1], 0.10919455607696991, 1e-7);
    CHECK_NEAR(m->coef[2], -0.0855241162030064, 1e-7);
    CHECK_NEAR(m->intercept, -0.26828943516842596, 1e-7);
    CHECK_NEAR(logreg_predict_one(m, X + 2 * P), 0.3737491729416531, 1e-6);
    logreg_destroy(&m);
}

static void test_probabilities_in_unit_interval_for_extremes(void)
{
    double coef[2] = {1000, -1000};
    logreg_t *m = logreg_new(2, coef, 0);
    CHECK(m != NULL);
    double big[2] = {1e6, -1e6}, small[2] = {-1e6, 1e6};
    double hi = logreg_predict_one(m, big), lo = logreg_predict_one(m, small);
    CHECK(hi >= 0 && hi <= 1 && lo >= 0 && lo <= 1);
    CHECK_NEAR(hi, 1.0, 1e-12);
    CHECK_NEAR(lo, 0.0, 1e-12);
    logreg_destroy(&m);
    logreg_destroy(&m); //  NULL is ignored
}

static void test_no_convergence_is_reported(void)
{
    double X[N * P];
    uint8_t y[N];
    s_data(X, y);
    logreg_params_t pr = {.max_iter = 1};
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK(logreg_fit(X, y, N, P, &pr, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECONVERGE);
    CHECK_CONTAINS(err.msg, "no convergence in 1 Newton iterations");
}

static void test_bad_input_is_rejected(void)
{
    double X[N * P];
    uint8_t y[N];
    s_data(X, y);
    mlops_err_t err;
    CHECK(logreg_fit(X, y, 0, P, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "no training rows");
    y[5] = 2;
    CHECK(logreg_fit(X, y, N, P, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "label 2 in row 5");
    y[5] = 0;
    X[7 * P + 1] = NAN;
    CHECK(logreg_fit(X, y, N, P, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "feature 1 of row 7 is not finite");
    X[7 * P + 1] = 0;
    logreg_params_t pr = {.C = -1};
    CHECK(logreg_fit(X, y, N, P, &pr, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "C must be > 0");
    CHECK(logreg_fit(X, y, N, LOGREG_MAX_FEATURES + 1, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "exceed the limit");
}

static void test_separable_data_stays_finite(void)
{
    //  Perfectly separable: L2 keeps the optimum finite, Newton reaches it.
    double X[8] = {-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2};
    uint8_t y[8] = {0, 0, 0, 0, 1, 1, 1, 1};
    logreg_t *m = logreg_fit(X, y, 8, 1, NULL, NULL);
    CHECK(m != NULL);
    CHECK(isfinite(m->coef[0]) && m->coef[0] > 0);
    CHECK(logreg_predict_one(m, X) < 0.5 && logreg_predict_one(m, X + 7) > 0.5);
    logreg_destroy(&m);
}

static void test_collinear_one_hots_on_many_rows(void)
{
    //  Five standardised one-hot columns that sum to a constant (collinear
    //  with the intercept, as Title_* are), one level rare, and a numeric
    //  column, on 200,000 rows: only the L2 term keeps the Hessian positive
    //  definite, and sums over many rows must not lose it to rounding.
    size_t n = 200000, p = 6;
    double *X = malloc(n * p * sizeof *X), mean[6] = {0}, sd[6] = {0};
    uint8_t *y = malloc(n);
    for (size_t i = 0; i < n; i++) {
        size_t r = (i * 7919) % 100, k = r < 2 ? 0 : r < 30 ? 1 : r < 60 ? 2 : r < 90 ? 3 : 4;
        for (size_t j = 0; j < 5; j++)
            X[i * p + j] = j == k;
        X[i * p + 5] = (double)((i * 13) % 17) / 8 - 1;
        y[i] = (X[i * p + 5] + (k == 1 ? 0.8 : -0.3) + ((i * 5) % 11) / 5.0 - 1) > 0;
    }
    for (size_t j = 0; j < p; j++) {
        for (size_t i = 0; i < n; i++)
            mean[j] += X[i * p + j] / (double)n;
        for (size_t i = 0; i < n; i++)
            sd[j] += (X[i * p + j] - mean[j]) * (X[i * p + j] - mean[j]) / (double)n;
        for (size_t i = 0; i < n; i++)
            X[i * p + j] = (X[i * p + j] - mean[j]) / sqrt(sd[j]);
    }
    mlops_err_t err;
    logreg_t *m = logreg_fit(X, y, n, p, NULL, &err);
    free(X);
    free(y);
    CHECK(m != NULL);
    CHECK(m->coef[1] > m->coef[2] && m->coef[5] > 0);
    logreg_destroy(&m);
}

/*  Multinomial and ridge on a 12-row, 2-feature, 3-class set, against
    scikit-learn 1.2.1:
        LogisticRegression(C=1.0, tol=1e-12, max_iter=100000).fit(X3, y3)
        Ridge(alpha=1.0).fit(X3, v3)
    sklearn's lbfgs stops ~1e-5 short of the optimum, so the multinomial
    is also checked against the exact optimum of the same objective
    (scipy BFGS, gtol 1e-13, intercepts centred) to 1e-7.                 */
static const double X3[12 * 2] = {0.5, 1.0,  1.5,  -0.5, -1.0, 0.3,  0.2,  0.8,
                                  -0.7, -1.2, 1.1, 0.4,  -1.5, 0.9,  0.3,  -0.9,
                                  2.0, 1.5,  -0.2, -0.3, 0.9,  -1.4, -1.8, -0.6};
static const uint8_t y3[12] = {0, 1, 2, 0, 2, 1, 2, 1, 0, 0, 1, 2};
static const double v3[12] = {1.2, 3.4, -0.5, 2.2, -1.0, 2.9, 0.1, 1.7, 4.0, 0.6, 2.5, -1.3};

static void test_multinomial_matches_sklearn(void)
{
    static const double coef[3][2] = {{0.304825938114, 0.771287574504},
                                      {0.952978230067, -0.678699137215},
                                      {-1.257804168181, -0.092588437289}};
    static const double b[3] = {0.190312377337, -0.086673185203, -0.103639192134};
    mlops_err_t err;
    logreg_t *m = logreg_fit_multi(X3, y3, 12, 2, 3, NULL, &err);
    CHECK(m != NULL);
    CHECK_INT((int)logreg_outputs(m), 3);
    static const double exact[3][3] = {{0.304834556234, 0.771291251899, 0.190308255706},
                                       {0.952978210628, -0.678691682022, -0.086663187475},
                                       {-1.257812766862, -0.092599569876, -0.103645068231}};
    for (int c = 0; c < 3; c++) {
        CHECK_NEAR(m->coef[c * 2], coef[c][0], 2e-5);
        CHECK_NEAR(m->coef[c * 2 + 1], coef[c][1], 2e-5);
        CHECK_NEAR(m->intercepts[c], b[c], 2e-5);
        CHECK_NEAR(m->coef[c * 2], exact[c][0], 1e-7);
        CHECK_NEAR(m->coef[c * 2 + 1], exact[c][1], 1e-7);
        CHECK_NEAR(m->intercepts[c], exact[c][2], 1e-7);
    }
    double pr[3];
    logreg_predict_outputs(m, X3, pr);
    CHECK_NEAR(pr[0], 0.719574054128, 1e-5);
    CHECK_NEAR(pr[1], 0.176931617688, 1e-5);
    CHECK_NEAR(pr[2], 0.103494328184, 1e-5);
    logreg_destroy(&m);
}

static void test_multinomial_absent_class_gets_probability_zero(void)
{
    uint8_t y[12];
    for (int i = 0; i < 12; i++)
        y[i] = y3[i] == 1 ? 3 : y3[i]; //  classes 0, 2, 3 of 4: class 1 has no row
    mlops_err_t err;
    logreg_t *m = logreg_fit_multi(X3, y, 12, 2, 4, NULL, &err);
    CHECK(m != NULL);
    CHECK_NEAR(m->intercepts[1], LOGREG_ABSENT_INTERCEPT, 0);
    double pr[4];
    logreg_predict_outputs(m, X3, pr);
    CHECK_NEAR(pr[1], 0, 1e-300);
    CHECK_NEAR(pr[0] + pr[2] + pr[3], 1, 1e-12);
    logreg_destroy(&m);
}

static void test_multinomial_bad_input(void)
{
    mlops_err_t err;
    uint8_t y[12];
    memcpy(y, y3, sizeof y);
    y[4] = 3;
    CHECK(logreg_fit_multi(X3, y, 12, 2, 3, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "label 3 in row 4 is not below 3");
    CHECK(logreg_fit_multi(X3, y3, 0, 2, 3, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    logreg_params_t few = {.max_iter = 1};
    CHECK(logreg_fit_multi(X3, y3, 12, 2, 3, &few, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECONVERGE);
    CHECK_CONTAINS(err.msg, "no convergence in 1 L-BFGS iterations");
}

static void test_ridge_matches_sklearn(void)
{
    mlops_err_t err;
    logreg_t *m = logreg_fit_ridge(X3, v3, 12, 2, NULL, &err);
    CHECK(m != NULL);
    CHECK_NEAR(m->coef[0], 1.281255458968, 1e-10);
    CHECK_NEAR(m->coef[1], 0.218720143943, 1e-10);
    CHECK_NEAR(m->intercept, 1.1778639919451486, 1e-10);
    double out;
    logreg_predict_outputs(m, X3, &out);
    CHECK_NEAR(out, 1.1778639919451486 + 0.5 * 1.281255458968 + 0.218720143943, 1e-10);
    logreg_destroy(&m);
    double bad[12];
    memcpy(bad, v3, sizeof bad);
    bad[7] = INFINITY;
    CHECK(logreg_fit_ridge(X3, bad, 12, 2, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "row 7 is not finite");
}

//  The fit is the optimum whatever the row count against the solver's
//  blocks of 2048 rows (under, at, just past, several with a tail) and
//  with no features: the penalised objective's gradient at the returned
//  coefficients, computed here from the rows, is zero.
static void test_optimal_across_row_blocks(void)
{
    size_t sizes[] = {7, 2047, 2048, 2049, 6145};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        for (size_t p = 0; p <= 3; p += 3) {
            size_t n = sizes[k];
            double *X = malloc((n * p + 1) * sizeof *X);
            uint8_t *y = malloc(n);
            for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < p; j++)
                    X[i * p + j] = (double)((i * (7 + 2 * j) + j) % 23) / 5.0 - 2.0;
                double z = p ? X[i * p] - 0.7 * X[i * p + 1] + 0.2 * X[i * p + 2] : 0.3;
                y[i] = z + (double)((i * 13) % 17) / 8.0 - 1.0 > 0;
            }
            logreg_params_t pr = {.C = 0.5};
            mlops_err_t err;
            logreg_t *m = logreg_fit(X, y, n, p, &pr, &err);
            CHECK(m != NULL);
            if (!m) {
                free(X), free(y);
                return;
            }
            double g[4] = {0}; //  p weights, then the intercept
            for (size_t i = 0; i < n; i++) {
                double z = m->intercept;
                for (size_t j = 0; j < p; j++)
                    z += m->coef[j] * X[i * p + j];
                double r = 1 / (1 + exp(-z)) - y[i];
                for (size_t j = 0; j < p; j++)
                    g[j] += r * X[i * p + j];
                g[p] += r;
            }
            for (size_t j = 0; j < p; j++)
                g[j] += m->coef[j] / pr.C;
            for (size_t j = 0; j <= p; j++)
                CHECK(fabs(g[j]) < 1e-6 * (double)n);
            logreg_destroy(&m);
            free(X), free(y);
        }
}

int main(void)
{
    RUN(test_matches_sklearn_c1);
    RUN(test_matches_sklearn_c01);
    RUN(test_probabilities_in_unit_interval_for_extremes);
    RUN(test_no_convergence_is_reported);
    RUN(test_bad_input_is_rejected);
    RUN(test_separable_data_stays_finite);
    RUN(test_collinear_one_hots_on_many_rows);
    RUN(test_multinomial_matches_sklearn);
    RUN(test_multinomial_absent_class_gets_probability_zero);
    RUN(test_multinomial_bad_input);
    RUN(test_ridge_matches_sklearn);
    RUN(test_optimal_across_row_blocks);
    return TEST_REPORT("test_logreg");
}
