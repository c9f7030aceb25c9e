/*  gbdt_predict.c: a gbdt's predictions (see gbdt.h); fitting is gbdt.c.

    Where the time went (bench_infer, the serving path's 100 passengers, 100
    trees of up to 31 leaves): the plain walk (gbdt_leaf_of) tests each node
    for a leaf, a NaN and a level set before it compares, and which child it
    takes is a branch the CPU mispredicts about one time in two; each node's
    load also waits for the one before.

    So prediction walks its own copy of the nodes (a "walk", built once on
    first use, as forest_predict.c does for forests), where every node is
    the same 8-byte step: go to left + 1 when the coded row's slot holds
    more than rank. A row is coded once:
    - a numeric feature j takes two slots, both its rank (the number of the
      feature's distinct thresholds below the value, so x <= cut[k] exactly
      when rank <= k): slot 2j codes NaN above every rank (NaN goes right),
      slot 2j + 1 codes it 0 (NaN goes left); a split reads the slot of its
      missing_left.
    - each categorical split has a slot of its own, 1 when the row goes
      right: its level set, or missing_left for NaN and unseen levels, as
      the plain walk decides (the same function, s_goes_left).
    A leaf is a step to itself that never goes right, so a walk that has
    ended takes the same step as the others and each tree is walked for
    its height, with no branch on the data. Many walks go in lock step (a
    block's rows through one tree, or a single row's trees), each step
    independent of the others' loads. Each row's leaf values are added in
    tree order, so the sums are the same bits as the plain walk's (also the
    fallback when no walk can be built: out of memory, too many slots).

    bench_infer --batch-body (100 passengers, validate + predict, median):
    see bench/README.md, "GBDT batches".
*/
#include "gbdt.h"
#include "bins.h"
#include "cuts.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t left; //  left child; a leaf's own index
    uint16_t slot; //  the coded row's slot compared
    uint16_t rank; //  go to left + 1 when the slot's code > rank; RANK_NEVER on a leaf
} s_step_t;

//  One allocation (gbdt_destroy frees it with free): this header, then
//  the arrays it points into. A header alone (no steps) says that the walk
//  cannot be built, so each prediction does not try again.
struct gbdt_walk_s {
    size_t n_slots;         //  a coded row's codes: 2 per feature, then 1 per categorical split
    const s_step_t *step;   //  n_nodes steps
    const double *leaf;     //  n_nodes: a leaf's value at its index; 0 elsewhere
    const uint32_t *height; //  n_trees: steps from a tree's root to its deepest leaf
    const double *cut;      //  each feature's distinct thresholds, ascending
    const uint32_t *cut_at; //  p + 1: feature j's cuts are cut[cut_at[j] .. cut_at[j + 1])
    const uint32_t *cat;    //  the node of each categorical split's slot
};

enum {
    RANK_NEVER = 0xFFFF, //  above every rank: no row goes right
    WALKS = 128,         //  rows of a block walked in lock step
    ROW_WALKS = 128,     //  trees of a single row walked in lock step
    ROW_SLOTS_MAX = 512, //  slots of a single row coded on the stack
    BLOCK_STACK_CODES = 4096, //  codes of a block's rows on the stack (8 KB), at most
    BLOCK_MIN_ROWS = 4,  //  fewer rows go one at a time, their trees in lock step
    HEIGHT_MAX = 256,    //  a taller tree (never trained: a stored one) takes the plain walk,
                         //  as every row would take all its steps
};

//  --------------------------------------------------------------------------
//  The plain walk: the reference every other path equals

static double s_sigmoid(double r)
{
    return 1 / (1 + exp(-r));
}

//  Whether a row with value v goes left at split nd.
static int s_goes_left(const gbdt_t *self, const gbdt_node_t *nd, double v)
{
    if (isnan(v))
        return nd->missing_left;
    if (!nd->categorical)
        return v <= nd->value;
    const uint64_t *set = self->cat_sets + 4 * (size_t)nd->cat_set;
    int known = v >= 0 && v < BINS_MAX_LEVEL && v == floor(v);
    //  a level unseen in training is in no set: it follows missing values
    return known ? (int)((set[(int)v / 64] >> ((int)v % 64)) & 1) : nd->missing_left;
}

const gbdt_node_t *gbdt_leaf_of(const gbdt_t *self, uint32_t root, const double *x)
{
    const gbdt_node_t *nd = self->nodes + root;
    while (nd->feature >= 0)
        nd = self->nodes + nd->left + !s_goes_left(self, nd, x[nd->feature]);
    return nd;
}

static void s_plain_raw(const gbdt_t *self, const double *x, double *raw)
{
    size_t K = self->n_outputs;
    memcpy(raw, self->baseline, K * sizeof *raw);
    for (size_t t = 0; t < self->n_trees; t++)
        raw[t % K] += gbdt_leaf_of(self, self->roots[t], x)->value;
}

//  --------------------------------------------------------------------------
//  Building the walk

//  Every feature's sorted distinct numeric thresholds into cut, feature
//  after feature, and where each feature's start into cut_at (p + 1).
//  Returns their total, or SIZE_MAX when one feature has RANK_NEVER or
//  more (its ranks would not fit 16 bits). One pass to count, one to
//  place: O(nodes + p), whatever p.
static size_t s_cuts(const gbdt_t *self, double *cut, uint32_t *cut_at)
{
    size_t p = self->n_features, total = 0;
    memset(cut_at, 0, (p + 1) * sizeof *cut_at);
    for (size_t k = 0; k < self->n_nodes; k++) {
        const gbdt_node_t *nd = &self->nodes[k];
        cut_at[nd->feature + 1] += nd->feature >= 0 && !nd->categorical;
    }
    for (size_t j = 0; j < p; j++) //  where each feature's thresholds go
        cut_at[j + 1] += cut_at[j];
    for (size_t k = 0; k < self->n_nodes; k++) { //  cut_at[j] moves to feature j's end
        const gbdt_node_t *nd = &self->nodes[k];
        if (nd->feature >= 0 && !nd->categorical)
            cut[cut_at[nd->feature]++] = nd->value;
    }
    for (size_t j = 0, start = 0; j < p; j++) {
        size_t end = cut_at[j], d = cuts_sort_unique(cut + start, end - start, cut + total);
        if (d >= RANK_NEVER)
            return SIZE_MAX;
        cut_at[j] = (uint32_t)total;
        total += d;
        start = end;
    }
    cut_at[p] = (uint32_t)total;
    return total;
}

//  Steps, leaf values and tree heights from the stored nodes. Children
//  come after their parents, so heights are filled from the last node up.
static void s_fill(const gbdt_t *self, struct gbdt_walk_s *w, s_step_t *step, double *leaf,
                   uint32_t *height, uint32_t *cat)
{
    size_t p = self->n_features, n_cat = 0;
    uint32_t *h = (uint32_t *)leaf; //  node heights, before the leaf values overwrite them
    for (size_t k = self->n_nodes; k-- > 0;) {
        const gbdt_node_t *nd = &self->nodes[k];
        uint32_t a = nd->feature < 0 ? 0 : h[nd->left];
        uint32_t b = nd->feature < 0 ? 0 : h[nd->left + 1];
        h[k] = nd->feature < 0 ? 0 : 1 + (a > b ? a : b);
    }
    for (size_t t = 0; t < self->n_trees; t++)
        height[t] = h[self->roots[t]];
    for (size_t k = 0; k < self->n_nodes; k++) {
        const gbdt_node_t *nd = &self->nodes[k];
        size_t f = (size_t)nd->feature;
        leaf[k] = nd->feature < 0 ? nd->value : 0;
        if (nd->feature < 0) {
            step[k] = (s_step_t){(uint32_t)k, 0, RANK_NEVER};
        } else if (nd->categorical) {
            cat[n_cat] = (uint32_t)k;
            step[k] = (s_step_t){nd->left, (uint16_t)(2 * p + n_cat++), 0};
        } else {
            const double *c = w->cut + w->cut_at[f];
            uint16_t r = (uint16_t)cuts_rank(c, w->cut_at[f + 1] - w->cut_at[f], nd->value);
            step[k] = (s_step_t){nd->left, (uint16_t)(2 * f + nd->missing_left), r};
        }
    }
}

//  The walk of self, or NULL (out of memory, too many slots or cuts of one
//  feature for 16 bits, or a tree taller than HEIGHT_MAX).
static struct gbdt_walk_s *s_walk_build(const gbdt_t *self)
{
    size_t p = self->n_features, n = self->n_nodes, n_cat = 0;
    for (size_t k = 0; k < n; k++)
        n_cat += self->nodes[k].feature >= 0 && self->nodes[k].categorical;
    if (2 * p + n_cat > RANK_NEVER)
        return NULL;
    double *cut = malloc(n * sizeof *cut);
    uint32_t *cut_at = malloc((p + 1) * sizeof *cut_at);
    size_t d = cut && cut_at ? s_cuts(self, cut, cut_at) : SIZE_MAX;
    struct gbdt_walk_s *w = NULL;
    size_t bytes = sizeof *w + (n + d) * sizeof(double) + n * sizeof(s_step_t) +
                   (self->n_trees + p + 1 + n_cat) * sizeof(uint32_t);
    if (d != SIZE_MAX && (w = malloc(bytes))) {
        double *leaf = (double *)(w + 1), *c = leaf + n;
        s_step_t *step = (s_step_t *)(c + d);
        uint32_t *height = (uint32_t *)(step + n), *at = height + self->n_trees, *cat = at + p + 1;
        memcpy(c, cut, d * sizeof *c);
        memcpy(at, cut_at, (p + 1) * sizeof *at);
        *w = (struct gbdt_walk_s){2 * p + n_cat, step, leaf, height, c, at, cat};
        s_fill(self, w, step, leaf, height, cat);
        for (size_t t = 0; w && t < self->n_trees; t++)
            if (height[t] > HEIGHT_MAX) {
                free(w);
                w = NULL;
            }
    }
    free(cut);
    free(cut_at);
    return w;
}

//  The walk of self, built on the first call (NULL when it cannot be
//  built: predictions then take the plain walk). Several threads may race
//  to build: one copy wins, the others are freed.
static const struct gbdt_walk_s *s_walk(const gbdt_t *self)
{
    gbdt_t *g = (gbdt_t *)self; //  only the cache is written
    struct gbdt_walk_s *w = atomic_load(&g->walk);
    if (!w) {
        //  a failure is kept too (a header with no steps): a model whose
        //  walk cannot be built would otherwise rebuild it on every row
        if (!(w = s_walk_build(self)) && !(w = calloc(1, sizeof *w)))
            return NULL;
        struct gbdt_walk_s *none = NULL;
        if (!atomic_compare_exchange_strong(&g->walk, &none, w)) {
            free(w);
            w = none;
        }
    }
    return w->step ? w : NULL;
}

//  --------------------------------------------------------------------------
//  Coding rows (ranks: cuts.h)

//  m rows of X (m x p) coded into R (m x n_slots), feature by feature, so
//  every row's search of one feature takes the same number of steps.
static void s_code(const gbdt_t *self, const struct gbdt_walk_s *w, const double *X, size_t m,
                   uint16_t *R)
{
    size_t p = self->n_features, S = w->n_slots;
    for (size_t j = 0; j < p; j++) {
        const double *cut = w->cut + w->cut_at[j];
        uint32_t n_cuts = w->cut_at[j + 1] - w->cut_at[j];
        for (size_t i = 0; i < m; i++) {
            double x = X[i * p + j];
            uint16_t r = (uint16_t)cuts_rank(cut, n_cuts, x);
            R[i * S + 2 * j] = isnan(x) ? RANK_NEVER : r;
            R[i * S + 2 * j + 1] = r;
        }
    }
    for (size_t c = 2 * p; c < S; c++) {
        const gbdt_node_t *nd = &self->nodes[w->cat[c - 2 * p]];
        for (size_t i = 0; i < m; i++)
            R[i * S + c] = !s_goes_left(self, nd, X[i * p + nd->feature]);
    }
}

//  --------------------------------------------------------------------------
//  Walking coded rows

//  The m coded rows of R through tree t in lock step, each row's leaf value
//  added to its output t % K of out (m x K).
static void s_tree_rows(const gbdt_t *self, const struct gbdt_walk_s *w, size_t t,
                        const uint16_t *R, size_t m, double *out)
{
    uint32_t at[WALKS], root = self->roots[t];
    size_t S = w->n_slots, K = self->n_outputs;
    for (size_t i = 0; i < m; i++)
        at[i] = root;
    for (uint32_t h = 0; h < w->height[t]; h++)
        for (size_t i = 0; i < m; i++) {
            s_step_t s = w->step[at[i]];
            at[i] = s.left + (R[i * S + s.slot] > s.rank);
        }
    for (size_t i = 0; i < m; i++)
        out[i * K + t % K] += w->leaf[at[i]];
}

//  One coded row r through the trees, ROW_WALKS of them in lock step, the
//  leaf values added to raw in tree order.
static void s_row_trees(const gbdt_t *self, const struct gbdt_walk_s *w, const uint16_t *r,
                        double *raw)
{
    size_t K = self->n_outputs;
    uint32_t at[ROW_WALKS];
    memcpy(raw, self->baseline, K * sizeof *raw);
    for (size_t t0 = 0; t0 < self->n_trees; t0 += ROW_WALKS) {
        size_t m = self->n_trees - t0 < ROW_WALKS ? self->n_trees - t0 : ROW_WALKS;
        uint32_t steps = 0;
        for (size_t i = 0; i < m; i++) {
            at[i] = self->roots[t0 + i];
            steps = w->height[t0 + i] > steps ? w->height[t0 + i] : steps;
        }
        for (uint32_t h = 0; h < steps; h++)
            for (size_t i = 0; i < m; i++) {
                s_step_t s = w->step[at[i]];
                at[i] = s.left + (r[s.slot] > s.rank);
            }
        for (size_t i = 0; i < m; i++)
            raw[(t0 + i) % K] += w->leaf[at[i]];
    }
}

//  --------------------------------------------------------------------------
//  Predictions

void gbdt_predict_raw(const gbdt_t *self, const double *x, double *raw)
{
    const struct gbdt_walk_s *w = s_walk(self);
    uint16_t stack[ROW_SLOTS_MAX];
    uint16_t *r = !w ? NULL : w->n_slots <= ROW_SLOTS_MAX ? stack
                                                            : malloc(w->n_slots * sizeof *r);
    if (!r) {
        s_plain_raw(self, x, raw);
        return;
    }
    s_code(self, w, x, 1, r);
    s_row_trees(self, w, r, raw);
    if (r != stack)
        free(r);
}

//  raw values (n_outputs of them) into the task's answer, in place.
static void s_link(const gbdt_t *self, double *v)
{
    size_t K = self->n_outputs;
    if (self->task == TASK_BINARY) {
        v[0] = s_sigmoid(v[0]);
    } else if (self->task == TASK_MULTICLASS) {
        double top = v[0], sum = 0;
        for (size_t c = 1; c < K; c++)
            top = v[c] > top ? v[c] : top;
        for (size_t c = 0; c < K; c++)
            sum += (v[c] = exp(v[c] - top));
        for (size_t c = 0; c < K; c++)
            v[c] /= sum;
    }
}

void gbdt_predict_row(const gbdt_t *self, const double *x, double *out)
{
    gbdt_predict_raw(self, x, out);
    s_link(self, out);
}

//  n rows (at least one), WALKS at a time: each block coded once, then
//  walked tree after tree, so every row's sum is in tree order.
static void s_block_rows(const gbdt_t *self, const struct gbdt_walk_s *w, const double *X,
                         size_t n, uint16_t *R, double *out)
{
    size_t K = self->n_outputs, p = self->n_features;
    for (size_t i0 = 0; i0 < n; i0 += WALKS) {
        size_t m = n - i0 < WALKS ? n - i0 : WALKS;
        s_code(self, w, X + i0 * p, m, R);
        for (size_t i = 0; i < m; i++)
            memcpy(out + (i0 + i) * K, self->baseline, K * sizeof *out);
        for (size_t t = 0; t < self->n_trees; t++)
            s_tree_rows(self, w, t, R, m, out + i0 * K);
    }
}

void gbdt_predict_block(const gbdt_t *self, const double *X, size_t n, double *out)
{
    size_t K = self->n_outputs, p = self->n_features;
    const struct gbdt_walk_s *w = n >= BLOCK_MIN_ROWS ? s_walk(self) : NULL;
    //  a block of coded rows on the stack when it fits (the Titanic model's
    //  32 slots do): no allocation a request
    uint16_t on_stack[BLOCK_STACK_CODES];
    size_t codes = w ? WALKS * w->n_slots : 0;
    uint16_t *R = !w ? NULL : codes <= BLOCK_STACK_CODES ? on_stack : malloc(codes * sizeof *R);
    if (R)
        s_block_rows(self, w, X, n, R, out);
    else
        for (size_t i = 0; i < n; i++)
            gbdt_predict_raw(self, X + i * p, out + i * K);
    if (R != on_stack)
        free(R);
    for (size_t i = 0; i < n; i++)
        s_link(self, out + i * K);
}

const char *gbdt_walk_name(const gbdt_t *self)
{
    return s_walk(self) ? "steps" : "plain";
}
