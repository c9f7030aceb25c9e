/*  feedback_io.c: see feedback_io.h. Encoding goes through msgpack-c's
    packer; decoding is a small hand-written reader over the bytes (not
    msgpack-c's unpacker) because a row's record must come back as the
    very bytes that were sent, a span of the input, and the PREDICT walk
    must not allocate. Every read is bounded by the bytes left; mpcheck
    measures what is skipped.
*/
#include "feedback_io.h"

#include "fields.h"

#include "mpcheck.h"

#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RECORD_DEPTH 1   //  a record is a map of scalars: nothing nested

/* --- reading ------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} s_rd_t;

static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

//  Takes n bytes; NULL when fewer are left.
static const uint8_t *s_take(s_rd_t *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return NULL;
    const uint8_t *at = r->p;
    r->p += n;
    return at;
}

//  A map (map true) or array header: its count. false when it is not one.
static bool s_container(s_rd_t *r, bool map, uint64_t *n)
{
    const uint8_t *b = s_take(r, 1);
    uint8_t fix = map ? 0x80 : 0x90, c16 = map ? 0xde : 0xdc, c32 = map ? 0xdf : 0xdd;
    if (b && (*b & 0xf0) == fix) {
        *n = *b & 0x0f;
        return true;
    }
    size_t width = b && *b == c16 ? 2 : b && *b == c32 ? 4 : 0;
    const uint8_t *v = width ? s_take(r, width) : NULL;
    if (v)
        *n = s_be(v, width);
    return v != NULL;
}

//  A str: its bytes (not NUL-terminated). false when it is not one.
static bool s_str(s_rd_t *r, const char **s, size_t *len)
{
    const uint8_t *b = s_take(r, 1);
    size_t width = 0;
    if (b && *b >= 0xa0 && *b <= 0xbf)
        *len = *b & 0x1f;
    else if (b && (*b == 0xd9 || *b == 0xda || *b == 0xdb))
        width = *b == 0xd9 ? 1 : *b == 0xda ? 2 : 4;
    else
        return false;
    const uint8_t *v = width ? s_take(r, width) : b;
    if (!v)
        return false;
    if (width)
        *len = (size_t)s_be(v, width);
    const uint8_t *at = s_take(r, *len);
    *s = (const char *)at;
    return at != NULL;
}

//  A scalar number or bool: its value, *is_int for an integer, *is_bool
//  for true / false. false when it is neither.
static bool s_number(s_rd_t *r, double *x, bool *is_int, bool *is_bool)
{
    const uint8_t *b = s_take(r, 1);
    *is_int = true;
    *is_bool = false;
    if (!b)
        return false;
    if (*b <= 0x7f || *b >= 0xe0) {
        *x = *b <= 0x7f ? *b : (int8_t)*b;
        return true;
    }
    if (*b == 0xc2 || *b == 0xc3) {
        *is_bool = true;
        *x = *b == 0xc3;
        return true;
    }
    static const uint8_t widths[] = {[0] = 4, [1] = 8, [2] = 1, [3] = 2, [4] = 4, [5] = 8,
                                     [6] = 1, [7] = 2, [8] = 4, [9] = 8};
    if (*b < 0xca || *b > 0xd3)
        return false;
    size_t w = widths[*b - 0xca];
    const uint8_t *v = s_take(r, w);
    if (!v)
        return false;
    uint64_t u = s_be(v, w);
    if (*b == 0xca || *b == 0xcb) {
        *is_int = false;
        float f;
        uint32_t u32 = (uint32_t)u;
        memcpy(&f, &u32, sizeof f);
        if (*b == 0xcb)
            memcpy(x, &u, sizeof *x);
        else
            *x = f;
    } else if (*b <= 0xcf)
        *x = (double)u;
    else
        *x = w == 1 ? (int8_t)u : w == 2 ? (int16_t)u : w == 4 ? (double)(int32_t)u : (double)(int64_t)u;
    return true;
}

//  Skips one object, measured by mpcheck. false when malformed.
static bool s_skip(s_rd_t *r, size_t depth)
{
    size_t used = 0;
    if (mpcheck_object(r->p, (size_t)(r->end - r->p), depth, &used, NULL) != 0)
        return false;
    r->p += used;
    return true;
}

//  True when key (len bytes) is name.
static bool s_is(const char *key, size_t len, const char *name)
{
    return strlen(name) == len && memcmp(key, name, len) == 0;
}

/* --- the PREDICT walk ---------------------------------------------------- */

int feedback_io_records_open(feedback_io_records_t *w, const uint8_t *frame, size_t len)
{
    s_rd_t r = {frame, frame + len};
    uint64_t n = 0, keys = 0;
    const char *cmd;
    size_t cmd_len;
    double version;
    bool is_int, is_bool;
    *w = (feedback_io_records_t){0};
    if (!s_container(&r, false, &n) || n != 3 || !s_number(&r, &version, &is_int, &is_bool)
        || !s_str(&r, &cmd, &cmd_len) || !s_is(cmd, cmd_len, "PREDICT") || !s_container(&r, true, &keys))
        return MLOPS_EPROTO;
    for (uint64_t k = 0; k < keys; k++) {
        const char *key;
        size_t key_len;
        if (!s_str(&r, &key, &key_len))
            return MLOPS_EPROTO;
        if (s_is(key, key_len, "records")) {
            if (!s_container(&r, false, &n))
                return MLOPS_EPROTO;
            *w = (feedback_io_records_t){r.p, r.end, (size_t)n};
            return 0;
        }
        if (!s_skip(&r, 2))
            return MLOPS_EPROTO;
    }
    return MLOPS_EPROTO;
}

bool feedback_io_records_next(feedback_io_records_t *w, const uint8_t **record, size_t *len)
{
    s_rd_t r = {w->at, w->end};
    if (w->left == 0 || !s_skip(&r, S_RECORD_DEPTH)) {
        w->left = 0;
        return false;
    }
    *record = w->at;
    *len = (size_t)(r.p - w->at);
    w->at = r.p;
    w->left--;
    return true;
}

/* --- encoding ------------------------------------------------------------ */

static void s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

//  True when a value starting with byte b is nil, bool, a number or a str
//  (not a container, bin or ext).
static bool s_scalar_byte(uint8_t b)
{
    return b <= 0x7f || b >= 0xe0 || (b >= 0xa0 && b <= 0xbf) || b == 0xc0 || b == 0xc2
        || b == 0xc3 || (b >= 0xca && b <= 0xd3) || (b >= 0xd9 && b <= 0xdb);
}

//  True when record is exactly one map of scalar values under str keys.
//  A record as PREDICT carries one: a map of distinct str keys to scalars
//  (a repeated key would leave extract to pick one: refused, as
//  msg_decode refuses it in a PREDICT).
static bool s_record_ok(const uint8_t *record, size_t len)
{
    s_rd_t r = {record, record + len};
    uint64_t n;
    if (len == 0 || len > FEEDBACK_IO_RECORD_MAX || !s_container(&r, true, &n))
        return false;
    const char *keys[FEEDBACK_IO_RECORD_MAX / 2];   //  a pair takes at least 2 bytes
    size_t key_lens[FEEDBACK_IO_RECORD_MAX / 2];
    if (n > FEEDBACK_IO_RECORD_MAX / 2)
        return false;
    for (uint64_t i = 0; i < n; i++) {
        if (!s_str(&r, &keys[i], &key_lens[i]) || r.p == r.end || !s_scalar_byte(*r.p) || !s_skip(&r, 0))
            return false;
        for (uint64_t j = 0; j < i; j++)
            if (key_lens[j] == key_lens[i] && memcmp(keys[j], keys[i], key_lens[i]) == 0)
                return false;
    }
    return r.p == r.end;
}

static bool s_row_ok(const feedback_io_row_t *row)
{
    size_t id = strnlen(row->request_id, sizeof row->request_id);
    return id > 0 && id <= FEEDBACK_IO_ID_MAX && s_record_ok(row->record, row->record_len)
        && (row->label_kind != FEEDBACK_IO_LABEL_STRING
            || strnlen(row->label_text, sizeof row->label_text) <= FEEDBACK_IO_LABEL_MAX)
        && (row->label_kind == FEEDBACK_IO_LABEL_STRING || isfinite(row->label_number));
}

static void s_pack_label(msgpack_packer *pk, const feedback_io_row_t *row)
{
    double x = row->label_number;
    if (row->label_kind == FEEDBACK_IO_LABEL_STRING)
        s_pack_str(pk, row->label_text);
    else if (row->label_kind == FEEDBACK_IO_LABEL_BOOL)
        x ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    else if (x == floor(x) && fabs(x) < 9007199254740992.0)   //  2^53: exact as an int
        msgpack_pack_int64(pk, (int64_t)x);
    else
        msgpack_pack_double(pk, x);
}

static void s_pack_row(msgpack_packer *pk, fields_buffer_t *b, const feedback_io_row_t *row)
{
    msgpack_pack_map(pk, 6);
    s_pack_str(pk, "request_id");
    s_pack_str(pk, row->request_id);
    s_pack_str(pk, "index");
    msgpack_pack_uint32(pk, row->index);
    s_pack_str(pk, "version");
    msgpack_pack_uint64(pk, row->version);
    s_pack_str(pk, "record");
    fields_buffer_write(b, (const char *)row->record, row->record_len);   //  verbatim
    s_pack_str(pk, "label");
    s_pack_label(pk, row);
    s_pack_str(pk, "time_ms");
    msgpack_pack_int64(pk, row->time_ms);
}

//  Packs n rows, as an array when array, else the one row.
static int s_encode(const feedback_io_row_t *rows, size_t n, bool array, uint8_t **out,
                    size_t *out_len)
{
    if (n > FEEDBACK_IO_ROWS_MAX)
        return MLOPS_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!s_row_ok(&rows[i]))
            return MLOPS_EINVAL;
    fields_buffer_t b;
    msgpack_packer pk;
    fields_buffer_init(&b, &pk);
    if (array)
        msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        s_pack_row(&pk, &b, &rows[i]);
    return fields_buffer_finish(&b, 0, out, out_len);
}

int feedback_io_rows_encode(const feedback_io_row_t *rows, size_t n, uint8_t **out, size_t *out_len)
{
    return s_encode(rows, n, true, out, out_len);
}

int feedback_io_row_encode(const feedback_io_row_t *row, uint8_t **out, size_t *out_len)
{
    return s_encode(row, 1, false, out, out_len);
}

static bool s_str_into(s_rd_t *r, char *out, size_t max, bool empty_ok);

int feedback_io_rows_join(const uint8_t *const *rows, const size_t *lens, size_t n, uint8_t **out,
                          size_t *out_len)
{
    if (n > FEEDBACK_IO_ROWS_MAX)
        return MLOPS_EINVAL;
    fields_buffer_t b;
    msgpack_packer pk;
    fields_buffer_init(&b, &pk);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        fields_buffer_write(&b, (const char *)rows[i], lens[i]);
    return fields_buffer_finish(&b, 0, out, out_len);
}

static const char *const s_answer_keys[] = {"stored", "duplicate", "rows", "bytes", "max_bytes",
                                            "stored_total", "duplicate_total", "rotated_total"};
#define S_ANSWER_KEYS (sizeof s_answer_keys / sizeof s_answer_keys[0])

//  The answer's fields in s_answer_keys' order.
static void s_answer_fields(feedback_io_answer_t *a, uint64_t *f[S_ANSWER_KEYS])
{
    uint64_t *all[S_ANSWER_KEYS] = {&a->stored, &a->duplicate, &a->rows, &a->bytes, &a->max_bytes,
                                    &a->stored_total, &a->duplicate_total, &a->rotated_total};
    memcpy(f, all, sizeof all);
}

int feedback_io_answer_encode(const feedback_io_answer_t *a, uint8_t **out, size_t *out_len)
{
    feedback_io_answer_t copy = *a;
    uint64_t *f[S_ANSWER_KEYS];
    s_answer_fields(&copy, f);
    fields_buffer_t b;
    msgpack_packer pk;
    fields_buffer_init(&b, &pk);
    msgpack_pack_map(&pk, S_ANSWER_KEYS);
    for (size_t i = 0; i < S_ANSWER_KEYS; i++) {
        s_pack_str(&pk, s_answer_keys[i]);
        msgpack_pack_uint64(&pk, *f[i]);
    }
    return fields_buffer_finish(&b, 0, out, out_len);
}

int feedback_io_answer_decode(const uint8_t *data, size_t len, feedback_io_answer_t *a,
                              mlops_err_t *err)
{
    s_rd_t r = {data, data + len};
    uint64_t keys, *f[S_ANSWER_KEYS];
    *a = (feedback_io_answer_t){0};
    s_answer_fields(a, f);
    if (!s_container(&r, true, &keys))
        return mlops_err_set(err, MLOPS_EPROTO, "FEEDBACK answer: not a map");
    for (uint64_t k = 0; k < keys; k++) {
        const char *key;
        size_t key_len;
        double x;
        bool is_int, is_bool, known = false;
        if (!s_str(&r, &key, &key_len))
            return mlops_err_set(err, MLOPS_EPROTO, "FEEDBACK answer: a key that is not a str");
        for (size_t i = 0; i < S_ANSWER_KEYS && !known; i++)
            if (s_is(key, key_len, s_answer_keys[i])) {
                known = true;
                if (!s_number(&r, &x, &is_int, &is_bool) || !is_int || is_bool || x < 0
                    || !(x < 18446744073709551616.0))   //  2^64: the cast below is defined
                    return mlops_err_set(err, MLOPS_EPROTO, "FEEDBACK answer: %s is not a uint",
                                         s_answer_keys[i]);
                *f[i] = (uint64_t)x;
            }
        if (!known && !s_skip(&r, 64))
            return mlops_err_set(err, MLOPS_EPROTO, "FEEDBACK answer: a value cut short");
    }
    return 0;
}

/* --- decoding ------------------------------------------------------------ */

//  Copies a str of at most max bytes into out (max + 1 bytes).
static bool s_str_into(s_rd_t *r, char *out, size_t max, bool empty_ok)
{
    const char *s;
    size_t len;
    if (!s_str(r, &s, &len) || len > max || (len == 0 && !empty_ok) || memchr(s, 0, len))
        return false;
    memcpy(out, s, len);
    out[len] = '\0';
    return true;
}

static bool s_label(s_rd_t *r, feedback_io_row_t *row)
{
    bool is_int, is_bool;
    s_rd_t peek = *r;
    const char *s;
    size_t len;
    if (s_str(&peek, &s, &len)) {
        row->label_kind = FEEDBACK_IO_LABEL_STRING;
        return s_str_into(r, row->label_text, FEEDBACK_IO_LABEL_MAX, true);
    }
    if (!s_number(r, &row->label_number, &is_int, &is_bool) || !isfinite(row->label_number))
        return false;
    row->label_kind = is_bool ? FEEDBACK_IO_LABEL_BOOL : FEEDBACK_IO_LABEL_NUMBER;
    return true;
}

//  One key's value into row. false when it is not the key's type.
static bool s_row_key(s_rd_t *r, const char *key, size_t key_len, feedback_io_row_t *row)
{
    double x;
    bool is_int, is_bool;
    if (s_is(key, key_len, "request_id"))
        return s_str_into(r, row->request_id, FEEDBACK_IO_ID_MAX, false);
    if (s_is(key, key_len, "label"))
        return s_label(r, row);
    if (s_is(key, key_len, "record")) {
        const uint8_t *at = r->p;
        bool ok = s_skip(r, S_RECORD_DEPTH);
        row->record = at;
        row->record_len = (size_t)(r->p - at);
        return ok && s_record_ok(at, row->record_len);
    }
    bool index = s_is(key, key_len, "index"), version = s_is(key, key_len, "version");
    if (!index && !version && !s_is(key, key_len, "time_ms"))
        return false;   //  an unknown key
    //  every value below 2^63 in magnitude (a double's cast is then defined; the
    //  counts, versions and times we write are far below it)
    if (!s_number(r, &x, &is_int, &is_bool) || !is_int || is_bool || (x < 0 && (index || version))
        || (index && x > UINT32_MAX) || !(fabs(x) < 9223372036854775808.0))
        return false;
    if (index)
        row->index = (uint32_t)x;
    else if (version)
        row->version = (uint64_t)x;
    else
        row->time_ms = (int64_t)x;
    return true;
}

static int s_row(s_rd_t *r, feedback_io_row_t *row, size_t at, mlops_err_t *err)
{
    uint64_t keys;
    *row = (feedback_io_row_t){0};
    if (!s_container(r, true, &keys) || keys != 6)
        return mlops_err_set(err, MLOPS_EPROTO, "feedback row %zu: not a map of the 6 keys", at);
    for (uint64_t k = 0; k < keys; k++) {
        const char *key;
        size_t key_len;
        if (!s_str(r, &key, &key_len))
            return mlops_err_set(err, MLOPS_EPROTO, "feedback row %zu: a key that is not a str", at);
        if (!s_row_key(r, key, key_len, row))
            return mlops_err_set(err, MLOPS_EPROTO, "feedback row %zu: bad or unknown key \"%.*s\"", at,
                                 (int)(key_len < 32 ? key_len : 32), key);
    }
    if (!row->request_id[0] || !row->record)
        return mlops_err_set(err, MLOPS_EPROTO, "feedback row %zu: request_id or record missing", at);
    return 0;
}

//  An array of at most max rows at r (to its end when whole).
static int s_rows(s_rd_t *r, size_t max, bool whole, feedback_io_row_t **rows, size_t *n, mlops_err_t *err)
{
    uint64_t count;
    *rows = NULL;
    *n = 0;
    if (!s_container(r, false, &count))
        return mlops_err_set(err, MLOPS_EPROTO, "feedback rows: not an array");
    if (count > max || count > (size_t)(r->end - r->p))   //  a row takes bytes: no lie allocates
        return mlops_err_set(err, MLOPS_ETOOBIG, "feedback rows: %llu rows, over the limit of %zu",
                             (unsigned long long)count, max);
    feedback_io_row_t *out = calloc(count ? count : 1, sizeof *out);
    if (!out)
        return mlops_err_set(err, MLOPS_ENOMEM, "feedback rows: out of memory");
    for (size_t i = 0; i < count; i++) {
        int rc = s_row(r, &out[i], i, err);
        if (rc) {
            free(out);
            return rc;
        }
    }
    if (whole && r->p != r->end) {
        free(out);
        return mlops_err_set(err, MLOPS_EPROTO, "feedback rows: bytes after the array");
    }
    *rows = out;
    *n = count;
    return 0;
}

int feedback_io_rows_decode(const uint8_t *data, size_t len, feedback_io_row_t **rows, size_t *n,
                            mlops_err_t *err)
{
    s_rd_t r = {data, data + len};
    return s_rows(&r, FEEDBACK_IO_ROWS_MAX, true, rows, n, err);
}

int feedback_io_set_encode(const char *target, const uint8_t *const *rows, const size_t *lens,
                           size_t n, uint8_t **out, size_t *out_len)
{
    size_t tlen = target ? strlen(target) : 0;
    if (tlen > FEEDBACK_IO_TARGET_MAX || n > FEEDBACK_IO_SET_ROWS_MAX)
        return MLOPS_EINVAL;
    fields_buffer_t b;
    msgpack_packer pk;
    fields_buffer_init(&b, &pk);
    msgpack_pack_map(&pk, 2);
    s_pack_str(&pk, "target");
    s_pack_str(&pk, target ? target : "");
    s_pack_str(&pk, "rows");
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++)
        fields_buffer_write(&b, (const char *)rows[i], lens[i]);
    return fields_buffer_finish(&b, 0, out, out_len);
}

int feedback_io_set_decode(const uint8_t *data, size_t len, char *target, feedback_io_row_t **rows,
                           size_t *n, mlops_err_t *err)
{
    s_rd_t r = {data, data + len};
    uint64_t keys;
    const char *key;
    size_t key_len;
    *rows = NULL;
    *n = 0;
    if (!s_container(&r, true, &keys) || keys != 2 || !s_str(&r, &key, &key_len)
        || !s_is(key, key_len, "target") || !s_str_into(&r, target, FEEDBACK_IO_TARGET_MAX, true)
        || !s_str(&r, &key, &key_len) || !s_is(key, key_len, "rows"))
        return mlops_err_set(err, MLOPS_EPROTO, "feedback set: not {\"target\": str, \"rows\": [...]}");
    return s_rows(&r, FEEDBACK_IO_SET_ROWS_MAX, true, rows, n, err);
}

int feedback_io_row_decode(const uint8_t *data, size_t len, feedback_io_row_t *row, mlops_err_t *err)
{
    s_rd_t r = {data, data + len};
    int rc = s_row(&r, row, 0, err);
    if (rc == 0 && r.p != r.end)
        rc = mlops_err_set(err, MLOPS_EPROTO, "feedback row: bytes after the map");
    return rc;
}

//  One record value into f (a str copied into the arena at *at).
static bool s_value(s_rd_t *r, proto_field_t *f, char *arena, size_t *at)
{
    const char *s;
    size_t len;
    s_rd_t peek = *r;
    bool is_int, is_bool;
    if (r->p < r->end && *r->p == 0xc0) {
        r->p++;
        f->kind = PROTO_VAL_NIL;
        return true;
    }
    if (s_str(&peek, &s, &len)) {
        *r = peek;
        memcpy(arena + *at, s, len);
        arena[*at + len] = '\0';
        f->kind = PROTO_VAL_STR;
        f->str = arena + *at;
        *at += len + 1;
        return true;
    }
    if (!s_number(r, &f->num, &is_int, &is_bool))
        return false;
    f->kind = is_bool ? PROTO_VAL_BOOL : is_int ? PROTO_VAL_INT : PROTO_VAL_FLOAT;
    return true;
}

int feedback_io_record_decode(const uint8_t *data, size_t len, proto_field_t **fields, size_t *n,
                              mlops_err_t *err)
{
    s_rd_t r = {data, data + len};
    uint64_t count;
    *fields = NULL;
    *n = 0;
    if (!s_record_ok(data, len) || !s_container(&r, true, &count))
        return mlops_err_set(err, MLOPS_EPROTO, "feedback record: not a map of scalar values");
    //  one block: the fields, then every name and str, NUL-terminated (fewer bytes than len + 2 x count)
    size_t head = (size_t)count * sizeof(proto_field_t), at = 0;
    proto_field_t *out = malloc(head + len + 2 * (size_t)count + 1);
    if (!out)
        return mlops_err_set(err, MLOPS_ENOMEM, "feedback record: out of memory");
    char *arena = (char *)out + head;
    for (size_t i = 0; i < count; i++) {
        const char *key;
        size_t key_len;
        s_str(&r, &key, &key_len);   //  s_record_ok checked the keys
        memcpy(arena + at, key, key_len);
        arena[at + key_len] = '\0';
        out[i] = (proto_field_t){.name = arena + at};
        at += key_len + 1;
        if (!s_value(&r, &out[i], arena, &at)) {
            free(out);
            return mlops_err_set(err, MLOPS_EPROTO, "feedback record: field %zu is not a scalar", i);
        }
    }
    *fields = out;
    *n = count;
    return 0;
}
