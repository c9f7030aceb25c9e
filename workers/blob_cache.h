/*  blob_cache.h: a worker's bounded on-disk cache of blobs by sha256
    (--cache-dir, --cache-size), so two tasks on one host, or the next run
    on the same data, fetch nothing twice.

    One file per blob, named by its hash, written to a temporary name and
    renamed (a reader never sees half a file; several workers may share a
    directory). Recency is the file's mtime, touched on every hit; a put
    that takes the total over the limit removes the least recently used
    files first. Every hit is checked against its name: a file truncated or
    damaged on disk is removed and reported as a miss, so it is fetched
    again.
*/
#ifndef MLOPS_BLOB_CACHE_H
#define MLOPS_BLOB_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "data_client.h"
#include "err.h"

#define BLOB_CACHE_BYTES_DEFAULT ((uint64_t)2 << 30)   //  --cache-size default

typedef struct blob_cache blob_cache_t;

//  Opens (making it 0700 if missing) the cache in dir, keeping at most
//  max_bytes (0 = BLOB_CACHE_BYTES_DEFAULT). NULL with err (errno) when dir
//  cannot be made or written.
blob_cache_t *blob_cache_new(const char *dir, uint64_t max_bytes, mlops_err_t *err);

//  Frees; ignores NULL; sets *p to NULL. The files stay.
void blob_cache_destroy(blob_cache_t **p);

//  The cached bytes of hash as a malloc'd copy. 0, or MLOPS_ENOTFOUND (not
//  cached, or the file failed its hash and was removed: err says which),
//  MLOPS_ENOMEM.
int blob_cache_get(blob_cache_t *self, const char *hash, uint8_t **data, size_t *len,
                   mlops_err_t *err);

//  The cached bytes of hash mapped read-only from their file (*data, *len;
//  blob_cache_unmap them), checked as blob_cache_get checks: for a blob
//  too big to copy, whose pages are then the file's (reclaimable page
//  cache, not the process's anonymous memory). The file may be evicted
//  meanwhile: the mapping stays valid. 0, or MLOPS_ENOTFOUND (not cached,
//  empty, or damaged and removed), an errno with err.
int blob_cache_map(blob_cache_t *self, const char *hash, const uint8_t **data, size_t *len,
                   mlops_err_t *err);

//  Unmaps what blob_cache_map gave; ignores NULL.
void blob_cache_unmap(const uint8_t *data, size_t len);

//  Keeps bytes the caller checked hash to hash, evicting the least recently
//  used files until they fit; a blob over the whole limit is not kept.
//  Returns 0 or an errno with err (the cache is an optimisation: callers
//  may go on without it).
int blob_cache_put(blob_cache_t *self, const char *hash, const uint8_t *data, size_t len,
                   mlops_err_t *err);

//  A blob from the cache, else from the data service through client (and
//  kept). cache may be NULL (no cache). Returns as data_client_fetch.
int blob_cache_fetch(blob_cache_t *self, data_client_t *client, const char *hash, uint8_t **data,
                     size_t *len, mlops_err_t *err);

#endif
