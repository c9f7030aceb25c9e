/*  test_profile_fit.c: the reference profile of training rows
    (ml/profile_fit.c): which inputs become fields and how, the bins and
    counts on the synthetic Titanic table, the serving path (a record's
    cells) counting the same rows to the same counts, the shape check
    against a recipe, a generic recipe, and an empty row set. */
#include "ml_fixtures.h"
#include "profile_fit.h"
#include "signature.h"
#include "synth.h"
#include "testing.h"

//  The synthetic Titanic table, its recipe and its reference profile.
typedef struct {
    table_t *t;
    prep_recipe_t *r;
    profile_t *ref;
} s_fit_t;

static int s_fit(s_fit_t *f, size_t n)
{
    *f = (s_fit_t){synth_generate(n, 42, NULL), NULL, NULL};
    size_t *rows = fx_all_rows(n);
    if (f->t && rows && (f->r = fx_fit(f->t, NULL)))
        f->ref = profile_fit(f->r, f->t, rows, n, NULL);
    free(rows);
    return f->ref ? 0 : -1;
}

static void s_fit_free(s_fit_t *f)
{
    profile_destroy(&f->ref);
    prep_destroy(&f->r);
    table_destroy(&f->t);
}

//  Cells missing in the table's column count as missing in the profile.
static size_t s_missing(const table_t *t, const char *name)
{
    const table_col_t *c = &t->cols[table_find(t, name)];
    size_t m = 0;
    for (size_t i = 0; i < t->n_rows; i++)
        m += c->missing[i];
    return m;
}

static void test_titanic_fields(void)
{
    s_fit_t f;
    CHECK(s_fit(&f, 891) == 0);
    static const char *const names[] = {"Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked"};
    static const profile_kind_t kinds[] = {PROFILE_NUMBER, PROFILE_CATEGORY, PROFILE_NUMBER,
                                           PROFILE_NUMBER, PROFILE_NUMBER, PROFILE_NUMBER,
                                           PROFILE_CATEGORY};
    CHECK_INT(f.ref->n_fields, 7);   //  Name (text) is not profiled
    CHECK_INT(f.ref->rows, 891);
    for (size_t k = 0; k < 7; k++) {
        const profile_field_t *fl = &f.ref->fields[k];
        CHECK_STR(fl->name, names[k]);
        CHECK_INT(fl->kind, kinds[k]);
        uint64_t sum = fl->missing;
        for (size_t i = 0; i < fl->n_counts; i++)
            sum += fl->counts[i];
        CHECK_INT(sum, 891);
    }
    //  Pclass: three values, a bin each, edges half-way (as sklearn's _BinMapper)
    CHECK_INT(f.ref->fields[0].n_edges, 2);
    CHECK_NEAR(f.ref->fields[0].edges[0], 1.5, 0);
    CHECK_NEAR(f.ref->fields[0].edges[1], 2.5, 0);
    //  Fare and Age: deciles, 10 bins, about a tenth of the present rows each
    const profile_field_t *fare = &f.ref->fields[5], *age = &f.ref->fields[2];
    CHECK_INT(fare->n_counts, PROFILE_FIT_BINS);
    CHECK_INT(age->missing, s_missing(f.t, "Age"));
    CHECK(age->missing > 100);
    for (size_t i = 0; i < fare->n_counts; i++)
        CHECK(fare->counts[i] > 40 && fare->counts[i] < 140);
    //  Sex: the recipe's levels, no unseen at training
    const profile_field_t *sex = &f.ref->fields[1];
    CHECK_INT(sex->n_levels, f.r->inputs[2].n_levels);
    CHECK_STR(sex->levels[0], f.r->inputs[2].levels[0]);
    CHECK_INT(sex->counts[sex->n_levels], 0);
    CHECK_INT(profile_fit_check(f.ref, f.r, NULL), 0);
    s_fit_free(&f);
}

//  Row i of t as a record of the recipe's input fields (strings borrowed).
static void s_record(const table_t *t, const prep_recipe_t *r, size_t i, proto_field_t *fields,
                     proto_record_t *rec)
{
    rec->fields = fields;
    rec->n_fields = r->n_inputs;
    for (size_t k = 0; k < r->n_inputs; k++) {
        int c = table_find(t, r->inputs[k].name);
        const table_col_t *col = &t->cols[c];
        fields[k] = (proto_field_t){r->inputs[k].name, PROTO_VAL_NIL, 0, NULL};
        if (col->missing[i])
            continue;
        if (col->kind == TABLE_NUMBER)
            fields[k].kind = PROTO_VAL_FLOAT, fields[k].num = col->num[i];
        else
            fields[k].kind = PROTO_VAL_STR, fields[k].str = table_string(t, (size_t)c, i);
    }
}

static void test_serving_cells_count_as_the_reference(void)
{
    s_fit_t f;
    CHECK(s_fit(&f, 500) == 0);
    profile_t *live = profile_new_like(f.ref);
    CHECK(live != NULL);
    proto_field_t fields[16];
    prep_cell_t cells[16];
    proto_record_t rec;
    CHECK(f.r->n_inputs <= 16);
    for (size_t i = 0; i < f.t->n_rows; i++) {
        s_record(f.t, f.r, i, fields, &rec);
        signature_record_cells(f.r, &rec, cells);
        profile_fit_add_cells(live, f.r, cells);
    }
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    int same = profile_encode(f.ref, &a, &la) == 0 && profile_encode(live, &b, &lb) == 0
            && la == lb && memcmp(a, b, la) == 0;
    for (size_t k = 0; k < live->n_fields; k++)
        CHECK_NEAR(profile_js(&f.ref->fields[k], &live->fields[k]), 0, 0);
    free(a);
    free(b);
    profile_destroy(&live);
    s_fit_free(&f);
    CHECK(same);
}

static void test_unseen_levels_from_records(void)
{
    s_fit_t f;
    CHECK(s_fit(&f, 100) == 0);
    profile_t *live = profile_new_like(f.ref);
    CHECK(live != NULL);
    proto_field_t fields[] = {{"Pclass", PROTO_VAL_INT, 2, NULL}, {"Sex", PROTO_VAL_STR, 0, "robot"},
                              {"Embarked", PROTO_VAL_STR, 0, "S"}, {"Age", PROTO_VAL_NIL, 0, NULL}};
    proto_record_t rec = {fields, 4};
    prep_cell_t cells[16];
    signature_record_cells(f.r, &rec, cells);
    profile_fit_add_cells(live, f.r, cells);
    CHECK_INT(live->rows, 1);
    CHECK_INT(live->fields[0].counts[1], 1);                       //  Pclass 2
    CHECK_INT(live->fields[1].counts[live->fields[1].n_levels], 1); //  Sex unseen
    CHECK_INT(live->fields[2].missing, 1);                         //  Age null
    CHECK_INT(live->fields[5].missing, 1);                         //  Fare absent
    CHECK_INT(live->fields[6].counts[prep_level(&f.r->inputs[7], "S")], 1);
    profile_destroy(&live);
    s_fit_free(&f);
}

static void test_check_refuses_another_recipe(void)
{
    s_fit_t f;
    CHECK(s_fit(&f, 100) == 0);
    table_t *g = fx_generic(60);
    prep_recipe_t *rg = g ? fx_fit(g, "label") : NULL;
    CHECK(rg != NULL);
    mlops_err_t err;
    CHECK_INT(profile_fit_check(f.ref, rg, &err), MLOPS_ECORRUPT);
    CHECK_STR(err.msg, "profile: 7 fields, the recipe profiles 2");
    free(f.ref->fields[1].name);
    f.ref->fields[1].name = strdup("Gender");
    CHECK_INT(profile_fit_check(f.ref, f.r, &err), MLOPS_ECORRUPT);
    CHECK_STR(err.msg, "profile: fields[1] has another name than input Sex");
    prep_destroy(&rg);
    table_destroy(&g);
    s_fit_free(&f);
}

static void test_generic_recipe(void)
{
    table_t *g = fx_generic(90);
    prep_recipe_t *r = g ? fx_fit(g, "label") : NULL;
    size_t *rows = fx_all_rows(90);
    profile_t *p = r && rows ? profile_fit(r, g, rows, 90, NULL) : NULL;
    free(rows);
    CHECK(p != NULL);
    //  id, flat and note are dropped by the recipe; x and color remain
    CHECK_INT(p->n_fields, 2);
    CHECK_STR(p->fields[0].name, "x");
    CHECK_INT(p->fields[0].missing, 10);   //  i % 9 == 4
    CHECK_INT(p->fields[0].n_counts, PROFILE_FIT_BINS);
    CHECK_STR(p->fields[1].name, "color");
    CHECK_INT(p->fields[1].n_levels, 3);
    CHECK_INT(p->fields[1].counts[0] + p->fields[1].counts[1] + p->fields[1].counts[2], 90);
    //  no rows: a shape with nothing counted
    profile_t *empty = profile_fit(r, g, NULL, 0, NULL);
    CHECK(empty && empty->rows == 0 && empty->fields[0].n_edges == 0);
    profile_destroy(&empty);
    profile_destroy(&p);
    prep_destroy(&r);
    table_destroy(&g);
}

int main(void)
{
    RUN(test_titanic_fields);
    RUN(test_serving_cells_count_as_the_reference);
    RUN(test_unseen_levels_from_records);
    RUN(test_check_refuses_another_recipe);
    RUN(test_generic_recipe);
    return TEST_REPORT("test_profile_fit");
}
