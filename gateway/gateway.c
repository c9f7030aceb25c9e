/*  gateway.c: the gateway's loop and lifecycle (see gateway.h), and the one
    operation every other part ends in: settling a request. The parts are
    in their own files around gateway_internal.h: HTTP and routing
    (http.c), the inference workers' ROUTER (backend.c), the broker's
    control socket for /api (broker_link.c) and the request table
    (requests.c).

    One turn of the loop: zmq_poll on the backend, the monitor, the broker
    link and libmicrohttpd's epoll descriptor; drain whichever is ready;
    run MHD when it has work (or a connection was resumed); then the
    timers (the gateway's own stall, deadlines, heartbeats, the broker's
    silence) and a dispatch of what is queued.
*/
#include "gateway_internal.h"

#include "answer.h"
#include "liveness.h"
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.h>

#define DRAIN_MSEC 2000                   //  answers awaited after a stop request
#define STALL_SLACK_MSEC 100              //  a loop turn this much over its wait is a stall of ours

/* --- settling requests --------------------------------------------------- */

void gateway_settle(gateway_t *self, request_t *req, int status, char *answer, size_t len)
{
    rollout_link_settled(self, req, status);
    if (req->state == REQ_SENT && router_worker(self->router, req->worker))
        router_abandoned(self->router, req->worker);
    requests_settle(self->requests, req, status, answer, len);
    if (req->suspended) {
        req->suspended = false;
        MHD_resume_connection(req->conn);
        self->resumed = true;
    }
}

void gateway_settle_detail(gateway_t *self, request_t *req, int status, const char *message)
{
    size_t len = 0;
    char *answer = req->v2 ? answer_v2_error(message, &len) : answer_detail(message, &len);
    gateway_settle(self, req, status, answer, len);
}

void gateway_release(gateway_t *self, request_t *req)
{
    if (req->state == REQ_SENT && router_worker(self->router, req->worker))
        router_abandoned(self->router, req->worker);
    requests_release(self->requests, req);
}

/* --- timers -------------------------------------------------------------- */

static void s_timers(gateway_t *self)
{
    int64_t now = clock_mono_ms();
    int64_t stall = router_awake(self->router, now, self->poll_wait_ms + STALL_SLACK_MSEC);
    if (stall > 0)
        log_info("the gateway itself stalled %" PRId64 " ms: workers' expiries moved out as much",
                 stall);
    request_t *req;
    while ((req = requests_oldest(self->requests)) && req->deadline_ms <= now) {
        char why[96];
        snprintf(why, sizeof why, "no answer from an inference worker within %" PRId64 " ms",
                 self->cfg.deadline_ms);
        gateway_settle_detail(self, req, 504, why);
    }
    backend_timers(self, now);
    broker_link_timers(self, now);
    drift_gauges_timers(self, now);
    http_feedback_flush(self);
    rollout_link_timers(self, now);
    http_guard_timers(self, now);
    backend_dispatch(self);
}

//  Milliseconds the reactor may sleep.
static long s_poll_timeout(gateway_t *self)
{
    int64_t now = clock_mono_ms();
    int64_t next = backend_due_ms(self);
    request_t *oldest = requests_oldest(self->requests);
    if (oldest && oldest->deadline_ms < next)
        next = oldest->deadline_ms;
    if (broker_link_due_ms(self) < next)
        next = broker_link_due_ms(self);
    if (http_guard_due_ms(self) < next)
        next = http_guard_due_ms(self);
    if (rollout_link_due_ms(self) < next)
        next = rollout_link_due_ms(self);
    MHD_UNSIGNED_LONG_LONG mhd_ms;
    if (MHD_get_timeout(self->httpd, &mhd_ms) == MHD_YES && now + (int64_t)mhd_ms < next)
        next = now + (int64_t)mhd_ms;
    return next <= now ? 0 : (long)(next - now);
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
        .connections_per_ip = GATEWAY_CONNECTIONS_PER_IP,
        .header_timeout_ms = GATEWAY_HEADER_TIMEOUT_MSEC,
        .model_name = GATEWAY_MODEL_NAME,
        .feedback_rows = FEEDBACK_LOG_ROWS,
        .feedback_sample = GATEWAY_FEEDBACK_SAMPLE,
    };
}

static int s_check_config(const gateway_config_t *cfg, mlops_err_t *err)
{
    if (cfg->body_max_bytes == 0 || cfg->batch_body_max_bytes == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "body limits must be at least 1 byte");
    if (cfg->batch_max == 0 || cfg->batch_max > PROTO_RECORDS_MAX)
        return mlops_err_set(err, MLOPS_EINVAL, "batch limit must be 1..%d records", PROTO_RECORDS_MAX);
    if (cfg->deadline_ms <= 0 || cfg->heartbeat_msec <= 0 || cfg->liveness <= 0
        || cfg->broker_timeout_ms <= 0 || cfg->header_timeout_ms <= 0 || cfg->rollout_poll_ms < 0)
        return mlops_err_set(err, MLOPS_EINVAL, "deadline and heartbeat settings must be positive");
    if (cfg->feedback_rows == 0 || cfg->feedback_rows > FEEDBACK_LOG_ROWS_MAX
        || !(cfg->feedback_sample >= 0 && cfg->feedback_sample <= 1))
        return mlops_err_set(err, MLOPS_EINVAL, "the feedback log takes 1..%d rows and a sample "
                             "rate of 0..1", FEEDBACK_LOG_ROWS_MAX);
    if (cfg->connections_max == 0 || cfg->connections_max > 1000000 || cfg->credit <= 0)
        return mlops_err_set(err, MLOPS_EINVAL, "connection limit and credit must be positive");
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

//  Opens the sockets: the backend, the broker link, then HTTP.
static int s_open(gateway_t *self, mlops_err_t *err)
{
    self->curve = curve_new_from_env(err);
    if (!self->curve)
        return err->code ? err->code : MLOPS_EINVAL;
    int rc = backend_open(self, err);
    if (rc == 0)
        rc = broker_link_open(self, err);
    if (rc == 0)
        rc = http_open(self, err);
    return rc;
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
    uint32_t n_requests = self->cfg.connections_max + 16;
    self->requests = requests_new(n_requests);
    self->router = router_new(cfg->credit, liveness_interval(cfg->heartbeat_msec) * cfg->liveness);
    self->counters = counters_new();
    self->feedback = feedback_new(cfg->feedback_rows, cfg->feedback_sample, 0);
    self->rollout = rollout_new(0);
    if (!self->requests || !self->router || !self->counters || !self->feedback || !self->rollout) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory for %u request slots", n_requests);
        gateway_destroy(&self);
        return NULL;
    }
    if (s_open(self, err) != 0) {
        gateway_destroy(&self);
        return NULL;
    }
    if (cfg->broker && cfg->rollout_poll_ms > 0)
        self->next_poll_ms = clock_mono_ms();   //  ask at once: a canary may be under way
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
        *drain_until = clock_mono_ms() + DRAIN_MSEC;
        log_info("stopping: draining requests=%zu",
                 requests_in_flight(self->requests) + requests_queued(self->requests));
    }
    return (!requests_oldest(self->requests) && self->calls_n == self->calls_own)
           || clock_mono_ms() >= *drain_until;
}

int gateway_run(gateway_t *self)
{
    int64_t drain_until = 0;
    router_awake(self->router, clock_mono_ms(), 0);   //  a stall before the first turn counts too
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
            backend_drain(self);
        if (at_monitor >= 0 && (items[at_monitor].revents & ZMQ_POLLIN))
            backend_monitor_drain(self);
        if (at_control >= 0 && (items[at_control].revents & ZMQ_POLLIN))
            broker_link_drain(self);
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
    request_t *req;
    while (self->requests && (req = requests_oldest(self->requests)))
        gateway_settle_detail(self, req, 503, "the gateway is shutting down");
    broker_link_fail_all(self, 503, "the gateway is shutting down");
    drift_gauges_destroy(&self->drift_gauges);
    if (self->httpd) {
        MHD_run(self->httpd);
        MHD_stop_daemon(self->httpd);
    }
    guard_destroy(&self->guard);   //  after MHD: closing connections stop their clocks
    if (self->listen_fd != MHD_INVALID_SOCKET)
        close(self->listen_fd);
    backend_close(self);
    zsock_destroy(&self->control_sock);
    curve_destroy(&self->curve);
    router_destroy(&self->router);
    counters_destroy(&self->counters);
    feedback_destroy(&self->feedback);
    rollout_destroy(&self->rollout);
    requests_destroy(&self->requests);
    http_v2_close(self);
    free(self);
    *p = NULL;
}
