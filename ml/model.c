/*  model.c: a loaded artifact (see model.h): the decoded recipe plus the
    classifier, and the one path from raw inputs to probabilities. */
#include "model.h"
#include "artifact.h"
#include "prep.h"

#include <stdlib.h>
#include <string.h>

struct model {
    artifact_t art;          //  decoded artifact (classifier, metrics, signature)
    prep_recipe_t *recipe;   //  decoded recipe
};

model_t *model_load(const uint8_t *blob, size_t len, mlops_err_t *err)
{
    model_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    if (artifact_decode(blob, len, &self->art, err) != 0) {
        free(self);
        return NULL;
    }
    self->recipe = artifact_recipe_decode(self->art.recipe, self->art.recipe_len, err);
    if (!self->recipe) {
        model_destroy(&self);
        return NULL;
    }
    return self;
}

void model_destroy(model_t **p)
{
    if (!p || !*p)
        return;
    prep_destroy(&(*p)->recipe);
    artifact_clear(&(*p)->art);
    free(*p);
    *p = NULL;
}

const char *model_family(const model_t *self)
{
    return self->art.family;
}

const metrics_t *model_metrics(const model_t *self)
{
    return &self->art.metrics;
}

const prep_recipe_t *model_recipe(const model_t *self)
{
    return self->recipe;
}

size_t model_validate(const model_t *self, const proto_record_t *records, size_t n,
                      bool single, proto_problem_t *problems, size_t max)
{
    const prep_recipe_t *r = self->recipe;
    //  two maps: the record's and the one before's (prep_record_fields_after)
    const proto_field_t *stack[2 * 64], **fields = stack;
    if (r->n_inputs > 64 && !(fields = malloc(2 * r->n_inputs * sizeof *fields))) {
        //  no memory for the map: the scan needs none
        size_t count = 0;
        for (size_t i = 0; i < n; i++)
            prep_validate_record(r, &records[i], single ? -1 : (int64_t)i, problems, max, &count);
        return count;
    }
    size_t count = 0;
    size_t ni = r->n_inputs;
    for (size_t i = 0; i < n; i++) {
        const proto_field_t **map = fields + (i % 2) * ni, **prev_map = fields + (1 - i % 2) * ni;
        prep_record_fields_after(r, &records[i], i ? &records[i - 1] : NULL, prev_map, map);
        prep_validate_fields(r, map, single ? -1 : (int64_t)i, problems, max, &count);
    }
    if (fields != stack)
        free(fields);
    return count;
}

//  Probabilities of n feature rows (row-major): the forest tree by tree over
//  the block (each tree stays in cache; the same bits as row by row).
static void s_predict_block(const model_t *self, const double *X, size_t n, double *proba)
{
    //  A row or two walk faster alone: lock step only pays with company.
    enum { LOCKSTEP_MIN_ROWS = 4 };
    size_t p = self->recipe->n_features;
    if (self->art.forest && n >= LOCKSTEP_MIN_ROWS)
        forest_predict(self->art.forest, X, n, proba);
    else if (self->art.forest)
        for (size_t i = 0; i < n; i++)
            proba[i] = forest_predict_one(self->art.forest, X + i * p);
    else
        for (size_t i = 0; i < n; i++)
            proba[i] = logreg_predict_one(self->art.logreg, X + i * p);
}

//  One record's feature row into x, after checking it: 0 or MLOPS_ECHECK.
//  fields gets its map; prev and prev_fields are the record before and its.
static int s_record_x(const model_t *self, const proto_record_t *rec, size_t index,
                      const proto_record_t *prev, const proto_field_t *const *prev_fields,
                      const proto_field_t **fields, prep_cell_t *cells, double *x, mlops_err_t *err)
{
    const prep_recipe_t *r = self->recipe;
    proto_problem_t pb;
    size_t count = 0;
    prep_record_fields_after(r, rec, prev, prev_fields, fields);
    prep_validate_cells(r, fields, (int64_t)index, &pb, 1, &count, cells);
    if (count > 0)
        return mlops_err_set(err, MLOPS_ECHECK, "record %zu: field '%s' %s", index, pb.field,
                             pb.msg);
    prep_transform_row(r, cells, x);
    return 0;
}

int model_predict(const model_t *self, const proto_record_t *records, size_t n,
                  double *proba, mlops_err_t *err)
{
    //  Records go through in blocks: each is mapped to the inputs once
    //  (validation and cells share the map), then a block is predicted.
    enum { BLOCK_ROWS = 128 };
    const prep_recipe_t *r = self->recipe;
    size_t ni = r->n_inputs ? r->n_inputs : 1, p = r->n_features ? r->n_features : 1;
    const proto_field_t **fields = malloc(2 * ni * sizeof *fields);   //  two maps, as in model_validate
    prep_cell_t *cells = malloc(ni * sizeof *cells);
    double *X = malloc(BLOCK_ROWS * p * sizeof *X);
    int rc = fields && cells && X ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    for (size_t at = 0; rc == 0 && at < n; at += BLOCK_ROWS) {
        size_t m = n - at < BLOCK_ROWS ? n - at : BLOCK_ROWS;
        for (size_t i = at; rc == 0 && i < at + m; i++)
            rc = s_record_x(self, &records[i], i, i ? &records[i - 1] : NULL,
                            fields + (1 - i % 2) * ni, fields + (i % 2) * ni, cells,
                            X + (i - at) * p, err);
        if (rc == 0)
            s_predict_block(self, X, m, proba + at);
    }
    free(fields);
    free(cells);
    free(X);
    return rc;
}

int model_predict_table(const model_t *self, const table_t *raw, const size_t *rows, size_t n,
                        double *proba, mlops_err_t *err)
{
    size_t p = self->recipe->n_features ? self->recipe->n_features : 1;
    //  In blocks, so a million rows never need a million feature vectors;
    //  blocks of up to BLOCK_BYTES, large enough that forest_predict shares
    //  one out over the CPUs and reuses each tree over many rows.
    enum { BLOCK_MIN_ROWS = 4096, BLOCK_MAX_ROWS = 65536, BLOCK_BYTES = 16 << 20 };
    size_t block = BLOCK_BYTES / (p * sizeof(double));
    block = block < BLOCK_MIN_ROWS ? BLOCK_MIN_ROWS : block > BLOCK_MAX_ROWS ? BLOCK_MAX_ROWS : block;
    block = block < n ? block : n ? n : 1;
    double *X = malloc(block * p * sizeof *X);
    if (!X)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < n; at += block) {
        size_t m = n - at < block ? n - at : block;
        rc = prep_transform_table(self->recipe, raw, rows + at, m, X, err);
        if (rc == 0)
            s_predict_block(self, X, m, proba + at);
    }
    free(X);
    return rc;
}

char *model_signature_json(const model_t *self)
{
    return strdup(self->art.signature ? self->art.signature : "{}");
}
