/*  test_curve.c: CURVE on and off, allowed and unknown clients, keys added
    and removed while the server runs, and every configuration error. */
#include "curve.h"
#include "testing.h"

#include <czmq.h>
#include <unistd.h>

static char s_dir[256];      //  temp dir holding keys/ and allowed/
static char s_keys[300];
static char s_allowed[300];

static void s_setup(void)
{
    if (testing_tmpdir(s_dir, sizeof s_dir, "test_curve") != 0) {
        perror("test_curve: temporary directory");
        exit(1);
    }
    snprintf(s_keys, sizeof s_keys, "%s/keys", s_dir);
    snprintf(s_allowed, sizeof s_allowed, "%s/allowed", s_dir);
    zsys_dir_create(s_allowed);
    curve_keygen(s_keys, "server", NULL);
    curve_keygen(s_keys, "alice", NULL);
    curve_keygen(s_keys, "mallory", NULL);
}

static void s_env_clear(void)
{
    unsetenv("MLOPS_CURVE_SERVER_CERT");
    unsetenv("MLOPS_CURVE_CLIENTS_DIR");
    unsetenv("MLOPS_CURVE_CLIENT_CERT");
    unsetenv("MLOPS_CURVE_SERVER_KEY");
}

//  Copies the text file from to to (certificates are small).
static void s_copy_file(const char *from, const char *to)
{
    char text[4096];
    FILE *in = fopen(from, "r");
    size_t n = in ? fread(text, 1, sizeof text, in) : 0;
    if (in)
        fclose(in);
    FILE *out = fopen(to, "w");
    if (out) {
        fwrite(text, 1, n, out);
        fclose(out);
    }
}

static void s_allow(const char *name, bool allow)
{
    char from[400], to[400];
    snprintf(from, sizeof from, "%s/%s.cert", s_keys, name);
    snprintf(to, sizeof to, "%s/%s.cert", s_allowed, name);
    if (allow)
        s_copy_file(from, to);
    else
        unlink(to);
}

//  Connects a DEALER as `name` (NULL = no CURVE), sends one frame, and
//  returns true when the server socket received it within wait_msec.
static bool s_delivered(zsock_t *server, const char *endpoint, const char *name, int wait_msec)
{
    s_env_clear();
    char cert[400], server_cert[400];
    snprintf(server_cert, sizeof server_cert, "%s/server.cert", s_keys);
    if (name) {
        snprintf(cert, sizeof cert, "%s/%s.cert", s_keys, name);
        setenv("MLOPS_CURVE_CLIENT_CERT", cert, 1);
        setenv("MLOPS_CURVE_SERVER_KEY", server_cert, 1);
    }
    curve_t *curve = curve_new_from_env(NULL);
    if (!curve)
        return false;
    zsock_t *client = zsock_new(ZMQ_DEALER);
    curve_apply_client(curve, client);
    zsock_connect(client, "%s", endpoint);
    zstr_send(client, "hello");
    bool got = false;
    zpoller_t *poller = zpoller_new(server, NULL);
    if (zpoller_wait(poller, wait_msec) == server) {
        zmsg_t *msg = zmsg_recv(server);
        got = msg && zmsg_size(msg) == 2;
        zmsg_destroy(&msg);
    }
    zpoller_destroy(&poller);
    zsock_set_linger(client, 0);
    zsock_destroy(&client);
    curve_destroy(&curve);
    return got;
}

static void test_curve_allows_only_listed_keys_and_reloads(void)
{
    s_env_clear();
    char server_cert[400];
    snprintf(server_cert, sizeof server_cert, "%s/server.cert", s_keys);
    setenv("MLOPS_CURVE_SERVER_CERT", server_cert, 1);
    setenv("MLOPS_CURVE_CLIENTS_DIR", s_allowed, 1);
    s_allow("alice", true);
    mlops_err_t err = {0};
    curve_t *server_curve = curve_new_from_env(&err);
    CHECK(server_curve);
    CHECK(curve_server_enabled(server_curve));
    zsock_t *server = zsock_new(ZMQ_ROUTER);
    curve_apply_server(server_curve, server);
    int port = zsock_bind(server, "tcp://127.0.0.1:*");
    CHECK(port > 0);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);

    bool alice = s_delivered(server, endpoint, "alice", 3000);
    bool mallory = s_delivered(server, endpoint, "mallory", 700);
    bool plain = s_delivered(server, endpoint, NULL, 700);
    s_allow("mallory", true);
    zclock_sleep(1100); //  directory mtime has one-second resolution on some filesystems
    bool mallory_added = s_delivered(server, endpoint, "mallory", 3000);
    s_allow("alice", false);
    zclock_sleep(1100);
    bool alice_removed = s_delivered(server, endpoint, "alice", 700);

    zsock_destroy(&server);
    curve_destroy(&server_curve);
    CHECK(alice);
    CHECK(!mallory);
    CHECK(!plain);
    CHECK(mallory_added);
    CHECK(!alice_removed);
}

//  Copies keys/NAME.cert into DIR/ROLE/ (made on demand).
static void s_grant(const char *dir, const char *role, const char *name)
{
    char sub[400], from[400], to[500];
    snprintf(sub, sizeof sub, "%s/%s", dir, role);
    zsys_dir_create(sub);
    snprintf(from, sizeof from, "%s/%s.cert", s_keys, name);
    snprintf(to, sizeof to, "%s/%s.cert", sub, name);
    s_copy_file(from, to);
}

//  Sends one frame as `name` and returns what the server received (NULL
//  when nothing came within wait_msec); the caller destroys it.
static zmsg_t *s_receive(zsock_t *server, const char *endpoint, const char *name, int wait_msec)
{
    s_env_clear();
    char cert[400], server_cert[400];
    snprintf(server_cert, sizeof server_cert, "%s/server.cert", s_keys);
    snprintf(cert, sizeof cert, "%s/%s.cert", s_keys, name);
    setenv("MLOPS_CURVE_CLIENT_CERT", cert, 1);
    setenv("MLOPS_CURVE_SERVER_KEY", server_cert, 1);
    curve_t *curve = curve_new_from_env(NULL);
    zsock_t *client = zsock_new(ZMQ_DEALER);
    curve_apply_client(curve, client);
    zsock_connect(client, "%s", endpoint);
    zstr_send(client, "READY");
    zmsg_t *msg = NULL;
    zpoller_t *poller = zpoller_new(server, NULL);
    if (zpoller_wait(poller, wait_msec) == server)
        msg = zmsg_recv(server);
    zpoller_destroy(&poller);
    zsock_set_linger(client, 0);
    zsock_destroy(&client);
    curve_destroy(&curve);
    return msg;
}

//  Issue 15, point 2: with role directories, a key has the roles whose
//  directory holds its certificate and no other: the inference worker's
//  key may not register as evaluate or act as admin. The peer's key comes
//  from ZAP (the frame's User-Id), certificates in role subdirectories are
//  accepted by the authenticator, and without role directories every
//  allowed key has every role.
static void test_curve_roles_per_key(void)
{
    s_env_clear();
    char roles_dir[300], server_cert[400];
    snprintf(roles_dir, sizeof roles_dir, "%s/roles", s_dir);
    snprintf(server_cert, sizeof server_cert, "%s/server.cert", s_keys);
    s_grant(roles_dir, "train", "alice");
    s_grant(roles_dir, "infer", "mallory");
    setenv("MLOPS_CURVE_SERVER_CERT", server_cert, 1);
    setenv("MLOPS_CURVE_CLIENTS_DIR", roles_dir, 1);
    mlops_err_t err = {0};
    curve_t *server_curve = curve_new_from_env(&err);
    CHECK(server_curve);
    CHECK(curve_roles_enabled(server_curve));
    zsock_t *server = zsock_new(ZMQ_ROUTER);
    curve_apply_server(server_curve, server);
    int port = zsock_bind(server, "tcp://127.0.0.1:*");
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    zmsg_t *from_alice = s_receive(server, endpoint, "alice", 3000);
    zmsg_t *from_mallory = s_receive(server, endpoint, "mallory", 3000);
    CHECK(from_alice && from_mallory);
    zframe_t *a = from_alice ? zmsg_last(from_alice) : NULL;
    zframe_t *m = from_mallory ? zmsg_last(from_mallory) : NULL;
    CHECK(curve_peer_has_role(server_curve, a, "train"));
    CHECK(!curve_peer_has_role(server_curve, a, "evaluate"));
    CHECK(!curve_peer_has_role(server_curve, a, "admin"));
    CHECK(curve_peer_has_role(server_curve, m, "infer"));
    CHECK(!curve_peer_has_role(server_curve, m, "evaluate"));
    CHECK(!curve_peer_has_role(server_curve, m, "admin"));
    CHECK(!curve_peer_has_role(server_curve, m, "no-such-role"));
    CHECK(!curve_peer_has_role(server_curve, NULL, "infer"));
    zmsg_destroy(&from_alice);
    zmsg_destroy(&from_mallory);
    zsock_destroy(&server);
    curve_destroy(&server_curve);
    //  the flat layout: every allowed key has every role
    s_env_clear();
    setenv("MLOPS_CURVE_SERVER_CERT", server_cert, 1);
    setenv("MLOPS_CURVE_CLIENTS_DIR", s_allowed, 1);
    server_curve = curve_new_from_env(&err);
    CHECK(server_curve && !curve_roles_enabled(server_curve));
    CHECK(curve_peer_has_role(server_curve, NULL, "admin"));
    curve_destroy(&server_curve);
    s_env_clear();
}

static void test_curve_off_without_environment(void)
{
    s_env_clear();
    curve_t *curve = curve_new_from_env(NULL);
    CHECK(curve);
    CHECK(!curve_server_enabled(curve));
    CHECK(!curve_client_enabled(curve));
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    CHECK_INT(curve_apply_client(curve, sock), 0);
    CHECK_INT(zsock_curve_server(sock), 0);
    zsock_destroy(&sock);
    curve_destroy(&curve);
    curve_destroy(&curve); //  NULL is ignored
}

static void test_curve_configuration_errors(void)
{
    mlops_err_t err = {0};
    char path[400];
    s_env_clear();
    snprintf(path, sizeof path, "%s/server.cert", s_keys);
    setenv("MLOPS_CURVE_SERVER_CERT", path, 1);
    CHECK(!curve_new_from_env(&err));
    CHECK_INT(err.code, MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "MLOPS_CURVE_CLIENTS_DIR is not");

    setenv("MLOPS_CURVE_CLIENTS_DIR", "/nonexistent-dir", 1);
    CHECK(!curve_new_from_env(&err));
    CHECK_CONTAINS(err.msg, "/nonexistent-dir is not a directory");

    s_env_clear();
    setenv("MLOPS_CURVE_SERVER_CERT", "/nonexistent.cert", 1);
    setenv("MLOPS_CURVE_CLIENTS_DIR", s_allowed, 1);
    CHECK(!curve_new_from_env(&err));
    CHECK_INT(err.code, ENOENT);
    CHECK_CONTAINS(err.msg, "/nonexistent.cert");

    s_env_clear();
    snprintf(path, sizeof path, "%s/alice.cert", s_keys);
    setenv("MLOPS_CURVE_CLIENT_CERT", path, 1);
    CHECK(!curve_new_from_env(&err));
    CHECK_CONTAINS(err.msg, "go together");

    setenv("MLOPS_CURVE_SERVER_KEY", "not-a-key", 1);
    CHECK(!curve_new_from_env(&err));
    CHECK_INT(err.code, ENOENT);

    setenv("MLOPS_CURVE_SERVER_KEY", "~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~", 1);
    CHECK(!curve_new_from_env(&err));
    CHECK_CONTAINS(err.msg, "not a Z85 key");
    s_env_clear();
}

static void test_keygen_refuses_overwrite_and_bad_names(void)
{
    mlops_err_t err = {0};
    CHECK_INT(curve_keygen(s_keys, "alice", &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "refusing to overwrite");
    CHECK_INT(curve_keygen(s_keys, "a/b", &err), MLOPS_EINVAL);
    char secret[400];
    snprintf(secret, sizeof secret, "%s/alice.cert_secret", s_keys);
    struct stat st;
    CHECK_INT(stat(secret, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);
}

int main(void)
{
    zsys_init();
    zsys_set_logstream(NULL);
    s_setup();
    RUN(test_curve_off_without_environment);
    RUN(test_curve_configuration_errors);
    RUN(test_keygen_refuses_overwrite_and_bad_names);
    RUN(test_curve_allows_only_listed_keys_and_reloads);
    RUN(test_curve_roles_per_key);
    if (testing_rmtree(s_dir) != 0)
        perror(s_dir);
    return TEST_REPORT("test_curve");
}
