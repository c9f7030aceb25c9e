/*  test_profile.c: data profiles (proto/profile.c): shaping and its
    refusals, binning, the accumulator with unseen levels and missing
    values and without allocation, merge, JS distance and PSI against
    scipy (values computed with scipy 1.10.1 and written in), the codec's
    bytes against Python's msgpack, its round trip and every decode refusal.

    Refusal inputs are written as JSON (readable) and packed into msgpack
    here, keys in the order written; what JSON cannot say (NaN, counts that
    wrap) goes through the setters and the encoder, which share the checks. */
#include "profile.h"
#include "testing.h"

#include <jansson.h>
#include <malloc.h>
#include <msgpack.h>

#ifdef __SANITIZE_ADDRESS__
//  from libasan (sanitizer/allocator_interface.h, which gcc does not ship)
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));
#endif

/* --- helpers ---------------------------------------------------------------- */

//  Packs a JSON value as msgpack (integers shortest, reals float 64).
static void s_pack_json(msgpack_packer *pk, const json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, (uint32_t)json_object_size(j));
        json_object_foreach((json_t *)j, key, v) {
            msgpack_pack_str(pk, strlen(key));
            msgpack_pack_str_body(pk, key, strlen(key));
            s_pack_json(pk, v);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, (uint32_t)json_array_size(j));
        json_array_foreach(j, i, v)
            s_pack_json(pk, v);
        break;
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(j));
        msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        if (json_integer_value(j) < 0)
            msgpack_pack_int64(pk, json_integer_value(j));
        else
            msgpack_pack_uint64(pk, (uint64_t)json_integer_value(j));
        break;
    case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); break;
    case JSON_TRUE: msgpack_pack_true(pk); break;
    case JSON_FALSE: msgpack_pack_false(pk); break;
    case JSON_NULL: msgpack_pack_nil(pk); break;
    }
}

//  Decodes the msgpack of JSON text; returns the profile (or NULL, err set).
static profile_t *s_decode_json(const char *text, mlops_err_t *err)
{
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) {
        fprintf(stderr, "  bad JSON in the test: %s: %s\n", jerr.text, text);
        abort();
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    s_pack_json(&pk, j);
    json_decref(j);
    profile_t *p = profile_decode((const uint8_t *)sb.data, sb.size, err);
    msgpack_sbuffer_destroy(&sb);
    return p;
}

//  A profile with a number field "Fare" (edges 10, 20, 40) and a category
//  field "Sex" (levels male, female), counts zero.
static profile_t *s_two_fields(void)
{
    profile_t *p = profile_new(2);
    static const double edges[] = {10, 20, 40};
    static const char *const levels[] = {"male", "female"};
    if (!p || profile_set_number(p, 0, "Fare", edges, 3, NULL)
        || profile_set_category(p, 1, "Sex", levels, 2, NULL))
        profile_destroy(&p);
    return p;
}

//  Adds one row: Fare x (NaN = missing), Sex s (NULL = missing).
static void s_row(profile_t *p, double x, const char *s)
{
    profile_add_number(p, 0, x);
    profile_add_string(p, 1, s);
    profile_end_row(p);
}

//  A field over counts (the last one is missing), no name: for distances.
static profile_field_t s_counts(uint64_t *counts, size_t n)
{
    return (profile_field_t){.kind = PROFILE_NUMBER, .n_counts = n - 1, .counts = counts,
                             .missing = counts[n - 1]};
}

/* --- shaping, binning, accumulating ---------------------------------------- */

static void test_bins_are_upper_edges(void)
{
    profile_t *p = s_two_fields();
    CHECK(p != NULL);
    const profile_field_t *f = &p->fields[0];
    CHECK_INT(f->n_counts, 4);
    double xs[] = {-INFINITY, 3, 10, 10.5, 20, 39.9, 40, 41, INFINITY};
    int want[] = {0, 0, 0, 1, 1, 2, 2, 3, 3};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
        CHECK_INT(profile_bin(f, xs[i]), want[i]);
    CHECK_INT(p->fields[1].n_counts, 3);   //  male, female, unseen
    profile_destroy(&p);
    CHECK(p == NULL);
    profile_destroy(&p);   //  NULL is ignored
}

static void test_accumulator_unseen_and_missing(void)
{
    profile_t *p = s_two_fields();
    CHECK(p != NULL);
    s_row(p, 5, "male");
    s_row(p, 15, "female");
    s_row(p, NAN, "other");   //  missing Fare, unseen Sex
    s_row(p, 100, NULL);      //  missing Sex
    profile_add_missing(p, 0);
    profile_add_level(p, 1, 1);     //  female
    profile_end_row(p);
    profile_add_number(p, 0, 25);
    profile_add_level(p, 1, -1);    //  unseen
    profile_end_row(p);
    profile_add_number(p, 0, 25);
    profile_add_level(p, 1, 2);     //  past the levels: unseen
    profile_end_row(p);
    CHECK_INT(p->rows, 7);
    const uint64_t fare[] = {1, 1, 2, 1}, sex[] = {1, 2, 3};
    CHECK(memcmp(p->fields[0].counts, fare, sizeof fare) == 0);
    CHECK_INT(p->fields[0].missing, 2);
    CHECK(memcmp(p->fields[1].counts, sex, sizeof sex) == 0);
    CHECK_INT(p->fields[1].missing, 1);
    profile_reset(p);
    CHECK_INT(p->rows, 0);
    CHECK_INT(p->fields[0].counts[2] + p->fields[0].missing + p->fields[1].counts[2], 0);
    profile_destroy(&p);
}

#ifdef __SANITIZE_ADDRESS__
static volatile int s_counting, s_allocs;
static void s_malloc_hook_fn(const volatile void *ptr, size_t size)
{
    (void)ptr, (void)size;
    if (s_counting)
        s_allocs++;
}
static void s_free_hook_fn(const volatile void *ptr)
{
    (void)ptr;
}
#endif

//  Allocations made by adding rows to a live profile. Under ASan every
//  malloc is counted through its hooks; elsewhere (make valgrind) the bytes
//  in use before and after are compared.
static long s_allocations_while_adding(profile_t *live)
{
#ifdef __SANITIZE_ADDRESS__
    static int installed;
    if (!installed++)
        __sanitizer_install_malloc_and_free_hooks(s_malloc_hook_fn, s_free_hook_fn);
    s_allocs = 0;
    s_counting = 1;
#else
    size_t before = mallinfo2().uordblks;
#endif
    for (int i = 0; i < 10000; i++)
        s_row(live, i % 50, i % 3 == 0 ? "male" : i % 3 == 1 ? "female" : "child");
#ifdef __SANITIZE_ADDRESS__
    s_counting = 0;
    return s_allocs;
#else
    return (long)(mallinfo2().uordblks - before);
#endif
}

static void test_no_allocation_after_creation(void)
{
    profile_t *ref = s_two_fields();
    profile_t *live = ref ? profile_new_like(ref) : NULL;
    CHECK(live != NULL);
    long allocs = s_allocations_while_adding(live);
    CHECK_INT(live->rows, 10000);
    CHECK_INT(live->fields[1].counts[2], 3333);
    profile_destroy(&live);
    profile_destroy(&ref);
    CHECK_INT(allocs, 0);
}

static void test_set_refusals(void)
{
    profile_t *p = profile_new(3);
    mlops_err_t err;
    double bad_nan[] = {1, NAN}, flat[] = {1, 1}, many[PROFILE_EDGES_MAX + 1];
    for (int i = 0; i <= PROFILE_EDGES_MAX; i++)
        many[i] = i;
    CHECK_INT(profile_set_number(p, 0, "", NULL, 0, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "fields[0].name: is empty");
    CHECK_INT(profile_set_number(p, 0, "Age", bad_nan, 2, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "fields[0].edges[1]: nan is not finite and above the edge before");
    CHECK_INT(profile_set_number(p, 0, "Age", flat, 2, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "fields[0].edges[1]: 1 is not finite and above");
    CHECK_INT(profile_set_number(p, 0, "Age", many, PROFILE_EDGES_MAX + 1, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "fields[0]: over 31 edges or 64 levels");
    CHECK_INT(profile_set_number(p, 0, "Age", flat, 1, &err), 0);
    CHECK_INT(profile_set_number(p, 1, "Age", flat, 1, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "fields[1].name: repeats fields[0]");
    const char *dup[] = {"S", "C", "S"}, *empty[] = {"S", ""};
    CHECK_INT(profile_set_category(p, 1, "Embarked", dup, 3, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "fields[1].levels[2]: repeats levels[0]");
    CHECK_INT(profile_set_category(p, 1, "Embarked", empty, 2, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "fields[1].levels[1]: is empty");
    CHECK_INT(profile_set_category(p, 1, "Embarked", dup, 2, &err), 0);
    profile_destroy(&p);
    CHECK(profile_new(PROFILE_FIELDS_MAX + 1) == NULL);
}

/* --- merge and distances ---------------------------------------------------- */

static void test_merge_adds_counts(void)
{
    profile_t *a = s_two_fields(), *b = a ? profile_new_like(a) : NULL;
    CHECK(b != NULL);
    s_row(a, 5, "male");
    s_row(b, 5, "female");
    s_row(b, NAN, NULL);
    mlops_err_t err;
    CHECK_INT(profile_merge(a, b, &err), 0);
    CHECK_INT(a->rows, 3);
    CHECK_INT(a->fields[0].counts[0], 2);
    CHECK_INT(a->fields[0].missing, 1);
    CHECK_INT(a->fields[1].counts[1], 1);
    CHECK_INT(b->rows, 2);   //  from is untouched
    profile_destroy(&a);
    profile_destroy(&b);
}

static void test_merge_refuses_other_shapes_and_wraps(void)
{
    profile_t *a = s_two_fields(), *b = profile_new(2);
    double edges[] = {10, 20, 41};
    const char *levels[] = {"male", "female"};
    CHECK(a && b && profile_set_number(b, 0, "Fare", edges, 3, NULL) == 0
          && profile_set_category(b, 1, "Sex", levels, 2, NULL) == 0);
    s_row(a, 5, "male");
    mlops_err_t err;
    CHECK_INT(profile_merge(a, b, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "profile: fields[0] has other edges than the reference's Fare");
    profile_t *c = profile_new(1);
    CHECK(c && profile_set_number(c, 0, "Fare", edges, 3, NULL) == 0);
    CHECK_INT(profile_check_shape(a, c, &err), MLOPS_EPROTO);
    CHECK_STR(err.msg, "profile: 1 fields, the reference has 2");
    profile_destroy(&c);
    profile_destroy(&b);
    b = profile_new_like(a);
    CHECK(b != NULL);
    b->fields[1].counts[0] = UINT64_MAX;
    CHECK_INT(profile_merge(a, b, &err), MLOPS_ETOOBIG);
    CHECK_INT(a->rows, 1);   //  unchanged
    CHECK_INT(a->fields[0].counts[0], 1);
    CHECK_INT(a->fields[1].counts[0], 1);
    profile_destroy(&a);
    profile_destroy(&b);
}

static void test_js_and_psi_as_scipy(void)
{
    //  scipy.spatial.distance.jensenshannon(p, q, base=2); PSI with empty
    //  shares at 1e-4: sum((q - p) * log(q / p))
    static const struct {
        uint64_t p[4], q[4];
        size_t n;
        double js, psi;
    } cases[] = {
        {{10, 20, 30, 40}, {40, 30, 20, 10}, 4, 0.391868160647155, 0.912869638293567},
        {{0, 50, 50, 0}, {25, 0, 75, 0}, 4, 0.627021433816925, 6.31434025152901},
        {{1, 0, 0}, {0, 0, 1}, 3, 1, 18.418838675878},
        {{5, 5, 0, 0}, {5, 5, 0, 0}, 4, 0, 0},
        {{300, 200, 100, 7}, {290, 210, 95, 12}, 4, 0.0333609671031079, 0.00622465590453431},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        uint64_t p[4], q[4];
        memcpy(p, cases[c].p, sizeof p);
        memcpy(q, cases[c].q, sizeof q);
        profile_field_t a = s_counts(p, cases[c].n), b = s_counts(q, cases[c].n);
        CHECK_NEAR(profile_js(&a, &b), cases[c].js, 1e-12);
        CHECK_NEAR(profile_js(&b, &a), cases[c].js, 1e-12);   //  symmetric
        CHECK_NEAR(profile_psi(&a, &b), cases[c].psi, 1e-9);
    }
    uint64_t some[] = {1, 2, 3}, none[] = {0, 0, 0};
    profile_field_t a = s_counts(some, 3), z = s_counts(none, 3);
    CHECK_NEAR(profile_js(&a, &z), 0, 0);   //  no rows, no evidence
    CHECK_NEAR(profile_psi(&z, &a), 0, 0);
}

/* --- the codec --------------------------------------------------------------- */

static void test_bytes_as_python(void)
{
    //  msgpack.packb({"version": 1, "rows": 2, "fields": [{"name": "a",
    //  "kind": "number", "edges": [0.5], "counts": [1, 1], "missing": 0}]},
    //  use_bin_type=True)
    static const uint8_t want[] =
        "\x83\xa7version\x01\xa4rows\x02\xa6" "fields\x91\x85\xa4name\xa1"
        "a\xa4kind\xa6number\xa5" "edges\x91\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00"
        "\xa6" "counts\x92\x01\x01\xa7missing\x00";
    profile_t *p = profile_new(1);
    double e = 0.5;
    CHECK(p && profile_set_number(p, 0, "a", &e, 1, NULL) == 0);
    profile_add_number(p, 0, 0.25);
    profile_end_row(p);
    profile_add_number(p, 0, 0.75);
    profile_end_row(p);
    uint8_t *buf = NULL;
    size_t len = 0;
    CHECK_INT(profile_encode(p, &buf, &len), 0);
    profile_destroy(&p);
    int same = len == sizeof want - 1 && memcmp(buf, want, len) == 0;
    free(buf);
    CHECK(same);
}

static void test_round_trip(void)
{
    profile_t *p = s_two_fields();
    CHECK(p != NULL);
    for (int i = 0; i < 100; i++)
        s_row(p, i % 7 == 0 ? NAN : i, i % 5 == 0 ? NULL : i % 3 ? "male" : "female");
    uint8_t *buf = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    CHECK_INT(profile_encode(p, &buf, &len), 0);
    mlops_err_t err;
    profile_t *q = profile_decode(buf, len, &err);
    int ok = q && profile_check_shape(p, q, NULL) == 0 && q->rows == 100
          && memcmp(q->fields[0].counts, p->fields[0].counts, 4 * sizeof(uint64_t)) == 0
          && memcmp(q->fields[1].counts, p->fields[1].counts, 3 * sizeof(uint64_t)) == 0
          && q->fields[0].missing == p->fields[0].missing
          && q->fields[1].missing == p->fields[1].missing
          && profile_encode(q, &again, &len2) == 0 && len2 == len
          && memcmp(buf, again, len) == 0;
    free(buf);
    free(again);
    profile_destroy(&p);
    profile_destroy(&q);
    CHECK(ok);
    //  an empty profile too
    p = profile_new(0);
    CHECK(p && profile_encode(p, &buf, &len) == 0);
    q = profile_decode(buf, len, &err);
    free(buf);
    profile_destroy(&p);
    CHECK(q && q->n_fields == 0);
    profile_destroy(&q);
}

static void test_encode_refuses_counts_that_do_not_add_up(void)
{
    profile_t *p = s_two_fields();
    CHECK(p != NULL);
    s_row(p, 5, "male");
    uint8_t *buf = NULL;
    size_t len = 0;
    p->fields[1].counts[2] = 1;   //  two values in one row
    CHECK_INT(profile_encode(p, &buf, &len), MLOPS_EINVAL);
    p->fields[1].counts[0] = UINT64_MAX;   //  a sum that wraps to rows
    p->fields[1].counts[2] = 2;
    CHECK_INT(profile_encode(p, &buf, &len), MLOPS_EINVAL);
    profile_destroy(&p);
    CHECK(buf == NULL);
}

#define FIELD_A "{\"name\": \"a\", \"kind\": \"number\", \"edges\": [0.5], \"counts\": [1, 1], \"missing\": 0}"
#define ROOT(fields) "{\"version\": 1, \"rows\": 2, \"fields\": [" fields "]}"
#define NUM(name, edges, counts, missing) \
    ROOT("{\"name\": " name ", \"kind\": \"number\", \"edges\": " edges ", \"counts\": " counts \
         ", \"missing\": " missing "}")
#define CAT(levels, counts) \
    ROOT("{\"name\": \"c\", \"kind\": \"category\", \"levels\": " levels ", \"counts\": " counts \
         ", \"missing\": 0}")

static void test_decode_refusals(void)
{
    static const struct {
        const char *json;
        int code;
        const char *msg;
    } bad[] = {
        {"[1, 2, 3]", MLOPS_EPROTO, "profile: expected a map"},
        {"{\"version\": 1, \"rows\": 2}", MLOPS_EPROTO, "profile: 2 keys, expected 3"},
        {"{\"rows\": 2, \"version\": 1, \"fields\": []}", MLOPS_EPROTO,
         "profile: key 0 is \"rows\", expected \"version\""},
        {"{\"version\": 2, \"rows\": 2, \"fields\": []}", MLOPS_EVERSION,
         "profile.version: 2, expected 1"},
        {"{\"version\": \"1\", \"rows\": 2, \"fields\": []}", MLOPS_EPROTO,
         "profile.version: expected an unsigned integer"},
        {"{\"version\": 1, \"rows\": -1, \"fields\": []}", MLOPS_EPROTO,
         "profile.rows: expected an unsigned integer"},
        {"{\"version\": 1, \"rows\": 0, \"fields\": {}}", MLOPS_EPROTO,
         "profile.fields: expected an array"},
        {"{\"version\": 1, \"rows\": 0, \"field\": []}", MLOPS_EPROTO,
         "profile: key 2 is \"field\", expected \"fields\""},
        {ROOT("7"), MLOPS_EPROTO, "profile.fields[0]: expected a map"},
        {ROOT("{\"name\": \"a\", \"kind\": \"number\", \"edges\": [], \"counts\": [2]}"),
         MLOPS_EPROTO, "profile.fields[0]: 4 keys, expected 5"},
        {ROOT("{\"kind\": \"number\", \"name\": \"a\", \"edges\": [], \"counts\": [2], \"missing\": 0}"),
         MLOPS_EPROTO, "profile.fields[0]: key 0 is \"kind\", expected \"name\""},
        {NUM("3", "[0.5]", "[1, 1]", "0"), MLOPS_EPROTO, "profile.fields[0].name: expected a string"},
        {NUM("\"\"", "[0.5]", "[1, 1]", "0"), MLOPS_EPROTO, "profile.fields[0].name: is empty"},
        {NUM("\"a\\u0000b\"", "[0.5]", "[1, 1]", "0"), MLOPS_EPROTO,
         "profile.fields[0].name: holds a NUL byte"},
        {ROOT(FIELD_A ", " FIELD_A), MLOPS_EPROTO, "profile.fields[1].name: repeats fields[0]"},
        {ROOT("{\"name\": \"a\", \"kind\": \"text\", \"edges\": [], \"counts\": [2], \"missing\": 0}"),
         MLOPS_EPROTO, "profile.fields[0].kind: expected \"number\" or \"category\""},
        {ROOT("{\"name\": \"a\", \"kind\": 1, \"edges\": [], \"counts\": [2], \"missing\": 0}"),
         MLOPS_EPROTO, "profile.fields[0].kind: expected \"number\" or \"category\""},
        {ROOT("{\"name\": \"a\", \"kind\": \"number\", \"levels\": [], \"counts\": [2], \"missing\": 0}"),
         MLOPS_EPROTO, "profile.fields[0]: key 2 is \"levels\", expected \"edges\""},
        {NUM("\"a\"", "[1]", "[1, 1]", "0"), MLOPS_EPROTO, "profile.fields[0].edges[0]: expected a float"},
        {NUM("\"a\"", "0.5", "[1, 1]", "0"), MLOPS_EPROTO, "profile.fields[0].edges: expected an array"},
        {NUM("\"a\"", "[2.0, 2.0]", "[1, 1, 0]", "0"), MLOPS_EPROTO,
         "profile.fields[0].edges[1]: 2 is not finite and above the edge before"},
        {NUM("\"a\"", "[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, "
                      "15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, "
                      "28.0, 29.0, 30.0, 31.0]", "[2]", "0"),
         MLOPS_ETOOBIG, "profile.fields[0].edges: 32 entries, limit 31"},
        {CAT("[1]", "[1, 1]"), MLOPS_EPROTO, "profile.fields[0].levels[0]: expected a string"},
        {CAT("[\"\"]", "[1, 1]"), MLOPS_EPROTO, "profile.fields[0].levels[0]: is empty"},
        {CAT("[\"x\", \"y\", \"x\"]", "[0, 0, 0, 2]"), MLOPS_EPROTO,
         "profile.fields[0].levels[2]: repeats levels[0]"},
        {NUM("\"a\"", "[0.5]", "[2]", "0"), MLOPS_EPROTO,
         "profile.fields[0].counts: expected an array of 2 counts"},
        {NUM("\"a\"", "[0.5]", "2", "0"), MLOPS_EPROTO,
         "profile.fields[0].counts: expected an array of 2 counts"},
        {NUM("\"a\"", "[0.5]", "[3, -1]", "0"), MLOPS_EPROTO,
         "profile.fields[0].counts: expected an unsigned integer"},
        {NUM("\"a\"", "[0.5]", "[1, 1]", "0.0"), MLOPS_EPROTO,
         "profile.fields[0].missing: expected an unsigned integer"},
        {NUM("\"a\"", "[0.5]", "[1, 2]", "0"), MLOPS_EPROTO,
         "profile.fields[0]: counts and missing do not add up to rows (2)"},
        {NUM("\"a\"", "[0.5]", "[1, 0]", "0"), MLOPS_EPROTO,
         "profile.fields[0]: counts and missing do not add up to rows (2)"},
        {ROOT("{\"name\": \"a\", \"kind\": \"number\", \"edges\": [0.5], \"count\": [1, 1], \"missing\": 0}"),
         MLOPS_EPROTO, "profile.fields[0]: key 3 is \"count\", expected \"counts\""},
        {NUM("\"a\"", "[0.5]", "[[1], 1]", "0"), MLOPS_EPROTO, "profile: msgpack nested deeper than 4"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        mlops_err_t err;
        mlops_err_clear(&err);
        profile_t *p = s_decode_json(bad[i].json, &err);
        if (p || err.code != bad[i].code || !strstr(err.msg, bad[i].msg))
            fprintf(stderr, "  case %zu: %s\n", i, bad[i].json);
        CHECK(p == NULL);
        CHECK_INT(err.code, bad[i].code);
        CHECK_CONTAINS(err.msg, bad[i].msg);
    }
}

//  What JSON text is too long to write in a table.
static void test_decode_refuses_sizes(void)
{
    mlops_err_t err;
    char *text = malloc(16 * 1024);
    CHECK(text != NULL);
    //  1025 fields
    size_t n = (size_t)sprintf(text, "{\"version\": 1, \"rows\": 0, \"fields\": [");
    for (int k = 0; k <= PROFILE_FIELDS_MAX; k++)
        n += (size_t)sprintf(text + n, "%snull", k ? "," : "");
    strcpy(text + n, "]}");
    profile_t *p = s_decode_json(text, &err);
    CHECK(p == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_STR(err.msg, "profile.fields: 1025 entries, limit 1024");
    //  a name of 1025 bytes
    n = (size_t)sprintf(text, "{\"version\": 1, \"rows\": 0, \"fields\": [{\"name\": \"");
    memset(text + n, 'n', PROFILE_TEXT_MAX + 1);
    n += PROFILE_TEXT_MAX + 1;
    strcpy(text + n, "\", \"kind\": \"number\", \"edges\": [], \"counts\": [0], \"missing\": 0}]}");
    p = s_decode_json(text, &err);
    CHECK(p == NULL);
    CHECK_STR(err.msg, "profile.fields[0].name: is longer than 1024 bytes");
    //  65 levels
    n = (size_t)sprintf(text, "{\"version\": 1, \"rows\": 0, \"fields\": [{\"name\": \"c\", "
                              "\"kind\": \"category\", \"levels\": [");
    for (int l = 0; l <= PROFILE_LEVELS_MAX; l++)
        n += (size_t)sprintf(text + n, "%s\"l%d\"", l ? "," : "", l);
    strcpy(text + n, "], \"counts\": [], \"missing\": 0}]}");
    p = s_decode_json(text, &err);
    free(text);
    CHECK(p == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_STR(err.msg, "profile.fields[0].levels: 65 entries, limit 64");
}

static void test_decode_refuses_bytes(void)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    profile_t *p = s_two_fields();
    CHECK(p && profile_encode(p, &buf, &len) == 0);
    profile_destroy(&p);
    mlops_err_t err;
    CHECK(profile_decode(buf, 0, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK(profile_decode(buf, len - 1, &err) == NULL);   //  truncated
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "profile: ");
    uint8_t *longer = realloc(buf, len + 1);
    CHECK(longer != NULL);
    longer[len] = 0xc0;
    p = profile_decode(longer, len + 1, &err);
    free(longer);
    CHECK(p == NULL);
    CHECK_STR(err.msg, "profile: 1 trailing bytes after byte 166");
    uint8_t *huge = calloc(1, PROFILE_ENCODED_MAX + 1);
    CHECK(huge != NULL);
    p = profile_decode(huge, PROFILE_ENCODED_MAX + 1, &err);
    free(huge);
    CHECK(p == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
}

int main(void)
{
    RUN(test_bins_are_upper_edges);
    RUN(test_accumulator_unseen_and_missing);
    RUN(test_no_allocation_after_creation);
    RUN(test_set_refusals);
    RUN(test_merge_adds_counts);
    RUN(test_merge_refuses_other_shapes_and_wraps);
    RUN(test_js_and_psi_as_scipy);
    RUN(test_bytes_as_python);
    RUN(test_round_trip);
    RUN(test_encode_refuses_counts_that_do_not_add_up);
    RUN(test_decode_refusals);
    RUN(test_decode_refuses_sizes);
    RUN(test_decode_refuses_bytes);
    return TEST_REPORT("test_profile");
}
