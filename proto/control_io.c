/*  control_io.c: see control_io.h. Flat answers go through the field tables
    of fields.h; RUNS and MODELS splice the records' own encoding (records.h)
    into their arrays, so a client reads a run exactly as the store keeps it. */
#include "control_io.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "mpcheck.h"

#define CONTROL_DEPTH_MAX 16    //  a run record nests 3 deep here

static const fields_spec_t s_retrain[] = {
    FIELD_I64(control_retrain_t, run_id, run_id),
    FIELD_BOOL(control_retrain_t, coalesced, coalesced),
    FIELD_STR(control_retrain_t, state, state),
};
static const fields_spec_t s_worker[] = {
    FIELD_STR(control_worker_t, stage, stage),
    FIELD_STR(control_worker_t, host, host),
    FIELD_I64(control_worker_t, pid, pid),
    FIELD_STR(control_worker_t, state, state),
    FIELD_STR(control_worker_t, task_id, task_id),
    FIELD_I64(control_worker_t, last_seen_ms, last_seen_ms),
};
static const fields_spec_t s_infer[] = {
    FIELD_STR(control_infer_t, host, host),
    FIELD_I64(control_infer_t, pid, pid),
    FIELD_I64(control_infer_t, model_version, model_version),
    FIELD_I64(control_infer_t, last_seen_ms, last_seen_ms),
};
//  `serving` came after MLOPS/1's first STATUS: optional, so this decoder
//  still reads an older broker's answer
#define S_OPTIONAL_VEC(T, k, f, n, ET, max, sub) \
    {#k, F_VEC, offsetof(T, f), offsetof(T, n), sizeof(ET), max, sub, FIELDS_N(sub), true}
static const fields_spec_t s_status[] = {
    FIELD_I64(control_status_t, active_run, active_run),
    FIELD_I64(control_status_t, queued, queued),
    FIELD_I64(control_status_t, next_schedule_ms, next_schedule_ms),
    FIELD_I64(control_status_t, production_version, production_version),
    FIELD_VEC(control_status_t, workers, workers, n_workers, control_worker_t, CONTROL_WORKERS_MAX,
              s_worker),
    FIELD_STR(control_status_t, waiting, waiting),
    S_OPTIONAL_VEC(control_status_t, serving, serving, n_serving, control_infer_t, CONTROL_WORKERS_MAX,
                   s_infer),
};
static const fields_spec_t s_promote[] = {
    FIELD_I64(control_promote_t, version, version),
    FIELD_I64(control_promote_t, previous, previous),
};
static const fields_spec_t s_model[] = {
    FIELD_I64(control_model_t, version, version),
    FIELD_STR(control_model_t, sha256, sha256),
    FIELD_STR(control_model_t, family, family),
    FIELD_BIN(control_model_t, artifact, artifact, artifact_len),
};
static const fields_spec_t s_serving[] = {
    FIELD_I64(control_serving_t, production_version, production_version),
};

#define FLAT(name, T, table)                                                               \
    int control_##name##_encode(const T *p, uint8_t **out, size_t *out_len)               \
    {                                                                                      \
        return fields_encode(p, table, FIELDS_N(table), out, out_len);                     \
    }                                                                                      \
    int control_##name##_decode(const uint8_t *data, size_t len, T *p, mlops_err_t *err)  \
    {                                                                                      \
        return fields_decode(data, len, p, sizeof *p, table, FIELDS_N(table), err);        \
    }

FLAT(retrain, control_retrain_t, s_retrain)
FLAT(status, control_status_t, s_status)
FLAT(promote, control_promote_t, s_promote)
FLAT(model, control_model_t, s_model)
FLAT(serving, control_serving_t, s_serving)

void control_status_clear(control_status_t *p)
{
    fields_free_owned(p, s_status, FIELDS_N(s_status));
}

/* --- lists of records ---------------------------------------------------- */

typedef int (*s_record_encode_fn)(const void *record, uint8_t **out, size_t *out_len);
typedef int (*s_record_decode_fn)(const uint8_t *data, size_t len, void *record, mlops_err_t *err);

static int s_run_encode_fn(const void *r, uint8_t **out, size_t *out_len)
{
    return run_encode(r, out, out_len);
}
static int s_run_decode_fn(const uint8_t *d, size_t len, void *r, mlops_err_t *err)
{
    return run_decode(d, len, r, err);
}
static int s_version_encode_fn(const void *v, uint8_t **out, size_t *out_len)
{
    return version_encode(v, out, out_len);
}
static int s_version_decode_fn(const uint8_t *d, size_t len, void *v, mlops_err_t *err)
{
    return version_decode(d, len, v, err);
}

//  Writes {[head_key: head,] key: [record...]}.
static int s_list_encode(const char *head_key, int64_t head, const char *key, const char *records,
                         size_t n, size_t size, s_record_encode_fn encode, uint8_t **out,
                         size_t *out_len)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, head_key ? 2 : 1);
    if (head_key) {
        msgpack_pack_str_with_body(&pk, head_key, strlen(head_key));
        msgpack_pack_int64(&pk, head);
    }
    msgpack_pack_str_with_body(&pk, key, strlen(key));
    msgpack_pack_array(&pk, (uint32_t)n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = encode(records + i * size, &bytes, &len);
        if (rc == 0)
            msgpack_sbuffer_write(&sbuf, (const char *)bytes, len);   //  spliced as is
        free(bytes);
    }
    if (rc == 0 && !sbuf.data)
        rc = MLOPS_ENOMEM;
    if (rc) {
        msgpack_sbuffer_destroy(&sbuf);
        return rc;
    }
    *out = (uint8_t *)sbuf.data;
    *out_len = sbuf.size;
    return 0;
}

static int s_list_decode_records(const msgpack_object *arr, const char *key, char **records,
                                 size_t *n, size_t size, s_record_decode_fn decode, void (*clear)(void *),
                                 mlops_err_t *err)
{
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: expected an array", key);
    if (arr->via.array.size > CONTROL_LIST_MAX)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%s: %u entries is over the limit", key,
                             arr->via.array.size);
    *records = calloc(arr->via.array.size ? arr->via.array.size : 1, size);
    if (!*records)
        return mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory", key);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    int rc = 0;
    for (uint32_t i = 0; i < arr->via.array.size && rc == 0; i++) {
        msgpack_sbuffer_clear(&sbuf);
        msgpack_pack_object(&pk, arr->via.array.ptr[i]);    //  back to bytes for the record codec
        mlops_err_t sub;
        mlops_err_clear(&sub);
        rc = decode((const uint8_t *)sbuf.data, sbuf.size, *records + i * size, &sub);
        if (rc)
            mlops_err_set(err, rc, "%s[%u]: %s", key, i, mlops_err_text(&sub, rc));
        else
            *n = i + 1;
    }
    msgpack_sbuffer_destroy(&sbuf);
    if (rc) {
        for (size_t i = 0; clear && i < *n; i++)
            clear(*records + i * size);
        free(*records);
        *records = NULL;
        *n = 0;
    }
    return rc;
}

static void s_run_clear_fn(void *r)
{
    run_clear(r);
}

//  Decodes {[head_key: int,] key: [...]} strictly.
static int s_list_decode(const uint8_t *data, size_t len, const char *head_key, int64_t *head,
                         const char *key, char **records, size_t *n, size_t size,
                         s_record_decode_fn decode, void (*clear)(void *), mlops_err_t *err)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0, used = 0;
    int rc = 0;
    bool seen_head = false, seen_list = false;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    //  bound what msgpack-c will allocate before it reads a single header
    if (!data || mpcheck_object(data, len, CONTROL_DEPTH_MAX, &used, &sub) != 0 ||
        msgpack_unpack_next(&up, (const char *)data, len, &off) != MSGPACK_UNPACK_SUCCESS)
        rc = mlops_err_set(err, MLOPS_EPROTO, "reply data: not valid msgpack (%zu bytes)", len);
    else if (off != len)
        rc = mlops_err_set(err, MLOPS_EPROTO, "reply data: %zu trailing bytes", len - off);
    else if (up.data.type != MSGPACK_OBJECT_MAP)
        rc = mlops_err_set(err, MLOPS_EPROTO, "reply data: expected a map");
    for (uint32_t i = 0; rc == 0 && i < up.data.via.map.size; i++) {
        const msgpack_object_kv *kv = &up.data.via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            rc = mlops_err_set(err, MLOPS_EPROTO, "reply data: key %u is not a string", i);
        else if (head_key && !seen_head && kv->key.via.str.size == strlen(head_key) &&
                 memcmp(kv->key.via.str.ptr, head_key, kv->key.via.str.size) == 0) {
            seen_head = true;
            if (kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER && kv->val.via.u64 <= INT64_MAX)
                *head = (int64_t)kv->val.via.u64;
            else
                rc = mlops_err_set(err, MLOPS_EPROTO, "%s: expected an integer >= 0", head_key);
        } else if (!seen_list && kv->key.via.str.size == strlen(key) &&
                   memcmp(kv->key.via.str.ptr, key, kv->key.via.str.size) == 0) {
            seen_list = true;
            rc = s_list_decode_records(&kv->val, key, records, n, size, decode, clear, err);
        } else
            rc = mlops_err_set(err, MLOPS_EPROTO, "reply data: unknown or repeated key '%.*s'",
                               (int)(kv->key.via.str.size > 32 ? 32 : kv->key.via.str.size),
                               kv->key.via.str.ptr);
    }
    if (rc == 0 && (!seen_list || (head_key && !seen_head)))
        rc = mlops_err_set(err, MLOPS_EPROTO, "reply data: %s missing", !seen_list ? key : head_key);
    msgpack_unpacked_destroy(&up);
    if (rc && *records) {
        for (size_t i = 0; clear && i < *n; i++)
            clear(*records + i * size);
        free(*records);
        *records = NULL;
        *n = 0;
    }
    return rc;
}

int control_runs_encode(const control_runs_t *p, uint8_t **out, size_t *out_len)
{
    return s_list_encode(NULL, 0, "runs", (const char *)p->runs, p->n_runs, sizeof(run_t),
                         s_run_encode_fn, out, out_len);
}

int control_runs_decode(const uint8_t *data, size_t len, control_runs_t *p, mlops_err_t *err)
{
    memset(p, 0, sizeof *p);
    return s_list_decode(data, len, NULL, NULL, "runs", (char **)&p->runs, &p->n_runs, sizeof(run_t),
                         s_run_decode_fn, s_run_clear_fn, err);
}

void control_runs_clear(control_runs_t *p)
{
    for (size_t i = 0; p && i < p->n_runs; i++)
        run_clear(&p->runs[i]);
    if (p) {
        free(p->runs);
        memset(p, 0, sizeof *p);
    }
}

int control_models_encode(const control_models_t *p, uint8_t **out, size_t *out_len)
{
    return s_list_encode("production", p->production, "versions", (const char *)p->versions,
                         p->n_versions, sizeof(version_t), s_version_encode_fn, out, out_len);
}

int control_models_decode(const uint8_t *data, size_t len, control_models_t *p, mlops_err_t *err)
{
    memset(p, 0, sizeof *p);
    return s_list_decode(data, len, "production", &p->production, "versions", (char **)&p->versions,
                         &p->n_versions, sizeof(version_t), s_version_decode_fn, NULL, err);
}

void control_models_clear(control_models_t *p)
{
    if (p) {
        free(p->versions);
        memset(p, 0, sizeof *p);
    }
}
