/*  score.h: binary classification metrics on plain arrays, computed as
    scikit-learn computes them, so figures compare one to one:
    - predictions are proba >= 0.5;
    - precision with no predicted positive is 0 (zero_division=0);
    - ROC AUC is the trapezoid area over distinct thresholds, so tied scores
      count one half (roc_auc_score);
    - log loss clips probabilities to [1e-15, 1 - 1e-15] (log_loss, 1.2).
    metrics_t itself lives in records.h, since the registry stores it.
*/
#ifndef MLOPS_SCORE_H
#define MLOPS_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "records.h"

#define SCORE_LOGLOSS_EPS 1e-15 //  probability clipping of log loss

//  Fills out from n labels (0/1) and positive-class probabilities.
//  The AUC is NAN when y holds one class only (sklearn raises there).
//  Returns 0, MLOPS_EINVAL (n == 0, a label not 0/1, a probability outside
//  [0, 1] or NaN; the message names the index) or MLOPS_ENOMEM.
int score_compute(const uint8_t *y, const double *proba, size_t n, metrics_t *out,
                    mlops_err_t *err);

//  ROC AUC of scores against labels; NAN with one class, MLOPS-free.
//  Returns NAN on allocation failure too (callers check isnan).
double score_auc(const uint8_t *y, const double *score, size_t n);

//  Mean negative log-likelihood with clipping; n > 0.
double score_log_loss(const uint8_t *y, const double *proba, size_t n);

//  Mean and population standard deviation (numpy's np.std) of n values.
void score_mean_std(const double *v, size_t n, double *mean, double *std);

#endif
