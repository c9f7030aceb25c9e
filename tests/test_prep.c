/*  test_prep.c: the recipes (Titanic rules, generic inference, imputation,
    scaling), label reading and their refusals, and a record giving the same
    features as its table row. The contract is test_signature.c, the recipe
    codec test_artifact.c, the splits test_split.c. */
#include "csv_load.h"
#include "ml_fixtures.h"
#include "prep.h"
#include "signature.h"
#include "task_name.h"
#include "testing.h"

//  The unscaled value of feature j in a transformed row.
static double s_raw(const prep_recipe_t *r, const double *x, size_t j)
{
    return x[j] * r->scale[j] + r->mean[j];
}

static int s_feature(const prep_recipe_t *r, const char *name)
{
    for (size_t j = 0; j < r->n_features; j++)
        if (strcmp(r->features[j], name) == 0)
            return (int)j;
    return -1;
}

static void test_titanic_recipe_rules(void)
{
    table_t *t = fx_titanic(60);
    size_t *rows = fx_all_rows(60);
    char notes[512];
    mlops_err_t err;
    prep_recipe_t *r = prep_fit(t, rows, 60, NULL, notes, sizeof notes, &err);
    CHECK(r != NULL);
    CHECK_INT(r->kind, PREP_TITANIC);
    CHECK_INT(r->n_features, 16);
    CHECK_STR(r->features[8], "Embarked_C");
    CHECK_STR(r->features[15], "Title_Rare");
    CHECK_CONTAINS(notes, "recipe titanic");
    double X[60 * 16];
    CHECK_INT(prep_transform_table(r, t, rows, 60, X, &err), 0);
    //  row 0: "Braund, Mr." male, SibSp 1 -> FamilySize 3 (Parch 2 as 0 % 9 == 0)
    CHECK_NEAR(s_raw(r, X, s_feature(r, "Title_Mr")), 1, 1e-12);
    CHECK_NEAR(s_raw(r, X, s_feature(r, "Sex")), 1, 1e-12); //  (0*5)%3 == 0: female
    CHECK_NEAR(s_raw(r, X, s_feature(r, "FamilySize")), 4, 1e-12);
    CHECK_NEAR(s_raw(r, X, s_feature(r, "IsAlone")), 0, 1e-12);
    //  row 4: "Rothes, the Countess." -> Rare; row 5: Mme -> Mrs (Embarked missing -> mode S)
    CHECK_NEAR(s_raw(r, X + 4 * 16, s_feature(r, "Title_Rare")), 1, 1e-12);
    CHECK_NEAR(s_raw(r, X + 5 * 16, s_feature(r, "Title_Mrs")), 1, 1e-12);
    CHECK_NEAR(s_raw(r, X + 5 * 16, s_feature(r, "Embarked_S")), 1, 1e-12);
    //  rows 6, 7: Mlle, Ms -> Miss; row 8: no title -> Rare; row 21: Name missing -> Rare
    CHECK_NEAR(s_raw(r, X + 6 * 16, s_feature(r, "Title_Miss")), 1, 1e-12);
    CHECK_NEAR(s_raw(r, X + 7 * 16, s_feature(r, "Title_Miss")), 1, 1e-12);
    CHECK_NEAR(s_raw(r, X + 8 * 16, s_feature(r, "Title_Rare")), 1, 1e-12);
    CHECK_NEAR(s_raw(r, X + 21 * 16, s_feature(r, "Title_Rare")), 1, 1e-12);
    //  row 3: Age missing -> the training median
    CHECK_NEAR(s_raw(r, X + 3 * 16, s_feature(r, "Age")), r->inputs[3].fill, 1e-9);
    //  scaled features have mean 0 over the training rows
    double m = 0;
    for (size_t i = 0; i < 60; i++)
        m += X[i * 16 + 5];
    CHECK_NEAR(m / 60, 0, 1e-12);
    prep_destroy(&r);
    CHECK(r == NULL);
    table_destroy(&t);
    free(rows);
}

static void test_titanic_real_file_titles_and_fills(void)
{
    const char *path = testing_titanic_path();
    if (!path) {
        printf("skip test_titanic_real_file_titles_and_fills: no titanic.csv\n");
        return;
    }
    mlops_err_t err;
    table_t *t = csv_load_file(path, NULL, &err);
    CHECK(t != NULL);
    size_t *rows = fx_all_rows(t->n_rows);
    prep_recipe_t *r = prep_fit(t, rows, t->n_rows, "Survived", NULL, 0, &err);
    CHECK(r != NULL);
    //  pandas over all 891 rows: Age median 28, Fare median 14.4542, Embarked mode S
    CHECK_NEAR(r->inputs[3].fill, 28.0, 1e-12);
    CHECK_NEAR(r->inputs[6].fill, 14.4542, 1e-12);
    CHECK_STR(r->inputs[7].fill_str, "S");
    double *X = malloc(t->n_rows * 16 * sizeof *X);
    CHECK_INT(prep_transform_table(r, t, rows, t->n_rows, X, &err), 0);
    //  the reference's counts (RESULTS.md): Master 40, Miss 185, Mr 517, Mrs 126, Rare 23
    int want[5] = {40, 185, 517, 126, 23}, got[5] = {0};
    for (size_t i = 0; i < t->n_rows; i++)
        for (int k = 0; k < 5; k++)
            got[k] += s_raw(r, X + i * 16, 11 + k) > 0.5;
    free(X);
    prep_destroy(&r);
    table_destroy(&t);
    free(rows);
    for (int k = 0; k < 5; k++)
        CHECK_INT(got[k], want[k]);
}

static void test_generic_recipe_infers_and_drops(void)
{
    table_t *t = fx_generic(90);
    size_t *rows = fx_all_rows(90);
    char notes[512];
    mlops_err_t err;
    prep_recipe_t *r = prep_fit(t, rows, 90, "label", notes, sizeof notes, &err);
    CHECK(r != NULL);
    CHECK_INT(r->kind, PREP_GENERIC);
    CHECK_CONTAINS(notes, "dropped id: id-like");
    CHECK_CONTAINS(notes, "dropped flat: constant");
    CHECK_CONTAINS(notes, "dropped note: free text");
    CHECK_STR(r->pos_str, "yes");
    //  x, then color: blue, green, red, (other)
    CHECK_INT(r->n_features, 5);
    CHECK_STR(r->features[0], "x");
    CHECK_STR(r->features[1], "color_blue");
    CHECK_STR(r->features[4], "color_(other)");
    CHECK_NEAR(r->scale[2], 1, 0); //  one-hot columns are not scaled
    CHECK_NEAR(r->mean[2], 0, 0);
    //  an unseen colour goes to the (other) bucket; a missing x to the median
    prep_cell_t cells[2] = {{.missing = true, .level = -2}, {.str = "purple", .level = -2}};
    double x[5];
    prep_transform_row(r, cells, x);
    CHECK_NEAR(s_raw(r, x, 0), r->inputs[0].fill, 1e-12);
    CHECK_NEAR(x[4], 1, 0);
    CHECK_NEAR(x[1] + x[2] + x[3], 0, 0);
    uint8_t y[90];
    CHECK_INT(prep_labels(r, t, rows, 90, y, &err), 0);
    CHECK_INT(y[0], 0); //  row 0: red, x 0: 0 - 2.5 + 1.5 < 0 -> "no"
    CHECK_INT(y[1], 1); //  row 1: flipped (1 % 8 == 1) -> "yes"
    prep_destroy(&r);
    table_destroy(&t);
    free(rows);
}

static void test_target_errors(void)
{
    table_t *t = fx_generic(30);
    size_t *rows = fx_all_rows(30);
    mlops_err_t err;
    CHECK(prep_fit(t, rows, 30, "nope", NULL, 0, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no target column 'nope'");
    CHECK(prep_fit(t, rows, 30, "color", NULL, 0, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "target 'color' is not binary: more than 2");
    CHECK(prep_fit(t, rows, 30, "flat", NULL, 0, &err) == NULL);
    CHECK_CONTAINS(err.msg, "fewer than 2");
    uint8_t y[30];
    char desc[128];
    CHECK_INT(prep_read_labels(t, "label", y, desc, sizeof desc, &err), 0);
    CHECK_CONTAINS(desc, "'yes' = positive");
    table_destroy(&t);
    free(rows);
}

static void test_records_and_tables_give_same_features(void)
{
    table_t *t = fx_titanic(40);
    size_t *rows = fx_all_rows(40);
    prep_recipe_t *r = prep_fit(t, rows, 40, NULL, NULL, 0, NULL);
    CHECK(r != NULL);
    double X[40 * 16], x[16];
    CHECK_INT(prep_transform_table(r, t, rows, 40, X, NULL), 0);
    int ok = 1;
    for (size_t i = 0; i < 40 && ok; i++) {
        proto_field_t f[16];
        size_t k = 0;
        for (size_t c = 0; c < t->n_cols; c++) {
            const table_col_t *col = &t->cols[c];
            if (col->missing[i])
                f[k++] = (proto_field_t){col->name, PROTO_VAL_NIL, 0, NULL};
            else if (col->kind == TABLE_NUMBER)
                f[k++] = (proto_field_t){col->name, PROTO_VAL_FLOAT, col->num[i], NULL};
            else
                f[k++] = (proto_field_t){col->name, PROTO_VAL_STR, 0, table_string(t, c, i)};
        }
        proto_record_t rec = {f, k};
        prep_cell_t cells[8];
        signature_record_cells(r, &rec, cells);
        prep_transform_row(r, cells, x);
        ok = memcmp(x, X + i * 16, sizeof x) == 0;
    }
    prep_destroy(&r);
    table_destroy(&t);
    free(rows);
    CHECK(ok);
}

static void test_fit_refusals(void)
{
    table_t *t = fx_generic(30);
    size_t *rows = fx_all_rows(30);
    mlops_err_t err;
    CHECK(prep_fit(t, rows, 0, "label", NULL, 0, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_STR(err.msg, "no training rows");
    table_destroy(&t);
    //  nothing left once the id, the constant and the text are dropped
    t = table_new(30);
    double id[30], label[30];
    const char *note[30];
    for (size_t i = 0; i < 30; i++) {
        id[i] = (double)i;
        label[i] = (double)(i % 2);
        note[i] = "same";
    }
    table_add_number(t, "id", id, NULL);
    table_add_number(t, "label", label, NULL);
    table_add_strings(t, "note", TABLE_TEXT, note);
    char notes[256];
    CHECK(prep_fit(t, rows, 30, "label", notes, sizeof notes, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_STR(err.msg, "no usable input column besides the target 'label'");
    CHECK_CONTAINS(notes, "dropped id: id-like");
    table_destroy(&t);
    free(rows);
}

static void test_label_refusals_name_the_row(void)
{
    table_t *t = fx_titanic(20);
    size_t *rows = fx_all_rows(20);
    prep_recipe_t *r = prep_fit(t, rows, 20, NULL, NULL, 0, NULL);
    CHECK(r != NULL);
    uint8_t y[20];
    mlops_err_t err;
    //  a table without the target column
    table_t *bare = table_new(20);
    double v[20] = {0};
    table_add_number(bare, "Pclass", v, NULL);
    CHECK_INT(prep_labels(r, bare, rows, 20, y, &err), MLOPS_ENOTFOUND);
    CHECK_STR(err.msg, "no target column 'Survived' in the data");
    CHECK_INT(prep_read_labels(bare, NULL, y, NULL, 0, &err), MLOPS_ENOTFOUND);
    //  a missing label and an unknown one
    table_t *odd = table_new(20);
    double s[20];
    for (size_t i = 0; i < 20; i++)
        s[i] = (double)(i % 2);
    s[3] = NAN;
    table_add_number(odd, "Survived", s, NULL);
    CHECK_INT(prep_labels(r, odd, rows, 20, y, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "row 4: target 'Survived' is missing");
    table_destroy(&odd);
    odd = table_new(20);
    s[3] = 7;
    table_add_number(odd, "Survived", s, NULL);
    CHECK_INT(prep_labels(r, odd, rows, 20, y, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "row 4: target 'Survived' is not one of its two labels");
    //  three values are not a binary target
    CHECK_INT(prep_read_labels(odd, "Survived", y, NULL, 0, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "is not binary: more than 2");
    table_destroy(&odd);
    table_destroy(&bare);
    prep_destroy(&r);
    prep_destroy(&r); //  NULL is ignored
    table_destroy(&t);
    free(rows);
}

//  The task rules of prep.h on small CSVs: (target column text, request,
//  expected task or error).
static table_t *s_csv_target(const char *values)
{
    char buf[4096];
    size_t at = (size_t)snprintf(buf, sizeof buf, "x,y\n");
    int i = 0;
    for (const char *v = values; *v; i++) {
        const char *end = strchr(v, ' ');
        size_t len = end ? (size_t)(end - v) : strlen(v);
        at += (size_t)snprintf(buf + at, sizeof buf - at, "%d,%.*s\n", i, (int)len, v);
        v += len + (end != NULL);
    }
    mlops_err_t err;
    return csv_load_buffer(buf, at, NULL, &err);
}

static void test_task_inference(void)
{
    static const struct { const char *values; int req; int task; size_t k; } cases[] = {
        {"a b c a b c", TASK_AUTO, TASK_MULTICLASS, 3},
        {"1 2 3 1 2 3", TASK_AUTO, TASK_MULTICLASS, 3},
        {"0 1 0 1", TASK_AUTO, TASK_BINARY, 2},
        {"1.5 2.25 3 4 5 6", TASK_AUTO, TASK_REGRESSION, 0},
        {"1 2 3 1 2 3", TASK_REGRESSION, TASK_REGRESSION, 0},
        {"0 1 0 1", TASK_MULTICLASS, TASK_MULTICLASS, 2},
        {"1 2 x 1 2 x", TASK_MULTICLASS, TASK_MULTICLASS, 3}, //  labels, as asked
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        table_t *t = s_csv_target(cases[i].values);
        mlops_err_t err;
        char desc[128];
        prep_recipe_t *r = prep_target_fit(t, "y", cases[i].req, desc, sizeof desc, &err);
        CHECK(r != NULL);
        CHECK_INT((int)r->task, cases[i].task);
        CHECK_INT((int)r->n_classes, (int)cases[i].k);
        prep_destroy(&r);
        table_destroy(&t);
    }
    //  21 distinct integers: regression; classes sort as numbers, not text
    char many[256] = "";
    for (int i = 0; i < 21; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i ? " " : "", i * 5);
    table_t *t = s_csv_target(many);
    mlops_err_t err;
    prep_recipe_t *r = prep_target_fit(t, "y", TASK_AUTO, NULL, 0, &err);
    CHECK_INT((int)r->task, TASK_REGRESSION);
    prep_destroy(&r);
    table_destroy(&t);
    t = s_csv_target("10 9 100 9 10 100");
    r = prep_target_fit(t, "y", TASK_AUTO, NULL, 0, &err);
    char buf[16];
    CHECK_STR(prep_class_name(r, 0, buf, sizeof buf), "9");
    CHECK_STR(prep_class_name(r, 2, buf, sizeof buf), "100");
    uint8_t y[6];
    size_t missing = 9;
    CHECK_INT(prep_read_target(r, t, y, NULL, &missing, &err), 0);
    CHECK_INT(y[0], 1);
    CHECK_INT(y[2], 2);
    CHECK_INT((int)missing, 0);
    prep_destroy(&r);
    table_destroy(&t);
}

static void test_task_errors(void)
{
    char over[2048] = "";
    for (int i = 0; i < PREP_MAX_CLASSES + 1; i++)
        snprintf(over + strlen(over), sizeof over - strlen(over), "%sc%d", i ? " " : "", i);
    const struct { const char *values; int req; const char *msg; } cases[] = {
        {"a a a a", TASK_AUTO, "target 'y' has one value only: nothing to learn"},
        {"5 5 5", TASK_REGRESSION, "target 'y' has one value only"},
        {"1.5 2.5 3.5 x 4.5 5.5", TASK_AUTO,
         "target 'y' looks numeric (5 of 6 values are numbers) but row 4 holds 'x'"},
        {"1.5 2.5 inf 3.5 4.5", TASK_AUTO, "row 3 holds 'inf', not a finite number"},
        {"1.5 2.5 nan 3.5 4.5", TASK_AUTO, "row 3 holds 'nan', not a finite number"},
        {"a b c a", TASK_REGRESSION, "--task regression needs a numeric target; 'y' holds strings"},
        {"a b c a", TASK_BINARY, "target 'y' is not binary: more than 2"},
        {over, TASK_AUTO, "target 'y' has more than 100 classes"},
        {over, TASK_MULTICLASS, "target 'y' has more than 100 classes"},
        {"a a a", TASK_MULTICLASS, "target 'y' has one value only"},
        {"a a a", TASK_BINARY, "target 'y' is not binary: fewer than 2"},
        //  requested regression: a bad cell is named as under auto
        {"1.5 2.5 -inf 3.5 4.5", TASK_REGRESSION, "row 3 holds '-inf', not a finite number"},
        {"1.5 nan 2.5 3.5", TASK_REGRESSION, "row 2 holds 'nan', not a finite number"},
        //  finite but too large: squared errors would be inf (a model of NaNs)
        {"1.5 2.5 1e300 3.5", TASK_AUTO, "target 'y' row 3 holds 1e+300, beyond +-1e+100"},
        {"1.5 -2e150 2.5 3.5", TASK_REGRESSION, "target 'y' row 2 holds -2e+150, beyond"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        table_t *t = s_csv_target(cases[i].values);
        mlops_err_t err;
        CHECK(prep_target_fit(t, "y", cases[i].req, NULL, 0, &err) == NULL);
        CHECK_INT(err.code, MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, cases[i].msg);
        table_destroy(&t);
    }
    //  the limit itself is a value like any other
    table_t *t = s_csv_target("1e100 -1e100 0.5 2.5");
    mlops_err_t err;
    prep_recipe_t *r = prep_target_fit(t, "y", TASK_REGRESSION, NULL, 0, &err);
    CHECK(r != NULL);
    prep_destroy(&r);
    table_destroy(&t);
}

int main(void)
{
    RUN(test_task_inference);
    RUN(test_task_errors);
    RUN(test_titanic_recipe_rules);
    RUN(test_titanic_real_file_titles_and_fills);
    RUN(test_generic_recipe_infers_and_drops);
    RUN(test_target_errors);
    RUN(test_records_and_tables_give_same_features);
    RUN(test_fit_refusals);
    RUN(test_label_refusals_name_the_row);
    return TEST_REPORT("test_prep");
}
