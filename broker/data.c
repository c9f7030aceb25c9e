/*  data.c: the data service (data.h). One actor thread: a zpoller over the
    pipe from the broker and the ROUTER, one function per message type.
    GETs are stateless (the client's requests are its credit); an upload
    is the only state, kept per client identity and hash. */
#include <czmq.h>

#include "data.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data_io.h"
#include "endpoint.h"
#include "hash.h"
#include "log.h"

#define S_EXPIRE_EVERY_MSEC 1000    //  how often idle uploads are looked for

//  One upload in progress.
typedef struct {
    char key[2 * 256 + HASH_HEX_LEN + 2]; //  client identity (hex) + "/" + hash
    char hash[HASH_HEX_LEN + 1];   //  the name it is sent under
    char path[PATH_MAX];           //  spool file
    int fd;                        //  open on path
    hash_ctx_t sha;                //  of the bytes so far
    uint64_t received, total;      //  bytes in, bytes declared
    int64_t last_mono;             //  last chunk, for expiry
} s_upload_t;

//  What the actor thread owns.
typedef struct {
    store_t *store;                //  shared with the broker's loop
    curve_t *curve;                //  read only
    const char *endpoint;          //  to bind
    const char *spool;             //  spool directory
    zsock_t *router;               //  the service socket
    zhashx_t *uploads;             //  key -> s_upload_t, freed by the hash
    uint64_t n_spooled;            //  spool file names
    char bound[ENDPOINT_MAX];      //  what bind gave
    int bind_errno;                //  why the start failed, 0 = it did not
} s_service_t;

struct data {
    zactor_t *actor;
    s_service_t svc;               //  the actor's, readable once it started
    char *spool;                   //  owned
    char *endpoint;                //  owned
};

/* --- uploads ----------------------------------------------------------------- */

static void s_upload_free(void **item)
{
    s_upload_t *u = *item;
    if (!u)
        return;
    close(u->fd);
    unlink(u->path);
    hash_abandon(&u->sha);
    free(u);
    *item = NULL;
}

static void s_upload_key(char *key, size_t size, zframe_t *id, const char *hash)
{
    char *hex = zframe_strhex(id);
    snprintf(key, size, "%.512s/%s", hex ? hex : "", hash);
    free(hex);
}

static s_upload_t *s_upload_begin(s_service_t *svc, const char *key, const data_header_t *h,
                                  data_header_t *err)
{
    if (zhashx_size(svc->uploads) >= DATA_UPLOADS_MAX) {
        data_header_error(err, h, DATA_ERR_BUSY, "%d uploads in progress: retry later",
                          DATA_UPLOADS_MAX);
        return NULL;
    }
    s_upload_t *u = calloc(1, sizeof *u);
    if (!u || hash_init(&u->sha) != 0) {
        free(u);
        data_header_error(err, h, DATA_ERR_STORE, "out of memory");
        return NULL;
    }
    snprintf(u->key, sizeof u->key, "%s", key);
    memcpy(u->hash, h->hash, sizeof u->hash);
    snprintf(u->path, sizeof u->path, "%s/%llu.part", svc->spool,
             (unsigned long long)++svc->n_spooled);
    u->total = h->total;
    u->fd = open(u->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        data_header_error(err, h, DATA_ERR_STORE, "cannot spool: %s", strerror(errno));
        hash_abandon(&u->sha);
        free(u);
        return NULL;
    }
    zhashx_update(svc->uploads, key, u);   //  replaces (and frees) an earlier one
    return u;
}

static int s_spool_read_fn(void *arg, uint64_t offset, void *buf, size_t len)
{
    s_upload_t *u = arg;
    for (size_t done = 0; done < len;) {
        ssize_t n = pread(u->fd, (char *)buf + done, len - done, (off_t)(offset + done));
        if (n <= 0)
            return n < 0 ? errno : EIO;
        done += (size_t)n;
    }
    return 0;
}

//  The last chunk is in: the name must be the bytes' sha256; then the
//  object is written and becomes visible. Answers STORED or ERROR.
static void s_upload_finish(s_service_t *svc, s_upload_t *u, data_header_t *reply)
{
    char got[HASH_HEX_LEN + 1];
    hash_final_hex(&u->sha, got);
    data_header_t about = {.offset = u->received};
    memcpy(about.hash, u->hash, sizeof about.hash);
    mlops_err_t err;
    mlops_err_clear(&err);
    if (strcmp(got, u->hash) != 0)
        data_header_error(reply, &about, DATA_ERR_MISMATCH,
                          "the %llu bytes received have sha256 %.12s, not %.12s",
                          (unsigned long long)u->received, got, u->hash);
    else if (store_object_put_from(svc->store, u->hash, u->total, s_spool_read_fn, u, &err) != 0)
        data_header_error(reply, &about, DATA_ERR_STORE, "%s", mlops_err_text(&err, err.code));
    else
        *reply = (data_header_t){.v = DATA_VERSION, .cmd = DATA_STORED, .total = u->total};
    memcpy(reply->hash, u->hash, sizeof reply->hash);
    if (reply->cmd == DATA_STORED)
        log_info("data: stored %.12s bytes=%llu", u->hash, (unsigned long long)u->total);
    else
        log_warning("data: upload of %.12s refused: %s", u->hash, reply->error);
    zhashx_delete(svc->uploads, u->key);
}

static void s_expire(s_service_t *svc)
{
    int64_t now = zclock_mono();
    zlistx_t *keys = zhashx_keys(svc->uploads);
    for (const char *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
        s_upload_t *u = zhashx_lookup(svc->uploads, k);
        if (u && now - u->last_mono > DATA_UPLOAD_IDLE_MSEC) {
            log_warning("data: upload of %.12s abandoned at %llu of %llu bytes: dropped", u->hash,
                        (unsigned long long)u->received, (unsigned long long)u->total);
            zhashx_delete(svc->uploads, k);
        }
    }
    zlistx_destroy(&keys);
}

/* --- the messages ------------------------------------------------------------ */

static void s_send(s_service_t *svc, zframe_t *id, const data_header_t *h, zframe_t **data)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (data_header_encode(h, &bytes, &len) != 0) {
        log_error("data: cannot encode a %s header", data_cmd_name(h->cmd));
        zframe_destroy(data);
        return;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(id)});
    zmsg_addmem(msg, bytes, len);
    free(bytes);
    if (data && *data)
        zmsg_append(msg, data);
    zmsg_send(&msg, svc->router);
}

static void s_handle_get(s_service_t *svc, zframe_t *id, const data_header_t *h)
{
    data_header_t reply = {.v = DATA_VERSION, .cmd = DATA_CHUNK, .offset = h->offset};
    memcpy(reply.hash, h->hash, sizeof reply.hash);
    zframe_t *chunk = zframe_new(NULL, (size_t)h->size);
    mlops_err_t err;
    mlops_err_clear(&err);
    int rc = chunk ? store_object_read(svc->store, h->hash, h->offset, zframe_data(chunk),
                                       (size_t)h->size, &reply.total, &err)
                   : MLOPS_ENOMEM;
    if (rc == 0) {
        reply.size = h->size;
        s_send(svc, id, &reply, &chunk);
        return;
    }
    zframe_destroy(&chunk);
    data_header_error(&reply, h,
                      rc == MLOPS_ENOTFOUND ? DATA_ERR_NOT_FOUND
                      : rc == MLOPS_EINVAL  ? DATA_ERR_INVALID
                                            : DATA_ERR_STORE,
                      "%s", mlops_err_text(&err, rc));
    s_send(svc, id, &reply, NULL);
}

//  One PUT: begins an upload at offset 0 (or answers STORED at once when
//  the object is already there), else continues the upload in order.
static void s_handle_put(s_service_t *svc, zframe_t *id, const data_header_t *h, zframe_t *chunk)
{
    char key[sizeof ((s_upload_t *)0)->key];
    s_upload_key(key, sizeof key, id, h->hash);
    data_header_t reply = {.v = DATA_VERSION, .cmd = DATA_ACK};
    memcpy(reply.hash, h->hash, sizeof reply.hash);
    uint64_t have = 0;
    s_upload_t *u = zhashx_lookup(svc->uploads, key);
    if (h->offset == 0 && store_object_size(svc->store, NULL, h->hash, &have, NULL) == 0) {
        zhashx_delete(svc->uploads, key);
        reply.cmd = DATA_STORED;
        reply.total = have;
        s_send(svc, id, &reply, NULL);
        return;
    }
    if (!chunk || zframe_size(chunk) != h->size)
        data_header_error(&reply, h, DATA_ERR_INVALID, "PUT needs one frame of size %llu after "
                          "its header", (unsigned long long)h->size);
    else if (h->total > DATA_BLOB_MAX_BYTES)
        data_header_error(&reply, h, DATA_ERR_TOO_BIG, "a blob of %llu bytes is over the limit",
                          (unsigned long long)h->total);
    else if (h->offset == 0)
        u = s_upload_begin(svc, key, h, &reply);
    else if (!u || u->received != h->offset)
        data_header_error(&reply, h, DATA_ERR_ORDER, "no upload of %.12s waits for offset %llu",
                          h->hash, (unsigned long long)h->offset);
    if (u && reply.cmd != DATA_ERROR && (h->total != u->total || h->offset + h->size > u->total))
        data_header_error(&reply, h, DATA_ERR_TOO_BIG, "%llu bytes at %llu run past the declared "
                          "total of %llu", (unsigned long long)h->size, (unsigned long long)h->offset,
                          (unsigned long long)u->total);
    if (u && reply.cmd != DATA_ERROR && h->size
        && pwrite(u->fd, zframe_data(chunk), h->size, (off_t)h->offset) != (ssize_t)h->size)
        data_header_error(&reply, h, DATA_ERR_STORE, "cannot spool: %s", strerror(errno));
    if (reply.cmd == DATA_ERROR) {
        if (u)
            zhashx_delete(svc->uploads, key);
        log_warning("data: PUT of %.12s refused: %s", h->hash, reply.error);
    } else {
        hash_update(&u->sha, zframe_data(chunk), h->size);
        u->received += h->size;
        u->last_mono = zclock_mono();
        reply.offset = u->received;
        if (u->received == u->total)
            s_upload_finish(svc, u, &reply);
    }
    s_send(svc, id, &reply, NULL);
}

static void s_handle_router(s_service_t *svc)
{
    zmsg_t *msg = zmsg_recv(svc->router);
    if (!msg)
        return;
    zframe_t *id = zmsg_pop(msg);
    zframe_t *head = zmsg_pop(msg);
    zframe_t *chunk = zmsg_pop(msg);
    data_header_t h, reply;
    mlops_err_t err;
    mlops_err_clear(&err);
    int rc = head ? data_header_decode(zframe_data(head), zframe_size(head), &h, &err)
                  : mlops_err_set(&err, MLOPS_EPROTO, "a message without a header");
    if (rc == 0 && zmsg_size(msg) > 0)
        rc = mlops_err_set(&err, MLOPS_EPROTO, "more frames than a header and a chunk");
    if (rc == 0 && h.cmd == DATA_GET && !chunk)
        s_handle_get(svc, id, &h);
    else if (rc == 0 && h.cmd == DATA_PUT)
        s_handle_put(svc, id, &h, chunk);
    else {
        if (rc == 0)
            mlops_err_set(&err, MLOPS_EPROTO, "%s is not a request here", data_cmd_name(h.cmd));
        data_header_error(&reply, NULL, DATA_ERR_INVALID, "%s", mlops_err_text(&err, err.code));
        log_warning("data: bad request: %s", reply.error);
        if (id)
            s_send(svc, id, &reply, NULL);
    }
    zframe_destroy(&id);
    zframe_destroy(&head);
    zframe_destroy(&chunk);
    zmsg_destroy(&msg);
}

/* --- the actor --------------------------------------------------------------- */

static int s_start(s_service_t *svc)
{
    svc->router = zsock_new(ZMQ_ROUTER);
    if (!svc->router)
        return -1;
    zsock_set_linger(svc->router, 0);
    zsock_set_maxmsgsize(svc->router, (int)DATA_MSG_MAX_BYTES);
    if (curve_apply_server(svc->curve, svc->router) != 0
        || zsock_bind(svc->router, "%s", svc->endpoint) < 0)
        return -1;
    snprintf(svc->bound, sizeof svc->bound, "%s", zsock_endpoint(svc->router));
    svc->uploads = zhashx_new();
    zhashx_set_destructor(svc->uploads, s_upload_free);
    return 0;
}

static void s_actor_fn(zsock_t *pipe, void *arg)
{
    s_service_t *svc = arg;
    int rc = s_start(svc);
    if (rc)
        svc->bind_errno = zmq_errno() ? zmq_errno() : MLOPS_EINVAL;
    zsock_signal(pipe, 0);
    if (rc) {
        zsock_destroy(&svc->router);
        return;
    }
    zpoller_t *poller = zpoller_new(pipe, svc->router, NULL);
    int64_t next_expire = zclock_mono() + S_EXPIRE_EVERY_MSEC;
    for (;;) {
        void *which = zpoller_wait(poller, S_EXPIRE_EVERY_MSEC);
        if (which == pipe)
            break;   //  $TERM, the only command
        if (which == svc->router)
            s_handle_router(svc);
        else if (zpoller_terminated(poller))
            break;
        if (zclock_mono() >= next_expire) {
            s_expire(svc);
            next_expire = zclock_mono() + S_EXPIRE_EVERY_MSEC;
        }
    }
    zpoller_destroy(&poller);
    zhashx_destroy(&svc->uploads);
    zsock_destroy(&svc->router);
}

//  Makes dir and removes the spool files a crash left in it.
static int s_spool_prepare(const char *dir, mlops_err_t *err)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return mlops_err_set(err, errno, "cannot make %s: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
        return mlops_err_set(err, errno, "cannot read %s: %s", dir, strerror(errno));
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".part"))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    return 0;
}

data_t *data_new(store_t *store, curve_t *curve, const char *endpoint, const char *spool_dir,
                 mlops_err_t *err)
{
    data_t *self = calloc(1, sizeof *self);
    if (!self || s_spool_prepare(spool_dir, err)) {
        if (!self)
            mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        free(self);
        return NULL;
    }
    self->spool = strdup(spool_dir);
    self->endpoint = strdup(endpoint);
    self->svc = (s_service_t){.store = store, .curve = curve, .endpoint = self->endpoint,
                              .spool = self->spool};
    self->actor = self->spool && self->endpoint ? zactor_new(s_actor_fn, &self->svc) : NULL;
    if (!self->actor || self->svc.bind_errno) {
        int why = self->svc.bind_errno ? self->svc.bind_errno : MLOPS_ENOMEM;
        mlops_err_set(err, why, "cannot bind the data socket %s: %s", endpoint,
                      why > 0 ? zmq_strerror(why) : mlops_strerror(why));
        data_destroy(&self);
    }
    return self;
}

const char *data_endpoint(const data_t *self)
{
    return self->svc.bound;
}

void data_destroy(data_t **p)
{
    if (!p || !*p)
        return;
    data_t *self = *p;
    zactor_destroy(&self->actor);
    free(self->spool);
    free(self->endpoint);
    free(self);
    *p = NULL;
}
