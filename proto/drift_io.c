/*  drift_io.c: the DRIFT answer's codec (drift_io.h). */
#include "drift_io.h"
#include "mpcheck.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define DRIFT_IO_DEPTH 6   //  answer > versions > version > fields > field > bins

static void s_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str(pk, strlen(k));
    msgpack_pack_str_body(pk, k, strlen(k));
}

//  A field's bins: kind, edges or levels, and both sides' counts with
//  the missing count last.
static void s_pack_bins(msgpack_packer *pk, const profile_field_t *ref, const profile_field_t *live)
{
    bool number = ref->kind == PROFILE_NUMBER;
    s_key(pk, "kind");
    msgpack_pack_str(pk, number ? 6 : 8);
    msgpack_pack_str_body(pk, number ? "number" : "category", number ? 6 : 8);
    s_key(pk, number ? "edges" : "levels");
    msgpack_pack_array(pk, number ? ref->n_edges : ref->n_levels);
    for (size_t i = 0; number && i < ref->n_edges; i++)
        msgpack_pack_double(pk, ref->edges[i]);
    for (size_t i = 0; !number && i < ref->n_levels; i++) {
        msgpack_pack_str(pk, strlen(ref->levels[i]));
        msgpack_pack_str_body(pk, ref->levels[i], strlen(ref->levels[i]));
    }
    const profile_field_t *side[2] = {ref, live};
    for (int s = 0; s < 2; s++) {
        s_key(pk, s ? "live" : "reference");
        msgpack_pack_array(pk, side[s]->n_counts + 1);
        for (size_t i = 0; i < side[s]->n_counts; i++)
            msgpack_pack_uint64(pk, side[s]->counts[i]);
        msgpack_pack_uint64(pk, side[s]->missing);
    }
}

int control_drift_encode(const control_drift_t *d, uint8_t **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    s_key(&pk, "threshold"), msgpack_pack_double(&pk, d->threshold);
    s_key(&pk, "min_rows"), msgpack_pack_uint64(&pk, d->min_rows);
    s_key(&pk, "versions"), msgpack_pack_array(&pk, d->n_versions);
    for (size_t i = 0; i < d->n_versions; i++) {
        const control_drift_version_t *v = &d->versions[i];
        msgpack_pack_map(&pk, 4);
        s_key(&pk, "version"), msgpack_pack_uint64(&pk, v->version);
        s_key(&pk, "rows"), msgpack_pack_uint64(&pk, v->rows);
        s_key(&pk, "measured"), v->measured ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
        s_key(&pk, "fields"), msgpack_pack_array(&pk, v->n_fields);
        for (size_t k = 0; k < v->n_fields; k++) {
            const control_drift_field_t *f = &v->fields[k];
            msgpack_pack_map(&pk, f->ref && f->live ? 8 : 4);
            s_key(&pk, "name");
            msgpack_pack_str(&pk, strlen(f->name));
            msgpack_pack_str_body(&pk, f->name, strlen(f->name));
            s_key(&pk, "js"), msgpack_pack_double(&pk, f->js);
            s_key(&pk, "psi"), msgpack_pack_double(&pk, f->psi);
            s_key(&pk, "drifted"), f->drifted ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
            if (f->ref && f->live)
                s_pack_bins(&pk, f->ref, f->live);
        }
    }
    if (!sb.data) {
        msgpack_sbuffer_destroy(&sb);
        return MLOPS_ENOMEM;
    }
    *out = (uint8_t *)sb.data, *out_len = sb.size;
    return 0;
}

/* --- decoding ------------------------------------------------------------- */

//  The value under key in map, of type (a float key takes integers too),
//  or NULL with err naming path.key.
static const msgpack_object *s_get(const msgpack_object *map, const char *path, const char *key,
                                   msgpack_object_type type, mlops_err_t *err)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != n
            || memcmp(kv->key.via.str.ptr, key, n) != 0)
            continue;
        bool num = type == MSGPACK_OBJECT_FLOAT64
                   && (kv->val.type == MSGPACK_OBJECT_FLOAT32 || kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER);
        if (kv->val.type == type || num)
            return &kv->val;
        mlops_err_set(err, MLOPS_EPROTO, "drift: %s.%s has the wrong type", path, key);
        return NULL;
    }
    mlops_err_set(err, MLOPS_EPROTO, "drift: %s.%s is missing", path, key);
    return NULL;
}

static double s_num(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (double)o->via.u64 : o->via.f64;
}

static int s_dec_field(const msgpack_object *m, control_drift_field_t *f, mlops_err_t *err)
{
    const msgpack_object *name = s_get(m, "field", "name", MSGPACK_OBJECT_STR, err);
    const msgpack_object *js = name ? s_get(m, "field", "js", MSGPACK_OBJECT_FLOAT64, err) : NULL;
    const msgpack_object *psi = js ? s_get(m, "field", "psi", MSGPACK_OBJECT_FLOAT64, err) : NULL;
    const msgpack_object *dr = psi ? s_get(m, "field", "drifted", MSGPACK_OBJECT_BOOLEAN, err) : NULL;
    if (!dr)
        return MLOPS_EPROTO;
    if (name->via.str.size > DRIFT_IO_NAME_MAX)
        return mlops_err_set(err, MLOPS_ETOOBIG, "drift: a field name of %u bytes", name->via.str.size);
    f->name = strndup(name->via.str.ptr, name->via.str.size);
    if (!f->name)
        return mlops_err_set(err, MLOPS_ENOMEM, "drift: out of memory");
    f->js = s_num(js), f->psi = s_num(psi), f->drifted = dr->via.boolean;
    return 0;
}

static int s_dec_version(const msgpack_object *m, control_drift_version_t *v, mlops_err_t *err)
{
    const msgpack_object *ver = s_get(m, "version", "version", MSGPACK_OBJECT_POSITIVE_INTEGER, err);
    const msgpack_object *rows = ver ? s_get(m, "version", "rows", MSGPACK_OBJECT_POSITIVE_INTEGER, err) : NULL;
    const msgpack_object *me = rows ? s_get(m, "version", "measured", MSGPACK_OBJECT_BOOLEAN, err) : NULL;
    const msgpack_object *fs = me ? s_get(m, "version", "fields", MSGPACK_OBJECT_ARRAY, err) : NULL;
    if (!fs)
        return MLOPS_EPROTO;
    if (fs->via.array.size > DRIFT_IO_FIELDS_MAX)
        return mlops_err_set(err, MLOPS_ETOOBIG, "drift: %u fields", fs->via.array.size);
    v->version = ver->via.u64, v->rows = rows->via.u64, v->measured = me->via.boolean;
    v->fields = calloc(fs->via.array.size ? fs->via.array.size : 1, sizeof *v->fields);
    if (!v->fields)
        return mlops_err_set(err, MLOPS_ENOMEM, "drift: out of memory");
    for (uint32_t k = 0; k < fs->via.array.size; k++, v->n_fields++)
        if (s_dec_field(&fs->via.array.ptr[k], &v->fields[k], err) != 0)
            return err->code;
    return 0;
}

static int s_dec_root(const msgpack_object *m, control_drift_t *d, mlops_err_t *err)
{
    const msgpack_object *th = s_get(m, "answer", "threshold", MSGPACK_OBJECT_FLOAT64, err);
    const msgpack_object *mr = th ? s_get(m, "answer", "min_rows", MSGPACK_OBJECT_POSITIVE_INTEGER, err) : NULL;
    const msgpack_object *vs = mr ? s_get(m, "answer", "versions", MSGPACK_OBJECT_ARRAY, err) : NULL;
    if (!vs)
        return MLOPS_EPROTO;
    if (vs->via.array.size > DRIFT_IO_VERSIONS_MAX)
        return mlops_err_set(err, MLOPS_ETOOBIG, "drift: %u versions", vs->via.array.size);
    d->threshold = s_num(th), d->min_rows = mr->via.u64;
    d->versions = calloc(vs->via.array.size ? vs->via.array.size : 1, sizeof *d->versions);
    if (!d->versions)
        return mlops_err_set(err, MLOPS_ENOMEM, "drift: out of memory");
    for (uint32_t i = 0; i < vs->via.array.size; i++, d->n_versions++)
        if (s_dec_version(&vs->via.array.ptr[i], &d->versions[i], err) != 0) {
            d->n_versions++;   //  so clear frees what this one holds
            return err->code;
        }
    return 0;
}

int control_drift_decode(const uint8_t *data, size_t len, control_drift_t *d, mlops_err_t *err)
{
    memset(d, 0, sizeof *d);
    size_t used = 0, off = 0;
    if (mpcheck_object(data, len, DRIFT_IO_DEPTH, &used, NULL) != 0 || used != len)
        return mlops_err_set(err, MLOPS_EPROTO, "drift: not one msgpack object of depth <= %d",
                             DRIFT_IO_DEPTH);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    int rc = msgpack_unpack_next(&u, (const char *)data, len, &off) == MSGPACK_UNPACK_SUCCESS
                 ? s_dec_root(&u.data, d, err)
                 : mlops_err_set(err, MLOPS_ENOMEM, "drift: out of memory");
    msgpack_unpacked_destroy(&u);
    if (rc)
        control_drift_clear(d);
    return rc;
}

void control_drift_clear(control_drift_t *d)
{
    for (size_t i = 0; i < d->n_versions; i++) {
        for (size_t k = 0; k < d->versions[i].n_fields; k++)
            free(d->versions[i].fields[k].name);
        free(d->versions[i].fields);
    }
    free(d->versions);
    memset(d, 0, sizeof *d);
}
