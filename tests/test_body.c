/*  test_body.c: gateway/body.c, JSON request bodies to typed records: every
    shape error and syntax error, NaN and Infinity, the fast path against
    jansson, and names shared within a batch. */
#include "answer.h"
#include "body.h"
#include "testing.h"

#include <math.h>

static body_t s_body;

static int s_parse(const char *text, bool batch, size_t batch_max, mlops_err_t *err)
{
    body_clear(&s_body);
    return body_parse(&s_body, text, strlen(text), batch, batch_max, err);
}

static const proto_field_t *s_field(const proto_record_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (strcmp(r->fields[i].name, name) == 0)
            return &r->fields[i];
    return NULL;
}

static void test_body_single_record(void)
{
    mlops_err_t err;
    CHECK_INT(s_parse("{\"Pclass\":3,\"Sex\":\"male\",\"Age\":22.5,\"Embarked\":null,\"Adult\":true}",
                      false, 10, &err), 0);
    CHECK_INT(s_body.n_records, 1);
    const proto_record_t *r = &s_body.records[0];
    CHECK_INT(r->n_fields, 5);
    CHECK_STR(r->fields[0].name, "Pclass");   //  order as sent
    CHECK_INT(r->fields[0].kind, PROTO_VAL_INT);
    CHECK_NEAR(r->fields[0].num, 3, 0);
    CHECK_INT(s_field(r, "Sex")->kind, PROTO_VAL_STR);
    CHECK_STR(s_field(r, "Sex")->str, "male");
    CHECK_INT(s_field(r, "Age")->kind, PROTO_VAL_FLOAT);
    CHECK_NEAR(s_field(r, "Age")->num, 22.5, 0);
    CHECK_INT(s_field(r, "Embarked")->kind, PROTO_VAL_NIL);
    CHECK_INT(s_field(r, "Adult")->kind, PROTO_VAL_BOOL);
    CHECK_NEAR(s_field(r, "Adult")->num, 1, 0);
}

static void test_body_batch(void)
{
    mlops_err_t err;
    CHECK_INT(s_parse("{\"instances\":[{\"a\":1},{\"a\":2,\"b\":\"x\"},{}],\"extra\":1}", true, 10, &err), 0);
    CHECK_INT(s_body.n_records, 3);
    CHECK_INT(s_body.records[0].n_fields, 1);
    CHECK_INT(s_body.records[1].n_fields, 2);
    CHECK_INT(s_body.records[2].n_fields, 0);
    CHECK_NEAR(s_body.records[1].fields[0].num, 2, 0);
    CHECK_STR(s_body.records[1].fields[1].str, "x");
}

static void test_body_not_json_names_byte(void)
{
    mlops_err_t err;
    CHECK_INT(s_parse("{\"Pclass\": 3,, }", false, 10, &err), MLOPS_EPROTO);
    CHECK_INT(s_body.error_pos, 13);
    CHECK_CONTAINS(err.msg, "byte 13");
    CHECK_INT(s_parse("", false, 10, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "not valid JSON at byte 0");
    CHECK_INT(s_parse("{\"a\":1} trailing", false, 10, &err), MLOPS_EPROTO);
    CHECK_INT(s_parse("{\"a\":\"\\u0000\"}", false, 10, &err), MLOPS_EPROTO);
}

static void test_body_nan_and_infinity_are_values(void)
{
    mlops_err_t err;
    CHECK_INT(s_parse("{\"Age\":NaN,\"Fare\":Infinity,\"x\":-Infinity,\"s\":\"NaN\"}", false, 10, &err), 0);
    const proto_record_t *r = &s_body.records[0];
    CHECK_INT(s_field(r, "Age")->kind, PROTO_VAL_FLOAT);
    CHECK(isnan(s_field(r, "Age")->num));
    CHECK(isinf(s_field(r, "Fare")->num) && s_field(r, "Fare")->num > 0);
    CHECK(isinf(s_field(r, "x")->num) && s_field(r, "x")->num < 0);
    CHECK_INT(s_field(r, "s")->kind, PROTO_VAL_STR);   //  inside a string: untouched
    CHECK_STR(s_field(r, "s")->str, "NaN");
}

static void test_body_nan_rewrite_keeps_positions(void)
{
    mlops_err_t err;
    //  the syntax error after a NaN is reported at its byte in the client's text
    CHECK_INT(s_parse("{\"Age\":NaN,\"Fare\":}", false, 10, &err), MLOPS_EPROTO);
    CHECK_INT(s_body.error_pos, 18);
    CHECK_CONTAINS(err.msg, "byte 18");
    //  a word that merely starts like a token is not one
    CHECK_INT(s_parse("{\"Age\":NaNa}", false, 10, &err), MLOPS_EPROTO);
    //  a smuggled marker is refused
    CHECK_INT(s_parse("{\"Age\":NaN,\"s\":\"\\u0000X\"}", false, 10, &err), MLOPS_ECHECK);
    CHECK_STR(s_body.problems[0].field, "s");
    CHECK_CONTAINS(s_body.problems[0].msg, "\\u0000");
}

static void test_body_wrong_shapes(void)
{
    mlops_err_t err;
    CHECK_INT(s_parse("[1,2]", false, 10, &err), MLOPS_ECHECK);
    CHECK_INT(s_body.n_problems, 1);
    CHECK_INT(s_body.problems[0].index, -1);
    CHECK_CONTAINS(s_body.problems[0].msg, "JSON object");
    CHECK_INT(s_parse("3", false, 10, &err), MLOPS_ECHECK);
    CHECK_INT(s_parse("{\"a\":[1],\"b\":{\"c\":1},\"d\":1}", false, 10, &err), MLOPS_ECHECK);
    CHECK_INT(s_body.n_problems, 2);
    CHECK_STR(s_body.problems[0].field, "a");
    CHECK_STR(s_body.problems[1].field, "b");
    CHECK_CONTAINS(s_body.problems[1].msg, "number, a string");
}

static void test_body_batch_shapes(void)
{
    mlops_err_t err;
    CHECK_INT(s_parse("{\"records\":[]}", true, 10, &err), MLOPS_ECHECK);
    CHECK_STR(s_body.problems[0].field, "instances");
    CHECK_STR(s_body.problems[0].msg, "field required");
    CHECK_INT(s_parse("{\"instances\":{}}", true, 10, &err), MLOPS_ECHECK);
    CHECK_CONTAINS(s_body.problems[0].msg, "list");
    CHECK_INT(s_parse("{\"instances\":[]}", true, 10, &err), MLOPS_ECHECK);
    CHECK_CONTAINS(s_body.problems[0].msg, "at least 1");
    CHECK_INT(s_parse("[{}]", true, 10, &err), MLOPS_ECHECK);
    CHECK_CONTAINS(s_body.problems[0].msg, "instances");
    CHECK_INT(s_parse("{\"instances\":[{},{},{}]}", true, 2, &err), MLOPS_ECHECK);
    CHECK_STR(s_body.problems[0].msg, "holds 3 records, more than the limit of 2");
    //  every bad record is named, with its index
    CHECK_INT(s_parse("{\"instances\":[{\"a\":1},7,{\"b\":[]},\"x\"]}", true, 10, &err), MLOPS_ECHECK);
    CHECK_INT(s_body.n_problems, 3);
    CHECK_INT(s_body.problems[0].index, 1);
    CHECK_INT(s_body.problems[1].index, 3);
    CHECK_INT(s_body.problems[2].index, 2);
    CHECK_STR(s_body.problems[2].field, "b");
}

static void test_body_problem_overflow_counts_all(void)
{
    char text[8192] = "{\"instances\":[";
    for (int i = 0; i < 100; i++)
        strcat(text, i ? ",1" : "1");
    strcat(text, "]}");
    mlops_err_t err;
    CHECK_INT(s_parse(text, true, 1000, &err), MLOPS_ECHECK);
    CHECK_INT(s_body.n_problems, 100);
    size_t len = 0;
    char *answer = answer_problems(s_body.problems, BODY_PROBLEMS_MAX, s_body.n_problems, false, &len);
    CHECK(answer);
    CHECK_CONTAINS(answer, "and 36 more problems");
    free(answer);
}

//  True when both paths give the same records, bit for bit; *fast tells
//  whether the fast path took the text.
static bool s_paths_agree(const char *text, bool batch, bool *fast)
{
    body_t a = {0}, b = {0};
    mlops_err_t err;
    int ra = body_parse(&a, text, strlen(text), batch, 100, &err);
    int rb = body_parse_full(&b, text, strlen(text), batch, 100, &err);
    bool same = ra == rb && a.n_records == b.n_records && a.n_problems == b.n_problems;
    *fast = a.copy != NULL;
    for (size_t i = 0; same && i < a.n_records && ra == 0; i++) {
        same = a.records[i].n_fields == b.records[i].n_fields;
        for (size_t j = 0; same && j < a.records[i].n_fields; j++) {
            const proto_field_t *x = &a.records[i].fields[j], *y = &b.records[i].fields[j];
            same = x->kind == y->kind && strcmp(x->name, y->name) == 0
                && memcmp(&x->num, &y->num, sizeof x->num) == 0
                && (x->str == NULL) == (y->str == NULL) && (!x->str || strcmp(x->str, y->str) == 0);
        }
    }
    body_clear(&a);
    body_clear(&b);
    return same;
}

static void test_body_fast_path_agrees_with_jansson(void)
{
    static const char *taken[] = {
        "{\"Pclass\":3,\"Sex\":\"male\",\"Age\":22,\"SibSp\":1,\"Parch\":0,\"Fare\":7.25,\"Embarked\":\"S\"}",
        " { \"a\" : -0 , \"b\" : -0.0, \"c\": 1e3, \"d\": 2.5E-3, \"e\": 123456789012345678,"
        " \"f\": 0.1234567890123456789, \"g\": 1e-300, \"h\": true, \"i\": false, \"j\": null,"
        " \"k\": \"caf\xc3\xa9\", \"l\": \"\"} ",
        "{}",
        "{\"instances\":[{\"a\":1},{},{\"b\":\"x\",\"c\":3.25}]}",
        "{\"Name\":\"Johnston, Miss. \\\"Carrie\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00 \\u20AC\"}",
        //  names shared with the record before, or not: an escaped spelling,
        //  a prefix, a longer name, more and fewer fields, a name moved
        "{\"instances\":[{\"Age\":1,\"Sex\":\"m\"},{\"Age\":2,\"Sex\":\"f\"},"
        "{\"\\u0041ge\":3,\"Sex\":\"f\"},{\"Age\":4,\"Sex\":\"f\"},{\"Ag\":5,\"Sexy\":1},"
        "{\"Age\":6,\"Sex\":\"f\",\"Fare\":1.5},{\"Age\":7},{\"Sex\":\"m\",\"Age\":8},"
        "{\"A\\\"e\":9},{\"A\\\"e\":10}]}",
    };
    static const char *refused[] = {   //  the full path decides these
        "{\"a\":\"\\u0000\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud83dx\"}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}", "{\"a\":[1]}", "{\"a\":1,\"a\":2}", "{\"a\":01}", "{\"a\":1e400}",
        "{\"a\":1.}", "{\"a\":NaN}", "{\"a\":1} x", "[1]", "{\"a\":1234567890123456789012}",
        "{\"instances\":[]}", "{\"instances\":[{}],\"more\":1}", "{\"a\":\"\xc3\"}", "{\"a\":tru}",
        "{\"a\":\"x\x01\"}", "",
        //  a duplicate after names shared with the record before
        "{\"instances\":[{\"a\":1,\"b\":2},{\"a\":1,\"a\":2}]}",
        "{\"instances\":[{\"a\":1,\"b\":2},{\"a\":1,\"b\":2,\"b\":3}]}",
    };
    bool fast;
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++) {
        bool batch = strstr(taken[i], "instances") != NULL;
        CHECK(s_paths_agree(taken[i], batch, &fast));
        CHECK(fast);
    }
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK(s_paths_agree(refused[i], strstr(refused[i], "instances") != NULL, &fast));
        CHECK(!fast);
    }
    //  a batch over its limit is the full path's to refuse, with its message
    char big[2048] = "{\"instances\":[";
    for (int i = 0; i < 101; i++)
        strcat(big, i ? ",{}" : "{}");
    strcat(big, "]}");
    CHECK(s_paths_agree(big, true, &fast));
    CHECK(!fast);
}

//  A batch of one schema shares its names (the encoder and the worker
//  compare them by pointer); a different spelling of a name does not.
static void test_body_batch_shares_names(void)
{
    const char *text = "{\"instances\":[{\"Age\":1,\"Sex\":\"m\"},{\"Age\":2,\"Sex\":\"f\"},"
                       "{\"\\u0041ge\":3,\"Sex\":\"f\"},{\"Age\":4,\"Sex\":\"f\"}]}";
    mlops_err_t err;
    CHECK_INT(s_parse(text, true, 100, &err), 0);
    CHECK_INT(s_body.n_records, 4);
    const proto_record_t *r = s_body.records;
    CHECK(r[1].fields[0].name == r[0].fields[0].name);
    CHECK(r[1].fields[1].name == r[0].fields[1].name);
    CHECK(r[2].fields[0].name != r[1].fields[0].name);   //  escaped: its own copy
    CHECK_STR(r[2].fields[0].name, "Age");
    CHECK(r[2].fields[1].name == r[1].fields[1].name);
    CHECK(r[3].fields[0].name != r[2].fields[0].name);   //  the one before was escaped
    CHECK(r[3].fields[1].name == r[2].fields[1].name);
    CHECK(r[3].fields[0].num == 4);
    body_clear(&s_body);
}

int main(void)
{
    RUN(test_body_single_record);
    RUN(test_body_batch);
    RUN(test_body_not_json_names_byte);
    RUN(test_body_nan_and_infinity_are_values);
    RUN(test_body_nan_rewrite_keeps_positions);
    RUN(test_body_wrong_shapes);
    RUN(test_body_batch_shapes);
    RUN(test_body_problem_overflow_counts_all);
    RUN(test_body_fast_path_agrees_with_jansson);
    RUN(test_body_batch_shares_names);
    body_clear(&s_body);
    return TEST_REPORT("test_body");
}
