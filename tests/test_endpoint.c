/*  test_endpoint.c: broker addresses (common/endpoint.c): host, host:port
    and full endpoints, the port offset, and the refusals. */
#include "endpoint.h"
#include "testing.h"

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

int main(void)
{
    RUN(test_endpoint);
    return TEST_REPORT("test_endpoint");
}
