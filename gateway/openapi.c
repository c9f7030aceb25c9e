/*  openapi.c: the OpenAPI 3 document (see openapi.h). Written with
    jansson's json_pack: the document is built once per request to
    /openapi.json (rare), so clarity beats speed here. */
#include "openapi.h"

#include "v2.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_REF(name) json_pack("{s:s}", "$ref", "#/components/schemas/" name)

/* --- the record, from the signature -------------------------------------- */

static json_t *s_field_schema(const schema_field_t *f)
{
    json_t *p = json_pack("{s:s}", "type", f->type == SCHEMA_STRING ? "string"
                                         : f->type == SCHEMA_INTEGER ? "integer" : "number");
    if (isfinite(f->min))
        json_object_set_new(p, "minimum", json_real(f->min));
    if (isfinite(f->max))
        json_object_set_new(p, "maximum", json_real(f->max));
    if (f->n_levels) {
        json_t *levels = json_array();
        for (size_t l = 0; l < f->n_levels; l++)
            json_array_append_new(levels, json_string(f->levels[l]));
        //  a closed category refuses others; an open one buckets them
        json_object_set_new(p, f->closed ? "enum" : "x-known-values", levels);
    }
    if (!f->required)
        json_object_set_new(p, "description", json_string("optional: imputed when missing"));
    return p;
}

//  A value the field accepts, for the example record.
static json_t *s_example_value(const schema_field_t *f)
{
    if (f->type == SCHEMA_STRING)
        return json_string(f->n_levels ? f->levels[0] : "Doe, Mr. John");
    double v = isfinite(f->min) ? f->min : isfinite(f->max) && f->max < 0 ? f->max : 0;
    return f->type == SCHEMA_INTEGER ? json_integer((json_int_t)ceil(v)) : json_real(v);
}

static json_t *s_record(const schema_t *schema)
{
    if (!schema)
        return json_pack("{s:s,s:s}", "type", "object", "description",
                         "a record; its fields appear here once an inference worker serves a model");
    json_t *props = json_object(), *required = json_array(), *example = json_object();
    for (size_t k = 0; k < schema->n_fields; k++) {
        const schema_field_t *f = &schema->fields[k];
        json_object_set_new(props, f->name, s_field_schema(f));
        json_object_set_new(example, f->name, s_example_value(f));
        if (f->required)
            json_array_append_new(required, json_string(f->name));
    }
    return json_pack("{s:s,s:o,s:o,s:o,s:s}", "type", "object", "properties", props,
                     "required", required, "example", example, "description",
                     "one record; fields the model does not know are ignored");
}

/* --- components ---------------------------------------------------------- */

//  A multiclass model's label: its type and the labels as its enum.
static json_t *s_label_schema(const schema_t *schema)
{
    json_t *labels = json_loads(schema->classes, 0, NULL);
    return json_pack("{s:s,s:o}", "type", schema_type_name(schema->class_type), "enum",
                     labels ? labels : json_array());
}

//  {"a": number, "b": number, ...}: a record's class probabilities.
static json_t *s_class_probabilities_schema(const schema_t *schema)
{
    json_t *labels = json_loads(schema->classes, 0, NULL), *props = json_object(), *label;
    size_t c;
    json_array_foreach(labels, c, label) {
        char *key = json_is_string(label) ? NULL : json_dumps(label, JSON_ENCODE_ANY);
        json_object_set_new(props, key ? key : json_string_value(label),
                            json_pack("{s:s,s:i,s:i}", "type", "number", "minimum", 0, "maximum", 1));
        free(key);
    }
    json_decref(labels);
    return json_pack("{s:s,s:o}", "type", "object", "properties", props);
}

//  Prediction and Predictions, the /predict and /predict/batch answers of
//  the served model's task (binary without a served model).
static void s_answers(json_t *s, const schema_t *schema)
{
    schema_task_t task = schema ? schema->task : SCHEMA_BINARY;
    json_t *one, *many, *p1, *pn;
    if (task == SCHEMA_BINARY) {
        one = json_pack("{s:s,s:[i,i]}", "type", "integer", "enum", 0, 1);
        many = json_pack("{s:s}", "type", "integer");
        p1 = json_pack("{s:s}", "type", "number");
        pn = json_pack("{s:s}", "type", "number");
    } else if (task == SCHEMA_MULTICLASS) {
        one = s_label_schema(schema);
        many = s_label_schema(schema);
        p1 = s_class_probabilities_schema(schema);
        pn = s_class_probabilities_schema(schema);
    } else {
        one = json_pack("{s:s}", "type", "number");
        many = json_pack("{s:s}", "type", "number");
        p1 = pn = NULL;
    }
    json_t *props1 = json_pack("{s:o}", "prediction", one);
    json_t *propsn = json_pack("{s:{s:s,s:o}}", "predictions", "type", "array", "items", many);
    if (p1) {
        json_object_set_new(props1, task == SCHEMA_BINARY ? "probability" : "probabilities", p1);
        json_object_set_new(propsn, "probabilities", json_pack("{s:s,s:o}", "type", "array",
                                                               "items", pn));
    }
    json_object_set_new(props1, "model_version", json_pack("{s:s}", "type", "integer"));
    json_object_set_new(propsn, "model_version", json_pack("{s:s}", "type", "integer"));
    json_object_set_new(props1, "request_id", json_pack("{s:s}", "type", "string"));   //  for POST /feedback
    json_object_set_new(propsn, "request_id", json_pack("{s:s}", "type", "string"));
    json_object_set_new(s, "Prediction", json_pack("{s:s,s:o}", "type", "object", "properties", props1));
    json_object_set_new(s, "Predictions", json_pack("{s:s,s:o}", "type", "object", "properties", propsn));
}

static json_t *s_schemas(const schema_t *schema)
{
    json_t *s = json_object();
    json_object_set_new(s, "Record", s_record(schema));
    json_object_set_new(s, "Batch", json_pack("{s:s,s:[s],s:{s:{s:s,s:i,s:o}}}", "type", "object",
        "required", "instances", "properties", "instances", "type", "array", "minItems", 1,
        "items", S_REF("Record")));
    s_answers(s, schema);
    json_object_set_new(s, "Detail", json_pack("{s:s,s:{s:{}}}", "type", "object", "properties", "detail"));
    json_object_set_new(s, "V2Error", json_pack("{s:s,s:[s],s:{s:{s:s}}}", "type", "object",
        "required", "error", "properties", "error", "type", "string"));
    json_object_set_new(s, "V2Tensor", json_pack("{s:s,s:[s,s,s,s],s:{s:{s:s},s:{s:s,s:{s:s}},"
        "s:{s:s,s:[s,s,s,s,s,s,s,s,s,s,s,s,s]},s:{s:s},s:{s:s}}}",
        "type", "object", "required", "name", "shape", "datatype", "data", "properties",
        "name", "type", "string", "shape", "type", "array", "items", "type", "integer",
        "datatype", "type", "string", "enum", "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8",
        "INT16", "INT32", "INT64", "FP16", "FP32", "FP64", "BYTES",
        "data", "type", "array", "parameters", "type", "object"));
    //  a regression model's only output is predict
    json_t *outputs = schema && schema->task == SCHEMA_REGRESSION ? json_pack("[s]", "predict")
                    : json_pack("[s,s]", "predict", "probability");
    json_object_set_new(s, "V2InferRequest", json_pack("{s:s,s:[s],s:{s:{s:s},s:{s:s},s:{s:s,s:o},"
        "s:{s:s,s:{s:s,s:{s:{s:s,s:o}}}}}}",
        "type", "object", "required", "inputs", "properties", "id", "type", "string",
        "parameters", "type", "object", "inputs", "type", "array", "items", S_REF("V2Tensor"),
        "outputs", "type", "array", "items", "type", "object", "properties", "name", "type", "string",
        "enum", outputs));
    json_object_set_new(s, "V2InferResponse", json_pack("{s:s,s:{s:{s:s},s:{s:s},s:{s:s},s:{s:s,s:o}}}",
        "type", "object", "properties", "model_name", "type", "string", "model_version", "type",
        "string", "id", "type", "string", "outputs", "type", "array", "items", S_REF("V2Tensor")));
    return s;
}

/* --- paths --------------------------------------------------------------- */

//  One operation: summary, tag, an optional JSON body, its 200 schema.
static json_t *s_op(const char *summary, const char *tag, json_t *body, json_t *ok, const char *error)
{
    json_t *responses = json_pack("{s:{s:s}}", "default", "description", "an error");
    json_t *content = ok ? json_pack("{s:{s:o}}", "application/json", "schema", ok) : NULL;
    json_t *okr = json_pack("{s:s}", "description", "OK");
    if (content)
        json_object_set_new(okr, "content", content);
    json_object_set_new(responses, "200", okr);
    json_object_set_new(json_object_get(responses, "default"), "content",
                        json_pack("{s:{s:o}}", "application/json", "schema",
                                  strcmp(error, "V2Error") == 0 ? S_REF("V2Error") : S_REF("Detail")));
    json_t *op = json_pack("{s:s,s:[s],s:o}", "summary", summary, "tags", tag, "responses", responses);
    if (body)
        json_object_set_new(op, "requestBody", json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
                                                         "application/json", "schema", body));
    return op;
}

static void s_path(json_t *paths, const char *path, const char *method, json_t *op)
{
    json_t *item = json_object_get(paths, path);
    if (!item)
        json_object_set_new(paths, path, item = json_object());
    json_object_set_new(item, method, op);
}

static json_t *s_param(const char *name, const char *description)
{
    return json_pack("{s:s,s:s,s:b,s:s,s:{s:s}}", "name", name, "in", "path", "required", 1,
                     "description", description, "schema", "type", "string");
}

static void s_seed_paths(json_t *paths)
{
    const char *d = "Detail";
    s_path(paths, "/health", "get", s_op("liveness and the served version", "seed", NULL, NULL, d));
    s_path(paths, "/predict", "post", s_op("predict one record (?version=V: that registry version)", "seed",
                                           S_REF("Record"), S_REF("Prediction"), d));
    s_path(paths, "/predict/batch", "post", s_op("predict a batch of records", "seed", S_REF("Batch"),
                                                 S_REF("Predictions"), d));
    s_path(paths, "/metrics", "get", s_op("Prometheus counters (text/plain)", "ops", NULL, NULL, d));
    s_path(paths, "/openapi.json", "get", s_op("this document", "ops", NULL, NULL, d));
    s_path(paths, "/docs", "get", s_op("a page listing the endpoints, with a try-it (text/html)",
                                       "ops", NULL, NULL, d));
    json_t *label = s_op("true labels of earlier predictions by request_id ({\"request_id\":..,\"label\":..} "
                         "or {\"items\":[..]}; a token when one is set)", "seed",
                         json_pack("{s:s}", "type", "object"), NULL, d);
    json_object_set_new(label, "security", json_pack("[{s:[]},{}]", "bearer"));
    s_path(paths, "/feedback", "post", label);
    s_path(paths, "/api/feedback", "get", s_op("the prediction log's counts and live metrics per version",
                                               "api", NULL, NULL, d));
    const char *reads[] = {"/api/runs", "/api/models", "/api/workers"};
    for (size_t i = 0; i < 3; i++)
        s_path(paths, reads[i], "get", s_op("the broker's view (dashboard)", "api", NULL, NULL, d));
    const char *actions[] = {"/api/retrain", "/api/promote", "/api/rollback"};
    for (size_t i = 0; i < 3; i++) {
        json_t *op = s_op("an admin action (Authorization: Bearer TOKEN)", "api",
                          json_pack("{s:s}", "type", "object"), NULL, d);
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
        s_path(paths, actions[i], "post", op);
    }
}

static void s_v2_paths(json_t *paths)
{
    const char *e = "V2Error";
    s_path(paths, "/v2", "get", s_op("server metadata", "v2", NULL, NULL, e));
    s_path(paths, "/v2/health/live", "get", s_op("server live", "v2", NULL, NULL, e));
    s_path(paths, "/v2/health/ready", "get", s_op("server ready (400 when not)", "v2", NULL, NULL, e));
    s_path(paths, "/v2/repository/index", "post", s_op("the model repository index", "v2",
                                                       json_pack("{s:s}", "type", "object"), NULL, e));
    const char *bases[] = {"/v2/models/{model_name}", "/v2/models/{model_name}/versions/{model_version}"};
    for (size_t i = 0; i < 2; i++) {
        char path[96];
        json_t *params = json_pack("[o]", s_param("model_name", "the served model's name"));
        if (i)
            json_array_append_new(params, s_param("model_version", "a registry version number"));
        const char *tails[] = {"", "/ready", "/infer"};
        for (size_t t = 0; t < 3; t++) {
            snprintf(path, sizeof path, "%s%s", bases[i], tails[t]);
            json_t *op = t == 2 ? s_op("inference", "v2", S_REF("V2InferRequest"), S_REF("V2InferResponse"), e)
                       : s_op(t ? "model ready (400 when not)" : "model metadata", "v2", NULL, NULL, e);
            s_path(paths, path, t == 2 ? "post" : "get", op);
            json_object_set(json_object_get(paths, path), "parameters", params);
        }
        json_decref(params);
    }
}

char *openapi_document(const schema_t *schema, const char *model_name, size_t *len)
{
    json_t *paths = json_object();
    s_seed_paths(paths);
    s_v2_paths(paths);
    json_t *doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:o,s:{s:{s:s,s:s}}}}",
        "openapi", "3.0.3", "info", "title", "mlops-gateway", "version", "1", "description",
        "Predictions from the served model, the Open Inference Protocol (V2) and the pipeline's "
        "control API. Record fields come from the production model's signature.",
        "paths", paths, "components", "schemas", s_schemas(schema), "securitySchemes", "bearer",
        "type", "http", "scheme", "bearer");
    if (doc && schema)
        json_object_set_new(json_object_get(doc, "info"), "x-model",
                            json_pack("{s:s,s:I,s:s}", "name", model_name, "version",
                                      (json_int_t)schema->version, "recipe", schema->recipe));
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    *len = text ? strlen(text) : 0;
    return text;
}
