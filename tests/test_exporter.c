/*  test_exporter.c: the broker's Prometheus exporter (broker/exporter.h):
    counters and histograms rendered in the text format with HELP and TYPE
    for each family, the page a scrape gets over real HTTP on loopback, a
    port already in use and a bad ADDR:PORT refused naming the flag. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exporter.h"
#include "testing.h"

//  A socket listening on a free loopback port; *port gets it.
static int s_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1) != 0
        || getsockname(fd, (struct sockaddr *)&a, &n) != 0)
        return -1;
    *port = ntohs(a.sin_port);
    return fd;
}

//  The whole answer to one HTTP/1.0 request, malloc'd, or NULL.
static char *s_http(int port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return NULL;
    if (write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    ssize_t got;
    while (out && (got = read(fd, out + len, cap - 1 - len)) > 0)
        len += (size_t)got;
    close(fd);
    if (out)
        out[len] = '\0';
    return out;
}

static void test_page_has_every_family(void)
{
    exporter_t *e = exporter_new();
    CHECK(e != NULL);
    exporter_task_dispatched(e, STAGE_TRAIN);
    exporter_task_dispatched(e, STAGE_TRAIN);
    exporter_task_failed(e, STAGE_TRAIN, true);
    exporter_task_failed(e, STAGE_EXTRACT, false);
    exporter_task_timed_out(e, STAGE_EXTRACT);
    exporter_task_done(e, STAGE_TRAIN, 0.2);
    exporter_run_ended(e, true, true, 0.07);
    exporter_run_ended(e, false, false, 42);
    exporter_load_wait(e, "all_serve", 0.003);
    exporter_stall(e, 1.5);
    exporter_gauges_t g = {.serving = 2, .active_run = 7, .store_map_bytes = 1 << 20,
                           .store_used_bytes = 4096, .store_max_bytes = 1 << 30};
    g.queued[STAGE_TRAIN] = 3;
    g.idle[STAGE_EXTRACT] = 1;
    g.busy[STAGE_TRAIN] = 2;
    CHECK_INT(exporter_publish(e, &g), 0);
    char *page = exporter_page(e);
    CHECK(page != NULL);
    const char *want[] = {
        "# TYPE mlops_tasks_queued gauge\n",
        "mlops_tasks_queued{stage=\"train\"} 3\n",
        "mlops_tasks_queued{stage=\"load_model\"} 0\n",
        "mlops_workers{stage=\"extract\",state=\"idle\"} 1\n",
        "mlops_workers{stage=\"train\",state=\"busy\"} 2\n",
        "mlops_workers{stage=\"infer\",state=\"serving\"} 2\n",
        "mlops_tasks_dispatched_total{stage=\"train\"} 2\n",
        "mlops_tasks_failed_total{stage=\"train\"} 1\n",
        "mlops_tasks_retried_total{stage=\"train\"} 1\n",
        "mlops_tasks_retried_total{stage=\"extract\"} 0\n",
        "mlops_tasks_timed_out_total{stage=\"extract\"} 1\n",
        "# TYPE mlops_task_duration_seconds histogram\n",
        "mlops_task_duration_seconds_bucket{stage=\"train\",le=\"0.1\"} 0\n",
        "mlops_task_duration_seconds_bucket{stage=\"train\",le=\"0.25\"} 1\n",
        "mlops_task_duration_seconds_bucket{stage=\"train\",le=\"+Inf\"} 1\n",
        "mlops_task_duration_seconds_count{stage=\"train\"} 1\n",
        "mlops_runs_total{state=\"succeeded\"} 1\n",
        "mlops_runs_total{state=\"failed\"} 1\n",
        "mlops_runs_promoted_total 1\n",
        "mlops_run_duration_seconds_bucket{le=\"0.1\"} 1\n",
        "mlops_run_duration_seconds_bucket{le=\"60\"} 2\n",
        "mlops_run_duration_seconds_sum 42.070000\n",
        "mlops_load_waits_total{verdict=\"all_serve\"} 1\n",
        "mlops_load_wait_seconds_count 1\n",
        "mlops_store_map_bytes 1048576\n",
        "mlops_store_used_bytes 4096\n",
        "mlops_loop_stalls_total 1\n",
        "mlops_loop_stall_seconds_total 1.500000\n",
        "mlops_active_run 7\n",
    };
    for (size_t i = 0; page && i < sizeof want / sizeof want[0]; i++)
        CHECK_CONTAINS(page, want[i]);
    free(page);
    exporter_destroy(&e);
    CHECK(e == NULL);
    exporter_destroy(&e);
}

static void test_serves_get_metrics_over_http(void)
{
    int port = 0, fd = s_listener(&port);
    CHECK(fd >= 0);
    close(fd);   //  free again: the exporter takes it
    char spec[32];
    snprintf(spec, sizeof spec, "127.0.0.1:%d", port);
    exporter_t *e = exporter_new();
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(exporter_serve(e, spec, &err), 0);
    exporter_gauges_t g = {.active_run = 3};
    CHECK_INT(exporter_publish(e, &g), 0);
    char *got = s_http(port, "GET /metrics HTTP/1.0\r\n\r\n");
    CHECK(got != NULL);
    if (got) {
        CHECK_CONTAINS(got, " 200 OK\r\n");
        CHECK_CONTAINS(got, "text/plain; version=0.0.4");
        CHECK_CONTAINS(got, "\r\n\r\n# HELP mlops_tasks_queued ");
        CHECK_CONTAINS(got, "mlops_active_run 3\n");
    }
    free(got);
    got = s_http(port, "GET /other HTTP/1.0\r\n\r\n");
    CHECK(got && strstr(got, " 404 "));
    free(got);
    got = s_http(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    CHECK(got && strstr(got, " 405 "));
    free(got);
    exporter_destroy(&e);
}

static void test_refusals_name_the_flag(void)
{
    int port = 0, fd = s_listener(&port);   //  held: the port is in use
    CHECK(fd >= 0);
    char spec[32];
    snprintf(spec, sizeof spec, "127.0.0.1:%d", port);
    exporter_t *e = exporter_new();
    mlops_err_t err;
    mlops_err_clear(&err);
    CHECK_INT(exporter_serve(e, spec, &err), EADDRINUSE);
    CHECK_CONTAINS(err.msg, "--metrics 127.0.0.1:");
    CHECK_CONTAINS(err.msg, "cannot listen: Address already in use");
    close(fd);
    const char *bad[] = {"9100", ":9100", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "host:9100",
                         "127.0.0.1:91x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mlops_err_clear(&err);
        CHECK_INT(exporter_serve(e, bad[i], &err), MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, "--metrics '");
    }
    exporter_destroy(&e);
}

//  The drift gauges: one line per version and field, names escaped; none
//  at all without the drift watch.
static void test_drift_gauges(void)
{
    exporter_t *e = exporter_new();
    CHECK(e != NULL);
    exporter_gauges_t g = {0};
    CHECK_INT(exporter_publish(e, &g), 0);
    char *page = exporter_page(e);
    CHECK(page && !strstr(page, "mlops_feature_drift"));
    free(page);
    const exporter_drift_t d[] = {{3, "Fare", 0.41, 1.25, 1500}, {3, "odd\"na\nme", 0.02, 0.001, 1500},
                                  {4, "Fare", 0, 0, 12}};
    g.drift = d, g.n_drift = 3;
    CHECK_INT(exporter_publish(e, &g), 0);
    page = exporter_page(e);
    CHECK(page != NULL);
    const char *want[] = {
        "# TYPE mlops_feature_drift gauge\n",
        "mlops_feature_drift{version=\"3\",field=\"Fare\"} 0.410000\n",
        "mlops_feature_drift{version=\"3\",field=\"odd\\\"na\\nme\"} 0.020000\n",
        "mlops_feature_drift{version=\"4\",field=\"Fare\"} 0.000000\n",
        "mlops_feature_psi{version=\"3\",field=\"Fare\"} 1.250000\n",
        "mlops_drift_window_rows{version=\"3\"} 1500\n",
        "mlops_drift_window_rows{version=\"4\"} 12\n",
    };
    for (size_t i = 0; page && i < sizeof want / sizeof want[0]; i++)
        CHECK_CONTAINS(page, want[i]);
    free(page);
    exporter_destroy(&e);
}

int main(void)
{
    RUN(test_drift_gauges);
    RUN(test_page_has_every_family);
    RUN(test_serves_get_metrics_over_http);
    RUN(test_refusals_name_the_flag);
    return TEST_REPORT("test_exporter");
}
