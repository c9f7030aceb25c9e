/*  requests.c: the request table and its pending list (see requests.h).

    Besides the list the table keeps a cursor on its oldest QUEUED request,
    so taking the next one to send is O(1): requests are sent in arrival
    order, so the cursor only moves forward, over SENT ones, except when a
    dead worker's requests are put back (then it is found again from the
    head, in the walk that puts them back anyway).
*/
#include "requests.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct requests {
    request_t *slots;                 //  n_slots requests
    uint32_t n_slots;                 //  how many
    uint32_t *free;                   //  stack of free slot numbers
    uint32_t n_free;                  //  its depth
    list_node_t pending;              //  QUEUED and SENT, oldest (first deadline) first
    request_t *next;                  //  the oldest QUEUED request, NULL when none
    size_t n_sent, n_queued;          //  requests SENT / QUEUED
};

requests_t *requests_new(uint32_t n)
{
    requests_t *self = n ? calloc(1, sizeof *self) : NULL;
    if (!self)
        return NULL;
    self->slots = calloc(n, sizeof *self->slots);
    self->free = calloc(n, sizeof *self->free);
    if (!self->slots || !self->free) {
        requests_destroy(&self);
        return NULL;
    }
    self->n_slots = n;
    for (uint32_t i = 0; i < n; i++)   //  slot 0 on top: the lowest slots are used first
        self->free[self->n_free++] = n - 1 - i;
    list_init(&self->pending);
    return self;
}

static void s_free_buffers(request_t *req)
{
    free(req->body);
    free(req->frame);
    free(req->answer);
    free(req->v2_id);
    req->body = req->answer = req->v2_id = NULL;
    req->frame = NULL;
}

void requests_destroy(requests_t **p)
{
    if (!p || !*p)
        return;
    requests_t *self = *p;
    for (uint32_t i = 0; self->slots && i < self->n_slots; i++)
        s_free_buffers(&self->slots[i]);
    free(self->slots);
    free(self->free);
    free(self);
    *p = NULL;
}

request_t *requests_take(requests_t *self, struct MHD_Connection *conn, int64_t now_us)
{
    if (self->n_free == 0)
        return NULL;
    request_t *req = &self->slots[self->free[--self->n_free]];
    uint32_t gen = req->gen + 1;
    memset(req, 0, sizeof *req);
    req->gen = gen;
    req->state = REQ_READING;
    req->conn = conn;
    req->worker = -1;
    req->endpoint = COUNTERS_OTHER;
    req->call = API_NONE;
    req->started_us = now_us;
    return req;
}

//  The first QUEUED request at node or after it, or NULL.
static request_t *s_queued_from(const requests_t *self, list_node_t *node)
{
    for (; node; node = list_next(&self->pending, node)) {
        request_t *req = list_entry(node, request_t, pending);
        if (req->state == REQ_QUEUED)
            return req;
    }
    return NULL;
}

static request_t *s_queued_after(const requests_t *self, request_t *req)
{
    return s_queued_from(self, list_next(&self->pending, &req->pending));
}

//  Takes a QUEUED or SENT request off the pending list (its state is the
//  caller's to set); does nothing for the others.
static void s_leave_pending(requests_t *self, request_t *req)
{
    if (req->state == REQ_QUEUED) {
        self->n_queued--;
        if (self->next == req)
            self->next = s_queued_after(self, req);
    } else if (req->state == REQ_SENT)
        self->n_sent--;
    else
        return;
    list_unlink(&req->pending);
    req->worker = -1;
}

void requests_release(requests_t *self, request_t *req)
{
    assert(req->state != REQ_FREE);
    s_leave_pending(self, req);
    s_free_buffers(req);
    req->state = REQ_FREE;
    self->free[self->n_free++] = (uint32_t)(req - self->slots);
}

uint64_t requests_id(const requests_t *self, const request_t *req)
{
    return (uint64_t)req->gen << 32 | (uint32_t)(req - self->slots);
}

request_t *requests_find(requests_t *self, uint64_t id)
{
    uint32_t slot = (uint32_t)(id & 0xffffffffu);
    uint32_t gen = (uint32_t)(id >> 32);
    if (slot >= self->n_slots)
        return NULL;
    request_t *req = &self->slots[slot];
    return req->gen == gen && req->state != REQ_FREE ? req : NULL;
}

void request_append(request_t *req, const char *data, size_t n)
{
    if (req->too_big || req->state != REQ_READING)
        return;   //  discard: the answer is decided
    if (req->body_len + n > req->body_max) {
        req->too_big = true;
        return;
    }
    //  a byte buffer with its own limit (body_max, checked above) and a first
    //  size of 4 KiB rather than VEC_MIN_CAP: vec.h's array would add nothing
    if (req->body_len + n > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap * 2 : 4096;
        while (cap < req->body_len + n)
            cap *= 2;
        char *body = realloc(req->body, cap);
        if (!body) {
            req->too_big = true;
            return;
        }
        req->body = body;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
}

bool request_expect(request_t *req, unsigned long long declared, size_t max)
{
    req->body_max = max;
    if (declared > max)
        return false;
    if (declared > 0) {   //  not all of it at once: a client may declare much and send little
        size_t cap = declared < REQUESTS_BODY_PREALLOC_BYTES ? (size_t)declared
                                                             : REQUESTS_BODY_PREALLOC_BYTES;
        req->body = malloc(cap);
        req->body_cap = req->body ? cap : 0;
    }
    return true;
}

void requests_queue(requests_t *self, request_t *req, int64_t deadline_ms)
{
    assert(req->state == REQ_READING);
    req->state = REQ_QUEUED;
    req->deadline_ms = deadline_ms;
    list_push_back(&self->pending, &req->pending);   //  same deadline for all: appending keeps the order
    self->n_queued++;
    if (!self->next)
        self->next = req;
}

request_t *requests_next(const requests_t *self)
{
    return self->next;
}

void requests_sent(requests_t *self, request_t *req, int worker)
{
    assert(req->state == REQ_QUEUED);
    if (self->next == req)
        self->next = s_queued_after(self, req);
    self->n_queued--;
    self->n_sent++;
    req->state = REQ_SENT;
    req->worker = worker;
}

size_t requests_requeue(requests_t *self, int worker)
{
    size_t moved = 0;
    for (list_node_t *n = list_first(&self->pending); n; n = list_next(&self->pending, n)) {
        request_t *req = list_entry(n, request_t, pending);
        if (req->state == REQ_SENT && req->worker == worker) {
            req->state = REQ_QUEUED;
            req->worker = -1;
            self->n_sent--;
            self->n_queued++;
            moved++;
        }
    }
    if (moved)
        self->next = s_queued_from(self, list_first(&self->pending));
    return moved;
}

request_t *requests_oldest(const requests_t *self)
{
    list_node_t *first = list_first(&self->pending);
    return first ? list_entry(first, request_t, pending) : NULL;
}

void requests_settle(requests_t *self, request_t *req, int status, char *answer, size_t len)
{
    s_leave_pending(self, req);
    free(req->frame);
    free(req->body);
    free(req->answer);
    req->frame = NULL;
    req->body = NULL;
    req->answer = answer;
    req->answer_len = answer ? len : 0;
    req->status = answer ? status : 500;   //  out of memory building it: say so without allocating
    req->content_type = "application/json";
    req->state = REQ_DONE;
}

size_t requests_in_flight(const requests_t *self)
{
    return self->n_sent;
}

size_t requests_queued(const requests_t *self)
{
    return self->n_queued;
}
