/*  infer_fetch.h: the artifact of a GET_MODEL answer, loaded, for an
    inference worker's feed (infer_feed.h).

    A broker asked with by_hash answers with the registry's sha256 and
    size of the artifact (control_model_ref_t, a claim check): the bytes
    come from the data service (data_client.h), or from the worker's blob
    cache, and are served only when they hash to the registry's sha256 (the
    registry's word is what is trusted, not the data service's, not the
    cache's). An older broker, or a version whose bytes the data service
    does not hold (registered before stage payloads went by reference),
    answers with the bytes inline (control_model_t), checked the same way
    against the sha256 beside them.

    A mismatch is MLOPS_ECORRUPT, err naming both hashes in full; the
    caller keeps serving what it had.
*/
#ifndef MLOPS_INFER_FETCH_H
#define MLOPS_INFER_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blob_cache.h"
#include "control_io.h"
#include "data_client.h"
#include "err.h"
#include "model.h"

//  The model named by ref: from cache (may be NULL) or through client
//  (NULL: MLOPS_ESTATE, no data service configured), checked against
//  ref->sha256 and ref->size, then loaded. Returns the model or NULL with
//  err: MLOPS_ECORRUPT (bytes that are not the registry's: "version 3
//  refused: its artifact hashes to X, the registry's sha256 is Y"),
//  MLOPS_ESTATE, data_client_fetch's codes (MLOPS_ENOTFOUND, MLOPS_ETIMEOUT,
//  MLOPS_EPROTO: a sha256 that is not a blob name, ...), model_load's.
model_t *infer_fetch_ref(data_client_t *client, blob_cache_t *cache, const control_model_ref_t *ref,
                         mlops_err_t *err);

//  The model of a GET_MODEL answer's data (len bytes): a reference (as
//  infer_fetch_ref) or inline bytes. *version is the version loaded and
//  *by_ref says which answer it was. Returns the model or NULL with err:
//  MLOPS_EPROTO (neither answer decodes), MLOPS_ECORRUPT (inline bytes
//  that do not hash to the sha256 beside them, both named), or the codes
//  above.
model_t *infer_fetch_load(data_client_t *client, blob_cache_t *cache, const uint8_t *data,
                          size_t len, int64_t *version, bool *by_ref, mlops_err_t *err);

#endif
