/*  dispatch.c: see dispatch.h. Plain arrays: a broker has tens of workers
    and a handful of queued tasks, so a linear scan is both the simplest and
    the fastest structure here. */
#include "dispatch.h"

#include "vec.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char (*ids)[48];    //  task ids, FIFO from head
    size_t head;        //  first live entry
    size_t len;         //  entries in use after head
    size_t cap;         //  allocated entries
} s_queue_t;

struct dispatch {
    dispatch_worker_t **workers;  //  owned
    size_t n_workers;
    size_t cap_workers;
    s_queue_t queues[STAGE_COUNT];
    liveness_t awake;             //  turns of the broker's loop
};

dispatch_t *dispatch_new(void)
{
    return calloc(1, sizeof(dispatch_t));
}

void dispatch_destroy(dispatch_t **p)
{
    if (!p || !*p)
        return;
    dispatch_t *self = *p;
    for (size_t i = 0; i < self->n_workers; i++)
        free(self->workers[i]);
    free(self->workers);
    for (int s = 0; s < STAGE_COUNT; s++)
        free(self->queues[s].ids);
    free(self);
    *p = NULL;
}

dispatch_worker_t *dispatch_worker_find(dispatch_t *self, const uint8_t *id, size_t id_len)
{
    for (size_t i = 0; i < self->n_workers; i++) {
        dispatch_worker_t *w = self->workers[i];
        if (w->id_len == id_len && memcmp(w->id, id, id_len) == 0)
            return w;
    }
    return NULL;
}

dispatch_worker_t *dispatch_worker_add(dispatch_t *self, const uint8_t *id, size_t id_len,
                                       stage_t stage, const char *host, int64_t pid,
                                       int64_t now_mono)
{
    if (id_len == 0 || id_len > DISPATCH_ID_MAX)
        return NULL;
    dispatch_worker_t *w = dispatch_worker_find(self, id, id_len);
    if (!w) {
        if (self->n_workers >= DISPATCH_WORKERS_MAX
            || dispatch_stage_workers(self, stage) >= DISPATCH_STAGE_WORKERS_MAX)
            return NULL;
        w = calloc(1, sizeof *w);
        if (!w || vec_reserve_(&self->workers, &self->cap_workers, self->n_workers, 1,
                               sizeof *self->workers)) {
            free(w);
            return NULL;
        }
        self->workers[self->n_workers++] = w;
    }
    memset(w, 0, sizeof *w);
    memcpy(w->id, id, id_len);
    w->id_len = id_len;
    w->stage = stage;
    snprintf(w->host, sizeof w->host, "%s", host ? host : "");
    w->pid = pid;
    snprintf(w->name, sizeof w->name, "%.40s:%lld", w->host, (long long)pid);
    w->idle_since_mono = now_mono;
    return w;
}

dispatch_worker_t *dispatch_worker_named(dispatch_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_workers; i++)
        if (strcmp(self->workers[i]->name, name) == 0)
            return self->workers[i];
    return NULL;
}

void dispatch_worker_remove(dispatch_t *self, dispatch_worker_t *worker)
{
    for (size_t i = 0; i < self->n_workers; i++) {
        if (self->workers[i] != worker)
            continue;
        free(worker);
        memmove(&self->workers[i], &self->workers[i + 1],
                (self->n_workers - i - 1) * sizeof self->workers[0]);
        self->n_workers--;
        return;
    }
}

dispatch_worker_t *dispatch_idle_lru(dispatch_t *self, stage_t stage)
{
    dispatch_worker_t *best = NULL;
    for (size_t i = 0; i < self->n_workers; i++) {
        dispatch_worker_t *w = self->workers[i];
        if (w->stage == stage && !w->busy &&
            (!best || w->idle_since_mono < best->idle_since_mono))
            best = w;
    }
    return best;
}

void dispatch_worker_assign(dispatch_worker_t *worker, const char *task_id, int64_t now_mono)
{
    assert(!worker->busy);
    worker->busy = true;
    snprintf(worker->task_id, sizeof worker->task_id, "%s", task_id);
    worker->task_since_mono = now_mono;
    worker->progress_mono = now_mono;
    worker->progress_done = 0;
    worker->progress_unit[0] = '\0';
}

bool dispatch_worker_progress(dispatch_worker_t *worker, int64_t done, const char *unit,
                              int64_t now_mono)
{
    bool advanced = strncmp(worker->progress_unit, unit, sizeof worker->progress_unit) != 0
                    || done > worker->progress_done;
    if (!advanced)
        return false;
    snprintf(worker->progress_unit, sizeof worker->progress_unit, "%s", unit);
    worker->progress_done = done;
    worker->progress_mono = now_mono;
    return true;
}

dispatch_overdue_t dispatch_worker_overdue(const dispatch_worker_t *worker, int64_t now_mono,
                                           int64_t timeout_msec, int64_t cap_msec)
{
    if (now_mono - worker->task_since_mono > cap_msec)
        return DISPATCH_OVER_CAP;
    if (now_mono - worker->progress_mono > timeout_msec)
        return DISPATCH_STALLED;
    return DISPATCH_IN_TIME;
}

void dispatch_worker_release(dispatch_worker_t *worker, int64_t now_mono)
{
    worker->busy = false;
    worker->task_id[0] = '\0';
    worker->task_since_mono = 0;
    worker->idle_since_mono = now_mono;
}

size_t dispatch_worker_count(const dispatch_t *self)
{
    return self->n_workers;
}

dispatch_worker_t *dispatch_worker_at(dispatch_t *self, size_t i)
{
    return i < self->n_workers ? self->workers[i] : NULL;
}

size_t dispatch_stage_workers(const dispatch_t *self, stage_t stage)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_workers; i++)
        n += self->workers[i]->stage == stage;
    return n;
}

/* --- queues -------------------------------------------------------------- */

static bool s_queue_has(const s_queue_t *q, const char *task_id)
{
    for (size_t i = 0; i < q->len; i++)
        if (strcmp(q->ids[q->head + i], task_id) == 0)
            return true;
    return false;
}

int dispatch_queue_push(dispatch_t *self, stage_t stage, const char *task_id)
{
    assert((int)stage >= 0 && stage < STAGE_COUNT);
    if (strlen(task_id) >= 48)
        return MLOPS_EINVAL;
    if (dispatch_queue_contains(self, task_id))
        return 0;
    s_queue_t *q = &self->queues[stage];
    if (q->head > 0) {   //  compact so the array never creeps forward
        memmove(q->ids, q->ids + q->head, q->len * sizeof q->ids[0]);
        q->head = 0;
    }
    if (vec_reserve_(&q->ids, &q->cap, q->len, 1, sizeof q->ids[0]))
        return MLOPS_ENOMEM;
    snprintf(q->ids[q->len++], 48, "%s", task_id);
    return 0;
}

bool dispatch_queue_pop(dispatch_t *self, stage_t stage, char task_id[48])
{
    s_queue_t *q = &self->queues[stage];
    if (q->len == 0)
        return false;
    memcpy(task_id, q->ids[q->head], 48);
    q->head++;
    q->len--;
    if (q->len == 0)
        q->head = 0;
    return true;
}

bool dispatch_queue_contains(const dispatch_t *self, const char *task_id)
{
    for (int s = 0; s < STAGE_COUNT; s++)
        if (s_queue_has(&self->queues[s], task_id))
            return true;
    return false;
}

void dispatch_queue_remove(dispatch_t *self, const char *task_id)
{
    for (int s = 0; s < STAGE_COUNT; s++) {
        s_queue_t *q = &self->queues[s];
        for (size_t i = 0; i < q->len; i++) {
            if (strcmp(q->ids[q->head + i], task_id) != 0)
                continue;
            memmove(&q->ids[q->head + i], &q->ids[q->head + i + 1],
                    (q->len - i - 1) * sizeof q->ids[0]);
            q->len--;
            return;
        }
    }
}

size_t dispatch_queue_len(const dispatch_t *self, stage_t stage)
{
    return self->queues[stage].len;
}

int64_t dispatch_awake(dispatch_t *self, int64_t now_mono, int64_t expected_gap_msec)
{
    int64_t stall = liveness_awake(&self->awake, now_mono, expected_gap_msec);
    for (size_t i = 0; i < self->n_workers; i++)
        self->workers[i]->expires_mono += stall;
    return stall;
}

dispatch_worker_t *dispatch_expired(dispatch_t *self, int64_t now_mono)
{
    for (size_t i = 0; i < self->n_workers; i++)
        if (liveness_expired(self->workers[i]->expires_mono, now_mono))
            return self->workers[i];
    return NULL;
}
