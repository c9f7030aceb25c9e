/*  cuts.h: a feature's cuts (the sorted distinct thresholds a tree
    ensemble splits it at) and the rank that codes a value against them:
    the number of cuts below it, so that x > cut[k] exactly when
    rank(x) > k. forest_predict.c and gbdt_predict.c code each row once
    into ranks and then walk their trees comparing small integers.
*/
#ifndef MLOPS_CUTS_H
#define MLOPS_CUTS_H

#include <stddef.h>
#include <stdint.h>

//  Sorts the m values of c ascending and writes the distinct ones to out
//  (-0 and +0 compare equal: one cut), which may be c itself or anywhere
//  before it. Returns how many. No NaN among them.
size_t cuts_sort_unique(double *c, size_t m, double *out);

//  The number of the m ascending cuts below x: x > cut is false for NaN,
//  so NaN ranks 0; for x one of the cuts, its index. Without branches on
//  the data. Inline: it is the inner loop of coding rows.
static inline uint32_t cuts_rank(const double *cut, uint32_t m, double x)
{
    if (m == 0)
        return 0;
    const double *b = cut;
    while (m > 1) {
        uint32_t half = m / 2;
        b = x > b[half - 1] ? b + half : b;
        m -= half;
    }
    return (uint32_t)(b - cut) + (x > *b);
}

#endif
