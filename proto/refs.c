/*  refs.c: see refs.h. */
#include "refs.h"

#include <msgpack.h>
#include <string.h>

#include "mpcheck.h"

#define S_REFS_DEPTH 8   //  deeper than any stage payload nests

static bool s_is_hex_name(const msgpack_object *o)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size != HASH_HEX_LEN)
        return false;
    for (size_t i = 0; i < HASH_HEX_LEN; i++) {
        char c = o->via.str.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static int s_walk(const msgpack_object *o, refs_fn *fn, void *arg)
{
    int rc = 0;
    if (o->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < o->via.array.size && rc == 0; i++)
            rc = s_walk(&o->via.array.ptr[i], fn, arg);
    if (o->type != MSGPACK_OBJECT_MAP)
        return rc;
    for (uint32_t i = 0; i < o->via.map.size && rc == 0; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        bool is_hash = kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 4 &&
                       memcmp(kv->key.via.str.ptr, "hash", 4) == 0;
        if (is_hash && s_is_hex_name(&kv->val)) {
            char name[HASH_HEX_LEN + 1];
            memcpy(name, kv->val.via.str.ptr, HASH_HEX_LEN);
            name[HASH_HEX_LEN] = '\0';
            rc = fn(arg, name);
        } else {
            rc = s_walk(&kv->val, fn, arg);
        }
    }
    return rc;
}

int refs_find(const uint8_t *data, size_t len, refs_fn *fn, void *arg, mlops_err_t *err)
{
    size_t used = 0;
    int rc = mpcheck_object(data, len, S_REFS_DEPTH, &used, err);
    if (rc)
        return rc;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&u, (const char *)data, len, &off);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    else if (ur != MSGPACK_UNPACK_SUCCESS)
        rc = mlops_err_set(err, MLOPS_EPROTO, "refs: not a msgpack object");
    else
        rc = s_walk(&u.data, fn, arg);
    msgpack_unpacked_destroy(&u);
    return rc;
}
