/*  forest.c: random forest training and prediction (see forest.h).

    Layout of a fit: the features are binned once (forest_codes_fit, on
    bins.h), shared read-only by the threads. Each thread
    takes the next tree index from an atomic counter and grows that tree in
    its own workspace, depth first. A tree copies its bootstrap rows into a
    contiguous array of records (the row's weight, packed, then its codes)
    and partitions that array in place at each split, so a node's rows are
    always one contiguous run: the split search streams through memory
    instead of chasing row indexes, which is what keeps a million rows fast.
    A node of at least DENSE_ROWS rows holds a full histogram (every
    feature's bins, packed weights and distinct-row counts): of its two
    children only the smaller is summed, the larger is its parent's minus
    that (exact: the sums are integers), so the rows of a level are
    streamed about half a time, whatever max_features; split search on
    such a node reads the histogram and no rows. Smaller nodes histogram
    their drawn features alone (registers for up to 4 bins, a bitmap-read
    histogram beyond).
*/
#include "forest.h"
#include "forest_fit.h"
#include "rng.h"
#include "vec.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DENSE_ROWS 4096      //  nodes this large hold a full histogram

typedef struct {
    uint32_t code;  //  bin code
    uint32_t cnt;   //  distinct rows
    double w;       //  bootstrap weight
    double wp;      //  weight of class 1
} s_group_t;

//  A row's contribution to a histogram bin, packed so one 64-bit add
//  counts it: the high half its bootstrap weight, the low half that weight
//  again if the row is class 1 (weights add up to at most n < 2^32).
//  Distinct rows are only counted (in a second histogram) when
//  min_samples_leaf > 1 needs them.
typedef uint64_t s_packed_t;
#define PACK_W_SHIFT 32
#define PACK_MASK 0xffffffffu

static s_group_t s_unpack(uint32_t code, s_packed_t v, uint32_t cnt)
{
    return (s_group_t){code, cnt, (double)(v >> PACK_W_SHIFT), (double)(v & PACK_MASK)};
}


typedef struct {
    size_t n, p;          //  rows, features
    const uint8_t *y;     //  labels
    forest_codes_t codes; //  the binned features
    size_t stride;        //  bytes of one record: packed weight + p codes, 8-aligned
    forest_params_t pr;   //  resolved parameters
    uint64_t seed;        //  forest seed
    forest_grown_t grown; //  the trees grown so far
    size_t *off;          //  per feature: where its bins start in a full histogram, owned
    size_t full_bins;     //  bins of a full histogram (all features)
} s_shared_t;

typedef struct {
    size_t start, end;    //  records [start, end)
    int depth;            //  root = 0
    uint32_t node;        //  index in the tree's node array
    double w, wp;         //  weight and class-1 weight of those rows
    int full;             //  its full histogram in s_work_t's, or -1 (small nodes)
} s_pending_t;

typedef struct {
    int found;            //  a split was found
    size_t feature;       //  its feature
    uint32_t bin, next;   //  last bin on the left, first present bin on the right
    double proxy;         //  sum over children of sum_k w_k^2 / w (larger is better)
    double wl, wpl;       //  left weight and class-1 weight
} s_split_t;

typedef struct {
    s_packed_t *w;        //  full_bins packed weights
    uint32_t *c;          //  full_bins distinct-row counts
    int used;             //  held by a pending node
} s_full_t;

typedef struct {
    rng_t rng;            //  this tree's stream
    uint32_t *w;          //  n bootstrap counts
    uint8_t *rec;         //  n records (stride bytes each), node ranges
    size_t *feat;         //  p feature order for sampling
    int count;            //  distinct rows are counted (min_samples_leaf > 1)
    s_group_t *groups;    //  bins present in a node, in order
    s_packed_t *sparse;   //  max_bins: histogram of s_sparse_groups, zero between uses
    uint32_t *scnt;       //  max_bins: its distinct-row counts
    s_pending_t *stack;   //  nodes to expand
    size_t stack_cap;
    s_full_t *full;       //  full histograms, in use by pending nodes or free
    size_t n_full;
    forest_node_t *nodes; //  the tree being grown
    size_t n_nodes, cap;
} s_work_t;

static inline s_packed_t s_rec_pk(const uint8_t *r)
{
    s_packed_t v;
    memcpy(&v, r, sizeof v);
    return v;
}

static inline const uint8_t *s_rec_codes(const uint8_t *r)
{
    return r + sizeof(s_packed_t);
}

/* --- split search ----------------------------------------------------- */

//  Groups of feature f on a node of modest size: one histogram plus a
//  bitmap of the bins it touched, so reading it back costs the bins
//  present (in order, from the bitmap), not all the feature's bins.
static size_t s_sparse_groups(const s_shared_t *sh, s_work_t *wk, size_t f, size_t start,
                              size_t end)
{
    size_t stride = sh->stride, k = 0;
    s_packed_t *h = wk->sparse;
    uint64_t seen[4] = {0, 0, 0, 0};
    const uint8_t *r = wk->rec + start * stride, *stop = wk->rec + end * stride;
    //  distinct rows are counted in the same pass, only when min_samples_leaf > 1 needs them
    for (; wk->count && r < stop; r += stride) {
        unsigned c = s_rec_codes(r)[f];
        seen[c >> 6] |= (uint64_t)1 << (c & 63);
        h[c] += s_rec_pk(r);
        wk->scnt[c]++;
    }
    for (; r < stop; r += stride) {
        unsigned c = s_rec_codes(r)[f];
        seen[c >> 6] |= (uint64_t)1 << (c & 63);
        h[c] += s_rec_pk(r);
    }
    for (unsigned w = 0; w < 4; w++)
        for (uint64_t bits = seen[w]; bits; bits &= bits - 1) {
            unsigned c = w * 64 + (unsigned)__builtin_ctzll(bits);
            wk->groups[k++] = s_unpack(c, h[c], wk->count ? wk->scnt[c] : 1);
            h[c] = 0, wk->scnt[c] = 0;
        }
    return k;
}

/* --- full histograms ---------------------------------------------------- */

//  A free full histogram, zeroed; its index, or -1 when out of memory.
static int s_full_take(const s_shared_t *sh, s_work_t *wk)
{
    size_t i = 0;
    while (i < wk->n_full && wk->full[i].used)
        i++;
    if (i == wk->n_full) {
        s_full_t *v = realloc(wk->full, (i + 1) * sizeof *v);
        if (!v)
            return -1;
        wk->full = v;
        s_full_t h = {malloc(sh->full_bins * sizeof *h.w), malloc(sh->full_bins * sizeof *h.c), 0};
        if (!h.w || !h.c) {
            free(h.w), free(h.c);
            return -1;
        }
        v[wk->n_full++] = h;
    }
    memset(wk->full[i].w, 0, sh->full_bins * sizeof *wk->full[i].w);
    memset(wk->full[i].c, 0, sh->full_bins * sizeof *wk->full[i].c);
    wk->full[i].used = 1;
    return (int)i;
}

static void s_full_drop(s_work_t *wk, int i)
{
    if (i >= 0)
        wk->full[i].used = 0;
}

//  Sums records [start, end) into full histogram i, every feature.
static void s_full_sum(const s_shared_t *sh, s_work_t *wk, int i, size_t start, size_t end)
{
    size_t stride = sh->stride, p = sh->p;
    const size_t *off = sh->off;
    s_packed_t *hw = wk->full[i].w;
    uint32_t *hc = wk->full[i].c;
    const uint8_t *r = wk->rec + start * stride, *stop = wk->rec + end * stride;
    for (; r < stop; r += stride) {
        s_packed_t v = s_rec_pk(r);
        const uint8_t *c = s_rec_codes(r);
        for (size_t f = 0; f < p; f++) {
            hw[off[f] + c[f]] += v;
            hc[off[f] + c[f]]++;
        }
    }
}

//  Full histogram i -= j.
static void s_full_minus(const s_shared_t *sh, s_work_t *wk, int i, int j)
{
    s_packed_t *a = wk->full[i].w, *b = wk->full[j].w;
    uint32_t *ca = wk->full[i].c, *cb = wk->full[j].c;
    for (size_t k = 0; k < sh->full_bins; k++)
        a[k] -= b[k], ca[k] -= cb[k];
}

//  The groups of feature f read from full histogram i.
static size_t s_full_groups(const s_shared_t *sh, s_work_t *wk, int i, size_t f)
{
    size_t k = 0, nb = sh->codes.n_bins[f];
    const s_packed_t *hw = wk->full[i].w + sh->off[f];
    const uint32_t *hc = wk->full[i].c + sh->off[f];
    for (size_t c = 0; c < nb; c++)
        if (hw[c])
            wk->groups[k++] = s_unpack((uint32_t)c, hw[c], hc[c]);
    return k;
}

//  The full histograms of e's children (split at record mid): the smaller
//  child's summed, the larger's its parent's minus that, in the parent's
//  buffer. A child under DENSE_ROWS keeps none. Returns 0 or -1 (memory).
static int s_child_fulls(const s_shared_t *sh, s_work_t *wk, const s_pending_t *e, size_t mid,
                         int *hl, int *hr)
{
    size_t ml = mid - e->start, mr = e->end - mid;
    *hl = *hr = -1;
    if (e->full < 0)
        return 0; //  a small node has only small children
    if (ml < DENSE_ROWS && mr < DENSE_ROWS) {
        s_full_drop(wk, e->full);
        return 0;
    }
    int small = s_full_take(sh, wk), left_small = ml <= mr;
    if (small < 0)
        return -1;
    s_full_sum(sh, wk, small, left_small ? e->start : mid, left_small ? mid : e->end);
    s_full_minus(sh, wk, e->full, small);
    size_t ms = left_small ? ml : mr, mb = left_small ? mr : ml;
    int hs = ms >= DENSE_ROWS ? small : -1, hb = mb >= DENSE_ROWS ? e->full : -1;
    if (hs < 0)
        s_full_drop(wk, small);
    if (hb < 0)
        s_full_drop(wk, e->full);
    *hl = left_small ? hs : hb, *hr = left_small ? hb : hs;
    return 0;
}

/* --- node histograms ---------------------------------------------------- */

//  Groups of a feature with at most 4 bins, summed in registers: with
//  so few bins, memory histograms would have consecutive rows adding to
//  the same word, which stalls on every add.
static size_t s_few_groups(const s_shared_t *sh, s_work_t *wk, size_t f, size_t start,
                           size_t end)
{
    size_t stride = sh->stride;
    s_packed_t a0 = 0, a1 = 0, a2 = 0, tot = 0;
    uint32_t n0 = 0, n1 = 0, n2 = 0;
    const uint8_t *r = wk->rec + start * stride, *stop = wk->rec + end * stride;
    //  distinct rows are counted in registers too (used for min_samples_leaf > 1 only)
    if (sh->codes.n_bins[f] == 2) { //  the common case: one-hot and yes/no columns
        for (; r < stop; r += stride) {
            s_packed_t v = s_rec_pk(r);
            unsigned c = s_rec_codes(r)[f];
            a0 += c ? 0 : v;
            n0 += c == 0;
            tot += v;
        }
        a1 = tot - a0;
        tot = a0 + a1;
        n1 = (uint32_t)(end - start) - n0;
    }
    for (; r < stop; r += stride) {
        s_packed_t v = s_rec_pk(r);
        unsigned c = s_rec_codes(r)[f];
        a0 += c == 0 ? v : 0, a1 += c == 1 ? v : 0, a2 += c == 2 ? v : 0;
        n0 += c == 0, n1 += c == 1, n2 += c == 2;
        tot += v;
    }
    s_packed_t sum[4] = {a0, a1, a2, tot - a0 - a1 - a2};
    uint32_t cnt[4] = {n0, n1, n2, (uint32_t)(end - start) - n0 - n1 - n2};
    if (!wk->count)
        cnt[0] = cnt[1] = cnt[2] = cnt[3] = 1;
    size_t k = 0;
    for (uint32_t c = 0; c < 4; c++)
        if (sum[c])
            wk->groups[k++] = s_unpack(c, sum[c], cnt[c]);
    return k;
}

//  Scans the thresholds between the k groups; keeps the first best split.
static void s_scan(const s_work_t *wk, size_t k, size_t f, size_t m, double w, double wp,
                   size_t min_leaf, s_split_t *best)
{
    size_t cl = 0;
    double wl = 0, pl = 0;
    for (size_t t = 0; t + 1 < k; t++) {
        const s_group_t *g = &wk->groups[t];
        cl += g->cnt, wl += g->w, pl += g->wp;
        if (cl < min_leaf)
            continue;
        if (m - cl < min_leaf)
            break;
        double wr = w - wl, pr = wp - pl;
        double proxy = (pl * pl + (wl - pl) * (wl - pl)) / wl +
                       (pr * pr + (wr - pr) * (wr - pr)) / wr;
        if (!best->found || proxy > best->proxy)
            *best = (s_split_t){1, f, g->code, wk->groups[t + 1].code, proxy, wl, pl};
    }
}

//  Evaluates features fs[0..nf) on the node (in draw order, so ties go to
//  the first drawn, as in sklearn), from its full histogram when it has
//  one. Returns how many were constant.
static size_t s_eval(const s_shared_t *sh, s_work_t *wk, const size_t *fs, size_t nf,
                     const s_pending_t *e, s_split_t *best)
{
    size_t m = e->end - e->start, constant = 0, min_leaf = (size_t)sh->pr.min_samples_leaf;
    for (size_t t = 0; t < nf; t++) {
        size_t f = fs[t];
        size_t k = e->full >= 0               ? s_full_groups(sh, wk, e->full, f)
                   : sh->codes.n_bins[f] <= 4 ? s_few_groups(sh, wk, f, e->start, e->end)
                                              : s_sparse_groups(sh, wk, f, e->start, e->end);
        if (k < 2)
            constant++;
        else
            s_scan(wk, k, f, m, e->w, e->wp, min_leaf, best);
    }
    return constant;
}

//  Draws max_features features without replacement, as sklearn's
//  BestSplitter does: a feature constant in the node counts as drawn, and
//  drawing goes on past max_features only while every drawn one was
//  constant.
static void s_best_split(const s_shared_t *sh, s_work_t *wk, const s_pending_t *e,
                         s_split_t *best)
{
    size_t p = sh->p, mf = (size_t)sh->pr.max_features, k = 0, constant = 0;
    memset(best, 0, sizeof *best);
    while (k < p && (k < mf || k == constant)) {
        //  the first max_features at once, then one more at a time
        size_t nf = k < mf ? mf - k : 1;
        for (size_t t = 0; t < nf; t++, k++) {
            size_t j = k + (size_t)rng_below(&wk->rng, p - k);
            size_t f = wk->feat[j];
            wk->feat[j] = wk->feat[k], wk->feat[k] = f;
        }
        constant += s_eval(sh, wk, wk->feat + k - nf, nf, e, best);
    }
}

/* --- growing a tree --------------------------------------------------- */

static int s_push_node(s_work_t *wk)
{
    return forest_nodes_push(&wk->nodes, &wk->n_nodes, &wk->cap);
}

static int s_push_pending(s_work_t *wk, size_t *top, s_pending_t e)
{
    if (vec_reserve_(&wk->stack, &wk->stack_cap, *top, 1, sizeof *wk->stack))
        return -1;
    wk->stack[(*top)++] = e;
    return 0;
}

//  Moves the records going left to the front of [start, end); returns mid.
static size_t s_partition(const s_shared_t *sh, s_work_t *wk, const s_pending_t *e,
                          const s_split_t *s)
{
    size_t stride = sh->stride, i = e->start, j = e->end;
    while (i < j) {
        uint8_t *a = wk->rec + i * stride;
        if (s_rec_codes(a)[s->feature] <= s->bin) {
            i++;
            continue;
        }
        uint8_t *b = wk->rec + --j * stride;
        for (size_t o = 0; o < stride; o += 8) {
            uint64_t x, y;
            memcpy(&x, a + o, 8), memcpy(&y, b + o, 8);
            memcpy(a + o, &y, 8), memcpy(b + o, &x, 8);
        }
    }
    return i;
}

static double s_threshold(const s_shared_t *sh, const s_split_t *s)
{
    return forest_codes_threshold(&sh->codes, s->feature, s->bin, s->next);
}

//  Draws the bootstrap and lays its distinct rows out as records. Returns
//  the record count and the total / class-1 weight.
static size_t s_bootstrap(const s_shared_t *sh, s_work_t *wk, double *w, double *wp)
{
    size_t n = sh->n, p = sh->p, m = 0;
    memset(wk->w, 0, n * sizeof *wk->w);
    for (size_t i = 0; i < n; i++)
        wk->w[rng_below(&wk->rng, n)]++;
    *w = 0, *wp = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = wk->w[i];
        if (!c)
            continue;
        uint32_t cy = sh->y[i] ? c : 0;
        s_packed_t v = ((s_packed_t)c << PACK_W_SHIFT) | cy;
        uint8_t *r = wk->rec + m++ * sh->stride;
        memcpy(r, &v, sizeof v);
        for (size_t j = 0; j < p; j++) //  the columns are read in step, each in order
            r[sizeof v + j] = sh->codes.codes[j * n + i];
        *w += c, *wp += cy;
    }
    return m;
}

//  The root's pending entry: a full histogram when it is large.
static int s_root(const s_shared_t *sh, s_work_t *wk, size_t m, double w, double wp,
                  s_pending_t *e)
{
    *e = (s_pending_t){0, m, 0, 0, w, wp, -1};
    for (size_t i = 0; i < wk->n_full; i++)
        wk->full[i].used = 0;
    if (m >= DENSE_ROWS && (e->full = s_full_take(sh, wk)) < 0)
        return -1;
    if (e->full >= 0)
        s_full_sum(sh, wk, e->full, 0, m);
    return 0;
}

//  Splits node e (found split s): partitions its records, adds its two
//  children and queues them, left on top.
static int s_split_node(const s_shared_t *sh, s_work_t *wk, size_t *top, const s_pending_t *e,
                        const s_split_t *s)
{
    size_t mid = s_partition(sh, wk, e, s);
    uint32_t left = (uint32_t)wk->n_nodes;
    int hl, hr;
    if (s_push_node(wk) || s_push_node(wk) || s_child_fulls(sh, wk, e, mid, &hl, &hr))
        return -1;
    wk->nodes[e->node] = (forest_node_t){s_threshold(sh, s), (int32_t)s->feature, left};
    s_pending_t r = {mid, e->end, e->depth + 1, left + 1, e->w - s->wl, e->wp - s->wpl, hr};
    s_pending_t l = {e->start, mid, e->depth + 1, left, s->wl, s->wpl, hl};
    return s_push_pending(wk, top, r) || s_push_pending(wk, top, l) ? -1 : 0;
}

static int s_grow_tree(const s_shared_t *sh, s_work_t *wk, size_t tree)
{
    size_t top = 0;
    double w, wp;
    rng_seed(&wk->rng, sh->seed, tree);
    size_t m = s_bootstrap(sh, wk, &w, &wp);
    for (size_t j = 0; j < sh->p; j++)
        wk->feat[j] = j;
    wk->n_nodes = 0;
    s_pending_t root;
    if (s_push_node(wk) || s_root(sh, wk, m, w, wp, &root) || s_push_pending(wk, &top, root))
        return -1;
    size_t min_leaf = (size_t)sh->pr.min_samples_leaf;
    while (top > 0) {
        s_pending_t e = wk->stack[--top];
        size_t cnt = e.end - e.start;
        s_split_t s = {0};
        int leaf = (sh->pr.max_depth > 0 && e.depth >= sh->pr.max_depth) || cnt < 2 ||
                   cnt < 2 * min_leaf || e.wp == 0 || e.wp == e.w;
        if (!leaf)
            s_best_split(sh, wk, &e, &s);
        if (!s.found) {
            wk->nodes[e.node] = (forest_node_t){e.wp / e.w, -1, 0};
            s_full_drop(wk, e.full);
        } else if (s_split_node(sh, wk, &top, &e, &s) != 0) {
            return -1;
        }
    }
    return 0;
}

static void s_work_free(s_work_t *wk)
{
    for (size_t i = 0; i < wk->n_full; i++)
        free(wk->full[i].w), free(wk->full[i].c);
    free(wk->full);
    free(wk->w);
    free(wk->rec);
    free(wk->feat);
    free(wk->groups);
    free(wk->sparse);
    free(wk->scnt);
    free(wk->stack);
    free(wk->nodes);
}

static int s_work_init(const s_shared_t *sh, s_work_t *wk)
{
    memset(wk, 0, sizeof *wk);
    size_t bins = (size_t)sh->pr.max_bins, n = sh->n;
    wk->count = sh->pr.min_samples_leaf > 1;
    wk->w = malloc(n * sizeof *wk->w);
    wk->rec = aligned_alloc(8, n * sh->stride);
    wk->feat = malloc(sh->p * sizeof *wk->feat);
    wk->groups = malloc(bins * sizeof *wk->groups);
    wk->sparse = calloc(bins, sizeof *wk->sparse);
    wk->scnt = calloc(bins, sizeof *wk->scnt);
    return wk->w && wk->rec && wk->feat && wk->groups && wk->sparse && wk->scnt ? 0 : -1;
}

static void *s_thread_fn(void *arg)
{
    s_shared_t *sh = arg;
    s_work_t wk;
    int ok = s_work_init(sh, &wk) == 0;
    for (size_t t; ok && (t = forest_grown_next(&sh->grown)) < sh->grown.n_trees;)
        ok = s_grow_tree(sh, &wk, t) == 0 &&
             forest_grown_keep(&sh->grown, t, wk.nodes, wk.n_nodes, NULL, 0) == 0;
    if (!ok)
        forest_grown_fail(&sh->grown);
    s_work_free(&wk);
    return NULL;
}

/* --- fit ---------------------------------------------------------------- */

static int s_check_labels(const uint8_t *y, size_t n, mlops_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        if (y[i] > 1)
            return mlops_err_set(err, MLOPS_EINVAL, "forest: label %u in row %zu is not 0/1",
                                 y[i], i);
    return 0;
}

forest_t *forest_fit(const double *X, const uint8_t *y, size_t n, size_t p,
                     const forest_params_t *params, uint64_t seed, mlops_err_t *err)
{
    s_shared_t sh;
    memset(&sh, 0, sizeof sh);
    sh.pr = params ? *params : (forest_params_t){0};
    if (forest_params_resolve(TASK_BINARY, &sh.pr, n, p, err) != 0 ||
        s_check_labels(y, n, err) != 0 || forest_check_features(X, n, p, err) != 0)
        return NULL;
    sh.n = n, sh.p = p, sh.y = y, sh.seed = seed;
    sh.stride = sizeof(s_packed_t) + (p + 7) / 8 * 8;
    forest_t *f = NULL;
    if (forest_grown_init(&sh.grown, TASK_BINARY, p, 1, (size_t)sh.pr.n_trees) == 0 &&
        forest_codes_fit(X, n, p, sh.pr.max_bins, sh.pr.n_threads, seed, &sh.codes) == 0 &&
        (sh.off = malloc(p * sizeof *sh.off)) != NULL) {
        for (size_t j = 0; j < p; j++)
            sh.off[j] = sh.full_bins, sh.full_bins += sh.codes.n_bins[j];
        f = forest_grown_run(&sh.grown, sh.pr.n_threads, s_thread_fn, &sh, err);
    } else {
        mlops_err_set(err, MLOPS_ENOMEM, "forest: out of memory for %zu rows x %zu features", n,
                      p);
    }
    free(sh.off);
    forest_codes_free(&sh.codes);
    forest_grown_free(&sh.grown);
    return f;
}

/* --- stored forests (prediction is in forest_predict.c) ---------------- */

//  A leaf's payload is in range for the task.
static int s_leaf_ok(task_t task, const forest_node_t *nd, size_t n_leaves)
{
    if (nd->feature != -1)
        return 0;
    if (task == TASK_MULTICLASS)
        return nd->left < n_leaves;
    return task == TASK_REGRESSION ? isfinite(nd->value) : nd->value >= 0 && nd->value <= 1;
}

static int s_check_arrays(task_t task, size_t p, size_t n_trees, const uint32_t *roots,
                          size_t n_nodes, const forest_node_t *nodes, size_t n_leaves,
                          mlops_err_t *err)
{
    if (n_trees == 0 || n_trees > FOREST_MAX_TREES || n_nodes == 0 || n_nodes >= UINT32_MAX)
        return mlops_err_set(err, MLOPS_ECORRUPT, "forest: %zu trees, %zu nodes is not a forest",
                             n_trees, n_nodes);
    for (size_t t = 0; t < n_trees; t++)
        if (roots[t] >= n_nodes)
            return mlops_err_set(err, MLOPS_ECORRUPT, "forest: root of tree %zu out of range", t);
    for (size_t k = 0; k < n_nodes; k++) {
        const forest_node_t *nd = &nodes[k];
        int bad = nd->feature >= 0
                      ? (size_t)nd->feature >= p || nd->left <= k || (size_t)nd->left + 1 >= n_nodes ||
                            !isfinite(nd->value)
                      : !s_leaf_ok(task, nd, n_leaves);
        //  Children after their parent: every walk ends, whatever the bytes.
        if (bad)
            return mlops_err_set(err, MLOPS_ECORRUPT, "forest: node %zu is malformed", k);
    }
    return 0;
}

forest_t *forest_new_task(task_t task, size_t p, size_t n_classes, size_t n_trees,
                          const uint32_t *roots, size_t n_nodes, const forest_node_t *nodes,
                          size_t n_leaves, const double *leaf_values, mlops_err_t *err)
{
    size_t k = task == TASK_MULTICLASS ? n_classes : 1, nv = task == TASK_MULTICLASS ? n_leaves * k : 0;
    if (s_check_arrays(task, p, n_trees, roots, n_nodes, nodes, task == TASK_MULTICLASS ? n_leaves : 0,
                       err) != 0)
        return NULL;
    for (size_t i = 0; i < nv; i++)
        if (!(leaf_values[i] >= 0 && leaf_values[i] <= 1)) {
            mlops_err_set(err, MLOPS_ECORRUPT, "forest: leaf value %zu is not a fraction", i);
            return NULL;
        }
    forest_t *f = calloc(1, sizeof *f);
    if (f) {
        f->nodes = malloc(n_nodes * sizeof *f->nodes);
        f->roots = malloc(n_trees * sizeof *f->roots);
        f->leaf_values = nv ? malloc(nv * sizeof *f->leaf_values) : NULL;
    }
    if (!f || !f->nodes || !f->roots || (nv && !f->leaf_values)) {
        forest_destroy(&f);
        mlops_err_set(err, MLOPS_ENOMEM, "forest: out of memory");
        return NULL;
    }
    memcpy(f->nodes, nodes, n_nodes * sizeof *nodes);
    memcpy(f->roots, roots, n_trees * sizeof *roots);
    if (nv)
        memcpy(f->leaf_values, leaf_values, nv * sizeof *leaf_values);
    f->n_features = p, f->n_trees = n_trees, f->n_nodes = n_nodes;
    f->task = task, f->n_classes = k, f->n_leaves = nv ? n_leaves : 0;
    return f;
}

forest_t *forest_new(size_t p, size_t n_trees, const uint32_t *roots, size_t n_nodes,
                     const forest_node_t *nodes, mlops_err_t *err)
{
    return forest_new_task(TASK_BINARY, p, 2, n_trees, roots, n_nodes, nodes, 0, NULL, err);
}

void forest_destroy(forest_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->nodes);
    free((*p)->roots);
    free((*p)->leaf_values);
    free(atomic_load(&(*p)->steps));
    free(*p);
    *p = NULL;
}
