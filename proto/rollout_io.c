/*  rollout_io.c: see rollout_io.h. Both bodies are field tables of
    fields.h, so their bytes are the canonical encoding of every other
    control answer. */
#include "rollout_io.h"

#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "fields.h"

static const char *const s_kinds[] = {"none", "shadow", "canary"};

static const fields_spec_t s_side[] = {
    FIELD_NAT(rollout_side_t, requests),
    FIELD_NAT(rollout_side_t, errors),
    FIELD_F64(rollout_side_t, p99_ms),
    FIELD_NAT(rollout_side_t, labelled),
    FIELD_OF64(rollout_side_t, metric),
};
static const fields_spec_t s_report[] = {
    FIELD_NAT(rollout_report_t, version),
    FIELD_MAP(rollout_report_t, prod, s_side),
    FIELD_MAP(rollout_report_t, cand, s_side),
    FIELD_NAT(rollout_report_t, compared),
    FIELD_NAT(rollout_report_t, agreed),
    FIELD_NAT(rollout_report_t, skipped),
};
static const fields_spec_t s_state[] = {
    FIELD_ENUM(rollout_state_t, rollout, s_kinds),
    FIELD_NAT(rollout_state_t, version),
    FIELD_NAT(rollout_state_t, production),
    FIELD_F64(rollout_state_t, percent),
    FIELD_NAT(rollout_state_t, started_ms),
    FIELD_NAT(rollout_state_t, ends_ms),
    FIELD_NAT(rollout_state_t, requests_target),
    FIELD_NAT(rollout_state_t, cand_requests),
    FIELD_NAT(rollout_state_t, cand_errors),
    FIELD_NAT(rollout_state_t, prod_requests),
    FIELD_NAT(rollout_state_t, prod_errors),
    FIELD_F64(rollout_state_t, cand_p99_ms),
    FIELD_F64(rollout_state_t, prod_p99_ms),
    FIELD_NAT(rollout_state_t, compared),
    FIELD_NAT(rollout_state_t, agreed),
    FIELD_STR(rollout_state_t, last),
};
_Static_assert(sizeof(rollout_kind_t) == sizeof(int), "F_ENUM reads an int");

const char *rollout_kind_name(rollout_kind_t kind)
{
    return (unsigned)kind < FIELDS_N(s_kinds) ? s_kinds[kind] : NULL;
}

int rollout_percent_parse(const char *text, double *percent, mlops_err_t *err)
{
    //  digits and a point only: strtod alone would take "nan", "inf", hex
    size_t n = text ? strspn(text, "0123456789.") : 0;
    char *end = NULL;
    double p = n ? strtod(text, &end) : NAN;
    bool whole = n && end == text + n && (!text[n] || (text[n] == '%' && !text[n + 1]));
    if (!whole || !(p > 0 && p <= 100))
        return mlops_err_set(err, MLOPS_EINVAL, "canary percentage '%.32s' is not a number in (0, 100]",
                             text ? text : "");
    *percent = p;
    return 0;
}

int rollout_via_parse(const char *text, rollout_via_t *out, mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (strcmp(text, "direct") == 0)
        return 0;
    char percent[32];
    const char *colon = strncmp(text, "canary:", 7) == 0 ? strchr(text + 7, ':') : NULL;
    size_t n = colon ? (size_t)(colon - text - 7) : 0;
    if (!colon || n == 0 || n >= sizeof percent)
        return mlops_err_set(err, MLOPS_EINVAL, "--promote-via '%.64s': expected direct or "
                             "canary:P%%:DURATION (canary:10%%:10m)", text);
    memcpy(percent, text + 7, n);
    percent[n] = '\0';
    mlops_err_t why;
    if (rollout_percent_parse(percent, &out->percent, &why) || duration_parse(colon + 1, &out->for_ms, &why)) {
        out->percent = 0;
        return mlops_err_set(err, MLOPS_EINVAL, "--promote-via '%.64s': %s", text, why.msg);
    }
    return 0;
}

FIELDS_CODEC(rollout, report, rollout_report_t, s_report)
FIELDS_CODEC(rollout, state, rollout_state_t, s_state)
