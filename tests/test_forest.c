/*  test_forest.c: the random forest: a known split, determinism whatever
    the thread count, probabilities in [0, 1], the stopping rules, quantile
    binning beyond max_bins, and every check of forest_new on stored trees. */
#include "forest.h"
#include "progress.h"
#include "testing.h"

#include <math.h>

#include <stdlib.h>

//  n rows, 3 features: x0 decides (x0 + x1/2 > 0.6 with 10% flipped), x2 is noise.
static void s_data(size_t n, double *X, uint8_t *y)
{
    for (size_t i = 0; i < n; i++) {
        X[i * 3] = (double)((i * 37) % 101) / 100;
        X[i * 3 + 1] = (double)((i * 53) % 97) / 96;
        X[i * 3 + 2] = (double)((i * 71) % 89);
        y[i] = (X[i * 3] + X[i * 3 + 1] / 2 > 0.6) ^ (i % 10 == 3);
    }
}

static int s_same_forest(const forest_t *a, const forest_t *b)
{
    return a->n_nodes == b->n_nodes && a->n_trees == b->n_trees &&
           memcmp(a->nodes, b->nodes, a->n_nodes * sizeof *a->nodes) == 0 &&
           memcmp(a->roots, b->roots, a->n_trees * sizeof *a->roots) == 0;
}

static void test_known_split_at_midpoint(void)
{
    //  40 rows: x0 in {1,2} -> class 0, {3,4} -> class 1; x1 constant.
    double X[80];
    uint8_t y[40];
    for (int i = 0; i < 40; i++) {
        X[2 * i] = 1 + i % 4;
        X[2 * i + 1] = 7;
        y[i] = X[2 * i] >= 3;
    }
    forest_params_t pr = {.n_trees = 5, .max_features = 1};
    forest_t *f = forest_fit(X, y, 40, 2, &pr, 42, NULL);
    CHECK(f != NULL);
    for (size_t t = 0; t < f->n_trees; t++) {
        const forest_node_t *root = &f->nodes[f->roots[t]];
        //  drawing goes on while every drawn feature is constant, so x0 is always found
        CHECK_INT(root->feature, 0);
        CHECK_NEAR(root->value, 2.5, 0);
        CHECK_NEAR(f->nodes[root->left].value, 0.0, 0);
        CHECK_NEAR(f->nodes[root->left + 1].value, 1.0, 0);
    }
    double lo[2] = {2, 7}, hi[2] = {2.6, 7};
    CHECK_NEAR(forest_predict_one(f, lo), 0.0, 0);
    CHECK_NEAR(forest_predict_one(f, hi), 1.0, 0);
    forest_destroy(&f);
    CHECK(f == NULL);
}

static void test_same_seed_same_trees_any_thread_count(void)
{
    size_t n = 500;
    double *X = malloc(n * 3 * sizeof *X);
    uint8_t *y = malloc(n);
    s_data(n, X, y);
    forest_params_t pr = {.n_trees = 30, .n_threads = 1};
    forest_t *a = forest_fit(X, y, n, 3, &pr, 7, NULL);
    pr.n_threads = 3;
    forest_t *b = forest_fit(X, y, n, 3, &pr, 7, NULL);
    pr.n_threads = 2;
    forest_t *c = forest_fit(X, y, n, 3, &pr, 8, NULL);
    int ok = a && b && c && s_same_forest(a, b) && !s_same_forest(a, c);
    double acc = 0;
    for (size_t i = 0; ok && i < n; i++) {
        double p = forest_predict_one(a, X + 3 * i);
        ok = p >= 0 && p <= 1;
        acc += (p >= 0.5) == y[i];
    }
    forest_destroy(&a);
    forest_destroy(&b);
    forest_destroy(&c);
    free(X);
    free(y);
    CHECK(ok);
    CHECK(acc / (double)n > 0.9); //  grown to purity, it fits its training rows
}

static void test_depth_and_leaf_limits_stop_growth(void)
{
    size_t n = 300;
    double *X = malloc(n * 3 * sizeof *X);
    uint8_t *y = malloc(n);
    s_data(n, X, y);
    forest_params_t pr = {.n_trees = 10, .max_depth = 1};
    forest_t *stumps = forest_fit(X, y, n, 3, &pr, 1, NULL);
    forest_params_t pr2 = {.n_trees = 10, .min_samples_leaf = 150};
    forest_t *wide = forest_fit(X, y, n, 3, &pr2, 1, NULL);
    int ok = stumps && wide && stumps->n_nodes <= 30 && wide->n_nodes <= 30;
    forest_destroy(&stumps);
    forest_destroy(&wide);
    free(X);
    free(y);
    CHECK(ok);
}

static void test_pure_labels_give_single_leaves(void)
{
    double X[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    uint8_t y[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    forest_t *f = forest_fit(X, y, 10, 1, &(forest_params_t){.n_trees = 4}, 3, NULL);
    CHECK(f != NULL);
    CHECK_INT(f->n_nodes, 4);
    CHECK_NEAR(forest_predict_one(f, X), 1.0, 0);
    forest_destroy(&f);
}

static void test_quantile_bins_beyond_max_bins(void)
{
    //  1000 distinct values, 8 bins: thresholds still separate x <= 0.5.
    size_t n = 1000;
    double *X = malloc(n * sizeof *X);
    uint8_t *y = malloc(n);
    for (size_t i = 0; i < n; i++) {
        X[i] = (double)((i * 617) % n) / n;
        y[i] = X[i] > 0.5;
    }
    forest_params_t pr = {.n_trees = 8, .max_bins = 8};
    forest_t *f = forest_fit(X, y, n, 1, &pr, 5, NULL);
    int ok = f != NULL;
    double a = 0.1, b = 0.9;
    ok = ok && forest_predict_one(f, &a) == 0.0 && forest_predict_one(f, &b) == 1.0;
    //  each split is on a value seen in training, so no threshold is mid-bin noise
    for (size_t k = 0; ok && k < f->n_nodes; k++)
        ok = f->nodes[k].feature < 0 || (f->nodes[k].value > 0 && f->nodes[k].value < 1);
    forest_destroy(&f);
    free(X);
    free(y);
    CHECK(ok);
}

//  Nodes of DENSE_ROWS (4096) rows or more hold a full histogram and get
//  one child's by subtraction: 12000 rows take that path near the root,
//  and the trees must still be the same whatever the thread count.
static void test_large_nodes_same_any_thread_count(void)
{
    size_t n = 12000;
    double *X = malloc(n * 3 * sizeof *X);
    uint8_t *y = malloc(n);
    s_data(n, X, y);
    forest_params_t pr = {.n_trees = 6, .n_threads = 1, .max_features = 1};
    forest_t *a = forest_fit(X, y, n, 3, &pr, 21, NULL);
    pr.n_threads = 2;
    forest_t *b = forest_fit(X, y, n, 3, &pr, 21, NULL);
    CHECK(a && b && s_same_forest(a, b));
    //  grown to purity on noisy labels: its training rows are fitted
    double acc = 0;
    for (size_t i = 0; a && i < n; i++)
        acc += (forest_predict_one(a, X + 3 * i) >= 0.5) == y[i];
    CHECK(acc / (double)n > 0.9);
    forest_destroy(&a), forest_destroy(&b);
    free(X), free(y);
}

//  min_samples_leaf 0 means max(1, n / 20000): 1 at Titanic size, then
//  growing with n (which bounds a tree's size); a fit with the default
//  is the fit with that number written out.
static void test_default_leaf_scales_with_rows(void)
{
    CHECK_INT(forest_default_leaf(712), 1);
    CHECK_INT(forest_default_leaf(39999), 1);
    CHECK_INT(forest_default_leaf(40000), 2);
    CHECK_INT(forest_default_leaf(10000000), 500);
    size_t n = 60000;
    double *X = malloc(n * 3 * sizeof *X);
    uint8_t *y = malloc(n);
    s_data(n, X, y);
    forest_params_t dflt = {.n_trees = 2}, three = {.n_trees = 2, .min_samples_leaf = 3};
    forest_params_t one = {.n_trees = 2, .min_samples_leaf = 1};
    forest_t *a = forest_fit(X, y, n, 3, &dflt, 4, NULL);
    forest_t *b = forest_fit(X, y, n, 3, &three, 4, NULL);
    forest_t *c = forest_fit(X, y, n, 3, &one, 4, NULL);
    CHECK(a && b && c && s_same_forest(a, b));
    CHECK(c && a && c->n_nodes > a->n_nodes);
    forest_destroy(&a), forest_destroy(&b), forest_destroy(&c);
    free(X), free(y);
}

//  Every leaf holds at least min_samples_leaf distinct bootstrap rows, so
//  at least that many training rows reach it; on yes/no features (the
//  register path) and a many-valued one (the bitmap path).
static void test_leaves_hold_min_samples_leaf_rows(void)
{
    enum { N = 3000, P = 4, LEAF = 25 };
    double *X = malloc(N * P * sizeof *X);
    uint8_t *y = malloc(N);
    for (size_t i = 0; i < N; i++) {
        X[i * P] = i % 2, X[i * P + 1] = (i / 2) % 2, X[i * P + 2] = (i * 7) % 3;
        X[i * P + 3] = (double)((i * 37) % 1001);
        y[i] = (X[i * P] + X[i * P + 1] + (X[i * P + 3] > 500)) >= 2 ? i % 13 != 0 : i % 11 == 0;
    }
    forest_t *f = forest_fit(X, y, N, P, &(forest_params_t){.n_trees = 5, .min_samples_leaf = LEAF},
                             3, NULL);
    uint32_t *hits = calloc(f ? f->n_nodes : 1, sizeof *hits);
    for (size_t t = 0; f && t < f->n_trees; t++)
        for (size_t i = 0; i < N; i++) {
            const forest_node_t *nd = &f->nodes[f->roots[t]];
            while (nd->feature >= 0)
                nd = &f->nodes[nd->left + (X[i * P + nd->feature] > nd->value)];
            hits[nd - f->nodes]++;
        }
    int ok = f != NULL && f->n_nodes > 5 * 3;
    for (size_t k = 0; ok && k < f->n_nodes; k++)
        ok = f->nodes[k].feature >= 0 || hits[k] >= LEAF;
    CHECK(ok);
    forest_destroy(&f);
    free(hits), free(X), free(y);
}

static void test_bad_input_is_rejected(void)
{
    double X[4] = {1, 2, 3, NAN};
    uint8_t y[4] = {0, 1, 0, 1};
    mlops_err_t err;
    CHECK(forest_fit(X, y, 4, 1, NULL, 1, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "feature 0 of row 3 is not finite");
    X[3] = 4;
    y[1] = 5;
    CHECK(forest_fit(X, y, 4, 1, NULL, 1, &err) == NULL);
    CHECK_CONTAINS(err.msg, "label 5 in row 1");
    y[1] = 1;
    CHECK(forest_fit(X, y, 0, 1, NULL, 1, &err) == NULL);
    CHECK_CONTAINS(err.msg, "no training rows");
    CHECK(forest_fit(X, y, 4, 1, &(forest_params_t){.n_trees = -2}, 1, &err) == NULL);
    CHECK_CONTAINS(err.msg, "n_trees must be in 1..");
    CHECK(forest_fit(X, y, 4, 1, &(forest_params_t){.max_features = 2}, 1, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "max_features in 1..1");
    //  bins are bytes: 255 at most, the binning gbdt uses (bins.h)
    CHECK(forest_fit(X, y, 4, 1, &(forest_params_t){.max_bins = 256}, 1, &err) == NULL);
    CHECK_CONTAINS(err.msg, "max_bins in 2..255");
}

static void test_batch_prediction_equals_one_by_one(void)
{
    //  20000 rows: over the threshold where forest_predict shares rows out
    //  over threads; every probability must be bit-identical to the
    //  one-row path the serving worker uses.
    size_t n = 20000;
    double *X = malloc(n * 3 * sizeof *X), *p = malloc(n * sizeof *p);
    uint8_t *y = malloc(n);
    s_data(n, X, y);
    forest_t *f = forest_fit(X, y, n, 3, &(forest_params_t){.n_trees = 8}, 11, NULL);
    int ok = f != NULL;
    if (ok)
        forest_predict(f, X, n, p);
    for (size_t i = 0; ok && i < n; i++)
        ok = p[i] == forest_predict_one(f, X + 3 * i);
    forest_destroy(&f);
    free(X), free(p), free(y);
    CHECK(ok);
}

static void test_stored_forest_checks(void)
{
    forest_node_t ok_nodes[3] = {{0.5, 0, 1}, {0.0, -1, 0}, {1.0, -1, 0}};
    uint32_t roots[1] = {0};
    mlops_err_t err;
    forest_t *f = forest_new(1, 1, roots, 3, ok_nodes, &err);
    CHECK(f != NULL);
    double x = 0.7;
    CHECK_NEAR(forest_predict_one(f, &x), 1.0, 0);
    forest_destroy(&f);

    forest_node_t loop[3] = {{0.5, 0, 0}, {0.0, -1, 0}, {1.0, -1, 0}};
    CHECK(forest_new(1, 1, roots, 3, loop, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "node 0 is malformed");
    forest_node_t past_end[3] = {{0.5, 0, 2}, {0.0, -1, 0}, {1.0, -1, 0}};
    CHECK(forest_new(1, 1, roots, 3, past_end, &err) == NULL);
    forest_node_t bad_feature[3] = {{0.5, 4, 1}, {0.0, -1, 0}, {1.0, -1, 0}};
    CHECK(forest_new(1, 1, roots, 3, bad_feature, &err) == NULL);
    forest_node_t bad_leaf[3] = {{0.5, 0, 1}, {1.5, -1, 0}, {1.0, -1, 0}};
    CHECK(forest_new(1, 1, roots, 3, bad_leaf, &err) == NULL);
    CHECK_CONTAINS(err.msg, "node 1 is malformed");
    uint32_t far_root[1] = {9};
    CHECK(forest_new(1, 1, far_root, 3, ok_nodes, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "root of tree 0 out of range");
}

//  Multiclass and regression forests: deterministic for a seed whatever
//  the thread count, leaves of the right kind, sensible fits, refusals.
static void test_task_forests(void)
{
    enum { N = 300, P = 3 };
    double *X = malloc(N * P * sizeof *X), cls[N], val[N];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < P; j++)
            X[i * P + j] = (double)((i * (31 + 6 * j)) % 97) / 10;
        cls[i] = X[i * P] < 3 ? 0 : X[i * P] < 6 ? 1 : 2;
        val[i] = 2 * X[i * P] - X[i * P + 1];
    }
    mlops_err_t err;
    forest_params_t one = {.n_trees = 20, .n_threads = 1}, four = {.n_trees = 20, .n_threads = 4};
    forest_t *a = forest_fit_task(TASK_MULTICLASS, X, cls, N, P, 3, &one, 9, &err);
    forest_t *b = forest_fit_task(TASK_MULTICLASS, X, cls, N, P, 3, &four, 9, &err);
    CHECK(a && b && a->n_nodes == b->n_nodes && a->n_leaves == b->n_leaves);
    CHECK(memcmp(a->nodes, b->nodes, a->n_nodes * sizeof *a->nodes) == 0);
    CHECK(memcmp(a->leaf_values, b->leaf_values, a->n_leaves * 3 * sizeof(double)) == 0);
    double pr[3];
    forest_predict_outputs(a, X + 10 * P, 1, pr);
    CHECK_NEAR(pr[0] + pr[1] + pr[2], 1, 1e-12);
    CHECK(pr[(int)cls[10]] > 0.9);
    forest_destroy(&a), forest_destroy(&b);
    forest_t *r = forest_fit_task(TASK_REGRESSION, X, val, N, P, 0, &one, 9, &err);
    forest_t *r4 = forest_fit_task(TASK_REGRESSION, X, val, N, P, 0, &four, 9, &err);
    CHECK(r && r4 && r->n_nodes == r4->n_nodes);
    CHECK(memcmp(r->nodes, r4->nodes, r->n_nodes * sizeof *r->nodes) == 0);
    forest_destroy(&r4);
    CHECK(forest_fit_task(TASK_MULTICLASS, X, cls, N, P, 300, &one, 9, &err) == NULL);
    CHECK_STR(err.msg, "forest: 300 classes is not 2..255");
    double out;
    forest_predict_outputs(r, X + 20 * P, 1, &out);
    CHECK_NEAR(out, val[20], 0.5);
    forest_destroy(&r);
    cls[3] = 3;
    CHECK(forest_fit_task(TASK_MULTICLASS, X, cls, N, P, 3, &one, 9, &err) == NULL);
    CHECK_STR(err.msg, "forest: target 3 in row 3 is not a class");
    val[4] = NAN;
    CHECK(forest_fit_task(TASK_REGRESSION, X, val, N, P, 0, &one, 9, &err) == NULL);
    CHECK_STR(err.msg, "forest: target nan in row 4 is not finite");
    free(X);
}

//  A task cancelled (progress.h) grows no more trees and fits nothing.
static void test_cancelled_fit_stops(void)
{
    enum { n = 200 };
    double X[n * 3];
    uint8_t y[n];
    s_data(n, X, y);
    forest_params_t pr = {.n_trees = 50, .n_threads = 2};
    mlops_err_t err;
    mlops_err_clear(&err);
    progress_begin();
    progress_cancel();
    forest_t *f = forest_fit(X, y, n, 3, &pr, 1, &err);
    progress_end();
    CHECK(f == NULL);
    CHECK_INT(err.code, MLOPS_ECANCELED);
    CHECK_CONTAINS(err.msg, "forest: cancelled after 0 of 50 trees");
    f = forest_fit(X, y, n, 3, &pr, 1, &err);   //  outside a task: never cancelled
    CHECK(f && f->n_trees == 50);
    forest_destroy(&f);
}

int main(void)
{
    RUN(test_cancelled_fit_stops);
    RUN(test_task_forests);
    RUN(test_known_split_at_midpoint);
    RUN(test_same_seed_same_trees_any_thread_count);
    RUN(test_depth_and_leaf_limits_stop_growth);
    RUN(test_pure_labels_give_single_leaves);
    RUN(test_quantile_bins_beyond_max_bins);
    RUN(test_large_nodes_same_any_thread_count);
    RUN(test_default_leaf_scales_with_rows);
    RUN(test_leaves_hold_min_samples_leaf_rows);
    RUN(test_bad_input_is_rejected);
    RUN(test_batch_prediction_equals_one_by_one);
    RUN(test_stored_forest_checks);
    return TEST_REPORT("test_forest");
}
