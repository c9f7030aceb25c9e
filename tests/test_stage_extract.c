/*  test_stage_extract.c: the extract stage handler (workers/stage_extract.c),
    run in-process against a data service: a synthetic source, a CSV file,
    a stored dataset, each uploaded under its dataset version, and each
    refusal with the code and the message the run record shows. */
#include "csv_load.h"
#include "stage_fixtures.h"
#include "synth.h"
#include "testing.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
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
    //  streamed (synth_stream), it is the table synth_generate builds
    size_t rows = 0;
    uint64_t seed = 0;
    CHECK_INT(synth_parse_spec(SF_SOURCE, &rows, &seed, &err), 0);
    table_t *whole = synth_generate(rows, seed, &err);
    char whole_version[HASH_HEX_LEN + 1] = "";
    if (whole)
        table_hash(whole, whole_version);
    CHECK_STR(out.table.hash, whole_version);
    table_destroy(&whole);
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
    CHECK_INT(s_extract(path, NULL, &out, &err), 0);
    CHECK_INT(s_extract(secret, NULL, &out, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "is outside this worker's data roots (--data-root): refused");
    char dotdot[700];
    snprintf(dotdot, sizeof dotdot, "%s/../outside/secret.csv", root);
    CHECK_INT(s_extract(dotdot, NULL, &out, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "outside this worker's data roots");
    CHECK_INT(s_extract(link, NULL, &out, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "outside this worker's data roots");
    CHECK_INT(s_extract(fifo, NULL, &out, &err), MLOPS_EINVAL);   //  returns, never blocks
    CHECK_CONTAINS(err.msg, "is not a regular file (a FIFO, a device or a directory): refused");
    CHECK_INT(s_extract(big, NULL, &out, &err), MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "bytes, over the limit of 24 (--max-source-bytes)");
    const char *everything[] = {"/"};
    CHECK_INT(stage_extract_configure(everything, 1, 0, &err), 0);
    CHECK_INT(s_extract("/dev/zero", NULL, &out, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "outside this worker's data roots");
    CHECK_INT(s_extract("/proc/self/environ", NULL, &out, &err), MLOPS_EINVAL);
    stage_extract_configure_clear();
    CHECK_INT(s_extract(path, NULL, &out, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "this worker reads no files: start it with --data-root DIR");
    CHECK_INT(s_extract(SF_SOURCE, NULL, &out, &err), 0);
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
    mlops_err_t err;
    CHECK_INT(s_extract(path, NULL, &out, &err), MLOPS_ECSV);
    CHECK_CONTAINS(err.msg, "line 1 is malformed");
    CHECK(strstr(err.msg, "TOPSECRET") == NULL);
    testing_rmtree(dir);
}


//  A CSV of many read chunks (Titanic's rows, repeated) is streamed under
//  the same dataset version csv_load gives it, the Titanic file itself
//  keeps its old version, and a file broken near its end leaves no new
//  object in the store.
static void test_streamed_csv_keeps_the_version(void)
{
    const char *titanic = testing_titanic_path();
    if (!titanic) {
        printf("skip test_streamed_csv_keeps_the_version: no titanic.csv\n");
        return;
    }
    char dir[256], path[600], broken[600];
    CHECK_INT(testing_tmpdir(dir, sizeof dir, "extract_stream"), 0);
    snprintf(path, sizeof path, "%s/big.csv", dir);
    snprintf(broken, sizeof broken, "%s/broken.csv", dir);
    FILE *in = fopen(titanic, "rb");
    CHECK(in != NULL);
    char *text = malloc(1 << 20);
    size_t len = in ? fread(text, 1, 1 << 20, in) : 0;
    if (in)
        fclose(in);
    const char *body = strchr(text, '\n') + 1;   //  the rows without the header
    FILE *big = fopen(path, "w"), *bad = fopen(broken, "w");
    fwrite(text, 1, len, big);
    fwrite(text, 1, len, bad);
    for (int i = 0; i < 100; i++) {
        fwrite(body, 1, len - (size_t)(body - text), big);
        fwrite(body, 1, len - (size_t)(body - text), bad);
    }
    fclose(big);
    fputs("1,2\n", bad);   //  a ragged row at the very end
    fclose(bad);
    mlops_err_t err;
    stage_extract_out_t out;
    const char *files[] = {titanic, path};
    for (int f = 0; f < 2; f++) {
        table_t *t = csv_load_file(files[f], NULL, &err);
        char version[HASH_HEX_LEN + 1] = "";
        if (t)
            table_hash(t, version);
        CHECK_INT(s_extract(files[f], NULL, &out, &err), 0);
        CHECK_STR(out.table.hash, version);
        CHECK(f == 0 || out.table.size > 4 * (int64_t)STORE_OBJECT_CHUNK_BYTES);
        table_destroy(&t);
    }
    store_object_stats_t before, after;
    CHECK_INT(store_object_stats(sf_fx.store, NULL, &before, &err), 0);
    CHECK_INT(s_extract(broken, NULL, &out, &err), MLOPS_ECSV);
    CHECK_CONTAINS(err.msg, ": line 89993: 2 fields, expected 12");
    CHECK_INT(store_object_stats(sf_fx.store, NULL, &after, &err), 0);
    CHECK_INT(after.objects, before.objects);
    CHECK_INT(after.bytes, before.bytes);
    CHECK_INT(after.chunks, before.chunks);
    free(text);
    testing_rmtree(dir);
}

int main(void)
{
    //  the historical cases read anywhere; test_data_roots checks the roots
    const char *everything[] = {"/"};
    mlops_err_t err;
    if (stage_extract_configure(everything, 1, 0, &err) != 0 || sf_up("stage-extract") != 0)
        return 1;
    RUN(test_synthetic_source);
    RUN(test_csv_source);
    RUN(test_refusals_name_the_problem);
    RUN(test_data_roots);
    RUN(test_errors_quote_nothing);
    RUN(test_streamed_csv_keeps_the_version);
    sf_down();
    return TEST_REPORT("test_stage_extract");
}
