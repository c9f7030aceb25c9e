/*  gbdt.c: histogram gradient boosting (see gbdt.h).

    Layout of a fit: the features are binned once into a column-major code
    matrix; each tree keeps the training rows as one index array that is
    partitioned in place at every split (stable, so a node's rows stay in
    row order and every sum is taken in the same order whatever the thread
    count). A node's histograms are summed only for the smaller child; the
    larger child takes its parent's buffer and subtracts. One pool of
    threads serves every parallel step: one feature per item for histograms
    and split searches, one fixed block of rows per item for gradients and
    predictions; items write to their own slots and are reduced in index
    order afterwards.
*/
#include "gbdt.h"
#include "bins.h"
#include "progress.h"
#include "pool.h"
#include "rng.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EARLY_AUTO_ROWS 10000  //  sklearn's 'auto': stop early above this many rows
#define MIN_HESSIAN 1e-3       //  sklearn's min_hessian_to_split
#define GAIN_EPS 1e-15         //  sklearn's guard in -G / (H + l2 + eps)
#define CAT_SUPPORT 10.0       //  levels with less hessian are not sorted into splits
#define CAT_MAX_THRESHOLD 32   //  levels at most on the sorted side of a split
#define ROW_BLOCK 16384        //  rows per item of a row-parallel step

//  --------------------------------------------------------------------------
//  Parameters and input checks

gbdt_params_t gbdt_params_default(void)
{
    return (gbdt_params_t){
        .max_iter = 100, .learning_rate = 0.1, .max_leaf_nodes = 31, .max_depth = 0,
        .min_samples_leaf = 20, .l2_regularization = 0, .max_bins = BINS_MAX_VALUES,
        .early_stopping = GBDT_EARLY_AUTO, .validation_fraction = 0.1,
        .n_iter_no_change = 10, .tol = 1e-7, .categorical = NULL, .n_threads = 0};
}

static int s_check_params(const gbdt_params_t *pr, mlops_err_t *err)
{
    const char *bad = pr->max_iter < 1 || pr->max_iter > GBDT_MAX_ITER ? "max_iter"
        : !(pr->learning_rate > 0) || !isfinite(pr->learning_rate) ? "learning_rate"
        : pr->max_leaf_nodes < 2 || pr->max_leaf_nodes > GBDT_MAX_LEAVES ? "max_leaf_nodes"
        : pr->max_depth < 0 ? "max_depth"
        : pr->min_samples_leaf < 1 ? "min_samples_leaf"
        : !(pr->l2_regularization >= 0) || !isfinite(pr->l2_regularization) ? "l2_regularization"
        : pr->max_bins < 2 || pr->max_bins > BINS_MAX_VALUES ? "max_bins"
        : pr->early_stopping < GBDT_EARLY_AUTO || pr->early_stopping > GBDT_EARLY_OFF
            ? "early_stopping"
        : !(pr->validation_fraction > 0 && pr->validation_fraction < 1) ? "validation_fraction"
        : pr->n_iter_no_change < 1 ? "n_iter_no_change"
        : !(pr->tol >= 0) || !isfinite(pr->tol) ? "tol"
        : pr->n_threads < 0 ? "n_threads"
        : pr->n_classes < 0 || pr->n_classes > TASK_MAX_CLASSES ? "n_classes" : NULL;
    if (bad)
        return mlops_err_set(err, MLOPS_EINVAL, "gbdt: parameter %s is out of range", bad);
    return 0;
}

//  Checks the labels of the task; sets *n_classes (1 for regression).
static int s_check_target(const double *y, size_t n, task_t task, size_t *n_classes,
                          mlops_err_t *err)
{
    double top = 0;
    for (size_t i = 0; i < n; i++) {
        double v = y[i];
        if (task == TASK_REGRESSION && !isfinite(v))
            return mlops_err_set(err, MLOPS_EINVAL, "gbdt: target of row %zu is %g, not a "
                                 "finite number", i, v);
        if (task == TASK_BINARY && v != 0 && v != 1)
            return mlops_err_set(err, MLOPS_EINVAL, "gbdt: label of row %zu is %g, not 0 or 1",
                                 i, v);
        if (task == TASK_MULTICLASS && !(v >= 0 && v == floor(v) && v < TASK_MAX_CLASSES))
            return mlops_err_set(err, MLOPS_EINVAL, "gbdt: label of row %zu is %g, not a class "
                                 "in 0..%d", i, v, TASK_MAX_CLASSES - 1);
        top = v > top ? v : top;
    }
    *n_classes = task == TASK_REGRESSION ? 1 : (size_t)top + 1;
    if (task != TASK_REGRESSION) {
        size_t i = 1;
        while (i < n && y[i] == y[0])
            i++;
        if (i == n)
            return mlops_err_set(err, MLOPS_EINVAL, "gbdt: every label is %g: one class only",
                                 y[0]);
    }
    return 0;
}

static int s_check_input(const double *X, const double *y, size_t n, size_t p, task_t task,
                         size_t *n_classes, mlops_err_t *err)
{
    if (n == 0 || p == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "gbdt: no training rows or no features");
    if (n > GBDT_MAX_ROWS)
        return mlops_err_set(err, MLOPS_EINVAL, "gbdt: %zu rows exceed the limit", n);
    if (task != TASK_BINARY && task != TASK_MULTICLASS && task != TASK_REGRESSION)
        return mlops_err_set(err, MLOPS_EINVAL, "gbdt: unknown task %d", (int)task);
    for (size_t i = 0; i < n * p; i++)
        if (isinf(X[i]))
            return mlops_err_set(err, MLOPS_EINVAL, "gbdt: feature %zu of row %zu is infinite",
                                 i % p, i / p);
    return s_check_target(y, n, task, n_classes, err);
}

//  --------------------------------------------------------------------------
//  Losses: baseline, gradients, mean loss (sklearn's half losses)

typedef struct {
    task_t task;     //  loss
    size_t k;        //  outputs (classes for multiclass, else 1)
    size_t n;        //  rows
    const double *y; //  targets
    const double *raw; //  n x k raw predictions
    float *g, *h;    //  out: k x n gradients and hessians (h unused for regression)
    double *loss;    //  out: per row block, the sum of losses
} s_loss_job_t;

static double s_sigmoid(double r)
{
    return 1 / (1 + exp(-r));
}

static void s_baseline(const double *y, size_t n, task_t task, size_t k, double *base)
{
    if (task == TASK_MULTICLASS) {
        double mean_log = 0;
        for (size_t c = 0; c < k; c++) {
            size_t cnt = 0;
            for (size_t i = 0; i < n; i++)
                cnt += y[i] == (double)c;
            double pc = (double)cnt / (double)n;
            pc = pc < DBL_EPSILON ? DBL_EPSILON : pc > 1 - DBL_EPSILON ? 1 - DBL_EPSILON : pc;
            base[c] = log(pc);
            mean_log += base[c] / (double)k;
        }
        for (size_t c = 0; c < k; c++)
            base[c] -= mean_log; //  sklearn's symmetric link: log p - mean log p
        return;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += y[i];
    double m = s / (double)n;
    if (task == TASK_REGRESSION) {
        base[0] = m;
        return;
    }
    double eps = 10 * DBL_EPSILON;
    m = m < eps ? eps : m > 1 - eps ? 1 - eps : m;
    base[0] = log(m / (1 - m));
}

//  Loss of one row, or (when g is not NULL) its gradients and hessians.
static double s_row_loss(const s_loss_job_t *j, size_t i, float *g, float *h)
{
    const double *r = j->raw + i * j->k;
    if (j->task == TASK_REGRESSION) {
        double d = r[0] - j->y[i];
        if (g)
            g[i] = (float)d;
        return g ? 0 : d * d / 2;
    }
    if (j->task == TASK_BINARY) {
        if (g) {
            double pr = s_sigmoid(r[0]);
            g[i] = (float)(pr - j->y[i]), h[i] = (float)(pr * (1 - pr));
            return 0; //  gradients only: the training loss is never used
        }
        double lse = r[0] > 0 ? r[0] + log1p(exp(-r[0])) : log1p(exp(r[0]));
        return lse - j->y[i] * r[0];
    }
    double top = r[0], sum = 0;
    for (size_t c = 1; c < j->k; c++)
        top = r[c] > top ? r[c] : top;
    for (size_t c = 0; c < j->k; c++)
        sum += exp(r[c] - top);
    size_t yc = (size_t)j->y[i];
    for (size_t c = 0; g && c < j->k; c++) {
        double pc = exp(r[c] - top) / sum;
        g[c * j->n + i] = (float)(pc - (c == yc));
        h[c * j->n + i] = (float)(pc * (1 - pc));
    }
    return g ? 0 : top + log(sum) - r[yc];
}

static void s_loss_block_fn(void *arg, size_t item)
{
    s_loss_job_t *j = arg;
    size_t end = (item + 1) * ROW_BLOCK < j->n ? (item + 1) * ROW_BLOCK : j->n;
    double s = 0;
    for (size_t i = item * ROW_BLOCK; i < end; i++)
        s += s_row_loss(j, i, j->g, j->h);
    j->loss[item] = s;
}

//  Fills j->g, j->h (when set) and returns the mean loss over the rows.
static double s_loss_run(pool_t *pool, s_loss_job_t *j)
{
    size_t blocks = (j->n + ROW_BLOCK - 1) / ROW_BLOCK;
    pool_run(pool, blocks, s_loss_block_fn, j);
    double s = 0;
    for (size_t b = 0; b < blocks; b++) //  block order: the same whatever the threads
        s += j->loss[b];
    return s / (double)j->n;
}

//  --------------------------------------------------------------------------
//  Split search

typedef struct {
    double gain;          //  <= 0: no valid split
    double gl, hl;        //  sums of gradient and hessian on the left
    uint32_t nl;          //  rows on the left
    int32_t feature;      //  split feature
    uint16_t bin;         //  numeric: last bin on the left
    uint8_t missing_left; //  the missing bin goes left
    uint8_t categorical;  //  a level-set split
    uint64_t left[4];     //  the bins that go left (bit b of word b / 64)
} s_split_t;

typedef struct {
    size_t n, p;              //  training rows, features
    const uint8_t *codes;     //  n x p, column-major
    const bins_t *bins;       //  the mapper (bin counts, categorical flags, edges)
    const uint8_t *has_missing; //  per feature: a NaN in the training rows
    const gbdt_params_t *pr;  //  resolved parameters
    pool_t *pool;           //  threads
} s_data_t;

//  sklearn's loss of a node of sums g, h at its optimal value; gains are
//  computed as sklearn does, term by term, so that ties between bins
//  round the same way and the same split wins.
static double s_loss(double g, double h, double l2)
{
    return g * (-g / (h + l2 + GAIN_EPS));
}

static double s_gain(double parent, double gl, double hl, double gr, double hr, double l2)
{
    return parent - s_loss(gl, hl, l2) - s_loss(gr, hr, l2);
}

static void s_consider(s_split_t *best, double gain, double gl, double hl, uint32_t nl,
                       unsigned bin, int missing_left)
{
    if (gain > best->gain && gain > 0) {
        best->gain = gain, best->gl = gl, best->hl = hl, best->nl = nl;
        best->bin = (uint16_t)bin, best->missing_left = (uint8_t)missing_left;
    }
}

//  Numeric feature: scan bins left to right (missing values right), then,
//  when the feature has missing values, right to left (missing left).
static void s_find_numeric(const s_data_t *d, size_t f, const bins_hist_t *hist, double G,
                           double H, uint32_t N, double parent, s_split_t *best)
{
    double l2 = d->pr->l2_regularization;
    uint32_t msl = (uint32_t)d->pr->min_samples_leaf;
    unsigned nb = d->bins->n_bins[f], miss = d->has_missing[f];
    double gl = 0, hl = 0;
    uint32_t nl = 0;
    for (unsigned b = 0; b + 1 < nb + miss; b++) {
        gl += hist[b].g, hl += hist[b].h, nl += hist[b].count;
        if (nl < msl || hl < MIN_HESSIAN)
            continue;
        if (N - nl < msl || H - hl < MIN_HESSIAN)
            break;
        double gain = s_gain(parent, gl, hl, G - gl, H - hl, l2);
        s_consider(best, gain, gl, hl, nl, b, 0);
    }
    double gr = 0, hr = 0;
    uint32_t nr = 0;
    for (int b = (int)nb - 2; miss && b >= 0; b--) {
        gr += hist[b + 1].g, hr += hist[b + 1].h, nr += hist[b + 1].count;
        if (nr < msl || hr < MIN_HESSIAN)
            continue;
        if (N - nr < msl || H - hr < MIN_HESSIAN)
            break;
        double gain = s_gain(parent, G - gr, H - hr, gr, hr, l2);
        s_consider(best, gain, G - gr, H - hr, N - nr, (unsigned)b, 1);
    }
    for (unsigned b = 0; best->gain > 0 && b <= best->bin; b++)
        best->left[b / 64] |= 1ULL << (b % 64);
}

typedef struct {
    unsigned bin;  //  the level's bin (BINS_MISSING for missing)
    double ratio;  //  G / (H + CAT_SUPPORT)
} s_level_t;

static int s_level_cmp_fn(const void *a, const void *b)
{
    const s_level_t *x = a, *y = b;
    if (x->ratio != y->ratio)
        return x->ratio < y->ratio ? -1 : 1;
    return (x->bin > y->bin) - (x->bin < y->bin); //  ties by bin: qsort is not stable
}

//  Categorical feature: levels (missing as one more level) with enough
//  support sorted by G / (H + CAT_SUPPORT); the left side is a prefix of
//  that order taken from either end.
static void s_find_categorical(const s_data_t *d, size_t f, const bins_hist_t *hist,
                               double G, double H, uint32_t N, double parent, s_split_t *best)
{
    double l2 = d->pr->l2_regularization;
    uint32_t msl = (uint32_t)d->pr->min_samples_leaf;
    double support = (double)N / H;
    s_level_t lv[BINS_MAX];
    unsigned m = 0, nb = d->bins->n_bins[f];
    for (unsigned b = 0; b < BINS_MAX; b++)
        if ((b < nb || (b == BINS_MISSING && d->has_missing[f])) &&
            hist[b].h * support >= CAT_SUPPORT)
            lv[m++] = (s_level_t){b, hist[b].g / (hist[b].h + CAT_SUPPORT)};
    if (m <= 1)
        return;
    qsort(lv, m, sizeof *lv, s_level_cmp_fn);
    unsigned most = (m + 1) / 2 < CAT_MAX_THRESHOLD ? (m + 1) / 2 : CAT_MAX_THRESHOLD;
    int best_dir = 0;
    unsigned best_i = 0;
    for (int dir = 1; dir >= -1; dir -= 2) {
        double gl = 0, hl = 0;
        uint32_t nl = 0;
        for (unsigned i = 0; i < most; i++) {
            const bins_hist_t *hb = &hist[lv[dir == 1 ? i : m - 1 - i].bin];
            gl += hb->g, hl += hb->h, nl += hb->count;
            if (nl < msl || hl < MIN_HESSIAN)
                continue;
            if (N - nl < msl || H - hl < MIN_HESSIAN)
                break;
            double was = best->gain;
            s_consider(best, s_gain(parent, gl, hl, G - gl, H - hl, l2), gl, hl, nl, 0, 0);
            if (best->gain != was)
                best_dir = dir, best_i = i;
        }
    }
    for (unsigned i = 0; best_dir && i <= best_i; i++) {
        unsigned b = lv[best_dir == 1 ? i : m - 1 - i].bin;
        best->left[b / 64] |= 1ULL << (b % 64);
    }
    best->missing_left = best_dir && (best->left[3] >> 63) & 1;
}

//  The root's own loss counts as 0, as in sklearn (its TreeNode value is
//  0): that changes its gain by a constant only, never which split wins.
static void s_find_split(const s_data_t *d, size_t f, const bins_hist_t *hist, double G,
                         double H, uint32_t N, int root, s_split_t *best)
{
    double parent = root ? 0 : s_loss(G, H, d->pr->l2_regularization);
    memset(best, 0, sizeof *best);
    best->gain = -1;
    best->feature = (int32_t)f;
    best->categorical = d->bins->categorical[f];
    if (best->categorical)
        s_find_categorical(d, f, hist, G, H, N, parent, best);
    else
        s_find_numeric(d, f, hist, G, H, N, parent, best);
}

//  --------------------------------------------------------------------------
//  Growing one tree, leaf-wise

typedef struct {
    uint32_t start, count; //  rows part[start .. start + count)
    double g, h;           //  sums of gradient and hessian
    int depth;             //  root = 0
    uint32_t node;         //  index in the tree's nodes
    bins_hist_t *hist;     //  p x BINS_MAX histograms while it may be split
    s_split_t split;       //  best split, valid when open
    int open;              //  may still be split
} s_leaf_t;

typedef struct {
    const s_data_t *d;     //  the data
    const float *g, *h;    //  this output's gradients by row (h NULL: all 1)
    float *og, *oh;        //  gradients of the node being histogrammed, in part order
    uint32_t *part, *tmp;  //  row partition and its scratch
    s_leaf_t *leaves;      //  every node grown so far (2 * max_leaf_nodes - 1)
    size_t n_leaves;       //  entries used in leaves
    bins_hist_t **spare;   //  free histogram buffers
    size_t n_spare;        //  how many
    s_split_t *cand_a, *cand_b; //  per feature best splits of the two children
    s_leaf_t *small, *large; //  the children being histogrammed
    gbdt_node_t *nodes;    //  the tree being grown
    uint32_t n_nodes;      //  nodes used
    uint64_t (*sets)[4];   //  bin sets of its categorical splits
    uint32_t n_sets;       //  sets used
} s_tree_t;

static bins_hist_t *s_hist_take(s_tree_t *t)
{
    if (t->n_spare)
        return t->spare[--t->n_spare];
    return malloc(t->d->p * BINS_MAX * sizeof(bins_hist_t));
}

static void s_hist_give(s_tree_t *t, bins_hist_t **h)
{
    if (*h)
        t->spare[t->n_spare++] = *h;
    *h = NULL;
}

//  The best of the per-feature candidates; ties go to the lower feature.
static s_split_t s_best_of(const s_split_t *cand, size_t p)
{
    size_t best = 0;
    for (size_t f = 1; f < p; f++)
        if (cand[f].gain > cand[best].gain)
            best = f;
    return cand[best];
}

static void s_root_fn(void *arg, size_t f)
{
    s_tree_t *t = arg;
    const s_data_t *d = t->d;
    s_leaf_t *root = &t->leaves[0];
    bins_hist_t *hist = root->hist + f * BINS_MAX;
    memset(hist, 0, BINS_MAX * sizeof *hist);
    bins_hist_build(hist, d->codes + f * d->n, NULL, d->n, t->g, t->h);
    s_find_split(d, f, hist, root->g, root->h, root->count, 1, &t->cand_a[f]);
}

static void s_children_fn(void *arg, size_t f)
{
    s_tree_t *t = arg;
    const s_data_t *d = t->d;
    bins_hist_t *hs = t->small->hist + f * BINS_MAX, *hl = t->large->hist + f * BINS_MAX;
    memset(hs, 0, BINS_MAX * sizeof *hs);
    bins_hist_build(hs, d->codes + f * d->n, t->part + t->small->start, t->small->count,
                    t->og, t->h ? t->oh : NULL);
    bins_hist_subtract(hl, hl, hs); //  the large child holds its parent's histograms
    if (t->small->open)
        s_find_split(d, f, hs, t->small->g, t->small->h, t->small->count, 0, &t->cand_a[f]);
    if (t->large->open)
        s_find_split(d, f, hl, t->large->g, t->large->h, t->large->count, 0, &t->cand_b[f]);
}

//  A leaf's final value in its tree node.
static void s_close(s_tree_t *t, s_leaf_t *lf)
{
    const gbdt_params_t *pr = t->d->pr;
    lf->open = 0;
    s_hist_give(t, &lf->hist);
    gbdt_node_t *nd = &t->nodes[lf->node];
    nd->feature = -1;
    nd->value = -pr->learning_rate * lf->g / (lf->h + pr->l2_regularization + GAIN_EPS);
}

static int s_bin_left(const s_split_t *s, uint8_t code)
{
    return (s->left[code / 64] >> (code % 64)) & 1;
}

//  Stable partition of a leaf's rows by its split; returns the left count.
static uint32_t s_partition(s_tree_t *t, const s_leaf_t *lf)
{
    const uint8_t *col = t->d->codes + (size_t)lf->split.feature * t->d->n;
    uint32_t *rows = t->part + lf->start, nl = 0, nr = 0;
    //  branch-free: the side of a row is random, a branch would mispredict
    for (uint32_t k = 0; k < lf->count; k++) {
        uint32_t r = rows[k];
        int left = s_bin_left(&lf->split, col[r]);
        rows[nl] = r; //  nl <= k: never overwrites a row not yet read
        t->tmp[nr] = r;
        nl += (uint32_t)left, nr += (uint32_t)!left;
    }
    memcpy(rows + nl, t->tmp, nr * sizeof *rows);
    return nl;
}

//  Writes the split into the tree node of lf and creates its two children.
static void s_split_node(s_tree_t *t, s_leaf_t *lf, s_leaf_t *kids)
{
    s_split_t *s = &lf->split;
    if (!t->d->has_missing[s->feature]) //  sklearn: unseen NaNs follow the larger child
        s->missing_left = s->nl > lf->count - s->nl;
    if (s->missing_left) //  the missing bin's side, for training and validation rows alike
        s->left[3] |= 1ULL << 63;
    else
        s->left[3] &= ~(1ULL << 63);
    uint32_t nl = s_partition(t, lf);
    assert(nl == s->nl);
    gbdt_node_t *nd = &t->nodes[lf->node];
    *nd = (gbdt_node_t){.feature = s->feature, .left = t->n_nodes,
                        .missing_left = s->missing_left, .categorical = s->categorical};
    if (s->categorical) {
        nd->cat_set = t->n_sets;
        memcpy(t->sets[t->n_sets++], s->left, sizeof s->left);
    } else {
        nd->value = bins_threshold(t->d->bins, (size_t)s->feature, s->bin);
    }
    kids[0] = (s_leaf_t){.start = lf->start, .count = nl, .g = s->gl, .h = s->hl,
                         .depth = lf->depth + 1, .node = t->n_nodes++, .open = 1};
    kids[1] = (s_leaf_t){.start = lf->start + nl, .count = lf->count - nl, .g = lf->g - s->gl,
                         .h = lf->h - s->hl, .depth = lf->depth + 1, .node = t->n_nodes++,
                         .open = 1};
}

//  Gathers the small child's gradients in partition order.
static void s_gather(s_tree_t *t, const s_leaf_t *lf)
{
    const uint32_t *rows = t->part + lf->start;
    for (uint32_t k = 0; k < lf->count; k++)
        t->og[k] = t->g[rows[k]];
    for (uint32_t k = 0; t->h && k < lf->count; k++)
        t->oh[k] = t->h[rows[k]];
}

//  Histograms and best splits of two fresh children whose parent's
//  histograms are in parent_hist (taken over by the larger child).
static int s_search_children(s_tree_t *t, s_leaf_t *a, s_leaf_t *b, bins_hist_t *parent_hist)
{
    const s_data_t *d = t->d;
    t->small = a->count < b->count ? a : b;
    t->large = a->count < b->count ? b : a;
    t->large->hist = parent_hist;
    t->small->hist = s_hist_take(t);
    if (!t->small->hist)
        return MLOPS_ENOMEM;
    s_gather(t, t->small);
    pool_run(d->pool, d->p, s_children_fn, t);
    if (t->small->open)
        t->small->split = s_best_of(t->cand_a, d->p);
    if (t->large->open)
        t->large->split = s_best_of(t->cand_b, d->p);
    for (s_leaf_t *c = a; c <= b; c++)
        if (!c->open || c->split.gain <= 0)
            s_close(t, c);
    return 0;
}

//  Splits leaf i into two children; returns 0 or MLOPS_ENOMEM.
static int s_grow_step(s_tree_t *t, size_t i)
{
    const gbdt_params_t *pr = t->d->pr;
    s_leaf_t *kids = &t->leaves[t->n_leaves];
    t->n_leaves += 2;
    s_split_node(t, &t->leaves[i], kids);
    bins_hist_t *parent_hist = t->leaves[i].hist;
    t->leaves[i].hist = NULL;
    t->leaves[i].open = 0;
    size_t n_final = (t->n_leaves + 1) / 2; //  leaves of the tree when the open ones close
    for (int c = 0; c < 2; c++)
        if ((int)n_final == pr->max_leaf_nodes || (pr->max_depth && kids[c].depth == pr->max_depth) ||
            kids[c].count < 2 * (uint32_t)pr->min_samples_leaf)
            kids[c].open = 0;
    if ((int)n_final == pr->max_leaf_nodes) //  sklearn: the other open leaves close too
        for (size_t l = 0; l + 2 < t->n_leaves; l++)
            if (t->leaves[l].open)
                s_close(t, &t->leaves[l]);
    if (!kids[0].open && !kids[1].open) {
        s_hist_give(t, &parent_hist);
        s_close(t, &kids[0]);
        s_close(t, &kids[1]);
        return 0;
    }
    return s_search_children(t, &kids[0], &kids[1], parent_hist);
}

//  The open leaf of largest gain (the first on ties), or -1.
static long s_pick(const s_tree_t *t)
{
    long best = -1;
    for (size_t i = 0; i < t->n_leaves; i++)
        if (t->leaves[i].open && (best < 0 || t->leaves[i].split.gain > t->leaves[best].split.gain))
            best = (long)i;
    return best;
}

static int s_grow_root(s_tree_t *t)
{
    const s_data_t *d = t->d;
    s_leaf_t *root = &t->leaves[0];
    double G = 0, H = 0;
    for (size_t i = 0; i < d->n; i++)
        G += t->g[i], H += t->h ? t->h[i] : 1.0;
    *root = (s_leaf_t){.count = (uint32_t)d->n, .g = G, .h = H, .node = 0, .open = 1};
    t->n_leaves = 1, t->n_nodes = 1, t->n_sets = 0;
    for (size_t i = 0; i < d->n; i++)
        t->part[i] = (uint32_t)i;
    if (d->n < 2 * (size_t)d->pr->min_samples_leaf || H < MIN_HESSIAN) {
        s_close(t, root);
        return 0;
    }
    root->hist = s_hist_take(t);
    if (!root->hist)
        return MLOPS_ENOMEM;
    pool_run(d->pool, d->p, s_root_fn, t);
    root->split = s_best_of(t->cand_a, d->p);
    if (root->split.gain <= 0)
        s_close(t, root);
    return 0;
}

//  Grows one tree on gradients g, h into t->nodes / t->sets (bin sets).
static int s_grow(s_tree_t *t, const float *g, const float *h)
{
    t->g = g, t->h = h;
    int rc = s_grow_root(t);
    for (long i; rc == 0 && (i = s_pick(t)) >= 0;)
        rc = s_grow_step(t, (size_t)i);
    for (size_t i = 0; i < t->n_leaves; i++) //  on failure: give back every buffer
        s_hist_give(t, &t->leaves[i].hist);
    return rc;
}

static void s_tree_free(s_tree_t *t)
{
    for (size_t i = 0; i < t->n_spare; i++)
        free(t->spare[i]);
    free(t->spare);
    free(t->og), free(t->oh), free(t->part), free(t->tmp);
    free(t->leaves), free(t->cand_a), free(t->cand_b), free(t->nodes), free(t->sets);
}

static int s_tree_init(s_tree_t *t, const s_data_t *d)
{
    size_t n = d->n, L = (size_t)d->pr->max_leaf_nodes;
    memset(t, 0, sizeof *t);
    t->d = d;
    t->og = malloc(n * sizeof *t->og), t->oh = malloc(n * sizeof *t->oh);
    t->part = malloc(n * sizeof *t->part), t->tmp = malloc(n * sizeof *t->tmp);
    t->leaves = calloc(2 * L, sizeof *t->leaves);
    t->spare = calloc(2 * L + 1, sizeof *t->spare);
    t->cand_a = malloc(d->p * sizeof *t->cand_a), t->cand_b = malloc(d->p * sizeof *t->cand_b);
    t->nodes = calloc(2 * L, sizeof *t->nodes), t->sets = calloc(L, sizeof *t->sets);
    if (!t->og || !t->oh || !t->part || !t->tmp || !t->leaves || !t->spare || !t->cand_a ||
        !t->cand_b || !t->nodes || !t->sets) {
        s_tree_free(t);
        return MLOPS_ENOMEM;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Models

void gbdt_destroy(gbdt_t **p)
{
    if (!p || !*p)
        return;
    gbdt_t *self = *p;
    free(atomic_load(&self->walk));
    free(self->val_loss);
    free(self->cat_sets);
    free(self->nodes);
    free(self->roots);
    free(self->baseline);
    free(self);
    *p = NULL;
}

//  --------------------------------------------------------------------------
//  Stored models

static int s_bad(mlops_err_t *err, const char *what, size_t i)
{
    return mlops_err_set(err, MLOPS_ECORRUPT, "gbdt: %s %zu is malformed", what, i);
}

//  The shape: task, outputs, trees as whole iterations, sizes in range.
static int s_check_shape(task_t task, size_t p, size_t k, size_t n_trees, size_t n_nodes,
                         size_t n_sets, mlops_err_t *err)
{
    int k_ok = task == TASK_MULTICLASS ? k >= 2 && k <= TASK_MAX_CLASSES
               : task == TASK_BINARY || task == TASK_REGRESSION ? k == 1 : 0;
    if (!k_ok || p == 0)
        return mlops_err_set(err, MLOPS_ECORRUPT, "gbdt: %zu outputs of %zu features do not "
                             "fit task %d", k, p, (int)task);
    if (n_trees == 0 || n_trees % k != 0 || n_trees / k > GBDT_MAX_ITER)
        return mlops_err_set(err, MLOPS_ECORRUPT, "gbdt: %zu trees are not 1..%d iterations "
                             "of %zu", n_trees, GBDT_MAX_ITER, k);
    if (n_nodes == 0 || n_nodes >= UINT32_MAX || n_sets >= UINT32_MAX)
        return mlops_err_set(err, MLOPS_ECORRUPT, "gbdt: %zu nodes, %zu level sets is not a "
                             "model", n_nodes, n_sets);
    return 0;
}

//  One node: a leaf of finite value, or a split whose children come after
//  it (so every walk ends), on a feature below p, with a usable test.
static int s_node_ok(const gbdt_node_t *nd, size_t at, size_t p, size_t n_nodes, size_t n_sets)
{
    if (nd->feature == -1)
        return isfinite(nd->value);
    if (nd->feature < 0 || (size_t)nd->feature >= p || nd->left <= at ||
        (size_t)nd->left + 1 >= n_nodes || nd->missing_left > 1 || nd->categorical > 1)
        return 0;
    return nd->categorical ? nd->cat_set < n_sets : !isnan(nd->value);
}

static int s_check_stored(task_t task, size_t p, size_t k, const double *baseline,
                          size_t n_trees, const uint32_t *roots, size_t n_nodes,
                          const gbdt_node_t *nodes, size_t n_sets, const uint64_t *sets,
                          mlops_err_t *err)
{
    if (s_check_shape(task, p, k, n_trees, n_nodes, n_sets, err) != 0)
        return MLOPS_ECORRUPT;
    for (size_t c = 0; c < k; c++)
        if (!isfinite(baseline[c]))
            return s_bad(err, "baseline", c);
    for (size_t t = 0; t < n_trees; t++)
        if (roots[t] >= n_nodes)
            return s_bad(err, "root of tree", t);
    for (size_t i = 0; i < n_nodes; i++)
        if (!s_node_ok(&nodes[i], i, p, n_nodes, n_sets))
            return s_bad(err, "node", i);
    //  levels are below BINS_MAX_LEVEL: the word's top bit is never a level
    for (size_t s = 0; s < n_sets; s++)
        if ((sets[4 * s + 3] >> (BINS_MAX_LEVEL % 64)) != 0)
            return s_bad(err, "level set", s);
    return 0;
}

gbdt_t *gbdt_new(task_t task, size_t p, size_t n_outputs, const double *baseline,
                 size_t n_trees, const uint32_t *roots, size_t n_nodes, const gbdt_node_t *nodes,
                 size_t n_cat_sets, const uint64_t *cat_sets, mlops_err_t *err)
{
    if (s_check_stored(task, p, n_outputs, baseline, n_trees, roots, n_nodes, nodes, n_cat_sets,
                       cat_sets, err) != 0)
        return NULL;
    gbdt_t *m = calloc(1, sizeof *m);
    if (m) {
        m->baseline = malloc(n_outputs * sizeof *m->baseline);
        m->roots = malloc(n_trees * sizeof *m->roots);
        m->nodes = malloc(n_nodes * sizeof *m->nodes);
        m->cat_sets = malloc((n_cat_sets ? n_cat_sets : 1) * 4 * sizeof *m->cat_sets);
    }
    if (!m || !m->baseline || !m->roots || !m->nodes || !m->cat_sets) {
        gbdt_destroy(&m);
        mlops_err_set(err, MLOPS_ENOMEM, "gbdt: out of memory");
        return NULL;
    }
    memcpy(m->baseline, baseline, n_outputs * sizeof *baseline);
    memcpy(m->roots, roots, n_trees * sizeof *roots);
    memcpy(m->nodes, nodes, n_nodes * sizeof *nodes);
    if (n_cat_sets)
        memcpy(m->cat_sets, cat_sets, n_cat_sets * 4 * sizeof *cat_sets);
    m->task = task, m->n_features = p, m->n_outputs = n_outputs;
    m->n_iter = n_trees / n_outputs, m->n_trees = n_trees;
    m->n_nodes = n_nodes, m->n_cat_sets = n_cat_sets;
    return m;
}

//  --------------------------------------------------------------------------
//  Boosting

typedef struct {
    gbdt_params_t pr;        //  resolved parameters
    const double *X, *y;     //  caller's rows and targets
    size_t n, p, k;          //  rows, features, outputs
    size_t *val;             //  validation rows (n_val), or NULL
    size_t n_val;            //  validation rows
    double *y_tr, *y_val;    //  targets of the two slices
    double *raw_tr, *raw_val; //  raw predictions of the two slices (rows x k)
    float *g, *h;            //  k x n_train gradients and hessians
    double *loss_blocks;     //  per row block loss sums
    bins_t *bins;            //  the mapper
    uint8_t *codes;          //  training codes, column-major
    uint8_t *has_missing;    //  per feature
    s_data_t d;              //  what the grower sees
    s_tree_t tree;           //  the grower's buffers
    pool_t pool;           //  threads
    gbdt_t *m;               //  the model being built
    size_t cap_nodes, cap_sets; //  allocated nodes and sets of m
} s_fit_t;

//  Splits the rows into a training and a validation slice: per class
//  (or all rows for regression) a seeded shuffle, the first
//  round(fraction * size) rows of each to validation. Returns the
//  validation rows sorted; *tr gets the training rows in order.
static int s_split_rows(s_fit_t *fx, uint64_t seed, size_t **tr, size_t *n_tr)
{
    task_t task = fx->m->task;
    size_t n = fx->n, groups = task == TASK_BINARY ? 2 : task == TASK_MULTICLASS ? fx->k : 1;
    size_t *idx = malloc(n * sizeof *idx);
    uint8_t *is_val = calloc(n, 1);
    if (!idx || !is_val) {
        free(idx), free(is_val);
        return MLOPS_ENOMEM;
    }
    rng_t r;
    rng_seed(&r, seed, 0x5EA1);
    for (size_t c = 0; c < groups; c++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (groups == 1 || fx->y[i] == (double)c)
                idx[m++] = i;
        rng_shuffle(&r, idx, m);
        size_t take = (size_t)llround(fx->pr.validation_fraction * (double)m);
        for (size_t j = 0; j < take && j < m; j++)
            is_val[idx[j]] = 1;
    }
    size_t nv = 0, nt = 0;
    for (size_t i = 0; i < n; i++)
        nv += is_val[i];
    fx->val = malloc((nv ? nv : 1) * sizeof *fx->val);
    *tr = idx; //  reused: the training rows in order
    if (!fx->val) {
        free(is_val);
        return MLOPS_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        if (is_val[i])
            fx->val[fx->n_val++] = i;
        else
            idx[nt++] = i;
    *n_tr = nt;
    free(is_val);
    return 0;
}

//  Codes of the training rows, and targets of both slices.
static int s_build_slices(s_fit_t *fx, const uint8_t *codes_all, const size_t *tr, size_t n_tr)
{
    size_t n = fx->n, p = fx->p;
    fx->codes = malloc(n_tr * p);
    fx->y_tr = malloc(n_tr * sizeof *fx->y_tr);
    fx->y_val = malloc((fx->n_val ? fx->n_val : 1) * sizeof *fx->y_val);
    if (!fx->codes || !fx->y_tr || !fx->y_val)
        return MLOPS_ENOMEM;
    for (size_t f = 0; f < p; f++)
        for (size_t i = 0; i < n_tr; i++)
            fx->codes[f * n_tr + i] = codes_all[f * n + (tr ? tr[i] : i)];
    for (size_t i = 0; i < n_tr; i++)
        fx->y_tr[i] = fx->y[tr ? tr[i] : i];
    for (size_t i = 0; i < fx->n_val; i++)
        fx->y_val[i] = fx->y[fx->val[i]];
    return 0;
}

//  Bins every row, draws the validation slice when stopping early, and
//  keeps the training rows' codes.
static int s_prepare(s_fit_t *fx, uint64_t seed, mlops_err_t *err)
{
    bins_params_t bp = {.max_bins = fx->pr.max_bins, .categorical = fx->pr.categorical,
                        .n_threads = fx->pr.n_threads};
    fx->bins = bins_fit(fx->X, fx->n, fx->p, &bp, seed, err);
    if (!fx->bins)
        return err->code;
    uint8_t *all = bins_apply(fx->bins, fx->X, fx->n, err);
    if (!all)
        return MLOPS_ENOMEM;
    int early = fx->pr.early_stopping == GBDT_EARLY_ON ||
                (fx->pr.early_stopping == GBDT_EARLY_AUTO && fx->n > EARLY_AUTO_ROWS);
    size_t *tr = NULL, n_tr = fx->n;
    int rc = early ? s_split_rows(fx, seed, &tr, &n_tr) : 0;
    if (rc == 0 && early && (n_tr == 0 || fx->n_val == 0))
        rc = mlops_err_set(err, MLOPS_EINVAL, "gbdt: %zu rows are too few to hold out a "
                           "validation slice of %g", fx->n, fx->pr.validation_fraction);
    if (rc == 0)
        rc = s_build_slices(fx, all, tr, n_tr);
    free(all);
    free(tr);
    fx->d = (s_data_t){.n = n_tr, .p = fx->p, .codes = fx->codes, .bins = fx->bins,
                       .pr = &fx->pr, .pool = &fx->pool};
    return rc;
}

static int s_alloc_state(s_fit_t *fx)
{
    size_t nt = fx->d.n, k = fx->k, p = fx->p;
    fx->has_missing = calloc(p, 1);
    fx->raw_tr = malloc(nt * k * sizeof *fx->raw_tr);
    fx->raw_val = malloc((fx->n_val ? fx->n_val : 1) * k * sizeof *fx->raw_val);
    fx->g = malloc(nt * k * sizeof *fx->g);
    fx->h = malloc(nt * k * sizeof *fx->h);
    size_t big = nt > fx->n_val ? nt : fx->n_val;
    fx->loss_blocks = malloc(((big + ROW_BLOCK - 1) / ROW_BLOCK + 1) * sizeof *fx->loss_blocks);
    fx->m->baseline = malloc(k * sizeof *fx->m->baseline);
    fx->m->roots = malloc((size_t)fx->pr.max_iter * k * sizeof *fx->m->roots);
    fx->m->val_loss = fx->n_val ? malloc(((size_t)fx->pr.max_iter + 1) * sizeof(double)) : NULL;
    if (!fx->has_missing || !fx->raw_tr || !fx->raw_val || !fx->g || !fx->h ||
        !fx->loss_blocks || !fx->m->baseline || !fx->m->roots || (fx->n_val && !fx->m->val_loss))
        return MLOPS_ENOMEM;
    for (size_t f = 0; f < p; f++)
        for (size_t i = 0; i < nt && !fx->has_missing[f]; i++)
            fx->has_missing[f] = fx->codes[f * nt + i] == BINS_MISSING;
    fx->d.has_missing = fx->has_missing;
    return s_tree_init(&fx->tree, &fx->d);
}

//  Appends the grown tree to the model, turning bin sets into level sets.
static int s_append_tree(s_fit_t *fx)
{
    gbdt_t *m = fx->m;
    s_tree_t *t = &fx->tree;
    if (m->n_nodes + t->n_nodes > fx->cap_nodes || m->n_cat_sets + t->n_sets > fx->cap_sets) {
        size_t cn = 2 * (fx->cap_nodes + t->n_nodes), cs = 2 * (fx->cap_sets + t->n_sets);
        gbdt_node_t *nodes = realloc(m->nodes, cn * sizeof *nodes);
        if (nodes)
            m->nodes = nodes, fx->cap_nodes = cn;
        uint64_t *sets = realloc(m->cat_sets, (cs ? cs : 1) * 4 * sizeof *sets);
        if (sets)
            m->cat_sets = sets, fx->cap_sets = cs;
        if (!nodes || !sets)
            return MLOPS_ENOMEM;
    }
    uint32_t base = (uint32_t)m->n_nodes, set_base = (uint32_t)m->n_cat_sets;
    for (uint32_t i = 0; i < t->n_nodes; i++) {
        gbdt_node_t nd = t->nodes[i];
        if (nd.feature >= 0)
            nd.left += base;
        if (nd.feature >= 0 && nd.categorical)
            nd.cat_set += set_base;
        m->nodes[base + i] = nd;
    }
    for (uint32_t s = 0; s < t->n_sets; s++) {
        uint64_t *out = m->cat_sets + 4 * (size_t)(set_base + s);
        memset(out, 0, 4 * sizeof *out);
        //  which tree node owns the set does not matter: each bin is one level
        size_t f = 0;
        for (uint32_t i = 0; i < t->n_nodes; i++)
            if (t->nodes[i].feature >= 0 && t->nodes[i].categorical && t->nodes[i].cat_set == s)
                f = (size_t)t->nodes[i].feature;
        for (unsigned b = 0; b < fx->bins->n_bins[f]; b++)
            if ((t->sets[s][b / 64] >> (b % 64)) & 1) {
                unsigned lv = (unsigned)fx->bins->edges[f][b];
                out[lv / 64] |= 1ULL << (lv % 64);
            }
    }
    m->roots[m->n_trees++] = base;
    m->n_nodes += t->n_nodes;
    m->n_cat_sets += t->n_sets;
    return 0;
}

//  Adds the fresh tree's leaf values to the training rows (output c) by
//  the partition: each leaf's rows are one run of part.
static void s_update_train(s_fit_t *fx, size_t c)
{
    s_tree_t *t = &fx->tree;
    for (size_t l = 0; l < t->n_leaves; l++) {
        s_leaf_t *lf = &t->leaves[l];
        if (t->nodes[lf->node].feature >= 0)
            continue;
        double v = t->nodes[lf->node].value;
        for (uint32_t k = 0; k < lf->count; k++)
            fx->raw_tr[(size_t)t->part[lf->start + k] * fx->k + c] += v;
    }
}

typedef struct {
    s_fit_t *fx;    //  the fit
    size_t c;       //  output
    uint32_t root;  //  the tree's root in the model
} s_val_job_t;

static void s_update_val_fn(void *arg, size_t item)
{
    s_val_job_t *j = arg;
    s_fit_t *fx = j->fx;
    size_t end = (item + 1) * ROW_BLOCK < fx->n_val ? (item + 1) * ROW_BLOCK : fx->n_val;
    for (size_t i = item * ROW_BLOCK; i < end; i++)
        fx->raw_val[i * fx->k + j->c] +=
            gbdt_leaf_of(fx->m, j->root, fx->X + fx->val[i] * fx->p)->value;
}

static double s_val_loss(s_fit_t *fx)
{
    s_loss_job_t j = {.task = fx->m->task, .k = fx->k, .n = fx->n_val, .y = fx->y_val,
                      .raw = fx->raw_val, .loss = fx->loss_blocks};
    return s_loss_run(&fx->pool, &j);
}

//  sklearn's _should_stop: no score among the last n_iter_no_change beats
//  the one before them by more than tol (scores are minus losses).
static int s_should_stop(const s_fit_t *fx, size_t n_scores)
{
    size_t ref = (size_t)fx->pr.n_iter_no_change + 1;
    if (n_scores < ref)
        return 0;
    const double *loss = fx->m->val_loss;
    double reference = -loss[n_scores - ref] + fx->pr.tol;
    for (size_t i = n_scores - ref + 1; i < n_scores; i++)
        if (-loss[i] > reference)
            return 0;
    return 1;
}

//  One iteration: gradients, then one tree per output.
static int s_iterate(s_fit_t *fx)
{
    size_t nt = fx->d.n;
    s_loss_job_t lj = {.task = fx->m->task, .k = fx->k, .n = nt, .y = fx->y_tr,
                       .raw = fx->raw_tr, .g = fx->g, .h = fx->h, .loss = fx->loss_blocks};
    s_loss_run(&fx->pool, &lj);
    for (size_t c = 0; c < fx->k; c++) {
        const float *h = fx->m->task == TASK_REGRESSION ? NULL : fx->h + c * nt;
        int rc = s_grow(&fx->tree, fx->g + c * nt, h);
        if (rc == 0)
            rc = s_append_tree(fx);
        if (rc)
            return rc;
        s_update_train(fx, c);
        s_val_job_t vj = {fx, c, fx->m->roots[fx->m->n_trees - 1]};
        pool_run(&fx->pool, (fx->n_val + ROW_BLOCK - 1) / ROW_BLOCK, s_update_val_fn, &vj);
    }
    fx->m->n_iter++;
    return 0;
}

static int s_boost(s_fit_t *fx)
{
    size_t k = fx->k;
    s_baseline(fx->y_tr, fx->d.n, fx->m->task, k, fx->m->baseline);
    for (size_t i = 0; i < fx->d.n; i++)
        memcpy(fx->raw_tr + i * k, fx->m->baseline, k * sizeof(double));
    for (size_t i = 0; i < fx->n_val; i++)
        memcpy(fx->raw_val + i * k, fx->m->baseline, k * sizeof(double));
    if (fx->n_val)
        fx->m->val_loss[0] = s_val_loss(fx);
    for (int it = 0; it < fx->pr.max_iter; it++) {
        if (progress_cancelled())   //  the task was cancelled (progress.h)
            return MLOPS_ECANCELED;
        int rc = s_iterate(fx);
        if (rc)
            return rc;
        progress_report(it + 1, fx->pr.max_iter, "iterations");   //  at most: it may stop early
        if (fx->n_val) {
            fx->m->val_loss[fx->m->n_iter] = s_val_loss(fx);
            if (s_should_stop(fx, fx->m->n_iter + 1))
                break;
        }
    }
    return 0;
}

static void s_fit_free(s_fit_t *fx)
{
    s_tree_free(&fx->tree);
    free(fx->val), free(fx->y_tr), free(fx->y_val), free(fx->raw_tr), free(fx->raw_val);
    free(fx->g), free(fx->h), free(fx->loss_blocks), free(fx->codes), free(fx->has_missing);
    bins_destroy(&fx->bins);
    pool_fini(&fx->pool);
}

gbdt_t *gbdt_fit(const double *X, const double *y, size_t n, size_t p, task_t task,
                 const gbdt_params_t *params, uint64_t seed, mlops_err_t *err)
{
    gbdt_params_t pr = params ? *params : gbdt_params_default();
    size_t n_classes = 0;
    mlops_err_t local;
    err = err ? err : &local;
    mlops_err_clear(err);
    if (s_check_params(&pr, err) || s_check_input(X, y, n, p, task, &n_classes, err))
        return NULL;
    if (task == TASK_MULTICLASS && pr.n_classes && n_classes > (size_t)pr.n_classes) {
        mlops_err_set(err, MLOPS_EINVAL, "gbdt: label %zu is not below n_classes %d",
                      n_classes - 1, pr.n_classes);
        return NULL;
    }
    if (task == TASK_MULTICLASS && pr.n_classes)
        n_classes = (size_t)pr.n_classes;
    pr.n_threads = pr.n_threads ? pr.n_threads : bins_default_threads();
    s_fit_t fx = {.pr = pr, .X = X, .y = y, .n = n, .p = p,
                  .k = task == TASK_MULTICLASS ? n_classes : 1};
    fx.m = calloc(1, sizeof *fx.m);
    pool_init(&fx.pool, pr.n_threads);
    int rc = fx.m ? 0 : MLOPS_ENOMEM;
    if (rc == 0) {
        *fx.m = (gbdt_t){.task = task, .n_features = p, .n_outputs = fx.k};
        rc = s_prepare(&fx, seed, err);
    }
    if (rc == 0)
        rc = s_alloc_state(&fx);
    if (rc == 0)
        rc = s_boost(&fx);
    s_fit_free(&fx);
    if (rc) {
        if (err->code != rc)
            mlops_err_set(err, rc, "gbdt: %s", mlops_strerror(rc));
        gbdt_destroy(&fx.m);
    }
    return fx.m;
}
