/*  log.c: see log.h. Writes whole lines with one fprintf so lines from
    threads do not interleave (stdio locks the stream per call). */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char s_identity[64] = "mlops";
static log_level_t s_level = LOG_INFO;
static const char *s_level_names[] = {"error", "warning", "info", "debug"};
static log_tap_fn *s_tap;   //  log_set_tap
static void *s_tap_arg;

void log_init(const char *identity)
{
    snprintf(s_identity, sizeof s_identity, "%s", identity ? identity : "mlops");
    const char *env = getenv("MLOPS_LOG_LEVEL");
    if (env)
        for (int i = 0; i <= LOG_DEBUG; i++)
            if (strcasecmp(env, s_level_names[i]) == 0)
                s_level = (log_level_t)i;
}

void log_set_level(log_level_t level)
{
    s_level = level;
}

int log_enabled(log_level_t level)
{
    return level <= s_level;
}

void log_write(log_level_t level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    char line[1200];
    int n = snprintf(line, sizeof line, "%s.%03ldZ %s %s %s", stamp, ts.tv_nsec / 1000000, s_identity,
                     s_level_names[level], text);
    fprintf(stderr, "%s\n", line);
    if (s_tap && n > 0)
        s_tap(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1, s_tap_arg);
}

void log_set_tap(log_tap_fn *fn, void *arg)
{
    s_tap = fn;
    s_tap_arg = arg;
}

char *log_sanitize(const void *data, size_t len, char *out, size_t out_size)
{
    const unsigned char *p = data;
    size_t room = out_size ? out_size - 1 : 0;
    size_t n = len < room ? len : room;
    int cut = len > room;
    if (cut && n >= 3)
        n -= 3;
    for (size_t i = 0; i < n; i++)
        out[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
    if (cut && room >= 3) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    if (out_size)
        out[n] = '\0';
    return out;
}
