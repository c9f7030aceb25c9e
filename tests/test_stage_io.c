/*  test_stage_io.c: the stage payload and control reply codecs (round trips,
    borrowed bytes, strict decoding with the key named), durations and
    broker addresses. */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "control_io.h"
#include "stage_io.h"
#include "testing.h"

//  Packs {key: value-as-str} to feed decoders something wrong on purpose.
static size_t s_pack_map_str(char *out, size_t size, const char *key, const char *val)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str_with_body(&pk, key, strlen(key));
    msgpack_pack_str_with_body(&pk, val, strlen(val));
    size_t n = sb.size < size ? sb.size : size;
    memcpy(out, sb.data, n);
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static void test_train_in_round_trip(void)
{
    size_t train[] = {0, 2, 4}, test[] = {1, 3};
    stage_train_in_t in = {.table = (const uint8_t *)"TBL", .table_len = 3,
                           .recipe = (const uint8_t *)"R", .recipe_len = 1,
                           .train_rows = train, .n_train = 3, .test_rows = test, .n_test = 2,
                           .seed = 42};
    snprintf(in.family, sizeof in.family, "forest");
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_train_in_encode(&in, &buf, &len), 0);
    stage_train_in_t out;
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(stage_train_in_decode(buf, len, &out, &err), 0);
    CHECK_STR(out.family, "forest");
    CHECK_STR(out.params, "");
    CHECK_INT(out.n_train, 3);
    CHECK_INT(out.train_rows[2], 4);
    CHECK_INT(out.test_rows[1], 3);
    CHECK_INT(out.seed, 42);
    CHECK_INT(out.table_len, 3);
    CHECK(out.table >= buf && out.table < buf + len);   //  borrowed, not copied
    CHECK(memcmp(out.table, "TBL", 3) == 0);
    stage_train_in_clear(&out);
    CHECK(out.train_rows == NULL);
    //  every truncation is refused, never read past
    for (size_t cut = 0; cut < len; cut++) {
        stage_train_in_t bad;
        CHECK(stage_train_in_decode(buf, cut, &bad, &err) != 0);
    }
    free(buf);
}

static void test_evaluate_round_trip_and_limits(void)
{
    size_t test[] = {5};
    stage_evaluate_in_t in = {.table = (const uint8_t *)"T", .table_len = 1, .test_rows = test,
                              .n_test = 1, .n_candidates = 2, .production_version = 0};
    snprintf(in.candidates[0].key, sizeof in.candidates[0].key, "1-train-logreg");
    snprintf(in.candidates[0].family, sizeof in.candidates[0].family, "logreg");
    in.candidates[0].artifact = (const uint8_t *)"A";
    in.candidates[0].artifact_len = 1;
    snprintf(in.candidates[1].key, sizeof in.candidates[1].key, "1-train-forest");
    in.candidates[1].artifact = (const uint8_t *)"BB";
    in.candidates[1].artifact_len = 2;
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_evaluate_in_encode(&in, &buf, &len), 0);
    stage_evaluate_in_t out;
    mlops_err_t err;
    CHECK_INT(stage_evaluate_in_decode(buf, len, &out, &err), 0);
    CHECK_INT(out.n_candidates, 2);
    CHECK_STR(out.candidates[1].key, "1-train-forest");
    CHECK_INT(out.candidates[1].artifact_len, 2);
    CHECK(out.production == NULL);                   //  nil: no production model
    stage_evaluate_in_clear(&out);
    free(buf);
    in.n_candidates = STAGE_CANDIDATES_MAX + 1;
    CHECK_INT(stage_evaluate_in_encode(&in, &buf, &len), MLOPS_EINVAL);

    stage_evaluate_out_t ev = {.n_scored = 1, .production_version = 2};
    ev.scored[0].metrics.auc = 0.875;
    ev.scored[0].metrics.tp = 7;
    ev.production.auc = 0.5;
    CHECK_INT(stage_evaluate_out_encode(&ev, &buf, &len), 0);
    stage_evaluate_out_t ev2;
    CHECK_INT(stage_evaluate_out_decode(buf, len, &ev2, &err), 0);
    CHECK_NEAR(ev2.scored[0].metrics.auc, 0.875, 0);
    CHECK_INT(ev2.scored[0].metrics.tp, 7);
    CHECK_INT(ev2.production_version, 2);
    CHECK_NEAR(ev2.production.auc, 0.5, 0);
    free(buf);
}

static void test_decode_errors_name_the_key(void)
{
    char buf[128];
    mlops_err_t err;
    stage_extract_out_t out;
    size_t n = s_pack_map_str(buf, sizeof buf, "sourse", "x");
    stage_extract_in_t in;
    CHECK_INT(stage_extract_in_decode((uint8_t *)buf, n, &in, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: unknown key \"sourse\"");
    n = s_pack_map_str(buf, sizeof buf, "source", "x");
    CHECK_INT(stage_extract_in_decode((uint8_t *)buf, n, &in, &err), 0);   //  table is optional
    CHECK_STR(in.source, "x");
    CHECK(in.table == NULL);
    n = s_pack_map_str(buf, sizeof buf, "rows", "many");
    CHECK_INT(stage_extract_out_decode((uint8_t *)buf, n, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "rows: expected integer, got string");
    n = s_pack_map_str(buf, sizeof buf, "dataset_hash", "abc");
    CHECK_INT(stage_extract_out_decode((uint8_t *)buf, n, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "rows: missing");
    buf[n] = 0x01;                                    //  one trailing byte
    CHECK_INT(stage_extract_out_decode((uint8_t *)buf, n + 1, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: 1 trailing bytes");
    CHECK_INT(stage_extract_out_decode((uint8_t *)"\xc1", 1, &out, &err), MLOPS_EPROTO);
    CHECK_INT(stage_extract_out_decode(NULL, 0, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: msgpack truncated at byte 0");
    char family[41];
    memset(family, 'f', 40);
    family[40] = '\0';
    n = s_pack_map_str(buf, sizeof buf, "family", family);
    stage_train_out_t t;
    CHECK_INT(stage_train_out_decode((uint8_t *)buf, n, &t, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "family: string of 40 bytes exceeds the limit of 31");
}

static void test_nested_error_path(void)
{
    stage_load_model_out_t lm = {.version = 3, .n_predicted = 2};
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_load_model_out_encode(&lm, &buf, &len), 0);
    //  corrupt the first float of metrics into a string fixstr header:
    //  find "accuracy" and damage the byte after it (float64 marker 0xcb)
    uint8_t *p = memmem(buf, len, "accuracy", 8);
    CHECK(p && p[8] == 0xcb);
    p[8] = 0xc0;                                      //  nil, then 8 stray bytes
    stage_load_model_out_t out;
    mlops_err_t err;
    CHECK(stage_load_model_out_decode(buf, len, &out, &err) != 0);
    free(buf);
    CHECK_INT(stage_load_model_out_encode(&lm, &buf, &len), 0);
    p = memmem(buf, len, "accuracy", 8);
    p[1] = 'X';                                       //  key becomes "aXcuracy"
    CHECK_INT(stage_load_model_out_decode(buf, len, &out, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "metrics: unknown key \"aXcuracy\"");
    free(buf);
}

//  A packer writing into a fresh sbuffer, for hand-made payloads.
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} s_pack_t;

static void s_pack_init(s_pack_t *p)
{
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
}

static void s_key(s_pack_t *p, const char *key)
{
    msgpack_pack_str_with_body(&p->pk, key, strlen(key));
}

//  The one engine (fields.h) gives stage payloads the records' strictness:
//  metrics are floats, ints are range-checked, rows are bounded, and the
//  message names the key path and what came instead.
static void test_payload_strictness(void)
{
    mlops_err_t err;
    s_pack_t p;
    //  preprocess: test_fraction takes an integer (a number) but not a string
    s_pack_init(&p);
    msgpack_pack_map(&p.pk, 4);
    s_key(&p, "table"), msgpack_pack_bin_with_body(&p.pk, "T", 1);
    s_key(&p, "target"), msgpack_pack_str_with_body(&p.pk, "", 0);
    s_key(&p, "test_fraction"), msgpack_pack_int(&p.pk, 1);
    s_key(&p, "seed"), msgpack_pack_int(&p.pk, 3);
    stage_preprocess_in_t pin;
    int rc = stage_preprocess_in_decode((uint8_t *)p.sb.data, p.sb.size, &pin, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, 0);
    CHECK_NEAR(pin.test_fraction, 1.0, 0);
    s_pack_init(&p);
    msgpack_pack_map(&p.pk, 1);
    s_key(&p, "test_fraction"), msgpack_pack_str_with_body(&p.pk, "x", 1);
    rc = stage_preprocess_in_decode((uint8_t *)p.sb.data, p.sb.size, &pin, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "test_fraction: expected number, got string");

    //  load_model out: a metric given as an integer is refused (section 11.3)
    s_pack_init(&p);
    msgpack_pack_map(&p.pk, 1);
    s_key(&p, "metrics");
    msgpack_pack_map(&p.pk, 1);
    s_key(&p, "auc"), msgpack_pack_int(&p.pk, 1);
    stage_load_model_out_t lout;
    rc = stage_load_model_out_decode((uint8_t *)p.sb.data, p.sb.size, &lout, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "metrics.auc: expected float, got integer");

    //  rows: a negative index, and more candidates than an evaluate takes
    s_pack_init(&p);
    msgpack_pack_map(&p.pk, 1);
    s_key(&p, "test_rows");
    msgpack_pack_array(&p.pk, 2);
    msgpack_pack_int(&p.pk, 0);
    msgpack_pack_int(&p.pk, -1);
    stage_evaluate_in_t ein;
    rc = stage_evaluate_in_decode((uint8_t *)p.sb.data, p.sb.size, &ein, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "test_rows[1]: expected a row index, got integer");
    CHECK(ein.test_rows == NULL);                     //  a failed decode owns nothing
    s_pack_init(&p);
    msgpack_pack_map(&p.pk, 1);
    s_key(&p, "candidates");
    msgpack_pack_array(&p.pk, STAGE_CANDIDATES_MAX + 1);
    for (int i = 0; i <= STAGE_CANDIDATES_MAX; i++)
        msgpack_pack_map(&p.pk, 0);
    rc = stage_evaluate_in_decode((uint8_t *)p.sb.data, p.sb.size, &ein, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "candidates: 9 entries exceed the limit of 8");

    //  an optional bin is bin or nil, nothing else
    s_pack_init(&p);
    msgpack_pack_map(&p.pk, 2);
    s_key(&p, "source"), msgpack_pack_str_with_body(&p.pk, "x", 1);
    s_key(&p, "table"), msgpack_pack_true(&p.pk);
    stage_extract_in_t xin;
    rc = stage_extract_in_decode((uint8_t *)p.sb.data, p.sb.size, &xin, &err);
    msgpack_sbuffer_destroy(&p.sb);
    CHECK_INT(rc, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "table: expected bin or nil, got bool");

    //  nesting deeper than the table needs is refused before decoding
    static const uint8_t deep[] = {0x81, 0xa4, 'r', 'o', 'w', 's', 0x91, 0x91, 0x91, 0x90};
    stage_extract_out_t xout;
    CHECK_INT(stage_extract_out_decode(deep, sizeof deep, &xout, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "payload: msgpack nested deeper than 2");

    //  a string filling its whole array is cut to fit, so it decodes again
    stage_train_out_t tout = {.artifact = (const uint8_t *)"", .artifact_len = 0};
    memset(tout.family, 'f', sizeof tout.family);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(stage_train_out_encode(&tout, &buf, &len), 0);
    rc = stage_train_out_decode(buf, len, &tout, &err);
    free(buf);
    CHECK_INT(rc, 0);
    CHECK_INT(strlen(tout.family), sizeof tout.family - 1);
}

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

int main(void)
{
    RUN(test_train_in_round_trip);
    RUN(test_evaluate_round_trip_and_limits);
    RUN(test_decode_errors_name_the_key);
    RUN(test_nested_error_path);
    RUN(test_payload_strictness);
    RUN(test_control_lists_are_strict);
    RUN(test_control_status_and_retrain);
    RUN(test_control_runs_and_models);
    return TEST_REPORT("test_stage_io");
}
