/*  infer_feed.h: the thread that keeps an inference worker supplied with
    models from the broker.

    It asks the broker's control socket for the production artifact
    (GET_MODEL) at start and again, by version, whenever the events socket
    announces a `model` event in state `production` (a promotion or a
    rollback). The broker answers with the registry's sha256 and size of
    the artifact (GET_MODEL by_hash), and the feed fetches the bytes from
    the broker's data service (or its blob cache, when given one) by that
    hash; a broker older than by_hash, or a version the data service does
    not hold, sends the bytes inline (infer_fetch.h), and a data service
    silent for INFER_FEED_TIMEOUT_MSEC makes the feed ask for inline
    answers from then on (serving matters more than the claim check). Either way the bytes
    are checked against the registry's sha256 before they are loaded (off
    the serving thread, so serving never waits for a load) and the loaded
    model is handed to the serving thread over an inproc PAIR. While the
    broker is away it retries with a back-off; the serving thread keeps
    what it has. Bytes that fail the check are refused: the error is
    logged naming both hashes, the version is not fetched again until it
    is announced again, and the worker goes on serving (and reporting in
    SERVING) the version it had, so the broker's load wait names it as
    lagging.

    It also reports to the broker which version the worker serves: SERVING
    on the control socket at once when the serving thread has swapped a model
    in, and every report interval otherwise, so the broker can tell when
    every inference worker serves a promoted version (and a worker that
    stops reporting stops counting). The REPLY names the production version:
    when it changes without our having seen its `model` event (we joined
    late, or the events socket dropped it), the feed fetches it all the same.

    SERVING carries the worker's instance name (MLOPS/2). When the broker
    refuses it because a live worker already goes by that name (REPLY code
    `conflict`), the worker must not serve under a name that is not its
    own: the feed logs the broker's reason as an error, marks the process
    refused (infer_feed_refused) and stops it the way an operator would,
    with SIGTERM, so the serving thread says DISCONNECT and exits through
    its usual path; mlops-worker then exits 1. Any other refusal (a broker
    older than SERVING or than MLOPS/2) is logged once and serving goes on.

    It also fetches a version the serving thread asks for by number
    (infer_feed_pin: a PREDICT pinned to a version the worker does not
    hold), once, without retrying: the answer, a model or why there is
    none, is posted as a pinned infer_feed_post_t.

    What crosses the pipe to the serving thread is one frame holding an
    infer_feed_post_t: the receiver owns the model from then on. What comes
    back is one frame holding the int64_t version the serving thread now
    serves (infer_feed_served), after each swap, or a pin request.
*/
#ifndef MLOPS_INFER_FEED_H
#define MLOPS_INFER_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "curve.h"
#include "err.h"
#include "model.h"

#define INFER_FEED_TIMEOUT_MSEC 3000    //  wait for one GET_MODEL answer
#define INFER_FEED_BACKOFF_MAX_MSEC 8000 //  longest wait between attempts

#define INFER_FEED_PINS_MAX 64   //  pin requests waiting in the feed

typedef struct {
    model_t *model;       //  loaded model, owned by the receiver; NULL for a failed pin
    int64_t version;      //  its registry version
    bool pinned;          //  the answer to infer_feed_pin, not a new production model
    int status;           //  a failed pin: 404 (no such version, or it does not load), 503
    char why[160];        //  a failed pin: what happened
} infer_feed_post_t;

typedef struct {
    const char *endpoint;     //  the broker's data service, NULL = inline answers only
    const char *cache_dir;    //  blob cache directory, NULL = no cache
    uint64_t cache_bytes;     //  its bound, 0 = BLOB_CACHE_BYTES_DEFAULT
} infer_feed_data_t;

typedef struct infer_feed infer_feed_t;

//  Starts the thread. curve (borrowed, outlives the feed) makes its sockets
//  CURVE clients when configured; pipe_endpoint is an inproc endpoint the
//  caller has bound a PAIR to (CZMQ's context); have_version the version
//  already served (0 = none: fetch production at once); report_msec the
//  SERVING interval (0 = HEARTBEAT_IVL_MSEC). Returns NULL with
//  err (MLOPS_ENOMEM or the errno of pthread_create).
//  name is the worker's instance name for SERVING (copied). data (may be
//  NULL, copied) says where artifacts are fetched by hash; the data client
//  is CURVE's from the environment, as the stage workers'.
infer_feed_t *infer_feed_new(curve_t *curve, const char *control, const char *events,
                             const char *pipe_endpoint, int64_t have_version, int64_t report_msec,
                             const char *name, const infer_feed_data_t *data, mlops_err_t *err);

//  True once a feed of this process was refused for its name (see above).
bool infer_feed_refused(void);

//  For the serving thread: tells the feed, over pipe (the serving thread's
//  end of the PAIR), that it now serves version. Never blocks.
void infer_feed_served(void *pipe, int64_t version);

//  For the serving thread: asks the feed for version (a pinned post comes
//  back, with the model or why not). Never blocks; false when the request
//  could not be queued.
bool infer_feed_pin(void *pipe, int64_t version);

//  Stops and joins the thread; ignores NULL; sets *p to NULL.
void infer_feed_destroy(infer_feed_t **p);

#endif
