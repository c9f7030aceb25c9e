/*  stage_extract.c: the extract stage. The source is read on the worker's
    host, so a CSV path names a file there (the broker never opens it); the
    table is uploaded to the data service and the output names it. A stored
    dataset (dataset:HASH) is fetched, checked and named again. */
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

static table_t *s_load(stage_data_t *d, const stage_extract_in_t *in, mlops_err_t *err)
{
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (in->dataset.hash[0])
        return stage_table_fetch(d, "extract", &in->dataset, err);
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

int stage_extract_run(void *arg, const uint8_t *input, size_t input_len, uint8_t **output,
                      size_t *output_len, mlops_err_t *err)
{
    stage_extract_in_t in;
    mlops_err_t sub;
    int rc = stage_extract_in_decode(input, input_len, &in, &sub);
    if (rc)
        return mlops_err_set(err, rc, "extract: bad input: %s", mlops_err_text(&sub, rc));
    table_t *table = s_load(arg, &in, err);
    if (!table)
        return err->code ? err->code : MLOPS_ECSV;
    if (table->n_rows == 0) {
        table_destroy(&table);
        return mlops_err_set(err, MLOPS_ECSV, "extract: '%.200s' has no rows", in.source);
    }
    //  the table's name is the sha256 of its canonical encoding: the
    //  dataset version (table_hash), computed again by the data service
    stage_extract_out_t out = {0};
    uint8_t *bytes = NULL;
    size_t len = 0;
    rc = table_encode(table, &bytes, &len);
    table_destroy(&table);
    if (rc)
        return mlops_err_set(err, rc, "extract: cannot encode the table: %s", mlops_strerror(rc));
    rc = stage_upload(arg, "extract", "table", bytes, len, &out.table, err);
    free(bytes);
    if (rc == 0 && (rc = stage_extract_out_encode(&out, output, output_len)) != 0)
        mlops_err_set(err, rc, "extract: cannot encode the output");
    return rc;
}
