/*  progress.c: see progress.h. A mutex around one slot. */
#include "progress.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static struct {
    pthread_mutex_t lock;
    bool open;                        //  between progress_begin and progress_end
    bool reported;                    //  a report came since progress_begin
    int64_t done, total;              //  the latest report
    char unit[PROGRESS_UNIT_MAX + 1];
    atomic_bool cancelled;            //  progress_cancel since progress_begin
} s_slot = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void s_reset(bool open)
{
    pthread_mutex_lock(&s_slot.lock);
    s_slot.open = open;
    s_slot.reported = false;
    atomic_store(&s_slot.cancelled, false);
    pthread_mutex_unlock(&s_slot.lock);
}

void progress_cancel(void)
{
    pthread_mutex_lock(&s_slot.lock);
    if (s_slot.open)
        atomic_store(&s_slot.cancelled, true);
    pthread_mutex_unlock(&s_slot.lock);
}

bool progress_cancelled(void)
{
    return atomic_load(&s_slot.cancelled);
}

void progress_begin(void)
{
    s_reset(true);
}

void progress_end(void)
{
    s_reset(false);
}

//  True for 1 to PROGRESS_UNIT_MAX lower-case letters (what HEARTBEAT carries).
static bool s_unit_valid(const char *unit)
{
    size_t n = strlen(unit);
    return n >= 1 && n <= PROGRESS_UNIT_MAX && strspn(unit, "abcdefghijklmnopqrstuvwxyz") == n;
}

//  The report, unless forward_only and it is behind the latest of its count.
//  A bad unit is our bug; dropped in a release build rather than sent, as
//  a heartbeat the encoder refuses would not go out at all.
static void s_report(int64_t done, int64_t total, const char *unit, bool forward_only)
{
    if (!s_unit_valid(unit)) {
        assert(!"a progress unit is 1 to PROGRESS_UNIT_MAX lower-case letters");
        return;
    }
    if (done < 0)
        done = 0;
    if (total < 0)
        total = 0;
    pthread_mutex_lock(&s_slot.lock);
    bool behind = forward_only && s_slot.reported && s_slot.total == total
                  && strcmp(s_slot.unit, unit) == 0 && done < s_slot.done;
    if (s_slot.open && !behind) {
        s_slot.done = total && done > total ? total : done;
        s_slot.total = total;
        snprintf(s_slot.unit, sizeof s_slot.unit, "%s", unit);
        s_slot.reported = true;
    }
    pthread_mutex_unlock(&s_slot.lock);
}

void progress_report(int64_t done, int64_t total, const char *unit)
{
    s_report(done, total, unit, false);
}

void progress_advance(int64_t done, int64_t total, const char *unit)
{
    s_report(done, total, unit, true);
}

bool progress_read(int64_t *done, int64_t *total, char *unit)
{
    pthread_mutex_lock(&s_slot.lock);
    bool reported = s_slot.reported;
    if (reported) {
        *done = s_slot.done;
        *total = s_slot.total;
        memcpy(unit, s_slot.unit, sizeof s_slot.unit);
    }
    pthread_mutex_unlock(&s_slot.lock);
    return reported;
}
