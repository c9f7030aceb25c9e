/*  agent.h: the worker agent, the part of a stage worker that speaks MLOPS/1
    to the broker, so a stage is only a function from input bytes to output
    bytes.

    The agent owns a DEALER connected to the broker's work socket. It sends
    READY, heartbeats both ways every interval, and runs each TASK's handler
    in a thread of its own so heartbeats go on while a long task computes.
    When the broker is silent for liveness intervals, or says DISCONNECT, the
    agent closes the socket and opens a new one (after a back-off of 1 s
    doubling to 5 s while it keeps failing) and sends READY again. A
    handler's failure goes back as RESULT ok=false with its message; the
    process never dies of a task.
    Silence is counted only while the agent listens: a pause of its own
    (decoding a big TASK, encoding a big RESULT, starved of CPU) extends the
    broker's expiry by as much, and a frame waiting unread is read before the
    broker is declared dead.

    Identity: the agent announces an instance name in READY (MLOPS/2): the
    one configured (--name), else one made at start, the host name and six
    random hex digits (`vm-3fa9c2`), so workers that share a host name and
    a pid (containers with host networking, each pid 1) are still told
    apart. A broker that refuses the worker for good (DISCONNECT with a
    code: the name is a live worker's, or it is not a valid name) ends
    agent_run with MLOPS_ESTATE and the broker's reason, logged as an error.

    Fault injection: when the environment has MLOPS_TASK_DELAY_MS=N, every
    task waits N ms in its thread before the handler runs (heartbeats go on).
    The multi-process tests use it to kill a worker or the broker while a task
    is surely in progress; it is never set in normal use. MLOPS_TASK_BUSY_MS=N
    makes the task's thread compute (spin on a core) for N ms instead, so a
    test can show a worker busy past the broker's liveness is not lost; it
    reports its progress in "ms" (progress.h) as a real stage reports rows;
    MLOPS_TASK_BUSY_MS=N,M,... gives attempt 1 N ms, attempt 2 M ms, and
    later attempts the last value (a test cancels a slow first attempt and
    sees the retry run). Both knobs stop at a cancel.

    Progress: each heartbeat sent while a task runs carries the task's
    latest progress report, if any (progress.h; PROTOCOL.md "Task
    progress"), so at most one a heartbeat interval leaves the worker.

    Cancel: a CANCEL from the broker for the task in progress (it timed
    out there), or a connection dropped while a task computes (the broker
    silent or saying DISCONNECT: its RESULT could not be delivered, and the
    broker gives the task to someone else), asks the computation to stop
    (progress_cancel, progress.h). The stage code
    checks where it reports progress (the busy and delay knobs, extract's
    chunks, forest trees, gbdt iterations, data transfers) and fails with
    MLOPS_ECANCELED, so the core and memory are free within one chunk or
    tree. The worker then sends a RESULT ok=false "cancelled" (the broker
    ignores it and frees the worker), or, after a renewal, nothing, and
    announces itself again. Code that reports no progress (logistic
    regression's solver) finishes first.
*/
#ifndef MLOPS_AGENT_H
#define MLOPS_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

//  A stage: reads the TASK input, writes a malloc'd output the agent frees.
//  arg is agent_config_t.handler_arg (the handler runs on the job thread,
//  one task at a time). Returns 0, or an error code with err saying what
//  went wrong.
typedef int (agent_handler_fn)(void *arg, const uint8_t *input, size_t input_len,
                               uint8_t **output, size_t *output_len, mlops_err_t *err);

typedef struct {
    const char *endpoint;        //  the broker's work socket, e.g. tcp://127.0.0.1:5555
    const char *stage;           //  the stage announced in READY
    const char *name;            //  instance name (proto_name_check), NULL = agent_name_make
    int64_t heartbeat_msec;      //  interval (0 = HEARTBEAT_IVL_MSEC)
    int liveness;                //  silent intervals before the broker is dead (0 = HEARTBEAT_LIVENESS)
    agent_handler_fn *handler;   //  runs one task
    void *handler_arg;           //  passed to every call of handler (not owned)
} agent_config_t;

typedef struct agent agent_t;

//  Creates the agent (nothing is connected until agent_run). Returns NULL
//  with err on a bad config (MLOPS_EINVAL) or a bad CURVE environment.
agent_t *agent_new(const agent_config_t *cfg, mlops_err_t *err);

//  Serves tasks until SIGINT / SIGTERM; sends DISCONNECT on the way out.
//  Returns 0, or MLOPS_ESTATE when the broker refused the worker for good
//  (logged with its reason).
int agent_run(agent_t *self);

//  The id of the task its compute thread is still running (borrowed), or
//  NULL when none: after agent_run, a task the stop left unfinished.
const char *agent_task_in_progress(const agent_t *self);

//  The agent's instance name (borrowed, lives as long as the agent).
const char *agent_name(const agent_t *self);

//  Makes a worker instance name: the host name (bytes proto_name_check
//  refuses made '-', at most 48 of them) and '-' and six random hex digits.
void agent_name_make(char *out, size_t size);

//  Frees; waits for a task in progress; ignores NULL; sets *p to NULL.
void agent_destroy(agent_t **p);

#endif
