/*  forest_predict.c: a forest's predictions (see forest.h); the training
    side is forest.c.

    Where the time went (bench_infer, the serving path's 100 passengers,
    100 trees of about 300 nodes, mean leaf depth 10 and up to 25): a walk
    that stops each row at its leaf mispredicts about one branch in two (is
    this a leaf? which child?), about 5 ns a node, and one node load waits
    for the one before. Under load (the gateway and other workers on the
    same cores) the walk's data is also evicted from L2 between requests,
    so its size counts too.

    So prediction walks its own copy of the nodes, built once on first use.
    A threshold there is a rank: for each feature the copy keeps the sorted
    distinct thresholds the forest uses (its cuts); a row is coded once into
    ranks, the number of cuts below each value (NaN ranks 0, as NaN > t is
    false), and x > cut[k] exactly when rank(x) > k. Many walks go in lock
    step (a tree's rows in a batch, the trees of a single row), each step
    independent of the others' loads, and the finished ones are dropped
    without a branch. Each row's leaf values are summed in tree order, so
    the result is the same bits as the plain walk of the stored nodes
    (s_plain_one, also the fallback when no copy can be built).

    Two copies, the first that fits:
    - octos (up to 16 features, a CPU with SSSE3): a step takes a walk
      three levels down. An octo holds the split of its head and the six
      under it (7 slots, breadth first) and the 8 places below; the step
      gathers the 7 slots' features from the coded row (two 16-byte halves
      of 16-bit ranks) with byte shuffles, compares them with one 16-bit
      comparison, and the mask of the comparisons indexes a 128-entry table
      of outcomes. About 3.4 steps a walk instead of 10.8, and 24
      instructions a step instead of 16 per level (the step's slots are
      compared whether the walk passes them or not). A leaf is an index
      into the forest's distinct leaf values (49 for the Titanic forest's
      15,302 leaves), so the last load of a walk hits the cache. Each
      distinct value has an octo of its own that loops to itself, so a
      walk that has ended takes the same step as the others, and the
      finished walks are dropped every OCTO_LEVELS steps, in a pass of its
      own: a store whose address depends on a walk (the drop's) would hold
      back the next walk's loads, and the walks would go one at a time
      (measured: the drop fused into the step was slower than the 8-byte
      steps).
    - steps: 8 bytes a node (feature, rank, left child), a leaf looping to
      itself so that a walk is the same step whether it has reached its
      leaf or not; the finished ones are dropped every LEVELS steps.

    bench_infer --batch-body (100 passengers, validate + predict, medians
    of 5 alternating runs): steps 317 us, octos 197; with 4 MB of other
    data read between passes (--evict 4096) 331 against 198 (bench/README.md,
    "Three levels a step").
*/
#include "forest.h"
#include "cuts.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OCTO_SIMD 1 //  the three-level step needs SSSE3's byte shuffle
#endif

typedef struct {
    uint16_t feature; //  feature whose rank is compared; 0 on a leaf
    uint16_t rank;    //  go to left + 1 when the row's rank > rank; RANK_NEVER on a leaf
    uint32_t left;    //  left child; a leaf's own index
} s_step_t;

//  Three levels of a tree in one step: the split of its head and the
//  splits under it, in breadth-first slots (0; 1, 2; 3 .. 6), and the
//  eight places a row can be three levels down. A slot holding a leaf
//  never goes right and its slots below hold the same leaf, so every
//  outcome under it is that leaf.
typedef struct {
    uint8_t shuffle[16]; //  slot k's feature f as the bytes 2f, 2f + 1 of the coded row,
                         //  bit 7 set for the row's second half (f >= 8); slot 7 unused
    uint16_t rank[8];    //  each slot's threshold rank ^ 0x8000 (OCTO_NEVER: goes left)
    uint32_t next[8];    //  by outcome: the next octo (a leaf's: octo_leaf_at + its value's index)
} s_octo_t;

//  One allocation (forest_destroy frees it with free): this header, then
//  the arrays it points into. A header alone, all NULL, says that the
//  steps cannot be built (so each prediction does not try again).
struct forest_steps_s {
    const double *leaf;     //  n_nodes: a leaf's value at its index; 0 elsewhere (no octos)
    const double *cut;      //  each feature's distinct thresholds, ascending
    const uint32_t *cut_at; //  p + 1: feature j's cuts are cut[cut_at[j] .. cut_at[j + 1])
    const s_step_t *step;   //  n_nodes steps (NULL with octos: those are walked instead)
    //  the octos, when the forest fits them (NULL otherwise):
    const s_octo_t *octo;       //  each tree's octos, breadth first, tree after tree
    const uint32_t *octo_root;  //  n_trees: a tree's first octo (a leaf's, for a leaf)
    uint32_t octo_leaf_at;      //  the first leaf's octo: one per distinct leaf value, where
                                //  every outcome is itself (a walk there has ended)
    const double *octo_leaf;    //  the leaves' distinct values (a few dozen for a classifier's
                                //  fractions: they stay in cache, where one per leaf would not)
    const uint8_t *octo_pick;   //  128: the outcome of each mask of slot comparisons
};

enum {
    WALKS = 128,          //  walks in lock step (rows of a block, trees of a row)
    LEVELS = 4,           //  steps between two drops of the finished walks
    RANK_NEVER = 0xFFFF,  //  above every rank: no row goes right
    ROW_STACK_MAX = 512,  //  features of a single row coded on the stack
    ROWS_STACK_BYTES = 8192, //  coded rows of a batch on the stack, at most
    OCTO_FEATURES_MAX = 16, //  a coded row is two 16-byte registers
    OCTO_NEVER = RANK_NEVER ^ 0x8000, //  a slot's biased rank no row's exceeds
    OCTO_ROW_BYTES = 32,  //  a coded row: 16-bit ranks
    OCTO_LEVELS = 2,      //  octo steps between two drops of the finished walks
};

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
        size_t d = cuts_sort_unique(cut + cut_at[j], fill[j] - cut_at[j], cut + total);
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
        uint32_t r = isnan(nd->value) ? RANK_NEVER : cuts_rank(st->cut + at[0], at[1] - at[0], nd->value);
        leaf[k] = 0, step[k] = (s_step_t){(uint16_t)nd->feature, (uint16_t)r, nd->left};
    }
}

//  Building the octos: a queue of the nodes that head one (its index is
//  the octo's), and the leaves' distinct values. Counting (step NULL) and
//  filling take the same path, so they agree.
typedef struct {
    const forest_t *forest;
    const s_step_t *step;  //  the nodes' ranks; NULL: only count
    uint32_t *queue;       //  the node heading each octo
    size_t n_octo;         //  octos queued
    size_t max_octo;       //  the queue's room: the nodes (a node heads one octo at most,
                           //  unless trees share nodes, which forest_new allows)
    int shared;            //  more octos than nodes: nodes are shared, no octos
    const uint64_t *value; //  the leaves' distinct values as bits, ascending
    size_t n_values;
    size_t leaf_at;        //  the first leaf's octo (after counting)
} s_octo_build_t;

static uint64_t s_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static int s_cmp_bits_fn(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

//  The distinct leaf values of self's nodes, bit for bit (so -0 and +0
//  stay apart), ascending into value; returns how many.
static size_t s_leaf_values(const forest_t *self, uint64_t *value)
{
    size_t m = 0, d = 0;
    for (size_t k = 0; k < self->n_nodes; k++)
        if (self->nodes[k].feature < 0)
            value[m++] = s_bits(self->nodes[k].value);
    qsort(value, m, sizeof *value, s_cmp_bits_fn);
    for (size_t i = 0; i < m; i++)
        if (d == 0 || value[i] != value[d - 1])
            value[d++] = value[i];
    return d;
}

//  What an octo's outcome holds for node k: its octo, queued, or its leaf.
static uint32_t s_octo_target(s_octo_build_t *b, uint32_t k)
{
    const forest_node_t *nd = &b->forest->nodes[k];
    if (nd->feature >= 0) {
        if (b->n_octo == b->max_octo) { //  the same subtree queued again: shared nodes
            b->shared = 1;
            return 0;
        }
        b->queue[b->n_octo] = k;
        return (uint32_t)b->n_octo++;
    }
    uint64_t bits = s_bits(nd->value);
    const uint64_t *at = bsearch(&bits, b->value, b->n_values, sizeof bits, s_cmp_bits_fn);
    return (uint32_t)(b->leaf_at + (size_t)(at - b->value));
}

//  The octo headed by node head into o (when filling).
static void s_octo_make(s_octo_build_t *b, uint32_t head, s_octo_t *o)
{
    const forest_node_t *nodes = b->forest->nodes;
    uint32_t at[7], out[8]; //  the node in each slot; below them, by outcome
    at[0] = head;
    for (int k = 0; k < 7; k++) {
        uint32_t n = at[k];
        int split = nodes[n].feature >= 0;
        uint32_t l = split ? nodes[n].left : n, r = split ? l + 1 : n;
        if (k < 3)
            at[2 * k + 1] = l, at[2 * k + 2] = r;
        else
            out[2 * (k - 3)] = l, out[2 * (k - 3) + 1] = r;
        if (b->step) {
            unsigned f = split ? b->step[n].feature : 0, half = f >= 8 ? 0x80 : 0;
            o->shuffle[2 * k] = (uint8_t)(half | (2 * f % 16));
            o->shuffle[2 * k + 1] = (uint8_t)(half | (2 * f % 16 + 1));
            o->rank[k] = split ? b->step[n].rank ^ 0x8000 : OCTO_NEVER;
        }
    }
    uint32_t next[8];
    for (int j = 0; j < 8; j++) //  a leaf above fills a run of outcomes: one number
        next[j] = j > 0 && out[j] == out[j - 1] ? next[j - 1] : s_octo_target(b, out[j]);
    if (b->step) {
        o->shuffle[14] = 0, o->shuffle[15] = 1, o->rank[7] = OCTO_NEVER;
        memcpy(o->next, next, sizeof next);
    }
}

//  Every tree's octos (breadth first, tree after tree), then the leaves'
//  octos, and the roots into octo and root, or with b->step NULL only
//  counted; returns the octos, the leaves' included, or 0 when trees share
//  nodes (a stored forest may: its walks end, but a node would head an
//  octo for each path to it, and there can be exponentially many).
static size_t s_octo_fill(s_octo_build_t *b, s_octo_t *octo, uint32_t *root)
{
    const forest_t *f = b->forest;
    b->n_octo = 0;
    for (size_t t = 0; t < f->n_trees; t++) {
        size_t first = b->n_octo;
        uint32_t r = s_octo_target(b, f->roots[t]);
        if (b->step)
            root[t] = r;
        for (size_t q = first; q < b->n_octo && !b->shared; q++)
            s_octo_make(b, b->queue[q], b->step ? &octo[q] : NULL);
    }
    if (b->shared)
        return 0;
    b->leaf_at = b->n_octo;
    for (size_t v = 0; b->step && v < b->n_values; v++) {
        s_octo_t *o = &octo[b->leaf_at + v];
        for (int k = 0; k < 8; k++) //  no slot goes right, and every outcome is here
            o->shuffle[2 * k] = 0, o->shuffle[2 * k + 1] = 1, o->rank[k] = OCTO_NEVER,
            o->next[k] = (uint32_t)(b->leaf_at + v);
    }
    return b->n_octo + b->n_values;
}

//  pick[mask]: the outcome of a row whose slot k went right when bit k of
//  mask is set; only the slots on its path count.
static void s_octo_picks(uint8_t *pick)
{
    for (unsigned m = 0; m < 128; m++) {
        unsigned b0 = m & 1, b1 = m >> (1 + b0) & 1, b2 = m >> (3 + 2 * b0 + b1) & 1;
        pick[m] = (uint8_t)(4 * b0 + 2 * b1 + b2);
    }
}

//  Whether self's forest fits octos (its steps built): a coded row in two
//  registers, indexes in 32 bits, and a CPU with the byte shuffle.
static int s_octo_fits(const forest_t *self)
{
#ifdef OCTO_SIMD
    return self->n_features <= OCTO_FEATURES_MAX && self->n_nodes < UINT32_MAX / 2 &&
           __builtin_cpu_supports("ssse3");
#else
    (void)self;
    return 0;
#endif
}

//  The steps of self, or NULL (out of memory, no features, or too many
//  features or cuts of one feature for 16 bits). The octos are in the same
//  block when the forest fits them.
static forest_steps_t *s_steps_build(const forest_t *self)
{
    size_t p = self->n_features, n = self->n_nodes;
    uint32_t *cut_at = calloc(p + 1, sizeof *cut_at);
    double *cut = malloc((n ? n : 1) * sizeof *cut);
    int octo_fits = s_octo_fits(self); //  the octos' build needs 12 bytes a node more
    uint32_t *queue = octo_fits ? malloc((n ? n : 1) * sizeof *queue) : NULL;
    uint64_t *value = octo_fits ? malloc((n ? n : 1) * sizeof *value) : NULL;
    if (!cut_at || !cut || (octo_fits && (!queue || !value))) {
        free(cut_at), free(cut), free(queue), free(value);
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
    s_octo_build_t ob = {self, NULL, queue, 0, n, 0, value, 0, 0};
    size_t n_octo = 0;
    if (fits && octo_fits) {
        ob.n_values = s_leaf_values(self, value);
        n_octo = s_octo_fill(&ob, NULL, NULL); //  counts; leaf_at is now known
    }
    //  the block: this header, the cuts, then either the steps (with the
    //  leaf values at their nodes' indexes) or the octos, cache-line aligned;
    //  the octos are built from steps that are then freed
    forest_steps_t *st = NULL;
    size_t cut_at_off = sizeof *st + d * sizeof(double);
    size_t tail = (cut_at_off + (p + 1) * sizeof(uint32_t) + 63) / 64 * 64;
    size_t steps_bytes = n * (sizeof(double) + sizeof(s_step_t));
    size_t bytes = tail + (n_octo ? n_octo * sizeof(s_octo_t) + ob.n_values * sizeof(double) +
                                        self->n_trees * sizeof(uint32_t) + 128
                                  : steps_bytes);
    void *scratch = n_octo ? malloc(steps_bytes ? steps_bytes : 1) : NULL;
    if (fits && (!n_octo || scratch) && (st = aligned_alloc(64, (bytes + 63) / 64 * 64))) {
        double *c = (double *)(st + 1), *leaf = n_octo ? scratch : (double *)((char *)st + tail);
        uint32_t *at = (uint32_t *)((char *)st + cut_at_off);
        s_step_t *step = (s_step_t *)(leaf + n);
        memcpy(c, cut, d * sizeof *c);
        memcpy(at, cut_at, (p + 1) * sizeof *at);
        *st = (forest_steps_t){NULL, c, at, NULL, NULL, NULL, 0, NULL, NULL};
        s_fill(self, st, leaf, step);
        if (!n_octo) {
            st->leaf = leaf, st->step = step;
        } else {
            s_octo_t *octo = (s_octo_t *)((char *)st + tail);
            double *oleaf = (double *)(octo + n_octo);
            uint32_t *root = (uint32_t *)(oleaf + ob.n_values);
            uint8_t *pick = (uint8_t *)(root + self->n_trees);
            memcpy(oleaf, value, ob.n_values * sizeof *oleaf);
            ob.step = step;
            s_octo_fill(&ob, octo, root);
            s_octo_picks(pick);
            st->octo = octo, st->octo_root = root, st->octo_leaf_at = (uint32_t)ob.leaf_at;
            st->octo_leaf = oleaf, st->octo_pick = pick;
        }
    }
    free(scratch);
    free(cut_at);
    free(cut);
    free(queue);
    free(value);
    return st;
}

//  The steps of self, built on the first call (NULL when they cannot be
//  built: the walks then take the plain path). Several threads may race to
//  build: one copy wins, the others are freed.
static const forest_steps_t *s_steps(const forest_t *self)
{
    forest_t *f = (forest_t *)self; //  only the cache is written
    forest_steps_t *st = atomic_load(&f->steps);
    if (!st && self->n_features > 0 && self->n_features <= RANK_NEVER) {
        //  a failure is kept too (a header with no steps): a forest whose
        //  steps cannot be built would otherwise rebuild on every call
        if (!(st = s_steps_build(self)) && !(st = calloc(1, sizeof *st)))
            return NULL;
        forest_steps_t *none = NULL;
        if (!atomic_compare_exchange_strong(&f->steps, &none, st)) {
            free(st);
            st = none;
        }
    }
    return st && (st->step || st->octo) ? st : NULL;
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
            R[i * p + j] = (uint16_t)cuts_rank(cut, n_cuts, X[i * p + j]);
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

#ifdef OCTO_SIMD
//  m rows of X (m x p) coded into OCTO_ROW_BYTES each: a feature's rank ^
//  0x8000, so that a signed 16-bit comparison is the ranks' (the lanes past
//  p are 0, and no slot reads them).
static void s_octo_code(const forest_steps_t *st, size_t p, const double *X, size_t m, uint16_t *R)
{
    enum { LANES = OCTO_ROW_BYTES / 2 };
    memset(R, 0, m * OCTO_ROW_BYTES);
    for (size_t j = 0; j < p; j++) {
        const double *cut = st->cut + st->cut_at[j];
        uint32_t n_cuts = st->cut_at[j + 1] - st->cut_at[j];
        for (size_t i = 0; i < m; i++)
            R[i * LANES + j] = (uint16_t)(cuts_rank(cut, n_cuts, X[i * p + j]) ^ 0x8000);
    }
}

//  Walks live (<= WALKS) walks to their leaves, three levels a step: walk
//  i is at octo (uint32_t)walk[i] with coded row R + (walk[i] >> 32) *
//  stride, and its leaf's value index goes to leaf[walk[i] >> 32]. One
//  step gathers the seven slots' features from the row's two halves with
//  two byte shuffles (a lane the other half holds comes out 0) and
//  compares them at once; the mask of the comparisons picks the outcome.
//  Every OCTO_LEVELS steps the walks that reached a leaf (whose octo loops
//  to itself) are dropped, in a pass of its own: stores whose place
//  depends on the walks would hold back the next walk's loads. Inlined, so
//  that stride is a constant.
__attribute__((target("ssse3"), always_inline)) static inline void
s_octo_walk(const forest_steps_t *st, const uint8_t *R, size_t stride, uint64_t *walk, size_t live,
            uint32_t *leaf)
{
    const s_octo_t *octo = st->octo;
    const uint8_t *pick = st->octo_pick;
    const uint32_t leaf_at = st->octo_leaf_at;
    const __m128i other = _mm_set1_epi8((char)0x80); //  the shuffle of the second half
    while (live) {
        for (int l = 0; l < OCTO_LEVELS; l++)
            for (size_t i = 0; i < live; i++) {
                uint64_t w = walk[i];
                const s_octo_t *o = &octo[(uint32_t)w];
                const __m128i *x = (const __m128i *)(R + (w >> 32) * stride);
                __m128i f = _mm_load_si128((const __m128i *)o->shuffle);
                __m128i v = _mm_or_si128(_mm_shuffle_epi8(_mm_load_si128(x), f),
                                         _mm_shuffle_epi8(_mm_load_si128(x + 1), _mm_xor_si128(f, other)));
                __m128i gt = _mm_cmpgt_epi16(v, _mm_load_si128((const __m128i *)o->rank));
                int mask = _mm_movemask_epi8(_mm_packs_epi16(gt, gt));
                walk[i] = (w & ~(uint64_t)UINT32_MAX) | o->next[pick[mask & 0x7F]];
            }
        size_t kept = 0;
        for (size_t i = 0; i < live; i++) {
            uint64_t w = walk[i];
            uint32_t at = (uint32_t)w;
            leaf[w >> 32] = at - leaf_at; //  the last write of a walk that ends here
            walk[kept] = w;
            kept += at < leaf_at;
        }
        live = kept;
    }
}

//  The trees of one coded row in lock step, WALKS at a time: the sum of
//  their leaf values in tree order.
__attribute__((target("ssse3"))) static double s_octo_one(const forest_t *self,
                                                          const forest_steps_t *st, const uint16_t *r)
{
    uint64_t walk[WALKS];
    uint32_t leaf[WALKS];
    double sum = 0;
    for (size_t t0 = 0; t0 < self->n_trees; t0 += WALKS) {
        size_t k = self->n_trees - t0 < WALKS ? self->n_trees - t0 : WALKS;
        for (size_t i = 0; i < k; i++)
            walk[i] = (uint64_t)i << 32 | st->octo_root[t0 + i];
        s_octo_walk(st, (const uint8_t *)r, 0, walk, k, leaf);
        for (size_t i = 0; i < k; i++)
            sum += st->octo_leaf[leaf[i]];
    }
    return sum;
}

//  s_block_sums on the octos: R holds the m rows coded by s_octo_code.
__attribute__((target("ssse3"))) static void s_octo_block_sums(const forest_t *self,
                                                               const forest_steps_t *st,
                                                               const uint16_t *R, size_t m,
                                                               double *acc)
{
    uint64_t walk[WALKS];
    uint32_t leaf[WALKS];
    for (size_t i = 0; i < m; i++)
        acc[i] = 0;
    for (size_t t = 0; t < self->n_trees; t++) {
        uint32_t root = st->octo_root[t];
        for (size_t g = 0; g < m; g += WALKS) {
            size_t k = m - g < WALKS ? m - g : WALKS;
            for (size_t i = 0; i < k; i++)
                walk[i] = (uint64_t)i << 32 | root;
            s_octo_walk(st, (const uint8_t *)R + g * OCTO_ROW_BYTES, OCTO_ROW_BYTES, walk, k, leaf);
            for (size_t i = 0; i < k; i++)
                acc[g + i] += st->octo_leaf[leaf[i]];
        }
    }
}
#endif

double forest_predict_one(const forest_t *self, const double *x)
{
    const forest_steps_t *st = s_steps(self);
    size_t p = self->n_features;
#ifdef OCTO_SIMD
    if (st && st->octo) {
        _Alignas(16) uint16_t row[OCTO_ROW_BYTES / 2];
        s_octo_code(st, p, x, 1, row);
        return s_octo_one(self, st, row) / (double)self->n_trees;
    }
#endif
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

//  n rows, BLOCK_ROWS at a time, each block's rows coded once (for the
//  octos when the forest has them, else for the 8-byte steps).
static void s_predict_rows(const forest_t *self, const double *X, size_t n, double *proba)
{
    enum { BLOCK_ROWS = 4096 };
    const forest_steps_t *st = s_steps(self);
    size_t p = self->n_features, rows = n < BLOCK_ROWS ? n : BLOCK_ROWS;
    int octo = st && st->octo;
    size_t row_bytes = octo ? OCTO_ROW_BYTES : p * sizeof(uint16_t);
    size_t bytes = (rows * row_bytes + 15) / 16 * 16;
    //  a served batch (up to 256 rows for the octos) is coded on the stack:
    //  no allocation a request
    _Alignas(16) uint8_t on_stack[ROWS_STACK_BYTES];
    void *R = !st || !n ? NULL : bytes <= sizeof on_stack ? on_stack : aligned_alloc(16, bytes);
    if (!R) {
        for (size_t i = 0; i < n; i++)
            proba[i] = s_plain_one(self, X + i * p);
        return;
    }
    for (size_t at = 0; at < n; at += BLOCK_ROWS) {
        size_t m = n - at < BLOCK_ROWS ? n - at : BLOCK_ROWS;
#ifdef OCTO_SIMD
        if (octo) {
            s_octo_code(st, p, X + at * p, m, R);
            s_octo_block_sums(self, st, R, m, proba + at);
        } else
#endif
        {
            s_code(st, p, X + at * p, m, R);
            s_block_sums(self, st, R, m, proba + at);
        }
        for (size_t i = 0; i < m; i++)
            proba[at + i] /= (double)self->n_trees;
    }
    if (R != on_stack)
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

const char *forest_walk_name(const forest_t *self)
{
    const forest_steps_t *st = s_steps(self);
    return !st ? "plain" : st->octo ? "octo" : "steps";
}
