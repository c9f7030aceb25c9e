/*  feedback_store.h: the feedback set, labelled live rows the gateways
    send (FEEDBACK, proto/feedback_io.h), kept in the store (store.h's
    feedback databases) under a byte cap: when a new row takes the set
    past --feedback-max-bytes the oldest rows go first (rotation, counted).
    A row is named by (request id, index): one stored already is refused
    as a duplicate and counted, the first kept.

    Stored rows are what a run whose source ends in "+feedback" trains on
    besides its source (broker/feedback_store.c also writes them as a
    table for that run's extract).
*/
#ifndef MLOPS_FEEDBACK_STORE_H
#define MLOPS_FEEDBACK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "feedback_io.h"
#include "store.h"

#define FEEDBACK_STORE_MAX_BYTES_DEFAULT ((uint64_t)64 << 20) //  --feedback-max-bytes default (64 MiB)

//  Stores n rows in txn (NULL: one of its own) under the cap max_bytes
//  (0 = the default), answer getting what happened and the set's counts.
//  Returns 0 or a store write error (err says which).
int feedback_store_add(store_t *store, store_txn_t *txn, uint64_t max_bytes,
                       const feedback_io_row_t *rows, size_t n, feedback_io_answer_t *answer,
                       mlops_err_t *err);

//  The set's counts into answer (stored and duplicate 0). Returns 0 or a
//  store error.
int feedback_store_counts(store_t *store, store_txn_t *txn, uint64_t max_bytes,
                          feedback_io_answer_t *answer, mlops_err_t *err);

#endif
