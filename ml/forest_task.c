/*  forest_task.c: random forests for multiclass and regression targets
    (see forest.h). The binary forest (forest.c) packs a row's weight and
    its class into one 64-bit add; with K classes or real targets that
    trick does not hold, so these trees take the plain road: the same codes
    (forest_fit.h, on bins.h), the same bootstrap draws, feature draws and
    thresholds, and per node a histogram per drawn feature over a row
    index array partitioned in place. A histogram is read back through a
    bitmap of the bins its rows touched, so a small node costs its rows,
    not the feature's 255 bins. Tree i draws from its own stream of the
    seed and trees are assembled in index order (forest_grown_t), so a
    forest is the same for a seed whatever the thread count.
*/
#include "forest.h"
#include "forest_fit.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PURE_VARIANCE 1e-12 //  a regression node with less spread is a leaf

typedef struct {
    task_t task;       //  MULTICLASS or REGRESSION
    const double *y;        //  class index or target per row
    size_t k;               //  classes (MULTICLASS), 1 (REGRESSION)
    size_t stats;           //  doubles per histogram bin: k class weights, or sum w*y
    forest_codes_t codes;   //  the binned features
    forest_params_t pr;     //  resolved parameters
    uint64_t seed;          //  forest seed
    forest_grown_t grown;   //  the trees grown so far
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
    uint8_t touched[256];   //  bins a histogram touched, in order
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
    uint32_t bin, next;     //  last bin on the left, first present bin on the right
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

//  Histogram of feature f over the node's rows; returns the bins touched,
//  in order, in wk->touched.
static size_t s_histogram(const s_shared_t *sh, s_work_t *wk, size_t f, const s_pending_t *e)
{
    size_t width = 1 + sh->stats, k = 0;
    const uint8_t *col = sh->codes.codes + f * sh->codes.n;
    uint64_t seen[4] = {0, 0, 0, 0};
    for (size_t r = e->start; r < e->end; r++) {
        size_t i = wk->idx[r];
        unsigned b = col[i];
        seen[b >> 6] |= (uint64_t)1 << (b & 63);
        s_add(sh, wk->hist + b * width, i, wk->w[i]);
        wk->hcnt[b]++;
    }
    for (unsigned q = 0; q < 4; q++)
        for (uint64_t bits = seen[q]; bits; bits &= bits - 1)
            wk->touched[k++] = (uint8_t)(q * 64 + (unsigned)__builtin_ctzll(bits));
    return k;
}

//  Scans the thresholds between the touched bins of f (zeroing them
//  behind: the histogram is all zero between uses).
static void s_eval_feature(const s_shared_t *sh, s_work_t *wk, size_t f, const s_pending_t *e,
                           s_split_t *best, size_t *constant)
{
    size_t width = 1 + sh->stats, min_leaf = (size_t)sh->pr.min_samples_leaf;
    size_t m = e->end - e->start, k = s_histogram(sh, wk, f, e), cl = 0;
    if (k < 2)
        (*constant)++;
    memset(wk->left, 0, width * sizeof *wk->left);
    double *right = wk->left + width;
    int open = k >= 2;
    for (size_t t = 0; t < k; t++) {
        size_t b = wk->touched[t];
        double *h = wk->hist + b * width;
        cl += wk->hcnt[b];
        for (size_t s = 0; s < width; s++)
            wk->left[s] += h[s], h[s] = 0;
        wk->hcnt[b] = 0;
        if (!open || t + 1 == k || cl < min_leaf)
            continue;
        if (m - cl < min_leaf) {
            open = 0;
            continue;
        }
        for (size_t s = 0; s < width; s++)
            right[s] = wk->tot[s] - wk->left[s];
        double proxy = s_proxy(sh, wk->left) + s_proxy(sh, right);
        if (!best->found || proxy > best->proxy)
            *best = (s_split_t){1, f, (uint32_t)b, wk->touched[t + 1], proxy};
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
    size_t i = e->start, j = e->end;
    const uint8_t *col = sh->codes.codes + s->feature * sh->codes.n;
    while (i < j) {
        if (col[wk->idx[i]] <= s->bin) {
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
    wk->hist = calloc(bins * width, sizeof *wk->hist);
    wk->hcnt = calloc(bins, sizeof *wk->hcnt);
    wk->tot = malloc(3 * width * sizeof *wk->tot); //  tot, left, right
    wk->left = wk->tot ? wk->tot + width : NULL;
    return wk->w && wk->idx && wk->feat && wk->hist && wk->hcnt && wk->tot ? 0 : -1;
}

static void *s_thread_fn(void *arg)
{
    s_shared_t *sh = arg;
    s_work_t wk;
    int ok = s_work_init(sh, &wk) == 0;
    for (size_t t; ok && (t = forest_grown_next(&sh->grown)) < sh->grown.n_trees;)
        ok = s_grow_tree(sh, &wk, t) == 0 &&
             forest_grown_keep(&sh->grown, t, wk.nodes, wk.n_nodes, wk.leaves, wk.n_leaves) == 0;
    if (!ok)
        forest_grown_fail(&sh->grown);
    s_work_free(&wk);
    return NULL;
}

static int s_check(task_t task, const double *X, const double *y, size_t n, size_t p,
                   size_t k, forest_params_t *pr, mlops_err_t *err)
{
    if (task != TASK_MULTICLASS && task != TASK_REGRESSION)
        return mlops_err_set(err, MLOPS_EINVAL, "forest: not a multiclass or regression task");
    if (task == TASK_MULTICLASS && (k < 2 || k > 255))
        return mlops_err_set(err, MLOPS_EINVAL, "forest: %zu classes is not 2..255", k);
    if (forest_params_resolve(task, pr, n, p, err) != 0)
        return MLOPS_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(y[i]) || (task == TASK_MULTICLASS && (y[i] < 0 || y[i] >= (double)k ||
                                                            y[i] != floor(y[i]))))
            return mlops_err_set(err, MLOPS_EINVAL, "forest: target %g in row %zu is not %s",
                                 y[i], i, task == TASK_MULTICLASS ? "a class" : "finite");
    return forest_check_features(X, n, p, err);
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
    forest_t *f = NULL;
    if (forest_grown_init(&sh.grown, task, p, sh.k, (size_t)sh.pr.n_trees) == 0 &&
        forest_codes_fit(X, n, p, sh.pr.max_bins, sh.pr.n_threads, seed, &sh.codes) == 0)
        f = forest_grown_run(&sh.grown, sh.pr.n_threads, s_thread_fn, &sh, err);
    else
        mlops_err_set(err, MLOPS_ENOMEM, "forest: out of memory for %zu rows x %zu features", n,
                      p);
    forest_codes_free(&sh.codes);
    forest_grown_free(&sh.grown);
    return f;
}
