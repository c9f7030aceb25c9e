/*  drift_noise.c: how often the drift trigger (broker/drift.h) fires on
    in-distribution traffic (false alarms) and on shifted traffic
    (detections), by --drift-min-rows and --drift-threshold, with the
    estimator the broker uses (the plug-in Jensen-Shannon distance over the
    reference's bins) and its rule (at least DRIFT_SHARE of the fields).
    The defaults in drift.h come from this table.

    The reference is the profile (ml/profile_fit.h) of the first 712 rows
    (the training split's size) of synthetic:891:42. Live windows of
    min_rows rows each are drawn:
    - fresh: from synthetic:400000:7, another sample of the same
      population (so the reference's own sampling noise counts too);
    - bootstrap: with replacement from the 712 reference rows (the issue's
      "rows sampled from the training data");
    - fare x3, pclass shifted (1 -> 2 -> 3 -> 1), both: fresh rows shifted.
    Each window goes through a drift_t as the broker's would: added at one
    time, checked at the same time, the next window a whole window later
    (cooldown 1 ms, so every window may trigger).

    usage: drift_noise [WINDOWS]   (default 500 windows per cell)
    reproduce: bench/drift_noise.sh (builds it and runs it)

    Result (500 windows per cell, 7 fields so one drifted field is 14 %
    >= DRIFT_SHARE; `mean max` is the mean of the largest field distance):

    noise: the largest field distance per window, fresh traffic
      min_rows    p50     p99     max
           100  0.157   0.244   0.270
           200  0.119   0.171   0.226
           500  0.082   0.123   0.139
          1000  0.068   0.096   0.102
          2000  0.059   0.080   0.090
          5000  0.054   0.066   0.072
    (the floor near 0.05 is the reference's own noise: 712 rows)

    trigger rate         min_rows mean max  t=0.05  t=0.10  t=0.15  t=0.20
      fresh                   200    0.119   1.000   0.838   0.068   0.002
      fresh                   500    0.083   0.996   0.096   0.000   0.000
      fresh                  1000    0.069   0.982   0.002   0.000   0.000
      bootstrap               500    0.067   0.956   0.010   0.000   0.000
      bootstrap              1000    0.048   0.382   0.000   0.000   0.000
      fare x3                1000    0.552   1.000   1.000   1.000   1.000
      pclass shifted         1000    0.316   1.000   1.000   1.000   1.000
      both                   1000    0.552   1.000   1.000   1.000   1.000
    (the run prints every size from 100 to 5000)

    So the defaults: --drift-min-rows 1000 and a suggested threshold of
    0.15, half again the largest noise seen at 1000 rows (0.102) and half
    the smallest shift measured (Pclass, 0.32): no false alarm in 1000
    in-distribution windows, every shifted window detected. Fewer rows need
    a higher threshold (200 rows: 0.2).
*/
#include "drift.h"
#include "prep.h"
#include "profile_fit.h"
#include "rng.h"
#include "synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_ROWS 712
#define POP_ROWS 400000
#define N_SIZES 6
#define N_THRESHOLDS 4
static const uint64_t s_sizes[N_SIZES] = {100, 200, 500, 1000, 2000, 5000};
static const double s_thresholds[N_THRESHOLDS] = {0.05, 0.10, 0.15, 0.20};

typedef enum { FRESH, BOOTSTRAP, FARE_X3, PCLASS_SHIFT, BOTH, N_KINDS } s_kind_t;
static const char *const s_kind_names[N_KINDS] = {"fresh", "bootstrap", "fare x3", "pclass shifted",
                                                  "both"};

//  A copy of pop shifted as kind says: Fare x3, Pclass 1 -> 2 -> 3 -> 1.
static table_t *s_shifted(const table_t *pop, s_kind_t kind)
{
    size_t *rows = malloc(pop->n_rows * sizeof *rows);
    for (size_t i = 0; rows && i < pop->n_rows; i++)
        rows[i] = i;
    table_t *t = rows ? table_take(pop, rows, pop->n_rows) : NULL;
    free(rows);
    int fare = t ? table_find(t, "Fare") : -1, pclass = t ? table_find(t, "Pclass") : -1;
    for (size_t i = 0; t && fare >= 0 && pclass >= 0 && i < t->n_rows; i++) {
        if (kind == FARE_X3 || kind == BOTH)
            t->cols[fare].num[i] *= 3;   //  NaN (missing) stays NaN
        if (kind == PCLASS_SHIFT || kind == BOTH)
            t->cols[pclass].num[i] = fmod(t->cols[pclass].num[i], 3) + 1;
    }
    return t;
}

//  A copy of ref (drift_set_reference takes its argument).
static profile_t *s_copy(const profile_t *ref)
{
    profile_t *p = profile_new_like(ref);
    if (p && profile_merge(p, ref, NULL) != 0)
        profile_destroy(&p);
    return p;
}

typedef struct {
    double max_js[N_SIZES][2048];        //  fresh: the largest field distance per window
    int fired[N_KINDS][N_SIZES][N_THRESHOLDS]; //  windows that triggered
    double top_sum[N_KINDS][N_SIZES];          //  sum of the largest field distance per window
} s_results_t;

static int s_cmp_fn(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

//  Runs `windows` windows of one kind and size through one monitor per
//  threshold, counting triggers (and the noise, for fresh traffic).
static int s_run(const profile_t *ref, const prep_recipe_t *r, const table_t *src, size_t pool,
                 s_kind_t kind, size_t si, int windows, rng_t *rng, s_results_t *res)
{
    drift_t *mon[N_THRESHOLDS];
    for (int t = 0; t < N_THRESHOLDS; t++) {
        drift_config_t cfg;
        drift_config_default(&cfg);
        cfg.threshold = s_thresholds[t];
        cfg.min_rows = s_sizes[si];
        cfg.cooldown_ms = 1;
        profile_t *copy = s_copy(ref);
        if (!(mon[t] = drift_new(&cfg)) || !copy || drift_set_reference(mon[t], 1, &copy, NULL))
            return -1;
    }
    profile_t *live = profile_new_like(ref);
    size_t rows[5000];
    int64_t step = (DRIFT_BUCKETS + 1) * (int64_t)DRIFT_BUCKET_MSEC_DEFAULT;
    for (int w = 0; live && w < windows; w++) {
        profile_reset(live);
        for (uint64_t i = 0; i < s_sizes[si]; i++)
            rows[i] = rng_below(rng, pool);
        if (profile_fit_add_rows(live, r, src, rows, s_sizes[si], NULL) != 0)
            return -1;
        for (int t = 0; t < N_THRESHOLDS; t++) {
            drift_report_t rep;
            if (drift_add(mon[t], 1, live, w * step, NULL) || drift_check(mon[t], 1, w * step, &rep))
                return -1;
            res->fired[kind][si][t] += rep.trigger;
            double top = 0;
            for (size_t k = 0; k < rep.n_fields; k++)
                top = rep.fields[k].js > top ? rep.fields[k].js : top;
            if (kind == FRESH && t == 0)
                res->max_js[si][w] = top;
            if (t == 0)
                res->top_sum[kind][si] += top;
        }
    }
    for (int t = 0; t < N_THRESHOLDS; t++)
        drift_destroy(&mon[t]);
    profile_destroy(&live);
    return 0;
}

static void s_print(const s_results_t *res, int windows)
{
    printf("noise: the largest field distance (JS, base 2) per window, fresh in-distribution traffic\n");
    printf("  min_rows    p50     p99     max\n");
    for (size_t si = 0; si < N_SIZES; si++) {
        double v[2048];
        memcpy(v, res->max_js[si], (size_t)windows * sizeof *v);
        qsort(v, (size_t)windows, sizeof *v, s_cmp_fn);
        printf("  %8llu  %.3f   %.3f   %.3f\n", (unsigned long long)s_sizes[si], v[windows / 2],
               v[(int)(windows * 0.99)], v[windows - 1]);
    }
    printf("\ntrigger rate (share of %d windows; rule: >= %.0f %% of the fields at distance >= threshold)\n",
           windows, DRIFT_SHARE * 100);
    printf("  %-15s %8s %8s", "traffic", "min_rows", "mean max");
    for (int t = 0; t < N_THRESHOLDS; t++)
        printf("   t=%.2f", s_thresholds[t]);
    printf("\n");
    for (int kind = 0; kind < N_KINDS; kind++)
        for (size_t si = 0; si < N_SIZES; si++) {
            printf("  %-15s %8llu %8.3f", s_kind_names[kind], (unsigned long long)s_sizes[si],
                   res->top_sum[kind][si] / windows);
            for (int t = 0; t < N_THRESHOLDS; t++)
                printf("   %6.3f", (double)res->fired[kind][si][t] / windows);
            printf("\n");
        }
}

int main(int argc, char **argv)
{
    int windows = argc > 1 ? atoi(argv[1]) : 500;
    if (windows < 10 || windows > 2048) {
        fprintf(stderr, "usage: drift_noise [WINDOWS in 10..2048]\n");
        return 2;
    }
    mlops_err_t err;
    table_t *t = synth_generate(891, 42, &err), *pop = synth_generate(POP_ROWS, 7, &err);
    size_t rows[REF_ROWS];
    for (size_t i = 0; i < REF_ROWS; i++)
        rows[i] = i;
    prep_recipe_t *r = t ? prep_fit(t, rows, REF_ROWS, NULL, NULL, 0, &err) : NULL;
    profile_t *ref = r && pop ? profile_fit(r, t, rows, REF_ROWS, &err) : NULL;
    s_results_t *res = calloc(1, sizeof *res);
    if (!ref || !res) {
        fprintf(stderr, "drift_noise: %s\n", mlops_err_text(&err, MLOPS_ENOMEM));
        return 1;
    }
    rng_t rng;
    rng_seed(&rng, 2024, 0);
    int rc = 0;
    for (int kind = 0; kind < N_KINDS && rc == 0; kind++) {
        table_t *shifted = kind >= FARE_X3 ? s_shifted(pop, (s_kind_t)kind) : NULL;
        const table_t *src = kind == BOOTSTRAP ? t : kind == FRESH ? pop : shifted;
        size_t pool = kind == BOOTSTRAP ? REF_ROWS : POP_ROWS;
        for (size_t si = 0; si < N_SIZES && rc == 0; si++)
            rc = src ? s_run(ref, r, src, pool, (s_kind_t)kind, si, windows, &rng, res) : -1;
        table_destroy(&shifted);
    }
    if (rc == 0)
        s_print(res, windows);
    free(res);
    profile_destroy(&ref);
    prep_destroy(&r);
    table_destroy(&pop);
    table_destroy(&t);
    return rc ? 1 : 0;
}
