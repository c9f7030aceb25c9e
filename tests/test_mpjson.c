/*  test_mpjson.c: msgpack to JSON for the /api endpoints. */
#include "mpjson.h"
#include "testing.h"

#include <msgpack.h>

static void s_pack_sample(msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    msgpack_pack_str_with_body(&pk, "runs", 4);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, -3);
    msgpack_pack_uint64(&pk, 18446744073709551615ULL);
    msgpack_pack_str_with_body(&pk, "auc", 3);
    msgpack_pack_double(&pk, 0.5);
    msgpack_pack_str_with_body(&pk, "bad", 3);
    msgpack_pack_double(&pk, NAN);
    msgpack_pack_str_with_body(&pk, "name", 4);
    msgpack_pack_str_with_body(&pk, "a\"b\\\n", 5);
    msgpack_pack_str_with_body(&pk, "artifact", 8);
    msgpack_pack_bin_with_body(&pk, "xyz", 3);
    msgpack_pack_str_with_body(&pk, "ok", 2);
    msgpack_pack_true(&pk);
}

static void test_mpjson_converts_every_type(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    s_pack_sample(&sb);
    mlops_err_t err = {0};
    char *json = mpjson_from_msgpack((uint8_t *)sb.data, sb.size, &err);
    msgpack_sbuffer_destroy(&sb);
    CHECK(json);
    CHECK_STR(json, "{\"runs\":[-3,18446744073709551615],\"auc\":0.5,\"bad\":null,"
                    "\"name\":\"a\\\"b\\\\\\u000a\",\"artifact\":{\"bin_bytes\":3},\"ok\":true}");
    free(json);
}

//  A whole float is written with its ".0", so a JSON reader sees a float
//  (metrics of 1.0 and 0.0 are floats in the records, ints are not).
static void test_mpjson_keeps_floats_floats(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_double(&pk, 1.0);
    msgpack_pack_double(&pk, -0.0);
    msgpack_pack_float(&pk, 2.0f);
    msgpack_pack_double(&pk, 1e300);
    msgpack_pack_int(&pk, 1);
    mlops_err_t err = {0};
    char *json = mpjson_from_msgpack((uint8_t *)sb.data, sb.size, &err);
    msgpack_sbuffer_destroy(&sb);
    CHECK(json);
    CHECK_STR(json, "[1.0,-0.0,2.0,1.0000000000000001e+300,1]");
    free(json);
}

static void test_mpjson_refuses_bad_input(void)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    s_pack_sample(&sb);
    mlops_err_t err = {0};
    CHECK(!mpjson_from_msgpack((uint8_t *)sb.data, sb.size - 1, &err));
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "truncated");
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    CHECK(!mpjson_from_msgpack((uint8_t *)sb.data, sb.size, &err));
    CHECK_CONTAINS(err.msg, "1 trailing bytes");
    msgpack_sbuffer_destroy(&sb);

    const uint8_t int_key[] = {0x81, 0x01, 0xc0}; //  {1: nil}
    CHECK(!mpjson_from_msgpack(int_key, sizeof int_key, &err));
    CHECK_CONTAINS(err.msg, "not a string");

    uint8_t deep[40];
    memset(deep, 0x91, sizeof deep); //  [[[[...
    deep[sizeof deep - 1] = 0xc0;
    err.code = 0;
    CHECK(!mpjson_from_msgpack(deep, sizeof deep, &err)); //  msgpack-c or our own limit
    CHECK_INT(err.code, MLOPS_EPROTO);

    const uint8_t ext[] = {0xd4, 0x01, 0x00}; //  fixext 1
    CHECK(!mpjson_from_msgpack(ext, sizeof ext, &err));
    CHECK_CONTAINS(err.msg, "extension");
}

int main(void)
{
    RUN(test_mpjson_converts_every_type);
    RUN(test_mpjson_keeps_floats_floats);
    RUN(test_mpjson_refuses_bad_input);
    return TEST_REPORT("test_mpjson");
}
