/*  forest_predict.c: a forest's predictions (see forest.h); the training
    side is forest.c.

    Where the time went (bench_infer, the serving path's 100 rows, 100 trees
    of mean leaf depth 10 and up to 25): a walk that stops each row at its
    leaf mispredicts about one branch in two (is this a leaf? which child?),
    about 5 ns a node, and one node load waits for the one before.

    So prediction walks its own copy of the nodes, the steps, built once on
    first use: the same indexes, but a leaf loops to itself (threshold
    +inf, left its own index), so a walk is the same branch-free step
    whether it has reached the leaf or not. Many walks go in lock step
    (a tree's rows in a batch, the trees of a single row), each step
    independent of the others' loads; every LEVELS steps the finished ones
    are dropped, without a branch either. A leaf's value is read from the
    stored nodes at the end, and each row's values are summed in tree
    order, so the result is the same bits as the plain walk of the stored
    nodes (s_plain_one, also the fallback when the steps cannot be built).
*/
#include "forest.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>

struct forest_step_s {
    double thr;       //  go to left + 1 when x[feature] > thr; +inf on a leaf
    uint32_t left;    //  left child; a leaf's own index
    uint32_t feature; //  feature compared; 0 on a leaf
};

enum {
    WALKS = 128, //  walks in lock step (rows of a block, trees of a row)
    LEVELS = 4,  //  steps between two drops of the finished walks
};

//  The steps of self, built on the first call (NULL when out of memory or
//  for a forest of no features, whose walks take the plain path). Several
//  threads may race to build: one copy wins, the others are freed.
static const forest_step_t *s_steps(const forest_t *self)
{
    forest_t *f = (forest_t *)self; //  only the cache is written
    forest_step_t *st = atomic_load(&f->steps);
    if (st || self->n_features == 0)
        return st;
    st = malloc(self->n_nodes * sizeof *st);
    if (!st)
        return NULL;
    for (size_t k = 0; k < self->n_nodes; k++) {
        const forest_node_t *nd = &self->nodes[k];
        st[k] = nd->feature >= 0 ? (forest_step_t){nd->value, nd->left, (uint32_t)nd->feature}
                                 : (forest_step_t){INFINITY, (uint32_t)k, 0};
    }
    forest_step_t *none = NULL;
    if (!atomic_compare_exchange_strong(&f->steps, &none, st)) {
        free(st);
        st = none;
    }
    return st;
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
//  with features xs[i]; its leaf's index goes to leaf[slot[i]].
static void s_walk(const forest_step_t *st, uint32_t *cur, const double **xs, uint32_t *slot,
                   size_t live, uint32_t *leaf)
{
    while (live) {
        for (int l = 0; l < LEVELS; l++)
            for (size_t i = 0; i < live; i++) {
                const forest_step_t *s = &st[cur[i]];
                cur[i] = s->left + (xs[i][s->feature] > s->thr);
            }
        //  every walk writes where it is; the finished ones are not kept,
        //  so their last write is their leaf
        size_t kept = 0;
        for (size_t i = 0; i < live; i++) {
            uint32_t c = cur[i], s = slot[i];
            const double *x = xs[i];
            leaf[s] = c;
            cur[kept] = c, xs[kept] = x, slot[kept] = s;
            kept += st[c].thr != INFINITY;
        }
        live = kept;
    }
}

double forest_predict_one(const forest_t *self, const double *x)
{
    const forest_step_t *st = s_steps(self);
    if (!st)
        return s_plain_one(self, x);
    //  the trees of one row in lock step, WALKS at a time
    uint32_t cur[WALKS], slot[WALKS], leaf[WALKS];
    const double *xs[WALKS];
    double sum = 0;
    for (size_t t0 = 0; t0 < self->n_trees; t0 += WALKS) {
        size_t k = self->n_trees - t0 < WALKS ? self->n_trees - t0 : WALKS;
        for (size_t i = 0; i < k; i++)
            cur[i] = self->roots[t0 + i], xs[i] = x, slot[i] = (uint32_t)i;
        s_walk(st, cur, xs, slot, k, leaf);
        for (size_t i = 0; i < k; i++) //  in tree order: the plain walk's sum
            sum += self->nodes[leaf[i]].value;
    }
    return sum / (double)self->n_trees;
}

//  n rows, BLOCK_ROWS at a time, tree by tree over the block so that a
//  large tree is used by many rows while it is in cache; each tree walked
//  by WALKS of the block's rows in lock step; a row's leaf values summed
//  in tree order.
static void s_predict_rows(const forest_t *self, const double *X, size_t n, double *proba)
{
    enum { BLOCK_ROWS = 4096 };
    const forest_step_t *st = s_steps(self);
    size_t p = self->n_features;
    if (!st) {
        for (size_t i = 0; i < n; i++)
            proba[i] = s_plain_one(self, X + i * p);
        return;
    }
    uint32_t cur[WALKS], slot[WALKS], leaf[WALKS];
    const double *xs[WALKS];
    for (size_t at = 0; at < n; at += BLOCK_ROWS) {
        size_t m = n - at < BLOCK_ROWS ? n - at : BLOCK_ROWS;
        double *acc = proba + at;
        for (size_t i = 0; i < m; i++)
            acc[i] = 0;
        for (size_t t = 0; t < self->n_trees; t++)
            for (size_t g = 0; g < m; g += WALKS) {
                size_t k = m - g < WALKS ? m - g : WALKS;
                for (size_t i = 0; i < k; i++)
                    cur[i] = self->roots[t], xs[i] = X + (at + g + i) * p, slot[i] = (uint32_t)i;
                s_walk(st, cur, xs, slot, k, leaf);
                for (size_t i = 0; i < k; i++)
                    acc[g + i] += self->nodes[leaf[i]].value;
            }
        for (size_t i = 0; i < m; i++)
            acc[i] /= (double)self->n_trees;
    }
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
