/*  feedback_store.c: see feedback_store.h. Each row is stored as the
    canonical encoding of its decoded form (feedback_io_row_encode), so
    what a gateway sent is checked once here and read back without doubt.
*/
#include "feedback_store.h"

#include "broker_internal.h"
#include "log.h"
#include "source.h"
#include "vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  "<request id>#<index>": what names a row.
static void s_key(const feedback_io_row_t *row, char key[FEEDBACK_IO_ID_MAX + 16])
{
    snprintf(key, FEEDBACK_IO_ID_MAX + 16, "%s#%u", row->request_id, (unsigned)row->index);
}

//  Stores one row, dropping the oldest while the set is over max_bytes.
static int s_add(store_t *store, store_txn_t *txn, uint64_t max_bytes, const feedback_io_row_t *row,
                 store_feedback_stats_t *st, feedback_io_answer_t *answer, mlops_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    char key[FEEDBACK_IO_ID_MAX + 16];
    s_key(row, key);
    int rc = feedback_io_row_encode(row, &bytes, &len);
    if (rc)
        return mlops_err_set(err, rc, "feedback row %.80s cannot be encoded", key);
    rc = store_feedback_put(store, txn, key, bytes, len, err);
    free(bytes);
    if (rc == MLOPS_ESTATE) {   //  stored already: the first one stays
        st->duplicate++;
        answer->duplicate++;
        return 0;
    }
    if (rc)
        return rc;
    st->rows++, st->bytes += len, st->stored++;
    answer->stored++;
    while (rc == 0 && st->bytes > max_bytes && st->rows > 0) {
        size_t dropped = 0;
        rc = store_feedback_drop_oldest(store, txn, &dropped, err);
        st->rows--, st->bytes -= dropped < st->bytes ? dropped : st->bytes, st->rotated++;
    }
    return rc;
}

//  The answer's counts from the stats.
static void s_counts(const store_feedback_stats_t *st, uint64_t max_bytes, feedback_io_answer_t *a)
{
    a->rows = st->rows;
    a->bytes = st->bytes;
    a->max_bytes = max_bytes;
    a->stored_total = st->stored;
    a->duplicate_total = st->duplicate;
    a->rotated_total = st->rotated;
}

int feedback_store_add(store_t *store, store_txn_t *txn, uint64_t max_bytes,
                       const feedback_io_row_t *rows, size_t n, feedback_io_answer_t *answer,
                       mlops_err_t *err)
{
    max_bytes = max_bytes ? max_bytes : FEEDBACK_STORE_MAX_BYTES_DEFAULT;
    *answer = (feedback_io_answer_t){0};
    store_txn_t *own = txn ? NULL : store_begin(store, err);
    store_txn_t *t = txn ? txn : own;
    if (!t)
        return err ? err->code : MLOPS_ESTORE;
    store_feedback_stats_t st;
    int rc = store_feedback_stats_get(store, t, &st, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = s_add(store, t, max_bytes, &rows[i], &st, answer, err);
    if (rc == 0 && n)
        rc = store_feedback_stats_put(store, t, &st, err);
    if (own && rc == 0)
        rc = store_commit(&own, err);
    store_abort(&own);
    if (rc == 0)
        s_counts(&st, max_bytes, answer);
    return rc;
}

int feedback_store_counts(store_t *store, store_txn_t *txn, uint64_t max_bytes,
                          feedback_io_answer_t *answer, mlops_err_t *err)
{
    store_feedback_stats_t st;
    *answer = (feedback_io_answer_t){0};
    int rc = store_feedback_stats_get(store, txn, &st, err);
    if (rc == 0)
        s_counts(&st, max_bytes ? max_bytes : FEEDBACK_STORE_MAX_BYTES_DEFAULT, answer);
    return rc;
}

/* --- the broker's side ---------------------------------------------------- */

int broker_feedback_answer(broker_t *self, const proto_msg_t *msg, uint8_t **out, size_t *out_len,
                           mlops_err_t *err)
{
    feedback_io_row_t *rows = NULL;
    size_t n = 0;
    int rc = 0;
    if (msg->feedback.rows_len)
        rc = feedback_io_rows_decode(msg->feedback.rows, msg->feedback.rows_len, &rows, &n, err);
    store_txn_t *txn = rc == 0 && n ? broker_txn(self) : NULL;
    if (rc == 0 && n && !txn)
        rc = mlops_err_set(err, MLOPS_ESTORE, "the store cannot begin a transaction");
    feedback_io_answer_t answer;
    if (rc == 0)
        rc = n ? feedback_store_add(self->store, txn, self->cfg.feedback_max_bytes, rows, n, &answer, err)
               : feedback_store_counts(self->store, NULL, self->cfg.feedback_max_bytes, &answer, err);
    free(rows);
    if (rc == 0 && feedback_io_answer_encode(&answer, out, out_len) != 0)
        rc = mlops_err_set(err, MLOPS_ENOMEM, "FEEDBACK answer: out of memory");
    if (rc == 0 && n)
        log_debug("feedback: stored=%llu duplicate=%llu rows=%llu rotated_total=%llu",
                  (unsigned long long)answer.stored, (unsigned long long)answer.duplicate,
                  (unsigned long long)answer.rows, (unsigned long long)answer.rotated_total);
    return rc;
}

void broker_feedback_gauges(broker_t *self, exporter_gauges_t *g)
{
    feedback_io_answer_t a;
    if (feedback_store_counts(self->store, NULL, self->cfg.feedback_max_bytes, &a, NULL) != 0)
        return;
    g->feedback_rows = a.rows, g->feedback_bytes = a.bytes, g->feedback_max_bytes = a.max_bytes;
    g->feedback_stored = a.stored_total, g->feedback_duplicate = a.duplicate_total;
    g->feedback_rotated = a.rotated_total;
}

/* --- the set a "+feedback" run trains on ----------------------------------- */

typedef struct {
    VEC(uint8_t *) rows;      //  copies of the stored rows, oldest first
    VEC(size_t) lens;
} s_set_t;

static int s_copy_fn(void *arg, const uint8_t *row, size_t len, mlops_err_t *err)
{
    s_set_t *set = arg;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy || vec_push(&set->rows, copy) != 0 || vec_push(&set->lens, len) != 0) {
        free(copy);
        return mlops_err_set(err, MLOPS_ENOMEM, "feedback set: out of memory");
    }
    memcpy(copy, row, len);
    return 0;
}

//  The set's bytes (feedback_io_set_encode) into *out; MLOPS_ENOTFOUND
//  when it has no row.
static int s_set_bytes(broker_t *self, uint8_t **out, size_t *len, mlops_err_t *err)
{
    s_set_t set = {0};
    int rc = store_feedback_scan(self->store, s_copy_fn, &set, err);
    if (rc == 0 && set.rows.len == 0)
        rc = mlops_err_set(err, MLOPS_ENOTFOUND, "the feedback set is empty: no labelled row to join "
                           "(labels reach it through POST /feedback at a gateway given --broker, for "
                           "records of at most 512 bytes: a gateway counts the others as "
                           "mlops_feedback_unkept_total); retrain without +feedback");
    int enc = rc ? 0 : feedback_io_set_encode(self->cfg.target ? self->cfg.target : "",
                                              (const uint8_t *const *)set.rows.at, set.lens.at,
                                              set.rows.len, out, len);
    if (enc)   //  EINVAL: a --target or a row count past the set's format (feedback_io.h)
        rc = mlops_err_set(err, enc, "feedback set: cannot encode %zu rows under target '%.64s': %s",
                           set.rows.len, self->cfg.target ? self->cfg.target : "", mlops_strerror(enc));
    for (size_t i = 0; i < set.rows.len; i++)
        free(set.rows.at[i]);
    vec_free(&set.rows);
    vec_free(&set.lens);
    return rc;
}

int broker_feedback_ref(broker_t *self, const char *source, stage_ref_t *ref, mlops_err_t *err)
{
    source_t s;
    if (source_parse(source, &s, NULL) != 0 || !s.feedback)
        return 0;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = s_set_bytes(self, &bytes, &len, err);
    if (rc == 0)
        rc = store_object_put(self->store, batch_current_txn(self->batch), bytes, len, ref->hash, err);
    ref->size = rc == 0 ? (int64_t)len : 0;
    free(bytes);
    return rc;
}
