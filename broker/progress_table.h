/*  progress_table.h: the latest progress of each running task, as its worker's
    heartbeats report it (proto/PROTOCOL.md, HEARTBEAT done/total/unit),
    with a rate-based estimate of the time left.

    Kept in memory only: progress is a view of work in flight, worth
    nothing after a restart (the task is sent again and reports afresh).
    An entry goes when its task's RESULT arrives; at most PROGRESS_TABLE_TASKS_MAX
    are kept (a run has a handful of tasks; past the bound, tasks that were
    lost without a RESULT, everything is forgotten and rebuilt from the next
    heartbeats).

    The estimate: the rate since the first report of the current unit
    (extract reports bytes read, then rows, then bytes uploaded: each unit
    starts its own count), and a count that goes back (a new attempt)
    starts it again. Shown only when the total is known and some time and
    work have passed.
*/
#ifndef MLOPS_PROGRESS_TABLE_H
#define MLOPS_PROGRESS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROGRESS_TABLE_TASKS_MAX 64       //  tasks with progress kept at once
#define PROGRESS_TABLE_PUBLISH_MSEC 1000  //  a task's progress event goes out at most this often
#define PROGRESS_TABLE_TEXT_MAX 96        //  bytes of progress_table_text's output, with the NUL

typedef struct progress_table progress_table_t;

//  An empty table; NULL on ENOMEM.
progress_table_t *progress_table_new(void);

//  Frees; ignores NULL; sets *p to NULL.
void progress_table_destroy(progress_table_t **p);

//  Records a report for task_id at monotonic now_mono (unit "" is ignored:
//  no progress). Returns true when it is time to publish it (the first
//  report, or PROGRESS_TABLE_PUBLISH_MSEC after the last one published).
bool progress_table_update(progress_table_t *self, const char *task_id, int64_t done,
                           int64_t total, const char *unit, int64_t now_mono);

//  Forgets task_id's progress (its RESULT came).
void progress_table_forget(progress_table_t *self, const char *task_id);

//  task_id's progress as text, e.g. "1200/5000 rows (24%, about 12 s
//  left)" or "37 trees" when the total is unknown, into out (size bytes,
//  PROGRESS_TABLE_TEXT_MAX is enough); "" when none. Returns out.
char *progress_table_text(progress_table_t *self, const char *task_id, char *out, size_t size);

#endif
