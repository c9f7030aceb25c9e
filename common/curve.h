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

//  Makes sock (before connect) a CURVE client of the configured server.
//  No-op returning 0 when the client side is not configured.
int curve_apply_client(curve_t *self, zsock_t *sock);

//  Writes a new key pair as DIR/NAME.cert (public) and DIR/NAME.cert_secret
//  (0600). Returns 0, errno (with err naming the path) or MLOPS_EINVAL for a
//  name with a '/' or an existing file (never overwritten).
int curve_keygen(const char *dir, const char *name, mlops_err_t *err);

#endif
