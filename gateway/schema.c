/*  schema.c: signature JSON to typed fields (see schema.h). */
#include "schema.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *s_type_names[] = {[SCHEMA_INTEGER] = "integer", [SCHEMA_NUMBER] = "number",
                                     [SCHEMA_STRING] = "string"};

const char *schema_type_name(schema_type_t type)
{
    return type >= SCHEMA_INTEGER && type <= SCHEMA_STRING ? s_type_names[type] : "?";
}

static int s_type_of(const char *name)
{
    for (int t = SCHEMA_INTEGER; t <= SCHEMA_STRING; t++)
        if (strcmp(name, s_type_names[t]) == 0)
            return t;
    return 0;
}

static const char *s_task_names[] = {[SCHEMA_BINARY] = "binary",
                                     [SCHEMA_MULTICLASS] = "multiclass",
                                     [SCHEMA_REGRESSION] = "regression"};

const char *schema_task_name(schema_task_t task)
{
    return task <= SCHEMA_REGRESSION ? s_task_names[task] : "?";
}

//  The labels' type: every one a string, or every one a number (integer
//  when all are whole); 0 for anything else.
static int s_classes_type(json_t *classes)
{
    size_t c;
    json_t *e;
    int type = 0;
    json_array_foreach(classes, c, e) {
        int t = json_is_string(e) ? SCHEMA_STRING : json_is_integer(e) ? SCHEMA_INTEGER
              : json_is_real(e) ? SCHEMA_NUMBER : 0;
        if (!t || (type && (t == SCHEMA_STRING) != (type == SCHEMA_STRING)))
            return 0;
        type = type == SCHEMA_NUMBER ? type : t;
    }
    return type;
}

//  "task" and, for a multiclass model, "classes".
static int s_task(schema_t *self, json_t *root, mlops_err_t *err)
{
    json_t *task = json_object_get(root, "task"), *classes = json_object_get(root, "classes");
    const char *name = task ? json_string_value(task) : "binary";
    int t = -1;
    for (int i = SCHEMA_BINARY; name && i <= SCHEMA_REGRESSION; i++)
        t = strcmp(name, s_task_names[i]) == 0 ? i : t;
    if (t < 0)
        return mlops_err_set(err, MLOPS_EPROTO, "signature: 'task' is not binary, multiclass "
                             "or regression");
    self->task = (schema_task_t)t;
    if (self->task != SCHEMA_MULTICLASS)
        return 0;
    size_t k = json_array_size(classes);
    int type = s_classes_type(classes);
    if (!json_is_array(classes) || k < 2 || k > SCHEMA_CLASSES_MAX || !type)
        return mlops_err_set(err, MLOPS_EPROTO, "signature: 'classes' is not a list of 2 to %d "
                             "strings or numbers", SCHEMA_CLASSES_MAX);
    self->n_classes = k;
    self->class_type = (schema_type_t)type;
    self->classes = json_dumps(classes, JSON_COMPACT);
    return self->classes ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
}

//  A bound of a number field: the value, or fallback when absent.
static bool s_bound(json_t *f, const char *key, double fallback, double *out)
{
    json_t *v = json_object_get(f, key);
    *out = v ? json_number_value(v) : fallback;
    return !v || json_is_number(v);
}

//  The levels of a category ("enum": closed, "known": open), if any.
static int s_levels(schema_field_t *out, json_t *f, mlops_err_t *err)
{
    json_t *enm = json_object_get(f, "enum"), *known = json_object_get(f, "known");
    json_t *lv = enm ? enm : known;
    out->closed = enm != NULL;
    if (!lv)
        return 0;
    if (!json_is_array(lv))
        return mlops_err_set(err, MLOPS_EPROTO, "signature: %s.%s is not a list", out->name,
                             enm ? "enum" : "known");
    out->levels = calloc(json_array_size(lv) + 1, sizeof *out->levels);
    if (!out->levels)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    for (size_t l = 0; l < json_array_size(lv); l++) {
        const char *s = json_string_value(json_array_get(lv, l));
        if (!s)
            return mlops_err_set(err, MLOPS_EPROTO, "signature: %s has a level that is not a string",
                                 out->name);
        if (!(out->levels[out->n_levels++] = strdup(s)))
            return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    }
    return 0;
}

static int s_field(schema_field_t *out, json_t *f, size_t k, mlops_err_t *err)
{
    const char *name = json_string_value(json_object_get(f, "name"));
    const char *type = json_string_value(json_object_get(f, "type"));
    if (!json_is_object(f) || !name || !type || !s_type_of(type))
        return mlops_err_set(err, MLOPS_EPROTO, "signature: fields[%zu] needs a name and a type "
                             "(integer, number or string)", k);
    if (!(out->name = strdup(name)))
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    out->type = (schema_type_t)s_type_of(type);
    out->required = json_is_true(json_object_get(f, "required"));
    if (!s_bound(f, "min", -INFINITY, &out->min) || !s_bound(f, "max", INFINITY, &out->max))
        return mlops_err_set(err, MLOPS_EPROTO, "signature: %s has a bound that is not a number", name);
    return s_levels(out, f, err);
}

static int s_fields(schema_t *self, json_t *root, mlops_err_t *err)
{
    json_t *fields = json_object_get(root, "fields");
    const char *recipe = json_string_value(json_object_get(root, "recipe"));
    if (!json_is_array(fields) || json_array_size(fields) > SCHEMA_FIELDS_MAX)
        return mlops_err_set(err, MLOPS_EPROTO, "signature: 'fields' is not a list of at most %d",
                             SCHEMA_FIELDS_MAX);
    self->recipe = strdup(recipe ? recipe : "generic");
    self->fields = calloc(json_array_size(fields) + 1, sizeof *self->fields);
    if (!self->recipe || !self->fields)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    for (size_t k = 0; k < json_array_size(fields); k++) {
        int rc = s_field(&self->fields[k], json_array_get(fields, k), k, err);
        self->n_fields += self->fields[k].name != NULL;
        if (rc)
            return rc;
    }
    return 0;
}

schema_t *schema_parse(const char *text, size_t len, int64_t version, mlops_err_t *err)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root || !json_is_object(root)) {
        mlops_err_set(err, MLOPS_EPROTO, "signature is not a JSON object: %s", root ? "" : je.text);
        json_decref(root);
        return NULL;
    }
    schema_t *self = calloc(1, sizeof *self);
    int rc = self ? 0 : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    if (self) {
        self->version = version;
        self->json = strndup(text, len);
        rc = self->json ? s_fields(self, root, err) : mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        rc = rc ? rc : s_task(self, root, err);
    }
    json_decref(root);
    if (rc)
        schema_destroy(&self);
    return self;
}

void schema_destroy(schema_t **p)
{
    if (!p || !*p)
        return;
    schema_t *self = *p;
    for (size_t k = 0; k < self->n_fields; k++) {
        for (size_t l = 0; l < self->fields[k].n_levels; l++)
            free(self->fields[k].levels[l]);
        free(self->fields[k].levels);
        free(self->fields[k].name);
    }
    free(self->fields);
    free(self->recipe);
    free(self->classes);
    free(self->json);
    free(self);
    *p = NULL;
}

const schema_field_t *schema_field(const schema_t *self, const char *name)
{
    for (size_t k = 0; k < self->n_fields; k++)
        if (self->fields[k].name[0] == name[0] && strcmp(self->fields[k].name, name) == 0)
            return &self->fields[k];   //  (first letters first: V2 looks up every input)
    return NULL;
}

bool schema_level_known(const schema_field_t *field, const char *value)
{
    for (size_t l = 0; l < field->n_levels; l++)
        if (strcmp(field->levels[l], value) == 0)
            return true;
    return false;
}
