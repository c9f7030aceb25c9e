/*  dispatch.h: the broker's view of its stage workers and the queue of
    tasks per stage, with no sockets in it.

    A worker is known by its ROUTER identity, and shown by its name (the
    READY's instance name, host:pid for a worker older than names), which
    tells workers apart when they share a host and pid (containers). It is idle (may take a task) or
    busy (has a task in hand, or is still finishing one the broker gave up on
    after a timeout and told it to cancel). Dispatch picks the least recently used idle worker of a
    stage: the one idle longest. A worker silent past its expiry is dead.

    Each stage has a FIFO of task ids ready to run. A task id is in at most
    one queue once.

    Liveness is the rule of liveness.h: the broker sets a worker's expiry
    with liveness_expiry each time it hears from it, and reports each turn of
    its loop (dispatch_awake), so a stall of its own (a long handler: storing
    or encoding a big payload) moves every worker's expiry out by as much.

    Ownership: workers are owned by the dispatch_t; a dispatch_worker_t
    pointer is valid until dispatch_worker_remove or dispatch_destroy.
*/
#ifndef MLOPS_DISPATCH_H
#define MLOPS_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liveness.h"
#include "stage_io.h"

#define DISPATCH_ID_MAX 256     //  bytes of a ROUTER identity
#define DISPATCH_WORKERS_MAX 4096
#define DISPATCH_STAGE_WORKERS_MAX 1024 //  per stage: one stage's flood of READYs leaves room for the others

typedef struct {
    uint8_t id[DISPATCH_ID_MAX];  //  ROUTER identity
    size_t id_len;
    stage_t stage;                //  the stage it serves
    char name[64];                //  its instance name, unique among live workers
    char host[64];                //  as announced
    int64_t pid;                  //  as announced
    char task_id[48];             //  task in hand, "" when none
    bool busy;                    //  not to be given a task
    int64_t expires_mono;         //  dead when silent past this (liveness_expiry, monotonic ms)
    int64_t idle_since_mono;      //  LRU order among idle workers
    int64_t task_since_mono;      //  when the task in hand was given
    int64_t progress_mono;        //  when its progress last advanced (task_since_mono before any)
    int64_t progress_done;        //  its latest progress count, in progress_unit
    char progress_unit[16];       //  the unit of progress_done, "" before any report
    int64_t last_seen_ms;         //  wall clock of its last message
    int64_t last_sent_mono;       //  when the broker last sent it anything
} dispatch_worker_t;

typedef struct dispatch dispatch_t;

//  Creates an empty dispatcher. NULL on ENOMEM.
dispatch_t *dispatch_new(void);

//  Frees it and every worker; ignores NULL; sets *p to NULL.
void dispatch_destroy(dispatch_t **p);

//  Adds (or, for a known identity, resets) an idle worker. Returns it, or
//  NULL when id_len is 0 or over DISPATCH_ID_MAX, at DISPATCH_WORKERS_MAX,
//  or when a new worker's stage has DISPATCH_STAGE_WORKERS_MAX already.
//  A reset worker's task in hand is forgotten: the caller must settle it first
//  (dispatch_worker_find tells whether it exists). Its name is host:pid until
//  the caller sets another.
dispatch_worker_t *dispatch_worker_add(dispatch_t *self, const uint8_t *id, size_t id_len,
                                       stage_t stage, const char *host, int64_t pid,
                                       int64_t now_mono);

//  The worker with this identity, or NULL.
dispatch_worker_t *dispatch_worker_find(dispatch_t *self, const uint8_t *id, size_t id_len);

//  The worker with this name, or NULL.
dispatch_worker_t *dispatch_worker_named(dispatch_t *self, const char *name);

//  Forgets a worker (the pointer dies).
void dispatch_worker_remove(dispatch_t *self, dispatch_worker_t *worker);

//  The idle worker of stage that has been idle longest, or NULL.
dispatch_worker_t *dispatch_idle_lru(dispatch_t *self, stage_t stage);

//  Hands a task to a worker: busy, task_id set.
void dispatch_worker_assign(dispatch_worker_t *worker, const char *task_id, int64_t now_mono);

//  A progress report (HEARTBEAT done, unit) for the task in hand at
//  now_mono. Returns true when it advanced: a larger count, or a count of
//  another unit (a new phase: bytes read, then rows made, then trees).
bool dispatch_worker_progress(dispatch_worker_t *worker, int64_t done, const char *unit,
                              int64_t now_mono);

//  Whether the task in hand has run too long at now_mono: DISPATCH_STALLED
//  when its progress has not advanced for timeout_msec (counted from the
//  dispatch when it never reported), DISPATCH_OVER_CAP when it has run for
//  cap_msec whatever its progress, else DISPATCH_IN_TIME.
typedef enum { DISPATCH_IN_TIME = 0, DISPATCH_STALLED, DISPATCH_OVER_CAP } dispatch_overdue_t;
dispatch_overdue_t dispatch_worker_overdue(const dispatch_worker_t *worker, int64_t now_mono,
                                           int64_t timeout_msec, int64_t cap_msec);

//  The worker finished (or gave up) its task: idle again, last in LRU order.
void dispatch_worker_release(dispatch_worker_t *worker, int64_t now_mono);

//  The broker's loop turned at now_mono, expecting turns at most
//  expected_gap_msec apart (liveness_awake). The excess of a longer gap is
//  added to every worker's expiry. Returns the excess forgiven in ms, 0 when
//  none (and on the first call).
int64_t dispatch_awake(dispatch_t *self, int64_t now_mono, int64_t expected_gap_msec);

//  A worker whose expiry is before now_mono, or NULL. Call dispatch_awake
//  first, so a stall of the broker's own is not counted.
dispatch_worker_t *dispatch_expired(dispatch_t *self, int64_t now_mono);

//  Number of workers, and the i-th one (stable until an add or remove).
size_t dispatch_worker_count(const dispatch_t *self);
dispatch_worker_t *dispatch_worker_at(dispatch_t *self, size_t i);

//  Number of live workers of a stage.
size_t dispatch_stage_workers(const dispatch_t *self, stage_t stage);

//  Queues: push appends (no-op returning 0 if the id is already queued
//  anywhere), pop takes the head (false when empty), remove drops an id.
//  push returns 0 or MLOPS_ENOMEM / MLOPS_EINVAL (id too long).
int dispatch_queue_push(dispatch_t *self, stage_t stage, const char *task_id);
bool dispatch_queue_pop(dispatch_t *self, stage_t stage, char task_id[48]);
bool dispatch_queue_contains(const dispatch_t *self, const char *task_id);
void dispatch_queue_remove(dispatch_t *self, const char *task_id);
size_t dispatch_queue_len(const dispatch_t *self, stage_t stage);

#endif
