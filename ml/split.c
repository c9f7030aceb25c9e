/*  split.c: the stratified train/test split and K-fold (see split.h).

    Both start from the same step: each class's positions, shuffled with
    the class's own stream of the seed; the split cuts each class's list,
    the K-fold deals it round-robin.
*/
#include "split.h"
#include "rng.h"

#include <math.h>
#include <stdlib.h>

static void s_members_free(size_t *members[2])
{
    free(members[0]);
    free(members[1]);
    members[0] = members[1] = NULL;
}

//  Positions of each class, shuffled with seed (class c's stream is c + 1).
//  Returns 0 or MLOPS_ENOMEM (members freed).
static int s_class_members(const uint8_t *y, size_t n, uint64_t seed, size_t *members[2],
                           size_t count[2], mlops_err_t *err)
{
    count[0] = count[1] = 0;
    for (size_t i = 0; i < n; i++)
        count[y[i] ? 1 : 0]++;
    for (int c = 0; c < 2; c++)
        members[c] = malloc((count[c] ? count[c] : 1) * sizeof(size_t));
    if (!members[0] || !members[1]) {
        s_members_free(members);
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    size_t at[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        int c = y[i] ? 1 : 0;
        members[c][at[c]++] = i;
    }
    for (int c = 0; c < 2; c++) {
        rng_t rng;
        rng_seed(&rng, seed, (uint64_t)c + 1);
        rng_shuffle(&rng, members[c], count[c]);
    }
    return 0;
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
    size_t *members[2], count[2];
    if (s_class_members(y, n, seed, members, count, err) != 0)
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
    s_members_free(members);
    return rc;
}

int split_kfold(const uint8_t *y, size_t n, int k, uint64_t seed, int *fold, mlops_err_t *err)
{
    if (k < 2 || k > SPLIT_MAX_FOLDS)
        return mlops_err_set(err, MLOPS_EINVAL, "K-fold needs K in 2..%d, not %d",
                             SPLIT_MAX_FOLDS, k);
    size_t *members[2], count[2];
    if (s_class_members(y, n, seed, members, count, err) != 0)
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
    s_members_free(members);
    return rc;
}
