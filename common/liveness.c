/*  liveness.c: see liveness.h. */
#include "liveness.h"

#include <assert.h>

#include "heartbeat.h"

int64_t liveness_expiry(int64_t heard_ms, int64_t interval_ms, int intervals)
{
    assert(interval_ms > 0 && intervals >= 1);
    return heard_ms + interval_ms * intervals;
}

bool liveness_expired(int64_t expires_ms, int64_t now_ms)
{
    return now_ms > expires_ms;
}

int64_t liveness_interval(int64_t ours_ms)
{
    return ours_ms > HEARTBEAT_IVL_MSEC ? ours_ms : HEARTBEAT_IVL_MSEC;
}

int64_t liveness_awake(liveness_t *self, int64_t now_ms, int64_t expected_gap_ms)
{
    int64_t stall = self->awake_ms ? now_ms - self->awake_ms - expected_gap_ms : 0;
    self->awake_ms = now_ms;
    return stall > 0 ? stall : 0;
}

void liveness_rest(liveness_t *self)
{
    self->awake_ms = 0;
}
