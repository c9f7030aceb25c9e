/*  fuzz_v2.c: libFuzzer target for the Open Inference Protocol body parser
    (gateway/v2.c, v2_fast.c) without sockets: body bytes -> v2_infer_parse
    against a Titanic-like signature -> PREDICT -> decode, and the V2 error
    answer; the fast path must agree with jansson alone (v2_infer_parse_full)
    on every input.

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

//  Aborts unless the fast path gave what jansson alone gives: the outcome,
//  the message, the id, the outputs and every record's fields bit for bit.
static void s_check_agree(const v2_infer_t *a, int rc, const mlops_err_t *err, const v2_infer_t *b,
                          int full_rc, const mlops_err_t *full_err)
{
    bool same = rc == full_rc && (rc == 0 || strcmp(err->msg, full_err->msg) == 0);
    same = same && (rc != 0 || (a->has_id == b->has_id && strcmp(a->id, b->id) == 0
                                && a->outputs == b->outputs && a->body.n_records == b->body.n_records));
    for (size_t i = 0; same && rc == 0 && i < a->body.n_records; i++) {
        const proto_record_t *x = &a->body.records[i], *y = &b->body.records[i];
        same = x->n_fields == y->n_fields;
        for (size_t j = 0; same && j < x->n_fields; j++) {
            const proto_field_t *f = &x->fields[j], *g = &y->fields[j];
            same = f->kind == g->kind && strcmp(f->name, g->name) == 0
                && memcmp(&f->num, &g->num, sizeof f->num) == 0
                && (f->str == NULL) == (g->str == NULL) && (!f->str || strcmp(f->str, g->str) == 0);
        }
    }
    if (!same) {
        fprintf(stderr, "fast and full paths disagree: %d \"%s\" vs %d \"%s\"\n", rc, err->msg,
                full_rc, full_err->msg);
        abort();
    }
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
    static v2_infer_t req, full;
    mlops_err_t err = {0}, full_err = {0};
    const schema_t *schema = data[0] & 1 ? NULL : s_schema;
    int rc = v2_infer_parse(&req, (const char *)data + 1, size - 1, schema, 1000, &err);
    int full_rc = v2_infer_parse_full(&full, (const char *)data + 1, size - 1, schema, 1000, &full_err);
    s_check_agree(&req, rc, &err, &full, full_rc, &full_err);
    v2_infer_clear(&full);
    if (rc == MLOPS_EPROTO)
        s_check_error(err.msg);
    else if (rc == 0)
        s_check_records(&req.body);
    else if (rc != MLOPS_ENOMEM)
        abort();
    v2_infer_clear(&req);
    return 0;
}
