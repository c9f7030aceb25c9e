/*  body.h: an HTTP request body (JSON) turned into typed prediction records.

    This is the edge where JSON stops: the gateway parses a /predict body (one
    record as a JSON object) or a /predict/batch body ({"instances": [...]})
    with jansson and hands the rest of the system proto_record_t values, the
    same ones a PREDICT message carries. Only the shape is checked here (an
    object, scalar field values, a batch size within limits); whether a field
    is known, typed right and in range is the served model's business
    (model_validate, in the infer worker), because only it knows its signature.

    NaN, Infinity and -Infinity are not JSON, but Python clients send them;
    they are accepted as float values so that validation can reject them with
    a 422 naming the field, rather than a 400 about syntax.

    Ownership: a parsed body_t owns the JSON document (or a copy of the
    text); every string a record points to is borrowed from it and lives
    until body_clear.
*/
#ifndef MLOPS_BODY_H
#define MLOPS_BODY_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "msg.h"

#define BODY_PROBLEMS_MAX 64   //  shape problems listed before "and N more"

typedef struct {
    void *doc;                          //  the jansson document (json_t *), owns the strings
    char *copy;                         //  or the fast path's copy of the text, owning them
    proto_record_t *records;            //  n_records records, owned
    size_t n_records;                   //  records parsed
    proto_field_t *fields;              //  every record's fields, one allocation, owned
    proto_problem_t problems[BODY_PROBLEMS_MAX]; //  shape problems (strings static or in msgs)
    size_t n_problems;                  //  problems found (may exceed BODY_PROBLEMS_MAX)
    char msgs[BODY_PROBLEMS_MAX][96];   //  storage for problem messages that carry numbers
    size_t error_pos;                   //  byte of the syntax error when MLOPS_EPROTO
} body_t;

//  Parses text (len bytes, not NUL-terminated) as one record (batch false)
//  or as {"instances": [...]} holding 1..batch_max records (batch true).
//  Returns 0 with self->records filled; MLOPS_EPROTO when text is not JSON
//  (err names the byte position, also left in self->error_pos);
//  MLOPS_ECHECK when the JSON has the wrong shape (self->problems says
//  where); MLOPS_ENOMEM. self is always left ready for body_clear.
int body_parse(body_t *self, const char *text, size_t len, bool batch, size_t batch_max,
               mlops_err_t *err);

//  body_parse without its fast path: jansson and the document walk alone.
//  Same contract; there for tests that check both paths agree (batch_max
//  must already be at most PROTO_RECORDS_MAX).
int body_parse_full(body_t *self, const char *text, size_t len, bool batch, size_t batch_max,
                    mlops_err_t *err);

//  Parses text as one JSON document into self->doc for a caller that walks
//  it itself (the V2 tensors, v2.c), bare NaN / Infinity / -Infinity
//  accepted as body_parse does (read them with body_number). Returns 0,
//  MLOPS_EPROTO (err and self->error_pos name the byte), MLOPS_ENOMEM.
int body_load(body_t *self, const char *text, size_t len, mlops_err_t *err);

//  True when value (a json_t * of a body_load document) is a number, NaN
//  and infinities included; its value goes to *out.
bool body_number(const void *value, double *out);

//  Frees what body_parse allocated and resets self. Safe on a zeroed body
//  and on one body_parse filled, whatever it returned.
void body_clear(body_t *self);

#endif
