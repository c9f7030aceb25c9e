/*  infer_profile.c: per-version live profiles, filled by the serving thread
    and taken by the feed without a lock (see infer_profile.h for the
    protocol). Every atomic access is sequentially consistent: the two
    "publish, then look at the other side" handshakes rely on it.
*/
#include "infer_profile.h"
#include "log.h"
#include "prep.h"
#include "profile_fit.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    atomic_int_least64_t version; //  0: free; written by the serving thread only
    atomic_int active;            //  buffer the serving thread fills; flipped by the feed
    atomic_int busy;              //  buffer being filled + 1, 0 between requests
    atomic_int reading;           //  the feed is reading the slot
    profile_t *buf[2];            //  the double buffer, the version's reference shape
    uint64_t used_seq;            //  serving thread: last use, for reuse
} s_slot_t;

struct infer_profile {
    s_slot_t slots[INFER_PROFILE_VERSIONS];
    uint64_t seq;                 //  serving thread: use counter
    size_t next;                  //  feed: slot to look at first in the next take
    bool said_too_big;            //  feed: the too-wide warning was logged
    size_t report_max;            //  bytes of an encoded profile taken, 0 = the default
    bool off;                     //  counting turned off (set before serving starts)
};

static infer_profile_t s_process;

infer_profile_t *infer_profile_new(size_t report_max)
{
    infer_profile_t *self = calloc(1, sizeof *self);
    if (self)
        self->report_max = report_max;
    return self;
}

infer_profile_t *infer_profile_process(void)
{
    return &s_process;
}

void infer_profile_set_on(infer_profile_t *self, bool on)
{
    self->off = !on;
}

static void s_slot_free(s_slot_t *slot)
{
    profile_destroy(&slot->buf[0]);
    profile_destroy(&slot->buf[1]);
}

void infer_profile_clear(infer_profile_t *self)
{
    for (size_t i = 0; i < INFER_PROFILE_VERSIONS; i++) {
        s_slot_free(&self->slots[i]);
        atomic_store(&self->slots[i].version, 0);
    }
}

void infer_profile_destroy(infer_profile_t **p)
{
    if (!p || !*p)
        return;
    infer_profile_clear(*p);
    free(*p);
    *p = NULL;
}

//  Makes slot version's, shaped as ref; false when the feed is reading it
//  (try again on a later request) or memory ran out (slot left free).
static bool s_claim(s_slot_t *slot, int64_t version, const profile_t *ref)
{
    atomic_store(&slot->version, 0);
    if (atomic_load(&slot->reading))
        return false;   //  the feed saw the old version: leave it its buffers
    s_slot_free(slot);
    slot->buf[0] = profile_new_like(ref);
    slot->buf[1] = profile_new_like(ref);
    if (!slot->buf[0] || !slot->buf[1]) {
        s_slot_free(slot);
        return false;
    }
    atomic_store(&slot->active, 0);
    atomic_store(&slot->busy, 0);
    atomic_store(&slot->version, version);
    return true;
}

//  The slot of version, claiming one (a free one, else the one used
//  longest ago) when it has none; NULL when none can be had now.
static s_slot_t *s_slot_for(infer_profile_t *self, int64_t version, const model_t *model)
{
    s_slot_t *oldest = &self->slots[0];
    for (size_t i = 0; i < INFER_PROFILE_VERSIONS; i++) {
        s_slot_t *s = &self->slots[i];
        if (atomic_load(&s->version) == version)
            return s;
        if (atomic_load(&oldest->version) != 0
            && (atomic_load(&s->version) == 0 || s->used_seq < oldest->used_seq))
            oldest = s;
    }
    return s_claim(oldest, version, model_profile(model)) ? oldest : NULL;
}

void infer_profile_add(infer_profile_t *self, int64_t version, const model_t *model,
                       const prep_cell_t *cells, size_t n)
{
    if (self->off || version <= 0 || n == 0 || !model_profile(model))
        return;
    s_slot_t *slot = s_slot_for(self, version, model);
    if (!slot)
        return;
    slot->used_seq = ++self->seq;
    int idx;
    do {   //  publish the buffer, then make sure the feed has not flipped meanwhile
        idx = atomic_load(&slot->active);
        atomic_store(&slot->busy, idx + 1);
    } while (atomic_load(&slot->active) != idx);
    const prep_recipe_t *r = model_recipe(model);
    for (size_t i = 0; i < n; i++)
        profile_fit_add_cells(slot->buf[idx], r, cells + i * r->n_inputs);
    atomic_store(&slot->busy, 0);
}

//  Takes slot's rows when it has some: 1 taken (into *out), 0 none,
//  MLOPS_ENOMEM.
static int s_take_slot(s_slot_t *slot, size_t max, int64_t *version, uint8_t **out,
                       size_t *out_len)
{
    int rc = 0;
    atomic_store(&slot->reading, 1);
    int64_t v = atomic_load(&slot->version);
    if (v != 0) {
        int old = atomic_load(&slot->active);
        atomic_store(&slot->active, 1 - old);
        while (atomic_load(&slot->busy) == old + 1)
            sched_yield();   //  one request's counting, on the other thread
        profile_t *p = slot->buf[old];
        if (p->rows > 0) {
            rc = profile_encode(p, out, out_len) == 0 ? 1 : MLOPS_ENOMEM;
            *version = v;
            if (rc == 1 && *out_len > max) {
                free(*out);
                *out = NULL, *out_len = 0, *version = 0;
                rc = MLOPS_ETOOBIG;
            }
            profile_reset(p);
        }
    }
    atomic_store(&slot->reading, 0);
    return rc;
}

int infer_profile_take(infer_profile_t *self, int64_t *version, uint8_t **out, size_t *out_len)
{
    *out = NULL, *out_len = 0, *version = 0;
    for (size_t k = 0; k < INFER_PROFILE_VERSIONS; k++) {
        size_t i = (self->next + k) % INFER_PROFILE_VERSIONS;
        size_t max = self->report_max ? self->report_max : INFER_PROFILE_REPORT_MAX_BYTES;
        int rc = s_take_slot(&self->slots[i], max, version, out, out_len);
        if (rc == MLOPS_ETOOBIG && !self->said_too_big) {
            self->said_too_big = true;
            log_warning("drift: the live profile is over %zu bytes, too wide to report: "
                        "this worker's rows are not watched for drift", max);
        }
        if (rc != 0) {
            self->next = i + 1;
            return rc < 0 ? rc : 0;
        }
    }
    return 0;
}
