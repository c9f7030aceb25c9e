/*  progress.h: how far a stage worker's task has got, for its heartbeats
    (proto/PROTOCOL.md, HEARTBEAT done/total/unit).

    In common/ so that any layer can report without a context passed down
    to it: the ML library (trees grown), the data client (bytes moved), the
    stage handlers (rows read).

    One slot per process, as the log tap is (tasklog.h): a worker runs one
    task at a time, and the code that knows how far it is (extract reading
    rows, the data client moving bytes, a forest growing trees on several
    threads, the test-only busy knob) is deep in a handler that should not
    carry a context through every call.
    progress_report overwrites the slot (a mutex and a few stores, cheap,
    but call it per chunk or per tree, never per row); the agent reads it
    when it sends a heartbeat, so at most one report per heartbeat
    interval leaves the process whatever the reporting rate.
    progress_begin and progress_end bound a task: outside them reports are
    dropped (`mlops train`, an inference worker's data client: nothing
    begins, so their reports cost a lock and go nowhere).

    Cancel: the same slot carries the task's cancel flag. The agent sets it
    (progress_cancel) when the broker gives up on the attempt; the code
    that reports progress checks it (progress_cancelled) where it reports,
    per chunk or per tree, and gives up with MLOPS_ECANCELED, so a
    cancelled task stops within one report's worth of work.

    Thread-safe: reports come from the job thread, reads from the agent.
*/
#ifndef MLOPS_PROGRESS_H
#define MLOPS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#define PROGRESS_UNIT_MAX 15   //  bytes of a unit (PROTO_UNIT_MAX, HEARTBEAT's unit)


//  Starts a task's progress: empty until the first report.
void progress_begin(void);

//  Ends it: later reports are dropped until the next progress_begin.
void progress_end(void);

//  done units of total (0 = unknown) so far; unit is 1 to PROGRESS_UNIT_MAX
//  lower-case letters ("rows", "bytes", "trees"; another unit is a bug:
//  asserted, dropped in a release build). A count past total is clamped to
//  total, a negative one to 0 (proto_heartbeat_check refuses both).
void progress_report(int64_t done, int64_t total, const char *unit);

//  As progress_report, for a count that several threads advance: a report
//  below the latest of the same unit and total is dropped (threads report
//  out of order), so the count never goes back.
void progress_advance(int64_t done, int64_t total, const char *unit);

//  Asks the task in progress to stop (the agent, on CANCEL); no effect
//  outside progress_begin..progress_end. progress_begin clears it.
void progress_cancel(void);

//  True when the task in progress was asked to stop: its code should give
//  up with MLOPS_ECANCELED. Cheap (one atomic load): call it per chunk.
bool progress_cancelled(void);

//  The latest report into done, total and unit (PROGRESS_UNIT_MAX + 1 bytes);
//  false (and nothing written) when the task has reported nothing.
bool progress_read(int64_t *done, int64_t *total, char *unit);

#endif
