/*  counters.h: the gateway's counters and their Prometheus text rendering
    (GET /metrics). Owned and touched by the gateway's one reactor thread
    only, so there are no atomics. Worker figures come from the router
    table, which counts what each inference worker was sent and answered.

    Named counters, not metrics: in this tree a model's metrics are its
    scores (metrics_t in proto/records.h: accuracy, auc, ...).
*/
#ifndef MLOPS_COUNTERS_H
#define MLOPS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "router.h"

typedef enum {
    COUNTERS_HEALTH = 0,  //  GET /health
    COUNTERS_PREDICT,     //  POST /predict
    COUNTERS_BATCH,       //  POST /predict/batch
    COUNTERS_METRICS,     //  GET /metrics
    COUNTERS_API,         //  /api/...
    COUNTERS_STATIC,      //  GET / and /static/...
    COUNTERS_V2,          //  the Open Inference Protocol, /v2/...
    COUNTERS_FEEDBACK,    //  POST /feedback
    COUNTERS_OTHER,       //  anything else (404, 405)
    COUNTERS_ENDPOINTS    //  count
} counters_endpoint_t;

#define COUNTERS_BUCKETS 16   //  latency histogram buckets (plus +Inf)

//  Point-in-time figures the gateway passes in when rendering.
typedef struct {
    size_t in_flight;        //  requests sent to a worker, not answered
    size_t queued;           //  requests waiting for a worker's credit
    uint64_t resent;         //  requests re-sent after their worker died
    uint64_t late;           //  answers that came after their request was settled
    uint64_t bad_frames;     //  backend frames that failed to decode
} counters_gauges_t;

typedef struct counters counters_t;

//  New zeroed counters, or NULL when out of memory.
counters_t *counters_new(void);

//  Frees; ignores NULL; sets *p to NULL.
void counters_destroy(counters_t **p);

//  Counts one answered request that took `seconds`: in the latency
//  histogram always, by status only for 100..599; an endpoint out of range
//  counts as COUNTERS_OTHER.
void counters_observe(counters_t *self, counters_endpoint_t endpoint, int status, double seconds);

//  Requests answered so far on endpoint with status (for tests); 0 for an
//  endpoint or status out of range.
uint64_t counters_count(const counters_t *self, counters_endpoint_t endpoint, int status);

//  The whole exposition as a malloc'd text the caller frees, or NULL when
//  out of memory.
char *counters_render(const counters_t *self, const router_t *router,
                      const counters_gauges_t *gauges, size_t *len);

#endif
