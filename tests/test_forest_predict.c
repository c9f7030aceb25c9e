/*  test_forest_predict.c: ml/forest_predict.c's lock-step walks against the
    plain walk of the stored nodes, bit for bit: single rows (trees in lock
    step, more trees than one lock step holds), blocks of rows of every
    size, the threaded batch, NaN features (they go left, as x > t is
    false) and a forest that is all leaves. */
#include "forest.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { P = 4, N_TRAIN = 500 };

//  The stored nodes walked as forest.h defines them: the reference.
static double s_plain(const forest_t *f, const double *x)
{
    double sum = 0;
    for (size_t t = 0; t < f->n_trees; t++) {
        const forest_node_t *nd = &f->nodes[f->roots[t]];
        while (nd->feature >= 0)
            nd = &f->nodes[nd->left + (x[nd->feature] > nd->value)];
        sum += nd->value;
    }
    return sum / (double)f->n_trees;
}

static double *s_rows(size_t n, unsigned seed, int with_nan)
{
    double *X = malloc(n * P * sizeof *X);
    srand(seed);
    for (size_t i = 0; i < n * P; i++)
        X[i] = with_nan && rand() % 7 == 0 ? NAN : (double)(rand() % 1000) / 100.0;
    return X;
}

//  Rows differing from the plain walk, through each entry point.
static size_t s_differ(const forest_t *f, size_t n, int with_nan)
{
    double *X = s_rows(n, 5, with_nan), *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    forest_predict(f, X, n, a);
    forest_predict_block(f, X, n, b);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) {
        double want = s_plain(f, X + i * P), one = forest_predict_one(f, X + i * P);
        differ += memcmp(&a[i], &want, sizeof want) != 0 || memcmp(&b[i], &want, sizeof want) != 0 ||
                  memcmp(&one, &want, sizeof want) != 0;
    }
    free(X);
    free(a);
    free(b);
    return differ;
}

static forest_t *s_fit(int n_trees)
{
    double *X = s_rows(N_TRAIN, 3, 0);
    uint8_t y[N_TRAIN];
    for (size_t i = 0; i < N_TRAIN; i++)
        y[i] = X[i * P] * X[i * P + 1] > 20.0 || (X[i * P + 2] < 2.0 && rand() % 3);
    forest_params_t params = {.n_trees = n_trees, .n_threads = 2};
    mlops_err_t err;
    forest_t *f = forest_fit(X, y, N_TRAIN, P, &params, 17, &err);
    free(X);
    return f;
}

static void test_walks_equal_the_plain_walk(void)
{
    forest_t *f = s_fit(300); //  more trees than one lock step of a row
    CHECK(f != NULL);
    size_t sizes[] = {1, 3, 127, 128, 129, 1000};
    for (size_t s = 0; f && s < sizeof sizes / sizeof sizes[0]; s++) {
        CHECK_INT(s_differ(f, sizes[s], 0), 0);
        CHECK_INT(s_differ(f, sizes[s], 1), 0);
    }
    forest_destroy(&f);
}

static void test_large_batch_on_threads(void)
{
    forest_t *f = s_fit(5);
    CHECK(f != NULL);
    if (f)
        CHECK_INT(s_differ(f, 20000, 1), 0); //  past forest_predict's threaded size
    forest_destroy(&f);
}

static void test_forest_of_leaves(void)
{
    forest_node_t nodes[] = {{0.25, -1, 0}, {0.5, -1, 0}, {1, -1, 0}};
    uint32_t roots[] = {0, 1, 2};
    mlops_err_t err;
    forest_t *f = forest_new(P, 3, roots, 3, nodes, &err);
    CHECK(f != NULL);
    if (f) {
        double x[P] = {NAN, INFINITY, -INFINITY, 0};
        CHECK_NEAR(forest_predict_one(f, x), 1.75 / 3, 0);
        CHECK_INT(s_differ(f, 50, 1), 0);
    }
    forest_destroy(&f);
}

int main(void)
{
    RUN(test_walks_equal_the_plain_walk);
    RUN(test_large_batch_on_threads);
    RUN(test_forest_of_leaves);
    return TEST_REPORT("test_forest_predict");
}
