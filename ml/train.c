/*  train.c: the training stages (see train.h): prepare (labels, split,
    recipe), fit (one family into an artifact), score, and in-process
    cross-validation. The classifiers and the recipe are the ones model.c
    serves with, so an artifact predicts exactly what training measured. */
#include "train.h"
#include "artifact.h"
#include "forest.h"
#include "logreg.h"
#include "score.h"
#include "prep.h"
#include "signature.h"
#include "split.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    bool is_forest;            //  which of the two
    logreg_params_t lr;        //  logreg parameters
    forest_params_t rf;        //  forest parameters
} s_params_t;

typedef struct {
    logreg_t *lr;              //  fitted logreg, or NULL
    forest_t *rf;              //  fitted forest, or NULL
} s_fitted_t;

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

static int s_param(s_params_t *p, const char *key, json_t *v, mlops_err_t *err)
{
    if (!p->is_forest) {
        if (strcmp(key, "C") == 0)
            return s_real_param(v, key, &p->lr.C, err);
        if (strcmp(key, "tol") == 0)
            return s_real_param(v, key, &p->lr.tol, err);
        if (strcmp(key, "max_iter") == 0)
            return s_int_param(v, key, 1, 100000, &p->lr.max_iter, err);
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
                         p->is_forest ? TRAIN_FAMILY_FOREST : TRAIN_FAMILY_LOGREG);
}

static int s_parse_params(const char *family, const char *json, s_params_t *p, mlops_err_t *err)
{
    memset(p, 0, sizeof *p);
    if (strcmp(family, TRAIN_FAMILY_FOREST) == 0)
        p->is_forest = true;
    else if (strcmp(family, TRAIN_FAMILY_LOGREG) != 0)
        return mlops_err_set(err, MLOPS_EINVAL, "unknown model family '%s' (logreg, forest)",
                             family);
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
static void s_params_json(const s_params_t *p, size_t n_features, char *out, size_t size)
{
    if (!p->is_forest) {
        snprintf(out, size, "{\"C\":%g,\"max_iter\":%d,\"tol\":%g}", p->lr.C ? p->lr.C : 1.0,
                 p->lr.max_iter ? p->lr.max_iter : 100, p->lr.tol ? p->lr.tol : 1e-10);
        return;
    }
    int mf = p->rf.max_features;
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
             p->rf.max_bins ? p->rf.max_bins : 256);
}

static int s_fit(const s_params_t *p, const double *X, const uint8_t *y, size_t n, size_t d,
                 uint64_t seed, s_fitted_t *out, mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (p->is_forest)
        out->rf = forest_fit(X, y, n, d, &p->rf, seed, err);
    else
        out->lr = logreg_fit(X, y, n, d, &p->lr, err);
    return out->rf || out->lr ? 0 : (err && err->code ? err->code : MLOPS_ENOMEM);
}

static void s_predict(const s_fitted_t *f, const double *X, size_t n, size_t d, double *proba)
{
    if (f->rf) {
        forest_predict(f->rf, X, n, proba);
        return;
    }
    for (size_t i = 0; i < n; i++)
        proba[i] = logreg_predict_one(f->lr, X + i * d);
}

static void s_fitted_clear(s_fitted_t *f)
{
    logreg_destroy(&f->lr);
    forest_destroy(&f->rf);
}

//  Features and labels of the given rows, into new arrays.
static int s_matrix(const prep_recipe_t *r, const table_t *raw, const size_t *rows, size_t n,
                    double **X, uint8_t **y, mlops_err_t *err)
{
    *X = malloc((n ? n : 1) * r->n_features * sizeof **X);
    *y = malloc(n ? n : 1);
    if (!*X || !*y)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %zu x %zu features", n,
                             r->n_features);
    int rc = prep_transform_table(r, raw, rows, n, *X, err);
    return rc ? rc : prep_labels(r, raw, rows, n, *y, err);
}

/* --- prepare --------------------------------------------------------------- */

void prep_result_clear(prep_result_t *r)
{
    free(r->recipe);
    free(r->train_rows);
    free(r->test_rows);
    memset(r, 0, sizeof *r);
}

//  Rows with a label, and their labels. *rows and *y are new arrays.
static int s_labelled(const table_t *raw, const char *target, size_t **rows, uint8_t **y,
                      size_t *n, char *desc, size_t desc_size, mlops_err_t *err)
{
    uint8_t *all = malloc(raw->n_rows ? raw->n_rows : 1);
    *rows = malloc((raw->n_rows ? raw->n_rows : 1) * sizeof **rows);
    *y = malloc(raw->n_rows ? raw->n_rows : 1);
    if (!all || !*rows || !*y) {
        free(all);
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    int rc = prep_read_labels(raw, target, all, desc, desc_size, err);
    *n = 0;
    for (size_t i = 0; rc == 0 && i < raw->n_rows; i++)
        if (all[i] < 2) {
            (*rows)[*n] = i;
            (*y)[(*n)++] = all[i];
        }
    free(all);
    return rc;
}

int train_prepare(const table_t *raw, const prep_options_t *opts, prep_result_t *out,
                  mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    const char *target = opts && opts->target ? opts->target : "Survived";
    double frac = opts && opts->test_fraction > 0 ? opts->test_fraction : 0.2;
    uint64_t seed = opts ? opts->seed : 42;
    size_t *rows = NULL, n = 0;
    uint8_t *y = NULL;
    char desc[128] = "";
    int rc = s_labelled(raw, target, &rows, &y, &n, desc, sizeof desc, err);
    size_t *tr = NULL, *te = NULL;
    if (rc == 0) {
        tr = malloc((n ? n : 1) * sizeof *tr);
        te = malloc((n ? n : 1) * sizeof *te);
        rc = tr && te
                 ? split_train_test(y, n, frac, seed, tr, &out->n_train, te, &out->n_test, err)
                 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    //  Split positions -> table rows.
    for (size_t i = 0; rc == 0 && i < out->n_train; i++)
        tr[i] = rows[tr[i]];
    for (size_t i = 0; rc == 0 && i < out->n_test; i++)
        te[i] = rows[te[i]];
    char notes[sizeof out->notes - sizeof desc - 48] = "";
    prep_recipe_t *r = NULL;
    if (rc == 0 && !(r = prep_fit(raw, tr, out->n_train, target, notes, sizeof notes, err)))
        rc = err && err->code ? err->code : MLOPS_ENOMEM;
    if (rc == 0 && artifact_recipe_encode(r, &out->recipe, &out->recipe_len) != 0)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        out->train_rows = tr, out->test_rows = te, tr = te = NULL;
        size_t dropped = raw->n_rows - n;
        snprintf(out->notes, sizeof out->notes, "%s; %s%s", desc, notes,
                 dropped ? "; rows without a label left out" : "");
    } else {
        prep_result_clear(out);
    }
    prep_destroy(&r);
    free(rows);
    free(y);
    free(tr);
    free(te);
    return rc;
}

/* --- fit, score ---------------------------------------------------------------- */

int train_fit(const table_t *raw, const uint8_t *recipe, size_t recipe_len,
              const size_t *train_rows, size_t n_train, const size_t *test_rows, size_t n_test,
              const char *family, const char *params_json, uint64_t seed, uint8_t **artifact,
              size_t *artifact_len, mlops_err_t *err)
{
    s_params_t pr;
    int rc = s_parse_params(family, params_json, &pr, err);
    if (rc != 0)
        return rc;
    prep_recipe_t *r = artifact_recipe_decode(recipe, recipe_len, err);
    if (!r)
        return err && err->code ? err->code : MLOPS_ECORRUPT;
    double *X = NULL, *T = NULL, *proba = NULL;
    uint8_t *y = NULL, *yt = NULL;
    s_fitted_t fit = {0};
    artifact_t a = {0};
    rc = s_matrix(r, raw, train_rows, n_train, &X, &y, err);
    if (rc == 0)
        rc = s_fit(&pr, X, y, n_train, r->n_features, seed, &fit, err);
    if (rc == 0)
        rc = s_matrix(r, raw, test_rows, n_test, &T, &yt, err);
    if (rc == 0 && !(proba = malloc((n_test ? n_test : 1) * sizeof *proba)))
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        s_predict(&fit, T, n_test, r->n_features, proba);
        rc = score_compute(yt, proba, n_test, &a.metrics, err);
    }
    if (rc == 0) {
        snprintf(a.family, sizeof a.family, "%s", family);
        s_params_json(&pr, r->n_features, a.params, sizeof a.params);
        a.seed = seed;
        a.recipe = (uint8_t *)recipe, a.recipe_len = recipe_len;
        a.logreg = fit.lr, a.forest = fit.rf;
        a.signature = signature_json(r);
        a.n_train = n_train, a.n_test = n_test;
        rc = a.signature ? artifact_encode(&a, artifact, artifact_len) : MLOPS_ENOMEM;
        if (rc != 0)
            mlops_err_set(err, rc, "cannot encode the artifact: %s", mlops_strerror(rc));
        free(a.signature);
    }
    s_fitted_clear(&fit);
    prep_destroy(&r);
    free(X), free(y), free(T), free(yt), free(proba);
    return rc;
}

int train_score(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                metrics_t *out, mlops_err_t *err)
{
    double *proba = malloc((n ? n : 1) * sizeof *proba);
    uint8_t *y = malloc(n ? n : 1);
    int rc = proba && y ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0)
        rc = prep_labels(model_recipe(model), raw, rows, n, y, err);
    if (rc == 0)
        rc = model_predict_table(model, raw, rows, n, proba, err);
    if (rc == 0)
        rc = score_compute(y, proba, n, out, err);
    free(proba);
    free(y);
    return rc;
}

/* --- cross-validation ------------------------------------------------------------ */

typedef struct {
    double *acc, *auc, *f1, *ll;   //  per fold
} s_fold_scores_t;

//  One fold: recipe on the other folds, every family fitted and scored.
static int s_cv_fold(const table_t *raw, const char *target, const size_t *rows, size_t n,
                     const int *fold, int f, const s_params_t *pr, size_t n_families,
                     uint64_t seed, s_fold_scores_t *sc, size_t at, mlops_err_t *err)
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
    double *X = NULL, *T = NULL, *proba = malloc(nte * sizeof *proba);
    uint8_t *y = NULL, *yt = NULL;
    prep_recipe_t *r = prep_fit(raw, tr, ntr, target, NULL, 0, err);
    int rc = r && proba ? 0 : (err && err->code ? err->code : MLOPS_ENOMEM);
    if (rc == 0)
        rc = s_matrix(r, raw, tr, ntr, &X, &y, err);
    if (rc == 0)
        rc = s_matrix(r, raw, te, nte, &T, &yt, err);
    for (size_t k = 0; rc == 0 && k < n_families; k++) {
        s_fitted_t fit;
        metrics_t m;
        rc = s_fit(&pr[k], X, y, ntr, r->n_features, seed, &fit, err);
        if (rc == 0) {
            s_predict(&fit, T, nte, r->n_features, proba);
            rc = score_compute(yt, proba, nte, &m, err);
        }
        s_fitted_clear(&fit);
        if (rc == 0) {
            sc[k].acc[at] = m.accuracy, sc[k].auc[at] = m.auc;
            sc[k].f1[at] = m.f1, sc[k].ll[at] = m.log_loss;
        }
    }
    prep_destroy(&r);
    free(tr), free(te), free(X), free(T), free(y), free(yt), free(proba);
    return rc;
}

int train_cv(const table_t *raw, const prep_options_t *opts, int k, int repeats,
             const char *const *families, size_t n_families, const char *const *params_json,
             void (*progress)(size_t done, size_t total), train_cv_t *out, mlops_err_t *err)
{
    const char *target = opts && opts->target ? opts->target : "Survived";
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
    int rc = s_labelled(raw, target, &rows, &y, &n, NULL, 0, err);
    int *fold = malloc((n ? n : 1) * sizeof *fold);
    s_fold_scores_t sc[8] = {{0}};
    for (size_t f = 0; f < n_families; f++) {
        sc[f].acc = malloc(total * sizeof(double)), sc[f].auc = malloc(total * sizeof(double));
        sc[f].f1 = malloc(total * sizeof(double)), sc[f].ll = malloc(total * sizeof(double));
        if (!sc[f].acc || !sc[f].auc || !sc[f].f1 || !sc[f].ll)
            rc = rc ? rc : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    if (!fold && rc == 0)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    size_t done = 0;
    for (int r = 0; rc == 0 && r < repeats; r++) {
        rc = split_kfold(y, n, k, seed + (uint64_t)r, fold, err);
        for (int f = 0; rc == 0 && f < k; f++, done++) {
            rc = s_cv_fold(raw, target, rows, n, fold, f, pr, n_families, seed + (uint64_t)r, sc,
                           done, err);
            if (rc == 0 && progress)
                progress(done + 1, total);
        }
    }
    for (size_t f = 0; f < n_families; f++) {
        if (rc == 0) {
            out[f] = (train_cv_t){.family = families[f], .n_folds = total};
            score_mean_std(sc[f].acc, total, &out[f].accuracy_mean, &out[f].accuracy_std);
            score_mean_std(sc[f].auc, total, &out[f].auc_mean, &out[f].auc_std);
            score_mean_std(sc[f].f1, total, &out[f].f1_mean, &out[f].f1_std);
            score_mean_std(sc[f].ll, total, &out[f].log_loss_mean, &out[f].log_loss_std);
        }
        free(sc[f].acc), free(sc[f].auc), free(sc[f].f1), free(sc[f].ll);
    }
    free(rows), free(y), free(fold);
    return rc;
}
