/*  msg.c: the MLOPS/1 command tables (proto/PROTOCOL.md is the spec) and
    what walks them without touching wire bytes.

    The codec is three files around msg_internal.h, split along its two
    directions: this one holds the one table per command that both
    directions walk, the checks they must agree on (UTF-8, duplicate
    record field names), the comparison and the JSON dump; msg_decode.c
    turns a frame into a proto_msg_t; msg_encode.c turns a proto_msg_t
    into canonical bytes. A new command or key is one table entry here.
*/
#include "msg_internal.h"
#include "records.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --------------------------------------------------------------------------
//  The command tables

//  Fields: key, kind, where in proto_msg_t, where its length is (sized
//  kinds), required, longest str in bytes (0 = only the frame's limit) and
//  the protocol version that added the key (msg_internal.h).
#define S_F(c, k, kind, req) { #k, kind, offsetof(proto_msg_t, c.k), 0, req, 0, 1 }
#define S_SIZED(c, k, n, kind, req) { #k, kind, offsetof(proto_msg_t, c.k), offsetof(proto_msg_t, c.n), req, 0, 1 }
//  A str a peer sends that the broker keeps or shows: refused above max bytes
//  (PROTOCOL.md, "Limits"), never truncated.
#define S_STR(c, k, req, max) { #k, F_STR, offsetof(proto_msg_t, c.k), 0, req, max, 1 }
//  An optional str key added by MLOPS/2: on the wire only when set.
#define S_STR2(c, k, max) { #k, F_STR, offsetof(proto_msg_t, c.k), 0, false, max, 2 }
//  An optional int key added by MLOPS/2: on the wire only when not 0.
#define S_INT2(c, k) { #k, F_INT, offsetof(proto_msg_t, c.k), 0, false, 0, 2 }
//  An optional bool key added by MLOPS/2: on the wire only when true.
#define S_BOOL2(c, k) { #k, F_BOOL, offsetof(proto_msg_t, c.k), 0, false, 0, 2 }
//  An optional bin key added by MLOPS/2: on the wire only when not empty.
#define S_BIN2(c, k, n) { #k, F_BIN, offsetof(proto_msg_t, c.k), offsetof(proto_msg_t, c.n), false, 0, 2 }
//  An optional float key added by MLOPS/2: on the wire only when not 0.
#define S_FLOAT2(c, k) { #k, F_FLOAT, offsetof(proto_msg_t, c.k), 0, false, 0, 2 }
//  An optional msgpack object added by MLOPS/2: on the wire only when set.
#define S_ANY2(c, k, n) { #k, F_ANY, offsetof(proto_msg_t, c.k), offsetof(proto_msg_t, c.n), false, 0, 2 }
#define REQ true
#define OPT false

static const msg_field_t s_ready[] = {
    S_STR(ready, stage, REQ, PROTO_STAGE_MAX), S_STR(ready, host, REQ, PROTO_HOST_MAX),
    S_F(ready, pid, F_INT, REQ), S_F(ready, model_version, F_INT, OPT),
    S_STR2(ready, name, PROTO_NAME_MAX)};
static const msg_field_t s_heartbeat[] = {
    S_STR(heartbeat, task_id, OPT, PROTO_TASK_ID_MAX), S_F(heartbeat, model_version, F_INT, OPT),
    S_STR2(heartbeat, log, 0), S_INT2(heartbeat, done), S_INT2(heartbeat, total),
    S_STR2(heartbeat, unit, PROTO_UNIT_MAX)};
static const msg_field_t s_task[] = {
    S_F(task, task_id, F_STR, REQ), S_F(task, run_id, F_INT, REQ),
    S_F(task, stage, F_STR, REQ), S_F(task, attempt, F_INT, REQ),
    S_SIZED(task, input, input_len, F_BIN, REQ)};
static const msg_field_t s_result[] = {
    S_STR(result, task_id, REQ, PROTO_TASK_ID_MAX), S_F(result, run_id, F_INT, REQ),
    S_F(result, ok, F_BOOL, REQ), S_F(result, error, F_STR, OPT),
    S_SIZED(result, output, output_len, F_BIN, OPT),
    S_F(result, started_ms, F_INT, REQ), S_F(result, ended_ms, F_INT, REQ), S_STR2(result, log, 0)};
static const msg_field_t s_disconnect[] = {S_F(disconnect, reason, F_STR, OPT),
                                           S_STR2(disconnect, code, PROTO_STAGE_MAX)};
static const msg_field_t s_cancel[] = {
    {"task_id", F_STR, offsetof(proto_msg_t, cancel.task_id), 0, true, PROTO_TASK_ID_MAX, 2}};
static const msg_field_t s_retrain[] = {
    S_STR(retrain, source, OPT, PROTO_TEXT_MAX), S_STR(retrain, reason, OPT, PROTO_TEXT_MAX)};
static const msg_field_t s_runs[] = {S_F(runs, limit, F_INT, OPT)};
static const msg_field_t s_promote[] = {
    S_F(promote, version, F_INT, REQ), S_STR(promote, reason, OPT, PROTO_TEXT_MAX),
    S_BOOL2(promote, schema_change), S_BOOL2(promote, shadow), S_FLOAT2(promote, canary_percent),
    S_INT2(promote, canary_for_ms), S_INT2(promote, canary_requests)};
static const msg_field_t s_rollback[] = {S_STR(rollback, reason, OPT, PROTO_TEXT_MAX)};
static const msg_field_t s_get_model[] = {S_F(get_model, version, F_INT, OPT), S_INT2(get_model, by_hash)};
static const msg_field_t s_reply[] = {
    S_F(reply, ok, F_BOOL, REQ), S_F(reply, error, F_STR, OPT),
    S_SIZED(reply, data, data_len, F_ANY, OPT), S_F(reply, code, F_STR, OPT)};
static const msg_field_t s_event[] = {
    S_F(event, kind, F_STR, REQ), S_F(event, run_id, F_INT, OPT),
    S_F(event, stage, F_STR, OPT), S_F(event, state, F_STR, OPT),
    S_F(event, version, F_INT, OPT), S_F(event, message, F_STR, OPT),
    S_F(event, ts_ms, F_INT, REQ)};
static const msg_field_t s_predict[] = {
    S_F(predict, req_id, F_UINT, REQ),
    S_SIZED(predict, records, n_records, F_RECORDS, REQ), S_INT2(predict, version)};
//  An optional array key added by MLOPS/2: on the wire only when not
//  empty; max entries at most (0 = PROTO_RECORDS_MAX).
#define S_SIZED2(c, k, n, kind, max) { #k, kind, offsetof(proto_msg_t, c.k), offsetof(proto_msg_t, c.n), false, max, 2 }
static const msg_field_t s_prediction[] = {
    S_F(prediction, req_id, F_UINT, REQ), S_F(prediction, model_version, F_INT, REQ),
    S_SIZED(prediction, predictions, n, F_INTS, REQ),
    S_SIZED(prediction, probabilities, n, F_FLOATS, REQ),
    S_STR2(prediction, task, PROTO_STAGE_MAX), S_STR2(prediction, classes, 0),
    S_SIZED2(prediction, values, n_values, F_FLOATS, 0),
    S_SIZED2(prediction, class_probabilities, n_class_probabilities, F_FLOATS,
             PROTO_RECORDS_MAX * PROTO_CLASSES_MAX)};
static const msg_field_t s_error[] = {
    S_F(error, req_id, F_UINT, REQ), S_F(error, status, F_INT, REQ),
    S_F(error, message, F_STR, REQ), S_SIZED(error, detail, n_detail, F_DETAIL, OPT)};
static const msg_field_t s_serving[] = {
    S_STR(serving, host, REQ, PROTO_HOST_MAX), S_F(serving, pid, F_INT, REQ),
    S_F(serving, model_version, F_INT, REQ), S_F(serving, interval_ms, F_INT, OPT),
    S_STR2(serving, name, PROTO_NAME_MAX), S_INT2(serving, profile_version),
    S_BIN2(serving, profile, profile_len)};
static const msg_field_t s_logs[] = {
    {"run_id", F_INT, offsetof(proto_msg_t, logs.run_id), 0, true, 0, 2},
    {"task_id", F_STR, offsetof(proto_msg_t, logs.task_id), 0, false, PROTO_TASK_ID_MAX, 2}};
static const msg_field_t s_feedback[] = {S_BIN2(feedback, rows, rows_len)};
static const msg_field_t s_signature[] = {
    S_F(signature, model_version, F_INT, REQ), S_F(signature, signature, F_STR, REQ)};
static const msg_field_t s_canary[] = {
    S_STR2(canary, gateway, PROTO_GATEWAY_ID_MAX), S_ANY2(canary, report, report_len)};

//  what a str limit lets through fits the record that keeps it
_Static_assert(PROTO_TEXT_MAX + 1 == RECORD_TEXT_MAX, "source and reason fit a run record");
_Static_assert(PROTO_STAGE_MAX + 1 == RECORD_NAME_MAX, "a stage name fits a task record");

#define S_CMD(name, arr) { name, arr, sizeof(arr) / sizeof((arr)[0]), 1 }
#define S_CMD2(name, arr) { name, arr, sizeof(arr) / sizeof((arr)[0]), 2 }
static const msg_command_t s_commands[] = {
    [PROTO_READY] = S_CMD("READY", s_ready),
    [PROTO_HEARTBEAT] = S_CMD("HEARTBEAT", s_heartbeat),
    [PROTO_TASK] = S_CMD("TASK", s_task),
    [PROTO_RESULT] = S_CMD("RESULT", s_result),
    [PROTO_DISCONNECT] = S_CMD("DISCONNECT", s_disconnect),
    [PROTO_RETRAIN] = S_CMD("RETRAIN", s_retrain),
    [PROTO_STATUS] = {"STATUS", NULL, 0, 1},
    [PROTO_RUNS] = S_CMD("RUNS", s_runs),
    [PROTO_MODELS] = {"MODELS", NULL, 0, 1},
    [PROTO_PROMOTE] = S_CMD("PROMOTE", s_promote),
    [PROTO_ROLLBACK] = S_CMD("ROLLBACK", s_rollback),
    [PROTO_GET_MODEL] = S_CMD("GET_MODEL", s_get_model),
    [PROTO_REPLY] = S_CMD("REPLY", s_reply),
    [PROTO_EVENT] = S_CMD("EVENT", s_event),
    [PROTO_PREDICT] = S_CMD("PREDICT", s_predict),
    [PROTO_PREDICTION] = S_CMD("PREDICTION", s_prediction),
    [PROTO_ERROR] = S_CMD("ERROR", s_error),
    [PROTO_SERVING] = S_CMD("SERVING", s_serving),
    [PROTO_LOGS] = S_CMD2("LOGS", s_logs),
    [PROTO_SIGNATURE] = S_CMD2("SIGNATURE", s_signature),
    [PROTO_DRIFT] = {"DRIFT", NULL, 0, 2},
    [PROTO_AUDIT] = {"AUDIT", NULL, 0, 2},
    [PROTO_FEEDBACK] = S_CMD2("FEEDBACK", s_feedback),
    [PROTO_CANARY] = S_CMD2("CANARY", s_canary),
    [PROTO_CANCEL] = S_CMD2("CANCEL", s_cancel),
};
#define S_N_COMMANDS (sizeof(s_commands) / sizeof(s_commands[0]))

const msg_command_t *msg_command(proto_cmd_t cmd)
{
    if ((size_t)cmd >= S_N_COMMANDS || !s_commands[cmd].name)
        return NULL;
    return &s_commands[cmd];
}

proto_cmd_t msg_command_find(const uint8_t *name, size_t n)
{
    for (size_t i = 0; i < S_N_COMMANDS; i++) {
        const char *w = s_commands[i].name;
        if (w && strlen(w) == n && memcmp(w, name, n) == 0)
            return (proto_cmd_t)i;
    }
    return 0;
}

const char *proto_cmd_name(proto_cmd_t cmd)
{
    const msg_command_t *c = msg_command(cmd);
    return c ? c->name : NULL;
}

bool msg_field_omitted(const proto_msg_t *msg, const msg_field_t *f)
{
    if (f->since <= 1)
        return false;
    if (f->kind == F_ANY) {  //  nil, what an absent one decodes as, is not set
        size_t n = *MSG_CAT(msg, f->len_off, size_t);
        const uint8_t *p = *MSG_CAT(msg, f->off, uint8_t *);
        return n == 0 || !p || (n == 1 && p[0] == 0xc0);
    }
    if (f->len_off)
        return *MSG_CAT(msg, f->len_off, size_t) == 0;
    if (f->kind == F_INT)
        return *MSG_CAT(msg, f->off, int64_t) == 0;
    if (f->kind == F_BOOL)
        return !*MSG_CAT(msg, f->off, bool);
    if (f->kind == F_FLOAT)
        return *MSG_CAT(msg, f->off, double) == 0;
    if (f->kind == F_BIN)
        return *MSG_CAT(msg, f->len_off, size_t) == 0;
    if (f->kind != F_STR)
        return false;
    const char *s = *MSG_CAT(msg, f->off, char *);
    return !s || !*s;
}

int msg_version_needed(const proto_msg_t *msg, const msg_command_t *c)
{
    int version = c->since > PROTO_VERSION_MIN ? c->since : PROTO_VERSION_MIN;
    for (size_t i = 0; i < c->n_fields; i++)
        if (c->fields[i].since > version && !msg_field_omitted(msg, &c->fields[i]))
            version = c->fields[i].since;
    return version;
}

size_t proto_prediction_classes(const proto_msg_t *msg)
{
    size_t n = msg->prediction.n;
    return n && msg->prediction.n_class_probabilities ? msg->prediction.n_class_probabilities / n : 0;
}

//  The multiclass half of proto_prediction_check.
static int s_multiclass_check(const proto_msg_t *msg, mlops_err_t *err)
{
    size_t n = msg->prediction.n, k = proto_prediction_classes(msg);
    if (!msg->prediction.classes || !*msg->prediction.classes)
        return mlops_err_set(err, MLOPS_EPROTO, "PREDICTION: a multiclass answer needs \"classes\"");
    if (msg->prediction.n_values)
        return mlops_err_set(err, MLOPS_EPROTO, "PREDICTION: a multiclass answer has no \"values\"");
    size_t got = msg->prediction.n_class_probabilities;
    if (n ? k < 2 || k > PROTO_CLASSES_MAX || k * n != got : got != 0)
        return mlops_err_set(err, MLOPS_EPROTO, "PREDICTION: class_probabilities has %zu entries, "
                             "not 2 to %d per record for %zu records", got, PROTO_CLASSES_MAX, n);
    for (size_t i = 0; i < n; i++)
        if (msg->prediction.predictions[i] < 0 || (size_t)msg->prediction.predictions[i] >= k)
            return mlops_err_set(err, MLOPS_EPROTO, "PREDICTION: predictions[%zu] is not a class "
                                 "index below %zu", i, k);
    return 0;
}

int proto_prediction_check(const proto_msg_t *msg, mlops_err_t *err)
{
    const char *task = msg->prediction.task ? msg->prediction.task : "";
    bool classes = (msg->prediction.classes && *msg->prediction.classes)
                || msg->prediction.n_class_probabilities;
    if (strcmp(task, "multiclass") == 0)
        return s_multiclass_check(msg, err);
    if (strcmp(task, "regression") == 0 && msg->prediction.n_values == msg->prediction.n && !classes)
        return 0;
    if (!*task && !classes && !msg->prediction.n_values)
        return 0;
    if (*task && strcmp(task, "regression") != 0)
        return mlops_err_set(err, MLOPS_EPROTO, "PREDICTION: unknown task \"%s\" (binary is "
                             "left out; else multiclass or regression)", task);
    return mlops_err_set(err, MLOPS_EPROTO, "PREDICTION: %s answer with %zu values for %zu "
                         "records%s", *task ? "a regression" : "a binary", msg->prediction.n_values,
                         msg->prediction.n, classes ? " and class keys" : "");
}

int proto_heartbeat_check(const proto_msg_t *msg, mlops_err_t *err)
{
    const char *unit = msg->heartbeat.unit ? msg->heartbeat.unit : "";
    int64_t done = msg->heartbeat.done, total = msg->heartbeat.total;
    if (!*unit && (done || total))
        return mlops_err_set(err, MLOPS_EPROTO, "HEARTBEAT: progress without a \"unit\"");
    if (strlen(unit) > PROTO_UNIT_MAX || strspn(unit, "abcdefghijklmnopqrstuvwxyz") != strlen(unit))
        return mlops_err_set(err, MLOPS_EPROTO, "HEARTBEAT: \"unit\" is 1 to %d lower-case "
                             "letters", PROTO_UNIT_MAX);
    if (done < 0 || total < 0 || (total && done > total))
        return mlops_err_set(err, MLOPS_EPROTO, "HEARTBEAT: \"done\" %lld is not in 0..%lld "
                             "(\"total\")", (long long)done, (long long)total);
    return 0;
}

int proto_name_check(const char *name, mlops_err_t *err)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > PROTO_NAME_MAX)
        return mlops_err_set(err, MLOPS_EINVAL, "a worker name has 1 to %d bytes, got %zu",
                             PROTO_NAME_MAX, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        bool alnum = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (!alnum && !strchr("._-:@", ch))
            return mlops_err_set(err, MLOPS_EINVAL,
                                 "a worker name may hold letters, digits and . _ - : @, not byte "
                                 "0x%02x at %zu", ch, i);
    }
    return 0;
}

char *proto_log_sanitize(char *text, size_t len)
{
    uint8_t *p = (uint8_t *)text;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            if ((p[i] < 0x20 && p[i] != '\n') || p[i] == 0x7f)
                p[i] = '?';
            i++;
            continue;
        }
        size_t n = p[i] >= 0xf0 ? 4 : p[i] >= 0xe0 ? 3 : 2, bad;
        bool valid = n <= len - i && msg_utf8_valid(p + i, n, &bad);
        if (valid && !(p[i] == 0xc2 && p[i + 1] < 0xa0)) {
            i += n;
            continue;
        }
        //  a C1 control (0xc2 0x80..0x9f) loses both its bytes, a stray byte itself
        for (size_t k = valid ? n : 1; k > 0; k--)
            p[i++] = '?';
    }
    return text;
}

const char *proto_reply_code(int rc)
{
    switch (rc) {
    case MLOPS_EPROTO: case MLOPS_EVERSION: case MLOPS_ECOMMAND: case MLOPS_ETOOBIG:
    case MLOPS_EINVAL: case MLOPS_ECSV: case MLOPS_ECHECK:
        return PROTO_REPLY_INVALID;
    case MLOPS_ENOTFOUND: case MLOPS_ENOMODEL: return PROTO_REPLY_NOT_FOUND;
    case MLOPS_ESTATE: return PROTO_REPLY_CONFLICT;
    case MLOPS_EMAPFULL: case MLOPS_ENOMEM: case MLOPS_ETIMEOUT: return PROTO_REPLY_UNAVAILABLE;
    case ENOSPC: case EDQUOT: return PROTO_REPLY_UNAVAILABLE; //  the store's disk is full
    case EAGAIN: return PROTO_REPLY_UNAVAILABLE; //  too soon (--trigger-min-interval)
    default: return PROTO_REPLY_INTERNAL;
    }
}

//  --------------------------------------------------------------------------
//  The checks both directions share

bool msg_utf8_valid(const uint8_t *s, size_t n, size_t *bad)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    while (i < n) {
        uint64_t w;
        //  eight bytes at a time while they are ASCII without a NUL
        if (n - i >= 8 && (memcpy(&w, s + i, 8), ((w | ((w - ones) & ~w)) & highs) == 0)) {
            i += 8;
            continue;
        }
        uint8_t c = s[i];
        if (c >= 0x01 && c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf)
            extra = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            extra = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            extra = 3, cp = c & 0x07;
        else
            break;  //  NUL, a continuation byte, or 0xc0, 0xc1, 0xf5..0xff
        if (n - i <= extra)
            break;
        size_t k;
        for (k = 1; k <= extra && (s[i + k] & 0xc0) == 0x80; k++)
            cp = (cp << 6) | (s[i + k] & 0x3f);
        if (k <= extra)
            break;
        //  overlong forms, UTF-16 surrogates, beyond U+10FFFF
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)
            || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            break;
        i += extra + 1;
    }
    *bad = i;
    return i == n;
}

static int s_name_key_cmp_fn(const void *a, const void *b)
{
    return strcmp(((const msg_name_key_t *)a)->name, ((const msg_name_key_t *)b)->name);
}

const char *msg_names_repeat(msg_name_key_t *keys, size_t n)
{
    if (n > MSG_DUP_PAIRWISE_MAX) {
        qsort(keys, n, sizeof *keys, s_name_key_cmp_fn);
        for (size_t i = 1; i < n; i++)
            if (strcmp(keys[i].name, keys[i - 1].name) == 0)
                return keys[i].name;
        return NULL;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (keys[i].head == keys[j].head && keys[i].len == keys[j].len
                && strcmp(keys[i].name, keys[j].name) == 0)
                return keys[i].name;
    return NULL;
}


//  --------------------------------------------------------------------------
//  Comparing

static bool s_same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static bool s_same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool s_same_records(const proto_record_t *a, const proto_record_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].n_fields != b[i].n_fields)
            return false;
        for (size_t j = 0; j < a[i].n_fields; j++) {
            const proto_field_t *x = &a[i].fields[j], *y = &b[i].fields[j];
            if (!s_same_str(x->name, y->name) || x->kind != y->kind)
                return false;
            if (x->kind == PROTO_VAL_STR ? !s_same_str(x->str, y->str)
                : x->kind == PROTO_VAL_FLOAT ? !s_same_double(x->num, y->num)
                : x->num != y->num)
                return false;
        }
    }
    return true;
}

static bool s_same_field(const proto_msg_t *a, const proto_msg_t *b, const msg_field_t *f)
{
    const void *pa = f->kind == F_STR || f->kind >= F_BIN ? *MSG_CAT(a, f->off, void *) : NULL;
    const void *pb = f->kind == F_STR || f->kind >= F_BIN ? *MSG_CAT(b, f->off, void *) : NULL;
    size_t n = f->len_off ? *MSG_CAT(a, f->len_off, size_t) : 0;
    if (f->len_off && n != *MSG_CAT(b, f->len_off, size_t))
        return false;
    switch (f->kind) {
    case F_STR: return s_same_str(pa, pb);
    case F_INT: return *MSG_CAT(a, f->off, int64_t) == *MSG_CAT(b, f->off, int64_t);
    case F_UINT: return *MSG_CAT(a, f->off, uint64_t) == *MSG_CAT(b, f->off, uint64_t);
    case F_BOOL: return *MSG_CAT(a, f->off, bool) == *MSG_CAT(b, f->off, bool);
    case F_FLOAT: return memcmp(MSG_CAT(a, f->off, double), MSG_CAT(b, f->off, double), sizeof(double)) == 0;
    case F_BIN:
    case F_ANY: return n == 0 || memcmp(pa, pb, n) == 0;
    case F_RECORDS: return s_same_records(pa, pb, n);
    case F_INTS: return n == 0 || memcmp(pa, pb, n * sizeof(int64_t)) == 0;
    case F_FLOATS: return n == 0 || memcmp(pa, pb, n * sizeof(double)) == 0;
    case F_DETAIL:
        for (size_t i = 0; i < n; i++) {
            const proto_problem_t *x = &((const proto_problem_t *)pa)[i], *y = &((const proto_problem_t *)pb)[i];
            if (x->index != y->index || !s_same_str(x->field, y->field) || !s_same_str(x->msg, y->msg))
                return false;
        }
        return true;
    }
    return false;
}

bool proto_msg_equal(const proto_msg_t *a, const proto_msg_t *b)
{
    assert(a && b);
    if (a->cmd != b->cmd)
        return false;
    const msg_command_t *c = msg_command(a->cmd);
    if (!c)
        return false;
    //  a key both leave off the wire is the same (an unset report and the
    //  nil an absent one decodes as)
    for (size_t i = 0; i < c->n_fields; i++)
        if (!(msg_field_omitted(a, &c->fields[i]) && msg_field_omitted(b, &c->fields[i]))
            && !s_same_field(a, b, &c->fields[i]))
            return false;
    return true;
}


//  --------------------------------------------------------------------------
//  Dumping, for debug logs and tests

static void s_dump_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void s_dump_hex(FILE *f, const uint8_t *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('"', f);
}

//  Doubles as JSON numbers; NaN and the infinities as Python's json reads them.
static void s_dump_double(FILE *f, double d)
{
    if (isnan(d))
        fputs("NaN", f);
    else if (isinf(d))
        fputs(d > 0 ? "Infinity" : "-Infinity", f);
    else
        fprintf(f, "%.17g", d);
}

static void s_dump_records(FILE *f, const proto_record_t *recs, size_t n)
{
    static const char *kinds[] = {"nil", "bool", "int", "float", "str"};
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", [" : "[", f);
        for (size_t j = 0; j < recs[i].n_fields; j++) {
            const proto_field_t *x = &recs[i].fields[j];
            fputs(j ? ", [" : "[", f);
            s_dump_str(f, x->name);
            fprintf(f, ", \"%s\", ", x->kind <= PROTO_VAL_STR ? kinds[x->kind] : "?");
            if (x->kind == PROTO_VAL_STR)
                s_dump_str(f, x->str);
            else
                s_dump_double(f, x->num);
            fputc(']', f);
        }
        fputc(']', f);
    }
    fputc(']', f);
}

static void s_dump_field(FILE *f, const proto_msg_t *m, const msg_field_t *fd)
{
    const void *ptr = fd->kind == F_STR || fd->kind >= F_BIN ? *MSG_CAT(m, fd->off, void *) : NULL;
    size_t n = fd->len_off ? *MSG_CAT(m, fd->len_off, size_t) : 0;
    switch (fd->kind) {
    case F_STR: s_dump_str(f, ptr); break;
    case F_INT: fprintf(f, "%lld", (long long)*MSG_CAT(m, fd->off, int64_t)); break;
    case F_UINT: fprintf(f, "%llu", (unsigned long long)*MSG_CAT(m, fd->off, uint64_t)); break;
    case F_BOOL: fputs(*MSG_CAT(m, fd->off, bool) ? "true" : "false", f); break;
    case F_FLOAT: s_dump_double(f, *MSG_CAT(m, fd->off, double)); break;
    case F_BIN:
    case F_ANY: s_dump_hex(f, ptr, n); break;
    case F_RECORDS: s_dump_records(f, ptr, n); break;
    case F_INTS:
    case F_FLOATS:
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
            if (i)
                fputs(", ", f);
            if (fd->kind == F_INTS)
                fprintf(f, "%lld", (long long)((const int64_t *)ptr)[i]);
            else
                s_dump_double(f, ((const double *)ptr)[i]);
        }
        fputc(']', f);
        break;
    case F_DETAIL:
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
            const proto_problem_t *p = &((const proto_problem_t *)ptr)[i];
            fprintf(f, "%s{\"index\": %lld, \"field\": ", i ? ", " : "", (long long)p->index);
            s_dump_str(f, p->field);
            fputs(", \"msg\": ", f);
            s_dump_str(f, p->msg);
            fputc('}', f);
        }
        fputc(']', f);
        break;
    }
}

void proto_msg_dump(FILE *f, const proto_msg_t *msg)
{
    assert(f && msg);
    const msg_command_t *c = msg_command(msg->cmd);
    if (!c) {
        fprintf(f, "{\"cmd\": null}\n");
        return;
    }
    fprintf(f, "{\"cmd\": \"%s\", \"body\": {", c->name);
    bool first = true;
    for (size_t i = 0; i < c->n_fields; i++) {
        if (msg_field_omitted(msg, &c->fields[i]))
            continue;   //  as on the wire
        fprintf(f, "%s\"%s\": ", first ? "" : ", ", c->fields[i].key);
        s_dump_field(f, msg, &c->fields[i]);
        first = false;
    }
    fputs("}}\n", f);
}

