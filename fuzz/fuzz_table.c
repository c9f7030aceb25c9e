/*  fuzz_table.c: libFuzzer target for table_decode on untrusted bytes.

    Whatever decodes must re-encode to bytes that decode again and encode
    to the same bytes (the encoding is a fixed point; the decoder accepts
    wider msgpack headers than the encoder writes, so the input itself may
    differ); whatever does not decode must fail with a code and a message.
    Never a crash, a leak or a huge allocation.
*/
#include "table.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlops_err_t err;
    table_t *t = table_decode(data, size, &err);
    if (!t) {
        if (err.code == 0 || err.msg[0] == '\0')
            abort();
        return 0;
    }
    uint8_t *a, *b;
    size_t a_len, b_len;
    if (table_encode(t, &a, &a_len) != 0)
        abort();
    table_t *u = table_decode(a, a_len, &err);
    if (!u) {
        fprintf(stderr, "fuzz_table: own encoding refused: %s\n", err.msg);
        abort();
    }
    if (table_encode(u, &b, &b_len) != 0)
        abort();
    if (a_len != b_len || memcmp(a, b, a_len) != 0) {
        fprintf(stderr, "fuzz_table: encoding is not a fixed point\n");
        abort();
    }
    free(a);
    free(b);
    table_destroy(&u);
    table_destroy(&t);
    return 0;
}
