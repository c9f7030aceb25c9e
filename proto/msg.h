/*  msg.h: the messages that cross a process boundary, as typed structs.

    Only proto/ touches msgpack. A message travels as one ZeroMQ frame holding
    a msgpack array [version, command, body]: version is the integer
    PROTO_VERSION, command an upper-case string, body a map whose keys depend
    on the command (proto/PROTOCOL.md is the normative spec). Socket envelopes
    (ROUTER identities, the empty delimiter of REQ clients, PUB topics) are
    handled by the callers, not here.

    Decoding is strict and total: a wrong type, a missing, unknown or
    duplicate key, a str with a NUL byte or bad UTF-8, a negative value for
    an unsigned field, a truncated object or trailing bytes give
    MLOPS_EPROTO; an unknown version MLOPS_EVERSION; an unknown command
    MLOPS_ECOMMAND; a frame over PROTO_FRAME_MAX_BYTES or a count over its
    limit MLOPS_ETOOBIG; all with a message naming the command, the key
    (records[3].Age for a record value) and the byte offset. MLOPS_ENOMEM
    when memory is short. Nothing in a frame can make the decoder read past
    it, allocate more than a small multiple of its size, or abort. Keys may
    come in any order; absent optional keys take the defaults of PROTOCOL.md.

    Ownership: a decoded proto_msg_t owns every string and byte buffer it
    points to (they live in the message's arena); proto_msg_destroy frees
    them all. Strings are NUL-terminated and never NULL in a decoded message
    (absent optional strings decode as ""); byte buffers are never NULL
    either (an absent bin is a length-0 buffer, absent REPLY data is the one
    byte of msgpack nil, 0xc0); an absent ERROR detail is NULL with count 0.
    A decoded message is one allocation unless it is large.

    To build a message, fill a proto_msg_t on the stack with borrowed
    pointers and call proto_msg_encode; the encoder owns nothing.

    Versions (PROTOCOL.md, section 4.1): MLOPS/2 is MLOPS/1 plus the LOGS
    command and a few optional keys (READY.name, SERVING.name,
    HEARTBEAT.log, HEARTBEAT.done/total/unit, RESULT.log, DISCONNECT.code). The encoder writes a key
    added after version 1 only when it is set (a non-empty string), and
    writes the envelope version the message needs: a message that uses
    nothing of version 2 is byte for byte the MLOPS/1 message it always
    was, and one that does is refused by a version-1 peer as "version 2 is
    not supported" rather than as a malformed body. The decoder reads
    both versions and refuses, in a version-1 envelope, what version 2
    added.
*/
#ifndef MLOPS_MSG_H
#define MLOPS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "heartbeat.h"   //  PROTOCOL.md section 7's defaults
#include "progress.h"    //  PROGRESS_UNIT_MAX

#define PROTO_VERSION 2            //  the newest version this peer speaks
#define PROTO_VERSION_MIN 1        //  the oldest it reads
#define PROTO_NAME_MAX 63          //  bytes of a worker's name (READY.name, SERVING.name)
#define PROTO_LOG_MAX_BYTES 16384  //  of one task attempt's log that a worker sends and the broker keeps
#define PROTO_FRAME_MAX_BYTES (512u * 1024 * 1024) //  refuse larger frames
#define PROTO_RECORDS_MAX 100000   //  records in one PREDICT
#define PROTO_FIELDS_MAX 1024      //  fields in one record
#define PROTO_DETAIL_MAX 1024      //  problems in one ERROR
#define PROTO_CLASSES_MAX 100      //  classes of a multiclass PREDICTION (ml/task.h's limit)
#define PROTO_DEPTH_MAX 64         //  nesting of REPLY data
//  Longest strs a peer may send where the broker keeps or shows them, in
//  bytes; a longer one is refused (MLOPS_EINVAL, REPLY code "invalid"),
//  never truncated. The stored records hold exactly these (records.h).
#define PROTO_TEXT_MAX 255         //  RETRAIN source and reason, PROMOTE / ROLLBACK reason
#define PROTO_STAGE_MAX 31         //  READY stage
#define PROTO_HOST_MAX 63          //  READY and SERVING host
#define PROTO_TASK_ID_MAX 47       //  HEARTBEAT and RESULT task_id
#define PROTO_UNIT_MAX PROGRESS_UNIT_MAX //  HEARTBEAT unit of progress (rows, bytes, trees, ms)
#define PROTO_GATEWAY_ID_MAX 64    //  CANARY gateway: a gateway's instance id

typedef enum {
    //  worker side (work and backend sockets)
    PROTO_READY = 1,
    PROTO_HEARTBEAT,
    PROTO_TASK,
    PROTO_RESULT,
    PROTO_DISCONNECT,
    //  control side (control socket), each answered by one REPLY
    PROTO_RETRAIN,
    PROTO_STATUS,
    PROTO_RUNS,
    PROTO_MODELS,
    PROTO_PROMOTE,
    PROTO_ROLLBACK,
    PROTO_GET_MODEL,
    PROTO_REPLY,
    //  events socket
    PROTO_EVENT,
    //  serving (backend socket)
    PROTO_PREDICT,
    PROTO_PREDICTION,
    PROTO_ERROR,
    //  control side again, added after MLOPS/1's first seventeen: an infer
    //  worker tells the broker which version it serves
    PROTO_SERVING,
    //  control side, MLOPS/2: a task's log lines as the broker keeps them
    PROTO_LOGS,
    //  serving again, added later still: an infer worker tells the gateway
    //  the input signature of the version it serves (V2 metadata, OpenAPI)
    PROTO_SIGNATURE,
    //  control side, MLOPS/2: the drift windows per version (proto/drift_io.h)
    PROTO_DRIFT,
    //  control side, MLOPS/2: the registry's audit log (records.h audit_t)
    PROTO_AUDIT,
    //  control side, MLOPS/2: a rollout's state; a gateway's report of its
    //  counters for it (proto/rollout_io.h)
    PROTO_CANARY,
} proto_cmd_t;

//  One value of a prediction record, as a user sent it.
typedef enum {
    PROTO_VAL_NIL = 0,  //  JSON null / msgpack nil
    PROTO_VAL_BOOL,     //  true / false, in num as 1 / 0
    PROTO_VAL_INT,      //  an integer, in num
    PROTO_VAL_FLOAT,    //  a float, in num (may be NaN or Inf: validation rejects)
    PROTO_VAL_STR,      //  a string, in str
} proto_val_kind_t;

typedef struct {
    const char *name;       //  field name
    proto_val_kind_t kind;  //  which of num / str holds the value
    double num;             //  BOOL, INT, FLOAT
    const char *str;        //  STR
} proto_field_t;

typedef struct {
    proto_field_t *fields;  //  n_fields fields, in the order sent
    size_t n_fields;
} proto_record_t;

//  One problem found in a PREDICT (as FastAPI's detail entries).
typedef struct {
    int64_t index;          //  record index in a batch, -1 for a single record
    const char *field;      //  field name, "" for the record as a whole
    const char *msg;        //  what is wrong, e.g. "must be one of C, Q, S"
} proto_problem_t;

typedef struct {
    proto_cmd_t cmd;
    union {
        //  READY: a worker announces itself; model_version is what an infer
        //  worker serves (0 = none) and is 0 for stage workers; name is its
        //  instance name (MLOPS/2; "" = none: the broker names it host:pid).
        struct { const char *stage; const char *host; int64_t pid; int64_t model_version;
                 const char *name; } ready;
        //  HEARTBEAT, both ways. task_id is the task in hand ("" when idle);
        //  model_version as in READY; log the task's log lines written since
        //  the last ones sent (MLOPS/2, "" = none). done, total, unit: the
        //  task's progress (MLOPS/2, unit "" = none; total 0 = unknown;
        //  proto_heartbeat_check says what holds).
        struct { const char *task_id; int64_t model_version; const char *log;
                 int64_t done; int64_t total; const char *unit; } heartbeat;
        //  TASK: broker to stage worker. input is the stage's msgpack payload.
        struct { const char *task_id; int64_t run_id; const char *stage; int64_t attempt;
                 const uint8_t *input; size_t input_len; } task;
        //  RESULT: stage worker to broker. output is the stage's payload when ok,
        //  error the reason when not.
        //  log: the task's log lines not sent yet (MLOPS/2, "" = none).
        struct { const char *task_id; int64_t run_id; bool ok; const char *error;
                 const uint8_t *output; size_t output_len;
                 int64_t started_ms; int64_t ended_ms; const char *log; } result;
        //  DISCONNECT: either side says goodbye. code "" asks the worker to
        //  reconnect and say READY again; a code (PROTO_REPLY_*, MLOPS/2)
        //  says the broker refused it for good: it must not come back.
        struct { const char *reason; const char *code; } disconnect;
        //  RETRAIN: start (or coalesce into the next) run. source "" = default.
        struct { const char *source; const char *reason; } retrain;
        //  RUNS: the newest `limit` runs (0 = default 20).
        struct { int64_t limit; } runs;
        //  PROMOTE: put version in production.
        //  schema_change (MLOPS/2): the version's inputs differ from
        //  production's and that is meant (PROTOCOL.md, PROMOTE).
        //  The rollout keys (MLOPS/2, each on the wire only when set) start
        //  a rollout of version instead: shadow, or a canary at
        //  canary_percent (0 < p <= 100, the broker checks) ending after
        //  canary_for_ms or after canary_requests candidate requests.
        struct { int64_t version; const char *reason; bool schema_change; bool shadow;
                 double canary_percent; int64_t canary_for_ms; int64_t canary_requests; } promote;
        //  ROLLBACK: restore the previous production version.
        struct { const char *reason; } rollback;
        //  GET_MODEL: a version's artifact, 0 = the production one. by_hash
        //  (MLOPS/2, 1 = yes): answer with the artifact's sha256 and size
        //  (control_model_ref_t) when the data service holds it, the client
        //  fetching the bytes there; else, or 0, the bytes inline.
        struct { int64_t version; int64_t by_hash; } get_model;
        //  REPLY: answer to one control command. data is the msgpack encoding
        //  of the command-specific answer (see PROTOCOL.md), nil when !ok;
        //  code says why a request was refused (PROTO_REPLY_*; "" when ok or
        //  from a broker older than the key).
        struct { bool ok; const char *error; const uint8_t *data; size_t data_len;
                 const char *code; } reply;
        //  EVENT: kind "run" | "task" | "model"; fields not relevant are 0 / "".
        struct { const char *kind; int64_t run_id; const char *stage; const char *state;
                 int64_t version; const char *message; int64_t ts_ms; } event;
        //  PREDICT: gateway to infer worker. version pins the model version
        //  to predict with (0 = the one the worker serves); sent only when
        //  not 0, and only to workers that sent SIGNATURE (PROTOCOL.md).
        struct { uint64_t req_id; proto_record_t *records; size_t n_records; int64_t version; } predict;
        //  PREDICTION: infer worker to gateway, one entry per record. task
        //  (MLOPS/2) is "" for a binary model, else "multiclass" or
        //  "regression" (PROTOCOL.md): a multiclass answer carries the class
        //  labels (classes, a JSON array text) and n x k class_probabilities
        //  (row-major), predictions being class indexes and probabilities
        //  the predicted class's; a regression answer carries n values,
        //  predictions 0 and probabilities NaN. proto_prediction_classes
        //  gives k.
        struct { uint64_t req_id; int64_t model_version; const int64_t *predictions;
                 const double *probabilities; size_t n; const char *task; const char *classes;
                 const double *values; size_t n_values; const double *class_probabilities;
                 size_t n_class_probabilities; } prediction;
        //  ERROR: infer worker to gateway. status is the HTTP status to answer
        //  (422 bad record, 503 no model, 500 worker fault).
        struct { uint64_t req_id; int64_t status; const char *message;
                 const proto_problem_t *detail; size_t n_detail; } error;
        //  SERVING: infer worker to broker (control socket). model_version is
        //  the version it serves now (0 = none); interval_ms the longest wait
        //  before its next report (0 = HEARTBEAT_IVL_MSEC).
        //  name as in READY (MLOPS/2). profile (MLOPS/2, omitted when
        //  empty): the live profile (proto/PROFILE.md) of the records
        //  profile_version served since the previous report, for drift.
        struct { const char *host; int64_t pid; int64_t model_version; int64_t interval_ms;
                 const char *name; int64_t profile_version; const uint8_t *profile;
                 size_t profile_len; } serving;
        //  LOGS (MLOPS/2): the kept log lines of a run's tasks, or of one
        //  task ("" = every task of the run).
        struct { int64_t run_id; const char *task_id; } logs;
        //  SIGNATURE (MLOPS/2): infer worker to gateway, after READY and after
        //  each swap. signature is the served version's signature as JSON
        //  text (PROTOCOL.md section 12, "Signature").
        struct { int64_t model_version; const char *signature; } signature;
        //  CANARY (MLOPS/2): the rollout's state, answered with
        //  rollout_state_t. A gateway names itself (gateway, its instance
        //  id, at most PROTO_GATEWAY_ID_MAX bytes; "" = a client like
        //  `mlops canary`) and sends its counters (report: one msgpack map,
        //  rollout_report_t's encoding; length 0 or nil = none).
        struct { const char *gateway; const uint8_t *report; size_t report_len; } canary;
    };
} proto_msg_t;

//  Checks a worker name: 1 to PROTO_NAME_MAX bytes of letters, digits and
//  . _ - : @ (so it is safe in logs, status and Prometheus labels).
//  Returns 0 or MLOPS_EINVAL with err quoting the first bad byte.
int proto_name_check(const char *name, mlops_err_t *err);

//  Makes text[0..len) a task log as it may travel (HEARTBEAT.log,
//  RESULT.log) and be kept and shown: valid UTF-8 whose only control byte
//  is '\n'. Every other control byte (C0, DEL, the C1 range U+0080..U+009F)
//  and every byte that is not part of a valid UTF-8 sequence becomes '?',
//  in place (the length does not change). Returns text.
char *proto_log_sanitize(char *text, size_t len);

//  Returns the wire name of cmd ("READY") or NULL if cmd is not valid.
const char *proto_cmd_name(proto_cmd_t cmd);

//  Classes per record of a PREDICTION: k for a multiclass one (its
//  class_probabilities hold n x k), else 0.
size_t proto_prediction_classes(const proto_msg_t *msg);

//  Checks that a PREDICTION's task keys agree (what the encoder refuses to
//  write and the decoder to read): task "", "multiclass" or "regression";
//  regression with n values and nothing of multiclass; multiclass with
//  classes, n x k class_probabilities (2 <= k <= PROTO_CLASSES_MAX) and
//  predictions in 0..k-1; binary with neither. Returns 0 or MLOPS_EPROTO
//  with err naming the key.
int proto_prediction_check(const proto_msg_t *msg, mlops_err_t *err);

//  Checks a HEARTBEAT's progress keys (what the encoder refuses to write
//  and the decoder to read): none of done, total, unit, or a unit of 1 to
//  PROTO_UNIT_MAX lower-case letters with done <= total when total is
//  known (not 0). Negative counts the codec refuses as for every int.
//  Returns 0 or MLOPS_EPROTO with err naming the key.
int proto_heartbeat_check(const proto_msg_t *msg, mlops_err_t *err);

//  The codes of a refused REPLY (PROTOCOL.md, REPLY): what a client can act
//  on without parsing the sentence in `error`. A receiver treats a code it
//  does not know as PROTO_REPLY_INTERNAL.
#define PROTO_REPLY_INVALID "invalid"         //  the request's values are wrong (a bad source, a limit)
#define PROTO_REPLY_NOT_FOUND "not_found"     //  no such run or version, no production model
#define PROTO_REPLY_CONFLICT "conflict"       //  the registry's state forbids it (already in production)
#define PROTO_REPLY_UNAVAILABLE "unavailable" //  not now (store full, out of memory, a timeout): retry later
#define PROTO_REPLY_INTERNAL "internal"       //  the broker failed for a reason of its own

//  The REPLY code for a refusal whose cause is rc (an MLOPS_E* code or an
//  errno value); never NULL, never "".
const char *proto_reply_code(int rc);

//  Encodes msg into a malloc'd buffer the caller frees: canonical bytes,
//  every key in struct order (PROTOCOL.md, "Canonical encoding"). NULL for
//  an optional string sends ""; reply.data NULL or length 0 sends nil, else
//  it must be exactly one msgpack object and is spliced in verbatim.
//  Returns 0, MLOPS_EINVAL (unknown cmd, NULL where a string is required,
//  a string that is not UTF-8, a negative value where the wire wants >= 0,
//  a count over its limit, duplicate field names in a record, malformed
//  reply.data: anything the decoder would refuse), MLOPS_ETOOBIG (over
//  PROTO_FRAME_MAX_BYTES) or MLOPS_ENOMEM. *out is untouched on failure.
int proto_msg_encode(const proto_msg_t *msg, uint8_t **out, size_t *out_len);

//  Decodes one frame. Returns a new message the caller destroys, or NULL
//  with err set (codes listed at the top of this file).
proto_msg_t *proto_msg_decode(const uint8_t *data, size_t len, mlops_err_t *err);

//  Frees a decoded message and all it owns; ignores NULL; sets *p to NULL.
//  Only for messages from proto_msg_decode.
void proto_msg_destroy(proto_msg_t **p);

//  True when a and b are the same command with the same field values
//  (strings by content, floats bit for bit, NULL strings as "").
bool proto_msg_equal(const proto_msg_t *a, const proto_msg_t *b);

//  Writes msg to f as one line of JSON {"cmd": NAME, "body": {...}}, keys in
//  canonical order: bins and REPLY data as hex strings, records as lists of
//  [name, kind, value], NaN and infinities as Python's json reads them. For
//  debug logs and tests; the JSON is not a wire format.
void proto_msg_dump(FILE *f, const proto_msg_t *msg);

#endif
