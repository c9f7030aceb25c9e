/*  log.h: the one logging wrapper for programs (libraries return errors).

    One line per event on stderr:
        2026-11-26T05:40:01.123Z broker info run started run=3 source=synthetic
    Level from MLOPS_LOG_LEVEL (error, warning, info, debug; default info).
    Callers pass key=value fields in the message; samples of peer input must be
    passed through log_sanitize() first so a peer cannot forge log lines.
*/
#ifndef MLOPS_LOG_H
#define MLOPS_LOG_H

#include <stddef.h>

//  syslog.h (which czmq.h pulls in) defines LOG_WARNING, LOG_INFO and
//  LOG_DEBUG as macros: include this header after czmq.h and ours win.
#undef LOG_WARNING
#undef LOG_INFO
#undef LOG_DEBUG
typedef enum { LOG_ERROR = 0, LOG_WARNING = 1, LOG_INFO = 2, LOG_DEBUG = 3 } log_level_t;

//  Sets the process identity shown on every line ("broker", "worker[train]").
//  The string is copied. Also reads MLOPS_LOG_LEVEL.
void log_init(const char *identity);

//  Overrides the level.
void log_set_level(log_level_t level);

//  True when lines of this level are printed (to skip building costly messages).
int log_enabled(log_level_t level);

void log_write(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_write(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)

//  Called with each line printed (text without its newline), from the
//  thread that logged it, after it is printed: how a worker keeps the lines
//  it writes while a task runs (workers/agent.c). The tap must not log.
typedef void(log_tap_fn)(const char *line, size_t len, void *arg);

//  Sets the one tap (NULL = none). Set it before threads log.
void log_set_tap(log_tap_fn *fn, void *arg);

//  Copies at most out_size-1 bytes of data into out, replacing control and
//  non-ASCII bytes with '?' and truncating long input with "...". Returns out.
char *log_sanitize(const void *data, size_t len, char *out, size_t out_size);

#endif
