/*  test_mpcheck.c: the bounds pre-check for untrusted msgpack
    (proto/mpcheck.c): the size of one object, every header form, and each
    refusal (truncation, a count or length past the end, the reserved byte,
    ext types, nesting) with the byte it names.
*/
#include "mpcheck.h"
#include "testing.h"

#include <stdint.h>

//  Checks data and returns the code; *used as mpcheck_object gives it.
static int s_check(const void *data, size_t len, size_t depth, size_t *used, mlops_err_t *err)
{
    mlops_err_clear(err);
    *used = 12345;
    return mpcheck_object(data, len, depth, used, err);
}

#define CHECK_SIZE(bytes, want)                                                  \
    do {                                                                         \
        size_t _used;                                                            \
        mlops_err_t _e;                                                          \
        CHECK_INT(s_check((bytes), sizeof(bytes) - 1, 8, &_used, &_e), 0);       \
        CHECK_INT(_used, (want));                                                \
    } while (0)

#define CHECK_BAD(bytes, depth, needle)                                          \
    do {                                                                         \
        size_t _used;                                                            \
        mlops_err_t _e;                                                          \
        CHECK_INT(s_check((bytes), sizeof(bytes) - 1, (depth), &_used, &_e), MLOPS_EPROTO); \
        CHECK_STR(_e.msg, (needle));                                             \
        CHECK_INT(_used, 12345);                                                 \
    } while (0)

static void test_reports_size_of_one_object(void)
{
    static const uint8_t two[] = {0x92, 0x01, 0xa1, 'x', 0xc0};
    size_t used;
    mlops_err_t err;
    CHECK_INT(mpcheck_object(two, sizeof two, 4, &used, &err), 0);
    CHECK_INT(used, 4);
    CHECK_INT(mpcheck_object(two, 3, 4, &used, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "byte 2");
}

//  Every header form is walked to its end, trailing bytes left alone.
static void test_walks_every_header_form(void)
{
    CHECK_SIZE("\x00" "!", 1);                        //  positive fixint
    CHECK_SIZE("\xff" "!", 1);                        //  negative fixint
    CHECK_SIZE("\xc0\xc2\xc3", 1);                    //  nil, then two more objects
    CHECK_SIZE("\xcc\x01\xcd\x01\x02", 2);            //  uint 8
    CHECK_SIZE("\xcd\x01\x02", 3);
    CHECK_SIZE("\xce\x01\x02\x03\x04", 5);
    CHECK_SIZE("\xcf\x01\x02\x03\x04\x05\x06\x07\x08", 9);
    CHECK_SIZE("\xd0\x01", 2);
    CHECK_SIZE("\xd1\x01\x02", 3);
    CHECK_SIZE("\xd2\x01\x02\x03\x04", 5);
    CHECK_SIZE("\xd3\x01\x02\x03\x04\x05\x06\x07\x08", 9);
    CHECK_SIZE("\xca\x01\x02\x03\x04", 5);            //  float 32
    CHECK_SIZE("\xcb\x01\x02\x03\x04\x05\x06\x07\x08", 9);
    CHECK_SIZE("\xa3" "abc!", 4);                     //  fixstr
    CHECK_SIZE("\xd9\x02" "ab!", 4);                  //  str 8
    CHECK_SIZE("\xda\x00\x02" "ab!", 5);              //  str 16
    CHECK_SIZE("\xdb\x00\x00\x00\x02" "ab!", 7);      //  str 32
    CHECK_SIZE("\xc4\x01" "a!", 3);                   //  bin 8
    CHECK_SIZE("\xc5\x00\x01" "a!", 4);
    CHECK_SIZE("\xc6\x00\x00\x00\x01" "a!", 6);
    CHECK_SIZE("\x82\x01\x02\x03\x04!", 5);           //  fixmap: 2 keys + 2 values
    CHECK_SIZE("\xde\x00\x01\x01\x02!", 5);           //  map 16
    CHECK_SIZE("\xdf\x00\x00\x00\x01\x01\x02!", 7);   //  map 32
    CHECK_SIZE("\xdc\x00\x02\x01\x02!", 5);           //  array 16
    CHECK_SIZE("\xdd\x00\x00\x00\x01\x01!", 6);       //  array 32
    CHECK_SIZE("\x90\x80!", 1);                       //  empty containers open nothing
    CHECK_SIZE("\x92\x91\x01\x81\xa1k\x90!", 7);      //  nested, closing together
}

static void test_refuses_truncation_and_lying_lengths(void)
{
    CHECK_BAD("", 4, "msgpack truncated at byte 0");
    CHECK_BAD("\x92\x91\x01", 4, "msgpack truncated at byte 3");
    CHECK_BAD("\xd9", 4, "msgpack: bad or unsupported type 0xd9 at byte 0");   //  length cut short
    CHECK_BAD("\xdb\x00\x00", 4, "msgpack: bad or unsupported type 0xdb at byte 0");
    CHECK_BAD("\xcb\x01\x02", 4, "msgpack length at byte 0 runs past the end (3 bytes)");
    CHECK_BAD("\xa5" "abc", 4, "msgpack length at byte 0 runs past the end (4 bytes)");
    CHECK_BAD("\x91\xc4\x05" "ab", 4, "msgpack length at byte 1 runs past the end (5 bytes)");
    //  4 billion elements in five bytes: refused before anything is counted
    CHECK_BAD("\xdd\xff\xff\xff\xff", 4, "msgpack length at byte 0 runs past the end (5 bytes)");
    CHECK_BAD("\xdf\x00\x00\x00\x02\x01\x02\x03", 4, "msgpack length at byte 0 runs past the end (8 bytes)");
}

static void test_refuses_reserved_and_ext_types(void)
{
    CHECK_BAD("\xc1", 4, "msgpack: bad or unsupported type 0xc1 at byte 0");
    CHECK_BAD("\x92\x01\xd4\x01\x02", 4, "msgpack: bad or unsupported type 0xd4 at byte 2");
    static const uint8_t ext[] = {0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8};
    for (size_t i = 0; i < sizeof ext; i++) {
        uint8_t b[3] = {ext[i], 0x01, 0x01};
        size_t used;
        mlops_err_t err;
        CHECK_INT(s_check(b, sizeof b, 4, &used, &err), MLOPS_EPROTO);
        CHECK_CONTAINS(err.msg, "bad or unsupported type");
    }
}

//  max_depth counts open containers that hold something; it is capped at
//  the walker's own stack whatever the caller asks.
static void test_refuses_nesting_past_the_depth(void)
{
    CHECK_SIZE("\x91\x91\x01", 3);
    CHECK_BAD("\x91\x91\x01", 1, "msgpack nested deeper than 1 at byte 1");
    CHECK_BAD("\x81\x01\x91\x01", 1, "msgpack nested deeper than 1 at byte 2");
    size_t used;
    mlops_err_t err;
    CHECK_INT(s_check("\x91\x90", 2, 1, &used, &err), 0);   //  an empty array opens nothing
    uint8_t deep[70];
    for (size_t i = 0; i < 69; i++)
        deep[i] = 0x91;
    deep[69] = 0x01;
    CHECK_INT(s_check(deep, 64, 1000, &used, &err), MLOPS_EPROTO);   //  cut short
    CHECK_STR(err.msg, "msgpack length at byte 63 runs past the end (64 bytes)");
    CHECK_INT(s_check(deep + 6, 64, 1000, &used, &err), 0);          //  64 deep: fine
    CHECK_INT(used, 64);
    CHECK_INT(s_check(deep, sizeof deep, 1000, &used, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "msgpack nested deeper than 64 at byte 64");
    //  no message wanted: the code alone
    CHECK_INT(mpcheck_object((const uint8_t *)"\xc1", 1, 4, &used, NULL), MLOPS_EPROTO);
}

int main(void)
{
    RUN(test_reports_size_of_one_object);
    RUN(test_walks_every_header_form);
    RUN(test_refuses_truncation_and_lying_lengths);
    RUN(test_refuses_reserved_and_ext_types);
    RUN(test_refuses_nesting_past_the_depth);
    return TEST_REPORT("test_mpcheck");
}
