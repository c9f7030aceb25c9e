/*  fields.h: a table-driven msgpack codec for flat C structs, used by the
    payload codecs (stage_io.c, control_io.c) so that each payload's wire
    shape is written down once, as a table of fields, and one encoder and one
    decoder walk it. Internal to proto/: nothing outside proto/ includes it.

    A payload is a msgpack map with str keys in table order. Decoding is
    strict: unknown key, duplicate key, missing required key, wrong type,
    trailing bytes, counts over limits are MLOPS_EPROTO / MLOPS_ETOOBIG with
    the key path in the message ("candidates[1].family: expected a string").

    Ownership of decoded values: F_STR is copied into the struct's array;
    F_BIN points INTO the decoded buffer (borrowed, no copy); F_ROWS and F_VEC
    are malloc'd and freed by fields_free_owned.
*/
#ifndef MLOPS_FIELDS_H
#define MLOPS_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef enum {
    F_STR,      //  char array of `size` bytes
    F_BIN,      //  const uint8_t * at off, size_t length at off2; nil = NULL
    F_I64,      //  int64_t
    F_U64,      //  uint64_t
    F_F64,      //  double (integers accepted on decode)
    F_BOOL,     //  bool
    F_ROWS,     //  size_t * at off, size_t count at off2; owned when decoded
    F_MAP,      //  nested struct at off, described by sub
    F_LIST,     //  array of `max` structs of `size` bytes at off, count at off2
    F_VEC,      //  malloc'd array of structs of `size` bytes at off, count at off2
} fields_kind_t;

typedef struct fields_spec fields_spec_t;
struct fields_spec {
    const char *key;          //  map key on the wire
    fields_kind_t kind;       //  how the value is stored
    size_t off;               //  offset of the value in the struct
    size_t off2;              //  offset of the length / count, when there is one
    size_t size;              //  F_STR array size, F_LIST / F_VEC element size
    size_t max;               //  F_LIST capacity, F_VEC / F_ROWS decode limit
    const fields_spec_t *sub; //  F_MAP / F_LIST / F_VEC element description
    size_t n_sub;             //  entries in sub
    bool optional;            //  may be absent or nil (F_BIN only)
};

#define FIELDS_N(a) (sizeof(a) / sizeof((a)[0]))
#define FIELD_STR(T, k, f) {#k, F_STR, offsetof(T, f), 0, sizeof(((T *)0)->f), 0, NULL, 0, false}
#define FIELD_BIN(T, k, f, l) {#k, F_BIN, offsetof(T, f), offsetof(T, l), 0, 0, NULL, 0, false}
#define FIELD_OBIN(T, k, f, l) {#k, F_BIN, offsetof(T, f), offsetof(T, l), 0, 0, NULL, 0, true}
#define FIELD_I64(T, k, f) {#k, F_I64, offsetof(T, f), 0, 0, 0, NULL, 0, false}
#define FIELD_U64(T, k, f) {#k, F_U64, offsetof(T, f), 0, 0, 0, NULL, 0, false}
#define FIELD_F64(T, k, f) {#k, F_F64, offsetof(T, f), 0, 0, 0, NULL, 0, false}
#define FIELD_BOOL(T, k, f) {#k, F_BOOL, offsetof(T, f), 0, 0, 0, NULL, 0, false}
#define FIELD_ROWS(T, k, f, n, max) {#k, F_ROWS, offsetof(T, f), offsetof(T, n), 0, max, NULL, 0, false}
#define FIELD_MAP(T, k, f, sub) {#k, F_MAP, offsetof(T, f), 0, 0, 0, sub, FIELDS_N(sub), false}
#define FIELD_LIST(T, k, f, n, ET, sub)                                                  \
    {#k, F_LIST, offsetof(T, f), offsetof(T, n), sizeof(ET), FIELDS_N(((T *)0)->f), sub, \
     FIELDS_N(sub), false}
#define FIELD_VEC(T, k, f, n, ET, max, sub) \
    {#k, F_VEC, offsetof(T, f), offsetof(T, n), sizeof(ET), max, sub, FIELDS_N(sub), false}

//  Encodes the struct at base into a malloc'd buffer the caller frees.
//  Returns 0, MLOPS_EINVAL (a count over its limit) or MLOPS_ENOMEM.
int fields_encode(const void *base, const fields_spec_t *f, size_t n, uint8_t **out,
                  size_t *out_len);

//  Zeroes the struct (base_size bytes) and decodes data into it. Returns 0 or
//  MLOPS_EPROTO / MLOPS_ETOOBIG / MLOPS_ENOMEM with err; on failure nothing
//  is owned.
int fields_decode(const uint8_t *data, size_t len, void *base, size_t base_size,
                  const fields_spec_t *f, size_t n, mlops_err_t *err);

//  Frees what a decode allocated (F_ROWS, F_VEC, recursively); safe on a
//  zeroed struct.
void fields_free_owned(void *base, const fields_spec_t *f, size_t n);

#endif
