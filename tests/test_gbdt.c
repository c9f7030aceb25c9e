/*  test_gbdt.c: gradient boosting: trees and predictions against
    scikit-learn 1.2.1's HistGradientBoosting (computed on the same 200
    rows and written in), bit-identical models across thread counts, the
    three task types on generated data, categorical splits, early
    stopping, the tree limits, and every error path. */
#include "gbdt.h"
#include "progress.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KN_ROWS 200
#define TOL 1e-9

//  The known-answer set (same formulas in Python): 3 features, x1 missing
//  on every 9th row; a binary, a 3-class and a real target.
static void s_known(double *X, double *yb, double *ym, double *yr)
{
    for (int i = 0; i < KN_ROWS; i++) {
        double x0 = ((i * 37) % 101) / 10.0, x1 = ((i * 53) % 97) / 9.7;
        double x2 = (double)((i * 71) % 89);
        X[3 * i] = x0, X[3 * i + 1] = i % 9 == 4 ? NAN : x1, X[3 * i + 2] = x2;
        double x1z = i % 9 == 4 ? 0 : x1;
        yb[i] = ((x0 + x1z / 2) > 6) ^ (i % 10 == 3);
        double zm = x0 + x1z / 2 + (i % 5) / 5.0;
        ym[i] = zm >= 7 ? 2 : zm >= 4 ? 1 : 0;
        yr[i] = 2 * x0 - x2 / 10 + (i % 7) / 7.0;
    }
}

static gbdt_params_t s_params(int iters)
{
    gbdt_params_t pr = gbdt_params_default();
    pr.max_iter = iters;
    pr.early_stopping = GBDT_EARLY_OFF;
    return pr;
}

static int s_cmp_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  Sorted leaf values of tree t into out; returns how many.
static size_t s_leaves(const gbdt_t *m, size_t t, double *out)
{
    size_t end = t + 1 < m->n_trees ? m->roots[t + 1] : m->n_nodes, k = 0;
    for (size_t i = m->roots[t]; i < end; i++)
        if (m->nodes[i].feature < 0)
            out[k++] = m->nodes[i].value;
    qsort(out, k, sizeof *out, s_cmp_fn);
    return k;
}

//  True when tree 0's sorted leaves are the 8 of want and the first rows'
//  predictions (k outputs each) those of pred, within TOL; prints the first
//  difference.
static int s_matches(const gbdt_t *m, const double *want, const double *X, size_t rows,
                     const double *pred)
{
    double lv[64], out[3];
    size_t n_leaves = s_leaves(m, 0, lv), k = m->n_outputs;
    for (size_t i = 0; want && i < 8; i++)
        if (n_leaves != 8 || fabs(lv[i] - want[i]) > TOL) {
            fprintf(stderr, "  leaf %zu of %zu: %.17g, sklearn %.17g\n", i, n_leaves, lv[i], want[i]);
            return 0;
        }
    for (size_t i = 0; i < rows; i++) {
        gbdt_predict_row(m, X + 3 * i, out);
        for (size_t c = 0; c < k; c++)
            if (fabs(out[c] - pred[i * k + c]) > TOL) {
                fprintf(stderr, "  row %zu output %zu: %.17g, sklearn %.17g\n", i, c, out[c],
                        pred[i * k + c]);
                return 0;
            }
    }
    return 1;
}

static void test_binary_as_sklearn(void)
{
    double X[3 * KN_ROWS], yb[KN_ROWS], ym[KN_ROWS], yr[KN_ROWS], p;
    s_known(X, yb, ym, yr);
    gbdt_params_t pr = s_params(3);
    gbdt_t *m = gbdt_fit(X, yb, KN_ROWS, 3, TASK_BINARY, &pr, 1, NULL);
    CHECK(m != NULL);
    CHECK_INT(m->n_iter, 3);
    CHECK_NEAR(m->baseline[0], 0.42634269312971956, TOL);
    //  HistGradientBoostingClassifier(max_iter=3, early_stopping=False)
    //  ._predictors[0][0] leaf values, sorted
    static const double leaves[] = {
        -0.2531645613820894, -0.14855110644588773, -0.1276284154586474, 0.013124233000969425,
        0.081598494413756, 0.10252118540099633, 0.16528925836271735, 0.16528925836271735};
    static const double proba[] = {0.512611975970266, 0.6109207487331724, 0.6452111478402641,
                                   0.5102635648508932};
    CHECK(s_matches(m, leaves, X, 4, proba));
    double nan_row[] = {5.0, NAN, NAN}; //  x2 had no NaN in training
    gbdt_predict_row(m, nan_row, &p);
    CHECK_NEAR(p, 0.5570783288056492, TOL);
    gbdt_destroy(&m);
}

static void test_binary_params_as_sklearn(void)
{
    double X[3 * KN_ROWS], yb[KN_ROWS], ym[KN_ROWS], yr[KN_ROWS];
    s_known(X, yb, ym, yr);
    gbdt_params_t pr = s_params(3);
    pr.l2_regularization = 1.0, pr.min_samples_leaf = 5, pr.max_leaf_nodes = 8;
    pr.learning_rate = 0.3;
    gbdt_t *m = gbdt_fit(X, yb, KN_ROWS, 3, TASK_BINARY, &pr, 1, NULL);
    CHECK(m != NULL);
    static const double leaves[] = {
        -0.5785292069113817, -0.4134631911432446, -0.292602520786398, -0.175297985078851,
        0.052844141694329445, 0.1111960825003768, 0.2686789989148188, 0.41539535241712783};
    static const double proba[] = {0.33459426675938886, 0.7126324856998412, 0.8191024139007643,
                                   0.35606296700001533};
    CHECK(s_matches(m, leaves, X, 4, proba));
    gbdt_destroy(&m);
}

static void test_multiclass_as_sklearn(void)
{
    double X[3 * KN_ROWS], yb[KN_ROWS], ym[KN_ROWS], yr[KN_ROWS];
    s_known(X, yb, ym, yr);
    gbdt_params_t pr = s_params(3);
    gbdt_t *m = gbdt_fit(X, ym, KN_ROWS, 3, TASK_MULTICLASS, &pr, 1, NULL);
    CHECK(m != NULL);
    CHECK_INT(m->n_outputs, 3);
    CHECK_INT(m->n_trees, 9);
    static const double base[] = {-0.6282550334923992, -0.03689054724239605, 0.6651455807347951};
    static const double proba[] = {0.4654923134459991, 0.2395269020399336, 0.29498078451406723,
                                   0.096799543958754, 0.3028901737052981, 0.600310282335948};
    for (int c = 0; c < 3; c++)
        CHECK_NEAR(m->baseline[c], base[c], TOL);
    CHECK(s_matches(m, NULL, X, 2, proba));
    gbdt_destroy(&m);
}

static void test_regression_as_sklearn(void)
{
    double X[3 * KN_ROWS], yb[KN_ROWS], ym[KN_ROWS], yr[KN_ROWS], v;
    s_known(X, yb, ym, yr);
    gbdt_params_t pr = s_params(3);
    gbdt_t *m = gbdt_fit(X, yr, KN_ROWS, 3, TASK_REGRESSION, &pr, 1, NULL);
    CHECK(m != NULL);
    CHECK_NEAR(m->baseline[0], 5.970785714285714, TOL);
    static const double leaves[] = {
        -0.9983772732994773, -0.5755785727500916, -0.49048870720209614, -0.06248673259147576,
        0.0067989781498909, 0.42877856910228734, 0.49878877316202436, 0.9248738050460816};
    static const double pred[] = {4.2240705967330126, 4.625959212779724, 7.049800345439871,
                                  4.2240705967330126};
    CHECK(s_matches(m, leaves, X, 4, pred));
    double nan_row[] = {5.0, NAN, 10.0};
    gbdt_predict_row(m, nan_row, &v);
    CHECK_NEAR(v, 5.823353518850533, TOL);
    gbdt_destroy(&m);
}

//  n rows, 5 features: x4 categorical (levels 0..5); classes from a
//  noisy non-linear score; rows with i % 13 == 0 miss x1.
static void s_generated(size_t n, double *X, double *y, task_t task)
{
    for (size_t i = 0; i < n; i++) {
        double *x = X + 5 * i;
        x[0] = sin((double)i * 0.37) * 3;
        x[1] = i % 13 == 0 ? NAN : cos((double)i * 0.11) * 2;
        x[2] = (double)((i * 7919) % 1000) / 100;
        x[3] = (double)((i * 104729) % 977) / 97.7 - 5;
        x[4] = (double)(i % 6);
        double noise = (double)((i * 2654435761u) % 1000) / 1000 - 0.5;
        double z = x[0] + (isnan(x[1]) ? 1 : x[1]) - x[2] / 5 + (x[4] == 2 || x[4] == 5) + noise;
        y[i] = task == TASK_REGRESSION ? z : task == TASK_BINARY ? z > 0 : (z > -1) + (z > 1);
    }
}

//  Field by field: a node's padding bytes are not part of the model (a
//  memcmp of whole nodes failed in release builds on equal models).
static int s_same_nodes(const gbdt_node_t *a, const gbdt_node_t *b, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (memcmp(&a[k].value, &b[k].value, sizeof a[k].value) != 0 ||
            a[k].feature != b[k].feature || a[k].left != b[k].left ||
            a[k].missing_left != b[k].missing_left || a[k].categorical != b[k].categorical ||
            a[k].cat_set != b[k].cat_set)
            return 0;
    return 1;
}

static int s_same_model(const gbdt_t *a, const gbdt_t *b)
{
    return a->n_nodes == b->n_nodes && a->n_trees == b->n_trees &&
           a->n_cat_sets == b->n_cat_sets && s_same_nodes(a->nodes, b->nodes, a->n_nodes) &&
           memcmp(a->roots, b->roots, a->n_trees * sizeof *a->roots) == 0 &&
           memcmp(a->cat_sets, b->cat_sets, a->n_cat_sets * 4 * sizeof *a->cat_sets) == 0;
}

static void test_same_model_any_thread_count(void)
{
    size_t n = 12000; //  over 10000: early stopping's validation slice is drawn too
    double *X = malloc(n * 5 * sizeof *X), *y = malloc(n * sizeof *y);
    double *pa = malloc(n * 3 * sizeof *pa), *pb = malloc(n * 3 * sizeof *pb);
    uint8_t cat[] = {0, 0, 0, 0, 1};
    s_generated(n, X, y, TASK_MULTICLASS);
    gbdt_params_t pr = gbdt_params_default();
    pr.max_iter = 15, pr.categorical = cat, pr.n_threads = 1;
    gbdt_t *a = gbdt_fit(X, y, n, 5, TASK_MULTICLASS, &pr, 9, NULL);
    pr.n_threads = 2;
    gbdt_t *b = gbdt_fit(X, y, n, 5, TASK_MULTICLASS, &pr, 9, NULL);
    pr.n_threads = 3;
    gbdt_t *c = gbdt_fit(X, y, n, 5, TASK_MULTICLASS, &pr, 10, NULL); //  another seed
    int ok = a && b && c && s_same_model(a, b) && !s_same_model(a, c) && a->val_loss;
    if (ok) {
        gbdt_predict_block(a, X, n, pa);
        gbdt_predict_block(b, X, n, pb);
        ok = memcmp(pa, pb, n * 3 * sizeof *pa) == 0;
    }
    gbdt_destroy(&a);
    gbdt_destroy(&b);
    gbdt_destroy(&c);
    free(X), free(y), free(pa), free(pb);
    CHECK(ok);
}

//  gbdt_predict_block gives gbdt_predict_row's values to the bit.
static void test_block_equals_rows(void)
{
    size_t n = 300;
    double *X = malloc(n * 5 * sizeof *X), *y = malloc(n * sizeof *y);
    double *blk = malloc(n * 3 * sizeof *blk), row[3];
    s_generated(n, X, y, TASK_MULTICLASS);
    gbdt_params_t pr = s_params(10);
    gbdt_t *m = gbdt_fit(X, y, n, 5, TASK_MULTICLASS, &pr, 1, NULL);
    int ok = m != NULL;
    if (ok)
        gbdt_predict_block(m, X, n, blk);
    for (size_t i = 0; ok && i < n; i++) {
        gbdt_predict_row(m, X + 5 * i, row);
        ok = memcmp(row, blk + 3 * i, sizeof row) == 0 &&
             fabs(row[0] + row[1] + row[2] - 1) < 1e-12;
    }
    gbdt_destroy(&m);
    free(X), free(y), free(blk);
    CHECK(ok);
}

//  Training fit of each task on 2000 generated rows.
static void test_tasks_learn(void)
{
    size_t n = 2000;
    double *X = malloc(n * 5 * sizeof *X), *y = malloc(n * sizeof *y), out[3];
    gbdt_params_t pr = s_params(50);
    double score[3] = {0};
    for (int task = TASK_BINARY; task <= TASK_REGRESSION; task++) {
        s_generated(n, X, y, (task_t)task);
        gbdt_t *m = gbdt_fit(X, y, n, 5, (task_t)task, &pr, 1, NULL);
        if (!m)
            break;
        double ss = 0, st = 0, mean = 0;
        for (size_t i = 0; i < n; i++)
            mean += y[i] / (double)n;
        for (size_t i = 0; i < n; i++) {
            gbdt_predict_row(m, X + 5 * i, out);
            int cls = task == TASK_BINARY ? out[0] > 0.5
                      : out[2] > out[1] && out[2] > out[0] ? 2 : out[1] > out[0];
            if (task == TASK_REGRESSION)
                ss += (y[i] - out[0]) * (y[i] - out[0]), st += (y[i] - mean) * (y[i] - mean);
            else
                score[task] += (cls == y[i]) / (double)n;
        }
        if (task == TASK_REGRESSION)
            score[task] = 1 - ss / st; //  R^2
        gbdt_destroy(&m);
    }
    free(X), free(y);
    CHECK(score[TASK_BINARY] > 0.9);
    CHECK(score[TASK_MULTICLASS] > 0.85);
    CHECK(score[TASK_REGRESSION] > 0.9);
}

//  A categorical feature whose levels {1, 4} make class 1: one level-set
//  split separates them, where an ordinal split could not.
static void test_categorical_split(void)
{
    size_t n = 600;
    double *X = malloc(n * 2 * sizeof *X), *y = malloc(n * sizeof *y), p;
    for (size_t i = 0; i < n; i++) {
        X[2 * i] = (double)(i % 6);
        X[2 * i + 1] = (double)(i % 11);
        y[i] = i % 6 == 1 || i % 6 == 4;
    }
    uint8_t cat[] = {1, 0};
    gbdt_params_t pr = s_params(1);
    pr.categorical = cat, pr.max_leaf_nodes = 2;
    gbdt_t *m = gbdt_fit(X, y, n, 2, TASK_BINARY, &pr, 1, NULL);
    CHECK(m != NULL);
    CHECK_INT(m->n_nodes, 3);
    CHECK_INT(m->nodes[0].categorical, 1);
    CHECK_INT(m->n_cat_sets, 1);
    double lo = 0, hi = 1;
    for (int lvl = 0; lvl < 6; lvl++) {
        double x[] = {lvl, 3};
        gbdt_predict_row(m, x, &p);
        if (lvl == 1 || lvl == 4)
            hi = p < hi ? p : hi;
        else
            lo = p > lo ? p : lo;
    }
    double unseen[] = {9, 3}, missing[] = {NAN, 3}, q, r;
    gbdt_predict_row(m, unseen, &q);
    gbdt_predict_row(m, missing, &r);
    gbdt_destroy(&m);
    free(X), free(y);
    CHECK(hi > lo);     //  every class-1 level above every class-0 level
    CHECK_NEAR(q, r, 0); //  an unseen level goes where a missing value goes
}

static void test_early_stopping(void)
{
    size_t n = 15000;
    double *X = malloc(n * 5 * sizeof *X), *y = malloc(n * sizeof *y);
    s_generated(n, X, y, TASK_BINARY);
    for (size_t i = 0; i < n; i++) //  a third of the labels random: overfitting sets in
        y[i] = (i * 2654435761u) % 3 == 0 ? (double)((i * 40503u) % 2) : y[i];
    gbdt_params_t pr = gbdt_params_default();
    pr.max_iter = 300, pr.learning_rate = 0.5;
    gbdt_t *m = gbdt_fit(X, y, n, 5, TASK_BINARY, &pr, 1, NULL);
    CHECK(m != NULL);
    CHECK(m->val_loss != NULL);
    CHECK(m->n_iter < 300);
    //  stopped because the last 10 iterations did not beat the one before them
    double ref = m->val_loss[m->n_iter - 10];
    for (size_t i = m->n_iter - 9; i <= m->n_iter; i++)
        CHECK(m->val_loss[i] >= ref - pr.tol);
    gbdt_destroy(&m);
    pr.early_stopping = GBDT_EARLY_OFF, pr.max_iter = 20;
    m = gbdt_fit(X, y, n, 5, TASK_BINARY, &pr, 1, NULL);
    CHECK(m != NULL);
    CHECK(m->val_loss == NULL);
    CHECK_INT(m->n_iter, 20);
    gbdt_destroy(&m);
    free(X), free(y);
}

//  Number of leaves and depth of tree t.
static void s_shape(const gbdt_t *m, uint32_t node, int depth, int *leaves, int *deepest)
{
    const gbdt_node_t *nd = &m->nodes[node];
    if (nd->feature < 0) {
        (*leaves)++;
        *deepest = depth > *deepest ? depth : *deepest;
        return;
    }
    s_shape(m, nd->left, depth + 1, leaves, deepest);
    s_shape(m, nd->left + 1, depth + 1, leaves, deepest);
}

static void test_tree_limits(void)
{
    size_t n = 3000;
    double *X = malloc(n * 5 * sizeof *X), *y = malloc(n * sizeof *y);
    s_generated(n, X, y, TASK_REGRESSION);
    gbdt_params_t pr = s_params(5);
    pr.max_leaf_nodes = 7, pr.min_samples_leaf = 1;
    gbdt_t *a = gbdt_fit(X, y, n, 5, TASK_REGRESSION, &pr, 1, NULL);
    pr.max_leaf_nodes = 64, pr.max_depth = 2;
    gbdt_t *b = gbdt_fit(X, y, n, 5, TASK_REGRESSION, &pr, 1, NULL);
    free(X), free(y);
    CHECK(a && b);
    for (size_t t = 0; t < 5; t++) {
        int la = 0, da = 0, lb = 0, db = 0;
        s_shape(a, a->roots[t], 0, &la, &da);
        s_shape(b, b->roots[t], 0, &lb, &db);
        CHECK_INT(la, 7);
        CHECK_INT(db, 2);
        CHECK_INT(lb, 4);
    }
    gbdt_destroy(&a);
    gbdt_destroy(&b);
}

//  Fits and expects NULL with MLOPS_EINVAL and a message containing want.
#define CHECK_FIT_FAILS(X, y, n, p, task, pr, want)                              \
    do {                                                                         \
        mlops_err_t _e;                                                          \
        gbdt_t *_m = gbdt_fit((X), (y), (n), (p), (task), (pr), 1, &_e);         \
        CHECK(_m == NULL);                                                       \
        CHECK_INT(_e.code, MLOPS_EINVAL);                                        \
        CHECK_CONTAINS(_e.msg, (want));                                          \
    } while (0)

static void test_data_errors(void)
{
    double X[] = {1, 2, 3, 4, 5, 6}, y[] = {0, 1, 0};
    CHECK_FIT_FAILS(X, y, 0, 2, TASK_BINARY, NULL, "no training rows");
    CHECK_FIT_FAILS(X, y, 3, 0, TASK_BINARY, NULL, "no training rows");
    CHECK_FIT_FAILS(X, y, 3, 2, (task_t)7, NULL, "unknown task 7");
    double one[] = {1, 1, 1};
    CHECK_FIT_FAILS(X, one, 3, 2, TASK_BINARY, NULL, "one class only");
    CHECK_FIT_FAILS(X, one, 3, 2, TASK_MULTICLASS, NULL, "one class only");
    double two[] = {0, 2, 1};
    CHECK_FIT_FAILS(X, two, 3, 2, TASK_BINARY, NULL, "row 1 is 2, not 0 or 1");
    double many[] = {0, TASK_MAX_CLASSES, 1};
    CHECK_FIT_FAILS(X, many, 3, 2, TASK_MULTICLASS, NULL, "row 1 is 100, not a class in 0..99");
    double frac[] = {0, 1.5, 1};
    CHECK_FIT_FAILS(X, frac, 3, 2, TASK_MULTICLASS, NULL, "row 1 is 1.5");
    double nan_y[] = {0.5, 1, NAN};
    CHECK_FIT_FAILS(X, nan_y, 3, 2, TASK_REGRESSION, NULL, "row 2 is nan, not a finite");
    double inf_y[] = {INFINITY, 1, 2};
    CHECK_FIT_FAILS(X, inf_y, 3, 2, TASK_REGRESSION, NULL, "row 0 is inf");
    double Xinf[] = {1, 2, 3, -INFINITY, 5, 6};
    CHECK_FIT_FAILS(Xinf, y, 3, 2, TASK_BINARY, NULL, "feature 1 of row 1 is infinite");
    uint8_t cat[] = {0, 1};
    gbdt_params_t pr = s_params(1);
    pr.categorical = cat;
    double Xcat[] = {1, 0, 2, 0.5, 3, 1};
    CHECK_FIT_FAILS(Xcat, y, 3, 2, TASK_BINARY, &pr, "categorical feature 1, row 1");
    pr = s_params(1);
    pr.early_stopping = GBDT_EARLY_ON;
    CHECK_FIT_FAILS(X, y, 3, 2, TASK_BINARY, &pr, "too few to hold out");
}

static void test_param_errors(void)
{
    double X[] = {1, 2, 3, 4}, y[] = {0, 1, 0, 1};
    static const char *const names[] = {"max_iter", "learning_rate", "max_leaf_nodes",
        "max_depth", "min_samples_leaf", "l2_regularization", "max_bins", "early_stopping",
        "validation_fraction", "n_iter_no_change", "tol", "n_threads", "n_classes"};
    for (int k = 0; k < 13; k++) {
        gbdt_params_t pr = gbdt_params_default();
        switch (k) {
        case 0: pr.max_iter = 0; break;
        case 1: pr.learning_rate = NAN; break;
        case 2: pr.max_leaf_nodes = 1; break;
        case 3: pr.max_depth = -1; break;
        case 4: pr.min_samples_leaf = 0; break;
        case 5: pr.l2_regularization = -1; break;
        case 6: pr.max_bins = 256; break;
        case 7: pr.early_stopping = 3; break;
        case 8: pr.validation_fraction = 1; break;
        case 9: pr.n_iter_no_change = 0; break;
        case 10: pr.tol = -1e-3; break;
        case 11: pr.n_threads = -2; break;
        default: pr.n_classes = TASK_MAX_CLASSES + 1; break;
        }
        char want[64];
        snprintf(want, sizeof want, "parameter %s is out of range", names[k]);
        CHECK_FIT_FAILS(X, y, 4, 1, TASK_BINARY, &pr, want);
    }
}

//  n_classes keeps an output for classes the training rows lack (a rare
//  class missing from a fold), and refuses a label at or over it.
static void test_n_classes(void)
{
    size_t n = 300;
    double *X = malloc(n * 5 * sizeof *X), *y = malloc(n * sizeof *y), out[5];
    s_generated(n, X, y, TASK_MULTICLASS);
    gbdt_params_t pr = s_params(5);
    pr.n_classes = 5;
    gbdt_t *m = gbdt_fit(X, y, n, 5, TASK_MULTICLASS, &pr, 1, NULL);
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(m->n_outputs, 5);
        CHECK_INT(m->n_trees, 25);
        gbdt_predict_row(m, X, out);
        CHECK(out[3] < 1e-9 && out[4] < 1e-9 && fabs(out[0] + out[1] + out[2] - 1) < 1e-6);
    }
    gbdt_destroy(&m);
    pr.n_classes = 2;
    CHECK_FIT_FAILS(X, y, n, 5, TASK_MULTICLASS, &pr, "label 2 is not below n_classes 2");
    free(X), free(y);
}

//  gbdt_new of a fitted model's arrays is the same model.
static void test_new_copies_a_model(void)
{
    size_t n = 400;
    double *X = malloc(n * 5 * sizeof *X), *y = malloc(n * sizeof *y);
    uint8_t cat[] = {0, 0, 0, 0, 1};
    s_generated(n, X, y, TASK_MULTICLASS);
    gbdt_params_t pr = s_params(4);
    pr.categorical = cat;
    gbdt_t *a = gbdt_fit(X, y, n, 5, TASK_MULTICLASS, &pr, 3, NULL);
    mlops_err_t err;
    gbdt_t *b = a ? gbdt_new(a->task, a->n_features, a->n_outputs, a->baseline, a->n_trees,
                             a->roots, a->n_nodes, a->nodes, a->n_cat_sets, a->cat_sets, &err)
                  : NULL;
    CHECK(a && b && a->n_cat_sets > 0 && s_same_model(a, b) && b->n_iter == 4 && !b->val_loss);
    gbdt_destroy(&a);
    gbdt_destroy(&b);
    free(X), free(y);
}

#define CHECK_NEW_FAILS(task, p, k, base, nt, roots, nn, nodes, ns, sets, want)      \
    do {                                                                             \
        mlops_err_t _e;                                                              \
        mlops_err_clear(&_e);                                                        \
        gbdt_t *_m = gbdt_new(task, p, k, base, nt, roots, nn, nodes, ns, sets, &_e); \
        CHECK(_m == NULL);                                                           \
        gbdt_destroy(&_m);                                                           \
        CHECK_INT(_e.code, MLOPS_ECORRUPT);                                          \
        CHECK_CONTAINS(_e.msg, (want));                                              \
    } while (0)

//  Every stored array a walk relies on is checked (a tree of one split
//  and two leaves, broken one field at a time).
static void test_new_refusals(void)
{
    double base[2] = {0.5, -0.5};
    uint32_t roots[2] = {0, 0};
    uint64_t sets[4] = {0x5, 0, 0, 0};
    gbdt_node_t ok[3] = {{.value = 1.5, .feature = 1, .left = 1},
                         {.value = 0.1, .feature = -1}, {.value = -0.1, .feature = -1}};
    gbdt_node_t nd[3];
    mlops_err_t err;
    gbdt_t *m = gbdt_new(TASK_BINARY, 2, 1, base, 1, roots, 3, ok, 1, sets, &err);
    CHECK(m != NULL);
    gbdt_destroy(&m);
    CHECK_NEW_FAILS(TASK_BINARY, 2, 2, base, 2, roots, 3, ok, 0, sets, "2 outputs of 2 features");
    CHECK_NEW_FAILS(TASK_MULTICLASS, 2, 1, base, 1, roots, 3, ok, 0, sets, "1 outputs");
    CHECK_NEW_FAILS((task_t)9, 2, 1, base, 1, roots, 3, ok, 0, sets, "do not fit task 9");
    CHECK_NEW_FAILS(TASK_BINARY, 0, 1, base, 1, roots, 3, ok, 0, sets, "of 0 features");
    CHECK_NEW_FAILS(TASK_BINARY, 2, 1, base, 0, roots, 3, ok, 0, sets, "0 trees are not");
    CHECK_NEW_FAILS(TASK_MULTICLASS, 2, 2, base, 3, roots, 3, ok, 0, sets, "3 trees are not");
    CHECK_NEW_FAILS(TASK_BINARY, 2, 1, base, 1, roots, 0, ok, 0, sets, "0 nodes");
    double nan_base[1] = {NAN};
    CHECK_NEW_FAILS(TASK_BINARY, 2, 1, nan_base, 1, roots, 3, ok, 0, sets, "baseline 0 is");
    uint32_t far[1] = {3};
    CHECK_NEW_FAILS(TASK_BINARY, 2, 1, base, 1, far, 3, ok, 0, sets, "root of tree 0 is");
    for (int k = 0; k < 9; k++) {
        memcpy(nd, ok, sizeof nd);
        switch (k) {
        case 0: nd[0].feature = 2; break;        //  feature out of range
        case 1: nd[0].feature = -2; break;       //  neither split nor leaf
        case 2: nd[0].left = 0; break;           //  a child before its parent: a cycle
        case 3: nd[0].left = 2; break;           //  the right child past the end
        case 4: nd[0].value = NAN; break;        //  a threshold no value compares with
        case 5: nd[0].missing_left = 2; break;
        case 6: nd[0].categorical = 1, nd[0].cat_set = 1; break; //  no such level set
        case 7: nd[2].value = INFINITY; break;   //  a leaf value
        default: nd[0].categorical = 3; break;
        }
        char want[64];
        snprintf(want, sizeof want, "node %d is malformed", k == 7 ? 2 : 0);
        CHECK_NEW_FAILS(TASK_BINARY, 2, 1, base, 1, roots, 3, nd, 1, sets, want);
    }
    memcpy(nd, ok, sizeof nd);
    nd[0].categorical = 1, nd[0].cat_set = 0;
    uint64_t top[4] = {0, 0, 0, 1ULL << 63}; //  level 255: never a level
    CHECK_NEW_FAILS(TASK_BINARY, 2, 1, base, 1, roots, 3, nd, 1, top, "level set 0 is");
    m = gbdt_new(TASK_BINARY, 2, 1, base, 1, roots, 3, nd, 1, sets, &err);
    double x[2] = {0, 2}, out;
    CHECK(m != NULL);
    if (m) {
        gbdt_predict_row(m, x, &out); //  level 2 is in the set: left
        CHECK_NEAR(out, 1 / (1 + exp(-0.6)), 1e-12);
    }
    gbdt_destroy(&m);
}

//  Defaults are scikit-learn's.
static void test_defaults(void)
{
    gbdt_params_t pr = gbdt_params_default();
    CHECK_INT(pr.max_iter, 100);
    CHECK_NEAR(pr.learning_rate, 0.1, 0);
    CHECK_INT(pr.max_leaf_nodes, 31);
    CHECK_INT(pr.min_samples_leaf, 20);
    CHECK_NEAR(pr.l2_regularization, 0, 0);
    CHECK_INT(pr.max_bins, 255);
    CHECK_INT(pr.early_stopping, GBDT_EARLY_AUTO);
    CHECK_NEAR(pr.validation_fraction, 0.1, 0);
    CHECK_INT(pr.n_iter_no_change, 10);
    CHECK_NEAR(pr.tol, 1e-7, 0);
    gbdt_destroy(NULL);
}

//  A task cancelled (progress.h) stops before its next iteration.
static void test_cancelled_fit_stops(void)
{
    double X[3 * KN_ROWS], yb[KN_ROWS], ym[KN_ROWS], yr[KN_ROWS];
    s_known(X, yb, ym, yr);
    gbdt_params_t pr = s_params(3);
    mlops_err_t err;
    mlops_err_clear(&err);
    progress_begin();
    progress_cancel();
    gbdt_t *m = gbdt_fit(X, yb, KN_ROWS, 3, TASK_BINARY, &pr, 1, &err);
    progress_end();
    CHECK(m == NULL);
    CHECK_INT(err.code, MLOPS_ECANCELED);
    CHECK_STR(err.msg, "gbdt: cancelled");
}

int main(void)
{
    RUN(test_cancelled_fit_stops);
    RUN(test_binary_as_sklearn);
    RUN(test_binary_params_as_sklearn);
    RUN(test_multiclass_as_sklearn);
    RUN(test_regression_as_sklearn);
    RUN(test_same_model_any_thread_count);
    RUN(test_block_equals_rows);
    RUN(test_tasks_learn);
    RUN(test_categorical_split);
    RUN(test_early_stopping);
    RUN(test_tree_limits);
    RUN(test_data_errors);
    RUN(test_param_errors);
    RUN(test_n_classes);
    RUN(test_new_copies_a_model);
    RUN(test_new_refusals);
    RUN(test_defaults);
    return TEST_REPORT("test_gbdt");
}
