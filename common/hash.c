/*  hash.c: see hash.h. */
#include "hash.h"

#include <openssl/sha.h>

void hash_sha256(const void *data, size_t len, uint8_t out[32])
{
    SHA256(data, len, out);
}

void hash_sha256_hex(const void *data, size_t len, char hex[HASH_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t raw[32];
    SHA256(data, len, raw);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[HASH_HEX_LEN] = '\0';
}
