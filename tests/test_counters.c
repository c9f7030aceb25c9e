/*  test_counters.c: gateway/counters.c, the gateway's counters and their
    Prometheus text (GET /metrics). */
#include "counters.h"
#include "testing.h"

static const uint8_t ID_A[] = {0, 1, 2, 3, 4};

static void test_counters_render(void)
{
    counters_t *c = counters_new();
    router_t *r = router_new(4, 3000);
    int a = router_ready(r, ID_A, sizeof ID_A, "host:42", 3, 0);
    router_sent(r, a, 100);
    router_answered(r, a, true);
    counters_observe(c, COUNTERS_PREDICT, 200, 0.0003);
    counters_observe(c, COUNTERS_PREDICT, 200, 0.002);
    counters_observe(c, COUNTERS_PREDICT, 422, 0.0001);
    counters_observe(c, COUNTERS_OTHER, 404, 0.00001);
    CHECK_INT(counters_count(c, COUNTERS_PREDICT, 200), 2);
    CHECK_INT(counters_count(c, COUNTERS_PREDICT, 999), 0);
    counters_gauges_t g = {.in_flight = 1, .queued = 2, .resent = 3};
    size_t len = 0;
    char *text = counters_render(c, r, &g, &len);
    CHECK(text);
    CHECK_INT(len, strlen(text));
    CHECK_CONTAINS(text, "mlops_gateway_requests_total{endpoint=\"/predict\",status=\"200\"} 2\n");
    CHECK_CONTAINS(text, "mlops_gateway_requests_total{endpoint=\"/predict\",status=\"422\"} 1\n");
    CHECK_CONTAINS(text, "mlops_gateway_requests_total{endpoint=\"other\",status=\"404\"} 1\n");
    CHECK_CONTAINS(text, "request_duration_seconds_bucket{endpoint=\"/predict\",le=\"0.0001\"} 1\n");
    CHECK_CONTAINS(text, "request_duration_seconds_bucket{endpoint=\"/predict\",le=\"0.0005\"} 2\n");
    CHECK_CONTAINS(text, "request_duration_seconds_bucket{endpoint=\"/predict\",le=\"+Inf\"} 3\n");
    CHECK_CONTAINS(text, "request_duration_seconds_count{endpoint=\"/predict\"} 3\n");
    CHECK_CONTAINS(text, "mlops_gateway_model_version 3\n");
    CHECK_CONTAINS(text, "mlops_gateway_workers 1\n");
    CHECK_CONTAINS(text, "mlops_gateway_queued 2\n");
    CHECK_CONTAINS(text, "mlops_gateway_resent_total 3\n");
    CHECK_CONTAINS(text, "mlops_infer_records_total{worker=\"host:42\"} 100\n");
    CHECK_CONTAINS(text, "mlops_infer_predictions_total{worker=\"host:42\"} 1\n");
    free(text);
    router_destroy(&r);
    counters_destroy(&c);
    CHECK(c == NULL);
}

//  What is out of range is not counted where it cannot be: an unknown
//  endpoint counts as other, a status outside 100..599 only in the latency.
static void test_counters_out_of_range(void)
{
    counters_t *c = counters_new();
    CHECK(c);
    counters_observe(c, (counters_endpoint_t)99, 200, 0.001);
    CHECK_INT(counters_count(c, COUNTERS_OTHER, 200), 1);
    CHECK_INT(counters_count(c, (counters_endpoint_t)99, 200), 0);
    CHECK_INT(counters_count(c, COUNTERS_ENDPOINTS, 200), 0);
    counters_observe(c, COUNTERS_HEALTH, 99, 20.0);    //  over the last bound too
    counters_observe(c, COUNTERS_HEALTH, 600, 0.0);
    CHECK_INT(counters_count(c, COUNTERS_HEALTH, 99), 0);
    CHECK_INT(counters_count(c, COUNTERS_HEALTH, 600), 0);
    router_t *r = router_new(1, 3000);
    counters_gauges_t g = {0};
    size_t len = 0;
    char *text = counters_render(c, r, &g, &len);
    CHECK(text);
    CHECK(!strstr(text, "endpoint=\"/health\",status="));
    CHECK_CONTAINS(text, "request_duration_seconds_bucket{endpoint=\"/health\",le=\"10\"} 1\n");
    CHECK_CONTAINS(text, "request_duration_seconds_bucket{endpoint=\"/health\",le=\"+Inf\"} 2\n");
    CHECK_CONTAINS(text, "request_duration_seconds_count{endpoint=\"/health\"} 2\n");
    //  no worker: the model version is 0 and the per-worker families are empty
    CHECK_CONTAINS(text, "mlops_gateway_model_version 0\n");
    CHECK_CONTAINS(text, "# TYPE mlops_infer_in_flight gauge\n");
    CHECK(!strstr(text, "worker=\""));
    free(text);
    router_destroy(&r);
    counters_destroy(&c);
    counters_destroy(&c);   //  NULL: nothing
    counters_destroy(NULL);
}

int main(void)
{
    RUN(test_counters_render);
    RUN(test_counters_out_of_range);
    return TEST_REPORT("test_counters");
}
