/*  test_gateway.c: gateway/gateway.c and the parts around it (http.c,
    backend.c, requests.c) as one object on loopback: configurations
    refused, a stop before the loop runs, and requests through a running
    gateway to fake inference workers (DEALER sockets in this thread):
    routing answers, a round trip, and a lost worker's request answered by
    another. The gateway's loop runs in a thread; every wait on a socket
    is bounded (a hung gateway fails the test instead of hanging it). */
#include "gateway.h"
#include "msg.h"
#include "testing.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MSEC 5000   //  bound on any one wait for the gateway

static void s_config(gateway_config_t *cfg)
{
    gateway_config_defaults(cfg);
    cfg->bind_address = "127.0.0.1";
    cfg->port = 0;
    cfg->backend = "tcp://127.0.0.1:*";
    cfg->broker = NULL;
    cfg->connections_max = 64;
}

static void s_refused(const gateway_config_t *cfg, int code, const char *why)
{
    mlops_err_t err = {0};
    gateway_t *g = gateway_new(cfg, &err);
    CHECK(g == NULL);
    CHECK_INT(err.code, code);
    CHECK_CONTAINS(err.msg, why);
}

static void test_gateway_config_refused(void)
{
    gateway_config_t cfg;
    s_config(&cfg);
    cfg.body_max_bytes = 0;
    s_refused(&cfg, MLOPS_EINVAL, "body limits");
    s_config(&cfg);
    cfg.batch_max = PROTO_RECORDS_MAX + 1;
    s_refused(&cfg, MLOPS_EINVAL, "batch limit");
    s_config(&cfg);
    cfg.liveness = 0;
    s_refused(&cfg, MLOPS_EINVAL, "heartbeat settings");
    s_config(&cfg);
    cfg.credit = 0;
    s_refused(&cfg, MLOPS_EINVAL, "credit");
    s_config(&cfg);
    cfg.bind_address = "localhost:80";
    s_refused(&cfg, MLOPS_EINVAL, "not an IPv4 address");
    s_config(&cfg);
    cfg.backend = "nonsense://x";
    mlops_err_t err = {0};
    CHECK(gateway_new(&cfg, &err) == NULL);
    CHECK_CONTAINS(err.msg, "cannot bind the backend socket to nonsense://x");
    gateway_destroy(NULL);
}

static void test_gateway_stop_before_run(void)
{
    gateway_config_t cfg;
    s_config(&cfg);
    mlops_err_t err;
    gateway_t *g = gateway_new(&cfg, &err);
    CHECK(g != NULL);
    CHECK(gateway_port(g) != 0);
    CHECK_CONTAINS(gateway_backend(g), "tcp://127.0.0.1:");
    gateway_stop(g);
    CHECK_INT(gateway_run(g), 0);   //  nothing in flight: returns at once
    gateway_destroy(&g);
    CHECK(g == NULL);
}

/* --- a running gateway --------------------------------------------------- */

static void *s_run_fn(void *arg)
{
    gateway_run(arg);
    return NULL;
}

//  Opens a connection to the gateway and sends one request on it.
static int s_http_send(uint16_t port, const char *method, const char *path, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = WAIT_MSEC / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    char req[1024];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, body ? strlen(body) : 0, body ? body : "");
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

//  Reads the whole answer on fd (the gateway closes it) into out: the
//  status line, headers and body. Returns the status, -1 on failure.
static int s_http_read(int fd, char *out, size_t size)
{
    size_t got = 0;
    ssize_t n;
    while (got + 1 < size && (n = read(fd, out + got, size - 1 - got)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
    int status = -1;
    return sscanf(out, "HTTP/1.1 %d", &status) == 1 ? status : -1;
}

static int s_http(uint16_t port, const char *method, const char *path, const char *body, char *out,
                  size_t size)
{
    int fd = s_http_send(port, method, path, body);
    return fd < 0 ? -1 : s_http_read(fd, out, size);
}

static int s_send(zsock_t *sock, const proto_msg_t *msg)
{
    uint8_t *frame = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(msg, &frame, &len);
    if (rc == 0 && zmq_send(zsock_resolve(sock), frame, len, 0) < 0)
        rc = -1;
    free(frame);
    return rc;
}

//  The next message on sock that is not a HEARTBEAT (or, when want is
//  PROTO_HEARTBEAT, the next HEARTBEAT); NULL when none comes in time.
static proto_msg_t *s_recv(zsock_t *sock, proto_cmd_t want)
{
    for (;;) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, zsock_resolve(sock), 0) < 0) {
            zmq_msg_close(&frame);
            return NULL;
        }
        mlops_err_t err;
        proto_msg_t *msg = proto_msg_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), &err);
        zmq_msg_close(&frame);
        if (msg && (msg->cmd == want || (want != PROTO_HEARTBEAT && msg->cmd != PROTO_HEARTBEAT)))
            return msg;
        proto_msg_destroy(&msg);
    }
}

//  A fake inference worker serving model_version, known to the gateway
//  once this returns (its first HEARTBEAT back proves the READY was read).
static zsock_t *s_worker(const gateway_t *g, const char *host, int64_t model_version)
{
    zsock_t *sock = zsock_new_dealer(gateway_backend(g));
    if (!sock)
        return NULL;
    zsock_set_rcvtimeo(sock, WAIT_MSEC);
    zsock_set_linger(sock, 0);
    proto_msg_t ready = {.cmd = PROTO_READY, .ready = {.stage = "infer", .host = host, .pid = 1,
                                                      .model_version = model_version}};
    proto_msg_t *beat = s_send(sock, &ready) == 0 ? s_recv(sock, PROTO_HEARTBEAT) : NULL;
    if (!beat)
        zsock_destroy(&sock);
    proto_msg_destroy(&beat);
    return sock;
}

static int s_answer(zsock_t *sock, uint64_t req_id, int64_t prediction, double probability)
{
    proto_msg_t msg = {.cmd = PROTO_PREDICTION,
                       .prediction = {.req_id = req_id, .model_version = 4, .predictions = &prediction,
                                      .probabilities = &probability, .n = 1}};
    return s_send(sock, &msg);
}

static gateway_t *s_gateway;
static pthread_t s_thread;

static int s_start(void)
{
    gateway_config_t cfg;
    s_config(&cfg);
    mlops_err_t err;
    s_gateway = gateway_new(&cfg, &err);
    if (!s_gateway || pthread_create(&s_thread, NULL, s_run_fn, s_gateway) != 0) {
        gateway_destroy(&s_gateway);
        return -1;
    }
    return 0;
}

static void s_stop(void)
{
    gateway_stop(s_gateway);
    pthread_join(s_thread, NULL);
    gateway_destroy(&s_gateway);
}

static void s_routes(uint16_t port)
{
    char out[65536];
    CHECK_INT(s_http(port, "GET", "/health", NULL, out, sizeof out), 503);
    CHECK_CONTAINS(out, "{\"status\":\"unavailable\",\"detail\":\"no inference worker is connected\"");
    CHECK_INT(s_http(port, "GET", "/nope", NULL, out, sizeof out), 404);
    CHECK_CONTAINS(out, "not found: the endpoints are");
    CHECK_INT(s_http(port, "GET", "/predict", NULL, out, sizeof out), 405);
    CHECK_CONTAINS(out, "Allow: POST");
    CHECK_INT(s_http(port, "POST", "/predict", "{\"a\":1}", out, sizeof out), 503);
    CHECK_CONTAINS(out, "no inference worker is connected");
    CHECK_INT(s_http(port, "POST", "/predict", "{\"a\":", out, sizeof out), 400);
    CHECK_CONTAINS(out, "\"position\":4");
    CHECK_INT(s_http(port, "GET", "/api/runs", NULL, out, sizeof out), 503);
    CHECK_CONTAINS(out, "no broker configured");
    CHECK_INT(s_http(port, "GET", "/", NULL, out, sizeof out), 404);
    CHECK_CONTAINS(out, "--static DIR");
}

//  Answers without a worker: routing, refusals, and /metrics counting them.
static void test_gateway_routes(void)
{
    CHECK_INT(s_start(), 0);
    uint16_t port = gateway_port(s_gateway);
    s_routes(port);
    char out[65536];
    int status = s_http(port, "GET", "/metrics", NULL, out, sizeof out);
    s_stop();
    CHECK_INT(status, 200);
    CHECK_CONTAINS(out, "mlops_gateway_requests_total{endpoint=\"/health\",status=\"503\"} 1\n");
    CHECK_CONTAINS(out, "mlops_gateway_requests_total{endpoint=\"/predict\",status=\"405\"} 1\n");
    CHECK_CONTAINS(out, "mlops_gateway_requests_total{endpoint=\"other\",status=\"404\"} 1\n");
}

static void s_round_trip(zsock_t **workers, uint16_t port)
{
    zsock_t *w = workers[0];
    char out[65536];
    CHECK_INT(s_http(port, "GET", "/health", NULL, out, sizeof out), 200);
    CHECK_CONTAINS(out, "{\"status\":\"ok\",\"model_version\":4,\"workers\":1,\"workers_serving\":1}");
    int fd = s_http_send(port, "POST", "/predict", "{\"Age\":22}");
    CHECK(fd >= 0);
    proto_msg_t *predict = s_recv(w, PROTO_PREDICT);
    CHECK(predict != NULL);
    CHECK_INT(predict->cmd, PROTO_PREDICT);
    CHECK_INT(predict->predict.n_records, 1);
    CHECK_STR(predict->predict.records[0].fields[0].name, "Age");
    uint64_t req_id = predict->predict.req_id;
    proto_msg_destroy(&predict);
    CHECK_INT(s_answer(w, req_id + (1ull << 32), 9, 0.9), 0);   //  another generation: late
    CHECK_INT(s_answer(w, req_id, 1, 0.75), 0);
    CHECK_INT(s_http_read(fd, out, sizeof out), 200);
    CHECK_CONTAINS(out, "{\"prediction\":1,\"probability\":0.75,\"model_version\":4,\"request_id\":\"");
    CHECK_INT(s_http(port, "GET", "/metrics", NULL, out, sizeof out), 200);
    CHECK_CONTAINS(out, "mlops_gateway_late_answers_total 1\n");
    CHECK_CONTAINS(out, "mlops_infer_predictions_total{worker=\"w1:1\"} 1\n");
}

//  Which of two workers got a PREDICT; its id in *req_id.
static zsock_t *s_who_got(zsock_t *a, zsock_t *b, uint64_t *req_id)
{
    zpoller_t *poller = zpoller_new(a, b, NULL);
    zsock_t *which = zpoller_wait(poller, WAIT_MSEC);
    zpoller_destroy(&poller);
    proto_msg_t *msg = which ? s_recv(which, PROTO_PREDICT) : NULL;
    if (!msg || msg->cmd != PROTO_PREDICT)
        which = NULL;
    else
        *req_id = msg->predict.req_id;
    proto_msg_destroy(&msg);
    return which;
}

static void s_resend(zsock_t **workers, uint16_t port)
{
    zsock_t *a = workers[0], *b = workers[1];
    int fd = s_http_send(port, "POST", "/predict", "{\"Age\":1}");
    CHECK(fd >= 0);
    uint64_t first = 0, again = 0;
    zsock_t *got = s_who_got(a, b, &first);
    CHECK(got != NULL);
    proto_msg_t bye = {.cmd = PROTO_DISCONNECT, .disconnect = {.reason = "test"}};
    CHECK_INT(s_send(got, &bye), 0);
    zsock_t *other = got == a ? b : a;
    proto_msg_t *msg = s_recv(other, PROTO_PREDICT);
    CHECK(msg != NULL);
    CHECK_INT(msg->cmd, PROTO_PREDICT);
    again = msg->predict.req_id;
    proto_msg_destroy(&msg);
    CHECK(again == first);   //  the same request, sent again
    CHECK_INT(s_answer(other, again, 0, 0.25), 0);
    char out[65536];
    CHECK_INT(s_http_read(fd, out, sizeof out), 200);
    CHECK_CONTAINS(out, "{\"prediction\":0,\"probability\":0.25,\"model_version\":4,\"request_id\":\"");
    CHECK_INT(s_http(port, "GET", "/metrics", NULL, out, sizeof out), 200);
    CHECK_CONTAINS(out, "mlops_gateway_resent_total 1\n");
    CHECK_CONTAINS(out, "mlops_gateway_workers 1\n");
}

//  Runs fn against a running gateway with n fake workers (w1, w2, ...,
//  serving version 4), then stops it all. False when fn failed or the
//  workers could not be set up.
static bool s_with_workers(int n, void (*fn)(zsock_t **workers, uint16_t port))
{
    if (s_start() != 0)
        return false;
    zsock_t *w[2] = {NULL, NULL};
    bool ok = n <= 2;
    for (int i = 0; ok && i < n; i++) {
        char host[16];
        snprintf(host, sizeof host, "w%d", i + 1);
        ok = (w[i] = s_worker(s_gateway, host, 4)) != NULL;
    }
    if (ok) {
        fn(w, gateway_port(s_gateway));
        ok = !t_failed_now;
        t_failed_now = 0;   //  the test says it, after cleaning up
    }
    zsock_destroy(&w[0]);
    zsock_destroy(&w[1]);
    s_stop();
    return ok;
}

static void test_gateway_round_trip(void)
{
    CHECK(s_with_workers(1, s_round_trip));
}

//  A worker that leaves with a request in flight: another answers it.
static void test_gateway_lost_worker_resent(void)
{
    CHECK(s_with_workers(2, s_resend));
}

int main(void)
{
    RUN(test_gateway_config_refused);
    RUN(test_gateway_stop_before_run);
    RUN(test_gateway_routes);
    RUN(test_gateway_round_trip);
    RUN(test_gateway_lost_worker_resent);
    return TEST_REPORT("test_gateway");
}
