/*  store.h: the broker's LMDB store, the one durable place in the system.

    One environment in a directory (created 0700; data.mdb, lock.mdb and
    store.lock 0600) with named databases: datasets (table bytes by content hash), runs (run_t by id),
    logs (a task attempt's log lines, by task id and attempt; added to an
    existing store when it is opened),
    blobs (stage outputs by task id), versions (version_t by number),
    artifacts (model bytes by version number), audit (audit_t by sequence),
    meta (format marker, counters), feedback and feedback_keys (labelled
    live rows in arrival order, and their keys; added like logs).

    Every write goes through a write transaction; one state change = one
    transaction, so a crash leaves either the old or the new state. Functions
    take a `store_txn_t *txn`: NULL means "in a transaction of its own".

    Caveats:
    - Only the broker opens the store, once: store.lock (flock) makes a
      second store_open of the same directory, from any process or this one,
      fail with EBUSY (LMDB's locks are per process: a second open in one
      process would break them). Do not use a store across fork().
    - Gets with txn NULL and lists run in short read transactions of their
      own and copy out (a long read transaction would pin old pages and grow
      the file). They see the last committed state, never the writes of a
      transaction still open, even on the thread that holds it. A get with
      a txn reads inside that write transaction (LMDB's mdb_get does) and so
      sees its own uncommitted writes: read your writes through the store,
      not through a cache beside it.
    - The map grows by itself (doubling, up to store_options_t.max_bytes):
      store_begin grows it first when more than half is in use, and a write
      with txn NULL that meets a full map grows it and retries. A write inside
      a caller's transaction that meets a full map returns MLOPS_EMAPFULL and
      spoils the transaction: abort it and redo it (the next store_begin
      grows the map until twice that write fits; store_grow doubles it at
      once). At max_bytes the message
      says to raise --store-size.
    - A transaction in which a write failed stays failed: further writes
      return MLOPS_ESTATE and commit refuses; abort it.
    - One write transaction at a time (LMDB's writer lock). store_begin,
      store_grow or a txn NULL write on the thread that holds a transaction
      would wait for itself forever; they assert instead. Reads may come
      from any thread (MDB_NOTLS); growing the map waits for them to end.
    - A write the environment refuses (the disk full, an I/O error, the map
      full at max_bytes) is also kept as the store's fault (store_fault),
      with what to do about it, until a write transaction commits again:
      the broker holds off on it rather than retrying every turn.
    - A directory that holds a different LMDB file, or a damaged one, is
      refused with MLOPS_EFOREIGN / MLOPS_ECORRUPT rather than overwritten.
*/
#ifndef MLOPS_STORE_H
#define MLOPS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "records.h"

typedef struct store store_t;
typedef struct store_txn store_txn_t;

#define STORE_MAP_BYTES_DEFAULT ((size_t)256 << 20) //  initial map when none is asked for

typedef struct {
    size_t map_bytes;   //  initial map size (0 = 256 MiB)
    size_t max_bytes;   //  never grow past this (0 = 64 GiB)
    bool no_sync;       //  no fsync per commit (MDB_NOSYNC): a killed process loses
                        //  nothing committed, an OS crash or power cut may lose the last commits
} store_options_t;

//  Opens (creating if needed) the store in dir. opts may be NULL.
//  Returns NULL with err: errno (EACCES for an unwritable dir, ENOTDIR when
//  dir or a parent is a file, EBUSY when another opener holds it...), MLOPS_EFOREIGN (an LMDB file not ours),
//  MLOPS_EVERSION (ours, another format), MLOPS_ECORRUPT (not LMDB or
//  damaged), MLOPS_EINVAL (empty path), MLOPS_ESTORE.
store_t *store_open(const char *dir, const store_options_t *opts, mlops_err_t *err);

//  Closes the store; ignores NULL; sets *p to NULL. Aborts no open txn: the
//  caller must have ended them.
void store_destroy(store_t **p);

//  Doubles the map size (up to max_bytes) now, e.g. after a caller's
//  transaction failed with MLOPS_EMAPFULL and was aborted. Must be called
//  with no write transaction open. Returns 0, or MLOPS_EMAPFULL
//  at max_bytes (message: raise --store-size), or an LMDB failure.
int store_grow(store_t *self, mlops_err_t *err);

//  The store's fault: 0 while writes are taken, else the code of the last
//  write the environment refused (MLOPS_EMAPFULL at max_bytes, ENOSPC,
//  EDQUOT, EIO, EROFS), err (may be NULL) getting a sentence that starts
//  with the cause and says what to do ("store full: raise --store-size or
//  free space in DIR ..."). A commit clears it. Any thread.
int store_fault(store_t *self, mlops_err_t *err);

//  For tests: from now on every commit fails with code (an errno such as
//  ENOSPC or EIO), nothing of the transaction written, as a full or failing
//  disk would; 0 stops it. Nothing else calls it (tests/test_engine.c,
//  tests/test_store.c).
void store_inject_fault(store_t *self, int code);

//  Current map size in bytes. Call it from the thread that writes.
size_t store_map_bytes(const store_t *self);

//  The growth limit in bytes (store_options_t.max_bytes, or its default).
size_t store_max_bytes(const store_t *self);

//  Bytes of the map in use: pages up to the last one written, as of the
//  last commit (mdb_env_info's me_last_pgno). 0 when LMDB cannot say.
size_t store_used_bytes(const store_t *self);

//  Every write below returns 0 or: MLOPS_EMAPFULL (see Caveats), MLOPS_ESTATE
//  (the transaction already failed), MLOPS_EINVAL (empty or >511-byte key,
//  id 0), MLOPS_ENOMEM, errno (ENOSPC, EIO) or MLOPS_ESTORE. Every get
//  returns 0, MLOPS_ENOTFOUND, MLOPS_ECORRUPT (stored bytes do not decode),
//  MLOPS_ENOMEM or an LMDB failure; err names the record. A get's txn may be
//  NULL (the last commit) or an open write transaction (what it holds so far,
//  its own puts included; MLOPS_ESTATE when a write in it failed).

//  Begins a write transaction. Returns NULL with err on failure.
store_txn_t *store_begin(store_t *self, mlops_err_t *err);
//  Commits and frees the transaction. Returns 0 or an error (the txn is gone
//  either way; on error nothing of it was written).
int store_commit(store_txn_t **p, mlops_err_t *err);
//  Abandons and frees the transaction; ignores NULL.
void store_abort(store_txn_t **p);

//  Datasets: encoded table bytes by hash. get returns a malloc'd copy.
int store_dataset_put(store_t *self, store_txn_t *txn, const char *hash,
                      const uint8_t *data, size_t len, mlops_err_t *err);
int store_dataset_get(store_t *self, store_txn_t *txn, const char *hash, uint8_t **data,
                      size_t *len, mlops_err_t *err);

//  Runs. next_id returns the id the next new run gets (and reserves it in txn).
int store_run_next_id(store_t *self, store_txn_t *txn, uint64_t *id, mlops_err_t *err);
int store_run_put(store_t *self, store_txn_t *txn, const run_t *run, mlops_err_t *err);
int store_run_get(store_t *self, store_txn_t *txn, uint64_t id, run_t *out, mlops_err_t *err);
//  Newest first, at most limit (0 = all); *runs is a malloc'd array of n runs,
//  free with store_runs_free.
int store_run_list(store_t *self, size_t limit, run_t **runs, size_t *n, mlops_err_t *err);
void store_runs_free(run_t **runs, size_t n);

//  Blobs: stage outputs by key (task id). get returns a malloc'd copy.
int store_blob_put(store_t *self, store_txn_t *txn, const char *key,
                   const uint8_t *data, size_t len, mlops_err_t *err);
int store_blob_get(store_t *self, store_txn_t *txn, const char *key, uint8_t **data, size_t *len,
                   mlops_err_t *err);
//  Deletes a blob (stage outputs of old runs need not be kept forever).
//  Returns 0, MLOPS_ENOTFOUND, or a write error as above.
int store_blob_delete(store_t *self, store_txn_t *txn, const char *key, mlops_err_t *err);

//  Task logs: one value per attempt of a task (the broker's encoding of a
//  control_log_t), under "<task_id>#<attempt>"; attempt 1..999. get returns
//  a malloc'd copy. delete_run removes every attempt's log of the run's
//  tasks (task ids start "<run>-") and says how many went.
int store_log_put(store_t *self, store_txn_t *txn, const char *task_id, int attempt,
                  const uint8_t *data, size_t len, mlops_err_t *err);
int store_log_get(store_t *self, store_txn_t *txn, const char *task_id, int attempt, uint8_t **data,
                  size_t *len, mlops_err_t *err);
int store_log_delete_run(store_t *self, store_txn_t *txn, uint64_t run_id, size_t *deleted,
                         mlops_err_t *err);

//  Deletes for retention (--keep-runs, --keep-versions): a run record, a
//  dataset, a version with its artifact. Return 0, MLOPS_ENOTFOUND (nothing
//  was there; the txn stays usable) or a write error as above.
int store_run_delete(store_t *self, store_txn_t *txn, uint64_t id, mlops_err_t *err);
int store_dataset_delete(store_t *self, store_txn_t *txn, const char *hash, mlops_err_t *err);
int store_version_delete(store_t *self, store_txn_t *txn, uint64_t version, mlops_err_t *err);

//  Versions and their artifacts. next_version reserves a number in txn.
int store_version_next(store_t *self, store_txn_t *txn, uint64_t *version, mlops_err_t *err);
int store_version_put(store_t *self, store_txn_t *txn, const version_t *v, mlops_err_t *err);
int store_version_get(store_t *self, store_txn_t *txn, uint64_t version, version_t *out,
                      mlops_err_t *err);
//  Ascending by version; *out malloc'd array of n, caller frees.
int store_version_list(store_t *self, version_t **out, size_t *n, mlops_err_t *err);
int store_artifact_put(store_t *self, store_txn_t *txn, uint64_t version,
                       const uint8_t *data, size_t len, mlops_err_t *err);
//  get: the bytes put for version, else (a version registered from a stage
//  payload by reference) the object named by the version's sha256.
int store_artifact_get(store_t *self, store_txn_t *txn, uint64_t version, uint8_t **data,
                       size_t *len, mlops_err_t *err);

//  Objects: blobs named by the sha256 of their bytes (the data service's,
//  broker/data.h), kept as records of STORE_OBJECT_CHUNK_BYTES under the
//  hash and the chunk's number, and a size record under the hash alone,
//  written last: an object is visible (has a size) only once every chunk is
//  in, so a write cut short leaves nothing anyone can read. Readers copy
//  out of short read transactions, from any thread.
#define STORE_OBJECT_CHUNK_BYTES ((size_t)1 << 20)

//  The size of object hash. 0, MLOPS_ENOTFOUND, MLOPS_EINVAL (not a sha256)
//  or an LMDB failure. txn as for the gets above.
int store_object_size(store_t *self, store_txn_t *txn, const char *hash, uint64_t *total,
                      mlops_err_t *err);
//  Copies len bytes from offset of object hash into buf (and its size into
//  *total). 0, MLOPS_ENOTFOUND, MLOPS_EINVAL (past its end),
//  MLOPS_ECORRUPT (a chunk missing or short) or an LMDB failure.
int store_object_read(store_t *self, const char *hash, uint64_t offset, void *buf, size_t len,
                      uint64_t *total, mlops_err_t *err);
//  The whole object as a malloc'd copy. Returns as store_object_read.
int store_object_get(store_t *self, store_txn_t *txn, const char *hash, uint8_t **data,
                     size_t *len, mlops_err_t *err);
//  Stores data as an object in txn (NULL: its own), naming it by the sha256
//  the store computes (hex into hash). Returns as the writes above.
int store_object_put(store_t *self, store_txn_t *txn, const uint8_t *data, size_t len,
                     char hash[65], mlops_err_t *err);

//  Reads len bytes at offset of the object being written into buf:
//  0 or an error code (an errno).
typedef int (store_source_fn)(void *arg, uint64_t offset, void *buf, size_t len);
//  Stores an object of total bytes read through fn, whose sha256 the caller
//  has checked is hash, in transactions of its own of at most
//  STORE_OBJECT_TXN_BYTES each (so neither memory nor the writer lock is
//  held for a whole large blob), growing the map as needed; the size record
//  goes last. Must not be called by a thread holding a transaction. Returns
//  as the writes above, or fn's code.
#define STORE_OBJECT_TXN_BYTES ((size_t)16 << 20)
int store_object_put_from(store_t *self, const char *hash, uint64_t total, store_source_fn *fn,
                          void *arg, mlops_err_t *err);

//  Object collection: the objects no record in the store names any more.
//  A name is held by a run (its dataset_hash; its source when that names a
//  stored dataset), a version (its artifact's sha256, its dataset) or a
//  stage output in blobs (every ref in it, proto/refs.h). An object still
//  being written (no size record yet: an upload in progress, or one cut
//  short by a crash) is never touched.
typedef struct {
    uint64_t objects;     //  objects removed
    uint64_t bytes;       //  their bytes
    bool more;            //  the bound stopped the walk: more may be unnamed
    int skipped;          //  a record did not decode (this code, err says which): nothing removed
} store_collect_t;
#define STORE_COLLECT_MAX_RECORDS 4096   //  records deleted per call by default (4 GiB of chunks)
//  Removes, in txn (NULL: its own), the complete objects no record in txn
//  names, deleting at most max_records records (0: the default) so that
//  one call stays short; out says what went. Returns as the writes above.
//  A record that does not decode removes nothing and leaves txn usable
//  (out->skipped, with err naming the record).
int store_object_collect(store_t *self, store_txn_t *txn, size_t max_records,
                         store_collect_t *out, mlops_err_t *err);

typedef struct {
    uint64_t objects;     //  complete objects
    uint64_t bytes;       //  their bytes
    uint64_t chunks;      //  chunk records (of complete objects and of writes in progress)
} store_object_stats_t;
//  Counts the objects, in txn or a read transaction of its own.
int store_object_stats(store_t *self, store_txn_t *txn, store_object_stats_t *out,
                       mlops_err_t *err);

//  Feedback: labelled live rows (proto/feedback_io.h bytes) in arrival
//  order, each under its key "<request id>#<index>", and their stats
//  (broker/feedback_store.c keeps the byte cap; these only store).
typedef struct {
    uint64_t rows;          //  rows held
    uint64_t bytes;         //  their row bytes
    uint64_t stored;        //  rows ever stored
    uint64_t duplicate;     //  rows refused as stored already
    uint64_t rotated;       //  rows dropped, oldest first, for the cap
} store_feedback_stats_t;
//  put: 0, MLOPS_ESTATE (the key is stored already: nothing written, the
//  txn stays usable), MLOPS_EINVAL (a key not of 1..255 bytes or starting
//  '#'), or a write error as above.
int store_feedback_put(store_t *self, store_txn_t *txn, const char *key, const uint8_t *row,
                       size_t len, mlops_err_t *err);
//  Deletes the oldest row (and its key): 0 with its row bytes in *bytes,
//  MLOPS_ENOTFOUND (none), or a write error.
int store_feedback_drop_oldest(store_t *self, store_txn_t *txn, size_t *bytes, mlops_err_t *err);
//  The stats (all 0 before the first put) and their update.
int store_feedback_stats_get(store_t *self, store_txn_t *txn, store_feedback_stats_t *out,
                             mlops_err_t *err);
int store_feedback_stats_put(store_t *self, store_txn_t *txn, const store_feedback_stats_t *in,
                             mlops_err_t *err);
//  Calls fn on each row, oldest first, in a read transaction of its own
//  (row borrowed for the call); fn returns 0 to go on, STORE_FEEDBACK_STOP
//  to stop, or an error code that ends the scan and is returned.
#define STORE_FEEDBACK_STOP (-2)
typedef int (store_feedback_fn)(void *arg, const uint8_t *row, size_t len, mlops_err_t *err);
int store_feedback_scan(store_t *self, store_feedback_fn *fn, void *arg, mlops_err_t *err);

//  Audit log: append (seq assigned here) and list ascending.
int store_audit_append(store_t *self, store_txn_t *txn, audit_t *entry, mlops_err_t *err);
int store_audit_list(store_t *self, audit_t **out, size_t *n, mlops_err_t *err);

#endif
