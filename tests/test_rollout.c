/*  test_rollout.c: the broker's rollout logic (broker/rollout_reports.c): each
    margin of the decision on both sides, too little evidence, the sum over
    gateways, a restarted gateway, reports for another rollout and PROMOTE's
    rollout keys (--promote-via's grammar: test_rollout_io.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rollout_reports.h"
#include "testing.h"

//  A canary's sum: production 1000 requests, 2 errors (0.2 %), p99 10 ms;
//  the candidate 100 requests, 0 errors, p99 10 ms. It passes every rule.
static rollout_report_t s_sum(void)
{
    return (rollout_report_t){.version = 4,
                              .prod = {.requests = 1000, .errors = 2, .p99_ms = 10},
                              .cand = {.requests = 100, .errors = 0, .p99_ms = 10}};
}

static void test_decide_promotes_sound_figures(void)
{
    rollout_report_t sum = s_sum();
    char why[160];
    CHECK(rollout_decide(&sum, false, why, sizeof why));
    CHECK_STR(why, "errors 0% vs 0.2%, p99 10.0 vs 10.0 ms");
}

static void test_decide_evidence(void)
{
    rollout_report_t sum = s_sum();
    char why[160];
    sum.cand.requests = ROLLOUT_MIN_REQUESTS - 1;
    CHECK(!rollout_decide(&sum, false, why, sizeof why));
    CHECK_STR(why, "too little evidence: 19 requests");
    sum.cand.requests = ROLLOUT_MIN_REQUESTS;
    CHECK(rollout_decide(&sum, false, why, sizeof why));
}

static void test_decide_error_margin(void)
{
    rollout_report_t sum = s_sum();
    char why[160];
    //  0.2 % + 1 point = 1.2 %: 1.2 of 100 is not possible, so 12 of 1000
    sum.cand.requests = 1000;
    sum.cand.errors = 12;
    CHECK(rollout_decide(&sum, false, why, sizeof why));
    sum.cand.errors = 13;
    CHECK(!rollout_decide(&sum, false, why, sizeof why));
    CHECK_STR(why, "error rate 1.3% > 0.2% + 1 point");
    //  production with no requests (a 100 % canary) counts as 0 %
    sum.prod = (rollout_side_t){0};
    sum.cand.errors = 10;
    CHECK(rollout_decide(&sum, false, why, sizeof why));
    sum.cand.errors = 11;
    CHECK(!rollout_decide(&sum, false, why, sizeof why));
    CHECK_STR(why, "error rate 1.1% > 0% + 1 point");
}

static void test_decide_p99_margin(void)
{
    rollout_report_t sum = s_sum();
    char why[160];
    sum.cand.p99_ms = 1.5 * 10 + 5;   //  20 ms: on the margin
    CHECK(rollout_decide(&sum, false, why, sizeof why));
    sum.cand.p99_ms = 20.1;
    CHECK(!rollout_decide(&sum, false, why, sizeof why));
    CHECK_STR(why, "p99 20.1 ms > 1.5 x 10.0 + 5 ms");
    //  not compared when production answered nothing
    sum.prod = (rollout_side_t){0};
    CHECK(rollout_decide(&sum, false, why, sizeof why));
}

static void test_decide_metric_margin(void)
{
    rollout_report_t sum = s_sum();
    char why[160];
    sum.prod.labelled = sum.cand.labelled = ROLLOUT_MIN_LABELLED;
    sum.prod.metric = 0.80;
    sum.cand.metric = 0.785;
    CHECK(rollout_decide(&sum, false, why, sizeof why));
    CHECK_CONTAINS(why, ", accuracy 0.785 vs 0.800");
    sum.cand.metric = 0.77;
    CHECK(!rollout_decide(&sum, false, why, sizeof why));
    CHECK_STR(why, "accuracy 0.770 < 0.800 - 0.02");
    //  too few labelled on one side: the metric is not judged
    sum.cand.labelled = ROLLOUT_MIN_LABELLED - 1;
    CHECK(rollout_decide(&sum, false, why, sizeof why));
    CHECK(strstr(why, "accuracy") == NULL);
    //  regression: MAE may be 10 % higher, not more
    sum.cand.labelled = ROLLOUT_MIN_LABELLED;
    sum.prod.metric = 2.0;
    sum.cand.metric = 2.19;
    CHECK(rollout_decide(&sum, true, why, sizeof why));
    CHECK_CONTAINS(why, "MAE 2.190 vs 2.000");
    sum.cand.metric = 2.21;
    CHECK(!rollout_decide(&sum, true, why, sizeof why));
    CHECK_STR(why, "MAE 2.210 > 1.10 x 2.000");
}

static rollout_state_t s_canary(void)
{
    return (rollout_state_t){.rollout = ROLLOUT_CANARY, .version = 4, .production = 3, .percent = 10,
                             .started_ms = 1000, .ends_ms = 61000};
}

static rollout_report_t s_report(int64_t cand, int64_t cand_err, double p99, int64_t labelled, double acc)
{
    return (rollout_report_t){.version = 4,
                              .prod = {.requests = 9 * cand, .errors = 0, .p99_ms = 3},
                              .cand = {.requests = cand, .errors = cand_err, .p99_ms = p99,
                                       .labelled = labelled, .metric = labelled ? acc : NAN}};
}

static void test_sum_over_gateways(void)
{
    rollout_reports_t *r = rollout_reports_new();
    CHECK(r);
    rollout_state_t def = s_canary();
    rollout_report_t a = s_report(10, 1, 4.0, 10, 0.9), b = s_report(30, 0, 6.0, 30, 0.7), sum;
    mlops_err_t err;
    CHECK_INT(rollout_reports_add(r, &def, "gw-a", &a, &err), 0);
    CHECK_INT(rollout_reports_add(r, &def, "gw-b", &b, &err), 0);
    //  a newer report of gw-a replaces its older one (counters are cumulative)
    a.cand.requests = 20;
    CHECK_INT(rollout_reports_add(r, &def, "gw-a", &a, &err), 0);
    rollout_reports_sum(r, &def, &sum);
    CHECK_INT(sum.cand.requests, 50);
    CHECK_INT(sum.cand.errors, 1);
    CHECK_INT(sum.prod.requests, 9 * 10 + 9 * 30);
    CHECK(sum.cand.p99_ms == 6.0);                     //  the largest
    CHECK_INT(sum.cand.labelled, 40);
    CHECK_NEAR(sum.cand.metric, (10 * 0.9 + 30 * 0.7) / 40, 1e-12);   //  weighted; NaN never leaks
    CHECK(sum.prod.labelled == 0 && sum.prod.metric == 0);
    rollout_state_t state = def;
    rollout_fill(&state, &sum);
    CHECK_INT(state.cand_requests, 50);
    CHECK(state.cand_p99_ms == 6.0);
    rollout_reports_destroy(&r);
    CHECK(r == NULL);
}

static void test_restarted_gateway_stays_counted(void)
{
    rollout_reports_t *r = rollout_reports_new();
    rollout_state_t def = s_canary();
    rollout_report_t before = s_report(15, 0, 3, 0, 0), after = s_report(8, 0, 3, 0, 0), sum;
    mlops_err_t err;
    CHECK_INT(rollout_reports_add(r, &def, "gw-1111", &before, &err), 0);
    //  the gateway restarts: a new id, counters from 0 again
    CHECK_INT(rollout_reports_add(r, &def, "gw-2222", &after, &err), 0);
    rollout_reports_sum(r, &def, &sum);
    CHECK_INT(sum.cand.requests, 23);
    rollout_reports_destroy(&r);
}

static void test_reports_follow_the_rollout(void)
{
    rollout_reports_t *r = rollout_reports_new();
    rollout_state_t def = s_canary();
    rollout_report_t rep = s_report(25, 0, 3, 0, 0), sum;
    mlops_err_t err;
    //  a report for another version is ignored
    rep.version = 5;
    CHECK_INT(rollout_reports_add(r, &def, "gw-a", &rep, &err), 0);
    rollout_reports_sum(r, &def, &sum);
    CHECK_INT(sum.cand.requests, 0);
    rep.version = 4;
    CHECK_INT(rollout_reports_add(r, &def, "gw-a", &rep, &err), 0);
    //  the same version started again later is another rollout: counted afresh
    rollout_state_t again = def;
    again.started_ms = 99000;
    rollout_reports_sum(r, &again, &sum);
    CHECK_INT(sum.cand.requests, 0);
    rollout_reports_sum(r, &def, &sum);
    CHECK_INT(sum.cand.requests, 25);
    //  no gateway id
    CHECK_INT(rollout_reports_add(r, &def, "", &rep, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "gateway");
    //  no rollout: nothing kept
    rollout_state_t none = {.rollout = ROLLOUT_NONE};
    CHECK_INT(rollout_reports_add(r, &none, "gw-a", &rep, &err), 0);
    //  the table is bounded
    char id[32];
    for (int i = 1; i < ROLLOUT_GATEWAYS_MAX; i++) {
        snprintf(id, sizeof id, "gw-%d", i);
        CHECK_INT(rollout_reports_add(r, &def, id, &rep, &err), 0);
    }
    CHECK_INT(rollout_reports_add(r, &def, "one-too-many", &rep, &err), MLOPS_ETOOBIG);
    CHECK_INT(rollout_reports_add(r, &def, "gw-7", &rep, &err), 0);   //  a known one still reports
    rollout_reports_destroy(&r);
}

static void test_due(void)
{
    rollout_state_t def = s_canary();
    rollout_report_t sum = {.cand = {.requests = 1000}};
    CHECK(!rollout_due(&def, &sum, 60999));
    CHECK(rollout_due(&def, &sum, 61000));
    def.ends_ms = 0;
    def.requests_target = 500;
    sum.cand.requests = 499;
    CHECK(!rollout_due(&def, &sum, 1 << 30));
    sum.cand.requests = 500;
    CHECK(rollout_due(&def, &sum, 0));
    def.rollout = ROLLOUT_SHADOW;   //  a shadow has no automatic end
    CHECK(!rollout_due(&def, &sum, 1 << 30));
}

static void test_describe(void)
{
    rollout_state_t def = s_canary();
    char out[64];
    rollout_describe(&def, out, sizeof out);
    CHECK_STR(out, "10% for 1m");
    def.ends_ms = 0, def.requests_target = 500, def.percent = 2.5;
    rollout_describe(&def, out, sizeof out);
    CHECK_STR(out, "2.5% for 500 requests");
    def.rollout = ROLLOUT_SHADOW;
    rollout_describe(&def, out, sizeof out);
    CHECK_STR(out, "");
}

static int s_check(bool shadow, double percent, int64_t for_ms, int64_t requests, mlops_err_t *err)
{
    proto_msg_t m = {.cmd = PROTO_PROMOTE,
                     .promote = {.version = 4, .shadow = shadow, .canary_percent = percent,
                                 .canary_for_ms = for_ms, .canary_requests = requests}};
    return rollout_check_promote(&m, err);
}

static void test_check_promote(void)
{
    mlops_err_t err;
    CHECK_INT(s_check(false, 10, 60000, 0, &err), 0);
    CHECK_INT(s_check(false, 100, 0, 500, &err), 0);
    CHECK_INT(s_check(true, 0, 0, 0, &err), 0);
    CHECK_INT(s_check(false, 0, 0, 0, &err), 0);   //  a plain PROMOTE
    CHECK_INT(s_check(true, 10, 0, 0, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "shadow and canary_percent exclude each other");
    CHECK_INT(s_check(false, 100.5, 0, 0, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "canary_percent 100.5 is not in (0, 100]");
    CHECK_INT(s_check(false, -5, 0, 0, &err), MLOPS_EINVAL);
    CHECK_INT(s_check(false, NAN, 0, 0, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "nan");
    CHECK_INT(s_check(false, 10, 60000, 500, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "canary_for_ms and canary_requests exclude each other");
    CHECK_INT(s_check(true, 0, 60000, 0, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "canary_for_ms needs canary_percent");
    CHECK_INT(s_check(false, 0, 0, 500, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "canary_requests needs canary_percent");
}

int main(void)
{
    RUN(test_decide_promotes_sound_figures);
    RUN(test_decide_evidence);
    RUN(test_decide_error_margin);
    RUN(test_decide_p99_margin);
    RUN(test_decide_metric_margin);
    RUN(test_sum_over_gateways);
    RUN(test_restarted_gateway_stays_counted);
    RUN(test_reports_follow_the_rollout);
    RUN(test_due);
    RUN(test_describe);
    RUN(test_check_promote);
    return TEST_REPORT("test_rollout");
}
