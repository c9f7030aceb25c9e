/*  fleet.c: see fleet.h. A flat array, searched linearly: a deployment has a
    handful of inference workers, and a report is one per worker per second. */
#include "fleet.h"

#include "duration.h"
#include "liveness.h"
#include "vec.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_NAMED_MAX 4   //  workers named in a note; the rest are counted

struct fleet {
    fleet_worker_t *workers;     //  live workers, n of them, cap allocated
    size_t n, cap;
    int liveness;                //  silent intervals before a worker is dead
    int64_t wait_version;        //  version waited for, 0 = no wait
    int64_t wait_ms;             //  how long the wait may take
    int64_t deadline_mono_ms;    //  when it gives up
    char silent[FLEET_NOTE_MAX]; //  workers that went silent during the wait
    size_t n_silent;             //  how many (more than are named)
};

fleet_t *fleet_new(int liveness)
{
    assert(liveness >= 1);
    fleet_t *self = calloc(1, sizeof *self);
    if (self)
        self->liveness = liveness;
    return self;
}

void fleet_destroy(fleet_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->workers);
    free(*p);
    *p = NULL;
}

//  Index of the worker with this name, or self->n when none.
static size_t s_index(const fleet_t *self, const char *name)
{
    size_t i = 0;
    while (i < self->n && strcmp(self->workers[i].name, name) != 0)
        i++;
    return i;
}

const fleet_worker_t *fleet_find(const fleet_t *self, const char *name)
{
    size_t i = s_index(self, name);
    return i < self->n ? &self->workers[i] : NULL;
}

//  A new entry at the end, or NULL with err.
static fleet_worker_t *s_add(fleet_t *self, mlops_err_t *err)
{
    if (self->n == FLEET_WORKERS_MAX) {
        mlops_err_set(err, MLOPS_ETOOBIG, "SERVING: %d inference workers are known already",
                      FLEET_WORKERS_MAX);
        return NULL;
    }
    if (vec_reserve_(&self->workers, &self->cap, self->n, 1, sizeof *self->workers)) {
        mlops_err_set(err, MLOPS_ENOMEM, "SERVING: out of memory");
        return NULL;
    }
    fleet_worker_t *w = &self->workers[self->n++];
    memset(w, 0, sizeof *w);
    return w;
}

int fleet_report(fleet_t *self, const char *name, const char *host, int64_t pid, int64_t version,
                 int64_t interval_ms, int64_t mono_ms, int64_t wall_ms, mlops_err_t *err)
{
    assert(self && name && host);
    if (!*name)
        return mlops_err_set(err, MLOPS_EINVAL, "SERVING: name is empty");
    if (!*host)
        return mlops_err_set(err, MLOPS_EINVAL, "SERVING: host is empty");
    if (pid <= 0)
        return mlops_err_set(err, MLOPS_EINVAL, "SERVING: pid must be a process id > 0, got %" PRId64, pid);
    if (interval_ms > FLEET_INTERVAL_MAX_MSEC)
        return mlops_err_set(err, MLOPS_EINVAL, "SERVING: interval_ms %" PRId64 " is over %d",
                             interval_ms, FLEET_INTERVAL_MAX_MSEC);
    size_t i = s_index(self, name);
    fleet_worker_t *w = i < self->n ? &self->workers[i] : s_add(self, err);
    if (!w)
        return err ? err->code : MLOPS_ENOMEM;
    snprintf(w->name, sizeof w->name, "%s", name);
    snprintf(w->host, sizeof w->host, "%s", host);
    w->pid = pid;
    w->version = version;
    w->interval_ms = interval_ms > 0 ? interval_ms : HEARTBEAT_IVL_MSEC;
    w->expires_mono_ms = liveness_expiry(mono_ms, w->interval_ms, self->liveness);
    w->last_seen_ms = wall_ms;
    return 0;
}

//  Appends "name (vN)" to the wait's silent list, or counts it.
static void s_note_silent(fleet_t *self, const fleet_worker_t *w)
{
    size_t have = strlen(self->silent);
    if (self->n_silent++ < S_NAMED_MAX)
        snprintf(self->silent + have, sizeof self->silent - have, "%s%.63s (v%" PRId64 ")",
                 have ? ", " : "", w->name, w->version);
}

size_t fleet_expire(fleet_t *self, int64_t mono_ms, fleet_gone_fn *gone_fn, void *arg)
{
    size_t gone = 0;
    for (size_t i = 0; i < self->n;) {
        fleet_worker_t *w = &self->workers[i];
        if (!liveness_expired(w->expires_mono_ms, mono_ms)) {
            i++;
            continue;
        }
        if (gone_fn)
            gone_fn(w, arg);
        if (self->wait_version && w->version != self->wait_version)
            s_note_silent(self, w);
        self->workers[i] = self->workers[--self->n];   //  order does not matter
        gone++;
    }
    return gone;
}

void fleet_extend(fleet_t *self, int64_t ms)
{
    for (size_t i = 0; i < self->n; i++)
        self->workers[i].expires_mono_ms += ms;
}

size_t fleet_count(const fleet_t *self)
{
    return self->n;
}

const fleet_worker_t *fleet_at(const fleet_t *self, size_t i)
{
    return i < self->n ? &self->workers[i] : NULL;
}

void fleet_wait_begin(fleet_t *self, int64_t version, int64_t mono_ms, int64_t wait_ms)
{
    self->wait_version = version;
    self->wait_ms = wait_ms;
    self->deadline_mono_ms = mono_ms + wait_ms;
    self->silent[0] = '\0';
    self->n_silent = 0;
}

void fleet_wait_end(fleet_t *self)
{
    self->wait_version = 0;
}

int64_t fleet_wait_version(const fleet_t *self)
{
    return self->wait_version;
}

//  Appends the workers that lag ("vm-3fa9c2 serves v2, ...") to note.
static void s_note_lagging(const fleet_t *self, char *note, size_t size)
{
    size_t named = 0, lagging = 0;
    for (size_t i = 0; i < self->n; i++) {
        const fleet_worker_t *w = &self->workers[i];
        if (w->version == self->wait_version)
            continue;
        size_t have = strlen(note);
        if (named++ < S_NAMED_MAX)
            snprintf(note + have, size - have, "%s%.63s serves v%" PRId64,
                     lagging ? ", " : "", w->name, w->version);
        lagging++;
    }
    size_t have = strlen(note);
    if (lagging > S_NAMED_MAX)
        snprintf(note + have, size - have, " (+%zu more)", lagging - S_NAMED_MAX);
}

fleet_verdict_t fleet_wait_check(const fleet_t *self, int64_t mono_ms, char *note, size_t size)
{
    assert(self->wait_version > 0 && note && size > 0);
    note[0] = '\0';
    size_t serving = 0;
    for (size_t i = 0; i < self->n; i++)
        serving += self->workers[i].version == self->wait_version;
    fleet_verdict_t verdict;
    if (self->n == 0 && self->n_silent == 0) {
        snprintf(note, size, "no inference worker reports to the broker");
        return FLEET_NONE;
    }
    if (serving == self->n) {
        snprintf(note, size, "%zu inference worker%s serve%s v%" PRId64, serving, serving == 1 ? "" : "s",
                 serving == 1 ? "s" : "", self->wait_version);
        verdict = FLEET_ALL_SERVE;
    } else if (mono_ms >= self->deadline_mono_ms) {
        char took[32];
        snprintf(note, size, "after %s %zu of %zu inference workers lag: ",
                 duration_format(self->wait_ms, took, sizeof took), self->n - serving, self->n);
        s_note_lagging(self, note, size);
        verdict = FLEET_TIMED_OUT;
    } else
        return FLEET_WAITING;
    size_t have = strlen(note);
    if (self->n_silent) {
        snprintf(note + have, size - have, "; went silent: %s", self->silent);
        have = strlen(note);
        if (self->n_silent > S_NAMED_MAX && have < size)
            snprintf(note + have, size - have, " (+%zu more)", self->n_silent - S_NAMED_MAX);
    }
    return verdict;
}
