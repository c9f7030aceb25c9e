/*  test_table.c: the columnar table, its canonical codec and its hash.

    Bad encodings are built with msgpack-c directly so each test breaks
    exactly one rule of proto/PROTOCOL.md "Tables" and checks the code and
    the message that names it.
*/
#include "table.h"
#include "testing.h"

#include <msgpack.h>
#include <stdint.h>

//  A 4-row table: a number column with one missing cell, a category column
//  with one missing cell and a text column.
static table_t *s_sample(void)
{
    table_t *t = table_new(4);
    const double age[] = {22, NAN, 38.5, -0.25};
    const char *sex[] = {"male", "female", NULL, "male"};
    const char *name[] = {"Braund, Mr. Owen", "Cumings, Mrs. John", "Heikkinen, Miss. Laina",
                          "Allen, Mr. William"};
    if (!t || table_add_number(t, "Age", age, NULL) || table_add_strings(t, "Sex", TABLE_CATEGORY, sex)
        || table_add_strings(t, "Name", TABLE_TEXT, name))
        table_destroy(&t);
    return t;
}

//  Compares every cell of a and b; returns 1 when equal.
static int s_same_cells(const table_t *a, const table_t *b)
{
    if (a->n_rows != b->n_rows || a->n_cols != b->n_cols)
        return 0;
    for (size_t c = 0; c < a->n_cols; c++) {
        const table_col_t *x = &a->cols[c], *y = &b->cols[c];
        if (strcmp(x->name, y->name) || x->kind != y->kind)
            return 0;
        for (size_t r = 0; r < a->n_rows; r++) {
            if (x->missing[r] != y->missing[r])
                return 0;
            if (x->missing[r])
                continue;
            if (x->kind == TABLE_NUMBER ? x->num[r] != y->num[r]
                                        : strcmp(table_string(a, c, r), table_string(b, c, r)))
                return 0;
        }
    }
    return 1;
}

static void test_build_find_and_read_cells(void)
{
    table_t *t = s_sample();
    CHECK(t);
    CHECK_INT(t->n_rows, 4);
    CHECK_INT(t->n_cols, 3);
    CHECK_INT(table_find(t, "Sex"), 1);
    CHECK_INT(table_find(t, "sex"), -1);
    CHECK_INT(t->cols[0].kind, TABLE_NUMBER);
    CHECK_INT(t->cols[0].missing[1], 1);
    CHECK(isnan(t->cols[0].num[1]));
    CHECK_NEAR(t->cols[0].num[2], 38.5, 0);
    CHECK_INT(t->cols[1].n_levels, 2);
    CHECK_STR(table_string(t, 1, 3), "male");
    CHECK(table_string(t, 1, 2) == NULL);
    CHECK_INT(t->cols[1].missing[2], 1);
    CHECK_INT(t->cols[1].codes[0], t->cols[1].codes[3]);
    CHECK_STR(table_string(t, 2, 2), "Heikkinen, Miss. Laina");
    table_destroy(&t);
    CHECK(t == NULL);
    table_destroy(&t);
}

static void test_add_refuses_bad_columns(void)
{
    table_t *t = s_sample();
    CHECK(t);
    const double v[] = {1, 2, 3, 4};
    const double inf[] = {1, INFINITY, 3, 4};
    const uint8_t mask[] = {0, 1, 0, 0};
    const char *s[] = {"a", "b", "c", "d"};
    CHECK_INT(table_add_number(t, "Age", v, NULL), MLOPS_EINVAL);
    CHECK_INT(table_add_number(t, "", v, NULL), MLOPS_EINVAL);
    CHECK_INT(table_add_number(t, "Inf", inf, NULL), MLOPS_EINVAL);
    CHECK_INT(table_add_strings(t, "Name", TABLE_TEXT, s), MLOPS_EINVAL);
    CHECK_INT(table_add_strings(t, "S", TABLE_NUMBER, s), MLOPS_EINVAL);
    CHECK_INT(t->n_cols, 3);
    //  An infinite value under the missing mask is just missing.
    CHECK_INT(table_add_number(t, "Masked", inf, mask), 0);
    CHECK_INT(t->cols[3].missing[1], 1);
    CHECK(isnan(t->cols[3].num[1]));
    table_destroy(&t);
    CHECK(table_new(TABLE_MAX_ROWS + 1) == NULL);
}

static void test_take_reorders_and_compacts_levels(void)
{
    table_t *t = s_sample();
    CHECK(t);
    const size_t rows[] = {3, 2, 3};
    table_t *s = table_take(t, rows, 3);
    CHECK(s);
    CHECK_INT(s->n_rows, 3);
    CHECK_NEAR(s->cols[0].num[0], -0.25, 0);
    CHECK_INT(s->cols[0].missing[1], 0);
    CHECK_INT(s->cols[1].n_levels, 1); //  "female" is not taken
    CHECK_STR(table_string(s, 1, 0), "male");
    CHECK(table_string(s, 1, 1) == NULL);
    CHECK_INT(s->cols[2].n_levels, 2);
    CHECK_STR(table_string(s, 2, 1), "Heikkinen, Miss. Laina");
    table_destroy(&s);
    s = table_take(t, NULL, 0);
    CHECK(s);
    CHECK_INT(s->n_rows, 0);
    CHECK_INT(s->n_cols, 3);
    table_destroy(&s);
    table_destroy(&t);
}

static void test_round_trip_keeps_cells_and_bytes(void)
{
    table_t *t = s_sample();
    CHECK(t);
    uint8_t *buf, *buf2;
    size_t len, len2;
    CHECK_INT(table_encode(t, &buf, &len), 0);
    mlops_err_t err;
    table_t *u = table_decode(buf, len, &err);
    CHECK(u);
    CHECK(s_same_cells(t, u));
    CHECK_INT(u->cols[1].kind, TABLE_CATEGORY);
    CHECK_INT(u->cols[2].kind, TABLE_TEXT);
    CHECK_INT(table_encode(u, &buf2, &len2), 0);
    CHECK_INT(len2, len);
    CHECK(memcmp(buf, buf2, len) == 0);
    free(buf);
    free(buf2);
    table_destroy(&u);
    table_destroy(&t);
}

static void test_round_trip_of_empty_and_wide_tables(void)
{
    mlops_err_t err;
    uint8_t *buf;
    size_t len;
    table_t *t = table_new(0);
    CHECK(t);
    const char *none[] = {NULL};
    CHECK_INT(table_add_strings(t, "x", TABLE_CATEGORY, none), 0);
    CHECK_INT(table_encode(t, &buf, &len), 0);
    table_t *u = table_decode(buf, len, &err);
    free(buf);
    CHECK(u);
    CHECK_INT(u->n_rows, 0);
    CHECK_INT(u->n_cols, 1);
    table_destroy(&u);
    table_destroy(&t);
    //  9 rows: the missing bitmap spills into a second byte.
    t = table_new(9);
    double v[9];
    for (int i = 0; i < 9; i++)
        v[i] = i == 8 ? NAN : i * 1.5;
    CHECK_INT(table_add_number(t, "v", v, NULL), 0);
    CHECK_INT(table_encode(t, &buf, &len), 0);
    u = table_decode(buf, len, &err);
    free(buf);
    CHECK(u);
    CHECK(s_same_cells(t, u));
    table_destroy(&u);
    table_destroy(&t);
}

//  The hash depends on the cells only: a table whose levels were built in
//  another order, with an unused level and junk under missing cells, hashes
//  like the one add_strings builds.
static void test_hash_depends_on_cells_only(void)
{
    table_t *t = s_sample();
    CHECK(t);
    char h1[HASH_HEX_LEN + 1], h2[HASH_HEX_LEN + 1];
    CHECK_INT(table_hash(t, h1), 0);
    CHECK_INT(strlen(h1), HASH_HEX_LEN);
    table_col_t *sex = &t->cols[1];
    //  Swap the two levels and add an unused third one by hand.
    char **levels = realloc(sex->levels, 3 * sizeof *levels);
    CHECK(levels);
    sex->levels = levels;
    char *tmp = levels[0];
    levels[0] = levels[1];
    levels[1] = tmp;
    levels[2] = strdup("unused");
    sex->n_levels = 3;
    for (size_t r = 0; r < 4; r++)
        sex->codes[r] = sex->missing[r] ? 2 : 1 - sex->codes[r];
    t->cols[0].num[1] = 12345; //  under the mask
    CHECK_INT(table_hash(t, h2), 0);
    CHECK_STR(h1, h2);
    //  One cell changed changes the hash.
    t->cols[0].num[0] = 23;
    CHECK_INT(table_hash(t, h2), 0);
    CHECK(strcmp(h1, h2) != 0);
    table_destroy(&t);
}

//  The exact bytes of a 1-row table, written from the spec by hand.
static void test_encoding_matches_the_spec(void)
{
    table_t *t = table_new(1);
    CHECK(t);
    const double one[] = {1.0};
    const char *a[] = {"a"};
    CHECK_INT(table_add_number(t, "n", one, NULL), 0);
    CHECK_INT(table_add_strings(t, "s", TABLE_CATEGORY, a), 0);
    static const uint8_t want[] = {
        0x83, 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01, 0xa4, 'r', 'o', 'w', 's', 0x01,
        0xa7, 'c', 'o', 'l', 'u', 'm', 'n', 's', 0x92,
        0x84, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 'n', 0xa4, 'k', 'i', 'n', 'd',
        0xa6, 'n', 'u', 'm', 'b', 'e', 'r', 0xa7, 'm', 'i', 's', 's', 'i', 'n', 'g', 0xc4, 1, 0,
        0xa6, 'v', 'a', 'l', 'u', 'e', 's', 0xc4, 8, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
        0x85, 0xa4, 'n', 'a', 'm', 'e', 0xa1, 's', 0xa4, 'k', 'i', 'n', 'd',
        0xa8, 'c', 'a', 't', 'e', 'g', 'o', 'r', 'y', 0xa7, 'm', 'i', 's', 's', 'i', 'n', 'g',
        0xc4, 1, 0, 0xa6, 'l', 'e', 'v', 'e', 'l', 's', 0x91, 0xa1, 'a',
        0xa5, 'c', 'o', 'd', 'e', 's', 0xc4, 4, 0, 0, 0, 0};
    uint8_t *buf;
    size_t len;
    CHECK_INT(table_encode(t, &buf, &len), 0);
    CHECK_INT(len, sizeof want);
    CHECK(memcmp(buf, want, len) == 0);
    free(buf);
    table_destroy(&t);
}

static void test_decode_refuses_every_truncation(void)
{
    table_t *t = s_sample();
    CHECK(t);
    uint8_t *buf;
    size_t len;
    CHECK_INT(table_encode(t, &buf, &len), 0);
    mlops_err_t err;
    for (size_t cut = 0; cut < len; cut++) {
        table_t *u = table_decode(buf, cut, &err);
        if (u || err.code != MLOPS_EPROTO) {
            fprintf(stderr, "  cut at %zu: code %d\n", cut, err.code);
            table_destroy(&u);
            free(buf);
            CHECK(0);
        }
    }
    //  One byte too many.
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0xc0;
    CHECK(table_decode(longer, len + 1, &err) == NULL);
    free(longer);
    free(buf);
    table_destroy(&t);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "1 trailing bytes");
}

static void test_decode_refuses_lying_lengths(void)
{
    mlops_err_t err;
    static const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t huge_bin[] = {0xc6, 0x7f, 0xff, 0xff, 0xff, 0};
    static const uint8_t ext[] = {0xd4, 1, 0};
    static const uint8_t reserved[] = {0xc1};
    CHECK(table_decode(huge_array, sizeof huge_array, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "runs past the end");
    CHECK(table_decode(huge_bin, sizeof huge_bin, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK(table_decode(ext, sizeof ext, &err) == NULL);
    CHECK_CONTAINS(err.msg, "0xd4");
    CHECK(table_decode(reserved, sizeof reserved, &err) == NULL);
    CHECK_CONTAINS(err.msg, "0xc1");
    uint8_t deep[40];
    memset(deep, 0x91, sizeof deep); //  [[[[...
    CHECK(table_decode(deep, sizeof deep, &err) == NULL);
    CHECK_CONTAINS(err.msg, "nested deeper");
    CHECK(table_decode((const uint8_t *)"", 0, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
}

//  ---------------------------------------------------------------------------
//  Hand-built encodings, one rule broken at a time.

typedef struct {
    uint64_t version, rows;
    const char *name, *kind;
    const uint8_t *missing;
    size_t missing_len;
    const uint8_t *cells; //  values or codes
    size_t cells_len;
    const char *const *levels;
    size_t n_levels;
    const char *extra_key; //  a stray key at the end of the column map
} s_spec_t;

static void s_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void s_bin(msgpack_packer *pk, const uint8_t *p, size_t n)
{
    msgpack_pack_bin(pk, n);
    msgpack_pack_bin_body(pk, p, n);
}

//  Packs spec (one column) and decodes it; returns the error code.
static int s_decode_spec(const s_spec_t *sp, mlops_err_t *err)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int is_num = strcmp(sp->kind, "number") == 0;
    msgpack_pack_map(&pk, 3);
    s_str(&pk, "version");
    msgpack_pack_uint64(&pk, sp->version);
    s_str(&pk, "rows");
    msgpack_pack_uint64(&pk, sp->rows);
    s_str(&pk, "columns");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, (is_num ? 4 : 5) + (sp->extra_key != NULL));
    s_str(&pk, "name");
    s_str(&pk, sp->name);
    s_str(&pk, "kind");
    s_str(&pk, sp->kind);
    s_str(&pk, "missing");
    s_bin(&pk, sp->missing, sp->missing_len);
    if (!is_num) {
        s_str(&pk, "levels");
        msgpack_pack_array(&pk, sp->n_levels);
        for (size_t i = 0; i < sp->n_levels; i++)
            s_str(&pk, sp->levels[i]);
    }
    s_str(&pk, is_num ? "values" : "codes");
    s_bin(&pk, sp->cells, sp->cells_len);
    if (sp->extra_key) {
        s_str(&pk, sp->extra_key);
        msgpack_pack_nil(&pk);
    }
    table_t *t = table_decode((const uint8_t *)sb.data, sb.size, err);
    msgpack_sbuffer_destroy(&sb);
    int rc = t ? 0 : err->code;
    table_destroy(&t);
    return rc;
}

static const uint8_t s_no_missing[1] = {0};
static const uint8_t s_two_codes[8] = {0, 0, 0, 0, 1, 0, 0, 0};
static const char *const s_ab[] = {"a", "b"};

static s_spec_t s_good_strings(void)
{
    return (s_spec_t){.version = 1, .rows = 2, .name = "s", .kind = "category",
                      .missing = s_no_missing, .missing_len = 1, .cells = s_two_codes,
                      .cells_len = 8, .levels = s_ab, .n_levels = 2};
}

static void test_decode_spec_builder_is_valid(void)
{
    mlops_err_t err;
    s_spec_t sp = s_good_strings();
    CHECK_INT(s_decode_spec(&sp, &err), 0);
}

static void test_decode_refuses_bad_header_fields(void)
{
    mlops_err_t err;
    s_spec_t sp = s_good_strings();
    sp.version = 2;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EVERSION);
    CHECK_CONTAINS(err.msg, "version 2");
    sp = s_good_strings();
    sp.rows = TABLE_MAX_ROWS + 1;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "rows");
    //  rows that the bins do not back: refused before allocating for them.
    sp.rows = TABLE_MAX_ROWS;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "missing must be a bin of 12500000 bytes");
    sp = s_good_strings();
    sp.kind = "date";
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "column 0: kind must be");
    sp = s_good_strings();
    sp.name = "";
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "name must be");
    sp = s_good_strings();
    sp.extra_key = "color";
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "column 0: unexpected key color");
}

static void test_decode_refuses_bad_string_cells(void)
{
    mlops_err_t err;
    s_spec_t sp = s_good_strings();
    sp.cells_len = 7;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "column 0 (s): codes must be a bin of 8 bytes");
    static const uint8_t out_of_range[8] = {0, 0, 0, 0, 2, 0, 0, 0};
    sp = s_good_strings();
    sp.cells = out_of_range;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "row 1: code 2");
    static const uint8_t backwards[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    sp.cells = backwards;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "row 0: code 1 out of order");
    static const uint8_t one_level[8] = {0};
    sp.cells = one_level;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "1 of 2 levels unused");
    static const char *const twice[] = {"a", "a"};
    sp = s_good_strings();
    sp.levels = twice;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "level 1 repeats level 0");
    static const uint8_t second_missing[1] = {2};
    sp = s_good_strings();
    sp.missing = second_missing; //  row 1 missing but its code is 1, not 0
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "row 1: code 1");
    static const uint8_t stray_bit[1] = {4};
    sp = s_good_strings();
    sp.missing = stray_bit;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "bits set past the last row");
    static const char *const three[] = {"a", "b", "c"};
    sp = s_good_strings();
    sp.levels = three;
    sp.n_levels = 3;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "levels must be an array of at most 2");
}

static void test_decode_refuses_bad_numbers(void)
{
    mlops_err_t err;
    uint8_t cells[16] = {0};
    uint8_t missing[1] = {2};
    s_spec_t sp = {.version = 1, .rows = 2, .name = "x", .kind = "number", .missing = missing,
                   .missing_len = 1, .cells = cells, .cells_len = 16};
    //  Row 1 is missing but holds 0.0 rather than the canonical NaN.
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "column 0 (x): row 1: a missing cell must hold the canonical NaN");
    cells[14] = 0xf8;
    cells[15] = 0x7f;
    CHECK_INT(s_decode_spec(&sp, &err), 0);
    //  A present infinity.
    missing[0] = 0;
    cells[14] = 0xf0;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "row 1: a present cell must be finite");
    sp.cells_len = 8;
    CHECK_INT(s_decode_spec(&sp, &err), MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "values must be a bin of 16 bytes");
}

static void test_decode_refuses_duplicate_columns_and_too_many(void)
{
    table_t *t = s_sample();
    CHECK(t);
    uint8_t *buf;
    size_t len;
    CHECK_INT(table_encode(t, &buf, &len), 0);
    table_destroy(&t);
    //  Rename column 1 "Sex" to "Age" in place (same length).
    uint8_t *p = memmem(buf, len, "\xa3Sex", 4);
    CHECK(p);
    memcpy(p + 1, "Age", 3);
    mlops_err_t err;
    CHECK(table_decode(buf, len, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EPROTO);
    CHECK_CONTAINS(err.msg, "column 1 (Age): duplicate name");
    free(buf);
    //  4097 columns of nil: refused on the count.
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    s_str(&pk, "version");
    msgpack_pack_uint8(&pk, 1);
    s_str(&pk, "rows");
    msgpack_pack_uint8(&pk, 0);
    s_str(&pk, "columns");
    msgpack_pack_array(&pk, TABLE_MAX_COLS + 1);
    for (int i = 0; i <= TABLE_MAX_COLS; i++)
        msgpack_pack_nil(&pk);
    t = table_decode((const uint8_t *)sb.data, sb.size, &err);
    msgpack_sbuffer_destroy(&sb);
    CHECK(t == NULL);
    CHECK_INT(err.code, MLOPS_ETOOBIG);
    CHECK_CONTAINS(err.msg, "4097 columns");
}

//  fuzz/corpus/table/*.bin were written by Python's msgpack.packb (dicts in
//  key order, use_bin_type=True): the C encoder must give the same bytes.
static void test_python_encodings_are_ours(void)
{
    static const char *const files[] = {"empty", "one_number", "mixed", "nine_rows"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[96];
        snprintf(path, sizeof path, "fuzz/corpus/table/%s.bin", files[i]);
        FILE *f = fopen(path, "rb");
        CHECK(f);
        uint8_t in[4096];
        size_t n = fread(in, 1, sizeof in, f);
        fclose(f);
        mlops_err_t err;
        table_t *t = table_decode(in, n, &err);
        CHECK(t);
        uint8_t *out;
        size_t len;
        CHECK_INT(table_encode(t, &out, &len), 0);
        table_destroy(&t);
        int same = len == n && memcmp(in, out, n) == 0;
        free(out);
        if (!same)
            fprintf(stderr, "  %s: C encoding differs from Python's\n", path);
        CHECK(same);
    }
}

//  The shape from the head of an encoded table, without the rest; a head
//  that is not a table's, or of another version, refused.
static void test_table_shape(void)
{
    double v[3] = {1, 2, 3};
    table_t *t = table_new(3);
    CHECK(t != NULL);
    CHECK_INT(table_add_number(t, "a", v, NULL), 0);
    CHECK_INT(table_add_number(t, "b", v, NULL), 0);
    uint8_t *bytes = NULL;
    size_t len = 0, rows = 0, cols = 0;
    CHECK_INT(table_encode(t, &bytes, &len), 0);
    table_destroy(&t);
    mlops_err_t err;
    CHECK_INT(table_shape(bytes, len < TABLE_HEAD_BYTES ? len : TABLE_HEAD_BYTES, &rows, &cols, &err), 0);
    CHECK_INT(rows, 3);
    CHECK_INT(cols, 2);
    CHECK_INT(table_shape(bytes, 12, &rows, &cols, &err), MLOPS_EPROTO);   //  cut in the head
    CHECK_STR(err.msg, "table: not the head of an encoded table");
    bytes[9] = 2;                                   //  "version": 2
    CHECK_INT(table_shape(bytes, len, &rows, &cols, &err), MLOPS_EVERSION);
    CHECK_STR(err.msg, "table: version 2, expected 1");
    free(bytes);
    CHECK_INT(table_shape((const uint8_t *)"", 0, &rows, &cols, &err), MLOPS_EPROTO);
}

int main(void)
{
    RUN(test_table_shape);
    RUN(test_build_find_and_read_cells);
    RUN(test_add_refuses_bad_columns);
    RUN(test_take_reorders_and_compacts_levels);
    RUN(test_round_trip_keeps_cells_and_bytes);
    RUN(test_round_trip_of_empty_and_wide_tables);
    RUN(test_hash_depends_on_cells_only);
    RUN(test_encoding_matches_the_spec);
    RUN(test_decode_refuses_every_truncation);
    RUN(test_decode_refuses_lying_lengths);
    RUN(test_decode_spec_builder_is_valid);
    RUN(test_decode_refuses_bad_header_fields);
    RUN(test_decode_refuses_bad_string_cells);
    RUN(test_decode_refuses_bad_numbers);
    RUN(test_decode_refuses_duplicate_columns_and_too_many);
    RUN(test_python_encodings_are_ours);
    return TEST_REPORT("test_table");
}
