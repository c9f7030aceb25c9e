/*  ml_fixtures.h: small deterministic tables for the ML tests (prep,
    signature, model, artifact, train): a Titanic-shaped table and a generic
    one, built cell by cell so the tests need no file, and the two artifacts
    trained on the first. */
#ifndef MLOPS_ML_FIXTURES_H
#define MLOPS_ML_FIXTURES_H

#include "msg.h"
#include "prep.h"
#include "table.h"
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fx_names[] = {
    "Braund, Mr. Owen Harris", "Cumings, Mrs. John Bradley", "Heikkinen, Miss. Laina",
    "Palsson, Master. Gosta", "Rothes, the Countess. of (Lucy)", "Aubart, Mme. Leontine",
    "Sagesser, Mlle. Emma", "Reynaldo, Ms. Encarnacion", "Nameless without title", NULL};

//  n passengers; Survived follows sex and class with a few exceptions, so
//  both classes are learnable but not separable. Row i's Age is missing
//  when i % 7 == 3, Embarked when i % 11 == 5, Name when i % 13 == 8.
static inline table_t *fx_titanic(size_t n)
{
    table_t *t = table_new(n);
    double *id = malloc(n * sizeof *id), *surv = malloc(n * sizeof *surv);
    double *pclass = malloc(n * sizeof *pclass), *age = malloc(n * sizeof *age);
    double *sib = malloc(n * sizeof *sib), *par = malloc(n * sizeof *par);
    double *fare = malloc(n * sizeof *fare);
    const char **name = malloc(n * sizeof *name), **sex = malloc(n * sizeof *sex);
    const char **emb = malloc(n * sizeof *emb);
    static const char *const ports[] = {"S", "C", "S", "Q", "S"};
    for (size_t i = 0; i < n; i++) {
        id[i] = (double)i + 1;
        pclass[i] = (double)(1 + (i * 7) % 3);
        int female = (i * 5) % 3 == 0;
        sex[i] = female ? "female" : "male";
        age[i] = i % 7 == 3 ? NAN : (double)((i * 13) % 70) + 0.5 * (i % 2);
        sib[i] = (double)((i * 3) % 4 == 0 ? 1 : 0);
        par[i] = (double)(i % 9 == 0 ? 2 : 0);
        fare[i] = 7.25 + (double)((i * 31) % 100) * (4 - pclass[i]);
        emb[i] = i % 11 == 5 ? NULL : ports[i % 5];
        name[i] = i % 13 == 8 ? NULL : fx_names[i % 9];
        double score = (female ? 2.0 : -1.0) + (2 - pclass[i]) + (age[i] < 10 ? 1 : 0);
        surv[i] = (score > 0) ^ (i % 10 == 7);
    }
    table_add_number(t, "PassengerId", id, NULL);
    table_add_number(t, "Survived", surv, NULL);
    table_add_number(t, "Pclass", pclass, NULL);
    table_add_strings(t, "Name", TABLE_TEXT, name);
    table_add_strings(t, "Sex", TABLE_CATEGORY, sex);
    table_add_number(t, "Age", age, NULL);
    table_add_number(t, "SibSp", sib, NULL);
    table_add_number(t, "Parch", par, NULL);
    table_add_number(t, "Fare", fare, NULL);
    table_add_strings(t, "Embarked", TABLE_CATEGORY, emb);
    free(id), free(surv), free(pclass), free(age), free(sib), free(par), free(fare);
    free(name), free(sex), free(emb);
    return t;
}

//  n rows: id (distinct integers), x (number, missing when i % 9 == 4),
//  color (category red/green/blue), flat (constant), note (text, all
//  distinct), label yes/no depending on x and color.
static inline table_t *fx_generic(size_t n)
{
    table_t *t = table_new(n);
    double *id = malloc(n * sizeof *id), *x = malloc(n * sizeof *x);
    double *flat = malloc(n * sizeof *flat);
    const char **color = malloc(n * sizeof *color), **label = malloc(n * sizeof *label);
    const char **note = malloc(n * sizeof *note);
    char(*notes)[32] = malloc(n * sizeof *notes);
    static const char *const colors[] = {"red", "green", "blue"};
    for (size_t i = 0; i < n; i++) {
        id[i] = (double)(1000 + i);
        x[i] = i % 9 == 4 ? NAN : (double)((i * 17) % 50) / 10;
        flat[i] = 3;
        color[i] = colors[(i * 2) % 3];
        snprintf(notes[i], sizeof notes[i], "note %zu", i);
        note[i] = notes[i];
        double s = (isnan(x[i]) ? 2.5 : x[i]) - 2.5 + (i % 3 == 0 ? 1.5 : -0.5);
        label[i] = ((s > 0) ^ (i % 8 == 1)) ? "yes" : "no";
    }
    table_add_number(t, "id", id, NULL);
    table_add_number(t, "x", x, NULL);
    table_add_strings(t, "color", TABLE_CATEGORY, color);
    table_add_number(t, "flat", flat, NULL);
    table_add_strings(t, "note", TABLE_TEXT, note);
    table_add_strings(t, "label", TABLE_CATEGORY, label);
    free(id), free(x), free(flat), free(color), free(label), free(note), free(notes);
    return t;
}

static inline size_t *fx_all_rows(size_t n)
{
    size_t *rows = malloc(n * sizeof *rows);
    for (size_t i = 0; i < n; i++)
        rows[i] = i;
    return rows;
}

//  A recipe fitted on every row of t (target NULL: Survived); NULL on failure.
static inline prep_recipe_t *fx_fit(const table_t *t, const char *target)
{
    size_t *rows = fx_all_rows(t->n_rows);
    prep_recipe_t *r = rows ? prep_fit(t, rows, t->n_rows, target, NULL, 0, NULL) : NULL;
    free(rows);
    return r;
}

#define FX_TRAINED_ROWS 200

//  A Titanic-shaped table, prepared (a quarter held out) and trained into a
//  logreg (blob[0]), a 20-tree forest (blob[1]) and a 20-iteration gbdt
//  (blob[2]) artifact.
#define FX_FAMILIES 3

static const char *const fx_families[FX_FAMILIES] = {TRAIN_FAMILY_LOGREG, TRAIN_FAMILY_FOREST,
                                                     TRAIN_FAMILY_GBDT};

typedef struct {
    table_t *t;          //  FX_TRAINED_ROWS rows
    prep_result_t pr;    //  split and recipe
    uint8_t *blob[FX_FAMILIES]; //  artifacts, in fx_families' order
    size_t len[FX_FAMILIES];
} fx_trained_t;

static inline int fx_train(fx_trained_t *s, uint64_t seed)
{
    static const char *const params[FX_FAMILIES] = {
        NULL, "{\"n_trees\":20,\"n_threads\":2}", "{\"max_iter\":20,\"n_threads\":2}"};
    memset(s, 0, sizeof *s);
    s->t = fx_titanic(FX_TRAINED_ROWS);
    prep_options_t po = {NULL, 0.25, seed};
    if (train_prepare(s->t, &po, &s->pr, NULL) != 0)
        return -1;
    for (int k = 0; k < FX_FAMILIES; k++)
        if (train_fit(s->t, s->pr.recipe, s->pr.recipe_len, s->pr.train_rows, s->pr.n_train,
                      s->pr.test_rows, s->pr.n_test, fx_families[k], params[k], seed,
                      &s->blob[k], &s->len[k], NULL) != 0)
            return -1;
    return 0;
}

static inline void fx_trained_free(fx_trained_t *s)
{
    for (int k = 0; k < FX_FAMILIES; k++)
        free(s->blob[k]);
    prep_result_clear(&s->pr);
    table_destroy(&s->t);
}

//  The record a user would send for table row i (all columns, as JSON
//  gives them) into f (t->n_cols fields).
static inline proto_record_t fx_record(const table_t *t, size_t i, proto_field_t *f)
{
    size_t k = 0;
    for (size_t c = 0; c < t->n_cols; c++) {
        const table_col_t *col = &t->cols[c];
        if (col->missing[i])
            f[k++] = (proto_field_t){col->name, PROTO_VAL_NIL, 0, NULL};
        else if (col->kind == TABLE_NUMBER)
            f[k++] = (proto_field_t){col->name,
                                     col->num[i] == floor(col->num[i]) ? PROTO_VAL_INT
                                                                       : PROTO_VAL_FLOAT,
                                     col->num[i], NULL};
        else
            f[k++] = (proto_field_t){col->name, PROTO_VAL_STR, 0, table_string(t, c, i)};
    }
    return (proto_record_t){f, k};
}

#endif
