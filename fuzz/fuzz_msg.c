/*  fuzz_msg.c: libFuzzer target for the MLOPS/1 decoder (proto/msg.c).

    Decodes the input; whatever decodes must encode again (the encoder
    accepts everything the decoder produces), decode again to an equal
    message, and re-encode to the same bytes (the encoding is canonical).
    Any difference, crash or leak is a finding.
*/
#include "msg.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlops_err_t err;
    proto_msg_t *first = proto_msg_decode(data, size, &err);
    if (!first) {
        if (err.code == 0 || err.msg[0] == '\0')
            abort();  //  a refusal must say why
        return 0;
    }
    uint8_t *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    int rc = proto_msg_encode(first, &a, &alen);
    if (rc != 0) {
        fprintf(stderr, "re-encode failed: %d\n", rc);
        abort();
    }
    proto_msg_t *second = proto_msg_decode(a, alen, &err);
    if (!second) {
        fprintf(stderr, "decode of own encoding failed: %s\n", err.msg);
        abort();
    }
    if (!proto_msg_equal(first, second))
        abort();
    if (proto_msg_encode(second, &b, &blen) != 0 || blen != alen || memcmp(a, b, alen) != 0)
        abort();
    free(a);
    free(b);
    proto_msg_destroy(&first);
    proto_msg_destroy(&second);
    return 0;
}
