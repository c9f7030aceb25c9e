/*  stage_extract.c: the extract stage. The source is read on the worker's
    host, so a CSV path names a file there (the broker never opens it). */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "synth.h"
#include "table.h"

//  Parses "synthetic[:rows[:seed]]". Returns 1 when the source is synthetic
//  (rows and seed filled), 0 when it is not, or an error.
static int s_synthetic_spec(const char *source, size_t *rows, uint64_t *seed, mlops_err_t *err)
{
    if (strncmp(source, "synthetic", 9) != 0 || (source[9] && source[9] != ':'))
        return 0;
    *rows = 1000;
    *seed = 42;
    const char *p = source + 9;
    if (*p == ':') {
        char *end = NULL;
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (end == p + 1 || n == 0 || n > TABLE_MAX_ROWS || (*end && *end != ':'))
            return mlops_err_set(err, MLOPS_EINVAL,
                                 "extract: bad source '%.60s' (expected synthetic[:rows[:seed]])", source);
        *rows = (size_t)n;
        p = end;
    }
    if (*p == ':') {
        char *end = NULL;
        unsigned long long s = strtoull(p + 1, &end, 10);
        if (end == p + 1 || *end)
            return mlops_err_set(err, MLOPS_EINVAL,
                                 "extract: bad seed in '%.60s' (expected synthetic[:rows[:seed]])", source);
        *seed = s;
    }
    return 1;
}

static table_t *s_load(const stage_extract_in_t *in, mlops_err_t *err)
{
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (in->table) {
        table_t *t = table_decode(in->table, in->table_len, &sub);
        if (!t)
            mlops_err_set(err, sub.code, "extract: stored dataset does not decode: %s",
                          mlops_err_text(&sub, sub.code));
        return t;
    }
    size_t rows;
    uint64_t seed;
    int kind = s_synthetic_spec(in->source, &rows, &seed, err);
    if (kind < 0)
        return NULL;
    table_t *t = kind ? synth_titanic(rows, seed, &sub) : csv_load_file(in->source, NULL, &sub);
    if (!t)
        mlops_err_set(err, sub.code ? sub.code : MLOPS_ECSV, "extract: cannot read '%.200s': %s",
                      in->source, mlops_err_text(&sub, sub.code));
    return t;
}

int stage_extract_run(const uint8_t *input, size_t input_len, uint8_t **output,
                      size_t *output_len, mlops_err_t *err)
{
    stage_extract_in_t in;
    mlops_err_t sub;
    int rc = stage_extract_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "extract: bad input: %s", mlops_err_text(&sub, rc));
    table_t *table = s_load(&in, err);
    if (!table)
        return err->code ? err->code : MLOPS_ECSV;
    if (table->n_rows == 0) {
        table_destroy(&table);
        return mlops_err_set(err, MLOPS_ECSV, "extract: '%.200s' has no rows", in.source);
    }
    stage_extract_out_t out = {.rows = (int64_t)table->n_rows, .cols = (int64_t)table->n_cols};
    uint8_t *bytes = NULL;
    size_t len = 0;
    rc = table_hash(table, out.dataset_hash);
    if (rc == 0)
        rc = table_encode(table, &bytes, &len);
    table_destroy(&table);
    if (rc)
        return mlops_err_set(err, rc, "extract: cannot encode the table: %s", mlops_strerror(rc));
    out.table = bytes;
    out.table_len = len;
    rc = stage_extract_out_encode(&out, output, output_len);
    free(bytes);
    return rc ? mlops_err_set(err, rc, "extract: cannot encode the output") : 0;
}
