/*  rollout_reports.c: see rollout_reports.h. The report table is a small array searched by
    gateway id: a rollout sees a handful of gateways (one per process
    start), and each reports once a second. */
#include "rollout_reports.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

typedef struct {
    char gateway[PROTO_GATEWAY_ID_MAX + 1];  //  its instance id
    rollout_report_t report;                 //  its latest report
} s_entry_t;

struct rollout_reports {
    int64_t version;          //  the rollout the table holds: candidate ...
    int64_t started_ms;       //  ... and start; 0 = none
    s_entry_t *entries;       //  ROLLOUT_GATEWAYS_MAX, n used
    size_t n;
};

rollout_reports_t *rollout_reports_new(void)
{
    rollout_reports_t *self = calloc(1, sizeof *self);
    if (self)
        self->entries = calloc(ROLLOUT_GATEWAYS_MAX, sizeof *self->entries);
    if (self && !self->entries)
        rollout_reports_destroy(&self);
    return self;
}

void rollout_reports_destroy(rollout_reports_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->entries);
    free(*p);
    *p = NULL;
}

bool rollout_requested(const proto_msg_t *promote)
{
    assert(promote->cmd == PROTO_PROMOTE);
    return promote->promote.shadow || promote->promote.canary_percent != 0;
}

int rollout_check_promote(const proto_msg_t *promote, mlops_err_t *err)
{
    double p = promote->promote.canary_percent;
    bool canary = p != 0, timed = promote->promote.canary_for_ms > 0,
         counted = promote->promote.canary_requests > 0;
    if (promote->promote.shadow && canary)
        return mlops_err_set(err, MLOPS_EINVAL, "shadow and canary_percent exclude each other");
    if (canary && !(p > 0 && p <= 100))   //  NaN fails both comparisons
        return mlops_err_set(err, MLOPS_EINVAL, "canary_percent %g is not in (0, 100]", p);
    if ((timed || counted) && !canary)
        return mlops_err_set(err, MLOPS_EINVAL, "%s needs canary_percent",
                             timed ? "canary_for_ms" : "canary_requests");
    if (timed && counted)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "canary_for_ms and canary_requests exclude each other: one ends the canary");
    return 0;
}

//  Empties the table when it holds another rollout than def.
static void s_follow(rollout_reports_t *self, const rollout_state_t *def)
{
    if (self->version == def->version && self->started_ms == def->started_ms)
        return;
    self->version = def->version;
    self->started_ms = def->started_ms;
    self->n = 0;
}

int rollout_reports_add(rollout_reports_t *self, const rollout_state_t *def, const char *gateway,
                   const rollout_report_t *report, mlops_err_t *err)
{
    assert(self && def && gateway && report);
    if (!*gateway)
        return mlops_err_set(err, MLOPS_EINVAL, "a report needs the gateway's id (key gateway)");
    if (def->rollout == ROLLOUT_NONE || report->version != def->version)
        return 0;
    s_follow(self, def);
    size_t i = 0;
    while (i < self->n && strcmp(self->entries[i].gateway, gateway) != 0)
        i++;
    if (i == ROLLOUT_GATEWAYS_MAX)
        return mlops_err_set(err, MLOPS_ETOOBIG, "%d gateways reported on this rollout already: "
                             "no room for %s", ROLLOUT_GATEWAYS_MAX, gateway);
    if (i == self->n) {
        snprintf(self->entries[i].gateway, sizeof self->entries[i].gateway, "%s", gateway);
        self->n++;
    }
    self->entries[i].report = *report;
    return 0;
}

//  a + b for counts >= 0 a peer sent: saturated, never a signed overflow.
static int64_t s_sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

//  Adds side b into a: counts summed, p99 the largest, metric weighted.
static void s_add_side(rollout_side_t *a, const rollout_side_t *b)
{
    int64_t labelled = s_sat_add(a->labelled, b->labelled);
    if (labelled > 0)
        a->metric = (a->metric * (double)a->labelled + (b->labelled ? b->metric * (double)b->labelled : 0))
                    / (double)labelled;
    a->labelled = labelled;
    a->requests = s_sat_add(a->requests, b->requests);
    a->errors = s_sat_add(a->errors, b->errors);
    a->p99_ms = fmax(a->p99_ms, b->p99_ms);
}

void rollout_reports_sum(const rollout_reports_t *self, const rollout_state_t *def, rollout_report_t *sum)
{
    memset(sum, 0, sizeof *sum);
    sum->version = def->version;
    if (self->version != def->version || self->started_ms != def->started_ms)
        return;
    for (size_t i = 0; i < self->n; i++) {
        const rollout_report_t *r = &self->entries[i].report;
        s_add_side(&sum->prod, &r->prod);
        s_add_side(&sum->cand, &r->cand);
        sum->compared = s_sat_add(sum->compared, r->compared);
        sum->agreed = s_sat_add(sum->agreed, r->agreed);
        sum->skipped = s_sat_add(sum->skipped, r->skipped);
    }
}

void rollout_fill(rollout_state_t *state, const rollout_report_t *sum)
{
    state->cand_requests = sum->cand.requests;
    state->cand_errors = sum->cand.errors;
    state->prod_requests = sum->prod.requests;
    state->prod_errors = sum->prod.errors;
    state->cand_p99_ms = sum->cand.p99_ms;
    state->prod_p99_ms = sum->prod.p99_ms;
    state->compared = sum->compared;
    state->agreed = sum->agreed;
}

bool rollout_due(const rollout_state_t *def, const rollout_report_t *sum, int64_t now_ms)
{
    if (def->rollout != ROLLOUT_CANARY)
        return false;
    return (def->ends_ms > 0 && now_ms >= def->ends_ms)
           || (def->requests_target > 0 && sum->cand.requests >= def->requests_target);
}

//  Error rate of a side in percent; 0 without requests.
static double s_error_pct(const rollout_side_t *s)
{
    return s->requests ? 100.0 * (double)s->errors / (double)s->requests : 0;
}

//  The metric rule; true when it holds (or cannot be judged). why gets
//  the failure, or the comparison when judged.
static bool s_metric_ok(const rollout_report_t *sum, bool regression, char *why, size_t size)
{
    const rollout_side_t *c = &sum->cand, *p = &sum->prod;
    why[0] = '\0';
    if (c->labelled < ROLLOUT_MIN_LABELLED || p->labelled < ROLLOUT_MIN_LABELLED)
        return true;
    const char *name = regression ? "MAE" : "accuracy";
    bool ok = regression ? !(c->metric > ROLLOUT_MAE_FACTOR * p->metric)
                         : !(c->metric < p->metric - ROLLOUT_METRIC_MARGIN);
    if (ok)
        snprintf(why, size, ", %s %.3f vs %.3f", name, c->metric, p->metric);
    else if (regression)
        snprintf(why, size, "MAE %.3f > %.2f x %.3f", c->metric, ROLLOUT_MAE_FACTOR, p->metric);
    else
        snprintf(why, size, "accuracy %.3f < %.3f - %.2f", c->metric, p->metric, ROLLOUT_METRIC_MARGIN);
    return ok;
}

bool rollout_decide(const rollout_report_t *sum, bool regression, char *why, size_t size)
{
    const rollout_side_t *c = &sum->cand, *p = &sum->prod;
    if (c->requests < ROLLOUT_MIN_REQUESTS) {
        snprintf(why, size, "too little evidence: %lld requests", (long long)c->requests);
        return false;
    }
    double ce = s_error_pct(c), pe = s_error_pct(p);
    if (ce > pe + ROLLOUT_ERROR_POINTS) {
        snprintf(why, size, "error rate %.2g%% > %.2g%% + %g point", ce, pe, ROLLOUT_ERROR_POINTS);
        return false;
    }
    if (p->requests > 0 && c->p99_ms > ROLLOUT_P99_FACTOR * p->p99_ms + ROLLOUT_P99_SLACK_MS) {
        snprintf(why, size, "p99 %.1f ms > %.1f x %.1f + %g ms", c->p99_ms, ROLLOUT_P99_FACTOR, p->p99_ms,
                 ROLLOUT_P99_SLACK_MS);
        return false;
    }
    char metric[96];
    bool ok = s_metric_ok(sum, regression, metric, sizeof metric);
    if (!ok)
        snprintf(why, size, "%s", metric);
    else
        snprintf(why, size, "errors %.2g%% vs %.2g%%, p99 %.1f vs %.1f ms%s", ce, pe, c->p99_ms, p->p99_ms,
                 metric);
    return ok;
}

void rollout_describe(const rollout_state_t *def, char *out, size_t size)
{
    char span[48] = "";
    if (def->ends_ms > 0) {
        char d[32];
        snprintf(span, sizeof span, " for %s", duration_format(def->ends_ms - def->started_ms, d, sizeof d));
    } else if (def->requests_target > 0) {
        snprintf(span, sizeof span, " for %lld requests", (long long)def->requests_target);
    }
    if (def->rollout == ROLLOUT_CANARY)
        snprintf(out, size, "%g%%%s", def->percent, span);
    else
        snprintf(out, size, "%s", "");
}
