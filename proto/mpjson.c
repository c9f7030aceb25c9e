/*  mpjson.c: see mpjson.h. Walks msgpack-c's unpacked object tree and
    appends to a growing buffer; the tree is freed with its zone. */
#include "mpjson.h"

#include "vec.h"

#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;    //  text so far
    size_t len;    //  bytes used
    size_t cap;    //  bytes allocated
    bool failed;   //  an allocation failed
} s_buf_t;

static void s_put(s_buf_t *buf, const char *text, size_t n)
{
    if (buf->failed)
        return;
    if (vec_reserve_(&buf->data, &buf->cap, buf->len, n + 1, 1)) {   //  n bytes and a NUL
        buf->failed = true;
        return;
    }
    memcpy(buf->data + buf->len, text, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
}

static void s_printf(s_buf_t *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_printf(s_buf_t *buf, const char *fmt, ...)
{
    char text[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    s_put(buf, text, (size_t)n);
}

static void s_string(s_buf_t *buf, const char *s, size_t n)
{
    s_put(buf, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            s_put(buf, esc, 2);
        } else if (c < 0x20) {
            s_printf(buf, "\\u%04x", c);
        } else {
            s_put(buf, (const char *)&s[i], 1);
        }
    }
    s_put(buf, "\"", 1);
}

static int s_object(s_buf_t *buf, const msgpack_object *o, int depth, mlops_err_t *err)
{
    if (depth > MPJSON_DEPTH_MAX)
        return mlops_err_set(err, MLOPS_EPROTO, "nesting deeper than %d", MPJSON_DEPTH_MAX);
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: s_put(buf, "null", 4); break;
    case MSGPACK_OBJECT_BOOLEAN: o->via.boolean ? s_put(buf, "true", 4) : s_put(buf, "false", 5); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: s_printf(buf, "%llu", (unsigned long long)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: s_printf(buf, "%lld", (long long)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (isfinite(o->via.f64)) {
            char text[32];
            int n = snprintf(text, sizeof text, "%.17g", o->via.f64);
            s_put(buf, text, (size_t)n);
            if (!strpbrk(text, ".e"))
                s_put(buf, ".0", 2);   //  a float stays a float in JSON: 1.0, not 1
        } else
            s_put(buf, "null", 4);
        break;
    case MSGPACK_OBJECT_STR: s_string(buf, o->via.str.ptr, o->via.str.size); break;
    case MSGPACK_OBJECT_BIN: s_printf(buf, "{\"bin_bytes\":%u}", o->via.bin.size); break;
    case MSGPACK_OBJECT_ARRAY:
        s_put(buf, "[", 1);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                s_put(buf, ",", 1);
            int rc = s_object(buf, &o->via.array.ptr[i], depth + 1, err);
            if (rc)
                return rc;
        }
        s_put(buf, "]", 1);
        break;
    case MSGPACK_OBJECT_MAP:
        s_put(buf, "{", 1);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR)
                return mlops_err_set(err, MLOPS_EPROTO, "map key %u is not a string", i);
            if (i)
                s_put(buf, ",", 1);
            s_string(buf, kv->key.via.str.ptr, kv->key.via.str.size);
            s_put(buf, ":", 1);
            int rc = s_object(buf, &kv->val, depth + 1, err);
            if (rc)
                return rc;
        }
        s_put(buf, "}", 1);
        break;
    default: return mlops_err_set(err, MLOPS_EPROTO, "msgpack extension types are not JSON");
    }
    return 0;
}

char *mpjson_from_msgpack(const uint8_t *data, size_t len, mlops_err_t *err)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack_next(&unpacked, (const char *)data, len, &off);
    char *text = NULL;
    if (ret != MSGPACK_UNPACK_SUCCESS) {
        mlops_err_set(err, MLOPS_EPROTO, "not one complete msgpack object (%s)",
                      ret == MSGPACK_UNPACK_CONTINUE ? "truncated" : "malformed");
    } else if (off != len) {
        mlops_err_set(err, MLOPS_EPROTO, "%zu trailing bytes after offset %zu", len - off, off);
    } else {
        s_buf_t buf = {0};
        int rc = s_object(&buf, &unpacked.data, 0, err);
        if (!rc && buf.failed)
            mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        if (rc || buf.failed)
            free(buf.data);
        else
            text = buf.data;
    }
    msgpack_unpacked_destroy(&unpacked);
    return text;
}
