/*  score.c: accuracy, precision, recall, F1, ROC AUC, log loss and the
    confusion matrix, as scikit-learn defines them (see score.h). */
#include "score.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    double score;  //  predicted score
    uint8_t label; //  0 or 1
} s_scored_t;

static int s_by_score_desc_fn(const void *a, const void *b)
{
    double x = ((const s_scored_t *)a)->score, y = ((const s_scored_t *)b)->score;
    return (x < y) - (x > y);
}

double score_auc(const uint8_t *y, const double *score, size_t n)
{
    s_scored_t *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return NAN;
    double pos = 0, neg = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].score = score[i];
        v[i].label = y[i] ? 1 : 0;
        pos += v[i].label;
    }
    neg = (double)n - pos;
    if (pos == 0 || neg == 0) {
        free(v);
        return NAN;
    }
    qsort(v, n, sizeof *v, s_by_score_desc_fn);
    //  One ROC point per distinct threshold; a run of tied scores moves
    //  diagonally, which is what gives ties their half credit.
    double tp = 0, fp = 0, area = 0;
    for (size_t i = 0; i < n;) {
        double tp0 = tp, fp0 = fp;
        size_t j = i;
        while (j < n && v[j].score == v[i].score) {
            tp += v[j].label;
            fp += 1 - v[j].label;
            j++;
        }
        area += (fp - fp0) * (tp + tp0) / 2;
        i = j;
    }
    free(v);
    return area / (pos * neg);
}

double score_log_loss(const uint8_t *y, const double *proba, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double p = proba[i];
        if (p < SCORE_LOGLOSS_EPS)
            p = SCORE_LOGLOSS_EPS;
        if (p > 1 - SCORE_LOGLOSS_EPS)
            p = 1 - SCORE_LOGLOSS_EPS;
        sum -= y[i] ? log(p) : log(1 - p);
    }
    return sum / (double)n;
}

void score_mean_std(const double *v, size_t n, double *mean, double *std)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m = n ? m / (double)n : NAN;
    for (size_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    *mean = m;
    *std = n ? sqrt(s / (double)n) : NAN;
}

static double s_ratio(double num, double den)
{
    return den > 0 ? num / den : 0.0;
}

int score_compute(const uint8_t *y, const double *proba, size_t n, metrics_t *out,
                    mlops_err_t *err)
{
    if (n == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "score: no rows to score");
    int64_t tp = 0, fp = 0, tn = 0, fn = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] > 1)
            return mlops_err_set(err, MLOPS_EINVAL, "score: label %u at index %zu is not 0/1",
                                 y[i], i);
        if (!(proba[i] >= 0 && proba[i] <= 1))
            return mlops_err_set(err, MLOPS_EINVAL,
                                 "score: probability %g at index %zu is outside [0, 1]",
                                 proba[i], i);
        int pred = proba[i] >= 0.5;
        tp += pred && y[i];
        fp += pred && !y[i];
        tn += !pred && !y[i];
        fn += !pred && y[i];
    }
    double auc = score_auc(y, proba, n);
    if (isnan(auc) && tp + fn > 0 && fp + tn > 0)
        return mlops_err_set(err, MLOPS_ENOMEM, "score: out of memory");
    out->tp = tp, out->fp = fp, out->tn = tn, out->fn = fn;
    out->accuracy = (double)(tp + tn) / (double)n;
    out->precision = s_ratio((double)tp, (double)(tp + fp));
    out->recall = s_ratio((double)tp, (double)(tp + fn));
    out->f1 = s_ratio(2.0 * (double)tp, (double)(2 * tp + fp + fn));
    out->auc = auc;
    out->log_loss = score_log_loss(y, proba, n);
    return 0;
}
