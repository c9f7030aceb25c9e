/*  stage_io.c: msgpack codecs of the stage payloads (see stage_io.h).

    Each payload struct is described once by a table of fields (fields.h);
    one generic encoder and one generic decoder walk the tables, so the wire
    shape and the struct can only disagree in one place.
*/
#include "stage_io.h"

#include <string.h>

#include "fields.h"
#include "records_fields.h"

#define ROWS(T, f, n) FIELD_ROWS(T, f, n, STAGE_ROWS_MAX)

static const fields_spec_t s_extract_in[] = {
    FIELD_STR(stage_extract_in_t, source),
    FIELD_OBIN(stage_extract_in_t, table, table_len),
};
static const fields_spec_t s_extract_out[] = {
    FIELD_STR(stage_extract_out_t, dataset_hash),
    FIELD_I64(stage_extract_out_t, rows),
    FIELD_I64(stage_extract_out_t, cols),
    FIELD_BIN(stage_extract_out_t, table, table_len),
};
static const fields_spec_t s_preprocess_in[] = {
    FIELD_BIN(stage_preprocess_in_t, table, table_len),
    FIELD_STR(stage_preprocess_in_t, target),
    FIELD_NUM(stage_preprocess_in_t, test_fraction),
    FIELD_U64(stage_preprocess_in_t, seed),
};
static const fields_spec_t s_preprocess_out[] = {
    FIELD_BIN(stage_preprocess_out_t, recipe, recipe_len),
    ROWS(stage_preprocess_out_t, train_rows, n_train),
    ROWS(stage_preprocess_out_t, test_rows, n_test),
    FIELD_STR(stage_preprocess_out_t, notes),
};
static const fields_spec_t s_train_in[] = {
    FIELD_BIN(stage_train_in_t, table, table_len),
    FIELD_BIN(stage_train_in_t, recipe, recipe_len),
    ROWS(stage_train_in_t, train_rows, n_train),
    ROWS(stage_train_in_t, test_rows, n_test),
    FIELD_STR(stage_train_in_t, family),
    FIELD_STR(stage_train_in_t, params),
    FIELD_U64(stage_train_in_t, seed),
};
static const fields_spec_t s_train_out[] = {
    FIELD_STR(stage_train_out_t, family),
    FIELD_STR(stage_train_out_t, params),
    FIELD_BIN(stage_train_out_t, artifact, artifact_len),
    FIELD_STR(stage_train_out_t, sha256),
    FIELD_MAP(stage_train_out_t, metrics, records_metrics_fields),
};
static const fields_spec_t s_candidate[] = {
    FIELD_STR(stage_candidate_t, key),
    FIELD_STR(stage_candidate_t, family),
    FIELD_BIN(stage_candidate_t, artifact, artifact_len),
};
static const fields_spec_t s_evaluate_in[] = {
    FIELD_BIN(stage_evaluate_in_t, table, table_len),
    ROWS(stage_evaluate_in_t, test_rows, n_test),
    FIELD_LIST(stage_evaluate_in_t, candidates, n_candidates, s_candidate),
    FIELD_I64(stage_evaluate_in_t, production_version),
    FIELD_OBIN(stage_evaluate_in_t, production, production_len),
};
static const fields_spec_t s_scored[] = {
    FIELD_STR(stage_scored_t, key),
    FIELD_STR(stage_scored_t, family),
    FIELD_MAP(stage_scored_t, metrics, records_metrics_fields),
};
static const fields_spec_t s_evaluate_out[] = {
    FIELD_LIST(stage_evaluate_out_t, scored, n_scored, s_scored),
    FIELD_I64(stage_evaluate_out_t, production_version),
    FIELD_MAP(stage_evaluate_out_t, production, records_metrics_fields),
};
static const fields_spec_t s_load_model_in[] = {
    FIELD_I64(stage_load_model_in_t, version),
    FIELD_BIN(stage_load_model_in_t, artifact, artifact_len),
    FIELD_STR(stage_load_model_in_t, sha256),
    FIELD_MAP(stage_load_model_in_t, expected, records_metrics_fields),
    FIELD_BIN(stage_load_model_in_t, table, table_len),
    ROWS(stage_load_model_in_t, test_rows, n_test),
};
static const fields_spec_t s_load_model_out[] = {
    FIELD_I64(stage_load_model_out_t, version),
    FIELD_I64(stage_load_model_out_t, n_predicted),
    FIELD_MAP(stage_load_model_out_t, metrics, records_metrics_fields),
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

FIELDS_CODEC(stage, extract_in, stage_extract_in_t, s_extract_in)
FIELDS_CODEC(stage, extract_out, stage_extract_out_t, s_extract_out)
FIELDS_CODEC(stage, preprocess_in, stage_preprocess_in_t, s_preprocess_in)
FIELDS_CODEC(stage, preprocess_out, stage_preprocess_out_t, s_preprocess_out)
FIELDS_CLEAR(stage, preprocess_out, stage_preprocess_out_t)
FIELDS_CODEC(stage, train_in, stage_train_in_t, s_train_in)
FIELDS_CLEAR(stage, train_in, stage_train_in_t)
FIELDS_CODEC(stage, train_out, stage_train_out_t, s_train_out)
FIELDS_CODEC(stage, evaluate_in, stage_evaluate_in_t, s_evaluate_in)
FIELDS_CLEAR(stage, evaluate_in, stage_evaluate_in_t)
FIELDS_CODEC(stage, evaluate_out, stage_evaluate_out_t, s_evaluate_out)
FIELDS_CODEC(stage, load_model_in, stage_load_model_in_t, s_load_model_in)
FIELDS_CLEAR(stage, load_model_in, stage_load_model_in_t)
FIELDS_CODEC(stage, load_model_out, stage_load_model_out_t, s_load_model_out)
