/*  broker_link.c: the gateway's DEALER to the broker's control socket, for
    the /api endpoints and the gateway's own calls (drift_gauges.c), see
    gateway_internal.h. api.c says what goes in a request and how a REPLY
    reads as JSON; this file does the I/O.

    The broker answers a DEALER's requests in order, so the requests
    waiting on it are a FIFO ring and each REPLY settles the oldest. When
    the broker is silent past broker_timeout_ms every waiting request gets
    503 and the DEALER is replaced, so a late reply can never be paired
    with a newer request. The rollout poll's CANARY (rollout_link.c) waits
    in the same FIFO, marked as no request's: its REPLY goes back there.
*/
#include "gateway_internal.h"

#include "api.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

int broker_link_open(gateway_t *self, mlops_err_t *err)
{
    //  a fresh socket after a timeout: whatever the old one still held,
    //  requests or late replies, goes with it
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

//  Takes the oldest call off the ring: its request, or NULL when its
//  client went away or it is the gateway's own (*own_fn set, else NULL).
static request_t *s_pop(gateway_t *self, broker_reply_fn **own_fn)
{
    broker_call_t c = self->calls[self->calls_head];
    self->calls_head = (self->calls_head + 1) % GATEWAY_CONTROL_INFLIGHT_MAX;
    self->calls_n--;
    *own_fn = c.own_fn;
    self->calls_own -= c.own_fn != NULL;
    request_t *req = c.own_fn ? NULL : requests_find(self->requests, c.req_id);
    return req && req->state == REQ_CONTROL ? req : NULL;
}

void broker_link_fail_all(gateway_t *self, int status, const char *why)
{
    while (self->calls_n) {
        broker_reply_fn *own_fn;
        request_t *req = s_pop(self, &own_fn);
        if (own_fn)
            own_fn(self, NULL);
        else if (req)
            gateway_settle_detail(self, req, status, why);
    }
}

//  Appends a call sent now to the ring.
static void s_push(gateway_t *self, uint64_t req_id, broker_reply_fn *own_fn)
{
    size_t tail = (self->calls_head + self->calls_n++) % GATEWAY_CONTROL_INFLIGHT_MAX;
    self->calls[tail] = (broker_call_t){.req_id = req_id, .sent_ms = clock_mono_ms(), .own_fn = own_fn};
    self->calls_own += own_fn != NULL;
}

//  Sends an encoded request frame (taken) for req, or settles req with why not.
static void s_send(gateway_t *self, request_t *req, uint8_t *frame, size_t frame_len)
{
    int rc = zmq_send(zsock_resolve(self->control_sock), frame, frame_len, ZMQ_DONTWAIT);
    free(frame);
    if (rc < 0) {
        char why[320];
        snprintf(why, sizeof why, "broker unreachable at %s: %s", self->cfg.broker, zmq_strerror(errno));
        gateway_settle_detail(self, req, 503, why);
        return;
    }
    s_push(self, requests_id(self->requests, req), NULL);
    req->state = REQ_CONTROL;
}

int broker_link_send_own(gateway_t *self, uint8_t *frame, size_t frame_len, broker_reply_fn *fn)
{
    bool sent = self->control_sock && self->calls_n < GATEWAY_CONTROL_INFLIGHT_MAX
                && zmq_send(zsock_resolve(self->control_sock), frame, frame_len, ZMQ_DONTWAIT) >= 0;
    free(frame);
    if (!sent)
        return -1;
    s_push(self, 0, fn);
    return 0;
}

//  True when a request can go to the broker now; else req is settled 503.
static bool s_can_send(gateway_t *self, request_t *req)
{
    if (!self->control_sock)
        gateway_settle_detail(self, req, 503, "this gateway has no broker configured (--broker)");
    else if (self->calls_n == GATEWAY_CONTROL_INFLIGHT_MAX)
        gateway_settle_detail(self, req, 503, "too many requests are waiting for the broker");
    else
        return true;
    return false;
}

void broker_link_send(gateway_t *self, request_t *req, const char *body, size_t len)
{
    if (!s_can_send(self, req))
        return;
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    mlops_err_t err;
    int rc = api_request_encode(req->call, body, len, &frame, &frame_len, &err);
    if (rc != 0) {
        gateway_settle_detail(self, req, rc == MLOPS_EPROTO ? 400 : rc == MLOPS_ECHECK ? 422 : 500,
                              err.msg);
        return;
    }
    s_send(self, req, frame, frame_len);
}

void broker_link_send_logs(gateway_t *self, request_t *req, const char *path, const char *task)
{
    uint8_t *frame = NULL;
    size_t frame_len = 0;
    mlops_err_t err;
    //  a bad run id is the client's mistake whether or not a broker is there
    int rc = api_logs_encode(path, task, &frame, &frame_len, &err);
    if (rc != 0)
        gateway_settle_detail(self, req, rc == MLOPS_EPROTO ? 400 : 500, err.msg);
    else if (s_can_send(self, req))
        s_send(self, req, frame, frame_len);
    else
        free(frame);
}

static void s_handle_reply(gateway_t *self, const proto_msg_t *msg)
{
    if (self->calls_n == 0) {
        self->late++;
        return;
    }
    broker_reply_fn *own_fn;
    request_t *req = s_pop(self, &own_fn);
    if (own_fn)
        own_fn(self, msg);
    if (!req)
        return;   //  its client went away, or it was our own
    if (!msg->reply.ok) {
        char why[512];
        snprintf(why, sizeof why, "%s", msg->reply.error ? msg->reply.error : "refused");
        gateway_settle_detail(self, req, api_refusal_status(req->call, msg->reply.code, why), why);
        return;
    }
    size_t len = 0;
    mlops_err_t err;
    char *json = api_reply_json(req->call, msg->reply.data, msg->reply.data_len, self->router,
                                clock_mono_ms(), clock_wall_ms(), &len, &err);
    if (json)
        gateway_settle(self, req, 200, json, len);
    else
        gateway_settle_detail(self, req, 502, err.msg);
}

void broker_link_drain(gateway_t *self)
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
            broker_link_fail_all(self, 502, "the broker sent an answer that is not a REPLY");
        }
        proto_msg_destroy(&msg);
        zmq_msg_close(&frame);
    }
}

void broker_link_timers(gateway_t *self, int64_t now)
{
    if (self->calls_n == 0 || now - self->calls[self->calls_head].sent_ms < self->cfg.broker_timeout_ms)
        return;
    char why[320];
    snprintf(why, sizeof why, "broker unreachable at %s: no answer within %" PRId64 " ms",
             self->cfg.broker, self->cfg.broker_timeout_ms);
    size_t requests = self->calls_n - self->calls_own;   //  the gateway's own calls log their own
    if (requests)
        log_warning("broker silent broker=%s requests_failed=%zu", self->cfg.broker, requests);
    broker_link_fail_all(self, 503, why);
    mlops_err_t err;
    if (broker_link_open(self, &err) != 0)
        log_error("control socket: %s", err.msg);
}

int64_t broker_link_due_ms(const gateway_t *self)
{
    if (self->calls_n == 0)
        return INT64_MAX;
    return self->calls[self->calls_head].sent_ms + self->cfg.broker_timeout_ms;
}
