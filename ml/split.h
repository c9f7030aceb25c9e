/*  split.h: the seeded stratified splits of a labelled data set: one
    train/test split (the preprocess stage's held-out rows) and K-fold
    assignments (`mlops train --cv`).

    Both work on positions 0..n-1 of a label array, so the caller decides
    which rows they stand for (train_prepare skips rows without a label).
    Each class is shuffled with its own rng.h stream of the seed, so a split
    depends only on the labels and the seed.
*/
#ifndef MLOPS_SPLIT_H
#define MLOPS_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SPLIT_MAX_FOLDS 100 //  K of K-fold

//  Stratified split of the n items with labels y: test gets ceil(fraction * n)
//  items shared out between the classes in proportion, shuffled with seed.
//  train / test must hold n entries; writes item positions (0..n-1) in
//  ascending order. Returns 0, or MLOPS_EINVAL (fraction outside (0, 1), a
//  class too small to appear on both sides), MLOPS_ENOMEM.
int split_train_test(const uint8_t *y, size_t n, double fraction, uint64_t seed, size_t *train,
                     size_t *n_train, size_t *test, size_t *n_test, mlops_err_t *err);

//  Stratified K-fold: writes fold[i] in 0..k-1 for each item; each class is
//  shuffled with seed and dealt round-robin, so folds differ in size by at
//  most one per class. Returns 0, or MLOPS_EINVAL (k < 2, k over
//  SPLIT_MAX_FOLDS, a class with fewer than k items), MLOPS_ENOMEM.
int split_kfold(const uint8_t *y, size_t n, int k, uint64_t seed, int *fold, mlops_err_t *err);

//  The same for n_classes classes (y[i] < n_classes; regression passes one
//  class of zeros for a plain shuffled split): test rows are shared between
//  the classes in proportion (largest remainders); a class keeps at least
//  one row in training, so a class of a single row is in training only;
//  *n_rare (may be NULL) counts such classes. Returns 0, or MLOPS_EINVAL
//  (fraction, class count, no test row possible), MLOPS_ENOMEM.
int split_train_test_classes(const uint8_t *y, size_t n, size_t n_classes, double fraction,
                             uint64_t seed, size_t *train, size_t *n_train, size_t *test,
                             size_t *n_test, size_t *n_rare, mlops_err_t *err);

//  K-fold for n_classes classes, dealt as split_kfold deals them. A class
//  with fewer rows than k is not an error: its rows land in the first folds
//  of its turn and the other folds lack it (as sklearn's StratifiedKFold,
//  which warns); *n_rare (may be NULL) counts such classes. Returns 0, or
//  MLOPS_EINVAL (k outside 2..SPLIT_MAX_FOLDS, fewer than k rows),
//  MLOPS_ENOMEM.
int split_kfold_classes(const uint8_t *y, size_t n, size_t n_classes, int k, uint64_t seed,
                        int *fold, size_t *n_rare, mlops_err_t *err);

#endif
