/*  msg_encode.c: proto_msg_t into canonical MLOPS/1 bytes (the encoding
    half of the codec; msg_internal.h says how the three files share the
    work).

    The encoder walks the command's table with msgpack-c's packer, so the
    bytes are canonical (every key in struct order, the shortest form of
    each number and header), and refuses anything the decoder would refuse,
    so what we send can be read back. PREDICT records and PREDICTION's
    arrays, most of a serving message's bytes, are written straight into
    the buffer in the packer's forms.
*/
#include "msg_internal.h"

#include "mpcheck.h"

#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#define S_FIELD_EST_BYTES 16      //  encoded bytes guessed per record field
#define S_ENCODE_START_BYTES 256  //  first encode buffer, before bins

//  True when a C string is one the decoder would accept back.
static bool s_str_ok(const char *s)
{
    size_t bad;
    return s && msg_utf8_valid((const uint8_t *)s, strlen(s), &bad);
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
    return p[i] == 0 || msg_utf8_valid(p + i, *len - i, &bad);
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
                        msg_name_key_t *keys, size_t *bound)
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
            msg_name_key(&keys[j], f->name, lens->names[j]);
        }
        *bound += s_str_bound(lens->names[j]);
        if (!s_value_ok(f, &lens->values[j], bound))
            return false;
    }
    return same_names || msg_names_repeat(keys, rec->n_fields) == NULL;
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
    msg_name_key_t keys_stack[STACK_FIELDS], *keys = keys_stack;
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
static int s_pack_numbers(msgpack_sbuffer *sb, bool ints, const void *values, size_t len, size_t max)
{
    if (len > (max ? max : PROTO_RECORDS_MAX) || (len && !values))
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
static int s_pack_field(msgpack_packer *pk, msgpack_sbuffer *sb, const proto_msg_t *m, const msg_field_t *f)
{
    const void *ptr = f->kind == F_STR || f->kind >= F_BIN ? *MSG_CAT(m, f->off, void *) : NULL;
    size_t len = f->len_off ? *MSG_CAT(m, f->len_off, size_t) : 0;
    int rc = 0;
    switch (f->kind) {
    case F_STR:
        if (!ptr && f->required)
            return MLOPS_EINVAL;
        if (ptr && (!s_str_ok(ptr) || (f->max_len && strlen(ptr) > f->max_len)))
            return MLOPS_EINVAL;
        return s_pack_str(pk, ptr ? ptr : "") ? MLOPS_ENOMEM : 0;
    case F_INT:
        if (*MSG_CAT(m, f->off, int64_t) < 0)
            return MLOPS_EINVAL;
        rc = msgpack_pack_int64(pk, *MSG_CAT(m, f->off, int64_t));
        break;
    case F_UINT: rc = msgpack_pack_uint64(pk, *MSG_CAT(m, f->off, uint64_t)); break;
    case F_BOOL: rc = *MSG_CAT(m, f->off, bool) ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
    case F_FLOAT: rc = msgpack_pack_double(pk, *MSG_CAT(m, f->off, double)); break;
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
    case F_FLOATS: return s_pack_numbers(sb, f->kind == F_INTS, ptr, len, f->max_len);
    case F_DETAIL: return s_pack_detail(pk, ptr, len);
    }
    return rc ? MLOPS_ENOMEM : 0;
}


//  A first buffer big enough for the message's bins, so they are copied once.
static size_t s_encode_estimate(const proto_msg_t *m, const msg_command_t *c)
{
    size_t est = S_ENCODE_START_BYTES;
    for (size_t i = 0; i < c->n_fields; i++)
        if (c->fields[i].kind == F_BIN || c->fields[i].kind == F_ANY)
            est += *MSG_CAT(m, c->fields[i].len_off, size_t);
    //  records: about S_FIELD_EST_BYTES a field, so a batch grows once or twice
    if (m->cmd == PROTO_PREDICT && m->predict.records && m->predict.n_records <= PROTO_RECORDS_MAX)
        for (size_t i = 0; i < m->predict.n_records; i++)
            est += m->predict.records[i].n_fields * S_FIELD_EST_BYTES;
    return est;
}

int proto_msg_encode(const proto_msg_t *msg, uint8_t **out, size_t *out_len)
{
    assert(msg && out && out_len);
    const msg_command_t *c = msg_command(msg->cmd);
    if (!c || (msg->cmd == PROTO_PREDICTION && proto_prediction_check(msg, NULL) != 0)
        || (msg->cmd == PROTO_HEARTBEAT && proto_heartbeat_check(msg, NULL) != 0))
        return MLOPS_EINVAL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    sb.alloc = s_encode_estimate(msg, c);
    sb.data = malloc(sb.alloc);
    if (!sb.data)
        return MLOPS_ENOMEM;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    //  keys added after version 1 go out only when set (msg.h, "Versions")
    size_t n_keys = 0;
    for (size_t i = 0; i < c->n_fields; i++)
        n_keys += !msg_field_omitted(msg, &c->fields[i]);
    int rc = msgpack_pack_array(&pk, 3) || msgpack_pack_int(&pk, msg_version_needed(msg, c))
          || s_pack_str(&pk, c->name) || msgpack_pack_map(&pk, n_keys) ? MLOPS_ENOMEM : 0;
    for (size_t i = 0; i < c->n_fields && !rc; i++) {
        if (msg_field_omitted(msg, &c->fields[i]))
            continue;
        if ((rc = s_pack_str(&pk, c->fields[i].key) ? MLOPS_ENOMEM : 0) == 0)
            rc = s_pack_field(&pk, &sb, msg, &c->fields[i]);
    }
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

