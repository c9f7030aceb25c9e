/*  test_guard.c: gateway/guard.c, each HTTP rule alone and through
    guard_check (Host, Origin, Content-Type, read token), the lists'
    refusals at start, the security headers, and the header clocks. */
#include "guard.h"
#include "testing.h"

#include <string.h>

#define PORT 8000

//  A guard from cfg's defaults with the given changes; NULL with err.
static guard_t *s_guard(const char *hosts, const char *origins, const char *bind, mlops_err_t *err)
{
    gateway_config_t cfg;
    gateway_config_defaults(&cfg);
    cfg.allowed_hosts = hosts;
    cfg.allowed_origins = origins;
    cfg.bind_address = bind;
    return guard_new(&cfg, PORT, err);
}

static void test_default_hosts(void)
{
    mlops_err_t err;
    guard_t *g = s_guard(NULL, NULL, "10.1.2.3", &err);
    CHECK(g != NULL);
    const char *ok[] = {"localhost", "localhost:8000", "LocalHost:8000", "127.0.0.1:8000",
                        "127.0.0.1", "[::1]:8000", "[::1]", "10.1.2.3:8000", "localhost:08000"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        CHECK_INT(guard_host(g, ok[i]), 0);
    const char *refused[] = {"evil.example", "evil.example:8000", "localhost:8001", "localhost.",
                             "127.0.0.2:8000", "10.1.2.3:80", "", ":8000", "localhost:",
                             "localhost:0", "localhost:99999", "localhost:8000:8000", "::1",
                             "[::1]x", "localhost:80a", "127.0.0.1.evil.example", "localhost 8000"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        CHECK_INT(guard_host(g, refused[i]), 403);
    CHECK_INT(guard_host(g, NULL), 403);
    guard_destroy(&g);
    CHECK(g == NULL);
    guard_destroy(&g);   //  NULL is fine
    //  a wildcard bind address is not a name
    g = s_guard(NULL, NULL, "0.0.0.0", &err);
    CHECK_INT(guard_host(g, "0.0.0.0:8000"), 403);
    CHECK_INT(guard_host(g, "localhost:8000"), 0);
    guard_destroy(&g);
}

static void test_allowed_hosts(void)
{
    mlops_err_t err;
    guard_t *g = s_guard(" api.example.com , proxy.example:443,[fd00::1]", NULL, NULL, &err);
    CHECK(g != NULL);
    CHECK_INT(guard_host(g, "API.example.com"), 0);
    CHECK_INT(guard_host(g, "api.example.com:8000"), 0);
    CHECK_INT(guard_host(g, "api.example.com:8080"), 403);   //  a name alone: no port or ours
    CHECK_INT(guard_host(g, "proxy.example:443"), 0);
    CHECK_INT(guard_host(g, "proxy.example:8000"), 403);     //  a port given: that one only
    CHECK_INT(guard_host(g, "proxy.example"), 403);
    CHECK_INT(guard_host(g, "[fd00::1]:8000"), 0);
    CHECK_INT(guard_host(g, "localhost:8000"), 403);         //  the list replaces the defaults
    guard_destroy(&g);
    g = s_guard(GUARD_ANY, NULL, NULL, &err);
    CHECK_INT(guard_host(g, "anything.example:1"), 0);
    CHECK_INT(guard_host(g, NULL), 0);
    guard_destroy(&g);
}

static void test_list_refusals(void)
{
    mlops_err_t err;
    struct { const char *hosts, *origins, *why; } cases[] = {
        {"", NULL, "--allowed-hosts: the list is empty"},
        {" , ", NULL, "--allowed-hosts: '' is not a host NAME[:PORT]"},
        {"a.example,b/c", NULL, "--allowed-hosts: 'b/c' is not a host NAME[:PORT]"},
        {"a.example:0", NULL, "'a.example:0' is not a host"},
        {"*.example", NULL, "'*.example' is not a host"},
        {"a:1:2", NULL, "'a:1:2' is not a host"},
        {NULL, "example.com", "--allowed-origins: 'example.com' is not an origin http(s)://HOST[:PORT]"},
        {NULL, "http://example.com/", "'http://example.com/' is not an origin"},
        {NULL, "ftp://example.com", "'ftp://example.com' is not an origin"},
        {NULL, "null", "'null' is not an origin"},
        {NULL, "http://", "'http://' is not an origin"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err.code = 0;
        guard_t *g = s_guard(cases[i].hosts, cases[i].origins, NULL, &err);
        CHECK(g == NULL);
        CHECK_INT(err.code, MLOPS_EINVAL);
        CHECK_CONTAINS(err.msg, cases[i].why);
    }
    char many[GUARD_ENTRIES_MAX * 4 + 8] = "";
    for (int i = 0; i <= GUARD_ENTRIES_MAX; i++)
        strcat(many, "h,");
    CHECK(s_guard(many, NULL, NULL, &err) == NULL);
    CHECK_CONTAINS(err.msg, "more than 32 entries");
    char longest[GUARD_ENTRY_MAX_BYTES + 2];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    CHECK(s_guard(longest, NULL, NULL, &err) == NULL);
    CHECK_INT(err.code, MLOPS_EINVAL);
    //  a read token alone would guard the reads and leave the actions open
    gateway_config_t cfg;
    gateway_config_defaults(&cfg);
    cfg.read_token = "r";
    CHECK(guard_new(&cfg, PORT, &err) == NULL);
    CHECK_CONTAINS(err.msg, "--read-token needs --admin-token");
}

static void test_origin(void)
{
    mlops_err_t err;
    guard_t *g = s_guard(NULL, "https://dash.example, http://127.0.0.1:3000", NULL, &err);
    CHECK(g != NULL);
    CHECK_INT(guard_origin(g, NULL, "localhost:8000"), 0);
    CHECK_INT(guard_origin(g, "http://localhost:8000", "localhost:8000"), 0);
    CHECK_INT(guard_origin(g, "HTTPS://LOCALHOST:8000", "localhost:8000"), 0);   //  behind TLS
    CHECK_INT(guard_origin(g, "https://dash.example", "localhost:8000"), 0);
    CHECK_INT(guard_origin(g, "http://127.0.0.1:3000", "localhost:8000"), 0);
    CHECK_INT(guard_origin(g, "http://127.0.0.1:8000", "localhost:8000"), 403);  //  not the same origin
    CHECK_INT(guard_origin(g, "http://localhost:8001", "localhost:8000"), 403);
    CHECK_INT(guard_origin(g, "http://evil.example", "localhost:8000"), 403);
    CHECK_INT(guard_origin(g, "null", "localhost:8000"), 403);
    CHECK_INT(guard_origin(g, "http://dash.example", "localhost:8000"), 403);   //  scheme counts
    CHECK_INT(guard_origin(g, "https://dash.example/", "localhost:8000"), 403);
    CHECK_INT(guard_origin(g, "http://localhost:8000/x", "localhost:8000"), 403);
    CHECK_INT(guard_origin(g, "http://localhost:8000", NULL), 403);
    guard_destroy(&g);
}

static void test_content_type(void)
{
    CHECK_INT(guard_content_type("application/json"), 0);
    CHECK_INT(guard_content_type("Application/JSON; charset=utf-8"), 0);
    CHECK_INT(guard_content_type("  application/json ;charset=utf-8"), 0);
    CHECK_INT(guard_content_type(NULL), 415);
    CHECK_INT(guard_content_type(""), 415);
    CHECK_INT(guard_content_type("text/plain"), 415);
    CHECK_INT(guard_content_type("application/x-www-form-urlencoded"), 415);
    CHECK_INT(guard_content_type("multipart/form-data; boundary=x"), 415);
    CHECK_INT(guard_content_type("application/jsonx"), 415);
    CHECK_INT(guard_content_type("application/json-patch+json"), 415);
    CHECK_INT(guard_content_type("text/plain; application/json"), 415);
}

static void test_read_token(void)
{
    mlops_err_t err;
    gateway_config_t cfg;
    gateway_config_defaults(&cfg);
    guard_t *g = guard_new(&cfg, PORT, &err);
    CHECK_INT(guard_read_token(g, NULL), 0);   //  no admin token: reads are open
    guard_destroy(&g);
    cfg.admin_token = "admin";
    g = guard_new(&cfg, PORT, &err);
    CHECK_INT(guard_read_token(g, NULL), 401);
    CHECK_INT(guard_read_token(g, "Bearer admin"), 0);
    CHECK_INT(guard_read_token(g, "Bearer reader"), 403);
    guard_destroy(&g);
    cfg.read_token = "reader";
    g = guard_new(&cfg, PORT, &err);
    CHECK_INT(guard_read_token(g, "Bearer admin"), 0);
    CHECK_INT(guard_read_token(g, "Bearer reader"), 0);
    CHECK_INT(guard_read_token(g, "Bearer readers"), 403);
    CHECK_INT(guard_read_token(g, "Basic cmVhZGVy"), 401);
    guard_destroy(&g);
}

//  guard_check with the request's fields; returns the status and *why, or
//  -1 when the challenge flag or the sentence does not go with the status.
static int s_check(const guard_t *g, const char *method, const char *path, const char *host,
                   const char *origin, const char *type, const char *auth, const char **why)
{
    guard_request_t r = {method, path, host, origin, type, auth};
    bool challenge;
    int status = guard_check(g, &r, why, &challenge);
    if (challenge != (status == 401) || (*why != NULL) != (status != 0))
        return -1;
    return status;
}

static void test_check(void)
{
    mlops_err_t err;
    gateway_config_t cfg;
    gateway_config_defaults(&cfg);
    cfg.admin_token = "admin";
    cfg.read_token = "reader";
    guard_t *g = guard_new(&cfg, PORT, &err);
    const char *why, *h = "localhost:8000", *json = "application/json";
    //  Host first, on every path
    CHECK_INT(s_check(g, "POST", "/predict", "evil.example", NULL, json, NULL, &why), 403);
    CHECK_CONTAINS(why, "--allowed-hosts");
    CHECK_INT(s_check(g, "GET", "/", NULL, NULL, NULL, NULL, &why), 403);
    CHECK_INT(s_check(g, "POST", "/predict", h, "http://evil.example", "text/plain", NULL, &why), 0);
    CHECK_INT(s_check(g, "GET", "/static/app.js", h, NULL, NULL, NULL, &why), 0);
    //  reads: the token
    CHECK_INT(s_check(g, "GET", "/api/runs", h, NULL, NULL, NULL, &why), 401);
    CHECK_CONTAINS(why, "the admin or the read token");
    CHECK_INT(s_check(g, "HEAD", "/api/nothing", h, NULL, NULL, "Bearer x", &why), 403);
    CHECK_STR(why, "the token is not the right one");
    CHECK_INT(s_check(g, "GET", "/api/models", h, NULL, NULL, "Bearer reader", &why), 0);
    //  actions: Origin, then Content-Type; the admin token is http.c's
    CHECK_INT(s_check(g, "POST", "/api/retrain", h, "http://evil.example", json, "Bearer admin", &why), 403);
    CHECK_CONTAINS(why, "cross-origin request refused");
    CHECK_INT(s_check(g, "POST", "/api/promote", h, "null", "text/plain", NULL, &why), 403);
    CHECK_INT(s_check(g, "POST", "/api/rollback", h, NULL, "text/plain", "Bearer admin", &why), 415);
    CHECK_CONTAINS(why, "Content-Type: application/json");
    CHECK_INT(s_check(g, "POST", "/api/rollback", h, NULL, NULL, NULL, &why), 415);
    CHECK_INT(s_check(g, "POST", "/api/rollback", h, "http://localhost:8000", json, NULL, &why), 0);
    //  not an action: the router answers 404 / 405
    CHECK_INT(s_check(g, "POST", "/api/runs", h, "http://evil.example", NULL, NULL, &why), 0);
    CHECK_INT(s_check(g, "DELETE", "/api/retrain", h, NULL, NULL, NULL, &why), 0);
    //  POST /feedback is an action too (its token is http_feedback.c's); a GET is the router's 405
    CHECK_INT(s_check(g, "POST", "/feedback", h, "http://evil.example", json, NULL, &why), 403);
    CHECK_INT(s_check(g, "POST", "/feedback", h, NULL, "text/plain", NULL, &why), 415);
    CHECK_STR(why, "/feedback takes Content-Type: application/json only");
    CHECK_INT(s_check(g, "POST", "/feedback", h, "http://localhost:8000", json, NULL, &why), 0);
    CHECK_INT(s_check(g, "GET", "/feedback", h, NULL, NULL, NULL, &why), 0);
    guard_destroy(&g);
}

static void test_headers(void)
{
    size_t n;
    const guard_header_t *h = guard_headers("application/json", &n);
    CHECK_INT(n, 1);
    CHECK_STR(h[0].name, "X-Content-Type-Options");
    CHECK_STR(h[0].value, "nosniff");
    const char *pages[] = {"text/html; charset=utf-8", "text/javascript; charset=utf-8",
                           "image/svg+xml", "text/plain; version=0.0.4; charset=utf-8", NULL};
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        h = guard_headers(pages[i], &n);
        CHECK_INT(n, 4);
        CHECK_STR(h[1].name, "Content-Security-Policy");
        CHECK_STR(h[1].value, "default-src 'self'; frame-ancestors 'none'");
        CHECK_STR(h[2].value, "DENY");
        CHECK_STR(h[3].name, "Referrer-Policy");
        CHECK_STR(h[3].value, "no-referrer");
    }
}

static void test_clocks(void)
{
    mlops_err_t err;
    gateway_config_t cfg;
    gateway_config_defaults(&cfg);
    cfg.header_timeout_ms = 100;
    guard_t *g = guard_new(&cfg, PORT, &err);
    guard_conn_t a = {0}, b = {0}, c = {0};
    int conn_a, conn_b, conn_c;
    CHECK(guard_conn_due_ms(g) == INT64_MAX);
    CHECK(guard_conn_expired(g, 1000000) == NULL);
    guard_conn_start(g, &a, &conn_a, 1000);
    guard_conn_start(g, &b, &conn_b, 1010);
    guard_conn_start(g, &c, &conn_c, 1020);
    CHECK(guard_conn_due_ms(g) == 1100);
    guard_conn_stop(&a);          //  a's headers came in
    guard_conn_stop(&a);          //  twice is harmless
    CHECK(guard_conn_due_ms(g) == 1110);
    CHECK(guard_conn_expired(g, 1109) == NULL);
    guard_conn_t *late = guard_conn_expired(g, 1115);
    CHECK(late == &b);
    CHECK(late->conn == &conn_b);
    CHECK(guard_conn_expired(g, 1115) == NULL);
    guard_conn_start(g, &a, &conn_a, 1115);   //  a kept alive: its next request's clock
    CHECK(guard_conn_expired(g, 2000) == &c);
    CHECK(guard_conn_expired(g, 2000) == &a);
    CHECK(guard_conn_expired(g, 2000) == NULL);
    guard_conn_start(g, &c, &conn_c, 3000);
    guard_destroy(&g);            //  unlinks what still waits
    CHECK(!list_linked(&c.node));
}

int main(void)
{
    RUN(test_default_hosts);
    RUN(test_allowed_hosts);
    RUN(test_list_refusals);
    RUN(test_origin);
    RUN(test_content_type);
    RUN(test_read_token);
    RUN(test_check);
    RUN(test_headers);
    RUN(test_clocks);
    return TEST_REPORT("test_guard");
}
