/*  cuts.c: sorting a feature's thresholds into its cuts (see cuts.h). */
#include "cuts.h"

#include <stdlib.h>

static int s_cmp_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t cuts_sort_unique(double *c, size_t m, double *out)
{
    size_t d = 0;
    qsort(c, m, sizeof *c, s_cmp_fn);
    for (size_t i = 0; i < m; i++) //  out + d <= c + i: each value is read before it is written over
        if (d == 0 || c[i] != out[d - 1])
            out[d++] = c[i];
    return d;
}
