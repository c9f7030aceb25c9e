/*  test_hash.c: sha256 in its two shapes (common/hash.h), against the
    known answers of FIPS 180-2. */
#include "hash.h"
#include "testing.h"

#include <stdint.h>

static void test_sha256_known_answer(void)
{
    char hex[HASH_HEX_LEN + 1];
    hash_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_empty_input_and_raw_bytes_agree(void)
{
    char hex[HASH_HEX_LEN + 1];
    hash_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    uint8_t raw[32];
    hash_sha256("abc", 3, raw);
    CHECK_INT(raw[0], 0xba);
    CHECK_INT(raw[31], 0xad);
    hash_sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK_INT(strlen(hex), HASH_HEX_LEN);
}

int main(void)
{
    RUN(test_sha256_known_answer);
    RUN(test_empty_input_and_raw_bytes_agree);
    return TEST_REPORT("test_hash");
}
