/*  metrics.h: whether two sets of test metrics (metrics_t, records.h) are
    the same figures: load_model's re-score of an artifact against what
    evaluate recorded for it, compared by the load_model worker and again
    by the broker before it promotes (so a forged evaluate RESULT cannot put
    a model into production on metrics that are not the artifact's).

    Every metric of metrics_t's field table (records.c) is compared, so a
    metric added there is compared without a change here: floats within
    METRICS_TOLERANCE of the larger magnitude (1 at least), NaN equal to NaN
    only (an AUC on one class is NaN on both sides); the confusion counts
    by the same rule, which for counts under 10^9 means equal.
*/
#ifndef MLOPS_METRICS_H
#define MLOPS_METRICS_H

#include <stdbool.h>

#include "records.h"

#define METRICS_TOLERANCE 1e-9   //  relative, against max(1, |a|, |b|)

//  The first metric two sets disagree on.
typedef struct {
    const char *name;   //  the metric's key ("auc"), static
    double got, want;   //  its two values (integers as doubles)
} metrics_diff_t;

//  True when got and want differ on some metric; *diff (may be NULL) then
//  names the first in table order.
bool metrics_differ(const metrics_t *got, const metrics_t *want, metrics_diff_t *diff);

#endif
