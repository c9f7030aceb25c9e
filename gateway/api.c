/*  api.c: see api.h. Token check, action bodies and the logs read to
    control requests, and REPLY data to JSON; the socket is broker_link.c's. */
#include "api.h"

#include "hash.h"
#include "mpcheck.h"
#include "mpjson.h"
#include "msg.h"
#include "utf8.h"
#include "v2.h"
#include "vec.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

//  API_LOGS has a run segment: s_logs_run finds it, not this table
static const char *const s_paths[API_LOGS] = {"/api/runs", "/api/models", "/api/workers",
                                              "/api/retrain", "/api/promote", "/api/rollback",
                                              "/api/drift", "/api/canary"};
#define LOGS_PREFIX "/api/runs/"
#define LOGS_SUFFIX "/logs"

//  The run segment of /api/runs/{run}/logs (borrowed from path, *len its
//  length, 0 for an empty one), or NULL when path has another shape.
static const char *s_logs_run(const char *path, size_t *len)
{
    size_t n = strlen(path), pre = strlen(LOGS_PREFIX), suf = strlen(LOGS_SUFFIX);
    if (n < pre + suf || strncmp(path, LOGS_PREFIX, pre) != 0 || strcmp(path + n - suf, LOGS_SUFFIX) != 0)
        return NULL;
    const char *run = path + pre;
    *len = n - pre - suf;
    return memchr(run, '/', *len) ? NULL : run;
}

api_call_t api_call_of(const char *path)
{
    for (int i = 0; i < API_LOGS; i++)
        if (strcmp(path, s_paths[i]) == 0)
            return (api_call_t)i;
    size_t len;
    return s_logs_run(path, &len) ? API_LOGS : API_NONE;
}

int api_refusal_status(api_call_t call, const char *code, const char *error)
{
    if (!code || !*code)
        code = error && strncmp(error, "no ", 3) == 0 ? PROTO_REPLY_NOT_FOUND : PROTO_REPLY_INTERNAL;
    if (strcmp(code, PROTO_REPLY_INVALID) == 0)
        return 422;
    if (strcmp(code, PROTO_REPLY_NOT_FOUND) == 0)
        return call == API_ROLLBACK ? 409 : 404;
    if (strcmp(code, PROTO_REPLY_CONFLICT) == 0)
        return 409;
    if (strcmp(code, PROTO_REPLY_UNAVAILABLE) == 0)
        return 503;
    return 502;
}

int api_call_is_action(api_call_t call)
{
    return call == API_RETRAIN || call == API_PROMOTE || call == API_ROLLBACK;
}

int api_token_check(const char *expected, const char *authorization)
{
    if (!expected || !*expected)
        return 0;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return 401;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    if (!*given)
        return 401;
    //  digests of equal length, compared whole: the time taken depends on
    //  neither the tokens' lengths nor where they first differ
    uint8_t a[32], b[32];
    hash_sha256(expected, strlen(expected), a);
    hash_sha256(given, strlen(given), b);
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < sizeof a; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0 ? 0 : 403;
}

//  The optional string `key` of obj into *out (borrowed from obj).
static int s_string(json_t *obj, const char *key, const char **out, mlops_err_t *err)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return mlops_err_set(err, MLOPS_ECHECK, "\"%s\" must be a string", key);
    *out = json_string_value(v);   //  no NUL inside: jansson refuses \u0000 by default
    return 0;
}

//  Refuses a key the call does not define (a typo must not pass unseen).
static int s_known_keys(json_t *obj, const char *const *keys, mlops_err_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int known = 0;
        for (const char *const *k = keys; *k; k++)
            known |= strcmp(key, *k) == 0;
        if (!known) {
            char sample[48];
            snprintf(sample, sizeof sample, "%s", key);
            return mlops_err_set(err, MLOPS_ECHECK, "unknown key \"%s\"", sample);
        }
    }
    return 0;
}

//  Fills msg from the action body obj (strings stay borrowed from obj).
static int s_action(api_call_t call, json_t *obj, proto_msg_t *msg, mlops_err_t *err)
{
    static const char *const retrain_keys[] = {"source", "reason", NULL};
    static const char *const promote_keys[] = {"version", "reason", "schema_change", NULL};
    static const char *const rollback_keys[] = {"reason", NULL};
    int rc;
    if (call == API_RETRAIN) {
        msg->cmd = PROTO_RETRAIN;
        if ((rc = s_known_keys(obj, retrain_keys, err)) || (rc = s_string(obj, "source", &msg->retrain.source, err)))
            return rc;
        return s_string(obj, "reason", &msg->retrain.reason, err);
    }
    if (call == API_ROLLBACK) {
        msg->cmd = PROTO_ROLLBACK;
        if ((rc = s_known_keys(obj, rollback_keys, err)))
            return rc;
        return s_string(obj, "reason", &msg->rollback.reason, err);
    }
    msg->cmd = PROTO_PROMOTE;
    if ((rc = s_known_keys(obj, promote_keys, err)) || (rc = s_string(obj, "reason", &msg->promote.reason, err)))
        return rc;
    json_t *v = json_object_get(obj, "version");
    if (!v)
        return mlops_err_set(err, MLOPS_ECHECK, "\"version\" is required");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return mlops_err_set(err, MLOPS_ECHECK, "\"version\" must be a whole number >= 1");
    msg->promote.version = json_integer_value(v);
    json_t *change = json_object_get(obj, "schema_change");
    if (change && !json_is_boolean(change))
        return mlops_err_set(err, MLOPS_ECHECK, "\"schema_change\" must be true or false");
    msg->promote.schema_change = json_is_true(change);
    return 0;
}

int api_request_encode(api_call_t call, const char *body, size_t len, uint8_t **frame,
                       size_t *frame_len, mlops_err_t *err)
{
    assert(call != API_LOGS && call != API_NONE);   //  api_logs_encode's, and no call
    proto_msg_t msg = {.cmd = PROTO_STATUS};
    if (call == API_RUNS)
        msg = (proto_msg_t){.cmd = PROTO_RUNS, .runs = {.limit = API_RUNS_LIMIT}};
    else if (call == API_MODELS)
        msg.cmd = PROTO_MODELS;
    else if (call == API_DRIFT)
        msg.cmd = PROTO_DRIFT;
    else if (call == API_CANARY)
        msg = (proto_msg_t){.cmd = PROTO_CANARY, .canary = {.gateway = ""}};
    json_t *obj = NULL;
    if (api_call_is_action(call)) {
        json_error_t jerr;
        obj = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
        if (!obj)
            return mlops_err_set(err, MLOPS_EPROTO, "body is not valid JSON at byte %d: %s",
                                 jerr.position, jerr.text);
        int rc = json_is_object(obj) ? s_action(call, obj, &msg, err)
                                     : mlops_err_set(err, MLOPS_ECHECK, "body must be a JSON object");
        if (rc != 0) {
            json_decref(obj);
            return rc;
        }
    }
    int rc = proto_msg_encode(&msg, frame, frame_len);
    json_decref(obj);
    if (rc == MLOPS_EINVAL)
        return mlops_err_set(err, MLOPS_ECHECK, "a string is not valid UTF-8");
    return rc ? mlops_err_set(err, rc, "cannot encode the request: %s", mlops_strerror(rc)) : 0;
}

//  True for a task id of 1 to PROTO_TASK_ID_MAX bytes of [A-Za-z0-9._-] (the
//  broker's ids are "7-train-forest": nothing else can name one of them).
static bool s_task_id_valid(const char *task)
{
    size_t n = strlen(task);
    return n >= 1 && n <= PROTO_TASK_ID_MAX && strspn(task, "abcdefghijklmnopqrstuvwxyz"
               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int api_logs_encode(const char *path, const char *task, uint8_t **frame, size_t *frame_len,
                    mlops_err_t *err)
{
    size_t len = 0;
    const char *run = s_logs_run(path, &len);
    int64_t run_id = run ? v2_version_parse(run, len) : 0;
    if (run_id == 0)
        return mlops_err_set(err, MLOPS_EPROTO, "the run in /api/runs/RUN/logs must be a whole number > 0");
    if (task && *task && !s_task_id_valid(task))
        return mlops_err_set(err, MLOPS_EPROTO, "query parameter task must be a task id of 1 to %d "
                             "letters, digits, '.', '_' or '-'", PROTO_TASK_ID_MAX);
    proto_msg_t msg = {.cmd = PROTO_LOGS, .logs = {.run_id = run_id, .task_id = task ? task : ""}};
    int rc = proto_msg_encode(&msg, frame, frame_len);
    return rc ? mlops_err_set(err, rc, "cannot encode the request: %s", mlops_strerror(rc)) : 0;
}

//  Appends the gateway's own inference workers as ,"infer_workers":[...]
//  to buf (which holds an object without its closing brace).
static char *s_infer_workers(char *json, size_t *len, const router_t *router, int64_t mono_now_ms,
                             int64_t wall_now_ms)
{
    int slots = router ? router_slots(router) : 0;
    size_t cap = *len + 1;   //  json_dumps sized it to the text and its NUL
    if (vec_reserve_(&json, &cap, *len + 1, 64 + (size_t)slots * 256, 1) != 0) {
        free(json);
        return NULL;
    }
    char *out = json;
    size_t n = *len - 1;   //  drop the closing brace
    n += (size_t)snprintf(out + n, cap - n, "%s\"infer_workers\":[", n > 1 ? "," : "");
    const char *sep = "";
    for (int i = 0; i < slots; i++) {
        const router_worker_t *w = router_worker(router, i);
        if (!w)
            continue;
        //  the name is "host:pid" with only [A-Za-z0-9._:-] left: no escaping needed
        const char *colon = strrchr(w->name, ':');
        int host_len = colon ? (int)(colon - w->name) : (int)strlen(w->name);
        long long pid = colon ? atoll(colon + 1) : 0;
        n += (size_t)snprintf(out + n, cap - n,
                              "%s{\"stage\":\"infer\",\"host\":\"%.*s\",\"pid\":%lld,\"state\":\"%s\","
                              "\"model_version\":%" PRId64 ",\"in_flight\":%d,\"last_seen_ms\":%" PRId64 "}",
                              sep, host_len, w->name, pid, w->in_flight > 0 ? "busy" : "idle",
                              w->model_version, w->in_flight, wall_now_ms - (mono_now_ms - w->heard_ms));
        sep = ",";
    }
    n += (size_t)snprintf(out + n, cap - n, "]}");
    *len = n;
    return out;
}

//  True when the NUL-terminated text is valid UTF-8 throughout.
static bool s_utf8_valid(const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; ) {
        size_t n = *p < 0x80 ? 1 : utf8_sequence_len(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

char *api_reply_json(api_call_t call, const uint8_t *data, size_t data_len, const router_t *router,
                     int64_t mono_now_ms, int64_t wall_now_ms, size_t *len, mlops_err_t *err)
{
    //  msgpack-c allocates for a container's claimed length before reading
    //  it: bound the data first (proto_msg_decode did, but this function
    //  must be safe on its own; fuzz_api found the gap)
    size_t used = 0;
    if (data && data_len && mpcheck_object(data, data_len, MPJSON_DEPTH_MAX, &used, err) != 0)
        return NULL;
    if (data && data_len && used != data_len) {
        mlops_err_set(err, MLOPS_EPROTO, "the broker's answer has %zu bytes after its data",
                      data_len - used);
        return NULL;
    }
    char *json = data && data_len ? mpjson_from_msgpack(data, data_len, err) : strdup("{}");
    if (!json) {
        if (data && data_len)
            return NULL;
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    *len = strlen(json);
    if (!s_utf8_valid(json)) {   //  the decoder checks no string inside REPLY data
        free(json);
        mlops_err_set(err, MLOPS_EPROTO, "the broker's answer has a string that is not UTF-8");
        return NULL;
    }
    if (json[0] != '{') {
        free(json);
        mlops_err_set(err, MLOPS_EPROTO, "the broker's answer is not a map");
        return NULL;
    }
    if (call == API_WORKERS) {
        json = s_infer_workers(json, len, router, mono_now_ms, wall_now_ms);
        if (!json)
            mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    return json;
}
