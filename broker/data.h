/*  data.h: the data service, the broker's blob store on the wire
    (MLOPS-DATA/1, proto/data_io.h and PROTOCOL.md "Data service").

    Stage payloads carry sha256 names (a claim check); the bytes go through
    here instead of the broker's loop: a ROUTER socket on a thread of its
    own (a CZMQ zactor) that answers GETs from LMDB read transactions and
    takes uploads. An upload is written to a spool file under
    STORE/incoming as it comes, hashed on the way, and becomes an object
    (store.h, "Objects") only when the last chunk is in and its sha256 is
    the name it was sent under; anything else (a hash mismatch, too many
    bytes, a chunk out of order, a client gone for DATA_UPLOAD_IDLE_MSEC)
    drops the spool file and leaves nothing visible.

    Caveats:
    - The store is shared with the broker's loop: LMDB allows one writer and
      many readers across threads (the store opens with MDB_NOTLS). The
      service writes an upload in transactions of STORE_OBJECT_TXN_BYTES,
      so the loop waits for the writer lock at most that long.
    - A stored upload is written while the service thread waits: GETs of
      other clients wait meanwhile (about a second per 100 MB).
*/
#ifndef MLOPS_DATA_H
#define MLOPS_DATA_H

#include <stddef.h>

#include "curve.h"
#include "err.h"
#include "store.h"

#define DATA_UPLOADS_MAX 64            //  uploads in progress at once
#define DATA_UPLOAD_IDLE_MSEC 60000    //  an upload silent this long is dropped

typedef struct data data_t;

//  Starts the service on endpoint ("tcp://127.0.0.1:*" picks a port),
//  serving store; curve (may be off) secures the socket as the broker's
//  others. spool_dir is made if missing and emptied of earlier leftovers.
//  Returns NULL with err when the socket cannot bind (errno) or the spool
//  directory cannot be made.
data_t *data_new(store_t *store, curve_t *curve, const char *endpoint, const char *spool_dir,
                 mlops_err_t *err);

//  The endpoint bound, with the port the system chose; borrowed, lives as
//  long as the service.
const char *data_endpoint(const data_t *self);

//  Stops the thread (dropping uploads in progress) and frees; ignores NULL;
//  sets *p to NULL.
void data_destroy(data_t **p);

#endif
