/*  test_stage_extract.c: the extract stage handler (workers/stage_extract.c),
    run in-process: a synthetic source, a CSV file, a stored dataset, and
    each refusal with the code and the message the run record shows. */
#include "stage_fixtures.h"
#include "testing.h"

#include <errno.h>
#include <stdio.h>
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

int main(void)
{
    RUN(test_synthetic_source);
    RUN(test_csv_source);
    RUN(test_refusals_name_the_problem);
    return TEST_REPORT("test_stage_extract");
}
