/*  fuzz_csv.c: libFuzzer target for the CSV loader and the table codec.

    Any bytes go to csv_load_buffer. A table that loads must survive its
    codec: encode, decode, encode again, and both encodings (hence hashes)
    must be equal. A failure must carry a code and a message. Never a crash
    or a leak (ASan + UBSan + LeakSanitizer watch).
*/
#include "csv_load.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_csv: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mlops_err_t err;
    csv_options_t opts = {.max_bytes = 1 << 20};
    table_t *t = csv_load_buffer((const char *)data, size, &opts, &err);
    if (!t) {
        if (err.code == 0 || err.msg[0] == '\0')
            s_fail("failed without a code and message");
        return 0;
    }
    uint8_t *a, *b;
    size_t a_len, b_len;
    if (table_encode(t, &a, &a_len) != 0)
        s_fail("encode failed");
    table_t *u = table_decode(a, a_len, &err);
    if (!u)
        s_fail(err.msg);
    if (table_encode(u, &b, &b_len) != 0)
        s_fail("re-encode failed");
    if (a_len != b_len || memcmp(a, b, a_len) != 0)
        s_fail("decode then encode changed the bytes");
    if (u->n_rows != t->n_rows || u->n_cols != t->n_cols)
        s_fail("shape changed");
    free(a);
    free(b);
    table_destroy(&u);
    table_destroy(&t);
    return 0;
}
