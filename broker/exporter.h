/*  exporter.h: the broker's Prometheus metrics (`mlops-broker --metrics
    ADDR:PORT`, GET /metrics in the text exposition format 0.0.4).

    Two sides, two threads. The broker's loop counts events as it handles
    them (exporter_task_dispatched, exporter_run_ended, ...: plain fields,
    touched by the loop thread only) and, every EXPORTER_PUBLISH_MSEC,
    renders the whole page with the gauges of that moment
    (exporter_publish) and swaps it in under a mutex. The HTTP side is
    libmicrohttpd's own thread: a scrape copies the last page under that
    mutex and never reads broker state. So the loop never waits on a slow
    or stuck scraper (the mutex guards a pointer swap and a copy), and a
    scrape never waits on a loop that is busy storing a big payload; the
    price is a page up to EXPORTER_PUBLISH_MSEC old. (Asking the loop
    through a pipe at each scrape would give fresher numbers but make a
    scrape as slow as the loop's slowest message.)

    Series (names follow Prometheus conventions; `stage` is a stage name):
      mlops_tasks_queued{stage}                      gauge, ready tasks waiting for a worker
      mlops_workers{stage,state}                     gauge, stage workers idle|busy; infer: serving
      mlops_tasks_dispatched_total{stage}            counter
      mlops_tasks_failed_total{stage}                counter, failed attempts (error, lost worker, timeout)
      mlops_tasks_retried_total{stage}               counter, failed attempts that will be retried
      mlops_tasks_timed_out_total{stage}             counter
      mlops_task_duration_seconds{stage}             histogram, dispatch to RESULT of done tasks
      mlops_runs_total{state}                        counter, runs ended: succeeded|failed
      mlops_runs_promoted_total                      counter, runs that put a version in production
      mlops_run_duration_seconds                     histogram, first dispatch to end
      mlops_load_wait_seconds                        histogram, load_model's wait for the inference workers
      mlops_load_waits_total{verdict}                counter: all_serve|none|timed_out|superseded
      mlops_store_map_bytes, mlops_store_used_bytes, mlops_store_max_bytes   gauges
      mlops_loop_stalls_total, mlops_loop_stall_seconds_total   counters, heartbeat-loop stalls
      mlops_active_run                               gauge, id of the active run, 0 = none
      mlops_feature_drift{version,field}             gauge, Jensen-Shannon distance of the live
                                                     requests to the training data (--drift-threshold)
      mlops_feature_psi{version,field}               gauge, the same field's PSI (reported only)
      mlops_drift_window_rows{version}               gauge, live rows in the version's drift window
      mlops_store_objects_collected_total, ..._bytes_total   counters, objects collected (store.h)
      mlops_feedback_rows, _bytes, _max_bytes         gauges, the feedback set (feedback_store.h)
      mlops_feedback_stored_total, _duplicates_total, _rotated_total   counters, kept in the store

    Counters count what this broker process handled since it started (a
    restart starts them at 0, as Prometheus expects of counters).
*/
#ifndef MLOPS_EXPORTER_H
#define MLOPS_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "stage_io.h"

#define EXPORTER_PUBLISH_MSEC 250   //  the page a scrape gets is at most this old

typedef struct exporter exporter_t;

//  One field's drift in one version's window.
typedef struct {
    uint64_t version;
    const char *field;     //  the input field's name (escaped when rendered)
    double js, psi;        //  distances to the reference (proto/profile.h)
    uint64_t rows;         //  live rows in the version's window
} exporter_drift_t;

//  Gauges of one moment, read by the loop when it publishes.
typedef struct {
    size_t queued[STAGE_COUNT];    //  ready tasks per stage
    size_t idle[STAGE_COUNT];      //  idle stage workers per stage
    size_t busy[STAGE_COUNT];      //  busy ones
    size_t serving;                //  live inference workers
    size_t store_map_bytes;        //  the store's map size
    size_t store_used_bytes;       //  pages in use
    size_t store_max_bytes;        //  its growth limit
    uint64_t active_run;           //  0 = none
    const exporter_drift_t *drift; //  per watched version and field (broker/drift.h), borrowed
    size_t n_drift;                //  entries; none without the drift watch
    uint64_t feedback_rows, feedback_bytes, feedback_max_bytes;   //  the feedback set now
    uint64_t feedback_stored, feedback_duplicate, feedback_rotated; //  its rows ever stored,
                                   //  refused as duplicates, dropped for the cap
} exporter_gauges_t;

//  Counters at zero and an empty page; nothing listens yet. NULL on ENOMEM.
exporter_t *exporter_new(void);

//  Serves GET /metrics on listen ("ADDR:PORT": an IPv4 address or `*`,
//  and a port 1..65535) from a thread of libmicrohttpd's. Returns 0, or
//  with err naming the flag: MLOPS_EINVAL (not ADDR:PORT), the errno of
//  the listen (EADDRINUSE: "--metrics 127.0.0.1:9100: cannot listen:
//  Address already in use").
int exporter_serve(exporter_t *self, const char *listen, mlops_err_t *err);

//  Stops the HTTP thread and frees; ignores NULL; sets *p to NULL.
void exporter_destroy(exporter_t **p);

//  The loop's events (loop thread only).
void exporter_task_dispatched(exporter_t *self, stage_t stage);
void exporter_task_failed(exporter_t *self, stage_t stage, bool will_retry);
void exporter_task_timed_out(exporter_t *self, stage_t stage);
void exporter_task_done(exporter_t *self, stage_t stage, double seconds);
void exporter_run_ended(exporter_t *self, bool succeeded, bool promoted, double seconds);
void exporter_load_wait(exporter_t *self, const char *verdict, double seconds);
void exporter_stall(exporter_t *self, double seconds);
void exporter_objects_collected(exporter_t *self, uint64_t objects, uint64_t bytes);

//  Renders the page with these gauges and makes it the one scrapes get.
//  Returns 0 or MLOPS_ENOMEM (the previous page stays).
int exporter_publish(exporter_t *self, const exporter_gauges_t *g);

//  A copy of the page scrapes get now (malloc'd, NUL-terminated; the caller
//  frees), or NULL on ENOMEM. For tests.
char *exporter_page(exporter_t *self);

#endif
