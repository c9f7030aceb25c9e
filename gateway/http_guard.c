/*  http_guard.c: guard.h's rules on libmicrohttpd's requests (part of the
    gateway object, see gateway_internal.h): the check before routing, the
    security headers on every answer, and the header deadline.

    The deadline: libmicrohttpd says when a connection opens and closes
    (MHD_OPTION_NOTIFY_CONNECTION) and calls the access handler once a
    request's headers are whole, but its own timeout is an idle one that
    each header line resets, and it has no call to close a connection
    between requests. So each connection gets a guard_conn_t clock when it
    opens and again when a request on it completes (keep-alive); the
    access handler stops it; and a clock that expires has its socket shut
    down (not closed: the descriptor is libmicrohttpd's), which libmicrohttpd
    sees as the peer's end and closes the connection itself. A connection
    kept alive past the deadline without a new request is closed the same
    way, as the idle timeout would.
*/
#include "gateway_internal.h"

#include "guard.h"
#include "log.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int http_guard_open(gateway_t *self, mlops_err_t *err)
{
    self->guard = guard_new(&self->cfg, self->port, err);
    return self->guard ? 0 : err->code;
}

bool http_guard_request(gateway_t *self, request_t *req, const char *url, const char *method)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (info && info->socket_context)
        guard_conn_stop(info->socket_context);
    struct MHD_Connection *c = req->conn;
    guard_request_t r = {
        .method = method, .path = url,
        .host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST),
        .origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ORIGIN),
        .content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE),
        .authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
    };
    const char *why;
    bool challenge;
    int status = guard_check(self->guard, &r, &why, &challenge);
    if (status == 0)
        return true;
    req->challenge = challenge;
    if (strncmp(url, "/api/", 5) == 0)
        req->endpoint = COUNTERS_API;   //  counted where it was aimed (routing never saw it)
    gateway_settle_detail(self, req, status, why);
    return false;
}

void http_guard_headers(const gateway_t *self, struct MHD_Response *r, const char *content_type)
{
    (void)self;
    size_t n;
    const guard_header_t *h = guard_headers(content_type, &n);
    for (size_t i = 0; i < n; i++)
        MHD_add_response_header(r, h[i].name, h[i].value);
}

void http_guard_notify_fn(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    gateway_t *self = cls;
    guard_conn_t *clock = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED && self->guard) {
        clock = calloc(1, sizeof *clock);
        if (clock)   //  out of memory: the connection only goes without a deadline
            guard_conn_start(self->guard, clock, conn, clock_mono_ms());
        *socket_context = clock;
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && clock) {
        guard_conn_stop(clock);
        free(clock);
        *socket_context = NULL;
    }
}

void http_guard_completed(gateway_t *self, struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    guard_conn_t *clock = info ? info->socket_context : NULL;
    if (clock && self->guard) {
        guard_conn_stop(clock);
        guard_conn_start(self->guard, clock, conn, clock_mono_ms());
    }
}

void http_guard_timers(gateway_t *self, int64_t now)
{
    if (!self->guard)
        return;
    size_t closed = 0;
    guard_conn_t *clock;
    while ((clock = guard_conn_expired(self->guard, now))) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(clock->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (info && shutdown(info->connect_fd, SHUT_RDWR) == 0)
            closed++;
    }
    if (closed) {
        self->resumed = true;   //  have MHD_run see the shut sockets on this turn
        log_warning("closed %zu connections that sent no whole request headers within %lld ms",
                    closed, (long long)self->cfg.header_timeout_ms);
    }
}

int64_t http_guard_due_ms(const gateway_t *self)
{
    return self->guard ? guard_conn_due_ms(self->guard) : INT64_MAX;
}
