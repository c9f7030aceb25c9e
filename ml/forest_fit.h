/*  forest_fit.h: private to the forest's training (forest.c grows binary
    trees, forest_task.c multiclass and regression trees): what every
    forest fit shares, so that each engine holds only its split search.

    - the codes: every feature binned once by bins.h (the one binning of
      the tree families), plus the smallest and largest training value in
      each bin, so that a split is placed half-way between the observed
      values either side, as exact CART places it. A feature with at most
      max_bins distinct values gets one bin per value, so the trees are
      those of exact CART (Titanic's features all are);
    - the parameters' defaults and checks;
    - the grown trees: one slot per tree index, filled by whichever thread
      grew it, assembled in index order into one forest_t, so a forest is
      the same for a seed whatever the thread count.
*/
#ifndef MLOPS_FOREST_FIT_H
#define MLOPS_FOREST_FIT_H

#include "forest.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t n, p;        //  rows, features
    uint8_t *codes;     //  column-major: row i's code of feature f at [f * n + i], owned
    uint32_t *n_bins;   //  per feature, owned
    double **lo, **hi;  //  per feature: smallest / largest training value of each bin, owned
} forest_codes_t;

//  Bins X (n x p, every value finite) with at most max_bins bins per
//  feature (quantiles drawn with seed beyond that). Returns 0 or
//  MLOPS_ENOMEM (out freed).
int forest_codes_fit(const double *X, size_t n, size_t p, int max_bins, int n_threads,
                     uint64_t seed, forest_codes_t *out);

//  Frees; safe on a zeroed struct.
void forest_codes_free(forest_codes_t *c);

//  The threshold between bin b and the next bin nb present in a node of
//  feature f: half-way between their observed values.
double forest_codes_threshold(const forest_codes_t *c, size_t f, uint32_t b, uint32_t nb);

//  Fills the defaults of pr for task on n rows of p features and checks
//  it; min_samples_leaf 0 becomes forest_default_leaf(n). Returns 0 or
//  MLOPS_EINVAL (naming the parameter).
int forest_params_resolve(task_t task, forest_params_t *pr, size_t n, size_t p,
                          mlops_err_t *err);

//  MLOPS_EINVAL naming the first non-finite feature value, else 0.
int forest_check_features(const double *X, size_t n, size_t p, mlops_err_t *err);

//  The trees of one fit, as the threads grow them.
typedef struct {
    task_t task;            //  what a leaf holds
    size_t p;               //  features
    size_t k;               //  values per leaf (MULTICLASS: classes; else 1)
    size_t n_trees;         //  slots
    forest_node_t **nodes;  //  per tree: its nodes (child indexes local to it), owned
    size_t *n_nodes;        //  per tree
    double **leaves;        //  per tree, MULTICLASS: n_leaves x k fractions, owned
    size_t *n_leaves;       //  per tree
    atomic_size_t next;     //  next tree index to grow
    atomic_int failed;      //  a thread ran out of memory
    atomic_size_t kept;     //  trees grown and kept, for progress.h
} forest_grown_t;

//  Returns 0 or MLOPS_ENOMEM.
int forest_grown_init(forest_grown_t *g, task_t task, size_t p, size_t k, size_t n_trees);

//  The next tree index for a thread to grow, or n_trees when all are
//  taken or the fit failed.
size_t forest_grown_next(forest_grown_t *g);

//  Marks the fit failed (out of memory): the other threads stop.
void forest_grown_fail(forest_grown_t *g);

//  Copies tree t (nodes, and its leaf rows for MULTICLASS). Returns 0 or
//  -1 when out of memory.
int forest_grown_keep(forest_grown_t *g, size_t t, const forest_node_t *nodes, size_t n_nodes,
                      const double *leaves, size_t n_leaves);

//  Runs fn(arg) on n_threads threads (at most one per tree), this one
//  included, and waits; then one forest from the trees in index order
//  (child and leaf indexes shifted), or NULL with err MLOPS_ENOMEM.
forest_t *forest_grown_run(forest_grown_t *g, int n_threads, void *(*fn)(void *), void *arg,
                           mlops_err_t *err);

//  Frees; safe on a zeroed struct.
void forest_grown_free(forest_grown_t *g);

//  Appends a zeroed leaf to a growable node array. Returns 0, or -1 when
//  out of memory.
int forest_nodes_push(forest_node_t **nodes, size_t *n, size_t *cap);

#endif
