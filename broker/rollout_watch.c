/*  rollout_watch.c: the broker's side of canary and shadow rollouts
    (PROTOCOL.md, PROMOTE "Rollouts" and CANARY) around the pure
    rollout_reports.h: PROMOTE with a rollout key starts one, CANARY reports and
    answers, the tick ends a canary whose period is over by promoting or
    rolling back through the registry, ROLLBACK or a plain PROMOTE ends one
    at once, and --promote-via canary starts one for a run's version.

    The rollout itself (kind, candidate, share, period, how the previous one
    ended) is a rollout_state_t in the store's blobs database under
    ROLLOUT_BLOB_KEY, written in the same transaction as the registry change
    that goes with it, and read back from the store whenever it is needed
    (there is no copy beside it): a broker restart carries on with it. The
    gateways' reports are in memory (rollout_reports.h says why that is enough).
*/
#include "broker_internal.h"
#include "log.h"
#include "registry.h"
#include "rollout_reports.h"
#include "rollout_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROLLOUT_BLOB_KEY "rollout"   //  not a task id (those start with a digit): never a stage output
#define ROLLOUT_CHECK_MSEC 250       //  how often the tick looks at a canary's period

//  The rollout the store holds (txn: NULL = the last commit) into *def:
//  rollout none when there has never been one. 0 or a store error.
static int s_def_get(broker_t *self, store_txn_t *txn, rollout_state_t *def, mlops_err_t *err)
{
    memset(def, 0, sizeof *def);
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = store_blob_get(self->store, txn, ROLLOUT_BLOB_KEY, &data, &len, err);
    if (rc == MLOPS_ENOTFOUND)
        return 0;
    mlops_err_t why;
    if (rc == 0 && rollout_state_decode(data, len, def, &why) != 0)
        rc = mlops_err_set(err, MLOPS_ECORRUPT, "the stored rollout does not decode: %s", why.msg);
    free(data);
    return rc;
}

static int s_def_put(broker_t *self, store_txn_t *txn, const rollout_state_t *def, mlops_err_t *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = rollout_state_encode(def, &data, &len);
    if (rc == 0)
        rc = store_blob_put(self->store, txn, ROLLOUT_BLOB_KEY, data, len, err);
    free(data);
    return rc;
}

//  Production's version now, 0 = none.
static uint64_t s_production(broker_t *self)
{
    version_t prod;
    mlops_err_t err;
    return registry_production(self->store, &prod, &err) == 0 ? prod.version : 0;
}

//  Checks that v may be the candidate of a rollout against production;
//  *production gets its version. 0, MLOPS_ENOTFOUND or MLOPS_ESTATE.
static int s_candidate_check(broker_t *self, const version_t *v, uint64_t *production, mlops_err_t *err)
{
    *production = s_production(self);
    if (*production == 0)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "no version is in production to compare v%llu "
                             "with: promote it directly", (unsigned long long)v->version);
    if (*production == v->version)
        return mlops_err_set(err, MLOPS_ESTATE, "v%llu is in production itself: a rollout needs "
                             "another version", (unsigned long long)v->version);
    return 0;
}

//  A new rollout of v in txn, from def's kind, share and period; the
//  previous one's `last` is kept.
static int s_begin(broker_t *self, store_txn_t *txn, rollout_state_t *def, uint64_t production,
                   mlops_err_t *err)
{
    rollout_state_t old;
    int rc = s_def_get(self, txn, &old, err);
    if (rc)
        return rc;
    def->production = (int64_t)production;
    def->started_ms = broker_wall();
    if (def->ends_ms > 0)   //  a period: ends_ms holds its length until now
        def->ends_ms += def->started_ms;
    memcpy(def->last, old.last, sizeof def->last);
    char span[64];
    rollout_describe(def, span, sizeof span);
    log_info("rollout started kind=%s version=%lld production=%llu span=%s",
             rollout_kind_name(def->rollout), (long long)def->version, (unsigned long long)production,
             *span ? span : "-");
    return s_def_put(self, txn, def, err);
}

int broker_rollout_start(broker_t *self, store_txn_t *txn, const proto_msg_t *msg,
                         control_promote_t *answer, mlops_err_t *err)
{
    rollout_state_t def;
    version_t v;
    uint64_t production = 0;
    int rc = rollout_check_promote(msg, err);
    rc = rc ? rc : s_def_get(self, txn, &def, err);
    if (rc == 0 && def.rollout != ROLLOUT_NONE)
        rc = mlops_err_set(err, MLOPS_ESTATE, "v%lld is in %s: end it first with mlops rollback",
                           (long long)def.version, rollout_kind_name(def.rollout));
    if (rc == 0 && (rc = store_version_get(self->store, NULL, (uint64_t)msg->promote.version, &v, err))
                   == MLOPS_ENOTFOUND)
        rc = mlops_err_set(err, rc, "no version %lld in the registry", (long long)msg->promote.version);
    rc = rc ? rc : registry_schema_check(&v, msg->promote.schema_change, err);
    rc = rc ? rc : s_candidate_check(self, &v, &production, err);
    if (rc)
        return rc;
    def = (rollout_state_t){.rollout = msg->promote.shadow ? ROLLOUT_SHADOW : ROLLOUT_CANARY,
                            .version = msg->promote.version, .percent = msg->promote.canary_percent,
                            .ends_ms = msg->promote.canary_for_ms,
                            .requests_target = msg->promote.canary_requests};
    if ((rc = s_begin(self, txn, &def, production, err)) != 0)
        return rc;
    *answer = (control_promote_t){.version = def.version, .previous = (int64_t)production};
    snprintf(answer->rollout, sizeof answer->rollout, "%s", rollout_kind_name(def.rollout));
    return 0;
}

//  Ends def in txn: `last` says "VERB vN: KIND SPAN: why", the rest is none.
static int s_finish(broker_t *self, store_txn_t *txn, const rollout_state_t *def, const char *verb,
                    const char *why, mlops_err_t *err)
{
    rollout_state_t done = {.rollout = ROLLOUT_NONE};
    char span[64];
    rollout_describe(def, span, sizeof span);
    snprintf(done.last, sizeof done.last, "%s v%lld: %s%s%s: %.180s", verb, (long long)def->version,
             rollout_kind_name(def->rollout), *span ? " " : "", span, why);
    log_info("rollout ended %s", done.last);
    return s_def_put(self, txn, &done, err);
}

//  The audit reason of def's end: "KIND: [SPAN: ]why".
static void s_reason(const rollout_state_t *def, const char *why, char *out, size_t size)
{
    char span[64];
    rollout_describe(def, span, sizeof span);
    snprintf(out, size, "%s: %s%s%.180s", rollout_kind_name(def->rollout), span, *span ? ": " : "", why);
}

//  Rolls def's candidate back in txn (production unchanged), saying why.
static int s_roll_back(broker_t *self, store_txn_t *txn, const rollout_state_t *def, const char *why,
                       mlops_err_t *err)
{
    char reason[RECORD_TEXT_MAX];
    s_reason(def, why, reason, sizeof reason);
    int rc = registry_rollout_end(self->store, txn, (uint64_t)def->version, s_production(self), reason,
                                  broker_wall(), err);
    return rc ? rc : s_finish(self, txn, def, "rolled back", why, err);
}

int broker_rollout_stop(broker_t *self, store_txn_t *txn, const char *why, rollout_state_t *ended,
                        mlops_err_t *err)
{
    int rc = s_def_get(self, txn, ended, err);
    if (rc || ended->rollout == ROLLOUT_NONE)
        return rc;
    return s_roll_back(self, txn, ended, why, err);
}

int broker_rollout_superseded(broker_t *self, store_txn_t *txn, uint64_t version, mlops_err_t *err)
{
    rollout_state_t def;
    int rc = s_def_get(self, txn, &def, err);
    if (rc || def.rollout == ROLLOUT_NONE)
        return rc;
    char why[64];
    snprintf(why, sizeof why, "ended by a promotion of v%llu", (unsigned long long)version);
    if ((uint64_t)def.version == version)   //  the candidate itself: promoted, not rolled back
        return s_finish(self, txn, &def, "promoted", "promoted by hand", err);
    return s_roll_back(self, txn, &def, why, err);
}

int broker_rollout_candidate(broker_t *self, store_txn_t *txn, uint64_t *version, mlops_err_t *err)
{
    rollout_state_t def;
    int rc = s_def_get(self, txn, &def, err);
    *version = rc == 0 && def.rollout != ROLLOUT_NONE ? (uint64_t)def.version : 0;
    return rc;
}

//  Reads a CANARY's report into the table. 0, or MLOPS_EPROTO /
//  MLOPS_EINVAL / MLOPS_ETOOBIG with err.
static int s_take_report(broker_t *self, const rollout_state_t *def, const proto_msg_t *msg,
                         mlops_err_t *err)
{
    rollout_report_t report;
    mlops_err_t why;
    if (rollout_report_decode(msg->canary.report, msg->canary.report_len, &report, &why) != 0)
        return mlops_err_set(err, why.code, "report: %s", why.msg);
    return rollout_reports_add(self->rollout, def, msg->canary.gateway, &report, err);
}

//  True when a CANARY carries a report (not absent, not nil).
static bool s_has_report(const proto_msg_t *msg)
{
    return msg->canary.report_len > 1 || (msg->canary.report_len == 1 && msg->canary.report[0] != 0xc0);
}

bool broker_rollout_reporting(const proto_msg_t *msg)
{
    return msg->cmd == PROTO_CANARY && s_has_report(msg);
}

int broker_rollout_answer(broker_t *self, const proto_msg_t *msg, uint8_t **out, size_t *len,
                          mlops_err_t *err)
{
    rollout_state_t def;
    int rc = s_def_get(self, NULL, &def, err);
    if (rc == 0 && s_has_report(msg))
        rc = s_take_report(self, &def, msg, err);
    if (rc) {
        char gw[80], why[256];
        log_warning("control: CANARY refused: %s gateway=%s", broker_clean(err->msg, why, sizeof why),
                    broker_clean(msg->canary.gateway, gw, sizeof gw));
        return rc;
    }
    rollout_report_t sum;
    rollout_reports_sum(self->rollout, &def, &sum);
    rollout_fill(&def, &sum);
    def.production = (int64_t)s_production(self);
    return rollout_state_encode(&def, out, len);
}

//  Decides def on its sum and carries it out in the (empty) batch.
static int s_decide(broker_t *self, const rollout_state_t *def, const rollout_report_t *sum,
                    bool *promoted, mlops_err_t *err)
{
    version_t v;
    int rc = store_version_get(self->store, NULL, (uint64_t)def->version, &v, err);
    store_txn_t *txn = rc == 0 || rc == MLOPS_ENOTFOUND ? broker_txn(self) : NULL;
    if (!txn)
        return rc ? rc : MLOPS_ESTORE;
    if (rc == MLOPS_ENOTFOUND)   //  removed meanwhile (--keep-versions): nothing to decide
        return s_finish(self, txn, def, "ended", "the version is no longer in the registry", err);
    char why[160], reason[RECORD_TEXT_MAX];
    *promoted = rollout_decide(sum, strcmp(v.metrics.task, "regression") == 0, why, sizeof why);
    if (!*promoted)
        return s_roll_back(self, txn, def, why, err);
    s_reason(def, why, reason, sizeof reason);
    uint64_t previous = 0;
    rc = registry_promote(self->store, txn, v.version, "promote", reason, broker_wall(), &previous, err);
    rc = rc ? rc : s_finish(self, txn, def, "promoted", why, err);
    if (rc == 0)
        broker_publish(self, "model", 0, "", "production", v.version, reason);
    return rc;
}

//  Ends def, due at now: the decision in a batch of its own, committed.
static void s_end_due(broker_t *self, const rollout_state_t *def, const rollout_report_t *sum)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    bool promoted = false;
    if (broker_flush(self) != 0)   //  an empty batch: a failure aborts only this
        return;
    int rc = s_decide(self, def, sum, &promoted, &err);
    if (rc) {
        broker_abort_batch(self);
        log_error("rollout of v%lld: the decision was not carried out: %s", (long long)def->version,
                  mlops_err_text(&err, rc));
        return;
    }
    if (broker_flush(self) == 0 && promoted)
        engine_load_wait_superseded(self, (uint64_t)def->version, "promote");
}

void broker_rollout_tick(broker_t *self)
{
    int64_t now = zclock_mono();
    if (now < self->rollout_check_mono || outage_holding(&self->outage, now))
        return;
    self->rollout_check_mono = now + ROLLOUT_CHECK_MSEC;
    rollout_state_t def;
    rollout_report_t sum;
    mlops_err_t err;
    if (s_def_get(self, NULL, &def, &err) != 0 || def.rollout != ROLLOUT_CANARY)
        return;
    rollout_reports_sum(self->rollout, &def, &sum);
    if (rollout_due(&def, &sum, broker_wall()))
        s_end_due(self, &def, &sum);
}

bool broker_rollout_via(broker_t *self, store_txn_t *txn, const version_t *v, int *rc, mlops_err_t *err)
{
    const rollout_via_t *via = &self->cfg.promote_via;
    rollout_state_t def;
    uint64_t production = 0;
    *rc = 0;
    if (via->percent <= 0 || s_candidate_check(self, v, &production, err) != 0)
        return false;   //  direct, or nothing to compare with: promoted as always
    if ((*rc = s_def_get(self, txn, &def, err)) != 0)
        return true;
    if (def.rollout != ROLLOUT_NONE) {
        snprintf(self->active.outcome, sizeof self->active.outcome, "v%llu not promoted: the %s of "
                 "v%lld is active (--promote-via); promote it by hand", (unsigned long long)v->version,
                 rollout_kind_name(def.rollout), (long long)def.version);
        *rc = registry_archive(self->store, txn, v->version, self->active.outcome, err);
        return true;
    }
    def = (rollout_state_t){.rollout = ROLLOUT_CANARY, .version = (int64_t)v->version,
                            .percent = via->percent, .ends_ms = via->for_ms};
    *rc = s_begin(self, txn, &def, production, err);
    char span[64];
    rollout_describe(&def, span, sizeof span);
    snprintf(self->active.outcome, sizeof self->active.outcome, "canary of v%llu started (%s): %.120s",
             (unsigned long long)v->version, span, v->reason);
    return true;
}
