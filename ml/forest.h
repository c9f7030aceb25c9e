/*  forest.h: a random forest of CART trees for binary classification, as
    scikit-learn's RandomForestClassifier grows it: bootstrap samples (drawn
    as per-row counts, i.e. sample weights), Gini impurity, a fresh random
    subset of max_features features at every split (drawing goes on past
    max_features only while every drawn one was constant in the node, as
    in sklearn), thresholds half-way between
    adjacent values, trees grown until pure or min_samples_leaf / max_depth
    stop them. A probability is the mean over trees of the leaf's weighted
    fraction of class 1.

    Speed: every feature is binned once by bins.h (the binning the
    gradient-boosted trees use too), so a split search is a histogram over
    bins (register sums for features with up to 4 bins, a bitmap-indexed
    histogram on small nodes, several copies on large ones). That is exact,
    not an approximation, as long as a feature has at most max_bins
    (default 255) distinct values, as every Titanic feature does: each
    value is its own bin, and a threshold falls half-way between the values
    either side, as in sklearn. Beyond that (large data) the values are
    grouped into max_bins quantile bins, as histogram GBMs do, and
    thresholds fall between the bins' observed values. Each tree keeps its
    rows as contiguous records partitioned in place, so a node is one
    sequential run of memory. A binary node of 4096 rows or more holds the
    histograms of every feature; of its children only the smaller is
    summed, the larger is the parent's minus it (exact: integer sums).

    Size: a tree grown to purity has about as many leaves as distinct
    bootstrap rows, so 100 trees on 10 M rows would take gigabytes and
    their training time would grow as n log n. So min_samples_leaf 0 (the
    default) means forest_default_leaf(n) = max(1, n / 20000): 1 up to
    40,000 rows (Titanic-size fits are sklearn's trees), then growing with
    n, which holds a tree to at most about 0.63 x 20,000 leaves whatever
    n (the artifact of 100 trees measured 12.8 MB at 100 k synthetic rows,
    14.2 MB at 1 M), and the depth (so the passes over the rows) near
    constant: training time grows about linearly with rows.

    Determinism: tree i draws from its own generator seeded by (seed, i), and
    trees are stored in index order, so a forest is bit-identical for a
    seed whatever the thread count.

    Trees are flattened into one node array (children adjacent), which keeps
    prediction a tight loop over a few cache lines per tree; prediction
    walks a compact copy of it in which a threshold is a rank among its
    feature's thresholds, three levels a step where the CPU and the
    feature count allow (forest_predict.c).

    Other task types (forest_fit_task, grown by forest_task.c on the same
    codes, with the same bootstrap, feature draws and thresholds):
    - multiclass: Gini over the classes; a leaf holds the weighted class
      fractions (its node's left indexes a row of leaf_values), and a
      prediction is their mean over trees (predict_proba);
    - regression: squared error (variance reduction, as sklearn's
      "squared_error"); a leaf's value is the weighted mean of its rows,
      and a prediction the mean over trees. sklearn's RandomForestRegressor
      tries every feature at each split (max_features=1.0), so max_features
      0 means p here.
*/
#ifndef MLOPS_FOREST_H
#define MLOPS_FOREST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "task.h"

#define FOREST_MAX_TREES 10000  //  refuse more trees
#define FOREST_MAX_BINS 255     //  bins per feature at most (bins.h's BINS_MAX_VALUES)
#define FOREST_DEFAULT_TREES 100 //  n_trees 0
#define FOREST_LEAF_DIVISOR 20000 //  forest_default_leaf: n / this rows per leaf at least

typedef struct {
    int n_trees;          //  trees (0 = 100)
    int max_depth;        //  deepest split level, root = 0 (0 = unlimited)
    int min_samples_leaf; //  distinct rows at least in each leaf (0 = forest_default_leaf(n))
    int max_features;     //  features tried per split (0 = floor(sqrt(p)), at least 1)
    int max_bins;         //  bins per feature, distinct values kept exact up to it (0 = 255)
    int n_threads;        //  training threads (0 = online CPUs)
} forest_params_t;

typedef struct forest_node_s {
    double value;     //  split threshold (go left when x <= value), or leaf P(class 1)
    int32_t feature;  //  feature index, -1 for a leaf
    uint32_t left;    //  index of the left child in nodes; the right is left + 1
} forest_node_t;

//  The nodes as prediction walks them (forest_predict.c): octos (three
//  levels a step) or 8-byte steps, comparing ranks, and the per-feature
//  threshold tables that code a row into ranks.
typedef struct forest_steps_s forest_steps_t;

typedef struct {
    size_t n_features; //  p
    size_t n_trees;    //  trees
    size_t n_nodes;    //  nodes of all trees
    forest_node_t *nodes; //  n_nodes nodes, owned
    uint32_t *roots;   //  n_trees root indexes into nodes, owned
    task_t task;  //  BINARY / REGRESSION: a leaf's value; MULTICLASS: leaf_values
    size_t n_classes;  //  MULTICLASS: values per leaf; else 1
    size_t n_leaves;   //  MULTICLASS: rows of leaf_values
    double *leaf_values; //  MULTICLASS: n_leaves x n_classes fractions, owned; a leaf's
                         //  node has feature -1 and left = its row
    _Atomic(forest_steps_t *) steps; //  nodes as prediction walks them, built on first
                                     //  use (NULL until then), owned: one block
} forest_t;

//  Grows a forest on n rows of X (row-major, n x p), labels y in {0, 1}.
//  params may be NULL for the defaults. Returns a new forest or NULL with
//  err: MLOPS_EINVAL (no rows, a label not 0/1, a non-finite feature, bad
//  params), MLOPS_ENOMEM, MLOPS_ECANCELED (the worker's task was cancelled,
//  progress.h).
forest_t *forest_fit(const double *X, const uint8_t *y, size_t n, size_t p,
                     const forest_params_t *params, uint64_t seed, mlops_err_t *err);

//  Grows a forest for any task: y holds class indexes 0..n_classes-1 as
//  doubles (BINARY, MULTICLASS) or targets (REGRESSION). BINARY is
//  forest_fit. Same errors, plus MLOPS_EINVAL for a label out of range or
//  a non-finite target.
forest_t *forest_fit_task(task_t task, const double *X, const double *y, size_t n,
                          size_t p, size_t n_classes, const forest_params_t *params,
                          uint64_t seed, mlops_err_t *err);

//  forest_new for any task; leaf_values (n_leaves x n_classes, MULTICLASS
//  only, else NULL and 0) is copied and checked too (fractions in [0, 1],
//  each leaf's row in range; REGRESSION leaves finite).
forest_t *forest_new_task(task_t task, size_t p, size_t n_classes, size_t n_trees,
                          const uint32_t *roots, size_t n_nodes, const forest_node_t *nodes,
                          size_t n_leaves, const double *leaf_values, mlops_err_t *err);

//  Values per row of forest_predict_outputs: n_classes for MULTICLASS, else 1.
size_t forest_outputs(const forest_t *self);

//  Outputs of n rows (row-major X) into out (n x forest_outputs): P(class 1),
//  the class probabilities or the prediction.
void forest_predict_outputs(const forest_t *self, const double *X, size_t n, double *out);

//  Builds a forest from stored arrays (copied), checking that every child
//  index and feature is in range and that each tree is a tree (children
//  after their parent). Returns NULL with err MLOPS_ECORRUPT or MLOPS_ENOMEM.
forest_t *forest_new(size_t p, size_t n_trees, const uint32_t *roots, size_t n_nodes,
                     const forest_node_t *nodes, mlops_err_t *err);

//  Frees; ignores NULL; sets *p to NULL.
void forest_destroy(forest_t **p);

//  Probability of class 1 for one row of p features: the mean over trees of
//  the leaf values, summed in tree order (forest_predict.c walks the trees
//  in lock step; the same bits as walking them one by one).
double forest_predict_one(const forest_t *self, const double *x);

//  Probabilities of class 1 for n rows of X (row-major, n x p) into proba:
//  the same bits as forest_predict_one, each tree walked by a block of rows
//  in lock step, and large batches (16384 rows and more) shared out over
//  the online CPUs.
void forest_predict(const forest_t *self, const double *X, size_t n, double *proba);

//  forest_predict, kept for the serving path's blocks (model.c).
void forest_predict_block(const forest_t *self, const double *X, size_t n, double *proba);

//  Which walk forest_predict takes for self, built on first use: "octo"
//  (three levels a step, forest_predict.c), "steps" (one level a step) or
//  "plain" (the stored nodes: the steps could not be built). For tests and
//  benchmarks.
const char *forest_walk_name(const forest_t *self);

//  The thread count forest_fit uses for n_threads = 0.
int forest_default_threads(void);

//  The min_samples_leaf a fit on n rows uses for 0: max(1, n / 20000).
int forest_default_leaf(size_t n);

#endif
