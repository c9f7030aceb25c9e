/*  drift_gauges.c: the broker's drift windows polled with DRIFT and kept
    rendered for /metrics (see drift_gauges.h). The page is the broker's
    exporter's drift part, line for line, so a dashboard can read either. */
#include "gateway_internal.h"

#include "drift_io.h"
#include "log.h"
#include "prom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct drift_gauges {
    char *text;                       //  the last answer rendered, NULL when none
    size_t len;                       //  its bytes
    int64_t next_ms;                  //  when the next DRIFT goes (monotonic)
    int64_t scraped_ms;               //  the last /metrics, 0 = none yet
    bool waiting;                     //  a DRIFT is at the broker
    bool said_unreadable;             //  an unreadable answer was logged
};

//  The gauges of d's versions in the broker exporter's order: every field's
//  distance, every field's PSI, every version's rows. NULL when it has no
//  versions (nothing watched) or on ENOMEM.
static char *s_render(const control_drift_t *d, size_t *len)
{
    static const struct { const char *name, *help; } heads[2] = {
        {"mlops_feature_drift", "Jensen-Shannon distance (base 2) of a field's live requests in the "
                                "drift window to the version's training data (from the broker)."},
        {"mlops_feature_psi", "Population stability index of the same (reported, never a trigger)."}};
    char *text = NULL;
    FILE *f = d->n_versions ? open_memstream(&text, len) : NULL;
    if (!f)
        return NULL;
    for (int h = 0; h < 2; h++) {
        prom_head(f, heads[h].name, "gauge", heads[h].help);
        for (size_t i = 0; i < d->n_versions; i++)
            for (size_t k = 0; k < d->versions[i].n_fields; k++) {
                const control_drift_field_t *fd = &d->versions[i].fields[k];
                fprintf(f, "%s{version=\"%llu\",field=\"", heads[h].name,
                        (unsigned long long)d->versions[i].version);
                prom_label(f, fd->name);
                fprintf(f, "\"} %.6f\n", h == 0 ? fd->js : fd->psi);
            }
    }
    prom_head(f, "mlops_drift_window_rows", "gauge", "Live rows in a version's drift window (from the broker).");
    for (size_t i = 0; i < d->n_versions; i++)
        fprintf(f, "mlops_drift_window_rows{version=\"%llu\"} %llu\n",
                (unsigned long long)d->versions[i].version, (unsigned long long)d->versions[i].rows);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

//  The broker's answer to our DRIFT (NULL: none will come): the gauges
//  become what it says, or go when it says nothing readable.
static void s_reply_fn(gateway_t *self, const proto_msg_t *msg)
{
    drift_gauges_t *g = self->drift_gauges;
    if (!g)
        return;
    g->waiting = false;
    free(g->text);
    g->text = NULL, g->len = 0;
    if (!msg || !msg->reply.ok)
        return;   //  silent or refused (an MLOPS/1 broker has no DRIFT): nothing to show
    control_drift_t d;
    mlops_err_t err;
    if (control_drift_decode(msg->reply.data, msg->reply.data_len, &d, &err) != 0) {
        if (!g->said_unreadable)
            log_warning("drift gauges: the broker's DRIFT answer is unreadable: %s", err.msg);
        g->said_unreadable = true;
        return;
    }
    g->text = s_render(&d, &g->len);
    control_drift_clear(&d);
}

void drift_gauges_timers(gateway_t *self, int64_t now)
{
    if (!self->cfg.broker || self->stop)
        return;
    if (!self->drift_gauges && !(self->drift_gauges = calloc(1, sizeof *self->drift_gauges)))
        return;   //  out of memory: try again on the next turn
    drift_gauges_t *g = self->drift_gauges;
    bool scraped = g->scraped_ms && now - g->scraped_ms < DRIFT_GAUGES_IDLE_MSEC;
    if (g->waiting || now < g->next_ms || !scraped)
        return;
    g->next_ms = now + DRIFT_GAUGES_POLL_MSEC;
    proto_msg_t msg = {.cmd = PROTO_DRIFT};
    uint8_t *frame = NULL;
    size_t len = 0;
    if (proto_msg_encode(&msg, &frame, &len) == 0 && broker_link_send_own(self, frame, len, s_reply_fn) == 0)
        g->waiting = true;   //  else the next poll tries again
}

char *drift_gauges_append(drift_gauges_t *self, char *text, size_t *len)
{
    if (!self)
        return text;
    int64_t now = clock_mono_ms();
    if (!self->scraped_ms || now - self->scraped_ms >= DRIFT_GAUGES_IDLE_MSEC)
        self->next_ms = now;   //  polls resume: the next turn asks
    self->scraped_ms = now;
    if (!self->text || !text)
        return text;
    char *both = realloc(text, *len + self->len + 1);
    if (!both)
        return text;
    memcpy(both + *len, self->text, self->len + 1);
    *len += self->len;
    return both;
}

void drift_gauges_destroy(drift_gauges_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->text);
    free(*p);
    *p = NULL;
}
