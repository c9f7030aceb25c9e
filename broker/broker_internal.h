/*  broker_internal.h: what the broker's files share and nobody else sees.

    The broker is one reactor split along its seams, around this header (as
    h2o's http2_internal.h does):

    - broker.c: construction, the sockets, the work socket's handlers (READY,
      HEARTBEAT, RESULT, DISCONNECT), the timers, and the helpers below that
      send, publish and write into the batch;
    - batch.c (batch.h): one store transaction per message, then the outbox;
    - engine.c: the run engine: trigger, pump, dispatch, a task failed or
      succeeded, the load_model wait, resume and reload;
    - stages.c: per stage, the TASK.input built from the store and the output
      settled into it (one table);
    - control.c: the control socket, one function per command.

    The engine keeps the active run in memory as a copy of what the store
    holds. Changes made while handling one message go into the batch, and
    everything the broker would send meanwhile waits in its outbox;
    broker_flush commits and only then sends. If a commit fails, the outbox
    is dropped and memory is reloaded from the store (engine_reload).

    None of these functions checks its arguments beyond an assert: they are
    called by the broker's own code.
*/
#ifndef MLOPS_BROKER_INTERNAL_H
#define MLOPS_BROKER_INTERNAL_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "broker.h"
#include "control_io.h"
#include "curve.h"
#include "data.h"
#include "dispatch.h"
#include "exporter.h"
#include "fleet.h"
#include "msg.h"
#include "outage.h"
#include "progress_table.h"
#include "rollout_reports.h"
#include "store.h"
#include "throttle.h"

#define SAMPLE_BYTES 48           //  of a bad frame, in the log

struct broker {
    broker_config_t cfg;          //  strings point into the copies below
    char *strings[9];             //  owned copies of config strings
    store_t *store;               //  the one durable place
    curve_t *curve;               //  CURVE configuration (maybe off)
    zsock_t *work;                //  ROUTER, stage workers
    zsock_t *control;             //  ROUTER, clients
    zsock_t *events;              //  PUB
    data_t *data;                 //  the data service (its own socket and thread)
    zloop_t *loop;
    batch_t *batch;               //  the store transaction of this message, and what waits for it
    dispatch_t *dispatch;         //  workers and per-stage queues
    fleet_t *fleet;               //  inference workers (SERVING) and the load_model wait
    progress_table_t *progress;   //  running tasks' progress (HEARTBEAT), in memory only
    exporter_t *exporter;         //  Prometheus metrics, NULL when --metrics is off
    int64_t next_publish_mono;    //  when the exporter's page is next rendered
    int64_t load_wait_began_mono; //  when the load_model wait began, for its histogram
    int64_t resumed_mono;         //  when a run was resumed from the store, 0 = never
    run_t active;                 //  the running run; id 0 = none
    uint64_t queued_id;           //  the queued run, 0 = none
    int64_t next_schedule_ms;     //  wall clock, 0 = no schedule
    outage_t outage;              //  while the store refuses writes (outage.h)
    throttle_t triggers;          //  --trigger-min-interval: last RETRAIN per source
    drift_t *drift;               //  --drift-threshold: live profiles per version, NULL = off
    uint64_t drift_unwatched[DRIFT_VERSIONS_MAX]; //  versions whose artifact has no profile
    size_t drift_n_unwatched;     //  ring position in drift_unwatched
    rollout_reports_t *rollout;           //  the gateways' reports on the current rollout (rollout_reports.h)
    int64_t rollout_check_mono;   //  the tick looks at a canary's period again then (first:
                                  //  ROLLOUT_GRACE_MSEC after start, for the gateways to report)
    //  figures for the bench: time inside handlers (commits: batch_figures)
    uint64_t n_messages;          //  work + control messages handled
    int64_t handler_usec;         //  total time in their handlers
};

/* --- broker.c: helpers ----------------------------------------------------- */

//  Wall clock, ms (zclock_time): for what is stored and shown.
int64_t broker_wall(void);

//  The first SAMPLE_BYTES of a bad frame, made safe for one log line.
char *broker_sample(const void *data, size_t len, char *out, size_t size);

//  Text that came from a peer, made safe for one log line.
char *broker_clean(const char *text, char *out, size_t size);

//  The name a worker goes by: sent (checked with proto_name_check), or
//  host:pid when it sent none (a worker older than names). Returns 0 or
//  MLOPS_EINVAL with err.
int broker_peer_name(const char *sent, const char *host, int64_t pid, char *out, size_t size,
                     mlops_err_t *err);

//  True when another live worker, stage or inference, goes by name: not
//  the one on ROUTER identity id (may be NULL) and not the same host and
//  pid (the same process on a new connection). who gets a description
//  of the holder for the refusal.
bool broker_name_taken(broker_t *self, const char *name, const char *host, int64_t pid,
                       const uint8_t *id, size_t id_len, char *who, size_t size);

//  Encodes msg into a frame; NULL on failure (logged: a bug of ours).
zframe_t *broker_frame_of(const proto_msg_t *msg);

//  Queues msg for the ROUTER peer id on sock, sent when the batch commits.
void broker_send_to(broker_t *self, zsock_t *sock, const uint8_t *id, size_t id_len,
                    const proto_msg_t *msg);

//  Queues msg for a stage worker; counts as written to it (heartbeats).
void broker_send_worker(broker_t *self, dispatch_worker_t *w, const proto_msg_t *msg);

//  Heartbeats every worker not written to lately, at once: before work
//  that may keep the loop busy.
void broker_heartbeat_now(broker_t *self);

//  Queues an EVENT on the events socket (proto/PROTOCOL.md); NULL texts are "".
void broker_publish(broker_t *self, const char *kind, uint64_t run_id, const char *stage,
                    const char *state, uint64_t version, const char *message);
//  A task event of the active run; detail (may be NULL) follows the task id.
void broker_publish_task(broker_t *self, const run_task_t *task, const char *detail);
//  A run event: its state and its outcome, error or reason.
void broker_publish_run(broker_t *self, const run_t *run);

//  The batch's transaction, begun on first use. NULL on failure (logged).
store_txn_t *broker_txn(broker_t *self);

//  Writes run into the batch. Returns 0 or a store error (logged).
int broker_put_run(broker_t *self, const run_t *run);

//  Forgets the open batch and what waits for it, and reloads from the store.
void broker_abort_batch(broker_t *self);

//  Renders the metrics page now (no-op without --metrics).
void broker_metrics_publish(broker_t *self);

/* --- drift_watch.c: live profiles from SERVING ------------------------------ */

//  A SERVING's live profile (profile bytes of len) of version: into its
//  drift window, and a retrain when the window says so. Bad input is
//  logged, never fatal. Does nothing when the drift watch is off.
void broker_drift_report(broker_t *self, int64_t version, const uint8_t *profile, size_t len);

//  The DRIFT answer (proto/drift_io.h): every watched version's window now,
//  none when the watch is off. Returns 0 or MLOPS_ENOMEM with err.
int broker_drift_answer(broker_t *self, uint8_t **out, size_t *out_len, mlops_err_t *err);

//  The drift gauges of the metrics page: one entry per watched version and
//  field, in *out (malloc'd, the caller frees). Returns how many (0 with
//  the watch off, or out of memory: the page then goes without them).
size_t broker_drift_gauges(broker_t *self, exporter_drift_t **out);

/* --- feedback_store.c: the feedback set ------------------------------------- */

//  FEEDBACK: stores msg's rows (none: only the counts) in the open batch
//  under --feedback-max-bytes, and encodes the answer
//  (proto/feedback_io.h). Returns 0, MLOPS_EPROTO / MLOPS_ETOOBIG (bad
//  rows: nothing stored), a store error, or MLOPS_ENOMEM, with err.
int broker_feedback_answer(broker_t *self, const proto_msg_t *msg, uint8_t **out, size_t *out_len,
                           mlops_err_t *err);

//  For a "+feedback" source (proto/source.h): the feedback set, written
//  as an object in the open batch (feedback_io_set_encode, labels under
//  --target), named in *ref for extract's TASK. Other sources: 0, ref
//  untouched. Returns 0, MLOPS_ENOTFOUND (the set is empty: the run fails
//  saying so) or a store error, with err.
int broker_feedback_ref(broker_t *self, const char *source, stage_ref_t *ref, mlops_err_t *err);

//  The feedback set's counts into the metrics page's gauges (left 0 when
//  the store cannot say).
void broker_feedback_gauges(broker_t *self, exporter_gauges_t *g);
/* --- rollout_watch.c: canary and shadow (rollout_reports.h) ------------------------ */

//  PROMOTE with a rollout key (rollout_requested): starts the rollout in
//  txn and fills the answer. Returns 0, or with err MLOPS_EINVAL (the keys,
//  rollout_check_promote), MLOPS_ENOTFOUND (no such version, no production),
//  MLOPS_ESTATE (a rollout is active, the version is production, the schema
//  rule) or a store error.
int broker_rollout_start(broker_t *self, store_txn_t *txn, const proto_msg_t *msg,
                         control_promote_t *answer, mlops_err_t *err);

//  ROLLBACK during a rollout: ends it in txn without promoting, audited
//  with why. *ended gets the rollout ended (rollout none when none was
//  active: nothing done). Returns 0 or a store error.
int broker_rollout_stop(broker_t *self, store_txn_t *txn, const char *why, rollout_state_t *ended,
                        mlops_err_t *err);

//  A plain PROMOTE of version: ends an active rollout first in txn (rolled
//  back, or promoted when version is its candidate). 0 or a store error.
int broker_rollout_superseded(broker_t *self, store_txn_t *txn, uint64_t version, mlops_err_t *err);

//  The candidate of the rollout active in txn (NULL: the last commit) into
//  *version, 0 when none is. 0 or a store error (MLOPS_ECORRUPT: the
//  stored rollout does not decode).
int broker_rollout_candidate(broker_t *self, store_txn_t *txn, uint64_t *version, mlops_err_t *err);

//  True for a CANARY that carries a gateway's report (its role is checked).
bool broker_rollout_reporting(const proto_msg_t *msg);

//  CANARY: takes the report if any, answers the state (rollout_io.h) in a
//  malloc'd *out. Returns 0, or with err MLOPS_EPROTO (a bad report),
//  MLOPS_EINVAL (a report without a gateway id), MLOPS_ETOOBIG, a store error.
int broker_rollout_answer(broker_t *self, const proto_msg_t *msg, uint8_t **out, size_t *len,
                          mlops_err_t *err);

//  The tick: a canary whose period is over is decided and ended (promoted
//  or rolled back, in a batch of its own). Failures are logged.
void broker_rollout_tick(broker_t *self);

//  --promote-via canary: load_model validated v, which beats production;
//  starts a canary of it in txn instead of promoting it (or archives it
//  when a rollout is active), saying so in the run's outcome. False when v
//  goes to production directly (--promote-via direct, no production yet);
//  else true with *rc 0 or a store error.
bool broker_rollout_via(broker_t *self, store_txn_t *txn, const version_t *v, int *rc, mlops_err_t *err);

/* --- engine.c: the run engine ---------------------------------------------- */

//  Picks up the store's unfinished runs at start. Returns 0 or an error
//  with err.
int engine_resume(broker_t *self, mlops_err_t *err);

//  Makes memory agree with the store again after a batch was lost.
void engine_reload(broker_t *self);

//  RETRAIN (or the schedule): a new run, or folded into the queued one.
//  Returns 0 or an error with err; *answer says which.
int engine_trigger(broker_t *self, const char *source, const char *reason,
                   control_retrain_t *answer, mlops_err_t *err);

//  A commit failed (rc, err): memory was reloaded. When the environment
//  refused it (store_fault) the engine holds off (outage.h) and fails the
//  active run with the cause, once the store takes that write; otherwise
//  the failure is logged.
void engine_store_refused(broker_t *self, int rc, const mlops_err_t *err);

//  Queues the ready tasks and hands out what idle workers can take; during
//  a store outage, nothing until its hold has passed.
void engine_pump(broker_t *self);

//  A task's attempt failed (RESULT ok=false, a lost worker, a timeout):
//  retry later or fail the run.
void engine_task_failed(broker_t *self, run_task_t *task, const char *error);

//  A RESULT ok=true for a task in hand: store its output, settle it, move on.
void engine_task_succeeded(broker_t *self, run_task_t *task, const uint8_t *output, size_t len);

//  The active run's load_model task, or NULL.
run_task_t *engine_load_model_task(broker_t *self);

//  Ends the load_model wait when it is over (fleet.h); call after anything
//  that may change its verdict.
void engine_load_wait_check(broker_t *self);

//  A manual promote or rollback put production at another version: a run
//  waiting for its own stops waiting.
void engine_load_wait_superseded(broker_t *self, uint64_t production, const char *how);

/* --- retention.c: --keep-runs, --keep-versions ---------------------------- */

//  Deletes in the batch the ended runs beyond the newest keep_runs (the
//  ending run counts as kept) with their stage outputs, and the versions
//  beyond the newest keep_versions with their artifacts, never production,
//  its rollback target nor own_version; then the datasets nothing kept
//  names (nothing of this when both are 0); then collects the store's
//  objects nothing names (store_object_collect). Returns 0 or a store
//  error (logged).
int retention_apply(broker_t *self, uint64_t ending, uint64_t own_version);

/* --- stages.c: per-stage inputs and settles -------------------------------- */

//  What a settle tells the engine beyond the run: for its announcements.
typedef struct {
    bool promoted;                //  load_model put the version in production
    version_t registered;         //  evaluate registered this version (0 = none)
} stages_settled_t;

//  The TASK.input of task, built from the store as of the open batch, as a
//  malloc'd buffer. Returns 0 or an error with err.
int stages_build_input(broker_t *self, const run_task_t *task, uint8_t **out, size_t *len,
                       mlops_err_t *err);

//  Checks and stores a task's output in txn, by stage, updating the active
//  run. Returns 0 or an error with err (the caller aborts the batch).
int stages_settle(broker_t *self, store_txn_t *txn, const run_task_t *task,
                  const uint8_t *output, size_t len, stages_settled_t *settled, mlops_err_t *err);

/* --- runlogs.c: the task logs a run keeps ------------------------------- */

#define RUNLOGS_RUNS_KEPT 100     //  runs whose task logs the store keeps

//  Appends text (a piece of HEARTBEAT.log or RESULT.log from worker) to
//  the log of task's current attempt, in the batch. A failure is logged
//  and leaves the batch alone: a lost log line never costs a result.
void runlogs_append(broker_t *self, const run_task_t *task, const char *worker, const char *text);

//  A run started: deletes the logs of the run RUNLOGS_RUNS_KEPT before it.
void runlogs_prune(broker_t *self, uint64_t started_run);

//  The LOGS answer: every kept attempt of the run's tasks (or of task_id),
//  in task order, encoded into a malloc'd *out. Returns 0, or with err:
//  MLOPS_ENOTFOUND (no such run, no such task in it), a store error.
int runlogs_answer(broker_t *self, int64_t run_id, const char *task_id, uint8_t **out, size_t *len,
                   mlops_err_t *err);

#endif
