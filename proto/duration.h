/*  duration.h: durations typed by users on the command line ("250ms", "30s",
    "5m", "24h", "2d", a bare number meaning seconds), shared by every binary's
    flags (heartbeat intervals, timeouts, the broker's --schedule). */
#ifndef MLOPS_DURATION_H
#define MLOPS_DURATION_H

#include <stdint.h>

#include "err.h"

//  Parses text into milliseconds. Accepts a positive decimal number with an
//  optional unit ms, s, m, h, d (no unit = seconds). Returns 0, or
//  MLOPS_EINVAL with err naming the text (empty, negative, zero, unknown unit,
//  over 100 years).
int duration_parse(const char *text, int64_t *msec, mlops_err_t *err);

//  Writes msec as short text ("1.5s", "24h", "250ms") into out; returns out.
char *duration_format(int64_t msec, char *out, size_t out_size);

#endif
