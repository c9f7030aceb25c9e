/*  msg_decode.c: MLOPS/1 frames into proto_msg_t (the decoding half of the
    codec; msg_internal.h says how the three files share the work).

    The decoder is a hand-written strict reader over the frame rather than
    msgpack_unpack_next: it needs byte offsets for its messages, must refuse
    what msgpack-c would accept (duplicate keys, NUL bytes, trailing bytes)
    and, being on the serving hot path, copies strings straight into the
    message's arena without building an object tree first. A decoded
    message is one malloc (struct + first arena block) unless its contents
    outgrow the estimate, then a few more blocks.
*/
#include "msg_internal.h"

#include "log.h"
#include "mpcheck.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY_SAMPLE_MAX 48  //  bytes of an unknown key quoted in a message

static const uint8_t s_nil[1] = {0xc0};  //  REPLY data when absent
static const uint8_t s_empty[1] = {0};   //  bins when absent (length 0)

//  --------------------------------------------------------------------------
//  The decoded message and its arena

typedef struct s_block {
    struct s_block *next;  //  older block
    max_align_t mem[];     //  the block's bytes
} s_block_t;

typedef struct {
    proto_msg_t pub;       //  first, so a proto_msg_t * is an s_msg_t *
    s_block_t *blocks;     //  arena blocks beyond the first, newest first
    uint8_t *cur;          //  next free byte of the current block
    size_t left;           //  free bytes there
    size_t last_cap;       //  capacity of the current block
    max_align_t mem[];     //  the first block, allocated with the struct
} s_msg_t;

#define S_ALIGN (sizeof(max_align_t))

//  Returns n bytes from the arena (aligned), or NULL when memory is short.
static void *s_arena_alloc(s_msg_t *m, size_t n)
{
    n = (n + S_ALIGN - 1) & ~(S_ALIGN - 1);
    if (n > m->left) {
        size_t cap = m->last_cap * 2 > n ? m->last_cap * 2 : n;
        s_block_t *b = malloc(sizeof(s_block_t) + cap);
        if (!b)
            return NULL;
        b->next = m->blocks;
        m->blocks = b;
        m->cur = (uint8_t *)b->mem;
        m->left = cap;
        m->last_cap = cap;
    }
    void *p = m->cur;
    m->cur += n;
    m->left -= n;
    return p;
}

//  A new message with a first block sized for a frame of len bytes: a small
//  frame is mostly keys and short values that grow into structs, a large one
//  is mostly bins copied once.
static s_msg_t *s_msg_new(size_t len)
{
    size_t cap = len < 65536 ? 4 * len + 512 : len + 65536;
    cap = (cap + S_ALIGN - 1) & ~(S_ALIGN - 1);
    s_msg_t *m = malloc(sizeof(s_msg_t) + cap);
    if (!m)
        return NULL;
    memset(&m->pub, 0, sizeof m->pub);
    m->blocks = NULL;
    m->cur = (uint8_t *)m->mem;
    m->left = cap;
    m->last_cap = cap;
    return m;
}

void proto_msg_destroy(proto_msg_t **p)
{
    if (!p || !*p)
        return;
    s_msg_t *m = (s_msg_t *)*p;
    while (m->blocks) {
        s_block_t *next = m->blocks->next;
        free(m->blocks);
        m->blocks = next;
    }
    free(m);
    *p = NULL;
}

//  --------------------------------------------------------------------------
//  The strict reader

typedef struct {
    const uint8_t *buf;  //  the frame
    size_t len;          //  its length
    size_t pos;          //  next byte to read
    mlops_err_t err;     //  the failure, prefixed with context on the way out
    s_msg_t *msg;        //  where decoded strings and arrays go
} s_reader_t;

//  Sets the reader's error; returns code.
static int s_fail(s_reader_t *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_fail(s_reader_t *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    r->err.code = code;
    vsnprintf(r->err.msg, sizeof r->err.msg, fmt, ap);
    va_end(ap);
    return code;
}

//  Prefixes the reader's error message with "context: "; returns the code.
static int s_prefix(s_reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_prefix(s_reader_t *r, const char *fmt, ...)
{
    char ctx[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    char *msg = r->err.msg;
    size_t cn = strlen(ctx), on = strlen(msg);
    if (cn + 2 + on >= sizeof r->err.msg)
        on = sizeof r->err.msg - 1 - (cn + 2);
    memmove(msg + cn + 2, msg, on);
    msg[cn + 2 + on] = '\0';
    memcpy(msg, ctx, cn);
    msg[cn] = ':';
    msg[cn + 1] = ' ';
    return r->err.code;
}

static int s_nomem(s_reader_t *r)
{
    return s_fail(r, MLOPS_ENOMEM, "out of memory at byte %zu", r->pos);
}

//  The msgpack family of a leading byte, for messages.
static const char *s_type_name(uint8_t b)
{
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
        return "int";
    if (b <= 0x8f || b == 0xde || b == 0xdf)
        return "map";
    if (b <= 0x9f || b == 0xdc || b == 0xdd)
        return "array";
    if (b <= 0xbf || (b >= 0xd9 && b <= 0xdb))
        return "str";
    switch (b) {
    case 0xc0: return "nil";
    case 0xc2: case 0xc3: return "bool";
    case 0xc4: case 0xc5: case 0xc6: return "bin";
    case 0xca: case 0xcb: return "float";
    case 0xc1: return "the never-used byte 0xc1";
    default: return "ext";
    }
}

static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

//  Ensures n more bytes are in the frame.
static int s_need(s_reader_t *r, size_t n)
{
    if (r->len - r->pos < n)
        return s_fail(r, MLOPS_EPROTO, "truncated at byte %zu (%zu bytes needed, %zu left)",
                      r->pos, n, r->len - r->pos);
    return 0;
}

//  Fails with "expected WHAT, got TYPE at byte N" for the byte at pos.
static int s_expected(s_reader_t *r, const char *what)
{
    return s_fail(r, MLOPS_EPROTO, "expected %s, got %s at byte %zu", what,
                  s_type_name(r->buf[r->pos]), r->pos);
}

//  Reads the length that follows a header byte in 1, 2 or 4 bytes.
static int s_read_len(s_reader_t *r, size_t width, size_t *n)
{
    if (s_need(r, 1 + width))
        return r->err.code;
    *n = (size_t)s_be(r->buf + r->pos + 1, width);
    r->pos += 1 + width;
    return 0;
}

//  An integer as read: its sign and magnitude.
typedef struct {
    bool neg;    //  negative: value in i
    int64_t i;   //  the value when neg
    uint64_t u;  //  the value when !neg
} s_int_t;

static int s_read_int(s_reader_t *r, s_int_t *v)
{
    if (s_need(r, 1))
        return r->err.code;
    uint8_t b = r->buf[r->pos];
    if (b <= 0x7f || b >= 0xe0) {
        v->neg = b >= 0xe0;
        v->i = (int8_t)b;
        v->u = b;
        r->pos++;
        return 0;
    }
    if (b < 0xcc || b > 0xd3)
        return s_expected(r, "int");
    size_t width = (size_t)1 << ((b - 0xcc) & 3);
    if (s_need(r, 1 + width))
        return r->err.code;
    uint64_t raw = s_be(r->buf + r->pos + 1, width);
    r->pos += 1 + width;
    if (b <= 0xcf) {
        v->neg = false, v->u = raw;
        return 0;
    }
    int64_t s = width == 1 ? (int8_t)raw : width == 2 ? (int16_t)raw
              : width == 4 ? (int32_t)raw : (int64_t)raw;
    v->neg = s < 0;
    v->i = s;
    v->u = (uint64_t)s;
    return 0;
}

//  Reads an int64 that must be >= min.
static int s_read_i64(s_reader_t *r, int64_t min, int64_t *out)
{
    size_t at = r->pos;
    s_int_t v;
    if (s_read_int(r, &v))
        return r->err.code;
    if (!v.neg && v.u > INT64_MAX)
        return s_fail(r, MLOPS_EPROTO, "%llu does not fit a signed 64-bit int at byte %zu",
                      (unsigned long long)v.u, at);
    int64_t x = v.neg ? v.i : (int64_t)v.u;
    if (x < min)
        return s_fail(r, MLOPS_EPROTO, "%lld is below %lld at byte %zu", (long long)x,
                      (long long)min, at);
    *out = x;
    return 0;
}

//  Reads a str header and body; *s points into the frame (not terminated).
static int s_read_str(s_reader_t *r, const uint8_t **s, size_t *n)
{
    if (s_need(r, 1))
        return r->err.code;
    uint8_t b = r->buf[r->pos];
    size_t at = r->pos;
    if (b >= 0xa0 && b <= 0xbf) {
        *n = b & 0x1f;
        r->pos++;
    } else if (b >= 0xd9 && b <= 0xdb) {
        if (s_read_len(r, (size_t)1 << (b - 0xd9), n))
            return r->err.code;
    } else {
        return s_expected(r, "str");
    }
    if (s_need(r, *n))
        return r->err.code;
    *s = r->buf + r->pos;
    size_t bad;
    if (!msg_utf8_valid(*s, *n, &bad))
        return s_fail(r, MLOPS_EPROTO, "str at byte %zu has %s at byte %zu", at,
                      (*s)[bad] == 0 ? "a NUL byte" : "invalid UTF-8", r->pos + bad);
    r->pos += *n;
    return 0;
}

//  Reads a str into the arena, NUL-terminated.
static int s_read_str_copy(s_reader_t *r, const char **out)
{
    const uint8_t *s;
    size_t n;
    if (s_read_str(r, &s, &n))
        return r->err.code;
    char *copy = s_arena_alloc(r->msg, n + 1);
    if (!copy)
        return s_nomem(r);
    memcpy(copy, s, n);
    copy[n] = '\0';
    *out = copy;
    return 0;
}

//  Reads an array or map header: the count must leave at least min_bytes
//  per entry in the frame, so no count can make us allocate past the frame.
static int s_read_container(s_reader_t *r, bool map, size_t *n)
{
    if (s_need(r, 1))
        return r->err.code;
    uint8_t b = r->buf[r->pos];
    size_t at = r->pos;
    uint8_t fix = map ? 0x80 : 0x90, wide = map ? 0xde : 0xdc;
    if (b >= fix && b <= fix + 0x0f) {
        *n = b & 0x0f;
        r->pos++;
    } else if (b == wide || b == wide + 1) {
        if (s_read_len(r, b == wide ? 2 : 4, n))
            return r->err.code;
    } else {
        return s_expected(r, map ? "map" : "array");
    }
    size_t per = map ? 2 : 1;
    if (*n > (r->len - r->pos) / per)
        return s_fail(r, MLOPS_EPROTO, "truncated: %s at byte %zu claims %zu entries, %zu bytes left",
                      map ? "map" : "array", at, *n, r->len - r->pos);
    return 0;
}

//  Checks a count against its protocol limit.
static int s_check_count(s_reader_t *r, size_t n, size_t max, const char *what, size_t at)
{
    if (n > max)
        return s_fail(r, MLOPS_ETOOBIG, "%zu %s at byte %zu, at most %zu allowed", n, what, at, max);
    return 0;
}

static int s_read_bool(s_reader_t *r, bool *out)
{
    if (s_need(r, 1))
        return r->err.code;
    uint8_t b = r->buf[r->pos];
    if (b != 0xc2 && b != 0xc3)
        return s_expected(r, "bool");
    *out = b == 0xc3;
    r->pos++;
    return 0;
}

static int s_read_float(s_reader_t *r, double *out)
{
    if (s_need(r, 1))
        return r->err.code;
    uint8_t b = r->buf[r->pos];
    if (b != 0xca && b != 0xcb)
        return s_expected(r, "float");
    size_t width = b == 0xca ? 4 : 8;
    if (s_need(r, 1 + width))
        return r->err.code;
    uint64_t raw = s_be(r->buf + r->pos + 1, width);
    if (width == 4) {
        uint32_t raw32 = (uint32_t)raw;
        float f;
        memcpy(&f, &raw32, sizeof f);
        *out = f;
    } else {
        memcpy(out, &raw, sizeof *out);
    }
    r->pos += 1 + width;
    return 0;
}

//  --------------------------------------------------------------------------
//  Decoding the body's composite values

//  Fails when two fields of a record share a name.
static int s_record_check_dups(s_reader_t *r, const proto_record_t *rec, size_t index)
{
    msg_name_key_t stack[MSG_DUP_PAIRWISE_MAX], *keys = stack;
    if (rec->n_fields > MSG_DUP_PAIRWISE_MAX
        && !(keys = s_arena_alloc(r->msg, rec->n_fields * sizeof *keys)))
        return s_nomem(r);
    for (size_t i = 0; i < rec->n_fields; i++)
        msg_name_key(&keys[i], rec->fields[i].name, strlen(rec->fields[i].name));
    const char *dup = msg_names_repeat(keys, rec->n_fields);
    if (!dup)
        return 0;
    char sample[S_KEY_SAMPLE_MAX];
    return s_fail(r, MLOPS_EPROTO, "records[%zu]: duplicate field \"%s\"", index,
                  log_sanitize(dup, strlen(dup), sample, sizeof sample));
}

static bool s_is_int(uint8_t b)
{
    return b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3);
}

static bool s_is_str(uint8_t b)
{
    return (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
}

//  Reads one record value: nil, bool, int, float or str.
static int s_read_value(s_reader_t *r, proto_field_t *f)
{
    if (s_need(r, 1))
        return r->err.code;
    uint8_t b = r->buf[r->pos];
    f->num = 0;
    f->str = "";
    if (b == 0xc0 || b == 0xc2 || b == 0xc3) {
        f->kind = b == 0xc0 ? PROTO_VAL_NIL : PROTO_VAL_BOOL;
        f->num = b == 0xc3;
        r->pos++;
        return 0;
    }
    if (s_is_int(b)) {
        s_int_t v;
        f->kind = PROTO_VAL_INT;
        if (s_read_int(r, &v))
            return r->err.code;
        f->num = v.neg ? (double)v.i : (double)v.u;
        return 0;
    }
    if (b == 0xca || b == 0xcb) {
        f->kind = PROTO_VAL_FLOAT;
        return s_read_float(r, &f->num);
    }
    if (s_is_str(b)) {
        f->kind = PROTO_VAL_STR;
        return s_read_str_copy(r, &f->str);
    }
    return s_fail(r, MLOPS_EPROTO, "a record value must be nil, bool, int, float or str, got %s at byte %zu",
                  s_type_name(b), r->pos);
}

//  A fixstr at the reader equal to name (len bytes, checked when it was
//  read): the reader moves past it. Batches repeat one schema, so a name
//  the record before had at this position is found here without a copy.
static bool s_read_same_name(s_reader_t *r, const char *name, size_t len)
{
    if (len >= 32 || r->len - r->pos < len + 1 || r->buf[r->pos] != (0xa0 | len)
        || memcmp(r->buf + r->pos + 1, name, len) != 0)
        return false;
    r->pos += len + 1;
    return true;
}

//  Reads record index; prev is the record before it (NULL for the first):
//  a field name equal to prev's at the same position shares prev's copy,
//  and a record whose names all match prev's needs no duplicate check
//  (prev passed it), so consumers may compare names by pointer.
static int s_read_record(s_reader_t *r, proto_record_t *rec, size_t index,
                         const proto_record_t *prev)
{
    size_t at = r->pos, n;
    if (s_read_container(r, true, &n))
        return s_prefix(r, "records[%zu]", index);
    if (s_check_count(r, n, PROTO_FIELDS_MAX, "fields", at))
        return s_prefix(r, "records[%zu]", index);
    rec->n_fields = n;
    rec->fields = s_arena_alloc(r->msg, (n ? n : 1) * sizeof(proto_field_t));
    if (!rec->fields)
        return s_nomem(r);
    bool same_names = prev && prev->n_fields == n;
    for (size_t j = 0; j < n; j++) {
        proto_field_t *f = &rec->fields[j];
        const char *shared = same_names ? prev->fields[j].name : NULL;
        if (shared && s_read_same_name(r, shared, strlen(shared))) {
            f->name = shared;
        } else {
            same_names = false;
            if (s_read_str_copy(r, &f->name))
                return s_prefix(r, "records[%zu]: field name", index);
        }
        if (s_read_value(r, f)) {
            char sample[S_KEY_SAMPLE_MAX];
            return s_prefix(r, "records[%zu].%s", index,
                            log_sanitize(f->name, strlen(f->name), sample, sizeof sample));
        }
    }
    return same_names ? 0 : s_record_check_dups(r, rec, index);
}

//  Reads an array header of at most max entries and takes room for them
//  from the arena; NULL with the reader's error set on failure.
static void *s_read_array_alloc(s_reader_t *r, size_t max, const char *what, size_t elem, size_t *n)
{
    size_t at = r->pos;
    if (s_read_container(r, false, n) || s_check_count(r, *n, max, what, at))
        return NULL;
    void *v = s_arena_alloc(r->msg, (*n ? *n : 1) * elem);
    if (!v)
        s_nomem(r);
    return v;
}

static int s_read_records(s_reader_t *r, proto_record_t **out, size_t *count)
{
    size_t n;
    proto_record_t *recs = s_read_array_alloc(r, PROTO_RECORDS_MAX, "records", sizeof *recs, &n);
    if (!recs)
        return s_prefix(r, "records");
    for (size_t i = 0; i < n; i++)
        if (s_read_record(r, &recs[i], i, i ? &recs[i - 1] : NULL))
            return r->err.code;  //  already names records[i]
    *out = recs;
    *count = n;
    return 0;
}

//  Element readers for s_read_array.
typedef int(s_elem_fn)(s_reader_t *r, void *elem);

static int s_read_int_fn(s_reader_t *r, void *elem)
{
    return s_read_i64(r, INT64_MIN, elem);
}

static int s_read_float_fn(s_reader_t *r, void *elem)
{
    return s_read_float(r, elem);
}

//  Reads an array of at most max elements of elem bytes each, read by fn.
static int s_read_array(s_reader_t *r, size_t max, size_t elem, s_elem_fn *fn, const void **out,
                        size_t *count)
{
    size_t n;
    uint8_t *v = s_read_array_alloc(r, max, "entries", elem, &n);
    if (!v)
        return r->err.code;
    for (size_t i = 0; i < n; i++)
        if (fn(r, v + i * elem))
            return s_prefix(r, "[%zu]", i);
    *out = v;
    *count = n;
    return 0;
}

//  One ERROR detail entry: a map of exactly index, field, msg.
static int s_read_problem_fn(s_reader_t *r, void *elem)
{
    proto_problem_t *p = elem;
    static const char *keys[] = {"index", "field", "msg"};
    size_t n;
    unsigned seen = 0;
    if (s_read_container(r, true, &n))
        return r->err.code;
    for (size_t i = 0; i < n; i++) {
        size_t at = r->pos, kn, k;
        const uint8_t *key;
        if (s_read_str(r, &key, &kn))
            return r->err.code;
        for (k = 0; k < 3; k++)
            if (strlen(keys[k]) == kn && memcmp(keys[k], key, kn) == 0)
                break;
        char sample[S_KEY_SAMPLE_MAX];
        if (k == 3 || (seen & (1u << k)))
            return s_fail(r, MLOPS_EPROTO, "%s key \"%s\" at byte %zu", k == 3 ? "unknown" : "duplicate",
                          log_sanitize(key, kn, sample, sizeof sample), at);
        seen |= 1u << k;
        int rc = k == 0 ? s_read_i64(r, -1, &p->index)
               : s_read_str_copy(r, k == 1 ? &p->field : &p->msg);
        if (rc)
            return s_prefix(r, "%s", keys[k]);
    }
    for (size_t k = 0; k < 3; k++)
        if (!(seen & (1u << k)))
            return s_fail(r, MLOPS_EPROTO, "missing required key \"%s\"", keys[k]);
    return 0;
}

//  Reads a bin, or any object for F_ANY, and copies its bytes to the arena.
static int s_read_bytes(s_reader_t *r, bool any, const uint8_t **out, size_t *len)
{
    size_t start = r->pos, n;
    if (any) {
        if (mpcheck_object(r->buf + start, r->len - start, PROTO_DEPTH_MAX, &n, &r->err))
            return s_prefix(r, "object at byte %zu", start);
        r->pos += n;
    } else {
        if (s_need(r, 1))
            return r->err.code;
        uint8_t b = r->buf[r->pos];
        if (b < 0xc4 || b > 0xc6)
            return s_expected(r, "bin");
        if (s_read_len(r, (size_t)1 << (b - 0xc4), &n) || s_need(r, n))
            return r->err.code;
        start = r->pos;
        r->pos += n;
    }
    uint8_t *copy = s_arena_alloc(r->msg, n ? n : 1);
    if (!copy)
        return s_nomem(r);
    memcpy(copy, r->buf + start, n);
    *out = copy;
    *len = n;
    return 0;
}

//  --------------------------------------------------------------------------
//  Decoding the envelope and body

//  Decodes the value of key f into the message.
static int s_read_field(s_reader_t *r, const msg_field_t *f)
{
    proto_msg_t *m = &r->msg->pub;
    switch (f->kind) {
    case F_STR: {
        const char **out = MSG_AT(m, f->off, const char *);
        if (s_read_str_copy(r, out))
            return r->err.code;
        size_t n = strlen(*out);
        return f->max_len && n > f->max_len
                   ? s_fail(r, MLOPS_EINVAL, "%zu bytes, at most %zu allowed", n, f->max_len)
                   : 0;
    }
    case F_INT: return s_read_i64(r, 0, MSG_AT(m, f->off, int64_t));
    case F_UINT: {
        size_t at = r->pos;
        s_int_t v;
        if (s_read_int(r, &v))
            return r->err.code;
        if (v.neg)
            return s_fail(r, MLOPS_EPROTO, "%lld is negative at byte %zu (unsigned)", (long long)v.i, at);
        *MSG_AT(m, f->off, uint64_t) = v.u;
        return 0;
    }
    case F_BOOL: return s_read_bool(r, MSG_AT(m, f->off, bool));
    case F_FLOAT: return s_read_float(r, MSG_AT(m, f->off, double));
    case F_BIN:
    case F_ANY:
        return s_read_bytes(r, f->kind == F_ANY, MSG_AT(m, f->off, const uint8_t *),
                            MSG_AT(m, f->len_off, size_t));
    case F_RECORDS:
        return s_read_records(r, MSG_AT(m, f->off, proto_record_t *), MSG_AT(m, f->len_off, size_t));
    case F_INTS:
        return s_read_array(r, PROTO_RECORDS_MAX, sizeof(int64_t), s_read_int_fn, MSG_AT(m, f->off, const void *),
                            MSG_AT(m, f->len_off, size_t));
    case F_FLOATS:
        return s_read_array(r, f->max_len ? f->max_len : PROTO_RECORDS_MAX, sizeof(double),
                            s_read_float_fn, MSG_AT(m, f->off, const void *),
                            MSG_AT(m, f->len_off, size_t));
    case F_DETAIL:
        return s_read_array(r, PROTO_DETAIL_MAX, sizeof(proto_problem_t), s_read_problem_fn,
                            MSG_AT(m, f->off, const void *), MSG_AT(m, f->len_off, size_t));
    }
    assert(!"unreachable field kind");
    return MLOPS_EPROTO;
}

//  Sets an absent optional key to its default: "", 0, false, an empty bin,
//  nil for REPLY data, an empty array.
static void s_default_field(proto_msg_t *m, const msg_field_t *f)
{
    switch (f->kind) {
    case F_STR: *MSG_AT(m, f->off, const char *) = ""; break;
    case F_BIN: *MSG_AT(m, f->off, const uint8_t *) = s_empty; break;
    case F_ANY:
        *MSG_AT(m, f->off, const uint8_t *) = s_nil;
        *MSG_AT(m, f->len_off, size_t) = sizeof s_nil;
        break;
    case F_DETAIL: *MSG_AT(m, f->off, const proto_problem_t *) = NULL; break;
    default: break;  //  numbers and counts are already zero
    }
}

//  Finds key k (not terminated) among the command's fields; returns its index or -1.
static int s_find_key(const msg_command_t *c, const uint8_t *k, size_t n)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (strncmp(c->fields[i].key, (const char *)k, n) == 0 && c->fields[i].key[n] == '\0')
            return (int)i;
    return -1;
}

//  Returns the key of another field already read that shares f's count
//  (PREDICTION's predictions and probabilities), or NULL.
static const char *s_shared_seen(const msg_command_t *c, uint32_t seen, size_t idx)
{
    const msg_field_t *f = &c->fields[idx];
    for (size_t i = 0; i < c->n_fields; i++)
        if (i != idx && (seen & (1u << i)) && f->len_off && c->fields[i].len_off == f->len_off)
            return c->fields[i].key;
    return NULL;
}

static int s_read_body(s_reader_t *r, const msg_command_t *c, int version)
{
    proto_msg_t *m = &r->msg->pub;
    size_t n;
    uint32_t seen = 0;
    if (s_read_container(r, true, &n))
        return s_prefix(r, "body");
    for (size_t i = 0; i < n; i++) {
        size_t at = r->pos, kn;
        const uint8_t *k;
        if (s_read_str(r, &k, &kn))
            return s_prefix(r, "body key");
        int idx = s_find_key(c, k, kn);
        char sample[S_KEY_SAMPLE_MAX];
        if (idx < 0 || (seen & (1u << idx)))
            return s_fail(r, MLOPS_EPROTO, "%s key \"%s\" at byte %zu", idx < 0 ? "unknown" : "duplicate",
                          log_sanitize(k, kn, sample, sizeof sample), at);
        const msg_field_t *f = &c->fields[idx];
        if (f->since > version)
            return s_fail(r, MLOPS_EPROTO, "key \"%s\" at byte %zu needs version %d (the envelope says %d)",
                          f->key, at, f->since, version);
        const char *other = s_shared_seen(c, seen, (size_t)idx);
        size_t other_n = other ? *MSG_AT(m, f->len_off, size_t) : 0;
        if (s_read_field(r, f))
            return f->kind == F_RECORDS ? r->err.code : s_prefix(r, "%s", f->key);
        if (other && *MSG_AT(m, f->len_off, size_t) != other_n)
            return s_fail(r, MLOPS_EPROTO, "%s: %zu entries, but %s has %zu", f->key,
                          *MSG_AT(m, f->len_off, size_t), other, other_n);
        seen |= 1u << idx;
    }
    for (size_t i = 0; i < c->n_fields; i++) {
        if (seen & (1u << i))
            continue;
        if (c->fields[i].required)
            return s_fail(r, MLOPS_EPROTO, "missing required key \"%s\"", c->fields[i].key);
        s_default_field(m, &c->fields[i]);
    }
    return 0;
}

//  Reads [version, command, body]; returns the command and the envelope's
//  version or fails.
static int s_read_envelope(s_reader_t *r, proto_cmd_t *cmd, int *version)
{
    size_t n, at;
    if (s_read_container(r, false, &n))
        return s_prefix(r, "envelope");
    if (n != 3)
        return s_fail(r, MLOPS_EPROTO, "envelope: an array of %zu elements, expected 3", n);
    at = r->pos;
    s_int_t v;
    if (s_read_int(r, &v))
        return s_prefix(r, "version");
    if (v.neg || v.u < PROTO_VERSION_MIN || v.u > PROTO_VERSION)
        return s_fail(r, MLOPS_EVERSION,
                      "version %s%llu at byte %zu is not supported (this peer speaks %d to %d)",
                      v.neg ? "-" : "", v.neg ? 0ull - (unsigned long long)v.i : (unsigned long long)v.u,
                      at, PROTO_VERSION_MIN, PROTO_VERSION);
    *version = (int)v.u;
    at = r->pos;
    const uint8_t *name;
    size_t nn;
    if (s_read_str(r, &name, &nn))
        return s_prefix(r, "command");
    char sample[S_KEY_SAMPLE_MAX];
    if ((*cmd = msg_command_find(name, nn)) != 0) {
        int since = msg_command(*cmd)->since;
        if (since <= *version)
            return 0;
        return s_fail(r, MLOPS_EVERSION, "command \"%s\" at byte %zu needs version %d (the envelope says %d)",
                      msg_command(*cmd)->name, at, since, *version);
    }
    return s_fail(r, MLOPS_ECOMMAND, "unknown command \"%s\" at byte %zu",
                  log_sanitize(name, nn, sample, sizeof sample), at);
}

proto_msg_t *proto_msg_decode(const uint8_t *data, size_t len, mlops_err_t *err)
{
    assert(data || len == 0);
    s_reader_t r = {.buf = data, .len = len};
    mlops_err_clear(&r.err);
    proto_cmd_t cmd = 0;
    int version = 0;
    if (len > PROTO_FRAME_MAX_BYTES) {
        mlops_err_set(err, MLOPS_ETOOBIG, "frame of %zu bytes is over the %u byte limit", len,
                      PROTO_FRAME_MAX_BYTES);
        return NULL;
    }
    if (s_read_envelope(&r, &cmd, &version) == 0) {
        const msg_command_t *c = msg_command(cmd);
        r.msg = s_msg_new(len);
        if (!r.msg)
            s_nomem(&r);
        else if (s_read_body(&r, c, version) != 0)
            s_prefix(&r, "%s", c->name);
        else if (r.pos != len)
            s_fail(&r, MLOPS_EPROTO, "%s: %zu trailing bytes after the message at byte %zu", c->name,
                   len - r.pos, r.pos);
        else if (cmd == PROTO_PREDICTION)
            proto_prediction_check(&r.msg->pub, &r.err);
        else if (cmd == PROTO_HEARTBEAT)
            proto_heartbeat_check(&r.msg->pub, &r.err);
    }
    if (r.err.code) {
        if (err)
            *err = r.err;
        proto_msg_t *m = r.msg ? &r.msg->pub : NULL;
        proto_msg_destroy(&m);
        return NULL;
    }
    r.msg->pub.cmd = cmd;
    return &r.msg->pub;
}

