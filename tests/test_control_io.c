/*  test_control_io.c: the REPLY data codecs of the control commands
    (proto/control_io.c): round trips of every answer, what a decoded
    answer owns and borrows, strict decoding with the key path named. */
#include <stdlib.h>
#include <string.h>

#include "control_io.h"
#include "testing.h"

//  Runs and versions inside RUNS / MODELS answers are decoded by the
//  records' own tables: the same checks, with the list index in the path.
static void test_control_lists_are_strict(void)
{
    run_t run = {.id = 3};
    CHECK(run_add_task(&run, "extract", NULL));
    control_runs_t list = {.runs = &run, .n_runs = 1};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(control_runs_encode(&list, &buf, &len), 0);
    run_clear(&run);
    uint8_t *state = memmem(buf, len, "\xa7pending", 8);   //  the task's state
    CHECK(state != NULL);
    memcpy(state + 1, "sleepin", 7);
    control_runs_t out;
    mlops_err_t err;
    int rc = control_runs_decode(buf, len, &out, &err);
    free(buf);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "runs[0].tasks[0].state: unknown value \"sleepin\"");
    CHECK(out.runs == NULL);

    control_models_t models = {.production = -1};
    CHECK_INT(control_models_encode(&models, &buf, &len), 0);
    control_models_t m2;
    rc = control_models_decode(buf, len, &m2, &err);
    free(buf);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "production: integer out of range [0, ");
}

static void test_control_status_and_retrain(void)
{
    control_worker_t workers[2] = {{.stage = "train", .host = "h1", .pid = 10, .state = "busy",
                                    .task_id = "4-train-forest", .last_seen_ms = 99},
                                   {.stage = "extract", .host = "h2", .pid = 11, .state = "idle"}};
    control_status_t st = {.active_run = 4, .queued = 5, .next_schedule_ms = 123,
                           .production_version = 2, .workers = workers, .n_workers = 2};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(control_status_encode(&st, &buf, &len), 0);
    control_status_t out;
    mlops_err_t err;
    CHECK_INT(control_status_decode(buf, len, &out, &err), 0);
    CHECK_INT(out.n_workers, 2);
    CHECK_STR(out.workers[0].task_id, "4-train-forest");
    CHECK_STR(out.workers[1].host, "h2");
    CHECK_INT(out.queued, 5);
    control_status_clear(&out);
    CHECK(out.workers == NULL);
    for (size_t cut = 1; cut < len; cut += 7)
        CHECK(control_status_decode(buf, cut, &out, &err) != 0);
    free(buf);

    control_retrain_t r = {.run_id = 9, .coalesced = true, .state = "queued"};
    CHECK_INT(control_retrain_encode(&r, &buf, &len), 0);
    control_retrain_t r2;
    CHECK_INT(control_retrain_decode(buf, len, &r2, &err), 0);
    CHECK(r2.coalesced);
    CHECK_STR(r2.state, "queued");
    free(buf);
}

static void test_control_runs_and_models(void)
{
    run_t runs[2] = {{.id = 2, .state = RUN_FAILED}, {.id = 1, .state = RUN_SUCCEEDED, .version = 1}};
    snprintf(runs[0].error, sizeof runs[0].error, "extract: cannot read 'x'");
    run_task_t *t = run_add_task(&runs[1], "train", "forest");
    CHECK(t);
    t->attempts = 2;
    control_runs_t list = {.runs = runs, .n_runs = 2};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(control_runs_encode(&list, &buf, &len), 0);
    control_runs_t out;
    mlops_err_t err;
    CHECK_INT(control_runs_decode(buf, len, &out, &err), 0);
    CHECK_INT(out.n_runs, 2);
    CHECK_STR(out.runs[0].error, "extract: cannot read 'x'");
    CHECK_INT(out.runs[1].n_tasks, 1);
    CHECK_INT(out.runs[1].tasks[0].attempts, 2);
    control_runs_clear(&out);
    run_clear(&runs[1]);
    free(buf);

    version_t versions[1] = {{.version = 1, .stage = VERSION_PRODUCTION, .family = "logreg"}};
    control_models_t models = {.production = 1, .versions = versions, .n_versions = 1};
    CHECK_INT(control_models_encode(&models, &buf, &len), 0);
    control_models_t m2;
    CHECK_INT(control_models_decode(buf, len, &m2, &err), 0);
    CHECK_INT(m2.production, 1);
    CHECK_STR(m2.versions[0].family, "logreg");
    control_models_clear(&m2);
    CHECK_INT(control_runs_decode(buf, len, &out, &err), MLOPS_EPROTO);   //  a models answer is no runs answer
    CHECK_CONTAINS(err.msg, "production");
    free(buf);
}

//  PROMOTE / ROLLBACK, GET_MODEL (its artifact borrowed) and SERVING.
static void test_control_small_answers(void)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    mlops_err_t err;
    control_promote_t pr = {.version = 3, .previous = 2};
    CHECK_INT(control_promote_encode(&pr, &buf, &len), 0);
    control_promote_t pr2;
    CHECK_INT(control_promote_decode(buf, len, &pr2, &err), 0);
    CHECK_INT(pr2.version, 3);
    CHECK_INT(pr2.previous, 2);
    free(buf);

    control_model_t m = {.version = 5, .sha256 = "abc", .family = "forest",
                         .artifact = (const uint8_t *)"MODEL", .artifact_len = 5};
    CHECK_INT(control_model_encode(&m, &buf, &len), 0);
    control_model_t m2;
    CHECK_INT(control_model_decode(buf, len, &m2, &err), 0);
    CHECK_STR(m2.family, "forest");
    CHECK_INT(m2.artifact_len, 5);
    CHECK(m2.artifact >= buf && m2.artifact < buf + len);
    //  every truncation is refused
    for (size_t cut = 0; cut < len; cut++)
        CHECK_INT(control_model_decode(buf, cut, &m2, &err), MLOPS_EPROTO);
    free(buf);

    control_serving_t s = {.production_version = 7};
    CHECK_INT(control_serving_encode(&s, &buf, &len), 0);
    control_serving_t s2;
    CHECK_INT(control_serving_decode(buf, len, &s2, &err), 0);
    CHECK_INT(s2.production_version, 7);
    //  a SERVING answer is no PROMOTE answer: the missing key is named
    CHECK_INT(control_promote_decode(buf, len, &pr2, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: unknown key \"production_version\"");
    free(buf);
}

//  STATUS lists the live inference workers; a STATUS from a broker older
//  than the key decodes as none of them.
static void test_control_status_serving_is_optional(void)
{
    control_infer_t infer[1] = {{.host = "h3", .pid = 12, .model_version = 2, .last_seen_ms = 5}};
    control_status_t st = {.serving = infer, .n_serving = 1, .waiting = "no worker for train"};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(control_status_encode(&st, &buf, &len), 0);
    control_status_t out;
    mlops_err_t err;
    CHECK_INT(control_status_decode(buf, len, &out, &err), 0);
    CHECK_INT(out.n_serving, 1);
    CHECK_STR(out.serving[0].host, "h3");
    CHECK_INT(out.serving[0].model_version, 2);
    CHECK_STR(out.waiting, "no worker for train");
    control_status_clear(&out);
    CHECK(out.serving == NULL && out.n_serving == 0);
    //  drop the last key: the map header loses one entry, "serving" and its
    //  array (fixarray of one fixmap) go from the end
    uint8_t *key = memmem(buf, len, "\xa7serving", 8);
    CHECK(key != NULL);
    CHECK_INT(buf[0] & 0xf0, 0x80);
    buf[0]--;
    CHECK_INT(control_status_decode(buf, (size_t)(key - buf), &out, &err), 0);
    CHECK(out.serving == NULL && out.n_serving == 0);
    buf[0]++;
    //  the required list may not be left out
    uint8_t *workers = memmem(buf, len, "\xa7workers", 8);
    CHECK(workers != NULL);
    memcpy(workers + 1, "wurkers", 7);
    CHECK_INT(control_status_decode(buf, len, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: unknown key \"wurkers\"");
    free(buf);
    //  more workers than a STATUS may carry
    control_worker_t *many = calloc(CONTROL_WORKERS_MAX + 1, sizeof *many);
    CHECK(many != NULL);
    st = (control_status_t){.workers = many, .n_workers = CONTROL_WORKERS_MAX + 1};
    int rc = control_status_encode(&st, &buf, &len);
    free(many);
    CHECK_INT(rc, MLOPS_EINVAL);
}

int main(void)
{
    RUN(test_control_small_answers);
    RUN(test_control_status_serving_is_optional);
    RUN(test_control_lists_are_strict);
    RUN(test_control_status_and_retrain);
    RUN(test_control_runs_and_models);
    return TEST_REPORT("test_control_io");
}
