/*  infer_feed.c: the model feed thread of an inference worker (see
    infer_feed.h). One loop: wait for an event, a served version from the
    serving thread, a SERVING answer or the next due time; fetch, load,
    post; report. Each fetch uses a fresh DEALER so a broker that went away
    mid-request leaves nothing stale behind (the lazy pirate pattern); the
    report DEALER lives on, and is replaced when an answer is overdue. */
#include "infer_feed.h"
#include "infer_profile.h"

#include "blob_cache.h"
#include "clock.h"
#include "control_io.h"
#include "curve.h"
#include "data_client.h"
#include "infer_fetch.h"
#include "log.h"
#include "msg.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static atomic_bool s_refused;   //  a feed was refused for its name (infer_feed_refused)

#define SLICE_MSEC 100   //  longest poll, so a stop request is seen quickly

struct infer_feed {
    curve_t *curve;              //  CURVE client settings (borrowed from the worker)
    char control[256];           //  broker control endpoint
    char events[256];            //  broker events endpoint
    char pipe_endpoint[128];     //  where the serving thread listens
    int64_t have;                //  version last posted (or served at start)
    int64_t want;                //  version to fetch, 0 = production
    bool need_fetch;             //  a fetch is due
    int64_t next_try_ms;         //  not before this
    int64_t backoff_ms;          //  wait after the next failure
    int64_t served;              //  version the serving thread says it serves
    int64_t production;          //  production version last heard of, -1 = not yet
    int64_t report_msec;       //  SERVING at least this often
    int64_t next_report_ms;      //  next SERVING due (0 = now)
    int64_t report_sent_ms;      //  when the unanswered SERVING went, 0 = none
    zsock_t *report;             //  DEALER to the control socket, NULL until needed
    bool refused;                //  the last SERVING was refused (logged once)
    char host[64];               //  for SERVING
    char name[PROTO_NAME_MAX + 1]; //  for SERVING
    pthread_t thread;            //  the feed thread
    atomic_bool stop;            //  set by infer_feed_destroy
    int64_t pins[INFER_FEED_PINS_MAX]; //  versions the serving thread asked for, in order
    size_t n_pins;               //  how many wait
    char data[256];              //  the data service, "" = none
    char cache_dir[PATH_MAX];    //  the blob cache, "" = none
    uint64_t cache_bytes;        //  its bound
    data_client_t *client;       //  to data, made by the feed thread; NULL = inline only
    blob_cache_t *cache;         //  NULL = none
    bool inline_only;            //  the broker does not know GET_MODEL's by_hash
};

//  A pin request on the pipe: its size tells it from a served version.
typedef struct {
    int64_t version;             //  the version asked for
    int64_t unused;              //  padding to a size of its own
} s_pin_request_t;

//  Waits for the REPLY on sock, in slices so a stop is noticed. Returns the
//  decoded message or NULL (timeout, stop, or a malformed answer).
static proto_msg_t *s_await_reply(infer_feed_t *self, void *sock)
{
    int64_t until = clock_mono_ms() + INFER_FEED_TIMEOUT_MSEC;
    while (!atomic_load(&self->stop) && clock_mono_ms() < until) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, SLICE_MSEC) <= 0)
            continue;
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, sock, 0) < 0) {
            zmq_msg_close(&frame);
            return NULL;
        }
        if (zmq_msg_size(&frame) == 0 && zmq_msg_more(&frame)) {   //  mirrored delimiter
            zmq_msg_close(&frame);
            continue;
        }
        mlops_err_t err;
        proto_msg_t *msg = proto_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &err);
        zmq_msg_close(&frame);
        if (!msg)
            log_warning("broker answer dropped reason=%s", err.msg);
        else if (msg->cmd != PROTO_REPLY) {
            log_warning("broker answered GET_MODEL with command=%s", proto_cmd_name(msg->cmd));
            proto_msg_destroy(&msg);
        }
        return msg;
    }
    return NULL;
}

//  Loads the model of a GET_MODEL answer (infer_fetch.h). Returns it
//  (version in *version) or NULL with err: a refusal of the broker is
//  MLOPS_ENOTFOUND, bytes that fail the registry's sha256 MLOPS_ECORRUPT
//  (logged as an error: an operator must look), the rest as infer_fetch.
static model_t *s_load_reply(infer_feed_t *self, const proto_msg_t *reply, int64_t want,
                             int64_t *version, mlops_err_t *err)
{
    if (!reply->reply.ok) {   //  e.g. no version in production yet: a state, not a fault
        log_info("broker refused GET_MODEL version=%" PRId64 " error=%s", want, reply->reply.error);
        mlops_err_set(err, MLOPS_ENOTFOUND, "the broker has no version %" PRId64 ": %.96s", want,
                      reply->reply.error);
        return NULL;
    }
    bool by_ref = false;
    model_t *model = infer_fetch_load(self->client, self->cache, reply->reply.data,
                                      reply->reply.data_len, version, &by_ref, err);
    if (!model && err->code == MLOPS_ECORRUPT)
        log_error("%s: still serving version %" PRId64, err->msg, self->served);
    else if (!model && by_ref && err->code == MLOPS_ETIMEOUT) {   //  the next try asks inline
        log_warning("%s: artifacts come inline from now on", err->msg);
        self->inline_only = true;
    }
    else if (!model)
        log_warning("GET_MODEL version=%" PRId64 " dropped: %s", want, err->msg);
    else
        log_info("artifact of version %" PRId64 " %s", *version,
                 by_ref ? "fetched by hash from the data service" : "received inline");
    return model;
}

//  A refusal from a broker older than GET_MODEL's by_hash key.
static bool s_by_hash_unknown(const proto_msg_t *reply)
{
    return reply && !reply->reply.ok && strstr(reply->reply.error, "\"by_hash\"");
}

//  One GET_MODEL round trip for want (0 = production) on a fresh DEALER.
//  Returns the answer or NULL (no answer, or the feed is stopping).
static proto_msg_t *s_ask_model(infer_feed_t *self, int64_t want)
{
    zsock_t *zsock = zsock_new(ZMQ_DEALER);
    if (!zsock)
        return NULL;
    curve_apply_client(self->curve, zsock);
    void *sock = zsock_resolve(zsock);
    int zero = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    uint8_t *frame = NULL;
    size_t len = 0;
    proto_msg_t req = {.cmd = PROTO_GET_MODEL,
                       .get_model = {.version = want, .by_hash = self->client && !self->inline_only}};
    proto_msg_t *reply = NULL;
    if (zmq_connect(sock, self->control) == 0 && proto_msg_encode(&req, &frame, &len) == 0
        && zmq_send(sock, frame, len, ZMQ_DONTWAIT) >= 0) {
        reply = s_await_reply(self, sock);
        if (!reply && !atomic_load(&self->stop))
            log_warning("no answer from the broker to GET_MODEL endpoint=%s", self->control);
    }
    free(frame);
    zsock_destroy(&zsock);
    return reply;
}

//  GET_MODEL for want (0 = production), loaded. Returns the model or NULL
//  with err (s_load_reply's, or MLOPS_ETIMEOUT when the broker did not
//  answer: *answered tells a broker's answer, 404, from its silence, 503).
static model_t *s_fetch_version(infer_feed_t *self, int64_t want, int64_t *version, mlops_err_t *err,
                                bool *answered)
{
    proto_msg_t *reply = s_ask_model(self, want);
    if (s_by_hash_unknown(reply) && !self->inline_only) {   //  rolling upgrade: ask as before
        log_info("the broker does not send artifacts by hash: fetching them inline");
        self->inline_only = true;
        proto_msg_destroy(&reply);
        reply = s_ask_model(self, want);
    }
    *answered = reply != NULL;
    model_t *model = NULL;
    if (reply)
        model = s_load_reply(self, reply, want, version, err);
    else
        mlops_err_set(err, MLOPS_ETIMEOUT, "no answer from the broker to GET_MODEL");
    proto_msg_destroy(&reply);
    return model;
}


//  A `model` event: a new production version means a fetch.
static void s_handle_event(infer_feed_t *self, void *sub)
{
    zmq_msg_t topic, payload;
    zmq_msg_init(&topic);
    zmq_msg_init(&payload);
    if (zmq_msg_recv(&topic, sub, 0) >= 0 && zmq_msg_more(&topic)
        && zmq_msg_recv(&payload, sub, 0) >= 0) {
        mlops_err_t err;
        proto_msg_t *ev = proto_msg_decode(zmq_msg_data(&payload), zmq_msg_size(&payload), &err);
        if (!ev || ev->cmd != PROTO_EVENT)
            log_warning("event dropped reason=%s", ev ? "not an EVENT" : err.msg);
        else if (strcmp(ev->event.kind, "model") == 0 && strcmp(ev->event.state, "production") == 0
                 && ev->event.version > 0 && ev->event.version != self->have) {
            log_info("new production model announced version=%" PRId64, ev->event.version);
            self->production = ev->event.version;
            self->want = ev->event.version;
            self->need_fetch = true;
            self->next_try_ms = 0;
            self->backoff_ms = 1000;
        }
        proto_msg_destroy(&ev);
    }
    while (zmq_msg_more(&payload) && zmq_msg_recv(&payload, sub, 0) >= 0)
        ;   //  drop extra frames
    zmq_msg_close(&topic);
    zmq_msg_close(&payload);
}

//  The production version named by a SERVING answer: a change we did not
//  hear of as an event means a fetch. The first answer only sets the mark
//  when we started with a model of our own (--model), which production
//  does not replace until it changes.
static void s_production_is(infer_feed_t *self, int64_t production)
{
    bool changed = self->production >= 0 && production != self->production;
    self->production = production;
    if (!changed || production <= 0 || production == self->have)
        return;
    log_info("production is version=%" PRId64 " (no event seen for it): fetching", production);
    self->want = production;
    self->need_fetch = true;
    self->next_try_ms = 0;
    self->backoff_ms = 1000;
}

//  One frame from the report socket: the REPLY to our SERVING.
static void s_handle_report_reply(infer_feed_t *self)
{
    void *sock = zsock_resolve(self->report);
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, sock, ZMQ_DONTWAIT) < 0 || zmq_msg_more(&frame)) {
        zmq_msg_close(&frame);
        return;   //  nothing, or a delimiter: the payload follows
    }
    self->report_sent_ms = 0;
    mlops_err_t err;
    proto_msg_t *reply = proto_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &err);
    zmq_msg_close(&frame);
    control_serving_t answer;
    if (!reply || reply->cmd != PROTO_REPLY)
        log_warning("SERVING answer dropped reason=%s", reply ? "not a REPLY" : err.msg);
    else if (!reply->reply.ok && strcmp(reply->reply.code, PROTO_REPLY_CONFLICT) == 0) {
        log_error("broker refused this worker: %s", reply->reply.error);
        atomic_store(&s_refused, true);
        kill(getpid(), SIGTERM);   //  stop as an operator would (infer_feed.h)
    } else if (!reply->reply.ok) {
        if (!self->refused)   //  an older broker does not know SERVING: say so once
            log_warning("broker refused SERVING error=%s", reply->reply.error);
        self->refused = true;
    } else if (control_serving_decode(reply->reply.data, reply->reply.data_len, &answer, &err) != 0)
        log_warning("SERVING answer dropped reason=%s", err.msg);
    else {
        self->refused = false;
        s_production_is(self, answer.production_version);
    }
    proto_msg_destroy(&reply);
}

//  Sends SERVING when one is due and none is unanswered; replaces the
//  socket when an answer is overdue (the broker restarted or is away).
static void s_report(infer_feed_t *self)
{
    int64_t now = clock_mono_ms();
    if (self->report_sent_ms && now - self->report_sent_ms > INFER_FEED_TIMEOUT_MSEC) {
        zsock_destroy(&self->report);
        self->report_sent_ms = 0;
    }
    if (self->report_sent_ms || now < self->next_report_ms)
        return;
    self->next_report_ms = now + self->report_msec;   //  also after a failure below: no spinning
    if (!self->report) {
        self->report = zsock_new(ZMQ_DEALER);
        if (!self->report)
            return;
        curve_apply_client(self->curve, self->report);
        void *sock = zsock_resolve(self->report);
        int zero = 0;
        zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_connect(sock, self->control) != 0) {
            zsock_destroy(&self->report);
            return;
        }
    }
    //  the live profile of one served version's rows since it last went (drift)
    uint8_t *prof = NULL;
    size_t prof_len = 0;
    int64_t prof_version = 0;
    infer_profile_take(infer_profile_process(), &prof_version, &prof, &prof_len);
    proto_msg_t req = {.cmd = PROTO_SERVING,
                       .serving = {.host = self->host, .pid = getpid(), .model_version = self->served,
                                   .interval_ms = self->report_msec, .name = self->name,
                                   .profile_version = prof_version, .profile = prof,
                                   .profile_len = prof_len}};
    uint8_t *frame = NULL;
    size_t len = 0;
    if (proto_msg_encode(&req, &frame, &len) == 0
        && zmq_send(zsock_resolve(self->report), frame, len, ZMQ_DONTWAIT) >= 0)
        self->report_sent_ms = now;
    free(frame);
    free(prof);
}

//  Versions the serving thread now serves: report the last one at once.
static void s_handle_served(infer_feed_t *self, void *pipe)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    while (zmq_msg_recv(&frame, pipe, ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_size(&frame) == sizeof self->served) {
            memcpy(&self->served, zmq_msg_data(&frame), sizeof self->served);
            self->next_report_ms = 0;
        } else if (zmq_msg_size(&frame) == sizeof(s_pin_request_t)
                   && self->n_pins < INFER_FEED_PINS_MAX) {
            s_pin_request_t pin;
            memcpy(&pin, zmq_msg_data(&frame), sizeof pin);
            self->pins[self->n_pins++] = pin.version;
        }
    }
    zmq_msg_close(&frame);
}

void infer_feed_served(void *pipe, int64_t version)
{
    zmq_send(pipe, &version, sizeof version, ZMQ_DONTWAIT);
}

bool infer_feed_pin(void *pipe, int64_t version)
{
    s_pin_request_t pin = {.version = version};
    return zmq_send(pipe, &pin, sizeof pin, ZMQ_DONTWAIT) == (int)sizeof pin;
}

//  Fetches the versions pinned requests wait for, each once, and posts
//  each answer (a model, or why not) to the serving thread.
static void s_fetch_pins(infer_feed_t *self, void *pipe)
{
    for (size_t i = 0; i < self->n_pins && !atomic_load(&self->stop); i++) {
        infer_feed_post_t post = {.version = self->pins[i], .pinned = true};
        bool answered = false;
        int64_t got = 0;
        mlops_err_t err;
        mlops_err_clear(&err);
        post.model = s_fetch_version(self, self->pins[i], &got, &err, &answered);
        post.status = post.model ? 200 : answered ? 404 : 503;
        if (!post.model)
            snprintf(post.why, sizeof post.why, "%.159s", err.msg);
        if (post.model)
            log_info("pinned model fetched version=%" PRId64 " family=%s", got,
                     model_family(post.model));
        if (zmq_send(pipe, &post, sizeof post, 0) < 0)
            model_destroy(&post.model);
    }
    self->n_pins = 0;
}

//  Fetches the version wanted; retries with a back-off, except bytes that
//  fail the registry's sha256: refused until the version is announced again
//  (s_handle_event, s_production_is), serving what we have meanwhile.
static void s_try_fetch(infer_feed_t *self, void *pipe)
{
    int64_t version = 0;
    bool answered;
    mlops_err_t err;
    mlops_err_clear(&err);
    model_t *model = s_fetch_version(self, self->want, &version, &err, &answered);
    if (!model && err.code == MLOPS_ECORRUPT) {
        self->need_fetch = false;
        return;
    }
    if (!model) {
        self->next_try_ms = clock_mono_ms() + self->backoff_ms;
        self->backoff_ms = self->backoff_ms * 2 > INFER_FEED_BACKOFF_MAX_MSEC
                         ? INFER_FEED_BACKOFF_MAX_MSEC : self->backoff_ms * 2;
        return;
    }
    infer_feed_post_t post = {.model = model, .version = version};
    log_info("model fetched version=%" PRId64 " family=%s", version, model_family(model));
    if (zmq_send(pipe, &post, sizeof post, 0) < 0) {   //  from here the serving thread owns it
        model_destroy(&model);
        return;
    }
    self->have = version;
    self->need_fetch = false;
}

//  The data client and the blob cache, made on the feed's thread (a data
//  client is one thread's). Without them the feed asks for inline answers:
//  logged, not fatal, as serving goes on either way.
static void s_data_open(infer_feed_t *self)
{
    mlops_err_t err;
    mlops_err_clear(&err);
    if (!self->data[0])
        return;
    if (!(self->client = data_client_new(self->data, &err))) {
        log_error("data service %s unusable, artifacts come inline: %s", self->data, err.msg);
        return;
    }
    data_client_set_timeout(self->client, INFER_FEED_TIMEOUT_MSEC);   //  as long as GET_MODEL's wait
    if (self->cache_dir[0] && !(self->cache = blob_cache_new(self->cache_dir, self->cache_bytes, &err)))
        log_warning("blob cache %s unusable, going without: %s", self->cache_dir, err.msg);
    log_info("artifacts by hash from data=%s cache=%s", self->data,
             self->cache ? self->cache_dir : "none");
}

static void *s_feed_fn(void *arg)
{
    infer_feed_t *self = arg;
    s_data_open(self);
    zsock_t *pipe_sock = zsock_new(ZMQ_PAIR), *sub_sock = zsock_new(ZMQ_SUB);
    if (sub_sock)
        curve_apply_client(self->curve, sub_sock);
    void *pipe = pipe_sock ? zsock_resolve(pipe_sock) : NULL;
    void *sub = sub_sock ? zsock_resolve(sub_sock) : NULL;
    int zero = 0;
    if (pipe && sub) {
        zmq_setsockopt(pipe, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "model", 5);
    }
    if (!pipe || !sub || zmq_connect(pipe, self->pipe_endpoint) != 0
        || zmq_connect(sub, self->events) != 0) {
        log_error("model feed cannot start: %s (events endpoint %s)", zmq_strerror(errno), self->events);
        atomic_store(&self->stop, true);
    }
    while (!atomic_load(&self->stop)) {
        int64_t now = clock_mono_ms();
        long timeout = SLICE_MSEC;
        if (self->need_fetch && self->next_try_ms - now < timeout)
            timeout = self->next_try_ms > now ? (long)(self->next_try_ms - now) : 0;
        if (!self->report_sent_ms && self->next_report_ms - now < timeout)
            timeout = self->next_report_ms > now ? (long)(self->next_report_ms - now) : 0;
        zmq_pollitem_t items[3] = {{sub, 0, ZMQ_POLLIN, 0}, {pipe, 0, ZMQ_POLLIN, 0},
                                   {self->report ? zsock_resolve(self->report) : NULL, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, self->report ? 3 : 2, timeout) > 0) {
            if (items[0].revents & ZMQ_POLLIN)
                s_handle_event(self, sub);
            if (items[1].revents & ZMQ_POLLIN)
                s_handle_served(self, pipe);
            if (self->report && (items[2].revents & ZMQ_POLLIN))
                s_handle_report_reply(self);
        }
        if (self->need_fetch && clock_mono_ms() >= self->next_try_ms)
            s_try_fetch(self, pipe);
        s_fetch_pins(self, pipe);
        s_report(self);
    }
    zsock_destroy(&self->report);
    zsock_destroy(&sub_sock);
    zsock_destroy(&pipe_sock);
    blob_cache_destroy(&self->cache);
    data_client_destroy(&self->client);
    return NULL;
}

infer_feed_t *infer_feed_new(curve_t *curve, const char *control, const char *events,
                             const char *pipe_endpoint, int64_t have_version, int64_t report_msec,
                             const char *name, const infer_feed_data_t *data, mlops_err_t *err)
{
    infer_feed_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    self->curve = curve;
    snprintf(self->control, sizeof self->control, "%s", control);
    snprintf(self->events, sizeof self->events, "%s", events);
    snprintf(self->pipe_endpoint, sizeof self->pipe_endpoint, "%s", pipe_endpoint);
    self->have = have_version;
    self->served = have_version;
    self->production = have_version ? -1 : 0;   //  see s_production_is
    self->report_msec = report_msec > 0 ? report_msec : HEARTBEAT_IVL_MSEC;
    gethostname(self->host, sizeof self->host - 1);
    snprintf(self->name, sizeof self->name, "%s", name ? name : "");
    if (data && data->endpoint)
        snprintf(self->data, sizeof self->data, "%s", data->endpoint);
    if (data && data->cache_dir)
        snprintf(self->cache_dir, sizeof self->cache_dir, "%s", data->cache_dir);
    self->cache_bytes = data ? data->cache_bytes : 0;
    self->need_fetch = have_version == 0;
    self->backoff_ms = 1000;
    atomic_init(&self->stop, false);
    int rc = pthread_create(&self->thread, NULL, s_feed_fn, self);
    if (rc != 0) {
        mlops_err_set(err, rc, "cannot start the model feed thread: %s", strerror(rc));
        free(self);
        return NULL;
    }
    return self;
}

bool infer_feed_refused(void)
{
    return atomic_load(&s_refused);
}

void infer_feed_destroy(infer_feed_t **p)
{
    if (!p || !*p)
        return;
    infer_feed_t *self = *p;
    atomic_store(&self->stop, true);
    pthread_join(self->thread, NULL);
    free(self);
    *p = NULL;
}
