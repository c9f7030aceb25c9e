/*  stage_io.c: msgpack codecs of the stage payloads (see stage_io.h).

    Each payload struct is described once by a table of fields (key, kind,
    offsets); one generic encoder and one generic decoder walk the tables, so
    the wire shape and the struct can only disagree in one place. Nested maps
    (metrics) and lists of maps (candidates) are fields with a sub-table.
*/
#include "stage_io.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    F_STR,      //  char array of `size` bytes
    F_BIN,      //  const uint8_t * at off, size_t length at off2; nil = NULL
    F_I64,      //  int64_t
    F_U64,      //  uint64_t
    F_F64,      //  double (integers accepted on decode)
    F_ROWS,     //  size_t * at off, size_t count at off2; owned when decoded
    F_MAP,      //  nested struct at off, described by sub
    F_LIST,     //  array of `max` structs of `size` bytes at off, count at off2
} s_kind_t;

typedef struct s_field s_field_t;
struct s_field {
    const char *key;          //  map key on the wire
    s_kind_t kind;            //  how the value is stored
    size_t off;               //  offset of the value in the struct
    size_t off2;              //  offset of the length / count, when there is one
    size_t size;              //  F_STR array size, F_LIST element size
    size_t max;               //  F_LIST capacity
    const s_field_t *sub;     //  F_MAP / F_LIST element description
    size_t n_sub;             //  entries in sub
    bool optional;            //  may be absent or nil (F_BIN only)
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define STR(T, k, f) {#k, F_STR, offsetof(T, f), 0, sizeof(((T *)0)->f), 0, NULL, 0, false}
#define BIN(T, k, f, l) {#k, F_BIN, offsetof(T, f), offsetof(T, l), 0, 0, NULL, 0, false}
#define OBIN(T, k, f, l) {#k, F_BIN, offsetof(T, f), offsetof(T, l), 0, 0, NULL, 0, true}
#define I64(T, k, f) {#k, F_I64, offsetof(T, f), 0, 0, 0, NULL, 0, false}
#define U64(T, k, f) {#k, F_U64, offsetof(T, f), 0, 0, 0, NULL, 0, false}
#define F64(T, k, f) {#k, F_F64, offsetof(T, f), 0, 0, 0, NULL, 0, false}
#define ROWS(T, k, f, n) {#k, F_ROWS, offsetof(T, f), offsetof(T, n), 0, 0, NULL, 0, false}
#define MAP(T, k, f, sub) {#k, F_MAP, offsetof(T, f), 0, 0, 0, sub, N_OF(sub), false}
#define LIST(T, k, f, n, ET, sub)                                                   \
    {#k, F_LIST, offsetof(T, f), offsetof(T, n), sizeof(ET), N_OF(((T *)0)->f), sub, \
     N_OF(sub), false}

static const s_field_t s_metrics[] = {
    F64(metrics_t, accuracy, accuracy), F64(metrics_t, precision, precision),
    F64(metrics_t, recall, recall),     F64(metrics_t, f1, f1),
    F64(metrics_t, auc, auc),           F64(metrics_t, log_loss, log_loss),
    I64(metrics_t, tp, tp),             I64(metrics_t, fp, fp),
    I64(metrics_t, tn, tn),             I64(metrics_t, fn, fn),
};

static const s_field_t s_extract_in[] = {
    STR(stage_extract_in_t, source, source),
    OBIN(stage_extract_in_t, table, table, table_len),
};
static const s_field_t s_extract_out[] = {
    STR(stage_extract_out_t, dataset_hash, dataset_hash),
    I64(stage_extract_out_t, rows, rows),
    I64(stage_extract_out_t, cols, cols),
    BIN(stage_extract_out_t, table, table, table_len),
};
static const s_field_t s_preprocess_in[] = {
    BIN(stage_preprocess_in_t, table, table, table_len),
    STR(stage_preprocess_in_t, target, target),
    F64(stage_preprocess_in_t, test_fraction, test_fraction),
    U64(stage_preprocess_in_t, seed, seed),
};
static const s_field_t s_preprocess_out[] = {
    BIN(stage_preprocess_out_t, recipe, recipe, recipe_len),
    ROWS(stage_preprocess_out_t, train_rows, train_rows, n_train),
    ROWS(stage_preprocess_out_t, test_rows, test_rows, n_test),
    STR(stage_preprocess_out_t, notes, notes),
};
static const s_field_t s_train_in[] = {
    BIN(stage_train_in_t, table, table, table_len),
    BIN(stage_train_in_t, recipe, recipe, recipe_len),
    ROWS(stage_train_in_t, train_rows, train_rows, n_train),
    ROWS(stage_train_in_t, test_rows, test_rows, n_test),
    STR(stage_train_in_t, family, family),
    STR(stage_train_in_t, params, params),
    U64(stage_train_in_t, seed, seed),
};
static const s_field_t s_train_out[] = {
    STR(stage_train_out_t, family, family),
    STR(stage_train_out_t, params, params),
    BIN(stage_train_out_t, artifact, artifact, artifact_len),
    STR(stage_train_out_t, sha256, sha256),
    MAP(stage_train_out_t, metrics, metrics, s_metrics),
};
static const s_field_t s_candidate[] = {
    STR(stage_candidate_t, key, key),
    STR(stage_candidate_t, family, family),
    BIN(stage_candidate_t, artifact, artifact, artifact_len),
};
static const s_field_t s_evaluate_in[] = {
    BIN(stage_evaluate_in_t, table, table, table_len),
    ROWS(stage_evaluate_in_t, test_rows, test_rows, n_test),
    LIST(stage_evaluate_in_t, candidates, candidates, n_candidates, stage_candidate_t, s_candidate),
    I64(stage_evaluate_in_t, production_version, production_version),
    OBIN(stage_evaluate_in_t, production, production, production_len),
};
static const s_field_t s_scored[] = {
    STR(stage_scored_t, key, key),
    STR(stage_scored_t, family, family),
    MAP(stage_scored_t, metrics, metrics, s_metrics),
};
static const s_field_t s_evaluate_out[] = {
    LIST(stage_evaluate_out_t, scored, scored, n_scored, stage_scored_t, s_scored),
    I64(stage_evaluate_out_t, production_version, production_version),
    MAP(stage_evaluate_out_t, production, production, s_metrics),
};
static const s_field_t s_load_model_in[] = {
    I64(stage_load_model_in_t, version, version),
    BIN(stage_load_model_in_t, artifact, artifact, artifact_len),
    STR(stage_load_model_in_t, sha256, sha256),
    MAP(stage_load_model_in_t, expected, expected, s_metrics),
    BIN(stage_load_model_in_t, table, table, table_len),
    ROWS(stage_load_model_in_t, test_rows, test_rows, n_test),
};
static const s_field_t s_load_model_out[] = {
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

/* --- encoding ------------------------------------------------------------ */

#define AT(base, off, T) ((T *)((char *)(base) + (off)))
#define CAT(base, off, T) ((const T *)((const char *)(base) + (off)))

static void s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static int s_pack_fields(msgpack_packer *pk, const void *base, const s_field_t *f, size_t n)
{
    msgpack_pack_map(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        s_pack_str(pk, f[i].key);
        switch (f[i].kind) {
        case F_STR: {
            //  the arrays are always NUL-terminated by our decoders; strnlen guards ours
            size_t len = strnlen(CAT(base, f[i].off, char), f[i].size);
            msgpack_pack_str(pk, len);
            msgpack_pack_str_body(pk, CAT(base, f[i].off, char), len);
            break;
        }
        case F_BIN: {
            const uint8_t *p = *CAT(base, f[i].off, const uint8_t *);
            size_t len = *CAT(base, f[i].off2, size_t);
            if (!p && f[i].optional) {
                msgpack_pack_nil(pk);
                break;
            }
            if (len > UINT32_MAX)
                return MLOPS_EINVAL;
            msgpack_pack_bin(pk, len);
            msgpack_pack_bin_body(pk, p, len);
            break;
        }
        case F_I64: msgpack_pack_int64(pk, *CAT(base, f[i].off, int64_t)); break;
        case F_U64: msgpack_pack_uint64(pk, *CAT(base, f[i].off, uint64_t)); break;
        case F_F64: msgpack_pack_double(pk, *CAT(base, f[i].off, double)); break;
        case F_ROWS: {
            const size_t *rows = *CAT(base, f[i].off, size_t *);
            size_t count = *CAT(base, f[i].off2, size_t);
            if (count > STAGE_ROWS_MAX || (count && !rows))
                return MLOPS_EINVAL;
            msgpack_pack_array(pk, (uint32_t)count);
            for (size_t r = 0; r < count; r++)
                msgpack_pack_uint64(pk, rows[r]);
            break;
        }
        case F_MAP: {
            int rc = s_pack_fields(pk, CAT(base, f[i].off, char), f[i].sub, f[i].n_sub);
            if (rc)
                return rc;
            break;
        }
        case F_LIST: {
            size_t count = *CAT(base, f[i].off2, size_t);
            if (count > f[i].max)
                return MLOPS_EINVAL;
            msgpack_pack_array(pk, (uint32_t)count);
            for (size_t e = 0; e < count; e++) {
                int rc = s_pack_fields(pk, CAT(base, f[i].off + e * f[i].size, char), f[i].sub,
                                       f[i].n_sub);
                if (rc)
                    return rc;
            }
            break;
        }
        }
    }
    return 0;
}

static int s_encode(const void *base, const s_field_t *f, size_t n, uint8_t **out, size_t *out_len)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    int rc = s_pack_fields(&pk, base, f, n);
    if (rc == 0 && !sbuf.data)
        rc = MLOPS_ENOMEM;
    if (rc) {
        msgpack_sbuffer_destroy(&sbuf);
        return rc;
    }
    *out = (uint8_t *)sbuf.data;    //  sbuffer memory is malloc'd: hand it over
    *out_len = sbuf.size;
    return 0;
}

/* --- decoding ------------------------------------------------------------ */

static void s_free_owned(void *base, const s_field_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].kind == F_ROWS) {
            free(*AT(base, f[i].off, size_t *));
            *AT(base, f[i].off, size_t *) = NULL;
            *AT(base, f[i].off2, size_t) = 0;
        }
    }
}

static bool s_key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

static int s_get_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = o->via.i64;
    else
        return -1;
    return 0;
}

static int s_decode_fields(const msgpack_object *obj, void *base, const s_field_t *f, size_t n,
                           const char *path, mlops_err_t *err);

static int s_decode_rows(const msgpack_object *v, void *base, const s_field_t *f, const char *path,
                         mlops_err_t *err)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected an array of row indexes", path, f->key);
    size_t count = v->via.array.size;
    if (count > STAGE_ROWS_MAX)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%s%s: %zu rows is over the limit", path, f->key, count);
    size_t *rows = malloc((count ? count : 1) * sizeof *rows);
    if (!rows)
        return mlops_err_set(err, MLOPS_ENOMEM, "%s%s: out of memory", path, f->key);
    for (size_t r = 0; r < count; r++) {
        const msgpack_object *e = &v->via.array.ptr[r];
        if (e->type != MSGPACK_OBJECT_POSITIVE_INTEGER || e->via.u64 >= STAGE_ROWS_MAX) {
            free(rows);
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s[%zu]: expected a row index", path, f->key, r);
        }
        rows[r] = (size_t)e->via.u64;
    }
    *AT(base, f->off, size_t *) = rows;
    *AT(base, f->off2, size_t) = count;
    return 0;
}

static int s_decode_value(const msgpack_object *v, void *base, const s_field_t *f, const char *path,
                          mlops_err_t *err)
{
    char sub_path[128];
    switch (f->kind) {
    case F_STR:
        if (v->type != MSGPACK_OBJECT_STR)
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected a string", path, f->key);
        if (v->via.str.size >= f->size)
            return mlops_err_set(err, MLOPS_ETOOBIG, "%s%s: string of %u bytes is over %zu", path,
                                 f->key, v->via.str.size, f->size - 1);
        if (memchr(v->via.str.ptr, 0, v->via.str.size))
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: string holds a NUL byte", path, f->key);
        memcpy(AT(base, f->off, char), v->via.str.ptr, v->via.str.size);
        AT(base, f->off, char)[v->via.str.size] = '\0';
        return 0;
    case F_BIN:
        if (v->type == MSGPACK_OBJECT_NIL && f->optional) {
            *AT(base, f->off, const uint8_t *) = NULL;
            *AT(base, f->off2, size_t) = 0;
            return 0;
        }
        if (v->type != MSGPACK_OBJECT_BIN)
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected bin%s", path, f->key,
                                 f->optional ? " or nil" : "");
        *AT(base, f->off, const uint8_t *) = (const uint8_t *)v->via.bin.ptr;
        *AT(base, f->off2, size_t) = v->via.bin.size;
        return 0;
    case F_I64:
        if (s_get_int(v, AT(base, f->off, int64_t)))
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected an integer", path, f->key);
        return 0;
    case F_U64:
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected an unsigned integer", path, f->key);
        *AT(base, f->off, uint64_t) = v->via.u64;
        return 0;
    case F_F64: {
        int64_t i;
        if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
            *AT(base, f->off, double) = v->via.f64;
        else if (s_get_int(v, &i) == 0)
            *AT(base, f->off, double) = (double)i;
        else
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected a number", path, f->key);
        return 0;
    }
    case F_ROWS:
        return s_decode_rows(v, base, f, path, err);
    case F_MAP:
        snprintf(sub_path, sizeof sub_path, "%s%s.", path, f->key);
        return s_decode_fields(v, AT(base, f->off, char), f->sub, f->n_sub, sub_path, err);
    case F_LIST:
        if (v->type != MSGPACK_OBJECT_ARRAY)
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected an array", path, f->key);
        if (v->via.array.size > f->max || v->via.array.size == 0)
            return mlops_err_set(err, MLOPS_ETOOBIG, "%s%s: %u entries (expected 1 to %zu)", path,
                                 f->key, v->via.array.size, f->max);
        for (uint32_t e = 0; e < v->via.array.size; e++) {
            snprintf(sub_path, sizeof sub_path, "%s%s[%u].", path, f->key, e);
            int rc = s_decode_fields(&v->via.array.ptr[e], AT(base, f->off + e * f->size, char),
                                     f->sub, f->n_sub, sub_path, err);
            if (rc)
                return rc;
        }
        *AT(base, f->off2, size_t) = v->via.array.size;
        return 0;
    }
    return mlops_err_set(err, MLOPS_EPROTO, "%s%s: unsupported field kind", path, f->key);
}

static int s_decode_fields(const msgpack_object *obj, void *base, const s_field_t *f, size_t n,
                           const char *path, mlops_err_t *err)
{
    if (obj->type != MSGPACK_OBJECT_MAP)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: expected a map", *path ? path : "payload");
    bool seen[32] = {false};  //  every table here has fewer than 32 fields
    for (uint32_t k = 0; k < obj->via.map.size; k++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[k];
        size_t i = 0;
        while (i < n && !s_key_is(&kv->key, f[i].key))
            i++;
        if (i == n) {
            char key[40] = "?";
            if (kv->key.type == MSGPACK_OBJECT_STR)
                snprintf(key, sizeof key, "%.*s", (int)(kv->key.via.str.size > 32 ? 32 : kv->key.via.str.size),
                         kv->key.via.str.ptr);
            return mlops_err_set(err, MLOPS_EPROTO, "%sunknown key '%s'", path, key);
        }
        if (seen[i])
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: key given twice", path, f[i].key);
        seen[i] = true;
        int rc = s_decode_value(&kv->val, base, &f[i], path, err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < n; i++)
        if (!seen[i] && !f[i].optional)
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: missing", path, f[i].key);
    return 0;
}

static int s_decode(const uint8_t *data, size_t len, void *base, size_t base_size,
                    const s_field_t *f, size_t n, mlops_err_t *err)
{
    memset(base, 0, base_size);
    if (!data || len == 0)
        return mlops_err_set(err, MLOPS_EPROTO, "empty payload");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&up, (const char *)data, len, &off);
    int rc;
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "payload: out of memory while decoding");
    else if (ret != MSGPACK_UNPACK_SUCCESS)
        rc = mlops_err_set(err, MLOPS_EPROTO, "payload: not valid msgpack (%zu bytes)", len);
    else if (off != len)
        rc = mlops_err_set(err, MLOPS_EPROTO, "payload: %zu trailing bytes at offset %zu", len - off, off);
    else
        rc = s_decode_fields(&up.data, base, f, n, "", err);
    msgpack_unpacked_destroy(&up);
    if (rc) {
        s_free_owned(base, f, n);
        memset(base, 0, base_size);
    }
    return rc;
}

/* --- the payloads -------------------------------------------------------- */

#define CODEC(name, T, table)                                                                 \
    int stage_##name##_encode(const T *p, uint8_t **out, size_t *out_len)                    \
    {                                                                                         \
        return s_encode(p, table, N_OF(table), out, out_len);                                 \
    }                                                                                         \
    int stage_##name##_decode(const uint8_t *data, size_t len, T *p, mlops_err_t *err)       \
    {                                                                                         \
        return s_decode(data, len, p, sizeof *p, table, N_OF(table), err);                   \
    }
#define CLEAR(name, T, table)                                                                 \
    void stage_##name##_clear(T *p)                                                           \
    {                                                                                         \
        if (p)                                                                                \
            s_free_owned(p, table, N_OF(table));                                              \
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
