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
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        prep_validate_record(self->recipe, &records[i], single ? -1 : (int64_t)i, problems, max,
                             &count);
    return count;
}

static double s_predict_x(const model_t *self, const double *x)
{
    return self->art.logreg ? logreg_predict_one(self->art.logreg, x)
                            : forest_predict_one(self->art.forest, x);
}

int model_predict(const model_t *self, const proto_record_t *records, size_t n,
                  double *proba, mlops_err_t *err)
{
    const prep_recipe_t *r = self->recipe;
    prep_cell_t *cells = malloc((r->n_inputs ? r->n_inputs : 1) * sizeof *cells);
    double *x = malloc(r->n_features * sizeof *x);
    int rc = cells && x ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        proto_problem_t pb;
        size_t count = 0;
        prep_validate_record(r, &records[i], (int64_t)i, &pb, 1, &count);
        if (count > 0) {
            rc = mlops_err_set(err, MLOPS_ECHECK, "record %zu: field '%s' %s", i, pb.field,
                               pb.msg);
            break;
        }
        prep_record_cells(r, &records[i], cells);
        prep_transform_row(r, cells, x);
        proba[i] = s_predict_x(self, x);
    }
    free(cells);
    free(x);
    return rc;
}

int model_predict_table(const model_t *self, const table_t *raw, const size_t *rows, size_t n,
                        double *proba, mlops_err_t *err)
{
    size_t p = self->recipe->n_features;
    //  In blocks, so a million rows never need a million feature vectors.
    enum { BLOCK_ROWS = 4096 };
    double *X = malloc(BLOCK_ROWS * p * sizeof *X);
    if (!X)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < n; at += BLOCK_ROWS) {
        size_t m = n - at < BLOCK_ROWS ? n - at : BLOCK_ROWS;
        rc = prep_transform_table(self->recipe, raw, rows + at, m, X, err);
        if (rc == 0 && self->art.forest)
            forest_predict(self->art.forest, X, m, proba + at);
        for (size_t i = 0; rc == 0 && !self->art.forest && i < m; i++)
            proba[at + i] = s_predict_x(self, X + i * p);
    }
    free(X);
    return rc;
}

char *model_signature_json(const model_t *self)
{
    return strdup(self->art.signature ? self->art.signature : "{}");
}
