/*  outage.h: the broker's state while its store refuses writes (a full
    disk, an I/O error, the map full at --store-size; store_fault).

    Retrying a refused write on every turn of the loop gains nothing and
    floods the log, so an outage holds the engine off for a backoff that
    doubles with each refusal (1 s up to 60 s); a commit that succeeds ends
    it. The log lines it causes go through outage_log: at most one line per
    OUTAGE_LOG_IVL_MSEC per cause, with the count of lines left out since.

    Pure apart from the log (the clock is an argument), so it is tested on
    its own (tests/test_outage.c).
*/
#ifndef MLOPS_OUTAGE_H
#define MLOPS_OUTAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"

#define OUTAGE_BACKOFF_MIN_MSEC 1000      //  first hold
#define OUTAGE_BACKOFF_MAX_MSEC 60000     //  longest hold
#define OUTAGE_LOG_IVL_MSEC 10000         //  one line per cause this often, at most
#define OUTAGE_CAUSES_MAX 4               //  causes whose lines are limited apart

typedef struct {
    int code;                     //  a cause (a store_fault code), 0 = free slot
    int64_t logged_mono;          //  when its last line was written
    uint64_t suppressed;          //  lines left out since
} outage_limit_t;

typedef struct {
    mlops_err_t cause;            //  the refusal and what to do, code 0 = no outage
    int64_t until_mono;           //  no write is tried before this
    int64_t backoff_msec;         //  the hold after the next refusal
    uint64_t refusals;            //  refusals in this outage
    uint64_t fail_run;            //  a run to fail with the cause once the store lets us, 0 = none
    outage_limit_t limits[OUTAGE_CAUSES_MAX]; //  per-cause log limits (kept across outages)
} outage_t;

//  The store refused a write (cause: its store_fault): hold for the
//  backoff, which then doubles; logs the refusal (rate limited).
void outage_enter(outage_t *self, const mlops_err_t *cause, int64_t now_mono);

//  True while the engine must not write (the hold has not passed).
bool outage_holding(const outage_t *self, int64_t now_mono);

//  True during an outage (held or not): the next write is a probe.
bool outage_active(const outage_t *self);

//  A commit succeeded: the outage is over (logged once when there was one).
void outage_end(outage_t *self);

//  Writes an error line about cause code unless one was written for it less
//  than OUTAGE_LOG_IVL_MSEC ago (then counts it); a line written says how
//  many were left out. Returns true when the line was written.
bool outage_log(outage_t *self, int code, int64_t now_mono, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
