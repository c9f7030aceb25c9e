/*  backend.c: the gateway's ROUTER socket to the inference workers (see
    gateway_internal.h).

    Workers connect as DEALERs and say READY; queued requests go to them as
    PREDICT frames, at most `credit` each (router.c chooses), and come back
    as PREDICTION or ERROR, which settle the request. Heartbeats go both
    ways; a worker that falls silent, says DISCONNECT or whose connection
    closes (ZMQ_ROUTER_MANDATORY makes a send to it fail at once, and a
    socket monitor tells us to probe) is lost: its requests go back to the
    queue for another worker, since predictions are idempotent.
*/
#include "gateway_internal.h"

#include "answer.h"
#include "log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define PROBE_WINDOW_MSEC 300    //  after a backend disconnect, probe workers this long
#define PROBE_IVL_MSEC 10        //  ... this often
#define MONITOR_ENDPOINT "inproc://gateway-backend-monitor"
//  ZMQ_MAXMSGSIZE of the backend socket: the largest answer the protocol
//  allows (a PREDICTION of PROTO_RECORDS_MAX records with PROTO_CLASSES_MAX
//  class probabilities and its three other arrays, 9 bytes a float) and a
//  MiB for the rest. ZeroMQ drops a peer that sends more before the gateway
//  holds any of it (PROTOCOL.md, section 3).
#define BACKEND_MSG_MAX_BYTES ((int64_t)PROTO_RECORDS_MAX * (PROTO_CLASSES_MAX + 3) * 9 + (1 << 20))

/* --- sending ------------------------------------------------------------- */

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
    self->last_sent_ms[slot] = clock_mono_ms();
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

int backend_send(gateway_t *self, int slot, const uint8_t *frame, size_t len)
{
    int rc = s_send_to(self, slot, frame, len);
    if (rc == EHOSTUNREACH)
        s_worker_lost(self, slot, "connection closed");
    return rc;
}

void backend_dispatch(gateway_t *self)
{
    request_t *req;
    while ((req = requests_next(self->requests))) {
        int slot = req->pin_version ? router_pick_pinning(self->router) : router_pick(self->router);
        if (slot < 0)
            break;
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
        requests_sent(self->requests, req, slot);
        router_sent(self->router, slot, req->n_records);
    }
}

//  Answers every queued request with 503 (no worker can take them).
static void s_fail_queue(gateway_t *self, const char *why)
{
    request_t *req;
    while ((req = requests_next(self->requests)))
        gateway_settle_detail(self, req, 503, why);
}

//  A worker is gone: its requests in flight go back to the queue, before
//  the ones that came after them, for another worker.
static void s_worker_lost(gateway_t *self, int slot, const char *reason)
{
    const router_worker_t *w = router_worker(self->router, slot);
    if (!w)
        return;
    size_t moved = requests_requeue(self->requests, slot);
    log_warning("infer worker lost worker=%s reason=%s requests_resent=%zu", w->name, reason, moved);
    self->resent += moved;
    rollout_link_lost(self, slot);   //  shadow copies are not re-sent: they only measure
    router_remove(self->router, slot);
    if (router_serving(self->router) == 0)
        s_fail_queue(self, "no inference worker with a model is connected");
}

/* --- receiving ----------------------------------------------------------- */

//  The request a PREDICTION / ERROR answers, or NULL when it is settled
//  (counted late). Its worker's credit is counted as answered here.
static request_t *s_answered(gateway_t *self, uint64_t req_id, bool ok)
{
    request_t *req = requests_find(self->requests, req_id);
    if (!req || (req->state != REQ_SENT && req->state != REQ_QUEUED)) {
        self->late++;
        return NULL;
    }
    if (req->state == REQ_SENT && router_worker(self->router, req->worker))
        router_answered(self->router, req->worker, ok);
    req->worker = -1;   //  its credit is counted: settling must not give it back again
    return req;
}

//  The first probability outside [0, 1] (NaN included) a binary or
//  multiclass PREDICTION carries, said in why: the worker is wrong, and a
//  client must not get it as an answer (PROTOCOL.md, PREDICTION). A
//  regression's probabilities are NaN by definition and are not looked at.
static bool s_probability_bad(const proto_msg_t *msg, char *why, size_t size)
{
    const char *task = msg->prediction.task ? msg->prediction.task : "";
    if (strcmp(task, "regression") == 0)
        return false;
    const double *sets[2] = {msg->prediction.probabilities, msg->prediction.class_probabilities};
    size_t counts[2] = {msg->prediction.n, msg->prediction.n_class_probabilities};
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < counts[s]; i++)
            if (!(sets[s][i] >= 0 && sets[s][i] <= 1)) {
                snprintf(why, size, "the inference worker answered %s[%zu] = %g, outside [0, 1]",
                         s ? "class_probabilities" : "probabilities", i, sets[s][i]);
                return true;
            }
    return false;
}

static void s_handle_prediction(gateway_t *self, const proto_msg_t *msg)
{
    request_t *req = s_answered(self, msg->prediction.req_id, true);
    if (!req)
        return;
    char why[160];
    if (msg->prediction.n != req->n_records) {
        snprintf(why, sizeof why, "the inference worker answered %zu predictions for %zu records",
                 msg->prediction.n, req->n_records);
        gateway_settle_detail(self, req, 502, why);
        return;
    }
    char *answer = NULL;   //  built first: it reads (and checks) a multiclass one's labels once
    size_t len = 0;
    int rc = req->v2 ? http_v2_prediction(self, req, msg, &answer, &len, why, sizeof why)
                     : answer_prediction_make(msg, req->batch, req->request_id, &answer, &len, why, sizeof why);
    if (rc != 0 || s_probability_bad(msg, why, sizeof why)) {
        free(answer);
        gateway_settle_detail(self, req, 502, why);
        return;
    }
    http_feedback_log(self, req, msg);
    if (req->shadow_id)
        rollout_link_production(self, req, msg);
    gateway_settle(self, req, 200, answer, len);
}

static void s_handle_error(gateway_t *self, const proto_msg_t *msg)
{
    request_t *req = s_answered(self, msg->error.req_id, false);
    if (!req)
        return;
    int64_t status = msg->error.status;
    if (status < 400 || status > 599)
        status = 502;
    if (req->v2) {
        http_v2_error(self, req, msg);
        return;
    }
    size_t len = 0;
    char *answer = status == 422 && msg->error.n_detail
                 ? answer_problems(msg->error.detail, msg->error.n_detail, msg->error.n_detail,
                                   !req->batch, &len)
                 : answer_detail(msg->error.message, &len);
    gateway_settle(self, req, (int)status, answer, len);
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
    int slot = router_ready(self->router, id, id_len, name, msg->ready.model_version, clock_mono_ms());
    if (slot < 0) {
        log_warning("infer worker refused worker=%s reason=table full", name);
        s_send_disconnect(self, id, id_len, "too many inference workers");
        return;
    }
    self->last_sent_ms[slot] = 0;   //  heartbeat it at the next round
    log_info("infer worker ready worker=%s model_version=%" PRId64, name, msg->ready.model_version);
}

//  True when a PREDICTION answers a request of the version the worker
//  serves: not a shadow copy, not pinned (by its client or a canary), so
//  its model_version says what the worker serves now.
static bool s_answers_served(gateway_t *self, const proto_msg_t *msg)
{
    if (rollout_shadow_is(msg->prediction.req_id))
        return false;
    const request_t *req = requests_find(self->requests, msg->prediction.req_id);
    return !req || req->pin_version == 0;
}

static void s_handle_message(gateway_t *self, const uint8_t *id, size_t id_len, const proto_msg_t *msg)
{
    if (msg->cmd == PROTO_READY) {
        s_handle_ready(self, id, id_len, msg);
        backend_dispatch(self);
        return;
    }
    int slot = router_find(self->router, id, id_len);
    if (slot >= 0) {
        int64_t version = router_worker(self->router, slot)->model_version;
        if (msg->cmd == PROTO_HEARTBEAT)
            version = msg->heartbeat.model_version;
        else if (msg->cmd == PROTO_PREDICTION && s_answers_served(self, msg))
            version = msg->prediction.model_version;
        router_heard(self->router, slot, version, clock_mono_ms());
    }
    switch (msg->cmd) {
    case PROTO_PREDICTION:
        if (rollout_shadow_is(msg->prediction.req_id))
            rollout_link_copy_answered(self, msg);
        else
            s_handle_prediction(self, msg);
        break;
    case PROTO_ERROR:
        if (rollout_shadow_is(msg->error.req_id))
            rollout_link_copy_answered(self, msg);
        else
            s_handle_error(self, msg);
        break;
    case PROTO_HEARTBEAT: break;
    case PROTO_SIGNATURE:
        if (slot >= 0) {
            router_pins(self->router, slot);
            http_v2_signature(self, msg);
        }
        break;
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
        backend_dispatch(self);
}

void backend_drain(gateway_t *self)
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
void backend_monitor_drain(gateway_t *self)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (zmq_msg_recv(&m, self->monitor, ZMQ_DONTWAIT) >= 0) {
        if (!zmq_msg_more(&m)) {   //  event frames come in pairs: [event+value][endpoint]
            int64_t now = clock_mono_ms();
            self->probe_until_ms = now + PROBE_WINDOW_MSEC;
            self->next_probe_ms = now;
        }
    }
    zmq_msg_close(&m);
}

/* --- timers -------------------------------------------------------------- */

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

void backend_timers(gateway_t *self, int64_t now)
{
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
}

int64_t backend_due_ms(const gateway_t *self)
{
    int64_t next = self->next_heartbeat_ms;
    if (self->probe_until_ms && self->next_probe_ms < next)
        next = self->next_probe_ms;
    return next;
}

/* --- lifecycle ----------------------------------------------------------- */

int backend_open(gateway_t *self, mlops_err_t *err)
{
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
    int64_t max_bytes = BACKEND_MSG_MAX_BYTES;
    zmq_setsockopt(self->backend, ZMQ_MAXMSGSIZE, &max_bytes, sizeof max_bytes);
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

void backend_close(gateway_t *self)
{
    if (self->router && self->backend)
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
        backend_monitor_drain(self);
        zmq_socket_monitor(self->backend, NULL, 0);
    }
    zsock_destroy(&self->monitor_sock);
    zsock_destroy(&self->backend_sock);
    self->backend = self->monitor = NULL;
}
