/*  stage_extract.c: the extract stage. The source is read on the worker's
    host, so a CSV path names a file there (the broker never opens it). */
#include "stages.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv_load.h"
#include "synth.h"
#include "table.h"

//  True when source names the synthetic generator ("synthetic" or
//  "synthetic:..."); its spec is then checked by synth_parse_spec.
static bool s_is_synthetic(const char *source)
{
    return strncmp(source, "synthetic", 9) == 0 && (source[9] == '\0' || source[9] == ':');
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
    table_t *t = NULL;
    if (s_is_synthetic(in->source)) {
        if (synth_parse_spec(in->source, &rows, &seed, &sub) == 0)
            t = synth_generate(rows, seed, &sub);
    } else {
        t = csv_load_file(in->source, NULL, &sub);
    }
    const char *why = mlops_err_text(&sub, sub.code);
    if (!t && strstr(why, in->source))   //  the loader's message names the path already
        mlops_err_set(err, sub.code ? sub.code : MLOPS_ECSV, "extract: %s", why);
    else if (!t)
        mlops_err_set(err, sub.code ? sub.code : MLOPS_ECSV, "extract: cannot read '%.200s': %s",
                      in->source, why);
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
