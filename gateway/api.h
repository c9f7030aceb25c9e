/*  api.h: the pure parts of the gateway's /api endpoints, no sockets, so
    each rule can be tested alone: the admin token check, the JSON bodies of
    the actions (retrain, promote, rollback) turned into control requests,
    the read of a run's task logs (its path and query) turned into LOGS,
    and broker REPLY data turned into JSON for the dashboard.

    The gateway (broker_link.c) does the I/O: it sends the encoded request on
    its DEALER to the broker's control socket and answers the HTTP client
    from the REPLY with api_reply_json.
*/
#ifndef MLOPS_API_H
#define MLOPS_API_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "router.h"

#define API_BODY_MAX_BYTES (64u << 10)   //  action bodies are tiny: 413 above
#define API_RUNS_LIMIT 20                //  runs /api/runs asks for

typedef enum {
    API_RUNS = 0,    //  GET /api/runs      -> RUNS
    API_MODELS,      //  GET /api/models    -> MODELS
    API_WORKERS,     //  GET /api/workers   -> STATUS (+ the gateway's infer workers)
    API_RETRAIN,     //  POST /api/retrain  -> RETRAIN
    API_PROMOTE,     //  POST /api/promote  -> PROMOTE
    API_ROLLBACK,    //  POST /api/rollback -> ROLLBACK
    API_DRIFT,       //  GET /api/drift     -> DRIFT (proto/drift_io.h)
    API_CANARY,      //  GET /api/canary    -> CANARY (proto/rollout_io.h), no report
    API_LOGS,        //  GET /api/runs/{run}/logs[?task=TASK_ID] -> LOGS
    API_NONE         //  not an /api path
} api_call_t;

//  The call a path names (exact match; for API_LOGS, any run segment:
//  api_logs_encode checks it), or API_NONE.
api_call_t api_call_of(const char *path);

//  True for the calls that change something (POST, token-guarded).
int api_call_is_action(api_call_t call);

//  Checks an Authorization header against the configured admin token.
//  expected NULL or "" = no token configured: always 0. Returns 0 (allowed),
//  401 (no header, or not "Bearer ..."), 403 (a wrong token). The compare
//  hashes both sides with sha256 first and compares the digests with no
//  early exit, so neither the content nor the length of the token leaks
//  through timing.
int api_token_check(const char *expected, const char *authorization);

//  Turns the JSON body of a call (may be empty for every call: "{}" is
//  implied) into an encoded control request frame (malloc'd, caller frees).
//  Returns 0, MLOPS_EPROTO (not JSON: 400), MLOPS_ECHECK (wrong shape: an
//  unknown key, a wrong type, a missing or negative version: 422), or
//  MLOPS_ENOMEM; err names the key.
int api_request_encode(api_call_t call, const char *body, size_t len, uint8_t **frame,
                       size_t *frame_len, mlops_err_t *err);

//  The LOGS request for GET /api/runs/{run}/logs (path as api_call_of saw
//  it as API_LOGS; task the ?task= value, NULL or "" = every task) as an
//  encoded control request frame (malloc'd, caller frees). Returns 0,
//  MLOPS_EPROTO (the run is not a whole number > 0, or the task id is not
//  1 to PROTO_TASK_ID_MAX bytes of [A-Za-z0-9._-]: 400), or MLOPS_ENOMEM;
//  err names which.
int api_logs_encode(const char *path, const char *task, uint8_t **frame, size_t *frame_len,
                    mlops_err_t *err);

//  The HTTP status for a REPLY with ok false, from its code (PROTO_REPLY_*):
//  invalid 422 (the values were refused, as for a body that fails the
//  gateway's own checks), not_found 404 (409 for a rollback: nothing to
//  roll back to is the registry's state), conflict 409, unavailable 503,
//  internal or a code this gateway does not know 502. code NULL or "" (a
//  broker older than the code) falls back to the sentence: "no ..." is
//  not_found, anything else 502.
int api_refusal_status(api_call_t call, const char *code, const char *error);

//  JSON text (malloc'd, NUL-terminated, *len its length) for the answer to
//  a call from the REPLY's data (msgpack). For API_WORKERS the gateway's own
//  inference workers from router (may be NULL) are added under
//  "infer_workers"; now_ms is the wall clock, to turn their monotonic
//  last-heard times into wall-clock last_seen_ms. NULL with err:
//  MLOPS_EPROTO (data that is not a map, or not JSON-able), MLOPS_ENOMEM.
char *api_reply_json(api_call_t call, const uint8_t *data, size_t data_len, const router_t *router,
                     int64_t mono_now_ms, int64_t wall_now_ms, size_t *len, mlops_err_t *err);

#endif
