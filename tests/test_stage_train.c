/*  test_stage_train.c: the train stage handler (workers/stage_train.c), run
    in-process on a preprocessed synthetic table: the artifact uploaded
    under its sha256, its metrics, every family (gbdt included) for the
    binary, multiclass and regression task types with that task's metrics,
    and each refusal (rows past the table, an unknown family, a split never
    uploaded, a task other than the recipe's, a payload that is not one);
    preprocess's matrix gives the artifact the raw table gives, and a
    matrix that is none or another task's is refused by name. */
#include "stage_fixtures.h"
#include "testing.h"

#include <unistd.h>


static void test_trains_one_family(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, true), 0);
    uint8_t *artifact = NULL;
    size_t len = 0;
    CHECK_INT(sf_get(&c.t.artifact, &artifact, &len), 0);   //  uploaded under its sha256
    CHECK_INT(len, c.t.artifact.size);
    free(artifact);
    double auc = c.t.metrics.auc;
    int family_ok = strcmp(c.t.family, "logreg") == 0 && strcmp(c.t.params, "{\"C\":1,\"max_iter\":100,\"tol\":1e-10}") == 0;
    sf_chain_clear(&c);
    CHECK(family_ok);
    CHECK(auc > 0.5 && auc <= 1);
}

//  The train output of family on target for task (run through the chain).
static int s_train_task(const char *target, const char *task, const char *family,
                        stage_train_out_t *t)
{
    sf_chain_t c;
    int rc = sf_chain_task(&c, target, task, family);
    *t = c.t;
    sf_chain_clear(&c);
    return rc;
}

static void test_gbdt_binary(void)
{
    stage_train_out_t t;
    CHECK_INT(s_train_task("", "", "gbdt", &t), 0);
    CHECK_STR(t.family, "gbdt");
    CHECK_STR(t.metrics.task, "");
    CHECK(t.metrics.auc > 0.5 && t.metrics.auc <= 1);
}

static const char *const s_families[] = {"logreg", "forest", "gbdt"};

//  Every family on the multiclass Pclass: accuracy, macro F1 and log loss.
static void test_multiclass_families(void)
{
    for (size_t i = 0; i < 3; i++) {
        stage_train_out_t t;
        CHECK_INT(s_train_task("Pclass", "auto", s_families[i], &t), 0);
        CHECK_STR(t.family, s_families[i]);
        CHECK_STR(t.metrics.task, "multiclass");
        CHECK(t.metrics.accuracy > 1.0 / 3 && t.metrics.accuracy <= 1);   //  beats chance
        CHECK(t.metrics.macro_f1 > 0 && t.metrics.macro_f1 <= 1);
        CHECK(t.metrics.log_loss > 0);
        CHECK(t.metrics.auc == 0 && t.metrics.r2 == 0);   //  no other task's metric
    }
}

//  Every family on the regression Age: R^2, RMSE and MAE.
static void test_regression_families(void)
{
    for (size_t i = 0; i < 3; i++) {
        stage_train_out_t t;
        CHECK_INT(s_train_task("Age", "regression", s_families[i], &t), 0);
        CHECK_STR(t.metrics.task, "regression");
        CHECK(t.metrics.r2 <= 1);
        CHECK(t.metrics.rmse > 0 && t.metrics.mae > 0 && t.metrics.mae <= t.metrics.rmse);
        CHECK(t.metrics.accuracy == 0 && t.metrics.auc == 0);
    }
}

//  Trains with in changed by the caller; returns the code.
static int s_train(const sf_chain_t *c, stage_train_in_t *in, mlops_err_t *err)
{
    in->table = c->x.table;
    in->recipe = c->p.recipe;
    uint8_t *out = NULL;
    size_t len = 0;
    int rc;
    SF_RUN(rc, stage_train_run, stage_train_in_encode, in, &out, &len, err);
    free(out);
    return rc;
}

//  Train on preprocess's matrix (the chain's) and on the raw table and
//  split (an input with no matrix, from an older preprocess): one artifact.
static void test_matrix_and_table_give_one_artifact(void)
{
    for (size_t i = 0; i < 3; i++) {
        sf_chain_t c;
        CHECK_INT(sf_chain_task(&c, "", "", s_families[i]), 0);
        stage_train_in_t in = {.table = c.x.table, .recipe = c.p.recipe, .split = c.p.split,
                               .seed = 2};
        snprintf(in.family, sizeof in.family, "%s", s_families[i]);
        stage_train_out_t old;
        int rc;
        SF_STEP(rc, stage_train_run, stage_train_in_encode, &in, stage_train_out_decode, &old);
        stage_ref_t matrix = c.p.matrix, from_matrix = c.t.artifact;
        sf_chain_clear(&c);
        CHECK_INT(rc, 0);
        CHECK(matrix.size > 0);
        CHECK_STR(old.artifact.hash, from_matrix.hash);
    }
}

//  With a blob cache, as a worker has: preprocess keeps the matrix there,
//  train maps it from the file (the artifact is the copy's); a damaged
//  file is fetched again, kept and mapped.
static void test_matrix_mapped_from_the_cache(void)
{
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/cache", sf_fx.dir);
    mlops_err_t err;
    blob_cache_t *cache = blob_cache_new(dir, 0, &err);
    CHECK(cache != NULL);
    sf_chain_t plain, c;
    CHECK_INT(sf_chain(&plain, true), 0);   //  no cache: copies
    sf_data.cache = cache;
    int rc = sf_chain(&c, true);
    uint8_t *bytes = NULL, *copy = NULL;
    size_t len = 0, copy_len = 0;
    bool mapped = false, mapped_again = false;
    int mrc = stage_fetch_mapped(&sf_data, "train", "matrix", &c.p.matrix, &bytes, &len, &mapped, &err);
    int grc = sf_get(&c.p.matrix, &copy, &copy_len);
    bool same = mrc == 0 && grc == 0 && copy_len == len && memcmp(copy, bytes, len) == 0;
    stage_blob_release(bytes, len, mapped);
    snprintf(path, sizeof path, "%s/%s", dir, c.p.matrix.hash);
    int trc = truncate(path, 100);   //  damaged on disk
    int again_rc = stage_fetch_mapped(&sf_data, "train", "matrix", &c.p.matrix, &bytes, &len,
                                      &mapped_again, &err);
    bool same_again = again_rc == 0 && copy_len == len && memcmp(copy, bytes, len) == 0;
    stage_blob_release(bytes, len, mapped_again);
    free(copy);
    sf_data.cache = NULL;
    blob_cache_destroy(&cache);
    CHECK_INT(rc, 0);
    CHECK_STR(c.t.artifact.hash, plain.t.artifact.hash);
    CHECK(mapped && same);
    CHECK_INT(trc, 0);
    CHECK(mapped_again && same_again);
    sf_chain_clear(&c);
    sf_chain_clear(&plain);
}

//  A matrix that is none, or another task's: named.
static void test_matrix_refusals(void)
{
    sf_chain_t c, multi;
    CHECK_INT(sf_chain(&c, false), 0);
    CHECK_INT(sf_chain_task(&multi, "Pclass", "multiclass", NULL), 0);
    mlops_err_t err, junk_err;
    stage_train_in_t in = {.split = c.p.split, .family = "logreg"};
    CHECK_INT(sf_put("junk", 4, &in.matrix), 0);
    int junk_rc = s_train(&c, &in, &junk_err);
    in.matrix = multi.p.matrix;   //  binary recipe, multiclass matrix
    int task_rc = s_train(&c, &in, &err);
    sf_chain_clear(&c);
    sf_chain_clear(&multi);
    CHECK_INT(junk_rc, MLOPS_EFOREIGN);
    CHECK_STR(junk_err.msg, "train: the matrix does not decode: matrix: not a feature matrix "
                            "(no MXF1 magic)");
    CHECK_INT(task_rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "train logreg: the matrix holds ");
    CHECK_CONTAINS(err.msg, " multiclass features, the recipe makes 16 binary ones");
}

static void test_refusals_name_the_problem(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    mlops_err_t err;
    size_t past[] = {0, 300};
    stage_train_in_t in = {.family = "logreg"};
    CHECK_INT(sf_put_split(past, 2, c.split.test_rows, c.split.n_test, &in.split), 0);
    int past_rc = s_train(&c, &in, &err);
    mlops_err_t past_err = err;
    in = (stage_train_in_t){.split = c.p.split, .family = "boosting"};
    int family_rc = s_train(&c, &in, &err);
    mlops_err_t family_err = err;
    in = (stage_train_in_t){.split = c.p.split, .family = "logreg"};
    in.split.hash[0] = in.split.hash[0] == 'a' ? 'b' : 'a';   //  a split never uploaded
    int missing_rc = s_train(&c, &in, &err);
    sf_chain_clear(&c);
    CHECK_INT(past_rc, MLOPS_EPROTO);
    CHECK_STR(past_err.msg, "train_rows[1]: row 300 is past the table's 300 rows");
    CHECK_INT(family_rc, MLOPS_EINVAL);
    CHECK_CONTAINS(family_err.msg, "train boosting: ");
    CHECK_INT(missing_rc, MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "train: cannot fetch the split: blob ");

    CHECK_INT(sf_run_bytes(stage_train_run, "\x81\xa1v\x02", 4, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "train: bad input: table: missing");
}

//  A task that is not the recipe's (a broker and preprocess that disagree).
static void test_task_must_be_the_recipes(void)
{
    sf_chain_t c;
    CHECK_INT(sf_chain(&c, false), 0);
    mlops_err_t err;
    stage_train_in_t in = {.split = c.p.split, .family = "logreg", .task = "regression"};
    int other_rc = s_train(&c, &in, &err);
    mlops_err_t other_err = err;
    in = (stage_train_in_t){.split = c.p.split, .family = "logreg", .task = "ordinal"};
    int unknown_rc = s_train(&c, &in, &err);
    sf_chain_clear(&c);
    CHECK_INT(other_rc, MLOPS_EPROTO);
    CHECK_STR(other_err.msg, "train logreg: the recipe's task is binary, the input says regression");
    CHECK_INT(unknown_rc, MLOPS_EPROTO);
    CHECK_STR(err.msg, "train: unknown task type 'ordinal'");
}

int main(void)
{
    if (sf_up("stage-train") != 0)
        return 1;
    RUN(test_trains_one_family);
    RUN(test_gbdt_binary);
    RUN(test_multiclass_families);
    RUN(test_regression_families);
    RUN(test_refusals_name_the_problem);
    RUN(test_matrix_and_table_give_one_artifact);
    RUN(test_matrix_refusals);
    RUN(test_matrix_mapped_from_the_cache);
    RUN(test_task_must_be_the_recipes);
    sf_down();
    return TEST_REPORT("test_stage_train");
}
