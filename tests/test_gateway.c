/*  test_gateway.c: the gateway's pieces that need no sockets: JSON bodies
    to records (every shape error and syntax error), answer bodies, the
    worker router's choices, and the metrics text. */
#include "answer.h"
#include "body.h"
#include "metrics.h"
#include "router.h"
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

static void test_answer_prediction(void)
{
    int64_t pred[] = {0, 1};
    double proba[] = {0.11, 0.875};
    proto_msg_t msg = {.cmd = PROTO_PREDICTION,
                       .prediction = {.req_id = 1, .model_version = 3, .predictions = pred,
                                      .probabilities = proba, .n = 2}};
    size_t len = 0;
    char *one = answer_prediction(&msg, false, &len);
    CHECK_STR(one, "{\"prediction\":0,\"probability\":0.11,\"model_version\":3}");
    CHECK_INT(len, strlen(one));
    free(one);
    char *many = answer_prediction(&msg, true, &len);
    CHECK_STR(many, "{\"predictions\":[0,1],\"probabilities\":[0.11,0.875],\"model_version\":3}");
    free(many);
}

static void test_answer_number_round_trips(void)
{
    char out[32];
    double values[] = {0.1, 1.0 / 3, 0.123456789012345678, 1e-300, 0};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        answer_number(values[i], out);
        CHECK(strtod(out, NULL) == values[i]);
    }
    CHECK_INT(answer_number(NAN, out), 4);
    CHECK_STR(out, "null");
    answer_number(0.5, out);
    CHECK_STR(out, "0.5");
    answer_number(0.0001000000000000001, out);
    CHECK(strtod(out, NULL) == 0.0001000000000000001);
    answer_number(1 - 1e-16, out);
    CHECK_STR(out, "0.9999999999999999");
    //  random probabilities: shortest (as few digits as the first %.Ng that
    //  reads back) and exact, including powers of two and their neighbours
    unsigned long long x = 88172645463325252ull;
    int same_as_printf = 0, checked = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v = i < 64 ? ldexp(1, -(i % 13) - 1) : (double)(x >> 11) / 9007199254740992.0;
        if (i >= 32 && i < 64)
            v = nextafter(v, 0);
        if (!(v > 1e-4 && v < 1))
            continue;
        size_t n = answer_number(v, out);
        CHECK(strtod(out, NULL) == v);
        CHECK(n == strlen(out));
        char ref[40];
        int prec = 1;
        for (; prec <= 17; prec++) {
            snprintf(ref, sizeof ref, "%.*g", prec, v);
            if (strtod(ref, NULL) == v)
                break;
        }
        CHECK_INT(n - 2, prec + (int)(strspn(out + 2, "0")));   //  "0." + leading zeros + digits
        //  and of the shortest, the closest: printf's correctly rounded digits
        same_as_printf += strcmp(out, ref) == 0;
        checked++;
    }
    CHECK_INT(same_as_printf, checked);
    CHECK(checked > 100000);
}

static void test_answer_problems_and_escapes(void)
{
    proto_problem_t p[] = {{.index = -1, .field = "Age", .msg = "must be >= 0"},
                           {.index = 4, .field = "Se\"x\n", .msg = "must be one of male, female"},
                           {.index = 2, .field = "", .msg = "must be a JSON object"}};
    size_t len = 0;
    char *a = answer_problems(p, 3, 3, false, &len);
    CHECK_STR(a, "{\"detail\":[{\"loc\":[\"body\",\"Age\"],\"msg\":\"must be >= 0\",\"type\":\"value_error\"},"
                 "{\"loc\":[\"body\",\"instances\",4,\"Se\\\"x\\u000a\"],\"msg\":\"must be one of male, "
                 "female\",\"type\":\"value_error\"},{\"loc\":[\"body\",\"instances\",2],\"msg\":\"must "
                 "be a JSON object\",\"type\":\"value_error\"}]}");
    free(a);
    //  single: a worker's index 0 is shown at the top of the body
    char *s = answer_problems(p + 1, 1, 1, true, &len);
    CHECK_CONTAINS(s, "\"loc\":[\"body\",\"Se");
    CHECK(!strstr(s, "instances"));
    free(s);
    char *d = answer_detail("bad \\ thing", &len);
    CHECK_STR(d, "{\"detail\":\"bad \\\\ thing\"}");
    free(d);
    //  bytes that are not UTF-8 (a client's, echoed) become U+FFFD; valid ones stay
    char *u = answer_detail("near '\xc3\xa9\xe7\x7d\xff'", &len);
    CHECK_STR(u, "{\"detail\":\"near '\xc3\xa9\\ufffd}\\ufffd'\"}");
    free(u);
    char *x = answer_syntax("oops", 17, &len);
    CHECK_STR(x, "{\"detail\":\"oops\",\"position\":17}");
    free(x);
}

static const uint8_t ID_A[] = {0, 1, 2, 3, 4}, ID_B[] = {0, 9, 9, 9, 9}, ID_C[] = {0, 7, 7, 7, 7};

static void test_router_ready_and_pick(void)
{
    router_t *r = router_new(2, 3000);
    CHECK(r);
    CHECK_INT(router_pick(r), -1);
    int a = router_ready(r, ID_A, sizeof ID_A, "h:1", 5, 1000);
    int b = router_ready(r, ID_B, sizeof ID_B, "h:2", 5, 1000);
    CHECK(a >= 0 && b >= 0 && a != b);
    CHECK_INT(router_ready(r, ID_A, sizeof ID_A, "h:1", 5, 1100), a);   //  known: same slot
    CHECK_INT(router_find(r, ID_B, sizeof ID_B), b);
    CHECK_INT(router_find(r, ID_C, sizeof ID_C), -1);
    CHECK_INT(router_live(r), 2);
    //  fewest in flight first, least recently used on a tie, never past credit
    int first = router_pick(r);
    router_sent(r, first, 1);
    int second = router_pick(r);
    CHECK(second != first);
    router_sent(r, second, 1);
    CHECK_INT(router_pick(r), first);   //  tie: first was used longer ago
    router_sent(r, first, 1);
    router_sent(r, router_pick(r), 1);
    CHECK_INT(router_pick(r), -1);      //  both at credit 2
    router_answered(r, second, true);
    CHECK_INT(router_pick(r), second);
    router_abandoned(r, first);
    CHECK_INT(router_worker(r, first)->in_flight, 1);
    CHECK_INT(router_worker(r, first)->answers, 0);
    CHECK_INT(router_worker(r, second)->answers, 1);
    CHECK_INT(router_worker(r, first)->requests, 2);
    router_destroy(&r);
    CHECK(r == NULL);
    router_destroy(&r);
}

static void test_router_skips_workers_without_model(void)
{
    router_t *r = router_new(4, 3000);
    int a = router_ready(r, ID_A, sizeof ID_A, "h:1", 0, 0);
    CHECK_INT(router_serving(r), 0);
    CHECK_INT(router_pick(r), -1);
    CHECK_INT(router_version(r), 0);
    router_heard(r, a, 7, 10);
    CHECK_INT(router_serving(r), 1);
    CHECK_INT(router_pick(r), a);
    CHECK_INT(router_version(r), 7);
    int b = router_ready(r, ID_B, sizeof ID_B, "h:2", 8, 20);
    CHECK_INT(router_version(r), 8);    //  the latest announcement wins
    router_heard(r, a, 7, 30);          //  unchanged: still 8
    CHECK_INT(router_version(r), 8);
    router_remove(r, b);
    CHECK_INT(router_version(r), 7);
    router_destroy(&r);
}

static void test_router_expiry_and_limits(void)
{
    router_t *r = router_new(1, 3000);
    int a = router_ready(r, ID_A, sizeof ID_A, "h:1", 1, 0);
    int b = router_ready(r, ID_B, sizeof ID_B, "h:2", 1, 0);
    router_heard(r, b, 1, 2000);
    int dead[4];
    CHECK_INT(router_expired(r, 3000, dead, 4), 0);
    CHECK_INT(router_expired(r, 3001, dead, 4), 1);
    CHECK_INT(dead[0], a);
    router_remove(r, a);
    CHECK(router_worker(r, a) == NULL);
    CHECK_INT(router_live(r), 1);
    CHECK_INT(router_pick(r), b);
    CHECK_INT(router_ready(r, ID_A, 0, "x", 1, 0), -1);   //  empty id
    uint8_t big[ROUTER_ID_MAX_BYTES + 1] = {0};
    CHECK_INT(router_ready(r, big, sizeof big, "x", 1, 0), -1);
    for (int i = 0; i < ROUTER_WORKERS_MAX - 1; i++) {
        uint8_t id[4] = {1, (uint8_t)i, (uint8_t)(i >> 8), 0};
        CHECK(router_ready(r, id, sizeof id, "x", 1, 0) >= 0);
    }
    CHECK_INT(router_ready(r, ID_C, sizeof ID_C, "full", 1, 0), -1);   //  table full
    router_destroy(&r);
}

//  Time the gateway itself did not run does not count against workers.
static void test_router_forgives_its_own_stall(void)
{
    router_t *r = router_new(1, 3000);
    int a = router_ready(r, ID_A, sizeof ID_A, "h:1", 1, 0);
    int dead[4];
    CHECK_INT(router_awake(r, 0, 250), 0);      //  the first turn has nothing to compare
    CHECK_INT(router_awake(r, 200, 250), 0);    //  within the expected wait
    CHECK_INT(router_expired(r, 3001, dead, 4), 1);
    CHECK_INT(router_awake(r, 6200, 250), 5750);   //  stopped for about 6 s
    CHECK_INT(router_expired(r, 6200, dead, 4), 0);   //  not dead: 3000 + 5750
    CHECK_INT(router_expired(r, 8750, dead, 4), 0);
    CHECK_INT(router_expired(r, 8751, dead, 4), 1);
    CHECK_INT(dead[0], a);
    router_heard(r, a, 1, 6300);   //  heard again: the usual liveness from then on
    CHECK_INT(router_awake(r, 6400, 250), 0);
    CHECK_INT(router_expired(r, 9300, dead, 4), 0);
    CHECK_INT(router_expired(r, 9301, dead, 4), 1);
    router_destroy(&r);
}

static void test_metrics_render(void)
{
    metrics_t *m = metrics_new();
    router_t *r = router_new(4, 3000);
    int a = router_ready(r, ID_A, sizeof ID_A, "host:42", 3, 0);
    router_sent(r, a, 100);
    router_answered(r, a, true);
    metrics_observe(m, METRICS_PREDICT, 200, 0.0003);
    metrics_observe(m, METRICS_PREDICT, 200, 0.002);
    metrics_observe(m, METRICS_PREDICT, 422, 0.0001);
    metrics_observe(m, METRICS_OTHER, 404, 0.00001);
    CHECK_INT(metrics_count(m, METRICS_PREDICT, 200), 2);
    CHECK_INT(metrics_count(m, METRICS_PREDICT, 999), 0);
    metrics_gauges_t g = {.in_flight = 1, .queued = 2, .resent = 3};
    size_t len = 0;
    char *text = metrics_render(m, r, &g, &len);
    CHECK(text);
    CHECK_INT(len, strlen(text));
    CHECK_CONTAINS(text, "mlops_gateway_requests_total{endpoint=\"/predict\",status=\"200\"} 2\n");
    CHECK_CONTAINS(text, "mlops_gateway_requests_total{endpoint=\"/predict\",status=\"422\"} 1\n");
    CHECK_CONTAINS(text, "mlops_gateway_requests_total{endpoint=\"other\",status=\"404\"} 1\n");
    CHECK_CONTAINS(text, "request_duration_seconds_bucket{endpoint=\"/predict\",le=\"0.0001\"} 1\n");
    CHECK_CONTAINS(text, "request_duration_seconds_bucket{endpoint=\"/predict\",le=\"0.0005\"} 2\n");
    CHECK_CONTAINS(text, "request_duration_seconds_bucket{endpoint=\"/predict\",le=\"+Inf\"} 3\n");
    CHECK_CONTAINS(text, "request_duration_seconds_count{endpoint=\"/predict\"} 3\n");
    CHECK_CONTAINS(text, "mlops_gateway_model_version 3\n");
    CHECK_CONTAINS(text, "mlops_gateway_workers 1\n");
    CHECK_CONTAINS(text, "mlops_gateway_queued 2\n");
    CHECK_CONTAINS(text, "mlops_gateway_resent_total 3\n");
    CHECK_CONTAINS(text, "mlops_infer_records_total{worker=\"host:42\"} 100\n");
    CHECK_CONTAINS(text, "mlops_infer_predictions_total{worker=\"host:42\"} 1\n");
    free(text);
    router_destroy(&r);
    metrics_destroy(&m);
    CHECK(m == NULL);
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
    RUN(test_answer_prediction);
    RUN(test_answer_number_round_trips);
    RUN(test_answer_problems_and_escapes);
    RUN(test_router_ready_and_pick);
    RUN(test_router_skips_workers_without_model);
    RUN(test_router_expiry_and_limits);
    RUN(test_router_forgives_its_own_stall);
    RUN(test_metrics_render);
    body_clear(&s_body);
    return TEST_REPORT("test_gateway");
}
