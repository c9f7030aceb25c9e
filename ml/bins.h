/*  bins.h: histogram binning of a feature matrix, shared by the tree
    learners (gbdt, and the forest once it moves onto it).

    Fitting finds, per feature, at most max_bins (default 255) bins for the
    non-missing values, as scikit-learn's HistGradientBoosting (_BinMapper)
    does: a feature with at most max_bins distinct values gets one bin per
    value, with edges half-way between neighbours; a larger one gets
    quantile edges (numpy's "midpoint" percentiles at 1/max_bins steps),
    computed on a subsample of BINS_SUBSAMPLE rows drawn with a seed, so
    bins are the same for a seed. Unlike sklearn, repeated quantile edges
    are merged (sklearn keeps empty bins). Missing values (NaN) always go
    to the bin BINS_MISSING. A categorical feature gets one bin per level
    seen (levels are integers in [0, BINS_MAX_LEVEL)); an unseen level maps
    to BINS_MISSING.

    Applying gives a column-major matrix of one-byte codes: code[f * n + i]
    is row i's bin for feature f, so a histogram pass over one feature reads
    one contiguous column. A split "code <= b" on a numeric feature is the
    split "x <= bins_threshold(f, b)" on raw values, so a tree grown on codes
    predicts on raw rows without the mapper.

    The histogram of a node holds per bin the sums of gradient and hessian
    and the row count; a node's sibling histogram is the parent's minus its
    own (bins_hist_subtract), so only the smaller child is ever summed.
*/
#ifndef MLOPS_BINS_H
#define MLOPS_BINS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define BINS_MAX 256           //  bins per feature with the missing bin: codes are bytes
#define BINS_MISSING 255       //  the code of a missing (NaN) value or an unseen level
#define BINS_MAX_VALUES 255    //  non-missing bins per feature at most
#define BINS_SUBSAMPLE 200000  //  rows drawn to find a large column's quantiles
#define BINS_MAX_LEVEL 255     //  categorical levels are integers in [0, 255)
#define BINS_ALMOST_INF 1e300  //  edges are clipped here: +inf marks the split on NaN

typedef struct {
    int max_bins;               //  non-missing bins per numeric feature, 2..255 (0 = 255)
    size_t subsample;           //  rows drawn for quantiles (0 = BINS_SUBSAMPLE)
    const uint8_t *categorical; //  per feature 1 if categorical, or NULL (borrowed by fit)
    int n_threads;              //  threads for fit and apply (0 = online CPUs)
} bins_params_t;

typedef struct {
    size_t n_features;     //  p
    uint16_t *n_bins;      //  per feature: non-missing bins, 1..BINS_MAX_VALUES, owned
    uint8_t *categorical;  //  per feature: 1 if categorical, owned
    double **edges;        //  per feature, owned: numeric: n_bins - 1 increasing upper
                           //  edges (bin b holds edges[b-1] < x <= edges[b]);
                           //  categorical: the level of each of the n_bins bins
    int n_threads;         //  resolved thread count
} bins_t;

//  Per-bin sums of one feature over one node's rows.
typedef struct {
    double g;        //  sum of gradients
    double h;        //  sum of hessians
    uint32_t count;  //  rows
} bins_hist_t;

//  Fits the bins of n rows of X (row-major, n x p). NaN is a missing value;
//  params may be NULL for the defaults. Returns a new mapper or NULL with
//  err: MLOPS_EINVAL (no rows or features, bad params, a categorical value
//  that is not an integer in [0, BINS_MAX_LEVEL), naming feature and row),
//  MLOPS_ENOMEM.
bins_t *bins_fit(const double *X, size_t n, size_t p, const bins_params_t *params,
                 uint64_t seed, mlops_err_t *err);

//  Builds a mapper from stored edges (copied), checking bin counts, that
//  numeric edges increase and levels are distinct integers in range.
//  Returns NULL with err MLOPS_ECORRUPT or MLOPS_ENOMEM.
bins_t *bins_new(size_t p, const uint16_t *n_bins, const uint8_t *categorical,
                 const double *const *edges, mlops_err_t *err);

//  Frees; ignores NULL; sets *p to NULL.
void bins_destroy(bins_t **p);

//  The code of raw value x of feature f.
uint8_t bins_code(const bins_t *self, size_t f, double x);

//  Codes n rows of X (row-major, n x p) into a new column-major n x p byte
//  matrix (code of row i, feature f at [f * n + i]), the caller's to free.
//  NULL with err MLOPS_ENOMEM.
uint8_t *bins_apply(const bins_t *self, const double *X, size_t n, mlops_err_t *err);

//  The raw threshold of the numeric split "code <= b" (b < n_bins[f]): go
//  left when x <= the result. +INFINITY for the last bin (every non-missing
//  value left, NaN right).
double bins_threshold(const bins_t *self, size_t f, unsigned b);

//  Adds n rows to hist (BINS_MAX bins, zeroed by the caller): row k is
//  rows[k] (or k when rows is NULL), its code codes[row], its gradient g[k]
//  and hessian h[k] (g and h in the order of rows, not indexed by row), or
//  a hessian of 1 when h is NULL.
void bins_hist_build(bins_hist_t *hist, const uint8_t *codes, const uint32_t *rows,
                     size_t n, const float *g, const float *h);

//  out = parent - child, bin by bin over BINS_MAX bins: the sibling's
//  histogram. out may alias parent.
void bins_hist_subtract(bins_hist_t *out, const bins_hist_t *parent, const bins_hist_t *child);

//  The thread count for n_threads = 0: the online CPUs.
int bins_default_threads(void);

#endif
