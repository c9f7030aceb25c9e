/*  test_msg.c: the MLOPS/1 command tables (proto/msg.c): names, round
    trips of every command with every field compared, equality, canonical
    bytes and the JSON dump. The decoder's refusals are in
    test_msg_decode.c, the encoder's in test_msg_encode.c.

    Also a helper for tests/test_interop_msg.py:
        test_msg --dump-samples   prints "NAME HEX" for the sample of every command
        test_msg --decode HEX     prints the decoded message as JSON (proto_msg_dump)
                                  or "error CODE MESSAGE" and exits 1
*/
#include "msg.h"
#include "msg_samples.h"
#include "testing.h"

#include <stdint.h>

//  Encodes the sample of cmd, decodes it back; NULL (and a failed check
//  in the caller) on any error.
static proto_msg_t *s_round_trip(proto_cmd_t cmd)
{
    proto_msg_t m = sample_msg(cmd);
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
    CHECK_STR(proto_cmd_name(PROTO_AUDIT), "AUDIT");
    CHECK_STR(proto_cmd_name(PROTO_CANARY), "CANARY");
    CHECK(proto_cmd_name(PROTO_CANARY + 1) == NULL);
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
    CHECK_INT(d->task.input_len, sizeof sample_input);
    CHECK(memcmp(d->task.input, sample_input, sizeof sample_input) == 0);
    CHECK(d->task.input != sample_input);
    proto_msg_destroy(&d);

    d = s_round_trip(PROTO_RESULT);
    CHECK(d && d->cmd == PROTO_RESULT);
    CHECK_STR(d->result.task_id, "7-train-forest");
    CHECK_INT(d->result.run_id, 7);
    CHECK(d->result.ok);
    CHECK_STR(d->result.error, "");
    CHECK_INT(d->result.output_len, 3);
    CHECK(memcmp(d->result.output, sample_output, 3) == 0);
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
    CHECK_INT(d->reply.data_len, sizeof sample_reply_data);
    CHECK(memcmp(d->reply.data, sample_reply_data, sizeof sample_reply_data) == 0);
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
        const proto_record_t *want = &sample_records[i], *got = &d->predict.records[i];
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
        CHECK_INT(d->error.detail[i].index, sample_detail[i].index);
        CHECK_STR(d->error.detail[i].field, sample_detail[i].field);
        CHECK_STR(d->error.detail[i].msg, sample_detail[i].msg);
    }
    proto_msg_destroy(&d);
}

//  Every command: decode(encode(x)) equals x, and encoding is canonical
//  (encode(decode(encode(x))) gives the same bytes).
static void test_equal_and_canonical_for_every_command(void)
{
    for (proto_cmd_t c = PROTO_READY; c <= PROTO_SERVING; c++) {
        proto_msg_t m = sample_msg(c);
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
    proto_msg_t x = sample_msg(PROTO_RETRAIN), y = sample_msg(PROTO_RETRAIN);
    CHECK(proto_msg_equal(&x, &y));
    y.retrain.reason = "other";
    CHECK(!proto_msg_equal(&x, &y));
    y = sample_msg(PROTO_STATUS);
    CHECK(!proto_msg_equal(&x, &y));
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
        proto_msg_t m = sample_msg(c);
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

//  A task log keeps UTF-8 text and newlines; C0, DEL, C1 controls and
//  bytes that are not UTF-8 become '?', length unchanged.
static void test_log_sanitize(void)
{
    char text[] = "ok \xc3\xa9\n\x1b[1m\x7f\xc2\x85|\xff|\xc3(|\xe2\x82\xac";
    size_t n = strlen(text);
    CHECK_STR(proto_log_sanitize(text, n), "ok \xc3\xa9\n?[1m???|?|?(|\xe2\x82\xac");
    CHECK_INT(strlen(text), n);
    char cut[] = "\xe2\x82";   //  a sequence cut short
    CHECK_STR(proto_log_sanitize(cut, 2), "??");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--dump-samples") == 0)
        return s_dump_samples();
    if (argc == 3 && strcmp(argv[1], "--decode") == 0)
        return s_decode_hex(argv[2]);
    RUN(test_cmd_names);
    RUN(test_log_sanitize);
    RUN(test_round_trip_worker_side);
    RUN(test_round_trip_control_side);
    RUN(test_round_trip_predict);
    RUN(test_round_trip_prediction_and_error);
    RUN(test_equal_and_canonical_for_every_command);
    RUN(test_dump_is_json);
    return TEST_REPORT("test_msg");
}
