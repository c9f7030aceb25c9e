/*  main.c: `mlops-broker`. Parses flags into a broker_config_t, builds the
    broker, runs it until SIGINT / SIGTERM. */
#include <czmq.h>
#include <assert.h>
#include <getopt.h>
#include <limits.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "curve.h"
#include "duration.h"
#include "endpoint.h"
#include "feedback_io.h"
#include "flags.h"
#include "heartbeat.h"
#include "log.h"

#define S_PROG "mlops-broker"

//  What main needs beyond broker_config_t: where to listen and whether an
//  open listen without CURVE is accepted.
static const char *s_listen;            //  --listen ADDR, NULL = loopback
static bool s_insecure;                 //  --insecure
static bool s_endpoint_given[3];        //  --work, --control, --events typed
static char s_endpoints[3][ENDPOINT_MAX]; //  the endpoints --listen makes

static void s_usage(FILE *out)
{
    char heartbeat[32];
    fprintf(out,
            "usage: mlops-broker [options]\n\n"
            "Runs the retraining DAG over ZeroMQ and keeps the model registry.\n\n"
            "  --store DIR            LMDB store directory (default mlops-store)\n"
            "  --store-size SIZE      the store never grows past SIZE (default 64G; K, M, G, T)\n"
            "  --no-sync              commit without fsync: a killed broker loses nothing,\n"
            "                         a power cut may lose the last commits (default: fsync)\n"
            "  --listen ADDR          bind the three sockets on ADDR (an address, or * for all\n"
            "                         interfaces) instead of loopback; needs CURVE keys\n"
            "                         (MLOPS_CURVE_SERVER_CERT) or --insecure\n"
            "  --work ENDPOINT        stage workers' socket (default tcp://127.0.0.1:5555)\n"
            "  --control ENDPOINT     clients' socket (default tcp://127.0.0.1:5556)\n"
            "  --events ENDPOINT      events socket (default tcp://127.0.0.1:5557)\n"
            "  --insecure             allow a non-loopback socket without CURVE: anyone who\n"
            "                         reaches it can register workers and trigger runs\n"
            "  --data ENDPOINT        data service socket (default: the work socket's port\n"
            "                         plus 4, tcp://127.0.0.1:5559; WORK-data for ipc)\n"
            "  --metrics ADDR:PORT    serve Prometheus metrics on GET /metrics there, e.g.\n"
            "                         127.0.0.1:9100 or *:9100 (default: off)\n"
            "  --heartbeat DURATION   heartbeat interval, 10ms..10m (default %s)\n"
            "  --liveness N           silent intervals before a worker is dead, 1..%d (default %d)\n"
            "  --max-attempts N       dispatches per task before the run fails (default 3)\n"
            "  --backoff DURATION     wait before the first retry, doubling (default 1s)\n"
            "  --timeout [STAGE=]DURATION  a task whose progress stalls this long is timed out,\n"
            "                         for one stage or all (default 10m)\n"
            "  --timeout-max DURATION  a task running this long is timed out, progress or not\n"
            "                         (default 24h)\n"
            "  --schedule DURATION    start a run this often, e.g. 24h (default: never)\n"
            "  --load-wait DURATION   a promoting load_model is done once every live inference\n"
            "                         worker serves the new version, or after this long (the\n"
            "                         run then succeeds, naming the workers that lag); 0 = do\n"
            "                         not wait (default 30s)\n"
            "  --metric NAME          promotion metric: binary auc, accuracy, f1, precision,\n"
            "                         recall, log_loss; multiclass accuracy, macro_f1, log_loss;\n"
            "                         regression r2, rmse, mae (default: the task type's: auc,\n"
            "                         accuracy, r2)\n"
            "  --margin X             a challenger must beat production by more than X (default 0)\n"
            "  --source SPEC          source of a RETRAIN that names none (default synthetic)\n"
            "  --target COLUMN        label column (default Survived)\n"
            "  --task TYPE            auto, binary, multiclass or regression (default auto:\n"
            "                         from the target column, as mlops train decides)\n"
            "  --families A,B         model families trained in parallel (default logreg,forest)\n"
            "  --seed N               split and training seed (default 42)\n"
            "  --keep-runs N          keep the newest N ended runs with their stage outputs and\n"
            "                         datasets; older ones are removed as runs end (default: all)\n"
            "  --keep-versions N      keep the newest N versions with their artifacts, and always\n"
            "                         production, its rollback target and the candidate of an\n"
            "                         active canary or shadow (default: all)\n"
            "  --trigger-min-interval DURATION  refuse a RETRAIN of a source triggered less than\n"
            "                         this long ago, code unavailable (default: no limit)\n"
            "  --drift-threshold X    watch live requests for drift: retrain when 10%% of the\n"
            "                         fields (at least one) are at Jensen-Shannon distance >= X\n"
            "                         from the training data, X in (0, 1] (default: off; 0.15\n"
            "                         keeps in-distribution traffic quiet at 1000 rows)\n"
            "  --drift-min-rows N     live rows in the window before any decision (default 1000)\n"
            "  --drift-cooldown DURATION  at least this long between two drift retrains\n"
            "                         (default 1h)\n"
            "  --feedback-max-bytes SIZE  the feedback set (labelled live rows) keeps at most\n"
            "                         SIZE bytes, dropping its oldest rows (default 64M)\n"
            "  --promote-via HOW      a run's version that beats production goes there\n"
            "                         directly (direct, the default) or through a canary:\n"
            "                         canary:P%%:DURATION starts a canary of it at P %% of the\n"
            "                         requests for DURATION, promoted or rolled back on its\n"
            "                         figures (mlops canary)\n"
            "  --help                 this text\n\n"
            DURATION_HELP,
            duration_format(HEARTBEAT_IVL_MSEC, heartbeat, sizeof heartbeat), HEARTBEAT_LIVENESS_MAX, HEARTBEAT_LIVENESS);
}

//  A DURATION flag (duration.h) of any length; 0 or -1 with a message.
static int s_duration(const char *flag, const char *text, int64_t *msec)
{
    mlops_err_t err;
    return flags_report(S_PROG, flags_duration(flag, text, 1, INT64_MAX, msec, &err), &err);
}

//  --promote-via direct | canary:P%:DURATION (rollout_reports.h); 0 or -1 with a message.
static int s_promote_via(broker_config_t *cfg, const char *text)
{
    mlops_err_t err;
    return flags_report(S_PROG, rollout_via_parse(text, &cfg->promote_via, &err), &err);
}

static int s_timeout(broker_config_t *cfg, const char *text)
{
    int64_t msec;
    const char *eq = strchr(text, '=');
    if (!eq) {
        if (s_duration("--timeout", text, &msec))
            return -1;
        for (int s = 0; s < STAGE_COUNT; s++)
            cfg->timeout_msec[s] = msec;
        return 0;
    }
    char stage[32];
    snprintf(stage, sizeof stage, "%.*s", (int)(eq - text), text);
    int s = stage_from_name(stage);
    if (s < 0) {
        fprintf(stderr, "mlops-broker: --timeout: unknown stage '%s'\n", stage);
        return -1;
    }
    if (s_duration("--timeout", eq + 1, &msec))
        return -1;
    cfg->timeout_msec[s] = msec;
    return 0;
}

static int s_families(broker_config_t *cfg, char *list)
{
    cfg->n_families = 0;
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (cfg->n_families == DAG_FAMILIES_MAX) {
            fprintf(stderr, "mlops-broker: --families: at most %d\n", DAG_FAMILIES_MAX);
            return -1;
        }
        cfg->families[cfg->n_families++] = tok;
    }
    return 0;
}

//  The flags that take a number, a size or an interval; 0 or -1 with a message.
static int s_value(broker_config_t *cfg, int c, const char *text)
{
    mlops_err_t err;
    long long v = 0;
    int rc;
    switch (c) {
    case 'z':   //  at least 1 MiB, so LMDB has room for its own pages
        rc = flags_size("--store-size", text, 1 << 20, &cfg->store_max_bytes, &err);
        break;
    case 'B':
        rc = flags_size("--feedback-max-bytes", text, FEEDBACK_IO_MAX_BYTES_MIN,
                        &cfg->feedback_max_bytes, &err);
        break;
    case 'H':
        rc = flags_duration("--heartbeat", text, DURATION_INTERVAL_MIN_MSEC,
                            DURATION_INTERVAL_MAX_MSEC, &cfg->heartbeat_msec, &err);
        break;
    case 'M': rc = flags_number("--margin", text, -1e9, 1e9, &cfg->rule.margin, &err); break;
    case 'L':
        if ((rc = flags_int("--liveness", text, 1, HEARTBEAT_LIVENESS_MAX, &v, &err)) == 0)
            cfg->liveness = (int)v;
        break;
    case 'a':
        if ((rc = flags_int("--max-attempts", text, 1, INT_MAX, &v, &err)) == 0)
            cfg->policy.max_attempts = (int)v;
        break;
    case 'r':
        if ((rc = flags_int("--seed", text, 0, LLONG_MAX, &v, &err)) == 0)
            cfg->seed = (uint64_t)v;
        break;
    case 'K':
        if ((rc = flags_int("--keep-runs", text, 1, INT_MAX, &v, &err)) == 0)
            cfg->keep_runs = v;
        break;
    case 'V':
        if ((rc = flags_int("--keep-versions", text, 1, INT_MAX, &v, &err)) == 0)
            cfg->keep_versions = v;
        break;
    default: assert(0); return -1;
    }
    return flags_report(S_PROG, rc, &err);
}

static int s_parse(broker_config_t *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", 1, 0, 's'},     {"work", 1, 0, 'w'},      {"control", 1, 0, 'c'},
        {"events", 1, 0, 'e'},    {"heartbeat", 1, 0, 'H'}, {"liveness", 1, 0, 'L'},
        {"max-attempts", 1, 0, 'a'}, {"backoff", 1, 0, 'b'}, {"timeout", 1, 0, 't'},
        {"schedule", 1, 0, 'S'},  {"metric", 1, 0, 'm'},    {"margin", 1, 0, 'M'},
        {"source", 1, 0, 'o'},    {"target", 1, 0, 'T'},    {"families", 1, 0, 'f'},
        {"seed", 1, 0, 'r'},      {"no-sync", 0, 0, 'N'},   {"help", 0, 0, 'h'},
        {"store-size", 1, 0, 'z'}, {"load-wait", 1, 0, 'W'}, {"data", 1, 0, 'd'},
        {"metrics", 1, 0, 'x'},    {"timeout-max", 1, 0, 'X'},
        {"listen", 1, 0, 'l'},    {"insecure", 0, 0, 'I'},
        {"keep-runs", 1, 0, 'K'}, {"keep-versions", 1, 0, 'V'},
        {"trigger-min-interval", 1, 0, 'G'},
        {"task", 1, 0, 'Y'},
        {"drift-threshold", 1, 0, 'D'}, {"drift-min-rows", 1, 0, 'R'},
        {"drift-cooldown", 1, 0, 'C'}, {"feedback-max-bytes", 1, 0, 'B'},
        {"promote-via", 1, 0, 'P'},
        {0, 0, 0, 0},
    };
    int c, rc = 0;
    const char *drift[3] = {NULL, NULL, NULL};   //  --drift-threshold, -min-rows, -cooldown
    while (rc == 0 && (c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': cfg->store_dir = optarg; break;
        case 'N': cfg->no_sync = true; break;
        case 'w': cfg->work_endpoint = optarg; s_endpoint_given[0] = true; break;
        case 'c': cfg->control_endpoint = optarg; s_endpoint_given[1] = true; break;
        case 'e': cfg->events_endpoint = optarg; s_endpoint_given[2] = true; break;
        case 'l': s_listen = optarg; break;
        case 'I': s_insecure = true; break;
        case 'd': cfg->data_endpoint = optarg; break;
        case 'x': cfg->metrics_listen = optarg; break;
        case 'z': case 'H': case 'M': case 'L': case 'a': case 'r': case 'K': case 'V': case 'B':
            rc = s_value(cfg, c, optarg);
            break;
        case 'b': rc = s_duration("--backoff", optarg, &cfg->policy.backoff_msec); break;
        case 't': rc = s_timeout(cfg, optarg); break;
        case 'X': rc = s_duration("--timeout-max", optarg, &cfg->timeout_max_msec); break;
        case 'S': rc = s_duration("--schedule", optarg, &cfg->schedule_msec); break;
        case 'G': rc = s_duration("--trigger-min-interval", optarg, &cfg->trigger_min_interval_msec); break;
        case 'D': drift[0] = optarg; break;
        case 'R': drift[1] = optarg; break;
        case 'C': drift[2] = optarg; break;
        case 'P': rc = s_promote_via(cfg, optarg); break;
        case 'W':
            cfg->load_wait_msec = 0;
            rc = strcmp(optarg, "0") == 0 ? 0 : s_duration("--load-wait", optarg, &cfg->load_wait_msec);
            break;
        case 'm': snprintf(cfg->rule.metric, sizeof cfg->rule.metric, "%s", optarg); break;
        case 'o': cfg->default_source = optarg; break;
        case 'T': cfg->target = optarg; break;
        case 'Y': snprintf(cfg->task, sizeof cfg->task, "%s", optarg); break;
        case 'f': rc = s_families(cfg, optarg); break;
        case 'h': s_usage(stdout); exit(0);
        default: s_usage(stderr); return -1;
        }
    }
    if (rc == 0 && optind < argc) {
        fprintf(stderr, "mlops-broker: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (rc == 0) {
        mlops_err_t err;
        mlops_err_clear(&err);
        rc = flags_report(S_PROG, drift_config_parse(&cfg->drift, drift[0], drift[1], drift[2], &err),
                          &err);
    }
    return rc;
}

//  --listen: the endpoints not typed bind on ADDR.
static void s_apply_listen(broker_config_t *cfg)
{
    const char **eps[3] = {&cfg->work_endpoint, &cfg->control_endpoint, &cfg->events_endpoint};
    const int ports[3] = {ENDPOINT_WORK_PORT, ENDPOINT_CONTROL_PORT, ENDPOINT_EVENTS_PORT};
    for (int i = 0; s_listen && i < 3; i++)
        if (!s_endpoint_given[i]) {
            snprintf(s_endpoints[i], sizeof s_endpoints[i], "tcp://%s:%d", s_listen, ports[i]);
            *eps[i] = s_endpoints[i];
        }
}

//  Loopback unless told otherwise (endpoint.h): an open socket needs CURVE,
//  or --insecure, which is said at every start. 0 or -1 with a message.
static int s_check_open(const broker_config_t *cfg)
{
    //  an explicit --data is checked too; the default follows --work
    const char *flags[4] = {"--work", "--control", "--events", "--data"};
    const char *eps[4] = {cfg->work_endpoint, cfg->control_endpoint, cfg->events_endpoint,
                          cfg->data_endpoint};
    for (int i = 0; i < (cfg->data_endpoint ? 4 : 3); i++) {
        mlops_err_t err;
        if (endpoint_check_open(flags[i], eps[i], false, curve_env_server(), "CURVE keys",
                                "set MLOPS_CURVE_SERVER_CERT and MLOPS_CURVE_CLIENTS_DIR "
                                "(mlops keygen; README, Security)", &err) == 0)
            continue;
        if (!s_insecure) {
            log_error("refusing to start: %s", err.msg);
            return -1;
        }
        log_warning("--insecure: %s", err.msg);
    }
    return 0;
}

//  A broker holds one descriptor per connection: take the hard limit, so
//  a thousand idle connections do not lock every client out.
static void s_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    log_info("open-file limit %llu", (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv)
{
    broker_config_t cfg;
    broker_config_defaults(&cfg);
    if (s_parse(&cfg, argc, argv))
        return 2;
    s_apply_listen(&cfg);
    log_init("broker");
    if (s_check_open(&cfg))
        return 2;
    s_raise_nofile();
    zsys_init();
    mlops_err_t err;
    mlops_err_clear(&err);
    broker_t *broker = broker_new(&cfg, &err);
    if (!broker) {
        log_error("cannot start: %s", mlops_err_text(&err, err.code));
        return 1;
    }
    int rc = broker_run(broker);
    broker_destroy(&broker);
    return rc == 0 ? 0 : 1;
}
