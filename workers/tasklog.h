/*  tasklog.h: the log lines a stage worker writes while it runs a task,
    kept to go to the broker with the task's heartbeats and its RESULT
    (proto/PROTOCOL.md, HEARTBEAT.log and RESULT.log).

    The agent installs tasklog_tap_fn as the log tap (common/log.h): every
    line any thread of the worker logs between tasklog_begin and
    tasklog_end is appended, made safe (proto_log_sanitize: no control
    byte but the newline, valid UTF-8). What has not been sent yet is
    bounded: past PROTO_LOG_MAX_BYTES the oldest whole lines go, and the
    next text taken starts with a line saying how many bytes went, so the
    newest lines, where a failure shows, always arrive. tasklog_take hands
    over the lines not sent yet and forgets them: the agent sends them with
    each heartbeat while the task runs, so a worker that dies mid-task
    leaves at the broker what it had sent up to its last heartbeat.

    Thread-safe: lines come from the job thread and the agent's loop.
*/
#ifndef MLOPS_TASKLOG_H
#define MLOPS_TASKLOG_H

#include <stddef.h>

typedef struct tasklog tasklog_t;

//  An idle capture keeping at most max_bytes unsent (0 = PROTO_LOG_MAX_BYTES).
//  NULL on ENOMEM.
tasklog_t *tasklog_new(size_t max_bytes);

//  Frees; ignores NULL; sets *p to NULL. Remove the tap first.
void tasklog_destroy(tasklog_t **p);

//  Starts capturing a new attempt (what was left unsent is dropped); ends it.
void tasklog_begin(tasklog_t *self);
void tasklog_end(tasklog_t *self);

//  Appends one line while capturing (no-op otherwise).
void tasklog_append(tasklog_t *self, const char *line, size_t len);

//  The log tap: arg is the tasklog_t.
void tasklog_tap_fn(const char *line, size_t len, void *arg);

//  The lines not taken yet, '\n'-terminated, as a malloc'd string the caller
//  frees ("" when none), or NULL on ENOMEM; they count as sent.
char *tasklog_take(tasklog_t *self);

#endif
