/*  fuzz_records.c: libFuzzer target for the run / version / audit decoders
    (proto/records.c) on untrusted bytes: the broker's REPLY data and its
    LMDB values go through them.

    The first byte picks the record (0 run, 1 version, 2 audit, by value
    mod 3), the rest is the input. Whatever decodes must encode to bytes
    that decode and encode to the same bytes again; whatever does not
    decode must fail with a code and a message. Never a crash, a leak or a
    huge allocation. Seeds in fuzz/corpus/records were written by Python's
    msgpack (see the README there), so they also check the spec's claim that
    packb of a dict in table order is the C encoding.
*/
#include "records.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

//  Decodes data as record kind into rec, then encodes it into *out.
//  Returns the decode code.
static int s_round(int kind, const uint8_t *data, size_t size, uint8_t **out, size_t *out_len,
                   mlops_err_t *err)
{
    int rc;
    if (kind == 0) {
        run_t run;
        rc = run_decode(data, size, &run, err);
        if (rc == 0 && run_encode(&run, out, out_len) != 0)
            abort();
        run_clear(&run);
    } else if (kind == 1) {
        version_t v;
        rc = version_decode(data, size, &v, err);
        if (rc == 0 && version_encode(&v, out, out_len) != 0)
            abort();
    } else {
        audit_t a;
        rc = audit_decode(data, size, &a, err);
        if (rc == 0 && audit_encode(&a, out, out_len) != 0)
            abort();
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int kind = data[0] % 3;
    mlops_err_t err;
    uint8_t *a = NULL, *b = NULL;
    size_t a_len = 0, b_len = 0;
    int rc = s_round(kind, data + 1, size - 1, &a, &a_len, &err);
    if (rc != 0) {
        if ((rc != MLOPS_EPROTO && rc != MLOPS_ETOOBIG) || err.msg[0] == '\0')
            abort();
        return 0;
    }
    if (s_round(kind, a, a_len, &b, &b_len, &err) != 0) {
        fprintf(stderr, "fuzz_records: own encoding refused: %s\n", err.msg);
        abort();
    }
    if (a_len != b_len || memcmp(a, b, a_len) != 0) {
        fprintf(stderr, "fuzz_records: encoding is not a fixed point\n");
        abort();
    }
    free(a);
    free(b);
    return 0;
}
