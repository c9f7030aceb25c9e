/*  hash.c: see hash.h. */
#include "hash.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "err.h"

void hash_sha256(const void *data, size_t len, uint8_t out[32])
{
    SHA256(data, len, out);
}

static void s_hex(const uint8_t raw[32], char hex[HASH_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[raw[i] >> 4];
        hex[2 * i + 1] = digits[raw[i] & 15];
    }
    hex[HASH_HEX_LEN] = '\0';
}

void hash_sha256_hex(const void *data, size_t len, char hex[HASH_HEX_LEN + 1])
{
    uint8_t raw[32];
    SHA256(data, len, raw);
    s_hex(raw, hex);
}

int hash_init(hash_ctx_t *ctx)
{
    ctx->md = EVP_MD_CTX_new();
    if (ctx->md && EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) == 1)
        return 0;
    hash_abandon(ctx);
    return MLOPS_ENOMEM;
}

void hash_abandon(hash_ctx_t *ctx)
{
    EVP_MD_CTX_free(ctx->md);
    ctx->md = NULL;
}

void hash_update(hash_ctx_t *ctx, const void *data, size_t len)
{
    EVP_DigestUpdate(ctx->md, data, len);
}

void hash_final_hex(hash_ctx_t *ctx, char hex[HASH_HEX_LEN + 1])
{
    uint8_t raw[32];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx->md, raw, &n);
    s_hex(raw, hex);
    hash_abandon(ctx);
}
