/*  test_prep.c: the recipes (Titanic rules, generic inference, imputation,
    scaling), label reading, validation of records, the recipe codec, and
    the stratified split and K-fold. */
#include "artifact.h"
#include "csv_load.h"
#include "ml_fixtures.h"
#include "prep.h"
#include "testing.h"
#include <assert.h>

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

static void test_validate_titanic_record(void)
{
    table_t *t = fx_titanic(40);
    size_t *rows = fx_all_rows(40);
    prep_recipe_t *r = prep_fit(t, rows, 40, NULL, NULL, 0, NULL);
    CHECK(r != NULL);
    proto_field_t good[] = {{"Pclass", PROTO_VAL_INT, 3, NULL},
                            {"Sex", PROTO_VAL_STR, 0, "male"},
                            {"Age", PROTO_VAL_NIL, 0, NULL},
                            {"Unknown", PROTO_VAL_STR, 0, "ignored"}};
    proto_record_t rec = {good, 4};
    proto_problem_t pb[8];
    size_t count = 0;
    prep_validate_record(r, &rec, -1, pb, 8, &count);
    CHECK_INT(count, 0);
    proto_field_t bad[] = {{"Pclass", PROTO_VAL_INT, 5, NULL},
                           {"Age", PROTO_VAL_STR, 0, "old"},
                           {"SibSp", PROTO_VAL_FLOAT, 1.5, NULL},
                           {"Fare", PROTO_VAL_FLOAT, NAN, NULL},
                           {"Embarked", PROTO_VAL_STR, 0, "Z"}};
    rec = (proto_record_t){bad, 5};
    prep_validate_record(r, &rec, 7, pb, 8, &count);
    CHECK_INT(count, 6);
    CHECK_STR(pb[0].field, "Pclass");
    CHECK_STR(pb[0].msg, "must be between 1 and 3");
    CHECK_INT(pb[0].index, 7);
    CHECK_STR(pb[1].field, "Sex");
    CHECK_STR(pb[1].msg, "field required");
    CHECK_STR(pb[2].field, "Age");
    CHECK_STR(pb[2].msg, "must be a number");
    CHECK_STR(pb[3].msg, "must be an integer");
    CHECK_STR(pb[4].msg, "must be a finite number");
    CHECK_STR(pb[5].field, "Embarked");
    CHECK_STR(pb[5].msg, "must be one of C, Q, S");
    //  max bounds what is written, not what is counted
    count = 0;
    prep_validate_record(r, &rec, 0, pb, 2, &count);
    CHECK_INT(count, 6);
    char *sig = prep_signature_json(r);
    CHECK_CONTAINS(sig, "\"name\":\"Sex\",\"type\":\"string\",\"required\":true");
    CHECK_CONTAINS(sig, "\"enum\":[\"C\",\"Q\",\"S\"]");
    CHECK_CONTAINS(sig, "\"unknown_fields\":\"ignored\"");
    free(sig);
    prep_destroy(&r);
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
        prep_record_cells(r, &rec, cells);
        prep_transform_row(r, cells, x);
        ok = memcmp(x, X + i * 16, sizeof x) == 0;
    }
    prep_destroy(&r);
    table_destroy(&t);
    free(rows);
    CHECK(ok);
}

//  The first field of rec named name, as a plain scan: the reference for
//  prep_record_fields' in-order fast path.
static const proto_field_t *s_first(const proto_record_t *rec, const char *name)
{
    for (size_t i = 0; i < rec->n_fields; i++)
        if (strcmp(rec->fields[i].name, name) == 0)
            return &rec->fields[i];
    return NULL;
}

static void test_record_fields_map_matches_scan(void)
{
    table_t *t = fx_titanic(40);
    size_t *rows = fx_all_rows(40);
    prep_recipe_t *r = prep_fit(t, rows, 40, NULL, NULL, 0, NULL);
    CHECK(r != NULL);
    CHECK(r->names_unique);
    CHECK(r->n_inputs <= 12);
    //  Records built from the inputs in signature order, then varied by a
    //  seeded generator: swaps, drops, unknown fields and repeated names
    //  (the decoder refuses those, but the map must still pick the first).
    //  Every other record repeats the names of the one before (new values),
    //  as a batch of one schema does: prep_record_fields_after must give the
    //  scan's map either way.
    uint64_t seed = 12345;
    int same_map = 1, same_problems = 1, same_cells = 1, same_after = 1, repeats = 0, passed = 0;
    proto_field_t prev_f[32];
    proto_record_t prev = {prev_f, 0};
    const proto_field_t *prev_map[12];
    for (int trial = 0; trial < 400; trial++) {
        proto_field_t f[32];
        size_t n = 0;
        if (trial % 2 == 1) {
            for (n = 0; n < prev.n_fields; n++) {
                f[n] = prev_f[n];
                f[n].num += 1;
            }
            repeats++;
            goto mapped;
        }
        for (size_t k = 0; k < r->n_inputs; k++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned v = (unsigned)(seed >> 33);
            const char *name = r->inputs[k].name;
            if (trial > 0 && v % 7 == 0)
                continue;  //  dropped
            if (trial > 0 && v % 11 == 1)
                f[n++] = (proto_field_t){"Extra", PROTO_VAL_STR, 0, "x"};
            f[n++] = r->inputs[k].type == PREP_NUM ? (proto_field_t){name, PROTO_VAL_INT, 1 + v % 3, NULL}
                                                   : (proto_field_t){name, PROTO_VAL_STR, 0, v % 2 ? "male" : "S"};
            if (trial > 0 && v % 13 == 2)  //  the same name again, another value
                f[n++] = (proto_field_t){name, PROTO_VAL_STR, 0, "again"};
        }
        for (size_t i = 0; trial % 3 == 2 && n > 1 && i < 3; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t a = (size_t)(seed >> 33) % n, b = (size_t)(seed >> 17) % n;
            proto_field_t tmp = f[a];
            f[a] = f[b];
            f[b] = tmp;
        }
    mapped:;
        proto_record_t rec = {f, n};
        const proto_field_t *map[12], *after[12];
        prep_record_fields(r, &rec, map);
        prep_record_fields_after(r, &rec, trial ? &prev : NULL, prev_map, after);
        for (size_t k = 0; k < r->n_inputs; k++) {
            same_map &= map[k] == s_first(&rec, r->inputs[k].name);
            same_after &= after[k] == map[k];
        }
        //  the next record's "before": this one, moved to prev_f
        memcpy(prev_f, f, n * sizeof *f);
        prev.n_fields = n;
        for (size_t k = 0; k < r->n_inputs; k++)
            prev_map[k] = map[k] ? prev_f + (map[k] - f) : NULL;
        proto_problem_t pa[16], pb[16];
        size_t ca = 0, cb = 0;
        prep_validate_record(r, &rec, trial, pa, 16, &ca);
        prep_validate_fields(r, map, trial, pb, 16, &cb);
        same_problems &= ca == cb;
        for (size_t i = 0; i < ca && i < 16 && ca == cb; i++)
            same_problems &= pa[i].index == pb[i].index && strcmp(pa[i].field, pb[i].field) == 0
                          && strcmp(pa[i].msg, pb[i].msg) == 0;
        prep_cell_t c1[12], c2[12];
        memset(c1, 0, sizeof c1);
        memset(c2, 0, sizeof c2);
        prep_record_cells(r, &rec, c1);
        prep_fields_cells(r, map, c2);
        for (size_t k = 0; k < r->n_inputs; k++)
            same_cells &= c1[k].missing == c2[k].missing && c1[k].str == c2[k].str
                       && memcmp(&c1[k].num, &c2[k].num, sizeof c1[k].num) == 0;
        //  validation and cells in one walk: the same problems, and for a
        //  record that passes, cells giving the same features
        prep_cell_t c3[12];
        proto_problem_t pc[16];
        size_t cc = 0;
        prep_validate_cells(r, map, trial, pc, 16, &cc, c3);
        same_problems &= cc == cb;
        for (size_t i = 0; i < cc && i < 16 && cc == cb; i++)
            same_problems &= strcmp(pc[i].field, pb[i].field) == 0 && strcmp(pc[i].msg, pb[i].msg) == 0;
        if (cc == 0) {
            double x2[64], x3[64];
            assert(r->n_features <= 64);
            prep_transform_row(r, c2, x2);
            prep_transform_row(r, c3, x3);
            same_cells &= memcmp(x2, x3, r->n_features * sizeof *x2) == 0;
            passed++;
        }
    }
    CHECK(same_map);
    CHECK(same_after);
    CHECK_INT(repeats, 200);
    CHECK(passed > 20);   //  enough records passed that features were compared (43 do)
    CHECK(same_problems);
    CHECK(same_cells);
    //  a recipe whose inputs repeat a name falls back to the scan
    r->names_unique = false;
    proto_field_t dup[] = {{"Pclass", PROTO_VAL_INT, 1, NULL}, {"Pclass", PROTO_VAL_INT, 2, NULL}};
    proto_record_t rec = {dup, 2};
    const proto_field_t *map[12];
    prep_record_fields(r, &rec, map);
    CHECK(map[0] == &dup[0]);
    prep_destroy(&r);
    table_destroy(&t);
    free(rows);
}

static void test_recipe_codec_round_trip_and_corruption(void)
{
    table_t *t = fx_generic(50);
    size_t *rows = fx_all_rows(50);
    prep_recipe_t *r = prep_fit(t, rows, 50, "label", NULL, 0, NULL);
    CHECK(r != NULL);
    uint8_t *blob = NULL;
    size_t len = 0;
    CHECK_INT(artifact_recipe_encode(r, &blob, &len), 0);
    mlops_err_t err;
    prep_recipe_t *back = artifact_recipe_decode(blob, len, &err);
    int same = back && back->n_features == r->n_features;
    double a[8], b[8];
    prep_cell_t cells[2] = {{.num = 1.7, .level = -2}, {.str = "green", .level = -2}};
    if (same) {
        prep_transform_row(r, cells, a);
        prep_transform_row(back, cells, b);
        same = memcmp(a, b, r->n_features * sizeof(double)) == 0;
    }
    prep_destroy(&back);
    CHECK(artifact_recipe_decode(blob, len - 3, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "truncated");
    //  the first key's name altered: "kind" becomes "kinx"
    uint8_t *p = memmem(blob, len, "kind", 4);
    CHECK(p != NULL);
    p[3] = 'x';
    CHECK(artifact_recipe_decode(blob, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "'kind' is missing");
    free(blob);
    prep_destroy(&r);
    table_destroy(&t);
    free(rows);
    CHECK(same);
}

static void test_split_is_stratified_and_seeded(void)
{
    enum { N = 891 };
    uint8_t y[N];
    for (size_t i = 0; i < N; i++)
        y[i] = i < 342;
    size_t tr[N], te[N], ntr, nte, tr2[N], te2[N], ntr2, nte2;
    CHECK_INT(prep_split(y, N, 0.2, 42, tr, &ntr, te, &nte, NULL), 0);
    CHECK_INT(nte, 179); //  ceil(0.2 * 891), as sklearn
    CHECK_INT(ntr, 712);
    size_t pos = 0;
    for (size_t i = 0; i < nte; i++)
        pos += y[te[i]];
    CHECK_INT(pos, 69); //  sklearn's test split of titanic.csv holds 69 survivors
    int seen[N] = {0};
    for (size_t i = 0; i < ntr; i++)
        seen[tr[i]]++;
    for (size_t i = 0; i < nte; i++)
        seen[te[i]]++;
    for (size_t i = 0; i < N; i++)
        CHECK_INT(seen[i], 1);
    CHECK_INT(prep_split(y, N, 0.2, 42, tr2, &ntr2, te2, &nte2, NULL), 0);
    CHECK(memcmp(te, te2, sizeof(size_t) * nte) == 0);
    CHECK_INT(prep_split(y, N, 0.2, 43, tr2, &ntr2, te2, &nte2, NULL), 0);
    CHECK(memcmp(te, te2, sizeof(size_t) * nte) != 0);
    mlops_err_t err;
    CHECK_INT(prep_split(y, N, 1.5, 42, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "test fraction 1.5");
    uint8_t few[6] = {0, 0, 0, 0, 0, 1};
    CHECK_INT(prep_split(few, 6, 0.2, 42, tr, &ntr, te, &nte, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "each class needs rows on both sides");
}

static void test_kfold_balances_classes(void)
{
    enum { N = 103 };
    uint8_t y[N];
    for (size_t i = 0; i < N; i++)
        y[i] = i % 3 == 0;
    int fold[N], again[N];
    CHECK_INT(prep_kfold(y, N, 5, 7, fold, NULL), 0);
    size_t size[5] = {0}, pos[5] = {0};
    for (size_t i = 0; i < N; i++) {
        CHECK(fold[i] >= 0 && fold[i] < 5);
        size[fold[i]]++;
        pos[fold[i]] += y[i];
    }
    for (int f = 0; f < 5; f++) {
        CHECK(size[f] == 20 || size[f] == 21);
        CHECK(pos[f] == 6 || pos[f] == 7); //  35 positives over 5 folds
    }
    CHECK_INT(prep_kfold(y, N, 5, 7, again, NULL), 0);
    CHECK(memcmp(fold, again, sizeof fold) == 0);
    mlops_err_t err;
    CHECK_INT(prep_kfold(y, N, 1, 7, fold, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "K in 2..");
    CHECK_INT(prep_kfold(y, 8, 5, 7, fold, &err), MLOPS_EINVAL); //  3 positives < 5
    CHECK_CONTAINS(err.msg, "at least 5 rows of each class");
}

int main(void)
{
    RUN(test_titanic_recipe_rules);
    RUN(test_titanic_real_file_titles_and_fills);
    RUN(test_generic_recipe_infers_and_drops);
    RUN(test_target_errors);
    RUN(test_validate_titanic_record);
    RUN(test_records_and_tables_give_same_features);
    RUN(test_record_fields_map_matches_scan);
    RUN(test_recipe_codec_round_trip_and_corruption);
    RUN(test_split_is_stratified_and_seeded);
    RUN(test_kfold_balances_classes);
    return TEST_REPORT("test_prep");
}
