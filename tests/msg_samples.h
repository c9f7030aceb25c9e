/*  msg_samples.h: one sample message per MLOPS/1 command, shared by the
    codec's tests (test_msg.c, test_msg_decode.c, test_msg_encode.c).
    tests/test_interop_msg.py builds the same ones from PROTOCOL.md and
    must get the same bytes (test_msg --dump-samples). */
#ifndef MLOPS_MSG_SAMPLES_H
#define MLOPS_MSG_SAMPLES_H

#include "msg.h"

#include <stdbool.h>
#include <stdint.h>

static uint8_t sample_input[300];  //  TASK input: i % 251, long enough for bin 16
static const uint8_t sample_output[] = {0x01, 0x02, 0x03};
//  REPLY data for RETRAIN: {"run_id": 8, "coalesced": false, "state": "queued"}
static const uint8_t sample_reply_data[] = {
    0x83, 0xa6, 'r', 'u', 'n', '_', 'i', 'd', 0x08,
    0xa9, 'c', 'o', 'a', 'l', 'e', 's', 'c', 'e', 'd', 0xc2,
    0xa5, 's', 't', 'a', 't', 'e', 0xa6, 'q', 'u', 'e', 'u', 'e', 'd'};
static proto_field_t sample_rec0[] = {
    {"Pclass", PROTO_VAL_INT, 3, NULL},
    {"Sex", PROTO_VAL_STR, 0, "male"},
    {"Age", PROTO_VAL_FLOAT, 22.5, NULL},
    {"SibSp", PROTO_VAL_INT, -1, NULL},
    {"Embarked", PROTO_VAL_NIL, 0, NULL},
    {"Alive", PROTO_VAL_BOOL, 1, NULL},
    {"Big", PROTO_VAL_INT, 1e15, NULL},
};
static proto_field_t sample_rec1[] = {
    {"Name", PROTO_VAL_STR, 0, "Braund, Mr. Owen Harris (\xc3\xa9t\xc3\xa9 1912)"},
    {"Fare", PROTO_VAL_FLOAT, 7.25, NULL},
};
static proto_record_t sample_records[] = {{sample_rec0, 7}, {sample_rec1, 2}};
static const int64_t sample_predictions[] = {0, 1};
static const double sample_probabilities[] = {0.11, 0.93};
static const proto_problem_t sample_detail[] = {
    {0, "Age", "must be a number"},
    {-1, "", "unknown field Cabin"},
};

#define SAMPLE_REQ_ID 9223372036854775813ull  //  2^63 + 5: needs uint 64

static inline proto_msg_t sample_msg(proto_cmd_t cmd)
{
    for (size_t i = 0; i < sizeof sample_input; i++)
        sample_input[i] = (uint8_t)(i % 251);
    proto_msg_t m = {.cmd = cmd};
    switch (cmd) {
    case PROTO_READY: m.ready.stage = "train", m.ready.host = "node-1", m.ready.pid = 4242; break;
    case PROTO_HEARTBEAT: m.heartbeat.task_id = "7-train-forest", m.heartbeat.model_version = 3; break;
    case PROTO_TASK:
        m.task.task_id = "7-train-forest", m.task.run_id = 7, m.task.stage = "train";
        m.task.attempt = 2, m.task.input = sample_input, m.task.input_len = sizeof sample_input;
        break;
    case PROTO_RESULT:
        m.result.task_id = "7-train-forest", m.result.run_id = 7, m.result.ok = true;
        m.result.error = "", m.result.output = sample_output, m.result.output_len = sizeof sample_output;
        m.result.started_ms = 1764130000000, m.result.ended_ms = 1764130004321;
        break;
    case PROTO_DISCONNECT: m.disconnect.reason = "shutting down"; break;
    case PROTO_RETRAIN: m.retrain.source = "synthetic:2000:7", m.retrain.reason = "from python"; break;
    case PROTO_RUNS: m.runs.limit = 5; break;
    case PROTO_PROMOTE: m.promote.version = 3, m.promote.reason = "better auc"; break;
    case PROTO_ROLLBACK: m.rollback.reason = "regression"; break;
    case PROTO_GET_MODEL: m.get_model.version = 0; break;
    case PROTO_REPLY:
        m.reply.ok = true, m.reply.error = "", m.reply.data = sample_reply_data;
        m.reply.data_len = sizeof sample_reply_data;
        break;
    case PROTO_EVENT:
        m.event.kind = "run", m.event.run_id = 8, m.event.stage = "", m.event.state = "running";
        m.event.version = 0, m.event.message = "started", m.event.ts_ms = 1764130000123;
        break;
    case PROTO_PREDICT: m.predict.req_id = SAMPLE_REQ_ID, m.predict.records = sample_records, m.predict.n_records = 2; break;
    case PROTO_PREDICTION:
        m.prediction.req_id = 77, m.prediction.model_version = 3, m.prediction.predictions = sample_predictions;
        m.prediction.probabilities = sample_probabilities, m.prediction.n = 2;
        break;
    case PROTO_ERROR:
        m.error.req_id = 78, m.error.status = 422, m.error.message = "invalid record";
        m.error.detail = sample_detail, m.error.n_detail = 2;
        break;
    case PROTO_SERVING:
        m.serving.host = "node-2", m.serving.pid = 5151, m.serving.model_version = 3;
        m.serving.interval_ms = 1000;
        break;
    default: break;  //  STATUS, MODELS: no keys
    }
    return m;
}

#endif
