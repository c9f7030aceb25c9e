/*  v2.c: Open Inference Protocol bodies (see v2.h).

    Why the binary tensor extension is refused rather than served: it puts
    the tensors after the JSON header as raw little-endian bytes (BYTES as
    4-byte length-prefixed strings) and is an optional extension of the
    protocol; the JSON form carries the same request, every V2 client can
    send it (tritonclient.http: binary_data=False on each InferInput and
    InferRequestedOutput), and one parser is one thing to fuzz. So a request
    that uses the extension gets a 400 naming that option, and
    "binary_tensor_data" is not listed among the server's extensions.
*/
#include "v2.h"

#include "v2_internal.h"
#include "vec.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef enum { S_BOOL = 1, S_UINT, S_INT, S_FP, S_BYTES } s_family_t;

typedef struct {
    const char *name;     //  wire name
    size_t len;           //  its length
    s_family_t family;    //  how its values read
    double lo, hi;        //  range of an integer type
} s_dtype_t;

//  (the three the metadata advertises first: they are the ones sent)
static const s_dtype_t s_dtypes[] = {
    {"INT64", 5, S_INT, -9223372036854775808.0, 9223372036854775807.0},
    {"FP64", 4, S_FP, 0, 0}, {"BYTES", 5, S_BYTES, 0, 0}, {"BOOL", 4, S_BOOL, 0, 1},
    {"UINT8", 5, S_UINT, 0, 255}, {"UINT16", 6, S_UINT, 0, 65535},
    {"UINT32", 6, S_UINT, 0, 4294967295.0}, {"UINT64", 6, S_UINT, 0, 18446744073709551615.0},
    {"INT8", 4, S_INT, -128, 127}, {"INT16", 5, S_INT, -32768, 32767},
    {"INT32", 5, S_INT, -2147483648.0, 2147483647.0},
    {"FP16", 4, S_FP, 0, 0}, {"FP32", 4, S_FP, 0, 0}};

//  (length, first and last letter tell the names apart: one memcmp per
//  lookup, where a strcmp per INT* name was a tenth of a one-row request)
static const s_dtype_t *s_dtype(const char *name)
{
    size_t len = name ? strlen(name) : 0;
    for (size_t i = 0; len && i < sizeof s_dtypes / sizeof s_dtypes[0]; i++) {
        const s_dtype_t *d = &s_dtypes[i];
        if (d->len == len && d->name[0] == name[0] && d->name[len - 1] == name[len - 1]
            && memcmp(d->name, name, len) == 0)
            return d;
    }
    return NULL;
}

const char *v2_datatype_of(schema_type_t type)
{
    return type == SCHEMA_INTEGER ? "INT64" : type == SCHEMA_NUMBER ? "FP64" : "BYTES";
}

/* --- one tensor, from the document ------------------------------------- */

//  A json value as a leaf: what the fast path would have read.
static v2_leaf_t s_leaf_of(json_t *v)
{
    v2_leaf_t leaf = {.kind = PROTO_VAL_NIL};
    const char *s = json_string_value(v);
    if (json_is_boolean(v))
        leaf.kind = PROTO_VAL_BOOL, leaf.num = json_is_true(v);
    else if (json_is_integer(v))
        leaf.kind = PROTO_VAL_INT, leaf.num = (double)json_integer_value(v);
    else if (body_number(v, &leaf.num))   //  a real, or a NaN / infinity marker
        leaf.kind = PROTO_VAL_FLOAT;
    else if (s && strlen(s) == json_string_length(v))
        leaf.kind = PROTO_VAL_STR, leaf.str = s;
    return leaf;
}

//  Appends the leaves of data (nested lists, row-major) to the tensors'
//  values (t's: t->first was set).
static int s_flatten(v2_tensors_t *ts, v2_tensor_t *t, json_t *data, int depth, mlops_err_t *err)
{
    if (!json_is_array(data)) {
        if (vec_push(&ts->leaves, s_leaf_of(data)) != 0)
            return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return 0;
    }
    if (depth >= V2_NEST_MAX)
        return mlops_err_set(err, MLOPS_EPROTO, "input '%s': data is nested more than %d deep",
                             t->name, V2_NEST_MAX);
    size_t i;
    json_t *v;
    json_array_foreach(data, i, v) {
        int rc = s_flatten(ts, t, v, depth + 1, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_binary_refused(const char *where, mlops_err_t *err)
{
    return mlops_err_set(err, MLOPS_EPROTO, "%s uses the binary tensor data extension, which this "
                         "server does not support: send the tensors as JSON (tritonclient.http: "
                         "binary_data=False on each InferInput and InferRequestedOutput)", where);
}

//  Reads tensor k of the document as the fast path reads one, with the
//  checks only the document can fail (the fast path gives those up).
static int s_tensor_doc(v2_tensors_t *ts, v2_tensor_t *t, json_t *in, size_t k, mlops_err_t *err)
{
    t->first = ts->leaves.len;
    t->name = json_string_value(json_object_get(in, "name"));
    if (!json_is_object(in) || !t->name)
        return mlops_err_set(err, MLOPS_EPROTO, "inputs[%zu]: must be an object with a \"name\"", k);
    json_t *params = json_object_get(in, "parameters");
    if (params && json_object_get(params, "binary_data_size"))
        return s_binary_refused(t->name, err);
    t->datatype = json_string_value(json_object_get(in, "datatype"));
    if (!s_dtype(t->datatype))
        return 0;   //  s_tensor_check says so, before looking at the data
    json_t *data = json_object_get(in, "data"), *shape = json_object_get(in, "shape");
    if (!json_is_array(data))
        return mlops_err_set(err, MLOPS_EPROTO, "input '%s': \"data\" must be a list", t->name);
    t->is_list = json_is_array(shape);
    t->n_dims = json_array_size(shape);
    t->dims_int = true;
    for (size_t d = 0; d < 2 && d < t->n_dims; d++) {
        json_t *v = json_array_get(shape, d);
        t->dims_int = t->dims_int && json_is_integer(v);
        t->dims[d] = json_integer_value(v);
    }
    int rc = s_flatten(ts, t, data, 0, err);
    t->n_values = ts->leaves.len - t->first;
    return rc;
}

/* --- one tensor, checked ------------------------------------------------- */

//  Its datatype known, its shape [N] or [N, 1] with N rows and N values.
static int s_tensor_check(v2_tensor_t *t, mlops_err_t *err)
{
    const char *dt = t->datatype;
    if (!(t->dtype = s_dtype(dt)))
        return mlops_err_set(err, MLOPS_EPROTO, "input '%s': datatype %s%s%s is not one of BOOL, "
                             "UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES", t->name,
                             dt ? "\"" : "", dt ? dt : "missing", dt ? "\"" : "");
    if (!t->is_list || t->n_dims < 1 || t->n_dims > 2 || !t->dims_int || t->dims[0] < 0
        || (t->n_dims == 2 && t->dims[1] != 1))
        return mlops_err_set(err, MLOPS_EPROTO, "input '%s': shape must be [N] or [N, 1] "
                             "(one column of the batch)", t->name);
    t->rows = (size_t)t->dims[0];
    if (t->rows != t->n_values)
        return mlops_err_set(err, MLOPS_EPROTO, "input '%s': shape says %zu values, data holds %zu",
                             t->name, t->rows, t->n_values);
    return 0;
}

/* --- one value ----------------------------------------------------------- */

//  Value row of tensor t (its values in leaves) into f, checked against
//  its datatype.
static int s_value(const v2_tensor_t *t, const v2_leaf_t *leaves, size_t row, proto_field_t *f,
                   mlops_err_t *err)
{
    const v2_leaf_t *v = &leaves[t->first + row];
    const s_dtype_t *dtype = t->dtype;
    f->name = t->name;
    f->str = v->str;
    f->num = v->num;
    switch (dtype->family) {
    case S_BOOL:
        f->kind = PROTO_VAL_BOOL;
        if (v->kind == PROTO_VAL_BOOL)
            return 0;
        break;
    case S_UINT:
    case S_INT:
        f->kind = PROTO_VAL_INT;
        if (v->kind == PROTO_VAL_INT && f->num >= dtype->lo && f->num <= dtype->hi)
            return 0;
        break;
    case S_FP:
        f->kind = PROTO_VAL_FLOAT;
        if (v->kind != PROTO_VAL_INT && v->kind != PROTO_VAL_FLOAT)
            break;
        if (isfinite(f->num))
            return 0;
        return mlops_err_set(err, MLOPS_EPROTO, "input '%s' row %zu: %s is not allowed (the model "
                             "takes finite numbers)", t->name, row, isnan(f->num) ? "NaN" : "an infinity");
    case S_BYTES:
        f->kind = PROTO_VAL_STR;
        if (v->kind == PROTO_VAL_STR)
            return 0;
        break;
    }
    return mlops_err_set(err, MLOPS_EPROTO, "input '%s' row %zu: not a value of datatype %s", t->name, row,
                         dtype->name);
}

/* --- against the signature ----------------------------------------------- */

static bool s_fits(schema_type_t type, s_family_t family)
{
    if (type == SCHEMA_STRING)
        return family == S_BYTES;
    return family == S_INT || family == S_UINT || (type == SCHEMA_NUMBER && family == S_FP);
}

//  The first required input none of the n tensors gives, NULL when none is
//  missing. The tensors have distinct names (s_tensors), so they name
//  distinct inputs: when as many required ones are given as there are, none
//  is missing, and the search by name is left for a request that lacks one.
static const schema_field_t *s_missing(const schema_t *schema, const v2_tensor_t *ts, size_t n)
{
    size_t required = 0, given = 0;
    for (size_t j = 0; j < schema->n_fields; j++)
        required += schema->fields[j].required;
    for (size_t k = 0; k < n; k++)
        given += ts[k].field->required;
    for (size_t j = 0; j < schema->n_fields && given < required; j++) {
        bool found = false;
        for (size_t k = 0; k < n && !found; k++)
            found = strcmp(ts[k].name, schema->fields[j].name) == 0;
        if (schema->fields[j].required && !found)
            return &schema->fields[j];
    }
    return NULL;
}

static int s_against(const schema_t *schema, v2_tensor_t *ts, size_t n, mlops_err_t *err)
{
    for (size_t k = 0; k < n; k++) {
        const s_dtype_t *dtype = ts[k].dtype;
        const schema_field_t *f = ts[k].field = schema_field(schema, ts[k].name);
        if (!f)
            return mlops_err_set(err, MLOPS_EPROTO, "input '%s' is not an input of the model "
                                 "(GET /v2/models/NAME lists them)", ts[k].name);
        if (!s_fits(f->type, dtype->family))
            return mlops_err_set(err, MLOPS_EPROTO, "input '%s': datatype %s does not fit the "
                                 "model's %s input (send %s)", ts[k].name, dtype->name,
                                 schema_type_name(f->type), f->type == SCHEMA_STRING ? "BYTES"
                                 : f->type == SCHEMA_INTEGER ? "INT8..INT64 or UINT8..UINT64"
                                 : "FP16..FP64 or an integer type");
    }
    const schema_field_t *missing = s_missing(schema, ts, n);
    if (missing)
        return mlops_err_set(err, MLOPS_EPROTO, "input '%s' is required by the model", missing->name);
    return 0;
}

//  A closed category's value must be one of its levels.
static int s_category(const v2_tensor_t *t, const proto_field_t *f, size_t row, mlops_err_t *err)
{
    const schema_field_t *sf = t->field;
    if (!sf || !sf->closed || f->kind != PROTO_VAL_STR || schema_level_known(sf, f->str))
        return 0;
    char known[160] = "";
    for (size_t l = 0; l < sf->n_levels; l++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", l ? ", " : "",
                 sf->levels[l]);
    return mlops_err_set(err, MLOPS_EPROTO, "input '%s' row %zu: \"%.64s\" is not one of %s",
                         t->name, row, f->str, known);
}

/* --- the request --------------------------------------------------------- */

//  The outputs asked for; a regression model (schema) has no probability.
static int s_outputs(v2_infer_t *self, json_t *root, const schema_t *schema, mlops_err_t *err)
{
    bool regression = schema && schema->task == SCHEMA_REGRESSION;
    json_t *outs = json_object_get(root, "outputs"), *o;
    self->outputs = outs && json_array_size(outs) ? 0 : V2_OUTPUT_PREDICT | V2_OUTPUT_PROBABILITY;
    if (outs && !json_is_array(outs))
        return mlops_err_set(err, MLOPS_EPROTO, "\"outputs\" must be a list");
    size_t i;
    json_array_foreach(outs, i, o) {
        const char *name = json_string_value(json_object_get(o, "name"));
        json_t *params = json_object_get(o, "parameters");
        if (params && json_is_true(json_object_get(params, "binary_data")))
            return s_binary_refused("an output", err);
        if (name && strcmp(name, "predict") == 0)
            self->outputs |= V2_OUTPUT_PREDICT;
        else if (name && strcmp(name, "probability") == 0 && !regression)
            self->outputs |= V2_OUTPUT_PROBABILITY;
        else if (name && strcmp(name, "probability") == 0)
            return mlops_err_set(err, MLOPS_EPROTO, "outputs[%zu]: a regression model has no "
                                 "output 'probability': its only output is predict", i);
        else
            return mlops_err_set(err, MLOPS_EPROTO, "outputs[%zu]: unknown output %s%s%s: the "
                                 "model's outputs are predict and probability", i, name ? "'" : "",
                                 name ? name : "without a name", name ? "'" : "");
    }
    return 0;
}

static int s_header(v2_infer_t *self, json_t *root, const schema_t *schema, mlops_err_t *err)
{
    if (!json_is_object(root))
        return mlops_err_set(err, MLOPS_EPROTO, "body must be a JSON object with \"inputs\"");
    json_t *id = json_object_get(root, "id"), *params = json_object_get(root, "parameters");
    if (id && (!json_is_string(id) || json_string_length(id) >= V2_ID_MAX_BYTES
               || strlen(json_string_value(id)) != json_string_length(id)))
        return mlops_err_set(err, MLOPS_EPROTO, "\"id\" must be a string of under %d bytes",
                             V2_ID_MAX_BYTES);
    if (id) {
        self->has_id = true;
        snprintf(self->id, sizeof self->id, "%s", json_string_value(id));
    }
    if (params && !json_is_object(params))
        return mlops_err_set(err, MLOPS_EPROTO, "\"parameters\" must be an object");
    if (params && json_is_true(json_object_get(params, "binary_data_output")))
        return s_binary_refused("the request", err);
    return s_outputs(self, root, schema, err);
}

//  Checks every tensor (read from the document when doc is not NULL), the
//  rows they share in *rows.
static int s_tensors(v2_tensors_t *all, json_t *inputs, size_t n, size_t rows_max, size_t *rows,
                     mlops_err_t *err)
{
    v2_tensor_t *ts = all->at;
    for (size_t k = 0; k < n; k++) {
        int rc = inputs ? s_tensor_doc(all, &ts[k], json_array_get(inputs, k), k, err) : 0;
        if (rc == 0)
            rc = s_tensor_check(&ts[k], err);
        if (rc)
            return rc;
        for (size_t j = 0; j < k; j++)
            if (ts[j].name[0] == ts[k].name[0] && strcmp(ts[j].name, ts[k].name) == 0)
                return mlops_err_set(err, MLOPS_EPROTO, "input '%s' is given twice", ts[k].name);
        if (ts[k].rows != ts[0].rows)
            return mlops_err_set(err, MLOPS_EPROTO, "input '%s' has %zu rows, input '%s' has %zu: "
                                 "every input is one column of the same rows", ts[k].name,
                                 ts[k].rows, ts[0].name, ts[0].rows);
    }
    *rows = ts[0].rows;
    if (*rows == 0 || *rows > rows_max)
        return mlops_err_set(err, MLOPS_EPROTO, "input '%s' has %zu rows: 1 to %zu are served",
                             ts[0].name, *rows, rows_max);
    return 0;
}

//  Row i of every tensor makes record i.
static int s_records(v2_infer_t *self, const v2_tensors_t *all, size_t n, size_t rows,
                     mlops_err_t *err)
{
    const v2_tensor_t *ts = all->at;
    body_t *b = &self->body;
    b->records = calloc(rows, sizeof *b->records);
    b->fields = calloc(rows * n, sizeof *b->fields);
    if (!b->records || !b->fields)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %zu rows", rows);
    b->n_records = rows;
    for (size_t i = 0; i < rows; i++) {
        b->records[i] = (proto_record_t){.fields = b->fields + i * n, .n_fields = n};
        for (size_t k = 0; k < n; k++) {
            proto_field_t *f = &b->fields[i * n + k];
            int rc = s_value(&ts[k], all->leaves.at, i, f, err);
            if (rc == 0)
                rc = s_category(&ts[k], f, i, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

//  The checks both paths share, on tensors read (from the document when
//  inputs is not NULL).
static int s_check(v2_infer_t *self, const schema_t *schema, size_t rows_max, v2_tensors_t *ts,
                   size_t n, json_t *inputs, mlops_err_t *err)
{
    if (n == 0 || n > PROTO_FIELDS_MAX)
        return mlops_err_set(err, MLOPS_EPROTO, "\"inputs\" must be a list of 1 to %d tensors",
                             PROTO_FIELDS_MAX);
    size_t rows = 0;
    int rc = s_tensors(ts, inputs, n, rows_max, &rows, err);
    if (rc == 0 && schema)
        rc = s_against(schema, ts->at, n, err);
    return rc ? rc : s_records(self, ts, n, rows, err);
}

static void s_reset(v2_infer_t *self)
{
    self->id[0] = '\0';
    self->has_id = false;
    self->outputs = 0;
}

int v2_infer_parse_full(v2_infer_t *self, const char *text, size_t len, const schema_t *schema,
                        size_t rows_max, mlops_err_t *err)
{
    s_reset(self);
    int rc = body_load(&self->body, text, len, err);
    if (rc)
        return rc;
    json_t *root = self->body.doc, *inputs = json_object_get(root, "inputs");
    rc = s_header(self, root, schema, err);
    if (rc)
        return rc;
    if (!json_is_array(inputs))
        return mlops_err_set(err, MLOPS_EPROTO, "\"inputs\" must be a list of 1 to %d tensors",
                             PROTO_FIELDS_MAX);
    v2_tensors_t ts = {0};
    size_t n = json_array_size(inputs);
    if (n <= PROTO_FIELDS_MAX && vec_reserve(&ts, n) != 0)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    for (size_t k = 0; k < n && k < ts.cap; k++)
        ts.at[ts.len++] = (v2_tensor_t){0};
    rc = s_check(self, schema, rows_max, &ts, n <= PROTO_FIELDS_MAX ? n : 0, inputs, err);
    v2_tensors_free(&ts);
    return rc;
}

int v2_infer_parse(v2_infer_t *self, const char *text, size_t len, const schema_t *schema,
                   size_t rows_max, mlops_err_t *err)
{
    s_reset(self);
    body_clear(&self->body);
    char *copy = len < SIZE_MAX - 1 - V2_SCAN_PAD ? malloc(len + 1 + V2_SCAN_PAD) : NULL;
    if (!copy)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for a body of %zu bytes", len);
    memcpy(copy, text, len);
    memset(copy + len, 0, 1 + V2_SCAN_PAD);
    v2_tensors_t ts = {0};
    int fast = v2_fast_scan(copy, len, &ts, self->id, sizeof self->id, &self->has_id);
    int rc = fast < 0 ? mlops_err_set(err, MLOPS_ENOMEM, "out of memory") : 0;
    if (fast > 0) {
        self->body.copy = copy;   //  the strings the tensors point to
        self->outputs = V2_OUTPUT_PREDICT | V2_OUTPUT_PROBABILITY;
        rc = s_check(self, schema, rows_max, &ts, ts.len, NULL, err);
    } else
        free(copy);
    v2_tensors_free(&ts);
    return fast == 0 ? v2_infer_parse_full(self, text, len, schema, rows_max, err) : rc;
}

void v2_infer_clear(v2_infer_t *self)
{
    body_clear(&self->body);
}

/* --- metadata ------------------------------------------------------------ */

static char *s_dump(json_t *root, size_t *len)
{
    char *text = root ? json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    *len = text ? strlen(text) : 0;
    return text;
}

static json_t *s_versions(const int64_t *versions, size_t n)
{
    json_t *list = json_array();
    char num[24];
    for (size_t i = 0; i < n; i++) {
        snprintf(num, sizeof num, "%" PRId64, versions[i]);
        json_array_append_new(list, json_string(num));
    }
    return list;
}

static json_t *s_tensor_meta(const char *name, const char *datatype)
{
    return json_pack("{s:s,s:s,s:[i]}", "name", name, "datatype", datatype, "shape", -1);
}

//  The outputs of the model the schema describes (binary without one):
//  predict (the class, or a regression's value) and, with classes,
//  probability ([-1] binary: P(class 1); [-1, k] multiclass).
static json_t *s_outputs_meta(const schema_t *schema)
{
    schema_task_t task = schema ? schema->task : SCHEMA_BINARY;
    if (task == SCHEMA_REGRESSION)
        return json_pack("[o]", s_tensor_meta("predict", "FP64"));
    if (task == SCHEMA_BINARY)
        return json_pack("[oo]", s_tensor_meta("predict", "INT64"),
                         s_tensor_meta("probability", "FP64"));
    return json_pack("[o{s:s,s:s,s:[i,I]}]", s_tensor_meta("predict", v2_datatype_of(schema->class_type)),
                     "name", "probability", "datatype", "FP64", "shape", -1,
                     (json_int_t)schema->n_classes);
}

char *v2_model_metadata(const char *name, const int64_t *versions, size_t n_versions,
                        const schema_t *schema, size_t *len)
{
    json_t *inputs = json_array();
    for (size_t k = 0; schema && k < schema->n_fields; k++)
        json_array_append_new(inputs, s_tensor_meta(schema->fields[k].name,
                                                    v2_datatype_of(schema->fields[k].type)));
    json_t *outputs = s_outputs_meta(schema);
    return s_dump(json_pack("{s:s,s:o,s:s,s:o,s:o}", "name", name, "versions",
                            s_versions(versions, n_versions), "platform", "mlops_c",
                            "inputs", inputs, "outputs", outputs), len);
}

char *v2_server_metadata(size_t *len)
{
    return s_dump(json_pack("{s:s,s:s,s:[s]}", "name", "mlops-gateway", "version", "1",
                            "extensions", "model_repository"), len);
}

char *v2_repository_index(const char *name, const int64_t *versions, size_t n_versions,
                          size_t *len)
{
    json_t *list = json_array();
    char num[24];
    for (size_t i = 0; i < n_versions; i++) {
        snprintf(num, sizeof num, "%" PRId64, versions[i]);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "name", name, "version", num,
                                              "state", "READY"));
    }
    return s_dump(list, len);
}

int64_t v2_version_parse(const char *text, size_t len)
{
    int64_t v = 0;
    if (len == 0 || len > 18 || text[0] == '0')
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return 0;
        v = v * 10 + (text[i] - '0');
    }
    return v;
}
