/*  test_bins.c: histogram binning: edges and codes against scikit-learn's
    _BinMapper (values computed with sklearn 1.2.1 and written in), the
    threshold mapping, categorical levels, the subsample's determinism,
    histograms and their subtraction, stored mappers, every error. */
#include "bins.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>

static void test_small_column_as_sklearn(void)
{
    //  _BinMapper().fit([[3], [1], [2], [2], [nan], [5]]): edges
    //  [1.5, 2.5, 4.0], codes [2, 0, 1, 1, 255, 3]
    double X[] = {3, 1, 2, 2, NAN, 5};
    bins_t *b = bins_fit(X, 6, 1, NULL, 1, NULL);
    CHECK(b != NULL);
    CHECK_INT(b->n_bins[0], 4);
    CHECK_NEAR(b->edges[0][0], 1.5, 0);
    CHECK_NEAR(b->edges[0][1], 2.5, 0);
    CHECK_NEAR(b->edges[0][2], 4.0, 0);
    uint8_t *codes = bins_apply(b, X, 6, NULL);
    uint8_t want[] = {2, 0, 1, 1, BINS_MISSING, 3};
    int same = codes && memcmp(codes, want, 6) == 0;
    free(codes);
    bins_destroy(&b);
    CHECK(same);
    CHECK(b == NULL);
}

static void test_quantile_edges_as_sklearn(void)
{
    //  _BinMapper(n_bins=5).fit(arange(100) ** 1.5): edges
    //  [121.28775383, 348.2766953, 643.0455613]; codes of rows
    //  0, 10, 30, 50, 70, 99: [0, 0, 1, 2, 2, 3]
    double X[100];
    for (int i = 0; i < 100; i++)
        X[i] = pow(i, 1.5);
    bins_params_t pr = {.max_bins = 4};
    bins_t *b = bins_fit(X, 100, 1, &pr, 1, NULL);
    CHECK(b != NULL);
    CHECK_INT(b->n_bins[0], 4);
    CHECK_NEAR(b->edges[0][0], 121.28775383, 1e-8);
    CHECK_NEAR(b->edges[0][1], 348.2766953, 1e-7);
    CHECK_NEAR(b->edges[0][2], 643.0455613, 1e-7);
    int rows[] = {0, 10, 30, 50, 70, 99}, want[] = {0, 0, 1, 2, 2, 3};
    for (int k = 0; k < 6; k++)
        CHECK_INT(bins_code(b, 0, X[rows[k]]), want[k]);
    bins_destroy(&b);

    //  _BinMapper(n_bins=4).fit(arange(10)): [3.5, 6.5], numpy's rounding
    //  of the 1/3 percentile index (3.0000000000000004) included
    for (int i = 0; i < 10; i++)
        X[i] = i;
    pr.max_bins = 3;
    b = bins_fit(X, 10, 1, &pr, 1, NULL);
    CHECK(b != NULL);
    CHECK_INT(b->n_bins[0], 3);
    CHECK_NEAR(b->edges[0][0], 3.5, 0);
    CHECK_NEAR(b->edges[0][1], 6.5, 0);
    bins_destroy(&b);
}

//  A split "code <= k" is the split "x <= bins_threshold(k)" on raw values.
static void test_threshold_maps_codes_to_values(void)
{
    size_t n = 3000;
    double *X = malloc(n * sizeof *X);
    for (size_t i = 0; i < n; i++)
        X[i] = (i % 17 == 0) ? NAN : sin((double)i) * 100;
    bins_t *b = bins_fit(X, n, 1, NULL, 3, NULL);
    int ok = b && b->n_bins[0] == BINS_MAX_VALUES;
    for (size_t i = 0; ok && i < n; i++) {
        uint8_t c = bins_code(b, 0, X[i]);
        if (isnan(X[i])) {
            ok = c == BINS_MISSING;
            continue;
        }
        for (unsigned k = 0; ok && k < b->n_bins[0]; k++)
            ok = (c <= k) == (X[i] <= bins_threshold(b, 0, k));
    }
    double last = b ? bins_threshold(b, 0, b->n_bins[0] - 1) : 0;
    bins_destroy(&b);
    free(X);
    CHECK(ok);
    CHECK(isinf(last) && last > 0);
}

static void test_subsample_is_seeded(void)
{
    size_t n = 5000;
    double *X = malloc(n * sizeof *X);
    for (size_t i = 0; i < n; i++)
        X[i] = (double)((i * 7919) % 4999);
    bins_params_t pr = {.subsample = 1000, .n_threads = 1};
    bins_t *a = bins_fit(X, n, 1, &pr, 5, NULL);
    pr.n_threads = 2;
    bins_t *b = bins_fit(X, n, 1, &pr, 5, NULL);
    bins_t *c = bins_fit(X, n, 1, &pr, 6, NULL);
    int same = a && b && c && a->n_bins[0] == b->n_bins[0] &&
               memcmp(a->edges[0], b->edges[0], (a->n_bins[0] - 1) * sizeof(double)) == 0;
    int differ = a && c && memcmp(a->edges[0], c->edges[0], 10 * sizeof(double)) != 0;
    bins_destroy(&a);
    bins_destroy(&b);
    bins_destroy(&c);
    free(X);
    CHECK(same);
    CHECK(differ);
}

static void test_categorical_levels(void)
{
    //  two features: a numeric one and levels {0, 3, 7} with a missing value
    double X[] = {1, 3, 2, 0, 3, 7, 4, NAN, 5, 3};
    uint8_t cat[] = {0, 1};
    bins_params_t pr = {.categorical = cat};
    bins_t *b = bins_fit(X, 5, 2, &pr, 1, NULL);
    CHECK(b != NULL);
    CHECK_INT(b->categorical[1], 1);
    CHECK_INT(b->n_bins[1], 3);
    CHECK_INT(bins_code(b, 1, 0), 0);
    CHECK_INT(bins_code(b, 1, 3), 1);
    CHECK_INT(bins_code(b, 1, 7), 2);
    CHECK_INT(bins_code(b, 1, 5), BINS_MISSING); //  unseen level
    CHECK_INT(bins_code(b, 1, NAN), BINS_MISSING);
    uint8_t *codes = bins_apply(b, X, 5, NULL);
    uint8_t want[] = {0, 1, 2, 3, 4, 1, 0, 2, BINS_MISSING, 1};
    int same = codes && memcmp(codes, want, 10) == 0;
    free(codes);
    bins_destroy(&b);
    CHECK(same);
}

static void test_categorical_value_errors(void)
{
    double bad[][2] = {{2.5, 0}, {-1, 0}, {BINS_MAX_LEVEL, 0}, {INFINITY, 0}};
    uint8_t cat[] = {1, 0};
    bins_params_t pr = {.categorical = cat};
    for (int k = 0; k < 4; k++) {
        double X[] = {1, 0, 2, 0, bad[k][0], bad[k][1]};
        mlops_err_t err;
        CHECK(bins_fit(X, 3, 2, &pr, 1, &err) == NULL);
        CHECK_INT(err.code, MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, "categorical feature 0, row 2");
    }
}

static void test_param_errors(void)
{
    double X[] = {1, 2, 3};
    mlops_err_t err;
    CHECK(bins_fit(X, 0, 1, NULL, 1, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "no rows");
    CHECK(bins_fit(X, 3, 0, NULL, 1, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    bins_params_t pr = {.max_bins = 1};
    CHECK(bins_fit(X, 3, 1, &pr, 1, &err) == NULL);
    CHECK_CONTAINS(err.msg, "max_bins 1");
    pr.max_bins = 256;
    CHECK(bins_fit(X, 3, 1, &pr, 1, &err) == NULL);
    CHECK_CONTAINS(err.msg, "max_bins 256");
    pr = (bins_params_t){.n_threads = -1};
    CHECK(bins_fit(X, 3, 1, &pr, 1, &err) == NULL);
    CHECK_CONTAINS(err.msg, "n_threads");
}

static void test_all_missing_column(void)
{
    double X[] = {NAN, NAN, NAN};
    bins_t *b = bins_fit(X, 3, 1, NULL, 1, NULL);
    CHECK(b != NULL);
    CHECK_INT(b->n_bins[0], 1);
    CHECK_INT(bins_code(b, 0, NAN), BINS_MISSING);
    CHECK_INT(bins_code(b, 0, 42), 0);
    bins_destroy(&b);
}

static void test_histogram_and_subtraction(void)
{
    uint8_t codes[] = {0, 1, 1, 2, BINS_MISSING, 0};
    float g[] = {1, 2, 3, 4, 5, 6}, h[] = {.5f, .5f, .5f, .5f, .5f, .5f};
    bins_hist_t all[BINS_MAX] = {0}, part[BINS_MAX] = {0}, rest[BINS_MAX];
    bins_hist_build(all, codes, NULL, 6, g, h);
    CHECK_NEAR(all[0].g, 7, 0);
    CHECK_NEAR(all[1].g, 5, 0);
    CHECK_INT(all[1].count, 2);
    CHECK_NEAR(all[BINS_MISSING].h, .5, 0);
    //  rows 1 and 4 with their gradients in row order, hessian 1 each
    uint32_t rows[] = {1, 4};
    float gp[] = {2, 5};
    bins_hist_build(part, codes, rows, 2, gp, NULL);
    CHECK_NEAR(part[1].h, 1, 0);
    bins_hist_subtract(rest, all, part);
    CHECK_NEAR(rest[1].g, 3, 0);
    CHECK_INT(rest[1].count, 1);
    CHECK_INT(rest[BINS_MISSING].count, 0);
    CHECK_NEAR(rest[0].g, 7, 0);
}

static void test_stored_mapper(void)
{
    uint16_t nb[] = {3, 2};
    uint8_t cat[] = {0, 1};
    double e0[] = {1.5, 2.5}, e1[] = {2, 9};
    const double *edges[] = {e0, e1};
    bins_t *b = bins_new(2, nb, cat, edges, NULL);
    CHECK(b != NULL);
    CHECK_INT(bins_code(b, 0, 2), 1);
    CHECK_INT(bins_code(b, 1, 9), 1);
    bins_destroy(&b);
    mlops_err_t err;
    double down[] = {2.5, 1.5};
    const double *bad[] = {down, e1};
    CHECK(bins_new(2, nb, cat, bad, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "feature 0");
    double half[] = {2, 2.5};
    const double *bad_level[] = {e0, half};
    CHECK(bins_new(2, nb, cat, bad_level, &err) == NULL);
    CHECK_CONTAINS(err.msg, "feature 1");
    uint16_t zero[] = {0, 2};
    CHECK(bins_new(2, zero, cat, edges, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
}

int main(void)
{
    RUN(test_small_column_as_sklearn);
    RUN(test_quantile_edges_as_sklearn);
    RUN(test_threshold_maps_codes_to_values);
    RUN(test_subsample_is_seeded);
    RUN(test_categorical_levels);
    RUN(test_categorical_value_errors);
    RUN(test_param_errors);
    RUN(test_all_missing_column);
    RUN(test_histogram_and_subtraction);
    RUN(test_stored_mapper);
    return TEST_REPORT("test_bins");
}
