/*  body.c: JSON request bodies to prediction records (see body.h).

    The fast path is one json_loadb and one walk over the document. Only when
    jansson refuses the text do we look for the bare NaN / Infinity tokens
    Python's json module writes, rewrite them as marker strings jansson
    accepts ("\u0000N", "\u0000I", "\u0000-"), parse again, and map any byte
    position back to the client's text.
*/
#include "body.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t old_at, old_len;   //  the token in the client's text
    size_t new_at, new_len;   //  its replacement in the rewritten text
} s_patch_t;

typedef struct {
    char *text;               //  rewritten text, malloc'd
    size_t len;               //  its length
    s_patch_t *patches;       //  replacements in order, malloc'd
    size_t n_patches;         //  count
} s_rewrite_t;

static void s_problem(body_t *self, int64_t index, const char *field, const char *msg)
{
    if (self->n_problems < BODY_PROBLEMS_MAX) {
        proto_problem_t *p = &self->problems[self->n_problems];
        p->index = index;
        p->field = field;
        p->msg = msg;
    }
    self->n_problems++;
}

//  A problem whose message is formatted; the text lives in self->msgs.
static void s_problemf(body_t *self, int64_t index, const char *field, const char *fmt, size_t a,
                       size_t b)
{
    size_t k = self->n_problems;
    if (k >= BODY_PROBLEMS_MAX) {
        self->n_problems++;
        return;
    }
    snprintf(self->msgs[k], sizeof self->msgs[k], fmt, a, b);
    s_problem(self, index, field, self->msgs[k]);
}

static bool s_is_word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

//  Length of a bare NaN / Infinity / -Infinity token at text[i], else 0.
static size_t s_bare_token(const char *text, size_t len, size_t i, char *tag)
{
    static const struct { const char *word; char tag; } words[] = {
        {"NaN", 'N'}, {"-Infinity", '-'}, {"Infinity", 'I'}};
    if (i > 0 && s_is_word_char(text[i - 1]))
        return 0;
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++) {
        size_t n = strlen(words[w].word);
        if (len - i >= n && memcmp(text + i, words[w].word, n) == 0
            && (i + n == len || !s_is_word_char(text[i + n]))) {
            *tag = words[w].tag;
            return n;
        }
    }
    return 0;
}

//  Rewrites bare tokens outside strings. Returns the number of patches made
//  (0: nothing to rewrite, out untouched) or -1 when out of memory.
static int s_rewrite(const char *text, size_t len, s_rewrite_t *out)
{
    size_t found = 0;
    bool in_string = false;
    char tag;
    for (size_t i = 0; i < len; i++) {
        if (in_string) {
            if (text[i] == '\\')
                i++;
            else if (text[i] == '"')
                in_string = false;
        } else if (text[i] == '"')
            in_string = true;
        else if (s_bare_token(text, len, i, &tag))
            found++;
    }
    if (found == 0)
        return 0;
    enum { MARKER_LEN = 9 };   //  "\u0000X" with its quotes
    out->text = malloc(len + found * MARKER_LEN + 1);
    out->patches = malloc(found * sizeof *out->patches);
    if (!out->text || !out->patches)
        return -1;
    size_t o = 0;
    in_string = false;
    for (size_t i = 0; i < len; i++) {
        size_t n = 0;
        if (in_string) {
            if (text[i] == '\\' && i + 1 < len)
                out->text[o++] = text[i++];
            else if (text[i] == '"')
                in_string = false;
        } else if (text[i] == '"')
            in_string = true;
        else
            n = s_bare_token(text, len, i, &tag);
        if (n == 0) {
            out->text[o++] = text[i];
            continue;
        }
        s_patch_t *p = &out->patches[out->n_patches++];
        *p = (s_patch_t){.old_at = i, .old_len = n, .new_at = o, .new_len = MARKER_LEN};
        memcpy(out->text + o, "\"\\u0000", 7);
        out->text[o + 7] = tag;
        out->text[o + 8] = '"';
        o += MARKER_LEN;
        i += n - 1;
    }
    out->len = o;
    return (int)out->n_patches;
}

//  Maps a byte position in the rewritten text back to the client's text.
static size_t s_map_position(const s_rewrite_t *rw, size_t pos)
{
    size_t old = pos;
    for (size_t k = 0; k < rw->n_patches; k++) {
        const s_patch_t *p = &rw->patches[k];
        if (pos < p->new_at)
            break;
        if (pos < p->new_at + p->new_len)
            return p->old_at;
        old = p->old_at + p->old_len + (pos - p->new_at - p->new_len);
    }
    return old;
}

//  Parses text, trying the NaN rewrite when the plain parse fails.
static json_t *s_load(body_t *self, const char *text, size_t len, mlops_err_t *err, int *code)
{
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (doc)
        return doc;
    //  jansson counts the bytes it read, the offending one included
    size_t pos = je.position > 0 ? (size_t)je.position - 1 : 0;
    s_rewrite_t rw = {0};
    int n = s_rewrite(text, len, &rw);
    if (n < 0)
        *code = mlops_err_set(err, MLOPS_ENOMEM, "out of memory rewriting a body of %zu bytes", len);
    else if (n > 0) {
        doc = json_loadb(rw.text, rw.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
        if (!doc)
            pos = s_map_position(&rw, je.position > 0 ? (size_t)je.position - 1 : 0);
    }
    free(rw.text);
    free(rw.patches);
    if (!doc && n >= 0) {
        self->error_pos = pos;
        *code = mlops_err_set(err, MLOPS_EPROTO, "body is not valid JSON at byte %zu: %s", pos,
                              je.text);
    }
    return doc;
}

//  Fills one field from a JSON value; a problem when it cannot be a field.
static void s_field(body_t *self, int64_t index, const char *key, json_t *value, proto_field_t *f)
{
    f->name = key;
    f->str = NULL;
    f->num = 0;
    switch (json_typeof(value)) {
    case JSON_NULL: f->kind = PROTO_VAL_NIL; return;
    case JSON_TRUE: f->kind = PROTO_VAL_BOOL; f->num = 1; return;
    case JSON_FALSE: f->kind = PROTO_VAL_BOOL; return;
    case JSON_INTEGER: f->kind = PROTO_VAL_INT; f->num = (double)json_integer_value(value); return;
    case JSON_REAL: f->kind = PROTO_VAL_FLOAT; f->num = json_real_value(value); return;
    case JSON_STRING: break;
    default:
        f->kind = PROTO_VAL_NIL;
        s_problem(self, index, key, "must be a number, a string, a boolean or null");
        return;
    }
    const char *s = json_string_value(value);
    size_t n = json_string_length(value);
    f->kind = PROTO_VAL_STR;
    f->str = s;
    if (strlen(s) == n)
        return;
    //  only the rewrite puts NULs in: "\0N", "\0I", "\0-" are the markers
    f->kind = PROTO_VAL_FLOAT;
    f->str = NULL;
    if (n == 2 && s[0] == '\0' && (s[1] == 'N' || s[1] == 'I' || s[1] == '-'))
        f->num = s[1] == 'N' ? NAN : s[1] == 'I' ? INFINITY : -INFINITY;
    else {
        f->kind = PROTO_VAL_NIL;
        s_problem(self, index, key, "must not contain \\u0000");
    }
}

//  Counts the fields of the records in list (or the one record), noting
//  records that are not objects or have too many fields.
static size_t s_count_fields(body_t *self, json_t **recs, size_t n, bool batch)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t index = batch ? (int64_t)i : -1;
        if (!json_is_object(recs[i]))
            s_problem(self, index, "", batch ? "must be a JSON object (one record)"
                                             : "body must be a JSON object (one record)");
        else if (json_object_size(recs[i]) > PROTO_FIELDS_MAX)
            s_problemf(self, index, "", "has %zu fields, more than the limit of %zu",
                       json_object_size(recs[i]), PROTO_FIELDS_MAX);
        else
            total += json_object_size(recs[i]);
    }
    return total;
}

//  The records of a batch envelope, or NULL with a problem noted.
static json_t *s_instances(body_t *self, json_t *doc, size_t batch_max)
{
    if (!json_is_object(doc)) {
        s_problem(self, -1, "", "body must be a JSON object with an \"instances\" list");
        return NULL;
    }
    json_t *list = json_object_get(doc, "instances");
    if (!list)
        s_problem(self, -1, "instances", "field required");
    else if (!json_is_array(list))
        s_problem(self, -1, "instances", "must be a list of records");
    else if (json_array_size(list) == 0)
        s_problem(self, -1, "instances", "must hold at least 1 record");
    else if (json_array_size(list) > batch_max)
        s_problemf(self, -1, "instances", "holds %zu records, more than the limit of %zu",
                   json_array_size(list), batch_max);
    else
        return list;
    return NULL;
}

int body_parse(body_t *self, const char *text, size_t len, bool batch, size_t batch_max,
               mlops_err_t *err)
{
    //  not a memset of the whole struct: msgs is large and only written on demand
    self->doc = NULL;
    self->records = NULL;
    self->n_records = 0;
    self->fields = NULL;
    self->n_problems = 0;
    self->error_pos = 0;
    int code = 0;
    json_t *doc = s_load(self, text, len, err, &code);
    if (!doc)
        return code;
    self->doc = doc;
    json_t *one = doc, **recs = &one;
    size_t n = 1;
    if (batch) {
        if (batch_max > PROTO_RECORDS_MAX)
            batch_max = PROTO_RECORDS_MAX;
        json_t *list = s_instances(self, doc, batch_max);
        if (!list)
            return mlops_err_set(err, MLOPS_ECHECK, "body has the wrong shape");
        n = json_array_size(list);
        recs = malloc(n * sizeof *recs);
        if (!recs)
            return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %zu records", n);
        for (size_t i = 0; i < n; i++)
            recs[i] = json_array_get(list, i);
    }
    size_t total = s_count_fields(self, recs, n, batch);
    self->records = calloc(n, sizeof *self->records);
    self->fields = malloc((total ? total : 1) * sizeof *self->fields);
    if (!self->records || !self->fields) {
        if (batch)
            free(recs);
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %zu fields", total);
    }
    self->n_records = n;
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key;
        json_t *value;
        self->records[i].fields = self->fields + at;
        if (!json_is_object(recs[i]) || json_object_size(recs[i]) > PROTO_FIELDS_MAX)
            continue;   //  noted by s_count_fields
        json_object_foreach(recs[i], key, value)
            s_field(self, batch ? (int64_t)i : -1, key, value, &self->fields[at++]);
        self->records[i].n_fields = (size_t)(self->fields + at - self->records[i].fields);
    }
    if (batch)
        free(recs);
    if (self->n_problems)
        return mlops_err_set(err, MLOPS_ECHECK, "body has the wrong shape (%zu problems)",
                             self->n_problems);
    return 0;
}

void body_clear(body_t *self)
{
    if (self->doc)
        json_decref((json_t *)self->doc);
    free(self->records);
    free(self->fields);
    self->doc = NULL;
    self->records = NULL;
    self->fields = NULL;
    self->n_records = self->n_problems = 0;
}
