/*  flags.c: see flags.h. */
#include "flags.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "duration.h"

int flags_int(const char *flag, const char *text, long long min, long long max, long long *out,
              mlops_err_t *err)
{
    const char *t = text ? text : "";
    char *end = NULL;
    errno = 0;
    long long v = strtoll(t, &end, 10);
    if (errno || end == t || *end || v < min || v > max)
        return mlops_err_set(err, MLOPS_EINVAL, "%s wants a whole number in %lld..%lld, not '%s'",
                             flag, min, max, t);
    *out = v;
    return 0;
}

int flags_number(const char *flag, const char *text, double min, double max, double *out,
                 mlops_err_t *err)
{
    const char *t = text ? text : "";
    char *end = NULL;
    double v = strtod(t, &end);
    if (end == t || *end || !(v >= min && v <= max))   //  NaN fails both
        return mlops_err_set(err, MLOPS_EINVAL, "%s wants a number in %g..%g, not '%s'", flag, min,
                             max, t);
    *out = v;
    return 0;
}

int flags_duration(const char *flag, const char *text, int64_t min_msec, int64_t max_msec,
                   int64_t *out, mlops_err_t *err)
{
    if (!text)
        return mlops_err_set(err, MLOPS_EINVAL, "%s needs a DURATION", flag);
    mlops_err_t sub;
    if (duration_parse_range(text, min_msec, max_msec, out, &sub) != 0)
        return mlops_err_set(err, MLOPS_EINVAL, "%s: %s", flag, sub.msg);
    return 0;
}

//  "1M" for 1048576: the largest unit that divides the size, else bytes.
static const char *s_size_text(size_t bytes, char *out, size_t size)
{
    static const char units[] = "KMGT";
    int u = -1;
    while (u < 3 && bytes && bytes % 1024 == 0) {
        bytes /= 1024;
        u++;
    }
    if (u < 0)
        snprintf(out, size, "%zu bytes", bytes);
    else
        snprintf(out, size, "%zu%c", bytes, units[u]);
    return out;
}

int flags_size(const char *flag, const char *text, size_t min_bytes, size_t *out, mlops_err_t *err)
{
    const char *t = text ? text : "";
    char *end = NULL;
    double v = strtod(t, &end), unit = 1;
    switch (*end) {
    case 'K': case 'k': unit = 1024.0; end++; break;
    case 'M': case 'm': unit = 1024.0 * 1024; end++; break;
    case 'G': case 'g': unit = 1024.0 * 1024 * 1024; end++; break;
    case 'T': case 't': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    double bytes = v * unit;
    if (end == t || *end || !(bytes >= (double)min_bytes) || bytes > (double)FLAGS_SIZE_MAX_BYTES) {
        char least[32];
        return mlops_err_set(err, MLOPS_EINVAL,
                             "%s: expected a size of at least %s like 512M or 64G, got '%s'", flag,
                             s_size_text(min_bytes, least, sizeof least), t);
    }
    *out = (size_t)bytes;
    return 0;
}

int flags_report(const char *prog, int rc, const mlops_err_t *err)
{
    if (rc == 0)
        return 0;
    fprintf(stderr, "%s: %s\n", prog, mlops_err_text(err, rc));
    return -1;
}
