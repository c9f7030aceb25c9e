/*  test_rollout_gw.c: gateway/rollout.c, the gateway's side of a shadow or
    canary: the canary's share (within binomial bounds, fixed keys) and its
    stickiness, the broker's word applied (counters restart only with a
    new rollout, a state it cannot route is none), the counters (errors,
    p99 from the histogram), shadow copies (compared either way round,
    never named like a client's request, expired, lost, table full), the
    live metric from the feedback log since the start, and /metrics. */
#include "feedback.h"
#include "requests.h"
#include "rollout.h"
#include "testing.h"

#include <inttypes.h>
#include <math.h>

static const rollout_state_t CANARY10 = {ROLLOUT_CANARY, 4, 3, 10.0, 1000};
static const rollout_state_t SHADOW4 = {ROLLOUT_SHADOW, 4, 3, 0, 2000};

//  Applies state and ends its warm-up at once (no worker to warm).
static void s_apply(rollout_t *r, const rollout_state_t *state)
{
    rollout_apply(r, state, NULL);
    rollout_warm_sent(r);
}

//  A fixed-seed key: what a client's request id looks like.
static void s_key(uint64_t *state, char *out, size_t size)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    snprintf(out, size, "%016" PRIx64 "-%06" PRIu64, z ^ (z >> 31), *state % 1000000);
}

//  Candidate requests among n fixed keys for state.
static size_t s_routed(rollout_t *r, size_t n)
{
    uint64_t seed = 42;
    size_t cand = 0;
    char key[64];
    for (size_t i = 0; i < n; i++) {
        s_key(&seed, key, sizeof key);
        cand += rollout_route(r, key, strlen(key)) == ROLLOUT_TO_CAND;
    }
    return cand;
}

//  The share is P % within 5 standard deviations of the binomial, at 10 %,
//  0.5 % and 100 %; no rollout and a shadow send nothing to the candidate.
static void test_route_share(void)
{
    rollout_t *r = rollout_new(1);
    size_t n = 20000;
    CHECK_INT(rollout_route(r, "k", 1), ROLLOUT_TO_NONE);
    CHECK_INT(s_routed(r, n), 0);
    s_apply(r, &CANARY10);
    double sd = sqrt(n * 0.1 * 0.9);
    size_t got = s_routed(r, n);
    CHECK(fabs((double)got - n * 0.1) < 5 * sd);
    rollout_state_t small = CANARY10;
    small.percent = 0.5;
    s_apply(r, &small);
    got = s_routed(r, n);
    CHECK(got > 0 && fabs((double)got - n * 0.005) < 5 * sqrt(n * 0.005 * 0.995));
    rollout_state_t all = CANARY10;
    all.percent = 100;
    s_apply(r, &all);
    CHECK_INT(s_routed(r, n), n);
    rollout_apply(r, &SHADOW4, NULL);
    CHECK_INT(s_routed(r, n), 0);
    CHECK_INT(rollout_route(r, "k", 1), ROLLOUT_TO_PROD);
    rollout_destroy(&r);
    CHECK(r == NULL);
}

//  One key always goes the same way within a rollout; another version
//  draws other keys (the version is in the hash).
static void test_route_sticky(void)
{
    rollout_t *r = rollout_new(1);
    s_apply(r, &CANARY10);
    uint64_t seed = 7;
    char key[64];
    size_t moved = 0;
    for (int i = 0; i < 2000; i++) {
        s_key(&seed, key, sizeof key);
        rollout_target_t first = rollout_route(r, key, strlen(key));
        for (int k = 0; k < 3; k++)
            CHECK_INT(rollout_route(r, key, strlen(key)), first);
        moved += rollout_bucket(4, key, strlen(key)) != rollout_bucket(5, key, strlen(key));
        CHECK(rollout_bucket(4, key, strlen(key)) < ROLLOUT_BUCKETS);
    }
    CHECK(moved > 1900);
    rollout_destroy(&r);
}

//  Counters restart when (kind, version, started_ms) changes, not when the
//  same rollout is polled again; what cannot be routed is none.
static void test_apply(void)
{
    rollout_t *r = rollout_new(99);
    CHECK_STR(rollout_gateway_id(r), "gw-0000000000000063");
    rollout_t *other = rollout_new(0);
    CHECK(strncmp(rollout_gateway_id(other), "gw-", 3) == 0);
    CHECK_INT(strlen(rollout_gateway_id(other)), 19);
    rollout_destroy(&other);
    CHECK(rollout_apply(r, &CANARY10, NULL));
    rollout_count(r, ROLLOUT_TO_PROD, 200, 1000);
    CHECK(!rollout_apply(r, &CANARY10, NULL));
    CHECK_INT(rollout_report(r, NULL).prod.requests, 1);
    rollout_state_t later = CANARY10;
    later.started_ms = 5000;
    CHECK(rollout_apply(r, &later, NULL));
    CHECK_INT(rollout_report(r, NULL).prod.requests, 0);
    CHECK_INT(rollout_report(r, NULL).version, 4);
    rollout_state_t bad[] = {{ROLLOUT_CANARY, 4, 3, 0, 1}, {ROLLOUT_CANARY, 4, 3, 100.5, 1},
                             {ROLLOUT_CANARY, 4, 3, NAN, 1}, {ROLLOUT_SHADOW, 0, 3, 0, 1},
                             {(rollout_kind_t)7, 4, 3, 10, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rollout_apply(r, &bad[i], NULL);
        CHECK_INT(rollout_state(r)->rollout, ROLLOUT_NONE);
        CHECK_INT(rollout_state(r)->version, 0);
        CHECK_INT(rollout_state(r)->production, 3);
        CHECK_INT(rollout_report(r, NULL).version, 0);
    }
    rollout_destroy(&r);
}

//  Errors: 5xx on either side, 404 on the candidate's only; other 4xx are
//  answers. p99 is the upper edge of its bucket: at most 10 % high.
static void test_counts(void)
{
    rollout_t *r = rollout_new(1);
    rollout_apply(r, &CANARY10, NULL);
    CHECK(rollout_report(r, NULL).prod.p99_ms == 0);   //  no requests
    for (int i = 0; i < 990; i++)
        rollout_count(r, ROLLOUT_TO_PROD, 200, 2000);
    for (int i = 0; i < 10; i++)
        rollout_count(r, ROLLOUT_TO_PROD, 200, 80000);
    rollout_count(r, ROLLOUT_TO_PROD, 404, 2000);
    rollout_count(r, ROLLOUT_TO_PROD, 503, 2000);
    rollout_count(r, ROLLOUT_TO_CAND, 404, 2000);
    rollout_count(r, ROLLOUT_TO_CAND, 422, 2000);
    rollout_count(r, ROLLOUT_TO_CAND, 500, 100);
    rollout_count(r, ROLLOUT_TO_NONE, 500, 100);
    rollout_report_t rep = rollout_report(r, NULL);
    CHECK_INT(rep.prod.requests, 1002);
    CHECK_INT(rep.prod.errors, 1);
    CHECK_INT(rep.cand.requests, 3);
    CHECK_INT(rep.cand.errors, 2);
    CHECK(rep.prod.p99_ms >= 2.0 && rep.prod.p99_ms <= 2.2);
    CHECK(rep.cand.p99_ms >= 2.0 && rep.cand.p99_ms <= 2.2);
    for (int i = 0; i < 20; i++)
        rollout_count(r, ROLLOUT_TO_PROD, 200, 80000);
    rep = rollout_report(r, NULL);
    CHECK(rep.prod.p99_ms >= 80 && rep.prod.p99_ms <= 88);
    rollout_count(r, ROLLOUT_TO_CAND, 200, INT64_MAX / 2);   //  the last bucket holds the rest
    rollout_count(r, ROLLOUT_TO_CAND, 200, -5);
    CHECK_INT(rollout_report(r, NULL).cand.requests, 5);
    rollout_destroy(&r);
}

static const int64_t PROD_CLASSES[] = {1, 0, 1, 1}, CAND_CLASSES[] = {1, 1, 1, 0};

//  A copy and production's answer meet in either order; records are
//  compared one by one; a copy's id never names a request of the table
//  (so it can never answer a client), and a late one is ignored.
static void test_shadow_compare(void)
{
    rollout_t *r = rollout_new(1);
    rollout_apply(r, &SHADOW4, NULL);
    rollout_answer_t prod = {PROD_CLASSES, NULL, 4}, cand = {CAND_CLASSES, NULL, 4};
    uint64_t a = rollout_shadow_open(r, 3, 1000, 50);
    CHECK(a != 0 && rollout_shadow_is(a));
    CHECK_INT(rollout_shadow_worker(r, a), 3);
    requests_t *table = requests_new(8);
    CHECK(requests_find(table, a) == NULL);
    request_t *req = requests_take(table, NULL, 0);
    CHECK(!rollout_shadow_is(requests_id(table, req)));
    requests_destroy(&table);
    rollout_shadow_production(r, a, true, &prod);
    rollout_shadow_answered(r, a, 200, &cand, 3000);
    CHECK_INT(rollout_shadows(r), 0);
    CHECK_INT(rollout_shadow_worker(r, a), -1);
    rollout_shadow_answered(r, a, 200, &cand, 4000);   //  late: no slot
    uint64_t b = rollout_shadow_open(r, 3, 1000, 50);
    CHECK(b != a);   //  the same slot, another generation
    rollout_shadow_answered(r, b, 200, &cand, 2000);
    CHECK_INT(rollout_shadow_worker(r, b), -1);   //  answered: the credit is back
    CHECK_INT(rollout_shadows(r), 1);
    rollout_shadow_production(r, b, true, &prod);
    CHECK_INT(rollout_shadows(r), 0);
    rollout_report_t rep = rollout_report(r, NULL);
    CHECK_INT(rep.compared, 8);
    CHECK_INT(rep.agreed, 4);
    CHECK_INT(rep.cand.requests, 2);
    CHECK(rep.cand.p99_ms >= 2 && rep.cand.p99_ms <= 2.2);   //  from production's first byte
    CHECK_INT(rep.prod.requests, 0);   //  production is counted by the caller
    rollout_destroy(&r);
}

//  Regression values agree within 1e-6 relative; a classifier never agrees
//  with a regression; lengths that differ compare what both have.
//  A copy sent for one rollout and answered in the next is not counted in
//  the new one's figures (they were reset when it began).
static void test_shadow_of_an_earlier_rollout(void)
{
    rollout_t *r = rollout_new(1);
    rollout_apply(r, &SHADOW4, NULL);
    rollout_answer_t prod = {PROD_CLASSES, NULL, 4}, cand = {CAND_CLASSES, NULL, 4};
    uint64_t a = rollout_shadow_open(r, 2, 0, 50);
    rollout_state_t next = SHADOW4;
    next.started_ms += 1000;   //  a new shadow of the same version
    CHECK(rollout_apply(r, &next, NULL));
    rollout_shadow_production(r, a, true, &prod);
    rollout_shadow_answered(r, a, 200, &cand, 10);
    CHECK_INT(rollout_shadow_worker(r, a), -1);   //  its credit is back all the same
    CHECK_INT(rollout_shadows(r), 0);
    rollout_report_t rep = rollout_report(r, NULL);
    CHECK_INT(rep.cand.requests, 0);
    CHECK_INT(rep.compared, 0);
    rollout_destroy(&r);
}

static void test_shadow_values(void)
{
    rollout_t *r = rollout_new(1);
    rollout_apply(r, &SHADOW4, NULL);
    const double p[] = {100.0, 0.0, 5.0}, c[] = {100.00001, 0.0, 5.1};
    rollout_answer_t prod = {NULL, p, 3}, cand = {NULL, c, 3}, cls = {PROD_CLASSES, NULL, 2};
    uint64_t a = rollout_shadow_open(r, 0, 0, 50);
    rollout_shadow_answered(r, a, 200, &cand, 10);
    rollout_shadow_production(r, a, true, &prod);
    CHECK_INT(rollout_report(r, NULL).compared, 3);
    CHECK_INT(rollout_report(r, NULL).agreed, 2);
    a = rollout_shadow_open(r, 0, 0, 50);
    rollout_shadow_production(r, a, true, &prod);
    rollout_shadow_answered(r, a, 200, &cls, 10);
    CHECK_INT(rollout_report(r, NULL).compared, 6);
    CHECK_INT(rollout_report(r, NULL).agreed, 2);
    rollout_destroy(&r);
}

//  Production failing, the copy failing, its deadline passing, its worker
//  lost, and a full table: slots come back, and what is counted is said.
static void test_shadow_ends(void)
{
    rollout_t *r = rollout_new(1);
    rollout_apply(r, &SHADOW4, NULL);
    rollout_answer_t cand = {CAND_CLASSES, NULL, 4};
    uint64_t a = rollout_shadow_open(r, 1, 0, 50);
    rollout_shadow_production(r, a, false, NULL);
    CHECK_INT(rollout_shadows(r), 1);   //  the copy is still out
    rollout_shadow_answered(r, a, 200, &cand, 10);
    CHECK_INT(rollout_shadows(r), 0);
    a = rollout_shadow_open(r, 1, 0, 50);
    rollout_shadow_answered(r, a, 500, NULL, 10);
    CHECK_INT(rollout_shadows(r), 0);
    CHECK_INT(rollout_report(r, NULL).cand.errors, 1);
    a = rollout_shadow_open(r, 2, 0, 50);
    uint64_t b = rollout_shadow_open(r, 2, 0, 500);
    int worker = 0;
    CHECK_INT(rollout_shadow_expire(r, 49, &worker), 0);
    CHECK_INT(worker, -1);
    CHECK(rollout_shadow_expire(r, 50, &worker) == a);
    CHECK_INT(worker, 2);
    CHECK_INT(rollout_report(r, NULL).cand.errors, 2);   //  as a 504
    CHECK_INT(rollout_shadow_lost(r, 2), 1);
    CHECK_INT(rollout_shadow_worker(r, b), -1);
    CHECK_INT(rollout_report(r, NULL).cand.requests, 3);   //  a lost worker's copy is not counted
    for (int i = 0; i < ROLLOUT_SHADOWS_MAX; i++)
        CHECK(rollout_shadow_open(r, 0, 0, 50) != 0);
    CHECK_INT(rollout_shadow_open(r, 0, 0, 50), 0);
    rollout_skip(r);
    CHECK_INT(rollout_report(r, NULL).skipped, 2);
    CHECK_INT(rollout_report(r, NULL).compared, 0);
    rollout_destroy(&r);   //  frees the slots still in use (ASan checks)
}

//  Labelled rows and the metric are the feedback log's since the rollout
//  began: accuracy for a classifier, MAE for a regression.
static void test_feedback_metric(void)
{
    feedback_t *fb = feedback_new(64, 1, 1);
    const feedback_label_t one = {FEEDBACK_LABEL_NUMBER, 1};
    const char *why;
    feedback_log(fb, "old", 0, 3, FEEDBACK_BINARY, 1, 0.9, 1);
    feedback_label(fb, "old", 0, &one, &why);
    rollout_t *r = rollout_new(1);
    rollout_apply(r, &CANARY10, fb);
    rollout_report_t rep = rollout_report(r, fb);
    CHECK_INT(rep.prod.labelled, 0);
    CHECK(rep.prod.metric == 0);
    const char *ids[] = {"p1", "p2", "p3", "p4"};
    for (int i = 0; i < 4; i++) {
        feedback_log(fb, ids[i], 0, 3, FEEDBACK_BINARY, i < 3, 0.5, 2);
        feedback_label(fb, ids[i], 0, &one, &why);
    }
    feedback_log(fb, "c1", 0, 4, FEEDBACK_REGRESSION, 0, 2.5, 2);
    feedback_label(fb, "c1", 0, &one, &why);
    rep = rollout_report(r, fb);
    CHECK_INT(rep.prod.labelled, 4);
    CHECK(fabs(rep.prod.metric - 0.75) < 1e-12);
    CHECK_INT(rep.cand.labelled, 1);
    CHECK(fabs(rep.cand.metric - 1.5) < 1e-12);
    rollout_destroy(&r);
    feedback_destroy(&fb);
}

static void test_metrics_text(void)
{
    rollout_t *r = rollout_new(1);
    size_t len = 0;
    char *text = rollout_metrics(r, NULL, &len);
    CHECK_CONTAINS(text, "mlops_rollout_info{rollout=\"none\",version=\"0\",percent=\"0\"} 1\n");
    CHECK(strstr(text, "mlops_rollout_p99_seconds{") == NULL);   //  no requests: no p99
    CHECK_INT(strlen(text), len);
    free(text);
    rollout_apply(r, &CANARY10, NULL);
    rollout_count(r, ROLLOUT_TO_CAND, 500, 1000);
    rollout_skip(r);
    text = rollout_metrics(r, NULL, &len);
    CHECK_CONTAINS(text, "mlops_rollout_info{rollout=\"canary\",version=\"4\",percent=\"10\"} 1\n");
    CHECK_CONTAINS(text, "mlops_rollout_warming 1\n");
    CHECK_CONTAINS(text, "mlops_rollout_requests_total{side=\"cand\"} 1\n");
    CHECK_CONTAINS(text, "mlops_rollout_errors_total{side=\"cand\"} 1\n");
    CHECK_CONTAINS(text, "mlops_rollout_requests_total{side=\"prod\"} 0\n");
    CHECK_CONTAINS(text, "mlops_rollout_p99_seconds{side=\"cand\"} 0.00");
    CHECK_CONTAINS(text, "mlops_rollout_shadow_total{result=\"skipped\"} 1\n");
    CHECK(strstr(text, "mlops_rollout_metric{") == NULL);
    free(text);
    rollout_destroy(&r);
}

//  A new rollout warms up: the canary routes nothing to the candidate
//  until every warm-up copy is back (answered, failed, expired or lost),
//  and those copies are neither counted nor compared.
static void test_warm_up(void)
{
    rollout_t *r = rollout_new(1);
    rollout_state_t all = CANARY10;
    all.percent = 100;
    rollout_apply(r, &all, NULL);
    CHECK(rollout_warming(r));
    CHECK_INT(rollout_route(r, "k", 1), ROLLOUT_TO_PROD);
    uint64_t a = rollout_warm_open(r, 0, 50), b = rollout_warm_open(r, 1, 50);
    CHECK(a && b && rollout_shadow_is(a));
    rollout_warm_sent(r);
    CHECK_INT(rollout_warm_open(r, 2, 50), 0);   //  once per rollout
    rollout_answer_t cand = {CAND_CLASSES, NULL, 4};
    rollout_shadow_answered(r, a, 200, &cand, 10);
    CHECK(rollout_warming(r));
    CHECK_INT(rollout_route(r, "k", 1), ROLLOUT_TO_PROD);
    int worker;
    CHECK(rollout_shadow_expire(r, 50, &worker) == b);
    CHECK_INT(worker, 1);   //  its credit to give back
    CHECK(!rollout_warming(r));
    CHECK_INT(rollout_route(r, "k", 1), ROLLOUT_TO_CAND);
    rollout_report_t rep = rollout_report(r, NULL);
    CHECK_INT(rep.cand.requests, 0);
    CHECK_INT(rep.cand.errors, 0);
    CHECK_INT(rep.compared, 0);
    //  the next rollout warms up again; a lost worker's warm-up is back too
    rollout_state_t next = all;
    next.started_ms = 9999;
    rollout_apply(r, &next, NULL);
    CHECK(rollout_warming(r));
    CHECK(rollout_warm_open(r, 3, 50) != 0);
    rollout_warm_sent(r);
    CHECK_INT(rollout_shadow_lost(r, 3), 1);
    CHECK(!rollout_warming(r));
    rollout_destroy(&r);
}

int main(void)
{
    RUN(test_route_share);
    RUN(test_route_sticky);
    RUN(test_apply);
    RUN(test_counts);
    RUN(test_shadow_compare);
    RUN(test_shadow_of_an_earlier_rollout);
    RUN(test_shadow_values);
    RUN(test_shadow_ends);
    RUN(test_feedback_metric);
    RUN(test_metrics_text);
    RUN(test_warm_up);
    return TEST_REPORT("test_rollout_gw");
}
