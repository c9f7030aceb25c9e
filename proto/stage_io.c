/*  stage_io.c: msgpack codecs of the stage payloads (see stage_io.h).

    Each payload struct is described once by a table of fields (fields.h);
    one generic encoder and one generic decoder walk the tables, so the wire
    shape and the struct can only disagree in one place. The version is
    checked before the strict decode, so a payload of another version is
    refused as such, not as "unknown key table".
*/
#include "stage_io.h"

#include <string.h>

#include "fields.h"
#include "mpcheck.h"
#include "records_fields.h"

#define ROWS(T, f, n) FIELD_ROWS(T, f, n, STAGE_ROWS_MAX)
#define REF(T, f) FIELD_MAP(T, f, s_ref)
#define VER(T) FIELD_I64(T, v)
#define OREF(T, f) FIELD_OMAP(T, f, s_ref)   //  a ref added in version 2, absent = none

static const fields_spec_t s_ref[] = {
    FIELD_STR(stage_ref_t, hash),
    FIELD_NAT(stage_ref_t, size),
};
static const fields_spec_t s_extract_in[] = {
    VER(stage_extract_in_t),
    FIELD_STR(stage_extract_in_t, source),
    REF(stage_extract_in_t, dataset),
};
static const fields_spec_t s_extract_out[] = {
    VER(stage_extract_out_t),
    REF(stage_extract_out_t, table),
};
static const fields_spec_t s_preprocess_in[] = {
    VER(stage_preprocess_in_t),
    REF(stage_preprocess_in_t, table),
    FIELD_STR(stage_preprocess_in_t, target),
    FIELD_NUM(stage_preprocess_in_t, test_fraction),
    FIELD_U64(stage_preprocess_in_t, seed),
    FIELD_OSTR(stage_preprocess_in_t, task),
};
static const fields_spec_t s_preprocess_out[] = {
    VER(stage_preprocess_out_t),
    REF(stage_preprocess_out_t, recipe),
    REF(stage_preprocess_out_t, split),
    FIELD_STR(stage_preprocess_out_t, notes),
    FIELD_OSTR(stage_preprocess_out_t, task),
    OREF(stage_preprocess_out_t, matrix),
    OREF(stage_preprocess_out_t, test_table),
};
static const fields_spec_t s_split[] = {
    VER(stage_split_t),
    ROWS(stage_split_t, train_rows, n_train),
    ROWS(stage_split_t, test_rows, n_test),
};
static const fields_spec_t s_train_in[] = {
    VER(stage_train_in_t),
    REF(stage_train_in_t, table),
    REF(stage_train_in_t, recipe),
    REF(stage_train_in_t, split),
    FIELD_STR(stage_train_in_t, family),
    FIELD_STR(stage_train_in_t, params),
    FIELD_U64(stage_train_in_t, seed),
    FIELD_OSTR(stage_train_in_t, task),
    OREF(stage_train_in_t, matrix),
};
static const fields_spec_t s_train_out[] = {
    VER(stage_train_out_t),
    FIELD_STR(stage_train_out_t, family),
    FIELD_STR(stage_train_out_t, params),
    REF(stage_train_out_t, artifact),
    FIELD_MAP(stage_train_out_t, metrics, records_metrics_fields),
};
static const fields_spec_t s_candidate[] = {
    FIELD_STR(stage_candidate_t, key),
    FIELD_STR(stage_candidate_t, family),
    REF(stage_candidate_t, artifact),
};
static const fields_spec_t s_evaluate_in[] = {
    VER(stage_evaluate_in_t),
    REF(stage_evaluate_in_t, table),
    REF(stage_evaluate_in_t, split),
    FIELD_LIST(stage_evaluate_in_t, candidates, n_candidates, s_candidate),
    FIELD_I64(stage_evaluate_in_t, production_version),
    REF(stage_evaluate_in_t, production),
    FIELD_OSTR(stage_evaluate_in_t, task),
    OREF(stage_evaluate_in_t, test_table),
};
static const fields_spec_t s_scored[] = {
    FIELD_STR(stage_scored_t, key),
    FIELD_STR(stage_scored_t, family),
    FIELD_MAP(stage_scored_t, metrics, records_metrics_fields),
};
static const fields_spec_t s_evaluate_out[] = {
    VER(stage_evaluate_out_t),
    FIELD_LIST(stage_evaluate_out_t, scored, n_scored, s_scored),
    FIELD_I64(stage_evaluate_out_t, production_version),
    FIELD_MAP(stage_evaluate_out_t, production, records_metrics_fields),
};
static const fields_spec_t s_load_model_in[] = {
    VER(stage_load_model_in_t),
    FIELD_I64(stage_load_model_in_t, version),
    REF(stage_load_model_in_t, artifact),
    FIELD_MAP(stage_load_model_in_t, expected, records_metrics_fields),
    REF(stage_load_model_in_t, table),
    REF(stage_load_model_in_t, split),
    FIELD_I64(stage_load_model_in_t, production_version),
    REF(stage_load_model_in_t, production),
    FIELD_OSTR(stage_load_model_in_t, task),
    OREF(stage_load_model_in_t, test_table),
};
static const fields_spec_t s_load_model_out[] = {
    VER(stage_load_model_out_t),
    FIELD_I64(stage_load_model_out_t, version),
    FIELD_I64(stage_load_model_out_t, n_predicted),
    FIELD_MAP(stage_load_model_out_t, metrics, records_metrics_fields),
    FIELD_STR(stage_load_model_out_t, schema),
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

/* --- the version, checked before the payload ----------------------------- */

//  Reads the int at data (any msgpack int encoding) into *v; the bytes it
//  took, or 0 when it is no int.
static size_t s_read_int(const uint8_t *d, size_t len, int64_t *v)
{
    if (len < 1)
        return 0;
    if (d[0] <= 0x7f || d[0] >= 0xe0) {   //  positive and negative fixint
        *v = d[0] <= 0x7f ? d[0] : (int64_t)(int8_t)d[0];
        return 1;
    }
    bool is_uint = d[0] >= 0xcc && d[0] <= 0xcf, is_int = d[0] >= 0xd0 && d[0] <= 0xd3;
    size_t w = (size_t)1 << (d[0] & 3);
    if ((!is_uint && !is_int) || len < 1 + w)
        return 0;
    uint64_t u = 0;
    for (size_t i = 0; i < w; i++)
        u = u << 8 | d[1 + i];
    if (is_int && w < 8 && (u >> (8 * w - 1)))   //  sign-extend
        u |= ~(uint64_t)0 << (8 * w);
    *v = (int64_t)u;
    return 1 + w;
}

//  The payload's `v` (version 1 when it has none: the key came with 2).
//  Only the top map's headers are read; anything malformed is left to the
//  strict decoder (*v = STAGE_PAYLOAD_VERSION).
static void s_peek_version(const uint8_t *d, size_t len, int64_t *v)
{
    *v = STAGE_PAYLOAD_VERSION;
    size_t pos = 1, n;
    if (len < 1)
        return;
    if ((d[0] & 0xf0) == 0x80)
        n = d[0] & 0x0f;
    else if (d[0] == 0xde && len >= 3)
        n = (size_t)d[1] << 8 | d[2], pos = 3;
    else
        return;
    for (size_t i = 0; i < n; i++) {
        size_t used;
        mlops_err_t ignored;
        if (pos + 2 <= len && d[pos] == 0xa1 && d[pos + 1] == 'v') {
            if (!s_read_int(d + pos + 2, len - pos - 2, v))
                *v = STAGE_PAYLOAD_VERSION;   //  not an int: the decoder names it
            return;
        }
        for (int kv = 0; kv < 2; kv++, pos += used)
            if (mpcheck_object(d + pos, len - pos, 8, &used, &ignored) != 0)
                return;
    }
    *v = 1;
}

static int s_decode(const fields_table_t *t, const uint8_t *data, size_t len, void *p,
                    mlops_err_t *err)
{
    int64_t v;
    s_peek_version(data, len, &v);
    if (v != STAGE_PAYLOAD_VERSION) {
        memset(p, 0, t->size);
        return mlops_err_set(err, MLOPS_EVERSION,
                             "payload: stage payload version %lld%s; this peer speaks %d "
                             "(data by reference, PROTOCOL.md section 14)",
                             (long long)v, v == 1 ? " (no \"v\" key)" : "", STAGE_PAYLOAD_VERSION);
    }
    return fields_decode(t, data, len, p, err);
}

//  Every payload struct starts with its `v`: the encoder writes ours.
#define S_CODEC(name, T, table)                                                          \
    static const fields_table_t s_##name##_table = FIELDS_TABLE("", T, table);          \
    int stage_##name##_encode(const T *p, uint8_t **out, size_t *out_len)               \
    {                                                                                   \
        T copy = *p;                                                                    \
        copy.v = STAGE_PAYLOAD_VERSION;                                                 \
        return fields_encode(&s_##name##_table, &copy, out, out_len);                   \
    }                                                                                   \
    int stage_##name##_decode(const uint8_t *data, size_t len, T *p, mlops_err_t *err)  \
    {                                                                                   \
        return s_decode(&s_##name##_table, data, len, p, err);                          \
    }

/* --- the payloads -------------------------------------------------------- */

S_CODEC(extract_in, stage_extract_in_t, s_extract_in)
S_CODEC(extract_out, stage_extract_out_t, s_extract_out)
S_CODEC(preprocess_in, stage_preprocess_in_t, s_preprocess_in)
S_CODEC(preprocess_out, stage_preprocess_out_t, s_preprocess_out)
S_CODEC(split, stage_split_t, s_split)
FIELDS_CLEAR(stage, split, stage_split_t)
S_CODEC(train_in, stage_train_in_t, s_train_in)
S_CODEC(train_out, stage_train_out_t, s_train_out)
S_CODEC(evaluate_in, stage_evaluate_in_t, s_evaluate_in)
S_CODEC(evaluate_out, stage_evaluate_out_t, s_evaluate_out)
S_CODEC(load_model_in, stage_load_model_in_t, s_load_model_in)
S_CODEC(load_model_out, stage_load_model_out_t, s_load_model_out)
