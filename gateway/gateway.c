/*  gateway.c: the HTTP reactor and the backend router (see gateway.h).

    A request's life: s_access_fn sees its headers (routes it, may refuse it
    at once: 404, 405, 413), collects its body, then s_request_complete
    parses it, encodes a PREDICT and queues it; s_dispatch sends queued
    requests to workers with credit and the connection is suspended. The
    answer from the backend settles the request (s_settle) and resumes the
    connection; MHD then calls s_access_fn once more and s_respond queues the
    answer. A request is in exactly one of the states below, and in the
    pending list (ordered by deadline) while QUEUED or SENT, and in the queue
    while QUEUED.

    req_id = generation << 32 | slot: a slot is reused for later requests,
    and the generation makes a late answer for an old request miss.
*/
#include "gateway.h"

#include "answer.h"
#include "api.h"
#include "body.h"
#include "curve.h"
#include "liveness.h"
#include "log.h"
#include "metrics.h"
#include "msg.h"
#include "router.h"
#include "statics.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define DRAIN_BATCH 512          //  backend messages handled before polling HTTP again
#define PROBE_WINDOW_MSEC 300    //  after a backend disconnect, probe workers this long
#define PROBE_IVL_MSEC 10        //  ... this often
#define BODY_PREALLOC_BYTES (64u << 10)   //  most a declared length reserves up front
#define DRAIN_MSEC 2000                   //  answers awaited after a stop request
#define STALL_SLACK_MSEC 100              //  a loop turn this much over its wait is a stall of ours
#define MONITOR_ENDPOINT "inproc://gateway-backend-monitor"
//  libmicrohttpd's memory per connection (its default is 32 KiB). It zeroes
//  the pool between requests: memset was 4% of the gateway's samples on
//  /predict at 32 KiB (bench/profile_serving.sh); 16 KiB still takes 12 KB
//  of headers (test_serving.py). Bodies do not live there: they are copied
//  out as they arrive.
#define CONNECTION_POOL_BYTES (16u << 10)

typedef enum {
    REQ_FREE = 0,    //  slot unused
    REQ_READING,     //  collecting the body
    REQ_QUEUED,      //  encoded, waiting for a worker with credit
    REQ_SENT,        //  at a worker
    REQ_CONTROL,     //  an /api request at the broker, waiting for its REPLY
    REQ_DONE,        //  answer ready to be queued to MHD
} s_state_t;

typedef struct s_req {
    s_state_t state;                  //  see s_state_t
    uint32_t gen;                     //  bumped on reuse (req_id high half)
    struct MHD_Connection *conn;      //  the client's connection
    metrics_endpoint_t endpoint;      //  for routing and metrics
    bool batch;                       //  /predict/batch
    bool suspended;                   //  connection suspended by us
    bool too_big;                     //  body passed its limit (413 at the end)
    char *body;                       //  collected body, malloc'd
    size_t body_len, body_cap;        //  bytes collected / allocated
    size_t body_max;                  //  limit for this endpoint
    uint8_t *frame;                   //  encoded PREDICT, kept for re-sending
    size_t frame_len;                 //  its length
    size_t n_records;                 //  records in it
    int worker;                       //  router slot it was sent to, -1
    int64_t started_us;               //  first callback (latency metric)
    int64_t deadline_ms;              //  504 after this
    struct s_req *prev, *next;        //  pending list (QUEUED and SENT)
    struct s_req *q_prev, *q_next;    //  queue (QUEUED)
    int status;                       //  HTTP status when DONE
    char *answer;                     //  body when DONE, malloc'd
    size_t answer_len;                //  its length
    const char *content_type;         //  of the answer
    const char *allow;                //  Allow header for a 405, else NULL
    bool challenge;                   //  add WWW-Authenticate: Bearer (a 401)
    api_call_t call;                  //  the /api call, API_NONE for others
} s_req_t;

typedef struct {
    uint32_t slot, gen;               //  the request waiting for this REPLY
    int64_t sent_ms;                  //  when it went to the broker
} s_ctl_t;

struct gateway {
    gateway_config_t cfg;             //  copy of the configuration
    struct MHD_Daemon *httpd;         //  libmicrohttpd, external epoll mode
    int httpd_fd;                     //  its epoll fd, polled by us
    MHD_socket listen_fd;             //  listening socket once quiesced (ours to close)
    uint16_t port;                    //  bound HTTP port
    curve_t *curve;                   //  CURVE server settings (maybe none)
    zsock_t *backend_sock;            //  ROUTER the infer workers connect to
    zsock_t *monitor_sock;            //  PAIR receiving backend disconnect events
    void *backend;                    //  backend_sock's libzmq handle (the hot path uses it)
    void *monitor;                    //  monitor_sock's libzmq handle
    long poll_wait_ms;                //  the wait asked of zmq_poll this turn (router_awake)
    char backend_endpoint[256];       //  resolved endpoint
    router_t *router;                 //  worker table
    metrics_t *metrics;               //  counters
    s_req_t *reqs;                    //  request slots
    uint32_t n_reqs;                  //  how many
    uint32_t *free_slots;             //  stack of free slot numbers
    uint32_t n_free;                  //  its depth
    s_req_t *pend_head, *pend_tail;   //  pending list, oldest (first deadline) first
    s_req_t *q_head, *q_tail;         //  queue, next to send first
    size_t n_sent, n_queued;          //  requests SENT / QUEUED
    int64_t last_sent_ms[ROUTER_WORKERS_MAX]; //  last message to each worker slot
    int64_t next_heartbeat_ms;        //  next heartbeat round
    int64_t probe_until_ms;           //  probe workers until then (0 = not probing)
    int64_t next_probe_ms;            //  next probe
    uint64_t resent, late, bad_frames; //  counters for /metrics
    bool resumed;                     //  a connection was resumed since MHD_run
    volatile sig_atomic_t stop;       //  gateway_stop was called
    zsock_t *control_sock;            //  DEALER to the broker's control socket (/api)
    s_ctl_t ctl[GATEWAY_CONTROL_INFLIGHT_MAX]; //  requests at the broker, a FIFO ring
    size_t ctl_head, ctl_n;           //  ring's oldest entry, and its length
};

static int64_t s_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t s_now_ms(void)
{
    return s_now_us() / 1000;
}

/* --- request slots and lists ------------------------------------------ */

static s_req_t *s_req_new(gateway_t *self, struct MHD_Connection *conn)
{
    if (self->n_free == 0)
        return NULL;
    s_req_t *req = &self->reqs[self->free_slots[--self->n_free]];
    uint32_t gen = req->gen + 1;
    memset(req, 0, sizeof *req);
    req->gen = gen;
    req->state = REQ_READING;
    req->conn = conn;
    req->worker = -1;
    req->endpoint = METRICS_OTHER;
    req->call = API_NONE;
    req->started_us = s_now_us();
    return req;
}

static void s_pending_unlink(gateway_t *self, s_req_t *req)
{
    if (req->prev)
        req->prev->next = req->next;
    else
        self->pend_head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        self->pend_tail = req->prev;
    req->prev = req->next = NULL;
}

static void s_queue_unlink(gateway_t *self, s_req_t *req)
{
    if (req->q_prev)
        req->q_prev->q_next = req->q_next;
    else
        self->q_head = req->q_next;
    if (req->q_next)
        req->q_next->q_prev = req->q_prev;
    else
        self->q_tail = req->q_prev;
    req->q_prev = req->q_next = NULL;
    self->n_queued--;
}

static void s_queue_push(gateway_t *self, s_req_t *req, bool front)
{
    req->state = REQ_QUEUED;
    self->n_queued++;
    if (front) {
        req->q_prev = NULL;
        req->q_next = self->q_head;
        if (self->q_head)
            self->q_head->q_prev = req;
        else
            self->q_tail = req;
        self->q_head = req;
    } else {
        req->q_next = NULL;
        req->q_prev = self->q_tail;
        if (self->q_tail)
            self->q_tail->q_next = req;
        else
            self->q_head = req;
        self->q_tail = req;
    }
}

//  Takes a QUEUED or SENT request out of the lists, giving back its
//  worker's credit.
static void s_detach(gateway_t *self, s_req_t *req)
{
    if (req->state == REQ_QUEUED)
        s_queue_unlink(self, req);
    else if (req->state == REQ_SENT) {
        self->n_sent--;
        if (router_worker(self->router, req->worker))
            router_abandoned(self->router, req->worker);
    } else
        return;
    s_pending_unlink(self, req);
    req->worker = -1;
}

static void s_req_free(gateway_t *self, s_req_t *req)
{
    s_detach(self, req);
    free(req->body);
    free(req->frame);
    free(req->answer);
    req->body = req->answer = NULL;
    req->frame = NULL;
    req->state = REQ_FREE;
    self->free_slots[self->n_free++] = (uint32_t)(req - self->reqs);
}

//  Gives req its answer (taking `answer`) and wakes its connection.
static void s_settle(gateway_t *self, s_req_t *req, int status, char *answer, size_t len)
{
    s_detach(self, req);
    free(req->frame);
    free(req->body);
    req->frame = NULL;
    req->body = NULL;
    free(req->answer);
    req->answer = answer;
    req->answer_len = len;
    req->status = status;
    req->content_type = "application/json";
    if (!answer) {   //  out of memory building it: say so without allocating
        req->status = 500;
        req->answer_len = 0;
    }
    req->state = REQ_DONE;
    if (req->suspended) {
        req->suspended = false;
        MHD_resume_connection(req->conn);
        self->resumed = true;
    }
}

static void s_settle_detail(gateway_t *self, s_req_t *req, int status, const char *message)
{
    size_t len = 0;
    char *answer = answer_detail(message, &len);
    s_settle(self, req, status, answer, len);
}

/* --- backend: sending -------------------------------------------------- */

//  Sends one frame to a worker. Returns 0, or the errno of zmq_send
//  (EHOSTUNREACH: the worker's connection is gone).
static int s_send_to(gateway_t *self, int slot, const uint8_t *frame, size_t len)
{
    const router_worker_t *w = router_worker(self->router, slot);
    assert(w);
    if (zmq_send(self->backend, w->id, w->id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return errno;
    if (zmq_send(self->backend, frame, len, ZMQ_DONTWAIT) < 0)
        return errno;
    self->last_sent_ms[slot] = s_now_ms();
    return 0;
}

//  Sends a small control message (HEARTBEAT, DISCONNECT) to an identity.
static int s_send_control(gateway_t *self, const uint8_t *id, size_t id_len, const proto_msg_t *msg)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(msg, &frame, &len);
    if (rc == 0 && zmq_send(self->backend, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        rc = errno;
    if (rc == 0 && zmq_send(self->backend, frame, len, ZMQ_DONTWAIT) < 0)
        rc = errno;
    free(frame);
    return rc;
}

static void s_send_disconnect(gateway_t *self, const uint8_t *id, size_t id_len, const char *reason)
{
    proto_msg_t msg = {.cmd = PROTO_DISCONNECT, .disconnect = {.reason = reason}};
    s_send_control(self, id, id_len, &msg);
}

static void s_worker_lost(gateway_t *self, int slot, const char *reason);

//  Sends queued requests while some worker has credit.
static void s_dispatch(gateway_t *self)
{
    while (self->q_head) {
        int slot = router_pick(self->router);
        if (slot < 0)
            break;
        s_req_t *req = self->q_head;
        int rc = s_send_to(self, slot, req->frame, req->frame_len);
        if (rc == EHOSTUNREACH) {
            s_worker_lost(self, slot, "connection closed");
            continue;
        }
        if (rc != 0) {
            log_warning("backend send failed worker=%s error=%s",
                        router_worker(self->router, slot)->name, zmq_strerror(rc));
            break;
        }
        s_queue_unlink(self, req);
        req->state = REQ_SENT;
        req->worker = slot;
        self->n_sent++;
        router_sent(self->router, slot, req->n_records);
    }
}

//  Answers every queued request with 503 (no worker can take them).
static void s_fail_queue(gateway_t *self, const char *why)
{
    while (self->q_head)
        s_settle_detail(self, self->q_head, 503, why);
}

//  A worker is gone: its requests in flight go back to the front of the
//  queue, in their original order, for another worker.
static void s_worker_lost(gateway_t *self, int slot, const char *reason)
{
    const router_worker_t *w = router_worker(self->router, slot);
    if (!w)
        return;
    size_t moved = 0;
    for (s_req_t *req = self->pend_tail; req; req = req->prev)
        if (req->state == REQ_SENT && req->worker == slot) {
            self->n_sent--;
            req->worker = -1;
            s_queue_push(self, req, true);
            moved++;
        }
    log_warning("infer worker lost worker=%s reason=%s requests_resent=%zu", w->name, reason, moved);
    self->resent += moved;
    router_remove(self->router, slot);
    if (router_serving(self->router) == 0)
        s_fail_queue(self, "no inference worker with a model is connected");
}

/* --- backend: receiving ------------------------------------------------ */

//  The request a PREDICTION / ERROR answers, or NULL when it is settled.
static s_req_t *s_req_for(gateway_t *self, uint64_t req_id)
{
    uint32_t slot = (uint32_t)(req_id & 0xffffffffu);
    uint32_t gen = (uint32_t)(req_id >> 32);
    if (slot >= self->n_reqs)
        return NULL;
    s_req_t *req = &self->reqs[slot];
    if (req->gen != gen || (req->state != REQ_SENT && req->state != REQ_QUEUED))
        return NULL;
    return req;
}

static void s_handle_prediction(gateway_t *self, const proto_msg_t *msg)
{
    s_req_t *req = s_req_for(self, msg->prediction.req_id);
    if (!req) {
        self->late++;
        return;
    }
    if (req->state == REQ_SENT && router_worker(self->router, req->worker)) {
        router_answered(self->router, req->worker, true);
        self->n_sent--;
        s_pending_unlink(self, req);
        req->state = REQ_DONE;   //  detached by hand: s_settle must not count it again
    }
    if (msg->prediction.n != req->n_records) {
        char why[128];
        snprintf(why, sizeof why, "the inference worker answered %zu predictions for %zu records",
                 msg->prediction.n, req->n_records);
        s_settle_detail(self, req, 502, why);
        return;
    }
    size_t len = 0;
    char *answer = answer_prediction(msg, req->batch, &len);
    s_settle(self, req, 200, answer, len);
}

static void s_handle_error(gateway_t *self, const proto_msg_t *msg)
{
    s_req_t *req = s_req_for(self, msg->error.req_id);
    if (!req) {
        self->late++;
        return;
    }
    if (req->state == REQ_SENT && router_worker(self->router, req->worker)) {
        router_answered(self->router, req->worker, false);
        self->n_sent--;
        s_pending_unlink(self, req);
        req->state = REQ_DONE;
    }
    int64_t status = msg->error.status;
    if (status < 400 || status > 599)
        status = 502;
    size_t len = 0;
    char *answer = status == 422 && msg->error.n_detail
                 ? answer_problems(msg->error.detail, msg->error.n_detail, msg->error.n_detail,
                                   !req->batch, &len)
                 : answer_detail(msg->error.message, &len);
    s_settle(self, req, (int)status, answer, len);
}

//  "host:pid" with anything but [A-Za-z0-9._-] replaced, safe in metrics labels.
static void s_worker_name(char *out, size_t size, const char *host, int64_t pid)
{
    snprintf(out, size, "%s:%" PRId64, host, pid);
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '.' || *p == '-' || *p == '_' || *p == ':'))
            *p = '_';
}

static void s_handle_ready(gateway_t *self, const uint8_t *id, size_t id_len, const proto_msg_t *msg)
{
    if (strcmp(msg->ready.stage, "infer") != 0) {
        char sample[48], why[96];
        log_sanitize(msg->ready.stage, strlen(msg->ready.stage), sample, sizeof sample);
        log_warning("READY for a stage the gateway does not serve stage=%s", sample);
        snprintf(why, sizeof why, "the gateway serves stage infer, not %s", sample);
        s_send_disconnect(self, id, id_len, why);
        return;
    }
    char name[64];
    s_worker_name(name, sizeof name, msg->ready.host, msg->ready.pid);
    int slot = router_ready(self->router, id, id_len, name, msg->ready.model_version, s_now_ms());
    if (slot < 0) {
        log_warning("infer worker refused worker=%s reason=table full", name);
        s_send_disconnect(self, id, id_len, "too many inference workers");
        return;
    }
    self->last_sent_ms[slot] = 0;   //  heartbeat it at the next round
    log_info("infer worker ready worker=%s model_version=%" PRId64, name, msg->ready.model_version);
}

static void s_handle_message(gateway_t *self, const uint8_t *id, size_t id_len, const proto_msg_t *msg)
{
    if (msg->cmd == PROTO_READY) {
        s_handle_ready(self, id, id_len, msg);
        s_dispatch(self);
        return;
    }
    int slot = router_find(self->router, id, id_len);
    if (slot >= 0) {
        int64_t version = router_worker(self->router, slot)->model_version;
        if (msg->cmd == PROTO_HEARTBEAT)
            version = msg->heartbeat.model_version;
        else if (msg->cmd == PROTO_PREDICTION)
            version = msg->prediction.model_version;
        router_heard(self->router, slot, version, s_now_ms());
    }
    switch (msg->cmd) {
    case PROTO_PREDICTION: s_handle_prediction(self, msg); break;
    case PROTO_ERROR: s_handle_error(self, msg); break;
    case PROTO_HEARTBEAT: break;
    case PROTO_DISCONNECT:
        if (slot >= 0)
            s_worker_lost(self, slot, "said DISCONNECT");
        return;
    default:
        log_warning("unexpected command on the backend command=%s", proto_cmd_name(msg->cmd));
        return;
    }
    if (slot < 0)   //  PROTOCOL.md 6.1: an unknown worker is told to READY again
        s_send_disconnect(self, id, id_len, "unknown worker: send READY");
    else
        s_dispatch(self);
}

static void s_backend_drain(gateway_t *self)
{
    for (int i = 0; i < DRAIN_BATCH; i++) {
        zmq_msg_t id, frame;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, self->backend, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return;
        }
        zmq_msg_init(&frame);
        bool ok = zmq_msg_more(&id) && zmq_msg_recv(&frame, self->backend, 0) >= 0;
        while (ok && zmq_msg_more(&frame)) {   //  multi-part payloads are malformed
            ok = false;
            zmq_msg_close(&frame);
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, self->backend, 0) < 0)
                break;
        }
        mlops_err_t err;
        proto_msg_t *msg = ok ? proto_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &err) : NULL;
        if (msg)
            s_handle_message(self, zmq_msg_data(&id), zmq_msg_size(&id), msg);
        else {
            self->bad_frames++;
            log_warning("backend frame dropped reason=%s", ok ? err.msg : "not one frame");
        }
        proto_msg_destroy(&msg);
        zmq_msg_close(&frame);
        zmq_msg_close(&id);
    }
}

//  A backend connection closed: probe the workers for a while, since
//  sending to a gone peer fails at once (ZMQ_ROUTER_MANDATORY) once ZeroMQ
//  has torn down its pipe, which is much sooner than heartbeats would tell.
static void s_monitor_drain(gateway_t *self)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, self->monitor, ZMQ_DONTWAIT) >= 0) {
        if (!zmq_msg_more(&m)) {   //  event frames come in pairs: [event+value][endpoint]
            int64_t now = s_now_ms();
            self->probe_until_ms = now + PROBE_WINDOW_MSEC;
            self->next_probe_ms = now;
        }
    }
    zmq_msg_close(&m);
}

/* --- broker control socket (/api) ---------------------------------------- */

static int64_t s_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Opens the DEALER to the broker (a fresh one after a timeout: whatever the
//  old one still held, requests or late replies, goes with it).
static int s_control_open(gateway_t *self, mlops_err_t *err)
{
    zsock_destroy(&self->control_sock);
    if (!self->cfg.broker)
        return 0;
    self->control_sock = zsock_new(ZMQ_DEALER);
    if (!self->control_sock)
        return mlops_err_set(err, MLOPS_ENOMEM, "cannot create the control socket");
    zsock_set_linger(self->control_sock, 0);
    curve_apply_client(self->curve, self->control_sock);
    if (zmq_connect(zsock_resolve(self->control_sock), self->cfg.broker) != 0)
        return mlops_err_set(err, MLOPS_EINVAL, "cannot connect to the broker at %s: %s",
                             self->cfg.broker, zmq_strerror(errno));
    return 0;
}

//  The request a ring entry stands for, or NULL when its client went away.
static s_req_t *s_ctl_req(gateway_t *self, const s_ctl_t *c)
{
    s_req_t *req = &self->reqs[c->slot];
    return req->gen == c->gen && req->state == REQ_CONTROL ? req : NULL;
}

//  Answers every request waiting on the broker with status / why.
static void s_control_fail_all(gateway_t *self, int status, const char *why)
{
    while (self->ctl_n) {
        s_req_t *req = s_ctl_req(self, &self->ctl[self->ctl_head]);
        self->ctl_head = (self->ctl_head + 1) % GATEWAY_CONTROL_INFLIGHT_MAX;
        self->ctl_n--;
        if (req)
            s_settle_detail(self, req, status, why);
    }
}

//  Encodes req's call (with its body, for an action) and sends it to the
//  broker; req waits in REQ_CONTROL, or is answered at once when that fails.
static void s_control_send(gateway_t *self, s_req_t *req, const char *body, size_t len)
{
    if (!self->control_sock) {
        s_settle_detail(self, req, 503, "this gateway has no broker configured (--broker)");
        return;
    }
    if (self->ctl_n == GATEWAY_CONTROL_INFLIGHT_MAX) {
        s_settle_detail(self, req, 503, "too many requests are waiting for the broker");
        return;
    }
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    mlops_err_t err;
    int rc = api_request_encode(req->call, body, len, &frame, &frame_len, &err);
    if (rc != 0) {
        s_settle_detail(self, req, rc == MLOPS_EPROTO ? 400 : rc == MLOPS_ECHECK ? 422 : 500, err.msg);
        return;
    }
    rc = zmq_send(zsock_resolve(self->control_sock), frame, frame_len, ZMQ_DONTWAIT);
    free(frame);
    if (rc < 0) {
        char why[320];
        snprintf(why, sizeof why, "broker unreachable at %s: %s", self->cfg.broker, zmq_strerror(errno));
        s_settle_detail(self, req, 503, why);
        return;
    }
    size_t tail = (self->ctl_head + self->ctl_n++) % GATEWAY_CONTROL_INFLIGHT_MAX;
    self->ctl[tail] = (s_ctl_t){.slot = (uint32_t)(req - self->reqs), .gen = req->gen,
                                .sent_ms = s_now_ms()};
    req->state = REQ_CONTROL;
}

static void s_handle_reply(gateway_t *self, const proto_msg_t *msg)
{
    if (self->ctl_n == 0) {
        self->late++;
        return;
    }
    s_req_t *req = s_ctl_req(self, &self->ctl[self->ctl_head]);
    self->ctl_head = (self->ctl_head + 1) % GATEWAY_CONTROL_INFLIGHT_MAX;
    self->ctl_n--;
    if (!req)
        return;   //  its client went away
    if (!msg->reply.ok) {
        char why[512];
        snprintf(why, sizeof why, "%s", msg->reply.error ? msg->reply.error : "refused");
        s_settle_detail(self, req, api_refusal_status(req->call, msg->reply.code, why), why);
        return;
    }
    size_t len = 0;
    mlops_err_t err;
    char *json = api_reply_json(req->call, msg->reply.data, msg->reply.data_len, self->router,
                                s_now_ms(), s_wall_ms(), &len, &err);
    if (json)
        s_settle(self, req, 200, json, len);
    else
        s_settle_detail(self, req, 502, err.msg);
}

static void s_control_drain(gateway_t *self)
{
    void *sock = zsock_resolve(self->control_sock);
    for (int i = 0; i < DRAIN_BATCH; i++) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&frame);
            return;
        }
        bool one = !zmq_msg_more(&frame);
        mlops_err_t err;
        proto_msg_t *msg = one ? proto_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &err) : NULL;
        while (zmq_msg_more(&frame)) {   //  a multi-part reply is malformed: drop it whole
            zmq_msg_close(&frame);
            zmq_msg_init(&frame);
            if (zmq_msg_recv(&frame, sock, 0) < 0)
                break;
        }
        if (msg && msg->cmd == PROTO_REPLY)
            s_handle_reply(self, msg);
        else {
            //  the broker does not speak MLOPS/1 as we do: the FIFO pairing
            //  is no longer to be trusted, so everyone waiting is told
            self->bad_frames++;
            log_warning("control frame dropped reason=%s", msg ? "not a REPLY" : one ? err.msg : "not one frame");
            s_control_fail_all(self, 502, "the broker sent an answer that is not a REPLY");
        }
        proto_msg_destroy(&msg);
        zmq_msg_close(&frame);
    }
}

//  The broker has been silent past the deadline of the oldest request.
static void s_control_timers(gateway_t *self, int64_t now)
{
    if (self->ctl_n == 0 || now - self->ctl[self->ctl_head].sent_ms < self->cfg.broker_timeout_ms)
        return;
    char why[320];
    snprintf(why, sizeof why, "broker unreachable at %s: no answer within %" PRId64 " ms",
             self->cfg.broker, self->cfg.broker_timeout_ms);
    log_warning("broker silent broker=%s requests_failed=%zu", self->cfg.broker, self->ctl_n);
    s_control_fail_all(self, 503, why);
    mlops_err_t err;
    if (s_control_open(self, &err) != 0)
        log_error("control socket: %s", err.msg);
}

/* --- timers ------------------------------------------------------------ */

//  Sends a HEARTBEAT to each worker we have not written to for an
//  interval (all of them when probing). Unreachable ones are lost.
static void s_heartbeat(gateway_t *self, int64_t now, bool all)
{
    proto_msg_t msg = {.cmd = PROTO_HEARTBEAT, .heartbeat = {.task_id = "", .model_version = 0}};
    for (int i = 0; i < router_slots(self->router); i++) {
        const router_worker_t *w = router_worker(self->router, i);
        if (!w || (!all && now - self->last_sent_ms[i] < self->cfg.heartbeat_msec))
            continue;
        int rc = s_send_control(self, w->id, w->id_len, &msg);
        if (rc == EHOSTUNREACH)
            s_worker_lost(self, i, "connection closed");
        else if (rc == 0)
            self->last_sent_ms[i] = now;
    }
}

static void s_timers(gateway_t *self)
{
    int64_t now = s_now_ms();
    int64_t stall = router_awake(self->router, now, self->poll_wait_ms + STALL_SLACK_MSEC);
    if (stall > 0)
        log_info("the gateway itself stalled %" PRId64 " ms: workers' expiries moved out as much",
                 stall);
    while (self->pend_head && self->pend_head->deadline_ms <= now) {
        char why[96];
        snprintf(why, sizeof why, "no answer from an inference worker within %" PRId64 " ms",
                 self->cfg.deadline_ms);
        s_settle_detail(self, self->pend_head, 504, why);
    }
    if (self->probe_until_ms && now >= self->next_probe_ms) {
        s_heartbeat(self, now, true);
        self->next_probe_ms = now + PROBE_IVL_MSEC;
        if (now >= self->probe_until_ms)
            self->probe_until_ms = 0;
    }
    if (now >= self->next_heartbeat_ms) {
        int dead[ROUTER_WORKERS_MAX];
        size_t n = router_expired(self->router, now, dead, ROUTER_WORKERS_MAX);
        for (size_t i = 0; i < n; i++)
            s_worker_lost(self, dead[i], "heartbeat expired");
        s_heartbeat(self, now, false);
        self->next_heartbeat_ms = now + self->cfg.heartbeat_msec / 4;
    }
    s_control_timers(self, now);
    s_dispatch(self);
}

//  Milliseconds the reactor may sleep.
static long s_poll_timeout(gateway_t *self)
{
    int64_t now = s_now_ms();
    int64_t next = self->next_heartbeat_ms;
    if (self->pend_head && self->pend_head->deadline_ms < next)
        next = self->pend_head->deadline_ms;
    if (self->probe_until_ms && self->next_probe_ms < next)
        next = self->next_probe_ms;
    if (self->ctl_n && self->ctl[self->ctl_head].sent_ms + self->cfg.broker_timeout_ms < next)
        next = self->ctl[self->ctl_head].sent_ms + self->cfg.broker_timeout_ms;
    MHD_UNSIGNED_LONG_LONG mhd_ms;
    if (MHD_get_timeout(self->httpd, &mhd_ms) == MHD_YES && now + (int64_t)mhd_ms < next)
        next = now + (int64_t)mhd_ms;
    return next <= now ? 0 : (long)(next - now);
}

/* --- HTTP ---------------------------------------------------------------- */

static enum MHD_Result s_respond(gateway_t *self, s_req_t *req)
{
    struct MHD_Response *r;
    if (req->answer) {
        r = MHD_create_response_from_buffer(req->answer_len, req->answer, MHD_RESPMEM_MUST_FREE);
        if (r)
            req->answer = NULL;   //  MHD frees it now
    } else {
        static const char oom[] = "{\"detail\":\"out of memory\"}";
        r = MHD_create_response_from_buffer(sizeof oom - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
        req->status = 500;
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    if (req->allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, req->allow);
    if (req->challenge)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mlops\"");
    enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
    double seconds = (double)(s_now_us() - req->started_us) / 1e6;
    metrics_observe(self->metrics, req->endpoint, req->status, seconds);
    return rc;
}

static void s_answer_health(gateway_t *self, s_req_t *req)
{
    char text[256];
    size_t live = router_live(self->router), serving = router_serving(self->router);
    int64_t version = router_version(self->router);
    const char *reason = live == 0 ? "no inference worker is connected"
                       : serving == 0 ? "no inference worker has a model yet" : NULL;
    int n;
    if (reason)
        n = snprintf(text, sizeof text, "{\"status\":\"unavailable\",\"detail\":\"%s\","
                     "\"model_version\":null,\"workers\":%zu}", reason, live);
    else
        n = snprintf(text, sizeof text, "{\"status\":\"ok\",\"model_version\":%" PRId64
                     ",\"workers\":%zu,\"workers_serving\":%zu}", version, live, serving);
    s_settle(self, req, reason ? 503 : 200, strndup(text, (size_t)n), (size_t)n);
}

static void s_answer_metrics(gateway_t *self, s_req_t *req)
{
    metrics_gauges_t g = {.in_flight = self->n_sent, .queued = self->n_queued,
                          .resent = self->resent, .late = self->late, .bad_frames = self->bad_frames};
    size_t len = 0;
    char *text = metrics_render(self->metrics, self->router, &g, &len);
    s_settle(self, req, 200, text, len);
    req->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

//  Decides what a request is from its first line and headers. Leaves it
//  READING (a predict, or an error to answer once the body is read) or
//  DONE (answer at once).
static void s_expect_body(gateway_t *self, s_req_t *req, size_t max);

//  GET / and GET /static/NAME: the dashboard's files.
static void s_route_static(gateway_t *self, s_req_t *req, const char *url, bool get)
{
    req->endpoint = METRICS_STATIC;
    if (!get) {
        req->allow = "GET, HEAD";
        s_settle_detail(self, req, 405, "method not allowed: use GET");
        return;
    }
    char *body = NULL;
    size_t len = 0;
    const char *type = NULL;
    mlops_err_t err;
    int status = statics_load(self->cfg.static_dir, url, &body, &len, &type, &err);
    if (status != 0) {
        s_settle_detail(self, req, status, err.msg);
        return;
    }
    s_settle(self, req, 200, body, len);
    req->content_type = type;
}

//  /api/...: reads go to the broker at once; actions are checked against
//  the admin token from their headers and go once their body is in.
static void s_route_api(gateway_t *self, s_req_t *req, const char *url, bool get, bool post)
{
    req->endpoint = METRICS_API;
    req->call = api_call_of(url);
    bool action = api_call_is_action(req->call);
    if (req->call == API_NONE)
        s_settle_detail(self, req, 404, "not found: the /api endpoints are GET /api/runs, "
                        "/api/models, /api/workers and POST /api/retrain, /api/promote, /api/rollback");
    else if (action && !post) {
        req->allow = "POST";
        s_settle_detail(self, req, 405, "method not allowed: use POST");
    } else if (!action && !get) {
        req->allow = "GET, HEAD";
        s_settle_detail(self, req, 405, "method not allowed: use GET");
    } else if (!action)
        s_control_send(self, req, NULL, 0);
    else {
        const char *auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
        int denied = api_token_check(self->cfg.admin_token, auth);
        req->challenge = denied == 401;
        if (denied)
            s_settle_detail(self, req, denied, denied == 401
                            ? "this action needs the admin token: send Authorization: Bearer TOKEN"
                            : "the admin token is not the right one");
        else
            s_expect_body(self, req, API_BODY_MAX_BYTES);
    }
}

static void s_route(gateway_t *self, s_req_t *req, const char *url, const char *method)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0) {
        req->endpoint = url[1] == 'h' ? METRICS_HEALTH : METRICS_METRICS;
        if (!get) {
            req->allow = "GET, HEAD";
            s_settle_detail(self, req, 405, "method not allowed: use GET");
        } else if (req->endpoint == METRICS_HEALTH)
            s_answer_health(self, req);
        else
            s_answer_metrics(self, req);
        return;
    }
    if (strncmp(url, "/api/", 5) == 0) {
        s_route_api(self, req, url, get, post);
        return;
    }
    if (strcmp(url, "/") == 0 || strncmp(url, "/static/", 8) == 0) {
        s_route_static(self, req, url, get);
        return;
    }
    req->batch = strcmp(url, "/predict/batch") == 0;
    if (!req->batch && strcmp(url, "/predict") != 0) {
        s_settle_detail(self, req, 404, "not found: the endpoints are /health, /predict, "
                        "/predict/batch, /metrics, /api/... and the dashboard at /");
        return;
    }
    req->endpoint = req->batch ? METRICS_BATCH : METRICS_PREDICT;
    if (!post) {
        req->allow = "POST";
        s_settle_detail(self, req, 405, "method not allowed: use POST");
        return;
    }
    s_expect_body(self, req, req->batch ? self->cfg.batch_body_max_bytes : self->cfg.body_max_bytes);
}

//  A request with a body to read, up to max bytes: 413 at once when its
//  declared length is over.
static void s_expect_body(gateway_t *self, s_req_t *req, size_t max)
{
    req->body_max = max;
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (declared > req->body_max) {
        char why[128];
        snprintf(why, sizeof why, "body of %llu bytes is over the limit of %zu bytes", declared,
                 req->body_max);
        s_settle_detail(self, req, 413, why);
        return;
    }
    if (declared > 0) {   //  not all of it at once: a client may declare much and send little
        size_t cap = declared < BODY_PREALLOC_BYTES ? (size_t)declared : BODY_PREALLOC_BYTES;
        req->body = malloc(cap);
        req->body_cap = req->body ? cap : 0;
    }
}

static void s_append(s_req_t *req, const char *data, size_t n)
{
    if (req->too_big || req->state != REQ_READING)
        return;   //  discard: the answer is decided
    if (req->body_len + n > req->body_max) {
        req->too_big = true;
        return;
    }
    if (req->body_len + n > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap * 2 : 4096;
        while (cap < req->body_len + n)
            cap *= 2;
        char *body = realloc(req->body, cap);
        if (!body) {
            req->too_big = true;
            return;
        }
        req->body = body;
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, n);
    req->body_len += n;
}

//  The body is in: parse, encode, queue and send.
static void s_request_complete(gateway_t *self, s_req_t *req)
{
    if (req->too_big) {
        char why[96];
        snprintf(why, sizeof why, "body is over the limit of %zu bytes", req->body_max);
        s_settle_detail(self, req, 413, why);
        return;
    }
    if (req->call != API_NONE) {
        s_control_send(self, req, req->body, req->body_len);
        free(req->body);
        req->body = NULL;
        return;
    }
    body_t body;
    mlops_err_t err;
    int rc = body_parse(&body, req->body ? req->body : "", req->body_len, req->batch,
                        self->cfg.batch_max, &err);
    size_t len = 0;
    if (rc == MLOPS_EPROTO) {
        char *answer = answer_syntax(err.msg, body.error_pos, &len);
        s_settle(self, req, 400, answer, len);
    } else if (rc == MLOPS_ECHECK) {
        size_t shown = body.n_problems < BODY_PROBLEMS_MAX ? body.n_problems : BODY_PROBLEMS_MAX;
        char *answer = answer_problems(body.problems, shown, body.n_problems, false, &len);
        s_settle(self, req, 422, answer, len);
    } else if (rc != 0)
        s_settle_detail(self, req, 500, mlops_err_text(&err, rc));
    else if (router_live(self->router) == 0)
        s_settle_detail(self, req, 503, "no inference worker is connected");
    else if (router_serving(self->router) == 0)
        s_settle_detail(self, req, 503, "no model loaded yet: the inference workers wait for one");
    else {
        uint64_t req_id = (uint64_t)req->gen << 32 | (uint32_t)(req - self->reqs);
        proto_msg_t msg = {.cmd = PROTO_PREDICT,
                           .predict = {.req_id = req_id, .records = body.records,
                                       .n_records = body.n_records}};
        rc = proto_msg_encode(&msg, &req->frame, &req->frame_len);
        if (rc != 0)
            s_settle_detail(self, req, 500, mlops_strerror(rc));
        else {
            req->n_records = body.n_records;
            req->deadline_ms = s_now_ms() + self->cfg.deadline_ms;
            free(req->body);
            req->body = NULL;
            req->prev = self->pend_tail;   //  same deadline for all: append keeps the order
            if (self->pend_tail)
                self->pend_tail->next = req;
            else
                self->pend_head = req;
            self->pend_tail = req;
            s_queue_push(self, req, false);
            s_dispatch(self);
        }
    }
    body_clear(&body);
}

static enum MHD_Result s_access_fn(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    (void)version;
    gateway_t *self = cls;
    s_req_t *req = *con_cls;
    if (!req) {
        req = s_req_new(self, conn);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        s_route(self, req, url, method);
        //  answer at once only a body we refuse to read (413: MHD then closes
        //  the connection); anything else is answered after the body was read
        //  (or dropped), as an answer queued earlier makes MHD close too
        if (req->state == REQ_DONE && req->status == 413)
            return s_respond(self, req);
        return MHD_YES;
    }
    if (*upload_data_size) {
        s_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->state == REQ_READING)
        s_request_complete(self, req);
    if (req->state == REQ_DONE)
        return s_respond(self, req);
    if (!req->suspended) {
        req->suspended = true;
        MHD_suspend_connection(conn);
    }
    return MHD_YES;
}

static void s_completed_fn(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)conn, (void)toe;
    gateway_t *self = cls;
    s_req_t *req = *con_cls;
    if (req)
        s_req_free(self, req);
    *con_cls = NULL;
}

static void s_mhd_log_fn(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_warning("http: %s", line);
}

/* --- lifecycle ----------------------------------------------------------- */

void gateway_config_defaults(gateway_config_t *cfg)
{
    *cfg = (gateway_config_t){
        .bind_address = NULL,
        .port = GATEWAY_PORT,
        .backend = GATEWAY_BACKEND,
        .body_max_bytes = GATEWAY_BODY_MAX_BYTES,
        .batch_body_max_bytes = GATEWAY_BATCH_BODY_MAX_BYTES,
        .batch_max = GATEWAY_BATCH_MAX,
        .deadline_ms = GATEWAY_DEADLINE_MSEC,
        .client_timeout_sec = GATEWAY_CLIENT_TIMEOUT_SEC,
        .connections_max = GATEWAY_CONNECTIONS_MAX,
        .credit = GATEWAY_CREDIT,
        .heartbeat_msec = HEARTBEAT_IVL_MSEC,
        .liveness = HEARTBEAT_LIVENESS,
        .broker = GATEWAY_BROKER,
        .broker_timeout_ms = GATEWAY_BROKER_TIMEOUT_MSEC,
        .admin_token = NULL,
        .static_dir = NULL,
    };
}

static int s_check_config(const gateway_config_t *cfg, mlops_err_t *err)
{
    if (cfg->body_max_bytes == 0 || cfg->batch_body_max_bytes == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "body limits must be at least 1 byte");
    if (cfg->batch_max == 0 || cfg->batch_max > PROTO_RECORDS_MAX)
        return mlops_err_set(err, MLOPS_EINVAL, "batch limit must be 1..%d records", PROTO_RECORDS_MAX);
    if (cfg->deadline_ms <= 0 || cfg->heartbeat_msec <= 0 || cfg->liveness <= 0
        || cfg->broker_timeout_ms <= 0)
        return mlops_err_set(err, MLOPS_EINVAL, "deadline and heartbeat settings must be positive");
    if (cfg->connections_max == 0 || cfg->connections_max > 1000000 || cfg->credit <= 0)
        return mlops_err_set(err, MLOPS_EINVAL, "connection limit and credit must be positive");
    return 0;
}

static int s_open_backend(gateway_t *self, mlops_err_t *err)
{
    self->curve = curve_new_from_env(err);
    if (!self->curve)
        return err->code ? err->code : MLOPS_EINVAL;
    self->backend_sock = zsock_new(ZMQ_ROUTER);
    if (!self->backend_sock)
        return mlops_err_set(err, MLOPS_ENOMEM, "cannot create the backend socket");
    curve_apply_server(self->curve, self->backend_sock);
    self->backend = zsock_resolve(self->backend_sock);
    int one = 1, zero = 0, hwm = 1000000;
    zmq_setsockopt(self->backend, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(self->backend, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(self->backend, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(self->backend, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_bind(self->backend, self->cfg.backend) != 0)
        return mlops_err_set(err, errno, "cannot bind the backend socket to %s: %s",
                             self->cfg.backend, zmq_strerror(errno));
    size_t size = sizeof self->backend_endpoint;
    zmq_getsockopt(self->backend, ZMQ_LAST_ENDPOINT, self->backend_endpoint, &size);
    if (zmq_socket_monitor(self->backend, MONITOR_ENDPOINT, ZMQ_EVENT_DISCONNECTED) == 0) {
        self->monitor_sock = zsock_new(ZMQ_PAIR);
        if (self->monitor_sock && zmq_connect(zsock_resolve(self->monitor_sock), MONITOR_ENDPOINT) != 0)
            zsock_destroy(&self->monitor_sock);
        self->monitor = self->monitor_sock ? zsock_resolve(self->monitor_sock) : NULL;
    }
    if (curve_server_enabled(self->curve))
        log_info("backend socket requires CURVE clients");
    return 0;
}

static int s_open_http(gateway_t *self, mlops_err_t *err)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(self->cfg.port)};
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (self->cfg.bind_address && inet_pton(AF_INET, self->cfg.bind_address, &addr.sin_addr) != 1)
        return mlops_err_set(err, MLOPS_EINVAL, "bind address %s is not an IPv4 address",
                             self->cfg.bind_address);
    self->httpd = MHD_start_daemon(
        MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG,
        self->cfg.port, NULL, NULL, s_access_fn, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log_fn, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, self->cfg.connections_max,
        MHD_OPTION_CONNECTION_TIMEOUT, self->cfg.client_timeout_sec,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed_fn, self,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_POOL_BYTES,
        MHD_OPTION_END);
    if (!self->httpd)
        return mlops_err_set(err, errno ? errno : MLOPS_EINVAL, "cannot listen on %s:%u: %s",
                             self->cfg.bind_address ? self->cfg.bind_address : "*",
                             (unsigned)self->cfg.port, errno ? strerror(errno) : "refused");
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->httpd, MHD_DAEMON_INFO_EPOLL_FD);
    self->httpd_fd = info ? info->epoll_fd : -1;
    info = MHD_get_daemon_info(self->httpd, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : self->cfg.port;
    if (self->httpd_fd < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "libmicrohttpd gave no epoll descriptor");
    return 0;
}

//  Connections need descriptors: raise the soft limit to the hard one and
//  keep the connection limit under it (sockets, epoll and ITC need a few).
static unsigned s_fit_connections(unsigned wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return wanted;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t soft = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = soft;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > wanted + (rlim_t)64)
        return wanted;
    unsigned fit = rl.rlim_cur > 128 ? (unsigned)(rl.rlim_cur - 64) : 64;
    log_warning("connection limit lowered to %u to fit the descriptor limit of %llu", fit,
                (unsigned long long)rl.rlim_cur);
    return fit;
}

gateway_t *gateway_new(const gateway_config_t *cfg, mlops_err_t *err)
{
    if (s_check_config(cfg, err) != 0)
        return NULL;
    gateway_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->listen_fd = MHD_INVALID_SOCKET;
    self->cfg.connections_max = s_fit_connections(cfg->connections_max);
    self->n_reqs = self->cfg.connections_max + 16;
    self->reqs = calloc(self->n_reqs, sizeof *self->reqs);
    self->free_slots = calloc(self->n_reqs, sizeof *self->free_slots);
    self->router = router_new(cfg->credit, liveness_interval(cfg->heartbeat_msec) * cfg->liveness);
    self->metrics = metrics_new();
    if (!self->reqs || !self->free_slots || !self->router || !self->metrics) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %u request slots", self->n_reqs);
        gateway_destroy(&self);
        return NULL;
    }
    for (uint32_t i = 0; i < self->n_reqs; i++)
        self->free_slots[self->n_free++] = self->n_reqs - 1 - i;
    if (s_open_backend(self, err) != 0 || s_control_open(self, err) != 0 || s_open_http(self, err) != 0) {
        gateway_destroy(&self);
        return NULL;
    }
    log_info("gateway listening http_port=%u backend=%s broker=%s admin_token=%s static=%s",
             (unsigned)self->port, self->backend_endpoint, cfg->broker ? cfg->broker : "none",
             cfg->admin_token && *cfg->admin_token ? "set" : "none",
             cfg->static_dir ? cfg->static_dir : "none");
    return self;
}

//  After gateway_stop: no new connections, and the requests in flight get
//  their answers for up to DRAIN_MSEC (a rolling restart drops nothing).
static bool s_drained(gateway_t *self, int64_t *drain_until)
{
    if (!self->stop)
        return false;
    if (*drain_until == 0) {
        self->listen_fd = MHD_quiesce_daemon(self->httpd);
        *drain_until = s_now_ms() + DRAIN_MSEC;
        log_info("stopping: draining requests=%zu", self->n_sent + self->n_queued);
    }
    return (!self->pend_head && self->ctl_n == 0) || s_now_ms() >= *drain_until;
}

int gateway_run(gateway_t *self)
{
    int64_t drain_until = 0;
    router_awake(self->router, s_now_ms(), 0);   //  a stall before the first turn counts too
    while (!s_drained(self, &drain_until)) {
        zmq_pollitem_t items[4] = {{self->backend, 0, ZMQ_POLLIN, 0},
                                   {NULL, self->httpd_fd, ZMQ_POLLIN, 0}};
        int n = 2, at_monitor = -1, at_control = -1;
        if (self->monitor)
            items[at_monitor = n++] = (zmq_pollitem_t){self->monitor, 0, ZMQ_POLLIN, 0};
        if (self->control_sock)
            items[at_control = n++] = (zmq_pollitem_t){zsock_resolve(self->control_sock), 0, ZMQ_POLLIN, 0};
        long timeout = s_poll_timeout(self);
        self->poll_wait_ms = drain_until && timeout > 50 ? 50 : timeout;
        int rc = zmq_poll(items, n, self->poll_wait_ms);
        if (rc < 0 && errno != EINTR)
            return errno;
        if (rc < 0)
            continue;
        if (items[0].revents & ZMQ_POLLIN)
            s_backend_drain(self);
        if (at_monitor >= 0 && (items[at_monitor].revents & ZMQ_POLLIN))
            s_monitor_drain(self);
        if (at_control >= 0 && (items[at_control].revents & ZMQ_POLLIN))
            s_control_drain(self);
        if ((items[1].revents & ZMQ_POLLIN) || self->resumed || rc == 0) {
            self->resumed = false;
            MHD_run(self->httpd);
        }
        s_timers(self);
    }
    return 0;
}

void gateway_stop(gateway_t *self)
{
    self->stop = 1;
}

uint16_t gateway_port(const gateway_t *self)
{
    return self->port;
}

const char *gateway_backend(const gateway_t *self)
{
    return self->backend_endpoint;
}

void gateway_destroy(gateway_t **p)
{
    if (!p || !*p)
        return;
    gateway_t *self = *p;
    while (self->pend_head)
        s_settle_detail(self, self->pend_head, 503, "the gateway is shutting down");
    s_control_fail_all(self, 503, "the gateway is shutting down");
    if (self->httpd) {
        MHD_run(self->httpd);
        MHD_stop_daemon(self->httpd);
    }
    if (self->listen_fd != MHD_INVALID_SOCKET)
        close(self->listen_fd);
    if (self->router)
        for (int i = 0; i < router_slots(self->router); i++) {
            const router_worker_t *w = router_worker(self->router, i);
            if (w)
                s_send_disconnect(self, w->id, w->id_len, "gateway shutting down");
        }
    //  The monitor stops while its reader is still there and drained:
    //  libzmq sends each event with a blocking send under a lock that
    //  stopping takes, so a worker leaving after the reader went would
    //  block that send for ever, and us with it.
    if (self->backend_sock && self->monitor) {
        s_monitor_drain(self);
        zmq_socket_monitor(self->backend, NULL, 0);
    }
    zsock_destroy(&self->monitor_sock);
    zsock_destroy(&self->control_sock);
    zsock_destroy(&self->backend_sock);
    curve_destroy(&self->curve);
    router_destroy(&self->router);
    metrics_destroy(&self->metrics);
    free(self->reqs);
    free(self->free_slots);
    free(self);
    *p = NULL;
}
