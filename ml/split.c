/*  split.c: the stratified train/test split and K-fold (see split.h).

    Both start from the same step: each class's positions, shuffled with
    the class's own stream of the seed; the split cuts each class's list,
    the K-fold deals it round-robin.
*/
#include "split.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void s_members_free(size_t **members, size_t k)
{
    for (size_t c = 0; members && c < k; c++)
        free(members[c]);
    free(members);
}

//  Positions of each of k classes, shuffled with seed (class c's stream is
//  c + 1). y[i] >= k counts as class k - 1 (binary: anything not 0 is 1).
//  Returns 0 or MLOPS_ENOMEM.
static int s_members(const uint8_t *y, size_t n, size_t k, uint64_t seed, size_t ***members,
                     size_t *count, mlops_err_t *err)
{
    size_t **m = calloc(k, sizeof *m);
    memset(count, 0, k * sizeof *count);
    for (size_t i = 0; i < n; i++)
        count[y[i] < k ? y[i] : k - 1]++;
    for (size_t c = 0; m && c < k; c++)
        if (!(m[c] = malloc((count[c] ? count[c] : 1) * sizeof(size_t)))) {
            s_members_free(m, k);
            m = NULL;
        }
    if (!m)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    size_t *at = calloc(k, sizeof *at);
    if (!at) {
        s_members_free(m, k);
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        size_t c = y[i] < k ? y[i] : k - 1;
        m[c][at[c]++] = i;
    }
    free(at);
    for (size_t c = 0; c < k; c++) {
        rng_t rng;
        rng_seed(&rng, seed, (uint64_t)c + 1);
        rng_shuffle(&rng, m[c], count[c]);
    }
    *members = m;
    return 0;
}

static int s_class_members(const uint8_t *y, size_t n, uint64_t seed, size_t ***members,
                           size_t count[2], mlops_err_t *err)
{
    return s_members(y, n, 2, seed, members, count, err);
}

static int s_cmp_size_fn(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

int split_train_test(const uint8_t *y, size_t n, double fraction, uint64_t seed, size_t *train,
                     size_t *n_train, size_t *test, size_t *n_test, mlops_err_t *err)
{
    if (!(fraction > 0 && fraction < 1))
        return mlops_err_set(err, MLOPS_EINVAL, "test fraction %g is not in (0, 1)", fraction);
    size_t **members, count[2];
    if (s_class_members(y, n, seed, &members, count, err) != 0)
        return MLOPS_ENOMEM;
    //  As sklearn: ceil(fraction * n) test rows, shared in proportion, the
    //  remainder to the class with the larger fractional part.
    size_t want = (size_t)ceil(fraction * (double)n - 1e-9);
    double share0 = (double)want * (double)count[0] / (double)(n ? n : 1);
    double share1 = (double)want - share0;
    size_t t0 = (size_t)floor(share0), t1 = (size_t)floor(share1 + 1e-9);
    if (t0 + t1 < want) {
        if (share0 - floor(share0) >= share1 - floor(share1))
            t0++;
        else
            t1++;
    }
    int rc = 0;
    if (count[0] < 2 || count[1] < 2 || t0 == 0 || t1 == 0 || t0 >= count[0] || t1 >= count[1])
        rc = mlops_err_set(err, MLOPS_EINVAL,
                           "cannot split %zu rows (%zu of class 0, %zu of class 1) with "
                           "test fraction %g: each class needs rows on both sides",
                           n, count[0], count[1], fraction);
    if (rc == 0) {
        size_t a = 0, b = 0;
        for (int c = 0; c < 2; c++) {
            size_t t = c ? t1 : t0;
            for (size_t i = 0; i < count[c]; i++) {
                if (i < t)
                    test[b++] = members[c][i];
                else
                    train[a++] = members[c][i];
            }
        }
        qsort(train, a, sizeof *train, s_cmp_size_fn);
        qsort(test, b, sizeof *test, s_cmp_size_fn);
        *n_train = a, *n_test = b;
    }
    s_members_free(members, 2);
    return rc;
}

int split_kfold(const uint8_t *y, size_t n, int k, uint64_t seed, int *fold, mlops_err_t *err)
{
    if (k < 2 || k > SPLIT_MAX_FOLDS)
        return mlops_err_set(err, MLOPS_EINVAL, "K-fold needs K in 2..%d, not %d",
                             SPLIT_MAX_FOLDS, k);
    size_t **members, count[2];
    if (s_class_members(y, n, seed, &members, count, err) != 0)
        return MLOPS_ENOMEM;
    int rc = 0;
    if (count[0] < (size_t)k || count[1] < (size_t)k)
        rc = mlops_err_set(err, MLOPS_EINVAL,
                           "%d-fold needs at least %d rows of each class (have %zu and %zu)", k,
                           k, count[0], count[1]);
    //  Class 1 continues the round-robin where class 0 stopped, so fold
    //  sizes differ by at most one overall.
    size_t next = 0;
    for (int c = 0; rc == 0 && c < 2; c++)
        for (size_t i = 0; i < count[c]; i++)
            fold[members[c][i]] = (int)(next++ % (size_t)k);
    s_members_free(members, 2);
    return rc;
}

/* --- any number of classes ----------------------------------------------------- */

//  Test rows per class: want shared in proportion by largest remainders
//  (ties to the lower class), then capped so each class keeps a row in
//  training; a class of one row gets none (counted in *rare).
static size_t s_shares(const size_t *count, size_t k, size_t n, size_t want, size_t *t,
                       size_t *rare)
{
    size_t given = 0, total = 0;
    for (size_t c = 0; c < k; c++) {
        t[c] = (size_t)floor((double)want * (double)count[c] / (double)n);
        given += t[c];
    }
    while (given < want) {
        size_t best = k;
        double frac = -1;
        for (size_t c = 0; c < k; c++) {
            double f = (double)want * (double)count[c] / (double)n - (double)t[c];
            if (f > frac && t[c] < count[c])
                best = c, frac = f;
        }
        if (best == k)
            break;
        t[best]++, given++;
    }
    *rare = 0;
    for (size_t c = 0; c < k; c++) {
        *rare += count[c] == 1;
        if (count[c] > 0 && t[c] >= count[c])
            t[c] = count[c] - 1;
        total += t[c];
    }
    return total;
}

int split_train_test_classes(const uint8_t *y, size_t n, size_t n_classes, double fraction,
                             uint64_t seed, size_t *train, size_t *n_train, size_t *test,
                             size_t *n_test, size_t *n_rare, mlops_err_t *err)
{
    if (!(fraction > 0 && fraction < 1))
        return mlops_err_set(err, MLOPS_EINVAL, "test fraction %g is not in (0, 1)", fraction);
    if (n_classes == 0 || n_classes > 255)
        return mlops_err_set(err, MLOPS_EINVAL, "%zu classes: need 1..255", n_classes);
    size_t **members, *count = malloc(2 * n_classes * sizeof *count), rare = 0;
    if (!count)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    size_t *t = count + n_classes;
    if (s_members(y, n, n_classes, seed, &members, count, err) != 0) {
        free(count);
        return MLOPS_ENOMEM;
    }
    size_t want = (size_t)ceil(fraction * (double)n - 1e-9);
    int rc = 0;
    if (s_shares(count, n_classes, n ? n : 1, want, t, &rare) == 0)
        rc = mlops_err_set(err, MLOPS_EINVAL,
                           "cannot split %zu rows with test fraction %g: no class has rows "
                           "for both sides",
                           n, fraction);
    size_t a = 0, b = 0;
    for (size_t c = 0; rc == 0 && c < n_classes; c++)
        for (size_t i = 0; i < count[c]; i++) {
            if (i < t[c])
                test[b++] = members[c][i];
            else
                train[a++] = members[c][i];
        }
    if (rc == 0) {
        qsort(train, a, sizeof *train, s_cmp_size_fn);
        qsort(test, b, sizeof *test, s_cmp_size_fn);
        *n_train = a, *n_test = b;
        if (n_rare)
            *n_rare = rare;
    }
    s_members_free(members, n_classes);
    free(count);
    return rc;
}

int split_kfold_classes(const uint8_t *y, size_t n, size_t n_classes, int k, uint64_t seed,
                        int *fold, size_t *n_rare, mlops_err_t *err)
{
    if (k < 2 || k > SPLIT_MAX_FOLDS)
        return mlops_err_set(err, MLOPS_EINVAL, "K-fold needs K in 2..%d, not %d",
                             SPLIT_MAX_FOLDS, k);
    if (n < (size_t)k)
        return mlops_err_set(err, MLOPS_EINVAL, "%d-fold needs at least %d rows (have %zu)", k,
                             k, n);
    if (n_classes == 0 || n_classes > 255)
        return mlops_err_set(err, MLOPS_EINVAL, "%zu classes: need 1..255", n_classes);
    size_t **members, *count = malloc(n_classes * sizeof *count), next = 0, rare = 0;
    if (!count)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (s_members(y, n, n_classes, seed, &members, count, err) != 0) {
        free(count);
        return MLOPS_ENOMEM;
    }
    //  Round-robin across classes as the binary K-fold: a class with fewer
    //  rows than folds lands in some folds only (sklearn warns the same).
    for (size_t c = 0; c < n_classes; c++) {
        rare += count[c] > 0 && count[c] < (size_t)k;
        for (size_t i = 0; i < count[c]; i++)
            fold[members[c][i]] = (int)(next++ % (size_t)k);
    }
    if (n_rare)
        *n_rare = rare;
    s_members_free(members, n_classes);
    free(count);
    return 0;
}
