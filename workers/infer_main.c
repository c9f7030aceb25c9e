/*  infer_main.c: `mlops-worker --stage infer`: flags to an infer_t, run
    until SIGINT or SIGTERM. */
#include "agent.h"
#include "duration.h"
#include "endpoint.h"
#include "flags.h"
#include "heartbeat.h"
#include "infer.h"
#include "infer_feed.h"
#include "infer_profile.h"
#include "log.h"
#include "msg.h"
#include "worker.h"

#include <czmq.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static infer_t *s_worker;

static void s_signal_fn(int sig)
{
    (void)sig;
    if (s_worker)
        infer_stop(s_worker);
}

static void s_usage(FILE *out)
{
    char heartbeat[32], report[32];
    fprintf(out,
        "usage: mlops-worker --stage infer [options]\n"
        "Serves predictions to the gateway with the broker's production model.\n\n"
        "  --gateway ENDPOINT   gateway backend to connect to (default %s)\n"
        "  --broker HOST|ENDPOINT  broker to fetch models from: a host (control\n"
        "                       port %d, events %d) or the control endpoint\n"
        "                       (events on its port + 1); default 127.0.0.1\n"
        "                       unless --model is given\n"
        "  --events ENDPOINT    broker events endpoint, overrides --broker\n"
        "  --data ENDPOINT      broker's data service, where artifacts are fetched by\n"
        "                       hash (default: the work port beside --broker's control\n"
        "                       port, plus 4, e.g. tcp://127.0.0.1:5559; WORK-data for ipc)\n"
        "  --cache-dir DIR      keep fetched artifacts here by hash (default: no cache)\n"
        "  --cache-size SIZE    the cache's bound, least recently used go first\n"
        "                       (default 2G; K, M, G, T)\n"
        "  --model FILE         serve this artifact (from `mlops train --out`) from\n"
        "                       the start; with --broker, promotions still replace it\n"
        "  --model-version N    version to report for --model (default 1)\n"
        "  --heartbeat DURATION interval of our heartbeats, 10ms..10m (default %s); the\n"
        "                       gateway is dead after %d silent intervals of at least %s\n"
        "  --name NAME          this worker's instance name, unique among live workers:\n"
        "                       letters, digits, . _ - : @ (default: the host name and\n"
        "                       six random hex digits, vm-3fa9c2)\n"
        "  --report DURATION    tell the broker the version we serve at least this often,\n"
        "                       10ms..1m (default %s; at once after each swap); the\n"
        "                       broker stops counting us after %d silent intervals\n"
        "  --drift-profile on|off  count the served records' profile for the broker's\n"
        "                       drift watch (default on; off to measure its cost)\n"
        "  --help               this text\n"
        DURATION_HELP
        "CURVE: MLOPS_CURVE_CLIENT_CERT and MLOPS_CURVE_SERVER_KEY (mlops keygen).\n",
        INFER_GATEWAY, ENDPOINT_CONTROL_PORT, ENDPOINT_EVENTS_PORT,
        duration_format(HEARTBEAT_IVL_MSEC, heartbeat, sizeof heartbeat), HEARTBEAT_LIVENESS, heartbeat,
        duration_format(HEARTBEAT_IVL_MSEC, report, sizeof report), HEARTBEAT_LIVENESS);
}

//  An interval flag: a DURATION in 10ms..max_ms (--heartbeat: 10m;
//  --report: the longest SERVING interval a broker accepts, 1m).
static int s_interval(const char *flag, const char *text, int64_t max_ms, int64_t *out)
{
    mlops_err_t err;
    int rc = flags_duration(flag, text, DURATION_INTERVAL_MIN_MSEC, max_ms, out, &err);
    return flags_report("mlops-worker", rc, &err);
}

//  An on|off flag's value into *on; 0, or 2 (said why).
static int s_on_off(const char *flag, const char *text, bool *on)
{
    if (strcmp(text, "on") != 0 && strcmp(text, "off") != 0) {
        fprintf(stderr, "mlops-worker: %s '%s': on or off\n", flag, text);
        return 2;
    }
    *on = strcmp(text, "on") == 0;
    return 0;
}

//  --data, else the rule of the stage workers from the control endpoint
//  (endpoint_data_of_control); "" when that says nothing: artifacts then
//  come inline (a broker behind a name we cannot read, say so). 0 or 2.
static int s_data_endpoint(const char *flag, const char *control, char out[ENDPOINT_MAX])
{
    mlops_err_t err;
    out[0] = '\0';
    if (flag && snprintf(out, ENDPOINT_MAX, "%s", flag) >= ENDPOINT_MAX) {
        fprintf(stderr, "mlops-worker: --data: too long\n");
        return 2;
    }
    if (!flag && endpoint_data_of_control(control, out, ENDPOINT_MAX, &err) != 0) {
        fprintf(stderr, "mlops-worker: no data service endpoint (%s): artifacts come inline; "
                        "give --data to fetch them by hash\n", err.msg);
        out[0] = '\0';
    }
    return 0;
}

int worker_infer_main(int argc, char **argv)
{
    infer_config_t cfg = {.gateway = INFER_GATEWAY, .model_version = 1,
                          .heartbeat_msec = HEARTBEAT_IVL_MSEC};
    const char *broker = NULL, *events = NULL, *data = NULL;
    bool profile_on = true;
    static char control_ep[ENDPOINT_MAX], events_ep[ENDPOINT_MAX], data_ep[ENDPOINT_MAX];
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        mlops_err_t err;
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            s_usage(stdout);
            return 0;
        }
        if (strcmp(flag, "--stage=infer") == 0)
            continue;
        if (!value) {
            fprintf(stderr, "mlops-worker: %s needs a value\n", flag);
            return 2;
        }
        i++;
        if (strcmp(flag, "--stage") == 0)
            continue;   //  main.c sent us here because it is infer
        else if (strcmp(flag, "--gateway") == 0)
            cfg.gateway = value;
        else if (strcmp(flag, "--broker") == 0)
            broker = value;
        else if (strcmp(flag, "--events") == 0)
            events = value;
        else if (strcmp(flag, "--data") == 0)
            data = value;
        else if (strcmp(flag, "--cache-dir") == 0)
            cfg.data.cache_dir = value;
        else if (strcmp(flag, "--cache-size") == 0) {
            size_t bytes;
            if (flags_report("mlops-worker", flags_size(flag, value, 1, &bytes, &err), &err))
                return 2;
            cfg.data.cache_bytes = bytes;
        }
        else if (strcmp(flag, "--model") == 0)
            cfg.model_path = value;
        else if (strcmp(flag, "--name") == 0) {
            if (proto_name_check(value, &err)) {
                fprintf(stderr, "mlops-worker: --name '%s': %s\n", value, err.msg);
                return 2;
            }
            cfg.name = value;
        }
        else if (strcmp(flag, "--model-version") == 0) {
            if (flags_report("mlops-worker", flags_int(flag, value, 1, INT64_MAX, &v, &err), &err))
                return 2;
            cfg.model_version = v;
        } else if (strcmp(flag, "--heartbeat") == 0) {
            if (s_interval(flag, value, DURATION_INTERVAL_MAX_MSEC, &cfg.heartbeat_msec))
                return 2;
        } else if (strcmp(flag, "--report") == 0) {
            if (s_interval(flag, value, HEARTBEAT_REPORT_MAX_MSEC, &cfg.report_msec))
                return 2;
        } else if (strcmp(flag, "--drift-profile") == 0) {
            if (s_on_off(flag, value, &profile_on))
                return 2;
        } else {
            fprintf(stderr, "mlops-worker: unknown flag %s\n", flag);
            s_usage(stderr);
            return 2;
        }
    }
    if (!broker && !cfg.model_path)
        broker = "127.0.0.1";
    mlops_err_t err;
    if (broker) {
        if (endpoint_resolve(broker, ENDPOINT_CONTROL_PORT, 0, control_ep, sizeof control_ep, &err)
            || endpoint_resolve(events ? events : broker, ENDPOINT_EVENTS_PORT, events ? 0 : 1,
                                events_ep, sizeof events_ep, &err)) {
            fprintf(stderr, "mlops-worker: --broker %s: %s\n", broker, err.msg);
            return 2;
        }
        cfg.control = control_ep;
        cfg.events = events_ep;
        if (s_data_endpoint(data, control_ep, data_ep))
            return 2;
        cfg.data.endpoint = data_ep[0] ? data_ep : NULL;
    }
    static char name[PROTO_NAME_MAX + 1];
    if (!cfg.name) {
        agent_name_make(name, sizeof name);
        cfg.name = name;
    }
    log_init("worker[infer]");
    zsys_handler_set(NULL);   //  our handlers below, not CZMQ's
    infer_profile_set_on(infer_profile_process(), profile_on);
    s_worker = infer_new(&cfg, &err);
    if (!s_worker) {
        log_error("cannot start: %s", err.msg);
        return 1;
    }
    log_info("infer worker started name=%s gateway=%s broker=%s", cfg.name, cfg.gateway,
             cfg.control ? cfg.control : "none");
    struct sigaction sa = {.sa_handler = s_signal_fn};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int rc = infer_run(s_worker);
    infer_destroy(&s_worker);
    log_info("infer worker stopped");
    return rc || infer_feed_refused() ? 1 : 0;   //  refused: infer_feed logged why
}
