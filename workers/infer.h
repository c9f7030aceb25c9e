/*  infer.h: the inference worker (`mlops-worker --stage infer`).

    One serving thread holds a DEALER to the gateway's backend socket: it
    says READY with the model version it serves, heartbeats, and answers
    each PREDICT with a PREDICTION (or an ERROR: 422 with a detail entry per
    bad field, 503 when it has no model yet, 500 when the model fails).
    Models arrive from a feed thread (infer_feed.h) that talks to the broker;
    the serving thread swaps the model pointer between two requests, so no
    request is dropped and every answer carries the version that computed it.

    Caveats: a model is loaded beside the one being served, so memory peaks
    at two models during a swap.
*/
#ifndef MLOPS_INFER_H
#define MLOPS_INFER_H

#include <stdint.h>

#include "err.h"
#include "infer_feed.h"

#define INFER_GATEWAY "tcp://127.0.0.1:5558"

typedef struct {
    const char *gateway;         //  backend endpoint to connect to
    const char *control;         //  broker control endpoint, NULL = no broker
    const char *events;          //  broker events endpoint (with control)
    const char *model_path;      //  artifact to serve from the start, NULL = none
    int64_t model_version;       //  version reported for model_path
    int64_t heartbeat_msec;      //  heartbeat interval
    int64_t report_msec;         //  SERVING to the broker at least this often, 0 = default
    const char *name;            //  instance name in READY and SERVING (agent_name_make's form)
    infer_feed_data_t data;      //  where artifacts are fetched by hash (with control)
} infer_config_t;

typedef struct infer infer_t;

//  Loads model_path if given and starts the feed thread if a broker is
//  given. Returns NULL with err: the codes of model_load, errno for an
//  unreadable file, MLOPS_ETOOBIG for a file over the frame limit.
infer_t *infer_new(const infer_config_t *cfg, mlops_err_t *err);

//  Serves until infer_stop. Returns 0, or errno when polling fails.
int infer_run(infer_t *self);

//  Asks a running worker to stop: async-signal-safe (sets a flag).
void infer_stop(infer_t *self);

//  Says DISCONNECT to the gateway, stops the feed thread, frees; ignores
//  NULL; sets *p to NULL.
void infer_destroy(infer_t **p);

#endif
