/*  artifact.c: msgpack codec of artifacts and recipes (see artifact.h).

    Decoding is strict: every key is looked up with its expected type, every
    array length is checked against the counts it must match, and the bytes
    are pre-checked with mpcheck before msgpack-c allocates anything.
*/
#include "artifact.h"
#include "hash.h"
#include "mpcheck.h"
#include "profile_fit.h"
#include "signature.h"
#include "task_name.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

/* --- packing helpers ------------------------------------------------------- */

static void s_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void s_key(msgpack_packer *pk, const char *k)
{
    s_str(pk, k);
}

static void s_bin(msgpack_packer *pk, const void *data, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, data, n);
}

static void s_doubles(msgpack_packer *pk, const double *v, size_t n)
{
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_double(pk, v[i]);
}

static void s_put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t s_get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

//  Moves a finished sbuffer into (*out, *out_len).
static int s_take(msgpack_sbuffer *sb, uint8_t **out, size_t *out_len)
{
    if (!sb->data) {
        msgpack_sbuffer_destroy(sb);
        return MLOPS_ENOMEM;
    }
    *out = (uint8_t *)sb->data;
    *out_len = sb->size;
    return 0;
}

/* --- recipe ------------------------------------------------------------------ */

static void s_pack_input(msgpack_packer *pk, const prep_input_t *in)
{
    msgpack_pack_map(pk, 10);
    s_key(pk, "name"), s_str(pk, in->name);
    s_key(pk, "type"), msgpack_pack_int(pk, in->type);
    s_key(pk, "integer"), in->integer ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    s_key(pk, "required"), in->required ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    s_key(pk, "min"), msgpack_pack_double(pk, in->min);
    s_key(pk, "max"), msgpack_pack_double(pk, in->max);
    s_key(pk, "fill"), msgpack_pack_double(pk, in->fill);
    s_key(pk, "levels"), msgpack_pack_array(pk, in->n_levels);
    for (size_t l = 0; l < in->n_levels; l++)
        s_str(pk, in->levels[l]);
    s_key(pk, "closed"), in->closed ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    s_key(pk, "fill_str");
    if (in->fill_str)
        s_str(pk, in->fill_str);
    else
        msgpack_pack_nil(pk);
}

//  The binary target: its two labels (format 1's keys).
static void s_pack_binary(msgpack_packer *pk, const prep_recipe_t *r)
{
    s_key(pk, "positive");
    if (r->target_numeric)
        msgpack_pack_double(pk, r->pos_num);
    else
        s_str(pk, r->pos_str);
    s_key(pk, "negative");
    if (r->target_numeric)
        msgpack_pack_double(pk, r->neg_num);
    else
        s_str(pk, r->neg_str);
}

//  The other tasks' target: task and classes (format 2).
static void s_pack_classes(msgpack_packer *pk, const prep_recipe_t *r)
{
    s_key(pk, "task"), s_str(pk, task_name(r->task));
    size_t k = r->task == TASK_MULTICLASS ? r->n_classes : 0;
    s_key(pk, "classes"), msgpack_pack_array(pk, k);
    for (size_t c = 0; c < k; c++)
        if (r->target_numeric)
            msgpack_pack_double(pk, r->class_num[c]);
        else
            s_str(pk, r->class_str[c]);
}

int artifact_recipe_encode(const prep_recipe_t *r, uint8_t **out, size_t *out_len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 8);
    s_key(&pk, "kind"), s_str(&pk, r->kind == PREP_TITANIC ? "titanic" : "generic");
    s_key(&pk, "target"), s_str(&pk, r->target);
    if (r->task != TASK_BINARY)
        s_pack_classes(&pk, r);
    else
        s_pack_binary(&pk, r);
    s_key(&pk, "inputs"), msgpack_pack_array(&pk, r->n_inputs);
    for (size_t k = 0; k < r->n_inputs; k++)
        s_pack_input(&pk, &r->inputs[k]);
    s_key(&pk, "features"), msgpack_pack_array(&pk, r->n_features);
    for (size_t j = 0; j < r->n_features; j++)
        s_str(&pk, r->features[j]);
    s_key(&pk, "mean"), s_doubles(&pk, r->mean, r->n_features);
    s_key(&pk, "scale"), s_doubles(&pk, r->scale, r->n_features);
    return s_take(&sb, out, out_len);
}

/* --- decoding helpers ------------------------------------------------------- */

typedef struct {
    mlops_err_t *err;     //  where the first problem goes
    const char *what;     //  "recipe" or "artifact", for messages
    int failed;           //  a problem was recorded
    int code;             //  its code
} s_dec_t;

static int s_fail(s_dec_t *d, int code, const char *key, const char *problem)
{
    if (!d->failed) {
        mlops_err_set(d->err, code, "%s: '%s' %s", d->what, key, problem);
        d->code = code;
    }
    d->failed = 1;
    return code;
}

//  The value of key in map, or NULL; records nothing.
static const msgpack_object *s_peek(const msgpack_object *map, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
            memcmp(kv->key.via.str.ptr, key, n) == 0)
            return &kv->val;
    }
    return NULL;
}

static const msgpack_object *s_get(s_dec_t *d, const msgpack_object *map, const char *key,
                                   msgpack_object_type type)
{
    if (map->type != MSGPACK_OBJECT_MAP) {
        s_fail(d, MLOPS_ECORRUPT, key, "is in something that is not a map");
        return NULL;
    }
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n &&
            memcmp(kv->key.via.str.ptr, key, n) == 0) {
            int ok = kv->val.type == type ||
                     (type == MSGPACK_OBJECT_FLOAT64 &&
                      (kv->val.type == MSGPACK_OBJECT_FLOAT32 ||
                       kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                       kv->val.type == MSGPACK_OBJECT_NEGATIVE_INTEGER));
            if (!ok) {
                s_fail(d, MLOPS_ECORRUPT, key, "has the wrong type");
                return NULL;
            }
            return &kv->val;
        }
    }
    s_fail(d, MLOPS_ECORRUPT, key, "is missing");
    return NULL;
}

static double s_num(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return (double)o->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return (double)o->via.i64;
    default:
        return o->via.f64;
    }
}

static double s_get_num(s_dec_t *d, const msgpack_object *map, const char *key)
{
    const msgpack_object *o = s_get(d, map, key, MSGPACK_OBJECT_FLOAT64);
    return o ? s_num(o) : NAN;
}

static uint64_t s_get_u64(s_dec_t *d, const msgpack_object *map, const char *key)
{
    const msgpack_object *o = s_get(d, map, key, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return o ? o->via.u64 : 0;
}

static bool s_get_bool(s_dec_t *d, const msgpack_object *map, const char *key)
{
    const msgpack_object *o = s_get(d, map, key, MSGPACK_OBJECT_BOOLEAN);
    return o ? o->via.boolean : false;
}

//  A malloc'd NUL-terminated copy of a str object; NULL on ENOMEM or an
//  embedded NUL (recorded as corrupt).
static char *s_dup(s_dec_t *d, const msgpack_object *o, const char *key)
{
    if (!o || o->type != MSGPACK_OBJECT_STR) {
        s_fail(d, MLOPS_ECORRUPT, key, "is not a string");
        return NULL;
    }
    if (memchr(o->via.str.ptr, 0, o->via.str.size)) {
        s_fail(d, MLOPS_ECORRUPT, key, "holds a NUL byte");
        return NULL;
    }
    char *s = malloc(o->via.str.size + 1);
    if (!s) {
        s_fail(d, MLOPS_ENOMEM, key, "does not fit in memory");
        return NULL;
    }
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = 0;
    return s;
}

static char *s_get_str(s_dec_t *d, const msgpack_object *map, const char *key)
{
    const msgpack_object *o = s_get(d, map, key, MSGPACK_OBJECT_STR);
    return o ? s_dup(d, o, key) : NULL;
}

//  An array of exactly n numbers into a new double array.
static double *s_get_doubles(s_dec_t *d, const msgpack_object *map, const char *key, size_t n)
{
    const msgpack_object *o = s_get(d, map, key, MSGPACK_OBJECT_ARRAY);
    if (!o)
        return NULL;
    if (o->via.array.size != n) {
        s_fail(d, MLOPS_ECORRUPT, key, "has the wrong length");
        return NULL;
    }
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) {
        s_fail(d, MLOPS_ENOMEM, key, "does not fit in memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_FLOAT64 && e->type != MSGPACK_OBJECT_FLOAT32 &&
            e->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
            e->type != MSGPACK_OBJECT_NEGATIVE_INTEGER) {
            free(v);
            s_fail(d, MLOPS_ECORRUPT, key, "holds a non-number");
            return NULL;
        }
        v[i] = s_num(e);
    }
    return v;
}

//  Unpacks one complete msgpack object that must span all len bytes.
static int s_unpack(s_dec_t *d, const uint8_t *data, size_t len, msgpack_unpacked *u)
{
    size_t used = 0, off = 0;
    mlops_err_t e;
    if (mpcheck_object(data, len, MAX_DEPTH, &used, &e) != 0)
        return s_fail(d, MLOPS_ECORRUPT, "bytes", "are not well-formed msgpack (truncated?)");
    if (used != len)
        return s_fail(d, MLOPS_ECORRUPT, "bytes", "have trailing data");
    msgpack_unpacked_init(u);
    if (msgpack_unpack_next(u, (const char *)data, len, &off) != MSGPACK_UNPACK_SUCCESS)
        return s_fail(d, MLOPS_ECORRUPT, "bytes", "do not unpack");
    return 0;
}

/* --- recipe decoding -------------------------------------------------------- */

static int s_dec_input(s_dec_t *d, const msgpack_object *m, prep_input_t *in)
{
    in->name = s_get_str(d, m, "name");
    const msgpack_object *t = s_get(d, m, "type", MSGPACK_OBJECT_POSITIVE_INTEGER);
    if (t && (t->via.u64 < PREP_NUM || t->via.u64 > PREP_TEXT))
        return s_fail(d, MLOPS_ECORRUPT, "type", "is not a known input type");
    in->type = t ? (prep_type_t)t->via.u64 : PREP_NUM;
    in->integer = s_get_bool(d, m, "integer");
    in->required = s_get_bool(d, m, "required");
    in->min = s_get_num(d, m, "min");
    in->max = s_get_num(d, m, "max");
    in->fill = s_get_num(d, m, "fill");
    in->closed = s_get_bool(d, m, "closed");
    const msgpack_object *lv = s_get(d, m, "levels", MSGPACK_OBJECT_ARRAY);
    if (lv) {
        in->levels = calloc(lv->via.array.size ? lv->via.array.size : 1, sizeof(char *));
        if (!in->levels)
            return s_fail(d, MLOPS_ENOMEM, "levels", "does not fit in memory");
        for (uint32_t l = 0; l < lv->via.array.size; l++, in->n_levels++)
            if (!(in->levels[l] = s_dup(d, &lv->via.array.ptr[l], "levels")))
                return MLOPS_ECORRUPT;
    }
    const msgpack_object *fs = s_peek(m, "fill_str");
    if (!fs || fs->type != MSGPACK_OBJECT_NIL)
        in->fill_str = s_get_str(d, m, "fill_str");
    return d->failed ? MLOPS_ECORRUPT : 0;
}

//  The feature count the inputs imply, to check "features" against.
static size_t s_width(const prep_recipe_t *r)
{
    if (r->kind == PREP_TITANIC)
        return 16;
    size_t w = 0;
    for (size_t k = 0; k < r->n_inputs; k++)
        w += r->inputs[k].type == PREP_NUM ? 1 : r->inputs[k].n_levels + 1;
    return w;
}

//  Format 2's target: task and classes (sorted and distinct, as prep made them).
static int s_dec_classes(s_dec_t *d, const msgpack_object *m, prep_recipe_t *r)
{
    char *task = s_get_str(d, m, "task");
    int t = TASK_AUTO;
    if (task_parse(task, &t) != 0 || t == TASK_AUTO || t == TASK_BINARY)
        s_fail(d, MLOPS_ECORRUPT, "task", "is not multiclass or regression");
    free(task);
    const msgpack_object *cl = s_get(d, m, "classes", MSGPACK_OBJECT_ARRAY);
    if (d->failed)
        return MLOPS_ECORRUPT;
    size_t k = cl->via.array.size;
    r->task = (task_t)t, r->target_numeric = true;
    if (t == TASK_REGRESSION)
        return k == 0 ? 0 : s_fail(d, MLOPS_ECORRUPT, "classes", "is not empty for regression");
    if (k < 2 || k > PREP_MAX_CLASSES)
        return s_fail(d, MLOPS_ECORRUPT, "classes", "does not hold 2..100 labels");
    r->target_numeric = cl->via.array.ptr[0].type != MSGPACK_OBJECT_STR;
    if (r->target_numeric && !(r->class_num = s_get_doubles(d, m, "classes", k)))
        return MLOPS_ECORRUPT;
    if (!r->target_numeric && !(r->class_str = calloc(k, sizeof *r->class_str)))
        return s_fail(d, MLOPS_ENOMEM, "classes", "does not fit in memory");
    for (size_t c = 0; !r->target_numeric && c < k; c++, r->n_classes++)
        if (!(r->class_str[c] = s_dup(d, &cl->via.array.ptr[c], "classes")))
            return MLOPS_ECORRUPT;
    r->n_classes = k;
    for (size_t c = 1; c < k; c++)
        if (r->target_numeric ? !(r->class_num[c - 1] < r->class_num[c])
                              : strcmp(r->class_str[c - 1], r->class_str[c]) >= 0)
            return s_fail(d, MLOPS_ECORRUPT, "classes", "are not sorted and distinct");
    return 0;
}

static int s_dec_target(s_dec_t *d, const msgpack_object *m, prep_recipe_t *r)
{
    if (s_peek(m, "task"))
        return s_dec_classes(d, m, r);
    r->task = TASK_BINARY, r->n_classes = 2;
    const msgpack_object *pos = s_peek(m, "positive");
    if (!pos || pos->type != MSGPACK_OBJECT_STR) {
        r->target_numeric = true;
        r->pos_num = s_get_num(d, m, "positive");
        r->neg_num = s_get_num(d, m, "negative");
        return d->failed ? MLOPS_ECORRUPT : 0;
    }
    r->pos_str = s_dup(d, pos, "positive");
    r->neg_str = s_get_str(d, m, "negative");
    return d->failed ? MLOPS_ECORRUPT : 0;
}

static int s_dec_recipe(s_dec_t *d, const msgpack_object *m, prep_recipe_t *r)
{
    char *kind = s_get_str(d, m, "kind");
    r->kind = kind && strcmp(kind, "titanic") == 0   ? PREP_TITANIC
              : kind && strcmp(kind, "generic") == 0 ? PREP_GENERIC
                                                     : 0;
    free(kind);
    if (!r->kind)
        return s_fail(d, MLOPS_ECORRUPT, "kind", "is not titanic or generic");
    r->target = s_get_str(d, m, "target");
    if (!r->target || s_dec_target(d, m, r) != 0)
        return MLOPS_ECORRUPT;
    const msgpack_object *ins = s_get(d, m, "inputs", MSGPACK_OBJECT_ARRAY);
    if (!ins)
        return MLOPS_ECORRUPT;
    r->inputs = calloc(ins->via.array.size ? ins->via.array.size : 1, sizeof *r->inputs);
    if (!r->inputs)
        return s_fail(d, MLOPS_ENOMEM, "inputs", "does not fit in memory");
    for (uint32_t k = 0; k < ins->via.array.size; k++) {
        //  Counted before decoding, so a half-decoded input is freed with the recipe.
        r->n_inputs++;
        if (s_dec_input(d, &ins->via.array.ptr[k], &r->inputs[k]) != 0)
            return MLOPS_ECORRUPT;
    }
    if (r->kind == PREP_TITANIC && r->n_inputs != 8)
        return s_fail(d, MLOPS_ECORRUPT, "inputs", "is not the Titanic recipe's 8 inputs");
    const msgpack_object *fs = s_get(d, m, "features", MSGPACK_OBJECT_ARRAY);
    if (!fs)
        return MLOPS_ECORRUPT;
    if (fs->via.array.size != s_width(r) || fs->via.array.size == 0 ||
        fs->via.array.size > PREP_MAX_FEATURES)
        return s_fail(d, MLOPS_ECORRUPT, "features", "does not match the inputs");
    r->features = calloc(fs->via.array.size, sizeof *r->features);
    if (!r->features)
        return s_fail(d, MLOPS_ENOMEM, "features", "does not fit in memory");
    for (uint32_t j = 0; j < fs->via.array.size; j++, r->n_features++)
        if (!(r->features[j] = s_dup(d, &fs->via.array.ptr[j], "features")))
            return MLOPS_ECORRUPT;
    r->mean = s_get_doubles(d, m, "mean", r->n_features);
    r->scale = s_get_doubles(d, m, "scale", r->n_features);
    if (d->failed)
        return MLOPS_ECORRUPT;
    for (size_t j = 0; j < r->n_features; j++)
        if (!isfinite(r->mean[j]) || !isfinite(r->scale[j]) || r->scale[j] <= 0)
            return s_fail(d, MLOPS_ECORRUPT, "scale", "holds a non-positive or non-finite value");
    if (signature_finish(r) != 0)
        return s_fail(d, MLOPS_ENOMEM, "inputs", "do not fit in memory");
    return 0;
}

static prep_recipe_t *s_recipe_from(s_dec_t *d, const uint8_t *data, size_t len)
{
    msgpack_unpacked u;
    if (s_unpack(d, data, len, &u) != 0)
        return NULL;
    prep_recipe_t *r = calloc(1, sizeof *r);
    if (!r)
        s_fail(d, MLOPS_ENOMEM, "recipe", "does not fit in memory");
    else if (s_dec_recipe(d, &u.data, r) != 0 || d->failed)
        prep_destroy(&r);
    msgpack_unpacked_destroy(&u);
    return r;
}

prep_recipe_t *artifact_recipe_decode(const uint8_t *data, size_t len, mlops_err_t *err)
{
    s_dec_t d = {err, "recipe", 0, 0};
    return s_recipe_from(&d, data, len);
}

/* --- models ------------------------------------------------------------------ */

#define NODE_BYTES 16 //  f64 value, i32 feature, u32 left, little-endian

//  A multiclass forest's leaf fractions as little-endian f64 bytes.
static void s_pack_leaves(msgpack_packer *pk, const forest_t *f)
{
    size_t nv = f->n_leaves * f->n_classes;
    uint8_t *buf = malloc(nv * 8 + 1);
    s_key(pk, "n_classes"), msgpack_pack_uint64(pk, f->n_classes);
    s_key(pk, "leaves");
    if (!buf) { //  the packer's own allocation will fail the same way
        s_bin(pk, "", 0);
        return;
    }
    for (size_t i = 0; i < nv; i++) {
        uint64_t bits;
        memcpy(&bits, &f->leaf_values[i], 8);
        s_put_le(buf + 8 * i, bits, 8);
    }
    s_bin(pk, buf, nv * 8);
    free(buf);
}

static void s_pack_forest(msgpack_packer *pk, const forest_t *f)
{
    msgpack_pack_map(pk, f->task == TASK_MULTICLASS ? 6 : 4);
    if (f->task == TASK_MULTICLASS)
        s_pack_leaves(pk, f);
    s_key(pk, "n_features"), msgpack_pack_uint64(pk, f->n_features);
    s_key(pk, "n_trees"), msgpack_pack_uint64(pk, f->n_trees);
    uint8_t *buf = malloc(f->n_nodes * NODE_BYTES > f->n_trees * 4 ? f->n_nodes * NODE_BYTES
                                                                   : f->n_trees * 4);
    s_key(pk, "roots");
    if (!buf) { //  the packer's own allocation will fail the same way
        s_bin(pk, "", 0);
        s_key(pk, "nodes"), s_bin(pk, "", 0);
        return;
    }
    for (size_t t = 0; t < f->n_trees; t++)
        s_put_le(buf + 4 * t, f->roots[t], 4);
    s_bin(pk, buf, f->n_trees * 4);
    for (size_t k = 0; k < f->n_nodes; k++) {
        uint64_t bits;
        memcpy(&bits, &f->nodes[k].value, 8);
        s_put_le(buf + NODE_BYTES * k, bits, 8);
        s_put_le(buf + NODE_BYTES * k + 8, (uint32_t)f->nodes[k].feature, 4);
        s_put_le(buf + NODE_BYTES * k + 12, f->nodes[k].left, 4);
    }
    s_key(pk, "nodes"), s_bin(pk, buf, f->n_nodes * NODE_BYTES);
    free(buf);
}

/* --- gbdt ---------------------------------------------------------------------- */

#define GBDT_NODE_BYTES 21 //  f64 value, i32 feature, u32 left, u32 cat_set, u8 flags
#define GBDT_SET_BYTES 32  //  4 u64 words: levels 0..255
#define GBDT_MISSING_LEFT 1 //  node flag bits
#define GBDT_CATEGORICAL 2

static void s_put_gbdt_node(uint8_t *b, const gbdt_node_t *nd)
{
    uint64_t bits;
    memcpy(&bits, &nd->value, 8);
    s_put_le(b, bits, 8);
    s_put_le(b + 8, (uint32_t)nd->feature, 4);
    s_put_le(b + 12, nd->left, 4);
    s_put_le(b + 16, nd->cat_set, 4);
    b[20] = (uint8_t)((nd->missing_left ? GBDT_MISSING_LEFT : 0) |
                      (nd->categorical ? GBDT_CATEGORICAL : 0));
}

//  The node of b; flags other than the two known ones are kept so that
//  gbdt_new refuses them (missing_left or categorical above 1).
static void s_get_gbdt_node(const uint8_t *b, gbdt_node_t *nd)
{
    uint64_t bits = s_get_le(b, 8);
    memcpy(&nd->value, &bits, 8);
    nd->feature = (int32_t)(uint32_t)s_get_le(b + 8, 4);
    nd->left = (uint32_t)s_get_le(b + 12, 4);
    nd->cat_set = (uint32_t)s_get_le(b + 16, 4);
    nd->missing_left = b[20] & GBDT_MISSING_LEFT;
    nd->categorical = (uint8_t)((b[20] & ~GBDT_MISSING_LEFT) >> 1);
}

//  roots, nodes and level sets as little-endian bytes into one buffer.
static uint8_t *s_gbdt_bytes(const gbdt_t *m, size_t *nr, size_t *nn, size_t *ns)
{
    *nr = m->n_trees * 4, *nn = m->n_nodes * GBDT_NODE_BYTES, *ns = m->n_cat_sets * GBDT_SET_BYTES;
    uint8_t *buf = malloc(*nr + *nn + *ns + 1);
    if (!buf)
        return NULL;
    for (size_t t = 0; t < m->n_trees; t++)
        s_put_le(buf + 4 * t, m->roots[t], 4);
    for (size_t k = 0; k < m->n_nodes; k++)
        s_put_gbdt_node(buf + *nr + GBDT_NODE_BYTES * k, &m->nodes[k]);
    for (size_t w = 0; w < 4 * m->n_cat_sets; w++)
        s_put_le(buf + *nr + *nn + 8 * w, m->cat_sets[w], 8);
    return buf;
}

static void s_pack_gbdt(msgpack_packer *pk, const gbdt_t *m)
{
    size_t nr, nn, ns;
    uint8_t *buf = s_gbdt_bytes(m, &nr, &nn, &ns);
    msgpack_pack_map(pk, 7);
    s_key(pk, "n_features"), msgpack_pack_uint64(pk, m->n_features);
    s_key(pk, "n_outputs"), msgpack_pack_uint64(pk, m->n_outputs);
    s_key(pk, "baseline"), s_doubles(pk, m->baseline, m->n_outputs);
    s_key(pk, "n_trees"), msgpack_pack_uint64(pk, m->n_trees);
    if (!buf) //  the packer's own allocation will fail the same way
        nr = nn = ns = 0;
    s_key(pk, "roots"), s_bin(pk, buf ? buf : (const uint8_t *)"", nr);
    s_key(pk, "nodes"), s_bin(pk, buf ? buf + nr : (const uint8_t *)"", nn);
    s_key(pk, "cat_sets"), s_bin(pk, buf ? buf + nr + nn : (const uint8_t *)"", ns);
    free(buf);
}

//  The arrays of a stored gbdt, decoded and handed to gbdt_new.
static gbdt_t *s_gbdt_from(s_dec_t *d, task_t task, size_t p, size_t k, const double *base,
                           const msgpack_object *roots, const msgpack_object *nodes,
                           const msgpack_object *sets)
{
    size_t nt = roots->via.bin.size / 4, nn = nodes->via.bin.size / GBDT_NODE_BYTES;
    size_t ns = sets->via.bin.size / GBDT_SET_BYTES;
    uint32_t *r = malloc((nt ? nt : 1) * sizeof *r);
    gbdt_node_t *v = calloc(nn ? nn : 1, sizeof *v);
    uint64_t *w = malloc((ns ? ns : 1) * 4 * sizeof *w);
    gbdt_t *m = NULL;
    if (r && v && w) {
        const uint8_t *b = (const uint8_t *)roots->via.bin.ptr;
        for (size_t t = 0; t < nt; t++)
            r[t] = (uint32_t)s_get_le(b + 4 * t, 4);
        for (size_t i = 0; i < nn; i++)
            s_get_gbdt_node((const uint8_t *)nodes->via.bin.ptr + GBDT_NODE_BYTES * i, &v[i]);
        for (size_t i = 0; i < 4 * ns; i++)
            w[i] = s_get_le((const uint8_t *)sets->via.bin.ptr + 8 * i, 8);
        mlops_err_t e;
        if (!(m = gbdt_new(task, p, k, base, nt, r, nn, v, ns, w, &e)))
            s_fail(d, e.code, "nodes", e.msg);
    } else {
        s_fail(d, MLOPS_ENOMEM, "nodes", "do not fit in memory");
    }
    free(r), free(v), free(w);
    return m;
}

static gbdt_t *s_dec_gbdt(s_dec_t *d, const msgpack_object *m, const prep_recipe_t *rc)
{
    size_t p = rc->n_features, k = rc->task == TASK_MULTICLASS ? rc->n_classes : 1;
    uint64_t nf = s_get_u64(d, m, "n_features"), no = s_get_u64(d, m, "n_outputs");
    uint64_t nt = s_get_u64(d, m, "n_trees");
    const msgpack_object *roots = s_get(d, m, "roots", MSGPACK_OBJECT_BIN);
    const msgpack_object *nodes = s_get(d, m, "nodes", MSGPACK_OBJECT_BIN);
    const msgpack_object *sets = s_get(d, m, "cat_sets", MSGPACK_OBJECT_BIN);
    if (!d->failed && nf != p)
        s_fail(d, MLOPS_ECORRUPT, "n_features", "does not match the recipe");
    if (!d->failed && no != k)
        s_fail(d, MLOPS_ECORRUPT, "n_outputs", "does not match the recipe's task");
    if (!d->failed && (roots->via.bin.size / 4 != nt || roots->via.bin.size % 4 != 0))
        s_fail(d, MLOPS_ECORRUPT, "roots", "do not hold n_trees roots");
    if (!d->failed && nodes->via.bin.size % GBDT_NODE_BYTES != 0)
        s_fail(d, MLOPS_ECORRUPT, "nodes", "are not whole nodes");
    if (!d->failed && sets->via.bin.size % GBDT_SET_BYTES != 0)
        s_fail(d, MLOPS_ECORRUPT, "cat_sets", "are not whole level sets");
    double *base = d->failed ? NULL : s_get_doubles(d, m, "baseline", k);
    gbdt_t *g = d->failed ? NULL : s_gbdt_from(d, rc->task, p, k, base, roots, nodes, sets);
    free(base);
    return g;
}

//  A multiclass forest's leaves; *n_leaves rows of k. NULL when failed.
static double *s_dec_leaves(s_dec_t *d, const msgpack_object *m, size_t k, size_t *n_leaves)
{
    uint64_t nc = s_get_u64(d, m, "n_classes");
    const msgpack_object *lv = s_get(d, m, "leaves", MSGPACK_OBJECT_BIN);
    if (d->failed)
        return NULL;
    if (nc != k || lv->via.bin.size % (8 * k) != 0) {
        s_fail(d, MLOPS_ECORRUPT, "leaves", "do not match the recipe's classes");
        return NULL;
    }
    size_t nv = lv->via.bin.size / 8;
    double *v = malloc((nv ? nv : 1) * sizeof *v);
    if (!v) {
        s_fail(d, MLOPS_ENOMEM, "leaves", "do not fit in memory");
        return NULL;
    }
    const uint8_t *b = (const uint8_t *)lv->via.bin.ptr;
    for (size_t i = 0; i < nv; i++) {
        uint64_t bits = s_get_le(b + 8 * i, 8);
        memcpy(&v[i], &bits, 8);
    }
    *n_leaves = nv / k;
    return v;
}

static forest_t *s_dec_forest(s_dec_t *d, const msgpack_object *m, const prep_recipe_t *rc)
{
    size_t p = rc->n_features, n_leaves = 0;
    double *leaves = NULL;
    if (rc->task == TASK_MULTICLASS && !(leaves = s_dec_leaves(d, m, rc->n_classes, &n_leaves)))
        return NULL;
    uint64_t nf = s_get_u64(d, m, "n_features"), nt = s_get_u64(d, m, "n_trees");
    const msgpack_object *roots = s_get(d, m, "roots", MSGPACK_OBJECT_BIN);
    const msgpack_object *nodes = s_get(d, m, "nodes", MSGPACK_OBJECT_BIN);
    if (!d->failed && nf != p)
        s_fail(d, MLOPS_ECORRUPT, "n_features", "does not match the recipe");
    if (!d->failed && (nt == 0 || nt > FOREST_MAX_TREES || roots->via.bin.size != nt * 4 ||
                       nodes->via.bin.size % NODE_BYTES != 0))
        s_fail(d, MLOPS_ECORRUPT, "nodes", "has sizes that do not match n_trees");
    if (d->failed) {
        free(leaves);
        return NULL;
    }
    size_t nn = nodes->via.bin.size / NODE_BYTES;
    uint32_t *r = malloc(nt * sizeof *r);
    forest_node_t *v = malloc((nn ? nn : 1) * sizeof *v);
    forest_t *f = NULL;
    if (r && v) {
        const uint8_t *b = (const uint8_t *)roots->via.bin.ptr;
        for (size_t t = 0; t < nt; t++)
            r[t] = (uint32_t)s_get_le(b + 4 * t, 4);
        b = (const uint8_t *)nodes->via.bin.ptr;
        for (size_t k = 0; k < nn; k++) {
            uint64_t bits = s_get_le(b + NODE_BYTES * k, 8);
            memcpy(&v[k].value, &bits, 8);
            v[k].feature = (int32_t)(uint32_t)s_get_le(b + NODE_BYTES * k + 8, 4);
            v[k].left = (uint32_t)s_get_le(b + NODE_BYTES * k + 12, 4);
        }
        mlops_err_t e;
        f = forest_new_task(rc->task, p, rc->n_classes, nt, r, nn, v, n_leaves, leaves, &e);
        if (!f)
            s_fail(d, e.code, "nodes", e.msg);
    } else {
        s_fail(d, MLOPS_ENOMEM, "nodes", "do not fit in memory");
    }
    free(r);
    free(v);
    free(leaves);
    return f;
}

static int s_finite(const double *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static logreg_t *s_dec_logreg(s_dec_t *d, const msgpack_object *m, const prep_recipe_t *rc)
{
    size_t p = rc->n_features, k = rc->task == TASK_MULTICLASS ? rc->n_classes : 1;
    double *coef = s_get_doubles(d, m, "coef", k * p), b1 = 0, *b = &b1;
    if (rc->task == TASK_MULTICLASS)
        b = s_get_doubles(d, m, "intercepts", k);
    else
        b1 = s_get_num(d, m, "intercept");
    logreg_t *lr = NULL;
    if (!d->failed && (!s_finite(coef, k * p) || !s_finite(b, k)))
        s_fail(d, MLOPS_ECORRUPT, "coef", "holds a non-finite value");
    if (!d->failed && !(lr = logreg_new_task(rc->task, p, k, coef, b)))
        s_fail(d, MLOPS_ENOMEM, "coef", "does not fit in memory");
    free(coef);
    if (b != &b1)
        free(b);
    return lr;
}

/* --- artifacts ----------------------------------------------------------------- */

static void s_pack_metrics(msgpack_packer *pk, const metrics_t *m)
{
    msgpack_pack_map(pk, 10);
    s_key(pk, "accuracy"), msgpack_pack_double(pk, m->accuracy);
    s_key(pk, "precision"), msgpack_pack_double(pk, m->precision);
    s_key(pk, "recall"), msgpack_pack_double(pk, m->recall);
    s_key(pk, "f1"), msgpack_pack_double(pk, m->f1);
    s_key(pk, "auc"), msgpack_pack_double(pk, m->auc);
    s_key(pk, "log_loss"), msgpack_pack_double(pk, m->log_loss);
    s_key(pk, "tp"), msgpack_pack_int64(pk, m->tp);
    s_key(pk, "fp"), msgpack_pack_int64(pk, m->fp);
    s_key(pk, "tn"), msgpack_pack_int64(pk, m->tn);
    s_key(pk, "fn"), msgpack_pack_int64(pk, m->fn);
}

static void s_dec_metrics(s_dec_t *d, const msgpack_object *m, metrics_t *out)
{
    out->accuracy = s_get_num(d, m, "accuracy");
    out->precision = s_get_num(d, m, "precision");
    out->recall = s_get_num(d, m, "recall");
    out->f1 = s_get_num(d, m, "f1");
    out->auc = s_get_num(d, m, "auc");
    out->log_loss = s_get_num(d, m, "log_loss");
    out->tp = (int64_t)s_get_u64(d, m, "tp");
    out->fp = (int64_t)s_get_u64(d, m, "fp");
    out->tn = (int64_t)s_get_u64(d, m, "tn");
    out->fn = (int64_t)s_get_u64(d, m, "fn");
}

static void s_pack_score(msgpack_packer *pk, const score_t *s)
{
    if (s->task == TASK_REGRESSION) {
        msgpack_pack_map(pk, 3);
        s_key(pk, "r2"), msgpack_pack_double(pk, s->r2);
        s_key(pk, "rmse"), msgpack_pack_double(pk, s->rmse);
        s_key(pk, "mae"), msgpack_pack_double(pk, s->mae);
        return;
    }
    msgpack_pack_map(pk, 4);
    s_key(pk, "accuracy"), msgpack_pack_double(pk, s->accuracy);
    s_key(pk, "macro_f1"), msgpack_pack_double(pk, s->macro_f1);
    s_key(pk, "log_loss"), msgpack_pack_double(pk, s->log_loss);
    size_t cells = s->confusion ? s->n_classes * s->n_classes : 0;
    s_key(pk, "confusion"), msgpack_pack_array(pk, cells);
    for (size_t i = 0; i < cells; i++)
        msgpack_pack_int64(pk, s->confusion[i]);
}

//  The metrics map of the recipe's task into a->metrics / a->score.
static void s_dec_task_metrics(s_dec_t *d, const msgpack_object *m, const prep_recipe_t *r,
                               artifact_t *a)
{
    a->score.task = r->task;
    if (r->task == TASK_BINARY) {
        s_dec_metrics(d, m, &a->metrics);
        a->score.bin = a->metrics;
        return;
    }
    if (r->task == TASK_REGRESSION) {
        a->score.r2 = s_get_num(d, m, "r2");
        a->score.rmse = s_get_num(d, m, "rmse");
        a->score.mae = s_get_num(d, m, "mae");
        return;
    }
    a->score.accuracy = s_get_num(d, m, "accuracy");
    a->score.macro_f1 = s_get_num(d, m, "macro_f1");
    a->score.log_loss = s_get_num(d, m, "log_loss");
    const msgpack_object *cm = s_get(d, m, "confusion", MSGPACK_OBJECT_ARRAY);
    size_t k = r->n_classes;
    if (!cm || cm->via.array.size != k * k) {
        s_fail(d, MLOPS_ECORRUPT, "confusion", "is not n_classes x n_classes");
        return;
    }
    if (!(a->score.confusion = malloc(k * k * sizeof *a->score.confusion))) {
        s_fail(d, MLOPS_ENOMEM, "confusion", "does not fit in memory");
        return;
    }
    a->score.n_classes = k;
    for (size_t i = 0; i < k * k; i++) {
        const msgpack_object *e = &cm->via.array.ptr[i];
        if (e->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            s_fail(d, MLOPS_ECORRUPT, "confusion", "holds a non-count");
            return;
        }
        a->score.confusion[i] = (int64_t)e->via.u64;
    }
}

static task_t s_task_of(const artifact_t *a)
{
    return a->logreg ? a->logreg->task : a->forest ? a->forest->task : a->gbdt->task;
}

static int s_encode_body(const artifact_t *a, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    uint8_t *prof = NULL;
    size_t prof_len = 0;
    if (a->profile && profile_encode(a->profile, &prof, &prof_len) != 0)
        return MLOPS_ENOMEM;
    msgpack_pack_map(&pk, a->profile ? 10 : 9);
    s_key(&pk, "family"), s_str(&pk, a->family);
    s_key(&pk, "params"), s_str(&pk, a->params);
    s_key(&pk, "seed"), msgpack_pack_uint64(&pk, a->seed);
    s_key(&pk, "recipe"), s_bin(&pk, a->recipe, a->recipe_len);
    s_key(&pk, "model");
    if (a->logreg && a->logreg->task == TASK_MULTICLASS) {
        msgpack_pack_map(&pk, 2);
        s_key(&pk, "coef");
        s_doubles(&pk, a->logreg->coef, a->logreg->n_classes * a->logreg->n_features);
        s_key(&pk, "intercepts"), s_doubles(&pk, a->logreg->intercepts, a->logreg->n_classes);
    } else if (a->logreg) {
        msgpack_pack_map(&pk, 2);
        s_key(&pk, "coef"), s_doubles(&pk, a->logreg->coef, a->logreg->n_features);
        s_key(&pk, "intercept"), msgpack_pack_double(&pk, a->logreg->intercept);
    } else if (a->forest) {
        s_pack_forest(&pk, a->forest);
    } else {
        s_pack_gbdt(&pk, a->gbdt);
    }
    s_key(&pk, "signature"), s_str(&pk, a->signature ? a->signature : "{}");
    s_key(&pk, "metrics");
    if (s_task_of(a) == TASK_BINARY)
        s_pack_metrics(&pk, &a->metrics);
    else
        s_pack_score(&pk, &a->score);
    s_key(&pk, "n_train"), msgpack_pack_uint64(&pk, a->n_train);
    s_key(&pk, "n_test"), msgpack_pack_uint64(&pk, a->n_test);
    //  last, and only when there is one: a body without it keeps its old bytes
    if (a->profile)
        s_key(&pk, "profile"), s_bin(&pk, prof, prof_len);
    free(prof);
    return sb->data ? 0 : MLOPS_ENOMEM;
}

int artifact_encode(const artifact_t *a, uint8_t **out, size_t *out_len)
{
    int is_lr = strcmp(a->family, "logreg") == 0, is_rf = strcmp(a->family, "forest") == 0;
    int is_gb = strcmp(a->family, "gbdt") == 0;
    if ((is_lr && !a->logreg) || (is_rf && !a->forest) || (is_gb && !a->gbdt) ||
        (!is_lr && !is_rf && !is_gb))
        return MLOPS_EINVAL;
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    if (s_encode_body(a, &body) != 0) {
        msgpack_sbuffer_destroy(&body);
        return MLOPS_ENOMEM;
    }
    char hex[HASH_HEX_LEN + 1];
    hash_sha256_hex(body.data, body.size, hex);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    s_str(&pk, ARTIFACT_MAGIC);
    //  format 1 only for what format 1 knew: binary logreg and forest models
    int old = s_task_of(a) == TASK_BINARY && !is_gb;
    msgpack_pack_uint32(&pk, old ? ARTIFACT_FORMAT_BINARY : ARTIFACT_FORMAT);
    s_str(&pk, hex);
    s_bin(&pk, body.data, body.size);
    msgpack_sbuffer_destroy(&body);
    return s_take(&sb, out, out_len);
}

void artifact_clear(artifact_t *a)
{
    free(a->recipe);
    logreg_destroy(&a->logreg);
    forest_destroy(&a->forest);
    gbdt_destroy(&a->gbdt);
    free(a->signature);
    score_clear(&a->score);
    profile_destroy(&a->profile);
    memset(a, 0, sizeof *a);
}

//  Reads the envelope: magic, format, digest. Points *body at the body bytes.
static int s_envelope(s_dec_t *d, const uint8_t *blob, size_t len, const uint8_t **body,
                      size_t *body_len, uint64_t *format)
{
    //  The magic comes first on the wire: 0x94 (array of 4), 0xae (str 14).
    static const uint8_t head[] = {0x94, 0xae, 'm', 'l', 'o', 'p', 's', '-', 'a',
                                   'r',  't',  'i', 'f', 'a', 'c', 't'};
    size_t cmp = len < sizeof head ? len : sizeof head;
    d->failed = 1;
    if (len == 0 || memcmp(blob, head, cmp) != 0) {
        d->code = MLOPS_EFOREIGN;
        return mlops_err_set(d->err, MLOPS_EFOREIGN, "not a model artifact (no '%s' magic)",
                             ARTIFACT_MAGIC);
    }
    msgpack_unpacked u;
    size_t used = 0;
    mlops_err_t e;
    if (len < sizeof head || mpcheck_object(blob, len, 2, &used, &e) != 0) {
        d->code = MLOPS_ECORRUPT;
        return mlops_err_set(d->err, MLOPS_ECORRUPT,
                             "artifact truncated: %zu bytes do not hold a whole artifact", len);
    }
    d->failed = 0;
    if (used != len)
        return s_fail(d, MLOPS_ECORRUPT, "envelope", "is followed by trailing bytes");
    if (s_unpack(d, blob, len, &u) != 0)
        return MLOPS_ECORRUPT;
    const msgpack_object *o = &u.data;
    int rc = 0;
    if (o->via.array.size != 4 || o->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        o->via.array.ptr[2].type != MSGPACK_OBJECT_STR ||
        o->via.array.ptr[2].via.str.size != HASH_HEX_LEN ||
        o->via.array.ptr[3].type != MSGPACK_OBJECT_BIN) {
        rc = s_fail(d, MLOPS_ECORRUPT, "envelope", "is not [magic, format, sha256, body]");
    } else if (o->via.array.ptr[1].via.u64 > ARTIFACT_FORMAT) {
        d->failed = 1;
        d->code = MLOPS_EVERSION;
        rc = mlops_err_set(d->err, MLOPS_EVERSION,
                           "artifact format %llu is newer than this build reads (%d)",
                           (unsigned long long)o->via.array.ptr[1].via.u64, ARTIFACT_FORMAT);
    } else {
        const msgpack_object *b = &o->via.array.ptr[3];
        char hex[HASH_HEX_LEN + 1];
        hash_sha256_hex(b->via.bin.ptr, b->via.bin.size, hex);
        if (memcmp(hex, o->via.array.ptr[2].via.str.ptr, HASH_HEX_LEN) != 0) {
            d->failed = 1;
            d->code = MLOPS_ECORRUPT;
            rc = mlops_err_set(d->err, MLOPS_ECORRUPT,
                               "artifact corrupt: body sha256 %.12s... does not match the "
                               "recorded %.12s...",
                               hex, o->via.array.ptr[2].via.str.ptr);
        }
        *format = o->via.array.ptr[1].via.u64;
        //  The body lives inside blob: point at it there, not in the zone.
        *body = (const uint8_t *)b->via.bin.ptr;
        *body_len = b->via.bin.size;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

//  The optional reference profile: absent is fine (no drift watch), but a
//  present one must decode and fit the recipe.
static void s_dec_profile(s_dec_t *d, const msgpack_object *m, const prep_recipe_t *r,
                          artifact_t *a)
{
    const msgpack_object *o = s_peek(m, "profile");
    if (!o || d->failed)
        return;
    if (o->type != MSGPACK_OBJECT_BIN) {
        s_fail(d, MLOPS_ECORRUPT, "profile", "has the wrong type");
        return;
    }
    mlops_err_t e = {0};
    a->profile = profile_decode((const uint8_t *)o->via.bin.ptr, o->via.bin.size, &e);
    if (a->profile && profile_fit_check(a->profile, r, &e) != 0)
        profile_destroy(&a->profile);
    if (!a->profile) {
        d->code = e.code == MLOPS_ENOMEM ? MLOPS_ENOMEM : MLOPS_ECORRUPT;
        d->failed = 1;
        mlops_err_set(d->err, d->code, "%s: 'profile' is not a reference profile: %s", d->what,
                      e.msg);
    }
}

static int s_dec_body(s_dec_t *d, const msgpack_object *m, uint64_t format, artifact_t *a)
{
    char *family = s_get_str(d, m, "family");
    char *params = s_get_str(d, m, "params");
    if (family && strcmp(family, "logreg") != 0 && strcmp(family, "forest") != 0 &&
        strcmp(family, "gbdt") != 0)
        s_fail(d, MLOPS_ECORRUPT, "family", "is not logreg, forest or gbdt");
    else if (family && strcmp(family, "gbdt") == 0 && format < ARTIFACT_FORMAT_GBDT)
        s_fail(d, MLOPS_ECORRUPT, "family", "gbdt needs format 2 or newer");
    if (family)
        snprintf(a->family, sizeof a->family, "%s", family);
    if (params)
        snprintf(a->params, sizeof a->params, "%s", params);
    free(family);
    free(params);
    a->seed = s_get_u64(d, m, "seed");
    a->n_train = s_get_u64(d, m, "n_train");
    a->n_test = s_get_u64(d, m, "n_test");
    a->signature = s_get_str(d, m, "signature");
    const msgpack_object *met = s_get(d, m, "metrics", MSGPACK_OBJECT_MAP);
    const msgpack_object *rb = s_get(d, m, "recipe", MSGPACK_OBJECT_BIN);
    const msgpack_object *model = s_get(d, m, "model", MSGPACK_OBJECT_MAP);
    if (d->failed)
        return MLOPS_ECORRUPT;
    a->recipe = malloc(rb->via.bin.size ? rb->via.bin.size : 1);
    if (!a->recipe)
        return s_fail(d, MLOPS_ENOMEM, "recipe", "does not fit in memory");
    memcpy(a->recipe, rb->via.bin.ptr, rb->via.bin.size);
    a->recipe_len = rb->via.bin.size;
    prep_recipe_t *r = s_recipe_from(d, a->recipe, a->recipe_len);
    if (!r)
        return MLOPS_ECORRUPT;
    d->what = "artifact model";
    if (strcmp(a->family, "logreg") == 0)
        a->logreg = s_dec_logreg(d, model, r);
    else if (strcmp(a->family, "forest") == 0)
        a->forest = s_dec_forest(d, model, r);
    else
        a->gbdt = s_dec_gbdt(d, model, r);
    d->what = "artifact";
    s_dec_task_metrics(d, met, r, a);
    s_dec_profile(d, m, r, a);
    prep_destroy(&r);
    return d->failed ? MLOPS_ECORRUPT : 0;
}

int artifact_decode(const uint8_t *blob, size_t len, artifact_t *a, mlops_err_t *err)
{
    memset(a, 0, sizeof *a);
    s_dec_t d = {err, "artifact", 0, 0};
    const uint8_t *body = NULL;
    size_t body_len = 0;
    uint64_t format = 0;
    int rc = s_envelope(&d, blob, len, &body, &body_len, &format);
    if (rc != 0)
        return rc;
    msgpack_unpacked u;
    if (s_unpack(&d, body, body_len, &u) != 0)
        return d.code;
    rc = s_dec_body(&d, &u.data, format, a);
    msgpack_unpacked_destroy(&u);
    if (rc != 0 || d.failed) {
        rc = d.code ? d.code : MLOPS_ECORRUPT;
        artifact_clear(a);
    }
    return rc;
}
