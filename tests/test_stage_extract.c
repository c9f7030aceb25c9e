/*  test_stage_extract.c: the extract stage handler (workers/stage_extract.c),
    run in-process: a synthetic source, a CSV file, a stored dataset, and
    each refusal with the code and the message the run record shows. */
#include "stage_fixtures.h"
#include "testing.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

//  Runs extract on source (and a stored table when given); returns the code.
static int s_extract(const char *source, const uint8_t *table, size_t table_len,
                     stage_extract_out_t *out, uint8_t **buf, mlops_err_t *err)
{
    stage_extract_in_t in = {.table = table, .table_len = table_len};
    snprintf(in.source, sizeof in.source, "%s", source);
    size_t len = 0;
    int rc;
    *buf = NULL;
    SF_RUN(rc, stage_extract_run, stage_extract_in_encode, &in, buf, &len, err);
    mlops_err_t sub;
    return rc ? rc : stage_extract_out_decode(*buf, len, out, &sub);
}

static void test_synthetic_source(void)
{
    stage_extract_out_t out;
    uint8_t *buf;
    mlops_err_t err;
    CHECK_INT(s_extract(SF_SOURCE, NULL, 0, &out, &buf, &err), 0);
    CHECK_INT(out.rows, 300);
    CHECK(out.cols > 2);
    CHECK_INT(strlen(out.dataset_hash), HASH_HEX_LEN);
    //  the same spec gives the same table; the stored table gives it back
    stage_extract_out_t again;
    uint8_t *buf2;
    CHECK_INT(s_extract("dataset:x", out.table, out.table_len, &again, &buf2, &err), 0);
    CHECK_STR(again.dataset_hash, out.dataset_hash);
    CHECK_INT(again.rows, 300);
    free(buf2);
    free(buf);
}

static void test_csv_source(void)
{
    char path[] = "/tmp/test_stage_extract_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("Survived,Pclass,Sex\n1,1,female\n0,3,male\n", f);
    fclose(f);
    stage_extract_out_t out;
    uint8_t *buf;
    mlops_err_t err;
    int rc = s_extract(path, NULL, 0, &out, &buf, &err);
    free(buf);
    //  a header and no rows: nothing to train on
    f = fopen(path, "w");
    fputs("Survived,Pclass,Sex\n", f);
    fclose(f);
    int empty_rc = s_extract(path, NULL, 0, &out, &buf, &err);
    unlink(path);
    free(buf);
    CHECK_INT(rc, 0);
    CHECK_INT(out.cols, 3);
    CHECK_INT(empty_rc, MLOPS_ECSV);
    CHECK_CONTAINS(err.msg, "extract: ");
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, ": header only: no data rows");
}

static void test_refusals_name_the_problem(void)
{
    stage_extract_out_t out;
    uint8_t *buf;
    mlops_err_t err;
    CHECK_INT(s_extract("/no/such/file.csv", NULL, 0, &out, &buf, &err), ENOENT);
    CHECK_STR(err.msg, "extract: /no/such/file.csv: No such file or directory");
    free(buf);
    CHECK_INT(s_extract("synthetic:1", NULL, 0, &out, &buf, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "extract: cannot read 'synthetic:1': synthetic: rows 1 outside 10..10000000");
    free(buf);
    CHECK_INT(s_extract("synthetic:x", NULL, 0, &out, &buf, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "rows 'x' is not a number");
    free(buf);
    CHECK_INT(s_extract("dataset:x", (const uint8_t *)"\x80", 1, &out, &buf, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "extract: stored dataset does not decode: ");
    free(buf);
    //  an input that is not an extract payload
    CHECK_INT(sf_run_bytes(stage_extract_run, "\x81\xa1x\x01", 4, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "extract: bad input: payload: unknown key \"x\"");
    CHECK_INT(sf_run_bytes(stage_extract_run, "", 0, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "extract: bad input: payload: msgpack truncated at byte 0");
}

//  Writes text to dir/name; returns the path in out.
static void s_write(const char *dir, const char *name, const char *text, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", dir, name);
    FILE *f = fopen(out, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

//  Data roots (issue 15, point 4): a file outside the roots, a symlink or
//  .. out of them, a FIFO, a device, /proc, a file over the cap: each
//  refused with its rule; no root at all reads no file; synthetic always.
static void test_data_roots(void)
{
    char dir[256];
    CHECK_INT(testing_tmpdir(dir, sizeof dir, "extract_roots"), 0);
    char root[512], outside[512], path[600], link[600], fifo[600], big[600];
    snprintf(root, sizeof root, "%s/root", dir);
    snprintf(outside, sizeof outside, "%s/outside", dir);
    mkdir(root, 0700);
    mkdir(outside, 0700);
    s_write(root, "ok.csv", "Survived,Pclass\n1,1\n0,3\n", path, sizeof path);
    char secret[600];
    s_write(outside, "secret.csv", "Survived,Pclass\n1,1\n0,3\n", secret, sizeof secret);
    snprintf(link, sizeof link, "%s/link.csv", root);
    CHECK_INT(symlink(secret, link), 0);
    snprintf(fifo, sizeof fifo, "%s/fifo.csv", root);
    CHECK_INT(mkfifo(fifo, 0600), 0);
    s_write(root, "big.csv", "Survived,Pclass\n1,1\n0,3\n1,2\n0,1\n", big, sizeof big);
    mlops_err_t err;
    const char *roots[] = {root};
    CHECK_INT(stage_extract_configure(roots, 1, 24, &err), 0);
    stage_extract_out_t out;
    uint8_t *buf;
    CHECK_INT(s_extract(path, NULL, 0, &out, &buf, &err), 0);
    free(buf);
    CHECK_INT(s_extract(secret, NULL, 0, &out, &buf, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "is outside this worker's data roots (--data-root): refused");
    free(buf);
    char dotdot[700];
    snprintf(dotdot, sizeof dotdot, "%s/../outside/secret.csv", root);
    CHECK_INT(s_extract(dotdot, NULL, 0, &out, &buf, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "outside this worker's data roots");
    free(buf);
    CHECK_INT(s_extract(link, NULL, 0, &out, &buf, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "outside this worker's data roots");
    free(buf);
    CHECK_INT(s_extract(fifo, NULL, 0, &out, &buf, &err), MLOPS_EINVAL);   //  returns, never blocks
    CHECK_CONTAINS(err.msg, "is not a regular file (a FIFO, a device or a directory): refused");
    free(buf);
    CHECK_INT(s_extract(big, NULL, 0, &out, &buf, &err), MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "bytes, over the limit of 24 (--max-source-bytes)");
    free(buf);
    const char *everything[] = {"/"};
    CHECK_INT(stage_extract_configure(everything, 1, 0, &err), 0);
    CHECK_INT(s_extract("/dev/zero", NULL, 0, &out, &buf, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "outside this worker's data roots");
    free(buf);
    CHECK_INT(s_extract("/proc/self/environ", NULL, 0, &out, &buf, &err), MLOPS_EINVAL);
    free(buf);
    stage_extract_configure_clear();
    CHECK_INT(s_extract(path, NULL, 0, &out, &buf, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "this worker reads no files: start it with --data-root DIR");
    free(buf);
    CHECK_INT(s_extract(SF_SOURCE, NULL, 0, &out, &buf, &err), 0);
    free(buf);
    const char *not_dir[] = {path};
    CHECK_INT(stage_extract_configure(not_dir, 1, 0, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "is not a directory");
    CHECK_INT(stage_extract_configure(everything, 1, 0, &err), 0);
    testing_rmtree(dir);
}

//  CSV errors that would quote the file keep only the line number: a header
//  cell or a value never reaches the run record.
static void test_errors_quote_nothing(void)
{
    char dir[256];
    CHECK_INT(testing_tmpdir(dir, sizeof dir, "extract_quote"), 0);
    char path[600];
    s_write(dir, "dup.csv", "TOPSECRET,TOPSECRET\n1,2\n", path, sizeof path);
    stage_extract_out_t out;
    uint8_t *buf;
    mlops_err_t err;
    CHECK_INT(s_extract(path, NULL, 0, &out, &buf, &err), MLOPS_ECSV);
    CHECK_CONTAINS(err.msg, "line 1 is malformed");
    CHECK(strstr(err.msg, "TOPSECRET") == NULL);
    free(buf);
    testing_rmtree(dir);
}

int main(void)
{
    //  the historical cases read anywhere; test_data_roots checks the roots
    const char *everything[] = {"/"};
    mlops_err_t err;
    if (stage_extract_configure(everything, 1, 0, &err) != 0)
        return 1;
    RUN(test_synthetic_source);
    RUN(test_csv_source);
    RUN(test_refusals_name_the_problem);
    RUN(test_data_roots);
    RUN(test_errors_quote_nothing);
    return TEST_REPORT("test_stage_extract");
}
