/*  train.c: the training stages (see train.h): prepare (labels, split,
    recipe), fit (one family into an artifact), score, and in-process
    cross-validation. The classifiers and the recipe are the ones model.c
    serves with, so an artifact predicts exactly what training measured.

    Every family gets the recipe's feature matrix: missing numbers imputed
    with the training median, categories one-hot. gbdt could take NaN
    natively, but the serving path (signature.h) imputes before any family
    sees a record, so a gbdt trained on NaN would meet medians at serving:
    one recipe for all families keeps training and serving identical. */
#include "train.h"
#include "artifact.h"
#include "feedback_io.h"
#include "forest.h"
#include "gbdt.h"
#include "logreg.h"
#include "matrix.h"
#include "score.h"
#include "prep.h"
#include "profile_fit.h"
#include "signature.h"
#include "split.h"
#include "task_name.h"

#include <math.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef enum { S_LOGREG, S_FOREST, S_GBDT } s_family_t;

typedef struct {
    s_family_t family;         //  which one
    logreg_params_t lr;        //  logreg parameters
    forest_params_t rf;        //  forest parameters
    gbdt_params_t gb;          //  gbdt parameters
} s_params_t;

typedef struct {
    logreg_t *lr;              //  fitted logreg, or NULL
    forest_t *rf;              //  fitted forest, or NULL
    gbdt_t *gb;                //  fitted gbdt, or NULL
} s_fitted_t;

//  The rows of a fit or a score: features and targets.
typedef struct {
    double *X;                 //  n x p features
    uint8_t *y;                //  BINARY, MULTICLASS: class indexes
    double *v;                 //  class indexes as doubles, or REGRESSION targets
    size_t n;                  //  rows
    bool view;                 //  X, y (and a regression v) point into a matrix blob: only
                               //  a classification v is owned
} s_rows_t;

static int s_int_param(json_t *v, const char *key, int lo, int hi, int *out, mlops_err_t *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return mlops_err_set(err, MLOPS_EINVAL, "parameter '%s' must be an integer in %d..%d",
                             key, lo, hi);
    *out = (int)json_integer_value(v);
    return 0;
}

static int s_real_param(json_t *v, const char *key, double *out, mlops_err_t *err)
{
    if (!json_is_number(v) || !(json_number_value(v) > 0))
        return mlops_err_set(err, MLOPS_EINVAL, "parameter '%s' must be a number > 0", key);
    *out = json_number_value(v);
    return 0;
}

//  A number in [lo, hi], both ends excluded when open.
static int s_range_param(json_t *v, const char *key, double lo, double hi, bool open,
                         double *out, mlops_err_t *err)
{
    double x = json_number_value(v);
    if (!json_is_number(v) || !(open ? x > lo && x < hi : x >= lo && x <= hi))
        return mlops_err_set(err, MLOPS_EINVAL, "parameter '%s' must be a number in %s%g, %g%s",
                             key, open ? "(" : "[", lo, hi, open ? ")" : "]");
    *out = x;
    return 0;
}

//  early_stopping: true, false or "auto" (sklearn's values).
static int s_early_param(json_t *v, int *out, mlops_err_t *err)
{
    if (json_is_boolean(v))
        *out = json_is_true(v) ? GBDT_EARLY_ON : GBDT_EARLY_OFF;
    else if (json_is_string(v) && strcmp(json_string_value(v), "auto") == 0)
        *out = GBDT_EARLY_AUTO;
    else
        return mlops_err_set(err, MLOPS_EINVAL,
                             "parameter 'early_stopping' must be true, false or \"auto\"");
    return 0;
}

static int s_gbdt_param(gbdt_params_t *g, const char *key, json_t *v, mlops_err_t *err)
{
    static const struct { const char *key; size_t off; int lo, hi; } ints[] = {
        {"max_iter", offsetof(gbdt_params_t, max_iter), 1, GBDT_MAX_ITER},
        {"max_leaf_nodes", offsetof(gbdt_params_t, max_leaf_nodes), 2, GBDT_MAX_LEAVES},
        {"max_depth", offsetof(gbdt_params_t, max_depth), 0, 10000},
        {"min_samples_leaf", offsetof(gbdt_params_t, min_samples_leaf), 1, 1000000},
        {"max_bins", offsetof(gbdt_params_t, max_bins), 2, 255},
        {"n_iter_no_change", offsetof(gbdt_params_t, n_iter_no_change), 1, 100000},
        {"n_threads", offsetof(gbdt_params_t, n_threads), 1, 256}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(key, ints[i].key) == 0)
            return s_int_param(v, key, ints[i].lo, ints[i].hi,
                               (int *)((char *)g + ints[i].off), err);
    if (strcmp(key, "learning_rate") == 0)
        return s_real_param(v, key, &g->learning_rate, err);
    if (strcmp(key, "l2_regularization") == 0)
        return s_range_param(v, key, 0, 1e300, false, &g->l2_regularization, err);
    if (strcmp(key, "tol") == 0)
        return s_range_param(v, key, 0, 1e300, false, &g->tol, err);
    if (strcmp(key, "validation_fraction") == 0)
        return s_range_param(v, key, 0, 1, true, &g->validation_fraction, err);
    if (strcmp(key, "early_stopping") == 0)
        return s_early_param(v, &g->early_stopping, err);
    return mlops_err_set(err, MLOPS_EINVAL, "unknown parameter '%s' for family %s", key,
                         TRAIN_FAMILY_GBDT);
}

static int s_param(s_params_t *p, const char *key, json_t *v, mlops_err_t *err)
{
    if (p->family == S_GBDT)
        return s_gbdt_param(&p->gb, key, v, err);
    if (p->family == S_LOGREG) {
        if (strcmp(key, "C") == 0)
            return s_real_param(v, key, &p->lr.C, err);
        if (strcmp(key, "tol") == 0)
            return s_real_param(v, key, &p->lr.tol, err);
        if (strcmp(key, "max_iter") == 0)
            return s_int_param(v, key, 1, 100000, &p->lr.max_iter, err);
        if (strcmp(key, "alpha") == 0)
            return s_real_param(v, key, &p->lr.alpha, err);
    } else {
        static const struct { const char *key; size_t off; int lo, hi; } ints[] = {
            {"n_trees", offsetof(forest_params_t, n_trees), 1, FOREST_MAX_TREES},
            {"max_depth", offsetof(forest_params_t, max_depth), 0, 10000},
            {"min_samples_leaf", offsetof(forest_params_t, min_samples_leaf), 1, 1000000},
            {"max_features", offsetof(forest_params_t, max_features), 1, 100000},
            {"max_bins", offsetof(forest_params_t, max_bins), 2, FOREST_MAX_BINS},
            {"n_threads", offsetof(forest_params_t, n_threads), 1, 256}};
        for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
            if (strcmp(key, ints[i].key) == 0)
                return s_int_param(v, key, ints[i].lo, ints[i].hi,
                                   (int *)((char *)&p->rf + ints[i].off), err);
    }
    return mlops_err_set(err, MLOPS_EINVAL, "unknown parameter '%s' for family %s", key,
                         p->family == S_FOREST ? TRAIN_FAMILY_FOREST : TRAIN_FAMILY_LOGREG);
}

static int s_parse_params(const char *family, const char *json, s_params_t *p, mlops_err_t *err)
{
    memset(p, 0, sizeof *p);
    p->gb = gbdt_params_default();
    if (strcmp(family, TRAIN_FAMILY_FOREST) == 0)
        p->family = S_FOREST;
    else if (strcmp(family, TRAIN_FAMILY_GBDT) == 0)
        p->family = S_GBDT;
    else if (strcmp(family, TRAIN_FAMILY_LOGREG) != 0)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "unknown model family '%s' (logreg, forest, gbdt)", family);
    if (!json || !*json)
        return 0;
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return mlops_err_set(err, MLOPS_EINVAL, "parameters are not a JSON object: %s", json);
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if ((rc = s_param(p, key, v, err)) != 0)
            break;
    }
    json_decref(root);
    return rc;
}

//  The parameters as recorded in the artifact (the thread count is left
//  out: it does not change the model).
static void s_params_json(const s_params_t *p, task_t task, size_t n_features, char *out,
                          size_t size)
{
    if (p->family == S_GBDT) {
        const gbdt_params_t *g = &p->gb;
        static const char *const early[] = {"\"auto\"", "true", "false"};
        snprintf(out, size,
                 "{\"max_iter\":%d,\"learning_rate\":%g,\"max_leaf_nodes\":%d,"
                 "\"max_depth\":%d,\"min_samples_leaf\":%d,\"l2_regularization\":%g,"
                 "\"max_bins\":%d,\"early_stopping\":%s}",
                 g->max_iter, g->learning_rate, g->max_leaf_nodes, g->max_depth,
                 g->min_samples_leaf, g->l2_regularization, g->max_bins,
                 early[g->early_stopping]);
        return;
    }
    if (p->family == S_LOGREG && task == TASK_REGRESSION) {
        snprintf(out, size, "{\"alpha\":%g}", p->lr.alpha ? p->lr.alpha : 1.0);
        return;
    }
    if (p->family == S_LOGREG && task == TASK_MULTICLASS) {
        snprintf(out, size, "{\"C\":%g,\"max_iter\":%d}", p->lr.C ? p->lr.C : 1.0,
                 p->lr.max_iter ? p->lr.max_iter : 1000);
        return;
    }
    if (p->family == S_LOGREG) {
        snprintf(out, size, "{\"C\":%g,\"max_iter\":%d,\"tol\":%g}", p->lr.C ? p->lr.C : 1.0,
                 p->lr.max_iter ? p->lr.max_iter : 100, p->lr.tol ? p->lr.tol : 1e-10);
        return;
    }
    int mf = p->rf.max_features;
    if (!mf && task == TASK_REGRESSION)
        mf = (int)n_features;
    if (!mf) {
        while ((size_t)(mf + 1) * (size_t)(mf + 1) <= n_features)
            mf++;
        mf = mf ? mf : 1;
    }
    snprintf(out, size,
             "{\"n_trees\":%d,\"max_depth\":%d,\"min_samples_leaf\":%d,\"max_features\":%d,"
             "\"max_bins\":%d}",
             p->rf.n_trees ? p->rf.n_trees : 100, p->rf.max_depth,
             p->rf.min_samples_leaf ? p->rf.min_samples_leaf : 1, mf,
             p->rf.max_bins ? p->rf.max_bins : FOREST_MAX_BINS);
}

static int s_fit(const s_params_t *p, const prep_recipe_t *r, const s_rows_t *t, uint64_t seed,
                 s_fitted_t *out, mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    size_t d = r->n_features, k = r->n_classes;
    if (p->family == S_GBDT) {
        gbdt_params_t g = p->gb;
        //  every class an output, even one this fold's training rows lack
        g.n_classes = r->task == TASK_MULTICLASS ? (int)k : 0;
        out->gb = gbdt_fit(t->X, t->v, t->n, d, r->task, &g, seed, err);
    } else if (r->task == TASK_BINARY && p->family == S_FOREST)
        out->rf = forest_fit(t->X, t->y, t->n, d, &p->rf, seed, err);
    else if (r->task == TASK_BINARY)
        out->lr = logreg_fit(t->X, t->y, t->n, d, &p->lr, err);
    else if (p->family == S_FOREST)
        out->rf = forest_fit_task(r->task, t->X, t->v, t->n, d, k, &p->rf, seed, err);
    else if (r->task == TASK_MULTICLASS)
        out->lr = logreg_fit_multi(t->X, t->y, t->n, d, k, &p->lr, err);
    else
        out->lr = logreg_fit_ridge(t->X, t->v, t->n, d, &p->lr, err);
    return out->rf || out->lr || out->gb ? 0 : (err && err->code ? err->code : MLOPS_ENOMEM);
}

static size_t s_outputs(const s_fitted_t *f)
{
    return f->gb ? f->gb->n_outputs : f->rf ? forest_outputs(f->rf) : logreg_outputs(f->lr);
}

//  Outputs (n x s_outputs) of n feature rows.
static void s_predict(const s_fitted_t *f, const double *X, size_t n, size_t d, double *out)
{
    if (f->rf) {
        forest_predict_outputs(f->rf, X, n, out);
        return;
    }
    if (f->gb) {
        gbdt_predict_block(f->gb, X, n, out);
        return;
    }
    size_t k = logreg_outputs(f->lr);
    for (size_t i = 0; i < n; i++)
        logreg_predict_outputs(f->lr, X + i * d, out + i * k);
}

//  The task's metrics of outputs against the targets of t.
static int s_score(task_t task, const s_rows_t *t, const double *out, size_t k,
                   score_t *sc, mlops_err_t *err)
{
    memset(sc, 0, sizeof *sc);
    if (task == TASK_MULTICLASS)
        return score_multiclass(t->y, out, t->n, k, sc, err);
    if (task == TASK_REGRESSION)
        return score_regression(t->v, out, t->n, sc, err);
    sc->task = TASK_BINARY;
    return score_compute(t->y, out, t->n, &sc->bin, err);
}

static void s_fitted_clear(s_fitted_t *f)
{
    logreg_destroy(&f->lr);
    forest_destroy(&f->rf);
    gbdt_destroy(&f->gb);
}

static void s_rows_clear(s_rows_t *t)
{
    if (!t->view)
        free(t->X), free(t->y);
    if (!t->view || t->y)
        free(t->v);
    memset(t, 0, sizeof *t);
}

//  The targets of the given rows: REGRESSION values into v, else classes into y.
static int s_targets(const prep_recipe_t *r, const table_t *raw, const size_t *rows, size_t n,
                     uint8_t *y, double *v, mlops_err_t *err)
{
    if (r->task == TASK_REGRESSION)
        return prep_values(r, raw, rows, n, v, err);
    return prep_labels(r, raw, rows, n, y, err);
}

//  A classification's targets as doubles too (what gbdt and the task
//  forests fit on): a new t->v from t->y.
static int s_class_values(s_rows_t *t, mlops_err_t *err)
{
    if (!(t->v = malloc((t->n ? t->n : 1) * sizeof *t->v)))
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %zu targets", t->n);
    for (size_t i = 0; i < t->n; i++)
        t->v[i] = t->y[i];
    return 0;
}

//  Features and targets of the given rows, into new arrays.
static int s_matrix(const prep_recipe_t *r, const table_t *raw, const size_t *rows, size_t n,
                    s_rows_t *t, mlops_err_t *err)
{
    t->n = n;
    t->X = malloc((n ? n : 1) * r->n_features * sizeof *t->X);
    t->y = malloc(n ? n : 1);
    t->v = malloc((n ? n : 1) * sizeof *t->v);
    if (!t->X || !t->y || !t->v)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %zu x %zu features", n,
                             r->n_features);
    int rc = prep_transform_table(r, raw, rows, n, t->X, err);
    if (rc == 0)
        rc = s_targets(r, raw, rows, n, t->y, t->v, err);
    for (size_t i = 0; rc == 0 && r->task != TASK_REGRESSION && i < n; i++)
        t->v[i] = t->y[i];
    return rc;
}

/* --- prepare --------------------------------------------------------------- */

void prep_result_clear(prep_result_t *r)
{
    free(r->recipe);
    free(r->train_rows);
    free(r->test_rows);
    memset(r, 0, sizeof *r);
}

//  The task request of opts: TASK_BINARY when none (the pipeline's stages).
static int s_task_request(const prep_options_t *opts, int *task, mlops_err_t *err)
{
    *task = TASK_BINARY;
    if (!opts || !opts->task)
        return 0;
    if (task_parse(opts->task, task) != 0)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "unknown task '%s' (binary, multiclass, regression, auto)",
                             opts->task);
    return 0;
}

//  Decides the task (into *t, a target-only recipe), and lists the rows
//  with a target and their strata: the class, or 0 for regression. *rows
//  and *y are new arrays.
static int s_labelled(const table_t *raw, const char *target, int task, prep_recipe_t **t,
                      size_t **rows, uint8_t **y, size_t *n, char *desc, size_t desc_size,
                      mlops_err_t *err)
{
    if (!(*t = prep_target_fit(raw, target, task, desc, desc_size, err)))
        return err && err->code ? err->code : MLOPS_ENOMEM;
    size_t m = raw->n_rows ? raw->n_rows : 1;
    uint8_t *all = malloc(m);
    double *v = malloc(m * sizeof *v);
    *rows = malloc(m * sizeof **rows);
    *y = malloc(m);
    int rc = all && v && *rows && *y ? prep_read_target(*t, raw, all, v, NULL, err)
                                     : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    *n = 0;
    int reg = (*t)->task == TASK_REGRESSION;
    for (size_t i = 0; rc == 0 && i < raw->n_rows; i++)
        if (reg ? !isnan(v[i]) : all[i] != PREP_LABEL_MISSING) {
            (*rows)[*n] = i;
            (*y)[(*n)++] = reg ? 0 : all[i];
        }
    free(all);
    free(v);
    return rc;
}

//  The stratified split of positions 0..n-1 into tr / te, as the task wants.
static int s_split(const prep_recipe_t *t, const uint8_t *y, size_t n, double frac, uint64_t seed,
                   size_t *tr, size_t *te, prep_result_t *out, size_t *rare, mlops_err_t *err)
{
    *rare = 0;
    if (t->task == TASK_BINARY)
        return split_train_test(y, n, frac, seed, tr, &out->n_train, te, &out->n_test, err);
    size_t k = t->task == TASK_MULTICLASS ? t->n_classes : 1;
    return split_train_test_classes(y, n, k, frac, seed, tr, &out->n_train, te, &out->n_test,
                                    rare, err);
}

static void s_prepare_notes(prep_result_t *out, const char *desc, const char *notes,
                            size_t dropped, size_t rare)
{
    char extra[160] = "";
    if (dropped && out->task == TASK_BINARY)
        snprintf(extra, sizeof extra, "; rows without a label left out");
    else if (dropped)
        snprintf(extra, sizeof extra, "; %zu rows without a target left out", dropped);
    if (rare)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
                 "; %zu class%s with a single row kept in training only", rare,
                 rare == 1 ? "" : "es");
    snprintf(out->notes, sizeof out->notes, "%s; %s", desc, notes);
    size_t at = strlen(out->notes), room = sizeof out->notes - 1 - at, len = strlen(extra);
    memcpy(out->notes + at, extra, len < room ? len : room); //  cut, as snprintf would
    out->notes[at + (len < room ? len : room)] = 0;
}

int train_prepare(const table_t *raw, const prep_options_t *opts, prep_result_t *out,
                  mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    const char *target = opts && opts->target ? opts->target : FEEDBACK_IO_TARGET_DEFAULT;
    double frac = opts && opts->test_fraction > 0 ? opts->test_fraction : 0.2;
    uint64_t seed = opts ? opts->seed : 42;
    size_t *rows = NULL, n = 0, rare = 0;
    uint8_t *y = NULL;
    char desc[128] = "";
    prep_recipe_t *t = NULL;
    int task, rc = s_task_request(opts, &task, err);
    if (rc == 0)
        rc = s_labelled(raw, target, task, &t, &rows, &y, &n, desc, sizeof desc, err);
    size_t *tr = NULL, *te = NULL;
    if (rc == 0) {
        tr = malloc((n ? n : 1) * sizeof *tr);
        te = malloc((n ? n : 1) * sizeof *te);
        rc = tr && te ? s_split(t, y, n, frac, seed, tr, te, out, &rare, err)
                      : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    //  Split positions -> table rows.
    for (size_t i = 0; rc == 0 && i < out->n_train; i++)
        tr[i] = rows[tr[i]];
    for (size_t i = 0; rc == 0 && i < out->n_test; i++)
        te[i] = rows[te[i]];
    char notes[sizeof out->notes - sizeof desc - 48] = "";
    prep_recipe_t *r = NULL;
    if (rc == 0 && !(r = prep_fit_task(raw, tr, out->n_train, target, (int)t->task, notes,
                                       sizeof notes, err)))
        rc = err && err->code ? err->code : MLOPS_ENOMEM;
    if (rc == 0 && artifact_recipe_encode(r, &out->recipe, &out->recipe_len) != 0)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        out->train_rows = tr, out->test_rows = te, tr = te = NULL;
        out->task = r->task, out->n_unlabelled = raw->n_rows - n;
        s_prepare_notes(out, desc, notes, raw->n_rows - n, rare);
    } else {
        prep_result_clear(out);
    }
    prep_destroy(&r);
    prep_destroy(&t);
    free(rows);
    free(y);
    free(tr);
    free(te);
    return rc;
}

/* --- fit, score ---------------------------------------------------------------- */

//  Fits family pr on the train rows and scores it on the test rows.
static int s_fit_score(const s_params_t *pr, const prep_recipe_t *r, const s_rows_t *train,
                       const s_rows_t *test, uint64_t seed, s_fitted_t *fit, score_t *sc,
                       mlops_err_t *err)
{
    int rc = s_fit(pr, r, train, seed, fit, err);
    double *out = NULL;
    if (rc == 0 && !(out = malloc((test->n ? test->n : 1) * s_outputs(fit) * sizeof *out)))
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        s_predict(fit, test->X, test->n, r->n_features, out);
        rc = s_score(r->task, test, out, s_outputs(fit), sc, err);
    }
    free(out);
    return rc;
}

//  One fit of train_fit or train_fit_matrix: what it was given and what
//  it made on the way.
typedef struct {
    const char *family;        //  as asked
    const uint8_t *recipe;     //  the recipe's bytes (the artifact embeds them)
    size_t recipe_len;
    uint64_t seed;
    s_params_t pr;             //  the family's parameters, parsed
    prep_recipe_t *r;          //  the recipe, decoded, owned
    s_rows_t train, test;      //  the rows, owned (or views into a matrix)
    profile_t *profile;        //  the training rows' profile, owned
} s_fit_job_t;

//  The family's parameters and the decoded recipe, as both fits start.
static int s_fit_start(s_fit_job_t *job, const char *params_json, mlops_err_t *err)
{
    int rc = s_parse_params(job->family, params_json, &job->pr, err);
    if (rc != 0)
        return rc;
    if (!(job->r = artifact_recipe_decode(job->recipe, job->recipe_len, err)))
        return err && err->code ? err->code : MLOPS_ECORRUPT;
    return 0;
}

//  The fit, its score on the test rows and the artifact, from the rows made.
static int s_fit_artifact(s_fit_job_t *job, uint8_t **artifact, size_t *artifact_len,
                          mlops_err_t *err)
{
    const prep_recipe_t *r = job->r;
    s_fitted_t fit = {0};
    artifact_t a = {.profile = job->profile};
    s_params_t used = job->pr;
    int rc = s_fit_score(&job->pr, r, &job->train, &job->test, job->seed, &fit, &a.score, err);
    if (rc == 0) {
        a.metrics = a.score.bin;
        snprintf(a.family, sizeof a.family, "%s", job->family);
        if (used.family == S_FOREST && !used.rf.min_samples_leaf) //  the one the fit used
            used.rf.min_samples_leaf = forest_default_leaf(job->train.n);
        s_params_json(&used, r->task, r->n_features, a.params, sizeof a.params);
        a.seed = job->seed;
        a.recipe = (uint8_t *)job->recipe, a.recipe_len = job->recipe_len;
        a.logreg = fit.lr, a.forest = fit.rf, a.gbdt = fit.gb;
        a.signature = signature_json(r);
        a.n_train = job->train.n, a.n_test = job->test.n;
        rc = a.signature ? artifact_encode(&a, artifact, artifact_len) : MLOPS_ENOMEM;
        if (rc != 0)
            mlops_err_set(err, rc, "cannot encode the artifact: %s", mlops_strerror(rc));
        free(a.signature);
    }
    score_clear(&a.score);
    s_fitted_clear(&fit);
    return rc;
}

//  Ends a fit: the artifact when the rows were made (rc 0), then frees the
//  job. Returns the first failing code.
static int s_fit_finish(s_fit_job_t *job, int rc, uint8_t **artifact, size_t *artifact_len,
                        mlops_err_t *err)
{
    if (rc == 0)
        rc = s_fit_artifact(job, artifact, artifact_len, err);
    profile_destroy(&job->profile);
    prep_destroy(&job->r);
    s_rows_clear(&job->train);
    s_rows_clear(&job->test);
    return rc;
}

int train_fit(const table_t *raw, const uint8_t *recipe, size_t recipe_len,
              const size_t *train_rows, size_t n_train, const size_t *test_rows, size_t n_test,
              const char *family, const char *params_json, uint64_t seed, uint8_t **artifact,
              size_t *artifact_len, mlops_err_t *err)
{
    s_fit_job_t job = {.family = family, .recipe = recipe, .recipe_len = recipe_len, .seed = seed};
    int rc = s_fit_start(&job, params_json, err);
    if (rc == 0)
        rc = s_matrix(job.r, raw, train_rows, n_train, &job.train, err);
    if (rc == 0)
        rc = s_matrix(job.r, raw, test_rows, n_test, &job.test, err);
    //  the training rows' profile: what live requests are compared to
    if (rc == 0 && !(job.profile = profile_fit(job.r, raw, train_rows, n_train, err)))
        rc = err && err->code ? err->code : MLOPS_ENOMEM;
    return s_fit_finish(&job, rc, artifact, artifact_len, err);
}

/* --- the feature matrix (ml/matrix.h) ------------------------------------------- */

//  The training rows' profile, encoded (a new buffer in *bytes).
static int s_profile_bytes(const prep_recipe_t *r, const table_t *raw, const size_t *rows,
                           size_t n, uint8_t **bytes, size_t *len, mlops_err_t *err)
{
    profile_t *p = profile_fit(r, raw, rows, n, err);
    if (!p)
        return err && err->code ? err->code : MLOPS_ENOMEM;
    int rc = profile_encode(p, bytes, len);
    profile_destroy(&p);
    return rc ? mlops_err_set(err, rc, "cannot encode the profile: %s", mlops_strerror(rc)) : 0;
}

int train_matrix(const table_t *raw, const prep_result_t *prep, uint8_t **blob, size_t *len,
                 mlops_err_t *err)
{
    *blob = NULL;
    uint8_t *profile = NULL;
    matrix_t m = {.n_train = prep->n_train, .n_test = prep->n_test};
    //  the recipe as train decodes it, so the features are the ones it would compute
    prep_recipe_t *r = artifact_recipe_decode(prep->recipe, prep->recipe_len, err);
    int rc = r ? 0 : (err && err->code ? err->code : MLOPS_ECORRUPT);
    if (rc == 0)
        rc = s_profile_bytes(r, raw, prep->train_rows, prep->n_train, &profile, &m.profile_len, err);
    if (rc == 0) {
        m.task = r->task, m.n_features = r->n_features;
        rc = matrix_alloc(&m, blob, len, err);
    }
    if (rc == 0)
        rc = prep_transform_table(r, raw, prep->train_rows, m.n_train, m.X_train, err);
    if (rc == 0)
        rc = prep_transform_table(r, raw, prep->test_rows, m.n_test, m.X_test, err);
    if (rc == 0)
        rc = s_targets(r, raw, prep->train_rows, m.n_train, m.y_train, m.v_train, err);
    if (rc == 0)
        rc = s_targets(r, raw, prep->test_rows, m.n_test, m.y_test, m.v_test, err);
    if (rc == 0)
        memcpy(m.profile, profile, m.profile_len);
    if (rc != 0)
        free(*blob), *blob = NULL;
    free(profile);
    prep_destroy(&r);
    return rc;
}

//  Rows of one part of a matrix (a view into its blob).
static int s_rows_view(const prep_recipe_t *r, double *X, uint8_t *y, double *v, size_t n,
                       s_rows_t *t, mlops_err_t *err)
{
    *t = (s_rows_t){.X = X, .y = y, .v = v, .n = n, .view = true};
    size_t k = r->task == TASK_BINARY ? 2 : r->n_classes;
    for (size_t i = 0; y && i < n; i++)
        if (y[i] >= k)
            return mlops_err_set(err, MLOPS_EPROTO, "matrix: row %zu has class %u of %zu", i,
                                 y[i], k);
    return y ? s_class_values(t, err) : 0;
}

//  The matrix's shape against the recipe's, and its profile decoded.
static int s_matrix_check(const matrix_t *m, const prep_recipe_t *r, profile_t **profile,
                          mlops_err_t *err)
{
    if (m->task != r->task || m->n_features != r->n_features)
        return mlops_err_set(err, MLOPS_EPROTO, "the matrix holds %zu %s features, the recipe "
                             "makes %zu %s ones", m->n_features, task_name(m->task),
                             r->n_features, task_name(r->task));
    if (!(*profile = profile_decode(m->profile, m->profile_len, err)))
        return err && err->code ? err->code : MLOPS_ENOMEM;
    return profile_fit_check(*profile, r, err);
}

int train_fit_matrix(const matrix_t *m, const uint8_t *recipe, size_t recipe_len,
                     const char *family, const char *params_json, uint64_t seed,
                     uint8_t **artifact, size_t *artifact_len, mlops_err_t *err)
{
    s_fit_job_t job = {.family = family, .recipe = recipe, .recipe_len = recipe_len, .seed = seed};
    int rc = s_fit_start(&job, params_json, err);
    if (rc == 0)
        rc = s_matrix_check(m, job.r, &job.profile, err);
    if (rc == 0)
        rc = s_rows_view(job.r, m->X_train, m->y_train, m->v_train, m->n_train, &job.train, err);
    if (rc == 0)
        rc = s_rows_view(job.r, m->X_test, m->y_test, m->v_test, m->n_test, &job.test, err);
    return s_fit_finish(&job, rc, artifact, artifact_len, err);
}

int train_evaluate(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                   score_t *out, mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    const prep_recipe_t *r = model_recipe(model);
    size_t k = model_outputs(model);
    s_rows_t t = {0};
    double *pred = malloc((n ? n : 1) * k * sizeof *pred);
    int rc = pred ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    //  targets only: the features go through the model's own path
    t.n = n, t.y = malloc(n ? n : 1), t.v = malloc((n ? n : 1) * sizeof *t.v);
    if (rc == 0 && (!t.y || !t.v))
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = r->task == TASK_REGRESSION ? prep_values(r, raw, rows, n, t.v, err)
                                        : prep_labels(r, raw, rows, n, t.y, err);
    if (rc == 0)
        rc = model_predict_outputs(model, raw, rows, n, pred, err);
    if (rc == 0)
        rc = s_score(r->task, &t, pred, k, out, err);
    free(pred);
    s_rows_clear(&t);
    return rc;
}

int train_score(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                metrics_t *out, mlops_err_t *err)
{
    if (model_task(model) != TASK_BINARY)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "a %s model has no binary metrics (score it with train_evaluate)",
                             task_name(model_task(model)));
    score_t sc;
    int rc = train_evaluate(model, raw, rows, n, &sc, err);
    if (rc == 0)
        *out = sc.bin;
    score_clear(&sc);
    return rc;
}

/* --- cross-validation ------------------------------------------------------------ */

static const char *const s_cv_names[3][TRAIN_CV_METRICS] = {
    {"accuracy", "auc", "f1", "log_loss"},
    {"accuracy", "macro_f1", "log_loss", NULL},
    {"r2", "rmse", "mae", NULL}};

typedef struct {
    double *v[TRAIN_CV_METRICS];   //  per metric, per fold
} s_fold_scores_t;

//  One fold: recipe on the other folds, every family fitted and scored.
static int s_cv_fold(const table_t *raw, const char *target, task_t task,
                     const size_t *rows, size_t n, const int *fold, int f, const s_params_t *pr,
                     size_t n_families, uint64_t seed, s_fold_scores_t *sc, size_t at,
                     mlops_err_t *err)
{
    size_t *tr = malloc(n * sizeof *tr), *te = malloc(n * sizeof *te), ntr = 0, nte = 0;
    if (!tr || !te) {
        free(tr), free(te);
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (fold[i] == f)
            te[nte++] = rows[i];
        else
            tr[ntr++] = rows[i];
    }
    s_rows_t train = {0}, test = {0};
    prep_recipe_t *r = prep_fit_task(raw, tr, ntr, target, (int)task, NULL, 0, err);
    int rc = r ? 0 : (err && err->code ? err->code : MLOPS_ENOMEM);
    if (rc == 0)
        rc = s_matrix(r, raw, tr, ntr, &train, err);
    if (rc == 0)
        rc = s_matrix(r, raw, te, nte, &test, err);
    for (size_t k = 0; rc == 0 && k < n_families; k++) {
        s_fitted_t fit;
        score_t m;
        rc = s_fit_score(&pr[k], r, &train, &test, seed, &fit, &m, err);
        s_fitted_clear(&fit);
        for (size_t j = 0; rc == 0 && j < TRAIN_CV_METRICS && s_cv_names[task][j]; j++)
            score_metric(&m, s_cv_names[task][j], &sc[k].v[j][at]);
        score_clear(&m);
    }
    prep_destroy(&r);
    s_rows_clear(&train);
    s_rows_clear(&test);
    free(tr), free(te);
    return rc;
}

//  Fold assignment of repeat rep: binary as before, the others K-class.
static int s_folds(const prep_recipe_t *t, const uint8_t *y, size_t n, int k, uint64_t seed,
                   int *fold, mlops_err_t *err)
{
    if (t->task == TASK_BINARY)
        return split_kfold(y, n, k, seed, fold, err);
    return split_kfold_classes(y, n, t->task == TASK_MULTICLASS ? t->n_classes : 1, k, seed,
                               fold, NULL, err);
}

static void s_cv_summary(task_t task, const s_fold_scores_t *sc, size_t total,
                         const char *family, train_cv_t *out)
{
    *out = (train_cv_t){.family = family, .n_folds = total, .task = task};
    for (size_t j = 0; j < TRAIN_CV_METRICS && s_cv_names[task][j]; j++, out->n_metrics++) {
        out->metric[j] = s_cv_names[task][j];
        score_mean_std(sc->v[j], total, &out->mean[j], &out->std[j]);
    }
    if (task != TASK_BINARY)
        return;
    out->accuracy_mean = out->mean[0], out->accuracy_std = out->std[0];
    out->auc_mean = out->mean[1], out->auc_std = out->std[1];
    out->f1_mean = out->mean[2], out->f1_std = out->std[2];
    out->log_loss_mean = out->mean[3], out->log_loss_std = out->std[3];
}

int train_cv(const table_t *raw, const prep_options_t *opts, int k, int repeats,
             const char *const *families, size_t n_families, const char *const *params_json,
             void (*progress)(size_t done, size_t total), train_cv_t *out, mlops_err_t *err)
{
    const char *target = opts && opts->target ? opts->target : FEEDBACK_IO_TARGET_DEFAULT;
    uint64_t seed = opts ? opts->seed : 42;
    if (repeats < 1 || repeats > 1000 || n_families == 0 || n_families > 8)
        return mlops_err_set(err, MLOPS_EINVAL, "cross-validation needs 1..1000 repeats and "
                                                "1..8 families");
    s_params_t pr[8];
    for (size_t f = 0; f < n_families; f++)
        if (s_parse_params(families[f], params_json ? params_json[f] : NULL, &pr[f], err) != 0)
            return MLOPS_EINVAL;
    size_t *rows = NULL, n = 0, total = (size_t)k * (size_t)repeats;
    uint8_t *y = NULL;
    prep_recipe_t *t = NULL;
    int task, rc = s_task_request(opts, &task, err);
    if (rc == 0)
        rc = s_labelled(raw, target, task, &t, &rows, &y, &n, NULL, 0, err);
    int *fold = malloc((n ? n : 1) * sizeof *fold);
    s_fold_scores_t sc[8] = {{{0}}};
    for (size_t f = 0; f < n_families; f++)
        for (size_t j = 0; j < TRAIN_CV_METRICS; j++)
            if (!(sc[f].v[j] = malloc((total ? total : 1) * sizeof(double))))
                rc = rc ? rc : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (!fold && rc == 0)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    size_t done = 0;
    for (int r = 0; rc == 0 && r < repeats; r++) {
        rc = s_folds(t, y, n, k, seed + (uint64_t)r, fold, err);
        for (int f = 0; rc == 0 && f < k; f++, done++) {
            rc = s_cv_fold(raw, target, t->task, rows, n, fold, f, pr, n_families,
                           seed + (uint64_t)r, sc, done, err);
            if (rc == 0 && progress)
                progress(done + 1, total);
        }
    }
    for (size_t f = 0; f < n_families; f++) {
        if (rc == 0)
            s_cv_summary(t->task, &sc[f], total, families[f], &out[f]);
        for (size_t j = 0; j < TRAIN_CV_METRICS; j++)
            free(sc[f].v[j]);
    }
    prep_destroy(&t);
    free(rows), free(y), free(fold);
    return rc;
}
