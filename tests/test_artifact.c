/*  test_artifact.c: the artifact and recipe codecs (ml/artifact.c): round
    trips (decode then encode gives the same bytes; a decoded recipe gives
    the same features) and every decode refusal: the envelope (foreign,
    truncated, trailing bytes, shape, newer format, digest), the body and
    the recipe (a key missing, of the wrong type, out of range, inconsistent
    with another), each with its code and the key it names.

    Bodies and recipes are altered by re-packing the good ones with one key
    replaced or dropped, then wrapped with a correct digest, so each case
    reaches the check it is aimed at.
*/
#include "artifact.h"
#include "hash.h"
#include "ml_fixtures.h"
#include "profile_fit.h"
#include "testing.h"

#include <msgpack.h>

typedef void (*s_put_fn)(msgpack_packer *pk);

static void s_put_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static int s_is_key(const msgpack_object *k, const char *key)
{
    return key && k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key)
        && memcmp(k->via.str.ptr, key, k->via.str.size) == 0;
}

//  Packs o again, with every value under key replaced by what put packs,
//  or the entry dropped when put is NULL.
static void s_repack(msgpack_packer *pk, const msgpack_object *o, const char *key, s_put_fn put)
{
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        msgpack_pack_array(pk, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            s_repack(pk, &o->via.array.ptr[i], key, put);
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < o->via.map.size; i++)
            n += put || !s_is_key(&o->via.map.ptr[i].key, key);
        msgpack_pack_map(pk, n);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (s_is_key(&kv->key, key) && !put)
                continue;
            msgpack_pack_object(pk, kv->key);
            if (s_is_key(&kv->key, key))
                put(pk);
            else
                s_repack(pk, &kv->val, key, put);
        }
    } else {
        msgpack_pack_object(pk, *o);
    }
}

//  data re-packed with key altered, into a new buffer (caller frees).
static uint8_t *s_altered(const uint8_t *data, size_t len, const char *key, s_put_fn put,
                          size_t *out_len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, (const char *)data, len, &off) != MSGPACK_UNPACK_SUCCESS)
        abort();
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    s_repack(&pk, &u.data, key, put);
    msgpack_unpacked_destroy(&u);
    *out_len = sb.size;
    return (uint8_t *)sb.data;
}

//  An envelope [magic, format, sha256(body), body] around body.
static uint8_t *s_wrap(const uint8_t *body, size_t len, uint64_t format, size_t *out_len)
{
    char hex[HASH_HEX_LEN + 1];
    hash_sha256_hex(body, len, hex);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    s_put_str(&pk, ARTIFACT_MAGIC);
    msgpack_pack_uint64(&pk, format);
    s_put_str(&pk, hex);
    msgpack_pack_bin(&pk, len);
    msgpack_pack_bin_body(&pk, body, len);
    *out_len = sb.size;
    return (uint8_t *)sb.data;
}

//  The body bytes of a good artifact (borrowed from blob).
static const uint8_t *s_body(const uint8_t *blob, size_t len, size_t *body_len)
{
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    if (msgpack_unpack_next(&u, (const char *)blob, len, &off) != MSGPACK_UNPACK_SUCCESS)
        abort();
    const msgpack_object *b = &u.data.via.array.ptr[3];
    const uint8_t *body = blob + ((const uint8_t *)b->via.bin.ptr - blob);
    *body_len = b->via.bin.size;
    msgpack_unpacked_destroy(&u);
    return body;
}

//  artifact_decode of the good artifact's body with key altered: its code,
//  and err filled.
static int s_decode_altered(const fx_trained_t *s, int k, const char *key, s_put_fn put,
                            mlops_err_t *err)
{
    size_t body_len, alt_len, len;
    const uint8_t *body = s_body(s->blob[k], s->len[k], &body_len);
    uint8_t *alt = s_altered(body, body_len, key, put, &alt_len);
    uint8_t *blob = s_wrap(alt, alt_len, ARTIFACT_FORMAT, &len);
    artifact_t a;
    int rc = artifact_decode(blob, len, &a, err);
    artifact_clear(&a);
    free(blob);
    free(alt);
    return rc;
}

//  artifact_recipe_decode of the trained recipe with key altered: NULL
//  expected, so the code is returned (0 when it decoded after all).
static int s_recipe_altered(const fx_trained_t *s, const char *key, s_put_fn put,
                            mlops_err_t *err)
{
    size_t alt_len;
    uint8_t *alt = s_altered(s->pr.recipe, s->pr.recipe_len, key, put, &alt_len);
    prep_recipe_t *r = artifact_recipe_decode(alt, alt_len, err);
    int rc = r ? 0 : err->code;
    prep_destroy(&r);
    free(alt);
    return rc;
}

static void s_put_svm_fn(msgpack_packer *pk) { s_put_str(pk, "svm"); }
static void s_put_text_fn(msgpack_packer *pk) { s_put_str(pk, "text"); }
static void s_put_titanic_fn(msgpack_packer *pk) { s_put_str(pk, "titanic"); }
static void s_put_nil_fn(msgpack_packer *pk) { msgpack_pack_nil(pk); }
static void s_put_map_fn(msgpack_packer *pk) { msgpack_pack_map(pk, 0); }
static void s_put_nine_fn(msgpack_packer *pk) { msgpack_pack_uint64(pk, 9); }
static void s_put_zero_fn(msgpack_packer *pk) { msgpack_pack_uint64(pk, 0); }
static void s_put_nul_fn(msgpack_packer *pk)
{
    msgpack_pack_str(pk, 3);
    msgpack_pack_str_body(pk, "a\0b", 3);
}
static void s_put_short_fn(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_double(pk, 1);
}
static void s_put_zeros_fn(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 16);
    for (int j = 0; j < 16; j++)
        msgpack_pack_double(pk, 0);
}
static void s_put_bad_recipe_fn(msgpack_packer *pk)
{
    msgpack_pack_bin(pk, 2);
    msgpack_pack_bin_body(pk, "\x81\xa1", 2);
}
static void s_put_gbdt_fn(msgpack_packer *pk) { s_put_str(pk, "gbdt"); }
static void s_put_two_fn(msgpack_packer *pk) { msgpack_pack_uint64(pk, 2); }
static void s_put_odd_bin_fn(msgpack_packer *pk)
{
    msgpack_pack_bin(pk, 5);
    msgpack_pack_bin_body(pk, "\0\0\0\0\0", 5);
}
static void s_put_nan_base_fn(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 1);
    msgpack_pack_double(pk, NAN);
}
static void s_put_inf_fn(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 16);
    for (int j = 0; j < 16; j++)
        msgpack_pack_double(pk, j ? 0 : INFINITY);
}

static void test_decode_then_encode_gives_the_same_bytes(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    for (int k = 0; k < FX_FAMILIES; k++) {
        artifact_t a;
        mlops_err_t err;
        CHECK_INT(artifact_decode(s.blob[k], s.len[k], &a, &err), 0);
        CHECK_STR(a.family, fx_families[k]);
        CHECK(k == 2 ? a.gbdt != NULL : k ? a.forest != NULL : a.logreg != NULL);
        //  binary logreg and forest keep format 1; a gbdt is format 2 whatever its task
        CHECK_INT(s.blob[k][16], k == 2 ? ARTIFACT_FORMAT_GBDT : ARTIFACT_FORMAT_BINARY);
        CHECK_INT(a.n_train + a.n_test, FX_TRAINED_ROWS);
        uint8_t *again = NULL;
        size_t len = 0;
        CHECK_INT(artifact_encode(&a, &again, &len), 0);
        artifact_clear(&a);
        CHECK(a.recipe == NULL && a.signature == NULL); //  cleared and zeroed
        CHECK_INT(len, s.len[k]);
        CHECK(memcmp(again, s.blob[k], len) == 0);
        free(again);
        //  re-packing the body untouched changes nothing either (the
        //  alterations below start from exactly the trained bytes)
        size_t body_len, same_len;
        const uint8_t *body = s_body(s.blob[k], s.len[k], &body_len);
        uint8_t *same = s_altered(body, body_len, NULL, NULL, &same_len);
        CHECK_INT(same_len, body_len);
        CHECK(memcmp(same, body, body_len) == 0);
        free(same);
    }
    //  a family with no model is not encoded
    artifact_t none = {.family = "logreg"};
    uint8_t *out = NULL;
    size_t out_len = 0;
    CHECK_INT(artifact_encode(&none, &out, &out_len), MLOPS_EINVAL);
    artifact_t no_gbdt = {.family = "gbdt"};
    CHECK_INT(artifact_encode(&no_gbdt, &out, &out_len), MLOPS_EINVAL);
    fx_trained_free(&s);
}

static void test_recipe_codec_round_trip_and_corruption(void)
{
    table_t *t = fx_generic(50);
    prep_recipe_t *r = fx_fit(t, "label");
    CHECK(r != NULL);
    uint8_t *blob = NULL;
    size_t len = 0;
    CHECK_INT(artifact_recipe_encode(r, &blob, &len), 0);
    mlops_err_t err;
    prep_recipe_t *back = artifact_recipe_decode(blob, len, &err);
    int same = back && back->n_features == r->n_features;
    double a[8], b[8];
    prep_cell_t cells[2] = {{.num = 1.7, .level = -2}, {.str = "green", .level = -2}};
    if (same) {
        prep_transform_row(r, cells, a);
        prep_transform_row(back, cells, b);
        same = memcmp(a, b, r->n_features * sizeof(double)) == 0;
    }
    prep_destroy(&back);
    CHECK(artifact_recipe_decode(blob, len - 3, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "truncated");
    //  the first key's name altered: "kind" becomes "kinx"
    uint8_t *p = memmem(blob, len, "kind", 4);
    CHECK(p != NULL);
    p[3] = 'x';
    CHECK(artifact_recipe_decode(blob, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "'kind' is missing");
    free(blob);
    prep_destroy(&r);
    table_destroy(&t);
    CHECK(same);
}

static void test_envelope_refusals(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    artifact_t a;
    mlops_err_t err;
    size_t body_len, len;
    const uint8_t *body = s_body(s.blob[0], s.len[0], &body_len);
    //  foreign: nothing, and a msgpack array that is not ours
    CHECK_INT(artifact_decode(s.blob[0], 0, &a, &err), MLOPS_EFOREIGN);
    CHECK_STR(err.msg, "not a model artifact (no 'mlops-artifact' magic)");
    CHECK_INT(artifact_decode((const uint8_t *)"\x94\xa1x", 3, &a, &err), MLOPS_EFOREIGN);
    //  the magic alone, cut short
    CHECK_INT(artifact_decode(s.blob[0], 10, &a, &err), MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "artifact truncated: 10 bytes");
    //  a newer format, with a correct digest
    uint8_t *blob = s_wrap(body, body_len, ARTIFACT_FORMAT + 1, &len);
    CHECK_INT(artifact_decode(blob, len, &a, &err), MLOPS_EVERSION);
    CHECK_STR(err.msg, "artifact format 3 is newer than this build reads (2)");
    free(blob);
    //  the same body wrapped again decodes: the wrapper is faithful
    blob = s_wrap(body, body_len, ARTIFACT_FORMAT, &len);
    CHECK_INT(artifact_decode(blob, len, &a, &err), 0);
    artifact_clear(&a);
    //  a digest that does not match
    blob[len - 1] ^= 0x01;
    CHECK_INT(artifact_decode(blob, len, &a, &err), MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "does not match the recorded");
    free(blob);
    //  three elements instead of four
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    s_put_str(&pk, ARTIFACT_MAGIC);
    msgpack_pack_uint64(&pk, 1);
    s_put_str(&pk, "x");
    sb.data[0] = (char)0x94; //  keep the magic's prefix: array of 4 ...
    CHECK_INT(artifact_decode((uint8_t *)sb.data, sb.size, &a, &err), MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "truncated"); //  ... whose fourth element is missing
    sb.data[0] = (char)0x93;
    CHECK_INT(artifact_decode((uint8_t *)sb.data, sb.size, &a, &err), MLOPS_EFOREIGN);
    msgpack_sbuffer_destroy(&sb);
    //  a body that is not a bin: [magic, 1, sha, "text"]
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    s_put_str(&pk, ARTIFACT_MAGIC);
    msgpack_pack_uint64(&pk, 1);
    char hex[HASH_HEX_LEN + 1];
    hash_sha256_hex("text", 4, hex);
    s_put_str(&pk, hex);
    s_put_str(&pk, "text");
    CHECK_INT(artifact_decode((uint8_t *)sb.data, sb.size, &a, &err), MLOPS_ECORRUPT);
    CHECK_STR(err.msg, "artifact: 'envelope' is not [magic, format, sha256, body]");
    msgpack_sbuffer_destroy(&sb);
    //  trailing bytes after a whole artifact
    uint8_t *longer = malloc(s.len[0] + 1);
    memcpy(longer, s.blob[0], s.len[0]);
    longer[s.len[0]] = 0xc0;
    CHECK_INT(artifact_decode(longer, s.len[0] + 1, &a, &err), MLOPS_ECORRUPT);
    CHECK_STR(err.msg, "artifact: 'envelope' is followed by trailing bytes");
    free(longer);
    fx_trained_free(&s);
}

static void test_body_refusals_name_the_key(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    mlops_err_t err;
    static const struct {
        int k;               //  0 logreg, 1 forest
        const char *key;     //  altered key
        s_put_fn put;        //  its new value, NULL: dropped
        int code;
        const char *msg;
    } cases[] = {
        {0, "family", NULL, MLOPS_ECORRUPT, "artifact: 'family' is missing"},
        {0, "family", s_put_svm_fn, MLOPS_ECORRUPT, "artifact: 'family' is not logreg, forest or gbdt"},
        {0, "family", s_put_nul_fn, MLOPS_ECORRUPT, "artifact: 'family' holds a NUL byte"},
        {0, "seed", s_put_text_fn, MLOPS_ECORRUPT, "artifact: 'seed' has the wrong type"},
        {0, "metrics", s_put_nil_fn, MLOPS_ECORRUPT, "artifact: 'metrics' has the wrong type"},
        {0, "signature", NULL, MLOPS_ECORRUPT, "artifact: 'signature' is missing"},
        {0, "recipe", s_put_text_fn, MLOPS_ECORRUPT, "artifact: 'recipe' has the wrong type"},
        {0, "recipe", s_put_bad_recipe_fn, MLOPS_ECORRUPT, "are not well-formed msgpack"},
        {0, "model", s_put_map_fn, MLOPS_ECORRUPT, "artifact model: 'coef' is missing"},
        {0, "coef", s_put_short_fn, MLOPS_ECORRUPT, "artifact model: 'coef' has the wrong length"},
        {0, "coef", s_put_inf_fn, MLOPS_ECORRUPT,
         "artifact model: 'coef' holds a non-finite value"},
        {1, "n_features", s_put_nine_fn, MLOPS_ECORRUPT,
         "artifact model: 'n_features' does not match the recipe"},
        {1, "n_trees", s_put_zero_fn, MLOPS_ECORRUPT,
         "artifact model: 'nodes' has sizes that do not match n_trees"},
        {1, "roots", NULL, MLOPS_ECORRUPT, "artifact model: 'roots' is missing"},
        {0, "family", s_put_gbdt_fn, MLOPS_ECORRUPT, "artifact model: 'n_features' is missing"},
        {2, "n_features", s_put_nine_fn, MLOPS_ECORRUPT,
         "artifact model: 'n_features' does not match the recipe"},
        {2, "n_outputs", s_put_two_fn, MLOPS_ECORRUPT,
         "artifact model: 'n_outputs' does not match the recipe's task"},
        {2, "n_trees", s_put_nine_fn, MLOPS_ECORRUPT,
         "artifact model: 'roots' do not hold n_trees roots"},
        {2, "roots", s_put_odd_bin_fn, MLOPS_ECORRUPT,
         "artifact model: 'roots' do not hold n_trees roots"},
        {2, "nodes", s_put_odd_bin_fn, MLOPS_ECORRUPT, "artifact model: 'nodes' are not whole"},
        {2, "cat_sets", s_put_odd_bin_fn, MLOPS_ECORRUPT,
         "artifact model: 'cat_sets' are not whole level sets"},
        {2, "cat_sets", s_put_nine_fn, MLOPS_ECORRUPT,
         "artifact model: 'cat_sets' has the wrong type"},
        {2, "baseline", s_put_nan_base_fn, MLOPS_ECORRUPT, "gbdt: baseline 0 is malformed"},
        {2, "baseline", s_put_zeros_fn, MLOPS_ECORRUPT,
         "artifact model: 'baseline' has the wrong length"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err.msg[0] = 0;
        int rc = s_decode_altered(&s, cases[i].k, cases[i].key, cases[i].put, &err);
        if (rc != cases[i].code || !strstr(err.msg, cases[i].msg))
            fprintf(stderr, "  case %zu (%s): %d %s\n", i, cases[i].key, rc, err.msg);
        CHECK_INT(rc, cases[i].code);
        CHECK_CONTAINS(err.msg, cases[i].msg);
    }
    fx_trained_free(&s);
}

static void test_body_checks_after_a_valid_digest(void)
{
    //  A body whose digest matches but whose forest is malformed: re-encode
    //  with a child index pointing backwards.
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    artifact_t a;
    mlops_err_t err;
    CHECK_INT(artifact_decode(s.blob[1], s.len[1], &a, &err), 0);
    CHECK(a.forest != NULL && a.forest->nodes[0].feature >= 0);
    a.forest->nodes[0].left = 0;
    uint8_t *bad;
    size_t bad_len;
    CHECK_INT(artifact_encode(&a, &bad, &bad_len), 0);
    artifact_clear(&a);
    CHECK(model_load(bad, bad_len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "node 0 is malformed");
    free(bad);
    //  the same for a gbdt: a child before its parent, then a leaf of NaN
    for (int c = 0; c < 2; c++) {
        CHECK_INT(artifact_decode(s.blob[2], s.len[2], &a, &err), 0);
        CHECK(a.gbdt != NULL && a.gbdt->nodes[0].feature >= 0);
        gbdt_node_t *nd = &a.gbdt->nodes[c ? a.gbdt->nodes[0].left : 0];
        if (c)
            nd->feature = -1, nd->value = NAN;
        else
            nd->left = 0;
        CHECK_INT(artifact_encode(&a, &bad, &bad_len), 0);
        CHECK(model_load(bad, bad_len, &err) == NULL);
        CHECK_INT(err.code, MLOPS_ECORRUPT);
        char want[64];
        snprintf(want, sizeof want, "gbdt: node %u is malformed",
                 c ? a.gbdt->nodes[0].left : 0);
        CHECK_CONTAINS(err.msg, want);
        artifact_clear(&a);
        free(bad);
    }
    //  a gbdt body in a format-1 envelope: format 1 never held one
    size_t body_len, len;
    const uint8_t *body = s_body(s.blob[2], s.len[2], &body_len);
    uint8_t *old = s_wrap(body, body_len, ARTIFACT_FORMAT_BINARY, &len);
    CHECK_INT(artifact_decode(old, len, &a, &err), MLOPS_ECORRUPT);
    CHECK_STR(err.msg, "artifact: 'family' gbdt needs format 2 or newer");
    free(old);
    fx_trained_free(&s);
}

static void test_recipe_refusals_name_the_key(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    mlops_err_t err;
    static const struct {
        const char *key;
        s_put_fn put;
        const char *msg;
    } cases[] = {
        {"kind", s_put_text_fn, "recipe: 'kind' is not titanic or generic"},
        {"target", NULL, "recipe: 'target' is missing"},
        {"negative", s_put_text_fn, "recipe: 'negative' has the wrong type"},
        {"inputs", s_put_map_fn, "recipe: 'inputs' has the wrong type"},
        {"type", s_put_nine_fn, "recipe: 'type' is not a known input type"},
        {"name", s_put_nine_fn, "recipe: 'name' has the wrong type"},
        {"levels", s_put_short_fn, "recipe: 'levels' is not a string"},
        {"features", s_put_short_fn, "recipe: 'features' does not match the inputs"},
        {"mean", s_put_short_fn, "recipe: 'mean' has the wrong length"},
        {"scale", s_put_zeros_fn, "recipe: 'scale' holds a non-positive or non-finite value"},
        {"scale", s_put_inf_fn, "recipe: 'scale' holds a non-positive or non-finite value"},
        {"closed", s_put_nine_fn, "recipe: 'closed' has the wrong type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err.msg[0] = 0;
        int rc = s_recipe_altered(&s, cases[i].key, cases[i].put, &err);
        if (rc != MLOPS_ECORRUPT || !strstr(err.msg, cases[i].msg))
            fprintf(stderr, "  case %zu (%s): %d %s\n", i, cases[i].key, rc, err.msg);
        CHECK_INT(rc, MLOPS_ECORRUPT);
        CHECK_CONTAINS(err.msg, cases[i].msg);
    }
    //  trailing data after a whole recipe
    uint8_t *longer = malloc(s.pr.recipe_len + 1);
    memcpy(longer, s.pr.recipe, s.pr.recipe_len);
    longer[s.pr.recipe_len] = 0xc0;
    CHECK(artifact_recipe_decode(longer, s.pr.recipe_len + 1, &err) == NULL);
    CHECK_STR(err.msg, "recipe: 'bytes' have trailing data");
    free(longer);
    //  a recipe that is not a map at all
    CHECK(artifact_recipe_decode((const uint8_t *)"\x91\x01", 2, &err) == NULL);
    CHECK_STR(err.msg, "recipe: 'kind' is in something that is not a map");
    fx_trained_free(&s);
}

//  A generic recipe relabelled titanic has the wrong inputs.
static void test_titanic_recipe_needs_its_inputs(void)
{
    table_t *t = fx_generic(50);
    prep_recipe_t *r = fx_fit(t, "label");
    CHECK(r != NULL);
    uint8_t *blob = NULL, *alt = NULL;
    size_t len = 0, alt_len = 0;
    CHECK_INT(artifact_recipe_encode(r, &blob, &len), 0);
    alt = s_altered(blob, len, "kind", s_put_titanic_fn, &alt_len);
    mlops_err_t err;
    CHECK(artifact_recipe_decode(alt, alt_len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_ECORRUPT);
    CHECK_STR(err.msg, "recipe: 'inputs' is not the Titanic recipe's 8 inputs");
    free(alt);
    free(blob);
    prep_destroy(&r);
    table_destroy(&t);
}

//  A profile of one number field "x": well-formed, but not the recipe's shape.
static void s_put_other_profile_fn(msgpack_packer *pk)
{
    profile_t *p = profile_new(1);
    const double edges[] = {1.0};
    uint8_t *b = NULL;
    size_t n = 0;
    if (!p || profile_set_number(p, 0, "x", edges, 1, NULL) != 0 || profile_encode(p, &b, &n))
        abort();
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, b, n);
    free(b);
    profile_destroy(&p);
}

//  Trained artifacts carry the training rows' profile as the body's last
//  key; one without it (made before profiles) loads with none and keeps
//  its bytes; a bad one is refused naming 'profile'.
static void test_reference_profile(void)
{
    fx_trained_t s;
    CHECK_INT(fx_train(&s, 42), 0);
    mlops_err_t err;
    for (int k = 0; k < FX_FAMILIES; k++) {
        artifact_t a;
        CHECK_INT(artifact_decode(s.blob[k], s.len[k], &a, &err), 0);
        CHECK(a.profile != NULL);
        prep_recipe_t *r = artifact_recipe_decode(a.recipe, a.recipe_len, &err);
        CHECK(r != NULL);
        CHECK_INT(profile_fit_check(a.profile, r, &err), 0);
        CHECK_INT(a.profile->rows, a.n_train);
        //  the broker's reading (no ml/): the same profile
        profile_t *seen = profile_from_artifact(s.blob[k], s.len[k], &err);
        CHECK(seen != NULL);
        CHECK_INT(profile_check_shape(a.profile, seen, &err), 0);
        CHECK(seen && seen->rows == a.profile->rows);
        profile_destroy(&seen);
        prep_destroy(&r);
        artifact_clear(&a);
        //  without the key: no profile, and encoding gives the old bytes back
        size_t body_len, old_len, len, again_len;
        const uint8_t *body = s_body(s.blob[k], s.len[k], &body_len);
        uint8_t *old = s_altered(body, body_len, "profile", NULL, &old_len);
        CHECK(old_len < body_len);
        uint8_t *blob = s_wrap(old, old_len, s.blob[k][16], &len);
        CHECK_INT(artifact_decode(blob, len, &a, &err), 0);
        CHECK(a.profile == NULL);
        CHECK(profile_from_artifact(blob, len, &err) == NULL);
        CHECK_INT(err.code, MLOPS_ENOTFOUND);
        uint8_t *again = NULL;
        CHECK_INT(artifact_encode(&a, &again, &again_len), 0);
        CHECK_INT(again_len, len);
        CHECK(again && memcmp(again, blob, len) == 0);
        artifact_clear(&a);
        free(again);
        free(blob);
        free(old);
    }
    CHECK(profile_from_artifact((const uint8_t *)"\x93\x01", 2, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK(profile_from_artifact((const uint8_t *)"\x91\x01", 2, &err) == NULL);
    CHECK_STR(err.msg, "artifact: not [magic, format, sha256, body]");
    CHECK_INT(s_decode_altered(&s, 1, "profile", s_put_text_fn, &err), MLOPS_ECORRUPT);
    CHECK_STR(err.msg, "artifact: 'profile' has the wrong type");
    CHECK_INT(s_decode_altered(&s, 1, "profile", s_put_bad_recipe_fn, &err), MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "artifact: 'profile' is not a reference profile: profile");
    CHECK_INT(s_decode_altered(&s, 0, "profile", s_put_other_profile_fn, &err), MLOPS_ECORRUPT);
    CHECK_CONTAINS(err.msg, "artifact: 'profile' is not a reference profile: profile: 1 fields");
    fx_trained_free(&s);
}

int main(void)
{
    RUN(test_decode_then_encode_gives_the_same_bytes);
    RUN(test_recipe_codec_round_trip_and_corruption);
    RUN(test_envelope_refusals);
    RUN(test_body_refusals_name_the_key);
    RUN(test_body_checks_after_a_valid_digest);
    RUN(test_recipe_refusals_name_the_key);
    RUN(test_titanic_recipe_needs_its_inputs);
    RUN(test_reference_profile);
    return TEST_REPORT("test_artifact");
}
