/*  endpoint.h: what users type after --broker ("HOST", "HOST:PORT" or a
    full ZeroMQ endpoint) turned into the endpoint a socket connects to. */
#ifndef MLOPS_ENDPOINT_H
#define MLOPS_ENDPOINT_H

#include <stddef.h>

#include "err.h"

#define ENDPOINT_MAX 256
#define ENDPOINT_WORK_PORT 5555
#define ENDPOINT_CONTROL_PORT 5556
#define ENDPOINT_EVENTS_PORT 5557
#define ENDPOINT_DATA_OFFSET 4       //  data service: the work port plus this (5559)

//  "HOST" -> tcp://HOST:port; "HOST:PORT" -> tcp://HOST:PORT; anything with
//  "://" is kept as is. When the text names a port and port_offset is not
//  0, that port plus port_offset is used (so --broker tcp://h:6556 gives
//  events on 6557). Returns 0, or MLOPS_EINVAL (empty, too long, bad port).
int endpoint_resolve(const char *text, int default_port, int port_offset, char *out,
                     size_t out_size, mlops_err_t *err);

//  The data service's endpoint that goes with a work endpoint (PROTOCOL.md
//  section 15): tcp://HOST:P -> tcp://HOST:P+ENDPOINT_DATA_OFFSET,
//  tcp://HOST:* -> tcp://HOST:* (a port the system picks: peers must be
//  told), ipc:// and inproc:// -> WORK-data. The broker binds it, a worker
//  connects to it. Returns 0, or MLOPS_EINVAL (too long, a bad port).
int endpoint_data(const char *work, char *out, size_t out_size, mlops_err_t *err);

#endif
