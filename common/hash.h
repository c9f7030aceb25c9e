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

//  A sha256 over bytes that come in pieces (an upload, a file read in
//  chunks): init, update as often as needed, then final_hex once (which
//  frees it; hash_abandon frees one not finished, and ignores a freed one).
//  init returns 0 or MLOPS_ENOMEM.
typedef struct {
    void *md;             //  OpenSSL's EVP_MD_CTX
} hash_ctx_t;

int hash_init(hash_ctx_t *ctx);
void hash_abandon(hash_ctx_t *ctx);
void hash_update(hash_ctx_t *ctx, const void *data, size_t len);
void hash_final_hex(hash_ctx_t *ctx, char hex[HASH_HEX_LEN + 1]);

#endif
