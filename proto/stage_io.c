/*  stage_io.c: msgpack codecs of the stage payloads (see stage_io.h).

    Each payload struct is described once by a table of fields (fields.h);
    one generic encoder and one generic decoder walk the tables, so the wire
    shape and the struct can only disagree in one place.
*/
#include "stage_io.h"

#include <string.h>

#include "fields.h"

#define S_ROWS STAGE_ROWS_MAX
#define STR FIELD_STR
#define BIN FIELD_BIN
#define OBIN FIELD_OBIN
#define I64 FIELD_I64
#define U64 FIELD_U64
#define F64 FIELD_F64
#define ROWS(T, k, f, n) FIELD_ROWS(T, k, f, n, S_ROWS)
#define MAP FIELD_MAP
#define LIST FIELD_LIST

static const fields_spec_t s_metrics[] = {
    F64(metrics_t, accuracy, accuracy), F64(metrics_t, precision, precision),
    F64(metrics_t, recall, recall),     F64(metrics_t, f1, f1),
    F64(metrics_t, auc, auc),           F64(metrics_t, log_loss, log_loss),
    I64(metrics_t, tp, tp),             I64(metrics_t, fp, fp),
    I64(metrics_t, tn, tn),             I64(metrics_t, fn, fn),
};

static const fields_spec_t s_extract_in[] = {
    STR(stage_extract_in_t, source, source),
    OBIN(stage_extract_in_t, table, table, table_len),
};
static const fields_spec_t s_extract_out[] = {
    STR(stage_extract_out_t, dataset_hash, dataset_hash),
    I64(stage_extract_out_t, rows, rows),
    I64(stage_extract_out_t, cols, cols),
    BIN(stage_extract_out_t, table, table, table_len),
};
static const fields_spec_t s_preprocess_in[] = {
    BIN(stage_preprocess_in_t, table, table, table_len),
    STR(stage_preprocess_in_t, target, target),
    F64(stage_preprocess_in_t, test_fraction, test_fraction),
    U64(stage_preprocess_in_t, seed, seed),
};
static const fields_spec_t s_preprocess_out[] = {
    BIN(stage_preprocess_out_t, recipe, recipe, recipe_len),
    ROWS(stage_preprocess_out_t, train_rows, train_rows, n_train),
    ROWS(stage_preprocess_out_t, test_rows, test_rows, n_test),
    STR(stage_preprocess_out_t, notes, notes),
};
static const fields_spec_t s_train_in[] = {
    BIN(stage_train_in_t, table, table, table_len),
    BIN(stage_train_in_t, recipe, recipe, recipe_len),
    ROWS(stage_train_in_t, train_rows, train_rows, n_train),
    ROWS(stage_train_in_t, test_rows, test_rows, n_test),
    STR(stage_train_in_t, family, family),
    STR(stage_train_in_t, params, params),
    U64(stage_train_in_t, seed, seed),
};
static const fields_spec_t s_train_out[] = {
    STR(stage_train_out_t, family, family),
    STR(stage_train_out_t, params, params),
    BIN(stage_train_out_t, artifact, artifact, artifact_len),
    STR(stage_train_out_t, sha256, sha256),
    MAP(stage_train_out_t, metrics, metrics, s_metrics),
};
static const fields_spec_t s_candidate[] = {
    STR(stage_candidate_t, key, key),
    STR(stage_candidate_t, family, family),
    BIN(stage_candidate_t, artifact, artifact, artifact_len),
};
static const fields_spec_t s_evaluate_in[] = {
    BIN(stage_evaluate_in_t, table, table, table_len),
    ROWS(stage_evaluate_in_t, test_rows, test_rows, n_test),
    LIST(stage_evaluate_in_t, candidates, candidates, n_candidates, stage_candidate_t, s_candidate),
    I64(stage_evaluate_in_t, production_version, production_version),
    OBIN(stage_evaluate_in_t, production, production, production_len),
};
static const fields_spec_t s_scored[] = {
    STR(stage_scored_t, key, key),
    STR(stage_scored_t, family, family),
    MAP(stage_scored_t, metrics, metrics, s_metrics),
};
static const fields_spec_t s_evaluate_out[] = {
    LIST(stage_evaluate_out_t, scored, scored, n_scored, stage_scored_t, s_scored),
    I64(stage_evaluate_out_t, production_version, production_version),
    MAP(stage_evaluate_out_t, production, production, s_metrics),
};
static const fields_spec_t s_load_model_in[] = {
    I64(stage_load_model_in_t, version, version),
    BIN(stage_load_model_in_t, artifact, artifact, artifact_len),
    STR(stage_load_model_in_t, sha256, sha256),
    MAP(stage_load_model_in_t, expected, expected, s_metrics),
    BIN(stage_load_model_in_t, table, table, table_len),
    ROWS(stage_load_model_in_t, test_rows, test_rows, n_test),
};
static const fields_spec_t s_load_model_out[] = {
    I64(stage_load_model_out_t, version, version),
    I64(stage_load_model_out_t, n_predicted, n_predicted),
    MAP(stage_load_model_out_t, metrics, metrics, s_metrics),
};

static const char *s_stage_names[STAGE_COUNT] = {"extract", "preprocess", "train", "evaluate",
                                                 "load_model"};

const char *stage_name(stage_t stage)
{
    return (int)stage >= 0 && stage < STAGE_COUNT ? s_stage_names[stage] : NULL;
}

int stage_from_name(const char *name)
{
    for (int i = 0; name && i < STAGE_COUNT; i++)
        if (strcmp(name, s_stage_names[i]) == 0)
            return i;
    return -1;
}

/* --- the payloads -------------------------------------------------------- */

#define CODEC(name, T, table)                                                                 \
    int stage_##name##_encode(const T *p, uint8_t **out, size_t *out_len)                    \
    {                                                                                         \
        return fields_encode(p, table, FIELDS_N(table), out, out_len);                                 \
    }                                                                                         \
    int stage_##name##_decode(const uint8_t *data, size_t len, T *p, mlops_err_t *err)       \
    {                                                                                         \
        return fields_decode(data, len, p, sizeof *p, table, FIELDS_N(table), err);                   \
    }
#define CLEAR(name, T, table)                                                                 \
    void stage_##name##_clear(T *p)                                                           \
    {                                                                                         \
        if (p)                                                                                \
            fields_free_owned(p, table, FIELDS_N(table));                                              \
    }

CODEC(extract_in, stage_extract_in_t, s_extract_in)
CODEC(extract_out, stage_extract_out_t, s_extract_out)
CODEC(preprocess_in, stage_preprocess_in_t, s_preprocess_in)
CODEC(preprocess_out, stage_preprocess_out_t, s_preprocess_out)
CLEAR(preprocess_out, stage_preprocess_out_t, s_preprocess_out)
CODEC(train_in, stage_train_in_t, s_train_in)
CLEAR(train_in, stage_train_in_t, s_train_in)
CODEC(train_out, stage_train_out_t, s_train_out)
CODEC(evaluate_in, stage_evaluate_in_t, s_evaluate_in)
CLEAR(evaluate_in, stage_evaluate_in_t, s_evaluate_in)
CODEC(evaluate_out, stage_evaluate_out_t, s_evaluate_out)
CODEC(load_model_in, stage_load_model_in_t, s_load_model_in)
CLEAR(load_model_in, stage_load_model_in_t, s_load_model_in)
CODEC(load_model_out, stage_load_model_out_t, s_load_model_out)
