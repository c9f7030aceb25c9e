/*  test_answer.c: gateway/answer.c, the JSON bodies the gateway answers
    with: predictions (binary, multiclass and regression, V2 too), 422 problems, details with escapes and bytes that are
    not UTF-8, and the shortest round-tripping number. */
#include "answer.h"
#include "testing.h"

#include <math.h>

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
    //  the request id is an addition after model_version; none leaves the reference's bytes
    char *with = answer_prediction_id(&msg, false, "a-1", &len);
    CHECK_STR(with, "{\"prediction\":0,\"probability\":0.11,\"model_version\":3,\"request_id\":\"a-1\"}");
    free(with);
    with = answer_prediction_id(&msg, true, "", &len);
    CHECK_STR(with, "{\"predictions\":[0,1],\"probabilities\":[0.11,0.875],\"model_version\":3}");
    free(with);
    char *v2 = answer_v2_infer(&msg, "titanic", "x", true, true, &len);
    CHECK_STR(v2, "{\"model_name\":\"titanic\",\"model_version\":\"3\",\"id\":\"x\",\"outputs\":["
                  "{\"name\":\"predict\",\"datatype\":\"INT64\",\"shape\":[2],\"data\":[0,1]},"
                  "{\"name\":\"probability\",\"datatype\":\"FP64\",\"shape\":[2],\"data\":"
                  "[0.11,0.875]}]}");
    free(v2);
}

//  A multiclass answer: the label of the predicted class and every class's
//  probability by label; numeric labels stay numbers and become quoted keys.
static void test_answer_multiclass(void)
{
    int64_t pred[] = {1, 0};
    double proba[] = {0.8, 0.5}, classes[] = {0.1, 0.8, 0.1, 0.5, 0.25, 0.25};
    proto_msg_t msg = {.cmd = PROTO_PREDICTION,
                       .prediction = {.model_version = 7, .predictions = pred, .probabilities = proba,
                                      .n = 2, .task = "multiclass", .classes = "[\"a\",\"b\",\"c\"]",
                                      .class_probabilities = classes, .n_class_probabilities = 6}};
    char why[160], *made = NULL;
    size_t len = 0;
    CHECK_INT(answer_prediction_make(&msg, false, "r", &made, &len, why, sizeof why), 0);
    CHECK_STR(made, "{\"prediction\":\"b\",\"probabilities\":{\"a\":0.1,\"b\":0.8,\"c\":0.1},"
                    "\"model_version\":7,\"request_id\":\"r\"}");
    CHECK_INT(len, strlen(made));
    free(made);
    char *one = answer_prediction(&msg, false, &len);
    CHECK_STR(one, "{\"prediction\":\"b\",\"probabilities\":{\"a\":0.1,\"b\":0.8,\"c\":0.1},"
                   "\"model_version\":7}");
    free(one);
    char *many = answer_prediction(&msg, true, &len);
    CHECK_STR(many, "{\"predictions\":[\"b\",\"a\"],\"probabilities\":[{\"a\":0.1,\"b\":0.8,"
                    "\"c\":0.1},{\"a\":0.5,\"b\":0.25,\"c\":0.25}],\"model_version\":7}");
    free(many);
    char *v2 = answer_v2_infer(&msg, "wine", NULL, true, true, &len);
    CHECK_STR(v2, "{\"model_name\":\"wine\",\"model_version\":\"7\",\"outputs\":[{\"name\":"
                  "\"predict\",\"datatype\":\"BYTES\",\"shape\":[2],\"data\":[\"b\",\"a\"]},"
                  "{\"name\":\"probability\",\"datatype\":\"FP64\",\"shape\":[2,3],\"data\":"
                  "[0.1,0.8,0.1,0.5,0.25,0.25]}]}");
    free(v2);
    msg.prediction.classes = "[3,5,8]";
    one = answer_prediction(&msg, false, &len);
    CHECK_STR(one, "{\"prediction\":5,\"probabilities\":{\"3\":0.1,\"5\":0.8,\"8\":0.1},"
                   "\"model_version\":7}");
    free(one);
    v2 = answer_v2_infer(&msg, "wine", NULL, true, false, &len);
    CHECK_CONTAINS(v2, "\"datatype\":\"INT64\",\"shape\":[2],\"data\":[5,3]}]}");
    free(v2);
    //  labels longer than any fixed buffer, with bytes to escape
    msg.prediction.classes = "[\"a label of more than sixty-four bytes, which is a lot for a label\","
                             "\"q\\\"uote\",\"c\"]";
    one = answer_prediction(&msg, false, &len);
    CHECK_STR(one, "{\"prediction\":\"q\\\"uote\",\"probabilities\":{\"a label of more than "
                   "sixty-four bytes, which is a lot for a label\":0.1,\"q\\\"uote\":0.8,\"c\":0.1},"
                   "\"model_version\":7}");
    free(one);
    msg.prediction.classes = "[3,5.5,8]";
    v2 = answer_v2_infer(&msg, "wine", NULL, true, false, &len);
    CHECK_CONTAINS(v2, "\"datatype\":\"FP64\",\"shape\":[2],\"data\":[5.5,3]}]}");
    free(v2);
}

//  Labels that do not fit the probabilities are refused by name, not indexed.
static void test_answer_multiclass_bad_labels(void)
{
    int64_t pred[] = {1};
    double proba[] = {0.8}, classes[] = {0.2, 0.8};
    proto_msg_t msg = {.cmd = PROTO_PREDICTION,
                       .prediction = {.predictions = pred, .probabilities = proba, .n = 1,
                                      .task = "multiclass", .classes = "[\"a\"]",
                                      .class_probabilities = classes, .n_class_probabilities = 2}};
    const char *bad[][2] = {
        {"[\"a\"]", "the inference worker sent 2 class probabilities per record and class labels "
                    "that are not a list of 2"},
        {"[\"a\", 2]", "class label 1 that is not a string or a number like the others"},
        {"[\"a\", null]", "class label 1 that is not a string or a number like the others"},
        {"not json", "not a list of 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        //  both builders refuse them, saying why, with no body
        char why[160] = "", why_v2[160] = "", *body = (char *)"x", *body_v2 = (char *)"x";
        size_t len = 0;
        msg.prediction.classes = bad[i][0];
        CHECK_INT(answer_prediction_make(&msg, true, NULL, &body, &len, why, sizeof why), MLOPS_EPROTO);
        CHECK_CONTAINS(why, bad[i][1]);
        CHECK(body == NULL);
        CHECK_INT(answer_v2_make(&msg, "m", NULL, true, true, &body_v2, &len, why_v2, sizeof why_v2),
                  MLOPS_EPROTO);
        CHECK_STR(why_v2, why);
        CHECK(body_v2 == NULL);
        CHECK(answer_prediction(&msg, false, &len) == NULL);
        CHECK(answer_v2_infer(&msg, "m", NULL, true, true, &len) == NULL);
    }
}

//  A regression answer: the value, no class, no probability.
static void test_answer_regression(void)
{
    int64_t pred[] = {0, 0};
    double nan2[] = {NAN, NAN}, values[] = {151.3, -2};
    proto_msg_t msg = {.cmd = PROTO_PREDICTION,
                       .prediction = {.model_version = 2, .predictions = pred, .probabilities = nan2,
                                      .n = 2, .task = "regression", .values = values, .n_values = 2}};
    size_t len;
    char why[160], *made = NULL, *made_v2 = NULL;
    CHECK_INT(answer_prediction_make(&msg, true, NULL, &made, &len, why, sizeof why), 0);
    CHECK_STR(made, "{\"predictions\":[151.3,-2],\"model_version\":2}");
    free(made);
    CHECK_INT(answer_v2_make(&msg, "m", NULL, true, false, &made_v2, &len, why, sizeof why), 0);
    CHECK_CONTAINS(made_v2, "\"data\":[151.3,-2]");
    free(made_v2);
    char *one = answer_prediction(&msg, false, &len);
    CHECK_STR(one, "{\"prediction\":151.3,\"model_version\":2}");
    free(one);
    char *many = answer_prediction(&msg, true, &len);
    CHECK_STR(many, "{\"predictions\":[151.3,-2],\"model_version\":2}");
    free(many);
    char *v2 = answer_v2_infer(&msg, "m", "r1", true, true, &len);
    CHECK_STR(v2, "{\"model_name\":\"m\",\"model_version\":\"2\",\"id\":\"r1\",\"outputs\":"
                  "[{\"name\":\"predict\",\"datatype\":\"FP64\",\"shape\":[2],\"data\":"
                  "[151.3,-2]}]}");
    free(v2);
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
    //  0 and 1 (a forest's pure answers) as %.16g writes them, -0 too
    double edges[] = {0.0, -0.0, 1.0, -1.0, 2.0, 1e-4};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        char ref[32];
        snprintf(ref, sizeof ref, "%.16g", edges[i]);
        CHECK_INT(answer_number(edges[i], out), strlen(ref));
        CHECK_STR(out, ref);
    }
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

int main(void)
{
    RUN(test_answer_prediction);
    RUN(test_answer_multiclass);
    RUN(test_answer_multiclass_bad_labels);
    RUN(test_answer_regression);
    RUN(test_answer_number_round_trips);
    RUN(test_answer_problems_and_escapes);
    return TEST_REPORT("test_answer");
}
