/*  test_model_serve.c: what ml/model.c gives the inference worker for a
    multiclass and a regression model, every family: model_serve_outputs
    answers records as model_predict_outputs answers the same table rows
    (to the bit), its most probable class is model_predict's,
    model_serve_cells answers the same and keeps each record's cells, a bad record
    is named and fills nothing; the class labels as JSON
    (model_classes_json) and the signature naming the task and classes. */
#include "ml_fixtures.h"
#include "model.h"
#include "signature.h"
#include "testing.h"
#include "train.h"

#include <math.h>

enum { ROWS = 240, SERVED = 150 };   //  SERVED: more than one serving block of 128

static const char *const s_kinds[] = {"ant", "bee", "cat"};

//  Row i's inputs.
static void s_x(size_t i, double *x1, double *x2)
{
    *x1 = (double)((i * 37) % 101) / 10 - 5;
    *x2 = (double)((i * 53) % 97) / 10 - 5;
}

//  x1, x2 numbers and the target: "kind" (three classes by a score) or
//  "y" (3 x1 - 2 x2 + noise).
static table_t *s_table(bool regression)
{
    double x1[ROWS], x2[ROWS], y[ROWS];
    const char *kind[ROWS];
    for (size_t i = 0; i < ROWS; i++) {
        s_x(i, &x1[i], &x2[i]);
        double noise = (double)((i * 7919) % 13) / 13 - 0.5;
        y[i] = 3 * x1[i] - 2 * x2[i] + noise;
        double z = x1[i] + 0.5 * x2[i] + noise;
        kind[i] = s_kinds[z < -1.5 ? 0 : z < 1.5 ? 1 : 2];
    }
    table_t *t = table_new(ROWS);
    table_add_number(t, "x1", x1, NULL);
    table_add_number(t, "x2", x2, NULL);
    if (regression)
        table_add_number(t, "y", y, NULL);
    else
        table_add_strings(t, "kind", TABLE_CATEGORY, kind);
    return t;
}

//  Trains family on t; the loaded model, or NULL.
static model_t *s_train(table_t *t, const char *target, const char *family)
{
    prep_options_t po = {target, 0.25, 3, "auto"};
    prep_result_t pr;
    mlops_err_t err;
    uint8_t *blob = NULL;
    size_t len = 0;
    model_t *m = NULL;
    if (train_prepare(t, &po, &pr, &err) == 0
        && train_fit(t, pr.recipe, pr.recipe_len, pr.train_rows, pr.n_train, pr.test_rows,
                     pr.n_test, family, NULL, 5, &blob, &len, &err) == 0)
        m = model_load(blob, len, &err);
    if (!m)
        fprintf(stderr, "  %s: %s\n", family, err.msg);
    free(blob);
    prep_result_clear(&pr);
    return m;
}

//  The first SERVED rows as records (x1, x2), fields in storage.
static void s_records(proto_field_t (*fields)[2], proto_record_t *recs)
{
    for (size_t i = 0; i < SERVED; i++) {
        double x1, x2;
        s_x(i, &x1, &x2);
        fields[i][0] = (proto_field_t){"x1", PROTO_VAL_FLOAT, x1, NULL};
        fields[i][1] = (proto_field_t){"x2", PROTO_VAL_FLOAT, x2, NULL};
        recs[i] = (proto_record_t){fields[i], 2};
    }
}

//  model_serve_cells answers as model_serve_outputs did (served: k values a
//  record) and keeps each record's cells as signature_record_cells reads them.
static void s_check_cells(const model_t *m, const proto_record_t *recs, const double *served,
                          size_t k)
{
    static double out[SERVED * 3];
    static prep_cell_t cells[SERVED * 2];
    const prep_recipe_t *r = model_recipe(m);
    CHECK_INT(r->n_inputs, 2);
    proto_problem_t pb[4];
    size_t bad = 9;
    mlops_err_t err;
    CHECK_INT(model_serve_cells(m, recs, SERVED, pb, 4, &bad, out, cells, &err), 0);
    CHECK_INT(bad, 0);
    CHECK(memcmp(out, served, SERVED * k * sizeof *out) == 0);
    for (size_t i = 0; i < SERVED; i++) {
        prep_cell_t want[2];
        signature_record_cells(r, &recs[i], want);
        for (size_t c = 0; c < 2; c++) {
            const prep_cell_t *got = &cells[i * 2 + c];
            CHECK(got->missing == want[c].missing && got->num == want[c].num
                  && got->str == want[c].str);
        }
    }
}

//  Serving and the table path agree on every output of every row.
static void s_check_outputs(const model_t *m, table_t *t, size_t k)
{
    static proto_field_t fields[SERVED][2];
    static proto_record_t recs[SERVED];
    static double served[SERVED * 3], table[SERVED * 3], one[SERVED];
    s_records(fields, recs);
    size_t rows[SERVED], bad = 9;
    for (size_t i = 0; i < SERVED; i++)
        rows[i] = i;
    proto_problem_t pb[4];
    mlops_err_t err;
    CHECK_INT(model_outputs(m), k);
    CHECK_INT(model_serve_outputs(m, recs, SERVED, false, pb, 4, &bad, served, &err), 0);
    CHECK_INT(bad, 0);
    CHECK_INT(model_predict_outputs(m, t, rows, SERVED, table, &err), 0);
    CHECK(memcmp(served, table, SERVED * k * sizeof *served) == 0);
    CHECK_INT(model_predict(m, recs, SERVED, one, &err), 0);
    for (size_t i = 0; i < SERVED; i++) {
        double sum = 0;
        for (size_t c = 0; c < k; c++)
            sum += served[i * k + c];
        if (k > 1) {
            CHECK_NEAR(sum, 1.0, 1e-12);
            CHECK_INT(model_class_of(served + i * k, k), (size_t)one[i]);
        } else
            CHECK(one[i] == served[i]);
    }
    s_check_cells(m, recs, served, k);
    //  a bad record is named and nothing is filled
    served[0] = -7;
    fields[3][1] = (proto_field_t){"x2", PROTO_VAL_STR, 0, "two"};
    CHECK_INT(model_serve_outputs(m, recs, SERVED, false, pb, 4, &bad, served, &err), 0);
    CHECK_INT(bad, 1);
    CHECK_INT(pb[0].index, 3);
    CHECK_STR(pb[0].field, "x2");
    CHECK(served[0] == -7);
}

static void test_multiclass_serves_its_classes(void)
{
    table_t *t = s_table(false);
    for (size_t f = 0; f < FX_FAMILIES; f++) {
        model_t *m = s_train(t, "kind", fx_families[f]);
        CHECK(m != NULL);
        if (!m)
            continue;
        s_check_outputs(m, t, 3);
        CHECK_STR(model_classes_json(m), "[\"ant\",\"bee\",\"cat\"]");
        char *sig = model_signature_json(m);
        CHECK_CONTAINS(sig, "\"task\":\"multiclass\",\"classes\":[\"ant\",\"bee\",\"cat\"]");
        CHECK_CONTAINS(sig, "{\"recipe\":\"generic\",\"fields\":[{\"name\":\"x1\"");
        free(sig);
        model_destroy(&m);
    }
    table_destroy(&t);
}

static void test_regression_serves_values(void)
{
    table_t *t = s_table(true);
    for (size_t f = 0; f < FX_FAMILIES; f++) {
        model_t *m = s_train(t, "y", fx_families[f]);
        CHECK(m != NULL);
        if (!m)
            continue;
        s_check_outputs(m, t, 1);
        CHECK(model_classes_json(m) == NULL);
        char *sig = model_signature_json(m);
        CHECK_CONTAINS(sig, "\"task\":\"regression\"");
        CHECK(strstr(sig, "classes") == NULL);
        free(sig);
        model_destroy(&m);
    }
    table_destroy(&t);
}

//  A binary model's signature is what it always was: no task, no classes.
static void test_binary_signature_unchanged(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    mlops_err_t err;
    model_t *m = model_load(s.blob[0], s.len[0], &err);
    CHECK(m != NULL);
    char *sig = model_signature_json(m);
    CHECK(strstr(sig, "\"task\"") == NULL && strstr(sig, "classes") == NULL);
    CHECK(model_classes_json(m) == NULL);
    free(sig);
    model_destroy(&m);
    fx_trained_free(&s);
}

int main(void)
{
    RUN(test_multiclass_serves_its_classes);
    RUN(test_regression_serves_values);
    RUN(test_binary_signature_unchanged);
    return TEST_REPORT("test_model_serve");
}
