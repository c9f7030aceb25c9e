/*  infer.c: the serving loop of an inference worker (see infer.h).

    One zmq_poll over the gateway DEALER and the feed pipe; one function per
    message. Each PREDICT is validated against the served model's signature
    and predicted in place; a model posted by the feed replaces the served
    one between two PREDICTs. A PREDICT pinned to another version is served
    by that version: held among the last INFER_PINNED_MAX pinned ones (LRU),
    or fetched by the feed while the PREDICT waits (parked), or answered
    ERROR 404 when the broker has no such version or it does not load. When the gateway has been silent for the
    liveness period the socket is closed and opened again after a back-off
    (PROTOCOL.md section 7); a DISCONNECT from the gateway (it restarted and
    does not know us) gets a new READY at once.
*/
#include "infer.h"

#include "clock.h"
#include "curve.h"
#include "infer_feed.h"
#include "infer_profile.h"
#include "liveness.h"
#include "log.h"
#include "model.h"
#include "msg.h"
#include "prep.h"
#include "task_name.h"
#include "vec.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define RECONNECT_MAX_MSEC 5000     //  longest back-off before reopening (PROTOCOL.md 7)
#define DRAIN_BATCH 256             //  PREDICTs handled before looking at the pipe
#define LOOP_WAIT_MSEC 100          //  longest wait of one loop turn
#define STALL_SLACK_MSEC 100        //  a turn this much over the wait is a stall of ours
#define INFER_PINNED_MAX 4          //  pinned versions held beside the served one
#define INFER_PARKED_MAX 4096       //  PREDICTs waiting for a pinned version to load

typedef struct {
    int64_t version;                          //  0 = empty entry
    model_t *model;                           //  owned
    uint64_t used_seq;                        //  last use, for LRU eviction
} s_pinned_t;

struct infer {
    infer_config_t cfg;                       //  copy (strings borrowed from argv)
    curve_t *curve;                           //  CURVE client settings (maybe none)
    zsock_t *gateway_sock;                    //  DEALER to the backend, NULL while backing off
    void *gateway;                            //  its libzmq handle
    zsock_t *pipe_sock;                       //  PAIR the feed posts models to
    void *pipe;                               //  its libzmq handle
    char pipe_endpoint[64];                   //  its inproc name
    infer_feed_t *feed;                       //  NULL without a broker
    model_t *model;                           //  served model, NULL = none yet
    int64_t version;                          //  its version
    char host[64];                            //  for READY
    int64_t last_sent_ms;                     //  last message to the gateway
    int64_t last_heard_ms;                    //  last message from it
    liveness_t awake;                         //  turns of the loop's timers
    int64_t reopen_at_ms;                     //  when to reopen after a silence
    int64_t backoff_ms;                       //  next back-off
    double *proba;                            //  scratch, cap entries
    int64_t *pred;                            //  scratch, cap entries
    size_t cap;                               //  scratch size
    double *outs;                             //  scratch, outs_cap entries: n x k outputs
    size_t outs_cap;                          //  its size
    prep_cell_t *cells;                       //  scratch, cells_cap: n x n_inputs, for the profile
    size_t cells_cap;                         //  its size
    proto_problem_t problems[PROTO_DETAIL_MAX]; //  validation scratch
    s_pinned_t pinned[INFER_PINNED_MAX];      //  pinned versions held (LRU)
    uint64_t seq;                             //  use counter for the LRU
    VEC(proto_msg_t *) parked;                //  PREDICTs waiting for a pinned version, owned
    volatile sig_atomic_t stop;               //  infer_stop was called
};

static void s_send(infer_t *self, const proto_msg_t *msg)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(msg, &frame, &len);
    if (rc != 0)
        log_error("cannot encode %s: %s", proto_cmd_name(msg->cmd), mlops_strerror(rc));
    else if (self->gateway && zmq_send(self->gateway, frame, len, ZMQ_DONTWAIT) >= 0)
        self->last_sent_ms = clock_mono_ms();
    free(frame);
}

static void s_send_ready(infer_t *self)
{
    proto_msg_t msg = {.cmd = PROTO_READY,
                       .ready = {.stage = "infer", .host = self->host, .pid = getpid(),
                                 .model_version = self->model ? self->version : 0,
                                 .name = self->cfg.name}};
    s_send(self, &msg);
}

//  The served version's signature, for the gateway's V2 metadata and
//  OpenAPI document (PROTOCOL.md, SIGNATURE). Nothing to say without a model.
static void s_send_signature(infer_t *self)
{
    if (!self->model)
        return;
    char *text = model_signature_json(self->model);
    if (!text)
        return;   //  out of memory: the next swap or READY says it again
    proto_msg_t msg = {.cmd = PROTO_SIGNATURE,
                       .signature = {.model_version = self->version, .signature = text}};
    s_send(self, &msg);
    free(text);
}

static void s_send_heartbeat(infer_t *self)
{
    proto_msg_t msg = {.cmd = PROTO_HEARTBEAT,
                       .heartbeat = {.task_id = "", .model_version = self->model ? self->version : 0}};
    s_send(self, &msg);
}

static void s_send_error(infer_t *self, uint64_t req_id, int status, const char *message,
                         const proto_problem_t *detail, size_t n_detail)
{
    proto_msg_t msg = {.cmd = PROTO_ERROR,
                       .error = {.req_id = req_id, .status = status, .message = message,
                                 .detail = detail, .n_detail = n_detail}};
    s_send(self, &msg);
}

static void s_close(infer_t *self)
{
    zsock_destroy(&self->gateway_sock);
    self->gateway = NULL;
}

static int s_open(infer_t *self)
{
    self->gateway_sock = zsock_new(ZMQ_DEALER);
    if (!self->gateway_sock)
        return MLOPS_ENOMEM;
    curve_apply_client(self->curve, self->gateway_sock);
    self->gateway = zsock_resolve(self->gateway_sock);
    int zero = 0, hwm = 1000000;
    zmq_setsockopt(self->gateway, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->gateway, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->gateway, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect(self->gateway, self->cfg.gateway) != 0) {
        int rc = errno;
        s_close(self);
        return rc;
    }
    self->last_heard_ms = clock_mono_ms();
    s_send_ready(self);
    s_send_signature(self);
    return 0;
}

//  Room for n records of k outputs and ni inputs each (outs: n x k;
//  cells: n x ni; proba, pred: n).
static bool s_scratch(infer_t *self, size_t n, size_t k, size_t ni)
{
    if (n * ni > self->cells_cap) {
        prep_cell_t *cells = realloc(self->cells, n * ni * sizeof *cells);
        if (!cells)
            return false;
        self->cells = cells;
        self->cells_cap = n * ni;
    }
    if (n * k > self->outs_cap) {
        double *outs = realloc(self->outs, n * k * sizeof *outs);
        if (!outs)
            return false;
        self->outs = outs;
        self->outs_cap = n * k;
    }
    if (n <= self->cap)
        return true;
    double *proba = realloc(self->proba, n * sizeof *proba);
    if (proba)
        self->proba = proba;
    int64_t *pred = realloc(self->pred, n * sizeof *pred);
    if (pred)
        self->pred = pred;
    if (!proba || !pred)
        return false;
    self->cap = n;
    return true;
}

//  The pinned entry holding version, or NULL.
static s_pinned_t *s_pinned(infer_t *self, int64_t version)
{
    for (int i = 0; i < INFER_PINNED_MAX; i++)
        if (self->pinned[i].version == version && self->pinned[i].model)
            return &self->pinned[i];
    return NULL;
}

//  True when a PREDICT waits for version (the feed was asked already).
static bool s_awaited(const infer_t *self, int64_t version)
{
    for (size_t i = 0; i < self->parked.len; i++)
        if (self->parked.at[i]->predict.version == version)
            return true;
    return false;
}

//  A pinned PREDICT for a version not held: park it and ask the feed (once
//  per version). Returns true when msg was kept (the caller must not free it).
static bool s_park(infer_t *self, proto_msg_t *msg)
{
    uint64_t id = msg->predict.req_id;
    int64_t v = msg->predict.version;
    char why[128];
    if (!self->feed) {
        snprintf(why, sizeof why, "version %" PRId64 " is not held by this worker and it has no "
                 "broker to load it from", v);
        s_send_error(self, id, 404, why, NULL, 0);
        return false;
    }
    bool asked = s_awaited(self, v);
    if (self->parked.len >= INFER_PARKED_MAX || (!asked && !infer_feed_pin(self->pipe, v))
        || vec_push(&self->parked, msg) != 0) {
        s_send_error(self, id, 503, "too many requests wait for pinned versions", NULL, 0);
        return false;
    }
    return true;
}

//  The model a PREDICT asks for: the served one (version 0 or its own) or
//  a pinned one; NULL when it must be fetched first. *version gets its version.
static model_t *s_model_for(infer_t *self, int64_t want, int64_t *version)
{
    *version = self->version;
    if (want == 0 || (self->model && want == self->version))
        return self->model;
    s_pinned_t *p = s_pinned(self, want);
    if (!p)
        return NULL;
    p->used_seq = ++self->seq;
    *version = want;
    return p->model;
}

//  The task's keys of a PREDICTION whose outputs the scratch holds
//  (PROTOCOL.md, PREDICTION): binary, the class of P(1) >= 0.5; multiclass,
//  the most probable class, its probability and all of them with the
//  labels; regression, the values (no class, no probability).
static void s_fill_prediction(infer_t *self, const model_t *model, proto_msg_t *out)
{
    size_t n = out->prediction.n, k = model_outputs(model);
    task_t task = model_task(model);
    for (size_t i = 0; i < n; i++) {
        if (task == TASK_BINARY)
            self->pred[i] = self->proba[i] >= 0.5;
        else if (task == TASK_MULTICLASS) {
            size_t c = model_class_of(self->outs + i * k, k);
            self->pred[i] = (int64_t)c;
            self->proba[i] = self->outs[i * k + c];
        } else {
            self->pred[i] = 0;
            self->outs[i] = NAN;
        }
    }
    if (task == TASK_BINARY)
        return;
    out->prediction.task = task_name(task);
    if (task == TASK_MULTICLASS) {
        out->prediction.classes = model_classes_json(model);
        out->prediction.class_probabilities = self->outs;
        out->prediction.n_class_probabilities = n * k;
    } else {
        out->prediction.values = self->proba;
        out->prediction.n_values = n;
        out->prediction.probabilities = self->outs;
    }
}

//  Answers msg; returns true when it was parked (kept) for a pinned version.
static bool s_handle_predict(infer_t *self, proto_msg_t *msg)
{
    uint64_t id = msg->predict.req_id;
    const proto_record_t *records = msg->predict.records;
    size_t n = msg->predict.n_records;
    int64_t version;
    model_t *model = s_model_for(self, msg->predict.version, &version);
    if (!model && msg->predict.version != 0)
        return s_park(self, msg);
    if (!model) {
        s_send_error(self, id, 503, "no model loaded yet", NULL, 0);
        return false;
    }
    task_t task = model_task(model);
    size_t k = task == TASK_MULTICLASS ? model_outputs(model) : 1;
    if (!s_scratch(self, n, k, model_recipe(model)->n_inputs)) {
        s_send_error(self, id, 500, "out of memory", NULL, 0);
        return false;
    }
    //  One walk checks and predicts: each record is mapped to the signature
    //  once, its cells kept for the profile.
    size_t bad = 0;
    mlops_err_t err;
    int rc = model_serve_cells(model, records, n, self->problems, PROTO_DETAIL_MAX, &bad,
                               task == TASK_MULTICLASS ? self->outs : self->proba, self->cells,
                               &err);
    if (rc != 0) {
        log_warning("prediction failed records=%zu error=%s", n, mlops_err_text(&err, rc));
        s_send_error(self, id, 500, mlops_err_text(&err, rc), NULL, 0);
        return false;
    }
    if (bad) {
        char why[96];
        snprintf(why, sizeof why, "%zu problem%s in %zu record%s", bad, bad == 1 ? "" : "s", n,
                 n == 1 ? "" : "s");
        s_send_error(self, id, 422, why, self->problems, bad < PROTO_DETAIL_MAX ? bad : PROTO_DETAIL_MAX);
        return false;
    }
    proto_msg_t out = {.cmd = PROTO_PREDICTION,
                       .prediction = {.req_id = id, .model_version = version,
                                      .predictions = self->pred, .probabilities = self->proba, .n = n}};
    s_fill_prediction(self, model, &out);
    s_send(self, &out);
    infer_profile_add(infer_profile_process(), version, model, self->cells, n);   //  for drift
    return false;
}

//  A pinned version arrived from the feed (or why it will not): keep it,
//  evicting the least recently used, and answer the PREDICTs waiting for it.
static void s_pin_arrived(infer_t *self, infer_feed_post_t *post)
{
    if (post->model) {
        s_pinned_t *slot = &self->pinned[0];
        for (int i = 1; i < INFER_PINNED_MAX; i++)
            if (self->pinned[i].used_seq < slot->used_seq)
                slot = &self->pinned[i];
        if (slot->model)
            log_info("pinned model evicted version=%" PRId64, slot->version);
        model_destroy(&slot->model);
        *slot = (s_pinned_t){.version = post->version, .model = post->model, .used_seq = ++self->seq};
    }
    size_t kept = 0;
    for (size_t i = 0; i < self->parked.len; i++) {
        proto_msg_t *msg = self->parked.at[i];
        if (msg->predict.version != post->version) {
            self->parked.at[kept++] = msg;
            continue;
        }
        if (post->model)
            s_handle_predict(self, msg);
        else
            s_send_error(self, msg->predict.req_id, post->status, post->why, NULL, 0);
        proto_msg_destroy(&msg);
    }
    self->parked.len = kept;
}

static void s_gateway_drain(infer_t *self)
{
    for (int i = 0; i < DRAIN_BATCH && self->gateway; i++) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, self->gateway, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        self->last_heard_ms = clock_mono_ms();
        self->backoff_ms = 1000;
        mlops_err_t err;
        proto_msg_t *msg = proto_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &err);
        zmq_msg_close(&frame);
        if (!msg) {
            log_warning("gateway frame dropped reason=%s", err.msg);
            continue;
        }
        switch (msg->cmd) {
        case PROTO_PREDICT:
            if (s_handle_predict(self, msg))
                msg = NULL;   //  parked: ours until its version arrives
            break;
        case PROTO_HEARTBEAT: break;
        case PROTO_DISCONNECT:
            log_info("gateway said DISCONNECT reason=%s: sending READY", msg->disconnect.reason);
            s_send_ready(self);
            s_send_signature(self);
            break;
        default:
            log_warning("unexpected command from the gateway command=%s", proto_cmd_name(msg->cmd));
        }
        proto_msg_destroy(&msg);
    }
}

//  A model from the feed replaces the served one (we are between requests).
static void s_pipe_drain(infer_t *self)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    while (zmq_msg_recv(&frame, self->pipe, ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_size(&frame) != sizeof(infer_feed_post_t))
            continue;
        infer_feed_post_t post;
        memcpy(&post, zmq_msg_data(&frame), sizeof post);
        if (post.pinned) {
            s_pin_arrived(self, &post);
            continue;
        }
        int64_t old = self->version;
        model_destroy(&self->model);
        self->model = post.model;
        self->version = post.version;
        log_info("model swapped version=%" PRId64 " previous=%" PRId64 " family=%s", post.version,
                 old, model_family(post.model));
        s_send_heartbeat(self);   //  tell the gateway now, not at the next interval
        s_send_signature(self);
        infer_feed_served(self->pipe, post.version);   //  and the broker, through the feed
    }
    zmq_msg_close(&frame);
}

static void s_timers(infer_t *self)
{
    int64_t now = clock_mono_ms();
    int64_t ivl = self->cfg.heartbeat_msec;
    //  a stall of ours (a long model load) is not the gateway's silence
    self->last_heard_ms += liveness_awake(&self->awake, now, LOOP_WAIT_MSEC + STALL_SLACK_MSEC);
    if (!self->gateway) {
        if (now >= self->reopen_at_ms && s_open(self) != 0)
            self->reopen_at_ms = now + self->backoff_ms;
        return;
    }
    int64_t expires =
        liveness_expiry(self->last_heard_ms, liveness_interval(ivl), HEARTBEAT_LIVENESS);
    if (liveness_expired(expires, now)) {
        log_warning("gateway silent for %" PRId64 " ms: reconnecting in %" PRId64 " ms",
                    now - self->last_heard_ms, self->backoff_ms);
        s_close(self);
        self->reopen_at_ms = now + self->backoff_ms;
        self->backoff_ms = self->backoff_ms * 2 > RECONNECT_MAX_MSEC ? RECONNECT_MAX_MSEC
                                                                      : self->backoff_ms * 2;
    } else if (now - self->last_sent_ms >= ivl)
        s_send_heartbeat(self);
}

//  Reads a whole artifact file, refusing sizes over the frame limit.
static uint8_t *s_read_file(const char *path, size_t *len, mlops_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        mlops_err_set(err, errno, "cannot open model file %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    uint8_t *data = NULL;
    if (fstat(fileno(f), &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > PROTO_FRAME_MAX_BYTES)
        mlops_err_set(err, MLOPS_ETOOBIG, "model file %s is empty or over %u bytes", path,
                      PROTO_FRAME_MAX_BYTES);
    else if (!(data = malloc((size_t)st.st_size)))
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %s", path);
    else if (fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        mlops_err_set(err, EIO, "cannot read model file %s", path);
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = data ? (size_t)st.st_size : 0;
    return data;
}

infer_t *infer_new(const infer_config_t *cfg, mlops_err_t *err)
{
    infer_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->backoff_ms = 1000;
    gethostname(self->host, sizeof self->host - 1);
    if (cfg->model_path) {
        size_t len = 0;
        uint8_t *blob = s_read_file(cfg->model_path, &len, err);
        self->model = blob ? model_load(blob, len, err) : NULL;
        free(blob);
        if (!self->model) {
            infer_destroy(&self);
            return NULL;
        }
        self->version = cfg->model_version;
        log_info("model loaded file=%s version=%" PRId64 " family=%s", cfg->model_path,
                 self->version, model_family(self->model));
    }
    self->curve = curve_new_from_env(err);
    if (!self->curve) {
        infer_destroy(&self);
        return NULL;
    }
    if (cfg->control) {
        snprintf(self->pipe_endpoint, sizeof self->pipe_endpoint, "inproc://infer-feed-%p", (void *)self);
        self->pipe_sock = zsock_new(ZMQ_PAIR);
        self->pipe = self->pipe_sock ? zsock_resolve(self->pipe_sock) : NULL;
        if (!self->pipe || zmq_bind(self->pipe, self->pipe_endpoint) != 0
            || !(self->feed = infer_feed_new(self->curve, cfg->control, cfg->events, self->pipe_endpoint,
                                             self->model ? self->version : 0, cfg->report_msec,
                                             cfg->name, &cfg->data, err))) {
            if (!err || err->code == 0)
                mlops_err_set(err, errno, "cannot start the model feed: %s", zmq_strerror(errno));
            infer_destroy(&self);
            return NULL;
        }
    }
    int rc = s_open(self);
    if (rc != 0) {
        mlops_err_set(err, rc, "cannot connect to the gateway at %s: %s", cfg->gateway, zmq_strerror(rc));
        infer_destroy(&self);
        return NULL;
    }
    return self;
}

int infer_run(infer_t *self)
{
    liveness_awake(&self->awake, clock_mono_ms(), 0);   //  a stall before the first turn counts too
    while (!self->stop) {
        zmq_pollitem_t items[2] = {{self->gateway, 0, ZMQ_POLLIN, 0}, {self->pipe, 0, ZMQ_POLLIN, 0}};
        zmq_pollitem_t *first = self->gateway ? items : items + 1;
        int count = (self->gateway ? 1 : 0) + (self->pipe ? 1 : 0);
        int rc = count ? zmq_poll(first, count, LOOP_WAIT_MSEC) : (usleep(LOOP_WAIT_MSEC * 1000), 0);
        if (rc < 0 && errno != EINTR)
            return errno;
        if (self->pipe && (items[1].revents & ZMQ_POLLIN))
            s_pipe_drain(self);
        if (self->gateway && (items[0].revents & ZMQ_POLLIN))
            s_gateway_drain(self);
        s_timers(self);
    }
    return 0;
}

void infer_stop(infer_t *self)
{
    self->stop = 1;
}

void infer_destroy(infer_t **p)
{
    if (!p || !*p)
        return;
    infer_t *self = *p;
    if (self->gateway) {
        proto_msg_t bye = {.cmd = PROTO_DISCONNECT, .disconnect = {.reason = "worker stopping"}};
        s_send(self, &bye);
        s_close(self);
    }
    infer_feed_destroy(&self->feed);
    infer_profile_clear(infer_profile_process());   //  the feed that read it has stopped
    if (self->pipe) {
        s_pipe_drain(self);   //  a model posted but not taken is still ours to free
        zsock_destroy(&self->pipe_sock);
        self->pipe = NULL;
    }
    curve_destroy(&self->curve);
    model_destroy(&self->model);
    for (int i = 0; i < INFER_PINNED_MAX; i++)
        model_destroy(&self->pinned[i].model);
    for (size_t i = 0; i < self->parked.len; i++)
        proto_msg_destroy(&self->parked.at[i]);
    vec_free(&self->parked);
    free(self->proba);
    free(self->pred);
    free(self->outs);
    free(self->cells);
    free(self);
    *p = NULL;
}
