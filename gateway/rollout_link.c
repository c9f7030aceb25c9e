/*  rollout_link.c: a shadow or canary rollout on the gateway's sockets
    (see gateway_internal.h; the rules are rollout.c's, without I/O).

    Once a second (--rollout-poll) a CANARY goes to the broker through the
    broker link's FIFO, carrying this gateway's id and its counters; the
    REPLY's state is applied. A broker that does not know CANARY (older
    than this gateway) is said once in the log and not asked again: the
    gateway then serves as before, production only.

    A predict its client did not pin gets its side here before it is
    encoded (a canary may pin it to the candidate); during a shadow, once
    production's PREDICT went out, a copy pinned to the candidate goes to a
    worker that pins and has spare credit, only when no request waits for
    credit (a copy never takes a turn from a client). The copy's answer
    comes back here by its id and is compared, counted and dropped. The
    first production request of a new rollout is copied to every worker
    that pins instead, to warm the candidate up (rollout.h).
*/
#include "gateway_internal.h"

#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define CLIENT_KEY_HEADER "X-Client-Key"   //  a client's sticky key for the canary

/* --- requests ------------------------------------------------------------ */

void rollout_link_route(gateway_t *self, request_t *req)
{
    const rollout_state_t *st = rollout_state(self->rollout);
    if (req->pin_version || st->rollout == ROLLOUT_NONE)
        return;   //  the client chose its version: counted on neither side
    const char *key = req->conn ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                              CLIENT_KEY_HEADER) : NULL;
    if (!key || !*key)
        key = req->request_id;
    rollout_target_t to = rollout_route(self->rollout, key, strlen(key));
    if (to == ROLLOUT_TO_CAND && router_pinning(self->router) == 0)
        to = ROLLOUT_TO_PROD;   //  no worker takes a pinned PREDICT: production answers
    req->rollout_side = (uint8_t)to;
    if (to == ROLLOUT_TO_CAND)
        req->pin_version = st->version;
}

//  Sends msg pinned to the candidate as copy id to the worker in slot.
//  Returns 0, or an error (the slot then freed as skipped).
static int s_copy_send(gateway_t *self, int slot, uint64_t id, const proto_msg_t *msg, size_t records)
{
    proto_msg_t copy = *msg;
    copy.predict.req_id = id;
    copy.predict.version = rollout_state(self->rollout)->version;
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(&copy, &frame, &len);
    if (rc == 0)
        rc = backend_send(self, slot, frame, len);
    free(frame);
    if (rc != 0)
        rollout_shadow_cancel(self->rollout, id);
    else
        router_sent(self->router, slot, records);
    return rc;
}

//  A new rollout's first request: a warm-up copy to every worker that pins
//  and has a credit to spare, so each loads the candidate before it counts.
static void s_warm_up(gateway_t *self, const request_t *req, const proto_msg_t *msg)
{
    int64_t deadline = clock_mono_ms() + self->cfg.deadline_ms;
    for (int i = 0; i < router_slots(self->router); i++) {
        const router_worker_t *w = router_worker(self->router, i);
        if (!w || !w->pins || w->model_version <= 0 || w->in_flight >= self->cfg.credit)
            continue;
        uint64_t id = rollout_warm_open(self->rollout, i, deadline);
        if (id)
            s_copy_send(self, i, id, msg, req->n_records);
    }
    rollout_warm_sent(self->rollout);
}

void rollout_link_copies(gateway_t *self, request_t *req, const proto_msg_t *msg)
{
    const rollout_state_t *st = rollout_state(self->rollout);
    if (st->rollout == ROLLOUT_NONE || req->rollout_side != ROLLOUT_TO_PROD)
        return;
    bool sent = req->state == REQ_SENT && !requests_next(self->requests);
    if (rollout_warming(self->rollout)) {
        if (sent)
            s_warm_up(self, req, msg);
        return;
    }
    if (st->rollout != ROLLOUT_SHADOW)
        return;
    int slot = sent ? router_pick_pinning(self->router) : -1;
    if (slot < 0) {
        rollout_skip(self->rollout);
        return;
    }
    uint64_t id = rollout_shadow_open(self->rollout, slot, req->started_us,
                                      clock_mono_ms() + self->cfg.deadline_ms);
    if (id && s_copy_send(self, slot, id, msg, req->n_records) == 0)
        req->shadow_id = id;
}

void rollout_link_settled(gateway_t *self, const request_t *req, int status)
{
    if (req->shadow_id && status != 200)
        rollout_shadow_production(self->rollout, req->shadow_id, false, NULL);
    rollout_count(self->rollout, (rollout_target_t)req->rollout_side, status,
                  clock_mono_us() - req->started_us);
}

//  A PREDICTION's per-record predictions as the shadow compares them.
static rollout_answer_t s_answer_of(const proto_msg_t *msg)
{
    const char *task = msg->prediction.task ? msg->prediction.task : "";
    if (strcmp(task, "regression") == 0)
        return (rollout_answer_t){NULL, msg->prediction.values, msg->prediction.n_values};
    return (rollout_answer_t){msg->prediction.predictions, NULL, msg->prediction.n};
}

void rollout_link_production(gateway_t *self, const request_t *req, const proto_msg_t *msg)
{
    rollout_answer_t answer = s_answer_of(msg);
    rollout_shadow_production(self->rollout, req->shadow_id, true, &answer);
}

void rollout_link_copy_answered(gateway_t *self, const proto_msg_t *msg)
{
    bool ok = msg->cmd == PROTO_PREDICTION;
    uint64_t id = ok ? msg->prediction.req_id : msg->error.req_id;
    int slot = rollout_shadow_worker(self->rollout, id);
    if (slot < 0) {
        self->late++;
        return;
    }
    if (router_worker(self->router, slot))
        router_answered(self->router, slot, ok);
    int status = ok ? 200 : msg->error.status >= 400 && msg->error.status <= 599
               ? (int)msg->error.status : 502;
    rollout_answer_t answer = ok ? s_answer_of(msg) : (rollout_answer_t){0};
    rollout_shadow_answered(self->rollout, id, status, &answer, clock_mono_us());
}

void rollout_link_lost(gateway_t *self, int slot)
{
    rollout_shadow_lost(self->rollout, slot);
}

/* --- the poll ------------------------------------------------------------- */

//  The CANARY request: this gateway's id and, during a rollout, its report.
static int s_poll_encode(gateway_t *self, uint8_t **frame, size_t *len)
{
    uint8_t *report = NULL;
    size_t report_len = 0;
    if (rollout_state(self->rollout)->rollout != ROLLOUT_NONE) {
        rollout_report_t rep = rollout_report(self->rollout, self->feedback);
        int rc = rollout_report_encode(&rep, &report, &report_len);
        if (rc != 0)
            return rc;
    }
    proto_msg_t msg = {.cmd = PROTO_CANARY,
                       .canary = {.gateway = rollout_gateway_id(self->rollout), .report = report,
                                  .report_len = report_len}};
    int rc = proto_msg_encode(&msg, frame, len);
    free(report);
    return rc;
}

static void s_poll(gateway_t *self)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = s_poll_encode(self, &frame, &len);
    if (rc == 0)   //  the frame is taken; its REPLY goes to rollout_link_reply
        rc = broker_link_send_own(self, frame, len, rollout_link_reply) == 0 ? 0 : MLOPS_ESTATE;
    else
        free(frame);
    if (rc == 0)
        self->poll_waiting = true;
    else if (!self->poll_failing) {
        self->poll_failing = true;
        log_warning("rollout poll not sent broker=%s error=%s", self->cfg.broker, mlops_strerror(rc));
    }
}

void rollout_link_timers(gateway_t *self, int64_t now)
{
    int worker;
    while (rollout_shadow_expire(self->rollout, now, &worker))
        if (worker >= 0 && router_worker(self->router, worker))
            router_abandoned(self->router, worker);
    if (self->next_poll_ms == 0 || now < self->next_poll_ms || self->poll_waiting)
        return;
    self->next_poll_ms = now + self->cfg.rollout_poll_ms;
    s_poll(self);
}

int64_t rollout_link_due_ms(const gateway_t *self)
{
    return self->next_poll_ms == 0 || self->poll_waiting ? INT64_MAX : self->next_poll_ms;
}

//  True when a refusal says the broker does not know the command at all.
static bool s_unknown_command(const proto_msg_t *msg)
{
    const char *why = msg->reply.error ? msg->reply.error : "";
    return msg->reply.code && strcmp(msg->reply.code, PROTO_REPLY_INVALID) == 0
        && (strstr(why, "unknown command") || strstr(why, "not a control command")
            || strstr(why, "is not supported"));   //  an MLOPS/1 broker: version 2 unknown
}

//  A refused or failed poll: logged once until a poll works again.
static void s_poll_failed(gateway_t *self, const char *why)
{
    if (!self->poll_failing)
        log_warning("rollout poll failed broker=%s reason=%s", self->cfg.broker, why);
    self->poll_failing = true;
}

void rollout_link_reply(gateway_t *self, const proto_msg_t *msg)
{
    self->poll_waiting = false;
    if (!msg) {
        s_poll_failed(self, "no answer");
        return;
    }
    if (!msg->reply.ok && s_unknown_command(msg)) {
        self->next_poll_ms = 0;
        log_warning("the broker does not know CANARY (older than this gateway): no shadow or "
                    "canary routing, production answers everything broker=%s", self->cfg.broker);
        return;
    }
    rollout_state_t st;
    mlops_err_t err;
    if (!msg->reply.ok) {
        s_poll_failed(self, msg->reply.error ? msg->reply.error : "refused");
        return;
    }
    if (rollout_state_decode(msg->reply.data, msg->reply.data_len, &st, &err) != 0) {
        s_poll_failed(self, err.msg);
        return;
    }
    if (self->poll_failing)
        log_info("rollout poll works again broker=%s", self->cfg.broker);
    self->poll_failing = false;
    if (rollout_apply(self->rollout, &st, self->feedback))
        log_info("rollout now=%s version=%" PRId64 " percent=%g production=%" PRId64,
                 rollout_kind_name(rollout_state(self->rollout)->rollout),
                 rollout_state(self->rollout)->version, rollout_state(self->rollout)->percent,
                 st.production);
}

char *rollout_link_metrics(gateway_t *self, char *text, size_t *len)
{
    size_t more = 0;
    char *lines = rollout_metrics(self->rollout, self->feedback, &more);
    char *both = lines ? realloc(text, *len + more + 1) : NULL;
    if (both) {
        memcpy(both + *len, lines, more + 1);
        text = both;
        *len += more;
    }
    free(lines);
    return text;
}
