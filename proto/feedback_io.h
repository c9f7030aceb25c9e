/*  feedback_io.h: labelled live rows as they cross from the gateway to the
    broker (FEEDBACK.rows, PROTOCOL.md "FEEDBACK"), as the broker stores
    them, and the walk over a PREDICT frame's records that lets the
    gateway keep each record's bytes without decoding the frame.

    A row is a msgpack map, keys in this order:

        {"request_id": str (1..64 bytes), "index": uint, "version": uint,
         "record": map (field name -> nil | bool | int | float | str),
         "label": str | int | float | bool, "time_ms": int}

    FEEDBACK.rows is an array of 0..FEEDBACK_IO_ROWS_MAX rows. The record
    is the PREDICT's own map, copied byte for byte; its size is bounded by
    FEEDBACK_IO_RECORD_MAX (the gateway keeps at most 512 bytes a row).
*/
#ifndef MLOPS_FEEDBACK_IO_H
#define MLOPS_FEEDBACK_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg.h"

#define FEEDBACK_IO_ROWS_MAX 1024       //  rows in one FEEDBACK
#define FEEDBACK_IO_ID_MAX 64           //  bytes of a request id
#define FEEDBACK_IO_RECORD_MAX 4096     //  bytes of one row's record map
#define FEEDBACK_IO_LABEL_MAX 256       //  bytes of a string label

typedef enum {
    FEEDBACK_IO_LABEL_NUMBER = 0,   //  number (an int when integral and small enough)
    FEEDBACK_IO_LABEL_BOOL,         //  true / false in number as 1 / 0
    FEEDBACK_IO_LABEL_STRING,       //  text
} feedback_io_label_kind_t;

typedef struct {
    char request_id[FEEDBACK_IO_ID_MAX + 1]; //  the prediction's request id
    uint32_t index;                   //  record within the request
    uint64_t version;                 //  model version that predicted
    const uint8_t *record;            //  the record's msgpack map (borrowed: into the
                                      //  decoded buffer, or the caller's to encode)
    size_t record_len;                //  its bytes
    feedback_io_label_kind_t label_kind; //  see above
    double label_number;              //  NUMBER, BOOL
    char label_text[FEEDBACK_IO_LABEL_MAX + 1]; //  STRING
    int64_t time_ms;                  //  when predicted (wall clock)
} feedback_io_row_t;

//  Encodes n rows as FEEDBACK.rows into a malloc'd buffer. Returns 0,
//  MLOPS_EINVAL (n over the limit, an id or label over its size, a record
//  that is not one map of scalar values) or MLOPS_ENOMEM.
int feedback_io_rows_encode(const feedback_io_row_t *rows, size_t n, uint8_t **out,
                            size_t *out_len);

//  Encodes one row (the broker's stored value). Returns as above.
int feedback_io_row_encode(const feedback_io_row_t *row, uint8_t **out, size_t *out_len);

//  Decodes FEEDBACK.rows into a malloc'd array of *n rows (free() it; their
//  record pointers point into data, which must outlive them). Returns 0,
//  MLOPS_EPROTO naming the row and key, MLOPS_ETOOBIG or MLOPS_ENOMEM.
int feedback_io_rows_decode(const uint8_t *data, size_t len, feedback_io_row_t **rows, size_t *n,
                            mlops_err_t *err);

//  Decodes one stored row (record borrowed from data). Returns as above.
int feedback_io_row_decode(const uint8_t *data, size_t len, feedback_io_row_t *row,
                           mlops_err_t *err);

//  Decodes a record map into fields (names and strings pointing into a
//  malloc'd arena *arena the caller frees with *fields). Returns 0,
//  MLOPS_EPROTO or MLOPS_ENOMEM.
int feedback_io_record_decode(const uint8_t *data, size_t len, proto_field_t **fields, size_t *n,
                              mlops_err_t *err);

//  FEEDBACK.rows from n rows already encoded one by one
//  (feedback_io_row_encode): an array header, then their bytes. Returns 0,
//  MLOPS_EINVAL (n over the limit) or MLOPS_ENOMEM.
int feedback_io_rows_join(const uint8_t *const *rows, const size_t *lens, size_t n, uint8_t **out,
                          size_t *out_len);

//  The REPLY data of FEEDBACK: what this request did and the feedback
//  set's counts.
//      {"stored": uint, "duplicate": uint, "rows": uint, "bytes": uint,
//       "max_bytes": uint, "stored_total": uint, "duplicate_total": uint,
//       "rotated_total": uint}
typedef struct {
    uint64_t stored;             //  rows of this request stored
    uint64_t duplicate;          //  rows of this request refused: (request id, index) stored already
    uint64_t rows;               //  rows the set holds
    uint64_t bytes;              //  their bytes
    uint64_t max_bytes;          //  the cap (--feedback-max-bytes)
    uint64_t stored_total;       //  rows ever stored
    uint64_t duplicate_total;    //  rows ever refused as duplicates
    uint64_t rotated_total;      //  rows dropped, oldest first, for the cap
} feedback_io_answer_t;

#define FEEDBACK_IO_MAX_BYTES_MIN 1024   //  the smallest --feedback-max-bytes (broker, mlops up)

//  Encodes into a malloc'd buffer. Returns 0 or MLOPS_ENOMEM.
int feedback_io_answer_encode(const feedback_io_answer_t *a, uint8_t **out, size_t *out_len);

//  Decodes (strict on the keys it knows, skipping others). Returns 0 or
//  MLOPS_EPROTO naming the key.
int feedback_io_answer_decode(const uint8_t *data, size_t len, feedback_io_answer_t *a,
                              mlops_err_t *err);

//  The feedback set as a run's extract reads it (an object in the data
//  service that extract's TASK names in `dataset` for a "+feedback"
//  source): {"target": str, "rows": [row, ...]}, target the column the
//  labels go into ("" = the default, FEEDBACK_IO_TARGET_DEFAULT).
//  FEEDBACK_IO_SET_ROWS_MAX rows at most.
//  The label column when none is named (--target, TASK.target ""): the one
//  definition, here in the lowest layer that needs it, for ml/prep.c,
//  ml/train.c, `mlops up` and the extract stage's join.
#define FEEDBACK_IO_TARGET_DEFAULT "Survived"
#define FEEDBACK_IO_SET_ROWS_MAX 10000000
#define FEEDBACK_IO_TARGET_MAX 255

//  Encodes target and n rows encoded one by one (feedback_io_row_encode).
//  Returns 0, MLOPS_EINVAL (target over its limit, n over the
//  limit) or MLOPS_ENOMEM.
int feedback_io_set_encode(const char *target, const uint8_t *const *rows, const size_t *lens,
                           size_t n, uint8_t **out, size_t *out_len);

//  Decodes a set: target into target (FEEDBACK_IO_TARGET_MAX + 1 bytes),
//  its rows as feedback_io_rows_decode does (records borrowed from data).
//  Returns 0, MLOPS_EPROTO naming the row and key, MLOPS_ETOOBIG or
//  MLOPS_ENOMEM.
int feedback_io_set_decode(const uint8_t *data, size_t len, char *target, feedback_io_row_t **rows,
                           size_t *n, mlops_err_t *err);

//  A walk over the records of an encoded PREDICT frame (ours: the
//  gateway's queued frame), allocating nothing.
typedef struct {
    const uint8_t *at;       //  next record
    const uint8_t *end;      //  end of the frame
    size_t left;             //  records not yet walked
} feedback_io_records_t;

//  Positions the walk at the first record. Returns 0 or MLOPS_EPROTO (not
//  a PREDICT of ours).
int feedback_io_records_open(feedback_io_records_t *w, const uint8_t *frame, size_t len);

//  The next record's bytes; false after the last (or at a malformed one).
bool feedback_io_records_next(feedback_io_records_t *w, const uint8_t **record, size_t *len);

#endif
