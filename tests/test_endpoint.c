/*  test_endpoint.c: what users type after --broker turned into an endpoint
    (common/endpoint.h): a host, host:port, a full endpoint, the port
    offset, the data service's endpoint beside the work one, and each
    refusal with its message. */
#include "endpoint.h"
#include "testing.h"

#include <czmq.h>

static void test_endpoint(void)
{
    char ep[ENDPOINT_MAX];
    mlops_err_t err;
    CHECK_INT(endpoint_resolve("gpu-box", 5555, 0, ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://gpu-box:5555");
    CHECK_INT(endpoint_resolve("10.0.0.2:7000", 5556, 1, ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://10.0.0.2:7001");
    CHECK_INT(endpoint_resolve("tcp://h:6556", 5557, 1, ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://h:6557");
    CHECK_INT(endpoint_resolve("ipc:///tmp/x", 5555, 0, ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "ipc:///tmp/x");
    CHECK_INT(endpoint_resolve("h:99999", 5555, 0, ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "bad port");
    CHECK_INT(endpoint_resolve("", 5555, 0, ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_INT(endpoint_resolve(":80", 5555, 0, ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "no host");
}

static void test_offset_and_limits(void)
{
    char ep[ENDPOINT_MAX];
    mlops_err_t err;
    CHECK_INT(endpoint_resolve("h", ENDPOINT_EVENTS_PORT, 1, ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://h:5557");   //  the offset applies only to a port that was typed
    CHECK_INT(endpoint_resolve("tcp://*:5556", 5556, 0, ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://*:5556");
    CHECK_INT(endpoint_resolve("h:65535", 5556, 1, ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "port out of range for 'h:65535'");
    CHECK_INT(endpoint_resolve("h:0", 5556, 0, ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "bad port in 'h:0'");
    CHECK_INT(endpoint_resolve("h:80x", 5556, 0, ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_INT(endpoint_resolve(NULL, 5556, 0, ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "bad broker address ''");
    char long_host[ENDPOINT_MAX];
    memset(long_host, 'a', sizeof long_host - 1);
    long_host[sizeof long_host - 1] = '\0';
    CHECK_INT(endpoint_resolve(long_host, 5556, 0, ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "bad broker address");
    char small[16];
    CHECK_INT(endpoint_resolve("a-long-host-name", 5556, 0, small, sizeof small, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "broker address too long");
}

//  Issue 15, point 1: what counts as reachable from this host only, and
//  the refusal every binary prints for an open socket without auth.
static void test_loopback_rule(void)
{
    CHECK(endpoint_is_local("tcp://127.0.0.1:5555"));
    CHECK(endpoint_is_local("tcp://127.1.2.3:*"));
    CHECK(endpoint_is_local("tcp://[::1]:5555"));
    CHECK(endpoint_is_local("tcp://localhost:5555"));
    CHECK(endpoint_is_local("ipc:///run/x.sock"));
    CHECK(endpoint_is_local("inproc://x"));
    CHECK(!endpoint_is_local("tcp://*:5555"));
    CHECK(!endpoint_is_local("tcp://0.0.0.0:5555"));
    CHECK(!endpoint_is_local("tcp://10.0.0.5:5555"));
    CHECK(!endpoint_is_local("tcp://eth0:5555"));
    CHECK(!endpoint_is_local(NULL));
    CHECK(endpoint_host_is_loopback("127.0.0.1") && endpoint_host_is_loopback("::1"));
    CHECK(!endpoint_host_is_loopback("0.0.0.0") && !endpoint_host_is_loopback("*"));
    mlops_err_t err;
    CHECK_INT(endpoint_check_open("--work", "tcp://*:5555", false, false, "CURVE keys", "set X", &err),
              MLOPS_EINVAL);
    CHECK_STR(err.msg, "--work tcp://*:5555 is reachable from other hosts without CURVE keys: set X, "
                       "bind loopback, or pass --insecure");
    CHECK_INT(endpoint_check_open("--work", "tcp://*:5555", false, true, "CURVE keys", "set X", &err), 0);
    CHECK_INT(endpoint_check_open("--bind", "127.0.0.1", true, false, "a token", "give one", &err), 0);
    //  ipc://DIR finds the socket `mlops up` made there, and only then
    char dir[256], sock[300], ep[ENDPOINT_MAX], text[300];
    CHECK_INT(testing_tmpdir(dir, sizeof dir, "test_endpoint"), 0);
    snprintf(text, sizeof text, "ipc://%s", dir);
    CHECK_INT(endpoint_resolve(text, ENDPOINT_CONTROL_PORT, 0, ep, sizeof ep, &err), 0);
    CHECK_STR(ep, text);
    zsock_t *bound = zsock_new(ZMQ_ROUTER);
    snprintf(sock, sizeof sock, "ipc://%s/control.sock", dir);
    CHECK(zsock_bind(bound, "%s", sock) == 0);
    CHECK_INT(endpoint_resolve(text, ENDPOINT_CONTROL_PORT, 0, ep, sizeof ep, &err), 0);
    CHECK_STR(ep, sock);
    zsock_destroy(&bound);
    testing_rmtree(dir);
}

//  The data service beside a work endpoint: its port plus 4, a port the
//  system picks stays one, WORK-data for ipc and inproc.
static void test_endpoint_data(void)
{
    char ep[ENDPOINT_MAX];
    mlops_err_t err;
    CHECK_INT(endpoint_data("tcp://*:5555", ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://*:5559");
    CHECK_INT(endpoint_data("tcp://10.0.0.2:7000", ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://10.0.0.2:7004");
    CHECK_INT(endpoint_data("tcp://127.0.0.1:*", ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://127.0.0.1:*");
    CHECK_INT(endpoint_data("ipc:///tmp/w", ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "ipc:///tmp/w-data");
    CHECK_INT(endpoint_data("tcp://h:65533", ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "port out of range for 'tcp://h:65533'");
    char small[12];
    CHECK_INT(endpoint_data("inproc://work", small, sizeof small, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "endpoint too long");
}

//  What an inference worker, which knows only the control endpoint, finds
//  its broker's data service at.
static void test_endpoint_data_of_control(void)
{
    char ep[ENDPOINT_MAX];
    mlops_err_t err;
    CHECK_INT(endpoint_data_of_control("tcp://127.0.0.1:5556", ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://127.0.0.1:5559");
    CHECK_INT(endpoint_data_of_control("tcp://[::1]:7001", ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "tcp://[::1]:7004");
    CHECK_INT(endpoint_data_of_control("ipc:///run/mlops/control.sock", ep, sizeof ep, &err), 0);
    CHECK_STR(ep, "ipc:///run/mlops/work.sock-data");
    CHECK_INT(endpoint_data_of_control("ipc:///run/mlops/ctl", ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "no work endpoint beside 'ipc:///run/mlops/ctl'");
    CHECK_INT(endpoint_data_of_control("inproc://control", ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_INT(endpoint_data_of_control("tcp://h:1", ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_STR(err.msg, "no work port beside 'tcp://h:1'");
    CHECK_INT(endpoint_data_of_control("tcp://h:65535", ep, sizeof ep, &err), MLOPS_EINVAL);
    CHECK_CONTAINS(err.msg, "port out of range for 'tcp://h:65534'");
}

int main(void)
{
    RUN(test_loopback_rule);
    RUN(test_endpoint_data);
    RUN(test_endpoint_data_of_control);
    RUN(test_endpoint);
    RUN(test_offset_and_limits);
    return TEST_REPORT("test_endpoint");
}
