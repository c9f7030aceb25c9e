/*  drift.c: see drift.h. The flags, the watched versions (slots), the
    window ring, the check and the reason text.
*/
#include "drift.h"
#include "flags.h"
#include "log.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRIFT_NAME_SHOWN 40   //  bytes of a field name in a reason

//  One watched version: its reference, the window's buckets and scratch
//  for checks, all of the reference's shape, allocated when it is set.
typedef struct {
    uint64_t version;                  //  0 = slot free
    uint64_t set_seq;                  //  when its reference was set (the oldest goes first)
    profile_t *ref;                    //  the reference profile, owned
    profile_t *bucket[DRIFT_BUCKETS];  //  live rows per period, owned
    int64_t period[DRIFT_BUCKETS];     //  the period each bucket holds
    profile_t *window;                 //  the buckets merged at the last check, owned
    drift_field_t *fields;             //  the last check's per-field state, owned
} s_watch_t;

struct drift {
    drift_config_t cfg;                       //  as given
    s_watch_t watch[DRIFT_VERSIONS_MAX];      //  the watched versions
    uint64_t seq;                             //  references set so far
    bool triggered;                           //  a trigger happened (cooldown runs)
    int64_t last_trigger_ms;                  //  when, if triggered
};

/* --- flags ---------------------------------------------------------------- */

void drift_config_default(drift_config_t *cfg)
{
    *cfg = (drift_config_t){.threshold = 0,
                            .min_rows = DRIFT_MIN_ROWS_DEFAULT,
                            .cooldown_ms = DRIFT_COOLDOWN_MSEC_DEFAULT,
                            .bucket_ms = DRIFT_BUCKET_MSEC_DEFAULT};
}

int drift_config_parse(drift_config_t *cfg, const char *threshold, const char *min_rows,
                       const char *cooldown, mlops_err_t *err)
{
    drift_config_default(cfg);
    if (!threshold && (min_rows || cooldown))
        return mlops_err_set(err, MLOPS_EINVAL, "%s needs --drift-threshold (drift triggers are off without it)",
                             min_rows ? "--drift-min-rows" : "--drift-cooldown");
    if (!threshold)
        return 0;
    int rc = flags_number("--drift-threshold", threshold, 0, 1, &cfg->threshold, err);
    if (rc == 0 && cfg->threshold <= 0)
        rc = mlops_err_set(err, MLOPS_EINVAL,
                           "--drift-threshold wants a distance in (0, 1] (0 would call every field drifted), not '%s'",
                           threshold);
    long long rows = DRIFT_MIN_ROWS_DEFAULT;
    if (rc == 0 && min_rows)
        rc = flags_int("--drift-min-rows", min_rows, 1, DRIFT_MIN_ROWS_MAX, &rows, err);
    cfg->min_rows = (uint64_t)rows;
    if (rc == 0 && cooldown)
        rc = flags_duration("--drift-cooldown", cooldown, DRIFT_COOLDOWN_MSEC_MIN,
                            DRIFT_COOLDOWN_MSEC_MAX, &cfg->cooldown_ms, err);
    if (rc)
        drift_config_default(cfg);
    return rc;
}

/* --- the watched versions ------------------------------------------------- */

drift_t *drift_new(const drift_config_t *cfg)
{
    assert(cfg && cfg->bucket_ms > 0 && cfg->min_rows >= 1);
    drift_t *self = calloc(1, sizeof *self);
    if (self)
        self->cfg = *cfg;
    return self;
}

static void s_watch_clear(s_watch_t *w)
{
    free(w->fields);
    profile_destroy(&w->window);
    for (size_t b = DRIFT_BUCKETS; b-- > 0;)
        profile_destroy(&w->bucket[b]);
    profile_destroy(&w->ref);
    memset(w, 0, sizeof *w);
}

void drift_destroy(drift_t **p)
{
    if (!p || !*p)
        return;
    for (size_t i = DRIFT_VERSIONS_MAX; i-- > 0;)
        s_watch_clear(&(*p)->watch[i]);
    free(*p);
    *p = NULL;
}

static s_watch_t *s_find(drift_t *self, uint64_t version)
{
    for (size_t i = 0; i < DRIFT_VERSIONS_MAX; i++)
        if (self->watch[i].version == version && version != 0)
            return &self->watch[i];
    return NULL;
}

//  The slot for a new version: its own, a free one, or the oldest set.
static s_watch_t *s_slot(drift_t *self, uint64_t version)
{
    s_watch_t *w = s_find(self, version), *oldest = &self->watch[0];
    for (size_t i = 0; !w && i < DRIFT_VERSIONS_MAX; i++) {
        if (self->watch[i].version == 0)
            w = &self->watch[i];
        else if (self->watch[i].set_seq < oldest->set_seq)
            oldest = &self->watch[i];
    }
    return w ? w : oldest;
}

//  Allocates the buckets, window and fields of a slot holding ref.
static int s_watch_alloc(s_watch_t *w)
{
    bool ok = (w->window = profile_new_like(w->ref)) != NULL
           && (w->fields = calloc(w->ref->n_fields ? w->ref->n_fields : 1, sizeof *w->fields));
    for (size_t b = 0; ok && b < DRIFT_BUCKETS; b++) {
        ok = (w->bucket[b] = profile_new_like(w->ref)) != NULL;
        w->period[b] = INT64_MIN;   //  empty: no period is this old
    }
    for (size_t k = 0; ok && k < w->ref->n_fields; k++)
        w->fields[k].name = w->ref->fields[k].name;
    return ok ? 0 : MLOPS_ENOMEM;
}

int drift_set_reference(drift_t *self, uint64_t version, profile_t **ref, mlops_err_t *err)
{
    assert(self && version > 0 && ref && *ref);
    s_watch_t *w = s_slot(self, version);
    s_watch_clear(w);
    w->ref = *ref;
    *ref = NULL;
    if (s_watch_alloc(w) != 0) {
        s_watch_clear(w);
        return mlops_err_set(err, MLOPS_ENOMEM, "drift: out of memory for version %llu's window",
                             (unsigned long long)version);
    }
    w->version = version;
    w->set_seq = ++self->seq;
    return 0;
}

/* --- the window ------------------------------------------------------------- */

//  The period (bucket-wide slice of time) of t, rounding down.
static int64_t s_period(const drift_t *self, int64_t t)
{
    int64_t q = t / self->cfg.bucket_ms;
    return q - (t % self->cfg.bucket_ms < 0);
}

static size_t s_ring(int64_t period)
{
    int64_t r = period % DRIFT_BUCKETS;
    return (size_t)(r < 0 ? r + DRIFT_BUCKETS : r);
}

int drift_add(drift_t *self, uint64_t version, const profile_t *live, int64_t now_ms,
              mlops_err_t *err)
{
    assert(self && live);
    s_watch_t *w = s_find(self, version);
    if (!w)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "drift: no reference profile for version %llu",
                             (unsigned long long)version);
    int rc = profile_check_shape(w->ref, live, err);
    if (rc)
        return rc;
    int64_t p = s_period(self, now_ms);
    size_t b = s_ring(p);
    if (w->period[b] != p) {   //  a bucket from an older turn of the ring
        profile_reset(w->bucket[b]);
        w->period[b] = p;
    }
    return profile_merge(w->bucket[b], live, err);
}

//  Merges the buckets inside the window ending at now into w->window.
static void s_merge_window(drift_t *self, s_watch_t *w, int64_t now_ms)
{
    int64_t p = s_period(self, now_ms);
    profile_reset(w->window);
    for (size_t b = 0; b < DRIFT_BUCKETS; b++) {
        //  counts wrapping past 2^64 rows cannot happen in practice; if they
        //  did, the window would keep what it had, which is still a window
        if (w->period[b] > p - DRIFT_BUCKETS && w->period[b] <= p)
            (void)profile_merge(w->window, w->bucket[b], NULL);
    }
}

/* --- the check ----------------------------------------------------------------- */

//  Appends the drifted fields, most drifted first, to out: "Fare 0.41,
//  Pclass 0.33"; stops with ", ..." when the next would not fit.
static void s_reason(const s_watch_t *w, size_t n_drifted, char *out, size_t size)
{
    size_t n = w->ref->n_fields, len = (size_t)snprintf(out, size, "drift: ");
    bool done[PROFILE_FIELDS_MAX] = {false};
    for (size_t shown = 0; shown < n_drifted; shown++) {
        size_t best = n;
        for (size_t k = 0; k < n; k++)
            if (w->fields[k].drifted && !done[k] && (best == n || w->fields[k].js > w->fields[best].js))
                best = k;
        done[best] = true;
        char name[DRIFT_NAME_SHOWN], piece[DRIFT_NAME_SHOWN + 16];
        log_sanitize(w->fields[best].name, strlen(w->fields[best].name), name, sizeof name);
        int m = snprintf(piece, sizeof piece, "%s%s %.2f", shown ? ", " : "", name, w->fields[best].js);
        if (len + (size_t)m + 5 >= size) {   //  room for ", ..." and the NUL
            snprintf(out + len, size - len, ", ...");
            return;
        }
        memcpy(out + len, piece, (size_t)m + 1);
        len += (size_t)m;
    }
}

int drift_measure(drift_t *self, uint64_t version, int64_t now_ms, drift_report_t *out)
{
    assert(self && out);
    s_watch_t *w = s_find(self, version);
    if (!w)
        return MLOPS_ENOTFOUND;
    s_merge_window(self, w, now_ms);
    const drift_config_t *c = &self->cfg;
    *out = (drift_report_t){.rows = w->window->rows, .n_fields = w->ref->n_fields,
                            .fields = w->fields};
    out->measured = out->rows >= c->min_rows;
    for (size_t k = 0; k < w->ref->n_fields; k++) {
        drift_field_t *f = &w->fields[k];
        f->ref = &w->ref->fields[k];
        f->live = &w->window->fields[k];
        f->js = profile_js(&w->ref->fields[k], &w->window->fields[k]);
        f->psi = profile_psi(&w->ref->fields[k], &w->window->fields[k]);
        f->drifted = out->measured && c->threshold > 0 && f->js >= c->threshold;
        out->n_drifted += f->drifted;
    }
    return 0;
}

int drift_check(drift_t *self, uint64_t version, int64_t now_ms, drift_report_t *out)
{
    int rc = drift_measure(self, version, now_ms, out);
    if (rc)
        return rc;
    const drift_config_t *c = &self->cfg;
    s_watch_t *w = s_find(self, version);
    bool share = out->n_drifted > 0 && (double)out->n_drifted >= DRIFT_SHARE * (double)out->n_fields;
    bool cooled = !self->triggered || now_ms - self->last_trigger_ms >= c->cooldown_ms;
    out->trigger = share && cooled;
    if (out->trigger) {
        self->triggered = true;
        self->last_trigger_ms = now_ms;
        s_reason(w, out->n_drifted, out->reason, sizeof out->reason);
    }
    return 0;
}

size_t drift_versions(const drift_t *self, uint64_t *out, size_t max)
{
    size_t n = 0;
    uint64_t after = 0;   //  by set_seq, so the order is the references' order
    while (n < max) {
        const s_watch_t *next = NULL;
        for (size_t i = 0; i < DRIFT_VERSIONS_MAX; i++) {
            const s_watch_t *w = &self->watch[i];
            if (w->version && w->set_seq > after && (!next || w->set_seq < next->set_seq))
                next = w;
        }
        if (!next)
            break;
        out[n++] = next->version;
        after = next->set_seq;
    }
    return n;
}
