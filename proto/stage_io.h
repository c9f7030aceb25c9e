/*  stage_io.h: the payloads of the DAG's stages, i.e. what travels in
    TASK.input (broker -> stage worker) and RESULT.output (stage worker ->
    broker) for each stage. proto/PROTOCOL.md, "Stage payloads", is the
    normative description; this is its C shape.

    Every payload is one msgpack map with string keys, version 2
    (STAGE_PAYLOAD_VERSION, key `v`): the data itself (tables, recipes,
    splits, artifacts) never travels in a payload, only its sha256 and size
    (stage_ref_t); the bytes go through the data service. Decoding is strict:
    a payload of another version (version 1 had no `v` and carried the bytes)
    gives MLOPS_EVERSION saying which version it is and which this peer
    speaks; a missing key, an unknown key, a wrong type, a count over its
    limit or trailing bytes give MLOPS_EPROTO (or MLOPS_ETOOBIG) with a
    message naming the key.

    Task types: `task` (preprocess in and out, train, evaluate and
    load_model in) is optional and written only when not "", so a binary
    run's payloads are the bytes they were before task types. preprocess's
    input asks ("" = auto, binary, multiclass, regression); its output says
    what it decided ("" = binary), and the broker passes that on. Metrics say
    their own task (metrics_t.task, records.h).

    Encoded once (preprocess's `matrix` and `test_table`, optional keys
    added in version 2 and written only when set, so a payload without them
    is the bytes it was): preprocess uploads the feature matrix training
    needs (ml/matrix.h: the train and test rows' features and targets, and
    the training rows' profile) and the raw table of the test rows only;
    the broker passes `matrix` to train and `test_table` to evaluate and
    load_model, which then fetch neither the raw table nor the split. A
    stage given no `matrix` / `test_table` (a preprocess worker from before
    them) reads the raw table and the split as before.

    Ownership: strings and refs are copied into the structs. Row index arrays
    of a decoded stage_split_t are malloc'd and owned by it; stage_split_clear
    frees them (safe on a zeroed struct). The other payloads own nothing. The
    encoders write a malloc'd buffer the caller frees.
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
#define STAGE_ROWS_MAX 100000000ULL  //  row indexes in one split
#define STAGE_PAYLOAD_VERSION 2      //  `v` of every payload (PROTOCOL.md section 14)

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

//  A blob named by its content (a claim check): the data service
//  (PROTOCOL.md section 15) serves and stores the bytes, a payload carries
//  only this. hash "" (and size 0) = none, where a payload allows none.
typedef struct {
    char hash[HASH_HEX_LEN + 1];     //  sha256 of the bytes, 64 lower-case hex
    int64_t size;                    //  bytes
} stage_ref_t;

//  Every payload carries `v`: the encoders write STAGE_PAYLOAD_VERSION
//  whatever the struct holds; the decoders refuse any other (see above).

//  extract: a source spec (CSV path on the worker's host, synthetic[:rows[:seed]],
//  or dataset:HASH, for which the broker names the stored table in `dataset`).
typedef struct {
    int64_t v;                       //  payload version (set by the encoder)
    char source[RECORD_TEXT_MAX];    //  as triggered
    stage_ref_t dataset;             //  the stored table for dataset:HASH, else none
} stage_extract_in_t;

//  The table, uploaded (table_encode bytes): its name is the dataset version.
typedef struct {
    int64_t v;
    stage_ref_t table;
} stage_extract_out_t;

//  preprocess: the raw table and the split options.
typedef struct {
    int64_t v;
    stage_ref_t table;               //  raw table (extract's output)
    char target[RECORD_NAME_MAX];    //  label column, "" = default (Survived)
    double test_fraction;            //  0 = default (0.2)
    uint64_t seed;                   //  split seed
    char task[RECORD_NAME_MAX];      //  "" (auto: from the target), binary, multiclass, regression
} stage_preprocess_in_t;

typedef struct {
    int64_t v;
    stage_ref_t recipe;              //  fitted preprocessing (opaque bytes)
    stage_ref_t split;               //  a stage_split_t blob
    char notes[512];                 //  what the recipe decided
    char task[RECORD_NAME_MAX];      //  the task type decided: "" = binary, multiclass, regression
    stage_ref_t matrix;              //  optional: the encoded features and targets (ml/matrix.h)
    stage_ref_t test_table;          //  optional: the raw table of the test rows, in split order
} stage_preprocess_out_t;

//  The split blob preprocess uploads: row indexes into the table.
typedef struct {
    int64_t v;
    size_t *train_rows;              //  owned when decoded
    size_t n_train;
    size_t *test_rows;               //  owned when decoded
    size_t n_test;
} stage_split_t;

//  train: one family on the train rows.
typedef struct {
    int64_t v;
    stage_ref_t table;               //  raw table
    stage_ref_t recipe;              //  preprocess's recipe
    stage_ref_t split;               //  preprocess's split
    char family[RECORD_NAME_MAX];    //  logreg, forest
    char params[RECORD_TEXT_MAX];    //  compact JSON, "" = defaults
    uint64_t seed;                   //  training seed
    char task[RECORD_NAME_MAX];      //  preprocess's task ("" = binary): the recipe's must match
    stage_ref_t matrix;              //  optional: preprocess's matrix; set, table and split
                                     //  are not fetched
} stage_train_in_t;

typedef struct {
    int64_t v;
    char family[RECORD_NAME_MAX];    //  as asked
    char params[RECORD_TEXT_MAX];    //  as used
    stage_ref_t artifact;            //  the model artifact, uploaded (its hash is its sha256)
    metrics_t metrics;               //  on the test rows, as recorded in the artifact
} stage_train_out_t;

//  evaluate: every candidate and the production model on the same test rows.
typedef struct {
    char key[48];                    //  the train task id that made it
    char family[RECORD_NAME_MAX];
    stage_ref_t artifact;
} stage_candidate_t;

typedef struct {
    int64_t v;
    stage_ref_t table;               //  raw table
    stage_ref_t split;               //  its test rows are scored
    stage_candidate_t candidates[STAGE_CANDIDATES_MAX];
    size_t n_candidates;             //  1..STAGE_CANDIDATES_MAX
    int64_t production_version;      //  0 = no production model
    stage_ref_t production;          //  its artifact, none when no production model
    char task[RECORD_NAME_MAX];      //  preprocess's task ("" = binary): the metrics computed
    stage_ref_t test_table;          //  optional: preprocess's test rows; set, every row of
                                     //  it is scored and table and split are not fetched
} stage_evaluate_in_t;

typedef struct {
    char key[48];                    //  as in the input
    char family[RECORD_NAME_MAX];
    metrics_t metrics;               //  on the test rows
} stage_scored_t;

typedef struct {
    int64_t v;
    stage_scored_t scored[STAGE_CANDIDATES_MAX];
    size_t n_scored;                 //  one per candidate, same order
    int64_t production_version;      //  0 = none was given
    metrics_t production;            //  its metrics on the same rows (zero when none)
} stage_evaluate_out_t;

//  load_model: the registered version's artifact, checked end to end.
typedef struct {
    int64_t v;
    int64_t version;                 //  registry number
    stage_ref_t artifact;            //  as registered (hash = its sha256)
    metrics_t expected;              //  metrics recorded at evaluate
    stage_ref_t table;               //  raw table
    stage_ref_t split;               //  its test rows are predicted
    int64_t production_version;      //  0 = no production model
    stage_ref_t production;          //  its artifact (its signature is compared), none when none
    char task[RECORD_NAME_MAX];      //  preprocess's task ("" = binary)
    stage_ref_t test_table;          //  optional: as evaluate's
} stage_load_model_in_t;

typedef struct {
    int64_t v;
    int64_t version;                 //  as in the input
    int64_t n_predicted;             //  test rows predicted
    metrics_t metrics;               //  recomputed metrics (equal to expected)
    char schema[RECORD_TEXT_MAX];    //  "" no production given, "same", or what differs
} stage_load_model_out_t;

//  Encoders: 0, MLOPS_EINVAL (a count over its limit) or MLOPS_ENOMEM;
//  *out is malloc'd, the caller frees it.
//  Decoders: 0 or MLOPS_EVERSION / MLOPS_EPROTO / MLOPS_ETOOBIG /
//  MLOPS_ENOMEM with err;
//  on failure nothing is owned (no clear needed).
int stage_extract_in_encode(const stage_extract_in_t *p, uint8_t **out, size_t *out_len);
int stage_extract_in_decode(const uint8_t *data, size_t len, stage_extract_in_t *p, mlops_err_t *err);
int stage_extract_out_encode(const stage_extract_out_t *p, uint8_t **out, size_t *out_len);
int stage_extract_out_decode(const uint8_t *data, size_t len, stage_extract_out_t *p, mlops_err_t *err);

int stage_preprocess_in_encode(const stage_preprocess_in_t *p, uint8_t **out, size_t *out_len);
int stage_preprocess_in_decode(const uint8_t *data, size_t len, stage_preprocess_in_t *p, mlops_err_t *err);
int stage_preprocess_out_encode(const stage_preprocess_out_t *p, uint8_t **out, size_t *out_len);
int stage_preprocess_out_decode(const uint8_t *data, size_t len, stage_preprocess_out_t *p, mlops_err_t *err);

int stage_split_encode(const stage_split_t *p, uint8_t **out, size_t *out_len);
int stage_split_decode(const uint8_t *data, size_t len, stage_split_t *p, mlops_err_t *err);
void stage_split_clear(stage_split_t *p);

int stage_train_in_encode(const stage_train_in_t *p, uint8_t **out, size_t *out_len);
int stage_train_in_decode(const uint8_t *data, size_t len, stage_train_in_t *p, mlops_err_t *err);
int stage_train_out_encode(const stage_train_out_t *p, uint8_t **out, size_t *out_len);
int stage_train_out_decode(const uint8_t *data, size_t len, stage_train_out_t *p, mlops_err_t *err);

int stage_evaluate_in_encode(const stage_evaluate_in_t *p, uint8_t **out, size_t *out_len);
int stage_evaluate_in_decode(const uint8_t *data, size_t len, stage_evaluate_in_t *p, mlops_err_t *err);
int stage_evaluate_out_encode(const stage_evaluate_out_t *p, uint8_t **out, size_t *out_len);
int stage_evaluate_out_decode(const uint8_t *data, size_t len, stage_evaluate_out_t *p, mlops_err_t *err);

int stage_load_model_in_encode(const stage_load_model_in_t *p, uint8_t **out, size_t *out_len);
int stage_load_model_in_decode(const uint8_t *data, size_t len, stage_load_model_in_t *p, mlops_err_t *err);
int stage_load_model_out_encode(const stage_load_model_out_t *p, uint8_t **out, size_t *out_len);
int stage_load_model_out_decode(const uint8_t *data, size_t len, stage_load_model_out_t *p, mlops_err_t *err);

#endif
