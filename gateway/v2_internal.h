/*  v2_internal.h: what v2.c and v2_fast.c share: a V2 infer request's
    tensors as read from the body, before any check. v2.c reads them from a
    jansson document (every body); v2_fast.c from the text in one pass for
    the common shape (and gives up, having decided nothing, on anything
    else), so both paths reach the same checks with the same tensors.
*/
#ifndef MLOPS_V2_INTERNAL_H
#define MLOPS_V2_INTERNAL_H

#include "msg.h"
#include "schema.h"
#include "vec.h"

#include <stdbool.h>
#include <stddef.h>

#define V2_NEST_MAX 8          //  nesting of a tensor's data lists
#define V2_SCAN_PAD 16         //  zero bytes v2_fast_scan may read past the text's NUL

//  One value of a tensor's data.
typedef struct {
    proto_val_kind_t kind;     //  BOOL, INT, FLOAT (NaN / infinities too), STR; NIL: none of these
    double num;                //  BOOL, INT, FLOAT
    const char *str;           //  STR, borrowed from the body
} v2_leaf_t;

typedef struct {
    const char *name;          //  the input's name, borrowed from the body
    const char *datatype;      //  as sent, NULL when missing or not a string
    bool is_list;              //  "shape" is a list
    size_t n_dims;             //  its length
    bool dims_int;             //  its first two entries are integers
    long long dims[2];         //  and their values
    size_t first;              //  its data, flattened row-major: leaves[first..]
    size_t n_values;           //  and how many
    const void *dtype;         //  v2.c's datatype entry, once checked
    const schema_field_t *field; //  the signature's input, once checked against one (else NULL)
    size_t rows;               //  shape[0], once checked
} v2_tensor_t;

//  The tensors (a VEC's three fields, so vec_push works on it) and their
//  values in one list, tensor after tensor: one allocation, not one per
//  input, which a one-row request noticed.
typedef struct {
    v2_tensor_t *at;           //  the tensors, len used of cap
    size_t len;
    size_t cap;
    VEC(v2_leaf_t) leaves;     //  every tensor's values
} v2_tensors_t;

//  Reads text (len bytes, a writable copy with a NUL and V2_SCAN_PAD more
//  zero bytes after it: strings are cut in place, keys compared in words) as {"id": str, "inputs": [{"name", "datatype", "shape",
//  "data"}, ...]} in any key order, no other key, no \u escape, no
//  duplicate key, numbers JSON's. Returns 1 with the tensors and the id
//  (id_size bytes, has_id), 0 when the text is anything else (the caller
//  reads it with jansson), or MLOPS_ENOMEM.
int v2_fast_scan(char *text, size_t len, v2_tensors_t *tensors, char *id, size_t id_size,
                 bool *has_id);

//  Frees the tensors and their values.
void v2_tensors_free(v2_tensors_t *tensors);

#endif
