/*  metrics.c: comparing two metrics_t field by field (see metrics.h), by
    walking the records' metrics table so no list of names is kept here. */
#include "metrics.h"

#include <math.h>
#include <stdint.h>

#include "records_fields.h"

#define S_AT(base, off, T) ((const T *)((const char *)(base) + (off)))

//  A scalar field's value as a double; false for a kind that is no scalar.
static bool s_value(const fields_spec_t *f, const metrics_t *m, double *out)
{
    switch (f->kind) {
    case F_F64:
    case F_NUM: *out = *S_AT(m, f->off, double); return true;
    case F_I64:
    case F_NAT: *out = (double)*S_AT(m, f->off, int64_t); return true;
    case F_I32: *out = *S_AT(m, f->off, int32_t); return true;
    case F_U64: *out = (double)*S_AT(m, f->off, uint64_t); return true;
    default: return false;
    }
}

static bool s_same(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
    return fabs(a - b) <= METRICS_TOLERANCE * scale;
}

bool metrics_differ(const metrics_t *got, const metrics_t *want, metrics_diff_t *diff)
{
    size_t n = sizeof records_metrics_fields / sizeof records_metrics_fields[0];
    for (size_t i = 0; i < n; i++) {
        const fields_spec_t *f = &records_metrics_fields[i];
        double a, b;
        //  a metric that is no scalar has no tolerance to speak of: it must
        //  be added above before it can be compared
        if (!s_value(f, got, &a) || !s_value(f, want, &b) || s_same(a, b))
            continue;
        if (diff)
            *diff = (metrics_diff_t){f->key, a, b};
        return true;
    }
    return false;
}
