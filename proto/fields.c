/*  fields.c: see fields.h. One encoder and one decoder for every table.

    Before msgpack-c builds the object tree, mpcheck walks the bytes once and
    checks every array and map count against the bytes left and the nesting
    against what the table needs, so a 5-byte input claiming 4 billion
    elements fails with a message instead of asking msgpack-c's zone for
    gigabytes.
*/
#include "fields.h"
#include "log.h"
#include "mpcheck.h"

#include <assert.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AT(base, off, T) ((T *)((char *)(base) + (off)))
#define CAT(base, off, T) ((const T *)((const char *)(base) + (off)))
#define FIELDS_TABLE_MAX 32     //  fields in one table (the `seen` mask is a uint32_t)
#define FIELDS_PATH_MAX 128     //  bytes of a key path in a message

//  True when a scalar field's size matches its kind (a table typo is our bug).
static bool s_size_ok(const fields_spec_t *f)
{
    switch (f->kind) {
    case F_I64:
    case F_NAT: return f->size == sizeof(int64_t);
    case F_I32: return f->size == sizeof(int32_t);
    case F_U64: return f->size == sizeof(uint64_t);
    case F_F64:
    case F_NUM: return f->size == sizeof(double);
    case F_BOOL: return f->size == sizeof(bool);
    case F_ENUM: return f->size == sizeof(int) && f->max > 0;
    case F_STR: return f->size > 0;
    default: return true;
    }
}

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
    assert(s_size_ok(f));
    switch (f->kind) {
    case F_STR:
        //  strnlen: a struct filled by hand may use the whole array
        s_pack_str(pk, CAT(base, f->off, char), strnlen(CAT(base, f->off, char), f->size - 1));
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
    case F_I64:
    case F_NAT: msgpack_pack_int64(pk, *CAT(base, f->off, int64_t)); return 0;
    case F_I32: msgpack_pack_int32(pk, *CAT(base, f->off, int32_t)); return 0;
    case F_U64: msgpack_pack_uint64(pk, *CAT(base, f->off, uint64_t)); return 0;
    case F_F64:
    case F_NUM: msgpack_pack_double(pk, *CAT(base, f->off, double)); return 0;
    case F_BOOL:
        if (*CAT(base, f->off, bool))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return 0;
    case F_ENUM: {
        int e = *CAT(base, f->off, int);
        //  An out-of-range value is our bug; encode something decodable.
        const char *name = f->names[e >= 0 && (size_t)e < f->max ? e : 0];
        s_pack_str(pk, name, strlen(name));
        return 0;
    }
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
        if (count > f->max || count > UINT32_MAX || (count && !first))
            return MLOPS_EINVAL;
        return s_pack_array_of(pk, first, f, count);
    }
    }
    return MLOPS_EINVAL;
}

//  True for an optional field left at zero: it is not written (FIELD_OSTR,
//  FIELD_OF64, FIELD_OMAP).
static bool s_omitted(const void *base, const fields_spec_t *f)
{
    if (!f->optional)
        return false;
    if (f->kind == F_STR)
        return CAT(base, f->off, char)[0] == 0;
    if (f->kind == F_F64)
        return *CAT(base, f->off, double) == 0;
    if (f->kind == F_MAP)   //  FIELD_OMAP: its first field names it
        return f->sub[0].kind == F_STR && CAT(base, f->off + f->sub[0].off, char)[0] == 0;
    return false;
}

static int s_pack_fields(msgpack_packer *pk, const void *base, const fields_spec_t *f, size_t n)
{
    uint32_t present = 0;
    for (size_t i = 0; i < n; i++)
        present += !s_omitted(base, &f[i]);
    msgpack_pack_map(pk, present);
    for (size_t i = 0; i < n; i++) {
        if (s_omitted(base, &f[i]))
            continue;
        s_pack_str(pk, f[i].key, strlen(f[i].key));
        int rc = s_pack_value(pk, base, &f[i]);
        if (rc)
            return rc;
    }
    return 0;
}

void fields_buffer_init(fields_buffer_t *b, msgpack_packer *pk)
{
    b->failed = false;
    msgpack_sbuffer_init(&b->sbuf);
    msgpack_packer_init(pk, b, fields_buffer_write);
}

int fields_buffer_write(void *data, const char *buf, size_t len)
{
    fields_buffer_t *b = data;
    if (!b->failed && msgpack_sbuffer_write(&b->sbuf, buf, len) != 0)
        b->failed = true;
    return b->failed ? -1 : 0;
}

int fields_buffer_finish(fields_buffer_t *b, int rc, uint8_t **out, size_t *out_len)
{
    if (rc == 0 && b->failed)
        rc = MLOPS_ENOMEM;
    if (rc) {
        msgpack_sbuffer_destroy(&b->sbuf);
        return rc;
    }
    *out_len = b->sbuf.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&b->sbuf);   //  malloc'd: handed over
    return 0;
}

int fields_encode(const fields_table_t *t, const void *base, uint8_t **out, size_t *out_len)
{
    assert(t && base && out && out_len);
    fields_buffer_t b;
    msgpack_packer pk;
    fields_buffer_init(&b, &pk);
    return fields_buffer_finish(&b, s_pack_fields(&pk, base, t->f, t->n), out, out_len);
}

/* --- freeing ------------------------------------------------------------- */

static void s_free_owned(void *base, const fields_spec_t *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].kind == F_ROWS) {
            free(*AT(base, f[i].off, size_t *));
            *AT(base, f[i].off, size_t *) = NULL;
            *AT(base, f[i].off2, size_t) = 0;
        } else if (f[i].kind == F_MAP) {
            s_free_owned(AT(base, f[i].off, char), f[i].sub, f[i].n_sub);
        } else if (f[i].kind == F_LIST || f[i].kind == F_VEC) {
            char *first = f[i].kind == F_LIST ? AT(base, f[i].off, char) : *AT(base, f[i].off, char *);
            size_t count = *AT(base, f[i].off2, size_t);
            for (size_t e = 0; first && e < count; e++)
                s_free_owned(first + e * f[i].size, f[i].sub, f[i].n_sub);
            if (f[i].kind == F_VEC) {
                free(first);
                *AT(base, f[i].off, char *) = NULL;
            }
            *AT(base, f[i].off2, size_t) = 0;
        }
    }
}

void fields_free_owned(const fields_table_t *t, void *base)
{
    if (base)
        s_free_owned(base, t->f, t->n);
}

/* --- decoding ------------------------------------------------------------ */

static const char *s_type_name(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_NIL: return "nil";
    case MSGPACK_OBJECT_BOOLEAN: return "bool";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: return "float";
    case MSGPACK_OBJECT_STR: return "string";
    case MSGPACK_OBJECT_ARRAY: return "array";
    case MSGPACK_OBJECT_MAP: return "map";
    case MSGPACK_OBJECT_BIN: return "bin";
    default: return "ext";
    }
}

//  The path as a message names it: the top level of a nameless table is "payload".
static const char *s_where(const char *path)
{
    return *path ? path : "payload";
}

static int s_wrong_type(const char *path, const char *want, const msgpack_object *o,
                        mlops_err_t *err)
{
    return mlops_err_set(err, MLOPS_EPROTO, "%s: expected %s, got %s", s_where(path), want,
                         s_type_name(o->type));
}

//  Writes "path.key" (or "key" when path is "") into out, truncating;
//  memcpy rather than snprintf because it runs for every key decoded.
static void s_join(char *out, size_t size, const char *path, const char *key)
{
    size_t p = strnlen(path, size - 1);
    memcpy(out, path, p);
    if (p > 0 && p < size - 1)
        out[p++] = '.';
    size_t k = strnlen(key, size - 1 - p);
    memcpy(out + p, key, k);
    out[p + k] = '\0';
}

//  Writes "path[index]" into out, truncating.
static void s_join_index(char *out, size_t size, const char *path, size_t index)
{
    size_t p = strnlen(path, size - 1);
    memcpy(out, path, p);
    snprintf(out + p, size - p, "[%zu]", index);
}

//  Reads an integer object in [lo, hi] into *v.
static int s_get_int(const msgpack_object *o, const char *path, int64_t lo, int64_t hi,
                     int64_t *v, mlops_err_t *err)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= lo) {
        *v = o->via.i64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= (uint64_t)hi) {
        *v = (int64_t)o->via.u64;
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: integer out of range [%lld, %lld]", path,
                             (long long)lo, (long long)hi);
    return s_wrong_type(path, "integer", o, err);
}

static int s_decode_str(const msgpack_object *o, char *dst, size_t size, const char *path,
                        mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return s_wrong_type(path, "string", o, err);
    if (o->via.str.size >= size)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: string of %u bytes exceeds the limit of %zu",
                             path, o->via.str.size, size - 1);
    if (memchr(o->via.str.ptr, '\0', o->via.str.size))
        return mlops_err_set(err, MLOPS_EPROTO, "%s: string contains a NUL byte", path);
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

static int s_decode_enum(const msgpack_object *o, int *dst, const fields_spec_t *f,
                         const char *path, mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return s_wrong_type(path, "string", o, err);
    for (size_t i = 0; i < f->max; i++) {
        if (strlen(f->names[i]) == o->via.str.size
            && memcmp(f->names[i], o->via.str.ptr, o->via.str.size) == 0) {
            *dst = (int)i;
            return 0;
        }
    }
    char sample[40];
    log_sanitize(o->via.str.ptr, o->via.str.size, sample, sizeof sample);
    return mlops_err_set(err, MLOPS_EPROTO, "%s: unknown value \"%s\"", path, sample);
}

static int s_decode_fields(const msgpack_object *obj, void *base, const fields_spec_t *f, size_t n,
                           const char *path, mlops_err_t *err);

static int s_decode_rows(const msgpack_object *v, void *base, const fields_spec_t *f,
                         const char *path, mlops_err_t *err)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return s_wrong_type(path, "array", v, err);
    size_t count = v->via.array.size;
    if (count > f->max)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%s: %zu entries exceed the limit of %zu", path,
                             count, f->max);
    if (count == 0)
        return 0;
    size_t *rows = malloc(count * sizeof *rows);
    if (!rows)
        return mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory", path);
    for (size_t r = 0; r < count; r++) {
        const msgpack_object *e = &v->via.array.ptr[r];
        if (e->type != MSGPACK_OBJECT_POSITIVE_INTEGER || e->via.u64 >= f->max) {
            free(rows);
            if (e->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return mlops_err_set(err, MLOPS_EPROTO, "%s[%zu]: expected a row index, got %s",
                                     path, r, s_type_name(e->type));
            return mlops_err_set(err, MLOPS_EPROTO, "%s[%zu]: row index %llu is over the limit of %zu",
                                 path, r, (unsigned long long)e->via.u64, f->max - 1);
        }
        rows[r] = (size_t)e->via.u64;
    }
    *AT(base, f->off, size_t *) = rows;
    *AT(base, f->off2, size_t) = count;
    return 0;
}

static int s_decode_list(const msgpack_object *v, void *base, const fields_spec_t *f,
                         const char *path, mlops_err_t *err)
{
    if (v->type != MSGPACK_OBJECT_ARRAY)
        return s_wrong_type(path, "array", v, err);
    size_t count = v->via.array.size;
    if (count > f->max)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%s: %zu entries exceed the limit of %zu", path,
                             count, f->max);
    if (count == 0)
        return 0;
    char *first = AT(base, f->off, char);
    if (f->kind == F_VEC) {
        first = calloc(count, f->size);
        if (!first)
            return mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory", path);
        *AT(base, f->off, char *) = first;
    }
    //  set the count first so a failure half-way frees what was decoded
    *AT(base, f->off2, size_t) = count;
    char sub[FIELDS_PATH_MAX];
    for (size_t e = 0; e < count; e++) {
        s_join_index(sub, sizeof sub, path, e);
        int rc = s_decode_fields(&v->via.array.ptr[e], first + e * f->size, f->sub, f->n_sub, sub,
                                 err);
        if (rc)
            return rc;
    }
    return 0;
}

//  Decodes the value v of field f (its key path is path) into base.
static int s_decode_value(const msgpack_object *v, void *base, const fields_spec_t *f,
                          const char *path, mlops_err_t *err)
{
    assert(s_size_ok(f));
    int64_t i = 0;
    int rc;
    switch (f->kind) {
    case F_STR:
        return s_decode_str(v, AT(base, f->off, char), f->size, path, err);
    case F_BIN:
        if (v->type == MSGPACK_OBJECT_NIL && f->optional)
            return 0;
        if (v->type != MSGPACK_OBJECT_BIN)
            return s_wrong_type(path, f->optional ? "bin or nil" : "bin", v, err);
        *AT(base, f->off, const uint8_t *) = (const uint8_t *)v->via.bin.ptr;
        *AT(base, f->off2, size_t) = v->via.bin.size;
        return 0;
    case F_I64:
        return s_get_int(v, path, INT64_MIN, INT64_MAX, AT(base, f->off, int64_t), err);
    case F_NAT:
        return s_get_int(v, path, 0, INT64_MAX, AT(base, f->off, int64_t), err);
    case F_I32:
        if ((rc = s_get_int(v, path, INT32_MIN, INT32_MAX, &i, err)) == 0)
            *AT(base, f->off, int32_t) = (int32_t)i;
        return rc;
    case F_U64:
        if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            return mlops_err_set(err, MLOPS_EPROTO, "%s: negative integer", path);
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return s_wrong_type(path, "integer", v, err);
        *AT(base, f->off, uint64_t) = v->via.u64;
        return 0;
    case F_NUM:
    case F_F64:
        if (f->kind == F_NUM && (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                                 || v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
            *AT(base, f->off, double) = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER
                                            ? (double)v->via.u64 : (double)v->via.i64;
            return 0;
        }
        if (v->type != MSGPACK_OBJECT_FLOAT32 && v->type != MSGPACK_OBJECT_FLOAT64)
            return s_wrong_type(path, f->kind == F_NUM ? "number" : "float", v, err);
        *AT(base, f->off, double) = v->via.f64;
        return 0;
    case F_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return s_wrong_type(path, "bool", v, err);
        *AT(base, f->off, bool) = v->via.boolean;
        return 0;
    case F_ENUM:
        return s_decode_enum(v, AT(base, f->off, int), f, path, err);
    case F_ROWS:
        return s_decode_rows(v, base, f, path, err);
    case F_MAP:
        return s_decode_fields(v, AT(base, f->off, char), f->sub, f->n_sub, path, err);
    case F_LIST:
    case F_VEC:
        return s_decode_list(v, base, f, path, err);
    }
    return mlops_err_set(err, MLOPS_EPROTO, "%s: unsupported field kind", path);
}

//  Finds the field named by a str key object, or returns n.
static size_t s_find(const fields_spec_t *f, size_t n, const msgpack_object *key)
{
    size_t i = 0;
    while (i < n && !(strlen(f[i].key) == key->via.str.size
                      && memcmp(f[i].key, key->via.str.ptr, key->via.str.size) == 0))
        i++;
    return i;
}

static int s_decode_fields(const msgpack_object *obj, void *base, const fields_spec_t *f, size_t n,
                           const char *path, mlops_err_t *err)
{
    assert(n <= FIELDS_TABLE_MAX);
    if (obj->type != MSGPACK_OBJECT_MAP)
        return s_wrong_type(path, "map", obj, err);
    uint32_t seen = 0;
    char sub[FIELDS_PATH_MAX];
    for (uint32_t k = 0; k < obj->via.map.size; k++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[k];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return mlops_err_set(err, MLOPS_EPROTO, "%s: key %u is not a string (%s)",
                                 s_where(path), k, s_type_name(kv->key.type));
        size_t i = s_find(f, n, &kv->key);
        if (i == n) {
            char sample[40];
            log_sanitize(kv->key.via.str.ptr, kv->key.via.str.size, sample, sizeof sample);
            return mlops_err_set(err, MLOPS_EPROTO, "%s: unknown key \"%s\"", s_where(path), sample);
        }
        s_join(sub, sizeof sub, path, f[i].key);
        if (seen & (1u << i))
            return mlops_err_set(err, MLOPS_EPROTO, "%s: key repeated", sub);
        seen |= 1u << i;
        int rc = s_decode_value(&kv->val, base, &f[i], sub, err);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(seen & (1u << i)) && !f[i].optional) {
            s_join(sub, sizeof sub, path, f[i].key);
            return mlops_err_set(err, MLOPS_EPROTO, "%s: missing", sub);
        }
    }
    return 0;
}

//  Levels of nesting a table needs, counting the scalars at the bottom:
//  a run is 4 (run > tasks > task > value). Deeper input is refused.
static size_t s_depth(const fields_spec_t *f, size_t n)
{
    size_t deepest = 1;
    for (size_t i = 0; i < n; i++) {
        size_t d = 1;
        if (f[i].kind == F_ROWS)
            d = 2;
        else if (f[i].kind == F_MAP)
            d = s_depth(f[i].sub, f[i].n_sub);
        else if (f[i].kind == F_LIST || f[i].kind == F_VEC)
            d = 1 + s_depth(f[i].sub, f[i].n_sub);
        if (d > deepest)
            deepest = d;
    }
    return 1 + deepest;
}

int fields_decode(const fields_table_t *t, const uint8_t *data, size_t len, void *base,
                  mlops_err_t *err)
{
    assert(t && base);
    memset(base, 0, t->size);
    const char *root = s_where(t->name);
    size_t end = 0;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (mpcheck_object(data, len, s_depth(t->f, t->n), &end, &sub) != 0)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: %.400s", root, mlops_err_text(&sub, MLOPS_EPROTO));
    if (end != len)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: %zu trailing bytes after byte %zu", root,
                             len - end, end);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&up, (const char *)data, len, &off);
    int rc;
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory while decoding", root);
    else if (ur != MSGPACK_UNPACK_SUCCESS)
        rc = mlops_err_set(err, MLOPS_EPROTO, "%s: not valid msgpack (%zu bytes)", root, len);
    else
        rc = s_decode_fields(&up.data, base, t->f, t->n, t->name, err);
    msgpack_unpacked_destroy(&up);
    if (rc) {
        fields_free_owned(t, base);
        memset(base, 0, t->size);
    }
    return rc;
}
