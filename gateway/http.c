/*  http.c: the gateway's HTTP side (see gateway_internal.h): the
    libmicrohttpd callbacks, routing by path and method, reading bodies and
    queueing answers.

    A request's life: s_access_fn sees its headers (s_route decides what
    it is and may settle it at once: 404, 405, 413, /health, /metrics),
    collects its body, then s_request_complete parses it, encodes a PREDICT
    and queues it (or sends an /api call to the broker); the connection is
    suspended until the answer settles the request (gateway_settle resumes
    it); MHD then calls s_access_fn once more and s_respond queues the
    answer. s_completed_fn hands the slot back whatever happened.
*/
#include "gateway_internal.h"

#include "answer.h"
#include "api.h"
#include "body.h"
#include "log.h"
#include "openapi.h"
#include "v2.h"
#include "statics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  libmicrohttpd's memory per connection (its default is 32 KiB). It zeroes
//  the pool between requests: memset was 4% of the gateway's samples on
//  /predict at 32 KiB (bench/profile_serving.sh); 16 KiB still takes 12 KB
//  of headers (test_serving.py). Bodies do not live there: they are copied
//  out as they arrive.
#define CONNECTION_POOL_BYTES (16u << 10)

/* --- answering ----------------------------------------------------------- */

static enum MHD_Result s_respond(gateway_t *self, request_t *req)
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
    http_guard_headers(self, r, req->content_type);
    if (req->allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, req->allow);
    if (req->challenge)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"mlops\"");
    if (req->request_id[0])
        MHD_add_response_header(r, "X-Request-Id", req->request_id);
    enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
    double seconds = (double)(clock_mono_us() - req->started_us) / 1e6;
    counters_observe(self->counters, req->endpoint, req->status, seconds);
    return rc;
}

static void s_answer_health(gateway_t *self, request_t *req)
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
    gateway_settle(self, req, reason ? 503 : 200, strndup(text, (size_t)n), (size_t)n);
}

static void s_answer_metrics(gateway_t *self, request_t *req)
{
    counters_gauges_t g = {.in_flight = requests_in_flight(self->requests),
                           .queued = requests_queued(self->requests),
                           .resent = self->resent, .late = self->late, .bad_frames = self->bad_frames};
    size_t len = 0, more = 0;
    char *text = counters_render(self->counters, self->router, &g, &len);
    char *live = text ? feedback_metrics(self->feedback, &more) : NULL;
    char *both = live ? realloc(text, len + more + 1) : NULL;
    if (both) {
        memcpy(both + len, live, more + 1);
        text = both, len += more;
    }
    free(live);
    text = drift_gauges_append(self->drift_gauges, text, &len);
    text = text ? rollout_link_metrics(self, text, &len) : NULL;
    gateway_settle(self, req, 200, text, len);
    req->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* --- routing ------------------------------------------------------------- */

//  A request with a body to read, up to max bytes: 413 at once when its
//  declared length is over.
void http_expect_body(gateway_t *self, request_t *req, size_t max)
{
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;
    if (!request_expect(req, declared, max)) {
        char why[128];
        snprintf(why, sizeof why, "body of %llu bytes is over the limit of %zu bytes", declared,
                 req->body_max);
        gateway_settle_detail(self, req, 413, why);
    }
}

//  GET / and GET /static/NAME: the dashboard's files (and /docs's page).
static void s_route_static(gateway_t *self, request_t *req, const char *url, bool get)
{
    req->endpoint = COUNTERS_STATIC;
    if (!get) {
        req->allow = "GET, HEAD";
        gateway_settle_detail(self, req, 405, "method not allowed: use GET");
        return;
    }
    char *body = NULL;
    size_t len = 0;
    const char *type = NULL;
    mlops_err_t err;
    int status = statics_load(self->cfg.static_dir, url, &body, &len, &type, &err);
    if (status != 0) {
        gateway_settle_detail(self, req, status, err.msg);
        return;
    }
    gateway_settle(self, req, 200, body, len);
    req->content_type = type;
}

//  GET /openapi.json, built from the production model's signature, and
//  GET /docs, a static page that reads it.
static void s_route_docs(gateway_t *self, request_t *req, const char *url, bool get)
{
    if (strcmp(url, "/docs") == 0 || !get) {
        s_route_static(self, req, "/static/docs.html", get);
        return;
    }
    req->endpoint = COUNTERS_STATIC;
    size_t len = 0;
    const schema_t *schema = http_v2_schema(self, router_version(self->router));
    char *body = openapi_document(schema, self->cfg.model_name, &len);
    gateway_settle(self, req, 200, body, len);
}

//  /api/...: reads go to the broker at once; actions are checked against
//  the admin token from their headers and go once their body is in.
static void s_route_api(gateway_t *self, request_t *req, const char *url, bool get, bool post)
{
    req->endpoint = COUNTERS_API;
    if (strcmp(url, "/api/feedback") == 0) {   //  the gateway's own, not the broker's
        http_feedback_summary(self, req, get);
        return;
    }
    req->call = api_call_of(url);
    bool action = api_call_is_action(req->call);
    if (req->call == API_NONE)
        gateway_settle_detail(self, req, 404, "not found: the /api endpoints are GET /api/runs, "
                              "/api/runs/RUN/logs, /api/models, /api/workers, /api/drift, /api/canary and POST /api/retrain, "
                              "/api/promote, /api/rollback");
    else if (action && !post) {
        req->allow = "POST";
        gateway_settle_detail(self, req, 405, "method not allowed: use POST");
    } else if (!action && !get) {
        req->allow = "GET, HEAD";
        gateway_settle_detail(self, req, 405, "method not allowed: use GET");
    } else if (req->call == API_LOGS)
        broker_link_send_logs(self, req, url,
                              MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "task"));
    else if (!action)
        broker_link_send(self, req, NULL, 0);
    else {
        const char *auth = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                       MHD_HTTP_HEADER_AUTHORIZATION);
        int denied = api_token_check(self->cfg.admin_token, auth);
        req->challenge = denied == 401;
        if (denied)
            gateway_settle_detail(self, req, denied, denied == 401
                                  ? "this action needs the admin token: send Authorization: Bearer TOKEN"
                                  : "the admin token is not the right one");
        else
            http_expect_body(self, req, API_BODY_MAX_BYTES);
    }
}

//  Decides what a request is from its first line and headers. Leaves it
//  READING (a predict or an action, or an error to answer once the body is
//  read), CONTROL (a read at the broker) or DONE (answer at once).
static void s_route(gateway_t *self, request_t *req, const char *url, const char *method)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    if (strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0) {
        req->endpoint = url[1] == 'h' ? COUNTERS_HEALTH : COUNTERS_METRICS;
        if (!get) {
            req->allow = "GET, HEAD";
            gateway_settle_detail(self, req, 405, "method not allowed: use GET");
        } else if (req->endpoint == COUNTERS_HEALTH)
            s_answer_health(self, req);
        else
            s_answer_metrics(self, req);
        return;
    }
    if (strncmp(url, "/api/", 5) == 0) {
        s_route_api(self, req, url, get, post);
        return;
    }
    if (strcmp(url, "/openapi.json") == 0 || strcmp(url, "/docs") == 0) {
        s_route_docs(self, req, url, get);
        return;
    }
    if (strcmp(url, "/v2") == 0 || strncmp(url, "/v2/", 4) == 0) {
        http_v2_route(self, req, url, get, post);
        return;
    }
    if (strcmp(url, "/feedback") == 0) {
        http_feedback_route(self, req, post);
        return;
    }
    if (strcmp(url, "/") == 0 || strncmp(url, "/static/", 8) == 0) {
        s_route_static(self, req, url, get);
        return;
    }
    req->batch = strcmp(url, "/predict/batch") == 0;
    if (!req->batch && strcmp(url, "/predict") != 0) {
        gateway_settle_detail(self, req, 404, "not found: the endpoints are /health, /predict, "
                              "/predict/batch, /feedback, /metrics, /v2/..., /api/..., /openapi.json, /docs "
                              "and the dashboard at /");
        return;
    }
    req->endpoint = req->batch ? COUNTERS_BATCH : COUNTERS_PREDICT;
    if (!post) {
        req->allow = "POST";
        gateway_settle_detail(self, req, 405, "method not allowed: use POST");
        return;
    }
    //  ?version=V pins the request to a registry version (PROTOCOL.md, PREDICT)
    const char *pin = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "version");
    if (pin && !(req->pin_version = v2_version_parse(pin, strlen(pin)))) {
        gateway_settle_detail(self, req, 400, "query parameter version must be a whole number > 0");
        return;
    }
    http_expect_body(self, req, req->batch ? self->cfg.batch_body_max_bytes : self->cfg.body_max_bytes);
}

/* --- bodies -------------------------------------------------------------- */

//  A parsed predict body: encode, queue and send.
void http_predict(gateway_t *self, request_t *req, const body_t *body)
{
    http_feedback_id(self, req);
    rollout_link_route(self, req);
    if (req->pin_version && router_pinning(self->router) == 0) {
        gateway_settle_detail(self, req, 503, "no inference worker takes requests pinned to a "
                              "version (they predate it)");
        return;
    }
    proto_msg_t msg = {.cmd = PROTO_PREDICT,
                       .predict = {.req_id = requests_id(self->requests, req),
                                   .records = body->records, .n_records = body->n_records,
                                   .version = req->pin_version}};
    int rc = proto_msg_encode(&msg, &req->frame, &req->frame_len);
    if (rc != 0) {
        gateway_settle_detail(self, req, 500, mlops_strerror(rc));
        return;
    }
    req->n_records = body->n_records;
    free(req->body);
    req->body = NULL;
    requests_queue(self->requests, req, clock_mono_ms() + self->cfg.deadline_ms);
    backend_dispatch(self);
    rollout_link_copies(self, req, &msg);
}

//  The body is in: parse, encode, queue and send (or send the /api call).
static void s_request_complete(gateway_t *self, request_t *req)
{
    if (req->too_big) {
        char why[96];
        snprintf(why, sizeof why, "body is over the limit of %zu bytes", req->body_max);
        gateway_settle_detail(self, req, 413, why);
        return;
    }
    if (req->v2) {
        http_v2_complete(self, req);
        return;
    }
    if (req->feedback) {
        http_feedback_complete(self, req);
        return;
    }
    if (req->call != API_NONE) {
        broker_link_send(self, req, req->body, req->body_len);
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
        gateway_settle(self, req, 400, answer, len);
    } else if (rc == MLOPS_ECHECK) {
        size_t shown = body.n_problems < BODY_PROBLEMS_MAX ? body.n_problems : BODY_PROBLEMS_MAX;
        char *answer = answer_problems(body.problems, shown, body.n_problems, false, &len);
        gateway_settle(self, req, 422, answer, len);
    } else if (rc != 0)
        gateway_settle_detail(self, req, 500, mlops_err_text(&err, rc));
    else if (router_live(self->router) == 0)
        gateway_settle_detail(self, req, 503, "no inference worker is connected");
    else if (router_serving(self->router) == 0)
        gateway_settle_detail(self, req, 503, "no model loaded yet: the inference workers wait for one");
    else
        http_predict(self, req, &body);
    body_clear(&body);
}

/* --- libmicrohttpd callbacks --------------------------------------------- */

static enum MHD_Result s_access_fn(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    (void)version;
    gateway_t *self = cls;
    request_t *req = *con_cls;
    if (!req) {
        req = requests_take(self->requests, conn, clock_mono_us());
        if (!req)
            return MHD_NO;
        *con_cls = req;
        if (!http_guard_request(self, req, url, method))
            return s_respond(self, req);   //  refused: its body is not worth reading
        s_route(self, req, url, method);
        //  answer at once only a body we refuse to read (413: MHD then closes
        //  the connection); anything else is answered after the body was read
        //  (or dropped), as an answer queued earlier makes MHD close too
        if (req->state == REQ_DONE && req->status == 413)
            return s_respond(self, req);
        return MHD_YES;
    }
    if (*upload_data_size) {
        request_append(req, upload_data, *upload_data_size);
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
    (void)toe;
    gateway_t *self = cls;
    request_t *req = *con_cls;
    if (req)
        gateway_release(self, req);
    *con_cls = NULL;
    http_guard_completed(self, conn);
}

static void s_mhd_log_fn(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf(line, sizeof line, fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    log_warning("http: %s", line);
}

int http_open(gateway_t *self, mlops_err_t *err)
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
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, self->cfg.connections_per_ip,
        MHD_OPTION_NOTIFY_CONNECTION, http_guard_notify_fn, self,
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
    return http_guard_open(self, err);
}
