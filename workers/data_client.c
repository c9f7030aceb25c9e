/*  data_client.c: see data_client.h. */
#include <czmq.h>

#include "data_client.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curve.h"
#include "data_io.h"
#include "log.h"
#include "progress.h"

struct data_client {
    char *endpoint;               //  owned
    curve_t *curve;               //  client side, maybe off
    zsock_t *dealer;              //  to the service
    zpoller_t *poller;
    uint64_t fetched;             //  chunk bytes received
    uint64_t put_chunks;          //  upload chunks sent
    uint64_t exit_after;          //  MLOPS_DATA_PUT_EXIT_AFTER (see data_client.h), 0 = off
    int timeout_ms;               //  longest wait for one answer
};

//  A fresh DEALER: after a failed transfer, answers still on their way
//  go to the old identity and are never mistaken for new ones.
static int s_open(data_client_t *self, mlops_err_t *err)
{
    zpoller_destroy(&self->poller);
    zsock_destroy(&self->dealer);
    self->dealer = zsock_new(ZMQ_DEALER);
    if (!self->dealer)
        return mlops_err_set(err, MLOPS_ENOMEM, "cannot create a socket");
    zsock_set_linger(self->dealer, 0);
    zsock_set_maxmsgsize(self->dealer, (int)DATA_MSG_MAX_BYTES);
    curve_apply_client(self->curve, self->dealer);
    if (zsock_connect(self->dealer, "%s", self->endpoint) < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "cannot connect to the data service %s: %s",
                             self->endpoint, zmq_strerror(zmq_errno()));
    self->poller = zpoller_new(self->dealer, NULL);
    return 0;
}

data_client_t *data_client_new(const char *endpoint, mlops_err_t *err)
{
    data_client_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    self->endpoint = strdup(endpoint);
    self->timeout_ms = DATA_CLIENT_TIMEOUT_MSEC;
    const char *exit_after = getenv("MLOPS_DATA_PUT_EXIT_AFTER");
    self->exit_after = exit_after ? strtoull(exit_after, NULL, 10) : 0;
    self->curve = self->endpoint ? curve_new_from_env(err) : NULL;
    if (!self->endpoint || !self->curve || s_open(self, err)) {
        data_client_destroy(&self);
        return NULL;
    }
    return self;
}

void data_client_destroy(data_client_t **p)
{
    if (!p || !*p)
        return;
    data_client_t *self = *p;
    zpoller_destroy(&self->poller);
    zsock_destroy(&self->dealer);
    curve_destroy(&self->curve);
    free(self->endpoint);
    free(self);
    *p = NULL;
}

const char *data_client_endpoint(const data_client_t *self)
{
    return self->endpoint;
}

void data_client_set_timeout(data_client_t *self, int msec)
{
    assert(self && msec > 0);
    self->timeout_ms = msec;
}

uint64_t data_client_fetched_bytes(const data_client_t *self)
{
    return self->fetched;
}

/* --- one request, one answer -------------------------------------------------- */

static int s_send(data_client_t *self, const data_header_t *h, const void *chunk, mlops_err_t *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (data_header_encode(h, &bytes, &len) != 0)
        return mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, bytes, len);
    free(bytes);
    if (h->cmd == DATA_PUT)   //  a PUT always has its chunk frame, maybe empty
        zmsg_addmem(msg, chunk, (size_t)h->size);
    return zmsg_send(&msg, self->dealer) == 0
               ? 0
               : mlops_err_set(err, MLOPS_ETIMEOUT, "cannot send to the data service %s",
                               self->endpoint);
}

//  The next answer: its header, and its chunk when it has one (*chunk,
//  the caller destroys). An ERROR answer is returned as such.
static int s_recv(data_client_t *self, data_header_t *h, zframe_t **chunk, mlops_err_t *err)
{
    if (!zpoller_wait(self->poller, self->timeout_ms))
        return mlops_err_set(err, zpoller_terminated(self->poller) ? MLOPS_ESTATE : MLOPS_ETIMEOUT,
                             "the data service %s did not answer within %d ms", self->endpoint,
                             self->timeout_ms);
    zmsg_t *msg = zmsg_recv(self->dealer);
    zframe_t *head = msg ? zmsg_pop(msg) : NULL;
    *chunk = msg ? zmsg_pop(msg) : NULL;
    mlops_err_t sub;
    mlops_err_clear(&sub);
    int rc = head ? data_header_decode(zframe_data(head), zframe_size(head), h, &sub) : MLOPS_EPROTO;
    zframe_destroy(&head);
    zmsg_destroy(&msg);
    if (rc) {
        zframe_destroy(chunk);
        return mlops_err_set(err, MLOPS_EPROTO, "a bad answer from the data service: %s",
                             mlops_err_text(&sub, rc));
    }
    return 0;
}

/* --- fetch ---------------------------------------------------------------------- */

static int s_get(data_client_t *self, const char *hash, uint64_t offset, uint64_t size,
                 mlops_err_t *err)
{
    data_header_t h = {.v = DATA_VERSION, .cmd = DATA_GET, .offset = offset, .size = size};
    snprintf(h.hash, sizeof h.hash, "%s", hash);
    return s_send(self, &h, NULL, err);
}

//  An answer to one of our GETs of hash: its chunk copied into buf.
static int s_take_chunk(data_client_t *self, const char *hash, uint8_t *buf, uint64_t total,
                        mlops_err_t *err)
{
    data_header_t h;
    zframe_t *chunk = NULL;
    int rc = s_recv(self, &h, &chunk, err);
    if (rc == 0 && h.cmd == DATA_ERROR)
        rc = mlops_err_set(err, strcmp(h.code, DATA_ERR_NOT_FOUND) == 0 ? MLOPS_ENOTFOUND : MLOPS_ESTORE,
                           "blob %.12s: %s", hash, h.error);
    else if (rc == 0 && (h.cmd != DATA_CHUNK || strcmp(h.hash, hash) != 0 || !chunk
                         || zframe_size(chunk) != h.size || h.total != total
                         || h.offset > total || h.size > total - h.offset))
        rc = mlops_err_set(err, MLOPS_EPROTO, "blob %.12s: an answer that is not its chunk", hash);
    if (rc == 0) {
        memcpy(buf + h.offset, zframe_data(chunk), (size_t)h.size);
        self->fetched += h.size;
    }
    zframe_destroy(&chunk);
    return rc;
}

//  The blob's size: a GET of 0 bytes.
static int s_stat(data_client_t *self, const char *hash, uint64_t *total, mlops_err_t *err)
{
    data_header_t h;
    zframe_t *chunk = NULL;
    int rc = s_get(self, hash, 0, 0, err);
    if (rc == 0)
        rc = s_recv(self, &h, &chunk, err);
    zframe_destroy(&chunk);
    if (rc == 0 && h.cmd == DATA_ERROR)
        return mlops_err_set(err, strcmp(h.code, DATA_ERR_NOT_FOUND) == 0 ? MLOPS_ENOTFOUND : MLOPS_ESTORE,
                             "blob %.12s: %s", hash, h.error);
    if (rc == 0 && (h.cmd != DATA_CHUNK || strcmp(h.hash, hash) != 0))
        return mlops_err_set(err, MLOPS_EPROTO, "blob %.12s: an answer that is not its size", hash);
    *total = h.total;
    return rc;
}

int data_client_fetch(data_client_t *self, const char *hash, uint8_t **data, size_t *len,
                      mlops_err_t *err)
{
    if (!data_hash_valid(hash))
        return mlops_err_set(err, MLOPS_EPROTO, "'%.70s' is not a blob name", hash);
    uint64_t total = 0;
    int rc = s_stat(self, hash, &total, err);
    if (rc) {
        s_open(self, NULL);
        return rc;
    }
    uint8_t *buf = total < SIZE_MAX ? malloc(total ? (size_t)total : 1) : NULL;
    if (!buf)
        return mlops_err_set(err, MLOPS_ENOMEM, "blob %.12s: no memory for %llu bytes", hash,
                             (unsigned long long)total);
    uint64_t next = 0;
    size_t in_flight = 0;
    while (rc == 0 && (next < total || in_flight > 0)) {
        while (rc == 0 && next < total && in_flight < DATA_WINDOW) {
            uint64_t n = total - next < DATA_CHUNK_MAX_BYTES ? total - next : DATA_CHUNK_MAX_BYTES;
            rc = s_get(self, hash, next, n, err);
            next += n, in_flight++;
        }
        if (rc == 0)
            rc = s_take_chunk(self, hash, buf, total, err);
        in_flight--;
        uint64_t pending = in_flight * DATA_CHUNK_MAX_BYTES;   //  at most: the last may be short
        progress_report(next > pending ? (int64_t)(next - pending) : 0, (int64_t)total, "bytes");
        if (rc == 0 && progress_cancelled())   //  the task was cancelled (progress.h)
            rc = mlops_err_set(err, MLOPS_ECANCELED, "fetch of %.12s cancelled", hash);
    }
    char got[HASH_HEX_LEN + 1];
    hash_sha256_hex(buf, (size_t)total, got);
    if (rc == 0 && strcmp(got, hash) != 0)
        rc = mlops_err_set(err, MLOPS_ECORRUPT, "blob %s: the bytes received hash to %s", hash,
                           got);
    if (rc) {
        free(buf);
        s_open(self, NULL);
        return rc;
    }
    *data = buf;
    *len = (size_t)total;
    return 0;
}

/* --- upload --------------------------------------------------------------------- */

//  An answer to one of our PUTs: ACK (more credit), STORED (done) or ERROR.
static int s_take_ack(data_client_t *self, const char *hash, bool *stored, mlops_err_t *err)
{
    data_header_t h;
    zframe_t *chunk = NULL;
    int rc = s_recv(self, &h, &chunk, err);
    zframe_destroy(&chunk);
    if (rc)
        return rc;
    if (h.cmd == DATA_ERROR)
        return mlops_err_set(err, MLOPS_ESTORE, "upload of %.12s refused (%s): %s", hash, h.code,
                             h.error);
    if ((h.cmd != DATA_ACK && h.cmd != DATA_STORED) || strcmp(h.hash, hash) != 0)
        return mlops_err_set(err, MLOPS_EPROTO, "upload of %.12s: an answer that is not its own",
                             hash);
    *stored = h.cmd == DATA_STORED;
    return 0;
}

int data_client_put(data_client_t *self, const uint8_t *data, size_t len,
                    char hash[HASH_HEX_LEN + 1], mlops_err_t *err)
{
    hash_sha256_hex(data, len, hash);
    data_header_t h = {.v = DATA_VERSION, .cmd = DATA_PUT, .total = len};
    snprintf(h.hash, sizeof h.hash, "%s", hash);
    int rc = 0;
    bool stored = false;
    size_t in_flight = 0;
    uint64_t next = 0;
    do {
        //  the first PUT goes alone: a blob already stored is answered at once
        size_t window = next == 0 ? 1 : DATA_WINDOW;
        while (rc == 0 && !stored && (next < len || next == 0) && in_flight < window) {
            h.offset = next;
            h.size = len - next < DATA_CHUNK_MAX_BYTES ? len - next : DATA_CHUNK_MAX_BYTES;
            rc = s_send(self, &h, data + next, err);
            next += h.size, in_flight++;
            if (self->exit_after && ++self->put_chunks == self->exit_after)
                _exit(3);   //  fault injection: an upload cut half-way (data_client.h)
            if (len == 0)
                break;
        }
        if (rc == 0)
            rc = s_take_ack(self, hash, &stored, err);
        in_flight--;
        progress_report((int64_t)next, (int64_t)len, "bytes");
        if (rc == 0 && !stored && progress_cancelled())   //  the task was cancelled (progress.h)
            rc = mlops_err_set(err, MLOPS_ECANCELED, "upload of %.12s cancelled", hash);
    } while (rc == 0 && !stored && (in_flight > 0 || next < len));
    if (rc)
        s_open(self, NULL);   //  answers still on their way go to the old socket
    if (rc == 0 && !stored)
        rc = mlops_err_set(err, MLOPS_EPROTO, "upload of %.12s: no STORED after the last chunk",
                           hash);
    return rc;
}
