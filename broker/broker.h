/*  broker.h: mlops-broker, the process that runs the DAG.

    It binds three sockets (work ROUTER for stage workers, control ROUTER
    for clients, events PUB), owns the LMDB store, and runs one zloop with a
    handler per socket and one function per message type. Every run and task
    transition is committed to the store before it is announced on the events
    socket or acted on (a TASK is sent only after its dispatch is committed),
    so a broker killed at any point and started again resumes where the store
    says it stood.

    Caveats:
    - One run is active at a time; RETRAIN while a run is active queues one
      run, and further triggers fold into it (the REPLY says coalesced).
    - A version is registered in the same store transaction that settles the
      evaluate task, and promoted in the one that settles load_model: a
      restart can redo a task but never registers or promotes twice.
    - A promoting load_model is done only once every live inference worker
      reports (SERVING) that it serves the version, or load_wait_msec after
      its RESULT; the run then succeeds either way, its outcome naming the
      workers that lag (fleet.h). Meanwhile the task stays `running` in the
      store with no worker holding it, so a restart redoes the validation
      (which promotes nothing twice) and waits again.
*/
#ifndef MLOPS_BROKER_H
#define MLOPS_BROKER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "dag.h"
#include "drift.h"
#include "rollout_reports.h"
#include "err.h"
#include "msg.h"
#include "registry.h"
#include "stage_io.h"

#define BROKER_STAGE_TIMEOUT_MSEC (10 * 60 * 1000)   //  --timeout: progress stalled this long
#define BROKER_TASK_TIMEOUT_MAX_MSEC (24 * 60 * 60 * 1000LL) //  --timeout-max: a task's hard cap
#define BROKER_LOAD_WAIT_MSEC (30 * 1000)   //  --load-wait default
//  ZMQ_MAXMSGSIZE per bound socket: a peer that sends a larger frame is
//  disconnected before the broker holds it. Stage payloads name their data
//  by hash, so a TASK or RESULT is a few KiB; the rest of the work socket's
//  limit is room for error texts and logs (PROTOCOL.md section 14). Clients
//  send small requests; the events socket only receives subscriptions.
#define BROKER_WORK_MSG_MAX_BYTES ((int64_t)1 << 20)
#define BROKER_CONTROL_MSG_MAX_BYTES ((int64_t)64 * 1024)
#define BROKER_EVENTS_MSG_MAX_BYTES ((int64_t)1024)

typedef struct {
    const char *work_endpoint;       //  bind, default tcp://127.0.0.1:5555
    const char *control_endpoint;    //  bind, default tcp://127.0.0.1:5556
    const char *events_endpoint;     //  bind, default tcp://127.0.0.1:5557
    const char *data_endpoint;       //  bind (data service), NULL = the work endpoint's port
                                     //  plus 4 (tcp://127.0.0.1:5559; endpoint_data)
    const char *store_dir;           //  LMDB directory
    bool no_sync;                    //  commits without fsync (see store_options_t)
    size_t store_max_bytes;          //  the store's map never grows past this, 0 = 64 GiB
    int64_t heartbeat_msec;          //  interval of heartbeats to workers
    int liveness;                    //  silent intervals before a worker is dead
    dag_policy_t policy;             //  attempts and backoff
    int64_t timeout_msec[STAGE_COUNT]; //  per-stage task timeout: longest time without progress
    int64_t timeout_max_msec;        //  longest time a task may run, progress or not
    int64_t schedule_msec;           //  start a run this often, 0 = never
    int64_t load_wait_msec;          //  longest wait for the inference workers, 0 = none
    registry_rule_t rule;            //  promotion metric and margin
    const char *default_source;      //  source of a RETRAIN with none
    const char *target;              //  label column, "" = default
    char task[RECORD_NAME_MAX];      //  --task: auto (from the target column), binary,
                                     //  multiclass, regression
    double test_fraction;            //  0 = default
    uint64_t seed;                   //  split and training seed
    const char *families[DAG_FAMILIES_MAX]; //  train fan-out
    size_t n_families;
    const char *metrics_listen;      //  ADDR:PORT of GET /metrics (exporter.h), NULL = off
    int64_t keep_runs;               //  ended runs kept with their outputs, 0 = all
    int64_t keep_versions;           //  versions kept beyond production and its rollback target, 0 = all
    int64_t trigger_min_interval_msec; //  per source, between accepted RETRAINs, 0 = no limit
    drift_config_t drift;            //  --drift-*: threshold 0 = no drift watch (drift.h)
    size_t feedback_max_bytes;       //  --feedback-max-bytes: the feedback set's cap, 0 = 64 MiB
    rollout_via_t promote_via;       //  --promote-via: a run's version goes to production
                                     //  directly (percent 0) or through a canary (rollout_reports.h)
} broker_config_t;

typedef struct broker broker_t;

//  Fills cfg with the defaults of DESIGN.md.
void broker_config_defaults(broker_config_t *cfg);

//  Opens the store, binds the sockets, resumes unfinished runs. Returns NULL
//  with err: a store error (store.h), errno from a bind (EADDRINUSE...),
//  MLOPS_EINVAL for a bad config. The config's strings are copied.
broker_t *broker_new(const broker_config_t *cfg, mlops_err_t *err);

//  Like broker_new but binds no socket and runs no loop: what the broker
//  would send is dropped (REPLYs go back to the caller of
//  broker_control_handle). For driving the handlers in process
//  (fuzz/fuzz_control.c).
broker_t *broker_new_detached(const broker_config_t *cfg, mlops_err_t *err);

//  Handles one message of the control socket, *in as a ROUTER receives it:
//  [identity, payload] or [identity, "", payload] (anything else is answered
//  "malformed envelope"). Takes *in. Returns the REPLY in the same envelope
//  (caller owns it), NULL when there is no identity to answer. Send it only
//  after broker_flush: the change it reports is in the open batch. Bad
//  input never fails: it is answered ok=false with the reason.
zmsg_t *broker_control_handle(broker_t *self, zmsg_t **in);

//  Commits the open batch and sends what waits for it. Returns 0 or the
//  store's error (the batch is then dropped and memory reloaded).
int broker_flush(broker_t *self);

//  Runs until SIGINT / SIGTERM. Returns 0, or -1 when the loop failed.
int broker_run(broker_t *self);

//  Closes sockets and store; logs the per-message figures; ignores NULL.
void broker_destroy(broker_t **p);

#endif
