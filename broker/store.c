/*  store.c: the broker's LMDB store.

    One environment, seven named databases. Integer keys (run ids, version
    numbers, audit sequence numbers) are 8-byte big-endian so LMDB's byte
    order is numeric order and "newest run first" is a cursor walk backwards
    from the end. Text keys (dataset hashes, blob keys) are stored as is.

    Writes share one shape, s_write: with a caller's transaction the put goes
    into it; without one the store runs its own transaction and, when the
    map is full, grows the map and tries again until max_bytes. Counters live
    in meta and are bumped inside the same transaction as the record that
    uses them, so a crash never reuses or skips an id.

    The map grows ahead of need at store_begin (past half full) so callers'
    transactions rarely meet a full map. Growing (mdb_env_set_mapsize) needs
    no transaction open in this process; a rwlock held shared by every transaction and exclusively by the
    grow gives that even when readers run on other threads (MDB_NOTLS).
*/
#include "store.h"
#include "vec.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "refs.h"

#define STORE_FORMAT "mlops-store 1"                //  meta "format" value
#define STORE_MAX_BYTES_DEFAULT ((size_t)64 << 30)  //  64 GiB
#define STORE_KEY_MAX_BYTES 511                     //  LMDB's default key limit

typedef enum { DB_DATASETS, DB_RUNS, DB_BLOBS, DB_VERSIONS, DB_ARTIFACTS, DB_AUDIT, DB_META,
               DB_OBJECTS, DB_LOGS, DB_FEEDBACK, DB_FEEDBACK_KEYS, DB_COUNT } s_db_t;
static const char *const s_db_names[DB_COUNT] = {"datasets", "runs",  "blobs", "versions",
                                                 "artifacts", "audit", "meta", "objects", "logs",
                                                 "feedback", "feedback_keys"};
//  Databases added after a store format's first release: an existing store
//  gets them, empty, when it is opened (no format change: nothing old moves).
#define S_DB_ADDED(i) ((i) == DB_OBJECTS || (i) == DB_LOGS || (i) == DB_FEEDBACK || (i) == DB_FEEDBACK_KEYS)

struct store {
    int lock_fd;                  //  store.lock, flock'ed while open; -1 = none
    MDB_env *env;                 //  the environment
    MDB_dbi dbi[DB_COUNT];        //  handles by s_db_t
    char dir[PATH_MAX];           //  store directory, for messages
    size_t map_bytes;             //  current map size
    size_t max_bytes;             //  growth limit
    pthread_rwlock_t grow_lock;   //  shared by transactions, exclusive to grow
    size_t page_bytes;            //  LMDB page size
    _Atomic bool writing;         //  a write transaction of ours is open
    pthread_t writer;             //  the thread that holds it, when writing
    bool grow_pending;            //  a caller's txn met a full map: grow at next begin
    size_t grow_need;             //  bytes of the write that met it (0 = unknown)
    bool no_sync;                 //  store_options_t.no_sync
    pthread_mutex_t fault_lock;   //  guards the two below (the data service writes too)
    mlops_err_t fault;            //  the last write refused by the environment, code 0 = none
    int inject;                   //  store_inject_fault: commits fail with this, 0 = none
};

//  A counter in meta being bumped.
typedef struct {
    const char *name;             //  key in meta: next_run, next_version, next_audit
    uint64_t value;               //  the value handed out
} s_counter_t;

struct store_txn {
    store_t *store;               //  owner
    MDB_txn *txn;                 //  the LMDB write transaction
    int failed;                   //  first error inside it, 0 while healthy
};

//  --- small helpers --------------------------------------------------------

static void s_key_u64(uint8_t buf[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        buf[i] = (uint8_t)v;
}

static uint64_t s_u64_key(const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

//  Formats a size for messages: "256 KiB", "64 MiB".
static const char *s_size_text(size_t bytes, char buf[32])
{
    if (bytes < ((size_t)1 << 20))
        snprintf(buf, 32, "%zu KiB", bytes >> 10);
    else
        snprintf(buf, 32, "%zu MiB", bytes >> 20);
    return buf;
}

//  Turns an LMDB (or errno) code into ours, with a message on what failed.
static int s_fail(store_t *self, int rc, const char *what, mlops_err_t *err)
{
    char size[32];
    switch (rc) {
    case MDB_MAP_FULL:
        return mlops_err_set(err, MLOPS_EMAPFULL, "store %s: map full (%s) during %s",
                             self->dir, s_size_text(self->map_bytes, size), what);
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
        return mlops_err_set(err, MLOPS_ECORRUPT, "store %s/data.mdb is damaged (%s) during %s",
                             self->dir, mdb_strerror(rc), what);
    default:
        if (rc > 0) //  errno passes through: ENOSPC, EIO, EACCES...
            return mlops_err_set(err, rc, "store %s: %s failed: %s", self->dir, what, strerror(rc));
        return mlops_err_set(err, MLOPS_ESTORE, "store %s: %s failed: %s", self->dir, what,
                             mdb_strerror(rc));
    }
}

//  --- faults: writes the environment refuses (store_fault) --------------

//  What an operator does about a refused write, by its cause; NULL when
//  the code is not one (a bad key, a spoilt transaction: our own doing,
//  or a map that may still grow).
static const char *s_fault_advice(const store_t *self, int rc, char *out, size_t size)
{
    switch (rc) {
    case MLOPS_EMAPFULL:
        if (self->map_bytes < self->max_bytes)
            return NULL;
        snprintf(out, size, "store full: raise --store-size or free space in %.160s "
                 "(--keep-runs, --keep-versions)", self->dir);
        return out;
    case ENOSPC:
    case EDQUOT:
        snprintf(out, size, "disk full: free space on the file system of %.160s", self->dir);
        return out;
    case EIO:
        snprintf(out, size, "store I/O error: check the disk under %.160s (dmesg)", self->dir);
        return out;
    case EROFS:
        snprintf(out, size, "store read-only: %.160s is on a read-only file system", self->dir);
        return out;
    default:
        return NULL;
    }
}

//  Notes a failed write (rc, its message in err, which may be NULL) as the
//  store's fault when the environment refused it. Returns rc.
static int s_fault_note(store_t *self, int rc, const mlops_err_t *err)
{
    char advice[MLOPS_ERRMSG_MAX / 2];
    if (!s_fault_advice(self, rc, advice, sizeof advice))
        return rc;
    pthread_mutex_lock(&self->fault_lock);
    mlops_err_set(&self->fault, rc, "%s (%.200s)", advice,
                  err && err->code == rc ? err->msg : mlops_strerror(rc));
    pthread_mutex_unlock(&self->fault_lock);
    return rc;
}

//  A write transaction committed: the environment takes writes again.
static void s_fault_clear(store_t *self)
{
    pthread_mutex_lock(&self->fault_lock);
    mlops_err_clear(&self->fault);
    pthread_mutex_unlock(&self->fault_lock);
}

int store_fault(store_t *self, mlops_err_t *err)
{
    assert(self);
    pthread_mutex_lock(&self->fault_lock);
    int rc = self->fault.code;
    if (rc && err)
        *err = self->fault;
    pthread_mutex_unlock(&self->fault_lock);
    return rc;
}

void store_inject_fault(store_t *self, int code)
{
    assert(self);
    self->inject = code;
}

//  mdb_txn_commit, or, with a fault injected, an abort and that fault.
static int s_txn_commit(store_t *self, MDB_txn *txn)
{
    if (!self->inject)
        return mdb_txn_commit(txn);
    mdb_txn_abort(txn);
    return self->inject;
}

static int s_check_key(const char *key, const char *what, mlops_err_t *err)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > STORE_KEY_MAX_BYTES)
        return mlops_err_set(err, MLOPS_EINVAL, "%s key must be 1..%d bytes, got %zu", what,
                             STORE_KEY_MAX_BYTES, n);
    return 0;
}

//  --- opening --------------------------------------------------------------

//  Makes dir (0700) if missing and checks we may write in it.
//  An existing store another user could write (group or world write, or
//  another owner) is refused, as OpenSSH's StrictModes and PostgreSQL's
//  data directory check do: whoever can write it can forge the registry.
static int s_check_owner(const char *path, const struct stat *st, mlops_err_t *err)
{
    if (st->st_uid != geteuid())
        return mlops_err_set(err, MLOPS_EINVAL,
                             "store %s is owned by uid %u, not by this user (uid %u): refused; "
                             "run the broker as its owner or chown it",
                             path, (unsigned)st->st_uid, (unsigned)geteuid());
    if (st->st_mode & (S_IWGRP | S_IWOTH))
        return mlops_err_set(err, MLOPS_EINVAL,
                             "store %s is writable by group or others (mode %03o): refused; "
                             "chmod go-w %s",
                             path, (unsigned)(st->st_mode & 0777), path);
    return 0;
}

//  The store's own files, when they exist: regular, ours, not writable by others.
static int s_check_files(const char *dir, mlops_err_t *err)
{
    const char *names[] = {"data.mdb", "lock.mdb", "store.lock"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PATH_MAX + 16];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (lstat(path, &st) != 0)
            continue;
        if (!S_ISREG(st.st_mode))
            return mlops_err_set(err, MLOPS_EINVAL, "store file %s is not a regular file: refused",
                                 path);
        int rc = s_check_owner(path, &st, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_prepare_dir(const char *dir, mlops_err_t *err)
{
    if (mkdir(dir, 0700) == 0) {
        chmod(dir, 0700); //  exactly 0700 whatever the umask
        return 0;
    }
    int e = errno;
    if (e != EEXIST) {
        if (e == EACCES)
            return mlops_err_set(err, e, "cannot create store directory %s: permission denied",
                                 dir);
        return mlops_err_set(err, e, "cannot create store directory %s: %s", dir, strerror(e));
    }
    struct stat st;
    if (stat(dir, &st) != 0)
        return mlops_err_set(err, errno, "store directory %s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return mlops_err_set(err, ENOTDIR, "store path %s exists and is not a directory", dir);
    if (eaccess(dir, W_OK | X_OK) != 0)
        return mlops_err_set(err, errno, "store directory %s is not writable (%s)", dir,
                             strerror(errno));
    int rc = s_check_owner(dir, &st, err);
    return rc ? rc : s_check_files(dir, err);
}

//  Takes store.lock so a second opener (another broker, or this process
//  again, which LMDB forbids) is refused instead of sharing the store. The
//  kernel drops the lock when the holder dies, SIGKILL included.
static int s_lock(store_t *self, mlops_err_t *err)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/store.lock", self->dir);
    self->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lock_fd < 0)
        return mlops_err_set(err, errno, "cannot open %s: %s", path, strerror(errno));
    if (flock(self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char holder[24] = "";
        ssize_t n = pread(self->lock_fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strspn(holder, "0123456789")] = '\0';
        if (e == EWOULDBLOCK)
            return mlops_err_set(err, EBUSY, "store %s is in use by another process (pid %s); "
                                 "one broker per store", self->dir, *holder ? holder : "?");
        return mlops_err_set(err, e, "cannot lock %s: %s", path, strerror(e));
    }
    char pid[24];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(self->lock_fd, 0) != 0 || pwrite(self->lock_fd, pid, (size_t)n, 0) != n)
        return mlops_err_set(err, errno, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

//  Opens the environment, mapping LMDB's refusals to our codes.
static int s_open_env(store_t *self, mlops_err_t *err)
{
    int rc = mdb_env_create(&self->env);
    if (rc)
        return s_fail(self, rc, "mdb_env_create", err);
    mdb_env_set_maxdbs(self->env, DB_COUNT);
    mdb_env_set_mapsize(self->env, self->map_bytes);
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/data.mdb", self->dir);
    bool fresh = access(path, F_OK) != 0;
    rc = mdb_env_open(self->env, self->dir, MDB_NOTLS | (self->no_sync ? MDB_NOSYNC : 0), 0600);
    if (rc == 0) {
        if (fresh) { //  exactly 0600 whatever the umask
            chmod(path, 0600);
            snprintf(path, sizeof path, "%s/lock.mdb", self->dir);
            chmod(path, 0600);
        }
        MDB_envinfo info;
        mdb_env_info(self->env, &info);
        self->map_bytes = info.me_mapsize; //  an existing file may be bigger
        MDB_stat st;
        mdb_env_stat(self->env, &st);
        self->page_bytes = st.ms_psize;
        int dead = 0;
        mdb_reader_check(self->env, &dead); //  slots of killed processes
        return 0;
    }
    mdb_env_close(self->env);
    self->env = NULL;
    if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH || rc == MDB_CORRUPTED
        || rc == MDB_PAGE_NOTFOUND)
        return mlops_err_set(err, MLOPS_ECORRUPT,
                             "%s/data.mdb is not a readable LMDB file (%s); move it away or "
                             "use another --store",
                             self->dir, mdb_strerror(rc));
    if (rc == EACCES || rc == EPERM || rc == EROFS)
        return mlops_err_set(err, rc, "store directory %s is not writable (%s)", self->dir,
                             strerror(rc));
    return s_fail(self, rc, "open", err);
}

//  Creates the databases and the marker in a fresh environment.
static int s_create_dbs(store_t *self, MDB_txn *txn, mlops_err_t *err)
{
    for (int i = 0; i < DB_COUNT; i++) {
        int rc = mdb_dbi_open(txn, s_db_names[i], MDB_CREATE, &self->dbi[i]);
        if (rc)
            return s_fail(self, rc, "creating databases", err);
    }
    MDB_val k = {6, "format"}, v = {strlen(STORE_FORMAT), STORE_FORMAT};
    int rc = mdb_put(txn, self->dbi[DB_META], &k, &v, 0);
    return rc ? s_fail(self, rc, "writing the format marker", err) : 0;
}

//  Opens the databases of an existing environment, refusing one not ours.
static int s_check_dbs(store_t *self, MDB_txn *txn, mlops_err_t *err)
{
    int rc = mdb_dbi_open(txn, "meta", 0, &self->dbi[DB_META]);
    MDB_val k = {6, "format"}, v;
    if (rc == 0)
        rc = mdb_get(txn, self->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
        return mlops_err_set(err, MLOPS_EFOREIGN,
                             "%s/data.mdb is an LMDB file but not an mlops store; "
                             "use another --store",
                             self->dir);
    if (rc)
        return s_fail(self, rc, "reading the format marker", err);
    size_t ours = strlen(STORE_FORMAT) - 1; //  "mlops-store " without the number
    if (v.mv_size < ours || memcmp(v.mv_data, STORE_FORMAT, ours) != 0)
        return mlops_err_set(err, MLOPS_EFOREIGN, "%s/data.mdb is not an mlops store", self->dir);
    if (v.mv_size != strlen(STORE_FORMAT) || memcmp(v.mv_data, STORE_FORMAT, v.mv_size) != 0)
        return mlops_err_set(err, MLOPS_EVERSION, "%s/data.mdb has store format \"%.*s\", "
                             "this build reads \"%s\"", self->dir, (int)(v.mv_size < 40 ? v.mv_size : 40),
                             (const char *)v.mv_data, STORE_FORMAT);
    for (int i = 0; i < DB_COUNT; i++) {
        rc = mdb_dbi_open(txn, s_db_names[i], S_DB_ADDED(i) ? MDB_CREATE : 0, &self->dbi[i]);
        if (rc)
            return mlops_err_set(err, MLOPS_ECORRUPT, "%s/data.mdb lacks database \"%s\" (%s)",
                                 self->dir, s_db_names[i], mdb_strerror(rc));
    }
    return 0;
}

//  A fresh environment has an empty main database; anything else must be ours.
static int s_open_dbs(store_t *self, mlops_err_t *err)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        return s_fail(self, rc, "opening databases", err);
    MDB_stat st;
    MDB_dbi main_dbi;
    rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (rc == 0)
        rc = mdb_stat(txn, main_dbi, &st);
    if (rc)
        rc = s_fail(self, rc, "reading the main database", err);
    else if (st.ms_entries == 0)
        rc = s_create_dbs(self, txn, err);
    else
        rc = s_check_dbs(self, txn, err);
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_txn_commit(txn);
    return rc ? s_fail(self, rc, "creating databases", err) : 0;
}

store_t *store_open(const char *dir, const store_options_t *opts, mlops_err_t *err)
{
    if (!dir || !*dir || strlen(dir) >= PATH_MAX - 16) {
        mlops_err_set(err, MLOPS_EINVAL, "store directory path is empty or too long");
        return NULL;
    }
    if (s_prepare_dir(dir, err))
        return NULL;
    store_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory opening store %s", dir);
        return NULL;
    }
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    self->map_bytes = opts && opts->map_bytes ? opts->map_bytes : STORE_MAP_BYTES_DEFAULT;
    self->max_bytes = opts && opts->max_bytes ? opts->max_bytes : STORE_MAX_BYTES_DEFAULT;
    self->no_sync = opts && opts->no_sync;
    if (self->max_bytes < self->map_bytes)
        self->max_bytes = self->map_bytes;
    pthread_rwlock_init(&self->grow_lock, NULL);
    pthread_mutex_init(&self->fault_lock, NULL);
    self->lock_fd = -1;
    if (s_lock(self, err) || s_open_env(self, err) || s_open_dbs(self, err)) {
        store_destroy(&self);
        return NULL;
    }
    return self;
}

void store_destroy(store_t **p)
{
    if (!p || !*p)
        return;
    store_t *self = *p;
    if (self->env)
        mdb_env_close(self->env);
    if (self->lock_fd >= 0)
        close(self->lock_fd); //  releases the flock
    pthread_rwlock_destroy(&self->grow_lock);
    pthread_mutex_destroy(&self->fault_lock);
    free(self);
    *p = NULL;
}

//  --- growing the map ------------------------------------------------------

//  Doubles the map up to max_bytes. Caller holds no transaction of ours.
static int s_grow(store_t *self, mlops_err_t *err)
{
    if (self->map_bytes >= self->max_bytes)
        return mlops_err_set(err, MLOPS_EMAPFULL,
                             "store %s is full at its maximum size of %s; raise --store-size",
                             self->dir, s_size_text(self->max_bytes, (char[32]){0}));
    size_t next = self->map_bytes > self->max_bytes / 2 ? self->max_bytes : self->map_bytes * 2;
    pthread_rwlock_wrlock(&self->grow_lock);
    int rc = mdb_env_set_mapsize(self->env, next);
    if (rc == 0) {
        MDB_envinfo info;
        mdb_env_info(self->env, &info);
        self->map_bytes = info.me_mapsize;
    }
    pthread_rwlock_unlock(&self->grow_lock);
    return rc ? s_fail(self, rc, "growing the map", err) : 0;
}

//  Grows ahead of need, before a write transaction begins (none of ours is
//  open then): until the pages in use fill at most half the map, and, after
//  a write in a caller's transaction met a full map, at least once and
//  until twice that write's size is free. So a caller's transaction rarely
//  meets a full map, and one that did succeeds when redone. At max_bytes it
//  leaves the map alone: writes that still fit keep working.
static void s_grow_ahead(store_t *self)
{
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    size_t used = (info.me_last_pgno + 1) * self->page_bytes;
    size_t need = self->grow_need < SIZE_MAX / 4 ? self->grow_need : SIZE_MAX / 4;
    size_t want = used + (used > 2 * need ? used : 2 * need);
    if (self->grow_pending && self->map_bytes < self->max_bytes)
        s_grow(self, NULL); //  on failure the write reports the full map itself
    while (self->map_bytes < want && self->map_bytes < self->max_bytes)
        if (s_grow(self, NULL))
            break;
    self->grow_pending = false;
    self->grow_need = 0;
}

//  The calling thread must not hold our write transaction: LMDB's writer
//  lock (and our grow lock) would make it wait for itself.
static void s_assert_not_writing(store_t *self)
{
    assert(!(self->writing && pthread_equal(self->writer, pthread_self()))
           && "this thread holds a store transaction: pass it, or end it first");
    (void)self;
}

int store_grow(store_t *self, mlops_err_t *err)
{
    assert(self);
    s_assert_not_writing(self);
    return s_grow(self, err);
}

size_t store_map_bytes(const store_t *self)
{
    assert(self);
    return self->map_bytes;
}

size_t store_max_bytes(const store_t *self)
{
    assert(self);
    return self->max_bytes;
}

size_t store_used_bytes(const store_t *self)
{
    assert(self);
    MDB_envinfo info;
    if (mdb_env_info(self->env, &info) != 0)
        return 0;
    return (info.me_last_pgno + 1) * self->page_bytes;
}

//  --- transactions ---------------------------------------------------------

store_txn_t *store_begin(store_t *self, mlops_err_t *err)
{
    assert(self);
    store_txn_t *t = calloc(1, sizeof *t);
    if (!t) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory beginning a transaction");
        return NULL;
    }
    t->store = self;
    s_assert_not_writing(self);
    s_grow_ahead(self);
    pthread_rwlock_rdlock(&self->grow_lock);
    int rc = mdb_txn_begin(self->env, NULL, 0, &t->txn);
    if (rc) {
        pthread_rwlock_unlock(&self->grow_lock);
        s_fail(self, rc, "beginning a transaction", err);
        free(t);
        return NULL;
    }
    self->writer = pthread_self();
    self->writing = true;
    return t;
}

int store_commit(store_txn_t **p, mlops_err_t *err)
{
    assert(p && *p);
    store_txn_t *t = *p;
    store_t *self = t->store;
    int rc;
    if (t->failed) {
        mdb_txn_abort(t->txn);
        rc = mlops_err_set(err, MLOPS_ESTATE,
                           "transaction not committed: a write in it failed (%s)",
                           mlops_strerror(t->failed));
    } else if ((rc = s_txn_commit(self, t->txn)) != 0) {
        rc = s_fail(self, rc, "commit", err);
        if (rc == MLOPS_EMAPFULL) {
            self->grow_pending = true;
            mlops_err_set(err, rc, "store %s: map full (%s) at commit; redo the "
                          "transaction (the next store_begin grows the map)", self->dir,
                          s_size_text(self->map_bytes, (char[32]){0}));
        }
        s_fault_note(self, rc, err);
    } else
        s_fault_clear(self);
    self->writing = false;
    pthread_rwlock_unlock(&self->grow_lock);
    free(t);
    *p = NULL;
    return rc;
}

void store_abort(store_txn_t **p)
{
    if (!p || !*p)
        return;
    mdb_txn_abort((*p)->txn);
    (*p)->store->writing = false;
    pthread_rwlock_unlock(&(*p)->store->grow_lock);
    free(*p);
    *p = NULL;
}

//  --- the write path -------------------------------------------------------

//  One write operation: does its puts in txn and returns an LMDB code, or
//  a negative code of ours with err set.
typedef int (s_write_fn)(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err);

//  Runs fn in the caller's transaction, or in one of its own (growing the
//  map and retrying while it is full and may still grow). bytes is about
//  what fn writes, so a redone transaction finds room enough.
static int s_write(store_t *self, store_txn_t *txn, const char *what, size_t bytes,
                   s_write_fn *fn, void *arg, mlops_err_t *err)
{
    if (txn) {
        if (txn->failed)
            return mlops_err_set(err, MLOPS_ESTATE,
                                 "%s: the transaction already failed (%s); abort it", what,
                                 mlops_strerror(txn->failed));
        int rc = fn(self, txn->txn, arg, err);
        if (rc == MDB_MAP_FULL) {
            self->grow_pending = true;
            self->grow_need = bytes > self->grow_need ? bytes : self->grow_need;
            //  At the limit no redo can help: say what the operator can do.
            if (self->map_bytes >= self->max_bytes)
                rc = mlops_err_set(err, MLOPS_EMAPFULL,
                                   "store %s is full at its maximum size of %s during %s; "
                                   "raise --store-size",
                                   self->dir, s_size_text(self->max_bytes, (char[32]){0}), what);
            else
                rc = mlops_err_set(err, MLOPS_EMAPFULL,
                                   "store %s: map full (%s) during %s; abort the transaction "
                                   "and redo it (the next store_begin grows the map)",
                                   self->dir, s_size_text(self->map_bytes, (char[32]){0}), what);
        }
        else if (rc > 0 || (rc < 0 && rc > -30900))
            rc = s_fail(self, rc, what, err);
        txn->failed = rc;
        return s_fault_note(self, rc, err);
    }
    for (;;) {
        store_txn_t *own = store_begin(self, err);
        if (!own)
            return err ? err->code : MLOPS_ESTORE;
        int rc = fn(self, own->txn, arg, err);
        if (rc == 0) {
            rc = s_txn_commit(self, own->txn);
            own->txn = NULL;
            if (rc == 0)
                s_fault_clear(self);
        }
        if (own->txn)
            mdb_txn_abort(own->txn);
        self->writing = false;
        pthread_rwlock_unlock(&self->grow_lock);
        free(own);
        if (rc != MDB_MAP_FULL)
            return s_fault_note(self, rc > 0 || (rc < 0 && rc > -30900)
                                          ? s_fail(self, rc, what, err) : rc, err);
        rc = s_grow(self, err);
        if (rc)
            return s_fault_note(self, rc, err);
    }
}

typedef struct {
    s_db_t db;            //  where
    MDB_val key, val;     //  what
} s_put_t;

static int s_put_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    (void)err;
    s_put_t *put = arg;
    return mdb_put(txn, self->dbi[put->db], &put->key, &put->val, 0);
}

static int s_put(store_t *self, store_txn_t *txn, s_db_t db, const void *key, size_t klen,
                 const void *val, size_t vlen, const char *what, mlops_err_t *err)
{
    s_put_t put = {db, {klen, (void *)key}, {vlen, (void *)val}};
    return s_write(self, txn, what, klen + vlen, s_put_fn, &put, err);
}

//  Reads counter name in txn (1 when absent), stores value+1, returns value.
static int s_counter_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    (void)err;
    s_counter_t *c = arg;
    MDB_val k = {strlen(c->name), (void *)c->name}, v;
    int rc = mdb_get(txn, self->dbi[DB_META], &k, &v);
    if (rc == MDB_NOTFOUND)
        c->value = 1;
    else if (rc)
        return rc;
    else if (v.mv_size != 8)
        return mlops_err_set(err, MLOPS_ECORRUPT, "store %s: counter %s has %zu bytes, not 8",
                             self->dir, c->name, v.mv_size);
    else
        c->value = s_u64_key(v.mv_data);
    uint8_t next[8];
    s_key_u64(next, c->value + 1);
    v = (MDB_val){8, next};
    return mdb_put(txn, self->dbi[DB_META], &k, &v, 0);
}

static int s_counter_next(store_t *self, store_txn_t *txn, const char *name, uint64_t *out,
                          mlops_err_t *err)
{
    s_counter_t c = {name, 0};
    int rc = s_write(self, txn, name, 16, s_counter_fn, &c, err);
    if (rc == 0)
        *out = c.value;
    return rc;
}

//  --- the read path --------------------------------------------------------

//  Copies the value under key into a malloc'd buffer (a zero-length value
//  gives a 1-byte allocation so *data is never NULL on success). With txn
//  the read goes through the caller's write transaction (LMDB's mdb_get sees
//  that transaction's own puts); without one, through a short read
//  transaction of its own.
static int s_get(store_t *self, store_txn_t *txn, s_db_t db, const void *key, size_t klen,
                 uint8_t **data, size_t *len, const char *what, mlops_err_t *err)
{
    assert(!txn || txn->store == self);
    if (txn && txn->failed)
        return mlops_err_set(err, MLOPS_ESTATE, "%s: the transaction already failed (%s); abort it",
                             what, mlops_strerror(txn->failed));
    MDB_txn *read = txn ? txn->txn : NULL;
    if (!txn) {
        pthread_rwlock_rdlock(&self->grow_lock);
        int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &read);
        if (rc) {
            pthread_rwlock_unlock(&self->grow_lock);
            return s_fail(self, rc, what, err);
        }
    }
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(read, self->dbi[db], &k, &v);
    if (rc == 0) {
        *data = malloc(v.mv_size ? v.mv_size : 1);
        if (*data) {
            memcpy(*data, v.mv_data, v.mv_size);
            *len = v.mv_size;
        } else
            rc = MLOPS_ENOMEM;
    }
    if (!txn) {
        mdb_txn_abort(read);
        pthread_rwlock_unlock(&self->grow_lock);
    }
    if (rc == MDB_NOTFOUND)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "no %s", what);
    if (rc == MLOPS_ENOMEM)
        return mlops_err_set(err, rc, "out of memory reading %s", what);
    return rc ? s_fail(self, rc, what, err) : 0;
}

//  Called for each value by s_scan; returns 0 to go on, S_SCAN_STOP to stop,
//  or an error code of ours.
#define S_SCAN_STOP (-2) //  neither an errno (> 0) nor an LMDB or mlops code
typedef int (s_scan_fn)(const MDB_val *key, const MDB_val *val, void *arg, mlops_err_t *err);

//  Walks db in key order (or reverse), calling fn on each entry.
static int s_scan(store_t *self, s_db_t db, bool reverse, s_scan_fn *fn, void *arg,
                  mlops_err_t *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    pthread_rwlock_rdlock(&self->grow_lock);
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, self->dbi[db], &cur);
        if (rc)
            mdb_txn_abort(txn);
    }
    if (rc) {
        pthread_rwlock_unlock(&self->grow_lock);
        return s_fail(self, rc, s_db_names[db], err);
    }
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_LAST : MDB_FIRST);
    while (rc == 0) {
        rc = fn(&k, &v, arg, err);
        if (rc)
            break;
        rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&self->grow_lock);
    if (rc == MDB_NOTFOUND || rc == S_SCAN_STOP)
        return 0;
    return rc > 0 || (rc < 0 && rc > -30900) ? s_fail(self, rc, s_db_names[db], err) : rc;
}

//  A growing array of fixed-size records for the list functions.
typedef struct {
    void *items;          //  malloc'd
    size_t n, cap;        //  used, allocated
    size_t item_size;     //  bytes per record
    size_t limit;         //  stop after this many, 0 = all
} s_list_t;

static void *s_list_slot(s_list_t *l)
{
    if (vec_reserve_(&l->items, &l->cap, l->n, 1, l->item_size) != 0)
        return NULL;
    void *slot = (char *)l->items + l->n * l->item_size;
    memset(slot, 0, l->item_size);
    return slot;
}

//  --- datasets and blobs ---------------------------------------------------

int store_dataset_put(store_t *self, store_txn_t *txn, const char *hash, const uint8_t *data,
                      size_t len, mlops_err_t *err)
{
    assert(self);
    int rc = s_check_key(hash, "dataset", err);
    return rc ? rc : s_put(self, txn, DB_DATASETS, hash, strlen(hash), data, len, "dataset put", err);
}

int store_dataset_get(store_t *self, store_txn_t *txn, const char *hash, uint8_t **data,
                      size_t *len, mlops_err_t *err)
{
    assert(self);
    int rc = s_check_key(hash, "dataset", err);
    if (rc)
        return rc;
    rc = s_get(self, txn, DB_DATASETS, hash, strlen(hash), data, len, "dataset", err);
    if (rc == MLOPS_ENOTFOUND)
        mlops_err_set(err, rc, "no dataset %.80s", hash);
    return rc;
}

int store_blob_put(store_t *self, store_txn_t *txn, const char *key, const uint8_t *data,
                   size_t len, mlops_err_t *err)
{
    assert(self);
    int rc = s_check_key(key, "blob", err);
    return rc ? rc : s_put(self, txn, DB_BLOBS, key, strlen(key), data, len, "blob put", err);
}

int store_blob_get(store_t *self, store_txn_t *txn, const char *key, uint8_t **data, size_t *len,
                   mlops_err_t *err)
{
    assert(self);
    int rc = s_check_key(key, "blob", err);
    if (rc)
        return rc;
    rc = s_get(self, txn, DB_BLOBS, key, strlen(key), data, len, "blob", err);
    if (rc == MLOPS_ENOTFOUND)
        mlops_err_set(err, rc, "no blob %.80s", key);
    return rc;
}

typedef struct {
    s_db_t db;            //  where
    MDB_val key;          //  what
    bool found;           //  the key was there
} s_del_t;

//  A missing key is not a failed write: it leaves the txn usable and says
//  so through found.
static int s_del_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    (void)err;
    s_del_t *del = arg;
    int rc = mdb_del(txn, self->dbi[del->db], &del->key, NULL);
    del->found = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Deletes key from db in txn: 0, MLOPS_ENOTFOUND (nothing written), or a
//  write error.
static int s_delete(store_t *self, store_txn_t *txn, s_db_t db, const void *key, size_t klen,
                    const char *what, mlops_err_t *err)
{
    s_del_t del = {db, {klen, (void *)key}, false};
    int rc = s_write(self, txn, what, 64, s_del_fn, &del, err);
    if (rc == 0 && !del.found)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "no %s to delete", what);
    return rc;
}

int store_blob_delete(store_t *self, store_txn_t *txn, const char *key, mlops_err_t *err)
{
    assert(self);
    int rc = s_check_key(key, "blob", err);
    if (rc)
        return rc;
    rc = s_delete(self, txn, DB_BLOBS, key, strlen(key), "blob", err);
    return rc == MLOPS_ENOTFOUND ? mlops_err_set(err, rc, "no blob %.80s", key) : rc;
}

int store_dataset_delete(store_t *self, store_txn_t *txn, const char *hash, mlops_err_t *err)
{
    assert(self);
    int rc = s_check_key(hash, "dataset", err);
    return rc ? rc : s_delete(self, txn, DB_DATASETS, hash, strlen(hash), "dataset", err);
}

int store_run_delete(store_t *self, store_txn_t *txn, uint64_t id, mlops_err_t *err)
{
    assert(self);
    uint8_t key[8];
    s_key_u64(key, id);
    return s_delete(self, txn, DB_RUNS, key, sizeof key, "run", err);
}

int store_version_delete(store_t *self, store_txn_t *txn, uint64_t version, mlops_err_t *err)
{
    assert(self);
    uint8_t key[8];
    s_key_u64(key, version);
    int rc = s_delete(self, txn, DB_VERSIONS, key, sizeof key, "version", err);
    if (rc == 0) {
        rc = s_delete(self, txn, DB_ARTIFACTS, key, sizeof key, "artifact", err);
        rc = rc == MLOPS_ENOTFOUND ? 0 : rc;
    }
    return rc;
}

//  --- task logs --------------------------------------------------------------

//  "<task_id>#<attempt, 3 digits>": one run's keys share the prefix "<run>-".
static int s_log_key(char *key, size_t size, const char *task_id, int attempt, mlops_err_t *err)
{
    int rc = s_check_key(task_id, "log", err);
    if (rc == 0 && (attempt < 1 || attempt > 999))
        rc = mlops_err_set(err, MLOPS_EINVAL, "log attempt %d outside 1..999", attempt);
    if (rc == 0 && (size_t)snprintf(key, size, "%s#%03d", task_id, attempt) >= size)
        rc = mlops_err_set(err, MLOPS_EINVAL, "log key too long for task %.80s", task_id);
    return rc;
}

int store_log_put(store_t *self, store_txn_t *txn, const char *task_id, int attempt,
                  const uint8_t *data, size_t len, mlops_err_t *err)
{
    assert(self);
    char key[STORE_KEY_MAX_BYTES + 1];
    int rc = s_log_key(key, sizeof key, task_id, attempt, err);
    return rc ? rc : s_put(self, txn, DB_LOGS, key, strlen(key), data, len, "log put", err);
}

int store_log_get(store_t *self, store_txn_t *txn, const char *task_id, int attempt, uint8_t **data,
                  size_t *len, mlops_err_t *err)
{
    assert(self);
    char key[STORE_KEY_MAX_BYTES + 1];
    int rc = s_log_key(key, sizeof key, task_id, attempt, err);
    if (rc == 0)
        rc = s_get(self, txn, DB_LOGS, key, strlen(key), data, len, "log", err);
    if (rc == MLOPS_ENOTFOUND)
        mlops_err_set(err, rc, "no log of %.80s attempt %d", task_id, attempt);
    return rc;
}

typedef struct {
    char prefix[32];      //  "<run>-"
    size_t deleted;       //  entries gone
} s_log_del_t;

static int s_log_delete_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    (void)err;
    s_log_del_t *del = arg;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->dbi[DB_LOGS], &cur);
    if (rc)
        return rc;
    size_t n = strlen(del->prefix);
    MDB_val k = {n, del->prefix}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= n && memcmp(k.mv_data, del->prefix, n) == 0) {
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        del->deleted++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
        if (rc == EINVAL || rc == MDB_NOTFOUND)   //  deleted the last entry
            break;
        if (rc == 0 && (k.mv_size < n || memcmp(k.mv_data, del->prefix, n) != 0))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc;
}

int store_log_delete_run(store_t *self, store_txn_t *txn, uint64_t run_id, size_t *deleted,
                         mlops_err_t *err)
{
    assert(self);
    s_log_del_t del = {.deleted = 0};
    snprintf(del.prefix, sizeof del.prefix, "%llu-", (unsigned long long)run_id);
    int rc = s_write(self, txn, "log delete", 64, s_log_delete_fn, &del, err);
    if (deleted)
        *deleted = rc ? 0 : del.deleted;
    return rc;
}

//  --- runs -------------------------------------------------------------------

int store_run_next_id(store_t *self, store_txn_t *txn, uint64_t *id, mlops_err_t *err)
{
    assert(self && id);
    return s_counter_next(self, txn, "next_run", id, err);
}

int store_run_put(store_t *self, store_txn_t *txn, const run_t *run, mlops_err_t *err)
{
    assert(self && run);
    if (run->id == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "run id 0 is not a run");
    uint8_t key[8], *bytes;
    size_t len;
    s_key_u64(key, run->id);
    if (run_encode(run, &bytes, &len))
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory encoding run %llu",
                             (unsigned long long)run->id);
    int rc = s_put(self, txn, DB_RUNS, key, 8, bytes, len, "run put", err);
    free(bytes);
    return rc;
}

//  Decodes a stored record, turning a decode failure into ECORRUPT.
static int s_decode_stored(int rc, const char *what, uint64_t id, mlops_err_t *err)
{
    if (rc == 0 || rc == MLOPS_ENOMEM)
        return rc;
    char why[MLOPS_ERRMSG_MAX];
    snprintf(why, sizeof why, "%s", mlops_err_text(err, rc));
    return mlops_err_set(err, MLOPS_ECORRUPT, "%s %llu in the store does not decode: %.400s",
                         what, (unsigned long long)id, why);
}

int store_run_get(store_t *self, store_txn_t *txn, uint64_t id, run_t *out, mlops_err_t *err)
{
    assert(self && out);
    uint8_t key[8], *bytes;
    size_t len;
    s_key_u64(key, id);
    memset(out, 0, sizeof *out);
    int rc = s_get(self, txn, DB_RUNS, key, 8, &bytes, &len, "run", err);
    if (rc == MLOPS_ENOTFOUND)
        return mlops_err_set(err, rc, "no run %llu", (unsigned long long)id);
    if (rc)
        return rc;
    rc = s_decode_stored(run_decode(bytes, len, out, err), "run", id, err);
    free(bytes);
    return rc;
}

static int s_run_scan_fn(const MDB_val *key, const MDB_val *val, void *arg, mlops_err_t *err)
{
    s_list_t *l = arg;
    if (l->limit && l->n >= l->limit)
        return S_SCAN_STOP;
    run_t *slot = s_list_slot(l);
    if (!slot)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory listing runs");
    uint64_t id = key->mv_size == 8 ? s_u64_key(key->mv_data) : 0;
    int rc = s_decode_stored(run_decode(val->mv_data, val->mv_size, slot, err), "run", id, err);
    if (rc == 0)
        l->n++;
    return rc;
}

int store_run_list(store_t *self, size_t limit, run_t **runs, size_t *n, mlops_err_t *err)
{
    assert(self && runs && n);
    s_list_t l = {NULL, 0, 0, sizeof(run_t), limit};
    int rc = s_scan(self, DB_RUNS, true, s_run_scan_fn, &l, err);
    if (rc) {
        store_runs_free((run_t **)&l.items, l.n);
        return rc;
    }
    *runs = l.items;
    *n = l.n;
    return 0;
}

void store_runs_free(run_t **runs, size_t n)
{
    if (!runs || !*runs)
        return;
    for (size_t i = 0; i < n; i++)
        run_clear(&(*runs)[i]);
    free(*runs);
    *runs = NULL;
}

//  --- versions and artifacts ------------------------------------------------

int store_version_next(store_t *self, store_txn_t *txn, uint64_t *version, mlops_err_t *err)
{
    assert(self && version);
    return s_counter_next(self, txn, "next_version", version, err);
}

int store_version_put(store_t *self, store_txn_t *txn, const version_t *v, mlops_err_t *err)
{
    assert(self && v);
    if (v->version == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "version 0 is not a version");
    uint8_t key[8], *bytes;
    size_t len;
    s_key_u64(key, v->version);
    if (version_encode(v, &bytes, &len))
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory encoding version %llu",
                             (unsigned long long)v->version);
    int rc = s_put(self, txn, DB_VERSIONS, key, 8, bytes, len, "version put", err);
    free(bytes);
    return rc;
}

int store_version_get(store_t *self, store_txn_t *txn, uint64_t version, version_t *out,
                      mlops_err_t *err)
{
    assert(self && out);
    uint8_t key[8], *bytes;
    size_t len;
    s_key_u64(key, version);
    memset(out, 0, sizeof *out);
    int rc = s_get(self, txn, DB_VERSIONS, key, 8, &bytes, &len, "version", err);
    if (rc == MLOPS_ENOTFOUND)
        return mlops_err_set(err, rc, "no version %llu", (unsigned long long)version);
    if (rc)
        return rc;
    rc = s_decode_stored(version_decode(bytes, len, out, err), "version", version, err);
    free(bytes);
    return rc;
}

static int s_version_scan_fn(const MDB_val *key, const MDB_val *val, void *arg,
                             mlops_err_t *err)
{
    s_list_t *l = arg;
    version_t *slot = s_list_slot(l);
    if (!slot)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory listing versions");
    uint64_t id = key->mv_size == 8 ? s_u64_key(key->mv_data) : 0;
    int rc = s_decode_stored(version_decode(val->mv_data, val->mv_size, slot, err), "version",
                             id, err);
    if (rc == 0)
        l->n++;
    return rc;
}

int store_version_list(store_t *self, version_t **out, size_t *n, mlops_err_t *err)
{
    assert(self && out && n);
    s_list_t l = {NULL, 0, 0, sizeof(version_t), 0};
    int rc = s_scan(self, DB_VERSIONS, false, s_version_scan_fn, &l, err);
    if (rc) {
        free(l.items);
        return rc;
    }
    *out = l.items;
    *n = l.n;
    return 0;
}

int store_artifact_put(store_t *self, store_txn_t *txn, uint64_t version, const uint8_t *data,
                       size_t len, mlops_err_t *err)
{
    assert(self);
    if (version == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "version 0 is not a version");
    uint8_t key[8];
    s_key_u64(key, version);
    return s_put(self, txn, DB_ARTIFACTS, key, 8, data, len, "artifact put", err);
}

int store_artifact_get(store_t *self, store_txn_t *txn, uint64_t version, uint8_t **data,
                       size_t *len, mlops_err_t *err)
{
    assert(self);
    uint8_t key[8];
    s_key_u64(key, version);
    int rc = s_get(self, txn, DB_ARTIFACTS, key, 8, data, len, "artifact", err);
    version_t v;
    //  since stage payloads by reference, a version's artifact is the
    //  object named by its sha256; older versions have their bytes here
    if (rc == MLOPS_ENOTFOUND && (rc = store_version_get(self, txn, version, &v, err)) == 0)
        rc = store_object_get(self, txn, v.sha256, data, len, err);
    if (rc == MLOPS_ENOTFOUND)
        mlops_err_set(err, rc, "no artifact for version %llu", (unsigned long long)version);
    return rc;
}

//  --- audit -------------------------------------------------------------------

typedef struct {
    audit_t *entry;       //  seq is filled in
} s_audit_arg_t;

static int s_audit_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    s_audit_arg_t *a = arg;
    s_counter_t c = {"next_audit", 0};
    int rc = s_counter_fn(self, txn, &c, err);
    if (rc)
        return rc;
    a->entry->seq = c.value;
    uint8_t key[8], *bytes;
    size_t len;
    s_key_u64(key, c.value);
    if (audit_encode(a->entry, &bytes, &len))
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory encoding an audit entry");
    MDB_val k = {8, key}, v = {len, bytes};
    rc = mdb_put(txn, self->dbi[DB_AUDIT], &k, &v, 0);
    free(bytes);
    return rc;
}

int store_audit_append(store_t *self, store_txn_t *txn, audit_t *entry, mlops_err_t *err)
{
    assert(self && entry);
    s_audit_arg_t a = {entry};
    return s_write(self, txn, "audit append", sizeof(audit_t), s_audit_fn, &a, err);
}

static int s_audit_scan_fn(const MDB_val *key, const MDB_val *val, void *arg, mlops_err_t *err)
{
    s_list_t *l = arg;
    audit_t *slot = s_list_slot(l);
    if (!slot)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory listing the audit log");
    uint64_t id = key->mv_size == 8 ? s_u64_key(key->mv_data) : 0;
    int rc = s_decode_stored(audit_decode(val->mv_data, val->mv_size, slot, err), "audit entry",
                             id, err);
    if (rc == 0)
        l->n++;
    return rc;
}

int store_audit_list(store_t *self, audit_t **out, size_t *n, mlops_err_t *err)
{
    assert(self && out && n);
    s_list_t l = {NULL, 0, 0, sizeof(audit_t), 0};
    int rc = s_scan(self, DB_AUDIT, false, s_audit_scan_fn, &l, err);
    if (rc) {
        free(l.items);
        return rc;
    }
    *out = l.items;
    *n = l.n;
    return 0;
}

//  --- objects: blobs by sha256, in chunk records -------------------------

#define S_OBJECT_KEY_BYTES (HASH_HEX_LEN + 8) //  the hash, then the chunk's number

static int s_object_name(const char *hash, mlops_err_t *err)
{
    size_t n = hash ? strlen(hash) : 0;
    bool hex = n == HASH_HEX_LEN;
    for (size_t i = 0; hex && i < n; i++)
        hex = (hash[i] >= '0' && hash[i] <= '9') || (hash[i] >= 'a' && hash[i] <= 'f');
    return hex ? 0 : mlops_err_set(err, MLOPS_EINVAL, "object name is not a sha256 in hex");
}

static void s_chunk_key(uint8_t key[S_OBJECT_KEY_BYTES], const char *hash, uint64_t index)
{
    memcpy(key, hash, HASH_HEX_LEN);
    s_key_u64(key + HASH_HEX_LEN, index);
}

//  The size record of hash in read (a transaction of either kind).
static int s_object_size_in(store_t *self, MDB_txn *read, const char *hash, uint64_t *total)
{
    MDB_val k = {HASH_HEX_LEN, (void *)hash}, v;
    int rc = mdb_get(read, self->dbi[DB_OBJECTS], &k, &v);
    if (rc == 0 && v.mv_size != 8)
        return MLOPS_ECORRUPT;
    if (rc == 0)
        *total = s_u64_key(v.mv_data);
    return rc;
}

//  Copies [offset, offset + len) of the object out of its chunk records.
static int s_object_copy(store_t *self, MDB_txn *read, const char *hash, uint64_t offset,
                         uint8_t *buf, size_t len)
{
    while (len > 0) {
        uint8_t key[S_OBJECT_KEY_BYTES];
        s_chunk_key(key, hash, offset / STORE_OBJECT_CHUNK_BYTES);
        size_t within = (size_t)(offset % STORE_OBJECT_CHUNK_BYTES);
        MDB_val k = {sizeof key, key}, v;
        int rc = mdb_get(read, self->dbi[DB_OBJECTS], &k, &v);
        if (rc)
            return rc == MDB_NOTFOUND ? MLOPS_ECORRUPT : rc;
        if (v.mv_size <= within)
            return MLOPS_ECORRUPT;
        size_t n = v.mv_size - within < len ? v.mv_size - within : len;
        memcpy(buf, (uint8_t *)v.mv_data + within, n);
        buf += n, offset += n, len -= n;
    }
    return 0;
}

//  Runs fn in txn's LMDB transaction or a short read transaction.
typedef int (s_object_fn)(store_t *self, MDB_txn *read, void *arg);
static int s_object_read_in(store_t *self, store_txn_t *txn, s_object_fn *fn, void *arg)
{
    if (txn)
        return txn->failed ? MLOPS_ESTATE : fn(self, txn->txn, arg);
    MDB_txn *read;
    pthread_rwlock_rdlock(&self->grow_lock);
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &read);
    if (rc == 0) {
        rc = fn(self, read, arg);
        mdb_txn_abort(read);
    }
    pthread_rwlock_unlock(&self->grow_lock);
    return rc;
}

typedef struct {
    const char *hash;
    uint64_t offset, total;
    uint8_t *buf;         //  NULL: malloc the whole object here
    size_t len;
} s_object_read_t;

static int s_object_read_fn(store_t *self, MDB_txn *read, void *arg)
{
    s_object_read_t *r = arg;
    int rc = s_object_size_in(self, read, r->hash, &r->total);
    if (rc)
        return rc;
    if (!r->buf) {   //  the whole object
        if (r->total > SIZE_MAX - 1 || !(r->buf = malloc(r->total ? (size_t)r->total : 1)))
            return MLOPS_ENOMEM;
        r->len = (size_t)r->total;
    }
    if (r->offset > r->total || r->len > r->total - r->offset)
        return MLOPS_EINVAL;
    return s_object_copy(self, read, r->hash, r->offset, r->buf, r->len);
}

//  Names what a read of an object met.
static int s_object_error(store_t *self, int rc, const char *hash, mlops_err_t *err)
{
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return mlops_err_set(err, MLOPS_ENOTFOUND, "no object %.12s", hash);
    case MLOPS_EINVAL: return mlops_err_set(err, rc, "object %.12s: read past its end", hash);
    case MLOPS_ECORRUPT:
        return mlops_err_set(err, rc, "object %.12s: a chunk is missing or short", hash);
    case MLOPS_ENOMEM: return mlops_err_set(err, rc, "out of memory reading object %.12s", hash);
    case MLOPS_ESTATE:
        return mlops_err_set(err, rc, "object %.12s: the transaction already failed", hash);
    default: return s_fail(self, rc, "object", err);
    }
}

static int s_object_size_fn(store_t *self, MDB_txn *read, void *arg)
{
    s_object_read_t *r = arg;
    return s_object_size_in(self, read, r->hash, &r->total);
}

int store_object_size(store_t *self, store_txn_t *txn, const char *hash, uint64_t *total,
                      mlops_err_t *err)
{
    assert(self);
    s_object_read_t r = {.hash = hash};
    int rc = s_object_name(hash, err);
    if (rc)
        return rc;
    rc = s_object_read_in(self, txn, s_object_size_fn, &r);
    if (rc == 0)
        *total = r.total;
    return s_object_error(self, rc, hash, err);
}

int store_object_read(store_t *self, const char *hash, uint64_t offset, void *buf, size_t len,
                      uint64_t *total, mlops_err_t *err)
{
    assert(self && (buf || len == 0));
    s_object_read_t r = {.hash = hash, .offset = offset, .buf = buf ? buf : (uint8_t *)"", .len = len};
    int rc = s_object_name(hash, err);
    if (rc)
        return rc;
    rc = s_object_read_in(self, NULL, s_object_read_fn, &r);
    *total = r.total;
    return s_object_error(self, rc, hash, err);
}

int store_object_get(store_t *self, store_txn_t *txn, const char *hash, uint8_t **data,
                     size_t *len, mlops_err_t *err)
{
    assert(self);
    s_object_read_t r = {.hash = hash};
    int rc = s_object_name(hash, err);
    if (rc)
        return rc;
    rc = s_object_read_in(self, txn, s_object_read_fn, &r);
    if (rc) {
        free(r.buf);
        return s_object_error(self, rc, hash, err);
    }
    *data = r.buf;
    *len = r.len;
    return 0;
}

//  One transaction's worth of an object being written: chunks [first, end)
//  and, with last, the size record.
typedef struct {
    const char *hash;
    uint64_t total;
    uint64_t first, end;   //  chunk numbers
    bool last;             //  write the size record too
    store_source_fn *fn;
    void *arg;
    int source_rc;         //  what fn said, when it failed
} s_object_put_t;

static int s_object_put_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    s_object_put_t *p = arg;
    for (uint64_t i = p->first; i < p->end; i++) {
        uint64_t off = i * STORE_OBJECT_CHUNK_BYTES;
        size_t n = p->total - off < STORE_OBJECT_CHUNK_BYTES ? (size_t)(p->total - off)
                                                             : STORE_OBJECT_CHUNK_BYTES;
        uint8_t key[S_OBJECT_KEY_BYTES];
        s_chunk_key(key, p->hash, i);
        MDB_val k = {sizeof key, key}, v = {n, NULL};
        //  MDB_RESERVE: the bytes are read straight into the page, no copy
        int rc = mdb_put(txn, self->dbi[DB_OBJECTS], &k, &v, MDB_RESERVE);
        if (rc)
            return rc;
        //  a code of ours, so s_write keeps the message; put_from returns source_rc
        if ((p->source_rc = p->fn(p->arg, off, v.mv_data, n)) != 0)
            return mlops_err_set(err, MLOPS_ESTORE, "object %.12s: reading its bytes: %s", p->hash,
                                 mlops_strerror(p->source_rc));
    }
    if (!p->last)
        return 0;
    uint8_t size[8];
    s_key_u64(size, p->total);
    MDB_val k = {HASH_HEX_LEN, (void *)p->hash}, v = {8, size};
    return mdb_put(txn, self->dbi[DB_OBJECTS], &k, &v, 0);
}

int store_object_put_from(store_t *self, const char *hash, uint64_t total, store_source_fn *fn,
                          void *arg, mlops_err_t *err)
{
    assert(self && fn);
    s_assert_not_writing(self);
    int rc = s_object_name(hash, err);
    uint64_t chunks = (total + STORE_OBJECT_CHUNK_BYTES - 1) / STORE_OBJECT_CHUNK_BYTES;
    uint64_t per_txn = STORE_OBJECT_TXN_BYTES / STORE_OBJECT_CHUNK_BYTES;
    s_object_put_t p = {.hash = hash, .total = total, .fn = fn, .arg = arg};
    for (p.first = 0; rc == 0 && (p.first < chunks || p.first == 0); p.first = p.end) {
        p.end = p.first + per_txn < chunks ? p.first + per_txn : chunks;
        p.last = p.end == chunks;
        size_t bytes = (size_t)((p.end - p.first) * STORE_OBJECT_CHUNK_BYTES) + 64;
        rc = s_write(self, NULL, "object put", bytes, s_object_put_fn, &p, err);
        if (p.last)
            break;
    }
    return rc && p.source_rc ? p.source_rc : rc;
}

typedef struct {
    const uint8_t *data;
} s_memory_source_t;

static int s_memory_source_fn(void *arg, uint64_t offset, void *buf, size_t len)
{
    memcpy(buf, ((s_memory_source_t *)arg)->data + offset, len);
    return 0;
}

int store_object_put(store_t *self, store_txn_t *txn, const uint8_t *data, size_t len,
                     char hash[65], mlops_err_t *err)
{
    assert(self && (data || len == 0));
    hash_sha256_hex(data, len, hash);
    s_memory_source_t src = {data};
    uint64_t chunks = (len + STORE_OBJECT_CHUNK_BYTES - 1) / STORE_OBJECT_CHUNK_BYTES;
    s_object_put_t p = {.hash = hash, .total = len, .first = 0, .end = chunks, .last = true,
                        .fn = s_memory_source_fn, .arg = &src};
    return s_write(self, txn, "object put", len + 64, s_object_put_fn, &p, err);
}

//  --- object collection ------------------------------------------------------

//  Runs fn on every entry of db in txn, in key order.
static int s_walk_db(store_t *self, MDB_txn *txn, s_db_t db, s_scan_fn *fn, void *arg,
                     mlops_err_t *err)
{
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, self->dbi[db], &cur);
    MDB_val k, v;
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
        if ((rc = fn(&k, &v, arg, err)) != 0)
            break;
    if (cur)
        mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

typedef struct {
    char (*names)[HASH_HEX_LEN + 1];  //  sorted once complete
    size_t n, cap;
} s_names_t;

static int s_names_add(void *arg, const char hash[HASH_HEX_LEN + 1])
{
    s_names_t *s = arg;
    if (s_object_name(hash, NULL) != 0)
        return 0;   //  "" (none yet) or not a name: holds nothing
    if (vec_reserve_((void **)&s->names, &s->cap, s->n, 1, sizeof *s->names))
        return MLOPS_ENOMEM;
    memcpy(s->names[s->n++], hash, HASH_HEX_LEN + 1);
    return 0;
}

static int s_name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

//  A run names its dataset, and the stored dataset its source names
//  (dataset:HASH or a bare hash) while it is queued.
static int s_run_names_fn(const MDB_val *key, const MDB_val *val, void *arg, mlops_err_t *err)
{
    run_t run;
    int rc = s_decode_stored(run_decode(val->mv_data, val->mv_size, &run, err), "run",
                             key->mv_size == 8 ? s_u64_key(key->mv_data) : 0, err);
    if (rc)
        return rc;
    const char *src = strncmp(run.source, "dataset:", 8) == 0 ? run.source + 8 : run.source;
    char name[HASH_HEX_LEN + 1] = "";
    if (strlen(src) == HASH_HEX_LEN)
        memcpy(name, src, sizeof name);
    rc = s_names_add(arg, run.dataset_hash);
    rc = rc ? rc : s_names_add(arg, name);
    run_clear(&run);
    return rc;
}

static int s_version_names_fn(const MDB_val *key, const MDB_val *val, void *arg, mlops_err_t *err)
{
    version_t v;
    int rc = s_decode_stored(version_decode(val->mv_data, val->mv_size, &v, err), "version",
                             key->mv_size == 8 ? s_u64_key(key->mv_data) : 0, err);
    rc = rc ? rc : s_names_add(arg, v.sha256);
    return rc ? rc : s_names_add(arg, v.dataset_hash);
}

static int s_output_names_fn(const MDB_val *key, const MDB_val *val, void *arg, mlops_err_t *err)
{
    (void)key;
    return refs_find(val->mv_data, val->mv_size, s_names_add, arg, err);
}

//  Every object name the records in txn hold, sorted.
static int s_names_in(store_t *self, MDB_txn *txn, s_names_t *names, mlops_err_t *err)
{
    int rc = s_walk_db(self, txn, DB_RUNS, s_run_names_fn, names, err);
    rc = rc ? rc : s_walk_db(self, txn, DB_VERSIONS, s_version_names_fn, names, err);
    rc = rc ? rc : s_walk_db(self, txn, DB_BLOBS, s_output_names_fn, names, err);
    if (rc == 0 && names->n)
        qsort(names->names, names->n, sizeof *names->names, s_name_cmp);
    return rc;
}

typedef struct {
    size_t max_records;            //  records deleted at most
    store_collect_t *out;
} s_collect_t;

//  Deletes object hash of total bytes: its chunk records, then its size.
static int s_object_drop(store_t *self, MDB_txn *txn, const char *hash, uint64_t total)
{
    uint64_t chunks = (total + STORE_OBJECT_CHUNK_BYTES - 1) / STORE_OBJECT_CHUNK_BYTES;
    int rc = 0;
    for (uint64_t i = 0; i < chunks && rc == 0; i++) {
        uint8_t key[S_OBJECT_KEY_BYTES];
        s_chunk_key(key, hash, i);
        MDB_val k = {sizeof key, key};
        rc = mdb_del(txn, self->dbi[DB_OBJECTS], &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    MDB_val k = {HASH_HEX_LEN, (void *)hash};
    return rc ? rc : mdb_del(txn, self->dbi[DB_OBJECTS], &k, NULL);
}

//  Walks the size records (an object without one is still being written:
//  never touched) and drops those no record names, within the bound.
static int s_collect_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    s_collect_t *c = arg;
    s_names_t names = {0};
    int rc = s_names_in(self, txn, &names, err);
    if (rc <= MLOPS_EPROTO && rc > MLOPS_EPROTO - 100) {   //  ours, not LMDB's: keep everything
        c->out->skipped = rc;
        free(names.names);
        return 0;
    }
    MDB_cursor *cur = NULL;
    rc = rc ? rc : mdb_cursor_open(txn, self->dbi[DB_OBJECTS], &cur);
    MDB_val k, v;
    size_t records = 0;
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;) {
        char hash[HASH_HEX_LEN + 1];
        memcpy(hash, k.mv_data, HASH_HEX_LEN);
        hash[HASH_HEX_LEN] = '\0';
        bool sized = k.mv_size == HASH_HEX_LEN && v.mv_size == 8;
        uint64_t total = sized ? s_u64_key(v.mv_data) : 0;
        uint64_t cost = 1 + (total + STORE_OBJECT_CHUNK_BYTES - 1) / STORE_OBJECT_CHUNK_BYTES;
        bool named = names.n && bsearch(hash, names.names, names.n, sizeof *names.names, s_name_cmp);
        if (sized && !named) {
            if (records > 0 && records + cost > c->max_records) {
                c->out->more = true;
                break;
            }
            if ((rc = s_object_drop(self, txn, hash, total)) != 0)
                break;
            records += cost;
            c->out->objects++;
            c->out->bytes += total;
        }
        //  on past this name's chunk records
        uint8_t next[S_OBJECT_KEY_BYTES];
        memcpy(next, hash, HASH_HEX_LEN);
        memset(next + HASH_HEX_LEN, 0xff, 8);
        k = (MDB_val){sizeof next, next};
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    }
    if (cur)
        mdb_cursor_close(cur);
    free(names.names);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_object_collect(store_t *self, store_txn_t *txn, size_t max_records,
                         store_collect_t *out, mlops_err_t *err)
{
    assert(self && out);
    memset(out, 0, sizeof *out);
    s_collect_t c = {max_records ? max_records : STORE_COLLECT_MAX_RECORDS, out};
    return s_write(self, txn, "object collection", 4096, s_collect_fn, &c, err);
}

static int s_stats_fn(store_t *self, MDB_txn *read, void *arg)
{
    store_object_stats_t *out = arg;
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(read, self->dbi[DB_OBJECTS], &cur);
    MDB_val k, v;
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        bool sized = k.mv_size == HASH_HEX_LEN && v.mv_size == 8;
        out->objects += sized;
        out->bytes += sized ? s_u64_key(v.mv_data) : 0;
        out->chunks += !sized;
    }
    if (cur)
        mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_object_stats(store_t *self, store_txn_t *txn, store_object_stats_t *out,
                       mlops_err_t *err)
{
    assert(self && out);
    memset(out, 0, sizeof *out);
    int rc = s_object_read_in(self, txn, s_stats_fn, out);
    return rc ? s_fail(self, rc, "objects", err) : 0;
}

//  --- feedback: labelled live rows, oldest first ----------------------------

//  feedback holds seq (8 bytes, big-endian) -> key length (1 byte), key,
//  row; feedback_keys holds key -> seq, and the stats under S_FEEDBACK_STATS
//  (a key no row has: '#' is not in a request id).
#define S_FEEDBACK_STATS "#stats"
#define S_FEEDBACK_STATS_BYTES (5 * 8)

typedef struct {
    const char *key;          //  "<request id>#<index>"
    const uint8_t *row;       //  its bytes
    size_t len;
    bool duplicate;           //  out: the key was there, nothing written
} s_feedback_put_t;

static int s_feedback_put_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    s_feedback_put_t *put = arg;
    size_t klen = strlen(put->key);
    MDB_val k = {klen, (void *)put->key}, v;
    int rc = mdb_get(txn, self->dbi[DB_FEEDBACK_KEYS], &k, &v);
    if (rc == 0) {
        put->duplicate = true;
        return 0;
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    s_counter_t c = {"feedback_seq", 0};
    rc = s_counter_fn(self, txn, &c, err);
    uint8_t seq[8];
    s_key_u64(seq, c.value);
    MDB_val sk = {8, seq}, sv = {8, seq}, row = {1 + klen + put->len, NULL};
    if (rc == 0)
        rc = mdb_put(txn, self->dbi[DB_FEEDBACK], &sk, &row, MDB_RESERVE);
    if (rc == 0) {
        uint8_t *at = row.mv_data;
        at[0] = (uint8_t)klen;
        memcpy(at + 1, put->key, klen);
        memcpy(at + 1 + klen, put->row, put->len);
        rc = mdb_put(txn, self->dbi[DB_FEEDBACK_KEYS], &k, &sv, 0);
    }
    return rc;
}

int store_feedback_put(store_t *self, store_txn_t *txn, const char *key, const uint8_t *row,
                       size_t len, mlops_err_t *err)
{
    assert(self && key && row);
    size_t klen = strlen(key);
    if (klen == 0 || klen > 255 || key[0] == '#')
        return mlops_err_set(err, MLOPS_EINVAL, "feedback key of %zu bytes (1..255, not '#...')", klen);
    s_feedback_put_t put = {key, row, len, false};
    int rc = s_write(self, txn, "feedback row", klen + len + 64, s_feedback_put_fn, &put, err);
    if (rc == 0 && put.duplicate)
        return mlops_err_set(err, MLOPS_ESTATE, "feedback row %.80s is stored already", key);
    return rc;
}

typedef struct {
    size_t bytes;             //  out: the row's bytes (without its key)
    bool found;               //  out: there was one
} s_feedback_drop_t;

static int s_feedback_drop_fn(store_t *self, MDB_txn *txn, void *arg, mlops_err_t *err)
{
    s_feedback_drop_t *drop = arg;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, self->dbi[DB_FEEDBACK], &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    if (rc == 0) {
        const uint8_t *at = v.mv_data;
        size_t klen = v.mv_size ? at[0] : 0;
        if (v.mv_size < 1 + klen)
            rc = mlops_err_set(err, MLOPS_ECORRUPT, "store %s: a feedback row of %zu bytes", self->dir,
                               v.mv_size);
        MDB_val key = {klen, (void *)(at + 1)};
        drop->bytes = v.mv_size - 1 - klen;
        drop->found = true;
        if (rc == 0)
            rc = mdb_del(txn, self->dbi[DB_FEEDBACK_KEYS], &key, NULL);
        if (rc == 0 || rc == MDB_NOTFOUND)
            rc = mdb_cursor_del(cur, 0);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store_feedback_drop_oldest(store_t *self, store_txn_t *txn, size_t *bytes, mlops_err_t *err)
{
    assert(self && bytes);
    s_feedback_drop_t drop = {0, false};
    int rc = s_write(self, txn, "feedback rotation", 64, s_feedback_drop_fn, &drop, err);
    if (rc == 0 && !drop.found)
        return mlops_err_set(err, MLOPS_ENOTFOUND, "no feedback row to drop");
    *bytes = drop.bytes;
    return rc;
}

int store_feedback_stats_get(store_t *self, store_txn_t *txn, store_feedback_stats_t *out,
                             mlops_err_t *err)
{
    assert(self && out);
    uint8_t *data = NULL;
    size_t len = 0;
    memset(out, 0, sizeof *out);
    int rc = s_get(self, txn, DB_FEEDBACK_KEYS, S_FEEDBACK_STATS, strlen(S_FEEDBACK_STATS), &data,
                   &len, "feedback stats", err);
    if (rc == MLOPS_ENOTFOUND)
        return 0;   //  none stored yet
    if (rc == 0 && len != S_FEEDBACK_STATS_BYTES)
        rc = mlops_err_set(err, MLOPS_ECORRUPT, "store %s: feedback stats of %zu bytes", self->dir, len);
    if (rc == 0) {
        uint64_t *f[] = {&out->rows, &out->bytes, &out->stored, &out->duplicate, &out->rotated};
        for (size_t i = 0; i < 5; i++)
            *f[i] = s_u64_key(data + 8 * i);
    }
    free(data);
    return rc;
}

int store_feedback_stats_put(store_t *self, store_txn_t *txn, const store_feedback_stats_t *in,
                             mlops_err_t *err)
{
    assert(self && in);
    uint8_t data[S_FEEDBACK_STATS_BYTES];
    const uint64_t f[] = {in->rows, in->bytes, in->stored, in->duplicate, in->rotated};
    for (size_t i = 0; i < 5; i++)
        s_key_u64(data + 8 * i, f[i]);
    return s_put(self, txn, DB_FEEDBACK_KEYS, S_FEEDBACK_STATS, strlen(S_FEEDBACK_STATS), data,
                 sizeof data, "feedback stats", err);
}

typedef struct {
    store_feedback_fn *fn;
    void *arg;
} s_feedback_scan_t;

static int s_feedback_scan_fn(const MDB_val *key, const MDB_val *val, void *arg, mlops_err_t *err)
{
    (void)key;
    s_feedback_scan_t *scan = arg;
    const uint8_t *at = val->mv_data;
    size_t klen = val->mv_size ? at[0] : 0;
    if (val->mv_size < 1 + klen)
        return mlops_err_set(err, MLOPS_ECORRUPT, "a feedback row of %zu bytes", val->mv_size);
    int rc = scan->fn(scan->arg, at + 1 + klen, val->mv_size - 1 - klen, err);
    return rc == STORE_FEEDBACK_STOP ? S_SCAN_STOP : rc;
}

int store_feedback_scan(store_t *self, store_feedback_fn *fn, void *arg, mlops_err_t *err)
{
    assert(self && fn);
    s_feedback_scan_t scan = {fn, arg};
    return s_scan(self, DB_FEEDBACK, false, s_feedback_scan_fn, &scan, err);
}
