/*  drift_watch.c: the broker's side of drift monitoring: each SERVING's
    live profile goes into its version's window (drift.h); the version's
    reference profile is read from its stored artifact the first time the
    version reports; and when the window's check triggers, a retrain starts
    on the configured source with the check's reason, coalesced with a
    queued run like any other trigger (engine_trigger).

    A broker restart starts every window empty (memory only) and resets
    the cooldown: no decision is taken until --drift-min-rows live rows
    have arrived again after the restart, so a restart can delay a trigger
    by one window's filling but never fires one on fewer rows.
*/
#include "broker_internal.h"
#include "log.h"
#include "drift_io.h"
#include "profile.h"

#include <inttypes.h>
#include <stdlib.h>

static bool s_unwatched(const broker_t *self, uint64_t version)
{
    for (size_t i = 0; i < DRIFT_VERSIONS_MAX; i++)
        if (self->drift_unwatched[i] == version)
            return true;
    return false;
}

//  Sets version's reference from its artifact. 0, or the error (logged
//  once: a version without a profile is remembered as unwatched).
static int s_reference(broker_t *self, uint64_t version)
{
    uint8_t *blob = NULL;
    size_t len = 0;
    mlops_err_t err;
    mlops_err_clear(&err);
    int rc = store_artifact_get(self->store, NULL, version, &blob, &len, &err);
    profile_t *ref = rc == 0 ? profile_from_artifact(blob, len, &err) : NULL;
    free(blob);
    rc = ref ? drift_set_reference(self->drift, version, &ref, &err) : err.code;
    if (rc != 0) {
        log_warning("drift: version %" PRIu64 " is not watched: %s", version,
                    mlops_err_text(&err, rc));
        self->drift_unwatched[self->drift_n_unwatched++ % DRIFT_VERSIONS_MAX] = version;
    }
    return rc;
}

//  Starts a retrain when the check says so.
static void s_check(broker_t *self, uint64_t version, int64_t now)
{
    drift_report_t rep;
    if (drift_check(self->drift, version, now, &rep) != 0 || !rep.trigger)
        return;
    control_retrain_t answer = {0};
    mlops_err_t err;
    mlops_err_clear(&err);
    log_info("drift: version %" PRIu64 " over %" PRIu64 " rows: %s", version, rep.rows, rep.reason);
    if (engine_trigger(self, "", rep.reason, &answer, &err) != 0)
        log_error("drift trigger failed: %s", mlops_err_text(&err, err.code));
    engine_pump(self);
}

void broker_drift_report(broker_t *self, int64_t version, const uint8_t *profile, size_t len)
{
    if (!self->drift || version <= 0 || len == 0 || s_unwatched(self, (uint64_t)version))
        return;
    mlops_err_t err;
    mlops_err_clear(&err);
    profile_t *live = profile_decode(profile, len, &err);
    int64_t now = zclock_mono();
    int rc = live ? drift_add(self->drift, (uint64_t)version, live, now, &err) : err.code;
    if (rc == MLOPS_ENOTFOUND && s_reference(self, (uint64_t)version) == 0)
        rc = drift_add(self->drift, (uint64_t)version, live, now, &err);
    if (rc == 0)
        s_check(self, (uint64_t)version, now);
    else if (rc != MLOPS_ENOTFOUND)
        log_warning("drift: a live profile of version %" PRId64 " refused: %s", version,
                    mlops_err_text(&err, rc));
    profile_destroy(&live);
}

int broker_drift_answer(broker_t *self, uint8_t **out, size_t *out_len, mlops_err_t *err)
{
    control_drift_t d = {.threshold = self->cfg.drift.threshold, .min_rows = self->cfg.drift.min_rows};
    control_drift_version_t vs[DRIFT_VERSIONS_MAX] = {{0}};
    uint64_t ids[DRIFT_VERSIONS_MAX];
    size_t n = self->drift ? drift_versions(self->drift, ids, DRIFT_VERSIONS_MAX) : 0;
    int rc = 0;
    int64_t now = zclock_mono();
    for (size_t i = 0; i < n && rc == 0; i++) {
        drift_report_t rep;
        if (drift_measure(self->drift, ids[i], now, &rep) != 0)
            continue;
        control_drift_version_t *v = &vs[d.n_versions++];
        *v = (control_drift_version_t){.version = ids[i], .rows = rep.rows, .measured = rep.measured,
                                       .n_fields = rep.n_fields};
        v->fields = calloc(rep.n_fields ? rep.n_fields : 1, sizeof *v->fields);
        if (!v->fields)
            rc = MLOPS_ENOMEM;
        for (size_t k = 0; v->fields && k < rep.n_fields; k++)   //  names borrowed from drift
            v->fields[k] = (control_drift_field_t){(char *)rep.fields[k].name, rep.fields[k].js,
                                                   rep.fields[k].psi, rep.fields[k].drifted,
                                                   rep.fields[k].ref, rep.fields[k].live};
    }
    d.versions = vs;
    if (rc == 0)
        rc = control_drift_encode(&d, out, out_len);
    for (size_t i = 0; i < d.n_versions; i++)
        free(vs[i].fields);
    return rc ? mlops_err_set(err, rc, "DRIFT: out of memory") : 0;
}

size_t broker_drift_gauges(broker_t *self, exporter_drift_t **out)
{
    *out = NULL;
    uint64_t ids[DRIFT_VERSIONS_MAX];
    size_t n_ids = self->drift ? drift_versions(self->drift, ids, DRIFT_VERSIONS_MAX) : 0;
    if (n_ids == 0)
        return 0;
    int64_t now = zclock_mono();
    drift_report_t rep;
    size_t total = 0;
    for (size_t i = 0; i < n_ids; i++)
        total += drift_measure(self->drift, ids[i], now, &rep) == 0 ? rep.n_fields : 0;
    *out = calloc(total ? total : 1, sizeof **out);
    size_t n = 0;
    for (size_t i = 0; *out && i < n_ids; i++) {
        if (drift_measure(self->drift, ids[i], now, &rep) != 0)
            continue;
        for (size_t k = 0; k < rep.n_fields && n < total; k++)   //  names live with the reference
            (*out)[n++] = (exporter_drift_t){ids[i], rep.fields[k].name, rep.fields[k].js,
                                             rep.fields[k].psi, rep.rows};
    }
    return n;
}
