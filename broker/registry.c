/*  registry.c: see registry.h. */
#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The metrics of each task type, as metrics_t.task names it ("" = binary).
#define S_TASK_METRICS 6
static const struct {
    const char *task;
    const char *metric[S_TASK_METRICS];   //  the first is the default promotion metric
} s_tasks[] = {
    {"", {"auc", "accuracy", "precision", "recall", "f1", "log_loss"}},
    {"multiclass", {"accuracy", "macro_f1", "log_loss"}},
    {"regression", {"r2", "rmse", "mae"}},
};

static const struct { const char *name; size_t off; } s_names[] = {
    {"accuracy", offsetof(metrics_t, accuracy)}, {"precision", offsetof(metrics_t, precision)},
    {"recall", offsetof(metrics_t, recall)},     {"f1", offsetof(metrics_t, f1)},
    {"auc", offsetof(metrics_t, auc)},           {"log_loss", offsetof(metrics_t, log_loss)},
    {"macro_f1", offsetof(metrics_t, macro_f1)}, {"r2", offsetof(metrics_t, r2)},
    {"rmse", offsetof(metrics_t, rmse)},         {"mae", offsetof(metrics_t, mae)},
};

//  The row of s_tasks for a metrics_t.task ("binary" is "" too), or -1.
static int s_task(const char *task)
{
    if (strcmp(task, "binary") == 0)
        task = "";
    for (size_t t = 0; t < sizeof s_tasks / sizeof s_tasks[0]; t++)
        if (strcmp(task, s_tasks[t].task) == 0)
            return (int)t;
    return -1;
}

bool registry_metric_known(const char *name)
{
    for (size_t i = 0; name && i < sizeof s_names / sizeof s_names[0]; i++)
        if (strcmp(name, s_names[i].name) == 0)
            return true;
    return false;
}

int registry_metric(const metrics_t *m, const char *name, double *value)
{
    int t = s_task(m->task);
    bool of_task = false;
    for (size_t i = 0; t >= 0 && name && i < S_TASK_METRICS && s_tasks[t].metric[i]; i++)
        of_task |= strcmp(name, s_tasks[t].metric[i]) == 0;
    for (size_t i = 0; of_task && i < sizeof s_names / sizeof s_names[0]; i++) {
        if (strcmp(name, s_names[i].name) == 0) {
            *value = *(const double *)((const char *)m + s_names[i].off);
            return 0;
        }
    }
    return MLOPS_EINVAL;
}

const char *registry_default_metric(const char *task)
{
    int t = s_task(task);
    return t >= 0 ? s_tasks[t].metric[0] : NULL;
}

bool registry_lower_is_better(const char *name)
{
    return name && (strcmp(name, "log_loss") == 0 || strcmp(name, "rmse") == 0 ||
                    strcmp(name, "mae") == 0);
}

//  How much a beats b on metric (positive = better), whichever way it points.
static double s_gain(const char *metric, const metrics_t *a, const metrics_t *b)
{
    double va = 0, vb = 0;
    registry_metric(a, metric, &va);
    registry_metric(b, metric, &vb);
    return registry_lower_is_better(metric) ? vb - va : va - vb;
}

static bool s_better(const char *metric, const metrics_t *a, const metrics_t *b)
{
    double gain = s_gain(metric, a, b);
    if (gain != 0)
        return gain > 0;
    if (a->f1 != b->f1)
        return a->f1 > b->f1;
    return a->accuracy > b->accuracy;
}

//  Production of another task type: nothing to compare; promotion is
//  left to a person (mlops promote), since the serving answers change shape.
static void s_other_task(const stage_evaluate_out_t *ev, const stage_scored_t *c,
                         registry_decision_t *out)
{
    out->promote = false;
    snprintf(out->reason, sizeof out->reason,
             "task changed: %s %s, production v%lld %s; metrics of different task types are not "
             "compared, promote by hand", c->family, c->metrics.task[0] ? c->metrics.task : "binary",
             (long long)ev->production_version,
             ev->production.task[0] ? ev->production.task : "binary");
}

int registry_decide(const registry_rule_t *rule, const stage_evaluate_out_t *ev,
                    registry_decision_t *out)
{
    double value;
    memset(out, 0, sizeof *out);
    if (ev->n_scored == 0)
        return MLOPS_EINVAL;
    const char *metric = rule->metric[0] ? rule->metric
                                         : registry_default_metric(ev->scored[0].metrics.task);
    if (!metric || registry_metric(&ev->scored[0].metrics, metric, &value))
        return MLOPS_EINVAL;
    for (size_t i = 1; i < ev->n_scored; i++)
        if (s_better(metric, &ev->scored[i].metrics, &ev->scored[out->best].metrics))
            out->best = i;
    const stage_scored_t *c = &ev->scored[out->best];
    double cv = 0, pv = 0;
    registry_metric(&c->metrics, metric, &cv);
    if (ev->production_version <= 0) {
        out->promote = true;
        snprintf(out->reason, sizeof out->reason, "first version: %s %s %.4f, no production model",
                 c->family, metric, cv);
        return 0;
    }
    if (s_task(ev->production.task) != s_task(c->metrics.task)) {
        s_other_task(ev, c, out);
        return 0;
    }
    registry_metric(&ev->production, metric, &pv);
    double gain = s_gain(metric, &c->metrics, &ev->production);
    out->promote = gain > rule->margin;
    snprintf(out->reason, sizeof out->reason, "%s %s %.4f %s production v%lld %.4f by %+.4f (margin %g)",
             c->family, metric, cv, out->promote ? "beats" : "does not beat",
             (long long)ev->production_version, pv, gain, rule->margin);
    return 0;
}

int registry_production(store_t *store, version_t *out, mlops_err_t *err)
{
    version_t *all = NULL;
    size_t n = 0;
    int rc = store_version_list(store, &all, &n, err);
    if (rc)
        return rc;
    rc = MLOPS_ENOTFOUND;
    for (size_t i = n; i-- > 0;) {
        if (all[i].stage == VERSION_PRODUCTION) {
            *out = all[i];
            rc = 0;
            break;
        }
    }
    free(all);
    return rc;
}

int registry_register(store_t *store, store_txn_t *txn, const run_t *run,
                      const stage_train_out_t *candidate, const metrics_t *test_metrics,
                      bool promote, const char *reason, int64_t now_ms, version_t *out,
                      mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    int rc = store_version_next(store, txn, &out->version, err);
    if (rc)
        return rc;
    out->run_id = run->id;
    snprintf(out->dataset_hash, sizeof out->dataset_hash, "%s", run->dataset_hash);
    snprintf(out->family, sizeof out->family, "%s", candidate->family);
    snprintf(out->params, sizeof out->params, "%s", candidate->params);
    out->metrics = *test_metrics;
    snprintf(out->sha256, sizeof out->sha256, "%s", candidate->artifact.hash);
    out->artifact_len = (uint64_t)candidate->artifact.size;
    out->stage = promote ? VERSION_STAGING : VERSION_ARCHIVED;
    snprintf(out->reason, sizeof out->reason, "%s", reason);
    out->created_ms = now_ms;
    //  the artifact is the stored object the candidate names (checked when
    //  its train output was settled): store_artifact_get finds it by sha256
    return store_version_put(store, txn, out, err);
}

static int s_audit(store_t *store, store_txn_t *txn, const char *action, uint64_t version,
                   uint64_t previous, const char *reason, int64_t now_ms, mlops_err_t *err)
{
    audit_t entry = {.ts_ms = now_ms, .version = version, .previous = previous};
    snprintf(entry.action, sizeof entry.action, "%s", action);
    snprintf(entry.reason, sizeof entry.reason, "%s", reason && *reason ? reason : "manual");
    return store_audit_append(store, txn, &entry, err);
}

int registry_promote(store_t *store, store_txn_t *txn, uint64_t version, const char *action,
                     const char *reason, int64_t now_ms, uint64_t *previous, mlops_err_t *err)
{
    version_t target, old;
    int rc = store_version_get(store, NULL, version, &target, err);
    if (rc)
        return rc == MLOPS_ENOTFOUND
                   ? mlops_err_set(err, rc, "no version %llu in the registry", (unsigned long long)version)
                   : rc;
    if (target.stage == VERSION_PRODUCTION)
        return mlops_err_set(err, MLOPS_ESTATE, "version %llu is already in production",
                             (unsigned long long)version);
    *previous = 0;
    rc = registry_production(store, &old, err);
    if (rc == 0) {
        *previous = old.version;
        old.stage = VERSION_ARCHIVED;
        snprintf(old.reason, sizeof old.reason, "replaced by v%llu (%s)", (unsigned long long)version,
                 action);
        rc = store_version_put(store, txn, &old, err);
    } else if (rc == MLOPS_ENOTFOUND) {
        rc = 0;
    }
    if (rc)
        return rc;
    target.stage = VERSION_PRODUCTION;
    snprintf(target.reason, sizeof target.reason, "%s: %s", action, reason && *reason ? reason : "manual");
    rc = store_version_put(store, txn, &target, err);
    if (rc == 0)
        rc = s_audit(store, txn, action, version, *previous, reason, now_ms, err);
    return rc;
}

//  True when v was archived for a schema other than production's.
static bool s_schema_changed(const version_t *v)
{
    return strncmp(v->reason, REGISTRY_SCHEMA_REASON, strlen(REGISTRY_SCHEMA_REASON)) == 0;
}

int registry_schema_check(const version_t *v, bool schema_change, mlops_err_t *err)
{
    if (!s_schema_changed(v) || schema_change)
        return 0;
    return mlops_err_set(err, MLOPS_ESTATE, "v%llu has another schema than production (%.200s): "
                         "promote it with --schema-change if that is meant",
                         (unsigned long long)v->version, v->reason + strlen("not promoted: "));
}

int registry_promote_manual(store_t *store, store_txn_t *txn, uint64_t version, bool schema_change,
                            const char *reason, int64_t now_ms, uint64_t *previous,
                            mlops_err_t *err)
{
    version_t v;
    int rc = store_version_get(store, NULL, version, &v, err);
    bool changed = rc == 0 && s_schema_changed(&v);
    if (rc == 0 && (rc = registry_schema_check(&v, schema_change, err)) != 0)
        return rc;
    char why[RECORD_TEXT_MAX];
    snprintf(why, sizeof why, "%s%.200s", changed ? "schema-change: " : "",
             reason && *reason ? reason : "manual");
    return registry_promote(store, txn, version, "promote", why, now_ms, previous, err);
}

int registry_rollback_target(store_t *store, uint64_t production, uint64_t *target,
                             mlops_err_t *err)
{
    audit_t *log = NULL;
    size_t n = 0;
    int rc = store_audit_list(store, &log, &n, err);
    if (rc)
        return rc;
    *target = 0;
    for (size_t i = n; i-- > 0;) {
        if (strcmp(log[i].action, "promote") == 0 && log[i].version == production) {
            *target = log[i].previous;
            break;
        }
    }
    free(log);
    return 0;
}

int registry_rollback(store_t *store, store_txn_t *txn, const char *reason, int64_t now_ms,
                      uint64_t *version, uint64_t *previous, mlops_err_t *err)
{
    version_t current;
    int rc = registry_production(store, &current, err);
    if (rc)
        return rc == MLOPS_ENOTFOUND ? mlops_err_set(err, rc, "no production version to roll back") : rc;
    uint64_t target = 0;
    rc = registry_rollback_target(store, current.version, &target, err);
    if (rc)
        return rc;
    if (target == 0)
        return mlops_err_set(err, MLOPS_ENOTFOUND,
                             "no version was in production before v%llu: nothing to roll back to",
                             (unsigned long long)current.version);
    *version = target;
    rc = registry_promote(store, txn, target, "rollback", reason, now_ms, previous, err);
    return rc;
}

int registry_archive(store_t *store, store_txn_t *txn, uint64_t version, const char *reason,
                     mlops_err_t *err)
{
    version_t v;
    int rc = store_version_get(store, NULL, version, &v, err);
    if (rc)
        return rc;
    v.stage = VERSION_ARCHIVED;
    snprintf(v.reason, sizeof v.reason, "%s", reason);
    return store_version_put(store, txn, &v, err);
}

int registry_rollout_end(store_t *store, store_txn_t *txn, uint64_t candidate, uint64_t production,
                         const char *reason, int64_t now_ms, mlops_err_t *err)
{
    char why[RECORD_TEXT_MAX];
    snprintf(why, sizeof why, "rolled back: %.240s", reason);
    int rc = registry_archive(store, txn, candidate, why, err);
    return rc ? rc : s_audit(store, txn, "rollback", candidate, production, reason, now_ms, err);
}
