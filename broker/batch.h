/*  batch.h: the broker's commit-then-send batch.

    Everything the broker changes while it handles one message goes into one
    store transaction, begun on first use; everything it would send
    meanwhile (TASKs, events, REPLYs) waits in an outbox. batch_commit
    commits the transaction and only then sends the outbox, so nothing is
    announced or acted on before it is durable, and a run costs one commit
    per message instead of one per transition.

    Caveats:
    - Read what the batch wrote through the store, in its transaction
      (batch_current_txn; store.h gets take a txn): there is no copy beside
      it.
    - One batch per store, used from one thread: its transaction holds
      LMDB's writer lock until batch_commit or batch_abort.
    - A message queued for a NULL socket is dropped at commit: that is how a
      broker without sockets (broker_new_detached) runs the same code.
*/
#ifndef MLOPS_BATCH_H
#define MLOPS_BATCH_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "store.h"

typedef struct batch batch_t;

//  A batch over store (borrowed: it must outlive the batch). NULL when out
//  of memory.
batch_t *batch_new(store_t *store);

//  Aborts the open transaction, drops the outbox; ignores NULL; sets *p to
//  NULL.
void batch_destroy(batch_t **p);

//  The batch's transaction, begun on first use. NULL with err when
//  store_begin fails (store.h).
store_txn_t *batch_txn(batch_t *self, mlops_err_t *err);

//  The open transaction, or NULL when none is begun (then the last commit
//  is what the batch holds): pass it to a store get to read the batch's
//  own writes. Begins nothing.
store_txn_t *batch_current_txn(const batch_t *self);

//  Queues msg for sock, to be sent after the commit. Takes msg.
void batch_send(batch_t *self, zsock_t *sock, zmsg_t **msg);

//  Like batch_send, with payload (when not NULL) as the last frame, handed
//  to ZeroMQ without a copy at send time. Takes msg and payload.
void batch_send_payload(batch_t *self, zsock_t *sock, zmsg_t **msg, uint8_t **payload,
                        size_t payload_len);

//  Commits the transaction (when one was begun), then sends the outbox in
//  order. Returns 0, or store_commit's error: then nothing of the batch was
//  written and the outbox is dropped unsent. The batch is empty after,
//  either way.
int batch_commit(batch_t *self, mlops_err_t *err);

//  Abandons the transaction and drops the outbox unsent.
void batch_abort(batch_t *self);

//  Commits so far and the time spent in them, for the broker's figures.
void batch_figures(const batch_t *self, uint64_t *commits, int64_t *commit_usec);

#endif
