/*  fleet.h: the inference workers as the broker knows them, and the wait of
    a run's load_model for them to serve a newly promoted version.

    Inference workers do not talk to the broker's work socket (they serve the
    gateway); each one sends SERVING on the control socket, at once when the
    version it serves changes and at least every interval_ms otherwise
    (proto/PROTOCOL.md, section 5.2). The fleet keeps one entry per worker
    name (SERVING.name; host:pid for a worker older than names) with the
    version last reported. An entry silent for liveness x its
    own interval is dead and dropped (the rule of liveness.h): a worker that
    was stopped, crashed or is frozen stops counting.

    A wait (fleet_wait_begin) is the load_model rule of DESIGN.md: the run
    is done once every live inference worker serves the promoted version.
    fleet_wait_check says whether that holds, whether the deadline passed
    first (then it names the workers that lag), or whether there is no
    inference worker at all. A worker that goes silent during the wait is
    not waited for, but it is named ("went silent") in the outcome.

    Pure and deterministic: every clock is an argument (mono_ms for expiry
    and deadlines, wall_ms for what status shows), so it is unit-tested
    without sockets.
*/
#ifndef MLOPS_FLEET_H
#define MLOPS_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "heartbeat.h"   //  SERVING interval_ms 0 means HEARTBEAT_IVL_MSEC

#define FLEET_WORKERS_MAX 1024                  //  inference workers tracked at once
#define FLEET_INTERVAL_MAX_MSEC HEARTBEAT_REPORT_MAX_MSEC //  a longer promised interval is refused
#define FLEET_NOTE_MAX 200                      //  bytes of a wait's note, NUL included

typedef struct {
    char name[64];               //  its instance name: what tells workers apart
    char host[64];               //  as reported, sanitised by the caller
    int64_t pid;                 //  as reported
    int64_t version;             //  version it serves, 0 = none
    int64_t interval_ms;         //  its promised report interval
    int64_t expires_mono_ms;     //  dead when silent until then
    int64_t last_seen_ms;        //  wall clock of its last report
} fleet_worker_t;

typedef enum {
    FLEET_WAITING = 0,           //  some live worker serves another version, deadline ahead
    FLEET_NONE,                  //  no inference worker is known: nothing to wait for
    FLEET_ALL_SERVE,             //  every live worker serves the version
    FLEET_TIMED_OUT,             //  the deadline passed with workers lagging
} fleet_verdict_t;

typedef struct fleet fleet_t;

//  A fleet whose workers are dead after `liveness` silent intervals (>= 1).
//  NULL when memory is short.
fleet_t *fleet_new(int liveness);

//  Frees; ignores NULL; sets *p to NULL.
void fleet_destroy(fleet_t **p);

//  Records one SERVING report of the worker called name (a new worker or
//  an update; the caller has checked that the name is not another
//  worker's). interval_ms 0 is HEARTBEAT_IVL_MSEC. Returns 0, or with err:
//  MLOPS_EINVAL (empty name or host, pid 0, interval_ms over
//  FLEET_INTERVAL_MAX_MSEC, each named in the message), MLOPS_ETOOBIG
//  (FLEET_WORKERS_MAX workers already).
int fleet_report(fleet_t *self, const char *name, const char *host, int64_t pid, int64_t version,
                 int64_t interval_ms, int64_t mono_ms, int64_t wall_ms, mlops_err_t *err);

//  Called with each worker fleet_expire drops, before it is gone.
typedef void(fleet_gone_fn)(const fleet_worker_t *worker, void *arg);

//  Drops the workers whose expiry has passed at mono_ms (liveness_expired),
//  telling gone_fn (may be NULL) about each. A dropped worker that did not serve the
//  awaited version is named in the wait's note. Returns how many went.
size_t fleet_expire(fleet_t *self, int64_t mono_ms, fleet_gone_fn *gone_fn, void *arg);

//  The worker with this name, or NULL (borrowed until the next change).
const fleet_worker_t *fleet_find(const fleet_t *self, const char *name);

//  Pushes every expiry `ms` later: the broker's own stall (a long commit)
//  must not make a live worker look dead.
void fleet_extend(fleet_t *self, int64_t ms);

//  Live workers, and the i-th of them (borrowed until the next change).
size_t fleet_count(const fleet_t *self);
const fleet_worker_t *fleet_at(const fleet_t *self, size_t i);

//  Starts waiting, at mono_ms, for every live worker to serve version, for
//  at most wait_ms. Replaces a wait already going on.
void fleet_wait_begin(fleet_t *self, int64_t version, int64_t mono_ms, int64_t wait_ms);

//  Ends the wait (also when the run ended some other way).
void fleet_wait_end(fleet_t *self);

//  The version waited for, 0 when no wait is going on.
int64_t fleet_wait_version(const fleet_t *self);

//  Where the wait stands at mono_ms. For every verdict but FLEET_WAITING,
//  note (FLEET_NOTE_MAX bytes) gets one line for the run's outcome, e.g.
//  "2 inference workers serve v3", "no inference worker reports to the
//  broker", "after 30000 ms 1 of 2 inference workers lag: vm-3fa9c2 serves v2"
//  (workers named by their names).
fleet_verdict_t fleet_wait_check(const fleet_t *self, int64_t mono_ms, char *note, size_t size);

#endif
