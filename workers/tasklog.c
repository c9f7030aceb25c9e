/*  tasklog.c: see tasklog.h. One buffer under a mutex; the oldest lines
    are dropped with a memmove, which is cheap at a few KiB. */
#include "tasklog.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

struct tasklog {
    pthread_mutex_t lock;
    bool on;                      //  between begin and end
    char *buf;                    //  unsent lines, each ending in '\n'
    size_t len, max;              //  used; the bound
    size_t dropped;               //  unsent bytes dropped since the last take
};

tasklog_t *tasklog_new(size_t max_bytes)
{
    tasklog_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max_bytes ? max_bytes : PROTO_LOG_MAX_BYTES;
    self->buf = malloc(self->max + 1);
    if (!self->buf) {
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

void tasklog_destroy(tasklog_t **p)
{
    if (!p || !*p)
        return;
    pthread_mutex_destroy(&(*p)->lock);
    free((*p)->buf);
    free(*p);
    *p = NULL;
}

void tasklog_begin(tasklog_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->on = true;
    self->len = self->dropped = 0;
    pthread_mutex_unlock(&self->lock);
}

void tasklog_end(tasklog_t *self)
{
    pthread_mutex_lock(&self->lock);
    self->on = false;
    pthread_mutex_unlock(&self->lock);
}

//  Drops whole lines from the front until need more bytes fit.
static void s_make_room(tasklog_t *self, size_t need)
{
    size_t cut = 0;
    while (cut < self->len && self->len - cut + need > self->max) {
        char *nl = memchr(self->buf + cut, '\n', self->len - cut);
        cut = nl ? (size_t)(nl - self->buf) + 1 : self->len;
    }
    memmove(self->buf, self->buf + cut, self->len - cut);
    self->len -= cut;
    self->dropped += cut;
}

void tasklog_append(tasklog_t *self, const char *line, size_t len)
{
    pthread_mutex_lock(&self->lock);
    if (self->on) {
        if (len + 1 > self->max) {   //  one line longer than the bound: its tail
            self->dropped += len + 1 - self->max;
            line += len + 1 - self->max;
            len = self->max - 1;
        }
        s_make_room(self, len + 1);
        memcpy(self->buf + self->len, line, len);
        proto_log_sanitize(self->buf + self->len, len);
        self->len += len;
        self->buf[self->len++] = '\n';
    }
    pthread_mutex_unlock(&self->lock);
}

void tasklog_tap_fn(const char *line, size_t len, void *arg)
{
    tasklog_append(arg, line, len);
}

char *tasklog_take(tasklog_t *self)
{
    pthread_mutex_lock(&self->lock);
    char note[96] = "";
    if (self->dropped)
        snprintf(note, sizeof note, "(%zu bytes of earlier lines dropped: over %zu bytes between two sends)\n",
                 self->dropped, self->max);
    size_t n = strlen(note);
    char *out = malloc(n + self->len + 1);
    if (out) {
        memcpy(out, note, n);
        memcpy(out + n, self->buf, self->len);
        out[n + self->len] = '\0';
        self->len = self->dropped = 0;
    }
    pthread_mutex_unlock(&self->lock);
    return out;
}
