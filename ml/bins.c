/*  bins.c: histogram binning (see bins.h).

    Fitting and applying work feature by feature, each feature on one
    thread (threads take the next feature from an atomic counter), so the
    result never depends on the thread count. The subsample is drawn once
    for all features with selection sampling (Knuth's algorithm S), which
    keeps the drawn rows in order and needs no index array of n entries.
*/
#include "bins.h"
#include "rng.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const double *X;       //  n x p, row-major
    size_t n, p;           //  rows, features
    const size_t *rows;    //  fit: the drawn rows (n_rows of them)
    size_t n_rows;         //  fit: drawn rows
    int max_bins;          //  fit: non-missing bins at most
    bins_t *self;          //  the mapper being fitted or applied
    uint8_t *codes;        //  apply: the output matrix
    atomic_size_t next;    //  next feature to take
    atomic_int failed;     //  a feature failed (code)
    size_t bad_f, bad_row; //  the failing feature and row (for the message)
    pthread_mutex_t lock;  //  guards bad_f, bad_row
} s_job_t;

typedef int (s_feature_fn)(s_job_t *job, size_t f);

int bins_default_threads(void)
{
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    return c < 1 ? 1 : c > 256 ? 256 : (int)c;
}

static int s_cmp_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  numpy.percentile(sorted v, 100 q, method="midpoint") as numpy 1.24
//  computes it, rounding included: the index (n - 1) q, the value there if
//  it is whole, else half-way between its two neighbours (numpy's _lerp at
//  t = 0.5: hi - (hi - lo) / 2).
static double s_percentile_midpoint(const double *v, size_t n, double q)
{
    double idx = (double)(n - 1) * q;
    size_t lo = (size_t)floor(idx), hi = (size_t)ceil(idx);
    hi = hi < n ? hi : n - 1;
    if (lo == hi)
        return v[lo];
    return v[hi] - (v[hi] - v[lo]) * 0.5;
}

//  Edges of a sorted column of m non-missing values into out (at most
//  max_bins - 1 of them); returns how many.
static size_t s_numeric_edges(const double *v, size_t m, int max_bins, double *out)
{
    size_t distinct = 0, k = 0;
    for (size_t i = 0; i < m; i++)
        distinct += i == 0 || v[i] != v[i - 1];
    if (distinct <= (size_t)max_bins) {
        for (size_t i = 1; i < m; i++)
            if (v[i] != v[i - 1])
                out[k++] = (v[i - 1] + v[i]) / 2;
    } else {
        double step = 100.0 / max_bins; //  numpy.linspace(0, 100, max_bins + 1)
        for (int b = 1; b < max_bins; b++) {
            double e = s_percentile_midpoint(v, m, (double)b * step / 100);
            if (k == 0 || e > out[k - 1]) //  merge repeated quantiles
                out[k++] = e;
        }
    }
    for (size_t i = 0; i < k; i++)
        out[i] = out[i] > BINS_ALMOST_INF ? BINS_ALMOST_INF : out[i];
    return k;
}

//  A categorical value is an integer level in [0, BINS_MAX_LEVEL) or NaN.
static int s_level_ok(double x)
{
    return isnan(x) || (x >= 0 && x < BINS_MAX_LEVEL && x == floor(x));
}

static int s_fail(s_job_t *job, int code, size_t f, size_t row)
{
    pthread_mutex_lock(&job->lock);
    if (!atomic_load(&job->failed) || f < job->bad_f)
        job->bad_f = f, job->bad_row = row;
    atomic_store(&job->failed, code);
    pthread_mutex_unlock(&job->lock);
    return code;
}

//  Categorical levels of feature f: every row is checked, not only the
//  drawn ones, so a bad value is always reported.
static int s_fit_levels(s_job_t *job, size_t f)
{
    uint8_t seen[BINS_MAX_LEVEL] = {0};
    for (size_t i = 0; i < job->n; i++) {
        double x = job->X[i * job->p + f];
        if (!s_level_ok(x))
            return s_fail(job, MLOPS_EINVAL, f, i);
        if (!isnan(x))
            seen[(int)x] = 1;
    }
    double *lv = malloc(BINS_MAX_LEVEL * sizeof *lv);
    if (!lv)
        return s_fail(job, MLOPS_ENOMEM, f, 0);
    uint16_t k = 0;
    for (int l = 0; l < BINS_MAX_LEVEL; l++)
        if (seen[l])
            lv[k++] = l;
    if (k == 0) //  an all-missing column still has one (empty) bin, for level 0
        lv[k++] = 0;
    job->self->n_bins[f] = k;
    job->self->edges[f] = lv;
    return 0;
}

static int s_fit_feature(s_job_t *job, size_t f)
{
    if (job->self->categorical[f])
        return s_fit_levels(job, f);
    double *v = malloc((job->n_rows + 1) * sizeof *v);
    double *e = malloc(BINS_MAX_VALUES * sizeof *e);
    if (!v || !e) {
        free(v), free(e);
        return s_fail(job, MLOPS_ENOMEM, f, 0);
    }
    size_t m = 0;
    for (size_t k = 0; k < job->n_rows; k++) {
        double x = job->X[job->rows[k] * job->p + f];
        if (!isnan(x))
            v[m++] = x;
    }
    qsort(v, m, sizeof *v, s_cmp_fn);
    size_t k = s_numeric_edges(v, m, job->max_bins, e);
    free(v);
    job->self->n_bins[f] = (uint16_t)(k + 1);
    job->self->edges[f] = e;
    return 0;
}

typedef struct {
    s_job_t *job;
    s_feature_fn *fn;
} s_run_t;

static void *s_thread_fn(void *arg)
{
    s_run_t *run = arg;
    for (;;) {
        size_t f = atomic_fetch_add(&run->job->next, 1);
        if (f >= run->job->p)
            return NULL;
        run->fn(run->job, f);
    }
}

//  Runs fn on every feature over n_threads threads (the caller's included).
static void s_for_features(s_job_t *job, s_feature_fn *fn, int n_threads)
{
    s_run_t run = {job, fn};
    pthread_t th[256];
    int started = 0;
    atomic_init(&job->next, 0);
    for (int t = 1; t < n_threads && t < 256 && (size_t)t < job->p; t++)
        if (pthread_create(&th[started], NULL, s_thread_fn, &run) == 0)
            started++;
    s_thread_fn(&run);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
}

//  Draws min(n, want) rows in increasing order (Knuth's algorithm S).
static size_t *s_draw_rows(size_t n, size_t want, uint64_t seed, size_t *n_rows)
{
    size_t m = want < n ? want : n;
    size_t *rows = malloc((m ? m : 1) * sizeof *rows);
    if (!rows)
        return NULL;
    rng_t r;
    rng_seed(&r, seed, 0xB1B5);
    size_t k = 0;
    for (size_t i = 0; i < n && k < m; i++)
        if (m == n || rng_below(&r, n - i) < m - k)
            rows[k++] = i;
    *n_rows = k;
    return rows;
}

static bins_t *s_alloc(size_t p)
{
    bins_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->n_features = p;
    self->n_bins = calloc(p, sizeof *self->n_bins);
    self->categorical = calloc(p, 1);
    self->edges = calloc(p, sizeof *self->edges);
    self->n_threads = 1;
    if (!self->n_bins || !self->categorical || !self->edges)
        bins_destroy(&self);
    return self;
}

static int s_check_params(const bins_params_t *pr, size_t n, size_t p, mlops_err_t *err)
{
    if (n == 0 || p == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "bins: no rows or no features");
    if (pr->max_bins < 2 || pr->max_bins > BINS_MAX_VALUES)
        return mlops_err_set(err, MLOPS_EINVAL, "bins: max_bins %d is not in [2, %d]",
                             pr->max_bins, BINS_MAX_VALUES);
    if (pr->n_threads < 1)
        return mlops_err_set(err, MLOPS_EINVAL, "bins: n_threads %d is negative", pr->n_threads);
    return 0;
}

bins_t *bins_fit(const double *X, size_t n, size_t p, const bins_params_t *params,
                 uint64_t seed, mlops_err_t *err)
{
    bins_params_t pr = params ? *params : (bins_params_t){0};
    pr.max_bins = pr.max_bins ? pr.max_bins : BINS_MAX_VALUES;
    pr.subsample = pr.subsample ? pr.subsample : BINS_SUBSAMPLE;
    pr.n_threads = pr.n_threads ? pr.n_threads : bins_default_threads();
    if (s_check_params(&pr, n, p, err))
        return NULL;
    s_job_t job = {.X = X, .n = n, .p = p, .max_bins = pr.max_bins};
    job.self = s_alloc(p);
    job.rows = s_draw_rows(n, pr.subsample, seed, &job.n_rows);
    if (!job.self || !job.rows) {
        bins_destroy(&job.self);
        free((void *)job.rows);
        mlops_err_set(err, MLOPS_ENOMEM, "bins: out of memory");
        return NULL;
    }
    job.self->n_threads = pr.n_threads;
    if (pr.categorical)
        memcpy(job.self->categorical, pr.categorical, p);
    pthread_mutex_init(&job.lock, NULL);
    atomic_init(&job.failed, 0);
    s_for_features(&job, s_fit_feature, pr.n_threads);
    pthread_mutex_destroy(&job.lock);
    free((void *)job.rows);
    int rc = atomic_load(&job.failed);
    if (rc) {
        bins_destroy(&job.self);
        if (rc == MLOPS_EINVAL)
            mlops_err_set(err, rc, "bins: categorical feature %zu, row %zu: %g is not an "
                          "integer level in [0, %d)", job.bad_f, job.bad_row,
                          X[job.bad_row * p + job.bad_f], BINS_MAX_LEVEL);
        else
            mlops_err_set(err, rc, "bins: out of memory");
    }
    return job.self;
}

static int s_check_stored(size_t f, uint16_t nb, int cat, const double *e, mlops_err_t *err)
{
    if (nb < 1 || nb > BINS_MAX_VALUES || !e)
        return mlops_err_set(err, MLOPS_ECORRUPT, "bins: feature %zu has %u bins", f, nb);
    size_t k = cat ? nb : (size_t)nb - 1;
    for (size_t i = 0; i < k; i++) {
        int bad = cat ? !s_level_ok(e[i]) || isnan(e[i]) || (i && e[i] <= e[i - 1])
                      : isnan(e[i]) || (i && e[i] <= e[i - 1]);
        if (bad)
            return mlops_err_set(err, MLOPS_ECORRUPT, "bins: feature %zu: edge %zu out of order "
                                 "or out of range", f, i);
    }
    return 0;
}

bins_t *bins_new(size_t p, const uint16_t *n_bins, const uint8_t *categorical,
                 const double *const *edges, mlops_err_t *err)
{
    bins_t *self = p ? s_alloc(p) : NULL;
    if (!self) {
        mlops_err_set(err, p ? MLOPS_ENOMEM : MLOPS_ECORRUPT, "bins: no features or no memory");
        return NULL;
    }
    for (size_t f = 0; f < p; f++) {
        int cat = categorical && categorical[f];
        if (s_check_stored(f, n_bins[f], cat, edges[f], err)) {
            bins_destroy(&self);
            return NULL;
        }
        size_t k = cat ? n_bins[f] : (size_t)n_bins[f] - 1;
        self->edges[f] = malloc((k ? k : 1) * sizeof(double));
        if (!self->edges[f]) {
            bins_destroy(&self);
            mlops_err_set(err, MLOPS_ENOMEM, "bins: out of memory");
            return NULL;
        }
        memcpy(self->edges[f], edges[f], k * sizeof(double));
        self->n_bins[f] = n_bins[f];
        self->categorical[f] = (uint8_t)cat;
    }
    return self;
}

void bins_destroy(bins_t **p)
{
    if (!p || !*p)
        return;
    bins_t *self = *p;
    for (size_t f = 0; self->edges && f < self->n_features; f++)
        free(self->edges[f]);
    free(self->edges);
    free(self->categorical);
    free(self->n_bins);
    free(self);
    *p = NULL;
}

//  Index of the first of k increasing values that is >= x (k when none).
static unsigned s_lower_bound(const double *e, unsigned k, double x)
{
    unsigned lo = 0, hi = k;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (x <= e[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

uint8_t bins_code(const bins_t *self, size_t f, double x)
{
    if (isnan(x))
        return BINS_MISSING;
    const double *e = self->edges[f];
    unsigned nb = self->n_bins[f];
    if (!self->categorical[f])
        return (uint8_t)s_lower_bound(e, nb - 1, x);
    unsigned b = s_lower_bound(e, nb, x);
    return b < nb && e[b] == x ? (uint8_t)b : BINS_MISSING;
}

static int s_apply_feature(s_job_t *job, size_t f)
{
    uint8_t *out = job->codes + f * job->n;
    for (size_t i = 0; i < job->n; i++)
        out[i] = bins_code(job->self, f, job->X[i * job->p + f]);
    return 0;
}

uint8_t *bins_apply(const bins_t *self, const double *X, size_t n, mlops_err_t *err)
{
    size_t p = self->n_features;
    uint8_t *codes = malloc(n * p + 1);
    if (!codes) {
        mlops_err_set(err, MLOPS_ENOMEM, "bins: out of memory for %zu x %zu codes", n, p);
        return NULL;
    }
    s_job_t job = {.X = X, .n = n, .p = p, .self = (bins_t *)self, .codes = codes};
    atomic_init(&job.failed, 0);
    s_for_features(&job, s_apply_feature, self->n_threads);
    return codes;
}

double bins_threshold(const bins_t *self, size_t f, unsigned b)
{
    if (b + 1 >= self->n_bins[f])
        return INFINITY;
    return self->edges[f][b];
}

static inline void s_hist_add(bins_hist_t *b, double g, double h)
{
    b->g += g;
    b->h += h;
    b->count++;
}

void bins_hist_build(bins_hist_t *hist, const uint8_t *codes, const uint32_t *rows,
                     size_t n, const float *g, const float *h)
{
    //  one histogram, summed in row order: splitting it into interleaved
    //  copies would be faster but changes the sums' rounding
    //  four loops so that the common cases carry no per-row branch
    if (rows && h) {
        for (size_t k = 0; k < n; k++)
            s_hist_add(&hist[codes[rows[k]]], g[k], h[k]);
    } else if (rows) {
        for (size_t k = 0; k < n; k++)
            s_hist_add(&hist[codes[rows[k]]], g[k], 1.0);
    } else if (h) {
        for (size_t k = 0; k < n; k++)
            s_hist_add(&hist[codes[k]], g[k], h[k]);
    } else {
        for (size_t k = 0; k < n; k++)
            s_hist_add(&hist[codes[k]], g[k], 1.0);
    }
}

void bins_hist_subtract(bins_hist_t *out, const bins_hist_t *parent, const bins_hist_t *child)
{
    for (int b = 0; b < BINS_MAX; b++) {
        out[b].g = parent[b].g - child[b].g;
        out[b].h = parent[b].h - child[b].h;
        out[b].count = parent[b].count - child[b].count;
    }
}
