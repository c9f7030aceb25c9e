/*  test_broker.c: the broker's logic without sockets: the DAG state machine
    (fan-out, fan-in, retries with backoff, resume), the dispatcher (LRU idle
    workers, per-stage queues), the promotion rule and the registry on a
    real store in a temporary directory. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "control_io.h"
#include "dag.h"
#include "dispatch.h"
#include "msg.h"
#include "registry.h"
#include "store.h"
#include "testing.h"

static const char *s_families[] = {"logreg", "forest"};
static const dag_policy_t s_policy = {.max_attempts = 3, .backoff_msec = 100, .backoff_max_msec = 250};

static void s_running_run(run_t *run, uint64_t id)
{
    memset(run, 0, sizeof *run);
    run->id = id;
    run->state = RUN_RUNNING;
}

static void test_dag_plan_fans_out_train(void)
{
    run_t run;
    s_running_run(&run, 7);
    CHECK_INT(dag_plan(&run, s_families, 2), 0);
    CHECK_INT(run.n_tasks, 6);
    CHECK_STR(run.tasks[0].task_id, "7-extract");
    CHECK_STR(run.tasks[2].task_id, "7-train-logreg");
    CHECK_STR(run.tasks[3].task_id, "7-train-forest");
    CHECK_STR(run.tasks[3].family, "forest");
    CHECK_STR(run.tasks[5].task_id, "7-load_model");
    CHECK_INT(dag_task_stage(&run.tasks[4]), STAGE_EVALUATE);
    run_clear(&run);
    s_running_run(&run, 1);
    CHECK_INT(dag_plan(&run, s_families, 0), MLOPS_EINVAL);
    CHECK_INT(dag_plan(&run, s_families, DAG_FAMILIES_MAX + 1), MLOPS_EINVAL);
    run_clear(&run);
}

static void test_dag_ready_follows_stages(void)
{
    run_t run;
    s_running_run(&run, 1);
    CHECK_INT(dag_plan(&run, s_families, 2), 0);
    CHECK(dag_task_ready(&run, &run.tasks[0], 0));
    CHECK(!dag_task_ready(&run, &run.tasks[1], 0));
    dag_task_start(&run, &run.tasks[0], "h:1", 10);
    CHECK(!dag_task_ready(&run, &run.tasks[0], 10));   //  running, not pending
    CHECK(!dag_task_done(&run, &run.tasks[0], 20));
    dag_task_start(&run, &run.tasks[1], "h:2", 30);
    dag_task_done(&run, &run.tasks[1], 40);
    //  both train tasks are ready together (fan-out), evaluate waits for both (fan-in)
    CHECK(dag_task_ready(&run, &run.tasks[2], 50));
    CHECK(dag_task_ready(&run, &run.tasks[3], 50));
    dag_task_start(&run, &run.tasks[2], "h:3", 50);
    dag_task_done(&run, &run.tasks[2], 60);
    CHECK(!dag_task_ready(&run, &run.tasks[4], 60));
    dag_task_start(&run, &run.tasks[3], "h:4", 50);
    dag_task_done(&run, &run.tasks[3], 70);
    CHECK(dag_task_ready(&run, &run.tasks[4], 70));
    dag_task_start(&run, &run.tasks[4], "h:5", 70);
    dag_task_done(&run, &run.tasks[4], 80);
    dag_task_start(&run, &run.tasks[5], "h:6", 80);
    CHECK(dag_task_done(&run, &run.tasks[5], 90));
    CHECK_INT(run.state, RUN_SUCCEEDED);
    CHECK_INT(run.ended_ms, 90);
    CHECK_INT(run.started_ms, 10);
    run_clear(&run);
}

static void test_dag_retry_with_backoff_then_fail(void)
{
    run_t run;
    s_running_run(&run, 2);
    CHECK_INT(dag_plan(&run, s_families, 2), 0);
    run_task_t *t = &run.tasks[0];
    dag_task_start(&run, t, "h:1", 1000);
    CHECK_INT(dag_task_fail(&run, t, "boom 1", &s_policy, 1100), DAG_RETRY);
    CHECK_INT(t->state, TASK_PENDING);
    CHECK_INT(t->retry_at_ms, 1200);                 //  backoff 100 ms after attempt 1
    CHECK(!dag_task_ready(&run, t, 1199));
    CHECK(dag_task_ready(&run, t, 1200));
    CHECK_INT(dag_next_retry_ms(&run), 1200);
    dag_task_start(&run, t, "h:1", 1200);
    CHECK_INT(dag_task_fail(&run, t, "boom 2", &s_policy, 1300), DAG_RETRY);
    CHECK_INT(t->retry_at_ms, 1500);                 //  doubled
    dag_task_start(&run, t, "h:1", 1500);
    CHECK_INT(t->attempts, 3);
    CHECK_INT(dag_task_fail(&run, t, "boom 3", &s_policy, 1600), DAG_RUN_FAILED);
    CHECK_INT(t->state, TASK_FAILED);
    CHECK_INT(run.state, RUN_FAILED);
    CHECK_CONTAINS(run.error, "2-extract failed after 3 attempts: boom 3");
    CHECK_STR(t->error, "boom 3");
    run_clear(&run);
}

static void test_dag_backoff_is_capped(void)
{
    CHECK_INT(dag_backoff_msec(&s_policy, 1), 100);
    CHECK_INT(dag_backoff_msec(&s_policy, 2), 200);
    CHECK_INT(dag_backoff_msec(&s_policy, 3), 250);
    CHECK_INT(dag_backoff_msec(&s_policy, 30), 250);
}

static void test_dag_resume_requeues_running_tasks(void)
{
    run_t run;
    s_running_run(&run, 3);
    CHECK_INT(dag_plan(&run, s_families, 2), 0);
    dag_task_start(&run, &run.tasks[0], "h:1", 1);
    dag_task_done(&run, &run.tasks[0], 2);
    dag_task_start(&run, &run.tasks[1], "h:9", 3);
    CHECK_INT(dag_resume(&run, 5), 1);
    CHECK_INT(run.tasks[1].state, TASK_PENDING);
    CHECK_INT(run.tasks[1].attempts, 0);             //  the interrupted dispatch does not count
    CHECK_CONTAINS(run.tasks[1].error, "broker restart");
    CHECK_INT(run.tasks[0].state, TASK_DONE);        //  settled work is kept
    CHECK(dag_task_ready(&run, &run.tasks[1], 5));
    CHECK(dag_task_find(&run, "3-preprocess") == &run.tasks[1]);
    CHECK(dag_task_find(&run, "4-preprocess") == NULL);
    run_clear(&run);
}

static void test_dispatch_lru_and_queues(void)
{
    dispatch_t *d = dispatch_new();
    CHECK(d);
    dispatch_worker_t *a = dispatch_worker_add(d, (const uint8_t *)"A", 1, STAGE_TRAIN, "h", 1, 100);
    dispatch_worker_t *b = dispatch_worker_add(d, (const uint8_t *)"B", 1, STAGE_TRAIN, "h", 2, 50);
    dispatch_worker_add(d, (const uint8_t *)"C", 1, STAGE_EXTRACT, "h", 3, 10);
    CHECK(dispatch_worker_add(d, (const uint8_t *)"", 0, STAGE_TRAIN, "h", 4, 0) == NULL);
    CHECK_INT(dispatch_worker_count(d), 3);
    CHECK_INT(dispatch_stage_workers(d, STAGE_TRAIN), 2);
    CHECK(dispatch_idle_lru(d, STAGE_TRAIN) == b);   //  idle longest
    dispatch_worker_assign(b, "1-train-logreg", 200);
    CHECK(dispatch_idle_lru(d, STAGE_TRAIN) == a);
    dispatch_worker_assign(a, "1-train-forest", 200);
    CHECK(dispatch_idle_lru(d, STAGE_TRAIN) == NULL);
    CHECK(dispatch_idle_lru(d, STAGE_EVALUATE) == NULL);
    dispatch_worker_release(b, 300);
    dispatch_worker_release(a, 310);
    CHECK(dispatch_idle_lru(d, STAGE_TRAIN) == b);
    CHECK_STR(b->task_id, "");
    CHECK(dispatch_worker_find(d, (const uint8_t *)"A", 1) == a);
    dispatch_worker_remove(d, a);
    CHECK(dispatch_worker_find(d, (const uint8_t *)"A", 1) == NULL);
    CHECK_INT(dispatch_worker_count(d), 2);

    char id[48];
    CHECK_INT(dispatch_queue_push(d, STAGE_TRAIN, "1-train-logreg"), 0);
    CHECK_INT(dispatch_queue_push(d, STAGE_TRAIN, "1-train-forest"), 0);
    CHECK_INT(dispatch_queue_push(d, STAGE_TRAIN, "1-train-logreg"), 0);   //  once only
    CHECK_INT(dispatch_queue_len(d, STAGE_TRAIN), 2);
    CHECK(dispatch_queue_contains(d, "1-train-forest"));
    CHECK(dispatch_queue_pop(d, STAGE_TRAIN, id));
    CHECK_STR(id, "1-train-logreg");                 //  FIFO
    dispatch_queue_remove(d, "1-train-forest");
    CHECK(!dispatch_queue_pop(d, STAGE_TRAIN, id));
    CHECK(!dispatch_queue_pop(d, STAGE_EXTRACT, id));
    char long_id[80];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    CHECK_INT(dispatch_queue_push(d, STAGE_TRAIN, long_id), MLOPS_EINVAL);
    dispatch_destroy(&d);
    CHECK(d == NULL);
    dispatch_destroy(&d);
}

static stage_evaluate_out_t s_eval(double auc_a, double auc_b, int64_t prod_version, double prod_auc)
{
    stage_evaluate_out_t ev = {0};
    snprintf(ev.scored[0].key, sizeof ev.scored[0].key, "1-train-logreg");
    snprintf(ev.scored[0].family, sizeof ev.scored[0].family, "logreg");
    ev.scored[0].metrics.auc = auc_a;
    ev.scored[0].metrics.log_loss = 0.4;
    snprintf(ev.scored[1].key, sizeof ev.scored[1].key, "1-train-forest");
    snprintf(ev.scored[1].family, sizeof ev.scored[1].family, "forest");
    ev.scored[1].metrics.auc = auc_b;
    ev.scored[1].metrics.log_loss = 0.6;
    ev.n_scored = 2;
    ev.production_version = prod_version;
    ev.production.auc = prod_auc;
    ev.production.log_loss = 0.5;
    return ev;
}

static void test_registry_rule(void)
{
    registry_rule_t rule = {.metric = "auc", .margin = 0};
    registry_decision_t d;
    stage_evaluate_out_t ev = s_eval(0.88, 0.83, 0, 0);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 0);
    CHECK(d.promote);
    CHECK_CONTAINS(d.reason, "first version");
    ev = s_eval(0.80, 0.86, 3, 0.85);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 1);
    CHECK(d.promote);
    CHECK_CONTAINS(d.reason, "beats production v3");
    ev = s_eval(0.85, 0.80, 3, 0.85);                //  a tie does not beat
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK(!d.promote);
    CHECK_CONTAINS(d.reason, "does not beat production v3");
    rule.margin = 0.02;
    ev = s_eval(0.86, 0.80, 3, 0.85);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK(!d.promote);                               //  +0.01 is not over the margin
    CHECK_CONTAINS(d.reason, "margin 0.02");
    snprintf(rule.metric, sizeof rule.metric, "log_loss");   //  lower is better
    rule.margin = 0;
    ev = s_eval(0.5, 0.5, 3, 0.5);
    CHECK_INT(registry_decide(&rule, &ev, &d), 0);
    CHECK_INT(d.best, 0);
    CHECK(d.promote);                                //  0.4 < production's 0.5
    snprintf(rule.metric, sizeof rule.metric, "speed");
    CHECK_INT(registry_decide(&rule, &ev, &d), MLOPS_EINVAL);
    ev.n_scored = 0;
    snprintf(rule.metric, sizeof rule.metric, "auc");
    CHECK_INT(registry_decide(&rule, &ev, &d), MLOPS_EINVAL);
    double v;
    CHECK_INT(registry_metric(&ev.production, "nope", &v), MLOPS_EINVAL);
}

static uint64_t s_register(store_t *store, uint64_t run_id, bool promote, const char *artifact)
{
    run_t run = {.id = run_id};
    stage_train_out_t cand = {.artifact = (const uint8_t *)artifact, .artifact_len = strlen(artifact)};
    snprintf(cand.family, sizeof cand.family, "logreg");
    metrics_t m = {.auc = 0.9};
    version_t v;
    mlops_err_t err;
    store_txn_t *txn = store_begin(store, &err);
    if (!txn || registry_register(store, txn, &run, &cand, &m, promote, "test", 1, &v, &err) ||
        store_commit(&txn, &err))
        return 0;
    return v.version;
}

static int s_promote(store_t *store, uint64_t version, uint64_t *previous, mlops_err_t *err)
{
    store_txn_t *txn = store_begin(store, err);
    int rc = registry_promote(store, txn, version, "promote", "because", 5, previous, err);
    if (rc) {
        store_abort(&txn);
        return rc;
    }
    return store_commit(&txn, err);
}

static void test_registry_store_promote_rollback(void)
{
    char dir[] = "/tmp/mlops-test-registry-XXXXXX";
    CHECK(mkdtemp(dir));
    mlops_err_t err;
    mlops_err_clear(&err);
    store_t *store = store_open(dir, NULL, &err);
    CHECK(store);
    version_t prod;
    CHECK_INT(registry_production(store, &prod, &err), MLOPS_ENOTFOUND);
    uint64_t v1 = s_register(store, 1, true, "artifact-1");
    uint64_t v2 = s_register(store, 2, true, "artifact-2");
    uint64_t v3 = s_register(store, 3, false, "artifact-3");
    CHECK_INT(v1, 1);
    CHECK_INT(v3, 3);
    version_t v;
    CHECK_INT(store_version_get(store, NULL, v3, &v, &err), 0);
    CHECK_INT(v.stage, VERSION_ARCHIVED);
    CHECK_INT(v.artifact_len, 10);
    uint64_t previous = 99;
    CHECK_INT(s_promote(store, v1, &previous, &err), 0);
    CHECK_INT(previous, 0);
    CHECK_INT(s_promote(store, v2, &previous, &err), 0);
    CHECK_INT(previous, v1);
    CHECK_INT(s_promote(store, v2, &previous, &err), MLOPS_ESTATE);
    CHECK_CONTAINS(err.msg, "already in production");
    CHECK_INT(s_promote(store, 42, &previous, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no version 42");
    CHECK_INT(store_version_get(store, NULL, v1, &v, &err), 0);
    CHECK_INT(v.stage, VERSION_ARCHIVED);
    CHECK_CONTAINS(v.reason, "replaced by v2");
    //  rollback restores v1, a second one finds nothing before v1
    uint64_t restored = 0;
    store_txn_t *txn = store_begin(store, &err);
    CHECK_INT(registry_rollback(store, txn, "bad model", 6, &restored, &previous, &err), 0);
    CHECK_INT(store_commit(&txn, &err), 0);
    CHECK_INT(restored, v1);
    CHECK_INT(previous, v2);
    CHECK_INT(registry_production(store, &prod, &err), 0);
    CHECK_INT(prod.version, v1);
    txn = store_begin(store, &err);
    CHECK_INT(registry_rollback(store, txn, "again", 7, &restored, &previous, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "nothing to roll back to");
    store_abort(&txn);
    audit_t *log = NULL;
    size_t n = 0;
    CHECK_INT(store_audit_list(store, &log, &n, &err), 0);
    CHECK_INT(n, 3);
    CHECK_STR(log[2].action, "rollback");
    CHECK_STR(log[2].reason, "bad model");
    CHECK_INT(log[2].version, v1);
    CHECK_INT(log[2].previous, v2);
    free(log);
    store_destroy(&store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
}

//  The broker's own stall (a long handler) is not the workers' silence: a
//  worker that heartbeated just before it survives, whatever its length;
//  one that was already silent before it still expires, the stall aside.
static void test_dispatch_stall_is_forgiven(void)
{
    const int64_t life = 1500, gap = 200;   //  liveness period, expected loop gap
    dispatch_t *d = dispatch_new();
    dispatch_worker_t *a = dispatch_worker_add(d, (const uint8_t *)"A", 1, STAGE_TRAIN, "h", 1, 0);
    dispatch_worker_t *b = dispatch_worker_add(d, (const uint8_t *)"B", 1, STAGE_TRAIN, "h", 2, 0);
    CHECK_INT(dispatch_awake(d, 1000, gap), 0);          //  first turn: only noted
    a->expires_mono = 1000 + life;                        //  heartbeat at 1000
    b->expires_mono = 100 + life;                         //  silent since 100
    CHECK(dispatch_expired(d, 1050) == NULL);
    CHECK_INT(dispatch_awake(d, 1100, gap), 0);           //  a normal turn forgives nothing
    //  the loop stalls from 1100 to 11100, ten liveness periods
    CHECK_INT(dispatch_awake(d, 11100, gap), 10000 - gap);
    CHECK_INT(a->expires_mono, 1000 + life + 10000 - gap);
    CHECK(dispatch_expired(d, 11100) == NULL);            //  nobody lost for our stall
    //  b had 500 ms left before the stall and gets them (plus the normal gap)
    CHECK(dispatch_expired(d, 11100 + 500 + gap) == b);
    dispatch_worker_remove(d, b);
    //  a's heartbeats stopped at 1000: it expires once its time is used up
    CHECK(dispatch_expired(d, 1000 + life + 10000 - gap) == NULL);
    CHECK(dispatch_expired(d, 1000 + life + 10000 - gap + 1) == a);
    dispatch_destroy(&d);
}

//  One control request through broker_control_handle, as the ROUTER gets it
//  ([id, payload]); *reply gets the REPLY (caller destroys) after the
//  flush, NULL when anything on the way failed (reported).
static void s_control(broker_t *b, const proto_msg_t *req, proto_msg_t **reply)
{
    *reply = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(proto_msg_encode(req, &bytes, &len), 0);
    zmsg_t *in = zmsg_new();
    zmsg_addstr(in, "client-1");
    zmsg_addmem(in, bytes, len);
    free(bytes);
    zmsg_t *out = broker_control_handle(b, &in);
    CHECK(in == NULL);
    CHECK(out != NULL);
    CHECK_INT(broker_flush(b), 0);
    char *id = zmsg_popstr(out);
    CHECK_STR(id, "client-1");
    free(id);
    zframe_t *f = zmsg_pop(out);
    mlops_err_t err;
    *reply = proto_msg_decode(zframe_data(f), zframe_size(f), &err);
    zframe_destroy(&f);
    zmsg_destroy(&out);
    CHECK(*reply && (*reply)->cmd == PROTO_REPLY);
}

static void s_retrain(broker_t *b, const char *reason, bool coalesced)
{
    proto_msg_t req = {.cmd = PROTO_RETRAIN};
    req.retrain.source = "synthetic:100:1";
    req.retrain.reason = reason;
    proto_msg_t *reply;
    s_control(b, &req, &reply);
    CHECK(reply && reply->reply.ok);
    control_retrain_t answer;
    mlops_err_t err;
    CHECK_INT(control_retrain_decode(reply->reply.data, reply->reply.data_len, &answer, &err), 0);
    CHECK_INT(answer.coalesced, coalesced);
    proto_msg_destroy(&reply);
}

//  The control handler without sockets: triggers fold into the queued run
//  and keep their reasons; a bad envelope and a non-control command are
//  answered with why.
static void test_broker_control_in_process(void)
{
    char dir[] = "/tmp/mlops-test-control-XXXXXX";
    CHECK(mkdtemp(dir));
    broker_config_t cfg;
    broker_config_defaults(&cfg);
    cfg.store_dir = dir;
    cfg.no_sync = true;
    mlops_err_t err;
    broker_t *b = broker_new_detached(&cfg, &err);
    CHECK(b != NULL);
    s_retrain(b, "first", false);      //  run 1 starts (no worker will take it)
    proto_msg_t st_req = {.cmd = PROTO_STATUS};
    proto_msg_t *st_reply;
    s_control(b, &st_req, &st_reply);
    CHECK(st_reply && st_reply->reply.ok);
    control_status_t st;
    CHECK_INT(control_status_decode(st_reply->reply.data, st_reply->reply.data_len, &st, &err), 0);
    CHECK_INT(st.active_run, 1);
    CHECK_STR(st.waiting, "1-extract waits: no extract worker is connected");
    control_status_clear(&st);
    proto_msg_destroy(&st_reply);
    s_retrain(b, "nightly", false);    //  run 2 is queued
    s_retrain(b, "data changed", true);
    s_retrain(b, "nightly", true);     //  a reason already there is not repeated
    proto_msg_t req = {.cmd = PROTO_RUNS};
    proto_msg_t *reply;
    s_control(b, &req, &reply);
    CHECK(reply && reply->reply.ok);
    control_runs_t runs;
    CHECK_INT(control_runs_decode(reply->reply.data, reply->reply.data_len, &runs, &err), 0);
    CHECK_INT(runs.n_runs, 2);
    CHECK_INT(runs.runs[0].id, 2);     //  newest first
    CHECK_INT(runs.runs[0].coalesced, 2);
    CHECK_STR(runs.runs[0].reason, "nightly; data changed");
    CHECK_STR(runs.runs[1].reason, "first");
    control_runs_clear(&runs);
    proto_msg_destroy(&reply);
    //  a command that is not for the control socket
    proto_msg_t hb = {.cmd = PROTO_HEARTBEAT};
    hb.heartbeat.task_id = "";
    s_control(b, &hb, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_CONTAINS(reply->reply.error, "HEARTBEAT is not a control command");
    proto_msg_destroy(&reply);
    //  an envelope with two extra frames, and one with no payload at all
    zmsg_t *in = zmsg_new();
    zmsg_addstr(in, "client-2");
    zmsg_addstr(in, "x");
    zmsg_addstr(in, "y");
    zmsg_addstr(in, "z");
    zmsg_t *out = broker_control_handle(b, &in);
    CHECK(out && zmsg_size(out) == 2);
    zframe_t *f = zmsg_last(out);
    reply = proto_msg_decode(zframe_data(f), zframe_size(f), &err);
    CHECK(reply && !reply->reply.ok);
    CHECK_CONTAINS(reply->reply.error, "malformed envelope: 3 frames");
    proto_msg_destroy(&reply);
    zmsg_destroy(&out);
    in = zmsg_new();
    zmsg_addstr(in, "client-3");
    out = broker_control_handle(b, &in);
    CHECK(out && zmsg_size(out) == 2);
    reply = proto_msg_decode(zframe_data(zmsg_last(out)), zframe_size(zmsg_last(out)), &err);
    CHECK(reply && !reply->reply.ok);
    CHECK_CONTAINS(reply->reply.error, "malformed envelope: 0 frames");
    proto_msg_destroy(&reply);
    zmsg_destroy(&out);
    broker_destroy(&b);
    zdir_t *d = zdir_new(dir, NULL);
    zdir_remove(d, true);
    zdir_destroy(&d);
}

//  SERVING on the control socket: a report is answered with the production
//  version and shows in STATUS; a report that breaks the rules of the
//  fleet is refused naming the field and changes nothing.
static void test_broker_serving_reports(void)
{
    char dir[] = "/tmp/mlops-test-serving-XXXXXX";
    CHECK(mkdtemp(dir));
    broker_config_t cfg;
    broker_config_defaults(&cfg);
    cfg.store_dir = dir;
    cfg.no_sync = true;
    mlops_err_t err;
    broker_t *b = broker_new_detached(&cfg, &err);
    CHECK(b != NULL);
    proto_msg_t req = {.cmd = PROTO_SERVING};
    req.serving.host = "infer-host\x01";   //  a control byte from a peer is sanitised
    req.serving.pid = 77;
    req.serving.model_version = 0;
    proto_msg_t *reply;
    s_control(b, &req, &reply);
    CHECK(reply && reply->reply.ok);
    control_serving_t answer;
    CHECK_INT(control_serving_decode(reply->reply.data, reply->reply.data_len, &answer, &err), 0);
    CHECK_INT(answer.production_version, 0);
    proto_msg_destroy(&reply);
    struct { const char *host; int64_t pid, interval_ms; const char *error; } bad[] = {
        {"", 5, 0, "SERVING: host is empty"},
        {"h", 0, 0, "SERVING: pid must be a process id > 0, got 0"},
        {"h", 5, 600001, "SERVING: interval_ms 600001 is over 600000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req.serving.host = bad[i].host;
        req.serving.pid = bad[i].pid;
        req.serving.interval_ms = bad[i].interval_ms;
        s_control(b, &req, &reply);
        CHECK(reply && !reply->reply.ok);
        CHECK_CONTAINS(reply->reply.error, bad[i].error);
        proto_msg_destroy(&reply);
    }
    proto_msg_t st_req = {.cmd = PROTO_STATUS};
    s_control(b, &st_req, &reply);
    CHECK(reply && reply->reply.ok);
    control_status_t st;
    CHECK_INT(control_status_decode(reply->reply.data, reply->reply.data_len, &st, &err), 0);
    proto_msg_destroy(&reply);
    CHECK_INT(st.n_serving, 1);
    CHECK_INT(st.serving[0].pid, 77);
    CHECK_INT(st.serving[0].model_version, 0);
    CHECK(strncmp(st.serving[0].host, "infer-host", 10) == 0 && !strchr(st.serving[0].host, 1));
    CHECK(st.serving[0].last_seen_ms > 0);
    control_status_clear(&st);
    broker_destroy(&b);
    zdir_t *d = zdir_new(dir, NULL);
    zdir_remove(d, true);
    zdir_destroy(&d);
}

//  A STATUS from a broker that predates `serving` still decodes (no key =
//  no inference workers); a wrong `serving` is refused naming it.
static void test_status_serving_key_is_optional(void)
{
    control_status_t st = {.active_run = 2, .production_version = 1};
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(control_status_encode(&st, &bytes, &len), 0);
    //  the encoding ends with "serving": [] (0xa7 "serving" 0x90); cut it off
    //  and lower the map's count: what an older broker sends
    CHECK(len > 9 && bytes[0] == 0x87 && bytes[len - 1] == 0x90 && memcmp(bytes + len - 9, "\xa7serving", 8) == 0);
    bytes[0] = 0x86;
    mlops_err_t err;
    control_status_t got;
    CHECK_INT(control_status_decode(bytes, len - 9, &got, &err), 0);
    CHECK_INT(got.active_run, 2);
    CHECK_INT(got.n_serving, 0);
    CHECK(got.serving == NULL);
    control_status_clear(&got);
    bytes[0] = 0x87;
    bytes[len - 1] = 0x01;   //  "serving": 1
    CHECK_INT(control_status_decode(bytes, len, &got, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "serving: expected array, got integer");
    free(bytes);
}

int main(void)
{
    RUN(test_dag_plan_fans_out_train);
    RUN(test_dag_ready_follows_stages);
    RUN(test_dag_retry_with_backoff_then_fail);
    RUN(test_dag_backoff_is_capped);
    RUN(test_dag_resume_requeues_running_tasks);
    RUN(test_dispatch_lru_and_queues);
    RUN(test_dispatch_stall_is_forgiven);
    RUN(test_broker_control_in_process);
    RUN(test_broker_serving_reports);
    RUN(test_status_serving_key_is_optional);
    RUN(test_registry_rule);
    RUN(test_registry_store_promote_rollback);
    return TEST_REPORT("test_broker");
}
