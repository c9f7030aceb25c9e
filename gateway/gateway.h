/*  gateway.h: mlops-gateway, HTTP in front of the inference workers.

    One reactor thread does everything: libmicrohttpd runs in "external
    epoll" mode (no thread of its own) and the backend ROUTER socket sits in
    the same zmq_poll, so a request is read, parsed, encoded as PREDICT and
    sent to a worker, its connection suspended, and resumed with the answer
    when PREDICTION or ERROR comes back, all without a lock or a thread hop.
    Slow clients cost a connection slot, not a thread, and are dropped after
    the connection timeout (idle) or the header deadline (headers not whole
    in time, however steadily they trickle: http_guard.c). Why not MHD's thread pool: on the two cores this
    runs on (shared with the workers and the load generator) a second HTTP
    thread buys no CPU, and every request would then cross threads twice to
    reach the one thread that may touch the ROUTER socket; one thread also
    keeps the router, the request table and the counters free of locks.

    Requests that wait for a worker (all busy up to their credit) queue in
    arrival order; each has a deadline (504 when it passes). When a worker
    dies (heartbeat expiry, DISCONNECT, or its connection closing) its
    requests in flight go to another worker: predictions are idempotent.

    The /api endpoints ask the broker's control socket through a DEALER in
    the same poll loop: the request is sent, the connection suspended as a
    predict's is, and the REPLY (replies come back in request order, so a
    FIFO pairs them) resumes it. A broker silent past broker_timeout_ms
    fails every request waiting on it with 503 and the DEALER is replaced,
    so a late reply can never be paired with a newer request. No thread and
    no blocking call: a broker that is away never slows /predict.

    Caveats: the gateway trusts nothing from HTTP clients or from backend
    peers, but the backend socket has no authentication of its own (bind it
    to a private address, or use CURVE; see the README).
*/
#ifndef MLOPS_GATEWAY_H
#define MLOPS_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define GATEWAY_PORT 8000
#define GATEWAY_BACKEND "tcp://*:5558"
#define GATEWAY_BODY_MAX_BYTES (1u << 20)          //  /predict
#define GATEWAY_BATCH_BODY_MAX_BYTES (32u << 20)   //  /predict/batch
#define GATEWAY_BATCH_MAX 10000                    //  records in one batch
#define GATEWAY_DEADLINE_MSEC 10000                //  request to answer, else 504
#define GATEWAY_CLIENT_TIMEOUT_SEC 10              //  idle or slow connection
#define GATEWAY_CONNECTIONS_MAX 4096               //  open HTTP connections
#define GATEWAY_CONNECTIONS_PER_IP 128             //  open HTTP connections from one address
#define GATEWAY_HEADER_TIMEOUT_MSEC 10000          //  a request's headers must be in by then
#define GATEWAY_CREDIT 32                          //  requests in flight per worker
#define GATEWAY_BROKER "tcp://127.0.0.1:5556"     //  the broker's control socket
#define GATEWAY_BROKER_TIMEOUT_MSEC 3000           //  /api answers 503 after this
#define GATEWAY_CONTROL_INFLIGHT_MAX 64            //  /api requests at the broker at once
#define GATEWAY_MODEL_NAME "titanic"               //  the served model's V2 name
#define GATEWAY_FEEDBACK_SAMPLE 1.0                //  share of predictions logged for /feedback
#define GATEWAY_ROLLOUT_POLL_MSEC 1000             //  CANARY to the broker (mlops-gateway with --broker)

typedef struct {
    const char *bind_address;        //  HTTP address, NULL = all interfaces
    uint16_t port;                   //  HTTP port, 0 = any free one
    const char *backend;             //  ROUTER endpoint the workers connect to
    size_t body_max_bytes;           //  /predict body limit (413 above)
    size_t batch_body_max_bytes;     //  /predict/batch body limit (413 above)
    size_t batch_max;                //  records in a batch (422 above)
    int64_t deadline_ms;             //  504 after this
    unsigned client_timeout_sec;     //  MHD connection timeout
    unsigned connections_max;        //  MHD connection limit
    int credit;                      //  requests in flight per worker
    int64_t heartbeat_msec;          //  heartbeat interval
    int liveness;                    //  intervals of silence before a worker is dead
    const char *broker;              //  control endpoint of the broker (/api), NULL = no /api
    int64_t broker_timeout_ms;       //  503 when the broker is silent this long
    const char *admin_token;         //  bearer token for the /api actions, NULL/"" = none
    const char *static_dir;          //  dashboard files, NULL = no dashboard (404)
    const char *read_token;          //  bearer token for /api reads only (needs admin_token), NULL = none
    const char *allowed_hosts;       //  Host values served, comma-separated; NULL = the loopback
                                     //  names and bind_address, "*" = any (guard.h)
    const char *allowed_origins;     //  Origins allowed besides our own for /api actions, NULL = none
    unsigned connections_per_ip;     //  MHD per-IP connection limit, 0 = none
    int64_t header_timeout_ms;       //  request headers must be whole this long after the first byte
    const char *model_name;          //  the served model's name in /v2/models/NAME
    size_t feedback_rows;            //  prediction log rows (feedback.h), 1..FEEDBACK_LOG_ROWS_MAX
    double feedback_sample;          //  share of predictions logged, 0..1
    const char *feedback_token;      //  bearer token for POST /feedback, NULL = the admin token's rule
    int64_t rollout_poll_ms;         //  asks the broker for the rollout this often, 0 = never
                                     //  (the default here; main.c: GATEWAY_ROLLOUT_POLL_MSEC with --broker)
} gateway_config_t;

typedef struct gateway gateway_t;

//  Fills cfg with the defaults above.
void gateway_config_defaults(gateway_config_t *cfg);

//  Binds the HTTP port and the backend socket. Returns NULL with err:
//  MLOPS_EINVAL (a bad endpoint or limit), or the errno of a failed bind
//  (EADDRINUSE: another process has the port).
gateway_t *gateway_new(const gateway_config_t *cfg, mlops_err_t *err);

//  Runs the reactor until gateway_stop. Returns 0, or an error code when
//  polling fails for a reason other than a signal.
int gateway_run(gateway_t *self);

//  Asks a running gateway to stop: async-signal-safe (sets a flag). It
//  stops accepting connections and returns from gateway_run once the
//  requests in flight are answered (2 s at most).
void gateway_stop(gateway_t *self);

//  The HTTP port actually bound (useful with port 0).
uint16_t gateway_port(const gateway_t *self);

//  The backend endpoint actually bound (resolves "*:0"). Borrowed.
const char *gateway_backend(const gateway_t *self);

//  Answers what is in flight with 503, closes everything, frees; ignores
//  NULL; sets *p to NULL.
void gateway_destroy(gateway_t **p);

#endif
