/*  table.c: the columnar table and its canonical msgpack codec.

    The codec (proto/PROTOCOL.md, "Tables") carries each column's cells as
    one msgpack bin of little-endian fixed-width values, never one msgpack
    object per cell, so a million rows encode and decode at memory speed.
    The encoding is canonical - string levels in order of first use, unused
    levels dropped, fixed bytes at missing cells, fixed key order - so that
    table_hash() depends only on the cells, and the decoder accepts only
    canonical input, so that decode then encode gives back the same bytes.
*/
#include "table.h"

#include "dict.h"
#include "log.h"
#include "mpcheck.h"

#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_VERSION 1              //  the "version" field of the encoding
#define TABLE_MSGPACK_DEPTH 8        //  nesting of the encoding is 4

//  --------------------------------------------------------------------------
//  Building

table_t *table_new(size_t n_rows)
{
    if (n_rows > TABLE_MAX_ROWS)
        return NULL;
    table_t *self = calloc(1, sizeof *self);
    if (self)
        self->n_rows = n_rows;
    return self;
}

static void s_col_free(table_col_t *col)
{
    free(col->name);
    free(col->missing);
    free(col->num);
    free(col->codes);
    for (size_t i = 0; i < col->n_levels; i++)
        free(col->levels[i]);
    free(col->levels);
    memset(col, 0, sizeof *col);
}

void table_destroy(table_t **p)
{
    if (!p || !*p)
        return;
    table_t *self = *p;
    for (size_t c = self->n_cols; c-- > 0;)
        s_col_free(&self->cols[c]);
    free(self->cols);
    free(self);
    *p = NULL;
}

//  Checks a new column's name; returns 0 or MLOPS_EINVAL.
static int s_check_name(const table_t *self, const char *name)
{
    if (!name || !*name || table_find(self, name) >= 0 || self->n_cols >= TABLE_MAX_COLS)
        return MLOPS_EINVAL;
    return 0;
}

//  Appends col (taking its buffers) to self. Returns 0 or MLOPS_ENOMEM, in
//  which case col is freed.
static int s_push(table_t *self, table_col_t *col)
{
    table_col_t *cols = realloc(self->cols, (self->n_cols + 1) * sizeof *cols);
    if (!cols) {
        s_col_free(col);
        return MLOPS_ENOMEM;
    }
    self->cols = cols;
    self->cols[self->n_cols++] = *col;
    return 0;
}

//  Allocates name, missing and (for numbers) num or (for strings) codes.
static int s_col_alloc(table_col_t *col, const char *name, table_kind_t kind, size_t n_rows)
{
    memset(col, 0, sizeof *col);
    col->kind = kind;
    col->name = strdup(name);
    col->missing = calloc(n_rows ? n_rows : 1, 1);
    if (kind == TABLE_NUMBER)
        col->num = malloc((n_rows ? n_rows : 1) * sizeof *col->num);
    else
        col->codes = calloc(n_rows ? n_rows : 1, sizeof *col->codes);
    if (!col->name || !col->missing || (!col->num && !col->codes)) {
        s_col_free(col);
        return MLOPS_ENOMEM;
    }
    return 0;
}

int table_add_number(table_t *self, const char *name, const double *values,
                     const uint8_t *missing)
{
    assert(self && (values || self->n_rows == 0));
    if (s_check_name(self, name) != 0)
        return MLOPS_EINVAL;
    for (size_t r = 0; r < self->n_rows; r++)
        if (isinf(values[r]) && !(missing && missing[r]))
            return MLOPS_EINVAL;
    table_col_t col;
    if (s_col_alloc(&col, name, TABLE_NUMBER, self->n_rows) != 0)
        return MLOPS_ENOMEM;
    for (size_t r = 0; r < self->n_rows; r++) {
        int gone = isnan(values[r]) || (missing && missing[r]);
        col.missing[r] = (uint8_t)gone;
        col.num[r] = gone ? NAN : values[r];
    }
    return s_push(self, &col);
}

int table_add_strings(table_t *self, const char *name, table_kind_t kind,
                      const char *const *values)
{
    assert(self && (values || self->n_rows == 0));
    if (s_check_name(self, name) != 0 || (kind != TABLE_CATEGORY && kind != TABLE_TEXT))
        return MLOPS_EINVAL;
    table_col_t col;
    if (s_col_alloc(&col, name, kind, self->n_rows) != 0)
        return MLOPS_ENOMEM;
    dict_t *dict = dict_new(64);
    int rc = dict ? 0 : MLOPS_ENOMEM;
    for (size_t r = 0; r < self->n_rows && rc == 0; r++) {
        if (values[r])
            rc = dict_intern(dict, values[r], strlen(values[r]), &col.codes[r]);
        else
            col.missing[r] = 1;
    }
    if (rc == 0) {
        col.n_levels = dict_size(dict);
        col.levels = dict_take_levels(dict);
    }
    dict_destroy(&dict);
    if (rc != 0) {
        s_col_free(&col);
        return rc;
    }
    return s_push(self, &col);
}

int table_adopt_column(table_t *self, table_col_t *col)
{
    assert(self && col);
    int is_num = col->kind == TABLE_NUMBER;
    int ok = col->missing && (is_num ? col->num && !col->codes
                                     : (col->kind == TABLE_CATEGORY || col->kind == TABLE_TEXT)
                                           && col->codes && !col->num);
    if (!ok || s_check_name(self, col->name) != 0) {
        s_col_free(col);
        return MLOPS_EINVAL;
    }
    int rc = s_push(self, col);
    memset(col, 0, sizeof *col);
    return rc;
}

int table_find(const table_t *self, const char *name)
{
    assert(self && name);
    for (size_t c = 0; c < self->n_cols; c++)
        if (strcmp(self->cols[c].name, name) == 0)
            return (int)c;
    return -1;
}

const char *table_string(const table_t *self, size_t col, size_t row)
{
    assert(self && col < self->n_cols && row < self->n_rows);
    const table_col_t *c = &self->cols[col];
    assert(c->kind != TABLE_NUMBER);
    if (c->missing[row])
        return NULL;
    return c->levels[c->codes[row]];
}

//  Fills remap[old code] with the level's rank by first use among the
//  present cells (UINT32_MAX when unused) and returns the levels used.
static size_t s_first_use(const table_col_t *col, size_t n_rows, const size_t *rows,
                          uint32_t *remap)
{
    size_t used = 0;
    for (size_t l = 0; l < col->n_levels; l++)
        remap[l] = UINT32_MAX;
    for (size_t i = 0; i < n_rows; i++) {
        size_t r = rows ? rows[i] : i;
        if (!col->missing[r] && remap[col->codes[r]] == UINT32_MAX)
            remap[col->codes[r]] = (uint32_t)used++;
    }
    return used;
}

//  Copies the string column src at rows into dst (allocated), with levels
//  renumbered by first use and unused levels dropped.
static int s_take_strings(table_col_t *dst, const table_col_t *src, const size_t *rows,
                          size_t n_rows)
{
    uint32_t *remap = malloc((src->n_levels ? src->n_levels : 1) * sizeof *remap);
    if (!remap)
        return MLOPS_ENOMEM;
    size_t used = s_first_use(src, n_rows, rows, remap);
    dst->levels = calloc(used ? used : 1, sizeof *dst->levels);
    int rc = dst->levels ? 0 : MLOPS_ENOMEM;
    for (size_t l = 0; l < src->n_levels && rc == 0; l++) {
        if (remap[l] == UINT32_MAX)
            continue;
        dst->levels[remap[l]] = strdup(src->levels[l]);
        if (!dst->levels[remap[l]])
            rc = MLOPS_ENOMEM;
    }
    dst->n_levels = used; //  s_col_free copes with NULL entries
    for (size_t i = 0; i < n_rows && rc == 0; i++) {
        size_t r = rows[i];
        dst->missing[i] = src->missing[r];
        dst->codes[i] = src->missing[r] ? 0 : remap[src->codes[r]];
    }
    free(remap);
    return rc;
}

table_t *table_take(const table_t *self, const size_t *rows, size_t n_rows)
{
    assert(self && (rows || n_rows == 0));
    for (size_t i = 0; i < n_rows; i++)
        assert(rows[i] < self->n_rows);
    table_t *out = table_new(n_rows);
    if (!out)
        return NULL;
    for (size_t c = 0; c < self->n_cols; c++) {
        const table_col_t *src = &self->cols[c];
        table_col_t col;
        if (s_col_alloc(&col, src->name, src->kind, n_rows) != 0)
            goto fail;
        if (src->kind == TABLE_NUMBER) {
            for (size_t i = 0; i < n_rows; i++) {
                col.missing[i] = src->missing[rows[i]];
                col.num[i] = src->num[rows[i]];
            }
        } else if (s_take_strings(&col, src, rows, n_rows) != 0) {
            s_col_free(&col);
            goto fail;
        }
        if (s_push(out, &col) != 0)
            goto fail;
    }
    return out;
fail:
    table_destroy(&out);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Encoding

static const char *s_kind_name(table_kind_t kind)
{
    switch (kind) {
    case TABLE_NUMBER: return "number";
    case TABLE_CATEGORY: return "category";
    case TABLE_TEXT: return "text";
    }
    return NULL;
}

static int s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) || msgpack_pack_str_body(pk, s, len);
}

static int s_pack_bin(msgpack_packer *pk, const void *data, size_t len)
{
    return msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, data, len);
}

static void s_put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t s_get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void s_put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

//  Packs the missing mask as a bitmap, row r at bit r % 8 of byte r / 8.
static int s_pack_missing(msgpack_packer *pk, const table_col_t *col, size_t n_rows,
                          uint8_t *scratch)
{
    size_t n_bytes = (n_rows + 7) / 8;
    memset(scratch, 0, n_bytes);
    for (size_t r = 0; r < n_rows; r++)
        scratch[r >> 3] |= (uint8_t)((col->missing[r] != 0) << (r & 7));
    return s_pack_bin(pk, scratch, n_bytes);
}

static int s_pack_numbers(msgpack_packer *pk, const table_col_t *col, size_t n_rows,
                          uint8_t *scratch)
{
    for (size_t r = 0; r < n_rows; r++) {
        uint64_t bits = TABLE_NAN_BITS;
        if (!col->missing[r])
            memcpy(&bits, &col->num[r], sizeof bits);
        s_put_u64le(scratch + 8 * r, bits);
    }
    if (msgpack_pack_str(pk, 6) || msgpack_pack_str_body(pk, "values", 6))
        return -1;
    return s_pack_bin(pk, scratch, 8 * n_rows);
}

static int s_pack_strings(msgpack_packer *pk, const table_col_t *col, size_t n_rows,
                          uint8_t *scratch)
{
    uint32_t *remap = malloc((col->n_levels ? col->n_levels : 1) * sizeof *remap);
    if (!remap)
        return -1;
    size_t used = s_first_use(col, n_rows, NULL, remap);
    //  Levels in their new order: invert the remap.
    const char **order = malloc((used ? used : 1) * sizeof *order);
    int rc = order ? 0 : -1;
    for (size_t l = 0; l < col->n_levels && rc == 0; l++)
        if (remap[l] != UINT32_MAX)
            order[remap[l]] = col->levels[l];
    rc = rc || s_pack_str(pk, "levels") || msgpack_pack_array(pk, used);
    for (size_t l = 0; l < used && rc == 0; l++)
        rc = s_pack_str(pk, order[l]);
    for (size_t r = 0; r < n_rows && rc == 0; r++)
        s_put_u32le(scratch + 4 * r, col->missing[r] ? 0 : remap[col->codes[r]]);
    rc = rc || s_pack_str(pk, "codes") || s_pack_bin(pk, scratch, 4 * n_rows);
    free(order);
    free(remap);
    return rc;
}

static int s_pack_col(msgpack_packer *pk, const table_col_t *col, size_t n_rows,
                      uint8_t *scratch)
{
    int is_num = col->kind == TABLE_NUMBER;
    if (msgpack_pack_map(pk, is_num ? 4 : 5) || s_pack_str(pk, "name")
        || s_pack_str(pk, col->name) || s_pack_str(pk, "kind")
        || s_pack_str(pk, s_kind_name(col->kind)) || s_pack_str(pk, "missing")
        || s_pack_missing(pk, col, n_rows, scratch))
        return -1;
    return is_num ? s_pack_numbers(pk, col, n_rows, scratch)
                  : s_pack_strings(pk, col, n_rows, scratch);
}

int table_encode(const table_t *self, uint8_t **out, size_t *out_len)
{
    assert(self && out && out_len);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    uint8_t *scratch = malloc(8 * self->n_rows + 8);
    int rc = !scratch || msgpack_pack_map(&pk, 3) || s_pack_str(&pk, "version")
          || msgpack_pack_uint32(&pk, TABLE_VERSION) || s_pack_str(&pk, "rows")
          || msgpack_pack_uint64(&pk, self->n_rows) || s_pack_str(&pk, "columns")
          || msgpack_pack_array(&pk, self->n_cols);
    for (size_t c = 0; c < self->n_cols && rc == 0; c++)
        rc = s_pack_col(&pk, &self->cols[c], self->n_rows, scratch);
    free(scratch);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sbuf);
        return MLOPS_ENOMEM;
    }
    *out_len = sbuf.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&sbuf);
    return 0;
}

int table_hash(const table_t *self, char hex[HASH_HEX_LEN + 1])
{
    uint8_t *buf;
    size_t len;
    int rc = table_encode(self, &buf, &len);
    if (rc != 0)
        return rc;
    hash_sha256_hex(buf, len, hex);
    free(buf);
    return 0;
}

//  --------------------------------------------------------------------------
//  Decoding

//  True when the msgpack string o equals the C string s.
static int s_is(const msgpack_object *o, const char *s)
{
    size_t len = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == len
        && memcmp(o->via.str.ptr, s, len) == 0;
}

//  Finds key in map m; NULL when absent. Keys are checked for strays
//  separately (s_only_keys).
static const msgpack_object *s_get(const msgpack_object *m, const char *key)
{
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (s_is(&m->via.map.ptr[i].key, key))
            return &m->via.map.ptr[i].val;
    return NULL;
}

//  Checks that map m has exactly the n keys given, in that order (the
//  canonical order). Returns 0 or MLOPS_EPROTO naming the first stray.
static int s_only_keys(const msgpack_object *m, const char *const *keys, size_t n,
                       const char *where, mlops_err_t *err)
{
    if (m->type != MSGPACK_OBJECT_MAP)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: not a map", where);
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (i >= n || !s_is(k, keys[i])) {
            char name[48] = "(not a string)";
            if (k->type == MSGPACK_OBJECT_STR)
                log_sanitize(k->via.str.ptr, k->via.str.size, name, sizeof name);
            return mlops_err_set(err, MLOPS_EPROTO, "%s: unexpected key %s at position %u",
                                 where, name, i);
        }
    }
    if (m->via.map.size != n)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: missing key %s", where,
                             keys[m->via.map.size]);
    return 0;
}

//  Decoding state for one column: where to say the error is.
typedef struct {
    const msgpack_object *map; //  the column's map
    size_t index;              //  its position in "columns"
    char label[96];            //  "column 3 (Age)" for messages
    size_t n_rows;             //  rows of the table
} s_dec_t;

//  The s_dec_* parts run after s_check_sizes.
static int s_dec_missing(s_dec_t *d, table_col_t *col, mlops_err_t *err)
{
    const msgpack_object *o = s_get(d->map, "missing");
    size_t n_bytes = (d->n_rows + 7) / 8;
    const uint8_t *bits = (const uint8_t *)o->via.bin.ptr;
    for (size_t r = 0; r < d->n_rows; r++)
        col->missing[r] = (bits[r >> 3] >> (r & 7)) & 1;
    if (d->n_rows % 8 && bits[n_bytes - 1] >> (d->n_rows % 8))
        return mlops_err_set(err, MLOPS_EPROTO, "%s: missing has bits set past the last row",
                             d->label);
    return 0;
}

static int s_dec_numbers(s_dec_t *d, table_col_t *col, mlops_err_t *err)
{
    const msgpack_object *o = s_get(d->map, "values");
    const uint8_t *p = (const uint8_t *)o->via.bin.ptr;
    for (size_t r = 0; r < d->n_rows; r++) {
        uint64_t bits = s_get_u64le(p + 8 * r);
        double v;
        memcpy(&v, &bits, sizeof v);
        if (col->missing[r] ? bits != TABLE_NAN_BITS : !isfinite(v))
            return mlops_err_set(err, MLOPS_EPROTO, "%s: row %zu: %s", d->label, r,
                                 col->missing[r] ? "a missing cell must hold the canonical NaN"
                                                 : "a present cell must be finite");
        col->num[r] = v;
    }
    return 0;
}

static int s_dec_levels(s_dec_t *d, table_col_t *col, mlops_err_t *err)
{
    const msgpack_object *o = s_get(d->map, "levels");
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > d->n_rows)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: levels must be an array of at most %zu",
                             d->label, d->n_rows);
    dict_t *dict = dict_new(o->via.array.size);
    if (!dict)
        return MLOPS_ENOMEM;
    int rc = 0;
    for (uint32_t l = 0; l < o->via.array.size && rc == 0; l++) {
        const msgpack_object *s = &o->via.array.ptr[l];
        uint32_t code;
        if (s->type != MSGPACK_OBJECT_STR || memchr(s->via.str.ptr, 0, s->via.str.size))
            rc = mlops_err_set(err, MLOPS_EPROTO, "%s: level %u is not a string without NUL",
                               d->label, l);
        else if ((rc = dict_intern(dict, s->via.str.ptr, s->via.str.size, &code)) == 0
                 && code != l)
            rc = mlops_err_set(err, MLOPS_EPROTO, "%s: level %u repeats level %u", d->label, l,
                               code);
    }
    if (rc == 0) {
        col->n_levels = dict_size(dict);
        col->levels = dict_take_levels(dict);
    }
    dict_destroy(&dict);
    return rc;
}

static int s_dec_codes(s_dec_t *d, table_col_t *col, mlops_err_t *err)
{
    const msgpack_object *o = s_get(d->map, "codes");
    const uint8_t *p = (const uint8_t *)o->via.bin.ptr;
    size_t next_new = 0; //  canonical: each code is old, or exactly the next new one
    for (size_t r = 0; r < d->n_rows; r++) {
        uint32_t code = s_get_u32le(p + 4 * r);
        if (col->missing[r] ? code != 0 : code > next_new || code >= col->n_levels)
            return mlops_err_set(err, MLOPS_EPROTO,
                                 "%s: row %zu: code %u out of order or range (%zu levels)",
                                 d->label, r, code, col->n_levels);
        if (!col->missing[r] && code == next_new)
            next_new++;
        col->codes[r] = code;
    }
    if (next_new != col->n_levels)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: %zu of %zu levels unused", d->label,
                             col->n_levels - next_new, col->n_levels);
    return 0;
}

//  Checks that the column's bins hold exactly n_rows cells before anything
//  is allocated for them: rows is only a number in the input, the bins are
//  bytes that are really there.
static int s_check_sizes(s_dec_t *d, table_kind_t kind, mlops_err_t *err)
{
    const char *cells = kind == TABLE_NUMBER ? "values" : "codes";
    size_t width = kind == TABLE_NUMBER ? 8 : 4;
    const msgpack_object *m = s_get(d->map, "missing");
    const msgpack_object *o = s_get(d->map, cells);
    if (m->type != MSGPACK_OBJECT_BIN || m->via.bin.size != (d->n_rows + 7) / 8)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: missing must be a bin of %zu bytes",
                             d->label, (d->n_rows + 7) / 8);
    if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != width * d->n_rows)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: %s must be a bin of %zu bytes",
                             d->label, cells, width * d->n_rows);
    return 0;
}

//  Decodes column d->index into table t.
static int s_dec_col(s_dec_t *d, table_t *t, mlops_err_t *err)
{
    static const char *const num_keys[] = {"name", "kind", "missing", "values"};
    static const char *const str_keys[] = {"name", "kind", "missing", "levels", "codes"};
    snprintf(d->label, sizeof d->label, "column %zu", d->index);
    if (d->map->type != MSGPACK_OBJECT_MAP)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: not a map", d->label);
    const msgpack_object *kind_o = s_get(d->map, "kind");
    table_kind_t kind = !kind_o                      ? 0
                      : s_is(kind_o, "number")   ? TABLE_NUMBER
                      : s_is(kind_o, "category") ? TABLE_CATEGORY
                      : s_is(kind_o, "text")     ? TABLE_TEXT
                                                 : 0;
    if (!kind)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: kind must be number, category or text",
                             d->label);
    int rc = kind == TABLE_NUMBER ? s_only_keys(d->map, num_keys, 4, d->label, err)
                                  : s_only_keys(d->map, str_keys, 5, d->label, err);
    if (rc != 0)
        return rc;
    const msgpack_object *name_o = s_get(d->map, "name");
    if (name_o->type != MSGPACK_OBJECT_STR || name_o->via.str.size == 0
        || memchr(name_o->via.str.ptr, 0, name_o->via.str.size))
        return mlops_err_set(err, MLOPS_EPROTO, "%s: name must be a non-empty string without NUL",
                             d->label);
    table_col_t col;
    char *full = strndup(name_o->via.str.ptr, name_o->via.str.size);
    if (!full)
        return MLOPS_ENOMEM;
    char shown[48];
    log_sanitize(full, strlen(full), shown, sizeof shown);
    snprintf(d->label, sizeof d->label, "column %zu (%s)", d->index, shown);
    if (table_find(t, full) >= 0) {
        free(full);
        return mlops_err_set(err, MLOPS_EPROTO, "%s: duplicate name", d->label);
    }
    rc = s_check_sizes(d, kind, err);
    if (rc == 0)
        rc = s_col_alloc(&col, full, kind, d->n_rows);
    free(full);
    if (rc != 0)
        return rc;
    rc = s_dec_missing(d, &col, err);
    if (rc == 0 && kind == TABLE_NUMBER)
        rc = s_dec_numbers(d, &col, err);
    else if (rc == 0 && (rc = s_dec_levels(d, &col, err)) == 0)
        rc = s_dec_codes(d, &col, err);
    if (rc != 0) {
        s_col_free(&col);
        return rc;
    }
    return s_push(t, &col);
}

//  Reads the root map's version, rows and columns.
static int s_dec_root(const msgpack_object *root, uint64_t *rows,
                      const msgpack_object **cols, mlops_err_t *err)
{
    static const char *const keys[] = {"version", "rows", "columns"};
    int rc = s_only_keys(root, keys, 3, "table", err);
    if (rc != 0)
        return rc;
    const msgpack_object *v = s_get(root, "version");
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return mlops_err_set(err, MLOPS_EPROTO, "table: version must be an unsigned integer");
    if (v->via.u64 != TABLE_VERSION)
        return mlops_err_set(err, MLOPS_EVERSION, "table: version %llu, expected %d",
                             (unsigned long long)v->via.u64, TABLE_VERSION);
    const msgpack_object *r = s_get(root, "rows");
    if (r->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return mlops_err_set(err, MLOPS_EPROTO, "table: rows must be an unsigned integer");
    if (r->via.u64 > TABLE_MAX_ROWS)
        return mlops_err_set(err, MLOPS_ETOOBIG, "table: %llu rows, limit %llu",
                             (unsigned long long)r->via.u64, TABLE_MAX_ROWS);
    *rows = r->via.u64;
    *cols = s_get(root, "columns");
    if ((*cols)->type != MSGPACK_OBJECT_ARRAY)
        return mlops_err_set(err, MLOPS_EPROTO, "table: columns must be an array");
    if ((*cols)->via.array.size > TABLE_MAX_COLS)
        return mlops_err_set(err, MLOPS_ETOOBIG, "table: %u columns, limit %d",
                             (*cols)->via.array.size, TABLE_MAX_COLS);
    return 0;
}

table_t *table_decode(const uint8_t *data, size_t len, mlops_err_t *err)
{
    assert(data || len == 0);
    mlops_err_clear(err);
    size_t used;
    if (mpcheck_object(data, len, TABLE_MSGPACK_DEPTH, &used, err) != 0)
        return NULL;
    if (used != len) {
        mlops_err_set(err, MLOPS_EPROTO, "table: %zu trailing bytes after the table", len - used);
        return NULL;
    }
    msgpack_unpacked msg;
    msgpack_unpacked_init(&msg);
    size_t off = 0;
    table_t *t = NULL;
    int ret = msgpack_unpack_next(&msg, (const char *)data, len, &off);
    uint64_t rows = 0;
    const msgpack_object *cols = NULL;
    int rc = ret == MSGPACK_UNPACK_NOMEM_ERROR ? mlops_err_set(err, MLOPS_ENOMEM, "table: out of memory")
           : ret != MSGPACK_UNPACK_SUCCESS     ? mlops_err_set(err, MLOPS_EPROTO, "table: bad msgpack")
                                               : s_dec_root(&msg.data, &rows, &cols, err);
    if (rc == 0 && !(t = table_new(rows)))
        rc = mlops_err_set(err, MLOPS_ENOMEM, "table: out of memory");
    for (uint32_t c = 0; rc == 0 && c < cols->via.array.size; c++) {
        s_dec_t d = {.map = &cols->via.array.ptr[c], .index = c, .n_rows = rows};
        rc = s_dec_col(&d, t, err);
        if (rc == MLOPS_ENOMEM)
            mlops_err_set(err, rc, "%s: out of memory", d.label);
    }
    msgpack_unpacked_destroy(&msg);
    if (rc != 0)
        table_destroy(&t);
    return t;
}

/* --- the shape, from the head alone ---------------------------------------- */

//  Reads the unsigned int at *pos (fixint, uint 8..64) and moves past it;
//  false when there is none.
static bool s_head_uint(const uint8_t *d, size_t len, size_t *pos, uint64_t *v)
{
    if (*pos >= len)
        return false;
    uint8_t b = d[(*pos)++];
    if (b <= 0x7f) {
        *v = b;
        return true;
    }
    if (b < 0xcc || b > 0xcf)
        return false;
    size_t w = (size_t)1 << (b - 0xcc);
    if (*pos + w > len)
        return false;
    for (*v = 0; w > 0; w--)
        *v = *v << 8 | d[(*pos)++];
    return true;
}

//  Moves past the fixstr key at *pos; false when it is another.
static bool s_head_key(const uint8_t *d, size_t len, size_t *pos, const char *key)
{
    size_t n = strlen(key);
    if (*pos + 1 + n > len || d[*pos] != (0xa0 | n) || memcmp(d + *pos + 1, key, n) != 0)
        return false;
    *pos += 1 + n;
    return true;
}

int table_shape(const uint8_t *head, size_t len, size_t *rows, size_t *cols, mlops_err_t *err)
{
    size_t pos = 1;
    uint64_t version = 0, n_rows = 0, n_cols = 0;
    bool ok = len > 0 && head[0] == 0x83 && s_head_key(head, len, &pos, "version")
              && s_head_uint(head, len, &pos, &version) && s_head_key(head, len, &pos, "rows")
              && s_head_uint(head, len, &pos, &n_rows) && s_head_key(head, len, &pos, "columns")
              && pos < len;
    if (ok && (head[pos] & 0xf0) == 0x90)
        n_cols = head[pos] & 0x0f;
    else if (ok && head[pos] == 0xdc && pos + 3 <= len)
        n_cols = (uint64_t)head[pos + 1] << 8 | head[pos + 2];
    else
        ok = false;
    if (!ok)
        return mlops_err_set(err, MLOPS_EPROTO, "table: not the head of an encoded table");
    if (version != 1)
        return mlops_err_set(err, MLOPS_EVERSION, "table: version %llu, expected 1",
                             (unsigned long long)version);
    *rows = (size_t)n_rows;
    *cols = (size_t)n_cols;
    return 0;
}
