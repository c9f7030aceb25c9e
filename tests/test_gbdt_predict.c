/*  test_gbdt_predict.c: ml/gbdt_predict.c's coded lock-step walk against a
    plain walk of the stored nodes written here, bit for bit: binary,
    multiclass and regression models (generated trees through gbdt_new, and
    fitted ones), NaN features with missing_left both ways, categorical
    splits with levels in and out of their sets, unseen levels (out of
    range, negative, non-integer, infinite, NaN), rows exactly at, just
    below and just above shared thresholds (and -0 beside +0), blocks of
    1, 3, 127, 128, 129 and 1000 rows and single rows, trees that are a
    leaf, and a feature with more thresholds than 16-bit ranks hold (the
    plain walk). */
#include "gbdt.h"
#include "testing.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    P = 6,           //  features: 0..3 numeric, 4..5 categorical
    P_NUM = 4,       //  the numeric ones
    N_CUTS = 9,      //  thresholds the generated splits draw from
    N_ROWS = 1000,   //  rows of the largest block
};

static const double CUTS[N_CUTS] = {-3.5, -1, -0.0, 0.0, 0.25, 1, 2.5, 7, 1e300};

//  The stored nodes walked as gbdt.h defines them: the reference.
static int s_left(const gbdt_t *m, const gbdt_node_t *nd, double v)
{
    if (v != v)
        return nd->missing_left;
    if (!nd->categorical)
        return v <= nd->value;
    if (!(v >= 0 && v < 255 && v == (double)(int)v))
        return nd->missing_left;
    int lv = (int)v;
    return (int)(m->cat_sets[4 * (size_t)nd->cat_set + (size_t)lv / 64] >> (lv % 64) & 1);
}

static void s_plain(const gbdt_t *m, const double *x, double *out)
{
    size_t K = m->n_outputs;
    for (size_t c = 0; c < K; c++)
        out[c] = m->baseline[c];
    for (size_t t = 0; t < m->n_trees; t++) {
        const gbdt_node_t *nd = &m->nodes[m->roots[t]];
        while (nd->feature >= 0)
            nd = &m->nodes[nd->left + !s_left(m, nd, x[nd->feature])];
        out[t % K] += nd->value;
    }
    if (m->task == TASK_BINARY) {
        out[0] = 1 / (1 + exp(-out[0]));
    } else if (m->task == TASK_MULTICLASS) {
        double top = out[0], sum = 0;
        for (size_t c = 1; c < K; c++)
            top = out[c] > top ? out[c] : top;
        for (size_t c = 0; c < K; c++)
            sum += (out[c] = exp(out[c] - top));
        for (size_t c = 0; c < K; c++)
            out[c] /= sum;
    }
}

static double s_unit(void)
{
    return (double)rand() / RAND_MAX;
}

//  One generated tree of up to `leaves` leaves appended at nodes[*n]:
//  leaves are split at random, children appended after their parent.
static void s_tree(gbdt_node_t *nodes, size_t *n, size_t leaves, size_t n_sets)
{
    size_t root = *n, end = root + 1;
    nodes[root] = (gbdt_node_t){.value = s_unit() - 0.5, .feature = -1};
    for (size_t l = 1; l < leaves; l++) {
        size_t k = root + (size_t)rand() % (end - root);
        if (nodes[k].feature >= 0)
            continue;
        int f = rand() % P;
        nodes[k] = (gbdt_node_t){.value = CUTS[rand() % N_CUTS], .feature = f,
                                 .left = (uint32_t)end, .missing_left = (uint8_t)(rand() % 2),
                                 .categorical = f >= P_NUM,
                                 .cat_set = f >= P_NUM ? (uint32_t)((size_t)rand() % n_sets) : 0};
        if (f >= P_NUM)
            nodes[k].value = 0;
        nodes[end] = (gbdt_node_t){.value = s_unit() - 0.5, .feature = -1};
        nodes[end + 1] = (gbdt_node_t){.value = s_unit() - 0.5, .feature = -1};
        end += 2;
    }
    *n = end;
}

//  A generated model of `iters` iterations of k trees; some trees a leaf.
static gbdt_t *s_model(task_t task, size_t k, size_t iters, unsigned seed)
{
    enum { SETS = 5, LEAVES = 31 };
    srand(seed);
    size_t nt = iters * k, n = 0;
    gbdt_node_t *nodes = calloc(nt * 2 * LEAVES, sizeof *nodes);
    uint32_t *roots = malloc(nt * sizeof *roots);
    uint64_t sets[4 * SETS] = {0};
    for (size_t i = 0; i < 4 * SETS; i++)
        sets[i] = ((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 11) ^ (uint64_t)rand();
    for (size_t s = 0; s < SETS; s++)
        sets[4 * s + 3] &= ~(1ULL << 63);
    for (size_t t = 0; t < nt; t++) {
        roots[t] = (uint32_t)n;
        s_tree(nodes, &n, t % 7 == 3 ? 1 : 2 + (size_t)rand() % (LEAVES - 1), SETS);
    }
    double base[4] = {0.1, -0.2, 0.3, 0.05};
    mlops_err_t err = {0};
    gbdt_t *m = gbdt_new(task, P, k, base, nt, roots, n, nodes, SETS, sets, &err);
    free(nodes);
    free(roots);
    return m;
}

//  A value of a numeric feature: a cut exactly, just below or above one,
//  NaN, an infinity or anything between.
static double s_numeric(void)
{
    double c = CUTS[rand() % N_CUTS];
    switch (rand() % 8) {
    case 0: return NAN;
    case 1: return nextafter(c, -INFINITY);
    case 2: return nextafter(c, INFINITY);
    case 3: return rand() % 2 ? INFINITY : -INFINITY;
    case 4: return (s_unit() - 0.5) * 20;
    default: return c;
    }
}

//  A value of a categorical feature: a level, or one no set can hold (and
//  -0, which is level 0).
static double s_level(void)
{
    static const double unseen[] = {NAN, -1, 255, 300, 2.5, 0.5, -0.0, INFINITY, 1e9};
    return rand() % 3 ? (double)(rand() % 255) : unseen[rand() % 9];
}

static double *s_rows(size_t n, unsigned seed)
{
    double *X = malloc(n * P * sizeof *X);
    srand(seed);
    for (size_t i = 0; i < n * P; i++)
        X[i] = i % P < P_NUM ? s_numeric() : s_level();
    return X;
}

//  Every block size and every single row of X against the plain walk.
static int s_same(const gbdt_t *m, const double *X, size_t n)
{
    static const size_t sizes[] = {1, 2, 3, 4, 127, 128, 129, 1000};
    size_t K = m->n_outputs;
    double *want = malloc(n * K * sizeof *want), *got = malloc(n * K * sizeof *got);
    for (size_t i = 0; i < n; i++)
        s_plain(m, X + i * P, want + i * K);
    int same = 1;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes && sizes[s] <= n; s++) {
        memset(got, 0, n * K * sizeof *got);
        gbdt_predict_block(m, X, sizes[s], got);
        same &= memcmp(got, want, sizes[s] * K * sizeof *got) == 0;
    }
    for (size_t i = 0; i < n; i++) {
        gbdt_predict_row(m, X + i * P, got);
        same &= memcmp(got, want + i * K, K * sizeof *got) == 0;
    }
    free(want);
    free(got);
    return same;
}

static void test_generated_models(void)
{
    double *X = s_rows(N_ROWS, 7);
    struct { task_t task; size_t k, iters; } kinds[] = {
        {TASK_BINARY, 1, 100}, {TASK_MULTICLASS, 3, 40}, {TASK_REGRESSION, 1, 150},
        {TASK_MULTICLASS, 2, 1}, {TASK_BINARY, 1, 1},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        gbdt_t *m = s_model(kinds[i].task, kinds[i].k, kinds[i].iters, 11 + (unsigned)i);
        CHECK(m != NULL);
        if (!m)
            continue;
        CHECK_STR(gbdt_walk_name(m), "steps");
        CHECK(s_same(m, X, N_ROWS));
        gbdt_destroy(&m);
    }
    free(X);
}

//  A NaN takes each split's own side: one split, missing_left both ways.
static void test_nan_sides(void)
{
    for (uint8_t ml = 0; ml < 2; ml++) {
        gbdt_node_t nd[3] = {{.value = 1, .feature = 0, .left = 1, .missing_left = ml},
                             {.value = -1, .feature = -1}, {.value = 1, .feature = -1}};
        double base = 0, rows[4 * P] = {0}, block[4], one;
        for (size_t i = 0; i < 4; i++)
            rows[i * P] = NAN;
        uint32_t root = 0;
        uint64_t sets[4] = {0};
        mlops_err_t err = {0};
        gbdt_t *m = gbdt_new(TASK_REGRESSION, P, 1, &base, 1, &root, 3, nd, 0, sets, &err);
        CHECK(m != NULL);
        if (!m)
            continue;
        gbdt_predict_row(m, rows, &one);
        gbdt_predict_block(m, rows, 4, block); //  4 rows: the block walk
        CHECK(one == (ml ? -1 : 1));
        CHECK(block[0] == one && block[3] == one);
        gbdt_destroy(&m);
    }
}

//  Models as gbdt_fit grows them, on rows with NaN and a categorical
//  feature, with block and row predictions on other rows.
static void test_fitted_models(void)
{
    enum { N = 600 };
    double *X = s_rows(N, 3), *y = malloc(N * sizeof *y);
    for (size_t i = 0; i < N * P; i++) //  fit needs finite numbers, and levels
        if (i % P >= P_NUM)
            X[i] = (double)((i / P) % 9);
        else if (isinf(X[i]))
            X[i] = X[i] > 0 ? 5 : -5;
    uint8_t cat[P] = {0, 0, 0, 0, 1, 1};
    gbdt_params_t pr = gbdt_params_default();
    pr.categorical = cat, pr.n_threads = 1, pr.max_iter = 30;
    task_t tasks[] = {TASK_BINARY, TASK_MULTICLASS, TASK_REGRESSION};
    double *T = s_rows(N_ROWS, 5);
    for (size_t k = 0; k < 3; k++) {
        for (size_t i = 0; i < N; i++) {
            double a = X[i * P] == X[i * P] ? X[i * P] : 0, lv = X[i * P + 4];
            y[i] = tasks[k] == TASK_REGRESSION ? a + lv : (double)(((int)lv + (a > 1)) % (k + 2));
        }
        mlops_err_t err = {0};
        gbdt_t *m = gbdt_fit(X, y, N, P, tasks[k], &pr, 1, &err);
        CHECK(m != NULL);
        if (!m)
            continue;
        CHECK(s_same(m, T, N_ROWS));
        gbdt_destroy(&m);
    }
    free(T);
    free(X);
    free(y);
}

//  A chain tree of splits on feature 1 at 0, 1, .., splits - 1, NaN going
//  left at every other split; its leaves s / splits, the last 1.
static gbdt_t *s_chain(size_t splits)
{
    size_t n = 2 * splits + 1;
    gbdt_node_t *nd = calloc(n, sizeof *nd);
    for (size_t s = 0; s < splits; s++) {
        nd[2 * s] = (gbdt_node_t){.value = (double)s, .feature = 1, .left = (uint32_t)(2 * s + 1),
                                  .missing_left = (uint8_t)(s % 2)};
        nd[2 * s + 1] = (gbdt_node_t){.value = (double)s / (double)splits, .feature = -1};
    }
    nd[n - 1] = (gbdt_node_t){.value = 1, .feature = -1};
    double base = 0;
    uint32_t root = 0;
    uint64_t sets[4] = {0};
    mlops_err_t err = {0};
    gbdt_t *m = gbdt_new(TASK_REGRESSION, P, 1, &base, 1, &root, n, nd, 0, sets, &err);
    free(nd);
    return m;
}

//  A tree taller than a trained one can be (HEIGHT_MAX): the plain walk,
//  as the coded walk would take every row down all its steps.
static void test_tall_tree(void)
{
    size_t heights[] = {256, 257};
    for (size_t h = 0; h < 2; h++) {
        gbdt_t *m = s_chain(heights[h]);
        CHECK(m != NULL);
        if (!m)
            return;
        CHECK_STR(gbdt_walk_name(m), h == 0 ? "steps" : "plain");
        double *X = s_rows(200, 7);
        for (size_t i = 0; i < 200; i++)
            X[i * P + 1] = i % 5 ? (double)(rand() % 300) - 5 : X[i * P + 1];
        CHECK(s_same(m, X, 200));
        free(X);
        gbdt_destroy(&m);
    }
}

//  A feature with more distinct thresholds than 16-bit ranks hold: the
//  plain walk, the same answers, and the walk is not tried again.
static void test_too_many_cuts(void)
{
    enum { SPLITS = 0x10000 };
    gbdt_t *m = s_chain(SPLITS);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK_STR(gbdt_walk_name(m), "plain");
    struct gbdt_walk_s *kept = atomic_load(&m->walk); //  the failure, kept
    CHECK(kept != NULL);
    double *X = s_rows(200, 9);
    for (size_t i = 0; i < 200; i++)
        X[i * P + 1] = i % 5 ? (double)(rand() % (SPLITS + 10)) - 5 : X[i * P + 1];
    CHECK(s_same(m, X, 200));
    CHECK(atomic_load(&m->walk) == kept);
    free(X);
    gbdt_destroy(&m);
}

int main(void)
{
    RUN(test_generated_models);
    RUN(test_nan_sides);
    RUN(test_fitted_models);
    RUN(test_tall_tree);
    RUN(test_too_many_cuts);
    return TEST_REPORT("test_gbdt_predict");
}
