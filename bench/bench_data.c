/*  bench_data.c: how fast the data layer is, at 10 k, 100 k and 1 M rows.

    For each size: generate a synthetic table (synth_generate), write it as
    CSV to /tmp, load the CSV back (csv_load_file), encode the table
    (table_encode), decode it (table_decode) and hash it (table_hash).
    Prints the median of RUNS runs of each step, in CPU milliseconds, and
    checks along the way that the CSV round trip keeps the table's hash.

    Reproduce:  make build/release/bench/bench_data && build/release/bench/bench_data
    Options:    bench_data [MAX_ROWS [RUNS]]   (defaults 1000000 and 3)
*/
#include "csv_load.h"
#include "synth.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_RUNS 15

//  Process CPU time, not wall time: the steps are single-threaded, and on a
//  shared machine CPU time stays put while wall time follows the load.
static double s_now_msec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double s_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

//  Writes one cell, quoted when it holds a comma, a quote or a line break.
static void s_write_cell(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

//  Writes the shortest of %.15g and %.17g that reads back as x, as a
//  person or pandas would write it ("7.25", not "7.25000000000000000").
static void s_write_number(FILE *f, double x)
{
    char buf[32];
    if (x == (double)(long long)x && x > -1e15 && x < 1e15) {
        fprintf(f, "%lld", (long long)x);
        return;
    }
    snprintf(buf, sizeof buf, "%.15g", x);
    if (strtod(buf, NULL) != x)
        snprintf(buf, sizeof buf, "%.17g", x);
    fputs(buf, f);
}

//  Writes t as CSV; numbers read back exactly.
static int s_write_csv(const table_t *t, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    for (size_t c = 0; c < t->n_cols; c++) {
        if (c)
            fputc(',', f);
        s_write_cell(f, t->cols[c].name);
    }
    fputc('\n', f);
    for (size_t r = 0; r < t->n_rows; r++) {
        for (size_t c = 0; c < t->n_cols; c++) {
            const table_col_t *col = &t->cols[c];
            if (c)
                fputc(',', f);
            if (col->missing[r])
                continue;
            if (col->kind == TABLE_NUMBER)
                s_write_number(f, col->num[r]);
            else
                s_write_cell(f, table_string(t, c, r));
        }
        fputc('\n', f);
    }
    return fclose(f);
}

//  One size: RUNS generations, one CSV write, RUNS of each later step on
//  the written file. Fills med[] with the medians (ms) and *csv_mb,
//  *enc_mb with the sizes. Returns 0 or -1 after printing why.
static int s_bench_size(size_t rows, int runs, const char *path, double med[6],
                        double *csv_mb, double *enc_mb)
{
    double v[6][BENCH_MAX_RUNS];
    mlops_err_t err;
    table_t *t = NULL;
    for (int i = 0; i < runs; i++) {
        table_destroy(&t);
        double t0 = s_now_msec();
        t = synth_generate(rows, 42, &err);
        v[0][i] = s_now_msec() - t0;
        if (!t)
            return fprintf(stderr, "generate: %s\n", err.msg), -1;
    }
    double t0 = s_now_msec();
    int rc = s_write_csv(t, path);
    v[1][0] = s_now_msec() - t0;
    FILE *f = fopen(path, "r");
    if (rc != 0 || !f || fseek(f, 0, SEEK_END) != 0)
        return fprintf(stderr, "write %s failed\n", path), -1;
    *csv_mb = ftell(f) / 1e6;
    fclose(f);
    char want[HASH_HEX_LEN + 1], got[HASH_HEX_LEN + 1];
    for (int i = 0; i < runs && rc == 0; i++) {
        t0 = s_now_msec();
        table_t *loaded = csv_load_file(path, NULL, &err);
        v[2][i] = s_now_msec() - t0;
        if (!loaded)
            return fprintf(stderr, "load: %s\n", err.msg), -1;
        uint8_t *buf;
        size_t len;
        t0 = s_now_msec();
        rc = table_encode(loaded, &buf, &len);
        v[3][i] = s_now_msec() - t0;
        *enc_mb = len / 1e6;
        t0 = s_now_msec();
        table_t *decoded = rc ? NULL : table_decode(buf, len, &err);
        v[4][i] = s_now_msec() - t0;
        t0 = s_now_msec();
        table_hash(t, want);
        v[5][i] = s_now_msec() - t0;
        if (!decoded || table_hash(decoded, got) != 0 || strcmp(want, got) != 0)
            rc = fprintf(stderr, "the CSV and codec round trip changed the table\n");
        if (rc == 0)
            free(buf);
        table_destroy(&decoded);
        table_destroy(&loaded);
    }
    table_destroy(&t);
    for (int k = 0; k < 6; k++)
        med[k] = s_median(v[k], k == 1 ? 1 : runs);
    return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
    size_t max_rows = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int runs = argc > 2 ? atoi(argv[2]) : 3;
    if (runs < 1 || runs > BENCH_MAX_RUNS || max_rows < 10)
        return fprintf(stderr, "usage: bench_data [MAX_ROWS [RUNS 1..%d]]\n", BENCH_MAX_RUNS), 2;
    char path[64];
    snprintf(path, sizeof path, "/tmp/bench_data_%d.csv", (int)getpid());
    printf("bench_data: synthetic Titanic tables; medians of %d runs (write_csv: 1 run), CPU ms\n",
           runs);
    printf("%10s %10s %10s %10s %10s %10s %10s %8s %8s\n", "rows", "generate", "write_csv",
           "load_csv", "encode", "decode", "hash", "csv_MB", "enc_MB");
    for (size_t rows = 10000; rows <= max_rows; rows *= 10) {
        double med[6], csv_mb = 0, enc_mb = 0;
        if (s_bench_size(rows, runs, path, med, &csv_mb, &enc_mb) != 0) {
            unlink(path);
            return 1;
        }
        printf("%10zu", rows);
        for (int k = 0; k < 6; k++)
            printf(" %10.1f", med[k]);
        printf(" %8.1f %8.1f\n", csv_mb, enc_mb);
    }
    unlink(path);
    printf("reproduce: make build/release/bench/bench_data && build/release/bench/bench_data %zu %d\n",
           max_rows, runs);
    return 0;
}
