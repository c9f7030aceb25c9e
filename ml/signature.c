/*  signature.c: the serving contract of a recipe (see signature.h).

    Layout: mapping a record's fields to the inputs (in order, after the
    record before, or by a scan); cells from fields; the checks, one per
    field, which keep a category's level for the transform; the derived
    validation messages; the signature as JSON; two signatures compared.
*/
#include "signature.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "task_name.h"

/* --- mapping --------------------------------------------------------------- */

static const proto_field_t *s_field(const proto_record_t *rec, const char *name)
{
    for (size_t i = 0; i < rec->n_fields; i++)
        if (strcmp(rec->fields[i].name, name) == 0)
            return &rec->fields[i];
    return NULL;
}

void signature_map(const prep_recipe_t *self, const proto_record_t *rec,
                   const proto_field_t **fields)
{
    //  Invariant: fields [0, next) of rec carry the names of inputs already
    //  matched, each different from the current input's name (names_unique),
    //  so a hit at next is also the first field with that name: the same
    //  answer as the scan, even if a record repeats a name.
    size_t next = 0;
    for (size_t k = 0; k < self->n_inputs; k++) {
        const char *name = self->inputs[k].name;
        if (self->names_unique && next < rec->n_fields
            && strcmp(rec->fields[next].name, name) == 0)
            fields[k] = &rec->fields[next++];
        else
            fields[k] = s_field(rec, name);
    }
}

void signature_map_after(const prep_recipe_t *self, const proto_record_t *rec,
                         const proto_record_t *prev, const proto_field_t *const *prev_fields,
                         const proto_field_t **fields)
{
    bool same = prev && prev->n_fields == rec->n_fields;
    for (size_t j = 0; same && j < rec->n_fields; j++)
        same = rec->fields[j].name == prev->fields[j].name;
    if (!same) {
        signature_map(self, rec, fields);
        return;
    }
    for (size_t k = 0; k < self->n_inputs; k++)
        fields[k] = prev_fields[k] ? rec->fields + (prev_fields[k] - prev->fields) : NULL;
}

//  The cell of one field (NULL: absent).
static prep_cell_t s_cell(const proto_field_t *f)
{
    prep_cell_t c = {.missing = true, .level = -2};
    if (!f || f->kind == PROTO_VAL_NIL)
        return c;
    c.missing = false;
    if (f->kind == PROTO_VAL_STR)
        c.str = f->str;
    else
        c.num = f->num;
    return c;
}

void signature_cells(const prep_recipe_t *self, const proto_field_t *const *fields,
                     prep_cell_t *cells)
{
    for (size_t k = 0; k < self->n_inputs; k++)
        cells[k] = s_cell(fields[k]);
}

void signature_record_cells(const prep_recipe_t *self, const proto_record_t *rec,
                            prep_cell_t *cells)
{
    for (size_t k = 0; k < self->n_inputs; k++)
        cells[k] = s_cell(s_field(rec, self->inputs[k].name));
}

/* --- checks ---------------------------------------------------------------- */

static void s_problem(proto_problem_t *pr, size_t max, size_t *count, int64_t index,
                      const char *field, const char *msg)
{
    if (*count < max)
        pr[*count] = (proto_problem_t){index, field, msg};
    (*count)++;
}

static const char *s_check_num(const prep_input_t *in, const proto_field_t *f)
{
    if (f->kind != PROTO_VAL_INT && f->kind != PROTO_VAL_FLOAT)
        return in->integer ? "must be an integer" : "must be a number";
    if (!isfinite(f->num))
        return "must be a finite number";
    if (in->integer && f->num != floor(f->num))
        return "must be an integer";
    if (f->num < in->min || f->num > in->max)
        return in->rule;
    return NULL;
}

//  What is wrong with field f as input in, or NULL; *level gets a closed
//  CAT value's level when it is known (else stays -2: look it up).
static const char *s_check_field(const prep_input_t *in, const proto_field_t *f, int32_t *level)
{
    if (!f || f->kind == PROTO_VAL_NIL)
        return in->required ? "field required" : NULL;
    if (in->type == PREP_NUM)
        return s_check_num(in, f);
    if (f->kind != PROTO_VAL_STR)
        return "must be a string";
    if (in->type == PREP_CAT && in->closed && (*level = prep_level(in, f->str)) < 0)
        return in->rule;
    return NULL;
}

//  Checks field f (NULL: absent) as input k, appending its problem; *cell
//  gets its cell, with the level the check looked up.
static void s_check(const prep_recipe_t *self, size_t k, const proto_field_t *f, int64_t index,
                    proto_problem_t *problems, size_t max, size_t *count, prep_cell_t *cell)
{
    *cell = s_cell(f);
    const char *msg = s_check_field(&self->inputs[k], f, &cell->level);
    if (msg)
        s_problem(problems, max, count, index, self->inputs[k].name, msg);
}

void signature_validate(const prep_recipe_t *self, const proto_field_t *const *fields,
                        int64_t index, proto_problem_t *problems, size_t max, size_t *count,
                        prep_cell_t *cells)
{
    prep_cell_t cell;
    for (size_t k = 0; k < self->n_inputs; k++)
        s_check(self, k, fields[k], index, problems, max, count, cells ? &cells[k] : &cell);
}

void signature_validate_record(const prep_recipe_t *self, const proto_record_t *rec,
                               int64_t index, proto_problem_t *problems, size_t max,
                               size_t *count)
{
    prep_cell_t cell;
    for (size_t k = 0; k < self->n_inputs; k++)
        s_check(self, k, s_field(rec, self->inputs[k].name), index, problems, max, count, &cell);
}

/* --- derived messages ------------------------------------------------------ */

int signature_finish(prep_recipe_t *self)
{
    self->names_unique = true;
    for (size_t k = 1; k < self->n_inputs; k++)
        for (size_t j = 0; j < k; j++)
            if (strcmp(self->inputs[k].name, self->inputs[j].name) == 0)
                self->names_unique = false;
    for (size_t k = 0; k < self->n_inputs; k++) {
        prep_input_t *in = &self->inputs[k];
        char buf[1024];
        size_t at = 0;
        buf[0] = 0;
        if (in->type == PREP_NUM && isfinite(in->min) && isfinite(in->max))
            snprintf(buf, sizeof buf, "must be between %g and %g", in->min, in->max);
        else if (in->type == PREP_NUM && isfinite(in->min))
            snprintf(buf, sizeof buf, "must be >= %g", in->min);
        else if (in->type == PREP_NUM && isfinite(in->max))
            snprintf(buf, sizeof buf, "must be <= %g", in->max);
        else if (in->type == PREP_CAT && in->closed) {
            at = (size_t)snprintf(buf, sizeof buf, "must be one of ");
            for (size_t l = 0; l < in->n_levels && at < sizeof buf; l++)
                at += (size_t)snprintf(buf + at, sizeof buf - at, "%s%s", l ? ", " : "",
                                       in->levels[l]);
        } else
            snprintf(buf, sizeof buf, "is not valid");
        free(in->rule);
        in->rule = strdup(buf);
        if (!in->rule)
            return MLOPS_ENOMEM;
    }
    return 0;
}

/* --- JSON ------------------------------------------------------------------ */

static const char *s_type_name(const prep_input_t *in)
{
    return in->type == PREP_NUM ? (in->integer ? "integer" : "number") : "string";
}

//  A category's levels: a closed one's whole, an open one's capped (see
//  SIGNATURE_KNOWN_MAX in the header).
static void s_levels_json(json_t *f, const prep_input_t *in)
{
    json_t *lv = json_array();
    size_t omitted = 0;
    for (size_t l = 0; l < in->n_levels; l++) {
        bool shown = in->closed || (json_array_size(lv) < SIGNATURE_KNOWN_MAX &&
                                    strlen(in->levels[l]) <= SIGNATURE_LEVEL_MAX_BYTES);
        if (shown)
            json_array_append_new(lv, json_string(in->levels[l]));
        omitted += !shown;
    }
    json_object_set_new(f, in->closed ? "enum" : "known", lv);
    if (omitted)
        json_object_set_new(f, "known_omitted", json_integer((json_int_t)omitted));
}

char *signature_json(const prep_recipe_t *self)
{
    json_t *fields = json_array(), *root = json_object();
    for (size_t k = 0; fields && k < self->n_inputs; k++) {
        const prep_input_t *in = &self->inputs[k];
        json_t *f = json_object();
        json_object_set_new(f, "name", json_string(in->name));
        json_object_set_new(f, "type", json_string(s_type_name(in)));
        json_object_set_new(f, "required", json_boolean(in->required));
        if (in->type == PREP_NUM) {
            if (isfinite(in->min))
                json_object_set_new(f, "min", json_real(in->min));
            if (isfinite(in->max))
                json_object_set_new(f, "max", json_real(in->max));
            json_object_set_new(f, "fill", json_real(in->fill));
        }
        if (in->type == PREP_CAT) {
            s_levels_json(f, in);
            if (in->fill_str)
                json_object_set_new(f, "fill", json_string(in->fill_str));
            if (!in->closed)
                json_object_set_new(f, "unseen", json_string("one-hot bucket (other)"));
        }
        if (in->type == PREP_TEXT)
            json_object_set_new(f, "use", json_string("title from 'Surname, Title. Given'"));
        json_array_append_new(fields, f);
    }
    json_object_set_new(root, "recipe",
                        json_string(self->kind == PREP_TITANIC ? "titanic" : "generic"));
    json_object_set_new(root, "fields", fields);
    json_object_set_new(root, "unknown_fields", json_string("ignored"));
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    return text;
}

/* --- two contracts compared ------------------------------------------------ */

static const prep_input_t *s_input(const prep_recipe_t *r, const char *name)
{
    for (size_t k = 0; k < r->n_inputs; k++)
        if (strcmp(r->inputs[k].name, name) == 0)
            return &r->inputs[k];
    return NULL;
}

//  Appends text to out after a separator sep ("" for none), cut to size.
static void s_append(char *out, size_t size, const char *sep, const char *text)
{
    size_t at = strnlen(out, size);
    if (at + 1 < size)
        snprintf(out + at, size - at, "%s%s", at ? sep : "", text);
}

//  Appends one difference (a clause of its own), counting it.
static void s_differs(char *out, size_t size, size_t *count, const char *fmt, const char *a,
                      const char *b, const char *c)
{
    char clause[256];
    snprintf(clause, sizeof clause, fmt, a, b, c);
    s_append(out, size, "; ", clause);
    (*count)++;
}

//  One clause listing the inputs of a that b lacks: "fields added: X, Y".
static void s_missing(const prep_recipe_t *a, const prep_recipe_t *b, const char *what, char *out,
                      size_t size, size_t *count)
{
    size_t before = *count;
    for (size_t k = 0; k < a->n_inputs; k++) {
        if (s_input(b, a->inputs[k].name))
            continue;
        if (*count == before) {
            s_append(out, size, "; ", what);
            s_append(out, size, "", a->inputs[k].name);
        } else
            s_append(out, size, ", ", a->inputs[k].name);
        (*count)++;
    }
}

static bool s_same_levels(const prep_input_t *a, const prep_input_t *b)
{
    if (a->closed != b->closed || a->n_levels != b->n_levels)
        return !a->closed && !b->closed;   //  open levels are fitted values
    for (size_t l = 0; a->closed && l < a->n_levels; l++)
        if (prep_level(b, a->levels[l]) < 0)
            return false;
    return true;
}

//  Differences of one field present in both.
static void s_diff_field(const prep_input_t *c, const prep_input_t *p, char *out, size_t size,
                         size_t *count)
{
    if (strcmp(s_type_name(c), s_type_name(p)) != 0)
        s_differs(out, size, count, "field %s type changed (%s -> %s)", c->name, s_type_name(p),
                  s_type_name(c));
    if (c->required != p->required)
        s_differs(out, size, count, "field %s %s", c->name,
                  c->required ? "now required" : "no longer required", "");
    if (c->type == PREP_CAT && p->type == PREP_CAT && !s_same_levels(c, p))
        s_differs(out, size, count, "field %s allowed values changed", c->name, "", "");
}

size_t signature_diff(const prep_recipe_t *cand, const prep_recipe_t *prod, char *out,
                      size_t size)
{
    size_t count = 0;
    if (size)
        out[0] = 0;
    if (cand->task != prod->task)
        s_differs(out, size, &count, "task changed (%s -> %s)", task_name(prod->task),
                  task_name(cand->task), "");
    for (size_t k = 0; k < prod->n_inputs; k++) {
        const prep_input_t *c = s_input(cand, prod->inputs[k].name);
        if (c)
            s_diff_field(c, &prod->inputs[k], out, size, &count);
    }
    s_missing(cand, prod, "fields added: ", out, size, &count);
    s_missing(prod, cand, "fields removed: ", out, size, &count);
    return count;
}
