/*  test_stage_extract.c: the extract stage handler (workers/stage_extract.c),
    run in-process against a data service: a synthetic source, a CSV file,
    a stored dataset, each uploaded under its dataset version, and each
    refusal with the code and the message the run record shows. */
#include "stage_fixtures.h"
#include "testing.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

//  Runs extract on source (and a stored table when given); returns the code.
static int s_extract(const char *source, const stage_ref_t *dataset, stage_extract_out_t *out,
                     mlops_err_t *err)
{
    stage_extract_in_t in = {0};
    if (dataset)
        in.dataset = *dataset;
    snprintf(in.source, sizeof in.source, "%s", source);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;
    SF_RUN(rc, stage_extract_run, stage_extract_in_encode, &in, &buf, &len, err);
    mlops_err_t sub;
    rc = rc ? rc : stage_extract_out_decode(buf, len, out, &sub);
    free(buf);
    return rc;
}

//  The table a ref names, decoded from the service (NULL on failure).
static table_t *s_table(const stage_ref_t *ref)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    mlops_err_t err;
    table_t *t = sf_get(ref, &bytes, &len) == 0 ? table_decode(bytes, len, &err) : NULL;
    free(bytes);
    return t;
}

static void test_synthetic_source(void)
{
    stage_extract_out_t out;
    mlops_err_t err;
    CHECK_INT(s_extract(SF_SOURCE, NULL, &out, &err), 0);
    table_t *t = s_table(&out.table);
    CHECK(t != NULL);
    CHECK_INT(t ? t->n_rows : 0, 300);
    CHECK(t && t->n_cols > 2);
    //  the name of the upload is the dataset version (table_hash)
    char version[HASH_HEX_LEN + 1] = "";
    if (t)
        table_hash(t, version);
    CHECK_STR(out.table.hash, version);
    table_destroy(&t);
    //  the stored table gives itself back
    stage_extract_out_t again;
    CHECK_INT(s_extract("dataset:x", &out.table, &again, &err), 0);
    CHECK_STR(again.table.hash, out.table.hash);
    CHECK_INT(again.table.size, out.table.size);
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
    mlops_err_t err;
    int rc = s_extract(path, NULL, &out, &err);
    table_t *t = rc == 0 ? s_table(&out.table) : NULL;
    size_t cols = t ? t->n_cols : 0;
    table_destroy(&t);
    //  a header and no rows: nothing to train on
    f = fopen(path, "w");
    fputs("Survived,Pclass,Sex\n", f);
    fclose(f);
    int empty_rc = s_extract(path, NULL, &out, &err);
    unlink(path);
    CHECK_INT(rc, 0);
    CHECK_INT(cols, 3);
    CHECK_INT(empty_rc, MLOPS_ECSV);
    CHECK_CONTAINS(err.msg, "extract: ");
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, ": header only: no data rows");
}

static void test_refusals_name_the_problem(void)
{
    stage_extract_out_t out;
    mlops_err_t err;
    CHECK_INT(s_extract("/no/such/file.csv", NULL, &out, &err), ENOENT);
    CHECK_STR(err.msg, "extract: /no/such/file.csv: No such file or directory");
    CHECK_INT(s_extract("synthetic:1", NULL, &out, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "extract: cannot read 'synthetic:1': synthetic: rows 1 outside 10..10000000");
    CHECK_INT(s_extract("synthetic:x", NULL, &out, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "rows 'x' is not a number");
    stage_ref_t junk;
    CHECK_INT(sf_put("\x80", 1, &junk), 0);
    CHECK_INT(s_extract("dataset:x", &junk, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "extract: the table does not decode: ");
    //  an input that is not an extract payload, or of the version before
    CHECK_INT(sf_run_bytes(stage_extract_run, "\x82\xa1v\x02\xa1x\x01", 7, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "extract: bad input: payload: unknown key \"x\"");
    CHECK_INT(sf_run_bytes(stage_extract_run, "\x81\xa6source\xa1x", 10, &err), MLOPS_EVERSION);
    CHECK_CONTAINS(err.msg, "extract: bad input: payload: stage payload version 1 (no \"v\" key); "
                            "this peer speaks 2");
    CHECK_INT(sf_run_bytes(stage_extract_run, "", 0, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "extract: bad input: payload: msgpack truncated at byte 0");
}

int main(void)
{
    if (sf_up("stage-extract") != 0)
        return 1;
    RUN(test_synthetic_source);
    RUN(test_csv_source);
    RUN(test_refusals_name_the_problem);
    sf_down();
    return TEST_REPORT("test_stage_extract");
}
