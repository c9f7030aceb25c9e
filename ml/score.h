/*  score.h: binary classification metrics on plain arrays, computed as
    scikit-learn computes them, so figures compare one to one:
    - predictions are proba >= 0.5;
    - precision with no predicted positive is 0 (zero_division=0);
    - ROC AUC is the trapezoid area over distinct thresholds, so tied scores
      count one half (roc_auc_score);
    - log loss clips probabilities to [1e-15, 1 - 1e-15] (log_loss, 1.2).
    metrics_t itself lives in records.h, since the registry stores it.

    Multiclass and regression metrics (score_t) as sklearn computes them:
    accuracy, macro F1 (f1_score(average="macro"): the unweighted mean of
    each class's F1 over the classes present in the labels or the
    predictions, as sklearn's default labels),
    log loss over the class probabilities (each row's probabilities
    renormalised after clipping, as sklearn 1.2+ does), the confusion
    matrix (rows: true class, columns: predicted; argmax, ties to the
    lower class); R^2 (1 - SS_res / SS_tot; 0 when the target is constant,
    as r2_score gives a perfect constant fit 1.0 and an imperfect one 0.0),
    RMSE and MAE.
*/
#ifndef MLOPS_SCORE_H
#define MLOPS_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "records.h"
#include "task.h"

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

//  The metrics of one task type.
typedef struct score_s {
    task_t task;         //  which fields below hold values
    metrics_t bin;            //  BINARY
    double accuracy, macro_f1, log_loss; //  MULTICLASS
    size_t n_classes;         //  MULTICLASS: side of confusion
    int64_t *confusion;       //  MULTICLASS: n_classes^2, row = true class, owned
    double r2, rmse, mae;     //  REGRESSION
} score_t;

//  Multiclass metrics of n labels (0..k-1) against n x k probabilities
//  (row-major). Returns 0, MLOPS_EINVAL (n == 0, k < 2, a label out of
//  range, a probability outside [0, 1] or NaN; the message names the
//  index) or MLOPS_ENOMEM. out is overwritten; score_clear it.
int score_multiclass(const uint8_t *y, const double *proba, size_t n, size_t k, score_t *out,
                     mlops_err_t *err);

//  Regression metrics of n targets against n predictions. Returns 0 or
//  MLOPS_EINVAL (n == 0, a non-finite value, naming the index).
int score_regression(const double *y, const double *pred, size_t n, score_t *out,
                     mlops_err_t *err);

//  Reads a metric by name: the binary ones (accuracy, precision, recall,
//  f1, auc, log_loss), multiclass (accuracy, macro_f1, log_loss),
//  regression (r2, rmse, mae). Returns 0, or -1 when s's task lacks it.
int score_metric(const score_t *s, const char *name, double *value);

//  Frees the confusion matrix and zeroes *s. Safe on a zeroed one.
void score_clear(score_t *s);

#endif
