/*  endpoint.h: what users type after --broker ("HOST", "HOST:PORT", a full
    ZeroMQ endpoint, or ipc://DIR for the sockets `mlops up` makes in its
    store) turned into the endpoint a socket connects to; and the rule
    "loopback unless told otherwise" every binary applies to what it binds:
    an endpoint other hosts can reach needs authentication (CURVE keys for
    ZeroMQ, an admin token for HTTP) or an explicit --insecure. */
#ifndef MLOPS_ENDPOINT_H
#define MLOPS_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define ENDPOINT_MAX 256
#define ENDPOINT_WORK_PORT 5555
#define ENDPOINT_CONTROL_PORT 5556
#define ENDPOINT_EVENTS_PORT 5557
#define ENDPOINT_BACKEND_PORT 5558
#define ENDPOINT_LOOPBACK "127.0.0.1"   //  what every binary binds unless told otherwise
#define ENDPOINT_DATA_OFFSET 4       //  data service: the work port plus this (5559)

//  "HOST" -> tcp://HOST:port; "HOST:PORT" -> tcp://HOST:PORT; anything with
//  "://" is kept as is. When the text names a port and port_offset is not
//  0, that port plus port_offset is used (so --broker tcp://h:6556 gives
//  events on 6557). "ipc://DIR" naming a directory that holds the socket
//  `mlops up` binds there for default_port gives that socket
//  (endpoint_ipc_name: ipc://DIR/control.sock for 5556). Returns 0, or MLOPS_EINVAL (empty,
//  too long, bad port).
int endpoint_resolve(const char *text, int default_port, int port_offset, char *out,
                     size_t out_size, mlops_err_t *err);

//  The file name of the ipc socket for a default port inside a directory:
//  "work.sock", "control.sock", "events.sock", "backend.sock"; NULL for
//  any other port.
const char *endpoint_ipc_name(int default_port);

//  True when a bind endpoint can be reached from this host only: ipc://,
//  inproc://, or tcp:// on 127.0.0.0/8, [::1] or localhost. tcp://*:N,
//  0.0.0.0, an interface name or any other address is not.
bool endpoint_is_local(const char *endpoint);

//  The same for a bare address (HTTP --bind): 127.0.0.0/8, ::1, localhost.
bool endpoint_host_is_loopback(const char *host);

//  The rule every binary applies to what it binds: 0 when where is local
//  (endpoint_is_local, or endpoint_host_is_loopback when is_host) or
//  secured; else MLOPS_EINVAL with err "FLAG WHERE is reachable from other
//  hosts without AUTH: FIX, bind loopback, or pass --insecure". A main
//  given --insecure logs that sentence as a warning instead of refusing.
int endpoint_check_open(const char *flag, const char *where, bool is_host, bool secured,
                        const char *auth, const char *fix, mlops_err_t *err);

//  The data service's endpoint that goes with a work endpoint (PROTOCOL.md
//  section 15): tcp://HOST:P -> tcp://HOST:P+ENDPOINT_DATA_OFFSET,
//  tcp://HOST:* -> tcp://HOST:* (a port the system picks: peers must be
//  told), ipc:// and inproc:// -> WORK-data. The broker binds it, a worker
//  connects to it. Returns 0, or MLOPS_EINVAL (too long, a bad port).
int endpoint_data(const char *work, char *out, size_t out_size, mlops_err_t *err);

//  The data service's endpoint that goes with a control endpoint (what an
//  inference worker knows of its broker): the work endpoint beside it
//  (tcp://HOST:P -> tcp://HOST:P-1; ipc://DIR/control.sock ->
//  ipc://DIR/work.sock, as `mlops up` lays them out), then endpoint_data:
//  tcp://HOST:5556 -> tcp://HOST:5559. Returns 0, or MLOPS_EINVAL when the
//  control endpoint does not say where the work endpoint is (another ipc://
//  or inproc:// name, port 1, too long): the caller must be told --data.
int endpoint_data_of_control(const char *control, char *out, size_t out_size, mlops_err_t *err);

#endif
