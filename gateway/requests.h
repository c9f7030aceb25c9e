/*  requests.h: the gateway's request table: one slot per HTTP request
    being served, and the pending list of those that wait for an inference
    worker.

    Pure bookkeeping, no sockets and no HTTP, so the rules can be tested
    alone. A request is in exactly one state (request_state_t). While it is
    QUEUED (waiting for a worker with credit) or SENT (at a worker) it is on
    the pending list, one intrusive list (common/list.h) in arrival order,
    which is also deadline order since every request gets the same
    deadline: its head is the next to time out. The queue is the QUEUED
    requests of that list, oldest first, so a dead worker's requests,
    put back to QUEUED where they stand, go out again before any that
    arrived after them.

    Slots are reused; a request is named on the wire by its id,
    generation << 32 | slot, and the generation (bumped on reuse) makes a
    late answer for an earlier request in the same slot miss.

    Worker credit is not kept here: the caller gives it back to the router
    before it settles or releases a SENT request (request_t.worker says
    which worker holds it; -1 once nobody does).
*/
#ifndef MLOPS_REQUESTS_H
#define MLOPS_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "counters.h"
#include "feedback.h"
#include "list.h"

struct MHD_Connection;

#define REQUESTS_BODY_PREALLOC_BYTES (64u << 10)   //  most a declared length reserves up front

typedef enum {
    REQ_FREE = 0,    //  slot unused
    REQ_READING,     //  collecting the body
    REQ_QUEUED,      //  encoded, waiting for a worker with credit
    REQ_SENT,        //  at a worker
    REQ_CONTROL,     //  an /api request at the broker, waiting for its REPLY
    REQ_DONE,        //  answer ready to be queued to the HTTP server
} request_state_t;

typedef struct {
    request_state_t state;            //  see request_state_t
    uint32_t gen;                     //  bumped on reuse (the id's high half)
    struct MHD_Connection *conn;      //  the client's connection
    counters_endpoint_t endpoint;     //  for routing and counters
    bool batch;                       //  /predict/batch
    bool suspended;                   //  connection suspended by us
    bool too_big;                     //  body passed its limit (413 at the end)
    char *body;                       //  collected body, malloc'd
    size_t body_len, body_cap;        //  bytes collected / allocated
    size_t body_max;                  //  limit for this endpoint
    uint8_t *frame;                   //  encoded PREDICT, kept for re-sending
    size_t frame_len;                 //  its length
    size_t n_records;                 //  records in it
    int worker;                       //  router slot holding it (SENT), else -1
    int64_t started_us;               //  first callback (latency counter)
    int64_t deadline_ms;              //  504 after this
    list_node_t pending;              //  on the pending list while QUEUED or SENT
    int status;                       //  HTTP status when DONE
    char *answer;                     //  body when DONE, malloc'd
    size_t answer_len;                //  its length
    const char *content_type;         //  of the answer
    const char *allow;                //  Allow header for a 405, else NULL
    bool challenge;                   //  add WWW-Authenticate: Bearer (a 401)
    api_call_t call;                  //  the /api call, API_NONE for others
    bool v2;                          //  an Open Inference Protocol request: V2 answers
    unsigned v2_outputs;              //  V2_OUTPUT_* asked for (infer)
    char *v2_id;                      //  the V2 request's "id" to echo, malloc'd, NULL = none
    int64_t pin_version;              //  the model version asked for, 0 = production
    bool feedback;                    //  POST /feedback
    char request_id[FEEDBACK_ID_MAX + 1]; //  a prediction's id (X-Request-Id), "" = none
    uint8_t rollout_side;             //  rollout_target_t: counted as production's or the candidate's
    uint64_t shadow_id;               //  its shadow copy's wire id, 0 = none (rollout.h)
} request_t;

typedef struct requests requests_t;

//  A table of n slots, all free. NULL when out of memory (or n is 0).
requests_t *requests_new(uint32_t n);

//  Frees the table and every request's buffers; ignores NULL; sets *p
//  to NULL.
void requests_destroy(requests_t **p);

//  A free slot made a new READING request for conn, started at now_us;
//  NULL when every slot is taken. The request is the table's; hand it
//  back with requests_release.
request_t *requests_take(requests_t *self, struct MHD_Connection *conn, int64_t now_us);

//  Takes req off the pending list, frees its buffers and frees its slot.
void requests_release(requests_t *self, request_t *req);

//  The id a PREDICT carries for req.
uint64_t requests_id(const requests_t *self, const request_t *req);

//  The request an id names while it lives (its slot not reused since), in
//  whatever state; NULL for an id out of range or of an earlier request.
request_t *requests_find(requests_t *self, uint64_t id);

//  Appends n body bytes to a READING request, growing its buffer; past
//  req->body_max, or out of memory, it marks it too_big and keeps nothing
//  more. Bytes for a request that is not READING are dropped.
void request_append(request_t *req, const char *data, size_t n);

//  Sets the body limit and reserves room for a declared length (at most
//  REQUESTS_BODY_PREALLOC_BYTES: a client may declare much and send
//  little). Returns false, reserving nothing, when declared is over max.
bool request_expect(request_t *req, unsigned long long declared, size_t max);

//  A READING request whose frame is encoded joins the end of the queue
//  (and of the pending list) with its deadline.
void requests_queue(requests_t *self, request_t *req, int64_t deadline_ms);

//  The queued request to send next (the oldest), or NULL.
request_t *requests_next(const requests_t *self);

//  A QUEUED request went to worker: it is SENT and holds its credit.
void requests_sent(requests_t *self, request_t *req, int worker);

//  Every request SENT to worker goes back to QUEUED where it stands on the
//  pending list (so before newer ones). Returns how many.
size_t requests_requeue(requests_t *self, int worker);

//  The pending request with the first deadline, or NULL.
request_t *requests_oldest(const requests_t *self);

//  Gives req its answer (taking `answer`, which may be NULL when building
//  it ran out of memory: then status 500 and no body), frees its body and
//  frame, takes it off the pending list: req is DONE.
void requests_settle(requests_t *self, request_t *req, int status, char *answer, size_t len);

//  Requests SENT and QUEUED now.
size_t requests_in_flight(const requests_t *self);
size_t requests_queued(const requests_t *self);

#endif
