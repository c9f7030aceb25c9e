/*  test_forest_predict.c: ml/forest_predict.c's lock-step walks against the
    plain walk of the stored nodes, bit for bit: single rows (trees in lock
    step, more trees than one lock step holds), blocks of rows of every
    size, the threaded batch, NaN features (they go left, as x > t is
    false), a forest that is all leaves, and the rank coding's edges:
    thresholds shared by several nodes (and -0 beside +0), rows exactly at,
    just below and just above them, features no node splits on, and a
    feature with more thresholds than 16-bit ranks hold (the plain walk);
    the octo walk (three levels a step) on rows of up to 16 features, both
    halves of its coded row, trees that are a leaf among trees that split,
    the one-level steps past 16 features, and a stored forest whose trees
    share nodes (no octos: one per path would be needed). */
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

//  Rows of X (n x the forest's features) differing from the plain walk,
//  through each entry point.
static size_t s_differ_rows(const forest_t *f, const double *X, size_t n)
{
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    forest_predict(f, X, n, a);
    forest_predict_block(f, X, n, b);
    size_t differ = 0, p = f->n_features;
    for (size_t i = 0; i < n; i++) {
        double want = s_plain(f, X + i * p), one = forest_predict_one(f, X + i * p);
        differ += memcmp(&a[i], &want, sizeof want) != 0 || memcmp(&b[i], &want, sizeof want) != 0 ||
                  memcmp(&one, &want, sizeof want) != 0;
    }
    free(a);
    free(b);
    return differ;
}

static size_t s_differ(const forest_t *f, size_t n, int with_nan)
{
    double *X = s_rows(n, 5, with_nan);
    size_t differ = s_differ_rows(f, X, n);
    free(X);
    return differ;
}

//  Rows whose feature 2 takes each of the values, the others random (NaN
//  among them).
static double *s_rows_at(const double *values, size_t n_values, size_t *n)
{
    *n = n_values * 3;
    double *X = s_rows(*n, 9, 1);
    for (size_t i = 0; i < *n; i++)
        X[i * P + 2] = values[i % n_values];
    return X;
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

static void test_shared_thresholds_and_unsplit_features(void)
{
    //  only feature 2 is split on; 0.5 twice in one tree and once in
    //  another, -0 and +0 in one tree (one cut: they compare equal)
    forest_node_t nodes[] = {
        {0.5, 2, 1},   {0.5, 2, 3},  {0.9, -1, 0}, {0.1, -1, 0}, {0.2, -1, 0},        //  tree 0
        {-0.0, 2, 6},  {0.0, 2, 8},  {0.5, 2, 10}, {0.3, -1, 0}, {0.4, -1, 0},        //  tree 1
        {0.6, -1, 0},  {0.7, -1, 0},                                                  //
        {0.25, 2, 13}, {0.05, -1, 0}, {0.95, -1, 0},                                  //  tree 2
    };
    uint32_t roots[] = {0, 5, 12};
    mlops_err_t err;
    forest_t *f = forest_new(P, 3, roots, sizeof nodes / sizeof nodes[0], nodes, &err);
    CHECK(f != NULL);
    double values[] = {-INFINITY, -1, -0.0, 0.0, nextafter(-0.0, -1), nextafter(0.0, 1), 0.25,
                       nextafter(0.25, 0), nextafter(0.25, 1), 0.5, nextafter(0.5, 0),
                       nextafter(0.5, 1), 1, INFINITY, NAN};
    size_t n;
    double *X = s_rows_at(values, sizeof values / sizeof values[0], &n);
    if (f) {
        CHECK_INT(s_differ_rows(f, X, n), 0);
        double x[P] = {NAN, NAN, 0.5, NAN}; //  at 0.5: left, left; right, left; right
        CHECK_NEAR(forest_predict_one(f, x), (0.1 + 0.6 + 0.95) / 3, 0);
        CHECK(strcmp(forest_walk_name(f), "plain") != 0); //  the ranks were used
    }
    free(X);
    forest_destroy(&f);
}

//  One tree, a chain of k splits of feature 2 at 0, 1, .., k - 1: k
//  distinct thresholds of one feature.
static forest_t *s_chain(size_t k)
{
    size_t n_nodes = 2 * k + 1;
    forest_node_t *nodes = malloc(n_nodes * sizeof *nodes);
    for (size_t i = 0; i < k; i++) {
        nodes[2 * i] = (forest_node_t){(double)i, 2, (uint32_t)(2 * i + 1)};
        nodes[2 * i + 1] = (forest_node_t){(double)(i % 10) / 10, -1, 0};
    }
    nodes[2 * k] = (forest_node_t){1, -1, 0};
    uint32_t root = 0;
    mlops_err_t err;
    forest_t *f = forest_new(P, 1, &root, n_nodes, nodes, &err);
    free(nodes);
    return f;
}

static void test_ranks_past_16_bits(void)
{
    double values[] = {-1, 0, 0.5, 7, 1000.5, 65532, 65533, 65533.5, 65534, 65535, INFINITY, NAN};
    size_t n;
    double *X = s_rows_at(values, sizeof values / sizeof values[0], &n);
    for (size_t k = 65534; k <= 65535; k++) { //  the most ranks fit; one more does not
        forest_t *f = s_chain(k);
        CHECK(f != NULL);
        if (f) {
            CHECK_INT(s_differ_rows(f, X, n), 0);
            CHECK_INT(strcmp(forest_walk_name(f), "plain") != 0, k == 65534);
            //  built once, or found unbuildable once: the cache is set either way
            forest_steps_t *kept = atomic_load(&f->steps);
            CHECK(kept != NULL);
            CHECK_INT(s_differ_rows(f, X, n), 0);
            CHECK(atomic_load(&f->steps) == kept);
        }
        forest_destroy(&f);
    }
    free(X);
}

//  A forest fitted on p features whose label depends on the last ones (so
//  that splits use both halves of an octo's coded row), and n rows of p
//  features (NaN among them) in *X.
static forest_t *s_fit_wide(size_t p, size_t n, double **X)
{
    double *T = malloc(N_TRAIN * p * sizeof *T);
    uint8_t y[N_TRAIN];
    srand(11);
    for (size_t i = 0; i < N_TRAIN * p; i++)
        T[i] = (double)(rand() % 1000) / 100.0;
    for (size_t i = 0; i < N_TRAIN; i++) {
        const double *t = T + i * p;
        y[i] = t[p - 1] + t[p - 2] > 10.0 || (t[0] < 3.0 && t[p / 2] > 5.0);
    }
    forest_params_t params = {.n_trees = 60, .n_threads = 2};
    mlops_err_t err;
    forest_t *f = forest_fit(T, y, N_TRAIN, p, &params, 23, &err);
    free(T);
    *X = malloc(n * p * sizeof **X);
    for (size_t i = 0; i < n * p; i++)
        (*X)[i] = rand() % 9 == 0 ? NAN : (double)(rand() % 1000) / 100.0;
    return f;
}

static int s_splits_on(const forest_t *f, size_t lo, size_t hi)
{
    for (size_t k = 0; k < f->n_nodes; k++)
        if (f->nodes[k].feature >= (int)lo && f->nodes[k].feature < (int)hi)
            return 1;
    return 0;
}

static void test_octo_walk_on_16_features(void)
{
    double *X;
    forest_t *f = s_fit_wide(16, 700, &X);
    CHECK(f != NULL);
    if (f) {
        CHECK(s_splits_on(f, 0, 8) && s_splits_on(f, 8, 16)); //  both halves of the row
        CHECK_INT(s_differ_rows(f, X, 700), 0);
#if defined(__x86_64__) || defined(__i386__)
        if (__builtin_cpu_supports("ssse3"))
            CHECK_STR(forest_walk_name(f), "octo");
#endif
    }
    forest_destroy(&f);
    free(X);
}

static void test_steps_past_16_features(void)
{
    double *X;
    forest_t *f = s_fit_wide(17, 300, &X);
    CHECK(f != NULL);
    if (f) {
        CHECK(s_splits_on(f, 16, 17));
        CHECK_INT(s_differ_rows(f, X, 300), 0);
        CHECK_STR(forest_walk_name(f), "steps");
    }
    forest_destroy(&f);
    free(X);
}

//  Trees that are a leaf between trees that split, leaves at every depth
//  of an octo (a leaf under the head, a split whose children are leaves,
//  a chain four deep), and leaf values that repeat across trees.
static void test_octo_shapes_and_leaf_trees(void)
{
    forest_node_t nodes[] = {
        {0.75, -1, 0},                                                      //  tree 0: a leaf
        {1.0, 0, 2},   {0.25, -1, 0}, {2.0, 1, 4}, {0.75, -1, 0},           //  tree 1: a chain
        {3.0, 3, 6},   {0.5, -1, 0},  {4.0, 2, 8}, {0.25, -1, 0}, {0.0, -1, 0},
        {0.5, -1, 0},                                                       //  tree 2: a leaf
        {5.0, 1, 12},  {6.0, 0, 14},  {7.0, 2, 16}, {0.1, -1, 0}, {0.2, -1, 0}, //  tree 3
        {0.3, -1, 0},  {0.4, -1, 0},
    };
    uint32_t roots[] = {0, 1, 10, 11};
    mlops_err_t err;
    forest_t *f = forest_new(P, 4, roots, sizeof nodes / sizeof nodes[0], nodes, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK_INT(s_differ(f, 400, 1), 0);
        double x[P] = {9, 9, 9, 9}; //  tree 1 right four times (0.0), tree 3 right twice (0.4)
        CHECK_NEAR(forest_predict_one(f, x), (0.75 + 0.0 + 0.5 + 0.4) / 4, 0);
        x[0] = 0; //  tree 1 left at once (0.25)
        CHECK_NEAR(forest_predict_one(f, x), (0.75 + 0.25 + 0.5 + 0.4) / 4, 0);
    }
    forest_destroy(&f);
}

//  A stored forest whose nodes are shared (node k's children are k + 1 and
//  k + 2, both splits: paths double every two levels). forest_new accepts
//  it, as every walk ends; the octos would need one per path, so the
//  walks take the steps, with the same answers.
static void test_shared_nodes_take_the_steps(void)
{
    enum { SPLITS = 60 };
    forest_node_t nodes[SPLITS + 2];
    for (uint32_t k = 0; k < SPLITS; k++)
        nodes[k] = (forest_node_t){(double)(k % 7), (int32_t)(k % P), k + 1};
    nodes[SPLITS] = (forest_node_t){0.25, -1, 0};
    nodes[SPLITS + 1] = (forest_node_t){0.75, -1, 0};
    uint32_t roots[] = {0, 1, 5};
    mlops_err_t err;
    forest_t *f = forest_new(P, 3, roots, SPLITS + 2, nodes, &err);
    CHECK(f != NULL);
    if (f) {
        CHECK_INT(s_differ(f, 300, 1), 0);
        CHECK_STR(forest_walk_name(f), "steps");
    }
    forest_destroy(&f);
}

int main(void)
{
    RUN(test_walks_equal_the_plain_walk);
    RUN(test_large_batch_on_threads);
    RUN(test_forest_of_leaves);
    RUN(test_shared_thresholds_and_unsplit_features);
    RUN(test_ranks_past_16_bits);
    RUN(test_octo_walk_on_16_features);
    RUN(test_steps_past_16_features);
    RUN(test_octo_shapes_and_leaf_trees);
    RUN(test_shared_nodes_take_the_steps);
    return TEST_REPORT("test_forest_predict");
}
