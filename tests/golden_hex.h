/*  golden_hex.h: what the tests that pin wire bytes against golden hex
    share (test_codec_golden.c, test_rollout_io.c): hex text to bytes, the
    comparison that prints what the encoder wrote when it differs, in the
    form the golden strings are written (a deliberate change of the bytes
    is pasted back from the failure), and the round trip of a message.
    Static inline: a test that uses only some of them builds warning-free. */
#ifndef MLOPS_GOLDEN_HEX_H
#define MLOPS_GOLDEN_HEX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

//  Hex text -> bytes (malloc'd, exact size so ASan sees any overread).
static inline uint8_t *golden_unhex(const char *hex, size_t *len)
{
    *len = strlen(hex) / 2;
    uint8_t *out = malloc(*len ? *len : 1);
    for (size_t i = 0; i < *len; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return out;
}

//  True when bytes equal the golden hex; prints the bytes otherwise.
static inline bool golden_same(const char *name, const uint8_t *bytes, size_t len, const char *hex)
{
    bool same = strlen(hex) == 2 * len;
    for (size_t i = 0; same && i < len; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        same = v == bytes[i];
    }
    if (!same) {
        fprintf(stderr, "  %s: encoder wrote %zu bytes:\n  \"", name, len);
        for (size_t i = 0; i < len; i++)
            fprintf(stderr, "%02x%s", bytes[i], i % 48 == 47 && i + 1 < len ? "\"\n  \"" : "");
        fprintf(stderr, "\"\n");
    }
    return same;
}

//  Encodes m, checks the bytes against hex, decodes the golden bytes and
//  checks that they give m back (proto_msg_equal); says why a decode failed.
static inline bool golden_msg(const char *name, const proto_msg_t *m, const char *hex)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    bool same = proto_msg_encode(m, &bytes, &len) == 0 && golden_same(name, bytes, len, hex);
    free(bytes);
    uint8_t *golden = golden_unhex(hex, &len);
    mlops_err_t err;
    proto_msg_t *back = proto_msg_decode(golden, len, &err);
    free(golden);
    if (!back)
        fprintf(stderr, "  %s: %s\n", name, err.msg);
    same = same && back && proto_msg_equal(m, back);
    proto_msg_destroy(&back);
    return same;
}

#endif
