/*  test_model.c: the training stages end to end on a small table, the
    artifact (round trip, same seed same bytes, every load error), and the
    serving path (validate, predict from records = predict from the table). */
#include "artifact.h"
#include "ml_fixtures.h"
#include "model.h"
#include "testing.h"
#include "train.h"

#define ROWS 200

typedef struct {
    table_t *t;
    prep_result_t pr;
    uint8_t *blob[2];
    size_t len[2];
} s_trained_t;

static const char *const s_fam[2] = {TRAIN_FAMILY_LOGREG, TRAIN_FAMILY_FOREST};

static int s_train(s_trained_t *s, uint64_t seed)
{
    memset(s, 0, sizeof *s);
    s->t = fx_titanic(ROWS);
    prep_options_t po = {NULL, 0.25, seed};
    if (train_prepare(s->t, &po, &s->pr, NULL) != 0)
        return -1;
    for (int k = 0; k < 2; k++)
        if (train_fit(s->t, s->pr.recipe, s->pr.recipe_len, s->pr.train_rows, s->pr.n_train,
                      s->pr.test_rows, s->pr.n_test, s_fam[k],
                      k ? "{\"n_trees\":20,\"n_threads\":2}" : NULL, seed, &s->blob[k],
                      &s->len[k], NULL) != 0)
            return -1;
    return 0;
}

static void s_free(s_trained_t *s)
{
    free(s->blob[0]);
    free(s->blob[1]);
    prep_result_clear(&s->pr);
    table_destroy(&s->t);
}

static void test_prepare_splits_and_notes(void)
{
    s_trained_t s;
    int rc = s_train(&s, 42);
    int ok = rc == 0 && s.pr.n_train == 150 && s.pr.n_test == 50 &&
             strstr(s.pr.notes, "recipe titanic") && strstr(s.pr.notes, "Survived: 1 = positive");
    s_free(&s);
    CHECK(ok);
}

static void test_artifact_round_trip_reproduces_metrics(void)
{
    s_trained_t s;
    CHECK_INT(s_train(&s, 42), 0);
    for (int k = 0; k < 2; k++) {
        mlops_err_t err;
        model_t *m = model_load(s.blob[k], s.len[k], &err);
        CHECK(m != NULL);
        CHECK_STR(model_family(m), s_fam[k]);
        metrics_t again;
        CHECK_INT(train_score(m, s.t, s.pr.test_rows, s.pr.n_test, &again, &err), 0);
        const metrics_t *rec = model_metrics(m);
        CHECK_NEAR(again.accuracy, rec->accuracy, 0);
        CHECK_NEAR(again.auc, rec->auc, 0);
        CHECK_INT(again.tp + again.fp + again.tn + again.fn, 50);
        CHECK(rec->accuracy > 0.7); //  the fixture is learnable
        double proba[ROWS];
        CHECK_INT(model_predict_table(m, s.t, s.pr.test_rows, s.pr.n_test, proba, &err), 0);
        for (size_t i = 0; i < s.pr.n_test; i++)
            CHECK(proba[i] >= 0 && proba[i] <= 1);
        model_destroy(&m);
        CHECK(m == NULL);
    }
    s_free(&s);
}

static void test_same_seed_same_bytes(void)
{
    s_trained_t a, b, c;
    CHECK_INT(s_train(&a, 7), 0);
    CHECK_INT(s_train(&b, 7), 0);
    CHECK_INT(s_train(&c, 8), 0);
    int same = a.len[0] == b.len[0] && a.len[1] == b.len[1] &&
               memcmp(a.blob[0], b.blob[0], a.len[0]) == 0 &&
               memcmp(a.blob[1], b.blob[1], a.len[1]) == 0;
    int differs = a.len[1] != c.len[1] || memcmp(a.blob[1], c.blob[1], a.len[1]) != 0;
    s_free(&a);
    s_free(&b);
    s_free(&c);
    CHECK(same);
    CHECK(differs);
}

//  The record a user would send for table row i (all columns, as JSON gives them).
static proto_record_t s_record(const table_t *t, size_t i, proto_field_t *f)
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

static void test_records_predict_as_the_table(void)
{
    s_trained_t s;
    CHECK_INT(s_train(&s, 42), 0);
    for (int k = 0; k < 2; k++) {
        model_t *m = model_load(s.blob[k], s.len[k], NULL);
        CHECK(m != NULL);
        proto_field_t fields[ROWS][16];
        proto_record_t recs[ROWS];
        for (size_t i = 0; i < s.pr.n_test; i++)
            recs[i] = s_record(s.t, s.pr.test_rows[i], fields[i]);
        proto_problem_t pb[4];
        CHECK_INT(model_validate(m, recs, s.pr.n_test, false, pb, 4), 0);
        double a[ROWS], b[ROWS];
        mlops_err_t err;
        CHECK_INT(model_predict(m, recs, s.pr.n_test, a, &err), 0);
        CHECK_INT(model_predict_table(m, s.t, s.pr.test_rows, s.pr.n_test, b, &err), 0);
        CHECK(memcmp(a, b, s.pr.n_test * sizeof(double)) == 0);
        //  a bad record: validation names it, predict refuses it
        fields[1][2] = (proto_field_t){"Pclass", PROTO_VAL_INT, 9, NULL};
        CHECK_INT(model_validate(m, recs, 2, false, pb, 4), 1);
        CHECK_INT(pb[0].index, 1);
        CHECK_STR(pb[0].field, "Pclass");
        CHECK_INT(model_validate(m, recs + 1, 1, true, pb, 4), 1);
        CHECK_INT(pb[0].index, -1);
        CHECK_INT(model_predict(m, recs, 2, a, &err), MLOPS_ECHECK);
        CHECK_CONTAINS(err.msg, "record 1: field 'Pclass' must be between 1 and 3");
        char *sig = model_signature_json(m);
        CHECK_CONTAINS(sig, "\"name\":\"Pclass\",\"type\":\"integer\",\"required\":true");
        free(sig);
        model_destroy(&m);
    }
    s_free(&s);
}

static void test_load_refuses_bad_blobs(void)
{
    s_trained_t s;
    CHECK_INT(s_train(&s, 42), 0);
    mlops_err_t err;
    uint8_t *blob = s.blob[1];
    size_t len = s.len[1];
    //  foreign: JSON, empty, another msgpack array
    CHECK(model_load((const uint8_t *)"{\"model\":1}", 11, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EFOREIGN);
    CHECK_CONTAINS(err.msg, "not a model artifact");
    CHECK(model_load(blob, 0, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EFOREIGN);
    //  truncated, at several places
    size_t cuts[] = {5, 17, 90, len / 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        CHECK(model_load(blob, cuts[i], &err) == NULL);
        CHECK_INT(err.code, MLOPS_ECORRUPT);
        CHECK_CONTAINS(err.msg, "truncated");
    }
    //  one flipped byte in the body: the digest catches it
    blob[len - 40] ^= 0x01;
    CHECK(model_load(blob, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "sha256");
    blob[len - 40] ^= 0x01;
    //  newer format: the fixint after the 15-byte magic string
    CHECK_INT(blob[16], ARTIFACT_FORMAT);
    blob[16] = ARTIFACT_FORMAT + 1;
    CHECK(model_load(blob, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EVERSION);
    CHECK_CONTAINS(err.msg, "newer than this build");
    blob[16] = ARTIFACT_FORMAT;
    //  trailing bytes
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, blob, len);
    longer[len] = 0xc0;
    CHECK(model_load(longer, len + 1, &err) == NULL);
    free(longer);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    model_t *m = model_load(blob, len, &err);
    CHECK(m != NULL);
    model_destroy(&m);
    s_free(&s);
}

static void test_body_checks_after_a_valid_digest(void)
{
    //  A body whose digest matches but whose forest is malformed: re-encode
    //  with a child index pointing backwards.
    s_trained_t s;
    CHECK_INT(s_train(&s, 42), 0);
    artifact_t a;
    mlops_err_t err;
    CHECK_INT(artifact_decode(s.blob[1], s.len[1], &a, &err), 0);
    CHECK(a.forest != NULL && a.forest->nodes[0].feature >= 0);
    a.forest->nodes[0].left = 0;
    uint8_t *bad;
    size_t bad_len;
    CHECK_INT(artifact_encode(&a, &bad, &bad_len), 0);
    artifact_clear(&a);
    CHECK(model_load(bad, bad_len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "node 0 is malformed");
    free(bad);
    s_free(&s);
}

static void test_train_errors(void)
{
    s_trained_t s;
    CHECK_INT(s_train(&s, 42), 0);
    mlops_err_t err;
    uint8_t *out;
    size_t out_len;
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "svm", NULL, 1, &out, &out_len, &err),
              MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown model family 'svm'");
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "forest", "{\"trees\":5}", 1, &out,
                        &out_len, &err),
              MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "unknown parameter 'trees' for family forest");
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", "[1]", 1, &out, &out_len, &err),
              MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "not a JSON object");
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", "{\"C\":-1}", 1, &out, &out_len,
                        &err),
              MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "'C' must be a number > 0");
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len / 2, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", NULL, 1, &out, &out_len, &err),
              MLOPS_ECORRUPT);
    CHECK_INT(train_fit(s.t, s.pr.recipe, s.pr.recipe_len, s.pr.train_rows, s.pr.n_train,
                        s.pr.test_rows, s.pr.n_test, "logreg", "{\"max_iter\":1}", 1, &out,
                        &out_len, &err),
              MLOPS_ECONVERGE);
    prep_result_t pr;
    prep_options_t po = {"Nope", 0, 1};
    CHECK_INT(train_prepare(s.t, &po, &pr, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no target column 'Nope'");
    po.target = "Pclass";
    CHECK_INT(train_prepare(s.t, &po, &pr, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "not binary");
    s_free(&s);
}

static void test_cross_validation_runs_every_fold(void)
{
    table_t *t = fx_titanic(ROWS);
    train_cv_t cv[2];
    const char *params[2] = {NULL, "{\"n_trees\":10}"};
    mlops_err_t err;
    prep_options_t po = {NULL, 0, 3};
    CHECK_INT(train_cv(t, &po, 4, 2, s_fam, 2, params, NULL, cv, &err), 0);
    for (int k = 0; k < 2; k++) {
        CHECK_INT(cv[k].n_folds, 8);
        CHECK(cv[k].accuracy_mean > 0.7 && cv[k].accuracy_mean <= 1);
        CHECK(cv[k].auc_std >= 0 && cv[k].auc_mean > 0.7);
    }
    CHECK_INT(train_cv(t, &po, 1, 1, s_fam, 2, params, NULL, cv, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "K in 2..");
    table_destroy(&t);
}

int main(void)
{
    RUN(test_prepare_splits_and_notes);
    RUN(test_artifact_round_trip_reproduces_metrics);
    RUN(test_same_seed_same_bytes);
    RUN(test_records_predict_as_the_table);
    RUN(test_load_refuses_bad_blobs);
    RUN(test_body_checks_after_a_valid_digest);
    RUN(test_train_errors);
    RUN(test_cross_validation_runs_every_fold);
    return TEST_REPORT("test_model");
}
