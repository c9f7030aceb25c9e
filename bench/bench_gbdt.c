/*  bench_gbdt.c: times gbdt training and prediction on a data file that
    bench/gbdt_ref.py writes, so bench/gbdt.sh can put the figures next to
    scikit-learn's HistGradientBoostingClassifier on the very same rows.

    usage: bench_gbdt fit FILE THREADS   fit on the first 80% of rows, score the rest
           bench_gbdt cv FILE THREADS    10-fold CV on the folds stored in FILE
    FILE: doubles n, p, then X (n x p, row-major, NaN = missing), y, and for
    cv the fold of each row. Prints key=value lines.
*/
#include "gbdt.h"
#include "score.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRAIN_SHARE 0.8   //  as gbdt_ref.py
#define N_FOLDS 10        //  as gbdt_ref.py
#define LATENCY_ROWS 2000 //  rows timed one by one

typedef struct {
    size_t n, p;      //  rows, features
    double *X, *y;    //  n x p features, n labels
    double *folds;    //  n fold ids, or NULL
} s_data_t;

static double s_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int s_load(const char *path, int with_folds, s_data_t *d)
{
    FILE *f = fopen(path, "rb");
    double hdr[2];
    if (!f || fread(hdr, sizeof(double), 2, f) != 2) {
        if (f)
            fclose(f);
        return -1;
    }
    d->n = (size_t)hdr[0], d->p = (size_t)hdr[1];
    d->X = malloc(d->n * d->p * sizeof(double));
    d->y = malloc(d->n * sizeof(double));
    d->folds = with_folds ? malloc(d->n * sizeof(double)) : NULL;
    int ok = d->X && d->y && fread(d->X, sizeof(double), d->n * d->p, f) == d->n * d->p &&
             fread(d->y, sizeof(double), d->n, f) == d->n &&
             (!with_folds || (d->folds && fread(d->folds, sizeof(double), d->n, f) == d->n));
    fclose(f);
    return ok ? 0 : -1;
}

//  Accuracy (proba > 0.5, as sklearn's predict) and AUC of a binary model
//  on rows [lo, hi) selected by keep (NULL = all).
static void s_score(const gbdt_t *m, const s_data_t *d, const uint8_t *keep, double *acc,
                    double *auc)
{
    double *pr = malloc(d->n * sizeof *pr);
    uint8_t *yy = malloc(d->n);
    size_t k = 0, right = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!keep[i])
            continue;
        gbdt_predict_row(m, d->X + i * d->p, &pr[k]);
        yy[k] = d->y[i] != 0;
        right += (pr[k] > 0.5) == yy[k];
        k++;
    }
    *acc = (double)right / (double)k;
    *auc = score_auc(yy, pr, k);
    free(pr);
    free(yy);
}

static int s_cmp_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  Median time of gbdt_predict_row over the first LATENCY_ROWS test rows.
static double s_row_latency_us(const gbdt_t *m, const double *X, size_t n, size_t p)
{
    size_t k = n < LATENCY_ROWS ? n : LATENCY_ROWS;
    double *t = malloc(k * sizeof *t), out[TASK_MAX_CLASSES], sink = 0;
    for (size_t i = 0; i < k; i++) {
        double t0 = s_now_ms();
        gbdt_predict_row(m, X + i * p, out);
        t[i] = (s_now_ms() - t0) * 1e3;
        sink += out[0];
    }
    qsort(t, k, sizeof *t, s_cmp_fn);
    double med = t[k / 2];
    free(t);
    return med + 0 * sink;
}

static int s_fit(const s_data_t *d, int threads)
{
    size_t k = (size_t)((double)d->n * TRAIN_SHARE);
    gbdt_params_t pr = gbdt_params_default();
    pr.n_threads = threads;
    mlops_err_t err;
    double t0 = s_now_ms();
    gbdt_t *m = gbdt_fit(d->X, d->y, k, d->p, TASK_BINARY, &pr, 0, &err);
    double fit_ms = s_now_ms() - t0;
    if (!m) {
        fprintf(stderr, "bench_gbdt: %s\n", err.msg);
        return 1;
    }
    uint8_t *keep = calloc(d->n, 1);
    memset(keep + k, 1, d->n - k);
    double acc, auc;
    s_score(m, d, keep, &acc, &auc);
    double *out = malloc((d->n - k) * sizeof *out);
    t0 = s_now_ms();
    gbdt_predict_block(m, d->X + k * d->p, d->n - k, out);
    double block_ms = s_now_ms() - t0;
    printf("fit_s=%.3f\nn_iter=%zu\nn_nodes=%zu\naccuracy=%.5f\nauc=%.5f\n", fit_ms / 1e3,
           m->n_iter, m->n_nodes, acc, auc);
    printf("predict_row_us=%.2f\npredict_block_rows_per_s=%.0f\n",
           s_row_latency_us(m, d->X + k * d->p, d->n - k, d->p),
           (double)(d->n - k) / (block_ms / 1e3));
    free(out);
    free(keep);
    gbdt_destroy(&m);
    return 0;
}

//  Copies the rows whose keep flag equals want into X, y; returns the count.
static size_t s_take(const s_data_t *d, const uint8_t *keep, int want, double *X, double *y)
{
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++)
        if (keep[i] == want) {
            memcpy(X + k * d->p, d->X + i * d->p, d->p * sizeof *X);
            y[k++] = d->y[i];
        }
    return k;
}

static int s_cv(const s_data_t *d, int threads)
{
    gbdt_params_t pr = gbdt_params_default();
    pr.n_threads = threads;
    double *X = malloc(d->n * d->p * sizeof *X), *y = malloc(d->n * sizeof *y);
    uint8_t *test = malloc(d->n);
    double acc_sum = 0, auc_sum = 0;
    for (int f = 0; f < N_FOLDS; f++) {
        for (size_t i = 0; i < d->n; i++)
            test[i] = d->folds[i] == f;
        size_t k = s_take(d, test, 0, X, y);
        mlops_err_t err;
        gbdt_t *m = gbdt_fit(X, y, k, d->p, TASK_BINARY, &pr, 0, &err);
        if (!m) {
            fprintf(stderr, "bench_gbdt: %s\n", err.msg);
            return 1;
        }
        double acc, auc;
        s_score(m, d, test, &acc, &auc);
        acc_sum += acc, auc_sum += auc;
        gbdt_destroy(&m);
    }
    printf("cv_accuracy=%.5f\ncv_auc=%.5f\n", acc_sum / N_FOLDS, auc_sum / N_FOLDS);
    free(X);
    free(y);
    free(test);
    return 0;
}

int main(int argc, char **argv)
{
    s_data_t d = {0};
    if (argc != 4 || s_load(argv[2], strcmp(argv[1], "cv") == 0, &d) != 0) {
        fprintf(stderr, "usage: bench_gbdt fit|cv FILE THREADS\n");
        return 2;
    }
    int rc = strcmp(argv[1], "cv") == 0 ? s_cv(&d, atoi(argv[3])) : s_fit(&d, atoi(argv[3]));
    free(d.X);
    free(d.y);
    free(d.folds);
    return rc;
}
