/*  fuzz_http.c: libFuzzer target for the gateway's request path without
    sockets: body bytes -> body_parse -> PREDICT -> decode, and every answer
    body the gateway could build from it.

    The fast path and the full (jansson) path must agree on every input:
    same outcome, same records bit for bit.

    The first input byte picks /predict (even) or /predict/batch (odd); the
    rest is the body. Whatever happens must be one of: a syntax error that
    names a byte inside the body, shape problems whose 422 answer is valid
    JSON, or records that encode as a PREDICT which decodes back to the same
    number of records and fields. Any other outcome, crash or leak is a
    finding.
*/
#include "answer.h"
#include "body.h"
#include "msg.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Aborts unless text is one valid JSON document.
static void s_check_json(const char *text, size_t len)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!doc) {
        fprintf(stderr, "answer is not JSON (%s): %.*s\n", je.text, (int)len, text);
        abort();
    }
    json_decref(doc);
}

static void s_check_records(const body_t *body)
{
    proto_msg_t msg = {.cmd = PROTO_PREDICT,
                       .predict = {.req_id = 42, .records = body->records, .n_records = body->n_records}};
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(&msg, &frame, &len);
    if (rc != 0) {
        fprintf(stderr, "PREDICT does not encode: %d\n", rc);
        abort();
    }
    mlops_err_t err;
    proto_msg_t *back = proto_msg_decode(frame, len, &err);
    if (!back || back->predict.n_records != body->n_records) {
        fprintf(stderr, "PREDICT does not decode back: %s\n", back ? "count" : err.msg);
        abort();
    }
    for (size_t i = 0; i < body->n_records; i++)
        if (back->predict.records[i].n_fields != body->records[i].n_fields)
            abort();
    proto_msg_destroy(&back);
    free(frame);
}

//  Aborts unless the full path gives what the fast path gave.
static void s_check_paths_agree(const body_t *fast, int rc, const char *text, size_t len, bool batch)
{
    body_t full = {0};
    mlops_err_t err;
    int rc_full = body_parse_full(&full, text, len, batch, 1000, &err);
    bool same = rc == rc_full && fast->n_records == full.n_records;
    for (size_t i = 0; same && rc == 0 && i < fast->n_records; i++) {
        same = fast->records[i].n_fields == full.records[i].n_fields;
        for (size_t j = 0; same && j < fast->records[i].n_fields; j++) {
            const proto_field_t *x = &fast->records[i].fields[j], *y = &full.records[i].fields[j];
            same = x->kind == y->kind && strcmp(x->name, y->name) == 0
                && memcmp(&x->num, &y->num, sizeof x->num) == 0
                && (x->str == NULL) == (y->str == NULL) && (!x->str || strcmp(x->str, y->str) == 0);
        }
    }
    body_clear(&full);
    if (!same) {
        fprintf(stderr, "fast and full paths disagree (rc %d vs %d)\n", rc, rc_full);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    bool batch = data[0] & 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    body_t body = {0};
    mlops_err_t err;
    int rc = body_parse(&body, text, len, batch, 1000, &err);
    char *answer = NULL;
    size_t alen = 0;
    if (rc == MLOPS_EPROTO) {
        if (body.error_pos > len || err.msg[0] == '\0')
            abort();
        answer = answer_syntax(err.msg, body.error_pos, &alen);
    } else if (rc == MLOPS_ECHECK) {
        if (body.n_problems == 0)
            abort();
        size_t shown = body.n_problems < BODY_PROBLEMS_MAX ? body.n_problems : BODY_PROBLEMS_MAX;
        answer = answer_problems(body.problems, shown, body.n_problems, !batch, &alen);
    } else if (rc == 0)
        s_check_records(&body);
    else if (rc != MLOPS_ENOMEM)
        abort();
    if (answer)
        s_check_json(answer, alen);
    if (rc != MLOPS_ENOMEM)
        s_check_paths_agree(&body, rc, text, len, batch);
    free(answer);
    body_clear(&body);
    return 0;
}
