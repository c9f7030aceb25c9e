/*  test_data.c: the data service (broker/data.c) with the worker's client
    (workers/data_client.c) over loopback: a blob of several chunks up and
    back, a second upload of it answered at once, and each error path of
    the chunk protocol from a raw DEALER: an unknown hash, a blob larger
    than declared, a hash mismatch, a chunk out of order, a bad header, an
    unknown version, and an upload abandoned half-way then done again by
    another client. Nothing refused becomes visible and the service keeps
    answering. */
#include <czmq.h>

#include "data.h"
#include "data_client.h"
#include "data_io.h"
#include "hash.h"
#include "testing.h"

#include "data_fixtures.h"


static uint8_t *s_bytes(size_t len)
{
    uint8_t *b = malloc(len);
    for (size_t i = 0; i < len; i++)
        b[i] = (uint8_t)((i * 131) >> 5);
    return b;
}

//  A raw request from sock; the answer's header (code "no answer" when
//  none came or it did not decode, so the caller's check names it).
static data_header_t s_ask(zsock_t *sock, data_header_t h, const void *chunk, size_t chunk_len)
{
    h.v = h.v ? h.v : DATA_VERSION;
    data_header_t out = {.cmd = DATA_CMD_COUNT, .code = "no answer"};
    uint8_t *bytes;
    size_t len;
    if (data_header_encode(&h, &bytes, &len) != 0)
        return out;
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, bytes, len);
    free(bytes);
    if (chunk)
        zmsg_addmem(msg, chunk, chunk_len);
    zmsg_send(&msg, sock);
    zsock_set_rcvtimeo(sock, 10000);
    msg = zmsg_recv(sock);
    zframe_t *head = msg ? zmsg_pop(msg) : NULL;
    mlops_err_t err;
    if (!head || data_header_decode(zframe_data(head), zframe_size(head), &out, &err) != 0)
        out = (data_header_t){.cmd = DATA_CMD_COUNT, .code = "no answer"};
    zframe_destroy(&head);
    zmsg_destroy(&msg);
    return out;
}

static data_header_t s_put(zsock_t *sock, const char *hash, uint64_t offset, const void *chunk,
                           size_t len, uint64_t total)
{
    data_header_t h = {.cmd = DATA_PUT, .offset = offset, .size = len, .total = total};
    snprintf(h.hash, sizeof h.hash, "%s", hash);
    return s_ask(sock, h, chunk, len);
}

static void test_blob_round_trip_and_dedup(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "data"), 0);
    mlops_err_t err;
    data_client_t *c = fx.client;
    size_t len = 3 * DATA_CHUNK_MAX_BYTES + 777;
    uint8_t *blob = s_bytes(len), *back = NULL;
    char hash[65], want[65];
    hash_sha256_hex(blob, len, want);
    CHECK_INT(data_client_put(c, blob, len, hash, &err), 0);
    CHECK_STR(hash, want);
    size_t back_len = 0;
    CHECK_INT(data_client_fetch(c, hash, &back, &back_len, &err), 0);
    CHECK_INT(back_len, len);
    CHECK(memcmp(back, blob, len) == 0);
    CHECK_INT(data_client_fetched_bytes(c), len);
    free(back);
    //  a second upload of the same bytes is answered STORED at its first PUT
    CHECK_INT(data_client_put(c, blob, len, hash, &err), 0);
    uint64_t total = 0;
    CHECK_INT(store_object_size(fx.store, NULL, hash, &total, &err), 0);
    CHECK_INT(total, len);
    //  an empty blob is a blob
    CHECK_INT(data_client_put(c, NULL, 0, hash, &err), 0);
    CHECK_INT(data_client_fetch(c, hash, &back, &back_len, &err), 0);
    CHECK_INT(back_len, 0);
    free(back);
    free(blob);
    dfx_down(&fx);
}

static void test_unknown_hash(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "data"), 0);
    mlops_err_t err;
    data_client_t *c = fx.client;
    uint8_t *back = NULL;
    size_t len = 0;
    char none[65];
    hash_sha256_hex("none", 4, none);
    CHECK_INT(data_client_fetch(c, none, &back, &len, &err), MLOPS_ENOTFOUND);
    CHECK_CONTAINS(err.msg, "no object");
    CHECK_INT(data_client_fetch(c, "../etc/passwd", &back, &len, &err), MLOPS_EPROTO);
    dfx_down(&fx);
}

//  Each refusal of a PUT, from a raw DEALER; nothing refused is visible.
static void test_upload_refusals(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "data"), 0);
    zsock_t *raw = zsock_new_dealer(data_endpoint(fx.data));
    mlops_err_t err;
    uint64_t total;
    uint8_t *b = s_bytes(100);
    char hash[65], other[65];
    hash_sha256_hex(b, 100, hash);
    hash_sha256_hex(b, 50, other);
    //  a chunk for an upload that never began
    data_header_t r = s_put(raw, hash, 50, b, 50, 100);
    CHECK_STR(r.code, DATA_ERR_ORDER);
    //  larger than declared
    r = s_put(raw, hash, 0, b, 100, 60);
    CHECK_STR(r.code, DATA_ERR_TOO_BIG);
    //  more than declared, in two chunks
    CHECK_INT(s_put(raw, hash, 0, b, 60, 100).cmd, DATA_ACK);
    r = s_put(raw, hash, 60, b, 60, 100);
    CHECK_STR(r.code, DATA_ERR_TOO_BIG);
    //  the upload was dropped: its next chunk is out of order
    r = s_put(raw, hash, 60, b + 60, 40, 100);
    CHECK_STR(r.code, DATA_ERR_ORDER);
    //  bytes that do not hash to their name
    r = s_put(raw, other, 0, b, 100, 100);
    CHECK_STR(r.code, DATA_ERR_MISMATCH);
    CHECK_CONTAINS(r.error, "have sha256");
    CHECK_INT(store_object_size(fx.store, NULL, other, &total, &err), MLOPS_ENOTFOUND);
    CHECK_INT(store_object_size(fx.store, NULL, hash, &total, &err), MLOPS_ENOTFOUND);
    //  a declared total over the limit
    r = s_put(raw, hash, 0, b, 10, DATA_BLOB_MAX_BYTES + 1);
    CHECK_STR(r.code, DATA_ERR_TOO_BIG);
    //  a GET past the end of a stored blob
    CHECK_INT(s_put(raw, hash, 0, b, 100, 100).cmd, DATA_STORED);
    data_header_t get = {.cmd = DATA_GET, .offset = 90, .size = 20};
    snprintf(get.hash, sizeof get.hash, "%s", hash);
    r = s_ask(raw, get, NULL, 0);
    CHECK_STR(r.code, DATA_ERR_INVALID);
    //  an answer is not a request; another version is refused
    get.cmd = DATA_ACK;
    CHECK_STR(s_ask(raw, get, NULL, 0).code, DATA_ERR_INVALID);
    get.cmd = DATA_GET, get.v = 2;
    r = s_ask(raw, get, NULL, 0);
    CHECK_STR(r.code, DATA_ERR_INVALID);
    CHECK_CONTAINS(r.error, "this peer speaks 1");
    //  a header that is not msgpack
    zstr_send(raw, "hello");
    zmsg_t *m = zmsg_recv(raw);
    CHECK(m != NULL);
    zmsg_destroy(&m);
    free(b);
    zsock_destroy(&raw);
    dfx_down(&fx);
}

//  A client that goes away half-way leaves nothing visible; another
//  client's upload of the same blob then succeeds.
static void test_abandoned_upload_then_retry(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "data"), 0);
    size_t len = 2 * DATA_CHUNK_MAX_BYTES;
    uint8_t *b = s_bytes(len);
    char hash[65];
    hash_sha256_hex(b, len, hash);
    zsock_t *raw = zsock_new_dealer(data_endpoint(fx.data));
    CHECK_INT(s_put(raw, hash, 0, b, DATA_CHUNK_MAX_BYTES, len).cmd, DATA_ACK);
    zsock_destroy(&raw);
    mlops_err_t err;
    uint64_t total;
    CHECK_INT(store_object_size(fx.store, NULL, hash, &total, &err), MLOPS_ENOTFOUND);
    data_client_t *c = fx.client;
    char got[65];
    CHECK_INT(data_client_put(c, b, len, got, &err), 0);
    CHECK_INT(store_object_size(fx.store, NULL, hash, &total, &err), 0);
    CHECK_INT(total, len);
    free(b);
    dfx_down(&fx);
}

static void test_bind_failure(void)
{
    dfx_t fx = {0};
    CHECK_INT(dfx_up(&fx, "data"), 0);
    mlops_err_t err;
    mlops_err_clear(&err);
    data_t *again = data_new(fx.store, fx.curve, data_endpoint(fx.data), fx.spool, &err);
    CHECK(again == NULL);
    CHECK_CONTAINS(err.msg, "cannot bind the data socket");
    dfx_down(&fx);
}

int main(void)
{
    RUN(test_blob_round_trip_and_dedup);
    RUN(test_unknown_hash);
    RUN(test_upload_refusals);
    RUN(test_abandoned_upload_then_retry);
    RUN(test_bind_failure);
    return TEST_REPORT("test_data");
}
