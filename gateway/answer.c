/*  answer.c: JSON answer bodies (see answer.h). Written by hand rather than
    through jansson: these are on the hot path and their shape is fixed.
    Only a multiclass answer's class labels go through jansson (they come
    as a JSON array text in the PREDICTION, PROTOCOL.md). */
#include "answer.h"
#include "utf8.h"
#include "vec.h"

#include <jansson.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;     //  malloc'd, NUL-terminated while !failed
    size_t len;     //  bytes used
    size_t cap;     //  bytes allocated
    bool failed;    //  an allocation failed; data was freed
} s_buf_t;

static void s_buf_init(s_buf_t *b, size_t cap)
{
    b->data = malloc(cap);
    b->len = 0;
    b->cap = cap;
    b->failed = b->data == NULL;
}

static bool s_buf_room(s_buf_t *b, size_t more)
{
    if (b->failed)
        return false;
    if (more < b->cap - b->len)
        return true;   //  (room for the text and its NUL: the usual case, without a call)
    if (more < SIZE_MAX && vec_reserve_(&b->data, &b->cap, b->len, more + 1, 1) == 0)
        return true;   //  + 1: the NUL kept after the text
    free(b->data);
    b->data = NULL;
    b->failed = true;
    return false;
}

static void s_buf_put(s_buf_t *b, const char *s, size_t n)
{
    if (!s_buf_room(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

static void s_buf_str(s_buf_t *b, const char *s)
{
    s_buf_put(b, s, strlen(s));
}

static void s_buf_printf(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_buf_printf(s_buf_t *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        s_buf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

//  Appends s as a JSON string literal: quotes, backslashes and control
//  bytes escaped, valid UTF-8 kept, any other byte (a client's bytes echoed
//  in an error message may be anything) replaced by U+FFFD.
static void s_buf_json_string(s_buf_t *b, const char *s)
{
    s_buf_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = 0;
        while (p[n] >= 0x20 && p[n] < 0x80 && p[n] != '"' && p[n] != '\\')
            n++;   //  a run of plain ASCII in one put (an id, a name): most strings are one
        if (n > 0)
            s_buf_put(b, (const char *)p, n);
        else if (*p == '"' || *p == '\\') {
            char esc[2] = {'\\', (char)*p};
            s_buf_put(b, esc, 2);
            n = 1;
        } else if (*p < 0x20) {
            s_buf_printf(b, "\\u%04x", *p);
            n = 1;
        } else if ((n = utf8_sequence_len(p)) > 0)
            s_buf_put(b, (const char *)p, n);
        else {
            s_buf_put(b, "\\ufffd", 6);
            n = 1;
        }
        p += n;
    }
    s_buf_put(b, "\"", 1);
}

//  Appends an integer in decimal (predictions: printf costs more than the rest).
static void s_buf_int(s_buf_t *b, int64_t v)
{
    char tmp[24], *o = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--o = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        *--o = '-';
    s_buf_put(b, o, (size_t)(tmp + sizeof tmp - o));
}

static char *s_buf_finish(s_buf_t *b, size_t *len)
{
    if (b->failed)
        return NULL;
    b->data[b->len] = '\0';
    *len = b->len;
    return b->data;
}

//  The shortest decimal in (0, 1) that reads back as v, for 1e-4 < v < 1,
//  and of those the closest to v (what Python's repr writes). v = m / 2^q
//  exactly; its rounding interval, scaled to 17 significant digits, is
//  [a, b] in integers (128-bit products: m < 2^55 after scaling by 4,
//  10^20 < 2^67), its ends included when m is even (reading rounds half to
//  even). Digits come off the end while the shorter interval still holds an
//  integer; then v, rounded at that length, is clamped into it. About twice
//  as fast as generating digits one by one, which mattered: a batch answer
//  writes one probability per record. Returns 0 when v rounds to 1.
static size_t s_shortest_fraction(double v, char *out)
{
    static const uint64_t pow10[] = {
        1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
        1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
        100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
        1000000000000000000ull, 10000000000000000000ull};
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int q = 1075 - (int)((bits >> 52) & 0x7ff);   //  v = m / 2^q, q in [53, 66]
    bool even = (m & 1) == 0;
    int zeros = v >= 0.1 ? 0 : v >= 0.01 ? 1 : v >= 0.001 ? 2 : 3;   //  after the point
    int n = 17 + zeros;   //  places: 17 significant digits always read back
    unsigned __int128 scale = (unsigned __int128)pow10[n < 20 ? n : 19] * (n < 20 ? 1 : 10);
    int shift = q + 2;    //  the interval's ends are (4m -+ 2) / 2^shift, or 4m - 1 below a power of two
    unsigned __int128 mask = ((unsigned __int128)1 << shift) - 1;
    unsigned __int128 hi = (unsigned __int128)(4 * m + 2) * scale;
    unsigned __int128 lo = (unsigned __int128)(4 * m - (m == (1ull << 52) ? 1 : 2)) * scale;
    unsigned __int128 mid = (unsigned __int128)(4 * m) * scale;
    uint64_t b = (uint64_t)(hi >> shift), a = (uint64_t)(lo >> shift);
    if ((hi & mask) == 0 && !even)
        b--;
    if ((lo & mask) != 0 || !even)
        a++;
    //  v at the current length: whole part, and its fraction against a half
    uint64_t whole = (uint64_t)(mid >> shift);
    unsigned __int128 frac = mid & mask, half = (unsigned __int128)1 << (shift - 1);
    int vs_half = frac > half ? 1 : frac == half ? 0 : -1;
    bool frac_nonzero = frac != 0;
    while (n > 1 && b / 10 >= (a + 9) / 10) {
        uint64_t digit = whole % 10;
        vs_half = digit > 5 || (digit == 5 && frac_nonzero) ? 1 : digit == 5 ? 0 : -1;
        frac_nonzero = frac_nonzero || digit != 0;
        whole /= 10;
        a = (a + 9) / 10;
        b /= 10;
        n--;
    }
    uint64_t d = whole + (vs_half > 0 || (vs_half == 0 && (whole & 1)));
    d = d < a ? a : d > b ? b : d;
    if (n < 20 && d >= pow10[n])
        return 0;
    char *o = out;
    *o++ = '0';
    *o++ = '.';
    for (int i = n - 1; i >= 0; i--, d /= 10)
        o[i] = (char)('0' + d % 10);
    o += n;
    while (o[-1] == '0' && o[-2] != '.')
        o--;
    *o = '\0';
    return (size_t)(o - out);
}

size_t answer_number(double v, char *out)
{
    if (!isfinite(v)) {
        memcpy(out, "null", 5);
        return 4;
    }
    size_t n = v > 1e-4 && v < 1 ? s_shortest_fraction(v, out) : 0;
    if (n > 0)
        return n;
    //  a forest's probability is often exactly 0 or 1 (every tree's leaf
    //  pure): the texts "%.16g" writes, without its cost
    if ((v == 0 && !signbit(v)) || v == 1) {
        out[0] = v == 0 ? '0' : '1', out[1] = '\0';
        return 1;
    }
    //  elsewhere (rare for probabilities): 16 digits read back for most
    //  doubles, 17 always do
    int k = snprintf(out, 32, "%.16g", v);
    if (strtod(out, NULL) != v)
        k = snprintf(out, 32, "%.17g", v);
    return (size_t)k;
}

static void s_buf_number(s_buf_t *b, double v)
{
    char tmp[32];
    s_buf_put(b, tmp, answer_number(v, tmp));
}

/* --- task types: multiclass and regression ------------------------------ */

//  A multiclass answer's class labels, each as a JSON value ("b", 3) and as
//  an object key ("b", "3"), both texts in one block.
typedef struct {
    char *text;            //  2 x k NUL-terminated texts: value then key, owned
    const char **value;    //  k pointers into text, owned array
    const char **key;      //  k pointers into text, owned array
    size_t k;              //  classes
    const char *datatype;  //  V2 datatype of the labels: BYTES, INT64 or FP64
} s_labels_t;

static void s_labels_free(s_labels_t *l)
{
    free(l->text);
    free(l->value);
    free(l->key);
    memset(l, 0, sizeof *l);
}

//  The V2 datatype of one label, NULL when it is neither a string nor a number.
static const char *s_label_datatype(const json_t *e)
{
    return json_is_string(e) ? "BYTES" : json_is_integer(e) ? "INT64" : json_is_real(e) ? "FP64" : NULL;
}

//  Writes the k labels' value and key texts into l->text (a number's key
//  is its text quoted). Returns 0 or MLOPS_ENOMEM.
static int s_labels_render(s_labels_t *l, json_t *root)
{
    s_buf_t b;
    size_t *at = calloc(2 * l->k + 1, sizeof *at);
    s_buf_init(&b, 64);
    for (size_t c = 0; at && !b.failed && c < l->k; c++) {
        json_t *e = json_array_get(root, c);
        char *text = json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);
        const char *quote = json_is_string(e) ? "" : "\"";
        at[2 * c] = b.len;
        s_buf_str(&b, text ? text : "");
        s_buf_put(&b, "", 1);
        at[2 * c + 1] = b.len;
        s_buf_str(&b, quote);
        s_buf_str(&b, text ? text : "");
        s_buf_str(&b, quote);
        s_buf_put(&b, "", 1);
        b.failed = b.failed || !text;
        free(text);
    }
    size_t unused;
    l->text = at && !b.failed ? s_buf_finish(&b, &unused) : NULL;
    if (!l->text)
        free(b.data);
    for (size_t c = 0; l->text && c < l->k; c++) {
        l->value[c] = l->text + at[2 * c];
        l->key[c] = l->text + at[2 * c + 1];
    }
    free(at);
    return l->text ? 0 : MLOPS_ENOMEM;
}

//  Reads the PREDICTION's class labels; 0, MLOPS_EPROTO (why says what is
//  wrong with them) or MLOPS_ENOMEM.
static int s_labels_parse(const proto_msg_t *msg, s_labels_t *l, char *why, size_t size)
{
    memset(l, 0, sizeof *l);
    json_t *root = json_loads(msg->prediction.classes ? msg->prediction.classes : "", 0, NULL);
    size_t k = msg->prediction.n ? proto_prediction_classes(msg) : json_array_size(root);
    int rc = 0;
    if (!json_is_array(root) || json_array_size(root) != k) {
        snprintf(why, size, "the inference worker sent %zu class probabilities per record and "
                 "class labels that are not a list of %zu", k, k);
        rc = MLOPS_EPROTO;
    }
    for (size_t c = 0; rc == 0 && c < k; c++) {
        const char *t = s_label_datatype(json_array_get(root, c));
        bool numbers = t && l->datatype && strcmp(l->datatype, "BYTES") != 0 && strcmp(t, "BYTES") != 0;
        if (!t || (l->datatype && strcmp(t, l->datatype) != 0 && !numbers)) {
            snprintf(why, size, "the inference worker sent class label %zu that is not a string "
                     "or a number like the others", c);
            rc = MLOPS_EPROTO;
        } else if (!l->datatype || strcmp(t, "FP64") == 0)
            l->datatype = t;   //  integers with a real among them: all FP64
    }
    l->k = k;
    l->value = rc ? NULL : calloc(k + 1, sizeof *l->value);
    l->key = rc ? NULL : calloc(k + 1, sizeof *l->key);
    if (rc == 0 && (!l->value || !l->key || s_labels_render(l, root) != 0))
        rc = MLOPS_ENOMEM;
    json_decref(root);
    if (rc)
        s_labels_free(l);
    return rc;
}

static bool s_is_task(const proto_msg_t *msg, const char *task)
{
    return msg->prediction.task && strcmp(msg->prediction.task, task) == 0;
}

//  A multiclass PREDICTION's labels into l, read once for the whole answer
//  (l empty for the other tasks). 0, or MLOPS_EPROTO / MLOPS_ENOMEM with
//  why saying what is wrong (l empty then too).
static int s_labels_of(const proto_msg_t *msg, s_labels_t *l, char *why, size_t size)
{
    memset(l, 0, sizeof *l);
    if (!s_is_task(msg, "multiclass"))
        return 0;
    int rc = s_labels_parse(msg, l, why, size);
    if (rc == MLOPS_ENOMEM)
        snprintf(why, size, "out of memory");
    return rc;
}

//  {"a":0.1,"b":0.8,"c":0.1}: record i's class probabilities by label.
static void s_buf_class_probabilities(s_buf_t *b, const proto_msg_t *msg, const s_labels_t *l,
                                      size_t i)
{
    s_buf_put(b, "{", 1);
    for (size_t c = 0; c < l->k; c++) {
        s_buf_str(b, c ? "," : "");
        s_buf_str(b, l->key[c]);
        s_buf_put(b, ":", 1);
        s_buf_number(b, msg->prediction.class_probabilities[i * l->k + c]);
    }
    s_buf_put(b, "}", 1);
}

//  The tail every prediction body ends with: the version and, when there is
//  one, the request id (an addition to the reference's shape).
static void s_buf_tail(s_buf_t *b, const proto_msg_t *msg, const char *request_id)
{
    s_buf_printf(b, ",\"model_version\":%" PRId64, msg->prediction.model_version);
    if (request_id && *request_id) {
        s_buf_str(b, ",\"request_id\":");
        s_buf_json_string(b, request_id);
    }
    s_buf_put(b, "}", 1);
}

//  The /predict and /predict/batch bodies of a multiclass model (labels l).
static char *s_multiclass(const proto_msg_t *msg, const s_labels_t *l, bool batch,
                          const char *request_id, size_t *len)
{
    s_buf_t b;
    size_t n = batch ? msg->prediction.n : msg->prediction.n ? 1 : 0;
    s_buf_init(&b, 96 + n * (l->k + 1) * 28);
    s_buf_str(&b, batch ? "{\"predictions\":[" : "{\"prediction\":");
    for (size_t i = 0; i < n; i++) {
        s_buf_str(&b, i ? "," : "");
        s_buf_str(&b, l->value[msg->prediction.predictions[i]]);
    }
    s_buf_str(&b, batch ? "],\"probabilities\":[" : ",\"probabilities\":");
    for (size_t i = 0; i < n; i++) {
        s_buf_str(&b, i ? "," : "");
        s_buf_class_probabilities(&b, msg, l, i);
    }
    s_buf_str(&b, batch ? "]" : "");
    s_buf_tail(&b, msg, request_id);
    return s_buf_finish(&b, len);
}

//  The /predict and /predict/batch bodies of a regression model.
static char *s_regression(const proto_msg_t *msg, bool batch, const char *request_id, size_t *len)
{
    s_buf_t b;
    size_t n = batch ? msg->prediction.n_values : msg->prediction.n_values ? 1 : 0;
    s_buf_init(&b, 96 + n * 28);
    s_buf_str(&b, batch ? "{\"predictions\":[" : "{\"prediction\":");
    for (size_t i = 0; i < n; i++) {
        s_buf_str(&b, i ? "," : "");
        s_buf_number(&b, msg->prediction.values[i]);
    }
    s_buf_str(&b, batch ? "]" : n ? "" : "null");
    s_buf_tail(&b, msg, request_id);
    return s_buf_finish(&b, len);
}

char *answer_prediction(const proto_msg_t *msg, bool batch, size_t *len)
{
    return answer_prediction_id(msg, batch, NULL, len);
}

char *answer_prediction_id(const proto_msg_t *msg, bool batch, const char *request_id, size_t *len)
{
    char why[160], *body;
    answer_prediction_make(msg, batch, request_id, &body, len, why, sizeof why);
    return body;
}

//  A binary model's body, or the body of the PREDICTION's task (labels l).
static char *s_prediction_body(const proto_msg_t *msg, const s_labels_t *l, bool batch,
                               const char *request_id, size_t *len)
{
    if (s_is_task(msg, "multiclass"))
        return s_multiclass(msg, l, batch, request_id, len);
    if (s_is_task(msg, "regression"))
        return s_regression(msg, batch, request_id, len);
    s_buf_t b;
    size_t n = msg->prediction.n;
    s_buf_init(&b, 96 + (batch ? n * 28 : 0));
    if (!batch) {
        s_buf_printf(&b, "{\"prediction\":%" PRId64 ",\"probability\":",
                     n ? msg->prediction.predictions[0] : 0);
        s_buf_number(&b, n ? msg->prediction.probabilities[0] : NAN);
    } else {
        s_buf_str(&b, "{\"predictions\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                s_buf_put(&b, ",", 1);
            s_buf_int(&b, msg->prediction.predictions[i]);
        }
        s_buf_str(&b, "],\"probabilities\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                s_buf_put(&b, ",", 1);
            s_buf_number(&b, msg->prediction.probabilities[i]);
        }
        s_buf_put(&b, "]", 1);
    }
    s_buf_tail(&b, msg, request_id);
    return s_buf_finish(&b, len);
}

int answer_prediction_make(const proto_msg_t *msg, bool batch, const char *request_id, char **body,
                           size_t *len, char *why, size_t size)
{
    s_labels_t l;
    int rc = s_labels_of(msg, &l, why, size);
    *body = rc == 0 ? s_prediction_body(msg, &l, batch, request_id, len) : NULL;
    s_labels_free(&l);
    return rc;
}

char *answer_problems(const proto_problem_t *problems, size_t n, size_t total, bool single,
                      size_t *len)
{
    s_buf_t b;
    s_buf_init(&b, 64 + n * 80);
    s_buf_str(&b, "{\"detail\":[");
    for (size_t i = 0; i < n; i++) {
        const proto_problem_t *p = &problems[i];
        s_buf_str(&b, i ? ",{\"loc\":[\"body\"" : "{\"loc\":[\"body\"");
        if (p->index >= 0 && !single)
            s_buf_printf(&b, ",\"instances\",%" PRId64, p->index);
        if (p->field && *p->field) {
            s_buf_put(&b, ",", 1);
            s_buf_json_string(&b, p->field);
        }
        s_buf_str(&b, "],\"msg\":");
        s_buf_json_string(&b, p->msg ? p->msg : "invalid");
        s_buf_str(&b, ",\"type\":\"value_error\"}");
    }
    if (total > n)
        s_buf_printf(&b, "%s{\"loc\":[\"body\"],\"msg\":\"and %zu more problems\","
                     "\"type\":\"value_error\"}", n ? "," : "", total - n);
    s_buf_str(&b, "]}");
    return s_buf_finish(&b, len);
}

//  {"key": message}: the error bodies of both APIs.
static char *s_one_string(const char *key, const char *message, size_t *len)
{
    s_buf_t b;
    s_buf_init(&b, 32 + strlen(message));
    s_buf_printf(&b, "{\"%s\":", key);
    s_buf_json_string(&b, message);
    s_buf_put(&b, "}", 1);
    return s_buf_finish(&b, len);
}

char *answer_detail(const char *message, size_t *len)
{
    return s_one_string("detail", message, len);
}

char *answer_syntax(const char *message, size_t position, size_t *len)
{
    s_buf_t b;
    s_buf_init(&b, 64 + strlen(message));
    s_buf_str(&b, "{\"detail\":");
    s_buf_json_string(&b, message);
    s_buf_printf(&b, ",\"position\":%zu}", position);
    return s_buf_finish(&b, len);
}

/* --- Open Inference Protocol (V2) ---------------------------------------- */

//  {"name":NAME,"datatype":TYPE,"shape":[n] (or [n,k] when k),"data":[ ...
//  up to the data (written piece by piece: s_buf_printf would cut it).
static void s_buf_v2_head(s_buf_t *b, const char *name, const char *datatype, size_t n, size_t k)
{
    s_buf_str(b, "{\"name\":\"");
    s_buf_str(b, name);
    s_buf_str(b, "\",\"datatype\":\"");
    s_buf_str(b, datatype);
    s_buf_str(b, "\",\"shape\":[");
    s_buf_int(b, (int64_t)n);
    if (k) {
        s_buf_put(b, ",", 1);
        s_buf_int(b, (int64_t)k);
    }
    s_buf_str(b, "],\"data\":[");
}

static void s_buf_v2_output(s_buf_t *b, const proto_msg_t *msg, bool probability)
{
    size_t n = msg->prediction.n;
    s_buf_v2_head(b, probability ? "probability" : "predict", probability ? "FP64" : "INT64", n, 0);
    for (size_t i = 0; i < n; i++) {
        if (i)
            s_buf_put(b, ",", 1);
        if (probability)
            s_buf_number(b, msg->prediction.probabilities[i]);
        else
            s_buf_int(b, msg->prediction.predictions[i]);
    }
    s_buf_str(b, "]}");
}

//  The V2 outputs of a multiclass model: predict (the labels, datatype of
//  the labels) and probability (FP64, [n, k], row-major).
static void s_buf_v2_multiclass(s_buf_t *b, const proto_msg_t *msg, const s_labels_t *l,
                                bool predict, bool probability)
{
    size_t n = msg->prediction.n;
    if (predict) {
        s_buf_v2_head(b, "predict", l->datatype, n, 0);
        for (size_t i = 0; i < n; i++) {
            s_buf_str(b, i ? "," : "");
            s_buf_str(b, l->value[msg->prediction.predictions[i]]);
        }
        s_buf_str(b, probability ? "]}," : "]}");
    }
    if (!probability)
        return;
    s_buf_v2_head(b, "probability", "FP64", n, l->k);
    for (size_t i = 0; i < n * l->k; i++) {
        s_buf_str(b, i ? "," : "");
        s_buf_number(b, msg->prediction.class_probabilities[i]);
    }
    s_buf_str(b, "]}");
}

//  The V2 output of a regression model: predict, FP64 (no probability).
static void s_buf_v2_regression(s_buf_t *b, const proto_msg_t *msg, bool predict)
{
    size_t n = msg->prediction.n_values;
    if (!predict)
        return;
    s_buf_v2_head(b, "predict", "FP64", n, 0);
    for (size_t i = 0; i < n; i++) {
        s_buf_str(b, i ? "," : "");
        s_buf_number(b, msg->prediction.values[i]);
    }
    s_buf_str(b, "]}");
}

char *answer_v2_infer(const proto_msg_t *msg, const char *model_name, const char *id,
                      bool predict, bool probability, size_t *len)
{
    char why[160], *body;
    answer_v2_make(msg, model_name, id, predict, probability, &body, len, why, sizeof why);
    return body;
}

//  The V2 body with the labels l read.
static char *s_v2_body(const proto_msg_t *msg, const s_labels_t *l, const char *model_name,
                       const char *id, bool predict, bool probability, size_t *len)
{
    bool multiclass = s_is_task(msg, "multiclass"), regression = s_is_task(msg, "regression");
    s_buf_t b;
    s_buf_init(&b, 192 + msg->prediction.n * (multiclass ? l->k + 1 : 1) * 28);
    s_buf_str(&b, "{\"model_name\":");
    s_buf_json_string(&b, model_name);
    s_buf_printf(&b, ",\"model_version\":\"%" PRId64 "\"", msg->prediction.model_version);
    if (id) {
        s_buf_str(&b, ",\"id\":");
        s_buf_json_string(&b, id);
    }
    s_buf_str(&b, ",\"outputs\":[");
    if (multiclass)
        s_buf_v2_multiclass(&b, msg, l, predict, probability);
    else if (regression)
        s_buf_v2_regression(&b, msg, predict);
    else {
        if (predict)
            s_buf_v2_output(&b, msg, false);
        if (probability) {
            if (predict)
                s_buf_put(&b, ",", 1);
            s_buf_v2_output(&b, msg, true);
        }
    }
    s_buf_str(&b, "]}");
    return s_buf_finish(&b, len);
}

int answer_v2_make(const proto_msg_t *msg, const char *model_name, const char *id, bool predict,
                   bool probability, char **body, size_t *len, char *why, size_t size)
{
    s_labels_t l;
    int rc = s_labels_of(msg, &l, why, size);
    *body = rc == 0 ? s_v2_body(msg, &l, model_name, id, predict, probability, len) : NULL;
    s_labels_free(&l);
    return rc;
}

char *answer_v2_error(const char *message, size_t *len)
{
    return s_one_string("error", message, len);
}

char *answer_v2_problems(const proto_problem_t *problems, size_t n, size_t total, size_t *len)
{
    char text[1024] = "";
    size_t at = 0;
    for (size_t i = 0; i < n && at < sizeof text - 1; i++) {
        const proto_problem_t *p = &problems[i];
        at += (size_t)snprintf(text + at, sizeof text - at, "%sinput '%s' row %" PRId64 ": %s",
                               i ? "; " : "", p->field && *p->field ? p->field : "?",
                               p->index > 0 ? p->index : 0, p->msg ? p->msg : "invalid");
    }
    if (total > n && at < sizeof text - 1)
        snprintf(text + at, sizeof text - at, "; and %zu more problems", total - n);
    return answer_v2_error(text, len);
}
