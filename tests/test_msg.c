/*  test_msg.c: the MLOPS/1 codec (proto/msg.c).

    Round trips of every command with every field compared, then every
    refusal the decoder and encoder promise, each checked for its code and
    for a message that names the key.

    Also a helper for tests/test_interop_msg.py:
        test_msg --dump-samples   prints "NAME HEX" for the sample of every command
        test_msg --decode HEX     prints the decoded message as JSON (proto_msg_dump)
                                  or "error CODE MESSAGE" and exits 1
*/
#include "msg.h"
#include "testing.h"

#include <assert.h>
#include <msgpack.h>
#include <stdint.h>

//  --------------------------------------------------------------------------
//  Samples: one message per command; tests/test_interop_msg.py builds the
//  same ones from PROTOCOL.md and must get the same bytes.

static uint8_t s_input[300];  //  TASK input: i % 251, long enough for bin 16
static const uint8_t s_output[] = {0x01, 0x02, 0x03};
//  REPLY data for RETRAIN: {"run_id": 8, "coalesced": false, "state": "queued"}
static const uint8_t s_reply_data[] = {
    0x83, 0xa6, 'r', 'u', 'n', '_', 'i', 'd', 0x08,
    0xa9, 'c', 'o', 'a', 'l', 'e', 's', 'c', 'e', 'd', 0xc2,
    0xa5, 's', 't', 'a', 't', 'e', 0xa6, 'q', 'u', 'e', 'u', 'e', 'd'};
static proto_field_t s_rec0[] = {
    {"Pclass", PROTO_VAL_INT, 3, NULL},
    {"Sex", PROTO_VAL_STR, 0, "male"},
    {"Age", PROTO_VAL_FLOAT, 22.5, NULL},
    {"SibSp", PROTO_VAL_INT, -1, NULL},
    {"Embarked", PROTO_VAL_NIL, 0, NULL},
    {"Alive", PROTO_VAL_BOOL, 1, NULL},
    {"Big", PROTO_VAL_INT, 1e15, NULL},
};
static proto_field_t s_rec1[] = {
    {"Name", PROTO_VAL_STR, 0, "Braund, Mr. Owen Harris (\xc3\xa9t\xc3\xa9 1912)"},
    {"Fare", PROTO_VAL_FLOAT, 7.25, NULL},
};
static proto_record_t s_records[] = {{s_rec0, 7}, {s_rec1, 2}};
static const int64_t s_predictions[] = {0, 1};
static const double s_probabilities[] = {0.11, 0.93};
static const proto_problem_t s_detail[] = {
    {0, "Age", "must be a number"},
    {-1, "", "unknown field Cabin"},
};

#define SAMPLE_REQ_ID 9223372036854775813ull  //  2^63 + 5: needs uint 64

static proto_msg_t s_sample(proto_cmd_t cmd)
{
    for (size_t i = 0; i < sizeof s_input; i++)
        s_input[i] = (uint8_t)(i % 251);
    proto_msg_t m = {.cmd = cmd};
    switch (cmd) {
    case PROTO_READY: m.ready.stage = "train", m.ready.host = "node-1", m.ready.pid = 4242; break;
    case PROTO_HEARTBEAT: m.heartbeat.task_id = "7-train-forest", m.heartbeat.model_version = 3; break;
    case PROTO_TASK:
        m.task.task_id = "7-train-forest", m.task.run_id = 7, m.task.stage = "train";
        m.task.attempt = 2, m.task.input = s_input, m.task.input_len = sizeof s_input;
        break;
    case PROTO_RESULT:
        m.result.task_id = "7-train-forest", m.result.run_id = 7, m.result.ok = true;
        m.result.error = "", m.result.output = s_output, m.result.output_len = sizeof s_output;
        m.result.started_ms = 1764130000000, m.result.ended_ms = 1764130004321;
        break;
    case PROTO_DISCONNECT: m.disconnect.reason = "shutting down"; break;
    case PROTO_RETRAIN: m.retrain.source = "synthetic:2000:7", m.retrain.reason = "from python"; break;
    case PROTO_RUNS: m.runs.limit = 5; break;
    case PROTO_PROMOTE: m.promote.version = 3, m.promote.reason = "better auc"; break;
    case PROTO_ROLLBACK: m.rollback.reason = "regression"; break;
    case PROTO_GET_MODEL: m.get_model.version = 0; break;
    case PROTO_REPLY:
        m.reply.ok = true, m.reply.error = "", m.reply.data = s_reply_data;
        m.reply.data_len = sizeof s_reply_data;
        break;
    case PROTO_EVENT:
        m.event.kind = "run", m.event.run_id = 8, m.event.stage = "", m.event.state = "running";
        m.event.version = 0, m.event.message = "started", m.event.ts_ms = 1764130000123;
        break;
    case PROTO_PREDICT: m.predict.req_id = SAMPLE_REQ_ID, m.predict.records = s_records, m.predict.n_records = 2; break;
    case PROTO_PREDICTION:
        m.prediction.req_id = 77, m.prediction.model_version = 3, m.prediction.predictions = s_predictions;
        m.prediction.probabilities = s_probabilities, m.prediction.n = 2;
        break;
    case PROTO_ERROR:
        m.error.req_id = 78, m.error.status = 422, m.error.message = "invalid record";
        m.error.detail = s_detail, m.error.n_detail = 2;
        break;
    case PROTO_SERVING:
        m.serving.host = "node-2", m.serving.pid = 5151, m.serving.model_version = 3;
        m.serving.interval_ms = 1000;
        break;
    default: break;  //  STATUS, MODELS: no keys
    }
    return m;
}

//  Encodes the sample of cmd, decodes it back; NULL (and a failed check
//  in the caller) on any error.
static proto_msg_t *s_round_trip(proto_cmd_t cmd)
{
    proto_msg_t m = s_sample(cmd);
    uint8_t *buf = NULL;
    size_t len = 0;
    mlops_err_t err;
    mlops_err_clear(&err);
    if (proto_msg_encode(&m, &buf, &len) != 0)
        return NULL;
    proto_msg_t *d = proto_msg_decode(buf, len, &err);
    if (!d)
        fprintf(stderr, "  decode %s: %s\n", proto_cmd_name(cmd), err.msg);
    free(buf);
    return d;
}

//  --------------------------------------------------------------------------
//  Round trips, every field compared by hand (not with proto_msg_equal)

static void test_cmd_names(void)
{
    CHECK_STR(proto_cmd_name(PROTO_READY), "READY");
    CHECK_STR(proto_cmd_name(PROTO_GET_MODEL), "GET_MODEL");
    CHECK_STR(proto_cmd_name(PROTO_ERROR), "ERROR");
    CHECK_STR(proto_cmd_name(PROTO_SERVING), "SERVING");
    CHECK(proto_cmd_name(0) == NULL);
    CHECK(proto_cmd_name(PROTO_SERVING + 1) == NULL);
    CHECK(proto_cmd_name((proto_cmd_t)-1) == NULL);
}

static void test_round_trip_worker_side(void)
{
    proto_msg_t *d = s_round_trip(PROTO_READY);
    CHECK(d && d->cmd == PROTO_READY);
    CHECK_STR(d->ready.stage, "train");
    CHECK_STR(d->ready.host, "node-1");
    CHECK_INT(d->ready.pid, 4242);
    CHECK_INT(d->ready.model_version, 0);
    proto_msg_destroy(&d);
    CHECK(d == NULL);

    d = s_round_trip(PROTO_HEARTBEAT);
    CHECK(d && d->cmd == PROTO_HEARTBEAT);
    CHECK_STR(d->heartbeat.task_id, "7-train-forest");
    CHECK_INT(d->heartbeat.model_version, 3);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_TASK);
    CHECK(d && d->cmd == PROTO_TASK);
    CHECK_STR(d->task.task_id, "7-train-forest");
    CHECK_INT(d->task.run_id, 7);
    CHECK_STR(d->task.stage, "train");
    CHECK_INT(d->task.attempt, 2);
    CHECK_INT(d->task.input_len, sizeof s_input);
    CHECK(memcmp(d->task.input, s_input, sizeof s_input) == 0);
    CHECK(d->task.input != s_input);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_RESULT);
    CHECK(d && d->cmd == PROTO_RESULT);
    CHECK_STR(d->result.task_id, "7-train-forest");
    CHECK_INT(d->result.run_id, 7);
    CHECK(d->result.ok);
    CHECK_STR(d->result.error, "");
    CHECK_INT(d->result.output_len, 3);
    CHECK(memcmp(d->result.output, s_output, 3) == 0);
    CHECK_INT(d->result.started_ms, 1764130000000);
    CHECK_INT(d->result.ended_ms, 1764130004321);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_DISCONNECT);
    CHECK(d && d->cmd == PROTO_DISCONNECT);
    CHECK_STR(d->disconnect.reason, "shutting down");
    proto_msg_destroy(&d);
}

static void test_round_trip_control_side(void)
{
    proto_msg_t *d = s_round_trip(PROTO_RETRAIN);
    CHECK(d && d->cmd == PROTO_RETRAIN);
    CHECK_STR(d->retrain.source, "synthetic:2000:7");
    CHECK_STR(d->retrain.reason, "from python");
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_STATUS);
    CHECK(d && d->cmd == PROTO_STATUS);
    proto_msg_destroy(&d);
    d = s_round_trip(PROTO_MODELS);
    CHECK(d && d->cmd == PROTO_MODELS);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_RUNS);
    CHECK(d && d->cmd == PROTO_RUNS);
    CHECK_INT(d->runs.limit, 5);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_PROMOTE);
    CHECK(d && d->cmd == PROTO_PROMOTE);
    CHECK_INT(d->promote.version, 3);
    CHECK_STR(d->promote.reason, "better auc");
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_ROLLBACK);
    CHECK(d && d->cmd == PROTO_ROLLBACK);
    CHECK_STR(d->rollback.reason, "regression");
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_GET_MODEL);
    CHECK(d && d->cmd == PROTO_GET_MODEL);
    CHECK_INT(d->get_model.version, 0);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_REPLY);
    CHECK(d && d->cmd == PROTO_REPLY);
    CHECK(d->reply.ok);
    CHECK_STR(d->reply.error, "");
    CHECK_INT(d->reply.data_len, sizeof s_reply_data);
    CHECK(memcmp(d->reply.data, s_reply_data, sizeof s_reply_data) == 0);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_EVENT);
    CHECK(d && d->cmd == PROTO_EVENT);
    CHECK_STR(d->event.kind, "run");
    CHECK_INT(d->event.run_id, 8);
    CHECK_STR(d->event.stage, "");
    CHECK_STR(d->event.state, "running");
    CHECK_INT(d->event.version, 0);
    CHECK_STR(d->event.message, "started");
    CHECK_INT(d->event.ts_ms, 1764130000123);
    proto_msg_destroy(&d);
}

static void test_round_trip_predict(void)
{
    proto_msg_t *d = s_round_trip(PROTO_PREDICT);
    CHECK(d && d->cmd == PROTO_PREDICT);
    CHECK(d->predict.req_id == SAMPLE_REQ_ID);
    CHECK_INT(d->predict.n_records, 2);
    for (size_t i = 0; i < 2; i++) {
        const proto_record_t *want = &s_records[i], *got = &d->predict.records[i];
        CHECK_INT(got->n_fields, want->n_fields);
        for (size_t j = 0; j < want->n_fields; j++) {
            CHECK_STR(got->fields[j].name, want->fields[j].name);
            CHECK_INT(got->fields[j].kind, want->fields[j].kind);
            if (want->fields[j].kind == PROTO_VAL_STR)
                CHECK_STR(got->fields[j].str, want->fields[j].str);
            else
                CHECK(got->fields[j].num == want->fields[j].num);
        }
    }
    proto_msg_destroy(&d);
}

static void test_round_trip_prediction_and_error(void)
{
    proto_msg_t *d = s_round_trip(PROTO_PREDICTION);
    CHECK(d && d->cmd == PROTO_PREDICTION);
    CHECK_INT(d->prediction.req_id, 77);
    CHECK_INT(d->prediction.model_version, 3);
    CHECK_INT(d->prediction.n, 2);
    CHECK_INT(d->prediction.predictions[0], 0);
    CHECK_INT(d->prediction.predictions[1], 1);
    CHECK(d->prediction.probabilities[0] == 0.11);
    CHECK(d->prediction.probabilities[1] == 0.93);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_ERROR);
    CHECK(d && d->cmd == PROTO_ERROR);
    CHECK_INT(d->error.req_id, 78);
    CHECK_INT(d->error.status, 422);
    CHECK_STR(d->error.message, "invalid record");
    CHECK_INT(d->error.n_detail, 2);
    for (size_t i = 0; i < 2; i++) {
        CHECK_INT(d->error.detail[i].index, s_detail[i].index);
        CHECK_STR(d->error.detail[i].field, s_detail[i].field);
        CHECK_STR(d->error.detail[i].msg, s_detail[i].msg);
    }
    proto_msg_destroy(&d);
}

//  Every command: decode(encode(x)) equals x, and encoding is canonical
//  (encode(decode(encode(x))) gives the same bytes).
static void test_equal_and_canonical_for_every_command(void)
{
    for (proto_cmd_t c = PROTO_READY; c <= PROTO_SERVING; c++) {
        proto_msg_t m = s_sample(c);
        uint8_t *a = NULL, *b = NULL;
        size_t alen, blen;
        CHECK_INT(proto_msg_encode(&m, &a, &alen), 0);
        proto_msg_t *d = proto_msg_decode(a, alen, NULL);
        CHECK(d != NULL);
        int same = proto_msg_equal(&m, d);
        int rc = proto_msg_encode(d, &b, &blen);
        int same_bytes = rc == 0 && blen == alen && memcmp(a, b, alen) == 0;
        proto_msg_destroy(&d);
        free(a);
        free(b);
        if (!same || !same_bytes)
            fprintf(stderr, "  command %s\n", proto_cmd_name(c));
        CHECK(same);
        CHECK(same_bytes);
    }
    //  and the comparison can tell a difference
    proto_msg_t x = s_sample(PROTO_RETRAIN), y = s_sample(PROTO_RETRAIN);
    CHECK(proto_msg_equal(&x, &y));
    y.retrain.reason = "other";
    CHECK(!proto_msg_equal(&x, &y));
    y = s_sample(PROTO_STATUS);
    CHECK(!proto_msg_equal(&x, &y));
}

//  --------------------------------------------------------------------------
//  Hand-built frames for the decoder (msgpack written byte by byte)

typedef struct {
    uint8_t b[4096];
    size_t n;
} frame_t;

static void f_bytes(frame_t *f, const void *p, size_t n)
{
    assert(f->n + n <= sizeof f->b);
    memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void f_byte(frame_t *f, uint8_t x)
{
    f_bytes(f, &x, 1);
}

static void f_str(frame_t *f, const char *s)
{
    size_t n = strlen(s);
    assert(n < 32);
    f_byte(f, (uint8_t)(0xa0 | n));
    f_bytes(f, s, n);
}

//  [1, cmd, {n keys...}]: the caller appends the keys and values.
static frame_t f_start(const char *cmd, unsigned n_keys)
{
    frame_t f = {.n = 0};
    f_byte(&f, 0x93);
    f_byte(&f, 0x01);
    f_str(&f, cmd);
    f_byte(&f, (uint8_t)(0x80 | n_keys));
    return f;
}

//  Decodes f expecting failure with code; the message must contain each
//  of the (up to two) needles.
#define CHECK_REFUSED(f, want, n1, n2)                                           \
    do {                                                                         \
        mlops_err_t _e;                                                          \
        mlops_err_clear(&_e);                                                    \
        proto_msg_t *_m = proto_msg_decode((f).b, (f).n, &_e);                   \
        CHECK(_m == NULL);                                                       \
        CHECK_INT(_e.code, (want));                                              \
        CHECK_CONTAINS(_e.msg, (n1));                                            \
        CHECK_CONTAINS(_e.msg, (n2));                                            \
    } while (0)

static void test_refuses_envelope_errors(void)
{
    frame_t f = {.n = 0};
    CHECK_REFUSED(f, MLOPS_EPROTO, "truncated", "byte 0");

    f_byte(&f, 0x80);  //  {} instead of an array
    CHECK_REFUSED(f, MLOPS_EPROTO, "envelope", "expected array, got map at byte 0");

    f.n = 0;
    f_byte(&f, 0x92), f_byte(&f, 0x01), f_str(&f, "STATUS");
    CHECK_REFUSED(f, MLOPS_EPROTO, "envelope", "2 elements, expected 3");

    f = f_start("STATUS", 0);
    f.b[0] = 0x94;
    f_byte(&f, 0xc0);
    CHECK_REFUSED(f, MLOPS_EPROTO, "envelope", "4 elements");

    f = f_start("STATUS", 0);
    f.b[1] = 0x02;
    CHECK_REFUSED(f, MLOPS_EVERSION, "version 2", "byte 1");
    f.b[1] = 0xff;  //  -1
    CHECK_REFUSED(f, MLOPS_EVERSION, "version -1", "not supported");

    f.n = 0;  //  version as a str
    f_byte(&f, 0x93), f_str(&f, "1"), f_str(&f, "STATUS"), f_byte(&f, 0x80);
    CHECK_REFUSED(f, MLOPS_EPROTO, "version", "expected int, got str at byte 1");

    f.n = 0;  //  version 1 as uint 64 is still 1
    f_byte(&f, 0x93), f_bytes(&f, "\xcf\0\0\0\0\0\0\0\x01", 9), f_str(&f, "STATUS"), f_byte(&f, 0x80);
    proto_msg_t *m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m && m->cmd == PROTO_STATUS);
    proto_msg_destroy(&m);

    f = f_start("RETRAINS", 0);
    CHECK_REFUSED(f, MLOPS_ECOMMAND, "unknown command \"RETRAINS\"", "byte 2");
    f = f_start("retrain", 0);
    CHECK_REFUSED(f, MLOPS_ECOMMAND, "\"retrain\"", "unknown");

    f.n = 0;  //  command as an int
    f_byte(&f, 0x93), f_byte(&f, 0x01), f_byte(&f, 0x07), f_byte(&f, 0x80);
    CHECK_REFUSED(f, MLOPS_EPROTO, "command", "expected str, got int at byte 2");

    f.n = 0;  //  body as an array
    f_byte(&f, 0x93), f_byte(&f, 0x01), f_str(&f, "STATUS"), f_byte(&f, 0x90);
    CHECK_REFUSED(f, MLOPS_EPROTO, "STATUS: body", "expected map, got array");

    f = f_start("STATUS", 0);
    f_byte(&f, 0xc0);
    CHECK_REFUSED(f, MLOPS_EPROTO, "1 trailing bytes", "at byte 10");

    mlops_err_t err;
    m = proto_msg_decode(f.b, PROTO_FRAME_MAX_BYTES + 1ull, &err);  //  refused before reading
    CHECK(m == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "limit");
}

static void test_refuses_body_key_errors(void)
{
    frame_t f = f_start("RETRAIN", 1);
    f_str(&f, "sourse"), f_str(&f, "x");
    CHECK_REFUSED(f, MLOPS_EPROTO, "RETRAIN: unknown key \"sourse\"", "at byte 11");

    f = f_start("RETRAIN", 2);
    f_str(&f, "source"), f_str(&f, "a"), f_str(&f, "source"), f_str(&f, "b");
    CHECK_REFUSED(f, MLOPS_EPROTO, "duplicate key \"source\"", "byte");

    f = f_start("PROMOTE", 1);
    f_str(&f, "reason"), f_str(&f, "x");
    CHECK_REFUSED(f, MLOPS_EPROTO, "PROMOTE: missing required key \"version\"", "version");

    f = f_start("RETRAIN", 1);
    f_str(&f, "source"), f_byte(&f, 0x05);
    CHECK_REFUSED(f, MLOPS_EPROTO, "RETRAIN: source: expected str, got int", "at byte 18");

    f = f_start("RETRAIN", 1);
    f_byte(&f, 0x01), f_str(&f, "x");
    CHECK_REFUSED(f, MLOPS_EPROTO, "body key", "expected str, got int");

    f = f_start("RETRAIN", 1);  //  a NUL in a str
    f_str(&f, "source"), f_bytes(&f, "\xa3" "a\0b", 4);
    CHECK_REFUSED(f, MLOPS_EPROTO, "source", "NUL byte at byte 20");

    f = f_start("RETRAIN", 1);  //  a lone continuation byte
    f_str(&f, "reason"), f_bytes(&f, "\xa2" "a\x80", 3);
    CHECK_REFUSED(f, MLOPS_EPROTO, "reason", "invalid UTF-8");

    f = f_start("RETRAIN", 1);  //  an overlong '/'
    f_str(&f, "reason"), f_bytes(&f, "\xa2\xc0\xaf", 3);
    CHECK_REFUSED(f, MLOPS_EPROTO, "reason", "invalid UTF-8");

    f = f_start("REPLY", 1);
    f_str(&f, "ok"), f_byte(&f, 0x01);
    CHECK_REFUSED(f, MLOPS_EPROTO, "REPLY: ok: expected bool, got int", "byte");

    f = f_start("TASK", 5);  //  input as str, not bin
    f_str(&f, "task_id"), f_str(&f, "t"), f_str(&f, "run_id"), f_byte(&f, 1);
    f_str(&f, "stage"), f_str(&f, "train"), f_str(&f, "attempt"), f_byte(&f, 1);
    f_str(&f, "input"), f_str(&f, "abc");
    CHECK_REFUSED(f, MLOPS_EPROTO, "TASK: input: expected bin, got str", "byte");
}

//  The UTF-8 check reads ASCII eight bytes at a time: a bad byte at every
//  offset of a 24-byte str, inside a word or after it, is still refused at
//  its own byte, and good multibyte text anywhere is kept.
static void test_utf8_check_at_every_offset(void)
{
    const uint8_t bad[] = {0x00, 0x80, 0xff, 0xc0};
    for (size_t pos = 0; pos < 24; pos++) {
        for (size_t b = 0; b < sizeof bad; b++) {
            char body[25];
            memset(body, 'a', 24);
            body[pos] = (char)bad[b];
            frame_t f = f_start("RETRAIN", 1);
            f_str(&f, "reason"), f_byte(&f, 0xa0 | 24);
            size_t at = f.n + pos;
            f_bytes(&f, body, 24);
            char want[64];
            snprintf(want, sizeof want, "%s at byte %zu", bad[b] ? "invalid UTF-8" : "a NUL byte", at);
            CHECK_REFUSED(f, MLOPS_EPROTO, "reason", want);
        }
        if (pos > 22)
            continue;
        char body[25];
        memset(body, 'a', 24);
        body[pos] = (char)0xc3, body[pos + 1] = (char)0xa9;  //  e acute
        frame_t f = f_start("RETRAIN", 1);
        f_str(&f, "reason"), f_byte(&f, 0xa0 | 24), f_bytes(&f, body, 24);
        proto_msg_t *m = proto_msg_decode(f.b, f.n, NULL);
        CHECK(m != NULL && m->retrain.reason && memcmp(m->retrain.reason, body, 24) == 0);
        proto_msg_destroy(&m);
    }
}

static void test_refuses_bad_integers(void)
{
    frame_t f = f_start("READY", 3);
    f_str(&f, "stage"), f_str(&f, "train"), f_str(&f, "host"), f_str(&f, "h");
    f_str(&f, "pid"), f_byte(&f, 0xfb);  //  -5
    CHECK_REFUSED(f, MLOPS_EPROTO, "READY: pid: -5 is below 0", "byte");

    f = f_start("RUNS", 1);
    f_str(&f, "limit"), f_bytes(&f, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
    CHECK_REFUSED(f, MLOPS_EPROTO, "RUNS: limit", "does not fit a signed 64-bit int");

    f = f_start("RUNS", 1);
    f_str(&f, "limit"), f_bytes(&f, "\xcb\x40\x14\0\0\0\0\0\0", 9);  //  5.0
    CHECK_REFUSED(f, MLOPS_EPROTO, "RUNS: limit", "expected int, got float");

    f = f_start("RUNS", 1);
    f_str(&f, "limit"), f_bytes(&f, "\xcd\x01", 2);  //  uint 16 cut short
    CHECK_REFUSED(f, MLOPS_EPROTO, "RUNS: limit", "truncated");

    f = f_start("PREDICT", 2);
    f_str(&f, "req_id"), f_bytes(&f, "\xd0\xff", 2);  //  -1 as int 8
    f_str(&f, "records"), f_byte(&f, 0x90);
    CHECK_REFUSED(f, MLOPS_EPROTO, "PREDICT: req_id", "negative");

    //  accepted: any int encoding that fits, keys in any order, float 32
    f = f_start("PREDICTION", 4);
    f_str(&f, "probabilities"), f_byte(&f, 0x91), f_bytes(&f, "\xca\x3f\x00\x00\x00", 5);  //  0.5f
    f_str(&f, "predictions"), f_byte(&f, 0x91), f_bytes(&f, "\xd3\xff\xff\xff\xff\xff\xff\xff\xfe", 9);
    f_str(&f, "model_version"), f_bytes(&f, "\xce\0\0\0\x03", 5);
    f_str(&f, "req_id"), f_bytes(&f, "\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9);
    mlops_err_t err;
    proto_msg_t *m = proto_msg_decode(f.b, f.n, &err);
    CHECK(m != NULL);
    CHECK(m->prediction.req_id == UINT64_MAX);
    CHECK_INT(m->prediction.model_version, 3);
    CHECK_INT(m->prediction.n, 1);
    CHECK_INT(m->prediction.predictions[0], -2);
    CHECK(m->prediction.probabilities[0] == 0.5);
    proto_msg_destroy(&m);
}

static void test_optional_keys_take_defaults(void)
{
    frame_t f = f_start("RETRAIN", 0);
    proto_msg_t *m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m != NULL);
    CHECK_STR(m->retrain.source, "");
    CHECK_STR(m->retrain.reason, "");
    proto_msg_destroy(&m);

    f = f_start("REPLY", 1);
    f_str(&f, "ok"), f_byte(&f, 0xc2);
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m != NULL);
    CHECK(!m->reply.ok);
    CHECK_STR(m->reply.error, "");
    CHECK_INT(m->reply.data_len, 1);
    CHECK_INT(m->reply.data[0], 0xc0);
    proto_msg_destroy(&m);

    f = f_start("RESULT", 5);
    f_str(&f, "task_id"), f_str(&f, "t"), f_str(&f, "run_id"), f_byte(&f, 1);
    f_str(&f, "ok"), f_byte(&f, 0xc2), f_str(&f, "started_ms"), f_byte(&f, 1);
    f_str(&f, "ended_ms"), f_byte(&f, 2);
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m != NULL);
    CHECK_STR(m->result.error, "");
    CHECK(m->result.output != NULL);
    CHECK_INT(m->result.output_len, 0);
    proto_msg_destroy(&m);

    f = f_start("HEARTBEAT", 0);
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m && m->cmd == PROTO_HEARTBEAT);
    CHECK_STR(m->heartbeat.task_id, "");
    CHECK_INT(m->heartbeat.model_version, 0);
    proto_msg_destroy(&m);

    f = f_start("EVENT", 2);
    f_str(&f, "ts_ms"), f_byte(&f, 9), f_str(&f, "kind"), f_str(&f, "model");
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m != NULL);
    CHECK_STR(m->event.kind, "model");
    CHECK_STR(m->event.state, "");
    CHECK_INT(m->event.ts_ms, 9);
    proto_msg_destroy(&m);

    f = f_start("ERROR", 3);
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "status"), f_bytes(&f, "\xcd\x01\xf7", 3);
    f_str(&f, "message"), f_str(&f, "no model");
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m != NULL);
    CHECK_INT(m->error.status, 503);
    CHECK_INT(m->error.n_detail, 0);
    proto_msg_destroy(&m);
}

static void test_refuses_bad_records(void)
{
    frame_t f = f_start("PREDICT", 2);  //  second record's Age is a map
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "records"), f_byte(&f, 0x92);
    f_byte(&f, 0x81), f_str(&f, "Age"), f_byte(&f, 3);
    f_byte(&f, 0x82), f_str(&f, "Sex"), f_str(&f, "male"), f_str(&f, "Age"), f_byte(&f, 0x80);
    CHECK_REFUSED(f, MLOPS_EPROTO, "PREDICT: records[1].Age: a record value must be", "got map");

    f = f_start("PREDICT", 2);  //  an array value
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "records"), f_byte(&f, 0x91);
    f_byte(&f, 0x81), f_str(&f, "Fare"), f_byte(&f, 0x90);
    CHECK_REFUSED(f, MLOPS_EPROTO, "records[0].Fare", "got array");

    f = f_start("PREDICT", 2);  //  a record that is not a map
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "records"), f_byte(&f, 0x91), f_byte(&f, 0x07);
    CHECK_REFUSED(f, MLOPS_EPROTO, "records[0]", "expected map, got int");

    f = f_start("PREDICT", 2);  //  a field name that is not a str
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "records"), f_byte(&f, 0x91);
    f_byte(&f, 0x81), f_byte(&f, 0x01), f_byte(&f, 0x01);
    CHECK_REFUSED(f, MLOPS_EPROTO, "records[0]: field name", "expected str");

    f = f_start("PREDICT", 2);  //  duplicate field, few fields (pairwise check)
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "records"), f_byte(&f, 0x91);
    f_byte(&f, 0x83), f_str(&f, "Age"), f_byte(&f, 1), f_str(&f, "Sex"), f_byte(&f, 0xc0);
    f_str(&f, "Age"), f_byte(&f, 2);
    CHECK_REFUSED(f, MLOPS_EPROTO, "records[0]: duplicate field \"Age\"", "PREDICT");

    f = f_start("PREDICT", 2);  //  duplicate field among 40 (sorted check)
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "records"), f_byte(&f, 0x91);
    f_byte(&f, 0xde), f_byte(&f, 0), f_byte(&f, 40);
    size_t first = f.n;
    for (int i = 0; i < 40; i++) {
        char name[8];
        snprintf(name, sizeof name, "f%02d", i == 33 ? 7 : i);
        f_str(&f, name), f_byte(&f, (uint8_t)i);
    }
    CHECK_REFUSED(f, MLOPS_EPROTO, "records[0]: duplicate field \"f07\"", "PREDICT");

    //  40 distinct fields are fine
    f.b[first + 33 * 5 + 2] = '3', f.b[first + 33 * 5 + 3] = '3';
    mlops_err_t err;
    proto_msg_t *m = proto_msg_decode(f.b, f.n, &err);
    if (!m)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(m != NULL);
    CHECK_INT(m->predict.records[0].n_fields, 40);
    CHECK_STR(m->predict.records[0].fields[33].name, "f33");
    proto_msg_destroy(&m);
}

//  A big frame on the heap: [1, cmd, {pre (a key and an array or map
//  header), filler bytes}].
static uint8_t *s_big_frame(const char *cmd, const char *pre, size_t pre_len, size_t filler, uint8_t fill,
                            size_t *len)
{
    frame_t head = f_start(cmd, 1);
    size_t n = head.n + pre_len + filler;
    uint8_t *b = malloc(n);
    memcpy(b, head.b, head.n);
    memcpy(b + head.n, pre, pre_len);
    memset(b + head.n + pre_len, fill, filler);
    *len = n;
    return b;
}

static void test_refuses_counts_over_limits(void)
{
    size_t len;
    mlops_err_t err;
    //  PREDICT: {"records": [100001 x {}]} (req_id never reached)
    uint8_t *b = s_big_frame("PREDICT", "\xa7records\xdd\x00\x01\x86\xa1", 13, 100001, 0x80, &len);
    CHECK(proto_msg_decode(b, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "PREDICT: records: 100001 records");
    CHECK_CONTAINS(err.msg, "at most 100000");
    free(b);

    //  a record of 1025 fields
    b = s_big_frame("PREDICT", "\xa7records\x91\xde\x04\x01", 12, 2050, 0xc0, &len);
    CHECK(proto_msg_decode(b, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "records[0]: 1025 fields");
    free(b);

    //  ERROR detail of 1025 entries
    b = s_big_frame("ERROR", "\xa6" "detail\xdc\x04\x01", 10, 1025, 0x80, &len);
    CHECK(proto_msg_decode(b, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "ERROR: detail: 1025 entries");
    free(b);

    //  PREDICTION of 100001 predictions
    b = s_big_frame("PREDICTION", "\xabpredictions\xdd\x00\x01\x86\xa1", 17, 100001, 0x00, &len);
    CHECK(proto_msg_decode(b, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "predictions: 100001 entries");
    free(b);

    //  a count larger than the bytes left is a truncation, found before allocating
    frame_t f = f_start("PREDICT", 1);
    f_str(&f, "records"), f_bytes(&f, "\xdd\xff\xff\xff\xff", 5);
    CHECK_REFUSED(f, MLOPS_EPROTO, "records", "claims 4294967295 entries");
}

static void test_refuses_bad_composites(void)
{
    frame_t f = f_start("PREDICTION", 4);
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "model_version"), f_byte(&f, 1);
    f_str(&f, "predictions"), f_byte(&f, 0x92), f_byte(&f, 0), f_byte(&f, 1);
    f_str(&f, "probabilities"), f_byte(&f, 0x91), f_bytes(&f, "\xcb\0\0\0\0\0\0\0\0", 9);
    CHECK_REFUSED(f, MLOPS_EPROTO, "probabilities: 1 entries, but predictions has 2", "PREDICTION");

    f = f_start("PREDICTION", 1);
    f_str(&f, "probabilities"), f_byte(&f, 0x91), f_byte(&f, 0x01);
    CHECK_REFUSED(f, MLOPS_EPROTO, "probabilities: [0]", "expected float, got int");

    f = f_start("ERROR", 4);
    f_str(&f, "req_id"), f_byte(&f, 1), f_str(&f, "status"), f_byte(&f, 0x7f);
    f_str(&f, "message"), f_str(&f, "m"), f_str(&f, "detail"), f_byte(&f, 0x91);
    f_byte(&f, 0x82), f_str(&f, "index"), f_byte(&f, 0xfe), f_str(&f, "field"), f_str(&f, "Age");
    CHECK_REFUSED(f, MLOPS_EPROTO, "ERROR: detail: [0]: index: -2 is below -1", "byte");
    f.b[f.n - 11] = 0xff;  //  index -1 is fine, but msg is missing
    CHECK_REFUSED(f, MLOPS_EPROTO, "detail: [0]: missing required key \"msg\"", "ERROR");

    //  REPLY data: any object, nested at most PROTO_DEPTH_MAX deep, no 0xc1
    f = f_start("REPLY", 2);
    f_str(&f, "ok"), f_byte(&f, 0xc3), f_str(&f, "data");
    for (int i = 0; i <= PROTO_DEPTH_MAX; i++)
        f_byte(&f, 0x91);
    f_byte(&f, 0xc0);
    CHECK_REFUSED(f, MLOPS_EPROTO, "REPLY: data: object at byte 18", "nested deeper than 64 at byte 64");

    f = f_start("REPLY", 2);
    f_str(&f, "ok"), f_byte(&f, 0xc3), f_str(&f, "data"), f_byte(&f, 0x92), f_byte(&f, 0x01), f_byte(&f, 0xc1);
    CHECK_REFUSED(f, MLOPS_EPROTO, "REPLY: data", "bad or unsupported type 0xc1 at byte 2");

    f = f_start("REPLY", 2);  //  ext types are not used by MLOPS/1
    f_str(&f, "ok"), f_byte(&f, 0xc3), f_str(&f, "data"), f_bytes(&f, "\xd4\x01\x02", 3);
    CHECK_REFUSED(f, MLOPS_EPROTO, "REPLY: data", "unsupported type 0xd4");

    //  bins, floats, big ints and nested maps inside data are kept verbatim
    f = f_start("REPLY", 2);
    f_str(&f, "ok"), f_byte(&f, 0xc3), f_str(&f, "data");
    size_t start = f.n;
    f_bytes(&f, "\x84\xa1" "a\xcf\x01\x02\x03\x04\x05\x06\x07\x08\xa1" "b\xc4\x02xy\xa1" "c\xca\0\0\0\0\xa1" "d\x81\xa1" "e\x90", 31);
    mlops_err_t err;
    proto_msg_t *m = proto_msg_decode(f.b, f.n, &err);
    if (!m)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK(m != NULL);
    CHECK_INT(m->reply.data_len, f.n - start);
    CHECK(memcmp(m->reply.data, f.b + start, f.n - start) == 0);
    proto_msg_destroy(&m);
}

//  Every proper prefix of every sample is refused as truncated, never read
//  past (REPLY data is checked by proto/mpcheck, which says "past the end").
static void test_every_truncation_is_refused(void)
{
    for (proto_cmd_t c = PROTO_READY; c <= PROTO_SERVING; c++) {
        proto_msg_t m = s_sample(c);
        uint8_t *buf;
        size_t len;
        CHECK_INT(proto_msg_encode(&m, &buf, &len), 0);
        for (size_t cut = 0; cut < len; cut++) {
            //  a copy exactly cut bytes long, so ASan sees any read past it
            uint8_t *part = malloc(cut ? cut : 1);
            memcpy(part, buf, cut);
            mlops_err_t err;
            proto_msg_t *d = proto_msg_decode(part, cut, &err);
            free(part);
            if (d || err.code != MLOPS_EPROTO
                || (!strstr(err.msg, "truncated") && !strstr(err.msg, "past the end"))) {
                fprintf(stderr, "  %s cut at %zu: %s\n", proto_cmd_name(c), cut, d ? "decoded" : err.msg);
                proto_msg_destroy(&d);
                free(buf);
                CHECK(0);
            }
        }
        free(buf);
    }
}

//  --------------------------------------------------------------------------
//  The encoder refuses what the decoder would

static int s_encode_rc(const proto_msg_t *m)
{
    uint8_t *buf = (uint8_t *)"untouched";
    size_t len = 0;
    int rc = proto_msg_encode(m, &buf, &len);
    if (rc == 0)
        free(buf);
    else if (strcmp((char *)buf, "untouched") != 0)
        return 12345;
    return rc;
}

static void test_encoder_refuses_bad_messages(void)
{
    proto_msg_t m = {.cmd = 0};
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m.cmd = PROTO_SERVING + 1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = s_sample(PROTO_READY);
    m.ready.host = NULL;  //  required
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m = s_sample(PROTO_RETRAIN);
    m.retrain.source = NULL;  //  optional: sent as ""
    CHECK_INT(s_encode_rc(&m), 0);
    m.retrain.reason = "bad \xff utf-8";
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = s_sample(PROTO_READY);
    m.ready.pid = -1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = s_sample(PROTO_TASK);
    m.task.input = NULL;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m.task.input_len = 0;
    CHECK_INT(s_encode_rc(&m), 0);

    m = s_sample(PROTO_REPLY);
    m.reply.data_len = 5;  //  a cut-off map
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m.reply.data = (const uint8_t *)"\x01\x02";  //  two objects
    m.reply.data_len = 2;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m.reply.data = NULL, m.reply.data_len = 0;  //  nil
    CHECK_INT(s_encode_rc(&m), 0);

    m = s_sample(PROTO_PREDICTION);
    m.prediction.n = PROTO_RECORDS_MAX + 1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = s_sample(PROTO_ERROR);
    proto_problem_t bad[] = {{-2, "", "x"}};
    m.error.detail = bad, m.error.n_detail = 1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = s_sample(PROTO_PREDICT);
    proto_field_t dup[] = {{"Age", PROTO_VAL_INT, 1, NULL}, {"Age", PROTO_VAL_INT, 2, NULL}};
    proto_record_t rec = {dup, 2};
    m.predict.records = &rec, m.predict.n_records = 1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    dup[1].name = "Sex", dup[1].kind = PROTO_VAL_STR, dup[1].str = NULL;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    dup[1].kind = PROTO_VAL_INT, dup[1].num = 2.5;  //  not an integer
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    dup[1].kind = 17;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    dup[1].kind = PROTO_VAL_FLOAT;
    CHECK_INT(s_encode_rc(&m), 0);
}

//  The encoder's fast checks (ASCII runs, name keys, sorted wide records)
//  refuse exactly what they must and keep what they may, on varied records.
static void test_encoder_record_checks_varied(void)
{
    char names[100][40];
    proto_field_t fs[100];
    proto_record_t rec = {fs, 0};
    proto_msg_t m = {.cmd = PROTO_PREDICT, .predict = {1, &rec, 1}};
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "abcdefgh_field_%02d", i);  //  same first 8 bytes
        fs[i] = (proto_field_t){names[i], PROTO_VAL_INT, i, NULL};
    }
    //  pairwise (<= 16) and sorted (> 16); the encoder's room on the stack
    //  (<= 64 fields) and on the heap
    for (size_t n = 1; n <= 100; n += 13) {
        rec.n_fields = n;
        CHECK_INT(s_encode_rc(&m), 0);
        if (n < 2)
            continue;
        fs[n - 1].name = names[0];  //  the last repeats the first
        CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
        fs[n - 1].name = names[n - 1];
    }
    //  same length and head, different tails; a prefix of another name
    char a[] = "abcdefghXY", b[] = "abcdefghXZ", c[] = "abcdefgh";
    fs[0].name = a, fs[1].name = b, fs[2].name = c, rec.n_fields = 3;
    CHECK_INT(s_encode_rc(&m), 0);
    fs[1].name = a;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    fs[1].name = b;
    //  UTF-8: valid multibyte kept, bad bytes after an ASCII run refused
    const char *good[] = {"caf\xc3\xa9", "\xe2\x82\xac euro", "\xf0\x9f\x98\x80",
                          "0123456789012345678901234567890",   //  31 bytes: fixstr
                          "01234567890123456789012345678901"}; //  32 bytes: str8
    const char *bad[] = {"ascii then \xff", "over \xc0\xaf", "cut \xe2\x82", "sur \xed\xa0\x80"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        fs[2] = (proto_field_t){good[i], PROTO_VAL_STR, 0, good[i]};
        uint8_t *buf;
        size_t len;
        CHECK_INT(proto_msg_encode(&m, &buf, &len), 0);
        proto_msg_t *d = proto_msg_decode(buf, len, NULL);
        free(buf);
        CHECK(d != NULL && proto_msg_equal(&m, d));
        proto_msg_destroy(&d);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fs[2] = (proto_field_t){bad[i], PROTO_VAL_INT, 1, NULL};  //  as a name
        CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
        fs[2] = (proto_field_t){c, PROTO_VAL_STR, 0, bad[i]};     //  as a value
        CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    }
}

//  Record ints out of the int64 range survive as the same double.
static void test_record_int_extremes(void)
{
    proto_field_t fs[] = {{"a", PROTO_VAL_INT, 18446744073709551616.0, NULL},
                          {"b", PROTO_VAL_INT, -9223372036854775808.0, NULL},
                          {"c", PROTO_VAL_INT, 9223372036854775808.0, NULL},
                          {"d", PROTO_VAL_FLOAT, NAN, NULL}};
    proto_record_t rec = {fs, 4};
    proto_msg_t m = {.cmd = PROTO_PREDICT, .predict = {1, &rec, 1}};
    uint8_t *buf;
    size_t len;
    CHECK_INT(proto_msg_encode(&m, &buf, &len), 0);
    proto_msg_t *d = proto_msg_decode(buf, len, NULL);
    free(buf);
    CHECK(d != NULL);
    CHECK(proto_msg_equal(&m, d));
    CHECK(isnan(d->predict.records[0].fields[3].num));
    proto_msg_destroy(&d);
}

//  msgpack-c's packer, the reference for canonical bytes: the encoder
//  writes records itself and must write what the packer would.
static void s_pack_reference(msgpack_packer *pk, const proto_record_t *recs, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, recs[i].n_fields);
        for (size_t j = 0; j < recs[i].n_fields; j++) {
            const proto_field_t *f = &recs[i].fields[j];
            msgpack_pack_str_with_body(pk, f->name, strlen(f->name));
            switch (f->kind) {
            case PROTO_VAL_NIL: msgpack_pack_nil(pk); break;
            case PROTO_VAL_BOOL: f->num ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
            case PROTO_VAL_INT:
                if (f->num >= 9223372036854775807.0)
                    msgpack_pack_uint64(pk, f->num >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)f->num);
                else
                    msgpack_pack_int64(pk, (int64_t)f->num);
                break;
            case PROTO_VAL_FLOAT: msgpack_pack_double(pk, f->num); break;
            case PROTO_VAL_STR: msgpack_pack_str_with_body(pk, f->str, strlen(f->str)); break;
            }
        }
    }
}

//  The packer's [1, cmd, {n_keys ...}] head: the caller packs the keys.
static void s_reference_start(msgpack_sbuffer *sb, msgpack_packer *pk, const char *cmd, size_t n_keys)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(pk, 3), msgpack_pack_int(pk, 1);
    msgpack_pack_str_with_body(pk, cmd, strlen(cmd)), msgpack_pack_map(pk, n_keys);
}

//  Checks that our bytes are the packer's, then frees both.
static void s_check_same_bytes(uint8_t *buf, size_t len, msgpack_sbuffer *sb)
{
    CHECK_INT(len, sb->size);
    CHECK(len == sb->size && memcmp(buf, sb->data, len) == 0);
    msgpack_sbuffer_destroy(sb);
    free(buf);
}

//  Every size class of every value, header and count, against the packer.
static void test_records_bytes_are_canonical(void)
{
    static const double ints[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295.0, 4294967296.0,
                                  9223372036854775807.0, 18446744073709551616.0, -1, -32, -33, -128,
                                  -129, -32768, -32769, -2147483648.0, -2147483649.0,
                                  -9223372036854775808.0};
    static const size_t str_lens[] = {0, 1, 31, 32, 255, 256, 65535, 65536};
    enum { N_INTS = sizeof ints / sizeof ints[0], N_STRS = sizeof str_lens / sizeof str_lens[0] };
    char *strs[N_STRS];
    char names[N_INTS + N_STRS + 4][16];
    proto_field_t fs[N_INTS + N_STRS + 4];
    size_t k = 0;
    for (size_t i = 0; i < N_INTS; i++, k++)
        fs[k] = (proto_field_t){names[k], PROTO_VAL_INT, ints[i], NULL};
    for (size_t i = 0; i < N_STRS; i++, k++) {
        strs[i] = malloc(str_lens[i] + 1);
        assert(strs[i]);
        memset(strs[i], 'x', str_lens[i]);
        strs[i][str_lens[i]] = 0;
        fs[k] = (proto_field_t){names[k], PROTO_VAL_STR, 0, strs[i]};
    }
    fs[k] = (proto_field_t){names[k], PROTO_VAL_FLOAT, -0.0, NULL}, k++;
    fs[k] = (proto_field_t){names[k], PROTO_VAL_BOOL, 0, NULL}, k++;
    fs[k] = (proto_field_t){names[k], PROTO_VAL_BOOL, 1, NULL}, k++;
    fs[k] = (proto_field_t){names[k], PROTO_VAL_NIL, 0, NULL}, k++;
    for (size_t i = 0; i < k; i++)
        snprintf(names[i], sizeof names[i], "f%zu", i);
    //  maps of 0, 15, 16 and all fields; arrays of 15, 16 and 70000 records
    proto_record_t *recs = calloc(70000, sizeof *recs);
    assert(recs);
    static const size_t widths[] = {0, 15, 16, sizeof fs / sizeof fs[0]};
    static const size_t counts[] = {1, 15, 16, 70000};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        for (size_t i = 0; i < counts[c]; i++)   //  the longest array: short records (the frame limit)
            recs[i] = (proto_record_t){fs, counts[c] > 16 ? i % 2 : widths[i % 4]};
        proto_msg_t m = {.cmd = PROTO_PREDICT, .predict = {7, recs, counts[c]}};
        uint8_t *buf;
        size_t len;
        CHECK_INT(proto_msg_encode(&m, &buf, &len), 0);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        s_reference_start(&sb, &pk, "PREDICT", 2);
        msgpack_pack_str_with_body(&pk, "req_id", 6), msgpack_pack_uint64(&pk, 7);
        msgpack_pack_str_with_body(&pk, "records", 7);
        s_pack_reference(&pk, recs, counts[c]);
        s_check_same_bytes(buf, len, &sb);
    }
    free(recs);
    for (size_t i = 0; i < N_STRS; i++)
        free(strs[i]);
}

//  A PREDICTION's arrays (written straight into the buffer) against the
//  packer: every int size class, doubles, and array headers of each size.
static void test_prediction_bytes_are_canonical(void)
{
    static const int64_t classes[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295LL,
                                      4294967296LL, INT64_MAX, -1, -32, -33, -128, -129, -32768,
                                      -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN};
    enum { N_CLASSES = sizeof classes / sizeof classes[0], MOST = 70000 };
    int64_t *pred = malloc(MOST * sizeof *pred);
    double *proba = malloc(MOST * sizeof *proba);
    assert(pred && proba);
    for (size_t i = 0; i < MOST; i++) {
        pred[i] = classes[i % N_CLASSES];
        proba[i] = (double)i / 7.0 - 3.0;
    }
    static const size_t counts[] = {0, 15, 16, 65535, 65536, MOST};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        proto_msg_t m = {.cmd = PROTO_PREDICTION,
                         .prediction = {.req_id = 9, .model_version = 4, .predictions = pred,
                                        .probabilities = proba, .n = counts[c]}};
        uint8_t *buf;
        size_t len;
        CHECK_INT(proto_msg_encode(&m, &buf, &len), 0);
        msgpack_sbuffer sb;
        msgpack_packer pk;
        s_reference_start(&sb, &pk, "PREDICTION", 4);
        msgpack_pack_str_with_body(&pk, "req_id", 6), msgpack_pack_uint64(&pk, 9);
        msgpack_pack_str_with_body(&pk, "model_version", 13), msgpack_pack_int64(&pk, 4);
        msgpack_pack_str_with_body(&pk, "predictions", 11), msgpack_pack_array(&pk, counts[c]);
        for (size_t i = 0; i < counts[c]; i++)
            msgpack_pack_int64(&pk, pred[i]);
        msgpack_pack_str_with_body(&pk, "probabilities", 13), msgpack_pack_array(&pk, counts[c]);
        for (size_t i = 0; i < counts[c]; i++)
            msgpack_pack_double(&pk, proba[i]);
        s_check_same_bytes(buf, len, &sb);
    }
    free(pred);
    free(proba);
}

//  Records of one schema share their decoded names (the worker maps fields
//  by pointer); a record that differs anywhere gets its own, and a
//  duplicate after a shared prefix is still refused.
static void test_decoded_names_shared_within_a_schema(void)
{
    proto_field_t a[] = {{"Age", PROTO_VAL_INT, 1, NULL}, {"Sex", PROTO_VAL_STR, 0, "male"}};
    proto_field_t b[] = {{"Age", PROTO_VAL_INT, 2, NULL}, {"Sex", PROTO_VAL_STR, 0, "female"}};
    proto_field_t c[] = {{"Age", PROTO_VAL_INT, 3, NULL}, {"Sox", PROTO_VAL_STR, 0, "male"}};
    proto_field_t d[] = {{"Age", PROTO_VAL_INT, 4, NULL}};
    proto_field_t e[] = {{"Age", PROTO_VAL_INT, 5, NULL}, {"Sex", PROTO_VAL_NIL, 0, NULL},
                         {"Fare", PROTO_VAL_FLOAT, 1.5, NULL}};
    proto_record_t recs[] = {{a, 2}, {b, 2}, {c, 2}, {d, 1}, {e, 3}, {a, 2}};
    proto_msg_t m = {.cmd = PROTO_PREDICT, .predict = {1, recs, 6}};
    uint8_t *buf;
    size_t len;
    CHECK_INT(proto_msg_encode(&m, &buf, &len), 0);
    proto_msg_t *got = proto_msg_decode(buf, len, NULL);
    free(buf);
    CHECK(got && proto_msg_equal(&m, got));
    if (got) {
        const proto_record_t *r = got->predict.records;
        CHECK(r[1].fields[0].name == r[0].fields[0].name);   //  same schema: shared
        CHECK(r[1].fields[1].name == r[0].fields[1].name);
        CHECK(r[2].fields[0].name == r[1].fields[0].name);   //  Age shared, Sox not
        CHECK(r[2].fields[1].name != r[1].fields[1].name);
        CHECK_STR(r[2].fields[1].name, "Sox");
        CHECK(r[3].fields[0].name != r[2].fields[0].name);   //  another count: not compared
        CHECK_STR(r[3].fields[0].name, "Age");
        CHECK(r[5].fields[0].name != r[4].fields[0].name);
        CHECK_STR(r[4].fields[2].name, "Fare");
    }
    proto_msg_destroy(&got);
    //  record 1 repeats record 0's first name, then repeats it again
    frame_t f = f_start("PREDICT", 2);
    f_str(&f, "req_id"), f_byte(&f, 0x01), f_str(&f, "records"), f_byte(&f, 0x92);
    f_byte(&f, 0x82), f_str(&f, "x"), f_byte(&f, 0x01), f_str(&f, "y"), f_byte(&f, 0x02);
    f_byte(&f, 0x82), f_str(&f, "x"), f_byte(&f, 0x01), f_str(&f, "x"), f_byte(&f, 0x02);
    CHECK_REFUSED(f, MLOPS_EPROTO, "records[1]", "duplicate field \"x\"");
}

//  proto_msg_dump writes JSON Python reads: escapes, NaN, unsigned ids.
static void test_dump_is_json(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    CHECK(f != NULL);
    proto_msg_t m = {.cmd = PROTO_DISCONNECT, .disconnect = {"say \"hi\"\\\n\x01"}};
    proto_msg_dump(f, &m);
    proto_field_t fs[] = {{"x", PROTO_VAL_FLOAT, NAN, NULL}, {"y", PROTO_VAL_FLOAT, -INFINITY, NULL},
                          {"z", PROTO_VAL_NIL, 0, NULL}};
    proto_record_t rec = {fs, 3};
    m = (proto_msg_t){.cmd = PROTO_PREDICT, .predict = {UINT64_MAX, &rec, 1}};
    proto_msg_dump(f, &m);
    fclose(f);
    CHECK_CONTAINS(text, "{\"cmd\": \"DISCONNECT\", \"body\": {\"reason\": \"say \\\"hi\\\"\\\\\\u000a\\u0001\"}}\n");
    CHECK_CONTAINS(text, "{\"cmd\": \"PREDICT\", \"body\": {\"req_id\": 18446744073709551615, \"records\": "
                         "[[[\"x\", \"float\", NaN], [\"y\", \"float\", -Infinity], [\"z\", \"nil\", 0]]]}}");
    free(text);
}

//  --------------------------------------------------------------------------
//  The helper modes for tests/test_interop_msg.py

static int s_dump_samples(void)
{
    for (proto_cmd_t c = PROTO_READY; c <= PROTO_SERVING; c++) {
        proto_msg_t m = s_sample(c);
        uint8_t *buf;
        size_t len;
        if (proto_msg_encode(&m, &buf, &len) != 0)
            return 1;
        printf("%s ", proto_cmd_name(c));
        for (size_t i = 0; i < len; i++)
            printf("%02x", buf[i]);
        printf("\n");
        free(buf);
    }
    return 0;
}

static int s_decode_hex(const char *hex)
{
    size_t n = strlen(hex) / 2;
    uint8_t *buf = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            fprintf(stderr, "not hex at %zu\n", 2 * i);
            free(buf);
            return 2;
        }
        buf[i] = (uint8_t)v;
    }
    mlops_err_t err;
    proto_msg_t *m = proto_msg_decode(buf, n, &err);
    free(buf);
    if (!m) {
        printf("error %d %s\n", err.code, err.msg);
        return 1;
    }
    proto_msg_dump(stdout, m);
    proto_msg_destroy(&m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--dump-samples") == 0)
        return s_dump_samples();
    if (argc == 3 && strcmp(argv[1], "--decode") == 0)
        return s_decode_hex(argv[2]);
    RUN(test_cmd_names);
    RUN(test_round_trip_worker_side);
    RUN(test_round_trip_control_side);
    RUN(test_round_trip_predict);
    RUN(test_round_trip_prediction_and_error);
    RUN(test_equal_and_canonical_for_every_command);
    RUN(test_refuses_envelope_errors);
    RUN(test_refuses_body_key_errors);
    RUN(test_utf8_check_at_every_offset);
    RUN(test_refuses_bad_integers);
    RUN(test_optional_keys_take_defaults);
    RUN(test_refuses_bad_records);
    RUN(test_refuses_counts_over_limits);
    RUN(test_refuses_bad_composites);
    RUN(test_every_truncation_is_refused);
    RUN(test_encoder_refuses_bad_messages);
    RUN(test_encoder_record_checks_varied);
    RUN(test_record_int_extremes);
    RUN(test_records_bytes_are_canonical);
    RUN(test_decoded_names_shared_within_a_schema);
    RUN(test_prediction_bytes_are_canonical);
    RUN(test_dump_is_json);
    return TEST_REPORT("test_msg");
}
