/*  fields.c: see fields.h. */
#include "fields.h"
#include "mpcheck.h"

#include <assert.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT(base, off, T) ((T *)((char *)(base) + (off)))
#define CAT(base, off, T) ((const T *)((const char *)(base) + (off)))
#define FIELDS_TABLE_MAX 32     //  fields in one table (the `seen` array below)
#define FIELDS_DEPTH_MAX 16     //  nesting of any payload (ours go 3 deep)

/* --- encoding ------------------------------------------------------------ */

static void s_pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static int s_pack_fields(msgpack_packer *pk, const void *base, const fields_spec_t *f, size_t n);

static int s_pack_array_of(msgpack_packer *pk, const char *first, const fields_spec_t *f,
                           size_t count)
{
    msgpack_pack_array(pk, (uint32_t)count);
    for (size_t e = 0; e < count; e++) {
        int rc = s_pack_fields(pk, first + e * f->size, f->sub, f->n_sub);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_pack_value(msgpack_packer *pk, const void *base, const fields_spec_t *f)
{
    switch (f->kind) {
    case F_STR:
        //  strnlen: a struct filled by hand may use the whole array
        s_pack_str(pk, CAT(base, f->off, char), strnlen(CAT(base, f->off, char), f->size));
        return 0;
    case F_BIN: {
        const uint8_t *p = *CAT(base, f->off, uint8_t *);
        size_t len = *CAT(base, f->off2, size_t);
        if (!p && f->optional)
            return msgpack_pack_nil(pk), 0;
        if (len > UINT32_MAX || (!p && len))
            return MLOPS_EINVAL;
        msgpack_pack_bin(pk, len);
        msgpack_pack_bin_body(pk, p, len);
        return 0;
    }
    case F_I64: msgpack_pack_int64(pk, *CAT(base, f->off, int64_t)); return 0;
    case F_U64: msgpack_pack_uint64(pk, *CAT(base, f->off, uint64_t)); return 0;
    case F_F64: msgpack_pack_double(pk, *CAT(base, f->off, double)); return 0;
    case F_BOOL:
        if (*CAT(base, f->off, bool))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return 0;
    case F_ROWS: {
        const size_t *rows = *CAT(base, f->off, size_t *);
        size_t count = *CAT(base, f->off2, size_t);
        if (count > f->max || count > UINT32_MAX || (count && !rows))
            return MLOPS_EINVAL;
        msgpack_pack_array(pk, (uint32_t)count);
        for (size_t r = 0; r < count; r++)
            msgpack_pack_uint64(pk, rows[r]);
        return 0;
    }
    case F_MAP:
        return s_pack_fields(pk, CAT(base, f->off, char), f->sub, f->n_sub);
    case F_LIST: {
        size_t count = *CAT(base, f->off2, size_t);
        if (count > f->max)
            return MLOPS_EINVAL;
        return s_pack_array_of(pk, CAT(base, f->off, char), f, count);
    }
    case F_VEC: {
        size_t count = *CAT(base, f->off2, size_t);
        const char *first = *CAT(base, f->off, char *);
        if (count > f->max || (count && !first))
            return MLOPS_EINVAL;
        return s_pack_array_of(pk, first, f, count);
    }
    }
    return MLOPS_EINVAL;
}

static int s_pack_fields(msgpack_packer *pk, const void *base, const fields_spec_t *f, size_t n)
{
    msgpack_pack_map(pk, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        s_pack_str(pk, f[i].key, strlen(f[i].key));
        int rc = s_pack_value(pk, base, &f[i]);
        if (rc)
            return rc;
    }
    return 0;
}

int fields_encode(const void *base, const fields_spec_t *f, size_t n, uint8_t **out,
                  size_t *out_len)
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

void fields_free_owned(void *base, const fields_spec_t *f, size_t n)
{
    for (size_t i = 0; base && i < n; i++) {
        if (f[i].kind == F_ROWS) {
            free(*AT(base, f[i].off, size_t *));
            *AT(base, f[i].off, size_t *) = NULL;
            *AT(base, f[i].off2, size_t) = 0;
        } else if (f[i].kind == F_MAP) {
            fields_free_owned(AT(base, f[i].off, char), f[i].sub, f[i].n_sub);
        } else if (f[i].kind == F_LIST || f[i].kind == F_VEC) {
            char *first = f[i].kind == F_LIST ? AT(base, f[i].off, char) : *AT(base, f[i].off, char *);
            size_t count = *AT(base, f[i].off2, size_t);
            for (size_t e = 0; first && e < count; e++)
                fields_free_owned(first + e * f[i].size, f[i].sub, f[i].n_sub);
            if (f[i].kind == F_VEC) {
                free(first);
                *AT(base, f[i].off, char *) = NULL;
            }
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

static int s_decode_fields(const msgpack_object *obj, void *base, const fields_spec_t *f, size_t n,
                           const char *path, mlops_err_t *err);

static int s_decode_rows(const msgpack_object *v, void *base, const fields_spec_t *f,
                         const char *path, mlops_err_t *err)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected an array of row indexes", path, f->key);
    size_t count = v->via.array.size;
    if (count > f->max)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%s%s: %zu rows is over the limit", path, f->key, count);
    size_t *rows = malloc((count ? count : 1) * sizeof *rows);
    if (!rows)
        return mlops_err_set(err, MLOPS_ENOMEM, "%s%s: out of memory", path, f->key);
    for (size_t r = 0; r < count; r++) {
        const msgpack_object *e = &v->via.array.ptr[r];
        if (e->type != MSGPACK_OBJECT_POSITIVE_INTEGER || e->via.u64 >= f->max) {
            free(rows);
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s[%zu]: expected a row index", path, f->key, r);
        }
        rows[r] = (size_t)e->via.u64;
    }
    *AT(base, f->off, size_t *) = rows;
    *AT(base, f->off2, size_t) = count;
    return 0;
}

static int s_decode_array_of(const msgpack_object *v, char *first, const fields_spec_t *f,
                             const char *path, mlops_err_t *err)
{
    char sub_path[128];
    for (uint32_t e = 0; e < v->via.array.size; e++) {
        snprintf(sub_path, sizeof sub_path, "%s%s[%u].", path, f->key, e);
        int rc = s_decode_fields(&v->via.array.ptr[e], first + e * f->size, f->sub, f->n_sub,
                                 sub_path, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_decode_list(const msgpack_object *v, void *base, const fields_spec_t *f,
                         const char *path, mlops_err_t *err)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected an array", path, f->key);
    size_t count = v->via.array.size;
    if (count > f->max)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%s%s: %zu entries (at most %zu)", path, f->key,
                             count, f->max);
    char *first = AT(base, f->off, char);
    if (f->kind == F_VEC) {
        first = calloc(count ? count : 1, f->size);
        if (!first)
            return mlops_err_set(err, MLOPS_ENOMEM, "%s%s: out of memory", path, f->key);
        *AT(base, f->off, char *) = first;
    }
    //  set the count first so a failure half-way frees what was decoded
    *AT(base, f->off2, size_t) = count;
    return s_decode_array_of(v, first, f, path, err);
}

static int s_decode_value(const msgpack_object *v, void *base, const fields_spec_t *f,
                          const char *path, mlops_err_t *err)
{
    char sub_path[128];
    int64_t i;
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
        if (v->type == MSGPACK_OBJECT_NIL && f->optional)
            return 0;
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
    case F_F64:
        if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
            *AT(base, f->off, double) = v->via.f64;
        else if (s_get_int(v, &i) == 0)
            *AT(base, f->off, double) = (double)i;
        else
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected a number", path, f->key);
        return 0;
    case F_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return mlops_err_set(err, MLOPS_EPROTO, "%s%s: expected a bool", path, f->key);
        *AT(base, f->off, bool) = v->via.boolean;
        return 0;
    case F_ROWS:
        return s_decode_rows(v, base, f, path, err);
    case F_MAP:
        snprintf(sub_path, sizeof sub_path, "%s%s.", path, f->key);
        return s_decode_fields(v, AT(base, f->off, char), f->sub, f->n_sub, sub_path, err);
    case F_LIST:
    case F_VEC:
        return s_decode_list(v, base, f, path, err);
    }
    return mlops_err_set(err, MLOPS_EPROTO, "%s%s: unsupported field kind", path, f->key);
}

static int s_decode_fields(const msgpack_object *obj, void *base, const fields_spec_t *f, size_t n,
                           const char *path, mlops_err_t *err)
{
    assert(n <= FIELDS_TABLE_MAX);
    if (obj->type != MSGPACK_OBJECT_MAP)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: expected a map", *path ? path : "payload");
    bool seen[FIELDS_TABLE_MAX] = {false};
    for (uint32_t k = 0; k < obj->via.map.size; k++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[k];
        size_t i = 0;
        while (i < n && !s_key_is(&kv->key, f[i].key))
            i++;
        if (i == n) {
            char key[40] = "(not a string)";
            if (kv->key.type == MSGPACK_OBJECT_STR)
                snprintf(key, sizeof key, "%.*s",
                         (int)(kv->key.via.str.size > 32 ? 32 : kv->key.via.str.size),
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

int fields_decode(const uint8_t *data, size_t len, void *base, size_t base_size,
                  const fields_spec_t *f, size_t n, mlops_err_t *err)
{
    memset(base, 0, base_size);
    if (!data || len == 0)
        return mlops_err_set(err, MLOPS_EPROTO, "empty payload");
    //  bound what msgpack-c will allocate before it reads a single header
    size_t used = 0;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (mpcheck_object(data, len, FIELDS_DEPTH_MAX, &used, &sub) != 0)
        return mlops_err_set(err, MLOPS_EPROTO, "payload: %s", mlops_err_text(&sub, MLOPS_EPROTO));
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
        fields_free_owned(base, f, n);
        memset(base, 0, base_size);
    }
    return rc;
}
