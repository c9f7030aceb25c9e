/*  fuzz_api.c: libFuzzer target for the gateway's /api and dashboard input
    handling without sockets (gateway/api.c, gateway/statics.c).

    The first byte picks what the rest is:
      0..2  an action body (retrain, promote, rollback) for api_request_encode:
            it must encode a frame that decodes back to the right command, or
            refuse with MLOPS_EPROTO / MLOPS_ECHECK and a message;
      3     broker REPLY data (msgpack) for api_reply_json with one infer
            worker in the router: raw, it must not crash; once through the
            REPLY decoder (as in the gateway) the answer, when there is one,
            must be a valid JSON object that has "infer_workers";
      4     an Authorization header for api_token_check: 0, 401 or 403 only;
      5     a URL path after /static/ for statics_load on a missing
            directory: 403 or 404 only, never a file.
    Any other outcome, crash or leak is a finding.
*/
#include "api.h"
#include "msg.h"
#include "router.h"
#include "statics.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_fail(const char *what)
{
    fprintf(stderr, "finding: %s\n", what);
    abort();
}

static void s_action(api_call_t call, const uint8_t *data, size_t size)
{
    static const proto_cmd_t cmds[] = {[API_RETRAIN] = PROTO_RETRAIN, [API_PROMOTE] = PROTO_PROMOTE,
                                       [API_ROLLBACK] = PROTO_ROLLBACK};
    uint8_t *frame = NULL;
    size_t len = 0;
    mlops_err_t err;
    int rc = api_request_encode(call, (const char *)data, size, &frame, &len, &err);
    if (rc != 0) {
        if ((rc != MLOPS_EPROTO && rc != MLOPS_ECHECK) || !err.msg[0])
            s_fail("refusal without its code or message");
        return;
    }
    proto_msg_t *msg = proto_msg_decode(frame, len, &err);
    if (!msg || msg->cmd != cmds[call])
        s_fail("encoded request does not decode as its command");
    proto_msg_destroy(&msg);
    free(frame);
}

static void s_reply(const uint8_t *data, size_t size)
{
    static router_t *router;
    if (!router) {
        router = router_new(4, 3000);
        const uint8_t id[] = {7};
        router_ready(router, id, 1, "host:1", 2, 0);
    }
    size_t len = 0;
    mlops_err_t err;
    //  raw bytes straight in: refused or converted, never a crash or a
    //  huge allocation
    free(api_reply_json(API_WORKERS, data, size, router, 10, 1000, &len, &err));
    //  as the gateway gets them: data that passed the REPLY decoder must
    //  give valid JSON
    proto_msg_t reply = {.cmd = PROTO_REPLY, .reply = {.ok = true, .error = "", .data = data,
                                                       .data_len = size}};
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    if (proto_msg_encode(&reply, &frame, &frame_len) != 0)
        return;
    proto_msg_t *msg = proto_msg_decode(frame, frame_len, &err);
    free(frame);
    char *json = msg ? api_reply_json(API_WORKERS, msg->reply.data, msg->reply.data_len, router, 10,
                                      1000, &len, &err)
                     : NULL;
    proto_msg_destroy(&msg);
    if (!json)
        return;
    json_error_t je;
    //  \u0000 is valid JSON; integers past int64 too (msgpack uint64), which
    //  jansson reads only as reals
    json_t *doc = json_loadb(json, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &je);
    //  (jansson cannot hold an object key with \u0000 in it; valid JSON all the same)
    if (!doc && strstr(je.text, "NUL byte in object key")) {
        free(json);
        return;
    }
    if (!doc || !json_is_object(doc) || !json_object_get(doc, "infer_workers"))
        s_fail("reply JSON is not an object with infer_workers");
    json_decref(doc);
    free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    int pick = data[0] % 6;
    data++, size--;
    if (pick <= 2) {
        s_action((api_call_t)(API_RETRAIN + pick), data, size);
        return 0;
    }
    if (pick == 3) {
        s_reply(data, size);
        return 0;
    }
    char text[4096 + 16];
    if (size > 4096)
        size = 4096;
    memcpy(text, "/static/", 8);
    memcpy(text + 8, data, size);
    text[8 + size] = '\0';
    if (pick == 4) {
        int rc = api_token_check("the-token", text + 8);
        if (rc != 0 && rc != 401 && rc != 403)
            s_fail("token check outside 0/401/403");
        return 0;
    }
    char *body = NULL;
    size_t len = 0;
    const char *type = NULL;
    mlops_err_t err;
    int status = statics_load("/nonexistent-mlops-static", text, &body, &len, &type, &err);
    if (status != 403 && status != 404)
        s_fail("a static path outside 403/404 on a missing directory");
    free(body);
    return 0;
}
