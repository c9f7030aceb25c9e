/*  hash.h: sha256 (OpenSSL's libcrypto) in the two shapes the tree uses. */
#ifndef MLOPS_HASH_H
#define MLOPS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_HEX_LEN 64 //  hex digits of a sha256, without the NUL

//  Writes the 32-byte sha256 of data into out.
void hash_sha256(const void *data, size_t len, uint8_t out[32]);

//  Writes the lowercase hex sha256 of data and a NUL into hex.
void hash_sha256_hex(const void *data, size_t len, char hex[HASH_HEX_LEN + 1]);

#endif
