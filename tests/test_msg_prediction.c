/*  test_msg_prediction.c: PREDICTION's MLOPS/2 task keys (proto/msg.c,
    PROTOCOL.md "PREDICTION"): a binary answer keeps its MLOPS/1 bytes; a
    multiclass and a regression answer round-trip every key in a version-2
    envelope; the encoder refuses and the decoder rejects keys that
    disagree (an unknown task, counts that do not fit, a class index past
    the labels, the keys in a version-1 envelope), each naming the key.
*/
#include "msg.h"
#include "testing.h"

#include <math.h>
#include <stdint.h>

static int64_t s_pred[] = {1, 0};
static double s_proba[] = {0.7, 0.6};
static double s_class_proba[] = {0.2, 0.7, 0.1, 0.6, 0.3, 0.1};
static double s_values[] = {151.25, -3.5};
static double s_nan[] = {NAN, NAN};

static proto_msg_t s_multiclass(void)
{
    return (proto_msg_t){.cmd = PROTO_PREDICTION,
                         .prediction = {.req_id = 9, .model_version = 4, .predictions = s_pred,
                                        .probabilities = s_proba, .n = 2, .task = "multiclass",
                                        .classes = "[\"a\",\"b\",\"c\"]",
                                        .class_probabilities = s_class_proba,
                                        .n_class_probabilities = 6}};
}

static proto_msg_t s_regression(void)
{
    static int64_t zeros[] = {0, 0};
    return (proto_msg_t){.cmd = PROTO_PREDICTION,
                         .prediction = {.req_id = 9, .model_version = 4, .predictions = zeros,
                                        .probabilities = s_nan, .n = 2, .task = "regression",
                                        .values = s_values, .n_values = 2}};
}

//  Encodes m; 0 and the frame in *buf, or the encoder's code.
static int s_encode(const proto_msg_t *m, uint8_t **buf, size_t *len)
{
    *buf = NULL;
    return proto_msg_encode(m, buf, len);
}

//  Index of the first occurrence of needle (n bytes) in buf, or len.
static size_t s_find(const uint8_t *buf, size_t len, const void *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, needle, n) == 0)
            return i;
    return len;
}

static void test_binary_keeps_its_mlops1_bytes(void)
{
    int64_t pred[] = {0, 1};
    double proba[] = {0.11, 0.93};
    proto_msg_t m = {.cmd = PROTO_PREDICTION,
                     .prediction = {.req_id = 77, .model_version = 3, .predictions = pred,
                                    .probabilities = proba, .n = 2}};
    uint8_t *buf;
    size_t len;
    CHECK_INT(s_encode(&m, &buf, &len), 0);
    CHECK(len > 2 && buf[0] == 0x93 && buf[1] == 0x01);   //  version 1, as before
    CHECK(buf[2 + 11] == 0x84);                           //  "PREDICTION" then 4 keys
    CHECK_INT(s_find(buf, len, "task", 4), len);
    free(buf);
}

static void test_multiclass_round_trips(void)
{
    proto_msg_t m = s_multiclass();
    uint8_t *buf;
    size_t len;
    mlops_err_t err;
    CHECK_INT(s_encode(&m, &buf, &len), 0);
    CHECK(buf[1] == 0x02);   //  MLOPS/2 keys: a version-2 envelope
    proto_msg_t *d = proto_msg_decode(buf, len, &err);
    CHECK(d != NULL);
    if (d) {
        CHECK(proto_msg_equal(&m, d));
        CHECK_STR(d->prediction.task, "multiclass");
        CHECK_STR(d->prediction.classes, "[\"a\",\"b\",\"c\"]");
        CHECK_INT(d->prediction.n_class_probabilities, 6);
        CHECK(d->prediction.class_probabilities[4] == 0.3);
        CHECK_INT(d->prediction.n_values, 0);
        CHECK_INT(proto_prediction_classes(d), 3);
    }
    proto_msg_destroy(&d);
    free(buf);
}

static void test_regression_round_trips(void)
{
    proto_msg_t m = s_regression();
    uint8_t *buf;
    size_t len;
    mlops_err_t err;
    CHECK_INT(s_encode(&m, &buf, &len), 0);
    proto_msg_t *d = proto_msg_decode(buf, len, &err);
    CHECK(d != NULL);
    if (d) {
        CHECK_STR(d->prediction.task, "regression");
        CHECK_INT(d->prediction.n_values, 2);
        CHECK(d->prediction.values[0] == 151.25 && d->prediction.values[1] == -3.5);
        CHECK(isnan(d->prediction.probabilities[0]));
        CHECK_STR(d->prediction.classes, "");
        CHECK_INT(proto_prediction_classes(d), 0);
    }
    proto_msg_destroy(&d);
    free(buf);
}

//  Each disagreement: the check names it, the encoder refuses it.
static void test_disagreeing_keys_are_refused(void)
{
    mlops_err_t err;
    proto_msg_t m = s_multiclass();
    m.prediction.n_class_probabilities = 5;
    CHECK_INT(proto_prediction_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "class_probabilities has 5 entries");
    uint8_t *buf;
    size_t len;
    CHECK_INT(s_encode(&m, &buf, &len), MLOPS_EINVAL);

    m = s_multiclass();
    m.prediction.classes = "";
    CHECK_INT(proto_prediction_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "needs \"classes\"");

    m = s_multiclass();
    int64_t past[] = {3, 0};
    m.prediction.predictions = past;
    CHECK_INT(proto_prediction_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "predictions[0] is not a class index below 3");

    m = s_regression();
    m.prediction.n_values = 1;
    CHECK_INT(proto_prediction_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "a regression answer with 1 values for 2 records");
    CHECK_INT(s_encode(&m, &buf, &len), MLOPS_EINVAL);

    m = s_regression();
    m.prediction.task = "ranking";
    CHECK_INT(proto_prediction_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "unknown task \"ranking\"");

    m = s_regression();
    m.prediction.task = "";   //  binary with values
    CHECK_INT(proto_prediction_check(&m, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "a binary answer with 2 values");
}

//  The decoder runs the same check on what arrives, and keeps MLOPS/1 strict.
static void test_decoder_rejects_what_the_encoder_refuses(void)
{
    mlops_err_t err;
    uint8_t *buf;
    size_t len;
    proto_msg_t m = s_regression();
    CHECK_INT(s_encode(&m, &buf, &len), 0);
    size_t at = s_find(buf, len, "regression", 10);
    CHECK(at < len);
    buf[at + 9] = 'x';   //  "regressiox"
    proto_msg_t *d = proto_msg_decode(buf, len, &err);
    CHECK(d == NULL);
    CHECK_CONTAINS(err.msg, "unknown task \"regressiox\"");
    buf[at + 9] = 'n';
    buf[1] = 0x01;   //  the task keys in a version-1 envelope
    d = proto_msg_decode(buf, len, &err);
    CHECK(d == NULL);
    CHECK_CONTAINS(err.msg, "key \"task\"");
    CHECK_CONTAINS(err.msg, "needs version 2");
    free(buf);

    m = s_multiclass();
    CHECK_INT(s_encode(&m, &buf, &len), 0);
    //  predictions [1, 0] is 92 01 00 after its key: make the first 7
    at = s_find(buf, len, "\x92\x01\x00", 3);
    CHECK(at < len);
    buf[at + 1] = 0x07;
    d = proto_msg_decode(buf, len, &err);
    CHECK(d == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "predictions[0] is not a class index below 3");
    free(buf);
}

int main(void)
{
    RUN(test_binary_keeps_its_mlops1_bytes);
    RUN(test_multiclass_round_trips);
    RUN(test_regression_round_trips);
    RUN(test_disagreeing_keys_are_refused);
    RUN(test_decoder_rejects_what_the_encoder_refuses);
    return TEST_REPORT("test_msg_prediction");
}
