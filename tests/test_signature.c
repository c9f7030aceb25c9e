/*  test_signature.c: the serving contract of a recipe: records checked
    against it (each problem named), a record's fields mapped to the inputs
    (in order, after the record before, by a scan: one answer), the cells a
    check yields, the derived messages and the signature as JSON, whose
    open levels are capped in number and length; two contracts compared. */
#include "ml_fixtures.h"
#include "signature.h"
#include "testing.h"
#include <assert.h>

static void test_validate_titanic_record(void)
{
    table_t *t = fx_titanic(40);
    prep_recipe_t *r = fx_fit(t, NULL);
    CHECK(r != NULL);
    proto_field_t good[] = {{"Pclass", PROTO_VAL_INT, 3, NULL},
                            {"Sex", PROTO_VAL_STR, 0, "male"},
                            {"Age", PROTO_VAL_NIL, 0, NULL},
                            {"Unknown", PROTO_VAL_STR, 0, "ignored"}};
    proto_record_t rec = {good, 4};
    proto_problem_t pb[8];
    size_t count = 0;
    signature_validate_record(r, &rec, -1, pb, 8, &count);
    CHECK_INT(count, 0);
    proto_field_t bad[] = {{"Pclass", PROTO_VAL_INT, 5, NULL},
                           {"Age", PROTO_VAL_STR, 0, "old"},
                           {"SibSp", PROTO_VAL_FLOAT, 1.5, NULL},
                           {"Fare", PROTO_VAL_FLOAT, NAN, NULL},
                           {"Embarked", PROTO_VAL_STR, 0, "Z"}};
    rec = (proto_record_t){bad, 5};
    signature_validate_record(r, &rec, 7, pb, 8, &count);
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
    signature_validate_record(r, &rec, 0, pb, 2, &count);
    CHECK_INT(count, 6);
    char *sig = signature_json(r);
    CHECK_CONTAINS(sig, "\"name\":\"Sex\",\"type\":\"string\",\"required\":true");
    CHECK_CONTAINS(sig, "\"enum\":[\"C\",\"Q\",\"S\"]");
    CHECK_CONTAINS(sig, "\"unknown_fields\":\"ignored\"");
    free(sig);
    prep_destroy(&r);
    table_destroy(&t);
}

//  The first field of rec named name, as a plain scan: the reference for
//  signature_map's in-order fast path.
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
    prep_recipe_t *r = fx_fit(t, NULL);
    CHECK(r != NULL);
    CHECK(r->names_unique);
    CHECK(r->n_inputs <= 12);
    //  Records built from the inputs in signature order, then varied by a
    //  seeded generator: swaps, drops, unknown fields and repeated names
    //  (the decoder refuses those, but the map must still pick the first).
    //  Every other record repeats the names of the one before (new values),
    //  as a batch of one schema does: signature_map_after must give the
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
        signature_map(r, &rec, map);
        signature_map_after(r, &rec, trial ? &prev : NULL, prev_map, after);
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
        signature_validate_record(r, &rec, trial, pa, 16, &ca);
        signature_validate(r, map, trial, pb, 16, &cb, NULL);
        same_problems &= ca == cb;
        for (size_t i = 0; i < ca && i < 16 && ca == cb; i++)
            same_problems &= pa[i].index == pb[i].index && strcmp(pa[i].field, pb[i].field) == 0
                          && strcmp(pa[i].msg, pb[i].msg) == 0;
        prep_cell_t c1[12], c2[12];
        memset(c1, 0, sizeof c1);
        memset(c2, 0, sizeof c2);
        signature_record_cells(r, &rec, c1);
        signature_cells(r, map, c2);
        for (size_t k = 0; k < r->n_inputs; k++)
            same_cells &= c1[k].missing == c2[k].missing && c1[k].str == c2[k].str
                       && memcmp(&c1[k].num, &c2[k].num, sizeof c1[k].num) == 0;
        //  validation and cells in one walk: the same problems, and for a
        //  record that passes, cells giving the same features
        prep_cell_t c3[12];
        proto_problem_t pc[16];
        size_t cc = 0;
        signature_validate(r, map, trial, pc, 16, &cc, c3);
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
    signature_map(r, &rec, map);
    CHECK(map[0] == &dup[0]);
    prep_destroy(&r);
    table_destroy(&t);
}

static void test_generic_contract_types_and_unseen_levels(void)
{
    table_t *t = fx_generic(90);
    prep_recipe_t *r = fx_fit(t, "label");
    CHECK(r != NULL);
    CHECK_INT(r->n_inputs, 2); //  x, color
    //  an unseen colour is no problem (open category: the (other) bucket);
    //  a number where a string belongs and a string where a number does are
    proto_field_t ok[] = {{"color", PROTO_VAL_STR, 0, "purple"}, {"x", PROTO_VAL_FLOAT, 2.5, NULL}};
    proto_record_t rec = {ok, 2};
    proto_problem_t pb[4];
    size_t count = 0;
    signature_validate_record(r, &rec, 0, pb, 4, &count);
    CHECK_INT(count, 0);
    proto_field_t bad[] = {{"x", PROTO_VAL_STR, 0, "2.5"}, {"color", PROTO_VAL_INT, 3, NULL}};
    rec = (proto_record_t){bad, 2};
    signature_validate_record(r, &rec, 4, pb, 4, &count);
    CHECK_INT(count, 2);
    CHECK_STR(pb[0].field, "x");
    CHECK_STR(pb[0].msg, "must be a number");
    CHECK_STR(pb[1].field, "color");
    CHECK_STR(pb[1].msg, "must be a string");
    CHECK_INT(pb[1].index, 4);
    //  nothing is required in a generic recipe: an empty record passes
    rec = (proto_record_t){NULL, 0};
    count = 0;
    signature_validate_record(r, &rec, 0, pb, 4, &count);
    CHECK_INT(count, 0);
    char *sig = signature_json(r);
    CHECK_CONTAINS(sig, "\"recipe\":\"generic\"");
    CHECK_CONTAINS(sig, "\"known\":[\"blue\",\"green\",\"red\"]");
    CHECK_CONTAINS(sig, "\"unseen\":\"one-hot bucket (other)\"");
    free(sig);
    prep_destroy(&r);
    table_destroy(&t);
}

//  A check keeps a closed category's level in its cell, so the transform
//  needs no look-up; an open one is left to look up (-2).
static void test_check_keeps_the_level_it_looked_up(void)
{
    table_t *t = fx_titanic(40);
    prep_recipe_t *r = fx_fit(t, NULL);
    CHECK(r != NULL);
    proto_field_t f[] = {{"Pclass", PROTO_VAL_INT, 2, NULL}, {"Sex", PROTO_VAL_STR, 0, "female"},
                         {"Embarked", PROTO_VAL_STR, 0, "Q"},
                         {"Name", PROTO_VAL_STR, 0, "Doe, Mrs. Jane"}};
    proto_record_t rec = {f, 4};
    const proto_field_t *map[8];
    prep_cell_t cells[8];
    proto_problem_t pb[4];
    size_t count = 0;
    signature_map(r, &rec, map);
    signature_validate(r, map, 0, pb, 4, &count, cells);
    CHECK_INT(count, 0);
    CHECK_INT(cells[2].level, 1);  //  Sex: male, female
    CHECK_INT(cells[7].level, 1);  //  Embarked: C, Q, S
    CHECK_INT(cells[1].level, -2); //  Name is text
    CHECK(cells[3].missing);       //  Age absent
    CHECK_INT(prep_level(&r->inputs[7], "S"), 2);
    CHECK_INT(prep_level(&r->inputs[7], "X"), -1);
    prep_destroy(&r);
    table_destroy(&t);
}

static void test_finish_derives_rules_and_uniqueness(void)
{
    prep_input_t in[4] = {
        {.name = "lo", .type = PREP_NUM, .min = 0, .max = INFINITY},
        {.name = "hi", .type = PREP_NUM, .min = -INFINITY, .max = 9},
        {.name = "free", .type = PREP_TEXT},
        {.name = "lo", .type = PREP_NUM, .min = -INFINITY, .max = INFINITY},
    };
    for (size_t k = 0; k < 4; k++)
        in[k].name = strdup(in[k].name);
    prep_recipe_t *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    r->inputs = malloc(sizeof in);
    memcpy(r->inputs, in, sizeof in);
    r->n_inputs = 4;
    CHECK_INT(signature_finish(r), 0);
    CHECK_STR(r->inputs[0].rule, "must be >= 0");
    CHECK_STR(r->inputs[1].rule, "must be <= 9");
    CHECK_STR(r->inputs[2].rule, "is not valid");
    CHECK(!r->names_unique); //  "lo" twice
    //  finishing again replaces the messages (the decoder may call it on a
    //  recipe prep_fit finished)
    r->inputs[1].max = 5;
    CHECK_INT(signature_finish(r), 0);
    CHECK_STR(r->inputs[1].rule, "must be <= 5");
    //  a record repeating a name is mapped to its first occurrence
    proto_field_t f[] = {{"lo", PROTO_VAL_INT, -1, NULL}, {"lo", PROTO_VAL_INT, 1, NULL}};
    proto_record_t rec = {f, 2};
    proto_problem_t pb[4];
    size_t count = 0;
    signature_validate_record(r, &rec, 0, pb, 4, &count);
    CHECK_INT(count, 1);
    CHECK_STR(pb[0].field, "lo");
    CHECK_STR(pb[0].msg, "must be >= 0");
    prep_destroy(&r);
}

//  A category of 46 levels, one of them 100 bytes long, and a text column
//  the recipe drops: the signature lists 32 short levels, counts the 14
//  others, and shows nothing of the dropped column.
static void test_signature_caps_open_levels(void)
{
    enum { N = 230 };
    const char *city[N], *label[N], *note[N];
    char names[N][16], notes[N][24], lng[101];
    memset(lng, 'z', 100);
    lng[100] = 0;
    double x[N];
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "city-%02zu", i % 45);
        snprintf(notes[i], sizeof notes[i], "secret note %zu", i);
        city[i] = i == 7 ? lng : names[i];
        note[i] = notes[i];
        label[i] = i % 2 ? "yes" : "no";
        x[i] = (double)(i % 13);
    }
    table_t *t = table_new(N);
    table_add_number(t, "x", x, NULL);
    table_add_strings(t, "city", TABLE_CATEGORY, city);
    table_add_strings(t, "note", TABLE_TEXT, note);
    table_add_strings(t, "label", TABLE_CATEGORY, label);
    prep_recipe_t *r = fx_fit(t, "label");
    CHECK(r != NULL);
    CHECK_INT(r->inputs[1].n_levels, 46);          //  the model keeps them all
    char *sig = signature_json(r);
    CHECK_CONTAINS(sig, "\"known\":[\"city-00\",\"city-01\",");
    CHECK_CONTAINS(sig, "\"city-31\"],\"known_omitted\":14");
    CHECK(strstr(sig, "city-32") == NULL);
    CHECK(strstr(sig, "zzzz") == NULL);
    CHECK(strstr(sig, "note") == NULL);             //  dropped: neither name nor values
    free(sig);
    prep_destroy(&r);
    table_destroy(&t);
}

//  A recipe of n inputs "name:type" (int, num, open, closed; a category
//  gets the levels given, comma-separated, after a second colon).
static prep_recipe_t *s_recipe(const char *const *spec, size_t n)
{
    prep_recipe_t *r = calloc(1, sizeof *r);
    r->kind = PREP_GENERIC;
    r->task = TASK_BINARY;
    r->inputs = calloc(n, sizeof *r->inputs);
    r->n_inputs = n;
    for (size_t k = 0; k < n; k++) {
        prep_input_t *in = &r->inputs[k];
        char buf[64], *levels;
        snprintf(buf, sizeof buf, "%s", spec[k]);
        char *type = strchr(buf, ':');
        *type++ = 0;
        if ((levels = strchr(type, ':')))
            *levels++ = 0;
        in->name = strdup(buf);
        in->type = strstr(type, "int") || strstr(type, "num") ? PREP_NUM : PREP_CAT;
        in->integer = strcmp(type, "int") == 0;
        in->closed = strcmp(type, "closed") == 0;
        in->levels = calloc(4, sizeof *in->levels);
        for (char *lv = levels ? strtok(levels, ",") : NULL; lv; lv = strtok(NULL, ","))
            in->levels[in->n_levels++] = strdup(lv);
    }
    return r;
}

//  What differs: types, closed values, fields added and removed; open
//  levels do not count, nor does the order of the fields.
static void test_signature_diff(void)
{
    const char *const prod_spec[] = {"a:int", "b:closed:x,y", "c:open:p", "d:num"};
    const char *const cand_spec[] = {"e:num", "c:open:q", "b:closed:y,z", "a:num"};
    prep_recipe_t *prod = s_recipe(prod_spec, 4), *cand = s_recipe(cand_spec, 4);
    char out[256];
    CHECK_INT(signature_diff(cand, prod, out, sizeof out), 4);
    CHECK_STR(out, "field a type changed (integer -> number); field b allowed values changed; "
                   "fields added: e; fields removed: d");
    CHECK_INT(signature_diff(prod, prod, out, sizeof out), 0);
    CHECK_STR(out, "");
    cand->task = TASK_REGRESSION;
    char small[24];
    CHECK_INT(signature_diff(cand, prod, small, sizeof small), 5);
    CHECK_STR(small, "task changed (binary ->");   //  cut to size
    prep_destroy(&prod);
    prep_destroy(&cand);
}

int main(void)
{
    RUN(test_signature_diff);
    RUN(test_signature_caps_open_levels);
    RUN(test_validate_titanic_record);
    RUN(test_record_fields_map_matches_scan);
    RUN(test_generic_contract_types_and_unseen_levels);
    RUN(test_check_keeps_the_level_it_looked_up);
    RUN(test_finish_derives_rules_and_uniqueness);
    return TEST_REPORT("test_signature");
}
