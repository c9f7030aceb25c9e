/*  forest.c: random forest training and prediction (see forest.h).

    Layout of a fit: the features are rank-coded once into a row-major code
    matrix (s_bin_feature), shared read-only by the threads. Each thread
    takes the next tree index from an atomic counter and grows that tree in
    its own workspace, depth first. A tree copies its bootstrap rows into a
    contiguous array of records (the row's weight, packed, then its codes)
    and partitions that array in place at each split, so a node's rows are
    always one contiguous run: the split search streams through memory
    instead of chasing row indexes, which is what keeps a million rows fast.
    At each node the drawn features are histogrammed together in one pass.
*/
#include "forest.h"
#include "forest_codes.h"
#include "rng.h"
#include "vec.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TREES 100
#define DEFAULT_MAX_BINS 256
#define BATCH_MAX 64         //  features histogrammed in one pass
#define DENSE_ROWS 4096      //  nodes this large use the multi-copy histograms

typedef struct {
    uint32_t code;  //  rank code
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
    uint8_t *codes;       //  n rows of p rank codes (row-major)
    uint32_t *n_bins;     //  per feature
    double **lo, **hi;    //  per feature: smallest / largest value of each bin
    size_t stride;        //  bytes of one record: packed weight + p codes, 16-aligned
    forest_params_t pr;   //  resolved parameters
    uint64_t seed;        //  forest seed
    atomic_size_t next;   //  next tree to grow
    atomic_int failed;    //  a thread ran out of memory
    forest_node_t **trees; //  per tree: its nodes (local child indexes), owned
    size_t *tree_len;     //  per tree: node count
} s_shared_t;

typedef struct {
    size_t start, end;    //  records [start, end)
    int depth;            //  root = 0
    uint32_t node;        //  index in the tree's node array
    double w, wp;         //  weight and class-1 weight of those rows
} s_pending_t;

typedef struct {
    int found;            //  a split was found
    size_t feature;       //  its feature
    uint32_t bin, next;   //  last rank on the left, first on the right
    double proxy;         //  sum over children of sum_k w_k^2 / w (larger is better)
    double wl, wpl;       //  left weight and class-1 weight
} s_split_t;

typedef struct {
    rng_t rng;            //  this tree's stream
    uint32_t *w;          //  n bootstrap counts
    uint8_t *rec;         //  n records (stride bytes each), node ranges
    size_t *feat;         //  p feature order for sampling
    s_packed_t *hist;     //  batch slots of s_slot() bins, all zero between uses
    uint32_t *chist;      //  distinct rows per bin, same layout; only for min_samples_leaf > 1
    s_group_t *groups;    //  distinct ranks of a node, in order
    s_packed_t *sparse;   //  max_bins: histogram of s_sparse_groups, zero between uses
    uint32_t *scnt;       //  max_bins: its distinct-row counts
    s_pending_t *stack;   //  nodes to expand
    size_t stack_cap;
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

/* --- rank coding ------------------------------------------------------ */

static int s_cmp_double_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define HASH_SLOTS 1024 //  open addressing for up to 256 distinct values

static uint64_t s_key(double x)
{
    uint64_t k;
    x = x == 0 ? 0.0 : x; //  -0.0 and 0.0 are one value
    memcpy(&k, &x, sizeof k);
    return k;
}

static size_t s_slot_of(const uint64_t *keys, const uint8_t *used, uint64_t k)
{
    size_t h = (size_t)((k * 0x9E3779B97F4A7C15ULL) >> 54) & (HASH_SLOTS - 1);
    while (used[h] && keys[h] != k)
        h = (h + 1) & (HASH_SLOTS - 1);
    return h;
}

//  Fast path of s_bin_feature for a feature with at most max_bins distinct
//  values (every Titanic feature): a small hash of the values, no sort of
//  the column. Returns 0, 1 when there are more distinct values, or
//  MLOPS_ENOMEM.
static int s_bin_exact(s_shared_t *sh, const double *X, size_t j)
{
    size_t n = sh->n, p = sh->p, u = 0, max_bins = (size_t)sh->pr.max_bins;
    uint64_t keys[HASH_SLOTS];
    uint8_t used[HASH_SLOTS] = {0}, rank[HASH_SLOTS];
    double vals[256];
    for (size_t i = 0; i < n; i++) {
        uint64_t k = s_key(X[i * p + j]);
        size_t h = s_slot_of(keys, used, k);
        if (used[h])
            continue;
        if (u == max_bins)
            return 1;
        used[h] = 1, keys[h] = k, vals[u++] = X[i * p + j] == 0 ? 0.0 : X[i * p + j];
    }
    qsort(vals, u, sizeof *vals, s_cmp_double_fn);
    double *lo = malloc(u * sizeof *lo), *hi = malloc(u * sizeof *hi);
    if (!lo || !hi) {
        free(lo), free(hi);
        return MLOPS_ENOMEM;
    }
    for (size_t b = 0; b < u; b++) {
        lo[b] = hi[b] = vals[b];
        rank[s_slot_of(keys, used, s_key(vals[b]))] = (uint8_t)b;
    }
    for (size_t i = 0; i < n; i++)
        sh->codes[i * p + j] = rank[s_slot_of(keys, used, s_key(X[i * p + j]))];
    sh->lo[j] = lo, sh->hi[j] = hi, sh->n_bins[j] = (uint32_t)u;
    return 0;
}

//  Codes feature j: each distinct value its own rank when there are at most
//  max_bins of them, else max_bins groups of about equal row counts.
static int s_bin_feature(s_shared_t *sh, const double *X, size_t j, double *tmp)
{
    int rc = s_bin_exact(sh, X, j);
    if (rc != 1)
        return rc;
    size_t n = sh->n, p = sh->p, u = 0;
    for (size_t i = 0; i < n; i++)
        tmp[i] = X[i * p + j];
    qsort(tmp, n, sizeof *tmp, s_cmp_double_fn);
    for (size_t i = 0; i < n; i++)
        u += i == 0 || tmp[i] != tmp[i - 1];
    size_t max_bins = (size_t)sh->pr.max_bins;
    size_t nb = u <= max_bins ? u : max_bins;
    double *lo = malloc(nb * sizeof *lo), *hi = malloc(nb * sizeof *hi);
    if (!lo || !hi) {
        free(lo);
        free(hi);
        return MLOPS_ENOMEM;
    }
    size_t b = 0;
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && tmp[k] == tmp[i])
            k++;
        //  tmp[i..k) is one distinct value; it opens a new bin when exact,
        //  or when the previous bin holds its share of rows.
        if (i == 0 || u <= max_bins || (b + 1 < nb && (double)i >= (double)(b + 1) * n / nb)) {
            if (i > 0)
                b++;
            lo[b] = tmp[i];
        }
        hi[b] = tmp[i];
        i = k;
    }
    nb = b + 1;
    for (size_t i = 0; i < n; i++) {
        double x = X[i * p + j];
        size_t a = 0, z = nb - 1;
        while (a < z) {
            size_t m = (a + z + 1) / 2;
            if (lo[m] <= x)
                a = m;
            else
                z = m - 1;
        }
        sh->codes[i * p + j] = (uint8_t)a;
    }
    sh->lo[j] = lo, sh->hi[j] = hi, sh->n_bins[j] = (uint32_t)nb;
    return 0;
}

int forest_codes_fit(const double *X, size_t n, size_t p, int max_bins, forest_codes_t *out)
{
    //  The fit's own coding, run on a shared state that holds only what it reads.
    s_shared_t sh;
    memset(&sh, 0, sizeof sh);
    memset(out, 0, sizeof *out);
    sh.n = n, sh.p = p, sh.pr.max_bins = max_bins;
    sh.codes = malloc((n * p > 0 ? n * p : 1) * sizeof *sh.codes);
    sh.n_bins = calloc(p ? p : 1, sizeof *sh.n_bins);
    sh.lo = calloc(p ? p : 1, sizeof *sh.lo);
    sh.hi = calloc(p ? p : 1, sizeof *sh.hi);
    double *tmp = malloc((n ? n : 1) * sizeof *tmp);
    int ok = sh.codes && sh.n_bins && sh.lo && sh.hi && tmp;
    for (size_t j = 0; ok && j < p; j++)
        ok = s_bin_feature(&sh, X, j, tmp) == 0;
    free(tmp);
    *out = (forest_codes_t){n, p, sh.codes, sh.n_bins, sh.lo, sh.hi};
    if (!ok) {
        forest_codes_free(out);
        return MLOPS_ENOMEM;
    }
    return 0;
}

void forest_codes_free(forest_codes_t *c)
{
    for (size_t j = 0; c->lo && j < c->p; j++) {
        free(c->lo[j]);
        free(c->hi[j]);
    }
    free(c->lo), free(c->hi), free(c->n_bins), free(c->codes);
    memset(c, 0, sizeof *c);
}

/* --- split search ----------------------------------------------------- */

//  Groups of feature f on a node of modest size: one histogram plus a
//  bitmap of the ranks it touched, so reading it back costs the ranks
//  present (in order, from the bitmap), not all the feature's ranks.
static size_t s_sparse_groups(const s_shared_t *sh, s_work_t *wk, size_t f, size_t start,
                              size_t end)
{
    size_t stride = sh->stride, k = 0;
    s_packed_t *h = wk->sparse;
    uint64_t seen[4] = {0, 0, 0, 0};
    const uint8_t *r = wk->rec + start * stride, *stop = wk->rec + end * stride;
    if (wk->chist) {
        for (const uint8_t *q = r; q < stop; q += stride)
            wk->scnt[s_rec_codes(q)[f]]++;
    }
    for (; r < stop; r += stride) {
        unsigned c = s_rec_codes(r)[f];
        seen[c >> 6] |= (uint64_t)1 << (c & 63);
        h[c] += s_rec_pk(r);
    }
    for (unsigned w = 0; w < 4; w++)
        for (uint64_t bits = seen[w]; bits; bits &= bits - 1) {
            unsigned c = w * 64 + (unsigned)__builtin_ctzll(bits);
            wk->groups[k++] = s_unpack(c, h[c], wk->chist ? wk->scnt[c] : 1);
            h[c] = 0, wk->scnt[c] = 0;
        }
    return k;
}

//  One pass over the node's records fills the histograms of the nf
//  features. Consecutive rows often hit the same bin (few ranks: Sex,
//  Pclass; or a node already narrowed on the feature), and with one copy
//  of a histogram every add would wait for the previous one to land; so
//  each histogram has several copies and row i adds to copy i % copies:
//  4 copies for up to 64 ranks, 2 beyond.
static void s_copies(size_t nb, size_t *copies, size_t *cstride)
{
    *copies = nb <= 64 ? 4 : 2;
    *cstride = nb <= 16 ? 16 : nb <= 64 ? 64 : nb;
}

static size_t s_slot(const s_shared_t *sh)
{
    size_t bins = (size_t)sh->pr.max_bins;
    return 2 * (bins > 128 ? bins : 128);
}

static void s_histograms(const s_shared_t *sh, s_work_t *wk, const size_t *fs, size_t nf,
                         size_t start, size_t end)
{
    size_t slot = s_slot(sh), stride = sh->stride, m = end - start;
    s_packed_t *h[BATCH_MAX];
    size_t mask[BATCH_MAX], cs[BATCH_MAX];
    for (size_t t = 0; t < nf; t++) {
        size_t copies;
        s_copies(sh->n_bins[fs[t]], &copies, &cs[t]);
        h[t] = wk->hist + t * slot;
        mask[t] = copies - 1;
    }
    const uint8_t *r = wk->rec + start * stride;
    if (wk->chist) {
        for (size_t i = 0; i < m; i++, r += stride)
            for (size_t t = 0; t < nf; t++) {
                size_t at = t * slot + (i & mask[t]) * cs[t] + s_rec_codes(r)[fs[t]];
                wk->hist[at] += s_rec_pk(r);
                wk->chist[at]++;
            }
        return;
    }
    for (size_t i = 0; i < m; i++, r += stride) {
        s_packed_t v = s_rec_pk(r);
        const uint8_t *c = s_rec_codes(r);
        for (size_t t = 0; t < nf; t++)
            h[t][(i & mask[t]) * cs[t] + c[fs[t]]] += v;
    }
}

//  Reads histogram t of feature f into groups (merging its copies), zeroing
//  it behind.
static size_t s_hist_groups(const s_shared_t *sh, s_work_t *wk, size_t t, size_t f)
{
    size_t k = 0, nb = sh->n_bins[f], copies, cs;
    s_copies(nb, &copies, &cs);
    s_packed_t *h = wk->hist + t * s_slot(sh);
    uint32_t *ch = wk->chist ? wk->chist + t * s_slot(sh) : NULL;
    for (size_t c = 0; c < nb; c++) {
        s_packed_t v = 0;
        uint32_t cnt = 1;
        for (size_t k4 = 0; k4 < copies; k4++) {
            v += h[k4 * cs + c];
            h[k4 * cs + c] = 0;
        }
        if (ch) {
            cnt = 0;
            for (size_t k4 = 0; k4 < copies; k4++) {
                cnt += ch[k4 * cs + c];
                ch[k4 * cs + c] = 0;
            }
        }
        if (v)
            wk->groups[k++] = s_unpack((uint32_t)c, v, cnt);
    }
    return k;
}

//  Groups of a feature with at most 4 ranks, summed in registers: with
//  so few bins, memory histograms would have consecutive rows adding to
//  the same word, which stalls on every add.
static size_t s_few_groups(const s_shared_t *sh, s_work_t *wk, size_t f, size_t start,
                           size_t end)
{
    size_t stride = sh->stride;
    s_packed_t a0 = 0, a1 = 0, a2 = 0, tot = 0;
    uint32_t n0 = 0, n1 = 0, n2 = 0;
    const uint8_t *r = wk->rec + start * stride, *stop = wk->rec + end * stride;
    if (wk->chist) //  distinct rows are needed for min_samples_leaf > 1 only
        for (const uint8_t *q = r; q < stop; q += stride) {
            unsigned c = s_rec_codes(q)[f];
            n0 += c == 0, n1 += c == 1, n2 += c == 2;
        }
    if (sh->n_bins[f] == 2) { //  the common case: one-hot and yes/no columns
        for (; r < stop; r += stride) {
            s_packed_t v = s_rec_pk(r);
            a0 += s_rec_codes(r)[f] ? 0 : v;
            tot += v;
        }
        a1 = tot - a0;
        tot = a0 + a1;
    }
    for (; r < stop; r += stride) {
        s_packed_t v = s_rec_pk(r);
        unsigned c = s_rec_codes(r)[f];
        a0 += c == 0 ? v : 0, a1 += c == 1 ? v : 0, a2 += c == 2 ? v : 0;
        tot += v;
    }
    s_packed_t sum[4] = {a0, a1, a2, tot - a0 - a1 - a2};
    uint32_t cnt[4] = {n0, n1, n2, (uint32_t)(end - start) - n0 - n1 - n2};
    if (!wk->chist)
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
//  the first drawn, as in sklearn). Features with few ranks next to the
//  node's rows are histogrammed together in one pass; on a small node the
//  others are sorted. Returns how many were constant.
static size_t s_eval(const s_shared_t *sh, s_work_t *wk, const size_t *fs, size_t nf,
                     const s_pending_t *e, s_split_t *best)
{
    size_t m = e->end - e->start, constant = 0, min_leaf = (size_t)sh->pr.min_samples_leaf;
    size_t hf[BATCH_MAX], slot[BATCH_MAX], nh = 0;
    enum { SPARSE = -1, REGISTERS = -2 };
    for (size_t t = 0; t < nf; t++) {
        size_t nb = sh->n_bins[fs[t]];
        if (nb <= 4) {
            slot[t] = (size_t)REGISTERS;
        } else if (m >= DENSE_ROWS) {
            slot[t] = nh;
            hf[nh++] = fs[t];
        } else {
            slot[t] = (size_t)SPARSE;
        }
    }
    if (nh)
        s_histograms(sh, wk, hf, nh, e->start, e->end);
    for (size_t t = 0; t < nf; t++) {
        size_t k = slot[t] == (size_t)SPARSE      ? s_sparse_groups(sh, wk, fs[t], e->start, e->end)
                   : slot[t] == (size_t)REGISTERS ? s_few_groups(sh, wk, fs[t], e->start, e->end)
                                                  : s_hist_groups(sh, wk, slot[t], fs[t]);
        if (k < 2)
            constant++;
        else
            s_scan(wk, k, fs[t], m, e->w, e->wp, min_leaf, best);
    }
    return constant;
}

//  Draws max_features features without replacement, as sklearn's
//  BestSplitter does: a feature constant in the node counts as drawn, and
//  drawing goes on past max_features only while every drawn one was
//  constant. The first max_features draws are evaluated in one pass.
static void s_best_split(const s_shared_t *sh, s_work_t *wk, const s_pending_t *e,
                         s_split_t *best)
{
    size_t p = sh->p, mf = (size_t)sh->pr.max_features, k = 0, constant = 0;
    memset(best, 0, sizeof *best);
    while (k < p && (k < mf || k == constant)) {
        //  a batch: the rest of the first max_features, or one more
        size_t nf = k < mf ? mf - k : 1;
        nf = nf > BATCH_MAX ? BATCH_MAX : nf;
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

static double s_midpoint(double a, double b)
{
    double t = a / 2 + b / 2;
    return (t >= b || !isfinite(t)) ? a : t;
}

static double s_threshold(const s_shared_t *sh, const s_split_t *s)
{
    return s_midpoint(sh->hi[s->feature][s->bin], sh->lo[s->feature][s->next]);
}

double forest_codes_threshold(const forest_codes_t *c, size_t f, uint32_t b, uint32_t nb)
{
    return s_midpoint(c->hi[f][b], c->lo[f][nb]);
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
        memcpy(r + sizeof v, sh->codes + i * p, p);
        *w += c, *wp += cy;
    }
    return m;
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
    if (s_push_node(wk) || s_push_pending(wk, &top, (s_pending_t){0, m, 0, 0, w, wp}))
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
            continue;
        }
        size_t mid = s_partition(sh, wk, &e, &s);
        uint32_t left = (uint32_t)wk->n_nodes;
        if (s_push_node(wk) || s_push_node(wk))
            return -1;
        wk->nodes[e.node] = (forest_node_t){s_threshold(sh, &s), (int32_t)s.feature, left};
        if (s_push_pending(wk, &top, (s_pending_t){mid, e.end, e.depth + 1, left + 1,
                                                   e.w - s.wl, e.wp - s.wpl}) ||
            s_push_pending(wk, &top, (s_pending_t){e.start, mid, e.depth + 1, left, s.wl, s.wpl}))
            return -1;
    }
    return 0;
}

static void s_work_free(s_work_t *wk)
{
    free(wk->w);
    free(wk->rec);
    free(wk->feat);
    free(wk->hist);
    free(wk->chist);
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
    size_t batch = (size_t)sh->pr.max_features < BATCH_MAX ? (size_t)sh->pr.max_features
                                                            : BATCH_MAX;
    wk->w = malloc(n * sizeof *wk->w);
    wk->rec = aligned_alloc(8, n * sh->stride);
    wk->feat = malloc(sh->p * sizeof *wk->feat);
    wk->hist = calloc(batch * s_slot(sh), sizeof *wk->hist);
    if (sh->pr.min_samples_leaf > 1 && !(wk->chist = calloc(batch * s_slot(sh), sizeof *wk->chist)))
        return -1;
    wk->groups = malloc(bins * sizeof *wk->groups);
    wk->sparse = calloc(bins, sizeof *wk->sparse);
    wk->scnt = calloc(bins, sizeof *wk->scnt);
    return wk->w && wk->rec && wk->feat && wk->hist && wk->groups && wk->sparse && wk->scnt ? 0
                                                                                           : -1;
}

static void *s_thread_fn(void *arg)
{
    s_shared_t *sh = arg;
    s_work_t wk;
    if (s_work_init(sh, &wk) != 0) {
        atomic_store(&sh->failed, 1);
        s_work_free(&wk);
        return NULL;
    }
    for (;;) {
        size_t t = atomic_fetch_add(&sh->next, 1);
        if (t >= (size_t)sh->pr.n_trees || atomic_load(&sh->failed))
            break;
        if (s_grow_tree(sh, &wk, t) != 0) {
            atomic_store(&sh->failed, 1);
            break;
        }
        sh->trees[t] = malloc(wk.n_nodes * sizeof(forest_node_t));
        if (!sh->trees[t]) {
            atomic_store(&sh->failed, 1);
            break;
        }
        memcpy(sh->trees[t], wk.nodes, wk.n_nodes * sizeof(forest_node_t));
        sh->tree_len[t] = wk.n_nodes;
    }
    s_work_free(&wk);
    return NULL;
}

/* --- fit ---------------------------------------------------------------- */

void forest_run_threads(int n_threads, void *(*fn)(void *), void *arg)
{
    pthread_t th[256];
    int started = 0;
    for (int i = 1; i < n_threads && i < 256; i++, started++)
        if (pthread_create(&th[started], NULL, fn, arg) != 0)
            break;
    fn(arg);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
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

int forest_default_threads(void)
{
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c < 1 ? 1 : c > 256 ? 256 : (int)c;
}

static int s_resolve(forest_params_t *pr, size_t n, size_t p, mlops_err_t *err)
{
    pr->n_trees = pr->n_trees ? pr->n_trees : DEFAULT_TREES;
    pr->min_samples_leaf = pr->min_samples_leaf ? pr->min_samples_leaf : 1;
    pr->max_bins = pr->max_bins ? pr->max_bins : DEFAULT_MAX_BINS;
    pr->n_threads = pr->n_threads ? pr->n_threads : forest_default_threads();
    if (!pr->max_features) {
        pr->max_features = (int)floor(sqrt((double)p));
        pr->max_features = pr->max_features < 1 ? 1 : pr->max_features;
    }
    if (n == 0 || p == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "forest: no training rows or no features");
    if (n >= UINT32_MAX)
        return mlops_err_set(err, MLOPS_EINVAL, "forest: %zu rows exceed the limit", n);
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

static void s_shared_free(s_shared_t *sh)
{
    for (size_t j = 0; sh->lo && j < sh->p; j++) {
        free(sh->lo[j]);
        free(sh->hi[j]);
    }
    for (size_t t = 0; sh->trees && t < (size_t)sh->pr.n_trees; t++)
        free(sh->trees[t]);
    free(sh->lo);
    free(sh->hi);
    free(sh->n_bins);
    free(sh->codes);
    free(sh->trees);
    free(sh->tree_len);
}

static int s_check_data(const double *X, const uint8_t *y, size_t n, size_t p,
                        mlops_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return mlops_err_set(err, MLOPS_EINVAL, "forest: label %u in row %zu is not 0/1",
                                 y[i], i);
        for (size_t j = 0; j < p; j++)
            if (!isfinite(X[i * p + j]))
                return mlops_err_set(err, MLOPS_EINVAL,
                                     "forest: feature %zu of row %zu is not finite", j, i);
    }
    return 0;
}

//  Concatenates the trees into one forest, shifting child indexes.
static forest_t *s_assemble(s_shared_t *sh, mlops_err_t *err)
{
    size_t total = 0, T = (size_t)sh->pr.n_trees;
    for (size_t t = 0; t < T; t++)
        total += sh->tree_len[t];
    if (total >= UINT32_MAX) {
        mlops_err_set(err, MLOPS_ENOMEM, "forest: %zu nodes exceed the limit", total);
        return NULL;
    }
    forest_t *f = calloc(1, sizeof *f);
    if (f) {
        f->nodes = malloc(total * sizeof *f->nodes);
        f->roots = malloc(T * sizeof *f->roots);
    }
    if (!f || !f->nodes || !f->roots) {
        forest_destroy(&f);
        mlops_err_set(err, MLOPS_ENOMEM, "forest: out of memory for %zu nodes", total);
        return NULL;
    }
    size_t at = 0;
    for (size_t t = 0; t < T; t++) {
        f->roots[t] = (uint32_t)at;
        for (size_t k = 0; k < sh->tree_len[t]; k++) {
            forest_node_t nd = sh->trees[t][k];
            if (nd.feature >= 0)
                nd.left += (uint32_t)at;
            f->nodes[at + k] = nd;
        }
        at += sh->tree_len[t];
    }
    f->n_features = sh->p, f->n_trees = T, f->n_nodes = total;
    f->n_classes = 1;
    return f;
}

forest_t *forest_fit(const double *X, const uint8_t *y, size_t n, size_t p,
                     const forest_params_t *params, uint64_t seed, mlops_err_t *err)
{
    s_shared_t sh;
    memset(&sh, 0, sizeof sh);
    sh.pr = params ? *params : (forest_params_t){0};
    if (s_resolve(&sh.pr, n, p, err) != 0 || s_check_data(X, y, n, p, err) != 0)
        return NULL;
    sh.n = n, sh.p = p, sh.y = y, sh.seed = seed;
    sh.stride = sizeof(s_packed_t) + (p + 7) / 8 * 8;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.failed, 0);
    size_t T = (size_t)sh.pr.n_trees;
    sh.codes = malloc(n * p * sizeof *sh.codes);
    sh.n_bins = calloc(p, sizeof *sh.n_bins);
    sh.lo = calloc(p, sizeof *sh.lo);
    sh.hi = calloc(p, sizeof *sh.hi);
    sh.trees = calloc(T, sizeof *sh.trees);
    sh.tree_len = calloc(T, sizeof *sh.tree_len);
    double *tmp = malloc(n * sizeof *tmp);
    forest_t *f = NULL;
    int ok = sh.codes && sh.n_bins && sh.lo && sh.hi && sh.trees && sh.tree_len && tmp;
    for (size_t j = 0; ok && j < p; j++)
        ok = s_bin_feature(&sh, X, j, tmp) == 0;
    free(tmp);
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
