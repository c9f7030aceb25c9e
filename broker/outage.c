/*  outage.c: see outage.h. */
#include "outage.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

//  The log limit of cause code: its slot, a free one, or the stalest.
static outage_limit_t *s_limit(outage_t *self, int code)
{
    outage_limit_t *pick = &self->limits[0];
    for (int i = 0; i < OUTAGE_CAUSES_MAX; i++) {
        outage_limit_t *l = &self->limits[i];
        if (l->code == code)
            return l;
        if (pick->code && (!l->code || l->logged_mono < pick->logged_mono))
            pick = l;
    }
    *pick = (outage_limit_t){.code = code, .logged_mono = INT64_MIN};
    return pick;
}

bool outage_log(outage_t *self, int code, int64_t now_mono, const char *fmt, ...)
{
    assert(self && fmt);
    outage_limit_t *l = s_limit(self, code);
    if (l->logged_mono != INT64_MIN && now_mono - l->logged_mono < OUTAGE_LOG_IVL_MSEC) {
        l->suppressed++;
        return false;
    }
    char line[MLOPS_ERRMSG_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (l->suppressed)
        log_error("%s (%llu like it not logged in the last %d s)", line,
                  (unsigned long long)l->suppressed, OUTAGE_LOG_IVL_MSEC / 1000);
    else
        log_error("%s", line);
    l->logged_mono = now_mono;
    l->suppressed = 0;
    return true;
}

void outage_enter(outage_t *self, const mlops_err_t *cause, int64_t now_mono)
{
    assert(self && cause && cause->code);
    if (self->backoff_msec < OUTAGE_BACKOFF_MIN_MSEC)
        self->backoff_msec = OUTAGE_BACKOFF_MIN_MSEC;
    self->cause = *cause;
    self->until_mono = now_mono + self->backoff_msec;
    self->refusals++;
    outage_log(self, cause->code, now_mono, "store refuses writes, engine holds off %lld ms: %s",
               (long long)self->backoff_msec, cause->msg);
    self->backoff_msec = self->backoff_msec * 2 < OUTAGE_BACKOFF_MAX_MSEC ? self->backoff_msec * 2
                                                                          : OUTAGE_BACKOFF_MAX_MSEC;
}

bool outage_holding(const outage_t *self, int64_t now_mono)
{
    assert(self);
    return self->cause.code && now_mono < self->until_mono;
}

bool outage_active(const outage_t *self)
{
    assert(self);
    return self->cause.code != 0;
}

void outage_end(outage_t *self)
{
    assert(self);
    if (!self->cause.code)
        return;
    log_info("store takes writes again after %llu refused: %s", (unsigned long long)self->refusals,
             self->cause.msg);
    mlops_err_clear(&self->cause);
    self->until_mono = 0;
    self->backoff_msec = 0;
    self->refusals = 0;
    self->fail_run = 0;   //  the store recovered first: the run goes on
}
