/*  msg.c: the MLOPS/1 codec (proto/PROTOCOL.md is the spec).

    Both directions are driven by one table per command that lists its body
    keys in struct order with their type, offset in proto_msg_t and whether
    they are required. The encoder walks the table with msgpack-c's packer,
    so the bytes are canonical. The decoder is a hand-written strict reader
    over the frame rather than msgpack_unpack_next: it needs byte offsets for
    its messages, must refuse what msgpack-c would accept (duplicate keys,
    NUL bytes, trailing bytes) and, being on the serving hot path, copies
    strings straight into the message's arena without building an object
    tree first. A decoded message is one malloc (struct + first arena block)
    unless its contents outgrow the estimate, then a few more blocks.
*/
#include "msg.h"

#include "log.h"
#include "mpcheck.h"

#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FIELD_EST_BYTES 16      //  encoded bytes guessed per record field
#define S_DUP_PAIRWISE_MAX 16     //  record fields compared pairwise up to this; sorted above
#define S_ENCODE_START_BYTES 256  //  first encode buffer, before bins
#define S_KEY_SAMPLE_MAX 48       //  bytes of an unknown key quoted in a message

//  --------------------------------------------------------------------------
//  The command tables

typedef enum {
    F_STR,      //  const char *
    F_INT,      //  int64_t, >= 0
    F_UINT,     //  uint64_t
    F_BOOL,     //  bool
    F_BIN,      //  const uint8_t * + size_t length
    F_ANY,      //  const uint8_t * + size_t length: one encoded msgpack object
    F_RECORDS,  //  proto_record_t * + size_t count
    F_INTS,     //  const int64_t * + size_t count
    F_FLOATS,   //  const double * + size_t count
    F_DETAIL,   //  const proto_problem_t * + size_t count
} s_kind_t;

typedef struct {
    const char *key;  //  wire name, the struct field's name
    s_kind_t kind;    //  msgpack type and C layout
    size_t off;       //  offset of the value in proto_msg_t
    size_t len_off;   //  offset of the size_t length or count (sized kinds)
    bool required;    //  an absent key is an error (else it takes its default)
} s_field_t;

typedef struct {
    const char *name;         //  wire name
    const s_field_t *fields;  //  body keys in canonical order
    size_t n_fields;
} s_command_t;

#define S_F(c, k, kind, req) { #k, kind, offsetof(proto_msg_t, c.k), 0, req }
#define S_SIZED(c, k, n, kind, req) { #k, kind, offsetof(proto_msg_t, c.k), offsetof(proto_msg_t, c.n), req }
#define REQ true
#define OPT false

static const s_field_t s_ready[] = {
    S_F(ready, stage, F_STR, REQ), S_F(ready, host, F_STR, REQ),
    S_F(ready, pid, F_INT, REQ), S_F(ready, model_version, F_INT, OPT)};
static const s_field_t s_heartbeat[] = {
    S_F(heartbeat, task_id, F_STR, OPT), S_F(heartbeat, model_version, F_INT, OPT)};
static const s_field_t s_task[] = {
    S_F(task, task_id, F_STR, REQ), S_F(task, run_id, F_INT, REQ),
    S_F(task, stage, F_STR, REQ), S_F(task, attempt, F_INT, REQ),
    S_SIZED(task, input, input_len, F_BIN, REQ)};
static const s_field_t s_result[] = {
    S_F(result, task_id, F_STR, REQ), S_F(result, run_id, F_INT, REQ),
    S_F(result, ok, F_BOOL, REQ), S_F(result, error, F_STR, OPT),
    S_SIZED(result, output, output_len, F_BIN, OPT),
    S_F(result, started_ms, F_INT, REQ), S_F(result, ended_ms, F_INT, REQ)};
static const s_field_t s_disconnect[] = {S_F(disconnect, reason, F_STR, OPT)};
static const s_field_t s_retrain[] = {
    S_F(retrain, source, F_STR, OPT), S_F(retrain, reason, F_STR, OPT)};
static const s_field_t s_runs[] = {S_F(runs, limit, F_INT, OPT)};
static const s_field_t s_promote[] = {
    S_F(promote, version, F_INT, REQ), S_F(promote, reason, F_STR, OPT)};
static const s_field_t s_rollback[] = {S_F(rollback, reason, F_STR, OPT)};
static const s_field_t s_get_model[] = {S_F(get_model, version, F_INT, OPT)};
static const s_field_t s_reply[] = {
    S_F(reply, ok, F_BOOL, REQ), S_F(reply, error, F_STR, OPT),
    S_SIZED(reply, data, data_len, F_ANY, OPT), S_F(reply, code, F_STR, OPT)};
static const s_field_t s_event[] = {
    S_F(event, kind, F_STR, REQ), S_F(event, run_id, F_INT, OPT),
    S_F(event, stage, F_STR, OPT), S_F(event, state, F_STR, OPT),
    S_F(event, version, F_INT, OPT), S_F(event, message, F_STR, OPT),
    S_F(event, ts_ms, F_INT, REQ)};
static const s_field_t s_predict[] = {
    S_F(predict, req_id, F_UINT, REQ),
    S_SIZED(predict, records, n_records, F_RECORDS, REQ)};
static const s_field_t s_prediction[] = {
    S_F(prediction, req_id, F_UINT, REQ), S_F(prediction, model_version, F_INT, REQ),
    S_SIZED(prediction, predictions, n, F_INTS, REQ),
    S_SIZED(prediction, probabilities, n, F_FLOATS, REQ)};
static const s_field_t s_error[] = {
    S_F(error, req_id, F_UINT, REQ), S_F(error, status, F_INT, REQ),
    S_F(error, message, F_STR, REQ), S_SIZED(error, detail, n_detail, F_DETAIL, OPT)};
static const s_field_t s_serving[] = {
    S_F(serving, host, F_STR, REQ), S_F(serving, pid, F_INT, REQ),
    S_F(serving, model_version, F_INT, REQ), S_F(serving, interval_ms, F_INT, OPT)};

#define S_CMD(name, arr) { name, arr, sizeof(arr) / sizeof((arr)[0]) }
static const s_command_t s_commands[] = {
    [PROTO_READY] = S_CMD("READY", s_ready),
    [PROTO_HEARTBEAT] = S_CMD("HEARTBEAT", s_heartbeat),
    [PROTO_TASK] = S_CMD("TASK", s_task),
    [PROTO_RESULT] = S_CMD("RESULT", s_result),
    [PROTO_DISCONNECT] = S_CMD("DISCONNECT", s_disconnect),
    [PROTO_RETRAIN] = S_CMD("RETRAIN", s_retrain),
    [PROTO_STATUS] = {"STATUS", NULL, 0},
    [PROTO_RUNS] = S_CMD("RUNS", s_runs),
    [PROTO_MODELS] = {"MODELS", NULL, 0},
    [PROTO_PROMOTE] = S_CMD("PROMOTE", s_promote),
    [PROTO_ROLLBACK] = S_CMD("ROLLBACK", s_rollback),
    [PROTO_GET_MODEL] = S_CMD("GET_MODEL", s_get_model),
    [PROTO_REPLY] = S_CMD("REPLY", s_reply),
    [PROTO_EVENT] = S_CMD("EVENT", s_event),
    [PROTO_PREDICT] = S_CMD("PREDICT", s_predict),
    [PROTO_PREDICTION] = S_CMD("PREDICTION", s_prediction),
    [PROTO_ERROR] = S_CMD("ERROR", s_error),
    [PROTO_SERVING] = S_CMD("SERVING", s_serving),
};
#define S_N_COMMANDS (sizeof(s_commands) / sizeof(s_commands[0]))

static const uint8_t s_nil[1] = {0xc0};  //  REPLY data when absent
static const uint8_t s_empty[1] = {0};   //  bins when absent (length 0)

static const s_command_t *s_command(proto_cmd_t cmd)
{
    if ((size_t)cmd >= S_N_COMMANDS || !s_commands[cmd].name)
        return NULL;
    return &s_commands[cmd];
}

const char *proto_cmd_name(proto_cmd_t cmd)
{
    const s_command_t *c = s_command(cmd);
    return c ? c->name : NULL;
}

const char *proto_reply_code(int rc)
{
    switch (rc) {
    case MLOPS_EPROTO: case MLOPS_EVERSION: case MLOPS_ECOMMAND: case MLOPS_ETOOBIG:
    case MLOPS_EINVAL: case MLOPS_ECSV: case MLOPS_ECHECK:
        return PROTO_REPLY_INVALID;
    case MLOPS_ENOTFOUND: case MLOPS_ENOMODEL: return PROTO_REPLY_NOT_FOUND;
    case MLOPS_ESTATE: return PROTO_REPLY_CONFLICT;
    case MLOPS_EMAPFULL: case MLOPS_ENOMEM: case MLOPS_ETIMEOUT: return PROTO_REPLY_UNAVAILABLE;
    default: return PROTO_REPLY_INTERNAL;
    }
}

//  Field accessors: the table says where, these say as what.
#define S_AT(msg, off, type) ((type *)((char *)(msg) + (off)))
#define S_CAT(msg, off, type) ((const type *)((const char *)(msg) + (off)))

//  True when s[0..n) is UTF-8 without a NUL byte; else *bad is the offset
//  of the first byte that is not.
static bool s_utf8_valid(const uint8_t *s, size_t n, size_t *bad)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    while (i < n) {
        uint64_t w;
        //  eight bytes at a time while they are ASCII without a NUL
        if (n - i >= 8 && (memcpy(&w, s + i, 8), ((w | ((w - ones) & ~w)) & highs) == 0)) {
            i += 8;
            continue;
        }
        uint8_t c = s[i];
        if (c >= 0x01 && c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf)
            extra = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            extra = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            extra = 3, cp = c & 0x07;
        else
            break;  //  NUL, a continuation byte, or 0xc0, 0xc1, 0xf5..0xff
        if (n - i <= extra)
            break;
        size_t k;
        for (k = 1; k <= extra && (s[i + k] & 0xc0) == 0x80; k++)
            cp = (cp << 6) | (s[i + k] & 0x3f);
        if (k <= extra)
            break;
        //  overlong forms, UTF-16 surrogates, beyond U+10FFFF
        if ((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)
            || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
            break;
        i += extra + 1;
    }
    *bad = i;
    return i == n;
}

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
    if (!s_utf8_valid(*s, *n, &bad))
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

typedef struct {
    uint64_t head;     //  the name's first 8 bytes, zero-padded
    size_t len;        //  the name's length
    const char *name;  //  the name, borrowed
} s_name_key_t;

static void s_name_key(s_name_key_t *key, const char *name, size_t len)
{
    key->name = name;
    key->len = len;
    key->head = 0;
    memcpy(&key->head, name, len < 8 ? len : 8);
}

static int s_name_key_cmp_fn(const void *a, const void *b)
{
    return strcmp(((const s_name_key_t *)a)->name, ((const s_name_key_t *)b)->name);
}

//  A name two of the n keys share, or NULL: pairwise on (head, len), with
//  strcmp only when those agree, for the usual handful of fields (the
//  later of the first pair found); by sorting (n log n, not n squared) for
//  wide records, which reorders keys.
static const char *s_names_repeat(s_name_key_t *keys, size_t n)
{
    if (n > S_DUP_PAIRWISE_MAX) {
        qsort(keys, n, sizeof *keys, s_name_key_cmp_fn);
        for (size_t i = 1; i < n; i++)
            if (strcmp(keys[i].name, keys[i - 1].name) == 0)
                return keys[i].name;
        return NULL;
    }
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (keys[i].head == keys[j].head && keys[i].len == keys[j].len
                && strcmp(keys[i].name, keys[j].name) == 0)
                return keys[i].name;
    return NULL;
}

//  Fails when two fields of a record share a name.
static int s_record_check_dups(s_reader_t *r, const proto_record_t *rec, size_t index)
{
    s_name_key_t stack[S_DUP_PAIRWISE_MAX], *keys = stack;
    if (rec->n_fields > S_DUP_PAIRWISE_MAX
        && !(keys = s_arena_alloc(r->msg, rec->n_fields * sizeof *keys)))
        return s_nomem(r);
    for (size_t i = 0; i < rec->n_fields; i++)
        s_name_key(&keys[i], rec->fields[i].name, strlen(rec->fields[i].name));
    const char *dup = s_names_repeat(keys, rec->n_fields);
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
static int s_read_field(s_reader_t *r, const s_field_t *f)
{
    proto_msg_t *m = &r->msg->pub;
    switch (f->kind) {
    case F_STR: return s_read_str_copy(r, S_AT(m, f->off, const char *));
    case F_INT: return s_read_i64(r, 0, S_AT(m, f->off, int64_t));
    case F_UINT: {
        size_t at = r->pos;
        s_int_t v;
        if (s_read_int(r, &v))
            return r->err.code;
        if (v.neg)
            return s_fail(r, MLOPS_EPROTO, "%lld is negative at byte %zu (unsigned)", (long long)v.i, at);
        *S_AT(m, f->off, uint64_t) = v.u;
        return 0;
    }
    case F_BOOL: return s_read_bool(r, S_AT(m, f->off, bool));
    case F_BIN:
    case F_ANY:
        return s_read_bytes(r, f->kind == F_ANY, S_AT(m, f->off, const uint8_t *),
                            S_AT(m, f->len_off, size_t));
    case F_RECORDS:
        return s_read_records(r, S_AT(m, f->off, proto_record_t *), S_AT(m, f->len_off, size_t));
    case F_INTS:
        return s_read_array(r, PROTO_RECORDS_MAX, sizeof(int64_t), s_read_int_fn, S_AT(m, f->off, const void *),
                            S_AT(m, f->len_off, size_t));
    case F_FLOATS:
        return s_read_array(r, PROTO_RECORDS_MAX, sizeof(double), s_read_float_fn, S_AT(m, f->off, const void *),
                            S_AT(m, f->len_off, size_t));
    case F_DETAIL:
        return s_read_array(r, PROTO_DETAIL_MAX, sizeof(proto_problem_t), s_read_problem_fn,
                            S_AT(m, f->off, const void *), S_AT(m, f->len_off, size_t));
    }
    assert(!"unreachable field kind");
    return MLOPS_EPROTO;
}

//  Sets an absent optional key to its default: "", 0, false, an empty bin,
//  nil for REPLY data, an empty array.
static void s_default_field(proto_msg_t *m, const s_field_t *f)
{
    switch (f->kind) {
    case F_STR: *S_AT(m, f->off, const char *) = ""; break;
    case F_BIN: *S_AT(m, f->off, const uint8_t *) = s_empty; break;
    case F_ANY:
        *S_AT(m, f->off, const uint8_t *) = s_nil;
        *S_AT(m, f->len_off, size_t) = sizeof s_nil;
        break;
    case F_DETAIL: *S_AT(m, f->off, const proto_problem_t *) = NULL; break;
    default: break;  //  numbers and counts are already zero
    }
}

//  Finds key k (not terminated) among the command's fields; returns its index or -1.
static int s_find_key(const s_command_t *c, const uint8_t *k, size_t n)
{
    for (size_t i = 0; i < c->n_fields; i++)
        if (strncmp(c->fields[i].key, (const char *)k, n) == 0 && c->fields[i].key[n] == '\0')
            return (int)i;
    return -1;
}

//  Returns the key of another field already read that shares f's count
//  (PREDICTION's predictions and probabilities), or NULL.
static const char *s_shared_seen(const s_command_t *c, uint32_t seen, size_t idx)
{
    const s_field_t *f = &c->fields[idx];
    for (size_t i = 0; i < c->n_fields; i++)
        if (i != idx && (seen & (1u << i)) && f->len_off && c->fields[i].len_off == f->len_off)
            return c->fields[i].key;
    return NULL;
}

static int s_read_body(s_reader_t *r, const s_command_t *c)
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
        const s_field_t *f = &c->fields[idx];
        const char *other = s_shared_seen(c, seen, (size_t)idx);
        size_t other_n = other ? *S_AT(m, f->len_off, size_t) : 0;
        if (s_read_field(r, f))
            return f->kind == F_RECORDS ? r->err.code : s_prefix(r, "%s", f->key);
        if (other && *S_AT(m, f->len_off, size_t) != other_n)
            return s_fail(r, MLOPS_EPROTO, "%s: %zu entries, but %s has %zu", f->key,
                          *S_AT(m, f->len_off, size_t), other, other_n);
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

//  Reads [version, command, body]; returns the command or fails.
static int s_read_envelope(s_reader_t *r, proto_cmd_t *cmd)
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
    if (v.neg || v.u != PROTO_VERSION)
        return s_fail(r, MLOPS_EVERSION, "version %s%llu at byte %zu is not supported (this peer speaks %d)",
                      v.neg ? "-" : "", v.neg ? 0ull - (unsigned long long)v.i : (unsigned long long)v.u,
                      at, PROTO_VERSION);
    at = r->pos;
    const uint8_t *name;
    size_t nn;
    if (s_read_str(r, &name, &nn))
        return s_prefix(r, "command");
    for (size_t i = 0; i < S_N_COMMANDS; i++) {
        const char *w = s_commands[i].name;
        if (w && strlen(w) == nn && memcmp(w, name, nn) == 0) {
            *cmd = (proto_cmd_t)i;
            return 0;
        }
    }
    char sample[S_KEY_SAMPLE_MAX];
    return s_fail(r, MLOPS_ECOMMAND, "unknown command \"%s\" at byte %zu",
                  log_sanitize(name, nn, sample, sizeof sample), at);
}

proto_msg_t *proto_msg_decode(const uint8_t *data, size_t len, mlops_err_t *err)
{
    assert(data || len == 0);
    s_reader_t r = {.buf = data, .len = len};
    mlops_err_clear(&r.err);
    proto_cmd_t cmd = 0;
    if (len > PROTO_FRAME_MAX_BYTES) {
        mlops_err_set(err, MLOPS_ETOOBIG, "frame of %zu bytes is over the %u byte limit", len,
                      PROTO_FRAME_MAX_BYTES);
        return NULL;
    }
    if (s_read_envelope(&r, &cmd) == 0) {
        const s_command_t *c = &s_commands[cmd];
        r.msg = s_msg_new(len);
        if (!r.msg)
            s_nomem(&r);
        else if (s_read_body(&r, c) != 0)
            s_prefix(&r, "%s", c->name);
        else if (r.pos != len)
            s_fail(&r, MLOPS_EPROTO, "%s: %zu trailing bytes after the message at byte %zu", c->name,
                   len - r.pos, r.pos);
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

//  --------------------------------------------------------------------------
//  Encoding

//  True when a C string is one the decoder would accept back.
static bool s_str_ok(const char *s)
{
    size_t bad;
    return s && s_utf8_valid((const uint8_t *)s, strlen(s), &bad);
}

static int s_pack_str_n(msgpack_packer *pk, const char *s, size_t n);

static int s_pack_str(msgpack_packer *pk, const char *s)
{
    return s_pack_str_n(pk, s, strlen(s));
}

//  A C string the decoder would accept back, walked once: the ASCII run
//  (the usual case) needs no decoding; *len gets its length.
static bool s_str_scan(const char *s, size_t *len)
{
    if (!s)
        return false;
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, bad;
    while (p[i] >= 0x01 && p[i] < 0x80)
        i++;
    *len = i + (p[i] ? strlen(s + i) : 0);
    return p[i] == 0 || s_utf8_valid(p + i, *len - i, &bad);
}

//  One string, header and body in one write when it is short.
static int s_pack_str_n(msgpack_packer *pk, const char *s, size_t n)
{
    if (n < 32) {
        char buf[32];
        buf[0] = (char)(0xa0 | n);
        memcpy(buf + 1, s, n);
        return pk->callback(pk->data, buf, n + 1);
    }
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

/*  PREDICT records, written straight into the buffer. A batch is most of a
    PREDICT's bytes, so each record is checked as the decoder would check
    it (what we send can be read back), its size bounded, then written in
    the same canonical forms msgpack-c's packer uses (test_interop_msg
    compares them with Python's). While a batch repeats one schema (the
    same name pointers as the record before, as the gateway's body parser
    and our decoder give them) the names' checks are not repeated.  */

typedef struct {
    char *at;      //  next byte to write
} s_out_t;

static void s_out_byte(s_out_t *o, uint8_t b)
{
    *o->at++ = (char)b;
}

//  v in n big-endian bytes.
static void s_out_be(s_out_t *o, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        *o->at++ = (char)(v >> (8 * i));
}

static void s_out_uint(s_out_t *o, uint64_t u)
{
    if (u < 128)
        s_out_byte(o, (uint8_t)u);
    else if (u < 256)
        s_out_byte(o, 0xcc), s_out_be(o, u, 1);
    else if (u < 65536)
        s_out_byte(o, 0xcd), s_out_be(o, u, 2);
    else if (u <= UINT32_MAX)
        s_out_byte(o, 0xce), s_out_be(o, u, 4);
    else
        s_out_byte(o, 0xcf), s_out_be(o, u, 8);
}

static void s_out_int(s_out_t *o, int64_t x)
{
    if (x >= 0)
        s_out_uint(o, (uint64_t)x);
    else if (x >= -32)
        s_out_byte(o, (uint8_t)x);
    else if (x >= INT8_MIN)
        s_out_byte(o, 0xd0), s_out_be(o, (uint64_t)x, 1);
    else if (x >= INT16_MIN)
        s_out_byte(o, 0xd1), s_out_be(o, (uint64_t)x, 2);
    else if (x >= INT32_MIN)
        s_out_byte(o, 0xd2), s_out_be(o, (uint64_t)x, 4);
    else
        s_out_byte(o, 0xd3), s_out_be(o, (uint64_t)x, 8);
}

//  A float 64, as msgpack-c writes every double.
static void s_out_double(s_out_t *o, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    s_out_byte(o, 0xcb);
    s_out_be(o, bits, 8);
}

static void s_out_str(s_out_t *o, const char *str, size_t n)
{
    if (n < 32)
        s_out_byte(o, (uint8_t)(0xa0 | n));
    else if (n < 256)
        s_out_byte(o, 0xd9), s_out_be(o, n, 1);
    else if (n < 65536)
        s_out_byte(o, 0xda), s_out_be(o, n, 2);
    else
        s_out_byte(o, 0xdb), s_out_be(o, n, 4);
    memcpy(o->at, str, n);
    o->at += n;
}

//  An array (map false) or map header of n entries.
static void s_out_container(s_out_t *o, bool map, size_t n)
{
    if (n < 16)
        s_out_byte(o, (uint8_t)((map ? 0x80 : 0x90) | n));
    else if (n < 65536)
        s_out_byte(o, map ? 0xde : 0xdc), s_out_be(o, n, 2);
    else
        s_out_byte(o, map ? 0xdf : 0xdd), s_out_be(o, n, 4);
}

//  An INT record value: num is integral; values past the int range were
//  rounded when decoded, so they are clamped to the range's ends, which
//  decode back to the same double.
static void s_out_int_value(s_out_t *o, double num)
{
    if (num >= 18446744073709551615.0)
        s_out_uint(o, UINT64_MAX);
    else if (num >= 9223372036854775807.0)
        s_out_uint(o, (uint64_t)num);
    else
        s_out_int(o, (int64_t)num);
}

static void s_out_value(s_out_t *o, const proto_field_t *f, size_t str_len)
{
    switch (f->kind) {
    case PROTO_VAL_NIL: s_out_byte(o, 0xc0); break;
    case PROTO_VAL_BOOL: s_out_byte(o, f->num != 0 ? 0xc3 : 0xc2); break;
    case PROTO_VAL_INT: s_out_int_value(o, f->num); break;
    case PROTO_VAL_FLOAT: s_out_double(o, f->num); break;
    case PROTO_VAL_STR: s_out_str(o, f->str, str_len); break;
    }
}

//  Bytes at most for a str of n bytes, header included.
static size_t s_str_bound(size_t n)
{
    return n + 5;
}

enum { S_SCALAR_BOUND = 9, S_HEADER_BOUND = 5 };   //  bytes at most: a number, a header

//  Checks one field's value as the decoder would; *len is a str's length,
//  *bound grows by the value's bytes at most.
static bool s_value_ok(const proto_field_t *f, size_t *len, size_t *bound)
{
    if (f->kind > PROTO_VAL_STR)
        return false;
    if (f->kind == PROTO_VAL_STR) {
        if (!s_str_scan(f->str, len))
            return false;
        *bound += s_str_bound(*len);
        return true;
    }
    *bound += S_SCALAR_BOUND;
    return f->kind != PROTO_VAL_INT
        || (f->num == floor(f->num) && f->num >= -9223372036854775808.0 && f->num <= 18446744073709551616.0);
}

//  The lengths of a record's names and str values, by field position.
typedef struct {
    size_t *names;    //  one per field of the widest record
    size_t *values;   //  as many; str values only
} s_lens_t;

//  Checks a record as the decoder would. lens holds the name lengths of
//  prev, the record before (NULL for the first), and gets rec's; *bound
//  gets its bytes at most. keys (as many entries) is room for the
//  duplicate check, which reorders it.
static bool s_record_ok(const proto_record_t *rec, const proto_record_t *prev, s_lens_t *lens,
                        s_name_key_t *keys, size_t *bound)
{
    if (rec->n_fields > PROTO_FIELDS_MAX || (rec->n_fields && !rec->fields))
        return false;
    bool same_names = prev && prev->n_fields == rec->n_fields;
    for (size_t j = 0; same_names && j < rec->n_fields; j++)
        same_names = rec->fields[j].name == prev->fields[j].name;
    *bound = S_HEADER_BOUND;
    for (size_t j = 0; j < rec->n_fields; j++) {
        const proto_field_t *f = &rec->fields[j];
        if (!same_names) {
            if (!s_str_scan(f->name, &lens->names[j]))
                return false;
            s_name_key(&keys[j], f->name, lens->names[j]);
        }
        *bound += s_str_bound(lens->names[j]);
        if (!s_value_ok(f, &lens->values[j], bound))
            return false;
    }
    return same_names || s_names_repeat(keys, rec->n_fields) == NULL;
}

//  Room for more bytes at the buffer's end; false when memory is short.
static bool s_reserve(msgpack_sbuffer *sb, size_t more)
{
    if (sb->alloc - sb->size >= more)
        return true;
    size_t cap = sb->alloc * 2 > sb->size + more ? sb->alloc * 2 : sb->size + more;
    char *data = realloc(sb->data, cap);
    if (!data)
        return false;
    sb->data = data;
    sb->alloc = cap;
    return true;
}

static int s_pack_records(msgpack_sbuffer *sb, const proto_record_t *recs, size_t n)
{
    if (n > PROTO_RECORDS_MAX || (n && !recs))
        return MLOPS_EINVAL;
    //  room for the widest record: on the stack for the usual handful of
    //  fields, so a request allocates nothing here
    enum { STACK_FIELDS = 64 };
    size_t width = 0;
    for (size_t i = 0; i < n; i++)
        width = recs[i].n_fields > width ? recs[i].n_fields : width;
    if (width > PROTO_FIELDS_MAX)
        return MLOPS_EINVAL;
    s_name_key_t keys_stack[STACK_FIELDS], *keys = keys_stack;
    size_t names_stack[STACK_FIELDS], values_stack[STACK_FIELDS];
    s_lens_t lens = {names_stack, values_stack};
    if (width > STACK_FIELDS) {
        keys = malloc(width * sizeof *keys);
        lens = (s_lens_t){malloc(width * sizeof(size_t)), malloc(width * sizeof(size_t))};
    }
    int rc = keys && lens.names && lens.values && s_reserve(sb, S_HEADER_BOUND) ? 0 : MLOPS_ENOMEM;
    s_out_t o = {sb->data + sb->size};
    if (rc == 0)
        s_out_container(&o, false, n);
    sb->size = (size_t)(o.at - sb->data);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const proto_record_t *rec = &recs[i];
        size_t bound;
        if (!s_record_ok(rec, i ? &recs[i - 1] : NULL, &lens, keys, &bound))
            rc = MLOPS_EINVAL;
        else if (!s_reserve(sb, bound))
            rc = MLOPS_ENOMEM;
        if (rc)
            break;
        o.at = sb->data + sb->size;
        s_out_container(&o, true, rec->n_fields);
        for (size_t j = 0; j < rec->n_fields; j++) {
            s_out_str(&o, rec->fields[j].name, lens.names[j]);
            s_out_value(&o, &rec->fields[j], lens.values[j]);
        }
        sb->size = (size_t)(o.at - sb->data);
    }
    if (keys != keys_stack) {
        free(keys);
        free(lens.names);
        free(lens.values);
    }
    return rc;
}

//  An array of len int64 (ints) or double values, written straight into
//  the buffer (a PREDICTION's two arrays, one entry per record).
static int s_pack_numbers(msgpack_sbuffer *sb, bool ints, const void *values, size_t len)
{
    if (len > PROTO_RECORDS_MAX || (len && !values))
        return MLOPS_EINVAL;
    if (!s_reserve(sb, S_HEADER_BOUND + len * S_SCALAR_BOUND))
        return MLOPS_ENOMEM;
    s_out_t o = {sb->data + sb->size};
    s_out_container(&o, false, len);
    for (size_t i = 0; i < len; i++) {
        if (ints) {
            s_out_int(&o, ((const int64_t *)values)[i]);
        } else {
            s_out_double(&o, ((const double *)values)[i]);
        }
    }
    sb->size = (size_t)(o.at - sb->data);
    return 0;
}

static int s_pack_detail(msgpack_packer *pk, const proto_problem_t *d, size_t n)
{
    if (n > PROTO_DETAIL_MAX || (n && !d))
        return MLOPS_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (d[i].index < -1 || !s_str_ok(d[i].field) || !s_str_ok(d[i].msg))
            return MLOPS_EINVAL;
    if (msgpack_pack_array(pk, n))
        return MLOPS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (msgpack_pack_map(pk, 3) || s_pack_str(pk, "index") || msgpack_pack_int64(pk, d[i].index)
            || s_pack_str(pk, "field") || s_pack_str(pk, d[i].field) || s_pack_str(pk, "msg")
            || s_pack_str(pk, d[i].msg))
            return MLOPS_ENOMEM;
    return 0;
}

//  True when data[0..len) is exactly one well-formed msgpack object.
static bool s_any_ok(const uint8_t *data, size_t len)
{
    size_t used;
    return mpcheck_object(data, len, PROTO_DEPTH_MAX, &used, NULL) == 0 && used == len;
}

//  Packs the value of key f: 0, MLOPS_EINVAL for a value the decoder would
//  refuse, MLOPS_ENOMEM when the buffer cannot grow.
static int s_pack_field(msgpack_packer *pk, msgpack_sbuffer *sb, const proto_msg_t *m, const s_field_t *f)
{
    const void *ptr = f->kind == F_STR || f->kind >= F_BIN ? *S_CAT(m, f->off, void *) : NULL;
    size_t len = f->len_off ? *S_CAT(m, f->len_off, size_t) : 0;
    int rc = 0;
    switch (f->kind) {
    case F_STR:
        if (!ptr && f->required)
            return MLOPS_EINVAL;
        if (ptr && !s_str_ok(ptr))
            return MLOPS_EINVAL;
        return s_pack_str(pk, ptr ? ptr : "") ? MLOPS_ENOMEM : 0;
    case F_INT:
        if (*S_CAT(m, f->off, int64_t) < 0)
            return MLOPS_EINVAL;
        rc = msgpack_pack_int64(pk, *S_CAT(m, f->off, int64_t));
        break;
    case F_UINT: rc = msgpack_pack_uint64(pk, *S_CAT(m, f->off, uint64_t)); break;
    case F_BOOL: rc = *S_CAT(m, f->off, bool) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case F_BIN:
        if (!ptr && len)
            return MLOPS_EINVAL;
        rc = msgpack_pack_bin(pk, len) || msgpack_pack_bin_body(pk, ptr, len);
        break;
    case F_ANY:
        if (!ptr || !len)
            rc = msgpack_pack_nil(pk);
        else if (!s_any_ok(ptr, len))
            return MLOPS_EINVAL;
        else
            rc = msgpack_sbuffer_write(sb, ptr, len);
        break;
    case F_RECORDS: return s_pack_records(sb, ptr, len);
    case F_INTS:
    case F_FLOATS: return s_pack_numbers(sb, f->kind == F_INTS, ptr, len);
    case F_DETAIL: return s_pack_detail(pk, ptr, len);
    }
    return rc ? MLOPS_ENOMEM : 0;
}

//  A first buffer big enough for the message's bins, so they are copied once.
static size_t s_encode_estimate(const proto_msg_t *m, const s_command_t *c)
{
    size_t est = S_ENCODE_START_BYTES;
    for (size_t i = 0; i < c->n_fields; i++)
        if (c->fields[i].kind == F_BIN || c->fields[i].kind == F_ANY)
            est += *S_CAT(m, c->fields[i].len_off, size_t);
    //  records: about S_FIELD_EST_BYTES a field, so a batch grows once or twice
    if (m->cmd == PROTO_PREDICT && m->predict.records && m->predict.n_records <= PROTO_RECORDS_MAX)
        for (size_t i = 0; i < m->predict.n_records; i++)
            est += m->predict.records[i].n_fields * S_FIELD_EST_BYTES;
    return est;
}

int proto_msg_encode(const proto_msg_t *msg, uint8_t **out, size_t *out_len)
{
    assert(msg && out && out_len);
    const s_command_t *c = s_command(msg->cmd);
    if (!c)
        return MLOPS_EINVAL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    sb.alloc = s_encode_estimate(msg, c);
    sb.data = malloc(sb.alloc);
    if (!sb.data)
        return MLOPS_ENOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = msgpack_pack_array(&pk, 3) || msgpack_pack_int(&pk, PROTO_VERSION)
          || s_pack_str(&pk, c->name) || msgpack_pack_map(&pk, c->n_fields) ? MLOPS_ENOMEM : 0;
    for (size_t i = 0; i < c->n_fields && !rc; i++)
        if ((rc = s_pack_str(&pk, c->fields[i].key) ? MLOPS_ENOMEM : 0) == 0)
            rc = s_pack_field(&pk, &sb, msg, &c->fields[i]);
    if (!rc && sb.size > PROTO_FRAME_MAX_BYTES)
        rc = MLOPS_ETOOBIG;
    if (rc) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    *out_len = sb.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&sb);
    return 0;
}

//  --------------------------------------------------------------------------
//  Comparing

static bool s_same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static bool s_same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool s_same_records(const proto_record_t *a, const proto_record_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].n_fields != b[i].n_fields)
            return false;
        for (size_t j = 0; j < a[i].n_fields; j++) {
            const proto_field_t *x = &a[i].fields[j], *y = &b[i].fields[j];
            if (!s_same_str(x->name, y->name) || x->kind != y->kind)
                return false;
            if (x->kind == PROTO_VAL_STR ? !s_same_str(x->str, y->str)
                : x->kind == PROTO_VAL_FLOAT ? !s_same_double(x->num, y->num)
                : x->num != y->num)
                return false;
        }
    }
    return true;
}

static bool s_same_field(const proto_msg_t *a, const proto_msg_t *b, const s_field_t *f)
{
    const void *pa = f->kind == F_STR || f->kind >= F_BIN ? *S_CAT(a, f->off, void *) : NULL;
    const void *pb = f->kind == F_STR || f->kind >= F_BIN ? *S_CAT(b, f->off, void *) : NULL;
    size_t n = f->len_off ? *S_CAT(a, f->len_off, size_t) : 0;
    if (f->len_off && n != *S_CAT(b, f->len_off, size_t))
        return false;
    switch (f->kind) {
    case F_STR: return s_same_str(pa, pb);
    case F_INT: return *S_CAT(a, f->off, int64_t) == *S_CAT(b, f->off, int64_t);
    case F_UINT: return *S_CAT(a, f->off, uint64_t) == *S_CAT(b, f->off, uint64_t);
    case F_BOOL: return *S_CAT(a, f->off, bool) == *S_CAT(b, f->off, bool);
    case F_BIN:
    case F_ANY: return n == 0 || memcmp(pa, pb, n) == 0;
    case F_RECORDS: return s_same_records(pa, pb, n);
    case F_INTS: return n == 0 || memcmp(pa, pb, n * sizeof(int64_t)) == 0;
    case F_FLOATS: return n == 0 || memcmp(pa, pb, n * sizeof(double)) == 0;
    case F_DETAIL:
        for (size_t i = 0; i < n; i++) {
            const proto_problem_t *x = &((const proto_problem_t *)pa)[i], *y = &((const proto_problem_t *)pb)[i];
            if (x->index != y->index || !s_same_str(x->field, y->field) || !s_same_str(x->msg, y->msg))
                return false;
        }
        return true;
    }
    return false;
}

bool proto_msg_equal(const proto_msg_t *a, const proto_msg_t *b)
{
    assert(a && b);
    if (a->cmd != b->cmd)
        return false;
    const s_command_t *c = s_command(a->cmd);
    if (!c)
        return false;
    for (size_t i = 0; i < c->n_fields; i++)
        if (!s_same_field(a, b, &c->fields[i]))
            return false;
    return true;
}

//  --------------------------------------------------------------------------
//  Dumping, for debug logs and tests

static void s_dump_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static void s_dump_hex(FILE *f, const uint8_t *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
    fputc('"', f);
}

//  Doubles as JSON numbers; NaN and the infinities as Python's json reads them.
static void s_dump_double(FILE *f, double d)
{
    if (isnan(d))
        fputs("NaN", f);
    else if (isinf(d))
        fputs(d > 0 ? "Infinity" : "-Infinity", f);
    else
        fprintf(f, "%.17g", d);
}

static void s_dump_records(FILE *f, const proto_record_t *recs, size_t n)
{
    static const char *kinds[] = {"nil", "bool", "int", "float", "str"};
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        fputs(i ? ", [" : "[", f);
        for (size_t j = 0; j < recs[i].n_fields; j++) {
            const proto_field_t *x = &recs[i].fields[j];
            fputs(j ? ", [" : "[", f);
            s_dump_str(f, x->name);
            fprintf(f, ", \"%s\", ", x->kind <= PROTO_VAL_STR ? kinds[x->kind] : "?");
            if (x->kind == PROTO_VAL_STR)
                s_dump_str(f, x->str);
            else
                s_dump_double(f, x->num);
            fputc(']', f);
        }
        fputc(']', f);
    }
    fputc(']', f);
}

static void s_dump_field(FILE *f, const proto_msg_t *m, const s_field_t *fd)
{
    const void *ptr = fd->kind == F_STR || fd->kind >= F_BIN ? *S_CAT(m, fd->off, void *) : NULL;
    size_t n = fd->len_off ? *S_CAT(m, fd->len_off, size_t) : 0;
    switch (fd->kind) {
    case F_STR: s_dump_str(f, ptr); break;
    case F_INT: fprintf(f, "%lld", (long long)*S_CAT(m, fd->off, int64_t)); break;
    case F_UINT: fprintf(f, "%llu", (unsigned long long)*S_CAT(m, fd->off, uint64_t)); break;
    case F_BOOL: fputs(*S_CAT(m, fd->off, bool) ? "true" : "false", f); break;
    case F_BIN:
    case F_ANY: s_dump_hex(f, ptr, n); break;
    case F_RECORDS: s_dump_records(f, ptr, n); break;
    case F_INTS:
    case F_FLOATS:
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
            if (i)
                fputs(", ", f);
            if (fd->kind == F_INTS)
                fprintf(f, "%lld", (long long)((const int64_t *)ptr)[i]);
            else
                s_dump_double(f, ((const double *)ptr)[i]);
        }
        fputc(']', f);
        break;
    case F_DETAIL:
        fputc('[', f);
        for (size_t i = 0; i < n; i++) {
            const proto_problem_t *p = &((const proto_problem_t *)ptr)[i];
            fprintf(f, "%s{\"index\": %lld, \"field\": ", i ? ", " : "", (long long)p->index);
            s_dump_str(f, p->field);
            fputs(", \"msg\": ", f);
            s_dump_str(f, p->msg);
            fputc('}', f);
        }
        fputc(']', f);
        break;
    }
}

void proto_msg_dump(FILE *f, const proto_msg_t *msg)
{
    assert(f && msg);
    const s_command_t *c = s_command(msg->cmd);
    if (!c) {
        fprintf(f, "{\"cmd\": null}\n");
        return;
    }
    fprintf(f, "{\"cmd\": \"%s\", \"body\": {", c->name);
    for (size_t i = 0; i < c->n_fields; i++) {
        fprintf(f, "%s\"%s\": ", i ? ", " : "", c->fields[i].key);
        s_dump_field(f, msg, &c->fields[i]);
    }
    fputs("}}\n", f);
}
