/*  stage_data.c: how the stage handlers get and give data (stages.h): the
    blobs a payload names, fetched through the blob cache and the data
    service, and their outputs uploaded. One log line per blob, so a run's
    transfers can be counted from the worker's log. */
#include "stages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "task_name.h"
#include "train.h"

int stage_check_rows(const char *field, const size_t *rows, size_t n, size_t n_rows,
                     mlops_err_t *err)
{
    for (size_t i = 0; i < n; i++)
        if (rows[i] >= n_rows)
            return mlops_err_set(err, MLOPS_EPROTO, "%s[%zu]: row %zu is past the table's %zu rows",
                                 field, i, rows[i], n_rows);
    return 0;
}

int stage_fetch(stage_data_t *d, const char *stage, const char *what, const stage_ref_t *ref,
                uint8_t **data, size_t *len, mlops_err_t *err)
{
    mlops_err_t sub;
    mlops_err_clear(&sub);
    uint64_t before = data_client_fetched_bytes(d->client);
    int rc = blob_cache_fetch(d->cache, d->client, ref->hash, data, len, &sub);
    if (rc)
        return mlops_err_set(err, rc, "%s: cannot fetch the %s: %s", stage, what,
                             mlops_err_text(&sub, rc));
    if ((int64_t)*len != ref->size) {
        free(*data);
        *data = NULL;
        return mlops_err_set(err, MLOPS_ECORRUPT, "%s: the %s %.12s has %zu bytes, the task says %lld",
                             stage, what, ref->hash, *len, (long long)ref->size);
    }
    bool fetched = data_client_fetched_bytes(d->client) != before || *len == 0;
    log_info("fetched %s hash=%.12s bytes=%zu from=%s", what, ref->hash, *len,
             fetched ? "service" : "cache");
    return 0;
}

//  The mapping of a cached blob, its size checked against ref's; false
//  when the cache cannot map it (err, a size mismatch, says why).
static bool s_map(stage_data_t *d, const char *stage, const char *what, const stage_ref_t *ref,
                  uint8_t **data, size_t *len, mlops_err_t *err)
{
    const uint8_t *map = NULL;
    size_t n = 0;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (!d->cache || ref->size == 0 || blob_cache_map(d->cache, ref->hash, &map, &n, &sub) != 0)
        return false;
    if ((int64_t)n != ref->size) {
        blob_cache_unmap(map, n);
        mlops_err_set(err, MLOPS_ECORRUPT, "%s: the %s %.12s has %zu bytes, the task says %lld",
                      stage, what, ref->hash, n, (long long)ref->size);
        return false;
    }
    *data = (uint8_t *)map, *len = n;
    return true;
}

int stage_fetch_mapped(stage_data_t *d, const char *stage, const char *what,
                       const stage_ref_t *ref, uint8_t **data, size_t *len, bool *mapped,
                       mlops_err_t *err)
{
    mlops_err_clear(err);
    if ((*mapped = s_map(d, stage, what, ref, data, len, err))) {
        log_info("fetched %s hash=%.12s bytes=%zu from=cache mapped", what, ref->hash, *len);
        return 0;
    }
    if (err->code)
        return err->code;
    int rc = stage_fetch(d, stage, what, ref, data, len, err);   //  kept in the cache, if any
    uint8_t *copy = *data;
    if (rc == 0 && (*mapped = s_map(d, stage, what, ref, data, len, err)))
        free(copy);
    return rc;
}

void stage_blob_release(uint8_t *data, size_t len, bool mapped)
{
    if (mapped)
        blob_cache_unmap(data, len);
    else
        free(data);
}

int stage_upload(stage_data_t *d, const char *stage, const char *what, const uint8_t *bytes,
                 size_t len, stage_ref_t *ref, mlops_err_t *err)
{
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int rc = data_client_put(d->client, bytes, len, ref->hash, &sub);
    if (rc)
        return mlops_err_set(err, rc, "%s: cannot upload the %s: %s", stage, what,
                             mlops_err_text(&sub, rc));
    ref->size = (int64_t)len;
    log_info("uploaded %s hash=%.12s bytes=%zu", what, ref->hash, len);
    //  kept as if fetched: the next stage on this host (sharing the cache)
    //  or the next run on the same data fetches nothing
    if (d->cache && blob_cache_put(d->cache, ref->hash, bytes, len, &sub) != 0)
        log_warning("%s", sub.msg);
    return 0;
}

//  A table blob (what: "table", "test_table"), fetched and decoded.
static table_t *s_table_fetch(stage_data_t *d, const char *stage, const char *what,
                              const stage_ref_t *ref, mlops_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (stage_fetch(d, stage, what, ref, &bytes, &len, err))
        return NULL;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    table_t *t = table_decode(bytes, len, &sub);
    free(bytes);
    if (!t)
        mlops_err_set(err, sub.code ? sub.code : MLOPS_EPROTO, "%s: the %s does not decode: %s",
                      stage, what, mlops_err_text(&sub, sub.code));
    return t;
}

table_t *stage_table_fetch(stage_data_t *d, const char *stage, const stage_ref_t *ref,
                           mlops_err_t *err)
{
    return s_table_fetch(d, stage, "table", ref, err);
}

model_t *stage_model_fetch(stage_data_t *d, const char *stage, const char *what,
                           const stage_ref_t *ref, mlops_err_t *err)
{
    uint8_t *artifact = NULL;
    size_t len = 0;
    if (stage_fetch(d, stage, what, ref, &artifact, &len, err))
        return NULL;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    model_t *model = model_load(artifact, len, &sub);
    free(artifact);
    if (!model)
        mlops_err_set(err, sub.code ? sub.code : MLOPS_ECORRUPT, "%s: %s does not load: %s", stage,
                      what, mlops_err_text(&sub, sub.code));
    return model;
}

int stage_split_fetch(stage_data_t *d, const char *stage, const stage_ref_t *ref, size_t n_rows,
                      stage_split_t *split, mlops_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(split, 0, sizeof *split);
    int rc = stage_fetch(d, stage, "split", ref, &bytes, &len, err);
    mlops_err_t sub;
    mlops_err_clear(&sub);
    if (rc == 0 && (rc = stage_split_decode(bytes, len, split, &sub)) != 0)
        mlops_err_set(err, rc, "%s: the split does not decode: %s", stage, mlops_err_text(&sub, rc));
    free(bytes);
    if (rc == 0)
        rc = stage_check_rows("train_rows", split->train_rows, split->n_train, n_rows, err);
    if (rc == 0)
        rc = stage_check_rows("test_rows", split->test_rows, split->n_test, n_rows, err);
    if (rc)
        stage_split_clear(split);
    return rc;
}

int stage_test_fetch(stage_data_t *d, const char *stage, const stage_ref_t *table,
                     const stage_ref_t *split, const stage_ref_t *test_table, stage_test_t *out,
                     mlops_err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!test_table->hash[0]) {
        stage_split_t s = {0};
        if (!(out->table = stage_table_fetch(d, stage, table, err)))
            return err->code;
        int rc = stage_split_fetch(d, stage, split, out->table->n_rows, &s, err);
        out->rows = s.test_rows, out->n = s.n_test;   //  the train rows are not needed
        free(s.train_rows);
        return rc;
    }
    if (!(out->table = s_table_fetch(d, stage, "test_table", test_table, err)))
        return err->code;
    out->n = out->table->n_rows;
    if (!(out->rows = malloc((out->n ? out->n : 1) * sizeof *out->rows)))
        return mlops_err_set(err, MLOPS_ENOMEM, "%s: out of memory for %zu rows", stage, out->n);
    for (size_t i = 0; i < out->n; i++)
        out->rows[i] = i;
    return 0;
}

void stage_test_clear(stage_test_t *t)
{
    table_destroy(&t->table);
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* --- task types ------------------------------------------------------------ */

int stage_task_parse(const char *stage, const char *word, task_t *out, mlops_err_t *err)
{
    int t = TASK_BINARY;
    if (word[0] && (task_parse(word, &t) != 0 || t == TASK_AUTO))
        return mlops_err_set(err, MLOPS_EPROTO, "%s: unknown task type '%.40s'", stage, word);
    *out = (task_t)t;
    return 0;
}

const char *stage_task_word(task_t task)
{
    return task == TASK_BINARY ? "" : task_name(task);
}

void stage_metrics_of(const score_t *s, metrics_t *out)
{
    memset(out, 0, sizeof *out);
    if (s->task == TASK_BINARY) {
        *out = s->bin;
        out->task[0] = 0;
        return;
    }
    snprintf(out->task, sizeof out->task, "%s", task_name(s->task));
    if (s->task == TASK_MULTICLASS) {
        out->accuracy = s->accuracy, out->macro_f1 = s->macro_f1, out->log_loss = s->log_loss;
    } else {
        out->r2 = s->r2, out->rmse = s->rmse, out->mae = s->mae;
    }
}

int stage_score(const model_t *model, const table_t *raw, const size_t *rows, size_t n,
                metrics_t *out, mlops_err_t *err)
{
    if (model_task(model) == TASK_BINARY)
        return train_score(model, raw, rows, n, out, err);
    score_t s = {0};
    int rc = train_evaluate(model, raw, rows, n, &s, err);
    if (rc == 0)
        stage_metrics_of(&s, out);
    score_clear(&s);
    return rc;
}
