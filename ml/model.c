/*  model.c: a loaded artifact (see model.h): the decoded recipe plus the
    classifier, and the one path from raw inputs to probabilities. */
#include "model.h"
#include "artifact.h"
#include "prep.h"
#include "score.h"
#include "signature.h"
#include "task_name.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct model {
    artifact_t art;          //  decoded artifact (classifier, metrics, signature)
    prep_recipe_t *recipe;   //  decoded recipe
    json_t *classes;         //  MULTICLASS: the labels as JSON values, else NULL
    char *classes_json;      //  MULTICLASS: their JSON text, else NULL
};

_Static_assert(TASK_MAX_CLASSES <= PROTO_CLASSES_MAX, "a multiclass answer fits a PREDICTION");

//  One class label as JSON: a string, or a number (an integer when whole).
static json_t *s_label(const prep_recipe_t *r, size_t c)
{
    if (!r->target_numeric)
        return json_string(r->class_str[c]);
    double v = r->class_num[c];
    return v == floor(v) && fabs(v) < 9e15 ? json_integer((json_int_t)v) : json_real(v);
}

//  The class labels of a multiclass model, kept for every answer.
static int s_classes(model_t *self)
{
    const prep_recipe_t *r = self->recipe;
    if (r->task != TASK_MULTICLASS)
        return 0;
    self->classes = json_array();
    for (size_t c = 0; self->classes && c < r->n_classes; c++)
        if (json_array_append_new(self->classes, s_label(r, c)) != 0)
            return MLOPS_ENOMEM;
    self->classes_json = self->classes ? json_dumps(self->classes, JSON_COMPACT) : NULL;
    return self->classes_json ? 0 : MLOPS_ENOMEM;
}

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
    if (!self->recipe || s_classes(self) != 0) {
        if (self->recipe)
            mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        model_destroy(&self);
        return NULL;
    }
    return self;
}

void model_destroy(model_t **p)
{
    if (!p || !*p)
        return;
    json_decref((*p)->classes);
    free((*p)->classes_json);
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

const profile_t *model_profile(const model_t *self)
{
    return self->art.profile;
}

task_t model_task(const model_t *self)
{
    return self->recipe->task;
}

const score_t *model_score(const model_t *self)
{
    return &self->art.score;
}

size_t model_outputs(const model_t *self)
{
    if (self->art.gbdt)
        return self->art.gbdt->n_outputs;
    return self->art.forest ? forest_outputs(self->art.forest) : logreg_outputs(self->art.logreg);
}

//  Outputs of n feature rows into out (n x model_outputs).
static void s_outputs_block(const model_t *self, const double *X, size_t n, double *out)
{
    size_t p = self->recipe->n_features, k = model_outputs(self);
    if (self->art.forest)
        forest_predict_outputs(self->art.forest, X, n, out);
    else if (self->art.gbdt)
        gbdt_predict_block(self->art.gbdt, X, n, out);
    else
        for (size_t i = 0; i < n; i++)
            logreg_predict_outputs(self->art.logreg, X + i * p, out + i * k);
}

size_t model_class_of(const double *probs, size_t k)
{
    size_t best = 0;
    for (size_t c = 1; c < k; c++)
        best = probs[c] > probs[best] ? c : best;
    return best;
}

//  One value per row for a multiclass model: the most probable class.
static void s_class_block(const model_t *self, const double *X, size_t n, double *pred)
{
    enum { CHUNK_ROWS = 16 };
    size_t k = model_outputs(self), p = self->recipe->n_features;
    double buf[CHUNK_ROWS * 256];
    for (size_t at = 0; at < n; at += CHUNK_ROWS) {
        size_t m = n - at < CHUNK_ROWS ? n - at : CHUNK_ROWS;
        s_outputs_block(self, X + at * p, m, buf);
        for (size_t i = 0; i < m; i++)
            pred[at + i] = (double)model_class_of(buf + i * k, k);
    }
}

//  Probabilities of n feature rows (row-major): the forest tree by tree over
//  the block (each tree stays in cache; the same bits as row by row).
static void s_predict_block(const model_t *self, const double *X, size_t n, double *proba)
{
    if (self->recipe->task == TASK_MULTICLASS) {
        s_class_block(self, X, n, proba);
        return;
    }
    if (self->recipe->task == TASK_REGRESSION) {
        s_outputs_block(self, X, n, proba);
        return;
    }
    //  A row or two walk faster alone: lock step only pays with company.
    enum { LOCKSTEP_MIN_ROWS = 4 };
    size_t p = self->recipe->n_features;
    if (self->art.gbdt) //  one output per row: the block is the answer
        gbdt_predict_block(self->art.gbdt, X, n, proba);
    else if (self->art.forest && n >= LOCKSTEP_MIN_ROWS)
        forest_predict_block(self->art.forest, X, n, proba);
    else if (self->art.forest)
        for (size_t i = 0; i < n; i++)
            proba[i] = forest_predict_one(self->art.forest, X + i * p);
    else
        for (size_t i = 0; i < n; i++)
            proba[i] = logreg_predict_one(self->art.logreg, X + i * p);
}

//  What a walk does with a block of n feature rows: out gets k values a row.
typedef void(s_block_fn)(const model_t *self, const double *X, size_t n, double *out);

//  The serving path's one walk over the records: each is mapped to the
//  inputs once (after the record before, whose map is kept), checked, and
//  the cells its check produced are transformed; feature rows are
//  predicted BLOCK_ROWS at a time by block_fn, k values a record into
//  proba. proba NULL: check only. keep (n x n_inputs, may be NULL) gets
//  every record's cells, else one record's scratch holds them. After the first
//  problem the walk only checks (there will be no answer to fill), still
//  counting every problem into *bad. Returns 0 or MLOPS_ENOMEM.
static int s_walk_with(const model_t *self, const proto_record_t *records, size_t n,
                       bool single, proto_problem_t *problems, size_t max, size_t *bad,
                       s_block_fn *block_fn, size_t k, double *proba, prep_cell_t *keep,
                       mlops_err_t *err)
{
    enum { BLOCK_ROWS = 128 };
    const prep_recipe_t *r = self->recipe;
    size_t ni = r->n_inputs, p = r->n_features ? r->n_features : 1;
    size_t rows = proba ? (n < BLOCK_ROWS ? n : BLOCK_ROWS) : 0;
    //  One allocation: the feature rows of a block, the record's cells and
    //  two maps (the record's and the one before's).
    double *X = malloc(rows * p * sizeof *X + ni * sizeof(prep_cell_t)
                       + 2 * ni * sizeof(proto_field_t *) + 1);
    prep_cell_t *cells = X ? (prep_cell_t *)(X + rows * p) : NULL;
    const proto_field_t **maps = X ? (const proto_field_t **)(cells + ni) : NULL;
    int rc = X ? 0 : MLOPS_ENOMEM;
    *bad = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const proto_field_t **map = maps + (i % 2) * ni, **prev_map = maps + (1 - i % 2) * ni;
        prep_cell_t *c = keep ? keep + i * ni : cells;
        signature_map_after(r, &records[i], i ? &records[i - 1] : NULL, prev_map, map);
        signature_validate(r, map, single ? -1 : (int64_t)i, problems, max, bad, c);
        if (*bad || !rows)
            continue;
        size_t row = i % BLOCK_ROWS;
        prep_transform_row(r, c, X + row * p);
        if (row == BLOCK_ROWS - 1 || i == n - 1)
            block_fn(self, X, row + 1, proba + (i - row) * k);
    }
    free(X);
    return rc ? mlops_err_set(err, rc, "out of memory") : 0;
}

//  s_walk_with one value per record (s_predict_block).
static int s_walk(const model_t *self, const proto_record_t *records, size_t n, bool single,
                  proto_problem_t *problems, size_t max, size_t *bad, double *proba,
                  mlops_err_t *err)
{
    return s_walk_with(self, records, n, single, problems, max, bad, s_predict_block, 1, proba,
                       NULL, err);
}

size_t model_validate(const model_t *self, const proto_record_t *records, size_t n,
                      bool single, proto_problem_t *problems, size_t max)
{
    size_t count = 0;
    if (s_walk(self, records, n, single, problems, max, &count, NULL, NULL) == 0)
        return count;
    //  no memory for the maps: the scan needs none
    count = 0;
    for (size_t i = 0; i < n; i++)
        signature_validate_record(self->recipe, &records[i], single ? -1 : (int64_t)i, problems,
                                  max, &count);
    return count;
}

int model_serve(const model_t *self, const proto_record_t *records, size_t n, bool single,
                proto_problem_t *problems, size_t max, size_t *bad, double *proba,
                mlops_err_t *err)
{
    return s_walk(self, records, n, single, problems, max, bad, proba, err);
}

int model_serve_outputs(const model_t *self, const proto_record_t *records, size_t n,
                        bool single, proto_problem_t *problems, size_t max, size_t *bad,
                        double *out, mlops_err_t *err)
{
    return s_walk_with(self, records, n, single, problems, max, bad, s_outputs_block,
                       model_outputs(self), out, NULL, err);
}

int model_serve_cells(const model_t *self, const proto_record_t *records, size_t n,
                      proto_problem_t *problems, size_t max, size_t *bad, double *out,
                      prep_cell_t *cells, mlops_err_t *err)
{
    if (self->recipe->task == TASK_MULTICLASS)
        return s_walk_with(self, records, n, false, problems, max, bad, s_outputs_block,
                           model_outputs(self), out, cells, err);
    return s_walk_with(self, records, n, false, problems, max, bad, s_predict_block, 1, out,
                       cells, err);
}

int model_predict(const model_t *self, const proto_record_t *records, size_t n,
                  double *proba, mlops_err_t *err)
{
    proto_problem_t pb;
    size_t bad = 0;
    int rc = s_walk(self, records, n, false, &pb, 1, &bad, proba, err);
    if (rc == 0 && bad > 0)
        rc = mlops_err_set(err, MLOPS_ECHECK, "record %" PRId64 ": field '%s' %s", pb.index,
                           pb.field, pb.msg);
    return rc;
}

//  Rows of raw through the recipe, a block at a time, each block's feature
//  rows handed to fn with where its k values per row go.
static int s_table_blocks(const model_t *self, const table_t *raw, const size_t *rows, size_t n,
                          size_t k, double *out, s_block_fn *fn, mlops_err_t *err)
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
            fn(self, X, m, out + at * k);
    }
    free(X);
    return rc;
}

int model_predict_table(const model_t *self, const table_t *raw, const size_t *rows, size_t n,
                        double *proba, mlops_err_t *err)
{
    return s_table_blocks(self, raw, rows, n, 1, proba, s_predict_block, err);
}

int model_predict_outputs(const model_t *self, const table_t *raw, const size_t *rows, size_t n,
                          double *out, mlops_err_t *err)
{
    return s_table_blocks(self, raw, rows, n, model_outputs(self), out, s_outputs_block, err);
}

const char *model_classes_json(const model_t *self)
{
    return self->classes_json;
}

//  The stored signature with what the model predicts added: "task" and,
//  for a multiclass model, "classes" (a binary signature stays as stored).
char *model_signature_json(const model_t *self)
{
    const char *stored = self->art.signature ? self->art.signature : "{}";
    if (self->recipe->task == TASK_BINARY)
        return strdup(stored);
    json_t *root = json_loads(stored, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return strdup(stored);   //  not ours to repair; the gateway refuses it by name
    }
    json_object_set_new(root, "task", json_string(task_name(self->recipe->task)));
    if (self->classes)
        json_object_set(root, "classes", self->classes);
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}
