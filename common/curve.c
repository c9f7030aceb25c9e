/*  curve.c: see curve.h. One zauth actor per process that serves; the
    certificates are loaded once at start. */
#include "curve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CURVE_KEY_Z85_LEN 40 //  Z85 text of a 32-byte key

static const char *s_roles[] = {CURVE_ROLES};
#define S_N_ROLES (sizeof s_roles / sizeof s_roles[0])

struct curve {
    zcert_t *server_cert;               //  server key pair, NULL when not a server
    char *clients_dir;                  //  allowed client certificates
    zactor_t *auth;                     //  zauth, started with the server side
    zcert_t *client_cert;               //  this client's key pair, NULL when not a client
    char server_key[CURVE_KEY_Z85_LEN + 1]; //  the server's public key (Z85)
    bool roles_on;                      //  the clients dir has role subdirectories
    zcertstore_t *roles[S_N_ROLES];     //  per role, its subdirectory (may be absent)
};

static const char *s_env(const char *name)
{
    const char *value = getenv(name);
    return value && *value ? value : NULL;
}

static zcert_t *s_cert_load(const char *path, const char *var, mlops_err_t *err)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        int rc = errno;
        mlops_err_set(err, rc, "%s: cannot read certificate %s: %s", var, path, strerror(rc));
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    if (!cert)
        mlops_err_set(err, MLOPS_EINVAL, "%s: %s is not a certificate written by mlops keygen",
                      var, path);
    return cert;
}

static int s_server_key(curve_t *self, const char *value, mlops_err_t *err)
{
    //  Z85 may contain '/', so a readable file wins and anything else of the
    //  right length is taken as a key.
    struct stat st;
    if (stat(value, &st) != 0 && strlen(value) == CURVE_KEY_Z85_LEN) {
        uint8_t raw[32];
        if (!zmq_z85_decode(raw, value))
            return mlops_err_set(err, MLOPS_EINVAL,
                                 "MLOPS_CURVE_SERVER_KEY: '%s' is not a Z85 key", value);
        memcpy(self->server_key, value, CURVE_KEY_Z85_LEN + 1);
        return 0;
    }
    zcert_t *cert = s_cert_load(value, "MLOPS_CURVE_SERVER_KEY", err);
    if (!cert)
        return err ? err->code : MLOPS_EINVAL;
    snprintf(self->server_key, sizeof self->server_key, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

//  One certificate store per role subdirectory; roles are on when any exists.
static int s_roles_load(curve_t *self, mlops_err_t *err)
{
    for (size_t i = 0; i < S_N_ROLES; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", self->clients_dir, s_roles[i]);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            self->roles_on = true;
        if (!(self->roles[i] = zcertstore_new(path)))
            return mlops_err_set(err, MLOPS_ENOMEM, "cannot load the role directory %s", path);
    }
    return 0;
}

static int s_server_side(curve_t *self, const char *cert_path, mlops_err_t *err)
{
    const char *dir = s_env("MLOPS_CURVE_CLIENTS_DIR");
    if (!dir)
        return mlops_err_set(err, MLOPS_EINVAL,
                             "MLOPS_CURVE_SERVER_CERT is set but MLOPS_CURVE_CLIENTS_DIR is not: "
                             "name the directory of allowed client certificates");
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return mlops_err_set(err, MLOPS_EINVAL, "MLOPS_CURVE_CLIENTS_DIR: %s is not a directory",
                             dir);
    self->server_cert = s_cert_load(cert_path, "MLOPS_CURVE_SERVER_CERT", err);
    if (!self->server_cert)
        return err ? err->code : MLOPS_EINVAL;
    if (!strcmp(zcert_secret_txt(self->server_cert), "0000000000000000000000000000000000000000"))
        return mlops_err_set(err, MLOPS_EINVAL,
                             "MLOPS_CURVE_SERVER_CERT: %s has no secret key beside it (%s_secret)",
                             cert_path, cert_path);
    self->clients_dir = strdup(dir);
    self->auth = zactor_new(zauth, NULL);
    if (!self->clients_dir || !self->auth)
        return mlops_err_set(err, MLOPS_ENOMEM, "cannot start the authenticator");
    zstr_sendx(self->auth, "CURVE", self->clients_dir, NULL);
    zsock_wait(self->auth);
    return s_roles_load(self, err);
}

curve_t *curve_new_from_env(mlops_err_t *err)
{
    curve_t *self = calloc(1, sizeof *self);
    if (!self) {
        mlops_err_set(err, MLOPS_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = 0;
    const char *server_cert = s_env("MLOPS_CURVE_SERVER_CERT");
    if (server_cert)
        rc = s_server_side(self, server_cert, err);
    const char *client_cert = s_env("MLOPS_CURVE_CLIENT_CERT");
    const char *server_key = s_env("MLOPS_CURVE_SERVER_KEY");
    if (!rc && (client_cert || server_key)) {
        if (!client_cert || !server_key)
            rc = mlops_err_set(err, MLOPS_EINVAL,
                               "MLOPS_CURVE_CLIENT_CERT and MLOPS_CURVE_SERVER_KEY go together: "
                               "set both or neither");
        else if ((self->client_cert = s_cert_load(client_cert, "MLOPS_CURVE_CLIENT_CERT", err)))
            rc = s_server_key(self, server_key, err);
        else
            rc = err ? err->code : MLOPS_EINVAL;
    }
    if (rc) {
        curve_destroy(&self);
        return NULL;
    }
    return self;
}

void curve_destroy(curve_t **p)
{
    if (!p || !*p)
        return;
    curve_t *self = *p;
    zactor_destroy(&self->auth);
    for (size_t i = 0; i < S_N_ROLES; i++)
        zcertstore_destroy(&self->roles[i]);
    zcert_destroy(&self->client_cert);
    free(self->clients_dir);
    zcert_destroy(&self->server_cert);
    free(self);
    *p = NULL;
}

bool curve_env_server(void)
{
    return s_env("MLOPS_CURVE_SERVER_CERT") != NULL;
}

bool curve_server_enabled(const curve_t *self)
{
    return self && self->server_cert;
}

bool curve_roles_enabled(const curve_t *self)
{
    return curve_server_enabled(self) && self->roles_on;
}

bool curve_peer_has_role(curve_t *self, zframe_t *frame, const char *role)
{
    if (!curve_roles_enabled(self))
        return true;
    const char *key = frame ? zframe_meta(frame, "User-Id") : NULL;
    for (size_t i = 0; key && role && i < S_N_ROLES; i++)
        if (strcmp(s_roles[i], role) == 0)
            return zcertstore_lookup(self->roles[i], key) != NULL;
    return false;
}

bool curve_client_enabled(const curve_t *self)
{
    return self && self->client_cert;
}

int curve_apply_server(curve_t *self, zsock_t *sock)
{
    if (!curve_server_enabled(self))
        return 0;
    zsock_set_zap_domain(sock, "mlops");
    zcert_apply(self->server_cert, sock);
    zsock_set_curve_server(sock, 1);
    return 0;
}

int curve_apply_client(curve_t *self, zsock_t *sock)
{
    if (!curve_client_enabled(self))
        return 0;
    zcert_apply(self->client_cert, sock);
    zsock_set_curve_serverkey(sock, self->server_key);
    return 0;
}

int curve_keygen(const char *dir, const char *name, mlops_err_t *err)
{
    if (!name || !*name || strchr(name, '/'))
        return mlops_err_set(err, MLOPS_EINVAL, "key name '%s' must be non-empty without '/'",
                             name ? name : "");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.cert", dir, name);
    struct stat st;
    if (stat(path, &st) == 0)
        return mlops_err_set(err, MLOPS_EINVAL, "%s exists: refusing to overwrite a key", path);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        int rc = errno;
        return mlops_err_set(err, rc, "cannot create %s: %s", dir, strerror(rc));
    }
    zcert_t *cert = zcert_new();
    if (!cert)
        return mlops_err_set(err, MLOPS_ENOMEM, "cannot make a key pair");
    zcert_set_meta(cert, "name", "%s", name);
    mode_t old = umask(077); //  the secret file must never be readable by others
    int rc = zcert_save(cert, path);
    umask(old);
    zcert_destroy(&cert);
    if (rc != 0) {
        rc = errno ? errno : EIO;
        return mlops_err_set(err, rc, "cannot write %s: %s", path, strerror(rc));
    }
    chmod(path, 0644);
    return 0;
}
