/*  test_api.c: gateway/api.c, the pure parts of the gateway's /api: the
    admin token check, action bodies to control requests (every refusal),
    REPLY data to JSON with the gateway's own infer workers, the logs read
    to LOGS (bad run and task ids), and the status of a broker's refusal. */
#include "api.h"
#include "msg.h"
#include "router.h"
#include "testing.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>

static void test_paths(void)
{
    CHECK_INT(api_call_of("/api/runs"), API_RUNS);
    CHECK_INT(api_call_of("/api/rollback"), API_ROLLBACK);
    CHECK_INT(api_call_of("/api/runs/"), API_NONE);
    CHECK_INT(api_call_of("/api/Runs"), API_NONE);
    CHECK_INT(api_call_of("/api/runs/7/logs"), API_LOGS);
    CHECK_INT(api_call_of("/api/runs/x/logs"), API_LOGS);   //  api_logs_encode refuses it: 400
    CHECK_INT(api_call_of("/api/runs/7/log"), API_NONE);
    CHECK_INT(api_call_of("/api/runs/7/8/logs"), API_NONE);
    CHECK_INT(api_call_of("/api/runs/logs"), API_NONE);
    CHECK(!api_call_is_action(API_LOGS));
    CHECK(api_call_is_action(API_PROMOTE));
    CHECK(!api_call_is_action(API_WORKERS));
}

static void test_token(void)
{
    CHECK_INT(api_token_check(NULL, NULL), 0);
    CHECK_INT(api_token_check("", "Bearer anything"), 0);
    CHECK_INT(api_token_check("tok", NULL), 401);
    CHECK_INT(api_token_check("tok", "Basic dG9r"), 401);
    CHECK_INT(api_token_check("tok", "Bearer "), 401);
    CHECK_INT(api_token_check("tok", "Bearer"), 401);
    CHECK_INT(api_token_check("tok", "Bearer tok"), 0);
    CHECK_INT(api_token_check("tok", "bearer tok"), 0);   //  the scheme is case-insensitive
    CHECK_INT(api_token_check("tok", "Bearer Tok"), 403);
    CHECK_INT(api_token_check("tok", "Bearer to"), 403);
    CHECK_INT(api_token_check("tok", "Bearer tokk"), 403);
    CHECK_INT(api_token_check("tok", "Bearer tok "), 403);
}

//  The request frame (taken) decoded back; NULL when rc says it was refused.
static proto_msg_t *s_decoded(int rc, uint8_t *frame, size_t len, mlops_err_t *err)
{
    if (rc != 0)
        return NULL;
    proto_msg_t *msg = proto_msg_decode(frame, len, err);
    free(frame);
    return msg;
}

//  Encodes call with body and decodes the frame back (NULL on refusal,
//  with *rc and err).
static proto_msg_t *s_encode_rc(api_call_t call, const char *body, int *rc, mlops_err_t *err)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    *rc = api_request_encode(call, body, strlen(body), &frame, &len, err);
    return s_decoded(*rc, frame, len, err);
}

static proto_msg_t *s_encode(api_call_t call, const char *body)
{
    int rc;
    mlops_err_t err;
    return s_encode_rc(call, body, &rc, &err);
}

static void s_refused(api_call_t call, const char *body, int want, const char *why)
{
    int rc;
    mlops_err_t err;
    proto_msg_t *msg = s_encode_rc(call, body, &rc, &err);
    proto_msg_destroy(&msg);
    CHECK_INT(rc, want);
    CHECK_CONTAINS(err.msg, why);
}

static void test_requests(void)
{
    proto_msg_t *m = s_encode(API_RUNS, "");
    CHECK(m != NULL);
    CHECK_INT(m->cmd, PROTO_RUNS);
    CHECK_INT(m->runs.limit, API_RUNS_LIMIT);
    proto_msg_destroy(&m);
    m = s_encode(API_WORKERS, "");
    CHECK_INT(m->cmd, PROTO_STATUS);
    proto_msg_destroy(&m);
    m = s_encode(API_RETRAIN, "");
    CHECK_INT(m->cmd, PROTO_RETRAIN);
    CHECK_STR(m->retrain.source, "");
    proto_msg_destroy(&m);
    m = s_encode(API_RETRAIN, "{\"source\":\"synthetic:50\",\"reason\":\"r\"}");
    CHECK_STR(m->retrain.source, "synthetic:50");
    CHECK_STR(m->retrain.reason, "r");
    proto_msg_destroy(&m);
    m = s_encode(API_PROMOTE, "{\"version\":7}");
    CHECK_INT(m->cmd, PROTO_PROMOTE);
    CHECK_INT(m->promote.version, 7);
    CHECK(!m->promote.schema_change);
    proto_msg_destroy(&m);
    m = s_encode(API_PROMOTE, "{\"version\":7,\"schema_change\":true}");
    CHECK(m->promote.schema_change);
    proto_msg_destroy(&m);
    m = s_encode(API_ROLLBACK, "{\"reason\":\"bad model\"}");
    CHECK_INT(m->cmd, PROTO_ROLLBACK);
    CHECK_STR(m->rollback.reason, "bad model");
    proto_msg_destroy(&m);
}

static void test_request_refusals(void)
{
    s_refused(API_PROMOTE, "{\"version\":", MLOPS_EPROTO, "not valid JSON at byte");
    s_refused(API_PROMOTE, "{\"version\":1,\"version\":2}", MLOPS_EPROTO, "duplicate");
    s_refused(API_PROMOTE, "{}", MLOPS_ECHECK, "\"version\" is required");
    s_refused(API_PROMOTE, "{\"version\":-1}", MLOPS_ECHECK, ">= 1");
    s_refused(API_PROMOTE, "{\"version\":true}", MLOPS_ECHECK, "whole number");
    s_refused(API_PROMOTE, "{\"version\":1,\"x\":1}", MLOPS_ECHECK, "unknown key \"x\"");
    s_refused(API_PROMOTE, "{\"version\":1,\"schema_change\":1}", MLOPS_ECHECK,
              "\"schema_change\" must be true or false");
    s_refused(API_RETRAIN, "[]", MLOPS_ECHECK, "must be a JSON object");
    s_refused(API_RETRAIN, "{\"reason\":null}", MLOPS_ECHECK, "\"reason\" must be a string");
    s_refused(API_RETRAIN, "{\"source\":\"a\\u0000b\"}", MLOPS_EPROTO, "not valid JSON");
    s_refused(API_ROLLBACK, "{\"version\":1}", MLOPS_ECHECK, "unknown key \"version\"");
}

//  msgpack of {"workers": [], "waiting": ""} or of an array.
static void s_pack(msgpack_sbuffer *sb, bool map)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (!map) {
        msgpack_pack_array(&pk, 0);
        return;
    }
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "workers", 7);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_str_with_body(&pk, "waiting", 7);
    msgpack_pack_str_with_body(&pk, "", 0);
}

//  api_logs_encode for path and task, decoded back (NULL on refusal, with
//  *rc and err).
static proto_msg_t *s_logs(const char *path, const char *task, int *rc, mlops_err_t *err)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    *rc = api_logs_encode(path, task, &frame, &len, err);
    return s_decoded(*rc, frame, len, err);
}

static void test_logs_request(void)
{
    int rc;
    mlops_err_t err;
    proto_msg_t *m = s_logs("/api/runs/7/logs", NULL, &rc, &err);
    CHECK(m != NULL);
    CHECK_INT(m->cmd, PROTO_LOGS);
    CHECK_INT(m->logs.run_id, 7);
    CHECK_STR(m->logs.task_id, "");
    proto_msg_destroy(&m);
    m = s_logs("/api/runs/12/logs", "12-train-forest", &rc, &err);
    CHECK_INT(m->logs.run_id, 12);
    CHECK_STR(m->logs.task_id, "12-train-forest");
    proto_msg_destroy(&m);
    const char *bad_runs[] = {"/api/runs/0/logs", "/api/runs/x/logs", "/api/runs//logs",
                              "/api/runs/-3/logs", "/api/runs/07/logs", "/api/runs/1234567890123456789/logs"};
    for (size_t i = 0; i < sizeof bad_runs / sizeof *bad_runs; i++) {
        CHECK(s_logs(bad_runs[i], NULL, &rc, &err) == NULL);
        CHECK_INT(rc, MLOPS_EPROTO);
        CHECK_CONTAINS(err.msg, "the run in /api/runs/RUN/logs");
    }
    const char *bad_tasks[] = {"7 train", "7-train\n", "<b>", "7-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    for (size_t i = 0; i < sizeof bad_tasks / sizeof *bad_tasks; i++) {
        CHECK(s_logs("/api/runs/7/logs", bad_tasks[i], &rc, &err) == NULL);
        CHECK_INT(rc, MLOPS_EPROTO);
        CHECK_CONTAINS(err.msg, "query parameter task");
    }
}

static void test_reply_json(void)
{
    msgpack_sbuffer sb;
    s_pack(&sb, true);
    mlops_err_t err;
    size_t len = 0;
    char *json = api_reply_json(API_MODELS, (uint8_t *)sb.data, sb.size, NULL, 0, 0, &len, &err);
    CHECK_STR(json, "{\"workers\":[],\"waiting\":\"\"}");
    CHECK_INT(len, strlen(json));
    free(json);
    router_t *router = router_new(4, 3000);
    const uint8_t id1[] = {1}, id2[] = {2};
    router_ready(router, id1, 1, "box-1:42", 3, 1000);
    router_ready(router, id2, 1, "box-2:43", 0, 1500);
    router_sent(router, 0, 1);
    json = api_reply_json(API_WORKERS, (uint8_t *)sb.data, sb.size, router, 2000, 1700000000000, &len, &err);
    CHECK_STR(json, "{\"workers\":[],\"waiting\":\"\",\"infer_workers\":["
              "{\"stage\":\"infer\",\"host\":\"box-1\",\"pid\":42,\"state\":\"busy\",\"model_version\":3,"
              "\"in_flight\":1,\"last_seen_ms\":1699999999000},"
              "{\"stage\":\"infer\",\"host\":\"box-2\",\"pid\":43,\"state\":\"idle\",\"model_version\":0,"
              "\"in_flight\":0,\"last_seen_ms\":1699999999500}]}");
    CHECK_INT(len, strlen(json));
    free(json);
    json = api_reply_json(API_WORKERS, NULL, 0, NULL, 0, 0, &len, &err);   //  nil data
    CHECK_STR(json, "{\"infer_workers\":[]}");
    free(json);
    router_destroy(&router);
    msgpack_sbuffer_destroy(&sb);
    s_pack(&sb, false);
    CHECK(api_reply_json(API_RUNS, (uint8_t *)sb.data, sb.size, NULL, 0, 0, &len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "not a map");
    msgpack_sbuffer_destroy(&sb);
    const uint8_t huge[] = {0x83, 0x00, 0x01, 0x7b, 0x22, 0xdd, 0xdd, 0xdd, 0xdd, 0xdc};
    CHECK(api_reply_json(API_RUNS, huge, sizeof huge, NULL, 0, 0, &len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);   //  a claimed length over the input: refused, not allocated
    const uint8_t latin1[] = {0x81, 0xa1, 'w', 0xa1, 0xea};   //  {"w": "\xea"}
    CHECK(api_reply_json(API_RUNS, latin1, sizeof latin1, NULL, 0, 0, &len, &err) == NULL);
    CHECK_CONTAINS(err.msg, "not UTF-8");
    const uint8_t two[] = {0x80, 0x80};
    CHECK(api_reply_json(API_RUNS, two, sizeof two, NULL, 0, 0, &len, &err) == NULL);
    CHECK_CONTAINS(err.msg, "1 bytes after");
    const uint8_t bad[] = {0x81, 0xa1};   //  truncated map
    CHECK(api_reply_json(API_RUNS, bad, sizeof bad, NULL, 0, 0, &len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
}

//  A refusal's HTTP status comes from REPLY.code, which the broker derives
//  from its error code; a broker without codes still gets the old guess.
static void test_refusal_status(void)
{
    static const struct {
        int rc;           //  the broker's error
        api_call_t call;  //  what the client asked
        int status;       //  what the client gets
    } cases[] = {
        {MLOPS_EINVAL, API_RETRAIN, 422},   {MLOPS_EPROTO, API_PROMOTE, 422},
        {MLOPS_ENOTFOUND, API_PROMOTE, 404}, {MLOPS_ENOTFOUND, API_ROLLBACK, 409},
        {MLOPS_ENOMODEL, API_MODELS, 404},  {MLOPS_ESTATE, API_PROMOTE, 409},
        {MLOPS_EMAPFULL, API_RETRAIN, 503}, {MLOPS_ENOMEM, API_RUNS, 503},
        {MLOPS_ESTORE, API_RETRAIN, 502},   {MLOPS_ECORRUPT, API_MODELS, 502},
        {5 /* EIO */, API_RUNS, 502},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *code = proto_reply_code(cases[i].rc);
        CHECK(code && *code);
        //  the sentence says "no ..." on purpose: the code wins over it
        CHECK_INT(api_refusal_status(cases[i].call, code, "no matter"), cases[i].status);
    }
    CHECK_STR(proto_reply_code(MLOPS_ESTATE), PROTO_REPLY_CONFLICT);
    CHECK_STR(proto_reply_code(MLOPS_ECOMMAND), PROTO_REPLY_INVALID);
    CHECK_INT(api_refusal_status(API_PROMOTE, "on_fire", "no idea"), 502);   //  a newer code
    //  an older broker: no code, the sentence decides
    CHECK_INT(api_refusal_status(API_PROMOTE, "", "no version 9 in the registry"), 404);
    CHECK_INT(api_refusal_status(API_ROLLBACK, NULL, "no production version to roll back"), 409);
    CHECK_INT(api_refusal_status(API_PROMOTE, "", "version 3 is already in production"), 502);
    CHECK_INT(api_refusal_status(API_RETRAIN, NULL, NULL), 502);
}

int main(void)
{
    RUN(test_paths);
    RUN(test_token);
    RUN(test_requests);
    RUN(test_request_refusals);
    RUN(test_logs_request);
    RUN(test_reply_json);
    RUN(test_refusal_status);
    return TEST_REPORT("test_api");
}
