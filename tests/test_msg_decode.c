/*  test_msg_decode.c: the MLOPS/1 decoder (proto/msg_decode.c): every
    refusal it promises on hand-built frames, each checked for its code and
    for a message that names the key and the byte; the defaults of absent
    optional keys; every truncation; names shared within a batch.
*/
#include "msg.h"
#include "msg_samples.h"
#include "testing.h"

#include <assert.h>
#include <stdint.h>

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
    f.b[1] = 0x03;   //  MLOPS/2 is the newest (msg.h, "Versions")
    CHECK_REFUSED(f, MLOPS_EVERSION, "version 3", "byte 1");
    f.b[1] = 0x00;
    CHECK_REFUSED(f, MLOPS_EVERSION, "version 0", "speaks 1 to 2");
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
        proto_msg_t m = sample_msg(c);
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

//  MLOPS/2's additions are refused in a version-1 envelope and read in a
//  version-2 one; a version-2 message without them decodes as before.
static void test_version_2_keys(void)
{
    frame_t f = f_start("DISCONNECT", 2);
    f_str(&f, "reason"), f_str(&f, "dup"), f_str(&f, "code"), f_str(&f, "conflict");
    CHECK_REFUSED(f, MLOPS_EPROTO, "key \"code\" at byte 25", "needs version 2 (the envelope says 1)");
    f.b[1] = 0x02;
    proto_msg_t *m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m && m->cmd == PROTO_DISCONNECT);
    if (m)
        CHECK_STR(m->disconnect.code, "conflict");
    proto_msg_destroy(&m);

    //  PROMOTE.schema_change: written only when true, so a plain PROMOTE
    //  is the MLOPS/1 message it always was
    f = f_start("PROMOTE", 2);
    f_str(&f, "version"), f_byte(&f, 0x03), f_str(&f, "schema_change"), f_byte(&f, 0xc3);
    CHECK_REFUSED(f, MLOPS_EPROTO, "key \"schema_change\"", "needs version 2 (the envelope says 1)");
    f.b[1] = 0x02;
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m && m->cmd == PROTO_PROMOTE && m->promote.schema_change && m->promote.version == 3);
    proto_msg_destroy(&m);
    proto_msg_t promote = {.cmd = PROTO_PROMOTE, .promote = {.version = 3, .reason = ""}};
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK_INT(proto_msg_encode(&promote, &bytes, &len), 0);
    CHECK(len > 2 && bytes[1] == 0x01 && memmem(bytes, len, "schema_change", 13) == NULL);
    free(bytes);
    promote.promote.schema_change = true;
    CHECK_INT(proto_msg_encode(&promote, &bytes, &len), 0);
    CHECK(len > 2 && bytes[1] == 0x02 && memmem(bytes, len, "schema_change", 13) != NULL);
    free(bytes);

    f = f_start("LOGS", 1);
    f_str(&f, "run_id"), f_byte(&f, 0x07);
    CHECK_REFUSED(f, MLOPS_EVERSION, "command \"LOGS\" at byte 2", "needs version 2");
    f.b[1] = 0x02;
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m && m->cmd == PROTO_LOGS);
    if (m) {
        CHECK_INT(m->logs.run_id, 7);
        CHECK_STR(m->logs.task_id, "");   //  absent: every task
    }
    proto_msg_destroy(&m);

    f = f_start("CANCEL", 1);   //  MLOPS/2 only, task_id required
    f_str(&f, "task_id"), f_str(&f, "3-train-forest");
    CHECK_REFUSED(f, MLOPS_EVERSION, "command \"CANCEL\" at byte 2", "needs version 2");
    f.b[1] = 0x02;
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m && m->cmd == PROTO_CANCEL);
    if (m)
        CHECK_STR(m->cancel.task_id, "3-train-forest");
    proto_msg_destroy(&m);
    f = f_start("CANCEL", 0);
    f.b[1] = 0x02;
    CHECK_REFUSED(f, MLOPS_EPROTO, "CANCEL", "task_id");

    f = f_start("READY", 3);   //  version 2, no name: read, name ""
    f.b[1] = 0x02;
    f_str(&f, "stage"), f_str(&f, "train"), f_str(&f, "host"), f_str(&f, "h"), f_str(&f, "pid"), f_byte(&f, 9);
    m = proto_msg_decode(f.b, f.n, NULL);
    CHECK(m && m->cmd == PROTO_READY);
    if (m)
        CHECK_STR(m->ready.name, "");
    proto_msg_destroy(&m);
}

//  A str16 of n bytes of 'a' as the value of key.
static void f_long_str(frame_t *f, const char *key, size_t n)
{
    f_str(f, key);
    f_byte(f, 0xda);
    f_byte(f, (uint8_t)(n >> 8));
    f_byte(f, (uint8_t)n);
    for (size_t i = 0; i < n; i++)
        f_byte(f, 'a');
}

//  Issue 15, point 6: a str the broker keeps (source, reason, names) over
//  its limit is refused with MLOPS_EINVAL naming the key and the limit,
//  never truncated; at the limit it passes, and the encoder agrees.
static void test_refuses_strs_over_their_limit(void)
{
    frame_t f = f_start("RETRAIN", 1);
    f_long_str(&f, "source", PROTO_TEXT_MAX + 1);
    CHECK_REFUSED(f, MLOPS_EINVAL, "RETRAIN: source: 256 bytes", "at most 255 allowed");
    f = f_start("RETRAIN", 1);
    f_long_str(&f, "reason", PROTO_TEXT_MAX + 1);
    CHECK_REFUSED(f, MLOPS_EINVAL, "reason: 256 bytes", "at most 255");
    f = f_start("READY", 1);
    f_long_str(&f, "stage", PROTO_STAGE_MAX + 1);
    CHECK_REFUSED(f, MLOPS_EINVAL, "stage: 32 bytes", "at most 31");
    f = f_start("SERVING", 1);
    f_long_str(&f, "host", PROTO_HOST_MAX + 1);
    CHECK_REFUSED(f, MLOPS_EINVAL, "host: 64 bytes", "at most 63");
    f = f_start("RETRAIN", 1);
    f_long_str(&f, "source", PROTO_TEXT_MAX);
    mlops_err_t err;
    proto_msg_t *m = proto_msg_decode(f.b, f.n, &err);
    CHECK(m != NULL);
    CHECK_INT(strlen(m->retrain.source), PROTO_TEXT_MAX);
    proto_msg_destroy(&m);
    char text[PROTO_TEXT_MAX + 2];
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    proto_msg_t req = {.cmd = PROTO_RETRAIN};
    req.retrain.source = text;
    req.retrain.reason = "";
    uint8_t *out = NULL;
    size_t len = 0;
    CHECK_INT(proto_msg_encode(&req, &out, &len), MLOPS_EINVAL);
    CHECK(out == NULL);
}

int main(void)
{
    RUN(test_refuses_strs_over_their_limit);
    RUN(test_version_2_keys);
    RUN(test_refuses_envelope_errors);
    RUN(test_refuses_body_key_errors);
    RUN(test_utf8_check_at_every_offset);
    RUN(test_refuses_bad_integers);
    RUN(test_optional_keys_take_defaults);
    RUN(test_refuses_bad_records);
    RUN(test_refuses_counts_over_limits);
    RUN(test_refuses_bad_composites);
    RUN(test_every_truncation_is_refused);
    RUN(test_decoded_names_shared_within_a_schema);
    return TEST_REPORT("test_msg_decode");
}
