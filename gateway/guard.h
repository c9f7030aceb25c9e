/*  guard.h: the HTTP rules that keep the gateway's API from being used by
    pages and peers it was not meant for, as pure functions of header
    values (no sockets: each rule is tested alone, and fuzzed). http_guard.c
    applies them to libmicrohttpd's requests.

      Host          every request's Host must name this gateway: one of
                    --allowed-hosts, by default localhost, 127.0.0.1, [::1]
                    and the bind address (403). A page on evil.example whose
                    DNS name was re-pointed at 127.0.0.1 (DNS rebinding)
                    reaches the port but still sends Host: evil.example.
      Origin        a state-changing /api call (POST retrain, promote,
                    rollback, and POST /feedback) that carries an Origin must come from the
                    gateway's own origin (http or https, the same Host) or
                    one of --allowed-origins (403): cross-site request
                    forgery from a page the user happens to visit.
      Content-Type  the same calls must say application/json (415), also
                    with an empty body: an HTML form or a no-cors fetch
                    cannot send that type without a CORS preflight, which
                    the gateway never grants, so even a browser that sends
                    no Origin cannot forge an action.
      read token    with an admin token configured, /api reads (GET, HEAD)
                    need it too, or the separate read token (401 / 403):
                    runs list source paths, errors, hosts and pids.
      deadline      a connection has header_timeout_ms from its accept (or
                    from the end of its previous request) to deliver a
                    request's headers whole: libmicrohttpd's own timeout is
                    an idle one that every header line resets (slowloris).
                    guard_conn_* keep the clocks; the caller closes what
                    guard_conn_expired hands back.

    The action's admin token itself is checked where the route is known
    (http.c, api_token_check): the guard runs first, so a forged action is
    refused before its token is even looked at.

    Caveats: every header value is untrusted text; nothing here copies one
    into an answer (the messages are fixed sentences).
*/
#ifndef MLOPS_GUARD_H
#define MLOPS_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gateway.h"
#include "list.h"

#define GUARD_ENTRIES_MAX 32          //  entries in --allowed-hosts / --allowed-origins
#define GUARD_ENTRY_MAX_BYTES 255     //  one entry (a DNS name is at most 253)
#define GUARD_ANY "*"                 //  --allowed-hosts '*': no Host check

typedef struct guard guard_t;

//  The headers (and the first line) of one request; NULL = header absent.
typedef struct {
    const char *method;               //  "GET", "POST", ...
    const char *path;                 //  the URL path
    const char *host;                 //  Host
    const char *origin;               //  Origin
    const char *content_type;         //  Content-Type
    const char *authorization;        //  Authorization
} guard_request_t;

//  A connection's header clock: embed one per connection (its owner frees).
typedef struct {
    list_node_t node;                 //  on the guard's list while headers are awaited
    int64_t deadline_ms;              //  when the headers must be in (monotonic ms)
    void *conn;                       //  the caller's connection, handed back on expiry
} guard_conn_t;

//  Builds the rules from cfg (allowed_hosts, allowed_origins, admin_token,
//  read_token, bind_address, header_timeout_ms) for a gateway listening on
//  port. Returns NULL with err: MLOPS_EINVAL (an entry that is empty, too
//  long, has a byte a host or origin cannot have, an origin that is not
//  http(s)://HOST[:PORT], too many entries, a read token without an admin
//  token), MLOPS_ENOMEM.
guard_t *guard_new(const gateway_config_t *cfg, uint16_t port, mlops_err_t *err);

//  Frees the rules; the connections still on its list are the caller's
//  (unlinked here). Ignores NULL; sets *p to NULL.
void guard_destroy(guard_t **p);

//  Applies every rule that fits the request. Returns 0 (go on), or the
//  status to answer, 401, 403 or 415, with *why a fixed sentence (static)
//  saying what to send instead. *challenge is set for a 401 (answer with
//  WWW-Authenticate).
int guard_check(const guard_t *self, const guard_request_t *req, const char **why, bool *challenge);

//  The rules alone (guard_check uses them): each returns 0 or its status.
int guard_host(const guard_t *self, const char *host);
int guard_origin(const guard_t *self, const char *origin, const char *host);
int guard_content_type(const char *content_type);
int guard_read_token(const guard_t *self, const char *authorization);

//  The headers every answer of content_type carries (a static table of
//  *n name/value pairs): nosniff on all; a Content-Security-Policy, frame
//  blocking and no referrer on everything that is not JSON (pages, scripts,
//  styles, images, text).
typedef struct {
    const char *name, *value;
} guard_header_t;
const guard_header_t *guard_headers(const char *content_type, size_t *n);

//  Starts c's clock for conn at now_ms: it expires at now_ms +
//  header_timeout_ms unless guard_conn_stop comes first. c must be on no
//  list (a zeroed guard_conn_t, or one stopped).
void guard_conn_start(guard_t *self, guard_conn_t *c, void *conn, int64_t now_ms);

//  Stops c's clock (its headers are in, or it closed); does nothing when
//  it is not running.
void guard_conn_stop(guard_conn_t *c);

//  The oldest connection whose deadline is at or before now_ms, taken off
//  the list (stopped), or NULL when none is due.
guard_conn_t *guard_conn_expired(guard_t *self, int64_t now_ms);

//  When the next clock expires (monotonic ms), INT64_MAX when none runs.
int64_t guard_conn_due_ms(const guard_t *self);

#endif
