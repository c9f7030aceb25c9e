/*  stage_io.h: the payloads of the DAG's stages, i.e. what travels in
    TASK.input (broker -> stage worker) and RESULT.output (stage worker ->
    broker) for each stage. proto/PROTOCOL.md, "Stage payloads", is the
    normative description; this is its C shape.

    Every payload is one msgpack map with string keys. Decoding is strict:
    a missing key, an unknown key, a wrong type, a count over its limit or
    trailing bytes give MLOPS_EPROTO (or MLOPS_ETOOBIG) with a message naming
    the key.

    Ownership (read this before using a decoded payload):
    - Byte fields (table, recipe, artifact) of a decoded payload are BORROWED
      from the buffer that was decoded: they are valid only while that buffer
      lives and is unchanged. Nothing is copied, because tables and artifacts
      are the large part of every message.
    - Strings are copied into the fixed char arrays of the structs.
    - Row index arrays of a decoded payload are malloc'd and owned by the
      struct; the matching *_clear function frees them (safe on a zeroed
      struct). Structs that own nothing have no clear function.
    - To encode, fill a struct with borrowed pointers; the encoder writes a
      malloc'd buffer the caller frees and owns nothing else.
*/
#ifndef MLOPS_STAGE_IO_H
#define MLOPS_STAGE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"
#include "records.h"

#define STAGE_CANDIDATES_MAX 8       //  model families in one evaluate
#define STAGE_ROWS_MAX 100000000ULL  //  row indexes in one payload

//  The five stages of the DAG, in order.
typedef enum {
    STAGE_EXTRACT = 0,
    STAGE_PREPROCESS = 1,
    STAGE_TRAIN = 2,
    STAGE_EVALUATE = 3,
    STAGE_LOAD_MODEL = 4,
    STAGE_COUNT = 5,
} stage_t;

//  Name of a stage ("load_model"), NULL when invalid.
const char *stage_name(stage_t stage);
//  Stage of a name, or -1 when the name is not a stage.
int stage_from_name(const char *name);

//  extract: a source spec (CSV path on the worker's host, synthetic[:rows[:seed]],
//  or dataset:HASH, for which the broker puts the stored table in `table`).
typedef struct {
    char source[RECORD_TEXT_MAX];    //  as triggered
    const uint8_t *table;            //  encoded table for dataset:HASH, else NULL
    size_t table_len;
} stage_extract_in_t;

typedef struct {
    char dataset_hash[HASH_HEX_LEN + 1]; //  table_hash of the table
    int64_t rows, cols;                  //  its shape
    const uint8_t *table;                //  table_encode bytes
    size_t table_len;
} stage_extract_out_t;

//  preprocess: the raw table and the split options.
typedef struct {
    const uint8_t *table;            //  raw table (extract's output)
    size_t table_len;
    char target[RECORD_NAME_MAX];    //  label column, "" = default (Survived)
    double test_fraction;            //  0 = default (0.2)
    uint64_t seed;                   //  split seed
} stage_preprocess_in_t;

typedef struct {
    const uint8_t *recipe;           //  fitted preprocessing (opaque)
    size_t recipe_len;
    size_t *train_rows;              //  owned when decoded
    size_t n_train;
    size_t *test_rows;               //  owned when decoded
    size_t n_test;
    char notes[512];                 //  what the recipe decided
} stage_preprocess_out_t;

//  train: one family on the train rows.
typedef struct {
    const uint8_t *table;            //  raw table
    size_t table_len;
    const uint8_t *recipe;           //  preprocess's recipe
    size_t recipe_len;
    size_t *train_rows;              //  owned when decoded
    size_t n_train;
    size_t *test_rows;               //  owned when decoded
    size_t n_test;
    char family[RECORD_NAME_MAX];    //  logreg, forest
    char params[RECORD_TEXT_MAX];    //  compact JSON, "" = defaults
    uint64_t seed;                   //  training seed
} stage_train_in_t;

typedef struct {
    char family[RECORD_NAME_MAX];    //  as asked
    char params[RECORD_TEXT_MAX];    //  as used
    const uint8_t *artifact;         //  model artifact
    size_t artifact_len;
    char sha256[HASH_HEX_LEN + 1];   //  of the artifact
    metrics_t metrics;               //  on the test rows, as recorded in the artifact
} stage_train_out_t;

//  evaluate: every candidate and the production model on the same test rows.
typedef struct {
    char key[48];                    //  the train task id that made it
    char family[RECORD_NAME_MAX];
    const uint8_t *artifact;
    size_t artifact_len;
} stage_candidate_t;

typedef struct {
    const uint8_t *table;            //  raw table
    size_t table_len;
    size_t *test_rows;               //  owned when decoded
    size_t n_test;
    stage_candidate_t candidates[STAGE_CANDIDATES_MAX];
    size_t n_candidates;             //  1..STAGE_CANDIDATES_MAX
    int64_t production_version;      //  0 = no production model
    const uint8_t *production;       //  its artifact, NULL when none
    size_t production_len;
} stage_evaluate_in_t;

typedef struct {
    char key[48];                    //  as in the input
    char family[RECORD_NAME_MAX];
    metrics_t metrics;               //  on the test rows
} stage_scored_t;

typedef struct {
    stage_scored_t scored[STAGE_CANDIDATES_MAX];
    size_t n_scored;                 //  one per candidate, same order
    int64_t production_version;      //  0 = none was given
    metrics_t production;            //  its metrics on the same rows (zero when none)
} stage_evaluate_out_t;

//  load_model: the registered version's artifact, checked end to end.
typedef struct {
    int64_t version;                 //  registry number
    const uint8_t *artifact;
    size_t artifact_len;
    char sha256[HASH_HEX_LEN + 1];   //  expected sha256 of the artifact
    metrics_t expected;              //  metrics recorded at evaluate
    const uint8_t *table;            //  raw table
    size_t table_len;
    size_t *test_rows;               //  owned when decoded
    size_t n_test;
} stage_load_model_in_t;

typedef struct {
    int64_t version;                 //  as in the input
    int64_t n_predicted;             //  test rows predicted
    metrics_t metrics;               //  recomputed metrics (equal to expected)
} stage_load_model_out_t;

//  Encoders: 0, MLOPS_EINVAL (a count over its limit) or MLOPS_ENOMEM;
//  *out is malloc'd, the caller frees it.
//  Decoders: 0 or MLOPS_EPROTO / MLOPS_ETOOBIG / MLOPS_ENOMEM with err;
//  on failure nothing is owned (no clear needed).
int stage_extract_in_encode(const stage_extract_in_t *p, uint8_t **out, size_t *out_len);
int stage_extract_in_decode(const uint8_t *data, size_t len, stage_extract_in_t *p, mlops_err_t *err);
int stage_extract_out_encode(const stage_extract_out_t *p, uint8_t **out, size_t *out_len);
int stage_extract_out_decode(const uint8_t *data, size_t len, stage_extract_out_t *p, mlops_err_t *err);

int stage_preprocess_in_encode(const stage_preprocess_in_t *p, uint8_t **out, size_t *out_len);
int stage_preprocess_in_decode(const uint8_t *data, size_t len, stage_preprocess_in_t *p, mlops_err_t *err);
int stage_preprocess_out_encode(const stage_preprocess_out_t *p, uint8_t **out, size_t *out_len);
int stage_preprocess_out_decode(const uint8_t *data, size_t len, stage_preprocess_out_t *p, mlops_err_t *err);
void stage_preprocess_out_clear(stage_preprocess_out_t *p);

int stage_train_in_encode(const stage_train_in_t *p, uint8_t **out, size_t *out_len);
int stage_train_in_decode(const uint8_t *data, size_t len, stage_train_in_t *p, mlops_err_t *err);
void stage_train_in_clear(stage_train_in_t *p);
int stage_train_out_encode(const stage_train_out_t *p, uint8_t **out, size_t *out_len);
int stage_train_out_decode(const uint8_t *data, size_t len, stage_train_out_t *p, mlops_err_t *err);

int stage_evaluate_in_encode(const stage_evaluate_in_t *p, uint8_t **out, size_t *out_len);
int stage_evaluate_in_decode(const uint8_t *data, size_t len, stage_evaluate_in_t *p, mlops_err_t *err);
void stage_evaluate_in_clear(stage_evaluate_in_t *p);
int stage_evaluate_out_encode(const stage_evaluate_out_t *p, uint8_t **out, size_t *out_len);
int stage_evaluate_out_decode(const uint8_t *data, size_t len, stage_evaluate_out_t *p, mlops_err_t *err);

int stage_load_model_in_encode(const stage_load_model_in_t *p, uint8_t **out, size_t *out_len);
int stage_load_model_in_decode(const uint8_t *data, size_t len, stage_load_model_in_t *p, mlops_err_t *err);
void stage_load_model_in_clear(stage_load_model_in_t *p);
int stage_load_model_out_encode(const stage_load_model_out_t *p, uint8_t **out, size_t *out_len);
int stage_load_model_out_decode(const uint8_t *data, size_t len, stage_load_model_out_t *p, mlops_err_t *err);

#endif
