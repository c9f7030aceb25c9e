/*  forest_task.c: random forests for multiclass and regression targets
    (see forest.h). The binary forest (forest.c) packs a row's weight and
    its class into one 64-bit add; with K classes or real targets that
    trick does not hold, so these trees take the plain road: the same rank
    codes (forest_codes.h), the same bootstrap draws, feature draws and
    thresholds, and per node a histogram per drawn feature over a row
    index array partitioned in place. Tree i draws from its own stream of
    the seed and trees are assembled in index order, so a forest is the
    same for a seed whatever the thread count.
*/
#include "forest.h"
#include "forest_codes.h"
#include "rng.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define PURE_VARIANCE 1e-12 //  a regression node with less spread is a leaf

typedef struct {
    task_t task;       //  MULTICLASS or REGRESSION
    const double *y;        //  class index or target per row
    size_t k;               //  classes (MULTICLASS), 1 (REGRESSION)
    size_t stats;           //  doubles per histogram bin: k class weights, or sum w*y
    forest_codes_t codes;   //  rank codes
    forest_params_t pr;     //  resolved parameters
    uint64_t seed;          //  forest seed
    atomic_size_t next;     //  next tree to grow
    atomic_int failed;      //  a thread ran out of memory
    forest_node_t **trees;  //  per tree: nodes (local indexes), owned
    size_t *tree_len;       //  per tree: node count
    double **leaves;        //  per tree: leaf values (k per leaf, MULTICLASS), owned
    size_t *n_leaves;       //  per tree: leaves
} s_shared_t;

typedef struct {
    size_t start, end;      //  idx[start, end)
    int depth;              //  root = 0
    uint32_t node;          //  index in the tree's nodes
} s_pending_t;

typedef struct {
    rng_t rng;              //  this tree's stream
    uint32_t *w;            //  n bootstrap counts
    size_t *idx;            //  the tree's distinct rows, node ranges
    size_t *feat;           //  p feature order for sampling
    double *hist;           //  max_bins x (1 + stats): weight then stats
    uint32_t *hcnt;         //  max_bins distinct rows
    double *tot, *left;     //  1 + stats: a node's sums, a scan's left sums
    s_pending_t *stack;     //  nodes to expand
    size_t top, stack_cap;
    forest_node_t *nodes;   //  the tree being grown
    size_t n_nodes, cap;
    double *leaves;         //  its leaf values
    size_t n_leaves, leaf_cap;
} s_work_t;

typedef struct {
    int found;              //  a split was found
    size_t feature;         //  its feature
    uint32_t bin, next;     //  last rank on the left, first on the right
    double proxy;           //  larger is better
} s_split_t;

/* --- node statistics ----------------------------------------------------------- */

//  Adds row i (weight w) to the sums at v: v[0] weight, then the stats.
static inline void s_add(const s_shared_t *sh, double *v, size_t i, double w)
{
    v[0] += w;
    if (sh->task == TASK_MULTICLASS)
        v[1 + (size_t)sh->y[i]] += w;
    else
        v[1] += w * sh->y[i];
}

//  The impurity proxy of one side (larger is better): sum_k w_k^2 / w for
//  Gini, (sum w y)^2 / w for squared error.
static double s_proxy(const s_shared_t *sh, const double *v)
{
    double s = 0;
    for (size_t c = 0; c < sh->stats; c++)
        s += v[1 + c] * v[1 + c];
    return s / v[0];
}

static int s_pure(const s_shared_t *sh, const s_work_t *wk, const s_pending_t *e)
{
    const double *t = wk->tot;
    if (sh->task == TASK_MULTICLASS) {
        for (size_t c = 0; c < sh->k; c++)
            if (t[1 + c] == t[0])
                return 1;
        return 0;
    }
    double mean = t[1] / t[0], ss = 0;
    for (size_t r = e->start; r < e->end; r++) {
        size_t i = wk->idx[r];
        ss += wk->w[i] * (sh->y[i] - mean) * (sh->y[i] - mean);
    }
    return ss / t[0] <= PURE_VARIANCE;
}

/* --- split search ----------------------------------------------------------- */

static void s_eval_feature(const s_shared_t *sh, s_work_t *wk, size_t f, const s_pending_t *e,
                           s_split_t *best, size_t *constant)
{
    size_t nb = sh->codes.n_bins[f], width = 1 + sh->stats, p = sh->codes.p;
    size_t min_leaf = (size_t)sh->pr.min_samples_leaf, m = e->end - e->start;
    memset(wk->hist, 0, nb * width * sizeof *wk->hist);
    memset(wk->hcnt, 0, nb * sizeof *wk->hcnt);
    for (size_t r = e->start; r < e->end; r++) {
        size_t i = wk->idx[r], b = sh->codes.codes[i * p + f];
        s_add(sh, wk->hist + b * width, i, wk->w[i]);
        wk->hcnt[b]++;
    }
    size_t present = 0, cl = 0;
    for (size_t b = 0; b < nb; b++)
        present += wk->hcnt[b] > 0;
    if (present < 2) {
        (*constant)++;
        return;
    }
    memset(wk->left, 0, width * sizeof *wk->left);
    double *right = wk->left + width;
    for (size_t b = 0; b + 1 < nb; b++) {
        if (!wk->hcnt[b])
            continue;
        cl += wk->hcnt[b];
        for (size_t s = 0; s < width; s++)
            wk->left[s] += wk->hist[b * width + s];
        size_t next = b + 1;
        while (next < nb && !wk->hcnt[next])
            next++;
        if (next == nb)
            break;
        if (cl < min_leaf)
            continue;
        if (m - cl < min_leaf)
            break;
        for (size_t s = 0; s < width; s++)
            right[s] = wk->tot[s] - wk->left[s];
        double proxy = s_proxy(sh, wk->left) + s_proxy(sh, right);
        if (!best->found || proxy > best->proxy)
            *best = (s_split_t){1, f, (uint32_t)b, (uint32_t)next, proxy};
    }
}

//  Draws features as the binary forest does (sklearn's BestSplitter): past
//  max_features only while every drawn one was constant in the node.
static void s_best_split(const s_shared_t *sh, s_work_t *wk, const s_pending_t *e,
                         s_split_t *best)
{
    size_t p = sh->codes.p, mf = (size_t)sh->pr.max_features, k = 0, constant = 0;
    memset(best, 0, sizeof *best);
    while (k < p && (k < mf || k == constant)) {
        size_t j = k + (size_t)rng_below(&wk->rng, p - k), f = wk->feat[j];
        wk->feat[j] = wk->feat[k], wk->feat[k] = f;
        k++;
        s_eval_feature(sh, wk, f, e, best, &constant);
    }
}

/* --- growing a tree ----------------------------------------------------------- */

static int s_push_node(s_work_t *wk)
{
    return forest_nodes_push(&wk->nodes, &wk->n_nodes, &wk->cap);
}

static int s_push_pending(s_work_t *wk, s_pending_t e)
{
    if (wk->top == wk->stack_cap) {
        size_t cap = wk->stack_cap ? wk->stack_cap * 2 : 64;
        s_pending_t *v = realloc(wk->stack, cap * sizeof *v);
        if (!v)
            return -1;
        wk->stack = v, wk->stack_cap = cap;
    }
    wk->stack[wk->top++] = e;
    return 0;
}

//  Makes node e a leaf of the node's sums in wk->tot.
static int s_leaf(const s_shared_t *sh, s_work_t *wk, const s_pending_t *e)
{
    const double *t = wk->tot;
    if (sh->task == TASK_REGRESSION) {
        wk->nodes[e->node] = (forest_node_t){t[1] / t[0], -1, 0};
        return 0;
    }
    if (wk->n_leaves == wk->leaf_cap) {
        size_t cap = wk->leaf_cap ? wk->leaf_cap * 2 : 64;
        double *v = realloc(wk->leaves, cap * sh->k * sizeof *v);
        if (!v)
            return -1;
        wk->leaves = v, wk->leaf_cap = cap;
    }
    for (size_t c = 0; c < sh->k; c++)
        wk->leaves[wk->n_leaves * sh->k + c] = t[1 + c] / t[0];
    wk->nodes[e->node] = (forest_node_t){0, -1, (uint32_t)wk->n_leaves++};
    return 0;
}

static size_t s_partition(const s_shared_t *sh, s_work_t *wk, const s_pending_t *e,
                          const s_split_t *s)
{
    size_t i = e->start, j = e->end, p = sh->codes.p;
    while (i < j) {
        if (sh->codes.codes[wk->idx[i] * p + s->feature] <= s->bin) {
            i++;
            continue;
        }
        size_t t = wk->idx[--j];
        wk->idx[j] = wk->idx[i], wk->idx[i] = t;
    }
    return i;
}

static size_t s_bootstrap(const s_shared_t *sh, s_work_t *wk)
{
    size_t n = sh->codes.n, m = 0;
    memset(wk->w, 0, n * sizeof *wk->w);
    for (size_t i = 0; i < n; i++)
        wk->w[rng_below(&wk->rng, n)]++;
    for (size_t i = 0; i < n; i++)
        if (wk->w[i])
            wk->idx[m++] = i;
    return m;
}

static int s_expand(const s_shared_t *sh, s_work_t *wk, s_pending_t e)
{
    size_t width = 1 + sh->stats, cnt = e.end - e.start, min_leaf = (size_t)sh->pr.min_samples_leaf;
    memset(wk->tot, 0, width * sizeof *wk->tot);
    for (size_t r = e.start; r < e.end; r++)
        s_add(sh, wk->tot, wk->idx[r], wk->w[wk->idx[r]]);
    s_split_t s = {0};
    int leaf = (sh->pr.max_depth > 0 && e.depth >= sh->pr.max_depth) || cnt < 2 ||
               cnt < 2 * min_leaf || s_pure(sh, wk, &e);
    if (!leaf)
        s_best_split(sh, wk, &e, &s);
    if (!s.found)
        return s_leaf(sh, wk, &e);
    size_t mid = s_partition(sh, wk, &e, &s);
    uint32_t left = (uint32_t)wk->n_nodes;
    if (s_push_node(wk) || s_push_node(wk))
        return -1;
    wk->nodes[e.node] = (forest_node_t){forest_codes_threshold(&sh->codes, s.feature, s.bin, s.next),
                                        (int32_t)s.feature, left};
    if (s_push_pending(wk, (s_pending_t){mid, e.end, e.depth + 1, left + 1}) ||
        s_push_pending(wk, (s_pending_t){e.start, mid, e.depth + 1, left}))
        return -1;
    return 0;
}

static int s_grow_tree(const s_shared_t *sh, s_work_t *wk, size_t tree)
{
    rng_seed(&wk->rng, sh->seed, tree);
    size_t m = s_bootstrap(sh, wk);
    for (size_t j = 0; j < sh->codes.p; j++)
        wk->feat[j] = j;
    wk->n_nodes = wk->n_leaves = wk->top = 0;
    if (s_push_node(wk) || s_push_pending(wk, (s_pending_t){0, m, 0, 0}))
        return -1;
    while (wk->top > 0)
        if (s_expand(sh, wk, wk->stack[--wk->top]) != 0)
            return -1;
    return 0;
}

/* --- threads, assembly ----------------------------------------------------------- */

static void s_work_free(s_work_t *wk)
{
    free(wk->w), free(wk->idx), free(wk->feat), free(wk->hist), free(wk->hcnt);
    free(wk->tot), free(wk->stack), free(wk->nodes), free(wk->leaves);
}

static int s_work_init(const s_shared_t *sh, s_work_t *wk)
{
    memset(wk, 0, sizeof *wk);
    size_t n = sh->codes.n, width = 1 + sh->stats, bins = (size_t)sh->pr.max_bins;
    wk->w = malloc(n * sizeof *wk->w);
    wk->idx = malloc(n * sizeof *wk->idx);
    wk->feat = malloc(sh->codes.p * sizeof *wk->feat);
    wk->hist = malloc(bins * width * sizeof *wk->hist);
    wk->hcnt = malloc(bins * sizeof *wk->hcnt);
    wk->tot = malloc(3 * width * sizeof *wk->tot); //  tot, left, right
    wk->left = wk->tot ? wk->tot + width : NULL;
    return wk->w && wk->idx && wk->feat && wk->hist && wk->hcnt && wk->tot ? 0 : -1;
}

//  Keeps the tree just grown in the shared arrays.
static int s_keep(s_shared_t *sh, const s_work_t *wk, size_t t)
{
    size_t nl = sh->task == TASK_MULTICLASS ? wk->n_leaves * sh->k : 0;
    sh->trees[t] = malloc(wk->n_nodes * sizeof(forest_node_t));
    sh->leaves[t] = malloc((nl ? nl : 1) * sizeof(double));
    if (!sh->trees[t] || !sh->leaves[t])
        return -1;
    memcpy(sh->trees[t], wk->nodes, wk->n_nodes * sizeof(forest_node_t));
    if (nl)
        memcpy(sh->leaves[t], wk->leaves, nl * sizeof(double));
    sh->tree_len[t] = wk->n_nodes, sh->n_leaves[t] = wk->n_leaves;
    return 0;
}

static void *s_thread_fn(void *arg)
{
    s_shared_t *sh = arg;
    s_work_t wk;
    if (s_work_init(sh, &wk) != 0)
        atomic_store(&sh->failed, 1);
    while (!atomic_load(&sh->failed)) {
        size_t t = atomic_fetch_add(&sh->next, 1);
        if (t >= (size_t)sh->pr.n_trees)
            break;
        if (s_grow_tree(sh, &wk, t) != 0 || s_keep(sh, &wk, t) != 0)
            atomic_store(&sh->failed, 1);
    }
    s_work_free(&wk);
    return NULL;
}

//  One forest from the trees, child and leaf indexes shifted.
static forest_t *s_assemble(const s_shared_t *sh, mlops_err_t *err)
{
    size_t T = (size_t)sh->pr.n_trees, nodes = 0, leaves = 0, k = sh->k;
    for (size_t t = 0; t < T; t++)
        nodes += sh->tree_len[t], leaves += sh->n_leaves[t];
    forest_node_t *all = malloc(nodes * sizeof *all);
    uint32_t *roots = malloc(T * sizeof *roots);
    double *lv = malloc((leaves * k > 0 ? leaves * k : 1) * sizeof *lv);
    forest_t *f = NULL;
    if (all && roots && lv && nodes < UINT32_MAX) {
        size_t at = 0, lat = 0;
        for (size_t t = 0; t < T; t++) {
            roots[t] = (uint32_t)at;
            for (size_t j = 0; j < sh->tree_len[t]; j++) {
                forest_node_t nd = sh->trees[t][j];
                if (nd.feature >= 0)
                    nd.left += (uint32_t)at;
                else if (sh->task == TASK_MULTICLASS)
                    nd.left += (uint32_t)lat;
                all[at + j] = nd;
            }
            if (sh->task == TASK_MULTICLASS)
                memcpy(lv + lat * k, sh->leaves[t], sh->n_leaves[t] * k * sizeof *lv);
            at += sh->tree_len[t], lat += sh->n_leaves[t];
        }
        f = forest_new_task(sh->task, sh->codes.p, k, T, roots, nodes, all,
                            sh->task == TASK_MULTICLASS ? leaves : 0, lv, err);
    } else {
        mlops_err_set(err, MLOPS_ENOMEM, "forest: out of memory for %zu nodes", nodes);
    }
    free(all), free(roots), free(lv);
    return f;
}

static int s_check(task_t task, const double *X, const double *y, size_t n, size_t p,
                   size_t k, forest_params_t *pr, mlops_err_t *err)
{
    if (task != TASK_MULTICLASS && task != TASK_REGRESSION)
        return mlops_err_set(err, MLOPS_EINVAL, "forest: not a multiclass or regression task");
    if (n == 0 || p == 0 || n >= UINT32_MAX || (task == TASK_MULTICLASS && (k < 2 || k > 255)))
        return mlops_err_set(err, MLOPS_EINVAL, "forest: %zu rows, %zu features, %zu classes",
                             n, p, k);
    pr->n_trees = pr->n_trees ? pr->n_trees : 100;
    pr->min_samples_leaf = pr->min_samples_leaf ? pr->min_samples_leaf : 1;
    pr->max_bins = pr->max_bins ? pr->max_bins : FOREST_MAX_BINS;
    pr->n_threads = pr->n_threads ? pr->n_threads : forest_default_threads();
    if (!pr->max_features)
        pr->max_features = task == TASK_REGRESSION ? (int)p : (int)fmax(1, floor(sqrt((double)p)));
    if (pr->n_trees < 1 || pr->n_trees > FOREST_MAX_TREES || pr->max_depth < 0 ||
        pr->min_samples_leaf < 1 || pr->max_features < 1 || (size_t)pr->max_features > p ||
        pr->max_bins < 2 || pr->max_bins > FOREST_MAX_BINS || pr->n_threads < 1)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "forest: need n_trees in 1..%d, max_depth >= 0, min_samples_leaf "
                             ">= 1, max_features in 1..%zu, max_bins in 2..%d, n_threads >= 1",
                             FOREST_MAX_TREES, p, FOREST_MAX_BINS);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]) || (task == TASK_MULTICLASS && (y[i] < 0 || y[i] >= (double)k ||
                                                            y[i] != floor(y[i]))))
            return mlops_err_set(err, MLOPS_EINVAL, "forest: target %g in row %zu is not %s",
                                 y[i], i, task == TASK_MULTICLASS ? "a class" : "finite");
        for (size_t j = 0; j < p; j++)
            if (!isfinite(X[i * p + j]))
                return mlops_err_set(err, MLOPS_EINVAL,
                                     "forest: feature %zu of row %zu is not finite", j, i);
    }
    return 0;
}

static void s_shared_free(s_shared_t *sh)
{
    for (size_t t = 0; sh->trees && t < (size_t)sh->pr.n_trees; t++) {
        free(sh->trees[t]);
        free(sh->leaves[t]);
    }
    free(sh->trees), free(sh->tree_len), free(sh->leaves), free(sh->n_leaves);
    forest_codes_free(&sh->codes);
}

forest_t *forest_fit_task(task_t task, const double *X, const double *y, size_t n,
                          size_t p, size_t n_classes, const forest_params_t *params,
                          uint64_t seed, mlops_err_t *err)
{
    s_shared_t sh;
    memset(&sh, 0, sizeof sh);
    sh.pr = params ? *params : (forest_params_t){0};
    if (s_check(task, X, y, n, p, n_classes, &sh.pr, err) != 0)
        return NULL;
    sh.task = task, sh.y = y, sh.seed = seed;
    sh.k = task == TASK_MULTICLASS ? n_classes : 1;
    sh.stats = sh.k;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.failed, 0);
    size_t T = (size_t)sh.pr.n_trees;
    sh.trees = calloc(T, sizeof *sh.trees);
    sh.leaves = calloc(T, sizeof *sh.leaves);
    sh.tree_len = calloc(T, sizeof *sh.tree_len);
    sh.n_leaves = calloc(T, sizeof *sh.n_leaves);
    forest_t *f = NULL;
    int ok = sh.trees && sh.leaves && sh.tree_len && sh.n_leaves &&
             forest_codes_fit(X, n, p, sh.pr.max_bins, &sh.codes) == 0;
    if (ok) {
        int nt = sh.pr.n_threads < sh.pr.n_trees ? sh.pr.n_threads : sh.pr.n_trees;
        forest_run_threads(nt, s_thread_fn, &sh);
        ok = !atomic_load(&sh.failed);
    }
    if (ok)
        f = s_assemble(&sh, err);
    else
        mlops_err_set(err, MLOPS_ENOMEM, "forest: out of memory for %zu rows x %zu features", n,
                      p);
    s_shared_free(&sh);
    return f;
}
