/*  test_forest_block.c: ml/forest.c's forest_predict_block, the serving
    path's block prediction: the same bits as forest_predict_one for every
    row, whatever the block size (one group, several, a partial last one),
    including trees that are a single leaf and rows that stop at different
    depths. */
#include "forest.h"
#include "testing.h"

#include <stdlib.h>

enum { P = 5, N_TRAIN = 400 };

static double *s_rows(size_t n, unsigned seed)
{
    double *X = malloc(n * P * sizeof *X);
    srand(seed);
    for (size_t i = 0; i < n * P; i++)
        X[i] = (double)(rand() % 1000) / 100.0;
    return X;
}

static void s_same_bits(const forest_t *f, size_t n)
{
    double *X = s_rows(n, 7), *proba = malloc(n * sizeof *proba);
    forest_predict_block(f, X, n, proba);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++)
        differ += memcmp(&proba[i], &(double){forest_predict_one(f, X + i * P)}, sizeof(double)) != 0;
    CHECK_INT(differ, 0);
    free(X);
    free(proba);
}

static void test_block_matches_row_by_row(void)
{
    double *X = s_rows(N_TRAIN, 3);
    uint8_t y[N_TRAIN];
    for (size_t i = 0; i < N_TRAIN; i++)
        y[i] = X[i * P] + X[i * P + 1] > 10.0 || X[i * P + 2] < 1.0;
    forest_params_t params = {.n_trees = 30, .n_threads = 1};
    mlops_err_t err;
    forest_t *f = forest_fit(X, y, N_TRAIN, P, &params, 11, &err);
    CHECK(f != NULL);
    size_t sizes[] = {1, 2, 3, 64, 100, 128, 129, 300};
    for (size_t s = 0; f && s < sizeof sizes / sizeof sizes[0]; s++)
        s_same_bits(f, sizes[s]);
    forest_destroy(&f);
    free(X);
}

static void test_block_with_a_single_leaf_tree(void)
{
    //  tree 0: x0 <= 5 ? 0.25 : 1; tree 1: one leaf 0.5
    forest_node_t nodes[] = {{5, 0, 1}, {0.25, -1, 0}, {1, -1, 0}, {0.5, -1, 0}};
    uint32_t roots[] = {0, 3};
    mlops_err_t err;
    forest_t *f = forest_new(P, 2, roots, 4, nodes, &err);
    CHECK(f != NULL);
    double X[2 * P] = {1, 0, 0, 0, 0, 9, 0, 0, 0, 0}, proba[2];
    forest_predict_block(f, X, 2, proba);
    CHECK_NEAR(proba[0], 0.375, 0);
    CHECK_NEAR(proba[1], 0.75, 0);
    s_same_bits(f, 200);
    forest_destroy(&f);
}

int main(void)
{
    RUN(test_block_matches_row_by_row);
    RUN(test_block_with_a_single_leaf_tree);
    return TEST_REPORT("test_forest_block");
}
