/*  client.c: see client.h. */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curve.h"
#include "duration.h"
#include "flags.h"

const char *const client_opts_help =
    "  --broker HOST|ENDPOINT  the broker (default 127.0.0.1: control :5556, events :5557)\n"
    "  --control ENDPOINT      control socket, overrides --broker\n"
    "  --events ENDPOINT       events socket, overrides --broker\n"
    "  --timeout DURATION      how long to wait for an answer (default 5s)\n"
    "  --json                  JSON for scripts instead of tables\n\n"
    DURATION_HELP;

void client_opts_defaults(client_opts_t *opts)
{
    memset(opts, 0, sizeof *opts);
    snprintf(opts->control, sizeof opts->control, "tcp://127.0.0.1:%d", ENDPOINT_CONTROL_PORT);
    snprintf(opts->events, sizeof opts->events, "tcp://127.0.0.1:%d", ENDPOINT_EVENTS_PORT);
    opts->timeout_msec = 5000;
}

static const char *s_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "mlops: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int client_opts_parse(client_opts_t *opts, int argc, char **argv, int *i)
{
    const char *flag = argv[*i], *v;
    mlops_err_t err;
    mlops_err_clear(&err);
    if (strcmp(flag, "--json") == 0) {
        opts->json = true;
        return 1;
    }
    bool broker = strcmp(flag, "--broker") == 0, control = strcmp(flag, "--control") == 0,
         events = strcmp(flag, "--events") == 0, timeout = strcmp(flag, "--timeout") == 0;
    if (!broker && !control && !events && !timeout)
        return 0;
    if (!(v = s_value(argc, argv, i)))
        return -1;
    int rc = 0;
    if (broker) {
        rc = endpoint_resolve(v, ENDPOINT_CONTROL_PORT, 0, opts->control, sizeof opts->control, &err);
        if (rc == 0)
            rc = endpoint_resolve(v, ENDPOINT_EVENTS_PORT, 1, opts->events, sizeof opts->events, &err);
    } else if (control) {
        rc = endpoint_resolve(v, ENDPOINT_CONTROL_PORT, 0, opts->control, sizeof opts->control, &err);
    } else if (events) {
        rc = endpoint_resolve(v, ENDPOINT_EVENTS_PORT, 0, opts->events, sizeof opts->events, &err);
    } else {
        rc = flags_duration(flag, v, 1, INT64_MAX, &opts->timeout_msec, &err);
        return flags_report("mlops", rc, &err) ? -1 : 1;
    }
    if (rc) {
        fprintf(stderr, "mlops: %s: %s\n", flag, err.msg);
        return -1;
    }
    return 1;
}

//  A socket connected to endpoint, a CURVE client when the environment says
//  so (curve.h). NULL with err when the environment is unusable (no silent
//  fall-back to plain text) or the endpoint does not parse. *curve_on tells
//  whether CURVE is on, for the hint on a timeout.
static zsock_t *s_socket(int type, const char *endpoint, bool *curve_on, mlops_err_t *err)
{
    curve_t *curve = curve_new_from_env(err);
    if (!curve)
        return NULL;
    *curve_on = curve_client_enabled(curve);
    zsock_t *sock = zsock_new(type);
    if (sock) {
        zsock_set_linger(sock, 0);
        curve_apply_client(curve, sock);
        if (zsock_connect(sock, "%s", endpoint) < 0) {
            zsock_destroy(&sock);
            mlops_err_set(err, MLOPS_EINVAL, "cannot connect to %s: %s", endpoint,
                          zmq_strerror(zmq_errno()));
        }
    } else {
        mlops_err_set(err, MLOPS_ENOMEM, "cannot create a socket");
    }
    curve_destroy(&curve);
    return sock;
}

int client_request(const client_opts_t *opts, const proto_msg_t *req, proto_msg_t **reply,
                   mlops_err_t *err)
{
    *reply = NULL;
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = proto_msg_encode(req, &bytes, &len);
    if (rc)
        return mlops_err_set(err, rc, "cannot encode %s", proto_cmd_name(req->cmd));
    bool curve_on = false;
    zsock_t *sock = s_socket(ZMQ_REQ, opts->control, &curve_on, err);
    if (!sock) {
        free(bytes);
        return err->code;
    }
    zframe_t *frame = zframe_new(bytes, len);
    free(bytes);
    if (zframe_send(&frame, sock, ZFRAME_DONTWAIT) != 0)   //  never hang: the deadline below says it
        zframe_destroy(&frame);
    zpoller_t *poller = zpoller_new(sock, NULL);
    if (!zpoller_wait(poller, (int)opts->timeout_msec)) {
        rc = mlops_err_set(err, MLOPS_ETIMEOUT, "no answer from the broker at %s within %lld ms "
                           "(is mlops-broker running?%s)", opts->control, (long long)opts->timeout_msec,
                           curve_on ? " CURVE is on: is this client's key in the broker's "
                                      "MLOPS_CURVE_CLIENTS_DIR and MLOPS_CURVE_SERVER_KEY the broker's key?"
                                    : " if the broker has CURVE on, set MLOPS_CURVE_CLIENT_CERT and "
                                      "MLOPS_CURVE_SERVER_KEY");
    } else {
        frame = zframe_recv(sock);
        mlops_err_t sub;
        mlops_err_clear(&sub);
        proto_msg_t *msg = frame ? proto_msg_decode(zframe_data(frame), zframe_size(frame), &sub) : NULL;
        if (!msg || msg->cmd != PROTO_REPLY) {
            rc = mlops_err_set(err, MLOPS_EPROTO, "bad answer from the broker: %s",
                               msg ? "not a REPLY" : mlops_err_text(&sub, sub.code));
        } else if (!msg->reply.ok) {
            rc = mlops_err_set(err, MLOPS_EINVAL, "%s", msg->reply.error);
        } else {
            *reply = msg;
            msg = NULL;
        }
        proto_msg_destroy(&msg);
        zframe_destroy(&frame);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&sock);
    return rc;
}

zsock_t *client_subscribe(const client_opts_t *opts)
{
    bool curve_on = false;
    mlops_err_t err;
    mlops_err_clear(&err);
    zsock_t *sub = s_socket(ZMQ_SUB, opts->events, &curve_on, &err);
    if (sub)
        zsock_set_subscribe(sub, "");
    else
        fprintf(stderr, "mlops: events: %s\n", mlops_err_text(&err, err.code));
    return sub;
}

proto_msg_t *client_next_event(zsock_t *sub, int timeout_msec)
{
    zpoller_t *poller = zpoller_new(sub, NULL);
    void *ready = zpoller_wait(poller, timeout_msec);
    zpoller_destroy(&poller);
    if (!ready)
        return NULL;
    zmsg_t *m = zmsg_recv(sub);
    proto_msg_t *ev = NULL;
    if (m && zmsg_size(m) == 2) {
        zframe_t *topic = zmsg_pop(m), *payload = zmsg_pop(m);
        ev = proto_msg_decode(zframe_data(payload), zframe_size(payload), NULL);
        if (ev && ev->cmd != PROTO_EVENT)
            proto_msg_destroy(&ev);
        zframe_destroy(&topic);
        zframe_destroy(&payload);
    }
    zmsg_destroy(&m);
    return ev;
}

//  Parses the common flags plus the command's own (listed in own, each
//  taking a value, stored in vals in the same order); positional arguments
//  go to pos (at most max_pos; one whose slot already holds a default may
//  be left out). Returns 0, 1 for --help (usage printed), or 2 for bad
//  usage (printed).
int client_parse_args(int argc, char **argv, client_opts_t *opts, const char *usage,
                   const char *const *own, const char **vals, bool *wait,
                   const char **pos, int max_pos)
{
    int n_pos = 0;
    client_opts_defaults(opts);
    for (int i = 1; i < argc; i++) {
        int rc = client_opts_parse(opts, argc, argv, &i);
        if (rc < 0)
            return 2;
        if (rc > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: mlops %s\n\n%s", usage, client_opts_help);
            return 1;
        }
        if (wait && strcmp(argv[i], "--wait") == 0) {
            *wait = true;
            continue;
        }
        int k = 0;
        while (own && own[k] && strcmp(argv[i], own[k]) != 0)
            k++;
        if (own && own[k]) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mlops %s: %s needs a value\n", argv[0], argv[i]);
                return 2;
            }
            vals[k] = argv[++i];
        } else if (argv[i][0] != '-' && n_pos < max_pos) {
            pos[n_pos++] = argv[i];
        } else {
            fprintf(stderr, "mlops %s: unexpected argument '%s'\nusage: mlops %s\n", argv[0], argv[i],
                    usage);
            return 2;
        }
    }
    if (n_pos < max_pos && !pos[n_pos]) {
        fprintf(stderr, "usage: mlops %s\n", usage);
        return 2;
    }
    return 0;
}
