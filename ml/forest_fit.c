/*  forest_fit.c: the training steps every forest fit shares (see
    forest_fit.h): binning through bins.h, parameter defaults, and the
    grown trees' collection and assembly. The split searches live in
    forest.c (binary) and forest_task.c (multiclass, regression).
*/
#include "forest_fit.h"
#include "bins.h"
#include "progress.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* --- codes -------------------------------------------------------------- */

//  The observed range of every bin of feature f, from its column of codes.
static int s_bounds(const double *X, size_t n, size_t p, size_t f, const uint8_t *col,
                    uint32_t nb, double **lo, double **hi)
{
    *lo = malloc(nb * sizeof **lo), *hi = malloc(nb * sizeof **hi);
    if (!*lo || !*hi)
        return MLOPS_ENOMEM;
    for (uint32_t b = 0; b < nb; b++)
        (*lo)[b] = INFINITY, (*hi)[b] = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double x = X[i * p + f] == 0 ? 0.0 : X[i * p + f]; //  -0.0 and 0.0 are one value
        uint8_t c = col[i];
        (*lo)[c] = x < (*lo)[c] ? x : (*lo)[c];
        (*hi)[c] = x > (*hi)[c] ? x : (*hi)[c];
    }
    return 0;
}

int forest_codes_fit(const double *X, size_t n, size_t p, int max_bins, int n_threads,
                     uint64_t seed, forest_codes_t *out)
{
    memset(out, 0, sizeof *out);
    bins_params_t bp = {.max_bins = max_bins, .n_threads = n_threads};
    bins_t *b = bins_fit(X, n, p, &bp, seed, NULL);
    out->n = n, out->p = p;
    out->codes = b ? bins_apply(b, X, n, NULL) : NULL;
    out->n_bins = calloc(p, sizeof *out->n_bins);
    out->lo = calloc(p, sizeof *out->lo);
    out->hi = calloc(p, sizeof *out->hi);
    int ok = out->codes && out->n_bins && out->lo && out->hi;
    for (size_t f = 0; ok && f < p; f++) {
        out->n_bins[f] = b->n_bins[f];
        ok = s_bounds(X, n, p, f, out->codes + f * n, b->n_bins[f], &out->lo[f], &out->hi[f]) == 0;
    }
    bins_destroy(&b);
    if (!ok) {
        forest_codes_free(out);
        return MLOPS_ENOMEM;
    }
    return 0;
}

void forest_codes_free(forest_codes_t *c)
{
    for (size_t j = 0; c->lo && j < c->p; j++)
        free(c->lo[j]);
    for (size_t j = 0; c->hi && j < c->p; j++)
        free(c->hi[j]);
    free(c->lo), free(c->hi), free(c->n_bins), free(c->codes);
    memset(c, 0, sizeof *c);
}

static double s_midpoint(double a, double b)
{
    double t = a / 2 + b / 2;
    return (t >= b || !isfinite(t)) ? a : t;
}

double forest_codes_threshold(const forest_codes_t *c, size_t f, uint32_t b, uint32_t nb)
{
    return s_midpoint(c->hi[f][b], c->lo[f][nb]);
}

/* --- parameters --------------------------------------------------------- */

int forest_default_threads(void)
{
    return bins_default_threads();
}

int forest_default_leaf(size_t n)
{
    size_t m = n / FOREST_LEAF_DIVISOR;
    return m < 1 ? 1 : m > 1000000 ? 1000000 : (int)m;
}

int forest_params_resolve(task_t task, forest_params_t *pr, size_t n, size_t p,
                          mlops_err_t *err)
{
    if (n == 0 || p == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "forest: no training rows or no features");
    if (n >= UINT32_MAX)
        return mlops_err_set(err, MLOPS_EINVAL, "forest: %zu rows exceed the limit", n);
    pr->n_trees = pr->n_trees ? pr->n_trees : FOREST_DEFAULT_TREES;
    pr->min_samples_leaf = pr->min_samples_leaf ? pr->min_samples_leaf : forest_default_leaf(n);
    pr->max_bins = pr->max_bins ? pr->max_bins : FOREST_MAX_BINS;
    pr->n_threads = pr->n_threads ? pr->n_threads : forest_default_threads();
    //  sklearn: sqrt(p) features per split for classifiers, every one for the regressor
    if (!pr->max_features)
        pr->max_features = task == TASK_REGRESSION ? (int)p : (int)fmax(1, floor(sqrt((double)p)));
    if (pr->n_trees < 1 || pr->n_trees > FOREST_MAX_TREES)
        return mlops_err_set(err, MLOPS_EINVAL, "forest: n_trees must be in 1..%d",
                             FOREST_MAX_TREES);
    if (pr->max_depth < 0 || pr->min_samples_leaf < 1 || pr->max_features < 1 ||
        (size_t)pr->max_features > p || pr->max_bins < 2 || pr->max_bins > FOREST_MAX_BINS ||
        pr->n_threads < 1)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "forest: need max_depth >= 0, min_samples_leaf >= 1, "
                             "max_features in 1..%zu, max_bins in 2..%d, n_threads >= 1",
                             p, FOREST_MAX_BINS);
    return 0;
}

int forest_check_features(const double *X, size_t n, size_t p, mlops_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            if (!isfinite(X[i * p + j]))
                return mlops_err_set(err, MLOPS_EINVAL,
                                     "forest: feature %zu of row %zu is not finite", j, i);
    return 0;
}

/* --- grown trees -------------------------------------------------------- */

int forest_grown_init(forest_grown_t *g, task_t task, size_t p, size_t k, size_t n_trees)
{
    memset(g, 0, sizeof *g);
    g->task = task, g->p = p, g->k = k, g->n_trees = n_trees;
    atomic_init(&g->next, 0);
    atomic_init(&g->failed, 0);
    atomic_init(&g->kept, 0);
    g->nodes = calloc(n_trees, sizeof *g->nodes);
    g->n_nodes = calloc(n_trees, sizeof *g->n_nodes);
    g->leaves = calloc(n_trees, sizeof *g->leaves);
    g->n_leaves = calloc(n_trees, sizeof *g->n_leaves);
    return g->nodes && g->n_nodes && g->leaves && g->n_leaves ? 0 : MLOPS_ENOMEM;
}

size_t forest_grown_next(forest_grown_t *g)
{
    size_t t = atomic_fetch_add(&g->next, 1);
    //  a cancelled task (progress.h) grows no more trees
    return t >= g->n_trees || atomic_load(&g->failed) || progress_cancelled() ? g->n_trees : t;
}

void forest_grown_fail(forest_grown_t *g)
{
    atomic_store(&g->failed, 1);
}

int forest_grown_keep(forest_grown_t *g, size_t t, const forest_node_t *nodes, size_t n_nodes,
                      const double *leaves, size_t n_leaves)
{
    size_t nl = g->task == TASK_MULTICLASS ? n_leaves * g->k : 0;
    g->nodes[t] = malloc(n_nodes * sizeof *nodes);
    g->leaves[t] = nl ? malloc(nl * sizeof *leaves) : NULL;
    if (!g->nodes[t] || (nl && !g->leaves[t]))
        return -1;
    memcpy(g->nodes[t], nodes, n_nodes * sizeof *nodes);
    if (nl)
        memcpy(g->leaves[t], leaves, nl * sizeof *leaves);
    g->n_nodes[t] = n_nodes, g->n_leaves[t] = n_leaves;
    progress_advance((int64_t)atomic_fetch_add(&g->kept, 1) + 1, (int64_t)g->n_trees, "trees");
    return 0;
}

//  One forest from the trees, child and leaf indexes shifted.
static forest_t *s_assemble(const forest_grown_t *g, mlops_err_t *err)
{
    size_t T = g->n_trees, nodes = 0, leaves = 0, k = g->k;
    int multi = g->task == TASK_MULTICLASS;
    for (size_t t = 0; t < T; t++)
        nodes += g->n_nodes[t], leaves += multi ? g->n_leaves[t] : 0;
    forest_node_t *all = nodes < UINT32_MAX ? malloc(nodes * sizeof *all) : NULL;
    uint32_t *roots = malloc(T * sizeof *roots);
    double *lv = malloc((leaves ? leaves * k : 1) * sizeof *lv);
    forest_t *f = NULL;
    if (all && roots && lv) {
        size_t at = 0, lat = 0;
        for (size_t t = 0; t < T; t++) {
            roots[t] = (uint32_t)at;
            for (size_t j = 0; j < g->n_nodes[t]; j++) {
                forest_node_t nd = g->nodes[t][j];
                if (nd.feature >= 0)
                    nd.left += (uint32_t)at;
                else if (multi)
                    nd.left += (uint32_t)lat;
                all[at + j] = nd;
            }
            if (multi)
                memcpy(lv + lat * k, g->leaves[t], g->n_leaves[t] * k * sizeof *lv);
            at += g->n_nodes[t], lat += multi ? g->n_leaves[t] : 0;
        }
        f = forest_new_task(g->task, g->p, k, T, roots, nodes, all, leaves, multi ? lv : NULL,
                            err);
    } else {
        mlops_err_set(err, MLOPS_ENOMEM, "forest: out of memory for %zu nodes", nodes);
    }
    free(all), free(roots), free(lv);
    return f;
}

forest_t *forest_grown_run(forest_grown_t *g, int n_threads, void *(*fn)(void *), void *arg,
                           mlops_err_t *err)
{
    pthread_t th[256];
    int started = 0;
    for (int i = 1; i < n_threads && i < 256 && (size_t)i < g->n_trees; i++, started++)
        if (pthread_create(&th[started], NULL, fn, arg) != 0)
            break; //  fewer threads: slower, never different
    fn(arg);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (progress_cancelled()) {
        mlops_err_set(err, MLOPS_ECANCELED, "forest: cancelled after %zu of %zu trees",
                      (size_t)atomic_load(&g->kept), g->n_trees);
        return NULL;
    }
    if (atomic_load(&g->failed)) {
        mlops_err_set(err, MLOPS_ENOMEM, "forest: out of memory while growing trees");
        return NULL;
    }
    return s_assemble(g, err);
}

void forest_grown_free(forest_grown_t *g)
{
    for (size_t t = 0; g->nodes && t < g->n_trees; t++)
        free(g->nodes[t]);
    for (size_t t = 0; g->leaves && t < g->n_trees; t++)
        free(g->leaves[t]);
    free(g->nodes), free(g->n_nodes), free(g->leaves), free(g->n_leaves);
    memset(g, 0, sizeof *g);
}

int forest_nodes_push(forest_node_t **nodes, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        forest_node_t *v = realloc(*nodes, c * sizeof *v);
        if (!v)
            return -1;
        *nodes = v, *cap = c;
    }
    (*nodes)[(*n)++] = (forest_node_t){0, -1, 0};
    return 0;
}
