/*  test_batch.c: the broker's commit-then-send batch (broker/batch.c) on a
    real store and an inproc socket pair: nothing is sent before the commit,
    everything after it in order (a payload frame too); the batch's own
    writes are read through its open transaction; a commit that fails sends
    nothing; an abort forgets both the writes and the messages; a message
    for no socket is dropped.
*/
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "testing.h"

typedef struct {
    char dir[64];
    store_t *store;
    batch_t *batch;
    zsock_t *out;                 //  where the batch sends
    zsock_t *in;                  //  what the test reads
} s_fixture_t;

//  A store (map limit max_bytes, 0 = default), a batch over it and a PAIR
//  of inproc sockets. Returns 0, or -1 (reported) when any is missing.
static int s_setup(s_fixture_t *f, const char *endpoint, size_t max_bytes)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mlops-test-batch-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    store_options_t opts = {.no_sync = true, .max_bytes = max_bytes, .map_bytes = max_bytes};
    mlops_err_t err;
    f->store = store_open(f->dir, &opts, &err);
    f->batch = f->store ? batch_new(f->store) : NULL;
    f->in = zsock_new_pair(endpoint);
    f->out = zsock_new(ZMQ_PAIR);
    if (f->out)
        zsock_connect(f->out, "%s", endpoint + 1);   //  "@inproc://x" binds, "inproc://x" connects
    if (f->in)
        zsock_set_rcvtimeo(f->in, 10000);   //  a bug must fail the test, not hang it
    return f->store && f->batch && f->in && f->out ? 0 : -1;
}

static void s_teardown(s_fixture_t *f)
{
    batch_destroy(&f->batch);
    store_destroy(&f->store);
    zsock_destroy(&f->out);
    zsock_destroy(&f->in);
    zdir_t *d = zdir_new(f->dir, NULL);
    zdir_remove(d, true);
    zdir_destroy(&d);
}

static void s_queue_str(batch_t *batch, zsock_t *sock, const char *text)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, text);
    batch_send(batch, sock, &msg);
}

static bool s_waiting(zsock_t *sock)
{
    return (zsock_events(sock) & ZMQ_POLLIN) != 0;
}

//  Messages wait for the commit, then go in the order they were queued; a
//  payload goes as the last frame of its message.
static void test_batch_sends_after_commit_in_order(void)
{
    s_fixture_t f;
    CHECK_INT(s_setup(&f, "@inproc://test-batch-order", 0), 0);
    mlops_err_t err;
    CHECK(batch_txn(f.batch, &err) != NULL);
    CHECK_INT(store_blob_put(f.store, batch_txn(f.batch, &err), "k", (const uint8_t *)"v", 1, &err), 0);
    s_queue_str(f.batch, f.out, "first");
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "envelope");
    uint8_t *payload = malloc(3);
    CHECK(payload);
    memcpy(payload, "abc", 3);
    batch_send_payload(f.batch, f.out, &msg, &payload, 3);
    CHECK(msg == NULL && payload == NULL);           //  taken
    s_queue_str(f.batch, f.out, "third");
    CHECK(!s_waiting(f.in));                         //  nothing before the commit
    CHECK_INT(batch_commit(f.batch, &err), 0);
    CHECK(batch_current_txn(f.batch) == NULL);
    char *text = zstr_recv(f.in);
    CHECK_STR(text, "first");
    zstr_free(&text);
    zmsg_t *got = zmsg_recv(f.in);
    CHECK(got && zmsg_size(got) == 2);
    text = zmsg_popstr(got);
    CHECK_STR(text, "envelope");
    zstr_free(&text);
    zframe_t *frame = zmsg_pop(got);
    CHECK(frame && zframe_size(frame) == 3 && memcmp(zframe_data(frame), "abc", 3) == 0);
    zframe_destroy(&frame);
    zmsg_destroy(&got);
    text = zstr_recv(f.in);
    CHECK_STR(text, "third");
    zstr_free(&text);
    uint64_t commits;
    int64_t usec;
    batch_figures(f.batch, &commits, &usec);
    CHECK_INT(commits, 1);
    CHECK_INT(batch_commit(f.batch, &err), 0);       //  an empty batch: no commit, nothing sent
    batch_figures(f.batch, &commits, &usec);
    CHECK_INT(commits, 1);
    CHECK(!s_waiting(f.in));
    s_teardown(&f);
}

//  What the batch wrote is read through its transaction before the commit,
//  and only there; after the commit, by anyone.
static void test_batch_reads_its_own_writes(void)
{
    s_fixture_t f;
    CHECK_INT(s_setup(&f, "@inproc://test-batch-read", 0), 0);
    mlops_err_t err;
    CHECK(batch_current_txn(f.batch) == NULL);       //  begins nothing by itself
    store_txn_t *txn = batch_txn(f.batch, &err);
    CHECK(txn != NULL);
    CHECK(batch_txn(f.batch, &err) == txn);          //  one transaction per batch
    CHECK(batch_current_txn(f.batch) == txn);
    CHECK_INT(store_dataset_put(f.store, txn, "abc", (const uint8_t *)"table", 5, &err), 0);
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_INT(store_dataset_get(f.store, batch_current_txn(f.batch), "abc", &data, &len, &err), 0);
    CHECK_INT(len, 5);
    free(data);
    CHECK_INT(store_dataset_get(f.store, NULL, "abc", &data, &len, &err), MLOPS_ENOTFOUND);
    CHECK_INT(batch_commit(f.batch, &err), 0);
    CHECK_INT(store_dataset_get(f.store, batch_current_txn(f.batch), "abc", &data, &len, &err), 0);
    free(data);
    s_teardown(&f);
}

//  A commit the store refuses (a write in the batch met the map's limit)
//  returns the store's error and sends nothing; the batch is empty after.
static void test_batch_failed_commit_sends_nothing(void)
{
    s_fixture_t f;
    CHECK_INT(s_setup(&f, "@inproc://test-batch-fail", 64 << 10), 0);
    mlops_err_t err;
    static uint8_t big[1 << 20];
    store_txn_t *txn = batch_txn(f.batch, &err);
    CHECK(txn != NULL);
    CHECK_INT(store_blob_put(f.store, txn, "big", big, sizeof big, &err), MLOPS_EMAPFULL);
    s_queue_str(f.batch, f.out, "announces what was not stored");
    CHECK_INT(batch_commit(f.batch, &err), MLOPS_ESTATE);
    CHECK_CONTAINS(err.msg, "a write in it failed");
    CHECK(batch_current_txn(f.batch) == NULL);
    CHECK_INT(batch_commit(f.batch, &err), 0);       //  the dropped message stays dropped
    CHECK(!s_waiting(f.in));
    s_queue_str(f.batch, f.out, "after");            //  the batch works again
    CHECK_INT(batch_commit(f.batch, &err), 0);
    char *text = zstr_recv(f.in);
    CHECK_STR(text, "after");
    zstr_free(&text);
    s_teardown(&f);
}

//  An abort forgets the writes and the messages; a message for no socket
//  (a detached broker) is dropped at the commit.
static void test_batch_abort_and_no_socket(void)
{
    s_fixture_t f;
    CHECK_INT(s_setup(&f, "@inproc://test-batch-abort", 0), 0);
    mlops_err_t err;
    CHECK_INT(store_blob_put(f.store, batch_txn(f.batch, &err), "k", (const uint8_t *)"v", 1, &err), 0);
    s_queue_str(f.batch, f.out, "never");
    batch_abort(f.batch);
    CHECK(batch_current_txn(f.batch) == NULL);
    batch_abort(f.batch);                            //  nothing open: harmless
    CHECK_INT(batch_commit(f.batch, &err), 0);
    CHECK(!s_waiting(f.in));
    uint8_t *data = NULL;
    size_t len = 0;
    CHECK_INT(store_blob_get(f.store, NULL, "k", &data, &len, &err), MLOPS_ENOTFOUND);
    s_queue_str(f.batch, NULL, "to nobody");
    uint8_t *payload = malloc(4);
    CHECK(payload);
    zmsg_t *msg = zmsg_new();
    batch_send_payload(f.batch, NULL, &msg, &payload, 4);
    CHECK_INT(batch_commit(f.batch, &err), 0);       //  dropped, freed (ASan checks)
    CHECK(!s_waiting(f.in));
    s_queue_str(f.batch, f.out, "left at destroy");  //  destroy frees what waits
    CHECK(batch_txn(f.batch, &err) != NULL);         //  and aborts what is open
    s_teardown(&f);
    batch_destroy(&f.batch);                         //  NULL is fine
}

int main(void)
{
    RUN(test_batch_sends_after_commit_in_order);
    RUN(test_batch_reads_its_own_writes);
    RUN(test_batch_failed_commit_sends_nothing);
    RUN(test_batch_abort_and_no_socket);
    return TEST_REPORT("test_batch");
}
