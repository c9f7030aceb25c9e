/*  registry.h: the model registry (MLflow's model): numbered versions, each
    with its run, dataset hash, family, parameters, test metrics, artifact
    sha256 and stage; exactly one version in production; every change of
    production written to the audit log.

    The promotion rule is pure (registry_decide) so it is unit-tested apart
    from the store: the best candidate on the configured metric is the
    challenger; it is promoted only when it beats production, scored on the
    same test split, by more than the margin; otherwise it is archived with
    the reason.

    The store operations take the caller's write transaction, so registering
    a version and settling the evaluate task that produced it are one commit:
    a broker killed between the two cannot register a version twice.
*/
#ifndef MLOPS_REGISTRY_H
#define MLOPS_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "records.h"
#include "stage_io.h"
#include "store.h"

typedef struct {
    char metric[RECORD_NAME_MAX];   //  a registry_metric name; "" = the task type's default
    double margin;                  //  challenger must beat production by more than this
} registry_rule_t;

typedef struct {
    size_t best;                    //  index of the challenger in the evaluate output
    bool promote;                   //  true: to production once load_model validates it
    char reason[RECORD_TEXT_MAX];   //  why, for the version record and the audit log
} registry_decision_t;

//  Reads the named metric of m's task type (m->task): binary (""): auc,
//  accuracy, precision, recall, f1, log_loss; multiclass: accuracy,
//  macro_f1, log_loss; regression: r2, rmse, mae. Returns 0, or
//  MLOPS_EINVAL for a name unknown or not of m's task.
int registry_metric(const metrics_t *m, const char *name, double *value);

//  True for a name registry_metric knows for some task type (--metric).
bool registry_metric_known(const char *name);

//  The default promotion metric of a task type (metrics_t.task; "" and
//  "binary" = binary): auc, multiclass accuracy, regression r2 (the same
//  defaults as `mlops train`, ml/task_name.h). NULL for an unknown task.
const char *registry_default_metric(const char *task);

//  True for a metric where lower is better (log_loss, rmse, mae).
bool registry_lower_is_better(const char *name);

//  Picks the challenger (best on rule->metric, or the candidates' task
//  type's default when it is ""; ties by f1, then accuracy, then the
//  earlier candidate) and decides whether it replaces production. A
//  production model of another task type is not compared: the challenger
//  is archived with "task changed: ..." (promote it by hand). ev must hold
//  at least one scored candidate. Returns 0, or MLOPS_EINVAL when the
//  metric is unknown or not of the candidates' task type, or ev is empty.
int registry_decide(const registry_rule_t *rule, const stage_evaluate_out_t *ev,
                    registry_decision_t *out);

//  The production version into *out. Returns 0, MLOPS_ENOTFOUND when there
//  is none, or a store error.
int registry_production(store_t *store, version_t *out, mlops_err_t *err);

//  Registers a new version in txn from a train output: stage staging when
//  promote (load_model then validates it), archived otherwise, with reason.
//  Writes the version record; its artifact is the stored object the
//  candidate names (its sha256 and size are recorded). Returns 0 or a
//  store error.
int registry_register(store_t *store, store_txn_t *txn, const run_t *run,
                      const stage_train_out_t *candidate, const metrics_t *test_metrics,
                      bool promote, const char *reason, int64_t now_ms, version_t *out,
                      mlops_err_t *err);

//  Puts version in production in txn: the one there before is archived
//  ("replaced by vN"), the change is appended to the audit log with action
//  ("promote" or "rollback") and reason. *previous gets the production
//  version before (0 = none). Returns 0, MLOPS_ENOTFOUND (no such version or
//  no artifact), MLOPS_ESTATE (already in production) or a store error.
int registry_promote(store_t *store, store_txn_t *txn, uint64_t version, const char *action,
                     const char *reason, int64_t now_ms, uint64_t *previous, mlops_err_t *err);

//  The reason of a version load_model found a schema other than
//  production's for: registered, archived, never promoted on its own
//  (PROTOCOL.md section 14).
#define REGISTRY_SCHEMA_REASON "not promoted: schema differs from production"

//  The schema rule of a person's PROMOTE for version v: a version archived
//  for a schema change (REGISTRY_SCHEMA_REASON) needs schema_change.
//  Returns 0 or MLOPS_ESTATE saying to add --schema-change.
int registry_schema_check(const version_t *v, bool schema_change, mlops_err_t *err);

//  A PROMOTE from a person: registry_promote with action "promote", except
//  that a version archived for a schema change (REGISTRY_SCHEMA_REASON)
//  needs schema_change, else MLOPS_ESTATE saying to add --schema-change;
//  with it the audit reason reads "schema-change: REASON". Same codes.
int registry_promote_manual(store_t *store, store_txn_t *txn, uint64_t version, bool schema_change,
                            const char *reason, int64_t now_ms, uint64_t *previous,
                            mlops_err_t *err);

//  Restores the version that production replaced most recently (from the
//  audit log). *version gets the restored one, *previous the one rolled
//  back. Returns 0, MLOPS_ENOTFOUND (no production, or nothing before it)
//  or a store error.
int registry_rollback(store_t *store, store_txn_t *txn, const char *reason, int64_t now_ms,
                      uint64_t *version, uint64_t *previous, mlops_err_t *err);

//  The version a rollback from production would restore (the one it
//  replaced when it was last promoted) into *target, 0 = none. Reads the
//  last commit. Returns 0 or a store error.
int registry_rollback_target(store_t *store, uint64_t production, uint64_t *target,
                             mlops_err_t *err);

//  Archives a version with reason in txn (a staging version whose
//  validation failed). Returns 0, MLOPS_ENOTFOUND or a store error.
int registry_archive(store_t *store, store_txn_t *txn, uint64_t version, const char *reason,
                     mlops_err_t *err);

//  A canary or shadow of candidate ended without promoting it (rolled back
//  on its figures, or by ROLLBACK), production staying at production (0 =
//  none), in txn: the candidate is archived with "rolled back: REASON" and
//  an audit entry "rollback" of it is written (previous = production).
//  Returns 0, MLOPS_ENOTFOUND or a store error.
int registry_rollout_end(store_t *store, store_txn_t *txn, uint64_t candidate, uint64_t production,
                         const char *reason, int64_t now_ms, mlops_err_t *err);

#endif
