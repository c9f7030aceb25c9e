/*  test_answer.c: gateway/answer.c, the JSON bodies the gateway answers
    with: predictions, 422 problems, details with escapes and bytes that are
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

int main(void)
{
    RUN(test_answer_prediction);
    RUN(test_answer_number_round_trips);
    RUN(test_answer_problems_and_escapes);
    return TEST_REPORT("test_answer");
}
