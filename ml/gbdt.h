/*  gbdt.h: histogram gradient-boosted trees for the three task types, as
    scikit-learn's HistGradientBoosting{Classifier,Regressor} grow them.

    Each iteration fits one tree per output (one for binary and regression,
    one per class for multiclass) to the gradients and hessians of the loss
    at the current raw predictions: log loss (binary), softmax cross-entropy
    (multiclass), half squared error (regression). Features are binned once
    (bins.h: 255 quantile bins and a missing bin); a tree grows leaf-wise,
    always splitting the leaf of largest gain, until max_leaf_nodes leaves,
    max_depth, min_samples_leaf or no positive gain stop it. A split's gain
    is GL^2/(HL+l2) + GR^2/(HR+l2) - G^2/(H+l2); a leaf's value is
    -learning_rate * G / (H + l2). Missing values go to whichever side
    gives the larger gain (to the larger child when training had none).
    Categorical features split on a set of levels, found by sorting levels
    by G/(H + 10) as sklearn and LightGBM do.

    Early stopping: with early_stopping GBDT_EARLY_AUTO it is on when there
    are more than 10000 rows (sklearn's 'auto'): a validation slice of
    validation_fraction (stratified for classes) is held out, and training
    stops once the validation loss has not improved by tol over the last
    n_iter_no_change iterations; the trees grown until then are kept.
    Differences from sklearn: the validation slice is drawn with our own
    generator, bins are fitted on every row, and repeated quantile edges
    are merged.

    Threads: histograms and split searches run one feature per thread,
    gradients and updates over fixed row blocks; every sum is taken in a
    fixed order, so a model is bit-identical for a seed whatever n_threads.

    Prediction (gbdt_predict.c) codes each row once into ranks and walks a
    copy of the nodes built on first use, many walks in lock step with no
    branch on the data; raw values are summed over trees in tree order (the
    same bits as the plain walk, gbdt_leaf_of) and turned into P(class 1),
    K probabilities or a value. The first prediction of a model builds the
    copy (about the nodes' size again); models are not changed after fit.
*/
#ifndef MLOPS_GBDT_H
#define MLOPS_GBDT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "task.h"

#define GBDT_MAX_ITER 100000     //  refuse more iterations
#define GBDT_MAX_LEAVES 65536    //  refuse larger trees
#define GBDT_MAX_ROWS 0xfffffffe //  row indexes are 32-bit

enum {
    GBDT_EARLY_AUTO = 0, //  on when more than 10000 rows
    GBDT_EARLY_ON = 1,
    GBDT_EARLY_OFF = 2,
};

typedef struct {
    int max_iter;               //  boosting iterations, >= 1 (100)
    double learning_rate;       //  shrinkage of leaf values, > 0 (0.1)
    int max_leaf_nodes;         //  leaves per tree, 2..GBDT_MAX_LEAVES (31)
    int max_depth;              //  deepest split level, root = 0; 0 = unlimited (0)
    int min_samples_leaf;       //  rows at least in each leaf, >= 1 (20)
    double l2_regularization;   //  L2 penalty on leaf values, >= 0 (0)
    int max_bins;               //  non-missing bins per feature, 2..255 (255)
    int early_stopping;         //  GBDT_EARLY_* (AUTO)
    double validation_fraction; //  held-out share when stopping early, in (0, 1) (0.1)
    int n_iter_no_change;       //  iterations without improvement before stopping, >= 1 (10)
    double tol;                 //  least loss improvement that counts, >= 0 (1e-7)
    const uint8_t *categorical; //  per feature 1 if categorical, or NULL (borrowed by fit)
    int n_threads;              //  training threads; 0 = online CPUs (0)
    int n_classes;              //  multiclass outputs, above the largest label when the
                                //  training rows lack the top classes; 0 = largest + 1 (0)
} gbdt_params_t;

typedef struct {
    double value;         //  split: the threshold (left when x <= value); leaf: raw value
    int32_t feature;      //  split feature, -1 for a leaf
    uint32_t left;        //  index of the left child in nodes; the right is left + 1
    uint8_t missing_left; //  a NaN (or an unseen level) goes left
    uint8_t categorical;  //  split on a level set: levels[cat_set] replaces value
    uint32_t cat_set;     //  categorical: index of the split's level set in cat_sets
} gbdt_node_t;

typedef struct {
    task_t task;          //  what is predicted
    size_t n_features;    //  p
    size_t n_outputs;     //  raw values per row: n_classes for multiclass, else 1
    size_t n_iter;        //  iterations kept
    double *baseline;     //  n_outputs raw values before any tree, owned
    size_t n_trees;       //  n_iter * n_outputs; tree of iteration i, output k at i * n_outputs + k
    uint32_t *roots;      //  n_trees root indexes into nodes, owned
    size_t n_nodes;       //  nodes of all trees
    gbdt_node_t *nodes;   //  owned
    size_t n_cat_sets;    //  level sets of categorical splits
    uint64_t *cat_sets;   //  4 words (levels 0..255) per set, owned
    double *val_loss;     //  n_iter + 1 validation losses (baseline first), or NULL
    _Atomic(struct gbdt_walk_s *) walk; //  nodes as prediction walks them (gbdt_predict.c),
                                        //  built on first use, owned; NULL until then
} gbdt_t;

//  scikit-learn's defaults, as listed on each field.
gbdt_params_t gbdt_params_default(void);

//  Fits on n rows of X (row-major, n x p; NaN is a missing value) with
//  targets y: 0 / 1 for TASK_BINARY, 0 .. K-1 for TASK_MULTICLASS, finite
//  reals for TASK_REGRESSION. params may be NULL for the defaults; seed
//  draws the validation slice and the binning subsample. Returns a new
//  model or NULL with err: MLOPS_EINVAL (no rows or features, too many
//  rows, an infinite feature, a label not of its task (naming the row), a
//  single class, a class at or over TASK_MAX_CLASSES, a NaN or infinite
//  regression target, bad params, a bad categorical value), MLOPS_ENOMEM,
//  MLOPS_ECANCELED (the worker's task was cancelled, progress.h).
gbdt_t *gbdt_fit(const double *X, const double *y, size_t n, size_t p, task_t task,
                 const gbdt_params_t *params, uint64_t seed, mlops_err_t *err);

//  Builds a model from stored arrays (copied; the artifact codec's
//  constructor): n_outputs raw baselines, n_trees roots (n_trees a whole
//  number of iterations of n_outputs trees), n_nodes nodes and n_cat_sets
//  level sets of 4 words each. Checks everything a walk relies on: the
//  task and its output count, finite baselines and leaf values, every root
//  and child in range with children after their parent (so every walk
//  ends), features below p, thresholds not NaN, flags 0 or 1, level sets
//  in range and holding no level at or over BINS_MAX_LEVEL. Returns NULL
//  with err MLOPS_ECORRUPT (naming the array and index) or MLOPS_ENOMEM.
gbdt_t *gbdt_new(task_t task, size_t p, size_t n_outputs, const double *baseline,
                 size_t n_trees, const uint32_t *roots, size_t n_nodes, const gbdt_node_t *nodes,
                 size_t n_cat_sets, const uint64_t *cat_sets, mlops_err_t *err);

//  Frees; ignores NULL; sets *p to NULL.
void gbdt_destroy(gbdt_t **p);

//  Predicts one row of p features into out: P(class 1) (binary), n_outputs
//  class probabilities (multiclass) or the value (regression).
void gbdt_predict_row(const gbdt_t *self, const double *x, double *out);

//  Predicts n rows of X (row-major, n x p) into out (n x n_outputs,
//  row-major): the same values as gbdt_predict_row, to the bit. Blocks of
//  rows are coded once and walked tree by tree; fewer than 4 rows go one
//  at a time. The first call on a model builds its walk (gbdt_predict.c);
//  if that fails (out of memory) the plain walk answers, the same values.
void gbdt_predict_block(const gbdt_t *self, const double *X, size_t n, double *out);

//  The raw (link-scale) sums for one row into raw (n_outputs values).
void gbdt_predict_raw(const gbdt_t *self, const double *x, double *raw);

//  The leaf row x reaches in the tree whose root is nodes[root], by the
//  stored nodes: the plain walk every prediction equals (fitting uses it
//  on its validation rows). NaN and unseen levels follow missing_left.
const gbdt_node_t *gbdt_leaf_of(const gbdt_t *self, uint32_t root, const double *x);

//  How predictions walk: "steps" (the coded walk, gbdt_predict.c) or
//  "plain" (it could not be built). Builds the walk. For tests and benches.
const char *gbdt_walk_name(const gbdt_t *self);

#endif
