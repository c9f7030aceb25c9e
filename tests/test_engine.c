/*  test_engine.c: the broker's run engine (broker/engine.c) in process, on a
    broker without sockets, with stage workers entered in its dispatcher by
    hand: a settle and the dispatch it makes possible share one batch, the
    next input read from the batch's uncommitted writes (the run's dataset
    version, the name of the stored table the extract output names); an output that
    does not decode fails only that attempt; the queued run starts when the
    active one ends; a store that refuses writes holds the engine off and
    fails the run once; retention at a run end keeps what is named,
    production, its rollback target and an active rollout's candidate.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker_fixtures.h"
#include "broker_internal.h"
#include "dag.h"
#include "registry.h"
#include "stage_io.h"
#include "table.h"
#include "testing.h"


static dispatch_worker_t *s_worker(broker_t *b, const char *id, stage_t stage)
{
    return dispatch_worker_add(b->dispatch, (const uint8_t *)id, strlen(id), stage, "test-host", 1,
                               zclock_mono());
}

//  A one-column table of rows rows stored as an object in b's store (as
//  the data service stores an upload): its name in hash, its size in *size.
static int s_store_table(broker_t *b, size_t rows, char hash[HASH_HEX_LEN + 1], int64_t *size)
{
    double values[4] = {1, 2, 3, 4};
    table_t *t = table_new(rows);
    uint8_t *bytes = NULL;
    size_t len = 0;
    mlops_err_t err;
    int rc = t ? table_add_number(t, "x", values, NULL) : MLOPS_ENOMEM;
    if (rc == 0)
        rc = table_encode(t, &bytes, &len);
    if (rc == 0)
        rc = store_object_put(b->store, NULL, bytes, len, hash, &err);
    *size = (int64_t)len;
    table_destroy(&t);
    free(bytes);
    return rc;
}

//  A dataset hash the retention test stores under by hand.
#define S_HASH "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

//  The encoded output of an extract task naming the object hash of size.
static int s_extract_out(const char *hash, int64_t size, uint8_t **out, size_t *len)
{
    stage_extract_out_t p = {.table = {.size = size}};
    snprintf(p.table.hash, sizeof p.table.hash, "%s", hash);
    return stage_extract_out_encode(&p, out, len);
}

//  RESULT ok=true of worker w for the task it holds, as the work socket
//  handles it: release, settle, pump.
static void s_result(broker_t *b, dispatch_worker_t *w, const uint8_t *output, size_t len)
{
    run_task_t *t = dag_task_find(&b->active, w->task_id);
    dispatch_worker_release(w, zclock_mono());
    if (t)
        engine_task_succeeded(b, t, output, len);
    engine_pump(b);
}

//  A broker whose run 1 (synthetic source) has its extract task in hand
//  by the extract worker *e, committed. NULL when anything failed.
static broker_t *s_started(char dir[64], dispatch_worker_t **e)
{
    broker_t *b = fx_broker(dir, "engine");
    *e = b ? s_worker(b, "E", STAGE_EXTRACT) : NULL;
    control_retrain_t answer = {0};
    mlops_err_t err;
    mlops_err_clear(&err);
    if (!*e || engine_trigger(b, "synthetic:10:1", "test", &answer, &err) != 0)
        return b;
    engine_pump(b);
    if (broker_flush(b) != 0 || strcmp((*e)->task_id, "1-extract") != 0)
        *e = NULL;
    return b;
}

//  Extract settles and preprocess is dispatched in the same batch: the
//  preprocess input is built from the dataset the settle wrote and has not
//  committed yet (read through the batch's transaction, no cache beside it).
static void test_engine_next_input_reads_the_batch(void)
{
    char dir[64];
    dispatch_worker_t *e;
    broker_t *b = s_started(dir, &e);
    CHECK(b != NULL && e != NULL);
    dispatch_worker_t *p = s_worker(b, "P", STAGE_PREPROCESS);
    CHECK(p);
    mlops_err_t err;
    uint8_t *out = NULL;
    size_t len = 0;
    char hash[HASH_HEX_LEN + 1];
    int64_t size = 0;
    CHECK_INT(s_store_table(b, 4, hash, &size), 0);
    CHECK_INT(s_extract_out(hash, size, &out, &len), 0);
    s_result(b, e, out, len);
    free(out);
    run_task_t *pre = dag_task_find(&b->active, "1-preprocess");
    CHECK(pre != NULL);
    CHECK_STR(pre->error, "");                       //  its input was built
    CHECK_INT(pre->state, TASK_RUNNING);
    CHECK_INT(pre->attempts, 1);
    CHECK_STR(p->task_id, "1-preprocess");
    run_t stored;
    CHECK_INT(store_run_get(b->store, NULL, 1, &stored, &err), 0);
    CHECK_STR(stored.dataset_hash, "");              //  not committed yet
    run_clear(&stored);
    CHECK_INT(broker_flush(b), 0);                   //  one commit: settle and dispatch
    CHECK_INT(store_run_get(b->store, NULL, 1, &stored, &err), 0);
    CHECK_STR(stored.dataset_hash, hash);
    CHECK_INT(stored.tasks[0].state, TASK_DONE);
    CHECK_INT(stored.tasks[1].state, TASK_RUNNING);
    run_clear(&stored);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  An output that does not decode, or names no sha256, fails the attempt
//  with why (the task waits for its retry) and stores nothing of it.
static void test_engine_bad_output_fails_the_attempt(void)
{
    char dir[64];
    dispatch_worker_t *e;
    broker_t *b = s_started(dir, &e);
    CHECK(b != NULL && e != NULL);
    mlops_err_t err;
    s_result(b, e, (const uint8_t *)"\xc1", 1);      //  0xc1: never valid msgpack
    run_task_t *t = &b->active.tasks[0];
    CHECK_INT(t->state, TASK_PENDING);
    CHECK_INT(t->attempts, 1);
    CHECK_CONTAINS(t->error, "bad extract output: ");
    CHECK(t->retry_at_ms > 0);
    CHECK_INT(b->active.state, RUN_RUNNING);
    CHECK_INT(broker_flush(b), 0);
    //  the retry: the worker takes it once its backoff has passed
    t->retry_at_ms = 0;
    engine_pump(b);
    CHECK_STR(e->task_id, "1-extract");
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_INT(s_extract_out("not-a-hash", 1, &out, &len), 0);
    s_result(b, e, out, len);
    free(out);
    t = &b->active.tasks[0];
    CHECK_INT(t->attempts, 2);
    CHECK_CONTAINS(t->error, "extract output: table 'not-a-hash' is not a sha256");
    CHECK_STR(b->active.dataset_hash, "");
    CHECK_INT(broker_flush(b), 0);
    run_t stored;
    CHECK_INT(store_run_get(b->store, NULL, 1, &stored, &err), 0);
    CHECK_INT(stored.tasks[0].attempts, 2);
    CHECK_INT(stored.tasks[0].state, TASK_PENDING);
    run_clear(&stored);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  When the active run fails, the queued one starts at once, with every
//  reason that folded into it.
static void test_engine_queued_run_starts_after_failure(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "engine");
    CHECK(b != NULL);
    b->cfg.policy.max_attempts = 1;
    control_retrain_t answer = {0};
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(engine_trigger(b, "", "first", &answer, &err), 0);
    CHECK_INT(engine_trigger(b, "", "second", &answer, &err), 0);
    CHECK_STR(answer.state, "queued");
    CHECK_INT(engine_trigger(b, "", "third", &answer, &err), 0);
    CHECK(answer.coalesced);
    CHECK_INT(broker_flush(b), 0);
    run_task_t *t = &b->active.tasks[0];
    dag_task_start(&b->active, t, "test", broker_wall());
    engine_task_failed(b, t, "boom");
    CHECK_INT(b->active.id, 2);
    CHECK_STR(b->active.reason, "second; third");
    CHECK_STR(b->active.source, "synthetic");        //  the default source
    CHECK_INT(b->queued_id, 0);
    CHECK_INT(broker_flush(b), 0);
    run_t stored;
    CHECK_INT(store_run_get(b->store, NULL, 1, &stored, &err), 0);
    CHECK_INT(stored.state, RUN_FAILED);
    CHECK_CONTAINS(stored.error, "1-extract failed after 1 attempt: boom");
    run_clear(&stored);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  One control request (RETRAIN or STATUS) through broker_control_handle,
//  as the control socket handles it; its REPLY (caller destroys), or NULL.
static proto_msg_t *s_control(broker_t *b, proto_cmd_t cmd)
{
    proto_msg_t req = {.cmd = cmd};
    req.retrain.source = "";
    req.retrain.reason = "";
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (proto_msg_encode(&req, &bytes, &len) != 0)
        return NULL;
    zmsg_t *in = zmsg_new();
    zmsg_addstr(in, "client");
    zmsg_addmem(in, bytes, len);
    free(bytes);
    zmsg_t *out = broker_control_handle(b, &in);
    broker_flush(b);
    free(out ? zmsg_popstr(out) : NULL);
    zframe_t *f = out ? zmsg_pop(out) : NULL;
    mlops_err_t err;
    proto_msg_t *reply = f ? proto_msg_decode(zframe_data(f), zframe_size(f), &err) : NULL;
    zframe_destroy(&f);
    zmsg_destroy(&out);
    return reply;
}

//  A disk that refuses writes (ENOSPC, injected): the commit of a settle is
//  refused, and so is the run's failure; the engine then holds off (no
//  dispatch, the task stays with no worker), answers RETRAIN `unavailable`
//  naming the cause and still answers reads. Once the disk takes writes and
//  the hold has passed, the run fails, once, with the cause; no retry.
static void test_engine_store_refusal_holds_then_fails_the_run_once(void)
{
    char dir[64];
    dispatch_worker_t *e;
    broker_t *b = s_started(dir, &e);
    CHECK(b != NULL && e != NULL);
    char hash[HASH_HEX_LEN + 1];
    int64_t size = 0;
    CHECK_INT(s_store_table(b, 4, hash, &size), 0);   //  uploaded before the disk fails
    store_inject_fault(b->store, ENOSPC);
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_INT(s_extract_out(hash, size, &out, &len), 0);
    s_result(b, e, out, len);
    free(out);
    CHECK_INT(broker_flush(b), ENOSPC);
    CHECK(outage_holding(&b->outage, zclock_mono()));
    CHECK_INT(b->outage.refusals, 2);                 //  the settle, then the run's failure
    CHECK_INT(b->outage.fail_run, 1);
    CHECK_INT(b->active.state, RUN_RUNNING);          //  as the store has it
    CHECK_INT(b->active.tasks[0].state, TASK_PENDING);
    for (int i = 0; i < 3; i++) {
        engine_pump(b);
        CHECK_INT(broker_flush(b), 0);
    }
    CHECK_STR(e->task_id, "");                        //  not dispatched again
    CHECK_INT(b->active.tasks[0].attempts, 0);

    proto_msg_t *reply = s_control(b, PROTO_RETRAIN);
    CHECK(reply != NULL);
    CHECK(!reply->reply.ok);
    CHECK_STR(reply->reply.code, "unavailable");
    CHECK_CONTAINS(reply->reply.error, "RETRAIN: store unavailable, retry in ");
    CHECK_CONTAINS(reply->reply.error, "disk full: free space on the file system of ");
    proto_msg_destroy(&reply);
    reply = s_control(b, PROTO_STATUS);
    CHECK(reply && reply->reply.ok);
    proto_msg_destroy(&reply);

    store_inject_fault(b->store, 0);
    b->outage.until_mono = 0;                         //  the hold has passed
    engine_pump(b);
    CHECK(!outage_active(&b->outage));
    CHECK_INT(b->active.id, 0);
    mlops_err_t err;
    run_t stored;
    CHECK_INT(store_run_get(b->store, NULL, 1, &stored, &err), 0);
    CHECK_INT(stored.state, RUN_FAILED);
    CHECK_CONTAINS(stored.error, "1-extract failed after 1 attempt: disk full: free space");
    run_clear(&stored);
    reply = s_control(b, PROTO_RETRAIN);              //  writes are taken again
    CHECK(reply && reply->reply.ok);
    proto_msg_destroy(&reply);
    CHECK_STR(e->task_id, "2-extract");
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  A version with an artifact, stored; promoted when promote.
static int s_version(broker_t *b, uint64_t number, const char *dataset, bool promote)
{
    version_t v = {.version = number, .run_id = 1, .stage = VERSION_ARCHIVED};
    snprintf(v.dataset_hash, sizeof v.dataset_hash, "%s", dataset);
    snprintf(v.family, sizeof v.family, "logreg");
    mlops_err_t err;
    uint64_t previous;
    int rc = store_version_put(b->store, NULL, &v, &err);
    if (rc == 0)
        rc = store_artifact_put(b->store, NULL, number, (const uint8_t *)"model", 5, &err);
    if (rc == 0 && promote)
        rc = registry_promote(b->store, NULL, number, "promote", "test", 1, &previous, &err);
    return rc;
}

//  Ends b's active run (triggered, in the batch): its first task fails.
static void s_fail_active(broker_t *b)
{
    CHECK_INT(broker_flush(b), 0);
    run_task_t *t = &b->active.tasks[0];
    dag_task_start(&b->active, t, "test", broker_wall());
    engine_task_failed(b, t, "boom");
    CHECK_INT(broker_flush(b), 0);
}

//  --keep-runs 1, --keep-versions 1: as runs end, older ended runs go with
//  their outputs and a dataset nothing kept names; versions beyond the
//  newest go, but never production (v2) nor its rollback target (v1); the
//  running run stays.
static void test_engine_retention_keeps_what_is_named(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "engine");
    CHECK(b != NULL);
    b->cfg.policy.max_attempts = 1;
    b->cfg.keep_runs = 1;
    b->cfg.keep_versions = 1;
    mlops_err_t err;
    static const char other[] = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    CHECK_INT(store_dataset_put(b->store, NULL, S_HASH, (const uint8_t *)"t", 1, &err), 0);
    CHECK_INT(store_dataset_put(b->store, NULL, other, (const uint8_t *)"t", 1, &err), 0);
    CHECK_INT(s_version(b, 1, other, true), 0);
    CHECK_INT(s_version(b, 2, other, true), 0);       //  production, v1 its rollback target
    CHECK_INT(s_version(b, 3, other, false), 0);
    CHECK_INT(s_version(b, 4, other, false), 0);
    control_retrain_t answer = {0};
    mlops_err_clear(&err);
    for (uint64_t id = 1; id <= 3; id++) {
        CHECK_INT(engine_trigger(b, "", "test", &answer, &err), 0);
        CHECK_INT(answer.run_id, id);
        if (id == 1) {
            snprintf(b->active.dataset_hash, sizeof b->active.dataset_hash, "%s", S_HASH);
            CHECK_INT(store_blob_put(b->store, broker_txn(b), "1-extract", (const uint8_t *)"o", 1, &err), 0);
        }
        s_fail_active(b);
    }
    CHECK_INT(engine_trigger(b, "", "queued", &answer, &err), 0);
    CHECK_INT(broker_flush(b), 0);
    run_t *runs = NULL;
    size_t n = 0;
    CHECK_INT(store_run_list(b->store, 0, &runs, &n, &err), 0);
    CHECK_INT(n, 2);                                  //  run 4 (running) and run 3, the newest ended
    CHECK_INT(runs[0].id, 4);
    CHECK_INT(runs[1].id, 3);
    store_runs_free(&runs, n);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_INT(store_blob_get(b->store, NULL, "1-extract", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_dataset_get(b->store, NULL, S_HASH, &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_dataset_get(b->store, NULL, other, &data, &len, &err), 0);   //  versions name it
    free(data);
    version_t *vs = NULL;
    CHECK_INT(store_version_list(b->store, &vs, &n, &err), 0);
    CHECK_INT(n, 3);
    CHECK_INT(vs[0].version, 1);
    CHECK_INT(vs[1].version, 2);
    CHECK_INT(vs[2].version, 4);
    free(vs);
    CHECK_INT(store_artifact_get(b->store, NULL, 3, &data, &len, &err), MLOPS_ENOTFOUND);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  The store's versions are exactly want (ascending, n of them).
static void s_check_versions(broker_t *b, const uint64_t *want, size_t n)
{
    version_t *vs = NULL;
    size_t got = 0;
    mlops_err_t err;
    CHECK_INT(store_version_list(b->store, &vs, &got, &err), 0);
    CHECK_INT(got, n);
    for (size_t i = 0; i < n && i < got; i++)
        CHECK_INT(vs[i].version, want[i]);
    free(vs);
}

//  A run triggered and ended by its task failing, retention in its batch.
static void s_run_ends(broker_t *b)
{
    control_retrain_t answer = {0};
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(engine_trigger(b, "", "test", &answer, &err), 0);
    s_fail_active(b);
}

//  --keep-versions 1 during a shadow of v2: a run end keeps production
//  (v1), the candidate (v2) and the newest (v4) and removes v3; once the
//  shadow is rolled back, the next run end removes v2 as well.
static void test_engine_retention_keeps_the_rollout_candidate(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "engine");
    CHECK(b != NULL);
    b->cfg.policy.max_attempts = 1;
    b->cfg.keep_versions = 1;
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(s_version(b, 1, S_HASH, true), 0);
    for (uint64_t v = 2; v <= 4; v++)
        CHECK_INT(s_version(b, v, S_HASH, false), 0);
    proto_msg_t promote = {.cmd = PROTO_PROMOTE, .promote = {.version = 2, .shadow = true}};
    control_promote_t started;
    CHECK_INT(broker_rollout_start(b, broker_txn(b), &promote, &started, &err), 0);
    CHECK_STR(started.rollout, "shadow");
    CHECK_INT(broker_flush(b), 0);
    s_run_ends(b);
    s_check_versions(b, (const uint64_t[]){1, 2, 4}, 3);
    rollout_state_t ended;
    CHECK_INT(broker_rollout_stop(b, broker_txn(b), "test", &ended, &err), 0);
    CHECK_INT(ended.version, 2);
    CHECK_INT(broker_flush(b), 0);
    s_run_ends(b);
    s_check_versions(b, (const uint64_t[]){1, 4}, 2);
    broker_destroy(&b);
    fx_rmdir(dir);
}

int main(void)
{
    RUN(test_engine_next_input_reads_the_batch);
    RUN(test_engine_bad_output_fails_the_attempt);
    RUN(test_engine_queued_run_starts_after_failure);
    RUN(test_engine_store_refusal_holds_then_fails_the_run_once);
    RUN(test_engine_retention_keeps_what_is_named);
    RUN(test_engine_retention_keeps_the_rollout_candidate);
    return TEST_REPORT("test_engine");
}
