/*  body.c: JSON request bodies to prediction records (see body.h).

    Two paths, one result. The fast path reads the common case in one pass
    over a copy of the text, without a document: flat records of strings,
    numbers, booleans and nulls, strings unescaped and cut in place.
    It gives up, having decided nothing, on anything else: a nested value, a duplicate key, a number it cannot convert exactly, a
    syntax or shape error. Then the full path runs: jansson parses the text
    (its messages give the byte positions) and the document is walked and
    checked. The fuzz target checks both paths give the same records.

    Only when jansson refuses the text do we look for the bare NaN /
    Infinity tokens Python's json module writes, rewrite them as marker
    strings jansson accepts ("\u0000N", "\u0000I", "\u0000-"), parse again,
    and map any byte position back to the client's text.
*/
#include "body.h"
#include "utf8.h"
#include "vec.h"

#include <jansson.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
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

/* --- the fast path ------------------------------------------------------ */

typedef struct {
    uint32_t tag;             //  name length and end bytes, to skip most strcmps
    size_t len;               //  name length
    bool plain;               //  the name had no escape: the text spells it as it is
} s_key_t;

typedef struct {
    char *p;                  //  cursor in the copy
    char *end;                //  end of the copy (a NUL sits there)
    proto_field_t *fields;    //  fields so far, growing
    s_key_t *keys;            //  per field: facts about its name
    size_t n_fields, cap_fields, cap_keys;
    size_t *starts;           //  first field of each record, growing
    size_t n_records, cap_records;
} s_scan_t;

static void s_ws(s_scan_t *sc)
{
    while (*sc->p == ' ' || *sc->p == '\n' || *sc->p == '\r' || *sc->p == '\t')
        sc->p++;
}

//  Four hex digits at p as a code unit, or -1.
static long s_hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

//  Decodes the escape at sc->p (on its backslash) to w, as jansson does.
//  Returns the bytes written, or 0 for what jansson refuses (an unknown
//  escape, a lone surrogate, \u0000), which the full path then reports.
static size_t s_fast_escape(s_scan_t *sc, char *w)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    char c = sc->p[1];
    const char *hit = c ? strchr(from, c) : NULL;
    if (hit) {
        *w = to[hit - from];
        sc->p += 2;
        return 1;
    }
    long u = c == 'u' ? s_hex4(sc->p + 2) : -1;
    if (u <= 0 || (u >= 0xDC00 && u <= 0xDFFF))
        return 0;
    sc->p += 6;
    if (u >= 0xD800 && u <= 0xDBFF) {   //  a high surrogate needs its low half
        long lo = sc->p[0] == '\\' && sc->p[1] == 'u' ? s_hex4(sc->p + 2) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return 0;
        sc->p += 6;
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (u < 0x80) {
        w[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        w[0] = (char)(0xC0 | (u >> 6));
        w[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        w[0] = (char)(0xE0 | (u >> 12));
        w[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        w[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    w[0] = (char)(0xF0 | (u >> 18));
    w[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    w[2] = (char)(0x80 | ((u >> 6) & 0x3F));
    w[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

//  The string at sc->p (on its opening quote), unescaped and cut in place
//  (an escape is never shorter than what it stands for). NULL when jansson
//  would refuse it: a control byte, bad UTF-8, a bad escape.
static const char *s_fast_string(s_scan_t *sc)
{
    char *start = ++sc->p, *w = start;
    for (;;) {
        unsigned char c = (unsigned char)*sc->p;
        if (c == '"')
            break;
        size_t n = 1;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if ((n = s_fast_escape(sc, w)) == 0)
                return NULL;
            w += n;
            continue;
        }
        if (c >= 0x80 && (n = utf8_sequence_len((const unsigned char *)sc->p)) == 0)
            return NULL;
        if (w != sc->p)   //  only after an escape has the text shifted
            memmove(w, sc->p, n);
        w += n;
        sc->p += n;
    }
    *w = '\0';
    sc->p++;
    return start;
}

//  A JSON number at sc->p, as jansson would give it: integers as integers
//  (up to 18 digits), reals converted exactly (at most 15 significant digits
//  and a power of ten within 22, else strtod). False when it is not one.
static bool s_fast_number(s_scan_t *sc, proto_field_t *f)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    char *start = sc->p;
    bool neg = *sc->p == '-';
    sc->p += neg;
    if (*sc->p < '0' || *sc->p > '9' || (*sc->p == '0' && sc->p[1] >= '0' && sc->p[1] <= '9'))
        return false;
    uint64_t m = 0;
    int digits = 0, frac = 0;
    for (; *sc->p >= '0' && *sc->p <= '9'; sc->p++, digits++)
        m = m * 10 + (uint64_t)(*sc->p - '0');
    bool real = false;
    if (*sc->p == '.') {
        real = true;
        sc->p++;
        if (*sc->p < '0' || *sc->p > '9')
            return false;
        for (; *sc->p >= '0' && *sc->p <= '9'; sc->p++, digits++, frac++)
            m = m * 10 + (uint64_t)(*sc->p - '0');
    }
    int exp10 = 0;
    if (*sc->p == 'e' || *sc->p == 'E') {
        real = true;
        sc->p++;
        int sign = *sc->p == '-' ? -1 : 1;
        sc->p += *sc->p == '-' || *sc->p == '+';
        if (*sc->p < '0' || *sc->p > '9')
            return false;
        for (; *sc->p >= '0' && *sc->p <= '9'; sc->p++)
            exp10 = exp10 < 10000 ? exp10 * 10 + (*sc->p - '0') : exp10;
        exp10 *= sign;
    }
    if (!real) {
        if (digits > 18)
            return false;   //  jansson's range check decides
        f->kind = PROTO_VAL_INT;
        f->num = (double)(neg ? -(int64_t)m : (int64_t)m);   //  "-0" is the integer 0
        return true;
    }
    f->kind = PROTO_VAL_FLOAT;
    int e = exp10 - frac;
    if (digits <= 15 && e >= -22 && e <= 22) {   //  exact: both operands exact, one rounding
        double v = e < 0 ? (double)m / pow10[-e] : (double)m * pow10[e];
        f->num = neg ? -v : v;
        return true;
    }
    char saved = *sc->p;   //  strtod reads exactly the number: cut it off to be sure
    *sc->p = '\0';
    errno = 0;
    f->num = strtod(start, NULL);
    *sc->p = saved;
    return errno == 0 && isfinite(f->num);   //  overflow: jansson refuses it, let it say so
}

static bool s_fast_literal(s_scan_t *sc, const char *word, size_t n)
{
    if (strncmp(sc->p, word, n) != 0)
        return false;
    sc->p += n;
    return true;
}

static bool s_fast_value(s_scan_t *sc, proto_field_t *f)
{
    f->str = NULL;
    f->num = 0;
    switch (*sc->p) {
    case '"': f->kind = PROTO_VAL_STR; return (f->str = s_fast_string(sc)) != NULL;
    case 't': f->kind = PROTO_VAL_BOOL; f->num = 1; return s_fast_literal(sc, "true", 4);
    case 'f': f->kind = PROTO_VAL_BOOL; return s_fast_literal(sc, "false", 5);
    case 'n': f->kind = PROTO_VAL_NIL; return s_fast_literal(sc, "null", 4);
    default: return (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9')) && s_fast_number(sc, f);
    }
}

//  Text bytes per field and per record in a typical body (Titanic records
//  take about 19 and 150): the first allocations are sized from the text
//  so that a batch rarely grows them.
enum { S_TEXT_PER_FIELD_GUESS = 16, S_TEXT_PER_RECORD_GUESS = 128 };

//  Room for one more field / record; false when out of memory.
static bool s_fast_grow(s_scan_t *sc)
{
    //  the first reservation is the guess, later ones double
    size_t field_room = sc->cap_fields ? 1 : (size_t)(sc->end - sc->p) / S_TEXT_PER_FIELD_GUESS + 16;
    size_t record_room = sc->cap_records ? 1 : (size_t)(sc->end - sc->p) / S_TEXT_PER_RECORD_GUESS + 8;
    return vec_reserve_(&sc->fields, &sc->cap_fields, sc->n_fields, field_room, sizeof *sc->fields) == 0
        && vec_reserve_(&sc->keys, &sc->cap_keys, sc->n_fields, field_room, sizeof *sc->keys) == 0
        && vec_reserve_(&sc->starts, &sc->cap_records, sc->n_records, record_room, sizeof *sc->starts) == 0;
}

//  The name at sc->p (on its opening quote) into field k. A batch repeats
//  one schema, so when the record before spelled the same name at the same
//  position (prev_k; SIZE_MAX when there is none) field k shares its copy:
//  no unescaping, and the encoder and the worker compare such names by
//  pointer. *shared tells which way it went.
static bool s_fast_name(s_scan_t *sc, size_t k, size_t prev_k, bool *shared)
{
    proto_field_t *f = &sc->fields[k];
    if (prev_k != SIZE_MAX && sc->keys[prev_k].plain) {
        const s_key_t *pk = &sc->keys[prev_k];
        const char *name = sc->fields[prev_k].name;
        if (sc->end - sc->p > (ptrdiff_t)(pk->len + 1) && memcmp(sc->p + 1, name, pk->len) == 0
            && sc->p[pk->len + 1] == '"') {
            f->name = name;
            sc->keys[k] = *pk;
            sc->p += pk->len + 2;
            return *shared = true;
        }
    }
    *shared = false;
    char *start = sc->p + 1;
    if (!(f->name = s_fast_string(sc)))
        return false;
    size_t spelled = (size_t)(sc->p - 1 - start);   //  escapes shrink the name
    size_t len = strnlen(f->name, spelled + 1);
    sc->keys[k] = (s_key_t){
        .tag = (uint32_t)len << 16 | (uint32_t)(unsigned char)f->name[0] << 8
             | (len ? (unsigned char)f->name[len - 1] : 0),
        .len = len,
        .plain = len == spelled,
    };
    return true;
}

static bool s_fast_record(s_scan_t *sc)
{
    if (*sc->p != '{' || !s_fast_grow(sc))
        return false;
    size_t first = sc->n_fields;
    size_t prev_first = sc->n_records ? sc->starts[sc->n_records - 1] : SIZE_MAX;
    sc->starts[sc->n_records++] = first;
    sc->p++;
    s_ws(sc);
    if (*sc->p == '}') {
        sc->p++;
        return true;
    }
    bool same_names = prev_first != SIZE_MAX;   //  every name so far shared with the record before
    for (;;) {
        if (*sc->p != '"' || !s_fast_grow(sc) || sc->n_fields - first >= PROTO_FIELDS_MAX)
            return false;
        proto_field_t *f = &sc->fields[sc->n_fields];
        size_t prev_k = prev_first != SIZE_MAX && prev_first + (sc->n_fields - first) < first
                      ? prev_first + (sc->n_fields - first) : SIZE_MAX;
        bool shared;
        if (!s_fast_name(sc, sc->n_fields, prev_k, &shared))
            return false;
        //  names all shared so far are distinct, as the record before's were
        same_names = same_names && shared;
        uint32_t tag = sc->keys[sc->n_fields].tag;
        for (size_t i = first; !same_names && i < sc->n_fields; i++)
            if (sc->keys[i].tag == tag && strcmp(sc->fields[i].name, f->name) == 0)
                return false;   //  a duplicate: jansson's rule (last wins) applies
        s_ws(sc);
        if (*sc->p++ != ':')
            return false;
        s_ws(sc);
        if (!s_fast_value(sc, f))
            return false;
        sc->n_fields++;
        s_ws(sc);
        if (*sc->p == '}') {
            sc->p++;
            return true;
        }
        if (*sc->p++ != ',')
            return false;
        s_ws(sc);
    }
}

//  {"instances": [record, ...]} with nothing else in it and 1..batch_max records.
static bool s_fast_batch(s_scan_t *sc, size_t batch_max)
{
    static const char key[] = "\"instances\"";
    if (*sc->p++ != '{')
        return false;
    s_ws(sc);
    if (strncmp(sc->p, key, sizeof key - 1) != 0)
        return false;
    sc->p += sizeof key - 1;
    s_ws(sc);
    if (*sc->p++ != ':')
        return false;
    s_ws(sc);
    if (*sc->p++ != '[')
        return false;
    for (;;) {
        s_ws(sc);
        if (!s_fast_record(sc) || sc->n_records > batch_max)
            return false;
        s_ws(sc);
        if (*sc->p == ']')
            break;
        if (*sc->p++ != ',')
            return false;
    }
    sc->p++;
    s_ws(sc);
    return *sc->p++ == '}';
}

//  The fast path. Returns 1 with self filled, 0 when the full path must
//  decide (nothing kept), -1 when out of memory.
static int s_fast(body_t *self, const char *text, size_t len, bool batch, size_t batch_max)
{
    s_scan_t sc = {0};
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    sc.p = copy;
    sc.end = copy + len;
    s_ws(&sc);
    bool ok = batch ? s_fast_batch(&sc, batch_max) : s_fast_record(&sc);
    if (ok) {
        s_ws(&sc);
        ok = sc.p == sc.end;   //  also refuses a NUL byte inside the text
    }
    self->records = ok ? malloc(sc.n_records * sizeof *self->records) : NULL;
    if (!self->records) {
        free(copy);
        free(sc.fields);
        free(sc.keys);
        free(sc.starts);
        return ok ? -1 : 0;
    }
    for (size_t i = 0; i < sc.n_records; i++) {
        size_t next = i + 1 < sc.n_records ? sc.starts[i + 1] : sc.n_fields;
        self->records[i].fields = sc.fields + sc.starts[i];
        self->records[i].n_fields = next - sc.starts[i];
    }
    self->n_records = sc.n_records;
    self->fields = sc.fields;
    self->copy = copy;
    free(sc.keys);
    free(sc.starts);
    return 1;
}

/* --- the full path ------------------------------------------------------ */

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

//  Not a memset of the whole struct: msgs is large and only written on demand.
static void s_reset(body_t *self)
{
    self->doc = NULL;
    self->records = NULL;
    self->n_records = 0;
    self->fields = NULL;
    self->n_problems = 0;
    self->error_pos = 0;
    self->copy = NULL;
}

int body_parse(body_t *self, const char *text, size_t len, bool batch, size_t batch_max,
               mlops_err_t *err)
{
    s_reset(self);
    if (batch_max > PROTO_RECORDS_MAX)
        batch_max = PROTO_RECORDS_MAX;
    int fast = s_fast(self, text, len, batch, batch_max);
    if (fast > 0)
        return 0;
    if (fast < 0)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory for a body of %zu bytes", len);
    return body_parse_full(self, text, len, batch, batch_max, err);
}

int body_parse_full(body_t *self, const char *text, size_t len, bool batch, size_t batch_max,
                    mlops_err_t *err)
{
    s_reset(self);
    int code = 0;
    json_t *doc = s_load(self, text, len, err, &code);
    if (!doc)
        return code;
    self->doc = doc;
    json_t *one = doc, **recs = &one;
    size_t n = 1;
    if (batch) {
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

int body_load(body_t *self, const char *text, size_t len, mlops_err_t *err)
{
    s_reset(self);
    int code = 0;
    self->doc = s_load(self, text, len, err, &code);
    return self->doc ? 0 : code;
}

bool body_number(const void *value, double *out)
{
    const json_t *v = value;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    //  only the rewrite puts NULs in strings: the markers of s_field
    const char *s = json_string_value(v);
    if (!s || json_string_length(v) != 2 || s[0] != '\0'
        || (s[1] != 'N' && s[1] != 'I' && s[1] != '-'))
        return false;
    *out = s[1] == 'N' ? NAN : s[1] == 'I' ? INFINITY : -INFINITY;
    return true;
}

void body_clear(body_t *self)
{
    if (self->doc)
        json_decref((json_t *)self->doc);
    free(self->records);
    free(self->fields);
    free(self->copy);
    s_reset(self);
}
