/*  fuzz_csv_stream.c: libFuzzer target, the streaming CSV encoder against
    the in-memory loader. Any bytes go to both: a table must come out of
    both with the same encoding (sha256), or both must fail with the same
    code and message (an input under one read chunk meets its NUL check
    before any parsing, as csv_load does). Never a crash or a leak.
*/
#include "csv_load.h"
#include "csv_stream.h"
#include "table_spill.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_fail(const char *what, const char *a, const char *b)
{
    fprintf(stderr, "fuzz_csv_stream: %s\n  load:   %s\n  stream: %s\n", what, a, b);
    abort();
}

//  The stream's encoding, hashed; its code.
static int s_stream(const uint8_t *data, size_t size, char hex[HASH_HEX_LEN + 1], mlops_err_t *err)
{
    int in = table_spill_temp(err), out = table_spill_temp(err);
    if (in < 0 || out < 0 || write(in, data, size) != (ssize_t)size)
        abort();   //  the environment, not the input
    size_t rows, cols;
    int rc = csv_stream_encode(in, out, NULL, NULL, &rows, &cols, err);
    if (rc == 0) {
        off_t len = lseek(out, 0, SEEK_END);
        uint8_t *bytes = malloc((size_t)len + 1);
        if (!bytes || pread(out, bytes, (size_t)len, 0) != len)
            abort();
        hash_sha256_hex(bytes, (size_t)len, hex);
        free(bytes);
    }
    close(in);
    close(out);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > CSV_STREAM_READ_BYTES)
        return 0;
    mlops_err_t e1, e2;
    char h1[HASH_HEX_LEN + 1] = "", h2[HASH_HEX_LEN + 1] = "";
    table_t *t = csv_load_buffer((const char *)data, size, NULL, &e1);
    if (t && table_hash(t, h1) != 0)
        abort();
    int rc = s_stream(data, size, h2, &e2);
    if (t && rc != 0)
        s_fail("only the stream failed", h1, e2.msg);
    if (!t && rc == 0)
        s_fail("only the loader failed", e1.msg, h2);
    if (t && strcmp(h1, h2) != 0)
        s_fail("different tables", h1, h2);
    if (!t && (rc != e1.code || strcmp(e1.msg, e2.msg) != 0))
        s_fail("different errors", e1.msg, e2.msg);
    table_destroy(&t);
    return 0;
}
