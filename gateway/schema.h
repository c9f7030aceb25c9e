/*  schema.h: a served model's input signature as the gateway sees it.

    The inference workers validate records against the model they hold;
    the gateway only needs the signature to describe the model (Open
    Inference Protocol metadata, /openapi.json) and to check V2 tensors
    against it before they become records (a wrong datatype, an unknown or
    missing input, a category the model does not know: a 400 naming the
    tensor). A worker sends the signature in a SIGNATURE message
    (PROTOCOL.md) as the JSON text of section 12; schema_parse turns it into
    typed fields. Parsing is strict: a signature that is not the documented
    shape is refused, never half-used.

    Ownership: a schema owns its fields, their names and levels, its class
    labels and a copy of the JSON text; schema_destroy frees them all.
*/
#ifndef MLOPS_SCHEMA_H
#define MLOPS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define SCHEMA_FIELDS_MAX 1024   //  as PROTO_FIELDS_MAX: a record has no more

typedef enum {
    SCHEMA_INTEGER = 1,   //  a whole number ("integer")
    SCHEMA_NUMBER,        //  any finite number ("number")
    SCHEMA_STRING,        //  text or a category ("string")
} schema_type_t;

typedef struct {
    char *name;           //  field name
    schema_type_t type;   //  what its value must be
    bool required;        //  absent is an error (else imputed)
    double min, max;      //  range of a number, -inf / inf when open
    char **levels;        //  categories ("enum" or "known"), n_levels
    size_t n_levels;      //  0 for numbers and free text
    bool closed;          //  a value outside levels is refused ("enum")
} schema_field_t;

//  What the model predicts (the signature's "task"; absent = binary).
typedef enum {
    SCHEMA_BINARY = 0,        //  class 0 / 1 and P(class 1)
    SCHEMA_MULTICLASS,        //  one of "classes" and each class's probability
    SCHEMA_REGRESSION,        //  a number
} schema_task_t;

#define SCHEMA_CLASSES_MAX 100   //  as PROTO_CLASSES_MAX

typedef struct {
    int64_t version;          //  the model version it describes
    char *json;               //  the signature as the worker sent it
    char *recipe;             //  "titanic" | "generic"
    schema_field_t *fields;   //  n_fields fields in signature order
    size_t n_fields;
    schema_task_t task;       //  what the model predicts
    char *classes;            //  MULTICLASS: the labels as a JSON array text, else NULL
    size_t n_classes;         //  MULTICLASS: how many (2..SCHEMA_CLASSES_MAX), else 0
    schema_type_t class_type; //  MULTICLASS: the labels' type (string, integer or number)
} schema_t;

//  Parses signature JSON text (len bytes) for version. Returns a new schema
//  or NULL with err: MLOPS_EPROTO (not JSON, or not the documented shape:
//  the message names the field), MLOPS_ENOMEM.
schema_t *schema_parse(const char *text, size_t len, int64_t version, mlops_err_t *err);

//  Frees self and all it owns; ignores NULL; sets *p to NULL.
void schema_destroy(schema_t **p);

//  The field called name, or NULL.
const schema_field_t *schema_field(const schema_t *self, const char *name);

//  True when value is one of field's levels.
bool schema_level_known(const schema_field_t *field, const char *value);

//  The type's name in the signature ("integer", "number", "string").
const char *schema_type_name(schema_type_t type);

//  The task's name in the signature ("binary", "multiclass", "regression").
const char *schema_task_name(schema_task_t task);

#endif
