/*  fuzz_v2.c: libFuzzer target for the Open Inference Protocol body parser
    (gateway/v2.c) without sockets: body bytes -> v2_infer_parse against a
    Titanic-like signature -> PREDICT -> decode, and the V2 error answer.

    The first input byte picks the signature (even) or none (odd); the rest
    is the body. Whatever happens must be one of: EPROTO with a message
    (whose {"error": ...} answer is valid JSON), or records, all with the
    same number of fields, that encode as a PREDICT which decodes back to
    the same records. Any other outcome, crash or leak is a finding.
*/
#include "answer.h"
#include "msg.h"
#include "schema.h"
#include "v2.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char s_signature[] =
    "{\"recipe\":\"titanic\",\"fields\":["
    "{\"name\":\"Pclass\",\"type\":\"integer\",\"required\":true,\"min\":1,\"max\":3},"
    "{\"name\":\"Sex\",\"type\":\"string\",\"required\":true,\"enum\":[\"male\",\"female\"]},"
    "{\"name\":\"Age\",\"type\":\"number\",\"required\":false,\"min\":0,\"max\":120},"
    "{\"name\":\"Name\",\"type\":\"string\",\"required\":false}]}";

static schema_t *s_schema;

static void s_check_error(const char *msg)
{
    size_t len = 0;
    char *answer = answer_v2_error(msg, &len);
    json_error_t je;
    json_t *doc = answer ? json_loadb(answer, len, 0, &je) : NULL;
    if (!doc || msg[0] == '\0') {
        fprintf(stderr, "bad error answer: %s\n", answer ? answer : "(none)");
        abort();
    }
    json_decref(doc);
    free(answer);
}

static void s_check_records(const body_t *body)
{
    proto_msg_t msg = {.cmd = PROTO_PREDICT,
                       .predict = {.req_id = 7, .records = body->records, .n_records = body->n_records}};
    uint8_t *frame = NULL;
    size_t len = 0;
    if (body->n_records == 0 || proto_msg_encode(&msg, &frame, &len) != 0)
        abort();
    mlops_err_t err;
    proto_msg_t *back = proto_msg_decode(frame, len, &err);
    if (!back || back->predict.n_records != body->n_records)
        abort();
    for (size_t i = 0; i < body->n_records; i++)
        if (back->predict.records[i].n_fields != body->records[0].n_fields)
            abort();
    proto_msg_destroy(&back);
    free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (!s_schema) {
        mlops_err_t err;
        s_schema = schema_parse(s_signature, strlen(s_signature), 1, &err);
        if (!s_schema)
            abort();
    }
    static v2_infer_t req;
    mlops_err_t err = {0};
    int rc = v2_infer_parse(&req, (const char *)data + 1, size - 1, data[0] & 1 ? NULL : s_schema,
                            1000, &err);
    if (rc == MLOPS_EPROTO)
        s_check_error(err.msg);
    else if (rc == 0)
        s_check_records(&req.body);
    else if (rc != MLOPS_ENOMEM)
        abort();
    v2_infer_clear(&req);
    return 0;
}
