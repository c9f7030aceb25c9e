/*  test_control.c: the broker's control commands (broker/control.c) in
    process, through broker_control_handle on a broker without sockets
    (broker_new_detached): triggers folding into the queued run, SERVING
    reports, refusals that name their reason and reply code (a bad envelope,
    a command that is not a control command, a version that is not there,
    nothing to roll back, no model yet, a schema change promoted without
    saying so), and the STATUS codec's optional key.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "broker_fixtures.h"
#include "broker_internal.h"
#include "control_io.h"
#include "msg.h"
#include "registry.h"
#include "store.h"
#include "testing.h"

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
    char dir[64];
    broker_t *b = fx_broker(dir, "control");
    CHECK(b != NULL);
    mlops_err_t err;
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
    fx_rmdir(dir);
}

//  SERVING on the control socket: a report is answered with the production
//  version and shows in STATUS; a report that breaks the rules of the
//  fleet is refused naming the field and changes nothing.
static void test_broker_serving_reports(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "serving");
    CHECK(b != NULL);
    mlops_err_t err;
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
        {"h", 5, 60001, "SERVING: interval_ms 60001 is over 60000"},
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
    fx_rmdir(dir);
}

//  Names: a SERVING under a name a live worker of another host or pid has
//  is refused with code conflict, naming that worker; the same worker
//  reporting again is an update; a bad name is refused as invalid.
static void test_serving_names_are_unique(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "names");
    CHECK(b != NULL);
    proto_msg_t req = {.cmd = PROTO_SERVING,
                       .serving = {.host = "box", .pid = 1, .model_version = 0, .name = "infer-a"}};
    proto_msg_t *reply;
    s_control(b, &req, &reply);
    CHECK(reply && reply->reply.ok);
    proto_msg_destroy(&reply);
    s_control(b, &req, &reply);   //  the same process again
    CHECK(reply && reply->reply.ok);
    proto_msg_destroy(&reply);
    req.serving.pid = 2;          //  another process, same name
    s_control(b, &req, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_STR(reply->reply.code, "conflict");
    CHECK_CONTAINS(reply->reply.error, "SERVING: the name 'infer-a' is taken by the inference worker "
                                       "'infer-a' on host box pid 1");
    proto_msg_destroy(&reply);
    req.serving.name = "infer b";
    s_control(b, &req, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_STR(reply->reply.code, "invalid");
    CHECK_CONTAINS(reply->reply.error, "not byte 0x20 at 5");
    proto_msg_destroy(&reply);
    req.serving.name = "infer-b";  //  same host and pid as infer-a, another name: another worker
    req.serving.pid = 1;
    s_control(b, &req, &reply);
    CHECK(reply && reply->reply.ok);
    proto_msg_destroy(&reply);
    proto_msg_t st_req = {.cmd = PROTO_STATUS};
    s_control(b, &st_req, &reply);
    control_status_t st;
    mlops_err_t err;
    CHECK_INT(control_status_decode(reply->reply.data, reply->reply.data_len, &st, &err), 0);
    proto_msg_destroy(&reply);
    CHECK_INT(st.n_serving, 2);
    if (st.n_serving == 2) {
        CHECK_STR(st.serving[0].name, "infer-a");
        CHECK_STR(st.serving[1].name, "infer-b");
    }
    control_status_clear(&st);
    broker_destroy(&b);
    fx_rmdir(dir);
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

//  PROMOTE, ROLLBACK and GET_MODEL on an empty registry: each is refused
//  with why and the reply code a client branches on, and changes nothing.
static void test_control_refusals_on_an_empty_registry(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "control");
    CHECK(b != NULL);
    mlops_err_t err;
    proto_msg_t req = {.cmd = PROTO_PROMOTE};
    req.promote.version = 42;
    req.promote.reason = "try";
    proto_msg_t *reply;
    s_control(b, &req, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_CONTAINS(reply->reply.error, "no version 42 in the registry");
    CHECK_STR(reply->reply.code, PROTO_REPLY_NOT_FOUND);
    proto_msg_destroy(&reply);
    proto_msg_t rb = {.cmd = PROTO_ROLLBACK};
    rb.rollback.reason = "";
    s_control(b, &rb, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_CONTAINS(reply->reply.error, "no production version to roll back");
    CHECK_STR(reply->reply.code, PROTO_REPLY_NOT_FOUND);
    proto_msg_destroy(&reply);
    proto_msg_t get = {.cmd = PROTO_GET_MODEL};
    s_control(b, &get, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_CONTAINS(reply->reply.error, "no version is in production yet");
    CHECK_STR(reply->reply.code, PROTO_REPLY_NOT_FOUND);
    proto_msg_destroy(&reply);
    get.get_model.version = 3;
    s_control(b, &get, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_CONTAINS(reply->reply.error, "no version 3");
    proto_msg_destroy(&reply);
    proto_msg_t models = {.cmd = PROTO_MODELS};
    s_control(b, &models, &reply);
    CHECK(reply && reply->reply.ok);
    control_models_t list;
    CHECK_INT(control_models_decode(reply->reply.data, reply->reply.data_len, &list, &err), 0);
    CHECK_INT(list.n_versions, 0);
    CHECK_INT(list.production, 0);
    control_models_clear(&list);
    proto_msg_destroy(&reply);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  A PROMOTE of a version archived for a schema change: refused (conflict,
//  naming --schema-change) unless schema_change says it is meant; then the
//  audit reason says schema-change.
static void test_promote_schema_change(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "control-schema");
    CHECK(b != NULL);
    mlops_err_t err;
    version_t v1 = {.version = 1, .stage = VERSION_PRODUCTION, .reason = "promote: manual"};
    version_t v2 = {.version = 2, .stage = VERSION_ARCHIVED,
                    .reason = REGISTRY_SCHEMA_REASON " v1: fields added: Height"};
    CHECK_INT(store_version_put(b->store, NULL, &v1, &err), 0);
    CHECK_INT(store_version_put(b->store, NULL, &v2, &err), 0);
    proto_msg_t req = {.cmd = PROTO_PROMOTE, .promote = {.version = 2, .reason = "new form"}};
    proto_msg_t *reply;
    s_control(b, &req, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_STR(reply->reply.code, "conflict");
    CHECK_STR(reply->reply.error, "v2 has another schema than production (schema differs "
                                  "from production v1: fields added: Height): promote it with "
                                  "--schema-change if that is meant");
    proto_msg_destroy(&reply);
    req.promote.schema_change = true;
    s_control(b, &req, &reply);
    CHECK(reply && reply->reply.ok);
    proto_msg_destroy(&reply);
    audit_t *log = NULL;
    size_t n = 0;
    CHECK_INT(store_audit_list(b->store, &log, &n, &err), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(log[0].action, "promote");
        CHECK_STR(log[0].reason, "schema-change: new form");
        CHECK_INT(log[0].previous, 1);
    }
    free(log);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  GET_MODEL by_hash: the registry's sha256 and size when the data service
//  holds the artifact as an object; the bytes inline for a version whose
//  bytes an older broker kept apart, and always without by_hash.
static void test_get_model_by_hash_or_inline(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "get-model");
    CHECK(b != NULL);
    mlops_err_t err;
    static const uint8_t old_bytes[] = "an artifact stored before references";
    static const uint8_t new_bytes[] = "an artifact stored as an object";
    version_t v1 = {.version = 1, .family = "logreg"}, v2 = {.version = 2, .family = "forest"};
    hash_sha256_hex(old_bytes, sizeof old_bytes, v1.sha256);
    CHECK_INT(store_version_put(b->store, NULL, &v1, &err), 0);
    CHECK_INT(store_artifact_put(b->store, NULL, 1, old_bytes, sizeof old_bytes, &err), 0);
    CHECK_INT(store_object_put(b->store, NULL, new_bytes, sizeof new_bytes, v2.sha256, &err), 0);
    CHECK_INT(store_version_put(b->store, NULL, &v2, &err), 0);
    proto_msg_t get = {.cmd = PROTO_GET_MODEL, .get_model = {.version = 2, .by_hash = 1}};
    proto_msg_t *reply;
    s_control(b, &get, &reply);
    CHECK(reply && reply->reply.ok);
    control_model_ref_t ref;
    CHECK_INT(control_model_ref_decode(reply->reply.data, reply->reply.data_len, &ref, &err), 0);
    CHECK_INT(ref.version, 2);
    CHECK_STR(ref.sha256, v2.sha256);
    CHECK_STR(ref.family, "forest");
    CHECK_INT(ref.size, sizeof new_bytes);
    proto_msg_destroy(&reply);
    get.get_model.by_hash = 0;   //  as before: the bytes
    s_control(b, &get, &reply);
    control_model_t cm;
    CHECK(reply && reply->reply.ok);
    CHECK_INT(control_model_decode(reply->reply.data, reply->reply.data_len, &cm, &err), 0);
    CHECK_INT(cm.artifact_len, sizeof new_bytes);
    CHECK(memcmp(cm.artifact, new_bytes, sizeof new_bytes) == 0);
    proto_msg_destroy(&reply);
    get.get_model.version = 1;   //  its bytes kept apart: inline, by_hash or not
    s_control(b, &get, &reply);
    CHECK(reply && reply->reply.ok);
    CHECK(control_model_ref_decode(reply->reply.data, reply->reply.data_len, &ref, &err) != 0);
    CHECK_INT(control_model_decode(reply->reply.data, reply->reply.data_len, &cm, &err), 0);
    CHECK_STR(cm.sha256, v1.sha256);
    CHECK(cm.artifact_len == sizeof old_bytes && memcmp(cm.artifact, old_bytes, sizeof old_bytes) == 0);
    proto_msg_destroy(&reply);
    get.get_model.version = 9;
    s_control(b, &get, &reply);
    CHECK(reply && !reply->reply.ok);
    CHECK_CONTAINS(reply->reply.error, "no version 9");
    CHECK_STR(reply->reply.code, PROTO_REPLY_NOT_FOUND);
    proto_msg_destroy(&reply);
    broker_destroy(&b);
    fx_rmdir(dir);
}

//  One PROMOTE or ROLLBACK through the handler: the version now in
//  production, or 0 with the refusal's error in *error (code not_found).
static int64_t s_production(broker_t *b, proto_cmd_t cmd, int64_t version, char *error, size_t size)
{
    proto_msg_t req = {.cmd = cmd};
    if (cmd == PROTO_PROMOTE) {   //  one union: promote and rollback overlap
        req.promote.version = version;
        req.promote.reason = "";
    } else {
        req.rollback.reason = "";
    }
    proto_msg_t *reply;
    s_control(b, &req, &reply);
    control_promote_t answer = {0};
    mlops_err_t err;
    if (reply && reply->reply.ok
        && control_promote_decode(reply->reply.data, reply->reply.data_len, &answer, &err) != 0)
        answer.version = -1;   //  a REPLY that does not decode: the caller's check fails
    else if (reply && !reply->reply.ok)
        snprintf(error, size, "%s [%s]", reply->reply.error, reply->reply.code);
    proto_msg_destroy(&reply);
    return answer.version;
}

//  Repeated ROLLBACKs walk the promotion history back (v3, v2, v1, then
//  nothing), and AUDIT returns every registry action, oldest first, as the
//  store keeps it (PROTOCOL.md 5.2 AUDIT, 11.4).
static void test_rollbacks_walk_back_and_audit_lists_them(void)
{
    char dir[64];
    broker_t *b = fx_broker(dir, "control-audit");
    CHECK(b != NULL);
    mlops_err_t err;
    for (uint64_t i = 1; i <= 3; i++) {
        version_t v = {.version = i, .stage = VERSION_STAGING, .family = "logreg"};
        CHECK_INT(store_version_put(b->store, NULL, &v, &err), 0);
    }
    char error[256] = "";
    proto_msg_t req = {.cmd = PROTO_AUDIT}, *reply;
    s_control(b, &req, &reply);
    control_audit_t log;
    CHECK(reply && reply->reply.ok);
    CHECK_INT(control_audit_decode(reply->reply.data, reply->reply.data_len, &log, &err), 0);
    CHECK_INT(log.n_audit, 0);
    control_audit_clear(&log);
    proto_msg_destroy(&reply);
    for (int64_t v = 1; v <= 3; v++)
        CHECK_INT(s_production(b, PROTO_PROMOTE, v, error, sizeof error), v);
    CHECK_INT(s_production(b, PROTO_ROLLBACK, 0, error, sizeof error), 2);
    CHECK_INT(s_production(b, PROTO_ROLLBACK, 0, error, sizeof error), 1);
    CHECK_INT(s_production(b, PROTO_ROLLBACK, 0, error, sizeof error), 0);
    CHECK_STR(error, "no version was in production before v1: nothing to roll back to [not_found]");
    s_control(b, &req, &reply);
    CHECK(reply && reply->reply.ok);
    CHECK_INT(control_audit_decode(reply->reply.data, reply->reply.data_len, &log, &err), 0);
    static const struct { const char *action; uint64_t version, previous; } want[] = {
        {"promote", 1, 0}, {"promote", 2, 1}, {"promote", 3, 2}, {"rollback", 2, 3}, {"rollback", 1, 2},
    };
    CHECK_INT(log.n_audit, 5);
    for (size_t i = 0; i < log.n_audit && i < 5; i++) {
        CHECK_INT(log.audit[i].seq, i + 1);
        CHECK_STR(log.audit[i].action, want[i].action);
        CHECK_INT(log.audit[i].version, want[i].version);
        CHECK_INT(log.audit[i].previous, want[i].previous);
        CHECK_STR(log.audit[i].reason, "manual");
    }
    control_audit_clear(&log);
    proto_msg_destroy(&reply);
    broker_destroy(&b);
    fx_rmdir(dir);
}

int main(void)
{
    RUN(test_rollbacks_walk_back_and_audit_lists_them);
    RUN(test_promote_schema_change);
    RUN(test_get_model_by_hash_or_inline);
    RUN(test_broker_control_in_process);
    RUN(test_broker_serving_reports);
    RUN(test_status_serving_key_is_optional);
    RUN(test_serving_names_are_unique);
    RUN(test_control_refusals_on_an_empty_registry);
    return TEST_REPORT("test_control");
}
