/*  client.h: the command line's side of the control and events sockets:
    common flags (--broker, --control, --events, --timeout, --json), one
    request / one REPLY with a deadline, and a subscription to events. */
#ifndef MLOPS_CLIENT_H
#define MLOPS_CLIENT_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"
#include "err.h"
#include "msg.h"

typedef struct {
    char control[ENDPOINT_MAX];   //  broker control endpoint
    char events[ENDPOINT_MAX];    //  broker events endpoint
    int64_t timeout_msec;         //  REPLY deadline
    bool json;                    //  print JSON instead of tables
} client_opts_t;

//  Defaults: tcp://127.0.0.1:5556 / :5557, 5 s, tables.
void client_opts_defaults(client_opts_t *opts);

//  Consumes a common flag at argv[*i] (advancing *i past its value).
//  Returns 1 when it was one, 0 when it was not, -1 on a bad value (printed).
int client_opts_parse(client_opts_t *opts, int argc, char **argv, int *i);

//  The help lines of the common flags.
extern const char *const client_opts_help;

//  Parses the common flags plus the command's own (listed in own, each
//  taking a value, stored in vals in the same order; own may be NULL);
//  --wait sets *wait when wait is not NULL; positional arguments go to pos
//  (at most max_pos; one whose slot already holds a default may be left
//  out). Returns 0, 1 for --help (usage printed), or 2 for bad usage
//  (printed).
int client_parse_args(int argc, char **argv, client_opts_t *opts, const char *usage,
                      const char *const *own, const char **vals, bool *wait,
                      const char **pos, int max_pos);

//  Sends req on the control socket and waits for the REPLY. Returns 0 with
//  *reply (caller destroys) when the broker carried it out; else an error
//  with err: MLOPS_ETIMEOUT (no answer: the broker is away), the broker's
//  refusal (MLOPS_EINVAL with its message), MLOPS_EPROTO for a bad answer,
//  a CURVE environment error (curve.h) or a bad endpoint. A broker with
//  CURVE on that refuses our key looks like no broker: MLOPS_ETIMEOUT, and
//  the message says to check the keys.
int client_request(const client_opts_t *opts, const proto_msg_t *req, proto_msg_t **reply,
                   mlops_err_t *err);

//  A SUB socket on the events endpoint subscribed to every kind (a CURVE
//  client when configured); NULL on failure, said on stderr. The caller
//  destroys it.
zsock_t *client_subscribe(const client_opts_t *opts);

//  Receives one EVENT within timeout_msec. Returns it (caller destroys), or
//  NULL on timeout or an undecodable event (skipped).
proto_msg_t *client_next_event(zsock_t *sub, int timeout_msec);

#endif
