/*  test_v2_wire.c: the two additions to MLOPS/1 the Open Inference Protocol
    and version pinning need (proto/PROTOCOL.md): SIGNATURE round-trips,
    and PREDICT's `version` is left out at 0, so a PREDICT without a pin is
    byte for byte what it always was and older workers still read it. */
#include "msg.h"
#include "testing.h"

#include <stdlib.h>

static proto_field_t s_fields[] = {{.name = "Age", .kind = PROTO_VAL_INT, .num = 3}};
static proto_record_t s_record = {.fields = s_fields, .n_fields = 1};

static uint8_t *s_encode(int64_t version, size_t *len)
{
    proto_msg_t m = {.cmd = PROTO_PREDICT,
                     .predict = {.req_id = 9, .records = &s_record, .n_records = 1, .version = version}};
    uint8_t *out = NULL;
    return proto_msg_encode(&m, &out, len) == 0 ? out : NULL;
}

static void test_predict_version_left_out_at_zero(void)
{
    size_t len0 = 0, len7 = 0;
    uint8_t *zero = s_encode(0, &len0), *seven = s_encode(7, &len7);
    CHECK(zero && seven);
    //  [1, "PREDICT", {"req_id": 9, "records": [{"Age": 3}]}]: a map of 2 keys
    static const uint8_t expect[] = {0x93, 0x01, 0xa7, 'P', 'R', 'E', 'D', 'I', 'C', 'T', 0x82,
                                     0xa6, 'r', 'e', 'q', '_', 'i', 'd', 0x09,
                                     0xa7, 'r', 'e', 'c', 'o', 'r', 'd', 's', 0x91, 0x81,
                                     0xa3, 'A', 'g', 'e', 0x03};
    CHECK_INT(len0, sizeof expect);
    CHECK(memcmp(zero, expect, sizeof expect) == 0);
    CHECK_INT(len7, sizeof expect + 9);   //  + "version" and 7
    CHECK_INT(seven[10], 0x83);
    mlops_err_t err;
    proto_msg_t *back = proto_msg_decode(seven, len7, &err);
    CHECK(back != NULL);
    CHECK_INT(back->predict.version, 7);
    proto_msg_destroy(&back);
    back = proto_msg_decode(zero, len0, &err);
    CHECK(back != NULL);
    CHECK_INT(back->predict.version, 0);
    proto_msg_destroy(&back);
    free(zero);
    free(seven);
}

static void test_signature_round_trip(void)
{
    proto_msg_t m = {.cmd = PROTO_SIGNATURE, .signature = {.model_version = 4, .signature = "{\"fields\":[]}"}};
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_INT(proto_msg_encode(&m, &out, &len), 0);
    mlops_err_t err;
    proto_msg_t *back = proto_msg_decode(out, len, &err);
    CHECK(back && proto_msg_equal(&m, back));
    CHECK_STR(proto_cmd_name(PROTO_SIGNATURE), "SIGNATURE");
    proto_msg_destroy(&back);
    free(out);
    m.signature.signature = NULL;   //  required
    CHECK_INT(proto_msg_encode(&m, &out, &len), MLOPS_EINVAL);
}

int main(void)
{
    RUN(test_predict_version_left_out_at_zero);
    RUN(test_signature_round_trip);
    return TEST_REPORT("test_v2_wire");
}
