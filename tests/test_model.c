/*  test_model.c: a loaded model: its metrics reproduced, every load error,
    and the serving path (validate, predict, serve: predictions from records
    = predictions from the table; problems named). */
#include "artifact.h"
#include "ml_fixtures.h"
#include "model.h"
#include "testing.h"
#include "train.h"

#define ROWS FX_TRAINED_ROWS

static void test_artifact_round_trip_reproduces_metrics(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    for (int k = 0; k < FX_FAMILIES; k++) {
        mlops_err_t err;
        model_t *m = model_load(s.blob[k], s.len[k], &err);
        CHECK(m != NULL);
        CHECK_STR(model_family(m), fx_families[k]);
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
    fx_trained_free(&s);
}

static void test_records_predict_as_the_table(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    for (int k = 0; k < FX_FAMILIES; k++) {
        model_t *m = model_load(s.blob[k], s.len[k], NULL);
        CHECK(m != NULL);
        proto_field_t fields[ROWS][16];
        proto_record_t recs[ROWS];
        for (size_t i = 0; i < s.pr.n_test; i++)
            recs[i] = fx_record(s.t, s.pr.test_rows[i], fields[i]);
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
    fx_trained_free(&s);
}

//  model_serve gives model_validate's problems and model_predict's
//  probabilities, over more records than one block, and fills nothing when a
//  record is bad.
static void test_serve_checks_and_predicts_in_one_walk(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    enum { N = 300 }; //  over two blocks of 128
    static proto_field_t fields[N][16];
    static proto_record_t recs[N];
    for (size_t i = 0; i < N; i++)
        recs[i] = fx_record(s.t, i % ROWS, fields[i]);
    for (int k = 0; k < FX_FAMILIES; k++) {
        model_t *m = model_load(s.blob[k], s.len[k], NULL);
        CHECK(m != NULL);
        static double a[N], b[N];
        proto_problem_t pb[4];
        size_t bad = 99;
        mlops_err_t err;
        CHECK_INT(model_serve(m, recs, N, false, pb, 4, &bad, a, &err), 0);
        CHECK_INT(bad, 0);
        CHECK_INT(model_predict(m, recs, N, b, &err), 0);
        CHECK(memcmp(a, b, sizeof a) == 0);
        //  two bad records, one in each of the first two blocks: both counted
        //  and named, the probabilities left as they were
        fields[5][2] = (proto_field_t){"Pclass", PROTO_VAL_INT, 0, NULL};
        fields[200][4] = (proto_field_t){"Sex", PROTO_VAL_STR, 0, "other"};
        for (size_t i = 0; i < N; i++)
            a[i] = -1;
        CHECK_INT(model_serve(m, recs, N, false, pb, 4, &bad, a, &err), 0);
        CHECK_INT(bad, 2);
        CHECK_INT(pb[0].index, 5);
        CHECK_STR(pb[0].field, "Pclass");
        CHECK_INT(pb[1].index, 200);
        CHECK_STR(pb[1].msg, "must be one of male, female");
        for (size_t i = 0; i < N; i++)
            CHECK(a[i] == -1);
        CHECK_INT(model_validate(m, recs, N, false, pb, 4), 2);
        //  one record, as /predict sends it: the index is -1
        CHECK_INT(model_serve(m, recs + 5, 1, true, pb, 4, &bad, a, &err), 0);
        CHECK_INT(bad, 1);
        CHECK_INT(pb[0].index, -1);
        //  no records: nothing to do
        CHECK_INT(model_serve(m, recs, 0, false, pb, 4, &bad, a, &err), 0);
        CHECK_INT(bad, 0);
        recs[5] = fx_record(s.t, 5, fields[5]);
        recs[200] = fx_record(s.t, 200 % ROWS, fields[200]);
        model_destroy(&m);
    }
    fx_trained_free(&s);
}

static void test_load_refuses_bad_blobs(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
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
    CHECK_INT(blob[16], ARTIFACT_FORMAT_BINARY); //  a binary model keeps format 1
    blob[16] = ARTIFACT_FORMAT + 1;
    CHECK(model_load(blob, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EVERSION);
    CHECK_CONTAINS(err.msg, "newer than this build");
    blob[16] = ARTIFACT_FORMAT_BINARY;
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
    fx_trained_free(&s);
}

int main(void)
{
    RUN(test_artifact_round_trip_reproduces_metrics);
    RUN(test_records_predict_as_the_table);
    RUN(test_serve_checks_and_predicts_in_one_walk);
    RUN(test_load_refuses_bad_blobs);
    return TEST_REPORT("test_model");
}
