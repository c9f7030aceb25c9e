/*  score.c: accuracy, precision, recall, F1, ROC AUC, log loss and the
    confusion matrix, as scikit-learn defines them (see score.h). */
#include "score.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

/* --- multiclass, regression -------------------------------------------------------- */

void score_clear(score_t *s)
{
    free(s->confusion);
    memset(s, 0, sizeof *s);
}

static int s_check_proba(const uint8_t *y, const double *proba, size_t n, size_t k,
                         mlops_err_t *err)
{
    if (n == 0 || k < 2)
        return mlops_err_set(err, MLOPS_EINVAL, "score: no rows to score or fewer than 2 classes");
    for (size_t i = 0; i < n; i++) {
        if (y[i] >= k)
            return mlops_err_set(err, MLOPS_EINVAL, "score: label %u at index %zu is not below %zu",
                                 y[i], i, k);
        for (size_t c = 0; c < k; c++)
            if (!(proba[i * k + c] >= 0 && proba[i * k + c] <= 1))
                return mlops_err_set(err, MLOPS_EINVAL,
                                     "score: probability %g at index %zu is outside [0, 1]",
                                     proba[i * k + c], i);
    }
    return 0;
}

//  Mean negative log-likelihood, as sklearn's log_loss: clip, renormalise.
static double s_multi_log_loss(const uint8_t *y, const double *proba, size_t n, size_t k)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double tot = 0, mine = 0;
        for (size_t c = 0; c < k; c++) {
            double p = proba[i * k + c];
            p = p < SCORE_LOGLOSS_EPS ? SCORE_LOGLOSS_EPS : p > 1 - SCORE_LOGLOSS_EPS ? 1 - SCORE_LOGLOSS_EPS : p;
            tot += p;
            mine = c == y[i] ? p : mine;
        }
        sum -= log(mine / tot);
    }
    return sum / (double)n;
}

int score_multiclass(const uint8_t *y, const double *proba, size_t n, size_t k, score_t *out,
                     mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = s_check_proba(y, proba, n, k, err);
    if (rc != 0)
        return rc;
    int64_t *cm = calloc(k * k, sizeof *cm);
    if (!cm)
        return mlops_err_set(err, MLOPS_ENOMEM, "score: out of memory");
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t c = 1; c < k; c++)
            best = proba[i * k + c] > proba[i * k + best] ? c : best;
        cm[y[i] * k + best]++;
        right += best == y[i];
    }
    double f1 = 0, seen = 0;
    for (size_t c = 0; c < k; c++) {
        int64_t tp = cm[c * k + c], t = 0, p = 0;
        for (size_t o = 0; o < k; o++)
            t += cm[c * k + o], p += cm[o * k + c];
        f1 += s_ratio(2.0 * (double)tp, (double)(t + p));
        seen += t + p > 0;
    }
    *out = (score_t){.task = TASK_MULTICLASS, .n_classes = k, .confusion = cm};
    out->accuracy = (double)right / (double)n;
    out->macro_f1 = f1 / seen;
    out->log_loss = s_multi_log_loss(y, proba, n, k);
    return 0;
}

int score_regression(const double *y, const double *pred, size_t n, score_t *out,
                     mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "score: no rows to score");
    double mean = 0, ss_res = 0, ss_tot = 0, abs_sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i]) || !isfinite(pred[i]))
            return mlops_err_set(err, MLOPS_EINVAL, "score: value at index %zu is not finite", i);
        mean += y[i];
    }
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double e = y[i] - pred[i];
        ss_res += e * e, abs_sum += fabs(e);
        ss_tot += (y[i] - mean) * (y[i] - mean);
    }
    out->task = TASK_REGRESSION;
    out->r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : ss_res == 0 ? 1.0 : 0.0;
    out->rmse = sqrt(ss_res / (double)n);
    out->mae = abs_sum / (double)n;
    return 0;
}

int score_metric(const score_t *s, const char *name, double *value)
{
    static const struct { task_t task; const char *name; size_t off; } known[] = {
        {TASK_BINARY, "accuracy", offsetof(score_t, bin.accuracy)},
        {TASK_BINARY, "precision", offsetof(score_t, bin.precision)},
        {TASK_BINARY, "recall", offsetof(score_t, bin.recall)},
        {TASK_BINARY, "f1", offsetof(score_t, bin.f1)},
        {TASK_BINARY, "auc", offsetof(score_t, bin.auc)},
        {TASK_BINARY, "log_loss", offsetof(score_t, bin.log_loss)},
        {TASK_MULTICLASS, "accuracy", offsetof(score_t, accuracy)},
        {TASK_MULTICLASS, "macro_f1", offsetof(score_t, macro_f1)},
        {TASK_MULTICLASS, "log_loss", offsetof(score_t, log_loss)},
        {TASK_REGRESSION, "r2", offsetof(score_t, r2)},
        {TASK_REGRESSION, "rmse", offsetof(score_t, rmse)},
        {TASK_REGRESSION, "mae", offsetof(score_t, mae)}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (known[i].task == s->task && strcmp(known[i].name, name) == 0) {
            memcpy(value, (const char *)s + known[i].off, sizeof *value);
            return 0;
        }
    return -1;
}
