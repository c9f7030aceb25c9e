/*  fuzz_codec.h: the round trip that the libFuzzer targets of proto/'s
    typed codecs share (fuzz_stage_io.c, fuzz_rollout_io.c): each target
    lists its codecs, and the first input byte picks one.

    Whatever decodes must encode again, and that encoding must decode and
    re-encode to the same bytes (the tables give one canonical form). A
    refusal must say why. Any crash, leak or difference is a finding.

    A header of static functions, not a .c: every fuzz/fuzz_*.c is a
    program of its own (Makefile FUZZ_SRCS) and nothing else here is built.
*/
#ifndef MLOPS_FUZZ_CODEC_H
#define MLOPS_FUZZ_CODEC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

typedef int (*fuzz_dec_fn)(const uint8_t *, size_t, void *, mlops_err_t *);
typedef int (*fuzz_enc_fn)(const void *, uint8_t **, size_t *);
typedef void (*fuzz_clear_fn)(void *);

typedef struct {
    fuzz_dec_fn decode;
    fuzz_enc_fn encode;
    fuzz_clear_fn clear;   //  NULL when the struct owns nothing
    size_t size;           //  of the struct
} fuzz_codec_t;

//  One table row for the codec name_decode / name_encode of T.
#define FUZZ_CODEC(name, T, clear) \
    {(fuzz_dec_fn)name##_decode, (fuzz_enc_fn)name##_encode, (fuzz_clear_fn)(clear), sizeof(T)}

//  Decodes data into a fresh struct of c's: 0 or the decoder's code.
//  abort() when a refusal does not say why, or when own (data is c's own
//  encoding) and it is refused at all.
static int fuzz_codec_decode(const fuzz_codec_t *c, const uint8_t *data, size_t size, void *p, bool own)
{
    mlops_err_t err = {0};
    int rc = c->decode(data, size, p, &err);
    if (rc != 0 && (err.code == 0 || err.msg[0] == '\0'))
        abort();   //  a refusal must say why
    if (rc != 0 && own) {
        fprintf(stderr, "decode of own encoding failed: %s\n", err.msg);
        abort();
    }
    return rc;
}

//  The round trip of data[1..] through codecs[data[0] % n].
static int fuzz_codec_run(const fuzz_codec_t *codecs, size_t n, const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const fuzz_codec_t *c = &codecs[data[0] % n];
    void *first = calloc(1, c->size), *second = calloc(1, c->size);
    if (fuzz_codec_decode(c, data + 1, size - 1, first, false) != 0) {
        free(first);
        free(second);
        return 0;
    }
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    if (c->encode(first, &a, &alen) != 0)
        abort();
    fuzz_codec_decode(c, a, alen, second, true);
    if (c->encode(second, &b, &blen) != 0 || blen != alen || memcmp(a, b, alen) != 0)
        abort();
    if (c->clear) {
        c->clear(first);
        c->clear(second);
    }
    free(a);
    free(b);
    free(first);
    free(second);
    return 0;
}

#endif
