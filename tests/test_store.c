/*  test_store.c: the LMDB store: creation and modes, put/get/list of every
    database, reads inside an open write transaction (own writes seen, nobody
    else sees them before the commit), counters across reopen, transaction
    atomicity, map growth and its limit, refusal of foreign, damaged and
    unwritable stores, and a writer killed with SIGKILL mid-loop (several
    rounds) after which every committed record is there and nothing
    half-written is.

    Each test works in a fresh directory under /tmp and removes it.
*/
#include "store.h"
#include "testing.h"

#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <lmdb.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

//  --- helpers ----------------------------------------------------------------

static int s_rm_fn(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

//  Makes a fresh 0755 base directory; the store goes in base/store.
static void s_tmpdir(char base[64], char dir[96])
{
    snprintf(base, 64, "/tmp/test_store.XXXXXX");
    if (!mkdtemp(base))
        abort();
    chmod(base, 0755);
    snprintf(dir, 96, "%s/store", base);
}

static void s_rmrf(const char *base)
{
    nftw(base, s_rm_fn, 16, FTW_DEPTH | FTW_PHYS);
}

static void s_make_run(run_t *run, uint64_t id, size_t n_tasks)
{
    memset(run, 0, sizeof *run);
    run->id = id;
    run->state = RUN_SUCCEEDED;
    snprintf(run->source, sizeof run->source, "run-%llu", (unsigned long long)id);
    run->created_ms = (int64_t)id * 1000;
    for (size_t i = 0; i < n_tasks; i++) {
        run_task_t *t = run_add_task(run, "train", i % 2 ? "forest" : "logreg");
        t->attempts = (int32_t)i;
    }
}

//  Deterministic artifact bytes of version v (length varies with v).
static size_t s_artifact(uint64_t v, uint8_t *buf, size_t cap)
{
    size_t len = 100 + (size_t)(v * 7919 % 20000);
    if (len > cap)
        len = cap;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(v * 31 + i * 17);
    return len;
}

static void s_make_version(version_t *out, uint64_t v, const uint8_t *art, size_t len)
{
    memset(out, 0, sizeof *out);
    out->version = v;
    out->run_id = v;
    out->stage = VERSION_STAGING;
    out->artifact_len = len;
    snprintf(out->family, sizeof out->family, "logreg");
    hash_sha256_hex(art, len, out->sha256);
    out->metrics.auc = 0.5 + (double)(v % 50) / 100.0;
}

//  Reads the next value of a counter without using it (aborted txn).
static uint64_t s_peek_next_run(store_t *s)
{
    store_txn_t *txn = store_begin(s, NULL);
    uint64_t id = 0;
    store_run_next_id(s, txn, &id, NULL);
    store_abort(&txn);
    return id;
}

static uint64_t s_peek_next_version(store_t *s)
{
    store_txn_t *txn = store_begin(s, NULL);
    uint64_t v = 0;
    store_version_next(s, txn, &v, NULL);
    store_abort(&txn);
    return v;
}

//  --- creation ---------------------------------------------------------------

static void test_open_creates_private_dir_and_files(void)
{
    char base[64], dir[96], path[128];
    s_tmpdir(base, dir);
    mode_t old = umask(0);  //  even with a permissive umask
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    umask(old);
    CHECK(s != NULL);
    CHECK_INT(store_map_bytes(s), (size_t)256 << 20);
    store_destroy(&s);
    CHECK(s == NULL);
    store_destroy(&s); //  NULL is fine
    struct stat st;
    CHECK_INT(stat(dir, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0700);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0600);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0600);
    snprintf(path, sizeof path, "%s/store.lock", dir);
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 07777, 0600);
    s = store_open(dir, NULL, &err); //  reopen an existing store
    CHECK(s != NULL);
    store_destroy(&s);
    s_rmrf(base);
}

static void test_second_open_is_refused(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    store_t *again = store_open(dir, NULL, &err);
    char msg[MLOPS_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", err.msg);
    char pid[32];
    snprintf(pid, sizeof pid, "(pid %ld)", (long)getpid());
    uint64_t id = 0;
    int rc = store_run_next_id(s, NULL, &id, &err); //  the first still works
    store_destroy(&s);
    store_t *after = store_open(dir, NULL, &err);   //  and the lock goes with it
    bool reopened = after != NULL;
    store_destroy(&after);
    s_rmrf(base);
    CHECK(again == NULL);
    CHECK_CONTAINS(msg, "is in use by another process");
    CHECK_CONTAINS(msg, pid);
    CHECK_INT(rc, 0);
    CHECK(reopened);
}

//  A second store_begin on the thread that holds a transaction would wait
//  for itself forever; it asserts instead (in a child, which dies of it).
static void test_nested_begin_asserts(void)
{
    const char *preload = getenv("LD_PRELOAD");
    if (preload && strstr(preload, "vgpreload")) {
        printf("skip test_nested_begin_asserts: under valgrind the aborted child "
               "reports what it held as leaks\n");
        return;
    }
    char base[64], dir[96];
    s_tmpdir(base, dir);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(2); //  keep the assertion text out of the test output
        mlops_err_t err;
        store_t *s = store_open(dir, NULL, &err);
        store_txn_t *txn = s ? store_begin(s, &err) : NULL;
        if (txn)
            store_begin(s, &err);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    s_rmrf(base);
    CHECK(WIFSIGNALED(status));
    CHECK_INT(WTERMSIG(status), SIGABRT);
}

static void test_open_rejects_bad_paths(void)
{
    char base[64], dir[96], path[160];
    s_tmpdir(base, dir);
    mlops_err_t err;
    CHECK(store_open("", NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    //  A regular file where the store or its parent should be.
    int fd = open(dir, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK(store_open(dir, NULL, &err) == NULL);
    CHECK_INT(err.code, ENOTDIR);
    CHECK_CONTAINS(err.msg, "is not a directory");
    snprintf(path, sizeof path, "%s/sub", dir);
    CHECK(store_open(path, NULL, &err) == NULL);
    CHECK_INT(err.code, ENOTDIR);
    CHECK_CONTAINS(err.msg, path);
    s_rmrf(base);
}

//  Issue 15, point 7: an existing store that others could write (a 0777
//  directory, a 0666 data file) or that another user owns is refused at
//  open, naming the path and the fix.
static void test_open_refuses_loose_permissions(void)
{
    char base[64], dir[96], path[128];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    store_destroy(&s);
    CHECK_INT(chmod(dir, 0777), 0);
    CHECK(store_open(dir, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "is writable by group or others (mode 777): refused; chmod go-w");
    CHECK_INT(chmod(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    CHECK_INT(chmod(path, 0666), 0);
    CHECK(store_open(dir, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, path);
    CHECK_CONTAINS(err.msg, "writable by group or others");
    CHECK_INT(chmod(path, 0600), 0);
    if (getuid() == 0) {   //  another owner: only root can make one
        CHECK_INT(chown(dir, 65534, 65534), 0);
        CHECK(store_open(dir, NULL, &err) == NULL);
        CHECK_CONTAINS(err.msg, "is owned by uid 65534, not by this user");
        CHECK_INT(chown(dir, 0, 0), 0);
    }
    s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    store_destroy(&s);
    s_rmrf(base);
}

//  As nobody, a root-owned 0700 directory is not writable. Runs in a child
//  because setuid cannot be undone; the child's exit code is the verdict.
static void test_open_unwritable_dir_as_nobody(void)
{
    if (getuid() != 0) {
        printf("skip test_open_unwritable_dir_as_nobody: needs root to switch to nobody\n");
        return;
    }
    char base[64], dir[96];
    s_tmpdir(base, dir);
    CHECK_INT(mkdir(dir, 0700), 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0)
            _exit(3);
        mlops_err_t err;
        store_t *s = store_open(dir, NULL, &err);
        int ok = s == NULL && err.code == EACCES && strstr(err.msg, "is not writable")
                 && strstr(err.msg, dir);
        if (!ok)
            fprintf(stderr, "  child: code %d msg \"%s\"\n", err.code, err.msg);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    s_rmrf(base);
    CHECK(WIFEXITED(status));
    CHECK_INT(WEXITSTATUS(status), 0);
}

//  --- every database --------------------------------------------------------

static void test_put_get_every_db(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    uint8_t *data = NULL;
    size_t len = 0;

    CHECK_INT(store_dataset_put(s, NULL, "abc123", (const uint8_t *)"table", 5, &err), 0);
    CHECK_INT(store_dataset_get(s, NULL, "abc123", &data, &len, &err), 0);
    CHECK_INT(len, 5);
    CHECK(memcmp(data, "table", 5) == 0);
    free(data);
    CHECK_INT(store_dataset_get(s, NULL, "nope", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no dataset nope");
    CHECK_INT(store_dataset_put(s, NULL, "", (const uint8_t *)"x", 1, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "dataset key must be 1..511 bytes, got 0");

    CHECK_INT(store_blob_put(s, NULL, "1-train-forest", (const uint8_t *)"", 0, &err), 0);
    CHECK_INT(store_blob_get(s, NULL, "1-train-forest", &data, &len, &err), 0);
    CHECK_INT(len, 0);
    free(data);
    CHECK_INT(store_blob_get(s, NULL, "2-x", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no blob 2-x");
    //  Delete: in a txn with a put of its own, then a missing key.
    store_txn_t *txn = store_begin(s, &err);
    CHECK(txn != NULL);
    CHECK_INT(store_blob_put(s, txn, "tmp", (const uint8_t *)"t", 1, &err), 0);
    CHECK_INT(store_blob_delete(s, txn, "tmp", &err), 0);
    CHECK_INT(store_blob_delete(s, txn, "tmp", &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no blob tmp");
    CHECK_INT(store_blob_delete(s, txn, "1-train-forest", &err), 0);
    CHECK_INT(store_commit(&txn, &err), 0); //  the missing key spoiled nothing
    CHECK_INT(store_blob_get(s, NULL, "1-train-forest", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_blob_get(s, NULL, "tmp", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_blob_put(s, NULL, "1-train-forest", (const uint8_t *)"", 0, &err), 0);
    CHECK_INT(store_blob_delete(s, NULL, "1-train-forest", &err), 0);
    CHECK_INT(store_blob_delete(s, NULL, "1-train-forest", &err), MLOPS_ENOTFOUND);
    char longkey[600];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    CHECK_INT(store_blob_put(s, NULL, longkey, (const uint8_t *)"x", 1, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "got 599");

    run_t run, back;
    s_make_run(&run, 1, 3);
    CHECK_INT(store_run_put(s, NULL, &run, &err), 0);
    run_clear(&run);
    CHECK_INT(store_run_get(s, NULL, 1, &back, &err), 0);
    CHECK_STR(back.source, "run-1");
    CHECK_INT(back.n_tasks, 3);
    CHECK_STR(back.tasks[1].family, "forest");
    run_clear(&back);
    CHECK_INT(store_run_get(s, NULL, 2, &back, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no run 2");
    run.id = 0;
    CHECK_INT(store_run_put(s, NULL, &run, &err), MLOPS_EINVAL);

    uint8_t art[32000];
    size_t alen = s_artifact(7, art, sizeof art);
    version_t v, vb;
    s_make_version(&v, 7, art, alen);
    CHECK_INT(store_version_put(s, NULL, &v, &err), 0);
    CHECK_INT(store_artifact_put(s, NULL, 7, art, alen, &err), 0);
    CHECK_INT(store_version_get(s, NULL, 7, &vb, &err), 0);
    CHECK(memcmp(&v, &vb, sizeof v) == 0);
    CHECK_INT(store_version_get(s, NULL, 8, &vb, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no version 8");
    CHECK_INT(store_artifact_get(s, NULL, 7, &data, &len, &err), 0);
    CHECK_INT(len, alen);
    CHECK(memcmp(data, art, alen) == 0);
    free(data);
    CHECK_INT(store_artifact_get(s, NULL, 8, &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no artifact for version 8");
    version_t *vs;
    size_t n;
    s_make_version(&v, 3, art, alen);
    CHECK_INT(store_version_put(s, NULL, &v, &err), 0);
    CHECK_INT(store_version_list(s, &vs, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_INT(vs[0].version, 3);
    CHECK_INT(vs[1].version, 7);
    free(vs);

    audit_t a = {.ts_ms = 5, .version = 7};
    snprintf(a.action, sizeof a.action, "promote");
    CHECK_INT(store_audit_append(s, NULL, &a, &err), 0);
    CHECK_INT(a.seq, 1);
    snprintf(a.action, sizeof a.action, "rollback");
    CHECK_INT(store_audit_append(s, NULL, &a, &err), 0);
    CHECK_INT(a.seq, 2);
    audit_t *as;
    CHECK_INT(store_audit_list(s, &as, &n, &err), 0);
    CHECK_INT(n, 2);
    CHECK_STR(as[0].action, "promote");
    CHECK_INT(as[1].seq, 2);
    CHECK_STR(as[1].action, "rollback");
    free(as);
    store_destroy(&s);
    s_rmrf(base);
}

static void test_run_list_newest_first_with_limit(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    //  Ids across a byte boundary show the order is numeric, not textual.
    static const uint64_t ids[] = {3, 255, 1, 256, 70000};
    for (size_t i = 0; i < 5; i++) {
        run_t run;
        s_make_run(&run, ids[i], i);
        int rc = store_run_put(s, NULL, &run, &err);
        run_clear(&run);
        CHECK_INT(rc, 0);
    }
    run_t *runs;
    size_t n;
    CHECK_INT(store_run_list(s, 3, &runs, &n, &err), 0);
    CHECK_INT(n, 3);
    uint64_t got[3] = {runs[0].id, runs[1].id, runs[2].id};
    size_t tasks0 = runs[0].n_tasks;
    store_runs_free(&runs, n);
    CHECK(runs == NULL);
    CHECK_INT(got[0], 70000);
    CHECK_INT(got[1], 256);
    CHECK_INT(got[2], 255);
    CHECK_INT(tasks0, 4);
    CHECK_INT(store_run_list(s, 0, &runs, &n, &err), 0);
    CHECK_INT(n, 5);
    uint64_t last = runs[4].id;
    store_runs_free(&runs, n);
    CHECK_INT(last, 1);
    store_destroy(&s);
    s_rmrf(base);
}

static void test_counters_monotonic_across_reopen(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    uint64_t id = 0, v = 0;
    CHECK_INT(store_run_next_id(s, NULL, &id, &err), 0);
    CHECK_INT(id, 1);
    CHECK_INT(store_run_next_id(s, NULL, &id, &err), 0);
    CHECK_INT(id, 2);
    CHECK_INT(store_version_next(s, NULL, &v, &err), 0);
    CHECK_INT(v, 1);
    audit_t a = {0};
    CHECK_INT(store_audit_append(s, NULL, &a, &err), 0);
    store_destroy(&s);
    s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    CHECK_INT(store_run_next_id(s, NULL, &id, &err), 0);
    CHECK_INT(id, 3);
    CHECK_INT(store_version_next(s, NULL, &v, &err), 0);
    CHECK_INT(v, 2);
    CHECK_INT(store_audit_append(s, NULL, &a, &err), 0);
    CHECK_INT(a.seq, 2);
    store_destroy(&s);
    s_rmrf(base);
}

//  --- transactions -----------------------------------------------------------

static void test_txn_commits_all_or_nothing(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    uint8_t art[32000];
    //  Aborted: a run, a version, its artifact and an audit entry vanish,
    //  and the ids reserved in it are handed out again.
    store_txn_t *txn = store_begin(s, &err);
    CHECK(txn != NULL);
    uint64_t id, ver;
    CHECK_INT(store_run_next_id(s, txn, &id, &err), 0);
    run_t run;
    s_make_run(&run, id, 2);
    CHECK_INT(store_run_put(s, txn, &run, &err), 0);
    CHECK_INT(store_version_next(s, txn, &ver, &err), 0);
    size_t alen = s_artifact(ver, art, sizeof art);
    version_t v;
    s_make_version(&v, ver, art, alen);
    CHECK_INT(store_version_put(s, txn, &v, &err), 0);
    CHECK_INT(store_artifact_put(s, txn, ver, art, alen, &err), 0);
    audit_t a = {.version = ver};
    CHECK_INT(store_audit_append(s, txn, &a, &err), 0);
    store_abort(&txn);
    CHECK(txn == NULL);
    store_abort(&txn); //  NULL is fine
    run_t back;
    CHECK_INT(store_run_get(s, NULL, id, &back, &err), MLOPS_ENOTFOUND);
    version_t vb;
    CHECK_INT(store_version_get(s, NULL, ver, &vb, &err), MLOPS_ENOTFOUND);
    uint8_t *data;
    size_t len, n;
    CHECK_INT(store_artifact_get(s, NULL, ver, &data, &len, &err), MLOPS_ENOTFOUND);
    audit_t *as;
    CHECK_INT(store_audit_list(s, &as, &n, &err), 0);
    free(as);
    CHECK_INT(n, 0);
    CHECK_INT(s_peek_next_run(s), id);
    CHECK_INT(s_peek_next_version(s), ver);

    //  Committed: all four are there together.
    txn = store_begin(s, &err);
    CHECK(txn != NULL);
    CHECK_INT(store_run_next_id(s, txn, &id, &err), 0);
    CHECK_INT(store_run_put(s, txn, &run, &err), 0);
    run_clear(&run);
    CHECK_INT(store_version_put(s, txn, &v, &err), 0);
    CHECK_INT(store_artifact_put(s, txn, ver, art, alen, &err), 0);
    CHECK_INT(store_audit_append(s, txn, &a, &err), 0);
    CHECK_INT(store_commit(&txn, &err), 0);
    CHECK(txn == NULL);
    CHECK_INT(store_run_get(s, NULL, id, &back, &err), 0);
    run_clear(&back);
    CHECK_INT(store_version_get(s, NULL, ver, &vb, &err), 0);
    CHECK_INT(store_artifact_get(s, NULL, ver, &data, &len, &err), 0);
    free(data);
    CHECK_INT(store_audit_list(s, &as, &n, &err), 0);
    free(as);
    CHECK_INT(n, 1);
    store_destroy(&s);
    s_rmrf(base);
}

//  --- the map ------------------------------------------------------------------

static void test_map_grows_by_itself(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    store_options_t opts = {.map_bytes = 64 << 10, .max_bytes = 64 << 20};
    mlops_err_t err;
    store_t *s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    CHECK_INT(store_map_bytes(s), 64 << 10);
    static uint8_t blob[100000];
    for (int i = 0; i < 20; i++) {
        char key[32];
        snprintf(key, sizeof key, "blob-%d", i);
        memset(blob, i, sizeof blob);
        int rc = store_blob_put(s, NULL, key, blob, sizeof blob, &err);
        if (rc)
            fprintf(stderr, "  %s\n", err.msg);
        CHECK_INT(rc, 0);
    }
    CHECK(store_map_bytes(s) >= 2000000);
    CHECK(store_map_bytes(s) <= (size_t)64 << 20);
    uint8_t *data;
    size_t len;
    CHECK_INT(store_blob_get(s, NULL, "blob-13", &data, &len, &err), 0);
    CHECK_INT(len, sizeof blob);
    CHECK_INT(data[len - 1], 13);
    free(data);
    store_destroy(&s);
    //  The grown size is kept by the file.
    opts.map_bytes = 64 << 10;
    s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    CHECK(store_map_bytes(s) >= 2000000);
    store_destroy(&s);
    s_rmrf(base);
}

//  A get through an open write transaction sees its uncommitted puts (and
//  deletes); nobody else does before the commit, not a read of our own
//  with txn NULL and not a reader on another thread. A spoiled transaction
//  refuses reads too.
typedef struct {
    store_t *store;
    int rc;               //  what the other thread's get returned
} s_blob_reader_t;

static void *s_blob_reader_fn(void *arg)
{
    s_blob_reader_t *r = arg;
    uint8_t *data = NULL;
    size_t len = 0;
    mlops_err_t err;
    r->rc = store_blob_get(r->store, NULL, "1-preprocess", &data, &len, &err);
    free(data);
    return NULL;
}

static void test_get_inside_txn_reads_own_writes(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    CHECK_INT(store_blob_put(s, NULL, "gone", (const uint8_t *)"g", 1, &err), 0);
    store_txn_t *txn = store_begin(s, &err);
    CHECK(txn != NULL);
    CHECK_INT(store_blob_put(s, txn, "1-preprocess", (const uint8_t *)"recipe", 6, &err), 0);
    CHECK_INT(store_dataset_put(s, txn, "abc", (const uint8_t *)"table", 5, &err), 0);
    CHECK_INT(store_blob_delete(s, txn, "gone", &err), 0);
    uint8_t art[32000];
    size_t alen = s_artifact(4, art, sizeof art);
    version_t v, vb;
    s_make_version(&v, 4, art, alen);
    CHECK_INT(store_version_put(s, txn, &v, &err), 0);
    CHECK_INT(store_artifact_put(s, txn, 4, art, alen, &err), 0);
    run_t run, back;
    s_make_run(&run, 9, 2);
    CHECK_INT(store_run_put(s, txn, &run, &err), 0);
    run_clear(&run);
    uint8_t *data = NULL;
    size_t len = 0;
    //  inside the transaction: every put is there, the delete too
    CHECK_INT(store_blob_get(s, txn, "1-preprocess", &data, &len, &err), 0);
    CHECK_INT(len, 6);
    CHECK(memcmp(data, "recipe", 6) == 0);
    free(data);
    CHECK_INT(store_dataset_get(s, txn, "abc", &data, &len, &err), 0);
    CHECK_INT(len, 5);
    free(data);
    CHECK_INT(store_blob_get(s, txn, "gone", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no blob gone");
    CHECK_INT(store_version_get(s, txn, 4, &vb, &err), 0);
    CHECK(memcmp(&v, &vb, sizeof v) == 0);
    CHECK_INT(store_artifact_get(s, txn, 4, &data, &len, &err), 0);
    CHECK_INT(len, alen);
    free(data);
    CHECK_INT(store_run_get(s, txn, 9, &back, &err), 0);
    CHECK_INT(back.n_tasks, 2);
    run_clear(&back);
    //  outside it, before the commit: the last committed state
    CHECK_INT(store_blob_get(s, NULL, "1-preprocess", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_version_get(s, NULL, 4, &vb, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_blob_get(s, NULL, "gone", &data, &len, &err), 0);
    free(data);
    s_blob_reader_t reader = {s, 0};
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, s_blob_reader_fn, &reader), 0);
    pthread_join(th, NULL);
    CHECK_INT(reader.rc, MLOPS_ENOTFOUND);
    CHECK_INT(store_commit(&txn, &err), 0);
    CHECK_INT(pthread_create(&th, NULL, s_blob_reader_fn, &reader), 0);
    pthread_join(th, NULL);
    CHECK_INT(reader.rc, 0);
    CHECK_INT(store_version_get(s, NULL, 4, &vb, &err), 0);
    //  a transaction whose write failed refuses reads as it refuses writes
    txn = store_begin(s, &err);
    CHECK(txn != NULL);
    CHECK_INT(store_blob_put(s, txn, "", (const uint8_t *)"x", 1, &err), MLOPS_EINVAL);
    CHECK_INT(store_blob_get(s, txn, "1-preprocess", &data, &len, &err), 0);   //  a bad key spoils nothing
    free(data);
    store_abort(&txn);
    store_destroy(&s);
    s_rmrf(base);
}

static void test_get_inside_failed_txn_is_refused(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    store_options_t opts = {.map_bytes = 64 << 10, .max_bytes = 64 << 10};
    mlops_err_t err;
    store_t *s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    CHECK_INT(store_blob_put(s, NULL, "small", (const uint8_t *)"s", 1, &err), 0);
    static uint8_t blob[1 << 20];
    store_txn_t *txn = store_begin(s, &err);
    CHECK(txn != NULL);
    CHECK_INT(store_blob_put(s, txn, "big", blob, sizeof blob, &err), MLOPS_EMAPFULL);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_INT(store_blob_get(s, txn, "small", &data, &len, &err), MLOPS_ESTATE);
    CHECK_CONTAINS(err.msg, "blob: the transaction already failed");
    store_abort(&txn);
    CHECK_INT(store_blob_get(s, NULL, "small", &data, &len, &err), 0);
    free(data);
    store_destroy(&s);
    s_rmrf(base);
}

static void test_map_full_at_max(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    store_options_t opts = {.map_bytes = 64 << 10, .max_bytes = 256 << 10};
    mlops_err_t err;
    store_t *s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    static uint8_t blob[1 << 20];
    //  Own transaction: grows to the maximum, then gives up with advice.
    CHECK_INT(store_blob_put(s, NULL, "big", blob, sizeof blob, &err), MLOPS_EMAPFULL);
    CHECK_CONTAINS(err.msg, "maximum size of 256 KiB");
    CHECK_CONTAINS(err.msg, "raise --store-size");
    CHECK_INT(store_map_bytes(s), 256 << 10);
    //  The store still works for what fits.
    CHECK_INT(store_blob_put(s, NULL, "small", blob, 1000, &err), 0);

    //  Caller's transaction: the write says what to do and spoils the txn.
    store_txn_t *txn = store_begin(s, &err);
    CHECK(txn != NULL);
    int rc = store_blob_put(s, txn, "big", blob, sizeof blob, &err);
    char msg[MLOPS_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", err.msg);
    int rc2 = store_blob_put(s, txn, "tiny", blob, 1, &err);
    int rc3 = store_commit(&txn, &err);
    CHECK_INT(rc, MLOPS_EMAPFULL);
    CHECK_CONTAINS(msg, "raise --store-size"); //  at the limit a redo cannot help
    CHECK_INT(rc2, MLOPS_ESTATE);
    CHECK_INT(rc3, MLOPS_ESTATE);
    CHECK_CONTAINS(err.msg, "a write in it failed");
    CHECK(txn == NULL);
    uint8_t *data;
    size_t len;
    CHECK_INT(store_blob_get(s, NULL, "tiny", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_grow(s, &err), MLOPS_EMAPFULL);
    CHECK_CONTAINS(err.msg, "raise --store-size");
    store_destroy(&s);
    s_rmrf(base);
}

static void test_callers_txn_redone_after_full_map(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    store_options_t opts = {.map_bytes = 64 << 10, .max_bytes = 64 << 20};
    mlops_err_t err;
    store_t *s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    static uint8_t blob[4 << 20]; //  64 times the map
    int fulls = 0, rc;
    do { //  the loop a broker runs around one state change
        store_txn_t *txn = store_begin(s, &err);
        CHECK(txn != NULL);
        rc = store_blob_put(s, txn, "b", blob, sizeof blob, &err);
        if (rc == 0)
            rc = store_commit(&txn, &err);
        else
            store_abort(&txn);
        if (rc == MLOPS_EMAPFULL) {
            CHECK_CONTAINS(err.msg, "redo it (the next store_begin grows the map)");
            fulls++;
        }
    } while (rc == MLOPS_EMAPFULL && fulls < 10);
    CHECK_INT(rc, 0);
    CHECK_INT(fulls, 1); //  the redo found room for it at once
    size_t before = store_map_bytes(s);
    CHECK_INT(store_grow(s, &err), 0);
    CHECK_INT(store_map_bytes(s), before * 2);
    store_destroy(&s);
    s_rmrf(base);
}

//  Small writes in callers' transactions never meet a full map: store_begin
//  grows the map while half of it is still free.
static void test_begin_grows_ahead_of_need(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    store_options_t opts = {.map_bytes = 64 << 10, .max_bytes = 64 << 20};
    mlops_err_t err;
    store_t *s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    static uint8_t blob[8000];
    for (int i = 0; i < 300; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        store_txn_t *txn = store_begin(s, &err);
        CHECK(txn != NULL);
        int rc = store_blob_put(s, txn, key, blob, sizeof blob, &err);
        rc = rc ? (store_abort(&txn), rc) : store_commit(&txn, &err);
        if (rc)
            fprintf(stderr, "  write %d: %s\n", i, err.msg);
        CHECK_INT(rc, 0);
    }
    CHECK(store_map_bytes(s) >= 300 * sizeof blob);
    store_destroy(&s);
    s_rmrf(base);
}

//  A reader on another thread while the writer makes the map grow: the
//  grow lock keeps every read on a valid mapping (MDB_NOTLS readers).
typedef struct {
    store_t *store;         //  shared
    _Atomic int stop;       //  set by the writer when done
    _Atomic int reads;      //  the reader's tally
    int failures;           //  reads that returned wrong data or an error
} s_reader_t;

static void *s_reader_fn(void *arg)
{
    s_reader_t *r = arg;
    while (!r->stop) {
        run_t run;
        mlops_err_t err;
        int rc = store_run_get(r->store, NULL, 1, &run, &err);
        if (rc == 0 && strcmp(run.source, "run-1") != 0)
            r->failures++;
        if (rc != 0 && rc != MLOPS_ENOTFOUND)
            r->failures++;
        run_clear(&run);
        r->reads++;
    }
    return NULL;
}

static void test_reads_from_another_thread_during_growth(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    store_options_t opts = {.map_bytes = 64 << 10, .max_bytes = 64 << 20};
    mlops_err_t err;
    store_t *s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    s_reader_t r = {s, 0, 0, 0};
    pthread_t th;
    CHECK_INT(pthread_create(&th, NULL, s_reader_fn, &r), 0);
    while (r.reads == 0) //  overlap for sure, however the threads are scheduled
        sched_yield();
    int rc = 0;
    static uint8_t blob[20000];
    for (uint64_t i = 1; i <= 100 && rc == 0; i++) {
        run_t run;
        s_make_run(&run, i, 2);
        rc = store_run_put(s, NULL, &run, &err);
        run_clear(&run);
        char key[32];
        snprintf(key, sizeof key, "b%llu", (unsigned long long)i);
        if (rc == 0)
            rc = store_blob_put(s, NULL, key, blob, sizeof blob, &err);
    }
    r.stop = 1;
    pthread_join(th, NULL);
    size_t grown = store_map_bytes(s);
    store_destroy(&s);
    s_rmrf(base);
    CHECK_INT(rc, 0);
    CHECK(grown >= 2000000);
    CHECK(r.reads > 0);
    CHECK_INT(r.failures, 0);
}

//  --- refusing what is not ours ----------------------------------------------

//  Writes an LMDB environment in dir with one key in db (NULL = main db).
static int s_write_raw_lmdb(const char *dir, const char *db, const char *key, const char *val)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mkdir(dir, 0700);
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    int rc = mdb_env_open(env, dir, 0, 0600);
    if (!rc)
        rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (!rc) {
        rc = mdb_dbi_open(txn, db, MDB_CREATE, &dbi);
        MDB_val k = {strlen(key), (void *)key}, v = {strlen(val), (void *)val};
        if (!rc)
            rc = mdb_put(txn, dbi, &k, &v, 0);
        rc = rc ? (mdb_txn_abort(txn), rc) : mdb_txn_commit(txn);
    }
    mdb_env_close(env);
    return rc;
}

static void test_foreign_lmdb_refused(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    CHECK_INT(s_write_raw_lmdb(dir, NULL, "users", "alice"), 0);
    mlops_err_t err;
    CHECK(store_open(dir, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EFOREIGN);
    CHECK_CONTAINS(err.msg, "not an mlops store");
    CHECK_CONTAINS(err.msg, dir);
    s_rmrf(base);
    //  A "meta" database without our marker is foreign too.
    s_tmpdir(base, dir);
    CHECK_INT(s_write_raw_lmdb(dir, "meta", "owner", "someone"), 0);
    CHECK(store_open(dir, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EFOREIGN);
    s_rmrf(base);
    //  Ours, but a format this build does not read.
    s_tmpdir(base, dir);
    CHECK_INT(s_write_raw_lmdb(dir, "meta", "format", "mlops-store 9"), 0);
    CHECK(store_open(dir, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EVERSION);
    CHECK_CONTAINS(err.msg, "\"mlops-store 9\"");
    s_rmrf(base);
}

static void test_garbage_file_refused(void)
{
    static const size_t sizes[] = {100, 20000};
    for (size_t i = 0; i < 2; i++) {
        char base[64], dir[96], path[128];
        s_tmpdir(base, dir);
        CHECK_INT(mkdir(dir, 0700), 0);
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        for (size_t j = 0; j < sizes[i]; j++)
            fputc((int)(j * 131 % 251), f);
        fclose(f);
        mlops_err_t err;
        store_t *s = store_open(dir, NULL, &err);
        s_rmrf(base);
        CHECK(s == NULL);
        CHECK_INT(err.code, MLOPS_ECORRUPT);
        CHECK_CONTAINS(err.msg, path);
        CHECK_CONTAINS(err.msg, "not a readable LMDB file");
    }
}

static void test_undecodable_record_is_corrupt(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    store_destroy(&s);
    //  A run key (id 1, big-endian) with bytes that are not a run.
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 8);
    CHECK_INT(mdb_env_open(env, dir, 0, 0600), 0);
    mdb_txn_begin(env, NULL, 0, &txn);
    mdb_dbi_open(txn, "runs", 0, &dbi);
    uint8_t key[8] = {0, 0, 0, 0, 0, 0, 0, 1};
    MDB_val k = {8, key}, v = {4, "\x81\xa1x\x01"};
    mdb_put(txn, dbi, &k, &v, 0);
    mdb_txn_commit(txn);
    mdb_env_close(env);
    s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    run_t run;
    int rc = store_run_get(s, NULL, 1, &run, &err);
    char msg[MLOPS_ERRMSG_MAX];
    snprintf(msg, sizeof msg, "%s", err.msg);
    run_t *runs = NULL;
    size_t n = 0;
    int rc_list = store_run_list(s, 0, &runs, &n, &err);
    store_destroy(&s);
    s_rmrf(base);
    CHECK_INT(rc, MLOPS_ECORRUPT);
    CHECK_CONTAINS(msg, "run 1 in the store does not decode: run: unknown key \"x\"");
    CHECK_INT(rc_list, MLOPS_ECORRUPT);
    CHECK(runs == NULL);
}

//  --- a writer killed mid-loop ---------------------------------------------------

typedef struct {
    char kind;       //  'R' a run committed, 'V' a version (+artifact+audit) committed
    uint64_t id;     //  its id
} s_report_t;

//  The child: writes until killed, reporting each commit on fd. Exits 2 on
//  any failure (the parent then sees EOF early and fails the test).
static void s_writer(const char *dir, int fd)
{
    store_options_t opts = {.map_bytes = 128 << 10}; //  small, so growth happens too
    mlops_err_t err;
    store_t *s = store_open(dir, &opts, &err);
    if (!s) {
        fprintf(stderr, "  writer: %s\n", err.msg);
        _exit(2);
    }
    static uint8_t art[32000];
    for (uint64_t i = 1;; i++) {
        s_report_t rep;
        memset(&rep, 0, sizeof rep); //  padding too: it goes down the pipe
        rep.kind = 'R';
        int rc;
        do {
            store_txn_t *txn = store_begin(s, &err);
            if (!txn)
                _exit(2);
            rc = store_run_next_id(s, txn, &rep.id, &err);
            run_t run;
            s_make_run(&run, rep.id, rep.id % 5);
            if (!rc)
                rc = store_run_put(s, txn, &run, &err);
            run_clear(&run);
            rc = rc ? (store_abort(&txn), rc) : store_commit(&txn, &err);
        } while (rc == MLOPS_EMAPFULL && store_grow(s, &err) == 0);
        if (rc || write(fd, &rep, sizeof rep) != sizeof rep)
            break;
        if (i % 3)
            continue;
        rep.kind = 'V';
        do {
            store_txn_t *txn = store_begin(s, &err);
            if (!txn)
                _exit(2);
            rc = store_version_next(s, txn, &rep.id, &err);
            size_t len = s_artifact(rep.id, art, sizeof art);
            version_t v;
            s_make_version(&v, rep.id, art, len);
            audit_t a = {.version = rep.id, .ts_ms = (int64_t)rep.id};
            snprintf(a.action, sizeof a.action, "promote");
            if (!rc)
                rc = store_artifact_put(s, txn, rep.id, art, len, &err);
            if (!rc)
                rc = store_version_put(s, txn, &v, &err);
            if (!rc)
                rc = store_audit_append(s, txn, &a, &err);
            rc = rc ? (store_abort(&txn), rc) : store_commit(&txn, &err);
        } while (rc == MLOPS_EMAPFULL && store_grow(s, &err) == 0);
        if (rc || write(fd, &rep, sizeof rep) != sizeof rep)
            break;
    }
    fprintf(stderr, "  writer: %s\n", err.msg);
    _exit(2);
}

//  Checks the store after a kill: runs 1..N and versions 1..M all present
//  and decodable, counters just past them, each version's artifact intact,
//  one audit entry per version, and every reported id within them.
static void s_check_after_kill(const char *dir, uint64_t max_run, uint64_t max_version)
{
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    if (!s)
        fprintf(stderr, "  reopen: %s\n", err.msg);
    CHECK(s != NULL);
    run_t *runs;
    size_t n_runs;
    int rc = store_run_list(s, 0, &runs, &n_runs, &err);
    if (rc)
        fprintf(stderr, "  %s\n", err.msg);
    CHECK_INT(rc, 0);
    bool runs_ok = true;
    for (size_t i = 0; i < n_runs; i++) {
        uint64_t want = n_runs - i;
        char source[32];
        snprintf(source, sizeof source, "run-%llu", (unsigned long long)want);
        runs_ok = runs_ok && runs[i].id == want && !strcmp(runs[i].source, source)
                  && runs[i].n_tasks == want % 5;
    }
    store_runs_free(&runs, n_runs);
    CHECK(runs_ok);
    CHECK(n_runs >= max_run);
    CHECK_INT(s_peek_next_run(s), n_runs + 1);

    version_t *vs;
    size_t n_vs;
    CHECK_INT(store_version_list(s, &vs, &n_vs, &err), 0);
    bool versions_ok = true;
    static uint8_t art[32000];
    for (size_t i = 0; i < n_vs && versions_ok; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        char sha[HASH_HEX_LEN + 1] = "";
        versions_ok = vs[i].version == i + 1
                      && store_artifact_get(s, NULL, vs[i].version, &data, &len, &err) == 0
                      && len == vs[i].artifact_len
                      && len == s_artifact(vs[i].version, art, sizeof art)
                      && memcmp(data, art, len) == 0;
        if (versions_ok)
            hash_sha256_hex(data, len, sha);
        versions_ok = versions_ok && !strcmp(sha, vs[i].sha256);
        free(data);
    }
    free(vs);
    CHECK(versions_ok);
    CHECK(n_vs >= max_version);
    //  No artifact without its version (they share a transaction).
    uint8_t *stray = NULL;
    size_t stray_len;
    CHECK_INT(store_artifact_get(s, NULL, n_vs + 1, &stray, &stray_len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(s_peek_next_version(s), n_vs + 1);

    audit_t *as;
    size_t n_as;
    CHECK_INT(store_audit_list(s, &as, &n_as, &err), 0);
    bool audit_ok = n_as == n_vs;
    for (size_t i = 0; i < n_as && audit_ok; i++)
        audit_ok = as[i].seq == i + 1 && as[i].version == i + 1;
    free(as);
    CHECK(audit_ok);

    //  And it takes new writes, with the next ids.
    uint64_t id;
    CHECK_INT(store_run_next_id(s, NULL, &id, &err), 0);
    CHECK_INT(id, n_runs + 1);
    run_t run;
    s_make_run(&run, id, id % 5);
    rc = store_run_put(s, NULL, &run, &err);
    run_clear(&run);
    CHECK_INT(rc, 0);
    //  The audit counter is just past the log (appended in a txn that is
    //  then aborted, keeping one entry per version for the next round).
    store_txn_t *txn = store_begin(s, &err);
    CHECK(txn != NULL);
    audit_t a = {.version = 0};
    rc = store_audit_append(s, txn, &a, &err);
    store_abort(&txn);
    store_destroy(&s);
    CHECK_INT(rc, 0);
    CHECK_INT(a.seq, n_as + 1);
}

static void test_sigkill_mid_write_loses_nothing_committed(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    uint64_t max_run = 0, max_version = 0;
    unsigned seed = (unsigned)getpid();
    for (int round = 0; round < 5; round++) {
        int fds[2];
        CHECK_INT(pipe(fds), 0);
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            s_writer(dir, fds[1]);
        }
        close(fds[1]);
        //  Let it commit a varying number of records, then kill it wherever it is.
        size_t target = 10 + rand_r(&seed) % 50, seen = 0;
        s_report_t rep;
        //  A writer that stops reporting (a deadlock, say) fails the test
        //  instead of hanging it: 30 s without one report.
        struct pollfd pfd = {fds[0], POLLIN, 0};
        while (seen < target && poll(&pfd, 1, 30000) == 1
               && read(fds[0], &rep, sizeof rep) == sizeof rep) {
            seen++;
            if (rep.kind == 'R' && rep.id > max_run)
                max_run = rep.id;
            if (rep.kind == 'V' && rep.id > max_version)
                max_version = rep.id;
        }
        //  Reading a report wakes us just after a commit; a random pause
        //  spreads the kill over every point of the writer's loop.
        usleep((useconds_t)(rand_r(&seed) % 20000));
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        //  Reports already in the pipe were committed too.
        while (read(fds[0], &rep, sizeof rep) == sizeof rep) {
            if (rep.kind == 'R' && rep.id > max_run)
                max_run = rep.id;
            if (rep.kind == 'V' && rep.id > max_version)
                max_version = rep.id;
        }
        close(fds[0]);
        CHECK_INT(seen, target);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        s_check_after_kill(dir, max_run, max_version);
        if (t_failed_now)
            break;
    }
    s_rmrf(base);
}


//  --- objects ----------------------------------------------------------------

//  A source that hands out the bytes of a pattern, or fails at fail_at.
typedef struct {
    uint64_t fail_at;     //  offset whose read fails (UINT64_MAX = never)
} s_pattern_t;

static uint8_t s_pattern_byte(uint64_t i)
{
    return (uint8_t)((i * 7919) >> 3);
}

static int s_pattern_fn(void *arg, uint64_t offset, void *buf, size_t len)
{
    s_pattern_t *p = arg;
    if (offset <= p->fail_at && p->fail_at < offset + len)
        return EIO;
    for (size_t i = 0; i < len; i++)
        ((uint8_t *)buf)[i] = s_pattern_byte(offset + i);
    return 0;
}

//  An object of several chunks written through put_from into a map far
//  smaller than it: the map grows first, every byte reads back at any
//  offset, and the size record is there.
static void test_object_put_from_grows_the_map(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    store_options_t opts = {.map_bytes = 1 << 20, .max_bytes = 256 << 20};
    mlops_err_t err;
    store_t *s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    uint64_t total = 3 * STORE_OBJECT_CHUNK_BYTES + 12345;
    uint8_t *all = malloc(total);
    s_pattern_t src = {UINT64_MAX};
    CHECK_INT(s_pattern_fn(&src, 0, all, total), 0);
    char hash[65];
    hash_sha256_hex(all, total, hash);
    CHECK_INT(store_object_put_from(s, hash, total, s_pattern_fn, &src, &err), 0);
    CHECK(store_map_bytes(s) > total);
    uint64_t size = 0;
    CHECK_INT(store_object_size(s, NULL, hash, &size, &err), 0);
    CHECK_INT(size, total);
    uint8_t buf[300];
    uint64_t at = STORE_OBJECT_CHUNK_BYTES - 100;   //  across a chunk boundary
    CHECK_INT(store_object_read(s, hash, at, buf, sizeof buf, &size, &err), 0);
    CHECK(memcmp(buf, all + at, sizeof buf) == 0);
    uint8_t *back = NULL;
    size_t len = 0;
    CHECK_INT(store_object_get(s, NULL, hash, &back, &len, &err), 0);
    CHECK_INT(len, total);
    CHECK(memcmp(back, all, total) == 0);
    free(back);
    CHECK_INT(store_object_read(s, hash, total - 10, buf, 11, &size, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "read past its end");
    free(all);
    store_destroy(&s);
    s_rmrf(base);
}

//  A write whose source fails half-way leaves no object: no size record,
//  so nothing can be read; a put of a small buffer names it by its sha256.
static void test_object_cut_short_is_invisible(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    uint64_t total = (STORE_OBJECT_TXN_BYTES / STORE_OBJECT_CHUNK_BYTES + 2) * STORE_OBJECT_CHUNK_BYTES;
    const char *name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    s_pattern_t src = {total - 5};   //  fails in the last transaction
    CHECK_INT(store_object_put_from(s, name, total, s_pattern_fn, &src, &err), EIO);
    CHECK_CONTAINS(err.msg, "reading its bytes");
    uint64_t size = 0;
    CHECK_INT(store_object_size(s, NULL, name, &size, &err), MLOPS_ENOTFOUND);
    uint8_t b;
    CHECK_INT(store_object_read(s, name, 0, &b, 1, &size, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_object_size(s, NULL, "not-a-hash", &size, &err), MLOPS_EINVAL);
    char hash[65], want[65];
    CHECK_INT(store_object_put(s, NULL, (const uint8_t *)"abc", 3, hash, &err), 0);
    hash_sha256_hex("abc", 3, want);
    CHECK_STR(hash, want);
    CHECK_INT(store_object_read(s, hash, 1, &b, 1, &size, &err), 0);
    CHECK_INT(b, 'b');
    CHECK_INT(size, 3);
    store_destroy(&s);
    s_rmrf(base);
}

//  Collection: objects named by a run (dataset, queued source), a version
//  (artifact, dataset) or a stage output stay; the others go, chunks and
//  all, within the bound; an object still being written (chunks, no size
//  record) is never touched.
static void s_put_object(store_t *s, const char *text, size_t repeat, char hash[65])
{
    size_t n = strlen(text) * repeat;
    uint8_t *bytes = malloc(n + 1);
    for (size_t i = 0; i < repeat; i++)
        memcpy(bytes + i * strlen(text), text, strlen(text));
    mlops_err_t err;
    CHECK_INT(store_object_put(s, NULL, bytes, n, hash, &err), 0);
    free(bytes);
}

static void test_object_collection(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    char data[65], queued[65], output[65], artifact[65], trained[65], gone1[65], gone2[65];
    s_put_object(s, "dataset", 1, data);
    s_put_object(s, "queued source", 1, queued);
    s_put_object(s, "recipe", 1, output);
    s_put_object(s, "artifact", 1, artifact);
    s_put_object(s, "old dataset", 1, trained);
    s_put_object(s, "unnamed, three chunks and a bit ", 100000, gone1);
    s_put_object(s, "unnamed", 1, gone2);
    //  an upload cut short in its second transaction: chunks, no size record
    uint64_t total = (STORE_OBJECT_TXN_BYTES / STORE_OBJECT_CHUNK_BYTES + 2) * STORE_OBJECT_CHUNK_BYTES;
    s_pattern_t src = {total - 5};
    const char *partial = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    CHECK_INT(store_object_put_from(s, partial, total, s_pattern_fn, &src, &err), EIO);
    run_t run = {.id = 1, .state = RUN_SUCCEEDED};
    snprintf(run.dataset_hash, sizeof run.dataset_hash, "%s", data);
    snprintf(run.source, sizeof run.source, "x.csv");
    CHECK_INT(store_run_put(s, NULL, &run, &err), 0);
    run_t waiting = {.id = 2, .state = RUN_QUEUED};
    snprintf(waiting.source, sizeof waiting.source, "dataset:%s", queued);
    CHECK_INT(store_run_put(s, NULL, &waiting, &err), 0);
    version_t v = {.version = 1, .stage = VERSION_PRODUCTION};
    snprintf(v.sha256, sizeof v.sha256, "%s", artifact);
    snprintf(v.dataset_hash, sizeof v.dataset_hash, "%s", trained);
    CHECK_INT(store_version_put(s, NULL, &v, &err), 0);
    char out[200];   //  a stage output: {"v": 2, "recipe": {"hash": ..., "size": 6}}
    int n = snprintf(out, sizeof out, "\x82\xa1v\x02\xa6recipe\x82\xa4hash\xd9\x40%s\xa4size\x06", output);
    CHECK_INT(store_blob_put(s, NULL, "1-preprocess", (const uint8_t *)out, (size_t)n, &err), 0);
    store_object_stats_t before, after;
    CHECK_INT(store_object_stats(s, NULL, &before, &err), 0);
    CHECK_INT(before.objects, 7);
    //  a bound of one record: the small one goes first (hash order decides
    //  which), the walk stops at the next and says there is more
    store_collect_t got;
    CHECK_INT(store_object_collect(s, NULL, 1, &got, &err), 0);
    CHECK_INT(got.objects, 1);
    CHECK(got.more);
    store_collect_t rest;
    CHECK_INT(store_object_collect(s, NULL, 0, &rest, &err), 0);
    CHECK_INT(got.objects + rest.objects, 2);
    CHECK_INT(got.bytes + rest.bytes, 32 * 100000 + 7);
    CHECK(!rest.more);
    CHECK_INT(store_object_stats(s, NULL, &after, &err), 0);
    CHECK_INT(after.objects, 5);
    CHECK_INT(after.bytes, before.bytes - 32 * 100000 - 7);
    CHECK_INT(after.chunks, before.chunks - 4 - 1);   //  the partial upload's 16 stay
    const char *kept[] = {data, queued, output, artifact, trained};
    uint64_t size;
    for (size_t i = 0; i < 5; i++)
        CHECK_INT(store_object_size(s, NULL, kept[i], &size, &err), 0);
    CHECK_INT(store_object_size(s, NULL, gone1, &size, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_object_size(s, NULL, gone2, &size, &err), MLOPS_ENOTFOUND);
    //  nothing more to do; the run goes, and its dataset with the next pass
    CHECK_INT(store_object_collect(s, NULL, 0, &rest, &err), 0);
    CHECK_INT(rest.objects, 0);
    CHECK_INT(store_run_delete(s, NULL, 1, &err), 0);
    CHECK_INT(store_object_collect(s, NULL, 0, &rest, &err), 0);
    CHECK_INT(rest.objects, 1);
    CHECK_INT(store_object_size(s, NULL, data, &size, &err), MLOPS_ENOTFOUND);
    //  a stage output that does not decode: nothing is removed
    CHECK_INT(store_blob_put(s, NULL, "2-extract", (const uint8_t *)"\xc1", 1, &err), 0);
    CHECK_INT(store_version_delete(s, NULL, 1, &err), 0);
    CHECK_INT(store_object_collect(s, NULL, 0, &rest, &err), 0);
    CHECK_INT(rest.objects, 0);
    CHECK_INT(rest.skipped, MLOPS_EPROTO);
    store_destroy(&s);
    s_rmrf(base);
}

//  Task logs: by task and attempt; a run's logs go together, and only
//  that run's (the prefix "1-" is not "10-"); bad keys are refused.
static void test_task_logs(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    mlops_err_t err;
    store_t *s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    const char *keys[] = {"1-extract", "1-train-forest", "10-extract", "2-extract"};
    for (size_t i = 0; i < 4; i++)
        for (int a = 1; a <= 2; a++)
            CHECK_INT(store_log_put(s, NULL, keys[i], a, (const uint8_t *)"lines", 5, &err), 0);
    uint8_t *data = NULL;
    size_t len = 0, gone = 0;
    CHECK_INT(store_log_get(s, NULL, "1-train-forest", 2, &data, &len, &err), 0);
    CHECK(len == 5 && memcmp(data, "lines", 5) == 0);
    free(data);
    CHECK_INT(store_log_get(s, NULL, "1-train-forest", 3, &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no log of 1-train-forest attempt 3");
    CHECK_INT(store_log_put(s, NULL, "1-x", 0, (const uint8_t *)"", 0, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "log attempt 0 outside 1..999");
    store_txn_t *txn = store_begin(s, &err);
    CHECK_INT(store_log_delete_run(s, txn, 1, &gone, &err), 0);
    CHECK_INT(gone, 4);
    CHECK_INT(store_commit(&txn, &err), 0);
    CHECK_INT(store_log_get(s, NULL, "1-extract", 1, &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_log_get(s, NULL, "10-extract", 2, &data, &len, &err), 0);
    free(data);
    CHECK_INT(store_log_delete_run(s, NULL, 2, &gone, &err), 0);
    CHECK_INT(gone, 2);   //  the last keys of the database
    CHECK_INT(store_log_delete_run(s, NULL, 2, &gone, &err), 0);
    CHECK_INT(gone, 0);
    store_destroy(&s);
    //  a store made before the logs database (dropped here by hand) opens
    //  and gains it, empty; what it held is still there
    MDB_env *env;
    MDB_txn *raw;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 16);
    CHECK_INT(mdb_env_open(env, dir, 0, 0600), 0);
    CHECK_INT(mdb_txn_begin(env, NULL, 0, &raw), 0);
    CHECK_INT(mdb_dbi_open(raw, "logs", 0, &dbi), 0);
    CHECK_INT(mdb_drop(raw, dbi, 1), 0);
    CHECK_INT(mdb_txn_commit(raw), 0);
    mdb_env_close(env);
    s = store_open(dir, NULL, &err);
    CHECK(s != NULL);
    CHECK_INT(store_log_get(s, NULL, "10-extract", 2, &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_log_put(s, NULL, "11-extract", 1, (const uint8_t *)"x", 1, &err), 0);
    store_destroy(&s);
    s_rmrf(base);
}

//  A write the environment refuses is the store's fault, with what to do,
//  until a commit succeeds: the map full at its maximum, and a disk that
//  fails (store_inject_fault) in a caller's transaction and in one of the
//  store's own. A map that may still grow is no fault.
static void test_fault_names_the_cause_until_a_commit(void)
{
    char base[64], dir[96];
    s_tmpdir(base, dir);
    store_options_t opts = {.map_bytes = 64 << 10, .max_bytes = 256 << 10};
    mlops_err_t err, fault;
    store_t *s = store_open(dir, &opts, &err);
    CHECK(s != NULL);
    static uint8_t blob[1 << 20];
    CHECK_INT(store_fault(s, &fault), 0);
    store_txn_t *txn = store_begin(s, &err);
    CHECK(txn != NULL);
    CHECK_INT(store_blob_put(s, txn, "big", blob, sizeof blob, &err), MLOPS_EMAPFULL);
    store_abort(&txn);
    CHECK_INT(store_fault(s, NULL), 0);               //  not at its maximum yet: grow and redo
    CHECK_INT(store_blob_put(s, NULL, "big", blob, sizeof blob, &err), MLOPS_EMAPFULL);
    CHECK_INT(store_fault(s, &fault), MLOPS_EMAPFULL);
    CHECK_CONTAINS(fault.msg, "store full: raise --store-size or free space in ");
    CHECK_CONTAINS(fault.msg, "maximum size of 256 KiB");
    CHECK_INT(store_blob_put(s, NULL, "small", blob, 100, &err), 0);
    CHECK_INT(store_fault(s, NULL), 0);               //  a commit: over

    store_inject_fault(s, ENOSPC);
    txn = store_begin(s, &err);
    CHECK(txn != NULL);
    CHECK_INT(store_blob_put(s, txn, "a", blob, 10, &err), 0);
    CHECK_INT(store_commit(&txn, &err), ENOSPC);
    CHECK_INT(store_fault(s, &fault), ENOSPC);
    CHECK_CONTAINS(fault.msg, "disk full: free space on the file system of ");
    store_inject_fault(s, EIO);
    CHECK_INT(store_blob_put(s, NULL, "a", blob, 10, &err), EIO);
    CHECK_INT(store_fault(s, &fault), EIO);
    CHECK_CONTAINS(fault.msg, "store I/O error: check the disk under ");
    uint8_t *data;
    size_t len;
    CHECK_INT(store_blob_get(s, NULL, "a", &data, &len, &err), MLOPS_ENOTFOUND);
    store_inject_fault(s, 0);
    CHECK_INT(store_blob_put(s, NULL, "a", blob, 10, &err), 0);
    CHECK_INT(store_fault(s, NULL), 0);
    store_destroy(&s);
    s_rmrf(base);
}

int main(void)
{
    RUN(test_open_creates_private_dir_and_files);
    RUN(test_second_open_is_refused);
    RUN(test_nested_begin_asserts);
    RUN(test_open_rejects_bad_paths);
    RUN(test_open_unwritable_dir_as_nobody);
    RUN(test_open_refuses_loose_permissions);
    RUN(test_put_get_every_db);
    RUN(test_task_logs);
    RUN(test_run_list_newest_first_with_limit);
    RUN(test_counters_monotonic_across_reopen);
    RUN(test_txn_commits_all_or_nothing);
    RUN(test_map_grows_by_itself);
    RUN(test_get_inside_txn_reads_own_writes);
    RUN(test_get_inside_failed_txn_is_refused);
    RUN(test_map_full_at_max);
    RUN(test_fault_names_the_cause_until_a_commit);
    RUN(test_callers_txn_redone_after_full_map);
    RUN(test_begin_grows_ahead_of_need);
    RUN(test_reads_from_another_thread_during_growth);
    RUN(test_foreign_lmdb_refused);
    RUN(test_garbage_file_refused);
    RUN(test_undecodable_record_is_corrupt);
    RUN(test_sigkill_mid_write_loses_nothing_committed);
    RUN(test_object_put_from_grows_the_map);
    RUN(test_object_cut_short_is_invisible);
    RUN(test_object_collection);
    return TEST_REPORT("test_store");
}
