/*  bench_ml.c: times our classifiers' training on a fixed feature matrix,
    so bench/ml.sh can put them next to scikit-learn's on the very same
    numbers (the reference pipeline's 712-row training split, written out
    by bench/ml_ref.py).

    usage: bench_ml MATRIX [REPS]
    MATRIX is text, one row per line: label then the features, blank-separated.
    Prints key=value lines: medians over REPS fits (default 21) in ms. The
    regression forest is timed on the same matrix with the label's raw
    value as target (bench it on a regression matrix, e.g. diabetes:
    sklearn's RandomForestRegressor(100) fits its 353 training rows in
    about 150 ms).
*/
#include "forest.h"
#include "logreg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLS 4096

static double s_now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int s_cmp_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  Reads the matrix; returns rows, or 0 on error.
static size_t s_load(const char *path, double **X, uint8_t **y, double **t, size_t *p)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0, cap = 0;
    char line[65536];
    *p = 0, *X = NULL, *y = NULL, *t = NULL;
    while (fgets(line, sizeof line, f)) {
        double v[MAX_COLS];
        size_t k = 0;
        for (char *tok = strtok(line, " \t\n"); tok && k < MAX_COLS; tok = strtok(NULL, " \t\n"))
            v[k++] = strtod(tok, NULL);
        if (k < 2)
            continue;
        if (*p == 0)
            *p = k - 1;
        if (k - 1 != *p)
            break;
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            *X = realloc(*X, cap * *p * sizeof **X);
            *y = realloc(*y, cap);
            *t = realloc(*t, cap * sizeof **t);
        }
        (*y)[n] = v[0] != 0;
        (*t)[n] = v[0];
        memcpy(*X + n * *p, v + 1, *p * sizeof(double));
        n++;
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_ml MATRIX [REPS]\n");
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 21;
    reps = reps < 1 ? 1 : reps;
    double *X, *target;
    uint8_t *y;
    size_t p, n = s_load(argv[1], &X, &y, &target, &p);
    if (n == 0) {
        fprintf(stderr, "bench_ml: cannot read a matrix from %s\n", argv[1]);
        return 1;
    }
    double *t = malloc((size_t)reps * sizeof *t);
    printf("rows=%zu\nfeatures=%zu\nthreads_default=%d\n", n, p, forest_default_threads());
    for (int r = 0; r < reps; r++) {
        double t0 = s_now_ms();
        logreg_t *m = logreg_fit(X, y, n, p, NULL, NULL);
        t[r] = s_now_ms() - t0;
        logreg_destroy(&m);
    }
    qsort(t, (size_t)reps, sizeof *t, s_cmp_fn);
    printf("logreg_fit_ms=%.4f\n", t[reps / 2]);
    for (int threads = 1; threads <= 2; threads++) {
        forest_params_t pr = {.n_threads = threads == 1 ? 1 : 0};
        size_t nodes = 0;
        for (int r = 0; r < reps; r++) {
            double t0 = s_now_ms();
            forest_t *f = forest_fit(X, y, n, p, &pr, 42, NULL);
            t[r] = s_now_ms() - t0;
            nodes = f ? f->n_nodes : 0;
            forest_destroy(&f);
        }
        qsort(t, (size_t)reps, sizeof *t, s_cmp_fn);
        printf("forest_fit_%s_ms=%.4f\n", threads == 1 ? "1thread" : "threads", t[reps / 2]);
        if (threads == 1)
            printf("forest_nodes=%zu\n", nodes);
    }
    for (int threads = 1; threads <= 2; threads++) {
        forest_params_t pr = {.n_threads = threads == 1 ? 1 : 0};
        for (int r = 0; r < reps; r++) {
            double t0 = s_now_ms();
            forest_t *f = forest_fit_task(TASK_REGRESSION, X, target, n, p, 0, &pr, 42, NULL);
            t[r] = s_now_ms() - t0;
            forest_destroy(&f);
        }
        qsort(t, (size_t)reps, sizeof *t, s_cmp_fn);
        printf("forest_regression_fit_%s_ms=%.4f\n", threads == 1 ? "1thread" : "threads",
               t[reps / 2]);
    }
    free(t);
    free(target);
    free(X);
    free(y);
    return 0;
}
