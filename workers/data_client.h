/*  data_client.h: a worker's side of the data service (MLOPS-DATA/1,
    proto/data_io.h): fetch a blob by sha256, upload one and learn its name.

    One DEALER to one data endpoint. Transfers keep DATA_WINDOW requests in
    flight (the zguide's "Transferring files" pattern: the requests are the
    credit), in chunks of DATA_CHUNK_MAX_BYTES. A fetched blob is checked
    against its name before it is handed out; an upload is named by the
    sha256 computed here and is stored only if the service computes the
    same.

    Not thread-safe: one client per thread.

    Fault injection: when the environment has MLOPS_DATA_PUT_EXIT_AFTER=N,
    the process exits (code 3, as if killed) right after sending its N-th
    upload chunk, so a test can cut an upload half-way through; it is
    never set in normal use.
*/
#ifndef MLOPS_DATA_CLIENT_H
#define MLOPS_DATA_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hash.h"

#define DATA_CLIENT_TIMEOUT_MSEC 60000   //  longest wait for one answer

typedef struct data_client data_client_t;

//  Connects to endpoint (CURVE from the environment, as the agent).
//  Returns NULL with err on a bad endpoint or CURVE environment.
data_client_t *data_client_new(const char *endpoint, mlops_err_t *err);

//  Frees; ignores NULL; sets *p to NULL.
void data_client_destroy(data_client_t **p);

//  The endpoint connected to; borrowed.
const char *data_client_endpoint(const data_client_t *self);

//  Fetches blob hash into a malloc'd buffer (*data, *len) the caller frees.
//  Returns 0, MLOPS_ENOTFOUND (the service has no such blob),
//  MLOPS_ECORRUPT (the bytes do not hash to the name), MLOPS_ETIMEOUT
//  (the service is silent), MLOPS_EPROTO (a bad answer), MLOPS_ENOMEM, with
//  err naming the blob.
int data_client_fetch(data_client_t *self, const char *hash, uint8_t **data, size_t *len,
                      mlops_err_t *err);

//  Uploads len bytes and writes their sha256 (the blob's name) into hash.
//  Returns 0, MLOPS_ESTORE (the service refused: its message says why),
//  MLOPS_ETIMEOUT, MLOPS_EPROTO or MLOPS_ENOMEM, with err.
int data_client_put(data_client_t *self, const uint8_t *data, size_t len,
                    char hash[HASH_HEX_LEN + 1], mlops_err_t *err);

//  Waits at most msec (> 0) for each answer from now on, instead of
//  DATA_CLIENT_TIMEOUT_MSEC: a caller with a heartbeat of its own to keep
//  (the inference worker's feed) must not stall a minute on a silent service.
void data_client_set_timeout(data_client_t *self, int msec);

//  Test hook: bytes sent so far by fetches (chunk bytes received) and puts.
uint64_t data_client_fetched_bytes(const data_client_t *self);

#endif
