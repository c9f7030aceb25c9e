/*  duration.c: see duration.h. */
#include "duration.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DURATION_MAX_MSEC (100LL * 365 * 24 * 3600 * 1000)

typedef struct {
    const char *unit;   //  suffix as typed
    double msec;        //  milliseconds per unit
} s_unit_t;

static const s_unit_t s_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

int duration_parse(const char *text, int64_t *msec, mlops_err_t *err)
{
    if (!text || !*text)
        return mlops_err_set(err, MLOPS_EINVAL, "empty duration (expected e.g. 30s, 5m, 24h)");
    char *end = NULL;
    double value = strtod(text, &end);
    if (end == text || !isfinite(value) || value <= 0 || text[0] == '-' || text[0] == '+')
        return mlops_err_set(err, MLOPS_EINVAL,
                             "bad duration '%.40s' (expected a positive number and a unit ms|s|m|h|d)",
                             text);
    if (*end == '\0')
        return mlops_err_set(err, MLOPS_EINVAL,
                             "duration '%.40s' has no unit: write %.40sms or %.40ss (or m, h, d)",
                             text, text, text);
    for (size_t i = 0; i < sizeof s_units / sizeof s_units[0]; i++) {
        if (strcmp(end, s_units[i].unit) != 0)
            continue;
        double ms = value * s_units[i].msec;
        if (ms > (double)DURATION_MAX_MSEC)
            return mlops_err_set(err, MLOPS_EINVAL, "duration '%.40s' is over 100 years", text);
        if (ms < 1)
            return mlops_err_set(err, MLOPS_EINVAL, "duration '%.40s' is under 1 ms", text);
        *msec = (int64_t)llround(ms);
        return 0;
    }
    return mlops_err_set(err, MLOPS_EINVAL, "bad duration unit in '%.40s' (use ms, s, m, h or d)",
                         text);
}

int duration_parse_range(const char *text, int64_t min_msec, int64_t max_msec, int64_t *msec,
                         mlops_err_t *err)
{
    int64_t v;
    int rc = duration_parse(text, &v, err);
    if (rc)
        return rc;
    if (v < min_msec || v > max_msec) {
        char lo[32], hi[32];
        return mlops_err_set(err, MLOPS_EINVAL, "'%.40s' is out of range %s..%s", text,
                             duration_format(min_msec, lo, sizeof lo),
                             duration_format(max_msec, hi, sizeof hi));
    }
    *msec = v;
    return 0;
}

char *duration_format(int64_t msec, char *out, size_t out_size)
{
    if (msec % 86400000 == 0 && msec >= 86400000)
        snprintf(out, out_size, "%lldd", (long long)(msec / 86400000));
    else if (msec % 3600000 == 0 && msec >= 3600000)
        snprintf(out, out_size, "%lldh", (long long)(msec / 3600000));
    else if (msec % 60000 == 0 && msec >= 60000)
        snprintf(out, out_size, "%lldm", (long long)(msec / 60000));
    else if (msec >= 1000)
        snprintf(out, out_size, "%gs", (double)msec / 1000.0);
    else
        snprintf(out, out_size, "%lldms", (long long)msec);
    return out;
}
