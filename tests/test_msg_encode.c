/*  test_msg_encode.c: the MLOPS/1 encoder (proto/msg_encode.c): it refuses
    what the decoder would (the buffer untouched), and its bytes are
    msgpack-c's packer's, size class by size class.
*/
#include "msg.h"
#include "msg_samples.h"
#include "testing.h"

#include <assert.h>
#include <msgpack.h>
#include <stdint.h>

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
    m.cmd = PROTO_CANARY + 1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = sample_msg(PROTO_READY);
    m.ready.host = NULL;  //  required
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m = sample_msg(PROTO_RETRAIN);
    m.retrain.source = NULL;  //  optional: sent as ""
    CHECK_INT(s_encode_rc(&m), 0);
    m.retrain.reason = "bad \xff utf-8";
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = sample_msg(PROTO_READY);
    m.ready.pid = -1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = sample_msg(PROTO_TASK);
    m.task.input = NULL;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m.task.input_len = 0;
    CHECK_INT(s_encode_rc(&m), 0);

    m = sample_msg(PROTO_REPLY);
    m.reply.data_len = 5;  //  a cut-off map
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m.reply.data = (const uint8_t *)"\x01\x02";  //  two objects
    m.reply.data_len = 2;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);
    m.reply.data = NULL, m.reply.data_len = 0;  //  nil
    CHECK_INT(s_encode_rc(&m), 0);

    m = sample_msg(PROTO_PREDICTION);
    m.prediction.n = PROTO_RECORDS_MAX + 1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = sample_msg(PROTO_ERROR);
    proto_problem_t bad[] = {{-2, "", "x"}};
    m.error.detail = bad, m.error.n_detail = 1;
    CHECK_INT(s_encode_rc(&m), MLOPS_EINVAL);

    m = sample_msg(PROTO_PREDICT);
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

int main(void)
{
    RUN(test_encoder_refuses_bad_messages);
    RUN(test_encoder_record_checks_varied);
    RUN(test_record_int_extremes);
    RUN(test_records_bytes_are_canonical);
    RUN(test_prediction_bytes_are_canonical);
    return TEST_REPORT("test_msg_encode");
}
