/*  fields.h: the one table-driven msgpack codec for C structs in proto/.
    The durable records (records.c), the stage payloads (stage_io.c) and the
    control replies (control_io.c) each describe their struct once, as a
    table of fields, and one encoder and one decoder walk the tables. Keys on
    the wire are the struct field names by construction (the macros below
    take the field name and stringify it). Internal to proto/: nothing
    outside proto/ includes it.

    The encoding is PROTOCOL.md section 5.5's canonical one: a map with every
    key of the table in table order, ints shortest, floats as float 64, text
    as str, bytes as bin. Text longer than its array (no NUL in it) is
    truncated to the array size minus one, so whatever is encoded decodes.

    Decoding is strict: the input MUST be one map with no trailing bytes,
    nested no deeper than the table needs; every key of the table MUST appear
    exactly once (any order; an optional key may be absent, an optional
    F_BIN also nil); an
    unknown or repeated key, a value of the wrong type, an int out of the
    field's range, a str over its limit or holding a NUL, an unknown enum
    name, a truncated input are MLOPS_EPROTO, and an array over its limit is
    MLOPS_ETOOBIG. The message names the key by its path from the table's
    name: "run.tasks[2].state: unknown value \"sleeping\"",
    "version.metrics.auc: expected float, got integer"; a table with the
    name "" gives paths without a root ("candidates[1].family: ...") and
    says "payload" for the top level.

    Ownership of decoded values: F_STR is copied into the struct's array;
    F_BIN points INTO the decoded buffer (borrowed, no copy); F_ROWS and F_VEC
    are malloc'd (NULL when empty) and freed by fields_free_owned.
*/
#ifndef MLOPS_FIELDS_H
#define MLOPS_FIELDS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum {
    F_STR,      //  char array of `size` bytes
    F_BIN,      //  const uint8_t * at off, size_t length at off2; nil = NULL when optional
    F_I64,      //  int64_t, any msgpack integer in range
    F_I32,      //  int32_t, any msgpack integer in range
    F_NAT,      //  int64_t, an integer >= 0
    F_U64,      //  uint64_t, a positive msgpack integer
    F_F64,      //  double, float 32 or float 64 only
    F_NUM,      //  double, a float or an integer
    F_BOOL,     //  bool
    F_ENUM,     //  an int-sized enum; on the wire a str from names[0 .. max-1]
    F_ROWS,     //  size_t * at off, size_t count at off2; each < max; owned when decoded
    F_MAP,      //  nested struct at off, described by sub
    F_LIST,     //  array of `max` structs of `size` bytes at off, count at off2
    F_VEC,      //  malloc'd array of structs of `size` bytes at off, count at off2
} fields_kind_t;

typedef struct fields_spec fields_spec_t;
struct fields_spec {
    const char *key;          //  map key on the wire = the struct field name
    fields_kind_t kind;       //  how the value is stored
    size_t off;               //  offset of the value in the struct
    size_t off2;              //  offset of the length / count, when there is one
    size_t size;              //  bytes of the field; F_LIST / F_VEC: of one element
    size_t max;               //  F_LIST capacity, F_VEC / F_ROWS limit, F_ENUM names
    const fields_spec_t *sub; //  F_MAP / F_LIST / F_VEC element description
    size_t n_sub;             //  entries in sub
    const char *const *names; //  F_ENUM: the names, by value
    bool optional;            //  may be absent (F_BIN: or nil)
};

//  A whole struct: what fields_encode / fields_decode take.
typedef struct {
    const char *name;         //  root of key paths in messages ("run"), "" = none
    const fields_spec_t *f;   //  its fields, in wire order (at most 32)
    size_t n;                 //  entries in f
    size_t size;              //  sizeof the struct
} fields_table_t;

#define FIELDS_N(a) (sizeof(a) / sizeof((a)[0]))
#define FIELDS_TABLE(name, T, f) {name, f, FIELDS_N(f), sizeof(T)}

#define FIELD_SIZE_(T, f) sizeof(((T *)0)->f)
#define FIELD_(T, f, kind) {#f, kind, offsetof(T, f), 0, FIELD_SIZE_(T, f), 0, NULL, 0, NULL, false}
#define FIELD_STR(T, f) FIELD_(T, f, F_STR)
#define FIELD_I64(T, f) FIELD_(T, f, F_I64)
#define FIELD_I32(T, f) FIELD_(T, f, F_I32)
#define FIELD_NAT(T, f) FIELD_(T, f, F_NAT)
#define FIELD_U64(T, f) FIELD_(T, f, F_U64)
#define FIELD_F64(T, f) FIELD_(T, f, F_F64)
#define FIELD_NUM(T, f) FIELD_(T, f, F_NUM)
#define FIELD_BOOL(T, f) FIELD_(T, f, F_BOOL)
#define FIELD_ENUM(T, f, names) \
    {#f, F_ENUM, offsetof(T, f), 0, FIELD_SIZE_(T, f), FIELDS_N(names), NULL, 0, names, false}
#define FIELD_BIN(T, f, len) {#f, F_BIN, offsetof(T, f), offsetof(T, len), 0, 0, NULL, 0, NULL, false}
#define FIELD_OBIN(T, f, len) {#f, F_BIN, offsetof(T, f), offsetof(T, len), 0, 0, NULL, 0, NULL, true}
#define FIELD_ROWS(T, f, n, max) {#f, F_ROWS, offsetof(T, f), offsetof(T, n), 0, max, NULL, 0, NULL, false}
#define FIELD_MAP(T, f, sub) \
    {#f, F_MAP, offsetof(T, f), 0, FIELD_SIZE_(T, f), 0, sub, FIELDS_N(sub), NULL, false}
#define FIELD_LIST(T, f, n, sub)                                                           \
    {#f, F_LIST, offsetof(T, f), offsetof(T, n), FIELD_SIZE_(T, f[0]), FIELDS_N(((T *)0)->f), \
     sub, FIELDS_N(sub), NULL, false}
#define FIELD_VEC(T, f, n, max, sub) \
    {#f, F_VEC, offsetof(T, f), offsetof(T, n), FIELD_SIZE_(T, f[0]), max, sub, FIELDS_N(sub), NULL, false}
//  An F_VEC that may be absent (a key added to a payload after its first
//  version: an older peer's payload still decodes, as an empty array).
#define FIELD_OVEC(T, f, n, max, sub) \
    {#f, F_VEC, offsetof(T, f), offsetof(T, n), FIELD_SIZE_(T, f[0]), max, sub, FIELDS_N(sub), NULL, true}
//  A scalar (F_STR, F_F64) added after a struct's first version: omitted
//  on encode while it is zero ("" / 0.0), zero when absent, so the bytes of
//  a struct that does not use it are the bytes an older peer wrote.
#define FIELD_OSTR(T, f) {#f, F_STR, offsetof(T, f), 0, FIELD_SIZE_(T, f), 0, NULL, 0, NULL, true}
#define FIELD_OF64(T, f) {#f, F_F64, offsetof(T, f), 0, FIELD_SIZE_(T, f), 0, NULL, 0, NULL, true}
//  An F_MAP added after a struct's first version: omitted on encode while
//  its first field (a str: a ref's hash) is "", zero when absent.
#define FIELD_OMAP(T, f, sub) \
    {#f, F_MAP, offsetof(T, f), 0, FIELD_SIZE_(T, f), 0, sub, FIELDS_N(sub), NULL, true}

//  Defines PREFIX_NAME_encode / PREFIX_NAME_decode (the signatures of
//  stage_io.h and control_io.h) over a nameless table of T; FIELDS_CLEAR
//  defines PREFIX_NAME_clear. One static fields_table_t per codec.
#define FIELDS_CODEC(prefix, name, T, table)                                                 \
    static const fields_table_t s_##name##_table = FIELDS_TABLE("", T, table);                \
    int prefix##_##name##_encode(const T *p, uint8_t **out, size_t *out_len)                 \
    {                                                                                         \
        return fields_encode(&s_##name##_table, p, out, out_len);                             \
    }                                                                                         \
    int prefix##_##name##_decode(const uint8_t *data, size_t len, T *p, mlops_err_t *err)    \
    {                                                                                         \
        return fields_decode(&s_##name##_table, data, len, p, err);                           \
    }
#define FIELDS_CLEAR(prefix, name, T)                \
    void prefix##_##name##_clear(T *p)               \
    {                                                \
        fields_free_owned(&s_##name##_table, p);     \
    }

//  An sbuffer that remembers a failed write, so packing code can ignore
//  each pack call's result and the encoder checks once, at the end:
//  fields_buffer_init sets pk to write into b; fields_buffer_finish hands
//  the bytes over (0) or frees them and returns rc, or MLOPS_ENOMEM when
//  a write failed.
typedef struct {
    msgpack_sbuffer sbuf; //  the bytes
    bool failed;          //  a realloc failed: the bytes are incomplete
} fields_buffer_t;
void fields_buffer_init(fields_buffer_t *b, msgpack_packer *pk);
int fields_buffer_write(void *data, const char *buf, size_t len);
int fields_buffer_finish(fields_buffer_t *b, int rc, uint8_t **out, size_t *out_len);

//  Encodes the struct at base into a malloc'd buffer the caller frees.
//  Returns 0, MLOPS_EINVAL (a count over its limit, bytes missing behind a
//  length: our bug) or MLOPS_ENOMEM.
int fields_encode(const fields_table_t *t, const void *base, uint8_t **out, size_t *out_len);

//  Zeroes the struct and decodes data into it. Returns 0 or MLOPS_EPROTO /
//  MLOPS_ETOOBIG / MLOPS_ENOMEM with err naming the key path; on failure
//  the struct is zeroed and owns nothing.
int fields_decode(const fields_table_t *t, const uint8_t *data, size_t len, void *base,
                  mlops_err_t *err);

//  Frees what a decode allocated (F_ROWS, F_VEC, recursively) and zeroes
//  those pointers and counts; safe on a zeroed struct and on NULL.
void fields_free_owned(const fields_table_t *t, void *base);

#endif
