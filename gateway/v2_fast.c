/*  v2_fast.c: the one-pass reader of V2 infer bodies (see v2_internal.h).
    jansson builds a document of one allocation per value, which was most of
    the gateway's time on a V2 request; this reads the shape clients send
    (tritonclient, the KServe SDK, curl) straight into tensors. It decides
    nothing: anything it does not read exactly as jansson would, it leaves
    to jansson (the fuzz target checks both paths agree).
*/
#include "v2_internal.h"

#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *p;       //  cursor
    char *end;     //  end of the text (a NUL sits there)
    bool oom;      //  an allocation failed
    v2_tensors_t *ts;  //  where values go
} s_scan_t;

static void s_ws(s_scan_t *sc)
{
    char *p = sc->p;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
        p++;
    sc->p = p;
}

//  c, with any whitespace around it read. (Most tokens have none on one
//  side: one compare tells, where the loop cost a sixth of the scan.)
static inline bool s_char(s_scan_t *sc, char c)
{
    if (*sc->p != c) {
        s_ws(sc);
        if (*sc->p != c)
            return false;
    }
    sc->p++;
    if ((unsigned char)*sc->p <= ' ')
        s_ws(sc);
    return true;
}

//  Whether the text at sc->p starts with lit (n bytes), then stepped over.
//  The text has V2_SCAN_PAD readable bytes after it, so the compare may run
//  past its end: with n a constant it is a few loads, not a call. A key is
//  compared as written, quotes and all: one with an escape in it is none of
//  ours (and a \u one is left to jansson).
static inline bool s_at(s_scan_t *sc, const char *lit, size_t n)
{
    if (memcmp(sc->p, lit, n) != 0)
        return false;
    sc->p += n;
    return true;
}

#define S_AT(sc, lit) s_at((sc), (lit), sizeof(lit) - 1)

//  A string at sc->p, unescaped and cut in place (it ends with a NUL where
//  the text had its closing quote or before); NULL for a \u escape (the
//  NUL and surrogate rules are jansson's), a control byte, bad UTF-8 or
//  the end of the text. Runs of plain ASCII are skipped in one loop and
//  moved only when an escape before them shortened the string: a byte at
//  a time through memmove was a third of a one-row request's parse.
static const char *s_string(s_scan_t *sc)
{
    //  printable ASCII but the quote (0x22) and the backslash (0x5c)
    static const bool plain[256] = {[0x20 ... 0x21] = true, [0x23 ... 0x5b] = true,
                                    [0x5d ... 0x7e] = true};
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (*sc->p != '"')
        return NULL;
    char *start = ++sc->p, *w = start;
    for (;;) {
        char *run = sc->p;
        while (plain[(unsigned char)*sc->p])
            sc->p++;
        if (w != run)
            memmove(w, run, (size_t)(sc->p - run));
        w += sc->p - run;
        unsigned char c = (unsigned char)*sc->p;
        if (c == '"')
            break;
        if (c == '\\') {
            const char *hit = sc->p[1] ? strchr(from, sc->p[1]) : NULL;
            if (!hit)
                return NULL;
            *w++ = to[hit - from];
            sc->p += 2;
            continue;
        }
        size_t n = c < 0x80 ? 1 : utf8_sequence_len((const unsigned char *)sc->p);
        if (c < 0x20 || n == 0 || sc->end - sc->p < (ptrdiff_t)n)
            return NULL;
        memmove(w, sc->p, n);
        w += n;
        sc->p += n;
    }
    sc->p++;
    *w = '\0';
    return start;
}

//  The decimal text..end ("-7.25") when it has no exponent and at most 15
//  digits: their integer (exact in a double) over a power of ten (exact up
//  to 10^22), one rounding, the correctly rounded value strtod gives at a
//  tenth of its cost. false for any other form (strtod reads it).
static bool s_decimal(const char *text, const char *end, double *out)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
                                   1e11, 1e12, 1e13, 1e14, 1e15};
    bool neg = *text == '-';
    uint64_t m = 0;
    int digits = 0, places = -1;
    for (const char *c = text + neg; c < end; c++) {
        if (*c == '.' && places < 0) {
            places = 0;
            continue;
        }
        if (*c < '0' || *c > '9' || ++digits > 15)
            return false;
        m = m * 10 + (uint64_t)(*c - '0');
        places += places >= 0;
    }
    double v = (double)m / pow10[places > 0 ? places : 0];
    *out = neg ? -v : v;
    return true;
}

//  A JSON number: INT when it has no fraction or exponent (and fits
//  jansson's integer), else FLOAT.
static bool s_number(s_scan_t *sc, v2_leaf_t *leaf)
{
    char *q = sc->p;
    if (*q == '-')
        q++;
    if (*q == '0')
        q++;
    else if (*q >= '1' && *q <= '9')
        while (*q >= '0' && *q <= '9')
            q++;
    else
        return false;
    bool real = *q == '.' || *q == 'e' || *q == 'E';
    char *end;
    errno = 0;
    if (!real && q - sc->p <= 18) { //  no overflow: strtoll's value without its cost
        long long v = 0;
        for (const char *d = sc->p + (*sc->p == '-'); d < q; d++)
            v = v * 10 + (*d - '0');
        leaf->kind = PROTO_VAL_INT, leaf->num = (double)(*sc->p == '-' ? -v : v);
        end = q;
        if (*q >= '0' && *q <= '9')
            return false;   //  a leading zero: not JSON
    } else if (!real) {
        long long v = strtoll(sc->p, &end, 10);
        leaf->kind = PROTO_VAL_INT, leaf->num = (double)v;
        if (end != q)
            return false;   //  a leading zero: not JSON
    } else {
        //  strtod takes forms JSON does not ("1.", ".5e"): the grammar decides
        char *g = q;
        if (*g == '.' && !(*++g >= '0' && *g <= '9'))
            return false;
        while (*g >= '0' && *g <= '9')
            g++;
        if (*g == 'e' || *g == 'E') {
            g += g[1] == '+' || g[1] == '-' ? 2 : 1;
            if (!(*g >= '0' && *g <= '9'))
                return false;
            while (*g >= '0' && *g <= '9')
                g++;
        }
        leaf->kind = PROTO_VAL_FLOAT;
        end = g;
        if (!s_decimal(sc->p, g, &leaf->num) && (leaf->num = strtod(sc->p, &end), g != end))
            return false;
    }
    if (errno == ERANGE || end == sc->p)
        return false;   //  out of range: jansson says so in its own words
    sc->p = end;
    return true;
}

static bool s_leaf(s_scan_t *sc, v2_leaf_t *leaf)
{
    leaf->str = NULL;
    leaf->num = 0;
    if (*sc->p == '"') {
        leaf->kind = PROTO_VAL_STR;
        return (leaf->str = s_string(sc)) != NULL;
    }
    if (strncmp(sc->p, "true", 4) == 0 || strncmp(sc->p, "false", 5) == 0) {
        leaf->kind = PROTO_VAL_BOOL;
        leaf->num = *sc->p == 't';
        sc->p += *sc->p == 't' ? 4 : 5;
        return true;
    }
    return s_number(sc, leaf);
}

//  data: a list of values or of lists, flattened onto the leaves.
static bool s_data(s_scan_t *sc, int depth)
{
    if (depth >= V2_NEST_MAX || !s_char(sc, '['))
        return false;
    if (s_char(sc, ']'))
        return true;
    do {
        if (*sc->p == '[') {
            if (!s_data(sc, depth + 1))
                return false;
            continue;
        }
        v2_leaf_t leaf;
        if (!s_leaf(sc, &leaf))
            return false;
        if (vec_push(&sc->ts->leaves, leaf) != 0)
            return !(sc->oom = true);
    } while (s_char(sc, ','));
    return s_char(sc, ']');
}

static bool s_shape(s_scan_t *sc, v2_tensor_t *t)
{
    if (!s_char(sc, '['))
        return false;
    t->is_list = true;
    t->dims_int = true;
    if (s_char(sc, ']'))
        return true;
    do {
        v2_leaf_t d;
        const char *start = sc->p;
        if (!s_number(sc, &d) || d.kind != PROTO_VAL_INT)
            return false;
        if (t->n_dims < 2)   //  past 15 digits read again: a double would round it
            t->dims[t->n_dims] = sc->p - start <= 15 ? (long long)d.num : strtoll(start, NULL, 10);
        t->n_dims++;
    } while (s_char(sc, ','));
    return s_char(sc, ']');
}

//  One tensor object: exactly name, datatype, shape and data.
static bool s_tensor(s_scan_t *sc, v2_tensor_t *t)
{
    unsigned seen = 0;
    t->first = sc->ts->leaves.len;
    if (!s_char(sc, '{'))
        return false;
    do {
        unsigned bit = S_AT(sc, "\"name\"") ? 1 : S_AT(sc, "\"datatype\"") ? 2
                     : S_AT(sc, "\"shape\"") ? 4 : S_AT(sc, "\"data\"") ? 8 : 0;
        if (!bit || (seen & bit) || !s_char(sc, ':'))
            return false;   //  another key (parameters), or one twice
        seen |= bit;
        bool ok = bit == 1 ? (t->name = s_string(sc)) != NULL
                : bit == 2 ? (t->datatype = s_string(sc)) != NULL
                : bit == 4 ? s_shape(sc, t) : s_data(sc, 0);
        if (!ok)
            return false;
    } while (s_char(sc, ','));
    t->n_values = sc->ts->leaves.len - t->first;
    return seen == 15 && s_char(sc, '}');
}

static bool s_inputs(s_scan_t *sc, v2_tensors_t *ts)
{
    if (!s_char(sc, '[') || *sc->p == ']')
        return false;   //  no tensor: jansson's message
    do {
        if (vec_push(ts, (v2_tensor_t){0}) != 0)
            return !(sc->oom = true);
        if (!s_tensor(sc, &ts->at[ts->len - 1]))
            return false;
    } while (s_char(sc, ','));
    return s_char(sc, ']');
}

int v2_fast_scan(char *text, size_t len, v2_tensors_t *ts, char *id, size_t id_size, bool *has_id)
{
    s_scan_t sc = {.p = text, .end = text + len, .ts = ts};
    bool seen_id = false, seen_inputs = false, ok = s_char(&sc, '{');
    while (ok) {
        const char *value = NULL;
        int key = S_AT(&sc, "\"id\"") ? 0 : S_AT(&sc, "\"inputs\"") ? 1 : -1;
        if (key >= 0 && !s_char(&sc, ':'))
            ok = false;
        else if (key == 0 && !seen_id)
            ok = seen_id = (value = s_string(&sc)) != NULL && strlen(value) < id_size;
        else if (key == 1 && !seen_inputs)
            ok = seen_inputs = s_inputs(&sc, ts);
        else
            ok = false;
        if (value)
            memcpy(id, value, strlen(value) + 1);
        if (!ok || !s_char(&sc, ','))
            break;
    }
    ok = ok && seen_inputs && s_char(&sc, '}') && sc.p == sc.end;
    *has_id = ok && seen_id;
    if (sc.oom)
        return MLOPS_ENOMEM;
    return ok ? 1 : 0;
}

void v2_tensors_free(v2_tensors_t *ts)
{
    vec_free(&ts->leaves);
    vec_free(ts);
}
