/*  retention.c: --keep-runs and --keep-versions (broker_internal.h).

    When a run ends, in the batch that ends it, the ended runs beyond the
    newest keep_runs go, with their stage outputs (blobs, keyed by task id)
    and their dataset when no run or version that stays names it; versions
    beyond the newest keep_versions go with their artifacts, except
    production, the version a rollback would restore, the candidate of an
    active canary or shadow (rollout_watch.c) and the ending run's own.
    Running and queued runs always stay.

    Then, in the same batch, whatever retention kept or not, the data
    service's objects no run, version or stage output names any more are
    collected (store_object_collect), a bounded number of records per run
    end so the loop never stalls on it: "objects collected=N bytes=B" in
    the log and mlops_store_objects_collected_total on --metrics. Only the
    run-ending batch does it: no other run is active then, so an object
    uploaded but not yet named by a RESULT belongs to no live task (a late
    one of the ended run is garbage), and one still being uploaded is not
    complete, so not touched.
*/
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "exporter.h"
#include "log.h"
#include "registry.h"

//  Marks in drop the ended runs (newest first in runs) past the newest
//  keep, the ending one counting as kept.
static void s_pick_runs(broker_t *self, const run_t *runs, size_t n, uint64_t ending, bool *drop)
{
    size_t kept = ending ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        const run_t *r = &runs[i];
        bool live = r->id == ending || r->id == self->active.id || r->id == self->queued_id ||
                    r->state == RUN_QUEUED || r->state == RUN_RUNNING;
        if (live)
            continue;
        if (kept < (size_t)self->cfg.keep_runs)
            kept++;
        else
            drop[i] = true;
    }
}

//  Marks in drop the versions (ascending in vs) past the newest keep that
//  are not protected: production, its rollback target, the candidate of an
//  active rollout (read in the run-ending batch, so one --promote-via
//  started in it counts), the ending run's.
static void s_pick_versions(broker_t *self, const version_t *vs, size_t n, uint64_t own, bool *drop)
{
    uint64_t production = 0, target = 0, candidate = 0;
    for (size_t i = 0; i < n; i++)
        if (vs[i].stage == VERSION_PRODUCTION)
            production = vs[i].version;
    mlops_err_t err;
    bool unknown = production && registry_rollback_target(self->store, production, &target, &err) != 0;
    if (broker_rollout_candidate(self, broker_txn(self), &candidate, &err) != 0)
        unknown = true;
    for (size_t i = n, newest = 0; i-- > 0; newest++) {
        uint64_t v = vs[i].version;
        bool keep = newest < (size_t)self->cfg.keep_versions || v == production || v == target ||
                    v == candidate || v == own || unknown;   //  unknown: keep every version this time
        drop[i] = !keep;
    }
}

//  True when a run or version that stays names dataset hash.
static bool s_dataset_named(const char *hash, const run_t *runs, size_t n_runs,
                            const bool *drop_run, const version_t *vs, size_t n_vs,
                            const bool *drop_version)
{
    for (size_t i = 0; i < n_runs; i++)
        if (!drop_run[i] && (strcmp(runs[i].dataset_hash, hash) == 0 || strstr(runs[i].source, hash)))
            return true;
    for (size_t i = 0; i < n_vs; i++)
        if (!drop_version[i] && strcmp(vs[i].dataset_hash, hash) == 0)
            return true;
    return false;
}

//  Deletes a dropped run and its blobs in txn; counts what went.
static int s_drop_run(broker_t *self, store_txn_t *txn, const run_t *run, mlops_err_t *err)
{
    int rc = 0;
    for (size_t t = 0; rc == 0 && t < run->n_tasks; t++) {
        rc = store_blob_delete(self->store, txn, run->tasks[t].task_id, err);
        rc = rc == MLOPS_ENOTFOUND ? 0 : rc;
    }
    return rc ? rc : store_run_delete(self->store, txn, run->id, err);
}

//  Deletes the datasets only dropped runs and versions named.
static int s_drop_datasets(broker_t *self, store_txn_t *txn, const run_t *runs, size_t n_runs,
                           const bool *drop_run, const version_t *vs, size_t n_vs,
                           const bool *drop_version, size_t *n_gone, mlops_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_runs + n_vs; i++) {
        bool dropped = i < n_runs ? drop_run[i] : drop_version[i - n_runs];
        const char *hash = i < n_runs ? runs[i].dataset_hash : vs[i - n_runs].dataset_hash;
        if (!dropped || !*hash || s_dataset_named(hash, runs, n_runs, drop_run, vs, n_vs, drop_version))
            continue;
        rc = store_dataset_delete(self->store, txn, hash, err);
        *n_gone += rc == 0;
        rc = rc == MLOPS_ENOTFOUND ? 0 : rc;
    }
    return rc;
}

//  Applies the picks in the batch. 0 or a store error.
static int s_apply(broker_t *self, const run_t *runs, size_t n_runs, const bool *drop_run,
                   const version_t *vs, size_t n_vs, const bool *drop_version, mlops_err_t *err)
{
    store_txn_t *txn = broker_txn(self);
    if (!txn)
        return MLOPS_ESTORE;
    size_t gone_runs = 0, gone_versions = 0, gone_datasets = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n_runs; i++)
        if (drop_run[i] && (rc = s_drop_run(self, txn, &runs[i], err)) == 0)
            gone_runs++;
    for (size_t i = 0; rc == 0 && i < n_vs; i++)
        if (drop_version[i] && (rc = store_version_delete(self->store, txn, vs[i].version, err)) == 0)
            gone_versions++;
    if (rc == 0)
        rc = s_drop_datasets(self, txn, runs, n_runs, drop_run, vs, n_vs, drop_version,
                             &gone_datasets, err);
    if (rc == 0 && gone_runs + gone_versions + gone_datasets)
        log_info("retention runs_removed=%zu versions_removed=%zu datasets_removed=%zu", gone_runs,
                 gone_versions, gone_datasets);
    return rc;
}

//  Collects the objects nothing names, in the batch; says what went.
static void s_collect(broker_t *self)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    store_collect_t out;
    store_txn_t *txn = broker_txn(self);
    int rc = txn ? store_object_collect(self->store, txn, 0, &out, &err) : MLOPS_ESTORE;
    if (rc)
        log_error("object collection failed: %s", mlops_err_text(&err, rc));
    else if (out.skipped)
        log_warning("object collection skipped: %s", mlops_err_text(&err, out.skipped));
    else if (out.objects)
        log_info("objects collected=%llu bytes=%llu%s", (unsigned long long)out.objects,
                 (unsigned long long)out.bytes, out.more ? " more=yes (the next run end goes on)" : "");
    if (rc == 0 && self->exporter)
        exporter_objects_collected(self->exporter, out.objects, out.bytes);
}

static int s_retain(broker_t *self, uint64_t ending, uint64_t own_version)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    run_t *runs = NULL;
    version_t *vs = NULL;
    size_t n_runs = 0, n_vs = 0;
    int rc = store_run_list(self->store, 0, &runs, &n_runs, &err);
    if (rc == 0)
        rc = store_version_list(self->store, &vs, &n_vs, &err);
    bool *drop_run = rc ? NULL : calloc(n_runs + 1, sizeof *drop_run);
    bool *drop_version = rc ? NULL : calloc(n_vs + 1, sizeof *drop_version);
    if (rc == 0 && (!drop_run || !drop_version))
        rc = mlops_err_set(&err, MLOPS_ENOMEM, "out of memory");
    if (rc == 0) {
        if (self->cfg.keep_runs)
            s_pick_runs(self, runs, n_runs, ending, drop_run);
        if (self->cfg.keep_versions)
            s_pick_versions(self, vs, n_vs, own_version, drop_version);
        rc = s_apply(self, runs, n_runs, drop_run, vs, n_vs, drop_version, &err);
    }
    if (rc)
        log_error("retention failed: %s", mlops_err_text(&err, rc));
    free(drop_run);
    free(drop_version);
    free(vs);
    store_runs_free(&runs, n_runs);
    return rc;
}

int retention_apply(broker_t *self, uint64_t ending, uint64_t own_version)
{
    int rc = self->cfg.keep_runs || self->cfg.keep_versions ? s_retain(self, ending, own_version) : 0;
    if (rc == 0)
        s_collect(self);
    return rc;
}
