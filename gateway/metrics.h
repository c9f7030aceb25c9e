/*  metrics.h: the gateway's counters and their Prometheus text rendering
    (GET /metrics). Owned and touched by the gateway's one reactor thread
    only, so there are no atomics. Worker figures come from the router
    table, which counts what each inference worker was sent and answered.
*/
#ifndef MLOPS_METRICS_H
#define MLOPS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "router.h"

typedef enum {
    METRICS_HEALTH = 0,   //  GET /health
    METRICS_PREDICT,      //  POST /predict
    METRICS_BATCH,        //  POST /predict/batch
    METRICS_METRICS,      //  GET /metrics
    METRICS_API,          //  /api/...
    METRICS_STATIC,       //  GET / and /static/...
    METRICS_OTHER,        //  anything else (404, 405)
    METRICS_ENDPOINTS     //  count
} metrics_endpoint_t;

#define METRICS_BUCKETS 16   //  latency histogram buckets (plus +Inf)

//  Point-in-time figures the gateway passes in when rendering.
typedef struct {
    size_t in_flight;        //  requests sent to a worker, not answered
    size_t queued;           //  requests waiting for a worker's credit
    uint64_t resent;         //  requests re-sent after their worker died
    uint64_t late;           //  answers that came after their request was settled
    uint64_t bad_frames;     //  backend frames that failed to decode
} metrics_gauges_t;

typedef struct metrics metrics_t;

//  New zeroed counters, or NULL when out of memory.
metrics_t *metrics_new(void);

//  Frees; ignores NULL; sets *p to NULL.
void metrics_destroy(metrics_t **p);

//  Counts one answered request (status 100..599) that took `seconds`.
void metrics_observe(metrics_t *self, metrics_endpoint_t endpoint, int status, double seconds);

//  Requests answered so far on endpoint with status (for tests).
uint64_t metrics_count(const metrics_t *self, metrics_endpoint_t endpoint, int status);

//  The whole exposition as a malloc'd text the caller frees, or NULL when
//  out of memory.
char *metrics_render(const metrics_t *self, const router_t *router, const metrics_gauges_t *gauges,
                     size_t *len);

#endif
