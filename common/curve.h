/*  curve.h: ZeroMQ CURVE authentication and encryption for every socket.

    Off unless configured, so one host or a trusted network works with no
    keys. Configured from the environment, so every process (broker, gateway,
    workers, CLI) picks it up the same way and `mlops up` passes it on:

      MLOPS_CURVE_SERVER_CERT   server side (broker, gateway): the server's
                                certificate file written by `mlops keygen`
                                (NAME.cert; NAME.cert_secret beside it)
      MLOPS_CURVE_CLIENTS_DIR   server side: directory of allowed client
                                public certificates; files may be added or
                                removed at any time and count from the next
                                connection (zauth re-reads the directory)
      MLOPS_CURVE_CLIENT_CERT   client side (workers, CLI, gateway to broker):
                                this client's certificate file (NAME.cert)
      MLOPS_CURVE_SERVER_KEY    client side: the server's public key, 40 Z85
                                characters, or the path of its NAME.cert

    Roles: a clients dir that holds a subdirectory named after a role
    (CURVE_ROLES: extract, preprocess, train, evaluate, load_model, infer,
    gateway, admin, read) turns roles on: a key then has the roles of the
    subdirectories that hold its certificate, and nothing else (a key at
    the top of the dir has none). Without any role subdirectory every
    allowed key has every role, as before roles existed. The broker asks
    curve_peer_has_role with the message's frame (ZAP's User-Id is the
    peer's public key) before it lets a peer register as a stage or run a
    command (broker/control.c lists which roles may do what).

      allowed/                    MLOPS_CURVE_CLIENTS_DIR
        train/worker1.cert        worker1 may register as train
        infer/infer1.cert         infer1 may fetch models and report SERVING
        admin/ops.cert            ops may retrain, promote, roll back, read
        read/dashboard.cert       dashboard may read status, runs, models

    The broker and the gateway share one server key pair; a process that is
    both (the gateway) uses SERVER_* for its bound socket and CLIENT_* for the
    sockets it connects.

    A server socket with CURVE on refuses clients whose public key is not in
    the directory: their handshake fails and ZeroMQ never delivers a message
    from them. There is no error to read on either side, only silence, which
    is why clients log the server key they expect at start.
*/
#ifndef MLOPS_CURVE_H
#define MLOPS_CURVE_H

#include <czmq.h>
#include <stdbool.h>

#include "err.h"

typedef struct curve curve_t;

//  Reads the environment. Returns a curve_t (possibly with nothing enabled),
//  or NULL with err when a variable is set but unusable: a certificate that
//  does not load (errno / MLOPS_EINVAL with the path), a server key that is
//  neither 40 Z85 characters nor a readable certificate, a clients dir that
//  is not a directory, a server cert without a clients dir.
curve_t *curve_new_from_env(mlops_err_t *err);

//  Frees, stopping the authenticator; ignores NULL; sets *p to NULL. Call it
//  after the sockets it secured are destroyed.
void curve_destroy(curve_t **p);

//  True when the environment asks for the server side (MLOPS_CURVE_SERVER_CERT
//  is set), before anything is loaded: for a main's "loopback unless told
//  otherwise" check (endpoint.h); curve_new_from_env still validates it.
bool curve_env_server(void);

//  True when this process has a server / client configuration.
bool curve_server_enabled(const curve_t *self);
bool curve_client_enabled(const curve_t *self);

//  Makes sock (before bind) a CURVE server that accepts only allowed clients.
//  No-op returning 0 when the server side is not configured.
int curve_apply_server(curve_t *self, zsock_t *sock);

#define CURVE_ROLES "extract", "preprocess", "train", "evaluate", "load_model", "infer", \
                    "gateway", "admin", "read"

//  True when the peer that sent frame (received on a socket this curve
//  serves) holds role: always when the server side is off or roles are off
//  (no role subdirectory). False for a frame without a User-Id or a role
//  that is not one of CURVE_ROLES. Role directories are re-read when they
//  change (zcertstore), so a certificate moved counts from the next check.
bool curve_peer_has_role(curve_t *self, zframe_t *frame, const char *role);

//  True when the clients dir has role subdirectories (roles enforced).
bool curve_roles_enabled(const curve_t *self);

//  Makes sock (before connect) a CURVE client of the configured server.
//  No-op returning 0 when the client side is not configured.
int curve_apply_client(curve_t *self, zsock_t *sock);

//  Writes a new key pair as DIR/NAME.cert (public) and DIR/NAME.cert_secret
//  (0600). Returns 0, errno (with err naming the path) or MLOPS_EINVAL for a
//  name with a '/' or an existing file (never overwritten).
int curve_keygen(const char *dir, const char *name, mlops_err_t *err);

#endif
