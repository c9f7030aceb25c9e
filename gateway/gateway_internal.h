/*  gateway_internal.h: the gateway's private header, shared by the files
    that make up the one gateway object (h2o's http2_internal.h habit):

        gateway.c      the loop and the lifecycle (new, run, stop, destroy),
                       timers, and settling a request (answer + wake its
                       connection)
        http.c         libmicrohttpd: its callbacks, routing by path and
                       method, reading bodies, answering
        http_guard.c   guard.h's rules on those requests: Host, Origin,
                       Content-Type, read token, security headers, and
                       the header deadline
        backend.c      the ROUTER to the inference workers: READY, PREDICT
                       out, PREDICTION / ERROR / HEARTBEAT / DISCONNECT in,
                       heartbeats, probes, lost workers
        broker_link.c  the DEALER to the broker's control socket for /api
                       (what goes in it and comes out is api.c's)
        http_v2.c      the Open Inference Protocol's paths (the bodies are
                       v2.c's, no I/O) and the signatures workers send
        requests.c     the request table (requests.h, no I/O)
        http_feedback.c  request ids, the prediction log (feedback.h, no
                       I/O), POST /feedback and GET /api/feedback
        rollout_link.c the shadow or canary (rollout.h, no I/O) on the
                       sockets: the poll of the broker (CANARY), a
                       request's side, shadow copies out and back

    Everything runs on the reactor's one thread; nothing here locks.
*/
#ifndef MLOPS_GATEWAY_INTERNAL_H
#define MLOPS_GATEWAY_INTERNAL_H

#include "gateway.h"

#include "body.h"
#include "clock.h"
#include "counters.h"
#include "curve.h"
#include "drift_gauges.h"
#include "feedback.h"
#include "guard.h"
#include "msg.h"
#include "requests.h"
#include "rollout.h"
#include "router.h"
#include "schema.h"
#include "vec.h"

#include <czmq.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define DRAIN_BATCH 512   //  messages handled from one socket before polling the others
#define SCHEMAS_MAX 16    //  signatures kept, by version (the oldest goes first)

//  The REPLY to one of the gateway's own calls to the broker (no client
//  waits for it): msg NULL when none will come (timeout, shutdown).
typedef void (broker_reply_fn)(gateway_t *self, const proto_msg_t *msg);

typedef struct {
    uint64_t req_id;                  //  the request waiting for this REPLY (unless own_fn)
    int64_t sent_ms;                  //  when it went to the broker
    broker_reply_fn *own_fn;          //  or, a call of the gateway's own: where its REPLY goes
} broker_call_t;

struct gateway {
    gateway_config_t cfg;             //  copy of the configuration
    curve_t *curve;                   //  CURVE settings (maybe none)
    router_t *router;                 //  worker table
    counters_t *counters;             //  for /metrics
    requests_t *requests;             //  request table
    feedback_t *feedback;             //  the prediction log and live metrics (http_feedback.c)
    volatile sig_atomic_t stop;       //  gateway_stop was called
    long poll_wait_ms;                //  the wait asked of zmq_poll this turn (router_awake)
    //  http.c
    struct MHD_Daemon *httpd;         //  libmicrohttpd, external epoll mode
    int httpd_fd;                     //  its epoll fd, polled by us
    MHD_socket listen_fd;             //  listening socket once quiesced (ours to close)
    uint16_t port;                    //  bound HTTP port
    bool resumed;                     //  a connection was resumed since MHD_run
    guard_t *guard;                   //  http_guard.c: the HTTP rules and header clocks
    //  http_v2.c
    VEC(schema_t *) schemas;          //  signatures the workers sent, oldest first
    //  backend.c
    zsock_t *backend_sock;            //  ROUTER the infer workers connect to
    zsock_t *monitor_sock;            //  PAIR receiving backend disconnect events
    void *backend;                    //  backend_sock's libzmq handle (the hot path uses it)
    void *monitor;                    //  monitor_sock's libzmq handle
    char backend_endpoint[256];       //  resolved endpoint
    int64_t last_sent_ms[ROUTER_WORKERS_MAX]; //  last message to each worker slot
    int64_t next_heartbeat_ms;        //  next heartbeat round
    int64_t probe_until_ms;           //  probe workers until then (0 = not probing)
    int64_t next_probe_ms;            //  next probe
    uint64_t resent, late, bad_frames; //  for /metrics (late and bad_frames: broker_link.c too)
    //  broker_link.c
    zsock_t *control_sock;            //  DEALER to the broker's control socket (/api)
    broker_call_t calls[GATEWAY_CONTROL_INFLIGHT_MAX]; //  requests at the broker, a FIFO ring
    size_t calls_head, calls_n;       //  ring's oldest entry, and its length
    size_t calls_own;                 //  of those, the gateway's own (a stop does not wait for them)
    drift_gauges_t *drift_gauges;     //  the broker's drift on /metrics (drift_gauges.c)
    //  rollout_link.c
    rollout_t *rollout;               //  the shadow or canary, as the broker said
    int64_t next_poll_ms;             //  when the next CANARY goes (0 = off for good)
    bool poll_waiting;                //  a CANARY is at the broker
    bool poll_failing;                //  the last poll failed (logged once until one works)
};

/* --- gateway.c ---------------------------------------------------------- */

//  Gives req its answer (taking `answer`; NULL means out of memory: a 500)
//  and wakes its connection. A SENT request's credit goes back to its
//  worker unanswered (router_abandoned) unless the caller counted its
//  answer and set req->worker to -1.
void gateway_settle(gateway_t *self, request_t *req, int status, char *answer, size_t len);

//  gateway_settle with the body {"detail": message}.
void gateway_settle_detail(gateway_t *self, request_t *req, int status, const char *message);

//  The request's connection is gone: gives back its credit, frees its slot.
void gateway_release(gateway_t *self, request_t *req);

/* --- http.c -------------------------------------------------------------- */

//  Starts libmicrohttpd on the configured address and port. Returns 0, or
//  MLOPS_EINVAL / the errno of a failed listen, with err.
int http_open(gateway_t *self, mlops_err_t *err);

/* --- http_guard.c ------------------------------------------------------- */

//  Builds the guard from the config and the bound port (after the daemon
//  started). Returns 0, or MLOPS_EINVAL / MLOPS_ENOMEM with err.
int http_guard_open(gateway_t *self, mlops_err_t *err);

//  Before routing: stops the connection's header clock and applies the
//  guard; false when it refused req (then settled with 401, 403 or 415).
bool http_guard_request(gateway_t *self, request_t *req, const char *url, const char *method);

//  Adds the security headers for an answer of content_type.
void http_guard_headers(const gateway_t *self, struct MHD_Response *r, const char *content_type);

//  MHD_OPTION_NOTIFY_CONNECTION: a clock per connection, from its accept.
void http_guard_notify_fn(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe);

//  A request on conn completed: its next request's headers are on the clock.
void http_guard_completed(gateway_t *self, struct MHD_Connection *conn);

//  Shuts the connections whose headers are late at now; when the next is due.
void http_guard_timers(gateway_t *self, int64_t now);
int64_t http_guard_due_ms(const gateway_t *self);

//  A request with a body to read, up to max bytes: 413 at once when its
//  declared length is over.
void http_expect_body(gateway_t *self, request_t *req, size_t max);

//  Encodes a parsed body's records as a PREDICT, queues and sends it.
void http_predict(gateway_t *self, request_t *req, const body_t *body);

/* --- http_v2.c ----------------------------------------------------------- */

//  Routes a request under /v2 (answers metadata at once, leaves an infer
//  or an index READING).
void http_v2_route(gateway_t *self, request_t *req, const char *url, bool get, bool post);

//  A V2 request's body is in: parse the tensors and send, or answer.
void http_v2_complete(gateway_t *self, request_t *req);

//  A worker's SIGNATURE: keeps it for its version (replacing one kept).
void http_v2_signature(gateway_t *self, const proto_msg_t *msg);

//  The body of a V2 request's answer to a worker's PREDICTION (as
//  answer_v2_make: 0, or an error with why); answers its ERROR.
int http_v2_prediction(const gateway_t *self, const request_t *req, const proto_msg_t *msg,
                       char **body, size_t *len, char *why, size_t size);
void http_v2_error(gateway_t *self, request_t *req, const proto_msg_t *msg);

//  The signature kept for version, or NULL. Borrowed until the next SIGNATURE.
const schema_t *http_v2_schema(const gateway_t *self, int64_t version);

//  Frees the kept signatures.
void http_v2_close(gateway_t *self);

/* --- http_feedback.c ---------------------------------------------------- */

//  Gives a prediction request its id: the client's X-Request-Id when valid,
//  else one already set (a V2 body's id), else a new one.
void http_feedback_id(gateway_t *self, request_t *req);

//  Logs a PREDICTION's rows under req's id (when sampled).
void http_feedback_log(gateway_t *self, const request_t *req, const proto_msg_t *msg);

//  POST /feedback's headers: method and token, then its body is read.
void http_feedback_route(gateway_t *self, request_t *req, bool post);

//  POST /feedback's body is in: join its labels and answer.
void http_feedback_complete(gateway_t *self, request_t *req);

//  GET /api/feedback: the log's summary and the live metrics.
void http_feedback_summary(gateway_t *self, request_t *req, bool get);

//  Sends the labelled rows waiting for the broker (FEEDBACK), one request
//  at a time; the rest wait (after each POST /feedback and each turn).
void http_feedback_flush(gateway_t *self);

//  The broker's REPLY to a FEEDBACK (a broker_reply_fn: NULL when none
//  came in time, and the rows are sent again).
void http_feedback_reply(gateway_t *self, const proto_msg_t *msg);

/* --- backend.c ----------------------------------------------------------- */

//  Creates and binds the ROUTER (and its disconnect monitor). Returns 0, or
//  MLOPS_EINVAL / MLOPS_ENOMEM / the errno of a failed bind, with err.
int backend_open(gateway_t *self, mlops_err_t *err);

//  Says DISCONNECT to every worker, stops the monitor, closes the sockets.
void backend_close(gateway_t *self);

//  Sends queued requests while some worker has credit.
void backend_dispatch(gateway_t *self);

//  Sends one frame to the worker in slot. Returns 0, or the errno of
//  zmq_send; an unreachable worker (EHOSTUNREACH) is lost before it returns.
int backend_send(gateway_t *self, int slot, const uint8_t *frame, size_t len);

//  Handles what waits on the ROUTER / on the monitor.
void backend_drain(gateway_t *self);
void backend_monitor_drain(gateway_t *self);

//  Probes, heartbeats and expiries that are due at now.
void backend_timers(gateway_t *self, int64_t now);

//  When backend_timers next has work (monotonic ms).
int64_t backend_due_ms(const gateway_t *self);

/* --- broker_link.c ------------------------------------------------------- */

//  Opens the DEALER to the broker (none when cfg.broker is NULL), replacing
//  the one there was. Returns 0, or MLOPS_ENOMEM / MLOPS_EINVAL with err.
int broker_link_open(gateway_t *self, mlops_err_t *err);

//  Encodes req's call (with its body, for an action) and sends it to the
//  broker: req waits in REQ_CONTROL, or is answered at once when that fails.
void broker_link_send(gateway_t *self, request_t *req, const char *body, size_t len);
//  The same for GET /api/runs/{run}/logs: path and the ?task= value (NULL = every task).
void broker_link_send_logs(gateway_t *self, request_t *req, const char *path, const char *task);
//  Sends a call of the gateway's own (an encoded request frame, taken); its
//  REPLY goes to fn. Returns 0, or -1 when it cannot go now (no broker, the
//  ring full, the socket refused): fn is then not called.
int broker_link_send_own(gateway_t *self, uint8_t *frame, size_t frame_len, broker_reply_fn *fn);

//  Handles what waits on the DEALER (REPLYs).
void broker_link_drain(gateway_t *self);

//  Fails everything waiting when the broker was silent too long, at now.
void broker_link_timers(gateway_t *self, int64_t now);

//  When the oldest call times out (monotonic ms), INT64_MAX when none waits.
int64_t broker_link_due_ms(const gateway_t *self);

//  Answers every request waiting on the broker with status / why (and the
//  gateway's own calls with no REPLY).
void broker_link_fail_all(gateway_t *self, int status, const char *why);

/* --- rollout_link.c ----------------------------------------------------- */

//  A predict its client did not pin: picks its side (a canary may pin it to
//  the candidate), before its PREDICT is encoded.
void rollout_link_route(gateway_t *self, request_t *req);

//  After req's PREDICT (msg) was queued and dispatched: the warm-up copies
//  of a new rollout, or during a shadow a copy pinned to the candidate to a
//  worker with spare credit when production's went out and nothing waits
//  (else counted skipped).
void rollout_link_copies(gateway_t *self, request_t *req, const proto_msg_t *msg);

//  req is settled with status: counted on its side.
void rollout_link_settled(gateway_t *self, const request_t *req, int status);

//  Production's PREDICTION for req, whose copy is out: handed to the comparison.
void rollout_link_production(gateway_t *self, const request_t *req, const proto_msg_t *msg);

//  A PREDICTION or ERROR whose id is a shadow copy's (rollout_shadow_is):
//  its worker's credit back, counted and compared, never a client's answer.
void rollout_link_copy_answered(gateway_t *self, const proto_msg_t *msg);

//  The worker in slot is lost: its copies are forgotten.
void rollout_link_lost(gateway_t *self, int slot);

//  Sends the poll when due, expires copies; when next due (monotonic ms).
void rollout_link_timers(gateway_t *self, int64_t now);
int64_t rollout_link_due_ms(const gateway_t *self);

//  The broker's REPLY to the poll (NULL: it failed or timed out).
void rollout_link_reply(gateway_t *self, const proto_msg_t *msg);

//  The mlops_rollout_* lines appended to a /metrics text (malloc'd, *len
//  its length; kept as it was when out of memory).
char *rollout_link_metrics(gateway_t *self, char *text, size_t *len);

#endif
