/*  test_fields.c: the table-driven struct codec (proto/fields.c) on a table
    with every field kind: round trips, the encoder's refusals, and every
    refusal of the strict decoder, each with its code and the key path the
    message names. The real tables (records, stage payloads, control
    replies) are tested in test_records.c, test_stage_io.c and
    test_control_io.c.
*/
#include "fields.h"
#include "testing.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t n;
    char tag[8];
} item_t;

typedef struct {
    double x;   //  F_F64: floats only
    double y;   //  F_NUM: floats or integers
} point_t;

typedef enum { COLOR_RED, COLOR_GREEN } color_t;
static const char *const s_colors[] = {"red", "green"};

#define ROWS_MAX 10
#define VEC_MAX 3

//  One field of every kind.
typedef struct {
    char name[8];
    const uint8_t *blob;
    size_t blob_len;
    const uint8_t *extra;   //  optional bin
    size_t extra_len;
    int64_t i64;
    int32_t i32;
    int64_t nat;
    uint64_t u64;
    bool flag;
    color_t color;
    size_t *rows;
    size_t n_rows;
    point_t at;
    item_t list[2];
    size_t n_list;
    item_t *vec;
    size_t n_vec;
    item_t *ovec;           //  optional vec
    size_t n_ovec;
} every_t;

static const fields_spec_t s_item[] = {FIELD_I64(item_t, n), FIELD_STR(item_t, tag)};
static const fields_spec_t s_point[] = {FIELD_F64(point_t, x), FIELD_NUM(point_t, y)};
static const fields_spec_t s_every[] = {
    FIELD_STR(every_t, name),
    FIELD_BIN(every_t, blob, blob_len),
    FIELD_OBIN(every_t, extra, extra_len),
    FIELD_I64(every_t, i64),
    FIELD_I32(every_t, i32),
    FIELD_NAT(every_t, nat),
    FIELD_U64(every_t, u64),
    FIELD_BOOL(every_t, flag),
    FIELD_ENUM(every_t, color, s_colors),
    FIELD_ROWS(every_t, rows, n_rows, ROWS_MAX),
    FIELD_MAP(every_t, at, s_point),
    FIELD_LIST(every_t, list, n_list, s_item),
    FIELD_VEC(every_t, vec, n_vec, VEC_MAX, s_item),
    FIELD_OVEC(every_t, ovec, n_ovec, VEC_MAX, s_item),
};
static const fields_table_t s_named = FIELDS_TABLE("every", every_t, s_every);
static const fields_table_t s_nameless = FIELDS_TABLE("", every_t, s_every);

static size_t s_rows[] = {0, 9, 4};
static item_t s_vec[] = {{1, "a"}, {-2, "bb"}};

static every_t s_sample(void)
{
    every_t e = {.name = "seven", .blob = (const uint8_t *)"\x00\x01", .blob_len = 2,
                 .i64 = INT64_MIN, .i32 = -5, .nat = 12, .u64 = UINT64_MAX, .flag = true,
                 .color = COLOR_GREEN, .rows = s_rows, .n_rows = 3, .at = {0.25, -3},
                 .list = {{7, "x"}}, .n_list = 1, .vec = s_vec, .n_vec = 2};
    return e;
}

//  Decodes {key: value} (value as raw msgpack bytes) with the named table;
//  returns the code, err has the message.
static int s_decode_kv(const char *key, const char *value, size_t value_len, mlops_err_t *err)
{
    uint8_t buf[256];
    size_t kn = strlen(key), n = 0;
    buf[n++] = 0x81;
    buf[n++] = (uint8_t)(0xa0 | kn);
    memcpy(buf + n, key, kn), n += kn;
    memcpy(buf + n, value, value_len), n += value_len;
    every_t e;
    mlops_err_clear(err);
    int rc = fields_decode(&s_named, buf, n, &e, err);
    fields_free_owned(&s_named, &e);
    return rc;
}

#define CHECK_KV_REFUSED(key, value, code, needle)                               \
    do {                                                                         \
        mlops_err_t _e;                                                          \
        CHECK_INT(s_decode_kv((key), (value), sizeof(value) - 1, &_e), (code));  \
        CHECK_CONTAINS(_e.msg, (needle));                                        \
    } while (0)

static void test_round_trip_of_every_kind(void)
{
    every_t in = s_sample();
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(fields_encode(&s_named, &in, &buf, &len), 0);
    every_t out;
    mlops_err_t err;
    CHECK_INT(fields_decode(&s_named, buf, len, &out, &err), 0);
    CHECK_STR(out.name, "seven");
    CHECK_INT(out.blob_len, 2);
    CHECK(out.blob >= buf && out.blob < buf + len);   //  borrowed from the input
    CHECK(out.extra == NULL);                         //  optional bin sent as nil
    CHECK(out.i64 == INT64_MIN);
    CHECK_INT(out.i32, -5);
    CHECK_INT(out.nat, 12);
    CHECK(out.u64 == UINT64_MAX);
    CHECK(out.flag);
    CHECK_INT(out.color, COLOR_GREEN);
    CHECK_INT(out.n_rows, 3);
    CHECK_INT(out.rows[1], 9);
    CHECK(out.at.x == 0.25 && out.at.y == -3);
    CHECK_INT(out.n_list, 1);
    CHECK_STR(out.list[0].tag, "x");
    CHECK_INT(out.n_vec, 2);
    CHECK_INT(out.vec[1].n, -2);
    CHECK_STR(out.vec[1].tag, "bb");
    CHECK(out.ovec == NULL && out.n_ovec == 0);
    //  the same struct encodes to the same bytes (canonical)
    uint8_t *again = NULL;
    size_t again_len = 0;
    CHECK_INT(fields_encode(&s_named, &out, &again, &again_len), 0);
    CHECK(again_len == len && memcmp(again, buf, len) == 0);
    free(again);
    fields_free_owned(&s_named, &out);
    CHECK(out.rows == NULL && out.n_rows == 0 && out.vec == NULL && out.n_vec == 0);
    fields_free_owned(&s_named, &out);    //  again: a no-op on a freed struct
    fields_free_owned(&s_named, NULL);
    //  every truncation is refused, and leaves the struct owning nothing
    for (size_t cut = 0; cut < len; cut++) {
        CHECK_INT(fields_decode(&s_named, buf, cut, &out, &err), MLOPS_EPROTO);
        CHECK(out.rows == NULL && out.vec == NULL);
    }
    free(buf);
}

//  Text that fills its whole array is cut to fit, so it decodes again.
static void test_encode_cuts_full_strings(void)
{
    every_t in = s_sample();
    memset(in.name, 'n', sizeof in.name);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(fields_encode(&s_named, &in, &buf, &len), 0);
    every_t out;
    mlops_err_t err;
    int rc = fields_decode(&s_named, buf, len, &out, &err);
    free(buf);
    CHECK_INT(rc, 0);
    CHECK_STR(out.name, "nnnnnnn");
    fields_free_owned(&s_named, &out);
}

static void test_encode_refuses_what_cannot_decode(void)
{
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 0;
    every_t in = s_sample();
    in.n_rows = ROWS_MAX + 1;
    CHECK_INT(fields_encode(&s_named, &in, &buf, &len), MLOPS_EINVAL);
    in = s_sample();
    in.rows = NULL;                                   //  a count without rows
    CHECK_INT(fields_encode(&s_named, &in, &buf, &len), MLOPS_EINVAL);
    in = s_sample();
    in.n_vec = VEC_MAX + 1;
    CHECK_INT(fields_encode(&s_named, &in, &buf, &len), MLOPS_EINVAL);
    in = s_sample();
    in.vec = NULL;
    CHECK_INT(fields_encode(&s_named, &in, &buf, &len), MLOPS_EINVAL);
    in = s_sample();
    in.n_list = 3;                                    //  the array holds 2
    CHECK_INT(fields_encode(&s_named, &in, &buf, &len), MLOPS_EINVAL);
    in = s_sample();
    in.blob = NULL;                                   //  a length without bytes
    CHECK_INT(fields_encode(&s_named, &in, &buf, &len), MLOPS_EINVAL);
    CHECK_STR((const char *)buf, "untouched");
}

static void test_decode_refuses_wrong_shapes(void)
{
    every_t e;
    mlops_err_t err;
    CHECK_INT(fields_decode(&s_nameless, (const uint8_t *)"\x90", 1, &e, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "payload: expected map, got array");
    CHECK_INT(fields_decode(&s_named, (const uint8_t *)"\x81\x01\x02", 3, &e, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "every: key 0 is not a string (integer)");
    CHECK_INT(fields_decode(&s_nameless, (const uint8_t *)"\x80\xc0", 2, &e, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "payload: 1 trailing bytes after byte 1");
    CHECK_INT(fields_decode(&s_nameless, (const uint8_t *)"\xc1", 1, &e, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: msgpack: bad or unsupported type 0xc1");
    CHECK_INT(fields_decode(&s_named, NULL, 0, &e, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "every: msgpack truncated at byte 0");
    //  the table needs 4 levels (every > vec > item > value)
    CHECK_KV_REFUSED("rows", "\x91\x91\x91\x91\x01", MLOPS_EPROTO, "every: msgpack nested deeper than 4");
    CHECK_KV_REFUSED("nome", "\xc0", MLOPS_EPROTO, "every: unknown key \"nome\"");
    mlops_err_t e2;
    CHECK_INT(s_decode_kv("name", "\xa1x", 2, &e2), MLOPS_EPROTO);   //  the others are missing
    CHECK_STR(e2.msg, "every.blob: missing");
    static const uint8_t twice[] = {0x82, 0xa3, 'i', '6', '4', 0x01, 0xa3, 'i', '6', '4', 0x02};
    CHECK_INT(fields_decode(&s_named, twice, sizeof twice, &e, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "every.i64: key repeated");
}

static void test_decode_refuses_bad_scalars(void)
{
    CHECK_KV_REFUSED("name", "\xa8" "12345678", MLOPS_EPROTO, "every.name: string of 8 bytes exceeds the limit of 7");
    CHECK_KV_REFUSED("name", "\xa2" "a\0", MLOPS_EPROTO, "every.name: string contains a NUL byte");
    CHECK_KV_REFUSED("name", "\x07", MLOPS_EPROTO, "every.name: expected string, got integer");
    CHECK_KV_REFUSED("blob", "\xc0", MLOPS_EPROTO, "every.blob: expected bin, got nil");
    CHECK_KV_REFUSED("extra", "\xa1x", MLOPS_EPROTO, "every.extra: expected bin or nil, got string");
    CHECK_KV_REFUSED("i64", "\xcf\x80\0\0\0\0\0\0\0", MLOPS_EPROTO,
                     "every.i64: integer out of range [-9223372036854775808, 9223372036854775807]");
    CHECK_KV_REFUSED("i32", "\xce\x80\0\0\0", MLOPS_EPROTO, "every.i32: integer out of range [-2147483648, 2147483647]");
    CHECK_KV_REFUSED("i32", "\xc3", MLOPS_EPROTO, "every.i32: expected integer, got bool");
    CHECK_KV_REFUSED("nat", "\xff", MLOPS_EPROTO, "every.nat: integer out of range [0, ");
    CHECK_KV_REFUSED("u64", "\xff", MLOPS_EPROTO, "every.u64: negative integer");
    CHECK_KV_REFUSED("u64", "\xcb\0\0\0\0\0\0\0\0", MLOPS_EPROTO, "every.u64: expected integer, got float");
    CHECK_KV_REFUSED("flag", "\x01", MLOPS_EPROTO, "every.flag: expected bool, got integer");
    CHECK_KV_REFUSED("color", "\xa4" "blue", MLOPS_EPROTO, "every.color: unknown value \"blue\"");
    CHECK_KV_REFUSED("color", "\x01", MLOPS_EPROTO, "every.color: expected string, got integer");
    CHECK_KV_REFUSED("at", "\x81\xa1x\x01", MLOPS_EPROTO, "every.at.x: expected float, got integer");
    CHECK_KV_REFUSED("at", "\x81\xa1y\xa1" "1", MLOPS_EPROTO, "every.at.y: expected number, got string");
}

//  A float 32 is a float, and a number may be an integer.
static void test_decode_accepts_every_number_form(void)
{
    static const uint8_t at[] = {0x82, 0xa1, 'x', 0xca, 0x3f, 0x00, 0x00, 0x00,
                                 0xa1, 'y', 0xd0, 0x9c};   //  x: 0.5f, y: int 8 -100
    static const fields_table_t point = FIELDS_TABLE("point", point_t, s_point);
    point_t p;
    mlops_err_t err;
    CHECK_INT(fields_decode(&point, at, sizeof at, &p, &err), 0);
    CHECK(p.x == 0.5);
    CHECK(p.y == -100);
}

static void test_decode_refuses_bad_arrays(void)
{
    CHECK_KV_REFUSED("rows", "\x80", MLOPS_EPROTO, "every.rows: expected array, got map");
    CHECK_KV_REFUSED("rows", "\x9b\0\0\0\0\0\0\0\0\0\0\0", MLOPS_ETOOBIG,
                     "every.rows: 11 entries exceed the limit of 10");
    CHECK_KV_REFUSED("rows", "\x92\x01\xff", MLOPS_EPROTO, "every.rows[1]: expected a row index, got integer");
    CHECK_KV_REFUSED("rows", "\x91\x0a", MLOPS_EPROTO, "every.rows[0]: row index 10 is over the limit of 9");
    CHECK_KV_REFUSED("list", "\x93\x80\x80\x80", MLOPS_ETOOBIG, "every.list: 3 entries exceed the limit of 2");
    CHECK_KV_REFUSED("vec", "\x94\x80\x80\x80\x80", MLOPS_ETOOBIG, "every.vec: 4 entries exceed the limit of 3");
    CHECK_KV_REFUSED("vec", "\xc0", MLOPS_EPROTO, "every.vec: expected array, got nil");
    //  a bad element half-way: the path names it, and what was decoded is freed (ASan)
    CHECK_KV_REFUSED("vec", "\x92\x82\xa1n\x01\xa3tag\xa1x\x81\xa1n\xa1y", MLOPS_EPROTO,
                     "every.vec[1].n: expected integer, got string");
    CHECK_KV_REFUSED("list", "\x91\x81\xa3tag\xa9" "123456789", MLOPS_EPROTO,
                     "every.list[0].tag: string of 9 bytes exceeds the limit of 7");
}

int main(void)
{
    RUN(test_round_trip_of_every_kind);
    RUN(test_encode_cuts_full_strings);
    RUN(test_encode_refuses_what_cannot_decode);
    RUN(test_decode_refuses_wrong_shapes);
    RUN(test_decode_refuses_bad_scalars);
    RUN(test_decode_accepts_every_number_form);
    RUN(test_decode_refuses_bad_arrays);
    return TEST_REPORT("test_fields");
}
