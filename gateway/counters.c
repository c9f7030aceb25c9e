/*  counters.c: the gateway's counters and the Prometheus text format (see
    counters.h). */
#include "counters.h"
#include "vec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MIN 100
#define STATUS_MAX 599

static const char *s_endpoint_names[COUNTERS_ENDPOINTS] = {
    "/health", "/predict", "/predict/batch", "/metrics", "/api", "/static", "/v2", "/feedback", "other"};
static const double s_bounds_sec[COUNTERS_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct counters {
    uint64_t by_status[COUNTERS_ENDPOINTS][STATUS_MAX - STATUS_MIN + 1]; //  answers
    uint64_t buckets[COUNTERS_ENDPOINTS][COUNTERS_BUCKETS + 1];          //  last is +Inf
    double sum_sec[COUNTERS_ENDPOINTS];                                  //  latency sum
    uint64_t count[COUNTERS_ENDPOINTS];                                  //  latency count
};

counters_t *counters_new(void)
{
    return calloc(1, sizeof(counters_t));
}

void counters_destroy(counters_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

void counters_observe(counters_t *self, counters_endpoint_t ep, int status, double seconds)
{
    if (ep >= COUNTERS_ENDPOINTS)
        ep = COUNTERS_OTHER;
    if (status >= STATUS_MIN && status <= STATUS_MAX)
        self->by_status[ep][status - STATUS_MIN]++;
    size_t b = 0;
    while (b < COUNTERS_BUCKETS && seconds > s_bounds_sec[b])
        b++;
    self->buckets[ep][b]++;
    self->sum_sec[ep] += seconds;
    self->count[ep]++;
}

uint64_t counters_count(const counters_t *self, counters_endpoint_t ep, int status)
{
    if (ep >= COUNTERS_ENDPOINTS || status < STATUS_MIN || status > STATUS_MAX)
        return 0;
    return self->by_status[ep][status - STATUS_MIN];
}

typedef struct {
    char *data;   //  malloc'd text
    size_t len;   //  bytes used
    size_t cap;   //  bytes allocated
    bool failed;  //  out of memory: data freed
} s_text_t;

static void s_printf(s_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_printf(s_text_t *t, const char *fmt, ...)
{
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            break;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        if (vec_reserve_(&t->data, &t->cap, t->len, (size_t)n + 1, 1) != 0) {
            t->failed = true;
            break;
        }
    }
    free(t->data);
    t->data = NULL;
}

static void s_render_requests(s_text_t *t, const counters_t *self)
{
    s_printf(t, "# HELP mlops_gateway_requests_total HTTP requests answered, by endpoint and status.\n"
                "# TYPE mlops_gateway_requests_total counter\n");
    for (int ep = 0; ep < COUNTERS_ENDPOINTS; ep++)
        for (int s = 0; s <= STATUS_MAX - STATUS_MIN; s++)
            if (self->by_status[ep][s])
                s_printf(t, "mlops_gateway_requests_total{endpoint=\"%s\",status=\"%d\"} %" PRIu64 "\n",
                         s_endpoint_names[ep], s + STATUS_MIN, self->by_status[ep][s]);
}

static void s_render_latency(s_text_t *t, const counters_t *self)
{
    s_printf(t, "# HELP mlops_gateway_request_duration_seconds Time from request to answer.\n"
                "# TYPE mlops_gateway_request_duration_seconds histogram\n");
    for (int ep = 0; ep < COUNTERS_ENDPOINTS; ep++) {
        const char *name = s_endpoint_names[ep];
        uint64_t cum = 0;
        for (int b = 0; b < COUNTERS_BUCKETS; b++) {
            cum += self->buckets[ep][b];
            s_printf(t, "mlops_gateway_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %"
                     PRIu64 "\n", name, s_bounds_sec[b], cum);
        }
        s_printf(t, "mlops_gateway_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %" PRIu64
                 "\nmlops_gateway_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n"
                 "mlops_gateway_request_duration_seconds_count{endpoint=\"%s\"} %" PRIu64 "\n",
                 name, self->count[ep], name, self->sum_sec[ep], name, self->count[ep]);
    }
}

static void s_render_gauges(s_text_t *t, const router_t *router, const counters_gauges_t *g)
{
    s_printf(t, "# HELP mlops_gateway_model_version Model version being served (latest announced).\n"
                "# TYPE mlops_gateway_model_version gauge\nmlops_gateway_model_version %" PRId64 "\n"
                "# HELP mlops_gateway_workers Live inference workers.\n"
                "# TYPE mlops_gateway_workers gauge\nmlops_gateway_workers %zu\n"
                "# HELP mlops_gateway_workers_serving Live inference workers holding a model.\n"
                "# TYPE mlops_gateway_workers_serving gauge\nmlops_gateway_workers_serving %zu\n"
                "# HELP mlops_gateway_in_flight Requests at a worker, not answered yet.\n"
                "# TYPE mlops_gateway_in_flight gauge\nmlops_gateway_in_flight %zu\n"
                "# HELP mlops_gateway_queued Requests waiting for a worker.\n"
                "# TYPE mlops_gateway_queued gauge\nmlops_gateway_queued %zu\n"
                "# HELP mlops_gateway_resent_total Requests re-sent after their worker died.\n"
                "# TYPE mlops_gateway_resent_total counter\nmlops_gateway_resent_total %" PRIu64 "\n"
                "# HELP mlops_gateway_late_answers_total Worker answers for requests already settled.\n"
                "# TYPE mlops_gateway_late_answers_total counter\nmlops_gateway_late_answers_total %" PRIu64 "\n"
                "# HELP mlops_gateway_bad_frames_total Backend frames that failed to decode.\n"
                "# TYPE mlops_gateway_bad_frames_total counter\nmlops_gateway_bad_frames_total %" PRIu64 "\n",
             router_version(router), router_live(router), router_serving(router), g->in_flight,
             g->queued, g->resent, g->late, g->bad_frames);
}

//  One family of per-worker figures; field picks the value.
static void s_render_worker_family(s_text_t *t, const router_t *router, const char *name,
                                   const char *type, const char *help, int field)
{
    s_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int i = 0; i < router_slots(router); i++) {
        const router_worker_t *w = router_worker(router, i);
        if (!w)
            continue;
        int64_t v = field == 0 ? w->model_version : field == 1 ? (int64_t)w->requests
                  : field == 2 ? (int64_t)w->records : field == 3 ? (int64_t)w->answers
                  : field == 4 ? (int64_t)w->errors : (int64_t)w->in_flight;
        s_printf(t, "%s{worker=\"%s\"} %" PRId64 "\n", name, w->name, v);
    }
}

static void s_render_workers(s_text_t *t, const router_t *router)
{
    s_render_worker_family(t, router, "mlops_infer_model_version", "gauge",
                           "Model version each inference worker serves.", 0);
    s_render_worker_family(t, router, "mlops_infer_requests_total", "counter",
                           "Prediction requests sent to each inference worker.", 1);
    s_render_worker_family(t, router, "mlops_infer_records_total", "counter",
                           "Records in those requests.", 2);
    s_render_worker_family(t, router, "mlops_infer_predictions_total", "counter",
                           "Requests each worker answered with predictions.", 3);
    s_render_worker_family(t, router, "mlops_infer_errors_total", "counter",
                           "Requests each worker answered with an error.", 4);
    s_render_worker_family(t, router, "mlops_infer_in_flight", "gauge",
                           "Requests at each worker, not answered yet.", 5);
}

char *counters_render(const counters_t *self, const router_t *router,
                      const counters_gauges_t *gauges, size_t *len)
{
    s_text_t t = {.data = malloc(8192), .cap = 8192};
    t.failed = t.data == NULL;
    s_render_requests(&t, self);
    s_render_latency(&t, self);
    s_render_gauges(&t, router, gauges);
    s_render_workers(&t, router);
    if (t.failed)
        return NULL;
    *len = t.len;
    return t.data;
}
