/*  main.c: `mlops-gateway`. Parses flags, builds the gateway, runs it until
    SIGINT or SIGTERM. */
#include "gateway.h"

#include <czmq.h>
#include "curve.h"
#include "duration.h"
#include "endpoint.h"
#include "feedback.h"
#include "flags.h"
#include "log.h"
#include "msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gateway_t *s_gateway;
static char s_broker[ENDPOINT_MAX];     //  resolved --broker
static char s_static[PATH_MAX];         //  the dashboard directory found
static char s_backend[ENDPOINT_MAX];    //  the backend --listen makes
static const char *s_listen;            //  --listen ADDR, NULL = loopback
static bool s_bind_given, s_backend_given; //  typed, so --listen leaves them
static bool s_insecure;                 //  --insecure
static bool s_broker_given;             //  --broker: the rollout poll is on
static int64_t s_rollout_poll = GATEWAY_ROLLOUT_POLL_MSEC; //  --rollout-poll

static void s_signal_fn(int sig)
{
    (void)sig;
    if (s_gateway)
        gateway_stop(s_gateway);
}

static void s_usage(FILE *out)
{
    char broker_timeout[32], deadline[32], client_timeout[32], heartbeat[32], header_timeout[32];
    fprintf(out,
        "usage: mlops-gateway [options]\n"
        "HTTP front of the inference workers: GET /health, POST /predict,\n"
        "POST /predict/batch, GET /metrics; the Open Inference Protocol under /v2;\n"
        "the dashboard at GET / and its JSON API under /api (see gateway/README.md).\n\n"
        "  --port N             HTTP port (default %d, 0 = any free port)\n"
        "  --listen ADDR        HTTP and backend on ADDR (an IPv4 address, * for all\n"
        "                       interfaces) instead of loopback; needs an admin token\n"
        "                       and CURVE keys, or --insecure\n"
        "  --bind ADDR          HTTP bind address (default 127.0.0.1)\n"
        "  --backend ENDPOINT   ROUTER the infer workers connect to (default %s)\n"
        "  --insecure           allow HTTP beyond loopback without an admin token and\n"
        "                       the backend without CURVE (a warning at every start)\n"
        "  --broker HOST|ENDPOINT  the broker's control socket, for /api\n"
        "                       (default %s; HOST alone means port 5556)\n"
        "  --broker-timeout DURATION  /api answers 503 when the broker is silent\n"
        "                       this long, 1ms..1h (default %s)\n"
        "  --rollout-poll DURATION  ask the broker for the shadow or canary this\n"
        "                       often, 0 = never (default 1s; only with --broker)\n"
        "  --admin-token TOKEN  every /api call needs Authorization: Bearer TOKEN\n"
        "                       (default: env MLOPS_ADMIN_TOKEN; unset = no token needed)\n"
        "  --read-token TOKEN   a second token that the /api reads (GET) take too, for\n"
        "                       dashboards that must not act (default: env\n"
        "                       MLOPS_READ_TOKEN; needs --admin-token)\n"
        "  --allowed-hosts LIST Host values served, comma-separated NAME[:PORT] (a NAME\n"
        "                       alone: without a port or with ours); others get 403\n"
        "                       (default: localhost,127.0.0.1,[::1] and the --bind\n"
        "                       address; '*' = any Host, no DNS-rebinding guard)\n"
        "  --allowed-origins LIST  Origins besides the gateway's own whose pages may\n"
        "                       POST to /api (http(s)://HOST[:PORT], comma-separated;\n"
        "                       default none)\n"
        "  --static DIR         the dashboard's files (default: the first that exists\n"
        "                       of $MLOPS_STATIC, <bin>/../gateway/static,\n"
        "                       <bin>/../share/mlops/static)\n"
        "  --model-name NAME    the served model's name in the Open Inference Protocol\n"
        "                       paths /v2/models/NAME (default %s)\n"
        "  --feedback-log N     predictions kept for POST /feedback to label, 1..%d\n"
        "                       rows, about 112 bytes each (default %d)\n"
        "  --feedback-sample RATE  share of predictions kept, 0..1 (default 1: all)\n"
        "  --feedback-token TOKEN  POST /feedback needs Authorization: Bearer TOKEN\n"
        "                       (default: env MLOPS_FEEDBACK_TOKEN; unset = the admin\n"
        "                       token when there is one, else open)\n"
        "  --body-max BYTES     /predict body limit, 413 above (default %u)\n"
        "  --batch-body-max BYTES  /predict/batch body limit (default %u)\n"
        "  --batch-max N        records in one batch, 422 above (default %d)\n"
        "  --deadline DURATION  answer 504 when no worker answered by then, 1ms..1h\n"
        "                       (default %s)\n"
        "  --client-timeout DURATION  drop connections idle or slow this long, whole\n"
        "                       seconds, 1s..1d (default %s)\n"
        "  --connections N      open HTTP connections at most (default %d)\n"
        "  --connections-per-ip N  open HTTP connections from one address at most\n"
        "                       (default %d, 0 = no limit)\n"
        "  --header-timeout DURATION  a request's headers must be whole this long after\n"
        "                       its connection opened or its previous request ended,\n"
        "                       else the connection is closed, 1ms..1h (default %s)\n"
        "  --credit N           requests in flight per worker (default %d)\n"
        "  --heartbeat DURATION interval of our heartbeats, 10ms..10m (default %s); a\n"
        "                       worker is dead after %d silent intervals of at least %s\n"
        "  --help               this text\n"
        DURATION_HELP
        "Log level: MLOPS_LOG_LEVEL=error|warning|info|debug. CURVE on the backend\n"
        "socket: MLOPS_CURVE_SERVER_CERT and MLOPS_CURVE_CLIENTS_DIR; to the broker:\n"
        "MLOPS_CURVE_CLIENT_CERT and MLOPS_CURVE_SERVER_KEY (mlops keygen).\n",
        GATEWAY_PORT, "tcp://" ENDPOINT_LOOPBACK ":5558", GATEWAY_BROKER,
        duration_format(GATEWAY_BROKER_TIMEOUT_MSEC, broker_timeout, sizeof broker_timeout),
        GATEWAY_MODEL_NAME, FEEDBACK_LOG_ROWS_MAX, FEEDBACK_LOG_ROWS, GATEWAY_BODY_MAX_BYTES, GATEWAY_BATCH_BODY_MAX_BYTES, GATEWAY_BATCH_MAX,
        duration_format(GATEWAY_DEADLINE_MSEC, deadline, sizeof deadline),
        duration_format(GATEWAY_CLIENT_TIMEOUT_SEC * 1000LL, client_timeout, sizeof client_timeout),
        GATEWAY_CONNECTIONS_MAX, GATEWAY_CONNECTIONS_PER_IP,
        duration_format(GATEWAY_HEADER_TIMEOUT_MSEC, header_timeout, sizeof header_timeout),
        GATEWAY_CREDIT,
        duration_format(HEARTBEAT_IVL_MSEC, heartbeat, sizeof heartbeat), HEARTBEAT_LIVENESS, heartbeat);
}

#define S_PROG "mlops-gateway"

//  A whole number in [min, max] (flags.h); 0 or -1 with a message.
static int s_number(const char *flag, const char *text, long long min, long long max, long long *out)
{
    mlops_err_t err;
    return flags_report(S_PROG, flags_int(flag, text, min, max, out, &err), &err);
}

//  A DURATION in [min_msec, max_msec] (flags.h); 0 or -1 with a message.
static int s_duration(const char *flag, const char *text, int64_t min_msec, int64_t max_msec,
                      int64_t *out)
{
    mlops_err_t err;
    return flags_report(S_PROG, flags_duration(flag, text, min_msec, max_msec, out, &err), &err);
}

//  --feedback-sample: a number in [0, 1]; 0 or -1 with a message.
static int s_rate(const char *flag, const char *text, double *out)
{
    char *end = NULL;
    double v = text ? strtod(text, &end) : NAN;
    if (!text || end == text || *end || !(v >= 0 && v <= 1)) {
        fprintf(stderr, S_PROG ": %s: '%s' is not a rate between 0 and 1\n", flag, text ? text : "");
        return -1;
    }
    *out = v;
    return 0;
}

//  --client-timeout: a DURATION of whole seconds (the HTTP server counts in seconds).
static int s_client_timeout(const char *flag, const char *text, unsigned *out)
{
    int64_t ms;
    if (s_duration(flag, text, 1000, 86400000, &ms))
        return -1;
    if (ms % 1000 != 0) {
        fprintf(stderr, S_PROG ": %s: '%s' is not a whole number of seconds\n", flag, text);
        return -1;
    }
    *out = (unsigned)(ms / 1000);
    return 0;
}

//  Applies one flag (and its value); returns 0, 1 for --help, -1 on error.
static int s_flag(gateway_config_t *cfg, const char *flag, const char *value)
{
    long long v = 0;
    if (strcmp(flag, "--bind") == 0 && value)
        cfg->bind_address = value, s_bind_given = true;
    else if (strcmp(flag, "--backend") == 0 && value)
        cfg->backend = value, s_backend_given = true;
    else if (strcmp(flag, "--listen") == 0 && value)
        s_listen = value;
    else if (strcmp(flag, "--broker") == 0 && value) {
        mlops_err_t err;
        if (endpoint_resolve(value, ENDPOINT_CONTROL_PORT, 0, s_broker, sizeof s_broker, &err) != 0) {
            fprintf(stderr, "mlops-gateway: --broker: %s\n", err.msg);
            return -1;
        }
        cfg->broker = s_broker;
        s_broker_given = true;
    } else if (strcmp(flag, "--admin-token") == 0 && value)
        cfg->admin_token = value;
    else if (strcmp(flag, "--read-token") == 0 && value)
        cfg->read_token = value;
    else if (strcmp(flag, "--allowed-hosts") == 0 && value)
        cfg->allowed_hosts = value;
    else if (strcmp(flag, "--allowed-origins") == 0 && value)
        cfg->allowed_origins = value;
    else if (strcmp(flag, "--feedback-token") == 0 && value)
        cfg->feedback_token = value;
    else if (strcmp(flag, "--feedback-log") == 0)
        return s_number(flag, value, 1, FEEDBACK_LOG_ROWS_MAX, &v) ? -1 : (cfg->feedback_rows = (size_t)v, 0);
    else if (strcmp(flag, "--feedback-sample") == 0)
        return s_rate(flag, value, &cfg->feedback_sample);
    else if (strcmp(flag, "--model-name") == 0 && value)
        cfg->model_name = value;
    else if (strcmp(flag, "--static") == 0 && value)
        cfg->static_dir = value;
    else if (strcmp(flag, "--rollout-poll") == 0 && value && strcmp(value, "0") == 0)
        s_rollout_poll = 0;   //  a duration is positive: 0 alone says never
    else if (strcmp(flag, "--rollout-poll") == 0)
        return s_duration(flag, value, 1, 3600000, &s_rollout_poll);
    else if (strcmp(flag, "--broker-timeout") == 0)
        return s_duration(flag, value, 1, 3600000, &cfg->broker_timeout_ms);
    else if (strcmp(flag, "--port") == 0)
        return s_number(flag, value, 0, 65535, &v) ? -1 : (cfg->port = (uint16_t)v, 0);
    else if (strcmp(flag, "--body-max") == 0)
        return s_number(flag, value, 1, 1LL << 32, &v) ? -1 : (cfg->body_max_bytes = (size_t)v, 0);
    else if (strcmp(flag, "--batch-body-max") == 0)
        return s_number(flag, value, 1, 1LL << 32, &v) ? -1 : (cfg->batch_body_max_bytes = (size_t)v, 0);
    else if (strcmp(flag, "--batch-max") == 0)
        return s_number(flag, value, 1, PROTO_RECORDS_MAX, &v) ? -1 : (cfg->batch_max = (size_t)v, 0);
    else if (strcmp(flag, "--deadline") == 0)
        return s_duration(flag, value, 1, 3600000, &cfg->deadline_ms);
    else if (strcmp(flag, "--client-timeout") == 0)
        return s_client_timeout(flag, value, &cfg->client_timeout_sec);
    else if (strcmp(flag, "--connections") == 0)
        return s_number(flag, value, 1, 1000000, &v) ? -1 : (cfg->connections_max = (unsigned)v, 0);
    else if (strcmp(flag, "--connections-per-ip") == 0)
        return s_number(flag, value, 0, 1000000, &v) ? -1 : (cfg->connections_per_ip = (unsigned)v, 0);
    else if (strcmp(flag, "--header-timeout") == 0)
        return s_duration(flag, value, 1, 3600000, &cfg->header_timeout_ms);
    else if (strcmp(flag, "--credit") == 0)
        return s_number(flag, value, 1, 100000, &v) ? -1 : (cfg->credit = (int)v, 0);
    else if (strcmp(flag, "--heartbeat") == 0)
        return s_duration(flag, value, DURATION_INTERVAL_MIN_MSEC, DURATION_INTERVAL_MAX_MSEC,
                          &cfg->heartbeat_msec);
    else {
        fprintf(stderr, "mlops-gateway: unknown flag or missing value: %s\n", flag);
        return -1;
    }
    return 0;
}

static bool s_is_dir(const char *path)
{
    struct stat st;
    return path && *path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

//  The dashboard directory when --static was not given: $MLOPS_STATIC, then
//  beside the executable as in the repo (bin/../gateway/static) or as
//  installed (PREFIX/bin/../share/mlops/static). NULL when none exists.
static const char *s_find_static(void)
{
    const char *env = getenv("MLOPS_STATIC");
    if (s_is_dir(env))
        return env;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    const char *tails[] = {"/../gateway/static", "/../share/mlops/static"};
    for (size_t i = 0; i < 2; i++)
        if (snprintf(s_static, sizeof s_static, "%s%s", exe, tails[i]) < (int)sizeof s_static
            && s_is_dir(s_static))
            return s_static;
    return NULL;
}

//  Loopback unless told otherwise: --listen opens what was not typed.
static void s_apply_listen(gateway_config_t *cfg)
{
    const char *host = s_listen ? s_listen : ENDPOINT_LOOPBACK;
    if (!s_bind_given)
        cfg->bind_address = strcmp(host, "*") == 0 ? NULL : host;
    if (!s_backend_given) {
        snprintf(s_backend, sizeof s_backend, "tcp://%s:%d", host, ENDPOINT_BACKEND_PORT);
        cfg->backend = s_backend;
    }
}

//  HTTP beyond loopback needs an admin token, the backend CURVE keys
//  (endpoint.h); --insecure turns each refusal into a warning. 0 or -1.
static int s_check_open(const gateway_config_t *cfg)
{
    mlops_err_t errs[2];
    int rc[2];
    //  an address that does not parse is gateway_new's to refuse, in its words
    struct in_addr parsed;
    bool address = !cfg->bind_address || inet_pton(AF_INET, cfg->bind_address, &parsed) == 1;
    rc[0] = !address ? 0 : endpoint_check_open("--bind", cfg->bind_address ? cfg->bind_address : "*", true,
                                cfg->admin_token && *cfg->admin_token, "an admin token",
                                "give --admin-token TOKEN or MLOPS_ADMIN_TOKEN", &errs[0]);
    rc[1] = endpoint_check_open("--backend", cfg->backend, false, curve_env_server(), "CURVE keys",
                                "set MLOPS_CURVE_SERVER_CERT and MLOPS_CURVE_CLIENTS_DIR "
                                "(mlops keygen; README, Security)", &errs[1]);
    for (int i = 0; i < 2; i++) {
        if (rc[i] && !s_insecure) {
            log_error("refusing to start: %s", errs[i].msg);
            return -1;
        }
        if (rc[i])
            log_warning("--insecure: %s", errs[i].msg);
    }
    return 0;
}

int main(int argc, char **argv)
{
    gateway_config_t cfg;
    gateway_config_defaults(&cfg);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--insecure") == 0) {
            s_insecure = true;
            continue;
        }
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (s_flag(&cfg, argv[i], value) != 0) {
            s_usage(stderr);
            return 2;
        }
        i++;
    }
    if (!cfg.admin_token)
        cfg.admin_token = getenv("MLOPS_ADMIN_TOKEN");
    if (!cfg.read_token)
        cfg.read_token = getenv("MLOPS_READ_TOKEN");
    if (!cfg.feedback_token)
        cfg.feedback_token = getenv("MLOPS_FEEDBACK_TOKEN");
    if (!cfg.static_dir)
        cfg.static_dir = s_find_static();
    cfg.rollout_poll_ms = s_broker_given ? s_rollout_poll : 0;
    s_apply_listen(&cfg);
    log_init("gateway");
    if (s_check_open(&cfg))
        return 2;
    signal(SIGPIPE, SIG_IGN);
    zsys_handler_set(NULL);   //  our handlers below, not CZMQ's
    mlops_err_t err;
    s_gateway = gateway_new(&cfg, &err);
    if (!s_gateway) {
        log_error("cannot start: %s", err.msg);
        return 1;
    }
    struct sigaction sa = {.sa_handler = s_signal_fn};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = gateway_run(s_gateway);
    if (rc != 0)
        log_error("reactor failed: %s", mlops_strerror(rc));
    gateway_destroy(&s_gateway);
    log_info("gateway stopped");
    return rc ? 1 : 0;
}
