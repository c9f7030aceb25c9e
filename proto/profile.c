/*  profile.c: see profile.h. Building (one check of a field's shape, shared
    by the public setters and the decoder, with the error code each wants),
    the accumulator, merge and distances, the codec.

    The decoder reads keys by position rather than by search: the encoding
    is canonical (PROFILE.md), so "the i-th key must be this one" is both
    the check and the look-up.
*/
#include "profile.h"
#include "log.h"
#include "mpcheck.h"

#include <assert.h>
#include <math.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROFILE_MSGPACK_DEPTH 4  //  containers: profile > fields > field > counts
#define ARTIFACT_MSGPACK_DEPTH 16 //  an artifact body nests deeper (ml/artifact.c reads to 16)
#define PROFILE_PATH_MAX 64      //  bytes of "profile.fields[1023]"
#define S_XSTR(x) #x
#define S_STR(x) S_XSTR(x)

/* --- building ------------------------------------------------------------- */

//  What a field is made of, before it is copied in: the setters fill it
//  from C strings, the decoder from msgpack (strings not NUL-terminated).
typedef struct {
    const char *name;            //  name_len bytes
    size_t name_len;
    profile_kind_t kind;
    const double *edges;         //  NUMBER
    size_t n_edges;
    const char *const *levels;   //  CATEGORY: level l is level_lens[l] bytes
    const size_t *level_lens;
    size_t n_levels;
} s_spec_t;

profile_t *profile_new(size_t n_fields)
{
    if (n_fields > PROFILE_FIELDS_MAX)
        return NULL;
    profile_t *self = calloc(1, sizeof *self);
    if (self && n_fields && !(self->fields = calloc(n_fields, sizeof *self->fields)))
        free(self), self = NULL;
    if (self)
        self->n_fields = n_fields;
    return self;
}

static void s_field_free(profile_field_t *f)
{
    for (size_t l = 0; f->levels && l < f->n_levels; l++)
        free(f->levels[l]);
    free(f->levels);
    free(f->edges);
    free(f->counts);
    free(f->name);
}

void profile_destroy(profile_t **p)
{
    if (!p || !*p)
        return;
    for (size_t k = (*p)->n_fields; k-- > 0;)
        s_field_free(&(*p)->fields[k]);
    free((*p)->fields);
    free(*p);
    *p = NULL;
}

//  What is wrong with a name or level of len bytes, or NULL.
static const char *s_text_problem(const char *s, size_t len)
{
    if (len == 0)
        return "is empty";
    if (len > PROFILE_TEXT_MAX)
        return "is longer than " S_STR(PROFILE_TEXT_MAX) " bytes";
    if (memchr(s, 0, len))
        return "holds a NUL byte";
    return NULL;
}

//  Checks a field's spec as field k of self (its name against the other
//  fields shaped so far); refusals use code and start with path.
static int s_check_spec(const profile_t *self, size_t k, const s_spec_t *sp, int code,
                        const char *path, mlops_err_t *err)
{
    const char *why = s_text_problem(sp->name, sp->name_len);
    if (why)
        return mlops_err_set(err, code, "%s.name: %s", path, why);
    for (size_t j = 0; j < self->n_fields; j++) {
        const char *other = self->fields[j].name;
        if (j != k && other && strlen(other) == sp->name_len
            && memcmp(other, sp->name, sp->name_len) == 0)
            return mlops_err_set(err, code, "%s.name: repeats fields[%zu]", path, j);
    }
    if (sp->n_edges > PROFILE_EDGES_MAX || sp->n_levels > PROFILE_LEVELS_MAX)
        return mlops_err_set(err, code, "%s: over %d edges or %d levels", path,
                             PROFILE_EDGES_MAX, PROFILE_LEVELS_MAX);
    for (size_t e = 0; e < sp->n_edges; e++) {
        if (!isfinite(sp->edges[e]) || (e > 0 && !(sp->edges[e] > sp->edges[e - 1])))
            return mlops_err_set(err, code, "%s.edges[%zu]: %g is not finite and above the edge before",
                                 path, e, sp->edges[e]);
    }
    for (size_t l = 0; l < sp->n_levels; l++) {
        if ((why = s_text_problem(sp->levels[l], sp->level_lens[l])))
            return mlops_err_set(err, code, "%s.levels[%zu]: %s", path, l, why);
        for (size_t m = 0; m < l; m++)
            if (sp->level_lens[m] == sp->level_lens[l]
                && memcmp(sp->levels[m], sp->levels[l], sp->level_lens[l]) == 0)
                return mlops_err_set(err, code, "%s.levels[%zu]: repeats levels[%zu]", path, l, m);
    }
    return 0;
}

//  Copies a checked spec into field f. Returns 0 or MLOPS_ENOMEM (what was
//  copied stays in f, for profile_destroy).
static int s_fill(profile_field_t *f, const s_spec_t *sp)
{
    f->kind = sp->kind;
    f->n_counts = (sp->kind == PROFILE_NUMBER ? sp->n_edges : sp->n_levels) + 1;
    if (!(f->name = strndup(sp->name, sp->name_len))
        || !(f->counts = calloc(f->n_counts, sizeof *f->counts)))
        return MLOPS_ENOMEM;
    if (sp->n_edges) {
        if (!(f->edges = malloc(sp->n_edges * sizeof *f->edges)))
            return MLOPS_ENOMEM;
        memcpy(f->edges, sp->edges, sp->n_edges * sizeof *f->edges);
        f->n_edges = sp->n_edges;
    }
    if (sp->n_levels && !(f->levels = calloc(sp->n_levels, sizeof *f->levels)))
        return MLOPS_ENOMEM;
    for (; f->n_levels < sp->n_levels; f->n_levels++)
        if (!(f->levels[f->n_levels] = strndup(sp->levels[f->n_levels],
                                               sp->level_lens[f->n_levels])))
            return MLOPS_ENOMEM;
    return 0;
}

//  Checks and copies sp into field k.
static int s_shape(profile_t *self, size_t k, const s_spec_t *sp, int code, const char *path,
                   mlops_err_t *err)
{
    assert(self && k < self->n_fields && !self->fields[k].name);
    int rc = s_check_spec(self, k, sp, code, path, err);
    if (rc == 0 && (rc = s_fill(&self->fields[k], sp)) != 0)
        mlops_err_set(err, rc, "%s: out of memory", path);
    return rc;
}

int profile_set_number(profile_t *self, size_t k, const char *name, const double *edges,
                       size_t n_edges, mlops_err_t *err)
{
    char path[PROFILE_PATH_MAX];
    snprintf(path, sizeof path, "fields[%zu]", k);
    s_spec_t sp = {name, strlen(name), PROFILE_NUMBER, edges, n_edges, NULL, NULL, 0};
    return s_shape(self, k, &sp, MLOPS_EINVAL, path, err);
}

int profile_set_category(profile_t *self, size_t k, const char *name,
                         const char *const *levels, size_t n_levels, mlops_err_t *err)
{
    char path[PROFILE_PATH_MAX];
    snprintf(path, sizeof path, "fields[%zu]", k);
    size_t lens[PROFILE_LEVELS_MAX];
    for (size_t l = 0; l < n_levels && l < PROFILE_LEVELS_MAX; l++)
        lens[l] = strlen(levels[l]);
    s_spec_t sp = {name, strlen(name), PROFILE_CATEGORY, NULL, 0, levels, lens, n_levels};
    return s_shape(self, k, &sp, MLOPS_EINVAL, path, err);
}

profile_t *profile_new_like(const profile_t *self)
{
    assert(self);
    profile_t *p = profile_new(self->n_fields);
    for (size_t k = 0; p && k < self->n_fields; k++) {
        const profile_field_t *f = &self->fields[k];
        size_t lens[PROFILE_LEVELS_MAX];
        for (size_t l = 0; l < f->n_levels; l++)
            lens[l] = strlen(f->levels[l]);
        s_spec_t sp = {f->name, strlen(f->name), f->kind, f->edges, f->n_edges,
                       (const char *const *)f->levels, lens, f->n_levels};
        if (s_fill(&p->fields[k], &sp) != 0)
            profile_destroy(&p);
    }
    return p;
}

void profile_reset(profile_t *self)
{
    assert(self);
    for (size_t k = 0; k < self->n_fields; k++) {
        profile_field_t *f = &self->fields[k];
        memset(f->counts, 0, f->n_counts * sizeof *f->counts);
        f->missing = 0;
    }
    self->rows = 0;
}

/* --- the accumulator -------------------------------------------------------- */

size_t profile_bin(const profile_field_t *f, double x)
{
    size_t lo = 0, hi = f->n_edges;   //  the first edge >= x is in [lo, hi]
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->edges[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static profile_field_t *s_field(profile_t *self, size_t k, profile_kind_t kind)
{
    assert(self && k < self->n_fields && self->fields[k].kind == kind);
    return &self->fields[k];
}

void profile_add_number(profile_t *self, size_t k, double x)
{
    profile_field_t *f = s_field(self, k, PROFILE_NUMBER);
    if (isnan(x))
        f->missing++;
    else
        f->counts[profile_bin(f, x)]++;
}

void profile_add_level(profile_t *self, size_t k, int32_t level)
{
    profile_field_t *f = s_field(self, k, PROFILE_CATEGORY);
    f->counts[level >= 0 && (size_t)level < f->n_levels ? (size_t)level : f->n_levels]++;
}

void profile_add_string(profile_t *self, size_t k, const char *s)
{
    profile_field_t *f = s_field(self, k, PROFILE_CATEGORY);
    if (!s) {
        f->missing++;
        return;
    }
    size_t l = 0;
    while (l < f->n_levels && strcmp(f->levels[l], s) != 0)
        l++;
    f->counts[l]++;   //  l == n_levels: unseen
}

void profile_add_missing(profile_t *self, size_t k)
{
    assert(self && k < self->n_fields);
    self->fields[k].missing++;
}

void profile_end_row(profile_t *self)
{
    assert(self);
    self->rows++;
}

/* --- merging and distances ---------------------------------------------------- */

const char *profile_field_differs(const profile_field_t *a, const profile_field_t *b)
{
    if (strcmp(a->name, b->name) != 0)
        return "another name";
    if (a->kind != b->kind)
        return "another kind";
    if (a->n_edges != b->n_edges
        || (a->n_edges && memcmp(a->edges, b->edges, a->n_edges * sizeof *a->edges) != 0))
        return "other edges";
    if (a->n_levels != b->n_levels)
        return "other levels";
    for (size_t l = 0; l < a->n_levels; l++)
        if (strcmp(a->levels[l], b->levels[l]) != 0)
            return "other levels";
    return NULL;
}

int profile_check_shape(const profile_t *ref, const profile_t *p, mlops_err_t *err)
{
    assert(ref && p);
    if (ref->n_fields != p->n_fields)
        return mlops_err_set(err, MLOPS_EPROTO, "profile: %zu fields, the reference has %zu",
                             p->n_fields, ref->n_fields);
    for (size_t k = 0; k < ref->n_fields; k++) {
        const char *why = profile_field_differs(&ref->fields[k], &p->fields[k]);
        if (why) {
            char shown[48];
            log_sanitize(ref->fields[k].name, strlen(ref->fields[k].name), shown, sizeof shown);
            return mlops_err_set(err, MLOPS_EPROTO, "profile: fields[%zu] has %s than the reference's %s",
                                 k, why, shown);
        }
    }
    return 0;
}

//  True when a + b wraps.
static bool s_wraps(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b;
}

int profile_merge(profile_t *into, const profile_t *from, mlops_err_t *err)
{
    int rc = profile_check_shape(into, from, err);
    if (rc)
        return rc;
    bool wraps = s_wraps(into->rows, from->rows);
    for (size_t k = 0; k < into->n_fields && !wraps; k++) {
        const profile_field_t *a = &into->fields[k], *b = &from->fields[k];
        wraps = s_wraps(a->missing, b->missing);
        for (size_t i = 0; i < a->n_counts && !wraps; i++)
            wraps = s_wraps(a->counts[i], b->counts[i]);
    }
    if (wraps)
        return mlops_err_set(err, MLOPS_ETOOBIG, "profile: a count would pass 2^64");
    for (size_t k = 0; k < into->n_fields; k++) {
        profile_field_t *a = &into->fields[k];
        for (size_t i = 0; i < a->n_counts; i++)
            a->counts[i] += from->fields[k].counts[i];
        a->missing += from->fields[k].missing;
    }
    into->rows += from->rows;
    return 0;
}

//  Count i of a field over its bins then missing (i == n_counts).
static uint64_t s_count(const profile_field_t *f, size_t i)
{
    return i < f->n_counts ? f->counts[i] : f->missing;
}

static double s_total(const profile_field_t *f)
{
    double t = (double)f->missing;
    for (size_t i = 0; i < f->n_counts; i++)
        t += (double)f->counts[i];
    return t;
}

double profile_js(const profile_field_t *ref, const profile_field_t *live)
{
    assert(ref && live && ref->n_counts == live->n_counts);
    double nr = s_total(ref), nl = s_total(live), d = 0;
    if (nr == 0 || nl == 0)
        return 0;
    for (size_t i = 0; i <= ref->n_counts; i++) {
        double p = (double)s_count(ref, i) / nr, q = (double)s_count(live, i) / nl;
        double m = (p + q) / 2;
        if (p > 0)
            d += p * log2(p / m);
        if (q > 0)
            d += q * log2(q / m);
    }
    d /= 2;
    //  rounding can leave d a hair outside [0, 1]
    return d <= 0 ? 0 : d >= 1 ? 1 : sqrt(d);
}

double profile_psi(const profile_field_t *ref, const profile_field_t *live)
{
    assert(ref && live && ref->n_counts == live->n_counts);
    double nr = s_total(ref), nl = s_total(live), psi = 0;
    if (nr == 0 || nl == 0)
        return 0;
    for (size_t i = 0; i <= ref->n_counts; i++) {
        uint64_t a = s_count(ref, i), b = s_count(live, i);
        double p = a ? (double)a / nr : PROFILE_PSI_EPSILON;
        double q = b ? (double)b / nl : PROFILE_PSI_EPSILON;
        psi += (q - p) * log(q / p);
    }
    return psi;
}

/* --- encoding --------------------------------------------------------------- */

static int s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

//  True when a field's counts and missing add up to rows.
static bool s_adds_up(const profile_field_t *f, uint64_t rows)
{
    uint64_t sum = f->missing;
    for (size_t i = 0; i < f->n_counts; i++) {
        if (s_wraps(sum, f->counts[i]))
            return false;
        sum += f->counts[i];
    }
    return sum == rows;
}

static int s_pack_field(msgpack_packer *pk, const profile_field_t *f)
{
    bool num = f->kind == PROFILE_NUMBER;
    int rc = msgpack_pack_map(pk, 5) || s_pack_str(pk, "name") || s_pack_str(pk, f->name)
          || s_pack_str(pk, "kind") || s_pack_str(pk, num ? "number" : "category")
          || s_pack_str(pk, num ? "edges" : "levels")
          || msgpack_pack_array(pk, num ? f->n_edges : f->n_levels);
    for (size_t e = 0; num && e < f->n_edges && !rc; e++)
        rc = msgpack_pack_double(pk, f->edges[e]);
    for (size_t l = 0; !num && l < f->n_levels && !rc; l++)
        rc = s_pack_str(pk, f->levels[l]);
    rc = rc || s_pack_str(pk, "counts") || msgpack_pack_array(pk, f->n_counts);
    for (size_t i = 0; i < f->n_counts && !rc; i++)
        rc = msgpack_pack_uint64(pk, f->counts[i]);
    return rc || s_pack_str(pk, "missing") || msgpack_pack_uint64(pk, f->missing);
}

int profile_encode(const profile_t *self, uint8_t **out, size_t *out_len)
{
    assert(self && out && out_len);
    for (size_t k = 0; k < self->n_fields; k++) {
        assert(self->fields[k].name);   //  every field shaped
        if (!s_adds_up(&self->fields[k], self->rows))
            return MLOPS_EINVAL;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);
    int rc = msgpack_pack_map(&pk, 3) || s_pack_str(&pk, "version")
          || msgpack_pack_uint32(&pk, PROFILE_VERSION) || s_pack_str(&pk, "rows")
          || msgpack_pack_uint64(&pk, self->rows) || s_pack_str(&pk, "fields")
          || msgpack_pack_array(&pk, self->n_fields);
    for (size_t k = 0; k < self->n_fields && !rc; k++)
        rc = s_pack_field(&pk, &self->fields[k]);
    rc = rc ? MLOPS_ENOMEM : sbuf.size > PROFILE_ENCODED_MAX ? MLOPS_ETOOBIG : 0;
    if (rc) {
        msgpack_sbuffer_destroy(&sbuf);
        return rc;
    }
    *out_len = sbuf.size;
    *out = (uint8_t *)msgpack_sbuffer_release(&sbuf);
    return 0;
}

/* --- decoding --------------------------------------------------------------- */

//  The value of the i-th key of map m, after checking that the key is key
//  (the canonical order); NULL with err set otherwise.
static const msgpack_object *s_key(const msgpack_object *m, uint32_t i, const char *key,
                                   const char *path, mlops_err_t *err)
{
    const msgpack_object *k = &m->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key)
        && memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
        return &m->via.map.ptr[i].val;
    char shown[48] = "(not a string)";
    if (k->type == MSGPACK_OBJECT_STR)
        log_sanitize(k->via.str.ptr, k->via.str.size, shown, sizeof shown);
    mlops_err_set(err, MLOPS_EPROTO, "%s: key %u is \"%s\", expected \"%s\"", path, i, shown, key);
    return NULL;
}

//  Checks that o is a map of exactly n keys.
static int s_map(const msgpack_object *o, uint32_t n, const char *path, mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: expected a map", path);
    if (o->via.map.size != n)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: %u keys, expected %u", path,
                             o->via.map.size, n);
    return 0;
}

//  Reads an unsigned integer.
static int s_uint(const msgpack_object *o, uint64_t *v, const char *path, mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: expected an unsigned integer", path);
    *v = o->via.u64;
    return 0;
}

//  Checks that o is an array of at most max entries (ETOOBIG beyond).
static int s_array(const msgpack_object *o, size_t max, const char *path, mlops_err_t *err)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: expected an array", path);
    if (o->via.array.size > max)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%s: %u entries, limit %zu", path,
                             o->via.array.size, max);
    return 0;
}

//  Reads edges (floats) or levels (strings) into the spec, pointing into o.
static int s_dec_values(const msgpack_object *o, s_spec_t *sp, double *edges, const char **levels,
                        size_t *lens, const char *path, mlops_err_t *err)
{
    bool num = sp->kind == PROFILE_NUMBER;
    int rc = s_array(o, num ? PROFILE_EDGES_MAX : PROFILE_LEVELS_MAX, path, err);
    for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i++) {
        const msgpack_object *v = &o->via.array.ptr[i];
        if (num && v->type != MSGPACK_OBJECT_FLOAT32 && v->type != MSGPACK_OBJECT_FLOAT64)
            return mlops_err_set(err, MLOPS_EPROTO, "%s[%u]: expected a float", path, i);
        if (!num && v->type != MSGPACK_OBJECT_STR)
            return mlops_err_set(err, MLOPS_EPROTO, "%s[%u]: expected a string", path, i);
        if (num)
            edges[i] = v->via.f64;
        else
            levels[i] = v->via.str.ptr, lens[i] = v->via.str.size;
    }
    if (rc == 0 && num)
        sp->edges = edges, sp->n_edges = o->via.array.size;
    else if (rc == 0)
        sp->levels = levels, sp->level_lens = lens, sp->n_levels = o->via.array.size;
    return rc;
}

//  Reads a field's counts and missing into the shaped field f; they must
//  add up to rows.
static int s_dec_counts(const msgpack_object *m, profile_field_t *f, uint64_t rows,
                        const char *path, mlops_err_t *err)
{
    char sub[PROFILE_PATH_MAX + 16];
    snprintf(sub, sizeof sub, "%s.counts", path);
    const msgpack_object *c = s_key(m, 3, "counts", path, err);
    if (!c)
        return MLOPS_EPROTO;
    if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != f->n_counts)
        return mlops_err_set(err, MLOPS_EPROTO, "%s: expected an array of %zu counts", sub,
                             f->n_counts);
    for (size_t i = 0; i < f->n_counts; i++)
        if (s_uint(&c->via.array.ptr[i], &f->counts[i], sub, err))
            return MLOPS_EPROTO;
    snprintf(sub, sizeof sub, "%s.missing", path);
    const msgpack_object *ms = s_key(m, 4, "missing", path, err);
    if (!ms || s_uint(ms, &f->missing, sub, err))
        return MLOPS_EPROTO;
    if (!s_adds_up(f, rows))
        return mlops_err_set(err, MLOPS_EPROTO, "%s: counts and missing do not add up to rows (%llu)",
                             path, (unsigned long long)rows);
    return 0;
}

//  Reads a field's name and kind (keys 0 and 1) into the spec.
static int s_dec_head(const msgpack_object *m, s_spec_t *sp, const char *path, mlops_err_t *err)
{
    const msgpack_object *name = s_key(m, 0, "name", path, err), *kind;
    if (!name)
        return MLOPS_EPROTO;
    if (name->type != MSGPACK_OBJECT_STR)
        return mlops_err_set(err, MLOPS_EPROTO, "%s.name: expected a string", path);
    if (!(kind = s_key(m, 1, "kind", path, err)))
        return MLOPS_EPROTO;
    bool is_str = kind->type == MSGPACK_OBJECT_STR;
    size_t n = is_str ? kind->via.str.size : 0;
    if (is_str && n == 6 && memcmp(kind->via.str.ptr, "number", 6) == 0)
        sp->kind = PROFILE_NUMBER;
    else if (is_str && n == 8 && memcmp(kind->via.str.ptr, "category", 8) == 0)
        sp->kind = PROFILE_CATEGORY;
    else
        return mlops_err_set(err, MLOPS_EPROTO, "%s.kind: expected \"number\" or \"category\"",
                             path);
    sp->name = name->via.str.ptr;
    sp->name_len = name->via.str.size;
    return 0;
}

//  Decodes field k of self from map m.
static int s_dec_field(const msgpack_object *m, profile_t *self, size_t k, mlops_err_t *err)
{
    char path[PROFILE_PATH_MAX], sub[PROFILE_PATH_MAX + 16];
    snprintf(path, sizeof path, "profile.fields[%zu]", k);
    s_spec_t sp = {0};
    int rc = s_map(m, 5, path, err);
    if (rc || (rc = s_dec_head(m, &sp, path, err)) != 0)
        return rc;
    bool num = sp.kind == PROFILE_NUMBER;
    double edges[PROFILE_EDGES_MAX];
    const char *levels[PROFILE_LEVELS_MAX];
    size_t lens[PROFILE_LEVELS_MAX];
    snprintf(sub, sizeof sub, "%s.%s", path, num ? "edges" : "levels");
    const msgpack_object *vals = s_key(m, 2, num ? "edges" : "levels", path, err);
    if (!vals)
        return MLOPS_EPROTO;
    if ((rc = s_dec_values(vals, &sp, edges, levels, lens, sub, err)) != 0
        || (rc = s_shape(self, k, &sp, MLOPS_EPROTO, path, err)) != 0)
        return rc;
    return s_dec_counts(m, &self->fields[k], self->rows, path, err);
}

//  Decodes the root map into a new profile in *out.
static int s_dec_root(const msgpack_object *root, profile_t **out, mlops_err_t *err)
{
    int rc = s_map(root, 3, "profile", err);
    const msgpack_object *v = NULL, *rows = NULL, *fields = NULL;
    uint64_t version = 0, n_rows = 0;
    if (rc || !(v = s_key(root, 0, "version", "profile", err))
        || s_uint(v, &version, "profile.version", err))
        return MLOPS_EPROTO;
    if (version != PROFILE_VERSION)
        return mlops_err_set(err, MLOPS_EVERSION, "profile.version: %llu, expected %d",
                             (unsigned long long)version, PROFILE_VERSION);
    if (!(rows = s_key(root, 1, "rows", "profile", err)) || s_uint(rows, &n_rows, "profile.rows", err)
        || !(fields = s_key(root, 2, "fields", "profile", err)))
        return MLOPS_EPROTO;
    if ((rc = s_array(fields, PROFILE_FIELDS_MAX, "profile.fields", err)) != 0)
        return rc;
    profile_t *self = profile_new(fields->via.array.size);
    if (!self)
        return mlops_err_set(err, MLOPS_ENOMEM, "profile: out of memory");
    self->rows = n_rows;
    for (size_t k = 0; rc == 0 && k < self->n_fields; k++)
        rc = s_dec_field(&fields->via.array.ptr[k], self, k, err);
    if (rc)
        profile_destroy(&self);
    *out = self;
    return rc;
}

profile_t *profile_decode(const uint8_t *data, size_t len, mlops_err_t *err)
{
    assert(data || len == 0);
    mlops_err_clear(err);
    size_t used = 0;
    if (len > PROFILE_ENCODED_MAX) {
        mlops_err_set(err, MLOPS_ETOOBIG, "profile: %zu bytes, limit %u", len, PROFILE_ENCODED_MAX);
        return NULL;
    }
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (mpcheck_object(data, len, PROFILE_MSGPACK_DEPTH, &used, &sub) != 0) {
        mlops_err_set(err, MLOPS_EPROTO, "profile: %.400s", mlops_err_text(&sub, MLOPS_EPROTO));
        return NULL;
    }
    if (used != len) {
        mlops_err_set(err, MLOPS_EPROTO, "profile: %zu trailing bytes after byte %zu", len - used, used);
        return NULL;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    profile_t *self = NULL;
    int ret = msgpack_unpack_next(&up, (const char *)data, len, &off);
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR)
        mlops_err_set(err, MLOPS_ENOMEM, "profile: out of memory");
    else if (ret != MSGPACK_UNPACK_SUCCESS)
        mlops_err_set(err, MLOPS_EPROTO, "profile: not valid msgpack (%zu bytes)", len);
    else
        s_dec_root(&up.data, &self, err);
    msgpack_unpacked_destroy(&up);
    return self;
}

/* --- the reference profile inside an artifact --------------------------- */

//  The value under key in a msgpack map, or NULL.
static const msgpack_object *s_map_get(const msgpack_object *map, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; map->type == MSGPACK_OBJECT_MAP && i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == n
            && memcmp(kv->key.via.str.ptr, key, n) == 0)
            return &kv->val;
    }
    return NULL;
}

//  Unpacks one whole object of data (pre-checked, so msgpack-c allocates
//  only for what is there). 0, or MLOPS_EPROTO / MLOPS_ENOMEM with err.
static int s_unpack_whole(const uint8_t *data, size_t len, msgpack_unpacked *up, const char *what,
                          mlops_err_t *err)
{
    size_t used = 0, off = 0;
    if (mpcheck_object(data, len, ARTIFACT_MSGPACK_DEPTH, &used, NULL) != 0 || used != len)
        return mlops_err_set(err, MLOPS_EPROTO, "artifact: the %s is not one msgpack object", what);
    msgpack_unpacked_init(up);
    int ret = msgpack_unpack_next(up, (const char *)data, len, &off);
    if (ret == MSGPACK_UNPACK_SUCCESS)
        return 0;
    msgpack_unpacked_destroy(up);
    return ret == MSGPACK_UNPACK_NOMEM_ERROR ? mlops_err_set(err, MLOPS_ENOMEM, "artifact: out of memory")
                                             : mlops_err_set(err, MLOPS_EPROTO, "artifact: not msgpack");
}

profile_t *profile_from_artifact(const uint8_t *blob, size_t len, mlops_err_t *err)
{
    mlops_err_clear(err);
    msgpack_unpacked env, body;
    if (s_unpack_whole(blob, len, &env, "envelope", err) != 0)
        return NULL;
    const msgpack_object *o = &env.data;
    profile_t *self = NULL;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 4
        || o->via.array.ptr[3].type != MSGPACK_OBJECT_BIN) {
        mlops_err_set(err, MLOPS_EPROTO, "artifact: not [magic, format, sha256, body]");
    } else if (s_unpack_whole((const uint8_t *)o->via.array.ptr[3].via.bin.ptr,
                              o->via.array.ptr[3].via.bin.size, &body, "body", err) == 0) {
        const msgpack_object *p = s_map_get(&body.data, "profile");
        if (!p)
            mlops_err_set(err, MLOPS_ENOTFOUND, "artifact: no reference profile (made before profiles)");
        else if (p->type != MSGPACK_OBJECT_BIN)
            mlops_err_set(err, MLOPS_EPROTO, "artifact: 'profile' is not a bin");
        else
            self = profile_decode((const uint8_t *)p->via.bin.ptr, p->via.bin.size, err);
        msgpack_unpacked_destroy(&body);
    }
    msgpack_unpacked_destroy(&env);
    return self;
}
