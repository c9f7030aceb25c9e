/*  forest_predict.c: a forest's predictions (see forest.h); the training
    side is forest.c.

    Where the time went (bench_infer, the serving path's 100 rows, 100 trees
    of mean leaf depth 10 and up to 25): a walk that stops each row at its
    leaf mispredicts about one branch in two (is this a leaf? which child?),
    about 5 ns a node, and one node load waits for the one before. Under
    load (the gateway and other workers on the same cores) the walk's data
    is also evicted from L2 between requests, so its size counts too.

    So prediction walks its own copy of the nodes, the steps, built once on
    first use: the same indexes, but a leaf loops to itself (left its own
    index, never right), so a walk is the same branch-free step whether it
    has reached the leaf or not. Many walks go in lock step (a tree's rows
    in a batch, the trees of a single row), each step independent of the
    others' loads; every LEVELS steps the finished ones are dropped, without
    a branch either.

    A step is 8 bytes, not the stored node's 16: its threshold is a rank.
    For each feature the steps keep the sorted distinct thresholds the
    forest uses (its cuts); a row is coded once into ranks, the number of
    cuts below each value (NaN ranks 0, as NaN > t is false), and
    x > cut[k] exactly when rank(x) > k. The leaf values sit in their own
    array, at the leaf's index, and each row's values are summed in tree
    order, so the result is the same bits as the plain walk of the stored
    nodes (s_plain_one, also the fallback when the steps cannot be built).
*/
#include "forest.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint16_t feature; //  feature whose rank is compared; 0 on a leaf
    uint16_t rank;    //  go to left + 1 when the row's rank > rank; RANK_NEVER on a leaf
    uint32_t left;    //  left child; a leaf's own index
} s_step_t;

//  One allocation (forest_destroy frees it with free): this header, then
//  the arrays it points into.
struct forest_steps_s {
    const double *leaf;     //  n_nodes: a leaf's value at its index; 0 elsewhere
    const double *cut;      //  each feature's distinct thresholds, ascending
    const uint32_t *cut_at; //  p + 1: feature j's cuts are cut[cut_at[j] .. cut_at[j + 1])
    const s_step_t *step;   //  n_nodes steps
};

enum {
    WALKS = 128,          //  walks in lock step (rows of a block, trees of a row)
    LEVELS = 4,           //  steps between two drops of the finished walks
    RANK_NEVER = 0xFFFF,  //  above every rank: no row goes right
    ROW_STACK_MAX = 512,  //  features of a single row coded on the stack
};

static int s_cmp_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  The number of the m ascending cuts below x: x > cut is false for NaN,
//  so NaN ranks 0. Without branches on the data.
static uint32_t s_rank(const double *cut, uint32_t m, double x)
{
    if (m == 0)
        return 0;
    const double *b = cut;
    while (m > 1) {
        uint32_t half = m / 2;
        b = x > b[half - 1] ? b + half : b;
        m -= half;
    }
    return (uint32_t)(b - cut) + (x > *b);
}

//  Every feature's sorted distinct thresholds (its cuts) into cut, feature
//  after feature. On entry cut_at[j] is where feature j's thresholds may
//  start (the counts before it); on return where its cuts start, and
//  cut_at[p] their total, which is returned (SIZE_MAX: out of memory).
//  -0 and +0 compare equal and are one cut.
static size_t s_cuts(const forest_t *self, double *cut, uint32_t *cut_at)
{
    size_t p = self->n_features, total = 0;
    uint32_t *fill = malloc(p * sizeof *fill);
    if (!fill)
        return SIZE_MAX;
    for (size_t j = 0; j < p; j++)
        fill[j] = cut_at[j];
    for (size_t k = 0; k < self->n_nodes; k++) {
        const forest_node_t *nd = &self->nodes[k];
        if (nd->feature >= 0 && !isnan(nd->value))
            cut[fill[nd->feature]++] = nd->value;
    }
    for (size_t j = 0; j < p; j++) {
        double *c = cut + cut_at[j];
        size_t m = fill[j] - cut_at[j], d = 0;
        qsort(c, m, sizeof *c, s_cmp_fn);
        for (size_t i = 0; i < m; i++)
            if (d == 0 || c[i] != cut[total + d - 1])
                cut[total + d++] = c[i];
        cut_at[j] = (uint32_t)total;
        total += d;
    }
    cut_at[p] = (uint32_t)total;
    free(fill);
    return total;
}

//  The steps and leaf values of self's nodes, the cuts in st already.
static void s_fill(const forest_t *self, const forest_steps_t *st, double *leaf, s_step_t *step)
{
    for (size_t k = 0; k < self->n_nodes; k++) {
        const forest_node_t *nd = &self->nodes[k];
        if (nd->feature < 0) {
            leaf[k] = nd->value, step[k] = (s_step_t){0, RANK_NEVER, (uint32_t)k};
            continue;
        }
        const uint32_t *at = st->cut_at + nd->feature;
        //  a threshold is one of its feature's cuts: its rank is its index
        //  there; NaN is none of them, and no row is above it
        uint32_t r = isnan(nd->value) ? RANK_NEVER : s_rank(st->cut + at[0], at[1] - at[0], nd->value);
        leaf[k] = 0, step[k] = (s_step_t){(uint16_t)nd->feature, (uint16_t)r, nd->left};
    }
}

//  The steps of self, or NULL (out of memory, no features, or too many
//  features or cuts of one feature for 16 bits).
static forest_steps_t *s_steps_build(const forest_t *self)
{
    size_t p = self->n_features, n = self->n_nodes;
    uint32_t *cut_at = calloc(p + 1, sizeof *cut_at);
    double *cut = malloc((n ? n : 1) * sizeof *cut);
    if (!cut_at || !cut) {
        free(cut_at), free(cut);
        return NULL;
    }
    for (size_t k = 0; k < n; k++) //  counts, then where each feature starts
        cut_at[self->nodes[k].feature + 1] += self->nodes[k].feature >= 0;
    for (size_t j = 0; j < p; j++)
        cut_at[j + 1] += cut_at[j];
    size_t d = s_cuts(self, cut, cut_at);
    int fits = d != SIZE_MAX;
    for (size_t j = 0; fits && j < p; j++)
        fits = cut_at[j + 1] - cut_at[j] < RANK_NEVER;
    forest_steps_t *st = NULL;
    size_t head = sizeof *st, bytes = head + (n + d) * sizeof(double) + n * sizeof(s_step_t) +
                                      (p + 1) * sizeof(uint32_t);
    if (fits && (st = malloc(bytes))) {
        double *leaf = (double *)((char *)st + head), *c = leaf + n;
        s_step_t *step = (s_step_t *)(c + d);
        uint32_t *at = (uint32_t *)(step + n);
        memcpy(c, cut, d * sizeof *c);
        memcpy(at, cut_at, (p + 1) * sizeof *at);
        *st = (forest_steps_t){leaf, c, at, step};
        s_fill(self, st, leaf, step);
    }
    free(cut_at);
    free(cut);
    return st;
}

//  The steps of self, built on the first call (NULL when they cannot be
//  built: the walks then take the plain path). Several threads may race to
//  build: one copy wins, the others are freed.
static const forest_steps_t *s_steps(const forest_t *self)
{
    forest_t *f = (forest_t *)self; //  only the cache is written
    forest_steps_t *st = atomic_load(&f->steps);
    if (st || self->n_features == 0 || self->n_features > RANK_NEVER)
        return st;
    if (!(st = s_steps_build(self)))
        return NULL;
    forest_steps_t *none = NULL;
    if (!atomic_compare_exchange_strong(&f->steps, &none, st)) {
        free(st);
        st = none;
    }
    return st;
}

//  m rows of X (m x p) coded into ranks R (m x p). Feature by feature:
//  every row's search of one feature takes the same number of steps, so
//  the loop is predicted and the rows' searches overlap.
static void s_code(const forest_steps_t *st, size_t p, const double *X, size_t m, uint16_t *R)
{
    for (size_t j = 0; j < p; j++) {
        const double *cut = st->cut + st->cut_at[j];
        uint32_t n_cuts = st->cut_at[j + 1] - st->cut_at[j];
        for (size_t i = 0; i < m; i++)
            R[i * p + j] = (uint16_t)s_rank(cut, n_cuts, X[i * p + j]);
    }
}

//  The stored nodes walked one row, one tree at a time: what every other
//  path must equal, bit for bit.
static double s_plain_one(const forest_t *self, const double *x)
{
    double sum = 0;
    const forest_node_t *nodes = self->nodes;
    for (size_t t = 0; t < self->n_trees; t++) {
        const forest_node_t *nd = &nodes[self->roots[t]];
        while (nd->feature >= 0)
            nd = &nodes[nd->left + (x[nd->feature] > nd->value)];
        sum += nd->value;
    }
    return sum / (double)self->n_trees;
}

//  Walks live (<= WALKS) walks to their leaves: walk i is at node cur[i]
//  with coded row xs[i]; its leaf's index goes to leaf[slot[i]].
static void s_walk(const s_step_t *st, uint32_t *cur, const uint16_t **xs, uint32_t *slot,
                   size_t live, uint32_t *leaf)
{
    while (live) {
        for (int l = 0; l < LEVELS; l++)
            for (size_t i = 0; i < live; i++) {
                const s_step_t *s = &st[cur[i]];
                cur[i] = s->left + (xs[i][s->feature] > s->rank);
            }
        //  every walk writes where it is; the finished ones (at a node that
        //  loops to itself) are not kept, so their last write is their leaf
        size_t kept = 0;
        for (size_t i = 0; i < live; i++) {
            uint32_t c = cur[i], s = slot[i];
            const uint16_t *x = xs[i];
            leaf[s] = c;
            cur[kept] = c, xs[kept] = x, slot[kept] = s;
            kept += st[c].left != c;
        }
        live = kept;
    }
}

double forest_predict_one(const forest_t *self, const double *x)
{
    const forest_steps_t *st = s_steps(self);
    size_t p = self->n_features;
    uint16_t on_stack[ROW_STACK_MAX];
    uint16_t *r = !st ? NULL : p <= ROW_STACK_MAX ? on_stack : malloc(p * sizeof *r);
    if (!r)
        return s_plain_one(self, x);
    s_code(st, p, x, 1, r);
    //  the trees of one row in lock step, WALKS at a time
    uint32_t cur[WALKS], slot[WALKS], leaf[WALKS];
    const uint16_t *xs[WALKS];
    double sum = 0;
    for (size_t t0 = 0; t0 < self->n_trees; t0 += WALKS) {
        size_t k = self->n_trees - t0 < WALKS ? self->n_trees - t0 : WALKS;
        for (size_t i = 0; i < k; i++)
            cur[i] = self->roots[t0 + i], xs[i] = r, slot[i] = (uint32_t)i;
        s_walk(st->step, cur, xs, slot, k, leaf);
        for (size_t i = 0; i < k; i++) //  in tree order: the plain walk's sum
            sum += st->leaf[leaf[i]];
    }
    if (r != on_stack)
        free(r);
    return sum / (double)self->n_trees;
}

//  Rows X[at..at+m) into their sums over the trees in acc, tree by tree so
//  that a large tree is used by many rows while it is in cache; each tree
//  walked by WALKS rows in lock step; a row's leaf values summed in tree
//  order. R holds the m coded rows.
static void s_block_sums(const forest_t *self, const forest_steps_t *st, const uint16_t *R,
                         size_t m, double *acc)
{
    size_t p = self->n_features;
    uint32_t cur[WALKS], slot[WALKS], leaf[WALKS];
    const uint16_t *xs[WALKS];
    for (size_t i = 0; i < m; i++)
        acc[i] = 0;
    for (size_t t = 0; t < self->n_trees; t++)
        for (size_t g = 0; g < m; g += WALKS) {
            size_t k = m - g < WALKS ? m - g : WALKS;
            for (size_t i = 0; i < k; i++)
                cur[i] = self->roots[t], xs[i] = R + (g + i) * p, slot[i] = (uint32_t)i;
            s_walk(st->step, cur, xs, slot, k, leaf);
            for (size_t i = 0; i < k; i++)
                acc[g + i] += st->leaf[leaf[i]];
        }
}

//  n rows, BLOCK_ROWS at a time, each block's rows coded once.
static void s_predict_rows(const forest_t *self, const double *X, size_t n, double *proba)
{
    enum { BLOCK_ROWS = 4096 };
    const forest_steps_t *st = s_steps(self);
    size_t p = self->n_features, rows = n < BLOCK_ROWS ? n : BLOCK_ROWS;
    uint16_t *R = st && n ? malloc(rows * p * sizeof *R) : NULL;
    if (!R) {
        for (size_t i = 0; i < n; i++)
            proba[i] = s_plain_one(self, X + i * p);
        return;
    }
    for (size_t at = 0; at < n; at += BLOCK_ROWS) {
        size_t m = n - at < BLOCK_ROWS ? n - at : BLOCK_ROWS;
        s_code(st, p, X + at * p, m, R);
        s_block_sums(self, st, R, m, proba + at);
        for (size_t i = 0; i < m; i++)
            proba[at + i] /= (double)self->n_trees;
    }
    free(R);
}

void forest_predict_block(const forest_t *self, const double *X, size_t n, double *proba)
{
    forest_predict(self, X, n, proba);
}

typedef struct {
    const forest_t *forest; //  the model
    const double *X;        //  first row of this share
    size_t n;               //  rows in this share
    double *proba;          //  where they go
} s_predict_share_t;

static void *s_predict_fn(void *arg)
{
    s_predict_share_t *sh = arg;
    s_predict_rows(sh->forest, sh->X, sh->n, sh->proba);
    return NULL;
}

void forest_predict(const forest_t *self, const double *X, size_t n, double *proba)
{
    //  Large batches are shared out over the CPUs in contiguous runs of
    //  rows; each row is computed exactly as alone, so the result does not
    //  depend on the split.
    enum { PARALLEL_MIN_ROWS = 16384, MAX_SHARES = 16 };
    //  (sysconf reads /sys: a few microseconds, so not for small batches)
    int nt = n < PARALLEL_MIN_ROWS ? 1 : forest_default_threads();
    nt = nt > MAX_SHARES ? MAX_SHARES : nt;
    if (nt < 2) {
        s_predict_rows(self, X, n, proba);
        return;
    }
    s_steps(self); //  built once here, before the threads share it
    s_predict_share_t shares[MAX_SHARES];
    pthread_t th[MAX_SHARES];
    int started[MAX_SHARES] = {0};
    size_t per = (n + (size_t)nt - 1) / (size_t)nt, p = self->n_features;
    for (int i = 0; i < nt; i++) {
        size_t lo = (size_t)i * per, hi = lo + per < n ? lo + per : n;
        shares[i] = (s_predict_share_t){self, X + lo * p, hi > lo ? hi - lo : 0, proba + lo};
        //  share 0 runs here; a share whose thread cannot start runs here too
        if (i > 0)
            started[i] = pthread_create(&th[i], NULL, s_predict_fn, &shares[i]) == 0;
    }
    s_predict_fn(&shares[0]);
    for (int i = 1; i < nt; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            s_predict_fn(&shares[i]);
    }
}

size_t forest_outputs(const forest_t *self)
{
    return self->task == TASK_MULTICLASS ? self->n_classes : 1;
}

void forest_predict_outputs(const forest_t *self, const double *X, size_t n, double *out)
{
    if (self->task != TASK_MULTICLASS) { //  a mean of leaf values either way
        forest_predict(self, X, n, out);
        return;
    }
    size_t k = self->n_classes, p = self->n_features;
    for (size_t i = 0; i < n; i++) {
        double *o = out + i * k;
        for (size_t c = 0; c < k; c++)
            o[c] = 0;
        for (size_t t = 0; t < self->n_trees; t++) {
            const forest_node_t *nd = &self->nodes[self->roots[t]];
            while (nd->feature >= 0)
                nd = &self->nodes[nd->left + (X[i * p + nd->feature] > nd->value)];
            const double *v = self->leaf_values + (size_t)nd->left * k;
            for (size_t c = 0; c < k; c++)
                o[c] += v[c];
        }
        for (size_t c = 0; c < k; c++)
            o[c] /= (double)self->n_trees;
    }
}
