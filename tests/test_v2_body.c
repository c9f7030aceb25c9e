/*  test_v2_body.c: gateway/v2.c and gateway/schema.c, Open Inference
    Protocol bodies: tensors to the records /predict makes, every refusal
    naming its tensor, the signature parsed strictly, and the metadata. */
#include "schema.h"
#include "testing.h"
#include "v2.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_signature[] =
    "{\"recipe\":\"titanic\",\"fields\":["
    "{\"name\":\"Pclass\",\"type\":\"integer\",\"required\":true,\"min\":1,\"max\":3,\"fill\":3},"
    "{\"name\":\"Sex\",\"type\":\"string\",\"required\":true,\"enum\":[\"male\",\"female\"]},"
    "{\"name\":\"Age\",\"type\":\"number\",\"required\":false,\"min\":0,\"max\":120,\"fill\":28},"
    "{\"name\":\"City\",\"type\":\"string\",\"required\":false,\"known\":[\"a\"]}],"
    "\"unknown_fields\":\"ignored\"}";

static v2_infer_t s_req;
static schema_t *s_schema;

//  Both paths made the same records: names, kinds, numbers to the bit, strings.
static void s_same_records(const body_t *a, const body_t *b)
{
    CHECK_INT(a->n_records, b->n_records);
    for (size_t i = 0; i < a->n_records && i < b->n_records; i++) {
        const proto_record_t *x = &a->records[i], *y = &b->records[i];
        CHECK_INT(x->n_fields, y->n_fields);
        for (size_t k = 0; k < x->n_fields && k < y->n_fields; k++) {
            CHECK_STR(x->fields[k].name, y->fields[k].name);
            CHECK_INT(x->fields[k].kind, y->fields[k].kind);
            CHECK(memcmp(&x->fields[k].num, &y->fields[k].num, sizeof(double)) == 0);
            if (x->fields[k].kind == PROTO_VAL_STR)
                CHECK_STR(x->fields[k].str, y->fields[k].str);
        }
    }
}

//  The fast path and the jansson-only path give the same outcome on text.
static void s_agree(const char *text, size_t rows_max)
{
    v2_infer_t fast = {0}, full = {0};
    mlops_err_t err = {0}, full_err = {0};
    int rc = v2_infer_parse(&fast, text, strlen(text), s_schema, rows_max, &err);
    int full_rc = v2_infer_parse_full(&full, text, strlen(text), s_schema, rows_max, &full_err);
    CHECK_INT(rc, full_rc);
    if (rc && full_rc)
        CHECK_STR(err.msg, full_err.msg);
    CHECK_INT(fast.body.n_records, full.body.n_records);
    if (rc == 0 && full_rc == 0)
        s_same_records(&fast.body, &full.body);
    v2_infer_clear(&fast);
    v2_infer_clear(&full);
}

static int s_parse(const char *text, size_t rows_max, mlops_err_t *err)
{
    s_agree(text, rows_max);
    v2_infer_clear(&s_req);
    return v2_infer_parse(&s_req, text, strlen(text), s_schema, rows_max, err);
}

//  The parse fails with EPROTO and a message holding needle.
static void s_refused(const char *text, const char *needle)
{
    mlops_err_t err = {0};
    CHECK_INT(s_parse(text, 100, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, needle);
}

#define T_PCLASS "{\"name\":\"Pclass\",\"shape\":[2],\"datatype\":\"INT32\",\"data\":[3,1]}"
#define T_SEX "{\"name\":\"Sex\",\"shape\":[2,1],\"datatype\":\"BYTES\",\"data\":[[\"male\"],[\"female\"]]}"

static void test_schema_parse(void)
{
    mlops_err_t err;
    schema_t *s = schema_parse(s_signature, strlen(s_signature), 7, &err);
    CHECK(s != NULL);
    CHECK_INT(s->n_fields, 4);
    CHECK_INT(s->version, 7);
    CHECK_STR(s->recipe, "titanic");
    CHECK_INT(schema_field(s, "Pclass")->type, SCHEMA_INTEGER);
    CHECK_NEAR(schema_field(s, "Pclass")->max, 3, 0);
    CHECK(isinf(schema_field(s, "Sex")->min));
    CHECK(schema_field(s, "Sex")->closed && schema_level_known(schema_field(s, "Sex"), "female"));
    CHECK(!schema_field(s, "City")->closed);
    CHECK(schema_field(s, "Nope") == NULL);
    schema_destroy(&s);
    CHECK(s == NULL);
    const char *bad[][2] = {
        {"[1]", "not a JSON object"},
        {"{\"fields\":3}", "'fields' is not a list"},
        {"{\"fields\":[{\"name\":\"a\",\"type\":\"date\"}]}", "fields[0] needs a name and a type"},
        {"{\"fields\":[{\"name\":\"a\",\"type\":\"number\",\"min\":\"x\"}]}", "a has a bound that is not a number"},
        {"{\"fields\":[{\"name\":\"a\",\"type\":\"string\",\"enum\":[1]}]}", "a has a level that is not a string"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(schema_parse(bad[i][0], strlen(bad[i][0]), 1, &err) == NULL);
        CHECK_INT(err.code, MLOPS_EPROTO);
        CHECK_CONTAINS(err.msg, bad[i][1]);
    }
}

static void test_v2_tensors_to_records(void)
{
    mlops_err_t err;
    CHECK_INT(s_parse("{\"id\":\"q\\\"1\",\"parameters\":{},\"inputs\":[" T_PCLASS "," T_SEX ","
                      "{\"name\":\"Age\",\"shape\":[2],\"datatype\":\"FP32\",\"data\":[22.5,1]}]}",
                      100, &err), 0);
    CHECK(s_req.has_id);
    CHECK_STR(s_req.id, "q\"1");
    CHECK_INT(s_req.outputs, V2_OUTPUT_PREDICT | V2_OUTPUT_PROBABILITY);
    CHECK_INT(s_req.body.n_records, 2);
    const proto_record_t *r = &s_req.body.records[1];
    CHECK_INT(r->n_fields, 3);
    CHECK_STR(r->fields[0].name, "Pclass");
    CHECK_INT(r->fields[0].kind, PROTO_VAL_INT);
    CHECK_NEAR(r->fields[0].num, 1, 0);
    CHECK_INT(r->fields[1].kind, PROTO_VAL_STR);
    CHECK_STR(r->fields[1].str, "female");
    CHECK_INT(r->fields[2].kind, PROTO_VAL_FLOAT);
    CHECK_NEAR(r->fields[2].num, 1, 0);
    //  one name per tensor, shared by every row (the worker maps by pointer)
    CHECK(s_req.body.records[0].fields[0].name == r->fields[0].name);
    CHECK_INT(s_parse("{\"inputs\":[" T_PCLASS "," T_SEX "],\"outputs\":[{\"name\":\"probability\"}]}",
                      100, &err), 0);
    CHECK(!s_req.has_id);
    CHECK_INT(s_req.outputs, V2_OUTPUT_PROBABILITY);
}

static void test_v2_refusals_name_the_tensor(void)
{
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[3,1]}," T_SEX "]}",
              "input 'Pclass': datatype FP64 does not fit the model's integer input");
    s_refused("{\"inputs\":[" T_PCLASS ",{\"name\":\"Sex\",\"shape\":[2],\"datatype\":\"INT8\",\"data\":[1,2]}]}",
              "input 'Sex': datatype INT8 does not fit the model's string input (send BYTES)");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[3],\"datatype\":\"INT64\",\"data\":[3,1]}]}",
              "input 'Pclass': shape says 3 values, data holds 2");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[1,2],\"datatype\":\"INT64\",\"data\":[3,1]}]}",
              "input 'Pclass': shape must be [N] or [N, 1]");
    s_refused("{\"inputs\":[" T_PCLASS ",{\"name\":\"Sex\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"male\"]}]}",
              "input 'Sex' has 1 rows, input 'Pclass' has 2");
    s_refused("{\"inputs\":[" T_PCLASS "]}", "input 'Sex' is required by the model");
    s_refused("{\"inputs\":[" T_PCLASS "," T_SEX ",{\"name\":\"Deck\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"a\",\"b\"]}]}",
              "input 'Deck' is not an input of the model");
    s_refused("{\"inputs\":[" T_PCLASS ",{\"name\":\"Sex\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"male\",\"robot\"]}]}",
              "input 'Sex' row 1: \"robot\" is not one of male, female");
    s_refused("{\"inputs\":[" T_PCLASS "," T_SEX ",{\"name\":\"Age\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[1,NaN]}]}",
              "input 'Age' row 1: NaN is not allowed");
    s_refused("{\"inputs\":[" T_PCLASS "," T_SEX ",{\"name\":\"Age\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[-Infinity,1]}]}",
              "input 'Age' row 0: an infinity is not allowed");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[2],\"datatype\":\"INT8\",\"data\":[3,300]}," T_SEX "]}",
              "input 'Pclass' row 1: not a value of datatype INT8");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[2],\"datatype\":\"UINT8\",\"data\":[3,-1]}," T_SEX "]}",
              "input 'Pclass' row 1: not a value of datatype UINT8");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[2],\"datatype\":\"INT64\",\"data\":[3,\"1\"]}," T_SEX "]}",
              "input 'Pclass' row 1: not a value of datatype INT64");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[2],\"datatype\":\"INT4\",\"data\":[3,1]}]}",
              "input 'Pclass': datatype \"INT4\" is not one of");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[2],\"data\":[3,1]}]}",
              "input 'Pclass': datatype missing is not one of");
    s_refused("{\"inputs\":[" T_PCLASS "," T_PCLASS "]}", "input 'Pclass' is given twice");
    s_refused("{\"inputs\":[]}", "\"inputs\" must be a list of 1 to");
    s_refused("{\"input\":[]}", "\"inputs\" must be a list of 1 to");
    s_refused("[1]", "body must be a JSON object");
    s_refused("{\"id\":5,\"inputs\":[]}", "\"id\" must be a string");
    s_refused("{\"inputs\":[" T_PCLASS "," T_SEX "],\"outputs\":[{\"name\":\"logits\"}]}",
              "outputs[0]: unknown output 'logits'");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[2],\"datatype\":\"INT64\",\"data\":[3,1],"
              "\"parameters\":{\"binary_data_size\":16}}]}", "binary_data=False");
    s_refused("{\"inputs\":[" T_PCLASS "," T_SEX "],\"outputs\":[{\"name\":\"predict\",\"parameters\":"
              "{\"binary_data\":true}}]}", "binary tensor data extension");
    s_refused("{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[0],\"datatype\":\"INT64\",\"data\":[]}]}",
              "input 'Pclass' has 0 rows: 1 to 100 are served");
    mlops_err_t err;
    CHECK_INT(s_parse("{\"inputs\":[", 100, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "not valid JSON at byte");
}

static void test_v2_fast_path_reads_what_jansson_reads(void)
{
    mlops_err_t err;
    //  the fast path's shape, whitespace and all; and forms it leaves to jansson
    const char *bodies[] = {
        " { \"inputs\" : [ {\"data\":[[3],[1]],\"shape\":[2,1],\"name\":\"Pclass\",\"datatype\":\"INT64\"},"
        T_SEX " ] , \"id\":\"x\" } ",
        "{\"inputs\":[" T_PCLASS "," T_SEX ",{\"name\":\"Age\",\"shape\":[2],\"datatype\":\"FP64\","
        "\"data\":[-0.5e1,1E+2]}]}",
        "{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[2],\"datatype\":\"INT64\",\"data\":[01,3]}," T_SEX "]}",
        "{\"inputs\":[{\"name\":\"Pcl\\u0061ss\",\"shape\":[2],\"datatype\":\"INT64\",\"data\":[1,3]}," T_SEX "]}",
        "{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[9007199254740993],\"datatype\":\"INT64\",\"data\":[1]}]}",
        "{\"inputs\":[" T_PCLASS "," T_SEX "],\"inputs\":[]}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        s_parse(bodies[i], 100, &err);   //  s_parse compares both paths
    CHECK_INT(s_parse(bodies[0], 100, &err), 0);
    CHECK_STR(s_req.id, "x");
    CHECK(s_req.body.copy != NULL);   //  read by the fast path: no document
    CHECK_NEAR(s_req.body.records[1].fields[0].num, 1, 0);
    CHECK_INT(s_parse(bodies[1], 100, &err), 0);
    CHECK_NEAR(s_req.body.records[0].fields[2].num, -5, 0);
    CHECK_NEAR(s_req.body.records[1].fields[2].num, 100, 0);
    CHECK_INT(s_parse(bodies[3], 100, &err), 0);
    CHECK(s_req.body.doc != NULL);    //  an escape: jansson read it
    CHECK_STR(s_req.body.records[0].fields[0].name, "Pclass");
}

//  Decimals the fast path reads without strtod, and ones it hands to strtod:
//  each the double strtod reads, to the bit.
static void test_v2_fast_path_decimals(void)
{
    static const char *texts[] = {"7.25", "0.1", "-0.0", "22.5", "0.30000000000000004",
                                  "123456789012345.6", "999999999999999.9", "0.000001",
                                  "1.7976931348623157e308", "2.2250738585072014e-308", "-1e2",
                                  "14.4542", "0.072687671469396800"};
    size_t n = sizeof texts / sizeof texts[0];
    char body[1024], data[640] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(data + strlen(data), sizeof data - strlen(data), "%s%s", i ? "," : "", texts[i]);
    snprintf(body, sizeof body, "{\"inputs\":[{\"name\":\"Age\",\"shape\":[%zu],\"datatype\":"
             "\"FP64\",\"data\":[%s]}]}", n, data);
    schema_t *kept = s_schema;
    s_schema = NULL;
    mlops_err_t err;
    CHECK_INT(s_parse(body, 100, &err), 0);
    CHECK(s_req.body.copy != NULL);   //  read by the fast path
    for (size_t i = 0; i < n && i < s_req.body.n_records; i++) {
        double want = strtod(texts[i], NULL), got = s_req.body.records[i].fields[0].num;
        CHECK(memcmp(&want, &got, sizeof want) == 0);
    }
    //  and a sweep of decimals of 1 to 15 digits with a point (an LCG: the
    //  same ones each run)
    static char sweep[32 * 1000], big[sizeof sweep + 128];
    uint64_t x = 12345;
    sweep[0] = '\0';
    for (size_t i = 0, at = 0; i < 1000; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int digits = 1 + (int)((x >> 33) % 15), places = 1 + (int)((x >> 20) % (unsigned)digits);
        uint64_t m = (x >> 8) % 1000000000000000ull, whole = m, unit = 1;
        for (int d = 0; d < places; d++)
            unit *= 10;
        for (int d = places; d < 15; d++)   //  the whole part: digits - places of them
            whole /= d < digits ? 1 : 10;
        at += (size_t)snprintf(sweep + at, sizeof sweep - at, "%s%s%llu", i ? "," : "",
                               x & 1 ? "-" : "", (unsigned long long)(whole / unit));
        at += (size_t)snprintf(sweep + at, sizeof sweep - at, ".%0*llu", places,
                               (unsigned long long)(whole % unit));
    }
    snprintf(big, sizeof big, "{\"inputs\":[{\"name\":\"Age\",\"shape\":[1000],\"datatype\":"
             "\"FP64\",\"data\":[%s]}]}", sweep);
    CHECK_INT(s_parse(big, 1000, &err), 0);
    CHECK(s_req.body.copy != NULL);
    const char *t = sweep;
    for (size_t i = 0; i < s_req.body.n_records; i++) {
        char *end;
        double want = strtod(t, &end), got = s_req.body.records[i].fields[0].num;
        CHECK(memcmp(&want, &got, sizeof want) == 0);
        t = end + 1;
    }
    s_schema = kept;
}

//  Keys are matched as written: a key that merely starts like one of ours,
//  or has an escape, sends the body to jansson, which gives the same answer;
//  a body cut inside a key is refused by both without a read past its end.
static void test_v2_fast_path_keys(void)
{
    mlops_err_t err;
    CHECK_INT(s_parse("{\"inputs\":[{\"name\" : \"Pclass\" ,\"shape\":[1],\"datatype\":\"INT64\","
                      "\"data\":[3]},{\"name\":\"Sex\",\"shape\":[1],\"datatype\":\"BYTES\","
                      "\"data\":[\"male\"]}] , \"id\" :\"k\"}", 100, &err), 0);
    CHECK(s_req.body.copy != NULL);
    CHECK_STR(s_req.id, "k");
    const char *declined[] = {
        "{\"inputs\":[{\"nam\":1,\"name\":\"Pclass\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[3]},"
        "{\"name\":\"Sex\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"male\"]}]}",
        "{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[1],\"datatypes\":1,\"datatype\":\"INT64\",\"data\":[3]},"
        "{\"name\":\"Sex\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"male\"]}]}",
        "{\"inputs\":[{\"name\":\"Pclass\",\"shape\":[1],\"datatype\":\"INT64\",\"d\\u0061ta\":[3]},"
        "{\"name\":\"Sex\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"male\"]}]}",
        "{\"ids\":\"x\",\"inputs\":[{\"name\":\"Pclass\",\"shape\":[1],\"datatype\":\"INT64\",\"data\":[3]},"
        "{\"name\":\"Sex\",\"shape\":[1],\"datatype\":\"BYTES\",\"data\":[\"male\"]}]}",
    };
    for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++) {
        CHECK_INT(s_parse(declined[i], 100, &err), 0);
        CHECK(s_req.body.doc != NULL);   //  jansson read it
    }
    const char *cut[] = {"{\"inputs\":[{\"datat", "{\"i", "{\"inputs\":[{\"name\"", "{\""};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
        CHECK_INT(s_parse(cut[i], 100, &err), MLOPS_EPROTO);
        CHECK_CONTAINS(err.msg, "not valid JSON at byte");
    }
}

static void test_v2_without_signature_goes_by_datatype(void)
{
    schema_t *kept = s_schema;
    s_schema = NULL;
    mlops_err_t err;
    CHECK_INT(s_parse("{\"inputs\":[{\"name\":\"Deck\",\"shape\":[1],\"datatype\":\"BOOL\",\"data\":[true]}]}",
                      100, &err), 0);
    CHECK_INT(s_req.body.records[0].fields[0].kind, PROTO_VAL_BOOL);
    s_schema = kept;
}

static void test_v2_metadata(void)
{
    size_t len = 0;
    int64_t versions[] = {3, 5};
    char *text = v2_model_metadata("titanic", versions, 2, s_schema, &len);
    CHECK_CONTAINS(text, "\"name\":\"titanic\",\"versions\":[\"3\",\"5\"]");
    CHECK_CONTAINS(text, "{\"name\":\"Pclass\",\"datatype\":\"INT64\",\"shape\":[-1]}");
    CHECK_CONTAINS(text, "{\"name\":\"Age\",\"datatype\":\"FP64\",\"shape\":[-1]}");
    CHECK_CONTAINS(text, "{\"name\":\"probability\",\"datatype\":\"FP64\",\"shape\":[-1]}");
    CHECK_INT(len, strlen(text));
    free(text);
    text = v2_repository_index("titanic", versions, 1, &len);
    CHECK_STR(text, "[{\"name\":\"titanic\",\"version\":\"3\",\"state\":\"READY\"}]");
    free(text);
    CHECK_INT(v2_version_parse("12", 2), 12);
    CHECK_INT(v2_version_parse("012", 3), 0);
    CHECK_INT(v2_version_parse("1x", 2), 0);
    CHECK_INT(v2_version_parse("", 0), 0);
}

int main(void)
{
    mlops_err_t err;
    s_schema = schema_parse(s_signature, strlen(s_signature), 5, &err);
    RUN(test_schema_parse);
    RUN(test_v2_tensors_to_records);
    RUN(test_v2_refusals_name_the_tensor);
    RUN(test_v2_fast_path_reads_what_jansson_reads);
    RUN(test_v2_fast_path_decimals);
    RUN(test_v2_fast_path_keys);
    RUN(test_v2_without_signature_goes_by_datatype);
    RUN(test_v2_metadata);
    v2_infer_clear(&s_req);
    schema_destroy(&s_schema);
    return TEST_REPORT("test_v2_body");
}
