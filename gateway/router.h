/*  router.h: the gateway's table of inference workers and the choice of
    which one takes the next request.

    Pure bookkeeping, no sockets, so the routing rules can be tested alone:
    a worker is known once it sent READY, stays live while anything it sends
    arrives before its expiry (heartbeats refresh it), and is dropped when it
    expires or says DISCONNECT. A request goes to the live worker holding a
    model with the fewest requests in flight, the least recently used one on
    a tie, and never beyond `credit` requests in flight per worker (a queue
    in front of the workers, not in their sockets, keeps the choice fair and
    lets a dead worker's requests go elsewhere).

    Workers are named by small integer slots that stay valid until
    router_remove; the caller keeps its requests' slots and re-sends those of
    a removed worker.
*/
#ifndef MLOPS_ROUTER_H
#define MLOPS_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTER_WORKERS_MAX 256     //  workers known at once
#define ROUTER_ID_MAX_BYTES 255    //  ZeroMQ routing ids are at most 255 bytes

typedef struct {
    bool live;                        //  slot in use
    uint8_t id[ROUTER_ID_MAX_BYTES];  //  ROUTER routing id
    size_t id_len;                    //  its length
    char name[64];                    //  "host:pid", for metrics and logs
    int64_t model_version;            //  version it serves, 0 = none yet
    uint64_t version_seq;             //  when it announced that version
    int64_t expires_ms;               //  dead when the clock passes this
    int64_t heard_ms;                 //  when it was last heard (caller's clock)
    uint64_t used_seq;                //  when it was last given a request (LRU)
    int in_flight;                    //  requests sent and not answered
    uint64_t requests;                //  PREDICTs sent to it
    uint64_t records;                 //  records in those
    uint64_t answers;                 //  PREDICTIONs received
    uint64_t errors;                  //  ERRORs received
    bool pins;                        //  it sent SIGNATURE: it takes PREDICTs pinned to a version
} router_worker_t;

typedef struct router router_t;

//  New table; credit = most requests in flight per worker, liveness_ms =
//  how long a worker lives without being heard (its interval, at least the
//  protocol's, times the liveness: liveness.h). NULL when out of memory.
router_t *router_new(int credit, int64_t liveness_ms);

//  Frees; ignores NULL; sets *p to NULL.
void router_destroy(router_t **p);

//  A worker said READY: adds it (or refreshes it when the id is known).
//  Returns its slot, or -1 when the table is full or the id too long.
int router_ready(router_t *self, const uint8_t *id, size_t id_len, const char *name,
                 int64_t model_version, int64_t now_ms);

//  The slot of a known worker, or -1.
int router_find(const router_t *self, const uint8_t *id, size_t id_len);

//  A known worker was heard (any message): pushes its expiry out and notes
//  the version it now serves.
void router_heard(router_t *self, int slot, int64_t model_version, int64_t now_ms);

//  The worker to take the next request, or -1 when none is live with a
//  model and credit left.
int router_pick(router_t *self);

//  router_pick among the workers that take pinned PREDICTs (router_pins).
int router_pick_pinning(router_t *self);

//  The worker in slot takes PREDICTs pinned to a version (it sent SIGNATURE).
void router_pins(router_t *self, int slot);

//  Live workers with a model that take pinned PREDICTs.
size_t router_pinning(const router_t *self);

//  Bookkeeping for a request of `records` records sent to slot / answered.
void router_sent(router_t *self, int slot, size_t records);
void router_answered(router_t *self, int slot, bool ok);

//  A request sent to slot will not be waited for any more (deadline,
//  shutdown): its credit comes back, no answer is counted.
void router_abandoned(router_t *self, int slot);

//  Forgets a worker (expired, disconnected, unreachable).
void router_remove(router_t *self, int slot);

//  The gateway's loop calls this each turn (liveness_awake): when more than
//  expected_gap_ms passed since the last call, the gateway itself was not
//  reading (stopped, descheduled, swapping), so that time cannot count
//  against the workers: every expiry moves out by the excess. Returns the
//  excess (0 when none).
int64_t router_awake(router_t *self, int64_t now_ms, int64_t expected_gap_ms);

//  Writes the slots of workers whose expiry has passed into dead (up to
//  max) without removing them. Returns how many.
size_t router_expired(const router_t *self, int64_t now_ms, int *dead, size_t max);

//  The worker in slot, or NULL when the slot is not live. Borrowed.
const router_worker_t *router_worker(const router_t *self, int slot);

//  One past the highest slot ever used (to iterate with router_worker).
int router_slots(const router_t *self);

//  Live workers, and those of them serving a model.
size_t router_live(const router_t *self);
size_t router_serving(const router_t *self);

//  The version most recently announced by a live worker (the one being
//  rolled out), 0 when no live worker has a model.
int64_t router_version(const router_t *self);

#endif
