/*  flags.h: the one parser of flag values every `main` uses: whole numbers,
    real numbers, durations (duration.h) and byte sizes, each checked against
    a range the caller gives, each refusal a sentence that names the flag and
    the text given, so every binary answers a bad value the same way:

        mlops-gateway: --credit wants a whole number in 1..100000, not 'x'
        mlops-broker: --heartbeat: '5ms' is out of range 10ms..10m

    The parsers only parse (0, or MLOPS_EINVAL with err); flags_report turns
    a refusal into that line on stderr, so the messages are tested here
    without a process and printed by the mains.
*/
#ifndef MLOPS_FLAGS_H
#define MLOPS_FLAGS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define FLAGS_SIZE_MAX_BYTES 1000000000000000000ULL   //  1e18: larger sizes are typos

//  A whole decimal number in [min, max] (no sign of its own for a negative
//  min, no fraction, no trailing text). text NULL reads as "". Returns 0, or
//  MLOPS_EINVAL with err "FLAG wants a whole number in MIN..MAX, not 'TEXT'";
//  *out is untouched on failure.
int flags_int(const char *flag, const char *text, long long min, long long max, long long *out,
              mlops_err_t *err);

//  A decimal number (strtod: 0.5, 1e-3) in [min, max]. Returns 0, or
//  MLOPS_EINVAL with err "FLAG wants a number in MIN..MAX, not 'TEXT'".
int flags_number(const char *flag, const char *text, double min, double max, double *out,
                 mlops_err_t *err);

//  A DURATION (duration.h) in [min_msec, max_msec], in milliseconds. Returns
//  0, or MLOPS_EINVAL with err "FLAG: <what duration_parse_range said>", or
//  "FLAG needs a DURATION" when text is NULL.
int flags_duration(const char *flag, const char *text, int64_t min_msec, int64_t max_msec,
                   int64_t *out, mlops_err_t *err);

//  A byte size: a number with an optional K, M, G or T (powers of 1024) and
//  an optional B, at least min_bytes and at most FLAGS_SIZE_MAX_BYTES.
//  Returns 0, or MLOPS_EINVAL with err "FLAG: expected a size of at least
//  MIN like 512M or 64G, got 'TEXT'".
int flags_size(const char *flag, const char *text, size_t min_bytes, size_t *out, mlops_err_t *err);

//  For a main: when rc is not 0, prints "PROG: <err's message>" on stderr.
//  Returns -1 when rc is not 0, else 0.
int flags_report(const char *prog, int rc, const mlops_err_t *err);

#endif
