/*  source.c: see source.h. A hand-written reader of one short string: no
    copy, every part measured before it is read, every message quoting at
    most S_QUOTE_MAX bytes of what was given. */
#include "source.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define S_QUOTE_MAX 40                     //  bytes of a bad part quoted in a message
#define S_SYNTHETIC "synthetic"
#define S_DATASET "dataset:"
#define S_CSV "csv:"
#define S_RULE "synthetic[:ROWS[:SEED]], dataset:HASH or a CSV path"
#define S_JOINED "csv:PATH, PATH+feedback or synthetic[:ROWS[:SEED]]+feedback"

//  The decimal of s[0..n) (digits only, no sign, no blank) into *out;
//  false when it is not one or does not fit 64 bits.
static bool s_decimal(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned digit = (unsigned char)s[i] - '0';
        if (digit > 9 || v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

static bool s_is_hash(const char *s, size_t n)
{
    if (n != HASH_HEX_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

//  spec: what follows "synthetic:" (NULL for plain "synthetic").
static int s_synthetic(const char *spec, source_t *out, mlops_err_t *err)
{
    uint64_t rows = SOURCE_SYNTH_DEFAULT_ROWS, seed = SOURCE_SYNTH_DEFAULT_SEED;
    if (spec) {
        const char *colon = strchr(spec, ':');
        size_t rows_n = colon ? (size_t)(colon - spec) : strlen(spec);
        if (colon && strchr(colon + 1, ':'))
            return mlops_err_set(err, MLOPS_EINVAL, "synthetic: too many parts (synthetic[:ROWS[:SEED]])");
        if (!s_decimal(spec, rows_n, &rows))
            return mlops_err_set(err, MLOPS_EINVAL, "synthetic: rows '%.*s' is not a number",
                                 (int)(rows_n < S_QUOTE_MAX ? rows_n : S_QUOTE_MAX), spec);
        if (rows < SOURCE_SYNTH_MIN_ROWS || rows > SOURCE_SYNTH_MAX_ROWS)
            return mlops_err_set(err, MLOPS_EINVAL, "synthetic: rows %llu outside %d..%d",
                                 (unsigned long long)rows, SOURCE_SYNTH_MIN_ROWS, SOURCE_SYNTH_MAX_ROWS);
        if (colon && !s_decimal(colon + 1, strlen(colon + 1), &seed))
            return mlops_err_set(err, MLOPS_EINVAL, "synthetic: seed '%.*s' is not a number",
                                 S_QUOTE_MAX, colon + 1);
    }
    out->rows = (size_t)rows;
    out->seed = seed;
    return 0;
}

//  The kind the text has by its shape, before its parts are checked.
static source_kind_t s_kind(const char *text, size_t n)
{
    size_t plen = sizeof S_SYNTHETIC - 1;
    if (strncmp(text, S_SYNTHETIC, plen) == 0 && (text[plen] == '\0' || text[plen] == ':'))
        return SOURCE_SYNTHETIC;
    if (strncmp(text, S_DATASET, sizeof S_DATASET - 1) == 0 || s_is_hash(text, n))
        return SOURCE_DATASET;
    return SOURCE_PATH;
}

//  The base of text (n bytes, checked by source_parse): "+feedback" and
//  "csv:" taken off into s, what is left parsed as a base.
static int s_parse_joined(const char *text, size_t n, source_t *s, mlops_err_t *err)
{
    size_t flen = sizeof SOURCE_FEEDBACK - 1, clen = sizeof S_CSV - 1;
    bool feedback = n >= flen && memcmp(text + n - flen, SOURCE_FEEDBACK, flen) == 0;
    size_t at = strncmp(text, S_CSV, clen) == 0 ? clen : 0, len = n - at - (feedback ? flen : 0);
    if (at + (feedback ? flen : 0) >= n || len == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "source: nothing before \"+feedback\" or after "
                             "\"csv:\" (" S_JOINED ")");
    char base[SOURCE_MAX_BYTES + 1];
    memcpy(base, text + at, len);
    base[len] = '\0';
    int rc = source_parse(base, s, err);
    if (rc == 0 && (s->feedback || (at && (s->kind != SOURCE_PATH || strncmp(base, S_CSV, clen) == 0))))
        return mlops_err_set(err, MLOPS_EINVAL, "source: \"csv:\" names a CSV path, once, and "
                             "\"+feedback\" comes once, last");
    if (rc == 0 && feedback && s->kind == SOURCE_DATASET)
        return mlops_err_set(err, MLOPS_EINVAL, "source: a stored dataset cannot be joined with "
                             "the feedback set (use its CSV path: PATH+feedback)");
    s->feedback = feedback;
    return rc;
}

int source_parse(const char *text, source_t *out, mlops_err_t *err)
{
    size_t n = text ? strlen(text) : 0;
    out->kind = n ? s_kind(text, n) : SOURCE_PATH;   //  even on failure (source.h)
    if (n == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "source is empty (" S_RULE ")");
    if (n > SOURCE_MAX_BYTES)
        return mlops_err_set(err, MLOPS_EINVAL, "source is %zu bytes, over the limit of %d", n,
                             SOURCE_MAX_BYTES);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            return mlops_err_set(err, MLOPS_EINVAL, "source: byte %zu is a control character", i);
    source_t s = {.kind = out->kind};
    size_t flen = sizeof SOURCE_FEEDBACK - 1;
    if (strncmp(text, S_CSV, sizeof S_CSV - 1) == 0
        || (n >= flen && memcmp(text + n - flen, SOURCE_FEEDBACK, flen) == 0)) {
        int rc = s_parse_joined(text, n, &s, err);
        if (rc)
            return rc;
        *out = s;
        return 0;
    }
    memcpy(s.base, text, n + 1);
    size_t plen = sizeof S_SYNTHETIC - 1, dlen = sizeof S_DATASET - 1;
    const char *hash = strncmp(text, S_DATASET, dlen) == 0 ? text + dlen : text;
    if (s.kind == SOURCE_SYNTHETIC) {
        int rc = s_synthetic(text[plen] ? text + plen + 1 : NULL, &s, err);
        if (rc)
            return rc;
    } else if (s.kind == SOURCE_DATASET && !s_is_hash(hash, strlen(hash)))
        return mlops_err_set(err, MLOPS_EINVAL, "dataset: '%.*s' is not a dataset hash (64 "
                             "lower-case hex digits)", S_QUOTE_MAX, hash);
    else if (s.kind == SOURCE_DATASET)
        memcpy(s.hash, hash, HASH_HEX_LEN + 1);
    *out = s;
    return 0;
}
