/*  duration.h: durations typed by users on the command line ("250ms", "30s",
    "5m", "24h", "2d"), shared by every binary's duration flags (heartbeat
    and report intervals, timeouts, deadlines, back-off, the broker's
    --schedule), so that one rule holds everywhere: a number and a unit.

    A bare number is refused, not guessed: the flags used to disagree (the
    broker read seconds, the gateway and the inference worker milliseconds),
    so any one reading of "1000" would silently change half of them; the
    refusal says what to write instead. */
#ifndef MLOPS_DURATION_H
#define MLOPS_DURATION_H

#include <stdint.h>

#include "err.h"

//  The line every binary's --help ends with, so the rule reads the same.
#define DURATION_HELP \
    "DURATION is a number with a unit: 250ms, 1.5s, 5m, 24h, 2d (a bare number is refused).\n"

//  Bounds of every interval flag (--heartbeat, the inference worker's
//  --report): shorter floods the peers, longer makes a dead peer go unnoticed
//  for half an hour (3 intervals).
#define DURATION_INTERVAL_MIN_MSEC 10
#define DURATION_INTERVAL_MAX_MSEC 600000

//  Parses text into milliseconds. Accepts a positive decimal number with a
//  unit ms, s, m, h or d. Returns 0, or MLOPS_EINVAL with err naming the text
//  (empty, no unit, negative, zero, unknown unit, under 1 ms, over 100 years).
int duration_parse(const char *text, int64_t *msec, mlops_err_t *err);

//  duration_parse, then a bound: min_msec <= *msec <= max_msec. Returns 0, or
//  MLOPS_EINVAL with err naming the text and the range ("'5ms' is out of
//  range 10ms..10m"). *msec is untouched on failure.
int duration_parse_range(const char *text, int64_t min_msec, int64_t max_msec, int64_t *msec,
                         mlops_err_t *err);

//  Writes msec as short text ("1.5s", "24h", "250ms") into out; returns out.
char *duration_format(int64_t msec, char *out, size_t out_size);

#endif
