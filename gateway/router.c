/*  router.c: the inference worker table (see router.h). A flat array
    scanned up to its high-water mark: there are a handful of workers, and a
    scan of a few cache lines beats any index at that size. */
#include "router.h"

#include "liveness.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct router {
    router_worker_t workers[ROUTER_WORKERS_MAX]; //  slots
    int hwm;                                     //  one past the highest slot used
    int credit;                                  //  most requests in flight per worker
    int64_t liveness_ms;                         //  life without being heard
    uint64_t seq;                                //  event counter for LRU and versions
    liveness_t awake;                            //  turns of the gateway's loop
};

router_t *router_new(int credit, int64_t liveness_ms)
{
    router_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->credit = credit > 0 ? credit : 1;
    self->liveness_ms = liveness_ms;
    return self;
}

void router_destroy(router_t **p)
{
    if (!p || !*p)
        return;
    free(*p);
    *p = NULL;
}

int router_find(const router_t *self, const uint8_t *id, size_t id_len)
{
    for (int i = 0; i < self->hwm; i++) {
        const router_worker_t *w = &self->workers[i];
        if (w->live && w->id_len == id_len && memcmp(w->id, id, id_len) == 0)
            return i;
    }
    return -1;
}

static void s_set_version(router_t *self, router_worker_t *w, int64_t version)
{
    if (w->model_version != version || w->version_seq == 0) {
        w->model_version = version;
        w->version_seq = ++self->seq;
    }
}

int router_ready(router_t *self, const uint8_t *id, size_t id_len, const char *name,
                 int64_t model_version, int64_t now_ms)
{
    if (id_len == 0 || id_len > ROUTER_ID_MAX_BYTES)
        return -1;
    int slot = router_find(self, id, id_len);
    for (int i = 0; slot < 0 && i < ROUTER_WORKERS_MAX; i++)
        if (!self->workers[i].live)
            slot = i;
    if (slot < 0)
        return -1;
    router_worker_t *w = &self->workers[slot];
    if (!w->live) {
        memset(w, 0, sizeof *w);
        w->live = true;
        memcpy(w->id, id, id_len);
        w->id_len = id_len;
    }
    snprintf(w->name, sizeof w->name, "%s", name ? name : "?");
    s_set_version(self, w, model_version);
    w->expires_ms = liveness_expiry(now_ms, self->liveness_ms, 1);   //  liveness_ms: all intervals
    w->heard_ms = now_ms;
    if (slot >= self->hwm)
        self->hwm = slot + 1;
    return slot;
}

void router_heard(router_t *self, int slot, int64_t model_version, int64_t now_ms)
{
    assert(slot >= 0 && slot < self->hwm && self->workers[slot].live);
    router_worker_t *w = &self->workers[slot];
    s_set_version(self, w, model_version);
    w->expires_ms = liveness_expiry(now_ms, self->liveness_ms, 1);   //  liveness_ms: all intervals
    w->heard_ms = now_ms;
}

static int s_pick(router_t *self, bool pins_only)
{
    int best = -1;
    for (int i = 0; i < self->hwm; i++) {
        const router_worker_t *w = &self->workers[i];
        if (!w->live || w->model_version <= 0 || w->in_flight >= self->credit || (pins_only && !w->pins))
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        const router_worker_t *b = &self->workers[best];
        if (w->in_flight < b->in_flight || (w->in_flight == b->in_flight && w->used_seq < b->used_seq))
            best = i;
    }
    return best;
}

int router_pick(router_t *self)
{
    return s_pick(self, false);
}

int router_pick_pinning(router_t *self)
{
    return s_pick(self, true);
}

void router_pins(router_t *self, int slot)
{
    assert(slot >= 0 && slot < self->hwm && self->workers[slot].live);
    self->workers[slot].pins = true;
}

size_t router_pinning(const router_t *self)
{
    size_t n = 0;
    for (int i = 0; i < self->hwm; i++)
        n += self->workers[i].live && self->workers[i].model_version > 0 && self->workers[i].pins;
    return n;
}

void router_sent(router_t *self, int slot, size_t records)
{
    assert(slot >= 0 && slot < self->hwm && self->workers[slot].live);
    router_worker_t *w = &self->workers[slot];
    w->in_flight++;
    w->requests++;
    w->records += records;
    w->used_seq = ++self->seq;
}

void router_answered(router_t *self, int slot, bool ok)
{
    assert(slot >= 0 && slot < self->hwm && self->workers[slot].live);
    router_worker_t *w = &self->workers[slot];
    if (w->in_flight > 0)
        w->in_flight--;
    if (ok)
        w->answers++;
    else
        w->errors++;
}

void router_abandoned(router_t *self, int slot)
{
    assert(slot >= 0 && slot < self->hwm && self->workers[slot].live);
    if (self->workers[slot].in_flight > 0)
        self->workers[slot].in_flight--;
}

void router_remove(router_t *self, int slot)
{
    assert(slot >= 0 && slot < self->hwm);
    self->workers[slot].live = false;
    while (self->hwm > 0 && !self->workers[self->hwm - 1].live)
        self->hwm--;
}

int64_t router_awake(router_t *self, int64_t now_ms, int64_t expected_gap_ms)
{
    int64_t stall = liveness_awake(&self->awake, now_ms, expected_gap_ms);
    for (int i = 0; i < self->hwm; i++)
        if (self->workers[i].live)
            self->workers[i].expires_ms += stall;
    return stall;
}

size_t router_expired(const router_t *self, int64_t now_ms, int *dead, size_t max)
{
    size_t n = 0;
    for (int i = 0; i < self->hwm && n < max; i++)
        if (self->workers[i].live && liveness_expired(self->workers[i].expires_ms, now_ms))
            dead[n++] = i;
    return n;
}

const router_worker_t *router_worker(const router_t *self, int slot)
{
    if (slot < 0 || slot >= self->hwm || !self->workers[slot].live)
        return NULL;
    return &self->workers[slot];
}

int router_slots(const router_t *self)
{
    return self->hwm;
}

size_t router_live(const router_t *self)
{
    size_t n = 0;
    for (int i = 0; i < self->hwm; i++)
        n += self->workers[i].live;
    return n;
}

size_t router_serving(const router_t *self)
{
    size_t n = 0;
    for (int i = 0; i < self->hwm; i++)
        n += self->workers[i].live && self->workers[i].model_version > 0;
    return n;
}

int64_t router_version(const router_t *self)
{
    const router_worker_t *latest = NULL;
    for (int i = 0; i < self->hwm; i++) {
        const router_worker_t *w = &self->workers[i];
        if (w->live && w->model_version > 0 && (!latest || w->version_seq > latest->version_seq))
            latest = w;
    }
    return latest ? latest->model_version : 0;
}
