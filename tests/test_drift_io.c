/*  test_drift_io.c: the DRIFT answer's codec (proto/drift_io.c): a round
    trip, an answer with no versions, and refusals naming the key. */
#include "drift_io.h"
#include "mpjson.h"
#include "testing.h"

#include <msgpack.h>

static void test_round_trip(void)
{
    control_drift_field_t f[2] = {{"Fare", 0.41, 1.5, true, NULL, NULL}, {"Sex", 0.02, 0.001, false, NULL, NULL}};
    control_drift_version_t v = {.version = 3, .rows = 1200, .measured = true, .n_fields = 2, .fields = f};
    control_drift_t d = {.threshold = 0.15, .min_rows = 1000, .n_versions = 1, .versions = &v};
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK_INT(control_drift_encode(&d, &b, &n), 0);
    control_drift_t back;
    mlops_err_t err;
    CHECK_INT(control_drift_decode(b, n, &back, &err), 0);
    CHECK(back.threshold == 0.15 && back.min_rows == 1000 && back.n_versions == 1);
    CHECK(back.versions[0].version == 3 && back.versions[0].rows == 1200 && back.versions[0].measured);
    CHECK_INT(back.versions[0].n_fields, 2);
    CHECK_STR(back.versions[0].fields[0].name, "Fare");
    CHECK(back.versions[0].fields[0].js == 0.41 && back.versions[0].fields[0].drifted);
    CHECK(back.versions[0].fields[1].psi == 0.001 && !back.versions[0].fields[1].drifted);
    control_drift_clear(&back);
    CHECK(back.versions == NULL);
    free(b);
    control_drift_t off = {0};
    CHECK_INT(control_drift_encode(&off, &b, &n), 0);
    CHECK_INT(control_drift_decode(b, n, &back, &err), 0);
    CHECK(back.n_versions == 0 && back.threshold == 0);
    control_drift_clear(&back);
    free(b);
}

static void test_refusals(void)
{
    control_drift_t d;
    mlops_err_t err;
    //  {"threshold": "x"}
    CHECK_INT(control_drift_decode((const uint8_t *)"\x81\xa9threshold\xa1x", 13, &d, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "drift: answer.threshold has the wrong type");
    //  {"threshold": 0, "min_rows": 1, "versions": [{}]}
    const char v[] = "\x83\xa9threshold\x00\xa8min_rows\x01\xa8versions\x91\x80";
    CHECK_INT(control_drift_decode((const uint8_t *)v, sizeof v - 1, &d, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "drift: version.version is missing");
    CHECK(d.versions == NULL);
    CHECK_INT(control_drift_decode((const uint8_t *)"\x81", 1, &d, &err), MLOPS_EPROTO);
}

//  A field's bins go with its counts and the missing count last; the
//  decoder reads past them.
static void test_bins(void)
{
    profile_t *ref = profile_new(1);
    const double edges[] = {1.5, 2.5};
    CHECK(ref && profile_set_number(ref, 0, "Pclass", edges, 2, NULL) == 0);
    profile_t *live = profile_new_like(ref);
    profile_add_number(ref, 0, 1), profile_end_row(ref);
    profile_add_missing(live, 0), profile_end_row(live);
    control_drift_field_t f = {"Pclass", 0.9, 2.0, true, &ref->fields[0], &live->fields[0]};
    control_drift_version_t v = {.version = 1, .rows = 1, .measured = true, .n_fields = 1, .fields = &f};
    control_drift_t d = {.threshold = 0.15, .min_rows = 1, .n_versions = 1, .versions = &v};
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK_INT(control_drift_encode(&d, &b, &n), 0);
    char *text = mpjson_from_msgpack(b, n, NULL);
    CHECK(text != NULL);
    if (text)
        CHECK_CONTAINS(text, "\"kind\":\"number\",\"edges\":[1.5,2.5],\"reference\":[1,0,0,0],"
                             "\"live\":[0,0,0,1]");
    free(text);
    control_drift_t back;
    mlops_err_t err;
    CHECK_INT(control_drift_decode(b, n, &back, &err), 0);
    CHECK(back.versions[0].fields[0].drifted && back.versions[0].fields[0].ref == NULL);
    control_drift_clear(&back);
    free(b);
    profile_destroy(&ref);
    profile_destroy(&live);
}

int main(void)
{
    RUN(test_round_trip);
    RUN(test_refusals);
    RUN(test_bins);
    return TEST_REPORT("test_drift_io");
}
