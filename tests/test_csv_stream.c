/*  test_csv_stream.c: the streaming CSV encoder gives csv_load's table
    byte for byte (so the same dataset version) and csv_load's errors, on
    small inputs and on files of several read chunks. */
#include "csv_load.h"
#include "csv_stream.h"
#include "table_spill.h"
#include "testing.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

//  A temporary file holding len bytes of text (-1 when it cannot be made).
static int s_file(const char *text, size_t len)
{
    mlops_err_t err;
    int fd = table_spill_temp(&err);
    if (fd >= 0 && write(fd, text, len) != (ssize_t)len) {
        close(fd);
        fd = -1;
    }
    return fd;
}

//  Streams text; the encoding's sha256 into hex, or the error into err.
static int s_stream(const char *text, size_t len, char hex[HASH_HEX_LEN + 1], size_t *rows,
                    mlops_err_t *err)
{
    int in = s_file(text, len);
    int out = table_spill_temp(err);
    size_t cols = 0;
    int rc = csv_stream_encode(in, out, NULL, NULL, rows, &cols, err);
    if (rc == 0) {
        off_t size = lseek(out, 0, SEEK_END);
        uint8_t *bytes = malloc((size_t)size + 1);
        if (pread(out, bytes, (size_t)size, 0) != size)
            rc = EIO;
        hash_sha256_hex(bytes, (size_t)size, hex);
        table_t *t = table_decode(bytes, (size_t)size, err);
        if (!t)   //  it must decode as a table
            rc = MLOPS_EPROTO;
        table_destroy(&t);
        free(bytes);
    }
    close(in);
    close(out);
    return rc;
}

//  Both loaders agree on text: the same hash, or the same error.
static void s_same(const char *text, size_t len)
{
    mlops_err_t e1, e2;
    char h1[HASH_HEX_LEN + 1] = "", h2[HASH_HEX_LEN + 1] = "";
    size_t rows = 0;
    table_t *t = csv_load_buffer(text, len, NULL, &e1);
    if (t)
        CHECK_INT(table_hash(t, h1), 0);
    int rc = s_stream(text, len, h2, &rows, &e2);
    CHECK_INT(rc, t ? 0 : e1.code);
    if (t) {
        CHECK_STR(h2, h1);
        CHECK_INT(rows, t->n_rows);
    } else {
        CHECK_STR(e2.msg, e1.msg);
    }
    table_destroy(&t);
}

static void s_same_str(const char *text)
{
    s_same(text, strlen(text));
}

static void test_small_inputs_give_the_same_table(void)
{
    s_same_str("id,name,note\n1,\"Smith, John\",\"said \"\"hi\"\"\"\n2,\"two\nlines\",plain\n");
    s_same_str("a,b\n  x y  , 1 \n\" q \",2\n");
    s_same_str("\xef\xbb\xbfx,y\r\n1,a\r\n2,b");
    s_same_str("a,b,c\n1,,x\n,2,\n\"\",3,y\n");
    s_same_str("n\n0.1\n-0\n1e300\n123456789012345678\nnan\n");
    s_same_str("v\n1\n2\n3\nx\n4\n");                      //  a number column that turns
    s_same_str("c\na\nb\na\nb\na\n");                        //  category
    s_same_str("c\na\nb\nc\n");                              //  text: too few repeats
    s_same_str("a,b\n1,2\n\n\n3,4\n");                       //  blank lines
}

static void test_errors_are_the_loaders(void)
{
    s_same_str("a,b,c\n1,2,3\n4,5\n");
    s_same_str("a,b\n1,\"x\ny\"\n2,3,4\n");
    s_same_str("a,b\n1,\"x\ny\",9\n");
    s_same_str("a,b\r\n1,2\r\n\r\n3\r\n");
    s_same_str("a,b,a\n1,2,3\n");
    s_same_str("a,,c\n1,2,3\n");
    s_same_str("a,b\n");
    s_same_str("");
    s_same_str("\xef\xbb\xbf\r\n\n");
    s_same("a\n1\n2\0", 6);
    s_same_str("a,b\n1,\"open\n2,3\n");
}

//  A file of many read chunks, with a quoted line break and a column that
//  turns to strings near the end: chunk boundaries cut lines and fields.
static void test_many_chunks_give_the_same_table(void)
{
    size_t rows = 300000, cap = rows * 40 + 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "id,sex,name,late\n");
    for (size_t r = 0; r < rows; r++)
        len += (size_t)snprintf(text + len, cap - len, "%zu,%s,\"n%zu\nx, \"\"q\"\"\",%s\n",
                                r, r % 3 ? "male" : "female", r % 977, r == rows - 5 ? "z" : "7");
    CHECK(len > 5 * CSV_STREAM_READ_BYTES);
    s_same(text, len);
    //  Cut mid-row: the loaders agree on the error, and nothing is written
    //  that names a table.
    s_same(text, len / 2);
    free(text);
}

static void test_titanic_file(void)
{
    const char *path = testing_titanic_path();
    if (!path) {
        printf("skip test_titanic_file: ../shared/data/titanic.csv is absent\n");
        return;
    }
    FILE *f = fopen(path, "rb");
    CHECK(f);
    char *text = malloc(1 << 20);
    size_t len = fread(text, 1, 1 << 20, f);
    fclose(f);
    s_same(text, len);
    free(text);
}

//  The caller's check stops the encoding with its own error.
static int s_stop_fn(void *arg, mlops_err_t *err)
{
    (void)arg;
    return mlops_err_set(err, MLOPS_ETIMEOUT, "stopped");
}

static void test_check_stops(void)
{
    mlops_err_t err;
    int in = s_file("a\n1\n", 4), out = table_spill_temp(&err);
    size_t rows, cols;
    CHECK_INT(csv_stream_encode(in, out, s_stop_fn, NULL, &rows, &cols, &err), MLOPS_ETIMEOUT);
    CHECK_STR(err.msg, "stopped");
    close(in);
    close(out);
}

int main(void)
{
    RUN(test_small_inputs_give_the_same_table);
    RUN(test_errors_are_the_loaders);
    RUN(test_many_chunks_give_the_same_table);
    RUN(test_titanic_file);
    RUN(test_check_stops);
    return TEST_REPORT("test_csv_stream");
}
