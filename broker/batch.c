/*  batch.c: see batch.h.

    The outbox is a growing array of messages, each with the socket it goes
    to. A message with a big last frame (a TASK can be a hundred MB) keeps
    that frame as our own buffer and hands it to ZeroMQ at send time without
    a copy: a copy is loop time in which no heartbeat is read.
*/
#include "batch.h"

#include <assert.h>
#include <stdlib.h>

#include "log.h"
#include "vec.h"

typedef struct {
    zsock_t *sock;                //  where it goes, NULL = dropped at commit
    zmsg_t *msg;                  //  what, owned (the envelope only when payload is set)
    uint8_t *payload;             //  last frame, owned, handed to ZeroMQ uncopied; NULL = none
    size_t payload_len;
} s_out_t;

struct batch {
    store_t *store;               //  borrowed
    store_txn_t *txn;             //  the open transaction, NULL when none
    s_out_t *out;                 //  outbox: sent after the commit
    size_t n_out, cap_out;
    uint64_t n_commits;           //  figures: commits
    int64_t commit_usec;          //  and the time in them
};

batch_t *batch_new(store_t *store)
{
    assert(store);
    batch_t *self = calloc(1, sizeof *self);
    if (self)
        self->store = store;
    return self;
}

static void s_out_drop(batch_t *self)
{
    for (size_t i = 0; i < self->n_out; i++) {
        zmsg_destroy(&self->out[i].msg);
        free(self->out[i].payload);
    }
    self->n_out = 0;
}

void batch_destroy(batch_t **p)
{
    if (!p || !*p)
        return;
    batch_t *self = *p;
    store_abort(&self->txn);
    s_out_drop(self);
    free(self->out);
    free(self);
    *p = NULL;
}

store_txn_t *batch_txn(batch_t *self, mlops_err_t *err)
{
    assert(self);
    if (!self->txn)
        self->txn = store_begin(self->store, err);
    return self->txn;
}

store_txn_t *batch_current_txn(const batch_t *self)
{
    assert(self);
    return self->txn;
}

void batch_send_payload(batch_t *self, zsock_t *sock, zmsg_t **msg, uint8_t **payload,
                        size_t payload_len)
{
    assert(self && msg && *msg);
    if (vec_reserve_(&self->out, &self->cap_out, self->n_out, 1, sizeof *self->out) != 0) {
        log_error("out of memory: a message is dropped");
        zmsg_destroy(msg);
        free(payload ? *payload : NULL);
        return;
    }
    self->out[self->n_out++] = (s_out_t){sock, *msg, payload ? *payload : NULL, payload_len};
    *msg = NULL;
    if (payload)
        *payload = NULL;
}

void batch_send(batch_t *self, zsock_t *sock, zmsg_t **msg)
{
    batch_send_payload(self, sock, msg, NULL, 0);
}

static void s_payload_free_fn(void *data, void *hint)
{
    (void)hint;
    free(data);
}

//  Sends one outbox entry, the payload as a ZeroMQ message over our buffer.
static void s_out_send(s_out_t *o)
{
    if (!o->payload) {
        zmsg_send(&o->msg, o->sock);
        return;
    }
    zframe_t *f;
    while ((f = zmsg_pop(o->msg)))
        zframe_send(&f, o->sock, ZFRAME_MORE);
    zmsg_destroy(&o->msg);
    zmq_msg_t m;
    if (zmq_msg_init_data(&m, o->payload, o->payload_len, s_payload_free_fn, NULL) != 0) {
        free(o->payload);
    } else if (zmq_msg_send(&m, zsock_resolve(o->sock), 0) < 0) {
        zmq_msg_close(&m);   //  frees the payload
    }
    o->payload = NULL;
}

int batch_commit(batch_t *self, mlops_err_t *err)
{
    assert(self);
    if (self->txn) {
        int64_t t0 = zclock_usecs();
        int rc = store_commit(&self->txn, err);
        self->commit_usec += zclock_usecs() - t0;
        self->n_commits++;
        if (rc) {
            s_out_drop(self);
            return rc;
        }
    }
    for (size_t i = 0; i < self->n_out; i++) {
        if (self->out[i].sock)
            s_out_send(&self->out[i]);
        zmsg_destroy(&self->out[i].msg);   //  detached (no socket): dropped
        free(self->out[i].payload);
    }
    self->n_out = 0;
    return 0;
}

void batch_abort(batch_t *self)
{
    assert(self);
    store_abort(&self->txn);
    s_out_drop(self);
}

void batch_figures(const batch_t *self, uint64_t *commits, int64_t *commit_usec)
{
    assert(self && commits && commit_usec);
    *commits = self->n_commits;
    *commit_usec = self->commit_usec;
}
